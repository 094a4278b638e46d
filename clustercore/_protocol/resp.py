"""Sans-IO RESP2/RESP3: command encoder, two interchangeable reply decoders, reply encoder.

Nothing here touches a socket, a thread or a clock: the connection feeds received bytes to a
decoder and sends the chunks :func:`pack_command` returns. Standard library only; ``hiredis``
(>= 3.0) is used when installed.

Encoder
    :func:`pack_command` / :func:`pack_commands` turn commands into wire chunks. Small commands
    come out as one ``bytes`` object; a value longer than :data:`BIG_VALUE_CUTOFF` bytes becomes
    a chunk of its own, passed through without being copied. Only bytes, bytearray, memoryview,
    str, int and float are accepted (``bool`` and ``None`` are refused): anything else raises
    :class:`~clustercore.errors.DataError` naming the argument, and nothing is returned.

Decoders
    :class:`PythonDecoder` and :class:`HiredisDecoder` share one interface: ``feed(data)``,
    ``gets()`` (the next complete reply, or :data:`NEED_DATA`) and ``buffered()``. Error replies
    are *values* built by ``ResponseError(text)``, whose constructor picks the subclass
    (MovedError, AskError ...). Bytes that are not RESP, or that break a configured limit,
    raise :class:`~clustercore.errors.ProtocolError`; after that the decoder is unusable (it
    raises ProtocolError again) and the caller must close the connection.

    Reply types, identical for both decoders (``str`` instead of ``bytes`` when ``encoding`` is
    set; error text is always decoded as UTF-8 with ``errors="replace"``)::

        +simple   -> bytes               -error      -> ResponseError instance
        :integer  -> int (64-bit)        $bulk       -> bytes;   $-1 -> None
        *array    -> list;   *-1 -> None _ null      -> None
        #t / #f   -> True / False        ,double     -> float (inf, -inf, nan)
        (bignum   -> bytes of the digits (NOT int: hiredis gives the digits, and we match it)
        =verbatim -> the payload after the "txt:" prefix
        %map      -> dict                ~set        -> list (hiredis gives a list; we match)
        >push     -> PushReply (a list subclass; HiredisDecoder converts a top-level push)

    A reply that cannot be decoded with ``encoding`` under ``encoding_errors="strict"``, or a map
    with an unhashable key, raises ProtocolError in both decoders.

Known differences between the two decoders (all about input Redis does not send):

    * Attributes ``|``: the pure decoder reads and drops them, as the RESP3 spec says a client
      that does not use them must. hiredis returns an attribute as a flat list reply of its own
      and, inside an aggregate, counts it as one of the elements (so the framing of that
      aggregate is off). Redis only sends attributes after ``DEBUG PROTOCOL attrib``.
    * Bulk errors ``!``: the pure decoder returns a ResponseError; hiredis 3.5 rejects the type
      byte with ProtocolError.
    * A bulk not followed by CRLF (``$3\\r\\nabcXY``): the pure decoder raises ProtocolError;
      hiredis does not check those two bytes.
    * Pushes nested inside another aggregate stay ``hiredis.PushNotification`` under hiredis
      (use :func:`is_push` or :data:`PUSH_TYPES` when that matters).
    * Limits: hiredis cannot be told ``max_depth`` (it has a fixed limit of 1024 levels), nor
      ``max_bulk_length`` / ``max_line_length`` up front. HiredisDecoder enforces the larger of
      the two only after the bytes arrived: when hiredis waits for more data while holding more
      than that (plus 1 KiB slack), gets() raises ProtocolError. So the bytes it buffers stay
      bounded, but an over-long item that arrives complete in one feed is accepted. hiredis also
      pre-allocates the list of a declared array (``*2147483647`` reserves 16 GiB of address
      space; ``*4294967295`` fails with MemoryError, reported as ProtocolError), while the pure
      decoder grows lists as elements arrive. Both reject counts above 2**32 - 1.
    * ``#\x00`` is false for hiredis (a strchr() quirk); the pure decoder refuses it.
    * ``buffered()`` is exact for the pure decoder; for hiredis it is an upper bound (hiredis
      discards parsed bytes lazily, up to 1 KiB) and 0 when hiredis holds no unparsed byte.
      For both, 0 does not mean "no reply in progress": the elements of a partly received
      aggregate are already consumed.

hiredis notes: the reply-error callable given to hiredis never raises (a malformed MOVED/ASK
makes ``ResponseError(text)`` raise ProtocolError): hiredis-py 3.5 crashes the process when that
callable raises while an undecodable string is pending in the same map. Feed hiredis pieces of
socket-read size: with a multi-megabyte buffer of many replies it moves the rest of its buffer
after every reply and gets much slower (see benchmarks/bench_decoder.py).

Decoders are not thread-safe; use one per connection.

Reply encoder
    :func:`encode_reply` is the server side, for tests and the in-process fake cluster.
"""

from __future__ import annotations

import codecs
import math
import os
import re
from typing import (
    Any,
    Callable,
    Dict,
    Final,
    Iterable,
    List,
    Optional,
    Protocol,
    Sequence,
    Tuple,
    Type,
    Union,
    cast,
)

from ..errors import ClusterCoreError, DataError, ProtocolError, ResponseError

try:
    import hiredis
except ImportError:  # pragma: no cover - the dev venv has hiredis
    hiredis = None  # type: ignore[assignment]

__all__ = [
    "BIG_VALUE_CUTOFF",
    "DEFAULT_MAX_BULK_LENGTH",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_LINE_LENGTH",
    "HIREDIS_AVAILABLE",
    "MAX_AGGREGATE_LENGTH",
    "NEED_DATA",
    "PUSH_TYPES",
    "Buffer",
    "Decoder",
    "DefaultDecoder",
    "EncodableT",
    "HiredisDecoder",
    "ParserUnavailableError",
    "PushReply",
    "PythonDecoder",
    "SimpleString",
    "encode_reply",
    "is_push",
    "make_decoder",
    "pack_command",
    "pack_commands",
]

Buffer = Union[bytes, bytearray, memoryview]
EncodableT = Union[bytes, bytearray, memoryview, str, int, float]

#: Values longer than this many bytes are sent as a chunk of their own, without being copied.
BIG_VALUE_CUTOFF: Final = 6000
#: Decoder defaults: the longest bulk accepted (Redis' own proto-max-bulk-len default) ...
DEFAULT_MAX_BULK_LENGTH: Final = 512 * 1024 * 1024
#: ... the deepest nesting of aggregates ...
DEFAULT_MAX_DEPTH: Final = 64
#: ... and the longest line (simple string, error, number, length header) without its CRLF.
DEFAULT_MAX_LINE_LENGTH: Final = 64 * 1024
#: Largest element count an aggregate may declare (hiredis' limit too).
MAX_AGGREGATE_LENGTH: Final = 2**32 - 1

_INT64_MAX: Final = 2**63 - 1
_INT64_MIN: Final = -(2**63)
_HIREDIS_SLACK: Final = 1024 + 64


class _NeedData:
    """Type of :data:`NEED_DATA`; a singleton with a readable repr."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"

    def __reduce__(self) -> str:
        return "NEED_DATA"


#: Returned by ``gets()`` when no complete reply is buffered (None and False are valid replies).
NEED_DATA: Final = _NeedData()


class PushReply(List[Any]):
    """A RESP3 push (``>``): out-of-band data such as pub/sub messages or invalidations."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"PushReply({list.__repr__(self)})"


class SimpleString(bytes):
    """Marker for :func:`encode_reply`: send this value as a simple string (``+OK``)."""

    __slots__ = ()


class ParserUnavailableError(ClusterCoreError, ImportError):
    """The hiredis parser was asked for but hiredis (>= 3.0) is not installed."""


def _hiredis_usable() -> bool:
    if hiredis is None:
        return False
    try:
        major = int(str(getattr(hiredis, "__version__", "0")).split(".")[0])
    except ValueError:  # pragma: no cover - odd version string
        return False
    return major >= 3


#: Whether hiredis (>= 3.0) could be imported.
HIREDIS_AVAILABLE: Final = _hiredis_usable()

_HiredisPush: Optional[type] = (
    getattr(hiredis, "PushNotification", None) if HIREDIS_AVAILABLE else None
)
#: Every class a decoder may use for a push reply: ``isinstance(reply, PUSH_TYPES)``.
PUSH_TYPES: Final[Tuple[type, ...]] = (
    (PushReply,) if _HiredisPush is None else (PushReply, _HiredisPush)
)


def is_push(reply: Any) -> bool:
    """Whether ``reply`` is a RESP3 push, from either decoder."""
    return isinstance(reply, PUSH_TYPES)


# ------------------------------------------------------------------------------------------------
# Encoder
# ------------------------------------------------------------------------------------------------
_ARRAY_HEADERS: Final = [b"*%d" % i for i in range(64)]
_BULK_HEADERS: Final = [b"$%d" % i for i in range(1024)]
_ARRAY_HEADERS_CRLF: Final = [b"*%d\r\n" % i for i in range(64)]
_BULK_HEADERS_CRLF: Final = [b"$%d\r\n" % i for i in range(1024)]


#: Command names already encoded as bulk strings (``GET`` -> ``$3\r\nGET\r\n``), UTF-8: the
#: name of almost every command is one of a few dozen strings, encoded once instead of per call.
_HEAD_BULKS: Dict[Any, bytes] = {}
_HEAD_BULKS_MAX: Final = 512  # bounded: a name is user input


def _head_bulk(head: Any) -> Optional[bytes]:
    """``head`` (a str or bytes command name) as a UTF-8 bulk string, cached; None otherwise."""
    kind = type(head)
    if kind is str:
        try:
            data = head.encode()
        except UnicodeEncodeError:
            return None
    elif kind is bytes:
        data = head
    else:
        return None
    bulk = b"$%d\r\n%b\r\n" % (len(data), data)
    if len(_HEAD_BULKS) < _HEAD_BULKS_MAX:
        _HEAD_BULKS[head] = bulk
    return bulk


def _pack_short(args: Sequence[Any]) -> Optional[bytes]:
    """The wire bytes of a 2- or 3-argument command (GET k, SET k v, MGET k ...) whose name is
    a str/bytes and whose other arguments are bytes under 1 KiB, else None (use the loop).
    UTF-8/strict callers only (the head cache is UTF-8)."""
    n = len(args)
    head = args[0]
    if type(head) is not str and type(head) is not bytes:  # hashable and cacheable names only
        return None
    if n == 2:
        key = args[1]
        if type(key) is bytes and len(key) < 1024:
            bulk = _HEAD_BULKS.get(head) or _head_bulk(head)
            if bulk is not None:
                return b"".join((b"*2\r\n", bulk, _BULK_HEADERS_CRLF[len(key)], key, b"\r\n"))
    elif n == 3:
        key, value = args[1], args[2]
        if type(key) is bytes and type(value) is bytes and len(key) < 1024 and len(
                value) < 1024:
            bulk = _HEAD_BULKS.get(head) or _head_bulk(head)
            if bulk is not None:
                return b"".join((b"*3\r\n", bulk, _BULK_HEADERS_CRLF[len(key)], key,
                                 b"\r\n", _BULK_HEADERS_CRLF[len(value)], value, b"\r\n"))
    return None


def pack_command(args: Sequence[EncodableT], encoding: str = "utf-8",
                 errors: str = "strict") -> List[Union[bytes, memoryview]]:
    """Encode one command as wire chunks: one ``bytes`` unless a value is over the cutoff."""
    container = type(args)
    if container is not tuple and container is not list:
        _check_command(args)
    n = len(args)
    if n == 0 or encoding != "utf-8" or errors != "strict":
        return _pack((args,), encoding, errors)
    if n < 4:
        short = _pack_short(args)
        if short is not None:
            return [short]
    parts = [_ARRAY_HEADERS[n] if n < 64 else b"*%d" % n]
    items: Sequence[Any] = args
    try:
        for arg in items:
            kind = type(arg)
            if kind is str:
                arg = arg.encode()
            elif kind is not bytes:
                if kind is int:
                    arg = b"%d" % arg
                else:
                    return _pack((args,), encoding, errors)
            size = len(arg)
            if size < 1024:
                parts += (_BULK_HEADERS[size], arg)
            elif size <= BIG_VALUE_CUTOFF:
                parts += (b"$%d" % size, arg)
            else:
                return _pack((args,), encoding, errors)
    except UnicodeEncodeError:
        return _pack((args,), encoding, errors)
    parts.append(b"")
    return [b"\r\n".join(parts)]


def pack_commands(commands: Iterable[Sequence[EncodableT]], encoding: str = "utf-8",
                  errors: str = "strict") -> List[Union[bytes, memoryview]]:
    """Encode many commands (a pipeline) into as few chunks as the big-value rule allows."""
    return _pack(commands, encoding, errors)


def _pack(commands: Iterable[Sequence[EncodableT]], encoding: str,
          errors: str) -> List[Union[bytes, memoryview]]:
    """The general encoder: every argument type, big values as their own chunks."""
    chunks: List[Union[bytes, memoryview]] = []
    parts: List[Buffer] = []
    utf8 = encoding == "utf-8" and errors == "strict"
    for args in commands:
        container = type(args)
        if container is not tuple and container is not list:
            _check_command(args)
        n = len(args)
        if n == 0:
            raise DataError("cannot send an empty command")
        if n == 2 and utf8:  # GET k, MGET k, DEL k ...: _pack_short's first case, inlined
            head, key = args
            if type(key) is bytes and len(key) < 1024 and type(head) is str:
                bulk = _HEAD_BULKS.get(head)
                if bulk is not None:
                    parts += (b"*2\r\n", bulk, _BULK_HEADERS_CRLF[len(key)], key, b"\r\n")
                    continue
        if n < 4 and utf8:
            short = _pack_short(args)  # also caches the name for the inlined case above
            if short is not None:
                parts.append(short)
                continue
        parts.append(_ARRAY_HEADERS_CRLF[n] if n < 64 else b"*%d\r\n" % n)
        for index, arg in enumerate(args):
            value: Buffer
            kind = type(arg)
            if kind is bytes:
                value = arg  # type: ignore[assignment]
                size = len(value)
            elif kind is str:  # the common kinds inline; _coerce explains any failure
                try:
                    value = arg.encode(encoding, errors)  # type: ignore[union-attr]
                except (UnicodeEncodeError, LookupError):
                    value = _coerce(arg, index, args, encoding, errors)
                size = len(value)
            elif kind is int:
                value = b"%d" % arg  # type: ignore[str-format]
                size = len(value)
            else:
                value = _coerce(arg, index, args, encoding, errors)
                size = value.nbytes if type(value) is memoryview else len(value)
            if size > BIG_VALUE_CUTOFF:
                parts.append(b"$%d\r\n" % size)
                chunks.append(b"".join(parts))
                chunks.append(memoryview(value) if isinstance(value, bytearray) else value)
                parts = [b"\r\n"]
            else:
                parts += (_BULK_HEADERS_CRLF[size] if size < 1024 else b"$%d\r\n" % size,
                          value, b"\r\n")
    if parts:
        chunks.append(b"".join(parts))
    return chunks


def _check_command(args: Any) -> None:
    """A command is a sequence of arguments; a lone str or bytes would be sent letter by letter."""
    if isinstance(args, (str, bytes, bytearray, memoryview)) or not isinstance(args, Sequence):
        raise DataError(f"a command must be a sequence of arguments, not {_short_repr(args)} "
                        f"of type {type(args).__name__}")


def _coerce(arg: Any, index: int, args: Sequence[Any], encoding: str, errors: str) -> Buffer:
    """Turn one non-``bytes`` argument into a contiguous byte buffer, or raise DataError."""
    if isinstance(arg, str):
        try:
            return arg.encode(encoding, errors)
        except (UnicodeEncodeError, LookupError) as exc:
            raise DataError(f"argument {index} of {_command_name(args)}: cannot encode "
                            f"{_short_repr(arg)} with {encoding!r}/{errors!r}: {exc}") from exc
    if isinstance(arg, (bytes, bytearray)):
        return arg
    if isinstance(arg, memoryview):
        if not arg.c_contiguous:
            return arg.tobytes()
        if arg.ndim != 1 or arg.format != "B":
            return arg.cast("B")
        return arg
    if isinstance(arg, bool):
        pass
    elif isinstance(arg, int):
        return b"%d" % arg
    elif isinstance(arg, float):
        return float.__repr__(arg).encode()
    raise DataError(f"argument {index} of {_command_name(args)}: {_short_repr(arg)} of type "
                    f"{type(arg).__name__} cannot be sent; use bytes, str, int or float")


def _command_name(args: Sequence[Any]) -> str:
    """The command's name for messages (``SET``), or ``command`` when it has none."""
    name = args[0] if args else None
    if isinstance(name, (bytes, bytearray)):
        return bytes(name[:40]).decode("utf-8", "replace")
    if isinstance(name, str):
        return name[:40]
    return "command"


def _short_repr(value: Any, limit: int = 60) -> str:
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ------------------------------------------------------------------------------------------------
# Decoders
# ------------------------------------------------------------------------------------------------
class Decoder(Protocol):
    """What a connection needs from a reply decoder."""

    def feed(self, data: Buffer) -> None: ...

    def gets(self, decode: bool = True) -> Any: ...

    def buffered(self) -> int: ...

    def has_buffered(self) -> object:
        """Truthy when bytes are buffered (buffered() > 0, maybe cheaper: a C call) or the
        decoder is unusable after an error: either way its connection must not be reused."""
        ...

    def take(self, into: List[Any], count: int) -> int:
        """Append up to ``count`` complete replies (pushes too) to ``into``; how many were
        appended (0: feed more bytes). A batch's replies in one call (pipelines, MGET)."""
        ...


_TYPE_BYTES: Final = frozenset(b"$*:+-_#,(!=%~|>")
_DOUBLE_RE: Final = re.compile(rb"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_NONZERO_MANTISSA_RE: Final = re.compile(rb"-?[0.]*[1-9]")
_BIGNUM_RE: Final = re.compile(rb"-?[0-9]*\Z")
_SPECIAL_DOUBLES: Final = {b"inf": math.inf, b"-inf": -math.inf, b"nan": math.nan,
                           b"-nan": math.nan}


class _Frame:
    """One aggregate being filled: its type byte, the items so far and how many are missing."""

    __slots__ = ("items", "kind", "left")

    def __init__(self, kind: int, items: List[Any], left: int) -> None:
        self.kind = kind
        self.items = items
        self.left = left


def _check_options(encoding: Optional[str], encoding_errors: str, max_bulk_length: int,
                   max_depth: int, max_line_length: int) -> None:
    """Refuse nonsensical decoder options early (LookupError for unknown codecs, as hiredis)."""
    if encoding is not None:
        codecs.lookup(encoding)
    codecs.lookup_error(encoding_errors)
    for name, value in (("max_bulk_length", max_bulk_length), ("max_depth", max_depth),
                        ("max_line_length", max_line_length)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, not {value!r}")


class PythonDecoder:
    """Pure-Python RESP2/RESP3 reply decoder: resumable, linear, bounded, recursion-free.

    Buffering: a fed ``bytes`` object is parsed in place while nothing else is pending; data fed
    while unparsed bytes remain waits in a list and is joined only once the item being parsed can
    complete (a line needs a ``\\n``, a bulk its declared size), so a big value arriving in many
    pieces is copied a bounded number of times and parsed prefixes are dropped at that join.
    Aggregates are built on an explicit stack, so a reply split anywhere resumes where it
    stopped. After a ProtocolError the decoder is unusable.
    """

    __slots__ = ("_buf", "_encoding", "_error", "_errors", "_lf_checked", "_max_bulk",
                 "_max_depth", "_max_line", "_node", "_pending", "_pending_len", "_pos",
                 "_skip", "_stack")

    def __init__(self, *, encoding: Optional[str] = None, encoding_errors: str = "strict",
                 max_bulk_length: int = DEFAULT_MAX_BULK_LENGTH,
                 max_depth: int = DEFAULT_MAX_DEPTH,
                 max_line_length: int = DEFAULT_MAX_LINE_LENGTH, node: Any = None) -> None:
        _check_options(encoding, encoding_errors, max_bulk_length, max_depth, max_line_length)
        self._node = node  # set as ``.node`` on every error reply (the connection's address)
        self._encoding = encoding
        self._errors = encoding_errors
        self._max_bulk = min(max_bulk_length, _INT64_MAX)
        self._max_depth = max_depth
        self._max_line = max_line_length
        self._buf = b""  # bytes being parsed; everything before _pos is consumed
        self._pos = 0
        self._pending: List[Any] = []  # bytes fed after _buf, not yet joined to it
        self._pending_len = 0
        self._lf_checked = 0  # how many pending chunks are known to hold no b"\n"
        self._skip = 1  # where (from _pos) to resume the search for the CRLF of a long line
        self._stack: List[_Frame] = []
        self._error: Optional[str] = None

    def feed(self, data: Buffer) -> None:
        """Add received bytes (copied if mutable); nothing is parsed until gets()."""
        if not data:
            return
        if type(data) is not bytes:
            data = bytes(data)
        if self._pos >= len(self._buf) and not self._pending:
            self._buf = data
            self._pos = 0
        elif self._error is None:
            self._pending.append(data)
            self._pending_len += len(data)

    def buffered(self) -> int:
        """Bytes fed but not yet consumed by a returned (or partly built) reply."""
        return len(self._buf) - self._pos + self._pending_len

    def has_buffered(self) -> object:
        """Truthy when bytes wait, or when an error made the decoder unusable (as hiredis's)."""
        return self._error is not None or self.buffered()

    def take(self, into: List[Any], count: int) -> int:
        """Append up to ``count`` complete replies to ``into``; how many (0: feed more)."""
        taken = 0
        while taken < count:
            reply = self.gets()
            if reply is NEED_DATA:
                break
            into.append(reply)
            taken += 1
        return taken

    def gets(self, decode: bool = True) -> Any:
        """Return the next complete reply, or NEED_DATA; raise ProtocolError on bad input.

        ``decode=False`` leaves strings as bytes even with an encoding (binary payloads such
        as DUMP's); a reply that arrives over several calls needs the same flag each time."""
        if self._error is not None:
            raise ProtocolError(f"decoder unusable after an earlier protocol error: {self._error}")
        buf = self._buf
        pos = self._pos
        n_buf = len(buf)
        stack = self._stack
        encoding = self._encoding if decode else None
        max_line = self._max_line + 1  # the type byte is part of eol - pos
        max_bulk = self._max_bulk
        skip = self._skip
        if skip != 1:
            self._skip = 1
        value: Any
        try:
            while True:
                if pos >= n_buf:
                    if self._refill(pos, -1):
                        buf = self._buf
                        pos = 0
                        n_buf = len(buf)
                        continue
                    self._pos = pos
                    return NEED_DATA
                kind = buf[pos]
                eol = buf.find(b"\r\n", pos + skip)
                if eol < 0:
                    if kind not in _TYPE_BYTES:
                        raise self._bad_type(buf, pos)
                    avail = n_buf - pos
                    if self._refill(pos, -1):
                        skip = max(1, avail - 1)
                        buf = self._buf
                        pos = 0
                        n_buf = len(buf)
                        continue
                    if avail + self._pending_len - 2 > self._max_line:
                        raise ProtocolError(f"line longer than max_line_length="
                                            f"{self._max_line} without CRLF")
                    self._pos = pos
                    self._skip = max(1, avail - 1)
                    return NEED_DATA
                skip = 1
                if eol - pos > max_line:
                    raise ProtocolError(f"line of {eol - pos - 1} bytes is longer than "
                                        f"max_line_length={self._max_line}")
                if kind == 36:  # $bulk
                    line = buf[pos + 1:eol]
                    if line.isdigit() and (line[0] != 48 or eol - pos == 2):
                        size = int(line)
                        if size > max_bulk:
                            raise _bulk_too_long(size, max_bulk)
                        end = eol + 2 + size
                        if end + 2 > n_buf:
                            if self._refill(pos, end + 2 - pos):
                                buf = self._buf
                                pos = 0
                                n_buf = len(buf)
                                continue
                            self._pos = pos
                            return NEED_DATA
                        if buf[end] != 13 or buf[end + 1] != 10:
                            raise _no_crlf(buf, end, size)
                        value = buf[eol + 2:end]
                        if encoding is not None:
                            value = value.decode(encoding, self._errors)
                        pos = end + 2
                    elif line == b"-1":
                        value = None
                        pos = eol + 2
                    else:
                        raise ProtocolError(f"bad bulk length {_clip(line)!r}")
                elif kind == 43:  # +simple
                    value = buf[pos + 1:eol]
                    if 13 in value or 10 in value:
                        raise ProtocolError(f"CR or LF inside simple string {_clip(value)!r}")
                    if encoding is not None:
                        value = value.decode(encoding, self._errors)
                    pos = eol + 2
                elif kind == 58:  # :integer
                    line = buf[pos + 1:eol]
                    if line.isdigit() and eol - pos < 20 and (line[0] != 48 or eol - pos == 2):
                        value = int(line)  # at most 18 digits: always a 64-bit integer
                    else:
                        value = _parse_int(line)
                    pos = eol + 2
                elif kind == 42 or kind == 37 or kind == 126 or kind == 62 or kind == 124:
                    line = buf[pos + 1:eol]
                    if line.isdigit() and (line[0] != 48 or eol - pos == 2):
                        size = int(line)
                        if size > MAX_AGGREGATE_LENGTH:
                            raise ProtocolError(f"aggregate length {size} is over "
                                                f"{MAX_AGGREGATE_LENGTH}")
                    elif line == b"-1":
                        size = -1
                    else:
                        raise ProtocolError(f"bad aggregate length {_clip(line)!r}")
                    if len(stack) >= self._max_depth:
                        raise ProtocolError(f"aggregates nested deeper than max_depth="
                                            f"{self._max_depth}")
                    pos = eol + 2
                    if size > 0:
                        if stack and stack[-1].kind == 37 and not stack[-1].left & 1 and (
                                kind != 124):
                            raise ProtocolError("map key is an aggregate")  # as hiredis
                        stack.append(_Frame(kind, PushReply() if kind == 62 else [],
                                            size * 2 if kind == 37 or kind == 124 else size))
                        continue
                    if kind == 124:
                        continue  # an empty attribute: nothing to skip
                    if size < 0:
                        value = None
                    elif kind == 37:
                        value = {}
                    else:
                        value = PushReply() if kind == 62 else []
                elif kind == 45:  # -error
                    line = buf[pos + 1:eol]
                    if 13 in line or 10 in line:
                        raise ProtocolError(f"CR or LF inside error reply {_clip(line)!r}")
                    value = ResponseError(line.decode("utf-8", "replace"))
                    value.node = self._node
                    pos = eol + 2
                elif kind == 61 or kind == 33:  # =verbatim !bulk-error
                    line = buf[pos + 1:eol]
                    if line == b"-1":
                        value = None
                        pos = eol + 2
                    else:
                        size = _parse_int(line) if line[:1] != b"-" else -2
                        if size < 0:
                            raise ProtocolError(f"bad bulk length {_clip(line)!r}")
                        if size > max_bulk:
                            raise _bulk_too_long(size, max_bulk)
                        end = eol + 2 + size
                        if end + 2 > n_buf:
                            if self._refill(pos, end + 2 - pos):
                                buf = self._buf
                                pos = 0
                                n_buf = len(buf)
                                continue
                            self._pos = pos
                            return NEED_DATA
                        if buf[end] != 13 or buf[end + 1] != 10:
                            raise _no_crlf(buf, end, size)
                        value = buf[eol + 2:end]
                        pos = end + 2
                        if kind == 33:
                            value = ResponseError(value.decode("utf-8", "replace"))
                            value.node = self._node
                        else:
                            if size < 4 or value[3] != 58:
                                raise ProtocolError(f"verbatim string without a 3-letter "
                                                    f"format and ':' ({_clip(value)!r})")
                            value = value[4:]
                            if encoding is not None:
                                value = value.decode(encoding, self._errors)
                elif kind == 95:  # _null
                    if eol != pos + 1:
                        raise ProtocolError(f"bad null {_clip(buf[pos:eol])!r}")
                    value = None
                    pos = eol + 2
                elif kind == 35:  # #boolean
                    line = buf[pos + 1:eol]
                    if line == b"t" or line == b"T":
                        value = True
                    elif line == b"f" or line == b"F":
                        value = False
                    else:
                        raise ProtocolError(f"bad boolean {_clip(line)!r}")
                    pos = eol + 2
                elif kind == 44:  # ,double
                    value = _parse_double(buf[pos + 1:eol])
                    pos = eol + 2
                elif kind == 40:  # (big number
                    value = buf[pos + 1:eol]
                    if _BIGNUM_RE.match(value) is None:
                        raise ProtocolError(f"bad big number {_clip(value)!r}")
                    if encoding is not None:
                        value = value.decode(encoding, self._errors)
                    pos = eol + 2
                else:
                    raise self._bad_type(buf, pos)

                # A value is complete: hand it to the aggregate being built, closing every
                # aggregate it completes; with no aggregate open it is the reply.
                while stack:
                    frame = stack[-1]
                    if frame.kind == 37 and not frame.left & 1:
                        _check_key(value)  # as soon as it arrives, like hiredis
                    frame.items.append(value)
                    frame.left -= 1
                    if frame.left:
                        break
                    stack.pop()
                    if frame.kind == 37:
                        value = _make_map(frame.items)
                    elif frame.kind == 124:
                        break  # a complete attribute is dropped; the next item is the value
                    else:
                        value = frame.items
                else:
                    self._pos = pos
                    return value
        except ProtocolError as exc:
            self._fail(str(exc))
            raise
        except UnicodeDecodeError as exc:
            self._fail(f"cannot decode reply with {encoding!r}: {exc}")
            raise ProtocolError(f"cannot decode reply with encoding {encoding!r} "
                                f"(errors={self._errors!r}): {exc}") from exc

    def _refill(self, pos: int, need: int) -> bool:
        """Join pending chunks after ``buf[pos:]`` if that lets the item at ``pos`` progress.

        ``need`` is the number of bytes the item needs from ``pos``, or -1 for "a line", which
        cannot complete before a ``b"\\n"`` arrives. Returns whether ``_buf`` was rebuilt (with
        ``_pos`` = 0).
        """
        pending = self._pending
        if not pending:
            return False
        buf = self._buf
        rest = len(buf) - pos
        if rest > 0:
            if need >= 0:
                if rest + self._pending_len < need:
                    return False
            else:
                for index in range(self._lf_checked, len(pending)):
                    if 10 in pending[index]:
                        break
                else:
                    self._lf_checked = len(pending)
                    return False
            pending.insert(0, memoryview(buf)[pos:])
            joined = b"".join(pending)
        elif len(pending) == 1:
            joined = pending[0]
        else:
            joined = b"".join(pending)
        pending.clear()
        self._pending_len = 0
        self._lf_checked = 0
        self._buf = joined
        self._pos = 0
        return True

    def _bad_type(self, buf: bytes, pos: int) -> ProtocolError:
        return ProtocolError(f"unknown reply type byte {buf[pos:pos + 1]!r} "
                             f"(next bytes {_clip(buf[pos:pos + 24])!r})")

    def _fail(self, reason: str) -> None:
        """Enter the terminal error state and drop what was buffered."""
        self._error = reason
        self._buf = b""
        self._pos = 0
        self._pending = []
        self._pending_len = 0
        self._stack = []


def _clip(data: bytes, limit: int = 40) -> bytes:
    return data if len(data) <= limit else data[:limit] + b"..."


def _bulk_too_long(size: int, limit: int) -> ProtocolError:
    return ProtocolError(f"bulk length {size} is over max_bulk_length={limit}")


def _no_crlf(buf: bytes, end: int, size: int) -> ProtocolError:
    return ProtocolError(f"bulk of {size} bytes not followed by CRLF (got {buf[end:end + 2]!r})")


def _parse_int(line: bytes) -> int:
    """A strict 64-bit RESP integer: no sign but '-', no leading zeros, no '-0' (as hiredis)."""
    if line.isdigit():
        if line[0] != 48 or len(line) == 1:
            value = int(line)
            if value <= _INT64_MAX:
                return value
    elif line[:1] == b"-" and line[1:].isdigit() and line[1] != 48:
        value = int(line)
        if value >= _INT64_MIN:
            return value
    raise ProtocolError(f"bad integer {_clip(line)!r}")


def _parse_double(line: bytes) -> float:
    """A RESP3 double, validated like hiredis (inf/-inf/nan any case; decimal; finite)."""
    if len(line) > 325:
        raise ProtocolError(f"double of {len(line)} bytes is too long")
    special = _SPECIAL_DOUBLES.get(line.lower()) if len(line) <= 4 else None
    if special is not None:
        return special
    if _DOUBLE_RE.match(line) is not None:
        value = float(line)
        # Overflow to inf, or a non-zero mantissa underflowing to zero, is refused (ERANGE).
        if not math.isinf(value) and (value != 0.0 or _NONZERO_MANTISSA_RE.match(line) is None):
            return value
    raise ProtocolError(f"bad double {_clip(line)!r}")


def _check_key(key: Any) -> None:
    """Refuse a map key that cannot be a dict key (an aggregate)."""
    try:
        hash(key)
    except TypeError as exc:
        raise ProtocolError(f"map key cannot be used as a dict key: {exc}") from exc


def _make_map(items: List[Any]) -> Dict[Any, Any]:
    """Build a map from its flat key/value list (later duplicate keys win, as in hiredis)."""
    pairs = iter(items)
    return dict(zip(pairs, pairs))


def decode_strings(value: Any, encoding: str, errors: str = "strict") -> Any:
    """``value`` with every ``bytes`` in it (nested in lists, tuples, sets and dicts) decoded:
    what a decoder with this encoding would have returned. For replies read undecoded as a
    whole (a transaction's EXEC holding a DUMP payload) whose other parts must be decoded."""
    if isinstance(value, bytes):
        return value.decode(encoding, errors)
    if isinstance(value, list):
        items = [decode_strings(v, encoding, errors) for v in value]
        return items if type(value) is list else type(value)(items)  # PushReply stays one
    if isinstance(value, dict):
        return {decode_strings(k, encoding, errors): decode_strings(v, encoding, errors)
                for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return type(value)(decode_strings(v, encoding, errors) for v in value)
    if isinstance(value, tuple):
        return tuple(decode_strings(v, encoding, errors) for v in value)
    return value


#: What hiredis raises when the bytes parse but cannot become Python values (an undecodable
#: string, a huge allocation, a malformed number).
_BUILD_ERRORS: Final = (TypeError, UnicodeDecodeError, MemoryError, ValueError)


def _dead_gets() -> Any:
    raise ProtocolError("decoder unusable after an earlier protocol error")


def _dead_gets_raw(decode: bool) -> Any:
    return _dead_gets()


class HiredisDecoder:
    """The same interface over ``hiredis.Reader``: the fast C parser, with the limits it lacks
    approximated in Python (see the module docstring for what differs)."""

    __slots__ = ("_failed", "_gets", "_gets_raw", "_len", "_limit", "_reader", "feed",
                 "has_buffered")

    def __init__(self, *, encoding: Optional[str] = None, encoding_errors: str = "strict",
                 max_bulk_length: int = DEFAULT_MAX_BULK_LENGTH,
                 max_depth: int = DEFAULT_MAX_DEPTH,
                 max_line_length: int = DEFAULT_MAX_LINE_LENGTH, node: Any = None) -> None:
        if not HIREDIS_AVAILABLE:
            raise ParserUnavailableError("the hiredis parser needs the hiredis package (>= 3.0): "
                                         "pip install 'clustercore[hiredis]'")
        _check_options(encoding, encoding_errors, max_bulk_length, max_depth, max_line_length)
        # ResponseError(text) raises ProtocolError for a malformed MOVED/ASK. hiredis-py can
        # crash (segfault, seen with 3.5) when the error callable raises while a decode error
        # is pending in the same map, so the callable never raises: it notes the failure in
        # ``_failed`` and gets() raises it instead.
        failed: List[BaseException] = []
        self._failed = failed

        def reply_error(text: str) -> Exception:
            try:
                error = ResponseError(text)
                error.node = node  # the connection's address, for messages and routing
                return error
            except Exception as exc:
                failed.append(exc)
                return ProtocolError(text)

        self._reader = hiredis.Reader(protocolError=ProtocolError, replyError=reply_error,
                                      notEnoughData=NEED_DATA, encoding=encoding,
                                      errors=encoding_errors)
        self._gets: Callable[[], Any] = self._reader.gets
        self._gets_raw: Callable[[bool], Any] = self._reader.gets
        #: Add received bytes (hiredis copies them into its own buffer): the reader's own C
        #: method, no Python frame (the hot path feeds once per reply).
        self.feed: Callable[[Buffer], None] = self._reader.feed  # type: ignore[assignment]
        #: Truthy when bytes are buffered: the reader's C ``has_data``.
        self.has_buffered: Callable[[], object] = self._reader.has_data
        self._len = self._reader.len
        # hiredis keeps at most one incomplete item (plus <= 1 KiB of parsed bytes) buffered
        # while it waits, so holding more than this means an item broke one of the limits.
        self._limit = max(max_bulk_length, max_line_length) + _HIREDIS_SLACK

    def buffered(self) -> int:
        """An upper bound of the bytes fed but not yet parsed (see the module docstring)."""
        return self._reader.len() if self._reader.has_data() else 0

    def gets(self, decode: bool = True) -> Any:
        """Return the next complete reply, or NEED_DATA; raise ProtocolError on bad input
        (``decode=False``: strings stay bytes, as in PythonDecoder.gets)."""
        try:
            reply = self._gets() if decode else self._gets_raw(False)
        except ProtocolError:
            self._fail()
            raise
        except _BUILD_ERRORS as exc:
            raise self._unbuildable(exc) from exc
        if reply is NEED_DATA or self._failed or type(reply) is _HiredisPush:
            return self._vet(reply)
        return reply

    def take(self, into: List[Any], count: int) -> int:
        """Append up to ``count`` complete replies to ``into``; how many (0: feed more).
        The same checks as gets(), with one Python frame per batch instead of per reply."""
        gets = self._gets
        failed = self._failed
        append = into.append
        taken = 0
        try:
            while taken < count:
                reply = gets()
                if reply is NEED_DATA or failed or type(reply) is _HiredisPush:
                    reply = self._vet(reply)
                    if reply is NEED_DATA:
                        break
                append(reply)
                taken += 1
        except ProtocolError:
            self._fail()
            raise
        except _BUILD_ERRORS as exc:
            raise self._unbuildable(exc) from exc
        return taken

    def _unbuildable(self, exc: BaseException) -> ProtocolError:
        """hiredis could not turn the bytes into Python values: fail, and say why."""
        self._fail()
        return ProtocolError(f"hiredis could not build the reply: {exc!r}")

    def _vet(self, reply: Any) -> Any:
        """The unusual outcomes of one hiredis gets(): a failure reply_error noted, "need
        more data" while holding more than the limits allow, a push (made a PushReply)."""
        if self._failed:
            cause = self._failed[0]
            self._fail()
            raise ProtocolError(str(cause)) from cause
        if reply is NEED_DATA:
            if self._len() > self._limit:
                self._fail()
                raise ProtocolError(f"incomplete reply item holds more than {self._limit} "
                                    f"bytes (max_bulk_length/max_line_length)")
            return reply
        if type(reply) is _HiredisPush:
            return PushReply(cast(List[Any], reply))
        return reply

    def _fail(self) -> None:
        """Make the decoder unusable (hiredis recovers from some errors; we must not)."""
        self._gets = _dead_gets
        self._gets_raw = _dead_gets_raw
        self._len = _zero
        self._reader = hiredis.Reader()
        self.feed = self._reader.feed  # type: ignore[assignment]
        self.has_buffered = _one  # unusable: never reuse its connection


def _zero() -> int:
    return 0


def _one() -> int:
    return 1


#: The fastest decoder installed: HiredisDecoder if hiredis imports, else PythonDecoder.
#: (make_decoder() also honours the CLUSTERCORE_PARSER environment variable; this does not.)
DefaultDecoder: Type[Union[PythonDecoder, HiredisDecoder]] = (
    HiredisDecoder if HIREDIS_AVAILABLE else PythonDecoder
)


def make_decoder(kind: str = "auto", **kwargs: Any) -> Union[PythonDecoder, HiredisDecoder]:
    """Build a decoder: ``kind`` is "auto" (env ``CLUSTERCORE_PARSER``, else the default),
    "python" or "hiredis". Missing hiredis raises ParserUnavailableError (an ImportError);
    an unknown kind raises DataError."""
    if kind == "auto":
        kind = os.environ.get("CLUSTERCORE_PARSER", "").strip().lower() or "auto"
        if kind == "auto":
            return DefaultDecoder(**kwargs)
    if kind == "python":
        return PythonDecoder(**kwargs)
    if kind == "hiredis":
        return HiredisDecoder(**kwargs)
    raise DataError(f"unknown parser {kind!r}; use 'auto', 'python' or 'hiredis' "
                    f"(argument or CLUSTERCORE_PARSER)")


# ------------------------------------------------------------------------------------------------
# Server side
# ------------------------------------------------------------------------------------------------
def encode_reply(value: Any, protocol: int = 2) -> bytes:
    """Encode ``value`` as a server reply in RESP2 (``protocol=2``) or RESP3 (``protocol=3``)."""
    if protocol not in (2, 3):
        raise DataError(f"protocol must be 2 or 3, not {protocol!r}")
    out: List[bytes] = []
    _encode(value, protocol == 3, out)
    return b"".join(out)


def _encode(value: Any, resp3: bool, out: List[bytes]) -> None:
    """Append the encoding of ``value`` (nested values by recursion: test data is shallow)."""
    if isinstance(value, SimpleString):
        out.append(b"+" + _line(bytes(value)) + b"\r\n")
    elif isinstance(value, (bytes, bytearray, memoryview, str)):
        data: bytes = value.encode() if isinstance(value, str) else bytes(value)
        out.append(b"$%d\r\n%b\r\n" % (len(data), data))
    elif value is None:
        out.append(b"_\r\n" if resp3 else b"$-1\r\n")
    elif isinstance(value, bool):
        out.append((b"#t\r\n" if value else b"#f\r\n") if resp3 else
                   (b":1\r\n" if value else b":0\r\n"))
    elif isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            out.append(b":%d\r\n" % value)
        elif resp3:
            out.append(b"(%d\r\n" % value)
        else:
            digits = b"%d" % value
            out.append(b"$%d\r\n%b\r\n" % (len(digits), digits))
    elif isinstance(value, float):
        text = float.__repr__(value).encode()
        out.append(b",%b\r\n" % text if resp3 else b"$%d\r\n%b\r\n" % (len(text), text))
    elif isinstance(value, BaseException):
        message = value.args[0] if value.args and isinstance(value.args[0], str) else str(value)
        out.append(b"-" + _line(message.encode("utf-8")) + b"\r\n")
    elif isinstance(value, (list, tuple)):
        out.append(b"%c%d\r\n" % (62 if resp3 and is_push(value) else 42, len(value)))
        for item in value:
            _encode(item, resp3, out)
    elif isinstance(value, dict):
        out.append(b"%%%d\r\n" % len(value) if resp3 else b"*%d\r\n" % (2 * len(value)))
        for key, item in value.items():
            _encode(key, resp3, out)
            _encode(item, resp3, out)
    elif isinstance(value, (set, frozenset)):
        out.append(b"%c%d\r\n" % (126 if resp3 else 42, len(value)))
        for item in value:
            _encode(item, resp3, out)
    else:
        raise DataError(f"cannot encode {_short_repr(value)} of type {type(value).__name__} "
                        f"as a reply")


def _line(data: bytes) -> bytes:
    if b"\r" in data or b"\n" in data:
        raise DataError(f"simple string or error with CR/LF cannot be encoded: {_clip(data)!r}")
    return data
