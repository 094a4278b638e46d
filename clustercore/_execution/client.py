"""RedisCluster: the execute loop (router + pool + retry) under redis-py's command methods.

One command: look up its spec (static table, else the server's COMMAND INFO, fetched once),
find its slot from its keys, check out a connection to the slot's node, send, read, release.
Errors go through :func:`clustercore.router.next_step`, a pure function over an explicit
attempt state; the loop only carries out what it decides (follow MOVED/ASK, back off, ask for a
background refresh, raise). A connection is released or discarded *before* any wait, so a
caller never holds a pooled connection while it sleeps or waits for a refresh.

Multi-key commands whose keys span slots (MGET, MSET, DEL, UNLINK, EXISTS, TOUCH) are split by
slot; every node's share is written before any reply is read, and results come back in the
caller's order. They are not atomic across slots (each slot's part is). Atomic multi-key
commands must name keys of one slot and raise ClusterCrossSlotError before anything is sent.
"""

from __future__ import annotations

import random
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Type, Union
from urllib.parse import parse_qsl, unquote, urlsplit

from .._address import NodeAddress
from .._commands.api import CallbackDict, CommandsMixin, pop_never_decode
from .._commands.table import (
    SINGLE_KEY,
    Route,
    blocking_timeout,
    has_space,
    lookup,
    merge_split,
    normalize_args,
    slot_of,
    spec_from_command_info,
    split_by_slot,
)
from .._commands.table import is_idempotent as _is_idempotent
from .._net.connection import ClusterConnection
from .._pool.cluster_pool import (
    ClusterConnectionPool,
    ClusterReadOnlyConnectionPool,
    ClusterWithReadReplicasConnectionPool,
)
from .._slots import key_slot
from ..errors import (
    ClusterCoreError,
    ClusterCrossSlotError,
    ConnectionError,
    DataError,
    MovedError,
    PoolError,
    ProtocolError,
    RedisClusterConfigError,
    RedisClusterException,
    ResponseError,
    TimeoutError,
)
from .executor import Executor
from .pipeline import ClusterPipeline
from .pubsub import ClusterPubSub
from .retry import Backoff, RetryPolicy
from .router import Action, Attempt, next_step
from .script import Script

__all__ = ["RedisCluster"]



class RedisCluster(CommandsMixin):
    """A thread-safe client for a Redis Cluster (redis-py-cluster 2.1.3's constructor)."""

    def __init__(
        self,
        host: Optional[str] = None,
        port: Union[int, str, None] = None,
        startup_nodes: Optional[Sequence[Any]] = None,
        max_connections: Optional[int] = None,
        max_connections_per_node: Union[bool, int] = False,
        init_slot_cache: bool = True,
        readonly_mode: bool = False,
        reinitialize_steps: Optional[int] = None,
        skip_full_coverage_check: bool = False,
        nodemanager_follow_cluster: bool = False,
        connection_class: Optional[Type[ClusterConnection]] = None,
        read_from_replicas: bool = False,
        cluster_down_retry_attempts: int = 3,
        host_port_remap: Any = None,
        *,
        connection_pool: Optional[ClusterConnectionPool] = None,
        retry_deadline: float = 5.0,
        max_redirects: int = 16,
        backoff: Optional[Backoff] = None,
        retry_non_idempotent: bool = False,
        read_policy: Optional[str] = None,
        sleep: Optional[Callable[[float], None]] = None,
        rng: Optional[random.Random] = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("db"):
            raise RedisClusterConfigError(f"Redis Cluster has only database 0; got db={kwargs['db']}")
        kwargs.pop("db", None)
        if connection_pool is None:
            if readonly_mode:
                pool_class: Type[ClusterConnectionPool] = ClusterReadOnlyConnectionPool
            elif read_from_replicas:
                pool_class = ClusterWithReadReplicasConnectionPool
            else:
                pool_class = ClusterConnectionPool
            if read_policy is not None:
                kwargs["read_policy"] = read_policy
            if host is None and not startup_nodes:
                host, port = "localhost", port or 6379
            connection_pool = pool_class(
                startup_nodes=startup_nodes, init_slot_cache=init_slot_cache,
                connection_class=connection_class, max_connections=max_connections,
                max_connections_per_node=max_connections_per_node,
                reinitialize_steps=reinitialize_steps,
                skip_full_coverage_check=skip_full_coverage_check,
                nodemanager_follow_cluster=nodemanager_follow_cluster,
                host_port_remap=host_port_remap, host=host, port=port, rng=rng, **kwargs)
        self.connection_pool = connection_pool
        self.read_from_replicas = connection_pool.read_policy != "primary"
        self.retry = RetryPolicy(max_redirects=max_redirects,
                                 cluster_down_attempts=cluster_down_retry_attempts,
                                 deadline=retry_deadline, backoff=backoff or Backoff(),
                                 retry_non_idempotent=retry_non_idempotent)
        self._encoding = str(connection_pool.connection_kwargs.get("encoding", "utf-8"))
        self.response_callbacks: Dict[str, Callable[..., Any]] = self._default_callbacks()
        self.result_callbacks: Dict[str, Callable[..., Any]] = {}
        self._server_specs: Dict[str, Any] = {}
        self._specs_lock = threading.Lock()
        #: The execution core: routing, retries and batches for this client, its pipelines,
        #: pub/sub and scripts. ``sleep`` and ``rng`` (backoff pauses and jitter, random
        #: nodes) are injectable for tests (``rng`` also seeds the pool it builds: replica
        #: choice, seed order); the clock is the pool's.
        self.executor = Executor(connection_pool, self.retry, sleep=sleep, rng=rng)
        self._rng = self.executor.rng
        self._sleep = self.executor.sleep

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisCluster:
        """``redis://[user:pass@]h1:p1,h2:p2/0?opt=v`` (``rediss://`` for TLS); keeps every option."""
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise RedisClusterConfigError(f"URL scheme must be redis:// or rediss://: {url!r}")
        netloc = parts.netloc
        if "@" in netloc:
            creds, netloc = netloc.rsplit("@", 1)
            user, _, password = creds.partition(":")
            if user:
                kwargs.setdefault("username", unquote(user))
            if password:
                kwargs.setdefault("password", unquote(password))
        nodes = [NodeAddress.parse(part) for part in netloc.split(",") if part]
        kwargs.setdefault("startup_nodes", [{"host": n.host, "port": n.port} for n in nodes])
        path = parts.path.strip("/")
        if path and path != "0":
            raise RedisClusterConfigError(f"Redis Cluster has only database 0; URL names {path}")
        for key, value in parse_qsl(parts.query):
            kwargs.setdefault(key, _coerce_option(key, value))
        if parts.scheme == "rediss":
            kwargs.setdefault("ssl", True)
        return cls(**kwargs)

    # --- the execute loop ----------------------------------------------------------------------
    def execute_command(self, *args: Any, **options: Any) -> Any:
        """Route and run one command (with redirects and retries), then parse its reply."""
        try:
            spec = _single_key_spec(args[0])
        except (IndexError, TypeError):  # no arguments; an unhashable first one
            spec = None
        if spec is not None and len(args) > spec.first_key and (not options or (
                "never_decode" not in options and "NEVER_DECODE" not in options)):
            # The fast path: GET, SET, HGET ... with their one key where the table says.
            name = spec.name
            reply = self._execute_slot(args, key_slot(args[spec.first_key], self._encoding),
                                       spec.readonly, None, name, None, spec)
            callbacks = self.response_callbacks
            callback = (_dict_get(callbacks, name) if type(callbacks) is CallbackDict
                        else callbacks.get(name))  # CallbackDict's keys are upper-case
            return reply if callback is None else callback(reply, **options)
        return self._execute_general(args, options)

    def _execute_general(self, args: Tuple[Any, ...], options: Dict[str, Any]) -> Any:
        """execute_command for every command the fast path does not take."""
        if not args:
            raise DataError("no command given")
        # never_decode: read the reply as bytes even with decode_responses (DUMP's payload)
        raw = pop_never_decode(options) if options else False
        spec = lookup(args)
        if spec is None or has_space(args[0]):
            args = normalize_args(args)
            spec = spec or lookup(args) or self._server_spec(args)
        route = spec.route
        name = spec.name
        if route is Route.SLOT or route is Route.SLOT_ARG or route is Route.CHANNEL:
            try:
                slot = slot_of(spec, args, self._encoding)
            except ClusterCrossSlotError:
                if spec.split:
                    return self._split(spec, args, options)
                raise
            if slot is None:
                reply = self._execute_on_random(args)
            else:
                blocking = (None if spec.blocking_timeout_arg is None
                            else blocking_timeout(spec, args))
                # idempotency is worked out only if something fails (None = ask the spec)
                reply = self._execute_slot(args, slot, spec.readonly, None, name, blocking, spec,
                                           raw)
            callback = self.response_callbacks.get(name)
            return reply if callback is None else callback(reply, **options)
        if route is Route.CONNECTION or route is Route.NODE_ONLY:
            raise RedisClusterException(
                f"{name} cannot be routed by a cluster client: it is bound to one connection or "
                "one node (use pipeline(), pubsub(), or a connection from "
                "connection_pool.get_connection_by_node())")
        return self._execute_fanout(args, spec, options)


    def _execute_slot(self, args: Sequence[Any], slot: int, readonly: bool,
                      idempotent: Optional[bool], name: str, blocking: Optional[float] = None,
                      spec: Any = None, raw: bool = False) -> Any:
        """Run a one-slot command, following MOVED/ASK and retrying as the router decides.

        ``idempotent=None`` means "work it out from ``spec`` if a failure needs it"; ``raw``
        reads the reply undecoded (never_decode)."""
        pool = self.connection_pool
        read = readonly and self.read_from_replicas
        attempt: Optional[Attempt] = None
        ask_target: Optional[NodeAddress] = None
        while True:
            address = ask_target or pool.address_for_slot(slot, read)
            if attempt is not None and address in attempt.avoid and not ask_target:
                address = pool.address_for_slot(slot, False)  # reads fall back to the primary
            try:
                conn = pool.get_connection_by_address(address)
            except PoolError:
                raise
            except (ConnectionError, TimeoutError) as exc:
                # Could not connect: nothing was sent.
                attempt = attempt or Attempt()
                if idempotent is None:
                    idempotent = _is_idempotent(spec, args)
                self._after_failure(exc, attempt, idempotent, name, address, conn=None)
                continue
            try:
                if ask_target is None:
                    if blocking is not None:
                        reply = conn.execute_blocking(args, blocking)
                    else:
                        reply = (conn.execute(*args) if not raw
                                 else conn.execute(*args, disable_decoding=True))
                else:
                    conn.send_commands((("ASKING",), args))
                    asking = conn.read_reply()  # read both replies, so none is left unread
                    reply = conn.read_reply(disable_decoding=raw)
                    if isinstance(asking, ResponseError):
                        raise asking  # ASKING refused: its error explains the command's reply
                    if isinstance(reply, ResponseError):
                        raise reply
            except ResponseError as exc:
                pool.release(conn)  # an error reply leaves the connection in sync
                attempt = attempt or Attempt()
                if idempotent is None:
                    idempotent = _is_idempotent(spec, args)
                step = next_step(exc, attempt, idempotent=idempotent, policy=self.retry,
                                 now=self.connection_pool.clock(), command=name, rng=self._rng)
                ask_target = None
                if step.action is Action.MOVED:
                    assert step.target is not None
                    # the slot the server named: if our hash ever disagreed (an encoding
                    # mismatch), following ours would move the wrong slot in the map
                    pool.on_moved(exc.slot_id if isinstance(exc, MovedError) else slot,
                                  step.target)
                elif step.action is Action.ASK:
                    ask_target = step.target
                elif step.action is Action.RETRY:
                    if step.refresh:
                        pool.request_refresh(step.refresh)
                    self._sleep(step.delay)
                else:
                    raise step.error or exc from None
            except (ConnectionError, TimeoutError, ClusterCoreError) as exc:
                attempt = attempt or Attempt()
                ask_target = None
                if idempotent is None:
                    idempotent = _is_idempotent(spec, args)
                self._after_failure(exc, attempt, idempotent, name, address, conn=conn)
            except BaseException:
                pool.discard(conn)  # e.g. KeyboardInterrupt mid-reply: the socket is out of sync
                raise
            else:
                pool.release(conn)
                return reply

    def _after_failure(self, exc: ClusterCoreError, attempt: Attempt, idempotent: bool,
                       name: str, address: NodeAddress,
                       conn: Optional[ClusterConnection]) -> None:
        """A socket-level failure: drop the connection, decide, maybe wait; raise if told to."""
        pool = self.connection_pool
        if conn is not None:
            pool.discard(conn)  # never reuse a connection that failed or timed out
        if exc.node is None:
            exc.node = address
        step = next_step(exc, attempt, idempotent=idempotent, policy=self.retry,
                         now=self.connection_pool.clock(), command=name, rng=self._rng)
        if step.mark_failing:
            pool.mark_failing(address, exc)  # also requests a refresh
        elif step.refresh:
            pool.request_refresh(step.refresh, avoid=address)
        if step.action is Action.RAISE:
            raise step.error or exc
        self._sleep(step.delay)

    def _execute_on_random(self, args: Sequence[Any]) -> Any:
        """Run a keyless command on a random primary (raw reply)."""
        primaries = self.connection_pool.ensure_topology().primaries
        address = primaries[self._rng.randrange(len(primaries))]
        return self._execute_on_node(address, *args)

    def _execute_on_node(self, node: Any, *args: Any) -> Any:
        """Run a command on one given node (no slot routing); retry once on a fresh socket."""
        pool = self.connection_pool
        address = node if isinstance(node, NodeAddress) else pool.address_of(node)
        for attempt in range(2):
            conn = pool.get_connection_by_address(address)
            try:
                reply = conn.execute(*args)
            except ResponseError:
                pool.release(conn)
                raise
            except (ConnectionError, TimeoutError) as exc:
                pool.discard(conn)
                if attempt or exc.request_sent:
                    raise
                continue
            except BaseException:
                pool.discard(conn)
                raise
            pool.release(conn)
            return reply
        raise AssertionError("unreachable")

    def _nodes_for_scan(self) -> List[NodeAddress]:
        """The primaries, for SCAN-style iteration over the whole key space."""
        return list(self.connection_pool.ensure_topology().primaries)

    def _targets(self, route: Route) -> List[NodeAddress]:
        topology = self.connection_pool.ensure_topology()
        if route is Route.ALL_PRIMARIES:
            return list(topology.primaries)
        if route is Route.ALL_NODES:
            return list(topology.nodes)
        if route is Route.RANDOM_NODE:
            nodes = topology.nodes
            return [nodes[self._rng.randrange(len(nodes))]]
        primaries = topology.primaries
        return [primaries[self._rng.randrange(len(primaries))]]

    def _execute_fanout(self, args: Sequence[Any], spec: Any, options: Dict[str, Any]) -> Any:
        """Send to every target node (all writes first, then all reads), parse each node's
        reply, then merge them as the spec (or a user's result callback) says."""
        targets = self._targets(spec.route)
        replies = self._run_on_nodes([(address, [tuple(args)]) for address in targets])
        parsed: Dict[str, Any] = {}
        idempotent = _is_idempotent(spec, args)
        for address, (reply,) in replies:
            if isinstance(reply, (ConnectionError, TimeoutError)) and (
                    idempotent or not reply.request_sent):
                try:
                    reply = self._execute_on_node(address, *args)  # once more, fresh socket
                except (ConnectionError, TimeoutError, ResponseError) as exc:
                    reply = exc
            if isinstance(reply, BaseException):
                parsed[address.name] = reply
            else:
                parsed[address.name] = self._parse_reply(
                    spec.name, reply, **{"current_host": address.host, **options})
        return self._merge_results(spec.name, spec.merge, parsed, **options)

    def _run_on_nodes(self, batches: Sequence[Tuple[NodeAddress, List[Tuple[Any, ...]]]],
                      ) -> List[Tuple[NodeAddress, List[Any]]]:
        """Write every node's batch, then read every reply. Errors come back as values, per
        command: error replies, and connection errors for every command of a node whose
        connection failed (``request_sent`` says whether its write may have reached the
        server). Pool errors (timeout, closed) are raised; every connection is released or
        discarded on every path.

        It never waits for a connection while holding others (that deadlocks a small pool):
        when the next checkout would wait, the batches already sent are read first."""
        pool = self.connection_pool
        out: List[List[Any]] = [[] for _ in batches]
        held: List[Tuple[int, ClusterConnection]] = []
        try:
            for i, (address, commands) in enumerate(batches):
                try:
                    conn = pool.try_connection_by_address(address) if held else None
                    if conn is None:
                        self._drain(held, batches, out)
                        conn = pool.get_connection_by_address(address)
                except PoolError:
                    raise
                except (ConnectionError, TimeoutError) as exc:
                    exc.node = exc.node or address
                    out[i] = [exc] * len(commands)  # nothing was sent
                    continue
                try:
                    conn.send_commands(commands)
                except (ConnectionError, TimeoutError) as exc:
                    pool.discard(conn)
                    # sendall failed part-way: earlier whole commands may have been delivered
                    exc.request_sent = len(commands) > 1
                    out[i] = [exc] * len(commands)
                    continue
                held.append((i, conn))
            self._drain(held, batches, out)
        except BaseException:
            for _, conn in held:
                pool.discard(conn)  # replies may be pending on them: never reuse
            raise
        return [(address, replies) for (address, _), replies in zip(batches, out)]

    def _drain(self, held: List[Tuple[int, ClusterConnection]],
               batches: Sequence[Tuple[NodeAddress, List[Tuple[Any, ...]]]],
               out: List[List[Any]]) -> None:
        """Read the replies of every sent batch in ``held`` and hand its connection back."""
        pool = self.connection_pool
        while held:
            i, conn = held[0]
            replies: List[Any] = []
            try:
                conn.read_replies(len(batches[i][1]), replies)
            except (ConnectionError, TimeoutError, ProtocolError) as exc:
                held.pop(0)
                pool.discard(conn)
                exc.request_sent = True
                exc.node = exc.node or conn.address
                replies += [exc] * (len(batches[i][1]) - len(replies))
            else:
                held.pop(0)
                pool.release(conn)
            out[i] = replies

    # --- multi-key commands across slots -------------------------------------------------------
    def _split(self, spec: Any, args: Sequence[Any], options: Dict[str, Any]) -> Any:
        """Run a splittable multi-key command slot by slot, one round trip per node, and put
        the results back in the caller's key order. Not atomic across slots."""
        parts = split_by_slot(spec, args, self._encoding)
        addresses = self.connection_pool.addresses_for_slots(
            [slot for slot, _sub, _indexes in parts], spec.readonly and self.read_from_replicas)
        by_node: Dict[NodeAddress, List[int]] = {}  # part numbers per node
        for n, address in enumerate(addresses):
            numbers = by_node.get(address)
            if numbers is None:
                by_node[address] = [n]
            else:
                numbers.append(n)
        results: List[Tuple[List[int], Any]] = [([], None)] * len(parts)
        idempotent: Optional[bool] = None  # worked out only if a part fails
        done = self._run_on_nodes([(address, [parts[n][1] for n in ns])
                                   for address, ns in by_node.items()])
        for (_address, replies), ns in zip(done, by_node.values()):
            for reply, n in zip(replies, ns):
                slot, sub, indexes = parts[n]
                if isinstance(reply, BaseException):
                    if idempotent is None:
                        idempotent = _is_idempotent(spec, args)
                    reply = self._retry_part(reply, sub, slot, spec, idempotent)
                results[n] = (indexes, reply)
        merged = merge_split(spec, results)
        return self._parse_reply(spec.name, merged, **options)

    def _retry_part(self, error: BaseException, args: Sequence[Any], slot: int, spec: Any,
                    idempotent: bool) -> Any:
        """Run one slot's part of a split command again through the single-slot loop (which
        follows redirects and backs off), unless it may have been applied and is not
        idempotent; then the error (outcome unknown) is raised."""
        if isinstance(error, (ConnectionError, TimeoutError, ProtocolError)) and not isinstance(
                error, PoolError):
            step = next_step(error, Attempt(), idempotent=idempotent, policy=self.retry,
                             now=self.connection_pool.clock(), command=spec.name, rng=self._rng)
            if step.mark_failing and error.node is not None:
                self.connection_pool.mark_failing(error.node, error)
            elif step.refresh:
                self.connection_pool.request_refresh(step.refresh, avoid=error.node)
            if step.action is Action.RAISE:
                raise step.error or error
        elif not isinstance(error, ResponseError):
            raise error
        return self._execute_slot(args, slot, spec.readonly, idempotent, spec.name)

    # --- server key specs for commands the table lacks -----------------------------------------
    def _server_spec(self, args: Sequence[Any]) -> Any:
        """The spec of a command not in the static table, from COMMAND INFO (fetched once)."""
        name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
        name = name.upper()
        spec = self._server_specs.get(name)
        if spec is not None:
            return spec
        reply = self._execute_on_random(("COMMAND", "INFO", name))
        entry = reply[0] if isinstance(reply, list) and reply else None
        if entry is None:
            raise ResponseError(f"ERR unknown command '{name}' (not in COMMAND INFO)")
        spec = spec_from_command_info(entry)
        with self._specs_lock:
            self._server_specs[name] = spec
        return spec

    # --- callbacks and lifecycle ---------------------------------------------------------------
    def pipeline(self, transaction: bool = False, shard_hint: Any = None) -> ClusterPipeline:
        """Buffered commands sent node by node; ``transaction=True``: MULTI/EXEC on one slot."""
        return ClusterPipeline(self, transaction=transaction, shard_hint=shard_hint)

    def pubsub(self, **kwargs: Any) -> ClusterPubSub:
        """Classic and sharded pub/sub on dedicated connections, restored automatically."""
        return ClusterPubSub(self, **kwargs)

    def register_script(self, script: Any) -> Script:
        """EVALSHA; on NOSCRIPT loads the body on that node only (works in pipelines too)."""
        return Script(self, script)

    def close(self) -> None:
        """Ordered shutdown of the pool: fence new calls, close connections, join threads."""
        self.connection_pool.close()

    def __enter__(self) -> RedisCluster:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RedisCluster {self.connection_pool!r}>"


_BOOL_OPTIONS = {"ssl", "decode_responses", "readonly_mode", "read_from_replicas",
                 "skip_full_coverage_check", "nodemanager_follow_cluster", "socket_keepalive",
                 "retry_on_timeout", "init_slot_cache", "ssl_check_hostname",
                 "retry_non_idempotent"}
_FLOAT_OPTIONS = {"socket_timeout", "socket_connect_timeout", "health_check_interval",
                  "timeout", "retry_deadline", "max_idle_time", "refresh_interval",
                  "probe_timeout"}
_INT_OPTIONS = {"max_connections", "reinitialize_steps", "cluster_down_retry_attempts",
                "max_redirects", "protocol", "max_waiters", "min_idle_per_node"}


def _coerce_option(key: str, value: str) -> Any:
    """URL query values are strings; give the known options their types."""
    if key in _BOOL_OPTIONS:
        return value.lower() in ("1", "true", "yes", "on")
    if key in _FLOAT_OPTIONS:
        return float(value)
    if key in _INT_OPTIONS:
        return int(value)
    if key == "max_connections_per_node":
        low = value.lower()
        return True if low in ("true", "yes") else False if low in ("false", "no") else int(value)
    return value


_single_key_spec = SINGLE_KEY.get
_dict_get = dict.get

