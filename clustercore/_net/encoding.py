"""redis-py's ``Encoder`` (``pool.get_encoder()``, ``NodeManager.encoder``): one value as the
wire carries it, one reply as ``decode_responses`` decodes it.

redis-py 3.5 (and so redis-py-cluster 2.1.3) code calls ``encoder.encode(value)`` to get the
bytes a key or argument becomes, and ``encoder.decode(reply, force=False)``. Both follow what
clustercore's connections do: bytes-like values as they are, ``str`` in the connection's
encoding, ``int``/``float`` as their decimal text, anything else (``bool`` included, as in
redis-py >= 3) refused with DataError naming it.
"""

from __future__ import annotations

from typing import Any

from ..errors import DataError

__all__ = ["Encoder"]


class Encoder:
    """Encode arguments and decode replies with one encoding and error handler."""

    def __init__(self, encoding: str = "utf-8", encoding_errors: str = "strict",
                 decode_responses: bool = False) -> None:
        self.encoding = encoding
        self.encoding_errors = encoding_errors
        self.decode_responses = decode_responses

    def encode(self, value: Any) -> bytes:
        """The bytes ``value`` is sent as; DataError for a type the wire cannot carry."""
        if isinstance(value, bytes):
            return value
        if isinstance(value, (bytearray, memoryview)):
            return bytes(value)
        if isinstance(value, str):
            return value.encode(self.encoding, self.encoding_errors)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DataError(
                f"Invalid input of type: {type(value).__name__!r} ({value!r}); convert it "
                "to bytes, str or a number first")
        return repr(value).encode("ascii")

    def decode(self, value: Any, force: bool = False) -> Any:
        """``value`` decoded to str when ``decode_responses`` (or ``force``) and bytes-like;
        anything else unchanged."""
        if not (self.decode_responses or force):
            return value
        if isinstance(value, memoryview):
            value = value.tobytes()
        if isinstance(value, (bytes, bytearray)):
            return bytes(value).decode(self.encoding, self.encoding_errors)
        return value

    def __repr__(self) -> str:
        return (f"Encoder(encoding={self.encoding!r}, encoding_errors="
                f"{self.encoding_errors!r}, decode_responses={self.decode_responses!r})")
