"""clustercore.compat.rediscluster on real clusters: redis-py-cluster 2.1.3's per-node replies,
every cross-slot emulation (client and pipeline), what each leaves behind when a step fails or
another client interferes half way, and a CLUSTER FAILOVER in the middle of multi-step
emulations (throw-away clusters from ``make_cluster``).

Keys of one test live on different primaries (``spread``), so every emulation really crosses
slots and nodes; the shared cluster's keys are deleted after each test.
"""

from __future__ import annotations

import datetime
import itertools
import threading
from typing import Any, Callable, Iterator, List

import pytest

from clustercore import key_slot
from clustercore.compat import rediscluster
from clustercore.compat.rediscluster.exceptions import CrossSlotEmulationError
from clustercore.errors import ClusterCrossSlotError, ResponseError
from clustercore.testing import LocalCluster

RC = rediscluster.RedisCluster


def spread(lc: LocalCluster, prefix: str, count: int) -> List[str]:
    """``count`` key names, each on a different primary while there are primaries to go round
    (then on different slots)."""
    out: List[str] = []
    owners: List[Any] = []
    for i in itertools.count():
        name = f"rpc:{prefix}:{i}"
        owner = lc.slot_owner(key_slot(name)).port
        if (owner not in owners or len(owners) >= len(lc.primaries())) and (
                key_slot(name) not in {key_slot(k) for k in out}):
            out.append(name)
            owners.append(owner)
        if len(out) == count:
            return out
    raise AssertionError("unreachable")


@pytest.fixture
def rc(cluster: LocalCluster) -> Iterator[rediscluster.RedisCluster]:
    client = RC(startup_nodes=cluster.startup_nodes)
    yield client
    for key in list(client.scan_iter(match="*rpc:*")) + list(
            client.scan_iter(match="*rediscluster:*")):
        client.delete(key)
    client.close()


def leftovers(client: rediscluster.RedisCluster) -> List[Any]:
    """Temporary or backup keys the emulations left behind."""
    return list(client.scan_iter(match="*rediscluster:*"))


# --- per-node replies ----------------------------------------------------------------------------
def test_broadcast_commands_answer_per_node_like_redis_py_cluster(
        cluster: LocalCluster, rc: rediscluster.RedisCluster) -> None:
    every = {f"{n.host}:{n.port}" for n in cluster.nodes}
    primaries = {f"{n.host}:{n.port}" for n in cluster.primaries()}
    rc.flushdb()  # one SCAN page per node must hold both keys: no keys left by other tests
    one, two = spread(cluster, "bc", 2)
    rc.set(one, "1")
    rc.set(two, "2")
    assert set(rc.ping()) == every and all(v is True for v in rc.ping().values())
    assert rc.echo("hello") == dict.fromkeys(every, b"hello")
    sizes = rc.dbsize()
    # every node answers; the primaries hold both keys (a replica may not have them yet:
    # replication is asynchronous)
    assert set(sizes) == every and sum(sizes[p] for p in primaries) >= 2
    times = rc.time()
    assert set(times) == every and all(len(t) == 2 and t[0] > 1_600_000_000 for t in times.values())
    info = rc.info()
    assert set(info) == every and all("redis_version" in v for v in info.values())
    assert set(rc.config_get("maxmemory")) == every
    assert all(isinstance(v, int) and v > 0 for v in rc.client_id().values())
    assert all(isinstance(v, datetime.datetime) for v in rc.lastsave().values())
    assert set(rc.slowlog_len()) == every
    assert all(v["cluster_state"] == "ok" for v in rc.cluster_info().values())
    assert set(rc.scan()) == primaries
    assert sorted(k for _c, keys in rc.scan(match="rpc:bc:*").values() for k in keys) == sorted(
        k.encode() for k in (one, two))
    assert set(rc.flushdb()) == primaries
    assert rc.get(one) is None


def test_set_result_callback_still_replaces_the_merge(rc: rediscluster.RedisCluster) -> None:
    rc.set_result_callback("PING", lambda command, res, **kw: all(res.values()))
    assert rc.ping() is True


def test_pubsub_introspection_aggregates_over_all_nodes(
        cluster: LocalCluster, rc: rediscluster.RedisCluster) -> None:
    ps = rc.pubsub()
    with pytest.raises(RuntimeError, match="subscribe"):
        ps.get_message()
    ps.subscribe("rpc:chan")
    try:
        assert rc.pubsub_numsub("rpc:chan") == [(b"rpc:chan", 1)]
        assert b"rpc:chan" in rc.pubsub_channels()
        per_node = rc.pubsub_channels(aggregate=False)
        assert set(per_node) == {f"{n.host}:{n.port}" for n in cluster.nodes}
        assert sum(b"rpc:chan" in v for v in per_node.values()) == 1
        assert rc.pubsub_numpat() == 0
    finally:
        ps.close()


# --- the emulations, across nodes ------------------------------------------------------------------
def test_rename_and_renamenx_across_nodes_keep_value_and_ttl(
        cluster: LocalCluster, rc: rediscluster.RedisCluster) -> None:
    src, dst, other = spread(cluster, "ren", 3)
    rc.set(src, "v", px=50_000)
    rc.set(dst, "old")
    assert rc.rename(src, dst) is True
    assert rc.get(dst) == b"v" and rc.get(src) is None
    assert 0 < rc.pttl(dst) <= 50_000
    rc.set(other, "taken")
    assert rc.renamenx(dst, other) is False
    assert rc.get(other) == b"taken" and rc.get(dst) == b"v"
    assert rc.renamenx(dst, src) is True
    assert rc.get(src) == b"v" and rc.get(dst) is None
    with pytest.raises(ResponseError, match="no such key"):
        rc.rename(dst, other)
    with pytest.raises(ResponseError, match="same"):
        rc.rename(src, src)


def test_rename_of_a_hash_keeps_its_type_and_fields(
        cluster: LocalCluster, rc: rediscluster.RedisCluster) -> None:
    src, dst = spread(cluster, "renh", 2)
    rc.hset(src, mapping={"a": "1", "b": "2"})
    assert rc.rename(src, dst, replace=True)
    assert rc.hgetall(dst) == {b"a": b"1", b"b": b"2"} and not rc.exists(src)
    assert rc.pttl(dst) == -1


def test_smove_across_nodes(cluster: LocalCluster, rc: rediscluster.RedisCluster) -> None:
    src, dst = spread(cluster, "smove", 2)
    rc.sadd(src, "a", "b")
    assert rc.smove(src, dst, "a") is True
    assert rc.smembers(src) == {b"b"} and rc.smembers(dst) == {b"a"}
    assert rc.smove(src, dst, "zzz") is False
    assert rc.smembers(dst) == {b"a"}


def test_rpoplpush_and_brpoplpush_across_nodes(
        cluster: LocalCluster, rc: rediscluster.RedisCluster) -> None:
    src, dst = spread(cluster, "rpl", 2)
    rc.rpush(src, "1", "2", "3")
    assert rc.rpoplpush(src, dst) == b"3"
    assert rc.brpoplpush(src, dst, timeout=1) == b"2"
    assert rc.lrange(src, 0, -1) == [b"1"] and rc.lrange(dst, 0, -1) == [b"2", b"3"]
    assert rc.rpoplpush(dst + "x", dst) is None
    rc.delete(src)
    assert rc.brpoplpush(src, dst, timeout=1) is None
    assert leftovers(rc) == []


def test_brpoplpush_waits_for_a_push_from_another_client(
        cluster: LocalCluster, rc: rediscluster.RedisCluster) -> None:
    src, dst = spread(cluster, "brpl", 2)
    got: List[Any] = []
    started = threading.Event()

    def consume() -> None:
        started.set()
        got.append(rc.brpoplpush(src, dst, timeout=10))

    worker = threading.Thread(target=consume)
    worker.start()
    assert started.wait(5)
    other = RC(startup_nodes=cluster.startup_nodes)
    try:
        other.rpush(src, "late")
    finally:
        other.close()
    worker.join(15)
    assert not worker.is_alive() and got == [b"late"]
    assert rc.lrange(dst, 0, -1) == [b"late"] and leftovers(rc) == []


def test_msetnx_across_nodes_is_all_or_nothing(
        cluster: LocalCluster, rc: rediscluster.RedisCluster) -> None:
    a, b, c = spread(cluster, "msetnx", 3)
    assert rc.msetnx({a: "1", b: "2"}) is True
    assert rc.mget(a, b) == [b"1", b"2"]
    assert rc.msetnx({c: "3", a: "x"}) is False
    assert rc.get(c) is None and rc.get(a) == b"1"
    assert rc.msetnx(**{c: "3"}) is True


@pytest.mark.parametrize(("method", "expected"), [
    ("sdiff", {b"1"}), ("sinter", {b"2", b"3"}), ("sunion", {b"1", b"2", b"3", b"4"})])
def test_set_algebra_and_store_across_nodes(cluster: LocalCluster, rc: rediscluster.RedisCluster,
                                            method: str, expected: Any) -> None:
    one, two, dest = spread(cluster, f"sets{method}", 3)
    rc.sadd(one, 1, 2, 3)
    rc.sadd(two, 2, 3, 4)
    assert getattr(rc, method)(one, two) == expected
    assert getattr(rc, method)([one, two]) == expected
    rc.sadd(dest, "stale")
    assert getattr(rc, method + "store")(dest, [one, two]) == len(expected)
    assert rc.smembers(dest) == expected


def test_store_of_an_empty_result_deletes_dest(cluster: LocalCluster,
                                               rc: rediscluster.RedisCluster) -> None:
    one, two, dest = spread(cluster, "sempty", 3)
    rc.sadd(one, "a")
    rc.sadd(two, "b")
    rc.sadd(dest, "old")
    assert rc.sinterstore(dest, one, two) == 0
    assert not rc.exists(dest)


def test_pfmerge_and_pfcount_across_nodes(cluster: LocalCluster,
                                          rc: rediscluster.RedisCluster) -> None:
    h1, h2, dest = spread(cluster, "hll", 3)
    rc.pfadd(h1, "a", "b", "c")
    rc.pfadd(h2, "c", "d")
    rc.pfadd(dest, "e")
    assert rc.pfcount(h1, h2) == 4
    assert rc.pfmerge(dest, h1, h2) is True
    assert rc.pfcount(dest) == 5  # dest's own registers are merged too
    assert rc.pfcount(h1) == 3 and leftovers(rc) == []


def test_same_slot_commands_stay_native(rc: rediscluster.RedisCluster) -> None:
    rc.rpush("{rpc:t}a", "x")
    assert rc.rpoplpush("{rpc:t}a", "{rpc:t}b") == b"x"
    assert rc.rename("{rpc:t}b", "{rpc:t}c") is True
    assert rc.lrange("{rpc:t}c", 0, -1) == [b"x"]


def test_core_client_still_refuses_what_compat_emulates(
        cluster: LocalCluster, rc: rediscluster.RedisCluster) -> None:
    from clustercore import RedisCluster as Core

    src, dst = spread(cluster, "core", 2)
    core = Core(startup_nodes=cluster.startup_nodes)
    try:
        core.set(src, "v")
        with pytest.raises(ClusterCrossSlotError):
            core.rename(src, dst)
    finally:
        core.close()


def test_pipeline_runs_emulated_commands_in_their_place(
        cluster: LocalCluster, rc: rediscluster.RedisCluster) -> None:
    a, b, s1, s2 = spread(cluster, "pipe", 4)
    rc.sadd(s1, "m")
    pipe = rc.pipeline(read_from_replicas=False)
    pipe.set(a, "1").rename(a, b).get(a).get(b).smove(s1, s2, "m").smembers(s2)
    pipe.rpoplpush(b + "x", b).msetnx({a: "2", s1: "3"}).get(a)
    assert len(pipe) == 9
    assert pipe.execute() == [True, True, None, b"1", True, {b"m"}, None, True, b"2"]
    pipe.rename(a + "missing", b).set(a, "ok")
    out = pipe.execute(raise_on_error=False)
    assert isinstance(out[0], ResponseError) and out[1] is True
    pipe.rename(a + "missing", b)
    with pytest.raises(ResponseError, match="no such key"):
        pipe.execute()


# --- failures and interference half way: duplicates at worst, never a loss -------------------------
def hook_at(step: str, action: Callable[[], None]) -> Callable[[str, str], None]:
    """An emulation hook that runs ``action`` once, before ``step``."""
    done = threading.Event()

    def hook(command: str, at: str) -> None:
        if at == step and not done.is_set():
            done.set()
            action()

    return hook


@pytest.fixture
def hooked(cluster: LocalCluster, rc: rediscluster.RedisCluster
           ) -> Iterator[Callable[[Callable[[str, str], None]], rediscluster.RedisCluster]]:
    """Clients with an emulation hook (``hooked(hook)``), closed after the test; ``rc`` (the
    other client, which interferes) deletes the test's keys."""
    made: List[rediscluster.RedisCluster] = []

    def make(hook: Callable[[str, str], None]) -> rediscluster.RedisCluster:
        made.append(RC(startup_nodes=cluster.startup_nodes, emulation_hook=hook))
        return made[-1]

    yield make
    for client in made:
        client.close()


def test_rename_keeps_a_source_that_changed_while_it_was_copied(
        cluster: LocalCluster, rc: rediscluster.RedisCluster, hooked: Any) -> None:
    src, dst = spread(cluster, "renchg", 2)
    mover = hooked(hook_at("delete-source", lambda: rc.set(src, "new")))
    mover.set(src, "old")
    with pytest.raises(CrossSlotEmulationError, match="changed"):
        mover.rename(src, dst)
    assert rc.get(src) == b"new" and rc.get(dst) == b"old"


def test_renamenx_does_not_overwrite_a_dest_created_meanwhile(
        cluster: LocalCluster, rc: rediscluster.RedisCluster, hooked: Any) -> None:
    src, dst = spread(cluster, "rennx", 2)
    mover = hooked(hook_at("restore", lambda: rc.set(dst, "theirs")))
    mover.set(src, "mine")
    assert mover.renamenx(src, dst) is False
    assert rc.get(dst) == b"theirs" and rc.get(src) == b"mine"


def test_smove_of_a_member_removed_meanwhile_moves_nothing(
        cluster: LocalCluster, rc: rediscluster.RedisCluster, hooked: Any) -> None:
    src, dst = spread(cluster, "smchg", 2)
    mover = hooked(hook_at("remove", lambda: rc.srem(src, "m")))
    mover.sadd(src, "m", "n")
    assert mover.smove(src, dst, "m") is False
    assert rc.smembers(src) == {b"n"} and not rc.exists(dst)


def test_rpoplpush_puts_the_element_back_when_the_push_fails(
        cluster: LocalCluster, rc: rediscluster.RedisCluster) -> None:
    src, dst = spread(cluster, "rplfail", 2)
    rc.rpush(src, "a", "b")
    rc.set(dst, "not a list")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        rc.rpoplpush(src, dst)
    assert rc.lrange(src, 0, -1) == [b"a", b"b"]  # back at the tail, in order
    assert leftovers(rc) == []


def test_msetnx_rolls_back_its_own_writes_only(
        cluster: LocalCluster, rc: rediscluster.RedisCluster, hooked: Any) -> None:
    a, b = spread(cluster, "msrb", 2)
    calls = itertools.count()

    def hook(command: str, step: str) -> None:
        if step == "group" and next(calls) == 1:
            rc.set(b, "theirs")  # appears after the EXISTS check, before b's group

    assert hooked(hook).msetnx({a: "1", b: "2"}) is False
    assert rc.get(a) is None and rc.get(b) == b"theirs"


# --- a CLUSTER FAILOVER in the middle of multi-step emulations -------------------------------------
def test_emulations_survive_a_failover_between_their_steps(
        make_cluster: Callable[..., LocalCluster]) -> None:
    """A graceful CLUSTER FAILOVER of the node an emulation writes to next, run inside the
    emulation (its hook), between two of its steps: the emulation finishes and the data is
    exactly where it belongs, nothing lost and nothing duplicated."""
    lc = make_cluster(masters=3, replicas_per_master=1, node_timeout_ms=1000)
    src, dst, lst, s1, s2 = spread(lc, "fo", 5)
    failed_over: List[str] = []

    def fail_over_owner_of(key: str) -> Callable[[], None]:
        def action() -> None:
            owner = lc.slot_owner(key_slot(key))
            lc.failover(lc.replicas_of(owner)[0])
            failed_over.append(key)
        return action

    def hook(command: str, step: str) -> None:
        if (command, step) == ("RENAME", "delete-source") and "rename" not in failed_over:
            failed_over.append("rename")
            fail_over_owner_of(src)()
        elif (command, step) == ("RPOPLPUSH", "push") and "rpoplpush" not in failed_over:
            failed_over.append("rpoplpush")
            fail_over_owner_of(lst)()
        elif (command, step) == ("SMOVE", "remove") and "smove" not in failed_over:
            failed_over.append("smove")
            fail_over_owner_of(s1)()

    rc = RC(startup_nodes=lc.startup_nodes, emulation_hook=hook, retry_deadline=10.0)
    try:
        rc.set(src, "payload")
        assert rc.rename(src, dst) is True
        assert rc.get(dst) == b"payload" and rc.get(src) is None
        rc.rpush(src, "e1", "e2")
        assert rc.rpoplpush(src, lst) == b"e2"
        assert rc.lrange(src, 0, -1) == [b"e1"] and rc.lrange(lst, 0, -1) == [b"e2"]
        rc.sadd(s1, "m")
        assert rc.smove(s1, s2, "m") is True
        assert not rc.exists(s1) and rc.smembers(s2) == {b"m"}
        assert leftovers(rc) == []
    finally:
        rc.close()
    assert {"rename", "rpoplpush", "smove"} <= set(failed_over)
    assert len(failed_over) == 6  # three markers and three failovers carried out


def test_redis_py_35_signatures_on_the_real_cluster(cluster: LocalCluster,
                                                     rc: rediscluster.RedisCluster) -> None:
    geo, a, b = spread(cluster, "sig", 3)
    assert rc.geoadd(geo, 13.361389, 38.115556, "Palermo", 15.087269, 37.502669, "Catania") == 2
    assert round(rc.geodist(geo, "Palermo", "Catania", "km")) == 166
    assert rc.mset({a: "1"}, **{b: "2"}) is True and rc.mget(a, b) == [b"1", b"2"]
    assert rc.lpushx(a + ":l", "x") == 0
    node = cluster.startup_nodes[0]
    other = RC.from_url(f"redis://{node['host']}:{node['port']}/0", None, True)
    try:
        assert other.get(a) == b"1"
    finally:
        other.close()
