"""redis-py's node API over clustercore's topology: ClusterNode, node flags, target merging.

redis-py's ``RedisCluster`` names nodes with :class:`ClusterNode` objects and lets many
commands take ``target_nodes=`` (a node flag such as ``RedisCluster.PRIMARIES``, one node, a
list of them, or a ``{name: node}`` dict); its replies from several nodes are merged by a table
of result callbacks (``KEYS`` concatenated, ``DBSIZE`` summed, ``PING`` all-true, everything
else a ``{node name: reply}`` dict). This module is that surface, and nothing more:

* :class:`ClusterNode` -- redis-py's value (``host``, ``port``, ``name``, ``server_type``,
  ``redis_connection``), equal and hashed by name. The nodes a client hands out are built from
  its pool's current frozen :class:`~clustercore._topology.snapshot.Topology` (a
  :class:`NodeSet` per snapshot), never kept as a second source of truth;
* :class:`NodeClient` -- what ``ClusterNode.redis_connection`` and
  ``RedisCluster.get_redis_connection(node)`` return: every redis-py command method, each sent
  to that one node through the client (``rc.get_redis_connection(node).ping()``);
* :class:`NodesManagerView` -- the read-only ``rc.nodes_manager`` attributes redis-py code
  reads (``nodes_cache``, ``slots_cache``, ``default_node``, ``startup_nodes`` ...);
* :func:`target_list` -- a ``target_nodes`` value as a flag or a list of nodes (the executor
  maps them to addresses), and :func:`merge_targeted` with :data:`RESULT_CALLBACKS` -- redis-py's
  merging of a node-targeted command's replies.

No I/O here and no client state of its own: the client and its executor do the work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from .._address import NodeAddress, coerce_port
from .._commands.api import CommandsMixin
from .._slots import slot_number
from .._topology.snapshot import Role, Topology
from ..errors import ClusterUsageError, DataError

if TYPE_CHECKING:
    from .client import RedisCluster

__all__ = [
    "ALL_NODES",
    "DEFAULT_NODE",
    "NODE_FLAGS",
    "PRIMARIES",
    "PRIMARY",
    "RANDOM",
    "REPLICA",
    "REPLICAS",
    "RESULT_CALLBACKS",
    "ClusterNode",
    "InvalidTargetNodesError",
    "NodeClient",
    "NodeSet",
    "NodesManagerView",
    "merge_targeted",
    "node_address",
    "target_list",
]

#: redis-py's node flags (``RedisCluster.PRIMARIES`` ...), for ``target_nodes=``.
PRIMARIES = "primaries"
REPLICAS = "replicas"
ALL_NODES = "all"
RANDOM = "random"
DEFAULT_NODE = "default-node"
NODE_FLAGS = frozenset({PRIMARIES, REPLICAS, ALL_NODES, RANDOM, DEFAULT_NODE})

#: redis-py's ``server_type`` values.
PRIMARY = "primary"
REPLICA = "replica"


class InvalidTargetNodesError(DataError, TypeError):
    """A ``target_nodes`` value that names no node (a TypeError too, as redis-py raises)."""


class ClusterNode:
    """One cluster node as redis-py names it: ``host``, ``port``, ``name`` ("host:port"),
    ``server_type`` ("primary", "replica" or None) and ``redis_connection``.

    Equal and hashed by ``name`` (redis-py's rule), so a node from one snapshot equals the same
    node from the next. ``redis_connection`` is, for nodes a client hands out, a
    :class:`NodeClient` on that client (made on first read); for nodes built by hand it is
    whatever was passed (None by default): pass the node to ``rc.get_redis_connection(node)``
    or as ``target_nodes=`` instead. ``"localhost"`` is spelled ``127.0.0.1``, as redis-py
    resolves it (without a DNS lookup here: clustercore resolves only in its transport).
    """

    __slots__ = ("_client", "_redis_connection", "host", "name", "port", "server_type")

    def __init__(self, host: str, port: Union[int, str], server_type: Optional[str] = None,
                 redis_connection: Any = None) -> None:
        if not isinstance(host, str) or not host:
            raise DataError(f"ClusterNode host must be a non-empty str, got {host!r}")
        try:
            number = coerce_port(port)
        except ValueError as exc:
            raise DataError(f"ClusterNode port: {exc}") from None
        self.host = "127.0.0.1" if host == "localhost" else host
        self.port = number
        self.name = f"{self.host}:{number}"
        self.server_type = server_type
        self._redis_connection = redis_connection
        self._client: Optional[RedisCluster] = None

    @classmethod
    def of(cls, address: NodeAddress, server_type: Optional[str],
           client: Optional[RedisCluster] = None) -> ClusterNode:
        """The node at ``address``, bound to ``client`` (its ``redis_connection``)."""
        node = cls(address.host, address.port, server_type)
        node._client = client
        return node

    @property
    def address(self) -> NodeAddress:
        """The node's :class:`NodeAddress` (what clustercore routes by)."""
        return NodeAddress(self.host, self.port)

    @property
    def redis_connection(self) -> Any:
        """A per-node command view (:class:`NodeClient`) for a client's node; else as set."""
        if self._redis_connection is None and self._client is not None:
            self._redis_connection = NodeClient(self._client, self)
        return self._redis_connection

    @redis_connection.setter
    def redis_connection(self, value: Any) -> None:
        self._redis_connection = value

    def __repr__(self) -> str:
        return (f"[host={self.host},port={self.port},name={self.name},"
                f"server_type={self.server_type},redis_connection={self._redis_connection}]")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClusterNode) and other.name == self.name

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self.name)


def node_address(node: Any) -> Any:
    """A ClusterNode's address; anything else unchanged (the pool parses the other forms)."""
    return node.address if isinstance(node, ClusterNode) else node


def target_list(target_nodes: Any) -> Union[str, List[Any]]:
    """A ``target_nodes`` value as a node flag (a str in NODE_FLAGS) or a non-empty list of
    node names the pool understands (ClusterNodes replaced by their addresses).

    Accepted: a flag; a ClusterNode or NodeAddress; ``"host:port"``; a ``(host, port)`` pair
    or ``[host, port]`` list; a node dict ``{"host", "port"}``; a list or tuple of nodes; a
    ``{name: node}`` dict (redis-py: ``rc.cluster_save_config(rc.get_primaries())`` style).
    Raises InvalidTargetNodesError naming anything else (an empty list included)."""
    if isinstance(target_nodes, str):
        return target_nodes if target_nodes in NODE_FLAGS else [target_nodes]
    if isinstance(target_nodes, (ClusterNode, NodeAddress)):
        return [node_address(target_nodes)]
    if isinstance(target_nodes, Mapping):
        values = list(target_nodes.values())
        if values and all(isinstance(v, (ClusterNode, NodeAddress)) for v in values):
            nodes: List[Any] = values  # {name: node}
        elif "host" in target_nodes:
            nodes = [target_nodes]  # one node record
        else:
            raise InvalidTargetNodesError(
                f"target_nodes dict must map names to ClusterNodes, got {target_nodes!r}")
    elif isinstance(target_nodes, (list, tuple)):
        nodes = [tuple(target_nodes)] if _is_pair(target_nodes) else list(target_nodes)
    else:
        raise InvalidTargetNodesError(
            "target_nodes must be a node flag (primaries, replicas, all, random, "
            "default-node), a ClusterNode, a list of them or a {name: node} dict; got "
            f"{target_nodes!r}")
    if not nodes:
        raise InvalidTargetNodesError(f"target_nodes names no node: {target_nodes!r}")
    for node in nodes:
        if not isinstance(node, (ClusterNode, NodeAddress, str, Mapping, tuple, list)):
            raise InvalidTargetNodesError(f"target_nodes: {node!r} is not a node")
        if isinstance(node, str) and node in NODE_FLAGS:
            raise InvalidTargetNodesError(
                f"target_nodes: the node flag {node!r} cannot be part of a list")
    return [node_address(node) for node in nodes]


def _is_pair(value: Sequence[Any]) -> bool:
    """Whether a sequence is one ``(host, port)`` pair rather than a list of nodes."""
    return (len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)
            and not isinstance(value[1], bool))


class NodeSet:
    """The ClusterNodes of one topology snapshot (built once per snapshot, then read-only)."""

    __slots__ = ("by_name", "nodes", "primaries", "replicas", "topology")

    def __init__(self, topology: Topology, client: Optional[RedisCluster] = None) -> None:
        self.topology = topology
        self.primaries: Tuple[ClusterNode, ...] = tuple(
            ClusterNode.of(a, PRIMARY, client) for a in topology.primaries)
        self.replicas: Tuple[ClusterNode, ...] = tuple(
            ClusterNode.of(a, REPLICA, client) for a in topology.replicas)
        self.nodes: Tuple[ClusterNode, ...] = self.primaries + self.replicas
        self.by_name: Dict[str, ClusterNode] = {n.name: n for n in self.nodes}

    def node(self, address: NodeAddress) -> Optional[ClusterNode]:
        """The node at ``address`` in this snapshot, or None."""
        return self.by_name.get(address.name)

    def slot_nodes(self, slot: int) -> List[ClusterNode]:
        """``[primary, replicas...]`` of ``slot`` (empty: uncovered)."""
        shard = self.topology.slots[slot_number(slot)]
        if shard is None:
            return []
        return [self.by_name[a.name] for a in shard.nodes if a.name in self.by_name]


class NodeClient(CommandsMixin):
    """Every redis-py command method, sent to one node (redis-py's per-node ``Redis``).

    What ``rc.get_redis_connection(node)`` and ``node.redis_connection`` return: each command
    goes through the client with ``target_nodes=`` this node, so it uses the client's pool,
    callbacks and retry rules; no redirect is followed (the node was chosen). ``scan_iter``
    walks this node's keys only."""

    def __init__(self, client: RedisCluster, node: Union[ClusterNode, NodeAddress]) -> None:
        self.client = client
        self.node = node
        self.address = node_address(node)
        self.response_callbacks = client.response_callbacks
        self.result_callbacks = client.result_callbacks

    @property
    def connection_pool(self) -> Any:
        """The client's cluster pool (it holds this node's connections; redis-py's per-node
        ``Redis.connection_pool``)."""
        return self.client.connection_pool

    def execute_command(self, *args: Any, **options: Any) -> Any:
        """Run one command on this node (its reply parsed by the client's callbacks)."""
        options["target_nodes"] = self.address
        return self.client.execute_command(*args, **options)

    def _execute_on_node(self, node: Any, *args: Any) -> Any:
        return self.client.executor.run_on_node(node_address(node), *args)

    def _nodes_for_scan(self) -> List[Any]:
        return [self.address]

    def pubsub(self, **kwargs: Any) -> Any:
        """The client's ClusterPubSub with its classic subscriptions pinned to this node
        (redis-py's ``Redis.pubsub()`` on a node connection: what ClusterKeyspaceNotifications
        uses to listen to every primary); ``kwargs`` as ``RedisCluster.pubsub``."""
        for key in ("node", "host", "port"):
            if key in kwargs:
                raise TypeError(f"NodeClient.pubsub() got {key}={kwargs[key]!r}: "
                                f"its node is {self.address}")
        return self.client.pubsub(host=self.address.host, port=self.address.port, **kwargs)

    def close(self) -> None:
        """Nothing to close: the connections are the client's pool's."""

    def __repr__(self) -> str:
        return f"<NodeClient {self.address} of {self.client!r}>"


class NodesManagerView:
    """redis-py's ``rc.nodes_manager`` attributes, read from the client's current snapshot.

    Read-only except ``default_node`` (which sets the client's default node); ``initialize()``
    and ``reset()`` rediscover the layout now. ``slots_cache`` is built on first read per
    snapshot (16384 entries)."""

    def __init__(self, client: RedisCluster) -> None:
        self._client = client
        self._slots: Optional[Tuple[Topology, Dict[int, List[ClusterNode]]]] = None

    @property
    def nodes_cache(self) -> Dict[str, ClusterNode]:
        """name -> ClusterNode, every node of the current layout."""
        return dict(self._client.node_set().by_name)

    @property
    def slots_cache(self) -> Dict[int, List[ClusterNode]]:
        """slot -> [primary, replicas...] of the current layout (covered slots only)."""
        nodes = self._client.node_set()
        cached = self._slots
        if cached is None or cached[0] is not nodes.topology:
            table: Dict[int, List[ClusterNode]] = {}
            for shard in nodes.topology.shards:
                members = [nodes.by_name[a.name] for a in shard.nodes if a.name in nodes.by_name]
                for start, end in shard.ranges:
                    for slot in range(start, end + 1):
                        table[slot] = members
            cached = self._slots = (nodes.topology, table)
        return cached[1]

    @property
    def default_node(self) -> Optional[ClusterNode]:
        """The client's default node."""
        return self._client.get_default_node()

    @default_node.setter
    def default_node(self, node: ClusterNode) -> None:
        self._client.set_default_node(node)

    @property
    def startup_nodes(self) -> Dict[str, ClusterNode]:
        """name -> ClusterNode of the pool's startup nodes (bound to the client: their
        ``redis_connection`` sends to that node)."""
        return {a.name: self._client.node_for_address(a)
                for a in self._client.connection_pool.startup_nodes}

    @property
    def connection_kwargs(self) -> Dict[str, Any]:
        """The keyword arguments every connection is built with."""
        return self._client.get_connection_kwargs()

    def get_node(self, host: Optional[str] = None, port: Optional[int] = None,
                 node_name: Optional[str] = None) -> Optional[ClusterNode]:
        """As ``RedisCluster.get_node``."""
        return self._client.get_node(host, port, node_name)

    def get_nodes_by_server_type(self, server_type: str) -> List[ClusterNode]:
        """The primaries ("primary") or replicas ("replica") of the current layout."""
        role = Role(server_type)
        if role is Role.PRIMARY:
            return self._client.get_primaries()
        return self._client.get_replicas()

    def get_node_from_slot(self, slot: int, read_from_replicas: bool = False,
                           load_balancing_strategy: Any = None,
                           server_type: Optional[str] = None) -> ClusterNode:
        """The node that serves ``slot`` (a replica for reads when asked, by the pool's
        read policy); SlotNotCoveredError when none does."""
        read = bool(read_from_replicas or load_balancing_strategy
                    or server_type == REPLICA)
        return self._client.node_for_address(
            self._client.connection_pool.address_for_slot(slot, read))

    def initialize(self, *args: Any, **kwargs: Any) -> None:
        """Rediscover the layout now (the arguments redis-py takes are not needed)."""
        self._client.connection_pool.initialize()

    def reset(self) -> None:
        """Rediscover the layout now."""
        self._client.connection_pool.initialize()

    def __repr__(self) -> str:
        return f"<NodesManagerView of {self._client!r}>"


# --- merging a node-targeted command's replies (redis-py's RESULT_CALLBACKS) --------------------
ResultCallback = Callable[..., Any]


def _all_true(command: str, res: Dict[str, Any], **options: Any) -> Any:
    return all(res.values())


def _sum(command: str, res: Dict[str, Any], **options: Any) -> Any:
    return sum(res.values())


def _unique(command: str, res: Dict[str, Any], **options: Any) -> List[Any]:
    """Every element of every node's list, once (first-seen order; redis-py: a set's order)."""
    seen: Dict[Any, None] = {}
    for reply in res.values():
        for item in reply:
            seen.setdefault(item, None)
    return list(seen)


def _numsub(command: str, res: Dict[str, Any], **options: Any) -> List[Tuple[Any, int]]:
    counts: Dict[Any, int] = {}
    for pairs in res.values():
        for channel, count in pairs:
            counts[channel] = counts.get(channel, 0) + count
    return list(counts.items())


def _scan(command: str, res: Dict[str, Any], **options: Any) -> Tuple[Dict[str, Any], List[Any]]:
    cursors: Dict[str, Any] = {}
    keys: List[Any] = []
    for name, (cursor, page) in res.items():
        cursors[name] = cursor
        keys.extend(page)
    return cursors, keys


def _last(command: str, res: Dict[str, Any], **options: Any) -> Any:
    return list(res.values())[-1]


def _script_exists(command: str, res: Dict[str, Any], **options: Any) -> List[bool]:
    return [all(flags) for flags in zip(*res.values())]


def _unblock(command: str, res: Dict[str, Any], **options: Any) -> Any:
    return 1 if sum(int(v) for v in res.values()) > 0 else 0


def _table() -> Dict[str, ResultCallback]:
    table: Dict[str, ResultCallback] = {}
    for names, rule in (
            (("PUBSUB NUMSUB", "PUBSUB SHARDNUMSUB"), _numsub),
            (("PUBSUB NUMPAT", "DBSIZE", "WAIT"), _sum),
            (("KEYS", "PUBSUB CHANNELS", "PUBSUB SHARDCHANNELS"), _unique),
            (("PING", "CONFIG SET", "CONFIG REWRITE", "CONFIG RESETSTAT", "CLIENT SETNAME",
              "BGSAVE", "SLOWLOG RESET", "SAVE", "MEMORY PURGE", "CLIENT PAUSE",
              "CLIENT UNPAUSE", "SCRIPT FLUSH"), _all_true),
            (("CLIENT UNBLOCK",), _unblock),
            (("SCAN",), _scan),
            (("SCRIPT LOAD",), _last),
            (("SCRIPT EXISTS",), _script_exists)):
        for name in names:
            table[name] = rule
    return table


#: redis-py 8.1's merge rules for node-targeted commands (``RedisCluster.RESULT_CALLBACKS``),
#: ``callback(command, {node name: parsed reply}, **options)``; applied to one node's reply too
#: (so ``ping(target_nodes=node)`` is True, ``keys(target_nodes=node)`` a list).
RESULT_CALLBACKS: Dict[str, ResultCallback] = _table()


def merge_targeted(name: str, replies: Dict[str, Any],
                   user_callbacks: Optional[Mapping[str, ResultCallback]] = None,
                   **options: Any) -> Any:
    """A node-targeted command's result from its parsed replies (``{node name: reply}``):
    the user's result callback for ``name``, else redis-py's rule, else the one reply (one
    node) or the dict (several)."""
    callback = user_callbacks.get(name) if user_callbacks else None
    if callback is None:
        callback = RESULT_CALLBACKS.get(name)
    if callback is not None:
        return callback(name, replies, **options)
    if len(replies) == 1:
        return next(iter(replies.values()))
    return replies


def no_targets(args: Sequence[Any]) -> ClusterUsageError:
    """The error for a node flag that matched no node (``replicas`` on a cluster without)."""
    return ClusterUsageError(f"No targets were found to execute {tuple(args)!r} command on")

