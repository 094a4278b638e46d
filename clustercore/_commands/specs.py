"""The static command table: what a :class:`CommandSpec` says, one spec per known command, and the
lookup from a call's arguments to its spec.

Pure data plus small pure functions; no I/O, no client state. ``lookup(args)`` finds a
command's :class:`CommandSpec` (subcommands such as ``CLUSTER SLOTS`` included, any case, str or
bytes); ``name_of`` gives the name the reply callbacks are keyed by. What the client reads out of
a spec lives beside this module, one job per module, and each of them imports this one (never the
reverse): ``keys`` (key arguments, the slot, the one-key fast path, splitting by slot), ``merge``
(joining split and fan-out replies), ``idempotency`` (may a lost reply be answered by sending the
command again), ``blocking`` (how long the server may keep a reply back) and ``server_specs``
(specs built from a server's ``COMMAND INFO`` for commands this table lacks).

Key positions follow Redis: ``args[0]`` is the command name (for a subcommand, ``args[1]`` is the
subcommand word), ``first_key``/``last_key``/``key_step`` are indexes into ``args``, a negative
``last_key`` counts from the end (``-1`` = the last argument, ``-2`` = the one before: BLPOP's
timeout is not a key), ``0`` means no keys at fixed positions. ``numkeys_arg`` names the position
of a *numkeys* argument whose keys follow it (EVAL, ZUNIONSTORE, LMPOP ...); ``keys_after`` names a
keyword after which the first half of the remaining arguments are keys (XREAD ... STREAMS).
A handful of commands carry extra keys behind option keywords (SORT ... STORE, GEORADIUS ...
STORE/STOREDIST, MIGRATE ... KEYS); ``keys_of`` knows them.

Readonly: ``readonly`` is exactly the server's ``readonly`` command flag (the integration test
checks every entry against a real server). Such commands may be served by a replica after
READONLY. Key-less commands that merely inspect a node (INFO, PING) are not flagged by the server
and their routing comes from ``route`` instead.

Routing: ``Route.SLOT`` by the keys' slot (a keyed command with no keys in this call, like
``EVAL script 0``, may go to any primary); ``SLOT_ARG`` by a slot number given as the argument at
``slot_arg`` (CLUSTER COUNTKEYSINSLOT/GETKEYSINSLOT); ``CHANNEL`` by the slot of ``args[1]``, a
pub/sub channel that is not a key: any node would deliver a PUBLISH cluster-wide, but one node
per channel keeps one publisher's messages in order; ``ALL_PRIMARIES``/``ALL_NODES`` fan out and
merge with ``merge``; ``RANDOM_PRIMARY``/``RANDOM_NODE`` pick one. ``CONNECTION`` commands only
make sense on the connection that holds some state (MULTI/EXEC/DISCARD/WATCH/UNWATCH, the
SUBSCRIBE family, AUTH/HELLO/RESET/QUIT, ASKING/READONLY/READWRITE, CLIENT TRACKING/REPLY/
CACHING, SCRIPT DEBUG, WAIT): the pipeline, pub/sub and connection layers own them and the
client must refuse them in ``execute_command`` unless the caller names the node
(``target_nodes=``). ``DEFAULT_NODE`` commands go where redis-py 8 sends them: its default node
(a primary; ``RedisCluster.set_default_node`` changes it), one reply returned as it is: INFO,
CONFIG *, CLIENT LIST/KILL/ID/INFO/GETNAME/SETNAME/PAUSE/UNPAUSE/UNBLOCK, ACL *, SLOWLOG *,
LATENCY *, MEMORY STATS/PURGE/DOCTOR/MALLOC-STATS, LASTSAVE, TIME, PING, COMMAND *, MODULE
LIST/LOAD/UNLOAD, DEBUG, SAVE, BGSAVE and the read-only CLUSTER INFO/NODES/SLOTS/SHARDS/...
(``target_nodes=`` sends any of them elsewhere, several nodes giving redis-py's
``{node name: reply}``; ``clustercore.compat.rediscluster`` keeps redis-py-cluster's
every-node dicts). ``NODE_ONLY`` commands are administration of one particular node where an
arbitrary choice does harm (SHUTDOWN, MONITOR, SELECT, MOVE, SWAPDB, REPLICAOF, FAILOVER,
BGREWRITEAOF, CLUSTER MEET/SETSLOT/ADDSLOTS/FORGET/RESET/REPLICATE/FAILOVER/FLUSHSLOTS/...):
without ``target_nodes=`` the client refuses them (redis-py sends some of them to its default
node) and points to a node-level connection. CLUSTER DELSLOTS/DELSLOTSRANGE, which redis-py
routes by their slot number, go to the slot's owner (as COUNTKEYSINSLOT); DEBUG OBJECT to its
key's.

Fan-out, deliberately wider than redis-py's default node (same return shapes): DBSIZE, KEYS,
SCAN, FLUSHALL/FLUSHDB and FUNCTION LOAD/DELETE/FLUSH/RESTORE/STATS go to every primary
(functions replicate to replicas); PUBSUB CHANNELS/NUMSUB/NUMPAT/SHARD* and ROLE to every node;
SCRIPT LOAD/EXISTS/FLUSH to every node too, because scripts do not replicate and replicas serve
EVALSHA_RO (the server's own tips say all_nodes for LOAD and FLUSH). FUNCTION LIST goes to every
primary as in redis-py, returning ``{node name: reply}``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from types import MappingProxyType
from typing import (
    Any,
    Dict,
    Iterable,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from .specs_redis8 import REDIS8_ROWS

__all__ = [
    "COMMANDS",
    "FIRST_WORDS",
    "CommandSpec",
    "Merge",
    "Route",
    "has_space",
    "lookup",
    "name_of",
    "normalize_args",
    "upper_word",
]


class Route(enum.Enum):
    """Where a command is sent (see the module docstring)."""

    SLOT = "slot"
    SLOT_ARG = "slot-arg"
    CHANNEL = "channel"
    ALL_PRIMARIES = "all-primaries"
    ALL_NODES = "all-nodes"
    RANDOM_PRIMARY = "random-primary"
    RANDOM_NODE = "random-node"
    DEFAULT_NODE = "default-node"
    CONNECTION = "connection"
    NODE_ONLY = "node-only"


class Merge(enum.Enum):
    """How the replies of several nodes (or slots) become one return value."""

    FIRST = "first"                 # any one reply (also the default for one-node commands)
    LIST = "list"                   # [reply of each node]
    SUM = "sum"                     # integers added up
    MIN = "min"                     # the smallest integer
    MAX = "max"                     # the largest integer
    CONCAT = "concat"               # lists concatenated (KEYS)
    UNION = "union"                 # lists joined without duplicates, first-seen order
    SUM_BY_KEY = "sum-by-key"       # [(name, count), ...] per node, counts added per name
    ALL_OK = "all-ok"               # True when every node succeeded, else the first error
    ANY_OK = "any-ok"               # one success suffices; the first error if all failed
    AND = "and"                     # element-wise AND of per-node lists (SCRIPT EXISTS)
    OR = "or"                       # element-wise OR of per-node lists
    DICT_BY_NODE = "dict-by-node"   # {node name: reply} (INFO, CONFIG GET ...)
    KEY_ORDER = "key-order"         # split MGET: per-slot values put back in key order


@dataclass(frozen=True)
class CommandSpec:
    """Everything the client needs to route one command; see the module docstring."""

    name: str
    first_key: int = 0
    last_key: int = 0
    key_step: int = 0
    readonly: bool = False
    idempotent: bool = False
    route: Route = Route.SLOT
    merge: Merge = Merge.FIRST
    #: Position of a numkeys argument; that many keys follow it (0: none).
    numkeys_arg: int = 0
    #: Keyword after which the first half of the remaining arguments are keys (XREAD STREAMS).
    keys_after: Optional[str] = None
    #: Server-side timeout: an index into args (negative from the end) or a keyword whose next
    #: argument is the timeout (XREAD/XREADGROUP ``BLOCK``). ``None``: never blocks.
    blocking_timeout_arg: Union[int, str, None] = None
    #: Seconds per unit of that timeout: 1.0 (BLPOP & co.) or 0.001 (XREAD BLOCK, WAIT).
    blocking_timeout_unit: float = 1.0
    #: The client may split the keys by slot (not atomic across slots).
    split: bool = False
    #: For ``Route.SLOT_ARG``: the index of the slot-number argument.
    slot_arg: int = 0

    @property
    def has_keys(self) -> bool:
        """Whether the command names keys at all (in some calls)."""
        return bool(self.first_key or self.numkeys_arg or self.keys_after)


# --- table building helpers ----------------------------------------------------------------------
_K1 = (1, 1, 1)
_K12 = (1, 2, 1)
_KALL = (1, -1, 1)
_K2 = (2, 2, 1)
_NONE = (0, 0, 0)
_Keys = Tuple[int, int, int]


def _mk(name: str, keys: _Keys, readonly: bool, idempotent: bool, **kw: Any) -> CommandSpec:
    first, last, step = keys
    return CommandSpec(name, first, last, step, readonly, idempotent, **kw)


def _read(name: str, keys: _Keys = _K1, **kw: Any) -> CommandSpec:
    """A command flagged readonly by the server (idempotent)."""
    return _mk(name, keys, True, True, **kw)


def _conv(name: str, keys: _Keys = _K1, **kw: Any) -> CommandSpec:
    """A converging write: safe to repeat."""
    return _mk(name, keys, False, True, **kw)


def _once(name: str, keys: _Keys = _K1, **kw: Any) -> CommandSpec:
    """A write that must not be repeated blindly."""
    return _mk(name, keys, False, False, **kw)


def _node(name: str, route: Route, merge: Merge = Merge.FIRST, *, readonly: bool = False,
          idempotent: bool = True) -> CommandSpec:
    """A key-less command sent to one or more nodes."""
    return CommandSpec(name, readonly=readonly, idempotent=idempotent, route=route, merge=merge)


def _conn(name: str, keys: _Keys = _NONE, **kw: Any) -> CommandSpec:
    """A connection-bound command (pipelines / pub/sub / the connection layer own it)."""
    return _mk(name, keys, False, False, route=Route.CONNECTION, **kw)


def _admin(name: str, keys: _Keys = _NONE, *, readonly: bool = False) -> CommandSpec:
    """Administration of one particular node: refused by the cluster client."""
    return _mk(name, keys, readonly, False, route=Route.NODE_ONLY)


_P = Route.ALL_PRIMARIES
_A = Route.ALL_NODES
_RP = Route.RANDOM_PRIMARY
_RN = Route.RANDOM_NODE
_D = Route.DEFAULT_NODE
_MS = 0.001

_TABLE: Tuple[CommandSpec, ...] = (
    # --- strings ---------------------------------------------------------------------------------
    _once("APPEND"),
    _once("DECR"),
    _once("DECRBY"),
    _read("GET"),
    _once("GETDEL"),
    _conv("GETEX"),
    _read("GETRANGE"),
    _once("GETSET"),
    _once("INCR"),
    _once("INCRBY"),
    _once("INCRBYFLOAT"),
    _read("LCS", _K12),
    _read("MGET", _KALL, split=True, merge=Merge.KEY_ORDER),
    _conv("MSET", (1, -1, 2), split=True, merge=Merge.ALL_OK),
    _conv("MSETNX", (1, -1, 2)),
    _conv("PSETEX"),
    _conv("SET"),
    _conv("SETEX"),
    _conv("SETNX"),
    _conv("SETRANGE"),
    _read("STRLEN"),
    _read("SUBSTR"),
    # --- keys and expiry -------------------------------------------------------------------------
    _conv("COPY", _K12),
    _conv("DEL", _KALL, split=True, merge=Merge.SUM),
    _read("DUMP"),
    _read("EXISTS", _KALL, split=True, merge=Merge.SUM),
    _conv("EXPIRE"),
    _conv("EXPIREAT"),
    _read("EXPIRETIME"),
    _node("KEYS", _P, Merge.CONCAT, readonly=True),
    _once("MIGRATE", (3, 3, 1)),
    _admin("MOVE", _K1),
    _read("OBJECT ENCODING", _K2),
    _read("OBJECT FREQ", _K2),
    _node("OBJECT HELP", _RN),
    _read("OBJECT IDLETIME", _K2),
    _read("OBJECT REFCOUNT", _K2),
    _conv("PERSIST"),
    _conv("PEXPIRE"),
    _conv("PEXPIREAT"),
    _read("PEXPIRETIME"),
    _read("PTTL"),
    _node("RANDOMKEY", _RP, readonly=True),
    _conv("RENAME", _K12),
    _conv("RENAMENX", _K12),
    _conv("RESTORE"),
    _admin("RESTORE-ASKING", _K1),
    _node("SCAN", _P, Merge.DICT_BY_NODE, readonly=True),
    _conv("SORT"),
    _read("SORT_RO"),
    _read("TOUCH", _KALL, split=True, merge=Merge.SUM),
    _read("TTL"),
    _read("TYPE"),
    _conv("UNLINK", _KALL, split=True, merge=Merge.SUM),
    _conn("WAIT", blocking_timeout_arg=2, blocking_timeout_unit=_MS),
    _conn("WAITAOF", blocking_timeout_arg=3, blocking_timeout_unit=_MS),
    # --- hashes ----------------------------------------------------------------------------------
    _conv("HDEL"),
    _read("HEXISTS"),
    _once("HGETDEL"),
    _conv("HGETEX"),
    _conv("HEXPIRE"),
    _conv("HEXPIREAT"),
    _read("HEXPIRETIME"),
    _read("HGET"),
    _read("HGETALL"),
    _once("HINCRBY"),
    _once("HINCRBYFLOAT"),
    _read("HKEYS"),
    _read("HLEN"),
    _read("HMGET"),
    _conv("HMSET"),
    _conv("HPERSIST"),
    _conv("HPEXPIRE"),
    _conv("HPEXPIREAT"),
    _read("HPEXPIRETIME"),
    _read("HPTTL"),
    _read("HRANDFIELD"),
    _read("HSCAN"),
    _conv("HSET"),
    _conv("HSETEX"),
    _conv("HSETNX"),
    _read("HSTRLEN"),
    _read("HTTL"),
    _read("HVALS"),
    # --- lists -----------------------------------------------------------------------------------
    _once("BLMOVE", _K12, blocking_timeout_arg=-1),
    _once("BLMPOP", _NONE, numkeys_arg=2, blocking_timeout_arg=1),
    _once("BLPOP", (1, -2, 1), blocking_timeout_arg=-1),
    _once("BRPOP", (1, -2, 1), blocking_timeout_arg=-1),
    _once("BRPOPLPUSH", _K12, blocking_timeout_arg=-1),
    _read("LINDEX"),
    _once("LINSERT"),
    _read("LLEN"),
    _once("LMOVE", _K12),
    _once("LMPOP", _NONE, numkeys_arg=1),
    _once("LPOP"),
    _read("LPOS"),
    _once("LPUSH"),
    _once("LPUSHX"),
    _read("LRANGE"),
    _once("LREM"),
    _conv("LSET"),
    _conv("LTRIM"),
    _once("RPOP"),
    _once("RPOPLPUSH", _K12),
    _once("RPUSH"),
    _once("RPUSHX"),
    # --- sets ------------------------------------------------------------------------------------
    _conv("SADD"),
    _read("SCARD"),
    _read("SDIFF", _KALL),
    _conv("SDIFFSTORE", _KALL),
    _read("SINTER", _KALL),
    _read("SINTERCARD", _NONE, numkeys_arg=1),
    _conv("SINTERSTORE", _KALL),
    _read("SISMEMBER"),
    _read("SMEMBERS"),
    _read("SMISMEMBER"),
    _conv("SMOVE", _K12),
    _once("SPOP"),
    _read("SRANDMEMBER"),
    _conv("SREM"),
    _read("SSCAN"),
    _read("SUNION", _KALL),
    _conv("SUNIONSTORE", _KALL),
    # --- sorted sets -----------------------------------------------------------------------------
    _once("BZMPOP", _NONE, numkeys_arg=2, blocking_timeout_arg=1),
    _once("BZPOPMAX", (1, -2, 1), blocking_timeout_arg=-1),
    _once("BZPOPMIN", (1, -2, 1), blocking_timeout_arg=-1),
    _conv("ZADD"),
    _read("ZCARD"),
    _read("ZCOUNT"),
    _read("ZDIFF", _NONE, numkeys_arg=1),
    _conv("ZDIFFSTORE", _K1, numkeys_arg=2),
    _once("ZINCRBY"),
    _read("ZINTER", _NONE, numkeys_arg=1),
    _read("ZINTERCARD", _NONE, numkeys_arg=1),
    _conv("ZINTERSTORE", _K1, numkeys_arg=2),
    _read("ZLEXCOUNT"),
    _once("ZMPOP", _NONE, numkeys_arg=1),
    _read("ZMSCORE"),
    _once("ZPOPMAX"),
    _once("ZPOPMIN"),
    _read("ZRANDMEMBER"),
    _read("ZRANGE"),
    _read("ZRANGEBYLEX"),
    _read("ZRANGEBYSCORE"),
    _conv("ZRANGESTORE", _K12),
    _read("ZRANK"),
    _conv("ZREM"),
    _conv("ZREMRANGEBYLEX"),
    _once("ZREMRANGEBYRANK"),
    _conv("ZREMRANGEBYSCORE"),
    _read("ZREVRANGE"),
    _read("ZREVRANGEBYLEX"),
    _read("ZREVRANGEBYSCORE"),
    _read("ZREVRANK"),
    _read("ZSCAN"),
    _read("ZSCORE"),
    _read("ZUNION", _NONE, numkeys_arg=1),
    _conv("ZUNIONSTORE", _K1, numkeys_arg=2),
    # --- HyperLogLog -----------------------------------------------------------------------------
    _conv("PFADD"),
    _read("PFCOUNT", _KALL),
    _admin("PFDEBUG", _K2),
    _conv("PFMERGE", _KALL),
    _admin("PFSELFTEST"),
    # --- bitmaps ---------------------------------------------------------------------------------
    _read("BITCOUNT"),
    _once("BITFIELD"),
    _read("BITFIELD_RO"),
    _conv("BITOP", (2, -1, 1)),
    _read("BITPOS"),
    _read("GETBIT"),
    _once("SETBIT"),
    # --- geo -------------------------------------------------------------------------------------
    _conv("GEOADD"),
    _read("GEODIST"),
    _read("GEOHASH"),
    _read("GEOPOS"),
    _conv("GEORADIUS"),
    _conv("GEORADIUSBYMEMBER"),
    _read("GEORADIUSBYMEMBER_RO"),
    _read("GEORADIUS_RO"),
    _read("GEOSEARCH"),
    _conv("GEOSEARCHSTORE", _K12),
    # --- streams ---------------------------------------------------------------------------------
    _conv("XACK"),
    _once("XADD"),
    _once("XAUTOCLAIM"),
    _once("XCLAIM"),
    _conv("XDEL"),
    _conv("XGROUP CREATE", _K2),
    _conv("XGROUP CREATECONSUMER", _K2),
    _conv("XGROUP DELCONSUMER", _K2),
    _conv("XGROUP DESTROY", _K2),
    _node("XGROUP HELP", _RN),
    _conv("XGROUP SETID", _K2),
    _read("XINFO CONSUMERS", _K2),
    _read("XINFO GROUPS", _K2),
    _node("XINFO HELP", _RN),
    _read("XINFO STREAM", _K2),
    _read("XLEN"),
    _read("XPENDING"),
    _read("XRANGE"),
    _read("XREAD", _NONE, keys_after="STREAMS", blocking_timeout_arg="BLOCK",
          blocking_timeout_unit=_MS),
    _once("XREADGROUP", _NONE, keys_after="STREAMS", blocking_timeout_arg="BLOCK",
          blocking_timeout_unit=_MS),
    _read("XREVRANGE"),
    _conv("XSETID"),
    _conv("XTRIM"),
    # --- scripting and functions -----------------------------------------------------------------
    _once("EVAL", _NONE, numkeys_arg=2),
    _read("EVAL_RO", _NONE, numkeys_arg=2),
    _once("EVALSHA", _NONE, numkeys_arg=2),
    _read("EVALSHA_RO", _NONE, numkeys_arg=2),
    _once("FCALL", _NONE, numkeys_arg=2),
    _read("FCALL_RO", _NONE, numkeys_arg=2),
    _conv("FUNCTION DELETE", _NONE, route=_P, merge=Merge.ALL_OK),
    _node("FUNCTION DUMP", _RP),
    _conv("FUNCTION FLUSH", _NONE, route=_P, merge=Merge.ALL_OK),
    _node("FUNCTION HELP", _RN),
    _node("FUNCTION KILL", _P, Merge.ANY_OK),
    _node("FUNCTION LIST", _P, Merge.DICT_BY_NODE),
    _conv("FUNCTION LOAD", _NONE, route=_P, merge=Merge.FIRST),
    _conv("FUNCTION RESTORE", _NONE, route=_P, merge=Merge.ALL_OK),
    _node("FUNCTION STATS", _P, Merge.DICT_BY_NODE),
    _conn("SCRIPT DEBUG"),
    _node("SCRIPT EXISTS", _A, Merge.AND),
    _node("SCRIPT FLUSH", _A, Merge.ALL_OK),
    _node("SCRIPT HELP", _RN),
    _node("SCRIPT KILL", _P, Merge.ANY_OK),
    _node("SCRIPT LOAD", _A, Merge.FIRST),
    # --- pub/sub ---------------------------------------------------------------------------------
    _conn("PSUBSCRIBE"),
    CommandSpec("PUBLISH", route=Route.CHANNEL),
    _node("PUBSUB CHANNELS", _A, Merge.UNION),
    _node("PUBSUB HELP", _RN),
    _node("PUBSUB NUMPAT", _A, Merge.SUM),
    _node("PUBSUB NUMSUB", _A, Merge.SUM_BY_KEY),
    _node("PUBSUB SHARDCHANNELS", _A, Merge.UNION),
    _node("PUBSUB SHARDNUMSUB", _A, Merge.SUM_BY_KEY),
    _conn("PUNSUBSCRIBE"),
    _once("SPUBLISH"),
    _conn("SSUBSCRIBE", _KALL),
    _conn("SUBSCRIBE"),
    _conn("SUNSUBSCRIBE", _KALL),
    _conn("UNSUBSCRIBE"),
    # --- transactions ----------------------------------------------------------------------------
    _conn("DISCARD"),
    _conn("EXEC"),
    _conn("MULTI"),
    _conn("UNWATCH"),
    _conn("WATCH", _KALL),
    # --- connection ------------------------------------------------------------------------------
    _conn("ASKING"),
    _conn("AUTH"),
    _conn("CLIENT CACHING"),
    _node("CLIENT GETNAME", _D),
    _conn("CLIENT GETREDIR"),
    _node("CLIENT HELP", _RN),
    _node("CLIENT ID", _D),
    _node("CLIENT INFO", _D),
    _node("CLIENT KILL", _D, idempotent=False),
    _node("CLIENT LIST", _D),
    _conn("CLIENT NO-EVICT"),
    _conn("CLIENT NO-TOUCH"),
    _node("CLIENT PAUSE", _D),
    _conn("CLIENT REPLY"),
    _conn("CLIENT SETINFO"),
    _node("CLIENT SETNAME", _D),
    _conn("CLIENT TRACKING"),
    _conn("CLIENT TRACKINGINFO"),
    _node("CLIENT UNBLOCK", _D, idempotent=False),
    _node("CLIENT UNPAUSE", _D),
    _node("ECHO", _RN),
    _conn("HELLO"),
    _node("PING", _D),
    _conn("QUIT"),
    _conn("READONLY"),
    _conn("READWRITE"),
    _conn("RESET"),
    _admin("SELECT"),
    # --- server ----------------------------------------------------------------------------------
    _node("ACL CAT", _D),
    _node("ACL DELUSER", _D, idempotent=False),
    _node("ACL DRYRUN", _D),
    _node("ACL GENPASS", _D),
    _node("ACL GETUSER", _D),
    _node("ACL HELP", _D),
    _node("ACL LIST", _D),
    _node("ACL LOAD", _D, idempotent=False),
    _node("ACL LOG", _D),
    _node("ACL SAVE", _D, idempotent=False),
    _node("ACL SETUSER", _D, idempotent=False),
    _node("ACL USERS", _D),
    _node("ACL WHOAMI", _D),
    _admin("BGREWRITEAOF"),
    _node("BGSAVE", _D, idempotent=False),
    _node("COMMAND", _D),
    _node("COMMAND COUNT", _D),
    _node("COMMAND DOCS", _D),
    _node("COMMAND GETKEYS", _D),
    _node("COMMAND GETKEYSANDFLAGS", _RN),
    _node("COMMAND HELP", _RN),
    _node("COMMAND INFO", _D),
    _node("COMMAND LIST", _D),
    _node("CONFIG GET", _D),
    _node("CONFIG HELP", _RN),
    _node("CONFIG RESETSTAT", _D),
    _node("CONFIG REWRITE", _D),
    _node("CONFIG SET", _D),
    _node("DBSIZE", _P, Merge.SUM, readonly=True),
    _node("DEBUG", _D, idempotent=False),
    _conv("DEBUG OBJECT", _K2),
    _admin("FAILOVER"),
    _conv("FLUSHALL", _NONE, route=_P, merge=Merge.ALL_OK),
    _conv("FLUSHDB", _NONE, route=_P, merge=Merge.ALL_OK),
    _node("INFO", _D),
    _node("LASTSAVE", _D),
    _node("LATENCY DOCTOR", _D),
    _node("LATENCY GRAPH", _D),
    _node("LATENCY HELP", _RN),
    _node("LATENCY HISTOGRAM", _D),
    _node("LATENCY HISTORY", _D),
    _node("LATENCY LATEST", _D),
    _node("LATENCY RESET", _D),
    _node("LOLWUT", _RN, readonly=True),
    _node("MEMORY DOCTOR", _D),
    _node("MEMORY HELP", _RN),
    _node("MEMORY MALLOC-STATS", _D),
    _node("MEMORY PURGE", _D),
    _node("MEMORY STATS", _D),
    _read("MEMORY USAGE", _K2),
    _node("MODULE HELP", _RN),
    _node("MODULE LIST", _D),
    _node("MODULE LOAD", _D, idempotent=False),
    _node("MODULE LOADEX", _D, idempotent=False),
    _node("MODULE UNLOAD", _D, idempotent=False),
    _admin("MONITOR"),
    _admin("PSYNC"),
    _admin("REPLCONF"),
    _admin("REPLICAOF"),
    _node("ROLE", _A, Merge.DICT_BY_NODE),
    _node("SAVE", _D, idempotent=False),
    _admin("SHUTDOWN"),
    _admin("SLAVEOF"),
    _node("SLOWLOG GET", _D),
    _node("SLOWLOG HELP", _RN),
    _node("SLOWLOG LEN", _D),
    _node("SLOWLOG RESET", _D),
    _admin("SWAPDB"),
    _admin("SYNC"),
    _node("TIME", _D),
    # --- cluster ---------------------------------------------------------------------------------
    _admin("CLUSTER ADDSLOTS"),
    _admin("CLUSTER ADDSLOTSRANGE"),
    _admin("CLUSTER BUMPEPOCH"),
    _node("CLUSTER COUNT-FAILURE-REPORTS", _D),
    CommandSpec("CLUSTER COUNTKEYSINSLOT", idempotent=True, route=Route.SLOT_ARG, slot_arg=2),
    CommandSpec("CLUSTER DELSLOTS", route=Route.SLOT_ARG, slot_arg=2),
    CommandSpec("CLUSTER DELSLOTSRANGE", route=Route.SLOT_ARG, slot_arg=2),
    _admin("CLUSTER FAILOVER"),
    _admin("CLUSTER FLUSHSLOTS"),
    _admin("CLUSTER FORGET"),
    CommandSpec("CLUSTER GETKEYSINSLOT", idempotent=True, route=Route.SLOT_ARG, slot_arg=2),
    _node("CLUSTER HELP", _RN),
    _node("CLUSTER INFO", _D),
    _node("CLUSTER KEYSLOT", _D),
    _node("CLUSTER LINKS", _RN),
    _admin("CLUSTER MEET"),
    _node("CLUSTER MYID", _RN),
    _node("CLUSTER MYSHARDID", _D),
    _node("CLUSTER NODES", _D),
    _node("CLUSTER REPLICAS", _D),
    _admin("CLUSTER REPLICATE"),
    _admin("CLUSTER RESET"),
    _admin("CLUSTER SAVECONFIG"),
    _admin("CLUSTER SET-CONFIG-EPOCH"),
    _admin("CLUSTER SETSLOT"),
    _node("CLUSTER SHARDS", _D),
    _node("CLUSTER SLAVES", _RN),
    _node("CLUSTER SLOTS", _D),
)

def _from_row(name: str, kind: str, keys: _Keys, options: Mapping[str, Any]) -> CommandSpec:
    """A spec from one :data:`.specs_redis8.REDIS8_ROWS` row (see that module)."""
    kw = dict(options)
    if kind == "node":
        return _node(name, Route(kw.pop("route")), Merge(kw.pop("merge", "first")), **kw)
    helpers = {"read": _read, "conv": _conv, "once": _once, "conn": _conn}
    return helpers[kind](name, keys, **kw)


_TABLE = _TABLE + tuple(_from_row(*row) for row in REDIS8_ROWS)

#: Every command the table knows, by upper-case name ("GET", "CLUSTER SLOTS").
COMMANDS: Mapping[str, CommandSpec] = MappingProxyType({s.name: s for s in _TABLE})

# --- lookup --------------------------------------------------------------------------------------
_Entry = Union[CommandSpec, Dict[Any, CommandSpec]]
#: First argument (str/bytes, upper and lower case) -> spec, or {subcommand word: spec} for
#: container commands (``None`` maps to the container's own spec, e.g. bare ``COMMAND``).
_FIRST: Dict[Any, _Entry] = {}


def _variants(word: str) -> Tuple[Any, ...]:
    return (word, word.lower(), word.encode(), word.lower().encode())


def _index(specs: Iterable[CommandSpec], into: Dict[Any, _Entry]) -> None:
    for spec in specs:
        words = spec.name.split(" ")
        head = words[0]
        current = into.get(head)
        if len(words) == 1:
            if isinstance(current, dict):
                current[None] = spec
            else:
                for v in _variants(head):
                    into[v] = spec
            continue
        if not isinstance(current, dict):
            subs: Dict[Any, CommandSpec] = {}
            if isinstance(current, CommandSpec):
                subs[None] = current
            for v in _variants(head):
                into[v] = subs
            current = subs
        for v in _variants(words[1]):
            current[v] = spec


_index(_TABLE, _FIRST)

#: A read-only view of that index, for the one-key fast path (:data:`.keys.SINGLE_KEY`).
FIRST_WORDS: Mapping[Any, _Entry] = MappingProxyType(_FIRST)


def upper_word(arg: Any) -> Optional[str]:
    """An argument as an upper-case str, or None when it cannot be a command word."""
    if isinstance(arg, str):
        return arg.upper()
    if isinstance(arg, (bytes, bytearray, memoryview)):
        return bytes(arg).decode("utf-8", "replace").upper()
    return None


def has_space(arg: Any) -> bool:
    """Whether a first argument like ``"CLUSTER SLOTS"`` holds several words to split."""
    return (isinstance(arg, str) and " " in arg) or (isinstance(arg, bytes) and b" " in arg)


def normalize_args(args: Sequence[Any]) -> Tuple[Any, ...]:
    """Split a first argument like ``"CLUSTER SLOTS"`` into words, as redis-py sends it."""
    if args and has_space(args[0]):
        first = args[0]
        words = first.split()
        return (*words, *args[1:])
    return tuple(args)


def lookup(args: Sequence[Any],
           extra: Optional[Mapping[str, CommandSpec]] = None) -> Optional[CommandSpec]:
    """The spec of the command in ``args`` (subcommands included), or None when unknown.

    ``extra`` (name -> spec, e.g. from :func:`specs_from_command_reply`) is consulted for
    commands the static table lacks.
    """
    if not args:
        return None
    first = args[0]
    try:
        entry = _FIRST.get(first)
    except TypeError:  # an unhashable argument (bytearray)
        entry = None
    if entry is None:
        if has_space(first):
            return lookup(normalize_args(args), extra)
        name = upper_word(first)
        entry = _FIRST.get(name) if name is not None else None
        if entry is None:
            return _lookup_extra(args, extra)
    if type(entry) is CommandSpec:
        return entry
    assert isinstance(entry, dict)
    if len(args) > 1:
        sub = args[1]
        try:
            hit = entry.get(sub)
        except TypeError:
            hit = None
        if hit is None:
            word = upper_word(sub)
            hit = entry.get(word) if word is not None else None
        if hit is not None:
            return hit
    return entry.get(None) or _lookup_extra(args, extra)


def _lookup_extra(args: Sequence[Any],
                  extra: Optional[Mapping[str, CommandSpec]]) -> Optional[CommandSpec]:
    if not extra:
        return None
    head = upper_word(args[0])
    if head is None:
        return None
    if len(args) > 1:
        sub = upper_word(args[1])
        if sub is not None:
            hit = extra.get(f"{head} {sub}")
            if hit is not None:
                return hit
    return extra.get(head)


def name_of(args: Sequence[Any], spec: Optional[CommandSpec] = None) -> str:
    """The name response callbacks are keyed by: the spec's name, else the upper-case word."""
    if spec is None:
        spec = lookup(args)
    if spec is not None:
        return spec.name
    word = upper_word(args[0]) if args else None
    return (word or "").split(" ")[0]
