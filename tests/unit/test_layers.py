"""The package rules of docs/architecture.md, checked by walking every module's syntax tree.

The library is a stack of private packages (``_protocol``, ``_net``, ``_topology``, ``_pool``,
``_commands``, ``_execution``) over three foundation modules (``_address``, ``errors``,
``_slots``); ``clustercore/__init__.py`` re-exports the public names and ``testing`` sits beside
the stack. The rules:

1. a unit (package or foundation module) imports only the units of its row in ``ALLOWED``;
2. no module imports another unit's private (``_``-prefixed) name, and no module reads or
   writes a private attribute that is not defined in that module (``conn._sock`` from pub/sub);
3. only ``_net/transport.py`` imports socket, ssl, select or selectors (``testing`` aside:
   LocalCluster probes the ports of the servers it starts);
4. there is no import cycle between modules at run time (imports under ``TYPE_CHECKING`` are
   for annotations and do not count);
5. no library module outside ``testing`` is longer than ``MAX_LINES`` (the command table and
   the command-method families included);
6. sub-package ``__init__`` files import nothing, so importing one module never drags in a
   layer above it.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

import clustercore

ROOT = Path(clustercore.__file__).resolve().parent
PACKAGE = "clustercore"

#: What each unit may import at run time (besides itself and the public root package, which
#: only ``testing`` uses). Foundation modules first, then the packages bottom up.
ALLOWED: Dict[str, Set[str]] = {
    "_address": set(),
    "errors": {"_address"},
    "_slots": {"errors"},
    "_protocol": {"errors"},
    "_net": {"_address", "errors", "_protocol"},
    "_topology": {"_address", "errors", "_slots", "_net"},
    "_pool": {"_address", "errors", "_slots", "_net", "_topology"},
    "_commands": {"_address", "errors", "_slots"},
    "_execution": {"_address", "errors", "_slots", "_protocol", "_net", "_topology", "_pool",
                   "_commands"},
    # The fakes plug in at the transport boundary and speak RESP; nothing above that.
    "testing": {"_address", "errors", "_slots", "_protocol", "_net"},
    # Public modules that only re-export (kept so documented import paths keep working).
    "pipeline": {"_execution"},
    "pubsub": {"_execution", "errors"},
    "script": {"_execution"},
    # Framework integrations: the public package only ("__init__": clustercore itself).
    "contrib": {"__init__"},
    # The command line (clustercore.cli): the public package and clustercore.testing (its
    # development cluster and demo run LocalCluster), like a user's program would.
    "cli": {"__init__", "testing"},
    # ``python -m clustercore``: checks the cli extra is installed, then runs clustercore.cli.
    "__main__": {"cli"},
    # clustercore.compat.rediscluster: redis-py-cluster's conventions over the client (issue 12).
    "compat": {"_address", "errors", "_slots", "_protocol", "_net", "_topology", "_pool",
               "_commands", "_execution"},
}
#: Only this module imports these: it alone opens sockets and polls or waits on them.
SOCKET_MODULES = {"socket", "ssl", "select", "selectors"}
SOCKET_OWNER = "_net.transport"
MAX_LINES = 800
#: The fakes may be long (one method per emulated command); nothing else is.
LONG_ALLOWED_PREFIXES = ("testing.",)


def _modules() -> Dict[str, Path]:
    """Every library module by dotted name relative to the package (``_net.connection``)."""
    found: Dict[str, Path] = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _unit(module: str) -> str:
    return module.split(".")[0]


def _package_of(module: str) -> List[str]:
    parts = module.split(".")
    return parts if parts[-1] == "__init__" and parts.pop() is not None else parts[:-1]


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:`` (imported for annotations only)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and (
                node.test.id == "TYPE_CHECKING"):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _resolve(module: str, node: ast.ImportFrom) -> Optional[str]:
    """The dotted target (relative to the package) of a ``from ... import``, or None if the
    target is outside clustercore. ``""`` is the package root."""
    if node.level == 0:
        name = node.module or ""
        if name == PACKAGE or name.startswith(PACKAGE + "."):
            return name[len(PACKAGE) + 1:]
        return None
    base = _package_of(module)
    if node.level - 1 > len(base):
        raise AssertionError(f"{module}: relative import above the package")
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, runtime_only: bool = True) -> List[Tuple[str, List[str], int]]:
    """(target module, imported names, line) for each clustercore import of ``module``.
    ``from pkg import mod`` is reported as an import of ``pkg.mod``."""
    tree = ast.parse(MODULES[module].read_text())
    nodes = _runtime_nodes(tree) if runtime_only else ast.walk(tree)
    out: List[Tuple[str, List[str], int]] = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            if target is None:
                continue
            names = [a.name for a in node.names]
            submodules = [n for n in names if f"{target}.{n}".lstrip(".") in MODULES]
            for sub in submodules:
                out.append((f"{target}.{sub}".lstrip("."), [], node.lineno))
            rest = [n for n in names if n not in submodules]
            if rest or not submodules:
                out.append((target if target in MODULES or not target else
                            f"{target}.__init__", rest, node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE + "."):
                    out.append((alias.name[len(PACKAGE) + 1:], [], node.lineno))
    return out


def _socket_imports(module: str) -> Set[str]:
    found: Set[str] = set()
    for node in _runtime_nodes(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
    return found & SOCKET_MODULES


def test_every_unit_has_a_rule() -> None:
    units = {_unit(m) for m in MODULES} - {"__init__"}
    assert units <= set(ALLOWED), f"no layer rule for {sorted(units - set(ALLOWED))}"


def test_imports_follow_the_layers() -> None:
    problems = []
    for module in MODULES:
        unit = _unit(module)
        if unit == "__init__":
            continue  # the root re-exports the public names
        allowed = ALLOWED[unit] | {unit}
        for target, _names, line in _imports(module):
            used = _unit(target) if target else "__init__"
            if used == "__init__" and unit == "testing":
                continue  # testing may use the public surface
            if used not in allowed:
                problems.append(f"{module}:{line} imports {target or PACKAGE} ({used})")
    assert not problems, "imports outside their layer:\n" + "\n".join(problems)


def test_no_private_name_crosses_a_unit() -> None:
    problems = []
    for module in MODULES:
        for target, names, line in _imports(module, runtime_only=False):
            if _unit(target or "__init__") == _unit(module):
                continue
            for name in names:
                if name.startswith("_") and not name.startswith("__"):
                    problems.append(f"{module}:{line} imports {name} from {target}")
    assert not problems, "private names imported across units:\n" + "\n".join(problems)


def _private_attributes_defined(tree: ast.AST) -> Set[str]:
    """Private names a module defines: methods, class attributes, ``self._x = ...`` and
    ``__slots__`` entries."""
    found: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            found.add(node.attr)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    found.add(target.id)
                    if target.id == "__slots__" and isinstance(node.value, (ast.Tuple, ast.List)):
                        found.update(e.value for e in node.value.elts
                                     if isinstance(e, ast.Constant) and isinstance(e.value, str))
    return {name for name in found if name.startswith("_")}


def test_no_module_touches_another_modules_private_attributes() -> None:
    problems = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        own = _private_attributes_defined(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            attr = node.attr
            if not attr.startswith("_") or attr.startswith("__") or attr in own:
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue  # an attribute of a base class defined in another module of its unit
            problems.append(f"{module}:{node.lineno} uses .{attr}")
    assert not problems, "private attributes used outside their module:\n" + "\n".join(problems)


def test_only_transport_touches_sockets() -> None:
    for module in MODULES:
        if module == SOCKET_OWNER or module.startswith("testing."):
            continue  # LocalCluster probes ports of the servers it starts
        assert not _socket_imports(module), f"{module} imports socket/ssl/select"


def test_no_runtime_import_cycle() -> None:
    graph: Dict[str, Set[str]] = {}
    for module in MODULES:
        edges = set()
        for target, _names, _line in _imports(module):
            edges.add(target or "__init__")
            # importing a.b.c runs a/__init__ and a/b/__init__ first
            # (except the importer's own packages: those are already being imported)
            parts = (target or "__init__").split(".")
            own = module.split(".")
            for i in range(1, len(parts)):
                if own[:i] != parts[:i]:
                    edges.add(".".join([*parts[:i], "__init__"]))
        graph[module] = {e for e in edges if e in MODULES and e != module}
    # Tarjan-free: depth-first search with colours
    state: Dict[str, int] = {}
    cycle: List[str] = []

    def visit(node: str, trail: List[str]) -> bool:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle.extend([*trail[trail.index(nxt):], nxt] if nxt in trail else [node, nxt])
                return True
            if state.get(nxt) is None and visit(nxt, [*trail, nxt]):
                return True
        state[node] = 2
        return False

    for module in sorted(graph):
        if state.get(module) is None and visit(module, [module]):
            break
    assert not cycle, "runtime import cycle: " + " -> ".join(cycle)


def test_modules_stay_small() -> None:
    long = []
    for module, path in MODULES.items():
        if module.startswith(LONG_ALLOWED_PREFIXES):
            continue
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES:
            long.append(f"{module}: {lines} lines")
    assert not long, f"modules over {MAX_LINES} lines:\n" + "\n".join(long)


def test_subpackage_inits_import_nothing() -> None:
    for module, path in MODULES.items():
        if not module.endswith("__init__") or module == "__init__" or module.startswith(
                ("testing", "contrib.django")):  # contrib.django re-exports its public names
            continue
        if module == "compat.rediscluster.__init__":
            continue  # stands for redis-py-cluster's package, whose __init__ re-exported

        tree = ast.parse(path.read_text())
        imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                   and not (isinstance(n, ast.ImportFrom) and n.module == "__future__")]
        assert not imports, f"{module} imports at package level"


def test_rules_see_every_module() -> None:
    """The walk finds the modules the rules talk about (a renamed package would pass silently)."""
    for needed in ("_net.transport", "_execution.client", "_pool.cluster_pool", "errors",
                   "testing.fake.cluster", "testing.local.cluster"):
        assert needed in MODULES, needed
    assert _imports("_net.connection"), "the import walk found nothing"
