"""redis-py 8.1 behaviours of the cluster client that its own suite checks, on FakeCluster:
where commands without ``target_nodes`` go (redis-py's default node), usage errors that are
redis-py's ``RedisClusterException``, the client-side cross-slot error, constructor checks,
``reinitialize_steps``, ``cluster_response_callbacks``, ``hmset``'s warning, the stream
argument checks and a script's NOSCRIPT fallback."""

from __future__ import annotations

import warnings
from typing import Any, List

import pytest
import redis
import redis.exceptions as rex

import clustercore
from clustercore import RedisCluster
from clustercore.errors import (
    ClusterCrossSlotError,
    ClusterUsageError,
    CrossSlotKeysError,
    DataError,
    RedisClusterConfigError,
)
from clustercore.testing import FakeCluster
from tests.unit.fakeclient import make_client


def seen(fake: FakeCluster, node: Any, name: bytes) -> int:
    """How many times ``node`` ran the command ``name`` (first word, any case)."""
    return sum(1 for c in fake.commands_seen(node) if c[0].upper() == name)


def addresses(nodes: List[Any]) -> List[str]:
    return sorted(f"{n.host}:{n.port}" for n in nodes)


# --- redis-py's default node ---------------------------------------------------------------
def test_node_commands_go_to_the_default_node_and_return_its_reply() -> None:
    fake = FakeCluster(masters=3, replicas=1)
    rc, _ = make_client(fake)
    default = rc.get_default_node()
    fake.clear_commands_seen()
    info = rc.info()
    assert isinstance(info, dict) and "redis_version" in info  # one reply, not one per node
    assert rc.config_get("maxmemory") == {"maxmemory": "0"}
    assert isinstance(rc.client_list(), list)
    assert [seen(fake, n.address, b"INFO") for n in fake.nodes] == [
        1 if f"{n.address}" == default.name else 0 for n in fake.nodes]
    # another default node takes them from then on
    other = next(n for n in rc.get_primaries() if n.name != default.name)
    assert rc.set_default_node(other) is True
    fake.clear_commands_seen()
    rc.info()
    assert seen(fake, other.name, b"INFO") == 1 and seen(fake, default.name, b"INFO") == 0
    # target_nodes= several nodes: redis-py's {node name: reply}
    every = rc.info(target_nodes=RedisCluster.ALL_NODES)
    assert sorted(every) == addresses(rc.get_nodes()) and len(every) == 6
    rc.close()


def test_cluster_wide_commands_stay_cluster_wide() -> None:
    fake = FakeCluster(masters=3, replicas=0)
    rc, _ = make_client(fake)
    keys = [f"k{i}" for i in range(30)]
    for key in keys:
        rc.set(key, 1)
    assert rc.dbsize() == 30  # every primary, not the default node's share
    assert sorted(rc.keys()) == sorted(k.encode() for k in keys)
    rc.close()


# --- usage errors are redis-py's RedisClusterException --------------------------------------
def test_keyed_command_without_its_key_is_refused_before_sending() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.ping()
    fake.clear_commands_seen()
    with pytest.raises(rex.RedisClusterException, match="Missing key") as info:
        rc.execute_command("GET")
    assert isinstance(info.value, ClusterUsageError)
    assert all(seen(fake, n.address, b"GET") == 0 for n in fake.nodes)
    for target in (rc, rc.pipeline()):  # redis-py-cluster's message for no command at all
        with pytest.raises(ClusterUsageError, match="Unable to determine command to use"):
            target.execute_command()
    rc.close()


def test_node_administration_is_refused_without_target_nodes() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    for call in (rc.bgrewriteaof, lambda: rc.cluster_meet("127.0.0.1", 1)):
        with pytest.raises(rex.RedisClusterException, match="cannot be routed"):
            call()
    with pytest.raises(ClusterUsageError, match="doesn't exist in the cluster"):
        rc.pubsub(host="10.255.0.1", port=1)
    with pytest.raises(NotImplementedError, match="HELLO"):
        rc.hello()
    rc.close()


def test_cross_slot_keys_are_caught_as_either_redis_py_class() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    assert rc.keyslot("{a}x") != rc.keyslot("{b}y")
    for catch in (rex.RedisClusterException, rex.ClusterCrossSlotError, ClusterCrossSlotError,
                  CrossSlotKeysError):
        with pytest.raises(catch):
            rc.eval("return 1", 2, "{a}x", "{b}y")
    with pytest.raises(CrossSlotKeysError):
        rc.sinter("{a}x", "{b}y")
    rc.close()


# --- constructor ------------------------------------------------------------------------------
def test_constructor_needs_a_seed_and_database_zero() -> None:
    with pytest.raises(rex.RedisClusterException,
                       match="requires at least one node to discover the cluster"):
        RedisCluster(startup_nodes=[])
    with pytest.raises(RedisClusterConfigError, match=r"not possible to use in cluster mode.*7"):
        RedisCluster(host="127.0.0.1", port=1, db=7, init_slot_cache=False)


def test_connection_pool_class_maps_redis_py_pools() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake, connection_pool_class=redis.BlockingConnectionPool, timeout=3)
    pool = rc.connection_pool
    assert pool.blocking is True and pool.timeout == 3
    rc.close()
    rc, _ = make_client(fake, connection_pool_class=redis.ConnectionPool)
    assert rc.connection_pool.blocking is False
    rc.close()
    with pytest.raises(RedisClusterConfigError, match="connection_pool_class=<class 'dict'>"):
        make_client(fake, connection_pool_class=dict)


def test_reinitialize_steps_is_settable_and_checked() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    rc.reinitialize_steps = 1
    assert rc.reinitialize_steps == 1 == rc.connection_pool.reinitialize_steps
    for bad in (-1, "2", True, 1.5):
        with pytest.raises(DataError, match=repr(bad).replace(".", r"\.")):
            rc.reinitialize_steps = bad  # type: ignore[assignment]
    assert rc.reinitialize_steps == 1
    rc.close()


def test_cluster_response_callbacks_are_the_case_insensitive_callbacks() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    callbacks = rc.cluster_response_callbacks
    assert callbacks is rc.response_callbacks
    assert callbacks["cluster slots"] is callbacks["CLUSTER SLOTS"]
    callbacks["get"] = lambda reply, **options: b"seen:" + reply
    rc.set("k", "v")
    assert rc.get("k") == b"seen:v"
    rc.close()


def test_hmset_warns_as_redis_py_does() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    with pytest.warns(DeprecationWarning, match=r"hmset\(\) is deprecated"):
        assert rc.hmset("h", {"a": 1}) is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert rc.hset("h", mapping={"b": 2}) == 1  # the replacement does not warn
    rc.close()


# --- streams: redis-py's argument checks -----------------------------------------------------
def test_stream_argument_checks_follow_redis_py() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    with pytest.raises(DataError, match="-1"):
        rc.xautoclaim("s", "g", "c", min_idle_time=-1)
    with pytest.raises(ValueError, match="'wrong'"):
        rc.xautoclaim("s", "g", "c", min_idle_time="wrong")  # type: ignore[arg-type]
    with pytest.raises(DataError):
        rc.xpending_range("s", "g", min="-", max="+", count=-1)
    with pytest.raises(ValueError, match="'one'"):
        rc.xpending_range("s", "g", min="-", max="+", count=5, idle="one")  # type: ignore
    with pytest.raises(DataError, match="idle time or consumername"):
        rc.xpending_range("s", "g", min=None, max=None, count=None, idle=0)
    rc.xgroup_create("s", "g", mkstream=True)
    # none of min, max, count: the group's summary, as in redis-py
    assert rc.xpending_range("s", "g", None, None, None) == rc.xpending("s", "g")
    rc.close()


# --- scripts ------------------------------------------------------------------------------------
def test_registered_script_names_its_client() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    script = rc.register_script("return 1")
    assert script.registered_client is rc is script.client
    rc.close()


def test_the_bridge_names_the_new_classes() -> None:
    bridged = clustercore.redis_bridge()
    assert bridged["ClusterUsageError"] is rex.RedisClusterException
    assert issubclass(CrossSlotKeysError, rex.ClusterCrossSlotError)
