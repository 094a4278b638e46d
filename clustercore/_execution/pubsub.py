"""ClusterPubSub: classic and sharded subscriptions over dedicated connections, self-healing.

Classic channels and patterns (SUBSCRIBE / PSUBSCRIBE) live on one connection to one node:
Redis Cluster broadcasts every PUBLISH to all nodes, so any node will do. Sharded channels
(SSUBSCRIBE) live on one connection per slot owner, one SSUBSCRIBE per slot (the server refuses
several slots in one call). The connections are made for this object (``make_connection``, not
checked out of the pool), always speak RESP2, and are closed by ``close()``.

Subscriptions are restored without the caller doing anything: when a connection breaks (node
killed, restarted, network cut), when SSUBSCRIBE is answered by -MOVED (the slot has another
owner), and when the server itself unsubscribes a sharded channel (a node that loses a slot --
failover, resharding -- sends ``sunsubscribe`` to that slot's subscribers), the channels are
subscribed again on the current owner, retried with backoff until they succeed. Those restoring
subscriptions are not reported as messages. Messages published while a channel was not
subscribed anywhere (between the break and the new subscription's acknowledgement) are lost:
pub/sub is at-most-once (see docs/pipelines.md).

Restoring reads as transitions of the state machine in ``pubsub_state.py``: a link that
breaks goes OPEN -> LOST and parks (PLACED -> WAITING) what it carried; the restorer goes
PLANNED; when the pass is due, ``_place`` puts every waiting subscription where its kind lives
(channels and patterns on the classic link, sharded channels on their slot owners' links), the
same function the caller's (s|p)subscribe uses; what fails is parked again and the next pass
planned with backoff. ``snapshot()`` returns that state as a frozen value (tests, operators).

Every wait has a timeout: ``get_message`` waits on all its connections at once (the
transport's ``wait_readable``: one poll over the sockets, or a condition variable in the
in-process fake network) for at most ``timeout`` seconds and then reads one reply with the
socket timeout. With ``health_check_interval`` set, an idle connection is PINGed and dropped
(then restored) when no answer arrives within the next interval, so a hung node is noticed too.
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
    Tuple,
)

from .._address import NodeAddress
from .._net.connection import wait_readable
from .._slots import key_slot, key_to_bytes
from ..errors import (
    AskError,
    ClusterCoreError,
    DataError,
    MovedError,
    PubSubError,
    ResponseError,
)
from .pubsub_state import (
    KINDS,
    Handler,
    Link,
    LinkState,
    PubSubLinkInfo,
    PubSubSnapshot,
    Request,
    Restorer,
    Subscription,
    snapshot_of,
)

if TYPE_CHECKING:
    from .client import RedisCluster

__all__ = ["ClusterPubSub", "PubSubError", "PubSubLinkInfo", "PubSubSnapshot",
           "PubSubWorkerThread"]

_log = logging.getLogger("clustercore.pubsub")

Message = Dict[str, Any]

#: Socket timeout of pub/sub connections when the client sets none (a reply half-read).
DEFAULT_READ_TIMEOUT = 10.0
#: Passes of one get_message call past its deadline while replies keep arriving (a bound).
_MAX_SPINS = 100_000
_KINDS = ("message", "pmessage", "smessage", "subscribe", "unsubscribe", "psubscribe",
          "punsubscribe", "ssubscribe", "sunsubscribe", "pong")
_KIND_OF: Dict[Any, str] = {**{k: k for k in _KINDS}, **{k.encode(): k for k in _KINDS}}
_RETRY_CODES = frozenset({"TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "LOADING"})
_ACK_KINDS = frozenset({"subscribe", "unsubscribe", "psubscribe", "punsubscribe",
                        "ssubscribe", "sunsubscribe"})
#: The subscribing commands placed on the classic link, in the order a pass sends them.
_CLASSIC_KINDS = KINDS[:2]


class ClusterPubSub:
    """Pub/sub for a cluster (redis-py's PubSub API plus SSUBSCRIBE); see the module docstring."""

    def __init__(self, client: RedisCluster, ignore_subscribe_messages: bool = False,
                 health_check_interval: Optional[float] = None) -> None:
        self.client = client
        self.ignore_subscribe_messages = ignore_subscribe_messages
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
        #: The classic link: OPEN, or the LOST one until replaced (a new one avoids its node).
        self._classic: Optional[Link] = None
        self._shards: Dict[NodeAddress, Link] = {}   # the OPEN sharded links by node
        self._restorer = Restorer()
        self._links_opened = 0
        self._messages: Deque[Message] = deque()
        self._error: Optional[BaseException] = None
        self._wakeup = threading.Event()   # set by (s)subscribe and close: a reader waits on it
        self._closed = False
        #: How many times subscriptions were restored (connection lost, MOVED, server unsubscribe).
        self.restores = 0

    # --- state -----------------------------------------------------------------------------------
    def _key(self, name: Any) -> bytes:
        return key_to_bytes(name, self._encoding)

    def _public(self, table: Dict[bytes, Subscription]) -> Dict[Any, Optional[Handler]]:
        if not self._decode:
            return {name: sub.handler for name, sub in table.items()}
        return {k.decode(self._encoding, "replace"): sub.handler for k, sub in table.items()}

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

    @property
    def subscribed(self) -> bool:
        """Whether anything is subscribed (restoring subscriptions count)."""
        return bool(self._channels or self._patterns or self._shard_channels)

    def snapshot(self) -> PubSubSnapshot:
        """The connections, waiting subscriptions and restoring progress, as a frozen value.

        Read-only and consistent (taken under the lock): what tests assert on and what an
        operator logs (``logger.info("pub/sub: %s", ps.snapshot())``) when subscriptions
        misbehave.
        """
        with self._lock:
            return snapshot_of(list(self._tables.values()), self._classic, self._shards,
                               self._restorer, self.restores, self._closed, monotonic())

    def _names(self, args: Sequence[Any], kwargs: Dict[str, Handler],
               ) -> Dict[bytes, Optional[Handler]]:
        names: Dict[bytes, Optional[Handler]] = {}
        for arg in args:
            if isinstance(arg, (list, tuple, set)):
                names.update((self._key(a), None) for a in arg)
            else:
                names[self._key(arg)] = None
        names.update((self._key(k), v) for k, v in kwargs.items())
        if not names:
            raise DataError("give at least one channel or pattern")
        return names

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
        return dropped

    # --- subscribing -----------------------------------------------------------------------------
    def subscribe(self, *args: Any, **kwargs: Handler) -> None:
        """SUBSCRIBE channels; ``name=handler`` keyword arguments attach handlers."""
        self._subscribe("subscribe", self._names(args, kwargs))

    def psubscribe(self, *args: Any, **kwargs: Handler) -> None:
        """PSUBSCRIBE patterns; ``pattern=handler`` keyword arguments attach handlers."""
        self._subscribe("psubscribe", self._names(args, kwargs))

    def unsubscribe(self, *args: Any) -> None:
        """UNSUBSCRIBE the channels given (all when none are)."""
        self._classic_drop("unsubscribe", self._channels, args)

    def punsubscribe(self, *args: Any) -> None:
        """PUNSUBSCRIBE the patterns given (all when none are)."""
        self._classic_drop("punsubscribe", self._patterns, args)

    def ssubscribe(self, *args: Any, **kwargs: Handler) -> None:
        """SSUBSCRIBE sharded channels, each on the primary that owns its slot."""
        self._subscribe("ssubscribe", self._names(args, kwargs))

    def sunsubscribe(self, *args: Any) -> None:
        """SUNSUBSCRIBE the sharded channels given (all when none are)."""
        with self._lock:
            names = [self._key(a) for a in args] if args else list(self._shard_channels)
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
            names = [self._key(a) for a in args] if args else list(table)
            self._drop(table, names)
            link = self._classic
            if link is not None and link.state is LinkState.OPEN and names:
                self._send(link, (kind.upper(), *names), Request(kind, names, False))

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

    # --- connections -----------------------------------------------------------------------------
    def _open(self, address: NodeAddress, sharded: bool) -> Link:
        """Connect a new dedicated link to ``address`` (a sharded one is kept by node)."""
        conn = self.client.executor.pool.make_connection(
            address, readonly=False, protocol=2, socket_timeout=self._read_timeout)
        conn.connect()
        self._links_opened += 1
        link = Link(address, conn, self._links_opened)
        if sharded:
            self._shards[address] = link
        return link

    def _classic_link(self) -> Link:
        """The open classic link, or a new one to a random node (not the one last lost)."""
        link = self._classic
        if link is not None and link.state is LinkState.OPEN:
            return link
        executor = self.client.executor
        nodes = list(executor.pool.ensure_topology().nodes)
        if link is not None and len(nodes) > 1 and link.address in nodes:
            nodes.remove(link.address)
        self._classic = link = self._open(executor.choose(nodes), sharded=False)
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
        return True

    def _lost(self, link: Link, exc: BaseException) -> None:
        """OPEN -> LOST: close the link, park what it carried and plan a restoring pass."""
        _log.info("pub/sub connection to %s lost (%s); restoring its subscriptions",
                  link.address, exc)
        link.state = LinkState.LOST
        link.conn.disconnect()
        address = link.address
        if self._shards.get(address) is link:
            del self._shards[address]
        for table in self._tables.values():
            for sub in table.values():
                if sub.link is link:
                    self._restorer.park(sub)
        self.client.executor.pool.request_refresh("pubsub connection lost", avoid=address)
        self._plan_restore()

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

        A message whose channel has a handler is given to the handler and None is returned.
        """
        ignore = ignore_subscribe_messages or self.ignore_subscribe_messages
        deadline = None if timeout is None else monotonic() + max(timeout, 0.0)
        progressed = True  # one pass always runs, even with timeout=0
        for _spin in range(_MAX_SPINS):
            with self._lock:
                if self._error is not None:
                    error, self._error = self._error, None
                    raise error
                message = self._pop(ignore)
                if message is None:
                    now = monotonic()
                    restore_at = self._restore_due(now)
                    self._check_health(self._links(), now)
                    links = self._links()
            if message is not None:
                return self._dispatch(message)
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
                self._send(link, ("PING",), None)

    def _read_one(self, link: Link) -> None:
        try:
            reply = link.conn.read_reply()
        except ClusterCoreError as exc:
            self._lost(link, exc)
            return
        link.last_read = monotonic()
        link.ping_sent = None
        self._handle(link, reply)

    def _handle(self, link: Link, reply: Any) -> None:
        if isinstance(reply, ResponseError):
            self._refused(link, reply)
            return
        if not isinstance(reply, list) or not reply:
            return  # +PONG of a health check before any subscription
        kind = _KIND_OF.get(reply[0])
        if kind is None or kind == "pong":
            return
        if kind == "pmessage":
            self._messages.append({"type": kind, "pattern": reply[1], "channel": reply[2],
                                   "data": reply[3]})
            return
        if kind not in _ACK_KINDS:
            self._messages.append({"type": kind, "pattern": None, "channel": reply[1],
                                   "data": reply[2]})
            return
        name = self._key(reply[1]) if reply[1] is not None else b""
        request = link.requests[0] if link.requests else None
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
        self._messages.append({"type": kind, "pattern": None, "channel": reply[1],
                               "data": reply[2]})

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

    def _pop(self, ignore: bool) -> Optional[Message]:
        messages = self._messages
        while messages:
            message = messages.popleft()
            if ignore and message["type"] in _ACK_KINDS:
                continue
            return message
        return None

    def _dispatch(self, message: Message) -> Optional[Message]:
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

    def run_in_thread(self, sleep_time: float = 0.0, daemon: bool = False,
                      exception_handler: Optional[Callable[..., Any]] = None,
                      ) -> PubSubWorkerThread:
        """Read in a thread that calls each channel's handler; ``thread.stop()`` ends it."""
        with self._lock:
            for table in self._tables.values():
                for name, sub in table.items():
                    if sub.handler is None:
                        raise PubSubError(f"channel {name!r} has no handler registered")
        thread = PubSubWorkerThread(self, sleep_time, daemon=daemon,
                                    exception_handler=exception_handler)
        thread.start()
        return thread

    # --- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        """Close every connection and forget every subscription."""
        with self._lock:
            self._closed = True
            links = self._links()
            for link in links:
                link.state = LinkState.CLOSED
            self._classic = None
            self._shards = {}
            for table in self._tables.values():
                table.clear()
            self._restorer.waiting.clear()
            self._messages.clear()
        for link in links:
            link.conn.disconnect()
        self._wakeup.set()  # wake a reader waiting for a first subscription

    reset = close

    def __enter__(self) -> ClusterPubSub:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<ClusterPubSub channels={len(self._channels)} patterns={len(self._patterns)} "
                f"shard_channels={len(self._shard_channels)} links={len(self._links())}>")


class PubSubWorkerThread(threading.Thread):
    """Calls ``get_message`` in a loop until ``stop()`` (which also joins the thread)."""

    def __init__(self, pubsub: ClusterPubSub, sleep_time: float, daemon: bool = False,
                 exception_handler: Optional[Callable[..., Any]] = None) -> None:
        super().__init__(name="clustercore-pubsub", daemon=daemon)
        self.pubsub = pubsub
        #: The longest one read waits; stop() takes effect within it (0: a 0.1 s default).
        self.sleep_time = sleep_time if sleep_time > 0 else 0.1
        self.exception_handler = exception_handler
        self._stopping = threading.Event()

    def run(self) -> None:
        """Read and dispatch until stopped; then close the pub/sub object (redis-py does)."""
        pubsub = self.pubsub
        try:
            while not self._stopping.is_set():
                try:
                    pubsub.get_message(ignore_subscribe_messages=True, timeout=self.sleep_time)
                except BaseException as exc:
                    if self.exception_handler is None:
                        raise
                    self.exception_handler(exc, pubsub, self)
        finally:
            pubsub.close()

    def stop(self, timeout: Optional[float] = 10.0) -> None:
        """Ask the loop to end and wait for the thread (at most ``timeout`` seconds)."""
        self._stopping.set()
        if self is not threading.current_thread() and self.is_alive():
            self.join(timeout)

