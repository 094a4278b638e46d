"""The CLUSTER subcommands of :class:`~.api.CommandsMixin`, with redis-py 8.1's names and
arguments (and redis-py-cluster's reply shapes where the two agree on the name).

Inspection (INFO, NODES, SLOTS, SHARDS, LINKS, MYID, KEYSLOT ...) goes to one node, or to
``target_nodes``; slot-numbered commands (COUNTKEYSINSLOT, GETKEYSINSLOT, DELSLOTS,
DELSLOTSRANGE) go to the slot's owner. Administration of one node (ADDSLOTS, MEET, FORGET,
FAILOVER, RESET, REPLICATE, SETSLOT, SAVECONFIG, SET-CONFIG-EPOCH, BUMPEPOCH, FLUSHSLOTS) needs
the node: redis-py's ``target_node`` / ``target_nodes`` argument; without
one the client refuses it rather than change an arbitrary node (redis-py picks its default
node). ``target_nodes`` is passed to ``execute_command`` only when given.
"""

from __future__ import annotations

from typing import Any, List, Optional

from ..errors import DataError
from .args import (
    EncodableT,
    KeyT,
    targets,
)
from .base import CommandsBase

__all__ = ["ClusterCommands"]

_SETSLOT_STATES = ("IMPORTING", "MIGRATING", "NODE")


class ClusterCommands(CommandsBase):
    """CLUSTER commands, one method each (redis-py 8.1's names and arguments)."""

    # --- slots ---------------------------------------------------------------------------------
    def cluster_addslots(self, target_node: Any, *slots: EncodableT) -> Any:
        """Assign ``slots`` to ``target_node``; True."""
        return self.execute_command("CLUSTER", "ADDSLOTS", *slots, **targets(target_node))

    def cluster_addslotsrange(self, target_node: Any, *slots: EncodableT) -> Any:
        """Assign slot ranges (``start, end, start, end ...``) to ``target_node``; True."""
        return self.execute_command("CLUSTER", "ADDSLOTSRANGE", *slots, **targets(target_node))

    def cluster_delslots(self, *slots: EncodableT) -> List[Any]:
        """Unassign each slot on its owner; one True per slot."""
        return [self.execute_command("CLUSTER", "DELSLOTS", slot) for slot in slots]

    def cluster_delslotsrange(self, *slots: EncodableT) -> Any:
        """Unassign slot ranges (``start, end ...``), asked of the first slot's owner; True."""
        return self.execute_command("CLUSTER", "DELSLOTSRANGE", *slots)

    def cluster_setslot(self, target_node: Any, node_id: str, slot_id: int, state: str) -> Any:
        """CLUSTER SETSLOT slot IMPORTING|MIGRATING|NODE node_id on ``target_node``; True."""
        if not isinstance(state, str) or state.upper() not in _SETSLOT_STATES:
            if isinstance(state, str) and state.upper() == "STABLE":
                raise DataError('For the "stable" state use cluster_setslot_stable')
            raise DataError(f"CLUSTER SETSLOT state must be one of {_SETSLOT_STATES}, "
                            f"not {state!r}")
        return self.execute_command("CLUSTER", "SETSLOT", slot_id, state, node_id,
                                    **targets(target_node))

    def cluster_setslot_stable(self, slot_id: int, target_nodes: Any = None) -> Any:
        """Clear ``slot_id``'s importing/migrating state on the target node(s) (refused without
        one: the state to clear is on the migration's two nodes, not only the owner); True."""
        return self.execute_command("CLUSTER", "SETSLOT", slot_id, "STABLE",
                                    **targets(target_nodes))

    def cluster_countkeysinslot(self, slot_id: int) -> Any:
        """Keys in ``slot_id`` (asked of the slot's owner)."""
        return self.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot_id)

    def cluster_getkeysinslot(self, slot_id: int, num_keys: int) -> Any:
        """Up to ``num_keys`` keys of ``slot_id`` (asked of the slot's owner)."""
        return self.execute_command("CLUSTER", "GETKEYSINSLOT", slot_id, num_keys)

    def cluster_get_keys_in_slot(self, slot: int, num_keys: int) -> Any:
        """redis-py's name for :meth:`cluster_getkeysinslot`."""
        return self.cluster_getkeysinslot(slot, num_keys)

    def cluster_keyslot(self, key: KeyT) -> Any:
        """The hash slot of ``key``, as the server computes it."""
        return self.execute_command("CLUSTER", "KEYSLOT", key)

    def cluster_flushslots(self, target_nodes: Any = None) -> Any:
        """Unassign every slot of the target node (refused without one); True."""
        return self.execute_command("CLUSTER", "FLUSHSLOTS", **targets(target_nodes))

    # --- membership and failover ---------------------------------------------------------------
    def cluster_meet(self, host: str, port: int, target_nodes: Any = None) -> Any:
        """Make the target node(s) meet ``host:port``; True."""
        return self.execute_command("CLUSTER", "MEET", host, port, **targets(target_nodes))

    def cluster_forget(self, node_id: str, target_nodes: Any = None) -> Any:
        """Make the target node(s) forget ``node_id`` for a minute; True."""
        return self.execute_command("CLUSTER", "FORGET", node_id, **targets(target_nodes))

    def cluster_replicate(self, target_nodes: Any, node_id: str) -> Any:
        """Make the target node a replica of ``node_id``; True."""
        return self.execute_command("CLUSTER", "REPLICATE", node_id, **targets(target_nodes))

    def cluster_failover(self, target_node: Any, option: Optional[str] = None) -> Any:
        """Promote the replica ``target_node`` (FORCE / TAKEOVER optional); True."""
        pieces: List[Any] = []
        if option:
            if not isinstance(option, str) or option.upper() not in ("FORCE", "TAKEOVER"):
                raise DataError(f"CLUSTER FAILOVER option must be FORCE or TAKEOVER, "
                                f"not {option!r}")
            pieces.append(option)
        return self.execute_command("CLUSTER", "FAILOVER", *pieces, **targets(target_node))

    def cluster_reset(self, soft: bool = True, target_nodes: Any = None) -> Any:
        """CLUSTER RESET SOFT|HARD on the target node(s); True."""
        return self.execute_command("CLUSTER", "RESET", "SOFT" if soft else "HARD",
                                    **targets(target_nodes))

    def cluster_save_config(self, target_nodes: Any = None) -> Any:
        """Write the target node(s)' nodes.conf; True."""
        return self.execute_command("CLUSTER", "SAVECONFIG", **targets(target_nodes))

    def cluster_set_config_epoch(self, epoch: int, target_nodes: Any = None) -> Any:
        """Set a fresh node's config epoch; True."""
        return self.execute_command("CLUSTER", "SET-CONFIG-EPOCH", epoch,
                                    **targets(target_nodes))

    def cluster_bumpepoch(self, target_nodes: Any = None) -> Any:
        """Advance the target node's config epoch ("BUMPED n" / "STILL n")."""
        return self.execute_command("CLUSTER", "BUMPEPOCH", **targets(target_nodes))

    def cluster_count_failure_report(self, node_id: str, target_nodes: Any = None) -> Any:
        """How many nodes report ``node_id`` as failing (asked of one node)."""
        return self.execute_command("CLUSTER", "COUNT-FAILURE-REPORTS", node_id,
                                    **targets(target_nodes))

    # --- inspection ----------------------------------------------------------------------------
    def cluster_info(self, target_nodes: Any = None) -> Any:
        """CLUSTER INFO of a random node (or the targets), numbers converted."""
        return self.execute_command("CLUSTER", "INFO", **targets(target_nodes))

    def cluster_links(self, target_node: Any = None) -> Any:
        """The target node's cluster-bus links, as dicts."""
        return self.execute_command("CLUSTER", "LINKS", **targets(target_node))

    def cluster_myid(self, target_node: Any = None) -> Any:
        """The node id of ``target_node`` (a random node when None)."""
        return self.execute_command("CLUSTER", "MYID", **targets(target_node))

    def cluster_myshardid(self, target_nodes: Any = None) -> Any:
        """The shard id of a node (Redis 7.2+)."""
        return self.execute_command("CLUSTER", "MYSHARDID", **targets(target_nodes))

    def cluster_nodes(self) -> Any:
        """Every node as a dict (id, host, port, flags, master, slots ...)."""
        return self.execute_command("CLUSTER", "NODES")

    def cluster_replicas(self, node_id: str, target_nodes: Any = None) -> Any:
        """The replicas of a primary, as node dicts."""
        return self.execute_command("CLUSTER", "REPLICAS", node_id, **targets(target_nodes))

    def cluster_shards(self, target_nodes: Any = None) -> Any:
        """CLUSTER SHARDS (raw) of a random node (or the targets)."""
        return self.execute_command("CLUSTER", "SHARDS", **targets(target_nodes))

    def cluster_slaves(self, node_id: str, target_nodes: Any = None) -> Any:
        """redis-py-cluster's name for :meth:`cluster_replicas`."""
        return self.execute_command("CLUSTER", "SLAVES", node_id, **targets(target_nodes))

    def cluster_slots(self, target_nodes: Any = None) -> Any:
        """``{(start, end): {"master": (host, port), "slaves": [...]}}``."""
        return self.execute_command("CLUSTER", "SLOTS", **targets(target_nodes))
