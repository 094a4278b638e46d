"""Hash slots: ``key_slot`` as the Redis Cluster specification defines it.

CRC16/XMODEM (``binascii.crc_hqx`` with a zero seed is exactly that polynomial, in C) of the
key, or of the part between the first ``{`` and the next ``}`` when that part is non-empty,
modulo 16384.
"""

from __future__ import annotations

import operator
from binascii import crc_hqx
from typing import Any, Iterable, List, Union

from .errors import DataError, InvalidSlotError

__all__ = ["NUM_SLOTS", "key_slot", "key_slots", "key_to_bytes", "slot_number"]

#: Number of hash slots in a Redis Cluster.
NUM_SLOTS = 16384


def key_to_bytes(key: Union[bytes, str, int, float, memoryview, bytearray],
                 encoding: str = "utf-8") -> bytes:
    """Return the bytes the server would see for ``key`` (same rules as the encoder)."""
    if isinstance(key, bytes):
        return key
    if isinstance(key, str):
        try:
            return key.encode(encoding)
        except UnicodeEncodeError as exc:
            raise _unencodable(key, encoding, exc) from None
    if isinstance(key, (bytearray, memoryview)):
        return bytes(key)
    if isinstance(key, bool) or not isinstance(key, (int, float)):
        raise DataError(f"invalid key {key!r} of type {type(key).__name__}")
    return repr(key).encode() if isinstance(key, float) else str(key).encode()


def key_slot(key: Union[bytes, str, int, float, memoryview, bytearray],
             encoding: str = "utf-8") -> int:
    """Return the hash slot (0..16383) that ``key`` maps to, honouring ``{hash tags}``."""
    data: bytes
    if isinstance(key, bytes):
        data = key
    elif isinstance(key, str):
        try:  # free when nothing is raised (CPython 3.11+): the GET/SET path pays nothing
            data = key.encode(encoding)
        except UnicodeEncodeError as exc:
            raise _unencodable(key, encoding, exc) from None
    else:
        data = key_to_bytes(key, encoding)
    start = data.find(b"{")
    if start != -1:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1:end]
    return crc_hqx(data, 0) & 0x3FFF


def key_slots(keys: Iterable[Any], encoding: str = "utf-8") -> List[int]:
    """``[key_slot(k) for k in keys]``, faster: multi-key commands hash every key.

    When all keys are bytes-like and none holds a ``{`` (one join and one search tell, in C),
    no key needs the hash-tag rule and one comprehension hashes them all. str keys are encoded
    first: the tag rule applies to the encoded bytes (in Shift_JIS or GBK a character without
    ``{`` can encode to the byte 0x7B)."""
    if type(keys) is not list and type(keys) is not tuple:
        keys = list(keys)  # an iterator would be used up by the join
    try:
        if b"{" not in b"".join(keys):
            return [crc_hqx(key, 0) & 0x3FFF for key in keys]
    except (TypeError, BufferError, ValueError):  # not all bytes-like: str keys, ints ...
        if all(type(key) is str for key in keys):
            try:
                encoded = [key.encode(encoding) for key in keys]
            except UnicodeEncodeError:
                encoded = [key_to_bytes(key, encoding) for key in keys]  # names the bad key
            return key_slots(encoded)
    return [key_slot(key, encoding) for key in keys]


def _unencodable(key: str, encoding: str, exc: UnicodeEncodeError) -> DataError:
    """The DataError for a str key the encoding cannot encode (a lone surrogate in UTF-8)."""
    shown = repr(key) if len(key) <= 60 else repr(key[:57]) + "..."
    return DataError(f"key {shown} cannot be encoded with {encoding!r}: {exc.reason} at "
                     f"position {exc.start}")

def slot_number(slot: Any) -> int:
    """``slot`` as an index into a topology's slot table, or InvalidSlotError naming it.

    The one definition of a valid slot number, used by every routing path (the topology's
    lookups, every pool method taking a slot): an integer 0..16383. ``True``/``False`` count as
    1 and 0, as Python indexes with them (refusing them would cost the per-command path a type
    test).
    """
    try:
        number = operator.index(slot)
    except TypeError:
        raise InvalidSlotError(
            f"slot {slot!r} is not an integer (slots are 0..{NUM_SLOTS - 1})") from None
    if not 0 <= number < NUM_SLOTS:
        raise InvalidSlotError(f"slot {slot!r} is outside 0..{NUM_SLOTS - 1}")
    return number
