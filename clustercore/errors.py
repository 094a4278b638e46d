"""The exception tree: one root, typed branches, the reply-prefix table, the redis-py bridge.

Every exception clustercore raises derives from :class:`ClusterCoreError` and may carry the
address of the node involved (``.node``) and the original cause (``__cause__``). The names that
redis-py-cluster 2.1.3 exported are kept, so ``except MovedError`` and friends keep working.

Error *replies* from the server are values, not raised at parse time: the decoder builds them by
calling :class:`ResponseError` with the reply text, and ``ResponseError.__new__`` picks the
subclass from the first word (``MOVED``, ``ASK``, ``TRYAGAIN`` ...) through one table. The same
constructor works when hiredis builds the error object, so both decoders agree.

The redis-py bridge
-------------------
Libraries written for redis-py (django-redis's IGNORE_EXCEPTIONS, cachelib, limits ...) catch
``redis.exceptions.X``. ``except`` matches on the real class hierarchy (the MRO; ABC registration
and ``__subclasscheck__`` are not consulted), so when redis-py is importable the redis-py class
of the same meaning is made a real base of each clustercore class: the root is created on
``redis.exceptions.RedisError`` instead of ``Exception``, and the classes in the table get their
counterpart appended after their clustercore bases (``__bases__`` assignment, once, at import).
clustercore's own bases come first in every MRO, so clustercore's semantics (``str()``,
``.node``, ``message``, ``__reduce__``, ``ResponseError(text)``'s subclass choice, ``repr()``)
win, and no redis-py ``__init__`` runs. A class not in the table inherits its parents' bridges
(``WrongTypeError`` is a redis ``ResponseError`` through our ``ResponseError``).

==================================  =========================================================
clustercore class                   extra redis-py base (``redis.exceptions.``)
==================================  =========================================================
ClusterCoreError (root)             RedisError (as the root's only base)
ConnectionError                     ConnectionError
TimeoutError                        TimeoutError
AuthenticationError                 AuthenticationError
AuthorizationError                  AuthorizationError
ProtocolError (= InvalidResponse)   InvalidResponse
DataError                           DataError
TooManyConnectionsError             MaxConnectionsError (pool at its limit; when present)
TopologyError                       RedisClusterException (layout unusable: what redis-py
                                    raises when it cannot initialize the cluster)
ClusterUsageError                   RedisClusterException (a call a cluster client cannot
                                    carry out as asked: what redis-py raises for it)
SlotNotCoveredError                 SlotNotCoveredError
ClusterError                        ClusterError (so RedirectBudgetExceededError = "TTL
                                    exhausted" too)
ResponseError                       ResponseError
AskError / MovedError               AskError / MovedError
TryAgainError                       TryAgainError
ClusterDownError / MasterDownError  ClusterDownError / MasterDownError
ClusterCrossSlotError               ClusterCrossSlotError
CrossSlotTransactionError           CrossSlotTransactionError (when present)
ReadOnlyError                       ReadOnlyError
BusyLoadingError                    BusyLoadingError
NoScriptError                       NoScriptError
ExecAbortError                      ExecAbortError
OutOfMemoryError                    OutOfMemoryError
NoPermissionError                   NoPermissionError
WatchError                          WatchError
LockError / LockNotOwnedError       LockError / LockNotOwnedError
PubSubError                         PubSubError
==================================  =========================================================

Not bridged, on purpose: ``RedisClusterException`` stays a redis-py base of the topology
branch only (in redis-py it is *not* a RedisError, and ResponseError is not one), so
``except redis.exceptions.RedisClusterException`` does not catch our ConnectionError or error
replies. redis-py classes without a clustercore counterpart: ModuleError (modules are out of
scope), NoSuchFieldsetError, AuthenticationWrongNumberOfArgsError (ours is a plain
ResponseError), ExternalAuthProviderError, InvalidPipelineStack, ChildDeadlockedError,
IncorrectPolicyType.

The bridge is off, and the tree is exactly the standard-library-only one, when ``redis`` cannot
be imported or the environment variable ``CLUSTERCORE_REDIS_EXCEPTIONS`` is ``0`` (also
``false`` / ``no`` / ``off``; ``1`` / ``true`` / ``yes`` / ``on`` / unset mean "when
importable"; anything else is a ValueError at import naming the value). It is decided once,
at import: :data:`REDIS_EXCEPTIONS_BRIDGED` says which way it went and :func:`redis_bridge`
lists the pairs applied.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, Type

from ._address import NodeAddress

__all__ = [
    "REDIS_EXCEPTIONS_BRIDGED",
    "AskError",
    "AuthenticationError",
    "AuthorizationError",
    "BusyError",
    "BusyLoadingError",
    "ClusterCoreError",
    "ClusterCrossSlotError",
    "ClusterDownError",
    "ClusterError",
    "ClusterUsageError",
    "ConnectionError",
    "CrossSlotKeysError",
    "CrossSlotTransactionError",
    "DataError",
    "DeadlineExceededError",
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
    "TLSVerificationError",
    "TimeoutError",
    "TooManyConnectionsError",
    "TooManyWaitersError",
    "TopologyError",
    "TryAgainError",
    "UnknownRedirectTargetError",
    "WatchError",
    "WrongTypeError",
    "parse_redirect",
    "redis_bridge",
]

#: The environment variable that turns the redis-py bridge off ("0") or leaves it on.
BRIDGE_ENV = "CLUSTERCORE_REDIS_EXCEPTIONS"
_ENV_OFF = ("0", "false", "no", "off")
_ENV_ON = ("", "1", "true", "yes", "on")


def _redis_exceptions() -> Optional[ModuleType]:
    """``redis.exceptions`` when the bridge is wanted and redis-py is importable, else None.

    Decided once, at import; a value of ``CLUSTERCORE_REDIS_EXCEPTIONS`` that is neither on nor
    off is refused with a ValueError naming it (a typo must not silently pick a side).
    """
    raw = os.environ.get(BRIDGE_ENV, "")
    value = raw.strip().lower()
    if value in _ENV_OFF:
        return None
    if value not in _ENV_ON:
        raise ValueError(f"{BRIDGE_ENV}={raw!r}: expected one of "
                         f"{', '.join(repr(v) for v in _ENV_OFF + _ENV_ON[1:])} (or unset)")
    try:
        from redis import exceptions
    except ImportError:
        return None
    root = getattr(exceptions, "RedisError", None)
    if not (isinstance(root, type) and issubclass(root, Exception)):
        return None
    return exceptions


_REDIS = _redis_exceptions()
#: True when clustercore's exceptions are also redis-py's (see "The redis-py bridge" above).
REDIS_EXCEPTIONS_BRIDGED = _REDIS is not None

if TYPE_CHECKING:
    _RootBase = Exception
else:
    _RootBase = Exception if _REDIS is None else _REDIS.RedisError


class ClusterCoreError(_RootBase):
    """Root of every clustercore exception; ``node`` names the node involved, when one was.

    With the redis-py bridge its base is ``redis.exceptions.RedisError`` (else ``Exception``).
    """

    node: Optional[NodeAddress] = None
    #: True when the failure came after the request was fully written (it may have run).
    request_sent: bool = False

    def __init__(self, *args: Any, node: Optional[NodeAddress] = None) -> None:
        # Straight to Exception: with the bridge, the next class in the MRO is a redis-py one
        # whose __init__ would re-parse the text (AskError) or overwrite our properties.
        Exception.__init__(self, *args)
        if node is not None:
            self.node = node

    def __repr__(self) -> str:
        # The same with and without the bridge (redis-py's repr reads its own attributes).
        return BaseException.__repr__(self)

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


class DeadlineExceededError(TimeoutError):
    """The call's ``retry_deadline`` ran out before a step could finish: a reconnect cut short
    by what was left of it, or no time left for another try. The node is not to blame (it is
    not marked failing); nothing was sent on the step that was cut."""


class AuthenticationError(ConnectionError):
    """The server rejected the credentials (AUTH/HELLO), or wants some and got none."""


class AuthorizationError(ConnectionError):
    """The user is authenticated but not allowed to run what the handshake needs."""


class TLSVerificationError(ConnectionError):
    """The node's TLS certificate was not accepted (wrong name, untrusted chain, expired), or
    the TLS policy refused to dial the node because no name to verify it against is known
    (docs/security.md). Never retried: another attempt meets the same certificate.

    ``expected`` is the name the certificate had to match (None: CA-only verification, or no
    name known); ``__cause__`` is the ``ssl.SSLCertVerificationError`` when there was a
    handshake. A ConnectionError, so ``except redis.ConnectionError`` catches it too.
    """

    def __init__(self, *args: Any, node: Optional[NodeAddress] = None,
                 expected: Optional[str] = None) -> None:
        super().__init__(*args, node=node)
        self.expected = expected


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


class ClusterUsageError(ClusterCoreError):
    """The call cannot be carried out by a cluster client as asked, and nothing was sent: a
    keyed command without its key, a command bound to one connection or one node sent without
    ``target_nodes=``, a pipeline method a cluster pipeline does not have, a node that is not in
    the cluster. What redis-py raises as ``RedisClusterException`` for the same calls (bridged
    to it), so ``except redis.exceptions.RedisClusterException`` catches it."""


class RedirectBudgetExceededError(ClusterError):
    """A command was redirected more times than the budget allows ("TTL exhausted")."""


class UnknownRedirectTargetError(ClusterError):
    """A MOVED or ASK named a node that no cluster layout lists, and it was not dialled (the
    redirect guard, on by default: a refresh is asked for and the command retried until the
    deadline, in case the node just joined). ``target`` is the address the reply named; the
    redirect reply is the ``__cause__``. ``follow_unknown_redirects=True`` turns the guard off."""

    def __init__(self, message: str = "", *, node: Optional[NodeAddress] = None,
                 target: Optional[NodeAddress] = None) -> None:
        super().__init__(message, node=node)
        self.target = target


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


class CrossSlotKeysError(ClusterCrossSlotError, ClusterUsageError):
    """One command's keys are in several slots, found by the client before anything was sent
    (the server would answer CROSSSLOT). Both what the server's refusal is
    (ClusterCrossSlotError) and what redis-py raises for its own check (RedisClusterException,
    through ClusterUsageError), so either ``except`` clause catches it."""


class CrossSlotTransactionError(ClusterCrossSlotError):
    """A transaction (MULTI/EXEC or WATCH in a pipeline) names keys of more than one slot; it
    was refused before anything was sent (redis-py's CrossSlotTransactionError)."""


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
    also a ValueError as there). ``message`` and ``lock_name`` as in redis-py."""

    def __init__(self, message: Optional[str] = None, lock_name: Optional[str] = None, *,
                 node: Optional[NodeAddress] = None) -> None:
        super().__init__(*(() if message is None else (message,)), node=node)
        self.message = message
        self.lock_name = lock_name


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
    Raises ProtocolError when the text is not of that form: the slot and the port must be
    ASCII decimal digits (``str.isdigit`` also accepts "²", which ``int`` refuses), the slot in
    0..16383 and the port in 1..65535.
    """
    parts = text.split()
    if len(parts) != 3 or not _decimal(parts[1]):
        raise ProtocolError(f"malformed redirect reply {text!r}")
    host, sep, port_text = parts[2].rpartition(":")
    if not sep or not _decimal(port_text):
        raise ProtocolError(f"malformed redirect address in {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    slot, port = int(parts[1]), int(port_text)
    if slot >= 16384:
        raise ProtocolError(f"redirect to slot {slot} outside 0..16383 in {text!r}")
    if not 0 < port < 65536:
        raise ProtocolError(f"redirect to port {port} outside 1..65535 in {text!r}")
    return slot, host, port


def _decimal(text: str) -> bool:
    """ASCII digits only, at most 6 of them (a slot or a port)."""
    return 0 < len(text) <= 6 and text.isascii() and text.isdigit()


# --- the redis-py bridge --------------------------------------------------------------------------
#: clustercore class -> name of its redis-py counterpart in ``redis.exceptions`` (parents first).
_REDIS_COUNTERPARTS: Tuple[Tuple[Type[ClusterCoreError], str], ...] = (
    (ConnectionError, "ConnectionError"),
    (TimeoutError, "TimeoutError"),
    (AuthenticationError, "AuthenticationError"),
    (AuthorizationError, "AuthorizationError"),
    (ProtocolError, "InvalidResponse"),
    (DataError, "DataError"),
    (TooManyConnectionsError, "MaxConnectionsError"),
    (TopologyError, "RedisClusterException"),
    (ClusterUsageError, "RedisClusterException"),
    (SlotNotCoveredError, "SlotNotCoveredError"),
    (ClusterError, "ClusterError"),
    (ResponseError, "ResponseError"),
    (AskError, "AskError"),
    (MovedError, "MovedError"),
    (TryAgainError, "TryAgainError"),
    (ClusterDownError, "ClusterDownError"),
    (MasterDownError, "MasterDownError"),
    (ClusterCrossSlotError, "ClusterCrossSlotError"),
    (CrossSlotTransactionError, "CrossSlotTransactionError"),
    (ReadOnlyError, "ReadOnlyError"),
    (BusyLoadingError, "BusyLoadingError"),
    (NoScriptError, "NoScriptError"),
    (ExecAbortError, "ExecAbortError"),
    (OutOfMemoryError, "OutOfMemoryError"),
    (NoPermissionError, "NoPermissionError"),
    (WatchError, "WatchError"),
    (LockError, "LockError"),
    (LockNotOwnedError, "LockNotOwnedError"),
    (PubSubError, "PubSubError"),
)


def _bridge(redis_exceptions: ModuleType) -> Dict[str, Type[BaseException]]:
    """Append each counterpart after the class's clustercore bases (before foreign ones such as
    ValueError, which redis-py's LockError already has). A counterpart this redis-py lacks, or
    one that would make an inconsistent MRO, is skipped: that class keeps its parents' bridges,
    and importing clustercore never fails because of the installed redis-py."""
    applied: Dict[str, Type[BaseException]] = {"ClusterCoreError": redis_exceptions.RedisError}
    for cls, name in _REDIS_COUNTERPARTS:
        theirs = getattr(redis_exceptions, name, None)
        if not (isinstance(theirs, type) and issubclass(theirs, BaseException)):
            continue
        if issubclass(cls, theirs):
            applied[cls.__name__] = theirs
            continue
        ours = tuple(b for b in cls.__bases__ if issubclass(b, ClusterCoreError))
        foreign = tuple(b for b in cls.__bases__ if not issubclass(b, ClusterCoreError))
        try:
            cls.__bases__ = (*ours, theirs, *foreign)
        except TypeError:
            continue
        applied[cls.__name__] = theirs
    return applied


_BRIDGED: Dict[str, Type[BaseException]] = {} if _REDIS is None else _bridge(_REDIS)


def redis_bridge() -> Dict[str, Type[BaseException]]:
    """The pairs the bridge applied: clustercore class name -> redis-py class (empty when off).

    For tests and for users checking what ``except redis.exceptions.X`` will catch.
    """
    return dict(_BRIDGED)
