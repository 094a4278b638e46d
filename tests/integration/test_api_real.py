"""CommandsMixin against a real one-node cluster, and the command table against COMMAND INFO.

``OneNode`` is a test-only client: it sends every command through one ClusterConnection,
splits the splittable multi-key commands by slot, refuses cross-slot atomic commands before
sending (as the real client must), parses each reply with the response callbacks and merges
fan-out commands as if its single node were the whole cluster. Every method family runs with
``decode_responses`` False and True and is checked against redis-py's return types.
"""

from __future__ import annotations

import datetime
import re
import time
from typing import Any, Dict, Iterator, List, Set, Tuple

import pytest

from clustercore import ClusterConnection, key_slot
from clustercore._commands.api import CommandsMixin
from clustercore._commands.keys import keys_of, slot_of, split_by_slot
from clustercore._commands.merge import merge_split
from clustercore._commands.server_specs import specs_from_command_reply
from clustercore._commands.specs import COMMANDS, Merge, Route, lookup, name_of, normalize_args
from clustercore._commands.specs_redis8 import REDIS8_NAMES
from clustercore.errors import (
    ClusterCoreError,
    ClusterCrossSlotError,
    NoScriptError,
    ResponseError,
)
from clustercore.testing import LocalCluster


class OneNode(CommandsMixin):
    """A minimal client over one connection to the only node of a one-node cluster."""

    def __init__(self, host: str, port: int, decode_responses: bool) -> None:
        self.conn = ClusterConnection(host, port, socket_timeout=10, socket_connect_timeout=10,
                                      decode_responses=decode_responses)
        self.node_name = f"{host}:{port}"
        self.decode = decode_responses
        self.response_callbacks = self._default_callbacks()

    def v(self, text: str) -> Any:
        """``text`` as this client returns values: str when decoding, else bytes."""
        return text if self.decode else text.encode()

    def close(self) -> None:
        self.conn.disconnect()

    def _execute_on_node(self, node: Any, *args: Any) -> Any:
        assert node == self.node_name
        return self.conn.execute(*args)

    def _nodes_for_scan(self) -> List[Any]:
        return [self.node_name]

    def execute_command(self, *args: Any, **options: Any) -> Any:
        args = normalize_args(args)
        spec = lookup(args)
        name = name_of(args, spec)
        if spec is None:
            return self._parse_reply(name, self.conn.execute(*args), **options)
        if spec.route in (Route.CONNECTION, Route.NODE_ONLY):
            raise ClusterCoreError(f"{name} is {spec.route.value}: not sent by the client")
        if spec.split:
            parts = [(indexes, self._parse_reply(name, self.conn.execute(*sub), **options))
                     for _slot, sub, indexes in split_by_slot(spec, args)]
            return merge_split(spec, parts)
        slot_of(spec, args)  # raises ClusterCrossSlotError before anything is sent
        raw = bool(options.pop("never_decode", False))  # DUMP: bytes even when decoding
        reply = self._parse_reply(name, self.conn.execute(*args, disable_decoding=raw),
                                  **options)
        if spec.route in (Route.ALL_PRIMARIES, Route.ALL_NODES):
            return self._merge_results(name, spec.merge, {self.node_name: reply}, **options)
        return reply


@pytest.fixture(scope="module")
def one_node() -> Iterator[LocalCluster]:
    """One primary owning all 16384 slots, no replicas (shared by this module's tests)."""
    cluster = LocalCluster(masters=1, replicas_per_master=0)
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=[False, True], ids=["bytes", "decoded"])
def r(request: pytest.FixtureRequest, one_node: LocalCluster) -> Iterator[OneNode]:
    node = one_node.nodes[0]
    client = OneNode(node.host, node.port, decode_responses=request.param)
    client.flushall()
    client.script_flush()
    client.function_flush()
    yield client
    client.close()


def different_slots(*names: str) -> Tuple[str, ...]:
    assert len({key_slot(n) for n in names}) == len(names), names
    return names


# --- strings -------------------------------------------------------------------------------------
def test_strings(r: OneNode) -> None:
    v = r.v
    assert r.set("s", "v") is True
    assert r.set("s", "w", get=True) == v("v")
    assert r.set("s", "x", nx=True) is None
    assert r.set("nx", "x", xx=True) is None
    assert r.set("s", "x", xx=True, ex=datetime.timedelta(seconds=100)) is True
    assert 0 < r.ttl("s") <= 100
    assert r.set("s", "k", keepttl=True) is True and r.ttl("s") > 0
    assert r.set("s2", 1, exat=datetime.datetime.now() + datetime.timedelta(hours=1)) is True
    assert r.set("s3", 2.5, pxat=int(time.time() * 1000) + 100_000, px=None) is True
    assert r.get("s") == v("k") and r.get("s3") == v("2.5") and r.get("missing") is None
    assert r.getex("s", persist=True) == v("k") and r.ttl("s") == -1
    assert r.getex("s", ex=50) == v("k") and 0 < r.ttl("s") <= 50
    assert r.setnx("s", "z") is False and r.setnx("fresh", "z") is True
    assert r.setex("e", 100, "v") is True and r.psetex("pe", 100_000, "v") is True
    assert 0 < r.pttl("pe") <= 100_000
    assert r.getset("s", "new") == v("k")
    assert r.getdel("s") == v("new") and r.get("s") is None and r.getdel("s") is None
    assert r.incr("n") == 1 and r.incrby("n", 5) == 6 and r.incr("n", 2) == 8
    assert r.decr("n") == 7 and r.decrby("n", 2) == 5
    value = r.incrbyfloat("n", 0.5)
    assert value == 5.5 and isinstance(value, float)
    assert r.append("a", "hello") == 5 and r.strlen("a") == 5
    assert r.getrange("a", 0, 1) == v("he")
    assert r.setrange("a", 1, "EL") == 5 and r.get("a") == v("hELlo")
    assert r.substr("a", 1, 2) == v("EL") and r.substr("a", 3) == v("lo")
    assert r.mset({"{t}x": "ohmytext", "{t}y": "mynewtext"}) is True
    assert r.lcs("{t}x", "{t}y") == v("mytext")
    assert r.lcs("{t}x", "{t}y", len=True) == 6


def test_multi_key_strings_across_slots(r: OneNode) -> None:
    v = r.v
    a, b, c = different_slots("a1", "b1", "c1")
    assert r.mset({a: 1, b: "two", c: b"3"}) is True
    assert r.mget([a, b], c, "nope") == [v("1"), v("two"), v("3"), None]
    assert r.mget(c) == [v("3")]
    assert r.exists(a, b, "nope") == 2 and r.touch(a, c) == 2
    assert r.delete(a, b, "nope") == 2 and r.unlink(c) == 1
    assert r.msetnx({"{t}a": 1, "{t}b": 2}) is True
    assert r.msetnx({"{t}a": 1, "{t}c": 2}) is False
    with pytest.raises(ClusterCrossSlotError):
        r.msetnx({a: 1, b: 2})
    with pytest.raises(ClusterCrossSlotError):
        r.rename(a, b)
    # the server agrees: the same command sent raw is refused with CROSSSLOT
    with pytest.raises(ClusterCrossSlotError):
        r.conn.execute("MSETNX", a, 1, b, 2)


# --- keys and expiry -----------------------------------------------------------------------------
def test_keys_and_expiry(r: OneNode) -> None:
    v = r.v
    r.mset({"k1": "a", "k2": "b", "k3": "c"})
    assert r.type("k1") == v("string") and r.type("nope") == v("none")
    assert r.expire("k1", 100) is True and r.expire("nope", 10) is False
    assert r.expire("k1", 50, gt=True) is False and r.expire("k1", 200, gt=True) is True
    assert r.expire("k1", datetime.timedelta(minutes=5), xx=True) is True
    assert r.pexpire("k2", 100_000) is True
    assert r.expireat("k2", datetime.datetime.now() + datetime.timedelta(hours=1)) is True
    assert r.pexpireat("k3", int(time.time() * 1000) + 100_000) is True
    assert r.pexpireat("k3", datetime.datetime.now() + datetime.timedelta(hours=2)) is True
    assert r.expiretime("k2") > time.time() and r.pexpiretime("k3") > time.time() * 1000
    assert r.expiretime("nope") == -2
    assert r.persist("k2") is True and r.ttl("k2") == -1 and r.persist("k2") is False
    assert r.pttl("nope") == -2 and r.ttl("nope") == -2
    assert r.object("encoding", "k1") == v("embstr")
    assert r.object("refcount", "k1") == 1 and r.object("idletime", "k1") >= 0
    r.set("{r}a", 1)
    assert r.rename("{r}a", "{r}b") is True
    assert r.renamenx("{r}b", "{r}c") is True
    r.set("{r}d", 1)
    assert r.renamenx("{r}c", "{r}d") is False
    assert r.copy("{r}c", "{r}e") is True and r.copy("{r}c", "{r}e") is False
    assert r.copy("{r}c", "{r}e", replace=True) is True
    with pytest.raises(ResponseError):
        r.rename("{r}missing", "{r}x")
    r.set("a:1", 1)
    r.set("a:2", 2)
    assert sorted(r.keys("a:*")) == [v("a:1"), v("a:2")]
    assert r.randomkey() is not None
    assert r.dbsize() == 8
    r.flushdb()
    assert r.randomkey() is None and r.keys() == [] and r.dbsize() == 0


def test_dump_restore_and_sort(r: OneNode) -> None:
    v = r.v
    r.rpush("l", 3, 1, 2)
    payload = r.dump("l")  # binary: read undecoded even when decoding (never_decode)
    assert isinstance(payload, bytes)
    assert r.restore("l2", 0, payload) == v("OK")
    assert r.restore("l2", 0, payload, replace=True, idletime=5) == v("OK")
    assert r.lrange("l2", 0, -1) == [v("3"), v("1"), v("2")]
    assert r.dump("nope") is None
    assert r.sort("l") == [v("1"), v("2"), v("3")]
    assert r.sort("l", desc=True, start=0, num=2) == [v("3"), v("2")]
    assert r.sort_ro("l", alpha=True) == [v("1"), v("2"), v("3")]
    assert r.sort("{l}src", store="{l}dst") == 0
    r.rpush("{l}src", "b", "a")
    with pytest.raises(ResponseError):  # cluster mode refuses BY/GET patterns
        r.sort("{l}src", by="{l}w_*")
    assert r.sort("{l}src", alpha=True, store="{l}dst") == 2
    assert r.memory_usage("l") > 0 and r.memory_usage("nope") is None


def test_scan(r: OneNode) -> None:
    v = r.v
    names = [f"key:{i}" for i in range(40)]
    r.mset({n: i for i, n in enumerate(names)})
    r.hset("hash", "f", 1)
    assert sorted(r.scan_iter(match="key:*", count=7)) == sorted(v(n) for n in names)
    assert list(r.scan_iter(_type="hash")) == [v("hash")]
    per_node = r.scan(0, count=1000)
    assert list(per_node) == [r.node_name]
    cursor, found = per_node[r.node_name]
    assert isinstance(cursor, int) and len(found) == 41
    cursor, found = r.scan(0, match="key:1*", count=1000, target_node=r.node_name)
    assert cursor == 0 and sorted(found) == sorted(v(n) for n in names if n.startswith("key:1"))


# --- hashes --------------------------------------------------------------------------------------
def test_hashes(r: OneNode) -> None:
    v = r.v
    assert r.hset("h", "f1", "v1") == 1
    assert r.hset("h", mapping={"f2": "v2", "f3": 3}, items=["f4", "v4"]) == 3
    assert r.hsetnx("h", "f1", "x") == 0 and r.hsetnx("h", "f5", "x") == 1
    assert r.hget("h", "f1") == v("v1") and r.hget("h", "nope") is None
    assert r.hmget("h", ["f1", "nope"], "f3") == [v("v1"), None, v("3")]
    everything = {v("f1"): v("v1"), v("f2"): v("v2"), v("f3"): v("3"), v("f4"): v("v4"),
                  v("f5"): v("x")}
    assert r.hgetall("h") == everything and r.hgetall("nope") == {}
    assert r.hexists("h", "f1") is True and r.hexists("h", "zz") is False
    assert r.hlen("h") == 5
    assert sorted(r.hkeys("h")) == sorted(everything)
    assert sorted(r.hvals("h")) == sorted(everything.values())
    assert r.hincrby("h", "n", 2) == 2
    assert r.hincrbyfloat("h", "n", 0.5) == 2.5
    assert r.hstrlen("h", "f1") == 2
    assert r.hdel("h", "f5", "n", "nope") == 2
    with pytest.warns(DeprecationWarning, match="hmset"):
        assert r.hmset("h2", {"a": 1}) is True
    assert r.hgetall("h2") == {v("a"): v("1")}
    assert r.hrandfield("h") in everything
    pairs = r.hrandfield("h", 2, withvalues=True)
    assert len(pairs) == 4 and pairs[0] in everything
    cursor, data = r.hscan("h")
    assert cursor == 0 and data == {k: x for k, x in everything.items() if k != v("f5")}
    assert dict(r.hscan_iter("h", match="f[12]")) == {v("f1"): v("v1"), v("f2"): v("v2")}


# --- lists ---------------------------------------------------------------------------------------
def test_lists(r: OneNode) -> None:
    v = r.v
    assert r.rpush("l", "a", "b", "c") == 3 and r.lpush("l", "z") == 4
    assert r.lpushx("nope", "x") == 0 and r.rpushx("l", "d") == 5
    assert r.lrange("l", 0, -1) == [v(x) for x in "zabcd"]
    assert r.llen("l") == 5 and r.lindex("l", 1) == v("a") and r.lindex("l", 99) is None
    assert r.lset("l", 0, "Z") is True
    assert r.linsert("l", "BEFORE", "b", "x") == 6
    assert r.linsert("l", "AFTER", "nope", "y") == -1
    assert r.lpos("l", "b") == 3 and r.lpos("l", "b", count=0) == [3]
    assert r.lpos("l", "a", rank=1, maxlen=10) == 1 and r.lpos("l", "nope") is None
    assert r.lrem("l", 0, "x") == 1
    assert r.lpop("l") == v("Z") and r.rpop("l", 2) == [v("d"), v("c")]
    assert r.lpop("nope") is None and r.rpop("nope", 2) is None
    assert r.ltrim("l", 0, 0) is True and r.lrange("l", 0, -1) == [v("a")]


def test_list_moves_and_blocking_pops(r: OneNode) -> None:
    v = r.v
    r.rpush("{L}1", "a", "b", "c")
    assert r.lmove("{L}1", "{L}2") == v("a")
    assert r.rpoplpush("{L}1", "{L}2") == v("c")
    assert r.blmove("{L}1", "{L}2", 0.1, "RIGHT", "LEFT") == v("b")
    assert r.lrange("{L}2", 0, -1) == [v("b"), v("c"), v("a")]
    assert r.blmove("{L}1", "{L}2", 0.05) is None
    assert r.brpoplpush("{L}1", "{L}2", 0.05) is None
    assert r.blpop(["{L}1", "{L}2"], 0.05) == (v("{L}2"), v("b"))
    assert r.brpop(["{L}1", "{L}2"], timeout=0.05) == (v("{L}2"), v("a"))
    assert r.blpop("{L}1", 0.05) is None and r.brpop("{L}1", 0.05) is None
    r.rpush("{L}1", 1, 2, 3)
    assert r.lmpop(2, "{L}1", "{L}2", direction="LEFT") == [v("{L}1"), [v("1")]]
    assert r.blmpop(0.05, 2, "{L}3", "{L}1", direction="RIGHT", count=5) == [
        v("{L}1"), [v("3"), v("2")]]
    assert r.lmpop(1, "{L}9", direction="LEFT") is None
    assert r.blmpop(0.05, 1, "{L}9", direction="LEFT") is None
    a, b = different_slots("la", "lb")
    with pytest.raises(ClusterCrossSlotError):
        r.lmove(a, b)
    with pytest.raises(ClusterCrossSlotError):
        r.blpop([a, b], 0.05)


# --- sets ----------------------------------------------------------------------------------------
def test_sets(r: OneNode) -> None:
    v = r.v
    assert r.sadd("s", "a", "b", "c") == 3 and r.srem("s", "c", "nope") == 1
    assert r.smembers("s") == {v("a"), v("b")} and r.smembers("nope") == set()
    assert r.sismember("s", "a") == 1 and r.sismember("s", "z") == 0
    assert r.smismember("s", ["a", "q"]) == [1, 0] and r.scard("s") == 2
    assert r.srandmember("s") in {v("a"), v("b")} and r.srandmember("nope") is None
    assert len(r.srandmember("s", 5)) == 2
    r.sadd("{S}1", "a", "b")
    r.sadd("{S}2", "b", "c")
    assert r.sinter(["{S}1", "{S}2"]) == {v("b")}
    assert r.sunion("{S}1", "{S}2") == {v("a"), v("b"), v("c")}
    assert r.sdiff(["{S}1", "{S}2"]) == {v("a")}
    assert r.sinterstore("{S}3", ["{S}1", "{S}2"]) == 1
    assert r.sunionstore("{S}4", "{S}1", "{S}2") == 3
    assert r.sdiffstore("{S}5", ["{S}1"], "{S}2") == 1
    assert r.sintercard(2, ["{S}1", "{S}2"]) == 1
    assert r.sintercard(2, ["{S}4", "{S}1"], limit=1) == 1
    assert r.smove("{S}1", "{S}2", "a") is True and r.smove("{S}1", "{S}2", "zz") is False
    cursor, members = r.sscan("{S}2")
    assert cursor == 0 and sorted(members) == [v("a"), v("b"), v("c")]
    assert sorted(r.sscan_iter("{S}2", match="[ab]")) == [v("a"), v("b")]
    assert r.spop("{S}5") == v("a") and r.spop("nope") is None
    assert sorted(r.spop("{S}4", 10)) == [v("a"), v("b"), v("c")]
    with pytest.raises(ClusterCrossSlotError):
        r.sinter(different_slots("sa", "sb"))


# --- sorted sets ---------------------------------------------------------------------------------
def test_sorted_sets(r: OneNode) -> None:
    v = r.v
    assert r.zadd("z", {"a": 1, "b": 2.5, "c": 3}) == 3
    assert r.zadd("z", {"a": 5}, incr=True) == 6.0
    assert r.zadd("z", {"a": 7}, xx=True, ch=True) == 1
    assert r.zadd("z", {"a": 9}, nx=True, incr=True) is None
    assert r.zadd("z", {"a": 1}, gt=True) == 0
    assert r.zscore("z", "a") == 7.0 and r.zscore("z", "nope") is None
    assert r.zincrby("z", 2, "b") == 4.5
    assert r.zcard("z") == 3 and r.zcount("z", 0, 5) == 2
    assert r.zrange("z", 0, -1) == [v("c"), v("b"), v("a")]
    assert r.zrange("z", 0, -1, withscores=True) == [(v("c"), 3.0), (v("b"), 4.5), (v("a"), 7.0)]
    assert r.zrange("z", 0, 0, withscores=True, score_cast_func=int) == [(v("c"), 3)]
    assert r.zrange("z", "(3", "+inf", byscore=True, offset=0, num=1, withscores=True) == [
        (v("b"), 4.5)]
    assert r.zrange("z", 0, 0, desc=True) == [v("a")]
    assert r.zrange("z", "[a", "[b", bylex=True) == []
    assert r.zrevrange("z", 0, 0, withscores=True) == [(v("a"), 7.0)]
    assert r.zrangebyscore("z", 0, 4, withscores=True) == [(v("c"), 3.0)]
    assert r.zrevrangebyscore("z", 10, 0, start=0, num=2) == [v("a"), v("b")]
    assert r.zrank("z", "b") == 1 and r.zrevrank("z", "b") == 1 and r.zrank("z", "x") is None
    assert r.zmscore("z", ["a", "nope"]) == [7.0, None]
    cursor, pairs = r.zscan("z")
    assert cursor == 0 and sorted(pairs) == [(v("a"), 7.0), (v("b"), 4.5), (v("c"), 3.0)]
    assert sorted(r.zscan_iter("z", score_cast_func=int)) == [(v("a"), 7), (v("b"), 4), (v("c"), 3)]
    assert r.zrandmember("z") in {v("a"), v("b"), v("c")} and r.zrandmember("nope") is None
    assert len(r.zrandmember("z", 2, withscores=True)) == 4
    assert r.zpopmax("z") == [(v("a"), 7.0)]
    assert r.zpopmin("z", 5) == [(v("c"), 3.0), (v("b"), 4.5)]
    assert r.zpopmin("nope") == []
    r.zadd("lex", {"a": 0, "b": 0, "c": 0})
    assert r.zlexcount("lex", "-", "+") == 3
    assert r.zrangebylex("lex", "[b", "+") == [v("b"), v("c")]
    assert r.zrevrangebylex("lex", "+", "-", 0, 1) == [v("c")]
    assert r.zremrangebylex("lex", "[a", "[a") == 1
    r.zadd("rk", {"a": 1, "b": 2, "c": 3})
    assert r.zremrangebyrank("rk", 0, 0) == 1 and r.zremrangebyscore("rk", 2, 2) == 1
    assert r.zrem("rk", "c", "nope") == 1


def test_sorted_set_multi_key(r: OneNode) -> None:
    v = r.v
    r.zadd("{Z}1", {"a": 1, "b": 2})
    r.zadd("{Z}2", {"b": 3, "c": 4})
    assert r.zunionstore("{Z}3", ["{Z}1", "{Z}2"]) == 3
    assert r.zinterstore("{Z}4", {"{Z}1": 2, "{Z}2": 1}, aggregate="MAX") == 1
    assert r.zscore("{Z}4", "b") == 4.0
    assert r.zunion(["{Z}1", "{Z}2"], withscores=True) == [(v("a"), 1.0), (v("c"), 4.0),
                                                          (v("b"), 5.0)]
    assert r.zinter(["{Z}1", "{Z}2"], aggregate="min") == [v("b")]
    assert r.zdiff(["{Z}1", "{Z}2"]) == [v("a")]
    assert r.zdiff(["{Z}1", "{Z}2"], withscores=True) == [v("a"), v("1")]
    assert r.zdiffstore("{Z}5", ["{Z}1", "{Z}2"]) == 1
    assert r.zrangestore("{Z}6", "{Z}1", 0, 0) == 1
    assert r.zintercard(2, ["{Z}1", "{Z}2"]) == 1
    assert r.zmpop(2, ["{Z}1", "{Z}2"], min=True) == [v("{Z}1"), [[v("a"), v("1")]]]
    assert r.bzmpop(0.05, 2, ["{Z}1", "{Z}2"], max=True, count=5) == [v("{Z}1"),
                                                                      [[v("b"), v("2")]]]
    assert r.bzpopmax(["{Z}9", "{Z}2"], 0.05) == (v("{Z}2"), v("c"), 4.0)
    assert r.bzpopmin("{Z}2", timeout=0.05) == (v("{Z}2"), v("b"), 3.0)
    assert r.bzpopmin("{Z}2", 0.05) is None
    assert r.zmpop(1, ["{Z}9"], max=True) is None
    with pytest.raises(ClusterCrossSlotError):
        r.zunionstore("{Z}d", different_slots("za", "zb"))


# --- HyperLogLog and bitmaps ---------------------------------------------------------------------
def test_hyperloglog(r: OneNode) -> None:
    assert r.pfadd("{H}1", "a", "b") == 1 and r.pfadd("{H}1", "a") == 0
    r.pfadd("{H}2", "c")
    assert r.pfcount("{H}1") == 2 and r.pfcount("{H}1", "{H}2") == 3
    assert r.pfmerge("{H}3", "{H}1", "{H}2") is True and r.pfcount("{H}3") == 3
    with pytest.raises(ClusterCrossSlotError):
        r.pfcount(*different_slots("ha", "hb"))


def test_bitmaps(r: OneNode) -> None:
    assert r.setbit("b", 7, 1) == 0 and r.setbit("b", 7, True) == 1
    assert r.getbit("b", 7) == 1 and r.getbit("b", 100) == 0
    r.set("s", "foobar")
    assert r.bitcount("s") == 26 and r.bitcount("s", 1, 1) == 6
    assert r.bitcount("s", 5, 30, mode="BIT") == 17
    assert r.bitpos("b", 1) == 7 and r.bitpos("s", 0, 1) == 8 and r.bitpos("s", 1, 2, 2) == 17
    r.set("{B}1", "ab")
    r.set("{B}2", "ac")
    assert r.bitop("AND", "{B}d", "{B}1", "{B}2") == 2
    assert r.bitop("NOT", "{B}n", "{B}1") == 2
    op = r.bitfield("bf").set("u8", 0, 200).get("u8", 0).incrby("u8", 0, 100, "SAT")
    assert op.execute() == [0, 200, 255]
    assert r.bitfield("bf", default_overflow="FAIL").incrby("u8", 0, 1).execute() == [None]
    assert r.bitfield_ro("bf", "u8", 0, items=[("u4", 4)]) == [255, 15]


# --- geo -----------------------------------------------------------------------------------------
def test_geo(r: OneNode) -> None:
    v = r.v
    places = (13.361389, 38.115556, "Palermo", 15.087269, 37.502669, "Catania")
    assert r.geoadd("g", places) == 2 and r.geoadd("g", places, nx=True) == 0
    assert r.geoadd("g", (13.361389, 38.0, "Palermo"), xx=True, ch=True) == 1
    r.geoadd("g", places, xx=True)
    assert r.geodist("g", "Palermo", "Catania", "km") == pytest.approx(166.2742, rel=1e-4)
    assert r.geodist("g", "Palermo", "nope") is None
    pos = r.geopos("g", "Palermo", "nope")
    assert pos[0] == (pytest.approx(13.361389, abs=1e-5), pytest.approx(38.115556, abs=1e-5))
    assert pos[1] is None
    assert r.geohash("g", "Palermo") == ["sqc8b49rny0"]
    assert r.geosearch("g", longitude=15, latitude=37, radius=200, unit="km") == [
        v("Palermo"), v("Catania")]
    near = r.geosearch("g", member="Palermo", radius=200, unit="km", sort="ASC",
                       withdist=True, withcoord=True, withhash=True)
    assert near[0][0] == v("Palermo") and near[0][1] == 0.0
    assert isinstance(near[1][2], int) and near[1][3][0] == pytest.approx(15.087269, abs=1e-5)
    assert r.geosearch("g", member="Palermo", width=400, height=400, unit="km", count=1,
                       any=True) in ([v("Palermo")], [v("Catania")])
    assert r.geosearchstore("{g}d", "{g}s", member="x", radius=1) == 0
    r.geoadd("{g}s", places)
    assert r.geosearchstore("{g}d", "{g}s", longitude=15, latitude=37, radius=200,
                            unit="km", storedist=True) == 2
    assert r.georadius("g", 15, 37, 200, "km", withdist=True, sort="ASC")[0][0] == v("Catania")
    assert r.georadiusbymember("g", "Palermo", 300, "km", withcoord=True, count=1)[0][0] == v(
        "Palermo")
    assert r.georadius("{g}s", 15, 37, 200, "km", store="{g}r") == 2


# --- streams -------------------------------------------------------------------------------------
def test_streams(r: OneNode) -> None:
    v = r.v
    assert r.xadd("x", {"a": 1}, id="1-0") == v("1-0")
    assert r.xadd("x", {"b": 2}, id="2-0", maxlen=10, approximate=False) == v("2-0")
    auto = r.xadd("x", {"c": 3})
    assert re.fullmatch(r"\d+-\d+", auto if r.decode else auto.decode())
    assert r.xlen("x") == 3
    entries = r.xrange("x", count=2)
    assert entries == [(v("1-0"), {v("a"): v("1")}), (v("2-0"), {v("b"): v("2")})]
    assert r.xrevrange("x", count=1)[0][1] == {v("c"): v("3")}
    assert r.xrange("nope") == []
    assert r.xread({"x": 0}, count=1) == [[v("x"), entries[:1]]]
    assert r.xread({"x": "$"}, block=20) == []
    assert r.xgroup_create("x", "g", 0) is True
    assert r.xgroup_create("y", "g", "$", mkstream=True) is True
    assert r.xgroup_createconsumer("x", "g", "c2") == 1
    read = r.xreadgroup("g", "c1", {"x": ">"}, count=2)
    assert read == [[v("x"), entries]]
    assert r.xreadgroup("g", "c1", {"y": ">"}, block=20) == []
    pending = r.xpending("x", "g")
    assert pending == {"pending": 2, "min": v("1-0"), "max": v("2-0"),
                       "consumers": [{"name": v("c1"), "pending": 2}]}
    detail = r.xpending_range("x", "g", "-", "+", 10, consumername="c1")
    assert [d["message_id"] for d in detail] == [v("1-0"), v("2-0")]
    assert detail[0]["consumer"] == v("c1") and detail[0]["times_delivered"] == 1
    assert r.xclaim("x", "g", "c2", 0, ["1-0"]) == entries[:1]
    assert r.xclaim("x", "g", "c2", 0, ["1-0"], justid=True, idle=0) == [v("1-0")]
    claimed = r.xautoclaim("x", "g", "c1", 0, count=10)
    assert claimed[0] == v("0-0") and claimed[1] == entries and claimed[2] == []
    assert r.xautoclaim("x", "g", "c2", 0, justid=True) == [v("1-0"), v("2-0")]
    groups = r.xinfo_groups("x")
    assert groups[0]["name"] == v("g") and groups[0]["pending"] == 2
    consumers = r.xinfo_consumers("x", "g")
    assert {c["name"] for c in consumers} == {v("c1"), v("c2")}
    info = r.xinfo_stream("x")
    assert info["length"] == 3 and info["first-entry"] == entries[0]
    full = r.xinfo_stream("x", full=True)
    assert full["entries"][v("1-0")] == {v("a"): v("1")} and full["groups"][0]["name"] == v("g")
    assert r.xack("x", "g", "1-0", "2-0", "9-9") == 2
    assert r.xgroup_setid("x", "g", "0", entries_read=0) is True
    assert r.xgroup_delconsumer("x", "g", "c2") == 0
    assert r.xgroup_destroy("x", "g") is True and r.xgroup_destroy("x", "g") is False
    assert r.xdel("x", "1-0", "9-9") == 1
    assert r.xtrim("x", 1, approximate=False) == 1
    assert r.xtrim("x", minid="3-0", approximate=False) >= 0
    with pytest.raises(ClusterCrossSlotError):
        r.xread({"sa": 0, "sb": 0} if key_slot("sa") != key_slot("sb") else {})


# --- scripting and functions ---------------------------------------------------------------------
LIBRARY = ("#!lua name=mylib\n"
           "redis.register_function{function_name='echo1', callback=function(keys, args) "
           "return args[1] end, flags={'no-writes'}}\n"
           "redis.register_function('setk', function(keys, args) "
           "return redis.call('SET', keys[1], args[1]) end)")


def test_scripting(r: OneNode) -> None:
    v = r.v
    assert r.eval("return {KEYS[1], ARGV[1], 3}", 1, "k", "arg") == [v("k"), v("arg"), 3]
    assert r.eval("return redis.call('SET', KEYS[1], ARGV[1])", 1, "k", "x") == v("OK")
    assert r.eval_ro("return redis.call('GET', KEYS[1])", 1, "k") == v("x")
    sha = r.script_load("return ARGV[1]")
    assert sha == "098e0f0d1448c0a81dafe820f66d460eb09263da" and isinstance(sha, str)
    assert r.evalsha(sha, 0, "hi") == v("hi") and r.evalsha_ro(sha, 0, "ro") == v("ro")
    assert r.script_exists(sha, "0" * 40) == [True, False]
    assert r.script_flush() is True and r.script_exists(sha) == [False]
    assert r.script_flush("ASYNC") is True
    with pytest.raises(NoScriptError):
        r.evalsha(sha, 0, "x")
    script = r.register_script("return {KEYS[1], ARGV[1]}")
    assert script(keys=["k"], args=["a"]) == [v("k"), v("a")]  # loaded on NOSCRIPT
    assert script(["k"], ["b"]) == [v("k"), v("b")]
    with pytest.raises(ClusterCrossSlotError):
        r.eval("return 1", 2, *different_slots("ea", "eb"))


def test_functions(r: OneNode) -> None:
    v = r.v
    assert r.function_load(LIBRARY) == v("mylib")
    assert r.function_load(LIBRARY, replace=True) == v("mylib")
    with pytest.raises(ResponseError):
        r.function_load(LIBRARY)
    assert r.fcall("echo1", 0, "hi") == v("hi") and r.fcall_ro("echo1", 0, "ro") == v("ro")
    assert r.fcall("setk", 1, "fk", "val") == v("OK") and r.get("fk") == v("val")
    listing = r.function_list()[r.node_name]  # every primary's, as in redis-py
    assert listing[0][0] == v("library_name") and listing[0][1] == v("mylib")
    assert v("library_code") in r.function_list("mylib", withcode=True)[r.node_name][0]
    assert r.function_delete("mylib") is True and r.function_list() == {r.node_name: []}
    r.function_load(LIBRARY)
    assert r.function_flush() is True and r.function_list() == {r.node_name: []}


# --- pub/sub, server, cluster --------------------------------------------------------------------
def test_pubsub_commands(r: OneNode) -> None:
    v = r.v
    assert r.publish("chan", "msg") == 0 and r.spublish("chan", "msg") == 0
    assert r.pubsub_channels() == [] and r.pubsub_numpat() == 0
    assert r.pubsub_numsub("chan", "other") == [(v("chan"), 0), (v("other"), 0)]


def test_server_commands(r: OneNode) -> None:
    v = r.v
    assert r.ping() is True and r.echo("hi") == v("hi")
    info = r.info()  # redis-py's shape: the default node's reply, not a dict per node
    assert info["redis_version"] == "7.0.15" and info["cluster_enabled"] == 1
    assert "used_memory" in r.info("memory")
    r.set("k", 1)
    assert r.dbsize() == 1 and r.flushall() is True and r.dbsize() == 0
    assert r.flushall(asynchronous=True) is True and r.flushdb() is True
    seconds, micros = r.time()
    assert abs(seconds - time.time()) < 60 and 0 <= micros < 1_000_000
    assert isinstance(r.lastsave(), datetime.datetime)
    config = r.config_get("maxmemory*")
    assert config["maxmemory"] == "0" and "maxmemory-policy" in config
    assert r.config_set("maxmemory-samples", 7) is True
    assert r.config_get("maxmemory-samples") == {"maxmemory-samples": "7"}
    r.config_set("maxmemory-samples", 5)
    assert r.config_resetstat() is True
    clients = r.client_list()
    assert any(c["cmd"] == "client|list" for c in clients)
    assert r.client_list(_type="normal")[0]["flags"] == "N"
    assert r.client_setname("api-test") is True
    assert r.client_getname() == "api-test"
    own = r.client_id()
    assert isinstance(own, int) and r.client_info()["id"] == own
    assert r.client_list(client_id=[own])[0]["name"] == "api-test"
    stats = r.memory_stats()
    assert stats["peak.allocated"] > 0
    assert r.command_count() > 200
    info = r.command_info("get", "xread")
    assert info["get"]["first_key_pos"] == 1 and "readonly" in info["xread"]["flags"]
    assert r.command()["set"]["arity"] == -3
    assert r.command_getkeys("MSET", "a", 1, "b", 2) == ["a", "b"]


def test_result_callback_override(r: OneNode) -> None:
    r.set("k", 1)
    r.set_result_callback("DBSIZE", lambda command, res, **options: res)
    assert r.dbsize() == {r.node_name: 1}
    r.set_response_callback("GET", lambda reply, **options: int(reply))
    assert r.get("k") == 1


def test_cluster_commands(r: OneNode, one_node: LocalCluster) -> None:
    v = r.v
    node = one_node.nodes[0]
    info = r.cluster_info()
    assert info["cluster_state"] == "ok" and info["cluster_slots_assigned"] == 16384
    slots = r.cluster_slots()
    assert list(slots) == [(0, 16383)] and slots[(0, 16383)]["master"][1] == node.port
    assert slots[(0, 16383)]["slaves"] == []
    nodes = r.cluster_nodes()
    assert len(nodes) == 1 and nodes[0]["port"] == node.port and "myself" in nodes[0]["flags"]
    assert nodes[0]["id"] == node.node_id and len(nodes[0]["slots"]) == 16384
    assert r.cluster_myid() == v(node.node_id)
    (shard,) = r.cluster_shards()  # redis-py's shape: str keys, a dict per node
    assert shard["slots"] == [0, 16383] and shard["nodes"][0][v("port")] == node.port
    assert r.cluster_keyslot("foo") == key_slot("foo")
    assert r.cluster_keyslot("{user1}:a") == key_slot("user1")
    r.set("foo", 1)
    slot = key_slot("foo")
    assert r.cluster_countkeysinslot(slot) == 1
    assert r.cluster_getkeysinslot(slot, 10) == [v("foo")]
    assert r.cluster_get_keys_in_slot(slot, 10) == [v("foo")]
    assert r.cluster_replicas(node.node_id) == []


def test_connection_bound_and_node_only_commands_are_refused(r: OneNode) -> None:
    for args in (("MULTI",), ("WATCH", "k"), ("BGREWRITEAOF",), ("SELECT", 1), ("SWAPDB", 0, 1)):
        with pytest.raises(ClusterCoreError):
            r.execute_command(*args)


# --- the table against the server ----------------------------------------------------------------
#: Where our route/merge differs from the server's request_policy/response_policy tips, and why.
TIP_EXCEPTIONS: Dict[str, str] = {
    "SCRIPT EXISTS": "all nodes: replicas serve EVALSHA_RO, so True must mean every node",
    "RANDOMKEY": "one random primary answers (a random key of the cluster, or None)",
    "SCAN": "special: scan_iter walks the primaries one by one",
    "MSETNX": "atomic: all keys in one slot (a split MSETNX could set some keys only)",
    "WAIT": "connection-bound: it waits for this connection's writes",
}
_POLICY_ROUTE = {"all_shards": Route.ALL_PRIMARIES, "all_nodes": Route.ALL_NODES}
_POLICY_MERGE = {"agg_sum": {Merge.SUM}, "agg_min": {Merge.MIN}, "agg_max": {Merge.MAX},
                 "agg_logical_and": {Merge.AND}, "agg_logical_or": {Merge.OR},
                 # FIRST raises any node's error too, so it satisfies "all succeeded"
                 "all_succeeded": {Merge.ALL_OK, Merge.FIRST},
                 "one_succeeded": {Merge.ANY_OK}, "special": {Merge.DICT_BY_NODE}}


@pytest.fixture(scope="module")
def server_commands(one_node: LocalCluster) -> Tuple[Any, Dict[str, Any], Set[str]]:
    node = one_node.nodes[0]
    conn = ClusterConnection(node.host, node.port, socket_timeout=10)
    try:
        reply = conn.execute("COMMAND")
    finally:
        conn.disconnect()
    entries: Dict[str, Any] = {}
    containers: Set[str] = set()
    stack = list(reply)
    while stack:
        entry = stack.pop()
        name = entry[0].decode().upper().replace("|", " ")
        entries[name] = entry
        if entry[9]:
            containers.add(name)
            stack.extend(entry[9])
    return reply, entries, containers


def test_table_covers_every_server_command(
        server_commands: Tuple[Any, Dict[str, Any], Set[str]]) -> None:
    _, entries, containers = server_commands
    assert set(entries) - containers - set(COMMANDS) == set()
    unknown_here = set(COMMANDS) - set(entries)
    unknown_here -= REDIS8_NAMES  # Redis 8.x commands (arrays, vector sets, ...) and STRALGO
    # newer than Redis 7.0 (hash field expiry, WAITAOF, CLIENT SETINFO/NO-TOUCH, MYSHARDID)
    assert unknown_here <= {"CLIENT NO-TOUCH", "CLIENT SETINFO", "CLUSTER MYSHARDID",
                            "WAITAOF", "HEXPIRE", "HEXPIREAT", "HEXPIRETIME", "HPERSIST",
                            "HPEXPIRE", "HPEXPIREAT", "HPEXPIRETIME", "HPTTL", "HTTL",
                            "HGETDEL", "HGETEX", "HSETEX",  # Redis 8.0
                            "DEBUG OBJECT"}  # a client-side refinement: DEBUG routed by its key


def test_table_agrees_with_command_info(
        server_commands: Tuple[Any, Dict[str, Any], Set[str]]) -> None:
    reply, entries, _ = server_commands
    derived = specs_from_command_reply(reply)
    checked = 0
    for name, spec in COMMANDS.items():
        entry = entries.get(name)
        if entry is None:
            continue
        checked += 1
        assert (spec.first_key, spec.last_key, spec.key_step) == tuple(entry[3:6]), name
        assert spec.readonly == (b"readonly" in entry[2]), name
        server = derived[name]
        assert (spec.numkeys_arg, spec.keys_after) == (server.numkeys_arg, server.keys_after), name
    assert checked >= 350


def test_routing_agrees_with_command_tips(
        server_commands: Tuple[Any, Dict[str, Any], Set[str]]) -> None:
    _, entries, _ = server_commands
    for name, entry in entries.items():
        tips = dict(t.decode().split(":", 1) for t in entry[7] if b":" in t)
        request = tips.get("request_policy")
        if request is None or name in TIP_EXCEPTIONS:
            continue
        spec = COMMANDS[name]
        if spec.route is Route.DEFAULT_NODE:
            continue  # where redis-py sends it (tests/unit/test_commands.py checks that)
        response = tips.get("response_policy")
        if request == "multi_shard":
            assert spec.split and spec.route is Route.SLOT, name
            expected = _POLICY_MERGE[response] if response else {Merge.KEY_ORDER}
        else:
            assert spec.route is _POLICY_ROUTE[request], name
            expected = _POLICY_MERGE[response] if response else {Merge.CONCAT}
        assert spec.merge in expected, name


@pytest.mark.parametrize("args", [
    ("GET", "k"),
    ("MSET", "a", "1", "b", "2"),
    ("BLPOP", "a", "b", "0"),
    ("BRPOPLPUSH", "a", "b", "0"),
    ("EVAL", "return 1", "2", "k1", "k2", "x"),
    ("FCALL", "f", "1", "k", "a"),
    ("ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"),
    ("ZDIFFSTORE", "d", "2", "a", "b"),
    ("ZUNION", "2", "a", "b", "WITHSCORES"),
    ("SINTERCARD", "2", "a", "b"),
    ("XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "s1", "s2", "0", "0"),
    ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"),
    ("MIGRATE", "h", "1", "", "0", "10", "KEYS", "a", "b"),
    ("MIGRATE", "h", "1", "k", "0", "10"),
    ("SORT", "l", "BY", "w_*", "STORE", "d"),
    ("GEORADIUS", "g", "0", "0", "1", "km", "STORE", "d"),
    ("GEORADIUSBYMEMBER", "g", "m", "1", "km", "STOREDIST", "d"),
    ("LMPOP", "2", "a", "b", "LEFT"),
    ("BLMPOP", "1", "2", "a", "b", "LEFT"),
    ("BZMPOP", "1", "1", "z", "MIN"),
    ("BITOP", "AND", "d", "a", "b"),
    ("OBJECT", "ENCODING", "k"),
    ("XINFO", "STREAM", "s"),
    ("XGROUP", "CREATE", "s", "g", "$"),
    ("MEMORY", "USAGE", "k"),
    ("LCS", "a", "b"),
    ("SET", "k", "v", "GET"),
])
def test_keys_of_agrees_with_command_getkeys(one_node: LocalCluster,
                                             args: Tuple[str, ...]) -> None:
    node = one_node.nodes[0]
    conn = ClusterConnection(node.host, node.port, socket_timeout=10)
    try:
        server_keys = conn.execute("COMMAND", "GETKEYS", *args)
    finally:
        conn.disconnect()
    spec = lookup(args)
    assert spec is not None
    assert [k.encode() for k in keys_of(spec, args)] == server_keys
