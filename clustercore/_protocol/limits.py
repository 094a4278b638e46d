"""The line and bulk limits for hiredis, which cannot be told them: :class:`StreamGuard`.

hiredis buffers an incomplete item (a line still without its CRLF, or a bulk still missing
bytes) for as long as it takes, and from Python it shows only ``len()`` (the bytes it holds)
and ``has_data()``. Three facts about hiredis (>= 1.0, measured in tests/unit/
test_decoder_limits.py) make that enough, with the bytes the connection received:

* once a ``gets()`` returned "not enough data", everything hiredis holds unparsed is ONE
  incomplete item, minus its type byte (read as soon as it arrives);
* hiredis drops the parsed prefix of its buffer when it reaches 1 KiB, so ``len()`` is that
  item's size ``u`` plus at most 1022 already-parsed bytes: ``u`` is in ``[len - 1022,
  len + 1]``;
* every complete RESP item ends with CRLF, so the incomplete item starts right after a CRLF
  (or at a point the connection knows to be a reply boundary).

StreamGuard keeps the last bytes fed while a reply spans several reads (only then: the
connection records nothing on its one-read hot path) and, while hiredis waits holding more
than the smaller limit, finds out what the incomplete item is: a bulk (a ``$N`` / ``=N``
header preceded by a CRLF, at a position consistent with ``len()``) whose N is checked against
``max_bulk_length``, else a line, whose length is exact (it is everything after the last CRLF)
and checked against ``max_line_length``. It only raises when every reading consistent with
what hiredis holds breaks a limit, so a legitimate reply is never refused; when it cannot tell
(the bytes it would need were not recorded) it stays silent and HiredisDecoder's own bound
(the larger limit plus slack) still caps what hiredis may hold. A server that plants a fake
bulk header in a payload can thereby make a long line pass for a bulk, but never make hiredis
hold more than ``max_bulk_length``.
"""

from __future__ import annotations

from collections import deque
from typing import Deque, Final, Optional

from ..errors import ProtocolError

__all__ = ["StreamGuard"]

#: The longest bulk header: a type byte, 19 digits (a 64-bit length) and CRLF.
_HEADER_MAX: Final = 22
#: hiredis keeps at most this many already-parsed bytes in front of the incomplete item.
_PARSED_MAX: Final = 1022
#: The largest read the connection makes (its recv size): how far one feed moves the end.
_READ_MAX: Final = 65536
_CRLF: Final = b"\r\n"


class StreamGuard:
    """Recent bytes of the stream and what is known about the item hiredis waits on.

    ``record(data, boundary)`` after each feed of a multi-read reply (``boundary``: data starts
    a reply); ``check(held, has_data)`` each time hiredis returned "not enough data", with its
    ``len()`` and ``has_data()``; raises ProtocolError naming the limit and the size.
    """

    __slots__ = ("_anchor", "_bulk_end", "_cap", "_chunks", "_end", "_held", "_max_bulk",
                 "_max_line", "_probe_at")

    def __init__(self, max_bulk_length: int, max_line_length: int) -> None:
        self._max_bulk = max_bulk_length
        self._max_line = max_line_length
        #: While hiredis holds no more than this, no item can have broken a limit by much:
        #: nothing is looked at.
        self._probe_at = min(max_line_length, max_bulk_length)
        #: Bytes of history kept: enough to reach back over the item and the parsed prefix
        #: at the first check after it grew past _probe_at.
        self._cap = self._probe_at + _READ_MAX + _PARSED_MAX + _HEADER_MAX + 4
        self._chunks: Deque[bytes] = deque()
        self._held = 0  # bytes in _chunks: the stream's [_end - _held, _end)
        self._end = 0  # stream offset just after the last recorded byte
        #: A stream offset known to start an item (None: none known in the history).
        self._anchor: Optional[int] = 0
        #: Where the bulk accepted by the last check ends (None: none accepted).
        self._bulk_end: Optional[int] = None

    def record(self, data: bytes, boundary: bool = False) -> None:
        """Note bytes just fed; ``boundary``: they start a new reply (nothing was pending)."""
        if boundary:
            self._anchor = self._end
            self._bulk_end = None
        if not data:
            return
        chunks = self._chunks
        chunks.append(data)
        self._held += len(data)
        self._end += len(data)
        while self._held - len(chunks[0]) >= self._cap:
            self._held -= len(chunks.popleft())

    def check(self, held: int, has_data: bool) -> None:
        """hiredis waits, holding ``held`` bytes: raise ProtocolError if the item it waits on
        is a line longer than max_line_length or a bulk declared longer than max_bulk_length."""
        end = self._end
        if not has_data:  # all consumed, but maybe the type byte of the next item
            last = self._chunks[-1][-1] if self._chunks else 10
            self._anchor = end if last == 10 else end - 1
            self._bulk_end = None
            return
        if self._bulk_end is not None:
            if end < self._bulk_end:
                return  # still inside the bulk accepted earlier
            self._bulk_end = None
        if held > self._probe_at:
            self._classify(held)

    def _classify(self, held: int) -> None:
        """Find what the incomplete item can be; raise only if every reading breaks a limit."""
        end = self._end
        start = end - self._held  # stream offset of the first recorded byte
        anchor = self._anchor if self._anchor is not None and self._anchor >= start else None
        # The item starts at s with end - s in [held - 1022, held + 1], and at or after any
        # known item start.
        first = end - held - 1
        last = end - max(held - _PARSED_MAX, 1)
        if anchor is not None:
            first = max(first, anchor)
        if first < start or first > last:
            return  # its start may lie before the recorded bytes: nothing can be said
        data = b"".join(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
        fits = False
        oversize: Optional[int] = None
        oversize_at = -1
        header_ends = set()  # where a possible bulk's header ends
        for kind in (b"$", b"="):  # a bulk: $N / =N right after a CRLF (or at the anchor)
            pos = data.find(kind, first - start, last - start + 1)
            while pos != -1:
                at = start + pos
                if at == anchor or pos < 2 or data[pos - 2:pos] == _CRLF:
                    eol = data.find(_CRLF, pos + 1, pos + _HEADER_MAX + 1)
                    digits = data[pos + 1:eol] if eol != -1 else b""
                    if digits.isdigit():
                        size = int(digits)
                        item_end = start + eol + 2 + size + 2
                        if end < item_end:  # still incomplete: a possible reading
                            header_ends.add(start + eol + 2)
                            if size <= self._max_bulk:
                                fits = True
                                self._bulk_end = max(self._bulk_end or 0, item_end)
                            elif oversize_at < at:  # the latest is the likeliest
                                oversize, oversize_at = size, at
                pos = data.find(kind, pos + 1, last - start + 1)
        if fits:
            return
        # A line: everything after the last CRLF (or after the anchor, if later). When that
        # CRLF ends a possible bulk's header, an over-long "line" is that bulk's payload.
        crlf = data.rfind(_CRLF)
        line_start = start + crlf + 2 if crlf != -1 else None
        if anchor is not None and (line_start is None or anchor > line_start):
            line_start = anchor
        line_size: Optional[int] = None  # the line reading's content, if it is possible
        if line_start is not None and first <= line_start <= last:
            line_size = end - line_start - 1 - (1 if data[-1] == 13 else 0)
            if line_size <= self._max_line:
                return  # a line within the limit
        if line_size is not None and (oversize is None or line_start not in header_ends):
            raise ProtocolError(f"line of {line_size} bytes without CRLF so far is longer "
                                f"than max_line_length={self._max_line}")
        if oversize is not None:
            raise ProtocolError(f"bulk length {oversize} is over "
                                f"max_bulk_length={self._max_bulk}")
        # No reading fits what hiredis holds: some bytes were not recorded. Say nothing.
