"""redis-py's command methods and reply callbacks, for the cluster client to inherit.

:class:`CommandsMixin` builds each command's arguments and calls ``self.execute_command(*args,
**options)``; it never routes, retries or touches a socket. The client applies the reply
callbacks (``self.response_callbacks``, name -> ``callback(reply, **options)``), keyed by the
command's table name (``"GET"``, ``"CLUSTER INFO"``: :func:`clustercore.commands.name_of`).
The options a method passes (``withscores=True``, ``get=True`` ...) are for the callback, never
sent to the server.

Fan-out commands: the client parses every node's reply with its response callback first, then
combines the parsed replies with :meth:`CommandsMixin._merge_results`, which applies a user's
result callback when one was set (redis-py-cluster's ``set_result_callback(command,
callback(command, {node_name: reply}))``) and the spec's :class:`~clustercore.commands.Merge`
otherwise. So ``ping()`` is True, ``dbsize()`` the sum over primaries, ``keys()`` one list,
``info()`` / ``config_get()`` / ``client_list()`` / ``lastsave()`` a dict per node name (as
redis-py-cluster returned them), ``scan()`` without ``target_node`` a dict per primary.

Return types follow redis-py 8 with RESP2 "legacy" shapes for both ``decode_responses`` False
(bytes) and True (str); RESP3-native shapes are accepted where that costs nothing. Cluster
commands follow redis-py-cluster 2.1.3: ``cluster_info()`` is a dict with numbers converted,
``cluster_nodes()`` a list of node dicts, ``cluster_slots()`` a dict keyed by slot range.

Multi-key commands: MGET, MSET, DEL, UNLINK, EXISTS and TOUCH are split by slot by the client
(not atomic across slots). Every other multi-key command is atomic: its keys must share a slot
(use ``{hash tags}``), or the client raises ClusterCrossSlotError before sending anything --
unlike redis-py-cluster 2.1.3, there are no client-side emulations of RENAME, SMOVE, SINTER,
PFMERGE ... across slots.

Hooks the client implements (see each docstring): ``execute_command``, ``_execute_on_node``
and ``_nodes_for_scan``; its ``__init__`` should set ``self.response_callbacks =
self._default_callbacks()`` (created lazily otherwise).
"""

from __future__ import annotations

import datetime
import hashlib
from types import MappingProxyType
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

from ..errors import DataError, NoScriptError
from .table import Merge, merge_replies

__all__ = [
    "DEFAULT_CALLBACKS",
    "BitFieldOperation",
    "CallbackDict",
    "CommandsMixin",
    "Script",
]

Callback = Callable[..., Any]
KeyT = Union[bytes, str, memoryview]
EncodableT = Union[bytes, bytearray, memoryview, str, int, float]
ExpiryT = Union[int, datetime.timedelta]
AbsExpiryT = Union[int, datetime.datetime]
ScoreCast = Callable[[Any], Any]


# --- reply helpers -------------------------------------------------------------------------------
def _s(value: Any) -> Any:
    """bytes -> str (UTF-8); anything else unchanged."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _pairs(flat: Any) -> Dict[Any, Any]:
    """A flat [k, v, k, v] reply (or a RESP3 map) as a dict."""
    if flat is None:
        return {}
    if isinstance(flat, dict):
        return dict(flat)
    it = iter(flat)
    return dict(zip(it, it))


def _str_pairs(flat: Any) -> Dict[str, Any]:
    """Like :func:`_pairs` with the keys decoded to str."""
    return {_s(k): v for k, v in _pairs(flat).items()}


def _cast(score_cast_func: ScoreCast) -> ScoreCast:
    """A score cast that also copes with '1.5e+18' given to int (as redis-py does)."""
    if score_cast_func is float:
        return score_cast_func

    def cast(value: Any) -> Any:
        try:
            return score_cast_func(value)
        except (TypeError, ValueError):
            return score_cast_func(float(value))

    return cast


_OK_REPLIES = (b"OK", "OK")


def bool_ok(response: Any, **options: Any) -> bool:
    """+OK -> True."""
    return response is True or response in _OK_REPLIES


def to_bool(response: Any, **options: Any) -> bool:
    """An integer reply as bool."""
    return bool(response)


def float_or_none(response: Any, **options: Any) -> Optional[float]:
    """A float, or None for a nil reply."""
    return None if response is None else float(response)


def to_str(response: Any, **options: Any) -> Any:
    """A bulk string as str (None stays None)."""
    return _s(response)


def str_list(response: Any, **options: Any) -> List[Any]:
    """A list of bulk strings as str."""
    return [_s(item) for item in response or ()]


def to_set(response: Any, **options: Any) -> Set[Any]:
    """A list reply as a set."""
    return set(response) if response else set()


def to_dict(response: Any, **options: Any) -> Dict[Any, Any]:
    """A flat field/value list as a dict (HGETALL)."""
    return _pairs(response)


def parse_set(response: Any, **options: Any) -> Any:
    """SET: True / None (NX or XX not met); with ``get=True`` the old value."""
    if options and options.get("get"):
        return response
    return response and (response is True or response in _OK_REPLIES)


def _info_value(text: str) -> Any:
    if "," not in text and "=" not in text:
        try:
            return float(text) if "." in text else int(text)
        except ValueError:
            return text
    if "=" not in text:
        return [_info_value(v) for v in text.split(",") if v]
    sub: Dict[str, Any] = {}
    for item in text.split(","):
        if not item:
            continue
        name, eq, value = item.rpartition("=")
        if eq:
            sub[name] = _info_value(value)
        else:
            sub[item] = True
    return sub


def parse_info(response: Any, **options: Any) -> Dict[str, Any]:
    """INFO text as a dict; numbers converted, ``k=v,k=v`` values as sub-dicts."""
    info: Dict[str, Any] = {}
    for line in _s(response).splitlines():
        if not line or line.startswith("#"):
            continue
        if ":" not in line:
            info.setdefault("__raw__", []).append(line)
            continue
        key, _, value = line.partition(":")
        if key == "cmdstat_host":
            key, _, value = line.rpartition(":")
        if key == "module":
            info.setdefault("modules", []).append(_info_value(value))
        else:
            info[key] = _info_value(value)
    return info


def parse_cluster_info(response: Any, **options: Any) -> Dict[str, Any]:
    """CLUSTER INFO as a dict with numbers converted (redis-py-cluster's shape)."""
    out: Dict[str, Any] = {}
    for line in _s(response).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key] = _info_value(value.strip())
    return out


def _node_slots(words: Sequence[str]) -> Tuple[List[int], List[Dict[str, Any]]]:
    slots: List[int] = []
    migrations: List[Dict[str, Any]] = []
    for word in words:
        if word.startswith("["):
            body = word[1:-1]
            if "->-" in body:
                slot, node_id = body.split("->-", 1)
                migrations.append({"slot": int(slot), "node_id": node_id, "state": "migrating"})
            elif "-<-" in body:
                slot, node_id = body.split("-<-", 1)
                migrations.append({"slot": int(slot), "node_id": node_id, "state": "importing"})
        elif "-" in word:
            start, end = word.split("-", 1)
            slots.extend(range(int(start), int(end) + 1))
        elif word:
            slots.append(int(word))
    return slots, migrations


def parse_cluster_nodes(response: Any, **options: Any) -> List[Dict[str, Any]]:
    """CLUSTER NODES / REPLICAS as redis-py-cluster's list of node dicts."""
    lines = response if isinstance(response, list) else _s(response).splitlines()
    current_host = options.get("current_host", "")
    nodes = []
    for raw in lines:
        line = _s(raw).strip()
        if not line:
            continue
        parts = line.split(" ")
        node_id, addr, flags, master, ping_sent, pong_recv, _epoch, link_state = parts[:8]
        address = addr.split(",", 1)[0]
        host, _, ports = address.rpartition(":")
        port, _, bus_port = ports.partition("@")
        slots, migrations = _node_slots(parts[8:])
        nodes.append({
            "id": node_id,
            "host": host or current_host,
            "port": int(port),
            "cluster-bus-port": int(bus_port) if bus_port else 10000 + int(port),
            "flags": tuple(flags.split(",")),
            "master": master if master != "-" else None,
            "ping-sent": int(ping_sent),
            "pong-recv": int(pong_recv),
            "link-state": link_state,
            "slots": tuple(slots),
            "migrations": migrations,
        })
    return nodes


def parse_cluster_slots(response: Any, **options: Any) -> Dict[Tuple[int, int], Dict[str, Any]]:
    """CLUSTER SLOTS as ``{(start, end): {"master": (host, port), "slaves": [...]}}``."""
    current_host = options.get("current_host", "")

    def server(entry: Sequence[Any]) -> Tuple[str, int]:
        return (_s(entry[0]) or current_host, int(entry[1]))

    out: Dict[Tuple[int, int], Dict[str, Any]] = {}
    for item in response or ():
        start, end, master = item[0], item[1], item[2]
        out[(int(start), int(end))] = {
            "master": server(master),
            "slaves": [server(replica) for replica in item[3:]],
        }
    return out


def parse_client_list(response: Any, **options: Any) -> List[Dict[str, str]]:
    """CLIENT LIST as a list of ``{field: value}`` dicts (str)."""
    clients = []
    for line in _s(response).splitlines():
        client: Dict[str, str] = {}
        last = None
        for token in line.split(" "):
            name, eq, value = token.partition("=")
            if eq:
                client[name] = value
                last = name
            elif last is not None:
                client[last] += " " + token
        if client:
            clients.append(client)
    return clients


def parse_client_info(response: Any, **options: Any) -> Dict[str, Any]:
    """CLIENT INFO as a dict, integer fields converted."""
    info: Dict[str, Any] = {}
    for token in _s(response).strip().split(" "):
        name, eq, value = token.partition("=")
        if eq:
            info[name] = int(value) if value.lstrip("-").isdigit() else value
    return info


def parse_config_get(response: Any, **options: Any) -> Dict[Any, Any]:
    """CONFIG GET as ``{name: value}`` (str)."""
    return {_s(k): _s(v) for k, v in _pairs(response).items()}


def parse_scan(response: Any, **options: Any) -> Tuple[int, List[Any]]:
    """SCAN / SSCAN: ``(next cursor, items)``."""
    cursor, items = response
    return int(cursor), list(items or ())


def parse_hscan(response: Any, **options: Any) -> Tuple[int, Any]:
    """HSCAN: ``(next cursor, {field: value})`` or, with ``no_values``, a field list."""
    cursor, items = response
    if options.get("no_values"):
        return int(cursor), list(items or ())
    return int(cursor), _pairs(items)


def parse_zscan(response: Any, **options: Any) -> Tuple[int, List[Tuple[Any, Any]]]:
    """ZSCAN: ``(next cursor, [(member, score)])``."""
    cast = _cast(options.get("score_cast_func", float))
    cursor, items = response
    it = iter(items or ())
    return int(cursor), [(member, cast(score)) for member, score in zip(it, it)]


def _score_pairs(response: Any, cast: ScoreCast) -> List[Tuple[Any, Any]]:
    if response and isinstance(response[0], list):  # RESP3: [[member, score], ...]
        return [(member, cast(score)) for member, score in response]
    it = iter(response or ())
    return [(member, cast(score)) for member, score in zip(it, it)]


def zset_score_pairs(response: Any, **options: Any) -> Any:
    """ZRANGE & co.: members, or ``[(member, score)]`` with ``withscores``."""
    if not response or not options.get("withscores"):
        return response
    return _score_pairs(response, _cast(options.get("score_cast_func", float)))


def zpop_score_pairs(response: Any, **options: Any) -> Any:
    """ZPOPMIN / ZPOPMAX: ``[(member, score)]``."""
    if not response:
        return response
    if not isinstance(response[0], list) and len(response) == 2 and isinstance(
            response[1], float):  # RESP3 single pop: [member, score]
        response = [response]
    return _score_pairs(response, _cast(options.get("score_cast_func", float)))


def zrank_with_score(response: Any, **options: Any) -> Any:
    """ZRANK / ZREVRANK: the rank, or ``[rank, score]`` with ``withscore``."""
    if not response or not options.get("withscore"):
        return response
    return [response[0], _cast(options.get("score_cast_func", float))(response[1])]


def parse_zadd(response: Any, **options: Any) -> Any:
    """ZADD: the count, or the new score (float) with INCR."""
    if response is None:
        return None
    return float(response) if options.get("as_score") else int(response)


def parse_zmscore(response: Any, **options: Any) -> List[Optional[float]]:
    """ZMSCORE: floats, None for missing members."""
    return [None if score is None else float(score) for score in response]


def blocking_pop(response: Any, **options: Any) -> Optional[Tuple[Any, ...]]:
    """BLPOP / BRPOP: ``(key, value)`` or None on timeout."""
    return tuple(response) if response else None


def blocking_zpop(response: Any, **options: Any) -> Optional[Tuple[Any, Any, float]]:
    """BZPOPMIN / BZPOPMAX: ``(key, member, score)`` or None on timeout."""
    return (response[0], response[1], float(response[2])) if response else None


def parse_geopos(response: Any, **options: Any) -> List[Optional[Tuple[float, float]]]:
    """GEOPOS: ``(longitude, latitude)`` per member, None when missing."""
    return [None if p is None else (float(p[0]), float(p[1])) for p in response]


def parse_geosearch(response: Any, **options: Any) -> Any:
    """GEOSEARCH / GEORADIUS: members, or ``[member, dist?, hash?, (lon, lat)?]`` items."""
    if options.get("store") or options.get("store_dist") or "withdist" not in options:
        return response
    items = response if isinstance(response, list) else [response]
    withdist, withhash, withcoord = (
        options.get("withdist"), options.get("withhash"), options.get("withcoord"))
    if not (withdist or withhash or withcoord):
        return items
    out = []
    for item in items:
        parsed: List[Any] = [item[0]]
        i = 1
        if withdist:
            parsed.append(float(item[i]))
            i += 1
        if withhash:
            parsed.append(int(item[i]))
            i += 1
        if withcoord:
            parsed.append((float(item[i][0]), float(item[i][1])))
        out.append(parsed)
    return out


def parse_stream_list(response: Any, **options: Any) -> Any:
    """XRANGE & co.: ``[(id, {field: value})]``."""
    if response is None:
        return None
    return [(None, None) if entry is None else (entry[0], _pairs(entry[1]))
            for entry in response]


def parse_xread(response: Any, **options: Any) -> List[List[Any]]:
    """XREAD / XREADGROUP: ``[[stream, [(id, fields)]], ...]``; [] when nothing came."""
    if not response:
        return []
    items = response.items() if isinstance(response, dict) else response
    return [[stream, parse_stream_list(entries)] for stream, entries in items]


def parse_xclaim(response: Any, **options: Any) -> Any:
    """XCLAIM: entries, or ids with ``justid``."""
    if options.get("parse_justid"):
        return response
    return parse_stream_list(response)


def parse_xautoclaim(response: Any, **options: Any) -> Any:
    """XAUTOCLAIM: ``[next id, entries, deleted ids]``, or just the ids with ``justid``."""
    if options.get("parse_justid"):
        return response[1]
    return [response[0], parse_stream_list(response[1]), *response[2:]]


def parse_xpending(response: Any, **options: Any) -> Any:
    """XPENDING summary dict, or (``parse_detail``) one dict per pending message."""
    if options.get("parse_detail"):
        fields = ("message_id", "consumer", "time_since_delivered", "times_delivered")
        return [dict(zip(fields, entry)) for entry in response]
    consumers = [{"name": name, "pending": int(count)} for name, count in response[3] or ()]
    return {"pending": response[0], "min": response[1], "max": response[2],
            "consumers": consumers}


def parse_xinfo_stream(response: Any, **options: Any) -> Dict[str, Any]:
    """XINFO STREAM as a dict with str keys; entries as ``(id, fields)``."""
    data = _str_pairs(response)
    if not options.get("full"):
        for name in ("first-entry", "last-entry"):
            entry = data.get(name)
            if entry is not None and entry[0] is not None:
                data[name] = (entry[0], _pairs(entry[1]))
        return data
    data["entries"] = {ident: _pairs(fields) for ident, fields in data.get("entries") or ()}
    groups = []
    for group in data.get("groups") or ():
        g = _str_pairs(group)
        g["consumers"] = [_str_pairs(c) for c in g.get("consumers") or ()]
        groups.append(g)
    data["groups"] = groups
    return data


def list_of_dicts(response: Any, **options: Any) -> List[Dict[str, Any]]:
    """XINFO GROUPS / CONSUMERS: a dict (str keys) per item."""
    return [_str_pairs(item) for item in response]


def parse_lastsave(response: Any, **options: Any) -> Optional[datetime.datetime]:
    """LASTSAVE as a local datetime."""
    if not response:
        return None
    return datetime.datetime.fromtimestamp(int(response))


def parse_time(response: Any, **options: Any) -> Tuple[int, int]:
    """TIME: ``(seconds, microseconds)``."""
    return int(response[0]), int(response[1])


def parse_ping(response: Any, **options: Any) -> bool:
    """PING: True for PONG."""
    return response is True or _s(response) == "PONG"


def parse_script_exists(response: Any, **options: Any) -> List[bool]:
    """SCRIPT EXISTS: one bool per sha."""
    return [bool(flag) for flag in response]


def parse_command(response: Any, **options: Any) -> Dict[str, Dict[str, Any]]:
    """COMMAND / COMMAND INFO: ``{name: {name, arity, flags, first_key_pos, ...}}``."""
    out: Dict[str, Dict[str, Any]] = {}
    for entry in response or ():
        if not entry:
            continue
        name = _s(entry[0])
        info: Dict[str, Any] = {
            "name": name,
            "arity": int(entry[1]),
            "flags": [_s(flag) for flag in entry[2]],
            "first_key_pos": entry[3],
            "last_key_pos": entry[4],
            "step_count": entry[5],
        }
        if len(entry) > 6:
            info["acl_categories"] = [_s(c) for c in entry[6]]
        if len(entry) > 7:
            info["tips"] = entry[7]
            info["key_specifications"] = entry[8]
            info["subcommands"] = entry[9]
        out[name] = info
    return out


def sort_groups(response: Any, **options: Any) -> Any:
    """SORT with ``groups``: n-tuples of the GET values."""
    n = options.get("groups")
    if not response or not n:
        return response
    return list(zip(*[response[i::n] for i in range(n)]))


def parse_pubsub_numsub(response: Any, **options: Any) -> List[Tuple[Any, int]]:
    """PUBSUB NUMSUB: ``[(channel, subscribers)]``."""
    return [(name, int(count)) for name, count in zip(response[0::2], response[1::2])]


def parse_client_kill(response: Any, **options: Any) -> Any:
    """CLIENT KILL: the count (filter form) or True (+OK)."""
    return response if isinstance(response, int) else bool_ok(response)


def parse_memory_stats(response: Any, **options: Any) -> Dict[str, Any]:
    """MEMORY STATS as a dict (str keys; ``db.N`` values as dicts)."""
    stats = {k: _s(v) if isinstance(v, bytes) else v for k, v in _str_pairs(response).items()}
    for key, value in stats.items():
        if key.startswith("db.") and isinstance(value, (list, dict)):
            stats[key] = _str_pairs(value)
    return stats


def _bool_ok_map(*names: str) -> Dict[str, Callback]:
    return dict.fromkeys(names, bool_ok)


#: The default reply callbacks, by table name (read-only; clients copy it).
DEFAULT_CALLBACKS: Mapping[str, Callback] = MappingProxyType({
    **dict.fromkeys(
        ("COPY", "EXPIRE", "EXPIREAT", "HEXISTS", "HMSET", "MOVE", "MSETNX", "PERSIST",
         "PEXPIRE", "PEXPIREAT", "PSETEX", "RENAMENX", "SETEX", "SETNX", "SMOVE",
         "XGROUP DESTROY", "CLIENT UNBLOCK"), to_bool),
    **dict.fromkeys(("HINCRBYFLOAT", "INCRBYFLOAT", "GEODIST", "ZINCRBY", "ZSCORE"),
                    float_or_none),
    **_bool_ok_map("ASKING", "CLIENT PAUSE", "CLIENT SETNAME", "CLIENT UNPAUSE",
                   "CONFIG RESETSTAT", "CONFIG REWRITE", "CONFIG SET", "FLUSHALL", "FLUSHDB",
                   "FUNCTION DELETE", "FUNCTION FLUSH", "FUNCTION RESTORE", "LSET", "LTRIM",
                   "MEMORY PURGE", "MSET", "PFMERGE", "READONLY", "READWRITE", "RENAME",
                   "SCRIPT FLUSH", "SCRIPT KILL", "FUNCTION KILL", "SLOWLOG RESET",
                   "XGROUP CREATE", "XGROUP SETID"),
    **dict.fromkeys(("SDIFF", "SINTER", "SMEMBERS", "SUNION"), to_set),
    **dict.fromkeys(("ZINTER", "ZRANGE", "ZRANGEBYSCORE", "ZREVRANGE", "ZREVRANGEBYSCORE",
                     "ZUNION"), zset_score_pairs),
    **dict.fromkeys(("ZPOPMAX", "ZPOPMIN"), zpop_score_pairs),
    **dict.fromkeys(("ZRANK", "ZREVRANK"), zrank_with_score),
    **dict.fromkeys(("BLPOP", "BRPOP"), blocking_pop),
    **dict.fromkeys(("BZPOPMAX", "BZPOPMIN"), blocking_zpop),
    **dict.fromkeys(("GEORADIUS", "GEORADIUSBYMEMBER", "GEORADIUS_RO",
                     "GEORADIUSBYMEMBER_RO", "GEOSEARCH"), parse_geosearch),
    **dict.fromkeys(("XRANGE", "XREVRANGE"), parse_stream_list),
    **dict.fromkeys(("XREAD", "XREADGROUP"), parse_xread),
    **dict.fromkeys(("XINFO GROUPS", "XINFO CONSUMERS"), list_of_dicts),
    **dict.fromkeys(("SCAN", "SSCAN"), parse_scan),
    **dict.fromkeys(("CLUSTER NODES", "CLUSTER REPLICAS", "CLUSTER SLAVES"),
                    parse_cluster_nodes),
    **dict.fromkeys(("COMMAND", "COMMAND INFO"), parse_command),
    **dict.fromkeys(("PUBSUB NUMSUB", "PUBSUB SHARDNUMSUB"), parse_pubsub_numsub),
    **dict.fromkeys(("ACL CAT", "ACL LIST", "ACL USERS", "COMMAND GETKEYS", "GEOHASH"),
                    str_list),
    **dict.fromkeys(("ACL GENPASS", "ACL WHOAMI", "CLIENT GETNAME", "SCRIPT LOAD"), to_str),
    "CLIENT INFO": parse_client_info,
    "CLIENT KILL": parse_client_kill,
    "CLIENT LIST": parse_client_list,
    "CLUSTER INFO": parse_cluster_info,
    "CLUSTER SLOTS": parse_cluster_slots,
    "CONFIG GET": parse_config_get,
    "GEOPOS": parse_geopos,
    "HGETALL": to_dict,
    "HSCAN": parse_hscan,
    "INFO": parse_info,
    "LASTSAVE": parse_lastsave,
    "MEMORY STATS": parse_memory_stats,
    "PING": parse_ping,
    "SCRIPT EXISTS": parse_script_exists,
    "SET": parse_set,
    "SORT": sort_groups,
    "TIME": parse_time,
    "XAUTOCLAIM": parse_xautoclaim,
    "XCLAIM": parse_xclaim,
    "XINFO STREAM": parse_xinfo_stream,
    "XPENDING": parse_xpending,
    "ZADD": parse_zadd,
    "ZMSCORE": parse_zmscore,
    "ZSCAN": parse_zscan,
})


def pop_never_decode(options: Dict[str, Any]) -> bool:
    """Take the "read this reply undecoded" option out of ``options``: ``never_decode=True``
    (clustercore's spelling) or redis-py's ``NEVER_DECODE`` key (present means yes)."""
    raw = bool(options.pop("never_decode", False))
    if "NEVER_DECODE" in options:
        del options["NEVER_DECODE"]
        raw = True
    return raw


def _upper(key: Any) -> Any:
    return key.upper() if isinstance(key, str) else key


class CallbackDict(Dict[str, Callback]):
    """A dict of callbacks whose str keys are case-insensitive (stored upper-case)."""

    def __init__(self, data: Optional[Mapping[str, Callback]] = None) -> None:
        super().__init__()
        if data:
            self.update(data)

    def __setitem__(self, key: str, value: Callback) -> None:
        super().__setitem__(_upper(key), value)

    def __getitem__(self, key: str) -> Callback:
        return super().__getitem__(_upper(key))

    def __delitem__(self, key: str) -> None:
        super().__delitem__(_upper(key))

    def __contains__(self, key: object) -> bool:
        return super().__contains__(_upper(key))

    def get(self, key: str, default: Any = None) -> Any:
        """Case-insensitive ``dict.get``."""
        return super().get(_upper(key), default)

    def pop(self, key: str, *default: Any) -> Any:
        """Case-insensitive ``dict.pop``."""
        return super().pop(_upper(key), *default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        """Case-insensitive ``dict.setdefault``."""
        return super().setdefault(_upper(key), default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Case-insensitive ``dict.update``."""
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def copy(self) -> CallbackDict:
        """A shallow copy of the same type."""
        return CallbackDict(self)


# --- argument helpers ----------------------------------------------------------------------------
def _list_or_args(keys: Any, args: Sequence[Any]) -> List[Any]:
    """redis-py's ``keys, *args`` convention: one key or an iterable of keys, plus more."""
    if isinstance(keys, (bytes, str, memoryview, bytearray, int, float)):
        out = [keys]
    else:
        try:
            out = list(keys)
        except TypeError:
            out = [keys]
    out.extend(args)
    return out


def _seconds(value: Any, name: str) -> Any:
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds())
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(f"{name} must be an int or a datetime.timedelta, not {value!r}")
    return value


def _millis(value: Any, name: str) -> Any:
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds() * 1000)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(f"{name} must be an int or a datetime.timedelta, not {value!r}")
    return value


def _unix_seconds(value: Any) -> Any:
    return int(value.timestamp()) if isinstance(value, datetime.datetime) else value


def _unix_millis(value: Any) -> Any:
    return int(value.timestamp() * 1000) if isinstance(value, datetime.datetime) else value


def _expire_flags(nx: bool, xx: bool, gt: bool, lt: bool) -> List[str]:
    return [word for word, on in (("NX", nx), ("XX", xx), ("GT", gt), ("LT", lt)) if on]


def _scan_args(cursor: Any, match: Any, count: Any, _type: Any = None) -> List[Any]:
    pieces: List[Any] = [cursor]
    if match is not None:
        pieces += ["MATCH", match]
    if count is not None:
        pieces += ["COUNT", count]
    if _type is not None:
        pieces += ["TYPE", _type]
    return pieces


def _limit(start: Any, num: Any) -> List[Any]:
    if (start is None) != (num is None):
        raise DataError("``start`` and ``num`` must both be specified")
    return ["LIMIT", start, num] if start is not None else []


_GEO_UNITS = ("m", "km", "mi", "ft")


def _check_unit(unit: Any, command: str) -> None:
    if unit is not None and str(unit).lower() not in _GEO_UNITS:
        raise DataError(f"{command} invalid unit {unit!r}")


class CommandsMixin:
    """redis-py's command methods over ``execute_command`` (see the module docstring)."""

    response_callbacks: Dict[str, Callback]
    result_callbacks: Dict[str, Callback]

    # --- hooks the client implements -------------------------------------------------------------
    def execute_command(self, *args: Any, **options: Any) -> Any:
        """Abstract: route and send one command, apply its callback, return the result."""
        raise NotImplementedError("the client class implements execute_command")

    def _execute_on_node(self, node: Any, *args: Any) -> Any:
        """Abstract: send one command to exactly ``node`` (no slot routing, no redirects) and
        return the raw reply (no callback); ``node`` is what ``_nodes_for_scan`` returns or
        what a caller passed as ``target_node``."""
        raise NotImplementedError("the client class implements _execute_on_node")

    def _nodes_for_scan(self) -> List[Any]:
        """Abstract: one node per shard (the primaries) for iterating the whole key space."""
        raise NotImplementedError("the client class implements _nodes_for_scan")

    # --- callbacks -------------------------------------------------------------------------------
    @staticmethod
    def _default_callbacks() -> Dict[str, Callback]:
        """A fresh, case-insensitive copy of :data:`DEFAULT_CALLBACKS`."""
        return CallbackDict(DEFAULT_CALLBACKS)

    def _callbacks(self) -> Dict[str, Callback]:
        try:
            return self.response_callbacks
        except AttributeError:
            self.response_callbacks = self._default_callbacks()
            return self.response_callbacks

    def _merge_callbacks(self) -> Dict[str, Callback]:
        try:
            return self.result_callbacks
        except AttributeError:
            self.result_callbacks = CallbackDict()
            return self.result_callbacks

    def set_response_callback(self, command: str, callback: Callback) -> None:
        """Parse ``command``'s reply with ``callback(reply, **options)`` (redis-py)."""
        self._callbacks()[command.upper()] = callback

    def set_result_callback(self, command: str, callback: Callback) -> None:
        """Combine a fan-out command's per-node replies with ``callback(command, {node: reply},
        **options)`` instead of its merge rule (redis-py-cluster)."""
        self._merge_callbacks()[command.upper()] = callback

    def _parse_reply(self, name: str, reply: Any, **options: Any) -> Any:
        """Apply ``name``'s response callback (if any) to one raw reply."""
        callback = self._callbacks().get(name)
        return reply if callback is None else callback(reply, **options)

    def _merge_results(self, name: str, merge: Merge, replies: Mapping[Any, Any],
                       **options: Any) -> Any:
        """Combine parsed per-node replies: the user's result callback, else ``merge``.

        A reply that is an exception is raised first (except for ``Merge.ANY_OK``).
        """
        callback = self._merge_callbacks().get(name)
        if callback is None:
            return merge_replies(merge, replies)
        for reply in replies.values():
            if isinstance(reply, BaseException):
                raise reply
        return callback(name, dict(replies), **options)

    # --- strings ---------------------------------------------------------------------------------
    def append(self, key: KeyT, value: EncodableT) -> Any:
        """Append ``value`` to the string at ``key``; the new length."""
        return self.execute_command("APPEND", key, value)

    def decr(self, name: KeyT, amount: int = 1) -> Any:
        """Decrement by ``amount``; the new value."""
        return self.execute_command("DECRBY", name, amount)

    def decrby(self, name: KeyT, amount: int = 1) -> Any:
        """Decrement by ``amount``; the new value."""
        return self.execute_command("DECRBY", name, amount)

    def get(self, name: KeyT) -> Any:
        """The value at ``name``, or None."""
        return self.execute_command("GET", name)

    def getdel(self, name: KeyT) -> Any:
        """Get the value and delete the key; None when missing."""
        return self.execute_command("GETDEL", name)

    def getex(self, name: KeyT, ex: Optional[ExpiryT] = None, px: Optional[ExpiryT] = None,
              exat: Optional[AbsExpiryT] = None, pxat: Optional[AbsExpiryT] = None,
              persist: bool = False) -> Any:
        """Get the value and set (or, with ``persist``, remove) its expiry."""
        if sum(x is not None for x in (ex, px, exat, pxat)) + bool(persist) > 1:
            raise DataError("``ex``, ``px``, ``exat``, ``pxat`` and ``persist`` are "
                            "mutually exclusive")
        pieces: List[Any] = []
        if ex is not None:
            pieces += ["EX", _seconds(ex, "ex")]
        if px is not None:
            pieces += ["PX", _millis(px, "px")]
        if exat is not None:
            pieces += ["EXAT", _unix_seconds(exat)]
        if pxat is not None:
            pieces += ["PXAT", _unix_millis(pxat)]
        if persist:
            pieces.append("PERSIST")
        return self.execute_command("GETEX", name, *pieces)

    def getrange(self, key: KeyT, start: int, end: int) -> Any:
        """The substring between ``start`` and ``end`` (inclusive)."""
        return self.execute_command("GETRANGE", key, start, end)

    def getset(self, name: KeyT, value: EncodableT) -> Any:
        """Set ``value`` and return the old value."""
        return self.execute_command("GETSET", name, value)

    def incr(self, name: KeyT, amount: int = 1) -> Any:
        """Increment by ``amount``; the new value."""
        return self.execute_command("INCRBY", name, amount)

    def incrby(self, name: KeyT, amount: int = 1) -> Any:
        """Increment by ``amount``; the new value."""
        return self.execute_command("INCRBY", name, amount)

    def incrbyfloat(self, name: KeyT, amount: float = 1.0) -> Any:
        """Increment by a float; the new value (float)."""
        return self.execute_command("INCRBYFLOAT", name, amount)

    def lcs(self, key1: KeyT, key2: KeyT, len: bool = False, idx: bool = False,
            minmatchlen: int = 0, withmatchlen: bool = False) -> Any:
        """Longest common substring of two strings (keys of one slot)."""
        pieces: List[Any] = [key1, key2]
        if len:
            pieces.append("LEN")
        if idx:
            pieces.append("IDX")
        if minmatchlen:
            pieces += ["MINMATCHLEN", minmatchlen]
        if withmatchlen:
            pieces.append("WITHMATCHLEN")
        return self.execute_command("LCS", *pieces)

    def mget(self, keys: Any, *args: KeyT) -> Any:
        """Values of many keys in order. Split by slot by the client: not atomic across slots."""
        return self.execute_command("MGET", *_list_or_args(keys, args))

    def mset(self, mapping: Mapping[Any, EncodableT]) -> Any:
        """Set many keys; True. Split by slot by the client: not atomic across slots."""
        items: List[Any] = []
        for pair in mapping.items():
            items.extend(pair)
        return self.execute_command("MSET", *items)

    def msetnx(self, mapping: Mapping[Any, EncodableT]) -> Any:
        """Set many keys only if none exists; bool. Atomic: keys must share a slot."""
        items: List[Any] = []
        for pair in mapping.items():
            items.extend(pair)
        return self.execute_command("MSETNX", *items)

    def psetex(self, name: KeyT, time_ms: ExpiryT, value: EncodableT) -> Any:
        """Set ``value`` with a TTL in milliseconds; True."""
        return self.execute_command("PSETEX", name, _millis(time_ms, "time_ms"), value)

    def set(self, name: KeyT, value: EncodableT, ex: Optional[ExpiryT] = None,
            px: Optional[ExpiryT] = None, nx: bool = False, xx: bool = False,
            keepttl: bool = False, get: bool = False, exat: Optional[AbsExpiryT] = None,
            pxat: Optional[AbsExpiryT] = None) -> Any:
        """Set ``value``; True, None when NX/XX was not met, the old value with ``get``."""
        if (ex is not None or px is not None or exat is not None or pxat is not None) and (
                sum(x is not None for x in (ex, px, exat, pxat)) + bool(keepttl) > 1):
            raise DataError("``ex``, ``px``, ``exat``, ``pxat`` and ``keepttl`` are "
                            "mutually exclusive")
        if nx and xx:
            raise DataError("``nx`` and ``xx`` are mutually exclusive")
        pieces: List[Any] = [name, value]
        options: Dict[str, Any] = {}
        if ex is not None:
            pieces += ["EX", _seconds(ex, "ex")]
        if px is not None:
            pieces += ["PX", _millis(px, "px")]
        if exat is not None:
            pieces += ["EXAT", _unix_seconds(exat)]
        if pxat is not None:
            pieces += ["PXAT", _unix_millis(pxat)]
        if keepttl:
            pieces.append("KEEPTTL")
        if nx:
            pieces.append("NX")
        if xx:
            pieces.append("XX")
        if get:
            pieces.append("GET")
            options["get"] = True
        return self.execute_command("SET", *pieces, **options)

    def setex(self, name: KeyT, time: ExpiryT, value: EncodableT) -> Any:
        """Set ``value`` with a TTL in seconds; True."""
        return self.execute_command("SETEX", name, _seconds(time, "time"), value)

    def setnx(self, name: KeyT, value: EncodableT) -> Any:
        """Set ``value`` if the key does not exist; bool."""
        return self.execute_command("SETNX", name, value)

    def setrange(self, name: KeyT, offset: int, value: EncodableT) -> Any:
        """Overwrite part of the string at ``offset``; the new length."""
        return self.execute_command("SETRANGE", name, offset, value)

    def strlen(self, name: KeyT) -> Any:
        """Length of the string value."""
        return self.execute_command("STRLEN", name)

    def substr(self, name: KeyT, start: int, end: int = -1) -> Any:
        """The substring between ``start`` and ``end`` (SUBSTR)."""
        return self.execute_command("SUBSTR", name, start, end)

    # --- keys and expiry -------------------------------------------------------------------------
    def copy(self, source: KeyT, destination: KeyT, destination_db: Optional[int] = None,
             replace: bool = False) -> Any:
        """Copy a key (same slot); bool."""
        pieces: List[Any] = [source, destination]
        if destination_db is not None:
            pieces += ["DB", destination_db]
        if replace:
            pieces.append("REPLACE")
        return self.execute_command("COPY", *pieces)

    def delete(self, *names: KeyT) -> Any:
        """Delete keys; how many existed. Split by slot by the client: not atomic across slots."""
        return self.execute_command("DEL", *names)

    def dump(self, name: KeyT) -> Any:
        """The serialized value (bytes, for RESTORE), or None. ``never_decode=True`` asks the
        client to read this reply undecoded even with ``decode_responses`` (redis-py's
        NEVER_DECODE): the payload is binary."""
        return self.execute_command("DUMP", name, never_decode=True)

    def exists(self, *names: KeyT) -> Any:
        """How many of the keys exist. Split by slot by the client: not atomic across slots."""
        return self.execute_command("EXISTS", *names)

    def expire(self, name: KeyT, time: ExpiryT, nx: bool = False, xx: bool = False,
               gt: bool = False, lt: bool = False) -> Any:
        """Set a TTL in seconds; bool."""
        return self.execute_command("EXPIRE", name, _seconds(time, "time"),
                                    *_expire_flags(nx, xx, gt, lt))

    def expireat(self, name: KeyT, when: AbsExpiryT, nx: bool = False, xx: bool = False,
                 gt: bool = False, lt: bool = False) -> Any:
        """Expire at a unix time (seconds or datetime); bool."""
        return self.execute_command("EXPIREAT", name, _unix_seconds(when),
                                    *_expire_flags(nx, xx, gt, lt))

    def expiretime(self, key: KeyT) -> Any:
        """The absolute expiry (unix seconds); -1 no TTL, -2 no key."""
        return self.execute_command("EXPIRETIME", key)

    def keys(self, pattern: Any = "*", **kwargs: Any) -> Any:
        """Keys matching ``pattern`` on every primary, in one list (avoid on big data sets)."""
        return self.execute_command("KEYS", pattern, **kwargs)

    def object(self, infotype: str, key: KeyT, **kwargs: Any) -> Any:
        """OBJECT ENCODING/FREQ/IDLETIME/REFCOUNT of ``key``."""
        return self.execute_command("OBJECT", infotype, key, infotype=infotype, **kwargs)

    def persist(self, name: KeyT) -> Any:
        """Remove the TTL; bool."""
        return self.execute_command("PERSIST", name)

    def pexpire(self, name: KeyT, time: ExpiryT, nx: bool = False, xx: bool = False,
                gt: bool = False, lt: bool = False) -> Any:
        """Set a TTL in milliseconds; bool."""
        return self.execute_command("PEXPIRE", name, _millis(time, "time"),
                                    *_expire_flags(nx, xx, gt, lt))

    def pexpireat(self, name: KeyT, when: AbsExpiryT, nx: bool = False, xx: bool = False,
                  gt: bool = False, lt: bool = False) -> Any:
        """Expire at a unix time in milliseconds (or datetime); bool."""
        return self.execute_command("PEXPIREAT", name, _unix_millis(when),
                                    *_expire_flags(nx, xx, gt, lt))

    def pexpiretime(self, key: KeyT) -> Any:
        """The absolute expiry (unix milliseconds); -1 no TTL, -2 no key."""
        return self.execute_command("PEXPIRETIME", key)

    def pttl(self, name: KeyT) -> Any:
        """Remaining TTL in milliseconds; -1 no TTL, -2 no key."""
        return self.execute_command("PTTL", name)

    def randomkey(self, **kwargs: Any) -> Any:
        """A random key of a random primary (None when that primary is empty)."""
        return self.execute_command("RANDOMKEY", **kwargs)

    def rename(self, src: KeyT, dst: KeyT) -> Any:
        """Rename a key (same slot); True."""
        return self.execute_command("RENAME", src, dst)

    def renamenx(self, src: KeyT, dst: KeyT) -> Any:
        """Rename if ``dst`` does not exist (same slot); bool."""
        return self.execute_command("RENAMENX", src, dst)

    def restore(self, name: KeyT, ttl: float, value: EncodableT, replace: bool = False,
                absttl: bool = False, idletime: Optional[int] = None,
                frequency: Optional[int] = None) -> Any:
        """Create a key from a DUMP payload."""
        pieces: List[Any] = [name, ttl, value]
        if replace:
            pieces.append("REPLACE")
        if absttl:
            pieces.append("ABSTTL")
        if idletime is not None:
            if not isinstance(idletime, int):
                raise DataError("idletime must be an integer")
            pieces += ["IDLETIME", idletime]
        if frequency is not None:
            if not isinstance(frequency, int):
                raise DataError("frequency must be an integer")
            pieces += ["FREQ", frequency]
        return self.execute_command("RESTORE", *pieces)

    def scan(self, cursor: int = 0, match: Any = None, count: Optional[int] = None,
             _type: Optional[str] = None, target_node: Any = None, **kwargs: Any) -> Any:
        """One SCAN step: ``(cursor, keys)`` on ``target_node``; without one, every primary
        answers and the result is ``{node name: (cursor, keys)}`` (redis-py-cluster)."""
        pieces = _scan_args(cursor, match, count, _type)
        if target_node is not None:
            raw = self._execute_on_node(target_node, "SCAN", *pieces)
            return self._parse_reply("SCAN", raw, **kwargs)
        return self.execute_command("SCAN", *pieces, **kwargs)

    def scan_iter(self, match: Any = None, count: Optional[int] = None,
                  _type: Optional[str] = None, **kwargs: Any) -> Iterator[Any]:
        """Every key of every primary, node by node (keys moved by resharding meanwhile may be
        missed or seen twice, as with SCAN itself)."""
        for node in self._nodes_for_scan():
            cursor = 0
            while True:
                raw = self._execute_on_node(node, "SCAN", *_scan_args(cursor, match, count, _type))
                cursor, keys = self._parse_reply("SCAN", raw, **kwargs)
                yield from keys
                if cursor == 0:
                    break

    def sort(self, name: KeyT, start: Optional[int] = None, num: Optional[int] = None,
             by: Optional[str] = None, get: Any = None, desc: bool = False, alpha: bool = False,
             store: Optional[KeyT] = None, groups: bool = False) -> Any:
        """Sorted elements of a list/set/zset (BY/GET patterns must hash to the same slot)."""
        pieces = self._sort_pieces(name, start, num, by, get, desc, alpha)
        if store is not None:
            pieces += ["STORE", store]
        if groups and (not get or isinstance(get, (bytes, str)) or len(get) < 2):
            raise DataError("when using ``groups`` the ``get`` argument must name at least "
                            "two patterns")
        options = {"groups": len(get) if groups and get else None}
        return self.execute_command("SORT", *pieces, **options)

    def sort_ro(self, key: KeyT, start: Optional[int] = None, num: Optional[int] = None,
                by: Optional[str] = None, get: Any = None, desc: bool = False,
                alpha: bool = False) -> Any:
        """Read-only SORT (may run on a replica)."""
        return self.execute_command(
            "SORT_RO", *self._sort_pieces(key, start, num, by, get, desc, alpha))

    @staticmethod
    def _sort_pieces(name: Any, start: Any, num: Any, by: Any, get: Any, desc: bool,
                     alpha: bool) -> List[Any]:
        pieces: List[Any] = [name]
        if by is not None:
            pieces += ["BY", by]
        pieces += _limit(start, num)
        if get is not None:
            for pattern in ([get] if isinstance(get, (bytes, str)) else get):
                pieces += ["GET", pattern]
        if desc:
            pieces.append("DESC")
        if alpha:
            pieces.append("ALPHA")
        return pieces

    def touch(self, *args: KeyT) -> Any:
        """Touch keys; how many exist. Split by slot by the client: not atomic across slots."""
        return self.execute_command("TOUCH", *args)

    def ttl(self, name: KeyT) -> Any:
        """Remaining TTL in seconds; -1 no TTL, -2 no key."""
        return self.execute_command("TTL", name)

    def type(self, name: KeyT) -> Any:
        """The value's type name (``string``, ``list`` ... ``none``)."""
        return self.execute_command("TYPE", name)

    def unlink(self, *names: KeyT) -> Any:
        """Delete keys lazily; how many existed. Split by slot: not atomic across slots."""
        return self.execute_command("UNLINK", *names)

    # --- hashes ----------------------------------------------------------------------------------
    def hdel(self, name: KeyT, *keys: Any) -> Any:
        """Delete fields; how many existed."""
        return self.execute_command("HDEL", name, *keys)

    def hexists(self, name: KeyT, key: Any) -> Any:
        """Whether the field exists; bool."""
        return self.execute_command("HEXISTS", name, key)

    def hget(self, name: KeyT, key: Any) -> Any:
        """One field's value, or None."""
        return self.execute_command("HGET", name, key)

    def hgetall(self, name: KeyT) -> Any:
        """All fields as a dict."""
        return self.execute_command("HGETALL", name)

    def hincrby(self, name: KeyT, key: Any, amount: int = 1) -> Any:
        """Increment a field; the new value."""
        return self.execute_command("HINCRBY", name, key, amount)

    def hincrbyfloat(self, name: KeyT, key: Any, amount: float = 1.0) -> Any:
        """Increment a field by a float; the new value (float)."""
        return self.execute_command("HINCRBYFLOAT", name, key, amount)

    def hkeys(self, name: KeyT) -> Any:
        """The field names."""
        return self.execute_command("HKEYS", name)

    def hlen(self, name: KeyT) -> Any:
        """The number of fields."""
        return self.execute_command("HLEN", name)

    def hmget(self, name: KeyT, keys: Any, *args: Any) -> Any:
        """Values of several fields, in order."""
        return self.execute_command("HMGET", name, *_list_or_args(keys, args))

    def hmset(self, name: KeyT, mapping: Mapping[Any, EncodableT]) -> Any:
        """Set several fields (deprecated; use hset(mapping=...)); True."""
        if not mapping:
            raise DataError("'hmset' with 'mapping' of length 0")
        items: List[Any] = []
        for pair in mapping.items():
            items.extend(pair)
        return self.execute_command("HMSET", name, *items)

    def hrandfield(self, key: KeyT, count: Optional[int] = None,
                   withvalues: bool = False) -> Any:
        """Random field(s); with ``withvalues`` a flat field/value list."""
        pieces: List[Any] = []
        if count is not None:
            pieces.append(count)
        if withvalues:
            pieces.append("WITHVALUES")
        return self.execute_command("HRANDFIELD", key, *pieces)

    def hscan(self, name: KeyT, cursor: int = 0, match: Any = None,
              count: Optional[int] = None, no_values: Optional[bool] = None) -> Any:
        """One HSCAN step: ``(cursor, {field: value})``."""
        pieces = _scan_args(cursor, match, count)
        if no_values:
            pieces.append("NOVALUES")
        return self.execute_command("HSCAN", name, *pieces, no_values=no_values)

    def hscan_iter(self, name: KeyT, match: Any = None, count: Optional[int] = None,
                   no_values: Optional[bool] = None) -> Iterator[Any]:
        """Every ``(field, value)`` of the hash (fields only with ``no_values``)."""
        cursor = -1
        while cursor != 0:
            cursor, data = self.hscan(name, max(cursor, 0), match, count, no_values)
            if no_values:
                yield from data
            else:
                yield from data.items()

    def hset(self, name: KeyT, key: Any = None, value: Any = None,
             mapping: Optional[Mapping[Any, EncodableT]] = None,
             items: Optional[Sequence[Any]] = None) -> Any:
        """Set field(s) from ``key``/``value``, ``mapping`` and/or flat ``items``; new fields."""
        if key is None and not mapping and not items:
            raise DataError("'hset' with no key value pairs")
        pieces: List[Any] = []
        if items:
            pieces.extend(items)
        if key is not None:
            pieces += [key, value]
        if mapping:
            for pair in mapping.items():
                pieces.extend(pair)
        return self.execute_command("HSET", name, *pieces)

    def hsetnx(self, name: KeyT, key: Any, value: EncodableT) -> Any:
        """Set a field if it does not exist; 1 or 0."""
        return self.execute_command("HSETNX", name, key, value)

    def hstrlen(self, name: KeyT, key: Any) -> Any:
        """Length of a field's value."""
        return self.execute_command("HSTRLEN", name, key)

    def hvals(self, name: KeyT) -> Any:
        """The field values."""
        return self.execute_command("HVALS", name)

    # --- lists -----------------------------------------------------------------------------------
    def blmove(self, first_list: KeyT, second_list: KeyT, timeout: float,
               src: str = "LEFT", dest: str = "RIGHT") -> Any:
        """Blocking LMOVE (same slot); the element, or None on timeout."""
        return self.execute_command("BLMOVE", first_list, second_list, src, dest, timeout)

    def blmpop(self, timeout: float, numkeys: int, *args: KeyT, direction: str,
               count: Optional[int] = 1) -> Any:
        """Blocking LMPOP (same slot); ``[key, [elements]]`` or None."""
        pieces: List[Any] = [timeout, numkeys, *args, direction]
        if count != 1:
            pieces += ["COUNT", count]
        return self.execute_command("BLMPOP", *pieces)

    def blpop(self, keys: Any, timeout: Optional[float] = 0) -> Any:
        """Pop from the first non-empty list (same slot), waiting up to ``timeout`` seconds
        (0 = forever); ``(key, value)`` or None."""
        return self.execute_command("BLPOP", *_list_or_args(keys, ()), timeout or 0)

    def brpop(self, keys: Any, timeout: Optional[float] = 0) -> Any:
        """Like blpop, from the tail; ``(key, value)`` or None."""
        return self.execute_command("BRPOP", *_list_or_args(keys, ()), timeout or 0)

    def brpoplpush(self, src: KeyT, dst: KeyT, timeout: Optional[float] = 0) -> Any:
        """Blocking RPOPLPUSH (same slot); the element or None."""
        return self.execute_command("BRPOPLPUSH", src, dst, timeout or 0)

    def lindex(self, name: KeyT, index: int) -> Any:
        """The element at ``index``, or None."""
        return self.execute_command("LINDEX", name, index)

    def linsert(self, name: KeyT, where: str, refvalue: EncodableT, value: EncodableT) -> Any:
        """Insert BEFORE/AFTER ``refvalue``; the new length (-1 if not found)."""
        return self.execute_command("LINSERT", name, where, refvalue, value)

    def llen(self, name: KeyT) -> Any:
        """The list's length."""
        return self.execute_command("LLEN", name)

    def lmove(self, first_list: KeyT, second_list: KeyT, src: str = "LEFT",
              dest: str = "RIGHT") -> Any:
        """Move an element between lists (same slot); the element or None."""
        return self.execute_command("LMOVE", first_list, second_list, src, dest)

    def lmpop(self, num_keys: int, *args: KeyT, direction: str,
              count: Optional[int] = 1) -> Any:
        """Pop from the first non-empty list (same slot); ``[key, [elements]]`` or None."""
        pieces: List[Any] = [num_keys, *args, direction]
        if count != 1:
            pieces += ["COUNT", count]
        return self.execute_command("LMPOP", *pieces)

    def lpop(self, name: KeyT, count: Optional[int] = None) -> Any:
        """Pop from the head: one element (or a list with ``count``); None when empty."""
        return self.execute_command("LPOP", name, *([count] if count is not None else []))

    def lpos(self, name: KeyT, value: EncodableT, rank: Optional[int] = None,
             count: Optional[int] = None, maxlen: Optional[int] = None) -> Any:
        """Index of ``value`` (a list of indexes with ``count``), or None."""
        pieces: List[Any] = [name, value]
        if rank is not None:
            pieces += ["RANK", rank]
        if count is not None:
            pieces += ["COUNT", count]
        if maxlen is not None:
            pieces += ["MAXLEN", maxlen]
        return self.execute_command("LPOS", *pieces)

    def lpush(self, name: KeyT, *values: EncodableT) -> Any:
        """Push to the head; the new length."""
        return self.execute_command("LPUSH", name, *values)

    def lpushx(self, name: KeyT, *values: EncodableT) -> Any:
        """Push to the head of an existing list; the new length (0 if none)."""
        return self.execute_command("LPUSHX", name, *values)

    def lrange(self, name: KeyT, start: int, end: int) -> Any:
        """Elements between ``start`` and ``end`` (inclusive)."""
        return self.execute_command("LRANGE", name, start, end)

    def lrem(self, name: KeyT, count: int, value: EncodableT) -> Any:
        """Remove ``count`` occurrences (0 = all); how many were removed."""
        return self.execute_command("LREM", name, count, value)

    def lset(self, name: KeyT, index: int, value: EncodableT) -> Any:
        """Set the element at ``index``; True."""
        return self.execute_command("LSET", name, index, value)

    def ltrim(self, name: KeyT, start: int, end: int) -> Any:
        """Keep only ``start``..``end``; True."""
        return self.execute_command("LTRIM", name, start, end)

    def rpop(self, name: KeyT, count: Optional[int] = None) -> Any:
        """Pop from the tail: one element (or a list with ``count``); None when empty."""
        return self.execute_command("RPOP", name, *([count] if count is not None else []))

    def rpoplpush(self, src: KeyT, dst: KeyT) -> Any:
        """Pop from ``src``'s tail and push to ``dst``'s head (same slot); the element."""
        return self.execute_command("RPOPLPUSH", src, dst)

    def rpush(self, name: KeyT, *values: EncodableT) -> Any:
        """Push to the tail; the new length."""
        return self.execute_command("RPUSH", name, *values)

    def rpushx(self, name: KeyT, *values: EncodableT) -> Any:
        """Push to the tail of an existing list; the new length (0 if none)."""
        return self.execute_command("RPUSHX", name, *values)

    # --- sets ------------------------------------------------------------------------------------
    def sadd(self, name: KeyT, *values: EncodableT) -> Any:
        """Add members; how many were new."""
        return self.execute_command("SADD", name, *values)

    def scard(self, name: KeyT) -> Any:
        """The number of members."""
        return self.execute_command("SCARD", name)

    def sdiff(self, keys: Any, *args: KeyT) -> Any:
        """Members of the first set not in the others (same slot); a set."""
        return self.execute_command("SDIFF", *_list_or_args(keys, args))

    def sdiffstore(self, dest: KeyT, keys: Any, *args: KeyT) -> Any:
        """Store SDIFF in ``dest`` (same slot); its size."""
        return self.execute_command("SDIFFSTORE", dest, *_list_or_args(keys, args))

    def sinter(self, keys: Any, *args: KeyT) -> Any:
        """Intersection (same slot); a set."""
        return self.execute_command("SINTER", *_list_or_args(keys, args))

    def sintercard(self, numkeys: int, keys: Sequence[KeyT], limit: int = 0) -> Any:
        """Size of the intersection (same slot), stopping at ``limit`` (0 = no limit)."""
        return self.execute_command("SINTERCARD", numkeys, *keys, "LIMIT", limit)

    def sinterstore(self, dest: KeyT, keys: Any, *args: KeyT) -> Any:
        """Store SINTER in ``dest`` (same slot); its size."""
        return self.execute_command("SINTERSTORE", dest, *_list_or_args(keys, args))

    def sismember(self, name: KeyT, value: EncodableT) -> Any:
        """1 if ``value`` is a member, else 0."""
        return self.execute_command("SISMEMBER", name, value)

    def smembers(self, name: KeyT) -> Any:
        """All members; a set."""
        return self.execute_command("SMEMBERS", name)

    def smismember(self, name: KeyT, values: Any, *args: EncodableT) -> Any:
        """1/0 per value: whether it is a member."""
        return self.execute_command("SMISMEMBER", name, *_list_or_args(values, args))

    def smove(self, src: KeyT, dst: KeyT, value: EncodableT) -> Any:
        """Move a member between sets (same slot); bool."""
        return self.execute_command("SMOVE", src, dst, value)

    def spop(self, name: KeyT, count: Optional[int] = None) -> Any:
        """Remove and return random member(s)."""
        return self.execute_command("SPOP", name, *([count] if count is not None else []))

    def srandmember(self, name: KeyT, number: Optional[int] = None) -> Any:
        """Random member(s), without removing."""
        return self.execute_command("SRANDMEMBER", name,
                                    *([number] if number is not None else []))

    def srem(self, name: KeyT, *values: EncodableT) -> Any:
        """Remove members; how many were removed."""
        return self.execute_command("SREM", name, *values)

    def sscan(self, name: KeyT, cursor: int = 0, match: Any = None,
              count: Optional[int] = None) -> Any:
        """One SSCAN step: ``(cursor, members)``."""
        return self.execute_command("SSCAN", name, *_scan_args(cursor, match, count))

    def sscan_iter(self, name: KeyT, match: Any = None,
                   count: Optional[int] = None) -> Iterator[Any]:
        """Every member of the set."""
        cursor = -1
        while cursor != 0:
            cursor, data = self.sscan(name, max(cursor, 0), match, count)
            yield from data

    def sunion(self, keys: Any, *args: KeyT) -> Any:
        """Union (same slot); a set."""
        return self.execute_command("SUNION", *_list_or_args(keys, args))

    def sunionstore(self, dest: KeyT, keys: Any, *args: KeyT) -> Any:
        """Store SUNION in ``dest`` (same slot); its size."""
        return self.execute_command("SUNIONSTORE", dest, *_list_or_args(keys, args))

    # --- sorted sets -----------------------------------------------------------------------------
    def bzmpop(self, timeout: float, numkeys: int, keys: Sequence[KeyT], min: bool = False,
               max: bool = False, count: Optional[int] = 1) -> Any:
        """Blocking ZMPOP (same slot); ``[key, [[member, score]]]`` or None."""
        return self.execute_command("BZMPOP", timeout, *self._zmpop_args(numkeys, keys, min,
                                                                         max, count))

    def bzpopmax(self, keys: Any, timeout: float = 0) -> Any:
        """Blocking ZPOPMAX over keys (same slot); ``(key, member, score)`` or None."""
        return self.execute_command("BZPOPMAX", *_list_or_args(keys, ()), timeout or 0)

    def bzpopmin(self, keys: Any, timeout: float = 0) -> Any:
        """Blocking ZPOPMIN over keys (same slot); ``(key, member, score)`` or None."""
        return self.execute_command("BZPOPMIN", *_list_or_args(keys, ()), timeout or 0)

    def zadd(self, name: KeyT, mapping: Mapping[Any, EncodableT], nx: bool = False,
             xx: bool = False, ch: bool = False, incr: bool = False, gt: bool = False,
             lt: bool = False) -> Any:
        """Add ``{member: score}``; the count (changed with ``ch``) or, with ``incr``, the new
        score."""
        if not mapping:
            raise DataError("ZADD requires at least one element/score pair")
        if nx and xx:
            raise DataError("ZADD allows either 'nx' or 'xx', not both")
        if gt and lt:
            raise DataError("ZADD allows either 'gt' or 'lt', not both")
        if nx and (gt or lt):
            raise DataError("Only one of 'nx', 'lt', or 'gt' may be defined")
        if incr and len(mapping) != 1:
            raise DataError("ZADD option 'incr' only works with a single element/score pair")
        pieces: List[Any] = [word for word, on in (("NX", nx), ("XX", xx), ("GT", gt),
                                                   ("LT", lt), ("CH", ch), ("INCR", incr)) if on]
        options = {"as_score": True} if incr else {}
        for member, score in mapping.items():
            pieces += [score, member]
        return self.execute_command("ZADD", name, *pieces, **options)

    def zcard(self, name: KeyT) -> Any:
        """The number of members."""
        return self.execute_command("ZCARD", name)

    def zcount(self, name: KeyT, min: Any, max: Any) -> Any:
        """Members with a score between ``min`` and ``max``."""
        return self.execute_command("ZCOUNT", name, min, max)

    def zdiff(self, keys: Sequence[KeyT], withscores: bool = False) -> Any:
        """Members of the first zset not in the others (same slot; flat with scores)."""
        pieces: List[Any] = [len(keys), *keys]
        if withscores:
            pieces.append("WITHSCORES")
        return self.execute_command("ZDIFF", *pieces)

    def zdiffstore(self, dest: KeyT, keys: Sequence[KeyT]) -> Any:
        """Store ZDIFF in ``dest`` (same slot); its size."""
        return self.execute_command("ZDIFFSTORE", dest, len(keys), *keys)

    def zincrby(self, name: KeyT, amount: float, value: EncodableT) -> Any:
        """Increment a member's score; the new score (float)."""
        return self.execute_command("ZINCRBY", name, amount, value)

    def zinter(self, keys: Any, aggregate: Optional[str] = None,
               withscores: bool = False) -> Any:
        """Intersection (same slot); members or ``[(member, score)]``."""
        return self._zaggregate("ZINTER", None, keys, aggregate, withscores=withscores)

    def zintercard(self, numkeys: int, keys: Sequence[KeyT], limit: int = 0) -> Any:
        """Size of the intersection (same slot)."""
        return self.execute_command("ZINTERCARD", numkeys, *keys, "LIMIT", limit)

    def zinterstore(self, dest: KeyT, keys: Any, aggregate: Optional[str] = None) -> Any:
        """Store the intersection (``keys`` may map key -> weight; same slot); its size."""
        return self._zaggregate("ZINTERSTORE", dest, keys, aggregate)

    def zlexcount(self, name: KeyT, min: EncodableT, max: EncodableT) -> Any:
        """Members between two lexicographic bounds."""
        return self.execute_command("ZLEXCOUNT", name, min, max)

    def zmpop(self, num_keys: int, keys: Sequence[KeyT], min: bool = False,
              max: bool = False, count: Optional[int] = 1) -> Any:
        """Pop from the first non-empty zset (same slot); ``[key, [[member, score]]]``."""
        return self.execute_command("ZMPOP", *self._zmpop_args(num_keys, keys, min, max, count))

    @staticmethod
    def _zmpop_args(numkeys: int, keys: Sequence[Any], low: bool, high: bool,
                    count: Optional[int]) -> List[Any]:
        if low == high:
            raise DataError("Exactly one of ``min`` or ``max`` must be True")
        pieces: List[Any] = [numkeys, *keys, "MIN" if low else "MAX"]
        if count != 1:
            pieces += ["COUNT", count]
        return pieces

    def zmscore(self, key: KeyT, members: Sequence[EncodableT]) -> Any:
        """Scores of several members (None where missing)."""
        if not members:
            raise DataError("ZMSCORE members must be a non-empty list")
        return self.execute_command("ZMSCORE", key, *members)

    def zpopmax(self, name: KeyT, count: Optional[int] = None) -> Any:
        """Pop the highest-scored member(s): ``[(member, score)]``."""
        pieces = [count] if count is not None else []
        return self.execute_command("ZPOPMAX", name, *pieces, withscores=True)

    def zpopmin(self, name: KeyT, count: Optional[int] = None) -> Any:
        """Pop the lowest-scored member(s): ``[(member, score)]``."""
        pieces = [count] if count is not None else []
        return self.execute_command("ZPOPMIN", name, *pieces, withscores=True)

    def zrandmember(self, key: KeyT, count: Optional[int] = None,
                    withscores: bool = False) -> Any:
        """Random member(s) (a flat member/score list with ``withscores``)."""
        pieces: List[Any] = []
        if count is not None:
            pieces.append(count)
        if withscores:
            pieces.append("WITHSCORES")
        return self.execute_command("ZRANDMEMBER", key, *pieces)

    def zrange(self, name: KeyT, start: Any, end: Any, desc: bool = False,
               withscores: bool = False, score_cast_func: ScoreCast = float,
               byscore: bool = False, bylex: bool = False, offset: Optional[int] = None,
               num: Optional[int] = None) -> Any:
        """Members by rank (or score/lex range); ``[(member, score)]`` with ``withscores``."""
        pieces = self._zrange_pieces(name, start, end, desc, byscore, bylex, withscores,
                                     offset, num)
        return self.execute_command("ZRANGE", *pieces, withscores=withscores,
                                    score_cast_func=score_cast_func)

    @staticmethod
    def _zrange_pieces(name: Any, start: Any, end: Any, desc: bool, byscore: bool, bylex: bool,
                       withscores: bool, offset: Optional[int], num: Optional[int]) -> List[Any]:
        if byscore and bylex:
            raise DataError("``byscore`` and ``bylex`` can not be specified together")
        if (offset is None) != (num is None):
            raise DataError("``offset`` and ``num`` must both be specified")
        if bylex and withscores:
            raise DataError("``withscores`` not supported in combination with ``bylex``")
        pieces: List[Any] = [name, start, end]
        if byscore:
            pieces.append("BYSCORE")
        if bylex:
            pieces.append("BYLEX")
        if desc:
            pieces.append("REV")
        if offset is not None:
            pieces += ["LIMIT", offset, num]
        if withscores:
            pieces.append("WITHSCORES")
        return pieces

    def zrangebylex(self, name: KeyT, min: EncodableT, max: EncodableT,
                    start: Optional[int] = None, num: Optional[int] = None) -> Any:
        """Members between two lexicographic bounds."""
        return self.execute_command("ZRANGEBYLEX", name, min, max, *_limit(start, num))

    def zrangebyscore(self, name: KeyT, min: Any, max: Any, start: Optional[int] = None,
                      num: Optional[int] = None, withscores: bool = False,
                      score_cast_func: ScoreCast = float) -> Any:
        """Members with scores between ``min`` and ``max``."""
        pieces: List[Any] = [name, min, max, *_limit(start, num)]
        if withscores:
            pieces.append("WITHSCORES")
        return self.execute_command("ZRANGEBYSCORE", *pieces, withscores=withscores,
                                    score_cast_func=score_cast_func)

    def zrangestore(self, dest: KeyT, name: KeyT, start: Any, end: Any, byscore: bool = False,
                    bylex: bool = False, desc: bool = False, offset: Optional[int] = None,
                    num: Optional[int] = None) -> Any:
        """Store a ZRANGE result in ``dest`` (same slot); its size."""
        pieces = self._zrange_pieces(name, start, end, desc, byscore, bylex, False, offset, num)
        return self.execute_command("ZRANGESTORE", dest, *pieces)

    def zrank(self, name: KeyT, value: EncodableT, withscore: bool = False,
              score_cast_func: ScoreCast = float) -> Any:
        """Rank (0-based, ascending), ``[rank, score]`` with ``withscore``, or None."""
        pieces = ["WITHSCORE"] if withscore else []
        return self.execute_command("ZRANK", name, value, *pieces, withscore=withscore,
                                    score_cast_func=score_cast_func)

    def zrem(self, name: KeyT, *values: EncodableT) -> Any:
        """Remove members; how many were removed."""
        return self.execute_command("ZREM", name, *values)

    def zremrangebylex(self, name: KeyT, min: EncodableT, max: EncodableT) -> Any:
        """Remove members between two lexicographic bounds; how many."""
        return self.execute_command("ZREMRANGEBYLEX", name, min, max)

    def zremrangebyrank(self, name: KeyT, min: int, max: int) -> Any:
        """Remove members by rank range; how many."""
        return self.execute_command("ZREMRANGEBYRANK", name, min, max)

    def zremrangebyscore(self, name: KeyT, min: Any, max: Any) -> Any:
        """Remove members by score range; how many."""
        return self.execute_command("ZREMRANGEBYSCORE", name, min, max)

    def zrevrange(self, name: KeyT, start: int, end: int, withscores: bool = False,
                  score_cast_func: ScoreCast = float) -> Any:
        """Members by rank, highest first."""
        pieces: List[Any] = [name, start, end]
        if withscores:
            pieces.append("WITHSCORES")
        return self.execute_command("ZREVRANGE", *pieces, withscores=withscores,
                                    score_cast_func=score_cast_func)

    def zrevrangebylex(self, name: KeyT, max: EncodableT, min: EncodableT,
                       start: Optional[int] = None, num: Optional[int] = None) -> Any:
        """Members between two lexicographic bounds, highest first."""
        return self.execute_command("ZREVRANGEBYLEX", name, max, min, *_limit(start, num))

    def zrevrangebyscore(self, name: KeyT, max: Any, min: Any, start: Optional[int] = None,
                         num: Optional[int] = None, withscores: bool = False,
                         score_cast_func: ScoreCast = float) -> Any:
        """Members with scores between ``max`` and ``min``, highest first."""
        pieces: List[Any] = [name, max, min, *_limit(start, num)]
        if withscores:
            pieces.append("WITHSCORES")
        return self.execute_command("ZREVRANGEBYSCORE", *pieces, withscores=withscores,
                                    score_cast_func=score_cast_func)

    def zrevrank(self, name: KeyT, value: EncodableT, withscore: bool = False,
                 score_cast_func: ScoreCast = float) -> Any:
        """Rank counting from the highest score, or None."""
        pieces = ["WITHSCORE"] if withscore else []
        return self.execute_command("ZREVRANK", name, value, *pieces, withscore=withscore,
                                    score_cast_func=score_cast_func)

    def zscan(self, name: KeyT, cursor: int = 0, match: Any = None,
              count: Optional[int] = None, score_cast_func: ScoreCast = float) -> Any:
        """One ZSCAN step: ``(cursor, [(member, score)])``."""
        return self.execute_command("ZSCAN", name, *_scan_args(cursor, match, count),
                                    score_cast_func=score_cast_func)

    def zscan_iter(self, name: KeyT, match: Any = None, count: Optional[int] = None,
                   score_cast_func: ScoreCast = float) -> Iterator[Any]:
        """Every ``(member, score)`` of the sorted set."""
        cursor = -1
        while cursor != 0:
            cursor, data = self.zscan(name, max(cursor, 0), match, count, score_cast_func)
            yield from data

    def zscore(self, name: KeyT, value: EncodableT) -> Any:
        """A member's score (float), or None."""
        return self.execute_command("ZSCORE", name, value)

    def zunion(self, keys: Any, aggregate: Optional[str] = None, withscores: bool = False,
               score_cast_func: ScoreCast = float) -> Any:
        """Union (same slot); members or ``[(member, score)]``."""
        return self._zaggregate("ZUNION", None, keys, aggregate, withscores=withscores,
                                score_cast_func=score_cast_func)

    def zunionstore(self, dest: KeyT, keys: Any, aggregate: Optional[str] = None) -> Any:
        """Store the union (``keys`` may map key -> weight; same slot); its size."""
        return self._zaggregate("ZUNIONSTORE", dest, keys, aggregate)

    def _zaggregate(self, command: str, dest: Any, keys: Any, aggregate: Optional[str],
                    **options: Any) -> Any:
        pieces: List[Any] = [] if dest is None else [dest]
        weights: Optional[List[Any]] = None
        if isinstance(keys, Mapping):
            weights = list(keys.values())
            keys = list(keys.keys())
        pieces += [len(keys), *keys]
        if weights:
            pieces += ["WEIGHTS", *weights]
        if aggregate:
            if str(aggregate).upper() not in ("SUM", "MIN", "MAX"):
                raise DataError("aggregate can be sum, min or max")
            pieces += ["AGGREGATE", aggregate]
        if options.get("withscores"):
            pieces.append("WITHSCORES")
        return self.execute_command(command, *pieces, **options)

    # --- HyperLogLog -----------------------------------------------------------------------------
    def pfadd(self, name: KeyT, *values: EncodableT) -> Any:
        """Add elements; 1 if the estimate changed."""
        return self.execute_command("PFADD", name, *values)

    def pfcount(self, *sources: KeyT) -> Any:
        """Approximate cardinality of the union (keys of one slot)."""
        return self.execute_command("PFCOUNT", *sources)

    def pfmerge(self, dest: KeyT, *sources: KeyT) -> Any:
        """Merge HyperLogLogs into ``dest`` (same slot); True."""
        return self.execute_command("PFMERGE", dest, *sources)

    # --- bitmaps ---------------------------------------------------------------------------------
    def bitcount(self, key: KeyT, start: Optional[int] = None, end: Optional[int] = None,
                 mode: Optional[str] = None) -> Any:
        """Number of set bits (optionally in a BYTE/BIT range)."""
        pieces: List[Any] = [key]
        if (start is None) != (end is None):
            raise DataError("Both start and end must be specified")
        if start is not None:
            pieces += [start, end]
        if mode is not None:
            if start is None:  # the server would answer a bare "syntax error"
                raise DataError("bitcount: mode (BYTE|BIT) needs start and end")
            pieces.append(mode)
        return self.execute_command("BITCOUNT", *pieces)

    def bitfield(self, key: KeyT, default_overflow: Optional[str] = None) -> BitFieldOperation:
        """A BITFIELD builder: chain get/set/incrby/overflow, then ``execute()``."""
        return BitFieldOperation(self, key, default_overflow=default_overflow)

    def bitfield_ro(self, key: KeyT, encoding: str, offset: Any,
                    items: Optional[Sequence[Tuple[str, Any]]] = None) -> Any:
        """Read-only BITFIELD GETs: ``(encoding, offset)`` and more ``items``."""
        pieces: List[Any] = [key, "GET", encoding, offset]
        for enc, off in items or ():
            pieces += ["GET", enc, off]
        return self.execute_command("BITFIELD_RO", *pieces)

    def bitop(self, operation: str, dest: KeyT, *keys: KeyT) -> Any:
        """AND/OR/XOR/NOT of strings into ``dest`` (same slot); its length."""
        return self.execute_command("BITOP", operation, dest, *keys)

    def bitpos(self, key: KeyT, bit: int, start: Optional[int] = None,
               end: Optional[int] = None, mode: Optional[str] = None) -> Any:
        """Position of the first ``bit`` (0 or 1)."""
        if bit not in (0, 1):
            raise DataError("bit must be 0 or 1")
        if start is None and end is not None:
            raise DataError("start argument is not set, when end is specified")
        pieces: List[Any] = [key, bit]
        if start is not None:
            pieces.append(start)
            if end is not None:
                pieces.append(end)
        if mode is not None:
            if end is None:  # BITPOS key bit [start [end [BYTE|BIT]]]: mode would read as end
                raise DataError("bitpos: mode (BYTE|BIT) needs start and end")
            pieces.append(mode)
        return self.execute_command("BITPOS", *pieces)

    def getbit(self, name: KeyT, offset: int) -> Any:
        """The bit at ``offset`` (0 or 1)."""
        return self.execute_command("GETBIT", name, offset)

    def setbit(self, name: KeyT, offset: int, value: int) -> Any:
        """Set the bit at ``offset``; the previous bit."""
        return self.execute_command("SETBIT", name, offset, 1 if value else 0)

    # --- geo -------------------------------------------------------------------------------------
    def geoadd(self, name: KeyT, values: Sequence[EncodableT], nx: bool = False,
               xx: bool = False, ch: bool = False) -> Any:
        """Add ``(longitude, latitude, member)`` triples given flat; how many were added."""
        if nx and xx:
            raise DataError("GEOADD allows either 'nx' or 'xx', not both")
        if len(values) % 3 != 0:
            raise DataError("GEOADD requires places with lon, lat and name values")
        pieces: List[Any] = [name]
        if nx:
            pieces.append("NX")
        if xx:
            pieces.append("XX")
        if ch:
            pieces.append("CH")
        return self.execute_command("GEOADD", *pieces, *values)

    def geodist(self, name: KeyT, place1: EncodableT, place2: EncodableT,
                unit: Optional[str] = None) -> Any:
        """Distance between two members (float), or None."""
        _check_unit(unit, "GEODIST")
        pieces: List[Any] = [name, place1, place2]
        if unit:
            pieces.append(unit)
        return self.execute_command("GEODIST", *pieces)

    def geohash(self, name: KeyT, *values: EncodableT) -> Any:
        """Geohash strings (str) of members."""
        return self.execute_command("GEOHASH", name, *values)

    def geopos(self, name: KeyT, *values: EncodableT) -> Any:
        """``(longitude, latitude)`` of members (None where missing)."""
        return self.execute_command("GEOPOS", name, *values)

    def georadius(self, name: KeyT, longitude: float, latitude: float, radius: float,
                  unit: Optional[str] = None, withdist: bool = False, withcoord: bool = False,
                  withhash: bool = False, count: Optional[int] = None,
                  sort: Optional[str] = None, store: Optional[KeyT] = None,
                  store_dist: Optional[KeyT] = None, any: bool = False) -> Any:
        """Members within ``radius`` of a point (deprecated by GEOSEARCH)."""
        return self._georadius("GEORADIUS", name, [longitude, latitude], radius, unit,
                               withdist, withcoord, withhash, count, sort, store, store_dist,
                               any)

    def georadiusbymember(self, name: KeyT, member: EncodableT, radius: float,
                          unit: Optional[str] = None, withdist: bool = False,
                          withcoord: bool = False, withhash: bool = False,
                          count: Optional[int] = None, sort: Optional[str] = None,
                          store: Optional[KeyT] = None, store_dist: Optional[KeyT] = None,
                          any: bool = False) -> Any:
        """Members within ``radius`` of a member (deprecated by GEOSEARCH)."""
        return self._georadius("GEORADIUSBYMEMBER", name, [member], radius, unit, withdist,
                               withcoord, withhash, count, sort, store, store_dist, any)

    def _georadius(self, command: str, name: Any, center: List[Any], radius: float,
                   unit: Optional[str], withdist: bool, withcoord: bool, withhash: bool,
                   count: Optional[int], sort: Optional[str], store: Any, store_dist: Any,
                   any_: bool) -> Any:
        _check_unit(unit, command)
        pieces: List[Any] = [name, *center, radius, unit or "m"]
        for flag, word in ((withdist, "WITHDIST"), (withcoord, "WITHCOORD"),
                           (withhash, "WITHHASH")):
            if flag:
                pieces.append(word)
        if any_ and count is None:
            raise DataError("``any`` can't be provided without ``count``")
        if count is not None:
            pieces += ["COUNT", count]
            if any_:
                pieces.append("ANY")
        pieces += self._geo_sort(sort, command)
        if store is not None and store_dist is not None:
            raise DataError(f"{command} store and store_dist cant be set together")
        if store is not None:
            pieces += ["STORE", store]
        if store_dist is not None:
            pieces += ["STOREDIST", store_dist]
        return self.execute_command(command, *pieces, withdist=withdist, withcoord=withcoord,
                                    withhash=withhash, store=store, store_dist=store_dist)

    @staticmethod
    def _geo_sort(sort: Optional[str], command: str) -> List[str]:
        if sort is None:
            return []
        if sort.upper() not in ("ASC", "DESC"):
            raise DataError(f"{command} invalid sort {sort!r}")
        return [sort.upper()]

    def geosearch(self, name: KeyT, member: Optional[EncodableT] = None,
                  longitude: Optional[float] = None, latitude: Optional[float] = None,
                  unit: str = "m", radius: Optional[float] = None,
                  width: Optional[float] = None, height: Optional[float] = None,
                  sort: Optional[str] = None, count: Optional[int] = None, any: bool = False,
                  withcoord: bool = False, withdist: bool = False,
                  withhash: bool = False) -> Any:
        """Members in a circle or box around a member or point; ``[member, dist?, hash?,
        (lon, lat)?]`` items when any ``with*`` flag is set."""
        pieces = self._geosearch_pieces("GEOSEARCH", member, longitude, latitude, unit, radius,
                                        width, height, sort, count, any)
        for flag, word in ((withcoord, "WITHCOORD"), (withdist, "WITHDIST"),
                           (withhash, "WITHHASH")):
            if flag:
                pieces.append(word)
        return self.execute_command("GEOSEARCH", name, *pieces, withcoord=withcoord,
                                    withdist=withdist, withhash=withhash, store=None,
                                    store_dist=None)

    def geosearchstore(self, dest: KeyT, name: KeyT, member: Optional[EncodableT] = None,
                       longitude: Optional[float] = None, latitude: Optional[float] = None,
                       unit: str = "m", radius: Optional[float] = None,
                       width: Optional[float] = None, height: Optional[float] = None,
                       sort: Optional[str] = None, count: Optional[int] = None,
                       any: bool = False, storedist: bool = False) -> Any:
        """Store a GEOSEARCH result in ``dest`` (same slot); its size."""
        pieces = self._geosearch_pieces("GEOSEARCHSTORE", member, longitude, latitude, unit,
                                        radius, width, height, sort, count, any)
        if storedist:
            pieces.append("STOREDIST")
        return self.execute_command("GEOSEARCHSTORE", dest, name, *pieces)

    def _geosearch_pieces(self, command: str, member: Any, longitude: Any, latitude: Any,
                          unit: str, radius: Any, width: Any, height: Any, sort: Optional[str],
                          count: Optional[int], any_: bool) -> List[Any]:
        _check_unit(unit, command)
        pieces: List[Any] = []
        if member is not None:
            if longitude is not None or latitude is not None:
                raise DataError(f"{command} member and longitude or latitude cant be set "
                                "together")
            pieces += ["FROMMEMBER", member]
        elif longitude is not None and latitude is not None:
            pieces += ["FROMLONLAT", longitude, latitude]
        else:
            raise DataError(f"{command} must have member or longitude and latitude")
        if radius is not None:
            if width is not None or height is not None:
                raise DataError(f"{command} radius and width or height cant be set together")
            pieces += ["BYRADIUS", radius, unit]
        elif width is not None and height is not None:
            pieces += ["BYBOX", width, height, unit]
        else:
            raise DataError(f"{command} must have radius or width and height")
        pieces += self._geo_sort(sort, command)
        if any_ and count is None:
            raise DataError("``any`` can't be provided without ``count``")
        if count is not None:
            pieces += ["COUNT", count]
            if any_:
                pieces.append("ANY")
        return pieces

    # --- streams ---------------------------------------------------------------------------------
    def xack(self, name: KeyT, groupname: Any, *ids: Any) -> Any:
        """Acknowledge messages; how many were pending."""
        return self.execute_command("XACK", name, groupname, *ids)

    def xadd(self, name: KeyT, fields: Mapping[Any, EncodableT], id: Any = "*",
             maxlen: Optional[int] = None, approximate: bool = True, nomkstream: bool = False,
             minid: Any = None, limit: Optional[int] = None) -> Any:
        """Append an entry; its id. Only an explicit ``id`` makes a retry safe."""
        if maxlen is not None and minid is not None:
            raise DataError("Only one of ``maxlen`` or ``minid`` may be specified")
        if not isinstance(fields, Mapping) or not fields:
            raise DataError("XADD fields must be a non-empty dict")
        pieces: List[Any] = []
        if nomkstream:
            pieces.append("NOMKSTREAM")
        pieces += self._trim_pieces(maxlen, approximate, minid, limit)
        pieces.append(id)
        for pair in fields.items():
            pieces.extend(pair)
        return self.execute_command("XADD", name, *pieces)

    @staticmethod
    def _trim_pieces(maxlen: Optional[int], approximate: bool, minid: Any,
                     limit: Optional[int]) -> List[Any]:
        pieces: List[Any] = []
        if maxlen is not None:
            if not isinstance(maxlen, int) or maxlen < 0:
                raise DataError("XADD/XTRIM maxlen must be a non-negative integer")
            pieces.append("MAXLEN")
        elif minid is not None:
            pieces.append("MINID")
        else:
            return pieces
        if approximate:
            pieces.append("~")
        pieces.append(maxlen if maxlen is not None else minid)
        if limit is not None:
            pieces += ["LIMIT", limit]
        return pieces

    def xautoclaim(self, name: KeyT, groupname: Any, consumername: Any, min_idle_time: int,
                   start_id: Any = "0-0", count: Optional[int] = None,
                   justid: bool = False) -> Any:
        """Claim idle pending messages: ``[next id, entries, deleted ids]`` (ids with
        ``justid``)."""
        if not isinstance(min_idle_time, int) or min_idle_time < 0:
            raise DataError("XAUTOCLAIM min_idle_time must be a non negative integer")
        pieces: List[Any] = [name, groupname, consumername, min_idle_time, start_id]
        if count is not None:
            if not isinstance(count, int) or count < 1:
                raise DataError("XAUTOCLAIM count must be a positive integer")
            pieces += ["COUNT", count]
        options = {}
        if justid:
            pieces.append("JUSTID")
            options["parse_justid"] = True
        return self.execute_command("XAUTOCLAIM", *pieces, **options)

    def xclaim(self, name: KeyT, groupname: Any, consumername: Any, min_idle_time: int,
               message_ids: Sequence[Any], idle: Optional[int] = None,
               time: Optional[int] = None, retrycount: Optional[int] = None,
               force: bool = False, justid: bool = False) -> Any:
        """Change the owner of pending messages; the claimed entries (ids with ``justid``)."""
        if not isinstance(min_idle_time, int) or min_idle_time < 0:
            raise DataError("XCLAIM min_idle_time must be a non negative integer")
        if not isinstance(message_ids, (list, tuple)) or not message_ids:
            raise DataError("XCLAIM message_ids must be a non empty list or tuple")
        pieces: List[Any] = [name, groupname, consumername, min_idle_time, *message_ids]
        for value, word in ((idle, "IDLE"), (time, "TIME"), (retrycount, "RETRYCOUNT")):
            if value is not None:
                if not isinstance(value, int):
                    raise DataError(f"XCLAIM {word.lower()} must be an integer")
                pieces += [word, value]
        options = {}
        if force:
            pieces.append("FORCE")
        if justid:
            pieces.append("JUSTID")
            options["parse_justid"] = True
        return self.execute_command("XCLAIM", *pieces, **options)

    def xdel(self, name: KeyT, *ids: Any) -> Any:
        """Delete entries; how many existed."""
        return self.execute_command("XDEL", name, *ids)

    def xgroup_create(self, name: KeyT, groupname: Any, id: Any = "$",
                      mkstream: bool = False, entries_read: Optional[int] = None) -> Any:
        """Create a consumer group; True."""
        pieces: List[Any] = [name, groupname, id]
        if mkstream:
            pieces.append("MKSTREAM")
        if entries_read is not None:
            pieces += ["ENTRIESREAD", entries_read]
        return self.execute_command("XGROUP", "CREATE", *pieces)

    def xgroup_createconsumer(self, name: KeyT, groupname: Any, consumername: Any) -> Any:
        """Create a consumer; 1 if created."""
        return self.execute_command("XGROUP", "CREATECONSUMER", name, groupname, consumername)

    def xgroup_delconsumer(self, name: KeyT, groupname: Any, consumername: Any) -> Any:
        """Delete a consumer; how many messages it had pending."""
        return self.execute_command("XGROUP", "DELCONSUMER", name, groupname, consumername)

    def xgroup_destroy(self, name: KeyT, groupname: Any) -> Any:
        """Destroy a consumer group; bool."""
        return self.execute_command("XGROUP", "DESTROY", name, groupname)

    def xgroup_setid(self, name: KeyT, groupname: Any, id: Any,
                     entries_read: Optional[int] = None) -> Any:
        """Set a group's last delivered id; True."""
        pieces: List[Any] = [name, groupname, id]
        if entries_read is not None:
            pieces += ["ENTRIESREAD", entries_read]
        return self.execute_command("XGROUP", "SETID", *pieces)

    def xinfo_consumers(self, name: KeyT, groupname: Any) -> Any:
        """A dict per consumer of the group."""
        return self.execute_command("XINFO", "CONSUMERS", name, groupname)

    def xinfo_groups(self, name: KeyT) -> Any:
        """A dict per consumer group of the stream."""
        return self.execute_command("XINFO", "GROUPS", name)

    def xinfo_stream(self, name: KeyT, full: bool = False) -> Any:
        """The stream's metadata as a dict (``full`` for everything)."""
        pieces = ["FULL"] if full else []
        return self.execute_command("XINFO", "STREAM", name, *pieces, full=full)

    def xlen(self, name: KeyT) -> Any:
        """The number of entries."""
        return self.execute_command("XLEN", name)

    def xpending(self, name: KeyT, groupname: Any) -> Any:
        """Pending summary: ``{pending, min, max, consumers: [{name, pending}]}``."""
        return self.execute_command("XPENDING", name, groupname)

    def xpending_range(self, name: KeyT, groupname: Any, min: Any, max: Any, count: int,
                       consumername: Any = None, idle: Optional[int] = None) -> Any:
        """Pending messages in an id range: a dict per message."""
        if min is None or max is None or count is None:
            raise DataError("XPENDING must be provided with min, max and count parameters")
        pieces: List[Any] = [name, groupname]
        if idle is not None:
            pieces += ["IDLE", idle]
        pieces += [min, max, count]
        if consumername is not None:
            pieces.append(consumername)
        return self.execute_command("XPENDING", *pieces, parse_detail=True)

    def xrange(self, name: KeyT, min: Any = "-", max: Any = "+",
               count: Optional[int] = None) -> Any:
        """Entries in an id range: ``[(id, {field: value})]``."""
        pieces: List[Any] = [name, min, max]
        if count is not None:
            pieces += ["COUNT", count]
        return self.execute_command("XRANGE", *pieces)

    def xread(self, streams: Mapping[Any, Any], count: Optional[int] = None,
              block: Optional[int] = None) -> Any:
        """Read from streams (keys of one slot) after the given ids, blocking up to ``block``
        ms; ``[[stream, [(id, fields)]]]``."""
        pieces = self._xread_options(count, block)
        return self.execute_command("XREAD", *pieces, *self._streams_pieces(streams))

    def xreadgroup(self, groupname: Any, consumername: Any, streams: Mapping[Any, Any],
                   count: Optional[int] = None, block: Optional[int] = None,
                   noack: bool = False) -> Any:
        """Read as a group consumer (``">"`` = new messages); same shape as xread."""
        pieces: List[Any] = ["GROUP", groupname, consumername,
                             *self._xread_options(count, block)]
        if noack:
            pieces.append("NOACK")
        return self.execute_command("XREADGROUP", *pieces, *self._streams_pieces(streams))

    @staticmethod
    def _xread_options(count: Optional[int], block: Optional[int]) -> List[Any]:
        pieces: List[Any] = []
        if count is not None:
            if not isinstance(count, int) or count < 1:
                raise DataError("XREAD count must be a positive integer")
            pieces += ["COUNT", count]
        if block is not None:
            if not isinstance(block, int) or block < 0:
                raise DataError("XREAD block must be a non-negative integer")
            pieces += ["BLOCK", block]
        return pieces

    @staticmethod
    def _streams_pieces(streams: Mapping[Any, Any]) -> List[Any]:
        if not isinstance(streams, Mapping) or not streams:
            raise DataError("XREAD streams must be a non empty dict")
        return ["STREAMS", *streams.keys(), *streams.values()]

    def xrevrange(self, name: KeyT, max: Any = "+", min: Any = "-",
                  count: Optional[int] = None) -> Any:
        """Entries in an id range, newest first."""
        pieces: List[Any] = [name, max, min]
        if count is not None:
            pieces += ["COUNT", count]
        return self.execute_command("XREVRANGE", *pieces)

    def xtrim(self, name: KeyT, maxlen: Optional[int] = None, approximate: bool = True,
              minid: Any = None, limit: Optional[int] = None) -> Any:
        """Trim by MAXLEN or MINID; how many entries were removed."""
        if (maxlen is None) == (minid is None):
            raise DataError("Exactly one of ``maxlen`` or ``minid`` must be specified")
        return self.execute_command("XTRIM", name,
                                    *self._trim_pieces(maxlen, approximate, minid, limit))

    # --- scripting and functions -----------------------------------------------------------------
    def eval(self, script: Any, numkeys: int, *keys_and_args: Any) -> Any:
        """Run a Lua script on the node of its keys (all in one slot; no keys: any primary)."""
        return self.execute_command("EVAL", script, numkeys, *keys_and_args)

    def eval_ro(self, script: Any, numkeys: int, *keys_and_args: Any) -> Any:
        """Read-only EVAL (may run on a replica)."""
        return self.execute_command("EVAL_RO", script, numkeys, *keys_and_args)

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> Any:
        """Run a cached script by sha (see script_load / register_script)."""
        return self.execute_command("EVALSHA", sha, numkeys, *keys_and_args)

    def evalsha_ro(self, sha: str, numkeys: int, *keys_and_args: Any) -> Any:
        """Read-only EVALSHA (may run on a replica)."""
        return self.execute_command("EVALSHA_RO", sha, numkeys, *keys_and_args)

    def fcall(self, function: Any, numkeys: int, *keys_and_args: Any) -> Any:
        """Call a library function on the node of its keys."""
        return self.execute_command("FCALL", function, numkeys, *keys_and_args)

    def fcall_ro(self, function: Any, numkeys: int, *keys_and_args: Any) -> Any:
        """Call a read-only library function (may run on a replica)."""
        return self.execute_command("FCALL_RO", function, numkeys, *keys_and_args)

    def function_delete(self, library: Any) -> Any:
        """Delete a library on every primary; True."""
        return self.execute_command("FUNCTION", "DELETE", library)

    def function_flush(self, mode: str = "SYNC") -> Any:
        """Delete every library on every primary; True."""
        return self.execute_command("FUNCTION", "FLUSH", mode)

    def function_list(self, library: Any = "*", withcode: bool = False) -> Any:
        """Libraries and their functions (raw nested lists), from one primary."""
        pieces: List[Any] = ["LIBRARYNAME", library]
        if withcode:
            pieces.append("WITHCODE")
        return self.execute_command("FUNCTION", "LIST", *pieces)

    def function_load(self, code: Any, replace: bool = False) -> Any:
        """Load a library on every primary; its name."""
        pieces = ["REPLACE"] if replace else []
        return self.execute_command("FUNCTION", "LOAD", *pieces, code)

    def register_script(self, script: Any) -> Script:
        """A callable Script: EVALSHA, loading the script on NOSCRIPT (redis-py's helper)."""
        return Script(self, script)

    def script_exists(self, *args: str) -> Any:
        """Whether every node has each sha cached: a list of bool."""
        return self.execute_command("SCRIPT", "EXISTS", *args)

    def script_flush(self, sync_type: Optional[str] = None) -> Any:
        """Empty the script cache of every node; True."""
        if sync_type not in ("SYNC", "ASYNC", None):
            raise DataError("SCRIPT FLUSH defaults to SYNC; sync_type must be SYNC or ASYNC")
        pieces = [sync_type] if sync_type is not None else []
        return self.execute_command("SCRIPT", "FLUSH", *pieces)

    def script_load(self, script: Any) -> Any:
        """Cache a script on every node; its sha (str)."""
        return self.execute_command("SCRIPT", "LOAD", script)

    # --- pub/sub ---------------------------------------------------------------------------------
    def publish(self, channel: Any, message: EncodableT, **kwargs: Any) -> Any:
        """Publish to a channel (delivered cluster-wide); receivers counted on that node."""
        return self.execute_command("PUBLISH", channel, message, **kwargs)

    def pubsub_channels(self, pattern: Any = "*", **kwargs: Any) -> Any:
        """Channels with subscribers on any node (no duplicates)."""
        return self.execute_command("PUBSUB", "CHANNELS", pattern, **kwargs)

    def pubsub_numpat(self, **kwargs: Any) -> Any:
        """Pattern subscriptions summed over all nodes."""
        return self.execute_command("PUBSUB", "NUMPAT", **kwargs)

    def pubsub_numsub(self, *args: Any, **kwargs: Any) -> Any:
        """``[(channel, subscribers)]`` summed over all nodes."""
        return self.execute_command("PUBSUB", "NUMSUB", *args, **kwargs)

    def spublish(self, shard_channel: Any, message: EncodableT) -> Any:
        """Publish to a shard channel (routed by the channel's slot)."""
        return self.execute_command("SPUBLISH", shard_channel, message)

    # --- server ----------------------------------------------------------------------------------
    def client_getname(self, **kwargs: Any) -> Any:
        """The name of a pooled connection (str), or None (set one with client_name=)."""
        return self.execute_command("CLIENT", "GETNAME", **kwargs)

    def client_id(self, **kwargs: Any) -> Any:
        """The id of a pooled connection (on a random node)."""
        return self.execute_command("CLIENT", "ID", **kwargs)

    def client_info(self, **kwargs: Any) -> Any:
        """CLIENT INFO of a pooled connection, as a dict."""
        return self.execute_command("CLIENT", "INFO", **kwargs)

    def client_list(self, _type: Optional[str] = None, client_id: Optional[Sequence[Any]] = None,
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

    def ping(self, **kwargs: Any) -> Any:
        """True when every primary answers PONG."""
        return self.execute_command("PING", **kwargs)

    def time(self, **kwargs: Any) -> Any:
        """A node's clock: ``(seconds, microseconds)``."""
        return self.execute_command("TIME", **kwargs)

    # --- cluster ---------------------------------------------------------------------------------
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


class BitFieldOperation:
    """A BITFIELD command built step by step; ``execute()`` sends it (redis-py's helper)."""

    def __init__(self, client: CommandsMixin, key: KeyT,
                 default_overflow: Optional[str] = None) -> None:
        self.client = client
        self.key = key
        self._default_overflow = default_overflow
        self.operations: List[Tuple[Any, ...]] = []
        self._last_overflow = "WRAP"
        self.reset()

    def reset(self) -> None:
        """Drop the queued operations (keeping the default overflow)."""
        self.operations = []
        self._last_overflow = "WRAP"
        self.overflow(self._default_overflow or self._last_overflow)

    def overflow(self, overflow: str) -> BitFieldOperation:
        """Set WRAP/SAT/FAIL for the following INCRBY operations."""
        overflow = overflow.upper()
        if overflow != self._last_overflow:
            self._last_overflow = overflow
            self.operations.append(("OVERFLOW", overflow))
        return self

    def incrby(self, fmt: str, offset: Any, increment: int,
               overflow: Optional[str] = None) -> BitFieldOperation:
        """Add ``increment`` to the field at ``offset`` (``fmt`` like ``u8``, ``i16``)."""
        if overflow is not None:
            self.overflow(overflow)
        self.operations.append(("INCRBY", fmt, offset, increment))
        return self

    def get(self, fmt: str, offset: Any) -> BitFieldOperation:
        """Read the field at ``offset``."""
        self.operations.append(("GET", fmt, offset))
        return self

    def set(self, fmt: str, offset: Any, value: int) -> BitFieldOperation:
        """Write the field at ``offset`` (the reply holds the old value)."""
        self.operations.append(("SET", fmt, offset, value))
        return self

    @property
    def command(self) -> List[Any]:
        """The full BITFIELD command as it will be sent."""
        cmd: List[Any] = ["BITFIELD", self.key]
        for ops in self.operations:
            cmd.extend(ops)
        return cmd

    def execute(self) -> Any:
        """Send the command (then reset); one result per GET/SET/INCRBY."""
        command = self.command
        self.reset()
        return self.client.execute_command(*command)


class Script:
    """A Lua script run by sha; loaded on every node on NOSCRIPT (redis-py's helper)."""

    def __init__(self, client: CommandsMixin, script: Union[str, bytes]) -> None:
        self.client = client
        self.script = script
        data = script.encode("utf-8") if isinstance(script, str) else bytes(script)
        self.sha = hashlib.sha1(data).hexdigest()

    def __call__(self, keys: Iterable[Any] = (), args: Iterable[Any] = (),
                 client: Optional[CommandsMixin] = None) -> Any:
        """EVALSHA with ``keys`` and ``args``; on NOSCRIPT, SCRIPT LOAD and try once more."""
        client = client or self.client
        keys, args = list(keys), list(args)
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            client.script_load(self.script)
            return client.evalsha(self.sha, len(keys), *keys, *args)
