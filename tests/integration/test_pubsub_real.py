"""ClusterPubSub on a real cluster: classic delivery from every node, patterns, sharded
channels on every shard, restoring after the server kills the connections, and sharded
subscriptions that keep delivering across a CLUSTER FAILOVER."""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

from clustercore import ClusterPubSub, RedisCluster, key_slot
from clustercore.testing import LocalCluster


def _client(lc: LocalCluster, **kwargs: Any) -> RedisCluster:
    kwargs.setdefault("socket_timeout", 5)
    return RedisCluster(startup_nodes=lc.startup_nodes, **kwargs)


@pytest.fixture
def rc(cluster: LocalCluster) -> Iterator[RedisCluster]:
    client = _client(cluster)
    yield client
    client.close()


def _wait_for(ps: ClusterPubSub, kind: str, timeout: float = 5.0,
              ) -> Optional[Dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = ps.get_message(timeout=max(0.0, deadline - time.monotonic()))
        if message is not None and message["type"] == kind:
            return message
    return None


def _collect(ps: ClusterPubSub, count: int, timeout: float = 5.0) -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(out) < count and time.monotonic() < deadline:
        message = ps.get_message(ignore_subscribe_messages=True,
                                 timeout=max(0.0, deadline - time.monotonic()))
        if message is not None:
            out.append(message)
    return out


def _one_channel_per_shard(rc: RedisCluster) -> List[str]:
    pool = rc.connection_pool
    seen: Dict[Any, str] = {}
    for i in range(1000):
        name = f"shard-ch:{i}"
        seen.setdefault(pool.address_for_slot(key_slot(name)), name)
    return list(seen.values())


def test_classic_messages_published_on_every_node_arrive(rc: RedisCluster) -> None:
    with ClusterPubSub(rc) as ps:
        ps.subscribe("broadcast")
        ps.psubscribe("evt.*")
        assert _wait_for(ps, "subscribe") is not None
        assert _wait_for(ps, "psubscribe") is not None
        nodes = rc.connection_pool.topology.nodes
        for node in nodes:
            rc._execute_on_node(node, "PUBLISH", "broadcast", node.name)
        rc.publish("evt.login", "x")
        got = _collect(ps, len(nodes) + 1)
        assert sorted(m["data"] for m in got if m["type"] == "message") == sorted(
            n.name.encode() for n in nodes)
        assert [m["channel"] for m in got if m["type"] == "pmessage"] == [b"evt.login"]


def test_sharded_channels_on_every_shard(rc: RedisCluster) -> None:
    names = _one_channel_per_shard(rc)
    assert len(names) == 3
    with ClusterPubSub(rc, ignore_subscribe_messages=True) as ps:
        ps.ssubscribe(*names)
        assert all(_wait_for_link(ps, name) for name in names)
        assert len(ps.snapshot().shards) == 3
        for name in names:
            assert rc.spublish(name, name) == 1
        got = _collect(ps, 3)
        assert sorted(m["data"] for m in got) == sorted(n.encode() for n in names)
        assert {m["type"] for m in got} == {"smessage"}


def test_subscriptions_come_back_after_the_server_kills_them(rc: RedisCluster) -> None:
    shard_channel = _one_channel_per_shard(rc)[0]
    with ClusterPubSub(rc) as ps:
        ps.subscribe("again")
        ps.ssubscribe(shard_channel)
        assert _wait_for_link(ps, shard_channel)
        classic = ps.snapshot().classic
        assert classic is not None
        assert not classic.pending_acks
        for node in rc.connection_pool.topology.nodes:
            rc._execute_on_node(node, "CLIENT", "KILL", "TYPE", "pubsub")
        deadline = time.monotonic() + 5
        while ps.restores == 0 and time.monotonic() < deadline:
            ps.get_message(timeout=0.05)
        assert ps.restores >= 1
        # Publish until delivered: the restore is asynchronous to the publisher.
        got: List[bytes] = []
        for i in range(100):
            rc.publish("again", f"c{i}")
            rc.spublish(shard_channel, f"s{i}")
            got += [m["type"].encode() for m in _collect(ps, 2, timeout=0.1)]
            if b"message" in got and b"smessage" in got:
                break
        assert b"message" in got and b"smessage" in got


def test_sharded_subscription_survives_a_failover(
        make_cluster: Callable[..., LocalCluster]) -> None:
    lc = make_cluster(2, 1)
    rc = _client(lc)
    try:
        channel = "failover-news"
        slot = key_slot(channel)
        with ClusterPubSub(rc, ignore_subscribe_messages=True) as ps:
            ps.ssubscribe(channel)
            assert _wait_for_link(ps, channel)
            assert rc.spublish(channel, "before") == 1
            assert [m["data"] for m in _collect(ps, 1)] == [b"before"]
            old = lc.slot_owner(slot)
            replica = lc.replicas_of(old)[0]
            lc.failover(replica)  # returns once the replica is primary and the cluster is ok
            # The subscriber only keeps reading; it is told nothing.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                ps.get_message(timeout=0.05)
                home = ps.snapshot().home(channel.encode())
                if home is not None and home == (replica.host, replica.port):
                    break
            assert ps.snapshot().home(channel.encode()) == (replica.host, replica.port)
            # The publisher's map is stale after a manual failover: the demoted node still
            # accepts SPUBLISH (and propagates it in its shard) but counts only its own
            # receivers. Let it see the new layout, as a periodic refresh or a MOVED would.
            rc.connection_pool.initialize()
            for i in range(3):
                assert rc.spublish(channel, f"after-{i}") == 1
            got = _collect(ps, 3)
            assert [m["data"] for m in got] == [b"after-0", b"after-1", b"after-2"]
    finally:
        rc.close()


def _wait_for_link(ps: ClusterPubSub, channel: str, timeout: float = 5.0) -> bool:
    """Read until ``channel`` has a home and every link's (sharded and classic) subscribe
    requests are acknowledged."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ps.get_message(timeout=0.05)
        snapshot = ps.snapshot()
        if snapshot.home(channel.encode()) is not None and snapshot.acknowledged:
            return True
    return False
