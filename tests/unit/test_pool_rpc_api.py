"""redis-py-cluster 2.1.3's pool API on clustercore's four pools, over FakeCluster: from_url,
any connection_class, the read-only pool's methods, counts and caps, make_connection, the
encoder, init_slot_cache=False, and NodeManager (standalone and as ``pool.nodes``)."""

from __future__ import annotations

import os
import random
import re
import threading
import time
import warnings
from typing import Any, Iterator, List, Type

import pytest

from clustercore import (
    ClusterBlockingConnectionPool,
    ClusterConnectionPool,
    ClusterReadOnlyConnectionPool,
    ClusterWithReadReplicasConnectionPool,
    SSLClusterConnection,
)
from clustercore._net.connection import DEFAULT_SOCKET_TIMEOUT
from clustercore._pool.nodemanager import NodeManager
from clustercore._pool.url import parse_url, to_bool
from clustercore.errors import (
    ConnectionError,
    DataError,
    PoolTimeoutError,
    RedisClusterConfigError,
    RedisClusterException,
    TooManyConnectionsError,
)
from clustercore.testing import FakeCluster

POOLS: List[Type[ClusterConnectionPool]] = [
    ClusterConnectionPool, ClusterBlockingConnectionPool, ClusterReadOnlyConnectionPool,
    ClusterWithReadReplicasConnectionPool]


class DummyConnection:
    """redis-py-cluster's own test class: nothing but ``__init__``."""

    def __init__(self, host: str = "localhost", port: int = 7000,
                 socket_timeout: Any = None, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.pid = os.getpid()
        self.host = host
        self.port = port
        self.socket_timeout = socket_timeout


class Recording:
    """A foreign class with connect()/disconnect() that records what the pool calls."""

    def __init__(self, host: str, port: int, **kwargs: Any) -> None:
        self.host, self.port, self.kwargs = host, port, kwargs
        self.calls: List[str] = []

    def connect(self) -> None:
        self.calls.append("connect")

    def disconnect(self) -> None:
        self.calls.append("disconnect")


@pytest.fixture
def fake() -> FakeCluster:
    return FakeCluster(masters=3, replicas=1)


def _pool(fake: FakeCluster, cls: Type[ClusterConnectionPool] = ClusterConnectionPool,
          **kwargs: Any) -> ClusterConnectionPool:
    return cls(startup_nodes=fake.startup_nodes, transport=fake.network, **kwargs)


# --- from_url -----------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
def test_from_url_builds_each_pool_class_from_the_urls_host(fake: FakeCluster,
                                                            cls: Type[ClusterConnectionPool],
                                                            ) -> None:
    seed = fake.primaries()[1].address
    with cls.from_url(f"redis://{seed.host}:{seed.port}", transport=fake.network) as pool:
        assert type(pool) is cls
        assert pool.orig_startup_nodes == [seed]
        assert len(pool.nodes.nodes) == 6  # discovered through the one seed
        assert pool.connection_kwargs["db"] == 0
        assert pool.connection_kwargs["username"] is None
        assert pool.connection_kwargs["password"] is None
        conn = pool.get_connection_by_slot(0)
        assert conn.execute("PING") == b"PONG"
        pool.release(conn)


def test_from_url_reads_options_as_redis_py_3_5_did() -> None:
    kwargs = parse_url("redis://localhost/2?db=0&socket_timeout=20&socket_connect_timeout=10"
                       "&socket_keepalive=&retry_on_timeout=Yes&max_connections=10&a=1")
    assert kwargs == {"host": "localhost", "port": 6379, "db": 0, "username": None,
                      "password": None, "socket_timeout": 20.0,
                      "socket_connect_timeout": 10.0, "retry_on_timeout": True,
                      "max_connections": 10, "a": "1"}
    assert parse_url("redis://u:p%2F@h:7001")["password"] == "p%2F"
    decoded = parse_url("redis://u:p%2F@my%20host:7001", decode_components=True)
    assert (decoded["username"], decoded["password"], decoded["host"]) == ("u", "p/", "my host")
    assert parse_url("rediss://h:7001")["ssl"] is True


def test_from_url_lets_the_url_replace_keyword_arguments_and_types_pool_options() -> None:
    kwargs = parse_url("redis://h:7000?max_connections=3&skip_full_coverage_check=false"
                       "&max_connections_per_node=true&timeout=0.5&readonly=1",
                       max_connections=50, skip_full_coverage_check=True, foo="bar")
    assert kwargs["max_connections"] == 3 and kwargs["skip_full_coverage_check"] is False
    assert kwargs["max_connections_per_node"] is True and kwargs["timeout"] == 0.5
    assert kwargs["readonly"] is True and kwargs["foo"] == "bar"
    assert parse_url("redis://h?max_connections_per_node=4")["max_connections_per_node"] == 4


@pytest.mark.parametrize("value,expected", [
    (None, None), ("", None), (0, False), ("0", False), ("f", False), ("F", False),
    ("False", False), ("n", False), ("N", False), ("No", False), (1, True), ("1", True),
    ("y", True), ("Y", True), ("Yes", True)])
def test_to_bool_is_redis_py_3_5s(value: Any, expected: Any) -> None:
    assert to_bool(value) is expected


def test_from_url_warns_about_an_unparsable_value_and_drops_it() -> None:
    with pytest.warns(UserWarning, match="Invalid value for `socket_timeout`"):
        kwargs = parse_url("redis://h?socket_timeout=soon")
    assert "socket_timeout" not in kwargs


@pytest.mark.parametrize("url,db,expected", [
    ("redis://h", None, 0), ("redis://h/0", "1", 0), ("redis://h", "0", 0)])
def test_from_url_takes_database_0_from_the_query_the_path_or_the_argument(
        url: str, db: Any, expected: int) -> None:
    assert parse_url(url, db)["db"] == expected


@pytest.mark.parametrize("url,db", [("redis://h/2", None), ("redis://h?db=3", None),
                                    ("redis://h", 1), ("redis://h/0?db=1", None)])
def test_from_url_refuses_another_database_naming_it(url: str, db: Any) -> None:
    with pytest.raises(RedisClusterConfigError, match="only database 0"):
        ClusterConnectionPool.from_url(url, db, init_slot_cache=False)


@pytest.mark.parametrize("url", ["unix:///tmp/redis.sock", "http://h:7000", "h:7000"])
def test_from_url_refuses_other_schemes_naming_the_url(url: str) -> None:
    with pytest.raises(RedisClusterConfigError, match="redis://, rediss://") as info:
        ClusterConnectionPool.from_url(url)
    assert repr(url) in str(info.value)


def test_from_url_renames_charset_and_errors_with_a_deprecation_warning() -> None:
    with pytest.warns(DeprecationWarning) as record:
        kwargs = parse_url("redis://h", charset="latin-1", errors="replace")
    assert sorted(str(w.message) for w in record) == [
        '"charset" is deprecated. Use "encoding" instead',
        '"errors" is deprecated. Use "encoding_errors" instead']
    assert (kwargs["encoding"], kwargs["encoding_errors"]) == ("latin-1", "replace")
    assert "charset" not in kwargs and "errors" not in kwargs


def test_rediss_urls_make_tls_pools_without_io(fake: FakeCluster) -> None:
    pool = ClusterConnectionPool.from_url("rediss://127.0.0.1:30001?ssl_cert_reqs=none",
                                          init_slot_cache=False, transport=fake.network)
    assert pool.connection_class is SSLClusterConnection and pool.config.tls
    assert pool.connection_kwargs["ssl_context"] is not None
    assert fake.network.dials == {}
    pool.close()


# --- init_slot_cache=False ------------------------------------------------------------------------
@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
def test_init_slot_cache_false_sends_nothing_until_first_use(
        fake: FakeCluster, cls: Type[ClusterConnectionPool]) -> None:
    for make in (lambda: _pool(fake, cls, init_slot_cache=False),
                 lambda: cls.from_url("redis://127.0.0.1:30001", init_slot_cache=False,
                                      transport=fake.network)):
        pool = make()
        assert fake.network.dials == {} and fake.network.opened == 0
        assert pool.nodes.nodes == {} and pool.topology.shards == ()
        conn = pool.get_connection_by_slot(0)  # first use discovers
        assert fake.network.opened >= 2
        pool.release(conn)
        pool.close()
        fake.network.dials.clear()
        fake.network.opened = 0


# --- the caller's connection class ---------------------------------------------------------------
def test_a_class_with_only_init_serves_checkouts_while_discovery_uses_clustercores(
        fake: FakeCluster) -> None:
    with _pool(fake, connection_class=DummyConnection, foo="bar", biz="baz") as pool:
        assert pool.connection_class is DummyConnection
        assert len(pool.nodes.nodes) == 6  # discovered although DummyConnection cannot speak
        address = fake.primaries()[0].address
        conn = pool.get_connection_by_node({"host": address.host, "port": address.port})
        assert isinstance(conn, DummyConnection) and type(conn).__name__ == "DummyConnection"
        # built as redis-py-cluster built it: host=, port=, the connection keywords as given
        assert (conn.host, conn.port) == (address.host, address.port)
        assert conn.kwargs == {"transport": fake.network, "foo": "bar", "biz": "baz"}
        assert conn.socket_timeout == DEFAULT_SOCKET_TIMEOUT  # finite: clustercore's default
        assert conn.node == {"host": address.host, "port": address.port,
                             "name": address.name, "server_type": "master"}
        pool.release(conn)
        assert pool.get_connection_by_node(address) is conn  # reused
        other = pool.get_connection_by_node(fake.primaries()[1].address)
        assert other is not conn
        pool.release(conn)
        pool.release(other)
        assert pool.stats().idle == 2 and pool.stats().in_use == 0


def test_a_foreign_class_is_never_connected_by_the_pool_and_is_closed_by_it(
        fake: FakeCluster) -> None:
    address = fake.primaries()[0].address
    with _pool(fake, ClusterReadOnlyConnectionPool, connection_class=Recording) as pool:
        conn = pool.get_connection_by_address(address)
        assert isinstance(conn, Recording) and conn.calls == []
        assert conn.kwargs["readonly"] is True  # the read-only pool asks for READONLY
        pool.release(conn)
        pool.disconnect()
        assert conn.calls == ["disconnect"]
    with _pool(fake, connection_class=Recording) as pool:
        assert "readonly" not in pool.get_connection_by_address(address).kwargs


@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
def test_every_pool_accepts_a_foreign_class(fake: FakeCluster,
                                            cls: Type[ClusterConnectionPool]) -> None:
    with _pool(fake, cls, connection_class=DummyConnection) as pool:
        conn = pool.get_connection_by_slot(0)
        assert isinstance(conn, DummyConnection)
        pool.release(conn)


def test_foreign_connections_are_capped_cluster_wide(fake: FakeCluster) -> None:
    a, b = fake.primaries()[0].address, fake.primaries()[1].address
    with _pool(fake, connection_class=DummyConnection, max_connections=2) as pool:
        pool.get_connection_by_node(a)
        pool.get_connection_by_node(b)
        with pytest.raises(RedisClusterException, match="Too many connections"):
            pool.get_connection_by_node(a)


def test_foreign_connections_are_capped_per_node(fake: FakeCluster) -> None:
    a, b = fake.primaries()[0].address, fake.primaries()[1].address
    with _pool(fake, connection_class=DummyConnection, max_connections=2,
               max_connections_per_node=True) as pool:
        for address in (a, b, a, b):
            pool.get_connection_by_node(address)
        assert pool.count_all_num_connections(a) == 2
        with pytest.raises(TooManyConnectionsError, match="Too many connections"):
            pool.get_connection_by_node(a)


# --- counts, caps, make_connection ---------------------------------------------------------------
def test_max_connections_defaults_to_2_31_and_keeps_a_given_number(fake: FakeCluster) -> None:
    with _pool(fake) as pool:
        assert pool.max_connections == 2 ** 31 and pool.config.max_connections is None
    with _pool(fake, ClusterBlockingConnectionPool) as blocking:
        assert blocking.max_connections == 50 == blocking.config.max_connections
    with _pool(fake, max_connections=3) as capped:
        assert capped.max_connections == 3 == capped.config.max_connections


def test_make_connection_is_counted_capped_and_carries_its_node(fake: FakeCluster) -> None:
    replica = fake.replicas()[0].address
    with _pool(fake, max_connections=2) as pool:
        conn = pool.make_connection(replica)
        assert not conn.is_connected  # as redis-py-cluster: it connects on first use
        assert conn.node == {"host": replica.host, "port": replica.port,
                             "name": replica.name, "server_type": "slave"}
        assert pool.count_all_num_connections(replica) == 1
        assert pool.stats().in_use == 1
        second = pool.make_connection({"host": replica.host, "port": replica.port})
        with pytest.raises(RedisClusterException, match="Too many connections"):
            pool.make_connection(replica)
        assert conn.execute("PING") == b"PONG"
        pool.release(conn)  # connected: kept for reuse
        pool.release(second)  # never connected: closed, its slot freed
        assert pool.stats().idle == 1 and pool.count_all_num_connections(replica) == 1
        assert pool.get_connection_by_address(replica) is conn


def test_make_connection_with_overrides_is_a_dedicated_uncounted_connection(
        fake: FakeCluster) -> None:
    with _pool(fake, max_connections=1) as pool:
        held = pool.get_connection_by_slot(0)
        dedicated = pool.make_connection(fake.primaries()[1].address, socket_timeout=1.0)
        assert dedicated.socket_timeout == 1.0 and pool.stats().in_use == 1
        dedicated.connect()
        assert dedicated.execute("PING") == b"PONG"
        dedicated.disconnect()
        pool.release(held)


def test_count_all_num_connections_counts_the_cluster_or_the_node(fake: FakeCluster) -> None:
    a, b = fake.primaries()[0].address, fake.primaries()[1].address
    with _pool(fake) as pool:
        held = [pool.get_connection_by_address(x) for x in (a, a, b)]
        pool.release(held[0])  # idle ones count too
        assert pool.count_all_num_connections(a) == 3 == pool.count_all_num_connections(b)
        for conn in held[1:]:
            pool.release(conn)
    with _pool(fake, max_connections_per_node=5) as per_node:
        held = [per_node.get_connection_by_address(x) for x in (a, a, b)]
        assert per_node.count_all_num_connections({"host": a.host, "port": a.port}) == 2
        assert per_node.count_all_num_connections(b) == 1
        for conn in held:
            per_node.release(conn)


def test_the_blocking_pool_waits_its_timeout_then_says_no_connection_available(
        fake: FakeCluster) -> None:
    with _pool(fake, ClusterBlockingConnectionPool, max_connections=1, timeout=0.1) as pool:
        held = pool.get_connection_by_slot(0)
        started = time.monotonic()
        with pytest.raises(PoolTimeoutError, match="No connection available") as info:
            pool.get_connection_by_slot(16383)  # another node: the cluster-wide cap
        assert time.monotonic() - started >= 0.1
        assert isinstance(info.value, ConnectionError)
        pool.release(held)
        pool.release(pool.get_connection_by_slot(16383))  # the released one made room


def test_the_blocking_pool_hands_a_released_foreign_connection_to_a_waiter(
        fake: FakeCluster) -> None:
    # A waiter served with a connection of the caller's class (not a ClusterConnection) once
    # took it for a budget slot, lost it, and waited again until its timeout.
    with _pool(fake, ClusterBlockingConnectionPool, connection_class=DummyConnection,
               max_connections=1, max_connections_per_node=True, timeout=5) as pool:
        node = pool.get_master_node_by_slot(0)
        held = pool.get_connection_by_node(node)
        other = pool.get_connection_by_node(pool.get_master_node_by_slot(16383))  # no wait
        got: List[Any] = []
        waiter = threading.Thread(target=lambda: got.append(pool.get_connection_by_node(node)))
        waiter.start()
        deadline = time.monotonic() + 5
        while pool.stats().waits == 0 and time.monotonic() < deadline:  # it is parked
            time.sleep(0.005)
        started = time.monotonic()
        pool.release(held)
        waiter.join(5)
        assert got == [held] and time.monotonic() - started < 1
        pool.release(held)
        pool.release(other)


def test_the_non_blocking_pool_raises_at_once(fake: FakeCluster) -> None:
    with _pool(fake, max_connections=1) as pool:
        held = pool.get_connection_by_slot(0)
        with pytest.raises(TooManyConnectionsError, match=r"^Too many connections"):
            pool.get_connection_by_slot(0)
        pool.release(held)


# --- small rpc attributes -------------------------------------------------------------------------
def test_socket_timeout_is_always_in_connection_kwargs(fake: FakeCluster) -> None:
    # redis-py-cluster's attribute; its value is clustercore's finite default, not rpc's None
    assert ClusterConnectionPool.RedisClusterDefaultTimeout == DEFAULT_SOCKET_TIMEOUT == 3.0
    with _pool(fake) as pool:
        assert "socket_timeout" in pool.connection_kwargs
        assert pool.connection_kwargs["socket_timeout"] == DEFAULT_SOCKET_TIMEOUT
    with _pool(fake, socket_timeout=2.5) as given:
        assert given.connection_kwargs["socket_timeout"] == 2.5
        conn = given.get_connection_by_slot(0)
        assert conn.socket_timeout == 2.5
        given.release(conn)


def test_get_encoder_has_redis_py_3_5s_shape(fake: FakeCluster) -> None:
    with _pool(fake, encoding="latin-1", decode_responses=True) as pool:
        encoder = pool.get_encoder()
        assert (encoder.encoding, encoder.encoding_errors, encoder.decode_responses) == (
            "latin-1", "strict", True)
        assert encoder.encode("é") == b"\xe9" and encoder.encode(b"x") == b"x"
        assert encoder.encode(12) == b"12" and encoder.encode(1.5) == b"1.5"
        assert encoder.decode(b"\xe9") == "é" and encoder.decode(7) == 7
        with pytest.raises(DataError, match="bool"):
            encoder.encode(True)
    with _pool(fake) as raw:
        assert raw.get_encoder().decode(b"x") == b"x"
        assert raw.get_encoder().decode(b"x", force=True) == "x"


def test_get_connection_serves_pubsub_only(fake: FakeCluster) -> None:
    with _pool(fake) as pool:
        with pytest.raises(RedisClusterException,
                           match=re.escape("Only 'pubsub' commands can be used by get_connection()")):
            pool.get_connection("GET", "foo")
        conn = pool.get_connection("pubsub", channel="foo")
        assert conn.address == fake.owner_of("foo").address
        pool.release(conn)
        anywhere = pool.get_connection("pubsub")
        assert anywhere.address in pool.topology.primaries
        pool.release(anywhere)


@pytest.mark.parametrize("key", [None, "", b""])
def test_get_connection_by_key_without_a_key_says_so(fake: FakeCluster, key: Any) -> None:
    for cls in (ClusterConnectionPool, ClusterReadOnlyConnectionPool):
        with _pool(fake, cls) as pool, pytest.raises(RedisClusterException, match=re.escape(
                "No way to dispatch this command to Redis Cluster.")):
            pool.get_connection_by_key(key, "GET")


def test_get_connection_by_key_takes_rpcs_command_argument(fake: FakeCluster) -> None:
    with _pool(fake) as pool:
        conn = pool.get_connection_by_key("foo", "GET")
        assert conn.address == fake.owner_of("foo").address  # the primary, as rpc
        pool.release(conn)


def test_get_connection_by_key_goes_through_get_connection_by_slot(
        fake: FakeCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """redis-py-cluster's test patches get_connection_by_slot on the class."""
    marker = DummyConnection(port=1337)
    monkeypatch.setattr(ClusterConnectionPool, "get_connection_by_slot",
                        lambda self, slot, read_command=False: marker)
    with _pool(fake) as pool:
        assert pool.get_connection_by_key("foo", "GET") is marker


# --- the read-only pool ---------------------------------------------------------------------------
@pytest.fixture
def readonly(fake: FakeCluster) -> Iterator[ClusterReadOnlyConnectionPool]:
    with ClusterReadOnlyConnectionPool(startup_nodes=fake.startup_nodes, transport=fake.network,
                                       rng=random.Random(7)) as pool:
        yield pool


def test_get_node_by_slot_random_draws_from_the_slots_nodes(
        fake: FakeCluster, readonly: ClusterReadOnlyConnectionPool) -> None:
    primary = fake.owner_of(0).address
    expected = {primary.port, *(r.port for r in readonly.topology.slots[0].replicas)}
    assert len(expected) == 2
    ports = {readonly.get_node_by_slot_random(0)["port"] for _ in range(100)}
    assert ports == expected


def test_get_node_by_slot_random_reads_nodes_slots(readonly: ClusterReadOnlyConnectionPool,
                                                   ) -> None:
    """redis-py-cluster's test assigns pool.nodes.slots[0] and expects to draw from it."""
    readonly.nodes.slots[0] = [
        {"host": "172.20.0.2", "port": 7000, "name": "172.20.0.2:7000", "server_type": "master"},
        {"host": "172.20.0.2", "port": 7003, "name": "172.20.0.2:7003", "server_type": "slave"},
    ]
    assert {readonly.get_node_by_slot_random(0)["port"] for _ in range(100)} == {7000, 7003}


def test_read_only_pool_connections_by_slot(fake: FakeCluster,
                                            readonly: ClusterReadOnlyConnectionPool) -> None:
    slot = 12182
    shard = readonly.topology.slots[slot]
    assert shard is not None
    for _ in range(5):
        conn = readonly.get_master_connection_by_slot(slot)
        assert conn.address == shard.primary
        readonly.release(conn)
    seen = set()
    for _ in range(60):
        conn = readonly.get_random_master_slave_connection_by_slot(slot)
        seen.add(conn.address)
        readonly.release(conn)
    assert seen == set(shard.nodes)


def test_read_only_get_connection_by_key_routes_by_command(
        fake: FakeCluster, readonly: ClusterReadOnlyConnectionPool) -> None:
    primary = fake.owner_of("foo").address
    for command in ("SCAN", "SSCAN", "HSCAN", "ZSCAN", "zscan"):
        conn = readonly.get_connection_by_key("foo", command)
        assert conn.address == primary
        readonly.release(conn)
    seen = set()
    for _ in range(60):
        conn = readonly.get_connection_by_key("foo", "GET")
        seen.add(conn.address)
        readonly.release(conn)
    shard = readonly.topology.slots[12182]
    assert shard is not None and seen == set(shard.nodes)
    # without a command: clustercore's read_command (reads on replicas, writes on the primary)
    conn = readonly.get_connection_by_key("foo")
    assert conn.address == primary
    readonly.release(conn)
    assert readonly.master_node_commands == ("SCAN", "SSCAN", "HSCAN", "ZSCAN")


def test_read_only_get_connection_by_key_dispatches_through_the_named_methods(
        readonly: ClusterReadOnlyConnectionPool, monkeypatch: pytest.MonkeyPatch) -> None:
    """redis-py-cluster's test patches these two methods on the class."""
    calls: List[str] = []
    marker = DummyConnection(port=1337)

    def patched(name: str) -> Any:
        def method(self: Any, slot: int) -> Any:
            calls.append(f"{name}:{slot}")
            return marker
        return method

    for name in ("get_master_connection_by_slot", "get_random_master_slave_connection_by_slot"):
        monkeypatch.setattr(ClusterReadOnlyConnectionPool, name, patched(name))
    assert readonly.get_connection_by_key("foo", "ZSCAN") is marker
    assert readonly.get_connection_by_key("foo", "GET") is marker
    assert calls == ["get_master_connection_by_slot:12182",
                     "get_random_master_slave_connection_by_slot:12182"]


# --- NodeManager ------------------------------------------------------------------------------------
def test_pool_nodes_is_one_node_manager_with_rpcs_shapes(fake: FakeCluster) -> None:
    with _pool(fake) as pool:
        manager = pool.nodes
        assert isinstance(manager, NodeManager) and pool.nodes is manager
        assert len(manager.nodes) == 6 and len(manager.slots) == 16384
        primary = fake.owner_of(0).address
        record = manager.nodes[primary.name]
        assert record == {"host": primary.host, "port": primary.port, "name": primary.name,
                          "server_type": "master"}
        assert manager.slots[0][0] is record
        assert [n["server_type"] for n in manager.slots[0]] == ["master", "slave"]
        assert manager.node_from_slot(0) is record
        assert {n["name"] for n in manager.all_masters()} == {
            p.address.name for p in fake.primaries()}
        assert manager.keyslot("foo") == 12182 and manager.keyslot(1337) == 4314
        assert manager.startup_nodes[0] == {"host": "127.0.0.1", "port": 30001,
                                            "name": "127.0.0.1:30001"}
        assert manager.reinitialize_steps == pool.reinitialize_steps
        before = pool.refreshes
        manager.initialize()
        manager.reset()
        assert pool.refreshes == before + 2


def test_a_standalone_node_manager_discovers_on_initialize_only(fake: FakeCluster) -> None:
    with pytest.raises(RedisClusterException, match="No startup nodes provided"):
        NodeManager()
    with pytest.raises(RedisClusterException, match="No startup nodes provided"):
        NodeManager([])
    assert NodeManager([{}]).keyslot("{foo}bar") == 12182  # rpc's keyslot test
    manager = NodeManager(startup_nodes=fake.startup_nodes[:1], transport=fake.network)
    assert fake.network.opened == 0 and manager.nodes == {} and manager.slots == {}
    manager.initialize()
    assert fake.network.opened >= 1
    assert len(manager.nodes) == 6 and len(manager.slots) == NodeManager.RedisClusterHashSlots
    masters = {n["name"] for n in manager.all_masters()}
    assert masters == {p.address.name for p in fake.primaries()}
    assert manager.random_node() in list(manager.nodes.values())
    assert manager.random_startup_node() in manager.startup_nodes
    nodes = [f"{n['host']}:{n['port']}" for n in manager.startup_nodes]
    assert len(nodes) == len(set(nodes)) == 6  # every node is a startup node after initialize()


def test_node_manager_dict_helpers(fake: FakeCluster) -> None:
    manager = NodeManager([{"host": "127.0.0.1", "port": 30001}], transport=fake.network)
    node = {"host": "127.0.0.1", "port": 7000}
    manager.set_node_name(node)
    assert node["name"] == "127.0.0.1:7000"
    expected = {"host": "127.0.0.1", "name": "127.0.0.1:7000", "port": 7000,
                "server_type": "master"}
    assert manager.set_node(host="127.0.0.1", port=7000, server_type="master") == expected
    assert manager.nodes == {"127.0.0.1:7000": expected}
    manager.slots = {"foo": "bar"}  # type: ignore[dict-item]
    manager.reset()  # forgets what was set, then discovers
    assert "foo" not in manager.slots and len(manager.nodes) == 6


def test_node_manager_counts_moved_toward_a_rediscovery(fake: FakeCluster) -> None:
    manager = NodeManager(fake.startup_nodes, reinitialize_steps=3, transport=fake.network)
    manager.initialize()
    epoch = manager.topology.epoch
    manager.increment_reinitialize_counter(2)
    assert manager.topology.epoch == epoch
    manager.increment_reinitialize_counter(1)
    assert manager.topology.epoch == epoch + 1


def test_a_standalone_initialize_that_reaches_nobody_says_which_seeds_it_tried() -> None:
    fake = FakeCluster(masters=1, replicas=0)
    address = fake.primaries()[0].address
    fake.network.refuse(address)
    manager = NodeManager([{"host": address.host, "port": address.port}],
                          transport=fake.network)
    with pytest.raises(RedisClusterException, match=address.name):
        manager.initialize()
    assert manager.nodes == {}


def test_node_manager_warns_nothing(fake: FakeCluster) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        NodeManager(fake.startup_nodes, transport=fake.network).initialize()



def test_the_pools_take_rpcs_positional_arguments(fake: FakeCluster) -> None:
    seeds = fake.startup_nodes
    readonly = ClusterReadOnlyConnectionPool(seeds, False, None, 7, True, transport=fake.network)
    assert (readonly.max_connections, readonly.nodemanager_follow_cluster) == (7, True)
    replicas = ClusterWithReadReplicasConnectionPool(seeds, False, None, 9, 2, 5, True, True,
                                                     transport=fake.network)
    assert (replicas.max_connections, replicas.max_connections_per_node) == (9, 2)
    assert replicas.reinitialize_steps == 5 and replicas.config.skip_full_coverage_check
    blocking = ClusterBlockingConnectionPool(seeds, False, None, 4, False, None, False, False,
                                             0.5, transport=fake.network)
    assert (blocking.max_connections, blocking.timeout) == (4, 0.5)
    for pool in (readonly, replicas, blocking):
        pool.close()


def test_node_manager_seeds_are_assignable_and_remap_must_be_a_list(fake: FakeCluster) -> None:
    """redis-py-cluster's NodeManager: orig_startup_nodes may be assigned (None keeps the
    seeds), and host_port_remap must be a list of rule dicts (a dict is refused by name)."""
    manager = NodeManager(startup_nodes=[{"host": "10.255.0.1", "port": 1}],
                          transport=fake.network)
    manager.orig_startup_nodes = None
    assert manager.orig_startup_nodes == [{"host": "10.255.0.1", "port": 1}]
    manager.orig_startup_nodes = fake.startup_nodes[:1]
    manager.initialize()  # the new seed answers
    assert len(manager.nodes) == 6
    with pytest.raises(RedisClusterException, match="No startup nodes"):
        manager.orig_startup_nodes = []
    with pytest.raises(RedisClusterConfigError, match="list of rule dicts"):
        NodeManager(startup_nodes=[{"host": "127.0.0.1", "port": 7000}], host_port_remap={})
    NodeManager(startup_nodes=[{"host": "127.0.0.1", "port": 7000}], host_port_remap=[])


def test_pool_from_url_refuses_a_path_that_is_not_a_database_number() -> None:
    """redis-py 3.5 ignored "/abc"; a bad path is named instead (and "/" or "/0" are fine)."""
    with pytest.raises(RedisClusterConfigError, match="'abc'"):
        ClusterConnectionPool.from_url("redis://127.0.0.1:7000/abc", init_slot_cache=False)
    for url in ("redis://127.0.0.1:7000/", "redis://127.0.0.1:7000/0"):
        ClusterConnectionPool.from_url(url, init_slot_cache=False).close()
