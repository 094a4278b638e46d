"""Issue 11: the Redis 8 command methods (arrays, vector sets, LMOVEM/BLMOVEM, DELEX/DIGEST/
INCREX/MSETEX, SDIFFCARD/SUNIONCARD, STRALGO, XACKDEL/XDELEX/XNACK/XCFGSET, HOTKEYS, SYNC/PSYNC,
redis-py's refusals), checked against redis-py 8.1 itself.

The local redis-server (7.0) knows none of these commands, so the check is on the wire: every
case calls redis-py's ``RedisCluster`` method (an instance built without connecting, whose
``execute_command`` records) and clustercore's method (a CommandsMixin whose ``execute_command``
records) with the same arguments, and asserts that both send the same argv with the same options
-- or raise the same exception. redis-py's ``keys=`` option (its routing hint) is checked against
the keys clustercore's command table finds in the argv instead of being compared as an option.
The reply callbacks are run next to redis-py's on sample replies, and FakeCluster shows where the
client sends a sample of the commands.
"""

from __future__ import annotations

import builtins
import threading
import types
import warnings
from typing import Any, Callable, Dict, List, Tuple

import pytest
import redis.cluster
from redis._parsers import helpers as redispy_helpers
from redis._parsers.response_callbacks import _RedisCallbacks, _RedisCallbacksRESP2
from redis.commands.core import (
    ArrayAggregateOperations as RpOperations,
)
from redis.commands.core import (
    ArrayPredicateCombinator as RpCombinator,
)
from redis.commands.core import (
    ArrayPredicateType as RpPredicate,
)
from redis.commands.core import (
    DataPersistOptions as RpPersist,
)
from redis.commands.core import (
    HotkeysMetricsTypes as RpMetrics,
)
from redis.commands.core import (
    ManagementCommands,
)
from redis.commands.vectorset.commands import QuantizationOptions as RpQuantization

from clustercore import RedisCluster, errors
from clustercore._commands import arrays, himport, redis8, vectorsets
from clustercore._commands.api import CommandsMixin
from clustercore._commands.callbacks_redis8 import REDIS8_CALLBACKS
from clustercore._commands.keys import keys_of, slot_of
from clustercore._commands.specs import COMMANDS, Merge, Route, lookup, name_of, normalize_args
from clustercore._commands.specs_redis8 import REDIS8_NAMES
from clustercore._slots import key_slot
from clustercore.errors import ClusterCrossSlotError, RedisClusterException, ResponseError
from clustercore.testing import FakeCluster
from tests.unit.fakeclient import make_client

Call = Tuple[Tuple[Any, ...], Dict[str, Any]]


# --- the two recording clients ---------------------------------------------------------------------
def redispy_client(decode: bool, calls: List[Call]) -> Any:
    """redis-py's RedisCluster, not connected: execute_command records (args, options)."""
    client = object.__new__(redis.cluster.RedisCluster)
    client.execute_command = lambda *args, **options: calls.append((args, options))
    client.nodes_manager = types.SimpleNamespace(
        connection_kwargs={"decode_responses": decode, "protocol": 2})
    client.cluster_response_callbacks = {}
    encoder = types.SimpleNamespace(decode_responses=decode)
    client.get_encoder = lambda: encoder
    return client


class Recorder(CommandsMixin):
    """clustercore's command methods; execute_command records (args, options)."""

    def __init__(self, decode: bool) -> None:
        self.calls: List[Call] = []
        self.decode = decode

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.calls.append((args, dict(options)))

    def get_encoder(self) -> Any:
        return types.SimpleNamespace(decode_responses=self.decode)


#: Where redis-py's RedisCluster refuses a command clustercore runs (a documented difference),
#: redis-py's standalone method gives the wire form to compare with.
STANDALONE: Dict[str, Callable[..., Any]] = {
    name: getattr(ManagementCommands, name)
    for name in ("hotkeys_start", "hotkeys_stop", "hotkeys_reset", "hotkeys_get")}


def _method(client: Any, name: str) -> Callable[..., Any]:
    if name.startswith("vset."):
        return getattr(client.vset(), name[5:])  # type: ignore[no-any-return]
    return getattr(client, name)  # type: ignore[no-any-return]


def run(name: str, client: Any, calls: List[Call], args: Tuple[Any, ...],
        kwargs: Dict[str, Any], standalone: bool = False) -> Any:
    """The calls ``client.name(*args, **kwargs)`` made, or ("raises", exception class name)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # redis-py's "experimental method" warnings
            if standalone:
                STANDALONE[name](client, *args, **kwargs)
            else:
                _method(client, name)(*args, **kwargs)
    except Exception as exc:  # the exception itself is what is compared
        return ("raises", exc)
    return [(normalize_args(a), o) for a, o in calls]


def compare(name: str, args: Tuple[Any, ...], kwargs: Dict[str, Any],
            decode: bool = False) -> Any:
    """Run one case on both clients; assert the same argv/options (or exception); the argv."""
    theirs_calls: List[Call] = []
    theirs = run(name, redispy_client(decode, theirs_calls), theirs_calls, args, kwargs,
                 standalone=name in STANDALONE)
    ours_client = Recorder(decode)
    ours = run(name, ours_client, ours_client.calls, args, kwargs)
    if isinstance(theirs, tuple):
        # the same refusal: clustercore's class of redis-py's name (errors or builtins)
        assert isinstance(ours, tuple), f"redis-py raised {theirs[1]!r}, clustercore sent {ours}"
        name_ = type(theirs[1]).__name__
        expected = getattr(errors, name_, None) or getattr(builtins, name_)
        assert isinstance(ours[1], expected), (ours[1], theirs[1])
        return None
    assert len(theirs) == len(ours) == 1
    (their_args, their_options), (our_args, our_options) = theirs[0], ours[0]
    their_options = dict(their_options)
    hinted_keys = their_options.pop("keys", None)
    if their_options.get("target_nodes", "given") is None:
        del their_options["target_nodes"]  # redis-py's explicit None: no target given
    assert our_args == their_args
    assert our_options == their_options
    spec = lookup(our_args)
    assert spec is not None, f"{our_args[0]} is not in the command table"
    if hinted_keys is not None:
        assert keys_of(spec, our_args) == list(hinted_keys)
    return our_args


# --- the cases -------------------------------------------------------------------------------------
CASES: List[Tuple[str, Tuple[Any, ...], Dict[str, Any]]] = [
    # arrays
    ("arset", ("a", 0, "x"), {}),
    ("arset", ("a", 5, "x", "y", 3), {}),
    ("armset", ("a", {0: "x", 9: "y"}), {}),
    ("arget", ("a", 4), {}),
    ("armget", ("a", 1, 5, 2), {}),
    ("argetrange", ("a", 9, 0), {}),
    ("arscan", ("a", 0, 100), {}),
    ("arscan", ("a", 0, 100, 5), {}),
    ("argrep", ("a", 0, -1, [(RpPredicate.EXACT, "x")]), {}),
    ("argrep", ("a", 0, 10, [(RpPredicate.GLOB, "x*"), (RpPredicate.RE, "^y")]),
     {"combinator": RpCombinator.AND, "limit": 3, "withvalues": True, "nocase": True}),
    ("argrep", ("a", 0, 10, [(RpPredicate.MATCH, "x")]), {"combinator": RpCombinator.OR}),
    ("ardel", ("a", 1, 2, 3), {}),
    ("ardelrange", ("a", (0, 4), (9, 7)), {}),
    ("ardelrange", ("a",), {}),
    ("arcount", ("a",), {}),
    ("arlen", ("a",), {}),
    ("arinfo", ("a",), {}),
    ("arinfo", ("a",), {"full": True}),
    ("arnext", ("a",), {}),
    ("arseek", ("a", 7), {}),
    ("arinsert", ("a", "x", "y"), {}),
    ("arring", ("a", 8, "x", "y"), {}),
    ("arlastitems", ("a", 3), {}),
    ("arlastitems", ("a", 3), {"rev": True}),
    ("arop", ("a", 0, 9, RpOperations.SUM), {}),
    ("arop", ("a", 0, 9, RpOperations.MATCH, "x"), {}),
    ("arop", ("a", 9, 0, RpOperations.USED), {}),
    # lists
    ("lmovem", ("{l}a", "{l}b"), {}),
    ("lmovem", ("{l}a", "{l}b", "RIGHT", "LEFT", 3, None, "OBO"), {}),
    ("lmovem", ("{l}a", "{l}b"), {"count": 2, "mode": "EXACTLY", "ordering": "BULK"}),
    ("lmovem", ("{l}a", "{l}b"), {"count": 2}),
    ("lmovem", ("{l}a", "{l}b"), {"mode": "COUNT"}),
    ("blmovem", ("{l}a", "{l}b", 1.5), {}),
    ("blmovem", ("{l}a", "{l}b", 0), {"src": "RIGHT", "count": 4, "ordering": "OBO"}),
    ("blmovem", ("{l}a", "{l}b", 0), {"ordering": "OBO"}),
    # strings and keys
    ("delex", ("k",), {}),
    ("delex", ("k",), {"ifeq": "v"}),
    ("delex", ("k",), {"ifne": b"v"}),
    ("delex", ("k",), {"ifdeq": "00ff"}),
    ("delex", ("k",), {"ifdne": "00ff"}),
    ("delex", ("k",), {"ifeq": "v", "ifdne": "00ff"}),
    ("digest", ("k",), {}),
    ("digest_local", ("value",), {}),
    ("increx", ("n",), {}),
    ("increx", ("n",), {"byint": 5, "lbound": 0, "ubound": 10, "saturate": True, "ex": 60}),
    ("increx", ("n",), {"byfloat": 1.5, "px": 1500, "enx": True}),
    ("increx", ("n",), {"exat": 2000000000}),
    ("increx", ("n",), {"pxat": 2000000000000, "enx": True}),
    ("increx", ("n",), {"persist": True}),
    ("increx", ("n",), {"byint": 1, "byfloat": 1.0}),
    ("increx", ("n",), {"ex": 1, "persist": True}),
    ("increx", ("n",), {"enx": True}),
    ("msetex", ({"{m}a": 1, "{m}b": "2"},), {}),
    ("msetex", ({"{m}a": 1},), {"data_persist_option": RpPersist.NX, "ex": 10}),
    ("msetex", ({"{m}a": 1, "{m}b": 2},), {"data_persist_option": RpPersist.XX,
                                           "keepttl": True}),
    ("msetex", ({"{m}a": 1},), {"px": 100}),
    ("msetex", ({"{m}a": 1},), {"exat": 2000000000}),
    ("msetex", ({"{m}a": 1},), {"pxat": 2000000000000}),
    ("msetex", ({"{m}a": 1},), {"ex": 1, "keepttl": True}),
    ("stralgo", ("LCS", "ohmytext", "mynewtext"), {}),
    ("stralgo", ("LCS", "{s}a", "{s}b"), {"specific_argument": "keys", "len": True}),
    ("stralgo", ("LCS", "{s}a", "{s}b"), {"specific_argument": "keys", "idx": True,
                                          "minmatchlen": 4, "withmatchlen": True}),
    ("stralgo", ("LCS", "x", "y"), {"target_nodes": "primaries"}),
    ("stralgo", ("LCS", "x", "y"), {"len": True, "idx": True}),
    ("stralgo", ("LCS", "x", "y"), {"specific_argument": "values"}),
    ("stralgo", ("XYZ", "x", "y"), {}),
    # sets
    ("sdiffcard", (2, ["{s}a", "{s}b"]), {}),
    ("sdiffcard", (3, ["{s}a", "{s}b", "{s}c"], 10), {}),
    ("sunioncard", (2, ["{s}a", "{s}b"]), {}),
    ("sunioncard", (2, ["{s}a", "{s}b"]), {"limit": 5, "approx": True}),
    # streams
    ("xackdel", ("s", "g", "1-0", "2-0"), {}),
    ("xackdel", ("s", "g", "1-0"), {"ref_policy": "ACKED"}),
    ("xackdel", ("s", "g"), {}),
    ("xackdel", ("s", "g", "1-0"), {"ref_policy": "NOPE"}),
    ("xdelex", ("s", "1-0", "2-0"), {"ref_policy": "DELREF"}),
    ("xdelex", ("s",), {}),
    ("xcfgset", ("s",), {"idmp_duration": 100}),
    ("xcfgset", ("s",), {"idmp_duration": 1, "idmp_maxsize": 1000000}),
    ("xcfgset", ("s",), {}),
    ("xcfgset", ("s",), {"idmp_duration": 301}),
    ("xcfgset", ("s",), {"idmp_maxsize": 0}),
    ("xnack", ("s", "g", "FAIL", "1-0", "2-0"), {}),
    ("xnack", ("s", "g", "SILENT", "1-0"), {"retrycount": 3, "force": True}),
    ("xnack", ("s", "g", "BAD", "1-0"), {}),
    ("xnack", ("s", "g", "FAIL"), {}),
    ("xnack", ("s", "g", "FATAL", "1-0"), {"retrycount": -1}),
    # HOTKEYS
    ("hotkeys_start", ([RpMetrics.CPU],), {}),
    ("hotkeys_start", ([RpMetrics.CPU, RpMetrics.NET],),
     {"count": 10, "duration": 60, "sample_ratio": 2, "slots": [1, 2, 3]}),
    ("hotkeys_start", ([RpMetrics.NET],), {"target_nodes": "primaries"}),
    ("hotkeys_stop", (), {}),
    ("hotkeys_reset", (), {}),
    ("hotkeys_get", (), {}),
    ("hotkeys_get", (), {"target_nodes": "all"}),
    # replication and refusals
    ("sync", (), {}),
    ("psync", ("8de1787ba490483314a4d30f1c628bc5025eb761", 1234), {}),
    ("swapdb", (0, 1), {}),
    ("debug_segfault", (), {}),
    ("failover", (), {}),
    ("script_debug", ("YES",), {}),
    # HIMPORT: the raw wire mappings, and SET of a fieldset the registry does not know
    ("himport_prepare_internal", ("fs", ["name", "email"]), {}),
    ("himport_prepare_internal", ("fs", ("a",)), {}),
    ("himport_discard_internal", ("fs",), {}),
    ("himport_discard_all_internal", (), {}),
    ("himport_set", ("h", "fs", ["x", 2]), {}),
    ("himport_set", ("h", "fs", "xy"), {}),
    ("himport_set", ("h", "fs", b"xy"), {}),
    # vector sets
    ("vset.vadd", ("v", [0.1, 0.2, 0.3], "e"), {}),
    ("vset.vadd", ("v", b"\x00\x00\x80?", "e"), {"reduce_dim": 2, "cas": True,
                                                  "quantization": RpQuantization.BIN,
                                                  "ef": 200, "attributes": {"a": 1},
                                                  "numlinks": 16}),
    ("vset.vadd", ("v", [1.0], "e"), {"attributes": '{"b": 2}',
                                      "quantization": RpQuantization.NOQUANT}),
    ("vset.vadd", ("v", [], "e"), {}),
    ("vset.vsim", ("v", [0.1, 0.2]), {}),
    ("vset.vsim", ("v", "e"), {"with_scores": True, "count": 5, "ef": 100,
                               "filter": ".a > 1", "filter_ef": "10", "truth": True,
                               "no_thread": True, "epsilon": 0.5}),
    ("vset.vsim", ("v", b"\x00\x00\x80?"), {"with_attribs": True}),
    ("vset.vsim", ("v", "e"), {"with_scores": True, "with_attribs": True}),
    ("vset.vsim", ("v", ""), {}),
    ("vset.vdim", ("v",), {}),
    ("vset.vcard", ("v",), {}),
    ("vset.vrem", ("v", "e"), {}),
    ("vset.vemb", ("v", "e"), {}),
    ("vset.vemb", ("v", "e"), {"raw": True}),
    ("vset.vlinks", ("v", "e"), {}),
    ("vset.vlinks", ("v", "e"), {"with_scores": True}),
    ("vset.vinfo", ("v",), {}),
    ("vset.vsetattr", ("v", "e"), {}),
    ("vset.vsetattr", ("v", "e", {"x": [1, 2]}), {}),
    ("vset.vsetattr", ("v", "e", '{"y": 1}'), {}),
    ("vset.vgetattr", ("v", "e"), {}),
    ("vset.vrandmember", ("v",), {}),
    ("vset.vrandmember", ("v", -3), {}),
    ("vset.vrange", ("v", "[a", "+"), {}),
    ("vset.vrange", ("v", "-", "(z", 10), {}),
]


@pytest.mark.parametrize("decode", [False, True], ids=["bytes", "decoded"])
@pytest.mark.parametrize("name, args, kwargs", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_same_wire_form_as_redis_py(name: str, args: Tuple[Any, ...], kwargs: Dict[str, Any],
                                    decode: bool) -> None:
    compare(name, args, kwargs, decode)


def test_every_method_the_brief_names_has_a_case() -> None:
    """No method of the new families escapes the dual test."""
    covered = {c[0] for c in CASES}
    for family in (arrays.ArrayCommands, redis8.Redis8Commands):  # himport: below
        public = {n for n in vars(family) if not n.startswith("_")}
        assert public <= covered, public - covered
    vector = {f"vset.{n}" for n in vars(vectorsets.VectorSet) if not n.startswith("_")}
    assert vector <= covered, vector - covered


def test_every_new_command_is_in_the_table_and_sent_by_some_case() -> None:
    sent = set()
    for name, args, kwargs in CASES:
        client = Recorder(False)
        if run(name, client, client.calls, args, kwargs) and client.calls:
            sent.add(name_of(normalize_args(client.calls[0][0])))
    assert set(COMMANDS) >= REDIS8_NAMES
    assert REDIS8_NAMES - sent == set()


@pytest.mark.parametrize("ours, theirs", [
    (arrays.ArrayPredicateType, RpPredicate),
    (arrays.ArrayPredicateCombinator, RpCombinator),
    (arrays.ArrayAggregateOperations, RpOperations),
    (redis8.DataPersistOptions, RpPersist),
    (redis8.HotkeysMetricsTypes, RpMetrics),
    (vectorsets.QuantizationOptions, RpQuantization),
])
def test_own_enums_mirror_redis_pys(ours: Any, theirs: Any) -> None:
    assert [(m.name, m.value) for m in ours] == [(m.name, m.value) for m in theirs]


def test_own_enums_and_plain_words_send_what_redis_pys_enums_send() -> None:
    theirs, ours_enum, ours_word = Recorder(False), Recorder(False), Recorder(False)
    theirs.argrep("a", 0, 1, [(RpPredicate.GLOB, "x")], combinator=RpCombinator.AND)
    ours_enum.argrep("a", 0, 1, [(arrays.ArrayPredicateType.GLOB, "x")],
                     combinator=arrays.ArrayPredicateCombinator.AND)
    ours_word.argrep("a", 0, 1, [("GLOB", "x")], combinator="AND")
    theirs.arop("a", 0, 1, RpOperations.XOR)
    ours_enum.arop("a", 0, 1, arrays.ArrayAggregateOperations.XOR)
    ours_word.arop("a", 0, 1, "XOR")
    theirs.msetex({"k": 1}, RpPersist.NX)
    ours_enum.msetex({"k": 1}, redis8.DataPersistOptions.NX)
    ours_word.msetex({"k": 1}, "NX")
    assert theirs.calls == ours_enum.calls == ours_word.calls


@pytest.mark.parametrize("call, bad", [
    (lambda r: r.argrep("a", 0, 1, [("FUZZY", "x")]), "FUZZY"),
    (lambda r: r.argrep("a", 0, 1, [("GLOB", "x")], combinator="XOR"), "XOR"),
    (lambda r: r.arop("a", 0, 1, "AVG"), "AVG"),
    (lambda r: r.msetex({"k": 1}, "FXX"), "FXX"),
    (lambda r: r.vset().vadd("v", [1.0], "e", quantization="Q4"), "Q4"),
])
def test_bad_words_are_refused_naming_the_value(call: Callable[[Any], Any], bad: str) -> None:
    from clustercore.errors import DataError
    r = Recorder(False)
    with pytest.raises(DataError, match=bad):
        call(r)
    assert r.calls == []


# --- reply callbacks, next to redis-py's -----------------------------------------------------------
def _redispy_vector_callbacks() -> Dict[str, Callable[..., Any]]:
    client = redispy_client(False, [])
    client.vset()  # registers VEMB/VSIM/VGETATTR/VINFO/VLINKS on the client
    return dict(client.cluster_response_callbacks)


VECTOR = _redispy_vector_callbacks()
THEIRS: Dict[str, Callable[..., Any]] = {
    "ARINFO": _RedisCallbacks["ARINFO"],
    "HOTKEYS GET": _RedisCallbacksRESP2["HOTKEYS GET"],
    "STRALGO": redispy_helpers.parse_stralgo,
    "HIMPORT PREPARE": _RedisCallbacks["HIMPORT PREPARE"],
    "HIMPORT SET": _RedisCallbacks["HIMPORT SET"],
    "HIMPORT DISCARD": _RedisCallbacks["HIMPORT DISCARD"],
    "HIMPORT DISCARDALL": _RedisCallbacks["HIMPORT DISCARDALL"],
    **VECTOR,
}

REPLIES: List[Tuple[str, Any, Dict[str, Any]]] = [
    ("ARINFO", [b"count", 3, b"len", 10, b"slices", 1], {}),
    ("ARINFO", {b"count": 0, b"len": 0}, {}),
    ("HOTKEYS GET", [[b"cpu", [b"k", 5], b"net", [b"k", 9]]], {}),
    ("HOTKEYS GET", [], {}),
    ("STRALGO", b"mytext", {}),
    ("STRALGO", 6, {"len": True}),
    ("STRALGO", [b"matches", [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], b"len", 6],
     {"idx": True}),
    ("STRALGO", [b"matches", [[[4, 7], [5, 8], 4]], b"len", 6],
     {"idx": True, "withmatchlen": True}),
    ("HIMPORT PREPARE", b"OK", {}),
    ("HIMPORT SET", b"OK", {}),
    ("HIMPORT DISCARD", 1, {}),
    ("HIMPORT DISCARDALL", 3, {}),
    ("VEMB", [b"0.5", b"-1", b"2.25"], {}),
    ("VEMB", None, {}),
    ("VEMB", [b"int8", b"\x01\x02", b"0.75", b"0.1"], {"RAW": True}),
    ("VEMB", [b"bin", b"\x01", b"1.5"], {"RAW": True, "ALLOW_DECODING": True}),
    ("VSIM", [b"a", b"b"], {}),
    ("VSIM", [b"a", b"0.9", b"b", b"0.5"], {"WITHSCORES": True}),
    ("VSIM", [b"a", b'{"x": 1}', b"b", None], {"WITHATTRIBS": True}),
    ("VSIM", [b"a", b"0.9", b'{"x": 1}', b"b", b"0.5", None],
     {"WITHSCORES": True, "WITHATTRIBS": True}),
    ("VSIM", None, {"WITHSCORES": True}),
    ("VLINKS", [[b"a", b"b"], [b"c"]], {}),
    ("VLINKS", [[b"a", b"0.5", b"b", b"0.25"]], {"WITHSCORES": True}),
    ("VLINKS", None, {"WITHSCORES": True}),
    ("VGETATTR", b'{"x": [1, 2]}', {}),
    ("VGETATTR", b"{}", {}),
    ("VGETATTR", None, {}),
    ("VINFO", [b"quant-type", b"int8", b"size", 3], {}),
    ("VINFO", [], {}),
]


@pytest.mark.parametrize("name, reply, options", REPLIES,
                         ids=[f"{r[0]}-{i}" for i, r in enumerate(REPLIES)])
def test_callbacks_match_redis_py(name: str, reply: Any, options: Dict[str, Any]) -> None:
    expected = THEIRS[name](reply, **options)
    assert REDIS8_CALLBACKS[name](reply, **options) == expected


def test_every_new_callback_is_compared_and_installed() -> None:
    assert set(REDIS8_CALLBACKS) == set(THEIRS) == {r[0] for r in REPLIES}
    callbacks = Recorder(False)._callbacks()
    for name, callback in REDIS8_CALLBACKS.items():
        assert callbacks[name] is callback


def test_hotkeys_fan_out_concatenates_each_nodes_sessions() -> None:
    """HOTKEYS GET from every primary: each node's list parsed, then concatenated."""
    spec = COMMANDS["HOTKEYS GET"]
    assert (spec.route, spec.merge) == (Route.ALL_PRIMARIES, Merge.CONCAT)
    r = Recorder(False)
    parsed = {f"n{i}": r._parse_reply("HOTKEYS GET", [[b"cpu", [b"k", i]]]) for i in range(3)}
    assert r._merge_results("HOTKEYS GET", spec.merge, parsed) == [
        {b"cpu": [b"k", 0]}, {b"cpu": [b"k", 1]}, {b"cpu": [b"k", 2]}]


# --- routing ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, keys", [
    (("MSETEX", 2, "{m}a", 1, "{m}b", 2, "NX", "EX", 5), ["{m}a", "{m}b"]),
    (("MSETEX", 1, "a", "EX", "PX", 5), ["a"]),
    (("STRALGO", "LCS", "KEYS", "{s}a", "{s}b", b"LEN"), ["{s}a", "{s}b"]),
    (("STRALGO", "LCS", "STRINGS", "a", "b"), []),
    (("SDIFFCARD", 2, "{s}a", "{s}b", "LIMIT", 0), ["{s}a", "{s}b"]),
    (("SUNIONCARD", 1, "a", "APPROX", "LIMIT", 0), ["a"]),
    (("BLMOVEM", "{l}a", "{l}b", "LEFT", "RIGHT", 0.5, "COUNT", 2, "OBO"), ["{l}a", "{l}b"]),
    (("HIMPORT", "SET", "h", "fs", "v1", "v2"), ["h"]),
    (("VSIM", "v", "ELE", "e"), ["v"]),
    (("XNACK", "s", "g", "FAIL", "IDS", 1, "1-0"), ["s"]),
])
def test_the_table_finds_the_keys(args: Tuple[Any, ...], keys: List[str]) -> None:
    spec = lookup(args)
    assert spec is not None
    assert keys_of(spec, args) == keys
    expected = key_slot(keys[0]) if keys else None
    assert slot_of(spec, args) == expected


@pytest.mark.parametrize("args", [
    ("MSETEX", 2, "a", 1, "b", 2),
    ("LMOVEM", "a", "b", "LEFT", "RIGHT"),
    ("SUNIONCARD", 2, "a", "b", "LIMIT", 0),
    ("STRALGO", "LCS", "KEYS", "a", "b"),
])
def test_multi_key_commands_refuse_keys_of_several_slots(args: Tuple[Any, ...]) -> None:
    spec = lookup(args)
    assert spec is not None
    with pytest.raises(ClusterCrossSlotError, match=spec.name):
        slot_of(spec, args)


def test_blmovem_timeout_is_known_to_the_table() -> None:
    spec = COMMANDS["BLMOVEM"]
    args = normalize_args(("BLMOVEM", "a", "b", "LEFT", "RIGHT", 2.5, "COUNT", 3, "OBO"))
    assert args[spec.blocking_timeout_arg] == 2.5  # type: ignore[index]


def test_connection_bound_and_node_rows() -> None:
    for name in ("HIMPORT PREPARE", "HIMPORT DISCARD", "HIMPORT DISCARDALL"):
        assert COMMANDS[name].route is Route.CONNECTION
    assert COMMANDS["HIMPORT SET"].idempotent and not COMMANDS["XNACK"].idempotent
    for name in ("HOTKEYS START", "HOTKEYS STOP", "HOTKEYS RESET"):
        assert COMMANDS[name].route is Route.ALL_PRIMARIES
    assert not COMMANDS["HOTKEYS START"].idempotent
    assert COMMANDS["ARGET"].readonly and not COMMANDS["ARSET"].readonly
    assert COMMANDS["VSIM"].readonly and not COMMANDS["VADD"].readonly


def _seen(fake: FakeCluster, word: bytes) -> List[Any]:
    return [n.address for n in fake.nodes
            if any(c and c[0].upper() == word for c in fake.commands_seen(n))]


@pytest.mark.parametrize("call, word, key", [
    (lambda rc: rc.arset("arr", 0, "x"), b"ARSET", "arr"),
    (lambda rc: rc.arget("other-array", 3), b"ARGET", "other-array"),
    (lambda rc: rc.vset().vadd("vec", [0.5], "e"), b"VADD", "vec"),
    (lambda rc: rc.vset().vsim("vec2", "e", with_scores=True), b"VSIM", "vec2"),
    (lambda rc: rc.lmovem("{q}src", "{q}dst"), b"LMOVEM", "{q}src"),
    (lambda rc: rc.msetex({"{t}a": 1, "{t}b": 2}, ex=5), b"MSETEX", "{t}a"),
    (lambda rc: rc.sdiffcard(2, ["{z}a", "{z}b"]), b"SDIFFCARD", "{z}a"),
    (lambda rc: rc.xnack("stream", "g", "FAIL", "1-0"), b"XNACK", "stream"),
    (lambda rc: rc.delex("gone", ifeq="v"), b"DELEX", "gone"),
    (lambda rc: rc.stralgo("LCS", "{w}a", "{w}b", specific_argument="keys"), b"STRALGO",
     "{w}a"),
])
def test_fake_cluster_routes_keyed_commands_to_the_owner(call: Callable[[Any], Any],
                                                         word: bytes, key: str) -> None:
    """The fake knows none of these commands: its "unknown command" comes back, and the
    command reached exactly the key's owner."""
    fake = FakeCluster()
    rc, _ = make_client(fake)
    try:
        with pytest.raises(ResponseError, match="unknown command"):
            call(rc)
        assert _seen(fake, word) == [fake.owner_of(key).address]
    finally:
        rc.close()


def test_fake_cluster_fans_hotkeys_out_and_sends_stralgo_strings_to_the_default_node() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    try:
        with pytest.raises(ResponseError, match="unknown command"):
            rc.hotkeys_get()
        assert sorted(_seen(fake, b"HOTKEYS")) == sorted(n.address for n in fake.primaries())
        with pytest.raises(ResponseError, match="unknown command"):
            rc.stralgo("LCS", "abc", "abd")
        assert _seen(fake, b"STRALGO") == [rc.get_default_node().address]
        fake.clear_commands_seen()
        node = rc.get_primaries()[-1]
        with pytest.raises(ResponseError, match="unknown command"):
            rc.hotkeys_stop(target_nodes=node)
        assert _seen(fake, b"HOTKEYS") == [node.address]
    finally:
        rc.close()


def test_fake_cluster_refuses_cross_slot_and_unroutable_calls_before_sending() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    try:
        fake.clear_commands_seen()
        with pytest.raises(ClusterCrossSlotError):
            rc.msetex({"a": 1, "b": 2})
        with pytest.raises(ClusterCrossSlotError):
            rc.blmovem("a", "b", 1)
        with pytest.raises(RedisClusterException, match="SYNC"):
            rc.sync()
        with pytest.raises(RedisClusterException, match="SWAPDB"):
            rc.swapdb(0, 1)
        for word in (b"MSETEX", b"BLMOVEM", b"SYNC", b"SWAPDB"):
            assert _seen(fake, word) == []
    finally:
        rc.close()


def test_pipeline_offers_the_new_methods() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    try:
        with rc.pipeline() as pipe:
            pipe.arset("arr", 0, "x")
            pipe.vset().vcard("vec")
            results = pipe.execute(raise_on_error=False)
        assert [type(r) for r in results] == [ResponseError, ResponseError]
        assert _seen(fake, b"ARSET") == [fake.owner_of("arr").address]
        assert _seen(fake, b"VCARD") == [fake.owner_of("vec").address]
    finally:
        rc.close()


def test_the_public_client_has_the_new_methods() -> None:
    """RedisCluster composes the new families (the public client, not only the mixin)."""
    for name in ("arset", "vset", "lmovem", "hotkeys_get", "xnack", "stralgo"):
        assert callable(getattr(RedisCluster, name))


# --- HIMPORT: the registry, next to redis-py's; himport_set's one-connection pair --------------------
def _registry_steps(client: Any) -> List[Any]:
    """One script of registry calls; each step's result or the refusal's class name."""
    steps: List[Callable[[], Any]] = [
        lambda: client.himport_prepare("fs", ["a", "b"]),
        lambda: client.himport_prepare("fs", iter(["c"])),  # replaces, any iterable
        lambda: client.himport_prepare("other", ("x",)),
        lambda: client.himport_prepare("bad", "ab"),
        lambda: client.himport_prepare("bad", b"ab"),
        lambda: client.himport_prepare("bad", []),
        lambda: client.himport_registry.get("fs").fields,
        lambda: sorted(client.himport_registry.names()),
        lambda: ("fs" in client.himport_registry, len(client.himport_registry)),
        lambda: client.himport_registry.names_to_discard(["fs", "gone"]),
        lambda: client.himport_discard("fs"),
        lambda: client.himport_discard("fs"),
        lambda: client.himport_discard_all(),
        lambda: client.himport_discard_all(),
        lambda: list(client.himport_registry),
    ]
    out = []
    for step in steps:
        try:
            out.append(step())
        except Exception as exc:  # the refusal's class is what is compared
            out.append(type(exc).__name__)
    return out


def test_registry_answers_as_redis_pys() -> None:
    from redis.himport import HImportRegistry as RpRegistry
    theirs = redispy_client(False, [])
    theirs._himport_registry = RpRegistry()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = _registry_steps(theirs)
    ours = Recorder(False)
    assert _registry_steps(ours) == expected
    assert ours.calls == []  # the registry calls send nothing


def test_registry_is_one_per_client_even_when_first_asked_by_many_threads() -> None:
    client = Recorder(False)
    barrier = threading.Barrier(8)
    seen: List[Any] = []

    def first_use() -> None:
        barrier.wait(timeout=10)
        seen.append(client.himport_registry)

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(seen) == 8 and all(r is seen[0] for r in seen)
    assert Recorder(False).himport_registry is not seen[0]


def test_registry_changes_from_threads_all_land() -> None:
    registry = himport.HImportRegistry()
    barrier = threading.Barrier(4)

    def declare(worker: int) -> None:
        barrier.wait(timeout=10)
        for i in range(50):
            registry.prepare(f"w{worker}-{i}", [f"f{i}"])

    threads = [threading.Thread(target=declare, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(registry) == 200 and registry.revision == 200
    assert sorted(f.version for _, f in registry.items()) == list(range(1, 201))


def test_fake_cluster_sends_prepare_then_set_to_the_keys_owner() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake)
    try:
        assert rc.himport_prepare("fs", ["name", "age"]) is True
        fake.clear_commands_seen()
        with pytest.raises(ResponseError, match="unknown command"):  # the fake has no HIMPORT
            rc.himport_set("user:1", "fs", ["ann", 7])
        owner = fake.owner_of("user:1")
        assert _seen(fake, b"HIMPORT") == [owner.address]
        sent = [c for c in fake.commands_seen(owner) if c[0] == b"HIMPORT"]
        assert sent == [[b"HIMPORT", b"PREPARE", b"fs", b"name", b"age"],
                        [b"HIMPORT", b"SET", b"user:1", b"fs", b"ann", b"7"]]
        with rc.pipeline() as pipe:
            assert pipe.himport_registry is rc.himport_registry
            with pytest.raises(RedisClusterException, match="cluster client only"):
                pipe.himport_set("user:1", "fs", ["bob", 8])
        with pytest.raises(RedisClusterException, match="HIMPORT PREPARE"):
            rc.himport_prepare_internal("fs", ["name"])
    finally:
        rc.close()


class ScriptedPipe:
    """A pipeline stand-in: records what is queued, answers execute() from a script."""

    def __init__(self, owner: PairClient) -> None:
        self.owner = owner
        self.queued: List[Call] = []

    def execute_command(self, *args: Any, **options: Any) -> None:
        self.queued.append((args, options))

    def execute(self, raise_on_error: bool = True) -> List[Any]:
        self.owner.batches.append(self.queued)
        return self.owner.script.pop(0)

    def reset(self) -> None:
        self.owner.resets += 1


class PairClient(Recorder):
    """A client whose node API and pipeline are scripted (himport_set's retry logic)."""

    def __init__(self, script: List[List[Any]]) -> None:
        super().__init__(False)
        self.script = script
        self.batches: List[List[Call]] = []
        self.resets = 0
        self.owners = iter(["node-a", "node-b", "node-c"])

    def get_node_from_key(self, key: Any) -> str:
        return next(self.owners)

    def pipeline(self, transaction: Any = None) -> ScriptedPipe:
        assert transaction is False
        return ScriptedPipe(self)


def test_himport_set_pairs_prepare_with_set_on_the_owner() -> None:
    client = PairClient([[True, True]])
    client.himport_prepare("fs", ["a", "b"])
    assert client.himport_set("k", "fs", iter([1, 2])) is True
    assert client.batches == [[(("HIMPORT", "PREPARE", "fs", "a", "b"),
                                {"target_nodes": "node-a"}),
                               (("HIMPORT", "SET", "k", "fs", 1, 2), {})]]
    assert client.resets == 1 and client.calls == []


def test_himport_set_runs_the_pair_once_more_when_a_move_split_it() -> None:
    lost = ResponseError("ERR no such fieldset 'fs'")
    client = PairClient([[True, lost], [True, True]])
    client.himport_prepare("fs", ["a"])
    assert client.himport_set("k", "fs", ["v"]) is True
    assert [b[0][1]["target_nodes"] for b in client.batches] == ["node-a", "node-b"]
    assert client.resets == 2
    twice = PairClient([[True, lost], [True, lost]])
    twice.himport_prepare("fs", ["a"])
    with pytest.raises(ResponseError, match="no such fieldset"):
        twice.himport_set("k", "fs", ["v"])
    assert len(twice.batches) == 2  # bounded: no third attempt


def test_himport_set_raises_the_prepare_error_and_other_set_errors_at_once() -> None:
    client = PairClient([[ResponseError("ERR wrong number of fields"), True]])
    client.himport_prepare("fs", ["a"])
    with pytest.raises(ResponseError, match="wrong number of fields"):
        client.himport_set("k", "fs", ["v"])
    other = PairClient([[True, ResponseError("WRONGTYPE not a hash")]])
    other.himport_prepare("fs", ["a"])
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        other.himport_set("k", "fs", ["v"])
    assert len(client.batches) == len(other.batches) == 1
