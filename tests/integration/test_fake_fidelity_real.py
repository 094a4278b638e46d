"""The cross-check that proves FakeCluster's replies byte-for-byte equal to a real
redis-server's (bitmaps, HyperLogLog, streams, pub/sub, and a sample of the earlier families).

It runs the same command lines, in RESP2 and in RESP3, on a one-node real cluster
(``LocalCluster``, started once for this module, about 2 s) and on a one-node FakeCluster, over
raw connections, and compares every reply's exact bytes: types (bulk vs simple string, null array
vs null bulk, RESP3 maps and pushes), error texts and values. Without redis-server it is skipped
locally and fails in CI, as the other integration tests do. (The fake's own tests, through the
client, are in tests/unit/test_fake_cluster_more.py.)
"""

from __future__ import annotations

import codecs
import os
import shlex
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from clustercore import NodeAddress
from clustercore._net.transport import TransportOptions
from clustercore.testing import FakeCluster, LocalCluster
from tests.unit.rawconn import RawConnection, fake_connection, real_connection

IN_CI = bool(os.environ.get("CI"))


# ------------------------------------------------------------------------------------------------
# Scenarios: command lines, as a person types them into redis-cli
# ------------------------------------------------------------------------------------------------
#: Lines: ``CMD arg ...`` (shell quoting; ``\xff`` escapes inside arguments) runs on connection
#: 0; ``@N CMD ...`` on connection N; ``<N`` reads one more reply (a pushed message) from N.
#: Every scenario starts from empty servers; at its end every connection is PINGed, so a stray
#: pushed message on either side shows up as a difference.
SCENARIOS: Dict[str, str] = {}
#: Scenarios that only make sense in one protocol (e.g. a subscriber that also publishes).
PROTOCOLS: Dict[str, Tuple[int, ...]] = {}


def scenario(name: str, text: str, protocols: Tuple[int, ...] = (2, 3)) -> None:
    SCENARIOS[name] = text
    PROTOCOLS[name] = protocols


def _parse(line: str) -> Tuple[int, Optional[List[bytes]]]:
    line = line.strip()
    if line.startswith("<"):
        return int(line[1:]), None
    conn = 0
    if line.startswith("@"):
        head, _, line = line.partition(" ")
        conn = int(head[1:])
    return conn, [codecs.escape_decode(word.encode())[0] for word in shlex.split(line)]


_SUBSCRIPTIONS = {b"subscribe", b"psubscribe", b"ssubscribe", b"unsubscribe",
                  b"punsubscribe", b"sunsubscribe"}


def _reply_count(args: List[bytes]) -> int:
    """(P|S)(UN)SUBSCRIBE answers once per name (tests give names, or are not subscribed)."""
    return max(1, len(args) - 1) if args[0].lower() in _SUBSCRIPTIONS else 1


def run_scenario(text: str, open_conn: Callable[[], Tuple[RawConnection, Callable[[], None]]],
                 protocol: int) -> List[Tuple[str, bytes]]:
    """Run the lines on fresh connections; (line, reply bytes) for every reply."""
    conns: Dict[int, RawConnection] = {}
    closers: List[Callable[[], None]] = []

    def conn(n: int) -> RawConnection:
        if n not in conns:
            conns[n], close = open_conn()
            closers.append(close)
            if protocol == 3:
                conns[n].command([b"HELLO", b"3"])
        return conns[n]

    out: List[Tuple[str, bytes]] = []
    try:
        conn(0).command([b"FLUSHALL"])
        for line in text.strip().splitlines():
            if not line.strip() or line.strip().startswith("#"):
                continue
            n, args = _parse(line)
            if args is None:
                out.append((line.strip(), conn(n).read()))
                continue
            for reply in conn(n).command(args, _reply_count(args)):
                out.append((line.strip(), reply))
        for n in sorted(conns):
            out.append((f"@{n} PING (end)", conns[n].command([b"PING"])[0]))
    finally:
        for close in closers:
            close()
    return out


# ------------------------------------------------------------------------------------------------
# The cross-check
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_port() -> Iterator[int]:
    """A one-node real cluster (every slot on one node, like the fake below)."""
    if not LocalCluster.available():
        if IN_CI:
            pytest.fail("CI is set but redis-server/redis-cli are missing: the cross-check "
                        "against a real server must run")
        pytest.skip("redis-server/redis-cli not installed")
    cluster = LocalCluster(1, 0).start()
    try:
        yield cluster.nodes[0].port
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def cross_fake() -> Iterator[FakeCluster]:
    with FakeCluster(masters=1, replicas=0) as fake:
        yield fake


def _compare(text: str, real_port: int, fake: FakeCluster,
             protocols: Tuple[int, ...] = (2, 3)) -> int:
    compared = 0
    for protocol in protocols:
        real = run_scenario(text, lambda: real_connection(real_port), protocol)
        mine = run_scenario(text, lambda: fake_connection(fake), protocol)
        assert [line for line, _ in mine] == [line for line, _ in real]
        diffs = [(line, want, got) for (line, want), (_, got) in zip(real, mine) if want != got]
        assert not diffs, f"RESP{protocol}: fake differs from redis-server on:\n" + "\n".join(
            f"  {line}\n    real: {want!r}\n    fake: {got!r}" for line, want, got in diffs)
        compared += len(real)
    return compared


def test_cross_check(real_port: int, cross_fake: FakeCluster,
                     scenario_name: str) -> None:
    compared = _compare(SCENARIOS[scenario_name], real_port, cross_fake,
                        PROTOCOLS[scenario_name])
    assert compared > 0


def pytest_generate_tests(metafunc: Any) -> None:
    if "scenario_name" in metafunc.fixturenames:
        metafunc.parametrize("scenario_name", sorted(SCENARIOS))


def test_the_cross_check_can_fail(real_port: int, cross_fake: FakeCluster) -> None:
    """A reply that differs (here: a deliberately wrong expectation of the fake) is caught."""
    with pytest.raises(AssertionError, match="fake differs"):
        _compare("SET k v\nGET k", real_port, _Tampered(cross_fake))  # type: ignore[arg-type]


class _Tampered:
    """A FakeCluster whose GET replies are altered on the wire (for the test above)."""

    def __init__(self, fake: FakeCluster) -> None:
        self.fake = fake
        self.nodes = fake.nodes
        self.network = _TamperedNetwork(fake)


class _TamperedNetwork:
    def __init__(self, fake: FakeCluster) -> None:
        self.fake = fake

    def open(self, address: NodeAddress, timeout: Optional[float],
             options: TransportOptions) -> Any:
        stream = self.fake.network.open(address, timeout, options)
        original = stream.recv

        def recv(size: int) -> bytes:
            return original(size).replace(b"$1\r\nv\r\n", b"$1\r\nw\r\n")

        stream.recv = recv  # type: ignore[method-assign]
        return stream


# ------------------------------------------------------------------------------------------------
# Scenarios: bitmaps
# ------------------------------------------------------------------------------------------------
scenario("bitmap_setbit_getbit", r"""
SETBIT b 7 1
SETBIT b 7 1
SETBIT b 7 0
GET b
SETBIT b 100 1
GET b
GETBIT b 100
GETBIT b 99
GETBIT b 99999
GETBIT nokey 5
SETBIT new 20 0
GET new
SETBIT b -1 1
SETBIT b 4294967296 1
SETBIT b abc 1
SETBIT b 1 2
SETBIT b 1 -1
SETBIT b 1 x
GETBIT b -1
GETBIT b x
SET t v EX 100
SETBIT t 3 1
TTL t
GET t
LPUSH l a
SETBIT l 1 1
GETBIT l 1
SETBIT l x 1
SETBIT
GETBIT b
""")

scenario("bitmap_bitcount", r"""
SET s foobar
BITCOUNT s
BITCOUNT s 1 1
BITCOUNT s -2 -1
BITCOUNT s 5 30 BIT
BITCOUNT s -5 -1 BIT
BITCOUNT s 0 -1 BYTE
BITCOUNT s 0 1 bit
BITCOUNT s 0 1 byte
BITCOUNT s 3 1
BITCOUNT s -3 -5
BITCOUNT s -100 -50
BITCOUNT s -100 100
BITCOUNT s 3 -100
BITCOUNT s 0 a
BITCOUNT s a 0
BITCOUNT s 1
BITCOUNT s 0 -1 bla
BITCOUNT s 0 -1 BIT extra
BITCOUNT nokey
BITCOUNT nokey 0 a
BITCOUNT nokey 1
SET e ""
BITCOUNT e
BITCOUNT e 0 -1
BITCOUNT e 0 -1 BIT
LPUSH l a
BITCOUNT l
BITCOUNT l 1
SET z "\x00\xff\xf0"
BITCOUNT z -5 -3 BIT
BITCOUNT z 7 8 BIT
BITCOUNT z 1 1
BITCOUNT
""")

scenario("bitmap_bitpos", r"""
SET z "\x00\xff\xf0"
BITPOS z 1
BITPOS z 0
BITPOS z 1 0
BITPOS z 1 2
BITPOS z 1 2 -1 BYTE
BITPOS z 1 7 15 BIT
BITPOS z 1 7 -3 BIT
BITPOS z 0 1
BITPOS z 0 1 1
BITPOS z 0 8 15 bit
BITPOS z 0 20 BIT
BITPOS z 1 -1
BITPOS z 1 -100 -50
BITPOS z 1 5 2
BITPOS z 0 2 1
SET ones "\xff\xff\xff"
BITPOS ones 0
BITPOS ones 0 0
BITPOS ones 0 1
BITPOS ones 0 0 -1
BITPOS ones 0 1 2 BIT
BITPOS ones 0 3 100 BIT
BITPOS ones 0 3 BIT
BITPOS ones 1 5 2
BITPOS nokey 0
BITPOS nokey 1
BITPOS nokey 1 a
BITPOS nokey 1 0 0 0 0
SET e ""
BITPOS e 1
BITPOS e 0
BITPOS e 0 0
BITPOS z 2
BITPOS z -1
BITPOS z x
BITPOS z 1 a
BITPOS z 1 0 a
BITPOS z 1 0 1 foo
BITPOS z 0 0 -1 BIT extra
LPUSH l a
BITPOS l 1
BITPOS l 3
BITPOS l 1 a
BITPOS z
""")

scenario("bitmap_bitop", r"""
BITOP AND {a}d {a}x {a}y
EXISTS {a}d
SET {a}x "\x0f\xff"
SET {a}y "\xf0"
BITOP AND {a}d {a}x {a}y
GET {a}d
BITOP OR {a}d {a}x {a}y
GET {a}d
BITOP XOR {a}d {a}x {a}y {a}missing
GET {a}d
BITOP xor {a}d {a}x {a}x
GET {a}d
BITOP NOT {a}d {a}x
GET {a}d
BITOP not {a}d {a}y
GET {a}d
SET {a}d v EX 100
BITOP OR {a}d {a}x
TTL {a}d
BITOP AND {a}d {a}nope
EXISTS {a}d
BITOP OR {a}x {a}x {a}y
GET {a}x
LPUSH {a}l x
BITOP OR {a}d {a}x {a}l
BITOP NOT {a}d {a}x {a}l
BITOP NOT {a}d {a}l
BITOP FOO {a}d {a}x
BITOP or {a}d {b}x
BITOP xor {a}d
""")

# ------------------------------------------------------------------------------------------------
# Scenarios: HyperLogLog
# ------------------------------------------------------------------------------------------------
scenario("hyperloglog", r"""
PFADD h
PFADD h
EXISTS h
TYPE h
PFCOUNT h
PFADD h a b
PFADD h a
PFADD h a c
PFADD h b a
PFCOUNT h
PFCOUNT nokey
PFCOUNT {a}1 {a}2
PFADD {a}1 x y
PFADD {a}2 y z w
PFCOUNT {a}1 {a}2
PFCOUNT {a}1 {a}2 {a}none
PFCOUNT {a}1 {b}2
PFMERGE {a}d {a}1 {a}2
PFCOUNT {a}d
PFMERGE {a}d {a}1
PFCOUNT {a}d
PFMERGE {a}e
EXISTS {a}e
TYPE {a}e
PFCOUNT {a}e
PFMERGE {a}f {a}nope
PFCOUNT {a}f
SET {a}s hello
PFADD {a}s a
PFCOUNT {a}s
PFCOUNT {a}1 {a}s
PFMERGE {a}d {a}s
PFMERGE {a}s {a}1
SET {a}hh2 "HYLL\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00xx"
PFCOUNT {a}hh2
LPUSH {a}l 1
PFCOUNT {a}l
PFADD {a}l x
PFMERGE {a}l {a}1
PFMERGE {a}1 {a}l
PFADD t a
EXPIRE t 100
PFADD t b
PFMERGE t
TTL t
PFCOUNT t
PFMERGE t {x}
PFADD many 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20
PFADD many 15 16 17 18 19 20 21 22 23 24 25
PFCOUNT many
PFCOUNT
PFMERGE
PFADD
""")

# ------------------------------------------------------------------------------------------------
# Scenarios: streams (explicit IDs: "*" reads each server's own clock)
# ------------------------------------------------------------------------------------------------
scenario("stream_xadd_ids", r"""
XADD s 1-1 a 1
XADD s 1-1 a 1
XADD s 1-0 a 1
XADD s 0-0 a 1
XADD s 0 a 1
XADD s 1-* b 2
XADD s 5 c 3
XADD s 5-* c 3
XADD s 3-* c 3
XADD s 99999999999999999999-0 c 3
XADD s 1-x c 3
XADD s x c 3
XADD s - c 3
XADD s + c 3
XADD s 6-1 c
XADD s 6-1 a b c
XADD s 7-1
XADD e 0-* a 1
XADD f 05-1 x y
XADD f +6-1 x y
XADD f " 7-1" x y
XADD f 8-+1 x y
XADD f -09-1 x y
XADD f -1 x y
XADD f 9-18446744073709551615 x y
XADD f 9-* x y
XADD f 18446744073709551615-18446744073709551615 x y
XADD f 18446744073709551615-* x y
XADD f 1-1 x y
XLEN s
XLEN f
XRANGE f - +
TYPE s
SET str v
XADD str 1-0 a b
XLEN str
LPUSH l a
XADD l 1-0 a b
XADD nos NOMKSTREAM 1-0 f v
EXISTS nos
XADD s nomkstream 20-0 f v
XADD
""")

scenario("stream_xrange", r"""
XADD s 1-1 a 1
XADD s 1-2 b 2
XADD s 5-0 c 3
XADD s 5-1 c 3 d 4
XRANGE s - +
XRANGE s - + COUNT 2
XRANGE s - + count 2 COUNT 3
XRANGE s (1-1 +
XRANGE s 1 1
XRANGE s 1-2 (5
XRANGE s (5-1 +
XRANGE s (1 (5
XRANGE s 5 3
XRANGE s + -
XRANGE s - + COUNT 0
XRANGE s - + COUNT -1
XRANGE s - + COUNT x
XRANGE s - + COUNT
XRANGE s - + FOO 1
XRANGE s x +
XRANGE s (- +
XRANGE s - (+
XRANGE s (18446744073709551615-18446744073709551615 +
XRANGE s - (0-0
XRANGE s - (0
XREVRANGE s + -
XREVRANGE s + - COUNT 2
XREVRANGE s (5-1 -
XREVRANGE s 5 (1-1
XREVRANGE s - +
XREVRANGE s + - COUNT 0
XRANGE nokey - +
XRANGE nokey - + COUNT 0
XREVRANGE nokey + -
SET str v
XRANGE str - +
XRANGE str - + COUNT 0
XRANGE s -
""")

scenario("stream_xdel_xtrim", r"""
XADD s 1-1 a 1
XADD s 1-2 b 2
XADD s 5-0 c 3
XADD s 5-1 c 3
XDEL s 1-1 1-5 5-0
XDEL s bad
XDEL s 1-2 bad
XDEL nokey 1-1
XDEL nokey bad
XLEN s
XRANGE s - +
XADD s 2-0 z 1
XADD s MAXLEN 2 10-0 f v
XRANGE s - +
XADD s MINID = 10 11-0 f v
XRANGE s - +
XADD s MAXLEN ~ 1 12-0 f v
XLEN s
XADD s MAXLEN ~ 1 LIMIT 10 13-0 f v
XADD s MAXLEN 1 LIMIT 10 13-1 f v
XADD s LIMIT 5 13-2 f v
XADD s MAXLEN 5 MINID 1 13-3 f v
XADD s MAXLEN -5 13-4 f v
XADD s MAXLEN x 13-5 f v
XADD s LIMIT -5 13-6 f v
XADD s MAXLEN ~ 5 LIMIT -5 13-7 f v
XADD s NOMKSTREAM 14-0 f v
XADD s maxlen = 5 minid 1 15-0 f v
XTRIM s MAXLEN 1
XRANGE s - +
XTRIM s MINID 13-2
XTRIM s MAXLEN ~ 0
XLEN s
EXISTS s
TYPE s
XTRIM s MINID (5
XTRIM s FOO 1
XTRIM s LIMIT 1
XTRIM s MAXLEN 1 LIMIT 1
XTRIM nokey MAXLEN 0
XTRIM s MAXLEN -1
XTRIM s MAXLEN
SET str v
XTRIM str MAXLEN 1
XDEL str 1-1
XADD s MAXLEN 0 30-0 c 4
XLEN s
XADD s 31-0 c 4
XDEL s 31-0
XADD s 31-0 c 4
XADD s 31-1 c 4
""")

scenario("stream_approximate_trim", r"""
# 250 entries fill three of Redis' 100-entry nodes; "~" trimming only drops whole nodes
XADD s 1-1 f v
XADD s 1-2 f v
""" + "\n".join(f"XADD s {i}-0 f v" for i in range(2, 250)) + r"""
XLEN s
XTRIM s MAXLEN ~ 180
XLEN s
XTRIM s MAXLEN ~ 100
XLEN s
XRANGE s - + COUNT 1
XTRIM s MAXLEN ~ 10 LIMIT 20
XLEN s
XTRIM s MINID ~ 220
XLEN s
XTRIM s MINID ~ 250
XLEN s
XADD s 300-0 f v
XLEN s
""" + "\n".join(f"XADD t {i}-0 f v" for i in range(1, 160)) + r"""
XDEL t 1-0 2-0
XTRIM t MAXLEN ~ 60
XLEN t
XTRIM t MINID 150
XLEN t
XRANGE t - + COUNT 2
XADD t MAXLEN ~ 5 400-0 f v
XLEN t
""")

scenario("stream_xread", r"""
XADD {s}a 1-0 a 1
XADD {s}a 2-0 b 2
XADD {s}b 1-5 c 3
XREAD STREAMS {s}a {s}b 0 0
XREAD COUNT 1 STREAMS {s}a {s}b 1 0
XREAD COUNT 1 STREAMS {s}a {s}b 1-0 0-0
XREAD STREAMS {s}a {s}b $ $
XREAD BLOCK 10 STREAMS {s}a $
XREAD STREAMS {s}a {s}none 0 0
XREAD STREAMS {s}none $
XREAD STREAMS {s}a {s}a 0 1
XREAD count -5 streams {s}a 0
XREAD STREAMS {s}a 1
XREAD STREAMS {s}a 2-0
XDEL {s}a 2-0
XREAD STREAMS {s}a 1
XREAD STREAMS {s}a
XREAD STREAMS {s}a {s}b 0
XREAD COUNT 1 {s}a 0
XREAD STREAMS {s}a >
XREAD STREAMS {s}a +
XREAD STREAMS {s}a x
XREAD BLOCK -1 STREAMS {s}a 0
XREAD BLOCK x STREAMS {s}a 0
XREAD COUNT x STREAMS {s}a 0
XREAD GROUP g c STREAMS {s}a 0
XREAD NOACK STREAMS {s}a 0
XREAD STREAMS {s}a {x}b 0 0
XREAD FOO STREAMS {s}a 0
SET {s}str v
XREAD STREAMS {s}str 0
XREAD STREAMS {s}a {s}str 0 0
""")

scenario("stream_groups", r"""
XADD s 1-0 a 1
XADD s 2-0 b 2
XADD s 3-0 c 3
XGROUP CREATE s g 0
XGROUP CREATE s g 0
XGROUP CREATE s g2 $
XGROUP CREATE nokey g 0
XGROUP CREATE nokey g $ MKSTREAM
TYPE nokey
XLEN nokey
XGROUP CREATE s g3 bad
XGROUP CREATE s g4 0 FOO
XGROUP CREATE s g4 0 ENTRIESREAD 2
XGROUP CREATE s g5 0 ENTRIESREAD -7
XGROUP FOO s g
XGROUP CREATE s
XREADGROUP GROUP g alice COUNT 1 STREAMS s >
XREADGROUP GROUP g bob STREAMS s >
XREADGROUP GROUP g bob STREAMS s >
XREADGROUP GROUP g2 carol STREAMS s >
XPENDING s g
XPENDING s g2
XPENDING s nogroup
XPENDING nokey g
XPENDING s g - + x
XPENDING s g - +
XREADGROUP GROUP g alice STREAMS s 0
XREADGROUP GROUP g bob STREAMS s 0
XREADGROUP GROUP g bob COUNT 1 STREAMS s 2-0
XREADGROUP GROUP g nobody STREAMS s 0
XACK s g 1-0 9-0
XACK s g 1-0
XACK s g bad
XACK s nogroup 2-0
XACK nokey g 2-0
XPENDING s g
XDEL s 2-0
XREADGROUP GROUP g bob STREAMS s 0
XADD s 4-0 d 4
XREADGROUP GROUP g alice NOACK STREAMS s >
XPENDING s g
XREADGROUP GROUP g alice STREAMS s $
XREADGROUP GROUP g alice STREAMS nokey2 >
XREADGROUP GROUP nogroup alice STREAMS s >
XREADGROUP STREAMS s >
XREADGROUP GROUP g alice STREAMS s
XGROUP CREATECONSUMER s g dave
XGROUP CREATECONSUMER s g dave
XGROUP CREATECONSUMER s nogroup dave
XGROUP DELCONSUMER s g bob
XGROUP DELCONSUMER s g nobody
XPENDING s g
XGROUP SETID s g 0
XREADGROUP GROUP g erin STREAMS s >
XGROUP SETID s g $
XREADGROUP GROUP g erin STREAMS s >
XGROUP SETID s nogroup 0
XGROUP DESTROY s g
XGROUP DESTROY s g
XGROUP DESTROY nokey3 g
SET str v
XGROUP CREATE str g 0
XREADGROUP GROUP g alice STREAMS str >
""")

scenario("blocking_pops_time_out_with_a_null_array", r"""
BLPOP {l}a {l}b 0.01
BRPOP {l}a 0.01
RPUSH {l}b x
BLPOP {l}a {l}b 0.01
""")

# ------------------------------------------------------------------------------------------------
# Scenarios: the families the fake had before (a sample; see docs/testing.md for what differs)
# ------------------------------------------------------------------------------------------------
scenario("earlier_families_sample", r"""
SET s v
SET s v NX
SET s v XX GET
SET s v EX 0
SET s v PX 10 KEEPTTL
SET s v GET NX
GETEX s PERSIST
GETEX s EX 5 PX 5
GETDEL nokey
INCRBYFLOAT f 1e3
INCRBYFLOAT f abc
INCR s
SETRANGE s -1 x
GETRANGE s 0 -1
MSET a 1 b
MGET s nokey
STRLEN nokey
APPEND s ""
LPUSH l a b c
LRANGE l 0 -1
LPOP l 0
LPOP l -1
LPOP l 2
RPOP nokey 2
LINDEX l x
LSET nokey 0 v
LINSERT l BEFORE zz v
LMOVE l l2 LEFT UP
LREM l 0 a
LTRIM l 1 0
EXISTS l
HSET h a 1 b 2
HGETALL h
HGET h a
HINCRBY h a x
HINCRBYFLOAT h a 1.5
HINCRBY h a 1
HSET h a
HMGET h a zz
HDEL h a b
EXISTS h
SADD st a b c
SCARD st
SISMEMBER st a
SMISMEMBER st a z
SREM st a z
SPOP st 0
SMOVE st st2 b
ZADD z 1 a 2 b 3 c
ZADD z NX XX 1 a
ZADD z GT LT 1 a
ZADD z INCR 1 a 2 b
ZADD z INCR 1.5 a
ZADD z 1 a x
ZSCORE z a
ZSCORE z zz
ZMSCORE z a zz
ZRANGE z 0 -1 WITHSCORES
ZRANGE z (1 +inf BYSCORE LIMIT 0 1
ZRANGE z [a + BYLEX
ZRANGE z 0 -1 BYLEX
ZRANGEBYSCORE z -inf +inf WITHSCORES LIMIT 1 1
ZREVRANGEBYSCORE z +inf -inf
ZCOUNT z (1 3
ZRANK z c
ZINCRBY z 0.5 a
ZPOPMIN z
ZPOPMAX z 5
ZPOPMIN nokey
ZCARD z
ZREM z zz
ZRANGE z 0 -1 REV WITHSCORES
ZADD z 1 a
EXPIRE s 100 FOO
EXPIRETIME nokey
RENAME nokey x
RENAME s s
TYPE z
DEL s nokey
SCAN 0 COUNT 0
SCAN x
HSCAN h 0 MATCH *
ECHO
PING a b
DEL z
ZADD z 0.1 a 1e20 b inf c 1.5 d -0.0 e 123456789.123 f 2 g
ZSCORE z a
ZSCORE z b
ZSCORE z c
ZSCORE z d
ZSCORE z e
ZSCORE z f
ZSCORE z g
ZINCRBY z 0.2 a
ZRANGE z 0 -1 WITHSCORES
ZSCAN z 0
""")


# ------------------------------------------------------------------------------------------------
# Scenarios: pub/sub (several connections: @N runs on connection N, <N reads a pushed message)
# ------------------------------------------------------------------------------------------------
scenario("pubsub_contexts", r"""
SUBSCRIBE a b
SUBSCRIBE a
PSUBSCRIBE p*
SSUBSCRIBE {x}1 {x}2
SSUBSCRIBE {x}1 {y}2
GET k
MULTI
PING
PING hello
@1 PUBLISH a hi
<0
@1 PUBLISH pq hi2
<0
@1 PUBLISH zz nobody
@1 SPUBLISH {x}1 shard
<0
@1 SPUBLISH {x}9 shard
@1 PUBSUB CHANNELS a*
@1 PUBSUB NUMSUB a b zz
@1 PUBSUB NUMPAT
@1 PUBSUB SHARDCHANNELS *1
@1 PUBSUB SHARDNUMSUB {x}1 {x}9
@1 PUBSUB FOO
@1 PUBSUB
UNSUBSCRIBE a
PUNSUBSCRIBE p*
SUNSUBSCRIBE {x}1
SUNSUBSCRIBE {x}2
UNSUBSCRIBE b
GET k
UNSUBSCRIBE
PUNSUBSCRIBE
SUNSUBSCRIBE
UNSUBSCRIBE nope
@2 MULTI
@2 SUBSCRIBE m
@2 EXEC
@2 SUBSCRIBE
@2 PUBLISH a
@3 SSUBSCRIBE {x}1
@3 RESET
@1 SPUBLISH {x}1 after-reset
# (two patterns matching one channel are delivered in Redis' hash order: not compared)
@4 PSUBSCRIBE a* [xy]
@4 SUBSCRIBE a
@1 PUBLISH a both
<4
<4
@1 PUBLISH y pattern
<4
@4 PUNSUBSCRIBE a* b*
""")

scenario("pubsub_errors_and_counts", r"""
SUBSCRIBE a
SUBSCRIBE
SSUBSCRIBE
PSUBSCRIBE
SET k v
CLIENT GETNAME
@1 PUBLISH a one two
@1 SPUBLISH {s}a
@1 PUBSUB NUMSUB
@1 PUBSUB SHARDNUMSUB
@1 PUBSUB NUMPAT extra
@1 PUBSUB HELP extra
@1 PUBSUB CHANNELS a b
@1 PUBLISH a "\x00\xffbinary"
<0
@2 SSUBSCRIBE {s}a
@2 SSUBSCRIBE {s}b
@2 SUBSCRIBE {s}a
@1 SPUBLISH {s}a x
<2
@1 PUBLISH {s}a y
<2
@1 PUBSUB SHARDNUMSUB {s}a {s}b
@1 PUBSUB SHARDCHANNELS {s}a*
@2 SUNSUBSCRIBE {s}a {s}b
@2 UNSUBSCRIBE {s}a
@3 SUBSCRIBE c
@3 GET k
@1 PUBLISH c other
<3
@3 UNSUBSCRIBE c
UNSUBSCRIBE a
""")

scenario("pubsub_resp3_subscriber_runs_commands", r"""
SUBSCRIBE c
SET k v
GET k
PUBLISH c self
<0
SSUBSCRIBE {s}c
SPUBLISH {s}c self
<0
MULTI
PUBLISH c queued
EXEC
<0
UNSUBSCRIBE c
SUNSUBSCRIBE {s}c
RESET
SUBSCRIBE x
GET k
""", protocols=(3,))
