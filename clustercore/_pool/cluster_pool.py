"""The public pool family: one implementation, four configurations (redis-py-cluster 2.1.3 API).

``ClusterConnectionPool`` maps the 16384 slots to nodes through a frozen :class:`Topology` that
is replaced by swapping one reference, and keeps one :class:`NodePool` per node. The three other
public pools only change defaults: ``ClusterBlockingConnectionPool`` waits up to ``timeout``;
``ClusterReadOnlyConnectionPool`` sends READONLY and reads from replicas;
``ClusterWithReadReplicasConnectionPool`` spreads reads over replicas and the primary.

Topology refreshes never stall callers: one refresh runs at a time on a background thread, over
its own short-lived connections (see :mod:`clustercore.discovery`), while callers keep using the
current snapshot. Only when there is no usable snapshot at all (first use) does a caller wait,
and then behind a single discovery, with a deadline.
"""

from __future__ import annotations

import codecs
import itertools
import logging
import os
import random
import threading
import weakref
from time import monotonic
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Type,
    Union,
)

from .._address import NodeAddress, coerce_port
from .._net.connection import ClusterConnection, SSLClusterConnection
from .._net.transport import make_ssl_context
from .._slots import NUM_SLOTS, key_slot
from .._topology.discovery import Discovery
from .._topology.snapshot import Remapper, Role, Shard, Topology, node_record
from ..errors import (
    ClusterCoreError,
    PoolClosedError,
    RedisClusterConfigError,
    RedisClusterException,
    SlotNotCoveredError,
)
from .node_pool import Budget, NodePool
from .stats import EventHook, PoolStats

__all__ = [
    "READ_POLICIES",
    "ClusterBlockingConnectionPool",
    "ClusterConnectionPool",
    "ClusterReadOnlyConnectionPool",
    "ClusterWithReadReplicasConnectionPool",
    "parse_startup_nodes",
]

_log = logging.getLogger("clustercore.pool")

#: Where read commands go. "primary": never replicas. "replicas": round-robin over healthy
#: replicas, the primary when there are none. "random_replica": a random healthy replica, else
#: the primary. "any": random over primary and replicas (redis-py-cluster's read replicas pool).
READ_POLICIES = ("primary", "replicas", "random_replica", "any")

NodeLike = Union[NodeAddress, Mapping[str, Any], str, Tuple[str, Union[int, str]]]

_SSL_KEYS = ("ssl_cert_reqs", "ssl_ca_certs", "ssl_ca_data", "ssl_certfile", "ssl_keyfile",
             "ssl_password", "ssl_check_hostname", "ssl_min_version", "ssl_ciphers")

# Bumped in the child after os.fork(): pools compare it on checkout (no syscall per command).
_fork_generation = [0]


def _after_fork_in_child() -> None:
    _fork_generation[0] += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def parse_startup_nodes(nodes: Optional[Sequence[NodeLike]], host: Optional[str] = None,
                        port: Union[int, str, None] = None) -> List[NodeAddress]:
    """Accept redis-py-cluster's dicts (str or int ports), "host:port", URLs, tuples, hosts."""
    out: List[NodeAddress] = []
    for node in list(nodes or []) + ([{"host": host, "port": port or 6379}] if host else []):
        if isinstance(node, NodeAddress):
            address = node
        elif isinstance(node, Mapping):
            if "host" not in node:
                raise RedisClusterConfigError(f"startup node {node!r} has no 'host'")
            try:
                address = NodeAddress(str(node["host"]), coerce_port(node.get("port", 6379)))
            except ValueError as exc:
                raise RedisClusterConfigError(f"startup node {node!r}: {exc}") from None
        elif isinstance(node, str):
            try:
                address = NodeAddress.parse(node)
            except ValueError as exc:
                raise RedisClusterConfigError(f"startup node {node!r}: {exc}") from None
        elif isinstance(node, tuple) and len(node) == 2:
            address = NodeAddress(str(node[0]), coerce_port(node[1]))
        else:
            raise RedisClusterConfigError(f"cannot understand startup node {node!r}")
        if address not in out:
            out.append(address)
    return out


class ClusterConnectionPool:
    """Connections to every node of one cluster, routed by slot (redis-py-cluster's API)."""

    def __init__(
        self,
        startup_nodes: Optional[Sequence[NodeLike]] = None,
        init_slot_cache: bool = True,
        connection_class: Optional[Type[ClusterConnection]] = None,
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
        **connection_kwargs: Any,
    ) -> None:
        if read_policy not in READ_POLICIES:
            raise RedisClusterConfigError(
                f"read_policy must be one of {', '.join(READ_POLICIES)}; got {read_policy!r}")
        seeds = parse_startup_nodes(startup_nodes, connection_kwargs.pop("host", None),
                                    connection_kwargs.pop("port", None))
        if not seeds:
            raise RedisClusterException("No startup nodes provided")
        self._remap = Remapper.from_config(host_port_remap)
        self.startup_nodes = [self._remap(s) if self._remap else s for s in seeds]
        self.orig_startup_nodes = list(self.startup_nodes)
        # redis-py-cluster: max_connections_per_node=True makes max_connections a per-node cap;
        # an int is a per-node cap and max_connections stays the cluster-wide total.
        default_max = 2 ** 31
        if max_connections_per_node is True:
            self.max_connections_per_node: Optional[int] = max_connections or default_max
            self.max_connections: Optional[int] = None
        elif max_connections_per_node:
            self.max_connections_per_node = int(max_connections_per_node)
            self.max_connections = max_connections
        else:
            self.max_connections_per_node = None
            self.max_connections = max_connections
        for name in ("max_connections", "max_connections_per_node"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise RedisClusterConfigError(f"{name} must be at least 1; got {value}")
        try:  # fail at construction, not at the first command's connect
            codecs.lookup(connection_kwargs.get("encoding", "utf-8"))
            codecs.lookup_error(connection_kwargs.get("encoding_errors", "strict"))
        except (LookupError, TypeError) as exc:
            raise RedisClusterConfigError(f"encoding/encoding_errors: {exc}") from None
        self.blocking = blocking
        self.timeout = timeout
        self.max_waiters = max_waiters
        # Reading from replicas needs READONLY on the connection (a replica answers MOVED
        # otherwise), so any read policy other than "primary" implies it.
        self.readonly = readonly or read_policy != "primary"
        self.read_policy = read_policy
        self.max_idle_time = max_idle_time
        self.min_idle_per_node = min_idle_per_node
        self.refresh_interval = refresh_interval
        self.refresh_min_interval = refresh_min_interval
        self.failure_cooldown = failure_cooldown
        self.reinitialize_steps = reinitialize_steps or 25
        self.nodemanager_follow_cluster = nodemanager_follow_cluster
        self._hook = event_hook
        self._rng = rng or random.Random()
        #: Time source for cool-downs, idle times and refresh rate limits (tests inject one).
        self.clock = clock
        #: False runs adaptive refreshes inline on the requesting thread (deterministic tests).
        self.background_refresh = background_refresh

        if ssl and connection_class is None:
            connection_class = SSLClusterConnection
        self.connection_class: Type[ClusterConnection] = connection_class or ClusterConnection
        kwargs = dict(connection_kwargs)
        tls = issubclass(self.connection_class, SSLClusterConnection)
        if tls and kwargs.get("ssl_context") is None:
            # One TLS context for the whole pool, not one per connection.
            kwargs["ssl_context"] = make_ssl_context(
                **{k: kwargs.pop(k) for k in _SSL_KEYS if k in kwargs})
        self.connection_kwargs = kwargs

        self._lock = threading.Lock()          # pool map, counters; never held during I/O
        self._pools: Dict[NodeAddress, NodePool] = {}
        self._budget = Budget(self.max_connections)
        self._topology = Topology((), epoch=0)
        self._epoch = itertools.count(1)
        self._generation = 0
        self._fork_generation = _fork_generation[0]
        self._pid = os.getpid()
        self._closed = False
        self._moved_count = 0
        self._rr = itertools.count()
        self.refreshes = 0
        self.refresh_failures = 0
        self.refresh_triggers: Dict[str, int] = {}
        self._refreshing = False
        self._refresh_done = threading.Event()
        self._refresh_done.set()
        self._last_refresh = -1e9
        self._last_refresh_error: Optional[BaseException] = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._discovery = Discovery(
            self._probe_connection, remap=self._remap,
            skip_full_coverage_check=skip_full_coverage_check, probe_timeout=probe_timeout,
            prefer_tls=tls, rng=self._rng)
        self.discovery_timeout = discovery_timeout
        self._nodes_view: Optional[NodeManagerView] = None
        if init_slot_cache:
            self.initialize()
        if refresh_interval or min_idle_per_node:
            self._start_thread()

    # --- construction helpers -------------------------------------------------------------------
    def make_connection(self, node: NodeLike, **overrides: Any) -> ClusterConnection:
        """A new, unconnected connection to ``node`` with this pool's settings (not counted)."""
        address = self.address_of(node)
        kwargs = {**self.connection_kwargs, **overrides}
        kwargs.setdefault("readonly", self.readonly)
        return self.connection_class(address.host, address.port, **kwargs)

    def _probe_connection(self, address: NodeAddress, timeout: float) -> ClusterConnection:
        timeouts = [t for t in (self.connection_kwargs.get("socket_timeout"), timeout) if t]
        return self.make_connection(address, readonly=False, socket_timeout=min(timeouts),
                                    socket_connect_timeout=min(timeouts))

    def _node_pool(self, address: NodeAddress) -> NodePool:
        pool = self._pools.get(address)
        if pool is not None:
            return pool
        self._check_usable()
        with self._lock:
            pool = self._pools.get(address)
            if pool is None:
                role = self._topology.role_of(address)
                pool = NodePool(
                    address, self.make_connection, max_size=self.max_connections_per_node,
                    budget=self._budget, blocking=self.blocking, timeout=self.timeout,
                    max_waiters=self.max_waiters, max_idle_time=self.max_idle_time,
                    failure_cooldown=self.failure_cooldown, event_hook=self._hook,
                    clock=self.clock, role=role.value if role is not None else None)
                pools = dict(self._pools)
                pools[address] = pool
                self._pools = pools  # copy-on-write: readers never see a dict being resized
            return pool

    def _check_usable(self) -> None:
        if self._closed:
            raise PoolClosedError("the connection pool is closed")
        if self._fork_generation != _fork_generation[0]:
            self._after_fork()

    def _after_fork(self) -> None:
        """In a forked child: forget the parent's connections and threads, never touch them."""
        self._lock = threading.Lock()
        self._pools = {}
        self._budget = Budget(self.max_connections)
        self._refreshing = False
        self._refresh_done = threading.Event()
        self._refresh_done.set()
        self._thread = None
        self._deferred = None  # the parent's timer thread does not exist in the child
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._pid = os.getpid()
        self._fork_generation = _fork_generation[0]
        if self.refresh_interval or self.min_idle_per_node:
            self._start_thread()

    # --- topology -------------------------------------------------------------------------------
    @property
    def topology(self) -> Topology:
        """The current layout snapshot (immutable)."""
        return self._topology

    def initialize(self) -> None:
        """Discover the layout now (synchronously), from the startup nodes."""
        self._check_usable()
        seeds = self.startup_nodes if self.nodemanager_follow_cluster else self.orig_startup_nodes
        self._refresh_now("initialize", seeds=seeds, known=())

    def _refresh_now(self, trigger: str, seeds: Optional[Sequence[NodeAddress]] = None,
                     known: Optional[Sequence[NodeAddress]] = None,
                     avoid: Optional[NodeAddress] = None) -> None:
        """Run one discovery on this thread and publish its result (single flight)."""
        with self._lock:
            if self._refreshing:
                waiter = self._refresh_done
                owner = False
            else:
                self._refreshing = True
                self._refresh_done = waiter = threading.Event()
                owner = True
        if not owner:
            timeout = self._discovery_deadline_seconds()
            if not waiter.wait(timeout):
                raise RedisClusterConfigError(f"topology refresh did not finish in {timeout}s")
            if self._topology.covered_slots() == 0 and self._last_refresh_error is not None:
                raise self._last_refresh_error
            return
        try:
            self.refresh_triggers[trigger] = self.refresh_triggers.get(trigger, 0) + 1
            current = self._topology
            candidates = self._discovery.order(
                seeds if seeds is not None else self.startup_nodes, avoid,
                known if known is not None else current.nodes)
            topology = self._discovery.discover(
                candidates, next(self._epoch),
                monotonic() + self._discovery_deadline_seconds())
        except BaseException as exc:
            self.refresh_failures += 1
            self._last_refresh_error = exc
            self._emit("topology_refresh_failed", trigger=trigger, error=repr(exc))
            raise
        else:
            self._publish(topology, trigger)
        finally:
            self._last_refresh = self.clock()
            with self._lock:
                self._refreshing = False
            waiter.set()

    def _discovery_deadline_seconds(self) -> float:
        if self.discovery_timeout is not None:
            return self.discovery_timeout
        return self._discovery.probe_timeout * 2 + 1.0

    def _publish(self, topology: Topology, trigger: str) -> None:
        old = self._topology
        self._topology = topology  # the atomic swap
        self._last_refresh_error = None
        self.refreshes += 1
        known = set(topology.nodes)
        with self._lock:
            self._moved_count = 0
            self._nodes_view = None
            gone = [pool for address, pool in self._pools.items() if address not in known]
            if gone:  # nodes that left the cluster: forget their pools (copy-on-write)
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

    def request_refresh(self, trigger: str, avoid: Optional[NodeAddress] = None) -> bool:
        """Ask for a refresh in the background (rate-limited, one at a time). Never blocks."""
        if self._closed or self._refreshing:
            return False
        wait = self._last_refresh + self.refresh_min_interval - self.clock()
        if wait > 0:
            self._defer_refresh(trigger, avoid, wait)
            return False
        if not self.background_refresh:
            self._background_refresh(trigger, avoid)
            return True
        if self._thread is not None:
            self._pending_trigger = (trigger, avoid)
            self._wake.set()
            return True
        thread = threading.Thread(target=self._background_refresh, args=(trigger, avoid),
                                  name="clustercore-refresh", daemon=True)
        thread.start()
        return True

    _pending_trigger: Optional[Tuple[str, Optional[NodeAddress]]] = None
    _deferred: Optional[threading.Timer] = None

    def _defer_refresh(self, trigger: str, avoid: Optional[NodeAddress], wait: float) -> None:
        """A refresh asked for inside the rate limit runs when the limit allows (at most one
        deferred refresh at a time), instead of being dropped."""
        if not self.background_refresh:
            return
        with self._lock:
            if self._deferred is not None or self._closed:
                return
            timer = threading.Timer(wait, self._run_deferred, args=(trigger, avoid))
            timer.daemon = True
            self._deferred = timer
        timer.start()

    def _run_deferred(self, trigger: str, avoid: Optional[NodeAddress]) -> None:
        with self._lock:
            self._deferred = None
        if not self._closed:
            self.request_refresh(trigger, avoid)

    def _background_refresh(self, trigger: str, avoid: Optional[NodeAddress]) -> None:
        try:
            self._refresh_now(trigger, avoid=avoid)
        except ClusterCoreError as exc:
            _log.warning("topology refresh (%s) failed: %s", trigger, exc)
        except Exception:  # never let a helper thread die silently
            _log.exception("topology refresh (%s) crashed", trigger)

    def on_moved(self, slot: int, address: NodeAddress) -> None:
        """A MOVED reply: move that slot at once; refresh when the target was not a known
        primary (failover, new node) or every ``reinitialize_steps`` MOVEDs."""
        if self._remap is not None:
            address = self._remap(address)
        with self._lock:
            current = self._topology
            shard = current.slots[slot] if current.shards else None
            if shard is None or shard.primary != address:
                self._topology = current.with_slot_owner(slot, address, current.epoch)
                self._nodes_view = None
            self._moved_count += 1
            due = self._moved_count >= self.reinitialize_steps
            if due:
                self._moved_count = 0
        if due or current.role_of(address) != Role.PRIMARY:
            self.request_refresh("moved")

    def increment_reinitialize_counter(self, ct: int = 1) -> None:
        """redis-py-cluster's hook: count ``ct`` MOVEDs; refresh every reinitialize_steps."""
        with self._lock:
            self._moved_count += ct
            due = self._moved_count >= self.reinitialize_steps
            if due:
                self._moved_count = 0
        if due:
            self.request_refresh("reinitialize_steps")

    def ensure_topology(self) -> Topology:
        """The current layout, discovered first (synchronously) if none is known yet."""
        topology = self._topology
        if topology.shards:
            return topology
        self._refresh_now("first use")
        return self._topology

    # --- routing --------------------------------------------------------------------------------
    def _shard(self, slot: int) -> Shard:
        topology = self._topology if self._topology.shards else self.ensure_topology()
        shard = topology.slots[slot]
        if shard is None:
            self.request_refresh("uncovered slot")
            raise SlotNotCoveredError(f"slot {slot} is not covered by any known node")
        return shard

    def address_for_slot(self, slot: int, read_command: bool = False) -> NodeAddress:
        """The node that should serve ``slot`` (a replica for reads, by the read policy)."""
        shard = self._topology.slots[slot] if 0 <= slot < NUM_SLOTS else None
        if shard is None:
            shard = self._shard(slot)  # no map yet, or an uncovered slot
        if not read_command or self.read_policy == "primary":
            return shard.primary
        return self._reader(shard)

    def addresses_for_slots(self, slots: Sequence[int], read_command: bool = False,
                            ) -> List[NodeAddress]:
        """``[address_for_slot(s, read_command) for s in slots]`` in one call (split commands
        route every key's slot): primaries straight from the map when it covers them all."""
        if not read_command or self.read_policy == "primary":
            table = self._topology.slots
            try:
                return [table[slot].primary for slot in slots]  # type: ignore[union-attr]
            except (AttributeError, IndexError):  # an uncovered slot, or no map yet
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

    def get_connection_by_slot(self, slot: int, read_command: bool = False) -> ClusterConnection:
        """A connection to the node serving ``slot`` (a replica for reads, by the policy)."""
        return self.get_connection_by_address(self.address_for_slot(slot, read_command))

    def get_connection_by_address(self, address: NodeAddress) -> ClusterConnection:
        """A connection to exactly this node."""
        if self._closed or self._fork_generation != _fork_generation[0]:
            self._check_usable()
        pool = self._pools.get(address) or self._node_pool(address)
        return pool.get()

    def try_connection_by_address(self, address: NodeAddress) -> Optional[ClusterConnection]:
        """A connection to this node without waiting, or None (see NodePool.try_get)."""
        if self._closed or self._fork_generation != _fork_generation[0]:
            self._check_usable()
        pool = self._pools.get(address) or self._node_pool(address)
        return pool.try_get()

    def get_connection_by_node(self, node: NodeLike) -> ClusterConnection:
        """A connection to ``node`` (a node dict, "host:port" or NodeAddress)."""
        return self.get_connection_by_address(self.address_of(node))

    def get_connection_by_key(self, key: Any, read_command: bool = False) -> ClusterConnection:
        """A connection to the node serving ``key``'s slot."""
        return self.get_connection_by_slot(self._keyslot(key), read_command)

    def get_connection(self, command_name: str = "", *keys: Any,
                       **options: Any) -> ClusterConnection:
        """Route by the first key (its slot), or to a random primary when there is none."""
        if keys:
            return self.get_connection_by_key(keys[0], bool(options.get("read_command")))
        return self.get_random_connection()

    def get_random_connection(self) -> ClusterConnection:
        """A connection to a random primary (redis-py-cluster's behaviour)."""
        primaries = self.ensure_topology().primaries
        if not primaries:
            raise SlotNotCoveredError("no primary is known")
        return self.get_connection_by_address(primaries[self._rng.randrange(len(primaries))])

    def release(self, connection: ClusterConnection) -> None:
        """Return a connection to its node's pool (closed if it belongs to an older pool)."""
        owner: Optional[NodePool] = getattr(connection, "_owner", None)
        if owner is not None:
            owner.put(connection)  # a pool replaced by reset() is closed: it closes the conn
        else:
            connection.disconnect()

    def discard(self, connection: ClusterConnection) -> None:
        """The connection broke or timed out: close it and never reuse it."""
        owner = getattr(connection, "_owner", None)
        if owner is not None:
            owner.discard(connection)
        else:
            connection.disconnect()

    def mark_failing(self, address: NodeAddress, exc: Optional[BaseException] = None) -> None:
        """A command to ``address`` failed at the socket level: cool it down, refresh the map."""
        pool = self._pools.get(address)
        if pool is not None:
            pool.mark_failing(exc)
        self.request_refresh("connection failure", avoid=address)

    # --- redis-py-cluster node helpers ----------------------------------------------------------
    def get_master_node_by_slot(self, slot: int) -> Dict[str, Any]:
        """The primary's node record for ``slot``."""
        return node_record(self._shard(slot).primary, Role.PRIMARY)

    def get_node_by_slot(self, slot: int, read_command: bool = False) -> Dict[str, Any]:
        """The node record that would serve ``slot``."""
        address = self.address_for_slot(slot, read_command)
        role = self._topology.role_of(address) or Role.PRIMARY
        return node_record(address, role)

    def get_nodes_by_server_type(self, server_type: str) -> List[Dict[str, Any]]:
        """Node records with server_type "master" or "slave"."""
        role = Role(server_type)
        topology = self.ensure_topology()
        addresses = topology.primaries if role == Role.PRIMARY else topology.replicas
        return [node_record(a, role) for a in addresses]

    @property
    def nodes(self) -> NodeManagerView:
        """redis-py-cluster's NodeManager surface (``nodes``, ``slots``, ``all_nodes()`` ...)."""
        view = self._nodes_view
        if view is None or view.topology is not self._topology:
            view = self._nodes_view = NodeManagerView(self, self._topology)
        return view

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
            self._nodes_view = None
        self.disconnect()

    def close(self) -> None:
        """Ordered shutdown: fence new checkouts, stop and join threads, close connections."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        self._wake.set()
        with self._lock:
            deferred, self._deferred = self._deferred, None
        if deferred is not None:
            deferred.cancel()
            if deferred is not threading.current_thread():
                deferred.join(1.0)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self._discovery.probe_timeout + 5)
        self._discovery.join(self._discovery.probe_timeout + 1)
        for pool in list(self._pools.values()):
            pool.close()

    @property
    def closed(self) -> bool:
        """Whether close() was called."""
        return self._closed

    def __enter__(self) -> ClusterConnectionPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _start_thread(self) -> None:
        ref = weakref.ref(self)
        stop, wake = self._stop, self._wake
        interval = self.refresh_interval
        thread = threading.Thread(target=_maintenance_loop, args=(ref, stop, wake, interval),
                                  name="clustercore-maintenance", daemon=True)
        self._thread = thread
        thread.start()

    def _maintain(self, periodic: bool) -> None:
        """One round of the background thread: refresh when asked or due, reap, keep min idle."""
        trigger = self._pending_trigger
        self._pending_trigger = None
        if trigger is not None:
            self._background_refresh(*trigger)
        elif periodic and self.refresh_interval:
            self._background_refresh("periodic", None)
        for pool in list(self._pools.values()):
            if self._closed:
                return
            pool.reap(keep=self.min_idle_per_node)
        if self.min_idle_per_node:
            for address in self._topology.nodes:
                if self._closed:
                    return
                self._node_pool(address).fill(self.min_idle_per_node)

    # --- observation ----------------------------------------------------------------------------
    def stats(self) -> PoolStats:
        """A frozen snapshot: per-node counts, totals, topology refreshes and their triggers."""
        topology = self._topology
        nodes = tuple(p.stats() for p in list(self._pools.values()))
        failing = {n.address for n in nodes if n.failing}
        return PoolStats(
            nodes=nodes,
            active_nodes=sum(1 for a in topology.nodes if a not in failing),
            topology_epoch=topology.epoch, refreshes=self.refreshes,
            refresh_failures=self.refresh_failures,
            refresh_triggers=dict(self.refresh_triggers), closed=self._closed)

    def __repr__(self) -> str:
        s = self.stats()
        return (f"<{type(self).__name__} nodes={len(self._topology.nodes)} "
                f"active={s.active_nodes} in_use={s.in_use} idle={s.idle} waiting={s.waiting} "
                f"epoch={s.topology_epoch}{' closed' if self._closed else ''}>")

    def _emit(self, event: str, **fields: Any) -> None:
        if self._hook is not None:
            try:
                self._hook(event, fields)
            except Exception:  # a broken metrics adapter must not break the pool
                _log.debug("event hook failed on %s", event, exc_info=True)


def _maintenance_loop(ref: Callable[[], Optional[ClusterConnectionPool]], stop: threading.Event,
                      wake: threading.Event, interval: Optional[float]) -> None:
    """Background thread body: holds only a weak reference, so a forgotten pool can be freed."""
    period = interval or 1.0
    next_periodic = monotonic() + period
    while not stop.is_set():
        woken = wake.wait(max(0.0, min(1.0, next_periodic - monotonic())))
        wake.clear()
        if stop.is_set():
            return
        pool = ref()
        if pool is None:
            return
        periodic = monotonic() >= next_periodic
        if periodic:
            next_periodic = monotonic() + period
        try:
            if woken or periodic:
                pool._maintain(periodic and bool(interval))
        except Exception:
            _log.exception("clustercore maintenance round failed")
        del pool


class ClusterBlockingConnectionPool(ClusterConnectionPool):
    """Waits up to ``timeout`` seconds for a free connection, then raises PoolTimeoutError."""

    def __init__(self, startup_nodes: Optional[Sequence[NodeLike]] = None,
                 init_slot_cache: bool = True,
                 connection_class: Optional[Type[ClusterConnection]] = None,
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


class ClusterReadOnlyConnectionPool(ClusterConnectionPool):
    """READONLY on every connection; read commands go to replicas (primary when none)."""

    def __init__(self, startup_nodes: Optional[Sequence[NodeLike]] = None,
                 init_slot_cache: bool = True,
                 connection_class: Optional[Type[ClusterConnection]] = None,
                 **kwargs: Any) -> None:
        kwargs.setdefault("readonly", True)
        kwargs.setdefault("read_policy", "replicas")
        super().__init__(startup_nodes, init_slot_cache, connection_class, **kwargs)


class ClusterWithReadReplicasConnectionPool(ClusterConnectionPool):
    """Reads spread over the primary and its replicas; writes to the primary."""

    def __init__(self, startup_nodes: Optional[Sequence[NodeLike]] = None,
                 init_slot_cache: bool = True,
                 connection_class: Optional[Type[ClusterConnection]] = None,
                 **kwargs: Any) -> None:
        kwargs.setdefault("readonly", True)
        kwargs.setdefault("read_policy", "any")
        super().__init__(startup_nodes, init_slot_cache, connection_class, **kwargs)


class NodeManagerView:
    """A read-only NodeManager look-alike over one Topology snapshot (for ported code)."""

    def __init__(self, pool: ClusterConnectionPool, topology: Topology) -> None:
        self._pool = pool
        self.topology = topology
        self._slots: Optional[Dict[int, List[Dict[str, Any]]]] = None
        self.nodes: Dict[str, Dict[str, Any]] = {}
        for address in topology.primaries:
            self.nodes[address.name] = node_record(address, Role.PRIMARY)
        for address in topology.replicas:
            self.nodes[address.name] = node_record(address, Role.REPLICA)
        self.startup_nodes = [{"host": a.host, "port": a.port} for a in pool.startup_nodes]
        self.reinitialize_steps = pool.reinitialize_steps

    @property
    def slots(self) -> Dict[int, List[Dict[str, Any]]]:
        """slot -> [primary record, replica records...], built on first use."""
        if self._slots is None:
            out: Dict[int, List[Dict[str, Any]]] = {}
            for shard in self.topology.shards:
                records = [self.nodes[shard.primary.name]] + [
                    self.nodes[r.name] for r in shard.replicas if r.name in self.nodes]
                for start, end in shard.ranges:
                    for slot in range(start, end + 1):
                        out[slot] = records
            self._slots = out
        return self._slots

    def all_nodes(self) -> Iterator[Dict[str, Any]]:
        """Every node record."""
        return iter(list(self.nodes.values()))

    def all_masters(self) -> Iterator[Dict[str, Any]]:
        """Every primary's record."""
        return (n for n in list(self.nodes.values()) if n["server_type"] == "master")

    def random_node(self) -> Dict[str, Any]:
        """A random node record."""
        return random.choice(list(self.nodes.values()))

    def node_from_slot(self, slot: int) -> Optional[Dict[str, Any]]:
        """The primary record of ``slot``."""
        shard = self.topology.slots[slot]
        return self.nodes[shard.primary.name] if shard is not None else None

    def keyslot(self, key: Any) -> int:
        """The slot of ``key``."""
        return self._pool._keyslot(key)

    def initialize(self) -> None:
        """Rediscover the layout now."""
        self._pool.initialize()

    def reset(self) -> None:
        """Rediscover the layout now (redis-py-cluster's NodeManager.reset)."""
        self._pool.initialize()

    def increment_reinitialize_counter(self, ct: int = 1) -> None:
        """Count MOVEDs toward a refresh."""
        self._pool.increment_reinitialize_counter(ct)
