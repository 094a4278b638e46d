"""The node API and ``target_nodes=`` on a real Redis 7 cluster, each checked against redis-py
8.1's own RedisCluster on the same cluster (the same calls, the same answers)."""

from __future__ import annotations

import importlib
from typing import Any, Iterator, Tuple

import pytest

from clustercore import ClusterNode, RedisCluster
from clustercore.testing import LocalCluster

redis_cluster = importlib.import_module("redis.cluster")  # dev dependency: fail, never skip


@pytest.fixture
def both(cluster: LocalCluster) -> Iterator[Tuple[RedisCluster, Any]]:
    seed = cluster.startup_nodes[0]
    ours = RedisCluster(startup_nodes=[ClusterNode(seed["host"], seed["port"])])
    theirs = redis_cluster.RedisCluster(host=seed["host"], port=seed["port"])
    ours.flushall()
    try:
        yield ours, theirs
    finally:
        ours.flushall()
        ours.close()
        theirs.close()


def names(nodes: Any) -> list:
    return sorted(n.name for n in nodes)


def test_same_nodes_as_redis_py(both: Tuple[RedisCluster, Any]) -> None:
    ours, theirs = both
    assert names(ours.get_nodes()) == names(theirs.get_nodes())
    assert names(ours.get_primaries()) == names(theirs.get_primaries())
    assert names(ours.get_replicas()) == names(theirs.get_replicas())
    for key in ("a", "{user1}:x", "zzz"):
        assert ours.keyslot(key) == theirs.keyslot(key)
        assert ours.get_node_from_key(key).name == theirs.get_node_from_key(key).name
    node = theirs.get_replicas()[0]
    assert ours.get_node(node.host, node.port).server_type == node.server_type == "replica"


@pytest.mark.parametrize("flag", ["primaries", "replicas", "all", "default-node", "random"])
def test_target_flags_merge_like_redis_py(both: Tuple[RedisCluster, Any], flag: str) -> None:
    ours, theirs = both
    for i in range(20):
        ours.set(f"k{i}", i)
    theirs_flag = {"default-node": theirs.DEFAULT_NODE}.get(flag, flag)
    assert ours.ping(target_nodes=flag) is theirs.ping(target_nodes=theirs_flag) is True
    if flag not in ("random", "default-node"):
        assert ours.dbsize(target_nodes=flag) == theirs.dbsize(target_nodes=theirs_flag)
        assert sorted(ours.keys(target_nodes=flag)) == sorted(theirs.keys(target_nodes=theirs_flag))


def test_targeted_node_and_per_node_client(both: Tuple[RedisCluster, Any]) -> None:
    ours, theirs = both
    ours.set("foo", "bar")
    owner = theirs.get_node_from_key("foo")
    mine = ours.get_node(node_name=owner.name)
    assert ours.dbsize(target_nodes=mine) == theirs.dbsize(target_nodes=owner)
    assert ours.get_redis_connection(mine).ping() is theirs.get_redis_connection(owner).ping()
    assert ours.get_redis_connection(mine).get("foo") == theirs.get_redis_connection(
        owner).get("foo") == b"bar"
    info = ours.info(target_nodes=ours.get_primaries())
    assert set(info) == {n.name for n in ours.get_primaries()}


def test_conveniences_like_redis_py(both: Tuple[RedisCluster, Any]) -> None:
    ours, theirs = both
    ours["x"] = "1"
    assert ours["x"] == theirs["x"] == b"1"
    assert ("x" in ours) is ("x" in theirs) is True
    with pytest.raises(KeyError):
        ours["nope"]
    with pytest.raises(KeyError):
        theirs["nope"]
    mapping = {"a": "1", "b": "2", "{a}c": "3"}
    # deliberate: redis-py 8.1 returns each slot's raw b"OK" despite its List[bool] annotation;
    # clustercore applies MSET's callback (True), as mset() does
    theirs_result = theirs.mset_nonatomic(mapping)
    assert ours.mset_nonatomic(mapping) == [True] * len(theirs_result)
    assert ours.mget_nonatomic(["a", "b", "{a}c", "d"]) == theirs.mget_nonatomic(
        ["a", "b", "{a}c", "d"])

    def bump(pipe: Any) -> None:
        value = int(pipe.get("x"))
        pipe.multi()
        pipe.set("x", value + 1)

    # redis-py 8.1's cluster transaction returns SET's raw b"OK"; clustercore parses it (True)
    assert ours.transaction(bump, "x") == [True]
    assert theirs.transaction(bump, "x") in ([True], [b"OK"])
    assert ours["x"] == b"3"
    del ours["x"]
    assert "x" not in theirs


def test_monitor_reads_commands_like_redis_py(both: Tuple[RedisCluster, Any]) -> None:
    """redis-py's TestClusterMonitor bodies, on both clients: the parsed MONITOR lines match."""
    for rc in both:
        node = rc.get_node_from_key("{foo}1")
        with rc.monitor(target_node=node) as m:
            rc.get(b'{foo}"bar\x92')
            rc.get("{foo}1")
            found = None
            while True:
                line = m.next_command()
                if "{foo}1" in line["command"]:
                    break
                if line["command"].startswith("GET {foo}"):
                    found = line
            assert found is not None and found["command"] == 'GET {foo}"bar\\x92'
            assert found["client_type"] == "tcp" and found["db"] == 0


def test_node_client_pubsub_is_pinned_to_its_node(both: Tuple[RedisCluster, Any]) -> None:
    """ClusterKeyspaceNotifications' use: a node connection's pubsub() listens on that node."""
    rc, _ = both
    node = rc.get_primaries()[-1]
    ps = rc.get_redis_connection(node).pubsub(ignore_subscribe_messages=True)
    try:
        ps.subscribe("pinned-channel")
        assert ps.get_pubsub_node() == node
    finally:
        ps.close()
