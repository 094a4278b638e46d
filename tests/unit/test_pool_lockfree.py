"""The lock-free idle stack of NodePool under stress: threads hammering checkout, release,
discard, disconnect and close, with the counts checked exactly once they are done.

Checkout pops and release appends without the node lock (see the module docstring of
``clustercore._pool.node_pool``); what these tests pin down is that nothing is lost or counted
twice in any interleaving the scheduler finds (the switch interval is set as low as it goes, so
threads change places between almost every bytecode):

* the caps hold at every checkout (per node, and the cluster-wide budget), counted by the
  threads themselves;
* no lost wake-up: with one connection for eight threads and a generous wait timeout, no
  checkout ever times out (a release that left its connection idle while a waiter slept would
  leave the last waiter asleep until its deadline);
* afterwards the stats add up: nothing in use or waiting, ``created - closed == idle``, the
  budget's count equal to the open connections, one open fake socket per idle connection, and
  every idle connection of the pool's current generation;
* ``close()`` in the middle wakes or fails every thread, and leaves no socket open and no
  budget slot used.

Every loop is bounded by an operation count and a deadline; threads are joined with a timeout.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections import deque
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

from clustercore import ClusterConnection, NodeAddress
from clustercore._pool.node_pool import Budget, NodePool
from clustercore._protocol.reply_encoder import SimpleString
from clustercore.errors import PoolClosedError
from clustercore.testing.fake.net import FakeNetwork, FakeSession

A = NodeAddress("127.0.0.1", 30201)
B = NodeAddress("127.0.0.1", 30202)

#: Upper bound on one test's hammering (real seconds); the operation counts end it far sooner.
DEADLINE = 30.0
#: How long the main thread waits for a worker thread to finish.
JOIN = 60.0


class PingServer:
    def handle(self, session: FakeSession, args: List[bytes]) -> Any:
        return SimpleString(b"PONG")


def network() -> FakeNetwork:
    net = FakeNetwork()
    for address in (A, B):
        net.add(address, PingServer())
    return net


def factory(net: FakeNetwork) -> Callable[[NodeAddress], ClusterConnection]:
    def make(address: NodeAddress) -> ClusterConnection:
        return ClusterConnection(address.host, address.port, transport=net)
    return make


@pytest.fixture(autouse=True)
def fast_switching() -> Iterator[None]:
    """Switch threads as often as the interpreter allows, so races show up."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


class Held:
    """Connections checked out right now, per pool, counted by the threads (exactly)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now: Dict[NodeAddress, int] = {}
        self.peak: Dict[NodeAddress, int] = {}
        self.peak_total = 0

    def take(self, address: NodeAddress) -> None:
        with self.lock:
            self.now[address] = self.now.get(address, 0) + 1
            self.peak[address] = max(self.peak.get(address, 0), self.now[address])
            self.peak_total = max(self.peak_total, sum(self.now.values()))

    def give(self, address: NodeAddress) -> None:
        with self.lock:
            self.now[address] -= 1


def run_threads(count: int, body: Callable[[int], None]) -> List[BaseException]:
    """Run ``body(i)`` in ``count`` threads started together; the exceptions they raised."""
    errors: List[BaseException] = []
    start = threading.Barrier(count)

    def main(i: int) -> None:
        try:
            start.wait(timeout=JOIN)
            body(i)
        except BaseException as exc:  # reported to the test, which fails on it
            errors.append(exc)

    threads = [threading.Thread(target=main, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN)
    assert not any(t.is_alive() for t in threads), "a worker thread is stuck"
    return errors


def assert_settled(pools: List[NodePool], net: FakeNetwork, budget: Optional[Budget]) -> None:
    """Nothing in use or waiting; the counts, the budget and the open sockets agree."""
    total = 0
    for pool in pools:
        stats = pool.stats()
        assert (stats.in_use, stats.waiting) == (0, 0), stats
        assert stats.created - stats.closed == stats.idle == pool.count, stats
        if pool.max_size is not None:
            assert stats.idle <= pool.max_size
        assert len(net.connections_to(pool.address)) == stats.idle
        total += stats.idle
        # Every idle connection is of the current generation (none stale was left on the
        # stack): check them all out at once (no new one is created), then put them back.
        idle = [pool.get(timeout=5) for _ in range(stats.idle)]
        assert all(c.generation == pool.generation for c in idle)
        assert pool.stats().created == stats.created
        for c in idle:
            pool.put(c)
    if budget is not None:
        assert budget.used == total
        if budget.limit is not None:
            assert total <= budget.limit


def test_checkout_release_hammer_keeps_caps_and_counts() -> None:
    net = network()
    budget = Budget(5)
    pools = [NodePool(a, factory(net), max_size=3, budget=budget, blocking=True, timeout=10.0)
             for a in (A, B)]
    held = Held()
    ops = 400
    until = time.monotonic() + DEADLINE

    def body(i: int) -> None:
        rng = random.Random(i)
        for n in range(ops):
            if time.monotonic() > until:
                return
            pool = pools[rng.randrange(2)]
            conn = pool.get()
            held.take(pool.address)
            assert conn.execute("PING") == b"PONG"
            held.give(pool.address)
            if n % 37 == i:
                pool.discard(conn)  # its slot passes to a waiter (or back to the budget)
            else:
                pool.put(conn)

    errors = run_threads(8, body)
    assert errors == []
    assert max(held.peak.values()) <= 3
    assert held.peak_total <= 5
    assert_settled(pools, net, budget)


def test_single_connection_no_lost_wakeup() -> None:
    """One connection, eight threads, a 10 s wait: a lost wake-up would leave a waiter asleep
    (until PoolTimeoutError) while the connection sat idle. Each wait is microseconds long."""
    net = network()
    pool = NodePool(A, factory(net), max_size=1, blocking=True, timeout=10.0)
    held = Held()
    until = time.monotonic() + DEADLINE

    def body(i: int) -> None:
        for _ in range(300):
            if time.monotonic() > until:
                return
            conn = pool.get()
            held.take(A)
            held.give(A)
            pool.put(conn)

    errors = run_threads(8, body)
    assert errors == []
    assert held.peak[A] == 1
    stats = pool.stats()
    assert stats.wait_timeouts == 0 and stats.created == 1
    assert_settled([pool], net, None)


def test_budget_waiters_are_served_across_nodes() -> None:
    """A budget of one connection for two nodes: every checkout on one node needs the other's
    connection closed to make room (from a release, or by reclaiming an idle one)."""
    net = network()
    budget = Budget(1)
    pools = [NodePool(a, factory(net), budget=budget, blocking=True, timeout=10.0)
             for a in (A, B)]
    held = Held()
    until = time.monotonic() + DEADLINE

    def body(i: int) -> None:
        rng = random.Random(100 + i)
        for _ in range(150):
            if time.monotonic() > until:
                return
            pool = pools[rng.randrange(2)]
            conn = pool.get()
            held.take(pool.address)
            held.give(pool.address)
            pool.put(conn)

    errors = run_threads(6, body)
    assert errors == []
    assert held.peak_total == 1
    assert sum(p.stats().wait_timeouts for p in pools) == 0
    assert_settled(pools, net, budget)


def test_disconnect_while_hammering_leaves_no_stale_idle() -> None:
    net = network()
    budget = Budget(None)
    pool = NodePool(A, factory(net), max_size=4, budget=budget, blocking=True, timeout=10.0)
    until = time.monotonic() + DEADLINE
    stop = threading.Event()

    def body(i: int) -> None:
        if i == 0:  # the disconnecting thread
            for _ in range(60):
                if time.monotonic() > until:
                    break
                pool.disconnect()
            stop.set()
            return
        for _ in range(2000):
            if stop.is_set() or time.monotonic() > until:
                return
            conn = pool.get()
            pool.put(conn)

    errors = run_threads(6, body)
    assert errors == []
    assert_settled([pool], net, budget)


def test_close_while_hammering_fails_everyone_and_closes_everything() -> None:
    net = network()
    budget = Budget(3)
    pools = [NodePool(a, factory(net), max_size=2, budget=budget, blocking=True, timeout=10.0)
             for a in (A, B)]
    until = time.monotonic() + DEADLINE
    checkouts = [0]
    going = threading.Event()
    closed_by: List[Optional[BaseException]] = [None] * 8

    def body(i: int) -> None:
        if i == 0:  # the closing thread: close once the others are well under way
            going.wait(timeout=DEADLINE)
            for pool in pools:
                pool.close()
            return
        rng = random.Random(200 + i)
        try:
            while time.monotonic() < until:
                pool = pools[rng.randrange(2)]
                conn = pool.get()
                checkouts[0] += 1
                if checkouts[0] >= 500:
                    going.set()
                pool.put(conn)
        except PoolClosedError as exc:
            closed_by[i] = exc
        # A thread still running when the deadline passed leaves closed_by[i] None: a failure.

    errors = run_threads(8, body)
    assert errors == []
    assert all(isinstance(e, PoolClosedError) for e in closed_by[1:])
    for pool in pools:
        stats = pool.stats()
        assert (stats.in_use, stats.idle, stats.waiting, pool.count) == (0, 0, 0, 0), stats
        assert stats.created == stats.closed
        assert net.connections_to(pool.address) == []
    assert budget.used == 0


class ReleasingBudget(Budget):
    """A budget that, on one chosen try_take(), first has ``release`` run: a release landing
    exactly between a checkout's look at the empty stack and its joining the budget's line."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.release: Optional[Callable[[], None]] = None

    def try_take(self) -> bool:
        release, self.release = self.release, None
        if release is not None:
            release()
        return super().try_take()


@pytest.mark.not_compiled(reason="subclasses Budget, a native class in the compiled build")
def test_waiter_rechecks_the_stack_after_queueing() -> None:
    """The interleaving a lock-free stack must survive, forced: a checkout finds the stack empty
    and the budget exhausted; before it joins the budget's line the only connection is released
    (seeing nobody waiting, it goes idle). The checkout must find it when it looks again after
    queueing, not sleep until its deadline (the budget's line is served only by releases and
    closes that come after it queued; none will)."""
    net = network()
    budget = ReleasingBudget(1)
    pool = NodePool(A, factory(net), budget=budget, blocking=True, timeout=5.0)
    first = pool.get()
    budget.release = lambda: pool.put(first)
    again = pool.get()
    assert again is first
    stats = pool.stats()
    assert (stats.created, stats.in_use, stats.idle, stats.waiting) == (1, 1, 0, 0)
    assert (stats.waits, stats.wait_timeouts) == (0, 0)
    assert budget.waiters == deque() and budget.used == 1
    pool.put(again)
    assert_settled([pool], net, budget)
