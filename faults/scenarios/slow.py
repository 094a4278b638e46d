"""A primary that is alive but busy: DEBUG SLEEP longer than cluster-node-timeout."""

from __future__ import annotations

import threading
import time

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
    seconds = 3
    fault_blocks = 3.0

    def fault(self, ctx: Context) -> None:
        assert ctx.victim is not None
        ctx.watch_promotion(ctx.victim, min(self.victim_slots(ctx)))
        sent = threading.Event()
        done = threading.Event()
        address = ctx.victim.address

        def sleeper() -> None:
            try:
                with resp.RawConnection(address, timeout=self.seconds + 10) as conn:
                    conn.sock.sendall(b"DEBUG SLEEP %d\r\n" % self.seconds)
                    sent.set()
                    conn.sock.recv(64)
            except OSError:
                pass
            finally:
                sent.set()
                done.set()

        th = threading.Thread(target=sleeper, name="faults-debug-sleep", daemon=True)
        th.start()
        sent.wait(5)
        ctx.mark()
        for _ in range(20):  # the fault starts when the node stops answering a PING
            t = time.monotonic()
            try:
                resp.call(address, "PING", timeout=0.2)
            except OSError:
                ctx.t_fault = t
                break
        done.wait(self.seconds + 15)
        th.join(1)
        ctx.wait_promoted(1)


class SlowNodeLong(SlowNode):
    name = "slow_node_long"
    title = "Slow primary (DEBUG SLEEP 6 s)"
    what = ("DEBUG SLEEP 6 on a primary: long enough for the cluster to fail it over "
            "before it answers again; it wakes as a demoted primary.")
    seconds = 6
    fault_blocks = 6.0
