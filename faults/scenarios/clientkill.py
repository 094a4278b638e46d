"""The server drops the client's connections: CLIENT KILL TYPE normal on every primary."""

from __future__ import annotations

from .. import resp
from ..runner import Context, Scenario


class ClientKill(Scenario):
    name = "client_kill"
    measures_recovery = False
    family = "clientkill"
    title = "Connections killed by the server (CLIENT KILL)"
    what = ("CLIENT KILL TYPE normal on every primary, repeated (5 times in the short profile, "
            "15 in the full one) with 30 operations in between: every pooled connection dies "
            "under the workers; no node fails.")
    promotion_expected = False

    def fault(self, ctx: Context) -> None:
        assert ctx.workload is not None
        killed = 0
        ctx.mark()
        for _ in range(ctx.profile.client_kills):
            for p in ctx.lc.primaries():
                reply = resp.call(p.address, "CLIENT", "KILL", "TYPE", "normal")
                killed += reply if isinstance(reply, int) else 0
            ctx.workload.progressed(30, 10)
        ctx.result.extra["connections killed"] = killed
