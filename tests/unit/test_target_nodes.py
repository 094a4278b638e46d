"""redis-py's ``target_nodes=`` on FakeCluster: every node kind (flags, ClusterNode, lists,
dicts, addresses), where each command went, redis-py's merging of several replies, and the
refusals (bad values, connection-bound commands, no redirects followed)."""

from __future__ import annotations

import importlib
from typing import Any, Dict, List

import pytest

from clustercore import ClusterNode, NodeAddress, RedisCluster, key_slot
from clustercore._execution.nodes import (
    RESULT_CALLBACKS,
    InvalidTargetNodesError,
    merge_targeted,
    target_list,
)
from clustercore.errors import DataError, MovedError, RedisClusterException, ResponseError
from clustercore.testing import FakeCluster
from tests.unit.fakeclient import make_client


def seen_by(fake: FakeCluster, command: bytes) -> List[NodeAddress]:
    """The nodes that received ``command`` since the last clear."""
    return [n.address for n in fake.nodes
            if any(c[0].upper() == command for c in fake.commands_seen(n))]


@pytest.fixture
def fake() -> FakeCluster:
    return FakeCluster()


def test_node_flags_reach_exactly_their_nodes(fake: FakeCluster) -> None:
    rc, _ = make_client(fake)
    primaries = [n.address for n in fake.primaries()]
    replicas = [n.address for n in fake.replicas()]
    for flag, expected in ((RedisCluster.PRIMARIES, primaries),
                           (RedisCluster.REPLICAS, replicas),
                           (RedisCluster.ALL_NODES, primaries + replicas),
                           (RedisCluster.DEFAULT_NODE, [rc.get_default_node().address])):
        fake.clear_commands_seen()
        assert rc.echo("hi", target_nodes=flag) is not None
        assert sorted(seen_by(fake, b"ECHO")) == sorted(expected), flag
    fake.clear_commands_seen()
    rc.echo("hi", target_nodes=RedisCluster.RANDOM)
    (one,) = seen_by(fake, b"ECHO")
    assert one in primaries  # random: a primary (replica reads are off)


def test_one_node_returns_its_reply_several_a_dict_by_name(fake: FakeCluster) -> None:
    rc, _ = make_client(fake)
    node = rc.get_primaries()[1]
    assert rc.echo("x", target_nodes=node) == b"x"
    replies = rc.echo("x", target_nodes=rc.get_primaries())
    assert replies == {n.name: b"x" for n in rc.get_primaries()}


@pytest.mark.parametrize("kind", ["node", "list", "dict", "address", "name", "pair", "record"])
def test_every_node_form_names_that_node(fake: FakeCluster, kind: str) -> None:
    rc, _ = make_client(fake)
    node = rc.get_replicas()[0]
    forms: Dict[str, Any] = {
        "node": node, "list": [node], "dict": {node.name: node}, "address": node.address,
        "name": node.name, "pair": (node.host, node.port),
        "record": {"host": node.host, "port": node.port}}
    fake.clear_commands_seen()
    assert rc.ping(target_nodes=forms[kind]) is True
    assert seen_by(fake, b"PING") == [node.address]


def test_a_node_named_twice_runs_once(fake: FakeCluster) -> None:
    rc, _ = make_client(fake)
    node = rc.get_primaries()[0]
    fake.clear_commands_seen()
    assert rc.echo("x", target_nodes=[node, node.address]) == b"x"
    echoes = [c for c in fake.commands_seen(fake.node(node.address)) if c[0].upper() == b"ECHO"]
    assert len(echoes) == 1


def test_redis_py_merging(fake: FakeCluster) -> None:
    rc, _ = make_client(fake)
    keys = [f"k{i}" for i in range(12)]
    for key in keys:
        rc.set(key, "v")
    primaries = rc.get_primaries()
    assert rc.dbsize(target_nodes=primaries) == 12
    assert rc.dbsize(target_nodes=RedisCluster.ALL_NODES) == 24  # replicas hold copies
    assert sorted(rc.keys(target_nodes=RedisCluster.ALL_NODES)) == sorted(k.encode() for k in keys)
    assert rc.ping(target_nodes=RedisCluster.ALL_NODES) is True
    owner = rc.get_node_from_key("k0")
    assert rc.dbsize(target_nodes=owner) == sum(rc.get_node_from_key(k) == owner for k in keys)
    # one node: redis-py's rule still applies (KEYS is a list, DBSIZE an int)
    assert isinstance(rc.keys(target_nodes=owner), list)


def test_user_result_callback_wins(fake: FakeCluster) -> None:
    rc, _ = make_client(fake)
    seen: List[Dict[str, Any]] = []

    def combine(command: str, replies: Dict[str, Any], **options: Any) -> str:
        seen.append(replies)
        return command

    rc.set_result_callback("ECHO", combine)
    assert rc.echo("x", target_nodes=RedisCluster.PRIMARIES) == "ECHO"
    assert seen == [{n.name: b"x" for n in rc.get_primaries()}]


def test_no_redirect_is_followed_for_a_targeted_command(fake: FakeCluster) -> None:
    rc, _ = make_client(fake)
    rc.set("k", "v")
    other = next(n for n in rc.get_primaries() if n != rc.get_node_from_key("k"))
    with pytest.raises(MovedError):
        rc.execute_command("GET", "k", target_nodes=other)
    assert rc.execute_command("GET", "k", target_nodes=rc.get_node_from_key("k")) == b"v"


def test_never_decode_with_targets_reads_bytes() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake, decode_responses=True)
    node = rc.get_primaries()[0]
    assert rc.execute_command("ECHO", "x", target_nodes=node) == "x"
    assert rc.execute_command("ECHO", "x", target_nodes=node, never_decode=True) == b"x"


@pytest.mark.parametrize("bad", [[], 42, object(), {"a": 1}, ["primaries"], [None]])
def test_bad_target_nodes_are_refused_by_name(fake: FakeCluster, bad: Any) -> None:
    rc, _ = make_client(fake)
    with pytest.raises(InvalidTargetNodesError) as info:
        rc.ping(target_nodes=bad)
    assert isinstance(info.value, TypeError) and isinstance(info.value, DataError)
    named = [bad, *(bad if isinstance(bad, list) else ())]  # the value, or the bad element
    assert any(repr(value) in str(info.value) for value in named), info.value


def test_connection_bound_commands_are_refused_with_targets(fake: FakeCluster) -> None:
    rc, _ = make_client(fake)
    with pytest.raises(RedisClusterException, match="MULTI"):
        rc.execute_command("MULTI", target_nodes=RedisCluster.PRIMARIES)
    with pytest.raises(RedisClusterException, match="READONLY"):
        rc.execute_command("READONLY", target_nodes=rc.get_replicas()[0])


def test_node_only_commands_run_when_a_node_is_named(fake: FakeCluster) -> None:
    rc, _ = make_client(fake)
    node = rc.get_primaries()[0]
    fake.clear_commands_seen()
    with pytest.raises(RedisClusterException, match="cannot be routed"):
        rc.execute_command("BGREWRITEAOF")  # no node named: refused, nothing sent
    assert seen_by(fake, b"BGREWRITEAOF") == []
    try:
        rc.execute_command("BGREWRITEAOF", target_nodes=node)
    except ResponseError:  # the fake may not implement it: it answered, so it was sent
        pass
    assert seen_by(fake, b"BGREWRITEAOF") == [node.address]
    # DEBUG goes where redis-py sends it: the default node
    try:
        rc.execute_command("DEBUG", "SLEEP", "0")
    except ResponseError:
        pass
    assert [a.name for a in seen_by(fake, b"DEBUG")] == [rc.get_default_node().name]


def test_replicas_flag_without_replicas() -> None:
    fake = FakeCluster(replicas=0)
    rc, _ = make_client(fake)
    with pytest.raises(RedisClusterException, match="replicas"):
        rc.ping(target_nodes=RedisCluster.REPLICAS)


def test_the_fast_path_is_unchanged_without_targets(fake: FakeCluster) -> None:
    rc, _ = make_client(fake)
    rc.set("k", "v")
    fake.clear_commands_seen()
    assert rc.get("k") == b"v"
    assert seen_by(fake, b"GET") == [fake.owner_of(key_slot("k")).address]


# --- the pure parts -----------------------------------------------------------------------------
def test_target_list_forms() -> None:
    node = ClusterNode("10.0.0.1", 7000)
    assert target_list("all") == "all"
    assert target_list(node) == [NodeAddress("10.0.0.1", 7000)]
    assert target_list(["10.0.0.1", 7000]) == [("10.0.0.1", 7000)]
    assert target_list({"a": node, "b": ClusterNode("10.0.0.2", 7000)}) == [
        NodeAddress("10.0.0.1", 7000), NodeAddress("10.0.0.2", 7000)]
    assert target_list("10.0.0.1:7000") == ["10.0.0.1:7000"]


def test_merge_rules_match_redis_py() -> None:
    assert merge_targeted("DBSIZE", {"a": 2, "b": 3}) == 5
    assert merge_targeted("PING", {"a": True, "b": False}) is False
    assert merge_targeted("PUBSUB NUMSUB", {"a": [(b"c", 1), (b"d", 0)],
                                            "b": [(b"c", 2), (b"d", 1)]}) == [(b"c", 3), (b"d", 1)]
    assert merge_targeted("PUBSUB NUMPAT", {"a": 1, "b": 2}) == 3
    assert merge_targeted("SCAN", {"a": (5, [b"x"]), "b": (0, [b"y"])}) == (
        {"a": 5, "b": 0}, [b"x", b"y"])
    assert merge_targeted("SCRIPT EXISTS", {"a": [True, False], "b": [True, True]}) == [
        True, False]
    assert merge_targeted("SCRIPT LOAD", {"a": "sha", "b": "sha"}) == "sha"
    assert merge_targeted("CLIENT UNBLOCK", {"a": 0, "b": 1}) == 1
    assert merge_targeted("CLIENT UNBLOCK", {"a": False, "b": False}) == 0
    assert sorted(merge_targeted("KEYS", {"a": [b"x", b"y"], "b": [b"y", b"z"]})) == [
        b"x", b"y", b"z"]
    assert merge_targeted("ECHO", {"a": b"x"}) == b"x"
    assert merge_targeted("ECHO", {"a": b"x", "b": b"x"}) == {"a": b"x", "b": b"x"}
    # every redis-py 8.1 RESULT_CALLBACKS name has a rule here
    redis_cluster = importlib.import_module("redis.cluster")  # dev dependency: fail, never skip
    assert set(redis_cluster.RedisCluster.RESULT_CALLBACKS) <= set(RESULT_CALLBACKS)
