"""The server side of RESP: encoding replies (:func:`encode_reply`, :class:`SimpleString`).

The client never sends replies; this is for :class:`~clustercore.testing.FakeCluster`, the fake
network and tests that script what a server says. It lives beside the client's codec because it
is the exact inverse of the decoders (the property tests round-trip through both).
"""

from __future__ import annotations

from typing import Any, List

from ..errors import DataError
from .decoder import _INT64_MAX, _INT64_MIN, _clip
from .encoder import _short_repr
from .hiredis import is_push

__all__ = ["SimpleString", "encode_reply"]


class SimpleString(bytes):
    """Marker for :func:`encode_reply`: send this value as a simple string (``+OK``)."""

    __slots__ = ()


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
