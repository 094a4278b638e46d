"""Issue 11 item 5 against real redis-server processes: the added server/admin, cluster, hash-field
and stream commands, on a one-node cluster (every command reaches the one node, as with
``target_nodes=``) and on the shared 3+3 cluster through RedisCluster (routing without
``target_nodes``: fan-out, key and slot routes, refusals).

Commands newer than the local server (hash-field expiry is Redis 7.4, HGETDEL/HGETEX/HSETEX 8.0,
SET IFEQ 8.4, XADD ref_policy 8.2 ...) are checked either way: on an older server they must fail
with the server's own error (the command reached it in the form redis-py sends), on a newer one
they must work. Nothing here skips.
"""

from __future__ import annotations

import time
from typing import Any, Iterator, Tuple

import pytest

from clustercore import RedisCluster, key_slot
from clustercore._commands.specs import Route, lookup, normalize_args
from clustercore.errors import ClusterCoreError, RedisClusterException, ResponseError
from clustercore.testing import LocalCluster

from .test_api_real import OneNode
from .test_api_real import one_node as one_node  # the module's one-node cluster fixture


class TargetedNode(OneNode):
    """OneNode that also sends what needs a named node (``target_nodes=``): the one node is
    every target, so NODE_ONLY and connection-bound commands run there when a target is given."""

    def execute_command(self, *args: Any, **options: Any) -> Any:
        if options.pop("target_nodes", None) is None:
            return super().execute_command(*args, **options)
        args = normalize_args(args)
        spec = lookup(args)
        assert spec is not None, args
        name = spec.name
        reply = self._parse_reply(name, self.conn.execute(*args), **options)
        if spec.route in (Route.ALL_PRIMARIES, Route.ALL_NODES):
            return self._merge_results(name, spec.merge, {self.node_name: reply}, **options)
        return reply


def version(info: Any) -> Tuple[int, ...]:
    text = info["redis_version"] if isinstance(info, dict) else info
    return tuple(int(p) for p in str(text).split(".")[:2])


@pytest.fixture(params=[False, True], ids=["bytes", "decoded"])
def r(request: pytest.FixtureRequest) -> Iterator[TargetedNode]:
    node = request.getfixturevalue("one_node").nodes[0]
    client = TargetedNode(node.host, node.port, decode_responses=request.param)
    client.flushall()
    yield client
    client.close()


ME = "the-node"


def server_version(r: OneNode) -> Tuple[int, ...]:
    return version(r.info("server"))


def test_acl_commands(r: TargetedNode) -> None:
    assert r.acl_setuser("bob", enabled=True, passwords=["+pw"], categories=["+@read"],
                         commands=["-keys"], keys=["app:*"], channels=["news"],
                         target_nodes=ME) is True
    user = r.acl_getuser("bob")
    assert user["enabled"] is True and "on" in user["flags"]
    assert "+@read" in user["categories"] and "-keys" in user["commands"]
    assert user["keys"] == ["~app:*"] and user["channels"] == ["&news"]
    assert "bob" in r.acl_users() and any("bob" in line for line in r.acl_list())
    assert r.acl_whoami() == "default"
    assert "read" in r.acl_cat() and "get" in r.acl_cat("read")
    assert len(r.acl_genpass()) == 64 and len(r.acl_genpass(32)) == 8
    assert r.acl_dryrun("bob", "get", "app:1") == r.v("OK")
    assert "no permissions" in str(r.acl_dryrun("bob", "set", "app:1", "v"))
    assert any("GETUSER" in line for line in r.acl_help())
    # a denied AUTH lands in the ACL log
    try:
        r.conn.execute("AUTH", "bob", "wrong")
    except ResponseError:
        pass
    log = r.acl_log(1)
    assert log and log[0]["reason"] == "auth" and isinstance(log[0]["age-seconds"], float)
    assert isinstance(log[0]["client-info"], dict)
    assert r.acl_log_reset() is True
    assert r.acl_log() == []
    assert r.acl_deluser("bob", target_nodes=ME) == 1
    assert r.acl_getuser("bob") is None


def test_slowlog_latency_memory_role(r: TargetedNode) -> None:
    r.config_set("slowlog-log-slower-than", 0)
    try:
        r.set("k", "v")
        entries = r.slowlog_get(5)
        assert entries and {"id", "start_time", "duration", "command"} <= set(entries[0])
        assert isinstance(entries[0]["command"], str if r.decode else bytes)
        assert r.slowlog_len() >= 1
        assert r.slowlog_reset() is True
    finally:
        r.config_set("slowlog-log-slower-than", 10000)
    assert r.slowlog_len() <= 2
    r.config_set("latency-monitor-threshold", 1)
    try:
        r.conn.execute("DEBUG", "SLEEP", "0.01")
        latest = r.latency_latest()
        assert latest and latest[0][0] == r.v("command")
        history = r.latency_history("command")
        assert history and history[0][1] >= 1
        assert "command" in str(r.latency_doctor()) or r.latency_doctor()
        assert r.latency_graph("command")
        assert r.latency_reset() >= 1
    finally:
        r.config_set("latency-monitor-threshold", 0)
    histogram = r.latency_histogram("set")
    assert histogram
    assert r.memory_doctor()
    assert r.memory_malloc_stats()
    assert r.memory_purge() is True
    assert r.memory_help()
    assert r.role()[r.node_name][0] == r.v("master")
    assert r.module_list() == []
    assert r.lolwut(5, 1)


def test_persistence_debug_wait(r: TargetedNode) -> None:
    def idle() -> None:  # polls the server's state, with a deadline
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            state = r.info("persistence")
            if not (state["rdb_bgsave_in_progress"] or state["aof_rewrite_in_progress"]):
                return
            time.sleep(0.01)
        raise AssertionError("background save or rewrite still running after 10 s")

    r.set("k", "v")
    idle()
    assert r.save(target_nodes=ME) is True
    before = r.lastsave()
    assert r.bgsave(target_nodes=ME) is True
    idle()
    assert r.lastsave() >= before
    assert r.bgrewriteaof(target_nodes=ME) is True
    idle()
    debug = r.debug_object("k")
    assert debug["type"] == "Value" and debug["refcount"] >= 1 and "encoding" in debug
    assert r.wait(0, 100, target_nodes=ME) == 0
    if server_version(r) >= (7, 2):
        assert r.waitaof(0, 0, 100, target_nodes=ME) == [0, 0]
    else:
        with pytest.raises(ResponseError, match="unknown command"):
            r.waitaof(0, 0, 100, target_nodes=ME)
    with pytest.raises(ClusterCoreError, match="BGREWRITEAOF"):
        r.bgrewriteaof()  # without a target: refused, not sent to an arbitrary node


def test_client_commands(r: TargetedNode) -> None:
    host, port = r.node_name.rsplit(":", 1)
    victim = OneNode(host, int(port), decode_responses=False)
    try:
        victim.conn.execute("CLIENT", "SETNAME", "victim")
        clients = r.client_list()
        addr = next(c["addr"] for c in clients if c["name"] == "victim")
        assert r.client_kill(addr) is True
        with pytest.raises(ResponseError, match="No such client"):
            r.client_kill(addr)
    finally:
        victim.close()
    victim = OneNode(host, int(port), decode_responses=False)
    try:
        victim_id = victim.conn.execute("CLIENT", "ID")
        assert r.client_kill_filter(_id=victim_id, _type="normal", skipme=True,
                                    user="default") == 1
        assert r.client_kill_filter(_id=victim_id) == 0
    finally:
        victim.close()
    assert r.client_pause(10) is True and r.client_unpause() is True
    assert r.client_pause(10, all=False) is True and r.client_unpause() is True
    with pytest.raises(ClusterCoreError, match="NO-EVICT"):
        r.client_no_evict("on")
    assert r.command_list(pattern="hexists") == [r.v("hexists")]
    assert r.command_getkeysandflags("set", "k", "v")[0][0] == r.v("k")
    assert r.command_docs("get")


def test_function_dump_restore_stats(r: TargetedNode) -> None:
    r.function_flush()
    r.function_load("#!lua name=lib1\nredis.register_function('f1', function() return 1 end)")
    payload = r.function_dump()
    assert isinstance(payload, bytes)
    r.function_flush()
    assert r.function_restore(payload) is True
    assert r.fcall("f1", 0) == 1
    with pytest.raises(ResponseError):
        r.function_restore(payload)  # APPEND: the library exists
    assert r.function_restore(payload, "REPLACE") is True
    (stats,) = r.function_stats().values()
    assert stats
    with pytest.raises(ResponseError, match="NOTBUSY"):
        r.function_kill()
    with pytest.raises(ResponseError, match="NOTBUSY"):
        r.script_kill()
    r.function_flush()


def test_cluster_inspection_on_a_node(r: TargetedNode) -> None:
    myid = r.cluster_myid(ME)
    assert len(myid) == 40
    assert r.cluster_keyslot("k") == key_slot("k")
    r.set("k", "v")
    assert r.cluster_countkeysinslot(key_slot("k")) == 1
    assert r.cluster_getkeysinslot(key_slot("k"), 5) == [r.v("k")]
    assert r.cluster_count_failure_report(myid) == 0
    assert r.cluster_links(ME) == []
    assert r.cluster_info(ME)["cluster_state"] == "ok"
    assert r.cluster_shards(ME) and r.cluster_slots(ME)
    assert r.cluster_save_config(ME) is True
    assert r.cluster_bumpepoch(ME)
    if server_version(r) >= (7, 2):
        assert len(r.cluster_myshardid(ME)) == 40
    else:
        with pytest.raises(ResponseError):
            r.cluster_myshardid(ME)
    with pytest.raises(ResponseError, match="know"):
        r.cluster_setslot(ME, "f" * 40, 1, "NODE")  # an unknown node: the server's own check
    with pytest.raises(ResponseError):
        r.cluster_addslots(ME, 1)  # already assigned
    with pytest.raises(ResponseError, match="myself"):
        r.cluster_forget(myid, target_nodes=ME)


def test_hash_field_expiry_as_the_server_supports(r: TargetedNode) -> None:
    r.hset("h", mapping={"a": 1, "b": 2})
    if server_version(r) >= (7, 4):
        assert r.hexpire("h", 100, "a", "missing") == [1, -2]
        assert 0 < r.httl("h", "a")[0] <= 100 and r.hpttl("h", "b") == [-1]
        assert r.hpexpire("h", 100_000, "b", nx=True) == [1]
        assert r.hexpiretime("h", "a")[0] > time.time()
        assert r.hpexpiretime("h", "b")[0] > time.time() * 1000
        assert r.hexpireat("h", int(time.time()) + 50, "a", lt=True) == [1]
        assert r.hpexpireat("h", int(time.time() * 1000) + 50_000, "b", gt=True) == [0]
        assert r.hpersist("h", "a", "b") == [1, 1]
    else:
        for call in (lambda: r.hexpire("h", 100, "a"), lambda: r.httl("h", "a"),
                     lambda: r.hpersist("h", "a"), lambda: r.hpexpireat("h", 1, "a")):
            with pytest.raises(ResponseError, match="unknown command"):
                call()
    if server_version(r) >= (8, 0):
        assert r.hsetex("h", "c", 3, ex=100) == 1
        assert r.hgetex("h", "c", persist=True) == [r.v("3")]
        assert r.hgetdel("h", "c", "zz") == [r.v("3"), None]
    else:
        for call in (lambda: r.hsetex("h", "c", 3, ex=100), lambda: r.hgetex("h", "a"),
                     lambda: r.hgetdel("h", "a")):
            with pytest.raises(ResponseError, match="unknown command"):
                call()
    assert r.hgetall("h") == {r.v("a"): r.v("1"), r.v("b"): r.v("2")}  # nothing was changed


def test_newer_set_and_stream_keywords_as_the_server_supports(r: TargetedNode) -> None:
    r.set("k", "old")
    if server_version(r) >= (8, 4):
        assert r.set("k", "new", ifeq="old") is True and r.set("k", "x", ifeq="old") is None
    else:
        with pytest.raises(ResponseError, match="syntax"):
            r.set("k", "new", ifeq="old")
        assert r.get("k") == r.v("old")
    r.xadd("s", {"f": 1})
    if server_version(r) >= (8, 2):
        assert r.xadd("s", {"f": 2}, ref_policy="KEEPREF")
        assert r.xtrim("s", maxlen=1, approximate=False, ref_policy="DELREF") == 1
    else:
        with pytest.raises(ResponseError):
            r.xadd("s", {"f": 2}, ref_policy="KEEPREF")
        with pytest.raises(ResponseError):
            r.xtrim("s", maxlen=1, ref_policy="DELREF")
        assert r.xlen("s") == 1
    # the keywords every supported server has keep working
    assert r.xadd("s", {"f": 3}, nomkstream=True, minid="0-1", limit=None)
    r.xgroup_create("s", "g", id="0")
    assert len(r.xreadgroup("g", "c", {"s": ">"}, count=1, noack=True)[0][1]) == 1
    assert len(r.xread({"s": "0"}, count=5, block=10)[0][1]) == r.xlen("s")


def test_geoadd_flat_and_list_forms(r: TargetedNode) -> None:
    assert r.geoadd("g", 13.361389, 38.115556, "Palermo") == 1
    assert r.geoadd("g", 15.087269, 37.502669, "Catania", 12.5, 41.9, "Rome") == 2
    assert r.geoadd("g", [13.361389, 38.115556, "Palermo"], nx=True) == 0
    assert r.geoadd("g", [12.6, 41.9, "Rome"], xx=True, ch=True) == 1
    assert round(r.geodist("g", "Palermo", "Catania", "km")) == 166


# --- the 3+3 cluster, through RedisCluster without target_nodes --------------------------------------
@pytest.fixture
def rc(cluster: LocalCluster) -> Iterator[RedisCluster]:
    client = RedisCluster(startup_nodes=cluster.startup_nodes, decode_responses=True)
    yield client
    client.close()


def test_cluster_routes_without_target_nodes(rc: RedisCluster, cluster: LocalCluster) -> None:
    names = {f"{n.host}:{n.port}" for n in cluster.nodes}
    # redis-py's routing: the default node's one reply; target_nodes= for a dict per node
    assert isinstance(rc.slowlog_get(1), list) and isinstance(rc.latency_latest(), list)
    assert set(rc.slowlog_get(1, target_nodes=rc.ALL_NODES)) == names
    assert set(rc.latency_latest(target_nodes=rc.ALL_NODES)) == names
    assert set(rc.role()) == names  # ROLE: every node, deliberately (redis-py has no route)
    assert isinstance(rc.slowlog_len(), int)
    assert sum(1 for reply in rc.role().values() if reply[0] == "master") == 3
    assert isinstance(rc.memory_doctor(), str)
    default = rc.get_default_node()
    assert rc.info("server")["tcp_port"] == default.port
    others = [n for n in rc.get_nodes() if n.name != default.name]
    assert rc.acl_setuser("x") is True  # on the default node only, as in redis-py
    try:
        assert rc.acl_getuser("x") is not None
        assert all(rc.acl_getuser("x", target_nodes=n) is None for n in others)
    finally:
        assert rc.acl_deluser("x") == 1
    keys = ["a", "b", "c", "d", "e"]
    assert len({key_slot(k) for k in keys}) > 1
    for key in keys:
        rc.set(key, "v")
        assert rc.debug_object(key)["type"] == "Value"  # asked of the key's owner
    slot = key_slot("a")
    assert rc.cluster_countkeysinslot(slot) >= 1
    assert rc.cluster_count_failure_report(rc.cluster_myid()) == 0
    assert rc.cluster_info()["cluster_state"] == "ok"
    for call in (lambda: rc.bgrewriteaof(),
                 lambda: rc.cluster_meet("127.0.0.1", 1), lambda: rc.wait(0, 10),
                 lambda: rc.cluster_setslot_stable(slot)):
        with pytest.raises(RedisClusterException):
            call()
    newer = version(rc.info("server")) >= (7, 4)
    with pytest.raises(ResponseError, match="WRONGTYPE" if newer else "unknown command"):
        rc.hexpire("a", 10, "f")  # reaches the key's owner either way
    rc.delete(*keys)


def test_client_kill_goes_to_the_default_node_or_the_target(rc: RedisCluster,
                                                            cluster: LocalCluster) -> None:
    """CLIENT KILL goes where redis-py sends it: the default node, or ``target_nodes``."""
    default = rc.get_default_node()
    node = next(n for n in cluster.nodes if f"{n.host}:{n.port}" != default.name)
    victim = OneNode(node.host, node.port, decode_responses=True)
    try:
        victim.conn.execute("CLIENT", "SETNAME", "victim-rc")
        target = rc.get_node(node.host, node.port)
        clients = rc.client_list(target_nodes=target)
        addr = next(c["addr"] for c in clients if c.get("name") == "victim-rc")
        with pytest.raises(ResponseError, match="No such client"):
            rc.client_kill(addr)  # asked of the default node, which does not have it
        assert rc.client_kill(addr, target_nodes=target) is True
        with pytest.raises(ResponseError, match="No such client"):
            rc.client_kill(addr, target_nodes=target)
    finally:
        victim.close()
