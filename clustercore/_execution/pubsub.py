"""ClusterPubSub: classic and sharded subscriptions over dedicated connections, self-healing.

Classic channels and patterns (SUBSCRIBE / PSUBSCRIBE) share one connection, the classic link,
to the primary owning the slot of the first name subscribed (the *anchor*), as redis-py and
redis-py-cluster choose it, or to the node given as ``node=`` / ``host=, port=``. PUBLISH is
broadcast to every node, so messages arrive wherever the link is, but it counts receivers on
the node it is sent to (the channel's slot owner): ``publish()`` counts this subscriber for
the anchor and every channel whose slot has the same owner. Patterns match channels of every
slot, so no node would count them right: they go on the same link. Sharded channels
(SSUBSCRIBE) get one connection per slot owner, one SSUBSCRIBE per slot. The connections are
made for this object (not pool connections), speak RESP2 and are closed by ``close()``.

Subscriptions follow their nodes without the caller: after a broken connection, -MOVED to
SSUBSCRIBE, the server's own ``sunsubscribe`` (its node lost the slot), or a layout the pool
publishes in which the anchor's (or a sharded channel's) slot has another owner, they are
subscribed again where they belong, retried with backoff. A lost classic link is replaced on
another node at once (delivery first: the node may be dead, the map stale) and goes back to
the anchor's owner with the next layout published. Restoring acknowledgements are not
reported. A move closes the old subscription before making the new one: messages published in
between are lost, none is delivered twice (at-most-once; docs/pipelines.md).

Restoring is the state machine of ``pubsub_state.py``: a broken link goes OPEN -> LOST and
parks (PLACED -> WAITING) what it carried; the restorer goes PLANNED; a due pass hands the
waiting subscriptions to ``_place``, which the caller's (s|p)subscribe uses too. Every wait
is bounded: ``get_message`` waits on all its connections at once (``wait_readable``) for at
most ``timeout`` and reads with the socket timeout; ``health_check_interval`` PINGs idle links
and drops those that do not answer within the next interval.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from time import monotonic
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Deque,
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
)

from .._address import NodeAddress
from .._net.connection import wait_readable
from .._slots import key_slot, key_to_bytes
from ..errors import (
    AskError,
    ClusterCoreError,
    ConnectionError,
    DataError,
    MovedError,
    PubSubError,
    ResponseError,
)
from .pubsub_messages import (
    ACK_KINDS,
    HEALTH_CHECK_MESSAGE,
    PUBLISH_MESSAGE_TYPES,
    UNSUBSCRIBE_MESSAGE_TYPES,
    Message,
    PubSubApiMixin,
    PubSubWorkerThread,
    address_of,
    cluster_node,
    flat_names,
    is_pong,
    message_of,
    parse_names,
    pong_of,
    pop_message,
)
from .pubsub_state import (
    KINDS,
    ClassicHome,
    Handler,
    Link,
    LinkState,
    PubSubLinkInfo,
    PubSubSnapshot,
    Request,
    Restorer,
    Subscription,
    off_shard,
    pending_names,
    snapshot_of,
    unsubscribing,
)

if TYPE_CHECKING:
    from .._topology.snapshot import Topology
    from .client import RedisCluster

__all__ = ["ClusterPubSub", "PubSubError", "PubSubLinkInfo", "PubSubSnapshot",
           "PubSubWorkerThread"]

_log = logging.getLogger("clustercore.pubsub")

#: Socket timeout of pub/sub connections when the client sets none (a reply half-read).
DEFAULT_READ_TIMEOUT = 10.0
#: Passes of one get_message call past its deadline while replies keep arriving (a bound).
_MAX_SPINS = 100_000
_RETRY_CODES = frozenset({"TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "LOADING"})
#: The subscribing commands placed on the classic link, in the order a pass sends them.
_CLASSIC_KINDS = KINDS[:2]


class ClusterPubSub(PubSubApiMixin):
    """Pub/sub for a cluster: redis-py's ClusterPubSub API (SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE,
    handlers, ``get_message`` / ``get_sharded_message``, ``ping``, ``run_in_thread``) over
    self-healing dedicated connections; see the module docstring.

    ``node`` (a ClusterNode, NodeAddress, ``"host:port"`` or pair) or ``host`` and ``port``
    fix the node of the classic link, as redis-py's ``rc.pubsub(node=...)``: it must be a node
    of the cluster (RedisClusterError otherwise) and is not left for another after a failure.
    """

    PUBLISH_MESSAGE_TYPES = PUBLISH_MESSAGE_TYPES
    UNSUBSCRIBE_MESSAGE_TYPES = UNSUBSCRIBE_MESSAGE_TYPES
    HEALTH_CHECK_MESSAGE = HEALTH_CHECK_MESSAGE

    def __init__(self, client: RedisCluster, node: Any = None, host: Optional[str] = None,
                 port: Optional[int] = None, ignore_subscribe_messages: bool = False,
                 health_check_interval: Optional[float] = None,
                 push_handler_func: Optional[Callable[..., Any]] = None,
                 event_dispatcher: Any = None, shard_hint: Any = None) -> None:
        for name, value in (("push_handler_func", push_handler_func),
                            ("event_dispatcher", event_dispatcher)):
            if value is not None:
                raise DataError(f"ClusterPubSub does not take {name}={value!r}: its "
                                "connections speak RESP2, where no push handler is called")
        self.client = self.cluster = client
        self.ignore_subscribe_messages = ignore_subscribe_messages
        self.push_handler_func = None
        self.shard_hint = shard_hint
        kwargs = client.executor.pool.connection_kwargs
        if health_check_interval is None:
            health_check_interval = float(kwargs.get("health_check_interval") or 0)
        self.health_check_interval = health_check_interval
        self._encoding = str(kwargs.get("encoding", "utf-8"))
        self._decode = bool(kwargs.get("decode_responses", False))
        self._read_timeout = float(kwargs.get("socket_timeout") or DEFAULT_READ_TIMEOUT)
        self._lock = threading.RLock()
        self._channels: Dict[bytes, Subscription] = {}
        self._patterns: Dict[bytes, Subscription] = {}
        self._shard_channels: Dict[bytes, Subscription] = {}
        #: The tables by subscribing command, in KINDS order.
        self._tables = {"subscribe": self._channels, "psubscribe": self._patterns,
                        "ssubscribe": self._shard_channels}
        #: The classic link: OPEN, or the LOST one until replaced.
        self._classic: Optional[Link] = None
        self._home = ClassicHome()
        self._seen_topology: Optional[Topology] = None      # the layout last followed
        self._shards: Dict[NodeAddress, Link] = {}   # the OPEN sharded links by node
        self._restorer = Restorer()
        self._links_opened = 0
        self._messages: Deque[Tuple[NodeAddress, Message]] = deque()
        self._error: Optional[BaseException] = None
        self._wakeup = threading.Event()   # set by (s)subscribe and close: a reader waits on it
        self._closed = False
        #: Set while anything is subscribed (redis-py's ``subscribed_event``).
        self.subscribed_event = threading.Event()
        #: How many times subscriptions were restored (connection lost, MOVED, server unsubscribe).
        self.restores = 0
        self._home.fixed = cluster_node(self.client.executor.pool, node, host, port)

    # --- the node ------------------------------------------------------------------------------
    def set_pubsub_node(self, cluster: Any, node: Any = None, host: Optional[str] = None,
                        port: Optional[int] = None) -> None:
        """Fix (or, with nothing given, unfix) the classic link's node, as redis-py's method
        of that name; an open classic link elsewhere moves there (``cluster`` is ignored: it
        is this object's client)."""
        address = cluster_node(self.client.executor.pool, node, host, port)
        with self._lock:
            self._home.fixed = address
            link = self._classic
            if (address is not None and link is not None and link.state is LinkState.OPEN
                    and link.address != address):
                self._retire(link)

    def get_pubsub_node(self) -> Any:
        """The classic link's node (the fixed one, else the open link's), as the client's
        ClusterNode when it has ``get_node``; None before any classic link is open."""
        with self._lock:
            address = self._home.fixed
            link = self._classic
            if address is None and link is not None and link.state is LinkState.OPEN:
                address = link.address
        if address is None:
            return None
        get_node = getattr(self.client, "get_node", None)
        found = get_node(host=address.host, port=address.port) if get_node else None
        return found if found is not None else address

    @property
    def connection(self) -> Any:
        """The classic link's connection while it is open, else None (redis-py's attribute;
        read-only: the object owns it)."""
        link = self._classic
        return link.conn if link is not None and link.state is LinkState.OPEN else None

    # --- state -----------------------------------------------------------------------------------
    def _key(self, name: Any) -> bytes:
        return key_to_bytes(name, self._encoding)

    def _out(self, name: bytes) -> Any:
        return name.decode(self._encoding, "replace") if self._decode else name

    def _public(self, table: Dict[bytes, Subscription]) -> Dict[Any, Optional[Handler]]:
        return {self._out(name): sub.handler for name, sub in table.items()}

    @property
    def channels(self) -> Dict[Any, Optional[Handler]]:
        """Subscribed classic channels -> handler (str keys when decoding responses)."""
        return self._public(self._channels)

    @property
    def patterns(self) -> Dict[Any, Optional[Handler]]:
        """Subscribed patterns -> handler."""
        return self._public(self._patterns)

    @property
    def shard_channels(self) -> Dict[Any, Optional[Handler]]:
        """Subscribed sharded channels -> handler."""
        return self._public(self._shard_channels)

    def _pending(self, kind: str) -> Set[Any]:
        with self._lock:
            return {self._out(name) for name in pending_names(self._links(), kind)}

    @property
    def pending_unsubscribe_channels(self) -> Set[Any]:
        """Channels whose UNSUBSCRIBE is written, not yet acknowledged (gone from ``channels``)."""
        return self._pending("unsubscribe")

    @property
    def pending_unsubscribe_patterns(self) -> Set[Any]:
        """Patterns whose PUNSUBSCRIBE is not yet acknowledged."""
        return self._pending("punsubscribe")

    @property
    def pending_unsubscribe_shard_channels(self) -> Set[Any]:
        """Sharded channels whose SUNSUBSCRIBE is not yet acknowledged."""
        return self._pending("sunsubscribe")

    @property
    def subscribed(self) -> bool:
        """redis-py's: True from (s|p)subscribe until the last unsubscribe is acknowledged."""
        with self._lock:
            return bool(self._channels or self._patterns or self._shard_channels
                        or unsubscribing(self._links()))

    def _sync_subscribed(self) -> None:
        (self.subscribed_event.set if self.subscribed else self.subscribed_event.clear)()

    def snapshot(self) -> PubSubSnapshot:
        """The connections, waiting subscriptions and restoring progress, as a frozen,
        consistent value: what tests assert on and operators log when subscriptions misbehave."""
        with self._lock:
            return snapshot_of(list(self._tables.values()), self._classic, self._shards,
                               self._restorer, self.restores, self._closed, monotonic())

    def _check_open(self) -> None:
        if self._closed:
            raise PubSubError("this ClusterPubSub is closed")

    def _subscribe(self, kind: str, names: Dict[bytes, Optional[Handler]]) -> None:
        """Record the caller's subscriptions of ``kind`` (handlers replaced) and place them."""
        with self._lock:
            self._check_open()
            table = self._tables[kind]
            subs: List[Subscription] = []
            for name, handler in names.items():
                sub = table.get(name)
                if sub is None:
                    sub = table[name] = Subscription(kind, name, handler)
                else:
                    sub.handler = handler
                subs.append(sub)
            self._sync_subscribed()
            self._wakeup.set()
            self._place(subs, internal=False)

    def _drop(self, table: Dict[bytes, Subscription], names: Sequence[bytes]) -> List[Subscription]:
        """Forget the caller's subscriptions ``names``; returns those that existed."""
        dropped: List[Subscription] = []
        for name in names:
            sub = table.pop(name, None)
            if sub is not None:
                self._restorer.forget(sub)
                dropped.append(sub)
        self._sync_subscribed()
        return dropped

    # --- subscribing -----------------------------------------------------------------------------
    def subscribe(self, *args: Any, **kwargs: Handler) -> None:
        """SUBSCRIBE channels; ``name=handler`` keyword arguments (or redis-py's
        ``Subscription`` objects) attach handlers."""
        self._subscribe("subscribe", parse_names(args, kwargs, self._key))

    def psubscribe(self, *args: Any, **kwargs: Handler) -> None:
        """PSUBSCRIBE patterns; ``pattern=handler`` keyword arguments attach handlers."""
        self._subscribe("psubscribe", parse_names(args, kwargs, self._key))

    def unsubscribe(self, *args: Any) -> None:
        """UNSUBSCRIBE the channels given (all when none are)."""
        self._classic_drop("unsubscribe", self._channels, args)

    def punsubscribe(self, *args: Any) -> None:
        """PUNSUBSCRIBE the patterns given (all when none are)."""
        self._classic_drop("punsubscribe", self._patterns, args)

    def ssubscribe(self, *args: Any, **kwargs: Handler) -> None:
        """SSUBSCRIBE sharded channels, each on the primary that owns its slot."""
        self._subscribe("ssubscribe", parse_names(args, kwargs, self._key))

    def sunsubscribe(self, *args: Any) -> None:
        """SUNSUBSCRIBE the sharded channels given (all when none are)."""
        with self._lock:
            names = [self._key(a) for a in flat_names(args)] if args else list(self._shard_channels)
            by_link: Dict[Tuple[Link, int], List[bytes]] = {}
            for sub in self._drop(self._shard_channels, names):
                if sub.link is not None:
                    by_link.setdefault((sub.link, key_slot(sub.name)), []).append(sub.name)
            for (link, _slot), group in by_link.items():
                if link.state is LinkState.OPEN:
                    self._send(link, ("SUNSUBSCRIBE", *group),
                               Request("sunsubscribe", group, False))

    def _classic_drop(self, kind: str, table: Dict[bytes, Subscription], args: Sequence[Any]) -> None:
        with self._lock:
            names = [self._key(a) for a in flat_names(args)] if args else list(table)
            self._drop(table, names)
            link = self._classic
            if link is not None and link.state is LinkState.OPEN and names:
                self._send(link, (kind.upper(), *names), Request(kind, names, False))

    def ping(self, message: Any = None) -> None:
        """PING on the classic link (opened first when there is none); the answer arrives
        through ``get_message`` as ``{"type": "pong", ..., "data": message or b""}`` (never
        dropped by ``ignore_subscribe_messages``), as in redis-py."""
        with self._lock:
            self._check_open()
            link = self._classic_link()
            args = ("PING",) if message is None else ("PING", message)
            if not self._send(link, args, Request("ping", (), False)):
                raise ConnectionError(f"the connection to {link.address} failed while "
                                      "sending PING", node=link.address)
            self._wakeup.set()

    def _place(self, subs: Sequence[Subscription], internal: bool) -> None:
        """Place subscriptions where their kind lives: channels and patterns on the classic
        link, sharded channels on their slot owners' links (a restoring pass when
        ``internal``: its acknowledgements are not reported and its failures not raised)."""
        classic = [(kind, [s for s in subs if s.kind == kind]) for kind in _CLASSIC_KINDS]
        if any(group for _kind, group in classic):
            self._place_classic(classic, internal)
        sharded = [s for s in subs if s.kind == "ssubscribe"]
        if sharded:
            self._place_sharded(sharded, internal)

    def _place_classic(self, batches: Sequence[Tuple[str, List[Subscription]]], internal: bool,
                       ) -> None:
        """(P)SUBSCRIBE each batch on the classic link (opened first when there is none).

        When no link can be opened the subscriptions are parked and a pass is planned (and,
        for a caller's call, the error raised); a write that fails loses the link (parking it
        all) and stops here.
        """
        try:
            link = self._classic_link()
        except ClusterCoreError:
            for _kind, subs in batches:
                for sub in subs:
                    self._restorer.park(sub)
            self._plan_restore()
            if internal:
                return
            raise
        for kind, subs in batches:
            if not subs:
                continue
            for sub in subs:
                self._restorer.place(sub, link)
            names = [sub.name for sub in subs]
            if not self._send(link, (kind.upper(), *names), Request(kind, names, internal)):
                break

    def _place_sharded(self, subs: Sequence[Subscription], internal: bool) -> None:
        """SSUBSCRIBE ``subs`` on their slot owners, one call per slot; failures are parked."""
        by_slot: Dict[int, List[Subscription]] = {}
        for sub in subs:
            by_slot.setdefault(key_slot(sub.name), []).append(sub)
        first_error: Optional[ClusterCoreError] = None
        for slot, group in by_slot.items():
            hidden = internal and not any(sub.announce for sub in group)
            for sub in group:
                sub.announce = False
            try:
                address = self._owner(slot, group)
                link = self._shards.get(address) or self._open(address, sharded=True)
            except ClusterCoreError as exc:
                for sub in group:
                    self._restorer.park(sub)
                first_error = first_error or exc
                continue
            for sub in group:
                self._restorer.place(sub, link)
            names = [sub.name for sub in group]
            request = Request("ssubscribe", names, hidden)
            if not self._send(link, ("SSUBSCRIBE", *names), request):
                first_error = first_error or ClusterCoreError(
                    f"the connection to {address} failed while subscribing", node=address)
        if first_error is not None:
            self._plan_restore()
            if not internal:
                raise first_error

    def _owner(self, slot: int, group: Sequence[Subscription]) -> NodeAddress:
        """The slot's primary, or -- when that very node just unsubscribed these channels
        because it lost the slot and the map is not refreshed yet -- another node of the shard
        (the promoted replica, usually; any shard node delivers sharded messages)."""
        pool = self.client.executor.pool
        address = pool.address_for_slot(slot)
        dropped = {sub.avoid for sub in group}
        for sub in group:
            sub.avoid = None
        if address in dropped:
            shard = pool.topology.slots[slot]
            others = [r for r in (shard.replicas if shard is not None else ()) if r != address]
            if others:
                return others[0]
        return address

    # --- following the slot owners ---------------------------------------------------------------
    def _follow(self, topology: Topology) -> None:
        """A layout the pool published since the last look: move the classic link to its
        home and sharded channels whose node left their slot's shard to the slot's owner.

        Each move closes (or unsubscribes) the old subscription before making the new one:
        a message published in between is lost, none is delivered twice (at-most-once)."""
        self._seen_topology = topology
        if not topology.shards:
            return
        link = self._classic
        home = None if link is None or link.state is not LinkState.OPEN else \
            self._home.move_to(link.address, topology, self._channels, self._patterns)
        if link is not None and home is not None:
            _log.info("pub/sub: classic subscriptions move from %s to %s (slot owner)",
                      link.address, home)
            self._retire(link)
        moved = off_shard(self._shard_channels.values(), topology)
        for (owner, _slot), group in moved.items():
            names = [sub.name for sub in group]
            for sub in group:
                self._restorer.park(sub)
            self._send(owner, ("SUNSUBSCRIBE", *names), Request("sunsubscribe", names, True))
        if moved:
            self._place([sub for group in moved.values() for sub in group], internal=True)

    def _retire(self, link: Link) -> None:
        """Close a healthy classic link and place what it carried again (a move)."""
        link.state = LinkState.LOST
        link.conn.disconnect()
        parked = [sub for kind in _CLASSIC_KINDS for sub in self._tables[kind].values()
                  if sub.link is link]
        for sub in parked:
            self._restorer.park(sub)
        self._classic = None
        self.restores += 1
        self._place(parked, internal=True)

    def on_slots_changed(self) -> None:
        """Follow the pool's current layout now (redis-py's hook; reads do it by themselves)."""
        with self._lock:
            self._home.placed_by = None
            self._follow(self.client.executor.pool.topology)

    reinitialize_shard_subscriptions = on_slots_changed

    # --- connections -----------------------------------------------------------------------------
    def _open(self, address: NodeAddress, sharded: bool) -> Link:
        """Connect a new dedicated link to ``address`` (a sharded one is kept by node)."""
        conn = self.client.executor.pool.dedicated_connection(
            address, readonly=False, protocol=2, socket_timeout=self._read_timeout)
        conn.connect()
        self._links_opened += 1
        link = Link(address, conn, self._links_opened)
        if sharded:
            self._shards[address] = link
        return link

    def _classic_link(self) -> Link:
        """The open classic link, or a new one: to its home (the fixed node, or the anchor's
        slot owner) unless that node's link was just lost, else to a random node."""
        link = self._classic
        if link is not None and link.state is LinkState.OPEN:
            return link
        executor = self.client.executor
        topology = executor.pool.ensure_topology()
        target = self._home.target(topology, self._channels, self._patterns, executor.choose)
        try:
            link = self._open(target, sharded=False)
        except ClusterCoreError:
            if self._home.fixed is None:
                self._home.avoid = target
            raise
        self._classic, self._home.placed_by = link, topology
        return link

    def _send(self, link: Link, args: Tuple[Any, ...], request: Optional[Request]) -> bool:
        """Write one command on a link; a failure drops the link (its channels are restored)."""
        if request is not None:
            link.requests.append(request)
        try:
            link.conn.send_command(*args)
        except ClusterCoreError as exc:
            self._lost(link, exc)
            return False
        self._sync_subscribed()  # an unsubscribe is pending: still subscribed (redis-py)
        return True

    def _lost(self, link: Link, exc: BaseException, refresh: bool = True) -> None:
        """OPEN -> LOST: close the link, park what it carried and plan a restoring pass."""
        _log.info("pub/sub connection to %s lost (%s); restoring its subscriptions",
                  link.address, exc)
        link.state = LinkState.LOST
        link.conn.disconnect()
        address = link.address
        if self._shards.get(address) is link:
            del self._shards[address]
        elif link is self._classic and refresh:
            self._home.avoid = address
        for table in self._tables.values():
            for sub in table.values():
                if sub.link is link:
                    self._restorer.park(sub)
        if refresh:
            self.client.executor.pool.request_refresh("pubsub connection lost", avoid=address)
        self._plan_restore()
        self._sync_subscribed()

    def _plan_restore(self) -> None:
        self._restorer.plan(monotonic(), self.client.executor.backoff_delay)

    def _restore_due(self, now: float) -> Optional[float]:
        """Run a restoring pass when one is due; returns when the next one is due (or None)."""
        restorer = self._restorer
        if not restorer.waiting:
            return None
        if not restorer.due(now):
            return restorer.due_at
        self.restores += 1
        self._place(restorer.start(), internal=True)
        return restorer.due_at if restorer.waiting else None

    # --- reading ---------------------------------------------------------------------------------
    def get_message(self, ignore_subscribe_messages: bool = False,
                    timeout: Optional[float] = 0.0) -> Optional[Message]:
        """The next message within ``timeout`` seconds (None: wait until one comes), else None.

        Every kind is returned here, sharded ones included. A message whose channel has a
        handler is given to the handler and None is returned.
        """
        return self._next(ignore_subscribe_messages, timeout, False, None)

    def get_sharded_message(self, ignore_subscribe_messages: bool = False,
                            timeout: Optional[float] = 0.0, target_node: Any = None,
                            ) -> Optional[Message]:
        """The next sharded message (smessage, ssubscribe, sunsubscribe) within ``timeout``
        seconds -- from ``target_node``'s connection only, when given -- else None.

        Other messages read meanwhile stay queued for ``get_message``.
        """
        pool = self.client.executor.pool
        node = None if target_node is None else address_of(pool, target_node)
        return self._next(ignore_subscribe_messages, timeout, True, node)

    def _next(self, ignore_subscribe_messages: bool, timeout: Optional[float], sharded: bool,
              node: Optional[NodeAddress]) -> Optional[Message]:
        """get_message's loop: pop, else restore / follow / health-check, wait and read."""
        ignore = ignore_subscribe_messages or self.ignore_subscribe_messages
        deadline = None if timeout is None else monotonic() + max(timeout, 0.0)
        pool = self.client.executor.pool
        progressed = True  # one pass always runs, even with timeout=0
        for _spin in range(_MAX_SPINS):
            with self._lock:
                if self._error is not None:
                    error, self._error = self._error, None
                    raise error
                message = pop_message(self._messages, ignore, sharded, node)
                if message is None:
                    topology = pool.topology
                    if topology is not self._seen_topology:
                        self._follow(topology)
                    now = monotonic()
                    restore_at = self._restore_due(now)
                    self._check_health(self._links(), now)
                    links = self._links()
            if message is not None:
                return self.dispatch(message)
            now = monotonic()
            past = deadline is not None and now >= deadline
            if past and not progressed:
                return None
            wait = 0.0 if past else (1.0 if deadline is None else deadline - now)
            if restore_at is not None:
                wait = min(wait, max(0.0, restore_at - now))
            if self.health_check_interval:
                wait = min(wait, self.health_check_interval)
            progressed = False
            if links:
                ready = wait_readable([link.conn for link in links], wait)
                if ready:
                    progressed = True
                    with self._lock:
                        for link in links:
                            if link.conn in ready and link.state is LinkState.OPEN:
                                self._read_one(link)
            elif wait > 0:
                self._wakeup.wait(wait)
                self._wakeup.clear()
            if deadline is None:
                progressed = True
        return None

    def _links(self) -> List[Link]:
        """The OPEN links: the sharded ones, then the classic one."""
        links = list(self._shards.values())
        classic = self._classic
        if classic is not None and classic.state is LinkState.OPEN:
            links.append(classic)
        return links

    def check_health(self) -> None:
        """Run the health check now (PING idle links, drop silent ones); a no-op without
        ``health_check_interval``. Reads do this by themselves."""
        with self._lock:
            self._check_health(self._links(), monotonic())

    def clean_health_check_responses(self) -> None:
        """redis-py's method; nothing to do here: health-check answers never reach callers."""

    def _check_health(self, links: Sequence[Link], now: float) -> None:
        interval = self.health_check_interval
        if not interval:
            return
        for link in links:
            if link.ping_sent is not None:
                if now - link.ping_sent > interval:
                    self._lost(link, ClusterCoreError(
                        f"no PING reply from {link.address} within {interval}s",
                        node=link.address))
            elif now - link.last_read > interval:
                link.ping_sent = now
                self._send(link, ("PING",), Request("ping", (), True))

    def _read_one(self, link: Link) -> None:
        try:
            reply = link.conn.read_reply()
        except ClusterCoreError as exc:
            self._lost(link, exc)
            return
        link.last_read = monotonic()
        link.ping_sent = None
        self._handle(link, reply)
        self._sync_subscribed()

    def _handle(self, link: Link, reply: Any) -> None:
        if isinstance(reply, ResponseError):
            self._refused(link, reply)
            return
        request = link.requests[0] if link.requests else None
        if request is not None and request.kind == "ping" and is_pong(reply):
            link.requests.popleft()
            if not request.internal:
                self._messages.append((link.address, pong_of(reply)))
            return
        message = message_of(reply)
        if message is None or message["type"] == "pong":
            return  # a +PONG nothing waits for
        kind = message["type"]
        if kind not in ACK_KINDS:
            self._messages.append((link.address, message))
            return
        name = self._key(reply[1]) if reply[1] is not None else b""
        if request is not None and request.kind == kind and name in request.names:
            request.names.remove(name)
            if not request.names:
                link.requests.popleft()
            if request.internal:
                self._restorer.succeeded()
                return
        elif kind == "sunsubscribe" and name in self._shard_channels:
            # The server dropped it (this node lost the slot): subscribe again on the owner.
            sub = self._shard_channels[name]
            if sub.link is not None and sub.link is not link:
                return  # a late notice: it is subscribed on its new owner already
            self._restorer.park(sub, avoid=link.address)
            _log.info("sharded channel %r was unsubscribed by %s; subscribing again", name,
                      link.address)
            self.client.executor.pool.request_refresh("sharded channel moved")
            self._plan_restore()
            return
        self._messages.append((link.address, message))

    def _refused(self, link: Link, error: ResponseError) -> None:
        """An error reply answers the oldest unacknowledged (un)subscribe on that link."""
        request = link.requests.popleft() if link.requests else None
        if request is None:
            self._error = error
            return
        if request.kind == "ssubscribe" and (
                isinstance(error, AskError) or error.code in _RETRY_CODES):
            if isinstance(error, MovedError):
                # the slot the server named (a mis-hashed name must not move another slot)
                self.client.executor.pool.on_moved(error.slot_id, error.target)
            for name in request.names:
                sub = self._shard_channels.get(name)
                if sub is not None:
                    self._restorer.park(sub, announce=not request.internal)
            self._plan_restore()
            return
        table = self._tables.get(request.kind)
        if table is not None:
            self._drop(table, request.names)
        self._error = error

    def dispatch(self, message: Message) -> Optional[Message]:
        """Give a message to its handler (then return None) or return it."""
        kind = message["type"]
        sub: Optional[Subscription] = None
        if kind == "message":
            sub = self._channels.get(self._key(message["channel"]))
        elif kind == "pmessage":
            sub = self._patterns.get(self._key(message["pattern"]))
        elif kind == "smessage":
            sub = self._shard_channels.get(self._key(message["channel"]))
        if sub is not None and sub.handler is not None:
            sub.handler(message)
            return None
        return message

    def listen(self) -> Iterator[Message]:
        """Yield messages as they come, while anything is subscribed."""
        while self.subscribed or self._messages:
            message = self.get_message(timeout=1.0)
            if message is not None:
                yield message

    # --- lifecycle -------------------------------------------------------------------------------
    def disconnect(self) -> None:
        """Close every connection and keep the subscriptions: the next read subscribes them
        again (redis-py's method; a way to move them after a manual layout change)."""
        with self._lock:
            for link in self._links():
                self._lost(link, ConnectionError("disconnect() was called"), refresh=False)

    def reset(self) -> None:
        """Close every connection and forget every subscription; the object stays usable."""
        self._shutdown(final=False)

    def close(self) -> None:
        """Close every connection, forget every subscription; later subscribes raise PubSubError."""
        self._shutdown(final=True)

    def _shutdown(self, final: bool) -> None:
        with self._lock:
            self._closed = self._closed or final
            links = self._links()
            for link in links:
                link.state = LinkState.CLOSED
            self._classic = None
            self._shards = {}
            for table in self._tables.values():
                table.clear()
            self._restorer = Restorer()
            self._messages.clear()
            self._home.anchor = self._home.avoid = None   # a fixed node stays fixed
            self._sync_subscribed()
        for link in links:
            link.conn.disconnect()
        self._wakeup.set()  # wake a reader waiting for a first subscription

    def __enter__(self) -> ClusterPubSub:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<ClusterPubSub channels={len(self._channels)} patterns={len(self._patterns)} "
                f"shard_channels={len(self._shard_channels)} links={len(self._links())}>")

