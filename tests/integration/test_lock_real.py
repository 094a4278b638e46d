"""Lock on real Redis Clusters: the Lua side (release, extend, reacquire), expiry and theft,
mutual exclusion under threads, and a held lock across a graceful CLUSTER FAILOVER and across
the crash of its primary (see the failover section of clustercore/_execution/lock.py).

Waits are polls with a deadline; the only passing of real time is a lock's own expiry.
"""

from __future__ import annotations

import threading
from typing import Callable, Iterator, List

import pytest

from clustercore import RedisCluster, key_slot
from clustercore._execution.lock import Lock
from clustercore.errors import LockError, LockNotOwnedError
from clustercore.testing import LocalCluster
from tests.integration.test_client_real import wait_for


@pytest.fixture
def rc(cluster: LocalCluster) -> Iterator[RedisCluster]:
    client = RedisCluster(startup_nodes=cluster.startup_nodes, socket_timeout=5)
    yield client
    client.close()


def test_acquire_extend_reacquire_release(rc: RedisCluster) -> None:
    rc.delete("lk:basic")
    lock = rc.lock("lk:basic", timeout=10)
    assert type(lock) is Lock
    assert not lock.locked() and not lock.owned()
    assert lock.acquire(blocking=False)
    assert lock.locked() and lock.owned()
    assert 9000 < rc.pttl("lk:basic") <= 10000
    assert lock.extend(20) is True  # added to the remaining time
    assert 29000 < rc.pttl("lk:basic") <= 30000
    assert lock.extend(5, replace_ttl=True) is True
    assert 4000 < rc.pttl("lk:basic") <= 5000
    assert lock.reacquire() is True
    assert 9000 < rc.pttl("lk:basic") <= 10000
    assert not rc.lock("lk:basic").acquire(blocking=False)
    lock.release()
    assert not lock.locked() and rc.get("lk:basic") is None
    with pytest.raises(LockError, match="not owned or is already unlocked"):
        lock.release()


def test_with_block_and_release_of_a_lock_without_timeout(rc: RedisCluster) -> None:
    rc.delete("lk:with")
    with rc.lock("lk:with") as lock:
        assert lock.owned() and rc.pttl("lk:with") == -1  # no expiry
        with pytest.raises(LockError, match="Unable to acquire"), rc.lock("lk:with",
                                                                       blocking=False):
            pytest.fail("a second holder entered")
    assert not lock.locked()


def test_release_extend_reacquire_after_expiry_raise_lock_not_owned(rc: RedisCluster) -> None:
    rc.delete("lk:expire")
    first = rc.lock("lk:expire", timeout=0.2)
    assert first.acquire()
    wait_for(lambda: not first.locked(), 5, "the lock to expire")
    assert not first.owned()
    with pytest.raises(LockNotOwnedError, match="Cannot extend a lock that's no longer owned"):
        first.extend(1)
    second = rc.lock("lk:expire", timeout=10)
    assert second.acquire(blocking=False)  # taken by another owner
    with pytest.raises(LockNotOwnedError, match="Cannot reacquire a lock that's no longer owned"):
        first.reacquire()
    with pytest.raises(LockNotOwnedError, match="Cannot release a lock that's no longer owned"):
        first.release()
    assert second.owned()  # the stale owner touched nothing
    second.release()


def test_raise_on_release_error_false_swallows_a_lost_lock(rc: RedisCluster) -> None:
    rc.delete("lk:quiet")
    with rc.lock("lk:quiet", timeout=10, raise_on_release_error=False):
        rc.delete("lk:quiet")  # lost (expired, or deleted by an operator)
    with pytest.raises(LockNotOwnedError), rc.lock("lk:quiet", timeout=10):
        rc.delete("lk:quiet")


def test_scripts_are_reloaded_after_script_flush(rc: RedisCluster) -> None:
    rc.delete("lk:flush")
    lock = rc.lock("lk:flush", timeout=10)
    assert lock.acquire() and lock.extend(1)
    rc.script_flush()  # every node forgets the scripts: NOSCRIPT, load on that node, run again
    assert lock.extend(1)
    lock.release()
    assert not lock.locked()


def test_threads_incrementing_under_the_lock_lose_no_update(rc: RedisCluster) -> None:
    """N threads read-modify-write one counter (GET, then SET) under one shared Lock object;
    a Python-side occupancy count checks that no two are ever inside at once."""
    rc.delete("lk:counter", "lk:threads")
    lock = rc.lock("lk:threads", timeout=10, sleep=0.005, blocking_timeout=60)
    threads_n, rounds = 6, 15
    inside: List[int] = [0]
    overlaps: List[int] = []
    errors: List[BaseException] = []
    guard = threading.Lock()
    start = threading.Barrier(threads_n)

    def work() -> None:
        try:
            start.wait(timeout=10)
            for _ in range(rounds):
                with lock:
                    with guard:
                        inside[0] += 1
                        if inside[0] != 1:
                            overlaps.append(inside[0])
                    value = int(rc.get("lk:counter") or 0)
                    rc.set("lk:counter", value + 1)
                    with guard:
                        inside[0] -= 1
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert overlaps == []
    assert int(rc.get("lk:counter")) == threads_n * rounds
    assert not lock.locked()


def _held_lock_survives(lc: LocalCluster, rc: RedisCluster, name: str,
                        fail: Callable[[], None]) -> None:
    """Acquire ``name``, run ``fail`` (a failover), then check the lock is still held, still
    exclusive, and that extend and release work on the new primary."""
    lock = rc.lock(name, timeout=60)
    assert lock.acquire(blocking=False)
    primary = lc.slot_owner(key_slot(name))
    replica = lc.replicas_of(primary)[0]
    written = int(lc.info(primary, "replication")["master_repl_offset"])
    wait_for(lambda: int(lc.info(replica, "replication")["slave_repl_offset"]) >= written, 10,
             "the replica to have the lock")
    fail()
    wait_for(lambda: lc.slot_owner(key_slot(name)).port == replica.port, 30,
             "the replica to own the slot")
    assert lock.owned()  # followed MOVED to the new primary: the key and token survived
    assert not rc.lock(name, blocking=False).acquire()  # still exclusive
    before = rc.pttl(name)
    assert 0 < before <= 60_000  # the expiry survived too
    assert lock.extend(5)  # a script on the new primary (loaded there on NOSCRIPT if needed)
    assert 4_000 < rc.pttl(name) - before <= 5_000
    lock.release()
    assert not lock.locked()


def test_a_held_lock_survives_a_graceful_cluster_failover(
        make_cluster: Callable[..., LocalCluster]) -> None:
    lc = make_cluster(2, 1, node_timeout_ms=1000)
    rc = RedisCluster(startup_nodes=lc.startup_nodes, socket_timeout=2, retry_deadline=8)
    try:
        name = "lk:failover"
        replica = lc.replicas_of(lc.slot_owner(key_slot(name)))[0]
        _held_lock_survives(lc, rc, name, lambda: lc.failover(replica))
    finally:
        rc.close()


def test_a_replicated_lock_survives_the_crash_of_its_primary(
        make_cluster: Callable[..., LocalCluster]) -> None:
    """Once the replica has the key, a crash failover keeps the lock. (A SET the replica had
    not received yet would be lost with the primary: the lock would be free; see lock.py.)"""
    lc = make_cluster(3, 1, node_timeout_ms=1000)
    rc = RedisCluster(startup_nodes=lc.startup_nodes, socket_timeout=2, retry_deadline=10)
    try:
        name = "lk:crash"
        primary = lc.slot_owner(key_slot(name))

        def crash() -> None:
            lc.kill(primary)
            lc.wait_failover_after_kill(primary, timeout=30)

        _held_lock_survives(lc, rc, name, crash)
    finally:
        rc.close()
