"""How far clustercore's public API is from redis-py's: missing names and conflicting signatures.

Run from the repository root: ``.venv/bin/python compat/api_surface.py`` (Markdown on stdout),
``--json`` (JSON on stdout), ``--out FILE`` (write the report, print only the counts),
``--check`` (exit 1 while a gap is not allowlisted).  It imports both libraries and reads
their classes; it connects to nothing.

Three pairs are compared: ``redis.cluster.RedisCluster`` / ``clustercore.RedisCluster``,
``redis.cluster.ClusterPipeline`` / ``clustercore.ClusterPipeline`` and
``redis.cluster.ClusterPubSub`` / ``clustercore.ClusterPubSub``.

**Public names** of a class: every name in ``dir(cls)`` without a leading underscore (methods,
properties, class constants such as ``PRIMARIES``, inherited ones included); the protocol
methods a class defines below ``object`` (``__enter__``, ``__exit__``, ``__getitem__`` ...,
see ``PROTOCOL_DUNDERS``); and the instance attributes its methods assign
(``self.name = ...`` in the source of any class of its MRO, read with ``ast``, so no instance
and no server is needed).  A name of redis-py's class is *missing* when clustercore's class has
no such name by the same rules.

**Signature conflict**: a call that is valid for redis-py and, on clustercore, fails to bind or
binds an argument to a different parameter, or leaves an omitted argument at a different value.
Mechanically, for each method both classes have (the constructor of ``RedisCluster`` too),
with ``self``/``cls`` removed, each of these is a *problem*:

- ``position``: redis-py's i-th positional parameter is not clustercore's i-th (another name,
  clustercore's ``*args``, or clustercore takes fewer positional arguments);
- ``missing``: redis-py names a parameter that clustercore cannot take by keyword at all;
- ``kwargs``: clustercore takes it only through its ``**kwargs`` (it binds, but not to a named
  parameter: whether it is honoured cannot be seen from the signature);
- ``required``: optional in redis-py, required in clustercore;
- ``default``: both optional, with different default values (``type(a) is type(b) and a == b``
  is "the same"; instances of a class without its own ``__eq__`` are the same when of one type);
- ``extra-required``: clustercore requires a parameter redis-py does not have;
- ``varargs`` / ``varkw``: redis-py accepts ``*args`` / ``**kwargs``, clustercore does not;
- ``kind``: one side has a method where the other has a value (property, constant, attribute),
  so a call or a read that works on redis-py does not work the same way.

Protocol methods are compared only as the interpreter calls them (positionally).  redis-py's
pipeline stubs made by ``block_pipeline_command`` accept anything and always raise, so no call
to them is valid: they are listed, not compared.

A method with at least one problem that the allowlist does not cover is one *conflicting
signature*; the counts are per method (per name), the problems are all listed.

**Allowlist** (``compat/deliberate.toml``): documented deliberate differences, each with a
reason.  ``[names.<Class>]`` maps a missing name to its reason; ``[signatures.<Class>]`` maps
``"method"`` (all its problems) or ``"method:param"`` (that parameter's problems) to a reason.
Entries that no longer match a gap are reported as stale, so the list cannot rot silently.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import subprocess
import sys
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

if sys.version_info >= (3, 11):
    import tomllib
else:  # the allowlist and the suite's marker list need tomllib
    tomllib = None

COMPAT_DIR = Path(__file__).resolve().parent
REPO_ROOT = COMPAT_DIR.parent
DEFAULT_ALLOWLIST = COMPAT_DIR / "deliberate.toml"

#: Protocol methods that make a difference to calling code (``with``, ``in``, ``r[key]``,
#: ``len(pipe)``); counted as public names when redis-py's class defines them below object.
PROTOCOL_DUNDERS = (
    "__enter__", "__exit__", "__contains__", "__getitem__", "__setitem__", "__delitem__",
    "__len__", "__bool__", "__iter__", "__next__", "__call__",
)

#: (label, redis-py dotted path, clustercore dotted path, compare the constructor too)
PAIRS: Tuple[Tuple[str, str, str, bool], ...] = (
    ("RedisCluster", "redis.cluster.RedisCluster", "clustercore.RedisCluster", True),
    ("ClusterPipeline", "redis.cluster.ClusterPipeline", "clustercore.ClusterPipeline", False),
    ("ClusterPubSub", "redis.cluster.ClusterPubSub", "clustercore.ClusterPubSub", False),
)

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


# --------------------------------------------------------------------------------------------
# Reading a class


@dataclass(frozen=True)
class Member:
    """One public name of a class: how it is defined (method, property, value, attribute)."""

    name: str
    kind: str  # "method", "property", "value" (class constant), "attribute" (set on self)

    @property
    def callable(self) -> bool:
        return self.kind == "method"


def resolve(dotted: str) -> type:
    """Import ``package.module.Class`` and return the class."""
    module_name, _, attr = dotted.rpartition(".")
    module = __import__(module_name, fromlist=[attr])
    obj = getattr(module, attr)
    if not isinstance(obj, type):
        raise TypeError(f"{dotted} is not a class")
    return obj


def _static(cls: type, name: str) -> Any:
    """The attribute as stored in the class dict of the first class of the MRO defining it."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    raise AttributeError(name)


def _kind_of(cls: type, name: str) -> str:
    raw = _static(cls, name)
    if isinstance(raw, property):
        return "property"
    if isinstance(raw, (staticmethod, classmethod)) or inspect.isfunction(raw) or callable(raw):
        return "method" if not isinstance(raw, type) else "value"
    return "value"


def assigned_attributes(cls: type) -> Set[str]:
    """Public names assigned as ``self.name = ...`` in any method of any class of the MRO."""
    names: Set[str] = set()
    for klass in cls.__mro__:
        if klass is object:
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):  # builtins, typing internals
            continue
        for node in ast.walk(ast.parse(source)):
            targets: Iterable[ast.AST] = ()
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                targets = (node.target,)
            for target in targets:
                for sub in ast.walk(target):
                    if (isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name)
                            and sub.value.id == "self" and not sub.attr.startswith("_")):
                        names.add(sub.attr)
    return names


def public_members(cls: type) -> Dict[str, Member]:
    """Every public name of ``cls`` (see the module docstring) with its kind."""
    members: Dict[str, Member] = {}
    for name in dir(cls):
        if not name.startswith("_"):
            members[name] = Member(name, _kind_of(cls, name))
    for name in PROTOCOL_DUNDERS:
        owner = next((k for k in cls.__mro__ if name in vars(k)), object)
        if owner is not object:
            members[name] = Member(name, "method")
    for name in assigned_attributes(cls):
        members.setdefault(name, Member(name, "attribute"))
    return members


def is_blocked_stub(raw: Any) -> bool:
    """redis-py's ``block_pipeline_command`` stubs: ``(*args, **kwargs)`` that always raise."""
    return inspect.isfunction(raw) and raw.__qualname__.startswith("block_pipeline_command.")


def signature_of(cls: type, name: str) -> Optional[inspect.Signature]:
    """The signature as a caller sees it (``self``/``cls`` removed); None when unreadable."""
    raw = _static(cls, name)
    try:
        if isinstance(raw, staticmethod):
            return inspect.signature(raw.__func__)
        sig = inspect.signature(getattr(cls, name))
    except (TypeError, ValueError):
        return None
    if not inspect.isfunction(raw):  # classmethods come bound; other callables take no self
        return sig
    params = list(sig.parameters.values())
    if params and params[0].kind in _POSITIONAL:
        params = params[1:]
    return sig.replace(parameters=params)


# --------------------------------------------------------------------------------------------
# Comparing signatures


@dataclass(frozen=True)
class Problem:
    """One way a redis-py call binds differently on clustercore (see the module docstring)."""

    param: str
    kind: str
    detail: str


def same_default(a: Any, b: Any) -> bool:
    """Whether two defaults are the same value for a caller who omits the argument."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if not any("__eq__" in vars(k) for k in type(a).__mro__[:-1]):
        return True  # no value semantics (identity only): same class, same default
    try:
        return bool(a == b)
    except Exception:
        return False


def _fmt(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def compare_signatures(ref: inspect.Signature, ours: inspect.Signature,
                       protocol: bool = False) -> List[Problem]:
    """The problems a call valid for ``ref`` (redis-py) meets on ``ours`` (clustercore).

    A parameter clustercore lacks altogether is reported once (``missing`` or ``kwargs``), not
    also under ``position``.  ``protocol``: a protocol method (``__exit__`` ...), which the
    interpreter calls with positional arguments only: only positional binding is compared, and
    clustercore's ``*args`` taking them is not a problem.
    """
    problems: List[Problem] = []
    r_params = list(ref.parameters.values())
    c_params = list(ours.parameters.values())
    c_pos = [p for p in c_params if p.kind in _POSITIONAL]
    c_named = {p.name: p for p in c_params if p.kind in _KEYWORD}
    c_varpos = next((p for p in c_params if p.kind is inspect.Parameter.VAR_POSITIONAL), None)
    c_varkw = next((p for p in c_params if p.kind is inspect.Parameter.VAR_KEYWORD), None)
    r_pos = [p for p in r_params if p.kind in _POSITIONAL]

    for i, p in enumerate(r_pos):
        if i < len(c_pos):
            if c_pos[i].name != p.name and (p.kind is not inspect.Parameter.POSITIONAL_ONLY
                                            or c_pos[i].kind is not p.kind):
                problems.append(Problem(p.name, "position",
                                        f"positional argument {i + 1} is {p.name!r} in redis-py, "
                                        f"{c_pos[i].name!r} in clustercore"))
        elif c_varpos is not None:
            if not protocol:
                problems.append(Problem(p.name, "position",
                                        f"positional argument {i + 1} ({p.name!r}) lands in "
                                        f"clustercore's *{c_varpos.name}"))
        elif protocol or p.name in c_named or p.kind is inspect.Parameter.POSITIONAL_ONLY:
            problems.append(Problem(p.name, "position",
                                    f"clustercore takes {len(c_pos)} positional argument(s); "
                                    f"redis-py takes {p.name!r} as argument {i + 1}"))
    if protocol:
        return problems

    for i, p in enumerate(r_params):
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        if p.kind is inspect.Parameter.POSITIONAL_ONLY:
            q: Optional[inspect.Parameter] = c_pos[i] if i < len(c_pos) else None
        else:
            q = c_named.get(p.name)
        if q is None:
            if p.kind is inspect.Parameter.POSITIONAL_ONLY:
                continue  # reported under "position"
            if c_varkw is not None:
                problems.append(Problem(p.name, "kwargs",
                                        f"{p.name!r} only reaches clustercore's **{c_varkw.name}"))
            else:
                problems.append(Problem(p.name, "missing",
                                        f"clustercore has no parameter {p.name!r}"))
            continue
        if p.default is inspect.Parameter.empty:
            continue
        if q.default is inspect.Parameter.empty:
            problems.append(Problem(p.name, "required",
                                    f"{p.name!r} is optional in redis-py (default "
                                    f"{_fmt(p.default)}), required in clustercore"))
        elif not same_default(p.default, q.default):
            problems.append(Problem(p.name, "default",
                                    f"default of {p.name!r} is {_fmt(p.default)} in redis-py, "
                                    f"{_fmt(q.default)} in clustercore"))

    r_names = {p.name for p in r_params}
    for q in c_params:
        if (q.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
                and q.default is inspect.Parameter.empty and q.name not in r_names):
            problems.append(Problem(q.name, "extra-required",
                                    f"clustercore requires {q.name!r}, which redis-py does not have"))
    r_kinds = {p.kind for p in r_params}
    if inspect.Parameter.VAR_POSITIONAL in r_kinds and c_varpos is None:
        problems.append(Problem("*", "varargs", "redis-py takes extra positional arguments "
                                                "(*args), clustercore does not"))
    if inspect.Parameter.VAR_KEYWORD in r_kinds and c_varkw is None:
        problems.append(Problem("**", "varkw", "redis-py takes arbitrary keyword arguments "
                                               "(**kwargs), clustercore does not"))
    return problems


# --------------------------------------------------------------------------------------------
# The allowlist


@dataclass
class Allowlist:
    """Documented deliberate differences: missing names and signature problems, each a reason."""

    names: Dict[str, Dict[str, str]] = field(default_factory=dict)
    signatures: Dict[str, Dict[str, str]] = field(default_factory=dict)
    path: Optional[str] = None

    @classmethod
    def load(cls, path: Optional[Path]) -> Allowlist:
        """Read ``path`` (TOML); every entry must carry a non-empty reason string."""
        if path is None or not path.exists():
            return cls(path=str(path) if path else None)
        if tomllib is None:
            raise SystemExit("reading the allowlist needs Python 3.11+ (tomllib)")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        unknown = set(data) - {"names", "signatures", "tests"}  # tests: compat/redispy_suite's
        if unknown:
            raise SystemExit(f"{path}: unknown tables {sorted(unknown)}; use names / signatures "
                             "/ tests")
        out = cls(path=str(path))
        for table, target in (("names", out.names), ("signatures", out.signatures)):
            for label, entries in data.get(table, {}).items():
                if not isinstance(entries, dict):
                    raise SystemExit(f"{path}: [{table}.{label}] must be a table")
                for key, reason in entries.items():
                    if not isinstance(reason, str) or not reason.strip():
                        raise SystemExit(f"{path}: {table}.{label}.{key} needs a reason string")
                target[label] = {str(k): str(v) for k, v in entries.items()}
        return out

    def name_reason(self, label: str, name: str) -> Optional[str]:
        return self.names.get(label, {}).get(name)

    def problem_reason(self, label: str, method: str, param: str) -> Optional[str]:
        table = self.signatures.get(label, {})
        return table.get(f"{method}:{param}") or table.get(method)


# --------------------------------------------------------------------------------------------
# The comparison


@dataclass
class Conflict:
    """A method (or name) of both classes whose use differs; its problems, allowlisted or not."""

    name: str
    problems: List[Dict[str, Optional[str]]]

    @property
    def open_problems(self) -> List[Dict[str, Optional[str]]]:
        return [p for p in self.problems if not p["allowlisted"]]


@dataclass
class ClassReport:
    """The comparison of one redis-py class with its clustercore counterpart."""

    label: str
    redis_py: str
    clustercore: str
    names_total: int
    missing: List[str]
    missing_allowlisted: Dict[str, str]
    conflicts: List[Conflict]
    stale_allowlist: List[str]
    unreadable: List[str]
    blocked: List[str]

    @property
    def missing_open(self) -> List[str]:
        return [n for n in self.missing if n not in self.missing_allowlisted]

    @property
    def conflicts_open(self) -> List[Conflict]:
        return [c for c in self.conflicts if c.open_problems]

    def counts(self) -> Dict[str, int]:
        return {
            "names_total": self.names_total,
            "missing": len(self.missing),
            "missing_not_allowlisted": len(self.missing_open),
            "conflicts": len(self.conflicts_open),
            "conflicts_allowlisted": len(self.conflicts) - len(self.conflicts_open),
        }


def compare_classes(label: str, ref_path: str, ours_path: str, with_init: bool,
                    allow: Allowlist) -> ClassReport:
    """Missing names and signature conflicts of ``ours_path`` against ``ref_path``."""
    ref, ours = resolve(ref_path), resolve(ours_path)
    r_members, c_members = public_members(ref), public_members(ours)
    missing = sorted(n for n in r_members if n not in c_members)
    allowed = {n: r for n in missing if (r := allow.name_reason(label, n)) is not None}

    conflicts: List[Conflict] = []
    unreadable: List[str] = []
    blocked: List[str] = []
    shared = sorted(n for n in r_members if n in c_members)
    if with_init:
        shared.insert(0, "__init__")
    used_sig_keys: Set[str] = set()
    for name in shared:
        problems: List[Problem] = []
        rm = r_members.get(name, Member(name, "method"))
        cm = c_members.get(name, Member(name, "method"))
        if rm.callable != cm.callable and "attribute" not in (rm.kind, cm.kind):
            problems.append(Problem("", "kind", f"{rm.kind} in redis-py, {cm.kind} in clustercore"))
        elif rm.callable and cm.callable:
            if name != "__init__" and is_blocked_stub(_static(ref, name)):
                blocked.append(name)  # no call is valid on redis-py: nothing to compare
                continue
            r_sig, c_sig = signature_of(ref, name), signature_of(ours, name)
            if r_sig is None or c_sig is None:
                unreadable.append(name)
            else:
                problems = compare_signatures(r_sig, c_sig, protocol=name in PROTOCOL_DUNDERS)
        elif rm.callable and cm.kind == "attribute":
            problems.append(Problem("", "kind", "method in redis-py, attribute in clustercore"))
        if not problems:
            continue
        rows: List[Dict[str, Optional[str]]] = []
        for p in problems:
            reason = allow.problem_reason(label, name, p.param)
            if reason is not None:
                key = f"{name}:{p.param}" if f"{name}:{p.param}" in allow.signatures.get(
                    label, {}) else name
                used_sig_keys.add(key)
            rows.append({**asdict(p), "allowlisted": reason})
        conflicts.append(Conflict(name, rows))

    stale = [f"names.{label}.{n}" for n in allow.names.get(label, {}) if n not in missing]
    stale += [f"signatures.{label}.{k}" for k in allow.signatures.get(label, {})
              if k not in used_sig_keys]
    return ClassReport(label, ref_path, ours_path, len(r_members), missing, allowed, conflicts,
                       stale, unreadable, blocked)


def git_head() -> str:
    """``git rev-parse HEAD`` of the repository (read-only), or "unknown"."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()


def _relative(path: Optional[str]) -> Optional[str]:
    """``path`` relative to the repository root when it lies inside it (stable reports)."""
    if path is None:
        return None
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return path


def run(allowlist: Optional[Path]) -> Dict[str, Any]:
    """Compare every pair in PAIRS; the result as a JSON-ready dict."""
    import redis

    import clustercore

    allow = Allowlist.load(allowlist)
    reports = [compare_classes(label, r, c, init, allow) for label, r, c, init in PAIRS]
    totals: Dict[str, int] = {}
    for rep in reports:
        for key, value in rep.counts().items():
            totals[key] = totals.get(key, 0) + value
    return {
        "tool": "compat/api_surface.py",
        "git_head": git_head(),
        "redis_py_version": redis.__version__,
        "clustercore_version": getattr(clustercore, "__version__", "unknown"),
        "allowlist": _relative(allow.path),
        "totals": totals,
        "classes": [
            {
                "label": rep.label,
                "redis_py": rep.redis_py,
                "clustercore": rep.clustercore,
                "counts": rep.counts(),
                "missing_not_allowlisted": rep.missing_open,
                "missing_allowlisted": rep.missing_allowlisted,
                "conflicts": [{"name": c.name, "allowlisted": not c.open_problems,
                               "problems": c.problems} for c in rep.conflicts],
                "stale_allowlist": rep.stale_allowlist,
                "unreadable_signatures": rep.unreadable,
                "blocked_in_redis_py": rep.blocked,
            }
            for rep in reports
        ],
    }


# --------------------------------------------------------------------------------------------
# Output


def counts_lines(result: Dict[str, Any]) -> List[str]:
    """One line per class and one for the total: names total / missing / not allowlisted / conflicts."""
    lines = []
    for cls in result["classes"]:
        c = cls["counts"]
        lines.append(f"{cls['label']}: names {c['names_total']}, missing {c['missing']}, "
                     f"missing not allowlisted {c['missing_not_allowlisted']}, "
                     f"conflicting signatures {c['conflicts']}"
                     f" (+{c['conflicts_allowlisted']} allowlisted)")
    t = result["totals"]
    lines.append(f"total: names {t['names_total']}, missing {t['missing']}, "
                 f"missing not allowlisted {t['missing_not_allowlisted']}, "
                 f"conflicting signatures {t['conflicts']}")
    return lines


def _wrap_names(names: Sequence[str]) -> str:
    return ", ".join(f"`{n}`" for n in names) if names else "none"


def markdown(result: Dict[str, Any]) -> str:
    """The report as Markdown: counts, then per class the missing names and the conflicts."""
    out = [
        "# clustercore vs redis-py: API surface",
        "",
        f"redis-py {result['redis_py_version']}, clustercore {result['clustercore_version']}, "
        f"git HEAD `{result['git_head']}` (working tree as found), allowlist "
        f"`{result['allowlist']}`. Definitions: the docstring of `compat/api_surface.py`.",
        "",
        "| class | names | missing | missing, not allowlisted | conflicting signatures "
        "| conflicts allowlisted |",
        "|---|---|---|---|---|---|",
    ]
    for cls in result["classes"]:
        c = cls["counts"]
        out.append(f"| {cls['label']} | {c['names_total']} | {c['missing']} | "
                   f"{c['missing_not_allowlisted']} | {c['conflicts']} | "
                   f"{c['conflicts_allowlisted']} |")
    t = result["totals"]
    out.append(f"| **total** | {t['names_total']} | {t['missing']} | "
               f"{t['missing_not_allowlisted']} | {t['conflicts']} | {t['conflicts_allowlisted']} |")
    for cls in result["classes"]:
        out += ["", f"## {cls['label']} (`{cls['redis_py']}` vs `{cls['clustercore']}`)", ""]
        out.append(f"**Missing, not allowlisted ({len(cls['missing_not_allowlisted'])}):** "
                   + _wrap_names(cls["missing_not_allowlisted"]))
        if cls["missing_allowlisted"]:
            out += ["", f"**Missing, allowlisted ({len(cls['missing_allowlisted'])}):**", ""]
            out += [f"- `{n}`: {r}" for n, r in sorted(cls["missing_allowlisted"].items())]
        open_conflicts = [c for c in cls["conflicts"] if not c["allowlisted"]]
        out += ["", f"**Conflicting signatures ({len(open_conflicts)}):**", ""]
        if not cls["conflicts"]:
            out.append("none")
        for conf in cls["conflicts"]:
            mark = " (allowlisted)" if conf["allowlisted"] else ""
            out.append(f"- `{conf['name']}`{mark}")
            for p in conf["problems"]:
                note = f" (allowlisted: {p['allowlisted']})" if p["allowlisted"] else ""
                out.append(f"  - {p['kind']}: {p['detail']}{note}")
        if cls["stale_allowlist"]:
            out += ["", "**Stale allowlist entries (no longer a gap):** "
                    + _wrap_names(cls["stale_allowlist"])]
        if cls["blocked_in_redis_py"]:
            out += ["", f"**Blocked in redis-py (always raise there; signatures not compared, "
                    f"{len(cls['blocked_in_redis_py'])}):** "
                    + _wrap_names(cls["blocked_in_redis_py"])]
        if cls["unreadable_signatures"]:
            out += ["", "**Signatures not readable (not compared):** "
                    + _wrap_names(cls["unreadable_signatures"])]
    return "\n".join(out) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    parser.add_argument("--out", type=Path, help="write the report here; print only the counts")
    parser.add_argument("--allowlist", type=Path, default=DEFAULT_ALLOWLIST,
                        help="TOML of deliberate differences (default: %(default)s)")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a missing name or a conflict is not allowlisted")
    args = parser.parse_args(argv)
    result = run(args.allowlist)
    text = json.dumps(result, indent=2, default=str) + "\n" if args.json else markdown(result)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print("\n".join([*counts_lines(result), f"report: {args.out}"]))
    else:
        sys.stdout.write(text)
        print("\n".join(counts_lines(result)), file=sys.stderr)
    gap = result["totals"]["missing_not_allowlisted"] + result["totals"]["conflicts"]
    return 1 if args.check and gap else 0


if __name__ == "__main__":
    sys.exit(main())
