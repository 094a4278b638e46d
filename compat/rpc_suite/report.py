"""The rpc_suite report: compat/redispy_suite's comparison, partitioned for this suite.

From the black-box tests that pass on redis-py-cluster (``results.compare``'s denominator):

- **excluded** (not counted): matched by ``[excluded]`` in compat/rpc_deliberate.toml: tests
  of redis-py-cluster's own refusals (commands it blocks, in pipelines or at all) and of its
  repr format; each pattern has its reason and the report lists every test it removed;
- **applicable**: the rest; the headline is how many of them pass on clustercore;
- of the failures, **redis-py 8.1** (:func:`classify`): the suite needs redis-py 3.5 (a module
  or name redis-py 4 removed, a frame inside redis-py itself); **deliberate**: matched by
  ``[tests]`` (a documented difference, with its reason); **open**: the rest.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from typing import Any, Dict, List, Optional, Tuple

from ..redispy_suite import results

if sys.version_info >= (3, 11):
    import tomllib
else:
    tomllib = None

Tables = Tuple[Dict[str, str], Dict[str, str]]
REDIS_PY_81 = "redis-py 8.1"


def load_tables(path: Any) -> Tables:
    """``([excluded], [tests])`` of the allowlist: node id pattern -> reason."""
    if path is None or not path.exists() or tomllib is None:
        return {}, {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out: List[Dict[str, str]] = []
    for table in ("excluded", "tests"):
        entries: Dict[str, str] = {}
        for pattern, reason in data.get(table, {}).items():
            if not isinstance(reason, str) or not reason.strip():
                raise SystemExit(f"{path}: {table}.{pattern!r} needs a reason string")
            entries[str(pattern)] = reason
        out.append(entries)
    return out[0], out[1]


def _match(nodeid: str, table: Dict[str, str]) -> Optional[str]:
    return next((p for p in table if fnmatch.fnmatchcase(nodeid, p)), None)


#: An import of (or attribute access on) redis-py itself that failed: ``No module named
#: 'redis._compat'``, ``cannot import name 'X' from 'redis.client'``, ``module 'redis' has no
#: attribute``. (Not ``rediscluster``: that is clustercore's compat package.)
_REDIS_IMPORT = re.compile(
    r"(No module named '|cannot import name '[^']+' from '|module ')redis(\.[a-z_.]+)?'")


def classify(test: results.TestResult) -> Optional[str]:
    """Why a clustercore failure is redis-py 8.1's, not clustercore's (None: it is not)."""
    message = test.message or ""
    if _REDIS_IMPORT.search(message) and (
            test.outcome == "not-collected"
            or test.exc_type in ("ImportError", "ModuleNotFoundError", "AttributeError")):
        return f"{REDIS_PY_81}: {test.exc_type or test.outcome}: {message}"
    where = test.where or ""
    if where.startswith("redis/") and not test.where_ours:
        return f"{REDIS_PY_81}: raised inside redis-py ({where}): {test.exc_type}: {message}"
    return None


def build(reference: results.RunResult, candidate: results.RunResult, meta: Dict[str, Any],
          tables: Tables) -> Dict[str, Any]:
    """The report (JSON-ready); see the module docstring."""
    excluded_table, deliberate = tables
    base = results.compare(reference, candidate, meta, {})
    rows = {row["nodeid"]: row for row in base["tests"]}
    denominator = [n for n, row in rows.items()
                   if row["reference"] == "passed" and row["category"] == results.BLACK_BOX]
    excluded = {n: _match(n, excluded_table) for n in denominator}
    excluded = {n: p for n, p in excluded.items() if p is not None}
    applicable = [n for n in denominator if n not in excluded]
    passed = [n for n in applicable if rows[n]["clustercore"] == "passed"]
    failing = [n for n in applicable if rows[n]["clustercore"] != "passed"]
    redis81: Dict[str, str] = {}
    excused: Dict[str, str] = {}
    open_: Dict[str, str] = {}
    for n in failing:
        test = candidate.result(n)
        why = classify(test)
        pattern = _match(n, deliberate)
        if why is not None:
            redis81[n] = why
        elif pattern is not None:
            excused[n] = pattern
        else:
            open_[n] = test.reason()
    reasons: Dict[str, List[str]] = {}
    for n, reason in open_.items():
        reasons.setdefault(reason, []).append(n)
    per_file: Dict[str, Dict[str, int]] = {}
    for n in applicable:
        entry = per_file.setdefault(n.split("::", 1)[0], {"applicable": 0, "passed": 0,
                                                          REDIS_PY_81: 0, "deliberate": 0,
                                                          "open": 0})
        entry["applicable"] += 1
        entry["passed"] += n in passed
        entry[REDIS_PY_81] += n in redis81
        entry["deliberate"] += n in excused
        entry["open"] += n in open_
    used = set(excluded.values()) | set(excused.values())
    return {
        "tool": "compat/rpc_suite",
        **meta,
        "headline": {
            "black_box_passing_on_rpc": len(denominator),
            "excluded": len(excluded),
            "applicable": len(applicable),
            "pass_on_clustercore": len(passed),
            "percent": round(100.0 * len(passed) / len(applicable), 1) if applicable else 0.0,
            "redis_py_81": len(redis81),
            "deliberate_differences": len(excused),
            "open": len(open_),
        },
        "excluded": {n: {"pattern": p, "reason": excluded_table[p]} for n, p in excluded.items()},
        "redis_py_81": redis81,
        "deliberate": {n: {"pattern": p, "reason": deliberate[p],
                           "outcome": candidate.result(n).reason()} for n, p in excused.items()},
        "stale_patterns": sorted(p for p in (*excluded_table, *deliberate) if p not in used),
        "open": [{"reason": r, "count": len(ns), "tests": ns}
                 for r, ns in sorted(reasons.items(), key=lambda kv: (-len(kv[1]), kv[0]))],
        "per_file": dict(sorted(per_file.items())),
        "reference": base["reference"],
        "clustercore": base["clustercore"],
        "tests": base["tests"],
    }


def _esc(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(rep: Dict[str, Any]) -> str:
    """The report as Markdown."""
    h, ref = rep["headline"], rep["reference"]
    out = [
        "# redis-py-cluster 2.1.3's own suite against clustercore.compat.rediscluster",
        "",
        f"git HEAD `{rep.get('git_head')}` (working tree as found), reference: "
        f"{rep.get('reference_client')}, clustercore run on redis-py {rep.get('redis_py_version')}, "
        f"Redis server {rep.get('server_version')}, Python {rep.get('python')}, "
        f"{rep.get('started')}. Suite source: {rep.get('suite_source')}. Definitions: "
        "`compat/rpc_suite/report.py`.",
        "",
        f"**{h['pass_on_clustercore']} of the {h['applicable']} applicable tests pass "
        f"({h['percent']}%).** Of the rest: redis-py 8.1 (the suite needs redis-py 3.5): "
        f"{h['redis_py_81']}; documented deliberate differences: "
        f"{h['deliberate_differences']}; open: {h['open']}.",
        "",
        "## The funnel",
        "",
        f"- collected: {ref['collected']}; on redis-py-cluster 2.1.3: " + ", ".join(
            f"{k} {v}" for k, v in sorted(ref["outcomes"].items())),
        "- of those passing on redis-py-cluster: " + ", ".join(
            f"{k} {v}" for k, v in sorted(ref["passed_by_category"].items())),
        f"- black-box and passing on redis-py-cluster: {h['black_box_passing_on_rpc']}; not "
        f"counted (compat/rpc_deliberate.toml `[excluded]`): {h['excluded']}; applicable: "
        f"{h['applicable']}",
        f"- modules that failed to collect on redis-py-cluster: {len(ref['collect_errors'])}"
        + "".join(f"\n  - `{k}`: {_esc(v)}" for k, v in sorted(ref["collect_errors"].items())),
    ]
    for note in ref["notes"] + rep["clustercore"]["notes"]:
        out.append(f"- note: {_esc(note)}")
    out += ["", "## Per file", "", "| file | applicable | passed | redis-py 8.1 | deliberate "
            "| open |", "|---|---|---|---|---|---|"]
    for name, c in rep["per_file"].items():
        out.append(f"| `{name}` | {c['applicable']} | {c['passed']} | {c[REDIS_PY_81]} | "
                   f"{c['deliberate']} | {c['open']} |")
    out += ["", "## Not counted", ""]
    out += [f"- `{n}`: {_esc(e['reason'])}" for n, e in sorted(rep["excluded"].items())] or [
        "- none"]
    out += ["", "## Failing because redis-py 8.1 is installed", ""]
    out += [f"- `{n}`: {_esc(r)}" for n, r in sorted(rep["redis_py_81"].items())] or ["- none"]
    out += ["", "## Documented deliberate differences", ""]
    out += [f"- `{n}`: {_esc(e['reason'])} (got: {_esc(e['outcome'])})"
            for n, e in sorted(rep["deliberate"].items())] or ["- none"]
    out += [f"- stale pattern (matches nothing): `{p}`" for p in rep["stale_patterns"]]
    out += ["", "## Open failures by reason", "", "| tests | reason | examples |", "|---|---|---|"]
    for entry in rep["open"]:
        out.append(f"| {entry['count']} | {_esc(entry['reason'])} | "
                   + "<br>".join(f"`{t}`" for t in entry["tests"][:3]) + " |")
    return "\n".join(out) + "\n"
