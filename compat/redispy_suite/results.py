"""Reading the plugin's event files and turning two runs into the report (Markdown and JSON).

Definitions used in the report:

- a test's **outcome** is ``passed`` when its setup, call and teardown all passed; ``failed``
  when one of them failed (the first failing phase is the test's phase and reason); ``skipped``
  when skipped or xfailed; ``crashed`` when the pytest process died or was killed while it ran
  (the runner records that); ``not-collected`` when its module failed to import in that run
  (on clustercore: a module-level use of a missing name); ``not-run`` when it was selected but
  never started (the run's time budget ran out, or the process could not be restarted);
- a test is **black-box** when, in the reference run, it built at least one cluster client
  (``RedisCluster``, directly or through a fixture), used no mocks (no ``unittest.mock`` object
  or patch, no ``monkeypatch`` change) and its own body touches no ``_private`` attribute;
- the **denominator** is the black-box tests that pass on redis-py; the headline is how many of
  them pass with clustercore substituted (setup, call and teardown); the *body* count is how
  many passed their call phase, whatever their fixtures' teardown did;
- a **documented deliberate difference** is a failing denominator test matched by a pattern
  of the ``[tests]`` table of compat/deliberate.toml (each with its reason); *open* is what is
  neither passing nor documented;
- a **failure reason** is the exception's type and the first line of its message, with
  addresses, ports and ids masked so that equal causes group together.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

if sys.version_info >= (3, 11):
    import tomllib
else:  # the allowlist needs tomllib
    tomllib = None

PHASES = ("setup", "call", "teardown")
BLACK_BOX = "black-box"


def iter_events(path: Path) -> Iterator[Dict[str, Any]]:
    """The recorded events of a results file (a torn last line is skipped)."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                yield event


@dataclass
class TestResult:
    """One test's outcome in one run, with what the plugin counted."""

    nodeid: str
    outcome: str = "not-run"
    phase: Optional[str] = None
    exc_type: Optional[str] = None
    message: str = ""
    where: Optional[str] = None
    where_ours: Optional[str] = None
    constructed: int = 0
    mocked: int = 0
    private: List[str] = field(default_factory=list)
    call_passed: bool = False
    duration: float = 0.0

    @property
    def file(self) -> str:
        return self.nodeid.split("::", 1)[0]

    def reason(self) -> str:
        """The grouping key of a test that did not pass."""
        if self.outcome in ("crashed", "not-run", "not-collected"):
            return f"{self.outcome}: {self.message}" if self.message else self.outcome
        if self.outcome == "skipped":
            return f"skipped: {mask(self.message)}"
        return f"{self.exc_type or 'failed'}: {mask(self.message)}"


@dataclass
class RunResult:
    """Everything one run (possibly several pytest processes) recorded."""

    mode: str
    collected: List[str] = field(default_factory=list)
    tests: Dict[str, TestResult] = field(default_factory=dict)
    collect_errors: Dict[str, str] = field(default_factory=dict)
    async_excluded: List[str] = field(default_factory=list)
    shim_error: Optional[str] = None
    plugin_errors: List[str] = field(default_factory=list)
    attempts: int = 0
    finished: bool = False
    reset_errors: int = 0
    resets: int = 0
    seconds: float = 0.0
    notes: List[str] = field(default_factory=list)

    def outcome_counts(self, nodeids: Optional[Iterable[str]] = None) -> Dict[str, int]:
        ids = self.collected if nodeids is None else list(nodeids)
        return dict(Counter(self.tests[n].outcome if n in self.tests else "not-run" for n in ids))

    def result(self, nodeid: str) -> TestResult:
        return self.tests.get(nodeid) or TestResult(nodeid)


_MASKS: Tuple[Tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"0x[0-9a-fA-F]+"), "0x…"),
    (re.compile(r"((?:127\.0\.0\.1|localhost|\[?::1\]?)[:_ ])\d{2,5}"), r"\1PORT"),
    (re.compile(r"\b(id[=:]\s*)\d+"), r"\1N"),
    (re.compile(r"\b[0-9a-f]{40}\b"), "<sha/node-id>"),
)


def mask(message: str, limit: int = 160) -> str:
    """The first line of ``message`` with addresses, ports and ids masked, cut at ``limit``."""
    text = message.strip().splitlines()[0] if message.strip() else ""
    for pattern, repl in _MASKS:
        text = pattern.sub(repl, text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _outcome(phases: Dict[str, Dict[str, Any]]) -> Tuple[str, Optional[str]]:
    for when in PHASES:
        if phases.get(when, {}).get("outcome") == "failed":
            return "failed", when
    for when in PHASES:
        if phases.get(when, {}).get("outcome") == "skipped":
            return "skipped", when
    if all(phases.get(w, {}).get("outcome") == "passed" for w in PHASES):
        return "passed", None
    return "crashed", None


def parse_run(path: Path, mode: str) -> RunResult:
    """Fold a results file's events into a RunResult."""
    run = RunResult(mode)
    private: Dict[str, List[str]] = {}
    seen: set[str] = set()
    phases: Dict[str, Dict[str, Dict[str, Any]]] = defaultdict(dict)
    attempts: set[int] = set()
    for ev in iter_events(path):
        kind = ev.get("ev")
        attempts.add(int(ev.get("attempt", 1)))
        if kind == "collected":
            for item in ev.get("items", []):
                nodeid = item["nodeid"]
                private[nodeid] = list(item.get("private", []))
                if nodeid not in seen:
                    seen.add(nodeid)
                    run.collected.append(nodeid)
            for nodeid in ev.get("async_excluded", []):
                if nodeid not in run.async_excluded:
                    run.async_excluded.append(nodeid)
        elif kind == "collect_error":
            run.collect_errors[ev["nodeid"]] = ev.get("reason", "")
        elif kind == "begin":
            phases[ev["nodeid"]] = {}
            run.tests[ev["nodeid"]] = TestResult(ev["nodeid"], outcome="crashed",
                                                 private=private.get(ev["nodeid"], []))
        elif kind == "phase":
            phases[ev["nodeid"]][ev["when"]] = ev
        elif kind == "end":
            test = run.tests.setdefault(ev["nodeid"], TestResult(ev["nodeid"]))
            _finish(test, phases[ev["nodeid"]])
            test.constructed = int(ev.get("constructed", 0))
            test.mocked = int(ev.get("mocked", 0))
        elif kind == "crashed":
            test = run.tests.setdefault(ev["nodeid"], TestResult(ev["nodeid"]))
            test.outcome, test.message = "crashed", ev.get("reason", "")
        elif kind == "not_run":
            for nodeid in ev.get("nodeids", []):
                run.tests[nodeid] = TestResult(nodeid, outcome="not-run",
                                               message=ev.get("reason", ""))
        elif kind == "shim_error":
            run.shim_error = ev.get("error")
        elif kind == "plugin_error":
            run.plugin_errors.append(str(ev.get("error")))
        elif kind == "reset_error":
            run.reset_errors += 1
        elif kind == "reset":
            run.resets += 1
        elif kind == "finish":
            run.finished = True
        elif kind == "runner":
            run.seconds += float(ev.get("seconds", 0.0))
            if ev.get("note"):
                run.notes.append(str(ev["note"]))
    run.attempts = len(attempts)
    for test in run.tests.values():
        if test.outcome == "not-run" and test.file in run.collect_errors:
            test.outcome = "not-collected"
            test.message = f"its module failed to import: {run.collect_errors[test.file]}"
    return run


def _finish(test: TestResult, phases: Dict[str, Dict[str, Any]]) -> None:
    test.outcome, test.phase = _outcome(phases)
    test.call_passed = phases.get("call", {}).get("outcome") == "passed"
    test.duration = round(sum(float(p.get("duration", 0.0)) for p in phases.values()), 3)
    source = phases.get(test.phase or "", {})
    if test.outcome in ("failed", "skipped"):
        test.exc_type = source.get("exc_type")
        test.message = source.get("message", "")
        test.where = source.get("where")
        test.where_ours = source.get("where_ours")


def category(test: TestResult) -> str:
    """Black-box or the reason a reference test is not (see the module docstring)."""
    if test.constructed == 0:
        return "no cluster client"
    if test.mocked:
        return "uses mocks"
    if test.private:
        return "touches private attributes"
    return BLACK_BOX


# --------------------------------------------------------------------------------------------
# The comparison


def load_deliberate(path: Optional[Path]) -> Dict[str, str]:
    """The ``[tests]`` table of the allowlist (compat/deliberate.toml): node id pattern
    (``fnmatch``, e.g. ``tests/test_cluster.py::TestClusterPipeline::test_*_disabled``) ->
    the documented reason clustercore deliberately behaves otherwise."""
    if path is None or not path.exists() or tomllib is None:
        return {}
    table = tomllib.loads(path.read_text(encoding="utf-8")).get("tests", {})
    out: Dict[str, str] = {}
    for pattern, reason in table.items():
        if not isinstance(reason, str) or not reason.strip():
            raise SystemExit(f"{path}: tests.{pattern!r} needs a reason string")
        out[str(pattern)] = reason
    return out


def _excuse(nodeid: str, deliberate: Dict[str, str]) -> Optional[str]:
    return next((p for p in deliberate if fnmatch.fnmatchcase(nodeid, p)), None)


def compare(reference: RunResult, candidate: RunResult, meta: Dict[str, Any],
            deliberate: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """The report (JSON-ready) from the reference run and the clustercore run; a failing test
    matched by a ``deliberate`` pattern counts as a documented difference, not a failure."""
    deliberate = deliberate or {}
    ref_passed = [n for n in reference.collected if reference.result(n).outcome == "passed"]
    categories = Counter(category(reference.result(n)) for n in ref_passed)
    denominator = [n for n in ref_passed if category(reference.result(n)) == BLACK_BOX]
    outcomes = {n: candidate.result(n) for n in denominator}
    passing = [n for n in denominator if outcomes[n].outcome == "passed"]
    excused: Dict[str, str] = {}
    for n in denominator:
        pattern = _excuse(n, deliberate) if outcomes[n].outcome != "passed" else None
        if pattern is not None:
            excused[n] = pattern
    used = set(excused.values())

    per_file: Dict[str, Counter[str]] = defaultdict(Counter)
    for n in denominator:
        per_file[outcomes[n].file][outcomes[n].outcome] += 1
        per_file[outcomes[n].file]["body passed"] += int(outcomes[n].call_passed)
    reasons: Dict[str, Dict[str, Any]] = {}
    for n in denominator:
        test = outcomes[n]
        if test.outcome == "passed" or n in excused:
            continue
        key = test.reason()
        entry = reasons.setdefault(key, {"reason": key, "count": 0, "phases": Counter(),
                                         "where_ours": Counter(), "examples": []})
        entry["count"] += 1
        entry["phases"][test.phase or test.outcome] += 1
        if test.where_ours:
            entry["where_ours"][test.where_ours] += 1
        if len(entry["examples"]) < 3:
            entry["examples"].append(n)
    ranked = sorted(reasons.values(), key=lambda e: (-e["count"], e["reason"]))
    for entry in ranked:
        entry["phases"] = dict(entry["phases"])
        entry["where_ours"] = [w for w, _ in entry["where_ours"].most_common(3)]

    return {
        "tool": "compat/redispy_suite",
        **meta,
        "headline": {
            "denominator": len(denominator),
            "pass_on_clustercore": len(passing),
            "percent": round(100.0 * len(passing) / len(denominator), 1) if denominator else 0.0,
            "call_passed_but_setup_or_teardown_failed": sum(
                1 for n in denominator
                if outcomes[n].outcome == "failed" and outcomes[n].call_passed),
            "body_passes_on_clustercore": sum(1 for n in denominator if outcomes[n].call_passed),
            "deliberate_differences": len(excused),
            "open": len(denominator) - len(passing) - len(excused),
        },
        "deliberate": {
            "excused": {n: {"pattern": p, "reason": deliberate[p],
                            "outcome": outcomes[n].reason()} for n, p in excused.items()},
            "stale_patterns": sorted(p for p in deliberate if p not in used),
        },
        "reference": {
            "collected": len(reference.collected),
            "async_excluded": len(reference.async_excluded),
            "collect_errors": reference.collect_errors,
            "outcomes": reference.outcome_counts(),
            "passed_by_category": dict(categories),
            "attempts": reference.attempts,
            "finished": reference.finished,
            "seconds": round(reference.seconds, 1),
            "reset_errors": reference.reset_errors,
            "resets": reference.resets,
            "notes": reference.notes,
            "plugin_errors": reference.plugin_errors,
        },
        "clustercore": {
            "outcomes": candidate.outcome_counts(denominator),
            "attempts": candidate.attempts,
            "finished": candidate.finished,
            "seconds": round(candidate.seconds, 1),
            "reset_errors": candidate.reset_errors,
            "resets": candidate.resets,
            "shim_error": candidate.shim_error,
            "collect_errors": {k: v for k, v in candidate.collect_errors.items()
                               if reference.collect_errors.get(k) != v},
            "notes": candidate.notes,
            "plugin_errors": candidate.plugin_errors,
        },
        "per_file": {f: {"denominator": sum(v for k, v in c.items() if k != "body passed"),
                         **dict(c)} for f, c in sorted(per_file.items())},
        "reasons": ranked,
        "tests": [
            {"nodeid": n, "reference": reference.result(n).outcome,
             "category": category(reference.result(n)),
             "clustercore": outcomes[n].outcome if n in outcomes else None,
             "phase": outcomes[n].phase if n in outcomes else None,
             "reason": outcomes[n].reason() if n in outcomes and outcomes[n].outcome != "passed"
             else None,
             "where_ours": outcomes[n].where_ours if n in outcomes else None}
            for n in reference.collected
        ],
    }


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(report: Dict[str, Any], top: int = 20) -> str:
    """The report as Markdown: headline, the funnel, per file, the top failure reasons."""
    h, ref, cc = report["headline"], report["reference"], report["clustercore"]
    out = [
        "# redis-py's cluster-mode suite against clustercore",
        "",
        f"git HEAD `{report.get('git_head')}` when the clustercore run started (working tree as "
        f"found; the reference run started at `{report.get('git_head_reference')}`), redis-py "
        f"{report.get('redis_py_version')} (suite and reference client), Redis server "
        f"{report.get('server_version')}, Python {report.get('python')}, "
        f"{report.get('started')}. Definitions: `compat/redispy_suite/results.py`.",
        "",
        f"**{h['pass_on_clustercore']} of the {h['denominator']} black-box tests that pass on "
        f"redis-py pass on clustercore ({h['percent']}%).** Documented deliberate differences "
        f"(`[tests]` in compat/deliberate.toml): {h['deliberate_differences']}; open: "
        f"{h['open']}.",
        "",
        f"Test bodies (the call phase) passing on clustercore: {h['body_passes_on_clustercore']};"
        f" {h['call_passed_but_setup_or_teardown_failed']} of the failing tests failed only in a "
        "fixture's teardown (the suite's own client teardown: `flushdb(target_nodes=...)`, "
        "`close()`, `disconnect_connection_pools()`).",
    ]
    if cc.get("shim_error"):
        out += ["", "**The shim failed to install; the clustercore run did not happen:**", "",
                "```", cc["shim_error"].strip(), "```"]
    out += [
        "",
        "## The funnel",
        "",
        f"- sync tests selected in cluster mode (`-m \"not onlynoncluster and not redismod\"`): "
        f"{ref['collected']} (plus {ref['async_excluded']} `async def` tests excluded)",
        f"- modules that failed to collect: {len(ref['collect_errors'])}"
        + "".join(f"\n  - `{k}`: {_md_escape(v)}" for k, v in sorted(ref["collect_errors"].items())),
        "- on redis-py: " + ", ".join(f"{k} {v}" for k, v in sorted(ref["outcomes"].items())),
        "- of those passing on redis-py: " + ", ".join(
            f"{k} {v}" for k, v in sorted(ref["passed_by_category"].items())),
        "- the denominator (black-box, passing on redis-py) on clustercore: " + ", ".join(
            f"{k} {v}" for k, v in sorted(cc["outcomes"].items())),
        f"- modules that import with redis-py but not with clustercore: "
        f"{len(cc['collect_errors'])}"
        + "".join(f"\n  - `{k}`: {_md_escape(v)}" for k, v in sorted(cc["collect_errors"].items())),
        f"- runs: reference {ref['seconds']} s in {ref['attempts']} process(es)"
        f"{'' if ref['finished'] else ' (did not finish)'}, clustercore {cc['seconds']} s in "
        f"{cc['attempts']} process(es){'' if cc['finished'] else ' (did not finish)'}",
        f"- out-of-band node resets that had to undo CONFIG/ACL changes (reference / "
        f"clustercore): {ref['resets']} / {cc['resets']}; reset errors: {ref['reset_errors']} / "
        f"{cc['reset_errors']}",
    ]
    for note in ref["notes"] + cc["notes"]:
        out.append(f"- note: {_md_escape(note)}")
    out += ["", "## Per file", "", "| file | denominator | passed | body passed | failed | skipped "
            "| crashed | not collected | not run |", "|---|---|---|---|---|---|---|---|---|"]
    for name, c in report["per_file"].items():
        out.append(f"| `{name}` | {c['denominator']} | {c.get('passed', 0)} | "
                   f"{c.get('body passed', 0)} | {c.get('failed', 0)} "
                   f"| {c.get('skipped', 0)} | {c.get('crashed', 0)} | "
                   f"{c.get('not-collected', 0)} | {c.get('not-run', 0)} |")
    delib = report["deliberate"]
    if delib["excused"] or delib["stale_patterns"]:
        out += ["", "## Documented deliberate differences", ""]
        out += [f"- `{n}`: {_md_escape(e['reason'])} (got: {_md_escape(e['outcome'])})"
                for n, e in sorted(delib["excused"].items())]
        out += [f"- stale pattern (matches no failing test): `{p}`"
                for p in delib["stale_patterns"]]
    reasons = report["reasons"]
    out += ["", f"## The {min(top, len(reasons))} most common failure reasons "
            f"(of {len(reasons)}; all in the JSON)", "",
            "| # | tests | reason | phases | where in clustercore/compat | example |",
            "|---|---|---|---|---|---|"]
    for i, entry in enumerate(reasons[:top], 1):
        phases = ", ".join(f"{k} {v}" for k, v in sorted(entry["phases"].items()))
        where = "<br>".join(f"`{w}`" for w in entry["where_ours"]) or "-"
        example = f"`{entry['examples'][0]}`" if entry["examples"] else ""
        out.append(f"| {i} | {entry['count']} | {_md_escape(entry['reason'])} | {phases} | "
                   f"{where} | {_md_escape(example)} |")
    return "\n".join(out) + "\n"
