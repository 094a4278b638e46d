"""Pub/sub parity with redis-py on a real cluster: the same test bodies run against redis-py
8.1's ``RedisCluster`` and against clustercore's (``impl`` parameter), so every "same as
redis-py" claim about publish() counts, ``subscribed``, ``ping()``, ``get_sharded_message``
and ``pubsub(node=...)`` is checked against redis-py itself; then clustercore alone keeps the
count right across a CLUSTER FAILOVER (redis-py leaves the subscription on the old node)."""

from __future__ import annotations

import importlib
import time
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

from clustercore import RedisCluster, key_slot
from clustercore.testing import LocalCluster

redis_cluster = importlib.import_module("redis.cluster")  # dev dependency: fail, never skip


@pytest.fixture(params=["redis-py", "clustercore"])
def rc(request: pytest.FixtureRequest, cluster: LocalCluster) -> Iterator[Any]:
    seed = cluster.startup_nodes[0]
    host, port = seed["host"], int(seed["port"])
    if request.param == "redis-py":
        client: Any = redis_cluster.RedisCluster(host=host, port=port, socket_timeout=5)
    else:
        client = RedisCluster(startup_nodes=cluster.startup_nodes, socket_timeout=5)
    yield client
    client.close()


def _channel_per_primary(lc: LocalCluster, prefix: str) -> List[str]:
    """One channel name per primary (by slot owner)."""
    # the slot map read once (one redis-cli), not once per candidate name
    ranges = [(start, end, lc.node_by_id(e.node_id))
              for e in lc.cluster_nodes(lc.running_nodes()[0]) if e.is_master
              for start, end in e.slots]
    wanted = len(lc.primaries())
    seen: Dict[Any, str] = {}
    for i in range(2000):
        name = f"{prefix}:{i}"
        slot = key_slot(name)
        owner = next(node for start, end, node in ranges if start <= slot <= end)
        seen.setdefault((owner.host, owner.port), name)
        if len(seen) == wanted:
            break
    assert len(seen) == wanted
    return list(seen.values())


def _next(read: Callable[..., Optional[Dict[str, Any]]], kind: str, timeout: float = 5.0,
          **kwargs: Any) -> Optional[Dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = read(timeout=max(0.01, min(0.2, deadline - time.monotonic())), **kwargs)
        if message is not None and message["type"] == kind:
            return message
    return None


def test_publish_counts_the_subscriber_for_channels_on_every_primary(
        rc: Any, cluster: LocalCluster) -> None:
    for channel in _channel_per_primary(cluster, "parity-count"):
        ps = rc.pubsub()
        try:
            ps.subscribe(channel)
            assert _next(ps.get_message, "subscribe") is not None
            assert rc.publish(channel, "hello") == 1, channel
            message = _next(ps.get_message, "message")
            assert message is not None and message["data"] == b"hello"
        finally:
            ps.close()


def test_subscribed_right_after_subscribe_and_ping(rc: Any) -> None:
    ps = rc.pubsub()
    try:
        assert not ps.subscribed
        ps.subscribe("parity-subscribed")
        assert ps.subscribed
        assert _next(ps.get_message, "subscribe") is not None
        ps.ping()
        pong = _next(ps.get_message, "pong")
        assert pong == {"type": "pong", "pattern": None, "channel": None, "data": b""}
        assert ps.connection is not None
    finally:
        ps.close()


def test_get_sharded_message(rc: Any, cluster: LocalCluster) -> None:
    channels = _channel_per_primary(cluster, "parity-shard")
    ps = rc.pubsub()
    try:
        ps.ssubscribe(*channels)
        acks = [_next(ps.get_sharded_message, "ssubscribe") for _ in channels]
        assert sorted(m["channel"] for m in acks if m) == sorted(c.encode() for c in channels)
        for channel in channels:
            assert rc.spublish(channel, channel) == 1
        got = [_next(ps.get_sharded_message, "smessage") for _ in channels]
        assert sorted(m["data"] for m in got if m) == sorted(c.encode() for c in channels)
    finally:
        ps.close()


def test_pubsub_node_fixes_the_node(rc: Any, cluster: LocalCluster) -> None:
    channel = _channel_per_primary(cluster, "parity-node")[0]
    owner = cluster.slot_owner(key_slot(channel))
    other = next(p for p in cluster.primaries() if (p.host, p.port) != (owner.host, owner.port))
    node = rc.get_node(host=other.host, port=other.port)
    ps = rc.pubsub(node=node)
    try:
        ps.subscribe(channel)
        assert _next(ps.get_message, "subscribe") is not None
        assert ps.get_pubsub_node().name == node.name
        # subscribed on another node than the channel's owner: delivered, not counted
        assert rc.publish(channel, "elsewhere") == 0
        message = _next(ps.get_message, "message")
        assert message is not None and message["data"] == b"elsewhere"
    finally:
        ps.close()


def test_classic_count_is_right_again_after_a_failover(
        make_cluster: Callable[..., LocalCluster]) -> None:
    lc = make_cluster(2, 1)
    rc = RedisCluster(startup_nodes=lc.startup_nodes, socket_timeout=5)
    try:
        channel = "failover-classic"
        ps = rc.pubsub(ignore_subscribe_messages=True)
        ps.subscribe(channel)
        assert _next(ps.get_message, "message", timeout=0.5) is None  # reads the ack
        assert rc.publish(channel, "before") == 1
        assert _next(ps.get_message, "message") is not None
        replica = lc.replicas_of(lc.slot_owner(key_slot(channel)))[0]
        lc.failover(replica)
        rc.connection_pool.initialize()  # the layout a refresh or a MOVED would bring
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ps.get_message(timeout=0.05)
            link = ps.snapshot().classic
            if link is not None and link.node == (replica.host, replica.port) \
                    and ps.snapshot().acknowledged:
                break
        link = ps.snapshot().classic
        assert link is not None and link.node == (replica.host, replica.port)
        for i in range(3):
            assert rc.publish(channel, f"after-{i}") == 1
        got = [_next(ps.get_message, "message") for _ in range(3)]
        assert [m["data"] for m in got if m] == [b"after-0", b"after-1", b"after-2"]
        ps.close()
    finally:
        rc.close()
