"""The state of a ClusterPubSub, apart from its I/O: named states, the restorer, the snapshot.

``pubsub.py`` does the connecting, writing and reading; this module holds what that I/O
decides on, as a small state machine:

- a :class:`Link` (one dedicated connection) is OPEN, LOST (it broke or missed a health check)
  or CLOSED (``close()``);
- a :class:`Subscription` (classic channel, pattern or sharded channel) is PLACED -- its
  (S|P)SUBSCRIBE written on one open link -- or WAITING, on none;
- the :class:`Restorer` keeps the waiting subscriptions and is IDLE or PLANNED (a restoring
  pass is due at some time: at once the first time, then with backoff).

Subscriptions change state only through ``Restorer.place`` and ``Restorer.park``, so every
transition is one call. :func:`snapshot_of` turns the state into :class:`PubSubSnapshot`, the
frozen, public view that ``ClusterPubSub.snapshot()`` returns (for tests and operators' logs).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum
from time import monotonic
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Deque,
    Dict,
    Iterable,
    List,
    Optional,
    Sequence,
    Tuple,
)

from .._address import NodeAddress
from .._slots import key_slot

if TYPE_CHECKING:
    from .._net.connection import ClusterConnection
    from .._topology.snapshot import Topology

__all__ = [
    "ClassicHome",
    "Link",
    "LinkState",
    "PubSubLinkInfo",
    "PubSubSnapshot",
    "Request",
    "RestoreState",
    "Restorer",
    "SubState",
    "Subscription",
    "off_shard",
    "pending_names",
    "snapshot_of",
    "unsubscribing",
]

Handler = Callable[[Dict[str, Any]], Any]
#: The subscribing commands, in the order a snapshot lists them and a pass sends them.
KINDS = ("subscribe", "psubscribe", "ssubscribe")
#: The unsubscribing commands, whose pending acknowledgements keep ``subscribed`` True.
UNSUBSCRIBE_KINDS = frozenset({"unsubscribe", "punsubscribe", "sunsubscribe"})


# --- the public view -------------------------------------------------------------------------
@dataclass(frozen=True)
class PubSubLinkInfo:
    """One open dedicated connection in a :class:`PubSubSnapshot`: its node, what it carries.

    Names are bytes, as sent to the server. A subscription is carried from the moment its
    (S|P)SUBSCRIBE is written, acknowledged or not (``pending_acks`` tells).
    """

    #: The node the connection goes to.
    node: NodeAddress
    #: The pub/sub object's number for this connection (1, 2, ...): a new number, a new one.
    link_id: int
    channels: Tuple[bytes, ...] = ()
    patterns: Tuple[bytes, ...] = ()
    shard_channels: Tuple[bytes, ...] = ()
    #: (Un)subscribe calls written on it whose acknowledgements have not all arrived.
    pending_acks: int = 0
    #: Whether a health-check PING waits for its answer.
    ping_pending: bool = False


@dataclass(frozen=True)
class PubSubSnapshot:
    """What a ClusterPubSub holds at one moment (``ps.snapshot()``).

    Frozen, consistent (taken under the object's lock) and safe to keep or log: the open
    connections, the subscriptions that wait to be restored and the restorer's progress.
    """

    #: The classic (SUBSCRIBE / PSUBSCRIBE) connection; None while none is open.
    classic: Optional[PubSubLinkInfo]
    #: The open sharded connections, one per node, sorted by node.
    shards: Tuple[PubSubLinkInfo, ...]
    #: Subscriptions on no connection: the next restoring pass subscribes them again.
    waiting_channels: Tuple[bytes, ...] = ()
    waiting_patterns: Tuple[bytes, ...] = ()
    waiting_shard_channels: Tuple[bytes, ...] = ()
    #: Restoring passes run so far (``ClusterPubSub.restores``).
    restores: int = 0
    #: Seconds until the next restoring pass (0: at the next read); None: nothing waits.
    next_restore_in: Optional[float] = None
    closed: bool = False

    @property
    def links(self) -> Tuple[PubSubLinkInfo, ...]:
        """Every open connection: the classic one (if any) first, then the sharded ones."""
        return ((self.classic,) if self.classic is not None else ()) + self.shards

    @property
    def acknowledged(self) -> bool:
        """Whether every (un)subscribe call written on an open connection was acknowledged."""
        return not any(link.pending_acks for link in self.links)

    @property
    def waiting(self) -> bool:
        """Whether any subscription waits to be restored."""
        return bool(self.waiting_channels or self.waiting_patterns
                    or self.waiting_shard_channels)

    def home(self, shard_channel: bytes) -> Optional[NodeAddress]:
        """The node whose open connection carries sharded channel ``shard_channel``, or None."""
        for link in self.shards:
            if shard_channel in link.shard_channels:
                return link.node
        return None


# --- states ----------------------------------------------------------------------------------
class LinkState(Enum):
    """Where a dedicated connection stands."""

    OPEN = "open"      # connected: its replies are read, subscriptions are written on it
    LOST = "lost"      # broke or missed a health check: closed, what it carried was parked
    CLOSED = "closed"  # closed by ClusterPubSub.close()


class SubState(Enum):
    """Where one subscription stands."""

    PLACED = "placed"    # its (S|P)SUBSCRIBE is written on one open link
    WAITING = "waiting"  # on no link: the restorer's next pass subscribes it again


class RestoreState(Enum):
    """Whether a restoring pass is planned."""

    IDLE = "idle"        # none planned (one runs at the next read if anything waits)
    PLANNED = "planned"  # one is due at ``Restorer.due_at``


class Request:
    """A (un)subscribe call whose acknowledgements (one per name) have not all arrived."""

    __slots__ = ("internal", "kind", "names")

    def __init__(self, kind: str, names: Sequence[bytes], internal: bool) -> None:
        self.kind = kind
        self.names = list(names)
        self.internal = internal   # a restoring call: its acks are not reported


class Link:
    """One dedicated connection: the classic one, or one node's sharded subscriptions."""

    __slots__ = ("address", "conn", "last_read", "link_id", "ping_sent", "requests", "state")

    def __init__(self, address: NodeAddress, conn: ClusterConnection, link_id: int) -> None:
        self.address = address
        self.conn = conn
        self.link_id = link_id
        self.state = LinkState.OPEN
        #: Calls written and not fully acknowledged; replies answer them in order.
        self.requests: Deque[Request] = deque()
        self.last_read = monotonic()
        self.ping_sent: Optional[float] = None   # when the unanswered health-check PING went


class Subscription:
    """One subscription the caller wants: its handler and where it stands (``SubState``)."""

    __slots__ = ("announce", "avoid", "handler", "kind", "link", "name", "state")

    def __init__(self, kind: str, name: bytes, handler: Optional[Handler]) -> None:
        self.kind = kind   # its subscribing command, one of KINDS
        self.name = name
        self.handler = handler
        self.state = SubState.WAITING   # placed or parked by the call that creates it
        self.link: Optional[Link] = None   # the link it is PLACED on
        #: Hints for its next placing, each used once: a node that just unsubscribed it (that
        #: node lost the slot), and whether the acknowledgement is reported (the caller's own
        #: SSUBSCRIBE was refused with MOVED, TRYAGAIN ...).
        self.avoid: Optional[NodeAddress] = None
        self.announce = False


class Restorer:
    """The restoring state machine: which subscriptions wait, and when the next pass runs.

    ``place`` and ``park`` are the subscriptions' two transitions (``forget`` drops one the
    caller unsubscribed). The restorer itself goes IDLE -> PLANNED on ``plan`` (due at once
    the first time, after a growing backoff for each further attempt; an earlier plan is
    kept) and PLANNED -> IDLE on ``start`` (a pass runs); ``succeeded`` (a restoring
    subscription was acknowledged) resets the backoff.
    """

    __slots__ = ("attempts", "due_at", "state", "waiting")

    def __init__(self) -> None:
        self.state = RestoreState.IDLE
        self.due_at = 0.0
        self.attempts = 0   # passes planned since a restoring subscription was acknowledged
        self.waiting: Dict[Subscription, None] = {}   # the WAITING ones, in parking order

    def place(self, sub: Subscription, link: Link) -> None:
        """-> PLACED on ``link``."""
        sub.state, sub.link = SubState.PLACED, link
        self.waiting.pop(sub, None)

    def park(self, sub: Subscription, avoid: Optional[NodeAddress] = None,
             announce: bool = False) -> None:
        """-> WAITING, adding hints for its next placing."""
        sub.state, sub.link = SubState.WAITING, None
        if avoid is not None:
            sub.avoid = avoid
        sub.announce = sub.announce or announce
        self.waiting[sub] = None

    def forget(self, sub: Subscription) -> None:
        """The caller unsubscribed it: it waits no more."""
        self.waiting.pop(sub, None)

    def plan(self, now: float, backoff: Callable[[int], float]) -> None:
        """-> PLANNED: due at once the first time, then after ``backoff(attempt)``."""
        attempts = self.attempts
        at = now + (backoff(attempts - 1) if attempts else 0.0)
        if self.state is RestoreState.PLANNED and self.due_at <= at:
            return  # an earlier pass is already planned
        self.state, self.due_at, self.attempts = RestoreState.PLANNED, at, attempts + 1

    def due(self, now: float) -> bool:
        """Whether a pass may run now."""
        return self.state is RestoreState.IDLE or now >= self.due_at

    def start(self) -> List[Subscription]:
        """PLANNED -> IDLE: a pass runs over what waits (each stays WAITING until placed)."""
        self.state = RestoreState.IDLE
        return list(self.waiting)

    def succeeded(self) -> None:
        """A restoring subscription was acknowledged: the next failure retries at once."""
        self.attempts = 0


class ClassicHome:
    """Where the classic link belongs, as a decision without I/O.

    ``fixed`` (``node=``) wins; else the primary owning the slot of ``anchor``, the first
    channel (or pattern) subscribed, kept while it stays subscribed. ``avoid`` is the node of
    a classic link just lost: the replacement goes elsewhere until a new layout is seen.
    ``placed_by`` is the layout the open link was placed by (a move is due only on another).
    """

    __slots__ = ("anchor", "avoid", "fixed", "placed_by")

    def __init__(self) -> None:
        self.fixed: Optional[NodeAddress] = None
        self.anchor: Optional[bytes] = None
        self.avoid: Optional[NodeAddress] = None
        self.placed_by: Optional[Topology] = None

    def home(self, topology: Topology, channels: Dict[bytes, Any], patterns: Dict[bytes, Any],
             ) -> Optional[NodeAddress]:
        """The fixed node, else the anchor's slot owner in ``topology`` (None: no anchor)."""
        if self.fixed is not None:
            return self.fixed
        anchor = self.anchor
        if anchor is None or (anchor not in channels and anchor not in patterns):
            anchor = self.anchor = next(iter(channels), next(iter(patterns), None))
        if anchor is None or not topology.shards:
            return None
        shard = topology.slots[key_slot(anchor)]
        return shard.primary if shard is not None else None

    def target(self, topology: Topology, channels: Dict[bytes, Any],
               patterns: Dict[bytes, Any], choose: Callable[[List[NodeAddress]], NodeAddress],
               ) -> NodeAddress:
        """Where to open a new classic link: home, unless there is none or it is the node
        to avoid (then a random other node, by ``choose``)."""
        target = self.home(topology, channels, patterns)
        if target is not None and (self.fixed is not None or target != self.avoid):
            return target
        nodes = list(topology.nodes)
        if self.avoid in nodes and len(nodes) > 1:
            nodes.remove(self.avoid)
        return choose(nodes)

    def move_to(self, address: NodeAddress, topology: Topology, channels: Dict[bytes, Any],
                patterns: Dict[bytes, Any]) -> Optional[NodeAddress]:
        """For an open link at ``address``, on a layout it was not placed by: the home it
        must move to (None: it stays). The layout is recorded either way."""
        if topology is self.placed_by or self.fixed is not None:
            return None
        self.placed_by = topology
        home = self.home(topology, channels, patterns)
        if home is None or home == address:
            return None
        self.avoid = None
        return home


def pending_names(links: Sequence[Link], kind: str) -> List[bytes]:
    """The names of ``kind`` requests (an unsubscribe) written on ``links`` and unanswered."""
    return [name for link in links for request in link.requests if request.kind == kind
            for name in request.names]


def unsubscribing(links: Sequence[Link]) -> bool:
    """Whether an (S|P)UNSUBSCRIBE written on ``links`` waits for its acknowledgement: until
    it arrives, messages can still come, so redis-py's ``subscribed`` stays True."""
    return any(request.kind in UNSUBSCRIBE_KINDS for link in links for request in link.requests)


def off_shard(subs: Iterable[Subscription], topology: Topology,
              ) -> Dict[Tuple[Link, int], List[Subscription]]:
    """The sharded subscriptions placed on an open link whose node is in neither the primary
    nor the replicas of its slot's shard in ``topology`` (the slot moved to another shard),
    grouped by (link, slot): one SUNSUBSCRIBE per group, as the server takes them."""
    moved: Dict[Tuple[Link, int], List[Subscription]] = {}
    for sub in subs:
        link = sub.link
        if link is None or link.state is not LinkState.OPEN:
            continue
        slot = key_slot(sub.name)
        shard = topology.slots[slot]
        if shard is not None and link.address != shard.primary \
                and link.address not in shard.replicas:
            moved.setdefault((link, slot), []).append(sub)
    return moved


def snapshot_of(tables: Sequence[Dict[bytes, Subscription]], classic: Optional[Link],
                shards: Dict[NodeAddress, Link], restorer: Restorer, restores: int,
                closed: bool, now: float) -> PubSubSnapshot:
    """The frozen view of a pub/sub object's state; ``tables`` are its channels, patterns and
    sharded channels (in KINDS order), ``classic`` its classic link (shown when OPEN)."""
    links = [*shards.values(), *([classic] if classic is not None else [])]
    carried: Dict[Link, Tuple[List[bytes], ...]] = {
        link: ([], [], []) for link in links if link.state is LinkState.OPEN}
    waiting: Tuple[List[bytes], ...] = ([], [], [])
    for i, table in enumerate(tables):
        for name, sub in table.items():
            if sub.state is SubState.WAITING:
                waiting[i].append(name)
            elif sub.link is not None and sub.link in carried:
                carried[sub.link][i].append(name)

    def info(link: Link) -> PubSubLinkInfo:
        channels, patterns, shard_channels = carried[link]
        return PubSubLinkInfo(link.address, link.link_id, tuple(channels), tuple(patterns),
                              tuple(shard_channels),
                              sum(1 for r in link.requests if r.kind != "ping"),
                              link.ping_sent is not None)

    due: Optional[float] = None
    if restorer.waiting:
        due = 0.0 if restorer.due(now) else restorer.due_at - now
    return PubSubSnapshot(
        classic=info(classic) if classic is not None and classic in carried else None,
        shards=tuple(info(shards[node]) for node in sorted(shards) if shards[node] in carried),
        waiting_channels=tuple(waiting[0]), waiting_patterns=tuple(waiting[1]),
        waiting_shard_channels=tuple(waiting[2]), restores=restores, next_restore_in=due,
        closed=closed)
