"""A planned failover: CLUSTER FAILOVER on the replica (no data loss expected, no FAIL state)."""

from __future__ import annotations

from ..runner import Context, Scenario


class ManualFailover(Scenario):
    name = "manual_failover"
    measures_recovery = False
    family = "failover"
    title = "Manual failover (CLUSTER FAILOVER)"
    what = ("CLUSTER FAILOVER on the replica of a primary serving half of the keys: the "
            "primary stops writes, the replica catches up and takes over, the old primary "
            "answers MOVED.")

    def fault(self, ctx: Context) -> None:
        assert ctx.victim is not None
        replica = ctx.lc.replicas_of(ctx.victim)[0]
        ctx.watch_promotion(ctx.victim, min(self.victim_slots(ctx)))
        ctx.mark()
        ctx.lc.failover(replica, timeout=30)
        ctx.wait_promoted(10)
