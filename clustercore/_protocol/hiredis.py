"""The hiredis reply decoder: the same interface as PythonDecoder over ``hiredis.Reader``.

:class:`HiredisDecoder` is used when hiredis (>= 3.0) is installed (:data:`HIREDIS_AVAILABLE`);
it returns the same values as :class:`~.decoder.PythonDecoder` for everything Redis sends.

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

The reply-error callable given to hiredis never raises (a malformed MOVED/ASK makes
``ResponseError(text)`` raise ProtocolError): hiredis-py 3.5 crashes the process when that
callable raises while an undecodable string is pending in the same map. Feed hiredis pieces of
socket-read size: with a multi-megabyte buffer of many replies it moves the rest of its buffer
after every reply and gets much slower (see benchmarks/bench_decoder.py).
"""

from __future__ import annotations

from typing import Any, Callable, Final, List, Optional, Tuple, cast

from ..errors import ClusterCoreError, ProtocolError, ResponseError
from .decoder import (
    DEFAULT_MAX_BULK_LENGTH,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_LINE_LENGTH,
    NEED_DATA,
    Buffer,
    PushReply,
    _check_options,
)

try:
    import hiredis
except ImportError:  # pragma: no cover - the dev venv has hiredis
    hiredis = None  # type: ignore[assignment]

__all__ = ["HIREDIS_AVAILABLE", "PUSH_TYPES", "HiredisDecoder", "ParserUnavailableError", "is_push"]

#: How far past the larger of max_bulk_length / max_line_length hiredis may buffer while it
#: waits (it drops parsed bytes lazily, up to 1 KiB).
_HIREDIS_SLACK: Final = 1024 + 64


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

