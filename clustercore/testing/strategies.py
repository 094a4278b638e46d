"""Hypothesis strategies for FakeCluster: cluster layouts and fault schedules.

For your own property tests and for clustercore's::

    from hypothesis import given
    from clustercore.testing.strategies import fault_schedules, heal, topologies

    @given(layout=topologies(max_masters=6), schedule=fault_schedules(max_size=10))
    def test_my_app_survives(layout, schedule):
        fake = layout.build()
        client = RedisCluster(startup_nodes=fake.startup_nodes, transport=fake.network)
        for fault in schedule:
            fault.apply(fake)          # False when it did not apply (e.g. no live replica)
            ...                        # drive your code, check what it promised
        heal(fake)                     # everything back up: now every promise must hold

This is the only module of :mod:`clustercore.testing` that imports hypothesis (a development
dependency); ``import clustercore.testing`` works without it.

* :func:`topologies` draws a :class:`ClusterLayout`: 1..100 primaries, 0..2 replicas each, slot
  ranges cut at random (or split evenly as redis-cli does) and then *remapped*: random slot
  ranges handed to other primaries, so a primary may own several ranges, or none.
* :func:`faults` draws one :class:`Fault` (kill, revive, freeze, failover, migration steps,
  loading, CLUSTERDOWN, TRYAGAIN, cut replies, clock jumps ...) and :func:`fault_schedules` a
  list of them. A fault names its node by an index taken modulo the current node list and is
  applied with :meth:`Fault.apply`, which skips (returns False) what the cluster refuses, so any
  schedule is valid against any layout, and shrinks well.
* :func:`heal` undoes what faults left behind (revive, unfreeze, stop loading, cluster up,
  finish migrations), so a test can check that the client recovers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "clustercore.testing.strategies needs hypothesis (pip install hypothesis); the rest "
        "of clustercore.testing works without it") from exc

from .._slots import NUM_SLOTS
from .fake.cluster import FakeCluster, FakeClusterError, FakeNode, _even_split

__all__ = [
    "FAULT_KINDS",
    "ClusterLayout",
    "Fault",
    "fault_schedules",
    "faults",
    "heal",
    "topologies",
]

#: Every fault :func:`faults` can draw, with what :meth:`Fault.apply` does for it.
FAULT_KINDS: Tuple[str, ...] = (
    "kill",               # the node's process dies (connections drop, new ones refused)
    "revive",             # it restarts (a primary failed over meanwhile rejoins as a replica)
    "freeze",             # it accepts TCP but never answers (reads time out)
    "unfreeze",           # it answers again
    "drop_connections",   # the node closes every open connection
    "cut_next_reply",     # the next reply on each open connection stops after `amount` bytes
    "failover",           # CLUSTER FAILOVER: a replica takes over (the node, or its replica)
    "auto_failover",      # the cluster promotes a replica of a dead primary now
    "advance",            # the fake clock jumps `amount` seconds (node_timeout failovers ...)
    "migrate",            # a slot and its keys move to another primary in one step
    "begin_migration",    # MIGRATING/IMPORTING: the owner starts answering ASK
    "move_keys",          # MIGRATE `amount` keys (0: all) of a migrating slot
    "finish_migration",   # move the remaining keys, then SETSLOT NODE
    "loading",            # the node answers LOADING
    "loaded",             # it stops
    "cluster_down",       # cluster_state:fail: keyed commands answer CLUSTERDOWN
    "cluster_up",         # back to ok
    "tryagain",           # the next `amount` multi-key commands on the slot answer TRYAGAIN
    "add_node",           # a new empty primary (or, with an odd `amount`, a new replica)
)


# ------------------------------------------------------------------------------------------------
# Layouts
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClusterLayout:
    """A cluster to build: primaries, replicas per primary, and who owns which slots.

    ``ranges`` are inclusive ``(first, last, primary index)`` triples in slot order covering all
    16384 slots; a primary index may appear in several ranges or in none.
    """

    masters: int
    replicas: int
    ranges: Tuple[Tuple[int, int, int], ...]
    node_timeout: Optional[float] = 15.0

    def owner_index(self, slot: int) -> int:
        """The index (in ``fake.primaries()`` order at build time) of the slot's owner."""
        for first, last, index in self.ranges:
            if first <= slot <= last:
                return index
        raise ValueError(f"slot {slot} is outside 0..{NUM_SLOTS - 1}")

    def build(self, **kwargs: Any) -> FakeCluster:
        """A FakeCluster with this layout (``kwargs`` go to FakeCluster: clock, network ...)."""
        kwargs.setdefault("node_timeout", self.node_timeout)
        fake = FakeCluster(masters=self.masters, replicas=self.replicas, **kwargs)
        primaries = fake.primaries()
        if [(f, la) for f, la, _ in self.ranges] != _even_split(self.masters) or any(
                index != n for n, (_, _, index) in enumerate(self.ranges)):
            fake.unassign_slots(range(NUM_SLOTS))
            for first, last, index in self.ranges:
                fake.assign_slots(range(first, last + 1), primaries[index])
        return fake

    def __repr__(self) -> str:
        shown = ", ".join(f"{f}-{la}:{i}" for f, la, i in self.ranges[:12])
        more = f", ... {len(self.ranges) - 12} more" if len(self.ranges) > 12 else ""
        return (f"ClusterLayout(masters={self.masters}, replicas={self.replicas}, "
                f"node_timeout={self.node_timeout!r}, ranges=[{shown}{more}])")


def _compress(owners: Sequence[int]) -> Tuple[Tuple[int, int, int], ...]:
    out: List[Tuple[int, int, int]] = []
    start = 0
    for slot in range(1, len(owners) + 1):
        if slot == len(owners) or owners[slot] != owners[start]:
            out.append((start, slot - 1, owners[start]))
            start = slot
    return tuple(out)


@st.composite
def _layouts(draw: Any, min_masters: int, max_masters: int, min_replicas: int,
             max_replicas: int, max_remaps: int,
             node_timeouts: st.SearchStrategy[Optional[float]]) -> ClusterLayout:
    masters = draw(st.integers(min_masters, max_masters), label="masters")
    replicas = draw(st.integers(min_replicas, max_replicas), label="replicas")
    if masters == 1 or draw(st.booleans(), label="even split"):
        cuts = [first for first, _ in _even_split(masters)][1:]
    else:
        cuts = sorted(draw(st.lists(st.integers(1, NUM_SLOTS - 1), min_size=masters - 1,
                                    max_size=masters - 1, unique=True), label="cuts"))
    owners: List[int] = []
    for index, (first, end) in enumerate(zip([0, *cuts], [*cuts, NUM_SLOTS])):
        owners += [index] * (end - first)
    remaps = draw(st.lists(st.tuples(st.integers(0, NUM_SLOTS - 1), st.integers(1, 2048),
                                     st.integers(0, masters - 1)),
                           max_size=max_remaps if masters > 1 else 0), label="remaps")
    for first, length, target in remaps:
        last = min(NUM_SLOTS, first + length)
        owners[first:last] = [target] * (last - first)
    timeout = draw(node_timeouts, label="node_timeout")
    return ClusterLayout(masters, replicas, _compress(owners), timeout)


def topologies(*, min_masters: int = 1, max_masters: int = 100, min_replicas: int = 0,
               max_replicas: int = 2, max_remaps: int = 4,
               node_timeouts: Optional[st.SearchStrategy[Optional[float]]] = None,
               ) -> st.SearchStrategy[ClusterLayout]:
    """Cluster layouts: primaries, replicas each, random slot ranges, then up to
    ``max_remaps`` random slot ranges handed to other primaries. Shrinks toward one primary,
    no replica and redis-cli's even split. ``node_timeouts`` draws FakeCluster's node_timeout
    (default: always 15 s; None means failures are never detected on their own)."""
    if not 1 <= min_masters <= max_masters:
        raise ValueError(f"need 1 <= min_masters <= max_masters; got {min_masters}, {max_masters}")
    if not 0 <= min_replicas <= max_replicas:
        raise ValueError(f"need 0 <= min_replicas <= max_replicas; got {min_replicas}, "
                         f"{max_replicas}")
    return _layouts(min_masters, max_masters, min_replicas, max_replicas, max_remaps,
                    node_timeouts if node_timeouts is not None else st.just(15.0))


# ------------------------------------------------------------------------------------------------
# Faults
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fault:
    """One scripted event. ``node`` indexes ``fake.nodes`` (modulo its length) or, for faults
    that need a primary (migration targets, auto_failover), ``fake.primaries()``; ``slot`` is a
    slot number; ``amount`` is seconds (advance), bytes (cut_next_reply) or a count."""

    kind: str
    node: int = 0
    slot: int = 0
    amount: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(FAULT_KINDS)}")

    def _node(self, fake: FakeCluster) -> FakeNode:
        nodes = fake.nodes
        return nodes[self.node % len(nodes)]

    def _primary(self, fake: FakeCluster) -> FakeNode:
        primaries = fake.primaries()
        return primaries[self.node % len(primaries)]

    def apply(self, fake: FakeCluster) -> bool:
        """Do it to ``fake``; False when the cluster refused (FakeClusterError) or it was moot."""
        try:
            return _APPLY[self.kind](self, fake)
        except FakeClusterError:
            return False


def _apply_kill(f: Fault, fake: FakeCluster) -> bool:
    node = f._node(fake)
    if not node.alive:
        return False
    fake.kill(node)
    return True


def _apply_revive(f: Fault, fake: FakeCluster) -> bool:
    node = f._node(fake)
    if node.alive:
        return False
    fake.revive(node)
    return True


def _apply_freeze(f: Fault, fake: FakeCluster) -> bool:
    node = f._node(fake)
    if node.frozen or not node.alive:
        return False
    fake.freeze(node)
    return True


def _apply_unfreeze(f: Fault, fake: FakeCluster) -> bool:
    node = f._node(fake)
    if not node.frozen:
        return False
    fake.unfreeze(node)
    return True


def _apply_drop(f: Fault, fake: FakeCluster) -> bool:
    fake.drop_connections(f._node(fake))
    return True


def _apply_cut(f: Fault, fake: FakeCluster) -> bool:
    fake.cut_next_reply(f._node(fake), f.amount)
    return True


def _apply_failover(f: Fault, fake: FakeCluster) -> bool:
    fake.failover(f._node(fake))
    return True


def _apply_auto_failover(f: Fault, fake: FakeCluster) -> bool:
    fake.auto_failover(f._primary(fake))
    return True


def _apply_advance(f: Fault, fake: FakeCluster) -> bool:
    fake.clock.advance(f.amount)
    return True


def _target(f: Fault, fake: FakeCluster) -> Optional[FakeNode]:
    """A primary other than the slot's owner, chosen by ``node``."""
    try:
        owner = fake.owner_of(f.slot)
    except FakeClusterError:
        return None
    others = [p for p in fake.primaries() if p is not owner and p.alive and not p.frozen]
    return others[f.node % len(others)] if others else None


def _apply_migrate(f: Fault, fake: FakeCluster) -> bool:
    target = _target(f, fake)
    if target is None or f.slot in fake.migrations:
        return False
    fake.migrate([f.slot], target)
    return True


def _apply_begin(f: Fault, fake: FakeCluster) -> bool:
    target = _target(f, fake)
    if target is None or f.slot in fake.migrations:
        return False
    fake.begin_migration([f.slot], target)
    return True


def _apply_move_keys(f: Fault, fake: FakeCluster) -> bool:
    if f.slot not in fake.migrations:
        return False
    fake.move_keys(f.slot, f.amount or None)
    return True


def _apply_finish(f: Fault, fake: FakeCluster) -> bool:
    migration = fake.migrations.get(f.slot)
    if migration is None:
        return False
    fake.move_keys(f.slot)
    fake.finish_migration([f.slot], migration[1])
    return True


def _apply_loading(f: Fault, fake: FakeCluster) -> bool:
    fake.set_loading(f._node(fake), True)
    return True


def _apply_loaded(f: Fault, fake: FakeCluster) -> bool:
    fake.set_loading(f._node(fake), False)
    return True


def _apply_cluster_down(f: Fault, fake: FakeCluster) -> bool:
    fake.set_cluster_down(True)
    return True


def _apply_cluster_up(f: Fault, fake: FakeCluster) -> bool:
    fake.set_cluster_down(False)
    return True


def _apply_tryagain(f: Fault, fake: FakeCluster) -> bool:
    fake.set_tryagain(f.slot, max(1, f.amount))
    return True


def _apply_add_node(f: Fault, fake: FakeCluster) -> bool:
    fake.add_node(replica_of=f._primary(fake) if f.amount % 2 else None)
    return True


_APPLY = {
    "kill": _apply_kill, "revive": _apply_revive, "freeze": _apply_freeze,
    "unfreeze": _apply_unfreeze, "drop_connections": _apply_drop, "cut_next_reply": _apply_cut,
    "failover": _apply_failover, "auto_failover": _apply_auto_failover,
    "advance": _apply_advance, "migrate": _apply_migrate, "begin_migration": _apply_begin,
    "move_keys": _apply_move_keys, "finish_migration": _apply_finish,
    "loading": _apply_loading, "loaded": _apply_loaded, "cluster_down": _apply_cluster_down,
    "cluster_up": _apply_cluster_up, "tryagain": _apply_tryagain, "add_node": _apply_add_node,
}
assert set(_APPLY) == set(FAULT_KINDS)

#: Upper bound of ``amount`` per kind (seconds, bytes, keys or TRYAGAIN answers).
_AMOUNTS = {"advance": 30, "cut_next_reply": 16, "move_keys": 4, "tryagain": 3, "add_node": 1}


def faults(kinds: Sequence[str] = FAULT_KINDS, *,
           slots: Optional[st.SearchStrategy[int]] = None,
           max_node: int = 255) -> st.SearchStrategy[Fault]:
    """One fault of one of ``kinds``. Pass ``slots`` (e.g. ``st.sampled_from`` the slots of the
    keys your test uses) so that migrations and TRYAGAIN hit data; the default is any slot."""
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown or not kinds:
        raise ValueError(f"unknown fault kinds {unknown}; choose from {', '.join(FAULT_KINDS)}")
    slot_strategy = slots if slots is not None else st.integers(0, NUM_SLOTS - 1)

    def one(kind: str) -> st.SearchStrategy[Fault]:
        return st.builds(Fault, st.just(kind), st.integers(0, max_node), slot_strategy,
                         st.integers(0, _AMOUNTS.get(kind, 0)))

    return st.sampled_from(list(kinds)).flatmap(one)


def fault_schedules(kinds: Sequence[str] = FAULT_KINDS, *, min_size: int = 0,
                    max_size: int = 20, slots: Optional[st.SearchStrategy[int]] = None,
                    ) -> st.SearchStrategy[List[Fault]]:
    """Lists of faults to apply in order (between steps of the code under test)."""
    return st.lists(faults(kinds, slots=slots), min_size=min_size, max_size=max_size)


def heal(fake: FakeCluster) -> None:
    """Bring everything back: revive and unfreeze every node, stop loading, cluster up, and
    finish every migration in progress (keys first). Failovers that happened stay done; a
    TRYAGAIN count left by ``tryagain`` is used up by the next multi-key commands."""
    for node in fake.nodes:
        if node.frozen:
            fake.unfreeze(node)
        if not node.alive:
            fake.revive(node)
        if node.loading:
            fake.set_loading(node, False)
    fake.set_cluster_down(False)
    for slot, (_source, target) in sorted(fake.migrations.items()):
        fake.move_keys(slot)
        fake.finish_migration([slot], target)
