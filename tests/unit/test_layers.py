"""The layering rules of docs/architecture.md, checked by walking every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, Set

import clustercore

ROOT = Path(clustercore.__file__).resolve().parent

ALLOWED: Dict[str, Set[str]] = {
    "address": set(),
    "errors": {"address"},
    "slots": {"errors"},
    "resp": {"errors"},
    "stats": {"address"},
    "topology": {"address", "errors", "slots"},
    "transport": {"address", "errors"},
    "connection": {"address", "errors", "resp", "transport"},
    "pool": {"address", "connection", "errors", "stats"},
    "discovery": {"address", "connection", "errors", "topology"},
    "retry": set(),
    "commands": {"errors", "slots"},
    "api": {"commands", "errors", "slots"},
    "router": {"address", "errors", "retry", "slots", "commands", "topology"},
    "cluster_pool": {"address", "connection", "discovery", "errors", "pool", "slots", "stats",
                     "topology", "transport"},
    "client": {"address", "api", "cluster_pool", "commands", "connection", "errors", "retry",
               "router", "slots", "pipeline", "pubsub", "script"},
    "script": {"api", "errors"},
    "pipeline": {"address", "api", "cluster_pool", "commands", "connection", "errors", "retry",
                 "router", "slots", "client", "script"},
    "pubsub": {"address", "api", "cluster_pool", "commands", "connection", "errors", "retry",
               "router", "slots", "client"},
}
#: Only transport imports these: it alone opens sockets and polls or waits on them.
SOCKET_MODULES = {"socket", "ssl", "select", "selectors"}


def imports_of(path: Path) -> Set[str]:
    """clustercore sibling modules and socket-level stdlib modules imported by ``path``."""
    found: Set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:
                found.update(alias.name for alias in node.names)
            elif node.module and node.module.split(".")[0] in SOCKET_MODULES:
                found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names
                         if a.name.split(".")[0] in SOCKET_MODULES)
    return found


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


def test_every_core_module_has_a_rule() -> None:
    core = {p.stem for p in ROOT.glob("*.py")} - {"__init__"}
    assert core <= set(ALLOWED), f"no layer rule for {sorted(core - set(ALLOWED))}"


def test_imports_follow_the_layers() -> None:
    for name, allowed in ALLOWED.items():
        path = ROOT / f"{name}.py"
        if not path.exists():
            continue
        used = imports_of(path) - SOCKET_MODULES
        assert used <= allowed, f"{name} imports {sorted(used - allowed)} outside its layer"


def test_only_transport_touches_sockets() -> None:
    for path in ROOT.glob("*.py"):
        if path.stem == "transport":
            continue
        assert not imports_of(path) & SOCKET_MODULES, f"{path.stem} imports socket/ssl/select"
