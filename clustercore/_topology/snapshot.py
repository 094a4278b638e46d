"""Cluster topology as frozen values: which node serves which hash slot.

A :class:`Topology` (with its :class:`Shard` and :class:`Role` values) is never mutated: the
client publishes a new one by swapping one reference, so readers on other threads always see a
complete, consistent layout, and a MOVED reply makes a copy (:meth:`Topology.with_slot_owner`).
Everything here is a pure function over immutable values: no I/O, no threads, no locks.

The other modules of this package build topologies: :mod:`.parse` from CLUSTER SLOTS / CLUSTER
SHARDS replies, :mod:`.merge` from several nodes' views, with :mod:`.remap` turning the
addresses servers name into the ones the client dials.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple, Union

from .._address import NodeAddress
from .._slots import NUM_SLOTS, slot_number
from ..errors import InvalidSlotError, SlotNotCoveredError, TopologyError

__all__ = [
    "Role",
    "Shard",
    "SlotRange",
    "Topology",
    "format_ranges",
    "node_record",
    "normalize_ranges",
    "plural",
]

#: An inclusive slot range ``(start, end)``.
SlotRange = Tuple[int, int]
#: The layout part of a topology: what :meth:`Topology.fingerprint` returns.
Fingerprint = Tuple[
    Tuple[NodeAddress, Tuple[NodeAddress, ...], Tuple[SlotRange, ...], Tuple[NodeAddress, ...]], ...
]


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
    #: ``(node, hostname)`` for the nodes whose CLUSTER SHARDS entry announced a hostname
    #: (``cluster-announce-hostname``): the name their TLS certificate is verified against.
    hostnames: Tuple[Tuple[NodeAddress, str], ...] = ()

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
def normalize_ranges(ranges: Iterable[SlotRange]) -> Tuple[SlotRange, ...]:
    """Sort inclusive ranges and merge overlapping or adjacent ones (the form Shard keeps)."""
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


def format_ranges(ranges: Sequence[SlotRange], limit: Optional[int] = None) -> str:
    """Ranges for messages, ``0-5460,6000`` style; with ``limit``, the first ranges and a
    ``+N more`` tail."""
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
            normal = normalize_ranges(shard.ranges)
            checked.append(shard if normal == shard.ranges else replace(shard, ranges=normal))
        ordered = tuple(sorted(checked, key=_shard_order))
        table: List[Optional[Shard]] = [None] * NUM_SLOTS
        for shard in ordered:
            for start, end in shard.ranges:
                if any(table[start:end + 1]):
                    other = next(s for s in table[start:end + 1] if s is not None)
                    clash = [i for i in range(start, end + 1) if table[i] is not None]
                    raise TopologyError(
                        f"slots {format_ranges(_compress(clash), 4)} are claimed by both "
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
        """The shard serving ``slot``, or None: uncovered, or not a slot number at all (a query;
        the routing paths raise InvalidSlotError for the latter, see ``primary_for_slot``)."""
        try:
            return self.slots[slot_number(slot)]
        except InvalidSlotError:
            return None

    def primary_for_slot(self, slot: int) -> NodeAddress:
        """The primary serving ``slot``: SlotNotCoveredError naming an uncovered slot, and
        InvalidSlotError (also a SlotNotCoveredError) for a value that is no slot number."""
        shard = self.slots[slot_number(slot)]
        if shard is None:
            raise SlotNotCoveredError(f"slot {slot} is not covered by any node")
        return shard.primary

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

    def hostname_of(self, address: NodeAddress) -> Optional[str]:
        """The hostname ``address`` announced in CLUSTER SHARDS, or None (none, or unknown)."""
        entry = self._roles.get(address)
        if entry is not None:
            for node, hostname in entry[1].hostnames:
                if node == address:
                    return hostname
        return None

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
                owner, ranges=normalize_ranges((*owner.ranges, (slot, slot))))
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
            added = Shard(primary=target, replicas=(), ranges=((slot, slot),), primary_id=promoted_id,
                          hostnames=tuple(p for p in base.hostnames if p[0] == target))

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
                + f": {plural(len(self._primaries), 'primary', 'primaries')}, "
                  f"{plural(len(self._replicas), 'replica', 'replicas')}, "
                  f"{self._covered}/{NUM_SLOTS} slots covered")
        lines = [head]
        for shard in self.shards:
            slots = (f"{format_ranges(shard.ranges, 6)} ({plural(shard.slot_count, 'slot', 'slots')})"
                     if shard.ranges else "no slots")
            replicas = ", ".join(
                str(r) + (" (failed)" if r in shard.failed else "") for r in shard.replicas) or "none"
            primary = str(shard.primary) + (" (failed)" if shard.primary in shard.failed else "")
            lines.append(f"  {primary}  {slots}  replicas: {replicas}")
        gaps = self.uncovered_ranges()
        if gaps:
            lines.append(f"  uncovered: {format_ranges(gaps, 6)}")
        return "\n".join(lines)


def plural(number: int, one: str, many: str) -> str:
    """``1 replica``, ``2 replicas``: a count and its noun, for log lines."""
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


def node_record(address: NodeAddress, role: Union[Role, str]) -> Dict[str, Any]:
    """redis-py-cluster's node dict: ``{'host', 'port', 'name': 'host:port', 'server_type'}``."""
    return {"host": address.host, "port": address.port, "name": address.name,
            "server_type": Role(role).value}

