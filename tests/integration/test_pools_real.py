"""The four pools against a real local Redis Cluster."""

from __future__ import annotations

import os
import socket
import time
from typing import Any, Callable, Dict, Iterator, List

import pytest

from clustercore import NodeAddress, SSLClusterConnection, key_slot
from clustercore._pool.cluster_pool import (
    ClusterBlockingConnectionPool,
    ClusterConnectionPool,
    ClusterReadOnlyConnectionPool,
    ClusterWithReadReplicasConnectionPool,
)
from clustercore.errors import (
    MovedError,
    PoolClosedError,
    PoolTimeoutError,
    RedisClusterConfigError,
    TooManyConnectionsError,
)
from clustercore.testing import LocalCluster

from .proxy import Proxy


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``predicate`` until true or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.01)


def get_calls(cluster: LocalCluster, node: Any) -> int:
    """How many GET commands ``node`` has executed (INFO commandstats)."""
    stats = cluster.info(node, "commandstats")
    entry = stats.get("cmdstat_get", "calls=0")
    return int(entry.split(",")[0].split("=")[1])


@pytest.fixture
def seeds(cluster: LocalCluster) -> List[Dict[str, Any]]:
    # redis-py-cluster style: str ports
    return [{"host": n.host, "port": str(n.port)} for n in cluster.primaries()]


def test_basic_pool_routes_by_slot(cluster: LocalCluster, seeds: List[Dict[str, Any]]) -> None:
    with ClusterConnectionPool(startup_nodes=seeds) as pool:
        for i in range(50):
            key = f"route:{i}"
            conn = pool.get_connection_by_key(key)
            try:
                assert conn.execute("SET", key, i) == b"OK"  # would be MOVED if misrouted
            finally:
                pool.release(conn)
        primaries = {n.address for n in cluster.primaries()}
        assert set(pool.topology.primaries) == primaries
        assert len(pool.nodes.slots) == 16384
        assert {n["name"] for n in pool.nodes.all_masters()} == {
            f"{h}:{p}" for h, p in primaries}
        assert pool.get_master_node_by_slot(key_slot("route:1"))["server_type"] == "master"
        assert len(pool.get_nodes_by_server_type("slave")) == 3
        stats = pool.stats()
        assert stats.in_use == 0 and stats.created == stats.idle > 0
        assert stats.active_nodes == 6


def test_blocking_pool_timeout_with_real_sockets(seeds: List[Dict[str, Any]]) -> None:
    pool = ClusterBlockingConnectionPool(startup_nodes=seeds, max_connections=2, timeout=0.2)
    try:
        slot = key_slot("blocked")
        held = [pool.get_connection_by_slot(slot), pool.get_connection_by_slot(slot)]
        start = time.monotonic()
        with pytest.raises(PoolTimeoutError):
            pool.get_connection_by_slot(slot)
        assert 0.2 <= time.monotonic() - start < 0.7
        # the cap is cluster-wide: another node has no capacity either
        other = next(s for s in range(16384)
                     if pool.address_for_slot(s) != pool.address_for_slot(slot))
        with pytest.raises(PoolTimeoutError):
            pool.get_connection_by_slot(other)
        pool.release(held.pop())
        conn = pool.get_connection_by_slot(other)  # an idle one elsewhere is closed to make room
        assert conn.execute("PING") == b"PONG"
        pool.release(conn)
        pool.release(held.pop())
        assert pool.stats().wait_timeouts == 2
    finally:
        pool.close()


def test_non_blocking_pool_raises_too_many(seeds: List[Dict[str, Any]]) -> None:
    with ClusterConnectionPool(startup_nodes=seeds, max_connections=1) as pool:
        held = pool.get_connection_by_slot(0)
        with pytest.raises(TooManyConnectionsError, match="Too many connections"):
            pool.get_connection_by_slot(0)
        pool.release(held)


def test_readonly_pool_reads_land_on_replicas(cluster: LocalCluster,
                                              seeds: List[Dict[str, Any]]) -> None:
    key = "replica-read"
    primary = cluster.slot_owner(cluster.key_slot(key))
    with ClusterConnectionPool(startup_nodes=seeds) as writer:
        conn = writer.get_connection_by_key(key)
        conn.execute("SET", key, "from-primary")
        conn.execute("WAIT", "1", "2000")
        writer.release(conn)
    replica = cluster.replicas_of(primary)[0]
    before_replica, before_primary = get_calls(cluster, replica), get_calls(cluster, primary)
    with ClusterReadOnlyConnectionPool(startup_nodes=seeds) as pool:
        for _ in range(10):
            conn = pool.get_connection_by_key(key, read_command=True)
            assert conn.address == replica.address
            assert conn.execute("GET", key) == b"from-primary"
            pool.release(conn)
        write = pool.get_connection_by_key(key)  # writes still go to the primary
        assert write.address == primary.address
        pool.release(write)
    assert get_calls(cluster, replica) - before_replica == 10
    assert get_calls(cluster, primary) == before_primary


def test_read_replicas_pool_spreads_reads(cluster: LocalCluster,
                                          seeds: List[Dict[str, Any]]) -> None:
    slot = key_slot("spread")
    seen = set()
    with ClusterWithReadReplicasConnectionPool(startup_nodes=seeds) as pool:
        for _ in range(60):
            conn = pool.get_connection_by_slot(slot, read_command=True)
            conn.execute("GET", "spread")
            seen.add(conn.address)
            pool.release(conn)
        primary = pool.address_for_slot(slot)
        assert pool.address_for_slot(slot, read_command=False) == primary
    assert primary in seen and len(seen) == 2  # the primary and its replica both served


def test_host_port_remap_through_unannounced_addresses(cluster: LocalCluster) -> None:
    proxies = {n.address: Proxy(n.address) for n in cluster.nodes}
    try:
        rules = [{"from_host": h, "from_port": p, "to_host": "127.0.0.1",
                  "to_port": proxies[(h, p)].address[1]} for h, p in proxies]
        seed_proxy = proxies[cluster.primaries()[0].address]
        pool = ClusterConnectionPool(
            startup_nodes=[{"host": "127.0.0.1", "port": seed_proxy.address[1]}],
            host_port_remap=rules)
        with pool:
            announced = {NodeAddress(*a) for a in proxies}
            assert not announced & set(pool.topology.nodes)  # only proxy addresses in use
            for i in range(30):
                conn = pool.get_connection_by_key(f"remap:{i}")
                assert conn.execute("SET", f"remap:{i}", "x") == b"OK"
                pool.release(conn)
            # a MOVED target is remapped too
            wrong = next(a for a in pool.topology.primaries
                         if a != pool.address_for_slot(key_slot("remap:0")))
            conn = pool.get_connection_by_address(wrong)
            with pytest.raises(MovedError) as info:
                conn.execute("GET", "remap:0")
            pool.release(conn)
            pool.on_moved(info.value.slot_id, info.value.target)
            assert pool.address_for_slot(key_slot("remap:0")) in pool.topology.primaries
        assert sum(p.accepted for p in proxies.values()) >= 3
    finally:
        for proxy in proxies.values():
            proxy.stop()


def test_callable_remap(cluster: LocalCluster) -> None:
    proxies = {n.address: Proxy(n.address) for n in cluster.nodes}
    try:
        by_port = {p: proxies[(h, p)].address for h, p in proxies}

        def remap(host: str, port: int) -> tuple:
            return by_port.get(port, (host, port))

        with ClusterConnectionPool(startup_nodes=[proxies[cluster.nodes[0].address].address],
                                   host_port_remap=remap) as pool:
            conn = pool.get_connection_by_key("callable-remap")
            assert conn.execute("SET", "callable-remap", "1") == b"OK"
            assert conn.address in {NodeAddress(*p.address) for p in proxies.values()}
            pool.release(conn)
    finally:
        for proxy in proxies.values():
            proxy.stop()


def test_dead_and_frozen_first_seeds(cluster: LocalCluster) -> None:
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()  # nothing listens there now
    frozen = socket.socket()
    frozen.bind(("127.0.0.1", 0))
    frozen.listen(8)  # accepts TCP (kernel backlog), never answers
    try:
        seeds = [{"host": "127.0.0.1", "port": dead_port},
                 {"host": "127.0.0.1", "port": frozen.getsockname()[1]},
                 {"host": cluster.nodes[0].host, "port": cluster.nodes[0].port}]
        for attempt in range(3):  # seeds are shuffled: try a few orders
            start = time.monotonic()
            pool = ClusterConnectionPool(startup_nodes=seeds, socket_timeout=10,
                                         socket_connect_timeout=10)
            elapsed = time.monotonic() - start
            pool.close()
            # never a full socket timeout: at most about two hedge delays
            assert elapsed < 1.0, (attempt, elapsed)
            assert pool.topology.is_fully_covered
        with pytest.raises(RedisClusterConfigError) as info:
            ClusterConnectionPool(startup_nodes=seeds[:1], probe_timeout=0.3)
        assert f"127.0.0.1:{dead_port}" in str(info.value)
        assert "refused" in str(info.value)
    finally:
        frozen.close()


def test_tls_pool_discovers_and_serves(tls_cluster: LocalCluster) -> None:
    pool = ClusterBlockingConnectionPool(
        startup_nodes=tls_cluster.startup_nodes[:1], ssl=True,
        ssl_ca_certs=str(tls_cluster.ca_cert_path), max_connections=8)
    with pool:
        assert pool.connection_class is SSLClusterConnection
        assert pool.topology.is_fully_covered
        assert set(pool.topology.primaries) == {n.address for n in tls_cluster.primaries()}
        for i in range(10):
            conn = pool.get_connection_by_key(f"tls:{i}")
            assert conn.execute("SET", f"tls:{i}", "secure") == b"OK"
            pool.release(conn)
    assert pool.closed


def test_periodic_refresh_follows_cluster_failover(make_cluster: Callable[..., LocalCluster]) -> None:
    lc = make_cluster(masters=3, replicas_per_master=1, node_timeout_ms=1000)
    pool = ClusterBlockingConnectionPool(startup_nodes=lc.startup_nodes, refresh_interval=0.1)
    try:
        slot = key_slot("failover-key")
        old_primary = pool.address_for_slot(slot)
        replica = next(n for n in lc.replicas() if lc.primary_of(n).address == old_primary)
        lc.failover(replica)
        wait_for(lambda: pool.address_for_slot(slot) == replica.address, 10,
                 "the periodic refresh to see the failover")
        conn = pool.get_connection_by_slot(slot)
        assert conn.execute("SET", "failover-key", "after") == b"OK"  # no MOVED: map is current
        pool.release(conn)
        stats = pool.stats()
        assert stats.refresh_triggers.get("periodic", 0) >= 1
    finally:
        pool.close()
    thread = pool._refresher.thread
    assert thread is not None and not thread.is_alive()  # joined on close


def test_close_is_ordered_and_fails_fast(seeds: List[Dict[str, Any]]) -> None:
    pool = ClusterBlockingConnectionPool(startup_nodes=seeds, min_idle_per_node=1,
                                         refresh_interval=5)
    wait_for(lambda: pool.stats().idle >= 3, 10, "min_idle connections")
    conn = pool.get_connection_by_slot(0)
    pool.close()
    with pytest.raises(PoolClosedError):
        pool.get_connection_by_slot(0)
    assert pool.stats().idle == 0
    pool.release(conn)  # an in-use connection is closed when it comes back
    assert not conn.is_connected
    thread = pool._refresher.thread
    assert thread is not None and not thread.is_alive()


def test_dropped_connections_are_replaced(cluster: LocalCluster) -> None:
    node = cluster.primaries()[0]
    proxy = Proxy(node.address)
    try:
        pool = ClusterConnectionPool(
            startup_nodes=[proxy.address],
            host_port_remap=[{"from_host": node.host, "from_port": node.port,
                              "to_host": "127.0.0.1", "to_port": proxy.address[1]}])
        with pool:
            address = NodeAddress(*proxy.address)
            conns = [pool.get_connection_by_address(address) for _ in range(3)]
            # the kernel completes a connect before the proxy thread accepts it: wait for that
            wait_for(lambda: proxy.open_connections >= 3, 5, "the proxy to accept")
            for c in conns:
                pool.release(c)
            proxy.drop_all()
            wait_for(lambda: all(c.has_pending_input() for c in conns), 5,
                     "EOF to reach the idle client sockets")
            fresh = pool.get_connection_by_address(address)
            assert fresh.execute("PING") == b"PONG"  # a dead idle socket is never handed out
            pool.release(fresh)
            assert pool.stats().node(address).closed >= 3  # type: ignore[union-attr]
    finally:
        proxy.stop()


def test_fork_child_gets_fresh_connections(cluster: LocalCluster,
                                           seeds: List[Dict[str, Any]]) -> None:
    pool = ClusterConnectionPool(startup_nodes=seeds, client_name="parent")
    try:
        conn = pool.get_connection_by_slot(0)
        parent_id = conn.execute("CLIENT", "ID")
        pool.release(conn)
        pid = os.fork()
        if pid == 0:  # the child: must not touch the parent's socket
            code = 1
            try:
                child = pool.get_connection_by_slot(0)
                ok = child.execute("CLIENT", "ID") != parent_id
                pool.release(child)
                code = 0 if ok else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
        again = pool.get_connection_by_slot(0)
        assert again is conn and again.execute("CLIENT", "ID") == parent_id
        pool.release(again)
    finally:
        pool.close()


@pytest.fixture
def pools_to_close() -> Iterator[List[ClusterConnectionPool]]:
    made: List[ClusterConnectionPool] = []
    yield made
    for p in made:
        p.close()


def test_lazy_init_when_cluster_is_down(pools_to_close: List[ClusterConnectionPool]) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    pool = ClusterConnectionPool(startup_nodes=[{"host": "127.0.0.1", "port": port}],
                                 init_slot_cache=False, probe_timeout=0.3)
    pools_to_close.append(pool)  # construction did not touch the network
    with pytest.raises(RedisClusterConfigError):
        pool.get_connection_by_slot(0)
