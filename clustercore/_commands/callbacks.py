"""Reply callbacks: how a command's raw reply becomes what redis-py returns.

:data:`DEFAULT_CALLBACKS` maps a command's table name (``"GET"``, ``"CLUSTER INFO"``: see
:func:`.specs.name_of`) to ``callback(reply, **options)``; the options are the ones the command
method passed (``withscores=True``, ``get=True`` ...), never sent to the server. Shapes follow
redis-py 8 with RESP2 "legacy" shapes for both ``decode_responses`` False (bytes) and True (str);
RESP3-native shapes are accepted where that costs nothing; cluster replies follow
redis-py-cluster 2.1.3. :class:`CallbackDict` is the case-insensitive dict a client keeps its
callbacks in, and :func:`pop_never_decode` takes the "read this reply undecoded" option out of a
call's options. Both sit on the client's per-call path; they are the same objects as before the
split, with no layer added in front of them.
"""

from __future__ import annotations

import datetime
from types import MappingProxyType
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
)

from .args import ScoreCast

__all__ = [
    "DEFAULT_CALLBACKS",
    "Callback",
    "CallbackDict",
    "pop_never_decode",
]

Callback = Callable[..., Any]


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


def parse_cluster_shards(response: Any, **options: Any) -> List[Dict[str, Any]]:
    """CLUSTER SHARDS as redis-py's list of shard dicts: str keys ``slots`` (the flat
    start/end list) and ``nodes`` (one dict per node, keys as the reply gives them)."""
    shards: List[Dict[str, Any]] = []
    for shard in response or ():
        entry = _str_pairs(shard)
        if "nodes" in entry:
            entry["nodes"] = [_pairs(node) for node in entry["nodes"] or ()]
        shards.append(entry)
    return shards


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
    """CLIENT KILL: the count (filter form) or True (+OK). Two returns, not one conditional
    expression: compiled, mypyc types ``int if ... else bool`` as int and True became 1."""
    if isinstance(response, int):
        return response
    return bool_ok(response)


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
    "CLUSTER SHARDS": parse_cluster_shards,
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
