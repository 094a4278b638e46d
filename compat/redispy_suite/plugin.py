"""pytest plugin loaded into both runs of redis-py's suite (``-p compat.redispy_suite.plugin``).

It changes nothing about what a test does; it records, selects and cleans up:

- **records** every test phase as one JSON line (``COMPAT_RESULTS``), written and flushed as it
  happens, so a run that is killed or crashes still leaves everything up to the test it was in;
  per test also how many cluster clients it built and whether it used mocks (the runner
  tells black-box tests from white-box ones with these);
- **selects**: drops ``async def`` tests (this measures the sync client) and, when
  ``COMPAT_SELECT`` names a file of node ids, every test not listed;
- **resets** every node listed in ``COMPAT_NODES`` out of band after each test (``_NodeReset``:
  data, scripts, functions, pauses, CONFIG, ACL users), through plain ``redis.Redis``
  connections, so a client that fails its own teardown cannot leave state behind that fails
  the next tests (done in both runs, so they stay comparable);
- with ``COMPAT_MODE=clustercore``, **substitutes** the client class (``shim.install``) once
  the suite's own session start (which waits for the cluster with redis-py) is done and before
  the test modules are imported.  If that fails, the error is recorded and the session ends.
"""

from __future__ import annotations

import ast
import functools
import inspect
import json
import os
import textwrap
import threading
import time
import traceback
import unittest.mock
from pathlib import Path
from typing import Any, Callable, Dict, Generator, List, Optional, Set, TextIO

import pytest

MODE = os.environ.get("COMPAT_MODE", "redis-py")
RESULTS = os.environ.get("COMPAT_RESULTS")
SELECT = os.environ.get("COMPAT_SELECT")
NODES = [n for n in os.environ.get("COMPAT_NODES", "").split(",") if n]
ATTEMPT = int(os.environ.get("COMPAT_ATTEMPT", "1"))
REPO_ROOT = Path(__file__).resolve().parents[2]
_OUR_DIRS = (str(REPO_ROOT / "clustercore") + "/", str(REPO_ROOT / "compat" / "redispy_suite") + "/")


class _Recorder:
    """Appends one JSON object per line to the results file and flushes it at once."""

    def __init__(self, path: Optional[str]) -> None:
        self._lock = threading.Lock()
        self._file: Optional[TextIO] = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115

    def write(self, event: str, **data: Any) -> None:
        if self._file is None:
            return
        line = json.dumps({"ev": event, "attempt": ATTEMPT, "t": round(time.time(), 3), **data},
                          default=repr)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


_recorder = _Recorder(RESULTS)
_counts: Dict[str, int] = {"constructed": 0, "mocked": 0}


_MAIN_THREAD = threading.main_thread()


def _count(key: str) -> None:
    _counts[key] += 1


def _wrap_method(owner: Any, name: str, key: str, main_thread_only: bool = False,
                 ignore: Optional[Callable[[Any, Any], bool]] = None) -> None:
    """Count calls of ``owner.name`` under ``key`` (instrumentation only: same behaviour).

    ``main_thread_only``: ignore calls from other threads (a thread an earlier test left
    running must not mark the current test); ``ignore(args, kwargs)``: calls not to count."""
    original = getattr(owner, name, None)
    if original is None or getattr(original, "_compat_counted", False):
        return

    @functools.wraps(original)
    def counted(*args: Any, **kwargs: Any) -> Any:
        if ((not main_thread_only or threading.current_thread() is _MAIN_THREAD)
                and (ignore is None or not ignore(args, kwargs))):
            _count(key)
        return original(*args, **kwargs)

    counted._compat_counted = True  # type: ignore[attr-defined]
    setattr(owner, name, counted)


def _is_child_mock(args: Any, kwargs: Any) -> bool:
    """A mock made by another mock on attribute access or call (``parent``/``_new_parent``
    set): it is no new use of mocks, and may come from a finalizer of an earlier test's mock
    that the garbage collector runs during this test."""
    try:
        bound = _MOCK_INIT.bind(*args, **kwargs).arguments
    except TypeError:
        return False
    return bound.get("parent") is not None or bound.get("_new_parent") is not None


_MOCK_INIT = inspect.signature(unittest.mock.NonCallableMock.__init__)


def _instrument_mocks() -> None:
    """Count mock objects made, ``mock.patch`` entered and ``monkeypatch`` changes."""
    from _pytest.monkeypatch import MonkeyPatch

    um = unittest.mock
    _wrap_method(um.NonCallableMock, "__init__", "mocked", main_thread_only=True,
                 ignore=_is_child_mock)
    for cls_name in ("_patch", "_patch_dict"):
        cls = getattr(um, cls_name, None)
        if cls is not None:
            _wrap_method(cls, "__enter__", "mocked", main_thread_only=True)
    for name in ("setattr", "delattr", "setitem", "delitem"):
        _wrap_method(MonkeyPatch, name, "mocked", main_thread_only=True)


def _instrument_reference() -> None:
    """Count redis-py RedisCluster constructions (the reference run)."""
    import redis.cluster

    _wrap_method(redis.cluster.RedisCluster, "__init__", "constructed")


def _private_attributes(func: Any) -> List[str]:
    """Names like ``x._name`` (one leading underscore) read or written in a test's own body;
    ``self._helper`` (the test class's own helpers) does not count."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return []
    found = {
        node.attr for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    }
    return sorted(found)


def _where(excinfo: Any) -> Dict[str, Optional[str]]:
    """The innermost frame, and the innermost one in clustercore/ or compat/ (ours)."""
    entries = list(getattr(excinfo, "traceback", []) or [])
    innermost: Optional[str] = None
    ours: Optional[str] = None
    for entry in reversed(entries):
        path = str(entry.path)
        text = f"{_short(path)}:{entry.lineno + 1} in {entry.name}"
        if innermost is None:
            innermost = text
        if ours is None and path.startswith(_OUR_DIRS):
            ours = text
        if innermost is not None and ours is not None:
            break
    return {"where": innermost, "where_ours": ours}


def _short(path: str) -> str:
    for marker in ("/site-packages/", str(REPO_ROOT) + "/", "/.cache/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


class _NodeReset:
    """Puts every node back to the state it had at session start, through plain ``redis.Redis``
    connections of its own: FLUSHALL, SCRIPT FLUSH, FUNCTION FLUSH, CLIENT UNPAUSE, changed
    CONFIG parameters set back, ACL users added since removed.  Replicas refuse writes with
    READONLY, which is expected.  Anything it had to undo or could not is recorded."""

    def __init__(self, nodes: List[str]) -> None:
        self.nodes = nodes
        self.clients: Dict[str, Any] = {}
        self.config: Dict[str, Dict[str, str]] = {}
        self.users: Dict[str, Set[str]] = {}

    def _client(self, address: str) -> Any:
        import redis

        client = self.clients.get(address)
        if client is None:
            host, _, port = address.rpartition(":")
            client = redis.Redis(host=host, port=int(port), socket_timeout=5,
                                 socket_connect_timeout=5, decode_responses=True, protocol=2)
            self.clients[address] = client
        return client

    def baseline(self) -> None:
        """Remember each node's CONFIG and ACL users (call before the first test)."""
        for address in self.nodes:
            try:
                client = self._client(address)
                self.config[address] = dict(client.config_get("*"))
                self.users[address] = set(client.acl_users())
            except Exception as exc:
                _recorder.write("reset_error", node=address, step="baseline", error=repr(exc))

    def reset(self, nodeid: str) -> None:
        """Undo what the test ``nodeid`` left behind on every node."""
        import redis

        for address in self.nodes:
            client = self._client(address)
            undone: Dict[str, Any] = {}
            for step, command in (("unpause", ("CLIENT", "UNPAUSE")), ("flushall", ("FLUSHALL",)),
                                  ("script", ("SCRIPT", "FLUSH")),
                                  ("function", ("FUNCTION", "FLUSH"))):
                try:
                    client.execute_command(*command)
                except redis.ResponseError as exc:
                    if not str(exc).startswith("You can't write against a read only replica"):
                        _recorder.write("reset_error", node=address, step=step, nodeid=nodeid,
                                        error=repr(exc))
                except Exception as exc:
                    _recorder.write("reset_error", node=address, step=step, nodeid=nodeid,
                                    error=repr(exc))
            try:
                base = self.config.get(address)
                if base is not None:
                    now = dict(client.config_get("*"))
                    changed = sorted(k for k, v in base.items() if now.get(k) != v)
                    for key in changed:
                        try:
                            client.config_set(key, base[key])
                        except redis.ResponseError as exc:
                            undone.setdefault("config_failed", []).append(f"{key}: {exc}")
                    if changed:
                        undone["config"] = changed
                users = self.users.get(address)
                if users is not None:
                    extra = sorted(set(client.acl_users()) - users)
                    if extra:
                        client.acl_deluser(*extra)
                        undone["acl_users"] = extra
            except Exception as exc:
                _recorder.write("reset_error", node=address, step="config/acl", nodeid=nodeid,
                                error=repr(exc))
            if undone:
                _recorder.write("reset", node=address, nodeid=nodeid, **undone)


_reset = _NodeReset(NODES)


# --------------------------------------------------------------------------------------------
# Hooks


def pytest_configure(config: pytest.Config) -> None:
    """Start recording; instrument the constructors and the mock machinery."""
    _recorder.write("session", mode=MODE, pid=os.getpid())
    try:
        _instrument_mocks()
        if MODE != "clustercore":
            _instrument_reference()
    except Exception:
        _recorder.write("plugin_error", error=traceback.format_exc())


@pytest.hookimpl(hookwrapper=True)
def pytest_sessionstart(session: pytest.Session) -> Generator[None, None, None]:
    """Remember the nodes' state; after the suite's session start, put clustercore behind
    redis-py's name (clustercore mode)."""
    _reset.baseline()
    yield
    if MODE != "clustercore":
        return
    try:
        from . import shim

        substitute = shim.install(on_construct=functools.partial(_count, "constructed"))
        _recorder.write("shim", installed=f"{substitute.__module__}.{substitute.__qualname__}",
                        bases=[f"{b.__module__}.{b.__qualname__}" for b in substitute.__mro__[1:3]])
    except BaseException:
        _recorder.write("shim_error", error=traceback.format_exc())
        pytest.exit("compat shim failed to install; see the results file", returncode=4)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """Record modules that fail to collect (missing optional dependencies, for example)."""
    if report.failed:
        lines = str(report.longrepr).strip().splitlines() or ["(no message)"]
        errors = [ln[1:].strip() for ln in lines if ln.startswith("E ")]
        _recorder.write("collect_error", nodeid=report.nodeid,
                        reason=errors[-1] if errors else lines[-1].strip())


def _selected() -> Optional[Set[str]]:
    if not SELECT:
        return None
    return {line.strip() for line in Path(SELECT).read_text(encoding="utf-8").splitlines()
            if line.strip()}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    """Drop async tests and, with COMPAT_SELECT, unlisted ones; record what is left."""
    wanted = _selected()
    keep: List[pytest.Item] = []
    dropped: List[pytest.Item] = []
    async_ids: List[str] = []
    for item in items:
        func = getattr(item, "obj", None)
        if inspect.iscoroutinefunction(func):
            async_ids.append(item.nodeid)
            dropped.append(item)
        elif wanted is not None and item.nodeid not in wanted:
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
    _recorder.write("collected", async_excluded=async_ids, items=[
        {"nodeid": item.nodeid, "private": _private_attributes(getattr(item, "obj", None))}
        for item in keep
    ])


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    """A test begins: reset its counters (a crash from here on is this test's)."""
    _counts["constructed"] = 0
    _counts["mocked"] = 0
    _recorder.write("begin", nodeid=nodeid)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]
                              ) -> Generator[None, Any, None]:
    """Record each phase: outcome, duration, and the exception's type, message and place."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    data: Dict[str, Any] = {"nodeid": item.nodeid, "when": report.when,
                            "outcome": report.outcome, "duration": round(report.duration, 3)}
    if hasattr(report, "wasxfail"):
        data["xfail"] = True
    if call.excinfo is not None:
        exc = call.excinfo
        message = str(exc.value)
        data["exc_type"] = exc.type.__name__
        data["exc_module"] = exc.type.__module__
        data["message"] = message.strip().splitlines()[0][:500] if message.strip() else ""
        data.update(_where(exc))
    _recorder.write("phase", **data)


def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    """A test is over: record its counters, then reset the cluster out of band."""
    _recorder.write("end", nodeid=nodeid, constructed=_counts["constructed"],
                    mocked=_counts["mocked"])
    _reset.reset(nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The run ended normally (a missing "finish" line means it crashed or was killed)."""
    _recorder.write("finish", exitstatus=int(exitstatus))
    _recorder.close()
