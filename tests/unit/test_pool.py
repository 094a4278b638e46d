"""NodePool and Budget: caps, LIFO reuse, FIFO hand-off, deadlines, reclaim, failure marks."""

from __future__ import annotations

import random
import threading
import time
from typing import Any, Dict, List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clustercore import ClusterConnection, NodeAddress
from clustercore._pool.node_pool import Budget, NodePool
from clustercore._protocol.reply_encoder import SimpleString
from clustercore.errors import (
    ConnectionError,
    PoolClosedError,
    PoolTimeoutError,
    TooManyConnectionsError,
    TooManyWaitersError,
)
from clustercore.testing.fake.net import FakeNetwork, FakeSession

A = NodeAddress("127.0.0.1", 30101)
B = NodeAddress("127.0.0.1", 30102)


class PingServer:
    def handle(self, session: FakeSession, args: List[bytes]) -> Any:
        return SimpleString(b"PONG")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def network(*addresses: NodeAddress) -> FakeNetwork:
    net = FakeNetwork()
    for address in addresses or (A, B):
        net.add(address, PingServer())
    return net


def factory(net: FakeNetwork, **kwargs: Any) -> Any:
    def make(address: NodeAddress) -> ClusterConnection:
        return ClusterConnection(address.host, address.port, transport=net, **kwargs)
    return make


def test_lifo_reuse_and_counts() -> None:
    net = network()
    pool = NodePool(A, factory(net))
    c1, c2 = pool.get(), pool.get()
    pool.put(c1)
    pool.put(c2)
    assert pool.get() is c2  # last in, first out
    stats = pool.stats()
    assert (stats.created, stats.in_use, stats.idle, stats.closed) == (2, 1, 1, 0)
    assert net.opened == 2


def test_non_blocking_cap_raises_too_many_connections() -> None:
    pool = NodePool(A, factory(network()), max_size=2)
    held = [pool.get(), pool.get()]
    with pytest.raises(TooManyConnectionsError, match="Too many connections"):
        pool.get()
    pool.put(held.pop())
    assert pool.get() is not None


def test_blocking_timeout_is_distinct_and_bounded() -> None:
    pool = NodePool(A, factory(network()), max_size=1, blocking=True, timeout=0.05)
    held = pool.get()
    start = time.monotonic()
    with pytest.raises(PoolTimeoutError) as info:
        pool.get()
    elapsed = time.monotonic() - start
    assert 0.05 <= elapsed < 0.05 + 0.5
    assert isinstance(info.value, ConnectionError)  # redis-py-cluster compatibility
    assert info.value.node == A
    stats = pool.stats()
    assert (stats.waits, stats.wait_timeouts, stats.waiting) == (1, 1, 0)
    pool.put(held)


def test_waiters_are_served_first_come_first_served() -> None:
    pool = NodePool(A, factory(network()), max_size=1, blocking=True, timeout=5)
    held = pool.get()
    order: List[int] = []
    threads = []
    for i in range(4):
        queued = threading.Event()

        def run(i: int = i) -> None:
            conn = pool.get()
            order.append(i)
            pool.put(conn)

        t = threading.Thread(target=run)
        t.start()
        threads.append(t)
        # wait until this thread is parked before starting the next one
        deadline = time.monotonic() + 5
        while pool.stats().waiting < i + 1 and time.monotonic() < deadline:
            queued.wait(0.001)
    pool.put(held)
    for t in threads:
        t.join(5)
    assert order == [0, 1, 2, 3]
    assert pool.stats().created == 1  # one connection, handed along the line


def test_max_waiters_fails_fast() -> None:
    pool = NodePool(A, factory(network()), max_size=1, blocking=True, timeout=5, max_waiters=1)
    held = pool.get()
    parked = threading.Thread(target=lambda: pool.put(pool.get()))
    parked.start()
    deadline = time.monotonic() + 5
    while pool.stats().waiting < 1 and time.monotonic() < deadline:
        time.sleep(0.001)
    with pytest.raises(TooManyWaitersError):
        pool.get()
    pool.put(held)
    parked.join(5)
    assert not parked.is_alive()


def test_close_fences_and_fails_waiters() -> None:
    pool = NodePool(A, factory(network()), max_size=1, blocking=True, timeout=5)
    held = pool.get()
    errors: List[BaseException] = []

    def wait() -> None:
        try:
            pool.get()
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=wait)
    t.start()
    deadline = time.monotonic() + 5
    while pool.stats().waiting < 1 and time.monotonic() < deadline:
        time.sleep(0.001)
    pool.close()
    t.join(5)
    assert errors and isinstance(errors[0], PoolClosedError)
    with pytest.raises(PoolClosedError):
        pool.get()
    pool.put(held)  # returned after close: closed, not kept
    stats = pool.stats()
    assert (stats.in_use, stats.idle, stats.created - stats.closed) == (0, 0, 0)
    assert not held.is_connected


def test_stale_connections_are_replaced() -> None:
    net = network()
    pool = NodePool(A, factory(net))
    conn = pool.get()
    pool.put(conn)
    net.drop_connections(A)
    fresh = pool.get()
    assert fresh is not conn and fresh.is_connected and not conn.is_connected
    assert pool.stats().closed == 1


def test_disconnect_closes_idle_now_and_in_use_on_return() -> None:
    pool = NodePool(A, factory(network()))
    a, b = pool.get(), pool.get()
    pool.put(a)
    pool.disconnect()
    assert not a.is_connected and b.is_connected
    pool.put(b)
    assert not b.is_connected
    assert pool.get() not in (a, b)  # still usable


def test_budget_reclaims_idle_connection_elsewhere_non_blocking() -> None:
    net = network()
    budget = Budget(2)
    pa = NodePool(A, factory(net), budget=budget)
    pb = NodePool(B, factory(net), budget=budget)
    a1, a2 = pa.get(), pa.get()
    pa.put(a1)
    b1 = pb.get()  # budget full, a1 idle on A: it is closed to make room
    assert not a1.is_connected and b1.is_connected
    with pytest.raises(TooManyConnectionsError):
        pb.get()  # a2 and b1 in use: nothing to reclaim
    assert budget.used == 2
    pa.put(a2)
    pb.put(b1)


def test_budget_waiter_woken_by_release_on_another_node() -> None:
    net = network()
    budget = Budget(1)
    pa = NodePool(A, factory(net), budget=budget, blocking=True, timeout=5)
    pb = NodePool(B, factory(net), budget=budget, blocking=True, timeout=5)
    a = pa.get()
    got: List[ClusterConnection] = []
    t = threading.Thread(target=lambda: got.append(pb.get()))
    t.start()
    deadline = time.monotonic() + 5
    while pb.stats().waiting < 1 and time.monotonic() < deadline:
        time.sleep(0.001)
    pa.put(a)  # closed to hand the budget slot to B's waiter
    t.join(5)
    assert got and got[0].address == B
    assert not a.is_connected and budget.used == 1
    assert pa.stats().idle == 0


def test_failure_mark_fails_fast_then_single_probe() -> None:
    net = network()
    clock = Clock()
    pool = NodePool(A, factory(net), failure_cooldown=2.0, clock=clock)
    net.refuse(A)
    with pytest.raises(ConnectionError, match="refused"):
        pool.get()
    assert pool.failing
    with pytest.raises(ConnectionError, match="marked failing"):
        pool.get()
    assert net.opened == 0
    net.refuse(A, False)
    clock.now += 2.5
    conn = pool.get()  # the probe after the cool-down succeeds and clears the mark
    assert conn.is_connected and not pool.failing
    stats = pool.stats()
    assert stats.connect_failures == 1 and stats.in_use == 1 and stats.created == 1


def test_idle_reaping_keeps_recent() -> None:
    clock = Clock()
    pool = NodePool(A, factory(network()), max_idle_time=10, clock=clock)
    old, new = pool.get(), pool.get()
    pool.put(old)
    pool.put(new)
    old.last_used = clock.now - 60  # the bottom of the LIFO stack has gone cold
    assert pool.reap() == 1
    assert not old.is_connected and new.is_connected
    assert pool.stats().idle == 1
    # put() also reaps opportunistically, without a maintenance thread
    x = pool.get()
    y = pool.get()
    pool.put(x)
    clock.now += 30
    pool.put(y)  # x went cold at the bottom of the stack while y was out
    assert not x.is_connected and y.is_connected and pool.stats().idle == 1


def test_event_hook_sees_lifecycle_and_errors_are_contained() -> None:
    events: List[str] = []

    def hook(name: str, fields: Dict[str, Any]) -> None:
        events.append(name)
        raise RuntimeError("a broken metrics adapter")

    pool = NodePool(A, factory(network()), max_size=1, blocking=True, timeout=0.01,
                    event_hook=hook)
    conn = pool.get()
    with pytest.raises(PoolTimeoutError):
        pool.get()
    pool.put(conn)
    pool.close()
    assert events[:3] == ["connection_created", "checkout_waited", "checkout_timeout"]
    assert "connection_closed" in events


@settings(deadline=None, max_examples=20)
@given(threads=st.integers(2, 64), per_node=st.integers(1, 4), total=st.integers(1, 6),
       blocking=st.booleans(), seed=st.integers(0, 2**16))
def test_threaded_limits_hold_and_counts_add_up(threads: int, per_node: int, total: int,
                                                blocking: bool, seed: int) -> None:
    net = network(A, B)
    budget = Budget(total)
    pools = [NodePool(addr, factory(net), max_size=per_node, budget=budget, blocking=blocking,
                      timeout=0.5) for addr in (A, B)]
    held = {A: 0, B: 0}
    worst = {"node": 0, "total": 0, "wait": 0.0}
    lock = threading.Lock()
    failures: List[BaseException] = []

    def worker(wid: int) -> None:
        rng = random.Random(seed + wid)
        for _ in range(15):
            pool = pools[rng.randrange(2)]
            start = time.monotonic()
            try:
                conn = pool.get()
            except (PoolTimeoutError, TooManyConnectionsError):
                with lock:
                    worst["wait"] = max(worst["wait"], time.monotonic() - start)
                continue
            except BaseException as exc:  # anything else is a bug
                failures.append(exc)
                return
            with lock:
                worst["wait"] = max(worst["wait"], time.monotonic() - start)
                held[pool.address] += 1
                worst["node"] = max(worst["node"], held[pool.address])
                worst["total"] = max(worst["total"], held[A] + held[B])
            if rng.random() < 0.2:
                conn.execute("PING")
            with lock:
                held[pool.address] -= 1
            if rng.random() < 0.1:
                pool.discard(conn)
            else:
                pool.put(conn)

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    assert not failures, failures
    assert not any(w.is_alive() for w in workers)
    assert worst["node"] <= per_node
    assert worst["total"] <= total
    assert worst["wait"] < 0.5 + 0.5  # timeout plus a generous scheduling margin
    for pool in pools:
        s = pool.stats()
        assert s.in_use == 0 and s.waiting == 0
        assert s.created - s.closed == s.idle == pool.count
        assert s.idle <= per_node
    assert budget.used == sum(p.count for p in pools) <= total
    assert not budget.waiters
    for pool in pools:
        pool.close()
    assert budget.used == 0
    assert len(net.streams) == 0  # every socket closed


@pytest.mark.not_compiled(
    reason="wraps Budget.reclaim_idle on the instance (a compiled class has no instance dict)")
def test_a_budget_waiter_never_misses_a_connection_released_while_it_queues() -> None:
    """The interleaving that lost a wake-up: a put() on node B checks the budget's line (empty)
    and, before its connection is idle, a caller on node A queues on the budget and scans the
    idle lists (finding nothing). With the idle append before the check, the caller finds it.

    The put() is paused at its look at the budget's line (the deque's __len__) until the
    waiter's scan is done; a deadline bounds everything."""
    from collections import deque

    net = network()
    budget = Budget(1)
    pool_a = NodePool(A, factory(net), budget=budget, blocking=True, timeout=1.0)
    pool_b = NodePool(B, factory(net), budget=budget, blocking=True, timeout=1.0)
    held = pool_b.get()  # the only budget slot, checked out on node B
    peeked = threading.Event()
    scanned = threading.Event()

    class PausingLine(deque):  # type: ignore[type-arg]
        armed = True

        def __len__(self) -> int:
            size = deque.__len__(self)  # what put() sees: the line before the waiter joins
            if PausingLine.armed and threading.current_thread().name == "releaser":
                PausingLine.armed = False
                peeked.set()
                scanned.wait(5)
            return size

    budget.waiters = PausingLine()
    real_reclaim = budget.reclaim_idle
    real_take = pool_b.close_coldest_idle

    def reclaim(exclude: NodePool) -> bool:
        found = real_reclaim(exclude)
        scanned.set()  # the scan found nothing to take (or took it)
        return found

    def take(why: str) -> bool:
        scanned.set()  # the scan found B's connection: it now waits for B's lock
        return real_take(why)

    budget.reclaim_idle = reclaim  # type: ignore[method-assign]
    pool_b.close_coldest_idle = take  # type: ignore[method-assign]
    releaser = threading.Thread(target=pool_b.put, args=(held,), name="releaser")
    releaser.start()
    assert peeked.wait(5)
    conn = pool_a.get()  # served (by reclaiming B's idle connection), not PoolTimeoutError
    releaser.join(5)
    assert conn.address == A
    assert budget.used == 1 and pool_b.stats().idle == 0
    pool_a.put(conn)
