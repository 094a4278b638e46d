"""Pipeline throughput: clustercore's ClusterPipeline vs redis-py's ClusterPipeline, side by side.

Run ``.venv/bin/python benchmarks/bench_pipeline.py`` (needs redis-server and redis-cli). It starts
its own 3-primary LocalCluster, then for each workload runs the two clients on it alternately
(clustercore, redis-py, redis-py, clustercore, ...) so drift and noise hit both alike, and prints
a Markdown table of median seconds per pipeline (queueing + execute + parsing) and the ratio.

Workloads: 100 commands across random slots (50 SET + 50 GET, a new random key set each time);
1000 SETs in one slot (one hash tag).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from redis.cluster import ClusterNode
from redis.cluster import RedisCluster as PyRedisCluster

from clustercore import ClusterPipeline, RedisCluster
from clustercore.testing import LocalCluster

TRIALS = {"100 commands, random slots": 300, "1000 SETs, one slot": 60}


def random_slots(pipe_factory: Callable[[], Any], rng: random.Random) -> Callable[[], None]:
    """A step: 50 SETs and 50 GETs on random keys (random slots) in one pipeline."""
    def step() -> None:
        pipe = pipe_factory()
        keys = [f"bench:{rng.randrange(1_000_000)}" for _ in range(50)]
        for key in keys:
            pipe.set(key, "v")
        for key in keys:
            pipe.get(key)
        results = pipe.execute()
        assert len(results) == 100
    return step


def one_slot(pipe_factory: Callable[[], Any]) -> Callable[[], None]:
    """A step: 1000 SETs to keys of one slot in one pipeline."""
    def step() -> None:
        pipe = pipe_factory()
        for i in range(1000):
            pipe.set(f"{{bench}}:{i}", i)
        results = pipe.execute()
        assert len(results) == 1000
    return step


def measure(steps: Dict[str, Callable[[], None]], trials: int) -> Dict[str, List[float]]:
    """Run each step ``trials`` times, alternating which client goes first."""
    times: Dict[str, List[float]] = {name: [] for name in steps}
    names = list(steps)
    for name in names:  # warm up connections and caches
        for _ in range(3):
            steps[name]()
    for trial in range(trials):
        order = names if trial % 2 == 0 else names[::-1]
        for name in order:
            t0 = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def main() -> None:
    """Start a cluster, run every workload on both clients, print the table."""
    rows: List[Tuple[str, float, float]] = []
    with LocalCluster(3, 0) as lc:
        ours = RedisCluster(startup_nodes=lc.startup_nodes, socket_timeout=10)
        host, port = lc.startup_nodes[0]["host"], lc.startup_nodes[0]["port"]
        theirs = PyRedisCluster(startup_nodes=[ClusterNode(host, port)], socket_timeout=10)
        try:
            for workload, trials in TRIALS.items():
                if workload.startswith("100 commands"):
                    steps = {"clustercore": random_slots(lambda: ClusterPipeline(ours),
                                                         random.Random(1)),
                             "redis-py": random_slots(theirs.pipeline, random.Random(1))}
                else:
                    steps = {"clustercore": one_slot(lambda: ClusterPipeline(ours)),
                             "redis-py": one_slot(theirs.pipeline)}
                times = measure(steps, trials)
                rows.append((workload, statistics.median(times["clustercore"]),
                             statistics.median(times["redis-py"])))
        finally:
            ours.close()
            theirs.close()
    print("| workload | clustercore (ms) | redis-py 8 (ms) | redis-py / clustercore |")
    print("|---|---:|---:|---:|")
    for workload, a, b in rows:
        print(f"| {workload} | {a * 1000:.3f} | {b * 1000:.3f} | {b / a:.2f}x |")


if __name__ == "__main__":
    main()
