"""redis-py-cluster's node dicts, for code ported from it: ``pool.nodes`` and ``get_*_by_*``.

redis-py-cluster 2.1.3 described nodes as dicts (``{"host", "port", "name", "server_type"}``)
and exposed its NodeManager as ``pool.nodes``. clustercore routes by :class:`NodeAddress` over
a frozen :class:`Topology`; this module only *shows* a topology in the old shape.
:class:`NodeRecords` is the cluster pool's mixin for the ``get_*_by_*`` methods and ``nodes``,
written against the pool's public routing methods alone (:class:`ViewedPool`), so the old
surface cannot drift from what the pool really does. :class:`NodeManagerView` is the read-only
NodeManager look-alike over one snapshot.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Protocol

from .._address import NodeAddress
from .._slots import key_slot, slot_number
from .._topology.snapshot import Role, Topology, node_record
from .config import PoolConfig

__all__ = ["NodeManagerView", "NodeRecords", "ViewedPool"]


class ViewedPool(Protocol):
    """What the views read from a cluster pool: its public routing surface."""

    config: PoolConfig
    startup_nodes: List[NodeAddress]
    reinitialize_steps: int
    connection_kwargs: Dict[str, Any]
    _nodes_view: Optional[NodeManagerView]

    @property
    def topology(self) -> Topology:
        """The current snapshot."""

    def ensure_topology(self) -> Topology:
        """The current snapshot, discovered first if there is none."""

    def address_for_slot(self, slot: int, read_command: bool = False) -> NodeAddress:
        """The node that serves ``slot``."""

    def initialize(self) -> None:
        """Rediscover the layout now."""

    def increment_reinitialize_counter(self, ct: int = 1) -> None:
        """Count MOVED replies toward a refresh."""


class NodeRecords:
    """The cluster pool's redis-py-cluster node-dict methods (a mixin over ViewedPool)."""

    #: The last NodeManagerView built, reused while the topology it shows is current.
    _nodes_view: Optional[NodeManagerView] = None

    def get_master_node_by_slot(self: ViewedPool, slot: int) -> Dict[str, Any]:
        """The primary's node record for ``slot``."""
        return node_record(self.address_for_slot(slot), Role.PRIMARY)

    def get_node_by_slot(self: ViewedPool, slot: int, read_command: bool = False,
                         ) -> Dict[str, Any]:
        """The node record that would serve ``slot``."""
        address = self.address_for_slot(slot, read_command)
        return node_record(address, self.topology.role_of(address) or Role.PRIMARY)

    def get_nodes_by_server_type(self: ViewedPool, server_type: str) -> List[Dict[str, Any]]:
        """Node records with server_type "master" or "slave"."""
        role = Role(server_type)
        topology = self.ensure_topology()
        addresses = topology.primaries if role == Role.PRIMARY else topology.replicas
        return [node_record(a, role) for a in addresses]

    @property
    def nodes(self: ViewedPool) -> NodeManagerView:
        """redis-py-cluster's NodeManager surface (``nodes``, ``slots``, ``all_nodes()`` ...)
        over the current topology (a new view when the topology has changed)."""
        view = self._nodes_view
        topology = self.topology
        if view is None or view.topology is not topology:
            view = self._nodes_view = NodeManagerView(self, topology)
        return view


class NodeManagerView:
    """A read-only NodeManager look-alike over one Topology snapshot (for ported code)."""

    def __init__(self, pool: ViewedPool, topology: Topology) -> None:
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
        """A random node record (drawn from the pool's ``rng``)."""
        return self._pool.config.rng.choice(list(self.nodes.values()))

    def node_from_slot(self, slot: int) -> Optional[Dict[str, Any]]:
        """The primary record of ``slot`` (None: uncovered); InvalidSlotError for a bad slot."""
        shard = self.topology.slots[slot_number(slot)]
        return self.nodes[shard.primary.name] if shard is not None else None

    def keyslot(self, key: Any) -> int:
        """The slot of ``key`` (encoded as the pool's connections encode it)."""
        return key_slot(key, self._pool.connection_kwargs.get("encoding", "utf-8"))

    def initialize(self) -> None:
        """Rediscover the layout now."""
        self._pool.initialize()

    def reset(self) -> None:
        """Rediscover the layout now (redis-py-cluster's NodeManager.reset)."""
        self._pool.initialize()

    def increment_reinitialize_counter(self, ct: int = 1) -> None:
        """Count MOVEDs toward a refresh."""
        self._pool.increment_reinitialize_counter(ct)
