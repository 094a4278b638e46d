"""A primary that is alive but busy: DEBUG SLEEP longer than cluster-node-timeout."""

from __future__ import annotations

import threading

from .. import resp
from ..runner import Context, Scenario


class SlowNode(Scenario):
    name = "slow_node"
    family = "slow"
    title = "Slow primary (DEBUG SLEEP 3 s)"
    what = ("DEBUG SLEEP 3 on a primary: it holds every connection without answering for "
            "3 s, longer than cluster-node-timeout, so the cluster may fail it over meanwhile "
            "(CLUSTERDOWN / MOVED when it wakes). Promotion is reported when it happened.")
    promotion_expected = False

    def fault(self, ctx: Context) -> None:
        assert ctx.victim is not None
        ctx.watch_promotion(ctx.victim, min(self.victim_slots(ctx)))
        done = threading.Event()
        address = ctx.victim.address

        def sleeper() -> None:
            try:
                resp.call(address, "DEBUG", "SLEEP", "3", timeout=15)
            except OSError:
                pass
            finally:
                done.set()

        th = threading.Thread(target=sleeper, name="faults-debug-sleep", daemon=True)
        ctx.mark()
        th.start()
        done.wait(20)
        th.join(1)
