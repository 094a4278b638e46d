"""clustercore._topology: reply parsing, the slot table, MOVED updates, merging views, remapping."""

from __future__ import annotations

import pickle
import random
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clustercore import NUM_SLOTS, NodeAddress
from clustercore._topology.merge import merge_views
from clustercore._topology.parse import parse_cluster_shards, parse_cluster_slots
from clustercore._topology.remap import Remapper
from clustercore._topology.snapshot import Role, Shard, Topology, node_record
from clustercore.errors import (
    DataError,
    InvalidSlotError,
    ProtocolError,
    RedisClusterConfigError,
    ResponseError,
    SlotNotCoveredError,
    TopologyError,
)

A = NodeAddress
SOURCE = A("127.0.0.1", 7000)
ID = [f"{i:040x}" for i in range(10)]


def decoded(value: Any) -> Any:
    """The same reply as a decode_responses=True connection would give it."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [decoded(v) for v in value]
    if isinstance(value, dict):
        return {decoded(k): decoded(v) for k, v in value.items()}
    return value


def slot_owners(topology: Topology) -> List[Optional[NodeAddress]]:
    return [s.primary if s is not None else None for s in topology.slots]


# --- real-shaped CLUSTER SLOTS replies (captured from redis-server 7.0.15, then extended) -------
def node7(host: Any, port: Any, node_id: str, hostname: Optional[bytes] = None) -> List[Any]:
    """A Redis 7 node element: host, port, id, metadata (a flat list in RESP2)."""
    return [host, port, node_id.encode(), [b"hostname", hostname] if hostname else []]


SLOTS_3x1: List[Any] = [
    [0, 5460, node7(b"127.0.0.1", 7000, ID[0], b"a.example"), node7(b"127.0.0.1", 7003, ID[3])],
    [5461, 10922, node7(b"127.0.0.1", 7001, ID[1]), node7(b"127.0.0.1", 7004, ID[4])],
    [10923, 16383, node7(b"127.0.0.1", 7002, ID[2]), node7(b"127.0.0.1", 7005, ID[5])],
]


def check_3x1(t: Topology) -> None:
    assert t.is_fully_covered and t.covered_slots() == NUM_SLOTS and t.uncovered_ranges() == []
    assert t.primaries == (A("127.0.0.1", 7000), A("127.0.0.1", 7001), A("127.0.0.1", 7002))
    assert t.replicas == (A("127.0.0.1", 7003), A("127.0.0.1", 7004), A("127.0.0.1", 7005))
    assert t.nodes == t.primaries + t.replicas
    assert t.primary_for_slot(0) == t.primary_for_slot(5460) == A("127.0.0.1", 7000)
    assert t.primary_for_slot(5461) == A("127.0.0.1", 7001)
    assert t.primary_for_slot(16383) == A("127.0.0.1", 7002)
    shard = t.shard_for_slot(100)
    assert shard is not None
    assert shard.ranges == ((0, 5460),) and shard.replicas == (A("127.0.0.1", 7003),)
    assert shard.primary_id == ID[0] and shard.replica_ids == (ID[3],)
    assert t.role_of(A("127.0.0.1", 7004)) is Role.REPLICA
    assert t.role_of(A("127.0.0.1", 7001)) is Role.PRIMARY
    assert t.shard_of(A("127.0.0.1", 7005)) is t.shard_for_slot(16000)


def test_slots_redis7_bytes_and_str() -> None:
    t = parse_cluster_slots(SLOTS_3x1, SOURCE, epoch=4)
    check_3x1(t)
    assert t.epoch == 4 and t.source == SOURCE
    t2 = parse_cluster_slots(decoded(SLOTS_3x1), SOURCE)
    check_3x1(t2)
    assert t == t2 and hash(t) == hash(t2)


def test_slots_resp3_metadata_map_and_extra_elements_ignored() -> None:
    reply = [[0, 16383, [b"10.0.0.1", 6379, ID[0].encode(), {b"hostname": b"x"}, b"future"],
              [b"10.0.0.2", 6379, ID[1].encode(), {}]]]
    t = parse_cluster_slots(reply, A("10.0.0.1", 6379))
    assert t.primaries == (A("10.0.0.1", 6379),) and t.replicas == (A("10.0.0.2", 6379),)


def test_slots_pre_redis7_and_two_element_nodes() -> None:
    # Redis 3.x/4.x: [host, port] or [host, port, id]; ports as decimal bulk strings too.
    reply = [[0, 16383, [b"10.0.0.1", b"6379"], [b"10.0.0.2", 6380, b"abc"]]]
    t = parse_cluster_slots(reply, A("10.0.0.1", 6379))
    assert t.primaries == (A("10.0.0.1", 6379),)
    shard = t.shards[0]
    assert shard.primary_id is None and shard.replica_ids == ("abc",)


@pytest.mark.parametrize("unknown", [b"", "", None, b"?", "?"])
def test_slots_unknown_host_means_source_host(unknown: Any) -> None:
    # Redis 7 sends NULL with cluster-preferred-endpoint-type unknown-endpoint, "?" for a missing
    # hostname, and "" on a single node that never learnt its own address.
    reply = [[0, 16383, [unknown, 7000, ID[0].encode(), []], [unknown, 7001, ID[1].encode(), []]]]
    t = parse_cluster_slots(reply, A("192.168.5.5", 9999))
    assert t.primaries == (A("192.168.5.5", 7000),) and t.replicas == (A("192.168.5.5", 7001),)


def test_slots_ipv6_hosts() -> None:
    reply = [[0, 8191, [b"::1", 7000, ID[0].encode(), []], [b"2001:db8::7", 7001, ID[1].encode()]],
             [8192, 16383, [b"[::1]", 7002, ID[2].encode()]]]
    t = parse_cluster_slots(reply, A("::1", 7000))
    assert t.primaries == (A("::1", 7000), A("::1", 7002))
    assert t.replicas == (A("2001:db8::7", 7001),)
    assert "[::1]:7000" in t.describe()


def test_slots_entries_of_one_primary_merge() -> None:
    p = [b"h", 1, b"id-p"]
    reply = [[300, 400, p, [b"h", 2, b"id-r1"]], [0, 100, p, [b"h", 3, b"id-r2"]],
             [101, 200, p, [b"h", 2, b"id-r1"]], [300, 350, p]]
    t = parse_cluster_slots(reply, A("h", 1))
    assert len(t.shards) == 1
    shard = t.shards[0]
    assert shard.ranges == ((0, 200), (300, 400))
    assert shard.replicas == (A("h", 2), A("h", 3)) and shard.replica_ids == ("id-r1", "id-r2")
    assert t.uncovered_ranges() == [(201, 299), (401, 16383)]
    assert t.covered_slots() == 201 + 101


def test_slots_empty_reply_is_an_empty_topology() -> None:
    t = parse_cluster_slots([], SOURCE)
    assert t.shards == () and t.nodes == () and t.covered_slots() == 0
    assert t.uncovered_ranges() == [(0, NUM_SLOTS - 1)] and not t.is_fully_covered
    with pytest.raises(SlotNotCoveredError, match="slot 42 "):
        t.primary_for_slot(42)


def test_error_reply_value_is_raised_as_is() -> None:
    err = ResponseError("ERR This instance has cluster support disabled")
    with pytest.raises(ResponseError) as info:
        parse_cluster_slots(err, SOURCE)
    assert info.value is err
    with pytest.raises(ResponseError):
        parse_cluster_shards(err, SOURCE)


# --- CLUSTER SHARDS -------------------------------------------------------------------------------
def shards_node(port: int, role: bytes, health: bytes = b"online", *, node_id: str = "",
                endpoint: Optional[bytes] = b"127.0.0.1", ip: Optional[bytes] = b"127.0.0.1",
                tls_port: Optional[int] = None, plain: bool = True) -> List[Any]:
    """A RESP2 CLUSTER SHARDS node, shaped as redis-server 7.0.15 sends it."""
    out: List[Any] = [b"id", (node_id or f"{port:040d}").encode()]
    if plain:
        out += [b"port", port]
    if tls_port is not None:
        out += [b"tls-port", tls_port]
    if ip is not None:
        out += [b"ip", ip]
    if endpoint is not None:
        out += [b"endpoint", endpoint]
    return [*out, b"role", role, b"replication-offset", 1234, b"health", health]


def as_resp3(shards: List[Any]) -> List[Any]:
    """RESP2 flat shard/node lists -> the RESP3 maps the same server sends after HELLO 3."""
    def pairs(flat: List[Any]) -> Dict[Any, Any]:
        return dict(zip(flat[0::2], flat[1::2]))
    out = []
    for shard in shards:
        fields = pairs(shard)
        fields[b"nodes"] = [pairs(n) for n in fields[b"nodes"]]
        out.append(fields)
    return out


SHARDS_3x1 = [
    [b"slots", [0, 5460], b"nodes", [shards_node(7000, b"master"), shards_node(7003, b"replica")]],
    [b"slots", [5461, 10922], b"nodes",
     [shards_node(7004, b"replica", b"failed"), shards_node(7001, b"master")]],
    [b"slots", [10923, 16383], b"nodes",
     [shards_node(7002, b"master"), shards_node(7005, b"replica", b"loading")]],
]


@pytest.mark.parametrize("form", ["resp2", "resp3", "resp2-str", "resp3-str"])
def test_shards_forms(form: str) -> None:
    reply: Any = as_resp3(SHARDS_3x1) if form.startswith("resp3") else SHARDS_3x1
    if form.endswith("str"):
        reply = decoded(reply)
    t = parse_cluster_shards(reply, SOURCE, epoch=2)
    assert t.primaries == (A("127.0.0.1", 7000), A("127.0.0.1", 7001), A("127.0.0.1", 7002))
    assert t.replicas == (A("127.0.0.1", 7003), A("127.0.0.1", 7004), A("127.0.0.1", 7005))
    assert t.is_fully_covered and t.epoch == 2
    middle = t.shard_for_slot(6000)
    assert middle is not None and middle.failed == frozenset({A("127.0.0.1", 7004)})
    assert middle.replicas == (A("127.0.0.1", 7004),) and middle.healthy_replicas == ()
    last = t.shard_for_slot(16383)
    assert last is not None and last.failed == frozenset({A("127.0.0.1", 7005)})
    assert middle.primary_id == f"{7001:040d}"
    # Same slot layout as CLUSTER SLOTS, but failure marks make the layouts differ.
    assert slot_owners(t) == slot_owners(parse_cluster_slots(SLOTS_3x1, SOURCE))
    assert t != parse_cluster_slots(SLOTS_3x1, SOURCE)
    assert "(failed)" in t.describe()


def test_shards_multiple_ranges_slotless_shard_and_failed_primary() -> None:
    reply = [
        [b"slots", [0, 10, 20, 30, 12, 15], b"nodes",
         [shards_node(7000, b"master", b"failed"), shards_node(7001, b"replica")]],
        [b"slots", [], b"nodes", [shards_node(7002, b"master"), shards_node(7003, b"replica")]],
    ]
    t = parse_cluster_shards(reply, SOURCE)
    first, empty = t.shards
    assert first.ranges == ((0, 10), (12, 15), (20, 30)) and first.failed == {A("127.0.0.1", 7000)}
    assert empty.ranges == () and empty.replicas == (A("127.0.0.1", 7003),)
    assert t.role_of("127.0.0.1:7003") is Role.REPLICA
    assert t.primaries == (A("127.0.0.1", 7000), A("127.0.0.1", 7002))
    assert t.covered_slots() == 11 + 4 + 11
    assert "no slots" in t.describe()


def test_shards_hosts_and_ports() -> None:
    src = A("203.0.113.9", 6000)
    reply = [[b"slots", [0, 16383], b"nodes", [
        shards_node(7000, b"master", endpoint=b"", ip=b"10.1.1.1"),         # unknown-endpoint
        shards_node(7001, b"replica", endpoint=b"?"),                        # no hostname
        shards_node(7002, b"replica", endpoint=None, ip=b"10.1.1.2"),        # ip when no endpoint
        shards_node(7003, b"replica", endpoint=b"db-3.example"),
        shards_node(7004, b"replica", endpoint=b"::1", tls_port=8004),
        shards_node(7005, b"replica", tls_port=8005, plain=False),           # TLS-only node
    ]]]
    t = parse_cluster_shards(reply, src)
    assert t.primaries == (A("203.0.113.9", 7000),)
    assert t.replicas == (A("203.0.113.9", 7001), A("10.1.1.2", 7002), A("db-3.example", 7003),
                          A("::1", 7004), A("127.0.0.1", 8005))
    tls = parse_cluster_shards(reply, src, prefer_tls=True)
    assert tls.replicas[3:] == (A("::1", 8004), A("127.0.0.1", 8005))
    assert tls.primaries == (A("203.0.113.9", 7000),)


def test_shards_primaryless_shard_without_slots_is_skipped() -> None:
    reply = [[b"slots", [0, 16383], b"nodes", [shards_node(7000, b"master")]],
             [b"slots", [], b"nodes", [shards_node(7001, b"replica")]]]
    t = parse_cluster_shards(reply, SOURCE)
    assert t.nodes == (A("127.0.0.1", 7000),)


# --- malformed replies ----------------------------------------------------------------------------
N0 = [b"h", 1, b"a"]
N1 = [b"h", 2, b"b"]
N2 = [b"h", 3, b"c"]

BAD_SLOTS: List[Tuple[Any, str]] = [
    (b"OK", "reply should be an array"),
    ({b"a": 1}, "reply should be an array"),
    ([5], "entry 0 should be an array"),
    ([[0, 1]], "expected at least 3"),
    ([[0, 16384, N0]], "16384 is outside 0..16383"),
    ([[-1, 10, N0]], "outside 0..16383"),
    ([[10, 5, N0]], "start slot 10 > end slot 5"),
    ([[b"x", 5, N0]], "should be an integer"),
    ([[True, 5, N0]], "should be an integer"),
    ([[0, 5, b"h"]], "node 0 should be an array"),
    ([[0, 5, [b"h"]]], "expected host and port"),
    ([[0, 5, [b"h", 0]]], "port 0 is outside"),
    ([[0, 5, [b"h", 70000]]], "outside 1..65535"),
    ([[0, 5, [b"h", b"12ab"]]], "should be an integer"),
    ([[0, 5, [5, 1]]], "host should be a string"),
    ([[0, 5, [b"\xff\xfe", 1]]], "not valid UTF-8"),
    ([[0, 5, [b"h", 1, 5]]], "id should be a string"),
    ([[0, 10, N0], [5, 20, N1]], "claimed by both h:1 and h:2"),
    ([[0, 10, N0, N1], [20, 30, N1]], "h:2 is listed as a primary and as a replica"),
    ([[0, 10, N0, N2], [20, 30, N1, N2]], "replica of both h:1 and h:2"),
    ([[0, 10, N0, N0]], "listed as a primary and as a replica"),
    ([[0, 10, [b"?", 1, b"a"]], [20, 30, [b"", 1, b"b"]]], "two nodes (a and b) both map to h:1"),
]


@pytest.mark.parametrize(("reply", "message"), BAD_SLOTS)
def test_slots_malformed(reply: Any, message: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_cluster_slots(reply, A("h", 1))
    assert message in str(info.value)
    assert "malformed CLUSTER SLOTS reply" in str(info.value)
    assert info.value.node == A("h", 1)


def _node(port: int, role: bytes = b"master") -> List[Any]:
    return [b"id", str(port).encode(), b"port", port, b"ip", b"h", b"role", role]


BAD_SHARDS: List[Tuple[Any, str]] = [
    (5, "reply should be an array"),
    ([[b"slots"]], "shard 0 should be a key/value list"),
    ([b"slots"], "shard 0 should be a map"),
    ([5], "shard 0 should be a map"),
    ([[b"slots", [0, 1, 2], b"nodes", []]], "odd length 3"),
    ([[b"slots", [0, 16384], b"nodes", [_node(1)]]], "outside 0..16383"),
    ([[b"slots", [9, 1], b"nodes", [_node(1)]]], "start slot 9 > end slot 1"),
    ([[b"slots", [0, 1]]], "has no 'nodes' field"),
    ([[b"slots", [0, 1], b"nodes", 5]], "nodes should be an array"),
    ([[b"slots", [0, 1], b"nodes", [_node(1), _node(2)]]], "two primaries"),
    ([[b"slots", [0, 1], b"nodes", [_node(2, b"replica")]]], "lists no primary"),
    ([[b"slots", [0, 1], b"nodes", [_node(1, b"arbiter")]]], "unknown role"),
    ([[b"slots", [0, 1], b"nodes", [[b"port", 1, b"ip", b"h"]]]], "role should be a string"),
    ([[b"slots", [0, 1], b"nodes", [[b"role", b"master", b"ip", b"h"]]]], "no usable 'port'"),
    ([[b"slots", [0, 1], b"nodes", [[b"role", b"master", b"port", 1]]]], "neither 'endpoint'"),
    ([[b"slots", [0, 1], b"nodes", [[5, 1]]]], "key in shard 0 node 0 should be a string"),
    ([[b"slots", [0, 5], b"nodes", [_node(1)]], [b"slots", [5, 9], b"nodes", [_node(2)]]],
     "claimed by both"),
]


@pytest.mark.parametrize(("reply", "message"), BAD_SHARDS)
def test_shards_malformed(reply: Any, message: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_cluster_shards(reply, A("h", 1))
    assert message in str(info.value)
    assert "malformed CLUSTER SHARDS reply" in str(info.value)


_ATOMS = (st.none() | st.booleans() | st.integers(-3, 70000) | st.binary(max_size=4)
          | st.sampled_from([b"", b"?", b"h", b"::1", b"master", b"replica", b"slots", b"nodes",
                             b"port", b"ip", b"endpoint", b"role", b"health", b"id", b"7000",
                             "127.0.0.1", "failed", b"tls-port"]))
_JUNK = st.recursive(
    _ATOMS,
    lambda inner: st.lists(inner, max_size=6)
    | st.dictionaries(_ATOMS.filter(lambda k: isinstance(k, (bytes, str))), inner, max_size=4),
    max_leaves=30)


def _parses_or_protocol_error(reply: Any) -> None:
    for parse in (parse_cluster_slots, parse_cluster_shards):
        try:
            result = parse(reply, A("h", 1))
        except ProtocolError:
            continue
        assert isinstance(result, Topology)


@settings(max_examples=300)
@given(_JUNK)
def test_fuzz_random_structures_only_raise_protocol_error(reply: Any) -> None:
    _parses_or_protocol_error(reply)


def _paths(value: Any, prefix: Tuple[int, ...] = ()) -> List[Tuple[int, ...]]:
    out = [prefix]
    if isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*prefix, i))
    return out


def _replace(value: Any, path: Tuple[int, ...], new: Any) -> Any:
    if not path:
        return new
    copy = list(value)
    copy[path[0]] = _replace(copy[path[0]], path[1:], new)
    return copy


@settings(max_examples=300)
@given(st.sampled_from([SLOTS_3x1, SHARDS_3x1]), st.data())
def test_fuzz_mutated_real_replies_only_raise_protocol_error(base: Any, data: st.DataObject) -> None:
    reply = base
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(reply)))
        reply = _replace(reply, path, data.draw(_JUNK))
    _parses_or_protocol_error(reply)


# --- random layouts, by property -------------------------------------------------------------------
HOST_SPELLINGS: Dict[str, List[str]] = {
    "127.0.0.1": ["127.0.0.1", "127.000.0.001", " 127.0.0.1 "],
    "10.0.0.5": ["10.0.0.5", "010.000.000.005"],
    "::1": ["::1", "0:0:0:0:0:0:0:1", "[::1]"],
    "2001:db8::7": ["2001:DB8::7", "2001:db8:0:0:0:0:0:7"],
    "node-a.example": ["node-a.example", "NODE-A.Example", "node-a.example."],
}
HOSTS = sorted(HOST_SPELLINGS)


@dataclass
class Layout:
    primaries: List[NodeAddress]
    replicas: List[List[NodeAddress]]
    segments: List[Tuple[int, int]]
    owners: List[int]      # per segment: index into primaries, or -1 for a gap

    def ranges_of(self, index: int) -> List[Tuple[int, int]]:
        return [seg for seg, owner in zip(self.segments, self.owners) if owner == index]


@st.composite
def layouts(draw: st.DrawFn, max_primaries: int = 50) -> Layout:
    n = draw(st.integers(1, max_primaries))
    primaries = [A(draw(st.sampled_from(HOSTS)), 7000 + i) for i in range(n)]
    replicas = []
    port = 8000
    for _ in range(n):
        group = []
        for _ in range(draw(st.integers(0, 2))):
            group.append(A(draw(st.sampled_from(HOSTS)), port))
            port += 1
        replicas.append(group)
    cuts = sorted(draw(st.sets(st.integers(1, NUM_SLOTS - 1), max_size=min(3 * n, 120))))
    segments = list(zip([0, *cuts], [c - 1 for c in cuts] + [NUM_SLOTS - 1]))
    owners = draw(st.lists(st.integers(-1, n - 1), min_size=len(segments), max_size=len(segments)))
    return Layout(primaries, replicas, segments, owners)


def host_field(host: str, data: st.DataObject, source: NodeAddress, as_bytes: bool) -> Any:
    if host == source.host and data.draw(st.booleans()):
        return data.draw(st.sampled_from([b"", b"?", None]))
    return host.encode() if as_bytes else host


def build_slots_reply(layout: Layout, data: st.DataObject, source: NodeAddress) -> List[Any]:
    as_bytes = data.draw(st.booleans())
    resp3 = data.draw(st.booleans())
    entries = []
    for (start, end), owner in zip(layout.segments, layout.owners):
        if owner < 0:
            continue
        nodes = []
        for addr in (layout.primaries[owner], *layout.replicas[owner]):
            port: Any = addr.port if data.draw(st.booleans()) else str(addr.port).encode()
            meta: Any = {b"hostname": b"x"} if resp3 else [b"hostname", b"x"]
            nodes.append([host_field(addr.host, data, source, as_bytes), port,
                          f"id-{addr.port}".encode(), meta])
        entries.append([start, end, *nodes])
    return data.draw(st.permutations(entries))


def build_shards_reply(layout: Layout, data: st.DataObject, source: NodeAddress,
                       failed: set[NodeAddress]) -> List[Any]:
    resp3 = data.draw(st.booleans())
    shards = []
    for index, primary in enumerate(layout.primaries):
        flat = [slot for seg in data.draw(st.permutations(layout.ranges_of(index))) for slot in seg]
        nodes = []
        for addr in (primary, *layout.replicas[index]):
            health = b"online"
            if data.draw(st.integers(0, 4)) == 0:
                health = data.draw(st.sampled_from([b"failed", b"loading"]))
                failed.add(addr)
            role = b"master" if addr == primary else b"replica"
            fields = [b"id", f"id-{addr.port}".encode(), b"port", addr.port, b"ip", b"203.0.113.1",
                      b"endpoint", host_field(addr.host, data, source, True), b"role", role,
                      b"replication-offset", 0, b"health", health]
            nodes.append(dict(zip(fields[0::2], fields[1::2])) if resp3 else fields)
        nodes = data.draw(st.permutations(nodes))
        shards.append({b"slots": flat, b"nodes": nodes} if resp3
                      else [b"slots", flat, b"nodes", nodes])
    return data.draw(st.permutations(shards))


def check_layout(t: Topology, layout: Layout, remap: Callable[[NodeAddress], NodeAddress],
                 with_slotless: bool) -> None:
    primaries = [remap(p) for p in layout.primaries]
    expected: List[Optional[NodeAddress]] = [None] * NUM_SLOTS
    gaps: List[Tuple[int, int]] = []
    for (start, end), owner in zip(layout.segments, layout.owners):
        if owner >= 0:
            expected[start:end + 1] = [primaries[owner]] * (end - start + 1)
        elif gaps and gaps[-1][1] == start - 1:
            gaps[-1] = (gaps[-1][0], end)
        else:
            gaps.append((start, end))
    assert slot_owners(t) == expected
    uncovered = sum(end - start + 1 for start, end in gaps)
    assert t.covered_slots() == NUM_SLOTS - uncovered
    assert t.is_fully_covered == (not gaps)
    assert t.uncovered_ranges() == gaps
    for index, primary in enumerate(primaries):
        shard = t.shard_of(primary)
        if not layout.ranges_of(index) and not with_slotless:
            assert shard is None
            continue
        assert shard is not None and shard.primary == primary
        assert shard.primary_id == f"id-{layout.primaries[index].port}"
        assert set(shard.replicas) == {remap(r) for r in layout.replicas[index]}
        for replica in shard.replicas:
            assert t.role_of(replica) is Role.REPLICA and t.shard_of(replica) is shard
        assert t.role_of(primary) is Role.PRIMARY
        covered = sum(e - s + 1 for s, e in layout.ranges_of(index))
        assert shard.slot_count == covered


def identity(address: NodeAddress) -> NodeAddress:
    return address


@given(layouts(), st.data())
def test_property_cluster_slots_round_trip(layout: Layout, data: st.DataObject) -> None:
    source = A(data.draw(st.sampled_from(HOSTS)), 7000)
    t = parse_cluster_slots(build_slots_reply(layout, data, source), source)
    check_layout(t, layout, identity, with_slotless=False)


@given(layouts(), st.data())
def test_property_cluster_shards_round_trip(layout: Layout, data: st.DataObject) -> None:
    source = A(data.draw(st.sampled_from(HOSTS)), 7000)
    failed: set[NodeAddress] = set()
    t = parse_cluster_shards(build_shards_reply(layout, data, source, failed), source)
    check_layout(t, layout, identity, with_slotless=True)
    assert {n for s in t.shards for n in s.failed} == failed
    # Same slot map as the CLUSTER SLOTS form of the same layout.
    same = parse_cluster_slots(build_slots_reply(layout, data, source), source)
    assert slot_owners(same) == slot_owners(t)


@st.composite
def remap_rules(draw: st.DrawFn) -> List[Dict[str, Any]]:
    """Rules whose results stay distinct: fresh ports 30000+ or fresh host names."""
    rules: List[Dict[str, Any]] = []
    for k in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["port", "hostport", "host"]))
        from_port = draw(st.integers(7000, 7050) | st.integers(8000, 8100))
        spelled = draw(st.sampled_from(HOST_SPELLINGS[draw(st.sampled_from(HOSTS))]))
        port_value: Any = draw(st.sampled_from([from_port, str(from_port)]))
        if kind == "port":
            rules.append({"from_port": port_value, "to_port": 30000 + k})
        elif kind == "hostport":
            rules.append({"from_host": spelled, "from_port": port_value,
                          "to_host": f"hp-{k}.internal", "to_port": 30000 + k})
        else:
            rules.append({"from_host": spelled, "to_host": f"alias-{k}.internal"})
    return rules


def reference_remap(rules: List[Dict[str, Any]]) -> Callable[[NodeAddress], NodeAddress]:
    """First matching rule wins, host spellings compared through the HOST_SPELLINGS table."""
    canonical = {spelling: host for host, spellings in HOST_SPELLINGS.items() for spelling in spellings}

    def apply(address: NodeAddress) -> NodeAddress:
        for rule in rules:
            if "from_port" in rule and int(rule["from_port"]) != address.port:
                continue
            if "from_host" in rule and canonical[rule["from_host"]] != address.host:
                continue
            return A(rule.get("to_host", address.host), rule.get("to_port", address.port))
        return address
    return apply


@given(layouts(max_primaries=8), remap_rules(), st.data())
def test_property_remap_applies_to_parsed_addresses(
        layout: Layout, rules: List[Dict[str, Any]], data: st.DataObject) -> None:
    source = A(data.draw(st.sampled_from(HOSTS)), 7000)
    remapper = Remapper.from_config(rules)
    assert remapper is not None
    expected = reference_remap(rules)
    t = parse_cluster_slots(build_slots_reply(layout, data, source), source, remap=remapper)
    check_layout(t, layout, expected, with_slotless=False)
    t2 = parse_cluster_shards(build_shards_reply(layout, data, source, set()), source, remap=remapper)
    check_layout(t2, layout, expected, with_slotless=True)


# --- Topology values -------------------------------------------------------------------------------
def three_shards(epoch: int = 0) -> Topology:
    return parse_cluster_slots(SLOTS_3x1, SOURCE, epoch=epoch)


def test_topology_is_immutable_and_hot_path_is_a_tuple() -> None:
    t = three_shards()
    assert isinstance(t.slots, tuple) and len(t.slots) == NUM_SLOTS
    with pytest.raises(AttributeError):
        t.epoch = 5
    with pytest.raises(AttributeError):
        t.slots = ()
    with pytest.raises(AttributeError):
        del t.source
    with pytest.raises(Exception, match=r"cannot assign|frozen"):
        t.shards[0].primary = A("x", 1)  # type: ignore[misc]


def test_equality_ignores_epoch_source_and_ids_but_not_layout() -> None:
    a = three_shards(epoch=1)
    b = parse_cluster_slots(decoded(SLOTS_3x1), A("127.0.0.1", 7001), epoch=9)
    assert a == b and hash(a) == hash(b) and a.fingerprint() == b.fingerprint()
    no_ids = [[s, e, [n[0], n[1]], *[[r[0], r[1]] for r in rs]] for s, e, n, *rs in SLOTS_3x1]
    assert parse_cluster_slots(no_ids, SOURCE) == a
    swapped = [SLOTS_3x1[0], SLOTS_3x1[2], SLOTS_3x1[1]]
    assert parse_cluster_slots(swapped, SOURCE) == a      # entry order is irrelevant
    moved = a.with_slot_owner(0, A("127.0.0.1", 7001), epoch=2)
    assert moved != a and a != "not a topology"


def test_pickle_round_trip() -> None:
    t = three_shards(epoch=3)
    copy = pickle.loads(pickle.dumps(t))
    assert copy == t and copy.epoch == 3 and copy.source == SOURCE
    assert slot_owners(copy) == slot_owners(t)


def test_lookups_accept_tuples_and_strings() -> None:
    t = three_shards()
    assert t.role_of(("127.0.0.1", 7000)) is Role.PRIMARY
    assert t.role_of("127.0.0.1:7003") is Role.REPLICA
    assert t.role_of("127.0.0.1:notaport") is None
    assert t.role_of(A("127.0.0.1", 9999)) is None and t.shard_of(A("x", 1)) is None
    assert t.shard_for_slot(-1) is None and t.shard_for_slot(NUM_SLOTS) is None
    with pytest.raises(SlotNotCoveredError, match="slot 16384 is outside"):
        t.primary_for_slot(NUM_SLOTS)
    with pytest.raises(SlotNotCoveredError, match="slot -1 is outside"):
        t.primary_for_slot(-1)


def test_constructor_validates() -> None:
    p1, p2 = A("h", 1), A("h", 2)
    with pytest.raises(TopologyError, match="claimed by both"):
        Topology([Shard(p1, (), ((0, 10),)), Shard(p2, (), ((10, 20),))])
    with pytest.raises(TopologyError, match="invalid slot range"):
        Topology([Shard(p1, (), ((5, 16384),))])
    with pytest.raises(TopologyError, match="primary of two shards"):
        Topology([Shard(p1, (), ((0, 1),)), Shard(p1, (), ((5, 6),))])
    with pytest.raises(TopologyError, match="replica of h:2"):
        Topology([Shard(p1, (A("h", 3),), ((0, 1),)), Shard(p2, (A("h", 3),), ((5, 6),))])
    t = Topology([Shard(p2, (), ((100, 200),)), Shard(p1, (), ((0, 10),)), Shard(A("a", 9), (), ())])
    assert t.primaries == (p1, p2, A("a", 9))       # canonical order: by lowest slot, slotless last
    messy = Topology([Shard(p1, (), ((5, 10), (0, 4), (8, 20)))])
    assert messy.shards[0].ranges == ((0, 20),) and messy == Topology([Shard(p1, (), ((0, 20),))])
    assert messy.slots[20] is messy.shards[0]


def test_describe() -> None:
    t = Topology([Shard(A("h", 1), (A("h", 2),), tuple((i * 10, i * 10 + 1) for i in range(9)),
                        failed=frozenset({A("h", 2)}))], epoch=7, source=A("h", 1))
    text = t.describe()
    assert text.splitlines()[0] == ("topology epoch 7 from h:1: 1 primary, 1 replica, "
                                    "18/16384 slots covered")
    assert "0-1,10-11,20-21,30-31,40-41,50-51,... (+3 more) (18 slots)" in text
    assert "replicas: h:2 (failed)" in text
    assert "uncovered: 2-9,12-19" in text
    assert repr(t).startswith("<Topology epoch=7")


def test_role_and_node_record() -> None:
    assert Role.PRIMARY.value == "master" and Role.REPLICA.value == "slave"
    assert isinstance(Role.PRIMARY, str)
    assert Role("primary") is Role.PRIMARY and Role("REPLICA") is Role.REPLICA
    assert Role(b"replica") is Role.REPLICA
    with pytest.raises(ValueError):
        Role("arbiter")
    assert node_record(A("10.0.0.1", 7000), Role.PRIMARY) == {
        "host": "10.0.0.1", "port": 7000, "name": "10.0.0.1:7000", "server_type": "master"}
    assert node_record(A("::1", 7001), "replica") == {
        "host": "::1", "port": 7001, "name": "::1:7001", "server_type": "slave"}


# --- with_slot_owner (MOVED) ---------------------------------------------------------------------------
def test_moved_to_known_primary() -> None:
    t = three_shards(epoch=1)
    before = (t.fingerprint(), t.slots, t.shards, t.epoch)
    new = t.with_slot_owner(100, A("127.0.0.1", 7001), epoch=2)
    assert (t.fingerprint(), t.slots, t.shards, t.epoch) == before   # the original is untouched
    assert t.primary_for_slot(100) == A("127.0.0.1", 7000)
    assert new.epoch == 2 and new.source == t.source
    assert new.primary_for_slot(100) == A("127.0.0.1", 7001)
    assert new.shard_of(A("127.0.0.1", 7000)).ranges == ((0, 99), (101, 5460))  # type: ignore[union-attr]
    target = new.shard_of(A("127.0.0.1", 7001))
    assert target is not None and target.ranges == ((100, 100), (5461, 10922))
    assert target.replicas == (A("127.0.0.1", 7004),) and target.primary_id == ID[1]
    # Every slot points at the up-to-date shard objects.
    assert new.shard_for_slot(5000) is new.shard_of(A("127.0.0.1", 7000))
    assert new.shard_for_slot(6000) is target
    assert new.covered_slots() == NUM_SLOTS


def test_moved_to_replica_is_a_promotion_of_that_slot_only() -> None:
    t = three_shards()
    new = t.with_slot_owner(7, A("127.0.0.1", 7003), epoch=5)
    assert new.primary_for_slot(7) == A("127.0.0.1", 7003)
    assert new.role_of(A("127.0.0.1", 7003)) is Role.PRIMARY
    promoted = new.shard_of(A("127.0.0.1", 7003))
    assert promoted is not None
    assert promoted.ranges == ((7, 7),) and promoted.replicas == () and promoted.primary_id == ID[3]
    old = new.shard_of(A("127.0.0.1", 7000))
    assert old is not None and old.ranges == ((0, 6), (8, 5460)) and old.replicas == ()
    assert old.replica_ids == ()
    # A second MOVED for the same shard now finds a known primary and joins its shard.
    again = new.with_slot_owner(8, A("127.0.0.1", 7003), epoch=6)
    assert again.shard_of(A("127.0.0.1", 7003)).ranges == ((7, 8),)  # type: ignore[union-attr]
    assert t.role_of(A("127.0.0.1", 7003)) is Role.REPLICA           # original untouched


def test_moved_to_failed_replica_of_another_shard_clears_its_mark() -> None:
    t = parse_cluster_shards(SHARDS_3x1, SOURCE)
    new = t.with_slot_owner(0, A("127.0.0.1", 7004), epoch=1)    # 7004 was a failed replica of 7001
    assert new.primary_for_slot(0) == A("127.0.0.1", 7004)
    old = new.shard_of(A("127.0.0.1", 7001))
    assert old is not None and old.replicas == () and old.failed == frozenset()
    assert new.shard_of(A("127.0.0.1", 7000)).ranges == ((1, 5460),)  # type: ignore[union-attr]


def test_moved_to_unknown_node_and_uncovered_slot() -> None:
    t = Topology([Shard(A("h", 1), (), ((0, 0),))], epoch=0)
    new = t.with_slot_owner(0, ("n", 2), epoch=1)
    assert new.primary_for_slot(0) == A("n", 2)
    assert new.shard_of(A("h", 1)).ranges == ()  # type: ignore[union-attr]  # known, slotless
    assert new.primaries == (A("n", 2), A("h", 1))
    covered = new.with_slot_owner(9000, A("h", 1), epoch=2)
    assert covered.primary_for_slot(9000) == A("h", 1) and covered.covered_slots() == 2
    same = covered.with_slot_owner(9000, A("h", 1), epoch=3)
    assert same == covered and same.epoch == 3
    with pytest.raises(TopologyError, match="outside"):
        t.with_slot_owner(NUM_SLOTS, A("h", 1), epoch=1)


@given(layouts(max_primaries=8), st.data())
def test_property_moves_match_a_model(layout: Layout, data: st.DataObject) -> None:
    t = parse_cluster_slots(build_slots_reply(layout, data, SOURCE), SOURCE)
    owners = slot_owners(t)
    candidates = [*t.nodes, A("new", 1), A("new", 2)]
    for epoch in range(1, data.draw(st.integers(1, 12))):
        slot = data.draw(st.integers(0, NUM_SLOTS - 1))
        target = data.draw(st.sampled_from(candidates))
        previous = (t.fingerprint(), t.slots)
        new = t.with_slot_owner(slot, target, epoch=epoch)
        assert (t.fingerprint(), t.slots) == previous
        owners[slot] = target
        assert slot_owners(new) == owners and new.epoch == epoch
        assert new.role_of(target) is Role.PRIMARY
        assert new == Topology(new.shards)            # consistent: rebuilding validates it
        for shard in new.shards:
            for start, end in shard.ranges:
                assert all(s is shard for s in new.slots[start:end + 1])
        t = new


# --- merge_views -------------------------------------------------------------------------------------
def test_merge_agreement_has_no_lines() -> None:
    views = [three_shards(), parse_cluster_slots(decoded(SLOTS_3x1), A("127.0.0.1", 7001))]
    merged, lines = merge_views(views, epoch=11)
    assert lines == [] and merged == views[0] and merged.epoch == 11 and merged.source is None
    assert merged.shards[0].primary_id == ID[0] and merged.shards[0].replica_ids == (ID[3],)


def failover_view() -> Topology:
    """7003 took over 0-5460 from 7000, which now replicates from it."""
    reply = [list(e) for e in SLOTS_3x1]
    reply[0] = [0, 5460, node7(b"127.0.0.1", 7003, ID[3]), node7(b"127.0.0.1", 7000, ID[0])]
    return parse_cluster_slots(reply, A("127.0.0.1", 7003))


def test_merge_majority_wins_and_roles_follow() -> None:
    merged, lines = merge_views([three_shards(), failover_view(), failover_view()], epoch=1)
    assert merged == failover_view()
    assert merged.role_of(A("127.0.0.1", 7000)) is Role.REPLICA
    assert lines == ["slot 0-5460: 127.0.0.1:7003 (2 views) vs 127.0.0.1:7000 (1 view)"]


def test_merge_tie_goes_to_smallest_address_in_any_order() -> None:
    for views in ([three_shards(), failover_view()], [failover_view(), three_shards()]):
        merged, lines = merge_views(views, epoch=1)
        assert merged == three_shards()                 # 127.0.0.1:7000 < 127.0.0.1:7003
        assert lines == ["slot 0-5460: 127.0.0.1:7000 (1 view) vs 127.0.0.1:7003 (1 view)"]


def test_merge_uncovered_abstains_and_is_reported() -> None:
    partial = Topology([Shard(A("127.0.0.1", 7000), (), ((0, 5460),))])
    merged, lines = merge_views([partial, three_shards(), partial], epoch=1)
    assert merged == three_shards()
    assert lines == ["slot 5461-10922: 127.0.0.1:7001 (1 view) vs uncovered (2 views)",
                     "slot 10923-16383: 127.0.0.1:7002 (1 view) vs uncovered (2 views)"]
    nothing, lines = merge_views([Topology(), Topology()], epoch=1)
    assert nothing.shards == () and lines == []
    with pytest.raises(TopologyError):
        merge_views([], epoch=1)


def test_merge_failed_marks_need_half_the_views() -> None:
    shards = parse_cluster_shards(SHARDS_3x1, SOURCE)
    healthy = three_shards()
    merged, _ = merge_views([shards, healthy], epoch=1)
    assert {n for s in merged.shards for n in s.failed} == {A("127.0.0.1", 7004), A("127.0.0.1", 7005)}
    merged, _ = merge_views([shards, healthy, healthy], epoch=1)
    assert all(not s.failed for s in merged.shards)


def test_merge_keeps_slotless_primaries_and_their_replicas() -> None:
    a = Topology([Shard(A("h", 1), (), ((0, 16383),)), Shard(A("h", 5), (A("h", 6),), ())])
    b = Topology([Shard(A("h", 1), (), ((0, 16383),))])
    merged, lines = merge_views([a, b], epoch=1)
    assert merged == a and lines == []


def _line_ranges(lines: Sequence[str]) -> List[int]:
    slots: List[int] = []
    for line in lines:
        match = re.match(r"slot ([0-9,\-]+): ", line)
        assert match, line
        for part in match.group(1).split(","):
            lo, _, hi = part.partition("-")
            slots.extend(range(int(lo), int(hi or lo) + 1))
    return sorted(slots)


@given(layouts(max_primaries=6), st.data())
def test_property_merge_is_order_independent_and_reports_conflicts(
        layout: Layout, data: st.DataObject) -> None:
    base = parse_cluster_slots(build_slots_reply(layout, data, SOURCE), SOURCE)
    candidates = [*base.nodes, A("new", 1)]
    views = [base]
    for _ in range(data.draw(st.integers(1, 3))):
        view = base
        for _ in range(data.draw(st.integers(0, 4))):
            view = view.with_slot_owner(data.draw(st.integers(0, NUM_SLOTS - 1)),
                                        data.draw(st.sampled_from(candidates)), epoch=0)
        views.append(view)
    merged, lines = merge_views(views, epoch=3)
    shuffled = data.draw(st.permutations(views))
    merged2, lines2 = merge_views(shuffled, epoch=3)
    assert merged == merged2 and lines == lines2
    assert [(s.primary_id, s.replica_ids) for s in merged.shards] == \
        [(s.primary_id, s.replica_ids) for s in merged2.shards]
    # Reference: per slot, majority of covering views, ties to the smallest address.
    conflicted = []
    for slot in range(NUM_SLOTS):
        votes: Dict[NodeAddress, int] = {}
        for view in views:
            shard = view.slots[slot]
            if shard is not None:
                votes[shard.primary] = votes.get(shard.primary, 0) + 1
        if not votes:
            assert merged.slots[slot] is None
            continue
        best = min(votes, key=lambda a: (-votes[a], a))
        assert merged.primary_for_slot(slot) == best
        if len(votes) > 1 or sum(votes.values()) < len(views):
            conflicted.append(slot)
    assert _line_ranges(lines) == conflicted
    assert len(lines) == len(set(lines))


# --- Remapper ------------------------------------------------------------------------------------------
MSG_LIST = "host_port_remap must be a list"
MSG_DICT = "items inside host_port_remap list must be of dict type"
MSG_KEYS = "Invalid keys provided in host_port_remap rule"
MSG_HOSTS = "Both from_host and to_host must be present in host_port_remap rule if either is defined"
MSG_PORTS = "Both from_port and to_port must be present in host_port_remap rule if either is defined"
MSG_INT = "Both from_port and to_port in host_port_remap rule must be integers"
MSG_OCTETS = "Both from_host and to_host in host_port_remap rule must must have all octets specified"
MSG_HOST_BAD = ("Both from_host and to_host in host_port_remap rule must be a valid ip address "
                "or host name")
MSG_RANGE = "Both from_port and to_port in host_port_remap rule must be within 1..65535"
MSG_MAPPING = "host_port_remap mapping must map (host, port) pairs to (host, port) pairs"


@pytest.mark.parametrize(("config", "message"), [
    ("10.0.0.1", MSG_LIST),
    (42, MSG_LIST),
    ({"10.0.0.1"}, MSG_LIST),
    ([{"from_host": "1.2.3.4", "to_host": "1.2.3.5"}, "rule"], MSG_DICT),
    ([("from_host", "1.2.3.4")], MSG_DICT),
    ([{"from_host": "1.2.3.4", "to_host": "1.2.3.5", "from": 1}], MSG_KEYS),
    ([{"to_hots": "1.2.3.4", "from_host": "x"}], MSG_KEYS),           # keys checked first
    ([{"from_host": "1.2.3.4"}], MSG_HOSTS),
    ([{"to_host": "1.2.3.4", "from_port": 1, "to_port": 2}], MSG_HOSTS),
    ([{"from_port": 7000}], MSG_PORTS),
    ([{"to_port": 7000, "from_host": "a", "to_host": "b"}], MSG_PORTS),
    ([{"from_port": "70o0", "to_port": 7000}], MSG_INT),
    ([{"from_port": 7000, "to_port": None}], MSG_INT),
    ([{"from_port": 7000.0, "to_port": 7001}], MSG_INT),
    ([{"from_port": True, "to_port": 7001}], MSG_INT),
    ([{"from_port": 0, "to_port": 7001}], MSG_RANGE),
    ([{"from_port": "7000", "to_port": 65536}], MSG_RANGE),
    ([{"from_host": "10.0.0", "to_host": "10.0.0.1"}], MSG_OCTETS),
    ([{"from_host": "10.0.0.1", "to_host": "10"}], MSG_OCTETS),
    ([{"from_host": "10.0.0.256", "to_host": "10.0.0.1"}], MSG_HOST_BAD),
    ([{"from_host": "10.0.0.1.1", "to_host": "10.0.0.1"}], MSG_HOST_BAD),
    ([{"from_host": "not a host!", "to_host": "10.0.0.1"}], MSG_HOST_BAD),
    ([{"from_host": "", "to_host": "10.0.0.1"}], MSG_HOST_BAD),
    ([{"from_host": 10, "to_host": "10.0.0.1"}], MSG_HOST_BAD),
    ([{"from_host": "::1", "to_host": "fe80::zz"}], MSG_HOST_BAD),
    ({("a", 1): "b:2"}, MSG_MAPPING),
    ({"a": ("b", 2)}, MSG_MAPPING),
    ({("a", 1): ("b", "x")}, MSG_INT),
    # The first bad rule is reported even after good ones.
    ([{"from_port": 1, "to_port": 2}, {"from_port": 1}], MSG_PORTS),
])
def test_remap_config_errors(config: Any, message: str) -> None:
    with pytest.raises(RedisClusterConfigError) as info:
        Remapper.from_config(config)
    assert str(info.value) == message


def test_remap_none_empty_and_passthrough() -> None:
    assert Remapper.from_config(None) is None
    empty = Remapper.from_config([])
    assert empty is not None
    address = A("10.0.0.1", 7000)
    assert empty(address) is address
    assert Remapper.from_config(empty) is empty
    # A rule naming neither from_host nor from_port matches nothing (as in 2.1.3).
    assert Remapper.from_config([{}])(address) is address  # type: ignore[misc]


@pytest.mark.parametrize(("rule_host", "node_host"), [
    ("10.0.0.1", "10.0.0.1"),
    ("010.0.0.001", "10.0.0.1"),            # 2.1.3 compared octets with int()
    ("::1", "0:0:0:0:0:0:0:1"),
    ("[::1]", "::1"),
    ("2001:DB8::1", "2001:db8:0::1"),
    ("Redis-A.Internal", "redis-a.internal"),
    ("redis-a.internal.", "REDIS-A.internal"),
    ("redis_node_1", "redis_node_1"),       # docker-compose style names
])
def test_remap_host_matching(rule_host: str, node_host: str) -> None:
    remap = Remapper.from_config([{"from_host": rule_host, "to_host": "public.example"}])
    assert remap is not None
    assert remap(A(node_host, 7000)) == A("public.example", 7000)


@pytest.mark.parametrize(("rule_host", "node_host"), [
    ("10.0.0.1", "10.0.0.10"),
    ("10.0.0.1", "10.0.0.1.example"),
    ("::1", "::2"),
    ("redis-a", "redis-a.internal"),
])
def test_remap_host_non_matching(rule_host: str, node_host: str) -> None:
    remap = Remapper.from_config([{"from_host": rule_host, "to_host": "public.example"}])
    assert remap is not None
    assert remap(A(node_host, 7000)) == A(node_host, 7000)


def test_remap_ports_first_match_and_partial_rules() -> None:
    remap = Remapper.from_config([
        {"from_host": "10.0.0.1", "from_port": "7000", "to_host": "a.example", "to_port": "17000"},
        {"from_port": 7000, "to_port": 27000},
        {"from_host": "10.0.0.1", "to_host": "b.example"},
        {"from_host": "10.0.0.1", "to_host": "never.example"},
    ])
    assert remap is not None
    assert remap(A("10.0.0.1", 7000)) == A("a.example", 17000)   # first match, str ports fine
    assert remap(A("10.0.0.2", 7000)) == A("10.0.0.2", 27000)    # port-only rule keeps the host
    assert remap(A("10.0.0.1", 7001)) == A("b.example", 7001)    # host-only rule keeps the port
    assert remap(A("10.0.0.3", 7001)) == A("10.0.0.3", 7001)
    assert "4 rules" in repr(remap)


def test_remap_tuple_of_rules_and_mapping_form() -> None:
    rules = ({"from_port": 1, "to_port": 2},)
    assert Remapper.from_config(rules)(A("h", 1)) == A("h", 2)  # type: ignore[misc]
    remap = Remapper.from_config({("internal", 7000): ("external", 7000),
                                  ("10.0.0.1", "7001"): ("::1", 17001),
                                  ("INTERNAL", 7000): ("shadowed", 1)})
    assert remap is not None
    assert remap(A("internal", 7000)) == A("external", 7000)
    assert remap(A("10.0.0.1", 7001)) == A("::1", 17001)
    assert remap(A("internal", 7001)) == A("internal", 7001)


def test_remap_callables() -> None:
    seen: List[Tuple[str, int]] = []

    def two_args(host: str, port: int) -> Tuple[str, int]:
        seen.append((host, port))
        return ("ext-" + host, port + 1)

    remap = Remapper.from_config(two_args)
    assert remap is not None
    assert remap(A("10.0.0.1", 7000)) == A("ext-10.0.0.1", 7001) and seen == [("10.0.0.1", 7000)]
    assert "two_args" in repr(remap)
    # redis-py's address_remap style: one (host, port) argument.
    one_arg = Remapper.from_config(lambda addr: (addr[0].upper(), str(addr[1])))
    assert one_arg is not None and one_arg(A("h", 7)) == A("H", 7)
    builtin = Remapper.from_config(max)     # no signature: called as f(host, port)
    with pytest.raises(TypeError):
        builtin(A("h", 7))  # type: ignore[misc]
    for bad in (None, ("h",), ("", 1), ("h", 0), ("h", "x"), 5):
        broken = Remapper.from_config(lambda host, port, bad=bad: bad)
        with pytest.raises(RedisClusterConfigError, match="expected \\(host, port\\)"):
            broken(A("h", 1))  # type: ignore[misc]


def test_remap_collision_is_a_protocol_error() -> None:
    remap = Remapper.from_config([{"from_port": 7001, "to_port": 7000}])
    with pytest.raises(ProtocolError, match=re.escape("both map to 127.0.0.1:7000")):
        parse_cluster_slots(SLOTS_3x1, SOURCE, remap=remap)


def test_parsing_is_fast_enough_for_refreshes() -> None:
    # 100 primaries x 2 replicas, one range each: parsing and a MOVED stay well under budget.
    rng = random.Random(1)
    size = NUM_SLOTS // 100
    reply = [[i * size, (i + 1) * size - 1 if i < 99 else NUM_SLOTS - 1,
              [b"10.0.0.1", 7000 + i, b"x" * 40], [b"10.0.0.2", 8000 + i], [b"10.0.0.3", 9000 + i]]
             for i in range(100)]
    rng.shuffle(reply)
    t = parse_cluster_slots(reply, A("10.0.0.1", 7000))
    assert len(t.nodes) == 300 and t.is_fully_covered
    moved = t.with_slot_owner(5, A("10.0.0.2", 8050), epoch=1)
    assert moved.primary_for_slot(5) == A("10.0.0.2", 8050)


def test_bad_slot_numbers_are_typed_on_the_topology_as_in_the_pools() -> None:
    """The topology judges slot numbers with the same rule as every pool route
    (``_slots.slot_number``): no other slot's owner, no bare IndexError/TypeError."""
    t = three_shards()
    for bad in (-1, NUM_SLOTS, 10**6, "x", None, 2.0):
        assert t.shard_for_slot(bad) is None  # type: ignore[arg-type]
        with pytest.raises(InvalidSlotError, match=re.escape(repr(bad))):
            t.primary_for_slot(bad)  # type: ignore[arg-type]
    assert issubclass(InvalidSlotError, SlotNotCoveredError)
    assert issubclass(InvalidSlotError, DataError)


def test_discovery_after_fork_forgets_a_lock_held_at_the_instant_of_the_fork() -> None:
    """A probe thread of the parent may hold the probe list's lock when the process forks;
    in the child no thread will ever release it. after_fork() (called by the pool when it
    starts over in a child) gives the child a new lock and no probe threads."""
    import threading

    from clustercore._topology.discovery import Discovery

    def no_connect(address: Any, timeout: float) -> Any:
        raise AssertionError("no probe is started by this test")

    discovery = Discovery(no_connect)
    held = discovery._threads_lock  # what a parent probe thread holds when fork() happens
    held.acquire()
    try:
        discovery.after_fork()
        done = threading.Event()
        worker = threading.Thread(target=lambda: (discovery.join(0.1), done.set()))
        worker.start()
        assert done.wait(5), "join() blocked on the parent's lock after after_fork()"
        worker.join(5)
    finally:
        held.release()
