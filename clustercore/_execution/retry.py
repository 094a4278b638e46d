"""Frozen retry settings and backoff: values, not objects with hidden counters.

:class:`Backoff` computes the pause before attempt *n* (exponential, capped, with "equal jitter":
half fixed, half random, so retries never burst and never all line up). :class:`RetryPolicy`
holds the per-command budgets. Nothing here sleeps; the client sleeps (outside every lock and
without holding a connection) for what these values say.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Optional

__all__ = ["Backoff", "RetryPolicy"]


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with equal jitter: ``d = min(cap, base * 2**n)``, pause in [d/2, d]."""

    base: float = 0.025
    cap: float = 0.5

    def delay(self, attempt: int, rng: Optional[random.Random] = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0 = the first retry)."""
        ceiling = min(self.cap, self.base * 2.0 ** min(attempt, 30))
        jitter: float = (rng or random).random()
        return ceiling / 2 + jitter * ceiling / 2


@dataclass(frozen=True)
class RetryPolicy:
    """Budgets for one command: redirects, retries of transient errors, and one deadline.

    ``deadline`` (seconds, counted from the start of the call) bounds the whole call: every
    attempt's reads and writes, the back-off pauses and the waits for a new layout. To ride out
    a failover it should outlast one: cluster-node-timeout plus the time to refresh the
    topology (5 s covers a 2-3 s node timeout, not Redis's default 15 s; set it to node
    timeout + 2 s for your cluster). Blocking commands (BLPOP ...) wait as long as the caller
    asked the server to, on top of it.

    ``cluster_down_attempts``: None (the default) retries CLUSTERDOWN / MASTERDOWN until the
    deadline, backing off; an int is a second cap on the number of those retries.
    """

    max_redirects: int = 16
    cluster_down_attempts: Optional[int] = None
    deadline: float = 5.0
    backoff: Backoff = Backoff()
    #: Re-send a non-idempotent command whose request may already have run (default: never).
    retry_non_idempotent: bool = False
    #: Retry after a timeout (within the deadline, like any socket failure). False (redis-py's
    #: ``retry_on_timeout=False``): a TimeoutError is raised after the first attempt; the node
    #: is still marked suspect and a refresh requested.
    retry_on_timeout: bool = True

    def with_(self, **changes: object) -> RetryPolicy:
        """A copy with some fields changed (the policy itself never changes)."""
        return replace(self, **changes)  # type: ignore[arg-type]
