"""redis-py-cluster's ``NodeManager`` (``rediscluster.nodemanager``), over clustercore's topology.

redis-py-cluster kept the cluster's layout in a NodeManager: ``nodes`` (name -> node dict),
``slots`` (slot -> [primary dict, replica dicts...]), ``startup_nodes`` and ``initialize()``
that asks the seeds for CLUSTER SLOTS. Ported code reads those dicts and calls those methods,
and its pools expose their manager as ``pool.nodes``.

Here the layout is a frozen :class:`Topology`; a :class:`NodeManager` shows one in the old
shapes. It has two sources:

* bound to a cluster pool (``pool.nodes``, made by :meth:`NodeManager.of_pool`): the pool's
  current topology; ``initialize()``/``reset()`` rediscover through the pool;
* standalone (``NodeManager(startup_nodes, ...)``, redis-py-cluster's constructor): its own
  :class:`Discovery` over clustercore connections; nothing is sent before ``initialize()``.

``nodes`` and ``slots`` are dicts built from the current topology on first use and kept while
it stays current: changes a caller makes to them (redis-py-cluster's tests patch
``pool.nodes.slots[0]``) are seen by the methods that read them (``random_node``,
``pool.get_node_by_slot_random``) until the layout changes.
"""

from __future__ import annotations

import itertools
import random
from time import monotonic
from typing import (
    Any,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Tuple,
)

from .._address import NodeAddress
from .._net.connection import ClusterConnection
from .._net.encoding import Encoder
from .._slots import NUM_SLOTS, key_slot, slot_number
from .._topology.discovery import Discovery
from .._topology.remap import Remapper
from .._topology.snapshot import Role, Topology, node_record
from ..errors import RedisClusterConfigError, RedisClusterException
from .config import NodeLike, PoolConfig, parse_startup_nodes
from .foreign import own_keywords

__all__ = ["BoundPool", "NodeManager"]

NodeDict = Dict[str, Any]


class BoundPool(Protocol):
    """What a pool-bound NodeManager reads from its pool (public names only)."""

    startup_nodes: List[NodeAddress]
    orig_startup_nodes: List[NodeAddress]
    reinitialize_steps: int
    nodemanager_follow_cluster: bool
    connection_kwargs: Dict[str, Any]
    config: PoolConfig

    @property
    def topology(self) -> Topology:
        """The current snapshot."""

    def initialize(self) -> None:
        """Rediscover the layout now."""

    def increment_reinitialize_counter(self, ct: int = 1) -> None:
        """Count MOVED replies toward a refresh."""


class NodeManager:
    """redis-py-cluster 2.1.3's NodeManager surface over a clustercore topology."""

    REDIS_CLUSTER_HASH_SLOTS = NUM_SLOTS
    #: The older name of REDIS_CLUSTER_HASH_SLOTS.
    RedisClusterHashSlots = NUM_SLOTS

    def __init__(self, startup_nodes: Optional[Sequence[NodeLike]] = None,
                 reinitialize_steps: Optional[int] = None,
                 skip_full_coverage_check: bool = False,
                 nodemanager_follow_cluster: bool = False, host_port_remap: Any = None,
                 **connection_kwargs: Any) -> None:
        """Standalone, as redis-py-cluster built it: RedisClusterException without startup
        nodes, RedisClusterConfigError for a bad ``host_port_remap``. No I/O until
        initialize(), and the startup nodes are only read then (redis-py-cluster accepted
        any dicts here, e.g. ``NodeManager([{}])`` to compute key slots)."""
        connection_kwargs.pop("max_connections", None)  # the pool's, passed along by rpc
        if not startup_nodes:
            raise RedisClusterException("No startup nodes provided")
        self._pool: Optional[BoundPool] = None
        self._given: List[Any] = list(startup_nodes)
        self._seeds: List[NodeAddress] = []
        self._known: List[NodeAddress] = []
        self._topology = Topology((), epoch=0)
        self._epochs = itertools.count(1)
        self._rng = random.Random()
        self._reinitialize_steps = reinitialize_steps or 25
        self.skip_full_coverage_check = skip_full_coverage_check
        self._follow = nodemanager_follow_cluster
        if isinstance(host_port_remap, Mapping):
            # redis-py-cluster's NodeManager takes a list of rule dicts (the pools also take
            # clustercore's {(host, port): (host, port)} mapping)
            raise RedisClusterConfigError(
                f"host_port_remap must be a list of rule dicts; got {type(host_port_remap)!r}")
        self.host_port_remap = host_port_remap
        self.connection_kwargs: Dict[str, Any] = dict(connection_kwargs)
        remap = Remapper.from_config(host_port_remap)
        probe_kwargs = own_keywords(ClusterConnection, connection_kwargs)

        def probe(address: NodeAddress, timeout: float) -> ClusterConnection:
            return ClusterConnection(address.host, address.port, **{
                **probe_kwargs, "socket_timeout": timeout, "socket_connect_timeout": timeout})

        self._discovery: Optional[Discovery] = Discovery(
            probe, remap=remap, skip_full_coverage_check=skip_full_coverage_check,
            rng=self._rng)
        self._setup()

    @classmethod
    def of_pool(cls, pool: BoundPool) -> NodeManager:
        """The manager a cluster pool shows as ``pool.nodes``: its layout, its discovery."""
        self = cls.__new__(cls)
        self._pool = pool
        self._given = []
        self._seeds = list(pool.orig_startup_nodes)
        self._known = []
        self._topology = pool.topology
        self._epochs = itertools.count(1)
        self._rng = pool.config.rng
        self._reinitialize_steps = pool.reinitialize_steps
        self.skip_full_coverage_check = pool.config.skip_full_coverage_check
        self._follow = pool.nodemanager_follow_cluster
        self.host_port_remap = None
        self.connection_kwargs = pool.connection_kwargs
        self._discovery = None
        self._setup()
        return self

    def _setup(self) -> None:
        self.reinitialize_counter = 0
        self._shown: Optional[Topology] = None
        self._nodes: NodeDict = {}
        self._slots: Optional[Dict[int, List[NodeDict]]] = None
        self.encoder = Encoder(str(self.connection_kwargs.get("encoding", "utf-8")),
                               str(self.connection_kwargs.get("encoding_errors", "strict")),
                               bool(self.connection_kwargs.get("decode_responses", False)))

    # --- the layout, as redis-py-cluster's dicts ------------------------------------------------
    @property
    def topology(self) -> Topology:
        """The snapshot shown (the pool's current one when bound)."""
        return self._pool.topology if self._pool is not None else self._topology

    def _current(self) -> Topology:
        """The topology shown, rebuilding the dicts first if it changed."""
        topology = self.topology
        if topology is not self._shown:
            nodes: NodeDict = {}
            for address in topology.primaries:
                nodes[address.name] = node_record(address, Role.PRIMARY)
            for address in topology.replicas:
                nodes[address.name] = node_record(address, Role.REPLICA)
            self._nodes, self._slots, self._shown = nodes, None, topology
        return topology

    @property
    def nodes(self) -> NodeDict:
        """name -> ``{'host', 'port', 'name', 'server_type'}`` for every known node."""
        self._current()
        return self._nodes

    @nodes.setter
    def nodes(self, value: NodeDict) -> None:
        self._current()
        self._nodes = value

    @property
    def slots(self) -> Dict[int, List[NodeDict]]:
        """slot -> [primary's dict, replicas' dicts...] for every covered slot."""
        topology = self._current()
        if self._slots is None:
            out: Dict[int, List[NodeDict]] = {}
            for shard in topology.shards:
                records = [self._nodes[a.name] for a in shard.nodes if a.name in self._nodes]
                for start, end in shard.ranges:
                    for slot in range(start, end + 1):
                        out[slot] = records
            self._slots = out
        return self._slots

    @slots.setter
    def slots(self, value: Dict[int, List[NodeDict]]) -> None:
        self._current()
        self._slots = value

    @property
    def startup_nodes(self) -> List[Any]:
        """The startup nodes (a pool's as ``{'host', 'port', 'name'}``, a standalone
        manager's as given), then every node discovered since."""
        if self._pool is not None:
            # redis-py-cluster names the startup nodes when it discovers the cluster
            # (populate_startup_nodes); before that they are the {'host', 'port'} given
            if self._pool.topology.shards:
                out: List[Any] = [_seed(a) for a in self._pool.startup_nodes]
            else:
                out = [{"host": a.host, "port": a.port} for a in self._pool.startup_nodes]
        else:
            out = list(self._given) + [_seed(a) for a in self._known]
        named = {f"{n.get('host')}:{n.get('port')}" for n in out if isinstance(n, Mapping)}
        return out + [dict(n) for n in self.nodes.values() if n["name"] not in named]

    @property
    def orig_startup_nodes(self) -> List[Any]:
        """The startup nodes given at construction."""
        return list(self._given) or [_seed(a) for a in self._seeds]

    @orig_startup_nodes.setter
    def orig_startup_nodes(self, value: Optional[Sequence[Any]]) -> None:
        """redis-py-cluster's attribute was assignable: new seeds for the next initialize()
        of a standalone manager; None keeps the current ones (with nodemanager_follow_cluster
        the known nodes are asked anyway). A pool-bound manager's seeds are its pool's."""
        if value is None:
            return
        if self._pool is not None:
            raise RedisClusterConfigError(
                "orig_startup_nodes of a pool's NodeManager are the pool's startup nodes")
        seeds = parse_startup_nodes(list(value))
        if not seeds:
            raise RedisClusterException("No startup nodes provided")
        self._given, self._seeds = list(value), seeds

    @property
    def reinitialize_steps(self) -> int:
        """MOVED replies between two rediscoveries."""
        return self._reinitialize_steps

    @property
    def nodemanager_follow_cluster(self) -> bool:
        """Whether initialize() starts from the last known nodes instead of the seeds."""
        return self._follow

    def all_nodes(self) -> Iterator[NodeDict]:
        """Every node's dict."""
        return iter(list(self.nodes.values()))

    def all_masters(self) -> Iterator[NodeDict]:
        """Every primary's dict."""
        return (n for n in list(self.nodes.values()) if n["server_type"] == "master")

    def random_node(self) -> NodeDict:
        """A random node's dict; RedisClusterException when none is known."""
        nodes = list(self.nodes.values())
        if not nodes:
            raise RedisClusterException("no node is known yet; call initialize() first")
        return self._rng.choice(nodes)

    def random_startup_node(self) -> NodeDict:
        """A random startup node's dict."""
        return self._rng.choice(self.startup_nodes)

    def random_startup_node_ittr(self) -> Iterator[NodeDict]:
        """Random startup nodes, without end (redis-py-cluster's generator: its caller stops)."""
        nodes = self.startup_nodes
        while True:
            yield self._rng.choice(nodes)

    def node_from_slot(self, slot: int) -> Optional[NodeDict]:
        """The primary's dict for ``slot`` (None: uncovered); InvalidSlotError for a bad slot."""
        index = slot_number(slot)
        topology = self._current()
        shard = topology.slots[index]
        return self._nodes.get(shard.primary.name) if shard is not None else None

    def keyslot(self, key: Any) -> int:
        """The slot of ``key`` (encoded as the connections encode it)."""
        return key_slot(key, self.encoder.encoding)

    # --- node dicts -----------------------------------------------------------------------------
    @staticmethod
    def make_node_obj(host: str, port: int, server_type: Optional[str]) -> Tuple[NodeDict, str]:
        """``({'host', 'port', 'name', 'server_type'}, name)``."""
        name = f"{host}:{port}"
        return {"host": host, "port": port, "name": name, "server_type": server_type}, name

    @staticmethod
    def set_node_name(node: NodeDict) -> None:
        """Give a node dict its ``name`` (``host:port``) if it has none."""
        node.setdefault("name", f"{node['host']}:{node['port']}")

    def set_node(self, host: str, port: int, server_type: Optional[str] = None) -> NodeDict:
        """Add or replace a node's dict in ``nodes`` (until the layout changes)."""
        node, name = self.make_node_obj(host, port, server_type)
        self.nodes[name] = node
        return node

    def populate_startup_nodes(self) -> None:
        """Make every known node a startup node (standalone managers; a pool-bound one
        follows its pool's ``startup_nodes``)."""
        if self._pool is None:
            self._known += [a for a in self.topology.nodes
                            if a not in self._known and a not in self._seeds]

    # --- discovery ------------------------------------------------------------------------------
    def initialize(self) -> None:
        """Ask the startup nodes (the last known ones with nodemanager_follow_cluster) for the
        layout now; raises what discovery raised (RedisClusterConfigError naming each seed's
        answer) and leaves the previous layout in place then."""
        self.reinitialize_counter = 0
        if self._pool is not None:
            self._pool.initialize()
            return
        assert self._discovery is not None
        if not self._seeds:
            self._seeds = parse_startup_nodes(self._given)
        seeds = [*self._seeds, *self._known] if self._follow else self._seeds
        discovery = self._discovery
        deadline = monotonic() + discovery.probe_timeout * 2 + 1.0
        self._topology = discovery.discover(
            discovery.order(seeds), next(self._epochs), deadline)
        self.populate_startup_nodes()

    def reset(self) -> None:
        """Forget the layout (``nodes`` and ``slots`` empty) and rediscover from the startup
        nodes (redis-py-cluster's reset)."""
        if self._pool is None:
            self._topology = Topology((), epoch=self._topology.epoch)
        self._shown, self._nodes, self._slots = None, {}, {}
        self.initialize()

    def increment_reinitialize_counter(self, ct: int = 1, count: int = 1) -> None:
        """Count ``ct`` MOVED replies; rediscover every ``reinitialize_steps`` of them."""
        if self._pool is not None:
            self._pool.increment_reinitialize_counter(ct * count)
            return
        for _ in range(min(ct, self._reinitialize_steps)):
            self.reinitialize_counter += count
            if self.reinitialize_counter % self._reinitialize_steps == 0:
                self.initialize()

    def cluster_require_full_coverage(self, nodes_cache: Optional[Mapping[str, Any]] = None,
                                      ) -> bool:
        """Whether the discovery requires every slot to be covered (clustercore asks each
        probed node's ``cluster-require-full-coverage`` during discovery itself)."""
        return not self.skip_full_coverage_check

    def __repr__(self) -> str:
        source = "pool" if self._pool is not None else "standalone"
        return (f"<NodeManager {source} nodes={len(self.nodes)} "
                f"epoch={self.topology.epoch}>")


def _seed(address: NodeAddress) -> NodeDict:
    return {"host": address.host, "port": address.port, "name": address.name}
