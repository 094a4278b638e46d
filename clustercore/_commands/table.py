"""The static command table: where the keys are, where a command goes, how fan-out replies merge.

Pure data plus small pure functions; no I/O, no client state. ``lookup(args)`` finds a
command's :class:`CommandSpec` (subcommands such as ``CLUSTER SLOTS`` included, any case, str or
bytes); ``keys_of`` lists its key arguments; ``slot_of`` turns them into one hash slot;
``is_idempotent`` says whether a lost reply may be answered by sending the command again;
``blocking_timeout`` says how long the server may legitimately keep the socket quiet.
``spec_from_command_info`` builds a spec from a server's ``COMMAND INFO`` entry for commands the
table lacks (modules, newer servers); the client fetches that once and caches it.

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

Idempotency -- may the client send a command again when the first attempt's reply was lost
(it may or may not have run)? Only when a second application right after the first leaves the
same data as one application *and* the first reply carried nothing the second would lose:

* reads: yes (EVAL_RO, EVALSHA_RO and FCALL_RO included);
* converging writes: yes -- SET (without GET), SETEX, PSETEX, SETNX, MSET, MSETNX, SETRANGE,
  GETEX, DEL, UNLINK, COPY, RENAME, RENAMENX, RESTORE, EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT,
  PERSIST, HSET, HMSET, HSETNX, HDEL, LSET, SADD, SREM, SMOVE, ZADD (without INCR), ZREM,
  ZREMRANGEBYSCORE/BYLEX, PFADD, PFMERGE, GEOADD, XACK, XDEL, XTRIM, XSETID, XGROUP *,
  XADD with an explicit id, the ``*STORE`` commands (unless the destination is also a source),
  FLUSHALL/FLUSHDB, SCRIPT/FUNCTION LOAD/FLUSH/DELETE, CONFIG SET ...
  The *reply* to the repeat may differ: counts describe that call only (DEL -> 0, SADD -> 0),
  conditional writes report "not applied" (SETNX/SET NX -> not set, HSETNX, MSETNX, RENAMENX,
  EXPIRE NX, SMOVE -> 0), and re-creating what now exists is an error (XADD with the same id,
  XGROUP CREATE -> BUSYGROUP, RENAME -> no such key, RESTORE -> BUSYKEY, FUNCTION LOAD ->
  library exists). A caller that branches on such a reply (a lock taken with SET NX) should
  check the data (GET its token) when it matters;
* accumulating writes: no -- INCR*, DECR*, INCRBYFLOAT, HINCRBY*, ZINCRBY, ZADD INCR, APPEND,
  LPUSH/RPUSH(X), LINSERT, XADD with ``*`` or ``<ms>-*``, BITFIELD with SET/INCRBY;
* consuming writes: no -- LPOP/RPOP/SPOP/ZPOP*, every blocking pop, LMOVE, RPOPLPUSH, LMPOP,
  ZMPOP, GETDEL, XREADGROUP, XCLAIM, XAUTOCLAIM, ZREMRANGEBYRANK, LREM with count != 0, an LTRIM
  that would drop more on a second run (``LTRIM 1 -1``, ``LTRIM 0 -2``);
* writes that answer with the value they replaced: no -- GETSET, SET ... GET, SETBIT;
* opaque or delivered effects: no -- EVAL, EVALSHA, FCALL, PUBLISH, SPUBLISH, MIGRATE;
* connection-bound and node-only commands (below): no, they are never re-sent on their own.

``spec.idempotent`` is the answer for a command's plain form; ``is_idempotent(spec, args)``
refines it by arguments (SET ... GET, XADD id, ZADD INCR, LREM count, LTRIM range, BITFIELD
ops, ``*STORE`` destinations). Unknown commands are never idempotent.

Routing: ``Route.SLOT`` by the keys' slot (a keyed command with no keys in this call, like
``EVAL script 0``, may go to any primary); ``SLOT_ARG`` by a slot number given as the argument at
``slot_arg`` (CLUSTER COUNTKEYSINSLOT/GETKEYSINSLOT); ``CHANNEL`` by the slot of ``args[1]``, a
pub/sub channel that is not a key: any node would deliver a PUBLISH cluster-wide, but one node
per channel keeps one publisher's messages in order; ``ALL_PRIMARIES``/``ALL_NODES`` fan out and
merge with ``merge``; ``RANDOM_PRIMARY``/``RANDOM_NODE`` pick one. ``CONNECTION`` commands only
make sense on the connection that holds some state (MULTI/EXEC/DISCARD/WATCH/UNWATCH, the
SUBSCRIBE family, AUTH/HELLO/RESET/QUIT, ASKING/READONLY/READWRITE, CLIENT TRACKING/REPLY/
CACHING, SCRIPT DEBUG, WAIT): the pipeline, pub/sub and connection layers own them and the
client must refuse them in ``execute_command``. ``NODE_ONLY`` commands are administration of
one particular node (SAVE, BGSAVE, BGREWRITEAOF, SHUTDOWN, MONITOR, SELECT, MOVE, SWAPDB,
REPLICAOF, FAILOVER, DEBUG, CLUSTER MEET/SETSLOT/ADDSLOTS/RESET/..., ACL SETUSER/DELUSER/LOAD/
SAVE, MODULE LOAD/UNLOAD, CLIENT UNBLOCK ...): routed to an arbitrary node they do nothing
useful or something harmful, so the client refuses them and points to a node-level connection.
CLIENT SETNAME goes to every node (it names one pooled connection per node; ``client_name=``
names them all), CLIENT GETNAME/ID/INFO to a random node.

Fan-out: PING, DBSIZE, KEYS, SCAN, FLUSHALL/FLUSHDB, MEMORY STATS/PURGE and FUNCTION LOAD/
DELETE/FLUSH/RESTORE go to every primary (functions replicate to replicas); INFO, LASTSAVE,
CONFIG *, CLIENT LIST/KILL/SETNAME, SLOWLOG *, LATENCY *, ROLE and PUBSUB CHANNELS/NUMSUB/NUMPAT
to every node; SCRIPT LOAD/EXISTS/FLUSH to every node too, because scripts do not replicate
and replicas serve EVALSHA_RO (the server's own tips say all_nodes for LOAD and FLUSH).

Multi-key commands with ``split=True`` (MGET, MSET, DEL, UNLINK, EXISTS, TOUCH) may be split by
the client into one sub-command per slot (``split_by_slot``) and joined with ``merge_split``;
they are then not atomic across slots. Every other multi-key command is atomic and must name
keys of one slot (``slot_of`` raises ClusterCrossSlotError before anything is sent).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from .._slots import NUM_SLOTS, key_slot, key_slots, key_to_bytes
from ..errors import ClusterCrossSlotError, DataError

__all__ = [
    "COMMANDS",
    "CommandSpec",
    "Merge",
    "Route",
    "blocking_timeout",
    "is_idempotent",
    "keys_of",
    "lookup",
    "merge_replies",
    "merge_split",
    "name_of",
    "normalize_args",
    "slot_of",
    "spec_from_command_info",
    "specs_from_command_reply",
    "split_by_slot",
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


#: ``keys_of`` argument: a key argument as the caller gave it.
Arg = Any


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
    _node("FUNCTION LIST", _RP),
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
    _node("CLIENT GETNAME", _RN),
    _conn("CLIENT GETREDIR"),
    _node("CLIENT HELP", _RN),
    _node("CLIENT ID", _RN),
    _node("CLIENT INFO", _RN),
    _node("CLIENT KILL", _A, Merge.SUM),
    _node("CLIENT LIST", _A, Merge.DICT_BY_NODE),
    _conn("CLIENT NO-EVICT"),
    _conn("CLIENT NO-TOUCH"),
    _node("CLIENT PAUSE", _A, Merge.ALL_OK),
    _conn("CLIENT REPLY"),
    _conn("CLIENT SETINFO"),
    _node("CLIENT SETNAME", _A, Merge.ALL_OK),
    _conn("CLIENT TRACKING"),
    _conn("CLIENT TRACKINGINFO"),
    _admin("CLIENT UNBLOCK"),
    _node("CLIENT UNPAUSE", _A, Merge.ALL_OK),
    _node("ECHO", _RN),
    _conn("HELLO"),
    _node("PING", _P, Merge.ALL_OK),
    _conn("QUIT"),
    _conn("READONLY"),
    _conn("READWRITE"),
    _conn("RESET"),
    _admin("SELECT"),
    # --- server ----------------------------------------------------------------------------------
    _node("ACL CAT", _RN),
    _admin("ACL DELUSER"),
    _node("ACL DRYRUN", _RN),
    _node("ACL GENPASS", _RN),
    _node("ACL GETUSER", _RN),
    _node("ACL HELP", _RN),
    _node("ACL LIST", _RN),
    _admin("ACL LOAD"),
    _node("ACL LOG", _A, Merge.DICT_BY_NODE),
    _admin("ACL SAVE"),
    _admin("ACL SETUSER"),
    _node("ACL USERS", _RN),
    _node("ACL WHOAMI", _RN),
    _admin("BGREWRITEAOF"),
    _admin("BGSAVE"),
    _node("COMMAND", _RN),
    _node("COMMAND COUNT", _RN),
    _node("COMMAND DOCS", _RN),
    _node("COMMAND GETKEYS", _RN),
    _node("COMMAND GETKEYSANDFLAGS", _RN),
    _node("COMMAND HELP", _RN),
    _node("COMMAND INFO", _RN),
    _node("COMMAND LIST", _RN),
    _node("CONFIG GET", _A, Merge.DICT_BY_NODE),
    _node("CONFIG HELP", _RN),
    _node("CONFIG RESETSTAT", _A, Merge.ALL_OK),
    _node("CONFIG REWRITE", _A, Merge.ALL_OK),
    _node("CONFIG SET", _A, Merge.ALL_OK),
    _node("DBSIZE", _P, Merge.SUM, readonly=True),
    _admin("DEBUG"),
    _admin("FAILOVER"),
    _conv("FLUSHALL", _NONE, route=_P, merge=Merge.ALL_OK),
    _conv("FLUSHDB", _NONE, route=_P, merge=Merge.ALL_OK),
    _node("INFO", _A, Merge.DICT_BY_NODE),
    _node("LASTSAVE", _A, Merge.DICT_BY_NODE),
    _node("LATENCY DOCTOR", _A, Merge.DICT_BY_NODE),
    _node("LATENCY GRAPH", _A, Merge.DICT_BY_NODE),
    _node("LATENCY HELP", _RN),
    _node("LATENCY HISTOGRAM", _A, Merge.DICT_BY_NODE),
    _node("LATENCY HISTORY", _A, Merge.DICT_BY_NODE),
    _node("LATENCY LATEST", _A, Merge.DICT_BY_NODE),
    _node("LATENCY RESET", _A, Merge.SUM),
    _node("LOLWUT", _RN, readonly=True),
    _node("MEMORY DOCTOR", _P, Merge.DICT_BY_NODE),
    _node("MEMORY HELP", _RN),
    _node("MEMORY MALLOC-STATS", _P, Merge.DICT_BY_NODE),
    _node("MEMORY PURGE", _P, Merge.ALL_OK),
    _node("MEMORY STATS", _P, Merge.DICT_BY_NODE),
    _read("MEMORY USAGE", _K2),
    _node("MODULE HELP", _RN),
    _node("MODULE LIST", _RN),
    _admin("MODULE LOAD"),
    _admin("MODULE LOADEX"),
    _admin("MODULE UNLOAD"),
    _admin("MONITOR"),
    _admin("PSYNC"),
    _admin("REPLCONF"),
    _admin("REPLICAOF"),
    _node("ROLE", _A, Merge.DICT_BY_NODE),
    _admin("SAVE"),
    _admin("SHUTDOWN"),
    _admin("SLAVEOF"),
    _node("SLOWLOG GET", _A, Merge.DICT_BY_NODE),
    _node("SLOWLOG HELP", _RN),
    _node("SLOWLOG LEN", _A, Merge.SUM),
    _node("SLOWLOG RESET", _A, Merge.ALL_OK),
    _admin("SWAPDB"),
    _admin("SYNC"),
    _node("TIME", _RN),
    # --- cluster ---------------------------------------------------------------------------------
    _admin("CLUSTER ADDSLOTS"),
    _admin("CLUSTER ADDSLOTSRANGE"),
    _admin("CLUSTER BUMPEPOCH"),
    _admin("CLUSTER COUNT-FAILURE-REPORTS"),
    CommandSpec("CLUSTER COUNTKEYSINSLOT", idempotent=True, route=Route.SLOT_ARG, slot_arg=2),
    _admin("CLUSTER DELSLOTS"),
    _admin("CLUSTER DELSLOTSRANGE"),
    _admin("CLUSTER FAILOVER"),
    _admin("CLUSTER FLUSHSLOTS"),
    _admin("CLUSTER FORGET"),
    CommandSpec("CLUSTER GETKEYSINSLOT", idempotent=True, route=Route.SLOT_ARG, slot_arg=2),
    _node("CLUSTER HELP", _RN),
    _node("CLUSTER INFO", _RN),
    _node("CLUSTER KEYSLOT", _RN),
    _node("CLUSTER LINKS", _RN),
    _admin("CLUSTER MEET"),
    _node("CLUSTER MYID", _RN),
    _node("CLUSTER MYSHARDID", _RN),
    _node("CLUSTER NODES", _RN),
    _node("CLUSTER REPLICAS", _RN),
    _admin("CLUSTER REPLICATE"),
    _admin("CLUSTER RESET"),
    _admin("CLUSTER SAVECONFIG"),
    _admin("CLUSTER SET-CONFIG-EPOCH"),
    _admin("CLUSTER SETSLOT"),
    _node("CLUSTER SHARDS", _RN),
    _node("CLUSTER SLAVES", _RN),
    _node("CLUSTER SLOTS", _RN),
)

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


def _word(arg: Any) -> Optional[str]:
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
        name = _word(first)
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
            word = _word(sub)
            hit = entry.get(word) if word is not None else None
        if hit is not None:
            return hit
    return entry.get(None) or _lookup_extra(args, extra)


def _lookup_extra(args: Sequence[Any],
                  extra: Optional[Mapping[str, CommandSpec]]) -> Optional[CommandSpec]:
    if not extra:
        return None
    head = _word(args[0])
    if head is None:
        return None
    if len(args) > 1:
        sub = _word(args[1])
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
    word = _word(args[0]) if args else None
    return (word or "").split(" ")[0]


# --- keys ----------------------------------------------------------------------------------------
def _eq(arg: Any, word: str) -> bool:
    w = _word(arg)
    return w == word


def _xread_walk(args: Sequence[Any]) -> Tuple[int, Dict[str, Any]]:
    """XREAD/XREADGROUP: (index of STREAMS or -1, {option word: its value}), skipping values."""
    options: Dict[str, Any] = {}
    i = 1
    n = len(args)
    while i < n:
        word = _word(args[i])
        if word == "STREAMS":
            return i, options
        if word == "GROUP":
            i += 3
        elif word in ("COUNT", "BLOCK", "CLAIM"):
            if i + 1 < n:
                options[word] = args[i + 1]
            i += 2
        else:  # NOACK and anything unknown
            i += 1
    return -1, options


def _streams_index(args: Sequence[Any]) -> int:
    """Index of the STREAMS keyword of XREAD/XREADGROUP, skipping option values; -1 if none."""
    return _xread_walk(args)[0]


def _keyword_index(args: Sequence[Any], keyword: str) -> int:
    if keyword == "STREAMS":
        return _streams_index(args)
    for i in range(1, len(args)):
        if _eq(args[i], keyword):
            return i
    return -1


def _numkeys(args: Sequence[Any], pos: int) -> int:
    try:
        value = int(args[pos])
    except IndexError:
        return 0
    except (TypeError, ValueError):
        raise DataError(f"numkeys argument {args[pos]!r} is not an integer") from None
    return max(value, 0)


def _range_keys(spec: CommandSpec, args: Sequence[Any]) -> List[Arg]:
    first = spec.first_key
    if not first:
        return []
    last = spec.last_key
    if last < 0:
        last += len(args)
    return list(args[first:last + 1:spec.key_step or 1])


def _option_keys(args: Sequence[Any], start: int, words: Tuple[str, ...]) -> List[Arg]:
    """Arguments that follow one of ``words`` (SORT ... STORE dest, GEORADIUS ... STORE k)."""
    found = []
    for i in range(start, len(args) - 1):
        if _word(args[i]) in words:
            found.append(args[i + 1])
    return found


def _migrate_keys(args: Sequence[Any]) -> List[Arg]:
    # MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw|AUTH2 u pw] [KEYS k ...]
    for i in range(6, len(args)):
        word = _word(args[i])
        if word == "AUTH":
            continue
        if word == "KEYS":
            return list(args[i + 1:])
    key = args[3] if len(args) > 3 else None
    return [key] if key not in (None, b"", "") else []


def _sort_keys(args: Sequence[Any]) -> List[Arg]:
    # SORT key [BY p] [LIMIT o c] [GET p ...] [ASC|DESC] [ALPHA] [STORE dest]
    keys = list(args[1:2])
    i = 2
    while i < len(args) - 1:
        word = _word(args[i])
        if word == "STORE":
            keys.append(args[i + 1])
            i += 2
        elif word in ("BY", "GET"):
            i += 2
        elif word == "LIMIT":
            i += 3
        else:
            i += 1
    return keys


_CUSTOM_KEYS: Dict[str, Callable[[Sequence[Any]], List[Arg]]] = {
    "MIGRATE": _migrate_keys,
    "SORT": _sort_keys,
    "GEORADIUS": lambda a: [*a[1:2], *_option_keys(a, 6, ("STORE", "STOREDIST"))],
    "GEORADIUSBYMEMBER": lambda a: [*a[1:2], *_option_keys(a, 5, ("STORE", "STOREDIST"))],
}


def _single_key(spec: CommandSpec) -> bool:
    """Whether every call of ``spec`` names exactly one key, at a fixed position, and never
    blocks: the slot is then ``key_slot(args[spec.first_key])`` and nothing else is needed."""
    return (spec.route is Route.SLOT and spec.first_key > 0 and spec.first_key == spec.last_key
            and not spec.numkeys_arg and not spec.keys_after and not spec.split
            and spec.blocking_timeout_arg is None and spec.name not in _CUSTOM_KEYS)


#: First argument (the spellings :data:`_FIRST` knows) -> spec, for the one-key commands only
#: (GET, SET, HGET, INCR ...): the client's fast path skips lookup() and slot_of() for them.
SINGLE_KEY: Mapping[Any, CommandSpec] = MappingProxyType(
    {word: spec for word, spec in _FIRST.items()
     if isinstance(spec, CommandSpec) and _single_key(spec)})


def keys_of(spec: CommandSpec, args: Sequence[Any]) -> List[Arg]:
    """The key arguments of one call, in argument order (may be empty)."""
    if args and has_space(args[0]):
        args = normalize_args(args)
    custom = _CUSTOM_KEYS.get(spec.name)
    if custom is not None:
        return custom(args)
    if spec.keys_after:
        at = _keyword_index(args, spec.keys_after)
        if at < 0:
            return []
        rest = args[at + 1:]
        return list(rest[:len(rest) // 2])
    keys = _range_keys(spec, args) if spec.first_key else []
    if spec.numkeys_arg:
        pos = spec.numkeys_arg
        count = _numkeys(args, pos)
        keys.extend(args[pos + 1:pos + 1 + count])
    return keys


def slot_of(spec: CommandSpec, args: Sequence[Any], encoding: str = "utf-8") -> Optional[int]:
    """The one hash slot this call must go to, or None when any node will do.

    Raises ClusterCrossSlotError when the keys hash to different slots, and DataError for a
    bad slot argument.
    """
    route = spec.route
    if route is Route.SLOT or route is Route.CONNECTION:
        first = spec.first_key
        if first and first == spec.last_key and not spec.numkeys_arg and (
                spec.name not in _CUSTOM_KEYS) and len(args) > first and not has_space(args[0]):
            return key_slot(args[first], encoding)
        keys = keys_of(spec, args)
        if not keys:
            return None
        slot = key_slot(keys[0], encoding)
        for key in keys[1:]:
            if key_slot(key, encoding) != slot:
                raise ClusterCrossSlotError(
                    f"CROSSSLOT Keys in request don't hash to the same slot ({spec.name}); "
                    "use {hash tags} to keep them together")
        return slot
    if route is Route.SLOT_ARG:
        args = normalize_args(args)
        try:
            slot = int(args[spec.slot_arg])
        except (IndexError, TypeError, ValueError):
            raise DataError(f"{spec.name} needs a slot number argument") from None
        if not 0 <= slot < NUM_SLOTS:
            raise DataError(f"slot {slot} is outside 0..{NUM_SLOTS - 1}")
        return slot
    if route is Route.CHANNEL:
        return key_slot(args[1], encoding) if len(args) > 1 else None
    return None


# --- splitting multi-key commands by slot ------------------------------------------------------------
def split_by_slot(spec: CommandSpec, args: Sequence[Any], encoding: str = "utf-8",
                  ) -> List[Tuple[int, Tuple[Any, ...], List[int]]]:
    """One ``(slot, sub-command args, key indexes)`` per slot, in first-seen slot order.

    Key indexes count keys (not arguments) in the caller's order, for :func:`merge_split`.
    Only for ``spec.split`` commands, whose keys (with their values, MSET) fill args[1:].
    """
    step = spec.key_step or 1
    first = spec.first_key
    head = args[0]
    slots = key_slots(args[first::step], encoding)
    if len(set(slots)) == len(slots):  # every key in a slot of its own: no grouping needed
        if step == 1:
            return [(slot, (head, key), [n])
                    for n, (slot, key) in enumerate(zip(slots, args[first:]))]
        return [(slot, (head, *args[i:i + step]), [n])
                for n, (slot, i) in enumerate(zip(slots, range(first, len(args), step)))]
    groups: Dict[int, Tuple[List[Any], List[int]]] = {}
    for n, slot in enumerate(slots):
        i = first + n * step
        group = groups.get(slot)
        if group is None:
            groups[slot] = ([head, *args[i:i + step]], [n])
        else:
            group[0].extend(args[i:i + step])
            group[1].append(n)
    return [(slot, tuple(sub), indexes) for slot, (sub, indexes) in groups.items()]


def merge_split(spec: CommandSpec, parts: Sequence[Tuple[Sequence[int], Any]]) -> Any:
    """Join the replies of :func:`split_by_slot` parts: ``[(key indexes, reply), ...]``."""
    size = 0
    for indexes, reply in parts:
        if isinstance(reply, BaseException):
            raise reply
        size += len(indexes)
    if spec.merge is Merge.KEY_ORDER:
        values: List[Any] = [None] * size
        for indexes, reply in parts:
            for i, value in zip(indexes, reply):
                values[i] = value
        return values
    return merge_replies(spec.merge, {n: reply for n, (_, reply) in enumerate(parts)})


# --- merging fan-out replies ---------------------------------------------------------------------------
_OK_WORDS = (b"OK", "OK")


def merge_replies(merge: Merge, replies: Mapping[Any, Any]) -> Any:
    """Combine per-node replies ``{node name: reply}`` as ``merge`` says.

    A reply that is an exception is raised (the first one in order), except for ANY_OK, which
    raises only when no node succeeded.
    """
    values = list(replies.values())
    errors = [v for v in values if isinstance(v, BaseException)]
    if merge is Merge.ANY_OK:
        good = [v for v in values if not isinstance(v, BaseException)]
        if good:
            return good[0]
        if errors:
            raise errors[0]
        return None
    if errors:
        raise errors[0]
    if merge is Merge.FIRST:
        return values[0] if values else None
    if merge is Merge.LIST:
        return values
    if merge is Merge.SUM:
        return sum(int(v) for v in values)
    if merge is Merge.MIN:
        return min(int(v) for v in values) if values else None
    if merge is Merge.MAX:
        return max(int(v) for v in values) if values else None
    if merge is Merge.CONCAT:
        out: List[Any] = []
        for v in values:
            out.extend(v or ())
        return out
    if merge is Merge.UNION:
        seen: Dict[Any, None] = {}
        for v in values:
            seen.update(dict.fromkeys(v or ()))
        return list(seen)
    if merge is Merge.SUM_BY_KEY:
        totals: Dict[Any, int] = {}
        for v in values:
            pairs = list(v or ())
            if pairs and not isinstance(pairs[0], (tuple, list)):
                pairs = list(zip(pairs[0::2], pairs[1::2]))
            for name, count in pairs:
                totals[name] = totals.get(name, 0) + int(count)
        return list(totals.items())
    if merge is Merge.ALL_OK:
        return True
    if merge is Merge.AND or merge is Merge.OR:
        combine = all if merge is Merge.AND else any
        if values and isinstance(values[0], (list, tuple)):
            return [combine(column) for column in zip(*values)]
        return combine(values)
    if merge is Merge.DICT_BY_NODE:
        return dict(replies)
    raise ValueError(f"{merge} is merged by merge_split, not merge_replies")


# --- idempotency ---------------------------------------------------------------------------------
def _set_idempotent(args: Sequence[Any]) -> bool:
    # SET key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL] [IFEQ v ...]
    i = 3
    while i < len(args):
        word = _word(args[i])
        if word == "GET":
            return False
        i += 2 if word in ("EX", "PX", "EXAT", "PXAT", "IFEQ", "IFNE", "IFDEQ", "IFDNE") else 1
    return True


def _xadd_idempotent(args: Sequence[Any]) -> bool:
    # XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT n]] <*|id> field value ...
    i = 2
    while i < len(args):
        word = _word(args[i])
        if word in ("NOMKSTREAM", "KEEPREF", "DELREF", "ACKED"):
            i += 1
        elif word in ("MAXLEN", "MINID"):
            i += 1
            if i < len(args) and _word(args[i]) in ("=", "~"):
                i += 1
            i += 1
        elif word == "LIMIT":
            i += 2
        elif word == "IDMPAUTO":
            return False
        elif word == "IDMP":
            return True
        else:
            ident = key_to_bytes(args[i]) if not isinstance(args[i], bytes) else args[i]
            return ident != b"*" and not ident.endswith(b"-*")
    return False


def _zadd_idempotent(args: Sequence[Any]) -> bool:
    for arg in args[2:]:
        word = _word(arg)
        if word == "INCR":
            return False
        if word not in ("NX", "XX", "GT", "LT", "CH"):
            return True
    return True


def _int_arg(args: Sequence[Any], pos: int) -> Optional[int]:
    try:
        return int(args[pos])
    except (IndexError, TypeError, ValueError):
        return None


def _lrem_idempotent(args: Sequence[Any]) -> bool:
    return _int_arg(args, 2) == 0


def _ltrim_idempotent(args: Sequence[Any]) -> bool:
    start, stop = _int_arg(args, 2), _int_arg(args, 3)
    if start is None or stop is None:
        return False
    return (start == 0 and (stop >= 0 or stop == -1)) or (start < 0 and stop == -1)


def _bitfield_idempotent(args: Sequence[Any]) -> bool:
    i = 2
    while i < len(args):
        word = _word(args[i])
        if word == "GET":
            i += 3
        elif word == "OVERFLOW":
            i += 2
        else:  # SET / INCRBY
            return False
    return True


def _as_bytes(arg: Any) -> bytes:
    try:
        return key_to_bytes(arg)
    except DataError:
        return repr(arg).encode()


def _store_rule(dest_of: Callable[[Sequence[Any]], Optional[Any]],
                spec_name: str) -> Callable[[Sequence[Any]], bool]:
    """Idempotent unless the destination is also a source (``A = A op B`` changes A again)."""

    def rule(args: Sequence[Any]) -> bool:
        dest = dest_of(args)
        if dest is None:
            return True
        target = _as_bytes(dest)
        keys = keys_of(COMMANDS[spec_name], args)
        return sum(1 for k in keys if _as_bytes(k) == target) <= 1

    return rule


def _first_key_dest(args: Sequence[Any]) -> Optional[Any]:
    return args[1] if len(args) > 1 else None


def _sort_dest(args: Sequence[Any]) -> Optional[Any]:
    keys = _sort_keys(args)
    return keys[1] if len(keys) > 1 else None


def _georadius_dest(start: int) -> Callable[[Sequence[Any]], Optional[Any]]:
    def dest(args: Sequence[Any]) -> Optional[Any]:
        stores = _option_keys(args, start, ("STORE", "STOREDIST"))
        return stores[0] if stores else None

    return dest


_IDEMPOTENT_IF: Dict[str, Callable[[Sequence[Any]], bool]] = {
    "SET": _set_idempotent,
    "XADD": _xadd_idempotent,
    "ZADD": _zadd_idempotent,
    "LREM": _lrem_idempotent,
    "LTRIM": _ltrim_idempotent,
    "BITFIELD": _bitfield_idempotent,
    "BITOP": _store_rule(lambda a: a[2] if len(a) > 2 else None, "BITOP"),
    "SORT": _store_rule(_sort_dest, "SORT"),
    "GEORADIUS": _store_rule(_georadius_dest(6), "GEORADIUS"),
    "GEORADIUSBYMEMBER": _store_rule(_georadius_dest(5), "GEORADIUSBYMEMBER"),
}
for _name in ("SDIFFSTORE", "SINTERSTORE", "SUNIONSTORE", "ZDIFFSTORE", "ZINTERSTORE",
              "ZUNIONSTORE", "ZRANGESTORE", "GEOSEARCHSTORE"):
    _IDEMPOTENT_IF[_name] = _store_rule(_first_key_dest, _name)


def is_idempotent(spec: Optional[CommandSpec], args: Sequence[Any]) -> bool:
    """Whether this call may be sent again after its reply was lost (module docstring)."""
    if spec is None:
        return False
    rule = _IDEMPOTENT_IF.get(spec.name)
    if rule is not None:
        if args and has_space(args[0]):
            args = normalize_args(args)
        return rule(args)
    return spec.idempotent


# --- blocking timeouts ---------------------------------------------------------------------------
def blocking_timeout(spec: CommandSpec, args: Sequence[Any]) -> Optional[float]:
    """Seconds the server may block this call before replying; ``math.inf`` means forever.

    None when the command does not block in this call (not a blocking command, or XREAD
    without BLOCK). The client should wait that long plus its socket timeout for the reply.
    """
    where = spec.blocking_timeout_arg
    if where is None:
        return None
    if isinstance(where, str):
        if spec.keys_after == "STREAMS":
            value = _xread_walk(args)[1].get(where)
        else:
            at = _keyword_index(args, where)
            value = args[at + 1] if 0 <= at < len(args) - 1 else None
        if value is None:
            return None
    else:
        try:
            value = args[where]
        except IndexError:
            return None
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return None
    if amount <= 0:
        return math.inf
    return amount * spec.blocking_timeout_unit


# --- specs from the server's COMMAND INFO --------------------------------------------------------
def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _as_map(value: Any) -> Dict[str, Any]:
    """A RESP3 map or a RESP2 flat [k, v, k, v] list as {str key: value}."""
    if isinstance(value, dict):
        return {_text(k): v for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return {_text(value[i]): value[i + 1] for i in range(0, len(value) - 1, 2)}
    return {}


_REQUEST_POLICY = {
    "all_shards": Route.ALL_PRIMARIES,
    "all_nodes": Route.ALL_NODES,
}
_RESPONSE_POLICY = {
    "agg_sum": Merge.SUM,
    "agg_min": Merge.MIN,
    "agg_max": Merge.MAX,
    "agg_logical_and": Merge.AND,
    "agg_logical_or": Merge.OR,
    "all_succeeded": Merge.ALL_OK,
    "one_succeeded": Merge.ANY_OK,
    "special": Merge.DICT_BY_NODE,
}


def _key_spec_extras(key_specs: Any) -> Tuple[int, Optional[str]]:
    """(numkeys_arg, keys_after) derived from Redis 7 key specifications, when expressible."""
    numkeys_arg = 0
    keys_after: Optional[str] = None
    for raw in key_specs or ():
        ks = _as_map(raw)
        begin = _as_map(ks.get("begin_search"))
        find = _as_map(ks.get("find_keys"))
        begin_type, find_type = _text(begin.get("type", "")), _text(find.get("type", ""))
        begin_spec, find_spec = _as_map(begin.get("spec")), _as_map(find.get("spec"))
        try:
            if begin_type == "index" and find_type == "keynum" and not numkeys_arg:
                index = int(begin_spec["index"])
                keynumidx = int(find_spec["keynumidx"])
                if int(find_spec["firstkey"]) == keynumidx + 1 and int(find_spec["keystep"]) == 1:
                    numkeys_arg = index + keynumidx
            elif (begin_type == "keyword" and find_type == "range" and keys_after is None
                  and int(find_spec.get("lastkey", 0)) == -1
                  and int(find_spec.get("limit", 0)) == 2):
                keys_after = _text(begin_spec["keyword"]).upper()
        except (KeyError, TypeError, ValueError):
            continue
    return numkeys_arg, keys_after


def spec_from_command_info(reply: Sequence[Any]) -> CommandSpec:
    """A spec from one ``COMMAND INFO`` entry (Redis 2.8 to 7.x shapes, RESP2 or RESP3).

    Keys come from first/last/step plus what the key specs can express (numkeys, a keyword
    followed by keys); routing from the command tips (``request_policy``/``response_policy``),
    else by keys, else any primary. Only reads (server flag ``readonly``) count as idempotent;
    where a blocking command keeps its timeout is unknown, so ``blocking_timeout_arg`` is None.
    """
    if not isinstance(reply, (list, tuple)) or len(reply) < 6:
        raise DataError(f"not a COMMAND INFO entry: {reply!r}")
    name = _text(reply[0]).upper().replace("|", " ")
    flags = {_text(f).lower() for f in (reply[2] or ())}
    first, last, step = int(reply[3]), int(reply[4]), int(reply[5])
    tips = [_text(t) for t in (reply[7] or ())] if len(reply) > 7 else []
    numkeys_arg, keys_after = _key_spec_extras(reply[8] if len(reply) > 8 else ())
    policies = dict(t.split(":", 1) for t in tips if ":" in t)
    request = policies.get("request_policy")
    response = policies.get("response_policy")
    readonly = "readonly" in flags
    has_keys = bool(first or numkeys_arg or keys_after)
    split = False
    merge = _RESPONSE_POLICY.get(response or "", Merge.FIRST)
    if request in _REQUEST_POLICY and not has_keys:
        route = _REQUEST_POLICY[request]
        if response is None:
            merge = Merge.CONCAT
    elif has_keys:
        route = Route.SLOT
        if request == "multi_shard" and first and not numkeys_arg and not keys_after:
            split = True
            if response is None:
                merge = Merge.KEY_ORDER
    else:
        route = Route.RANDOM_PRIMARY
    return CommandSpec(name, first, last, step, readonly=readonly, idempotent=readonly,
                       route=route, merge=merge, numkeys_arg=numkeys_arg,
                       keys_after=keys_after, split=split)


def specs_from_command_reply(reply: Iterable[Any]) -> Dict[str, CommandSpec]:
    """Specs for every entry of a ``COMMAND`` / ``COMMAND INFO`` reply, subcommands included.

    Unknown names (``None`` entries) are skipped; the result can be passed to
    :func:`lookup` as ``extra``.
    """
    out: Dict[str, CommandSpec] = {}
    stack = [e for e in reply if e]
    while stack:
        entry = stack.pop()
        spec = spec_from_command_info(entry)
        out[spec.name] = spec
        if len(entry) > 9 and entry[9]:
            stack.extend(e for e in entry[9] if e)
    return out
