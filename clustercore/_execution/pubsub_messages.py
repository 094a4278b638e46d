"""Pub/sub messages, node arguments and the worker thread: ClusterPubSub apart from its I/O.

``pubsub.py`` reads replies off its dedicated connections; this module says what a reply
means (:func:`message_of`: redis-py's message dicts, ``{"type", "pattern", "channel",
"data"}``), which kinds are acknowledgements, data or sharded, which message a read returns
(:func:`pop_message`), what a ``node=`` argument names (:func:`cluster_node`), and holds the
redis-py methods built on ClusterPubSub's public ones (:class:`PubSubApiMixin`, including
``run_in_thread`` and its :class:`PubSubWorkerThread`). Kept apart so that ``pubsub.py``
stays one reviewable state-and-I/O module.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple

from .._address import NodeAddress, coerce_port
from ..errors import ClusterUsageError, DataError, PubSubError

if TYPE_CHECKING:
    from .pubsub import ClusterPubSub

__all__ = [
    "ACK_KINDS",
    "HEALTH_CHECK_MESSAGE",
    "KIND_OF",
    "PUBLISH_MESSAGE_TYPES",
    "SHARDED_KINDS",
    "UNSUBSCRIBE_MESSAGE_TYPES",
    "Message",
    "PubSubApiMixin",
    "PubSubWorkerThread",
    "address_of",
    "cluster_node",
    "flat_names",
    "is_pong",
    "message_of",
    "parse_names",
    "pong_of",
    "pop_message",
]

Message = Dict[str, Any]

#: redis-py's class constants (``PubSub.PUBLISH_MESSAGE_TYPES`` ...), same values.
PUBLISH_MESSAGE_TYPES = ("message", "pmessage", "smessage")
UNSUBSCRIBE_MESSAGE_TYPES = ("unsubscribe", "punsubscribe", "sunsubscribe")
HEALTH_CHECK_MESSAGE = "redis-py-health-check"

_KINDS = ("message", "pmessage", "smessage", "subscribe", "unsubscribe", "psubscribe",
          "punsubscribe", "ssubscribe", "sunsubscribe", "pong")
#: A reply's first element (bytes or str, by decode_responses) -> its kind.
KIND_OF: Dict[Any, str] = {**{k: k for k in _KINDS}, **{k.encode(): k for k in _KINDS}}
#: The (un)subscribe acknowledgements (``ignore_subscribe_messages`` drops them).
ACK_KINDS = frozenset({"subscribe", "unsubscribe", "psubscribe", "punsubscribe",
                       "ssubscribe", "sunsubscribe"})
#: What ``get_sharded_message`` returns (redis-py reads those from the sharded connections).
SHARDED_KINDS = frozenset({"smessage", "ssubscribe", "sunsubscribe"})
#: execute_command's names -> the method that carries each out.
_COMMANDS = {"SUBSCRIBE": "subscribe", "PSUBSCRIBE": "psubscribe", "SSUBSCRIBE": "ssubscribe",
             "UNSUBSCRIBE": "unsubscribe", "PUNSUBSCRIBE": "punsubscribe",
             "SUNSUBSCRIBE": "sunsubscribe", "PING": "ping"}


def message_of(reply: Any) -> Optional[Message]:
    """The message dict of a pushed reply (``[kind, ...]``), or None when it is none."""
    if not isinstance(reply, list) or not reply:
        return None
    kind = KIND_OF.get(reply[0])
    if kind is None:
        return None
    if kind == "pmessage" and len(reply) >= 4:
        return {"type": kind, "pattern": reply[1], "channel": reply[2], "data": reply[3]}
    if kind == "pong":
        return {"type": kind, "pattern": None, "channel": None,
                "data": reply[1] if len(reply) > 1 else b""}
    if len(reply) < 3:
        return None
    return {"type": kind, "pattern": None, "channel": reply[1], "data": reply[2]}


def pong_of(reply: Any) -> Message:
    """The ``pong`` message of a PING reply: ``[pong, data]`` when subscribed, else the bare
    ``PONG`` (data ``b""``/``""``) or the echoed argument, as redis-py reports them."""
    if isinstance(reply, list):
        message = message_of(reply)
        if message is not None and message["type"] == "pong":
            return message
    if reply == b"PONG":
        reply = b""
    elif reply == "PONG":
        reply = ""
    return {"type": "pong", "pattern": None, "channel": None, "data": reply}


class PubSubWorkerThread(threading.Thread):
    """Calls ``get_message`` in a loop until ``stop()`` (which also joins the thread)."""

    def __init__(self, pubsub: ClusterPubSub, sleep_time: float, daemon: bool = False,
                 exception_handler: Optional[Callable[..., Any]] = None,
                 sharded_pubsub: bool = False) -> None:
        super().__init__(name="clustercore-pubsub", daemon=daemon)
        self.pubsub = pubsub
        #: The longest one read waits; stop() takes effect within it (0: a 0.1 s default).
        self.sleep_time = sleep_time if sleep_time > 0 else 0.1
        self.exception_handler = exception_handler
        #: redis-py's flag (read with get_sharded_message); get_message reads every kind here.
        self.sharded_pubsub = sharded_pubsub
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


def flat_names(args: Sequence[Any]) -> List[Any]:
    """Names given as arguments or as one list (redis-py's ``list_or_args``)."""
    out: List[Any] = []
    for arg in args:
        if isinstance(arg, (list, tuple, set)):
            out.extend(arg)
        else:
            out.append(arg)
    return out


def parse_names(args: Sequence[Any], kwargs: Dict[str, Any], key: Callable[[Any], bytes],
                ) -> Dict[bytes, Any]:
    """A (s|p)subscribe call's names -> handlers (None: no handler), as bytes by ``key``:
    names, lists of names, redis-py's ``Subscription(name, handler)`` objects and
    ``name=handler`` keywords. DataError when there is none."""
    names: Dict[bytes, Any] = {}
    for arg in flat_names(args):
        if not isinstance(arg, (bytes, str, memoryview)) and hasattr(arg, "handler"):
            names[key(arg.name)] = arg.handler
        else:
            names[key(arg)] = None
    names.update((key(k), v) for k, v in kwargs.items())
    if not names:
        raise DataError("give at least one channel or pattern")
    return names


def is_pong(reply: Any) -> bool:
    """Whether a reply answers PING: ``[pong, data]`` when subscribed, else a bare string."""
    if isinstance(reply, list):
        return bool(reply) and KIND_OF.get(reply[0]) == "pong"
    return isinstance(reply, (bytes, str))


def address_of(pool: Any, node: Any) -> NodeAddress:
    """The address of a ClusterNode (anything with ``host`` and ``port``) or of what the
    pool's ``address_of`` takes (NodeAddress, ``"host:port"``, a pair, a node dict);
    DataError naming anything else."""
    try:
        if hasattr(node, "host") and hasattr(node, "port"):
            return NodeAddress(str(node.host), coerce_port(node.port))
        address: NodeAddress = pool.address_of(node)
        return address
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise DataError(f"not a node: {node!r} ({exc})") from None


def cluster_node(pool: Any, node: Any, host: Any, port: Any) -> Optional[NodeAddress]:
    """The node ``node`` / ``host``, ``port`` name (None when neither is given), checked as
    redis-py's ``set_pubsub_node`` does: DataError for a host without a port (or the
    reverse), ClusterUsageError for a node the cluster does not have."""
    if node is not None:
        address = address_of(pool, node)
    elif host is not None and port is not None:
        address = address_of(pool, (host, port))
    elif host is not None or port is not None:
        raise DataError("Passing a host requires passing a port, and vice versa "
                        f"(host={host!r}, port={port!r})")
    else:
        return None
    if address not in pool.ensure_topology().nodes:
        raise ClusterUsageError(f"Node {address} doesn't exist in the cluster", node=address)
    return address


def pop_message(messages: Deque[Tuple[NodeAddress, Message]], ignore: bool, sharded: bool,
                node: Optional[NodeAddress]) -> Optional[Message]:
    """Take the first queued message that get_message (``sharded`` False: any) or
    get_sharded_message (sharded kinds, from ``node`` when given) returns; acknowledgements
    are dropped on the way when ``ignore``. What does not match stays queued, in order."""
    if not sharded:
        while messages:
            message = messages.popleft()[1]
            if ignore and message["type"] in ACK_KINDS:
                continue
            return message
        return None
    index = 0
    while index < len(messages):
        address, message = messages[index]
        if message["type"] not in SHARDED_KINDS or (node is not None and address != node):
            index += 1
            continue
        del messages[index]
        if ignore and message["type"] in ACK_KINDS:
            continue
        return message
    return None


class PubSubApiMixin:
    """redis-py's ClusterPubSub methods that need nothing but ClusterPubSub's public ones:
    ``execute_command``, ``handle_message``, ``run_in_thread`` and its handler check."""

    ignore_subscribe_messages: bool

    if TYPE_CHECKING:
        @property
        def channels(self) -> Dict[Any, Any]: ...
        @property
        def patterns(self) -> Dict[Any, Any]: ...
        @property
        def shard_channels(self) -> Dict[Any, Any]: ...
        def dispatch(self, message: Message) -> Optional[Message]: ...
        def get_pubsub_node(self) -> Any: ...
        def close(self) -> None: ...

    def __del__(self) -> None:
        # As redis-py's PubSub: an object dropped without close() gives back its connections,
        # so its subscriptions do not outlive it on the servers (publish() counts stay true).
        with contextlib.suppress(Exception):  # interpreter shutdown, a half-built object
            self.close()

    @property
    def node(self) -> Any:
        """``get_pubsub_node()`` (redis-py's attribute)."""
        return self.get_pubsub_node()

    def get_redis_connection(self) -> Any:
        """The classic link's node's per-node client (``ClusterNode.redis_connection``), or
        None before any classic link is open (redis-py's method)."""
        return getattr(self.get_pubsub_node(), "redis_connection", None)

    def execute_command(self, *args: Any) -> None:
        """One pub/sub command by name (SUBSCRIBE ... SUNSUBSCRIBE, PING), as redis-py's
        method of that name; anything else raises PubSubError naming it."""
        if not args:
            raise DataError("execute_command needs a command name")
        first = args[0]
        name = (first.decode() if isinstance(first, bytes) else str(first)).upper()
        method = _COMMANDS.get(name)
        if method is None:
            raise PubSubError(f"{first!r} is not a pub/sub command (use the client)")
        getattr(self, method)(*args[1:])

    def handle_message(self, response: Any, ignore_subscribe_messages: bool = False,
                       ) -> Optional[Message]:
        """A raw pushed reply as a message (redis-py's method): given to its channel's
        handler (then None), None for an acknowledgement when ignoring those, else returned.
        Subscription state is not changed by it."""
        message = pong_of(response) if is_pong(response) else message_of(response)
        if message is None:
            return None
        if (ignore_subscribe_messages or self.ignore_subscribe_messages) and \
                message["type"] in ACK_KINDS:
            return None
        return self.dispatch(message)

    def check_handlers(self) -> None:
        """PubSubError naming the first subscription without a handler (run_in_thread's
        precondition: the worker thread drops messages that no handler takes)."""
        for table in (self.channels, self.patterns, self.shard_channels):
            for name, handler in table.items():
                if handler is None:
                    raise PubSubError(f"channel {name!r} has no handler registered")

    def run_in_thread(self, sleep_time: float = 0.0, daemon: bool = False,
                      exception_handler: Optional[Callable[..., Any]] = None,
                      pubsub: Optional[ClusterPubSub] = None, sharded_pubsub: bool = False,
                      ) -> PubSubWorkerThread:
        """Read in a thread that calls each channel's handler; ``thread.stop()`` ends it.

        ``pubsub`` reads another pub/sub object instead (redis-py's parameter);
        ``sharded_pubsub`` is accepted and changes nothing (get_message reads every kind)."""
        target: Any = self if pubsub is None else pubsub
        target.check_handlers()
        thread = PubSubWorkerThread(target, sleep_time, daemon=daemon,
                                    exception_handler=exception_handler,
                                    sharded_pubsub=sharded_pubsub)
        thread.start()
        return thread
