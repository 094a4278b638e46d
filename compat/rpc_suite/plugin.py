"""pytest plugin for both runs of redis-py-cluster 2.1.3's suite (``-p compat.rpc_suite.plugin``).

It reuses compat/redispy_suite's recording hooks (one JSON line per test phase, mocks counted,
private attributes noted, selection by ``COMPAT_SELECT``: the same event files, read by the same
``results`` module) and adds what differs for this suite:

- with ``COMPAT_MODE=clustercore``, **maps** ``rediscluster`` and its submodules onto
  ``clustercore.compat.rediscluster`` in ``sys.modules`` when this plugin is imported, before
  the suite's conftest imports them (an app's one changed import line, done for the suite);
- supplies what the suite takes from its environment of 2021, only where missing: the
  ``mock`` package (``unittest.mock`` is the same library), redis-py 3.x's ``redis._compat``
  helpers (``b``, ``unicode``, ``nativestr``, ``ascii_letters`` ...: Python 2/3 shims that
  redis-py 4 removed) and the redis-py names that moved (``MOVED``: ``redis.client.parse_info``,
  ``redis.connection.ssl_available``); none of them changes what clustercore does;
- counts the suite's constructions of redis-py-cluster's public objects (black-box tests build
  at least one): ``RedisCluster``, the pool family and ``ClusterConnection`` of
  ``rediscluster.connection`` and ``rediscluster.nodemanager.NodeManager`` (``COUNTED``). The
  pool API is what the suite's connection-pool and node-manager modules test, so a test that
  builds a pool is as black-box as one that builds a client; redis-py's own objects
  (``redis.ConnectionPool``, ``redis.Redis``) are not counted;
- resets every node after each test out of band (FLUSHALL, SCRIPT FLUSH, CLIENT UNPAUSE) with
  plain ``redis.Redis`` connections, in both runs (redis-py 3.5 in one, 8.1 in the other).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import string
import sys
import traceback
import types
import unittest.mock
from typing import Any, Dict

import pytest

from compat.redispy_suite import plugin as base

# The recording hooks, as they are (pytest collects hooks by name from this module).
from compat.redispy_suite.plugin import (  # noqa: F401 - registered as hooks by name
    pytest_collection_modifyitems,
    pytest_collectreport,
    pytest_runtest_logstart,
    pytest_runtest_makereport,
    pytest_sessionfinish,
)

MODE = base.MODE
SUBMODULES = ("client", "connection", "exceptions", "nodemanager", "pipeline", "pubsub",
              "utils", "crc")
#: (module, class names) whose construction marks a test as using redis-py-cluster's API.
COUNTED = (
    ("rediscluster", ("RedisCluster",)),
    ("rediscluster.connection", ("ClusterConnectionPool", "ClusterBlockingConnectionPool",
                                 "ClusterReadOnlyConnectionPool",
                                 "ClusterWithReadReplicasConnectionPool", "ClusterConnection",
                                 "SSLClusterConnection")),
    ("rediscluster.nodemanager", ("NodeManager",)),
)


def _compat_module() -> types.ModuleType:
    """redis-py 3.x's ``redis._compat`` names the suite imports (Python 3 meanings)."""
    module = types.ModuleType("redis._compat")
    helpers: Dict[str, Any] = {
        "unicode": str, "basestring": str, "long": int, "unichr": chr,
        "b": lambda x: x.encode("latin-1") if isinstance(x, str) else x,
        "nativestr": lambda x: x if isinstance(x, str) else x.decode("utf-8", "replace"),
        "iteritems": lambda d: iter(d.items()), "iterkeys": lambda d: iter(d.keys()),
        "itervalues": lambda d: iter(d.values()), "izip": zip, "imap": map,
        "xrange": range, "ascii_letters": string.ascii_letters,
    }
    for name, value in helpers.items():
        setattr(module, name, value)
    return module


def _supply_missing() -> None:
    try:
        importlib.import_module("mock")
    except ImportError:
        sys.modules["mock"] = unittest.mock
    try:
        importlib.import_module("redis._compat")
    except ImportError:
        import redis

        compat = _compat_module()
        sys.modules["redis._compat"] = compat
        redis._compat = compat  # type: ignore[attr-defined]
    _supply_moved()


#: redis-py 3.5 names the suite imports that redis-py 4+ moved: (module, name, new home).
MOVED = (
    ("redis.client", "parse_info", "redis._parsers.helpers"),
    ("redis.connection", "ssl_available", None),
)


def _supply_moved() -> None:
    """Put the redis-py 3.5 names the suite imports back where it looks for them, only where
    missing: the same redis-py function from its new module (``parse_info``), or the constant
    a Python 3 with ``ssl`` implies (``ssl_available``). None of them is clustercore's."""
    for module_name, name, home in MOVED:
        module = importlib.import_module(module_name)
        if hasattr(module, name):
            continue
        if home is None:
            setattr(module, name, importlib.util.find_spec("ssl") is not None)
            continue
        try:
            setattr(module, name, getattr(importlib.import_module(home), name))
        except (ImportError, AttributeError):
            pass  # the suite's import then fails, and the report says which name is missing


def _alias_rediscluster() -> None:
    """``import rediscluster`` (and ``rediscluster.client`` ...) gives clustercore's compat."""
    package = importlib.import_module("clustercore.compat.rediscluster")
    sys.modules["rediscluster"] = package
    for name in SUBMODULES:
        sys.modules[f"rediscluster.{name}"] = importlib.import_module(
            f"clustercore.compat.rediscluster.{name}")


_install_error = None
try:
    _supply_missing()
    if MODE == "clustercore":
        _alias_rediscluster()
except BaseException:  # recorded; the session is ended in pytest_configure
    _install_error = traceback.format_exc()


class _Reset(base._NodeReset):
    """The redispy_suite reset, with connections both redis-py 3.5 and 8.1 can make."""

    def _client(self, address: str) -> Any:
        import redis

        client = self.clients.get(address)
        if client is None:
            host, _, port = address.rpartition(":")
            client = redis.Redis(host=host, port=int(port), socket_timeout=5,
                                 socket_connect_timeout=5, decode_responses=True)
            self.clients[address] = client
        return client


_reset = _Reset(base.NODES)


def _instrument_mock_package() -> None:
    """Count the ``mock`` package's mocks too (the reference venv has the real package, which
    is not ``unittest.mock``), as redispy_suite counts unittest.mock's."""
    package = sys.modules.get("mock") or importlib.import_module("mock")
    if package is unittest.mock:
        return
    base._wrap_method(package.NonCallableMock, "__init__", "mocked", main_thread_only=True,
                      ignore=base._is_child_mock)
    for name in ("_patch", "_patch_dict"):
        cls = getattr(package, name, None) or getattr(getattr(package, "mock", None), name, None)
        if cls is not None:
            base._wrap_method(cls, "__enter__", "mocked", main_thread_only=True)


def pytest_configure(config: pytest.Config) -> None:
    """Start recording; count mocks and the suite's RedisCluster constructions."""
    base._recorder.write("session", mode=MODE, pid=os.getpid())
    if _install_error is not None:
        base._recorder.write("shim_error", error=_install_error)
        pytest.exit("compat.rpc_suite: the rediscluster mapping failed; see the results file",
                    returncode=4)
    try:
        base._instrument_mocks()
        _instrument_mock_package()
        rediscluster = importlib.import_module("rediscluster")
        for module_name, names in COUNTED:
            module = importlib.import_module(module_name)
            for name in names:
                cls = getattr(module, name, None)
                if isinstance(cls, type):
                    base._wrap_method(cls, "__init__", "constructed")
        base._recorder.write("shim", installed=rediscluster.RedisCluster.__module__,
                             file=getattr(rediscluster, "__file__", None))
    except Exception:
        base._recorder.write("plugin_error", error=traceback.format_exc())


def pytest_sessionstart(session: pytest.Session) -> None:
    """Remember every node's CONFIG and ACL users."""
    _reset.baseline()


def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    """A test is over: record its counters, then reset the cluster out of band."""
    base._recorder.write("end", nodeid=nodeid, constructed=base._counts["constructed"],
                         mocked=base._counts["mocked"])
    _reset.reset(nodeid)
