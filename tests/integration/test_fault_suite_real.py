"""The fault suite's CI profile: five scenarios of ``faults`` against clustercore, on a real
3+3 cluster (cluster-node-timeout 2 s), asserting the reliability criteria of issue 14:

* 0 acknowledged writes lost or wrong (checked over raw RESP after the run);
* 0 errors reaching the caller other than ``OutcomeUnknownError`` when the promotion happened
  within the client's ``retry_deadline``;
* the longest single call within promotion + 1 s (+ slack for the shared CI machine);
* 0 sockets and 0 client threads left after ``close()``.

Counts and stalls relative to the server's promotion only: no absolute throughput. The full
profile (every scenario, redis-py beside) is ``python -m faults --profile full``.
"""

from __future__ import annotations

import inspect
from typing import Iterator

import pytest

from clustercore import RedisCluster
from clustercore.testing import LocalCluster
from faults.clients import ADAPTERS
from faults.core import Result
from faults.registry import BY_NAME, SHORT
from faults.runner import PROFILES, Clusters, run_scenario

#: CI machines are shared: a stall may exceed promotion + 1 s by this much before it fails.
SLACK = 2.0
DEADLINE = float(inspect.signature(RedisCluster.__init__).parameters["retry_deadline"].default)


@pytest.fixture(scope="module")
def clusters() -> Iterator[Clusters]:
    """One throw-away 3+3 cluster for the module (scenarios kill, freeze and fail over its
    nodes, then heal it)."""
    lc = LocalCluster(3, 1, node_timeout_ms=2000).start()
    try:
        yield Clusters(plain=lc)
    finally:
        lc.stop()


def _explain(r: Result) -> str:
    return (f"{r.scenario}: ops={r.ops} acked={r.acked} lost={r.lost} wrong={r.wrong} "
            f"errors={r.errors} unknown={r.outcome_unknown} stall={r.max_stall:.2f}s "
            f"({r.stall_op}) promotion={r.promotion} recovery={r.recovery} "
            f"sockets={r.sockets_after_close} threads={r.threads_after_close} notes={r.notes}")


@pytest.mark.parametrize("name", SHORT)
def test_fault_scenario_meets_the_reliability_criteria(name: str, clusters: Clusters) -> None:
    scn = BY_NAME[name]
    r = run_scenario(scn, ADAPTERS["clustercore"], clusters, PROFILES["short"], seed=1)
    why = _explain(r)
    print("\n" + why)
    assert not any(n.startswith("scenario failed") for n in r.notes), \
        r.extra.get("traceback", why)
    assert r.acked > 0, why
    assert r.lost == 0 and r.wrong == 0, why
    if scn.promotion_expected:
        assert r.promotion is not None, f"the fault was not followed by a promotion: {why}"
        assert r.recovery is not None, f"the victim's keys never served again: {why}"
        if r.promotion <= DEADLINE:
            assert r.errors == {}, why
        assert r.max_stall <= r.promotion + 1.0 + SLACK, why
    else:
        assert r.errors == {}, why
        assert r.max_stall <= 1.0 + SLACK, why
    assert r.sockets_after_close == 0, why
    assert r.threads_after_close == 0, why
