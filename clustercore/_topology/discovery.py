"""Topology discovery: ask seeds for the slot layout without ever touching the callers' pools.

Each probe opens its own short-lived connection (``probe_timeout`` covers connect, handshake and
the reply), so pool exhaustion can never deadlock a refresh and a frozen node costs at most one
probe timeout on a thread nobody waits for. Probes are *hedged*: the first seed is asked at once,
and when it has not answered within ``hedge_delay`` the next one is asked in parallel, and so on;
the first complete answer wins. Seeds are shuffled, and the node that just failed goes last.

The server is asked ``CLUSTER SHARDS`` (Redis >= 7: it also says which nodes are failed or loading)
and ``CLUSTER SLOTS`` when it does not know SHARDS.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from time import monotonic
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .._address import NodeAddress
from .._net.connection import ClusterConnection
from ..errors import (
    ClusterCoreError,
    RedisClusterConfigError,
    ResponseError,
    TLSVerificationError,
)
from .merge import merge_views
from .parse import parse_cluster_shards, parse_cluster_slots
from .remap import Remapper
from .snapshot import Topology

__all__ = ["Discovery"]

_log = logging.getLogger("clustercore.discovery")

ProbeConnector = Callable[[NodeAddress, float], ClusterConnection]


class Discovery:
    """Finds the current Topology from a list of candidate nodes (seeds and known nodes)."""

    def __init__(
        self,
        connect: ProbeConnector,
        *,
        remap: Optional[Remapper] = None,
        skip_full_coverage_check: bool = False,
        probe_timeout: float = 2.0,
        hedge_delay: float = 0.25,
        prefer_tls: bool = False,
        rng: Optional[random.Random] = None,
    ) -> None:
        self._connect = connect
        self.remap = remap
        self.skip_full_coverage_check = skip_full_coverage_check
        self.probe_timeout = probe_timeout
        self.hedge_delay = hedge_delay
        self.prefer_tls = prefer_tls
        self._rng = rng or random.Random()
        self._shards_unsupported = False
        self._threads: List[threading.Thread] = []
        self._threads_lock = threading.Lock()

    def order(self, seeds: Sequence[NodeAddress], avoid: Optional[NodeAddress] = None,
              known: Sequence[NodeAddress] = ()) -> List[NodeAddress]:
        """Candidates to ask: known nodes then seeds, each group shuffled, ``avoid`` last."""
        groups = [list(known), [s for s in seeds if s not in known]]
        out: List[NodeAddress] = []
        for group in groups:
            self._rng.shuffle(group)
            out += [a for a in group if a not in out]
        if avoid is not None and avoid in out:
            out.remove(avoid)
            out.append(avoid)
        return out

    def discover(self, candidates: Sequence[NodeAddress], epoch: int,
                 deadline: Optional[float] = None) -> Topology:
        """Ask candidates (hedged) until one gives a usable layout; raise a clear error if none.

        The error lists what each candidate answered.
        """
        if not candidates:
            raise RedisClusterConfigError("no startup nodes to discover the cluster from")
        if deadline is None:
            deadline = monotonic() + self.probe_timeout * max(2, len(candidates))
        results: queue.Queue[Tuple[NodeAddress, Optional[Topology], Optional[BaseException]]]
        results = queue.Queue()
        answers: Dict[NodeAddress, str] = {}
        refused: List[TLSVerificationError] = []  # certificates not accepted
        good: List[Topology] = []
        pending = list(candidates)
        in_flight = 0
        next_start = monotonic()
        while True:
            now = monotonic()
            # Start the next probe when nothing is in flight or the last one is slow (hedging).
            if pending and (in_flight == 0 or now >= next_start):
                self._start_probe(pending.pop(0), epoch, results)
                in_flight += 1
                next_start = now + self.hedge_delay
            if in_flight == 0 or now >= deadline:
                break
            wait_until = min(deadline, next_start) if pending else deadline
            try:
                address, topology, error = results.get(timeout=max(0.0, wait_until - now))
            except queue.Empty:
                continue
            in_flight -= 1
            if topology is None:
                answers[address] = _describe(error)
                if isinstance(error, TLSVerificationError):
                    refused.append(error)
                continue
            good.append(topology)
            answers[address] = "ok"
            while True:  # take what else has already arrived, then decide
                try:
                    address, topology, error = results.get_nowait()
                except queue.Empty:
                    break
                if topology is not None:
                    good.append(topology)
            break
        if not good and refused:
            raise refused[0]  # a refused certificate is what to fix: that typed error, its cause
        if not good:
            lines = "\n".join(f"  {addr}: {answers.get(addr, 'no answer in time')}"
                              for addr in candidates)
            raise RedisClusterConfigError(
                "could not discover the cluster layout from any startup node:\n" + lines)
        if len(good) == 1:
            return good[0]
        merged, disagreements = merge_views(good, epoch=epoch)
        if disagreements:
            _log.warning("nodes disagree on the slot layout; resolved by majority: %s",
                         "; ".join(disagreements))
        return merged

    def _start_probe(self, address: NodeAddress, epoch: int, results: queue.Queue[Any]) -> None:
        def run() -> None:
            try:
                results.put((address, self.probe(address, epoch), None))
            except BaseException as exc:  # reported, not raised: this runs on a helper thread
                results.put((address, None, exc))
            finally:
                with self._threads_lock:
                    self._threads.remove(thread)

        thread = threading.Thread(target=run, name=f"clustercore-probe-{address}", daemon=True)
        with self._threads_lock:
            self._threads.append(thread)
        thread.start()

    def probe(self, address: NodeAddress, epoch: int) -> Topology:
        """Ask one node for the layout over a dedicated connection; raise if unusable."""
        conn = self._connect(address, self.probe_timeout)
        try:
            conn.connect()
            topology = self._ask(conn, address, epoch)
            if (not topology.is_fully_covered and not self.skip_full_coverage_check
                    and _requires_full_coverage(conn)):
                raise RedisClusterConfigError(
                    f"covers only {topology.covered_slots()} of 16384 slots "
                    f"(missing {_ranges(topology.uncovered_ranges())})", node=address)
            return topology
        finally:
            conn.disconnect()

    def _ask(self, conn: ClusterConnection, address: NodeAddress, epoch: int) -> Topology:
        if not self._shards_unsupported:
            try:
                reply = conn.execute("CLUSTER", "SHARDS")
            except ResponseError as exc:
                if "unknown" not in exc.message.lower():
                    raise
                self._shards_unsupported = True
            else:
                return parse_cluster_shards(reply, address, remap=self.remap, epoch=epoch,
                                            prefer_tls=self.prefer_tls)
        reply = conn.execute("CLUSTER", "SLOTS")
        return parse_cluster_slots(reply, address, remap=self.remap, epoch=epoch)

    def after_fork(self) -> None:
        """In a forked child: the parent's probe threads do not exist here, and their lock may
        have been held at the instant of the fork; start with none and a new lock."""
        self._threads = []
        self._threads_lock = threading.Lock()

    def join(self, timeout: float) -> None:
        """Wait (bounded) for probe threads still running; used by the pool's close()."""
        end = monotonic() + timeout
        with self._threads_lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, end - monotonic()))


def _requires_full_coverage(conn: ClusterConnection) -> bool:
    """Whether the node refuses to serve with uncovered slots (CONFIG may be disabled: assume yes)."""
    try:
        reply = conn.execute("CONFIG", "GET", "cluster-require-full-coverage")
    except ResponseError:
        return True
    values = list(reply.values()) if isinstance(reply, dict) else list(reply)[1::2]
    return not any(v in (b"no", "no") for v in values)


def _ranges(ranges: Sequence[Tuple[int, int]], limit: int = 4) -> str:
    text = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in ranges[:limit])
    return text + (f" and {len(ranges) - limit} more" if len(ranges) > limit else "")


def _describe(error: Optional[BaseException]) -> str:
    if error is None:
        return "no answer"
    if isinstance(error, ClusterCoreError):
        text = str(error)
        node = error.node
        if node is not None:
            text = text.replace(f" (node {node})", "")
        return f"{type(error).__name__}: {text}"
    return f"{type(error).__name__}: {error}"
