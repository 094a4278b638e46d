"""The refresher's states (single flight, rate limit, deferral, close) and the maintenance
thread's rounds, over FakeCluster."""

from __future__ import annotations

import gc
import sys
import threading
import time
from typing import Any, Callable, List, Optional, Set

import pytest

from clustercore import ClusterConnection, ClusterConnectionPool, NodeAddress
from clustercore._pool.config import PoolConfig
from clustercore._pool.refresher import Refresher, RefreshState, Wakeup
from clustercore._topology.discovery import Discovery
from clustercore._topology.snapshot import Topology
from clustercore.errors import PoolClosedError, RedisClusterConfigError
from clustercore.testing import FakeCluster


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    """Poll ``predicate`` with a deadline (the maintenance thread runs on real time)."""
    deadline = time.monotonic() + timeout
    done = threading.Event()
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        done.wait(0.005)


def running_in(thread: threading.Thread, function: str) -> bool:
    """Whether ``thread`` is inside a call of ``function`` right now (a parked waiter)."""
    frame = sys._current_frames().get(thread.ident or -1)
    while frame is not None:
        if frame.f_code.co_name == function:
            return True
        frame = frame.f_back
    return False


class Harness:
    """A Refresher wired to plain callbacks: the published layouts, the maintenance rounds."""

    def __init__(self, fake: FakeCluster, **options: Any) -> None:
        options.setdefault("background_refresh", False)
        options.setdefault("refresh_min_interval", 0)
        template = ClusterConnectionPool(startup_nodes=fake.startup_nodes,
                                         transport=fake.network, init_slot_cache=False,
                                         **options)
        template.close()
        self.config: PoolConfig = template.config
        self.topology = Topology((), epoch=0)
        self.published: List[str] = []
        self.rounds = 0
        self.on_publish: Optional[Callable[[], None]] = None

        def connect(address: NodeAddress, timeout: float) -> ClusterConnection:
            return ClusterConnection(address.host, address.port, transport=fake.network,
                                     socket_timeout=timeout)

        self.discovery = Discovery(connect, probe_timeout=self.config.probe_timeout)
        self.refresher = Refresher(
            self.config, self.discovery, topology=lambda: self.topology,
            seeds=lambda: list(self.config.startup_nodes), publish=self.publish,
            maintain=self.maintain)

    def publish(self, topology: Topology, trigger: str) -> None:
        self.topology = topology
        self.published.append(trigger)
        if self.on_publish is not None:
            self.on_publish()

    def maintain(self) -> None:
        self.rounds += 1


def test_single_flight_a_request_during_a_refresh_is_dropped() -> None:
    harness = Harness(FakeCluster(masters=2, replicas=0))
    refresher = harness.refresher
    during: List[Any] = []
    harness.on_publish = lambda: during.append((refresher.state, refresher.request("again")))
    assert refresher.state is RefreshState.IDLE
    refresher.refresh_now("first use")
    assert during == [(RefreshState.RUNNING, False)]
    assert refresher.state is RefreshState.IDLE
    assert harness.published == ["first use"] and harness.topology.is_fully_covered
    assert (refresher.refreshes, refresher.refresh_failures) == (1, 0)
    assert refresher.refresh_triggers == {"first use": 1}


def test_a_caller_that_needs_a_layout_waits_for_the_refresh_in_flight() -> None:
    harness = Harness(FakeCluster(masters=1, replicas=0))
    refresher = harness.refresher
    in_flight, release = threading.Event(), threading.Event()
    harness.on_publish = lambda: (in_flight.set(), release.wait(5))
    owner = threading.Thread(target=refresher.refresh_now, args=("owner",))
    owner.start()
    assert in_flight.wait(5)
    waited: List[str] = []
    waiter = threading.Thread(target=lambda: (refresher.refresh_now("waiter"),
                                              waited.append("done")))
    waiter.start()
    wait_until(lambda: running_in(waiter, "_wait_for"), "the second caller to wait")
    release.set()
    owner.join(5)
    waiter.join(5)
    assert waited == ["done"]
    assert harness.published == ["owner"]  # the waiter did not run a second discovery


def test_a_failed_refresh_is_counted_and_leaves_the_refresher_idle() -> None:
    fake = FakeCluster(masters=1, replicas=0)
    harness = Harness(fake, probe_timeout=0.3)
    for node in fake.nodes:
        fake.kill(node)
    with pytest.raises(RedisClusterConfigError):
        harness.refresher.refresh_now("first use")
    assert harness.refresher.refresh_failures == 1
    assert harness.refresher.state is RefreshState.IDLE
    for node in fake.nodes:
        fake.revive(node)
    harness.refresher.refresh_now("retry")
    assert harness.published == ["retry"]


def test_rate_limit_on_the_injected_clock() -> None:
    fake = FakeCluster(masters=1, replicas=0)
    harness = Harness(fake, refresh_min_interval=5.0, clock=fake.clock)
    refresher = harness.refresher
    assert refresher.request("a") is True
    assert refresher.request("b") is False  # inside the limit (inline refreshes: dropped)
    fake.clock.advance(6)
    assert refresher.request("c") is True
    assert harness.published == ["a", "c"]


def test_a_request_inside_the_rate_limit_is_deferred_not_dropped() -> None:
    harness = Harness(FakeCluster(masters=1, replicas=0), background_refresh=True,
                      refresh_min_interval=0.2)
    refresher = harness.refresher
    try:
        assert refresher.request("first") is True  # on a short-lived thread
        wait_until(lambda: harness.published == ["first"], "the first refresh")
        assert refresher.request("soon") is False  # deferred by a timer
        wait_until(lambda: harness.published == ["first", "soon"], "the deferred refresh")
    finally:
        refresher.close()


def test_close_refuses_new_refreshes_and_survives_one_in_flight() -> None:
    harness = Harness(FakeCluster(masters=1, replicas=0))
    refresher = harness.refresher
    harness.on_publish = refresher.close  # closed while its discovery is in flight
    refresher.refresh_now("first use")
    assert refresher.state is RefreshState.CLOSED  # not reset to IDLE by the ending refresh
    assert refresher.request("later") is False
    with pytest.raises(PoolClosedError):
        refresher.refresh_now("later")


def test_a_round_runs_the_pending_request_or_the_periodic_refresh_then_maintains() -> None:
    harness = Harness(FakeCluster(masters=1, replicas=0), refresh_interval=None)
    refresher = harness.refresher
    refresher.run_round(Wakeup.PERIODIC)  # no refresh_interval: no periodic refresh
    assert harness.published == [] and harness.rounds == 1
    periodic = Harness(FakeCluster(masters=1, replicas=0), refresh_interval=60)
    periodic.refresher.run_round(Wakeup.PERIODIC)
    periodic.refresher.run_round(Wakeup.ASKED)  # nothing pending: only maintenance
    assert periodic.published == ["periodic"] and periodic.rounds == 2


def maintenance_threads_since(before: Set[threading.Thread]) -> List[threading.Thread]:
    """The maintenance threads started after ``before`` was taken."""
    return [t for t in set(threading.enumerate()) - before
            if t.name == "clustercore-maintenance"]


def test_the_maintenance_thread_refreshes_periodically_and_on_request_then_stops() -> None:
    fake = FakeCluster(masters=1, replicas=0)
    before = set(threading.enumerate())
    pool = ClusterConnectionPool(startup_nodes=fake.startup_nodes, transport=fake.network,
                                 refresh_interval=0.05, refresh_min_interval=0)
    started = maintenance_threads_since(before)
    try:
        assert len(started) == 1
        wait_until(lambda: pool.stats().refresh_triggers.get("periodic", 0) >= 1,
                   "a periodic refresh")
        # handed to the maintenance thread -- unless a periodic refresh is running right then
        # (every 50 ms here), which answers the request itself: False, ask again
        wait_until(lambda: pool.request_refresh("asked"), "a request handed over")
        wait_until(lambda: pool.stats().refresh_triggers.get("asked", 0) >= 1,
                   "the requested refresh")
    finally:
        pool.close()
    assert not started[0].is_alive()  # joined by close()
    assert pool.request_refresh("after close") is False
    with pytest.raises(PoolClosedError):
        pool.initialize()


def test_the_maintenance_thread_ends_when_its_pool_is_dropped_without_close() -> None:
    fake = FakeCluster(masters=1, replicas=0)
    before = set(threading.enumerate())
    pools = [ClusterConnectionPool(startup_nodes=fake.startup_nodes, transport=fake.network,
                                   refresh_interval=30)]
    started = maintenance_threads_since(before)
    assert len(started) == 1
    pools.clear()  # the last reference, without close()
    gc.collect()
    started[0].join(5)  # it wakes at least once a second and finds the pool gone
    assert not started[0].is_alive()


def test_close_tolerates_a_thread_published_but_not_started_yet() -> None:
    """The deferred timer and the maintenance thread are published before start() runs;
    close() in between must not raise ("cannot join thread before it is started", seen once
    in CI) and must still join a started one."""
    import threading

    from clustercore._pool.refresher import _join_started

    unstarted = threading.Timer(30, lambda: None)
    unstarted.cancel()
    _join_started(unstarted, 0.1)  # no RuntimeError
    unstarted.start()  # the late start() of _defer: the cancelled timer ends at once
    unstarted.join(5)
    assert not unstarted.is_alive()
    release = threading.Event()
    started = threading.Thread(target=release.wait, args=(5,))
    started.start()
    release.set()
    _join_started(started, 5)
    assert not started.is_alive()


def test_catch_up_waits_for_the_discovery_in_flight_instead_of_starting_another() -> None:
    harness = Harness(FakeCluster(masters=1, replicas=0), background_refresh=True)
    refresher = harness.refresher
    in_flight, release = threading.Event(), threading.Event()
    harness.on_publish = lambda: (in_flight.set(), release.wait(5))
    owner = threading.Thread(target=refresher.refresh_now, args=("owner",))
    owner.start()
    try:
        assert in_flight.wait(5)
        # the caller's budget runs out while the owner's discovery is still publishing
        assert refresher.catch_up("last try", None, max_age=0.05, timeout=0.01) is False
        caught: List[bool] = []
        waiter = threading.Thread(target=lambda: caught.append(
            refresher.catch_up("last try", None, max_age=0.05, timeout=5.0)))
        waiter.start()
        wait_until(lambda: running_in(waiter, "catch_up"), "the catch-up to wait")
        release.set()
        waiter.join(5)
        assert caught == [True]
    finally:
        release.set()
        owner.join(5)
        refresher.close()
    assert harness.published == ["owner"]  # single flight: no second discovery


def test_catch_up_runs_on_a_helper_thread_and_is_bounded_by_its_timeout() -> None:
    harness = Harness(FakeCluster(masters=1, replicas=0), background_refresh=True,
                      refresh_min_interval=60.0)
    refresher = harness.refresher
    release = threading.Event()
    harness.on_publish = lambda: release.wait(5)  # a slow discovery
    try:
        assert refresher.catch_up("last try", None, max_age=0.05, timeout=0.01) is False
        release.set()
        wait_until(lambda: harness.published == ["last try"], "the catch-up's discovery")
        wait_until(lambda: refresher.state is RefreshState.IDLE, "the refresher to be idle")
    finally:
        release.set()
        refresher.close()
