"""The exception tree: one root, typed branches, and the reply-prefix table.

Every exception clustercore raises derives from :class:`ClusterCoreError` and may carry the
address of the node involved (``.node``) and the original cause (``__cause__``). The names that
redis-py-cluster 2.1.3 exported are kept, so ``except MovedError`` and friends keep working.

Error *replies* from the server are values, not raised at parse time: the decoder builds them by
calling :class:`ResponseError` with the reply text, and ``ResponseError.__new__`` picks the
subclass from the first word (``MOVED``, ``ASK``, ``TRYAGAIN`` ...) through one table. The same
constructor works when hiredis builds the error object, so both decoders agree.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Type

from ._address import NodeAddress

__all__ = [
    "AskError",
    "AuthenticationError",
    "AuthorizationError",
    "BusyError",
    "BusyLoadingError",
    "ClusterCoreError",
    "ClusterCrossSlotError",
    "ClusterDownError",
    "ClusterError",
    "ConnectionError",
    "DataError",
    "ExecAbortError",
    "InvalidResponse",
    "InvalidSlotError",
    "LockError",
    "LockNotOwnedError",
    "MasterDownError",
    "MovedError",
    "NoPermissionError",
    "NoScriptError",
    "NodeFailingError",
    "OutOfMemoryError",
    "OutcomeUnknownError",
    "PoolClosedError",
    "PoolError",
    "PoolTimeoutError",
    "ProtocolError",
    "PubSubError",
    "ReadOnlyError",
    "RedirectBudgetExceededError",
    "RedisClusterConfigError",
    "RedisClusterError",
    "RedisClusterException",
    "RedisError",
    "ResponseError",
    "SlotNotCoveredError",
    "TimeoutError",
    "TooManyConnectionsError",
    "TooManyWaitersError",
    "TopologyError",
    "TryAgainError",
    "WatchError",
    "WrongTypeError",
    "parse_redirect",
]


class ClusterCoreError(Exception):
    """Root of every clustercore exception; ``node`` names the node involved, when one was."""

    node: Optional[NodeAddress] = None
    #: True when the failure came after the request was fully written (it may have run).
    request_sent: bool = False

    def __init__(self, *args: Any, node: Optional[NodeAddress] = None) -> None:
        super().__init__(*args)
        if node is not None:
            self.node = node

    def __str__(self) -> str:
        text = super().__str__()
        if self.node is not None and not isinstance(self, ResponseError):
            return f"{text} (node {self.node})"
        return text


#: Compatibility names: redis-py's root and redis-py-cluster's root both mean "any of ours".
RedisError = ClusterCoreError
RedisClusterException = ClusterCoreError


# --- connection branch ----------------------------------------------------------------------
class ConnectionError(ClusterCoreError):
    """The connection could not be made, broke, or was refused by the server."""


class TimeoutError(ClusterCoreError):
    """A socket operation or a deadline ran out."""


class AuthenticationError(ConnectionError):
    """The server rejected the credentials (AUTH/HELLO), or wants some and got none."""


class AuthorizationError(ConnectionError):
    """The user is authenticated but not allowed to run what the handshake needs."""


class NodeFailingError(ConnectionError):
    """The node is in its failure cool-down: it was not dialled (fail fast, nothing was sent)."""


class OutcomeUnknownError(ConnectionError):
    """A non-idempotent command was written but its reply was lost: it may or may not have run.

    clustercore never re-sends such a command on its own (see docs/retries.md); the caller
    decides whether to check the data, retry, or report.
    """

    def __init__(self, *args: Any, node: Optional[NodeAddress] = None,
                 command: Optional[str] = None) -> None:
        super().__init__(*args, node=node)
        self.command = command


# --- protocol and data branches ---------------------------------------------------------------
class ProtocolError(ClusterCoreError):
    """The bytes from the server are not valid RESP, or break a configured limit."""


InvalidResponse = ProtocolError


class DataError(ClusterCoreError):
    """An argument cannot be sent to the server (wrong type or value); nothing was sent."""


# --- pool branch ------------------------------------------------------------------------------
class PoolError(ConnectionError):
    """A connection could not be checked out of a pool."""


class PoolTimeoutError(PoolError):
    """No connection became free within the blocking pool's ``timeout``."""


class TooManyConnectionsError(PoolError):
    """A non-blocking pool is at its connection limit (redis-py-cluster's "Too many connections")."""


class TooManyWaitersError(PoolError):
    """More callers are already waiting for this node than ``max_waiters`` allows."""


class PoolClosedError(PoolError):
    """The pool (or client) was closed; no new work is accepted."""


# --- topology branch ----------------------------------------------------------------------------
class TopologyError(ClusterCoreError):
    """The cluster layout could not be discovered or is not usable."""


class RedisClusterConfigError(TopologyError):
    """No startup node gave a usable layout (the message lists what each one answered)."""


class SlotNotCoveredError(TopologyError):
    """No node is known to serve this slot."""


class InvalidSlotError(DataError, SlotNotCoveredError):
    """A slot number outside 0..16383, or not an integer, was asked for (the message names it);
    no node was chosen and nothing was sent. A bad argument (DataError) for which no node can
    serve (SlotNotCoveredError, what the topology's lookups raised for these values before)."""


# --- client-level cluster errors ------------------------------------------------------------------
class RedisClusterError(ClusterCoreError):
    """A cluster-level failure of the client (redis-py-cluster's name)."""


class ClusterError(RedisClusterError):
    """The cluster could not serve the command (redis-py-cluster's name)."""


class RedirectBudgetExceededError(ClusterError):
    """A command was redirected more times than the budget allows ("TTL exhausted")."""


# --- error replies --------------------------------------------------------------------------------
class ResponseError(ClusterCoreError):
    """An error reply from the server. ``code`` is its first word; ``str()`` the full text.

    ``ResponseError(text)`` returns an instance of the subclass that the table maps the reply's
    first word to, so the decoder (ours or hiredis) needs no table of its own.
    """

    code: str = "ERR"

    def __new__(cls, *args: Any, **kwargs: Any) -> ResponseError:
        if cls is ResponseError and args and isinstance(args[0], str):
            cls = _reply_class(args[0])
        return super().__new__(cls, *args)

    def __init__(self, *args: Any, node: Optional[NodeAddress] = None) -> None:
        super().__init__(*args, node=node)
        text = args[0] if args and isinstance(args[0], str) else ""
        word = text.split(" ", 1)[0]
        self.code = word if word.isupper() else "ERR"

    @property
    def message(self) -> str:
        """The full reply text as the server sent it."""
        return str(self.args[0]) if self.args else ""

    def __reduce__(self) -> Any:
        return (_rebuild_reply, (type(self), self.args, self.node))


def _rebuild_reply(cls: Type[ResponseError], args: Tuple[Any, ...],
                   node: Optional[NodeAddress]) -> ResponseError:
    return cls(*args, node=node)


class AskError(ResponseError):
    """``ASK slot host:port``: ask that node once, after ASKING. ``host`` may be empty,
    which means "the host of the node that replied"."""

    slot_id: int
    host: str
    port: int

    def __init__(self, *args: Any, node: Optional[NodeAddress] = None) -> None:
        super().__init__(*args, node=node)
        self.slot_id, self.host, self.port = parse_redirect(self.message)

    @property
    def node_addr(self) -> Tuple[str, int]:
        """``(host, port)`` as redis-py-cluster exposed it."""
        return (self.host, self.port)

    @property
    def target(self) -> NodeAddress:
        """The redirect target, with an empty host replaced by the replying node's host."""
        host = self.host
        if not host and self.node is not None:
            host = self.node.host
        return NodeAddress(host, self.port)


class MovedError(AskError):
    """``MOVED slot host:port``: the slot now lives there (a subclass of AskError, as before)."""


class TryAgainError(ResponseError):
    """``TRYAGAIN``: a multi-key command hit a slot being migrated; retry after a short wait."""


class ClusterDownError(ClusterError, ResponseError):
    """``CLUSTERDOWN``: the cluster cannot serve right now (failover, uncovered slots)."""


class MasterDownError(ClusterDownError):
    """``MASTERDOWN``: the replica lost its primary and will not serve stale data."""


class ClusterCrossSlotError(ResponseError):
    """``CROSSSLOT``: the keys of one command map to different slots (also raised before sending)."""


class ReadOnlyError(ResponseError):
    """``READONLY``: a write reached a replica, usually one just demoted by a failover."""


class BusyLoadingError(ConnectionError, ResponseError):
    """``LOADING``: the node is loading its dataset into memory."""


class NoScriptError(ResponseError):
    """``NOSCRIPT``: EVALSHA for a script the node does not have."""


class BusyError(ResponseError):
    """``BUSY``: a script or function is running too long on that node."""


class ExecAbortError(ResponseError):
    """``EXECABORT``: a transaction was discarded because a queued command had an error."""


class WrongTypeError(ResponseError):
    """``WRONGTYPE``: the key holds a value of another type."""


class OutOfMemoryError(ResponseError):
    """``OOM``: the node is over maxmemory and refuses writes."""


class NoPermissionError(ResponseError):
    """``NOPERM``: the ACL user may not run this command or touch this key."""


class NoAuthError(AuthenticationError, ResponseError):
    """``NOAUTH``: the server wants credentials that were not given."""


class WrongPassError(AuthenticationError, ResponseError):
    """``WRONGPASS``: the username/password pair is wrong."""


class MaxClientsError(ConnectionError, ResponseError):
    """``ERR max number of clients reached``."""


class WatchError(ClusterCoreError):
    """A watched key changed before EXEC, so the transaction was not applied."""


class LockError(ClusterCoreError, ValueError):
    """A lock could not be acquired, released or extended as asked (redis-py's ``LockError``,
    also a ValueError as there)."""


class LockNotOwnedError(LockError):
    """The lock is not held by this owner any more (expired, or taken by another): release or
    extend refused."""


class PubSubError(ClusterCoreError):
    """A pub/sub call was used wrongly (no handler for run_in_thread, a closed object ...)."""


#: Reply prefix (first word) -> exception class. One table, used by both decoders.
_PREFIXES: Dict[str, Type[ResponseError]] = {
    "MOVED": MovedError,
    "ASK": AskError,
    "TRYAGAIN": TryAgainError,
    "CLUSTERDOWN": ClusterDownError,
    "MASTERDOWN": MasterDownError,
    "CROSSSLOT": ClusterCrossSlotError,
    "READONLY": ReadOnlyError,
    "LOADING": BusyLoadingError,
    "NOSCRIPT": NoScriptError,
    "BUSY": BusyError,
    "EXECABORT": ExecAbortError,
    "WRONGTYPE": WrongTypeError,
    "OOM": OutOfMemoryError,
    "NOPERM": NoPermissionError,
    "NOAUTH": NoAuthError,
    "WRONGPASS": WrongPassError,
}

#: ``ERR`` replies whose text (after ``ERR ``) starts with these mean something more specific.
_ERR_MESSAGES: Tuple[Tuple[str, Type[ResponseError]], ...] = (
    ("max number of clients reached", MaxClientsError),
    ("invalid password", WrongPassError),
    ("invalid username-password pair", WrongPassError),
    ("Client sent AUTH, but no password is set", WrongPassError),
    ("AUTH <password> called without any password configured", WrongPassError),
)


def _reply_class(text: str) -> Type[ResponseError]:
    word, _, rest = text.partition(" ")
    cls = _PREFIXES.get(word)
    if cls is not None:
        return cls
    if word == "ERR":
        for start, err_cls in _ERR_MESSAGES:
            if rest.startswith(start):
                return err_cls
    return ResponseError


def parse_redirect(text: str) -> Tuple[int, str, int]:
    """Parse ``MOVED|ASK <slot> <host>:<port>`` into (slot, host, port).

    The host may be an IPv6 address (bracketed or not) or empty (meaning: the node that replied).
    Raises ProtocolError when the text is not of that form.
    """
    parts = text.split()
    if len(parts) != 3 or not parts[1].isdigit():
        raise ProtocolError(f"malformed redirect reply {text!r}")
    host, sep, port_text = parts[2].rpartition(":")
    if not sep or not port_text.isdigit():
        raise ProtocolError(f"malformed redirect address in {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    slot = int(parts[1])
    if slot >= 16384:
        raise ProtocolError(f"redirect to slot {slot} outside 0..16383 in {text!r}")
    return slot, host, int(port_text)
