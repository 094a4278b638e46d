"""Merging the layouts several nodes reported into one topology (:func:`merge_views`).

Nodes of a cluster in flux disagree (a failover seen by some, a slot migration half-way); a
refresh asks several and merges their answers by vote, the same way for every client and every
arrival order, and says where they disagreed.
"""

from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple

from .._address import NodeAddress
from .._slots import NUM_SLOTS
from ..errors import TopologyError
from .snapshot import Shard, SlotRange, Topology, format_ranges, normalize_ranges, plural

__all__ = ["merge_views"]


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
        parts = [f"{addr} ({plural(n, 'view', 'views')})" for addr, n in ranked]
        if abstain:
            parts.append(f"uncovered ({plural(abstain, 'view', 'views')})")
        lines.append(f"slot {format_ranges(normalize_ranges(ranges))}: {' vs '.join(parts)}")

    # Everything the views say about each node, order-independently.
    ids: Dict[NodeAddress, Set[str]] = {}
    claims: Dict[NodeAddress, Dict[NodeAddress, int]] = {}
    called_primary: Set[NodeAddress] = set()
    listed: Dict[NodeAddress, int] = {}
    failed_votes: Dict[NodeAddress, int] = {}
    announced: Dict[NodeAddress, Set[str]] = {}
    for view in views:
        for shard in view.shards:
            for node, name in shard.hostnames:
                announced.setdefault(node, set()).add(name)
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

    # A hostname the views disagree on: the smallest (order-independent, like node ids).
    hostnames = {node: min(names) for node, names in announced.items()}
    members: Dict[NodeAddress, List[NodeAddress]] = {p: [] for p in primaries}
    for replica, primary in owner.items():
        members[primary].append(replica)
    shards = []
    for primary in sorted(primaries):
        replicas = tuple(sorted(members[primary]))
        failed = frozenset(n for n in (primary, *replicas)
                           if n in failed_votes and 2 * failed_votes[n] >= listed[n])
        shards.append(Shard(
            primary=primary, replicas=replicas, ranges=normalize_ranges(won.get(primary, ())),
            primary_id=node_id(primary), replica_ids=tuple(node_id(r) for r in replicas),
            failed=failed, hostnames=tuple(
                (n, hostnames[n]) for n in (primary, *replicas) if n in hostnames)))
    return Topology(shards, epoch=epoch, source=None), lines
