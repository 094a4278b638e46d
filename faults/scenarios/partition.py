"""A network partition between the client and one primary: packets dropped, nothing closed."""

from __future__ import annotations

import time

from .. import resp
from ..runner import Context, Scenario


class Partition(Scenario):
    name = "partition"
    family = "partition"
    title = "Network partition (blackholed primary, failover on the majority side)"
    what = ("The clients reach every node through its own in-process proxy (host_port_remap / "
            "address_remap). The proxy of one primary stops forwarding without closing "
            "anything (half-open connections; new connects succeed and are never answered). "
            "2 s later (cluster-node-timeout) its replica takes over with CLUSTER FAILOVER "
            "FORCE, what the majority side of a real partition does; the cluster bus itself "
            "is not cut. The proxy heals (held connections closed) 6 s after the blackhole.")
    proxies = True

    def fault(self, ctx: Context) -> None:
        assert ctx.victim is not None
        proxy = ctx.proxies[ctx.victim.address]
        replica = ctx.lc.replicas_of(ctx.victim)[0]
        ctx.watch_promotion(ctx.victim, min(self.victim_slots(ctx)))
        ctx.mark()
        proxy.blackhole()
        try:
            ctx.hold(2.0)
            resp.call(replica.address, "CLUSTER", "FAILOVER", "FORCE")
            ctx.wait_promoted(15)
            ctx.hold(max(0.0, 6.0 - (time.monotonic() - (ctx.t_fault or 0.0))))
        finally:
            proxy.heal()

    def cleanup(self, ctx: Context) -> None:
        for p in ctx.proxies.values():
            p.heal()
