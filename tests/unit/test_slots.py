"""key_slot: the specification's vectors and the hash-tag rules, exhaustively and by property."""

from __future__ import annotations

from typing import Any, List

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clustercore._slots import NUM_SLOTS, key_slot, key_slots
from clustercore.errors import DataError


def crc16_reference(data: bytes) -> int:
    """Bit-by-bit CRC16/XMODEM, written from the specification, to check the C routine."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def test_spec_vector() -> None:
    # The Redis Cluster specification: CRC16 of "123456789" is 0x31C3.
    assert crc16_reference(b"123456789") == 0x31C3
    assert key_slot(b"123456789") == 0x31C3 % NUM_SLOTS == 12739


@pytest.mark.parametrize(("key", "same_as"), [
    (b"{user1000}.following", b"user1000"),
    (b"{user1000}.followers", b"user1000"),
    (b"foo{}{bar}", b"foo{}{bar}"),       # empty first tag: whole key is hashed
    (b"foo{{bar}}zap", b"{bar"),           # tag is "{bar"
    (b"foo{bar}{zap}", b"bar"),            # only the first tag counts
    (b"{}", b"{}"),
    (b"{", b"{"),
    (b"}{", b"}{"),
    (b"a}b{c}", b"c"),
])
def test_hash_tags(key: bytes, same_as: bytes) -> None:
    assert key_slot(key) == crc16_reference(same_as) % NUM_SLOTS


def test_str_int_float_keys_match_their_bytes() -> None:
    assert key_slot("user1000") == key_slot(b"user1000")
    assert key_slot(12345) == key_slot(b"12345")
    assert key_slot(1.5) == key_slot(b"1.5")
    assert key_slot(memoryview(b"abc")) == key_slot(b"abc")
    assert key_slot("é") == key_slot("é".encode())


@pytest.mark.parametrize("bad", [None, True, object(), [b"a"]])
def test_bad_key_type(bad: object) -> None:
    with pytest.raises(DataError):
        key_slot(bad)  # type: ignore[arg-type]


@given(st.binary(max_size=64))
def test_matches_reference(key: bytes) -> None:
    start = key.find(b"{")
    hashed = key
    if start != -1:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            hashed = key[start + 1:end]
    assert key_slot(key) == crc16_reference(hashed) % NUM_SLOTS


@given(st.binary(min_size=1, max_size=16).filter(lambda t: b"}" not in t),
       st.binary(max_size=16).filter(lambda p: b"{" not in p), st.binary(max_size=16))
def test_tagged_keys_share_a_slot(tag: bytes, prefix: bytes, suffix: bytes) -> None:
    assert key_slot(prefix + b"{" + tag + b"}" + suffix) == key_slot(tag)


_ONE_KEY = st.one_of(st.binary(max_size=12), st.text(max_size=12), st.integers(),
                    st.binary(max_size=12).map(bytearray), st.binary(max_size=12).map(memoryview),
                    st.sampled_from([b"{a}x", "{a}y", b"{}z", "}{", b"{", bytearray(b"{b}c")]))


@given(st.one_of(st.lists(_ONE_KEY, max_size=20),  # mixed kinds
                 st.lists(st.binary(max_size=12), max_size=20),  # all bytes: the join path
                 st.lists(st.text(max_size=12), max_size=20)))  # all str: the join path
def test_key_slots_agrees_with_key_slot(keys: List[Any]) -> None:
    assert key_slots(keys) == [key_slot(k) for k in keys]
    assert key_slots(tuple(keys)) == [key_slot(k) for k in keys]


@given(st.lists(st.text(max_size=6), max_size=12),
       st.sampled_from(["utf-8", "latin-1", "shift_jis", "gbk", "utf-16"]))
def test_key_slots_applies_hash_tags_to_the_encoded_bytes(keys: List[str], encoding: str) -> None:
    """In Shift_JIS/GBK a character without "{" can encode to the byte 0x7B: the tag rule is
    about bytes, so str keys must be encoded before looking for "{"."""
    try:
        expected = [key_slot(k, encoding) for k in keys]
    except DataError:  # a key the encoding cannot encode: the same typed error from both
        with pytest.raises(DataError, match="cannot be encoded"):
            key_slots(keys, encoding)
        return
    assert key_slots(keys, encoding) == expected


def test_key_slots_shift_jis_example_and_iterators() -> None:
    key = "\u30dcx\u30de"  # Shift_JIS bytes 83 7b 78 83 7d: a hash tag "{x" ... "}" in bytes
    assert "{" not in key and b"{" in key.encode("shift_jis")
    assert key_slots([key], "shift_jis") == [key_slot(key, "shift_jis")]
    assert key_slots(iter([b"a", b"b{c}"])) == [key_slot(b"a"), key_slot(b"c")]
    assert key_slots(k for k in ["x", "y"]) == [key_slot("x"), key_slot("y")]
