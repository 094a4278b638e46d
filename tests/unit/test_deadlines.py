"""Issue 14: finite default timeouts, one deadline for the whole call, CLUSTERDOWN by deadline.

The clock every test injects is the fake cluster's clock plus the time the fake network spent
"waiting out" socket timeouts (``FakeNetwork.waited``): a read that times out after 1 s moves
this clock by 1 s, as it would move a real one, so the deadline arithmetic is exercised without
any real waiting.
"""

from __future__ import annotations

import random
from typing import Any, Callable, List, Tuple

import pytest

from clustercore import ClusterConnectionPool, RedisCluster, key_slot
from clustercore._execution.retry import RetryPolicy
from clustercore._execution.router import LAST_TRY
from clustercore._net.connection import DEFAULT_SOCKET_TIMEOUT, ClusterConnection
from clustercore.errors import (
    ClusterDownError,
    OutcomeUnknownError,
    RedisClusterConfigError,
    TimeoutError,
)
from clustercore.testing import FakeCluster


def _client(fake: FakeCluster, after_sleep: Callable[[], None] = lambda: None, **kwargs: Any,
            ) -> Tuple[RedisCluster, List[float], Callable[[], float]]:
    """A client whose clock counts the fake's time and the socket waits; sleeps advance it
    (then call ``after_sleep``)."""
    sleeps: List[float] = []

    def clock() -> float:
        return fake.clock() + fake.network.waited

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        fake.clock.advance(seconds)
        after_sleep()

    kwargs.setdefault("refresh_min_interval", 0)
    rc = RedisCluster(startup_nodes=fake.startup_nodes, transport=fake.network, clock=clock,
                      background_refresh=False, sleep=sleep, **kwargs)
    return rc, sleeps, clock


def test_the_default_socket_timeout_is_finite_everywhere() -> None:
    fake = FakeCluster()
    assert DEFAULT_SOCKET_TIMEOUT == 3.0
    assert ClusterConnection().socket_timeout == DEFAULT_SOCKET_TIMEOUT
    assert ClusterConnection().socket_connect_timeout == DEFAULT_SOCKET_TIMEOUT
    pool = ClusterConnectionPool(startup_nodes=fake.startup_nodes, transport=fake.network)
    assert pool.connection_kwargs["socket_timeout"] == DEFAULT_SOCKET_TIMEOUT
    conn = pool.get_connection_by_slot(0)
    try:
        assert conn.socket_timeout == DEFAULT_SOCKET_TIMEOUT
    finally:
        pool.release(conn)
        pool.close()
    rc = RedisCluster(startup_nodes=fake.startup_nodes, transport=fake.network)
    assert rc.connection_pool.connection_kwargs["socket_timeout"] == DEFAULT_SOCKET_TIMEOUT
    assert rc.retry.deadline == 5.0 and rc.retry.cluster_down_attempts is None
    rc.close()
    # None is still accepted: redis-py's "no socket timeout" (the call keeps its deadline)
    assert ClusterConnection(socket_timeout=None).socket_timeout is None


def test_without_a_socket_timeout_the_deadline_still_bounds_the_read() -> None:
    """socket_timeout=None used to mean a frozen node held the caller until it woke."""
    fake = FakeCluster(node_timeout=None)  # no failover: the node just stops answering
    rc, _sleeps, clock = _client(fake, socket_timeout=None, socket_connect_timeout=1.0,
                                 retry_deadline=2.0)
    rc.set("k", "v")
    fake.freeze(fake.owner_of(key_slot("k")))
    start = clock()
    with pytest.raises(TimeoutError):
        rc.get("k")
    assert clock() - start <= 2.0 + 1e-9  # the whole call, reads included
    assert fake.network.waited == pytest.approx(2.0)  # one read, bounded by the deadline
    assert rc.connection_pool.stats().in_use == 0


def test_retries_wait_only_what_is_left_of_the_deadline() -> None:
    fake = FakeCluster(node_timeout=None)
    rc, sleeps, clock = _client(fake, socket_timeout=1.0, retry_deadline=2.5,
                                failure_cooldown=0.01, rng=random.Random(7))
    rc.set("k", "v")
    fake.freeze(fake.owner_of(key_slot("k")))
    start = clock()
    with pytest.raises(TimeoutError):
        rc.get("k")
    # the first read waits its socket_timeout (1 s); the retries to the node that already
    # failed this call wait at most half of what is left each time, so the call ends just
    # before the deadline (never after it) having tried several times
    assert len(sleeps) >= 3, "the idempotent GET was retried"
    elapsed = clock() - start
    assert 2.5 - 2 * LAST_TRY <= elapsed <= 2.5
    assert fake.network.waited == pytest.approx(elapsed - sum(sleeps))


def test_a_write_whose_reply_timed_out_is_outcome_unknown_not_resent() -> None:
    fake = FakeCluster(node_timeout=None)
    rc, sleeps, _clock = _client(fake, socket_timeout=1.0)
    owner = fake.owner_of(key_slot("k"))
    rc.set("k", "v")
    fake.freeze(owner)
    with pytest.raises(OutcomeUnknownError) as caught:
        rc.incr("k")
    assert isinstance(caught.value.__cause__, TimeoutError)
    assert sleeps == []  # not retried
    assert fake.network.waited == pytest.approx(1.0)


def test_a_timeout_marks_the_node_so_the_next_caller_does_not_wait_again() -> None:
    """Suspect after the first timeout: the next command to the node fails over (here: backs
    off until the deadline) instead of paying another full socket timeout."""
    fake = FakeCluster(node_timeout=None)
    rc, _sleeps, _clock = _client(fake, socket_timeout=1.0, retry_deadline=1.5,
                                  failure_cooldown=10.0, retry_on_timeout=False)
    rc.set("k", "v")
    owner = fake.owner_of(key_slot("k"))
    fake.freeze(owner)
    with pytest.raises(TimeoutError):
        rc.get("k")
    waited = fake.network.waited
    assert waited == pytest.approx(1.0)  # the first caller paid one timeout
    with pytest.raises(Exception) as second:
        rc.get("k")
    assert "failing" in str(second.value)  # refused fast: the node is suspect
    assert fake.network.waited == waited  # the second caller waited on no socket


def test_clusterdown_is_retried_until_the_deadline_not_three_times() -> None:
    """A failover's CLUSTERDOWN window outlasted 3 quick retries (issue 14): the deadline,
    not the count, bounds them now."""
    fake = FakeCluster()
    downs = {"left": 8}  # CLUSTERDOWN for the next 8 attempts, then the cluster is back

    def back_after_eight() -> None:
        downs["left"] -= 1
        if downs["left"] == 0:
            fake.set_cluster_down(False)

    rc, sleeps, _clock = _client(fake, after_sleep=back_after_eight, retry_deadline=5.0)
    rc.set("k", "v")
    fake.set_cluster_down(True)
    assert rc.get("k") == b"v"
    assert len(sleeps) == 8 and sum(sleeps) < 5.0


def test_clusterdown_gives_up_at_the_deadline() -> None:
    fake = FakeCluster()
    rc, sleeps, clock = _client(fake, retry_deadline=2.0)
    rc.set("k", "v")
    fake.set_cluster_down(True)
    start = clock()
    with pytest.raises(ClusterDownError):
        rc.get("k")
    assert len(sleeps) > 3  # more than the old fixed count
    assert clock() - start <= 2.0 + 1e-9


def test_an_explicit_clusterdown_count_is_a_second_cap() -> None:
    fake = FakeCluster()
    rc, sleeps, _clock = _client(fake, retry_deadline=60.0, cluster_down_retry_attempts=2)
    fake.set_cluster_down(True)
    with pytest.raises(ClusterDownError):
        rc.get("k")
    assert len(sleeps) == 2
    assert RetryPolicy(cluster_down_attempts=2).cluster_down_attempts == 2


def test_a_deadline_of_zero_keeps_the_first_attempts_socket_timeout() -> None:
    fake = FakeCluster(node_timeout=None)
    rc, sleeps, _clock = _client(fake, socket_timeout=1.0, retry_deadline=0)
    rc.set("k", "v")
    assert rc.get("k") == b"v"
    fake.freeze(fake.owner_of(key_slot("k")))
    with pytest.raises(TimeoutError):
        rc.get("k")
    assert sleeps == [] and fake.network.waited == pytest.approx(1.0)


def test_retry_deadline_none_is_refused_naming_it() -> None:
    fake = FakeCluster()
    with pytest.raises(RedisClusterConfigError, match=r"retry_deadline.*None"):
        RedisCluster(startup_nodes=fake.startup_nodes, transport=fake.network,
                     retry_deadline=None)  # type: ignore[arg-type]


def test_the_last_pause_is_cut_to_the_deadline_and_that_try_is_the_last() -> None:
    """A failover that completes in the deadline's final half second still gets a retry (the
    fault suite saw NodeFailingError reach callers at 4.6 s of a 5 s deadline, the promotion
    at 4.4 s, because a 0.5 s pause would have crossed the deadline)."""
    from clustercore._execution.retry import Backoff
    from clustercore._execution.router import LAST_TRY, Action, Attempt, next_step
    from clustercore.errors import NodeFailingError

    policy = RetryPolicy(deadline=5.0, backoff=Backoff(base=0.5, cap=0.5))
    attempt = Attempt(started=100.0)
    rng = random.Random(1)
    step = next_step(NodeFailingError("cooling down"), attempt, idempotent=True, policy=policy,
                     now=104.7, rng=rng)
    assert step.action is Action.RETRY
    assert step.delay == pytest.approx(0.3 - LAST_TRY)  # cut: ends LAST_TRY before 105.0
    assert attempt.final
    after = next_step(NodeFailingError("cooling down"), attempt, idempotent=True,
                      policy=policy, now=104.96, rng=rng)
    assert after.action is Action.RAISE  # that was the last try
    fresh = Attempt(started=100.0)
    late = next_step(NodeFailingError("x"), fresh, idempotent=True, policy=policy,
                     now=104.99, rng=rng)
    assert late.action is Action.RAISE  # less than LAST_TRY left: no try at all


def _get_alone(rc: RedisCluster) -> Any:
    return rc.get("k")


def _get_in_a_pipeline(rc: RedisCluster) -> Any:
    with rc.pipeline(transaction=False) as pipe:
        return pipe.get("k").execute()[0]


@pytest.mark.parametrize("call", [_get_alone, _get_in_a_pipeline])
def test_a_promotion_after_the_last_rate_limited_refresh_is_seen_by_the_last_try(
        call: Callable[[RedisCluster], Any]) -> None:
    """The fault suite's master_kill miss: the promotion came at 4.75 s of a 5 s deadline, the
    rate limit (0.5 s) put the next refresh after the deadline, and the calls raised
    NodeFailingError. Before its last try a call (or a pipeline's retry round) now refreshes
    past the rate limit."""
    fake = FakeCluster(node_timeout=None)  # the test decides when the promotion happens
    promoted: List[Any] = []
    clock_of: List[Callable[[], float]] = []
    start: List[float] = []
    owner = fake.owner_of(key_slot("k"))

    def promote_late() -> None:  # after a pause: promote once the call is 1.6 s old
        if start and not promoted and clock_of[0]() >= start[0] + 1.6:
            promoted.append(fake.auto_failover(owner))

    rc, _sleeps, clock = _client(fake, after_sleep=promote_late, retry_deadline=2.0,
                                refresh_min_interval=10.0, failure_cooldown=10.0,
                                rng=random.Random(3))
    clock_of.append(clock)
    rc.set("k", "v")
    fake.clock.advance(11.0)  # past the rate limit of the first layout: the kill refreshes
    fake.kill(owner)
    start.append(clock())
    assert call(rc) == b"v"  # served by the new primary on the last try
    assert promoted, "the promotion happened during the call"
    assert clock() - start[0] <= 2.0
    triggers = rc.connection_pool.stats().refresh_triggers
    # one refresh at the kill (the rate limit then held every other request back), and the
    # catch-up refresh before the last try: no refresh storm
    assert sum(triggers.values()) - triggers.get("initialize", 0) - triggers.get(
        "first use", 0) == 2, triggers
    rc.close()


def test_the_catch_up_refresh_is_skipped_when_the_layout_is_fresh() -> None:
    fake = FakeCluster(masters=1, replicas=0)
    pool = ClusterConnectionPool(startup_nodes=fake.startup_nodes, transport=fake.network,
                                 clock=fake.clock, background_refresh=False,
                                 refresh_min_interval=10.0)
    try:
        pool.initialize()
        before = pool.stats().refreshes
        assert pool.catch_up("node failing", None, max_age=0.05, timeout=1.0)
        assert pool.stats().refreshes == before  # refreshed 0 s ago: fresh enough
        fake.clock.advance(0.06)
        assert pool.request_refresh("node failing") is False  # the rate limit holds it back
        assert pool.catch_up("node failing", None, max_age=0.05, timeout=1.0)
        assert pool.stats().refreshes == before + 1  # the catch-up does not wait for it
    finally:
        pool.close()
    assert pool.catch_up("node failing", None, max_age=0.05, timeout=1.0) is False


def test_a_reconnect_during_a_retry_is_bounded_by_what_is_left_of_the_deadline() -> None:
    """socket_connect_timeout (3 s) is longer than the call's deadline (2 s): the retry's
    reconnect -- TCP and the handshake (CLIENT SETNAME here) to a node that stopped answering
    -- is cut at the deadline, raises DeadlineExceededError and does not mark the node failing
    (the cut is the caller's, not the node's)."""
    from clustercore.errors import DeadlineExceededError

    fake = FakeCluster(node_timeout=None)
    rc, _sleeps, clock = _client(fake, socket_timeout=1.0, socket_connect_timeout=3.0,
                                 retry_deadline=2.0, failure_cooldown=0.001,
                                 client_name="app", rng=random.Random(5))
    rc.set("k", "v")
    owner = fake.owner_of(key_slot("k"))
    fake.freeze(owner)
    start = clock()
    with pytest.raises(TimeoutError) as caught:
        rc.get("k")
    elapsed = clock() - start
    assert elapsed <= 2.0 + 1e-6, elapsed  # not 1 s + 3 s of handshake
    assert isinstance(caught.value, DeadlineExceededError), repr(caught.value)
    assert rc.connection_pool.stats().in_use == 0
    rc.close()


def test_a_dial_cut_by_the_callers_deadline_does_not_mark_the_node_failing() -> None:
    import time

    from clustercore._net.connection import DIAL_LIMIT
    from clustercore.errors import DeadlineExceededError

    fake = FakeCluster(masters=1, replicas=0)
    pool = ClusterConnectionPool(startup_nodes=fake.startup_nodes, transport=fake.network,
                                 failure_cooldown=60.0)
    address = fake.nodes[0].address
    try:
        pool.initialize()
        DIAL_LIMIT.at = time.monotonic() - 1.0  # this thread's call has no time left
        try:
            with pytest.raises(DeadlineExceededError, match="deadline"):
                pool.get_connection_by_address(address)
        finally:
            DIAL_LIMIT.at = None
        conn = pool.get_connection_by_address(address)  # not NodeFailingError: no mark
        pool.release(conn)
        assert pool.stats().in_use == 0
    finally:
        pool.close()
