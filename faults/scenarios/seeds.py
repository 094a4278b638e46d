"""Bad startup nodes: a refused port, a socket that accepts and never answers, a frozen node."""

from __future__ import annotations

import socket
import time
from collections import Counter
from typing import Any, Dict, List, Tuple

from ..clients import Connect
from ..runner import Context, Scenario, _close_and_measure, _measure_before


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


class BadSeeds(Scenario):
    name = "bad_seeds"
    family = "seeds"
    title = "Refused and frozen seeds"
    what = ("The first startup node is (a) a port nobody listens on, (b) a listening socket "
            "that never answers, (c) a cluster replica frozen with SIGSTOP; the second is a "
            "good node. Each case builds a client 4 times (construction + SET + GET timed; "
            "close() timed apart, "
            "socket_timeout=socket_connect_timeout=10 s on both clients, so a client that "
            "waits out a silent seed shows it). 'ops' are constructions; 'max stall' the slowest one.")
    promotion_expected = False
    measures_recovery = False

    def run(self, ctx: Context) -> None:
        lc = ctx.lc
        good = lc.primaries()[0].address
        frozen = socket.socket()
        frozen.bind(("127.0.0.1", 0))
        frozen.listen(16)
        paused = lc.replicas()[0]
        cases: List[Tuple[str, Tuple[str, int]]] = [
            ("refused", ("127.0.0.1", _free_port())),
            ("silent socket", ("127.0.0.1", int(frozen.getsockname()[1]))),
            ("SIGSTOP node", paused.address),
        ]
        before = _measure_before(ctx)
        errors: Counter[str] = Counter()
        worst: Dict[str, float] = {}
        closing: Dict[str, float] = {}
        ctx.mark()
        try:
            for label, bad in cases:
                if label == "SIGSTOP node":
                    lc.pause(paused)
                for i in range(4):
                    t0 = time.monotonic()
                    client: Any = None
                    try:
                        client = ctx.adapter.make(Connect(seeds=(bad, good)),
                                                  socket_timeout=10,
                                                  socket_connect_timeout=10)
                        key = f"f:seeds:{ctx.adapter.name}:{ctx.seed}:{label}:{i}"
                        client.set(key, "ok")
                        if client.get(key) != b"ok":
                            ctx.result.wrong += 1
                        ctx.result.acked += 1
                    except Exception as exc:
                        errors[type(exc).__name__] += 1
                    elapsed = time.monotonic() - t0
                    t1 = time.monotonic()
                    if client is not None:
                        client.close()
                    closing[label] = max(closing.get(label, 0.0), time.monotonic() - t1)
                    worst[label] = max(worst.get(label, 0.0), elapsed)
                    ctx.result.ops += 1
                if label == "SIGSTOP node":
                    lc.resume(paused)
        finally:
            lc.resume(paused)
            frozen.close()
        ctx.client = None
        _close_and_measure(ctx, before)
        ctx.result.errors = dict(errors)
        ctx.result.max_stall = max(worst.values())
        ctx.result.stall_op = max(worst, key=lambda k: worst[k])
        ctx.result.extra["slowest construction per case (s)"] = {
            k: round(v, 3) for k, v in worst.items()}
        ctx.result.extra["slowest close() per case (s)"] = {
            k: round(v, 3) for k, v in closing.items()}
