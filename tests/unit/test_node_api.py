"""redis-py's node API, constructor keywords and conveniences on FakeCluster: ClusterNode, the
node getters (derived from the current topology), the default node, per-node clients,
redis-py 8.1's constructor keywords (mapped or refused by name), item access, transaction(),
mget/mset_nonatomic, lock() and pipeline()/pubsub() signatures."""

from __future__ import annotations

import importlib
from typing import Any, Dict, List

import pytest

from clustercore import ClusterNode, NodeAddress, NodeClient, RedisCluster, key_slot
from clustercore.errors import DataError, RedisClusterConfigError, SlotNotCoveredError, WatchError
from clustercore.testing import FakeCluster
from tests.unit.fakeclient import make_client


@pytest.fixture
def fake() -> FakeCluster:
    return FakeCluster()


# --- ClusterNode --------------------------------------------------------------------------------
def test_cluster_node_is_named_and_compared_like_redis_py() -> None:
    a = ClusterNode("10.0.0.1", "7000", "primary")
    assert (a.host, a.port, a.name, a.server_type) == ("10.0.0.1", 7000, "10.0.0.1:7000",
                                                       "primary")
    assert a == ClusterNode("10.0.0.1", 7000) and hash(a) == hash(ClusterNode("10.0.0.1", 7000))
    assert a != ClusterNode("10.0.0.1", 7001) and a != ("10.0.0.1", 7000)
    assert ClusterNode("localhost", 6379).name == "127.0.0.1:6379"
    assert a.redis_connection is None  # a hand-made node has no client
    with pytest.raises(DataError, match="99999"):
        ClusterNode("h", 99999)


# --- the getters ----------------------------------------------------------------------------------
def test_nodes_come_from_the_current_topology(fake: FakeCluster) -> None:
    rc, _ = make_client(fake)
    assert [n.address for n in rc.get_primaries()] == list(
        rc.connection_pool.topology.primaries)
    assert [n.address for n in rc.get_replicas()] == list(rc.connection_pool.topology.replicas)
    assert {n.server_type for n in rc.get_primaries()} == {"primary"}
    assert {n.server_type for n in rc.get_replicas()} == {"replica"}
    assert rc.get_nodes() == rc.get_primaries() + rc.get_replicas()
    node = rc.get_replicas()[0]
    assert rc.get_node(node.host, node.port) == node
    assert rc.get_node(node_name=node.name) == node
    assert rc.get_node("10.9.9.9", 1) is None and rc.get_node() is None
    assert rc.get_random_node() in rc.get_nodes()
    # a failover changes roles: the next read shows the new snapshot
    primary = fake.primaries()[0]
    promoted = fake.failover(primary)
    rc.connection_pool.initialize()
    assert rc.get_node(node_name=promoted.address.name).server_type == "primary"


def test_keyslot_and_node_from_key(fake: FakeCluster) -> None:
    rc, _ = make_client(fake, require_full_coverage=False)
    assert rc.keyslot("foo") == key_slot("foo") == rc.keyslot(b"foo")
    owner = fake.owner_of(key_slot("foo"))
    assert rc.get_node_from_key("foo").address == owner.address
    replica = rc.get_node_from_key("foo", replica=True)
    assert replica is not None and replica.address in [r.address for r in owner.replicas]
    assert rc.get_nodes_from_slot("GET", "GET", "foo") == [rc.get_node_from_key("foo")]
    assert rc.determine_slot("GET", "foo") == key_slot("foo")
    fake.unassign_slots([key_slot("foo")])
    rc.connection_pool.initialize()
    with pytest.raises(SlotNotCoveredError):
        rc.get_node_from_key("foo")


def test_no_replica_gives_none() -> None:
    fake = FakeCluster(replicas=0)
    rc, _ = make_client(fake)
    assert rc.get_node_from_key("foo", replica=True) is None
    assert rc.get_replicas() == []


def test_default_node(fake: FakeCluster) -> None:
    rc, _ = make_client(fake)
    first = rc.get_default_node()
    assert first == rc.get_primaries()[0]
    replica = rc.get_replicas()[1]
    assert rc.set_default_node(replica) is True
    assert rc.get_default_node() == replica == rc.nodes_manager.default_node
    assert rc.set_default_node(ClusterNode("10.9.9.9", 1)) is False
    assert rc.set_default_node(None) is False
    assert rc.get_default_node() == replica
    rc.replace_default_node()
    assert rc.get_default_node() in rc.get_primaries()
    before = rc.get_default_node()
    rc.replace_default_node()
    assert rc.get_default_node() != before


def test_per_node_client_sends_only_to_its_node(fake: FakeCluster) -> None:
    rc, _ = make_client(fake)
    node = rc.get_primaries()[2]
    conn = rc.get_redis_connection(node)
    assert isinstance(conn, NodeClient) and conn is node.redis_connection
    fake.clear_commands_seen()
    assert conn.ping() is True and rc.ping(target_nodes=node) is True
    for other in fake.nodes:
        pings = [c for c in fake.commands_seen(other) if c[0].upper() == b"PING"]
        assert len(pings) == (2 if other.address == node.address else 0)
    rc.set("k", "v")
    owner = rc.get_node_from_key("k")
    assert rc.get_redis_connection(owner).get("k") == b"v"
    assert list(rc.get_redis_connection(owner).scan_iter()) == [b"k"]


def test_nodes_manager_view(fake: FakeCluster) -> None:
    rc, _ = make_client(fake)
    manager = rc.nodes_manager
    assert set(manager.nodes_cache) == {n.name for n in rc.get_nodes()}
    slot = key_slot("foo")
    assert manager.slots_cache[slot][0] == rc.get_node_from_key("foo")
    assert manager.get_node_from_slot(slot) == rc.get_node_from_key("foo")
    assert manager.get_nodes_by_server_type("replica") == rc.get_replicas()
    assert list(manager.startup_nodes) == [n.name for n in rc.startup_nodes]


# --- constructor keywords ---------------------------------------------------------------------------
def test_startup_nodes_as_cluster_nodes(fake: FakeCluster) -> None:
    seeds = [ClusterNode(n["host"], n["port"]) for n in fake.startup_nodes]
    rc = RedisCluster(startup_nodes=seeds, transport=fake.network, clock=fake.clock,
                      background_refresh=False)
    assert rc.ping() is True
    assert rc.connection_pool.startup_nodes == [s.address for s in seeds]


def build(fake: FakeCluster, **kwargs: Any) -> RedisCluster:
    return RedisCluster(startup_nodes=fake.startup_nodes, transport=fake.network,
                        clock=fake.clock, background_refresh=False, **kwargs)


def test_redis_py_keywords_are_mapped(fake: FakeCluster) -> None:
    redis_cluster = importlib.import_module("redis.cluster")  # dev dependency: fail, never skip
    redis_retry = importlib.import_module("redis.retry")  # dev dependency: fail, never skip
    redis_backoff = importlib.import_module("redis.backoff")  # dev dependency: fail, never skip
    calls: List[Any] = []

    def remap(address: Any) -> Any:
        calls.append(address)
        return address

    rc = build(fake, require_full_coverage=False, cluster_error_retry_attempts=7,
               address_remap=remap, dynamic_startup_nodes=True,
               load_balancing_strategy=redis_cluster.LoadBalancingStrategy.RANDOM_REPLICA,
               retry_on_error=[ConnectionError], protocol="2", legacy_responses=True,
               cache=None, event_dispatcher=None, maint_notifications_config=None)
    pool = rc.connection_pool
    assert pool.config.skip_full_coverage_check is True
    assert rc.retry.cluster_down_attempts == 7
    assert calls and pool.config.remap is not None
    assert pool.nodemanager_follow_cluster is True
    assert pool.read_policy == "random_replica"
    assert pool.connection_kwargs["protocol"] == 2
    assert build(fake).connection_pool.config.skip_full_coverage_check is False
    retry = redis_retry.Retry(redis_backoff.NoBackoff(), 4)
    assert build(fake, retry=retry).retry.cluster_down_attempts == 4
    rc.set_retry(redis_retry.Retry(redis_backoff.NoBackoff(), 2))
    assert rc.retry.cluster_down_attempts == 2


@pytest.mark.parametrize("name, value", [
    ("cache", object()), ("cache_config", object()), ("event_dispatcher", object()),
    ("policy_resolver", object()), ("credential_provider", object()),
    ("redis_connect_func", print), ("lib_name", "x"), ("unix_socket_path", "/tmp/s"),
    ("legacy_responses", False), ("protocol", 4), ("load_balancing_strategy", "fastest"),
    ("retry", "three"), ("cluster_error_retry_attempts", -1), ("address_remap", 5),
    ("socket_timout", 1.0)])
def test_unsupported_keywords_are_refused_by_name(fake: FakeCluster, name: str,
                                                  value: Any) -> None:
    with pytest.raises(RedisClusterConfigError, match=name):
        build(fake, **{name: value})


def test_enabled_maintenance_notifications_are_refused(fake: FakeCluster) -> None:
    class Config:
        enabled = True

    with pytest.raises(RedisClusterConfigError, match="maint_notifications_config"):
        build(fake, maint_notifications_config=Config())


def test_url_keyword(fake: FakeCluster) -> None:
    seed = fake.startup_nodes[0]
    rc = RedisCluster(url=f"redis://{seed['host']}:{seed['port']}/0?read_from_replicas=yes",
                      transport=fake.network, clock=fake.clock, background_refresh=False)
    assert rc.connection_pool.startup_nodes == [NodeAddress(seed["host"], seed["port"])]
    assert rc.read_from_replicas is True
    with pytest.raises(RedisClusterConfigError, match="db=2"):
        RedisCluster(url=f"redis://{seed['host']}:{seed['port']}?db=2", transport=fake.network)


# --- conveniences -----------------------------------------------------------------------------------
def test_item_access(fake: FakeCluster) -> None:
    rc, _ = make_client(fake)
    with pytest.raises(KeyError):
        rc["missing"]
    rc["k"] = "v"
    assert rc["k"] == b"v" and "k" in rc and "missing" not in rc
    del rc["k"]
    assert "k" not in rc
    del rc["k"]  # no error, as redis-py


def test_nonatomic_multi_key(fake: FakeCluster) -> None:
    rc, _ = make_client(fake)
    mapping = {"a": "1", "b": "2", "{a}c": "3"}
    slots = {key_slot(k) for k in mapping}
    assert rc.mset_nonatomic(mapping) == [True] * len(slots)
    assert rc.mget_nonatomic(["a", "b"], "{a}c", "zz") == [b"1", b"2", b"3", None]


def test_transaction_retries_on_watch_error_and_is_bounded(fake: FakeCluster) -> None:
    rc, sleeps = make_client(fake)
    other, _ = make_client(fake)
    rc.set("n", 1)
    attempts: List[int] = []

    def bump(pipe: Any) -> int:
        value = int(pipe.get("n"))
        attempts.append(value)
        if len(attempts) == 1:
            other.set("n", 10)  # a concurrent write: this attempt's EXEC must fail
        pipe.multi()
        pipe.set("n", value + 1)
        return value + 1

    assert rc.transaction(bump, "n", watch_delay=0.25) == [True]
    assert attempts == [1, 10] and rc.get("n") == b"11" and sleeps == [0.25]
    assert rc.transaction(bump, "n", value_from_callable=True) == 12

    def always_conflicts(pipe: Any) -> None:
        other.incr("n")
        pipe.multi()
        pipe.set("n", 0)

    with pytest.raises(WatchError):
        rc.transaction(always_conflicts, "n", max_attempts=3)
    assert rc.get("n") == b"15"  # three attempts, each spoiled, none applied
    with pytest.raises(DataError, match="max_attempts"):
        rc.transaction(always_conflicts, "n", max_attempts=0)
    with pytest.raises(TypeError, match="bogus"):
        rc.transaction(always_conflicts, "n", bogus=1)


def test_lock_builds_the_lock_class(fake: FakeCluster) -> None:
    rc, _ = make_client(fake)
    made: List[Dict[str, Any]] = []

    class StubLock:
        def __init__(self, redis: Any, name: Any, **kwargs: Any) -> None:
            made.append({"redis": redis, "name": name, **kwargs})

    assert isinstance(rc.lock("L", timeout=5, blocking_timeout=1, lock_class=StubLock),
                      StubLock)
    assert made == [{"redis": rc, "name": "L", "timeout": 5, "sleep": 0.1, "blocking": True,
                     "blocking_timeout": 1, "thread_local": True,
                     "raise_on_release_error": True}]


def test_pipeline_and_pubsub_signatures(fake: FakeCluster) -> None:
    rc, _ = make_client(fake)
    with rc.pipeline() as pipe:  # transaction=None: not a transaction
        pipe.set("a", 1).set("b", 2)
        assert pipe.execute() == [True, True]
    node = rc.get_node_from_key("chan")
    ps = rc.pubsub(node=node)
    ps.close()


def test_node_client_pubsub_subscribes_on_its_node(fake: FakeCluster) -> None:
    """ClusterKeyspaceNotifications calls ``get_redis_connection(node).pubsub(...)`` per
    primary: the subscriptions go on that node, whatever the channel's slot."""
    rc, _ = make_client(fake)
    node = rc.get_primaries()[2]
    ps = rc.get_redis_connection(node).pubsub(ignore_subscribe_messages=True)
    try:
        ps.subscribe("any-channel")
        assert ps.get_pubsub_node() == node and ps.ignore_subscribe_messages is True
        assert ps.snapshot().classic.node == node.address  # type: ignore[union-attr]
        with pytest.raises(TypeError, match="host='x'"):
            rc.get_redis_connection(node).pubsub(host="x")
    finally:
        ps.close()
