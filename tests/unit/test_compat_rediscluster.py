"""clustercore.compat.rediscluster on a FakeCluster: redis-py-cluster 2.1.3's module layout and
names, the per-node (dict-shaped) replies and where they are sent, redis-py 3.5 signatures,
the helpers in ``utils`` and ``crc``, pub/sub's read-before-subscribe error, and the
emulations the fake can run (the rest, which need Lua and DUMP/RESTORE, are covered on real
clusters in tests/integration/test_compat_rediscluster_real.py).
"""

from __future__ import annotations

import importlib
from typing import Any, Dict, Iterator, List

import pytest

import clustercore
from clustercore import NodeAddress, key_slot
from clustercore.compat import rediscluster
from clustercore.compat.rediscluster import crc, crossslot, utils
from clustercore.compat.rediscluster.client import command_name
from clustercore.errors import DataError, RedisClusterException, RedisError
from clustercore.testing import FakeCluster

RC = rediscluster.RedisCluster


@pytest.fixture
def fake() -> FakeCluster:
    return FakeCluster()


@pytest.fixture
def rc(fake: FakeCluster) -> Iterator[rediscluster.RedisCluster]:
    client = RC(startup_nodes=fake.startup_nodes, transport=fake.network, clock=fake.clock,
                background_refresh=False, refresh_min_interval=0, socket_timeout=1.0,
                sleep=fake.clock.advance)
    yield client
    client.close()


def names(fake: FakeCluster, primaries_only: bool = False) -> set[str]:
    return {n.address.name for n in fake.nodes if not primaries_only or n.role == "master"}


def seen_by(fake: FakeCluster, command: bytes) -> List[NodeAddress]:
    return [n.address for n in fake.nodes
            if any(c[0].upper() == command for c in fake.commands_seen(n))]


def keys_in_other_slots(count: int) -> List[str]:
    out: List[str] = []
    for i in range(1000):
        name = f"k{i}"
        if key_slot(name) not in {key_slot(k) for k in out}:
            out.append(name)
        if len(out) == count:
            return out
    raise AssertionError("not enough slots")


# --- the module layout -------------------------------------------------------------------------
def test_module_layout_and_names_are_redis_py_clusters() -> None:
    for module in ("client", "connection", "exceptions", "nodemanager", "pipeline", "pubsub",
                   "utils", "crc"):
        importlib.import_module(f"clustercore.compat.rediscluster.{module}")
    assert rediscluster.__version__ == "2.1.3" and rediscluster.VERSION == (2, 1, 3)
    for name in ("RedisCluster", "ClusterPipeline", "ClusterConnectionPool",
                 "ClusterBlockingConnectionPool", "ClusterConnection", "RedisClusterException",
                 "RedisClusterError", "ClusterDownException", "ClusterError",
                 "ClusterCrossSlotError", "ClusterDownError", "AskError", "TryAgainError",
                 "MovedError", "MasterDownError"):
        assert name in rediscluster.__all__ and hasattr(rediscluster, name), name
    assert issubclass(RC, clustercore.RedisCluster)
    assert rediscluster.connection.ClusterConnectionPool is clustercore.ClusterConnectionPool
    assert (rediscluster.connection.ClusterReadOnlyConnectionPool
            is clustercore.ClusterReadOnlyConnectionPool)


def test_exceptions_are_clustercores_classes() -> None:
    ex = rediscluster.exceptions
    for name in ("AskError", "MovedError", "TryAgainError", "ClusterDownError",
                 "MasterDownError", "ClusterCrossSlotError", "ClusterError",
                 "RedisClusterError", "SlotNotCoveredError", "RedisClusterConfigError",
                 "ResponseError", "ConnectionError", "TimeoutError"):
        assert getattr(ex, name) is getattr(clustercore.errors, name), name
    assert ex.RedisClusterException is clustercore.errors.ClusterCoreError
    assert ex.ClusterDownException is clustercore.errors.ClusterDownError
    moved = clustercore.errors.ResponseError("MOVED 3999 127.0.0.1:6381")
    with pytest.raises(ex.MovedError):
        raise moved
    assert issubclass(ex.CrossSlotEmulationError, ex.RedisClusterError)
    err = ex.CrossSlotEmulationError("RENAME", ("a", "b"), "both keys hold it")
    assert err.command == "RENAME" and err.keys == ("a", "b") and "both keys" in str(err)


def test_nodemanager_is_resolved_on_use() -> None:
    module = rediscluster.nodemanager
    try:
        importlib.import_module("clustercore._pool.nodemanager")
    except ImportError:
        with pytest.raises(ImportError, match="NodeManager"):
            _ = module.NodeManager
    else:
        assert module.NodeManager.__name__ == "NodeManager"
    with pytest.raises(AttributeError):
        _ = module.NoSuchName


# --- crc and utils -------------------------------------------------------------------------------
def test_crc16_is_xmodem_and_gives_the_slot() -> None:
    assert crc.crc16(b"123456789") == 0x31C3
    for key in (b"foo", b"user:1000", b""):
        assert crc.crc16(key) % 16384 == key_slot(key)
    with pytest.raises(TypeError, match="bytes"):
        crc.crc16("text")  # type: ignore[arg-type]


def test_utils_helpers() -> None:
    assert utils.string_keys_to_dict(["A", "B"], 1) == {"A": 1, "B": 1}
    assert utils.dict_merge({"a": 1}, {"a": 2, "b": 3}) == {"a": 2, "b": 3}
    with pytest.raises(ValueError, match="dict"):
        utils.dict_merge({"a": 1}, [("b", 2)])  # type: ignore[arg-type]
    assert sorted(utils.merge_result("KEYS", {"n1": [b"a", b"b"], "n2": [b"b", b"c"]})) == [
        b"a", b"b", b"c"]
    assert utils.first_key("X", {"n1": 7}) == 7
    with pytest.raises(RedisClusterException, match="More then 1"):
        utils.first_key("X", {"n1": 1, "n2": 2})
    with pytest.raises(RedisClusterException, match="blocked"):
        utils.blocked_command(None, "BITOP")
    res = {"n1": [(b"c", 1), (b"d", 2)], "n2": [(b"c", 3)]}
    assert utils.parse_pubsub_numsub("PUBSUB NUMSUB", res) == [(b"c", 4), (b"d", 2)]
    assert utils.parse_pubsub_numsub("PUBSUB NUMSUB", res, aggregate=False) is res
    assert utils.parse_pubsub_numpat("PUBSUB NUMPAT", {"n1": 1, "n2": 2}) == 3
    assert sorted(utils.parse_pubsub_channels("C", {"n1": [b"x"], "n2": [b"x", b"y"]})) == [
        b"x", b"y"]
    assert utils.bool_ok(b"OK") is True
    slots = utils.parse_cluster_slots([[0, 5460, [b"10.0.0.1", 7000], [b"", 7003]]],
                                      current_host="10.9.9.9")
    assert slots == {(0, 5460): {"master": ("10.0.0.1", 7000), "slaves": [("10.9.9.9", 7003)]}}


def test_command_name_joins_subcommands() -> None:
    assert command_name(("PING",)) == "PING"
    assert command_name(("config", "get", "x")) == "CONFIG GET"
    assert command_name((b"CLIENT", b"list")) == "CLIENT LIST"
    assert command_name(("CLUSTER INFO",)) == "CLUSTER INFO"
    assert command_name(("GET", "config")) == "GET"


# --- per-node replies ---------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "args", "command", "primaries_only"), [
    ("ping", (), b"PING", False),
    ("echo", ("hi",), b"ECHO", False),
    ("dbsize", (), b"DBSIZE", False),
    ("time", (), b"TIME", False),
    ("info", (), b"INFO", False),
    ("config_get", ("maxmemory",), b"CONFIG", False),
    ("client_list", (), b"CLIENT", False),
    ("flushdb", (), b"FLUSHDB", True),
])
def test_broadcasts_answer_per_node_from_their_nodes(
        fake: FakeCluster, rc: rediscluster.RedisCluster, method: str, args: Any,
        command: bytes, primaries_only: bool) -> None:
    rc.get("warm")  # discovery first, so that only the command itself is seen below
    fake.clear_commands_seen()
    result = getattr(rc, method)(*args)
    expected = names(fake, primaries_only)
    assert isinstance(result, dict) and set(result) == expected
    assert {a.name for a in seen_by(fake, command)} == expected


def test_per_node_reply_values(fake: FakeCluster, rc: rediscluster.RedisCluster) -> None:
    assert set(rc.ping().values()) == {True}
    assert set(rc.echo("x").values()) == {b"x"}
    rc.set("a", "1")
    assert sum(rc.dbsize().values()) >= 1
    assert all(isinstance(v, dict) for v in rc.info().values())


def test_an_explicit_target_or_a_result_callback_wins(
        fake: FakeCluster, rc: rediscluster.RedisCluster) -> None:
    node = rc.get_primaries()[0]
    assert rc.ping(target_nodes=node) == {node.name: True}
    rc.set_result_callback("ping", lambda command, res, **kw: len(res))
    assert rc.ping() == len(fake.nodes)


def test_plain_routes_stay_clustercores(fake: FakeCluster, rc: rediscluster.RedisCluster) -> None:
    keys = keys_in_other_slots(30)  # deterministic names; every primary holds some
    for key in keys:
        rc.set(key, "1")
    assert sorted(rc.keys()) == sorted(k.encode() for k in keys)  # no duplicates: primaries
    for _ in range(5):  # one random node's answer, whichever node it is
        assert rc.randomkey() in {k.encode() for k in keys}
    assert RC.NODES_FLAGS["BITOP"] == "blocked" and RC.NODES_FLAGS["RANDOMKEY"] == "random"
    assert RC.RESULT_CALLBACKS["KEYS"] is utils.merge_result


# --- signatures ----------------------------------------------------------------------------------
def test_redis_py_35_signatures(fake: FakeCluster, rc: rediscluster.RedisCluster) -> None:
    # the fake has no GEO commands: check what goes on the wire (the real cluster runs it in
    # tests/integration/test_compat_rediscluster_real.py)
    fake.clear_commands_seen()
    for call in (lambda: rc.geoadd("g", 13.36, 38.11, "Palermo", 15.08, 37.5, "Catania"),
                 lambda: rc.geoadd("g", [13.36, 38.11, "Palermo"])):
        with pytest.raises(clustercore.errors.ResponseError, match="GEOADD"):
            call()
    sent = [c for n in fake.nodes for c in fake.commands_seen(n) if c[0] == b"GEOADD"]
    assert sent == [[b"GEOADD", b"g", b"13.36", b"38.11", b"Palermo", b"15.08", b"37.5",
                     b"Catania"], [b"GEOADD", b"g", b"13.36", b"38.11", b"Palermo"]]
    with pytest.raises(DataError, match="lon, lat and name"):
        rc.geoadd("g", 1.0, 2.0)
    assert rc.mset({"a": "1"}, b="2") is True
    assert rc.mget("a", "b") == [b"1", b"2"]
    with pytest.raises(RedisError, match="single dict"):
        rc.mset({"a": 1}, {"b": 2})
    assert rc.lpushx("nolist", "v") == 0
    rc.lpush("list", "x")
    assert rc.lpushx(name="list", value="y") == 2
    pipe = rc.pipeline(None, None, True)
    assert isinstance(pipe, rediscluster.ClusterPipeline)
    with pytest.raises(RedisClusterException, match="shard_hint"):
        rc.pipeline(shard_hint="x")
    assert isinstance(rc.pipeline(transaction=True), clustercore.ClusterPipeline)


def test_from_url_positional_and_unix_refused(fake: FakeCluster) -> None:
    with pytest.raises(RedisClusterException, match="Unix sockets"):
        RC.from_url("unix:///tmp/redis.sock")
    node = fake.startup_nodes[0]
    url = f"redis://{node['host']}:{node['port']}/0"
    client = RC.from_url(url, None, True, False, False, transport=fake.network,
                         clock=fake.clock, background_refresh=False)
    try:
        assert isinstance(client, RC)
        client.set("u", "1")
        assert client.get("u") == b"1"
    finally:
        client.close()


# --- emulations the fake can run -----------------------------------------------------------------
def test_smove_and_set_algebra_across_slots(rc: rediscluster.RedisCluster) -> None:
    a, b, c = keys_in_other_slots(3)
    rc.sadd(a, 1, 2, 3)
    rc.sadd(b, 3, 4)
    assert rc.sunion(a, b) == {b"1", b"2", b"3", b"4"}
    assert rc.sinter([a, b]) == {b"3"}
    assert rc.sdiff(a, b) == {b"1", b"2"}
    rc.sadd(c, "old")
    assert rc.sdiffstore(c, a, b) == 2 and rc.smembers(c) == {b"1", b"2"}
    assert rc.smove(a, b, 1) is True and rc.smove(a, b, 99) is False
    assert rc.smembers(b) == {b"1", b"3", b"4"}


def test_rpoplpush_across_slots_leaves_no_backup(fake: FakeCluster,
                                                 rc: rediscluster.RedisCluster) -> None:
    src, dst = keys_in_other_slots(2)
    rc.rpush(src, "x", "y")
    assert rc.rpoplpush(src, dst) == b"y"
    assert rc.lrange(dst, 0, -1) == [b"y"] and rc.lrange(src, 0, -1) == [b"x"]
    assert not any(b"rediscluster:" in k for k in rc.keys("*"))
    rc.set(dst, "string")  # the push fails: the element goes back to src's tail
    with pytest.raises(clustercore.errors.ResponseError, match="WRONGTYPE"):
        rc.rpoplpush(src, dst)
    assert rc.lrange(src, 0, -1) == [b"x"]


def test_msetnx_across_slots(rc: rediscluster.RedisCluster) -> None:
    a, b, c = keys_in_other_slots(3)
    assert rc.msetnx({a: "1", b: "2"}) is True
    assert rc.msetnx(**{c: "3", a: "9"}) is False
    assert rc.mget(a, b, c) == [b"1", b"2", None]


def test_pipeline_keeps_call_order_around_emulated_commands(
        rc: rediscluster.RedisCluster) -> None:
    a, b = keys_in_other_slots(2)
    rc.sadd(a, "m")
    pipe = rc.pipeline()
    pipe.smembers(a).smove(a, b, "m").smembers(a).smembers(b).sunion(a, b)
    assert len(pipe) == 5 and len(pipe.command_stack) == 3
    assert pipe.execute() == [{b"m"}, True, set(), {b"m"}, {b"m"}]
    assert len(pipe) == 0
    with pytest.raises(RedisClusterException, match="transaction=True"):
        pipe.multi()
    with pytest.raises(RedisClusterException, match="transaction=True"):
        pipe.watch(a)
    pipe.smove(a, b, "x").get("k")
    pipe.reset()
    assert pipe.execute() == []


def test_pipeline_error_names_its_command_in_call_order(
        rc: rediscluster.RedisCluster) -> None:
    a, b = keys_in_other_slots(2)
    rc.set("c", "a")
    pipe = rc.pipeline()
    pipe.set("x", 1).sadd(a, "m").smove(a, b, "m").lpush("c", 3).set("y", 2)
    with pytest.raises(RedisError) as info:
        pipe.execute()
    assert str(info.value).startswith("Command # 4 (LPUSH c 3) of pipeline caused error: ")
    assert rc.get("y") == b"2" and rc.smembers(b) == {b"m"}  # everything else ran
    pipe.set("x", 1).smove(a, b, "gone").lpush("c", 4)
    results = pipe.execute(raise_on_error=False)  # returned errors are not annotated
    assert results[:2] == [True, False] and not str(results[2]).startswith("Command #")
    rc.set(a, "str")
    pipe.sadd("s", "1").smove(a, b, "m")  # an emulated command's error names it too
    with pytest.raises(RedisError) as info:
        pipe.execute()
    assert str(info.value).startswith(f"Command # 2 (SMOVE {a} {b} m) of pipeline caused error")


def test_mget_of_no_keys_and_empty_startup_nodes(fake: FakeCluster,
                                                 rc: rediscluster.RedisCluster) -> None:
    before = sum(len(fake.commands_seen(n)) for n in fake.nodes)
    assert rc.mget([]) == [] and rc.mget(()) == []
    assert sum(len(fake.commands_seen(n)) for n in fake.nodes) == before  # no round trip
    rc.set("a", "1")
    assert rc.mget(["a", "missing"]) == [b"1", None]
    with pytest.raises(RedisClusterException, match=r"^No startup nodes provided$"):
        RC(startup_nodes=[])


def test_unix_domain_socket_connection_is_importable_and_refused() -> None:
    from clustercore.compat.rediscluster.connection import UnixDomainSocketConnection
    with pytest.raises(RedisClusterException, match=r"Unix sockets.*'/tmp/x\.sock'"):
        UnixDomainSocketConnection(path="/tmp/x.sock")


def test_slot_tag_lands_in_the_slot() -> None:
    for slot in (0, 1, 8000, 16383):
        assert key_slot("{" + crossslot.slot_tag(slot) + "}anything") == slot
    with pytest.raises(ValueError, match="slot"):
        crossslot.slot_tag(16384)


# --- pub/sub ---------------------------------------------------------------------------------------
def test_get_message_before_subscribe_is_a_runtime_error(rc: rediscluster.RedisCluster) -> None:
    ps = rc.pubsub()
    assert isinstance(ps, rediscluster.ClusterPubSub)
    with pytest.raises(RuntimeError, match="subscribe"):
        ps.get_message()
    ps.subscribe("ch")
    message = ps.get_message(timeout=1.0)
    assert message is not None and message["type"] == "subscribe"
    ps.reset()
    with pytest.raises(RuntimeError, match="subscribe"):
        ps.get_message()
    ps.close()


# --- compat/rpc_suite's report (the measuring tool) ------------------------------------------------
def _events(tmp: Any, name: str, tests: Dict[str, Dict[str, Any]]) -> Any:
    """A results file as the plugin writes it: one test per entry, its phases' outcomes."""
    import json

    path = tmp / f"{name}.jsonl"
    lines = [{"ev": "collected", "items": [{"nodeid": n, "private": []} for n in tests]}]
    for nodeid, spec in tests.items():
        lines.append({"ev": "begin", "nodeid": nodeid})
        for when in ("setup", "call", "teardown"):
            outcome = spec.get(when, "passed")
            event: Dict[str, Any] = {"ev": "phase", "nodeid": nodeid, "when": when,
                                     "outcome": outcome}
            if outcome == "failed":
                event.update(exc_type=spec["exc"], message=spec.get("message", ""),
                             where=spec.get("where"), where_ours=spec.get("where_ours"))
            lines.append(event)
        lines.append({"ev": "end", "nodeid": nodeid, "constructed": spec.get("built", 1),
                      "mocked": spec.get("mocked", 0)})
    lines.append({"ev": "finish"})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_rpc_suite_report_partitions_the_failures(tmp_path: Any) -> None:
    from compat.redispy_suite import results
    from compat.rpc_suite import report

    ids = {k: f"tests/test_x.py::{k}" for k in (
        "ok", "refusal", "old_redis", "inside_redis", "documented", "open", "mocked", "skip")}
    reference = results.parse_run(_events(tmp_path, "ref", {
        ids["ok"]: {}, ids["refusal"]: {}, ids["old_redis"]: {}, ids["inside_redis"]: {},
        ids["documented"]: {}, ids["open"]: {}, ids["mocked"]: {"mocked": 2},
        ids["skip"]: {"call": "skipped"}}), "redis-py")
    candidate = results.parse_run(_events(tmp_path, "cc", {
        ids["ok"]: {},
        ids["refusal"]: {"call": "failed", "exc": "Failed", "message": "DID NOT RAISE"},
        ids["old_redis"]: {"call": "failed", "exc": "ImportError",
                           "message": "cannot import name 'b' from 'redis._compat'"},
        ids["inside_redis"]: {"call": "failed", "exc": "TypeError", "message": "x",
                              "where": "redis/client.py:10 in parse"},
        ids["documented"]: {"call": "failed", "exc": "AssertionError", "message": "differs"},
        ids["open"]: {"call": "failed", "exc": "AssertionError", "message": "wrong"},
    }), "clustercore")
    tables = ({ids["refusal"]: "rpc refused it", "tests/test_x.py::nothing*": "stale"},
              {ids["documented"]: "documented difference"})
    rep = report.build(reference, candidate, {"git_head": "abc"}, tables)
    h = rep["headline"]
    assert h["black_box_passing_on_rpc"] == 6  # the mocked and the skipped one are out
    assert (h["excluded"], h["applicable"], h["pass_on_clustercore"]) == (1, 5, 1)
    assert (h["redis_py_81"], h["deliberate_differences"], h["open"]) == (2, 1, 1)
    assert set(rep["redis_py_81"]) == {ids["old_redis"], ids["inside_redis"]}
    assert rep["open"] == [{"reason": "AssertionError: wrong", "count": 1, "tests": [ids["open"]]}]
    assert rep["stale_patterns"] == ["tests/test_x.py::nothing*"]
    text = report.markdown(rep)
    assert "**1 of the 5 applicable tests pass (20.0%).**" in text
    assert "rpc refused it" in text and "documented difference" in text


def test_rpc_suite_allowlist_needs_reasons(tmp_path: Any) -> None:
    from compat.rpc_suite import report

    path = tmp_path / "allow.toml"
    path.write_text('[excluded]\n"a::b" = "why"\n[tests]\n"c::d" = ""\n', encoding="utf-8")
    with pytest.raises(SystemExit, match="needs a reason"):
        report.load_tables(path)
    path.write_text('[excluded]\n"a::b" = "why"\n', encoding="utf-8")
    assert report.load_tables(path) == ({"a::b": "why"}, {})
    shipped = report.load_tables(report_path())
    assert shipped[0] and all(reason.strip() for reason in shipped[0].values())


def report_path() -> Any:
    from pathlib import Path

    return Path(__file__).resolve().parents[2] / "compat" / "rpc_deliberate.toml"


def test_emulations_with_decode_responses(fake: FakeCluster) -> None:
    client = RC(startup_nodes=fake.startup_nodes, transport=fake.network, clock=fake.clock,
                background_refresh=False, refresh_min_interval=0, decode_responses=True)
    try:
        src, dst, other = keys_in_other_slots(3)
        client.rpush(src, "é", "x")
        assert client.rpoplpush(src, dst) == "x"  # moved as bytes, returned decoded
        assert client.lrange(dst, 0, -1) == ["x"]
        client.sadd(other, "é")
        assert client.sinter(src + "s", other) == set()
        assert client.sunion(other, dst + "s") == {"é"}
        assert client.ping() == dict.fromkeys(names(fake), True)
    finally:
        client.close()
