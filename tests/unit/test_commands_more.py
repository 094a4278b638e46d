"""Issue 11 item 5: the added command families' wire form, target_nodes passing, routing table
entries and reply callbacks (no network: a stub client records what execute_command gets)."""

from __future__ import annotations

import datetime
from typing import Any, Dict, List, Sequence, Tuple

import pytest

from clustercore._commands.api import CommandsMixin
from clustercore._commands.callbacks_admin import (
    parse_acl_getuser,
    parse_acl_log,
    parse_debug_object,
    parse_slowlog_get,
)
from clustercore._commands.idempotency import is_idempotent
from clustercore._commands.keys import slot_of
from clustercore._commands.specs import COMMANDS, Route, lookup, name_of
from clustercore._slots import key_slot
from clustercore.errors import DataError, ResponseError


class Stub(CommandsMixin):
    """Records every execute_command call (args and options); replies from a queue, parsed by
    the callbacks as the client would."""

    def __init__(self, replies: Sequence[Any] = ()) -> None:
        self.calls: List[Tuple[Tuple[Any, ...], Dict[str, Any]]] = []
        self.replies = list(replies)
        self.read_from_replicas = False

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.calls.append((args, dict(options)))
        if not self.replies:
            return None
        options.pop("target_nodes", None)
        return self._parse_reply(name_of(args), self.replies.pop(0), **options)

    @property
    def last(self) -> Tuple[Tuple[Any, ...], Dict[str, Any]]:
        return self.calls[-1]


NODE = object()


@pytest.mark.parametrize("call, args", [
    (lambda r: r.slowlog_get(), ("SLOWLOG", "GET")),
    (lambda r: r.slowlog_get(5), ("SLOWLOG", "GET", 5)),
    (lambda r: r.slowlog_len(), ("SLOWLOG", "LEN")),
    (lambda r: r.slowlog_reset(), ("SLOWLOG", "RESET")),
    (lambda r: r.client_kill_filter(_id="7", _type="normal", skipme=False, maxage=3),
     ("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "NO", "ID", "7", "MAXAGE", 3)),
    (lambda r: r.client_pause(100, all=False), ("CLIENT", "PAUSE", 100, "WRITE")),
    (lambda r: r.client_unpause(), ("CLIENT", "UNPAUSE")),
    (lambda r: r.client_no_evict("on"), ("CLIENT", "NO-EVICT", "on")),
    (lambda r: r.config_rewrite(), ("CONFIG", "REWRITE")),
    (lambda r: r.latency_histogram("get", "set"), ("LATENCY", "HISTOGRAM", "get", "set")),
    (lambda r: r.latency_history("command"), ("LATENCY", "HISTORY", "command")),
    (lambda r: r.latency_reset(), ("LATENCY", "RESET")),
    (lambda r: r.latency_graph("command"), ("LATENCY", "GRAPH", "command")),
    (lambda r: r.role(), ("ROLE",)),
    (lambda r: r.acl_cat("dangerous"), ("ACL", "CAT", "dangerous")),
    (lambda r: r.acl_deluser("a", "b"), ("ACL", "DELUSER", "a", "b")),
    (lambda r: r.acl_dryrun("u", "get", "k"), ("ACL", "DRYRUN", "u", "get", "k")),
    (lambda r: r.acl_genpass(128), ("ACL", "GENPASS", 128)),
    (lambda r: r.acl_log(2), ("ACL", "LOG", 2)),
    (lambda r: r.acl_log_reset(), ("ACL", "LOG", "RESET")),
    (lambda r: r.memory_doctor(), ("MEMORY", "DOCTOR")),
    (lambda r: r.memory_malloc_stats(), ("MEMORY", "MALLOC-STATS")),
    (lambda r: r.module_list(), ("MODULE", "LIST")),
    (lambda r: r.function_restore(b"payload", "REPLACE"),
     ("FUNCTION", "RESTORE", b"payload", "REPLACE")),
    (lambda r: r.function_stats(), ("FUNCTION", "STATS")),
    (lambda r: r.function_kill(), ("FUNCTION", "KILL")),
    (lambda r: r.script_kill(), ("SCRIPT", "KILL")),
    (lambda r: r.bgsave(), ("BGSAVE", "SCHEDULE")),
    (lambda r: r.bgsave(schedule=False), ("BGSAVE",)),
    (lambda r: r.debug_object("k"), ("DEBUG", "OBJECT", "k")),
    (lambda r: r.wait(1, 100), ("WAIT", 1, 100)),
    (lambda r: r.waitaof(1, 0, 100), ("WAITAOF", 1, 0, 100)),
    (lambda r: r.lolwut(5, 1), ("LOLWUT", "VERSION", 5, 1)),
    (lambda r: r.command_list(category="hash"), ("COMMAND", "LIST", "FILTERBY", "ACLCAT", "hash")),
    (lambda r: r.cluster_delslotsrange(1, 5), ("CLUSTER", "DELSLOTSRANGE", 1, 5)),
    (lambda r: r.cluster_keyslot("k"), ("CLUSTER", "KEYSLOT", "k")),
    (lambda r: r.cluster_count_failure_report("id1"),
     ("CLUSTER", "COUNT-FAILURE-REPORTS", "id1")),
])
def test_server_and_admin_commands_build_redis_py_arguments(call: Any,
                                                             args: Tuple[Any, ...]) -> None:
    r = Stub()
    call(r)
    assert r.last == (args, {})
    assert lookup(args) is not None, args


def test_function_dump_reads_its_payload_undecoded() -> None:
    r = Stub()
    r.function_dump()
    assert r.last == (("FUNCTION", "DUMP"), {"never_decode": True})


@pytest.mark.parametrize("call, args", [
    (lambda r: r.cluster_addslots(NODE, 1, 2), ("CLUSTER", "ADDSLOTS", 1, 2)),
    (lambda r: r.cluster_addslotsrange(NODE, 1, 9), ("CLUSTER", "ADDSLOTSRANGE", 1, 9)),
    (lambda r: r.cluster_meet("h", 7000, target_nodes=NODE), ("CLUSTER", "MEET", "h", 7000)),
    (lambda r: r.cluster_forget("id", target_nodes=NODE), ("CLUSTER", "FORGET", "id")),
    (lambda r: r.cluster_setslot(NODE, "id", 5, "importing"),
     ("CLUSTER", "SETSLOT", 5, "importing", "id")),
    (lambda r: r.cluster_setslot_stable(5, target_nodes=NODE),
     ("CLUSTER", "SETSLOT", 5, "STABLE")),
    (lambda r: r.cluster_failover(NODE, "force"), ("CLUSTER", "FAILOVER", "force")),
    (lambda r: r.cluster_reset(soft=False, target_nodes=NODE), ("CLUSTER", "RESET", "HARD")),
    (lambda r: r.cluster_save_config(NODE), ("CLUSTER", "SAVECONFIG")),
    (lambda r: r.cluster_set_config_epoch(3, NODE), ("CLUSTER", "SET-CONFIG-EPOCH", 3)),
    (lambda r: r.cluster_replicate(NODE, "id"), ("CLUSTER", "REPLICATE", "id")),
    (lambda r: r.cluster_links(NODE), ("CLUSTER", "LINKS")),
    (lambda r: r.cluster_myid(NODE), ("CLUSTER", "MYID")),
    (lambda r: r.cluster_myshardid(NODE), ("CLUSTER", "MYSHARDID")),
    (lambda r: r.cluster_info(NODE), ("CLUSTER", "INFO")),
    (lambda r: r.cluster_shards(NODE), ("CLUSTER", "SHARDS")),
    (lambda r: r.cluster_slots(NODE), ("CLUSTER", "SLOTS")),
    (lambda r: r.cluster_replicas("id", NODE), ("CLUSTER", "REPLICAS", "id")),
    (lambda r: r.cluster_bumpepoch(NODE), ("CLUSTER", "BUMPEPOCH")),
    (lambda r: r.cluster_flushslots(NODE), ("CLUSTER", "FLUSHSLOTS")),
    (lambda r: r.readonly(NODE), ("READONLY",)),
    (lambda r: r.readwrite(NODE), ("READWRITE",)),
    (lambda r: r.slowlog_get(2, target_nodes=NODE), ("SLOWLOG", "GET", 2)),
    (lambda r: r.client_kill("1.2.3.4:5", target_nodes=NODE), ("CLIENT", "KILL", "1.2.3.4:5")),
])
def test_target_nodes_is_passed_when_given(call: Any, args: Tuple[Any, ...]) -> None:
    r = Stub()
    call(r)
    assert r.last == (args, {"target_nodes": NODE})


def test_target_nodes_is_not_passed_when_absent() -> None:
    """Absent target_nodes leaves the options empty, so the client's usual route (and its fast
    path) is untouched."""
    r = Stub()
    for call in (r.cluster_info, r.cluster_shards, r.cluster_slots, r.cluster_myid,
                 r.cluster_myshardid, r.cluster_links, r.cluster_save_config):
        call()
        assert r.last[1] == {}
    r.cluster_replicas("id")
    r.cluster_meet("h", 1)
    r.cluster_reset()
    assert [c[1] for c in r.calls[-3:]] == [{}, {}, {}]
    assert r.last[0] == ("CLUSTER", "RESET", "SOFT")


def test_cluster_delslots_is_one_command_per_slot_routed_by_its_slot() -> None:
    r = Stub([b"OK", b"OK"])
    assert r.cluster_delslots(10, 20) == [True, True]
    assert [c[0] for c in r.calls] == [("CLUSTER", "DELSLOTS", 10), ("CLUSTER", "DELSLOTS", 20)]
    spec = COMMANDS["CLUSTER DELSLOTS"]
    assert spec.route is Route.SLOT_ARG and slot_of(spec, ("CLUSTER", "DELSLOTS", 10), "utf-8") == 10


def test_bad_admin_arguments_raise_data_error_naming_the_value() -> None:
    r = Stub()
    with pytest.raises(DataError, match="'bogus'"):
        r.cluster_setslot(NODE, "id", 1, "bogus")
    with pytest.raises(DataError, match="stable"):
        r.cluster_setslot(NODE, "id", 1, "STABLE")
    with pytest.raises(DataError, match="'sideways'"):
        r.cluster_failover(NODE, "sideways")
    with pytest.raises(DataError, match="'x'"):
        r.client_kill_filter(_type="x")
    with pytest.raises(DataError, match="at least one filter"):
        r.client_kill_filter()
    with pytest.raises(DataError, match=r"1\.5"):
        r.client_pause(1.5)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="5000"):
        r.acl_genpass(5000)
    with pytest.raises(DataError, match="'2'"):
        r.acl_log("2")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="event"):
        r.latency_graph()
    assert r.calls == []


def test_acl_setuser_builds_redis_py_rules() -> None:
    r = Stub()
    r.acl_setuser("u", enabled=True, passwords=["+p1", "-p2"], hashed_passwords="+abc",
                  categories=["+@read", "-write"], commands=["+get", "-set"], keys=["k*", "%R~r*"],
                  channels=["ch"], selectors=[("+set", "s*")], reset=True, reset_keys=True)
    assert r.last[0] == ("ACL", "SETUSER", "u", b"reset", b"resetkeys", b"on", b">p1", b"<p2",
                         b"#abc", b"+@read", b"-@write", b"+get", b"-set", b"~k*", b"%R~r*",
                         b"&ch", b"(+set ~s*)")
    r.acl_setuser("v", nopass=True)
    assert r.last[0] == ("ACL", "SETUSER", "v", b"off", b"nopass")
    with pytest.raises(DataError, match="nopass"):
        r.acl_setuser("w", nopass=True, passwords="+x")
    with pytest.raises(DataError, match="'get'"):
        r.acl_setuser("w", commands=["get"])
    with pytest.raises(DataError, match="Password 0"):
        r.acl_setuser("w", passwords="x")


def test_client_kill_without_targets_asks_every_node_by_address() -> None:
    r = Stub([1])
    assert r.client_kill("1.2.3.4:5") is True
    assert r.last == (("CLIENT", "KILL", "ADDR", "1.2.3.4:5", "SKIPME", "NO"), {})
    r = Stub([0])
    with pytest.raises(ResponseError, match="No such client"):
        r.client_kill("1.2.3.4:5", target_nodes=None)
    assert r.last[1] == {}


def test_readonly_and_readwrite_switch_replica_reads() -> None:
    r = Stub()
    assert r.readonly("replicas") is True and r.read_from_replicas is True
    assert r.readwrite() is True and r.read_from_replicas is False
    assert r.readonly("all") is True and r.read_from_replicas is True
    assert r.readonly() is True
    assert r.calls == []


def test_acl_log_reset_is_one_bool_over_nodes() -> None:
    r = Stub([{"a:1": True, "b:2": True}])
    r.response_callbacks = r._default_callbacks()
    r.set_response_callback("ACL LOG", lambda reply, **o: reply)
    assert r.acl_log_reset() is True


# --- hash-field expiry and the newer hash commands -----------------------------------------------
@pytest.mark.parametrize("call, args", [
    (lambda r: r.hexpire("h", 10, "a", "b", nx=True),
     ("HEXPIRE", "h", 10, "NX", "FIELDS", 2, "a", "b")),
    (lambda r: r.hexpire("h", datetime.timedelta(minutes=1), "a"),
     ("HEXPIRE", "h", 60, "FIELDS", 1, "a")),
    (lambda r: r.hpexpire("h", datetime.timedelta(seconds=2), "a", gt=True),
     ("HPEXPIRE", "h", 2000, "GT", "FIELDS", 1, "a")),
    (lambda r: r.hexpireat("h", datetime.datetime.fromtimestamp(1_700_000_000), "a", lt=True),
     ("HEXPIREAT", "h", 1_700_000_000, "LT", "FIELDS", 1, "a")),
    (lambda r: r.hpexpireat("h", 1_700_000_000_000, "a", xx=True),
     ("HPEXPIREAT", "h", 1_700_000_000_000, "XX", "FIELDS", 1, "a")),
    (lambda r: r.httl("h", "a", "b"), ("HTTL", "h", "FIELDS", 2, "a", "b")),
    (lambda r: r.hpttl("h", "a"), ("HPTTL", "h", "FIELDS", 1, "a")),
    (lambda r: r.hexpiretime("h", "a"), ("HEXPIRETIME", "h", "FIELDS", 1, "a")),
    (lambda r: r.hpexpiretime("h", "a"), ("HPEXPIRETIME", "h", "FIELDS", 1, "a")),
    (lambda r: r.hpersist("h", "a"), ("HPERSIST", "h", "FIELDS", 1, "a")),
    (lambda r: r.hgetdel("h", "a", "b"), ("HGETDEL", "h", "FIELDS", 2, "a", "b")),
    (lambda r: r.hgetex("h", "a", ex=5), ("HGETEX", "h", "EX", 5, "FIELDS", 1, "a")),
    (lambda r: r.hgetex("h", "a", persist=True), ("HGETEX", "h", "PERSIST", "FIELDS", 1, "a")),
    (lambda r: r.hsetex("h", "f", "v", mapping={"g": 2}, px=100, data_persist_option="FNX"),
     ("HSETEX", "h", "FNX", "PX", 100, "FIELDS", 2, "f", "v", "g", 2)),
    (lambda r: r.hsetex("h", items=["a", 1, "b", 2], keepttl=True),
     ("HSETEX", "h", "KEEPTTL", "FIELDS", 2, "a", 1, "b", 2)),
])
def test_hash_field_commands_send_the_fields_form(call: Any, args: Tuple[Any, ...]) -> None:
    r = Stub()
    call(r)
    assert r.last == (args, {})
    spec = lookup(args)
    assert spec is not None and spec.route is Route.SLOT
    assert slot_of(spec, args, "utf-8") == key_slot("h")


def test_hash_field_commands_refuse_bad_options() -> None:
    r = Stub()
    with pytest.raises(DataError, match="nx"):
        r.hexpire("h", 1, "a", nx=True, xx=True)
    with pytest.raises(DataError, match="at least one"):
        r.hgetdel("h")
    with pytest.raises(DataError, match="mutually exclusive"):
        r.hgetex("h", "a", ex=1, persist=True)
    with pytest.raises(DataError, match="no key value pairs"):
        r.hsetex("h")
    with pytest.raises(DataError, match="3 items"):
        r.hsetex("h", items=["a", 1, "b"])
    with pytest.raises(DataError, match="'FOO'"):
        r.hsetex("h", "a", 1, data_persist_option="FOO")
    assert r.calls == []


# --- redis-py 8.1's newer keywords -----------------------------------------------------------------
def test_set_conditions_ifeq_ifne_ifdeq_ifdne() -> None:
    r = Stub()
    r.set("k", "v", ifeq="old", ex=5)
    assert r.last[0] == ("SET", "k", "v", "IFEQ", "old", "EX", 5)
    r.set("k", "v", ifne=b"x")
    assert r.last[0] == ("SET", "k", "v", "IFNE", b"x")
    r.set("k", "v", ifdeq="abcd", get=True)
    assert r.last == (("SET", "k", "v", "IFDEQ", "abcd", "GET"), {"get": True})
    r.set("k", "v", ifdne="abcd")
    assert r.last[0] == ("SET", "k", "v", "IFDNE", "abcd")
    with pytest.raises(DataError, match="ifeq"):
        r.set("k", "v", ifeq="a", nx=True)
    with pytest.raises(DataError, match="ifne"):
        r.set("k", "v", ifeq="a", ifne="b")
    assert is_idempotent(lookup(("SET",)), ("SET", "k", "v", "IFEQ", "GET"))


def test_xadd_xtrim_ref_policy_and_idempotent_ids() -> None:
    r = Stub()
    r.xadd("s", {"f": 1}, maxlen=10, approximate=False, ref_policy="ACKED", idmp=("p", "i1"))
    assert r.last[0] == ("XADD", "s", "ACKED", "IDMP", "p", "i1", "MAXLEN", 10, "*", "f", 1)
    assert is_idempotent(lookup(r.last[0]), r.last[0])
    r.xadd("s", {"f": 1}, nomkstream=True, idmpauto="p")
    assert r.last[0] == ("XADD", "s", "NOMKSTREAM", "IDMPAUTO", "p", "*", "f", 1)
    assert not is_idempotent(lookup(r.last[0]), r.last[0])
    r.xtrim("s", minid="0-1", limit=5, ref_policy="DELREF")
    assert r.last[0] == ("XTRIM", "s", "MINID", "~", "0-1", "LIMIT", 5, "DELREF")
    with pytest.raises(DataError, match="'NOPE'"):
        r.xadd("s", {"f": 1}, ref_policy="NOPE")
    with pytest.raises(DataError, match="'1-1'"):
        r.xadd("s", {"f": 1}, id="1-1", idmpauto="p")
    with pytest.raises(DataError, match="Only one"):
        r.xadd("s", {"f": 1}, idmpauto="p", idmp=("p", "i"))
    with pytest.raises(DataError, match="tuple"):
        r.xadd("s", {"f": 1}, idmp=["p", "i"])  # type: ignore[arg-type]
    with pytest.raises(DataError, match="'X'"):
        r.xtrim("s", maxlen=1, ref_policy="X")


def test_xread_xreadgroup_maxcount_maxsize_claim() -> None:
    r = Stub()
    r.xread({"s": 0}, count=2, block=10, max_count=5, max_size=100)
    args = r.last[0]
    assert args == ("XREAD", "COUNT", 2, "MAXCOUNT", 5, "MAXSIZE", 100, "BLOCK", 10,
                    "STREAMS", "s", 0)
    from clustercore._commands.blocking import blocking_timeout
    assert blocking_timeout(lookup(args), args) == pytest.approx(0.01)
    r.xreadgroup("g", "c", {"s": ">"}, noack=True, claim_min_idle_time=500, max_count=3)
    assert r.last[0] == ("XREADGROUP", "GROUP", "g", "c", "MAXCOUNT", 3, "NOACK", "CLAIM", 500,
                         "STREAMS", "s", ">")
    with pytest.raises(DataError, match="max_count"):
        r.xread({"s": 0}, count=5, max_count=2)
    with pytest.raises(DataError, match="-1"):
        r.xreadgroup("g", "c", {"s": ">"}, claim_min_idle_time=-1)
    with pytest.raises(DataError, match="0"):
        r.xread({"s": 0}, max_size=0)


def test_geoadd_takes_the_list_form_and_the_flat_form() -> None:
    r = Stub()
    r.geoadd("g", [13.36, 38.11, "Palermo"], nx=True, ch=True)
    assert r.last[0] == ("GEOADD", "g", "NX", "CH", 13.36, 38.11, "Palermo")
    r.geoadd("g", 13.36, 38.11, "Palermo")
    assert r.last[0] == ("GEOADD", "g", 13.36, 38.11, "Palermo")
    r.geoadd("g", 13.36, 38.11, "Palermo", 15.08, 37.50, "Catania")
    assert r.last[0] == ("GEOADD", "g", 13.36, 38.11, "Palermo", 15.08, 37.50, "Catania")
    r.geoadd("g", "13.36", "38.11", "Palermo", ch=True)
    assert r.last[0] == ("GEOADD", "g", "CH", "13.36", "38.11", "Palermo")
    with pytest.raises(DataError, match="4 values"):
        r.geoadd("g", 1, 2, "a", 4)
    with pytest.raises(DataError, match="2 values"):
        r.geoadd("g", [1, 2])
    with pytest.raises(DataError, match="nx"):
        r.geoadd("g", [1, 2, "a"], nx=True, xx=True)


# --- routing table entries -------------------------------------------------------------------------
def test_new_commands_have_table_entries_with_their_routes() -> None:
    route = {name: COMMANDS[name].route for name in COMMANDS}
    for name in ("HGETDEL", "HGETEX", "HSETEX", "DEBUG OBJECT"):
        assert route[name] is Route.SLOT, name
    assert COMMANDS["DEBUG OBJECT"].first_key == 2
    assert slot_of(COMMANDS["DEBUG OBJECT"], ("DEBUG", "OBJECT", "k"), "utf-8") == key_slot("k")
    assert COMMANDS["DEBUG"].route is Route.DEFAULT_NODE
    assert not is_idempotent(COMMANDS["HGETDEL"], ("HGETDEL", "h", "FIELDS", 1, "a"))
    assert is_idempotent(COMMANDS["HSETEX"], ("HSETEX", "h", "FIELDS", 1, "a", 1))
    for name in ("CLUSTER DELSLOTS", "CLUSTER DELSLOTSRANGE"):
        assert route[name] is Route.SLOT_ARG and COMMANDS[name].slot_arg == 2
    for name in ("CLUSTER COUNT-FAILURE-REPORTS", "SLOWLOG GET", "LATENCY HISTOGRAM",
                 "CLIENT PAUSE", "MEMORY DOCTOR", "ACL SETUSER", "ACL DELUSER", "BGSAVE", "SAVE"):
        assert route[name] is Route.DEFAULT_NODE, name
    assert route["ROLE"] is Route.ALL_NODES
    for name in ("BGREWRITEAOF", "CLUSTER MEET", "CLUSTER SETSLOT", "CLUSTER FORGET",
                 "CLUSTER ADDSLOTS"):
        assert route[name] is Route.NODE_ONLY, name
    for name in ("WAIT", "WAITAOF", "READONLY", "CLIENT NO-EVICT"):
        assert route[name] is Route.CONNECTION, name


# --- callbacks -------------------------------------------------------------------------------------
def test_slowlog_get_entries() -> None:
    reply = [[1, 1700000000, 15, [b"SET", b"k", b"v"], b"127.0.0.1:5", b"name"],
             [2, "1700000001", "3", "complexity-info", ["GET", "k"]]]
    assert parse_slowlog_get(reply) == [
        {"id": 1, "start_time": 1700000000, "duration": 15, "command": b"SET k v",
         "client_address": b"127.0.0.1:5", "client_name": b"name"},
        {"id": 2, "start_time": 1700000001, "duration": 3, "complexity": "complexity-info",
         "command": "GET k"}]
    assert Stub([reply[:1]]).slowlog_get()[0]["command"] == b"SET k v"


def test_acl_getuser_and_log_shapes() -> None:
    reply = [b"flags", [b"on", b"allkeys"], b"passwords", [], b"commands", b"+@all -debug",
             b"keys", b"~* %R~r*", b"channels", b"", b"selectors", [[b"commands", b"+get"]]]
    user = parse_acl_getuser(reply)
    assert user is not None
    assert user["flags"] == ["on", "allkeys"] and user["enabled"] is True
    assert user["commands"] == ["-debug"] and user["categories"] == ["+@all"]
    assert user["keys"] == ["~*", "%R~r*"] and user["channels"] == []
    assert user["selectors"] == [["commands", "+get"]]
    assert parse_acl_getuser(None) is None
    log = parse_acl_log([[b"count", 1, b"reason", b"auth", b"age-seconds", b"1.5",
                          b"client-info", b"id=3 addr=1.2.3.4:5 db=0"]])
    assert log == [{"count": 1, "reason": "auth", "age-seconds": 1.5,
                    "client-info": {"id": 3, "addr": "1.2.3.4:5", "db": 0}}]
    assert parse_acl_log(b"OK") is True


def test_debug_object_and_admin_status_callbacks() -> None:
    parsed = parse_debug_object(b"Value at:0x7f refcount:1 encoding:embstr serializedlength:2 "
                                b"lru:123 lru_seconds_idle:4")
    assert parsed == {"type": "Value", "at": "0x7f", "refcount": 1, "encoding": "embstr",
                      "serializedlength": 2, "lru": 123, "lru_seconds_idle": 4}
    assert Stub([b"Background saving started"]).bgsave() is True
    assert Stub([b"OK"]).cluster_meet("h", 1, target_nodes=NODE) is True
    assert Stub([b"OK"]).acl_setuser("u", target_nodes=NODE) is True
    assert Stub([[[b"name", b"m", b"ver", 1]]]).module_list() == [{b"name": b"m", b"ver": 1}]


@pytest.mark.parametrize("call, args", [
    (lambda r: r.client_unblock(7, error=True), ("CLIENT", "UNBLOCK", 7, "ERROR")),
    (lambda r: r.client_getredir(), ("CLIENT", "GETREDIR")),
    (lambda r: r.client_setinfo("lib-name", "x"), ("CLIENT", "SETINFO", "lib-name", "x")),
    (lambda r: r.client_trackinginfo(), ("CLIENT", "TRACKINGINFO")),
    (lambda r: r.module_load("/m.so", "a"), ("MODULE", "LOAD", "/m.so", "a")),
    (lambda r: r.module_loadex("/m.so", options=["k", "v"], args=["a"]),
     ("MODULE", "LOADEX", "/m.so", "CONFIG", "k", "v", "ARGS", "a")),
    (lambda r: r.module_unload("m"), ("MODULE", "UNLOAD", "m")),
    (lambda r: r.select(0), ("SELECT", 0)),
    (lambda r: r.move("k", 1), ("MOVE", "k", 1)),
    (lambda r: r.replicaof("NO", "ONE"), ("REPLICAOF", "NO", "ONE")),
    (lambda r: r.slaveof(), ("SLAVEOF", "NO", "ONE")),
    (lambda r: r.slaveof("h", 1), ("SLAVEOF", "h", 1)),
    (lambda r: r.pubsub_shardchannels(), ("PUBSUB", "SHARDCHANNELS", "*")),
    (lambda r: r.pubsub_shardnumsub("a", "b"), ("PUBSUB", "SHARDNUMSUB", "a", "b")),
    (lambda r: r.migrate("h", 1, ["{t}a", "{t}b"], 0, 100, copy=True, auth="pw"),
     ("MIGRATE", "h", 1, "", 0, 100, "COPY", "AUTH", "pw", "KEYS", "{t}a", "{t}b")),
])
def test_node_administration_commands_build_redis_py_arguments(call: Any,
                                                                args: Tuple[Any, ...]) -> None:
    r = Stub()
    call(r)
    assert r.last == (args, {})
    spec = lookup(args)
    assert spec is not None
    if args[0] == "MIGRATE":
        assert slot_of(spec, args, "utf-8") == key_slot("{t}a")


def test_shutdown_returns_none_once_the_node_hangs_up() -> None:
    from clustercore.errors import ConnectionError

    class HangsUp(Stub):
        def execute_command(self, *args: Any, **options: Any) -> Any:
            super().execute_command(*args, **options)
            raise ConnectionError("closed")

    r = HangsUp()
    assert r.shutdown(nosave=True, now=True, target_nodes=NODE) is None
    assert r.last == (("SHUTDOWN", "NOSAVE", "NOW"), {"target_nodes": NODE})
    with pytest.raises(ResponseError, match="still answers"):
        Stub().shutdown(target_nodes=NODE)
    with pytest.raises(DataError, match="nosave"):
        Stub().shutdown(save=True, nosave=True)
    with pytest.raises(DataError, match="MIGRATE"):
        Stub().migrate("h", 1, [], 0, 10)


# --- through RedisCluster on the FakeCluster -------------------------------------------------------
def test_routing_through_the_client_on_the_fake() -> None:
    """Without target_nodes: node administration is refused before anything is sent, a command
    the server lacks fails with the server's own error, and the newer stream keywords reach the
    key's owner."""
    from clustercore.errors import RedisClusterException
    from clustercore.testing import FakeCluster
    from tests.unit.fakeclient import make_client

    fake = FakeCluster()
    rc, _ = make_client(fake)
    try:
        for call in (lambda: rc.acl_setuser("u"), lambda: rc.bgsave(), lambda: rc.save(),
                     lambda: rc.cluster_meet("127.0.0.1", 1), lambda: rc.wait(0, 1),
                     lambda: rc.cluster_addslots(None, 1), lambda: rc.client_no_evict("on")):
            with pytest.raises(RedisClusterException):
                call()
        rc.hset("h", "f", "v")
        with pytest.raises(ResponseError, match="unknown command"):
            rc.hexpire("h", 10, "f")  # the fake speaks Redis 7.0: HEXPIRE is not there
        assert rc.hgetall("h") == {b"f": b"v"}
        assert rc.xadd("s", {"f": 1}, maxlen=5, approximate=False) and rc.xlen("s") == 1
        assert rc.xadd("missing", {"f": 1}, nomkstream=True) is None
        assert rc.xtrim("s", minid="0-0", limit=None, approximate=False) == 0
    finally:
        rc.close()


def test_client_kill_parses_to_true_or_the_count_in_both_builds() -> None:
    """+OK is True itself (not 1: the compiled build once turned it into an int)."""
    from clustercore._commands.callbacks import parse_client_kill

    assert parse_client_kill(b"OK") is True
    assert parse_client_kill("OK") is True
    assert parse_client_kill(3) == 3 and type(parse_client_kill(3)) is int
