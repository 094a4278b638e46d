"""A primary stops answering without closing anything: SIGSTOP, then SIGCONT."""

from __future__ import annotations

from typing import Any, Dict

from ..runner import Context, Scenario


class FreezeDefault(Scenario):
    name = "freeze_default"
    family = "freeze"
    title = "Primary frozen (SIGSTOP for 6 s), default timeouts"
    what = ("SIGSTOP of a primary for 6 s, then SIGCONT: its sockets stay open and nothing "
            "answers; the cluster fails it over after ~2 s and it rejoins as a replica when it "
            "wakes. Both clients with their default socket timeouts.")

    def fault(self, ctx: Context) -> None:
        assert ctx.victim is not None
        ctx.watch_promotion(ctx.victim, min(self.victim_slots(ctx)))
        ctx.lc.pause(ctx.victim)
        ctx.mark()
        try:
            ctx.hold(ctx.profile.freeze)
        finally:
            ctx.lc.resume(ctx.victim)
        ctx.wait_promoted(20)

    def cleanup(self, ctx: Context) -> None:
        if ctx.victim is not None:
            ctx.lc.resume(ctx.victim)


class FreezeShort(FreezeDefault):
    name = "freeze_short"
    title = "Primary frozen (SIGSTOP for 6 s), short timeouts"
    what = ("The same freeze with socket_timeout=0.5 s and socket_connect_timeout=0.5 s on "
            "both clients.")

    def client_kwargs(self, ctx: Context) -> Dict[str, Any]:
        return {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
