"""Run redis-py-cluster 2.1.3's suite on redis-py-cluster itself and on clustercore's compat.

``.venv/bin/python -m compat.rpc_suite`` from the repository root:

1. gets the suite (``fetch``: the 2.1.3 tag's ``tests/``; ``--tests-from DIR`` where GitHub is
   out of reach) and the reference venv (redis-py-cluster 2.1.3 on redis-py 3.5.3);
2. starts a 3+3 ``clustercore.testing.LocalCluster`` on 127.0.0.1 **ports 7000-7005** (bus ports
   17000-17005): the suite hard-codes ``localhost:7000`` in its fixtures and looks for ``7000``
   in node names, so the cluster must be where the suite expects it;
3. the **reference run**: the suite as redis-py-cluster's CI ran it, in the reference venv;
4. the **clustercore run**: the black-box tests that passed in the reference run, in this
   repository's venv (redis-py 8.1), with ``import rediscluster`` mapped onto
   ``clustercore.compat.rediscluster`` (``plugin``). No test, fixture or helper is patched;
5. writes ``compat/reports/rpc_suite.md`` and ``.json``.

The report's denominator is the black-box tests that pass on redis-py-cluster (same definition
as compat/redispy_suite: built a client, no mocks, no private attributes), less the tests
``compat/rpc_deliberate.toml`` ``[excluded]`` lists (they assert one of redis-py-cluster's own
refusals or its repr format; each with its reason). A failure whose cause is redis-py 8.1
itself (the suite imports redis-py 3.5 internals, or its assertion is about a redis-py 3.5 type
or message) is counted apart, as ``redis-py 8.1`` (``classify``), and so is a failure matched
by ``[tests]`` (a documented deliberate difference). The rest is *open*.

The process handling (per-test timeout, budget, crash recovery, killing only our own process
groups) is compat/redispy_suite's ``SuiteRun``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import platform
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

from ..api_surface import git_head
from ..redispy_suite import results
from ..redispy_suite.runner import Suite, SuiteRun, _on_sigterm, log
from . import fetch, report

REPO_ROOT = fetch.REPO_ROOT
REPORTS_DIR = REPO_ROOT / "compat" / "reports"
ALLOWLIST = REPO_ROOT / "compat" / "rpc_deliberate.toml"
PORTS = tuple(range(7000, 7006))
BUS_OFFSET = 10000


class RpcSuiteRun(SuiteRun):
    """A run of redis-py-cluster's suite: its own python, this plugin, no redis-py options."""

    def __init__(self, suite: Suite, mode: str, run_dir: Path, python: Path,
                 select: Optional[Sequence[str]] = None) -> None:
        super().__init__(suite, mode, run_dir, select)
        self.python = python

    def _command(self) -> List[str]:
        return [
            str(self.python), "-m", "pytest", "-c", str(self.suite.suite_dir / "pytest.ini"),
            "--rootdir", str(self.suite.suite_dir), "-p", "no:cacheprovider",
            "-p", "compat.rpc_suite.plugin", "-q", "-rN", "--color=no",
            "--continue-on-collection-errors", f"--redis-url={self.suite.redis_url}",
            f"--timeout={self.suite.timeout:g}", "--timeout-method=signal", "--tb=native",
            "-W", "ignore::DeprecationWarning", *self.suite.files,
        ]


def _ports_free() -> List[int]:
    busy = []
    for port in (*PORTS, *(p + BUS_OFFSET for p in PORTS)):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # as redis-server binds: a port in TIME_WAIT after the last run is free for it
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                busy.append(port)
    return busy


@contextlib.contextmanager
def fixed_port_cluster() -> Iterator[Any]:
    """A 3+3 LocalCluster on 127.0.0.1:7000-7005, stopped on the way out whatever happens.

    LocalCluster picks free ports itself; the suite needs these ones, so its port choice is
    replaced for this start (``clustercore.testing.local.cluster._reserve_ports``, the one
    place it picks them) and restored at once."""
    from clustercore.testing import LocalCluster
    from clustercore.testing.local import cluster as local

    busy = _ports_free()
    if busy:
        raise SystemExit(f"ports {busy} are in use: the suite needs 7000-7005 (and 17000-17005)")
    wanted = [p for port in PORTS for p in (port, port + BUS_OFFSET)]
    original = local._reserve_ports
    first = [True]

    def reserve(host: str, count: int) -> List[int]:
        if first[0] and count == len(wanted):
            first[0] = False
            return list(wanted)
        return original(host, count)

    lc = LocalCluster(3, 1, host="127.0.0.1", node_timeout_ms=2000)
    local._reserve_ports = reserve  # type: ignore[assignment]
    try:
        try:
            lc.start()
        finally:
            local._reserve_ports = original
        yield lc
    finally:
        lc.stop()


def _meta(args: argparse.Namespace, server_version: str, suite_dir: Path,
          reference_python: Path) -> Dict[str, Any]:
    import redis

    source = suite_dir / "SOURCE"
    head = git_head()
    return {
        "git_head": head,
        "redis_py_version": redis.__version__,
        "reference_client": "redis-py-cluster 2.1.3 on redis-py 3.5.3 "
                     f"({reference_python.parent.parent})",
        "server_version": server_version,
        "python": platform.python_version(),
        "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "per_test_timeout": args.timeout,
        "budget": args.budget,
        "suite_source": source.read_text(encoding="utf-8").strip() if source.exists() else None,
        "command": "python -m compat.rpc_suite " + " ".join(sys.argv[1:]),
    }


def _write(rep: Dict[str, Any], out_dir: Path, as_json: bool) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path, json_path = out_dir / "rpc_suite.md", out_dir / "rpc_suite.json"
    md_path.write_text(report.markdown(rep), encoding="utf-8")
    json_path.write_text(json.dumps(rep, indent=1, default=str) + "\n", encoding="utf-8")
    h = rep["headline"]
    if as_json:
        sys.stdout.write(json.dumps(rep, indent=1, default=str) + "\n")
    else:
        print(f"{h['pass_on_clustercore']} of the {h['applicable']} applicable tests pass on "
              f"clustercore.compat.rediscluster; redis-py 8.1: {h['redis_py_81']}, deliberate: "
              f"{h['deliberate_differences']}, open: {h['open']}; git HEAD {rep['git_head']}")
    log(f"report: {md_path} and {json_path}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m compat.rpc_suite",
                                     description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", action="store_true", help="print the JSON report on stdout")
    parser.add_argument("--out-dir", type=Path, default=REPORTS_DIR)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per test")
    parser.add_argument("--budget", type=float, default=900.0,
                        help="seconds for both runs together (default: %(default)s)")
    parser.add_argument("--files", nargs="*", default=["test_*.py"],
                        help="module globs under the suite's tests/")
    parser.add_argument("--tests-from", type=Path, metavar="DIR",
                        help="the 2.1.3 tag's tests/ directory (when GitHub is out of reach)")
    parser.add_argument("--source-note", metavar="TEXT",
                        help="with --tests-from: where those files came from (for the report)")
    parser.add_argument("--allowlist", type=Path, default=ALLOWLIST)
    parser.add_argument("--reference-from", type=Path, metavar="RUN_DIR",
                        help="reuse the reference run of an earlier run directory")
    parser.add_argument("--from-run", type=Path, metavar="RUN_DIR",
                        help="only rebuild the report from this run directory's events")
    args = parser.parse_args(argv)

    tables = report.load_tables(args.allowlist)  # a malformed allowlist fails now
    if args.from_run is not None:
        meta_path = args.from_run / "meta.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        rep = report.build(results.parse_run(args.from_run / "redis-py.jsonl", "redis-py"),
                           results.parse_run(args.from_run / "clustercore.jsonl", "clustercore"),
                           meta, tables)
        rep["run_dir"] = str(args.from_run)
        _write(rep, args.out_dir, args.json)
        return 0

    t_start = time.monotonic()
    deadline = t_start + args.budget
    suite_dir = fetch.suite_dir(args.tests_from, args.source_note)
    reference_python = fetch.reference_python()
    files = sorted({str(p.relative_to(suite_dir)) for pattern in args.files
                    for p in (suite_dir / "tests").glob(pattern)})
    if not files:
        log(f"no test modules match {args.files} in {suite_dir / 'tests'}")
        return 2
    run_dir = fetch.CACHE_DIR / "rpc-runs" / time.strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    runs: List[SuiteRun] = []
    try:
        with fixed_port_cluster() as cluster:
            primary = cluster.primaries()[0]
            server_version = cluster.info(primary, "server").get("redis_version", "unknown")
            suite = Suite(suite_dir, files, f"redis://127.0.0.1:{PORTS[1]}",
                          [f"{n.host}:{n.port}" for n in cluster.nodes], args.timeout)
            meta = _meta(args, server_version, suite_dir, reference_python)
            (run_dir / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
            log(f"cluster up ({server_version}) on 7000-7005; events in {run_dir}")
            reference_run = RpcSuiteRun(suite, "redis-py", run_dir, reference_python)
            runs.append(reference_run)
            if args.reference_from is not None:
                reference_run.events.write_bytes(
                    (args.reference_from / "redis-py.jsonl").read_bytes())
                reference = results.parse_run(reference_run.events, "redis-py")
            else:
                reference = reference_run.run(deadline - args.budget / 3)
            ref_pass = [n for n in reference.collected
                        if reference.result(n).outcome == "passed"
                        and results.category(reference.result(n)) == results.BLACK_BOX]
            log(f"reference: {reference.outcome_counts()}; black-box passing: {len(ref_pass)}")
            with contextlib.suppress(Exception):
                cluster.heal(timeout=60)
            meta["git_head"] = git_head()
            (run_dir / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
            candidate_run = RpcSuiteRun(suite, "clustercore", run_dir, Path(sys.executable),
                                        select=ref_pass)
            runs.append(candidate_run)
            candidate = candidate_run.run(deadline) if ref_pass else results.RunResult(
                "clustercore", notes=["no black-box test passed on redis-py-cluster"])
            log(f"clustercore: {candidate.outcome_counts(ref_pass)}")
    except KeyboardInterrupt:
        log("interrupted: stopping pytest and the cluster")
        return 130
    finally:
        for run in runs:
            run.stop()
        signal.signal(signal.SIGTERM, previous)
    rep = report.build(reference, candidate, meta, tables)
    rep["run_dir"] = str(run_dir)
    rep["seconds_total"] = round(time.monotonic() - t_start, 1)
    _write(rep, args.out_dir, args.json)
    return 0
