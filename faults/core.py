"""The harness: a bounded multi-threaded workload, its bookkeeping, and the verdict.

A scenario runs ``threads`` workers sharing one client.  Each worker owns its keys, so every
read has one right answer and every acknowledged write one expected final value:

* ``SET k v`` acknowledged -> the key must end as ``v`` or as a later write of the same worker
  that failed (a failed write may or may not have run).  Anything older or missing is **lost**;
  a value the worker never wrote is **wrong**.
* ``GET k`` must return the last acknowledged value or a failed later one; otherwise it is a
  **wrong** read (a **stale** read when the scenario reads from replicas, where async
  replication makes it expected).
* ``INCR c`` acknowledged as ``n`` -> the next acknowledged reply lies in ``n+1 .. n+1+u`` (``u``
  = INCRs since that raised).  Less is lost increments, more is an increment applied twice
  (**wrong**); the final value is checked the same way.

Every worker stops at ``max_ops`` or at the scenario's time limit, whichever comes first.
After the run the client is closed, its sockets and threads counted, the cluster healed, and
every key read back over raw RESP (:mod:`faults.resp`), never through the client under test.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

from . import resp
from .clients import Adapter

Address = Tuple[str, int]


def socket_fds(exclude: Set[int] = frozenset()) -> int:  # type: ignore[assignment]
    """Sockets this process holds (``/proc/self/fd`` entries that are sockets), minus ``exclude``."""
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:") and int(name) not in exclude:
            count += 1
    return count


def poll(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until true or ``timeout`` passes; whether it became true."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= end:
            return False
        time.sleep(interval)
    return True


# ---- the per-worker model -------------------------------------------------------------------


#: A primary that fails (SIGKILL, SIGSTOP, cut off) takes with it the writes it acknowledged
#: but had not yet streamed to its replica: Redis replicates asynchronously. A read or final
#: value that is an *older* value of the key (or of the counter), where every newer
#: acknowledgement came at most this long before the fault, is counted as **rolled back** by
#: the failover (the server's loss, reported on its own), not as lost or wrong.
ROLLBACK_WINDOW = 1.0


def rolled_back(acks: Sequence[Tuple[Any, float]], got: Any, fault_at: Optional[float]) -> bool:
    """Whether ``got`` is an earlier acknowledged state (``None``: before the first ack) and
    every acknowledgement after it came within ROLLBACK_WINDOW before the fault."""
    if fault_at is None:
        return False
    values = [v for v, _ in acks]
    if got is None:
        newer = list(acks)
    elif got in values:
        newer = list(acks[len(values) - values[::-1].index(got):])
    else:
        return False
    return bool(newer) and window_before(newer, fault_at)


def window_before(acks: Sequence[Tuple[Any, float]], fault_at: Optional[float]) -> bool:
    """Every acknowledgement in ``acks`` came at most ROLLBACK_WINDOW before the fault."""
    return fault_at is not None and all(
        fault_at - ROLLBACK_WINDOW <= t <= fault_at for _, t in acks)


@dataclass
class KeyState:
    """What one key may hold: the last acknowledged value and the values of failed writes since."""

    acked: Optional[bytes] = None
    history: List[bytes] = field(default_factory=list)  # every value ever written, in order
    maybe: List[bytes] = field(default_factory=list)
    #: (value, when) of every acknowledged write, in order (for the rollback rule)
    acks: List[Tuple[bytes, float]] = field(default_factory=list)

    def allowed(self) -> List[Optional[bytes]]:
        return [self.acked, *self.maybe]

    def ack(self, value: bytes) -> None:
        self.acked, self.maybe = value, []
        self.acks.append((value, time.monotonic()))

    def roll_back(self, value: Optional[bytes]) -> None:
        """The server went back to ``value`` (a failover lost the newer writes)."""
        self.acked = value
        values = [v for v, _ in self.acks]
        keep = 0 if value is None else len(values) - values[::-1].index(value)
        del self.acks[keep:]


@dataclass
class CounterState:
    """An INCR counter: last acknowledged reply and INCRs since that raised."""

    acked: int = 0
    unknown: int = 0
    acks: List[Tuple[int, float]] = field(default_factory=list)


@dataclass
class Tally:
    """Counts of one worker (merged into the scenario's result)."""

    ops: int = 0
    acked_writes: int = 0
    lost: int = 0
    wrong: int = 0
    stale: int = 0
    rolled_back: int = 0
    outcome_unknown: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    max_latency: float = 0.0
    max_latency_op: str = ""
    # (start, end) of successful ops on the fault's keys, for the recovery time
    victim_ok: List[Tuple[float, float]] = field(default_factory=list)
    # (start, end, type, message) of the first errors, for the report
    error_events: List[Tuple[float, float, str, str]] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)


class Worker:
    """One thread's keys, model and loop."""

    def __init__(self, index: int, keys: Sequence[str], counter: Optional[str],
                 victim_keys: Set[str], ops: Sequence[str], seed: int) -> None:
        self.index = index
        self.keys = list(keys)
        self.counter = counter
        self.victim_keys = victim_keys
        self.ops = list(ops)
        self.rng = random.Random(seed)
        self.state: Dict[str, KeyState] = {k: KeyState() for k in keys}
        self.ctr = CounterState()
        self.tally = Tally()
        self.seq = 0

    def value(self) -> bytes:
        self.seq += 1
        return f"w{self.index}:{self.seq}".encode()


class Workload:
    """N workers sharing one client, bounded by ``max_ops`` per worker and ``time_limit``."""

    def __init__(self, client: Any, adapter: Adapter, workers: Sequence[Worker], *,
                 max_ops: int, time_limit: float, replica_reads: bool = False) -> None:
        self.client = client
        self.adapter = adapter
        self.workers = list(workers)
        self.max_ops = max_ops
        self.time_limit = time_limit
        self.replica_reads = replica_reads
        self.stop_event = threading.Event()
        self.started = 0.0
        #: When the fault began (set by the runner's mark()), for the notes' timestamps.
        self.fault_at: Optional[float] = None
        self.threads: List[threading.Thread] = []
        self._ops = 0
        self._lock = threading.Lock()

    @property
    def ops(self) -> int:
        with self._lock:
            return self._ops

    def start(self) -> Workload:
        self.started = time.monotonic()
        for w in self.workers:
            th = threading.Thread(target=self._run, args=(w,), name=f"faults-worker-{w.index}",
                                  daemon=True)
            self.threads.append(th)
            th.start()
        return self

    def progressed(self, n: int, timeout: float) -> bool:
        """Wait until ``n`` more operations completed (or ``timeout``)."""
        mark = self.ops
        return poll(lambda: self.ops >= mark + n or self.finished(), timeout)

    def finished(self) -> bool:
        return all(not th.is_alive() for th in self.threads)

    def stop(self, timeout: float = 60.0) -> None:
        """Ask every worker to stop and join them (each call is bounded by the client's own
        deadlines; a worker still alive after ``timeout`` is reported as a hang)."""
        self.stop_event.set()
        end = time.monotonic() + timeout
        for th in self.threads:
            th.join(max(0.0, end - time.monotonic()))
        for w, th in zip(self.workers, self.threads):
            if th.is_alive():
                w.tally.notes.append(f"worker {w.index} still inside a call {timeout:.0f}s "
                                     "after stop (hang)")

    # ---- one worker ---------------------------------------------------------------------------

    def _run(self, w: Worker) -> None:
        end = self.started + self.time_limit
        while not self.stop_event.is_set() and w.tally.ops < self.max_ops:
            if time.monotonic() >= end:
                break
            kind = w.ops[w.tally.ops % len(w.ops)]
            key = w.keys[0] if kind == "multi" else w.keys[w.rng.randrange(len(w.keys))]
            t0 = time.monotonic()
            ok = True
            try:
                self._one(w, kind, key)
            except Exception as exc:  # every error reaching the caller is counted
                ok = False
                self._failed(w, kind, key, exc)
                if len(w.tally.error_events) < 10:
                    w.tally.error_events.append((t0, time.monotonic(), type(exc).__name__,
                                                 f"{kind} {key}: {str(exc)[:160]}"))
            t1 = time.monotonic()
            lat = t1 - t0
            if lat > w.tally.max_latency:
                w.tally.max_latency, w.tally.max_latency_op = lat, f"{kind} {key}"
            if ok and (key in w.victim_keys or kind == "incr"):
                w.tally.victim_ok.append((t0, t1))
            w.tally.ops += 1
            with self._lock:
                self._ops += 1

    def _pipe_keys(self, w: Worker, key: str) -> List[str]:
        i = w.keys.index(key)
        return [w.keys[(i + j) % len(w.keys)] for j in range(min(4, len(w.keys)))]

    def _one(self, w: Worker, kind: str, key: str) -> None:
        c = self.client
        if kind == "set":
            v = w.value()
            st = w.state[key]
            st.history.append(v)
            st.maybe.append(v)  # until acknowledged
            if c.set(key, v) is not True:
                raise RuntimeError("SET did not answer OK")
            st.ack(v)
            w.tally.acked_writes += 1
        elif kind == "get":
            got = c.get(key)
            st = w.state[key]
            if got not in st.allowed():
                if self.replica_reads:
                    w.tally.stale += 1
                elif rolled_back(st.acks, got, self.fault_at):
                    w.tally.rolled_back += 1
                    w.tally.notes.append(f"GET {key} -> {got!r}: rolled back by the failover "
                                         f"(newer writes acknowledged <= {ROLLBACK_WINDOW:g} s "
                                         f"before the fault){self._when()}")
                    st.roll_back(got)
                else:
                    w.tally.wrong += 1
                    w.tally.notes.append(f"GET {key} -> {got!r}, expected "
                                         f"{w.state[key].allowed()!r}{self._when()}")
        elif kind == "incr":
            assert w.counter is not None
            w.ctr.unknown += 1
            n = int(c.incr(w.counter))
            w.ctr.unknown -= 1
            self._check_incr(w, n)
            w.tally.acked_writes += 1
        elif kind in ("pipe", "multi"):
            # a transaction stays on one slot: the worker's first key and its counter
            keys = [w.keys[0]] if kind == "multi" else self._pipe_keys(w, key)
            vals = [w.value() for _ in keys]
            for k, v in zip(keys, vals):
                w.state[k].history.append(v)
                w.state[k].maybe.append(v)
            pipe = self.adapter.pipeline(c, transaction=(kind == "multi"))
            for k, v in zip(keys, vals):
                pipe.set(k, v)
            if kind == "multi":
                assert w.counter is not None
                pipe.incr(w.counter)
                w.ctr.unknown += 1
            res = pipe.execute()
            for k, v, r in zip(keys, vals, res):
                if r is not True and r != b"OK":  # redis-py's cluster MULTI: raw b"OK"
                    raise RuntimeError(f"pipelined SET answered {r!r}")
                w.state[k].ack(v)
                w.tally.acked_writes += 1
            if kind == "multi":
                w.ctr.unknown -= 1
                self._check_incr(w, int(res[-1]))
                w.tally.acked_writes += 1
        else:  # pragma: no cover - a scenario's typo
            raise ValueError(f"unknown op kind {kind!r}")

    def _when(self) -> str:
        """When, for a note: seconds since the workload started (and since the fault)."""
        now = time.monotonic()
        fault = self.fault_at
        since = "" if fault is None else f", {now - fault:+.2f} s from the fault"
        return f" (at {now - self.started:.2f} s{since})"

    def _check_incr(self, w: Worker, n: int) -> None:
        lo, hi = w.ctr.acked + 1, w.ctr.acked + 1 + w.ctr.unknown
        newer = [(v, t) for v, t in w.ctr.acks if v >= n]  # acknowledged, now gone
        if n < lo and newer and window_before(newer, self.fault_at):
            w.tally.rolled_back += 1
            w.tally.notes.append(f"INCR {w.counter} -> {n}, after {w.ctr.acked}: rolled back by "
                                 f"the failover{self._when()}")
        elif n < lo:
            w.tally.lost += 1
            w.tally.notes.append(f"INCR {w.counter} -> {n}, expected >= {lo} (lost increments)"
                                 f"{self._when()}")
        elif n > hi:
            w.tally.wrong += 1
            w.tally.notes.append(f"INCR {w.counter} -> {n}, expected <= {hi} (applied twice)"
                                 f"{self._when()}")
        w.ctr.acks = [(v, t) for v, t in w.ctr.acks if v < n]
        w.ctr.acks.append((n, time.monotonic()))
        w.ctr.acked, w.ctr.unknown = n, 0

    def _failed(self, w: Worker, kind: str, key: str, exc: Exception) -> None:
        if self.adapter.is_outcome_unknown(exc):
            w.tally.outcome_unknown += 1
        else:
            w.tally.errors[type(exc).__name__] += 1


def make_workers(keys_per_worker: Sequence[Sequence[str]], counters: Sequence[Optional[str]],
                 victim_keys: Set[str], ops: Sequence[str], seed: int) -> List[Worker]:
    """Workers over the given keys (worker i seeded with ``seed + i``)."""
    return [Worker(i, ks, counters[i], victim_keys, ops, seed + i)
            for i, ks in enumerate(keys_per_worker)]


def verify(workers: Sequence[Worker], addresses: Sequence[Address], ssl_context: Any = None,
           fault_at: Optional[float] = None) -> None:
    """Read every key and counter over raw RESP and add lost / wrong / rolled back (see
    ROLLBACK_WINDOW) to the tallies."""
    keys: List[str] = []
    for w in workers:
        keys += w.keys
        if w.counter:
            keys.append(w.counter)
    got = resp.read_keys(addresses, keys, ssl_context=ssl_context, timeout=30)
    for w in workers:
        for k, st in w.state.items():
            final = got[k]
            if final in st.allowed():
                continue
            if rolled_back(st.acks, final, fault_at):
                w.tally.rolled_back += 1
                w.tally.notes.append(f"{k} ends as {final!r}: rolled back by the failover "
                                     f"(acknowledged {st.acked!r} <= {ROLLBACK_WINDOW:g} s "
                                     "before the fault)")
            elif final is None or final in st.history:
                w.tally.lost += 1
                w.tally.notes.append(f"{k} ends as {final!r}; acknowledged {st.acked!r}")
            else:
                w.tally.wrong += 1
                w.tally.notes.append(f"{k} ends as {final!r}, never written")
        if w.counter:
            final_n = int(got[w.counter] or 0)
            gone = [(v, t) for v, t in w.ctr.acks if v > final_n]
            if final_n < w.ctr.acked and gone and window_before(gone, fault_at):
                w.tally.rolled_back += 1
                w.tally.notes.append(f"{w.counter} ends {final_n} < acknowledged {w.ctr.acked}: "
                                     "rolled back by the failover")
            elif final_n < w.ctr.acked:
                w.tally.lost += 1
                w.tally.notes.append(f"{w.counter} ends {final_n} < acknowledged {w.ctr.acked}")
            elif final_n > w.ctr.acked + w.ctr.unknown:
                w.tally.wrong += 1
                w.tally.notes.append(f"{w.counter} ends {final_n} > {w.ctr.acked}+"
                                     f"{w.ctr.unknown} (applied twice)")


# ---- promotion watcher ----------------------------------------------------------------------


class PromotionWatcher:
    """Polls CLUSTER NODES over raw RESP (every 50 ms) until ``slot`` is served by a primary
    other than ``old_id``; records when (monotonic)."""

    def __init__(self, addresses: Callable[[], Sequence[Address]], slot: int, old_id: str,
                 ssl_context: Any = None, timeout: float = 60.0) -> None:
        self.addresses = addresses
        self.slot = slot
        self.old_id = old_id
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.promoted_at: Optional[float] = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="faults-watcher", daemon=True)

    def start(self) -> PromotionWatcher:
        self._thread.start()
        return self

    def _run(self) -> None:
        end = time.monotonic() + self.timeout
        while not self._stop.is_set() and time.monotonic() < end:
            for a in self.addresses():
                try:
                    entries = resp.cluster_nodes(a, timeout=0.5, ssl_context=self.ssl_context)
                except OSError:
                    continue
                if any(e.is_master and e.owns(self.slot) and e.node_id != self.old_id
                       and "myself" in e.flags for e in entries):
                    self.promoted_at = time.monotonic()
                    return
            self._stop.wait(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


# ---- result ---------------------------------------------------------------------------------


@dataclass
class Result:
    """One scenario's figures for one client."""

    scenario: str
    client: str
    applies: bool = True
    ops: int = 0
    acked: int = 0
    lost: int = 0
    wrong: int = 0
    stale: int = 0
    rolled_back: int = 0
    outcome_unknown: int = 0
    errors: Dict[str, int] = field(default_factory=dict)
    max_stall: float = 0.0
    stall_op: str = ""
    promotion: Optional[float] = None
    recovery: Optional[float] = None
    topology_fetches: Optional[int] = None
    sockets_after_close: Optional[int] = None
    threads_after_close: Optional[int] = None
    duration: float = 0.0
    seed: int = 0
    notes: List[str] = field(default_factory=list)
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def absorb(self, workers: Sequence[Worker]) -> None:
        """Add the workers' tallies."""
        errors: Counter[str] = Counter(self.errors)
        for w in workers:
            t = w.tally
            self.ops += t.ops
            self.acked += t.acked_writes
            self.lost += t.lost
            self.wrong += t.wrong
            self.stale += t.stale
            self.rolled_back += t.rolled_back
            self.outcome_unknown += t.outcome_unknown
            errors.update(t.errors)
            if t.max_latency > self.max_stall:
                self.max_stall, self.stall_op = t.max_latency, t.max_latency_op
            self.notes += t.notes[:5]
        self.errors = dict(errors)

    def recovery_from(self, workers: Sequence[Worker], t_fault: Optional[float]) -> None:
        """Recovery: from the fault to the end of the first successful operation on the
        fault's keys that started after it."""
        if t_fault is None:
            return
        events = sorted(e for w in workers for e in w.tally.error_events)
        for s, e, name, msg in events[:6]:
            self.notes.append(f"{name} in a call started {s - t_fault:+.2f}s after the fault, "
                              f"raised after {e - s:.2f}s: {msg}")
        ends = [e for w in workers for s, e in w.tally.victim_ok if s >= t_fault]
        self.recovery = (min(ends) - t_fault) if ends else None
