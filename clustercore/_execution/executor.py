"""The execution core: the one place that turns a call into node(s) and carries out the router.

:class:`Executor` owns what every caller (``RedisCluster``, ``ClusterPipeline``,
``ClusterPubSub``, ``Script``) needs to run commands on a cluster: the pool, the retry policy,
and the three effects a retry loop has -- reading the clock, sleeping, drawing random numbers --
each injected through the constructor so tests drive them without touching privates. On top of
those it is the only code that

* maps a routing decision to addresses (:meth:`Executor.locate`: a slot and read-or-write, a
  fan-out route, or explicit nodes -- where redis-py's ``target_nodes=`` plugs in). The hot
  paths inside this class (:meth:`~Executor.run_slot`, :meth:`~Executor.run_split`) ask the
  pool's slot map directly: the same lookup without one more call per command;
* carries out a router :class:`~.router.Step` (:meth:`Executor.recover`): follow MOVED (the slot
  the server named) or ASK, back off, request a refresh or mark a node failing, raise;
* runs batches (:meth:`Executor.run_batches`): every node's batch written before any reply is
  read, errors as values per command, every connection released or discarded on every path.

The client's one-slot loop, node-targeted calls, split multi-key commands and the COMMAND INFO
fallback for commands the static table lacks are built from those three.
"""

from __future__ import annotations

import random
import threading
import time
from time import monotonic
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Collection,
    Dict,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
    Type,
    TypeVar,
)

from .._address import NodeAddress
from .._commands.idempotency import is_idempotent
from .._commands.keys import split_by_slot
from .._commands.merge import merge_split
from .._commands.server_specs import spec_from_command_info
from .._commands.specs import CommandSpec, Route
from .._net.connection import DIAL_LIMIT
from .._slots import NUM_SLOTS
from ..errors import (
    AskError,
    ClusterCoreError,
    ClusterUsageError,
    ConnectionError,
    DeadlineExceededError,
    MovedError,
    PoolError,
    ProtocolError,
    RedisClusterException,
    ResponseError,
    TimeoutError,
)
from .nodes import (
    ALL_NODES,
    DEFAULT_NODE,
    PRIMARIES,
    RANDOM,
    REPLICAS,
    InvalidTargetNodesError,
    node_address,
    target_list,
)
from .retry import RetryPolicy
from .router import CATCH_UP, Action, Attempt, Step, may_resend, next_step

if TYPE_CHECKING:
    from .._net.connection import ClusterConnection
    from .._pool.cluster_pool import ClusterConnectionPool

__all__ = ["Batch", "Executor", "Round"]

T = TypeVar("T")

#: One node's share of a round: its address, the wire commands, and how to read them back.
#: The layout is None when every command has one result read as the connection decodes (one
#: ``read_replies`` call); otherwise it has one ``(replies to skip first, read undecoded)``
#: entry per result (a pipeline's SCRIPT LOAD and ASKING preambles, never_decode commands).
Batch = Tuple[NodeAddress, Sequence[Tuple[Any, ...]], Optional[Sequence[Tuple[int, bool]]]]

_SLOT_ROUTES = (Route.SLOT, Route.SLOT_ARG, Route.CHANNEL)
#: Failures of the socket (the request may or may not have been written).
_IO_ERRORS = (ConnectionError, TimeoutError, ProtocolError)
#: A catch-up refresh to run before a last try: the attempt, the trigger, the node to avoid.
CatchUp = Tuple[Attempt, str, Optional[NodeAddress]]


class Round:
    """What one round of retries has already done, so that it happens once per round: one
    ``on_moved`` per slot, one failure mark or refresh request per node, and one clock reading
    for every decision of the round (a pipeline triages all its failed commands together),
    and the catch-up refresh (:meth:`Executor.catch_up`) the round's caller runs after its one
    pause when a command's next try is its last."""

    __slots__ = ("catch_up", "marked", "moved", "now", "refreshed")

    def __init__(self, now: float) -> None:
        self.now = now
        self.moved: Set[int] = set()
        self.marked: Set[NodeAddress] = set()
        self.refreshed: Set[Optional[NodeAddress]] = set()
        self.catch_up: Optional[CatchUp] = None


def _first(seen: Optional[Set[T]], key: T) -> bool:
    """True the first time ``key`` is offered to ``seen`` (always, without a ``seen``)."""
    if seen is None:
        return True
    if key in seen:
        return False
    seen.add(key)
    return True


class Executor:
    """Runs commands for one client: routing, retries, batches (see the module docstring).

    ``sleep`` pauses between retries (``time.sleep``; a fake clock's ``advance`` in tests),
    ``rng`` draws backoff jitter and random nodes, and the clock is the pool's (``pool.clock``),
    so the pool's failure marks and the retry deadlines read the same time.
    """

    def __init__(self, pool: ClusterConnectionPool, policy: RetryPolicy, *,
                 sleep: Optional[Callable[[float], None]] = None,
                 rng: Optional[random.Random] = None) -> None:
        self.pool = pool
        #: Whether even a first attempt's socket waits need the deadline (the pool's
        #: socket_timeout is None or longer than it); set with :attr:`policy`.
        self.bound_first = False
        self.policy = policy
        self.sleep: Callable[[float], None] = sleep or time.sleep
        self.rng = rng or random.Random()
        #: Whether read-only commands may go to replicas (the pool's read policy says so).
        self.read_from_replicas = pool.read_policy != "primary"
        #: Read-your-writes window in seconds (0: off): a read of a slot this client wrote less
        #: than that long ago goes to the slot's primary, not to a replica that may lag (see
        #: :meth:`replica_read_ok`). ``written_at`` holds each slot's last write time when on.
        self.read_your_writes = 0.0
        self.written_at: Optional[List[float]] = None
        #: The encoding keys are hashed with (the connections').
        self.encoding = str(pool.connection_kwargs.get("encoding", "utf-8"))
        #: Specs of commands the static table lacks, from COMMAND INFO (by upper-case name).
        self.server_specs: Dict[str, CommandSpec] = {}
        self._specs_lock = threading.Lock()
        #: The node ``target_nodes="default-node"`` names, when one was chosen
        #: (``RedisCluster.set_default_node``); see :meth:`default_address`.
        self.default_node: Optional[NodeAddress] = None

    @property
    def policy(self) -> RetryPolicy:
        """The retry policy (replaceable: ``RedisCluster.retry = ...``)."""
        return self._policy

    @policy.setter
    def policy(self, policy: RetryPolicy) -> None:
        self._policy = policy
        timeout = self.pool.connection_kwargs.get("socket_timeout")
        # (a deadline of 0 means "no retries": the one attempt keeps its socket_timeout)
        self.bound_first = policy.deadline > 0 and (
            timeout is None or timeout > policy.deadline)

    def set_read_your_writes(self, seconds: float) -> None:
        """Turn the read-your-writes window on (``seconds`` > 0) or off (0)."""
        self.read_your_writes = float(seconds)
        self.written_at = [float("-inf")] * NUM_SLOTS if seconds > 0 else None

    def replica_read_ok(self, slot: int) -> bool:
        """Whether a read of ``slot`` may go to a replica: not when this client wrote the slot
        within the read-your-writes window (replication is asynchronous: a replica may not
        have the write yet). Per slot, per client (other clients' writes are not seen)."""
        written = self.written_at
        return written is None or self.pool.clock() - written[slot] >= self.read_your_writes

    def note_write(self, slot: int) -> None:
        """Record a write to ``slot`` for the read-your-writes window (no-op when off)."""
        written = self.written_at
        if written is not None:
            written[slot] = self.pool.clock()  # one float store: atomic under the GIL

    def time_left(self, attempt: Optional[Attempt]) -> Optional[float]:
        """Seconds the call that made ``attempt`` may still wait on a socket (None: no start
        recorded); TimeoutError when none is left, so nothing is sent after the deadline."""
        deadline = self._policy.deadline
        if attempt is None or attempt.started is None:
            return None
        left = attempt.started + deadline - self.pool.clock()
        if left <= 0:  # rare: the router stops retrying before the deadline passes
            raise DeadlineExceededError(
                f"retry_deadline ({deadline:g} s) reached before the command could run again")
        timeout = self.pool.connection_kwargs.get("socket_timeout")
        return left if timeout is None else min(left, float(timeout))

    def round_budget(self, started: float, pause: float) -> float:
        """The socket wait for a retry round that starts after ``pause`` seconds: what is left
        of the deadline of a call that began at ``started`` (at least 1 ms: the router has
        already given up on every part whose deadline passed), at most socket_timeout."""
        left = max(started + self._policy.deadline - self.pool.clock() - pause, 0.001)
        timeout = self.pool.connection_kwargs.get("socket_timeout")
        return left if timeout is None else min(left, float(timeout))

    def now(self) -> float:
        """The pool's clock (monotonic seconds)."""
        return self.pool.clock()

    def backoff_delay(self, retries: int) -> float:
        """The pause before retry number ``retries`` (0 = the first), with jitter."""
        return self.policy.backoff.delay(retries, self.rng)

    def choose(self, items: Sequence[T]) -> T:
        """One of ``items`` at random (ValueError when there are none)."""
        return items[self.rng.randrange(len(items))]

    def random_node(self, primaries_only: bool = True) -> NodeAddress:
        """A random primary (or any node), discovering the cluster first if needed."""
        topology = self.pool.ensure_topology()
        nodes: Sequence[NodeAddress] = topology.primaries if primaries_only else topology.nodes
        return self.choose(nodes)

    def primaries(self) -> List[NodeAddress]:
        """Every primary of the current layout (discovered first if needed)."""
        return list(self.pool.ensure_topology().primaries)

    def default_address(self) -> NodeAddress:
        """redis-py's default node: the one chosen with ``default_node`` while it is still in
        the layout, else the first primary (by slot order) of the current layout."""
        topology = self.pool.ensure_topology()
        chosen = self.default_node
        if chosen is not None and topology.role_of(chosen) is not None:
            return chosen
        if not topology.primaries:
            raise RedisClusterException("no primary is known: there is no default node")
        return topology.primaries[0]

    def targets(self, target_nodes: Any, read: bool = False) -> List[NodeAddress]:
        """The addresses redis-py's ``target_nodes=`` names, in the order given:
        a node flag (``primaries``, ``replicas``, ``all``, ``random`` -- a random primary, or a
        random node for a ``read`` with replica reads on --, ``default-node``), a ClusterNode,
        a list of them, a ``{name: node}`` dict, or any node form the pool takes.
        InvalidTargetNodesError for anything else; ClusterUsageError when a flag matches no
        node (``replicas`` on a cluster without replicas)."""
        nodes = target_list(target_nodes)
        if isinstance(nodes, str):
            if nodes == PRIMARIES:
                found = self.primaries()
            elif nodes == REPLICAS:
                found = list(self.pool.ensure_topology().replicas)
            elif nodes == ALL_NODES:
                found = list(self.pool.ensure_topology().nodes)
            elif nodes == RANDOM:
                found = [self.random_node(primaries_only=not (read and self.read_from_replicas))]
            else:
                assert nodes == DEFAULT_NODE
                found = [self.default_address()]
            if not found:
                raise ClusterUsageError(f"target_nodes={nodes!r} matches no node")
            return found
        address_of = self.pool.address_of
        out: List[NodeAddress] = []
        for node in nodes:
            try:
                address = address_of(node)
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise InvalidTargetNodesError(f"target_nodes: {node!r} is not a node ({exc})"
                                              ) from None
            out.append(address)
        return out

    # --- routing -------------------------------------------------------------------------------
    def locate(self, route: Route = Route.SLOT, slots: Sequence[int] = (), *, read: bool = False,
               node: Any = None, avoid: Collection[NodeAddress] = ()) -> List[NodeAddress]:
        """The addresses one routing decision names.

        * ``node`` (explicit targets, redis-py's ``target_nodes``: a node flag, a ClusterNode,
          NodeAddress, node dict, ``"host:port"`` or pair, a list of them -- ``[host, port]``
          with an int port is one pair -- or a ``{name: node}`` dict): their addresses, see
          :meth:`targets`; route and slots unused (``read`` picks for the ``random`` flag).
        * a slot route with ``slots``: one address per slot -- the primary, or for ``read`` the
          node the pool's read policy picks; a pick in ``avoid`` (a replica that was loading or
          failed this command) falls back to the slot's primary.
        * a slot route without slots (a keyless call) and ``RANDOM_PRIMARY``: one random
          primary; ``RANDOM_NODE``: one random node; ``DEFAULT_NODE``: redis-py's default node
          (:meth:`default_address`); ``ALL_PRIMARIES`` / ``ALL_NODES``: all.

        Raises what the pool raises for an uncovered slot (SlotNotCoveredError) or a failed
        discovery, and ClusterUsageError for routes no node serves (connection-bound)."""
        if node is not None:
            return self.targets(node, read)
        pool = self.pool
        if route in _SLOT_ROUTES and slots:
            addresses = pool.addresses_for_slots(slots, read)
            if avoid:
                addresses = [pool.address_for_slot(slot, False) if address in avoid else address
                             for address, slot in zip(addresses, slots)]
            return addresses
        if route is Route.ALL_PRIMARIES:
            return self.primaries()
        if route is Route.ALL_NODES:
            return list(pool.ensure_topology().nodes)
        if route is Route.DEFAULT_NODE:
            return [self.default_address()]
        if route is Route.RANDOM_NODE:
            return [self.random_node(primaries_only=False)]
        if route is Route.RANDOM_PRIMARY or route in _SLOT_ROUTES:
            return [self.random_node()]
        raise ClusterUsageError(f"{route.value} commands are not routed to cluster nodes")

    def server_spec(self, args: Sequence[Any]) -> CommandSpec:
        """The spec of a command not in the static table, from COMMAND INFO (fetched once)."""
        name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
        name = name.upper()
        spec = self.server_specs.get(name)
        if spec is not None:
            return spec
        reply = self.run_on_node(self.random_node(), "COMMAND", "INFO", name)
        entry = reply[0] if isinstance(reply, list) and reply else None
        if entry is None:
            raise ResponseError(f"ERR unknown command '{name}' (not in COMMAND INFO)")
        spec = spec_from_command_info(entry)
        with self._specs_lock:
            self.server_specs[name] = spec
        return spec

    # --- carrying out the router's decisions ---------------------------------------------------
    def recover(self, error: ClusterCoreError, attempt: Attempt, *, idempotent: bool,
                command: str, address: Optional[NodeAddress], slot: Optional[int] = None,
                in_reply: Optional[bool] = None, wait: bool = True,
                seen: Optional[Round] = None) -> Step:
        """Decide what follows ``error`` (:func:`~.router.next_step`) and carry it out; returns
        the step (its ``target`` is where an ASK goes, its ``delay`` the pause).

        ``address`` is the node that failed or answered. Its pool is marked failing when the
        router says so, otherwise a refresh is requested -- told to avoid that node unless
        ``error`` was a reply read on a connection still in sync (``in_reply``; by default: it
        is a ResponseError). MOVED updates the slot the server named (``slot`` is the one the
        command was sent for; a command without one cannot be redirected: ``error`` is raised).
        RETRY sleeps the delay unless ``wait`` is False (the caller waits once for many).
        RAISE raises the step's error. ``seen`` makes each effect happen once per round."""
        if address is not None and error.node is None:
            error.node = address
        pool = self.pool
        dial: Optional[NodeAddress] = None  # where a redirect goes (remapped), None: unknown
        if isinstance(error, (MovedError, AskError)):
            dial = pool.redirect_address(error.target)
        step = next_step(error, attempt, idempotent=idempotent, policy=self.policy,
                         now=pool.clock() if seen is None else seen.now, command=command,
                         rng=self.rng, target_known=dial is not None
                         or not isinstance(error, (MovedError, AskError)))
        if in_reply is None:
            in_reply = isinstance(error, ResponseError) or not isinstance(error, _IO_ERRORS)
        if step.mark_failing and address is not None and _first(
                None if seen is None else seen.marked, address):
            pool.mark_failing(address, error)
        elif step.refresh:
            avoid = None if in_reply else address
            if _first(None if seen is None else seen.refreshed, avoid):
                pool.request_refresh(step.refresh, avoid=avoid)
        action = step.action
        if action is Action.MOVED:
            assert step.target is not None
            if slot is None:
                raise error
            # the slot the server named: if our hash ever disagreed (an encoding mismatch),
            # following ours would move the wrong slot in the map
            moved = error.slot_id if isinstance(error, MovedError) else slot
            if _first(None if seen is None else seen.moved, moved):
                pool.on_moved(moved, step.target)
        elif action is Action.ASK:
            # ASKING goes where the pool dials the node (host_port_remap applied)
            step = Step(Action.ASK, target=dial)
        elif action is Action.RETRY:
            catch_up: Optional[CatchUp] = None
            if attempt.final and (step.refresh or step.mark_failing):
                catch_up = (attempt, step.refresh or "connection failure",
                            None if in_reply else address)
            if wait:
                self.sleep(step.delay)
                if catch_up is not None:
                    self.catch_up(*catch_up)
            elif seen is not None and catch_up is not None:
                seen.catch_up = catch_up  # the caller runs it after its one pause
        elif action is Action.RAISE:
            raise step.error or error
        return step

    def catch_up(self, attempt: Attempt, trigger: str, avoid: Optional[NodeAddress]) -> None:
        """Before the last try of a call that failed at a node: refresh the layout now (unless
        it is fresh) and wait up to half of what is left for it, so a promotion that came in
        the deadline's last half second is tried instead of raising (the rate limit would
        have deferred the refresh past the deadline)."""
        if attempt.started is None:
            return
        left = attempt.started + self._policy.deadline - self.pool.clock()
        if left > 0:
            self.pool.catch_up(trigger, avoid, CATCH_UP, left / 2)

    # --- one command ---------------------------------------------------------------------------
    def run_slot(self, args: Sequence[Any], slot: int, spec: CommandSpec,
                 blocking: Optional[float] = None, raw: bool = False,
                 idempotent: Optional[bool] = None) -> Any:
        """Run a one-slot command, following MOVED/ASK and retrying as the router decides;
        returns the raw reply. ``blocking`` is the server-side timeout of a blocking call,
        ``raw`` reads the reply undecoded (never_decode), ``idempotent=None`` means "work it
        out from ``spec`` if a failure needs it". A connection is released or discarded before
        any wait, so no caller holds one while it sleeps or waits for a refresh."""
        pool = self.pool
        read = spec.readonly and self.read_from_replicas
        written = self.written_at  # the read-your-writes window, when on
        if read and written is not None:
            read = self.replica_read_ok(slot)
        # The deadline counts from here: one clock read per call (retry_deadline bounds the
        # whole call, reads included).
        started = pool.clock()
        attempt: Optional[Attempt] = None
        ask_target: Optional[NodeAddress] = None
        while True:
            # the slot case of locate(), inlined: this is the per-command hot path
            address = ask_target or pool.address_for_slot(slot, read)
            if attempt is not None and address in attempt.avoid and not ask_target:
                address = pool.address_for_slot(slot, False)  # reads fall back to the primary
            # a retry (or a socket_timeout longer than the deadline): wait what is left
            left = (None if attempt is None and not self.bound_first
                    else self.time_left(attempt or Attempt(started=started)))
            if left is not None and attempt is not None and address in attempt.avoid:
                # a node that already failed this call (hung? slow?) gets half of what is left,
                # so a failover seen meanwhile still leaves time for a try on the new owner
                left /= 2
            try:
                # a blocking command needs a connection to itself; others may share one
                if attempt is None:
                    conn = (pool.connection_for_command(address) if blocking is None
                            else pool.get_connection_by_address(address))
                else:  # a retry: a reconnect gets only what is left of the deadline
                    assert left is not None
                    conn = self._checkout_within(address, left, blocking is None)
            except PoolError:
                raise
            except (ConnectionError, TimeoutError) as exc:
                # Could not connect: nothing was sent.
                attempt = attempt or Attempt(started=started)
                if idempotent is None:
                    idempotent = is_idempotent(spec, args)
                self.recover(exc, attempt, idempotent=idempotent, command=spec.name,
                             address=address, in_reply=False)
                continue
            try:
                if ask_target is None:
                    if blocking is not None:
                        reply = conn.execute_blocking(args, blocking)
                    elif left is None:  # the hot path
                        reply = (conn.execute(*args) if not raw
                                 else conn.execute(*args, disable_decoding=True))
                    else:
                        reply = conn.execute_within(args, left, raw)
                else:
                    if left is not None:
                        conn.set_timeout(left)  # put back when the connection is released
                    conn.send_commands((("ASKING",), args))
                    asking = conn.read_reply()  # read both replies, so none is left unread
                    reply = conn.read_reply(disable_decoding=raw)
                    if isinstance(asking, ResponseError):
                        raise asking  # ASKING refused: its error explains the command's reply
                    if isinstance(reply, ResponseError):
                        raise reply
            except ResponseError as exc:
                if ask_target is not None and left is not None:
                    conn.set_timeout(conn.socket_timeout)
                pool.release(conn)  # an error reply leaves the connection in sync
                attempt = attempt or Attempt(started=started)
                if idempotent is None:
                    idempotent = is_idempotent(spec, args)
                step = self.recover(exc, attempt, idempotent=idempotent, command=spec.name,
                                    address=address, slot=slot)
                ask_target = step.target if step.action is Action.ASK else None
            except ClusterCoreError as exc:
                pool.discard(conn)  # never reuse a connection that failed or timed out
                attempt = attempt or Attempt(started=started)
                ask_target = None
                if idempotent is None:
                    idempotent = is_idempotent(spec, args)
                self.recover(exc, attempt, idempotent=idempotent, command=spec.name,
                             address=address, in_reply=False)
            except BaseException:
                pool.discard(conn)  # e.g. KeyboardInterrupt mid-reply: the socket is out of sync
                raise
            else:
                if ask_target is not None and left is not None:
                    conn.set_timeout(conn.socket_timeout)
                pool.release(conn)
                if written is not None and not spec.readonly:
                    self.note_write(slot)
                return reply

    def _checkout_within(self, address: NodeAddress, left: float, shared: bool,
                         ) -> ClusterConnection:
        """A retry's checkout: a connection that has to be opened must be open (TCP, TLS,
        handshake) within ``left`` seconds, or DeadlineExceededError (:data:`DIAL_LIMIT`)."""
        DIAL_LIMIT.at = monotonic() + left
        try:
            pool = self.pool
            return (pool.connection_for_command(address) if shared
                    else pool.get_connection_by_address(address))
        finally:
            DIAL_LIMIT.at = None

    def run_on_node(self, node: Any, *args: Any) -> Any:
        """Run a command on one given node (no slot routing, no redirects) and return its raw
        reply; a socket failure before the request was written is tried once more on a fresh
        connection (not a timeout when the policy says ``retry_on_timeout=False``)."""
        pool = self.pool
        # exactly one node: a (host, port) pair or list is one address, not a list of nodes
        address = node if isinstance(node, NodeAddress) else pool.address_of(node_address(node))
        for attempt in range(2):
            conn = pool.get_connection_by_address(address)
            try:
                reply = conn.execute(*args)
            except ResponseError:
                pool.release(conn)
                raise
            except (ConnectionError, TimeoutError) as exc:
                pool.discard(conn)
                if attempt or not may_resend(exc, idempotent=False, policy=self.policy):
                    raise
                continue
            except BaseException:
                pool.discard(conn)
                raise
            pool.release(conn)
            return reply
        raise AssertionError("unreachable")

    def run_on_nodes(self, addresses: Sequence[NodeAddress], args: Sequence[Any], *,
                     idempotent: bool, raw: bool = False) -> List[Any]:
        """Run one command on each of ``addresses`` (all written before any is read; no slot
        routing, no redirects) and return each node's raw reply or error, in order. A node
        whose socket failed is tried once more on a fresh connection when the router allows a
        resend (nothing was sent, or the command is idempotent)."""
        command = tuple(args)
        layout = ((0, True),) if raw else None
        replies = self.run_batches([(address, [command], layout) for address in addresses])
        out: List[Any] = []
        policy = self.policy
        for address, (reply,) in zip(addresses, replies):
            if isinstance(reply, (ConnectionError, TimeoutError)) and may_resend(
                    reply, idempotent=idempotent, policy=policy):
                try:  # once more, on a fresh socket
                    again = self.run_batches([(address, [command], layout)])[0][0]
                except (ConnectionError, TimeoutError) as exc:
                    again = exc
                reply = again
            out.append(reply)
        return out

    # --- batches -------------------------------------------------------------------------------
    def run_batches(self, batches: Sequence[Batch], *, all_errors_as_values: bool = False,
                    within: Optional[float] = None) -> List[List[Any]]:
        """Write every node's batch, then read every reply; one list of results per batch.

        Errors come back as values, per result: error replies, and for every result of a node
        whose connection failed that failure (``request_sent`` says whether its write may have
        reached the server: always after a failed read; after a failed write only when the
        batch held more than one command, since a command written in part never runs). A
        failed checkout gives the batch's results its error when it is a connection failure
        -- or, with ``all_errors_as_values`` (a pipeline), whatever it is; otherwise (pool
        errors: timeout, closed, too many) it is raised. Every connection is released or
        discarded on every path.

        It never waits for a connection while holding others (hold-and-wait deadlocks a small
        pool): when the next checkout would wait, the batches already sent are read first.
        ``within``: each socket wait of this call is at most that many seconds instead of
        socket_timeout (a retry round with only that much of its deadline left)."""
        pool = self.pool
        raised: Tuple[Type[ClusterCoreError], ...]
        kept: Tuple[Type[ClusterCoreError], ...]
        if all_errors_as_values:
            raised, kept = (), (ClusterCoreError,)
        else:
            raised, kept = (PoolError,), (ConnectionError, TimeoutError)
        out: List[List[Any]] = [[] for _ in batches]
        held: List[Tuple[int, ClusterConnection]] = []
        if within is not None:  # a retry round: reconnects get only what is left
            DIAL_LIMIT.at = monotonic() + within
        try:
            for i, (address, commands, layout) in enumerate(batches):
                try:
                    conn = pool.try_connection_by_address(address) if held else None
                    if conn is None:
                        if held:
                            self._drain(held, batches, out, within)
                        conn = pool.get_connection_by_address(address)
                except raised:
                    raise
                except kept as exc:
                    if exc.node is None:
                        exc.node = address
                    out[i] = [exc] * (len(commands) if layout is None else len(layout))
                    continue  # nothing was sent
                try:
                    if within is not None:
                        conn.set_timeout(within)  # put back before the release (_drain)
                    conn.send_commands(commands)
                except _IO_ERRORS as exc:
                    pool.discard(conn)
                    if exc.node is None:
                        exc.node = address
                    # sendall failed part-way: earlier whole commands may have been delivered
                    exc.request_sent = len(commands) > 1
                    out[i] = [exc] * (len(commands) if layout is None else len(layout))
                    continue
                except BaseException:
                    pool.discard(conn)
                    raise
                held.append((i, conn))
            self._drain(held, batches, out, within)
        except BaseException:
            for _, conn in held:
                pool.discard(conn)  # replies may be pending on them: never reuse
            raise
        finally:
            DIAL_LIMIT.at = None
        return out

    def _drain(self, held: List[Tuple[int, ClusterConnection]], batches: Sequence[Batch],
               out: List[List[Any]], within: Optional[float] = None) -> None:
        """Read the replies of every sent batch in ``held`` and hand its connection back."""
        pool = self.pool
        while held:
            i, conn = held[0]
            address, commands, layout = batches[i]
            replies: List[Any] = []
            try:
                if layout is None:
                    conn.read_replies(len(commands), replies)
                else:
                    read = conn.read_reply
                    for skip, raw in layout:
                        for _ in range(skip):
                            read()  # a SCRIPT LOAD or ASKING reply: not a result
                        replies.append(read(disable_decoding=raw))
            except _IO_ERRORS as exc:
                held.pop(0)
                pool.discard(conn)
                exc.request_sent = True
                if exc.node is None:
                    exc.node = address
                replies += [exc] * ((len(commands) if layout is None else len(layout))
                                    - len(replies))
            else:
                held.pop(0)
                if within is not None:
                    conn.set_timeout(conn.socket_timeout)
                pool.release(conn)
            out[i] = replies

    # --- multi-key commands across slots -------------------------------------------------------
    def run_split(self, spec: CommandSpec, args: Sequence[Any]) -> Any:
        """Run a splittable multi-key command slot by slot, one round trip per node, and merge
        the replies back in the caller's key order (raw: the caller parses). Not atomic across
        slots. A part that failed runs again alone through :meth:`run_slot` (which follows
        redirects and backs off) unless it may have been applied and is not idempotent."""
        parts = split_by_slot(spec, args, self.encoding)
        read = spec.readonly and self.read_from_replicas
        if self.written_at is not None:
            if read:  # one slot written within the window: this call reads primaries only
                read = all(self.replica_read_ok(slot) for slot, _sub, _indexes in parts)
            else:
                for slot, _sub, _indexes in parts:
                    self.note_write(slot)
        # the slot case of locate(), inlined: one call for every key's slot
        addresses = self.pool.addresses_for_slots(
            [slot for slot, _sub, _indexes in parts], read)
        by_node: Dict[NodeAddress, List[int]] = {}  # part numbers per node
        for n, address in enumerate(addresses):
            numbers = by_node.get(address)
            if numbers is None:
                by_node[address] = [n]
            else:
                numbers.append(n)
        results: List[Tuple[List[int], Any]] = [([], None)] * len(parts)
        idempotent: Optional[bool] = None  # worked out only if a part fails
        done = self.run_batches([(address, [parts[n][1] for n in ns], None)
                                 for address, ns in by_node.items()])
        for replies, ns in zip(done, by_node.values()):
            for reply, n in zip(replies, ns):
                slot, sub, indexes = parts[n]
                if isinstance(reply, BaseException):
                    if idempotent is None:
                        idempotent = is_idempotent(spec, args)
                    reply = self._retry_part(reply, sub, slot, spec, idempotent)
                results[n] = (indexes, reply)
        return merge_split(spec, results)

    def _retry_part(self, error: BaseException, args: Sequence[Any], slot: int,
                    spec: CommandSpec, idempotent: bool) -> Any:
        """One slot's part of a split command, again (see :meth:`run_split`); the router may
        raise instead (outcome unknown). No pause here: the one-slot loop backs off itself."""
        if isinstance(error, _IO_ERRORS) and not isinstance(error, PoolError):
            self.recover(error, Attempt(), idempotent=idempotent, command=spec.name,
                         address=error.node, in_reply=False, wait=False)
        elif not isinstance(error, ResponseError):
            raise error
        return self.run_slot(args, slot, spec, idempotent=idempotent)

