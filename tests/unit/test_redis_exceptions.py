"""The redis-py exception bridge (clustercore/errors.py): ``except redis.exceptions.X`` catches
clustercore's error of the same meaning, nothing more, and clustercore's own behaviour is the
same with and without the bridge (checked in subprocesses with the bridge off)."""

from __future__ import annotations

import importlib
import json
import os
import pickle
import subprocess
import sys
from typing import Any, Dict, Iterator, List, Tuple, Type

import pytest

redis_exceptions = importlib.import_module("redis.exceptions")  # dev dependency: fail, never skip

import clustercore  # noqa: E402
from clustercore import NodeAddress  # noqa: E402
from clustercore import errors as cc  # noqa: E402
from clustercore._protocol.parser import make_decoder  # noqa: E402

r = redis_exceptions

#: In-process checks need the bridge on in this process (it is, unless the suite itself runs
#: with CLUSTERCORE_REDIS_EXCEPTIONS=0; the subprocess tests below cover both sides anyway).
bridged = pytest.mark.skipif(not cc.REDIS_EXCEPTIONS_BRIDGED,
                             reason=f"{cc.BRIDGE_ENV} turns the bridge off in this process")

#: clustercore class -> the redis-py classes ``except`` must catch it with (written out here,
#: independently of errors.py's table, so a wrong table entry fails a test).
EXPECTED: List[Tuple[Type[BaseException], Tuple[str, ...]]] = [
    (cc.ClusterCoreError, ("RedisError",)),
    (cc.ConnectionError, ("ConnectionError", "RedisError")),
    (cc.TimeoutError, ("TimeoutError",)),
    (cc.DeadlineExceededError, ("TimeoutError",)),
    (cc.AuthenticationError, ("AuthenticationError", "ConnectionError")),
    (cc.AuthorizationError, ("AuthorizationError", "ConnectionError")),
    (cc.NodeFailingError, ("ConnectionError",)),
    (cc.TLSVerificationError, ("ConnectionError",)),
    (cc.OutcomeUnknownError, ("ConnectionError",)),
    (cc.ProtocolError, ("InvalidResponse",)),
    (cc.InvalidResponse, ("InvalidResponse",)),
    (cc.DataError, ("DataError",)),
    (cc.PoolError, ("ConnectionError",)),
    (cc.PoolTimeoutError, ("ConnectionError",)),
    (cc.TooManyConnectionsError, ("MaxConnectionsError", "ConnectionError")),
    (cc.PoolClosedError, ("ConnectionError",)),
    (cc.TooManyWaitersError, ("ConnectionError",)),
    (cc.TopologyError, ("RedisClusterException", "RedisError")),
    (cc.RedisClusterConfigError, ("RedisClusterException",)),
    (cc.SlotNotCoveredError, ("SlotNotCoveredError", "RedisClusterException")),
    (cc.InvalidSlotError, ("DataError", "SlotNotCoveredError")),
    (cc.RedisClusterError, ("RedisError",)),
    (cc.ClusterUsageError, ("RedisClusterException", "RedisError")),
    (cc.CrossSlotKeysError, ("ClusterCrossSlotError", "RedisClusterException",
                             "ResponseError")),
    (cc.ClusterError, ("ClusterError",)),
    (cc.RedirectBudgetExceededError, ("ClusterError",)),
    (cc.UnknownRedirectTargetError, ("ClusterError",)),
    (cc.ResponseError, ("ResponseError",)),
    (cc.AskError, ("AskError", "ResponseError")),
    (cc.MovedError, ("MovedError", "AskError", "ResponseError")),
    (cc.TryAgainError, ("TryAgainError", "ResponseError")),
    (cc.ClusterDownError, ("ClusterDownError", "ClusterError", "ResponseError")),
    (cc.MasterDownError, ("MasterDownError", "ClusterDownError")),
    (cc.ClusterCrossSlotError, ("ClusterCrossSlotError", "ResponseError")),
    (cc.CrossSlotTransactionError, ("CrossSlotTransactionError", "ClusterCrossSlotError",
                                    "RedisClusterException")),
    (cc.ReadOnlyError, ("ReadOnlyError", "ResponseError")),
    (cc.BusyLoadingError, ("BusyLoadingError", "ConnectionError", "ResponseError")),
    (cc.NoScriptError, ("NoScriptError", "ResponseError")),
    (cc.BusyError, ("ResponseError",)),
    (cc.ExecAbortError, ("ExecAbortError", "ResponseError")),
    (cc.WrongTypeError, ("ResponseError",)),
    (cc.OutOfMemoryError, ("OutOfMemoryError", "ResponseError")),
    (cc.NoPermissionError, ("NoPermissionError", "ResponseError")),
    (cc.NoAuthError, ("AuthenticationError", "ResponseError")),
    (cc.WrongPassError, ("AuthenticationError", "ResponseError")),
    (cc.MaxClientsError, ("ConnectionError", "ResponseError")),
    (cc.WatchError, ("WatchError",)),
    (cc.LockError, ("LockError",)),
    (cc.LockNotOwnedError, ("LockNotOwnedError", "LockError")),
    (cc.PubSubError, ("PubSubError",)),
]

#: Over-catching that must not happen: (clustercore class, redis-py class it must NOT be).
MUST_NOT: List[Tuple[Type[BaseException], str]] = [
    (cc.ResponseError, "ConnectionError"),
    (cc.ResponseError, "RedisClusterException"),
    (cc.WrongTypeError, "ConnectionError"),
    (cc.MovedError, "ClusterError"),
    (cc.MovedError, "ConnectionError"),
    (cc.ClusterDownError, "ConnectionError"),
    (cc.ConnectionError, "ResponseError"),
    (cc.ConnectionError, "TimeoutError"),
    (cc.ConnectionError, "RedisClusterException"),
    (cc.TimeoutError, "ConnectionError"),
    (cc.PoolTimeoutError, "TimeoutError"),
    (cc.ClusterCoreError, "RedisClusterException"),
    (cc.DataError, "ResponseError"),
    (cc.ProtocolError, "ConnectionError"),
    (cc.TopologyError, "ConnectionError"),
    (cc.ClusterUsageError, "ResponseError"),
    (cc.ClusterUsageError, "ConnectionError"),
    (cc.WatchError, "ResponseError"),
    (cc.LockError, "ConnectionError"),
    (cc.PubSubError, "ConnectionError"),
    (cc.NoPermissionError, "AuthenticationError"),
    (cc.ReadOnlyError, "ConnectionError"),
]


def _ours() -> Iterator[Type[cc.ClusterCoreError]]:
    """Every clustercore exception class (also the ones other modules derive)."""
    seen = set()
    stack = [cc.ClusterCoreError]
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        yield cls
        stack.extend(cls.__subclasses__())


def _is_ours(cls: type) -> bool:
    return isinstance(cls, type) and issubclass(cls, cc.ClusterCoreError)


def _redis_classes() -> List[type]:
    return [v for v in vars(r).values()
            if isinstance(v, type) and issubclass(v, BaseException) and v.__module__ == r.__name__]


def test_bridge_is_on_in_this_process_unless_turned_off() -> None:
    off = os.environ.get(cc.BRIDGE_ENV, "").strip().lower() in ("0", "false", "no", "off")
    assert cc.REDIS_EXCEPTIONS_BRIDGED is not off
    assert cc.ClusterCoreError.__bases__ == ((Exception,) if off else (r.RedisError,))


@bridged
@pytest.mark.parametrize(("ours", "names"), EXPECTED, ids=lambda v: getattr(v, "__name__", ""))
def test_every_mapped_pair_is_caught(ours: Type[cc.ClusterCoreError], names: Tuple[str, ...]
                                     ) -> None:
    for name in (*names, "RedisError"):
        theirs = getattr(r, name)
        assert issubclass(ours, theirs), (ours, name)
    err = _sample(ours)
    for name in names:
        try:
            raise err
        except getattr(r, name) as caught:  # the real ``except`` path, not only issubclass
            assert caught is err


@bridged
@pytest.mark.parametrize(("ours", "name"), MUST_NOT, ids=lambda v: getattr(v, "__name__", v))
def test_no_over_catching(ours: Type[cc.ClusterCoreError], name: str) -> None:
    assert not issubclass(ours, getattr(r, name))
    with pytest.raises(type(_sample(ours))):
        try:
            raise _sample(ours)
        except getattr(r, name):
            pytest.fail(f"except redis.exceptions.{name} caught clustercore's {ours.__name__}")


@bridged
def test_every_redis_base_comes_from_a_mapped_ancestor() -> None:
    """No redis-py class is reachable except through the table: for every clustercore class C
    and redis-py class R with C a subclass of R, some clustercore ancestor of C is mapped (in
    EXPECTED) to a class that is R or below R. Catches a base dragged in by accident."""
    expected = {ours: [getattr(r, n) for n in names] for ours, names in EXPECTED}
    for ours in _ours():
        if ours.__module__ != cc.__name__:
            continue
        assert ours in expected, f"{ours.__name__} is missing from this test's EXPECTED table"
        for theirs in _redis_classes():
            if not issubclass(ours, theirs):
                continue
            ancestors = [a for a in ours.__mro__ if a in expected]
            assert any(issubclass(m, theirs) for a in ancestors for m in expected[a]), (
                f"{ours.__name__} is a redis {theirs.__name__} without a mapping saying so")


@bridged
def test_applied_table_matches_installed_redis() -> None:
    applied = cc.redis_bridge()
    for name, theirs in applied.items():
        assert issubclass(getattr(cc, name), theirs)
    # every counterpart this redis-py has was applied (none skipped for an MRO conflict)
    wanted = {"ClusterCoreError", "ConnectionError", "TimeoutError", "AuthenticationError",
              "AuthorizationError", "ProtocolError", "DataError", "TooManyConnectionsError",
              "TopologyError", "ClusterUsageError", "SlotNotCoveredError", "ClusterError",
              "ResponseError", "AskError", "MovedError", "TryAgainError", "ClusterDownError",
              "MasterDownError",
              "ClusterCrossSlotError", "CrossSlotTransactionError", "ReadOnlyError",
              "BusyLoadingError", "NoScriptError", "ExecAbortError", "OutOfMemoryError",
              "NoPermissionError", "WatchError", "LockError", "LockNotOwnedError", "PubSubError"}
    assert set(applied) == wanted
    applied["ConnectionError"] = ValueError  # a copy: the module's record is not changed
    assert cc.redis_bridge()["ConnectionError"] is r.ConnectionError


@bridged
def test_clustercore_bases_come_first_in_every_mro() -> None:
    for ours in _ours():
        mro = ours.__mro__
        last_ours = max(i for i, c in enumerate(mro) if _is_ours(c))
        first_theirs = min(i for i, c in enumerate(mro) if c.__module__ == r.__name__)
        assert last_ours < first_theirs, ours
        assert issubclass(ours, r.RedisError), ours
        assert mro[last_ours] is cc.ClusterCoreError


@bridged
def test_clustercore_semantics_win() -> None:
    assert issubclass(cc.BusyLoadingError, cc.ConnectionError)
    assert issubclass(cc.ClusterDownError, cc.ResponseError)
    assert cc.RedisError is cc.ClusterCoreError and cc.RedisClusterException is cc.ClusterCoreError
    assert clustercore.ConnectionError is cc.ConnectionError
    moved = cc.ResponseError("MOVED 3999 10.0.0.1:7001", node=NodeAddress("10.0.0.2", 7000))
    assert type(moved) is cc.MovedError
    assert (moved.slot_id, moved.host, moved.port, moved.node_addr) == (
        3999, "10.0.0.1", 7001, ("10.0.0.1", 7001))
    assert moved.message == "MOVED 3999 10.0.0.1:7001" == str(moved)
    assert moved.node == NodeAddress("10.0.0.2", 7000)
    assert repr(moved) == "MovedError('MOVED 3999 10.0.0.1:7001')"
    cross = cc.ResponseError("CROSSSLOT Keys in request don't hash to the same slot")
    assert cross.message.startswith("CROSSSLOT")  # not redis-py's class-level message
    down = cc.ResponseError("CLUSTERDOWN The cluster is down")
    assert type(down) is cc.ClusterDownError and down.args == ("CLUSTERDOWN The cluster is down",)
    plain = cc.ConnectionError("boom", node=NodeAddress("a", 1))
    assert str(plain) == "boom (node a:1)" and repr(plain) == "ConnectionError('boom')"


def _sample(cls: Type[cc.ClusterCoreError]) -> cc.ClusterCoreError:
    node = NodeAddress("h", 7000)
    if issubclass(cls, cc.AskError):
        word = "MOVED" if issubclass(cls, cc.MovedError) else "ASK"
        return cls(f"{word} 12 10.0.0.1:7001", node=node)
    if cls is cc.LockError or cls is cc.LockNotOwnedError:
        return cls("cannot release", "lock:a", node=node)
    return cls("some failure", node=node)


@bridged
def test_every_class_pickles_and_keeps_str_and_node() -> None:
    for cls in _ours():
        if cls.__module__ != cc.__name__:
            continue
        err = _sample(cls)
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is cls
        assert str(back) == str(err) and back.node == err.node and back.args == err.args
        assert isinstance(back, r.RedisError)


@bridged
def test_lock_error_has_redis_py_attributes() -> None:
    err = cc.LockNotOwnedError("Cannot release a lock that's no longer owned", lock_name="l")
    assert (err.message, err.lock_name) == ("Cannot release a lock that's no longer owned", "l")
    assert isinstance(err, ValueError) and isinstance(err, r.LockNotOwnedError)
    assert str(cc.LockError()) == "" and cc.LockError().message is None


@bridged
@pytest.mark.parametrize("kind", ["python", "hiredis"])
def test_decoded_error_replies_are_redis_py_errors(kind: str) -> None:
    if kind == "hiredis":
        importlib.import_module("hiredis")  # dev dependency: fail, never skip
    decoder = make_decoder(kind)
    decoder.feed(b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
                 b"-MOVED 1 127.0.0.1:7001\r\n-LOADING Redis is loading\r\n")
    wrongtype, moved, loading = decoder.gets(), decoder.gets(), decoder.gets()
    assert type(wrongtype) is cc.WrongTypeError and isinstance(wrongtype, r.ResponseError)
    assert type(moved) is cc.MovedError and isinstance(moved, r.MovedError)
    assert isinstance(loading, r.BusyLoadingError) and isinstance(loading, r.ConnectionError)


# --- the plain tree, in subprocesses --------------------------------------------------------------
_DUMP = """
import json, sys
{prelude}
import clustercore
from clustercore import errors
def walk(c, out):
    if c.__name__ in out: return
    out[c.__name__] = [b.__module__ + "." + b.__qualname__ for b in c.__bases__]
    for s in c.__subclasses__(): walk(s, out)
tree = {{}}
walk(errors.ClusterCoreError, tree)
print(json.dumps({{"bridged": errors.REDIS_EXCEPTIONS_BRIDGED, "applied": len(errors.redis_bridge()),
                  "redis_loaded": "redis.exceptions" in sys.modules, "tree": tree}}))
"""


def _run(prelude: str = "", **env: str) -> Dict[str, Any]:
    environ = {k: v for k, v in os.environ.items() if k != cc.BRIDGE_ENV}
    environ.update(env)
    proc = subprocess.run([sys.executable, "-c", _DUMP.format(prelude=prelude)], env=environ,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    result: Dict[str, Any] = json.loads(proc.stdout)
    return result


def _without_redis(tree: Dict[str, List[str]]) -> Dict[str, List[str]]:
    """The bridged tree with the redis-py bases taken out (the root's back to Exception)."""
    out = {}
    for name, bases in tree.items():
        kept = [b for b in bases if not b.startswith("redis.")]
        out[name] = kept or ["builtins.Exception"]
    return out


@pytest.fixture(scope="module")
def bridged_tree() -> Dict[str, Any]:
    return _run()


@pytest.mark.parametrize(("prelude", "env"), [
    ("", {cc.BRIDGE_ENV: "0"}),
    ("", {cc.BRIDGE_ENV: "off"}),
    ("sys.modules['redis'] = None", {}),
    ("sys.modules['redis'] = None", {cc.BRIDGE_ENV: "1"}),
], ids=["env-0", "env-off", "redis-unimportable", "redis-unimportable-env-1"])
def test_plain_tree_without_the_bridge(prelude: str, env: Dict[str, str],
                                       bridged_tree: Dict[str, Any]) -> None:
    plain = _run(prelude, **env)
    assert plain["bridged"] is False and plain["applied"] == 0
    assert plain["redis_loaded"] is False  # turning it off also skips importing redis
    assert plain["tree"]["ClusterCoreError"] == ["builtins.Exception"]
    assert not any(b.startswith("redis.") for bases in plain["tree"].values() for b in bases)
    # exactly the bridged tree minus the redis-py bases: same classes, same own bases, in order
    assert plain["tree"] == _without_redis(bridged_tree["tree"])


def test_bridged_subprocess_by_default(bridged_tree: Dict[str, Any]) -> None:
    assert bridged_tree["bridged"] is True and bridged_tree["redis_loaded"] is True
    assert bridged_tree["tree"]["ConnectionError"] == [
        "clustercore.errors.ClusterCoreError", "redis.exceptions.ConnectionError"]
    assert bridged_tree["tree"]["LockError"] == [
        "clustercore.errors.ClusterCoreError", "redis.exceptions.LockError", "builtins.ValueError"]


def test_bad_environment_value_is_refused_naming_it() -> None:
    environ = dict(os.environ, **{cc.BRIDGE_ENV: "maybe"})
    proc = subprocess.run([sys.executable, "-c", "import clustercore"], env=environ,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode != 0
    assert "ValueError" in proc.stderr and "CLUSTERCORE_REDIS_EXCEPTIONS='maybe'" in proc.stderr
