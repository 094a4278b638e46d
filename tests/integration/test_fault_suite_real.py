"""The fault suite's CI profile: five scenarios of ``faults`` against clustercore, on a real
3+3 cluster (cluster-node-timeout 2 s), asserting the reliability criteria of issue 14
(``faults.criteria``):

* 0 acknowledged writes lost or wrong (checked over raw RESP after the run);
* 0 errors reaching the caller other than ``OutcomeUnknownError`` when the promotion happened
  within the client's ``retry_deadline``;
* the longest single call within promotion + 1 s (+ slack for the shared CI machine);
* 0 sockets and 0 client threads left after ``close()``.

Counts and stalls relative to the server's promotion only: no absolute throughput. The full
profile (every scenario, redis-py beside) is ``python -m faults --profile full``.

The client here runs with ``retry_deadline`` = CI_DEADLINE (8 s) instead of the default 5 s,
and the criteria are checked against that deadline. Why: CI runs the compiled build's suite
beside this one, and under that load promotions after a kill with a 2 s node timeout took up to
4.7 s (4.98 s once in a full run on a loaded machine): a client catches a promotion up to its
last try, 0.1 s before the deadline (the catch-up refresh before it), not one that lands in the
deadline's last 0.1 s. The mechanisms tested are the same; the full profile
(docs/reliability.md) uses the default deadline.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from clustercore.testing import LocalCluster
from faults.clients import ClusterCoreAdapter
from faults.criteria import failures
from faults.registry import BY_NAME, SHORT
from faults.runner import PROFILES, Clusters, run_scenario

#: CI machines are shared: a stall may exceed promotion + 1 s by this much before it fails.
SLACK = 2.0
#: The client's retry_deadline in this profile (see the module docstring).
CI_DEADLINE = 8.0


class _CIClusterCore(ClusterCoreAdapter):
    """clustercore with CI_DEADLINE as its retry_deadline (a scenario's own options win)."""

    def make(self, connect: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("retry_deadline", CI_DEADLINE)
        return super().make(connect, **kwargs)


@pytest.fixture(scope="module")
def clusters() -> Iterator[Clusters]:
    """One throw-away 3+3 cluster for the module (scenarios kill, freeze and fail over its
    nodes, then heal it)."""
    lc = LocalCluster(3, 1, node_timeout_ms=2000).start()
    try:
        yield Clusters(plain=lc)
    finally:
        lc.stop()


@pytest.mark.parametrize("name", SHORT)
def test_fault_scenario_meets_the_reliability_criteria(name: str, clusters: Clusters) -> None:
    scn = BY_NAME[name]
    r = run_scenario(scn, _CIClusterCore(), clusters, PROFILES["short"], seed=1)
    why = (f"{r.scenario}: ops={r.ops} acked={r.acked} lost={r.lost} wrong={r.wrong} "
           f"errors={r.errors} unknown={r.outcome_unknown} stall={r.max_stall:.2f}s "
           f"({r.stall_op}) promotion={r.promotion} recovery={r.recovery} "
           f"sockets={r.sockets_after_close} threads={r.threads_after_close} notes={r.notes}")
    print("\n" + why)
    assert r.acked > 0, why  # the workload ran
    if scn.promotion_expected:
        assert r.recovery is not None, f"the victim's keys never served again: {why}"
    missed = failures(r, scn, CI_DEADLINE, SLACK)
    assert missed == [], f"{missed}\n{why}\n{r.extra.get('traceback', '')}"
