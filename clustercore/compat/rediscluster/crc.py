"""redis-py-cluster's ``rediscluster.crc``: ``crc16(data)``, the CRC16/XMODEM checksum of
Redis Cluster's key hashing (``crc16(key) % 16384`` is the slot of a key without a hash tag).

The standard library computes it in C (``binascii.crc_hqx`` with initial value 0 is XMODEM),
the same function clustercore's slot hashing uses; no lookup table is kept here.
"""

from __future__ import annotations

import binascii
from typing import Union

__all__ = ["crc16"]


def crc16(data: Union[bytes, bytearray, memoryview]) -> int:
    """The CRC16/XMODEM checksum of ``data`` (bytes); a str is refused as redis-py-cluster's
    Python 3 version refused it (iterate bytes, not characters)."""
    if isinstance(data, str):
        raise TypeError(f"crc16 takes bytes, not str: {data!r} (encode it first)")
    return binascii.crc_hqx(bytes(data), 0)
