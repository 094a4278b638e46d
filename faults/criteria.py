"""Issue 14's done-when criteria, checked on one result (the CI test and the report share it).

* 0 acknowledged writes lost or wrong (writes the failover rolled back -- acknowledged by the
  failed primary at most ``ROLLBACK_WINDOW`` before the fault and never replicated -- are the
  server's loss under asynchronous replication, reported on their own: see ``faults.core``);
* 0 errors reaching the caller (``OutcomeUnknownError`` aside) unless the promotion came later
  than the client's ``retry_deadline``;
* the longest single call within promotion + 1 s (a scenario without promotion: within the
  time the fault itself blocks a node, + 1 s);
* 0 sockets and 0 client threads left after ``close()``.
"""

from __future__ import annotations

import inspect
from typing import List

from .core import Result
from .runner import Scenario


def default_retry_deadline() -> float:
    """clustercore's default ``retry_deadline`` (read from the constructor, not hard-coded)."""
    from clustercore import RedisCluster

    default = inspect.signature(RedisCluster.__init__).parameters["retry_deadline"].default
    return float(default)


def failures(r: Result, scn: Scenario, deadline: float, slack: float = 0.0) -> List[str]:
    """What ``r`` misses of the criteria (empty: it meets them all)."""
    out: List[str] = []
    if any(n.startswith("scenario failed") for n in r.notes):
        return [next(n for n in r.notes if n.startswith("scenario failed"))]
    if r.lost > 0:
        out.append(f"{r.lost} acknowledged writes lost")
    if r.wrong > 0:
        out.append(f"{r.wrong} wrong values")
    if scn.promotion_expected and r.promotion is None:
        out.append("no promotion was seen (the fault did not take)")
    if r.errors and (r.promotion is None or r.promotion <= deadline):
        out.append(f"errors reached the caller {r.errors} although "
                   + ("no node failed over" if r.promotion is None else
                      f"the promotion ({r.promotion:.2f} s) came within the "
                      f"{deadline:g} s deadline"))
    if r.promotion is not None:
        limit, why = r.promotion + 1.0, f"promotion {r.promotion:.2f} s + 1 s"
    else:
        limit, why = scn.fault_blocks + 1.0, f"the fault's own {scn.fault_blocks:g} s + 1 s"
    if r.max_stall > limit + slack:
        out.append(f"a call stalled {r.max_stall:.2f} s > {why}"
                   + (f" + {slack:g} s slack" if slack else ""))
    if r.sockets_after_close:
        out.append(f"{r.sockets_after_close} sockets left after close()")
    if r.threads_after_close:
        out.append(f"{r.threads_after_close} threads left after close()")
    return out
