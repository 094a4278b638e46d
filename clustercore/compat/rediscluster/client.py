"""redis-py-cluster 2.1.3's ``rediscluster.client``: ``RedisCluster`` with its conventions.

A subclass of clustercore's RedisCluster (same constructor, pools, routing, retries) that keeps
what redis-py-cluster did differently from redis-py 8.x, so that code written for it runs with
one changed import (docs/migration-redis-py-cluster.md):

- **per-node replies**: the commands redis-py-cluster sent to every node (or every primary)
  return ``{"host:port": reply}`` as it did (``NODES_FLAGS`` / ``RESULT_CALLBACKS`` below are
  its tables; ``set_result_callback`` still replaces a command's merge);
- **cross-slot emulation**: msetnx, rename / renamenx, smove, sdiff / sinter / sunion and their
  ``*store`` forms, pfmerge / pfcount, rpoplpush / brpoplpush work across slots
  (:mod:`.crossslot`: not atomic, never losing data half way);
- **redis-py 3.5 signatures**: ``geoadd(name, *values)``, ``mset(*args, **kwargs)``,
  ``msetnx(*args, **kwargs)``, ``rename(src, dst, replace=False)``, ``lpushx(name, value)``,
  ``pipeline(transaction=None, shard_hint=None, read_from_replicas=False)``, the positional
  ``from_url(url, db, skip_full_coverage_check, readonly_mode, read_from_replicas)``,
  ``pubsub_channels/numpat/numsub(..., aggregate=True)``.

``emulation_hook(command, step)`` (keyword only, default None) is called before each step of a
multi-step emulation: tests use it to fail a node over in the middle of one.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

from ..._commands.callbacks import DEFAULT_CALLBACKS
from ..._commands.callbacks_admin import ADMIN_CALLBACKS
from ..._execution.client import RedisCluster as _CoreRedisCluster
from ..._execution.nodes import ALL_NODES, PRIMARIES
from ..._execution.pipeline import ClusterPipeline as _CorePipeline
from ...errors import DataError, RedisClusterException
from . import crossslot
from .pipeline import ClusterPipeline
from .pubsub import ClusterPubSub
from .utils import (
    dict_merge,
    first_key,
    merge_result,
    parse_pubsub_channels,
    parse_pubsub_numpat,
    parse_pubsub_numsub,
    string_keys_to_dict,
)

__all__ = ["RedisCluster"]

#: Commands redis-py-cluster sent to every node and returned as ``{node: reply}``.
ALL_NODES_BY_NODE = (
    "BGREWRITEAOF", "BGSAVE", "CLIENT GETNAME", "CLIENT ID", "CLIENT KILL", "CLIENT LIST",
    "CLIENT SETNAME", "CLUSTER INFO", "CONFIG GET", "CONFIG RESETSTAT", "CONFIG REWRITE",
    "CONFIG SET", "DBSIZE", "ECHO", "INFO", "LASTSAVE", "PING", "SAVE", "SLOWLOG GET",
    "SLOWLOG LEN", "SLOWLOG RESET", "TIME",
)
#: Commands it sent to every primary and returned as ``{node: reply}``.
PRIMARIES_BY_NODE = ("FLUSHALL", "FLUSHDB", "SCAN")
#: Commands whose first argument is a subcommand (their table names are "CONFIG GET" ...).
_CONTAINERS = frozenset({"ACL", "CLIENT", "CLUSTER", "CONFIG", "PUBSUB", "SCRIPT", "SENTINEL",
                         "SLOWLOG"})
#: redis-py-cluster's CLUSTER_COMMANDS_RESPONSE_CALLBACKS names (merged into every client's
#: response callbacks; clustercore's callbacks for them are the same shapes).
_CLUSTER_CALLBACK_NAMES = (
    "CLUSTER ADDSLOTS", "CLUSTER COUNT-FAILURE-REPORTS", "CLUSTER COUNTKEYSINSLOT",
    "CLUSTER DELSLOTS", "CLUSTER FAILOVER", "CLUSTER FORGET", "CLUSTER GETKEYSINSLOT",
    "CLUSTER INFO", "CLUSTER KEYSLOT", "CLUSTER MEET", "CLUSTER NODES", "CLUSTER REPLICATE",
    "CLUSTER RESET", "CLUSTER SAVECONFIG", "CLUSTER SET-CONFIG-EPOCH", "CLUSTER SETSLOT",
    "CLUSTER SLAVES", "CLUSTER SLOTS", "ASKING", "READONLY", "READWRITE",
)
_RESPONSE_CALLBACKS: Dict[str, Callable[..., Any]] = {**DEFAULT_CALLBACKS, **ADMIN_CALLBACKS}
_CLUSTER_CALLBACKS = {name: _RESPONSE_CALLBACKS[name] for name in _CLUSTER_CALLBACK_NAMES
                      if name in _RESPONSE_CALLBACKS}
_FORCED = {**dict.fromkeys(ALL_NODES_BY_NODE, ALL_NODES),
           **dict.fromkeys(("FLUSHALL", "FLUSHDB"), PRIMARIES)}


def by_node(command: str, res: Dict[str, Any], **options: Any) -> Dict[str, Any]:
    """redis-py-cluster's merge of the per-node commands: none (``{node name: reply}``)."""
    return res


def command_name(args: Tuple[Any, ...]) -> str:
    """The table name of a command: ``"GET"``, ``"CONFIG GET"`` (from ``"CONFIG", "GET"`` or
    ``"CONFIG GET"``), upper case."""
    first = args[0]
    name = (first.decode("utf-8", "replace") if isinstance(first, (bytes, bytearray))
            else str(first)).upper()
    if " " not in name and name in _CONTAINERS and len(args) > 1:
        second = args[1]
        sub = (second.decode("utf-8", "replace") if isinstance(second, (bytes, bytearray))
               else str(second))
        name = f"{name} {sub.upper()}"
    return name


class RedisCluster(_CoreRedisCluster):
    """clustercore's RedisCluster with redis-py-cluster 2.1.3's conventions (module docstring).

    The constructor is clustercore's (redis-py-cluster's positional order) plus the keyword
    ``emulation_hook``.
    """

    #: redis-py-cluster's node flags: where a command went ("all-nodes", "all-masters",
    #: "random", "slot-id"; "blocked" ones it refused). The per-node entries are honoured
    #: (the command goes to those nodes, its reply is per node); "random" and "slot-id" ones
    #: and KEYS / PUBSUB / SCRIPT are routed by clustercore, with the same results; "blocked"
    #: ones are not refused (clustercore runs what the cluster can run and raises otherwise).
    NODES_FLAGS: Dict[str, str] = dict_merge(
        string_keys_to_dict(["ACL CAT", "ACL DELUSER", "ACL GENPASS", "ACL GETUSER", "ACL HELP",
                             "ACL LIST", "ACL LOAD", "ACL LOG", "ACL SAVE", "ACL SETUSER",
                             "ACL USERS", "ACL WHOAMI", "BITOP", "MOVE", "SCRIPT KILL",
                             "SHUTDOWN", "SLAVEOF", "WAIT"], "blocked"),
        string_keys_to_dict([*ALL_NODES_BY_NODE, "KEYS", "PUBSUB CHANNELS", "PUBSUB NUMPAT",
                             "PUBSUB NUMSUB"], "all-nodes"),
        string_keys_to_dict(["FLUSHALL", "FLUSHDB", "SCAN", "SCRIPT EXISTS", "SCRIPT FLUSH",
                             "SCRIPT LOAD", "SCRIPT DEBUG"], "all-masters"),
        string_keys_to_dict(["CLUSTER NODES", "CLUSTER SLOTS", "RANDOMKEY"], "random"),
        string_keys_to_dict(["CLUSTER COUNTKEYSINSLOT", "CLUSTER GETKEYSINSLOT"], "slot-id"),
    )
    #: redis-py-cluster's result callbacks ``(command, {node: reply}) -> result``.
    RESULT_CALLBACKS: Dict[str, Callable[..., Any]] = dict_merge(  # type: ignore[assignment]
        string_keys_to_dict([*ALL_NODES_BY_NODE, *PRIMARIES_BY_NODE], by_node),
        string_keys_to_dict(["KEYS"], merge_result),
        string_keys_to_dict(["RANDOMKEY"], first_key),
        string_keys_to_dict(["PUBSUB CHANNELS"], parse_pubsub_channels),
        string_keys_to_dict(["PUBSUB NUMSUB"], parse_pubsub_numsub),
        string_keys_to_dict(["PUBSUB NUMPAT"], parse_pubsub_numpat),
    )

    #: The response callbacks every client starts with (redis-py 3.5's class attribute;
    #: each client has its own case-insensitive copy in ``response_callbacks``).
    RESPONSE_CALLBACKS: Dict[str, Callable[..., Any]] = _RESPONSE_CALLBACKS
    #: redis-py-cluster's table of the CLUSTER commands' callbacks (part of the above).
    CLUSTER_COMMANDS_RESPONSE_CALLBACKS: Dict[str, Callable[..., Any]] = _CLUSTER_CALLBACKS

    def __init__(self, *args: Any, emulation_hook: Optional[Callable[[str, str], None]] = None,
                 **kwargs: Any) -> None:
        host = args[0] if args else kwargs.get("host")
        startup_nodes = args[2] if len(args) > 2 else kwargs.get("startup_nodes")
        if (startup_nodes is not None and not startup_nodes and not host
                and not kwargs.get("connection_pool")):
            # redis-py-cluster's message for an explicitly empty list and no host
            raise RedisClusterException("No startup nodes provided")
        super().__init__(*args, **kwargs)
        #: Called as ``hook(command, step)`` before each step of a multi-step emulation.
        self.emulation_hook = emulation_hook
        #: redis-py-cluster's per-client copy of NODES_FLAGS.
        self.nodes_flags: Dict[str, str] = dict(self.NODES_FLAGS)
        for name in (*ALL_NODES_BY_NODE, *PRIMARIES_BY_NODE):
            self.result_callbacks[name] = by_node

    @classmethod
    def from_url(cls, url: str, db: Optional[int] = None,
                 skip_full_coverage_check: bool = False, readonly_mode: bool = False,
                 read_from_replicas: bool = False, **kwargs: Any) -> RedisCluster:
        """redis-py-cluster's positional ``from_url``; ``unix://`` is refused as it refused it
        (a socket file reaches one server, not a cluster)."""
        if isinstance(url, str) and url.lower().startswith("unix://"):
            raise RedisClusterException("Unix sockets do not work in a cluster environment")
        if db is not None:
            kwargs["db"] = db
        client = super().from_url(url, skip_full_coverage_check=skip_full_coverage_check,
                                  readonly_mode=readonly_mode,
                                  read_from_replicas=read_from_replicas, **kwargs)
        assert isinstance(client, RedisCluster)
        return client

    # --- routing ---------------------------------------------------------------------------------
    def execute_command(self, *args: Any, **options: Any) -> Any:
        """clustercore's execute_command; the per-node commands (``NODES_FLAGS`` "all-nodes"
        and "all-masters" ones with a per-node result) go to those nodes unless the caller
        names ``target_nodes``."""
        if args and options.get("target_nodes") is None:
            name = command_name(args)
            flag = _FORCED.get(name)
            if flag is not None and self.nodes_flags.get(name) in ("all-nodes", "all-masters"):
                options["target_nodes"] = flag
        return super().execute_command(*args, **options)

    def set_result_callback(self, command: str, callback: Callable[..., Any]) -> None:
        """Replace how ``command``'s per-node replies are merged: ``callback(command,
        {node: reply}, **options)``."""
        self.result_callbacks[command.upper()] = callback

    # --- redis-py 3.5 / redis-py-cluster signatures ---------------------------------------------
    def pipeline(self, transaction: Optional[bool] = None, shard_hint: Any = None,
                 read_from_replicas: bool = False) -> Any:
        """A pipeline whose cross-slot emulated commands run in their place in the order
        (:class:`.pipeline.ClusterPipeline`); ``transaction=True``: clustercore's one-slot
        MULTI/EXEC pipeline. ``read_from_replicas`` is accepted; reads go where the client's
        own read policy sends them."""
        if transaction:
            return _CorePipeline(self, transaction=True, shard_hint=shard_hint)
        return ClusterPipeline(self, shard_hint=shard_hint)

    def pubsub(self, node: Any = None, host: Optional[str] = None, port: Optional[int] = None,
               **kwargs: Any) -> ClusterPubSub:
        """clustercore's pub/sub with redis-py 3.5's read-before-subscribe RuntimeError."""
        for key, value in (("node", node), ("host", host), ("port", port)):
            if value is not None:
                kwargs[key] = value
        return ClusterPubSub(self, **kwargs)

    def geoadd(self, name: Any, *values: Any, **options: Any) -> Any:
        """redis-py 3.5's ``geoadd(name, lon1, lat1, member1, lon2, ...)``; clustercore's
        ``values=`` sequence and nx/xx/ch keywords work too."""
        if not values or options or (len(values) == 1 and not isinstance(values[0], (int, float))):
            return super().geoadd(name, *values, **options)
        if len(values) % 3 != 0:
            raise DataError("GEOADD requires places with lon, lat and name values")
        return self.execute_command("GEOADD", name, *values)

    def lpushx(self, name: Any, value: Any, *values: Any) -> Any:  # type: ignore[override]
        """LPUSHX with redis-py 3.5's one ``value`` (more are accepted, as redis-py 8.x does)."""
        return super().lpushx(name, value, *values)

    def mget(self, keys: Any, *args: Any) -> Any:
        """Values of many keys in order (split by slot); no keys at all gives ``[]`` without a
        round trip, as redis-py 3.5's EMPTY_RESPONSE did (``mget([])``)."""
        if not args and isinstance(keys, (list, tuple)) and not keys:
            return []
        return super().mget(keys, *args)

    def mset(self, *args: Any, **kwargs: Any) -> bool:
        """Set keys from one dict and/or keywords, across slots (not atomic); True."""
        super().mset(crossslot.mapping_args("MSET", args, kwargs))
        return True

    def msetnx(self, *args: Any, **kwargs: Any) -> bool:
        """Set keys only if none exists (one dict and/or keywords), across slots (emulated)."""
        return crossslot.msetnx(self, crossslot.mapping_args("MSETNX", args, kwargs))

    def rename(self, src: Any, dst: Any, replace: bool = False) -> bool:
        """RENAME across slots (emulated: copy, then delete the source). ``replace`` is
        redis-py-cluster's parameter: dst is overwritten either way, as RENAME does."""
        return crossslot.rename(self, src, dst)

    def renamenx(self, src: Any, dst: Any) -> bool:
        """RENAMENX across slots (emulated); False when dst exists."""
        return crossslot.rename(self, src, dst, nx=True)

    def smove(self, src: Any, dst: Any, value: Any) -> bool:
        """SMOVE across slots (emulated)."""
        return crossslot.smove(self, src, dst, value)

    def rpoplpush(self, src: Any, dst: Any) -> Any:
        """RPOPLPUSH across slots (emulated through a backup list in src's slot)."""
        return crossslot.rpoplpush(self, src, dst)

    def brpoplpush(self, src: Any, dst: Any, timeout: Optional[float] = 0) -> Any:
        """BRPOPLPUSH across slots (emulated); None after ``timeout`` seconds (0: no limit)."""
        return crossslot.brpoplpush(self, src, dst, timeout)

    def sdiff(self, keys: Any, *args: Any) -> Any:
        """SDIFF across slots (computed here from SMEMBERS)."""
        return crossslot.set_combine(self, "SDIFF", crossslot.list_or_args(keys, args))

    def sinter(self, keys: Any, *args: Any) -> Any:
        """SINTER across slots (computed here from SMEMBERS)."""
        return crossslot.set_combine(self, "SINTER", crossslot.list_or_args(keys, args))

    def sunion(self, keys: Any, *args: Any) -> Any:
        """SUNION across slots (computed here from SMEMBERS)."""
        return crossslot.set_combine(self, "SUNION", crossslot.list_or_args(keys, args))

    def sdiffstore(self, dest: Any, keys: Any, *args: Any) -> int:
        """SDIFFSTORE across slots (dest written in one MULTI/EXEC)."""
        return crossslot.set_combine_store(self, "SDIFF", dest, crossslot.list_or_args(keys, args))

    def sinterstore(self, dest: Any, keys: Any, *args: Any) -> int:
        """SINTERSTORE across slots (dest written in one MULTI/EXEC)."""
        return crossslot.set_combine_store(self, "SINTER", dest, crossslot.list_or_args(keys, args))

    def sunionstore(self, dest: Any, keys: Any, *args: Any) -> int:
        """SUNIONSTORE across slots (dest written in one MULTI/EXEC)."""
        return crossslot.set_combine_store(self, "SUNION", dest, crossslot.list_or_args(keys, args))

    def pfmerge(self, dest: Any, *sources: Any) -> bool:
        """PFMERGE across slots (sources copied into dest's slot, one PFMERGE)."""
        return crossslot.pfmerge(self, dest, *sources)

    def pfcount(self, *sources: Any) -> int:
        """PFCOUNT of the union, across slots (copies into one slot, one PFCOUNT)."""
        return crossslot.pfcount(self, *sources)

    def client_unblock(self, client_id: int, error: bool = False, **kwargs: Any) -> bool:
        """CLIENT UNBLOCK on every node (client ids are per node): whether any node had that
        client blocked. With ``target_nodes``: clustercore's (those nodes' replies)."""
        if kwargs.get("target_nodes") is not None:
            return bool(super().client_unblock(client_id, error, **kwargs))
        return any(super(RedisCluster, self).client_unblock(client_id, error, target_nodes=node)
                   for node in self.get_nodes())

    # --- PUBSUB introspection with redis-py-cluster's ``aggregate`` ------------------------------
    def _per_node(self, *args: Any) -> Dict[str, Any]:
        return {node.name: self.execute_command(*args, target_nodes=node)
                for node in self.get_nodes()}

    def pubsub_channels(self, pattern: Any = "*", aggregate: bool = True,
                        **kwargs: Any) -> Any:
        """Channels with subscribers on any node (``aggregate=False``: per node)."""
        res = self._per_node("PUBSUB CHANNELS", pattern)
        return self._merge_pubsub("PUBSUB CHANNELS", res, aggregate)

    def pubsub_numpat(self, aggregate: bool = True, **kwargs: Any) -> Any:
        """Pattern subscriptions over all nodes (``aggregate=False``: per node)."""
        return self._merge_pubsub("PUBSUB NUMPAT", self._per_node("PUBSUB NUMPAT"), aggregate)

    def pubsub_numsub(self, *args: Any, **kwargs: Any) -> Any:
        """``[(channel, subscribers)]`` over all nodes (``aggregate=False``: per node)."""
        aggregate = bool(kwargs.pop("aggregate", True))
        return self._merge_pubsub("PUBSUB NUMSUB", self._per_node("PUBSUB NUMSUB", *args),
                                  aggregate)

    def _merge_pubsub(self, name: str, res: Dict[str, Any], aggregate: bool) -> Any:
        callback = self.result_callbacks.get(name) or self.RESULT_CALLBACKS[name]
        return callback(name, res, aggregate=aggregate)


