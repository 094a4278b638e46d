"""Side-by-side benchmark: clustercore against the Redis Cluster clients a user would pick instead.

One command (from the repository root)::

    .venv/bin/python benchmarks/run.py [--quick] [--masters N] [--rounds R]

It starts its own LocalCluster on loopback (N masters, 1 replica each; default 3+3), preloads
10k keys with 100-byte values (through ``redis-cli --pipe``, not through any client under test),
then runs every workload through every client, each client in a worker subprocess
(``benchmarks/worker.py``) using the Python of its own virtualenv:

* clustercore        - the repository's ``.venv`` (hiredis installed there);
* redis-py 8.x       - ``benchmarks/.venvs/redis8``  (``redis>=8,<9`` + hiredis);
* redis-py 5.0.8     - ``benchmarks/.venvs/redis5``  (``redis==5.0.8`` + hiredis);
* redis-py-cluster   - ``benchmarks/.venvs/rpc``     (``redis-py-cluster==2.1.3``, ``redis==3.5.3``
  + hiredis).

The peer virtualenvs are created (``python -m venv`` + ``pip install``) on first use; a client
whose install or import fails is reported as such and the run goes on without it.

Runs are interleaved: every round runs each workload once per client (the client order rotates
from round to round), and also ``redis-benchmark -c 1`` against one primary (the single
connection ceiling).  Results are medians over the rounds with their min-max spread.  Then, unless
``--no-scaling``, clustercore's get_1t is measured on a 3-master and a 12-master cluster
(interleaved again) to show whether the per-command cost stays flat as the cluster grows.

Writes ``docs/benchmarks/results.json``, ``results.md`` and ``results.png`` (the chart needs
matplotlib in the repo venv: ``.venv/bin/pip install matplotlib``; it is skipped otherwise).
Every loop is bounded in operations and in seconds; a full run takes about 4-6 minutes on a
2-core machine, ``--quick`` about 1 minute.
"""

from __future__ import annotations

import argparse
import binascii
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from worker import FLOOR_WORKLOADS, export_clustercore, key_name, value_of  # noqa: E402

from clustercore.testing.local.cluster import LocalCluster  # noqa: E402

DOCS = REPO / "docs" / "benchmarks"
VENVS = HERE / ".venvs"

WORKLOADS = [
    "get_1t", "set_1t", "get_8t", "get_64t", "pipeline_100", "mget_100", "connect_cold",
    "pool_checkout_1t", "pool_checkout_8t",
]
#: Operations in the timed pass of one run (commands, keys, or constructions for connect_cold).
FULL_OPS = {
    "get_1t": 30000, "set_1t": 30000, "get_8t": 30000, "get_64t": 32000, "pipeline_100": 100000,
    "mget_100": 100000, "connect_cold": 50, "pool_checkout_1t": 200000,
    "pool_checkout_8t": 200000,
}
QUICK_DIVISOR = 10
#: Operations in the separate call-counting pass (the counts are deterministic; small is enough).
CALLS_OPS = {
    "get_1t": 1000, "set_1t": 1000, "get_8t": 1600, "get_64t": 1600, "pipeline_100": 2000,
    "mget_100": 2000,
    "connect_cold": 3, "pool_checkout_1t": 2000, "pool_checkout_8t": 1600,
}
UNIT = {"pipeline_100": "cmds/s", "mget_100": "keys/s"}
DESCRIPTION = {
    "get_1t": "GET, 1 thread, random keys of 10k, 100 B values",
    "set_1t": "SET, 1 thread, random keys of 10k, 100 B values",
    "get_8t": "GET, 8 threads sharing one client",
    "get_64t": "GET, 64 threads sharing one client",
    "pipeline_100": "pipelines of 100 mixed GET/SET over random slots (rate in commands/s)",
    "mget_100": "MGET of 100 random keys over many slots (rate in keys/s)",
    "connect_cold": "construct the client, first GET succeeds (rate in constructions/s)",
    "pool_checkout_1t": "get a warm pooled connection by slot + release it, 1 thread",
    "pool_checkout_8t": "the same, 8 threads sharing the pool",
}
BENCH_N_FULL = 100000


FLOOR = "raw socket (floor)"
MUX = "clustercore-mux"


@dataclass
class Client:
    key: str            # label in the results
    adapter: str        # worker.py --client
    venv: Optional[str]  # under benchmarks/.venvs/, None = the repo venv
    requirements: List[str]
    check: str          # python -c that must succeed in the venv
    workloads: Optional[List[str]] = None  # None = all
    python: str = ""
    available: bool = True
    problem: str = ""
    info: Dict[str, Any] = field(default_factory=dict)


def all_clients() -> List[Client]:
    return [
        Client("clustercore", "clustercore", None, [],
               f"import sys; sys.path.insert(0, {str(REPO)!r}); import clustercore"),
        # clustercore's multiplexed mode (one shared connection per node): its own row.
        Client(MUX, "clustercore-mux", None, [],
               f"import sys; sys.path.insert(0, {str(REPO)!r}); import clustercore"),
        Client("redis-py 8.x", "redis-py", "redis8", ["redis>=8,<9", "hiredis"],
               "import redis.cluster, hiredis"),
        Client("redis-py 5.0.8", "redis-py", "redis5", ["redis==5.0.8", "hiredis"],
               "import redis.cluster, hiredis"),
        Client("redis-py-cluster 2.1.3", "redis-py-cluster", "rpc",
               ["redis-py-cluster==2.1.3", "redis==3.5.3", "hiredis"],
               "import rediscluster, hiredis"),
        # Not a peer: the floor any Python client pays (see worker.RawSocketAdapter).
        Client(FLOOR, "raw-socket", None, [], "import socket",
               workloads=list(FLOOR_WORKLOADS)),
    ]


def peer_labels(labels: Sequence[str]) -> List[str]:
    """The clients clustercore is compared with (not itself, not the raw-socket floor)."""
    return [c for c in labels if c not in ("clustercore", MUX, FLOOR)]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ------------------------------------------------------------------------------------------
# Virtualenvs


def repo_python() -> str:
    candidate = REPO / ".venv" / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def base_python() -> str:
    """The interpreter the repo venv was made from (so every venv runs the same CPython)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def ensure_venv(client: Client) -> None:
    """Create and fill the client's venv once (a marker names the requirements installed)."""
    if client.venv is None:
        client.python = repo_python()
    else:
        path = VENVS / client.venv
        client.python = str(path / "bin" / "python")
        marker = path / ".bench-requirements"
        wanted = "\n".join(client.requirements)
        if not (Path(client.python).exists() and marker.exists()
                and marker.read_text() == wanted):
            log(f"creating {path.relative_to(REPO)} with {' '.join(client.requirements)}")
            try:
                if not Path(client.python).exists():
                    subprocess.run([base_python(), "-m", "venv", str(path)], check=True,
                                   capture_output=True, text=True, timeout=300)
                subprocess.run([client.python, "-m", "pip", "install", "-q", *client.requirements],
                               check=True, capture_output=True, text=True, timeout=900)
            except subprocess.CalledProcessError as exc:
                tail = (exc.stderr or exc.stdout or "").strip().splitlines()[-6:]
                client.available = False
                client.problem = "install failed: " + " | ".join(tail)
                return
            except subprocess.TimeoutExpired:
                client.available = False
                client.problem = "install timed out"
                return
            marker.write_text(wanted)
    probe = subprocess.run([client.python, "-c", client.check], capture_output=True, text=True,
                           timeout=120)
    if probe.returncode != 0:
        client.available = False
        tail = probe.stderr.strip().splitlines()[-3:]
        client.problem = "does not import on this Python: " + " | ".join(tail)


# ------------------------------------------------------------------------------------------
# Cluster helpers (shared with profile_hot_path.py)


def slot_map(lc: LocalCluster) -> List[Tuple[str, int]]:
    """slot -> (host, port) of its primary, from CLUSTER NODES (asked through redis-cli)."""
    owners: List[Optional[Tuple[str, int]]] = [None] * 16384
    for e in lc.cluster_nodes(lc.running_nodes()[0]):
        if e.is_master:
            for lo, hi in e.slots:
                for s in range(lo, hi + 1):
                    owners[s] = (e.host, e.port)
    if any(o is None for o in owners):
        raise RuntimeError("the cluster does not cover every slot")
    return owners  # type: ignore[return-value]


def resp_command(*args: bytes) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def preload(lc: LocalCluster, nkeys: int = 10000, value_size: int = 100) -> None:
    """SET key:0..key:N-1 to their deterministic values via redis-cli --pipe, per primary."""
    owners = slot_map(lc)
    payloads: Dict[Tuple[str, int], List[bytes]] = {}
    for i in range(nkeys):
        k = key_name(i)
        owner = owners[binascii.crc_hqx(k, 0) % 16384]
        payloads.setdefault(owner, []).append(resp_command(b"SET", k, value_of(i, value_size)))
    cli = shutil.which("redis-cli") or "redis-cli"
    for (host, port), cmds in payloads.items():
        proc = subprocess.run([cli, "-h", host, "-p", str(port), "--pipe"], input=b"".join(cmds),
                              capture_output=True, timeout=120)
        text = proc.stdout.decode(errors="replace")
        if proc.returncode != 0 or "errors: 0" not in text:
            raise RuntimeError(f"preload to {host}:{port} failed: {text} {proc.stderr!r}")


def nodes_arg(lc: LocalCluster) -> str:
    return ",".join(f"{n['host']}:{n['port']}" for n in lc.startup_nodes)


def start_cluster(masters: int) -> LocalCluster:
    t0 = time.monotonic()
    lc = LocalCluster(masters=masters, replicas_per_master=1, startup_timeout=120.0)
    lc.start()
    try:
        preload(lc)
    except BaseException:
        lc.stop()
        raise
    log(f"cluster of {masters} masters + {masters} replicas up and preloaded "
        f"in {time.monotonic() - t0:.1f} s")
    return lc


# ------------------------------------------------------------------------------------------
# Running


class ForeignLoad:
    """CPU used by processes other than ours (worker, redis-servers, this script) over a run.

    The machine is shared: this says how much of it someone else took while a run was timed
    (in CPUs, averaged over the run), from /proc/stat minus our own processes' CPU.
    """

    HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, server_pids: Sequence[int]) -> None:
        self.pids = [p for p in server_pids if p]
        self.start = self._sample()

    def _sample(self) -> Tuple[float, float, float, float, float]:
        try:
            with open("/proc/stat") as f:
                vals = [int(v) for v in f.readline().split()[1:9]]
        except OSError:
            return (0.0, 0.0, 0.0, 0.0, time.monotonic())
        busy = (sum(vals) - vals[3] - vals[4]) / self.HZ
        servers = 0.0
        for pid in self.pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                servers += (int(fields[11]) + int(fields[12])) / self.HZ
            except (OSError, IndexError, ValueError):
                pass
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        me = resource.getrusage(resource.RUSAGE_SELF)
        ours = children.ru_utime + children.ru_stime + me.ru_utime + me.ru_stime
        return (busy, servers, ours, 0.0, time.monotonic())

    def cpus(self) -> Optional[float]:
        end = self._sample()
        wall = end[4] - self.start[4]
        if wall <= 0 or end[0] == 0.0:
            return None
        foreign = (end[0] - self.start[0]) - (end[1] - self.start[1]) - (end[2] - self.start[2])
        return round(max(0.0, foreign) / wall, 2)


def cluster_pids(*clusters: LocalCluster) -> List[int]:
    return [n.pid for lc in clusters for n in lc.nodes if n.pid]


#: --clustercore-path given to clustercore's workers (set by --clustercore-rev).
CLUSTERCORE_PATH = str(REPO)
#: --slot-map given to the raw-socket floor's workers (written once the cluster is up).
SLOT_MAP_FILE = ""


def run_worker(client: Client, workload: str, ops: int, calls_ops: int, nodes: str, seed: int,
               max_seconds: float, server_pids: Sequence[int] = (),
               slot_map_file: str = "") -> Dict[str, Any]:
    cmd = [client.python, str(HERE / "worker.py"), "--client", client.adapter,
           "--workload", workload, "--ops", str(ops), "--calls-ops", str(calls_ops),
           "--nodes", nodes, "--seed", str(seed), "--max-seconds", str(max_seconds)]
    if client.adapter in ("clustercore", "clustercore-mux"):
        cmd += ["--clustercore-path", CLUSTERCORE_PATH]
    if client.adapter == "raw-socket":
        cmd += ["--slot-map", slot_map_file or SLOT_MAP_FILE]
    load_before = os.getloadavg()[0]
    t0 = time.monotonic()
    foreign = ForeignLoad(server_pids)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=max_seconds * 4 + 60)  # kills the worker on expiry
    except subprocess.TimeoutExpired:
        return {"status": "error", "error": f"worker timed out after {max_seconds * 4 + 60:.0f} s"}
    elapsed = time.monotonic() - t0
    other_cpus = foreign.cpus()
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"status": "error",
                "error": f"worker exited {proc.returncode}: {proc.stderr.strip()[-800:]}"}
    res = json.loads(lines[-1])
    res["process_s"] = round(elapsed, 3)
    res["loadavg_1m_before"] = load_before
    res["other_cpus"] = other_cpus
    res["capped"] = res.get("status") == "ok" and res.get("ops", 0) < ops
    return res


BENCH_RE = re.compile(r"^([A-Z]+): ([\d.]+) requests per second(?:, p50=([\d.]+) msec)?", re.M)


def redis_benchmark(lc: LocalCluster, n: int) -> Dict[str, Any]:
    """redis-benchmark -c 1 against the primary that owns redis-benchmark's fixed key."""
    exe = shutil.which("redis-benchmark")
    if exe is None:
        return {"status": "n/a", "error": "redis-benchmark not on PATH"}
    # Without -r every request uses the literal key "key:__rand_int__": ask its owner, else
    # every reply would be a MOVED error.
    host, port = slot_map(lc)[binascii.crc_hqx(b"key:__rand_int__", 0) % 16384]
    cmd = [exe, "-h", host, "-c", "1", "-n", str(n), "-t", "get,set", "-p", str(port), "-q",
           "-d", "100"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return {"status": "error", "error": "redis-benchmark timed out"}
    text = proc.stdout.replace("\r", "\n")
    out: Dict[str, Any] = {"status": "ok", "command": " ".join(cmd[1:]), "port": port}
    for name, rps, p50 in BENCH_RE.findall(text):
        out[name] = {"rate": float(rps), "p50_us": float(p50) * 1000 if p50 else None}
    if "GET" not in out or "SET" not in out:
        out.update(status="error", error=(proc.stdout + proc.stderr)[-500:])
    return out


def summarize(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Median and min-max over the rounds of each metric (ok runs only)."""
    ok = [r for r in runs if r.get("status") == "ok"]
    if not ok:
        status = runs[0].get("status", "error") if runs else "missing"
        return {"status": status, "error": runs[0].get("error", "") if runs else ""}
    out: Dict[str, Any] = {"status": "ok", "rounds": len(ok),
                           "capped": any(r.get("capped") for r in ok)}
    for m in ("rate", "cpu_us_per_op", "p50_us", "p99_us", "py_calls_per_op",
              "c_calls_per_op"):
        vals = [r[m] for r in ok if r.get(m) is not None]
        if vals:
            out[m] = statistics.median(vals)
            out[m + "_min"] = min(vals)
            out[m + "_max"] = max(vals)
    out["ops"] = [r["ops"] for r in ok]
    if len(ok) < len(runs):
        out["failed_rounds"] = [r.get("error", "") for r in runs if r.get("status") != "ok"]
    return out


def best_peer(summary: Dict[str, Dict[str, Any]], peers: Sequence[str], metric: str,
              higher_is_better: bool) -> Tuple[Optional[str], Optional[float]]:
    vals = [(summary[p][metric], p) for p in peers
            if summary.get(p, {}).get("status") == "ok" and summary[p].get(metric) is not None]
    if not vals:
        return None, None
    v, p = (max if higher_is_better else min)(vals)
    return p, v


# ------------------------------------------------------------------------------------------
# Reports


def fmt_rate(v: Optional[float]) -> str:
    if v is None:
        return "-"
    if v >= 100000:
        return f"{v / 1000:.0f}k"
    if v >= 1000:
        return f"{v / 1000:.1f}k"
    return f"{v:.1f}"


def fmt_num(v: Optional[float]) -> str:
    if v is None:
        return "-"
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def cell(s: Dict[str, Any], metric: str, fmt: Any, spread: bool = True) -> str:
    if s.get("status") != "ok":
        return "n/a" if s.get("status") == "n/a" else ("not run" if s.get("status") == "missing"
                                                       else "error")
    if metric not in s:
        return "-"
    text = fmt(s[metric])
    if spread and s[metric + "_min"] != s[metric + "_max"]:
        text += f" ({fmt(s[metric + '_min'])}-{fmt(s[metric + '_max'])})"
    if s.get("capped") and metric == "rate":
        text += " †"
    return text


def ratio_text(num: Optional[float], den: Optional[float], who: Optional[str],
               paired: Sequence[float] = ()) -> str:
    if num is None or den is None or not den:
        return "n/a"
    text = f"{num / den:.2f}x ({who})"
    if len(paired) > 1:
        text += f"; per round {min(paired):.2f}-{max(paired):.2f}x"
    return text


def paired_ratios(runs: List[Dict[str, Any]], workload: str, peers: Sequence[str], metric: str,
                  higher_is_better: bool) -> List[float]:
    """Per round: clustercore's value / the best peer's value in that same round.

    The runs of one workload in one round are seconds apart, so they share the machine's
    state; these ratios are steadier than ratios of medians on a shared, drifting machine."""
    out: List[float] = []
    rounds = sorted({x["round"] for x in runs if x.get("workload") == workload})
    for r in rounds:
        vals = {x["label"]: x[metric] for x in runs
                if x.get("workload") == workload and x.get("round") == r
                and x.get("status") == "ok" and x.get(metric)}
        mine = vals.get("clustercore")
        theirs = [vals[p] for p in peers if p in vals]
        if mine and theirs:
            out.append(mine / (max(theirs) if higher_is_better else min(theirs)))
    return out


def evaluate_targets(res: Dict[str, Any]) -> List[Dict[str, Any]]:
    S = res["summary"]
    peers = peer_labels(res["clients"])
    cc = lambda w: S.get(w, {}).get("clustercore", {})  # noqa: E731
    rb = res.get("redis_benchmark_summary", {})
    rows: List[Dict[str, Any]] = []

    def floor(w: str, metric: str) -> Optional[float]:
        """The raw-socket floor's median on this measure (None when it did not run it)."""
        f = S.get(w, {}).get(FLOOR, {})
        return f.get(metric) if f.get("status") == "ok" else None

    def versus(value: Optional[float], ref: Optional[float], text: str = "{:.2f}x") -> str:
        return text.format(value / ref) if value is not None and ref else "n/a"

    def add(target: str, measured: str, ok: Optional[bool], floor_says: str = "n/a") -> None:
        rows.append({"target": target, "measured": measured,
                     "met": "n/a" if ok is None else ("yes" if ok else "NO"),
                     "floor": floor_says})

    for w, cmd in (("get_1t", "GET"), ("set_1t", "SET")):
        c = cc(w)
        p, v = best_peer(S.get(w, {}), peers, "cpu_us_per_op", False)
        if c.get("status") == "ok" and v:
            r = c["cpu_us_per_op"] / v
            add(f"{w}: CPU/op <= 0.5x best peer's",
                f"{c['cpu_us_per_op']:.1f} µs vs {v:.1f} µs ({p}) = {r:.2f}x", r <= 0.5,
                versus(floor(w, "cpu_us_per_op"), v))
        else:
            add(f"{w}: CPU/op <= 0.5x best peer's", "n/a", None)
        ceiling = rb.get(cmd, {}).get("rate")
        if c.get("status") == "ok" and ceiling:
            r = c["rate"] / ceiling
            add(f"{w}: >= 0.6x redis-benchmark -c 1 {cmd}",
                f"{fmt_rate(c['rate'])}/s vs {fmt_rate(ceiling)}/s = {r:.2f}x", r >= 0.6,
                versus(floor(w, "rate"), ceiling))
        else:
            add(f"{w}: >= 0.6x redis-benchmark -c 1 {cmd}", "n/a", None)

    c8, c1 = cc("get_8t"), cc("get_1t")
    for w in ("get_8t", "get_64t"):  # any clustercore mode: pooled or multiplexed, the faster
        modes = [(S.get(w, {}).get(label, {}), label) for label in ("clustercore", MUX)]
        ok = [(m["rate"], label) for m, label in modes if m.get("status") == "ok"]
        p, v = best_peer(S.get(w, {}), peers, "rate", True)
        if ok and v:
            rate, label = max(ok)
            r = rate / v
            add(f"{w}: >= 2x best peer", f"{fmt_rate(rate)}/s ({label}) vs {fmt_rate(v)}/s "
                f"({p}) = {r:.2f}x", r >= 2, versus(floor(w, "rate"), v))
        elif w in S:
            add(f"{w}: >= 2x best peer", "n/a", None)
    if c8.get("status") == "ok" and c1.get("status") == "ok":
        # Paired by round (the two runs of a round are minutes apart at most, so they share
        # the machine's load): every round's 8-thread rate must reach its 1-thread rate.
        by_round: Dict[int, Dict[str, float]] = {}
        for x in res["runs"]:
            if x.get("label") == "clustercore" and x.get("status") == "ok" \
                    and x["workload"] in ("get_1t", "get_8t"):
                by_round.setdefault(x["round"], {})[x["workload"]] = x["rate"]
        ratios = [v["get_8t"] / v["get_1t"] for v in by_round.values() if len(v) == 2]
        if ratios:
            add("get_8t: 8 threads never slower than 1",
                f"{fmt_rate(c8['rate'])}/s (8t) vs {fmt_rate(c1['rate'])}/s (1t); 8t/1t per "
                f"round {', '.join(f'{r:.2f}' for r in ratios)}", min(ratios) >= 1.0,
                versus(floor("get_8t", "rate"), floor("get_1t", "rate"), "8t/1t {:.2f}"))
    for w in ("pipeline_100", "mget_100"):
        c = cc(w)
        p, v = best_peer(S.get(w, {}), peers, "rate", True)
        if c.get("status") == "ok" and v:
            r = c["rate"] / v
            add(f"{w}: >= 3x best peer", f"{fmt_rate(c['rate'])} vs {fmt_rate(v)} {UNIT[w]} "
                f"({p}) = {r:.2f}x", r >= 3, versus(floor(w, "rate"), v))
        else:
            why = c.get("error", "not measured") if c else "not measured"
            add(f"{w}: >= 3x best peer", f"n/a ({why})", None)
    c = cc("connect_cold")
    if c.get("status") == "ok":
        add("connect_cold <= 5 ms", f"p50 {c['p50_us'] / 1000:.2f} ms, p99 "
            f"{c['p99_us'] / 1000:.2f} ms", c["p50_us"] <= 5000)
    for w in WORKLOADS:
        c = cc(w)
        p, v = best_peer(S.get(w, {}), peers, "p99_us", False)
        if c.get("status") == "ok" and v:
            add(f"{w}: p99 no worse than the best peer's",
                f"{fmt_num(c['p99_us'])} µs vs {fmt_num(v)} µs ({p})", c["p99_us"] <= v,
                versus(floor(w, "p99_us"), v))
    return rows


def write_markdown(res: Dict[str, Any], path: Path) -> None:
    S = res["summary"]
    clients = res["clients"]
    peers = peer_labels(clients)
    m = res["meta"]
    L: List[str] = []
    L.append("# clustercore benchmarks")
    L.append("")
    L.append(f"Produced by `{m['command']}` on {m['date']} ({m['duration_s']:.0f} s). "
             "Do not edit by hand: rerun the command.")
    L.append("")
    L.append(f"- Machine: {m['cpu_model']}, {m['cpus']} CPUs (shared), Linux {m['kernel']}; "
             f"load average at start {m['loadavg_start']:.2f}, at end {m['loadavg_end']:.2f}.")
    if m.get("pinned_cpu") is not None:
        L.append(f"- **Pinned** (`--pin {m['pinned_cpu']}`): the workers, redis-benchmark and "
                 f"every redis-server ran on CPU {m['pinned_cpu']} only, so client and server "
                 "take turns on one CPU: ops/s is about 1 / (client + server CPU per op), and "
                 "8 threads cannot overlap client work with the server's.")
    L.append(f"- Cluster: LocalCluster, {m['masters']} masters + {m['masters']} replicas on "
             f"127.0.0.1, {m['redis_server']}; 10k keys, 100-byte values.")
    L.append(f"- Python {m['python']}; every client in its own worker process and virtualenv, "
             f"{m['rounds']} interleaved rounds (client order rotates each round); cells are "
             "median (min-max over the rounds).")
    src = m.get("clustercore_source", {})
    if src.get("exported"):
        L.append(f"- clustercore measured as committed at {src['head']} (`--clustercore-rev "
                 f"{src['rev']}`: `git archive` of clustercore/, not the working tree).")
    else:
        L.append(f"- clustercore measured from the working tree at {src.get('head', '?')}"
                 + (f" with uncommitted changes in {len(src['uncommitted'])} file(s) under "
                    "clustercore/ (listed in results.json)." if src.get("uncommitted") else "."))
    L.append("- Clients: " + "; ".join(
        f"**{c}** {res['client_info'][c].get('version', '?')} "
        f"({res['client_info'][c].get('parser', '?')} parser)"
        if res["client_info"][c].get("available", True) else
        f"**{c}**: {res['client_info'][c].get('problem', 'unavailable')}"
        for c in clients))
    L.append("")
    L.append("## Throughput")
    L.append("")
    L.append("ops/s unless marked; higher is better. Ratio = clustercore's median / the "
             "fastest peer's median; \"per round\" = the range over the rounds of clustercore / "
             "the fastest peer of that round (runs seconds apart, so steadier on a drifting, "
             "shared machine).")
    L.append("")
    L.append("| workload | " + " | ".join(clients) + " | clustercore / best peer |")
    L.append("|---|" + "---|" * len(clients) + "---|")
    for w in [x for x in WORKLOADS if x in S]:
        row = S.get(w, {})
        p, v = best_peer(row, peers, "rate", True)
        c = row.get("clustercore", {})
        unit = f" ({UNIT[w]})" if w in UNIT else ""
        ratio = ratio_text(c.get("rate") if c.get("status") == "ok" else None, v, p,
                           paired_ratios(res["runs"], w, peers, "rate", True))
        L.append(f"| {w}{unit} | " + " | ".join(cell(row.get(x, {"status": "missing"}), "rate",
                                                      fmt_rate) for x in clients)
                 + f" | {ratio} |")
    L.append("")
    L.append("† = at least one round hit the time cap (fewer operations than asked; the rate is "
             "still ops / time).")
    L.append("")
    L.append("## Client CPU per operation")
    L.append("")
    L.append("µs of `time.process_time()` (the worker process, all threads) over the timed "
             "section / operations (per command for pipeline_100, per key for mget_100, per "
             "construction for connect_cold); lower is better. Ratio = clustercore / the "
             "lowest-CPU peer (medians; per round as above).")
    L.append("")
    L.append("| workload | " + " | ".join(clients) + " | clustercore / best peer |")
    L.append("|---|" + "---|" * len(clients) + "---|")
    for w in [x for x in WORKLOADS if x in S]:
        row = S.get(w, {})
        p, v = best_peer(row, peers, "cpu_us_per_op", False)
        c = row.get("clustercore", {})
        mine = c.get("cpu_us_per_op") if c.get("status") == "ok" else None
        L.append(f"| {w} | " + " | ".join(cell(row.get(x, {"status": "missing"}),
                                                "cpu_us_per_op", fmt_num) for x in clients)
                 + " | " + ratio_text(mine, v, p, paired_ratios(res["runs"], w, peers,
                                                                 "cpu_us_per_op", False))
                 + " |")
    L.append("")
    L.append("## Latency p50 / p99 (µs)")
    L.append("")
    L.append("Per operation (per pipeline of 100 / per MGET of 100 / per construction). "
             "Ratio = clustercore's p99 / the lowest peer p99.")
    L.append("")
    L.append("| workload | " + " | ".join(clients) + " | p99 clustercore / best peer |")
    L.append("|---|" + "---|" * len(clients) + "---|")
    for w in [x for x in WORKLOADS if x in S]:
        row = S.get(w, {})
        p, v = best_peer(row, peers, "p99_us", False)
        c = row.get("clustercore", {})
        cells = []
        for x in clients:
            s = row.get(x, {"status": "missing"})
            if s.get("status") == "ok":
                cells.append(f"{fmt_num(s['p50_us'])} / {fmt_num(s['p99_us'])}")
            else:
                cells.append(cell(s, "p50_us", fmt_num))
        L.append(f"| {w} | " + " | ".join(cells) + " | "
                 + ratio_text(c.get("p99_us") if c.get("status") == "ok" else None, v, p) + " |")
    L.append("")
    L.append("## Function calls per operation")
    L.append("")
    L.append("Python-level / C-level call events per operation, counted by `sys.setprofile` "
             "(and `threading.setprofile`) in a separate shorter pass (deterministic).")
    L.append("")
    L.append("| workload | " + " | ".join(clients) + " |")
    L.append("|---|" + "---|" * len(clients))
    for w in [x for x in WORKLOADS if x in S]:
        row = S.get(w, {})
        cells = []
        for x in clients:
            s = row.get(x, {"status": "missing"})
            if s.get("status") == "ok":
                cells.append(f"{fmt_num(s['py_calls_per_op'])} / {fmt_num(s['c_calls_per_op'])}")
            else:
                cells.append(cell(s, "py_calls_per_op", fmt_num))
        L.append(f"| {w} | " + " | ".join(cells) + " |")
    L.append("")
    L.append("## Single-connection ceiling: redis-benchmark -c 1")
    L.append("")
    rb = res.get("redis_benchmark_summary", {})
    if rb.get("status") == "ok":
        L.append(f"`redis-benchmark {rb['command']}` (against the primary that owns its fixed "
                 "key; `-d 100` so the values match ours), median (min-max) over the rounds: "
                 f"GET {fmt_rate(rb['GET']['rate'])}/s ({fmt_rate(rb['GET']['min'])}-"
                 f"{fmt_rate(rb['GET']['max'])}), SET {fmt_rate(rb['SET']['rate'])}/s "
                 f"({fmt_rate(rb['SET']['min'])}-{fmt_rate(rb['SET']['max'])}). Per round "
                 "(a canary for how fast the shared machine was): " + ", ".join(
                     f"{fmt_rate(b['GET']['rate'])}/{fmt_rate(b['SET']['rate'])}"
                     for b in res.get("redis_benchmark_runs", []) if b.get("status") == "ok")
                 + " GET/SET per s.")
    else:
        L.append(f"not measured: {rb.get('error', '?')}")
    L.append("")
    sc = res.get("scaling")
    if sc:
        L.append("## Cluster size: clustercore get_1t on 3 vs 12 masters")
        L.append("")
        L.append("Separate interleaved runs (3, 12, 3, 12, ...) on two clusters that are up at "
                 "the same time, with the raw-socket floor run next to clustercore each time.")
        L.append("")
        L.append("| masters | client | ops/s | CPU µs/op | p50 / p99 µs | Python calls/op |")
        L.append("|---|---|---|---|---|---|")
        for label, key in (("clustercore", "summary"), (FLOOR, "floor_summary")):
            for size, s in sc.get(key, {}).items():
                if s.get("status") == "ok":
                    L.append(f"| {size} | {label} | {cell(s, 'rate', fmt_rate)} | "
                             f"{cell(s, 'cpu_us_per_op', fmt_num)} | {fmt_num(s['p50_us'])} / "
                             f"{fmt_num(s['p99_us'])} | {fmt_num(s['py_calls_per_op'])} |")
                else:
                    L.append(f"| {size} | {label} | {s.get('status')}: {s.get('error', '')} "
                             "| | | |")
        per_round = []
        for r in sorted({x["round"] for x in sc["runs"]}):
            v = {(x["label"], x["masters"]): x.get("cpu_us_per_op") for x in sc["runs"]
                 if x["round"] == r and x.get("status") == "ok"}
            c3, c12 = v.get(("clustercore", 3)), v.get(("clustercore", 12))
            f3, f12 = v.get((FLOOR, 3)), v.get((FLOOR, 12))
            if c3 and c12:
                per_round.append(f"{c12 / c3:.2f}" + (f" (floor {f12 / f3:.2f})"
                                                      if f3 and f12 else ""))
        L.append("")
        if per_round:
            L.append("CPU/op on 12 masters / on 3 masters, per round: " + ", ".join(per_round)
                     + ". Calls per operation are counted exactly: equal counts mean clustercore "
                     "does no per-node work per command; a CPU ratio above 1 that the floor "
                     "shares is the machine's (more server processes on the same CPUs).")
            L.append("")
    L.append("## Targets (from the issue)")
    L.append("")
    L.append("The last column applies the same measure to the raw-socket floor (pre-packed "
             "commands, no routing, pool or parsing beyond counting replies): where even it "
             "misses a target, no client can meet it on this machine.")
    L.append("")
    L.append("| target | measured | met | raw-socket floor, same measure |")
    L.append("|---|---|---|---|")
    for t in res["targets"]:
        L.append(f"| {t['target']} | {t['measured']} | {t['met']} | {t.get('floor', 'n/a')} |")
    L.append("")
    L.append("## Workloads")
    L.append("")
    for w in WORKLOADS:
        L.append(f"- **{w}** — {DESCRIPTION[w]}; {res['meta']['ops'][w]} operations per run.")
    L.append("")
    L.append("## Notes on fairness")
    L.append("")
    for note in res["notes"]:
        L.append(f"- {note}")
    L.append("")
    L.append("Where clustercore's time goes on get_1t: `benchmarks/profile_hot_path.py` "
             "(output kept in `docs/benchmarks/profile_get_1t.txt`). A run with everything "
             "pinned to one CPU (`--pin 0`, much steadier on this VM; see benchmarks/README.md, "
             "Noise) is kept in `docs/benchmarks/pinned/`.")
    L.append("")
    L.append("![chart](results.png)")
    L.append("")
    path.write_text("\n".join(L))


def write_chart(res: Dict[str, Any], path: Path) -> Optional[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed in this venv (.venv/bin/pip install matplotlib)"
    S = res["summary"]
    clients = res["clients"]
    peers = peer_labels(clients)
    fig, axes = plt.subplots(2, 1, figsize=(12, 9))
    width = 0.8 / len(clients)
    colors = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e"]
    for ax, metric, _higher, title in (
        (axes[0], "rate", True, "Throughput relative to the fastest peer (higher is better)"),
        (axes[1], "cpu_us_per_op", False, "Client CPU µs per operation (log scale, lower is better)"),
    ):
        for i, cname in enumerate(clients):
            xs, ys, lo, hi = [], [], [], []
            for j, w in enumerate(WORKLOADS):
                s = S.get(w, {}).get(cname, {})
                if s.get("status") != "ok":
                    if w in S and cname != FLOOR:
                        ax.text(j + (i - (len(clients) - 1) / 2) * width, 0, "n/a",
                                rotation=90, ha="center", va="bottom", fontsize=8,
                                color=colors[i % len(colors)])
                    continue
                if metric == "rate":
                    _, ref = best_peer(S.get(w, {}), peers, "rate", True)
                    if not ref:
                        continue
                else:
                    ref = 1.0
                xs.append(j + (i - (len(clients) - 1) / 2) * width)
                ys.append(s[metric] / ref)
                lo.append(s[metric] / ref - s[metric + "_min"] / ref)
                hi.append(s[metric + "_max"] / ref - s[metric] / ref)
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=cname,
                   color="#9a9a9a" if cname == FLOOR else colors[i % len(colors)])
        ax.set_xticks(range(len(WORKLOADS)))
        ax.set_xticklabels(WORKLOADS, rotation=15)
        ax.set_title(title)
        if metric == "rate":
            ax.axhline(1.0, color="grey", lw=0.8, ls="--")
        else:
            ax.set_yscale("log")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(ncol=len(clients), fontsize=8)
    pinned = res["meta"].get("pinned_cpu")
    fig.suptitle(f"clustercore vs peers: {res['meta']['masters']}+{res['meta']['masters']} "
                 f"LocalCluster, {res['meta']['cpus']} CPUs"
                 + (f" (all pinned to CPU {pinned})" if pinned is not None else "")
                 + f", median of {res['meta']['rounds']} rounds (bars: min-max), clustercore "
                 f"{res['meta'].get('clustercore_source', {}).get('head', '?')}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def clustercore_source() -> Dict[str, Any]:
    """Which clustercore was measured: HEAD and any uncommitted change under clustercore/."""
    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True,
                                  timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    dirty = [ln for ln in git("status", "--porcelain", "--", "clustercore").splitlines() if ln]
    return {"head": git("rev-parse", "--short", "HEAD"), "uncommitted": dirty}


def machine_info() -> Dict[str, Any]:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    server = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
    mv = re.search(r"v=([\d.]+)", server)
    return {"cpu_model": model, "cpus": os.cpu_count(), "kernel": platform.release(),
            "python": platform.python_version(),
            "redis_server": f"redis-server {mv.group(1) if mv else '?'}"}


STATIC_NOTES = [
    f"`{FLOOR}` is not a client: the same loop calling a 10-line function that packs the "
    "command with one bytes %-format, sendall()s it on a socket per primary and recv()s until "
    "the reply is complete (no pool, no reply parsing, no error handling). It is the least "
    "CPU/op and the most ops/s any Python client can reach here, so `clustercore - floor` is "
    "what clustercore's own code costs. It is never the 'best peer'.",
    "The floor's get_8t, pipeline_100 and mget_100 rows: get_8t gives each of the 8 threads "
    "its own sockets (one per primary); pipeline_100 and mget_100 (one GET per key) pack each "
    "command with one bytes %-format into its primary's list, then do one sendall() per "
    "primary and read until that primary's count of complete replies is reached "
    "(hiredis.Reader, else a minimal +/-/:/$ counter; a count mismatch raises), without "
    "putting the replies back in command order: "
    "the physical ceiling, so a ratio target above floor / best peer is beyond even a "
    "zero-overhead client on this machine.",
    "Every client gets the same inputs (keys, values, slots and GET/SET mixes are generated from "
    "the round's seed), the same loop in `worker.py`, defaults for every option except the "
    "startup nodes (all 6 nodes given to each), and its own interpreter.",
    "redis-py 8.x speaks RESP3 by default (HELLO 3 in the handshake), redis-py 5.0.8, "
    "redis-py-cluster and clustercore speak RESP2: we keep each client's default, since that is "
    "what its users get.",
    "mget_100: redis-py's cluster `mget()` refuses keys of several slots, so its "
    "`mget_nonatomic()` is used; redis-py-cluster 2.1.3's `mget()` is one GET per key "
    "(its own implementation), measured as is.",
    "pool_checkout: clustercore and redis-py-cluster expose `get_connection_by_slot()` + "
    "`release()`; redis-py has none, so its closest equivalent is slot -> "
    "`nodes_manager.get_node_from_slot()` -> `get_redis_connection(node).connection_pool` -> "
    "`get_connection()` / `release()` through two small wrapper functions of the harness (2 "
    "extra Python calls per operation, well under 0.5 µs). redis-py's `get_connection()` "
    "also polls the socket for unread data on every checkout; redis-py-cluster's does no check "
    "at all, which is why it is the cheapest.",
    "connect_cold includes everything from the constructor to the first GET's reply (slot-map "
    "discovery; redis-py also runs COMMAND at start-up); closing the client is not timed. One "
    "untimed construction first pays the lazy imports.",
    "CPU/op counts the whole worker process, so GC, the harness loop (one `perf_counter_ns` pair "
    "and one list append per operation) and, for the 8-thread runs, thread switching are "
    "included for every client alike.",
    "Client and servers share the same 2 CPUs (loopback only), so wall-clock rates also depend "
    "on how the kernel schedules redis-server; CPU µs/op is the steadier number. On this "
    "virtual machine a single-connection ping-pong is bimodal: redis-benchmark -c 1 gives "
    "either ~90k or ~13k GET/s from one minute to the next (apparently when client and server "
    "sit on different vCPUs and the other vCPU has gone idle, every reply costs a cross-CPU "
    "wake-up), and the clients swing with it; `--pin CPU` removes that mode.  The machine is "
    "shared with other work (other processes, and a virtual machine's neighbours, which no "
    "counter here shows: the same loop's CPU µs/op has been seen to vary 3x between quiet "
    "minutes and busy ones); compare the min-max spread and the per-round ratios before "
    "trusting small differences.",
]


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1/10 of the operations (~1.5 min)")
    ap.add_argument("--masters", type=int, default=3, help="masters of the main cluster (3)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help="comma-separated subset of: " + ",".join(WORKLOADS))
    ap.add_argument("--clients", default="",
                    help="comma-separated subset of the client labels (default: all)")
    ap.add_argument("--no-scaling", action="store_true",
                    help="skip the 3 vs 12 masters get_1t comparison")
    ap.add_argument("--out", default=str(DOCS), help="where to write results.{json,md,png}")
    ap.add_argument("--clustercore-rev", default="",
                    help="measure clustercore as committed at this git revision (e.g. HEAD) "
                         "instead of the working tree")
    ap.add_argument("--pin", type=int, default=None, metavar="CPU",
                    help="pin everything (this script, so the workers, redis-benchmark and the "
                         "redis-servers it starts) to one CPU: steadier numbers on a VM whose "
                         "ping-pong speed depends on where the scheduler puts client and server")
    ap.add_argument("--from-json", default="", metavar="RESULTS_JSON",
                    help="run nothing: re-evaluate the targets and rewrite results.json, "
                         "results.md and results.png in --out from an existing results.json")
    args = ap.parse_args(argv)
    if args.from_json:
        res = json.loads(Path(args.from_json).read_text())
        res["targets"] = evaluate_targets(res)  # derived from the measurements: recomputed
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(res, indent=1, default=str) + "\n")
        write_markdown(res, out / "results.md")
        problem = write_chart(res, out / "results.png")
        log(f"rewrote {out / 'results.md'}" + (f" (chart skipped: {problem})" if problem
                                                 else f" and {out / 'results.png'}"))
        return 0
    if args.pin is not None:
        os.sched_setaffinity(0, {args.pin})  # inherited by every process started from here on
    # SIGTERM -> SystemExit, so the finally blocks stop the clusters we started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.time()
    load_start = os.getloadavg()[0]
    workloads = [w for w in args.workloads.split(",") if w]
    for w in workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w}")
    global CLUSTERCORE_PATH
    src_dir: Optional[str] = None
    if args.clustercore_rev:
        src_dir = tempfile.mkdtemp(prefix="clustercore-bench-src-")
        sha = export_clustercore(args.clustercore_rev, src_dir)
        CLUSTERCORE_PATH = src_dir
        source: Dict[str, Any] = {"head": sha[:7], "rev": args.clustercore_rev, "sha": sha,
                                  "uncommitted": [], "exported": True}
        log(f"measuring clustercore as committed at {sha[:10]} ({args.clustercore_rev})")
    else:
        source = clustercore_source()
    try:
        return _main(args, argv, source, started, load_start, workloads)
    finally:
        if src_dir:
            shutil.rmtree(src_dir, ignore_errors=True)


def _main(args: argparse.Namespace, argv: Optional[Sequence[str]], source: Dict[str, Any],
          started: float, load_start: float, workloads: List[str]) -> int:
    ops = {w: (max(5, FULL_OPS[w] // QUICK_DIVISOR) if args.quick else FULL_OPS[w])
           for w in WORKLOADS}
    calls_ops = {w: min(CALLS_OPS[w], ops[w]) for w in WORKLOADS}
    max_seconds = 3.0 if args.quick else 8.0
    bench_n = BENCH_N_FULL // QUICK_DIVISOR if args.quick else BENCH_N_FULL
    clients = all_clients()
    if args.clients:
        wanted = set(args.clients.split(","))
        clients = [c for c in clients if c.key in wanted]
    for c in clients:
        ensure_venv(c)
        log(f"{c.key}: {c.python}" + ("" if c.available else f" -- UNAVAILABLE: {c.problem}"))
    active = [c for c in clients if c.available]

    notes = list(STATIC_NOTES)
    runs: List[Dict[str, Any]] = []
    bench_runs: List[Dict[str, Any]] = []
    scaling_runs: List[Dict[str, Any]] = []

    lc = start_cluster(args.masters)
    extra: Dict[int, LocalCluster] = {}
    global SLOT_MAP_FILE
    map_dir = tempfile.mkdtemp(prefix="clustercore-bench-map-")
    SLOT_MAP_FILE = os.path.join(map_dir, "slots.json")
    Path(SLOT_MAP_FILE).write_text(json.dumps([f"{h}:{p}" for h, p in slot_map(lc)]))
    try:
        nodes = nodes_arg(lc)
        for r in range(args.rounds):
            seed = r + 1
            b = redis_benchmark(lc, bench_n)
            b["round"] = r
            bench_runs.append(b)
            if b.get("status") == "ok":
                log(f"round {r + 1}/{args.rounds}: redis-benchmark -c 1 GET "
                    f"{fmt_rate(b['GET']['rate'])}/s SET {fmt_rate(b['SET']['rate'])}/s")
            order = active[r % len(active):] + active[:r % len(active)] if active else []
            for w in workloads:
                for c in order:
                    if c.workloads is not None and w not in c.workloads:
                        continue
                    res = run_worker(c, w, ops[w], calls_ops[w], nodes, seed, max_seconds,
                                     cluster_pids(lc))
                    res.update(round=r, label=c.key)
                    runs.append(res)
                    if res.get("status") == "ok":
                        c.info.update(version=res.get("version"), parser=res.get("parser"))
                        log(f"round {r + 1}/{args.rounds} {w:17s} {c.key:24s} "
                            f"{fmt_rate(res['rate']):>7s} {UNIT.get(w, 'ops/s'):7s} "
                            f"cpu {res['cpu_us_per_op']:8.2f} µs/op  p99 "
                            f"{res['p99_us']:9.1f} µs  calls {res['py_calls_per_op']:5.1f}"
                            f"  others {res['other_cpus']} CPUs"
                            + ("  (capped)" if res.get("capped") else ""))
                    else:
                        log(f"round {r + 1}/{args.rounds} {w:17s} {c.key:24s} "
                            f"{res.get('status')}: {res.get('error', '')[:200]}")

        cc = next((c for c in active if c.key == "clustercore"), None)
        if not args.no_scaling and cc is not None:
            sizes = [3, 12]
            clusters: Dict[int, LocalCluster] = {}
            maps: Dict[int, str] = {}
            for size in sizes:
                if size == args.masters:
                    clusters[size] = lc
                else:
                    extra[size] = start_cluster(size)
                    clusters[size] = extra[size]
                maps[size] = os.path.join(map_dir, f"slots-{size}.json")
                Path(maps[size]).write_text(
                    json.dumps([f"{h}:{p}" for h, p in slot_map(clusters[size])]))
            # The floor runs too: if it also gets dearer on the bigger cluster, the change is
            # the machine's (more server processes on 2 CPUs), not clustercore's.
            floor = next((c for c in active if c.key == FLOOR), None)
            scaled = [cc] + ([floor] if floor is not None else [])
            for r in range(args.rounds):
                for size in sizes:
                    for c in scaled:
                        res = run_worker(c, "get_1t", ops["get_1t"], calls_ops["get_1t"],
                                         nodes_arg(clusters[size]), r + 1, max_seconds,
                                         cluster_pids(lc, *extra.values()), maps[size])
                        res.update(round=r, masters=size, label=c.key)
                        scaling_runs.append(res)
                        if res.get("status") == "ok":
                            log(f"scaling round {r + 1}/{args.rounds} {size:2d} masters get_1t "
                                f"{c.key:19s} {fmt_rate(res['rate'])} ops/s cpu "
                                f"{res['cpu_us_per_op']:.2f} µs/op calls "
                                f"{res['py_calls_per_op']:.1f} others {res['other_cpus']} CPUs")
                        else:
                            log(f"scaling {size} masters {c.key}: {res.get('status')}: "
                                f"{res.get('error')}")
    finally:
        for other in extra.values():
            other.stop()
        lc.stop()
        shutil.rmtree(map_dir, ignore_errors=True)

    labels = [c.key for c in clients]
    summary: Dict[str, Dict[str, Any]] = {}
    for w in workloads:
        summary[w] = {}
        for c in clients:
            if not c.available:
                summary[w][c.key] = {"status": "unavailable", "error": c.problem}
                continue
            if c.workloads is not None and w not in c.workloads:
                summary[w][c.key] = {"status": "n/a", "error": "not measured for this client"}
                continue
            summary[w][c.key] = summarize([x for x in runs
                                           if x["label"] == c.key and x["workload"] == w])
    rb_summary: Dict[str, Any] = {"status": "error", "error": "no run"}
    ok_b = [b for b in bench_runs if b.get("status") == "ok"]
    if ok_b:
        rb_summary = {"status": "ok", "command": ok_b[0]["command"]}
        for name in ("GET", "SET"):
            vals = [b[name]["rate"] for b in ok_b]
            rb_summary[name] = {"rate": statistics.median(vals), "min": min(vals),
                                "max": max(vals)}
    elif bench_runs:
        rb_summary = {"status": bench_runs[0].get("status"), "error": bench_runs[0].get("error")}

    res: Dict[str, Any] = {
        "meta": {
            "command": ".venv/bin/python benchmarks/run.py" + "".join(
                f" {a}" for a in (argv if argv is not None else sys.argv[1:])),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "duration_s": 0.0, "masters": args.masters, "replicas_per_master": 1,
            "rounds": args.rounds, "quick": args.quick, "ops": ops, "calls_ops": calls_ops,
            "max_seconds_per_run": max_seconds, "redis_benchmark_n": bench_n,
            "loadavg_start": load_start, **machine_info(),
            "clustercore_source": source,
            "pinned_cpu": args.pin,
        },
        "clients": labels,
        "client_info": {c.key: {"available": c.available, "problem": c.problem,
                                "python": c.python, "requirements": c.requirements, **c.info}
                        for c in clients},
        "summary": summary,
        "redis_benchmark_summary": rb_summary,
        "redis_benchmark_runs": bench_runs,
        "runs": runs,
    }
    if scaling_runs:
        res["scaling"] = {
            "runs": scaling_runs,
            "summary": {str(size): summarize([x for x in scaling_runs if x["masters"] == size
                                              and x["label"] == "clustercore"])
                        for size in (3, 12)},
            "floor_summary": {str(size): summarize([x for x in scaling_runs
                                                    if x["masters"] == size
                                                    and x["label"] == FLOOR])
                              for size in (3, 12)},
        }
    for c in clients:
        if not c.available:
            notes.append(f"{c.key} was not measured: {c.problem}")
    if any(s.get("capped") for row in summary.values() for s in row.values()):
        notes.append("Runs marked † reached the per-run time cap "
                     f"({max_seconds:.0f} s) before their operation count.")
    cc_pipe = summary.get("pipeline_100", {}).get("clustercore", {})
    if cc_pipe.get("status") == "n/a":
        notes.append(f"pipeline_100 is n/a for clustercore: {cc_pipe.get('error')}.")
    others = sorted(x["other_cpus"] for x in runs + scaling_runs
                    if x.get("other_cpus") is not None)
    if others:
        res["meta"]["other_cpus_median"] = statistics.median(others)
        res["meta"]["other_cpus_max"] = others[-1]
        notes.append(
            f"Other processes on this shared machine used {statistics.median(others):.2f} CPUs "
            f"(median over the runs; max {others[-1]:.2f}, out of {os.cpu_count()}) while the "
            "workers ran (`other_cpus` per run in results.json: /proc/stat busy time minus the "
            "worker's, the redis-servers' and the harness's own CPU).")
    res["notes"] = notes
    res["targets"] = evaluate_targets(res)
    res["meta"]["loadavg_end"] = os.getloadavg()[0]
    res["meta"]["duration_s"] = time.time() - started

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(res, indent=1, default=str) + "\n")
    write_markdown(res, out / "results.md")
    problem = write_chart(res, out / "results.png")
    if problem:
        log(f"chart skipped: {problem}")
    log(f"wrote {out / 'results.json'}, {out / 'results.md'}"
        + ("" if problem else f", {out / 'results.png'}")
        + f" in {res['meta']['duration_s']:.0f} s")
    print()
    print((out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
