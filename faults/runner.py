"""Running one scenario for one client: environment, measurement, cleanup, verdict.

A :class:`Scenario` says what cluster it needs, which keys the workers own, how the client is
configured and what fault it injects (``fault``, run on the main thread while the workers run).
:func:`run_scenario` does the rest identically for every scenario and every client:

1. heal the cluster (restart dead nodes, wait until healthy), pick the victim and the keys;
2. ``CONFIG RESETSTAT`` on every node, count this process's sockets and threads;
3. build the client, start the workers, wait for ``warm`` operations;
4. inject the fault, let the workload run ``settle`` seconds more, stop the workers;
5. ``close()`` the client and count sockets and threads left over, sum the topology fetches
   (CLUSTER SLOTS + CLUSTER SHARDS from INFO commandstats);
6. heal again, then read every key back over raw RESP and judge it.
"""

from __future__ import annotations

import ssl
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from clustercore.testing import LocalCluster
from clustercore.testing.local.cluster import LocalNode

from . import resp
from .clients import Adapter, Connect
from .core import PromotionWatcher, Result, Worker, Workload, make_workers, poll, socket_fds, verify
from .proxy import BlackholeProxy

Address = Tuple[str, int]


@dataclass(frozen=True)
class Profile:
    """How long and how much: every loop is bounded by count and by time."""

    name: str
    warm_ops: int
    settle: float
    time_limit: float
    max_ops: int
    freeze: float
    client_kills: int
    many_slots: int


PROFILES = {
    "short": Profile("short", warm_ops=60, settle=1.5, time_limit=30.0, max_ops=200_000,
                     freeze=6.0, client_kills=5, many_slots=32),
    "full": Profile("full", warm_ops=200, settle=3.0, time_limit=60.0, max_ops=500_000,
                    freeze=6.0, client_kills=15, many_slots=160),
}


class Clusters:
    """The clusters a run uses (3 primaries + 3 replicas, cluster-node-timeout 2 s), started
    lazily and reused between scenarios (healed in between); TLS only when a scenario needs it."""

    def __init__(self, plain: Optional[LocalCluster] = None,
                 tls: Optional[LocalCluster] = None) -> None:
        self._plain = plain
        self._tls = tls
        self._given = {id(c) for c in (plain, tls) if c is not None}

    def get(self, tls: bool) -> LocalCluster:
        if tls:
            if self._tls is None:
                self._tls = LocalCluster(3, 1, node_timeout_ms=2000, tls=True).start()
            return self._tls
        if self._plain is None:
            self._plain = LocalCluster(3, 1, node_timeout_ms=2000).start()
        return self._plain

    def stop(self) -> None:
        """Stop the clusters this object started (not the ones it was given)."""
        for c in (self._plain, self._tls):
            if c is not None and id(c) not in self._given:
                c.stop()


@dataclass
class Context:
    """What a scenario's hooks work with during one run."""

    lc: LocalCluster
    adapter: Adapter
    profile: Profile
    seed: int
    ssl_context: Optional[ssl.SSLContext]
    result: Result
    victim: Optional[LocalNode] = None
    workload: Optional[Workload] = None
    client: Any = None
    proxies: Dict[Address, BlackholeProxy] = field(default_factory=dict)
    t_fault: Optional[float] = None
    watcher: Optional[PromotionWatcher] = None
    stop: threading.Event = field(default_factory=threading.Event)

    def addresses(self) -> List[Address]:
        return [n.address for n in self.lc.running_nodes()]

    def mark(self) -> None:
        """The fault starts now."""
        self.t_fault = time.monotonic()
        if self.workload is not None:
            self.workload.fault_at = self.t_fault

    def watch_promotion(self, primary: LocalNode, slot: int) -> None:
        """Start polling (raw RESP) for another primary taking ``slot`` from ``primary``."""
        others = [n for n in self.lc.nodes if n is not primary]
        self.watcher = PromotionWatcher(
            lambda: [n.address for n in others if n.is_running()], slot, primary.node_id,
            ssl_context=self.ssl_context).start()

    def wait_promoted(self, timeout: float = 30.0) -> bool:
        w = self.watcher
        return w is not None and poll(lambda: w.promoted_at is not None, timeout, 0.05)

    def hold(self, seconds: float) -> None:
        """Keep a fault in place for ``seconds`` (a fault's duration, not a synchronisation)."""
        self.stop.wait(seconds)

    def settle(self) -> None:
        """Let the workload run on after the fault: ``profile.settle`` seconds and at least
        ``warm_ops`` more operations (bounded by 30 s)."""
        assert self.workload is not None
        end = time.monotonic() + self.profile.settle
        self.workload.progressed(self.profile.warm_ops, 30)
        self.hold(max(0.0, end - time.monotonic()))


class Scenario:
    """One fault scenario; subclasses override the hooks they need."""

    name = ""
    title = ""
    what = ""
    family = ""
    tls = False
    proxies = False
    threads = 4
    ops: Sequence[str] = ("set", "get", "set", "incr")
    replica_reads = False
    applies_to: Tuple[str, ...] = ("clustercore", "redis-py")
    promotion_expected = True
    #: whether "recovery" means something (a fault that makes the victim's keys unavailable)
    measures_recovery = True
    #: seconds the fault itself keeps a node from answering when no failover follows
    fault_blocks = 0.0

    def client_kwargs(self, ctx: Context) -> Dict[str, Any]:
        return {}

    def choose_victim(self, ctx: Context) -> LocalNode:
        """By default: the primary owning the slot of the first key (random per seed)."""
        return ctx.lc.primaries()[ctx.seed % len(ctx.lc.primaries())]

    def victim_slots(self, ctx: Context) -> Set[int]:
        assert ctx.victim is not None
        for e in ctx.lc.cluster_nodes(ctx.victim):
            if "myself" in e.flags:
                return {s for a, b in e.slots for s in range(a, b + 1)}
        return set()

    def make_keys(self, ctx: Context) -> Tuple[List[List[str]], Set[str]]:
        """Per worker 12 keys, half on the victim's slots; the first is always a victim key."""
        slots = self.victim_slots(ctx)
        per: List[List[str]] = []
        victim: Set[str] = set()
        for t in range(self.threads):
            on: List[str] = []
            off: List[str] = []
            j = 0
            while len(on) < 6 or len(off) < 6:
                k = f"f:{self.name}:{ctx.adapter.name}:{ctx.seed}:{t}:{j}"
                j += 1
                if resp.key_slot(k) in slots:
                    if len(on) < 6:
                        on.append(k)
                elif len(off) < 6:
                    off.append(k)
            per.append(on + off)
            victim.update(on)
        return per, victim

    def prepare(self, ctx: Context) -> None:
        """Before the client exists (e.g. fill slots)."""

    def fault(self, ctx: Context) -> None:
        """Inject the fault while the workload runs (on the main thread)."""

    def cleanup(self, ctx: Context) -> None:
        """Undo the fault (SIGCONT, heal proxies) before the cluster is healed."""

    def run(self, ctx: Context) -> None:
        """The standard run: workers, fault, settle (scenarios of another shape override it)."""
        keys, victim_keys = self.make_keys(ctx)
        counters = ["{" + ks[0] + "}:ctr" for ks in keys]
        workers = make_workers(keys, counters, victim_keys, self.ops, ctx.seed * 100)
        self.prepare(ctx)
        connect = connect_for(ctx)
        before = _measure_before(ctx)
        ctx.client = ctx.adapter.make(connect, **self.client_kwargs(ctx))
        wl = ctx.workload = Workload(ctx.client, ctx.adapter, workers,
                                     max_ops=ctx.profile.max_ops,
                                     time_limit=ctx.profile.time_limit,
                                     replica_reads=self.replica_reads)
        try:
            wl.start()
            if not wl.progressed(ctx.profile.warm_ops, 30):
                ctx.result.notes.append("workload did not start within 30 s")
            self.fault(ctx)
            ctx.settle()
        finally:
            wl.stop()
            if ctx.watcher is not None:
                ctx.watcher.stop()
            _close_and_measure(ctx, before)
            self.cleanup(ctx)
        ctx.lc.heal(timeout=60)
        verify(workers, ctx.addresses(), ctx.ssl_context, fault_at=ctx.t_fault)
        ctx.result.absorb(workers)
        if self.measures_recovery:
            ctx.result.recovery_from(workers, ctx.t_fault)


# ---- shared steps -------------------------------------------------------------------------------


def connect_for(ctx: Context) -> Connect:
    """Seeds (or per-node proxies with a remap) and TLS files for the client under test."""
    ca = str(ctx.lc.ca_cert_path) if ctx.lc.tls else None
    if not ctx.proxies:
        return Connect(seeds=tuple(n.address for n in ctx.lc.running_nodes()), ca_cert=ca)
    remap = {a: p.address for a, p in ctx.proxies.items()}
    return Connect(seeds=tuple(p.address for p in ctx.proxies.values()), remap=remap, ca_cert=ca)


@dataclass
class _Before:
    sockets: int
    threads: Set[threading.Thread]


def _proxy_fds(ctx: Context) -> Set[int]:
    fds: Set[int] = set()
    for p in ctx.proxies.values():
        fds |= p.owned_fds()
    return fds


def _measure_before(ctx: Context) -> _Before:
    resp.reset_stats(ctx.addresses(), ssl_context=ctx.ssl_context)
    return _Before(socket_fds(_proxy_fds(ctx)), set(threading.enumerate()))


def _close_and_measure(ctx: Context, before: _Before) -> None:
    """close() the client, then count what it left: sockets, threads, topology fetches."""
    if ctx.client is not None:
        ctx.client.close()
    left = [t for t in threading.enumerate()
            if t not in before.threads and t.is_alive() and not t.name.startswith("faults-")]
    ctx.result.threads_after_close = len(left)
    if left:
        ctx.result.notes.append("threads after close: " + ", ".join(t.name for t in left))
    ctx.result.sockets_after_close = max(0, socket_fds(_proxy_fds(ctx)) - before.sockets)
    ctx.result.topology_fetches = resp.topology_fetches(ctx.addresses(),
                                                        ssl_context=ctx.ssl_context)
    if ctx.watcher is not None and ctx.watcher.promoted_at is not None and ctx.t_fault:
        ctx.result.promotion = ctx.watcher.promoted_at - ctx.t_fault


def ssl_context_for(lc: LocalCluster) -> Optional[ssl.SSLContext]:
    """A verifying TLS context for the suite's raw connections to a TLS cluster."""
    if not lc.tls:
        return None
    ctx = ssl.create_default_context(cafile=str(lc.ca_cert_path))
    return ctx


def run_scenario(scn: Scenario, adapter: Adapter, clusters: Clusters, profile: Profile,
                 seed: int) -> Result:
    """Run ``scn`` for ``adapter``'s client and return its figures (never raises for a
    scenario failure: the error is recorded in the result's notes)."""
    result = Result(scn.name, adapter.name, seed=seed)
    if adapter.name not in scn.applies_to:
        result.applies = False
        return result
    lc = clusters.get(scn.tls)
    lc.heal(timeout=60)
    ctx = Context(lc, adapter, profile, seed, ssl_context_for(lc), result)
    for primary in lc.primaries():  # the suite's own cluster: every run starts empty
        resp.call(primary.address, "FLUSHALL", ssl_context=ctx.ssl_context, timeout=10)
    t0 = time.monotonic()
    try:
        ctx.victim = scn.choose_victim(ctx)
        if scn.proxies:
            ctx.proxies = {n.address: BlackholeProxy(n.address) for n in lc.nodes}
        scn.run(ctx)
    except Exception as exc:
        result.notes.append(f"scenario failed: {type(exc).__name__}: {exc}")
        result.extra["traceback"] = traceback.format_exc()
        try:
            scn.cleanup(ctx)
        except Exception as exc2:  # still heal below
            result.notes.append(f"cleanup failed: {exc2!r}")
    finally:
        for p in ctx.proxies.values():
            p.stop()
        ctx.stop.set()
        try:
            lc.heal(timeout=60)
        except Exception as exc:
            result.notes.append(f"heal failed: {exc!r}")
    result.duration = time.monotonic() - t0
    return result


def primary_replica(lc: LocalCluster, primary: LocalNode) -> LocalNode:
    """A replica of ``primary`` (LocalCluster's view)."""
    return lc.replicas_of(primary)[0]


def first_slot(slots: Set[int]) -> int:
    return min(slots)


def workers_of(ctx: Context) -> Sequence[Worker]:
    assert ctx.workload is not None
    return ctx.workload.workers
