"""FakeCluster: an in-process Redis Cluster with Redis 7 semantics, reached through FakeNetwork.

Every node is a server object on a :class:`~clustercore.testing.FakeNetwork`, so
clustercore's real encoder, decoder, connections, handshake, pools and client run unmodified,
with no socket, thread or sleep. Redirections (MOVED, ASK, TRYAGAIN, CROSSSLOT, CLUSTERDOWN),
READONLY replicas, AUTH/HELLO, LOADING, MULTI/EXEC/WATCH and the common data commands behave as
in Redis 7; faults and topology changes are plain method calls::

    from clustercore import ClusterConnectionPool
    from clustercore.testing import FakeCluster

    fake = FakeCluster(masters=3, replicas=1)
    pool = ClusterConnectionPool(startup_nodes=fake.startup_nodes, **fake.connection_kwargs())
    conn = pool.get_connection_by_key("user:1")
    conn.execute("SET", "user:1", "ada")
    pool.release(conn)
    assert fake.get("user:1") == b"ada"

    old = fake.owner_of("user:1")
    new = fake.failover(old)        # a replica takes over; `old` now answers MOVED
    fake.kill(new)                  # connections drop, new ones are refused ...
    fake.clock.advance(15)          # ... and after the node timeout a replica is promoted

Data commands: strings, bitmaps (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP), HyperLogLog
(PFADD, PFCOUNT, PFMERGE), keys and expiry, hashes, lists, sets, sorted sets and streams (XADD,
XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XREAD, XGROUP, XREADGROUP, XACK, XPENDING). Pub/sub is
delivered: (P)SUBSCRIBE/PUBLISH across every node, SSUBSCRIBE/SPUBLISH within a shard, as RESP2
arrays or RESP3 pushes, and a shard that loses slots (failover, migration) sends
``sunsubscribe`` for their sharded channels, as Redis 7 does. tests/unit/test_fake_cluster_more.py
compares these replies byte for byte with a real redis-server.

Deliberate simplifications: replication is instant (a primary and its replicas share one
keyspace object, so replica reads are never stale); every node has the same view of the
layout; a node that is down is flagged FAIL exactly ``node_timeout`` seconds (fake clock) after
it went down, and a replica of a failed primary is promoted at that same instant; blocking
commands (BLPOP, BRPOP, XREAD/XREADGROUP BLOCK) never block: with nothing to return they answer
at once as if their timeout had passed; HyperLogLogs count exactly (Redis estimates); a pub/sub
message is lost for the subscribers of a killed or frozen node. Not implemented: Lua scripts
and functions, BITFIELD, geo, XINFO/XCLAIM/XAUTOCLAIM/XSETID, ACL commands, CLIENT
KILL/TRACKING, OBJECT/DEBUG, and the admin side of CLUSTER (use the methods of FakeCluster).
Unknown commands answer ``ERR unknown command`` as Redis does.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
import weakref
from dataclasses import dataclass
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from ..._address import NodeAddress
from ..._protocol.decoder import PushReply
from ..._protocol.reply_encoder import SimpleString, encode_reply
from ..._slots import NUM_SLOTS, key_slot, key_to_bytes
from ...errors import ResponseError
from . import commands as fc
from .net import NO_REPLY, FakeNetwork, FakeSession, FakeStream

__all__ = ["FakeClock", "FakeCluster", "FakeClusterError", "FakeNode"]

#: The Redis version the fake reports (HELLO, INFO).
REDIS_VERSION = "7.0.15"

OK = SimpleString(b"OK")
QUEUED = SimpleString(b"QUEUED")
_LOADING = "LOADING Redis is loading the dataset in memory"
_NOAUTH = "NOAUTH Authentication required."
_CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot"
_TRYAGAIN = "TRYAGAIN Multiple keys request during rehashing of slot"
_READONLY = "READONLY You can't write against a read only replica."
#: Commands that run at once inside MULTI instead of being queued.
_TXN_CONTROL = frozenset({b"exec", b"discard", b"multi", b"watch", b"quit", b"reset"})


class FakeClusterError(Exception):
    """A FakeCluster scripting call was used wrongly (unknown node, slot not migrating ...)."""


def _error(text: str) -> ResponseError:
    """An error reply; CR/LF become spaces as Redis does (they cannot go on the wire)."""
    return ResponseError(text.replace("\r", " ").replace("\n", " "))


# ------------------------------------------------------------------------------------------------
# Clock
# ------------------------------------------------------------------------------------------------
class FakeClock:
    """A manual clock: ``clock()`` is monotonic seconds, ``clock.time()`` Unix seconds.

    Key expiry and failure detection read it; only :meth:`advance` moves it, so tests never
    sleep. Listeners (the clusters using it) are told after each advance.
    """

    def __init__(self, start: float = 1_000_000.0, *, wall: float = 1_700_000_000.0) -> None:
        self._start = start
        self._now = start
        self._wall = wall
        self._lock = threading.Lock()
        self._listeners: List[weakref.WeakMethod[Callable[[], None]]] = []

    def __call__(self) -> float:
        return self._now

    def time(self) -> float:
        """Wall-clock seconds since the epoch (``wall`` at start), for TTLs and EXPIREAT."""
        return self._wall + (self._now - self._start)

    def advance(self, seconds: float) -> None:
        """Move time forward (never back) and let clusters react (expiry, failure detection)."""
        if seconds < 0 or math.isnan(seconds):
            raise ValueError(f"a clock only moves forward; got {seconds!r}")
        with self._lock:
            self._now += seconds
            listeners = list(self._listeners)
        for ref in listeners:
            callback = ref()
            if callback is not None:
                callback()

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call the bound method ``callback`` after every advance (weakly referenced)."""
        with self._lock:
            self._listeners = [r for r in self._listeners if r() is not None]
            self._listeners.append(weakref.WeakMethod(callback))

    def __repr__(self) -> str:
        return f"FakeClock({self._now!r})"


# ------------------------------------------------------------------------------------------------
# Nodes
# ------------------------------------------------------------------------------------------------
class FakeNode:
    """One node of a FakeCluster; FakeNetwork hands it the commands sent to its address.

    Read its state (``role``, ``alive``, ``slots`` ...) freely; change it through the
    FakeCluster methods (``kill``, ``failover`` ...), which keep the cluster consistent.
    """

    def __init__(self, cluster: FakeCluster, address: NodeAddress, db: fc.Keyspace) -> None:
        self.cluster = cluster
        self.address = address
        #: 40 hex characters, stable for an address (like a node id in nodes.conf).
        self.id = hashlib.sha1(f"clustercore-fake:{address}".encode()).hexdigest()
        #: The keyspace this node serves (shared with its primary: instant replication).
        self.db = db
        #: The node this one replicates, or None for a primary.
        self.primary: Optional[FakeNode] = None
        self.alive = True
        self.frozen = False
        self.loading = False
        #: Flagged FAIL by the cluster (after ``node_timeout`` down, or by auto_failover).
        self.failed = False
        self.down_since: Optional[float] = None
        self.config_epoch = 0
        #: The replica that took this primary's slots while it was down (it rejoins under it).
        self.successor: Optional[FakeNode] = None
        self.started_at = cluster.clock()
        self.seen: List[List[bytes]] = []

    @property
    def host(self) -> str:
        """The node's host."""
        return self.address.host

    @property
    def port(self) -> int:
        """The node's port."""
        return self.address.port

    @property
    def is_primary(self) -> bool:
        """Whether the node is currently a primary (it may own no slot)."""
        return self.primary is None

    @property
    def is_replica(self) -> bool:
        """Whether the node currently replicates another."""
        return self.primary is not None

    @property
    def role(self) -> str:
        """``"master"`` or ``"replica"``, as CLUSTER SHARDS spells them."""
        return "master" if self.primary is None else "replica"

    @property
    def slots(self) -> List[Tuple[int, int]]:
        """Inclusive slot ranges this node owns (empty for replicas)."""
        return self.cluster.slot_ranges(self)

    @property
    def replicas(self) -> List[FakeNode]:
        """The nodes replicating this one."""
        return [n for n in self.cluster.nodes if n.primary is self]

    def handle(self, session: FakeSession, args: List[bytes]) -> Any:
        """FakeServer protocol: answer one command of one connection."""
        return self.cluster._handle(self, session, args)

    def __repr__(self) -> str:
        state = "alive" if self.alive else "killed"
        if self.frozen:
            state += ",frozen"
        if self.failed:
            state += ",failed"
        if self.loading:
            state += ",loading"
        return f"<FakeNode {self.address} {self.role} {state}>"


NodeRef = Union[FakeNode, NodeAddress, str, int, Tuple[str, int]]
SlotsArg = Union[int, Iterable[int]]
KeyArg = Union[bytes, str, int, float]


@dataclass
class _Call:
    """What a node-scope command handler sees."""

    cluster: FakeCluster
    node: FakeNode
    session: FakeSession


class _Replies(List[Any]):
    """Several replies to one command, written one after the other (``SUBSCRIBE a b`` is
    acknowledged once per channel; inside an EXEC array they stand where the command's reply
    would, as in Redis)."""


#: Commands whose replies may hold a null array or several replies below the top level.
_NESTED_RAW = frozenset({b"exec", b"xreadgroup", b"xpending"})


def _needs_raw(value: Any) -> bool:
    """Whether ``value`` holds what encode_reply cannot write: a RESP2 null array or
    several replies."""
    if value is fc.NULL_ARRAY or isinstance(value, (_Replies, fc.Score)):
        return True
    return isinstance(value, list) and any(_needs_raw(v) for v in value)


def _encode_raw(value: Any, protocol: int) -> bytes:
    """encode_reply, plus RESP2 null arrays (``*-1``) and _Replies anywhere in an array."""
    if value is fc.NULL_ARRAY:
        return b"*-1\r\n" if protocol == 2 else b"_\r\n"
    if isinstance(value, fc.Score):  # Redis 7.0 writes RESP3 doubles with %.17g too
        return b",%s\r\n" % fc.format_score(value)
    if isinstance(value, _Replies):
        return b"".join(_encode_raw(v, protocol) for v in value)
    if isinstance(value, list) and not isinstance(value, PushReply):
        return b"*%d\r\n" % len(value) + b"".join(_encode_raw(v, protocol) for v in value)
    return encode_reply(value, protocol)


def _adapt(value: Any, resp3: bool) -> Any:
    """Turn reply markers into wire shapes: scores are bulk text in RESP2, doubles in RESP3;
    WITHSCORES pairs are nested in RESP3, flat in RESP2."""
    if isinstance(value, fc.Score):
        return value if resp3 else fc.format_score(value)  # (RESP3: written by _encode_raw)
    if value is fc.NULL_ARRAY:
        return None if resp3 else value  # RESP2's *-1 is written by _encode_raw
    if isinstance(value, _Replies):
        return _Replies(_adapt(x, resp3) for x in value)
    if isinstance(value, fc.KeyedReplies):
        if resp3:
            return fc.KeyedReplies([(k, _adapt(v, resp3)) for k, v in value.pairs])
        return [[k, _adapt(v, resp3)] for k, v in value.pairs]
    if isinstance(value, fc.Pairs):
        if resp3:
            return [[_adapt(x, resp3) for x in pair] for pair in value]
        return [_adapt(x, resp3) for pair in value for x in pair]
    if isinstance(value, list) and not isinstance(value, PushReply):
        return [_adapt(x, resp3) for x in value]
    if isinstance(value, dict):
        return {k: _adapt(v, resp3) for k, v in value.items()}
    return value


# ------------------------------------------------------------------------------------------------
# The cluster
# ------------------------------------------------------------------------------------------------
class FakeCluster:
    """An in-process Redis Cluster for tests: real RESP over a FakeNetwork, scripted faults.

    Pass ``transport=fake.network`` (or ``**fake.connection_kwargs()``) to clustercore's
    connections, pools and clients, and ``fake.startup_nodes`` as their startup nodes. Ports
    run from ``base_port``: primaries first, then their replicas; slots are split evenly as
    redis-cli does. ``node_timeout`` (seconds of ``clock``; None = never on its own) is how long
    a killed or frozen node stays up in the eyes of the cluster before it is flagged FAIL and,
    for a primary, replaced by a replica. One lock guards everything, so any number of client
    threads may use the cluster at once. A killed primary that was not failed over comes back
    with its data (as if persistence were on).
    """

    def __init__(
        self,
        masters: int = 3,
        replicas: int = 1,
        *,
        host: str = "127.0.0.1",
        base_port: int = 30001,
        password: Optional[str] = None,
        users: Optional[Mapping[str, str]] = None,
        clock: Optional[FakeClock] = None,
        network: Optional[FakeNetwork] = None,
        require_full_coverage: bool = True,
        shards_supported: bool = True,
        node_timeout: Optional[float] = 15.0,
    ) -> None:
        if masters < 1:
            raise ValueError(f"a cluster needs at least one primary; got masters={masters}")
        if replicas < 0:
            raise ValueError(f"replicas must be >= 0; got {replicas}")
        self._lock = threading.RLock()
        self.clock = clock or FakeClock()
        self.network = network or FakeNetwork()
        self.host = host
        self.password = password
        self.users: Dict[str, str] = dict(users or {})
        self.require_full_coverage = require_full_coverage
        self.shards_supported = shards_supported
        self.node_timeout = node_timeout
        self._rng = random.Random(0)
        self._nodes: List[FakeNode] = []
        self._by_address: Dict[NodeAddress, FakeNode] = {}
        self._slots: List[Optional[FakeNode]] = [None] * NUM_SLOTS
        self._migrations: Dict[int, Tuple[FakeNode, FakeNode]] = {}
        self._tryagain: Dict[int, int] = {}
        self._forced_down = False
        self._current_epoch = 0
        self._layout: Optional[List[Tuple[int, int, FakeNode]]] = None
        self._state_ok: Optional[bool] = None
        self._commands: Dict[bytes, fc.CommandSpec] = {**fc.COMMANDS, **_NODE_COMMANDS}
        #: node -> its subscribed sessions and their connections (pub/sub delivery).
        self._subscribers: Dict[FakeNode, Dict[FakeSession, FakeStream]] = {}

        primaries = [self._new_node(NodeAddress(host, base_port + i), None)
                     for i in range(masters)]
        for r in range(replicas):
            for i, primary in enumerate(primaries):
                self._new_node(NodeAddress(host, base_port + masters * (r + 1) + i), primary)
        for primary, (start, end) in zip(primaries, _even_split(masters)):
            self._current_epoch += 1
            primary.config_epoch = self._current_epoch
            self._slots[start:end + 1] = [primary] * (end - start + 1)
        self.clock.subscribe(self._on_clock)

    # --- construction helpers ---------------------------------------------------------------------
    def _now_ms(self) -> int:
        return round(self.clock.time() * 1000)

    def _new_node(self, address: NodeAddress, primary: Optional[FakeNode]) -> FakeNode:
        db = primary.db if primary is not None else fc.Keyspace(self._now_ms, self._rng)
        node = FakeNode(self, address, db)
        node.primary = primary
        self._nodes.append(node)
        self._by_address[address] = node
        self.network.add(address, node)
        self._changed()
        return node

    def _changed(self) -> None:
        """The layout or a node's health changed: drop cached derived state."""
        self._layout = None
        self._state_ok = None

    @property
    def _auth_required(self) -> bool:
        return self.password is not None or bool(self.users)

    # --- introspection -----------------------------------------------------------------------------
    @property
    def nodes(self) -> List[FakeNode]:
        """Every node, in creation order."""
        with self._lock:
            return list(self._nodes)

    def primaries(self) -> List[FakeNode]:
        """Nodes whose current role is primary (including killed ones)."""
        with self._lock:
            return [n for n in self._nodes if n.is_primary]

    def replicas(self) -> List[FakeNode]:
        """Nodes whose current role is replica (including killed ones)."""
        with self._lock:
            return [n for n in self._nodes if n.is_replica]

    def node(self, ref: NodeRef) -> FakeNode:
        """The node for a FakeNode, NodeAddress, ``"host:port"``, ``(host, port)`` or a port."""
        if isinstance(ref, FakeNode):
            if ref.cluster is not self:
                raise FakeClusterError(f"{ref!r} belongs to another FakeCluster")
            return ref
        if isinstance(ref, int) and not isinstance(ref, bool):
            address = NodeAddress(self.host, ref)
        elif isinstance(ref, NodeAddress):
            address = ref
        elif isinstance(ref, str):
            address = NodeAddress.parse(ref)
        elif isinstance(ref, tuple) and len(ref) == 2:
            address = NodeAddress(str(ref[0]), int(ref[1]))
        else:
            raise FakeClusterError(f"cannot find a node from {ref!r}")
        node = self._by_address.get(address)
        if node is None:
            raise FakeClusterError(f"no node at {address}")
        return node

    @property
    def startup_nodes(self) -> List[Dict[str, Any]]:
        """``[{"host": ..., "port": ...}]`` for every node, as clustercore's pools take them."""
        with self._lock:
            return [{"host": n.host, "port": n.port} for n in self._nodes]

    def connection_kwargs(self) -> Dict[str, Any]:
        """Keyword arguments for clustercore connections/pools: the transport (and password)."""
        kwargs: Dict[str, Any] = {"transport": self.network}
        if self.password is not None:
            kwargs["password"] = self.password
        return kwargs

    def owner_of(self, key_or_slot: KeyArg) -> FakeNode:
        """The primary serving a key's slot (an ``int`` is taken as a slot number)."""
        slot = self._slot_of(key_or_slot)
        with self._lock:
            owner = self._slots[slot]
        if owner is None:
            raise FakeClusterError(f"slot {slot} is not served by any node")
        return owner

    def slot_ranges(self, node: NodeRef) -> List[Tuple[int, int]]:
        """Inclusive slot ranges owned by ``node``."""
        target = self.node(node)
        with self._lock:
            return [(s, e) for s, e, owner in self._ranges() if owner is target]

    @property
    def migrations(self) -> Dict[int, Tuple[FakeNode, FakeNode]]:
        """Slots being migrated: slot -> (source, target)."""
        with self._lock:
            return dict(self._migrations)

    def commands_seen(self, node: NodeRef) -> List[List[bytes]]:
        """Every command ``node`` processed, in order (handshakes included; commands sent to a
        frozen node are swallowed unseen)."""
        target = self.node(node)
        with self._lock:
            return [list(c) for c in target.seen]

    def clear_commands_seen(self, node: Optional[NodeRef] = None) -> None:
        """Forget the commands recorded for one node, or for all."""
        with self._lock:
            for n in [self.node(node)] if node is not None else self._nodes:
                n.seen.clear()

    @staticmethod
    def _slot_of(key_or_slot: KeyArg) -> int:
        if isinstance(key_or_slot, int) and not isinstance(key_or_slot, bool):
            if not 0 <= key_or_slot < NUM_SLOTS:
                raise FakeClusterError(f"slot {key_or_slot} is outside 0..16383")
            return key_or_slot
        return key_slot(key_or_slot)

    # --- direct data access (bypasses the protocol) ---------------------------------------------
    def _find(self, key: bytes) -> Tuple[Optional[fc.Keyspace], Any]:
        """(keyspace, value) of a live key wherever it is (owner first, then migration target)."""
        slot = key_slot(key)
        candidates: List[fc.Keyspace] = []
        owner = self._slots[slot]
        if owner is not None:
            candidates.append(owner.db)
        if slot in self._migrations:
            candidates.append(self._migrations[slot][1].db)
        candidates += self._keyspaces()
        for db in candidates:
            value = db.get(key)
            if value is not None:
                return db, value
        return None, None

    def _keyspaces(self) -> List[fc.Keyspace]:
        seen: Dict[int, fc.Keyspace] = {}
        for n in self._nodes:
            seen.setdefault(id(n.db), n.db)
        return list(seen.values())

    def get(self, key: KeyArg) -> Optional[bytes]:
        """The string value of ``key`` (None when missing); TypeError for other types."""
        with self._lock:
            _, value = self._find(key_to_bytes(key))
        if value is not None and not isinstance(value, bytes):
            raise TypeError(f"{key!r} holds a {fc.TYPE_NAMES[type(value)]}, not a string")
        return value

    def value(self, key: KeyArg) -> Any:
        """A copy of any value: bytes (strings, HyperLogLogs), dict (hash: bytes; zset: float
        scores), list, set, or for a stream a list of ``(b"ms-seq", [field, value, ...])``."""
        with self._lock:
            _, value = self._find(key_to_bytes(key))
            if value is None or isinstance(value, bytes):
                return value
            if isinstance(value, dict):
                return dict(value)
            if isinstance(value, fc.StreamValue):
                return [(fc.format_stream_id(i), list(value.fields[i])) for i in value.ids]
            return list(value) if isinstance(value, list) else set(value)

    def set(self, key: KeyArg, value: Union[bytes, str, int, float]) -> None:
        """Store a string in the keyspace of the key's owner (no TTL)."""
        k = key_to_bytes(key)
        with self._lock:
            db, _ = self._find(k)
            (db or self.owner_of(k).db).put(k, key_to_bytes(value))

    def ttl(self, key: KeyArg) -> Optional[float]:
        """Seconds left before ``key`` expires; None when it has no TTL or does not exist."""
        k = key_to_bytes(key)
        with self._lock:
            db, value = self._find(k)
            if db is None or value is None:
                return None
            left = db.ttl_ms(k)
        return None if left is None else left / 1000.0

    def keys(self, pattern: Union[bytes, str] = b"*") -> List[bytes]:
        """Every live key matching a glob pattern, sorted."""
        pat = key_to_bytes(pattern)
        with self._lock:
            found = {k for db in self._keyspaces() for k in db.live_keys()}
        return sorted(k for k in found if fc.glob_match(pat, k))

    def dbsize(self) -> int:
        """Number of live keys in the whole cluster."""
        return len(self.keys())

    def flushall(self) -> None:
        """Delete every key on every node."""
        with self._lock:
            for db in self._keyspaces():
                db.flush()

    # --- faults -------------------------------------------------------------------------------------
    def kill(self, node: NodeRef) -> None:
        """The process dies: open connections drop, new ones are refused, state is kept."""
        with self._lock:
            target = self.node(node)
            target.alive = False
            target.frozen = False
            if target.down_since is None:
                target.down_since = self.clock()
            self.network.freeze(target.address, False)
            self.network.refuse(target.address)
            self.network.drop_connections(target.address)
            self._changed()
            self._detect_failures()

    def revive(self, node: NodeRef) -> None:
        """The process restarts. A primary whose slots were failed over meanwhile rejoins as a
        replica of the new owner (full resync); otherwise it keeps its role and its data."""
        with self._lock:
            target = self.node(node)
            if target.alive:
                return
            target.alive = True
            target.loading = False
            target.started_at = self.clock()
            self._back_up(target)
            self.network.refuse(target.address, False)

    def freeze(self, node: NodeRef) -> None:
        """The node accepts TCP but never answers (connects and reads time out)."""
        with self._lock:
            target = self.node(node)
            target.frozen = True
            if target.down_since is None:
                target.down_since = self.clock()
            self.network.freeze(target.address)
            self._changed()
            self._detect_failures()

    def unfreeze(self, node: NodeRef) -> None:
        """The node answers again (a primary failed over meanwhile rejoins as a replica)."""
        with self._lock:
            target = self.node(node)
            target.frozen = False
            self.network.freeze(target.address, False)
            if target.alive:
                self._back_up(target)

    def _back_up(self, node: FakeNode) -> None:
        node.down_since = None
        node.failed = False
        if node.is_primary and node.successor is not None and not self.slot_ranges(node):
            new_primary = node.successor
            for _ in range(len(self._nodes)):
                if new_primary.primary is not None:
                    new_primary = new_primary.primary
                elif new_primary.successor is not None and not self.slot_ranges(new_primary):
                    new_primary = new_primary.successor
                else:
                    break
            if new_primary is not node:
                node.primary = new_primary
                node.db = new_primary.db
        node.successor = None
        self._changed()

    def drop_connections(self, node: Optional[NodeRef] = None) -> int:
        """Close the open connections to one node (or to every node); returns how many."""
        with self._lock:
            targets = [self.node(node)] if node is not None else list(self._nodes)
            return sum(self.network.drop_connections(t.address) for t in targets)

    def cut_next_reply(self, node: NodeRef, after_bytes: int) -> None:
        """On each open connection to ``node``, the next reply stops after ``after_bytes``
        bytes and the connection closes (a reply lost half-way)."""
        with self._lock:
            target = self.node(node)
            for stream in self.network.connections_to(target.address):
                stream.cut_after = after_bytes

    def set_loading(self, node: NodeRef, loading: bool = True) -> None:
        """While loading, commands without Redis 7's ``loading`` flag (GET, SET, PING ...) answer
        ``LOADING``; HELLO, AUTH, CLUSTER, INFO, CONFIG ... still work, as in Redis."""
        with self._lock:
            self.node(node).loading = loading
            self._changed()

    def set_cluster_down(self, down: bool = True) -> None:
        """Force ``cluster_state:fail``: every keyed command answers CLUSTERDOWN."""
        with self._lock:
            self._forced_down = down
            self._changed()

    def set_tryagain(self, slot: int, count: int = 1) -> None:
        """The next ``count`` multi-key commands on ``slot`` answer TRYAGAIN."""
        with self._lock:
            self._tryagain[self._slot_of(slot)] = count

    # --- failover -----------------------------------------------------------------------------------
    def failover(self, node_or_shard: NodeRef, *, force: bool = False) -> FakeNode:
        """Promote a replica (the one given, or the first live replica of the primary given).

        Like CLUSTER FAILOVER: without ``force`` the old primary must be up; it then becomes a
        replica of the new one, and its open connections answer MOVED for its former slots.
        Returns the new primary.
        """
        with self._lock:
            node = self.node(node_or_shard)
            if node.is_primary:
                old = node
                candidate = self._candidate(old)
                if candidate is None:
                    raise FakeClusterError(f"{old.address} has no live replica to promote")
            else:
                candidate = node
                assert node.primary is not None
                old = node.primary
                if not candidate.alive or candidate.frozen:
                    raise FakeClusterError(f"{candidate.address} is down and cannot take over")
            if not force and (not old.alive or old.frozen or old.failed):
                raise FakeClusterError(
                    f"the primary {old.address} is down; use force=True (CLUSTER FAILOVER FORCE)")
            self._promote(candidate, old)
            return candidate

    def auto_failover(self, dead_primary: NodeRef) -> FakeNode:
        """Do now what the cluster does ``node_timeout`` after a primary went down: flag it
        FAIL and promote its first live replica. Returns the new primary."""
        with self._lock:
            old = self.node(dead_primary)
            if not old.is_primary:
                raise FakeClusterError(f"{old.address} is not a primary")
            if old.alive and not old.frozen:
                raise FakeClusterError(
                    f"{old.address} is up; kill() or freeze() it first, or use failover()")
            old.failed = True
            self._changed()
            candidate = self._candidate(old)
            if candidate is None:
                raise FakeClusterError(
                    f"no live replica of {old.address} can take over; its slots stay unserved")
            self._promote(candidate, old)
            return candidate

    def _candidate(self, primary: FakeNode) -> Optional[FakeNode]:
        for node in self._nodes:
            if (node.primary is primary and node.alive and not node.frozen and not node.failed
                    and not node.loading):
                return node
        return None

    def _promote(self, new: FakeNode, old: FakeNode) -> None:
        lost = {slot for slot, owner in enumerate(self._slots) if owner is old}
        self._slots_lost([old] + [r for r in self._nodes if r.primary is old and r is not new],
                         lost)
        for slot, owner in enumerate(self._slots):
            if owner is old:
                self._slots[slot] = new
        self._migrations = {
            slot: (new if src is old else src, new if dst is old else dst)
            for slot, (src, dst) in self._migrations.items()}
        for node in self._nodes:
            if node.primary is old and node is not new:
                node.primary = new
        new.primary = None
        new.db = old.db
        self._current_epoch += 1
        new.config_epoch = self._current_epoch
        if old.alive and not old.frozen:
            old.primary = new
            old.successor = None
        else:
            old.successor = new
        self._changed()

    def _on_clock(self) -> None:
        with self._lock:
            self._detect_failures()

    def _detect_failures(self) -> None:
        """Flag nodes down for ``node_timeout`` as FAIL; promote a replica of failed primaries."""
        if self.node_timeout is None:
            return
        now = self.clock()
        for node in self._nodes:
            if (node.down_since is not None and not node.failed
                    and now - node.down_since >= self.node_timeout):
                node.failed = True
                self._changed()
        for node in list(self._nodes):
            if node.is_primary and node.failed and any(o is node for o in self._slots):
                candidate = self._candidate(node)
                if candidate is not None:
                    self._promote(candidate, node)

    # --- topology changes -------------------------------------------------------------------------
    def add_node(self, *, replica_of: Optional[NodeRef] = None) -> FakeNode:
        """Start a new node on the next free port: an empty primary without slots, or a
        replica (fully synced at once) of ``replica_of``."""
        with self._lock:
            primary = self.node(replica_of) if replica_of is not None else None
            if primary is not None and not primary.is_primary:
                raise FakeClusterError(f"{primary.address} is a replica; replicate its primary")
            port = max(n.port for n in self._nodes) + 1
            while NodeAddress(self.host, port) in self.network.servers:
                port += 1
            return self._new_node(NodeAddress(self.host, port), primary)

    def assign_slots(self, slots: SlotsArg, node: NodeRef) -> None:
        """CLUSTER ADDSLOTS: give unassigned slots to a primary."""
        with self._lock:
            target = self.node(node)
            if not target.is_primary:
                raise FakeClusterError(f"{target.address} is a replica")
            chosen = _slot_list(slots)
            taken = [s for s in chosen if self._slots[s] is not None]
            if taken:
                raise FakeClusterError(f"slot {taken[0]} is already assigned")
            for slot in chosen:
                self._slots[slot] = target
            self._changed()

    def unassign_slots(self, slots: SlotsArg) -> None:
        """CLUSTER DELSLOTS: leave slots unserved (their keys stay where they are)."""
        with self._lock:
            for slot in _slot_list(slots):
                owner = self._slots[slot]
                if owner is not None:
                    self._slots_lost([owner, *owner.replicas], {slot})
                self._slots[slot] = None
                self._migrations.pop(slot, None)
            self._changed()

    def begin_migration(self, slots: SlotsArg, target: NodeRef) -> None:
        """CLUSTER SETSLOT MIGRATING/IMPORTING: the owner starts answering ASK for missing keys,
        ``target`` serves the slot to clients that sent ASKING."""
        with self._lock:
            dst = self.node(target)
            if not dst.is_primary:
                raise FakeClusterError(f"{dst.address} is a replica; migrate to a primary")
            chosen = _slot_list(slots)
            for slot in chosen:
                owner = self._slots[slot]
                if owner is None:
                    raise FakeClusterError(f"slot {slot} is not served by any node")
                if owner is dst:
                    raise FakeClusterError(f"slot {slot} already belongs to {dst.address}")
                if slot in self._migrations:
                    raise FakeClusterError(f"slot {slot} is already being migrated")
            for slot in chosen:
                owner = self._slots[slot]
                assert owner is not None
                self._migrations[slot] = (owner, dst)

    def move_keys(self, slot: int, count: Optional[int] = None) -> int:
        """MIGRATE up to ``count`` (default: all) keys of a migrating slot to its target, TTLs
        included. Returns how many moved."""
        with self._lock:
            slot = self._slot_of(slot)
            migration = self._migrations.get(slot)
            if migration is None:
                raise FakeClusterError(f"slot {slot} is not being migrated")
            src, dst = migration
            keys = sorted(k for k in src.db.live_keys() if key_slot(k) == slot)
            if count is not None:
                keys = keys[:max(0, count)]
            for key in keys:
                moved = src.db.take(key)
                if moved is not None:
                    dst.db.restore(key, *moved)
            return len(keys)

    def finish_migration(self, slots: SlotsArg, target: NodeRef) -> None:
        """CLUSTER SETSLOT NODE: ``target`` owns the slots (their keys must have been moved)."""
        with self._lock:
            dst = self.node(target)
            chosen = _slot_list(slots)
            for slot in chosen:
                migration = self._migrations.get(slot)
                if migration is None or migration[1] is not dst:
                    raise FakeClusterError(f"slot {slot} is not being migrated to {dst.address}")
                src = migration[0]
                if any(key_slot(k) == slot for k in src.db.live_keys()):
                    raise FakeClusterError(
                        f"can't assign hashslot {slot} to a different node while "
                        f"{src.address} still holds keys for it (call move_keys first)")
            for slot in chosen:
                src = self._migrations[slot][0]
                self._slots_lost([src, *src.replicas], {slot})
                self._slots[slot] = dst
                del self._migrations[slot]
            self._current_epoch += 1
            dst.config_epoch = self._current_epoch
            self._changed()

    def migrate(self, slots: SlotsArg, target: NodeRef) -> None:
        """Move slots and all their keys to ``target`` in one step."""
        with self._lock:
            chosen = _slot_list(slots)
            self.begin_migration(chosen, target)
            for slot in chosen:
                self.move_keys(slot)
            self.finish_migration(chosen, target)

    def close(self) -> None:
        """Take every node off the network (their connections drop)."""
        with self._lock:
            for node in self._nodes:
                self.network.remove(node.address)

    def __enter__(self) -> FakeCluster:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<FakeCluster {len(self.primaries())} primaries, {len(self.replicas())} "
                f"replicas, base {self._nodes[0].address}>")

    # --- pub/sub ------------------------------------------------------------------------------------
    def _pubsub_changed(self, node: FakeNode, session: FakeSession) -> None:
        """(Un)register a session as a subscriber on ``node`` after its subscriptions changed."""
        subscribers = self._subscribers.setdefault(node, {})
        if not _subscribed(session):
            subscribers.pop(session, None)
            return
        if session not in subscribers:
            for stream in self.network.connections_to(node.address):
                if stream.session is session:
                    subscribers[session] = stream
                    break

    def _live_subscribers(self, node: FakeNode) -> List[Tuple[FakeSession, FakeStream]]:
        """Subscribed sessions of a node that can receive (connection open, node answering)."""
        if not node.alive or node.frozen:
            return []
        subscribers = self._subscribers.get(node, {})
        for session, stream in list(subscribers.items()):
            if stream.closed or stream.closed_by_server:
                del subscribers[session]
        return list(subscribers.items())

    def _publish(self, origin: FakeNode, channel: bytes, message: bytes, sharded: bool) -> int:
        """Deliver on every node (PUBLISH) or on the nodes of the channel's shard (SPUBLISH);
        the count is of the receivers on ``origin``, as Redis counts them."""
        if sharded:
            owner = self._slots[key_slot(channel)]
            targets = [] if owner is None else [owner, *owner.replicas]
            if origin not in targets:
                targets.append(origin)
        else:
            targets = list(self._nodes)
        received = 0
        for node in targets:
            count = 0
            for session, stream in self._live_subscribers(node):
                state = session.state
                if sharded:
                    if channel in state.get("shard", ()):
                        _push(stream, session, [b"smessage", channel, message])
                        count += 1
                    continue
                if channel in state.get("channels", ()):
                    _push(stream, session, [b"message", channel, message])
                    count += 1
                for pattern in state.get("patterns", ()):
                    if fc.glob_match(pattern, channel):
                        _push(stream, session, [b"pmessage", pattern, channel, message])
                        count += 1
            if node is origin:
                received = count
        return received

    def _slots_lost(self, nodes: Sequence[FakeNode], slots: Iterable[int]) -> None:
        """What Redis does when a shard loses slots: its nodes unsubscribe the sharded channels
        of those slots, telling each client with a ``sunsubscribe`` message."""
        lost = set(slots)
        for node in nodes:
            for session, stream in self._live_subscribers(node):
                shard: Dict[bytes, None] = session.state.get("shard", {})
                for channel in [c for c in shard if key_slot(c) in lost]:
                    del shard[channel]
                    _push(stream, session, [b"sunsubscribe", channel, len(shard)])
                self._pubsub_changed(node, session)

    # --- layout -------------------------------------------------------------------------------------
    def _ranges(self) -> List[Tuple[int, int, FakeNode]]:
        """Contiguous slot ranges with their owner, in slot order (cached)."""
        if self._layout is None:
            out: List[Tuple[int, int, FakeNode]] = []
            start = 0
            for slot in range(1, NUM_SLOTS + 1):
                if slot == NUM_SLOTS or self._slots[slot] is not self._slots[start]:
                    owner = self._slots[start]
                    if owner is not None:
                        out.append((start, slot - 1, owner))
                    start = slot
            self._layout = out
        return self._layout

    def _cluster_ok(self) -> bool:
        if self._state_ok is None:
            if self._forced_down:
                self._state_ok = False
            elif not self.require_full_coverage:
                self._state_ok = True
            else:
                covered = sum(e - s + 1 for s, e, owner in self._ranges() if not owner.failed)
                self._state_ok = covered == NUM_SLOTS
        return self._state_ok

    # --- command execution ------------------------------------------------------------------------
    def _handle(self, node: FakeNode, session: FakeSession, args: List[bytes]) -> Any:
        with self._lock:
            node.seen.append(list(args))
            if not node.alive:
                return NO_REPLY
            if not all(isinstance(a, bytes) for a in args):
                return _error("ERR Protocol error: expected '$', got something else")
            return self._dispatch(node, session, args)

    def _dispatch(self, node: FakeNode, session: FakeSession, args: List[bytes]) -> Any:
        if not args:
            return NO_REPLY
        name = args[0].lower()
        spec = self._commands.get(name)
        state = session.state
        in_multi = "multi" in state
        reply: Any = self._admit(node, session, spec, args)
        if reply is not None:
            if in_multi and name == b"exec":
                self._end_transaction(session)
            elif in_multi:
                state["multi_dirty"] = True
        elif in_multi and name not in _TXN_CONTROL:
            state["multi"].append(args)
            reply = QUEUED
        else:
            assert spec is not None
            reply = self._run(spec, node, session, args)
        if name != b"asking" and "multi" not in state:
            session.asking = False
        reply = _adapt(reply, session.protocol == 3)
        if (reply is fc.NULL_ARRAY or isinstance(reply, (_Replies, fc.Score))
                or ((name in _NESTED_RAW or (spec is not None and spec.group == "sortedset"))
                    and _needs_raw(reply))):
            return self._write_raw(node, session, _encode_raw(reply, session.protocol))
        return reply

    def _write_raw(self, node: FakeNode, session: FakeSession, data: bytes) -> Any:
        """Write encoded reply bytes on the session's connection (replies encode_reply cannot
        write, several replies to one command); the caller then sends nothing itself."""
        for stream in self.network.connections_to(node.address):
            if stream.session is session:
                stream.push(data)
                break
        return NO_REPLY

    def _admit(self, node: FakeNode, session: FakeSession, spec: Optional[fc.CommandSpec],
               args: List[bytes]) -> Optional[ResponseError]:
        """The checks Redis' processCommand makes before running (or queueing) a command."""
        if spec is None:
            shown = ""
            for arg in args[1:]:
                if len(shown) >= 128:
                    break
                shown += "'" + arg[:128 - len(shown)].decode(errors="replace") + "' "
            return _error(f"ERR unknown command '{args[0][:128].decode(errors='replace')}', "
                          f"with args beginning with: {shown}")
        if not spec.arity_ok(len(args)):
            return _error(f"ERR wrong number of arguments for '{spec.name}' command")
        if (self._auth_required and session.authenticated_as is None
                and "no_auth" not in spec.flags):
            return _error(_NOAUTH)
        if spec.name == "exec" and "multi" in session.state:
            queued = [(self._commands[c[0].lower()], c) for c in session.state["multi"]]
            keys = [k for s, c in queued for k in s.keys(c)]
            is_write = any(s.is_write for s, _ in queued)
        else:
            keys = spec.keys(args)
            is_write = spec.is_write
        if keys:
            redirect = self._route(node, session, keys, is_write,
                                   "shard_channel" in spec.flags)
            if redirect is not None:
                return redirect
        elif is_write and node.is_replica:
            return _error(_READONLY)
        if (session.protocol == 2 and _subscribed(session)
                and spec.name not in _SUBSCRIBED_CONTEXT):
            name = spec.name
            if spec.scope == "node" and name in _CONTAINER_COMMANDS and len(args) > 1:
                name += "|" + args[1].decode(errors="replace").lower()
            return _error(f"ERR Can't execute '{name}': only (P|S)SUBSCRIBE / "
                          f"(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
        if node.loading and "loading" not in spec.flags:
            return _error(_LOADING)
        return None

    def _route(self, node: FakeNode, session: FakeSession, keys: Sequence[bytes],
               is_write: bool, shard_channel: bool = False) -> Optional[ResponseError]:
        """Redis 7's getNodeByQuery: serve here (None) or answer a redirection/error."""
        first = keys[0]
        slot = key_slot(first)
        owner = self._slots[slot]
        if owner is None:
            return _error("CLUSTERDOWN Hash slot not served")
        multiple = False
        for key in keys[1:]:
            if key != first:
                if key_slot(key) != slot:
                    return _error(_CROSSSLOT)
                multiple = True
        if not self._cluster_ok():
            return _error("CLUSTERDOWN The cluster is down")
        migration = self._migrations.get(slot)
        if shard_channel:
            # Sharded channels are not keys: the owner keeps serving them during a migration
            # (no ASK), and its replicas serve them without READONLY.
            if owner is node or node.primary is owner:
                return None
            if migration is not None and migration[1] is node and session.asking:
                return None
            return _error(f"MOVED {slot} {_endpoint(owner)}")
        migrating = migration is not None and migration[0] is node and owner is node
        importing = migration is not None and migration[1] is node and not migrating
        missing = existing = 0
        if migrating or importing:
            for key in keys:
                if node.db.exists(key):
                    existing += 1
                else:
                    missing += 1
        if migrating and missing:
            if existing:
                return _error(_TRYAGAIN)
            assert migration is not None
            return _error(f"ASK {slot} {_endpoint(migration[1])}")
        if importing and session.asking:
            if multiple and missing:
                return _error(_TRYAGAIN)
            return self._injected_tryagain(slot, multiple)
        if (session.readonly and not is_write and node.primary is not None
                and node.primary is owner):
            return self._injected_tryagain(slot, multiple)
        if owner is not node:
            return _error(f"MOVED {slot} {_endpoint(owner)}")
        return self._injected_tryagain(slot, multiple)

    def _injected_tryagain(self, slot: int, multiple: bool) -> Optional[ResponseError]:
        left = self._tryagain.get(slot, 0)
        if multiple and left > 0:
            if left == 1:
                del self._tryagain[slot]
            else:
                self._tryagain[slot] = left - 1
            return _error(_TRYAGAIN)
        return None

    def _run(self, spec: fc.CommandSpec, node: FakeNode, session: FakeSession,
             args: List[bytes]) -> Any:
        try:
            if spec.scope == "db":
                return spec.handler(node.db, args)
            return spec.handler(_Call(self, node, session), args)
        except fc.CommandError as exc:
            return _error(exc.message)

    def _end_transaction(self, session: FakeSession) -> None:
        for key in ("multi", "multi_dirty", "watched"):
            session.state.pop(key, None)

    # --- authentication ---------------------------------------------------------------------------
    def _authenticate(self, session: FakeSession, user: Optional[bytes],
                      password: bytes) -> Optional[ResponseError]:
        username = "default" if user is None else user.decode(errors="replace")
        if not self._auth_required:
            if user is None:
                return _error("ERR AUTH <password> called without any password configured for "
                              "the default user. Are you sure your configuration is correct?")
            if username == "default":
                session.authenticated_as = "default"
                return None
        if username in self.users:
            expected: Optional[str] = self.users[username]
        else:
            expected = self.password if username == "default" else None
        if expected is None or expected.encode() != password:
            return _error("WRONGPASS invalid username-password pair or user is disabled.")
        session.authenticated_as = username
        return None

    # --- replies shared by several commands ---------------------------------------------------------
    def _node_entry(self, node: FakeNode) -> List[Any]:
        return [node.host.encode(), node.port, node.id.encode(), {}]

    def _cluster_slots(self) -> List[Any]:
        out: List[Any] = []
        for start, end, owner in self._ranges():
            entry: List[Any] = [start, end, self._node_entry(owner)]
            entry += [self._node_entry(r) for r in self._nodes
                      if r.primary is owner and not r.failed]
            out.append(entry)
        return out

    def _health(self, node: FakeNode) -> str:
        if node.failed:
            return "fail"
        return "loading" if node.loading else "online"

    def _shard_node(self, node: FakeNode) -> Dict[str, Any]:
        return {"id": node.id, "port": node.port, "ip": node.host, "endpoint": node.host,
                "role": node.role, "replication-offset": node.db.offset,
                "health": self._health(node)}

    def _cluster_shards(self) -> List[Any]:
        out: List[Any] = []
        for primary in self._nodes:
            if not primary.is_primary:
                continue
            flat = [x for s, e, owner in self._ranges() if owner is primary for x in (s, e)]
            members = [primary] + [n for n in self._nodes if n.primary is primary]
            out.append({"slots": flat, "nodes": [self._shard_node(n) for n in members]})
        return out

    def _nodes_line(self, node: FakeNode, me: FakeNode) -> str:
        flags = (["myself"] if node is me else []) + ["master" if node.is_primary else "slave"]
        if node.failed:
            flags.append("fail")
        elif node.down_since is not None and node is not me:
            flags.append("fail?")
        up = node is me or (node.alive and not node.frozen)
        parts = [node.id, f"{_endpoint(node)}@{node.port + 10000}", ",".join(flags),
                 node.primary.id if node.primary is not None else "-", "0",
                 str(self._now_ms() if up and node is not me else 0),
                 str(node.config_epoch if node.is_primary or node.primary is None
                     else node.primary.config_epoch),
                 "connected" if up else "disconnected"]
        parts += [f"{s}-{e}" if s != e else str(s)
                  for s, e, owner in self._ranges() if owner is node]
        if node is me:
            for slot, (src, dst) in sorted(self._migrations.items()):
                if src is me:
                    parts.append(f"[{slot}->-{dst.id}]")
                elif dst is me:
                    parts.append(f"[{slot}-<-{src.id}]")
        return " ".join(parts)

    def _cluster_info(self, me: FakeNode) -> str:
        assigned = sum(e - s + 1 for s, e, _ in self._ranges())
        failed = sum(e - s + 1 for s, e, o in self._ranges() if o.failed)
        pfail = sum(e - s + 1 for s, e, o in self._ranges()
                    if not o.failed and o.down_since is not None)
        epoch_of = me if me.is_primary else me.primary
        assert epoch_of is not None
        lines = [
            f"cluster_state:{'ok' if self._cluster_ok() else 'fail'}",
            f"cluster_slots_assigned:{assigned}",
            f"cluster_slots_ok:{assigned - failed - pfail}",
            f"cluster_slots_pfail:{pfail}",
            f"cluster_slots_fail:{failed}",
            f"cluster_known_nodes:{len(self._nodes)}",
            f"cluster_size:{len({id(o) for _, _, o in self._ranges()})}",
            f"cluster_current_epoch:{self._current_epoch}",
            f"cluster_my_epoch:{epoch_of.config_epoch}",
            "cluster_stats_messages_sent:0",
            "cluster_stats_messages_received:0",
            "total_cluster_links_buffer_limit_exceeded:0",
        ]
        return "\r\n".join(lines) + "\r\n"

    def _config(self, node: FakeNode) -> Dict[str, str]:
        timeout = self.node_timeout
        return {
            "cluster-enabled": "yes",
            "cluster-require-full-coverage": "yes" if self.require_full_coverage else "no",
            "cluster-node-timeout": str(int((timeout if timeout is not None else 15.0) * 1000)),
            "cluster-allow-reads-when-down": "no",
            "port": str(node.port),
            "bind": node.host,
            "databases": "16",
            "maxmemory": "0",
            "maxmemory-policy": "noeviction",
            "appendonly": "no",
            "save": "",
            "timeout": "0",
            "replica-read-only": "yes",
        }

    def _info(self, node: FakeNode, sections: List[str]) -> str:
        db = node.db
        keys = db.live_keys()
        clients = len(self.network.connections_to(node.address))
        uptime = int(self.clock() - node.started_at)
        offset = db.offset
        text: Dict[str, List[str]] = {
            "server": [f"redis_version:{REDIS_VERSION}", "redis_git_sha1:00000000",
                       "redis_mode:cluster", "os:clustercore FakeCluster", "arch_bits:64",
                       f"process_id:{node.port}", f"run_id:{node.id}", f"tcp_port:{node.port}",
                       f"uptime_in_seconds:{uptime}", f"uptime_in_days:{uptime // 86400}"],
            "clients": [f"connected_clients:{clients}", "blocked_clients:0"],
            "memory": [f"used_memory:{1_000_000 + 100 * len(keys)}", "maxmemory:0",
                       "maxmemory_policy:noeviction"],
            "persistence": [f"loading:{int(node.loading)}", "rdb_changes_since_last_save:0",
                            "aof_enabled:0"],
            "stats": [f"total_commands_processed:{len(node.seen)}", "rejected_connections:0"],
            "replication": self._replication_info(node, offset),
            "cluster": ["cluster_enabled:1"],
            "keyspace": ([f"db0:keys={len(keys)},expires={len(db.expires)},avg_ttl=0"]
                         if keys else []),
        }
        wanted = [s.lower() for s in sections] or ["default"]
        if any(s in ("all", "everything", "default") for s in wanted):
            chosen = list(text)
        else:
            chosen = [s for s in text if s in wanted]
        blocks = ["# " + name.capitalize() + "\r\n" + "".join(line + "\r\n" for line in text[name])
                  for name in chosen]
        return "\r\n".join(blocks)

    def _replication_info(self, node: FakeNode, offset: int) -> List[str]:
        if node.primary is not None:
            primary = node.primary
            up = primary.alive and not primary.frozen
            return ["role:slave", f"master_host:{primary.host}", f"master_port:{primary.port}",
                    f"master_link_status:{'up' if up else 'down'}",
                    "master_last_io_seconds_ago:0", "master_sync_in_progress:0",
                    f"slave_read_repl_offset:{offset}", f"slave_repl_offset:{offset}",
                    "slave_priority:100", "slave_read_only:1", "replica_announced:1",
                    "connected_slaves:0", "master_failover_state:no-failover",
                    f"master_replid:{primary.id}", f"master_repl_offset:{offset}"]
        replicas = [r for r in self._nodes if r.primary is node and r.alive]
        lines = ["role:master", f"connected_slaves:{len(replicas)}"]
        lines += [f"slave{i}:ip={r.host},port={r.port},state=online,offset={offset},lag=0"
                  for i, r in enumerate(replicas)]
        lines += ["master_failover_state:no-failover", f"master_replid:{node.id}",
                  f"master_repl_offset:{offset}"]
        return lines


def _endpoint(node: FakeNode) -> str:
    return f"{node.host}:{node.port}"


def _even_split(masters: int) -> List[Tuple[int, int]]:
    """redis-cli's split of the 16384 slots over ``masters`` primaries."""
    per_node = NUM_SLOTS / masters
    ranges: List[Tuple[int, int]] = []
    first, cursor = 0, 0.0
    for i in range(masters):
        last = round(cursor + per_node - 1)
        if last > NUM_SLOTS - 1 or i == masters - 1:
            last = NUM_SLOTS - 1
        last = max(last, first)
        ranges.append((first, last))
        first = last + 1
        cursor += per_node
    return ranges


def _slot_list(slots: SlotsArg) -> List[int]:
    chosen = [slots] if isinstance(slots, int) else list(slots)
    for slot in chosen:
        if not isinstance(slot, int) or not 0 <= slot < NUM_SLOTS:
            raise FakeClusterError(f"slot {slot!r} is outside 0..16383")
    return chosen


# ------------------------------------------------------------------------------------------------
# Node-scope commands: connection, server, cluster, transactions
# ------------------------------------------------------------------------------------------------
_NODE_COMMANDS: Dict[bytes, fc.CommandSpec] = {}


def _node_cmd(name: str, arity: int, flags: str = "", first: int = 0, last: int = 0,
              step: int = 0, group: str = "connection") -> Callable[[fc.Handler], fc.Handler]:
    return fc.register(_NODE_COMMANDS, name, arity, flags, first, last, step, group, "node")


def _subcommand(call: _Call, a: List[bytes],
                table: Mapping[bytes, Tuple[int, Callable[[_Call, List[bytes]], Any]]]) -> Any:
    """Dispatch ``CONTAINER SUB ...`` with Redis' arity and unknown-subcommand errors."""
    container = a[0].decode(errors="replace")
    sub = a[1].lower()
    entry = table.get(sub)
    if entry is None:
        return _error(f"ERR unknown subcommand '{a[1][:128].decode(errors='replace')}'. "
                      f"Try {container.upper()} HELP.")
    arity, handler = entry
    if not (len(a) == arity if arity > 0 else len(a) >= -arity):
        return _error(f"ERR wrong number of arguments for '{container.lower()}|"
                      f"{sub.decode(errors='replace')}' command")
    return handler(call, a)


# --- connection -------------------------------------------------------------------------------------
@_node_cmd("ping", -1, "fast")
def _ping(call: _Call, a: List[bytes]) -> Any:
    if len(a) > 2:
        return _error("ERR wrong number of arguments for 'ping' command")
    if call.session.protocol == 2 and _subscribed(call.session):
        return [b"pong", a[1] if len(a) == 2 else b""]
    return a[1] if len(a) == 2 else SimpleString(b"PONG")


@_node_cmd("echo", 2, "loading stale fast")
def _echo(call: _Call, a: List[bytes]) -> bytes:
    return a[1]


@_node_cmd("hello", -1, "noscript no_auth loading stale fast")
def _hello(call: _Call, a: List[bytes]) -> Any:
    session, cluster = call.session, call.cluster
    protocol = session.protocol
    if len(a) >= 2:
        try:
            protocol = fc.parse_int(a[1])
        except fc.CommandError:
            return _error("ERR Protocol version is not an integer or out of range")
        if protocol not in (2, 3):
            return _error("NOPROTO unsupported protocol version")
    user: Optional[bytes] = None
    password = b""
    name: Optional[bytes] = None
    i = 2
    while i < len(a):
        opt = a[i].upper()
        if opt == b"AUTH" and i + 2 < len(a):
            user, password = a[i + 1], a[i + 2]
            i += 3
        elif opt == b"SETNAME" and i + 1 < len(a):
            name = a[i + 1]
            i += 2
        else:
            return _error(f"ERR Syntax error in HELLO option '{a[i].decode(errors='replace')}'")
    if user is not None:
        failed = cluster._authenticate(session, user, password)
        if failed is not None:
            return failed
    if cluster._auth_required and session.authenticated_as is None:
        return _error("NOAUTH HELLO must be called with the client already authenticated, "
                      "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                      "authenticate the client and select the RESP protocol version at the "
                      "same time")
    if name is not None:
        bad = _set_client_name(session, name)
        if bad is not None:
            return bad
    session.protocol = protocol
    return {"server": "redis", "version": REDIS_VERSION, "proto": protocol, "id": session.id,
            "mode": "cluster", "role": call.node.role,
            "modules": []}


@_node_cmd("auth", -2, "noscript no_auth loading stale fast")
def _auth(call: _Call, a: List[bytes]) -> Any:
    if len(a) > 3:
        return _error(fc.E_SYNTAX)
    user = a[1] if len(a) == 3 else None
    failed = call.cluster._authenticate(call.session, user, a[-1])
    return failed if failed is not None else OK


@_node_cmd("readonly", 1, "loading stale fast", group="cluster")
def _readonly(call: _Call, a: List[bytes]) -> SimpleString:
    call.session.readonly = True
    return OK


@_node_cmd("readwrite", 1, "loading stale fast", group="cluster")
def _readwrite(call: _Call, a: List[bytes]) -> SimpleString:
    call.session.readonly = False
    return OK


@_node_cmd("asking", 1, "fast", group="cluster")
def _asking(call: _Call, a: List[bytes]) -> SimpleString:
    call.session.asking = True
    return OK


@_node_cmd("select", 2, "loading stale fast")
def _select(call: _Call, a: List[bytes]) -> Any:
    index = fc.parse_int(a[1])
    if index != 0:
        return _error("ERR SELECT is not allowed in cluster mode")
    return OK


@_node_cmd("quit", -1, "noscript no_auth loading stale fast")
def _quit(call: _Call, a: List[bytes]) -> SimpleString:
    for stream in call.cluster.network.connections_to(call.node.address):
        if stream.session is call.session:
            stream.closed_by_server = True  # the OK is still delivered, then EOF
    return OK


def _set_client_name(session: FakeSession, name: bytes) -> Optional[ResponseError]:
    if any(c < 33 or c > 126 for c in name):
        return _error("ERR Client names cannot contain spaces, newlines or special characters.")
    session.name = name.decode() if name else None
    return None


def _client_info_line(call: _Call, session: FakeSession, command: str) -> str:
    state = session.state
    flags = (("x" if "multi" in state else "") + ("r" if session.readonly else "")
             + ("P" if _subscribed(session) else ""))
    multi = len(state["multi"]) if "multi" in state else -1
    subs = (f"sub={len(state.get('channels', ()))} psub={len(state.get('patterns', ()))} "
            f"ssub={len(state.get('shard', ()))}")
    return (f"id={session.id} addr=127.0.0.1:{40000 + session.id % 20000} "
            f"laddr={_endpoint(call.node)} fd={8 + session.id % 1000} name={session.name or ''} "
            f"age=0 idle=0 flags={flags or 'N'} db=0 {subs} multi={multi} "
            f"qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=16384 obl=0 oll=0 omem=0 "
            f"tot-mem=20000 events=r cmd={command} "
            f"user={session.authenticated_as or 'default'} redir=-1 resp={session.protocol}\n")


def _client_setname(call: _Call, a: List[bytes]) -> Any:
    bad = _set_client_name(call.session, a[2])
    return bad if bad is not None else OK


def _client_getname(call: _Call, a: List[bytes]) -> Optional[bytes]:
    return call.session.name.encode() if call.session.name else None


def _client_id(call: _Call, a: List[bytes]) -> int:
    return call.session.id


def _client_info(call: _Call, a: List[bytes]) -> bytes:
    return _client_info_line(call, call.session, "client|info").encode()


def _client_list(call: _Call, a: List[bytes]) -> bytes:
    streams = call.cluster.network.connections_to(call.node.address)
    sessions = [s.session for s in streams if not s.closed_by_server]
    if call.session not in sessions:
        sessions.append(call.session)
    return "".join(_client_info_line(call, s, "client|list" if s is call.session else "NULL")
                   for s in sessions).encode()


def _client_ok(call: _Call, a: List[bytes]) -> SimpleString:
    return OK


def _client_help(call: _Call, a: List[bytes]) -> List[bytes]:
    return [b"CLIENT <subcommand> [<arg> ...]. Subcommands are:",
            b"ID, INFO, LIST, GETNAME, SETNAME <name>, SETINFO <attr> <value>, NO-EVICT, "
            b"NO-TOUCH, HELP"]


_CLIENT: Dict[bytes, Tuple[int, Callable[[_Call, List[bytes]], Any]]] = {
    b"setname": (3, _client_setname), b"getname": (2, _client_getname), b"id": (2, _client_id),
    b"info": (2, _client_info), b"list": (-2, _client_list), b"setinfo": (4, _client_ok),
    b"no-evict": (3, _client_ok), b"no-touch": (3, _client_ok), b"help": (2, _client_help),
}


@_node_cmd("client", -2, "loading stale")
def _client(call: _Call, a: List[bytes]) -> Any:
    return _subcommand(call, a, _CLIENT)


# --- server -------------------------------------------------------------------------------------------
@_node_cmd("info", -1, "loading stale", group="dangerous")
def _info_cmd(call: _Call, a: List[bytes]) -> bytes:
    return call.cluster._info(call.node, [x.decode(errors="replace") for x in a[1:]]).encode()


def _config_get(call: _Call, a: List[bytes]) -> Dict[str, str]:
    config = call.cluster._config(call.node)
    return {k: v for k, v in config.items()
            if any(fc.glob_match(p.lower(), k.encode()) for p in a[2:])}


def _config_set(call: _Call, a: List[bytes]) -> Any:
    if len(a) % 2:
        return _error("ERR wrong number of arguments for 'config|set' command")
    cluster = call.cluster
    for i in range(2, len(a), 2):
        name, value = a[i].lower(), a[i + 1].lower()
        if name == b"cluster-require-full-coverage" and value in (b"yes", b"no"):
            cluster.require_full_coverage = value == b"yes"
            cluster._changed()
        elif name == b"cluster-node-timeout" and value.isdigit():
            cluster.node_timeout = int(value) / 1000.0
        elif name.decode(errors="replace") not in cluster._config(call.node):
            return _error(f"ERR Unknown option or number of arguments for CONFIG SET - "
                          f"'{a[i].decode(errors='replace')}'")
    return OK


_CONFIG: Dict[bytes, Tuple[int, Callable[[_Call, List[bytes]], Any]]] = {
    b"get": (-3, _config_get), b"set": (-4, _config_set), b"resetstat": (2, _client_ok),
}


@_node_cmd("config", -2, "loading stale", group="admin")
def _config_cmd(call: _Call, a: List[bytes]) -> Any:
    return _subcommand(call, a, _CONFIG)


@_node_cmd("time", 1, "loading stale fast", group="fast")
def _time(call: _Call, a: List[bytes]) -> List[bytes]:
    micros = round(call.cluster.clock.time() * 1_000_000)
    return [b"%d" % (micros // 1_000_000), b"%d" % (micros % 1_000_000)]


@_node_cmd("role", 1, "noscript loading stale fast", group="admin")
def _role(call: _Call, a: List[bytes]) -> List[Any]:
    node, offset = call.node, call.node.db.offset
    if node.primary is not None:
        return [b"slave", node.primary.host.encode(), node.primary.port, b"connected", offset]
    replicas = [r for r in call.cluster.nodes if r.primary is node and r.alive]
    return [b"master", offset,
            [[r.host.encode(), str(r.port).encode(), str(offset).encode()] for r in replicas]]


@_node_cmd("wait", 3, "noscript", group="connection")
def _wait(call: _Call, a: List[bytes]) -> Any:
    fc.parse_int(a[1])
    if fc.parse_int(a[2]) < 0:
        return _error("ERR timeout is negative")
    if call.node.primary is not None:
        return _error("ERR WAIT cannot be used with replica instances. Please also note that "
                      "since Redis 4.0 if a replica is configured to be writable (which is not "
                      "the default) writes to replicas are just local and are not propagated.")
    return len([r for r in call.cluster.nodes if r.primary is call.node and r.alive])


# --- pub/sub -----------------------------------------------------------------------------------------
#: Session state table of each kind of subscription.
_SUB_TABLES = {b"subscribe": "channels", b"unsubscribe": "channels", b"psubscribe": "patterns",
               b"punsubscribe": "patterns", b"ssubscribe": "shard", b"sunsubscribe": "shard"}
#: What a RESP2 connection with subscriptions may still run.
_SUBSCRIBED_CONTEXT = frozenset({"ping", "subscribe", "ssubscribe", "unsubscribe",
                                 "sunsubscribe", "psubscribe", "punsubscribe", "quit", "reset"})
_CONTAINER_COMMANDS = frozenset({"client", "config", "cluster", "command", "pubsub"})


def _subscribed(session: FakeSession) -> bool:
    state = session.state
    return bool(state.get("channels") or state.get("patterns") or state.get("shard"))


def _push(stream: FakeStream, session: FakeSession, message: List[Any]) -> None:
    """A message to a subscriber: a RESP3 push, or a plain array in RESP2. A session running
    EXEC gets it inside the EXEC array, before the reply of the command that caused it."""
    during_exec = session.state.get("exec_pushes")
    if during_exec is not None:
        during_exec.append(PushReply(message))
        return
    stream.push(encode_reply(PushReply(message), session.protocol))


def _subscription_count(session: FakeSession, kind: bytes) -> int:
    state = session.state
    if _SUB_TABLES[kind] == "shard":
        return len(state.get("shard", ()))
    return len(state.get("channels", ())) + len(state.get("patterns", ()))


def _subscription(call: _Call, a: List[bytes]) -> _Replies:
    """(P|S)SUBSCRIBE and (P|S)UNSUBSCRIBE: one acknowledgement per name (a push in RESP3)."""
    kind = a[0].lower()
    table: Dict[bytes, None] = call.session.state.setdefault(_SUB_TABLES[kind], {})
    adding = not kind.endswith(b"unsubscribe")
    names = a[1:] if len(a) > 1 else list(table)
    replies = _Replies()
    for name in names:
        if adding:
            table.setdefault(name, None)
        else:
            table.pop(name, None)
        replies.append(PushReply([kind, name, _subscription_count(call.session, kind)]))
    if not names:  # nothing to unsubscribe from
        replies.append(PushReply([kind, None, _subscription_count(call.session, kind)]))
    call.cluster._pubsub_changed(call.node, call.session)
    return replies


for _name in ("subscribe", "psubscribe"):
    fc.register(_NODE_COMMANDS, _name, -2, "pubsub noscript loading stale", group="pubsub",
                scope="node")(_subscription)
for _name in ("unsubscribe", "punsubscribe"):
    fc.register(_NODE_COMMANDS, _name, -1, "pubsub noscript loading stale", group="pubsub",
                scope="node")(_subscription)
_NODE_COMMANDS[b"ssubscribe"] = fc.CommandSpec(
    "ssubscribe", _subscription, -2,
    frozenset({"pubsub", "noscript", "loading", "stale", "shard_channel"}), 1, -1, 1,
    "pubsub", "node", ("@pubsub", "@slow"))
_NODE_COMMANDS[b"sunsubscribe"] = fc.CommandSpec(
    "sunsubscribe", _subscription, -1,
    frozenset({"pubsub", "noscript", "loading", "stale", "shard_channel"}), 1, -1, 1,
    "pubsub", "node", ("@pubsub", "@slow"))


@_node_cmd("publish", 3, "pubsub loading stale fast", group="pubsub")
def _publish(call: _Call, a: List[bytes]) -> int:
    return call.cluster._publish(call.node, a[1], a[2], sharded=False)


def _spublish(call: _Call, a: List[bytes]) -> int:
    return call.cluster._publish(call.node, a[1], a[2], sharded=True)


_NODE_COMMANDS[b"spublish"] = fc.CommandSpec(
    "spublish", _spublish, 3, frozenset({"pubsub", "loading", "stale", "fast", "shard_channel"}),
    1, 1, 1, "pubsub", "node", ("@pubsub", "@fast"))


def _local_subscriptions(call: _Call, table: str) -> Dict[bytes, int]:
    """Channel (or pattern) -> subscribers on this node."""
    counts: Dict[bytes, int] = {}
    for session, _ in call.cluster._live_subscribers(call.node):
        for name in session.state.get(table, ()):
            counts[name] = counts.get(name, 0) + 1
    return counts


def _pubsub_channels(table: str) -> Callable[[_Call, List[bytes]], Any]:
    def channels(call: _Call, a: List[bytes]) -> Any:
        if len(a) > 3:
            return _error(f"ERR unknown subcommand or wrong number of arguments for "
                          f"'{a[1].decode(errors='replace')}'. Try PUBSUB HELP.")
        return sorted(c for c in _local_subscriptions(call, table)
                      if len(a) == 2 or fc.glob_match(a[2], c))
    return channels


def _pubsub_numsub(table: str) -> Callable[[_Call, List[bytes]], Any]:
    def numsub(call: _Call, a: List[bytes]) -> List[Any]:
        counts = _local_subscriptions(call, table)
        return [x for channel in a[2:] for x in (channel, counts.get(channel, 0))]
    return numsub


def _pubsub_numpat(call: _Call, a: List[bytes]) -> int:
    return len(_local_subscriptions(call, "patterns"))


def _pubsub_help(call: _Call, a: List[bytes]) -> List[bytes]:
    return [b"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            b"CHANNELS [<pattern>]", b"NUMPAT", b"NUMSUB [<channel> ...]",
            b"SHARDCHANNELS [<pattern>]", b"SHARDNUMSUB [<shardchannel> ...]", b"HELP"]


_PUBSUB: Dict[bytes, Tuple[int, Callable[[_Call, List[bytes]], Any]]] = {
    b"channels": (-2, _pubsub_channels("channels")), b"numsub": (-2, _pubsub_numsub("channels")),
    b"numpat": (2, _pubsub_numpat), b"shardchannels": (-2, _pubsub_channels("shard")),
    b"shardnumsub": (-2, _pubsub_numsub("shard")), b"help": (2, _pubsub_help),
}


@_node_cmd("pubsub", -2, "", group="pubsub")
def _pubsub_cmd(call: _Call, a: List[bytes]) -> Any:
    return _subcommand(call, a, _PUBSUB)


@_node_cmd("reset", 1, "noscript loading stale fast no_auth")
def _reset(call: _Call, a: List[bytes]) -> SimpleString:
    """Back to a new connection's state: no transaction, WATCH or subscription, RESP2,
    READWRITE, no name, and the default user (unauthenticated when a password is needed)."""
    session, cluster = call.session, call.cluster
    cluster._end_transaction(session)
    for table in ("channels", "patterns", "shard"):
        session.state.pop(table, None)
    cluster._pubsub_changed(call.node, session)
    session.protocol = 2
    session.readonly = session.asking = False
    session.name = None
    session.authenticated_as = None if cluster._auth_required else "default"
    return SimpleString(b"RESET")


# --- transactions -------------------------------------------------------------------------------------
@_node_cmd("multi", 1, "noscript loading stale fast", group="transaction")
def _multi(call: _Call, a: List[bytes]) -> Any:
    state = call.session.state
    if "multi" in state:
        return _error("ERR MULTI calls can not be nested")
    state["multi"] = []
    state["multi_dirty"] = False
    return OK


@_node_cmd("exec", 1, "noscript loading stale", group="transaction")
def _exec(call: _Call, a: List[bytes]) -> Any:
    state = call.session.state
    if "multi" not in state:
        return _error("ERR EXEC without MULTI")
    queued: List[List[bytes]] = state["multi"]
    dirty = state.get("multi_dirty", False)
    watched = state.get("watched", [])
    call.cluster._end_transaction(call.session)
    if dirty:
        return _error("EXECABORT Transaction discarded because of previous errors.")
    for db, key, version in watched:
        db.expire_if_needed(key)
        if db.version(key) != version:
            return None
    cluster = call.cluster
    results: List[Any] = []
    for command in queued:
        pushes: List[Any] = []
        state["exec_pushes"] = pushes
        try:
            result = cluster._run(cluster._commands[command[0].lower()], call.node,
                                  call.session, command)
        finally:
            del state["exec_pushes"]
        results.append(_Replies([*pushes, result]) if pushes else result)
    return results


@_node_cmd("discard", 1, "noscript loading stale fast", group="transaction")
def _discard(call: _Call, a: List[bytes]) -> Any:
    if "multi" not in call.session.state:
        return _error("ERR DISCARD without MULTI")
    call.cluster._end_transaction(call.session)
    return OK


@_node_cmd("watch", -2, "noscript loading stale fast", 1, -1, 1, group="transaction")
def _watch(call: _Call, a: List[bytes]) -> Any:
    state = call.session.state
    if "multi" in state:
        return _error("ERR WATCH inside MULTI is not allowed")
    db = call.node.db
    watched = state.setdefault("watched", [])
    for key in a[1:]:
        db.expire_if_needed(key)
        watched.append((db, key, db.version(key)))
    return OK


@_node_cmd("unwatch", 1, "noscript loading stale fast", group="transaction")
def _unwatch(call: _Call, a: List[bytes]) -> SimpleString:
    call.session.state.pop("watched", None)
    return OK


# --- COMMAND ----------------------------------------------------------------------------------------
_FLAG_ORDER = ("write", "readonly", "denyoom", "admin", "pubsub", "noscript", "blocking",
               "loading", "stale", "no_auth", "fast", "movablekeys")
_CONTAINERS = frozenset({"client", "config", "cluster"})


def _command_info(spec: fc.CommandSpec) -> List[Any]:
    """One COMMAND INFO entry in Redis 7's ten-field shape."""
    shown = () if spec.name in _CONTAINERS else _FLAG_ORDER  # their subcommands carry flags
    flags = [SimpleString(f.encode()) for f in shown if f in spec.flags]
    key_specs: List[Any] = []
    if spec.first:
        lastkey = spec.last - spec.first if spec.last >= 0 else spec.last
        key_specs.append({
            "flags": [SimpleString(b"RW"), SimpleString(b"update")] if spec.is_write
            else [SimpleString(b"RO"), SimpleString(b"access")],
            "begin_search": {"type": "index", "spec": {"index": spec.first}},
            "find_keys": {"type": "range",
                          "spec": {"lastkey": lastkey, "keystep": spec.step, "limit": 0}},
        })
    return [spec.name.encode(), spec.arity, flags, spec.first, spec.last, spec.step,
            [SimpleString(c.encode()) for c in spec.acl_categories()], [], key_specs, []]


def _command_count(call: _Call, a: List[bytes]) -> int:
    return len(call.cluster._commands)


def _command_info_sub(call: _Call, a: List[bytes]) -> List[Any]:
    table = call.cluster._commands
    if len(a) == 2:
        return [_command_info(s) for s in table.values()]
    return [_command_info(table[n.lower()]) if n.lower() in table else None for n in a[2:]]


def _command_list(call: _Call, a: List[bytes]) -> List[bytes]:
    return [name for name in call.cluster._commands]


def _command_docs(call: _Call, a: List[bytes]) -> Dict[bytes, Any]:
    return {}


def _command_getkeys(call: _Call, a: List[bytes]) -> Any:
    spec = call.cluster._commands.get(a[2].lower())
    if spec is None:
        return _error("ERR Invalid command specified")
    if not spec.arity_ok(len(a) - 2):
        return _error("ERR Invalid number of arguments specified for command")
    keys = spec.keys(a[2:])
    return keys if keys else _error("ERR The command has no key arguments")


_COMMAND: Dict[bytes, Tuple[int, Callable[[_Call, List[bytes]], Any]]] = {
    b"count": (2, _command_count), b"info": (-2, _command_info_sub), b"list": (-2, _command_list),
    b"docs": (-2, _command_docs), b"getkeys": (-3, _command_getkeys),
}


@_node_cmd("command", -1, "loading stale", group="connection")
def _command(call: _Call, a: List[bytes]) -> Any:
    if len(a) == 1:
        return [_command_info(s) for s in call.cluster._commands.values()]
    return _subcommand(call, a, _COMMAND)


# --- CLUSTER ------------------------------------------------------------------------------------------
def _cluster_slots(call: _Call, a: List[bytes]) -> List[Any]:
    return call.cluster._cluster_slots()


def _cluster_shards(call: _Call, a: List[bytes]) -> Any:
    if not call.cluster.shards_supported:
        return _error(f"ERR unknown subcommand '{a[1].decode(errors='replace')}'. "
                      f"Try CLUSTER HELP.")
    return call.cluster._cluster_shards()


def _cluster_nodes(call: _Call, a: List[bytes]) -> bytes:
    cluster = call.cluster
    return "".join(cluster._nodes_line(n, call.node) + "\n" for n in cluster._nodes).encode()


def _cluster_info(call: _Call, a: List[bytes]) -> bytes:
    return call.cluster._cluster_info(call.node).encode()


def _cluster_myid(call: _Call, a: List[bytes]) -> bytes:
    return call.node.id.encode()


def _cluster_keyslot(call: _Call, a: List[bytes]) -> int:
    return key_slot(a[2])


def _parse_slot(arg: bytes, message: str) -> int:
    slot = fc.parse_int(arg)
    if not 0 <= slot < NUM_SLOTS:
        raise fc.CommandError(message)
    return slot


def _cluster_countkeysinslot(call: _Call, a: List[bytes]) -> int:
    slot = _parse_slot(a[2], "ERR Invalid slot")
    return sum(1 for k in call.node.db.live_keys() if key_slot(k) == slot)


def _cluster_getkeysinslot(call: _Call, a: List[bytes]) -> List[bytes]:
    message = "ERR Invalid slot or number of keys"
    slot = _parse_slot(a[2], message)
    count = fc.parse_int(a[3])
    if count < 0:
        raise fc.CommandError(message)
    return sorted(k for k in call.node.db.live_keys() if key_slot(k) == slot)[:count]


def _cluster_replicas(call: _Call, a: List[bytes]) -> Any:
    wanted = a[2].decode(errors="replace")
    cluster = call.cluster
    node = next((n for n in cluster._nodes if n.id == wanted), None)
    if node is None:
        return _error(f"ERR Unknown node {wanted}")
    if not node.is_primary:
        return _error("ERR The specified node is not a master")
    return [cluster._nodes_line(r, call.node).encode() for r in cluster._nodes
            if r.primary is node]


def _cluster_help(call: _Call, a: List[bytes]) -> List[bytes]:
    return [b"CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            b"SLOTS, SHARDS, NODES, INFO, MYID, KEYSLOT <key>, COUNTKEYSINSLOT <slot>, "
            b"GETKEYSINSLOT <slot> <count>, REPLICAS <node-id>, HELP"]


_CLUSTER: Dict[bytes, Tuple[int, Callable[[_Call, List[bytes]], Any]]] = {
    b"slots": (2, _cluster_slots), b"shards": (2, _cluster_shards), b"nodes": (2, _cluster_nodes),
    b"info": (2, _cluster_info), b"myid": (2, _cluster_myid), b"keyslot": (3, _cluster_keyslot),
    b"countkeysinslot": (3, _cluster_countkeysinslot),
    b"getkeysinslot": (4, _cluster_getkeysinslot), b"replicas": (3, _cluster_replicas),
    b"slaves": (3, _cluster_replicas), b"help": (2, _cluster_help),
}


@_node_cmd("cluster", -2, "loading stale", group="cluster")
def _cluster_cmd(call: _Call, a: List[bytes]) -> Any:
    return _subcommand(call, a, _CLUSTER)
