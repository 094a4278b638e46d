"""FakeCluster driven through clustercore's real connections and pools (no sockets, no sleeps)."""

from __future__ import annotations

import re
import sys
import threading
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clustercore import ClusterConnection, ClusterConnectionPool, NodeAddress, key_slot
from clustercore._topology.snapshot import Role
from clustercore.errors import (
    AskError,
    AuthenticationError,
    BusyLoadingError,
    ClusterCrossSlotError,
    ClusterDownError,
    ConnectionError,
    ExecAbortError,
    MovedError,
    ReadOnlyError,
    RedisClusterConfigError,
    ResponseError,
    TimeoutError,
    TryAgainError,
    WrongTypeError,
)
from clustercore.testing.fake.cluster import FakeClock, FakeCluster, FakeClusterError, FakeNode


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def connect(fake: FakeCluster, node: FakeNode, **kwargs: Any) -> ClusterConnection:
    """A real ClusterConnection to one fake node."""
    kwargs.setdefault("socket_timeout", 1.0)
    return ClusterConnection(node.host, node.port, transport=fake.network, **kwargs)


def key_on(fake: FakeCluster, node: FakeNode, prefix: str = "key") -> str:
    """A key whose slot ``node`` owns."""
    for i in range(100_000):
        key = f"{prefix}:{i}"
        if fake.owner_of(key) is node:
            return key
    raise AssertionError("no key found")


def primary_and_other(fake: FakeCluster) -> Tuple[FakeNode, FakeNode]:
    first, second = fake.primaries()[:2]
    return first, second


@pytest.fixture
def fake() -> Iterator[FakeCluster]:
    with FakeCluster(masters=3, replicas=1) as cluster:
        yield cluster


# ------------------------------------------------------------------------------------------------
# layout and discovery
# ------------------------------------------------------------------------------------------------
def test_layout_is_redis_cli_even_split(fake: FakeCluster) -> None:
    assert [p.slots for p in fake.primaries()] == [[(0, 5460)], [(5461, 10922)], [(10923, 16383)]]
    assert [r.primary for r in fake.replicas()] == fake.primaries()
    assert [n.port for n in fake.nodes] == list(range(30001, 30007))
    assert fake.startup_nodes[0] == {"host": "127.0.0.1", "port": 30001}
    assert fake.owner_of(0) is fake.primaries()[0]
    assert fake.owner_of("foo") is fake.owner_of(key_slot("foo"))
    assert len({n.id for n in fake.nodes}) == 6 and all(len(n.id) == 40 for n in fake.nodes)
    with pytest.raises(FakeClusterError):
        fake.node(40000)


def test_pool_discovers_via_cluster_shards(fake: FakeCluster) -> None:
    with ClusterConnectionPool(startup_nodes=fake.startup_nodes, transport=fake.network) as pool:
        topology = pool.topology
        assert topology.is_fully_covered
        assert sorted(topology.primaries) == sorted(p.address for p in fake.primaries())
        assert sorted(topology.replicas) == sorted(r.address for r in fake.replicas())
        for primary in fake.primaries():
            assert topology.role_of(primary.address) is Role.PRIMARY
    sent = [c[:2] for n in fake.nodes for c in fake.commands_seen(n)]
    assert [b"CLUSTER", b"SHARDS"] in sent
    assert [b"CLUSTER", b"SLOTS"] not in sent


def test_pool_falls_back_to_cluster_slots() -> None:
    with FakeCluster(masters=2, replicas=1, shards_supported=False) as fake:
        conn = connect(fake, fake.nodes[0])
        with pytest.raises(ResponseError, match=r"^ERR unknown subcommand 'SHARDS'\. Try CLUSTER"):
            conn.execute("CLUSTER", "SHARDS")
        with ClusterConnectionPool(startup_nodes=fake.startup_nodes[:1],
                                   transport=fake.network) as pool:
            assert sorted(pool.topology.primaries) == sorted(p.address for p in fake.primaries())
            assert sorted(pool.topology.replicas) == sorted(r.address for r in fake.replicas())
        assert [b"CLUSTER", b"SLOTS"] in fake.commands_seen(fake.nodes[0])


def test_cluster_slots_shape(fake: FakeCluster) -> None:
    reply = connect(fake, fake.nodes[0]).execute("CLUSTER", "SLOTS")
    assert len(reply) == 3
    start, end, primary, replica = reply[0]
    p0, r0 = fake.primaries()[0], fake.replicas()[0]
    assert (start, end) == (0, 5460)
    assert primary == [b"127.0.0.1", p0.port, p0.id.encode(), []]
    assert replica == [b"127.0.0.1", r0.port, r0.id.encode(), []]


def test_partial_coverage_consults_config() -> None:
    with FakeCluster(masters=2, replicas=0) as fake:
        fake.unassign_slots(range(100, 200))
        with pytest.raises(RedisClusterConfigError):
            ClusterConnectionPool(startup_nodes=fake.startup_nodes, transport=fake.network)
        assert any(c[:2] == [b"CONFIG", b"GET"] for n in fake.nodes for c in fake.commands_seen(n))
    with FakeCluster(masters=2, replicas=0, require_full_coverage=False) as fake:
        fake.unassign_slots(range(100, 200))
        with ClusterConnectionPool(startup_nodes=fake.startup_nodes,
                                   transport=fake.network) as pool:
            assert pool.topology.covered_slots() == 16384 - 100


# ------------------------------------------------------------------------------------------------
# redirections
# ------------------------------------------------------------------------------------------------
def test_moved_from_wrong_primary(fake: FakeCluster) -> None:
    owner, other = primary_and_other(fake)
    key = key_on(fake, owner)
    conn = connect(fake, other)
    with pytest.raises(MovedError) as info:
        conn.execute("SET", key, "v")
    assert info.value.slot_id == key_slot(key)
    assert info.value.target == owner.address
    assert connect(fake, owner).execute("SET", key, "v") == b"OK"
    assert fake.get(key) == b"v"


def test_replica_reads_need_readonly_and_writes_always_move(fake: FakeCluster) -> None:
    owner = fake.primaries()[0]
    replica = owner.replicas[0]
    key = key_on(fake, owner)
    fake.set(key, "value")
    plain = connect(fake, replica)
    with pytest.raises(MovedError) as info:
        plain.execute("GET", key)
    assert info.value.target == owner.address
    reader = connect(fake, replica, readonly=True)
    assert reader.execute("GET", key) == b"value"
    assert reader.execute("EXISTS", key) == 1
    with pytest.raises(MovedError) as info:
        reader.execute("SET", key, "other")
    assert info.value.target == owner.address
    foreign = key_on(fake, fake.primaries()[1])
    with pytest.raises(MovedError) as info:
        reader.execute("GET", foreign)
    assert info.value.target == fake.primaries()[1].address
    assert b"flags=r" in reader.execute("CLIENT", "INFO")
    assert reader.execute("READWRITE") == b"OK"
    with pytest.raises(MovedError):
        reader.execute("GET", key)
    with pytest.raises(ReadOnlyError):
        plain.execute("FLUSHALL")


def test_ask_during_migration_and_asking_is_consumed_once(fake: FakeCluster) -> None:
    source, target = primary_and_other(fake)
    key = key_on(fake, source)
    slot = key_slot(key)
    fake.set(key, "moving")
    fake.begin_migration(slot, target)
    src, dst = connect(fake, source), connect(fake, target)
    assert src.execute("GET", key) == b"moving"  # still on the source: served there
    assert fake.move_keys(slot) == 1
    with pytest.raises(AskError) as ask:
        src.execute("GET", key)
    assert type(ask.value) is AskError and ask.value.target == target.address
    with pytest.raises(MovedError) as moved:
        dst.execute("GET", key)
    assert moved.value.target == source.address
    assert dst.execute("ASKING") == b"OK"
    assert dst.execute("GET", key) == b"moving"
    with pytest.raises(MovedError):
        dst.execute("GET", key)  # the ASKING flag served exactly one command
    seen = fake.commands_seen(target)
    at = seen.index([b"ASKING"])
    assert seen[at + 1] == [b"GET", key.encode()]
    # A write creating a new key in the migrating slot is sent to the target too.
    sibling = next(f"{{{key}}}:{i}" for i in range(10) if key_slot(f"{{{key}}}:{i}") == slot)
    with pytest.raises(AskError):
        src.execute("SET", sibling, "new")
    fake.finish_migration(slot, target)
    assert fake.owner_of(slot) is target
    assert dst.execute("GET", key) == b"moving"
    with pytest.raises(MovedError) as moved:
        src.execute("GET", key)
    assert moved.value.target == target.address
    assert fake.migrations == {}
    fake.clear_commands_seen()
    assert fake.commands_seen(target) == []


def test_tryagain_for_half_migrated_multikey_command(fake: FakeCluster) -> None:
    source, target = primary_and_other(fake)
    tag = key_on(fake, source)
    keys = [f"{{{tag}}}:a", f"{{{tag}}}:b"]
    for k in keys:
        fake.set(k, k)
    slot = key_slot(tag)
    fake.begin_migration(slot, target)
    assert fake.move_keys(slot, count=1) == 1
    src, dst = connect(fake, source), connect(fake, target)
    with pytest.raises(TryAgainError, match=r"^TRYAGAIN Multiple keys request during rehashing"):
        src.execute("MGET", *keys)
    dst.execute("ASKING")
    with pytest.raises(TryAgainError):
        dst.execute("MGET", *keys)
    fake.move_keys(slot)
    dst.execute("ASKING")
    assert dst.execute("MGET", *keys) == [k.encode() for k in keys]
    # Injected TRYAGAIN: only multi-key commands, exactly `count` times.
    fake.finish_migration(slot, target)
    fake.set_tryagain(slot, 2)
    assert dst.execute("GET", keys[0]) == keys[0].encode()
    for _ in range(2):
        with pytest.raises(TryAgainError):
            dst.execute("MGET", *keys)
    assert dst.execute("MGET", *keys) == [k.encode() for k in keys]


def test_crossslot(fake: FakeCluster) -> None:
    conn = connect(fake, fake.primaries()[0])
    with pytest.raises(ClusterCrossSlotError, match=r"^CROSSSLOT Keys in request don't hash"):
        conn.execute("MSET", "a", "1", "b", "2")
    assert key_slot("{u}a") == key_slot("{u}b")
    owner = connect(fake, fake.owner_of("{u}a"))
    assert owner.execute("MSET", "{u}a", "1", "{u}b", "2") == b"OK"
    assert owner.execute("MGET", "{u}a", "{u}b", "{u}a") == [b"1", b"2", b"1"]


def test_clusterdown_states(fake: FakeCluster) -> None:
    owner = fake.primaries()[0]
    key = key_on(fake, owner)
    conn = connect(fake, owner)
    fake.unassign_slots(key_slot(key))
    with pytest.raises(ClusterDownError, match=r"^CLUSTERDOWN Hash slot not served"):
        conn.execute("GET", key)
    other = key_on(fake, owner, "other")
    with pytest.raises(ClusterDownError, match=r"^CLUSTERDOWN The cluster is down"):
        conn.execute("GET", other)
    assert b"cluster_state:fail" in conn.execute("CLUSTER", "INFO")
    fake.assign_slots(key_slot(key), owner)
    assert conn.execute("GET", other) is None
    fake.set_cluster_down(True)
    with pytest.raises(ClusterDownError, match="The cluster is down"):
        conn.execute("SET", key, "x")
    assert conn.execute("PING") == b"PONG"  # keyless commands are still served
    fake.set_cluster_down(False)
    assert conn.execute("SET", key, "x") == b"OK"


def test_loading(fake: FakeCluster) -> None:
    node = fake.primaries()[0]
    key = key_on(fake, node)
    conn = connect(fake, node)
    fake.set_loading(node)
    with pytest.raises(BusyLoadingError, match=r"^LOADING Redis is loading"):
        conn.execute("GET", key)
    with pytest.raises(BusyLoadingError):
        conn.execute("PING")  # as in Redis 7: PING has no "loading" flag
    assert conn.execute("CLUSTER", "SLOTS")
    shards = conn.execute("CLUSTER", "SHARDS")
    health = {n[b"port"]: n[b"health"] for s in shards for n in _pairs(s)[b"nodes"]}
    assert health[node.port] == b"loading"
    fresh = connect(fake, node, protocol=3)
    assert fresh.execute("HELLO")[b"proto"] == 3  # HELLO/AUTH are allowed while loading
    fake.set_loading(node, False)
    assert conn.execute("GET", key) is None


def _pairs(flat: Any) -> Dict[bytes, Any]:
    if isinstance(flat, dict):
        return {k: [_pairs(x) for x in v] if k == b"nodes" else v for k, v in flat.items()}
    out = dict(zip(flat[::2], flat[1::2]))
    if b"nodes" in out:
        out[b"nodes"] = [_pairs(n) for n in out[b"nodes"]]
    return out


# ------------------------------------------------------------------------------------------------
# authentication and connection commands
# ------------------------------------------------------------------------------------------------
def test_password_auth() -> None:
    with FakeCluster(masters=1, replicas=0, password="s3cret") as fake:
        node = fake.nodes[0]
        with pytest.raises(AuthenticationError, match="NOAUTH Authentication required"):
            connect(fake, node).execute("GET", "k")
        with pytest.raises(AuthenticationError, match="WRONGPASS"):
            connect(fake, node, password="nope").connect()
        good = connect(fake, node, password="s3cret")
        assert good.execute("SET", "k", "v") == b"OK"
        resp3 = connect(fake, node, password="s3cret", protocol=3, client_name="app")
        assert resp3.execute("GET", "k") == b"v"
        assert resp3.execute("CLIENT", "GETNAME") == b"app"
        with ClusterConnectionPool(startup_nodes=fake.startup_nodes,
                                   **fake.connection_kwargs()) as pool:
            assert list(pool.topology.primaries) == [node.address]
        bare = connect(fake, node)
        with pytest.raises(AuthenticationError, match=r"^NOAUTH HELLO must be called"):
            bare.execute("HELLO", "3")
        with pytest.raises(AuthenticationError, match=r"^WRONGPASS"):
            bare.execute("AUTH", "bad")
        assert bare.execute("AUTH", "s3cret") == b"OK"
        assert bare.execute("GET", "k") == b"v"


def test_acl_users_auth() -> None:
    with FakeCluster(masters=1, replicas=0, users={"app": "pw"}) as fake:
        node = fake.nodes[0]
        assert connect(fake, node, username="app", password="pw").execute("PING") == b"PONG"
        assert connect(fake, node, username="app", password="pw", protocol=3).execute(
            "PING") == b"PONG"
        with pytest.raises(AuthenticationError):
            connect(fake, node, username="app", password="bad").connect()
        with pytest.raises(AuthenticationError):
            connect(fake, node, password="pw").connect()  # the default user is disabled


def test_auth_without_password_configured(fake: FakeCluster) -> None:
    conn = connect(fake, fake.nodes[0])
    with pytest.raises(ResponseError, match="called without any password configured"):
        conn.execute("AUTH", "x")


def test_connection_commands(fake: FakeCluster) -> None:
    node = fake.primaries()[0]
    conn = connect(fake, node)
    assert conn.execute("PING") == b"PONG"
    assert conn.execute("PING", "hi") == b"hi"
    assert conn.execute("ECHO", "e") == b"e"
    assert conn.execute("SELECT", "0") == b"OK"
    with pytest.raises(ResponseError, match="SELECT is not allowed in cluster mode"):
        conn.execute("SELECT", "1")
    assert conn.execute("CLIENT", "SETNAME", "worker-1") == b"OK"
    assert conn.execute("CLIENT", "GETNAME") == b"worker-1"
    assert isinstance(conn.execute("CLIENT", "ID"), int)
    info = conn.execute("CLIENT", "INFO")
    assert b"name=worker-1" in info and b"flags=N" in info and b"resp=2" in info
    with pytest.raises(ResponseError, match="Client names cannot contain spaces"):
        conn.execute("CLIENT", "SETNAME", "a b")
    with pytest.raises(ResponseError, match=r"^ERR unknown subcommand 'nope'\. Try CLIENT HELP\."):
        conn.execute("CLIENT", "nope")
    with pytest.raises(ResponseError, match=r"^ERR unknown command 'FOO', with args beginning "
                                            r"with: 'a' 'b' $"):
        conn.execute("FOO", "a", "b")
    with pytest.raises(ResponseError, match=r"^ERR wrong number of arguments for 'get' command$"):
        conn.execute("GET")
    with pytest.raises(ResponseError, match=r"'cluster\|keyslot' command"):
        conn.execute("CLUSTER", "KEYSLOT")
    hello = conn.execute("HELLO", "3")
    assert hello[b"proto"] == 3 and hello[b"mode"] == b"cluster" and hello[b"role"] == b"master"
    with pytest.raises(ResponseError, match=r"^NOPROTO"):
        conn.execute("HELLO", "4")
    assert conn.execute("QUIT") == b"OK"
    with pytest.raises(ConnectionError):
        conn.execute("PING")


def test_server_and_cluster_introspection(fake: FakeCluster) -> None:
    node = fake.primaries()[0]
    replica = node.replicas[0]
    conn = connect(fake, node)
    key = key_on(fake, node)
    fake.set(key, "v")
    assert conn.execute("CLUSTER", "MYID") == node.id.encode()
    assert conn.execute("CLUSTER", "KEYSLOT", key) == key_slot(key)
    assert conn.execute("CLUSTER", "COUNTKEYSINSLOT", key_slot(key)) == 1
    assert conn.execute("CLUSTER", "GETKEYSINSLOT", key_slot(key), 10) == [key.encode()]
    with pytest.raises(ResponseError, match=r"^ERR Invalid slot$"):
        conn.execute("CLUSTER", "COUNTKEYSINSLOT", 99999)
    nodes = conn.execute("CLUSTER", "NODES").decode().splitlines()
    mine = next(line for line in nodes if line.startswith(node.id))
    assert mine.split()[1:4] == [f"127.0.0.1:{node.port}@{node.port + 10000}", "myself,master",
                                 "-"]
    assert mine.endswith("connected 0-5460")
    theirs = next(line for line in nodes if line.startswith(replica.id))
    assert theirs.split()[2:4] == ["slave", node.id]
    info = conn.execute("INFO", "replication").decode()
    assert info.startswith("# Replication\r\nrole:master\r\nconnected_slaves:1\r\n")
    assert f"slave0:ip=127.0.0.1,port={replica.port}" in info
    rinfo = connect(fake, replica).execute("INFO").decode()
    assert "role:slave" in rinfo and f"master_port:{node.port}" in rinfo
    assert "db0:keys=1,expires=0" in rinfo
    assert conn.execute("CONFIG", "GET", "cluster-require-full-coverage") == [
        b"cluster-require-full-coverage", b"yes"]
    assert conn.execute("COMMAND", "COUNT") > 100
    get_info, nothing = conn.execute("COMMAND", "INFO", "get", "nosuch")
    assert get_info[:6] == [b"get", 2, [b"readonly", b"fast"], 1, 1, 1]
    assert nothing is None
    assert conn.execute("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2") == [b"a", b"b"]
    assert conn.execute("DBSIZE") == 1
    assert conn.execute("ROLE")[0] == b"master"
    assert conn.execute("WAIT", 1, 0) == 1


def test_keys_and_scan(fake: FakeCluster) -> None:
    node = fake.primaries()[0]
    conn = connect(fake, node)
    keys = {key_on(fake, node, f"scan{i}").encode() for i in range(40)}
    for k in keys:
        fake.set(k, "x")
    assert set(conn.execute("KEYS", "scan*")) == keys
    assert conn.execute("KEYS", "scan1?:*") == sorted(
        k for k in keys if re.fullmatch(rb"scan1.:.*", k))
    found: List[bytes] = []
    cursor = b"0"
    while True:
        cursor, batch = conn.execute("SCAN", cursor, "COUNT", 7)
        found += batch
        if cursor == b"0":
            break
    assert sorted(found) == sorted(keys)
    assert conn.execute("SCAN", 0, "MATCH", "nomatch*", "COUNT", 1000) == [b"0", []]
    with pytest.raises(ResponseError, match="invalid cursor"):
        conn.execute("SCAN", "x")


# ------------------------------------------------------------------------------------------------
# faults
# ------------------------------------------------------------------------------------------------
def test_kill_and_revive(fake: FakeCluster) -> None:
    node = fake.primaries()[0]
    key = key_on(fake, node)
    conn = connect(fake, node)
    assert conn.execute("SET", key, "kept") == b"OK"
    fake.kill(node)
    with pytest.raises(ConnectionError):
        conn.execute("GET", key)
    with pytest.raises(ConnectionError):
        connect(fake, node).execute("PING")
    fake.revive(node)
    assert connect(fake, node).execute("GET", key) == b"kept"
    assert node.is_primary and node.alive


def test_freeze_times_out(fake: FakeCluster) -> None:
    node = fake.primaries()[1]
    conn = connect(fake, node)
    conn.connect()
    fake.freeze(node)
    with pytest.raises(TimeoutError):
        conn.execute("PING")
    with pytest.raises(TimeoutError):
        connect(fake, node).execute("PING")
    fake.unfreeze(node)
    assert connect(fake, node).execute("PING") == b"PONG"
    assert node.is_primary


def test_drop_connections(fake: FakeCluster) -> None:
    a, b = primary_and_other(fake)
    conns = [connect(fake, a), connect(fake, a), connect(fake, b)]
    for c in conns:
        c.connect()
    assert fake.drop_connections(a) == 2
    with pytest.raises(ConnectionError):
        conns[0].execute("PING")
    assert conns[2].execute("PING") == b"PONG"
    assert fake.drop_connections() == 2  # conns[1] and conns[2]; conns[0] was closed
    with pytest.raises(ConnectionError):
        conns[2].execute("PING")


def test_cut_next_reply(fake: FakeCluster) -> None:
    node = fake.primaries()[0]
    key = key_on(fake, node)
    fake.set(key, "x" * 1000)
    conn = connect(fake, node)
    conn.connect()
    fake.cut_next_reply(node, 10)
    with pytest.raises(ConnectionError) as info:
        conn.execute("GET", key)
    assert info.value.request_sent
    assert not conn.is_connected
    assert connect(fake, node).execute("GET", key) == b"x" * 1000


def test_manual_failover(fake: FakeCluster) -> None:
    old = fake.primaries()[0]
    replica = old.replicas[0]
    key = key_on(fake, old)
    fake.set(key, "v")
    before = connect(fake, old)
    reader = connect(fake, old, readonly=True)
    reader.connect()
    new = fake.failover(old)
    assert new is replica and new.is_primary and old.primary is new
    assert fake.owner_of(key) is new
    with pytest.raises(MovedError) as info:
        before.execute("SET", key, "w")
    assert info.value.target == new.address
    assert reader.execute("GET", key) == b"v"  # a READONLY connection reads from the demoted node
    slots = connect(fake, fake.primaries()[1]).execute("CLUSTER", "SLOTS")
    assert slots[0][2][1] == new.port and slots[0][3][1] == old.port
    with ClusterConnectionPool(startup_nodes=fake.startup_nodes, transport=fake.network) as pool:
        assert pool.topology.role_of(new.address) is Role.PRIMARY
        assert pool.topology.role_of(old.address) is Role.REPLICA
    assert connect(fake, new).execute("SET", key, "w") == b"OK"
    assert fake.failover(old) is old  # and back, naming the replica this time
    assert fake.owner_of(key) is old and fake.get(key) == b"w"


def test_failover_needs_force_when_primary_is_down(fake: FakeCluster) -> None:
    old = fake.primaries()[2]
    fake.kill(old)
    with pytest.raises(FakeClusterError, match="force"):
        fake.failover(old)
    new = fake.failover(old, force=True)
    assert new.is_primary and fake.owner_of(16383) is new


def test_auto_failover_after_kill_and_revive_as_replica(fake: FakeCluster) -> None:
    old = fake.primaries()[1]
    key = key_on(fake, old)
    fake.set(key, "survives")
    fake.kill(old)
    new = fake.auto_failover(old)
    assert new.is_primary and fake.owner_of(key) is new and old.failed
    conn = connect(fake, new)
    assert conn.execute("GET", key) == b"survives"
    shards = [_pairs(s) for s in conn.execute("CLUSTER", "SHARDS")]
    by_port = {n[b"port"]: (s[b"slots"], n[b"role"], n[b"health"])
               for s in shards for n in s[b"nodes"]}
    assert by_port[old.port] == ([], b"master", b"fail")
    assert by_port[new.port] == ([5461, 10922], b"master", b"online")
    fake.revive(old)
    assert old.primary is new and old.alive and not old.failed
    assert connect(fake, old, readonly=True).execute("GET", key) == b"survives"
    with pytest.raises(MovedError):
        connect(fake, old).execute("GET", key)


def test_node_timeout_on_the_fake_clock() -> None:
    clock = FakeClock()
    with FakeCluster(masters=3, replicas=1, clock=clock, node_timeout=15.0) as fake:
        old = fake.primaries()[0]
        fake.kill(old)
        clock.advance(14.9)
        assert fake.owner_of(0) is old and not old.failed
        clock.advance(0.1)
        assert old.failed and fake.owner_of(0) is not old
        assert fake.owner_of(0).is_primary
        # A primary without a live replica: its slots become unserved and the cluster fails.
        lone = fake.primaries()[1]
        fake.kill(lone.replicas[0])
        fake.kill(lone)
        clock.advance(15)
        survivor = connect(fake, fake.primaries()[2])
        with pytest.raises(ClusterDownError, match="The cluster is down"):
            survivor.execute("GET", key_on(fake, fake.primaries()[2]))
        fake.revive(lone)
        assert survivor.execute("GET", key_on(fake, fake.primaries()[2])) is None


def test_frozen_primary_is_replaced_and_rejoins_as_replica(fake: FakeCluster) -> None:
    old = fake.primaries()[2]
    key = key_on(fake, old)
    fake.set(key, "v")
    fake.freeze(old)
    fake.clock.advance(15)
    new = fake.owner_of(key)
    assert new is not old and old.failed and old.slots == []
    nodes = connect(fake, new).execute("CLUSTER", "NODES").decode()
    assert f"{old.id} 127.0.0.1:{old.port}@{old.port + 10000} master,fail -" in nodes
    fake.unfreeze(old)
    assert old.primary is new and not old.failed
    with pytest.raises(MovedError) as info:
        connect(fake, old).execute("GET", key)
    assert info.value.target == new.address


def test_migrate_moves_keys_and_slots(fake: FakeCluster) -> None:
    source = fake.primaries()[0]
    target = fake.add_node()
    assert target.is_primary and target.slots == [] and target.port == 30007
    keys = [key_on(fake, source, f"m{i}") for i in range(20)]
    slots = sorted({key_slot(k) for k in keys})
    conn = connect(fake, source)
    for k in keys:
        conn.execute("SET", k, k, "EX", 100)
    fake.migrate(slots, target)
    assert all(fake.owner_of(s) is target for s in slots)
    tconn = connect(fake, target)
    assert tconn.execute("MGET", keys[0]) == [keys[0].encode()]
    assert 99 <= tconn.execute("TTL", keys[0]) <= 100
    with pytest.raises(MovedError):
        conn.execute("GET", keys[0])
    assert sorted(fake.keys()) == sorted(k.encode() for k in keys)
    with ClusterConnectionPool(startup_nodes=fake.startup_nodes, transport=fake.network) as pool:
        assert pool.topology.slots[slots[0]].primary == target.address  # type: ignore[union-attr]
    replica = fake.add_node(replica_of=target)
    assert connect(fake, replica, readonly=True).execute("GET", keys[0]) == keys[0].encode()


def test_finish_migration_refuses_when_keys_remain(fake: FakeCluster) -> None:
    source, target = primary_and_other(fake)
    key = key_on(fake, source)
    fake.set(key, "v")
    fake.begin_migration(key_slot(key), target)
    with pytest.raises(FakeClusterError, match="still holds keys"):
        fake.finish_migration(key_slot(key), target)
    nodes = connect(fake, source).execute("CLUSTER", "NODES").decode()
    assert f"[{key_slot(key)}->-{target.id}]" in nodes


# ------------------------------------------------------------------------------------------------
# data commands
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def one() -> Iterator[Tuple[FakeCluster, ClusterConnection]]:
    """A single-primary cluster: every key is served by one connection."""
    with FakeCluster(masters=1, replicas=0) as cluster:
        yield cluster, connect(cluster, cluster.nodes[0])


def test_expiry_with_the_fake_clock(one: Tuple[FakeCluster, ClusterConnection]) -> None:
    fake, conn = one
    assert conn.execute("SET", "k", "v", "EX", 10) == b"OK"
    assert conn.execute("TTL", "k") == 10 and conn.execute("PTTL", "k") == 10_000
    fake.clock.advance(9.999)
    assert conn.execute("GET", "k") == b"v"
    fake.clock.advance(0.001)
    assert conn.execute("GET", "k") is None and conn.execute("TTL", "k") == -2
    conn.execute("SET", "p", "v")
    assert conn.execute("TTL", "p") == -1
    assert conn.execute("PEXPIRE", "p", 1500) == 1
    assert conn.execute("PERSIST", "p") == 1 and conn.execute("TTL", "p") == -1
    assert conn.execute("EXPIREAT", "p", int(fake.clock.time()) + 5) == 1
    assert fake.ttl("p") == 5.0
    assert conn.execute("APPEND", "p", "w") == 2  # keeps the TTL
    fake.clock.advance(5)
    assert conn.execute("EXISTS", "p") == 0 and fake.dbsize() == 0
    conn.execute("SET", "k", "1", "PX", 100)
    conn.execute("SET", "k", "2", "KEEPTTL")
    assert conn.execute("PTTL", "k") == 100
    assert conn.execute("EXPIRE", "k", -1) == 1 and fake.get("k") is None
    with pytest.raises(ResponseError, match="invalid expire time in 'set' command"):
        conn.execute("SET", "k", "v", "EX", 0)


def test_wrongtype(one: Tuple[FakeCluster, ClusterConnection]) -> None:
    _, conn = one
    conn.execute("LPUSH", "l", "a")
    for command in (("GET", "l"), ("HSET", "l", "f", "v"), ("SADD", "l", "x"),
                    ("ZADD", "l", 1, "a"), ("INCR", "l"), ("APPEND", "l", "x")):
        with pytest.raises(WrongTypeError, match=r"^WRONGTYPE Operation against a key holding"):
            conn.execute(*command)
    assert conn.execute("TYPE", "l") == b"list" and conn.execute("TYPE", "none") == b"none"
    assert conn.execute("MGET", "l", "l") == [None, None]
    assert conn.execute("SET", "l", "now a string") == b"OK"


def test_string_commands(one: Tuple[FakeCluster, ClusterConnection]) -> None:
    _, conn = one
    x = conn.execute
    assert x("SET", "s", "a", "NX") == b"OK" and x("SET", "s", "b", "NX") is None
    assert x("SET", "s", "c", "XX", "GET") == b"a" and x("SET", "t", "c", "XX") is None
    assert x("SETNX", "s", "z") == 0 and x("GETSET", "s", "d") == b"c"
    assert x("SETEX", "e", 5, "v") == b"OK" and x("TTL", "e") == 5
    assert x("MSET", "{m}1", "1", "{m}2", "2") == b"OK"
    assert x("MGET", "{m}1", "{m}2", "{m}3") == [b"1", b"2", None]
    assert x("MSETNX", "{m}1", "x", "{m}9", "y") == 0
    assert x("MSETNX", "{m}8", "x", "{m}9", "y") == 1
    assert x("INCR", "n") == 1 and x("INCRBY", "n", 41) == 42 and x("DECR", "n") == 41
    assert x("DECRBY", "n", 40) == 1 and x("INCRBYFLOAT", "n", "0.5") == b"1.5"
    assert x("INCRBYFLOAT", "f", "10.5") == b"10.5" and x("INCRBYFLOAT", "f", "0.1") == b"10.6"
    with pytest.raises(ResponseError, match="not an integer or out of range"):
        x("INCR", "f")
    x("SET", "big", str(2**63 - 1))
    with pytest.raises(ResponseError, match="would overflow"):
        x("INCR", "big")
    assert x("APPEND", "ap", "Hello") == 5 and x("APPEND", "ap", " World") == 11
    assert x("STRLEN", "ap") == 11 and x("GETRANGE", "ap", 0, 4) == b"Hello"
    assert x("GETRANGE", "ap", -5, -1) == b"World" and x("GETRANGE", "ap", 0, -100) == b"H"
    assert x("SETRANGE", "ap", 6, "Redis") == 11 and x("GET", "ap") == b"Hello Redis"
    assert x("SETRANGE", "pad", 3, "x") == 4 and x("GET", "pad") == b"\x00\x00\x00x"
    assert x("GETDEL", "ap") == b"Hello Redis" and x("EXISTS", "ap") == 0
    with pytest.raises(ResponseError, match=r"^ERR syntax error$"):
        x("SET", "s", "v", "NX", "XX")
    with pytest.raises(ResponseError, match="wrong number of arguments for 'mset'"):
        x("MSET", "{m}a", "1", "{m}b")


def test_key_commands(one: Tuple[FakeCluster, ClusterConnection]) -> None:
    fake, conn = one
    x = conn.execute
    x("MSET", "{t}a", "1", "{t}b", "2")
    assert x("EXISTS", "{t}a", "{t}a", "{t}zz") == 2
    assert x("TOUCH", "{t}a", "{t}b", "{t}zz") == 2
    assert x("RENAME", "{t}a", "{t}c") == b"OK" and x("GET", "{t}c") == b"1"
    with pytest.raises(ResponseError, match=r"^ERR no such key$"):
        x("RENAME", "{t}a", "{t}d")
    assert x("RENAMENX", "{t}c", "{t}b") == 0 and x("RENAMENX", "{t}c", "{t}d") == 1
    assert x("RANDOMKEY") in (b"{t}b", b"{t}d")
    assert x("DEL", "{t}b", "{t}d", "{t}zz") == 2 and x("UNLINK", "{t}zz") == 0
    assert x("RANDOMKEY") is None
    x("SET", "{t}x", "1")
    assert x("FLUSHALL") == b"OK" and fake.dbsize() == 0


def test_hash_commands(one: Tuple[FakeCluster, ClusterConnection]) -> None:
    fake, conn = one
    x = conn.execute
    assert x("HSET", "h", "a", "1", "b", "2") == 2 and x("HSET", "h", "a", "3") == 0
    assert x("HSETNX", "h", "a", "9") == 0 and x("HSETNX", "h", "c", "4") == 1
    assert x("HGET", "h", "a") == b"3" and x("HMGET", "h", "a", "zz") == [b"3", None]
    assert x("HGETALL", "h") == [b"a", b"3", b"b", b"2", b"c", b"4"]
    assert x("HLEN", "h") == 3 and x("HEXISTS", "h", "b") == 1 and x("HSTRLEN", "h", "a") == 1
    assert x("HKEYS", "h") == [b"a", b"b", b"c"] and x("HVALS", "h") == [b"3", b"2", b"4"]
    assert x("HINCRBY", "h", "a", 5) == 8 and x("HINCRBYFLOAT", "h", "f", "1.25") == b"1.25"
    assert x("HDEL", "h", "a", "b", "c", "f") == 4 and x("EXISTS", "h") == 0
    x("HSET", "h", "s", "text")
    with pytest.raises(ResponseError, match=r"^ERR hash value is not an integer$"):
        x("HINCRBY", "h", "s", 1)
    resp3 = connect(fake, fake.nodes[0], protocol=3)
    assert resp3.execute("HGETALL", "h") == {b"s": b"text"}
    assert fake.value("h") == {b"s": b"text"}


def test_list_commands(one: Tuple[FakeCluster, ClusterConnection]) -> None:
    fake, conn = one
    x = conn.execute
    assert x("RPUSH", "{t}l", "a", "b", "c") == 3 and x("LPUSH", "{t}l", "z") == 4
    assert x("LPUSHX", "{t}nope", "a") == 0 and x("RPUSHX", "{t}l", "d") == 5
    assert x("LRANGE", "{t}l", 0, -1) == [b"z", b"a", b"b", b"c", b"d"]
    assert x("LINDEX", "{t}l", -1) == b"d" and x("LLEN", "{t}l") == 5
    assert x("LSET", "{t}l", 0, "y") == b"OK" and x("LPOP", "{t}l") == b"y"
    assert x("RPOP", "{t}l", 2) == [b"d", b"c"] and x("LPOP", "{t}missing", 2) is None
    x("RPUSH", "{t}l", "a", "b", "a")
    assert x("LREM", "{t}l", 2, "a") == 2 and x("LRANGE", "{t}l", 0, -1) == [b"b", b"b", b"a"]
    assert x("LTRIM", "{t}l", 1, -1) == b"OK" and x("LRANGE", "{t}l", 0, -1) == [b"b", b"a"]
    assert x("LMOVE", "{t}l", "{t}m", "LEFT", "RIGHT") == b"b"
    assert x("RPOPLPUSH", "{t}l", "{t}m") == b"a"
    assert x("EXISTS", "{t}l") == 0 and x("LRANGE", "{t}m", 0, -1) == [b"a", b"b"]
    assert x("BLPOP", "{t}empty", "{t}m", 0) == [b"{t}m", b"a"]
    assert x("BRPOP", "{t}empty", 5) is None  # never blocks: nil at once
    with pytest.raises(ResponseError, match=r"^ERR no such key$"):
        x("LSET", "{t}nope", 0, "a")
    with pytest.raises(ResponseError, match=r"^ERR index out of range$"):
        x("LSET", "{t}m", 5, "a")
    assert fake.value("{t}m") == [b"b"]


def test_set_commands(one: Tuple[FakeCluster, ClusterConnection]) -> None:
    _, conn = one
    x = conn.execute
    assert x("SADD", "{t}s", "a", "b", "c", "a") == 3
    assert x("SADD", "{t}t", "b", "c", "{t}d") == 3
    assert sorted(x("SMEMBERS", "{t}s")) == [b"a", b"b", b"c"] and x("SCARD", "{t}s") == 3
    assert x("SISMEMBER", "{t}s", "a") == 1 and x("SMISMEMBER", "{t}s", "a", "z") == [1, 0]
    assert sorted(x("SINTER", "{t}s", "{t}t")) == [b"b", b"c"]
    assert sorted(x("SUNION", "{t}s", "{t}t")) == [b"a", b"b", b"c", b"{t}d"]
    assert x("SDIFF", "{t}s", "{t}t") == [b"a"]
    assert x("SINTERSTORE", "{t}i", "{t}s", "{t}t") == 2
    assert x("SUNIONSTORE", "{t}u", "{t}s", "{t}t") == 4
    assert x("SDIFFSTORE", "{t}d", "{t}t", "{t}s") == 1 and x("SMEMBERS", "{t}d") == [b"{t}d"]
    assert x("SMOVE", "{t}s", "{t}d", "a") == 1 and x("SMOVE", "{t}s", "{t}d", "zz") == 0
    assert x("SREM", "{t}d", "a", "{t}d") == 2 and x("EXISTS", "{t}d") == 0
    popped = x("SPOP", "{t}u", 2)
    assert len(popped) == 2 and x("SCARD", "{t}u") == 2
    assert x("SRANDMEMBER", "{t}u") in x("SMEMBERS", "{t}u")
    assert len(x("SRANDMEMBER", "{t}u", -5)) == 5


def test_sorted_set_commands(one: Tuple[FakeCluster, ClusterConnection]) -> None:
    fake, conn = one
    x = conn.execute
    assert x("ZADD", "z", 1, "a", 2, "b", 3, "c") == 3
    assert x("ZADD", "z", "NX", 10, "a", 4, "d") == 1 and x("ZSCORE", "z", "a") == b"1"
    assert x("ZADD", "z", "XX", "CH", 1.5, "a", 9, "new") == 1
    assert x("ZADD", "z", "GT", "CH", 1, "b", 5, "c") == 1 and x("ZSCORE", "z", "c") == b"5"
    assert x("ZADD", "z", "INCR", 2, "a") == b"3.5"
    assert x("ZADD", "z", "NX", "INCR", 2, "a") is None
    assert x("ZINCRBY", "z", "-0.5", "a") == b"3"
    assert x("ZCARD", "z") == 4 and x("ZCOUNT", "z", "(2", "+inf") == 3
    assert x("ZRANGE", "z", 0, -1) == [b"b", b"a", b"d", b"c"]
    assert x("ZRANGE", "z", 0, 1, "WITHSCORES") == [b"b", b"2", b"a", b"3"]
    assert x("ZRANGE", "z", "+inf", "(3", "BYSCORE", "REV", "LIMIT", 0, 1) == [b"c"]
    assert x("ZRANGEBYSCORE", "z", 3, 4) == [b"a", b"d"]
    assert x("ZREVRANGE", "z", 0, 0, "WITHSCORES") == [b"c", b"5"]
    assert x("ZRANK", "z", "d") == 2 and x("ZREVRANK", "z", "d") == 1 and x("ZRANK", "z", "q") is None
    assert x("ZPOPMIN", "z") == [b"b", b"2"] and x("ZPOPMAX", "z", 2) == [b"c", b"5", b"d", b"4"]
    assert x("ZREM", "z", "a", "q") == 1 and x("EXISTS", "z") == 0
    with pytest.raises(ResponseError, match=r"^ERR XX and NX options at the same time"):
        x("ZADD", "z", "NX", "XX", 1, "a")
    with pytest.raises(ResponseError, match=r"^ERR value is not a valid float$"):
        x("ZADD", "z", "nan", "a")
    with pytest.raises(ResponseError, match="LIMIT is only supported"):
        x("ZRANGE", "z", 0, 1, "LIMIT", 0, 1)
    resp3 = connect(fake, fake.nodes[0], protocol=3)
    resp3.execute("ZADD", "r", 1.5, "a", 2, "b")
    assert resp3.execute("ZRANGE", "r", 0, -1, "WITHSCORES") == [[b"a", 1.5], [b"b", 2.0]]
    assert resp3.execute("ZSCORE", "r", "a") == 1.5
    assert fake.value("r") == {b"a": 1.5, b"b": 2.0}


def test_multi_exec(one: Tuple[FakeCluster, ClusterConnection]) -> None:
    _, conn = one
    x = conn.execute
    assert x("MULTI") == b"OK"
    assert x("SET", "k", "1") == b"QUEUED" and x("INCR", "k") == b"QUEUED"
    assert x("LPUSH", "k", "oops") == b"QUEUED"
    result = x("EXEC")
    assert result[:2] == [b"OK", 2] and isinstance(result[2], WrongTypeError)
    with pytest.raises(ResponseError, match=r"^ERR EXEC without MULTI"):
        x("EXEC")
    x("MULTI")
    with pytest.raises(ResponseError, match="MULTI calls can not be nested"):
        x("MULTI")
    with pytest.raises(ResponseError, match="WATCH inside MULTI"):
        x("WATCH", "k")
    assert x("DISCARD") == b"OK" and x("GET", "k") == b"2"
    x("MULTI")
    with pytest.raises(ResponseError, match="wrong number of arguments"):
        x("SET", "k")
    x("SET", "k", "never")
    with pytest.raises(ExecAbortError, match=r"^EXECABORT Transaction discarded"):
        x("EXEC")
    assert x("GET", "k") == b"2"


def test_watch(fake: FakeCluster) -> None:
    node = fake.primaries()[0]
    key = key_on(fake, node)
    mine, theirs = connect(fake, node), connect(fake, node)
    mine.execute("SET", key, "1")
    assert mine.execute("WATCH", key) == b"OK"
    theirs.execute("SET", key, "changed")
    mine.execute("MULTI")
    mine.execute("SET", key, "mine")
    assert mine.execute("EXEC") is None
    assert fake.get(key) == b"changed"
    mine.execute("WATCH", key)
    theirs.execute("GET", key)  # reads do not touch the key
    mine.execute("MULTI")
    mine.execute("INCR", f"{{{key}}}:n")
    assert mine.execute("EXEC") == [1]
    mine.execute("SET", key, "v", "EX", 5)
    mine.execute("WATCH", key)
    fake.clock.advance(5)  # expiring counts as a change
    mine.execute("MULTI")
    mine.execute("SET", key, "late")
    assert mine.execute("EXEC") is None
    mine.execute("WATCH", key)
    mine.execute("UNWATCH")
    theirs.execute("SET", key, "again")
    mine.execute("MULTI")
    mine.execute("GET", key)
    assert mine.execute("EXEC") == [b"again"]


def test_transaction_with_a_foreign_key_is_aborted(fake: FakeCluster) -> None:
    node, other = primary_and_other(fake)
    conn = connect(fake, node)
    conn.execute("MULTI")
    conn.execute("SET", key_on(fake, node), "1")
    with pytest.raises(MovedError):
        conn.execute("SET", key_on(fake, other), "2")
    with pytest.raises(ExecAbortError):
        conn.execute("EXEC")
    assert fake.dbsize() == 0


def test_publish_returns_zero(one: Tuple[FakeCluster, ClusterConnection]) -> None:
    assert one[1].execute("PUBLISH", "chan", "msg") == 0


# ------------------------------------------------------------------------------------------------
# model-based test: random operations against a plain Python model
# ------------------------------------------------------------------------------------------------
KEYS = ["s", "h", "l", "t", "{s}x"]
VALUES = ["", "a", "b", "10", "-3"]
WRONG = "WRONGTYPE"
ERR = "ERR"

val_st = st.sampled_from(VALUES)
field_st = st.sampled_from(["f", "g"])


def _on(*keys: str) -> st.SearchStrategy[str]:
    """Keys of one type family plus the shared key, which gets every type (WRONGTYPE)."""
    return st.sampled_from([*keys, "{s}x"])


ops = st.one_of(
    st.tuples(st.just("SET"), _on("s"), val_st),
    st.tuples(st.just("GET"), _on("s")),
    st.tuples(st.just("APPEND"), _on("s"), val_st),
    st.tuples(st.just("INCRBY"), _on("s"), st.integers(-5, 5)),
    st.tuples(st.sampled_from(["DEL", "EXISTS", "TYPE"]), st.sampled_from(KEYS)),
    st.tuples(st.just("HSET"), _on("h"), field_st, val_st),
    st.tuples(st.sampled_from(["HGET", "HDEL"]), _on("h"), field_st),
    st.tuples(st.just("HGETALL"), _on("h")),
    st.tuples(st.sampled_from(["LPUSH", "RPUSH"]), _on("l"), val_st),
    st.tuples(st.sampled_from(["LPOP", "RPOP"]), _on("l")),
    st.tuples(st.just("LRANGE"), _on("l"), st.integers(-3, 3), st.integers(-3, 3)),
    st.tuples(st.sampled_from(["SADD", "SREM", "SISMEMBER"]), _on("t"), val_st),
    st.tuples(st.just("SMEMBERS"), _on("t")),
)


def model_apply(model: Dict[str, Any], op: Tuple[Any, ...]) -> Any:
    """What Redis answers (and how the model changes); WRONG / ERR for error replies."""
    name, key = op[0], op[1]
    value = model.get(key)

    def typed(kind: type) -> Any:
        if value is not None and not isinstance(value, kind):
            raise LookupError(WRONG)
        return value

    try:
        if name == "SET":
            model[key] = op[2].encode()
            return b"OK"
        if name == "GET":
            return typed(bytes)
        if name == "APPEND":
            model[key] = (typed(bytes) or b"") + op[2].encode()
            return len(model[key])
        if name == "INCRBY":
            current = typed(bytes)
            text = "0" if current is None else current.decode()
            if not text.lstrip("-").isdigit() or text.startswith("-0") or (
                    len(text.lstrip("-")) > 1 and text.lstrip("-")[0] == "0"):
                raise LookupError(ERR)
            model[key] = str(int(text) + op[2]).encode()
            return int(text) + op[2]
        if name == "DEL":
            return int(model.pop(key, None) is not None)
        if name == "EXISTS":
            return int(value is not None)
        if name == "TYPE":
            names: Dict[type, bytes] = {bytes: b"string", dict: b"hash", list: b"list", set: b"set"}
            return b"none" if value is None else names[type(value)]
        if name == "HSET":
            h = typed(dict) or {}
            added = int(op[2].encode() not in h)
            h[op[2].encode()] = op[3].encode()
            model[key] = h
            return added
        if name == "HGET":
            return (typed(dict) or {}).get(op[2].encode())
        if name == "HDEL":
            h = typed(dict)
            if h is None or op[2].encode() not in h:
                return 0
            del h[op[2].encode()]
            if not h:
                del model[key]
            return 1
        if name == "HGETALL":
            return [x for kv in (typed(dict) or {}).items() for x in kv]
        if name in ("LPUSH", "RPUSH"):
            lst = typed(list) or []
            if name == "LPUSH":
                lst.insert(0, op[2].encode())
            else:
                lst.append(op[2].encode())
            model[key] = lst
            return len(lst)
        if name in ("LPOP", "RPOP"):
            lst = typed(list)
            if not lst:
                return None
            item = lst.pop(0) if name == "LPOP" else lst.pop()
            if not lst:
                del model[key]
            return item
        if name == "LRANGE":
            lst = typed(list) or []
            n, start, stop = len(lst), op[2], op[3]
            start = max(0, start + n if start < 0 else start)
            stop = stop + n if stop < 0 else stop
            return [] if start > stop or start >= n else lst[start:min(stop, n - 1) + 1]
        if name == "SADD":
            s = typed(set) or set()
            added = int(op[2].encode() not in s)
            s.add(op[2].encode())
            model[key] = s
            return added
        if name == "SREM":
            s = typed(set)
            if s is None or op[2].encode() not in s:
                return 0
            s.discard(op[2].encode())
            if not s:
                del model[key]
            return 1
        if name == "SISMEMBER":
            return int(op[2].encode() in (typed(set) or set()))
        if name == "SMEMBERS":
            return sorted(typed(set) or set())
    except LookupError as exc:
        return exc.args[0]
    raise AssertionError(f"unmodelled {op}")


@given(st.lists(ops, min_size=20, max_size=80), st.sampled_from([2, 3]))
def test_random_operations_match_a_python_model(sequence: List[Tuple[Any, ...]],
                                                protocol: int) -> None:
    fake = FakeCluster(masters=3, replicas=0)
    model: Dict[str, Any] = {}
    with ClusterConnectionPool(startup_nodes=fake.startup_nodes, transport=fake.network,
                               protocol=protocol) as pool:
        for op in sequence:
            expected = model_apply(model, op)
            conn = pool.get_connection_by_key(op[1])
            try:
                actual: Any = conn.execute(*op)
            except WrongTypeError:
                actual = WRONG
            except ResponseError as exc:
                actual = exc.code
            finally:
                pool.release(conn)
            if op[0] == "SMEMBERS" and isinstance(actual, list):
                actual = sorted(actual)
            if op[0] == "HGETALL" and isinstance(actual, dict):
                actual = [x for kv in actual.items() for x in kv]
            assert actual == expected, op
        for key in KEYS:
            stored = fake.value(key)
            assert stored == model.get(key), key
    fake.close()


# ------------------------------------------------------------------------------------------------
# threads
# ------------------------------------------------------------------------------------------------
def test_threads_hammering_incr_get_exact_counts(fake: FakeCluster) -> None:
    keys = [key_on(fake, p, f"counter{i}") for i, p in enumerate(fake.primaries())] + ["shared"]
    threads_n, rounds = 8, 1200
    errors: List[BaseException] = []
    start = threading.Barrier(threads_n)

    def worker() -> None:
        conns: Dict[NodeAddress, ClusterConnection] = {}
        try:
            start.wait()
            for i in range(rounds):
                key = keys[i % len(keys)]
                owner = fake.owner_of(key)
                conn = conns.get(owner.address)
                if conn is None:
                    conn = conns[owner.address] = connect(fake, owner)
                conn.execute("INCR", key)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            for c in conns.values():
                c.disconnect()

    threads = [threading.Thread(target=worker) for _ in range(threads_n)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        sys.setswitchinterval(interval)
    assert not errors
    per_key = threads_n * rounds // len(keys)
    assert {k: fake.get(k) for k in keys} == {k: str(per_key).encode() for k in keys}


def test_resp3_and_resp2_agree_on_scores_and_nil() -> None:
    with FakeCluster(masters=1, replicas=0) as fake:
        node = fake.nodes[0]
        r2, r3 = connect(fake, node), connect(fake, node, protocol=3)
        r2.execute("ZADD", "z", "inf", "top", "0.1", "low")
        assert r2.execute("ZSCORE", "z", "top") == b"inf"
        assert r3.execute("ZSCORE", "z", "top") == float("inf")
        assert r2.execute("ZSCORE", "z", "low") == b"0.10000000000000001"  # Redis 7.0's %.17g
        assert r3.execute("GET", "missing") is None and r2.execute("GET", "missing") is None
        assert sorted(r3.execute("SMEMBERS", "none")) == []


def test_scripting_api_errors(fake: FakeCluster) -> None:
    with pytest.raises(FakeClusterError):
        fake.move_keys(5)
    with pytest.raises(FakeClusterError):
        fake.begin_migration(0, fake.primaries()[0])
    with pytest.raises(FakeClusterError):
        fake.auto_failover(fake.primaries()[0])
    with pytest.raises(FakeClusterError):
        fake.owner_of(20000)
    with pytest.raises(ValueError):
        FakeCluster(masters=0)
    with pytest.raises(ValueError):
        fake.clock.advance(-1)
    connect(fake, fake.owner_of("l")).execute("RPUSH", "l", "a")
    with pytest.raises(TypeError):
        fake.get("l")
