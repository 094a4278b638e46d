"""The execute loop's pure decisions: redirects, budgets, backoff, the idempotency rule."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clustercore import Backoff, NodeAddress, RetryPolicy
from clustercore._execution.router import (
    Action,
    Attempt,
    may_resend,
    next_step,
    outcome_unknown,
)
from clustercore.errors import (
    AuthenticationError,
    BusyLoadingError,
    ClusterDownError,
    ConnectionError,
    MasterDownError,
    NodeFailingError,
    OutcomeUnknownError,
    PoolTimeoutError,
    ProtocolError,
    RedirectBudgetExceededError,
    ResponseError,
    TimeoutError,
    WrongTypeError,
)

NODE = NodeAddress("127.0.0.1", 30001)
POLICY = RetryPolicy()


def reply(text: str) -> ResponseError:
    err = ResponseError(text)
    err.node = NODE
    return err


def sent(exc: ConnectionError | TimeoutError) -> ConnectionError | TimeoutError:
    exc.request_sent = True
    exc.node = NODE
    return exc


def test_moved_and_ask_follow_targets_including_empty_host() -> None:
    attempt = Attempt()
    step = next_step(reply("MOVED 5 127.0.0.1:30002"), attempt, idempotent=False, policy=POLICY,
                     now=0)
    assert step.action is Action.MOVED and step.target == NodeAddress("127.0.0.1", 30002)
    step = next_step(reply("ASK 5 :30003"), attempt, idempotent=False, policy=POLICY, now=0)
    assert step.action is Action.ASK and step.target == NodeAddress("127.0.0.1", 30003)
    assert attempt.redirects == 2 and attempt.started is None  # redirects are not failures


def test_redirect_budget() -> None:
    attempt = Attempt()
    policy = RetryPolicy(max_redirects=3)
    for _ in range(3):
        assert next_step(reply("MOVED 1 h:1"), attempt, idempotent=True, policy=policy,
                         now=0).action is Action.MOVED
    step = next_step(reply("MOVED 1 h:1"), attempt, idempotent=True, policy=policy, now=0,
                     command="GET")
    assert step.action is Action.RAISE and isinstance(step.error, RedirectBudgetExceededError)
    assert "GET" in str(step.error) and isinstance(step.error.__cause__, ResponseError)


@pytest.mark.parametrize("text", ["TRYAGAIN x", "LOADING y", "READONLY z"])
def test_transient_errors_back_off_within_the_deadline(text: str) -> None:
    attempt = Attempt()
    now, delays = 100.0, []
    while True:
        step = next_step(reply(text), attempt, idempotent=False, policy=POLICY, now=now,
                         rng=random.Random(1))
        if step.action is Action.RAISE:
            assert type(step.error) is type(reply(text))
            break
        assert step.action is Action.RETRY
        delays.append(step.delay)
        now += step.delay
    assert now - 100.0 <= POLICY.deadline  # never waits past the deadline
    assert len(delays) >= 5 and all(d > 0 for d in delays)  # never a burst of instant retries
    if text.startswith("READONLY"):
        assert next_step(reply(text), Attempt(), idempotent=False, policy=POLICY,
                         now=0).refresh == "readonly"


def test_loading_node_is_avoided_afterwards() -> None:
    attempt = Attempt()
    err = reply("LOADING Redis is loading")
    assert isinstance(err, BusyLoadingError)
    next_step(err, attempt, idempotent=True, policy=POLICY, now=0)
    assert NODE in attempt.avoid


def test_cluster_down_is_bounded_by_attempts() -> None:
    attempt = Attempt()
    policy = RetryPolicy(cluster_down_attempts=2)
    for _ in range(2):
        step = next_step(reply("CLUSTERDOWN The cluster is down"), attempt, idempotent=True,
                         policy=policy, now=0)
        assert step.action is Action.RETRY and step.refresh == "cluster down"
    step = next_step(reply("MASTERDOWN x"), attempt, idempotent=True, policy=policy, now=0)
    assert step.action is Action.RAISE and isinstance(step.error, MasterDownError)
    assert isinstance(step.error, ClusterDownError)


def test_pool_and_auth_errors_are_raised_as_they_are() -> None:
    for err in (PoolTimeoutError("t", node=NODE), AuthenticationError("a", node=NODE),
                reply("WRONGTYPE x")):
        step = next_step(err, Attempt(), idempotent=True, policy=POLICY, now=0)
        assert step.action is Action.RAISE and step.error is err
        assert step.refresh is None and not step.mark_failing
    assert isinstance(reply("WRONGTYPE x"), WrongTypeError)


def test_write_lost_after_sending_is_outcome_unknown() -> None:
    step = next_step(sent(ConnectionError("closed", node=NODE)), Attempt(), idempotent=False,
                     policy=POLICY, now=0, command="INCR")
    assert step.action is Action.RAISE and isinstance(step.error, OutcomeUnknownError)
    assert step.error.command == "INCR" and step.error.node == NODE
    assert "may or may not" in str(step.error)
    # an EOF costs only that connection; a timeout makes the node suspect
    assert not step.mark_failing and step.refresh == "connection failure"
    step = next_step(sent(TimeoutError("t", node=NODE)), Attempt(), idempotent=False,
                     policy=POLICY, now=0, command="INCR")
    assert isinstance(step.error, OutcomeUnknownError) and step.mark_failing


def test_idempotent_or_unsent_commands_are_retried() -> None:
    for idempotent, err in ((True, sent(TimeoutError("t", node=NODE))),
                            (False, ConnectionError("refused", node=NODE))):
        attempt = Attempt()
        step = next_step(err, attempt, idempotent=idempotent, policy=POLICY, now=0)
        assert step.action is Action.RETRY and step.delay > 0
        assert step.mark_failing == isinstance(err, TimeoutError)
        assert NODE in attempt.avoid


def test_fail_fast_error_never_extends_the_cool_down() -> None:
    err = NodeFailingError("cooling down", node=NODE)
    step = next_step(err, Attempt(), idempotent=False, policy=POLICY, now=0)
    assert step.action is Action.RETRY and not step.mark_failing
    assert step.refresh == "node failing"  # asks for a (rate-limited, deferred) refresh


def test_opt_in_retries_non_idempotent() -> None:
    policy = RetryPolicy(retry_non_idempotent=True)
    step = next_step(sent(ConnectionError("x", node=NODE)), Attempt(), idempotent=False,
                     policy=policy, now=0)
    assert step.action is Action.RETRY


def test_protocol_error_counts_as_sent() -> None:
    step = next_step(ProtocolError("garbage", node=NODE), Attempt(), idempotent=False,
                     policy=POLICY, now=0)
    assert isinstance(step.error, OutcomeUnknownError)


@given(attempt=st.integers(0, 100), base=st.floats(0.001, 1), cap=st.floats(0.001, 5),
       seed=st.integers(0, 2**32))
def test_backoff_is_bounded_and_jittered(attempt: int, base: float, cap: float, seed: int) -> None:
    backoff = Backoff(base=base, cap=cap)
    delay = backoff.delay(attempt, random.Random(seed))
    ceiling = min(cap, base * 2.0 ** min(attempt, 30))
    assert ceiling / 2 <= delay <= ceiling


@given(st.lists(st.sampled_from(["MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN", "CONN", "SENT"]),
                min_size=1, max_size=60), st.booleans())
def test_any_error_sequence_ends_in_bounded_steps(kinds: list, idempotent: bool) -> None:
    """Whatever the cluster throws, the loop raises within its budgets (never spins forever)."""
    attempt, now, steps = Attempt(), 0.0, 0
    policy = RetryPolicy(max_redirects=16, deadline=5.0)
    for kind in kinds * 100:
        err = {"MOVED": lambda: reply("MOVED 1 h:2"), "ASK": lambda: reply("ASK 1 h:2"),
               "TRYAGAIN": lambda: reply("TRYAGAIN x"),
               "CLUSTERDOWN": lambda: reply("CLUSTERDOWN y"),
               "CONN": lambda: ConnectionError("refused", node=NODE),
               "SENT": lambda: sent(ConnectionError("closed", node=NODE))}[kind]()
        step = next_step(err, attempt, idempotent=idempotent, policy=policy, now=now)
        steps += 1
        if step.action is Action.RAISE:
            break
        now += step.delay
    else:
        pytest.fail("never gave up")
    assert steps <= 16 + 1 + 200
    assert now <= policy.deadline + 1e-9


def test_ask_tryagain_cycles_are_bounded_by_the_deadline_not_the_budget() -> None:
    attempt, now = Attempt(), 0.0
    policy = RetryPolicy(max_redirects=16, deadline=10.0)
    for cycle in range(60):
        step = next_step(reply("ASK 7 h:2"), attempt, idempotent=True, policy=policy, now=now)
        assert step.action is Action.ASK, cycle
        step = next_step(reply("TRYAGAIN x"), attempt, idempotent=True, policy=policy, now=now,
                         rng=random.Random(cycle))
        if step.action is Action.RAISE:
            break
        now += step.delay
    assert step.action is Action.RAISE and type(step.error).__name__ == "TryAgainError"
    assert now <= policy.deadline and cycle > 16  # more cycles than the redirect budget


def test_retry_on_timeout_false_raises_a_timeout_at_once() -> None:
    policy = RetryPolicy(retry_on_timeout=False)
    for err in (sent(TimeoutError("t", node=NODE)), TimeoutError("connect", node=NODE)):
        attempt = Attempt()
        step = next_step(err, attempt, idempotent=True, policy=policy, now=0)
        assert step.action is Action.RAISE and step.error is err
        # the node is still suspect and the layout refreshed off the caller's path
        assert step.mark_failing and step.refresh == "connection failure"
        assert NODE in attempt.avoid and attempt.retries == 0
    # other socket failures are retried as before; a sent write stays outcome unknown
    step = next_step(ConnectionError("reset", node=NODE), Attempt(), idempotent=True,
                     policy=policy, now=0)
    assert step.action is Action.RETRY
    step = next_step(sent(TimeoutError("t", node=NODE)), Attempt(), idempotent=False,
                     policy=policy, now=0, command="INCR")
    assert isinstance(step.error, OutcomeUnknownError)


def test_retry_on_timeout_defaults_to_retrying() -> None:
    assert RetryPolicy().retry_on_timeout is True
    step = next_step(sent(TimeoutError("t", node=NODE)), Attempt(), idempotent=True,
                     policy=POLICY, now=0)
    assert step.action is Action.RETRY and step.mark_failing


def test_may_resend_a_node_targeted_call() -> None:
    unsent = TimeoutError("connect", node=NODE)
    assert may_resend(unsent, idempotent=False, policy=POLICY)
    assert not may_resend(unsent, idempotent=True, policy=RetryPolicy(retry_on_timeout=False))
    written = sent(ConnectionError("reset", node=NODE))
    assert not may_resend(written, idempotent=False, policy=POLICY)
    assert may_resend(written, idempotent=True, policy=RetryPolicy(retry_on_timeout=False))


def test_outcome_unknown_names_the_command_and_node_and_keeps_the_cause() -> None:
    cause = sent(ConnectionError("reset", node=NODE))
    err = outcome_unknown(cause, "LPUSH")
    assert err.command == "LPUSH" and err.node == NODE and err.__cause__ is cause
    assert str(err).startswith(f"LPUSH was sent to {NODE}") and "may or may not" in str(err)
    assert outcome_unknown(cause).command is None and "the command" in str(outcome_unknown(cause))
