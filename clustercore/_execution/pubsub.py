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
    Set,
    Tuple,
)

from .._address import NodeAddress
from .._net.connection import ClusterConnection, wait_readable
from .._slots import key_slot, key_to_bytes
from ..errors import (
    AskError,
    ClusterCoreError,
    DataError,
    MovedError,
    RedisClusterException,
    ResponseError,
)

if TYPE_CHECKING:
    from .client import RedisCluster

__all__ = ["ClusterPubSub", "PubSubError", "PubSubWorkerThread"]

_log = logging.getLogger("clustercore.pubsub")

Handler = Callable[[Dict[str, Any]], Any]
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


class PubSubError(RedisClusterException):
    """A pub/sub call was used wrongly (no handler for run_in_thread, closed object ...)."""


class _Request:
    """A (un)subscribe call whose acknowledgements (one per name) have not all arrived."""

    __slots__ = ("internal", "kind", "names")

    def __init__(self, kind: str, names: Sequence[bytes], internal: bool) -> None:
        self.kind = kind
        self.names = list(names)
        self.internal = internal   # a restoring call: its acks are not reported


class _Link:
    """One dedicated connection: the classic one, or one node's sharded subscriptions."""

    __slots__ = ("address", "conn", "last_read", "ping_sent", "requests", "sharded")

    def __init__(self, address: NodeAddress, conn: ClusterConnection, sharded: bool) -> None:
        self.address = address
        self.conn = conn
        self.sharded = sharded
        self.requests: Deque[_Request] = deque()
        self.last_read = monotonic()
        self.ping_sent: Optional[float] = None


class ClusterPubSub:
    """Pub/sub for a cluster (redis-py's PubSub API plus SSUBSCRIBE); see the module docstring."""

    def __init__(self, client: RedisCluster, ignore_subscribe_messages: bool = False,
                 health_check_interval: Optional[float] = None) -> None:
        self.client = client
        self.ignore_subscribe_messages = ignore_subscribe_messages
        pool = client.connection_pool
        kwargs = pool.connection_kwargs
        if health_check_interval is None:
            health_check_interval = float(kwargs.get("health_check_interval") or 0)
        self.health_check_interval = health_check_interval
        self._encoding = str(kwargs.get("encoding", "utf-8"))
        self._decode = bool(kwargs.get("decode_responses", False))
        self._read_timeout = float(kwargs.get("socket_timeout") or DEFAULT_READ_TIMEOUT)
        self._lock = threading.RLock()
        self._channels: Dict[bytes, Optional[Handler]] = {}
        self._patterns: Dict[bytes, Optional[Handler]] = {}
        self._shard_channels: Dict[bytes, Optional[Handler]] = {}
        self._classic: Optional[_Link] = None
        self._classic_lost = False
        self._avoid: Optional[NodeAddress] = None
        self._shards: Dict[NodeAddress, _Link] = {}
        self._home: Dict[bytes, NodeAddress] = {}
        self._orphans: Set[bytes] = set()
        self._announce: Set[bytes] = set()  # refused user subscriptions: report their acks
        self._dropped_by: Dict[bytes, NodeAddress] = {}  # node that unsubscribed a channel
        self._restore_at = 0.0
        self._restore_attempts = 0
        self._restore_planned = False
        self._messages: Deque[Message] = deque()
        self._error: Optional[BaseException] = None
        self._wakeup = threading.Event()   # set by (s)subscribe and close: a reader waits on it
        self._closed = False
        #: How many times subscriptions were restored (connection lost, MOVED, server unsubscribe).
        self.restores = 0

    # --- state -----------------------------------------------------------------------------------
    def _key(self, name: Any) -> bytes:
        return key_to_bytes(name, self._encoding)

    def _public(self, data: Dict[bytes, Optional[Handler]]) -> Dict[Any, Optional[Handler]]:
        if not self._decode:
            return dict(data)
        return {k.decode(self._encoding, "replace"): v for k, v in data.items()}

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

    # --- subscribing -----------------------------------------------------------------------------
    def subscribe(self, *args: Any, **kwargs: Handler) -> None:
        """SUBSCRIBE channels; ``name=handler`` keyword arguments attach handlers."""
        self._classic_call("subscribe", self._channels, self._names(args, kwargs))

    def psubscribe(self, *args: Any, **kwargs: Handler) -> None:
        """PSUBSCRIBE patterns; ``pattern=handler`` keyword arguments attach handlers."""
        self._classic_call("psubscribe", self._patterns, self._names(args, kwargs))

    def unsubscribe(self, *args: Any) -> None:
        """UNSUBSCRIBE the channels given (all when none are)."""
        self._classic_drop("unsubscribe", self._channels, args)

    def punsubscribe(self, *args: Any) -> None:
        """PUNSUBSCRIBE the patterns given (all when none are)."""
        self._classic_drop("punsubscribe", self._patterns, args)

    def ssubscribe(self, *args: Any, **kwargs: Handler) -> None:
        """SSUBSCRIBE sharded channels, each on the primary that owns its slot."""
        names = self._names(args, kwargs)
        with self._lock:
            self._check_open()
            self._shard_channels.update(names)
            self._wakeup.set()
            self._subscribe_shards(list(names), internal=False)

    def sunsubscribe(self, *args: Any) -> None:
        """SUNSUBSCRIBE the sharded channels given (all when none are)."""
        with self._lock:
            names = [self._key(a) for a in args] if args else list(self._shard_channels)
            by_link: Dict[Tuple[NodeAddress, int], List[bytes]] = {}
            for name in names:
                self._shard_channels.pop(name, None)
                self._orphans.discard(name)
                home = self._home.pop(name, None)
                if home is not None:
                    by_link.setdefault((home, key_slot(name)), []).append(name)
            for (address, _slot), group in by_link.items():
                link = self._shards.get(address)
                if link is not None:
                    self._send(link, ("SUNSUBSCRIBE", *group),
                               _Request("sunsubscribe", group, False))

    def _classic_call(self, kind: str, table: Dict[bytes, Optional[Handler]],
                      names: Dict[bytes, Optional[Handler]]) -> None:
        with self._lock:
            self._check_open()
            table.update(names)
            self._wakeup.set()
            link = self._classic
            if link is None:
                try:
                    link = self._open_classic()
                except ClusterCoreError:
                    self._classic_lost = True
                    self._schedule_restore()
                    raise
            self._send(link, (kind.upper(), *names), _Request(kind, list(names), False))

    def _classic_drop(self, kind: str, table: Dict[bytes, Optional[Handler]],
                      args: Sequence[Any]) -> None:
        with self._lock:
            names = [self._key(a) for a in args] if args else list(table)
            for name in names:
                table.pop(name, None)
            link = self._classic
            if link is not None and names:
                self._send(link, (kind.upper(), *names), _Request(kind, names, False))

    def _subscribe_shards(self, names: Sequence[bytes], internal: bool) -> None:
        """SSUBSCRIBE ``names`` on their slot owners, one call per slot; failures are retried."""
        by_slot: Dict[int, List[bytes]] = {}
        for name in names:
            by_slot.setdefault(key_slot(name), []).append(name)
        first_error: Optional[ClusterCoreError] = None
        for slot, group in by_slot.items():
            hidden = internal and not self._announce.intersection(group)
            self._announce.difference_update(group)
            try:
                address = self._owner(slot, group)
                link = self._shards.get(address) or self._open_shard(address)
            except ClusterCoreError as exc:
                self._orphans.update(group)
                first_error = first_error or exc
                continue
            for name in group:
                self._home[name] = address
            if not self._send(link, ("SSUBSCRIBE", *group), _Request("ssubscribe", group,
                                                                     hidden)):
                first_error = first_error or ClusterCoreError(
                    f"the connection to {address} failed while subscribing", node=address)
        if first_error is not None:
            self._schedule_restore()
            if not internal:
                raise first_error

    def _owner(self, slot: int, names: Sequence[bytes]) -> NodeAddress:
        """The slot's primary, or -- when that very node just unsubscribed these channels
        because it lost the slot and the map is not refreshed yet -- another node of the shard
        (the promoted replica, usually; any shard node delivers sharded messages)."""
        pool = self.client.connection_pool
        address = pool.address_for_slot(slot)
        dropped = {self._dropped_by.pop(name, None) for name in names}
        if address in dropped:
            shard = pool.topology.slots[slot]
            others = [r for r in (shard.replicas if shard is not None else ()) if r != address]
            if others:
                return others[0]
        return address

    # --- connections -----------------------------------------------------------------------------
    def _connect(self, address: NodeAddress) -> ClusterConnection:
        conn = self.client.connection_pool.make_connection(
            address, readonly=False, protocol=2, socket_timeout=self._read_timeout)
        conn.connect()
        return conn

    def _open_classic(self) -> _Link:
        executor = self.client.executor
        nodes = list(executor.pool.ensure_topology().nodes)
        if self._avoid is not None and len(nodes) > 1 and self._avoid in nodes:
            nodes.remove(self._avoid)
        address = executor.choose(nodes)
        link = _Link(address, self._connect(address), sharded=False)
        self._classic = link
        return link

    def _open_shard(self, address: NodeAddress) -> _Link:
        link = _Link(address, self._connect(address), sharded=True)
        self._shards[address] = link
        return link

    def _send(self, link: _Link, args: Tuple[Any, ...], request: Optional[_Request]) -> bool:
        """Write one command on a link; a failure drops the link (its channels are restored)."""
        if request is not None:
            link.requests.append(request)
        try:
            link.conn.send_command(*args)
        except ClusterCoreError as exc:
            self._lost(link, exc)
            return False
        return True

    def _lost(self, link: _Link, exc: BaseException) -> None:
        """A link broke: close it and put its subscriptions up for restoring."""
        _log.info("pub/sub connection to %s lost (%s); restoring its subscriptions",
                  link.address, exc)
        link.conn.disconnect()
        address = link.address
        if link.sharded:
            if self._shards.get(address) is link:
                del self._shards[address]
            for name, home in list(self._home.items()):
                if home == address:
                    del self._home[name]
                    if name in self._shard_channels:
                        self._orphans.add(name)
        else:
            if self._classic is link:
                self._classic = None
            self._classic_lost = bool(self._channels or self._patterns)
            self._avoid = address
        self.client.connection_pool.request_refresh("pubsub connection lost", avoid=address)
        self._schedule_restore()

    def _schedule_restore(self) -> None:
        """Plan the next restoring pass: at once the first time, then with backoff."""
        attempts = self._restore_attempts
        delay = self.client.executor.backoff_delay(attempts - 1) if attempts else 0.0
        at = monotonic() + delay
        if self._restore_planned and self._restore_at <= at:
            return  # an earlier pass is already planned
        self._restore_at = at
        self._restore_attempts = attempts + 1
        self._restore_planned = True

    def _restore_due(self, now: float) -> Optional[float]:
        """Restore lost subscriptions when due; returns when the next attempt is due (or None)."""
        if not (self._orphans or self._classic_lost):
            return None
        if now < self._restore_at:
            return self._restore_at
        self._restore_planned = False
        self.restores += 1
        if self._classic_lost:
            self._classic_lost = False
            try:
                link = self._classic or self._open_classic()
            except ClusterCoreError:
                self._classic_lost = True
                self._schedule_restore()
            else:
                for kind, table in (("subscribe", self._channels),
                                    ("psubscribe", self._patterns)):
                    names = list(table)
                    if names and not self._send(link, (kind.upper(), *names),
                                                _Request(kind, names, True)):
                        break
        orphans = [n for n in self._orphans if n in self._shard_channels]
        self._orphans.clear()
        if orphans:
            self._subscribe_shards(orphans, internal=True)
        return self._restore_at if (self._orphans or self._classic_lost) else None

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
                            if link.conn in ready and self._is_current(link):
                                self._read_one(link)
            elif wait > 0:
                self._wakeup.wait(wait)
                self._wakeup.clear()
            if deadline is None:
                progressed = True
        return None

    def _links(self) -> List[_Link]:
        links = list(self._shards.values())
        if self._classic is not None:
            links.append(self._classic)
        return links

    def _is_current(self, link: _Link) -> bool:
        return link is self._classic or self._shards.get(link.address) is link

    def _check_health(self, links: Sequence[_Link], now: float) -> None:
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

    def _read_one(self, link: _Link) -> None:
        try:
            reply = link.conn.read_reply()
        except ClusterCoreError as exc:
            self._lost(link, exc)
            return
        link.last_read = monotonic()
        link.ping_sent = None
        self._handle(link, reply)

    def _handle(self, link: _Link, reply: Any) -> None:
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
                self._restore_attempts = 0
                return
        elif kind == "sunsubscribe" and name in self._shard_channels:
            # The server dropped it (this node lost the slot): subscribe again on the owner.
            home = self._home.get(name)
            if home is not None and home != link.address:
                return  # a late notice: it is subscribed on its new owner already
            self._home.pop(name, None)
            self._orphans.add(name)
            self._dropped_by[name] = link.address
            _log.info("sharded channel %r was unsubscribed by %s; subscribing again", name,
                      link.address)
            self.client.connection_pool.request_refresh("sharded channel moved")
            self._schedule_restore()
            return
        self._messages.append({"type": kind, "pattern": None, "channel": reply[1],
                               "data": reply[2]})

    def _refused(self, link: _Link, error: ResponseError) -> None:
        """An error reply answers the oldest unacknowledged (un)subscribe on that link."""
        request = link.requests.popleft() if link.requests else None
        if request is None:
            self._error = error
            return
        if request.kind == "ssubscribe" and (
                isinstance(error, AskError) or error.code in _RETRY_CODES):
            if isinstance(error, MovedError):
                self.client.connection_pool.on_moved(key_slot(request.names[0]), error.target)
            for name in request.names:
                if self._home.get(name) == link.address:
                    del self._home[name]
                if name in self._shard_channels:
                    self._orphans.add(name)
                    if not request.internal:
                        self._announce.add(name)
            self._schedule_restore()
            return
        table = {"subscribe": self._channels, "psubscribe": self._patterns,
                 "ssubscribe": self._shard_channels}.get(request.kind)
        if table is not None:
            for name in request.names:
                table.pop(name, None)
                self._home.pop(name, None)
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
        handler: Optional[Handler] = None
        if kind == "message":
            handler = self._channels.get(self._key(message["channel"]))
        elif kind == "pmessage":
            handler = self._patterns.get(self._key(message["pattern"]))
        elif kind == "smessage":
            handler = self._shard_channels.get(self._key(message["channel"]))
        if handler is not None:
            handler(message)
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
            for table in (self._channels, self._patterns, self._shard_channels):
                for name, handler in table.items():
                    if handler is None:
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
            self._classic = None
            self._shards = {}
            self._channels.clear()
            self._patterns.clear()
            self._shard_channels.clear()
            self._home.clear()
            self._orphans.clear()
            self._announce.clear()
            self._dropped_by.clear()
            self._classic_lost = False
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

