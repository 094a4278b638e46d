"""The connection, server and administration commands of :class:`~.api.CommandsMixin` (CLIENT *,
COMMAND *, CONFIG *, DBSIZE, ECHO, FLUSHALL/FLUSHDB, INFO, LASTSAVE, MEMORY *, PING,
READONLY/READWRITE, TIME, ACL *, SLOWLOG *, LATENCY *, MODULE LIST, BGSAVE / SAVE /
BGREWRITEAOF, DEBUG OBJECT, ROLE, LOLWUT, WAIT / WAITAOF), with redis-py 8.1's names and
arguments.

Every method that takes ``**kwargs`` passes them to ``execute_command``, so redis-py's
``target_nodes=`` reaches the client. Without it the command goes where the command table says
(:mod:`.specs`), which follows redis-py 8: INFO, CONFIG, ACL, SLOWLOG, LATENCY, MEMORY, CLIENT
LIST, SAVE, BGSAVE, DEBUG ... go to the client's default node and return its one reply; DBSIZE,
KEYS, FLUSHALL/FLUSHDB, ROLE and PUBSUB's counts cover the whole cluster; administration of one
particular node (BGREWRITEAOF, SHUTDOWN, CLUSTER MEET/SETSLOT ...) is refused without
``target_nodes=``. WAIT/WAITAOF are bound to one connection's writes and refused likewise.
"""

from __future__ import annotations

from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from ..errors import ConnectionError, DataError, ResponseError
from .args import (
    EncodableT,
    KeyT,
    list_or_args,
    targets,
)
from .base import CommandsBase

__all__ = ["ServerCommands", "all_true"]

_KILL_TYPES = ("normal", "master", "slave", "replica", "pubsub")


def all_true(result: Any) -> Any:
    """A fan-out's ``{node name: True}`` as one bool (redis-py's single-node True); any other
    result unchanged."""
    if isinstance(result, Mapping):
        return all(bool(v) for v in result.values())
    return result


def _as_bytes(value: Any, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise DataError(f"ACL SETUSER {what} must be str or bytes, not {value!r}")


def _signed(value: Any, what: str) -> bytes:
    """An ACL rule that must start with ``+`` or ``-`` (commands, selectors)."""
    rule = _as_bytes(value, what)
    if not rule.startswith((b"+", b"-")):
        raise DataError(f'ACL SETUSER {what} {value!r} must be prefixed with "+" or "-"')
    return rule


def _key_pattern(value: Any) -> bytes:
    pattern = _as_bytes(value, "key pattern")
    return pattern if pattern.startswith((b"%", b"~")) else b"~" + pattern


def _password_rules(passwords: Any, add: bytes, remove: bytes, what: str) -> List[bytes]:
    rules = []
    for i, password in enumerate(list_or_args(passwords, [])):
        raw = _as_bytes(password, what)
        if raw.startswith(b"+"):
            rules.append(add + raw[1:])
        elif raw.startswith(b"-"):
            rules.append(remove + raw[1:])
        else:
            raise DataError(f'{what} {i} must be prefixed with a "+" to add or a "-" to remove')
    return rules


def _category_rule(value: Any) -> bytes:
    category = _as_bytes(value, "category")
    if category.startswith((b"+@", b"-@")):
        return category
    if category.startswith((b"+", b"-")):
        return category[:1] + b"@" + category[1:]
    raise DataError(f'ACL SETUSER category {value!r} must be prefixed with "+" or "-"')


class ServerCommands(CommandsBase):
    """Server and connection commands, one method each (redis-py's names and shapes)."""

    #: The client's switch for reads from replicas (a property there); readonly() sets it.
    read_from_replicas: bool

    def client_getname(self, **kwargs: Any) -> Any:
        """The name of a pooled connection (str), or None (set one with client_name=)."""
        return self.execute_command("CLIENT", "GETNAME", **kwargs)

    def client_id(self, **kwargs: Any) -> Any:
        """The id of a pooled connection (on a random node)."""
        return self.execute_command("CLIENT", "ID", **kwargs)

    def client_info(self, **kwargs: Any) -> Any:
        """CLIENT INFO of a pooled connection, as a dict."""
        return self.execute_command("CLIENT", "INFO", **kwargs)

    def client_kill(self, address: str, **kwargs: Any) -> Any:
        """Close the connection from ``address`` ("ip:port"); True.

        With ``target_nodes`` it is CLIENT KILL ip:port on those nodes (as redis-py). Without, it
        is CLIENT KILL ADDR on every node (the client may be on any of them) and True when some
        node had it; ResponseError "No such client" otherwise, as the single-node form says.
        """
        if kwargs.get("target_nodes") is not None:
            return self.execute_command("CLIENT", "KILL", address, **kwargs)
        kwargs.pop("target_nodes", None)
        killed = self.execute_command("CLIENT", "KILL", "ADDR", address, "SKIPME", "NO",
                                      **kwargs)
        if not killed:
            raise ResponseError("ERR No such client")
        return True

    def client_kill_filter(self, _id: Optional[str] = None, _type: Optional[str] = None,
                           addr: Optional[str] = None, skipme: Optional[bool] = None,
                           laddr: Optional[bool] = None, user: Optional[str] = None,
                           maxage: Optional[int] = None, **kwargs: Any) -> Any:
        """Close the connections matching every given filter, on every node; how many."""
        pieces: List[Any] = []
        if _type is not None:
            if str(_type).lower() not in _KILL_TYPES:
                raise DataError(f"CLIENT KILL type must be one of {_KILL_TYPES!r}, not {_type!r}")
            pieces += ["TYPE", _type]
        if skipme is not None:
            if not isinstance(skipme, bool):
                raise DataError(f"CLIENT KILL skipme must be a bool, not {skipme!r}")
            pieces += ["SKIPME", "YES" if skipme else "NO"]
        for word, value in (("ID", _id), ("ADDR", addr), ("LADDR", laddr), ("USER", user),
                            ("MAXAGE", maxage)):
            if value is not None:
                pieces += [word, value]
        if not pieces:
            raise DataError("CLIENT KILL <filter> <value> ... must specify at least one filter")
        return self.execute_command("CLIENT", "KILL", *pieces, **kwargs)

    def client_unblock(self, client_id: int, error: bool = False, **kwargs: Any) -> Any:
        """Unblock a client blocked in BLPOP & co. on the target node (``target_nodes``
        needed: client ids are per node); whether it was blocked."""
        pieces = ["ERROR"] if error else []
        return self.execute_command("CLIENT", "UNBLOCK", int(client_id), *pieces, **kwargs)

    def client_getredir(self, **kwargs: Any) -> Any:
        """CLIENT GETREDIR of one connection (connection-bound: needs ``target_nodes``)."""
        return self.execute_command("CLIENT", "GETREDIR", **kwargs)

    def client_setinfo(self, attr: str, value: str, **kwargs: Any) -> Any:
        """CLIENT SETINFO of one connection (connection-bound: needs ``target_nodes``); True."""
        return self.execute_command("CLIENT", "SETINFO", attr, value, **kwargs)

    def client_trackinginfo(self, **kwargs: Any) -> Any:
        """CLIENT TRACKINGINFO of one connection (connection-bound: needs ``target_nodes``)."""
        return self.execute_command("CLIENT", "TRACKINGINFO", **kwargs)

    def client_pause(self, timeout: int, all: bool = True, **kwargs: Any) -> Any:
        """Pause every node's clients for ``timeout`` ms (``all=False``: writes only); True."""
        if isinstance(timeout, bool) or not isinstance(timeout, int):
            raise DataError(f"CLIENT PAUSE timeout must be an integer, not {timeout!r}")
        pieces = [] if all else ["WRITE"]
        return self.execute_command("CLIENT", "PAUSE", timeout, *pieces, **kwargs)

    def client_unpause(self, **kwargs: Any) -> Any:
        """End a CLIENT PAUSE on every node; True."""
        return self.execute_command("CLIENT", "UNPAUSE", **kwargs)

    def client_no_evict(self, mode: str) -> Any:
        """CLIENT NO-EVICT: a flag of one connection, so refused on a pooled one (use a
        connection from ``connection_pool.get_connection_by_node()``)."""
        return self.execute_command("CLIENT", "NO-EVICT", mode)

    def client_no_touch(self, mode: str) -> Any:
        """CLIENT NO-TOUCH (Redis 7.2+): a flag of one connection, refused as
        :meth:`client_no_evict`."""
        return self.execute_command("CLIENT", "NO-TOUCH", mode)

    def client_list(self, _type: Optional[str] = None,
                    client_id: Sequence[Any] = [],  # redis-py's default; never mutated
                    **kwargs: Any) -> Any:
        """Connected clients of every node: ``{node name: [client dict]}``."""
        pieces: List[Any] = []
        if _type is not None:
            if _type.lower() not in ("normal", "master", "replica", "pubsub"):
                raise DataError(f"CLIENT LIST _type must be one of normal, master, replica, "
                                f"pubsub, not {_type!r}")
            pieces += ["TYPE", _type]
        if client_id:
            pieces += ["ID", *client_id]
        return self.execute_command("CLIENT", "LIST", *pieces, **kwargs)

    def client_setname(self, name: str, **kwargs: Any) -> Any:
        """Name one pooled connection per node (prefer the client's ``client_name=``); True."""
        return self.execute_command("CLIENT", "SETNAME", name, **kwargs)

    def command(self, **kwargs: Any) -> Any:
        """Every command's metadata: ``{name: {...}}``."""
        return self.execute_command("COMMAND", **kwargs)

    def command_count(self, **kwargs: Any) -> Any:
        """The number of commands the server knows."""
        return self.execute_command("COMMAND", "COUNT", **kwargs)

    def command_docs(self, *args: str) -> Any:
        """COMMAND DOCS of the named commands (all when none), raw."""
        return self.execute_command("COMMAND", "DOCS", *args)

    def command_getkeysandflags(self, *args: str) -> Any:
        """The keys and their flags the server finds in a full command."""
        return self.execute_command("COMMAND", "GETKEYSANDFLAGS", *args)

    def command_list(self, module: Optional[str] = None, category: Optional[str] = None,
                     pattern: Optional[str] = None) -> Any:
        """Command names, filtered by module, ACL category or pattern (one filter at most)."""
        pieces: List[Any] = []
        for word, value in (("MODULE", module), ("ACLCAT", category), ("PATTERN", pattern)):
            if value is not None:
                pieces += [word, value]
        if pieces:
            pieces.insert(0, "FILTERBY")
        return self.execute_command("COMMAND", "LIST", *pieces)

    def command_getkeys(self, *args: Any) -> Any:
        """The keys the server finds in a full command (str)."""
        return self.execute_command("COMMAND", "GETKEYS", *args)

    def command_info(self, *command_names: str, **kwargs: Any) -> Any:
        """Metadata of the named commands (all when none): ``{name: {...}}``."""
        return self.execute_command("COMMAND", "INFO", *command_names, **kwargs)

    def config_get(self, pattern: Any = "*", *args: Any, **kwargs: Any) -> Any:
        """Matching settings of every node: ``{node name: {setting: value}}``."""
        return self.execute_command("CONFIG", "GET", pattern, *args, **kwargs)

    def config_resetstat(self, **kwargs: Any) -> Any:
        """Reset INFO statistics on every node; True."""
        return self.execute_command("CONFIG", "RESETSTAT", **kwargs)

    def config_rewrite(self, **kwargs: Any) -> Any:
        """Rewrite every node's config file; True."""
        return self.execute_command("CONFIG", "REWRITE", **kwargs)

    def config_set(self, name: Any, value: EncodableT, *args: Any, **kwargs: Any) -> Any:
        """Change settings on every node; True."""
        return self.execute_command("CONFIG", "SET", name, value, *args, **kwargs)

    def dbsize(self, **kwargs: Any) -> Any:
        """Keys in the cluster (summed over primaries)."""
        return self.execute_command("DBSIZE", **kwargs)

    def echo(self, value: EncodableT, **kwargs: Any) -> Any:
        """``value`` echoed by a node."""
        return self.execute_command("ECHO", value, **kwargs)

    def flushall(self, asynchronous: bool = False, **kwargs: Any) -> Any:
        """Delete every key on every primary; True."""
        pieces = ["ASYNC"] if asynchronous else []
        return self.execute_command("FLUSHALL", *pieces, **kwargs)

    def flushdb(self, asynchronous: bool = False, **kwargs: Any) -> Any:
        """Delete every key on every primary (db 0 is the only one); True."""
        pieces = ["ASYNC"] if asynchronous else []
        return self.execute_command("FLUSHDB", *pieces, **kwargs)

    def info(self, section: Optional[str] = None, *args: str, **kwargs: Any) -> Any:
        """INFO of every node: ``{node name: {field: value}}``."""
        pieces = [] if section is None else [section, *args]
        return self.execute_command("INFO", *pieces, **kwargs)

    def lastsave(self, **kwargs: Any) -> Any:
        """Last successful save of every node: ``{node name: datetime}``."""
        return self.execute_command("LASTSAVE", **kwargs)

    def memory_stats(self, **kwargs: Any) -> Any:
        """MEMORY STATS of every primary: ``{node name: {...}}``."""
        return self.execute_command("MEMORY", "STATS", **kwargs)

    def memory_usage(self, key: KeyT, samples: Optional[int] = None, **kwargs: Any) -> Any:
        """Bytes used by a key and its value, or None."""
        pieces: List[Any] = [key]
        if samples is not None:
            pieces += ["SAMPLES", samples]
        return self.execute_command("MEMORY", "USAGE", *pieces, **kwargs)

    def hello(self) -> Any:
        """Refused, as redis-py's cluster client refuses it: HELLO changes the protocol of the
        one connection it runs on (give ``protocol=`` to the client instead)."""
        raise NotImplementedError(
            "HELLO is not supported in cluster mode (it changes one pooled connection's "
            "protocol): give RedisCluster(protocol=...) instead")

    def ping(self, **kwargs: Any) -> Any:
        """True when every primary answers PONG."""
        return self.execute_command("PING", **kwargs)

    def select(self, index: int, **kwargs: Any) -> Any:
        """SELECT: a cluster has database 0 only, so refused unless sent to a target node
        (where the server answers for itself); True."""
        return self.execute_command("SELECT", index, **kwargs)

    def shutdown(self, save: bool = False, nosave: bool = False, now: bool = False,
                 force: bool = False, abort: bool = False, **kwargs: Any) -> None:
        """SHUTDOWN the target node (``target_nodes`` needed); None once the node closed the
        connection, RedisClusterException-like error if it answered instead."""
        if save and nosave:
            raise DataError("SHUTDOWN save and nosave cannot both be set")
        pieces = [word for flag, word in ((save, "SAVE"), (nosave, "NOSAVE"), (now, "NOW"),
                                          (force, "FORCE"), (abort, "ABORT")) if flag]
        try:
            self.execute_command("SHUTDOWN", *pieces, **kwargs)
        except ConnectionError:
            return
        raise ResponseError("ERR SHUTDOWN seems to have failed: the node still answers")

    def replicaof(self, *args: Any, **kwargs: Any) -> Any:
        """REPLICAOF host port | NO ONE on the target node (a cluster node refuses it: cluster
        replication is CLUSTER REPLICATE)."""
        return self.execute_command("REPLICAOF", *args, **kwargs)

    def slaveof(self, *args: Any, **kwargs: Any) -> Any:
        """The old name of :meth:`replicaof` (``host, port``; none: NO ONE)."""
        return self.execute_command("SLAVEOF", *(args or ("NO", "ONE")), **kwargs)

    def readonly(self, target_nodes: Any = None) -> Any:
        """redis-py's READONLY: with ``"replicas"`` or ``"all"`` reads may go to replicas from
        now on (``read_from_replicas``; the handshake sends READONLY); with other nodes, READONLY
        on those; with none, nothing to do (the default node is a primary); True."""
        if target_nodes in ("replicas", "all"):
            self.read_from_replicas = True
            return True
        if target_nodes is None:
            return True
        return self.execute_command("READONLY", **targets(target_nodes))

    def readwrite(self, target_nodes: Any = None) -> Any:
        """redis-py's READWRITE: reads go to primaries only from now on; True."""
        self.read_from_replicas = False
        if target_nodes is None or target_nodes in ("replicas", "all"):
            return True
        return self.execute_command("READWRITE", **targets(target_nodes))

    def time(self, **kwargs: Any) -> Any:
        """A node's clock: ``(seconds, microseconds)``."""
        return self.execute_command("TIME", **kwargs)

    # --- ACL (users are per node: writes need target_nodes, reads ask one node) --------------
    def acl_cat(self, category: Optional[str] = None, **kwargs: Any) -> Any:
        """ACL categories, or the commands of ``category`` (str list)."""
        pieces = [category] if category else []
        return self.execute_command("ACL", "CAT", *pieces, **kwargs)

    def acl_deluser(self, *username: str, **kwargs: Any) -> Any:
        """Delete users on the target node(s) (refused without ``target_nodes``); how many."""
        return self.execute_command("ACL", "DELUSER", *username, **kwargs)

    def acl_dryrun(self, username: str, *args: EncodableT, **kwargs: Any) -> Any:
        """Whether ``username`` may run the command ``args`` ("OK" or the reason)."""
        return self.execute_command("ACL", "DRYRUN", username, *args, **kwargs)

    def acl_genpass(self, bits: Optional[int] = None, **kwargs: Any) -> Any:
        """A random password (hex str) of ``bits`` bits (256 by default)."""
        pieces: List[Any] = []
        if bits is not None:
            try:
                number = int(bits)
            except (TypeError, ValueError):
                number = -1
            if not 0 <= number <= 4096:
                raise DataError(f"ACL GENPASS bits must be between 0 and 4096, not {bits!r}")
            pieces.append(number)
        return self.execute_command("ACL", "GENPASS", *pieces, **kwargs)

    def acl_getuser(self, username: str, **kwargs: Any) -> Any:
        """A user's rules as a dict (flags, passwords, commands, categories, keys ...), or None."""
        return self.execute_command("ACL", "GETUSER", username, **kwargs)

    def acl_help(self, **kwargs: Any) -> Any:
        """ACL HELP lines (str)."""
        return self.execute_command("ACL", "HELP", **kwargs)

    def acl_list(self, **kwargs: Any) -> Any:
        """Every user's rules as ACL file lines (str)."""
        return self.execute_command("ACL", "LIST", **kwargs)

    def acl_log(self, count: Optional[int] = None, **kwargs: Any) -> Any:
        """Recent ACL denials of every node: ``{node name: [entry dict]}``."""
        pieces: List[Any] = []
        if count is not None:
            if isinstance(count, bool) or not isinstance(count, int):
                raise DataError(f"ACL LOG count must be an integer, not {count!r}")
            pieces.append(count)
        return self.execute_command("ACL", "LOG", *pieces, **kwargs)

    def acl_log_reset(self, **kwargs: Any) -> Any:
        """Clear the ACL log of every node; True."""
        return all_true(self.execute_command("ACL", "LOG", "RESET", **kwargs))

    def acl_load(self, **kwargs: Any) -> Any:
        """Reload the target node(s)' ACL file (``target_nodes`` needed); True."""
        return self.execute_command("ACL", "LOAD", **kwargs)

    def acl_save(self, **kwargs: Any) -> Any:
        """Write the target node(s)' ACL file (``target_nodes`` needed); True."""
        return self.execute_command("ACL", "SAVE", **kwargs)

    def acl_setuser(self, username: str, enabled: bool = False, nopass: bool = False,
                    passwords: Union[str, Iterable[str], None] = None,
                    hashed_passwords: Union[str, Iterable[str], None] = None,
                    categories: Optional[Iterable[str]] = None,
                    commands: Optional[Iterable[str]] = None,
                    keys: Optional[Iterable[KeyT]] = None,
                    channels: Optional[Iterable[Any]] = None,
                    selectors: Optional[Iterable[Tuple[str, KeyT]]] = None,
                    reset: bool = False, reset_keys: bool = False, reset_channels: bool = False,
                    reset_passwords: bool = False, **kwargs: Any) -> Any:
        """Create or change a user on the target node(s) (``target_nodes`` needed: users are
        per node); redis-py's rule arguments; True."""
        if (passwords or hashed_passwords) and nopass:
            raise DataError("Cannot set 'nopass' and supply 'passwords' or 'hashed_passwords'")
        pieces: List[Any] = [username]
        for flag, word in ((reset, b"reset"), (reset_keys, b"resetkeys"),
                           (reset_channels, b"resetchannels"), (reset_passwords, b"resetpass")):
            if flag:
                pieces.append(word)
        pieces.append(b"on" if enabled else b"off")
        if passwords:
            pieces += _password_rules(passwords, b">", b"<", "Password")
        if hashed_passwords:
            pieces += _password_rules(hashed_passwords, b"#", b"!", "Hashed password")
        if nopass:
            pieces.append(b"nopass")
        pieces += [_category_rule(c) for c in categories or ()]
        pieces += [_signed(c, "command") for c in commands or ()]
        pieces += [_key_pattern(k) for k in keys or ()]
        pieces += [b"&" + _as_bytes(c, "channel") for c in channels or ()]
        for command, key in selectors or ():
            pieces.append(b"(%s %s)" % (_signed(command, "selector command"), _key_pattern(key)))
        return self.execute_command("ACL", "SETUSER", *pieces, **kwargs)

    def acl_users(self, **kwargs: Any) -> Any:
        """User names (str)."""
        return self.execute_command("ACL", "USERS", **kwargs)

    def acl_whoami(self, **kwargs: Any) -> Any:
        """The user of a pooled connection (str)."""
        return self.execute_command("ACL", "WHOAMI", **kwargs)

    # --- SLOWLOG and LATENCY (per node) -------------------------------------------------------
    def slowlog_get(self, num: Optional[int] = None, **kwargs: Any) -> Any:
        """Slow log entries of every node: ``{node name: [entry dict]}``."""
        pieces = [] if num is None else [num]
        return self.execute_command("SLOWLOG", "GET", *pieces, **kwargs)

    def slowlog_len(self, **kwargs: Any) -> Any:
        """Slow log entries, summed over every node."""
        return self.execute_command("SLOWLOG", "LEN", **kwargs)

    def slowlog_reset(self, **kwargs: Any) -> Any:
        """Clear every node's slow log; True."""
        return self.execute_command("SLOWLOG", "RESET", **kwargs)

    def latency_doctor(self, **kwargs: Any) -> Any:
        """LATENCY DOCTOR's report of every node: ``{node name: text}``."""
        return self.execute_command("LATENCY", "DOCTOR", **kwargs)

    def latency_graph(self, event: Optional[str] = None, **kwargs: Any) -> Any:
        """LATENCY GRAPH of ``event`` on every node: ``{node name: text}``; ``event`` is
        required (optional only to keep redis-py's argument-less signature)."""
        if event is None:
            raise DataError("latency_graph needs an event name, not None")
        return self.execute_command("LATENCY", "GRAPH", event, **kwargs)

    def latency_histogram(self, *args: str, **kwargs: Any) -> Any:
        """Per-command latency histograms of every node (all commands when none named)."""
        return self.execute_command("LATENCY", "HISTOGRAM", *args, **kwargs)

    def latency_history(self, event: str, **kwargs: Any) -> Any:
        """``[[timestamp, ms], ...]`` of ``event``, per node."""
        return self.execute_command("LATENCY", "HISTORY", event, **kwargs)

    def latency_latest(self, **kwargs: Any) -> Any:
        """The latest latency spike per event, per node."""
        return self.execute_command("LATENCY", "LATEST", **kwargs)

    def latency_reset(self, *events: str, **kwargs: Any) -> Any:
        """Reset latency data (of ``events``, or all); event series reset, summed over nodes."""
        return self.execute_command("LATENCY", "RESET", *events, **kwargs)

    # --- MEMORY and MODULE --------------------------------------------------------------------
    def memory_doctor(self, **kwargs: Any) -> Any:
        """MEMORY DOCTOR's report of every primary: ``{node name: text}``."""
        return self.execute_command("MEMORY", "DOCTOR", **kwargs)

    def memory_help(self, **kwargs: Any) -> Any:
        """MEMORY HELP lines."""
        return self.execute_command("MEMORY", "HELP", **kwargs)

    def memory_malloc_stats(self, **kwargs: Any) -> Any:
        """The allocator's statistics of every primary: ``{node name: text}``."""
        return self.execute_command("MEMORY", "MALLOC-STATS", **kwargs)

    def memory_purge(self, **kwargs: Any) -> Any:
        """Ask every primary's allocator to release memory; True."""
        return self.execute_command("MEMORY", "PURGE", **kwargs)

    def module_list(self, **kwargs: Any) -> Any:
        """Loaded modules (of one node) as dicts."""
        return self.execute_command("MODULE", "LIST", **kwargs)

    def module_load(self, path: str, *args: Any, **kwargs: Any) -> Any:
        """Load a module on the target node(s) (``target_nodes`` needed); True."""
        return self.execute_command("MODULE", "LOAD", path, *args, **kwargs)

    def module_loadex(self, path: str, options: Optional[List[str]] = None,
                      args: Optional[List[str]] = None, **kwargs: Any) -> Any:
        """MODULE LOADEX with CONFIG ``options`` and ARGS on the target node(s)."""
        pieces: List[Any] = []
        if options is not None:
            pieces += ["CONFIG", *options]
        if args is not None:
            pieces += ["ARGS", *args]
        return self.execute_command("MODULE", "LOADEX", path, *pieces, **kwargs)

    def module_unload(self, name: str, **kwargs: Any) -> Any:
        """Unload a module on the target node(s) (``target_nodes`` needed); True."""
        return self.execute_command("MODULE", "UNLOAD", name, **kwargs)

    # --- persistence, inspection, replication -------------------------------------------------
    def bgrewriteaof(self, **kwargs: Any) -> Any:
        """Start an AOF rewrite on the target node(s) (``target_nodes`` needed); True."""
        return self.execute_command("BGREWRITEAOF", **kwargs)

    def bgsave(self, schedule: bool = True, **kwargs: Any) -> Any:
        """Start a background save on the target node(s) (``target_nodes`` needed; SCHEDULE:
        after a running rewrite); True."""
        pieces = ["SCHEDULE"] if schedule else []
        return self.execute_command("BGSAVE", *pieces, **kwargs)

    def save(self, **kwargs: Any) -> Any:
        """Save synchronously on the target node(s) (``target_nodes`` needed); True."""
        return self.execute_command("SAVE", **kwargs)

    def debug_object(self, key: KeyT, **kwargs: Any) -> Any:
        """DEBUG OBJECT of ``key`` (asked of the key's owner) as a dict."""
        return self.execute_command("DEBUG", "OBJECT", key, **kwargs)

    def role(self, **kwargs: Any) -> Any:
        """ROLE of every node: ``{node name: [role, ...]}``."""
        return self.execute_command("ROLE", **kwargs)

    def lolwut(self, *version_numbers: Union[str, float], **kwargs: Any) -> Any:
        """LOLWUT art (of one node)."""
        pieces: Sequence[Any] = ("VERSION", *version_numbers) if version_numbers else ()
        return self.execute_command("LOLWUT", *pieces, **kwargs)

    def wait(self, num_replicas: int, timeout: int, **kwargs: Any) -> Any:
        """WAIT: replicas that acknowledged this connection's writes (needs ``target_nodes``:
        the writes it waits for are those of one connection)."""
        return self.execute_command("WAIT", num_replicas, timeout, **kwargs)

    def waitaof(self, num_local: int, num_replicas: int, timeout: int, **kwargs: Any) -> Any:
        """WAITAOF (Redis 7.2+): ``[local fsyncs, replica fsyncs]`` (needs ``target_nodes``,
        as :meth:`wait`)."""
        return self.execute_command("WAITAOF", num_local, num_replicas, timeout, **kwargs)
