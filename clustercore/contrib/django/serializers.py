"""How cache values become Redis strings and back: serializers, compression, raw integers.

Integers (``type(value) is int``: not bools) are stored as their decimal text, so INCRBY works
on them atomically on the server; every other value goes through the serializer (pickle by
default, JSON by option) and, when a compressor is configured, is compressed past a size
threshold. Compressed payloads start with :data:`COMPRESSED_MAGIC`, a NUL byte that neither a
decimal integer, a pickle (``0x80``) nor JSON text can start with, so values written before
compression was turned on stay readable.
"""

from __future__ import annotations

import json
import pickle
import zlib
from typing import Any, Optional, Protocol, Union

__all__ = [
    "COMPRESSED_MAGIC",
    "Codec",
    "Compressor",
    "JSONSerializer",
    "PickleSerializer",
    "Serializer",
    "ZlibCompressor",
]

#: The prefix of a compressed value (NUL, then ``z``).
COMPRESSED_MAGIC = b"\x00z"


class Serializer(Protocol):
    """Turns a value into bytes and back (integers never reach it)."""

    def dumps(self, value: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


class Compressor(Protocol):
    """Compresses serialized bytes and back."""

    def compress(self, data: bytes) -> bytes: ...

    def decompress(self, data: bytes) -> bytes: ...


class PickleSerializer:
    """pickle at ``protocol`` (the highest by default). Its PickleError reaches the caller."""

    def __init__(self, protocol: Optional[int] = None) -> None:
        self.protocol = pickle.HIGHEST_PROTOCOL if protocol is None else protocol

    def dumps(self, value: Any) -> bytes:
        return pickle.dumps(value, self.protocol)

    def loads(self, data: bytes) -> Any:
        return pickle.loads(data)


class JSONSerializer:
    """Compact UTF-8 JSON: values readable from other languages; only what JSON can hold
    (tuples come back as lists; anything else raises TypeError on set)."""

    def dumps(self, value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def loads(self, data: bytes) -> Any:
        return json.loads(data)


class ZlibCompressor:
    """zlib at ``level`` (-1: zlib's default)."""

    def __init__(self, level: int = -1) -> None:
        if not isinstance(level, int) or isinstance(level, bool) or not -1 <= level <= 9:
            raise ValueError(f"zlib level must be an int from -1 to 9; got {level!r}")
        self.level = level

    def compress(self, data: bytes) -> bytes:
        return zlib.compress(data, self.level)

    def decompress(self, data: bytes) -> bytes:
        return zlib.decompress(data)


class Codec:
    """Values to what the client sends (an int as is, else bytes) and replies back to values.

    ``min_length``: serialized values shorter than this are stored uncompressed (compressing a
    few bytes costs more than it saves)."""

    def __init__(self, serializer: Serializer, compressor: Optional[Compressor] = None,
                 min_length: int = 256) -> None:
        if not isinstance(min_length, int) or isinstance(min_length, bool) or min_length < 0:
            raise ValueError(f"compress_min_length must be an int >= 0; got {min_length!r}")
        self.serializer = serializer
        self.compressor = compressor
        self.min_length = min_length

    def dumps(self, value: Any) -> Union[int, bytes]:
        """An int as is (INCR-able); anything else serialized, compressed past min_length."""
        if type(value) is int:
            return value
        data = self.serializer.dumps(value)
        if self.compressor is not None and len(data) >= self.min_length:
            return COMPRESSED_MAGIC + self.compressor.compress(data)
        return data

    def loads(self, data: bytes) -> Any:
        """The value a reply holds: decompressed if marked, an int if decimal, else
        deserialized."""
        if data.startswith(COMPRESSED_MAGIC):
            if self.compressor is None:
                raise ValueError("a compressed cache value was read but no compressor is "
                                 "configured (OPTIONS['compressor'])")
            return self.serializer.loads(self.compressor.decompress(data[len(COMPRESSED_MAGIC):]))
        if data[:1].isdigit() or data[:1] == b"-":
            try:
                return int(data)
            except ValueError:
                pass  # JSON floats ("1.5"), negative JSON numbers
        return self.serializer.loads(data)
