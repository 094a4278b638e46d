"""The command table and its pure helpers, plus the API mixin's argument building (no network)."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Sequence, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clustercore import key_slot
from clustercore._commands.api import CommandsMixin
from clustercore._commands.blocking import blocking_timeout
from clustercore._commands.callbacks import (
    DEFAULT_CALLBACKS,
    CallbackDict,
    parse_client_list,
    parse_cluster_info,
    parse_cluster_nodes,
    parse_cluster_slots,
    parse_info,
    zpop_score_pairs,
    zset_score_pairs,
)
from clustercore._commands.idempotency import is_idempotent
from clustercore._commands.keys import keys_of, slot_of, split_by_slot
from clustercore._commands.merge import merge_replies, merge_split
from clustercore._commands.server_specs import spec_from_command_info, specs_from_command_reply
from clustercore._commands.specs import (
    COMMANDS,
    CommandSpec,
    Merge,
    Route,
    lookup,
    name_of,
    normalize_args,
)
from clustercore.errors import (
    ClusterCrossSlotError,
    DataError,
    NoScriptError,
    ResponseError,
)


def spec(*args: Any) -> CommandSpec:
    found = lookup(args)
    assert found is not None, args
    return found


def keys(*args: Any) -> List[Any]:
    return keys_of(spec(*args), args)


def idem(*args: Any) -> bool:
    return is_idempotent(lookup(args), args)


# --- lookup --------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, name", [
    (("GET", "k"), "GET"),
    (("get", "k"), "GET"),
    ((b"GET", b"k"), "GET"),
    ((b"gEt", b"k"), "GET"),
    (("CLUSTER", "SLOTS"), "CLUSTER SLOTS"),
    ((b"cluster", b"slots"), "CLUSTER SLOTS"),
    (("CLUSTER SLOTS",), "CLUSTER SLOTS"),
    (("cluster countkeysinslot", 5), "CLUSTER COUNTKEYSINSLOT"),
    (("SCRIPT", "LOAD", "return 1"), "SCRIPT LOAD"),
    (("CLIENT", "SETNAME", "x"), "CLIENT SETNAME"),
    (("XGROUP", "CREATE", "s", "g", "$"), "XGROUP CREATE"),
    (("CONFIG", "GET", "*"), "CONFIG GET"),
    (("FUNCTION", "LOAD", "code"), "FUNCTION LOAD"),
    (("OBJECT", "encoding", "k"), "OBJECT ENCODING"),
    (("COMMAND",), "COMMAND"),
    (("COMMAND", "INFO", "get"), "COMMAND INFO"),
    (("command", b"count"), "COMMAND COUNT"),
    (("XINFO", "STREAM", "s"), "XINFO STREAM"),
    (("MEMORY", "USAGE", "k"), "MEMORY USAGE"),
])
def test_lookup_names(args: Tuple[Any, ...], name: str) -> None:
    assert spec(*args).name == name


def test_lookup_unknown_and_incomplete() -> None:
    assert lookup(()) is None
    assert lookup(("NOSUCHCOMMAND", "x")) is None
    assert lookup(("CLUSTER",)) is None
    assert lookup(("CLUSTER", "NOSUCH")) is None
    assert lookup((bytearray(b"GET"), "k")) is COMMANDS["GET"]
    assert lookup((42,)) is None


def test_lookup_extra_specs_for_unknown_commands() -> None:
    extra = {"FOO.BAR": CommandSpec("FOO.BAR", 1, 1, 1, readonly=True, idempotent=True),
             "MOD SUB": CommandSpec("MOD SUB", 2, 2, 1)}
    assert lookup(("foo.bar", "k"), extra) is extra["FOO.BAR"]
    assert lookup(("MOD", "sub", "k"), extra) is extra["MOD SUB"]
    assert lookup(("GET", "k"), extra) is COMMANDS["GET"]
    assert lookup(("nope",), extra) is None


def test_name_of_and_normalize() -> None:
    assert name_of(("cluster", "info")) == "CLUSTER INFO"
    assert name_of(("foo.bar", "x")) == "FOO.BAR"
    assert name_of((b"unknown sub", "x")) == "UNKNOWN"
    assert normalize_args(("CLUSTER SLOTS",)) == ("CLUSTER", "SLOTS")
    assert normalize_args((b"XINFO STREAM", "s")) == (b"XINFO", b"STREAM", "s")
    assert normalize_args(("GET", "a b")) == ("GET", "a b")


def test_table_is_consistent() -> None:
    assert len(COMMANDS) >= 360
    for name, s in COMMANDS.items():
        assert name == s.name == name.upper()
        if s.readonly:
            assert s.idempotent, name
        if s.route in (Route.CONNECTION, Route.NODE_ONLY):
            assert not s.idempotent, name
        if s.route in (Route.ALL_PRIMARIES, Route.ALL_NODES, Route.RANDOM_PRIMARY,
                       Route.RANDOM_NODE):
            assert not s.has_keys, name
        if s.split:
            assert s.merge in (Merge.KEY_ORDER, Merge.ALL_OK, Merge.SUM), name
        if s.route is Route.SLOT:
            assert s.has_keys, name
    assert {n for n, s in COMMANDS.items() if s.split} == {
        "MGET", "MSET", "DEL", "UNLINK", "EXISTS", "TOUCH"}


# --- keys ----------------------------------------------------------------------------------------
def test_keys_of_simple_and_ranges() -> None:
    assert keys("GET", "k") == ["k"]
    assert keys("MSET", "a", 1, "b", 2) == ["a", "b"]
    assert keys("DEL", "a", "b", "c") == ["a", "b", "c"]
    assert keys("BITOP", "AND", "dest", "s1", "s2") == ["dest", "s1", "s2"]
    assert keys("RENAME", "a", "b") == ["a", "b"]
    assert keys("XINFO", "STREAM", "s", "FULL") == ["s"]
    assert keys("XINFO STREAM", "s") == ["s"]
    assert keys("OBJECT", "ENCODING", "k") == ["k"]
    assert keys("MEMORY", "USAGE", "k", "SAMPLES", 5) == ["k"]
    assert keys("PING") == []
    assert keys("SPUBLISH", "chan", "msg") == ["chan"]
    assert keys("PUBLISH", "chan", "msg") == []


def test_keys_of_blocking_pops_exclude_the_timeout() -> None:
    assert keys("BLPOP", "a", "b", "c", 0) == ["a", "b", "c"]
    assert keys("BZPOPMIN", "a", 1.5) == ["a"]
    assert keys("BRPOPLPUSH", "a", "b", 3) == ["a", "b"]
    assert keys("BLMOVE", "a", "b", "LEFT", "RIGHT", 3) == ["a", "b"]
    assert keys("BLMPOP", 5, 2, "a", "b", "LEFT", "COUNT", 3) == ["a", "b"]
    assert keys("BZMPOP", 5, 1, "z", "MIN") == ["z"]


def test_keys_of_numkeys_commands() -> None:
    assert keys("EVAL", "return 1", 2, "k1", "k2", "arg1") == ["k1", "k2"]
    assert keys("EVALSHA", "abc", "0", "arg") == []
    assert keys("FCALL_RO", "f", 1, "k", "a") == ["k"]
    assert keys("ZUNIONSTORE", "dest", 2, "a", "b", "WEIGHTS", 1, 2) == ["dest", "a", "b"]
    assert keys("ZINTERSTORE", "dest", "1", "a", "AGGREGATE", "MAX") == ["dest", "a"]
    assert keys("ZDIFFSTORE", "dest", 2, "a", "b") == ["dest", "a", "b"]
    assert keys("ZUNION", 2, "a", "b", "WITHSCORES") == ["a", "b"]
    assert keys("LMPOP", 2, "a", "b", "LEFT") == ["a", "b"]
    assert keys("SINTERCARD", 2, "a", "b", "LIMIT", 5) == ["a", "b"]
    with pytest.raises(DataError):
        keys("EVAL", "s", "two", "k")


def test_keys_of_xread_streams() -> None:
    assert keys("XREAD", "STREAMS", "a", "b", "0", "0") == ["a", "b"]
    assert keys("XREAD", "COUNT", 2, "BLOCK", 0, "STREAMS", "a", "$") == ["a"]
    # a stream named STREAMS and a count that looks like a keyword do not confuse it
    assert keys("XREAD", "COUNT", "5", "STREAMS", "STREAMS", "x", "0", "0") == ["STREAMS", "x"]
    assert keys("XREADGROUP", "GROUP", "STREAMS", "c", "COUNT", 1, "NOACK", "STREAMS",
                "s1", "s2", ">", ">") == ["s1", "s2"]
    assert keys("XREAD", "COUNT", 1) == []


def test_keys_of_migrate_sort_georadius() -> None:
    assert keys("MIGRATE", "h", 6379, "k", 0, 1000) == ["k"]
    assert keys("MIGRATE", "h", 6379, "", 0, 1000, "COPY", "AUTH", "pw", "KEYS", "a", "b") == [
        "a", "b"]
    assert keys("MIGRATE", "h", 6379, "", 0, 1000, "AUTH2", "u", "p", "KEYS", "a") == ["a"]
    assert keys("SORT", "l") == ["l"]
    assert keys("SORT", "l", "BY", "w_*", "LIMIT", 0, 5, "GET", "STORE", "ALPHA",
                "STORE", "dst") == ["l", "dst"]
    assert keys("GEORADIUS", "g", 1, 2, 3, "km", "STORE", "d") == ["g", "d"]
    assert keys("GEORADIUSBYMEMBER", "g", "m", 3, "km", "STOREDIST", "d") == ["g", "d"]
    assert keys("GEORADIUS", "g", 1, 2, 3, "km", "WITHDIST") == ["g"]


# --- slots ---------------------------------------------------------------------------------------
def test_slot_of() -> None:
    get = COMMANDS["GET"]
    assert slot_of(get, ("GET", "foo")) == key_slot("foo")
    assert slot_of(COMMANDS["MGET"], ("MGET", "{u}a", "{u}b")) == key_slot("u")
    with pytest.raises(ClusterCrossSlotError) as info:
        slot_of(COMMANDS["RENAME"], ("RENAME", "a", "b"))
    assert isinstance(info.value, ResponseError) and info.value.code == "CROSSSLOT"
    assert slot_of(COMMANDS["EVAL"], ("EVAL", "return 1", 0)) is None
    assert slot_of(COMMANDS["PING"], ("PING",)) is None
    assert slot_of(COMMANDS["PUBLISH"], ("PUBLISH", "news", "x")) == key_slot("news")
    assert slot_of(COMMANDS["WATCH"], ("WATCH", "{a}1", "{a}2")) == key_slot("a")
    count = COMMANDS["CLUSTER COUNTKEYSINSLOT"]
    assert count.route is Route.SLOT_ARG
    assert slot_of(count, ("CLUSTER", "COUNTKEYSINSLOT", "42")) == 42
    assert slot_of(count, ("CLUSTER COUNTKEYSINSLOT", 7)) == 7
    with pytest.raises(DataError):
        slot_of(count, ("CLUSTER", "COUNTKEYSINSLOT", 16384))
    with pytest.raises(DataError):
        slot_of(count, ("CLUSTER", "COUNTKEYSINSLOT"))


@given(st.lists(st.binary(max_size=8), min_size=1, max_size=30))
def test_split_by_slot_round_trips_mget(key_list: List[bytes]) -> None:
    mget = COMMANDS["MGET"]
    args = ("MGET", *key_list)
    parts = split_by_slot(mget, args)
    assert sorted(i for _, _, idx in parts for i in idx) == list(range(len(key_list)))
    replies = []
    for slot, sub, idx in parts:
        assert sub[0] == "MGET" and all(key_slot(k) == slot for k in sub[1:])
        replies.append((idx, [b"v" + k for k in sub[1:]]))
    assert merge_split(mget, replies) == [b"v" + k for k in key_list]


def test_split_mset_and_del() -> None:
    mset = COMMANDS["MSET"]
    parts = split_by_slot(mset, ("MSET", "{a}1", 1, "{b}1", 2, "{a}2", 3))
    assert [sub for _, sub, _ in parts] == [("MSET", "{a}1", 1, "{a}2", 3), ("MSET", "{b}1", 2)]
    assert merge_split(mset, [(idx, b"OK") for _, _, idx in parts]) is True
    delete = COMMANDS["DEL"]
    parts = split_by_slot(delete, ("DEL", "{a}x", "{b}x", "{a}y"))
    assert merge_split(delete, [(idx, len(idx)) for _, _, idx in parts]) == 3
    with pytest.raises(ResponseError):
        merge_split(delete, [([0], ResponseError("ERR boom")), ([1], 1)])


# --- idempotency ---------------------------------------------------------------------------------
def test_idempotency_of_plain_commands() -> None:
    args: Tuple[Any, ...]
    for args in (("GET", "k"), ("SET", "k", "v"), ("DEL", "a", "b"), ("HSET", "h", "f", "v"),
                 ("SADD", "s", "m"), ("EXPIRE", "k", 10), ("EVAL_RO", "s", 0),
                 ("FLUSHALL",), ("SCRIPT", "LOAD", "s"), ("SETNX", "k", "v"),
                 ("XGROUP", "CREATE", "s", "g", "$"), ("PFMERGE", "d", "d", "s")):
        assert idem(*args), args
    for args in (("INCR", "k"), ("INCRBYFLOAT", "k", 1), ("APPEND", "k", "x"),
                 ("LPUSH", "l", 1), ("RPOP", "l"), ("LMOVE", "a", "b", "LEFT", "LEFT"),
                 ("BLPOP", "l", 0), ("SPOP", "s"), ("ZINCRBY", "z", 1, "m"),
                 ("HINCRBY", "h", "f", 1), ("GETDEL", "k"), ("GETSET", "k", "v"),
                 ("SETBIT", "b", 1, 1), ("EVAL", "s", 0), ("EVALSHA", "x", 0),
                 ("FCALL", "f", 0), ("PUBLISH", "c", "m"), ("SPUBLISH", "c", "m"),
                 ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"),
                 ("XCLAIM", "s", "g", "c", 0, "1-0"), ("MULTI",), ("EXEC",), ("SAVE",),
                 ("ZREMRANGEBYRANK", "z", 0, 1), ("MIGRATE", "h", 1, "k", 0, 1)):
        assert not idem(*args), args


def test_idempotency_depends_on_arguments() -> None:
    assert not is_idempotent(None, ("FOO",))
    # XADD: an explicit id converges, '*' and '<ms>-*' append again
    assert not idem("XADD", "s", "*", "f", "v")
    assert idem("XADD", "s", "1-1", "f", "v")
    assert idem("XADD", "s", b"1700000000000-0", "f", "v")
    assert not idem("XADD", "s", "1700000000000-*", "f", "v")
    assert idem("XADD", "s", "NOMKSTREAM", "MAXLEN", "~", 100, "LIMIT", 10, "5-1", "f", "v")
    assert not idem("XADD", "s", "MINID", "=", "0-1", "*", "f", "v")
    assert not idem("XADD", "s", "MAXLEN", 5)
    # SET ... GET returns the value it replaced
    assert idem("SET", "k", "GET", "EX", 10)  # "GET" is the value here
    assert not idem("SET", "k", "v", "GET")
    assert not idem("SET", "k", "v", "EX", 10, "GET")
    assert idem("SET", "k", "v", "NX", "PX", 100)
    assert not idem("ZADD", "z", "XX", "INCR", 1, "m")
    assert idem("ZADD", "z", "NX", "CH", 1, "INCR")  # "INCR" is a member
    assert idem("LREM", "l", 0, "x") and not idem("LREM", "l", 2, "x")
    assert idem("LTRIM", "l", 0, 99) and idem("LTRIM", "l", 0, -1) and idem("LTRIM", "l", -5, -1)
    assert not idem("LTRIM", "l", 1, -1) and not idem("LTRIM", "l", 0, -2)
    assert idem("BITFIELD", "b", "GET", "u8", 0, "OVERFLOW", "SAT")
    assert not idem("BITFIELD", "b", "GET", "u8", 0, "INCRBY", "u8", 0, 1)
    # *STORE: a destination that is also a source changes again on every run
    assert idem("ZUNIONSTORE", "d", 2, "a", "b")
    assert not idem("ZUNIONSTORE", "d", 2, "d", "b")
    assert not idem("SDIFFSTORE", b"d", "d", "x")
    assert not idem("BITOP", "XOR", "d", "d", "x")
    assert idem("SORT", "l", "ALPHA") and idem("SORT", "l", "STORE", "d")
    assert not idem("SORT", "l", "STORE", "l")
    assert not idem("GEORADIUS", "g", 0, 0, 1, "km", "STORE", "g")
    assert idem("ZUNIONSTORE dest", 1, "a")  # a redis-py style first argument is split


# --- routing and merging -------------------------------------------------------------------------
@pytest.mark.parametrize("name, route, merge", [
    ("PING", Route.DEFAULT_NODE, Merge.FIRST),
    ("ECHO", Route.RANDOM_NODE, Merge.FIRST),
    ("INFO", Route.DEFAULT_NODE, Merge.FIRST),
    ("DBSIZE", Route.ALL_PRIMARIES, Merge.SUM),
    ("KEYS", Route.ALL_PRIMARIES, Merge.CONCAT),
    ("SCAN", Route.ALL_PRIMARIES, Merge.DICT_BY_NODE),
    ("FLUSHALL", Route.ALL_PRIMARIES, Merge.ALL_OK),
    ("FLUSHDB", Route.ALL_PRIMARIES, Merge.ALL_OK),
    ("RANDOMKEY", Route.RANDOM_PRIMARY, Merge.FIRST),
    ("TIME", Route.DEFAULT_NODE, Merge.FIRST),
    ("LASTSAVE", Route.DEFAULT_NODE, Merge.FIRST),
    ("CONFIG GET", Route.DEFAULT_NODE, Merge.FIRST),
    ("CONFIG SET", Route.DEFAULT_NODE, Merge.FIRST),
    ("CLIENT LIST", Route.DEFAULT_NODE, Merge.FIRST),
    ("SCRIPT LOAD", Route.ALL_NODES, Merge.FIRST),
    ("SCRIPT EXISTS", Route.ALL_NODES, Merge.AND),
    ("SCRIPT FLUSH", Route.ALL_NODES, Merge.ALL_OK),
    ("FUNCTION LOAD", Route.ALL_PRIMARIES, Merge.FIRST),
    ("FUNCTION DELETE", Route.ALL_PRIMARIES, Merge.ALL_OK),
    ("FUNCTION FLUSH", Route.ALL_PRIMARIES, Merge.ALL_OK),
    ("FUNCTION LIST", Route.ALL_PRIMARIES, Merge.DICT_BY_NODE),
    ("CLUSTER INFO", Route.DEFAULT_NODE, Merge.FIRST),
    ("CLUSTER SLOTS", Route.DEFAULT_NODE, Merge.FIRST),
    ("CLUSTER NODES", Route.DEFAULT_NODE, Merge.FIRST),
    ("CLUSTER SHARDS", Route.DEFAULT_NODE, Merge.FIRST),
    ("CLUSTER MYID", Route.RANDOM_NODE, Merge.FIRST),
    ("CLUSTER KEYSLOT", Route.DEFAULT_NODE, Merge.FIRST),
    ("CLUSTER GETKEYSINSLOT", Route.SLOT_ARG, Merge.FIRST),
    ("COMMAND", Route.DEFAULT_NODE, Merge.FIRST),
    ("COMMAND INFO", Route.DEFAULT_NODE, Merge.FIRST),
    ("COMMAND COUNT", Route.DEFAULT_NODE, Merge.FIRST),
    ("PUBLISH", Route.CHANNEL, Merge.FIRST),
    ("SPUBLISH", Route.SLOT, Merge.FIRST),
    ("PUBSUB NUMSUB", Route.ALL_NODES, Merge.SUM_BY_KEY),
])
def test_fan_out_routes(name: str, route: Route, merge: Merge) -> None:
    assert (COMMANDS[name].route, COMMANDS[name].merge) == (route, merge)


def test_connection_bound_and_node_only() -> None:
    for name in ("MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH", "SUBSCRIBE", "SSUBSCRIBE",
                 "AUTH", "HELLO", "READONLY", "ASKING", "WAIT", "CLIENT TRACKING"):
        assert COMMANDS[name].route is Route.CONNECTION, name
    for name in ("SHUTDOWN", "MONITOR", "SELECT", "MOVE", "SWAPDB", "REPLICAOF",
                 "BGREWRITEAOF", "CLUSTER MEET", "CLUSTER SETSLOT", "CLUSTER FLUSHSLOTS"):
        assert COMMANDS[name].route is Route.NODE_ONLY, name
    # what redis-py sends to its default node goes there, never repeated blindly when it writes
    for name in ("SAVE", "BGSAVE", "DEBUG", "ACL SETUSER", "ACL DELUSER", "MODULE LOAD"):
        assert COMMANDS[name].route is Route.DEFAULT_NODE, name
        assert not COMMANDS[name].idempotent, name


#: redis-py 8 sends these to its default node; clustercore routes them otherwise, on purpose
#: (docs/redis-py-compat.md lists each one).
_NOT_DEFAULT_NODE = {
    "KEYS": Route.ALL_PRIMARIES,              # the whole key space, not one node's share
    "DBSIZE": Route.ALL_PRIMARIES,            # the cluster's size, not one node's
    "RANDOMKEY": Route.RANDOM_PRIMARY,        # a random key of the cluster
    "PUBSUB CHANNELS": Route.ALL_NODES,       # subscriptions live on every node
    "PUBSUB NUMPAT": Route.ALL_NODES,
    "PUBSUB NUMSUB": Route.ALL_NODES,
    "PUBSUB SHARDCHANNELS": Route.ALL_NODES,
    "PUBSUB SHARDNUMSUB": Route.ALL_NODES,
    "SHUTDOWN": Route.NODE_ONLY,              # never on a node the caller did not name
    "CLUSTER MEET": Route.NODE_ONLY,
    "CLUSTER RESET": Route.NODE_ONLY,
    "CLUSTER SET-CONFIG-EPOCH": Route.NODE_ONLY,
    "AUTH": Route.CONNECTION,                 # state of one connection, not of a node
    "READONLY": Route.CONNECTION,
    "READWRITE": Route.CONNECTION,
    "CLIENT REPLY": Route.CONNECTION,
    "CLIENT GETREDIR": Route.CONNECTION,
    "CLIENT SETINFO": Route.CONNECTION,
    "CLIENT TRACKINGINFO": Route.CONNECTION,
    "WAIT": Route.CONNECTION,
    "WAITAOF": Route.CONNECTION,
}


def test_redis_py_default_node_commands_go_to_the_default_node() -> None:
    """Checked against redis-py's own table: every command it sends to its default node is
    routed there here too, or is a listed deliberate difference (or a command we lack)."""
    from redis.cluster import RedisCluster as RedisPyCluster

    theirs = sorted(name for name, flag in RedisPyCluster.COMMAND_FLAGS.items()
                    if flag == RedisPyCluster.DEFAULT_NODE and name in COMMANDS)
    assert len(theirs) > 60
    for name in theirs:
        expected = _NOT_DEFAULT_NODE.get(name, Route.DEFAULT_NODE)
        assert COMMANDS[name].route is expected, name
    assert set(_NOT_DEFAULT_NODE) <= set(theirs)


def test_merge_replies() -> None:
    assert merge_replies(Merge.FIRST, {"a": 1, "b": 2}) == 1
    assert merge_replies(Merge.LIST, {"a": 1, "b": 2}) == [1, 2]
    assert merge_replies(Merge.SUM, {"a": 1, "b": b"2"}) == 3
    assert merge_replies(Merge.MIN, {"a": 3, "b": 2}) == 2
    assert merge_replies(Merge.MAX, {"a": 3, "b": 2}) == 3
    assert merge_replies(Merge.CONCAT, {"a": [1], "b": [2, 3], "c": None}) == [1, 2, 3]
    assert merge_replies(Merge.UNION, {"a": [b"x", b"y"], "b": [b"y", b"z"]}) == [
        b"x", b"y", b"z"]
    assert merge_replies(Merge.SUM_BY_KEY, {"a": [(b"c", 1)], "b": [b"c", 2, b"d", 1]}) == [
        (b"c", 3), (b"d", 1)]
    assert merge_replies(Merge.ALL_OK, {"a": True, "b": b"OK"}) is True
    assert merge_replies(Merge.AND, {"a": [True, True], "b": [True, False]}) == [True, False]
    assert merge_replies(Merge.OR, {"a": [0, 0], "b": [1, 0]}) == [True, False]
    assert merge_replies(Merge.AND, {"a": 1, "b": 0}) is False
    assert merge_replies(Merge.DICT_BY_NODE, {"a": 1, "b": 2}) == {"a": 1, "b": 2}
    boom = ResponseError("ERR boom")
    with pytest.raises(ResponseError):
        merge_replies(Merge.ALL_OK, {"a": True, "b": boom})
    assert merge_replies(Merge.ANY_OK, {"a": boom, "b": b"OK"}) == b"OK"
    with pytest.raises(ResponseError):
        merge_replies(Merge.ANY_OK, {"a": boom})
    with pytest.raises(ValueError):
        merge_replies(Merge.KEY_ORDER, {"a": []})


# --- blocking timeouts ---------------------------------------------------------------------------
def test_blocking_timeout() -> None:
    def bt(*args: Any) -> Any:
        return blocking_timeout(spec(*args), args)

    assert bt("BLPOP", "a", "b", 2.5) == 2.5
    assert bt("BLPOP", "a", 0) == math.inf
    assert bt("BZPOPMAX", "z", "1") == 1.0
    assert bt("BLMOVE", "a", "b", "LEFT", "RIGHT", 3) == 3
    assert bt("BLMPOP", 4, 1, "a", "LEFT") == 4
    assert bt("XREAD", "BLOCK", 1500, "STREAMS", "s", "$") == 1.5
    assert bt("XREAD", "COUNT", 1, "STREAMS", "BLOCK", "0") is None
    assert bt("XREADGROUP", "GROUP", "g", "BLOCK", "BLOCK", 0, "STREAMS", "s", ">") == math.inf
    assert bt("WAIT", 1, 200) == pytest.approx(0.2)
    assert bt("GET", "k") is None
    assert bt("BLPOP", "a", "soon") is None


# --- specs from COMMAND INFO ---------------------------------------------------------------------
def _ks(begin: List[Any], find: List[Any], flags: Sequence[str] = ("RO",)) -> List[Any]:
    return ["flags", list(flags), "begin_search", begin, "find_keys", find]


def _index(i: int) -> List[Any]:
    return ["type", "index", "spec", ["index", i]]


def _range(last: int, step: int = 1, limit: int = 0) -> List[Any]:
    return ["type", "range", "spec", ["lastkey", last, "keystep", step, "limit", limit]]


def _keynum(idx: int, first: int, step: int = 1) -> List[Any]:
    return ["type", "keynum", "spec", ["keynumidx", idx, "firstkey", first, "keystep", step]]


GET_INFO = [b"get", 2, [b"readonly", b"fast"], 1, 1, 1, [b"@read"], [],
            [_ks(_index(1), _range(0))], []]
EVAL_INFO = ["eval", -3, ["noscript", "movablekeys"], 0, 0, 0, [], [],
             [_ks(_index(2), _keynum(0, 1), ("RW",))], []]
XREAD_INFO = ["xread", -4, ["readonly", "blocking", "movablekeys"], 0, 0, 0, [], [],
              [_ks(["type", "keyword", "spec", ["keyword", "STREAMS", "startfrom", 1]],
                   _range(-1, 1, 2))], []]
ZUNIONSTORE_INFO = ["zunionstore", -4, ["write", "denyoom", "movablekeys"], 1, 1, 1, [], [],
                    [_ks(_index(1), _range(0), ("OW",)), _ks(_index(2), _keynum(0, 1))], []]
DBSIZE_INFO = ["dbsize", 1, ["readonly", "fast"], 0, 0, 0, [],
               ["request_policy:all_shards", "response_policy:agg_sum"], [], []]
MGET_INFO = ["mget", -2, ["readonly", "fast"], 1, -1, 1, [], ["request_policy:multi_shard"],
             [_ks(_index(1), _range(-1))], []]
OBJECT_INFO = ["object", -2, [], 0, 0, 0, [], [], [], [
    ["object|encoding", 3, ["readonly"], 2, 2, 1, [], ["nondeterministic_output"],
     [_ks(_index(2), _range(0))], []],
    ["object|help", 2, ["loading", "stale"], 0, 0, 0, [], [], [], []],
]]


def test_spec_from_command_info_simple() -> None:
    get = spec_from_command_info(GET_INFO)
    assert get == CommandSpec("GET", 1, 1, 1, readonly=True, idempotent=True)
    assert keys_of(get, ("GET", "k")) == ["k"]


def test_spec_from_command_info_movable_keys() -> None:
    ev = spec_from_command_info(EVAL_INFO)
    assert (ev.first_key, ev.numkeys_arg, ev.readonly, ev.idempotent) == (0, 2, False, False)
    assert keys_of(ev, ("EVAL", "s", 2, "a", "b", "x")) == ["a", "b"]
    xr = spec_from_command_info(XREAD_INFO)
    assert xr.keys_after == "STREAMS" and xr.readonly and xr.route is Route.SLOT
    assert keys_of(xr, ("XREAD", "COUNT", 1, "STREAMS", "a", "b", 0, 0)) == ["a", "b"]
    zu = spec_from_command_info(ZUNIONSTORE_INFO)
    assert (zu.first_key, zu.last_key, zu.key_step, zu.numkeys_arg) == (1, 1, 1, 2)
    assert keys_of(zu, ("ZUNIONSTORE", "d", 2, "a", "b")) == ["d", "a", "b"]


def test_spec_from_command_info_tips() -> None:
    db = spec_from_command_info(DBSIZE_INFO)
    assert (db.route, db.merge, db.readonly) == (Route.ALL_PRIMARIES, Merge.SUM, True)
    mget = spec_from_command_info(MGET_INFO)
    assert (mget.route, mget.split, mget.merge) == (Route.SLOT, True, Merge.KEY_ORDER)
    keys_only = spec_from_command_info(["keys", 2, ["readonly"], 0, 0, 0, [],
                                        ["request_policy:all_shards"], [], []])
    assert (keys_only.route, keys_only.merge) == (Route.ALL_PRIMARIES, Merge.CONCAT)
    module = spec_from_command_info(["foo.stats", -1, ["admin"], 0, 0, 0, [], [], [], []])
    assert module.route is Route.RANDOM_PRIMARY and not module.idempotent


def test_spec_from_command_info_other_shapes() -> None:
    # RESP3: maps instead of flat lists, sets of flags
    resp3 = ["eval", -3, {"noscript", "movablekeys"}, 0, 0, 0, set(), [],
             [{"flags": {"RW"}, "begin_search": {"type": "index", "spec": {"index": 2}},
               "find_keys": {"type": "keynum",
                             "spec": {"keynumidx": 0, "firstkey": 1, "keystep": 1}}}], []]
    assert spec_from_command_info(resp3).numkeys_arg == 2
    # Redis 6 (no tips/key specs) and Redis 5 (no ACL categories)
    old = spec_from_command_info([b"set", -3, [b"write", b"denyoom"], 1, 1, 1, [b"@write"]])
    assert (old.name, old.first_key, old.readonly, old.route) == ("SET", 1, False, Route.SLOT)
    older = spec_from_command_info([b"lrange", 4, [b"readonly"], 1, 1, 1])
    assert older.readonly and older.idempotent
    with pytest.raises(DataError):
        spec_from_command_info([b"get", 2])
    with pytest.raises(DataError):
        spec_from_command_info(None)  # type: ignore[arg-type]


def test_specs_from_command_reply_walks_subcommands() -> None:
    specs = specs_from_command_reply([GET_INFO, OBJECT_INFO, None])
    assert set(specs) == {"GET", "OBJECT", "OBJECT ENCODING", "OBJECT HELP"}
    enc = specs["OBJECT ENCODING"]
    assert (enc.first_key, enc.readonly) == (2, True)
    assert lookup(("object", "encoding", "k"), {"OBJECT ENCODING": enc}) is COMMANDS[
        "OBJECT ENCODING"]
    assert keys_of(enc, ("OBJECT", "ENCODING", "k")) == ["k"]


# --- the API mixin, without a network ------------------------------------------------------------
class Recorder(CommandsMixin):
    """Records commands; replies come from a queue and go through the callbacks."""

    def __init__(self, replies: Sequence[Any] = ()) -> None:
        self.sent: List[Tuple[Any, ...]] = []
        self.options: List[Dict[str, Any]] = []
        self.replies = list(replies)
        self.node_calls: List[Tuple[Any, Tuple[Any, ...]]] = []

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.sent.append(args)
        self.options.append(options)
        if not self.replies:
            return None
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        return self._parse_reply(name_of(args), reply, **options)

    def _execute_on_node(self, node: Any, *args: Any) -> Any:
        self.node_calls.append((node, args))
        return self.replies.pop(0)

    def _nodes_for_scan(self) -> List[Any]:
        return ["n1", "n2"]


def test_api_builds_redis_py_arguments() -> None:
    r = Recorder()
    r.set("k", "v", ex=10, nx=True, get=True)
    r.zadd("z", {"m": 1.5}, xx=True, incr=True)
    r.zrange("z", "(1", "+inf", byscore=True, offset=0, num=2, withscores=True)
    r.xadd("s", {"f": 1}, maxlen=100, nomkstream=True)
    r.xread({"a": 0, "b": "$"}, count=5, block=100)
    r.xreadgroup("g", "c", {"s": ">"}, noack=True)
    r.geosearch("g", longitude=1, latitude=2, radius=3, unit="km", withdist=True, count=2)
    r.hset("h", "f", "v", mapping={"g": 1}, items=["x", 2])
    r.zinterstore("d", {"a": 2, "b": 3}, aggregate="max")
    r.blpop("l", timeout=None)
    r.object("encoding", "k")
    assert r.sent == [
        ("SET", "k", "v", "EX", 10, "NX", "GET"),
        ("ZADD", "z", "XX", "INCR", 1.5, "m"),
        ("ZRANGE", "z", "(1", "+inf", "BYSCORE", "LIMIT", 0, 2, "WITHSCORES"),
        ("XADD", "s", "NOMKSTREAM", "MAXLEN", "~", 100, "*", "f", 1),
        ("XREAD", "COUNT", 5, "BLOCK", 100, "STREAMS", "a", "b", 0, "$"),
        ("XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", "s", ">"),
        ("GEOSEARCH", "g", "FROMLONLAT", 1, 2, "BYRADIUS", 3, "km", "COUNT", 2, "WITHDIST"),
        ("HSET", "h", "x", 2, "f", "v", "g", 1),
        ("ZINTERSTORE", "d", 2, "a", "b", "WEIGHTS", 2, 3, "AGGREGATE", "max"),
        ("BLPOP", "l", 0),
        ("OBJECT", "encoding", "k"),
    ]
    assert r.options[0] == {"get": True}
    assert r.options[1] == {"as_score": True}


@pytest.mark.parametrize("call", [
    lambda r: r.set("k", "v", ex=1, px=1),
    lambda r: r.set("k", "v", nx=True, xx=True),
    lambda r: r.set("k", "v", ex=1.5),
    lambda r: r.getex("k", ex=1, persist=True),
    lambda r: r.zadd("z", {"a": 1, "b": 2}, incr=True),
    lambda r: r.zadd("z", {}),
    lambda r: r.zrange("z", 0, 1, offset=1),
    lambda r: r.zrange("z", 0, 1, bylex=True, withscores=True),
    lambda r: r.xadd("s", {}),
    lambda r: r.xadd("s", {"a": 1}, maxlen=1, minid="0"),
    lambda r: r.xread({}),
    lambda r: r.xtrim("s"),
    lambda r: r.geoadd("g", [1, 2]),
    lambda r: r.geosearch("g", radius=1),
    lambda r: r.bitpos("b", 2),
    lambda r: r.bitcount("b", 1),
    lambda r: r.bitcount("b", mode="BIT"),
    lambda r: r.bitpos("b", 1, 0, mode="BIT"),
    lambda r: r.hset("h"),
    lambda r: r.zmpop(1, ["z"]),
    lambda r: r.sort("l", groups=True, get="#"),
    lambda r: r.script_flush("NOW"),
    lambda r: r.client_list(_type="weird"),
])
def test_api_validates_before_sending(call: Any) -> None:
    r = Recorder()
    with pytest.raises(DataError):
        call(r)
    assert r.sent == []


def test_scan_iter_walks_every_node_and_target_node() -> None:
    r = Recorder([[b"5", [b"a"]], [b"0", [b"b"]], [b"0", [b"c"]], [b"0", [b"z"]]])
    assert list(r.scan_iter(match="*", count=10)) == [b"a", b"b", b"c"]
    assert r.node_calls[0] == ("n1", ("SCAN", 0, "MATCH", "*", "COUNT", 10))
    assert r.node_calls[1] == ("n1", ("SCAN", 5, "MATCH", "*", "COUNT", 10))
    assert r.node_calls[2][0] == "n2"
    assert r.scan(target_node="n9", _type="string") == (0, [b"z"])
    assert r.node_calls[3] == ("n9", ("SCAN", 0, "TYPE", "string"))


def test_hscan_iter_and_zscan_iter() -> None:
    r = Recorder([[b"3", [b"f", b"v"]], [b"0", [b"g", b"w"]]])
    assert list(r.hscan_iter("h")) == [(b"f", b"v"), (b"g", b"w")]
    r = Recorder([[b"0", [b"m", b"1.5"]]])
    assert list(r.zscan_iter("z", score_cast_func=int)) == [(b"m", 1)]


def test_callbacks_are_case_insensitive_and_overridable() -> None:
    r = Recorder([b"PONG", b"7"])
    assert r.ping() is True
    r.set_response_callback("get", lambda reply, **o: int(reply))
    assert r.get("k") == 7
    cbs = CallbackDict({"get": len})
    assert "GET" in cbs and cbs["Get"] is len and cbs.get("gEt") is len
    assert set(DEFAULT_CALLBACKS) <= set(r._default_callbacks())


def test_result_callbacks_replace_the_merge() -> None:
    r = Recorder()
    assert r._merge_results("DBSIZE", Merge.SUM, {"a": 1, "b": 2}) == 3
    r.set_result_callback("dbsize", lambda command, res, **o: (command, res))
    assert r._merge_results("DBSIZE", Merge.SUM, {"a": 1}) == ("DBSIZE", {"a": 1})
    with pytest.raises(ResponseError):
        r._merge_results("DBSIZE", Merge.SUM, {"a": ResponseError("ERR x")})


def test_register_script_loads_on_noscript() -> None:
    r = Recorder([NoScriptError("NOSCRIPT No matching script"), b"sha", 42])
    script = r.register_script("return 42")
    assert script(keys=["k"], args=[1]) == 42
    assert [a[0] for a in r.sent] == ["EVALSHA", "SCRIPT", "EVALSHA"]
    assert r.sent[0] == ("EVALSHA", script.sha, 1, "k", 1)


def test_sort_groups_pairs_the_get_values() -> None:
    r = Recorder([[b"1", b"a", b"2", b"b"]])
    assert r.sort("l", get=["#", "w_*"], groups=True) == [(b"1", b"a"), (b"2", b"b")]
    assert r.sent == [("SORT", "l", "GET", "#", "GET", "w_*")]
    assert r.options == [{"groups": 2}]


def test_bitfield_builder() -> None:
    r = Recorder([[0, 1]])
    op = r.bitfield("b", default_overflow="SAT").set("u8", 0, 5).incrby("u8", 0, 1, "FAIL")
    assert op.command == ["BITFIELD", "b", "OVERFLOW", "SAT", "SET", "u8", 0, 5,
                          "OVERFLOW", "FAIL", "INCRBY", "u8", 0, 1]
    assert op.execute() == [0, 1]
    assert op.command == ["BITFIELD", "b", "OVERFLOW", "SAT"]

def test_command_families_compose_without_overlap() -> None:
    """CommandsMixin is the composition of one mixin per family over CommandsBase: no two
    families define the same name (else the MRO would silently pick one), and every public
    method the mixin offers comes from exactly one family."""
    from clustercore._commands.base import CommandsBase

    families = [c for c in CommandsMixin.__mro__[1:]
                if issubclass(c, CommandsBase) and c is not CommandsBase]
    assert CommandsMixin.__mro__[-2:] == (CommandsBase, object)
    assert len(families) == 18  # 14 families + arrays, vectorsets, redis8, himport
    owner: Dict[str, str] = {}
    for family in families:
        for name in vars(family):
            if name.startswith("__"):
                continue
            assert name not in owner, f"{name} in {owner.get(name)} and {family.__name__}"
            owner[name] = family.__name__
    assert not set(vars(CommandsBase)) & set(owner)
    public = {n for n in dir(CommandsMixin) if not n.startswith("_")}
    assert public <= set(owner) | set(vars(CommandsBase))
    assert len(public) >= 235  # none lost in the split (235 when the families were cut out)



# --- reply callbacks on canned replies -----------------------------------------------------------
def test_parse_info() -> None:
    text = (b"# Server\r\nredis_version:7.0.15\r\nuptime_in_seconds:12\r\nmem_fragmentation_ratio:"
            b"1.5\r\ndb0:keys=3,expires=0,avg_ttl=0\r\nmodule:name=x,ver=1\r\nraw-line\r\n")
    info = parse_info(text)
    assert info["redis_version"] == "7.0.15"
    assert info["uptime_in_seconds"] == 12 and info["mem_fragmentation_ratio"] == 1.5
    assert info["db0"] == {"keys": 3, "expires": 0, "avg_ttl": 0}
    assert info["modules"] == [{"name": "x", "ver": 1}]
    assert info["__raw__"] == ["raw-line"]


def test_parse_cluster_replies() -> None:
    nodes = parse_cluster_nodes(
        b"07c3 127.0.0.1:30004@40004,host.example master - 0 1426238317239 4 connected "
        b"0-2 5 [7->-e7d1] [8-<-292f]\n"
        b"e7d1 :30002@40002 myself,slave 07c3 0 0 2 connected\n", current_host="10.0.0.1")
    assert nodes[0]["slots"] == (0, 1, 2, 5) and nodes[0]["port"] == 30004
    assert nodes[0]["cluster-bus-port"] == 40004 and nodes[0]["flags"] == ("master",)
    assert nodes[0]["migrations"] == [
        {"slot": 7, "node_id": "e7d1", "state": "migrating"},
        {"slot": 8, "node_id": "292f", "state": "importing"}]
    assert nodes[1]["host"] == "10.0.0.1" and nodes[1]["master"] == "07c3"
    assert nodes[0]["master"] is None
    slots = parse_cluster_slots([[0, 5460, [b"127.0.0.1", 7000, b"id1"], [b"", 7003, b"id2"]]])
    assert slots == {(0, 5460): {"master": ("127.0.0.1", 7000), "slaves": [("", 7003)]}}
    info = parse_cluster_info("cluster_state:ok\r\ncluster_known_nodes:6\r\n")
    assert info == {"cluster_state": "ok", "cluster_known_nodes": 6}


def test_parse_client_list_and_scores() -> None:
    clients = parse_client_list(b"id=3 addr=/tmp/redis sock/x.sock:0 name=\nid=4 name=x\n")
    assert clients == [{"id": "3", "addr": "/tmp/redis sock/x.sock:0", "name": ""},
                       {"id": "4", "name": "x"}]
    assert zset_score_pairs([b"a", b"1"], withscores=True) == [(b"a", 1.0)]
    assert zset_score_pairs([[b"a", 1.0]], withscores=True, score_cast_func=int) == [(b"a", 1)]
    assert zset_score_pairs([b"a"], withscores=False) == [b"a"]
    assert zpop_score_pairs([b"a", 2.0]) == [(b"a", 2.0)]
    assert zset_score_pairs([b"a", b"1.7732526297292595e+18"], withscores=True,
                            score_cast_func=int) == [(b"a", 1773252629729259520)]
