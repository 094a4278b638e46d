"""Lock on FakeCluster: acquire, waiting, deadlines, tokens and thread-local storage.

FakeCluster runs no Lua, so release/extend/reacquire are covered here only where they refuse
before any script runs; tests/integration/test_lock_real.py runs them on a real cluster. Time
is the fake's clock: the client's sleep advances it, so waits take no real time.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Callable, List

import pytest

from clustercore import RedisCluster, key_slot
from clustercore._execution.lock import DEFAULT_BLOCKING_TIMEOUT, Lock
from clustercore.errors import ConnectionError, LockError, LockNotOwnedError, OutcomeUnknownError
from clustercore.testing import FakeCluster
from tests.unit.fakeclient import make_client


def sets_seen(fake: FakeCluster, name: str) -> int:
    """How many SET commands for ``name`` reached its primary."""
    node = fake.owner_of(key_slot(name))
    return sum(1 for c in fake.commands_seen(node) if c[:2] == [b"SET", name.encode()])


def test_acquire_sets_the_token_with_nx_and_px() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    lock = Lock(rc, "job", timeout=2.5)
    assert lock.acquire() is True
    assert fake.get("job") == lock.local.token
    assert fake.ttl("job") == pytest.approx(2.5)
    assert lock.locked() and lock.owned()
    other = Lock(rc, "job")
    assert other.locked() and not other.owned()


def test_rc_lock_builds_a_lock_or_the_given_class() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    lock = rc.lock("job", timeout=3, sleep=0.5, blocking=False, blocking_timeout=7,
                   thread_local=False, raise_on_release_error=False)
    assert type(lock) is Lock and lock.redis is rc and lock.name == "job"
    assert (lock.timeout, lock.sleep, lock.blocking, lock.blocking_timeout, lock.thread_local,
            lock.raise_on_release_error) == (3, 0.5, False, 7, False, False)

    class Mine(Lock):
        """A user's subclass."""

    assert type(rc.lock("job", lock_class=Mine)) is Mine


def test_non_blocking_acquire_of_a_held_lock_returns_false_at_once() -> None:
    fake = FakeCluster()
    rc, sleeps = make_client(fake)
    assert Lock(rc, "job").acquire()
    assert Lock(rc, "job", blocking=False).acquire() is False
    assert Lock(rc, "job").acquire(blocking=False) is False
    assert sleeps == []


def test_blocking_acquire_sleeps_between_tries_until_blocking_timeout() -> None:
    fake = FakeCluster()
    rc, sleeps = make_client(fake)
    assert Lock(rc, "job").acquire()
    before = sets_seen(fake, "job")
    t0 = fake.clock()
    assert Lock(rc, "job", sleep=0.25, blocking_timeout=1.1).acquire() is False
    assert fake.clock() - t0 == pytest.approx(1.1)
    assert sleeps == pytest.approx([0.25, 0.25, 0.25, 0.25, 0.1])  # the last try at the deadline
    assert sets_seen(fake, "job") - before == len(sleeps) + 1  # one try per pause: no spin


def test_blocking_acquire_gets_the_lock_when_the_holder_expires() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    assert Lock(rc, "job", timeout=3).acquire()
    t0 = fake.clock()
    waiter = Lock(rc, "job", timeout=3)
    assert waiter.acquire(sleep=0.5) is True
    assert 3 <= fake.clock() - t0 <= 3.5
    assert waiter.owned()


def test_default_wait_is_finite_for_a_lock_without_timeout() -> None:
    fake = FakeCluster()
    rc, sleeps = make_client(fake)
    assert Lock(rc, "forever").acquire()  # a holder that will never release (crashed)
    t0 = fake.clock()
    assert Lock(rc, "forever", sleep=1).acquire() is False
    assert fake.clock() - t0 == pytest.approx(DEFAULT_BLOCKING_TIMEOUT)
    assert all(s > 0 for s in sleeps)


def test_default_wait_outlasts_one_whole_hold_of_a_timed_lock() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    holder = Lock(rc, "long", timeout=100)
    assert holder.acquire()
    t0 = fake.clock()
    assert Lock(rc, "long", timeout=100, sleep=5).acquire() is True  # after the holder's 100 s
    assert 100 <= fake.clock() - t0 <= 105
    assert DEFAULT_BLOCKING_TIMEOUT < 100  # so the plain default alone would have given up


def make_client_with_sleep(fake: FakeCluster, hook: Callable[[float], None]) -> RedisCluster:
    """A client on the fake's clock whose every sleep advances it and then calls ``hook``."""

    def sleep(seconds: float) -> None:
        fake.clock.advance(seconds)
        hook(fake.clock())

    return RedisCluster(startup_nodes=fake.startup_nodes, transport=fake.network,
                        clock=fake.clock, background_refresh=False, refresh_min_interval=0,
                        socket_timeout=1.0, sleep=sleep)


def test_infinite_blocking_timeout_waits_past_the_default() -> None:
    fake = FakeCluster()
    t0 = fake.clock()
    release_at = t0 + 3 * DEFAULT_BLOCKING_TIMEOUT

    def hook(now: float) -> None:
        if now >= release_at:
            fake.flushall()  # the holder finally lets go

    rc = make_client_with_sleep(fake, hook)
    assert Lock(rc, "forever").acquire()
    assert Lock(rc, "forever", sleep=10, blocking_timeout=math.inf).acquire() is True
    assert fake.clock() >= release_at


def test_a_lost_set_reply_that_took_the_lock_is_recognised() -> None:
    """The SET NX applied, its reply was lost, the re-sent SET NX answered nil: still ours."""
    fake = FakeCluster()
    rc, _ = make_client(fake)
    lock = Lock(rc, "job", timeout=10, blocking=False)
    assert not lock.locked()  # opens the connection the fault cuts
    fake.cut_next_reply(fake.owner_of(key_slot("job")), 0)
    assert lock.acquire() is True
    assert sets_seen(fake, "job") == 2  # sent, then re-sent by the client
    assert lock.owned() and fake.get("job") == lock.local.token


def test_an_acquire_whose_outcome_is_unknown_is_claimed_by_the_next_acquire() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake, retry_deadline=0)  # no retry: the lost reply is raised
    lock = Lock(rc, "job")
    assert not lock.locked()
    fake.cut_next_reply(fake.owner_of(key_slot("job")), 0)
    with pytest.raises(ConnectionError):
        lock.acquire()
    assert lock.local.token is None and fake.get("job") is not None  # applied, unknown to us
    assert lock.acquire(blocking=False) is True  # the same token again: the lock is ours
    assert lock.owned()
    assert lock.local.pending is None


def test_an_explicit_token_is_stored_encoded() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    lock = Lock(rc, "job")
    assert lock.acquire(token="tök")
    assert fake.get("job") == "tök".encode() == lock.local.token
    assert lock.owned()
    assert Lock(rc, "other").acquire(token=42) and fake.get("other") == b"42"
    with pytest.raises(TypeError, match="token"):
        Lock(rc, "third").acquire(token=["no"])  # type: ignore[arg-type]


def test_owned_works_with_decoded_replies() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake, decode_responses=True)
    lock = Lock(rc, "job")
    assert lock.acquire(token="abc")
    assert lock.owned() and lock.locked()


def test_lock_state_is_read_from_the_primary_even_with_replica_reads() -> None:
    fake = FakeCluster(masters=1, replicas=1)
    rc, _ = make_client(fake, read_from_replicas=True)
    lock = Lock(rc, "job")
    assert lock.acquire()
    primary = fake.owner_of(key_slot("job"))
    replica = fake.replicas()[0]
    fake.clear_commands_seen()
    assert lock.owned() and lock.locked()
    assert [c[0] for c in fake.commands_seen(primary)].count(b"GET") == 2
    assert b"GET" not in [c[0] for c in fake.commands_seen(replica)]


def test_tokens_are_thread_local_by_default() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    lock = Lock(rc, "job")
    shared = Lock(rc, "shared", thread_local=False)
    assert lock.acquire() and shared.acquire()
    seen: List[Any] = []

    def other_thread() -> None:
        seen.append((lock.local.token, lock.owned(), shared.owned()))
        try:
            lock.release()
        except LockError as exc:
            seen.append(str(exc))

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join(timeout=10)
    assert seen == [(None, False, True),
                    "Cannot release a lock that's not owned or is already unlocked."]
    assert lock.owned()  # still held by this thread


def test_with_raises_lock_error_when_it_cannot_acquire() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    assert Lock(rc, "job").acquire()
    refused = pytest.raises(LockError, match="Unable to acquire lock within the time specified")
    with refused as info, Lock(rc, "job", blocking_timeout=0.3):
        pytest.fail("entered a held lock")
    assert info.value.lock_name == "job"


def test_release_error_on_exit_can_be_suppressed() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    quiet = Lock(rc, "q", raise_on_release_error=False)
    with quiet:
        quiet.local.token = None  # as if released elsewhere: __exit__'s release refuses
    loud = Lock(rc, "l")
    with pytest.raises(LockError, match="not owned"), loud:
        loud.local.token = None


def test_release_extend_reacquire_refuse_without_a_token_or_timeout() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    timed = Lock(rc, "t", timeout=5)
    with pytest.raises(LockError, match="Cannot release a lock that's not owned"):
        timed.release()
    with pytest.raises(LockError, match="Cannot extend an unlocked lock"):
        timed.extend(1)
    with pytest.raises(LockError, match="Cannot reacquire an unlocked lock"):
        timed.reacquire()
    untimed = Lock(rc, "u")
    assert untimed.acquire()
    with pytest.raises(LockError, match="Cannot extend a lock with no timeout"):
        untimed.extend(1)
    with pytest.raises(LockError, match="Cannot reacquire a lock with no timeout"):
        untimed.reacquire()


@pytest.mark.parametrize("kwargs, error, text", [
    ({"timeout": 0}, ValueError, "timeout must be > 0 seconds, got 0"),
    ({"timeout": -1}, ValueError, "-1"),
    ({"timeout": 0.0001}, ValueError, "at least 0.001"),
    ({"timeout": float("nan")}, ValueError, "nan"),
    ({"timeout": float("inf")}, ValueError, "inf"),
    ({"timeout": "5"}, TypeError, "'5'"),
    ({"sleep": 0}, ValueError, "sleep must be > 0"),
    ({"sleep": None}, TypeError, "sleep"),
    ({"blocking_timeout": -0.5}, ValueError, "blocking_timeout must be >= 0 seconds, got -0.5"),
    ({"blocking_timeout": True}, TypeError, "blocking_timeout"),
])
def test_bad_arguments_are_refused_naming_the_value(kwargs: Any, error: type, text: str) -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    with pytest.raises(error, match=text.replace("(", r"\(")):
        Lock(rc, "x", **kwargs)


def test_bad_acquire_and_extend_arguments_are_refused() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    lock = Lock(rc, "x", timeout=5)
    with pytest.raises(ValueError, match="sleep"):
        lock.acquire(sleep=-1)
    with pytest.raises(ValueError, match="blocking_timeout"):
        lock.acquire(blocking_timeout=float("nan"))
    assert lock.acquire()
    with pytest.raises(TypeError, match="additional_time"):
        lock.extend("1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="additional_time"):
        lock.extend(0, replace_ttl=True)


class ScriptedLock(Lock):
    """A Lock whose release script is a Python stand-in (FakeCluster runs no Lua): each call
    pops the next behaviour from ``plan``."""

    plan: List[Callable[[RedisCluster, Any, bytes], Any]]

    def register_scripts(self) -> None:
        self.plan = []

        def release(keys: List[Any], args: List[Any], client: RedisCluster) -> Any:
            return self.plan.pop(0)(client, keys[0], args[0])

        self.lua_release = release  # type: ignore[assignment]


def lost_before_running(client: RedisCluster, name: Any, token: bytes) -> Any:
    """The request was written but never ran (the node died first)."""
    raise OutcomeUnknownError("reply lost", command="EVALSHA")


def deleted_then_lost(client: RedisCluster, name: Any, token: bytes) -> Any:
    """The compare-and-delete ran, then its reply was lost."""
    client.delete(name)
    return lost_before_running(client, name, token)


def compare_and_delete(client: RedisCluster, name: Any, token: bytes) -> Any:
    """The script's effect, in Python."""
    if client.get(name) == token:
        return client.delete(name)
    return 0


@pytest.mark.parametrize("plan, raises", [
    # ran, reply lost: the key no longer holds our token, so the lost call released it
    ([deleted_then_lost], False),
    # lost before it ran: our token is still there, so it is run once more
    ([lost_before_running, compare_and_delete], False),
    # lost twice: still unknown, said so
    ([lost_before_running, lost_before_running], True),
])
def test_a_release_whose_reply_was_lost(plan: List[Any], raises: bool) -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    lock = ScriptedLock(rc, "job")
    assert lock.acquire()
    lock.plan = list(plan)
    if raises:
        with pytest.raises(OutcomeUnknownError):
            lock.release()
        assert fake.get("job") is not None
    else:
        lock.release()
        assert fake.get("job") is None
    assert lock.plan == []


def test_release_of_a_lock_taken_by_another_raises_lock_not_owned() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    lock = ScriptedLock(rc, "job", timeout=1)
    assert lock.acquire()
    fake.clock.advance(2)  # expired ...
    assert Lock(rc, "job").acquire(blocking=False)  # ... and taken
    lock.plan = [compare_and_delete]
    with pytest.raises(LockNotOwnedError, match="Cannot release a lock that's no longer owned"):
        lock.release()
    assert lock.local.token is None and fake.get("job") is not None
