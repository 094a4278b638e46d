"""Sans-IO RESP2/RESP3 reply decoding: the decoder interface and the pure-Python decoder.

Nothing here touches a socket, a thread or a clock: the connection feeds received bytes to a
decoder and asks it for replies. :class:`PythonDecoder` (here) and
:class:`~.hiredis.HiredisDecoder` (the C parser, when hiredis >= 3.0 is installed) share one
interface, :class:`Decoder`: ``feed(data)``, ``gets()`` (the next complete reply, or
:data:`NEED_DATA`), ``take(into, count)`` and ``buffered()``; :func:`~.parser.make_decoder` picks
one. Error replies are *values* built by ``ResponseError(text)``, whose constructor picks the
subclass (MovedError, AskError ...). Bytes that are not RESP, or that break a configured limit,
raise :class:`~clustercore.errors.ProtocolError`; after that the decoder is unusable (it raises
ProtocolError again) and the caller must close the connection.

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
with an unhashable key, raises ProtocolError in both decoders. Where the two differ (only on
input Redis does not send) is listed in :mod:`.hiredis`.

Decoders are not thread-safe; use one per connection.
"""

from __future__ import annotations

import codecs
import math
import re
from typing import Any, Dict, Final, List, Optional, Protocol, Union

from ..errors import ProtocolError, ResponseError

__all__ = [
    "DEFAULT_MAX_BULK_LENGTH",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_LINE_LENGTH",
    "MAX_AGGREGATE_LENGTH",
    "NEED_DATA",
    "Buffer",
    "Decoder",
    "PushReply",
    "PythonDecoder",
    "decode_strings",
]

Buffer = Union[bytes, bytearray, memoryview]

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

