"""A primary dies: SIGKILL under load (plain TCP and TLS clusters)."""

from __future__ import annotations

from ..runner import Context, Scenario


class MasterKill(Scenario):
    name = "master_kill"
    family = "kill"
    title = "Primary killed (SIGKILL)"
    what = ("SIGKILL of the primary owning half of every worker's keys; the cluster promotes "
            "its replica after cluster-node-timeout (2 s). The killed node restarts as a "
            "replica before the keys are verified.")

    def fault(self, ctx: Context) -> None:
        assert ctx.victim is not None
        ctx.watch_promotion(ctx.victim, min(self.victim_slots(ctx)))
        ctx.lc.kill(ctx.victim)  # returns once the process is reaped
        ctx.mark()
        ctx.wait_promoted(30)


class TLSMasterKill(MasterKill):
    name = "tls_master_kill"
    title = "Primary killed on a TLS cluster"
    what = ("The same SIGKILL on a cluster that speaks TLS only (tls-cluster and "
            "tls-replication on); the clients verify the server certificates against the "
            "cluster's CA.")
    tls = True
