"""Specs built from a server's ``COMMAND`` / ``COMMAND INFO`` reply, for the commands the static
table lacks (modules, newer servers).

``spec_from_command_info`` reads one entry (Redis 2.8 to 7.x shapes, RESP2 or RESP3): key
positions from first/last/step plus what the Redis 7 key specifications can express, routing and
merging from the command tips. ``specs_from_command_reply`` walks a whole reply, subcommands
included, into a name -> spec map that :func:`.specs.lookup` takes as ``extra``. The client
fetches that once and caches it.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Optional, Sequence, Tuple

from ..errors import DataError
from .specs import CommandSpec, Merge, Route

__all__ = ["spec_from_command_info", "specs_from_command_reply"]


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
