"""Threaded properties of ClusterBlockingConnectionPool over FakeCluster (beyond test_pool.py,
which drives bare NodePools over a PING server).

With up to 64 threads checking connections out by slot and by node, running real commands,
releasing or discarding them, while the main thread drops connections, kills and revives nodes
or resets the pool:

* in use never exceeds the per-node cap nor the cluster-wide cap (counted exactly, at checkout);
* every checkout is released: nothing in use or waiting once the threads are done, and
  ``created - closed == idle`` per node (the stats add up), at most the caps;
* no checkout waits longer than ``timeout`` plus a scheduling margin, and only PoolTimeoutError
  (or, for a dead node, a connection error) ends a wait;
* ``close()`` while threads wait wakes them with PoolClosedError at once, and leaves no socket
  open on the fake network.

The client-level properties run RedisCluster over a blocking pool from many threads.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any, Dict, List, Optional

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from clustercore import (
    ClusterBlockingConnectionPool,
    ClusterConnection,
    NodeAddress,
    RedisCluster,
    key_slot,
)
from clustercore.errors import (
    ClusterCoreError,
    ConnectionError,
    PoolClosedError,
    PoolTimeoutError,
    ResponseError,
    TopologyError,
)
from clustercore.testing import FakeCluster

#: pytest-timeout allows 120 s a test; the nightly profile runs many more examples.
pytestmark = pytest.mark.timeout(max(120, int(settings.default.max_examples * 0.25)))

#: Extra real seconds a waiter may take beyond ``timeout``: thread wake-up and GIL hand-over
#: with 64 runnable threads on a 2-core machine.
MARGIN = 0.5


class Recorder:
    """Exact in-use counts (per node and in all), kept by the threads at checkout/release."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.held: Dict[NodeAddress, int] = {}
        self.total = 0
        self.max_node = 0
        self.max_total = 0
        self.max_wait = 0.0
        self.failures: List[BaseException] = []
        self.outcomes: Dict[str, int] = {}

    def got(self, address: NodeAddress, waited: float) -> None:
        with self.lock:
            self.held[address] = self.held.get(address, 0) + 1
            self.total += 1
            self.max_node = max(self.max_node, self.held[address])
            self.max_total = max(self.max_total, self.total)
            self.max_wait = max(self.max_wait, waited)

    def returned(self, address: NodeAddress) -> None:
        with self.lock:
            self.held[address] -= 1
            self.total -= 1

    def count(self, what: str, waited: float = 0.0) -> None:
        with self.lock:
            self.outcomes[what] = self.outcomes.get(what, 0) + 1
            self.max_wait = max(self.max_wait, waited)


def _reset_exceeds_caps() -> bool:
    """Whether the reset() bug (test_bug_reset_lets_the_pool_exceed_max_connections) is open."""
    fake = FakeCluster(masters=1, replicas=0)
    pool = ClusterBlockingConnectionPool(startup_nodes=fake.startup_nodes,
                                         transport=fake.network, max_connections=1, timeout=0)
    held = pool.get_connection_by_slot(0)
    pool.reset()
    try:
        pool.release(pool.get_connection_by_slot(0))
    except PoolTimeoutError:
        return False
    finally:
        pool.release(held)
        pool.close()
    return True


RESET_BUG_OPEN = _reset_exceeds_caps()


def assert_quiescent(pool: ClusterBlockingConnectionPool, per_node: Optional[int],
                     total: int) -> None:
    stats = pool.stats()
    for node in stats.nodes:
        assert node.in_use == 0 and node.waiting == 0, node
        assert node.created - node.closed == node.idle, node
        if per_node is not None:
            assert node.idle <= per_node, node
    assert stats.idle <= total


@settings(deadline=None)
@given(threads=st.integers(1, 64), masters=st.integers(1, 4),
       per_node=st.one_of(st.none(), st.integers(1, 4)), total=st.integers(1, 10),
       timeout=st.sampled_from([0.02, 0.1]), seed=st.integers(0, 2**32 - 1),
       faults=st.lists(st.sampled_from(["drop", "kill", "revive", "reset", "disconnect"]),
                       max_size=3))
def test_blocking_pool_caps_waits_and_counts_under_threads(
        threads: int, masters: int, per_node: Optional[int], total: int, timeout: float,
        seed: int, faults: List[str]) -> None:
    if RESET_BUG_OPEN:  # steer around the open bug, which has its own red test below
        faults = [f for f in faults if f != "reset"]
    fake = FakeCluster(masters=masters, replicas=0, node_timeout=None)
    pool = ClusterBlockingConnectionPool(
        startup_nodes=fake.startup_nodes, transport=fake.network, max_connections=total,
        max_connections_per_node=per_node if per_node is not None else False,
        timeout=timeout, socket_timeout=1.0)
    rec = Recorder()
    rounds = 5
    start = threading.Barrier(threads + 1)
    keys = [f"k{i}" for i in range(16)]

    def checkout(rng: random.Random) -> ClusterConnection:
        if rng.random() < 0.5:
            return pool.get_connection_by_slot(key_slot(rng.choice(keys)))
        node = rng.choice(fake.primaries())
        return pool.get_connection_by_node({"host": node.host, "port": node.port})

    def worker(wid: int) -> None:
        rng = random.Random(seed * 1000 + wid)
        try:
            start.wait(10)
            for _ in range(rounds):
                begun = time.monotonic()
                try:
                    conn = checkout(rng)
                except PoolTimeoutError:
                    rec.count("pool timeout", time.monotonic() - begun)
                    continue
                except ConnectionError:  # a killed node refuses (or is cooling down)
                    rec.count("connection error", time.monotonic() - begun)
                    continue
                except TopologyError:  # after reset() with the only primary dead
                    rec.count("no layout", time.monotonic() - begun)
                    continue
                rec.got(conn.address, time.monotonic() - begun)
                discard = False
                try:
                    if rng.random() < 0.5:
                        key = rng.choice(keys)
                        conn.execute("SET", key, str(wid))
                    if rng.random() < 0.3:
                        time.sleep(0.001)  # hold it a moment: others must wait or time out
                except ResponseError:  # MOVED after a topology change: the socket is fine
                    pass
                except ConnectionError:  # the node died or dropped us meanwhile
                    discard = True
                rec.returned(conn.address)
                if discard or rng.random() < 0.1:
                    pool.discard(conn)
                else:
                    pool.release(conn)
        except BaseException as exc:  # anything else is a bug; asserted below
            rec.failures.append(exc)

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    start.wait(10)
    rng = random.Random(seed)
    for fault in faults:  # injected while the workers run
        time.sleep(0.001)
        victim = rng.choice(fake.primaries())
        if fault == "drop":
            fake.drop_connections(victim)
        elif fault == "kill":
            fake.kill(victim)
        elif fault == "revive":
            for node in fake.nodes:
                fake.revive(node)
        elif fault == "reset":
            pool.reset()
        else:
            pool.disconnect()
    for w in workers:
        w.join(60)
    assert not any(w.is_alive() for w in workers), "a worker is stuck"
    assert not rec.failures, rec.failures
    for what in rec.outcomes:
        event(what)
    if pool.stats().waits:
        event("some checkout waited")
    assert rec.max_node <= (per_node if per_node is not None else total), rec.max_node
    assert rec.max_total <= total, rec.max_total
    assert rec.max_wait <= timeout + MARGIN, f"waited {rec.max_wait:.3f}s, timeout {timeout}s"
    assert_quiescent(pool, per_node, total)
    pool.close()
    stats = pool.stats()
    assert stats.closed and stats.idle == 0 and stats.in_use == 0
    assert fake.network.streams == [], "sockets left open after close()"


@settings(deadline=None)
@given(waiters=st.integers(1, 64), total=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_close_wakes_every_waiter_at_once_and_leaks_nothing(waiters: int, total: int,
                                                            seed: int) -> None:
    fake = FakeCluster(masters=2, replicas=0)
    pool = ClusterBlockingConnectionPool(startup_nodes=fake.startup_nodes,
                                         transport=fake.network, max_connections=total,
                                         timeout=30)
    held = [pool.get_connection_by_slot(slot) for slot in (0, 16383)[:1] * total]
    outcomes: List[Any] = []
    lock = threading.Lock()
    rng = random.Random(seed)
    slots = [rng.choice((0, 16383)) for _ in range(waiters)]

    def wait(slot: int) -> None:
        begun = time.monotonic()
        try:
            conn = pool.get_connection_by_slot(slot)
        except BaseException as exc:
            with lock:
                outcomes.append((exc, time.monotonic() - begun))
            return
        with lock:
            outcomes.append((conn, time.monotonic() - begun))
        pool.release(conn)

    threads = [threading.Thread(target=wait, args=(s,)) for s in slots]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while pool.stats().waiting < waiters and time.monotonic() < deadline:
        time.sleep(0.001)
    assert pool.stats().waiting == waiters
    closed_at = time.monotonic()
    pool.close()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)
    assert len(outcomes) == waiters
    for outcome, _ in outcomes:
        assert isinstance(outcome, PoolClosedError), outcome
    assert time.monotonic() - closed_at < MARGIN + 1.0  # not the 30 s timeout
    for conn in held:
        pool.release(conn)  # returned after close: closed, not kept
    stats = pool.stats()
    assert stats.in_use == 0 and stats.idle == 0 and stats.waiting == 0
    assert fake.network.streams == []


ROUNDS = 6


@settings(deadline=None)
@given(threads=st.integers(2, 24), total=st.integers(1, 8), seed=st.integers(0, 2**16))
def test_client_threads_on_a_tiny_blocking_pool_never_starve(threads: int, total: int,
                                                             seed: int) -> None:
    """Single-key and split commands (MGET/MSET over the three primaries) from many threads
    on a pool of 1 to 8 connections in all: a caller never waits while holding a connection,
    so with a timeout far above any fair wait nobody times out (a hold-and-wait shows as
    PoolTimeoutError after 1 s); the cap holds, every write is readable and nothing leaks."""
    fake = FakeCluster(masters=3, replicas=1)
    pool = ClusterBlockingConnectionPool(startup_nodes=fake.startup_nodes,
                                         transport=fake.network, max_connections=total,
                                         timeout=1)
    rc = RedisCluster(connection_pool=pool)
    failures: List[BaseException] = []
    written: Dict[str, bytes] = {}
    lock = threading.Lock()

    def work(wid: int) -> None:
        rng = random.Random(seed + wid)
        mine = [f"t{wid}:{n}" for n in range(6)]  # spread over the three primaries
        try:
            for i in range(ROUNDS):
                key = rng.choice(mine)
                value = f"{wid}.{i}".encode()
                if rng.random() < 0.5:
                    assert rc.set(key, value) is True
                    with lock:
                        written[key] = value
                    assert rc.get(key) == value
                else:
                    batch = {k: value for k in rng.sample(mine, 3)}
                    assert rc.mset(batch) is True
                    with lock:
                        written.update(batch)
                    assert rc.mget(list(batch)) == [value] * 3
                rc.incr(f"counter:{rng.randrange(3)}")
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert not failures, failures
    assert sum(int(fake.get(f"counter:{i}") or 0) for i in range(3)) == threads * ROUNDS
    for key, value in written.items():
        assert fake.get(key) == value
    stats = pool.stats()
    assert stats.in_use == 0 and stats.waiting == 0
    assert stats.created - stats.closed_connections == stats.idle <= total
    rc.close()
    assert fake.network.streams == []


# --- regressions ----------------------------------------------------------------------------------
def test_bug_split_command_waits_for_connections_it_holds_itself() -> None:
    """BUG (client.py, RedisCluster._run_on_nodes): a split MGET checks out one connection
    per node and keeps them while it checks out the next. With max_connections=2 and keys on
    three primaries, a single caller on an idle client holds both budget slots and waits for
    a third that only its own release could free: PoolTimeoutError after ``timeout`` (and
    TooManyConnectionsError at once on the non-blocking pool). Across threads the same
    hold-and-wait makes callers starve each other until they all time out."""
    fake = FakeCluster(masters=3, replicas=0)
    keys = ["a", "b", "c"]
    assert len({fake.owner_of(k).address for k in keys}) == 3
    pool = ClusterBlockingConnectionPool(startup_nodes=fake.startup_nodes,
                                         transport=fake.network, max_connections=2,
                                         timeout=0.1)
    rc = RedisCluster(connection_pool=pool)
    rc.set("a", "1")
    assert rc.mget(keys) == [b"1", None, None]
    rc.close()


def test_bug_reset_lets_the_pool_exceed_max_connections() -> None:
    """BUG (cluster_pool.py, ClusterConnectionPool.reset): reset() replaces the cluster-wide
    Budget and every NodePool, so connections checked out before the reset are no longer
    counted: with max_connections=1 and one connection in use, a checkout right after reset()
    opens a second one instead of waiting (and timing out). Both caps (cluster-wide and per
    node) are exceeded until the old connections come back. Found by
    test_blocking_pool_caps_waits_and_counts_under_threads (threads=2, masters=1,
    per_node=None, total=1, faults=['reset'])."""
    fake = FakeCluster(masters=1, replicas=0)
    pool = ClusterBlockingConnectionPool(startup_nodes=fake.startup_nodes,
                                         transport=fake.network, max_connections=1,
                                         timeout=0.05)
    held = pool.get_connection_by_slot(0)
    pool.reset()
    try:
        second = pool.get_connection_by_slot(0)
    except PoolTimeoutError:
        pass  # the cap holds
    else:
        opened = len(fake.network.streams)
        pool.release(second)
        raise AssertionError(f"max_connections=1 but {opened} connections open after reset()")
    finally:
        pool.release(held)
        pool.close()
    assert fake.network.streams == []


@settings(deadline=None, max_examples=max(10, settings.default.max_examples // 4))
@given(threads=st.integers(1, 12), total=st.integers(1, 8), blocking=st.booleans(),
       kill=st.booleans(), delay=st.sampled_from([0.0, 0.002, 0.01]),
       seed=st.integers(0, 2**16))
def test_client_close_while_threads_run_leaks_nothing(threads: int, total: int, blocking: bool,
                                                      kill: bool, delay: float,
                                                      seed: int) -> None:
    """The pool's close() while threads are mid-command (with the real background refresh, and maybe a
    node dying at the same time): every thread ends with results or documented errors --
    PoolClosedError once the fence is up -- and afterwards no connection is in use, none is
    idle, and no socket is left open on the fake network."""
    fake = FakeCluster(masters=3, replicas=1, node_timeout=None)
    rc = RedisCluster(startup_nodes=fake.startup_nodes, transport=fake.network,
                      max_connections=total, socket_timeout=1.0, retry_deadline=0.5,
                      **({"connection_pool": ClusterBlockingConnectionPool(
                          startup_nodes=fake.startup_nodes, transport=fake.network,
                          max_connections=total, timeout=0.5)} if blocking else {}))
    stop = threading.Event()
    unexpected: List[BaseException] = []
    closed_seen = [0]
    lock = threading.Lock()

    def work(wid: int) -> None:
        rng = random.Random(seed + wid)
        while not stop.is_set():
            key = f"c{rng.randrange(20)}"
            try:
                if rng.random() < 0.5:
                    rc.set(key, wid)
                else:
                    rc.mget([key, f"c{rng.randrange(20)}"])
            except PoolClosedError:
                with lock:
                    closed_seen[0] += 1
                return
            except ClusterCoreError:  # documented: the node died, the pool is busy ...
                pass
            except BaseException as exc:  # anything undocumented is a bug
                unexpected.append(exc)
                return

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    time.sleep(delay)
    if kill:
        fake.kill(fake.primaries()[seed % 3])
    rc.connection_pool.close()  # the final fence (rc.close() lets a later command reopen)
    for w in workers:
        w.join(30)
    stop.set()
    assert not any(w.is_alive() for w in workers), "a worker is stuck after close()"
    assert not unexpected, unexpected
    assert closed_seen[0] == threads  # each one ran into the fence
    stats = rc.connection_pool.stats()
    assert stats.closed and stats.in_use == 0 and stats.idle == 0 and stats.waiting == 0
    deadline = time.monotonic() + 5  # a discovery probe may still be closing its socket
    while fake.network.streams and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.network.streams == [], f"{len(fake.network.streams)} sockets left open"
