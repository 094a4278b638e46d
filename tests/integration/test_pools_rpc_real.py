"""redis-py-cluster 2.1.3's pool API against a real local Redis Cluster: from_url,
connection_class, multiprocessing (a from_url pool shared with forked children), the read-only
pool's methods, and the caps."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from typing import Any, Dict, List, Optional, Type

import pytest

from clustercore import (
    ClusterBlockingConnectionPool,
    ClusterConnection,
    ClusterConnectionPool,
    ClusterReadOnlyConnectionPool,
    ClusterWithReadReplicasConnectionPool,
    NodeAddress,
    SSLClusterConnection,
)
from clustercore._pool.nodemanager import NodeManager
from clustercore.errors import PoolTimeoutError, RedisClusterException, TooManyConnectionsError
from clustercore.testing import LocalCluster

from .proxy import Proxy

POOLS: List[Type[ClusterConnectionPool]] = [
    ClusterConnectionPool, ClusterBlockingConnectionPool, ClusterReadOnlyConnectionPool,
    ClusterWithReadReplicasConnectionPool]

#: How long a child process may take before the test calls it hung.
CHILD_DEADLINE = 20.0


def _url(cluster: LocalCluster, scheme: str = "redis") -> str:
    node = cluster.primaries()[0]
    return f"{scheme}://{node.host}:{node.port}"


def _ping(conn: Any) -> None:
    """PING through redis-py's two-step API, as redis-py-cluster's tests do."""
    conn.send_command("PING")
    assert conn.read_response() == b"PONG"


def _name(node: Any) -> str:
    return f"{node.host}:{node.port}"


def _no_probe_threads() -> None:
    """Wait (bounded) until no discovery probe runs: a fork must not copy a held lock."""
    deadline = time.monotonic() + 10
    while any(t.name.startswith("clustercore-probe") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "discovery probes still running"
        threading.Event().wait(0.005)


class DummyConnection:
    """redis-py-cluster's test class: nothing but ``__init__``."""

    def __init__(self, host: str = "localhost", port: int = 7000,
                 socket_timeout: Any = None, **kwargs: Any) -> None:
        self.host, self.port, self.socket_timeout, self.kwargs = host, port, socket_timeout, kwargs


class Wrapped:
    """A foreign class that really talks to the node (through a connection it owns), with
    redis-py's send_command/read_response, connect and disconnect."""

    def __init__(self, host: str, port: int, socket_timeout: Optional[float] = None,
                 **kwargs: Any) -> None:
        self.inner = ClusterConnection(host, port, socket_timeout=socket_timeout or 5.0)
        self.connects = 0

    def connect(self) -> None:
        self.connects += 1
        self.inner.connect()

    def send_command(self, *args: Any) -> None:
        self.inner.send_command(*args)

    def read_response(self) -> Any:
        return self.inner.read_response()

    def disconnect(self) -> None:
        self.inner.disconnect()


# --- from_url -----------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
def test_from_url_serves_every_pool_class(cluster: LocalCluster,
                                          cls: Type[ClusterConnectionPool]) -> None:
    with cls.from_url(_url(cluster) + "/0?socket_timeout=5&max_connections=20",
                      skip_full_coverage_check=True) as pool:
        assert type(pool) is cls and pool.max_connections == 20
        assert pool.config.skip_full_coverage_check is True
        assert pool.connection_kwargs["socket_timeout"] == 5.0
        assert set(pool.topology.primaries) == {n.address for n in cluster.primaries()}
        conn = pool.get_connection_by_key("rpc:url")  # no command: a write, the primary
        assert conn.execute("SET", "rpc:url", cls.__name__) == b"OK"
        assert conn.address == cluster.slot_owner(cluster.key_slot("rpc:url")).address
        pool.release(conn)


def test_rediss_from_url_reaches_a_tls_cluster(tls_cluster: LocalCluster) -> None:
    url = _url(tls_cluster, "rediss") + "?ssl_cert_reqs=required"
    with ClusterBlockingConnectionPool.from_url(
            url, ssl_ca_certs=str(tls_cluster.ca_cert_path)) as pool:
        assert pool.connection_class is SSLClusterConnection
        conn = pool.get_connection_by_key("rpc:tls")
        assert conn.execute("PING") == b"PONG"
        pool.release(conn)


def test_init_slot_cache_false_opens_no_connection(cluster: LocalCluster) -> None:
    """The seed is a proxy that counts the connections it accepts."""
    node = cluster.primaries()[0]
    proxy = Proxy((node.host, node.port))
    try:
        host, port = proxy.address
        for cls in POOLS:
            accepted = proxy.accepted
            pool = cls.from_url(f"redis://{host}:{port}", init_slot_cache=False)
            lazy = cls(startup_nodes=[{"host": host, "port": port}], init_slot_cache=False)
            assert proxy.accepted == accepted, cls.__name__
            assert pool.nodes.nodes == {} and not pool.topology.shards
            conn = pool.get_connection_by_slot(0)  # the first use discovers, through the seed
            assert proxy.accepted > accepted
            pool.release(conn)
            pool.close()
            lazy.close()
    finally:
        proxy.stop()


# --- connection_class ----------------------------------------------------------------------------
def test_a_class_with_only_init_is_handed_out_while_discovery_speaks_clustercore(
        cluster: LocalCluster) -> None:
    with ClusterConnectionPool(startup_nodes=cluster.startup_nodes[:1],
                               connection_class=DummyConnection, foo="bar") as pool:
        assert len(pool.nodes.nodes) == len(cluster.nodes)
        primary = cluster.primaries()[0]
        conn = pool.get_connection_by_node({"host": primary.host, "port": primary.port})
        assert isinstance(conn, DummyConnection) and conn.kwargs == {"foo": "bar"}
        assert conn.node["name"] == _name(primary)
        assert conn.node["server_type"] == "master"
        pool.release(conn)


def test_a_foreign_class_that_connects_itself_runs_commands(cluster: LocalCluster) -> None:
    with ClusterConnectionPool(startup_nodes=cluster.startup_nodes,
                               connection_class=Wrapped, max_connections=2) as pool:
        conn = pool.get_connection_by_key("rpc:wrapped")
        assert isinstance(conn, Wrapped) and conn.connects == 0  # the pool never connects it
        conn.send_command("SET", "rpc:wrapped", "yes")  # connects on first use (inner)
        assert conn.read_response() == b"OK"
        pool.release(conn)
        again = pool.get_connection_by_key("rpc:wrapped")
        assert again is conn
        again.send_command("GET", "rpc:wrapped")
        assert again.read_response() == b"yes"
        other = pool.get_connection_by_slot(0)  # a second one: the cap is reached
        with pytest.raises(RedisClusterException, match="Too many connections"):
            pool.get_connection_by_slot(0)
        pool.release(other)
        pool.release(again)
        pool.disconnect()
        assert not conn.inner.is_connected


# --- multiprocessing -----------------------------------------------------------------------------
def _child_uses_pool(pool: ClusterConnectionPool, parent_pid: int, key: str) -> None:
    """In the child: its own connections (a new pid), commands work, then disconnect."""
    try:
        conn = pool.get_random_connection()
        assert conn.pid != parent_pid, "the child got a connection of its parent"
        _ping(conn)
        pool.release(conn)
        by_key = pool.get_connection_by_key(key)
        assert by_key.execute("SET", key, "child") == b"OK"
        pool.release(by_key)
    finally:
        pool.disconnect()


def _child_survives_parent_disconnect(pool: ClusterConnectionPool, ready: Any,
                                      parent_done: Any) -> None:
    conn = pool.get_random_connection()
    _ping(conn)
    ready.set()
    assert parent_done.wait(CHILD_DEADLINE)
    _ping(conn)
    pool.release(conn)


@pytest.mark.parametrize("max_connections", [1, 2, None])
def test_a_from_url_pool_shared_with_a_forked_child(cluster: LocalCluster,
                                                    max_connections: Optional[int]) -> None:
    context = multiprocessing.get_context("fork")
    pool = ClusterConnectionPool.from_url(_url(cluster), max_connections=max_connections)
    try:
        conn = pool.get_random_connection()
        _ping(conn)
        pool.release(conn)
        _no_probe_threads()
        proc = context.Process(target=_child_uses_pool,
                               args=(pool, os.getpid(), f"rpc:mp:{max_connections}"))
        proc.start()
        proc.join(CHILD_DEADLINE)
        assert proc.exitcode == 0
        # the child disconnected its own pool: the parent's connection is untouched
        again = pool.get_connection_by_address(conn.address)
        assert again is conn
        _ping(again)
        pool.release(again)
        check = pool.get_connection_by_key(f"rpc:mp:{max_connections}")
        assert check.execute("GET", f"rpc:mp:{max_connections}") == b"child"
        pool.release(check)
    finally:
        pool.close()


@pytest.mark.parametrize("max_connections", [1, 2, None])
def test_the_parent_disconnecting_leaves_a_childs_connections_alone(
        cluster: LocalCluster, max_connections: Optional[int]) -> None:
    context = multiprocessing.get_context("fork")
    pool = ClusterConnectionPool.from_url(_url(cluster), max_connections=max_connections)
    try:
        conn = pool.get_random_connection()
        _ping(conn)
        ready, parent_done = context.Event(), context.Event()
        _no_probe_threads()
        proc = context.Process(target=_child_survives_parent_disconnect,
                               args=(pool, ready, parent_done))
        proc.start()
        assert ready.wait(CHILD_DEADLINE)
        pool.release(conn)
        pool.disconnect()
        assert not conn.is_connected
        parent_done.set()
        proc.join(CHILD_DEADLINE)
        assert proc.exitcode == 0
    finally:
        pool.close()


# --- the read-only pool -------------------------------------------------------------------------
def test_read_only_pool_methods_reach_the_right_nodes(cluster: LocalCluster) -> None:
    key = "rpc:readonly"
    slot = cluster.key_slot(key)
    primary = cluster.slot_owner(slot)
    replicas = {r.address for r in cluster.replicas_of(primary)}
    with ClusterConnectionPool(startup_nodes=cluster.startup_nodes) as writer:
        conn = writer.get_connection_by_key(key)
        conn.execute("SET", key, "v")
        conn.execute("WAIT", "1", "2000")
        writer.release(conn)
    with ClusterReadOnlyConnectionPool(startup_nodes=cluster.startup_nodes) as pool:
        master = pool.get_master_connection_by_slot(slot)
        assert master.address == primary.address
        assert master.execute("ROLE")[0] == b"master"
        pool.release(master)
        for command in ("SCAN", "ZSCAN"):
            conn = pool.get_connection_by_key(key, command)
            assert conn.address == primary.address
            pool.release(conn)
        seen: Dict[NodeAddress, int] = {}
        for _ in range(40):
            conn = pool.get_random_master_slave_connection_by_slot(slot)
            assert conn.execute("GET", key) == b"v"  # READONLY: a replica answers too
            seen[conn.address] = seen.get(conn.address, 0) + 1
            pool.release(conn)
            conn = pool.get_connection_by_key(key, "GET")
            assert conn.execute("GET", key) == b"v"
            seen[conn.address] = seen.get(conn.address, 0) + 1
            pool.release(conn)
        assert set(seen) == {primary.address, *replicas}
        names = {pool.get_node_by_slot_random(slot)["name"] for _ in range(60)}
        assert names == {_name(primary), *(_name(r) for r in cluster.replicas_of(primary))}


# --- caps -----------------------------------------------------------------------------------------
def test_caps_on_the_real_cluster(cluster: LocalCluster) -> None:
    a, b = (NodeAddress(n.host, n.port) for n in cluster.primaries()[:2])
    with ClusterConnectionPool(startup_nodes=cluster.startup_nodes, max_connections=2,
                               max_connections_per_node=True) as pool:
        held = [pool.get_connection_by_node(x) for x in (a, b, a)]
        made = pool.make_connection(b)
        assert made.node["name"] == b.name and pool.count_all_num_connections(b) == 2
        with pytest.raises(TooManyConnectionsError, match="Too many connections"):
            pool.make_connection(a)
        with pytest.raises(TooManyConnectionsError, match="Too many connections"):
            pool.get_connection_by_node(b)
        assert made.execute("PING") == b"PONG"  # connects on first use
        for conn in [*held, made]:
            pool.release(conn)
        assert pool.count_all_num_connections(a) == 2 == pool.count_all_num_connections(b)
    with ClusterBlockingConnectionPool(startup_nodes=cluster.startup_nodes, max_connections=1,
                                       timeout=0.2) as blocking:
        held_one = blocking.get_connection_by_node(a)
        started = time.monotonic()
        with pytest.raises(PoolTimeoutError, match="No connection available"):
            blocking.get_connection_by_node(b)
        assert time.monotonic() - started >= 0.2
        blocking.release(held_one)
        conn = blocking.get_connection_by_node(b)  # the idle one on a made room
        assert conn.execute("PING") == b"PONG"
        blocking.release(conn)


def test_a_standalone_node_manager_on_the_real_cluster(cluster: LocalCluster) -> None:
    manager = NodeManager(startup_nodes=cluster.startup_nodes[:1])
    manager.initialize()
    assert len(manager.slots) == 16384 and len(manager.nodes) == len(cluster.nodes)
    owner = cluster.slot_owner(0)
    assert manager.node_from_slot(0) == {"host": owner.host, "port": owner.port,
                                         "name": _name(owner), "server_type": "master"}
    assert {n["name"] for n in manager.all_masters()} == {_name(n) for n in cluster.primaries()}
