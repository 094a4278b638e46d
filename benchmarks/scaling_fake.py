"""Per-command cost as the cluster grows, on FakeCluster: 3, 30 and 300 masters (issue 15).

The real-cluster harness (benchmarks/run.py) compares 3 and 12 masters; a laptop cannot run 300
redis-servers, so this runs the same client over the in-process FakeCluster, where the
"server" is a Python object in the same thread. The figure is CPU time per GET of the whole
process (client + fake server), measured with time.process_time() over interleaved rounds;
what matters is the ratio between sizes (flat = the routing, slot map and pool lookups do not
grow with the number of nodes), not the absolute number, which includes the fake's own cost.

    .venv/bin/python benchmarks/scaling_fake.py [--ops 20000] [--rounds 5]
        [--out docs/benchmarks/scaling_fake.md]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path
from typing import Dict, List

from clustercore import RedisCluster
from clustercore.testing import FakeCluster

SIZES = (3, 30, 300)
KEYS = 10_000


def _one_run(cluster: FakeCluster, client: RedisCluster, ops: int, seed: int) -> float:
    """CPU microseconds per GET of a random key (all keys were written beforehand)."""
    rng = random.Random(seed)
    keys = [f"key:{rng.randrange(KEYS)}" for _ in range(ops)]
    get = client.get
    start = time.process_time()
    for key in keys:
        get(key)
    return (time.process_time() - start) / ops * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ops", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    setups = {}
    for size in SIZES:
        fake = FakeCluster(masters=size, replicas=0, node_timeout=None)
        rc = RedisCluster(startup_nodes=fake.startup_nodes, transport=fake.network,
                          background_refresh=False)
        for n in range(KEYS):
            fake.set(f"key:{n}", b"x" * 100)
        rc.get("key:0")  # discovery and first connections outside the timing
        for n in range(0, KEYS, max(1, KEYS // (size * 4))):
            rc.get(f"key:{n}")  # a connection to every node, so no run pays a connect
        setups[size] = (fake, rc)
    per_op: Dict[int, List[float]] = {size: [] for size in SIZES}
    for r in range(args.rounds):  # interleaved: each round runs every size, rotating order
        order = SIZES[r % len(SIZES):] + SIZES[:r % len(SIZES)]
        for size in order:
            fake, rc = setups[size]
            per_op[size].append(_one_run(fake, rc, args.ops, seed=r))
    for _fake, rc in setups.values():
        rc.close()
    base = statistics.median(per_op[SIZES[0]])
    lines = [
        "# Per-command cost vs cluster size (FakeCluster)",
        "",
        f"`benchmarks/scaling_fake.py --ops {args.ops} --rounds {args.rounds}`: CPU "
        "microseconds per GET (client + in-process fake server), median over interleaved "
        "rounds (min-max), and the ratio to 3 masters.",
        "",
        "| masters | us/GET median | min-max | / 3 masters |",
        "|---|---|---|---|",
    ]
    for size in SIZES:
        values = per_op[size]
        median = statistics.median(values)
        lines.append(f"| {size} | {median:.2f} | {min(values):.2f}-{max(values):.2f} | "
                     f"{median / base:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
