"""Sharded pub/sub across a failover of the shard's primary."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any, List, Tuple

from .. import resp
from ..runner import Context, Scenario, _close_and_measure, _measure_before, connect_for


class PubSubFailover(Scenario):
    name = "pubsub_failover"
    family = "pubsub"
    title = "Sharded pub/sub across a failover (SIGKILL)"
    what = ("One subscriber (SSUBSCRIBE to a channel in the victim's slots) and one publisher "
            "thread (SPUBLISH of a sequence number every 5 ms) share the client; the shard's "
            "primary is SIGKILLed. Pub/sub is at-most-once, so messages published during the "
            "outage may be missed; 'recovery' is from the kill to the first message received "
            "that was published after it ('never' = the subscription did not come back). "
            "'acknowledged' counts publishes, 'lost' is not applicable.")

    def run(self, ctx: Context) -> None:
        assert ctx.victim is not None
        slots = self.victim_slots(ctx)
        prefix = f"f:ps:{ctx.adapter.name}:{ctx.seed}"
        channel = next(f"{prefix}:{i}" for i in range(100000)
                       if resp.key_slot(f"{prefix}:{i}") in slots)
        before = _measure_before(ctx)
        client = ctx.client = ctx.adapter.make(connect_for(ctx))
        ps = client.pubsub()
        ps.ssubscribe(channel)
        stop = threading.Event()
        errors: Counter[str] = Counter()
        received: List[Tuple[float, int]] = []
        published: List[Tuple[float, int]] = []
        stall = [0.0]
        end = time.monotonic() + ctx.profile.time_limit

        def reader() -> None:
            while not stop.is_set() and time.monotonic() < end:
                t0 = time.monotonic()
                try:
                    msg: Any = ps.get_sharded_message(ignore_subscribe_messages=True,
                                                      timeout=0.2)
                except Exception as exc:
                    errors["subscriber " + type(exc).__name__] += 1
                    stop.wait(0.05)  # an erroring subscriber must not spin
                    continue
                stall[0] = max(stall[0], time.monotonic() - t0 - 0.2)
                if msg and msg.get("type") in ("smessage", "message"):
                    received.append((time.monotonic(), int(msg["data"])))

        def publisher() -> None:
            seq = 0
            while not stop.is_set() and time.monotonic() < end and seq < ctx.profile.max_ops:
                seq += 1
                t0 = time.monotonic()
                try:
                    client.spublish(channel, str(seq))
                    published.append((t0, seq))
                except Exception as exc:
                    if ctx.adapter.is_outcome_unknown(exc):
                        ctx.result.outcome_unknown += 1
                    else:
                        errors["publisher " + type(exc).__name__] += 1
                stall[0] = max(stall[0], time.monotonic() - t0)
                ctx.result.ops += 1
                stop.wait(0.005)

        threads = [threading.Thread(target=f, name=f"faults-ps-{f.__name__}", daemon=True)
                   for f in (reader, publisher)]
        for th in threads:
            th.start()
        try:
            from ..core import poll

            poll(lambda: len(received) >= 20, 15)
            ctx.watch_promotion(ctx.victim, min(slots))
            ctx.lc.kill(ctx.victim)
            ctx.mark()
            ctx.wait_promoted(30)
            t_fault = ctx.t_fault or 0.0
            poll(lambda: any(s > 0 and t >= t_fault and _published_after(published, s, t_fault)
                             for t, s in received[-50:]), 10 + ctx.profile.settle)
            ctx.hold(ctx.profile.settle)
        finally:
            stop.set()
            for th in threads:
                th.join(10)
            if ctx.watcher is not None:
                ctx.watcher.stop()
            try:
                ps.close()
            except Exception as exc:
                ctx.result.notes.append(f"pubsub close: {exc!r}")
            _close_and_measure(ctx, before)
        t_fault = ctx.t_fault or 0.0
        after = [t for t, s in received if t >= t_fault and _published_after(published, s, t_fault)]
        ctx.result.recovery = (min(after) - t_fault) if after else None
        ctx.result.acked = len(published)
        ctx.result.errors = dict(errors)
        ctx.result.max_stall = stall[0]
        ctx.result.lost = -1  # not applicable (at-most-once)
        ctx.result.extra["published / received"] = f"{len(published)} / {len(received)}"
        ctx.result.extra["received after the fault"] = len(after)


def _published_after(published: List[Tuple[float, int]], seq: int, t_fault: float) -> bool:
    """Was message ``seq`` published after the fault?"""
    for t, s in reversed(published):
        if s == seq:
            return t >= t_fault
        if s < seq:
            break
    return False
