"""redis-py-cluster 2.1.3's pool methods that clustercore's own routing does not need.

:class:`RpcPoolApi` (on every cluster pool): ``from_url``, redis-py-cluster's
``get_connection`` (pub/sub only), ``get_connection_by_key(key, command)``,
``count_all_num_connections``, ``get_encoder``. :class:`ReadOnlyApi` (on
``ClusterReadOnlyConnectionPool``): ``get_connection_by_key`` by command,
``get_master_connection_by_slot``, ``get_random_master_slave_connection_by_slot``,
``get_node_by_slot_random``. Both are written against the pool's public methods
(:class:`RpcPool`), so they cannot drift from what the pool really does.

Where redis-py-cluster and clustercore differ, on purpose: a bad slot number (None included)
raises InvalidSlotError naming it and an uncovered slot SlotNotCoveredError (redis-py-cluster
fell back to a random node's connection, whose server then answered MOVED), and
``get_random_master_slave_connection_by_slot`` does what its name says (2.1.3's passed a node
dict as a slot and raised TypeError).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Protocol, Type, TypeVar

from .._address import NodeAddress
from .._net.connection import ClusterConnection
from .._net.encoding import Encoder
from .._slots import key_slot, slot_number
from ..errors import RedisClusterException, SlotNotCoveredError
from .config import NodeLike, PoolConfig
from .nodemanager import NodeManager
from .stats import PoolStats
from .url import parse_url

__all__ = ["MASTER_NODE_COMMANDS", "ReadOnlyApi", "ReadOnlyPool", "RpcPool", "RpcPoolApi"]

#: Commands the read-only pool sends to the primary even though they only read (cursors of
#: one node: a replica's SCAN would restart on another node's keyspace after a failover).
MASTER_NODE_COMMANDS = ("SCAN", "SSCAN", "HSCAN", "ZSCAN")

P = TypeVar("P", bound="RpcPoolApi")


class RpcPool(Protocol):
    """The public pool surface these methods are written against."""

    config: PoolConfig
    connection_kwargs: Dict[str, Any]

    @property
    def nodes(self) -> NodeManager:
        """redis-py-cluster's NodeManager view."""

    def address_for_slot(self, slot: int, read_command: bool = False) -> NodeAddress:
        """The node serving ``slot``."""

    def address_of(self, node: NodeLike) -> NodeAddress:
        """A node's address."""

    def get_connection_by_address(self, address: NodeAddress) -> ClusterConnection:
        """A connection to exactly this node."""

    def get_connection_by_slot(self, slot: int, read_command: bool = False,
                               ) -> ClusterConnection:
        """A connection to the node serving ``slot``."""

    def get_random_connection(self) -> ClusterConnection:
        """A connection to a random primary."""

    def stats(self) -> PoolStats:
        """A frozen snapshot of the counts."""


class ReadOnlyPool(RpcPool, Protocol):
    """A read-only pool: the public surface plus redis-py-cluster's read-only methods."""

    def get_master_connection_by_slot(self, slot: int) -> ClusterConnection:
        """A connection to ``slot``'s primary."""

    def get_random_master_slave_connection_by_slot(self, slot: int) -> ClusterConnection:
        """A connection to a random one of ``slot``'s nodes."""

    def get_node_by_slot_random(self, slot: int) -> Dict[str, Any]:
        """A random node dict of ``slot``."""


def _routing_slot(pool: RpcPool, key: Any) -> int:
    """The slot of a command's key; redis-py-cluster's error when there is no key."""
    if key is None or (isinstance(key, (str, bytes, bytearray)) and not key):
        raise RedisClusterException("No way to dispatch this command to Redis Cluster.")
    return key_slot(key, pool.connection_kwargs.get("encoding", "utf-8"))


class RpcPoolApi:
    """redis-py-cluster's extra pool methods (a mixin over :class:`RpcPool`)."""

    @classmethod
    def from_url(cls: Type[P], url: str, db: Optional[Any] = None,
                 decode_components: bool = False, **kwargs: Any) -> P:
        """A pool from ``redis://[[user]:password@]host[:port][/0][?option=value...]``
        (``rediss://`` for TLS), read as redis-py 3.5's ``ConnectionPool.from_url`` read it
        (see :mod:`clustercore._pool.url`); the URL's host is the one startup node, ``kwargs``
        are the pool's other arguments (``skip_full_coverage_check=True`` ...) and the URL's
        options replace them. RedisClusterConfigError for another scheme or a database but 0."""
        return cls(**parse_url(url, db, decode_components, **kwargs))

    def get_connection(self: RpcPool, command_name: str, *keys: Any,
                       **options: Any) -> ClusterConnection:
        """redis-py-cluster's entry point, for pub/sub only: ``get_connection("pubsub",
        channel=...)`` is a connection to the channel's slot primary (a random primary
        without a channel); any other command raises RedisClusterException (commands are
        routed by slot: get_connection_by_slot / _by_key / _by_node)."""
        if command_name != "pubsub":
            raise RedisClusterException(
                "Only 'pubsub' commands can be used by get_connection()")
        channel = options.get("channel")
        if not channel:
            return self.get_random_connection()
        return self.get_connection_by_slot(_routing_slot(self, channel))

    def get_connection_by_key(self: RpcPool, key: Any, command: Optional[str] = None, *,
                              read_command: bool = False) -> ClusterConnection:
        """A connection to the node serving ``key``'s slot: the primary (redis-py-cluster),
        or by the read policy with ``read_command=True``. RedisClusterException ("No way to
        dispatch this command to Redis Cluster.") without a key."""
        return self.get_connection_by_slot(_routing_slot(self, key), read_command)

    def count_all_num_connections(self: RpcPool, node: NodeLike) -> int:
        """Connections open now (idle or lent), counted as the cap counts them: ``node``'s
        alone with a per-node cap, else the whole cluster's."""
        stats = self.stats()
        if self.config.max_connections_per_node is None:
            return stats.in_use + stats.idle
        one = stats.node(self.address_of(node))
        return 0 if one is None else one.in_use + one.idle

    def get_encoder(self: RpcPool) -> Encoder:
        """redis-py's Encoder for this pool's ``encoding``, ``encoding_errors`` and
        ``decode_responses`` (``encode(value)`` -> bytes, ``decode(value, force=False)``)."""
        kwargs = self.connection_kwargs
        return Encoder(str(kwargs.get("encoding", "utf-8")),
                       str(kwargs.get("encoding_errors", "strict")),
                       bool(kwargs.get("decode_responses", False)))


class ReadOnlyApi:
    """``ClusterReadOnlyConnectionPool``'s redis-py-cluster methods (a mixin over RpcPool)."""

    #: redis-py-cluster's attribute: commands that read from the primary on this pool.
    master_node_commands = MASTER_NODE_COMMANDS

    def get_connection_by_key(self: ReadOnlyPool, key: Any, command: Optional[str] = None, *,
                              read_command: bool = False) -> ClusterConnection:
        """With ``command`` (redis-py-cluster): the slot's primary for SCAN, SSCAN, HSCAN and
        ZSCAN, else a random one of the slot's primary and replicas. Without: by
        ``read_command`` (the read policy for reads, the primary for writes)."""
        slot = _routing_slot(self, key)
        if command is None:
            return self.get_connection_by_slot(slot, read_command)
        if str(command).upper() in MASTER_NODE_COMMANDS:
            return self.get_master_connection_by_slot(slot)
        return self.get_random_master_slave_connection_by_slot(slot)

    def get_master_connection_by_slot(self: RpcPool, slot: int) -> ClusterConnection:
        """A connection to ``slot``'s primary, never another node."""
        return self.get_connection_by_address(self.address_for_slot(slot))

    def get_random_master_slave_connection_by_slot(self: ReadOnlyPool, slot: int,
                                                   ) -> ClusterConnection:
        """A connection to a random one of ``slot``'s primary and replicas."""
        node = self.get_node_by_slot_random(slot)
        return self.get_connection_by_address(self.address_of(node))

    def get_node_by_slot_random(self: RpcPool, slot: int) -> Dict[str, Any]:
        """A random node dict among ``nodes.slots[slot]`` (the primary and its replicas),
        drawn from the pool's ``rng``; SlotNotCoveredError for an uncovered slot."""
        index = slot_number(slot)
        self.address_for_slot(index)  # discovery first if no layout is known yet
        candidates: List[Dict[str, Any]] = self.nodes.slots.get(index) or []
        if not candidates:
            raise SlotNotCoveredError(f"slot {index} is not covered by any known node")
        return self.config.rng.choice(candidates)
