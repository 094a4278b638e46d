"""clustercore demo: start a real local Redis Cluster, discover it, and do work through the pool.

Run with ``bash scripts/demo.sh`` (installs redis-server and a virtualenv when missing).
Everything listens on 127.0.0.1 and is stopped at the end.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from clustercore import resp
from clustercore.cluster_pool import ClusterBlockingConnectionPool
from clustercore.slots import key_slot
from clustercore.testing import LocalCluster


def main() -> int:
    """Start a cluster, show the layout, run a short threaded workload, print pool stats."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--masters", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    print(f"starting a local cluster: {args.masters} primaries x {args.replicas} replica(s) ...")
    with LocalCluster(masters=args.masters, replicas_per_master=args.replicas) as cluster:
        print(f"  healthy after {cluster.startup_seconds:.2f}s")
        parser_kind = "hiredis" if resp.HIREDIS_AVAILABLE else "pure Python"
        pool = ClusterBlockingConnectionPool(startup_nodes=cluster.startup_nodes[:1],
                                             max_connections=20, timeout=5)
        with pool:
            print("\ndiscovered from one seed:")
            print(pool.topology.describe())
            print(f"\nreply parser: {parser_kind}")

            key = "demo:greeting"
            conn = pool.get_connection_by_key(key)
            try:
                conn.execute("SET", key, "hello, cluster")
                value = conn.execute("GET", key)
            finally:
                pool.release(conn)
            print(f"round trip: slot {key_slot(key)} on {conn.address}: GET -> {value!r}")

            deadline = time.monotonic() + args.seconds
            done = [0] * args.threads

            def work(index: int) -> None:
                i = 0
                while time.monotonic() < deadline and i < 1_000_000:
                    k = f"demo:{index}:{i % 1000}"
                    c = pool.get_connection_by_key(k)
                    try:
                        c.execute("SET", k, i)
                        c.execute("GET", k)
                    finally:
                        pool.release(c)
                    i += 1
                done[index] = i

            print(f"\n{args.threads} threads doing SET+GET for {args.seconds:.0f}s ...")
            threads = [threading.Thread(target=work, args=(i,)) for i in range(args.threads)]
            started = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join(args.seconds + 30)
            elapsed = time.monotonic() - started
            ops = 2 * sum(done)
            print(f"  {ops} commands in {elapsed:.2f}s = {ops / elapsed:,.0f} commands/s")
            stats = pool.stats()
            print(f"\npool: {pool!r}")
            for node in sorted(stats.nodes, key=lambda n: n.address):
                print(f"  {node.address} {node.role or '?':6} created={node.created} "
                      f"in_use={node.in_use} idle={node.idle} waits={node.waits}")
        print("\npool closed; stopping the cluster")
    print("done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
