"""Where clustercore's time goes on the hot path: get_1t under cProfile (and pyinstrument).

Run from the repository root::

    .venv/bin/python benchmarks/profile_hot_path.py [--ops 20000] [--nodes h:p,...] [--out FILE]
        [--clustercore-rev REV] [--pin CPU]

Without ``--nodes`` it starts its own LocalCluster (3 masters + 3 replicas on loopback) and
preloads the same 10k keys / 100-byte values as ``benchmarks/run.py``.  Then, with one client
(``clustercore.RedisCluster``, defaults) and after a warm-up:

1. a plain timed pass (ops/s and CPU µs per GET, no profiler: the baseline the profiles distort);
2. a pass under ``sys.setprofile`` counting Python and C call events per GET (exact);
3. a pass under cProfile with a CPU timer (``time.process_time``): top 25 by tottime and by
   cumulative time, and cProfile's own calls per GET (Python functions vs built-ins);
4. a pass under pyinstrument (statistical, much lower overhead) if it is installed in this venv
   (``.venv/bin/pip install pyinstrument``).

Prints everything; ``--out`` also writes it to a file.  Bounded by ``--ops`` and
``--max-seconds`` per pass.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from worker import CallCounter, Inputs, export_clustercore, loop_get  # noqa: E402


def raw_socket_floor(rc: Any, inputs: Inputs, max_seconds: float) -> Tuple[float, float]:
    """(GET/s, CPU µs per GET) of the least a Python client can do per GET on this machine."""
    import socket

    from clustercore import key_slot

    pool = rc.connection_pool
    socks: Dict[Any, socket.socket] = {}
    plan = []
    for k in inputs.keys:
        address = pool.address_for_slot(key_slot(k))
        if address not in socks:
            socks[address] = socket.create_connection((address.host, address.port))
            socks[address].setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        plan.append((socks[address], b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(k), k)))
    want = len(b"$100\r\n") + inputs.value_size + 2
    end = time.perf_counter() + max_seconds
    try:
        c0, t0 = time.process_time(), time.perf_counter()
        done = 0
        for sock, packed in plan:
            sock.sendall(packed)
            got = sock.recv(65536)
            while len(got) < want:
                got += sock.recv(65536)
            done += 1
            if not done & 1023 and time.perf_counter() > end:
                break
        t1, c1 = time.perf_counter(), time.process_time()
    finally:
        for sock in socks.values():
            sock.close()
    return done / (t1 - t0), (c1 - c0) * 1e6 / done


def run_passes(nodes: List[dict], ops: int, max_seconds: float, seed: int,
               emit: Callable[[str], None]) -> None:
    import clustercore
    # HIREDIS_AVAILABLE, wherever the revision being measured keeps it (run.py
    # --clustercore-rev). Oldest layout first: the editable install resolves a missing
    # clustercore._protocol to this checkout's, which an old revision must not pick up.
    try:  # before the packages
        from clustercore import resp  # type: ignore[attr-defined]
    except ImportError:
        try:
            from clustercore._protocol import hiredis as resp
        except ImportError:  # before the codec was split
            from clustercore._protocol import resp

    inputs = Inputs(10000, 100, seed, ops)
    keys = inputs.keys
    rc = clustercore.RedisCluster(startup_nodes=nodes)
    try:
        get = rc.get
        if get(keys[0]) != inputs.values[0]:
            raise SystemExit("the cluster is not preloaded (GET returned an unexpected value)")
        loop_get(get, keys[: min(2000, ops)], max_seconds, None)  # warm-up

        src = Path(clustercore.__file__).resolve().parent.parent
        emit(f"clustercore {clustercore.__version__} from {src}, parser "
             f"{'hiredis' if resp.HIREDIS_AVAILABLE else 'pure Python'}, Python "
             f"{sys.version.split()[0]}; {ops} GETs of random keys (of 10k, 100-byte values)")
        emit("")

        lat: List[int] = []
        c0, t0 = time.process_time(), time.perf_counter()
        done = loop_get(get, keys, max_seconds, lat)
        t1, c1 = time.perf_counter(), time.process_time()
        lat.sort()
        emit(f"1. no profiler: {done / (t1 - t0):,.0f} GET/s, {(c1 - c0) * 1e6 / done:.1f} µs CPU "
             f"per GET, p50 {lat[len(lat) // 2] / 1000:.1f} µs, p99 "
             f"{lat[int(len(lat) * 0.99)] / 1000:.1f} µs")

        floor = raw_socket_floor(rc, inputs, max_seconds)
        emit(f"   floor for comparison: a bare Python loop of sock.sendall(pre-packed GET) + "
             f"sock.recv() on one socket per primary, no parsing, no pool: {floor[0]:,.0f} GET/s, "
             f"{floor[1]:.1f} µs CPU per GET (the syscalls + interpreter minimum; clustercore's "
             f"own work is roughly the difference)")

        n_calls = min(ops, 2000)
        with CallCounter() as cc:
            loop_get(get, keys[:n_calls], max_seconds, None)
        py = CallCounter.value(cc.py) / n_calls
        cc_ = CallCounter.value(cc.c) / n_calls
        emit(f"2. sys.setprofile: {py:.1f} Python function calls + {cc_:.1f} C calls per GET "
             "(including the GET method itself)")
        emit("")

        # CPU timer: a wall-clock timer would charge the wait for redis-server's reply to
        # recv(), which is latency, not client work.
        prof = cProfile.Profile(time.process_time)
        prof.enable()
        t0 = time.perf_counter()
        done = loop_get(get, keys, max_seconds, None)
        wall = time.perf_counter() - t0
        prof.disable()
        stats = pstats.Stats(prof)
        total = stats.total_calls  # type: ignore[attr-defined]
        builtin = sum(v[1] for k, v in stats.stats.items()  # type: ignore[attr-defined]
                      if k[0] == "~")
        emit(f"3. cProfile with a CPU timer (time.process_time: seconds below are client CPU, "
             f"including the kernel's share of send/recv; {done:,} GETs, {done / wall:,.0f} "
             "GET/s under the profiler): "
             f"{total / done:.1f} calls per GET ({(total - builtin) / done:.1f} Python, "
             f"{builtin / done:.1f} built-in/C)")
        for order, title in (("tottime", "by tottime (time inside the function itself)"),
                             ("cumulative", "by cumulative time")):
            buf = io.StringIO()
            s = pstats.Stats(prof, stream=buf)
            s.strip_dirs().sort_stats(order).print_stats(25)
            body = buf.getvalue()
            start = body.find("   ncalls")
            emit("")
            emit(f"--- top 25 {title} ---")
            emit(body[start:].rstrip() if start >= 0 else body.rstrip())
        emit("")

        try:
            from pyinstrument import Profiler
        except ImportError:
            emit("4. pyinstrument: not installed in this venv "
                 "(.venv/bin/pip install pyinstrument); skipped")
        else:
            p = Profiler(interval=0.0002)
            p.start()
            done = loop_get(get, keys, max_seconds, None)
            p.stop()
            emit(f"4. pyinstrument ({done:,} GETs, 0.2 ms sampling of WALL time: socket.recv "
                 "includes waiting for the server):")
            emit(p.output_text(unicode=False, color=False, show_all=False).rstrip())
    finally:
        rc.close()


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ops", type=int, default=20000, help="GETs per pass (20000)")
    ap.add_argument("--max-seconds", type=float, default=30.0, help="cap per pass (30 s)")
    ap.add_argument("--nodes", default="", help="host:port,... of a running, preloaded cluster")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="", help="also write the report to this file")
    ap.add_argument("--clustercore-rev", default="",
                    help="profile clustercore as committed at this git revision (e.g. HEAD) "
                         "instead of the working tree")
    ap.add_argument("--pin", type=int, default=None, metavar="CPU",
                    help="pin this process and the redis-servers it starts to one CPU (as "
                         "run.py --pin; steadier on a VM)")
    args = ap.parse_args(argv)
    if args.pin is not None:
        os.sched_setaffinity(0, {args.pin})
    lines: List[str] = []

    def emit(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    src_dir = ""
    if args.pin is not None:
        emit(f"(pinned to CPU {args.pin} with the redis-servers it starts, unless --nodes)")
    if args.clustercore_rev:
        src_dir = tempfile.mkdtemp(prefix="clustercore-profile-src-")
        sha = export_clustercore(args.clustercore_rev, src_dir)
        sys.path.insert(0, src_dir)  # before the first import of clustercore (also LocalCluster's)
        emit(f"(clustercore as committed at {sha[:10]}, {args.clustercore_rev})")
    try:
        return _run(args, emit, lines)
    finally:
        if src_dir:
            shutil.rmtree(src_dir, ignore_errors=True)


def _run(args: argparse.Namespace, emit: Callable[[str], None], lines: List[str]) -> int:
    import clustercore  # noqa: F401 - first, so run.py's sys.path entry cannot shadow it
    if args.nodes:
        nodes = [{"host": p.rpartition(":")[0], "port": int(p.rpartition(":")[2])}
                 for p in args.nodes.split(",")]
        run_passes(nodes, args.ops, args.max_seconds, args.seed, emit)
    else:
        from run import start_cluster

        lc = start_cluster(3)
        try:
            run_passes(lc.startup_nodes, args.ops, args.max_seconds, args.seed, emit)
        finally:
            lc.stop()
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
