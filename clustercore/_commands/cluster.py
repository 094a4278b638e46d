"""The CLUSTER subcommands of :class:`~.api.CommandsMixin` a client may ask (INFO, NODES, SLOTS,
SHARDS, KEYSLOT, COUNTKEYSINSLOT, GETKEYSINSLOT ...), with redis-py-cluster's names and shapes;
node administration (MEET, SETSLOT ...) is refused by the client.
"""

from __future__ import annotations

from typing import Any

from .args import (
    KeyT,
)
from .base import CommandsBase

__all__ = ["ClusterCommands"]


class ClusterCommands(CommandsBase):
    """CLUSTER commands, one method each (redis-py-cluster's names and shapes)."""

    def cluster_countkeysinslot(self, slot_id: int) -> Any:
        """Keys in ``slot_id`` (asked of the slot's owner)."""
        return self.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot_id)

    def cluster_getkeysinslot(self, slot_id: int, num_keys: int) -> Any:
        """Up to ``num_keys`` keys of ``slot_id`` (asked of the slot's owner)."""
        return self.execute_command("CLUSTER", "GETKEYSINSLOT", slot_id, num_keys)

    def cluster_get_keys_in_slot(self, slot: int, num_keys: int) -> Any:
        """redis-py-cluster's name for :meth:`cluster_getkeysinslot`."""
        return self.cluster_getkeysinslot(slot, num_keys)

    def cluster_info(self) -> Any:
        """CLUSTER INFO of a random node, numbers converted."""
        return self.execute_command("CLUSTER", "INFO")

    def cluster_keyslot(self, name: KeyT) -> Any:
        """The hash slot of ``name``, as the server computes it."""
        return self.execute_command("CLUSTER", "KEYSLOT", name)

    def cluster_myid(self) -> Any:
        """The node id of a random node."""
        return self.execute_command("CLUSTER", "MYID")

    def cluster_nodes(self) -> Any:
        """Every node as a dict (id, host, port, flags, master, slots ...)."""
        return self.execute_command("CLUSTER", "NODES")

    def cluster_replicas(self, node_id: str) -> Any:
        """The replicas of a primary, as node dicts."""
        return self.execute_command("CLUSTER", "REPLICAS", node_id)

    def cluster_shards(self) -> Any:
        """CLUSTER SHARDS (raw) of a random node."""
        return self.execute_command("CLUSTER", "SHARDS")

    def cluster_slaves(self, node_id: str) -> Any:
        """redis-py-cluster's name for :meth:`cluster_replicas`."""
        return self.execute_command("CLUSTER", "SLAVES", node_id)

    def cluster_slots(self) -> Any:
        """``{(start, end): {"master": (host, port), "slaves": [...]}}``."""
        return self.execute_command("CLUSTER", "SLOTS")
