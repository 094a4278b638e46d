"""``clustercore demo``: a local cluster, a threaded workload, a primary killed, the recovery.

What examples/demo.py (``bash scripts/demo.sh``) shows, as a live view: a LocalCluster of 3
primaries and 3 replicas on loopback, threads doing SET / GET (every read checked) / INCR
through one ClusterBlockingConnectionPool, a SIGKILL of the primary of a busy slot partway
through, the moment the client routes that slot to the promoted replica, and a summary:
commands, stale reads (none expected), errors that reached the caller, INCRs whose outcome is
unknown (reported, never re-sent), topology refreshes. Bounded by ``--seconds``; the cluster is
stopped at the end, whatever happens.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Dict, List, Optional

import click
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

import clustercore
from clustercore.testing import LocalCluster, RedisServerNotFound

from .bench import percentile
from .devcluster import INSTALL
from .errors import CliError, Exit
from .output import console

__all__ = ["Workload", "demo"]


class Workload:
    """Threads doing SET / GET / INCR on their own keys, checking every read."""

    def __init__(self, rc: clustercore.RedisCluster, threads: int, stop_at: float) -> None:
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
        self.threads = [threading.Thread(target=self.run, args=(i,), name=f"demo-{i}",
                                         daemon=True) for i in range(threads)]

    def run(self, index: int) -> None:
        """One thread's loop, bounded by time and by count."""
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
                    except clustercore.OutcomeUnknownError:
                        with self.lock:
                            self.unknown_incr += 1
                            self.errors["OutcomeUnknownError (INCR, not re-sent)"] += 1
            except clustercore.ClusterCoreError as exc:
                with self.lock:
                    self.errors[type(exc).__name__] += 1
            elapsed = time.perf_counter() - start
            with self.lock:
                self.ops += 1
                self.latencies.append(elapsed)
                self.max_latency = max(self.max_latency, elapsed)
            i += 1

    def take(self) -> List[float]:
        """The latencies since the last call."""
        with self.lock:
            out, self.latencies = self.latencies, []
            return out


def _view(rows: List[List[str]], events: List[str], title: str) -> RenderableType:
    table = Table(title=title)
    for column in ("t", "ops/s", "p99 ms", "in use", "idle", "waits", "errors", "slot owner"):
        table.add_column(column, justify="right" if column != "slot owner" else "left")
    for row in rows[-12:]:
        table.add_row(*row)
    return Group(table, *[Text(e, style="bold yellow") for e in events])


@click.command(epilog="""
\b
Examples:
  clustercore demo                # 14 s, 4 threads, one primary killed at 35 %
  clustercore demo --seconds 30 --threads 8
  clustercore demo --no-kill
""")
@click.option("--seconds", type=click.FloatRange(2, 600), default=14.0, show_default=True,
              help="How long the workload runs.")
@click.option("--threads", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option("--no-kill", is_flag=True, help="Do not kill a primary.")
def demo(seconds: float, threads: int, no_kill: bool) -> None:
    """A local cluster, a workload, a failover and the recovery, live (needs redis-server)."""
    out = console()
    try:
        LocalCluster.check_available()
    except RedisServerNotFound:
        raise CliError(INSTALL, Exit.CANNOT_CONNECT) from None
    out.print("starting a local Redis Cluster (3 primaries + 3 replicas, loopback) ...")
    with LocalCluster(masters=3, replicas_per_master=1, node_timeout_ms=2000) as local:
        out.print(f"healthy after {local.startup_seconds:.1f}s")
        pool = clustercore.ClusterBlockingConnectionPool(
            startup_nodes=local.startup_nodes[:1], max_connections=32, timeout=5,
            socket_timeout=1.0, socket_connect_timeout=0.5, refresh_interval=1.0)
        rc = clustercore.RedisCluster(connection_pool=pool, retry_deadline=8.0)
        try:
            work = _run(out, local, pool, rc, seconds, threads, no_kill)
        finally:
            rc.close()
    out.print("cluster stopped")
    if work.stale_reads:
        raise click.exceptions.Exit(int(Exit.PROBLEMS))


def _run(out: Console, local: LocalCluster, pool: clustercore.ClusterBlockingConnectionPool,
         rc: clustercore.RedisCluster, seconds: float, threads: int,
         no_kill: bool) -> Workload:
    out.print("discovered from one seed:\n" + pool.topology.describe())
    slot = clustercore.key_slot("demo:0:0")
    victim = next(n for n in local.primaries() if n.address == pool.address_for_slot(slot))
    started = time.monotonic()
    work = Workload(rc, threads, started + seconds)
    kill_at = started + seconds * 0.35
    killed_at: Optional[float] = None
    moved_at: Optional[float] = None
    events = [f"{threads} threads: SET / GET (checked) / INCR for {seconds:g}s"
              + ("" if no_kill else f"; SIGKILL of primary {victim.host}:{victim.port} "
                 f"(slot {slot}) at t={seconds * 0.35:.1f}s")]
    rows: List[List[str]] = []
    for t in work.threads:
        t.start()
    last_ops, last_t = 0, started
    with Live(_view(rows, events, "clustercore demo"), console=out, auto_refresh=False) as live:
        while any(t.is_alive() for t in work.threads):
            time.sleep(0.5)  # the cadence of the live view, not synchronisation
            now = time.monotonic()
            if not no_kill and killed_at is None and now >= kill_at:
                local.kill(victim)
                killed_at = now
                events.append(f"t={now - started:4.1f}s  SIGKILL primary {victim.host}:{victim.port}")
            owner = pool.address_for_slot(slot)
            if killed_at is not None and moved_at is None and owner != victim.address:
                moved_at = now
                events.append(f"t={now - started:4.1f}s  slot {slot} now routed to "
                              f"{owner} ({now - killed_at:.1f}s after the kill)")
            stats = pool.stats()
            lat = sorted(work.take())
            ops = work.ops
            rows.append([f"{now - started:4.1f}s", f"{(ops - last_ops) / (now - last_t):,.0f}",
                         f"{percentile(lat, 0.99) * 1000:.1f}", str(stats.in_use),
                         str(stats.idle), str(stats.waits), str(sum(work.errors.values())),
                         f"{owner}"])
            last_ops, last_t = ops, now
            live.update(_view(rows, events, "clustercore demo"), refresh=True)
    for t in work.threads:
        t.join(10)
    counters = sum(int(rc.get(f"demo:counter:{i}") or 0) for i in range(threads))
    stats = pool.stats()
    out.print()
    summary = Table(title="summary", show_header=False)
    summary.add_column()
    summary.add_column()
    for label, value in (
            ("commands", f"{work.ops:,} in {time.monotonic() - started:.1f}s"),
            ("longest command (the failover stall)", f"{work.max_latency:.2f}s"),
            ("stale or wrong reads", str(work.stale_reads)),
            ("errors that reached the caller", str(dict(work.errors) or "none")),
            ("INCR", f"{work.acked_incr} acknowledged, {work.unknown_incr} outcome unknown; "
                     f"counters hold {counters}"),
            ("topology refreshes", f"{stats.refreshes} ({dict(stats.refresh_triggers)})")):
        summary.add_row(label, value)
    out.print(summary)
    return work
