"""``python -m faults``: run the fault scenarios and (optionally) write docs/reliability.md."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from typing import List, Optional, Sequence

from .clients import ADAPTERS
from .core import Result
from .registry import ALL, BY_NAME
from .report import render
from .runner import PROFILES, Clusters, run_scenario


def summary(r: Result) -> str:
    if not r.applies:
        return f"{r.scenario:26} {r.client:12} n/a"
    return (f"{r.scenario:26} {r.client:12} ops={r.ops} acked={r.acked} lost={r.lost} "
            f"wrong={r.wrong} rolled_back={r.rolled_back} errors={r.error_count} {r.errors or ''} "
            f"unknown={r.outcome_unknown} stall={r.max_stall:.2f}s "
            f"promotion={r.promotion if r.promotion is None else round(r.promotion, 2)} "
            f"recovery={r.recovery if r.recovery is None else round(r.recovery, 2)} "
            f"fetches={r.topology_fetches} sockets={r.sockets_after_close} "
            f"threads={r.threads_after_close} ({r.duration:.0f}s)"
            + (f"\n    notes: {r.notes[:4]}" if r.notes else ""))


def run(scenarios: Sequence[str], clients: Sequence[str], profile: str, seed: int,
        echo: bool = True) -> List[Result]:
    """Run the named scenarios for the named clients; one cluster set for the whole run."""
    clusters = Clusters()
    results: List[Result] = []
    try:
        for name in scenarios:
            for c in clients:
                r = run_scenario(BY_NAME[name], ADAPTERS[c], clusters, PROFILES[profile], seed)
                results.append(r)
                if echo:
                    print(summary(r), flush=True)
    finally:
        clusters.stop()
    return results


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m faults", description=__doc__)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="short")
    ap.add_argument("--client", choices=["clustercore", "redis-py", "all"], default="all")
    ap.add_argument("--scenario", default="", help="comma-separated names (default: all): "
                    + ", ".join(s.name for s in ALL))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="", help="write the markdown report here")
    ap.add_argument("--json", default="", help="write the raw results here")
    args = ap.parse_args(argv)
    names = [n for n in args.scenario.split(",") if n] or [s.name for s in ALL]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        ap.error(f"unknown scenario(s) {unknown}; known: {sorted(BY_NAME)}")
    clients = ["clustercore", "redis-py"] if args.client == "all" else [args.client]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    t0 = time.monotonic()
    results = run(names, clients, args.profile, args.seed)
    duration = time.monotonic() - t0
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([asdict(r) for r in results], fh, indent=1, default=str)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(render(results, profile=args.profile, seed=args.seed, started=started,
                            duration=duration))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
