"""Cluster topology: frozen snapshots of which node serves which hash slot, and their parsers.

Everything here is a pure function over immutable values: no I/O, no threads, no locks. A
:class:`Topology` is never mutated; the client publishes a new one by swapping one reference, so
readers on other threads always see a complete, consistent layout.

Parsers accept what our decoder produces (``bytes`` values by default, ``str`` when decoding is
on, RESP2 flat lists or RESP3 dicts) and raise :class:`~clustercore.errors.ProtocolError` on any
reply they cannot make sense of, never another exception type (a remap callable's own errors
excepted).

Address rules (both parsers): an empty, ``None`` (Redis 7 ``unknown-endpoint``) or ``"?"`` host
means "the host of the node that answered" (``source.host``). That substitution happens first;
the host/port remap (:class:`Remapper`) is applied to the result, as redis-py-cluster 2.1.3 did.
"""

from __future__ import annotations

import inspect
import ipaddress
import re
from dataclasses import dataclass, replace
from enum import Enum
from typing import (
    Any,
    Callable,
    Dict,
    FrozenSet,
    Iterable,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

from .._address import NodeAddress
from .._slots import NUM_SLOTS
from ..errors import (
    ProtocolError,
    RedisClusterConfigError,
    ResponseError,
    SlotNotCoveredError,
    TopologyError,
)

__all__ = [
    "Remapper",
    "Role",
    "Shard",
    "Topology",
    "merge_views",
    "node_record",
    "parse_cluster_shards",
    "parse_cluster_slots",
]

#: An inclusive slot range ``(start, end)``.
SlotRange = Tuple[int, int]
#: The layout part of a topology: what :meth:`Topology.fingerprint` returns.
Fingerprint = Tuple[
    Tuple[NodeAddress, Tuple[NodeAddress, ...], Tuple[SlotRange, ...], Tuple[NodeAddress, ...]], ...
]
#: Anything that turns a node address as the server names it into the one the client dials.
RemapFunc = Callable[[NodeAddress], NodeAddress]


class Role(str, Enum):
    """A node's role; the values are redis-py-cluster's ``server_type`` strings."""

    PRIMARY = "master"
    REPLICA = "slave"

    @classmethod
    def _missing_(cls, value: object) -> Any:
        """Also accept ``"primary"``/``"replica"`` (any case, str or bytes), as servers spell them."""
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value).decode("ascii", "replace")
        if isinstance(value, str):
            word = value.lower()
            if word in ("master", "primary"):
                return cls.PRIMARY
            if word in ("slave", "replica"):
                return cls.REPLICA
        return None


@dataclass(frozen=True)
class Shard:
    """One primary, its replicas and the slot ranges it serves (a frozen, hashable value)."""

    primary: NodeAddress
    replicas: Tuple[NodeAddress, ...]
    #: Inclusive slot ranges, sorted and merged; empty for a primary that serves no slots.
    ranges: Tuple[SlotRange, ...]
    primary_id: Optional[str] = None
    #: Node ids of ``replicas``, position for position (``()`` when unknown).
    replica_ids: Tuple[Optional[str], ...] = ()
    #: Nodes the server reported as not online (SHARDS ``health`` "failed" or "loading").
    failed: FrozenSet[NodeAddress] = frozenset()

    @property
    def nodes(self) -> Tuple[NodeAddress, ...]:
        """The primary, then the replicas."""
        return (self.primary, *self.replicas)

    @property
    def slot_count(self) -> int:
        """How many slots this shard serves."""
        return sum(end - start + 1 for start, end in self.ranges)

    @property
    def healthy_replicas(self) -> Tuple[NodeAddress, ...]:
        """Replicas not reported as failed or loading: the ones worth sending reads to."""
        return tuple(r for r in self.replicas if r not in self.failed)


# --- slot range helpers ---------------------------------------------------------------------------
def _normalize_ranges(ranges: Iterable[SlotRange]) -> Tuple[SlotRange, ...]:
    """Sort inclusive ranges and merge overlapping or adjacent ones."""
    merged: List[SlotRange] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + 1:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


def _remove_slot(ranges: Tuple[SlotRange, ...], slot: int) -> Tuple[SlotRange, ...]:
    """``ranges`` without ``slot`` (splitting the range that holds it)."""
    out: List[SlotRange] = []
    for start, end in ranges:
        if start <= slot <= end:
            if start < slot:
                out.append((start, slot - 1))
            if slot < end:
                out.append((slot + 1, end))
        else:
            out.append((start, end))
    return tuple(out)


def _format_ranges(ranges: Sequence[SlotRange], limit: Optional[int] = None) -> str:
    """``0-5460,6000`` style; with ``limit``, the first ranges and a ``+N more`` tail."""
    shown = ranges if limit is None else ranges[:limit]
    text = ",".join(f"{a}-{b}" if a != b else str(a) for a, b in shown)
    if len(shown) < len(ranges):
        text += f",... (+{len(ranges) - len(shown)} more)"
    return text


def _shard_order(shard: Shard) -> Tuple[int, int, NodeAddress]:
    """Canonical shard order: by lowest slot, then slotless shards by primary address."""
    if shard.ranges:
        return (0, shard.ranges[0][0], shard.primary)
    return (1, 0, shard.primary)


def _rebuild_topology(shards: Tuple[Shard, ...], epoch: int,
                      source: Optional[NodeAddress]) -> Topology:
    return Topology(shards, epoch=epoch, source=source)


# --- Topology ------------------------------------------------------------------------------------------
class Topology:
    """An immutable snapshot of the cluster layout: shards, and a slot -> shard table.

    ``slots[slot]`` (a 16384-entry tuple) is the O(1) lookup every command does. ``shards`` are in
    a canonical order (by lowest slot, slotless ones last by address), so two topologies built
    from the same layout list the same nodes in the same order. Equality and hashing compare
    the layout only (see :meth:`fingerprint`), never ``epoch`` or ``source``.
    """

    __slots__ = ("_covered", "_fingerprint", "_nodes", "_primaries", "_replicas", "_roles",
                 "epoch", "shards", "slots", "source")

    shards: Tuple[Shard, ...]
    slots: Tuple[Optional[Shard], ...]
    epoch: int
    source: Optional[NodeAddress]
    _roles: Dict[NodeAddress, Tuple[Role, Shard]]
    _primaries: Tuple[NodeAddress, ...]
    _replicas: Tuple[NodeAddress, ...]
    _nodes: Tuple[NodeAddress, ...]
    _covered: int
    _fingerprint: Optional[Fingerprint]

    def __init__(self, shards: Iterable[Shard] = (), *, epoch: int = 0,
                 source: Optional[NodeAddress] = None) -> None:
        """Build and validate; TopologyError on bad or overlapping ranges or a node listed twice.

        Shard ranges given unsorted or unmerged are normalized first.
        """
        checked = []
        for shard in shards:
            for start, end in shard.ranges:
                if not 0 <= start <= end < NUM_SLOTS:
                    raise TopologyError(
                        f"invalid slot range {start}-{end} for {shard.primary} "
                        f"(must be within 0..{NUM_SLOTS - 1}, start <= end)")
            normal = _normalize_ranges(shard.ranges)
            checked.append(shard if normal == shard.ranges else replace(shard, ranges=normal))
        ordered = tuple(sorted(checked, key=_shard_order))
        table: List[Optional[Shard]] = [None] * NUM_SLOTS
        for shard in ordered:
            for start, end in shard.ranges:
                if any(table[start:end + 1]):
                    other = next(s for s in table[start:end + 1] if s is not None)
                    clash = [i for i in range(start, end + 1) if table[i] is not None]
                    raise TopologyError(
                        f"slots {_format_ranges(_compress(clash), 4)} are claimed by both "
                        f"{other.primary} and {shard.primary}")
                table[start:end + 1] = [shard] * (end - start + 1)
        self._setup(ordered, tuple(table), epoch, source)

    @classmethod
    def _build(cls, shards: Iterable[Shard], table: Sequence[Optional[Shard]], epoch: int,
               source: Optional[NodeAddress], covered: Optional[int] = None) -> Topology:
        """Trusted fast path: ``table`` is already consistent with ``shards``."""
        topology = cls.__new__(cls)
        table_tuple = table if isinstance(table, tuple) else tuple(table)
        topology._setup(tuple(sorted(shards, key=_shard_order)), table_tuple, epoch, source, covered)
        return topology

    def _setup(self, shards: Tuple[Shard, ...], table: Tuple[Optional[Shard], ...], epoch: int,
               source: Optional[NodeAddress], covered: Optional[int] = None) -> None:
        roles: Dict[NodeAddress, Tuple[Role, Shard]] = {}
        for shard in shards:
            if shard.primary in roles:
                raise TopologyError(f"node {shard.primary} is the primary of two shards")
            roles[shard.primary] = (Role.PRIMARY, shard)
        replicas: List[NodeAddress] = []
        for shard in shards:
            for replica in shard.replicas:
                seen = roles.get(replica)
                if seen is not None:
                    what = "a primary" if seen[0] is Role.PRIMARY else f"a replica of {seen[1].primary}"
                    raise TopologyError(
                        f"node {replica} is listed as a replica of {shard.primary} and as {what}")
                roles[replica] = (Role.REPLICA, shard)
                replicas.append(replica)
        primaries = tuple(shard.primary for shard in shards)
        if covered is None:
            covered = sum(s.slot_count for s in shards)
        setter = object.__setattr__
        setter(self, "shards", shards)
        setter(self, "slots", table)
        setter(self, "epoch", epoch)
        setter(self, "source", source)
        setter(self, "_roles", roles)
        setter(self, "_primaries", primaries)
        setter(self, "_replicas", tuple(replicas))
        setter(self, "_nodes", primaries + tuple(replicas))
        setter(self, "_covered", covered)
        setter(self, "_fingerprint", None)   # computed on first use; MOVED copies rarely need it

    # -- immutability, equality, pickling ------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Topology is immutable; build a new one")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Topology is immutable; build a new one")

    def __reduce__(self) -> Any:
        return (_rebuild_topology, (self.shards, self.epoch, self.source))

    def fingerprint(self) -> Fingerprint:
        """The layout (per shard: primary, sorted replicas, ranges, failed nodes), without
        epoch, source or node ids, for "did anything change?" checks."""
        fingerprint = self._fingerprint
        if fingerprint is None:
            # Racing threads compute the same value; either write is fine.
            fingerprint = tuple(
                (s.primary, tuple(sorted(s.replicas)), s.ranges, tuple(sorted(s.failed)))
                for s in self.shards)
            object.__setattr__(self, "_fingerprint", fingerprint)
        return fingerprint

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Topology):
            return NotImplemented
        return self.fingerprint() == other.fingerprint()

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def __repr__(self) -> str:
        return (f"<Topology epoch={self.epoch} source={self.source} primaries={len(self._primaries)} "
                f"replicas={len(self._replicas)} covered={self._covered}/{NUM_SLOTS}>")

    # -- lookups (hot path) ----------------------------------------------------------------------
    def shard_for_slot(self, slot: int) -> Optional[Shard]:
        """The shard serving ``slot``, or None (uncovered, or not a valid slot number)."""
        if 0 <= slot < NUM_SLOTS:
            return self.slots[slot]
        return None

    def primary_for_slot(self, slot: int) -> NodeAddress:
        """The primary serving ``slot``; raises SlotNotCoveredError naming the slot."""
        if 0 <= slot < NUM_SLOTS:
            shard = self.slots[slot]
            if shard is not None:
                return shard.primary
            raise SlotNotCoveredError(f"slot {slot} is not covered by any node")
        raise SlotNotCoveredError(f"slot {slot} is outside 0..{NUM_SLOTS - 1}")

    @property
    def primaries(self) -> Tuple[NodeAddress, ...]:
        """All primaries, in shard order (including primaries that serve no slots)."""
        return self._primaries

    @property
    def replicas(self) -> Tuple[NodeAddress, ...]:
        """All replicas, in shard order."""
        return self._replicas

    @property
    def nodes(self) -> Tuple[NodeAddress, ...]:
        """Every known node: the primaries first, then the replicas (stable order)."""
        return self._nodes

    def _lookup(self, address: Union[Tuple[str, int], str]) -> Optional[Tuple[Role, Shard]]:
        if isinstance(address, str):
            try:
                key = NodeAddress.parse(address)
            except ValueError:
                return None
        elif isinstance(address, NodeAddress):
            key = address
        else:
            key = NodeAddress(address[0], address[1])
        return self._roles.get(key)

    def role_of(self, address: Union[Tuple[str, int], str]) -> Optional[Role]:
        """PRIMARY, REPLICA, or None for a node this topology does not know."""
        entry = self._lookup(address)
        return entry[0] if entry is not None else None

    def shard_of(self, address: Union[Tuple[str, int], str]) -> Optional[Shard]:
        """The shard a node belongs to (as its primary or as a replica), or None."""
        entry = self._lookup(address)
        return entry[1] if entry is not None else None

    # -- coverage ----------------------------------------------------------------------------------
    def covered_slots(self) -> int:
        """How many of the 16384 slots have an owner."""
        return self._covered

    def uncovered_ranges(self) -> List[SlotRange]:
        """The inclusive slot ranges nobody serves, in order."""
        gaps: List[SlotRange] = []
        nxt = 0
        for start, end in sorted(r for s in self.shards for r in s.ranges):
            if start > nxt:
                gaps.append((nxt, start - 1))
            nxt = max(nxt, end + 1)
        if nxt < NUM_SLOTS:
            gaps.append((nxt, NUM_SLOTS - 1))
        return gaps

    @property
    def is_fully_covered(self) -> bool:
        """True when every slot has an owner."""
        return self._covered == NUM_SLOTS

    # -- MOVED ---------------------------------------------------------------------------------------
    def with_slot_owner(self, slot: int, address: Tuple[str, int], epoch: int) -> Topology:
        """A new topology where ``slot`` belongs to ``address`` (what a MOVED reply says).

        A known primary gets the slot added to its shard. A known replica (promoted by a
        failover) becomes the primary of a new shard holding only this slot, with no replicas:
        the MOVED proves nothing about the shard's other slots or replicas, so the old shard
        keeps them (minus that node) until a further MOVED or a refresh says otherwise. An
        unknown node becomes a new replica-less shard. ``self`` is never changed.
        """
        if not 0 <= slot < NUM_SLOTS:
            raise TopologyError(f"slot {slot} is outside 0..{NUM_SLOTS - 1}")
        target = NodeAddress(address[0], int(address[1]))
        current = self.slots[slot]
        if current is not None and current.primary == target:
            return Topology._build(self.shards, self.slots, epoch, self.source, self._covered)

        updated: Dict[int, Shard] = {}        # id(old shard) -> its replacement
        if current is not None:
            updated[id(current)] = replace(current, ranges=_remove_slot(current.ranges, slot))
        entry = self._roles.get(target)
        added: Optional[Shard] = None
        if entry is None:
            added = Shard(primary=target, replicas=(), ranges=((slot, slot),))
        elif entry[0] is Role.PRIMARY:
            owner = entry[1]
            updated[id(owner)] = replace(
                owner, ranges=_normalize_ranges((*owner.ranges, (slot, slot))))
        else:
            owner = entry[1]
            base = updated.get(id(owner), owner)
            index = base.replicas.index(target)
            ids = base.replica_ids
            promoted_id = None
            if len(ids) == len(base.replicas):
                promoted_id = ids[index]
                ids = ids[:index] + ids[index + 1:]
            updated[id(owner)] = replace(
                base, replicas=base.replicas[:index] + base.replicas[index + 1:],
                replica_ids=ids, failed=base.failed - {target})
            added = Shard(primary=target, replicas=(), ranges=((slot, slot),), primary_id=promoted_id)

        table = list(self.slots)
        shards = [updated.get(id(s), s) for s in self.shards]
        changed = list(updated.values())
        if added is not None:
            shards.append(added)
            changed.append(added)
        for shard in changed:
            for start, end in shard.ranges:
                table[start:end + 1] = [shard] * (end - start + 1)
        covered = self._covered + (1 if current is None else 0)
        return Topology._build(shards, table, epoch, self.source, covered)

    # -- display ------------------------------------------------------------------------------------
    def describe(self) -> str:
        """A short multi-line summary for logs: one line per shard, then any uncovered ranges."""
        head = (f"topology epoch {self.epoch}"
                + (f" from {self.source}" if self.source is not None else "")
                + f": {_count(len(self._primaries), 'primary', 'primaries')}, "
                  f"{_count(len(self._replicas), 'replica', 'replicas')}, "
                  f"{self._covered}/{NUM_SLOTS} slots covered")
        lines = [head]
        for shard in self.shards:
            slots = (f"{_format_ranges(shard.ranges, 6)} ({_count(shard.slot_count, 'slot', 'slots')})"
                     if shard.ranges else "no slots")
            replicas = ", ".join(
                str(r) + (" (failed)" if r in shard.failed else "") for r in shard.replicas) or "none"
            primary = str(shard.primary) + (" (failed)" if shard.primary in shard.failed else "")
            lines.append(f"  {primary}  {slots}  replicas: {replicas}")
        gaps = self.uncovered_ranges()
        if gaps:
            lines.append(f"  uncovered: {_format_ranges(gaps, 6)}")
        return "\n".join(lines)


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def _compress(slots: Iterable[int]) -> List[SlotRange]:
    """Sorted slot numbers -> inclusive ranges."""
    out: List[SlotRange] = []
    for slot in slots:
        if out and slot == out[-1][1] + 1:
            out[-1] = (out[-1][0], slot)
        else:
            out.append((slot, slot))
    return out


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
            shards.append(Shard(
                primary=primary, replicas=tuple(replicas), ranges=_normalize_ranges(ranges),
                primary_id=self.ids[primary], replica_ids=tuple(replicas.values()),
                failed=frozenset(self.failed[primary])))
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
    ``port``, or ``tls-port`` first with ``prefer_tls``. Nodes whose health is not "online" go
    into ``Shard.failed`` but stay listed. A shard without slots still makes its nodes known;
    one without a primary is skipped when it has no slots, rejected when it has some.
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


# --- host/port remapping ---------------------------------------------------------------------------
_MSG_NOT_LIST = "host_port_remap must be a list"
_MSG_NOT_DICT = "items inside host_port_remap list must be of dict type"
_MSG_BAD_KEYS = "Invalid keys provided in host_port_remap rule"
_MSG_HOST_PAIR = ("Both from_host and to_host must be present in host_port_remap rule "
                  "if either is defined")
_MSG_PORT_PAIR = ("Both from_port and to_port must be present in host_port_remap rule "
                  "if either is defined")
_MSG_PORT_INT = "Both from_port and to_port in host_port_remap rule must be integers"
# redis-py-cluster 2.1.3's text, typo included, so code matching on it keeps working.
_MSG_OCTETS = "Both from_host and to_host in host_port_remap rule must must have all octets specified"
_MSG_HOST_INVALID = ("Both from_host and to_host in host_port_remap rule must be a valid ip address "
                     "or host name")
_MSG_PORT_RANGE = "Both from_port and to_port in host_port_remap rule must be within 1..65535"
_MSG_MAPPING = "host_port_remap mapping must map (host, port) pairs to (host, port) pairs"

_RULE_KEYS = frozenset(("from_host", "from_port", "to_host", "to_port"))
_NUMERIC_HOST = re.compile(r"[0-9]+(?:\.[0-9]+)*")
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_NAME = re.compile(rf"(?=.{{1,254}}$){_LABEL}(?:\.{_LABEL})*\.?")


def _unbracket(host: str) -> str:
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        return host[1:-1]
    return host


def _host_key(host: str) -> str:
    """Comparison key for a host: IP addresses by value ("::1" == "0:0::1", "010.0.0.1" ==
    "10.0.0.1" as 2.1.3's int() compare had it), host names case-insensitively."""
    text = _unbracket(host)
    if _NUMERIC_HOST.fullmatch(text):
        parts = text.split(".")
        if len(parts) == 4 and all(len(p) <= 3 and int(p) <= 255 for p in parts):
            return ".".join(str(int(p)) for p in parts)
        return text
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return text.lower().rstrip(".")


def _check_rule_host(value: Any) -> str:
    """Validate a rule host: an IPv4 dotted quad, an IPv6 address, or a host name."""
    if not isinstance(value, str):
        raise RedisClusterConfigError(_MSG_HOST_INVALID)
    text = _unbracket(value)
    if _NUMERIC_HOST.fullmatch(text):
        parts = text.split(".")
        if len(parts) < 4:
            raise RedisClusterConfigError(_MSG_OCTETS)
        if len(parts) > 4 or any(len(p) > 3 or int(p) > 255 for p in parts):
            raise RedisClusterConfigError(_MSG_HOST_INVALID)
        return text
    try:
        ipaddress.ip_address(text)
        return text
    except ValueError:
        pass
    if _HOST_NAME.fullmatch(text):
        return text
    raise RedisClusterConfigError(_MSG_HOST_INVALID)


def _check_rule_port(value: Any) -> int:
    """Validate a rule port: an int, or a decimal string such as "7000", within 1..65535."""
    if isinstance(value, int) and not isinstance(value, bool):
        port = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        port = int(value.strip())
    else:
        raise RedisClusterConfigError(_MSG_PORT_INT)
    if not 0 < port < 65536:
        raise RedisClusterConfigError(_MSG_PORT_RANGE)
    return port


class _Rule(NamedTuple):
    from_host: Optional[str]   # as a _host_key
    from_port: Optional[int]
    to_host: Optional[str]
    to_port: Optional[int]


def _rule_from_dict(item: Any) -> _Rule:
    """Validate one rule dict in the order and with the messages redis-py-cluster 2.1.3 used."""
    if not isinstance(item, dict):
        raise RedisClusterConfigError(_MSG_NOT_DICT)
    if set(item) - _RULE_KEYS:
        raise RedisClusterConfigError(_MSG_BAD_KEYS)
    if ("from_host" in item) != ("to_host" in item):
        raise RedisClusterConfigError(_MSG_HOST_PAIR)
    if ("from_port" in item) != ("to_port" in item):
        raise RedisClusterConfigError(_MSG_PORT_PAIR)
    from_host = to_host = None
    if "from_host" in item:
        from_host = _host_key(_check_rule_host(item["from_host"]))
        to_host = _check_rule_host(item["to_host"])
    from_port = to_port = None
    if "from_port" in item:
        from_port = _check_rule_port(item["from_port"])
        to_port = _check_rule_port(item["to_port"])
    return _Rule(from_host, from_port, to_host, to_port)


def _rule_from_pair(key: Any, value: Any) -> _Rule:
    """One ``(host, port): (host, port)`` entry of the mapping form."""
    if not (isinstance(key, (tuple, list)) and len(key) == 2
            and isinstance(value, (tuple, list)) and len(value) == 2):
        raise RedisClusterConfigError(_MSG_MAPPING)
    return _rule_from_dict({"from_host": key[0], "from_port": key[1],
                            "to_host": value[0], "to_port": value[1]})


def _takes_one_argument(func: Callable[..., Any]) -> bool:
    """True for redis-py style ``f((host, port))`` callables, False for ``f(host, port)``."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return False
    return len(positional) == 1


class Remapper:
    """host_port_remap: turns the address a server names into the one the client dials.

    Built by :meth:`from_config` from rule dicts, a ``{(host, port): (host, port)}`` mapping, or
    a callable. Rules are tried in order and the first match wins; an address no rule matches
    is returned unchanged. A rule with neither ``from_host`` nor ``from_port`` matches nothing.
    """

    __slots__ = ("_func", "_one_arg", "_rules")

    def __init__(self, rules: Sequence[_Rule] = (),
                 func: Optional[Callable[..., Any]] = None) -> None:
        self._rules = tuple(rules)
        self._func = func
        self._one_arg = func is not None and _takes_one_argument(func)

    @classmethod
    def from_config(cls, config: Any) -> Optional[Remapper]:
        """None -> None; a Remapper as is; a callable; a mapping; or a list of rule dicts.

        Rule dicts are validated like redis-py-cluster 2.1.3 (same messages), but hosts may be
        IPv4, IPv6 or host names and ports may be decimal strings. Only an all-numeric dotted
        host with fewer than four parts ("10.0.0") gets 2.1.3's "all octets" message; other
        invalid hosts get "must be a valid ip address or host name". A tuple of rules is
        accepted like a list. Raises RedisClusterConfigError.
        """
        if config is None:
            return None
        if isinstance(config, Remapper):
            return config
        if isinstance(config, Mapping):
            return cls([_rule_from_pair(k, v) for k, v in config.items()])
        if callable(config):
            return cls(func=config)
        if not isinstance(config, (list, tuple)):
            raise RedisClusterConfigError(_MSG_NOT_LIST)
        return cls([_rule_from_dict(item) for item in config])

    def __call__(self, address: NodeAddress) -> NodeAddress:
        """The remapped address (the same object when nothing matches)."""
        if self._func is not None:
            return self._call_func(address)
        key: Optional[str] = None
        for rule in self._rules:
            if rule.from_port is not None and rule.from_port != address.port:
                continue
            if rule.from_host is not None:
                if key is None:
                    key = _host_key(address.host)
                if rule.from_host != key:
                    continue
            elif rule.from_port is None:
                continue
            return NodeAddress(address.host if rule.to_host is None else rule.to_host,
                               address.port if rule.to_port is None else rule.to_port)
        return address

    def _call_func(self, address: NodeAddress) -> NodeAddress:
        assert self._func is not None
        if self._one_arg:
            result = self._func((address.host, address.port))
        else:
            result = self._func(address.host, address.port)
        if isinstance(result, (tuple, list)) and len(result) == 2:
            host, port = result
            if isinstance(host, bytes):
                host = host.decode("utf-8", "replace")
            if isinstance(host, str) and host:
                try:
                    return NodeAddress(_unbracket(host), _check_rule_port(port))
                except RedisClusterConfigError:
                    pass
        raise RedisClusterConfigError(
            f"host_port_remap callable returned {result!r} for {address}; expected (host, port)")

    def __repr__(self) -> str:
        if self._func is not None:
            return f"Remapper({self._func!r})"
        return f"Remapper({len(self._rules)} rules)"


# --- merging several nodes' views ---------------------------------------------------------------------
def _best(votes: Mapping[NodeAddress, int]) -> NodeAddress:
    """Most votes; ties go to the smallest (host, port)."""
    return min(votes, key=lambda a: (-votes[a], a))


def merge_views(views: Sequence[Topology], *, epoch: int) -> Tuple[Topology, List[str]]:
    """Merge the layouts several nodes reported into one, plus lines describing disagreements.

    Per slot, the primary named by the most views wins; a view that leaves the slot uncovered
    abstains. Ties go to the smallest primary address ``(host, port)``: the replies carry no
    config epoch to tell which view is newer, so any rule is a guess, and this one is the same
    for every client and every arrival order (so clients do not flap or fight); the next MOVED
    fixes a wrong guess via :meth:`Topology.with_slot_owner`. Nodes that win no slot become
    replicas of the winning primary most views list them under (ties: smallest address),
    else slotless primaries if some view calls them primary. A node is marked failed when at
    least half of the views that list it say so. The result does not depend on view order.
    """
    if not views:
        raise TopologyError("merge_views needs at least one view")
    bounds = {0, NUM_SLOTS}
    for view in views:
        for shard in view.shards:
            for start, end in shard.ranges:
                bounds.add(start)
                bounds.add(end + 1)
    points = sorted(bounds)

    won: Dict[NodeAddress, List[SlotRange]] = {}
    conflicts: Dict[Tuple[Tuple[Tuple[NodeAddress, int], ...], int], List[SlotRange]] = {}
    for lo, hi in zip(points, points[1:]):
        votes: Dict[NodeAddress, int] = {}
        abstain = 0
        for view in views:
            holder = view.slots[lo]
            if holder is None:
                abstain += 1
            else:
                votes[holder.primary] = votes.get(holder.primary, 0) + 1
        if not votes:
            continue
        won.setdefault(_best(votes), []).append((lo, hi - 1))
        if len(votes) > 1 or abstain:
            signature = (tuple(sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))), abstain)
            conflicts.setdefault(signature, []).append((lo, hi - 1))

    lines = []
    for (ranked, abstain), ranges in sorted(conflicts.items(), key=lambda kv: kv[1][0]):
        parts = [f"{addr} ({_count(n, 'view', 'views')})" for addr, n in ranked]
        if abstain:
            parts.append(f"uncovered ({_count(abstain, 'view', 'views')})")
        lines.append(f"slot {_format_ranges(_normalize_ranges(ranges))}: {' vs '.join(parts)}")

    # Everything the views say about each node, order-independently.
    ids: Dict[NodeAddress, Set[str]] = {}
    claims: Dict[NodeAddress, Dict[NodeAddress, int]] = {}
    called_primary: Set[NodeAddress] = set()
    listed: Dict[NodeAddress, int] = {}
    failed_votes: Dict[NodeAddress, int] = {}
    for view in views:
        for shard in view.shards:
            called_primary.add(shard.primary)
            if shard.primary_id is not None:
                ids.setdefault(shard.primary, set()).add(shard.primary_id)
            replica_ids = (shard.replica_ids if len(shard.replica_ids) == len(shard.replicas)
                           else (None,) * len(shard.replicas))
            for replica, replica_id in zip(shard.replicas, replica_ids):
                votes_for = claims.setdefault(replica, {})
                votes_for[shard.primary] = votes_for.get(shard.primary, 0) + 1
                if replica_id is not None:
                    ids.setdefault(replica, set()).add(replica_id)
            for node in shard.nodes:
                listed[node] = listed.get(node, 0) + 1
                if node in shard.failed:
                    failed_votes[node] = failed_votes.get(node, 0) + 1

    primaries = set(won)
    owner: Dict[NodeAddress, NodeAddress] = {}     # replica -> its primary
    for node in sorted(listed):
        if node in primaries:
            continue
        to_winners = {p: n for p, n in claims.get(node, {}).items() if p in won}
        if to_winners:
            owner[node] = _best(to_winners)
        elif node in called_primary:
            primaries.add(node)
    for node in sorted(listed):
        if node in primaries or node in owner:
            continue
        # Listed only under primaries that lost everything: follow them to where they went.
        choice = _best(claims[node])
        owner[node] = owner.get(choice, choice)

    def node_id(node: NodeAddress) -> Optional[str]:
        found = ids.get(node)
        return min(found) if found else None

    members: Dict[NodeAddress, List[NodeAddress]] = {p: [] for p in primaries}
    for replica, primary in owner.items():
        members[primary].append(replica)
    shards = []
    for primary in sorted(primaries):
        replicas = tuple(sorted(members[primary]))
        failed = frozenset(n for n in (primary, *replicas)
                           if n in failed_votes and 2 * failed_votes[n] >= listed[n])
        shards.append(Shard(
            primary=primary, replicas=replicas, ranges=_normalize_ranges(won.get(primary, ())),
            primary_id=node_id(primary), replica_ids=tuple(node_id(r) for r in replicas),
            failed=failed))
    return Topology(shards, epoch=epoch, source=None), lines


def node_record(address: NodeAddress, role: Union[Role, str]) -> Dict[str, Any]:
    """redis-py-cluster's node dict: ``{'host', 'port', 'name': 'host:port', 'server_type'}``."""
    return {"host": address.host, "port": address.port, "name": address.name,
            "server_type": Role(role).value}
