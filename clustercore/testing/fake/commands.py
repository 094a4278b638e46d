"""Data side of :class:`~clustercore.testing.FakeCluster`: one shard's keyspace and its commands.

A :class:`Keyspace` holds the keys of one shard (a primary and its replicas share it, which is
how the fake replicates instantly). Each data command is a plain function ``(keyspace, args)``
registered in :data:`COMMANDS` with its Redis 7 arity, flags and legacy key positions; the
cluster module adds the connection, server and cluster commands and does the routing. Error
replies are raised as :class:`CommandError` and sent as ``-ERR ...`` lines by the caller.

Private module: the public names live in :mod:`clustercore.testing.fake.cluster` (re-exported
by :mod:`clustercore.testing`).
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import re
import zlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import (
    Any,
    Callable,
    Dict,
    FrozenSet,
    Iterable,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
    Type,
    TypeVar,
    cast,
)

from ..._protocol.reply_encoder import SimpleString

__all__ = [
    "COMMANDS",
    "NULL_ARRAY",
    "TYPE_NAMES",
    "CommandError",
    "CommandSpec",
    "HashValue",
    "HyperLogLogValue",
    "KeyedReplies",
    "Keyspace",
    "ListValue",
    "NullArray",
    "Pairs",
    "Score",
    "SetValue",
    "StreamGroup",
    "StreamValue",
    "ZSetValue",
    "format_score",
    "format_stream_id",
    "glob_match",
    "register",
]

OK = SimpleString(b"OK")
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
E_SYNTAX = "ERR syntax error"
E_INT = "ERR value is not an integer or out of range"
E_FLOAT = "ERR value is not a valid float"
E_OVERFLOW = "ERR increment or decrement would overflow"
E_NO_KEY = "ERR no such key"
E_POSITIVE = "ERR value is out of range, must be positive"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class CommandError(Exception):
    """An error reply (its text, e.g. ``"ERR syntax error"``) raised by a command handler."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ------------------------------------------------------------------------------------------------
# Values and reply markers
# ------------------------------------------------------------------------------------------------
class HashValue(Dict[bytes, bytes]):
    """A hash: field -> value."""


class ListValue(List[bytes]):
    """A list, head first."""


class SetValue(Set[bytes]):
    """A set of members."""


class ZSetValue(Dict[bytes, float]):
    """A sorted set: member -> score (ordered by score, then member bytes)."""

    def ordered(self) -> List[Tuple[bytes, float]]:
        """Members in Redis order: by score, ties by member bytes."""
        return sorted(self.items(), key=lambda item: (item[1], item[0]))


class HyperLogLogValue(bytes):
    """A HyperLogLog: a string (TYPE says ``string``) that remembers its members exactly.

    The bytes start with Redis' 16-byte ``HYLL`` header (sparse encoding), so string commands
    see a plausible value, followed by the fake's own payload: the members, each with a 4-byte
    length. Redis stores registers and estimates; the fake counts exactly (:func:`hll_members`
    reads the payload back when the value was copied or rewritten as a plain string).
    """

    members: FrozenSet[bytes]

    @classmethod
    def of(cls, members: Iterable[bytes]) -> HyperLogLogValue:
        """The value holding ``members`` (in a stable order, so equal sets give equal bytes)."""
        chosen = frozenset(members)
        payload = b"".join(len(m).to_bytes(4, "big") + m for m in sorted(chosen))
        value = cls(_HLL_HEADER + _HLL_MAGIC + payload)
        value.members = chosen
        return value


_HLL_HEADER = b"HYLL\x01\x00\x00\x00" + b"\x00" * 8
_HLL_MAGIC = b"clustercore-fake-hll:"


StreamID = Tuple[int, int]


class _StreamNode:
    """One radix-tree node of a Redis stream: up to ``stream-node-max-entries`` appended
    entries (deleted ones still count towards that limit). Approximate trimming (``~``) only
    ever removes whole nodes, which is why it is modelled."""

    __slots__ = ("appended", "last", "live")

    def __init__(self) -> None:
        self.appended = 0
        self.live = 0
        self.last: StreamID = (0, 0)


class StreamGroup:
    """A consumer group: last delivered ID, pending entries and consumers."""

    def __init__(self, last_id: StreamID) -> None:
        self.last_id = last_id
        #: id -> [consumer, delivery time (ms), delivery count], in ID order when sorted.
        self.pending: Dict[StreamID, List[Any]] = {}
        #: consumer name -> its pending IDs.
        self.consumers: Dict[bytes, Set[StreamID]] = {}


class StreamValue:
    """A stream: entries in ID order, the last ID ever added, Redis' node layout and groups.

    An empty stream is still a key (as in Redis): the value is always truthy.
    """

    #: Redis' stream-node-max-entries default (the byte limit of a node is not modelled).
    NODE_MAX_ENTRIES = 100

    def __init__(self) -> None:
        self.ids: List[StreamID] = []
        self.fields: Dict[StreamID, List[bytes]] = {}
        self.node_of: Dict[StreamID, _StreamNode] = {}
        self.nodes: List[_StreamNode] = []
        self.last_id: StreamID = (0, 0)
        self.groups: Dict[bytes, StreamGroup] = {}

    def __bool__(self) -> bool:
        return True

    def __len__(self) -> int:
        return len(self.ids)

    def append(self, entry_id: StreamID, fields: List[bytes]) -> None:
        """Add an entry whose ID is greater than ``last_id``."""
        node = self.nodes[-1] if self.nodes else None
        if node is None or node.appended >= self.NODE_MAX_ENTRIES:
            node = _StreamNode()
            self.nodes.append(node)
        node.appended += 1
        node.live += 1
        node.last = entry_id
        self.ids.append(entry_id)
        self.fields[entry_id] = fields
        self.node_of[entry_id] = node
        self.last_id = entry_id

    def delete(self, entry_id: StreamID) -> bool:
        """Remove one entry; a node left without live entries goes away (as in Redis)."""
        if entry_id not in self.fields:
            return False
        del self.fields[entry_id]
        del self.ids[bisect.bisect_left(self.ids, entry_id)]
        node = self.node_of.pop(entry_id)
        node.live -= 1
        if not node.live:
            self.nodes.remove(node)
        return True

    def between(self, start: StreamID, end: StreamID) -> List[StreamID]:
        """IDs in [start, end], ascending."""
        if start > end:
            return []
        return self.ids[bisect.bisect_left(self.ids, start):bisect.bisect_right(self.ids, end)]


#: Value class -> the name TYPE answers.
TYPE_NAMES: Dict[type, str] = {
    bytes: "string", HashValue: "hash", ListValue: "list", SetValue: "set", ZSetValue: "zset",
    HyperLogLogValue: "string", StreamValue: "stream",
}


class Score(float):
    """A score in a reply: a RESP3 double, or Redis' shortest text as a RESP2 bulk string."""


class Pairs(List[Any]):
    """``[[member, score], ...]``: nested in RESP3, flattened in RESP2 (WITHSCORES replies)."""


class NullArray:
    """Reply marker: a null array (``*-1`` in RESP2, ``_`` in RESP3), as XREAD with nothing
    to read, XRANGE ... COUNT 0 and a BLPOP that timed out answer."""

    _instance: Optional[NullArray] = None

    def __new__(cls) -> NullArray:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NULL_ARRAY"


NULL_ARRAY = NullArray()


class KeyedReplies(Dict[bytes, Any]):
    """``[[key, value], ...]`` in RESP2, a map in RESP3 (XREAD); a key may repeat, as in Redis
    (``XREAD STREAMS s s 0 0`` names the stream twice), hence the pair list behind the dict."""

    def __init__(self, pairs: List[Tuple[bytes, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def items(self) -> List[Tuple[bytes, Any]]:  # type: ignore[override]
        return list(self.pairs)


def format_score(value: float) -> bytes:
    """Redis 7.0's text for a double (``%.17g``): ``1``, ``1.5``, ``0.10000000000000001``,
    ``1e+20``, ``inf``, ``-inf``."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    return b"%.17g" % (value + 0.0)  # (-0.0 is shown as 0)


def _format_incr_float(value: float) -> bytes:
    """INCRBYFLOAT's text: plain decimal notation, no exponent, no trailing zeros."""
    if value.is_integer() and abs(value) < 1e17:
        return b"%d" % int(value)
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    return text.encode()


# ------------------------------------------------------------------------------------------------
# Keyspace
# ------------------------------------------------------------------------------------------------
_V = TypeVar("_V")


class Keyspace:
    """The keys of one shard, with millisecond expiry on an injected clock (lazy, on access).

    Every change bumps a per-key version, which WATCH compares; ``offset`` counts changes and
    doubles as the replication offset that CLUSTER SHARDS and INFO report.
    """

    def __init__(self, now_ms: Callable[[], int], rng: Optional[random.Random] = None) -> None:
        self.now_ms = now_ms
        self.data: Dict[bytes, Any] = {}
        self.expires: Dict[bytes, int] = {}
        self.versions: Dict[bytes, int] = {}
        self._counter = itertools.count(1)
        self.offset = 0
        self.rng = rng or random.Random(0)

    # --- access ---------------------------------------------------------------------------------
    def expire_if_needed(self, key: bytes) -> None:
        """Delete ``key`` when its deadline has been reached (a key expires at its deadline)."""
        when = self.expires.get(key)
        if when is not None and self.now_ms() >= when:
            del self.data[key]
            del self.expires[key]
            self.modified(key)

    def get(self, key: bytes) -> Any:
        """The live value of ``key``, or None."""
        self.expire_if_needed(key)
        return self.data.get(key)

    def get_as(self, key: bytes, kind: Type[_V]) -> Optional[_V]:
        """The live value if it is a ``kind``; None when missing; WRONGTYPE otherwise."""
        value = self.get(key)
        if value is not None and type(value) is not kind and not (
                kind is bytes and isinstance(value, bytes)):  # a HyperLogLogValue is a string
            raise CommandError(WRONGTYPE)
        return cast(Optional[_V], value)

    def get_or_create(self, key: bytes, kind: Type[_V]) -> _V:
        """The live ``kind`` value of ``key``, created empty (not yet stored) when missing."""
        value = self.get_as(key, kind)
        if value is None:
            value = kind()
            self.data[key] = value
        return value

    def exists(self, key: bytes) -> bool:
        """Whether ``key`` holds a live value."""
        return self.get(key) is not None

    def type_name(self, key: bytes) -> str:
        """``string``, ``hash``, ``list``, ``set``, ``zset`` or ``none``."""
        value = self.get(key)
        return "none" if value is None else TYPE_NAMES[type(value)]

    # --- changes --------------------------------------------------------------------------------
    def modified(self, key: bytes) -> None:
        """Record a change of ``key`` (WATCH sees it; the replication offset moves)."""
        self.versions[key] = next(self._counter)
        self.offset += 1

    def version(self, key: bytes) -> int:
        """The change counter of ``key`` (0 when never changed)."""
        return self.versions.get(key, 0)

    def put(self, key: bytes, value: Any, *, keep_ttl: bool = False) -> None:
        """Store ``value``, dropping any TTL unless ``keep_ttl``."""
        self.data[key] = value
        if not keep_ttl:
            self.expires.pop(key, None)
        self.modified(key)

    def delete(self, key: bytes) -> bool:
        """Remove ``key``; True when it existed."""
        self.expire_if_needed(key)
        if key not in self.data:
            return False
        del self.data[key]
        self.expires.pop(key, None)
        self.modified(key)
        return True

    def changed(self, key: bytes) -> None:
        """A container was changed in place: drop it when it became empty, and record it."""
        value = self.data.get(key)
        if value is not None and not isinstance(value, bytes) and not value:
            del self.data[key]
            self.expires.pop(key, None)
        self.modified(key)

    def forget_if_empty(self, key: bytes) -> None:
        """Undo get_or_create when nothing was added (no change is recorded)."""
        value = self.data.get(key)
        if value is not None and not isinstance(value, bytes) and not value:
            del self.data[key]
            self.expires.pop(key, None)

    def set_expire(self, key: bytes, when_ms: int) -> None:
        """Set an absolute deadline (ms); a deadline already passed deletes the key."""
        if when_ms <= self.now_ms():
            self.delete(key)
            return
        self.expires[key] = when_ms
        self.modified(key)

    def ttl_ms(self, key: bytes) -> Optional[int]:
        """Milliseconds left, None when the key has no TTL (the key must exist)."""
        when = self.expires.get(key)
        return None if when is None else max(0, when - self.now_ms())

    def live_keys(self) -> List[bytes]:
        """Every live key (expired ones are removed first)."""
        for key in [k for k, when in self.expires.items() if self.now_ms() >= when]:
            self.expire_if_needed(key)
        return list(self.data)

    def flush(self) -> None:
        """Remove every key (WATCHers of any key see a change)."""
        for key in list(self.data):
            self.modified(key)
        self.data.clear()
        self.expires.clear()

    def take(self, key: bytes) -> Optional[Tuple[Any, Optional[int]]]:
        """Remove ``key`` and return (value, deadline) for moving it to another keyspace."""
        value = self.get(key)
        if value is None:
            return None
        when = self.expires.get(key)
        self.delete(key)
        return value, when

    def restore(self, key: bytes, value: Any, when_ms: Optional[int]) -> None:
        """Store a value moved from another keyspace, with its deadline."""
        self.put(key, value)
        if when_ms is not None:
            self.expires[key] = when_ms


# ------------------------------------------------------------------------------------------------
# Command table
# ------------------------------------------------------------------------------------------------
Handler = Callable[[Any, List[bytes]], Any]


@dataclass(frozen=True)
class CommandSpec:
    """One command: handler, Redis arity (negative = at least), flags and key positions.

    ``scope`` says what the handler receives: ``"db"`` the node's Keyspace, ``"node"`` the
    cluster's call context (session, node). Key positions follow COMMAND INFO's legacy triple
    (``last`` negative counts from the end).
    """

    name: str
    handler: Handler
    arity: int
    flags: FrozenSet[str]
    first: int = 0
    last: int = 0
    step: int = 0
    group: str = "generic"
    scope: str = "db"
    categories: Tuple[str, ...] = field(default=())
    #: Key finder for commands whose keys move (XREAD ... STREAMS k1 k2 id1 id2).
    find_keys: Optional[Callable[[Sequence[bytes]], List[bytes]]] = None

    def arity_ok(self, argc: int) -> bool:
        """Whether ``argc`` arguments (name included) satisfy the arity."""
        return argc == self.arity if self.arity > 0 else argc >= -self.arity

    def keys(self, args: Sequence[bytes]) -> List[bytes]:
        """The key arguments of ``args`` (a command line of this command)."""
        if self.find_keys is not None:
            return self.find_keys(args)
        if not self.first:
            return []
        last = self.last if self.last >= 0 else len(args) + self.last
        return [args[i] for i in range(self.first, last + 1, self.step or 1) if i < len(args)]

    @property
    def is_write(self) -> bool:
        """Whether the command may change data (served by primaries only)."""
        return "write" in self.flags

    def acl_categories(self) -> List[str]:
        """ACL categories as COMMAND INFO lists them."""
        cats = ["@write" if self.is_write else "@read"] if self.first else []
        if self.categories:
            cats += list(self.categories)
        else:
            cats.append("@" + self.group)
            cats.append("@fast" if "fast" in self.flags else "@slow")
        return cats


#: name (lower-case bytes) -> spec, for the data commands of this module.
COMMANDS: Dict[bytes, CommandSpec] = {}


def register(table: Dict[bytes, CommandSpec], name: str, arity: int, flags: str = "",
             first: int = 0, last: int = 0, step: int = 0, group: str = "generic",
             scope: str = "db") -> Callable[[Handler], Handler]:
    """Decorator: add a handler to ``table`` under ``name``."""

    def decorate(fn: Handler) -> Handler:
        table[name.encode()] = CommandSpec(
            name=name, handler=fn, arity=arity, flags=frozenset(flags.split()), first=first,
            last=last, step=step, group=group, scope=scope)
        return fn

    return decorate


def _cmd(name: str, arity: int, flags: str = "", first: int = 0, last: int = 0, step: int = 0,
         group: str = "generic") -> Callable[[Handler], Handler]:
    return register(COMMANDS, name, arity, flags, first, last, step, group)


def _key1(name: str, arity: int, flags: str, group: str) -> Callable[[Handler], Handler]:
    return _cmd(name, arity, flags, 1, 1, 1, group)


# ------------------------------------------------------------------------------------------------
# Argument parsing
# ------------------------------------------------------------------------------------------------
_INT_RE = re.compile(rb"-?(0|[1-9][0-9]*)")
_FLOAT_RE = re.compile(rb"[+-]?(inf|infinity|([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?)", re.I)


def parse_int(arg: bytes, message: str = E_INT) -> int:
    """A strict 64-bit integer as Redis' string2ll reads it."""
    if not _INT_RE.fullmatch(arg) or arg == b"-0":
        raise CommandError(message)
    value = int(arg)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise CommandError(message)
    return value


def parse_float(arg: bytes, message: str = E_FLOAT) -> float:
    """A double as Redis reads it (no NaN, no spaces, no underscores)."""
    if not _FLOAT_RE.fullmatch(arg):
        raise CommandError(message)
    return float(arg)


def _word(arg: bytes) -> bytes:
    return arg.upper()


def _int_reply_range(start: int, stop: int, size: int) -> Optional[Tuple[int, int]]:
    """Redis' index normalisation for LRANGE/ZRANGE/GETRANGE: an inclusive [start, stop] or None."""
    if start < 0:
        start += size
    if stop < 0:
        stop += size
    start = max(start, 0)
    if start > stop or start >= size:
        return None
    return start, min(stop, size - 1)


# ------------------------------------------------------------------------------------------------
# Glob patterns (KEYS, SCAN MATCH, CONFIG GET)
# ------------------------------------------------------------------------------------------------
def _glob_regex(pattern: bytes) -> re.Pattern[bytes]:
    out = bytearray()
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i:i + 1]
        if c == b"*":
            out += b".*"
        elif c == b"?":
            out += b"."
        elif c == b"\\" and i + 1 < n:
            i += 1
            out += re.escape(pattern[i:i + 1])
        elif c == b"[":
            j = i + 1
            negate = j < n and pattern[j:j + 1] == b"^"
            if negate:
                j += 1
            items = bytearray()
            while j < n and pattern[j:j + 1] != b"]":
                if pattern[j:j + 1] == b"\\" and j + 1 < n:
                    j += 1
                    items += re.escape(pattern[j:j + 1])
                elif pattern[j + 1:j + 2] == b"-" and j + 2 < n and pattern[j + 2:j + 3] != b"]":
                    lo, hi = sorted((pattern[j], pattern[j + 2]))
                    items += re.escape(bytes([lo])) + b"-" + re.escape(bytes([hi]))
                    j += 2
                else:
                    items += re.escape(pattern[j:j + 1])
                j += 1
            out += b"[" + (b"^" if negate else b"") + bytes(items) + b"]" if items else (
                b"." if negate else b"(?!)")
            i = j
        else:
            out += re.escape(c)
        i += 1
    return re.compile(bytes(out), re.S)


_GLOB_CACHE: Dict[bytes, re.Pattern[bytes]] = {}


def glob_match(pattern: bytes, text: bytes, nocase: bool = False) -> bool:
    """Redis' glob matching (``*``, ``?``, ``[a-z]``, ``[^x]``, ``\\`` escapes)."""
    if nocase:
        pattern, text = pattern.lower(), text.lower()
    regex = _GLOB_CACHE.get(pattern)
    if regex is None:
        regex = _GLOB_CACHE[pattern] = _glob_regex(pattern)
    return regex.fullmatch(text) is not None


# ------------------------------------------------------------------------------------------------
# Keys
# ------------------------------------------------------------------------------------------------
@_cmd("del", -2, "write", 1, -1, 1, "keyspace")
def _del(db: Keyspace, a: List[bytes]) -> int:
    return sum(db.delete(k) for k in a[1:])


COMMANDS[b"unlink"] = CommandSpec(
    "unlink", _del, -2, frozenset({"write", "fast"}), 1, -1, 1, "keyspace")


@_cmd("exists", -2, "readonly fast", 1, -1, 1, "keyspace")
def _exists(db: Keyspace, a: List[bytes]) -> int:
    return sum(db.exists(k) for k in a[1:])


@_cmd("touch", -2, "readonly fast", 1, -1, 1, "keyspace")
def _touch(db: Keyspace, a: List[bytes]) -> int:
    return sum(db.exists(k) for k in a[1:])


@_key1("type", 2, "readonly fast", "keyspace")
def _type(db: Keyspace, a: List[bytes]) -> SimpleString:
    return SimpleString(db.type_name(a[1]).encode())


def _expire_generic(db: Keyspace, a: List[bytes], unit_ms: int, absolute: bool,
                    name: str) -> int:
    amount = parse_int(a[2])
    flags = {_word(x) for x in a[3:]}
    for word in a[3:]:
        if _word(word) not in (b"NX", b"XX", b"GT", b"LT"):
            raise CommandError(f"ERR Unsupported option {word.decode(errors='replace')}")
    if b"NX" in flags and flags & {b"XX", b"GT", b"LT"}:
        raise CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if {b"GT", b"LT"} <= flags:
        raise CommandError("ERR GT and LT options at the same time are not compatible")
    when = amount * unit_ms if absolute else db.now_ms() + amount * unit_ms
    if abs(amount) > _INT64_MAX // 1000 or not _INT64_MIN <= when <= _INT64_MAX:
        raise CommandError(f"ERR invalid expire time in '{name}' command")
    if not db.exists(a[1]):
        return 0
    current = db.expires.get(a[1])
    if b"NX" in flags and current is not None:
        return 0
    if b"XX" in flags and current is None:
        return 0
    if b"GT" in flags and (current is None or when <= current):
        return 0
    if b"LT" in flags and current is not None and when >= current:
        return 0
    db.set_expire(a[1], when)
    return 1


@_key1("expire", -3, "write fast", "keyspace")
def _expire(db: Keyspace, a: List[bytes]) -> int:
    return _expire_generic(db, a, 1000, False, "expire")


@_key1("pexpire", -3, "write fast", "keyspace")
def _pexpire(db: Keyspace, a: List[bytes]) -> int:
    return _expire_generic(db, a, 1, False, "pexpire")


@_key1("expireat", -3, "write fast", "keyspace")
def _expireat(db: Keyspace, a: List[bytes]) -> int:
    return _expire_generic(db, a, 1000, True, "expireat")


@_key1("pexpireat", -3, "write fast", "keyspace")
def _pexpireat(db: Keyspace, a: List[bytes]) -> int:
    return _expire_generic(db, a, 1, True, "pexpireat")


def _ttl_generic(db: Keyspace, key: bytes, ms: bool) -> int:
    if not db.exists(key):
        return -2
    left = db.ttl_ms(key)
    if left is None:
        return -1
    return left if ms else (left + 500) // 1000


@_key1("ttl", 2, "readonly fast", "keyspace")
def _ttl(db: Keyspace, a: List[bytes]) -> int:
    return _ttl_generic(db, a[1], False)


@_key1("pttl", 2, "readonly fast", "keyspace")
def _pttl(db: Keyspace, a: List[bytes]) -> int:
    return _ttl_generic(db, a[1], True)


@_key1("expiretime", 2, "readonly fast", "keyspace")
def _expiretime(db: Keyspace, a: List[bytes]) -> int:
    if not db.exists(a[1]):
        return -2
    when = db.expires.get(a[1])
    return -1 if when is None else when // 1000


@_key1("persist", 2, "write fast", "keyspace")
def _persist(db: Keyspace, a: List[bytes]) -> int:
    if not db.exists(a[1]) or a[1] not in db.expires:
        return 0
    del db.expires[a[1]]
    db.modified(a[1])
    return 1


def _rename(db: Keyspace, a: List[bytes], nx: bool) -> Any:
    src, dst = a[1], a[2]
    value = db.get(src)
    if value is None:
        raise CommandError(E_NO_KEY)
    if src == dst:
        return 0 if nx else OK
    if nx and db.exists(dst):
        return 0
    when = db.expires.get(src)
    db.delete(src)
    db.restore(dst, value, when)
    return 1 if nx else OK


@_cmd("rename", 3, "write", 1, 2, 1, "keyspace")
def _rename_cmd(db: Keyspace, a: List[bytes]) -> Any:
    return _rename(db, a, False)


@_cmd("renamenx", 3, "write fast", 1, 2, 1, "keyspace")
def _renamenx(db: Keyspace, a: List[bytes]) -> Any:
    return _rename(db, a, True)


@_cmd("randomkey", 1, "readonly", group="keyspace")
def _randomkey(db: Keyspace, a: List[bytes]) -> Optional[bytes]:
    keys = db.live_keys()
    return db.rng.choice(sorted(keys)) if keys else None


@_cmd("dbsize", 1, "readonly fast", group="keyspace")
def _dbsize(db: Keyspace, a: List[bytes]) -> int:
    return len(db.live_keys())


@_cmd("keys", 2, "readonly", group="keyspace")
def _keys(db: Keyspace, a: List[bytes]) -> List[bytes]:
    return sorted(k for k in db.live_keys() if glob_match(a[1], k))


def _flush(db: Keyspace, a: List[bytes]) -> SimpleString:
    if len(a) > 2 or (len(a) == 2 and _word(a[1]) not in (b"ASYNC", b"SYNC")):
        raise CommandError(E_SYNTAX)
    db.flush()
    return OK


COMMANDS[b"flushall"] = CommandSpec("flushall", _flush, -1, frozenset({"write"}), group="keyspace",
                                    categories=("@keyspace", "@write", "@slow", "@dangerous"))
COMMANDS[b"flushdb"] = CommandSpec("flushdb", _flush, -1, frozenset({"write"}), group="keyspace",
                                   categories=("@keyspace", "@write", "@slow", "@dangerous"))


def _scan_hash(key: bytes) -> int:
    return zlib.crc32(key) + 1


@_cmd("scan", -2, "readonly", group="keyspace")
def _scan(db: Keyspace, a: List[bytes]) -> List[Any]:
    """Cursor = a position in a fixed hash order, so keys present throughout are all returned."""
    if not re.fullmatch(rb"[0-9]+", a[1]) or int(a[1]) >= 2**64:
        raise CommandError("ERR invalid cursor")
    cursor = int(a[1])
    match: Optional[bytes] = None
    count = 10
    type_name: Optional[str] = None
    i = 2
    while i < len(a):
        opt = _word(a[i])
        if i + 1 >= len(a):
            raise CommandError(E_SYNTAX)
        if opt == b"MATCH":
            match = a[i + 1]
        elif opt == b"COUNT":
            count = parse_int(a[i + 1])
            if count < 1:
                raise CommandError(E_SYNTAX)
        elif opt == b"TYPE":
            type_name = a[i + 1].decode(errors="replace").lower()
        else:
            raise CommandError(E_SYNTAX)
        i += 2
    ordered = sorted((_scan_hash(k), k) for k in db.live_keys() if _scan_hash(k) >= cursor)
    batch: List[bytes] = []
    next_cursor = 0
    for index, (h, key) in enumerate(ordered):
        if len(batch) >= count and h != ordered[index - 1][0]:
            next_cursor = h
            break
        batch.append(key)
    if match is not None:
        batch = [k for k in batch if glob_match(match, k)]
    if type_name is not None:
        batch = [k for k in batch if db.type_name(k) == type_name]
    return [b"%d" % next_cursor, batch]


# ------------------------------------------------------------------------------------------------
# Strings
# ------------------------------------------------------------------------------------------------
def _string(db: Keyspace, key: bytes) -> Optional[bytes]:
    return db.get_as(key, bytes)


def _parse_expiry(db: Keyspace, unit: bytes, arg: bytes, name: str) -> int:
    """EX/PX/EXAT/PXAT argument -> absolute deadline in ms."""
    amount = parse_int(arg)
    bad = f"ERR invalid expire time in '{name}' command"
    if amount <= 0 or amount > _INT64_MAX // 1000:
        raise CommandError(bad)
    if unit == b"EX":
        return db.now_ms() + amount * 1000
    if unit == b"PX":
        return db.now_ms() + amount
    if unit == b"EXAT":
        return amount * 1000
    return amount


@_key1("set", -3, "write denyoom", "string")
def _set(db: Keyspace, a: List[bytes]) -> Any:
    key, value = a[1], a[2]
    nx = xx = get = keep = False
    when: Optional[int] = None
    expiry_seen = False
    i = 3
    while i < len(a):
        opt = _word(a[i])
        if opt == b"NX" and not xx:
            nx = True
        elif opt == b"XX" and not nx:
            xx = True
        elif opt == b"GET":
            get = True
        elif opt == b"KEEPTTL" and not expiry_seen:
            keep = expiry_seen = True
        elif opt in (b"EX", b"PX", b"EXAT", b"PXAT") and not expiry_seen and i + 1 < len(a):
            when = _parse_expiry(db, opt, a[i + 1], "set")
            expiry_seen = True
            i += 1
        else:
            raise CommandError(E_SYNTAX)
        i += 1
    old = _string(db, key) if get else None
    exists = db.exists(key)
    if (nx and exists) or (xx and not exists):
        return old
    db.put(key, value, keep_ttl=keep)
    if when is not None:
        db.expires[key] = when
    return old if get else OK


@_key1("setnx", 3, "write denyoom fast", "string")
def _setnx(db: Keyspace, a: List[bytes]) -> int:
    if db.exists(a[1]):
        return 0
    db.put(a[1], a[2])
    return 1


def _setex_generic(db: Keyspace, a: List[bytes], unit: bytes, name: str) -> SimpleString:
    when = _parse_expiry(db, unit, a[2], name)
    db.put(a[1], a[3])
    db.expires[a[1]] = when
    return OK


@_key1("setex", 4, "write denyoom", "string")
def _setex(db: Keyspace, a: List[bytes]) -> SimpleString:
    return _setex_generic(db, a, b"EX", "setex")


@_key1("psetex", 4, "write denyoom", "string")
def _psetex(db: Keyspace, a: List[bytes]) -> SimpleString:
    return _setex_generic(db, a, b"PX", "psetex")


@_key1("get", 2, "readonly fast", "string")
def _get(db: Keyspace, a: List[bytes]) -> Optional[bytes]:
    return _string(db, a[1])


@_key1("getset", 3, "write denyoom fast", "string")
def _getset(db: Keyspace, a: List[bytes]) -> Optional[bytes]:
    old = _string(db, a[1])
    db.put(a[1], a[2])
    return old


@_key1("getdel", 2, "write fast", "string")
def _getdel(db: Keyspace, a: List[bytes]) -> Optional[bytes]:
    old = _string(db, a[1])
    if old is not None:
        db.delete(a[1])
    return old


@_key1("getex", -2, "write fast", "string")
def _getex(db: Keyspace, a: List[bytes]) -> Optional[bytes]:
    when: Optional[int] = None
    persist = False
    opts = a[2:]
    if opts:
        opt = _word(opts[0])
        if opt == b"PERSIST" and len(opts) == 1:
            persist = True
        elif opt in (b"EX", b"PX", b"EXAT", b"PXAT") and len(opts) == 2:
            when = _parse_expiry(db, opt, opts[1], "getex")
        else:
            raise CommandError(E_SYNTAX)
    value = _string(db, a[1])
    if value is not None:
        if persist and a[1] in db.expires:
            del db.expires[a[1]]
            db.modified(a[1])
        elif when is not None:
            db.set_expire(a[1], when)
    return value


@_cmd("mget", -2, "readonly fast", 1, -1, 1, "string")
def _mget(db: Keyspace, a: List[bytes]) -> List[Optional[bytes]]:
    out: List[Optional[bytes]] = []
    for key in a[1:]:
        value = db.get(key)
        out.append(value if isinstance(value, bytes) else None)
    return out


def _pairs_or_arity(a: List[bytes], name: str) -> List[Tuple[bytes, bytes]]:
    if len(a) % 2 == 0:
        raise CommandError(f"ERR wrong number of arguments for '{name}' command")
    return [(a[i], a[i + 1]) for i in range(1, len(a), 2)]


@_cmd("mset", -3, "write denyoom", 1, -1, 2, "string")
def _mset(db: Keyspace, a: List[bytes]) -> SimpleString:
    for key, value in _pairs_or_arity(a, "mset"):
        db.put(key, value)
    return OK


@_cmd("msetnx", -3, "write denyoom", 1, -1, 2, "string")
def _msetnx(db: Keyspace, a: List[bytes]) -> int:
    pairs = _pairs_or_arity(a, "msetnx")
    if any(db.exists(key) for key, _ in pairs):
        return 0
    for key, value in pairs:
        db.put(key, value)
    return 1


def _incr_by(db: Keyspace, key: bytes, delta: int) -> int:
    old = _string(db, key)
    current = 0 if old is None else parse_int(old)
    result = current + delta
    if not _INT64_MIN <= result <= _INT64_MAX:
        raise CommandError(E_OVERFLOW)
    db.put(key, b"%d" % result, keep_ttl=True)
    return result


@_key1("incr", 2, "write denyoom fast", "string")
def _incr(db: Keyspace, a: List[bytes]) -> int:
    return _incr_by(db, a[1], 1)


@_key1("decr", 2, "write denyoom fast", "string")
def _decr(db: Keyspace, a: List[bytes]) -> int:
    return _incr_by(db, a[1], -1)


@_key1("incrby", 3, "write denyoom fast", "string")
def _incrby(db: Keyspace, a: List[bytes]) -> int:
    return _incr_by(db, a[1], parse_int(a[2]))


@_key1("decrby", 3, "write denyoom fast", "string")
def _decrby(db: Keyspace, a: List[bytes]) -> int:
    delta = parse_int(a[2])
    if delta == _INT64_MIN:
        raise CommandError("ERR decrement would overflow")
    return _incr_by(db, a[1], -delta)


@_key1("incrbyfloat", 3, "write denyoom fast", "string")
def _incrbyfloat(db: Keyspace, a: List[bytes]) -> bytes:
    old = _string(db, a[1])
    current = 0.0 if old is None else parse_float(old)
    result = current + parse_float(a[2])
    if math.isnan(result) or math.isinf(result):
        raise CommandError("ERR increment would produce NaN or Infinity")
    text = _format_incr_float(result)
    db.put(a[1], text, keep_ttl=True)
    return text


@_key1("append", 3, "write denyoom fast", "string")
def _append(db: Keyspace, a: List[bytes]) -> int:
    value = (_string(db, a[1]) or b"") + a[2]
    db.put(a[1], value, keep_ttl=True)
    return len(value)


@_key1("strlen", 2, "readonly fast", "string")
def _strlen(db: Keyspace, a: List[bytes]) -> int:
    return len(_string(db, a[1]) or b"")


def _getrange_impl(db: Keyspace, a: List[bytes]) -> bytes:
    start, end = parse_int(a[2]), parse_int(a[3])
    value = _string(db, a[1]) or b""
    size = len(value)
    if start < 0 and end < 0 and start > end:
        return b""
    start = max(0, start + size if start < 0 else start)
    end = max(0, end + size if end < 0 else end)
    end = min(end, size - 1)
    return b"" if start > end or not size else value[start:end + 1]


COMMANDS[b"getrange"] = CommandSpec("getrange", _getrange_impl, 4, frozenset({"readonly"}),
                                    1, 1, 1, "string")
COMMANDS[b"substr"] = CommandSpec("substr", _getrange_impl, 4, frozenset({"readonly"}),
                                  1, 1, 1, "string")


@_key1("setrange", 4, "write denyoom", "string")
def _setrange(db: Keyspace, a: List[bytes]) -> int:
    offset = parse_int(a[2])
    if offset < 0 or offset + len(a[3]) > 512 * 1024 * 1024:
        raise CommandError("ERR offset is out of range" if offset < 0 else
                           "ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    value = _string(db, a[1])
    if value is None and not a[3]:
        return 0
    old = value or b""
    if not a[3]:
        return len(old)
    padded = old.ljust(offset, b"\x00")
    new = padded[:offset] + a[3] + padded[offset + len(a[3]):]
    db.put(a[1], new, keep_ttl=True)
    return len(new)


# ------------------------------------------------------------------------------------------------
# Hashes
# ------------------------------------------------------------------------------------------------
def _hash(db: Keyspace, key: bytes) -> Optional[HashValue]:
    return db.get_as(key, HashValue)


@_key1("hset", -4, "write denyoom fast", "hash")
def _hset(db: Keyspace, a: List[bytes]) -> int:
    if len(a) % 2:
        raise CommandError("ERR wrong number of arguments for 'hset' command")
    h = db.get_or_create(a[1], HashValue)
    added = 0
    for i in range(2, len(a), 2):
        added += a[i] not in h
        h[a[i]] = a[i + 1]
    db.changed(a[1])
    return added


@_key1("hmset", -4, "write denyoom fast", "hash")
def _hmset(db: Keyspace, a: List[bytes]) -> SimpleString:
    if len(a) % 2:
        raise CommandError("ERR wrong number of arguments for 'hmset' command")
    _hset(db, a)
    return OK


@_key1("hsetnx", 4, "write denyoom fast", "hash")
def _hsetnx(db: Keyspace, a: List[bytes]) -> int:
    h = db.get_or_create(a[1], HashValue)
    if a[2] in h:
        return 0
    h[a[2]] = a[3]
    db.changed(a[1])
    return 1


@_key1("hget", 3, "readonly fast", "hash")
def _hget(db: Keyspace, a: List[bytes]) -> Optional[bytes]:
    return (_hash(db, a[1]) or HashValue()).get(a[2])


@_key1("hmget", -3, "readonly fast", "hash")
def _hmget(db: Keyspace, a: List[bytes]) -> List[Optional[bytes]]:
    h = _hash(db, a[1]) or HashValue()
    return [h.get(f) for f in a[2:]]


@_key1("hgetall", 2, "readonly", "hash")
def _hgetall(db: Keyspace, a: List[bytes]) -> Dict[bytes, bytes]:
    return dict(_hash(db, a[1]) or HashValue())


@_key1("hdel", -3, "write fast", "hash")
def _hdel(db: Keyspace, a: List[bytes]) -> int:
    h = _hash(db, a[1])
    if h is None:
        return 0
    removed = sum(h.pop(f, None) is not None for f in a[2:])
    if removed:
        db.changed(a[1])
    return removed


@_key1("hexists", 3, "readonly fast", "hash")
def _hexists(db: Keyspace, a: List[bytes]) -> int:
    return int(a[2] in (_hash(db, a[1]) or HashValue()))


@_key1("hlen", 2, "readonly fast", "hash")
def _hlen(db: Keyspace, a: List[bytes]) -> int:
    return len(_hash(db, a[1]) or HashValue())


@_key1("hkeys", 2, "readonly", "hash")
def _hkeys(db: Keyspace, a: List[bytes]) -> List[bytes]:
    return list(_hash(db, a[1]) or HashValue())


@_key1("hvals", 2, "readonly", "hash")
def _hvals(db: Keyspace, a: List[bytes]) -> List[bytes]:
    return list((_hash(db, a[1]) or HashValue()).values())


@_key1("hstrlen", 3, "readonly fast", "hash")
def _hstrlen(db: Keyspace, a: List[bytes]) -> int:
    return len((_hash(db, a[1]) or HashValue()).get(a[2], b""))


@_key1("hincrby", 4, "write denyoom fast", "hash")
def _hincrby(db: Keyspace, a: List[bytes]) -> int:
    delta = parse_int(a[3])
    h = _hash(db, a[1])
    old = (h or HashValue()).get(a[2])
    current = 0 if old is None else parse_int(old, "ERR hash value is not an integer")
    result = current + delta
    if not _INT64_MIN <= result <= _INT64_MAX:
        raise CommandError(E_OVERFLOW)
    h = db.get_or_create(a[1], HashValue)
    h[a[2]] = b"%d" % result
    db.changed(a[1])
    return result


@_key1("hincrbyfloat", 4, "write denyoom fast", "hash")
def _hincrbyfloat(db: Keyspace, a: List[bytes]) -> bytes:
    delta = parse_float(a[3])
    h = _hash(db, a[1])
    old = (h or HashValue()).get(a[2])
    current = 0.0 if old is None else parse_float(old, "ERR hash value is not a float")
    result = current + delta
    if math.isnan(result) or math.isinf(result):
        raise CommandError("ERR increment would produce NaN or Infinity")
    text = _format_incr_float(result)
    h = db.get_or_create(a[1], HashValue)
    h[a[2]] = text
    db.changed(a[1])
    return text


# ------------------------------------------------------------------------------------------------
# Lists
# ------------------------------------------------------------------------------------------------
def _list(db: Keyspace, key: bytes) -> Optional[ListValue]:
    return db.get_as(key, ListValue)


def _push(db: Keyspace, a: List[bytes], left: bool, only_existing: bool) -> int:
    if only_existing and _list(db, a[1]) is None:
        return 0
    lst = db.get_or_create(a[1], ListValue)
    for value in a[2:]:
        if left:
            lst.insert(0, value)
        else:
            lst.append(value)
    db.changed(a[1])
    return len(lst)


@_key1("lpush", -3, "write denyoom fast", "list")
def _lpush(db: Keyspace, a: List[bytes]) -> int:
    return _push(db, a, True, False)


@_key1("rpush", -3, "write denyoom fast", "list")
def _rpush(db: Keyspace, a: List[bytes]) -> int:
    return _push(db, a, False, False)


@_key1("lpushx", -3, "write denyoom fast", "list")
def _lpushx(db: Keyspace, a: List[bytes]) -> int:
    return _push(db, a, True, True)


@_key1("rpushx", -3, "write denyoom fast", "list")
def _rpushx(db: Keyspace, a: List[bytes]) -> int:
    return _push(db, a, False, True)


def _pop(db: Keyspace, a: List[bytes], left: bool) -> Any:
    if len(a) > 3:
        raise CommandError(E_SYNTAX)
    count: Optional[int] = None
    if len(a) == 3:
        count = parse_int(a[2], E_POSITIVE)
        if count < 0:
            raise CommandError(E_POSITIVE)
    lst = _list(db, a[1])
    if lst is None:
        return None if count is None else NULL_ARRAY
    n = 1 if count is None else min(count, len(lst))
    popped = [lst.pop(0) if left else lst.pop() for _ in range(n)]
    if popped:
        db.changed(a[1])
    return popped[0] if count is None else popped


@_key1("lpop", -2, "write fast", "list")
def _lpop(db: Keyspace, a: List[bytes]) -> Any:
    return _pop(db, a, True)


@_key1("rpop", -2, "write fast", "list")
def _rpop(db: Keyspace, a: List[bytes]) -> Any:
    return _pop(db, a, False)


@_key1("lrange", 4, "readonly", "list")
def _lrange(db: Keyspace, a: List[bytes]) -> List[bytes]:
    start, stop = parse_int(a[2]), parse_int(a[3])
    lst = _list(db, a[1]) or ListValue()
    span = _int_reply_range(start, stop, len(lst))
    return [] if span is None else list(lst[span[0]:span[1] + 1])


@_key1("llen", 2, "readonly fast", "list")
def _llen(db: Keyspace, a: List[bytes]) -> int:
    return len(_list(db, a[1]) or ListValue())


@_key1("lindex", 3, "readonly", "list")
def _lindex(db: Keyspace, a: List[bytes]) -> Optional[bytes]:
    index = parse_int(a[2])
    lst = _list(db, a[1]) or ListValue()
    if index < 0:
        index += len(lst)
    return lst[index] if 0 <= index < len(lst) else None


@_key1("lset", 4, "write denyoom", "list")
def _lset(db: Keyspace, a: List[bytes]) -> SimpleString:
    index = parse_int(a[2])
    lst = _list(db, a[1])
    if lst is None:
        raise CommandError(E_NO_KEY)
    if index < 0:
        index += len(lst)
    if not 0 <= index < len(lst):
        raise CommandError("ERR index out of range")
    lst[index] = a[3]
    db.changed(a[1])
    return OK


@_key1("lrem", 4, "write", "list")
def _lrem(db: Keyspace, a: List[bytes]) -> int:
    count = parse_int(a[2])
    lst = _list(db, a[1])
    if lst is None:
        return 0
    positions = [i for i, v in enumerate(lst) if v == a[3]]
    if count > 0:
        positions = positions[:count]
    elif count < 0:
        positions = positions[count:]
    for i in reversed(positions):
        del lst[i]
    if positions:
        db.changed(a[1])
    return len(positions)


@_key1("ltrim", 4, "write", "list")
def _ltrim(db: Keyspace, a: List[bytes]) -> SimpleString:
    start, stop = parse_int(a[2]), parse_int(a[3])
    lst = _list(db, a[1])
    if lst is None:
        return OK
    span = _int_reply_range(start, stop, len(lst))
    kept = [] if span is None else lst[span[0]:span[1] + 1]
    if kept != lst:
        lst[:] = kept
        db.changed(a[1])
    return OK


@_key1("linsert", 5, "write denyoom", "list")
def _linsert(db: Keyspace, a: List[bytes]) -> int:
    where = _word(a[2])
    if where not in (b"BEFORE", b"AFTER"):
        raise CommandError(E_SYNTAX)
    lst = _list(db, a[1])
    if lst is None:
        return 0
    try:
        index = lst.index(a[3])
    except ValueError:
        return -1
    lst.insert(index if where == b"BEFORE" else index + 1, a[4])
    db.changed(a[1])
    return len(lst)


def _move(db: Keyspace, src: bytes, dst: bytes, from_left: bool, to_left: bool) -> Optional[bytes]:
    source = _list(db, src)
    _list(db, dst)  # WRONGTYPE on the destination is checked before popping
    if not source:
        return None
    value = source.pop(0) if from_left else source.pop()
    db.changed(src)
    target = db.get_or_create(dst, ListValue)
    if to_left:
        target.insert(0, value)
    else:
        target.append(value)
    db.changed(dst)
    return value


def _side(arg: bytes) -> bool:
    word = _word(arg)
    if word not in (b"LEFT", b"RIGHT"):
        raise CommandError(E_SYNTAX)
    return word == b"LEFT"


@_cmd("lmove", 5, "write denyoom", 1, 2, 1, "list")
def _lmove(db: Keyspace, a: List[bytes]) -> Optional[bytes]:
    return _move(db, a[1], a[2], _side(a[3]), _side(a[4]))


@_cmd("rpoplpush", 3, "write denyoom", 1, 2, 1, "list")
def _rpoplpush(db: Keyspace, a: List[bytes]) -> Optional[bytes]:
    return _move(db, a[1], a[2], False, True)


def _blocking_pop(db: Keyspace, a: List[bytes], left: bool) -> Any:
    """BLPOP/BRPOP never block in the fake: data now, or nil at once (as if timed out)."""
    timeout = parse_float(a[-1], "ERR timeout is not a float or out of range")
    if timeout < 0:
        raise CommandError("ERR timeout is negative")
    for key in a[1:-1]:
        lst = _list(db, key)
        if lst:
            value = lst.pop(0) if left else lst.pop()
            db.changed(key)
            return [key, value]
    return NULL_ARRAY


@_cmd("blpop", -3, "write noscript blocking", 1, -2, 1, "list")
def _blpop(db: Keyspace, a: List[bytes]) -> Any:
    return _blocking_pop(db, a, True)


@_cmd("brpop", -3, "write noscript blocking", 1, -2, 1, "list")
def _brpop(db: Keyspace, a: List[bytes]) -> Any:
    return _blocking_pop(db, a, False)


# ------------------------------------------------------------------------------------------------
# Sets
# ------------------------------------------------------------------------------------------------
def _set_of(db: Keyspace, key: bytes) -> Optional[SetValue]:
    return db.get_as(key, SetValue)


@_key1("sadd", -3, "write denyoom fast", "set")
def _sadd(db: Keyspace, a: List[bytes]) -> int:
    s = db.get_or_create(a[1], SetValue)
    before = len(s)
    s.update(a[2:])
    if len(s) != before:
        db.changed(a[1])
    else:
        db.forget_if_empty(a[1])
    return len(s) - before


@_key1("srem", -3, "write fast", "set")
def _srem(db: Keyspace, a: List[bytes]) -> int:
    s = _set_of(db, a[1])
    if s is None:
        return 0
    before = len(s)
    s.difference_update(a[2:])
    if len(s) != before:
        db.changed(a[1])
    return before - len(s)


@_key1("smembers", 2, "readonly", "set")
def _smembers(db: Keyspace, a: List[bytes]) -> Set[bytes]:
    return set(_set_of(db, a[1]) or ())


@_key1("sismember", 3, "readonly fast", "set")
def _sismember(db: Keyspace, a: List[bytes]) -> int:
    return int(a[2] in (_set_of(db, a[1]) or ()))


@_key1("smismember", -3, "readonly fast", "set")
def _smismember(db: Keyspace, a: List[bytes]) -> List[int]:
    s = _set_of(db, a[1]) or SetValue()
    return [int(m in s) for m in a[2:]]


@_key1("scard", 2, "readonly fast", "set")
def _scard(db: Keyspace, a: List[bytes]) -> int:
    return len(_set_of(db, a[1]) or ())


@_key1("spop", -2, "write fast", "set")
def _spop(db: Keyspace, a: List[bytes]) -> Any:
    if len(a) > 3:
        raise CommandError(E_SYNTAX)
    count: Optional[int] = None
    if len(a) == 3:
        count = parse_int(a[2], E_POSITIVE)
        if count < 0:
            raise CommandError(E_POSITIVE)
    s = _set_of(db, a[1])
    if s is None:
        return None if count is None else set()
    chosen = db.rng.sample(sorted(s), min(1 if count is None else count, len(s)))
    s.difference_update(chosen)
    if chosen:
        db.changed(a[1])
    if count is None:
        return chosen[0] if chosen else None
    return set(chosen)  # a RESP3 set, as Redis answers


@_key1("srandmember", -2, "readonly", "set")
def _srandmember(db: Keyspace, a: List[bytes]) -> Any:
    if len(a) > 3:
        raise CommandError(E_SYNTAX)
    count = parse_int(a[2]) if len(a) == 3 else None
    members = sorted(_set_of(db, a[1]) or ())
    if count is None:
        return db.rng.choice(members) if members else None
    if not members or count == 0:
        return []
    if count > 0:
        return db.rng.sample(members, min(count, len(members)))
    return [db.rng.choice(members) for _ in range(-count)]


def _sets(db: Keyspace, keys: Iterable[bytes]) -> List[Set[bytes]]:
    return [set(_set_of(db, k) or ()) for k in keys]


def _combine(op: str, sets: List[Set[bytes]]) -> Set[bytes]:
    if not sets:
        return set()
    result = set(sets[0])
    for other in sets[1:]:
        if op == "inter":
            result &= other
        elif op == "union":
            result |= other
        else:
            result -= other
    return result


def _set_op(op: str) -> Handler:
    def read(db: Keyspace, a: List[bytes]) -> Set[bytes]:
        return _combine(op, _sets(db, a[1:]))

    return read


def _set_op_store(op: str) -> Handler:
    def store(db: Keyspace, a: List[bytes]) -> int:
        result = _combine(op, _sets(db, a[2:]))
        db.delete(a[1])
        if result:
            db.put(a[1], SetValue(result))
        return len(result)

    return store


for _op in ("inter", "union", "diff"):
    COMMANDS[f"s{_op}".encode()] = CommandSpec(
        f"s{_op}", _set_op(_op), -2, frozenset({"readonly"}), 1, -1, 1, "set")
    COMMANDS[f"s{_op}store".encode()] = CommandSpec(
        f"s{_op}store", _set_op_store(_op), -3, frozenset({"write", "denyoom"}), 1, -1, 1, "set")


@_cmd("smove", 4, "write fast", 1, 2, 1, "set")
def _smove(db: Keyspace, a: List[bytes]) -> int:
    src = _set_of(db, a[1])
    _set_of(db, a[2])
    if src is None or a[3] not in src:
        return 0
    if a[1] == a[2]:
        return 1
    src.discard(a[3])
    db.changed(a[1])
    db.get_or_create(a[2], SetValue).add(a[3])
    db.changed(a[2])
    return 1


# ------------------------------------------------------------------------------------------------
# Sorted sets
# ------------------------------------------------------------------------------------------------
def _zset(db: Keyspace, key: bytes) -> Optional[ZSetValue]:
    return db.get_as(key, ZSetValue)


@_key1("zadd", -4, "write denyoom fast", "sortedset")
def _zadd(db: Keyspace, a: List[bytes]) -> Any:
    opts: Set[bytes] = set()
    i = 2
    while i < len(a) and _word(a[i]) in (b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR"):
        opts.add(_word(a[i]))
        i += 1
    rest = a[i:]
    if not rest or len(rest) % 2:
        raise CommandError(E_SYNTAX)
    if {b"NX", b"XX"} <= opts:
        raise CommandError("ERR XX and NX options at the same time are not compatible")
    if len(opts & {b"GT", b"LT", b"NX"}) > 1:
        raise CommandError("ERR GT, LT, and/or NX options at the same time are not compatible")
    if b"INCR" in opts and len(rest) != 2:
        raise CommandError("ERR INCR option supports a single increment-element pair")
    pairs = [(parse_float(rest[j]), rest[j + 1]) for j in range(0, len(rest), 2)]
    z = db.get_or_create(a[1], ZSetValue)
    added = changed = 0
    incr_result: Optional[float] = None
    for score, member in pairs:
        old = z.get(member)
        if (b"NX" in opts and old is not None) or (b"XX" in opts and old is None):
            continue
        new = score + old if (b"INCR" in opts and old is not None) else score
        if math.isnan(new):
            db.forget_if_empty(a[1])
            raise CommandError("ERR resulting score is not a number (NaN)")
        if old is not None and ((b"GT" in opts and new <= old) or (b"LT" in opts and new >= old)):
            continue
        incr_result = new
        if old is None:
            added += 1
        elif new != old:
            changed += 1
        z[member] = new
    if added or changed:
        db.changed(a[1])
    else:
        db.forget_if_empty(a[1])
    if b"INCR" in opts:
        return None if incr_result is None else Score(incr_result)
    return added + changed if b"CH" in opts else added


@_key1("zincrby", 4, "write denyoom fast", "sortedset")
def _zincrby(db: Keyspace, a: List[bytes]) -> Score:
    delta = parse_float(a[2])
    z = db.get_or_create(a[1], ZSetValue)
    new = z.get(a[3], 0.0) + delta
    if math.isnan(new):
        db.forget_if_empty(a[1])
        raise CommandError("ERR resulting score is not a number (NaN)")
    z[a[3]] = new
    db.changed(a[1])
    return Score(new)


@_key1("zrem", -3, "write fast", "sortedset")
def _zrem(db: Keyspace, a: List[bytes]) -> int:
    z = _zset(db, a[1])
    if z is None:
        return 0
    removed = sum(z.pop(m, None) is not None for m in a[2:])
    if removed:
        db.changed(a[1])
    return removed


@_key1("zscore", 3, "readonly fast", "sortedset")
def _zscore(db: Keyspace, a: List[bytes]) -> Optional[Score]:
    score = (_zset(db, a[1]) or ZSetValue()).get(a[2])
    return None if score is None else Score(score)


@_key1("zmscore", -3, "readonly fast", "sortedset")
def _zmscore(db: Keyspace, a: List[bytes]) -> List[Optional[Score]]:
    z = _zset(db, a[1]) or ZSetValue()
    return [None if z.get(m) is None else Score(z[m]) for m in a[2:]]


@_key1("zcard", 2, "readonly fast", "sortedset")
def _zcard(db: Keyspace, a: List[bytes]) -> int:
    return len(_zset(db, a[1]) or ZSetValue())


def _score_bound(arg: bytes) -> Tuple[float, bool]:
    """(value, exclusive) of a BYSCORE bound such as ``(1.5`` or ``-inf``."""
    exclusive = arg.startswith(b"(")
    value = parse_float(arg[1:] if exclusive else arg, "ERR min or max is not a float")
    return value, exclusive


def _lex_bound(arg: bytes) -> Tuple[Optional[bytes], bool, int]:
    """(value, exclusive, infinity sign) of a BYLEX bound: ``[a``, ``(a``, ``-``, ``+``."""
    if arg == b"-":
        return None, False, -1
    if arg == b"+":
        return None, False, 1
    if arg[:1] in (b"[", b"("):
        return arg[1:], arg[:1] == b"(", 0
    raise CommandError("ERR min or max not valid string range item")


def _in_score_range(score: float, lo: Tuple[float, bool], hi: Tuple[float, bool]) -> bool:
    above = score > lo[0] if lo[1] else score >= lo[0]
    below = score < hi[0] if hi[1] else score <= hi[0]
    return above and below


def _lex_ok(member: bytes, bound: Tuple[Optional[bytes], bool, int], lower: bool) -> bool:
    value, exclusive, inf = bound
    if inf:
        return (inf < 0) == lower
    assert value is not None
    if lower:
        return member > value if exclusive else member >= value
    return member < value if exclusive else member <= value


def _with_scores(items: List[Tuple[bytes, float]], withscores: bool) -> Any:
    if withscores:
        return Pairs([m, Score(s)] for m, s in items)
    return [m for m, _ in items]


def _zrange_generic(db: Keyspace, key: bytes, start: bytes, stop: bytes, by: Optional[bytes],
                    rev: bool, limit: Optional[Tuple[int, int]], withscores: bool) -> Any:
    if by is None:
        lo, hi = parse_int(start), parse_int(stop)
    z = _zset(db, key)
    if z is None:
        if by == b"BYSCORE":
            _score_bound(start), _score_bound(stop)
        elif by == b"BYLEX":
            _lex_bound(start), _lex_bound(stop)
        return Pairs() if withscores else []
    items = z.ordered()
    if rev:
        items.reverse()
    if by is None:
        span = _int_reply_range(lo, hi, len(items))
        chosen = [] if span is None else items[span[0]:span[1] + 1]
    elif by == b"BYSCORE":
        first, second = _score_bound(start), _score_bound(stop)
        low, high = (second, first) if rev else (first, second)
        chosen = [(m, s) for m, s in items if _in_score_range(s, low, high)]
    else:
        first_l, second_l = _lex_bound(start), _lex_bound(stop)
        low_l, high_l = (second_l, first_l) if rev else (first_l, second_l)
        chosen = [(m, s) for m, s in items
                  if _lex_ok(m, low_l, True) and _lex_ok(m, high_l, False)]
    if limit is not None:
        offset, count = limit
        end = None if count < 0 else offset + count
        chosen = [] if offset < 0 else chosen[offset:end]
    return _with_scores(chosen, withscores)


@_key1("zrange", -4, "readonly", "sortedset")
def _zrange(db: Keyspace, a: List[bytes]) -> Any:
    by: Optional[bytes] = None
    rev = withscores = False
    limit: Optional[Tuple[int, int]] = None
    i = 4
    while i < len(a):
        word = _word(a[i])
        if word in (b"BYSCORE", b"BYLEX") and by is None:
            by = word
        elif word == b"REV":
            rev = True
        elif word == b"WITHSCORES":
            withscores = True
        elif word == b"LIMIT" and i + 2 < len(a):
            limit = (parse_int(a[i + 1]), parse_int(a[i + 2]))
            i += 2
        else:
            raise CommandError(E_SYNTAX)
        i += 1
    if limit is not None and by is None:
        raise CommandError("ERR syntax error, LIMIT is only supported in combination with "
                           "either BYSCORE or BYLEX")
    if withscores and by == b"BYLEX":
        raise CommandError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    return _zrange_generic(db, a[1], a[2], a[3], by, rev, limit, withscores)


def _zrangebyscore_args(a: List[bytes]) -> Tuple[Optional[Tuple[int, int]], bool]:
    limit: Optional[Tuple[int, int]] = None
    withscores = False
    i = 4
    while i < len(a):
        word = _word(a[i])
        if word == b"WITHSCORES":
            withscores = True
        elif word == b"LIMIT" and i + 2 < len(a):
            limit = (parse_int(a[i + 1]), parse_int(a[i + 2]))
            i += 2
        else:
            raise CommandError(E_SYNTAX)
        i += 1
    return limit, withscores


@_key1("zrangebyscore", -4, "readonly", "sortedset")
def _zrangebyscore(db: Keyspace, a: List[bytes]) -> Any:
    limit, withscores = _zrangebyscore_args(a)
    return _zrange_generic(db, a[1], a[2], a[3], b"BYSCORE", False, limit, withscores)


@_key1("zrevrangebyscore", -4, "readonly", "sortedset")
def _zrevrangebyscore(db: Keyspace, a: List[bytes]) -> Any:
    limit, withscores = _zrangebyscore_args(a)
    return _zrange_generic(db, a[1], a[2], a[3], b"BYSCORE", True, limit, withscores)


@_key1("zrevrange", -4, "readonly", "sortedset")
def _zrevrange(db: Keyspace, a: List[bytes]) -> Any:
    if len(a) > 5 or (len(a) == 5 and _word(a[4]) != b"WITHSCORES"):
        raise CommandError(E_SYNTAX)
    return _zrange_generic(db, a[1], a[2], a[3], None, True, None, len(a) == 5)


@_key1("zcount", 4, "readonly fast", "sortedset")
def _zcount(db: Keyspace, a: List[bytes]) -> int:
    lo, hi = _score_bound(a[2]), _score_bound(a[3])
    return sum(_in_score_range(s, lo, hi) for s in (_zset(db, a[1]) or ZSetValue()).values())


def _zrank(db: Keyspace, a: List[bytes], rev: bool) -> Any:
    if len(a) > 4 or (len(a) == 4 and _word(a[3]) != b"WITHSCORE"):
        raise CommandError(E_SYNTAX)
    z = _zset(db, a[1])
    if z is None or a[2] not in z:
        return None
    order = [m for m, _ in z.ordered()]
    rank = order.index(a[2])
    rank = len(order) - 1 - rank if rev else rank
    return [rank, Score(z[a[2]])] if len(a) == 4 else rank


@_key1("zrank", -3, "readonly fast", "sortedset")
def _zrank_cmd(db: Keyspace, a: List[bytes]) -> Any:
    return _zrank(db, a, False)


@_key1("zrevrank", -3, "readonly fast", "sortedset")
def _zrevrank(db: Keyspace, a: List[bytes]) -> Any:
    return _zrank(db, a, True)


def _zpop(db: Keyspace, a: List[bytes], highest: bool) -> Any:
    if len(a) > 3:
        raise CommandError(E_SYNTAX)
    count: Optional[int] = None
    if len(a) == 3:
        count = parse_int(a[2], E_POSITIVE)
        if count < 0:
            raise CommandError(E_POSITIVE)
    z = _zset(db, a[1])
    if z is None:
        return [] if count is None else Pairs()
    items = z.ordered()
    if highest:
        items.reverse()
    items = items[:1 if count is None else count]
    for member, _ in items:
        del z[member]
    if items:
        db.changed(a[1])
    if count is None:
        return [items[0][0], Score(items[0][1])] if items else []
    return Pairs([m, Score(s)] for m, s in items)


@_key1("zpopmin", -2, "write fast", "sortedset")
def _zpopmin(db: Keyspace, a: List[bytes]) -> Any:
    return _zpop(db, a, False)


@_key1("zpopmax", -2, "write fast", "sortedset")
def _zpopmax(db: Keyspace, a: List[bytes]) -> Any:
    return _zpop(db, a, True)


def _zremrange(db: Keyspace, key: bytes, pick: Callable[[List[Tuple[bytes, float]]],
                                                          List[Tuple[bytes, float]]]) -> int:
    z = _zset(db, key)
    if z is None:
        return 0
    doomed = pick(z.ordered())
    for member, _ in doomed:
        del z[member]
    if doomed:
        db.changed(key)
    return len(doomed)


@_key1("zremrangebyscore", 4, "write", "sortedset")
def _zremrangebyscore(db: Keyspace, a: List[bytes]) -> int:
    lo, hi = _score_bound(a[2]), _score_bound(a[3])
    return _zremrange(db, a[1], lambda items: [
        (m, s) for m, s in items if _in_score_range(s, lo, hi)])


@_key1("zremrangebyrank", 4, "write", "sortedset")
def _zremrangebyrank(db: Keyspace, a: List[bytes]) -> int:
    start, stop = parse_int(a[2]), parse_int(a[3])

    def pick(items: List[Tuple[bytes, float]]) -> List[Tuple[bytes, float]]:
        span = _int_reply_range(start, stop, len(items))
        return [] if span is None else items[span[0]:span[1] + 1]

    return _zremrange(db, a[1], pick)


# ------------------------------------------------------------------------------------------------
# HSCAN / SSCAN / ZSCAN: small collections come back whole with cursor 0, as Redis does for them
# ------------------------------------------------------------------------------------------------
def _scan_options(a: List[bytes], start: int) -> Tuple[Optional[bytes], bool]:
    if not re.fullmatch(rb"[0-9]+", a[2]) or int(a[2]) >= 2**64:
        raise CommandError("ERR invalid cursor")
    match: Optional[bytes] = None
    novalues = False
    i = start
    while i < len(a):
        opt = _word(a[i])
        if opt == b"NOVALUES":
            novalues = True
            i += 1
            continue
        if i + 1 >= len(a):
            raise CommandError(E_SYNTAX)
        if opt == b"MATCH":
            match = a[i + 1]
        elif opt == b"COUNT":
            if parse_int(a[i + 1]) < 1:
                raise CommandError(E_SYNTAX)
        else:
            raise CommandError(E_SYNTAX)
        i += 2
    return match, novalues


def _matching(items: Iterable[Tuple[bytes, Any]], match: Optional[bytes]) -> List[Tuple[bytes, Any]]:
    return [(k, v) for k, v in items if match is None or glob_match(match, k)]


@_key1("hscan", -3, "readonly", "hash")
def _hscan(db: Keyspace, a: List[bytes]) -> List[Any]:
    match, novalues = _scan_options(a, 3)
    items = _matching((_hash(db, a[1]) or HashValue()).items(), match)
    flat = [k for k, _ in items] if novalues else [x for kv in items for x in kv]
    return [b"0", flat]


@_key1("sscan", -3, "readonly", "set")
def _sscan(db: Keyspace, a: List[bytes]) -> List[Any]:
    match, _ = _scan_options(a, 3)
    members = sorted(_set_of(db, a[1]) or SetValue())
    return [b"0", [m for m, _ in _matching(((m, None) for m in members), match)]]


@_key1("zscan", -3, "readonly", "sortedset")
def _zscan(db: Keyspace, a: List[bytes]) -> List[Any]:
    match, _ = _scan_options(a, 3)
    items = _matching((_zset(db, a[1]) or ZSetValue()).ordered(), match)
    return [b"0", [x for m, s in items for x in (m, format_score(s))]]


# ------------------------------------------------------------------------------------------------
# Bitmaps (strings addressed bit by bit; bit 0 is the most significant bit of byte 0)
# ------------------------------------------------------------------------------------------------
_E_BIT_OFFSET = "ERR bit offset is not an integer or out of range"
#: Redis' proto-max-bulk-len default (512 MB) bounds a bitmap.
_MAX_STRING = 512 * 1024 * 1024


def _bit_offset(arg: bytes) -> int:
    try:
        offset = parse_int(arg)
    except CommandError:
        raise CommandError(_E_BIT_OFFSET) from None
    if offset < 0 or offset >> 3 >= _MAX_STRING:
        raise CommandError(_E_BIT_OFFSET)
    return offset


@_key1("setbit", 4, "write denyoom", "bitmap")
def _setbit(db: Keyspace, a: List[bytes]) -> int:
    offset = _bit_offset(a[2])
    bit = parse_int(a[3], "ERR bit is not an integer or out of range")
    if bit not in (0, 1):
        raise CommandError("ERR bit is not an integer or out of range")
    old = _string(db, a[1])
    value = bytearray(old or b"")
    byte, mask = offset >> 3, 0x80 >> (offset & 7)
    if byte >= len(value):
        value.extend(bytes(byte + 1 - len(value)))
    previous = int(bool(value[byte] & mask))
    if bit:
        value[byte] |= mask
    else:
        value[byte] &= ~mask & 0xFF
    if old is None or len(value) != len(old) or previous != bit:
        db.put(a[1], bytes(value), keep_ttl=True)
    return previous


@_key1("getbit", 3, "readonly fast", "bitmap")
def _getbit(db: Keyspace, a: List[bytes]) -> int:
    offset = _bit_offset(a[2])
    value = _string(db, a[1]) or b""
    byte = offset >> 3
    return int(byte < len(value) and bool(value[byte] & (0x80 >> (offset & 7))))


def _bit_range(start: int, end: int, total: int) -> Tuple[int, int]:
    """Redis' index normalisation for BITCOUNT/BITPOS: negative from the end, then clamped
    (both ends, so ``-100 -50`` on a short string is ``0 0``)."""
    if start < 0:
        start += total
    if end < 0:
        end += total
    start, end = max(start, 0), max(end, 0)
    return start, min(end, total - 1)


def _bit_unit(arg: bytes) -> bool:
    """True for BIT, False for BYTE (either case), else a syntax error."""
    word = _word(arg)
    if word not in (b"BIT", b"BYTE"):
        raise CommandError(E_SYNTAX)
    return word == b"BIT"


def _bits(value: bytes, first: int, last: int) -> Iterable[int]:
    """The bits ``first..last`` (inclusive bit positions) of ``value``."""
    for pos in range(first, last + 1):
        yield (value[pos >> 3] >> (7 - (pos & 7))) & 1


@_key1("bitcount", -2, "readonly", "bitmap")
def _bitcount(db: Keyspace, a: List[bytes]) -> int:
    value = _string(db, a[1])  # the key is looked up (WRONGTYPE, 0) before the range is read
    if value is None:
        return 0
    if len(a) == 2:
        return sum(bin(b).count("1") for b in value)
    if len(a) not in (4, 5):
        raise CommandError(E_SYNTAX)
    start, end = parse_int(a[2]), parse_int(a[3])
    in_bits = len(a) == 5 and _bit_unit(a[4])
    total = len(value) * 8 if in_bits else len(value)
    if start < 0 and end < 0 and start > end:
        return 0
    start, end = _bit_range(start, end, total)
    if start > end:
        return 0
    if in_bits:
        return sum(_bits(value, start, end))
    return sum(bin(b).count("1") for b in value[start:end + 1])


@_key1("bitpos", -3, "readonly", "bitmap")
def _bitpos(db: Keyspace, a: List[bytes]) -> int:
    bit = parse_int(a[2])
    if bit not in (0, 1):
        raise CommandError("ERR The bit argument must be 1 or 0.")
    value = _string(db, a[1])
    if value is None:  # an endless run of zeros
        return -1 if bit else 0
    end_given = False
    if len(a) == 3:
        first, last = 0, len(value) * 8 - 1
    elif len(a) <= 6:
        start = parse_int(a[3])
        in_bits = len(a) == 6 and _bit_unit(a[5])
        total = len(value) * 8 if in_bits else len(value)
        if len(a) >= 5:
            end = parse_int(a[4])
            end_given = True
        else:
            end = total - 1
        start, end = _bit_range(start, end, total)
        if start > end:
            return -1
        first, last = (start, end) if in_bits else (start * 8, end * 8 + 7)
    else:
        raise CommandError(E_SYNTAX)
    if first > last:
        return -1
    for offset, found in enumerate(_bits(value, first, last)):
        if found == bit:
            return first + offset
    # No clear bit in the range: without an explicit end the string is taken as padded with
    # zeros on the right, so the first bit past it is the answer.
    return last + 1 if bit == 0 and not end_given else -1


@_cmd("bitop", -4, "write denyoom", 2, -1, 1, "bitmap")
def _bitop(db: Keyspace, a: List[bytes]) -> int:
    op = _word(a[1])
    if op not in (b"AND", b"OR", b"XOR", b"NOT"):
        raise CommandError(E_SYNTAX)
    if op == b"NOT" and len(a) != 4:
        raise CommandError("ERR BITOP NOT must be called with a single source key.")
    sources = [_string(db, k) for k in a[3:]]
    size = max((len(s) for s in sources if s is not None), default=0)
    if not size:
        db.delete(a[2])
        return 0
    padded = [(s or b"").ljust(size, b"\x00") for s in sources]
    if op == b"NOT":
        result = bytes(~b & 0xFF for b in padded[0])
    else:
        out = bytearray(padded[0])
        for other in padded[1:]:
            for i, b in enumerate(other):
                if op == b"AND":
                    out[i] &= b
                elif op == b"OR":
                    out[i] |= b
                else:
                    out[i] ^= b
        result = bytes(out)
    db.put(a[2], result)
    return size


# ------------------------------------------------------------------------------------------------
# HyperLogLog: exact counting (see HyperLogLogValue)
# ------------------------------------------------------------------------------------------------
_E_NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value."


def hll_members(value: bytes) -> FrozenSet[bytes]:
    """The members a HyperLogLog string holds: WRONGTYPE when it is not a HyperLogLog,
    INVALIDOBJ when it has Redis' header but not the fake's payload (e.g. one made by a real
    server, whose registers the fake cannot count)."""
    if isinstance(value, HyperLogLogValue):
        return value.members
    if len(value) < len(_HLL_HEADER) or value[:4] != b"HYLL" or value[4] > 1:
        raise CommandError(_E_NOT_HLL)
    corrupt = CommandError("INVALIDOBJ Corrupted HLL object detected")
    payload = value[len(_HLL_HEADER):]
    if not payload.startswith(_HLL_MAGIC):
        raise corrupt
    members: Set[bytes] = set()
    i = len(_HLL_MAGIC)
    while i < len(payload):
        size = int.from_bytes(payload[i:i + 4], "big")
        if i + 4 + size > len(payload):
            raise corrupt
        members.add(payload[i + 4:i + 4 + size])
        i += 4 + size
    return frozenset(members)


def _hll(db: Keyspace, key: bytes) -> Optional[FrozenSet[bytes]]:
    value = _string(db, key)
    return None if value is None else hll_members(value)


@_key1("pfadd", -2, "write denyoom fast", "hyperloglog")
def _pfadd(db: Keyspace, a: List[bytes]) -> int:
    members = _hll(db, a[1])
    if members is None:
        db.put(a[1], HyperLogLogValue.of(a[2:]))
        return 1
    if set(a[2:]) <= members:
        return 0
    db.put(a[1], HyperLogLogValue.of(members.union(a[2:])), keep_ttl=True)
    return 1


@_cmd("pfcount", -2, "readonly", 1, -1, 1, "hyperloglog")
def _pfcount(db: Keyspace, a: List[bytes]) -> int:
    union: Set[bytes] = set()
    for key in a[1:]:
        union.update(_hll(db, key) or ())
    return len(union)


@_cmd("pfmerge", -2, "write denyoom", 1, -1, 1, "hyperloglog")
def _pfmerge(db: Keyspace, a: List[bytes]) -> SimpleString:
    union: Set[bytes] = set()
    for key in a[1:]:  # the destination counts as a source
        union.update(_hll(db, key) or ())
    db.put(a[1], HyperLogLogValue.of(union), keep_ttl=True)
    return OK


# ------------------------------------------------------------------------------------------------
# Streams
# ------------------------------------------------------------------------------------------------
_U64 = 2**64 - 1
_E_BAD_ID = "ERR Invalid stream ID specified as stream command argument"
_E_XADD_SMALL = "ERR The ID specified in XADD is equal or smaller than the target stream top item"
_E_MIXED_TRIM = ("ERR syntax error, MAXLEN and MINID options at the same time are not "
                 "compatible")
_STRTOULL_RE = re.compile(rb"[ \t\n\x0b\x0c\r]*([+-]?)([0-9]+)")


def _u64(text: bytes) -> Optional[int]:
    """Redis' string2ull: a strict integer (negative ones refused), else what C's strtoull
    accepts (leading blanks, a sign, leading zeros; ``-N`` wraps around)."""
    if _INT_RE.fullmatch(text) and text != b"-0" and _INT64_MIN <= int(text) <= _INT64_MAX:
        value = int(text)
        return value if value >= 0 else None
    match = _STRTOULL_RE.fullmatch(text)
    if match is None or int(match.group(2)) > _U64:
        return None
    value = int(match.group(2))
    return (-value) % 2**64 if match.group(1) == b"-" else value


def parse_stream_id(arg: bytes, missing_seq: int = 0, strict: bool = True,
                    auto_seq: bool = False) -> Tuple[StreamID, bool]:
    """(ID, sequence given) as Redis' streamGenericParseIDOrReply reads ``ms-seq``, ``ms``,
    ``-``/``+`` (not when ``strict``) and ``ms-*`` (with ``auto_seq``)."""
    if len(arg) > 127:
        raise CommandError(_E_BAD_ID)
    text = arg.split(b"\x00", 1)[0]
    if text in (b"-", b"+"):
        if strict:
            raise CommandError(_E_BAD_ID)
        return ((0, 0) if text == b"-" else (_U64, _U64)), True
    ms_text, dash, seq_text = text.partition(b"-")
    ms = _u64(ms_text)
    if ms is None:
        raise CommandError(_E_BAD_ID)
    if not dash:
        return (ms, missing_seq), True
    if auto_seq and seq_text == b"*":
        return (ms, 0), False
    seq = _u64(seq_text)
    if seq is None:
        raise CommandError(_E_BAD_ID)
    return (ms, seq), True


def format_stream_id(entry_id: StreamID) -> bytes:
    """``ms-seq``."""
    return b"%d-%d" % entry_id


def _incr_id(entry_id: StreamID) -> Optional[StreamID]:
    ms, seq = entry_id
    if seq < _U64:
        return ms, seq + 1
    return None if ms == _U64 else (ms + 1, 0)


def _decr_id(entry_id: StreamID) -> Optional[StreamID]:
    ms, seq = entry_id
    if seq > 0:
        return ms, seq - 1
    return None if ms == 0 else (ms - 1, _U64)


def _stream(db: Keyspace, key: bytes) -> Optional[StreamValue]:
    return db.get_as(key, StreamValue)


def _entry(stream: StreamValue, entry_id: StreamID) -> List[Any]:
    return [format_stream_id(entry_id), list(stream.fields[entry_id])]


@dataclass
class _TrimArgs:
    """XADD/XTRIM options, as Redis' streamParseAddOrTrimArgsOrReply reads them."""

    strategy: Optional[bytes] = None  # MAXLEN or MINID
    maxlen: int = 0
    minid: StreamID = (0, 0)
    approx: bool = False
    limit: int = 0
    nomkstream: bool = False
    entry_id: Optional[StreamID] = None  # XADD: None for "*"
    seq_given: bool = True
    id_pos: int = 0


def _parse_trim(a: List[bytes], xadd: bool) -> _TrimArgs:
    args = _TrimArgs()
    limit: Optional[int] = None
    i = 2
    while i < len(a):
        more = len(a) - 1 - i
        opt = _word(a[i])
        if xadd and a[i] == b"*":
            break
        if opt in (b"MAXLEN", b"MINID") and more:
            if args.strategy is not None:
                raise CommandError(_E_MIXED_TRIM)
            args.approx = False
            if more >= 2 and a[i + 1] in (b"~", b"="):
                args.approx = a[i + 1] == b"~"
                i += 1
            if opt == b"MAXLEN":
                args.maxlen = parse_int(a[i + 1])
                if args.maxlen < 0:
                    raise CommandError("ERR The MAXLEN argument must be >= 0.")
            else:
                args.minid = parse_stream_id(a[i + 1])[0]
            args.strategy = opt
            i += 1
        elif opt == b"LIMIT" and more:
            limit = parse_int(a[i + 1])
            if limit < 0:
                raise CommandError("ERR The LIMIT argument must be >= 0.")
            i += 1
        elif xadd and opt == b"NOMKSTREAM":
            args.nomkstream = True
        elif xadd:
            args.entry_id, args.seq_given = parse_stream_id(a[i], auto_seq=True)
            break
        else:
            raise CommandError(E_SYNTAX)
        i += 1
    args.id_pos = i
    if limit and args.strategy is None:
        raise CommandError("ERR syntax error, LIMIT cannot be used without specifying a "
                           "trimming strategy")
    if not xadd and args.strategy is None:
        raise CommandError("ERR syntax error, XTRIM must be called with a trimming strategy")
    if limit is not None:
        if not args.approx:
            raise CommandError("ERR syntax error, LIMIT cannot be used without the special ~ "
                               "option")
        args.limit = limit
    elif args.approx:
        args.limit = 100 * StreamValue.NODE_MAX_ENTRIES
    return args


def _trim(stream: StreamValue, args: _TrimArgs) -> int:
    """Redis' streamTrim: whole nodes first; within a node only when trimming exactly."""
    deleted = 0
    for node in list(stream.nodes):
        if args.strategy == b"MAXLEN" and len(stream) <= args.maxlen:
            break
        entries = node.live
        if args.limit and deleted + entries > args.limit:
            break
        if args.strategy == b"MAXLEN":
            whole = len(stream) - entries >= args.maxlen
        else:
            whole = node.last < args.minid
        ids = stream.ids[:entries]  # the first node holds the first live entries
        if whole:
            for entry_id in ids:
                stream.delete(entry_id)
            deleted += entries
            continue
        if args.approx:
            break
        for entry_id in ids:
            if args.strategy == b"MAXLEN" and len(stream) <= args.maxlen:
                break
            if args.strategy == b"MINID" and entry_id >= args.minid:
                break
            stream.delete(entry_id)
            deleted += 1
        break
    return deleted


@_key1("xadd", -5, "write denyoom fast", "stream")
def _xadd(db: Keyspace, a: List[bytes]) -> Optional[bytes]:
    args = _parse_trim(a, xadd=True)
    fields = a[args.id_pos + 1:]
    if len(fields) < 2 or len(fields) % 2:
        raise CommandError("ERR wrong number of arguments for 'xadd' command")
    if args.entry_id == (0, 0) and args.seq_given:
        raise CommandError("ERR The ID specified in XADD must be greater than 0-0")
    stream = _stream(db, a[1])
    created = stream is None
    if stream is None:
        if args.nomkstream:
            return None
        stream = StreamValue()
    last = stream.last_id
    if last == (_U64, _U64):
        raise CommandError("ERR The stream has exhausted the last possible ID, unable to add "
                           "more items")
    new_id: Optional[StreamID]
    if args.entry_id is None:  # "*": the clock, or one past the last ID
        now = db.now_ms()
        new_id = (now, 0) if now > last[0] else _incr_id(last)
    elif not args.seq_given:  # "ms-*"
        if args.entry_id[0] == last[0]:
            if last[1] == _U64:  # (Redis 7.0 reports the sequence overflow this way)
                raise CommandError("ERR Elements are too large to be stored")
            new_id = (last[0], last[1] + 1)
        else:
            new_id = args.entry_id
    else:
        new_id = args.entry_id
    if new_id is None or new_id <= last:
        raise CommandError(_E_XADD_SMALL)
    if created:
        db.data[a[1]] = stream
    stream.append(new_id, list(fields))
    if args.strategy is not None:
        _trim(stream, args)
    db.modified(a[1])
    return format_stream_id(new_id)


@_key1("xtrim", -4, "write", "stream")
def _xtrim(db: Keyspace, a: List[bytes]) -> int:
    args = _parse_trim(a, xadd=False)
    stream = _stream(db, a[1])
    if stream is None:
        return 0
    deleted = _trim(stream, args)
    if deleted:
        db.modified(a[1])
    return deleted


@_key1("xlen", 2, "readonly fast", "stream")
def _xlen(db: Keyspace, a: List[bytes]) -> int:
    stream = _stream(db, a[1])
    return 0 if stream is None else len(stream)


@_key1("xdel", -3, "write fast", "stream")
def _xdel(db: Keyspace, a: List[bytes]) -> int:
    stream = _stream(db, a[1])
    if stream is None:
        return 0
    ids = [parse_stream_id(arg)[0] for arg in a[2:]]  # all checked before any is deleted
    deleted = sum(stream.delete(entry_id) for entry_id in ids)
    if deleted:
        db.modified(a[1])
    return deleted


def _interval_id(arg: bytes, missing_seq: int) -> Tuple[StreamID, bool]:
    """(ID, exclusive) of an XRANGE bound: ``-``, ``+``, ``ms[-seq]`` or ``(ms[-seq]``."""
    if len(arg) > 1 and arg[:1] == b"(":
        return parse_stream_id(arg[1:], missing_seq)[0], True
    return parse_stream_id(arg, missing_seq, strict=False)[0], False


def _xrange_generic(db: Keyspace, a: List[bytes], rev: bool) -> Any:
    start_arg, end_arg = (a[3], a[2]) if rev else (a[2], a[3])
    start, exclusive = _interval_id(start_arg, 0)
    if exclusive:
        bumped = _incr_id(start)
        if bumped is None:
            raise CommandError("ERR invalid start ID for the interval")
        start = bumped
    end, exclusive = _interval_id(end_arg, _U64)
    if exclusive:
        lowered = _decr_id(end)
        if lowered is None:
            raise CommandError("ERR invalid end ID for the interval")
        end = lowered
    count = -1
    j = 4
    while j < len(a):
        if _word(a[j]) == b"COUNT" and j + 1 < len(a):
            count = max(parse_int(a[j + 1]), 0)
            j += 2
        else:
            raise CommandError(E_SYNTAX)
    stream = _stream(db, a[1])
    if stream is None:
        return []
    if count == 0:
        return NULL_ARRAY
    ids = stream.between(start, end)
    if rev:
        ids.reverse()
    if count > 0:
        ids = ids[:count]
    return [_entry(stream, entry_id) for entry_id in ids]


@_key1("xrange", -4, "readonly", "stream")
def _xrange(db: Keyspace, a: List[bytes]) -> Any:
    return _xrange_generic(db, a, False)


@_key1("xrevrange", -4, "readonly", "stream")
def _xrevrange(db: Keyspace, a: List[bytes]) -> Any:
    return _xrange_generic(db, a, True)


def _streams_position(a: Sequence[bytes]) -> int:
    """Index of XREAD/XREADGROUP's STREAMS keyword (options skipped as Redis' xreadGetKeys
    does), or -1."""
    i = 1
    while i < len(a):
        word = _word(a[i])
        if word in (b"BLOCK", b"COUNT"):
            i += 2
        elif word == b"GROUP":
            i += 3
        elif word == b"NOACK":
            i += 1
        elif word == b"STREAMS":
            return i
        else:
            return -1
    return -1


def xread_keys(a: Sequence[bytes]) -> List[bytes]:
    """The stream keys of an XREAD/XREADGROUP line (none when it is malformed)."""
    pos = _streams_position(a)
    rest = len(a) - pos - 1
    if pos < 0 or rest == 0 or rest % 2:
        return []
    return list(a[pos + 1:pos + 1 + rest // 2])


def _xread_generic(db: Keyspace, a: List[bytes], group_read: bool) -> Any:
    name = "XREADGROUP" if group_read else "XREAD"
    count = 0
    streams_at = 0
    group: Optional[Tuple[bytes, bytes]] = None
    noack = False
    i = 1
    while i < len(a):
        more = len(a) - 1 - i
        word = _word(a[i])
        if word == b"BLOCK" and more:
            # The fake never blocks: a read with nothing to return answers at once, as if the
            # timeout had passed (what Redis does inside MULTI); the timeout is still checked.
            timeout = parse_int(a[i + 1], "ERR timeout is not an integer or out of range")
            if timeout < 0:
                raise CommandError("ERR timeout is negative")
            i += 1
        elif word == b"COUNT" and more:
            count = max(parse_int(a[i + 1]), 0)
            i += 1
        elif word == b"STREAMS" and more:
            streams_at = i + 1
            if (len(a) - streams_at) % 2:
                raise CommandError("ERR Unbalanced " + name + " list of streams: for each "
                                   "stream key an ID or '$' must be specified.")
            break
        elif word == b"GROUP" and more >= 2:
            if not group_read:
                raise CommandError("ERR The GROUP option is only supported by XREADGROUP. "
                                   "You called XREAD instead.")
            group = (a[i + 1], a[i + 2])
            i += 2
        elif word == b"NOACK":
            if not group_read:
                raise CommandError("ERR The NOACK option is only supported by XREADGROUP. "
                                   "You called XREAD instead.")
            noack = True
        else:
            raise CommandError(E_SYNTAX)
        i += 1
    if not streams_at:
        raise CommandError(E_SYNTAX)
    if group_read and group is None:
        raise CommandError("ERR Missing GROUP option for XREADGROUP")
    n = (len(a) - streams_at) // 2
    keys, id_args = a[streams_at:streams_at + n], a[streams_at + n:]
    after: List[Optional[StreamID]] = []  # None: ">" (new entries of the group)
    for key, id_arg in zip(keys, id_args):
        stream = _stream(db, key)
        if group is not None and (stream is None or group[0] not in stream.groups):
            raise CommandError(
                f"NOGROUP No such key '{key.decode(errors='replace')}' or consumer group "
                f"'{group[0].decode(errors='replace')}' in XREADGROUP with GROUP option")
        if id_arg == b"$":
            if group_read:
                raise CommandError(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read "
                    "the history of this consumer by specifying a proper ID, or use the > ID "
                    "to get new messages. The $ ID would just return an empty result set.")
            after.append(stream.last_id if stream is not None else (0, 0))
        elif id_arg == b">":
            if not group_read:
                raise CommandError("ERR The > ID can be specified only when calling XREADGROUP "
                                   "using the GROUP <group> <consumer> option.")
            after.append(None)
        else:
            after.append(parse_stream_id(id_arg)[0])
    served: List[Tuple[bytes, Any]] = []
    for key, since in zip(keys, after):
        stream = _stream(db, key)
        if stream is None:
            continue
        if group is None:
            assert since is not None
            if stream.ids and stream.ids[-1] > since:
                served.append((key, _read_after(stream, since, count)))
            continue
        reply = _group_read(db, key, stream, group, since, count, noack)
        if reply is not None:
            served.append((key, reply))
    return KeyedReplies(served) if served else NULL_ARRAY


def _read_after(stream: StreamValue, since: StreamID, count: int) -> List[Any]:
    start = _incr_id(since)
    ids = [] if start is None else stream.between(start, (_U64, _U64))
    if count:
        ids = ids[:count]
    return [_entry(stream, entry_id) for entry_id in ids]


def _group_read(db: Keyspace, key: bytes, stream: StreamValue, group: Tuple[bytes, bytes],
                since: Optional[StreamID], count: int, noack: bool) -> Optional[List[Any]]:
    """XREADGROUP on one stream: new entries (``>``) or the consumer's pending history."""
    cg = stream.groups[group[0]]
    consumer = group[1]
    if since is not None:  # history: this consumer's pending entries after ``since``
        pending_of = cg.consumers.setdefault(consumer, set())
        ids = sorted(i for i in pending_of if i > since)
        if count:
            ids = ids[:count]
        now = db.now_ms()
        out: List[Any] = []
        for entry_id in ids:
            if entry_id not in stream.fields:  # deleted meanwhile: its ID, no fields
                out.append([format_stream_id(entry_id), NULL_ARRAY])
                continue
            record = cg.pending[entry_id]
            record[1] = now
            record[2] += 1
            out.append(_entry(stream, entry_id))
        db.modified(key)
        return out
    if not (stream.ids and stream.ids[-1] > cg.last_id):
        return None
    pending_of = cg.consumers.setdefault(consumer, set())
    entries = _read_after(stream, cg.last_id, count)
    now = db.now_ms()
    for entry in entries:
        entry_id = parse_stream_id(entry[0])[0]
        cg.last_id = entry_id
        if noack:
            continue
        old = cg.pending.get(entry_id)
        if old is not None:
            cg.consumers.get(old[0], set()).discard(entry_id)
        cg.pending[entry_id] = [consumer, now, 1]
        pending_of.add(entry_id)
    db.modified(key)
    return entries


COMMANDS[b"xread"] = CommandSpec(
    "xread", lambda db, a: _xread_generic(db, a, False), -4,
    frozenset({"readonly", "blocking", "movablekeys"}), group="stream",
    categories=("@read", "@stream", "@slow", "@blocking"), find_keys=xread_keys)
COMMANDS[b"xreadgroup"] = CommandSpec(
    "xreadgroup", lambda db, a: _xread_generic(db, a, True), -7,
    frozenset({"write", "blocking", "movablekeys"}), group="stream",
    categories=("@write", "@stream", "@slow", "@blocking"), find_keys=xread_keys)


def _no_group(key: bytes, group: bytes) -> CommandError:
    return CommandError(f"NOGROUP No such consumer group '{group.decode(errors='replace')}' "
                        f"for key name '{key.decode(errors='replace')}'")


def _xgroup(db: Keyspace, a: List[bytes]) -> Any:
    sub = _word(a[1])
    arities = {b"CREATE": -5, b"SETID": -5, b"DESTROY": 4, b"CREATECONSUMER": 5,
               b"DELCONSUMER": 5, b"HELP": 2}
    arity = arities.get(sub)
    if arity is None:
        raise CommandError(f"ERR unknown subcommand '{a[1][:128].decode(errors='replace')}'. "
                           f"Try XGROUP HELP.")
    if not (len(a) == arity if arity > 0 else len(a) >= -arity):
        raise CommandError(f"ERR wrong number of arguments for 'xgroup|{sub.lower().decode()}' "
                           f"command")
    if sub == b"HELP":
        return [b"XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                b"CREATE <key> <groupname> <id|$> [option]", b"CREATECONSUMER <key> "
                b"<groupname> <consumer>", b"DELCONSUMER <key> <groupname> <consumer>",
                b"DESTROY <key> <groupname>", b"SETID <key> <groupname> <id|$> "
                b"[ENTRIESREAD entries_read]", b"HELP"]
    mkstream = False
    if sub == b"CREATE":
        i = 5
        while i < len(a):
            if _word(a[i]) == b"MKSTREAM":
                mkstream = True
                i += 1
            elif _word(a[i]) == b"ENTRIESREAD" and i + 1 < len(a):
                if parse_int(a[i + 1]) < -1:
                    raise CommandError("ERR value for ENTRIESREAD must be positive or -1")
                i += 2
            else:
                raise _subcommand_syntax(a[1], "XGROUP")
    key, name = a[2], a[3]
    stream = _stream(db, key)
    if not mkstream:
        if stream is None:
            raise CommandError("ERR The XGROUP subcommand requires the key to exist. Note that "
                               "for CREATE you may want to use the MKSTREAM option to create an "
                               "empty stream automatically.")
        if name not in stream.groups and sub in (b"SETID", b"CREATECONSUMER", b"DELCONSUMER"):
            raise _no_group(key, name)
    if sub in (b"CREATE", b"SETID"):
        if (sub == b"CREATE" and len(a) > 8) or (sub == b"SETID" and len(a) not in (5, 7)):
            raise _subcommand_syntax(a[1], "XGROUP")
        if sub == b"SETID" and len(a) == 7:
            if _word(a[5]) != b"ENTRIESREAD":
                raise _subcommand_syntax(a[1], "XGROUP")
            if parse_int(a[6]) < -1:
                raise CommandError("ERR value for ENTRIESREAD must be positive or -1")
        if a[4] == b"$":
            start = stream.last_id if stream is not None else (0, 0)
        else:  # SETID also takes "-" and "+"
            start = parse_stream_id(a[4], strict=sub == b"CREATE")[0]
        if sub == b"SETID":
            assert stream is not None
            stream.groups[name].last_id = start
            db.modified(key)
            return OK
        if stream is None:
            stream = db.get_or_create(key, StreamValue)
        elif name in stream.groups:
            raise CommandError("BUSYGROUP Consumer Group name already exists")
        stream.groups[name] = StreamGroup(start)
        db.modified(key)
        return OK
    assert stream is not None
    group = stream.groups.get(name)
    if sub == b"DESTROY":
        if group is None:
            return 0
        del stream.groups[name]
        db.modified(key)
        return 1
    assert group is not None
    if sub == b"CREATECONSUMER":
        if a[4] in group.consumers:
            return 0
        group.consumers[a[4]] = set()
        db.modified(key)
        return 1
    owned = group.consumers.pop(a[4], None)
    if owned is None:
        return 0
    for entry_id in owned:
        group.pending.pop(entry_id, None)
    db.modified(key)
    return len(owned)


def _subcommand_syntax(sub: bytes, container: str) -> CommandError:
    return CommandError(f"ERR unknown subcommand or wrong number of arguments for "
                        f"'{sub.decode(errors='replace')}'. Try {container} HELP.")


COMMANDS[b"xgroup"] = CommandSpec("xgroup", _xgroup, -2, frozenset({"write"}), 2, 2, 1,
                                  "stream", categories=("@write", "@stream", "@slow"))


@_key1("xack", -4, "write fast", "stream")
def _xack(db: Keyspace, a: List[bytes]) -> int:
    stream = _stream(db, a[1])
    group = None if stream is None else stream.groups.get(a[2])
    if group is None:
        return 0
    ids = [parse_stream_id(arg)[0] for arg in a[3:]]  # all or nothing
    acked = 0
    for entry_id in ids:
        record = group.pending.pop(entry_id, None)
        if record is not None:
            group.consumers.get(record[0], set()).discard(entry_id)
            acked += 1
    if acked:
        db.modified(a[1])
    return acked


@_key1("xpending", -3, "readonly", "stream")
def _xpending(db: Keyspace, a: List[bytes]) -> Any:
    if len(a) != 3 and not 6 <= len(a) <= 9:
        raise CommandError(E_SYNTAX)
    min_idle = 0
    consumer: Optional[bytes] = None
    start: StreamID = (0, 0)
    end: StreamID = (_U64, _U64)
    count = 0
    if len(a) >= 6:
        at = 3
        if _word(a[3]) == b"IDLE":
            min_idle = parse_int(a[4])
            if len(a) < 8:
                raise CommandError(E_SYNTAX)
            at = 5
        count = max(parse_int(a[at + 2]), 0)
        start, exclusive = _interval_id(a[at], 0)
        if exclusive:
            bumped = _incr_id(start)
            if bumped is None:
                raise CommandError("ERR invalid start ID for the interval")
            start = bumped
        end, exclusive = _interval_id(a[at + 1], _U64)
        if exclusive:
            lowered = _decr_id(end)
            if lowered is None:
                raise CommandError("ERR invalid end ID for the interval")
            end = lowered
        if at + 3 < len(a):
            consumer = a[at + 3]
    stream = _stream(db, a[1])
    group = None if stream is None else stream.groups.get(a[2])
    if group is None:
        raise CommandError(f"NOGROUP No such key '{a[1].decode(errors='replace')}' or consumer "
                           f"group '{a[2].decode(errors='replace')}'")
    if len(a) == 3:
        if not group.pending:
            return [0, None, None, NULL_ARRAY]
        ids = sorted(group.pending)
        owners = [[name, b"%d" % len(owned)]
                  for name, owned in sorted(group.consumers.items()) if owned]
        return [len(ids), format_stream_id(ids[0]), format_stream_id(ids[-1]), owners]
    if consumer is not None and consumer not in group.consumers:
        return []
    chosen = group.consumers[consumer] if consumer is not None else group.pending
    now = db.now_ms()
    out: List[Any] = []
    for entry_id in sorted(chosen):
        if len(out) >= count:
            break
        if not start <= entry_id <= end:
            continue
        owner, delivered, times = group.pending[entry_id]
        if min_idle and now - delivered < min_idle:
            continue
        out.append([format_stream_id(entry_id), owner, max(0, now - delivered), times])
    return out
