"""examples/flask_app under gunicorn (2 workers x 4 gthreads, --preload) on a throw-away 3+3
cluster, with a primary SIGKILLed halfway through a concurrent load.

Checked: the master connected before forking and no worker ever uses one of its sockets or
another worker's (each primary's CLIENT INFO names a client address used by one process
only); the cached view renders once for both workers; the rate limit is exact across them;
no request answers 500 and every non-200 is the 503 the docs promise; each counter equals
the acknowledged increments plus at most the unknown ones, and no acknowledged value repeats;
after gunicorn stops, every node is back to its baseline of client connections.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import pytest

from clustercore import RedisCluster, key_slot
from clustercore.testing import LocalCluster

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "flask_app"
WORKERS, THREADS = 2, 4
HTTP_TIMEOUT = 20.0  # longer than the app's retry_deadline (8 s)


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)  # a poll interval, not a synchronisation


class Gunicorn:
    """One gunicorn master we started (and its workers), on 127.0.0.1 with a kernel-chosen
    port read from its log."""

    def __init__(self, env: Dict[str, str], log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
             "--bind", "127.0.0.1:0", "--error-logfile", str(log), "app:create_app()"],
            cwd=EXAMPLE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.port = 0
        self.worker_pids: List[int] = []

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def wait_ready(self, timeout: float = 30.0) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited ({self.proc.returncode}):\n{self.log_text()}")
            text = self.log_text()
            listening = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", text)
            booted = [int(p) for p in re.findall(r"Booting worker with pid: (\d+)", text)]
            if listening and len(booted) >= WORKERS:
                self.port, self.worker_pids = int(listening.group(1)), booted
                return True
            return False
        wait_until(ready, timeout, "gunicorn to listen with both workers")

    def get(self, path: str, headers: Optional[Dict[str, str]] = None) -> Tuple[int, Any]:
        """(status, parsed JSON body or text); status 0 for a transport failure."""
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as resp:
                status, body = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        except OSError as exc:
            return 0, repr(exc)
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body.decode("utf-8", "replace")

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (graceful) to the master; SIGKILL to it and its workers, by pid, if it
        has not exited in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
                return
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for pid in self.worker_pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def normal_clients(lc: LocalCluster) -> Dict[int, int]:
    """Per running node: its normal client connections, redis-cli's own excluded."""
    out = {}
    for node in lc.running_nodes():
        lines = [ln for ln in lc.cli(node, "CLIENT", "LIST", "TYPE", "normal").splitlines() if ln]
        out[node.port] = len(lines) - 1
    return out


@dataclass
class Load:
    """Concurrent /incr requests: every answer kept, per counter."""

    server: Gunicorn
    counters: List[str]
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    acked: Dict[str, List[int]] = field(default_factory=lambda: defaultdict(list))
    unknown: Counter = field(default_factory=Counter)  # type: ignore[type-arg]
    statuses: Counter = field(default_factory=Counter)  # type: ignore[type-arg]
    failures: List[Tuple[int, Any]] = field(default_factory=list)
    pids: Set[int] = field(default_factory=set)

    def drive(self, thread: int, limit: int = 2000) -> None:
        for n in range(limit):  # bounded even if the stop never came
            if self.stop.is_set():
                return
            name = self.counters[(thread + n) % len(self.counters)]
            status, body = self.server.get(f"/incr/{name}")
            with self.lock:
                self.statuses[status] += 1
                if status == 200:
                    self.acked[name].append(int(body["value"]))
                    self.pids.add(int(body["pid"]))
                else:
                    self.unknown[name] += 1
                    self.failures.append((status, body))

    def total_acked(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.acked.values())


def spread_counters(lc: LocalCluster) -> List[str]:
    """Six counter names whose keys cover every primary (two each at least once)."""
    names: List[str] = []
    owners: Counter = Counter()  # type: ignore[type-arg]
    for _ in range(500):
        name = uuid.uuid4().hex[:12]
        owner = lc.slot_owner(key_slot(f"example:counter:{name}")).port
        if owners[owner] < 2:
            names.append(name)
            owners[owner] += 1
        if len(names) == 6:
            return names
    raise AssertionError(f"could not spread counters: {owners}")


@pytest.mark.timeout(240)
def test_example_app_under_gunicorn_survives_a_failover(
        make_cluster: Callable[..., LocalCluster], tmp_path: Path,
        record_property: Callable[[str, Any], None]) -> None:
    lc = make_cluster(3, 1, node_timeout_ms=1000)
    baseline = normal_clients(lc)
    assert set(baseline.values()) == {0}, baseline
    seeds = ",".join(f"{n['host']}:{n['port']}" for n in lc.startup_nodes)
    preload_report = tmp_path / "preload.json"
    env = {**os.environ, "CLUSTERCORE_URL": f"redis://{seeds}", "CLUSTERCORE_CHECK_ON_INIT": "1",
           "EXAMPLE_PRELOAD_REPORT": str(preload_report), "EXAMPLE_RATE_LIMIT": "10 per minute"}
    server = Gunicorn(env, tmp_path / "gunicorn.log")
    try:
        server.wait_ready()
        run_checks(lc, server, preload_report, record_property)
    finally:
        server.stop()
    assert server.proc.returncode == 0, server.log_text()[-3000:]
    # no connection outlives the processes: every running node is back to its baseline
    wait_until(lambda: all(v == 0 for v in normal_clients(lc).values()), 15,
               "client connections to go back to the baseline after shutdown")


def run_checks(lc: LocalCluster, server: Gunicorn, preload_report: Path,
               record_property: Callable[[str, Any], None]) -> None:
    # --- the fork: the master connected first; nobody shares a socket ---------------------------
    master = json.loads(preload_report.read_text())
    assert master["pid"] == server.proc.pid
    assert len(master["addrs"]) == 3
    owners: Dict[str, Set[int]] = defaultdict(set)
    for addr in master["addrs"]:
        owners[addr].add(master["pid"])
    with ThreadPoolExecutor(WORKERS * THREADS) as pool:
        for _round in range(20):  # until both workers answered (bounded)
            for status, body in pool.map(lambda _: server.get("/whoami"), range(16)):
                assert status == 200, body
                for addr in body["addrs"]:
                    owners[addr].add(body["pid"])
            pids = {p for ps in owners.values() for p in ps}
            if pids >= set(server.worker_pids):
                break
    shared = {a: ps for a, ps in owners.items() if len(ps) > 1}
    assert not shared, f"connections used by more than one process: {shared}"
    assert pids == {master["pid"], *server.worker_pids}, (pids, server.worker_pids)

    # --- the cached view, rendered once, serves every worker ------------------------------------
    # (one warm-up request first: Flask-Caching has no stampede lock, so concurrent misses
    # would each render)
    status, first = server.get("/cached")
    assert status == 200 and first["render"] == 1, first
    with ThreadPoolExecutor(8) as pool:
        renders = list(pool.map(lambda _: server.get("/cached"), range(24)))
    assert renders == [(200, first)] * 24, renders

    # --- the rate limit is exact across both workers --------------------------------------------
    who = {"X-Client": uuid.uuid4().hex}
    with ThreadPoolExecutor(8) as pool:
        limited = Counter(s for s, _ in pool.map(lambda _: server.get("/limited", who), range(30)))
    assert limited == Counter({200: 10, 429: 20}), limited

    # --- concurrent INCRs with a primary SIGKILLed halfway ---------------------------------------
    counters = spread_counters(lc)
    victim = lc.slot_owner(key_slot(f"example:counter:{counters[0]}"))
    load = Load(server, counters)
    threads = [threading.Thread(target=load.drive, args=(t,), daemon=True)
               for t in range(WORKERS * THREADS)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: load.total_acked() >= 300, 60, "300 acknowledged INCRs before the kill")
        t_kill = time.monotonic()
        lc.kill(victim)
        lc.wait_failover_after_kill(victim, timeout=30)
        failover_s = time.monotonic() - t_kill
        after = load.total_acked()
        wait_until(lambda: load.total_acked() >= after + 300, 60,
                   "300 more acknowledged INCRs after the failover")
    finally:
        load.stop.set()
        for t in threads:
            t.join(timeout=HTTP_TIMEOUT + 5)
    assert not any(t.is_alive() for t in threads)
    print(f"\n[gunicorn] failover {failover_s:.2f}s; statuses {dict(load.statuses)}; "
          f"failures {load.failures[:8]}")
    record_property("gunicorn_statuses", dict(load.statuses))
    record_property("gunicorn_failover_s", round(failover_s, 3))

    assert load.statuses[0] == 0, f"transport failures: {load.failures[:8]}"
    assert load.statuses[500] == 0, load.failures[:8]
    assert set(load.statuses) <= {200, 503}, load.statuses
    for status, body in load.failures:  # the documented 503: a cluster error, named
        assert status == 503 and isinstance(body, dict) and body["error"], (status, body)
    # at most the requests in flight when the node died could lose their reply
    assert load.statuses[503] <= WORKERS * THREADS, load.failures
    assert load.pids <= set(server.worker_pids)  # only workers answer (both did, above)

    check = RedisCluster(startup_nodes=[n for n in lc.startup_nodes if n["port"] != victim.port])
    try:
        for name in counters:
            acked = load.acked[name]
            assert len(acked) == len(set(acked)), f"{name}: an acknowledged value repeats"
            final = int(check.get(f"example:counter:{name}") or 0)
            assert len(acked) <= final <= len(acked) + load.unknown[name], (
                name, final, len(acked), load.unknown[name])
            assert max(acked, default=0) <= final
    finally:
        check.connection_pool.close()
