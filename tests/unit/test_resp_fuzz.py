"""Fuzzing the decoders: any byte stream, cut anywhere, gives replies, NEED_DATA or ProtocolError.

Nothing else may be raised, every gets() loop ends, and what a decoder holds stays bounded: by
the configured limits while it waits, and never by a length the stream merely declares.
"""

from __future__ import annotations

import math
import re
import tracemalloc
from typing import Any, List, Optional, Sequence, Tuple

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from clustercore._protocol.decoder import (
    DEFAULT_MAX_BULK_LENGTH,
    DEFAULT_MAX_LINE_LENGTH,
    NEED_DATA,
    PushReply,
    PythonDecoder,
)
from clustercore._protocol.hiredis import _HIREDIS_SLACK, HIREDIS_AVAILABLE, is_push
from clustercore._protocol.parser import make_decoder
from clustercore._protocol.reply_encoder import SimpleString, encode_reply
from clustercore.errors import ProtocolError, ResponseError

BACKENDS = [
    "python",
    pytest.param("hiredis", marks=pytest.mark.skipif(not HIREDIS_AVAILABLE,
                                                      reason="hiredis not installed")),
]

#: Small limits, so that random streams reach them.
LIMITS = {"max_bulk_length": 64, "max_line_length": 32, "max_depth": 8}
#: hiredis pre-allocates declared arrays: keep declared counts small when fuzzing it.
_BIG_COUNT = re.compile(rb"[*%~>|][0-9]{6,}")

TOKENS = st.sampled_from([
    b"$", b"*", b":", b"+", b"-", b"%", b"~", b">", b"|", b"_", b"#", b",", b"(", b"!", b"=",
    b"\r\n", b"\r\n", b"\r\n", b"\r", b"\n", b"-1", b"0", b"1", b"2", b"3", b"4", b"12", b"t",
    b"f", b"OK", b"txt:", b"inf", b"nan", b".5", b"e", b"MOVED 1 h:1", b"ERR x", b"x", b"\x00",
    b"\xff",
])
TOKEN_STREAMS = st.lists(TOKENS, max_size=80).map(b"".join)


def raw_values() -> st.SearchStrategy[Any]:
    """Values encode_reply can send (RESP3), to mutate into near-valid streams."""
    leaves = st.one_of(st.binary(max_size=12), st.integers(), st.none(), st.booleans(),
                       st.floats(), st.just(SimpleString(b"OK")),
                       st.just(ResponseError("MOVED 3 10.0.0.1:7000")))
    return st.recursive(leaves, lambda children: st.one_of(
        st.lists(children, max_size=4), st.lists(children, max_size=3).map(PushReply),
        st.dictionaries(st.binary(max_size=4), children, max_size=3)), max_leaves=12)


VALID_STREAMS = st.lists(raw_values(), min_size=1, max_size=4).map(
    lambda values: b"".join(encode_reply(v, 3) for v in values))


@st.composite
def mutated_streams(draw: st.DrawFn) -> bytes:
    """A valid stream with a few bytes flipped, inserted or deleted."""
    data = bytearray(draw(VALID_STREAMS))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "digit"]))
        at = draw(st.integers(0, len(data)))
        if op == "insert" or not data:
            data[at:at] = bytes([draw(st.integers(0, 255))])
        elif op == "digit":  # lengths are the interesting part: grow or break one
            data[at:at] = draw(st.sampled_from([b"9", b"0", b"-", b"99999"]))
        elif op == "flip":
            at = min(at, len(data) - 1)
            data[at] ^= 1 << draw(st.integers(0, 7))
        else:
            del data[min(at, len(data) - 1)]
    return bytes(data)


def cut(data: bytes, cuts: Sequence[int]) -> List[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in zip(points, points[1:])]


def run(kind: str, pieces: Sequence[bytes], **options: Any) -> Tuple[List[Any], Optional[str]]:
    """Feed the pieces, draining gets() after each; return the replies and the error, if any.

    Any exception other than ProtocolError fails the test. Checks termination (each reply
    consumes at least 3 bytes) and that a waiting decoder holds a bounded number of bytes.
    """
    decoder = make_decoder(kind, **options)
    replies: List[Any] = []
    fed = 0
    for piece in pieces:
        decoder.feed(piece)
        fed += len(piece)
        while True:
            try:
                reply = decoder.gets()
            except ProtocolError as exc:
                return replies, str(exc)
            if reply is NEED_DATA:
                break
            replies.append(reply)
            assert 3 * len(replies) <= fed
        assert decoder.buffered() <= fed
        assert decoder.buffered() <= _waiting_bound(kind, **options)
    return replies, None


def _waiting_bound(kind: str, *, max_bulk_length: int = DEFAULT_MAX_BULK_LENGTH,
                   max_line_length: int = DEFAULT_MAX_LINE_LENGTH, **_: Any) -> int:
    if kind == "python":  # one partial item: a line, or a bulk with its header
        return max_bulk_length + max_line_length + 5
    return max(max_bulk_length, max_line_length) + _HIREDIS_SLACK


def _hiredis_safe(kind: str, data: bytes) -> None:
    if kind == "hiredis":
        assume(_BIG_COUNT.search(data) is None)


@pytest.mark.parametrize("kind", BACKENDS)
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(0, 400), max_size=10))
def test_random_bytes(kind: str, data: bytes, cuts: List[int]) -> None:
    _hiredis_safe(kind, data)
    run(kind, cut(data, cuts))
    run(kind, cut(data, cuts), **LIMITS)


@pytest.mark.parametrize("kind", BACKENDS)
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(data=TOKEN_STREAMS, cuts=st.lists(st.integers(0, 400), max_size=10))
def test_resp_like_tokens(kind: str, data: bytes, cuts: List[int]) -> None:
    _hiredis_safe(kind, data)
    run(kind, cut(data, cuts))
    run(kind, cut(data, cuts), **LIMITS)


@pytest.mark.parametrize("kind", BACKENDS)
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated_streams(), cuts=st.lists(st.integers(0, 400), max_size=10))
def test_mutated_valid_streams(kind: str, data: bytes, cuts: List[int]) -> None:
    _hiredis_safe(kind, data)
    run(kind, cut(data, cuts))
    run(kind, cut(data, cuts), **LIMITS)
    run(kind, cut(data, cuts), encoding="utf-8")


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(TOKEN_STREAMS, mutated_streams()),
       cuts=st.lists(st.integers(0, 400), max_size=10))
def test_chunking_never_changes_the_outcome_python(data: bytes, cuts: List[int]) -> None:
    """Whole, cut at random, or byte by byte: the same replies, then an error or not."""
    whole = run("python", [data])
    assert _key(run("python", cut(data, cuts))) == _key(whole)
    assert _key(run("python", [data[i:i + 1] for i in range(len(data))])) == _key(whole)


def _key(outcome: Tuple[List[Any], Optional[str]]) -> Any:
    replies, error = outcome  # messages may quote bytes around the fault: compare only whether
    return [_norm(r) for r in replies], error is not None


def _norm(value: Any) -> Any:
    if isinstance(value, float):
        return ("float", repr(value))
    if isinstance(value, ResponseError):
        return (type(value).__name__, str(value))
    if is_push(value):
        return ("push", [_norm(v) for v in value])
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if isinstance(value, dict):
        return ("map", [(_norm(k), _norm(v)) for k, v in value.items()])
    return value


#: Errors only the pure decoder reports: hiredis does not check the CRLF after a bulk, and it
#: reads ``#\x00`` as false (a strchr() quirk).
_HIREDIS_ONLY_LENIENT = ("not followed by CRLF", "bad boolean b'\\x00'")


@pytest.mark.skipif(not HIREDIS_AVAILABLE, reason="hiredis not installed")
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(TOKEN_STREAMS, mutated_streams()).filter(
    lambda d: b"|" not in d and b"!" not in d and _BIG_COUNT.search(d) is None))
def test_decoders_agree(data: bytes) -> None:
    """Without attributes and bulk errors (documented differences) the backends agree: same
    replies up to the first error; where hiredis errs, so does the pure decoder; where only the
    pure decoder errs, it is over something hiredis does not check (bulk CRLF, lone LF)."""
    ours, our_error = run("python", [data])
    theirs, their_error = run("hiredis", [data])
    if our_error is not None and any(text in our_error for text in _HIREDIS_ONLY_LENIENT):
        n = len(ours)
        assert [_norm(r) for r in theirs[:n]] == [_norm(r) for r in ours]
        return
    assert [_norm(r) for r in ours] == [_norm(r) for r in theirs]
    assert (our_error is None) == (their_error is None), (our_error, their_error)


# --- declared sizes allocate nothing ------------------------------------------------------------
HUGE_DECLARATIONS = [
    b"$1099511627776\r\n",
    b"$536870912\r\n" + b"x" * 1000,  # exactly max_bulk_length: accepted, then waits
    b"*2147483647\r\n",
    b"*2147483647\r\n*2147483647\r\n:1\r\n",
    b"%2147483647\r\n+k\r\n",
    b"~4294967295\r\n",
    b">4294967295\r\n",
    b"|2147483647\r\n",
    b"*4294967295\r\n" + b"$3\r\nabc\r\n" * 100,
    b"=1099511627776\r\n",
    b"!536870912\r\nERR",
    b"*4294967296\r\n",
]


def _peak_while_decoding(data: bytes) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        decoder = PythonDecoder()
        decoder.feed(data)
        try:
            while decoder.gets() is not NEED_DATA:
                pass
        except ProtocolError:
            pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("data", HUGE_DECLARATIONS)
def test_huge_declarations_allocate_nothing(data: bytes) -> None:
    assert _peak_while_decoding(data) < 256 * 1024


@settings(max_examples=30, deadline=None)
@given(type_byte=st.sampled_from(b"$*%~>|=!"), declared=st.integers(0, 2**62),
       tail=st.binary(max_size=50))
def test_any_declared_length_allocates_nothing(type_byte: int, declared: int,
                                                tail: bytes) -> None:
    data = bytes([type_byte]) + b"%d\r\n" % declared + tail
    assert _peak_while_decoding(data) < 256 * 1024


def test_waiting_on_a_huge_bulk_holds_only_what_arrived() -> None:
    decoder = PythonDecoder()
    decoder.feed(b"$536870912\r\n")
    assert decoder.gets() is NEED_DATA
    for _ in range(100):
        decoder.feed(b"x" * 1000)
        assert decoder.gets() is NEED_DATA
    assert decoder.buffered() == 12 + 100_000


@pytest.mark.skipif(not HIREDIS_AVAILABLE, reason="hiredis not installed")
def test_hiredis_count_limit() -> None:
    with pytest.raises(ProtocolError):
        run_or_raise("hiredis", b"*4294967296\r\n")


def run_or_raise(kind: str, data: bytes) -> List[Any]:
    decoder = make_decoder(kind)
    decoder.feed(data)
    out = []
    while (reply := decoder.gets()) is not NEED_DATA:
        out.append(reply)
    return out


def test_nan_and_inf_doubles_roundtrip_through_fuzz_helpers() -> None:
    """The helpers used above compare nan by repr (nan != nan otherwise)."""
    (replies, error) = run("python", [b",nan\r\n,inf\r\n"])
    assert error is None and math.isnan(replies[0]) and replies[1] == math.inf
    assert _norm(replies) == [("float", "nan"), ("float", "inf")]
