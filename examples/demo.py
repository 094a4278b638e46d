"""clustercore demo: a real local Redis Cluster, a threaded workload, and a primary killed midway.

Run with ``bash scripts/demo.sh`` (installs redis-server and a virtualenv when missing).
Everything listens on 127.0.0.1; the cluster's processes are stopped at the end.

What it shows: discovery from one seed, a multi-threaded mixed workload through
ClusterBlockingConnectionPool + RedisCluster with a live line of throughput, p99 latency and pool
stats, a SIGKILL of a primary halfway through, the client riding through the failover (idempotent
commands are retried; a non-idempotent INCR whose reply was lost is reported, never re-sent), and
an ordered shutdown.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from clustercore import (
    ClusterBlockingConnectionPool,
    ClusterCoreError,
    NodeAddress,
    OutcomeUnknownError,
    RedisCluster,
    key_slot,
    resp,
)
from clustercore.testing import LocalCluster


class Workload:
    """Threads doing SET/GET/INCR on their own keys and checking every read."""

    def __init__(self, rc: RedisCluster, threads: int, stop_at: float) -> None:
        self.rc = rc
        self.stop_at = stop_at
        self.lock = threading.Lock()
        self.latencies: List[float] = []
        self.ops = 0
        self.errors: Counter[str] = Counter()
        self.stale_reads = 0
        self.max_latency = 0.0
        self.acked_incr = 0
        self.unknown_incr = 0
        self.threads = [threading.Thread(target=self.run, args=(i,), name=f"demo-{i}")
                        for i in range(threads)]

    def run(self, index: int) -> None:
        written: Dict[str, int] = {}
        i = 0
        while time.monotonic() < self.stop_at and i < 5_000_000:
            key = f"demo:{index}:{i % 300}"
            start = time.perf_counter()
            try:
                if i % 3 == 0:
                    self.rc.set(key, i)
                    written[key] = i
                elif i % 3 == 1:
                    value = self.rc.get(key)
                    if key in written and value != str(written[key]).encode():
                        with self.lock:
                            self.stale_reads += 1
                else:
                    try:
                        self.rc.incr(f"demo:counter:{index}")
                        with self.lock:
                            self.acked_incr += 1
                    except OutcomeUnknownError:
                        with self.lock:
                            self.unknown_incr += 1
                            self.errors["OutcomeUnknownError (INCR, not re-sent)"] += 1
            except ClusterCoreError as exc:
                with self.lock:
                    self.errors[type(exc).__name__] += 1
            elapsed = time.perf_counter() - start
            with self.lock:
                self.ops += 1
                self.latencies.append(elapsed)
                self.max_latency = max(self.max_latency, elapsed)
            i += 1

    def take(self) -> List[float]:
        with self.lock:
            out, self.latencies = self.latencies, []
            return out


def p99(values: List[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main() -> int:
    """Start a cluster, run the workload, kill a primary midway, report, shut down."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=14.0, help="workload duration")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--no-kill", action="store_true", help="do not kill a primary")
    args = parser.parse_args()

    print("starting a local Redis Cluster (3 primaries + 3 replicas, node timeout 2 s) ...")
    with LocalCluster(masters=3, replicas_per_master=1, node_timeout_ms=2000) as cluster:
        print(f"  healthy after {cluster.startup_seconds:.1f}s; "
              f"reply parser: {'hiredis' if resp.HIREDIS_AVAILABLE else 'pure Python'}")
        pool = ClusterBlockingConnectionPool(
            startup_nodes=cluster.startup_nodes[:1], max_connections=32, timeout=5,
            socket_timeout=1.0, socket_connect_timeout=0.5, refresh_interval=1.0)
        rc = RedisCluster(connection_pool=pool, retry_deadline=8.0)
        print("\ndiscovered from one seed:\n" + pool.topology.describe())

        victim_slot = key_slot("demo:0:0")
        victim = next(n for n in cluster.primaries()
                      if n.address == pool.address_for_slot(victim_slot))
        victim_address = NodeAddress(*victim.address)
        started = time.monotonic()
        work = Workload(rc, args.threads, started + args.seconds)
        kill_at = started + args.seconds * 0.35
        killed_at = None
        failover_seen_at = None
        print(f"\n{args.threads} threads: SET / GET (checked) / INCR for {args.seconds:.0f}s"
              + ("" if args.no_kill else f"; will SIGKILL primary {victim_address} at "
                 f"t={kill_at - started:.1f}s"))
        for t in work.threads:
            t.start()
        last_ops, last_t = 0, started
        while any(t.is_alive() for t in work.threads):
            time.sleep(0.5)  # the reporting cadence of the live line, not synchronisation
            now = time.monotonic()
            if not args.no_kill and killed_at is None and now >= kill_at:
                cluster.kill(victim)
                killed_at = now
                print(f"  >>> t={now - started:4.1f}s  SIGKILL primary {victim_address}")
            if killed_at is not None and failover_seen_at is None and (
                    pool.address_for_slot(victim_slot) != victim.address):
                failover_seen_at = now
                print(f"  >>> t={now - started:4.1f}s  client now routes slot {victim_slot} "
                      f"to {pool.address_for_slot(victim_slot)} "
                      f"({now - killed_at:.1f}s after the kill)")
            ops = work.ops
            stats = pool.stats()
            lat = work.take()
            print(f"  t={now - started:4.1f}s  {(ops - last_ops) / (now - last_t):8,.0f} ops/s  "
                  f"p99={p99(lat) * 1000:6.1f}ms  in_use={stats.in_use:2} idle={stats.idle:2} "
                  f"waits={stats.waits} errors={sum(work.errors.values())}")
            last_ops, last_t = ops, now
        for t in work.threads:
            t.join(10)

        counters = sum(int(rc.get(f"demo:counter:{i}") or 0) for i in range(args.threads))
        print("\nsummary:")
        print(f"  commands: {work.ops:,} in {time.monotonic() - started:.1f}s; "
              f"longest single command (the failover stall): {work.max_latency:.2f}s")
        print(f"  stale or wrong reads: {work.stale_reads}")
        print(f"  errors that reached the caller: {dict(work.errors) or 'none'}")
        print(f"  INCR: {work.acked_incr} acknowledged, {work.unknown_incr} outcome unknown; "
              f"counters hold {counters} (= acknowledged + the unknown ones that did apply)")
        stats = pool.stats()
        print(f"  topology refreshes: {stats.refreshes} "
              f"(triggers: {dict(stats.refresh_triggers)})")
        print(f"  pool: {pool!r}")
        rc.close()
        print(f"  after close(): {pool!r}")
    print("cluster stopped; done")
    return 0 if work.stale_reads == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
