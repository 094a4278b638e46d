"""NodePool and Budget on exception paths: nothing leaks, whatever is raised where.

A KeyboardInterrupt (Ctrl-C, or a signal handler that raises) can arrive while a thread waits
for a connection, and an event hook may raise a BaseException that the pool's hook guard does
not swallow. Each test below injects such an exception deterministically (through the event
hook, the injectable clock, or a connection method) and then checks that the pool's counters
are back at their baseline and that the capacity is usable again: a later checkout succeeds
instead of timing out.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, List, Optional

import pytest

from clustercore import ClusterConnection, NodeAddress
from clustercore._pool.node_pool import Budget, NodePool
from clustercore._protocol.reply_encoder import SimpleString
from clustercore.errors import PoolTimeoutError, TooManyConnectionsError
from clustercore.testing.fake.net import FakeNetwork, FakeSession

A = NodeAddress("127.0.0.1", 30201)
B = NodeAddress("127.0.0.1", 30202)
DEADLINE = 5.0  # bound on every cross-thread wait in this module


class PingServer:
    def handle(self, session: FakeSession, args: List[bytes]) -> Any:
        return SimpleString(b"PONG")


class Factory:
    """Makes connections over a fake network and remembers each one it made."""

    def __init__(self, cls: type = ClusterConnection, **kwargs: Any) -> None:
        self.net = FakeNetwork()
        self.net.add(A, PingServer())
        self.net.add(B, PingServer())
        self.cls = cls
        self.kwargs = kwargs
        self.made: List[ClusterConnection] = []

    def __call__(self, address: NodeAddress) -> ClusterConnection:
        conn: ClusterConnection = self.cls(address.host, address.port, transport=self.net,
                                           **self.kwargs)
        self.made.append(conn)
        return conn


class Hook:
    """An event hook that runs a per-event action chosen by the test (in the calling thread)."""

    def __init__(self) -> None:
        self.actions: Dict[str, Callable[[Dict[str, Any]], None]] = {}
        self.events: List[str] = []

    def __call__(self, event: str, fields: Dict[str, Any]) -> None:
        self.events.append(event)
        action = self.actions.get(event)
        if action is not None:
            action(fields)


def interrupt(fields: Dict[str, Any]) -> None:
    raise KeyboardInterrupt


def wait_until(predicate: Callable[[], bool]) -> None:
    """Poll ``predicate`` until true, failing the test after DEADLINE seconds."""
    end = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.001)


def in_thread(target: Callable[[], Any]) -> Outcome:
    outcome = Outcome()

    def run() -> None:
        try:
            outcome.value = target()
        except BaseException as exc:  # KeyboardInterrupt included: the test inspects it
            outcome.error = exc
        finally:
            outcome.done.set()

    threading.Thread(target=run, daemon=True).start()
    return outcome


class Outcome:
    def __init__(self) -> None:
        self.value: Any = None
        self.error: Optional[BaseException] = None
        self.done = threading.Event()

    def result(self) -> Any:
        assert self.done.wait(DEADLINE), "thread did not finish"
        if self.error is not None:
            raise self.error
        return self.value


def assert_baseline(pool: NodePool, *, in_use: int = 0) -> None:
    stats = pool.stats()
    assert (stats.in_use, stats.waiting) == (in_use, 0), stats
    assert pool.count == stats.in_use + stats.idle, stats


# --- waiters ------------------------------------------------------------------------------------
def test_interrupted_node_waiter_leaves_the_line() -> None:
    """Ctrl-C while parked in the node line: the connection released later is not lost."""
    hook = Hook()
    pool = NodePool(A, Factory(), max_size=1, blocking=True, timeout=DEADLINE, event_hook=hook)
    held = pool.get()
    hook.actions["checkout_waited"] = interrupt
    with pytest.raises(KeyboardInterrupt):
        pool.get()
    hook.actions.clear()
    assert_baseline(pool, in_use=1)
    pool.put(held)
    assert_baseline(pool)
    assert pool.get(timeout=0.05) is held  # before the fix: PoolTimeoutError, in_use stuck at 1


def test_interrupted_budget_waiter_leaves_the_line() -> None:
    """Ctrl-C while parked in the cluster-wide line: the budget slot is not lost."""
    hook = Hook()
    budget = Budget(1)
    factory = Factory()
    pa = NodePool(A, factory, budget=budget, blocking=True, timeout=DEADLINE)
    pb = NodePool(B, factory, budget=budget, blocking=True, timeout=DEADLINE, event_hook=hook)
    held = pa.get()
    hook.actions["checkout_waited"] = interrupt
    with pytest.raises(KeyboardInterrupt):
        pb.get()
    hook.actions.clear()
    assert_baseline(pb)
    assert not budget.waiters
    pa.put(held)
    assert_baseline(pa)
    conn = pb.get(timeout=0.05)  # before the fix: the slot went to the gone waiter
    assert conn.is_connected
    assert budget.used == 1
    pb.put(conn)


@pytest.mark.parametrize("line", ["node", "budget"])
@pytest.mark.parametrize("second_waiter", [False, True])
def test_handoff_just_before_the_interrupt_is_passed_on(line: str, second_waiter: bool) -> None:
    """The release reached the waiter a moment before its Ctrl-C: what it was handed (the
    connection, or the budget slot) goes back to the idle stack, or on to the next waiter."""
    hook = Hook()
    budget = Budget(1) if line == "budget" else None
    factory = Factory()
    victim_thread: List[threading.Thread] = []
    armed = threading.Event()

    def clock() -> float:
        if armed.is_set() and threading.current_thread() in victim_thread:
            armed.clear()
            raise KeyboardInterrupt
        return time.monotonic()

    # The victim waits on ``pool`` (it has the hook and the clock): in the node line of the
    # holder's own pool, or in the budget line on another node.
    pool = NodePool(B if budget else A, factory, budget=budget, max_size=1, blocking=True,
                    timeout=DEADLINE, event_hook=hook, clock=clock)
    holder = NodePool(A, factory, budget=budget, max_size=1) if budget else pool
    parked, handed = threading.Event(), threading.Event()

    def on_waited(fields: Dict[str, Any]) -> None:
        if threading.current_thread() in victim_thread:
            parked.set()
            assert handed.wait(DEADLINE)
            armed.set()  # the next clock reading in this thread raises

    hook.actions["checkout_waited"] = on_waited
    held = holder.get()

    def victim() -> ClusterConnection:
        victim_thread.append(threading.current_thread())
        return pool.get()

    first = in_thread(victim)
    assert parked.wait(DEADLINE)
    second: Optional[Outcome] = None
    if second_waiter:
        second = in_thread(pool.get)
        wait_until(lambda: pool.stats().waiting == 2)
    holder.put(held)  # served to the victim, which is parked in the hook
    handed.set()
    with pytest.raises(KeyboardInterrupt):
        first.result()
    if second is not None:
        got = second.result()  # before the fix: PoolTimeoutError after DEADLINE
        assert got.is_connected
        pool.put(got)
    assert_baseline(pool)
    assert_baseline(holder)
    # The capacity is whole again: a connection can be checked out at once.
    again = pool.get(timeout=0.05)
    pool.put(again)
    if budget is not None:
        assert budget.used == 1 and not budget.waiters


def test_timeout_still_reported_and_counted() -> None:
    """The exception-path handling leaves the ordinary timeout as it was."""
    pool = NodePool(A, Factory(), max_size=1, blocking=True, timeout=0.01)
    held = pool.get()
    with pytest.raises(PoolTimeoutError):
        pool.get()
    assert pool.stats().wait_timeouts == 1
    assert_baseline(pool, in_use=1)
    pool.put(held)


# --- the connection_created hook ------------------------------------------------------------------
@pytest.mark.parametrize("with_budget", [False, True])
def test_connection_created_hook_raising_releases_the_slot(with_budget: bool) -> None:
    hook = Hook()
    hook.actions["connection_created"] = interrupt
    budget = Budget(1) if with_budget else None
    factory = Factory()
    pool = NodePool(A, factory, max_size=1, budget=budget, event_hook=hook)
    with pytest.raises(KeyboardInterrupt):
        pool.get()
    assert_baseline(pool)
    assert pool.count == 0
    assert [c.is_connected for c in factory.made] == [False]  # the half-made one is closed
    if budget is not None:
        assert budget.used == 0
    hook.actions.clear()
    conn = pool.get()  # before the fix: TooManyConnectionsError (the slot stayed taken)
    assert conn is factory.made[1]
    pool.put(conn)


def test_connection_created_hook_raising_serves_the_next_waiter() -> None:
    """The slot freed by the failed creation goes to a caller already waiting for it."""
    hook = Hook()
    pool = NodePool(A, Factory(), max_size=1, blocking=True, timeout=DEADLINE, event_hook=hook)
    held = pool.get()
    waiting = in_thread(pool.get)
    wait_until(lambda: pool.stats().waiting == 1)
    pool.discard(held)  # the waiter is granted the slot and creates the connection itself
    conn = waiting.result()
    pool.put(conn)
    assert_baseline(pool)
    # Now the creation fails in one caller while another waits for the slot.
    held = pool.get()
    entered, release = threading.Event(), threading.Event()

    def block_then_interrupt(fields: Dict[str, Any]) -> None:
        entered.set()
        assert release.wait(DEADLINE)
        raise KeyboardInterrupt

    pool.discard(held)
    hook.actions["connection_created"] = block_then_interrupt
    creator = in_thread(pool.get)
    assert entered.wait(DEADLINE)
    hook.actions.clear()
    second = in_thread(pool.get)
    wait_until(lambda: pool.stats().waiting == 1)
    release.set()
    with pytest.raises(KeyboardInterrupt):
        creator.result()
    got = second.result()  # before the fix: PoolTimeoutError
    pool.put(got)
    assert_baseline(pool)


# --- vetting and closing ------------------------------------------------------------------------------
class InterruptedHealthCheck(ClusterConnection):
    interrupt_next = False

    def check_health(self, now: Optional[float] = None) -> None:
        if InterruptedHealthCheck.interrupt_next:
            InterruptedHealthCheck.interrupt_next = False
            raise KeyboardInterrupt
        super().check_health(now)


def test_interrupt_during_health_check_discards_the_connection() -> None:
    factory = Factory(InterruptedHealthCheck, health_check_interval=0.001)
    pool = NodePool(A, factory, max_size=1)
    pool.put(pool.get())
    InterruptedHealthCheck.interrupt_next = True
    with pytest.raises(KeyboardInterrupt):
        pool.get()
    assert_baseline(pool)
    assert not factory.made[0].is_connected
    conn = pool.get()  # before the fix: TooManyConnectionsError
    pool.put(conn)


def test_hook_raising_on_reclaim_gives_the_budget_slot_back() -> None:
    """Closing an idle connection elsewhere to make room: the hook raises on its close."""
    hook = Hook()
    budget = Budget(1)
    factory = Factory()
    pa = NodePool(A, factory, budget=budget, event_hook=hook)
    pb = NodePool(B, factory, budget=budget)
    pa.put(pa.get())
    hook.actions["connection_closed"] = interrupt
    with pytest.raises(KeyboardInterrupt):
        pb.get()
    hook.actions.clear()
    assert not factory.made[0].is_connected
    assert (pa.count, pb.count) == (0, 0)
    assert budget.used == 0  # before the fix: 1, with no connection open anywhere
    conn = pb.get()
    pb.put(conn)


def test_hook_raising_on_close_still_closes_the_socket() -> None:
    hook = Hook()
    factory = Factory()
    pool = NodePool(A, factory, event_hook=hook)
    c1, c2, c3 = pool.get(), pool.get(), pool.get()
    pool.put(c2)
    pool.put(c3)
    hook.actions["connection_closed"] = interrupt
    with pytest.raises(KeyboardInterrupt):
        pool.disconnect()  # two idle connections: both closed though the first close raised
    assert not c2.is_connected and not c3.is_connected
    with pytest.raises(KeyboardInterrupt):
        pool.put(c1)  # of an older generation: closed on return
    assert not c1.is_connected
    assert_baseline(pool)
    assert pool.count == 0


def test_open_new_with_raising_hook_releases_the_slot() -> None:
    hook = Hook()
    hook.actions["connection_created"] = interrupt
    pool = NodePool(A, Factory(), max_size=1, event_hook=hook)
    with pytest.raises(KeyboardInterrupt):
        pool.open_new()
    assert_baseline(pool)
    hook.actions.clear()
    conn = pool.open_new()  # before the fix: TooManyConnectionsError
    assert_baseline(pool, in_use=1)
    with pytest.raises(TooManyConnectionsError):
        pool.open_new()
    pool.put(conn)
    assert_baseline(pool)
