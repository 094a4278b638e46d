"""ClusterConnectionPool over FakeCluster: slot numbers, event hooks that read stats, who owns
a returned connection, what connections are built with, the frozen configuration, and fork."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
from typing import Any, Callable, Dict, List

import pytest

import clustercore
from clustercore import (
    ClusterBlockingConnectionPool,
    ClusterConnection,
    ClusterConnectionPool,
    ClusterReadOnlyConnectionPool,
    NodeAddress,
)
from clustercore._pool.config import PoolConfig
from clustercore._pool.node_pool import Budget, NodePool
from clustercore._topology.snapshot import Topology
from clustercore.errors import (
    DataError,
    InvalidSlotError,
    PoolClosedError,
    PoolTimeoutError,
    RedisClusterConfigError,
    RedisClusterException,
)
from clustercore.testing import FakeCluster

#: How long a driver thread may take before the test calls it hung (it takes well under 1 s).
HANG = 10.0


def run_or_hang(body: Callable[[], None]) -> None:
    """Run ``body`` on a daemon thread; fail (instead of hanging the suite) if it does not end
    within HANG seconds, and re-raise what it raised."""
    errors: List[BaseException] = []

    def target() -> None:
        try:
            body()
        except BaseException as exc:  # handed to the test thread below
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True, name="driver")
    thread.start()
    thread.join(timeout=HANG)
    assert not thread.is_alive(), "deadlocked: the driver thread never finished"
    if errors:
        raise errors[0]


# --- event hooks may read stats() -----------------------------------------------------------------
def test_a_hook_that_reads_node_stats_on_every_event_never_deadlocks() -> None:
    """BUG (node_pool.py, NodePool.put): idle connections reaped by put() were closed, and the
    hook told, with the node lock held, so a hook calling stats() (every metrics exporter)
    blocked its thread forever. Drives a bare NodePool through every closing path."""
    fake = FakeCluster(masters=2, replicas=0)
    a, b = (n.address for n in fake.primaries())
    clock = fake.clock
    budget = Budget(2)
    pools: Dict[NodeAddress, NodePool] = {}
    seen: List[str] = []

    def hook(event: str, fields: Dict[str, Any]) -> None:
        seen.append(f"{event}:{fields.get('reason', '')}")
        for pool in list(pools.values()):
            pool.stats()

    def make(address: NodeAddress) -> ClusterConnection:
        return ClusterConnection(address.host, address.port, transport=fake.network)

    for address in (a, b):
        pools[address] = NodePool(address, make, budget=budget, blocking=True, timeout=2.0,
                                  max_idle_time=10, clock=clock, event_hook=hook)
    pa, pb = pools[a], pools[b]

    def drive() -> None:
        old, new = pa.get(), pa.get()
        pa.put(old)
        pa.put(new)
        clock.advance(30)  # both idle past max_idle_time; the top of the stack is reused ...
        again = pa.get()
        pa.put(again)      # ... and put() reaps the cold one beneath it: the deadlock
        clock.advance(30)
        assert pa.reap() == 1  # the maintenance thread's way
        held, extra = pa.get(), pa.get()  # the whole budget (2)
        pa.put(extra)
        on_b = pb.get()  # budget full: an idle connection on A is closed to make room
        got: List[ClusterConnection] = []
        waiter = threading.Thread(target=lambda: got.append(pb.get()), daemon=True)
        waiter.start()
        deadline = time.monotonic() + 5
        while pb.stats().waiting < 1 and time.monotonic() < deadline:
            time.sleep(0.001)
        pa.put(held)  # closed to hand its budget slot to B's waiter
        waiter.join(5)
        assert got
        pb.discard(got[0])
        other = pa.get()
        pa.disconnect()
        pa.put(other)  # a connection of an older generation comes back
        pa.close()
        pb.put(on_b)
        pb.close()

    run_or_hang(drive)
    closed = {entry for entry in seen if entry.startswith("connection_closed")}
    assert {"connection_closed:idle", "connection_closed:reclaimed",
            "connection_closed:making room", "connection_closed:broken",
            "connection_closed:released to a closed or reset pool",
            "connection_closed:pool closed"} <= closed, closed
    assert "connection_created:" in seen and "checkout_waited:" in seen


def test_a_hook_that_reads_cluster_stats_on_every_event_never_deadlocks() -> None:
    """Every event the cluster pool emits (connections, waits, timeouts, failing and recovered
    nodes, refreshes and failed refreshes, closes) with a hook that reads pool.stats() and
    repr(pool), which take every node lock."""
    fake = FakeCluster(masters=2, replicas=0, node_timeout=None)
    holder: List[ClusterConnectionPool] = []
    seen: List[str] = []

    def hook(event: str, fields: Dict[str, Any]) -> None:
        seen.append(event)
        for pool in holder:
            stats = pool.stats()
            if "node" in fields:
                stats.node(fields["node"])
            repr(pool)

    pool = ClusterBlockingConnectionPool(
        startup_nodes=fake.startup_nodes, transport=fake.network, max_connections=2,
        timeout=0.05, max_idle_time=10, clock=fake.clock, background_refresh=False,
        refresh_min_interval=0, failure_cooldown=1.0, probe_timeout=0.5, event_hook=hook)
    holder.append(pool)
    victim = fake.primaries()[1]

    def drive() -> None:
        pool.initialize()  # topology_refreshed
        slot = pool.topology.shards[0].ranges[0][0]
        c1, c2 = pool.get_connection_by_slot(slot), pool.get_connection_by_slot(slot)
        with pytest.raises(PoolTimeoutError):  # checkout_waited, checkout_timeout
            pool.get_connection_by_slot(slot)
        pool.release(c1)
        pool.release(c2)
        fake.clock.advance(30)
        pool.release(pool.get_connection_by_slot(slot))  # put() reaps the cold one
        pool.discard(pool.get_connection_by_slot(slot))
        fake.kill(victim)
        with pytest.raises(clustercore.ConnectionError):  # node_failing
            pool.get_connection_by_address(victim.address)
        fake.revive(victim)
        fake.clock.advance(2)
        pool.release(pool.get_connection_by_address(victim.address))  # node_recovered
        for node in fake.nodes:
            fake.kill(node)
        with pytest.raises(RedisClusterConfigError):  # topology_refresh_failed
            pool.initialize()
        for node in fake.nodes:
            fake.revive(node)
        pool.reset()
        pool.release(pool.get_connection_by_slot(slot))
        pool.close()

    run_or_hang(drive)
    assert {"topology_refreshed", "connection_created", "checkout_waited", "checkout_timeout",
            "connection_closed", "node_failing", "node_recovered",
            "topology_refresh_failed"} <= set(seen), set(seen)


# --- slot numbers ---------------------------------------------------------------------------------
BAD_SLOTS = [-1, -16384, 16384, 10 ** 6, "x", "5", None, 2.0, 0.5]


@pytest.fixture
def pool() -> Any:
    fake = FakeCluster(masters=3, replicas=1)
    with ClusterReadOnlyConnectionPool(startup_nodes=fake.startup_nodes,
                                       transport=fake.network) as made:
        yield made


def _routes(pool: ClusterConnectionPool) -> Dict[str, Callable[[Any], Any]]:
    def connection(slot: Any) -> Any:
        conn = pool.get_connection_by_slot(slot)
        pool.release(conn)
        return conn.address

    return {
        "address_for_slot": pool.address_for_slot,
        "address_for_slot(read)": lambda s: pool.address_for_slot(s, read_command=True),
        "addresses_for_slots": lambda s: pool.addresses_for_slots([0, s])[1],
        "addresses_for_slots(read)": lambda s: pool.addresses_for_slots([s], True)[0],
        "get_connection_by_slot": connection,
        "get_node_by_slot": lambda s: pool.get_node_by_slot(s)["name"],
        "get_master_node_by_slot": lambda s: pool.get_master_node_by_slot(s)["name"],
        "nodes.node_from_slot": lambda s: pool.nodes.node_from_slot(s)["name"],  # type: ignore[index]
    }


@pytest.mark.parametrize("slot", BAD_SLOTS, ids=repr)
def test_bad_slot_numbers_raise_a_typed_error_naming_them_on_every_route(
        pool: ClusterConnectionPool, slot: Any) -> None:
    """BUG (cluster_pool.py, four copies of the slot lookup): get_connection_by_slot(-1)
    answered slot 16383's owner, 16384 raised a bare IndexError, "x" a TypeError."""
    for name, route in _routes(pool).items():
        with pytest.raises(InvalidSlotError) as info:
            route(slot)
        assert repr(slot) in str(info.value), (name, str(info.value))
        assert isinstance(info.value, DataError)
    with pytest.raises(InvalidSlotError, match=repr(slot).replace(".", r"\.")):
        pool.on_moved(slot, pool.topology.primaries[0])
    assert pool.stats().in_use == 0


@pytest.mark.parametrize("flag", [True, False])
def test_booleans_are_slots_1_and_0_on_every_route(pool: ClusterConnectionPool,
                                                   flag: bool) -> None:
    """Python indexes with bools as 1 and 0; the per-command path (a range check and a tuple
    index) does too, so every other path agrees rather than refusing them."""
    for name, route in _routes(pool).items():
        if "read" in name:
            continue  # replica choice is round-robin: two calls may differ
        assert route(flag) == route(int(flag)), name


def test_a_bad_slot_is_refused_before_any_discovery() -> None:
    fake = FakeCluster(masters=1, replicas=0)
    with ClusterConnectionPool(startup_nodes=fake.startup_nodes, transport=fake.network,
                               init_slot_cache=False) as lazy:
        for slot in (-1, 16384, "x"):
            with pytest.raises(InvalidSlotError):
                lazy.address_for_slot(slot)  # type: ignore[arg-type]
            with pytest.raises(InvalidSlotError):
                lazy.addresses_for_slots([slot])  # type: ignore[list-item]
        assert lazy.stats().refreshes == 0 and not lazy.topology.shards
        assert lazy.address_for_slot(16383) == fake.primaries()[0].address  # discovers now


def test_invalid_slot_error_is_public() -> None:
    assert clustercore.InvalidSlotError is InvalidSlotError
    assert "InvalidSlotError" in clustercore.__all__


# --- who owns a returned connection ---------------------------------------------------------------
def test_a_connection_lent_before_its_node_left_and_rejoined_returns_to_its_own_pool() -> None:
    """The owner is found by address *and* generation: after a node leaves (its pool is closed)
    and rejoins (a new pool at the same address), a connection lent by the old pool still
    holds its cluster-wide slot and gives it back to the old pool, not to the new one."""
    fake = FakeCluster(masters=2, replicas=1)
    pool = ClusterBlockingConnectionPool(startup_nodes=fake.startup_nodes,
                                         transport=fake.network, max_connections=2,
                                         timeout=0.05)
    try:
        full = pool.topology
        leaving = fake.replicas()[0].address
        held = pool.get_connection_by_address(leaving)
        without = [s if leaving not in s.replicas else
                   type(s)(s.primary, tuple(r for r in s.replicas if r != leaving), s.ranges)
                   for s in full.shards]
        pool._publish(Topology(without, epoch=full.epoch + 1), "left")
        pool._publish(Topology(full.shards, epoch=full.epoch + 2), "rejoined")
        fresh = pool.get_connection_by_address(leaving)  # a new node pool for that address
        assert fresh is not held
        with pytest.raises(PoolTimeoutError):  # held still counts toward max_connections=2
            pool.get_connection_by_slot(0)
        pool.release(held)  # back to the retired pool, which closes it and frees its slot
        assert not held.is_connected
        node = pool.stats().node(leaving)
        assert node is not None and node.in_use == 1 and node.idle == 0
        pool.release(pool.get_connection_by_slot(0))  # the freed slot is usable
        pool.release(fresh)
        node = pool.stats().node(leaving)
        assert node is not None and node.in_use == 0 and node.created - node.closed == node.idle
    finally:
        pool.close()
    assert fake.network.streams == []


def test_connections_no_node_pool_lent_are_closed_and_not_counted() -> None:
    fake = FakeCluster(masters=1, replicas=0)
    with ClusterConnectionPool(startup_nodes=fake.startup_nodes,
                               transport=fake.network) as pool:
        address = fake.primaries()[0].address
        pool.release(pool.get_connection_by_address(address))
        before = pool.stats().node(address)
        for give_back in (pool.release, pool.discard):
            stranger = pool.dedicated_connection(address)  # make_connection(node) is counted
            stranger.connect()
            give_back(stranger)
            assert not stranger.is_connected
            assert pool.stats().node(address) == before


def test_a_node_pool_refuses_connections_it_did_not_lend() -> None:
    fake = FakeCluster(masters=1, replicas=0)
    address = fake.primaries()[0].address

    def make(a: NodeAddress) -> ClusterConnection:
        return ClusterConnection(a.host, a.port, transport=fake.network)

    mine, theirs = NodePool(address, make), NodePool(address, make)
    conn = theirs.get()
    assert mine.owns(conn) is False and theirs.owns(conn) is True
    assert mine.put(conn) is False and mine.discard(conn) is False
    assert conn.is_connected and mine.stats().closed == 0 and mine.count == 0
    theirs.disconnect()  # an older generation is still theirs
    assert theirs.owns(conn) and theirs.put(conn) is True and not conn.is_connected
    assert theirs.count == 0


# --- what connections are built with --------------------------------------------------------------
def test_retry_on_timeout_stays_in_connection_kwargs_but_never_reaches_a_connection() -> None:
    """redis-py-cluster code reads pool.connection_kwargs["retry_on_timeout"]; the connection
    class no longer takes it. Covers make_connection, node pools and discovery's probes."""
    fake = FakeCluster(masters=2, replicas=0)
    built: List[Dict[str, Any]] = []

    class Recording(ClusterConnection):
        def __init__(self, host: str, port: int, **kwargs: Any) -> None:
            built.append(kwargs)
            super().__init__(host, port, **kwargs)

    with ClusterConnectionPool(startup_nodes=fake.startup_nodes, transport=fake.network,
                               connection_class=Recording, retry_on_timeout=True) as pool:
        assert pool.connection_kwargs["retry_on_timeout"] is True
        probes = len(built)
        assert probes >= 1  # discovery's own connections
        pool.release(pool.get_connection_by_slot(0))
        pool.make_connection(fake.primaries()[1].address, retry_on_timeout=False)
        assert len(built) == probes + 2
    assert built and all("retry_on_timeout" not in kwargs for kwargs in built)


# --- configuration --------------------------------------------------------------------------------
def test_the_configuration_is_a_frozen_value_and_the_attributes_are_kept() -> None:
    fake = FakeCluster(masters=1, replicas=0)
    with ClusterConnectionPool(startup_nodes=fake.startup_nodes, transport=fake.network,
                               max_connections=7, max_connections_per_node=3,
                               read_policy="replicas", reinitialize_steps=4) as pool:
        config = pool.config
        assert isinstance(config, PoolConfig)
        with pytest.raises(dataclasses.FrozenInstanceError):
            config.max_connections = 1  # type: ignore[misc]
        with pytest.raises(TypeError):
            config.connection_kwargs["socket_timeout"] = 1  # type: ignore[index]
        assert (pool.max_connections, pool.max_connections_per_node) == (7, 3)
        assert pool.read_policy == "replicas" and pool.readonly is True
        assert pool.reinitialize_steps == 4 and pool.connection_class is ClusterConnection
        assert pool.startup_nodes == pool.orig_startup_nodes == [fake.primaries()[0].address]
        assert pool.connection_kwargs["transport"] is fake.network
    with ClusterConnectionPool(startup_nodes=fake.startup_nodes, transport=fake.network,
                               max_connections=5, max_connections_per_node=True) as pool:
        # redis-py-cluster's attribute keeps the number given; there is no cluster-wide cap
        assert (pool.max_connections, pool.max_connections_per_node) == (5, 5)
        assert pool.config.max_connections is None


@pytest.mark.parametrize("kwargs,message", [
    ({"read_policy": "nearest"}, "read_policy must be one of .*'nearest'"),
    ({"max_connections": 0}, "max_connections must be at least 1; got 0"),
    ({"max_connections_per_node": -2}, "max_connections_per_node must be at least 1; got -2"),
    ({"encoding": "no-such-codec"}, "encoding/encoding_errors: .*no-such-codec"),
    ({"encoding_errors": "no-such-handler"}, "encoding/encoding_errors: .*no-such-handler"),
    ({"startup_nodes": [{"port": 1}]}, "has no 'host'"),
    ({"startup_nodes": [object()]}, "cannot understand startup node"),
])
def test_bad_configuration_fails_at_construction_naming_the_value(
        kwargs: Dict[str, Any], message: str) -> None:
    fake = FakeCluster(masters=1, replicas=0)
    kwargs.setdefault("startup_nodes", fake.startup_nodes)
    with pytest.raises(RedisClusterConfigError, match=message):
        ClusterConnectionPool(transport=fake.network, **kwargs)
    assert fake.network.opened == 0  # nothing was dialled


def test_no_startup_nodes_at_all() -> None:
    with pytest.raises(RedisClusterException, match="No startup nodes provided"):
        ClusterConnectionPool(startup_nodes=[])


def child_exit_code(pid: int, timeout: float = HANG) -> int:
    """Wait (with a deadline) for a forked child; a child stuck past it is killed and fails."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.WEXITSTATUS(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError("the forked child hung")
        threading.Event().wait(0.01)


# --- fork -----------------------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_starts_over_once_and_leaves_the_parents_connections_alone() -> None:
    fake = FakeCluster(masters=1, replicas=0)
    pool = ClusterConnectionPool(startup_nodes=fake.startup_nodes, transport=fake.network,
                                 refresh_interval=30)
    try:
        parent_conn = pool.get_connection_by_slot(0)
        pool.release(parent_conn)
        # No discovery probe may hold the fake network's locks at the instant of the fork.
        deadline = time.monotonic() + 5
        while any(t.name.startswith("clustercore-probe") for t in threading.enumerate()):
            assert time.monotonic() < deadline, "discovery probes still running"
            threading.Event().wait(0.005)
        pid = os.fork()
        if pid == 0:  # the child: report through the exit code, never return into pytest
            code = 1
            try:
                start = threading.Barrier(4)
                got: List[ClusterConnection] = []

                def checkout() -> None:
                    start.wait(5)
                    got.append(pool.get_connection_by_slot(0))

                threads = [threading.Thread(target=checkout) for _ in range(4)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(5)
                maintenance = [t for t in threading.enumerate()
                               if t.name == "clustercore-maintenance"]
                fresh = len(got) == 4 and all(c is not parent_conn for c in got)
                ok = fresh and len(maintenance) == 1 and parent_conn.is_connected
                for conn in got:
                    pool.release(conn)
                code = 0 if ok else 2
            finally:
                os._exit(code)
        assert child_exit_code(pid) == 0
        again = pool.get_connection_by_slot(0)
        assert again is parent_conn and again.is_connected  # the parent's pool is untouched
        pool.release(again)
    finally:
        pool.close()


def _publish_lines() -> List[int]:
    """The line numbers of ClusterConnectionPool._publish's body (for pausing it anywhere)."""
    import dis

    code = clustercore.ClusterConnectionPool._publish.__code__
    return sorted({line for _, line in dis.findlinestarts(code)
                   if line is not None and line > code.co_firstlineno})


@pytest.mark.parametrize("pause_at", _publish_lines())
def test_a_connection_returned_while_a_layout_is_published_keeps_the_budget(
        pause_at: int) -> None:
    """Regression (review of the pool split): a node leaves the cluster while a caller holds one
    of its connections, and the caller hands it back while ``_publish`` is anywhere in its
    body (paused there by a trace hook, in another thread). The connection must reach the node
    pool that lent it, so the cluster-wide cap gets its slot back. (``_publish`` once stored the
    new pool map before the retired pools: a release in between closed the connection without
    its pool's accounting, and each such release leaked one slot of ``max_connections``.)"""
    import sys

    fake = FakeCluster(masters=3, replicas=1)
    pool = ClusterConnectionPool(startup_nodes=fake.startup_nodes, transport=fake.network,
                                 clock=fake.clock, background_refresh=False, max_connections=1)
    topology = pool.topology
    leaving = topology.replicas[0]
    conn = pool.get_connection_by_address(leaving)
    shards = [dataclasses.replace(s, replicas=tuple(r for r in s.replicas if r != leaving),
                                  replica_ids=()) for s in topology.shards]
    smaller = Topology(shards, epoch=topology.epoch + 1)
    code = clustercore.ClusterConnectionPool._publish.__code__
    paused, go = threading.Event(), threading.Event()

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code is not code:
            return None

        def local(frame: Any, event: str, arg: Any) -> Any:
            if event == "line" and frame.f_lineno == pause_at and not paused.is_set():
                paused.set()
                go.wait(5)
            return local
        return local

    def publish() -> None:
        sys.settrace(tracer)
        try:
            pool._publish(smaller, "test")
        finally:
            sys.settrace(None)
            paused.set()  # a line never reached: do not keep the releaser waiting

    publisher = threading.Thread(target=publish)
    publisher.start()
    assert paused.wait(5)
    releaser = threading.Thread(target=pool.release, args=(conn,))
    releaser.start()
    releaser.join(0.5)  # it may need the lock the paused publisher holds: then it waits
    go.set()
    publisher.join(5)
    releaser.join(5)
    assert not publisher.is_alive() and not releaser.is_alive()
    # The slot came back: with max_connections=1 a non-blocking pool hands out another one.
    other = pool.get_connection_by_address(topology.primaries[0])
    pool.release(other)
    assert pool.stats().in_use == 0
    pool.close()


def test_a_reopenable_close_is_reopened_once_by_concurrent_callers() -> None:
    """After close(reopen_on_use=True) (what RedisCluster.close() asks for), threads arriving
    together reopen the pool once: one maintenance thread, every caller served; a final
    close() afterwards fences for good."""
    fake = FakeCluster(masters=2, replicas=0)
    pool = ClusterConnectionPool(startup_nodes=fake.startup_nodes, transport=fake.network,
                                 refresh_interval=30)
    address = pool.topology.primaries[0]
    pool.close(reopen_on_use=True)
    assert pool.closed
    start, got, errors = threading.Barrier(8), [], []

    def use() -> None:
        start.wait(5)
        try:
            conn = pool.get_connection_by_address(address)
        except BaseException as exc:
            errors.append(exc)
            return
        got.append(conn)
        pool.release(conn)

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors and len(got) == 8 and not pool.closed
    maintenance = [t for t in threading.enumerate()
                   if t.name == "clustercore-maintenance" and t.is_alive()]
    assert len(maintenance) == 1
    pool.close()
    with pytest.raises(PoolClosedError):
        pool.get_connection_by_address(address)
    maintenance[0].join(5)
    assert not maintenance[0].is_alive()
