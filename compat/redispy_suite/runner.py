"""Run redis-py's cluster-mode suite on redis-py and on clustercore and write the report.

``.venv/bin/python -m compat.redispy_suite`` from the repository root:

1. fetches the suite of the installed redis-py version into ``compat/.cache`` (``fetch``);
2. starts a local 3+3 cluster on 127.0.0.1 (``clustercore.testing.LocalCluster``);
3. runs the suite's sync modules in cluster mode (``-m "not onlynoncluster and not redismod"
   --redis-url=redis://127.0.0.1:PORT/0``, redis-py's own way) under ``plugin``: the
   reference run as it is, then, on the black-box tests that passed, the clustercore run
   with the class substituted (``shim``);
4. writes ``compat/reports/redispy_suite.md`` and ``.json`` (``results``) and prints the
   headline (``--json``: the JSON on stdout).

Bounded in time: pytest-timeout per test (``--timeout``, signal method), and a budget for the
whole tool (``--budget``; the reference run must leave ``REFERENCE_RESERVE`` of it).  A pytest
process that crashes, hangs past the budget, or does not exit after its session finished is
killed (its process group, which this runner created); the test it was in is recorded as
crashed and the rest are run in a new process, up to ``MAX_ATTEMPTS`` per run.  Tests never
started are "not-run".  The cluster is stopped at the end, on Ctrl-C and on SIGTERM too.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from ..api_surface import git_head
from . import fetch, results

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO_ROOT / "compat" / ".cache"
REPORTS_DIR = REPO_ROOT / "compat" / "reports"
MARKEXPR = "not onlynoncluster and not redismod"
MAX_ATTEMPTS = 4
EXIT_GRACE = 20.0  # seconds a pytest process may take to exit after its session finished
KILL_GRACE = 10.0  # seconds between SIGTERM and SIGKILL
REFERENCE_RESERVE = 240.0  # seconds of the budget kept for the clustercore run (it takes ~1 min)


def log(message: str) -> None:
    """Progress on stderr (stdout is the report's)."""
    print(f"[redispy_suite {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _append_event(path: Path, event: str, **data: Any) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"ev": event, **data}) + "\n")


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """Stop the process group we started for ``proc``: SIGTERM, then SIGKILL."""
    if proc.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, KILL_GRACE)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


class _FinishWatch:
    """Notices the plugin's "finish" line of the current attempt by reading only new bytes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def finished(self) -> bool:
        if not self.path.exists():
            return False
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            chunk = fh.read()
        cut = chunk.rfind(b"\n") + 1
        self.offset += cut
        return b'"ev": "finish"' in chunk[:cut]


@dataclass
class Suite:
    """What every pytest invocation shares: the suite, the cluster, the options."""

    suite_dir: Path
    files: List[str]
    redis_url: str
    nodes: List[str]
    timeout: float


class SuiteRun:
    """One run (reference or clustercore) of the suite: one or more pytest processes."""

    def __init__(self, suite: Suite, mode: str, run_dir: Path,
                 select: Optional[Sequence[str]] = None) -> None:
        self.suite = suite
        self.mode = mode
        self.events = run_dir / f"{mode}.jsonl"
        self.log_path = run_dir / f"{mode}.log"
        self.select_path = run_dir / f"{mode}.select"
        self.select = list(select) if select is not None else None
        self.current: Optional[subprocess.Popen[bytes]] = None

    def _command(self) -> List[str]:
        return [
            sys.executable, "-m", "pytest", "-c", str(self.suite.suite_dir / "pytest.ini"),
            "--rootdir", str(self.suite.suite_dir), "-p", "no:cacheprovider",
            "-p", "compat.redispy_suite.plugin", "-q", "-rN", "--color=no",
            "--continue-on-collection-errors", "-m", MARKEXPR,
            f"--redis-url={self.suite.redis_url}", f"--redis-cluster-nodes={len(self.suite.nodes)}",
            f"--timeout={self.suite.timeout:g}", "--timeout-method=signal", "--tb=native",
            *self.suite.files,
        ]

    def _env(self, attempt: int, select: Optional[List[str]]) -> Dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
        env.update(COMPAT_MODE=self.mode, COMPAT_RESULTS=str(self.events),
                   COMPAT_NODES=",".join(self.suite.nodes), COMPAT_ATTEMPT=str(attempt))
        env.pop("COMPAT_SELECT", None)
        if select is not None:
            self.select_path.write_text("\n".join(select) + "\n", encoding="utf-8")
            env["COMPAT_SELECT"] = str(self.select_path)
        return env

    def _attempt(self, attempt: int, select: Optional[List[str]], deadline: float
                 ) -> Tuple[str, bool]:
        """One pytest process: how it ended ("exited", "budget", "no-exit") and whether its
        session finished (the plugin's "finish" line)."""
        watch = _FinishWatch(self.events)
        t0 = time.monotonic()
        ended = "exited"
        finished_at: Optional[float] = None
        with self.log_path.open("ab") as logfh:
            proc = subprocess.Popen(self._command(), cwd=self.suite.suite_dir,
                                    env=self._env(attempt, select), stdout=logfh,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            self.current = proc
            try:
                while proc.poll() is None:
                    now = time.monotonic()
                    if now >= deadline:
                        ended = "budget"
                        break
                    if finished_at is None and watch.finished():
                        finished_at = now
                    if finished_at is not None and now - finished_at > EXIT_GRACE:
                        ended = "no-exit"
                        break
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=min(1.0, max(0.05, deadline - now)))
            finally:
                _terminate(proc)
                self.current = None
        finished = finished_at is not None or watch.finished()
        note = None
        if ended == "no-exit":
            note = (f"{self.mode} attempt {attempt}: pytest did not exit within {EXIT_GRACE:g} s "
                    "after its session finished (threads left running?); killed")
        elif ended == "budget":
            note = f"{self.mode} attempt {attempt}: the time budget ran out; killed"
        elif not finished:
            note = (f"{self.mode} attempt {attempt}: pytest ended (status {proc.returncode}) "
                    f"before its session finished; see {self.log_path}")
        _append_event(self.events, "runner", attempt=attempt,
                      seconds=round(time.monotonic() - t0, 1), returncode=proc.returncode,
                      ended=ended, note=note)
        return ended, finished

    def run(self, deadline: float) -> results.RunResult:
        """Run until the session finishes, the budget ends, or attempts run out; a crash
        marks the test it happened in and starts a new process for the tests left."""
        select = self.select
        for attempt in range(1, MAX_ATTEMPTS + 1):
            log(f"{self.mode}: pytest attempt {attempt}"
                + (f" ({len(select)} tests)" if select is not None else " (all tests)"))
            ended, finished = self._attempt(attempt, select, deadline)
            state = results.parse_run(self.events, self.mode)
            if finished or ended == "budget" or state.shim_error:
                break
            if not state.collected:
                break  # the note above points at the log
            for nodeid, test in state.tests.items():
                if test.outcome == "crashed":
                    _append_event(self.events, "crashed", nodeid=nodeid,
                                  reason=f"the pytest process died while it ran "
                                         f"(attempt {attempt})")
            select = [n for n in (select if select is not None else state.collected)
                      if n not in state.tests]
            if not select:
                break
        final = results.parse_run(self.events, self.mode)
        wanted = self.select if self.select is not None else final.collected
        never = [n for n in wanted if n not in final.tests]
        if never:
            _append_event(self.events, "not_run", nodeids=never,
                          reason="never started (time budget, attempts or collection)")
            final = results.parse_run(self.events, self.mode)
        if self.select is not None:
            final.collected = list(self.select)
        return final

    def stop(self) -> None:
        """Kill the pytest process of this run, if one is running (Ctrl-C, SIGTERM)."""
        if self.current is not None:
            _terminate(self.current)


class _Interrupted(KeyboardInterrupt):
    """SIGTERM, turned into an exception so that every ``finally`` runs."""


def _on_sigterm(signum: int, frame: Optional[FrameType]) -> None:
    raise _Interrupted()


@contextlib.contextmanager
def local_cluster() -> Iterator[Any]:
    """A 3+3 LocalCluster on 127.0.0.1, stopped on the way out whatever happens."""
    from clustercore.testing import LocalCluster

    cluster = LocalCluster(3, 1, host="127.0.0.1", node_timeout_ms=2000)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def _meta(args: argparse.Namespace, server_version: str, suite_dir: Path) -> Dict[str, Any]:
    import redis

    source = suite_dir / "SOURCE"
    head = git_head()
    return {
        "git_head": head,
        "git_head_reference": head,
        "redis_py_version": redis.__version__,
        "server_version": server_version,
        "python": platform.python_version(),
        "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "per_test_timeout": args.timeout,
        "budget": args.budget,
        "suite_source": source.read_text(encoding="utf-8").strip() if source.exists() else None,
        "command": "python -m compat.redispy_suite " + " ".join(sys.argv[1:]),
    }


def _write_report(report: Dict[str, Any], out_dir: Path, as_json: bool, top: int) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path, json_path = out_dir / "redispy_suite.md", out_dir / "redispy_suite.json"
    md_path.write_text(results.markdown(report, top), encoding="utf-8")
    json_path.write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
    h = report["headline"]
    if as_json:
        sys.stdout.write(json.dumps(report, indent=1, default=str) + "\n")
    else:
        print(f"{h['pass_on_clustercore']} of the {h['denominator']} black-box tests that pass on "
              f"redis-py pass on clustercore ({h['percent']}%); git HEAD {report['git_head']}")
        for i, entry in enumerate(report["reasons"][:top], 1):
            print(f"{i:3}. {entry['count']:4}  {entry['reason']}")
    log(f"report: {md_path} and {json_path}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m compat.redispy_suite",
                                     description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", action="store_true", help="print the JSON report on stdout")
    parser.add_argument("--out-dir", type=Path, default=REPORTS_DIR,
                        help="where redispy_suite.md/.json go (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds per test, pytest-timeout (default: %(default)s, the suite's)")
    parser.add_argument("--budget", type=float, default=780.0,
                        help="seconds for both runs together (default: %(default)s)")
    parser.add_argument("--files", nargs="*", default=["test_*.py"],
                        help="module globs under the suite's tests/ (default: test_*.py)")
    parser.add_argument("--top", type=int, default=20, help="failure reasons in the summary")
    parser.add_argument("--allowlist", type=Path, default=REPO_ROOT / "compat" / "deliberate.toml",
                        help="its [tests] table: documented deliberate differences "
                             "(default: %(default)s)")
    parser.add_argument("--reference-from", type=Path, metavar="RUN_DIR",
                        help="reuse the reference (redis-py) run of an earlier run directory "
                             "instead of running it again")
    parser.add_argument("--from-run", type=Path,
                        help="only rebuild the report from the event files in this run directory")
    args = parser.parse_args(argv)

    import redis

    if args.from_run is not None:
        reference = results.parse_run(args.from_run / "redis-py.jsonl", "redis-py")
        candidate = results.parse_run(args.from_run / "clustercore.jsonl", "clustercore")
        meta_path = args.from_run / "meta.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        report = results.compare(reference, candidate, meta,
                                 results.load_deliberate(args.allowlist))
        report["run_dir"] = str(args.from_run)
        _write_report(report, args.out_dir, args.json, args.top)
        return 0

    results.load_deliberate(args.allowlist)  # a malformed allowlist fails now, not after the runs
    t_start = time.monotonic()
    deadline = t_start + args.budget
    suite_dir = fetch.suite_dir(redis.__version__)
    files = sorted({str(p.relative_to(suite_dir)) for pattern in args.files
                    for p in (suite_dir / "tests").glob(pattern)})
    if not files:
        log(f"no test modules match {args.files} in {suite_dir / 'tests'}")
        return 2
    run_dir = CACHE_DIR / "runs" / time.strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    runs: List[SuiteRun] = []
    try:
        with local_cluster() as cluster:
            primary = cluster.primaries()[0]
            server_version = cluster.info(primary, "server").get("redis_version", "unknown")
            suite = Suite(suite_dir, files, f"redis://{primary.host}:{primary.port}/0",
                          [f"{n.host}:{n.port}" for n in cluster.nodes], args.timeout)
            meta = _meta(args, server_version, suite_dir)
            (run_dir / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
            log(f"cluster up ({server_version}) at {suite.redis_url}; events in {run_dir}")

            reference_run = SuiteRun(suite, "redis-py", run_dir)
            runs.append(reference_run)
            if args.reference_from is not None:
                shutil.copyfile(args.reference_from / "redis-py.jsonl", reference_run.events)
                _append_event(reference_run.events, "runner",
                              note=f"reference run reused from {args.reference_from}")
                reference = results.parse_run(reference_run.events, "redis-py")
            else:
                reference = reference_run.run(deadline - min(REFERENCE_RESERVE, args.budget / 3))
            ref_pass = [n for n in reference.collected
                        if reference.result(n).outcome == "passed"
                        and results.category(reference.result(n)) == results.BLACK_BOX]
            log(f"reference: {reference.outcome_counts()}; black-box passing: {len(ref_pass)}")
            try:
                cluster.heal(timeout=60)
            except Exception as exc:
                _append_event(run_dir / "clustercore.jsonl", "runner",
                              note=f"the cluster did not heal after the reference run: {exc}")
            meta["git_head"] = git_head()  # the clustercore code measured is this one's
            (run_dir / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
            candidate_run = SuiteRun(suite, "clustercore", run_dir, select=ref_pass)
            runs.append(candidate_run)
            if ref_pass:
                candidate = candidate_run.run(deadline)
            else:
                candidate = results.RunResult("clustercore", notes=[
                    "no black-box test passed on redis-py: the clustercore run was skipped"])
            log(f"clustercore: {candidate.outcome_counts(ref_pass)}")
    except KeyboardInterrupt:
        log("interrupted: stopping pytest and the cluster")
        for run in runs:
            run.stop()
        return 130
    finally:
        for run in runs:
            run.stop()
        signal.signal(signal.SIGTERM, previous)
    report = results.compare(reference, candidate, meta, results.load_deliberate(args.allowlist))
    report["run_dir"] = str(run_dir)
    report["seconds_total"] = round(time.monotonic() - t_start, 1)
    _write_report(report, args.out_dir, args.json, args.top)
    return 0
