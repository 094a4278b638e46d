"""Parsers of CLUSTER SLOTS and CLUSTER SHARDS replies into a :class:`~.snapshot.Topology`.

Parsers accept what our decoder produces (``bytes`` values by default, ``str`` when decoding is
on, RESP2 flat lists or RESP3 dicts) and raise :class:`~clustercore.errors.ProtocolError` on any
reply they cannot make sense of, never another exception type (a remap callable's own errors
excepted).

Address rules (both parsers): an empty, ``None`` (Redis 7 ``unknown-endpoint``) or ``"?"`` host
means "the host of the node that answered" (``source.host``). That substitution happens first;
the host/port remap (:class:`~.remap.Remapper`) is applied to the result, as redis-py-cluster
2.1.3 did.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from .._address import NodeAddress
from .._slots import NUM_SLOTS
from ..errors import ProtocolError, ResponseError, TopologyError
from .remap import RemapFunc
from .snapshot import Role, Shard, SlotRange, Topology, normalize_ranges

__all__ = ["parse_cluster_shards", "parse_cluster_slots"]


# --- reply decoding helpers --------------------------------------------------------------------
def _text(value: Any, what: str) -> str:
    """A bulk string (bytes or str) as str, or ProtocolError."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(f"{what} is not valid UTF-8: {bytes(value)[:40]!r}") from None
    raise ProtocolError(f"{what} should be a string, got {_shape(value)}")


def _integer(value: Any, what: str) -> int:
    """An integer reply (or a decimal bulk string) as int, or ProtocolError."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, (bytes, bytearray, str)):
        text = value if isinstance(value, str) else bytes(value).decode("latin-1")
        if text.isascii() and text.isdigit() and len(text) <= 20:
            return int(text)
    raise ProtocolError(f"{what} should be an integer, got {_shape(value)}")


def _shape(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _array(value: Any, what: str) -> Sequence[Any]:
    if isinstance(value, (list, tuple)):
        return value
    raise ProtocolError(f"{what} should be an array, got {_shape(value)}")


def _slot(value: Any, what: str) -> int:
    slot = _integer(value, what)
    if not 0 <= slot < NUM_SLOTS:
        raise ProtocolError(f"{what} {slot} is outside 0..{NUM_SLOTS - 1}")
    return slot


def _port(value: Any, what: str) -> int:
    port = _integer(value, what)
    if not 0 < port < 65536:
        raise ProtocolError(f"{what} {port} is outside 1..65535")
    return port


def _as_map(value: Any, what: str) -> Dict[str, Any]:
    """A RESP3 map (dict) or RESP2 flat ``[key, value, ...]`` list, with str keys."""
    if isinstance(value, dict):
        items: Iterable[Tuple[Any, Any]] = value.items()
    elif isinstance(value, (list, tuple)):
        if len(value) % 2:
            raise ProtocolError(f"{what} should be a key/value list, got an odd length {len(value)}")
        items = zip(value[0::2], value[1::2])
    else:
        raise ProtocolError(f"{what} should be a map, got {_shape(value)}")
    return {_text(k, f"key in {what}").lower(): v for k, v in items}


class _Builder:
    """Collects (primary, replicas, ranges) from one reply, merging entries per primary."""

    def __init__(self, source: NodeAddress, remap: Optional[RemapFunc]) -> None:
        self.source = source
        self.remap = remap
        self.ranges: Dict[NodeAddress, List[SlotRange]] = {}
        self.ids: Dict[NodeAddress, Optional[str]] = {}
        self.replicas: Dict[NodeAddress, Dict[NodeAddress, Optional[str]]] = {}
        self.failed: Dict[NodeAddress, Set[NodeAddress]] = {}
        self.replica_of: Dict[NodeAddress, NodeAddress] = {}
        self.origin: Dict[NodeAddress, Tuple[str, int]] = {}
        self.node_ids: Dict[NodeAddress, str] = {}
        self.hostnames: Dict[NodeAddress, str] = {}

    def address(self, host: Any, port: Any, what: str, node_id: Optional[str]) -> NodeAddress:
        """Decode one host/port pair, fill in an unknown host, apply the remap; reject two
        different nodes (by address before remapping, or by node id) landing on one address."""
        text = "" if host is None else _text(host, f"{what} host").strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        if text in ("", "?"):
            text = self.source.host
        raw = NodeAddress(text, _port(port, f"{what} port"))
        address = self.remap(raw) if self.remap is not None else raw
        first = self.origin.setdefault(address, raw)
        if first != raw:
            raise ProtocolError(
                f"two nodes ({NodeAddress(*first)} and {raw}) both map to {address}; "
                "check host_port_remap")
        if node_id:
            first_id = self.node_ids.setdefault(address, node_id)
            if first_id != node_id:
                raise ProtocolError(
                    f"two nodes ({first_id} and {node_id}) both map to {address}; an unknown or "
                    "'?' host is replaced by the answering node's host, check host_port_remap")
        return address

    def add(self, primary: NodeAddress, primary_id: Optional[str],
            replicas: Sequence[Tuple[NodeAddress, Optional[str]]], ranges: Sequence[SlotRange],
            failed: Iterable[NodeAddress] = ()) -> None:
        if primary in self.replica_of:
            raise ProtocolError(f"node {primary} is listed as a primary and as a replica of "
                                f"{self.replica_of[primary]}")
        self.ranges.setdefault(primary, []).extend(ranges)
        if self.ids.get(primary) is None:
            self.ids[primary] = primary_id
        known = self.replicas.setdefault(primary, {})
        for replica, replica_id in replicas:
            if replica == primary or replica in self.ranges:
                raise ProtocolError(f"node {replica} is listed as a primary and as a replica of "
                                    f"{primary}")
            owner = self.replica_of.setdefault(replica, primary)
            if owner != primary:
                raise ProtocolError(f"node {replica} is listed as a replica of both {owner} "
                                    f"and {primary}")
            if known.get(replica) is None:
                known[replica] = replica_id
        self.failed.setdefault(primary, set()).update(failed)

    def build(self, epoch: int) -> Topology:
        shards = []
        for primary, ranges in self.ranges.items():
            replicas = self.replicas[primary]
            named = (primary, *replicas)
            shards.append(Shard(
                primary=primary, replicas=tuple(replicas), ranges=normalize_ranges(ranges),
                primary_id=self.ids[primary], replica_ids=tuple(replicas.values()),
                failed=frozenset(self.failed[primary]),
                hostnames=tuple((n, self.hostnames[n]) for n in named if n in self.hostnames)))
        try:
            return Topology(shards, epoch=epoch, source=self.source)
        except TopologyError as exc:
            raise ProtocolError(str(exc)) from None


def _optional_id(value: Any, what: str) -> Optional[str]:
    return None if value is None else _text(value, what)


# --- parsers -----------------------------------------------------------------------------------
def parse_cluster_slots(reply: Any, source: NodeAddress, *, remap: Optional[RemapFunc] = None,
                        epoch: int = 0) -> Topology:
    """Build a Topology from a CLUSTER SLOTS reply that ``source`` sent.

    Entries are ``[start, end, [host, port, id?, metadata?...], replica...]``; entries of one
    primary merge into one Shard. Error replies passed in are raised as they are.
    """
    if isinstance(reply, ResponseError):
        raise reply
    try:
        builder = _Builder(source, remap)
        for index, entry in enumerate(_array(reply, "reply")):
            where = f"entry {index}"
            items = _array(entry, where)
            if len(items) < 3:
                raise ProtocolError(f"{where} has {len(items)} elements, expected at least 3")
            start = _slot(items[0], f"{where} start slot")
            end = _slot(items[1], f"{where} end slot")
            if start > end:
                raise ProtocolError(f"{where} has start slot {start} > end slot {end}")
            nodes = []
            for position, node in enumerate(items[2:]):
                what = f"{where} node {position}"
                fields = _array(node, what)
                if len(fields) < 2:
                    raise ProtocolError(f"{what} has {len(fields)} elements, expected host and port")
                node_id = _optional_id(fields[2], f"{what} id") if len(fields) > 2 else None
                nodes.append((builder.address(fields[0], fields[1], what, node_id), node_id))
            builder.add(nodes[0][0], nodes[0][1], nodes[1:], [(start, end)])
        return builder.build(epoch)
    except ProtocolError as exc:
        raise ProtocolError(f"malformed CLUSTER SLOTS reply: {exc.args[0]}", node=source) from None


def parse_cluster_shards(reply: Any, source: NodeAddress, *, remap: Optional[RemapFunc] = None,
                         epoch: int = 0, prefer_tls: bool = False) -> Topology:
    """Build a Topology from a CLUSTER SHARDS reply (RESP2 flat lists or RESP3 maps).

    Host: ``endpoint`` if present, else ``ip`` (``""``/``"?"`` -> the source's host); port:
    ``port``, or ``tls-port`` first with ``prefer_tls``; a non-empty ``hostname``
    (``cluster-announce-hostname``) is kept in ``Shard.hostnames`` for TLS name checks.
    Nodes whose health is not "online" go into ``Shard.failed`` but stay listed. A shard
    without slots still makes its nodes known; one without a primary is skipped when it has
    no slots, rejected when it has some.
    """
    if isinstance(reply, ResponseError):
        raise reply
    try:
        builder = _Builder(source, remap)
        for index, entry in enumerate(_array(reply, "reply")):
            where = f"shard {index}"
            fields = _as_map(entry, where)
            flat = _array(fields.get("slots", ()), f"{where} slots")
            if len(flat) % 2:
                raise ProtocolError(f"{where} slots list has an odd length {len(flat)}")
            ranges: List[SlotRange] = []
            for i in range(0, len(flat), 2):
                start = _slot(flat[i], f"{where} start slot")
                end = _slot(flat[i + 1], f"{where} end slot")
                if start > end:
                    raise ProtocolError(f"{where} has start slot {start} > end slot {end}")
                ranges.append((start, end))
            if "nodes" not in fields:
                raise ProtocolError(f"{where} has no 'nodes' field")
            primary: Optional[Tuple[NodeAddress, Optional[str]]] = None
            replicas: List[Tuple[NodeAddress, Optional[str]]] = []
            failed: List[NodeAddress] = []
            for position, node in enumerate(_array(fields["nodes"], f"{where} nodes")):
                what = f"{where} node {position}"
                info = _as_map(node, what)
                node_id = _optional_id(info.get("id"), f"{what} id")
                address = builder.address(_shards_host(info, what),
                                          _shards_port(info, what, prefer_tls), what, node_id)
                hostname = info.get("hostname")
                if hostname is not None:
                    name = _text(hostname, f"{what} hostname").strip()
                    if name and name != "?":
                        builder.hostnames[address] = name
                role = _shards_role(info, what)
                health = info.get("health")
                if health is not None and _text(health, f"{what} health").lower() != "online":
                    failed.append(address)
                if role is Role.REPLICA:
                    replicas.append((address, node_id))
                elif primary is not None:
                    raise ProtocolError(f"{where} has two primaries, {primary[0]} and {address}")
                else:
                    primary = (address, node_id)
            if primary is None:
                if ranges:
                    raise ProtocolError(f"{where} serves slots but lists no primary")
                continue
            builder.add(primary[0], primary[1], replicas, ranges, failed)
        return builder.build(epoch)
    except ProtocolError as exc:
        raise ProtocolError(f"malformed CLUSTER SHARDS reply: {exc.args[0]}", node=source) from None


def _shards_role(info: Mapping[str, Any], what: str) -> Role:
    try:
        return Role(_text(info.get("role"), f"{what} role"))
    except ValueError:
        raise ProtocolError(f"{what} has an unknown role {_shape(info.get('role'))}") from None


def _shards_host(info: Mapping[str, Any], what: str) -> Any:
    for key in ("endpoint", "ip"):
        if key in info:
            return info[key]
    raise ProtocolError(f"{what} has neither 'endpoint' nor 'ip'")


def _shards_port(info: Mapping[str, Any], what: str, prefer_tls: bool) -> Any:
    keys = ("tls-port", "port") if prefer_tls else ("port", "tls-port")
    for key in keys:
        value = info.get(key)
        if value is not None and _integer(value, f"{what} {key}") != 0:
            return value
    raise ProtocolError(f"{what} has no usable 'port' or 'tls-port'")

