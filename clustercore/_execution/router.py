"""Pure decisions of the execute loop: given an error and the attempt so far, what next?

No sockets, no pools, no clock reads: the client passes ``now`` in. The rules:

* MOVED: go to the new owner (the pool updates that slot at once); ASK: ASKING + command on
  the target, once. Both count toward the redirect budget (16, redis-py-cluster's TTL). A
  redirect to a node that no layout lists is not followed (the redirect guard): refresh, back
  off and retry until the deadline, then UnknownRedirectTargetError.
* TRYAGAIN, LOADING: back off and retry. READONLY on a write: the node was demoted, the write
  was refused (not applied): refresh, back off, retry. CLUSTERDOWN / MASTERDOWN: refresh and
  back off until the deadline (``cluster_down_attempts``, when set, caps the count too).
* Connection error or timeout: the topology is refreshed off the caller's path and the command
  retried after a backoff (a timeout also marks the node suspect, so other threads fail fast
  instead of each waiting out a socket timeout on it) -- unless the request was already
  written and the command is not idempotent: then the outcome is unknown and the caller is told
  (OutcomeUnknownError), never silently re-sent. With ``RetryPolicy.retry_on_timeout=False``
  a timeout is raised at once (still marking the node and asking for a refresh).
* Pool errors (timeout, closed, too many), authentication errors and TLS certificate refusals
  are raised as they are.
* Everything that waits is bounded by one deadline per command, counted from the start of the
  call (``Attempt.started``; from the first failure when the caller did not record a start).
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field
from typing import NamedTuple, Optional, Set, Tuple

from .._address import NodeAddress
from ..errors import (
    AskError,
    AuthenticationError,
    BusyLoadingError,
    ClusterCoreError,
    ClusterDownError,
    ConnectionError,
    MovedError,
    NodeFailingError,
    OutcomeUnknownError,
    PoolError,
    ProtocolError,
    ReadOnlyError,
    RedirectBudgetExceededError,
    TimeoutError,
    TLSVerificationError,
    TryAgainError,
    UnknownRedirectTargetError,
)
from .retry import RetryPolicy

__all__ = ["CATCH_UP", "LAST_TRY", "Action", "Attempt", "Step", "may_resend", "next_step",
           "outcome_unknown"]

#: Seconds of the deadline kept for the last attempt: the last backoff pause ends that long
#: before the deadline, and with less than that left no attempt is made. The first half may go
#: to a catch-up refresh (:data:`CATCH_UP`), the rest is the try's.
LAST_TRY = 0.1
#: Before the last try after a node-level failure, the layout must be at most this old: a
#: promotion that came after the last (rate-limited) refresh is still seen in time.
CATCH_UP = LAST_TRY / 2


class Action(enum.Enum):
    """What the execute loop does next."""

    MOVED = "moved"        # update the slot, route again
    ASK = "ask"            # ASKING + the command on ``target``, once
    RETRY = "retry"        # wait ``delay``, route again (maybe after a refresh request)
    RAISE = "raise"        # give ``error`` to the caller


class Step(NamedTuple):
    """One decision: the action plus what it needs."""

    action: Action
    error: Optional[BaseException] = None
    target: Optional[NodeAddress] = None
    delay: float = 0.0
    refresh: Optional[str] = None      # ask for a background topology refresh with this trigger
    mark_failing: bool = False         # the node failed at the socket level


@dataclass
class Attempt:
    """The explicit state of one command's attempts (owned by one call, never shared)."""

    redirects: int = 0
    retries: int = 0
    cluster_down: int = 0
    #: Where the deadline counts from: the start of the call (a caller that read the clock
    #: when it began passes it), else the first failure (set by :func:`next_step`).
    started: Optional[float] = None
    #: The pause before the current try was cut short by the deadline: it is the last one.
    final: bool = False
    avoid: Set[NodeAddress] = field(default_factory=set)


def next_step(error: BaseException, attempt: Attempt, *, idempotent: bool, policy: RetryPolicy,
              now: float, command: str = "", rng: Optional[random.Random] = None,
              target_known: bool = True) -> Step:
    """Decide what follows ``error``; updates the counters in ``attempt``. ``target_known``
    False: the redirect names a node no layout lists (the redirect guard: refresh, back off,
    retry until the deadline, never dial it)."""
    if isinstance(error, (AskError, MovedError)):
        if attempt.redirects >= policy.max_redirects:
            exc = RedirectBudgetExceededError(
                f"{command or 'command'} was redirected {attempt.redirects} times without "
                "reaching its slot owner (TTL exhausted)", node=error.node)
            exc.__cause__ = error
            return Step(Action.RAISE, exc)
        attempt.redirects += 1
        if not target_known:
            return _unknown_target(error, attempt, policy=policy, now=now, command=command,
                                   rng=rng)
        action = Action.MOVED if isinstance(error, MovedError) else Action.ASK
        return Step(action, target=error.target)
    if isinstance(error, (PoolError, AuthenticationError, TLSVerificationError)):
        return Step(Action.RAISE, error)  # another attempt meets the same refusal
    if attempt.started is None:
        attempt.started = now
    # The last pause is cut to what is left (minus LAST_TRY): a failover that completes in the
    # deadline's final half second still gets its retry instead of an early error.
    out_of_time, delay = _pause(attempt, policy, now, rng)
    if isinstance(error, (ClusterDownError, TryAgainError, ReadOnlyError, BusyLoadingError)):
        # A back-off-and-retry cycle is bounded by the deadline, not by the redirect budget:
        # ASK -> TRYAGAIN -> ASK ... during a migration is progress, not a redirect loop.
        attempt.redirects = 0
    if isinstance(error, ClusterDownError):
        attempt.cluster_down += 1
        cap = policy.cluster_down_attempts
        if out_of_time or (cap is not None and attempt.cluster_down > cap):
            return Step(Action.RAISE, error)
        attempt.retries += 1
        return Step(Action.RETRY, delay=delay, refresh="cluster down")
    if isinstance(error, (TryAgainError, ReadOnlyError, BusyLoadingError)):
        if out_of_time:
            return Step(Action.RAISE, error)
        attempt.retries += 1
        refresh = "readonly" if isinstance(error, ReadOnlyError) else None
        if isinstance(error, BusyLoadingError) and error.node is not None:
            attempt.avoid.add(error.node)
        return Step(Action.RETRY, delay=delay, refresh=refresh)
    if isinstance(error, NodeFailingError):
        # Fail fast: the node is cooling down and was not dialled. Ask for a refresh (the pool
        # rate-limits and defers them), so a failover is seen as soon as it happens.
        if out_of_time:
            return Step(Action.RAISE, error)
        attempt.retries += 1
        if error.node is not None:
            attempt.avoid.add(error.node)
        return Step(Action.RETRY, delay=delay, refresh="node failing")
    if isinstance(error, (ConnectionError, TimeoutError, ProtocolError)):
        if error.node is not None:
            attempt.avoid.add(error.node)
        # A timeout makes the node suspect (hung?); a reset or EOF only costs that connection
        # (a failed connect marks the node inside the pool).
        suspect = isinstance(error, TimeoutError)
        sent = error.request_sent or isinstance(error, ProtocolError)
        if sent and not idempotent and not policy.retry_non_idempotent:
            return Step(Action.RAISE, outcome_unknown(error, command), mark_failing=suspect,
                        refresh="connection failure")
        if out_of_time or (suspect and not policy.retry_on_timeout):
            return Step(Action.RAISE, error, mark_failing=suspect, refresh="connection failure")
        attempt.retries += 1
        return Step(Action.RETRY, delay=delay, refresh="connection failure",
                    mark_failing=suspect)
    return Step(Action.RAISE, error)


def _pause(attempt: Attempt, policy: RetryPolicy, now: float,
           rng: Optional[random.Random]) -> Tuple[bool, float]:
    """(out of time, the pause before the next try). A pause that would cross the deadline is
    cut to end LAST_TRY before it and that try is the last (``attempt.final``)."""
    assert attempt.started is not None
    left = attempt.started + policy.deadline - now
    delay = policy.backoff.delay(attempt.retries, rng)
    if attempt.final or left < LAST_TRY:
        return True, delay
    if delay > left - LAST_TRY:
        delay = left - LAST_TRY
        attempt.final = True
    return False, delay


def _unknown_target(error: ClusterCoreError, attempt: Attempt, *, policy: RetryPolicy,
                    now: float, command: str, rng: Optional[random.Random]) -> Step:
    """A redirect to a node no layout lists: ask for a refresh and retry after a backoff (the
    node may have just joined: the next layout then lists it and the redirect is followed);
    past the deadline, raise UnknownRedirectTargetError. The node is never dialled, so it
    never sees the command or the credentials (Lettuce's validateClusterNodeMembership)."""
    target = error.target if isinstance(error, (AskError, MovedError)) else None
    if attempt.started is None:
        attempt.started = now
    out_of_time, delay = _pause(attempt, policy, now, rng)
    if out_of_time:
        exc = UnknownRedirectTargetError(
            f"{command or 'the command'} was redirected by {error.node} to {target}, a node "
            "that no cluster layout lists; it was not dialled (nothing was sent to it). If "
            "the node is a member, check its cluster-announce-* settings or host_port_remap; "
            "follow_unknown_redirects=True turns this guard off", node=error.node,
            target=target)
        exc.__cause__ = error
        return Step(Action.RAISE, exc)
    attempt.retries += 1
    return Step(Action.RETRY, delay=delay, refresh="redirect to unknown node")


def outcome_unknown(error: ClusterCoreError, command: str = "") -> OutcomeUnknownError:
    """The error for a command whose request was written but whose reply was lost (``error``,
    its cause): it may or may not have run, and it is not sent again."""
    node = error.node
    unknown = OutcomeUnknownError(
        f"{command or 'the command'} was sent to {node} but the connection failed before its "
        f"reply arrived ({error}); it may or may not have been applied, so it was not sent again",
        node=node, command=command or None)
    unknown.__cause__ = error
    return unknown


def may_resend(error: ClusterCoreError, *, idempotent: bool, policy: RetryPolicy) -> bool:
    """Whether a call to one given node (a fan-out part, a node-targeted command) that failed at
    the socket may be sent once more on a fresh connection: it was never written, or it is
    idempotent -- and it is not a timeout that the policy says not to retry."""
    if isinstance(error, TLSVerificationError):
        return False  # the same certificate answers again
    if isinstance(error, TimeoutError) and not policy.retry_on_timeout:
        return False
    return idempotent or not error.request_sent
