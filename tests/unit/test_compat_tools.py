"""The compatibility measuring tools in compat/: signature rules, allowlist, shim, result folding.

These check the tools' own logic on small hand-made inputs (no server, no redis-py suite), so
a wrong count in the published figures shows up here first.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from compat import api_surface
from compat.redispy_suite import plugin, results, runner, shim


def _sig(func: Any) -> inspect.Signature:
    return inspect.signature(func)


def _kinds(ref: Any, ours: Any, protocol: bool = False) -> List[tuple[str, str]]:
    return [(p.kind, p.param) for p in
            api_surface.compare_signatures(_sig(ref), _sig(ours), protocol=protocol)]


# --------------------------------------------------------------------------------------------
# api_surface: the signature rules


def test_identical_signatures_have_no_problem() -> None:
    def ref(name: Any, value: Any, ex: Any = None, *args: Any, **kw: Any) -> None: ...
    def ours(name: Any, value: Any, ex: Any = None, *args: Any, **kw: Any) -> None: ...
    assert _kinds(ref, ours) == []


def test_positional_order_and_missing_and_kwargs() -> None:
    def ref(a: Any, b: Any = 1, c: Any = 2) -> None: ...
    def ours(b: Any = 1, a: Any = None, **kw: Any) -> None: ...
    assert _kinds(ref, ours) == [("position", "a"), ("position", "b"), ("kwargs", "c")]


def test_missing_parameter_is_reported_once() -> None:
    def ref(a: Any, flag: Any = None) -> None: ...
    def ours(a: Any) -> None: ...
    assert _kinds(ref, ours) == [("missing", "flag")]


def test_defaults_required_and_extra_required() -> None:
    def ref(a: Any, b: Any = 5, c: Any = False) -> None: ...
    def ours(a: Any, b: Any = None, c: Any = 0, *, d: Any) -> None: ...
    assert _kinds(ref, ours) == [("default", "b"), ("default", "c"), ("extra-required", "d")]

    def ours_required(a: Any, b: Any, c: Any = False) -> None: ...
    assert _kinds(ref, ours_required) == [("required", "b")]


def test_varargs_and_varkw() -> None:
    def ref(*names: Any, **options: Any) -> None: ...
    def ours(name: Any) -> None: ...
    assert _kinds(ref, ours) == [("extra-required", "name"), ("varargs", "*"), ("varkw", "**")]


def test_positional_landing_in_star_args() -> None:
    def ref(a: Any, b: Any) -> None: ...
    def ours(*args: Any) -> None: ...
    kinds = _kinds(ref, ours)
    assert ("position", "a") in kinds and ("position", "b") in kinds
    assert _kinds(ref, ours, protocol=True) == []  # __exit__(*exc) is fine


def test_same_default() -> None:
    class NoEq:
        pass

    assert api_surface.same_default(None, None)
    assert api_surface.same_default("x", "x")
    assert not api_surface.same_default(False, 0)
    assert not api_surface.same_default(6379, None)
    assert api_surface.same_default(NoEq(), NoEq())


# --------------------------------------------------------------------------------------------
# api_surface: names, kinds, the allowlist


class RefClass:
    """A stand-in for redis-py's class."""

    PRIMARIES = "primaries"

    def __init__(self, host: Any = None, port: int = 6379) -> None:
        self.nodes_manager = None

    def __enter__(self) -> RefClass:
        return self

    def get(self, name: Any) -> None: ...

    def lock(self, name: Any, timeout: Any = None) -> None: ...

    def transaction(self, func: Any) -> None: ...

    def module_thing(self) -> None: ...


class OurClass:
    """A stand-in for clustercore's class."""

    def __init__(self, host: Any = None, port: Any = None) -> None:
        self.transaction = False

    def get(self, name: Any) -> None: ...

    def lock(self, name: Any) -> None: ...


def test_public_members_include_constants_attributes_and_protocol() -> None:
    members = api_surface.public_members(RefClass)
    assert members["PRIMARIES"].kind == "value"
    assert members["nodes_manager"].kind == "attribute"
    assert members["__enter__"].kind == "method"
    assert members["get"].kind == "method"
    assert "__init__" not in members


def _allowlist(tmp_path: Path, text: str) -> api_surface.Allowlist:
    path = tmp_path / "deliberate.toml"
    path.write_text(text, encoding="utf-8")
    return api_surface.Allowlist.load(path)


def test_compare_classes_counts_and_allowlist(tmp_path: Path) -> None:
    allow = _allowlist(tmp_path, """
[names.X]
module_thing = "modules stay out"
gone = "no longer missing"
[signatures.X]
"lock:timeout" = "deliberate"
""")
    here = __name__
    rep = api_surface.compare_classes("X", f"{here}.RefClass", f"{here}.OurClass", True, allow)
    assert rep.missing == ["PRIMARIES", "__enter__", "module_thing", "nodes_manager"]
    assert rep.missing_open == ["PRIMARIES", "__enter__", "nodes_manager"]
    names = {c.name: [p["kind"] for p in c.problems] for c in rep.conflicts}
    assert names == {"__init__": ["default"], "lock": ["missing"], "transaction": ["kind"]}
    assert [c.name for c in rep.conflicts_open] == ["__init__", "transaction"]
    assert rep.counts()["conflicts"] == 2 and rep.counts()["conflicts_allowlisted"] == 1
    assert rep.stale_allowlist == ["names.X.gone"]


def test_allowlist_needs_reasons(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        _allowlist(tmp_path, '[names.X]\nfoo = ""\n')
    with pytest.raises(SystemExit):
        _allowlist(tmp_path, '[other]\nfoo = "x"\n')


def test_blocked_pipeline_stubs_are_recognised() -> None:
    import redis.cluster

    assert api_surface.is_blocked_stub(vars(redis.cluster.ClusterPipeline)["bitop"])
    assert not api_surface.is_blocked_stub(RefClass.get)


def test_real_report_renders(tmp_path: Path) -> None:
    result = api_surface.run(api_surface.DEFAULT_ALLOWLIST)
    assert [c["label"] for c in result["classes"]] == ["RedisCluster", "ClusterPipeline",
                                                        "ClusterPubSub"]
    text = api_surface.markdown(result)
    assert "| **total** |" in text
    totals = result["totals"]
    assert totals["missing"] >= totals["missing_not_allowlisted"]
    assert all(not c["stale_allowlist"] for c in result["classes"]), "stale allowlist entries"


# --------------------------------------------------------------------------------------------
# The shim


class _Core:
    """Records what the substitute passes to clustercore's constructor."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


class _Reference:
    def __init__(self, host: Any = None, port: int = 6379, startup_nodes: Any = None,
                 cluster_error_retry_attempts: int = 10, require_full_coverage: bool = True,
                 **kwargs: Any) -> None: ...


class _Node:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port


def test_shim_binds_like_redis_py_and_translates() -> None:
    made: List[int] = []
    cls = shim.make_substitute(_Core, _Reference, on_construct=lambda: made.append(1))
    client = cls("h", 7000, [_Node("a", 1), {"host": "b", "port": 2}], 4,
                 require_full_coverage=False, decode_responses=True)
    assert client.kwargs == {
        "host": "h", "port": 7000,
        "startup_nodes": [{"host": "a", "port": 1}, {"host": "b", "port": 2}],
        "cluster_error_retry_attempts": 4, "require_full_coverage": False,
        "decode_responses": True,
    }  # redis-py's keywords reach clustercore as they are: its constructor takes them
    assert made == [1]
    assert cls().kwargs == {}  # nothing passed, nothing forwarded
    with pytest.raises(TypeError, match="not a valid redis-py RedisCluster call"):
        cls(1, 2, 3, 4, 5, 6)


def test_shim_passes_redis_py_keywords_through() -> None:
    class Strategy:
        name = "ROUND_ROBIN_REPLICAS"

    strategy = Strategy()
    assert shim.translate({"load_balancing_strategy": strategy}, {}) == {
        "load_balancing_strategy": strategy}
    with pytest.raises(shim.ShimError, match="given twice"):
        shim.translate({"decode_responses": True}, {"decode_responses": False})


def test_shim_install_replaces_both_names(monkeypatch: pytest.MonkeyPatch) -> None:
    import redis
    import redis.cluster

    import clustercore

    monkeypatch.setattr(redis, "RedisCluster", redis.RedisCluster)
    monkeypatch.setattr(redis.cluster, "RedisCluster", redis.cluster.RedisCluster)
    substitute = shim.install()
    assert redis.RedisCluster is substitute and redis.cluster.RedisCluster is substitute
    assert issubclass(substitute, clustercore.RedisCluster)
    assert substitute.__name__ == "RedisCluster"


# --------------------------------------------------------------------------------------------
# Folding the plugin's events


def _write(path: Path, events: List[Dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events) + '{"torn', encoding="utf-8")
    return path


def _test_events(nodeid: str, outcomes: Dict[str, str], constructed: int = 1, mocked: int = 0,
                 exc: Optional[Dict[str, str]] = None) -> List[Dict[str, Any]]:
    evs: List[Dict[str, Any]] = [{"ev": "begin", "nodeid": nodeid}]
    for when, outcome in outcomes.items():
        ev: Dict[str, Any] = {"ev": "phase", "nodeid": nodeid, "when": when, "outcome": outcome}
        if outcome != "passed" and exc:
            ev.update(exc)
        evs.append(ev)
    evs.append({"ev": "end", "nodeid": nodeid, "constructed": constructed, "mocked": mocked})
    return evs


PASS = {"setup": "passed", "call": "passed", "teardown": "passed"}


def test_parse_run_outcomes(tmp_path: Path) -> None:
    ids = ["t::a", "t::b", "t::c", "t::d", "t::e"]
    events: List[Dict[str, Any]] = [
        {"ev": "collected", "items": [{"nodeid": n, "private": []} for n in ids],
         "async_excluded": ["t::async"]},
        *_test_events("t::a", PASS),
        *_test_events("t::b", {"setup": "passed", "call": "passed", "teardown": "failed"},
                      exc={"exc_type": "AttributeError", "message": "no attribute 'x' at 0x7f1"}),
        *_test_events("t::c", {"setup": "skipped", "teardown": "passed"},
                      exc={"exc_type": "Skipped", "message": "needs 7.2"}),
        {"ev": "begin", "nodeid": "t::d"},
        {"ev": "crashed", "nodeid": "t::d", "reason": "died"},
        {"ev": "finish", "exitstatus": 1},
    ]
    run = results.parse_run(_write(tmp_path / "r.jsonl", events), "redis-py")
    assert run.collected == ids and run.async_excluded == ["t::async"] and run.finished
    assert run.result("t::a").outcome == "passed"
    b = run.result("t::b")
    assert (b.outcome, b.phase, b.call_passed) == ("failed", "teardown", True)
    assert b.reason() == "AttributeError: no attribute 'x' at 0x…"
    assert run.result("t::c").outcome == "skipped"
    assert run.result("t::d").outcome == "crashed"
    assert run.result("t::e").outcome == "not-run"
    assert run.outcome_counts() == {"passed": 1, "failed": 1, "skipped": 1, "crashed": 1,
                                    "not-run": 1}


def test_mask_groups_equal_causes() -> None:
    a = results.mask("Error 111 connecting to 127.0.0.1:40123. Connection refused.")
    b = results.mask("Error 111 connecting to 127.0.0.1:40999. Connection refused.")
    assert a == b == "Error 111 connecting to 127.0.0.1:PORT. Connection refused."
    assert results.mask("x" * 500, limit=10) == "x" * 9 + "…"


def test_compare_builds_denominator_from_black_box_reference_passes(tmp_path: Path) -> None:
    ids = ["f1::ok", "f1::bad", "f2::mock", "f2::noclient", "f2::refail"]
    ref_events: List[Dict[str, Any]] = [
        {"ev": "collected", "items": [{"nodeid": n, "private": []} for n in ids]},
        *_test_events("f1::ok", PASS), *_test_events("f1::bad", PASS),
        *_test_events("f2::mock", PASS, mocked=3),
        *_test_events("f2::noclient", PASS, constructed=0),
        *_test_events("f2::refail", {"setup": "passed", "call": "failed", "teardown": "passed"},
                      exc={"exc_type": "AssertionError", "message": "assert 1 == 2"}),
    ]
    cc_events: List[Dict[str, Any]] = [
        {"ev": "collected", "items": [{"nodeid": n, "private": []} for n in ids[:2]]},
        *_test_events("f1::ok", PASS),
        *_test_events("f1::bad", {"setup": "failed"},
                      exc={"exc_type": "AttributeError", "message": "no get_nodes"}),
    ]
    ref = results.parse_run(_write(tmp_path / "a.jsonl", ref_events), "redis-py")
    cand = results.parse_run(_write(tmp_path / "b.jsonl", cc_events), "clustercore")
    report = results.compare(ref, cand, {"git_head": "abc"})
    assert report["headline"]["denominator"] == 2
    assert report["headline"]["pass_on_clustercore"] == 1
    assert report["reference"]["passed_by_category"] == {
        "black-box": 2, "uses mocks": 1, "no cluster client": 1}
    assert report["per_file"] == {"f1": {"denominator": 2, "passed": 1, "failed": 1,
                                         "body passed": 1}}
    assert report["headline"]["body_passes_on_clustercore"] == 1
    assert [(r["reason"], r["count"]) for r in report["reasons"]] == [
        ("AttributeError: no get_nodes", 1)]
    assert "1 of the 2 black-box tests" in results.markdown(report)


# --------------------------------------------------------------------------------------------
# Plugin and runner helpers


def test_private_attributes_ignore_own_helpers() -> None:
    def sample(self: Any, r: Any) -> None:
        r._nodes_manager.x = 1
        self._helper(r)
        r.__class__  # noqa: B018

    assert plugin._private_attributes(sample) == ["_nodes_manager"]


def test_finish_watch_sees_only_new_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"ev": "finish"}\n', encoding="utf-8")
    watch = runner._FinishWatch(path)  # what is already there belongs to an earlier attempt
    assert not watch.finished()
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"ev": "end"}\n{"ev": "fin')
    assert not watch.finished()
    with path.open("a", encoding="utf-8") as fh:
        fh.write('ish"}\n')
    assert watch.finished()


def test_tests_of_a_module_that_failed_to_import_are_not_collected(tmp_path: Path) -> None:
    events: List[Dict[str, Any]] = [
        {"ev": "collect_error", "nodeid": "tests/m.py", "reason": "AttributeError: PRIMARIES"},
        *_test_events("tests/ok.py::t", PASS),
        {"ev": "not_run", "nodeids": ["tests/m.py::t1", "tests/other.py::t2"], "reason": "budget"},
    ]
    run = results.parse_run(_write(tmp_path / "c.jsonl", events), "clustercore")
    assert run.result("tests/m.py::t1").outcome == "not-collected"
    assert run.result("tests/m.py::t1").reason() == (
        "not-collected: its module failed to import: AttributeError: PRIMARIES")
    assert run.result("tests/other.py::t2").outcome == "not-run"
    assert run.result("tests/ok.py::t").outcome == "passed"


def test_child_mocks_are_not_a_new_use_of_mocks() -> None:
    parent = object()
    me = object()
    assert not plugin._is_child_mock((me,), {"name": "top"})
    assert plugin._is_child_mock((me,), {"parent": parent})
    # CallableMixin passes them on positionally: (self, spec, wraps, name, spec_set, parent)
    assert plugin._is_child_mock((me, None, None, "child", None, parent), {})
    assert plugin._is_child_mock((me,), {"_new_parent": parent})


def test_deliberate_differences_are_counted_apart(tmp_path: Path) -> None:
    ids = ["f::a", "f::b_disabled", "f::c"]
    ref_events: List[Dict[str, Any]] = [
        {"ev": "collected", "items": [{"nodeid": n, "private": []} for n in ids]},
        *[e for n in ids for e in _test_events(n, PASS)],
    ]
    fail = {"setup": "passed", "call": "failed", "teardown": "passed"}
    cc_events: List[Dict[str, Any]] = [
        *_test_events("f::a", PASS),
        *_test_events("f::b_disabled", fail, exc={"exc_type": "Failed", "message": "DID NOT RAISE"}),
        *_test_events("f::c", fail, exc={"exc_type": "KeyError", "message": "'timeout'"}),
    ]
    toml = tmp_path / "deliberate.toml"
    toml.write_text('[tests]\n"f::*_disabled" = "clustercore runs it"\n"f::gone" = "old"\n',
                    encoding="utf-8")
    deliberate = results.load_deliberate(toml)
    ref = results.parse_run(_write(tmp_path / "a.jsonl", ref_events), "redis-py")
    cand = results.parse_run(_write(tmp_path / "b.jsonl", cc_events), "clustercore")
    report = results.compare(ref, cand, {}, deliberate)
    assert report["headline"]["pass_on_clustercore"] == 1
    assert report["headline"]["deliberate_differences"] == 1
    assert report["headline"]["open"] == 1
    assert [r["reason"] for r in report["reasons"]] == ["KeyError: 'timeout'"]
    assert report["deliberate"]["stale_patterns"] == ["f::gone"]
    assert api_surface.Allowlist.load(toml).names == {}  # the shared file stays readable
