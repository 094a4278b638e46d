"""Replica reads while the replica serving them dies and comes back."""

from __future__ import annotations

from typing import Any, Dict

from ..runner import Context, Scenario


class ReplicaRestart(Scenario):
    name = "replica_restart"
    measures_recovery = False
    family = "replicas"
    title = "Replica killed and restarted under replica reads"
    what = ("read_from_replicas=True; SIGKILL of the replica of the primary serving half of "
            "the keys, restarted 2 s later (it resyncs from its primary). Reads that return "
            "an older value than the last acknowledged write are counted as stale (expected: "
            "replication is asynchronous), not as wrong.")
    promotion_expected = False
    replica_reads = True
    ops = ("set", "get", "get", "get")

    def client_kwargs(self, ctx: Context) -> Dict[str, Any]:
        return {"read_from_replicas": True}

    def fault(self, ctx: Context) -> None:
        assert ctx.victim is not None
        replica = ctx.lc.replicas_of(ctx.victim)[0]
        ctx.lc.kill(replica)
        ctx.mark()
        ctx.hold(2.0)
        ctx.lc.restart(replica)
        ctx.lc.wait_healthy(timeout=30)
