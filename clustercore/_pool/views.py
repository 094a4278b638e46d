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

from typing import Any, Dict, List, Optional, Protocol

from .._address import NodeAddress
from .._topology.snapshot import Role, Topology, node_record
from .config import PoolConfig
from .nodemanager import NodeManager

__all__ = ["NodeManager", "NodeManagerView", "NodeRecords", "ViewedPool"]


class ViewedPool(Protocol):
    """What the views read from a cluster pool: its public routing surface."""

    config: PoolConfig
    startup_nodes: List[NodeAddress]
    reinitialize_steps: int
    connection_kwargs: Dict[str, Any]
    orig_startup_nodes: List[NodeAddress]
    nodemanager_follow_cluster: bool
    _node_manager: Optional[NodeManager]

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

    #: The pool's NodeManager (made on first use).
    _node_manager: Optional[NodeManager] = None

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
    def nodes(self: ViewedPool) -> NodeManager:
        """redis-py-cluster's NodeManager (``nodes``, ``slots``, ``all_nodes()``,
        ``initialize()`` ...) over this pool's current topology: one object per pool, whose
        dicts are rebuilt when the topology changes."""
        manager = self._node_manager
        if manager is None:
            manager = self._node_manager = NodeManager.of_pool(self)
        return manager


#: The name this view had before NodeManager took redis-py-cluster's whole surface.
NodeManagerView = NodeManager
