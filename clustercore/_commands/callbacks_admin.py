"""Reply callbacks of the administration commands (SLOWLOG GET, ACL GETUSER/LOG, DEBUG OBJECT,
MODULE LIST, the CLUSTER/ACL/persistence writes), in redis-py 8.1's RESP2 shapes.

:data:`ADMIN_CALLBACKS` joins :data:`.callbacks.DEFAULT_CALLBACKS` in every client's callback
dict (``CommandsBase._default_callbacks``). They live apart from :mod:`.callbacks` so that module
stays the hot path's and each stays short; none of them is on the GET/SET path.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Dict, List, Mapping, Optional

from .callbacks import Callback, _pairs, _s, _str_pairs, bool_ok, parse_client_info, str_list
from .callbacks_redis8 import REDIS8_CALLBACKS

__all__ = [
    "ADMIN_CALLBACKS",
    "parse_acl_getuser",
    "parse_acl_log",
    "parse_debug_object",
    "parse_module_list",
    "parse_slowlog_get",
]


def parse_slowlog_get(response: Any, **options: Any) -> List[Dict[str, Any]]:
    """SLOWLOG GET: ``[{id, start_time, duration, command, client_address?, client_name?}]``
    (``complexity`` too where a server puts it before the command); the command's words joined
    by a space of their own type (bytes or str)."""
    entries = []
    for item in response or ():
        entry: Dict[str, Any] = {"id": item[0], "start_time": int(item[1]),
                                 "duration": int(item[2])}
        rest = list(item[3:])
        if rest and not isinstance(rest[0], list):
            entry["complexity"] = rest.pop(0)
        words = rest.pop(0) if rest else []
        space: Any = b" " if words and isinstance(words[0], bytes) else " "
        entry["command"] = space.join(words)
        if len(rest) >= 2:
            entry["client_address"], entry["client_name"] = rest[0], rest[1]
        entries.append(entry)
    return entries


def _words(value: Any) -> List[str]:
    if isinstance(value, (bytes, str)):
        text = _s(value)
        return text.split(" ") if text else []
    return [_s(v) for v in value or ()]


def parse_acl_getuser(response: Any, **options: Any) -> Optional[Dict[str, Any]]:
    """ACL GETUSER as redis-py's dict: str keys; flags, passwords, keys and channels as str
    lists; ``commands`` and ``categories`` split out of the rule string; ``enabled``."""
    if response is None:
        return None
    data = _str_pairs(response)
    data["flags"] = _words(data.get("flags"))
    data["passwords"] = _words(data.get("passwords"))
    for name in ("keys", "channels"):
        if name in data:
            data[name] = _words(data[name])
    if data.get("selectors"):
        data["selectors"] = [
            {_s(k): _s(v) for k, v in sel.items()} if isinstance(sel, dict)
            else [_s(v) for v in sel]
            for sel in data["selectors"]]
    rules = _words(data.get("commands"))
    data["commands"] = [r for r in rules if "@" not in r]
    data["categories"] = [r for r in rules if "@" in r]
    data["enabled"] = "on" in data["flags"]
    return data


def parse_acl_log(response: Any, **options: Any) -> Any:
    """ACL LOG: one dict per entry (str keys and values, ``client-info`` parsed, ``age-seconds``
    a float); ACL LOG RESET: True."""
    if response is None:
        return None
    if not isinstance(response, list):
        return bool_ok(response)
    entries = []
    for raw in response:
        entry = {k: _s(v) for k, v in _str_pairs(raw).items()}
        entry["client-info"] = parse_client_info(entry.get("client-info", ""))
        entry["age-seconds"] = float(entry["age-seconds"])
        entries.append(entry)
    return entries


def parse_debug_object(response: Any, **options: Any) -> Dict[str, Any]:
    """DEBUG OBJECT's ``Value at:... refcount:1 encoding:...`` line as a dict (``type`` first),
    the numeric fields as ints."""
    fields: Dict[str, Any] = {}
    for i, token in enumerate(_s(response).split()):
        name, _, value = (("type:" + token) if i == 0 else token).partition(":")
        fields[name] = value
    for name in ("refcount", "serializedlength", "lru", "lru_seconds_idle"):
        if name in fields:
            fields[name] = int(fields[name])
    return fields


def parse_module_list(response: Any, **options: Any) -> List[Dict[Any, Any]]:
    """MODULE LIST: one dict per module (keys as the server sent them, as redis-py)."""
    return [_pairs(item) for item in response or ()]


def _true(response: Any, **options: Any) -> bool:
    """BGSAVE / BGREWRITEAOF: a status line that starts a background job."""
    return True


#: Callbacks of the administration commands, by table name (read-only).
ADMIN_CALLBACKS: Mapping[str, Callback] = MappingProxyType({
    **dict.fromkeys(
        ("ACL LOAD", "ACL SAVE", "ACL SETUSER", "SAVE", "CLIENT SETINFO", "MODULE LOAD",
         "MODULE UNLOAD", "SELECT", "SLAVEOF", "CLUSTER ADDSLOTS",
         "CLUSTER ADDSLOTSRANGE", "CLUSTER DELSLOTS", "CLUSTER DELSLOTSRANGE",
         "CLUSTER FAILOVER", "CLUSTER FLUSHSLOTS", "CLUSTER FORGET", "CLUSTER MEET",
         "CLUSTER REPLICATE", "CLUSTER RESET", "CLUSTER SAVECONFIG", "CLUSTER SET-CONFIG-EPOCH",
         "CLUSTER SETSLOT"), bool_ok),
    **dict.fromkeys(("BGSAVE", "BGREWRITEAOF"), _true),
    "ACL GETUSER": parse_acl_getuser,
    "ACL HELP": str_list,
    "ACL LOG": parse_acl_log,
    "DEBUG OBJECT": parse_debug_object,
    "MODULE LIST": parse_module_list,
    "SLOWLOG GET": parse_slowlog_get,
    **REDIS8_CALLBACKS,
})
