"""clustercore._protocol: command encoder, both reply decoders (same results), reply encoder."""

from __future__ import annotations

import enum
import math
import os
import pickle
import subprocess
import sys
from typing import Any, Callable, List, Optional, Sequence, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import clustercore
from clustercore._protocol import encoder
from clustercore._protocol import hiredis as hiredis_decoder
from clustercore._protocol.decoder import NEED_DATA, PushReply, PythonDecoder, decode_strings
from clustercore._protocol.encoder import BIG_VALUE_CUTOFF, pack_command, pack_commands
from clustercore._protocol.hiredis import (
    HIREDIS_AVAILABLE,
    HiredisDecoder,
    ParserUnavailableError,
    is_push,
)
from clustercore._protocol.parser import DefaultDecoder, make_decoder
from clustercore._protocol.reply_encoder import SimpleString, encode_reply
from clustercore.errors import (
    AskError,
    ClusterCoreError,
    ClusterDownError,
    DataError,
    ExecAbortError,
    MovedError,
    ProtocolError,
    ResponseError,
    TryAgainError,
    WrongTypeError,
)

BACKENDS = [
    "python",
    pytest.param("hiredis", marks=pytest.mark.skipif(not HIREDIS_AVAILABLE,
                                                      reason="hiredis not installed")),
]
needs_hiredis = pytest.mark.skipif(not HIREDIS_AVAILABLE, reason="hiredis not installed")


def _roundtrip_examples() -> int:
    """At least 1000 examples of the round trip under the "ci" profile; the profile's otherwise."""
    current = settings().max_examples
    profile = getattr(settings, "get_current_profile_name", lambda: settings._current_profile)()
    if profile == "ci":
        return max(1000, current)
    return current


def decode(kind: str, data: bytes, chunks: Optional[Sequence[int]] = None,
           **options: Any) -> List[Any]:
    """Feed ``data`` (whole, or cut at the ``chunks`` offsets), calling gets() after each feed."""
    decoder = make_decoder(kind, **options)
    cuts = [0, *sorted(chunks or ()), len(data)]
    replies: List[Any] = []
    for start, end in zip(cuts, cuts[1:]):
        decoder.feed(data[start:end])
        while True:
            reply = decoder.gets()
            if reply is NEED_DATA:
                break
            replies.append(reply)
    return replies


def decode_bytewise(kind: str, data: bytes, **options: Any) -> List[Any]:
    """Feed one byte at a time: every split point at once."""
    return decode(kind, data, range(1, len(data)), **options)


def norm(value: Any) -> Any:
    """Comparable form: floats by repr (nan == nan), errors by class and text, pushes tagged."""
    if isinstance(value, float):
        return ("float", repr(value))
    if isinstance(value, ResponseError):
        return (type(value).__name__, str(value))
    if is_push(value):
        return ("push", [norm(v) for v in value])
    if isinstance(value, list):
        return [norm(v) for v in value]
    if isinstance(value, dict):
        return ("map", [(norm(k), norm(v)) for k, v in value.items()])
    return value


# ------------------------------------------------------------------------------------------------
# Decoder: one table of replies, identical for both backends
# ------------------------------------------------------------------------------------------------
SAME_FOR_BOTH: List[Tuple[bytes, Any]] = [
    (b"+OK\r\n", b"OK"),
    (b"+\r\n", b""),
    (b":0\r\n", 0),
    (b":-42\r\n", -42),
    (b":9223372036854775807\r\n", 2**63 - 1),
    (b":-9223372036854775808\r\n", -(2**63)),
    (b"$5\r\nhello\r\n", b"hello"),
    (b"$0\r\n\r\n", b""),
    (b"$4\r\na\r\nb\r\n", b"a\r\nb"),
    (b"$-1\r\n", None),
    (b"*0\r\n", []),
    (b"*-1\r\n", None),
    (b"*3\r\n:1\r\n$1\r\na\r\n*1\r\n$-1\r\n", [1, b"a", [None]]),
    (b"_\r\n", None),
    (b"#t\r\n", True),
    (b"#f\r\n", False),
    (b"#T\r\n", True),
    (b",1.5\r\n", 1.5),
    (b",-0.25\r\n", -0.25),
    (b",10\r\n", 10.0),
    (b",1e3\r\n", 1000.0),
    (b",.5\r\n", 0.5),
    (b",inf\r\n", math.inf),
    (b",-inf\r\n", -math.inf),
    (b",INF\r\n", math.inf),
    (b",nan\r\n", math.nan),
    (b",-nan\r\n", math.nan),
    (b"(3492890328409238509324850943850943825024385\r\n",
     b"3492890328409238509324850943850943825024385"),
    (b"(-12\r\n", b"-12"),
    (b"=15\r\ntxt:Some string\r\n", b"Some string"),
    (b"=4\r\nmkd:\r\n", b""),
    (b"%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n*1\r\n:2\r\n", {b"first": 1, b"second": [2]}),
    (b"%0\r\n", {}),
    (b"%2\r\n+a\r\n:1\r\n+a\r\n:2\r\n", {b"a": 2}),
    (b"%1\r\n_\r\n:1\r\n", {None: 1}),
    (b"%-1\r\n", None),
    (b"~3\r\n+a\r\n:1\r\n*1\r\n:2\r\n", [b"a", 1, [2]]),
    (b"~0\r\n", []),
    (b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
     PushReply([b"message", b"ch", b"hi"])),
    (b">-1\r\n", None),
]


@pytest.mark.parametrize("kind", BACKENDS)
@pytest.mark.parametrize(("data", "expected"), SAME_FOR_BOTH)
def test_reply_types(kind: str, data: bytes, expected: Any) -> None:
    assert [norm(r) for r in decode(kind, data)] == [norm(expected)]
    assert [norm(r) for r in decode_bytewise(kind, data)] == [norm(expected)]


@pytest.mark.parametrize("kind", BACKENDS)
def test_result_classes(kind: str) -> None:
    replies = decode(kind, b"$1\r\nx\r\n+OK\r\n:1\r\n*0\r\n%0\r\n~0\r\n>1\r\n:1\r\n#t\r\n,1\r\n")
    assert [type(r) for r in replies] == [bytes, bytes, int, list, dict, list, PushReply, bool,
                                         float]


@pytest.mark.parametrize("kind", BACKENDS)
def test_top_level_push_is_a_push_reply(kind: str) -> None:
    (push,) = decode(kind, b">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nkey\r\n")
    assert isinstance(push, PushReply)
    assert is_push(push)
    assert push == [b"invalidate", [b"key"]]
    assert not is_push([b"invalidate"])


@pytest.mark.parametrize("kind", BACKENDS)
def test_encoding_gives_str(kind: str) -> None:
    data = (b"+OK\r\n$5\r\n\xc3\xa9t\xc3\xa9\r\n=7\r\ntxt:abc\r\n(12\r\n-ERR \xc3\xa9\r\n:5\r\n"
            b"%1\r\n$1\r\nk\r\n$1\r\nv\r\n")
    replies = decode(kind, data, encoding="utf-8")
    assert replies[:4] == ["OK", "été", "abc", "12"]
    assert isinstance(replies[4], ResponseError) and str(replies[4]) == "ERR é"
    assert replies[5:] == [5, {"k": "v"}]


@pytest.mark.parametrize("kind", BACKENDS)
def test_error_text_is_utf8_with_replacement_whatever_the_encoding(kind: str) -> None:
    (err,) = decode(kind, b"-ERR \xe9\xff\r\n", encoding="latin-1")
    assert str(err) == "ERR \ufffd\ufffd"
    (err,) = decode(kind, b"-ERR \xe9\xff\r\n")
    assert str(err) == "ERR \ufffd\ufffd"


@pytest.mark.parametrize("kind", BACKENDS)
def test_undecodable_reply_is_a_protocol_error_then_decoder_is_dead(kind: str) -> None:
    decoder = make_decoder(kind, encoding="utf-8")
    decoder.feed(b"$2\r\n\xff\xfe\r\n+OK\r\n")
    with pytest.raises(ProtocolError) as info:
        decoder.gets()
    assert isinstance(info.value.__cause__, UnicodeDecodeError)
    with pytest.raises(ProtocolError):
        decoder.gets()


@pytest.mark.parametrize("kind", BACKENDS)
def test_encoding_errors_option_applies(kind: str) -> None:
    assert decode(kind, b"$2\r\n\xffa\r\n", encoding="utf-8", encoding_errors="replace") == [
        "\ufffda"]
    assert decode(kind, b"$2\r\n\xffa\r\n", encoding="utf-8",
                  encoding_errors="surrogateescape") == ["\udcffa"]


@pytest.mark.parametrize("kind", BACKENDS)
def test_unknown_codec_is_refused_at_construction(kind: str) -> None:
    with pytest.raises(LookupError):
        make_decoder(kind, encoding="no-such-codec")
    with pytest.raises(LookupError):
        make_decoder(kind, encoding="utf-8", encoding_errors="no-such-handler")


# --- framing -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", BACKENDS)
def test_several_replies_in_one_feed(kind: str) -> None:
    data = b"+OK\r\n:1\r\n$3\r\nfoo\r\n*2\r\n:1\r\n:2\r\n-ERR x\r\n$-1\r\n"
    replies = decode(kind, data)
    assert [norm(r) for r in replies] == [b"OK", 1, b"foo", [1, 2], ("ResponseError", "ERR x"),
                                          None]


@pytest.mark.parametrize("kind", BACKENDS)
def test_split_inside_crlf(kind: str) -> None:
    decoder = make_decoder(kind)
    decoder.feed(b"$3\r\nfoo\r")
    assert decoder.gets() is NEED_DATA
    decoder.feed(b"\n:12\r")
    assert decoder.gets() == b"foo"
    assert decoder.gets() is NEED_DATA
    decoder.feed(b"\n")
    assert decoder.gets() == 12
    assert decoder.gets() is NEED_DATA


@pytest.mark.parametrize("kind", BACKENDS)
def test_split_inside_length_line(kind: str) -> None:
    decoder = make_decoder(kind)
    for piece in (b"*", b"1", b"2\r", b"\n"):
        decoder.feed(piece)
        assert decoder.gets() is NEED_DATA
    decoder.feed(b"".join(b":%d\r\n" % i for i in range(12)))
    assert decoder.gets() == list(range(12))


@pytest.mark.parametrize("kind", BACKENDS)
def test_feeding_while_replies_wait_keeps_order(kind: str) -> None:
    decoder = make_decoder(kind)
    decoder.feed(b"+A\r\n")
    decoder.feed(b"+B\r\n")
    assert decoder.gets() == b"A"  # everything fed first is parsed, B still waits
    decoder.feed(b"+C\r\n")
    assert [decoder.gets(), decoder.gets(), decoder.gets()] == [b"B", b"C", NEED_DATA]


@pytest.mark.parametrize("kind", BACKENDS)
def test_gets_on_empty_decoder(kind: str) -> None:
    decoder = make_decoder(kind)
    assert decoder.gets() is NEED_DATA
    decoder.feed(b"")
    assert decoder.gets() is NEED_DATA
    assert decoder.buffered() == 0


@pytest.mark.parametrize("kind", BACKENDS)
def test_feed_accepts_bytearray_and_memoryview_and_copies(kind: str) -> None:
    decoder = make_decoder(kind)
    mutable = bytearray(b"$3\r\nabc")
    decoder.feed(mutable)
    mutable[4:7] = b"XYZ"  # the decoder must have copied what it was given
    decoder.feed(memoryview(b"\r\n+OK\r\n"))
    assert decoder.gets() == b"abc"
    assert decoder.gets() == b"OK"


def test_need_data_is_a_distinct_sentinel() -> None:
    assert NEED_DATA is not None and NEED_DATA is not False
    assert repr(NEED_DATA) == "NEED_DATA"
    assert pickle.loads(pickle.dumps(NEED_DATA)) is NEED_DATA
    assert decode("python", b"_\r\n#f\r\n") == [None, False]


# --- error replies --------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", BACKENDS)
def test_error_replies_are_values_of_the_right_subclass(kind: str) -> None:
    data = (b"-MOVED 3999 127.0.0.1:6381\r\n-ASK 12 10.0.0.2:7001\r\n-TRYAGAIN later\r\n"
            b"-CLUSTERDOWN down\r\n-WRONGTYPE Operation\r\n-ERR plain\r\n")
    replies = decode(kind, data)
    assert [type(r) for r in replies] == [MovedError, AskError, TryAgainError, ClusterDownError,
                                         WrongTypeError, ResponseError]
    moved = replies[0]
    assert (moved.slot_id, moved.host, moved.port) == (3999, "127.0.0.1", 6381)
    assert str(moved) == "MOVED 3999 127.0.0.1:6381"


@pytest.mark.parametrize("kind", BACKENDS)
def test_errors_inside_arrays_are_values(kind: str) -> None:
    data = b"*4\r\n+OK\r\n-MOVED 1 ::1:7000\r\n-MOVED 1 :7000\r\n-EXECABORT Transaction\r\n"
    (replies,) = decode_bytewise(kind, data)
    assert replies[0] == b"OK"
    ipv6, empty, abort = replies[1:]
    assert isinstance(ipv6, MovedError)
    assert (ipv6.slot_id, ipv6.host, ipv6.port) == (1, "::1", 7000)
    assert isinstance(empty, MovedError)
    assert (empty.slot_id, empty.host, empty.port) == (1, "", 7000)
    assert isinstance(abort, ExecAbortError)


@pytest.mark.parametrize("kind", BACKENDS)
def test_malformed_redirect_is_a_protocol_error(kind: str) -> None:
    decoder = make_decoder(kind)
    decoder.feed(b"-MOVED nowhere\r\n+OK\r\n")
    with pytest.raises(ProtocolError, match="malformed redirect"):
        decoder.gets()
    with pytest.raises(ProtocolError):  # and the decoder stays unusable
        decoder.gets()


@pytest.mark.parametrize("kind", BACKENDS)
def test_malformed_redirect_in_a_map_with_an_undecodable_key(kind: str) -> None:
    """hiredis-py 3.5 segfaults on this when the reply-error callable raises; ours does not."""
    data = b"%1\r\n$1\r\n\xf0\r\n-MOVED\r\n+OK\r\n"
    code = (f"from clustercore.errors import ProtocolError\n"
            f"from clustercore._protocol.parser import make_decoder\n"
            f"d = make_decoder({kind!r}, encoding='utf-8')\n"
            f"d.feed({data!r})\n"
            f"try:\n    d.gets()\nexcept ProtocolError:\n    print('ProtocolError')\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(clustercore.__file__)))
    env = {**os.environ, "PYTHONPATH": root}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False, env=env)
    assert (done.returncode, done.stdout.strip()) == (0, "ProtocolError"), done.stderr


# --- differences, pinned so that a change in hiredis or in our decoder is noticed ------------------
ATTRIBUTE = b"|1\r\n+key-popularity\r\n*2\r\n$1\r\na\r\n,0.19\r\n"


def test_attribute_is_skipped_by_the_python_decoder() -> None:
    assert decode("python", ATTRIBUTE + b"+OK\r\n") == [b"OK"]
    assert decode_bytewise("python", b"*2\r\n" + ATTRIBUTE + b":1\r\n:2\r\n") == [[1, 2]]
    assert decode("python", b"%1\r\n" + ATTRIBUTE + b"+k\r\n" + ATTRIBUTE + b"+v\r\n") == [
        {b"k": b"v"}]
    assert decode("python", b"|0\r\n:7\r\n|-1\r\n:8\r\n") == [7, 8]


@needs_hiredis
def test_attribute_under_hiredis_is_a_reply_of_its_own() -> None:
    assert decode("hiredis", ATTRIBUTE + b"+OK\r\n") == [
        [b"key-popularity", [b"a", 0.19]], b"OK"]
    # Inside an aggregate hiredis counts the attribute as an element: the framing is off.
    assert decode("hiredis", b"*2\r\n" + ATTRIBUTE + b":1\r\n:2\r\n") == [
        [[b"key-popularity", [b"a", 0.19]], 1], 2]


def test_bulk_error_python() -> None:
    (err,) = decode_bytewise("python", b"!21\r\nSYNTAX invalid syntax\r\n")
    assert type(err) is ResponseError and str(err) == "SYNTAX invalid syntax"
    (moved,) = decode("python", b"!15\r\nMOVED 5 host:70\r\n", encoding="utf-8")
    assert isinstance(moved, MovedError) and moved.port == 70
    assert decode("python", b"!-1\r\n") == [None]


@needs_hiredis
def test_bulk_error_is_unknown_to_hiredis() -> None:
    with pytest.raises(ProtocolError):
        decode("hiredis", b"!21\r\nSYNTAX invalid syntax\r\n")


def test_nul_boolean() -> None:
    with pytest.raises(ProtocolError, match="bad boolean"):
        decode("python", b"#\x00\r\n")
    if HIREDIS_AVAILABLE:
        assert decode("hiredis", b"#\x00\r\n") == [False]


@pytest.mark.parametrize("kind", BACKENDS)
def test_aggregate_map_key_refused_as_soon_as_it_starts(kind: str) -> None:
    decoder = make_decoder(kind)
    decoder.feed(b"%1\r\n*1\r\n")
    with pytest.raises(ProtocolError):
        decoder.gets()


def test_bulk_without_crlf_python() -> None:
    with pytest.raises(ProtocolError, match="not followed by CRLF"):
        decode("python", b"$3\r\nabcXY:1\r\n")


@needs_hiredis
def test_bulk_without_crlf_hiredis_does_not_check() -> None:
    assert decode("hiredis", b"$3\r\nabcXY:1\r\n") == [b"abc", 1]


@needs_hiredis
def test_nested_push_stays_hiredis_class() -> None:
    (reply,) = decode("hiredis", b"*1\r\n>1\r\n:1\r\n")
    assert not isinstance(reply[0], PushReply) and is_push(reply[0])
    (reply,) = decode("python", b"*1\r\n>1\r\n:1\r\n")
    assert isinstance(reply[0], PushReply)


# --- garbage ----------------------------------------------------------------------------------------
GARBAGE = [
    b"?\r\n", b"x", b"\r\n", b"$abc\r\n", b"$-2\r\n", b"$03\r\nabc\r\n", b"$+3\r\nabc\r\n",
    b"$ 3\r\nabc\r\n", b"$\r\n", b"*-2\r\n", b"*x\r\n", b"*01\r\n:1\r\n", b"*4294967296\r\n",
    b"%4294967296\r\n", b":abc\r\n", b":\r\n", b":+5\r\n", b":-0\r\n", b":05\r\n", b": 5\r\n",
    b":1_000\r\n", b":9223372036854775808\r\n", b":-9223372036854775809\r\n", b",abc\r\n",
    b",\r\n", b",1e500\r\n", b",-1e500\r\n", b",1e-400\r\n", b",+1.5\r\n", b", 1\r\n", b",0x10\r\n",
    b",infinity\r\n", b",1_0\r\n", b"," + b"0" * 326 + b"\r\n", b"#x\r\n", b"#\r\n", b"#tt\r\n",
    b"_x\r\n", b"(abc\r\n", b"(+5\r\n", b"(1.5\r\n", b"+a\rb\r\n", b"-a\rb\r\n",
    b"=3\r\nabc\r\n", b"=6\r\nabcdef\r\n", b"%1\r\n*1\r\n:1\r\n:2\r\n", b"%1\r\n%0\r\n:2\r\n",
]


@pytest.mark.parametrize("kind", BACKENDS)
@pytest.mark.parametrize("data", GARBAGE)
def test_garbage_raises_protocol_error(kind: str, data: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode(kind, data + b"+OK\r\n")


@pytest.mark.parametrize("data", GARBAGE)
def test_garbage_python_bytewise(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_bytewise("python", data + b"+OK\r\n")


@pytest.mark.parametrize("kind", BACKENDS)
def test_decoder_unusable_after_protocol_error(kind: str) -> None:
    decoder = make_decoder(kind)
    decoder.feed(b"?\r\n")
    with pytest.raises(ProtocolError):
        decoder.gets()
    decoder.feed(b"+OK\r\n")
    with pytest.raises(ProtocolError):
        decoder.gets()


def test_lone_lf_inside_a_line_is_refused() -> None:
    with pytest.raises(ProtocolError, match="CR or LF"):
        decode("python", b"+a\nb\r\n")


# --- limits -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", BACKENDS)
def test_bulk_over_max_bulk_length(kind: str) -> None:
    assert decode(kind, b"$100\r\n" + b"x" * 100 + b"\r\n", max_bulk_length=100) == [b"x" * 100]
    decoder = make_decoder(kind, max_bulk_length=100, max_line_length=100)
    decoder.feed(b"$5000\r\n")
    if kind == "python":  # refused from the header, before any byte of the value arrives
        with pytest.raises(ProtocolError, match="max_bulk_length"):
            decoder.gets()
        return
    # hiredis: refused once it holds more than the limit (plus slack) without completing it
    assert decoder.gets() is NEED_DATA
    decoder.feed(b"x" * 1000)
    assert decoder.gets() is NEED_DATA
    decoder.feed(b"x" * 1000)
    with pytest.raises(ProtocolError, match="max_bulk_length"):
        decoder.gets()


def test_bulk_over_max_bulk_length_huge_header_python() -> None:
    with pytest.raises(ProtocolError, match="max_bulk_length"):
        decode("python", b"$1099511627776\r\n")
    with pytest.raises(ProtocolError, match="max_bulk_length"):
        decode("python", b"=99999999999\r\n")


def nested(depth: int) -> bytes:
    return b"*1\r\n" * depth + b":1\r\n"


def test_max_depth_python() -> None:
    (reply,) = decode("python", nested(64))
    for _ in range(64):
        reply = reply[0]
    assert reply == 1
    with pytest.raises(ProtocolError, match="max_depth"):
        decode("python", nested(65))
    with pytest.raises(ProtocolError, match="max_depth"):
        decode("python", b"*1\r\n*1\r\n*0\r\n", max_depth=2)
    with pytest.raises(ProtocolError, match="max_depth"):  # null aggregates count too
        decode("python", b"*1\r\n%-1\r\n", max_depth=1)
    assert decode("python", b"*1\r\n*0\r\n", max_depth=2) == [[[]]]
    with pytest.raises(ProtocolError, match="max_depth"):  # attributes are a level as well
        decode("python", b"|1\r\n:1\r\n*0\r\n:1\r\n", max_depth=1)


def test_deep_nesting_needs_no_recursion() -> None:
    depth = sys.getrecursionlimit() + 100
    (reply,) = decode("python", nested(depth), max_depth=depth)
    for _ in range(depth):
        reply = reply[0]
    assert reply == 1


@needs_hiredis
def test_max_depth_hiredis() -> None:
    # hiredis cannot be told max_depth: HiredisDecoder checks the replies it built
    (reply,) = decode("hiredis", nested(64))
    assert isinstance(reply, list)
    with pytest.raises(ProtocolError, match="max_depth=64"):
        decode("hiredis", nested(65))
    with pytest.raises(ProtocolError):  # hiredis's own fixed limit, whatever max_depth says
        decode("hiredis", nested(1025), max_depth=2000)


def test_max_line_length_python() -> None:
    decoder = make_decoder("python", max_line_length=100)
    decoder.feed(b"+" + b"a" * 60)
    assert decoder.gets() is NEED_DATA
    decoder.feed(b"a" * 40)
    assert decoder.gets() is NEED_DATA  # 100 bytes, may still end here
    decoder.feed(b"\r")
    assert decoder.gets() is NEED_DATA  # 100 bytes + CR
    decoder.feed(b"a")
    with pytest.raises(ProtocolError, match="max_line_length"):
        decoder.gets()
    assert decode("python", b"+" + b"a" * 100 + b"\r\n", max_line_length=100) == [b"a" * 100]
    # also when the whole over-long line arrives at once, so chunking never changes the outcome
    with pytest.raises(ProtocolError, match="max_line_length"):
        decode("python", b"+" + b"a" * 101 + b"\r\n", max_line_length=100)


def test_max_line_length_counts_pending_chunks_python() -> None:
    decoder = make_decoder("python", max_line_length=100)
    decoder.feed(b"+OK\r\n+")
    assert decoder.gets() == b"OK"
    for _ in range(10):  # pieces wait, unjoined, until a LF could end the line
        decoder.feed(b"a" * 10)
        assert decoder.gets() is NEED_DATA
    decoder.feed(b"aa")
    with pytest.raises(ProtocolError, match="max_line_length"):
        decoder.gets()


@needs_hiredis
def test_max_line_length_hiredis_enforced_on_what_is_buffered() -> None:
    decoder = make_decoder("hiredis", max_line_length=100, max_bulk_length=100)
    decoder.feed(b"+" + b"a" * 1000)
    assert decoder.gets() is NEED_DATA  # within the 1 KiB slack
    decoder.feed(b"a" * 1000)
    with pytest.raises(ProtocolError):
        decoder.gets()


@pytest.mark.parametrize("kind", BACKENDS)
@pytest.mark.parametrize("option", ["max_bulk_length", "max_depth", "max_line_length"])
@pytest.mark.parametrize("value", [0, -1, True, 1.5])
def test_bad_limits_refused(kind: str, option: str, value: Any) -> None:
    with pytest.raises(ValueError, match=option):
        make_decoder(kind, **{option: value})


# --- buffering: linear, bounded -----------------------------------------------------------------
def test_buffered_python_is_exact() -> None:
    decoder = make_decoder("python")
    decoder.feed(b"+OK\r\n$5\r\nhel")
    assert decoder.buffered() == 12
    assert decoder.gets() == b"OK"
    assert decoder.buffered() == 7
    assert decoder.gets() is NEED_DATA
    decoder.feed(b"lo\r\n")
    assert decoder.buffered() == 11
    assert decoder.gets() == b"hello"
    assert decoder.buffered() == 0


@needs_hiredis
def test_buffered_hiredis_is_an_upper_bound() -> None:
    decoder = make_decoder("hiredis")
    decoder.feed(b"+OK\r\n$5\r\nhel")
    assert decoder.buffered() >= 12
    assert decoder.gets() == b"OK"
    assert 7 <= decoder.buffered() <= 12
    decoder.feed(b"lo\r\n")
    assert decoder.gets() == b"hello"
    assert decoder.buffered() == 0


def test_big_bulk_in_small_pieces_is_joined_once() -> None:
    """While a bulk is incomplete, new pieces wait in a list: no re-join per feed."""
    size = 1_000_000
    decoder = PythonDecoder()
    decoder.feed(b"$%d\r\n" % size)
    assert decoder.gets() is NEED_DATA
    working = decoder._buf
    for _ in range(size // 1000):
        decoder.feed(b"x" * 1000)
        assert decoder.gets() is NEED_DATA
        assert decoder._buf is working  # nothing was joined yet
    decoder.feed(b"\r\n")
    assert decoder.gets() == b"x" * size
    assert decoder.buffered() == 0


def test_big_array_in_small_pieces_is_not_reparsed() -> None:
    """Elements already parsed are kept on the stack; only the partial element stays buffered."""
    count = 20_000
    data = b"*%d\r\n" % count + b"".join(b"$5\r\nv%04d\r\n" % (i % 10_000) for i in range(count))
    decoder = PythonDecoder()
    largest = 0
    for start in range(0, len(data), 7):
        decoder.feed(data[start:start + 7])
        reply = decoder.gets()
        largest = max(largest, decoder.buffered())
    assert len(reply) == count and reply[-1] == b"v9999"
    assert largest < 20  # at most one partial element (11 bytes) plus the piece just fed


def test_parsed_prefix_is_dropped_when_more_data_comes() -> None:
    decoder = PythonDecoder()
    decoder.feed(b"+OK\r\n" * 1000 + b"+par")
    for _ in range(1000):
        assert decoder.gets() == b"OK"
    decoder.feed(b"tial\r\n")
    assert decoder.gets() == b"partial"
    assert len(decoder._buf) < 100


def test_long_line_in_small_pieces_python() -> None:
    decoder = PythonDecoder(max_line_length=200_000)
    decoder.feed(b"+")
    for _ in range(10_000):
        decoder.feed(b"abcdefghij")
        assert decoder.gets() is NEED_DATA
        assert decoder._buf == b"+"  # the pieces wait, unjoined, until one has a LF
    decoder.feed(b"\r\n")
    assert decoder.gets() == b"abcdefghij" * 10_000


# --- choosing a decoder ----------------------------------------------------------------------------
def test_make_decoder_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLUSTERCORE_PARSER", raising=False)
    assert isinstance(make_decoder("python"), PythonDecoder)
    assert isinstance(make_decoder(), DefaultDecoder)
    with pytest.raises(DataError, match="unknown parser"):
        make_decoder("rust")


@needs_hiredis
def test_make_decoder_hiredis_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLUSTERCORE_PARSER", raising=False)
    assert DefaultDecoder is HiredisDecoder
    assert isinstance(make_decoder("hiredis"), HiredisDecoder)
    monkeypatch.setenv("CLUSTERCORE_PARSER", "python")
    assert isinstance(make_decoder(), PythonDecoder)
    assert isinstance(make_decoder("hiredis"), HiredisDecoder)  # explicit kind wins
    monkeypatch.setenv("CLUSTERCORE_PARSER", "HIREDIS")
    assert isinstance(make_decoder("auto"), HiredisDecoder)
    monkeypatch.setenv("CLUSTERCORE_PARSER", "bogus")
    with pytest.raises(DataError, match="CLUSTERCORE_PARSER"):
        make_decoder()


def test_hiredis_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hiredis_decoder, "HIREDIS_AVAILABLE", False)
    with pytest.raises(ParserUnavailableError) as info:
        make_decoder("hiredis")
    assert isinstance(info.value, ImportError) and isinstance(info.value, ClusterCoreError)
    monkeypatch.setenv("CLUSTERCORE_PARSER", "hiredis")
    with pytest.raises(ParserUnavailableError):
        make_decoder()


# ------------------------------------------------------------------------------------------------
# Round trip: encode_reply -> random chunks -> decoder
# ------------------------------------------------------------------------------------------------
INT64 = st.integers(-(2**63), 2**63 - 1)
TEXT = st.text(max_size=20)
LINE_TEXT = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"]),
                    max_size=20)


def _scalar_choices(protocol: int) -> st.SearchStrategy[Tuple[Any, Any]]:
    """(value, what a decoder gives back) for the leaves encode_reply knows."""
    resp3 = protocol == 3
    choices = [
        st.binary(max_size=30).map(lambda b: (b, b)),
        TEXT.map(lambda s: (s, s.encode())),
        INT64.map(lambda i: (i, i)),
        st.one_of(st.integers(min_value=2**63), st.integers(max_value=-(2**63) - 1)).map(
            lambda i: (i, str(i).encode())),
        st.none().map(lambda n: (n, None)),
        st.booleans().map(lambda b: (b, b if resp3 else int(b))),
        st.floats().map(lambda f: (f, f if resp3 else repr(f).encode())),
        LINE_TEXT.map(lambda s: (SimpleString(s.encode()), s.encode())),
        LINE_TEXT.map(lambda s: (ResponseError("ERR " + s), ResponseError("ERR " + s))),
        st.sampled_from(["MOVED 12 10.0.0.1:7000", "ASK 1 :7001", "MOVED 5 ::1:6379",
                         "TRYAGAIN again"]).map(lambda s: (ResponseError(s),
                                                          ResponseError(s))),
    ]
    return st.one_of(choices)


_SCALARS = {2: _scalar_choices(2), 3: _scalar_choices(3)}


@st.composite
def scalars(draw: st.DrawFn, protocol: int) -> Tuple[Any, Any]:
    """The leaves, behind a composite so that strategy reprs (in hypothesis' reports) stay short."""
    return draw(_SCALARS[protocol])


KEYS = st.one_of(st.binary(max_size=10).map(lambda b: (b, b)),
                 st.integers(-1000, 1000).map(lambda i: (i, i)))


def values(protocol: int) -> st.SearchStrategy[Tuple[Any, Any]]:
    resp3 = protocol == 3

    def extend(children: st.SearchStrategy[Tuple[Any, Any]]
               ) -> st.SearchStrategy[Tuple[Any, Any]]:
        lists = st.lists(children, max_size=5)
        as_list = lists.map(lambda pairs: ([v for v, _ in pairs], [e for _, e in pairs]))
        as_tuple = lists.map(lambda pairs: (tuple(v for v, _ in pairs), [e for _, e in pairs]))
        as_push = lists.map(lambda pairs: (PushReply(v for v, _ in pairs),
                                           PushReply(e for _, e in pairs) if resp3
                                           else [e for _, e in pairs]))
        as_dict = st.lists(st.tuples(KEYS, children), max_size=4).map(
            lambda kvs: _as_map(kvs, resp3))
        as_set = st.frozensets(KEYS.map(lambda kv: kv[0]), max_size=4).map(
            lambda s: (s, list(s)))
        return st.one_of(as_list, as_tuple, as_push, as_dict, as_set)

    return st.recursive(scalars(protocol), extend, max_leaves=20)


def _as_map(kvs: List[Tuple[Tuple[Any, Any], Tuple[Any, Any]]], resp3: bool) -> Tuple[Any, Any]:
    """A dict from drawn (key, value) pairs (a repeated key: the last wins), and its decoding:
    a dict in RESP3, the flat key/value list in RESP2. Keys decode to themselves."""
    sent = {key: value for (key, _), (value, _) in kvs}
    decoded = {key: expected for (key, _), (_, expected) in kvs}
    return sent, decoded if resp3 else [x for key in sent for x in (key, decoded[key])]


#: Built once: (value, decoded form) strategies per protocol.
VALUES = {2: values(2), 3: values(3)}


@st.composite
def streams(draw: st.DrawFn) -> Tuple[int, bytes, List[Any], List[int]]:
    protocol = draw(st.sampled_from([2, 3]))
    pairs = draw(st.lists(VALUES[protocol], min_size=1, max_size=5))
    encoded = [encode_reply(v, protocol) for v, _ in pairs]
    data = b"".join(encoded)
    boundaries = [sum(map(len, encoded[:i])) for i in range(len(encoded) + 1)]
    cuts = draw(st.lists(st.one_of(st.integers(0, len(data)), st.sampled_from(boundaries)),
                         max_size=12))
    return protocol, data, [e for _, e in pairs], cuts


KINDS = ["python", "hiredis"] if HIREDIS_AVAILABLE else ["python"]


@settings(max_examples=_roundtrip_examples(), suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams(), gets_calls=st.lists(st.integers(0, 3), min_size=1, max_size=8))
def test_roundtrip_random_chunks(stream: Tuple[int, bytes, List[Any], List[int]],
                                 gets_calls: List[int]) -> None:
    """encode_reply -> cut anywhere -> fed piecewise with 0..3 gets() between feeds (so some
    feeds come while replies are still waiting) -> exactly the same replies, in order.

    Each example runs through every installed backend, so each sees all the examples.
    """
    _, data, expected, cuts = stream
    points = [0, *sorted(cuts), len(data)]
    for kind in KINDS:
        decoder = make_decoder(kind)
        replies: List[Any] = []
        for n, (start, end) in enumerate(zip(points, points[1:])):
            decoder.feed(data[start:end])
            for _ in range(gets_calls[n % len(gets_calls)]):
                reply = decoder.gets()
                if reply is NEED_DATA:
                    break
                replies.append(reply)
        while (reply := decoder.gets()) is not NEED_DATA:
            replies.append(reply)
        assert [norm(r) for r in replies] == [norm(e) for e in expected], kind
        assert decoder.buffered() == 0, kind


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(pairs=st.lists(st.tuples(VALUES[3], st.booleans()), min_size=1, max_size=4),
       cuts=st.lists(st.integers(0, 10_000), max_size=8), encoding=st.booleans())
def test_roundtrip_resp3_extras_python(pairs: List[Tuple[Tuple[Any, Any], bool]],
                                       cuts: List[int], encoding: bool) -> None:
    """Verbatim strings, bulk errors and attributes (dropped) mixed in; pure decoder only."""
    chunks: List[bytes] = []
    expected: List[Any] = []
    for index, ((value, decoded), with_attribute) in enumerate(pairs):
        if with_attribute:
            chunks.append(b"|1\r\n+ttl\r\n" + encode_reply([index, {b"a": 1}], 3))
        chunks.append(encode_reply(value, 3))
        expected.append(decoded)
        text = f"verbatim {index} é"
        payload = b"txt:" + text.encode()
        chunks.append(b"=%d\r\n%b\r\n" % (len(payload), payload))
        expected.append(text if encoding else text.encode())
        chunks.append(b"!%d\r\nERR bulk %d\r\n" % (len(b"ERR bulk %d" % index), index))
        expected.append(ResponseError(f"ERR bulk {index}"))
    data = b"".join(chunks)
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    decoder = make_decoder("python", encoding="utf-8" if encoding else None,
                           encoding_errors="surrogateescape")
    replies: List[Any] = []
    for start, end in zip(points, points[1:]):
        decoder.feed(data[start:end])
        while (reply := decoder.gets()) is not NEED_DATA:
            replies.append(reply)
    if encoding:
        expected = [_as_text(e) for e in expected]
    assert [norm(r) for r in replies] == [norm(e) for e in expected]


def _as_text(value: Any) -> Any:
    """What encoding="utf-8" (surrogateescape) does to a decoded reply."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, PushReply):
        return PushReply(_as_text(v) for v in value)
    if isinstance(value, list):
        return [_as_text(v) for v in value]
    if isinstance(value, dict):
        return {_as_text(k): _as_text(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("kind", BACKENDS)
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(pairs=st.lists(VALUES[3], min_size=1, max_size=4))
def test_both_decoders_agree_byte_by_byte(kind: str, pairs: List[Tuple[Any, Any]]) -> None:
    data = b"".join(encode_reply(v, 3) for v, _ in pairs)
    assert [norm(r) for r in decode_bytewise(kind, data)] == [norm(e) for _, e in pairs]


# ------------------------------------------------------------------------------------------------
# Command encoder
# ------------------------------------------------------------------------------------------------
class Color(enum.IntEnum):
    RED = 7


@pytest.mark.parametrize(("args", "wire"), [
    (("GET", b"key:12345"), b"*2\r\n$3\r\nGET\r\n$9\r\nkey:12345\r\n"),
    (("SET", "key", b"x" * 100), b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$100\r\n" + b"x" * 100 + b"\r\n"),
    (("PING",), b"*1\r\n$4\r\nPING\r\n"),
    (("SET", "k", ""), b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"),
    (("EXPIRE", "k", 10), b"*3\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$2\r\n10\r\n"),
    (("INCRBY", "k", -5), b"*3\r\n$6\r\nINCRBY\r\n$1\r\nk\r\n$2\r\n-5\r\n"),
    (("INCRBYFLOAT", "k", 0.1), b"*3\r\n$11\r\nINCRBYFLOAT\r\n$1\r\nk\r\n$3\r\n0.1\r\n"),
    (("ZADD", "z", 1e100, "m"), b"*4\r\n$4\r\nZADD\r\n$1\r\nz\r\n$6\r\n1e+100\r\n$1\r\nm\r\n"),
    (("ZADD", "z", float("inf"), "m"), b"*4\r\n$4\r\nZADD\r\n$1\r\nz\r\n$3\r\ninf\r\n$1\r\nm\r\n"),
    (("SET", "é", "ü"), b"*3\r\n$3\r\nSET\r\n$2\r\n\xc3\xa9\r\n$2\r\n\xc3\xbc\r\n"),
    (("SET", bytearray(b"k"), memoryview(b"v")), b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"),
    (("SET", "k", Color.RED), b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n7\r\n"),
    (("SET", "k", 2**70), b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$22\r\n1180591620717411303424\r\n"),
    ((b"GET", SimpleString(b"k")), b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"),
])
def test_pack_command_exact_bytes(args: Tuple[Any, ...], wire: bytes) -> None:
    chunks = pack_command(args)
    assert chunks == [wire]
    assert type(chunks[0]) is bytes
    assert pack_commands([args]) == [wire]


def test_pack_command_many_args_and_long_values() -> None:
    args = ["MSET", *[f"k{i}" for i in range(100)]]
    expected = b"*101\r\n" + b"".join(b"$%d\r\n%b\r\n" % (len(a), a.encode()) for a in args)
    assert pack_command(args) == [expected]
    value = b"v" * 3000  # above the cached-header range, below the cutoff
    assert pack_command(("SET", "k", value)) == [
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000\r\n" + value + b"\r\n"]


def test_pack_command_encoding_option() -> None:
    assert pack_command(("SET", "é"), encoding="latin-1") == [b"*2\r\n$3\r\nSET\r\n$1\r\n\xe9\r\n"]
    assert pack_command(("SET", "€"), encoding="latin-1", errors="replace") == [
        b"*2\r\n$3\r\nSET\r\n$1\r\n?\r\n"]
    with pytest.raises(DataError, match="argument 1 of SET"):
        pack_command(("SET", "€"), encoding="latin-1")
    with pytest.raises(DataError, match="argument 2 of SET"):
        pack_command(("SET", "k", "\ud800"))  # a lone surrogate is not UTF-8


@pytest.mark.parametrize("big_type", [bytes, memoryview, bytearray])
def test_big_values_are_separate_uncopied_chunks(big_type: Callable[[bytes], Any]) -> None:
    big = big_type(b"x" * 10_000_000)
    chunks = pack_command(("SET", "key", big))
    assert len(chunks) == 3
    assert chunks[0] == b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$10000000\r\n"
    if big_type is bytearray:
        assert isinstance(chunks[1], memoryview) and chunks[1].obj is big
    else:
        assert chunks[1] is big
    assert chunks[2] == b"\r\n"


def test_cutoff_boundary() -> None:
    at = b"a" * BIG_VALUE_CUTOFF
    over = b"a" * (BIG_VALUE_CUTOFF + 1)
    assert len(pack_command(("SET", "k", at))) == 1
    chunks = pack_command(("SET", "k", over))
    assert len(chunks) == 3 and chunks[1] is over


def test_pack_commands_coalesces() -> None:
    commands = [("SET", f"k{i}", i) for i in range(500)]
    chunks = pack_commands(commands)
    assert len(chunks) == 1
    assert chunks[0] == b"".join(c for cmd in commands for c in pack_command(cmd))


def test_pack_commands_with_big_values() -> None:
    big1 = b"1" * 20_000
    big2 = memoryview(b"2" * 20_000)
    commands: List[Sequence[Any]] = [("GET", "a"), ("SET", "b", big1), ("SET", "c", big2, "XX"),
                                     ("GET", "d")]
    chunks = pack_commands(commands)
    assert len(chunks) == 5
    assert chunks[1] is big1 and chunks[3] is big2
    assert b"".join(bytes(c) for c in chunks) == b"".join(
        bytes(c) for cmd in commands for c in pack_command(cmd))
    assert decode("python", b"".join(bytes(c) for c in chunks)) == [
        [b"GET", b"a"], [b"SET", b"b", big1], [b"SET", b"c", bytes(big2), b"XX"], [b"GET", b"d"]]


def test_pack_commands_accepts_generators_and_lists() -> None:
    assert pack_commands(iter([["PING"], ("ECHO", b"x")])) == [
        b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n"]
    assert pack_commands([]) == []


def test_memoryview_formats() -> None:
    import array
    ints = array.array("i", [1, 2])
    (wire,) = pack_command(("SET", "k", memoryview(ints)))
    assert wire == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n%b\r\n" % (ints.itemsize * 2,
                                                                      ints.tobytes())
    strided = memoryview(b"abcdef")[::2]
    assert pack_command(("SET", "k", strided)) == [b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nace\r\n"]


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque " + "x" * 200 + ">"


@pytest.mark.parametrize(("bad", "type_name"), [
    (None, "NoneType"), (True, "bool"), (False, "bool"), ({"a": 1}, "dict"), ([1], "list"),
    ((1,), "tuple"), (Opaque(), "Opaque"), (1j, "complex"), ({1}, "set"),
])
def test_bad_argument_types(bad: Any, type_name: str) -> None:
    with pytest.raises(DataError) as info:
        pack_command(("SET", "key", bad))
    message = str(info.value)
    assert message.startswith("argument 2 of SET: ")
    assert f"of type {type_name} cannot be sent" in message
    assert len(message) < 200  # the repr is truncated
    with pytest.raises(DataError, match="argument 2 of SET"):
        pack_commands([("GET", "a"), ("SET", "key", bad)])


def test_bad_argument_message_example() -> None:
    with pytest.raises(DataError) as info:
        pack_command(("SET", "key", None))
    assert str(info.value) == ("argument 2 of SET: None of type NoneType cannot be sent; "
                               "use bytes, str, int or float")


def test_bad_command_name_position_zero() -> None:
    with pytest.raises(DataError, match="argument 0 of command: None of type NoneType"):
        pack_command((None, "x"))


@pytest.mark.parametrize("bad", ["PING", b"PING", bytearray(b"PING"), 42, None])
def test_command_must_be_a_sequence(bad: Any) -> None:
    with pytest.raises(DataError, match="must be a sequence"):
        pack_command(bad)
    with pytest.raises(DataError, match="must be a sequence"):
        pack_commands([("PING",), bad])


def test_other_sequences_are_commands() -> None:
    from collections import deque
    assert pack_command(deque(["GET", "k"])) == pack_command(("GET", "k"))
    assert pack_commands([range(3)]) == [b"*3\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n2\r\n"]


def test_empty_command() -> None:
    with pytest.raises(DataError, match="empty command"):
        pack_command(())
    with pytest.raises(DataError, match="empty command"):
        pack_commands([("PING",), ()])


ARG = st.one_of(st.binary(max_size=40), st.text(max_size=20), st.integers(), st.floats(),
                st.integers(BIG_VALUE_CUTOFF - 2, BIG_VALUE_CUTOFF + 2).map(lambda n: b"B" * n))


def _wire(arg: Any) -> bytes:
    if isinstance(arg, str):
        return arg.encode()
    if isinstance(arg, int):
        return str(arg).encode()
    if isinstance(arg, float):
        return repr(arg).encode()
    return bytes(arg)


@pytest.mark.parametrize("kind", BACKENDS)
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(commands=st.lists(st.lists(ARG, min_size=1, max_size=6), min_size=1, max_size=4))
def test_packed_commands_decode_back(kind: str, commands: List[List[Any]]) -> None:
    single = b"".join(bytes(c) for c in pack_command(commands[0]))
    assert decode(kind, single) == [[_wire(a) for a in commands[0]]]
    piped = b"".join(bytes(c) for c in pack_commands(commands))
    assert decode(kind, piped) == [[_wire(a) for a in cmd] for cmd in commands]


# ------------------------------------------------------------------------------------------------
# Reply encoder
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "resp2", "resp3"), [
    (b"abc", b"$3\r\nabc\r\n", b"$3\r\nabc\r\n"),
    ("é", b"$2\r\n\xc3\xa9\r\n", b"$2\r\n\xc3\xa9\r\n"),
    (SimpleString(b"OK"), b"+OK\r\n", b"+OK\r\n"),
    (7, b":7\r\n", b":7\r\n"),
    (2**64, b"$20\r\n18446744073709551616\r\n", b"(18446744073709551616\r\n"),
    (None, b"$-1\r\n", b"_\r\n"),
    (True, b":1\r\n", b"#t\r\n"),
    (False, b":0\r\n", b"#f\r\n"),
    (1.5, b"$3\r\n1.5\r\n", b",1.5\r\n"),
    (float("-inf"), b"$4\r\n-inf\r\n", b",-inf\r\n"),
    (ResponseError("ERR bad"), b"-ERR bad\r\n", b"-ERR bad\r\n"),
    (ValueError("WRONGTYPE x"), b"-WRONGTYPE x\r\n", b"-WRONGTYPE x\r\n"),
    ([1, [b"a"]], b"*2\r\n:1\r\n*1\r\n$1\r\na\r\n", b"*2\r\n:1\r\n*1\r\n$1\r\na\r\n"),
    ((), b"*0\r\n", b"*0\r\n"),
    (PushReply([b"m"]), b"*1\r\n$1\r\nm\r\n", b">1\r\n$1\r\nm\r\n"),
    ({b"k": 1}, b"*2\r\n$1\r\nk\r\n:1\r\n", b"%1\r\n$1\r\nk\r\n:1\r\n"),
    ({b"k"}, b"*1\r\n$1\r\nk\r\n", b"~1\r\n$1\r\nk\r\n"),
    (frozenset(), b"*0\r\n", b"~0\r\n"),
])
def test_encode_reply(value: Any, resp2: bytes, resp3: bytes) -> None:
    assert encode_reply(value) == resp2
    assert encode_reply(value, 2) == resp2
    assert encode_reply(value, protocol=3) == resp3


def test_encode_reply_refuses() -> None:
    with pytest.raises(DataError, match="cannot encode"):
        encode_reply(object())
    with pytest.raises(DataError, match="CR/LF"):
        encode_reply(SimpleString(b"a\r\nb"))
    with pytest.raises(DataError, match="CR/LF"):
        encode_reply(ResponseError("ERR a\nb"))
    with pytest.raises(DataError, match="protocol"):
        encode_reply(1, protocol=1)


def test_marker_classes() -> None:
    assert SimpleString(b"OK") == b"OK" and isinstance(SimpleString(b"OK"), bytes)
    assert PushReply([1]) == [1] and repr(PushReply([1])) == "PushReply([1])"


# --- decode=False (never_decode: DUMP payloads with decode_responses) ---------------------------
@pytest.mark.parametrize("kind", BACKENDS)
def test_gets_without_decoding_leaves_bytes_then_decodes_again(kind: str) -> None:
    decoder = make_decoder(kind, encoding="utf-8")
    decoder.feed(b"$2\r\n\xff\xfe\r\n*2\r\n$1\r\na\r\n+OK\r\n")
    assert decoder.gets(False) == b"\xff\xfe"  # not UTF-8: decoding it would fail
    assert decoder.gets() == ["a", "OK"]
    assert decoder.gets() is NEED_DATA


@pytest.mark.parametrize("kind", BACKENDS)
def test_gets_without_decoding_across_many_feeds(kind: str) -> None:
    data = b"*3\r\n$3\r\n\x00\x80\xff\r\n%1\r\n+k\r\n$1\r\nv\r\n:7\r\n"
    decoder = make_decoder(kind, encoding="utf-8")
    replies = []
    for i in range(len(data)):
        decoder.feed(data[i:i + 1])
        reply = decoder.gets(False)
        if reply is not NEED_DATA:
            replies.append(reply)
    assert replies == [[b"\x00\x80\xff", {b"k": b"v"}, 7]]


@pytest.mark.parametrize("kind", BACKENDS)
@pytest.mark.parametrize(("data", "expected"), SAME_FOR_BOTH)
def test_decode_strings_matches_a_decoding_read(kind: str, data: bytes, expected: Any) -> None:
    decoded = decode(kind, data, encoding="utf-8")
    later = [decode_strings(r, "utf-8") for r in decode(kind, data)]
    assert [norm(r) for r in later] == [norm(r) for r in decoded]


@pytest.mark.parametrize("kind", BACKENDS)
def test_has_buffered_follows_buffered(kind: str) -> None:
    """has_buffered() (a C call with hiredis) is truthy exactly when buffered() says bytes wait;
    after a protocol error it stays truthy, so the connection is never reused."""
    decoder = make_decoder(kind)
    assert not decoder.has_buffered() and decoder.buffered() == 0
    decoder.feed(b"$3\r\nab")
    assert decoder.gets() is NEED_DATA
    assert decoder.has_buffered() and decoder.buffered() > 0
    decoder.feed(b"c\r\n:1\r\n")
    assert decoder.gets() == b"abc"
    assert decoder.has_buffered()  # ":1" is still waiting
    assert decoder.gets() == 1
    assert not decoder.has_buffered() and decoder.buffered() == 0
    decoder.feed(b"?garbage\r\n")
    with pytest.raises(ProtocolError):
        decoder.gets()
    assert decoder.has_buffered()


_ARG = st.one_of(st.binary(max_size=1100), st.text(max_size=20), st.integers(),
                 st.binary(max_size=8).map(bytearray))


@given(st.one_of(st.sampled_from(["GET", "MGET", b"SET", "h\u00e9"]), st.text(max_size=5),
                 st.builds(lambda: bytearray(b"X")),  # unhashable names
                 st.builds(lambda: memoryview(bytearray(b"GET"))),
                 st.builds(lambda: memoryview(b"GET"))),
       st.lists(_ARG, min_size=0, max_size=3))
def test_short_command_fast_path_matches_the_general_encoder(head: Any, rest: List[Any]) -> None:
    """2- and 3-argument commands take _pack_short (cached name, one join); the bytes on the
    wire are exactly the general encoder's, whatever the argument kinds and sizes."""
    args = (head, *rest)
    general = b"".join(bytes(c) for c in encoder._pack([list(args)], "utf-8", "strict"))
    assert b"".join(bytes(c) for c in pack_command(args)) == general
    assert b"".join(bytes(c) for c in pack_commands([args, args])) == general * 2


@pytest.mark.parametrize("kind", BACKENDS)
def test_take_appends_a_batch_and_tags_errors(kind: str) -> None:
    decoder = make_decoder(kind, node="node-1")
    into: List[Any] = []
    assert decoder.take(into, 5) == 0  # nothing fed yet
    decoder.feed(b"+OK\r\n-MOVED 3999 127.0.0.1:6381\r\n:7\r\n$2\r\nab")
    assert decoder.take(into, 5) == 3  # the bulk is incomplete
    assert into[0] == b"OK" and isinstance(into[1], MovedError) and into[2] == 7
    assert into[1].node == "node-1"
    decoder.feed(b"\r\n>2\r\n$1\r\na\r\n$1\r\nb\r\n*1\r\n-ERR x\r\n")
    assert decoder.take(into, 2) == 2  # stops at count
    assert into[3] == b"ab" and is_push(into[4])
    assert decoder.take(into, 9) == 1
    assert isinstance(into[5][0], ResponseError) and into[5][0].node == "node-1"


@pytest.mark.parametrize("kind", BACKENDS)
def test_take_raises_protocol_errors_and_keeps_what_it_read(kind: str) -> None:
    decoder = make_decoder(kind)
    into: List[Any] = []
    decoder.feed(b":1\r\n:2\r\n?bad\r\n:3\r\n")
    with pytest.raises(ProtocolError):
        decoder.take(into, 4)
    assert into == [1, 2]
    with pytest.raises(ProtocolError):
        decoder.gets()  # unusable afterwards


@pytest.mark.parametrize("kind", BACKENDS)
def test_take_enforces_the_bulk_limit_while_waiting(kind: str) -> None:
    decoder = make_decoder(kind, max_bulk_length=100, max_line_length=100)
    decoder.feed(b"$10000000\r\n")
    with pytest.raises(ProtocolError):
        for _ in range(100):  # at most ~6.4 MB: far past the limit (plus hiredis's slack)
            decoder.take([], 1)
            decoder.feed(b"x" * 65536)
