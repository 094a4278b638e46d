"""Read-your-writes on a real cluster (issue 14): threads write a key, then read it back from a
replica-reading client. With ``read_your_writes`` every read returns the thread's own last
write; without it a read may see an older value (asynchronous replication). Bounded: a fixed
number of rounds per thread and a time limit."""

from __future__ import annotations

import threading
import time
from typing import List

from clustercore import RedisCluster
from clustercore.testing import LocalCluster

THREADS = 4
ROUNDS = 400
TIME_LIMIT = 30.0


def _stale_reads(rc: RedisCluster, prefix: str) -> List[int]:
    """Per thread, how many reads of its own key returned something other than its last
    write. Each thread writes an increasing counter and reads it straight back."""
    stale = [0] * THREADS
    errors: List[BaseException] = []
    stop_at = time.monotonic() + TIME_LIMIT

    def worker(n: int) -> None:
        key = f"{prefix}:{n}"
        try:
            for i in range(ROUNDS):
                if time.monotonic() > stop_at:
                    break
                rc.set(key, i)
                if rc.get(key) != str(i).encode():
                    stale[n] += 1
        except BaseException as exc:  # reported below, never swallowed
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIME_LIMIT + 10)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    return stale


def _replica_gets(cluster: LocalCluster) -> int:
    """GET calls served by the replicas so far (INFO commandstats)."""
    total = 0
    for node in cluster.replicas():
        stat = cluster.info(node, "commandstats").get("cmdstat_get", "calls=0")
        total += int(stat.split("calls=")[1].split(",")[0])
    return total


def test_read_your_writes_never_reads_an_older_value(cluster: LocalCluster) -> None:
    rc = RedisCluster(startup_nodes=cluster.startup_nodes, read_policy="replicas",
                      read_your_writes=2.0)
    try:
        before = _replica_gets(cluster)
        assert _stale_reads(rc, "ryw-on") == [0] * THREADS
        assert _replica_gets(cluster) == before  # every own read went to the primary
        assert rc.connection_pool.stats().in_use == 0
    finally:
        rc.close()


def test_replica_reads_without_it_are_routed_to_replicas(cluster: LocalCluster) -> None:
    """The counterpart: with the window off the same reads go to replicas (stale values are
    possible; their number depends on the machine, so it is counted, not asserted)."""
    rc = RedisCluster(startup_nodes=cluster.startup_nodes, read_policy="replicas")
    try:
        before = _replica_gets(cluster)
        stale = _stale_reads(rc, "ryw-off")
        assert _replica_gets(cluster) - before >= THREADS * 10  # replicas served the reads
        print(f"stale reads without read_your_writes: {stale}")
    finally:
        rc.close()
