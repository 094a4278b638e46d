"""The public pool family: one implementation, four configurations (redis-py-cluster 2.1.3 API).

``ClusterConnectionPool`` maps the 16384 slots to nodes through a frozen :class:`Topology` that
is replaced by swapping one reference, and keeps one :class:`NodePool` per node. The three other
public pools only change defaults: ``ClusterBlockingConnectionPool`` waits up to ``timeout``;
``ClusterReadOnlyConnectionPool`` sends READONLY and reads from replicas;
``ClusterWithReadReplicasConnectionPool`` spreads reads over replicas and the primary.

This module is the node map, the routing and the checkout. The rest of the pool lives beside
it: :mod:`.config` checks the constructor's arguments into a frozen :class:`PoolConfig`;
:mod:`.refresher` runs topology refreshes (never stalling callers: one at a time, in the
background, over discovery's own connections, while callers keep using the current snapshot;
only a caller with no usable snapshot at all waits, behind a single discovery, with a deadline)
and the maintenance thread; :mod:`.views` shows the layout as redis-py-cluster's node dicts;
:mod:`.fork` tells a forked child to start over; ``clustercore._slots.slot_number`` says what
a slot number is (one definition for the topology and every route here).

A returned connection finds its way home by its address and its generation (see
:meth:`NodePool.owns`): the current node pool of that address, else a pool retired when its
node left the cluster and still owed connections, else nobody (the connection is closed).
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import weakref
from time import monotonic
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .._address import NodeAddress, coerce_port
from .._net.connection import DEFAULT_SOCKET_TIMEOUT, ClusterConnection
from .._net.transport import TLSPolicy
from .._slots import NUM_SLOTS, key_slot, slot_number
from .._topology.discovery import Discovery
from .._topology.snapshot import Role, Shard, Topology, node_record
from ..errors import PoolClosedError, SlotNotCoveredError
from .config import (
    READ_POLICIES,
    UNCAPPED,
    ConnectionKwargs,
    NodeLike,
    build_pool_config,
    connection_arguments,
    parse_startup_nodes,
)
from .foreign import pooled_class
from .fork import fork_generation, restart_lock
from .node_pool import Budget, LenientNodePool, NodePool
from .refresher import Refresher
from .rpc_api import ReadOnlyApi, RpcPoolApi
from .stats import EventHook, PoolStats, call_hook
from .views import NodeRecords

__all__ = [
    "READ_POLICIES",
    "ClusterBlockingConnectionPool",
    "ClusterConnectionPool",
    "ClusterReadOnlyConnectionPool",
    "ClusterWithReadReplicasConnectionPool",
    "parse_startup_nodes",
]

_log = logging.getLogger("clustercore.pool")


class ClusterConnectionPool(NodeRecords, RpcPoolApi):
    """Connections to every node of one cluster, routed by slot (redis-py-cluster's API).

    The positional arguments are redis-py-cluster's. The keyword options: ``blocking`` waits
    up to ``timeout`` for a free connection (else TooManyConnectionsError at once), with at
    most ``max_waiters`` callers in line per node; ``readonly``/``read_policy`` (one of
    READ_POLICIES) send reads to replicas; ``max_idle_time`` closes connections idle that long
    and ``min_idle_per_node`` keeps that many open; ``refresh_interval`` refreshes the layout
    periodically, ``refresh_min_interval`` rate-limits the refreshes errors ask for;
    ``failure_cooldown`` is how long a node that refused a connect is not dialled again;
    ``probe_timeout``/``discovery_timeout`` bound one seed's answer and one whole discovery;
    ``event_hook(event, fields)`` sees connections, waits, failures and refreshes (called with
    no lock held); ``ssl`` picks SSLClusterConnection; ``rng`` and ``clock`` are injectable for
    tests, as is ``background_refresh=False`` (refreshes inline). Every other keyword argument
    goes to the connection class.

    ``connection_class`` may be any class: a ClusterConnection subclass serves discovery too;
    another class (redis-py-cluster's tests use one with nothing but ``__init__``) is used
    only for the connections the pool hands out, built as redis-py-cluster built them
    (``cls(host=, port=, **connection_kwargs)``), reused without liveness checks, and never
    connected by the pool; discovery and refreshes speak through clustercore's own class.
    """

    #: The default ``socket_timeout``, put into ``connection_kwargs`` (redis-py-cluster's
    #: attribute; its value was None, "wait forever": clustercore's is finite, see
    #: ``DEFAULT_SOCKET_TIMEOUT`` in docs/retries.md).
    RedisClusterDefaultTimeout: Optional[float] = DEFAULT_SOCKET_TIMEOUT

    def __init__(
        self,
        startup_nodes: Optional[Sequence[NodeLike]] = None,
        init_slot_cache: bool = True,
        connection_class: Optional[type] = None,
        max_connections: Optional[int] = None,
        max_connections_per_node: Union[bool, int] = False,
        reinitialize_steps: Optional[int] = None,
        skip_full_coverage_check: bool = False,
        nodemanager_follow_cluster: bool = False,
        host_port_remap: Any = None,
        *,
        blocking: bool = False,
        timeout: Optional[float] = 20.0,
        max_waiters: Optional[int] = None,
        readonly: bool = False,
        read_policy: str = "primary",
        max_idle_time: Optional[float] = None,
        min_idle_per_node: int = 0,
        refresh_interval: Optional[float] = None,
        refresh_min_interval: float = 0.5,
        failure_cooldown: float = 1.0,
        probe_timeout: float = 2.0,
        discovery_timeout: Optional[float] = None,
        event_hook: Optional[EventHook] = None,
        ssl: bool = False,
        rng: Optional[random.Random] = None,
        clock: Callable[[], float] = monotonic,
        background_refresh: bool = True,
        follow_unknown_redirects: bool = False,
        **connection_kwargs: Any,
    ) -> None:
        #: The redirect guard's opt-out: False (the default) never dials a node that a MOVED or
        #: ASK names unless a cluster layout lists it (see :meth:`redirect_address`).
        self.follow_unknown_redirects = bool(follow_unknown_redirects)
        #: The checked, frozen configuration; the attributes below are copies of it.
        self.config = config = build_pool_config(
            startup_nodes, connection_kwargs, init_slot_cache=init_slot_cache,
            connection_class=connection_class, max_connections=max_connections,
            max_connections_per_node=max_connections_per_node,
            reinitialize_steps=reinitialize_steps,
            skip_full_coverage_check=skip_full_coverage_check,
            nodemanager_follow_cluster=nodemanager_follow_cluster,
            host_port_remap=host_port_remap, blocking=blocking, timeout=timeout,
            max_waiters=max_waiters, readonly=readonly, read_policy=read_policy,
            max_idle_time=max_idle_time, min_idle_per_node=min_idle_per_node,
            refresh_interval=refresh_interval, refresh_min_interval=refresh_min_interval,
            failure_cooldown=failure_cooldown, probe_timeout=probe_timeout,
            discovery_timeout=discovery_timeout, event_hook=event_hook, ssl=ssl, rng=rng,
            clock=clock, background_refresh=background_refresh)
        # What redis-py-cluster code (and the client) reads off a pool.
        self.connection_class = config.connection_class
        self._foreign_class = pooled_class(config.connection_class)
        self.connection_kwargs: Dict[str, Any] = ConnectionKwargs(config.connection_kwargs)
        # redis-py-cluster's pools always carry the key (None: wait for replies without limit,
        # unless the client's own deadlines apply).
        self.connection_kwargs.setdefault("socket_timeout", self.RedisClusterDefaultTimeout)
        #: Where discovery starts; follows the cluster with nodemanager_follow_cluster.
        self.startup_nodes: List[NodeAddress] = list(config.startup_nodes)
        self.orig_startup_nodes: List[NodeAddress] = list(config.startup_nodes)
        #: redis-py-cluster's reading: the number given, else 2**31 (the real caps are
        #: ``config.max_connections`` and ``config.max_connections_per_node``).
        self.max_connections = max_connections or UNCAPPED
        self.max_connections_per_node = config.max_connections_per_node
        self.reinitialize_steps = config.reinitialize_steps
        self.nodemanager_follow_cluster = config.nodemanager_follow_cluster
        self.readonly, self.read_policy = config.readonly, config.read_policy
        self.blocking, self.timeout = config.blocking, config.timeout
        self.max_waiters, self.max_idle_time = config.max_waiters, config.max_idle_time
        self.min_idle_per_node = config.min_idle_per_node
        self.failure_cooldown = config.failure_cooldown
        self.refresh_interval = config.refresh_interval
        self.refresh_min_interval = config.refresh_min_interval
        self.discovery_timeout = config.discovery_timeout
        self.background_refresh = config.background_refresh
        #: Time source for cool-downs, idle times and refresh rate limits (tests inject one).
        self.clock = config.clock

        self._remap = config.remap
        self._rng = config.rng
        self._hook = config.event_hook
        self._lock = threading.Lock()  # node map, topology swaps, MOVED count; never during I/O
        self._pools: Dict[NodeAddress, NodePool] = {}  # copy-on-write: read without the lock
        #: Closed pools of nodes that left the cluster, while connections they lent are out.
        self._retired: Tuple[NodePool, ...] = ()
        self._budget = Budget(config.max_connections)
        self._topology = Topology((), epoch=0)
        self._fork_generation = fork_generation[0]
        #: close(reopen_on_use=True) was called: the next checkout reopens the pool.
        self._reopen_on_use = False
        self._closing = False  # close() is still shutting down (no reopen meanwhile)
        self._closed = False
        self._moved_count = 0
        self._rr = itertools.count()
        policy = config.own_connection_kwargs.get("ssl_policy")
        if isinstance(policy, TLSPolicy) and policy.announced is None:
            policy.follow_announced(_announced_hostnames(weakref.ref(self)))  # TLS names
        self._discovery = Discovery(
            self._probe_connection, remap=config.remap,
            skip_full_coverage_check=config.skip_full_coverage_check,
            probe_timeout=config.probe_timeout, prefer_tls=config.tls, rng=config.rng)
        self._refresher = Refresher(
            config, self._discovery, topology=lambda: self._topology,
            seeds=lambda: self.startup_nodes, publish=self._publish, maintain=self._maintain)
        if config.init_slot_cache:
            self.initialize()
        self._refresher.start()

    # --- connections ------------------------------------------------------------------------
    def make_connection(self, node: NodeLike, **overrides: Any) -> ClusterConnection:
        """redis-py-cluster's ``make_connection(node)``: a new connection to ``node``, counted
        and capped like any the pool lends (TooManyConnectionsError, "Too many connections",
        at the cap; never waiting), carrying ``.node``; not connected yet (it connects on its
        first command); give it back with release().

        With keyword ``overrides`` it is :meth:`dedicated_connection` instead (uncounted:
        what pub/sub and MONITOR keep for themselves)."""
        if overrides:
            return self.dedicated_connection(node, **overrides)
        address = self.address_of(node)
        if self._closed or self._fork_generation != fork_generation[0]:
            self._check_usable()
        pool = self._pools.get(address) or self._node_pool(address)
        return pool.open_new(connect=False)

    def dedicated_connection(self, node: NodeLike, **overrides: Any) -> ClusterConnection:
        """A new, unconnected connection to ``node`` that no node pool counts or takes back
        (the caller closes it), of the pool's own connection class (clustercore's when
        ``connection_class`` is a foreign one) with the pool's settings and ``overrides``."""
        address = self.address_of(node)
        config = self.config
        base = self.connection_kwargs if config.native else config.own_connection_kwargs
        kwargs = connection_arguments(base, overrides)
        kwargs.setdefault("readonly", self.readonly)
        return config.own_connection_class(address.host, address.port, **kwargs)

    def _new_connection(self, address: NodeAddress) -> ClusterConnection:
        """A node pool's factory: the caller's class with the caller's keywords (a foreign
        class gets them exactly as redis-py-cluster passed them), carrying its node dict."""
        if self.config.native:
            conn = self.dedicated_connection(address)
        else:
            kwargs = dict(self.connection_kwargs)
            if self.readonly:
                kwargs.setdefault("readonly", True)
            conn = self._foreign_class(host=address.host, port=address.port, **kwargs)
            if getattr(conn, "address", None) is None:
                conn.address = address
        role = self._topology.role_of(address)
        conn.node = node_record(address, role or Role.PRIMARY)
        return conn

    def _probe_connection(self, address: NodeAddress, timeout: float) -> ClusterConnection:
        timeouts = [t for t in (self.connection_kwargs.get("socket_timeout"), timeout) if t]
        return self.dedicated_connection(address, readonly=False, socket_timeout=min(timeouts),
                                         socket_connect_timeout=min(timeouts))

    def _node_pool(self, address: NodeAddress) -> NodePool:
        pool = self._pools.get(address)
        if pool is not None:
            return pool
        self._check_usable()
        config = self.config
        with self._lock:
            pool = self._pools.get(address)
            if pool is None:
                role = self._topology.role_of(address)
                kind = NodePool if config.native else LenientNodePool
                pool = kind(
                    address, self._new_connection, max_size=config.max_connections_per_node,
                    budget=self._budget, blocking=config.blocking, timeout=config.timeout,
                    max_waiters=config.max_waiters, max_idle_time=config.max_idle_time,
                    failure_cooldown=config.failure_cooldown, event_hook=self._hook,
                    clock=config.clock, role=role.value if role is not None else None,
                    connect_new=config.native)
                pools = dict(self._pools)
                pools[address] = pool
                self._pools = pools  # copy-on-write: readers never see a dict being resized
            return pool

    def _check_usable(self) -> None:
        if self._closed:
            if not self._reopen_on_use:
                raise PoolClosedError("the connection pool is closed")
            self._reopen()
        if self._fork_generation != fork_generation[0]:
            with restart_lock():
                if self._fork_generation != fork_generation[0]:  # no other thread did it
                    self._after_fork()

    def _after_fork(self) -> None:
        """In a forked child: forget the parent's connections and threads, never touch them."""
        self._lock = threading.Lock()
        self._pools = {}
        self._retired = ()
        self._budget = Budget(self.config.max_connections)
        self._refresher.after_fork()
        self._discovery.after_fork()
        self._fork_generation = fork_generation[0]

    # --- topology -------------------------------------------------------------------------------
    @property
    def topology(self) -> Topology:
        """The current layout snapshot (immutable)."""
        return self._topology

    def initialize(self) -> None:
        """Discover the layout now (synchronously), from the startup nodes."""
        self._check_usable()
        seeds = self.startup_nodes if self.nodemanager_follow_cluster else self.orig_startup_nodes
        self._refresher.refresh_now("initialize", seeds=seeds, known=())

    def ensure_topology(self) -> Topology:
        """The current layout, discovered first (synchronously) if none is known yet."""
        topology = self._topology
        if topology.shards:
            return topology
        self._check_usable()
        self._refresher.refresh_now("first use")
        return self._topology

    def request_refresh(self, trigger: str, avoid: Optional[NodeAddress] = None) -> bool:
        """Ask for a refresh in the background (rate-limited, one at a time). Never blocks."""
        if self._closed:
            return False
        return self._refresher.request(trigger, avoid)

    def catch_up(self, trigger: str, avoid: Optional[NodeAddress], max_age: float,
                 timeout: float) -> bool:
        """Before a call's last try: a layout at most ``max_age`` old, waiting at most
        ``timeout`` -- the rate limit does not apply (see :meth:`Refresher.catch_up`)."""
        if self._closed:
            return False
        return self._refresher.catch_up(trigger, avoid, max_age, timeout)

    def _publish(self, topology: Topology, trigger: str) -> None:
        """Install a discovered layout (the refresher's callback): swap the snapshot, close
        the pools of nodes that left, update roles, tell the log and the event hook."""
        known = set(topology.nodes)
        with self._lock:
            old, self._topology = self._topology, topology  # the atomic swap
            self._moved_count = 0
            gone = [pool for address, pool in self._pools.items() if address not in known]
            if gone:  # nodes that left the cluster: forget their pools (copy-on-write)
                # _retired first: release() reads _pools and then _retired without the lock,
                # so a connection of a pool leaving _pools must already find it in _retired
                self._retired = (*(p for p in self._retired if _lending(p)), *gone)
                self._pools = {a: p for a, p in self._pools.items() if a in known}
            for address, pool in self._pools.items():
                role = topology.role_of(address)
                pool.role = role.value if role is not None else None
        for pool in gone:
            pool.close()  # idle sockets now, in-use ones when their callers release them
        if self.nodemanager_follow_cluster:
            self.startup_nodes = list(topology.nodes) or self.startup_nodes
        changed = old.fingerprint() != topology.fingerprint()
        if changed:
            _log.info("cluster layout %s (trigger %s):\n%s",
                      "discovered" if not old.shards else "changed", trigger, topology.describe())
        self._emit("topology_refreshed", trigger=trigger, epoch=topology.epoch, changed=changed)

    def redirect_address(self, address: NodeAddress) -> Optional[NodeAddress]:
        """Where a MOVED or ASK naming ``address`` may be followed: the address as this pool
        dials it (host_port_remap applied), or None when no layout lists that node and the
        redirect guard is on (``follow_unknown_redirects=False``, the default). Following such
        a redirect would send the command -- and AUTH with the password -- to any host:port a
        reply names (Lettuce refuses them too: validateClusterNodeMembership)."""
        if self._remap is not None:
            address = self._remap(address)
        if self.follow_unknown_redirects or self._topology.role_of(address) is not None:
            return address
        return None

    def on_moved(self, slot: int, address: NodeAddress) -> None:
        """A MOVED reply: move that slot at once; refresh when the target was not a known
        primary (failover, new node) or every ``reinitialize_steps`` MOVEDs. A target that no
        layout lists (see :meth:`redirect_address`) is not put in the map: a refresh is asked
        for instead, and the slot moves when a layout lists the node."""
        index = slot_number(slot)
        known = self.redirect_address(address)
        if known is None:
            self.request_refresh("redirect to unknown node")
            return
        address = known
        with self._lock:
            current = self._topology
            shard = current.slots[index] if current.shards else None
            if shard is None or shard.primary != address:
                self._topology = current.with_slot_owner(index, address, current.epoch)
            due = self._count_moved_locked(1)
        if due or current.role_of(address) != Role.PRIMARY:
            self.request_refresh("moved")

    def increment_reinitialize_counter(self, ct: int = 1) -> None:
        """redis-py-cluster's hook: count ``ct`` MOVEDs; refresh every reinitialize_steps."""
        with self._lock:
            due = self._count_moved_locked(ct)
        if due:
            self.request_refresh("reinitialize_steps")

    def _count_moved_locked(self, count: int) -> bool:
        """Count MOVED replies (lock held); True when reinitialize_steps is reached."""
        self._moved_count += count
        if self._moved_count < self.reinitialize_steps:
            return False
        self._moved_count = 0
        return True

    # --- routing --------------------------------------------------------------------------------
    def _shard(self, slot: Any) -> Shard:
        """The one slot lookup behind every routing method (the slow path of the inline ones):
        InvalidSlotError for a bad slot number, discovery first when no layout is known yet,
        SlotNotCoveredError (and a refresh) for a slot no known node serves."""
        index = slot_number(slot)
        topology = self._topology if self._topology.shards else self.ensure_topology()
        shard = topology.slots[index]
        if shard is None:
            self.request_refresh("uncovered slot")
            raise SlotNotCoveredError(f"slot {index} is not covered by any known node")
        return shard

    def address_for_slot(self, slot: int, read_command: bool = False) -> NodeAddress:
        """The node that should serve ``slot`` (a replica for reads, by the read policy)."""
        try:  # every command comes here: a range check and the table index, nothing more
            shard = self._topology.slots[slot] if 0 <= slot < NUM_SLOTS else None
        except TypeError:  # not a number: _shard says so
            shard = None
        if shard is None:
            shard = self._shard(slot)  # a bad slot, no map yet, or an uncovered slot
        if not read_command or self.read_policy == "primary":
            return shard.primary
        return self._reader(shard)

    def addresses_for_slots(self, slots: Sequence[int], read_command: bool = False,
                            ) -> List[NodeAddress]:
        """``[address_for_slot(s, read_command) for s in slots]`` in one call (split commands
        route every key's slot): primaries straight from the map when it covers them all."""
        if not read_command or self.read_policy == "primary":
            table = self._topology.slots
            try:  # a negative slot indexes NUM_SLOTS (IndexError), not the table's far end
                return [table[slot if slot >= 0 else NUM_SLOTS].primary  # type: ignore[union-attr]
                        for slot in slots]
            except (AttributeError, IndexError, TypeError):  # uncovered, no map yet, bad slot
                pass
        return [self.address_for_slot(slot, read_command) for slot in slots]

    def _reader(self, shard: Shard) -> NodeAddress:
        replicas = [r for r in shard.replicas if r not in shard.failed
                    and not self._is_failing(r)]
        policy = self.read_policy
        if policy == "any":
            choices = [shard.primary, *replicas]
            return choices[self._rng.randrange(len(choices))]
        if not replicas:
            return shard.primary
        if policy == "random_replica":
            return replicas[self._rng.randrange(len(replicas))]
        return replicas[next(self._rr) % len(replicas)]

    def _is_failing(self, address: NodeAddress) -> bool:
        pool = self._pools.get(address)
        return pool is not None and pool.failing

    # --- checkout and return ----------------------------------------------------------------------
    def get_connection_by_slot(self, slot: int, read_command: bool = False) -> ClusterConnection:
        """A connection to the node serving ``slot`` (a replica for reads, by the policy)."""
        return self.get_connection_by_address(self.address_for_slot(slot, read_command))

    def get_connection_by_address(self, address: NodeAddress) -> ClusterConnection:
        """A connection to exactly this node."""
        if self._closed or self._fork_generation != fork_generation[0]:
            self._check_usable()
        pool = self._pools.get(address) or self._node_pool(address)
        return pool.get()

    #: The connection the executor's one-slot loop runs a single non-blocking command on: a
    #: pooled one here (the same method); a handle on the node's shared connection in the
    #: multiplexed pools (``_pool/multiplexed.py``).
    connection_for_command = get_connection_by_address

    def try_connection_by_address(self, address: NodeAddress) -> Optional[ClusterConnection]:
        """A connection to this node without waiting, or None (see NodePool.try_get)."""
        if self._closed or self._fork_generation != fork_generation[0]:
            self._check_usable()
        pool = self._pools.get(address) or self._node_pool(address)
        return pool.try_get()

    def get_connection_by_node(self, node: NodeLike) -> ClusterConnection:
        """A connection to ``node`` (a node dict, "host:port" or NodeAddress)."""
        return self.get_connection_by_address(self.address_of(node))

    def get_random_connection(self) -> ClusterConnection:
        """A connection to a random primary (redis-py-cluster's behaviour)."""
        primaries = self.ensure_topology().primaries
        if not primaries:
            raise SlotNotCoveredError("no primary is known")
        return self.get_connection_by_address(primaries[self._rng.randrange(len(primaries))])

    def release(self, connection: ClusterConnection) -> None:
        """Return a connection to the node pool that lent it (which closes it instead of
        keeping it if it was reset or closed meanwhile); one no pool lent is closed."""
        pool = self._pools.get(connection.address)
        if pool is None or not pool.put(connection):
            self._return_stray(connection, broken=False)

    def discard(self, connection: ClusterConnection) -> None:
        """The connection broke or timed out: close it and never reuse it."""
        pool = self._pools.get(connection.address)
        if pool is None or not pool.discard(connection):
            self._return_stray(connection, broken=True)

    def _return_stray(self, connection: ClusterConnection, broken: bool) -> None:
        """A connection its address's current node pool did not lend: a retired pool's (its
        node left the cluster), else no pool's (make_connection, another pool, before a fork)."""
        for pool in self._retired:
            if pool.owns(connection):
                if broken:
                    pool.discard(connection)
                else:
                    pool.put(connection)
                with self._lock:  # forget retired pools once all they lent has come back
                    self._retired = tuple(p for p in self._retired if _lending(p))
                return
        connection.disconnect()

    def mark_failing(self, address: NodeAddress, exc: Optional[BaseException] = None) -> None:
        """A command to ``address`` failed at the socket level: cool it down, refresh the map."""
        pool = self._pools.get(address)
        if pool is not None:
            pool.mark_failing(exc)
        self.request_refresh("connection failure", avoid=address)

    @property
    def created_connections(self) -> int:
        """Connections created so far, all nodes."""
        return sum(p.created for p in self._pools.values())

    def _keyslot(self, key: Any) -> int:
        return key_slot(key, self.connection_kwargs.get("encoding", "utf-8"))

    def address_of(self, node: NodeLike) -> NodeAddress:
        """The address of ``node``: a NodeAddress, a node dict, ``"host:port"`` or a pair."""
        if isinstance(node, NodeAddress):
            return node
        if isinstance(node, Mapping):
            return NodeAddress(str(node["host"]), coerce_port(node["port"]))
        if isinstance(node, str):
            return NodeAddress.parse(node)
        return NodeAddress(str(node[0]), coerce_port(node[1]))

    # --- lifecycle ------------------------------------------------------------------------------
    def disconnect(self) -> None:
        """Close every connection (in-use ones when released); the pool stays usable."""
        for pool in list(self._pools.values()):
            pool.disconnect()

    def reset(self) -> None:
        """Drop every connection and rediscover the layout on next use (redis-py-cluster).

        Node pools are kept (their generation is bumped: idle sockets close now, checked-out
        ones when they come back), so per-node and cluster-wide counts and caps stay exact.
        """
        self._check_usable()
        with self._lock:
            self._topology = Topology((), epoch=self._topology.epoch)
        self.disconnect()

    def close(self, reopen_on_use: bool = False) -> None:
        """Ordered shutdown: fence new checkouts, stop and join threads, close connections.

        Final by default: the pool raises PoolClosedError from then on. ``reopen_on_use=True``
        (what ``RedisCluster.close()`` asks for, as redis-py's client stays usable after close)
        does the same shutdown, and the next checkout after it reopens the pool: fresh node
        pools, budget and refresher, the last known layout kept. Callers already waiting when
        it closes still get PoolClosedError."""
        with self._lock:
            if self._closed:
                self._reopen_on_use = self._reopen_on_use and reopen_on_use
                return
            self._closed = True
            self._closing = True
        try:
            self._refresher.close()
            for pool in list(self._pools.values()):
                pool.close()
        finally:
            with self._lock:
                self._closing = False
                self._reopen_on_use = reopen_on_use

    def _reopen(self) -> None:
        """Make a pool closed with ``reopen_on_use`` usable again (once its close() is done).

        One thread reopens (the restart lock, as after a fork); the refresher is running again
        before the pool says it is open, so no caller meets a closed refresher in an open pool.
        """
        with restart_lock():
            with self._lock:
                if not self._closed:
                    return  # another thread reopened it meanwhile
                if self._closing or not self._reopen_on_use:
                    raise PoolClosedError("the connection pool is closed")
            self._refresher.reopen()  # starts its thread: not under the pool lock
            with self._lock:
                final = not self._reopen_on_use  # a final close() came meanwhile
                if not final:
                    self._pools = {}
                    self._retired = ()
                    self._budget = Budget(self.config.max_connections)
                    self._closed = False
            if final:
                self._refresher.close()
                raise PoolClosedError("the connection pool is closed")

    @property
    def closed(self) -> bool:
        """Whether close() was called."""
        return self._closed

    def __enter__(self) -> ClusterConnectionPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _maintain(self) -> None:
        """The pool's part of a maintenance round: reap idle connections, keep min idle."""
        keep = self.min_idle_per_node
        for pool in list(self._pools.values()):
            if self._closed:
                return
            pool.reap(keep=keep)
        if keep:
            for address in self._topology.nodes:
                if self._closed:
                    return
                self._node_pool(address).fill(keep)

    # --- observation ----------------------------------------------------------------------------
    @property
    def refreshes(self) -> int:
        """Topology refreshes published so far."""
        return self._refresher.refreshes

    @property
    def refresh_failures(self) -> int:
        """Topology refreshes that found no usable layout."""
        return self._refresher.refresh_failures

    @property
    def refresh_triggers(self) -> Dict[str, int]:
        """How many refreshes each trigger ("moved", "periodic" ...) started."""
        return self._refresher.refresh_triggers

    def stats(self) -> PoolStats:
        """A frozen snapshot: per-node counts, totals, topology refreshes and their triggers."""
        topology = self._topology
        nodes = tuple(p.stats() for p in list(self._pools.values()))
        failing = {n.address for n in nodes if n.failing}
        refresher = self._refresher
        return PoolStats(
            nodes=nodes,
            active_nodes=sum(1 for a in topology.nodes if a not in failing),
            topology_epoch=topology.epoch, refreshes=refresher.refreshes,
            refresh_failures=refresher.refresh_failures,
            refresh_triggers=dict(refresher.refresh_triggers), closed=self._closed)

    def __repr__(self) -> str:
        s = self.stats()
        return (f"<{type(self).__name__} nodes={len(self._topology.nodes)} "
                f"active={s.active_nodes} in_use={s.in_use} idle={s.idle} waiting={s.waiting} "
                f"epoch={s.topology_epoch}{' closed' if self._closed else ''}>")

    def _emit(self, event: str, **fields: Any) -> None:
        if self._hook is not None:
            call_hook(self._hook, event, fields)


class ClusterBlockingConnectionPool(ClusterConnectionPool):
    """Waits up to ``timeout`` seconds for a free connection, then raises PoolTimeoutError."""

    def __init__(self, startup_nodes: Optional[Sequence[NodeLike]] = None,
                 init_slot_cache: bool = True,
                 connection_class: Optional[type] = None,
                 max_connections: Optional[int] = 50,
                 max_connections_per_node: Union[bool, int] = False,
                 reinitialize_steps: Optional[int] = None,
                 skip_full_coverage_check: bool = False,
                 nodemanager_follow_cluster: bool = False, timeout: Optional[float] = 20,
                 host_port_remap: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("blocking", True)
        super().__init__(startup_nodes, init_slot_cache, connection_class, max_connections,
                         max_connections_per_node, reinitialize_steps, skip_full_coverage_check,
                         nodemanager_follow_cluster, host_port_remap, timeout=timeout, **kwargs)


class ClusterReadOnlyConnectionPool(ReadOnlyApi, ClusterConnectionPool):
    """READONLY on every connection; read commands go to replicas (primary when none)."""

    def __init__(self, startup_nodes: Optional[Sequence[NodeLike]] = None,
                 init_slot_cache: bool = True, connection_class: Optional[type] = None,
                 max_connections: Optional[int] = None,
                 nodemanager_follow_cluster: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("readonly", True)
        kwargs.setdefault("read_policy", "replicas")
        super().__init__(startup_nodes, init_slot_cache, connection_class,
                         max_connections=max_connections,
                         nodemanager_follow_cluster=nodemanager_follow_cluster, **kwargs)


class ClusterWithReadReplicasConnectionPool(ClusterConnectionPool):
    """Reads spread over the primary and its replicas; writes to the primary."""

    def __init__(self, startup_nodes: Optional[Sequence[NodeLike]] = None,
                 init_slot_cache: bool = True, connection_class: Optional[type] = None,
                 max_connections: Optional[int] = None,
                 max_connections_per_node: Union[bool, int] = False,
                 reinitialize_steps: Optional[int] = None,
                 skip_full_coverage_check: bool = False,
                 nodemanager_follow_cluster: bool = False, host_port_remap: Any = None,
                 **kwargs: Any) -> None:
        kwargs.setdefault("readonly", True)
        kwargs.setdefault("read_policy", "any")
        super().__init__(startup_nodes, init_slot_cache, connection_class, max_connections,
                         max_connections_per_node, reinitialize_steps, skip_full_coverage_check,
                         nodemanager_follow_cluster, host_port_remap, **kwargs)


def _lending(pool: NodePool) -> bool:
    """Whether a retired node pool may still get a connection back: it has some out, or it is
    not closed yet (a caller holding the previous pool map may still check one out of it)."""
    return bool(pool.count) or not pool.closed


def _announced_hostnames(pool: Callable[[], Optional[ClusterConnectionPool]],
                         ) -> Callable[[NodeAddress], Optional[str]]:
    """The TLS policy's lookup of the hostnames nodes announced, in ``pool``'s current layout
    (a weak reference: the policy must not keep its pool alive)."""
    def lookup(address: NodeAddress) -> Optional[str]:
        owner = pool()
        return None if owner is None else owner.topology.hostname_of(address)
    return lookup
