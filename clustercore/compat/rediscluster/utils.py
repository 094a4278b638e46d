"""redis-py-cluster 2.1.3's public helpers in ``rediscluster.utils``, with its behaviour.

Result callbacks take ``(command, {node name: reply}, **options)``; response callbacks
``(reply, **options)``. ``parse_cluster_slots`` / ``parse_cluster_nodes`` and ``bool_ok`` are
clustercore's own callbacks (the same shapes redis-py-cluster returned). ``nslookup`` is not
provided: it did a reverse DNS lookup, and in clustercore only the transport touches the
network (docs/migration-redis-py-cluster.md lists it).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Mapping, NoReturn, Tuple, TypeVar

from ..._commands.callbacks import bool_ok, parse_cluster_nodes, parse_cluster_slots
from ...errors import RedisClusterException

__all__ = [
    "blocked_command",
    "bool_ok",
    "dict_merge",
    "first_key",
    "merge_result",
    "parse_cluster_nodes",
    "parse_cluster_slots",
    "parse_pubsub_channels",
    "parse_pubsub_numpat",
    "parse_pubsub_numsub",
    "string_keys_to_dict",
]

V = TypeVar("V")


def string_keys_to_dict(key_strings: Iterable[str], callback: V) -> Dict[str, V]:
    """``{name: callback}`` for every name in ``key_strings``."""
    return dict.fromkeys(key_strings, callback)


def dict_merge(*dicts: Mapping[Any, Any]) -> Dict[Any, Any]:
    """One dict from several, later ones winning; anything that is not a dict is a ValueError
    (redis-py-cluster's check)."""
    merged: Dict[Any, Any] = {}
    for d in dicts:
        if not isinstance(d, dict):
            raise ValueError(f"Value should be of dict type, got {d!r}")
        merged.update(d)
    return merged


def blocked_command(self: Any, command: str) -> NoReturn:
    """Raise redis-py-cluster's refusal of a command it blocks in cluster mode."""
    raise RedisClusterException(f"Command: {command} is blocked in redis cluster mode")


def _by_node(res: Any) -> Dict[Any, Any]:
    if not isinstance(res, dict):
        raise ValueError(f"Value should be of dict type, got {res!r}")
    return res


def merge_result(command: str, res: Dict[Any, Iterable[Any]], **options: Any) -> List[Any]:
    """Every node's list of replies joined into one list without duplicates (KEYS)."""
    merged: Dict[Any, None] = {}
    for values in _by_node(res).values():
        for value in values:
            merged[value] = None
    return list(merged)


def first_key(command: str, res: Dict[Any, Any], **options: Any) -> Any:
    """The one node's reply; more than one reply is a RedisClusterException."""
    if len(_by_node(res)) != 1:
        raise RedisClusterException(f"More then 1 result from command: {command}")
    return next(iter(res.values()))


def parse_pubsub_channels(command: str, res: Dict[Any, Iterable[Any]], **options: Any) -> Any:
    """PUBSUB CHANNELS: the channels of every node (``aggregate=False``: the per-node dict)."""
    if not options.get("aggregate", True):
        return res
    return merge_result(command, res)


def parse_pubsub_numpat(command: str, res: Dict[Any, int], **options: Any) -> Any:
    """PUBSUB NUMPAT: the nodes' counts added up (``aggregate=False``: the per-node dict)."""
    if not options.get("aggregate", True):
        return res
    return sum(_by_node(res).values())


def parse_pubsub_numsub(command: str, res: Dict[Any, Iterable[Tuple[Any, int]]],
                        **options: Any) -> Any:
    """PUBSUB NUMSUB: ``[(channel, subscribers), ...]`` added up per channel over the nodes,
    in first-seen order (``aggregate=False``: the per-node dict)."""
    if not options.get("aggregate", True):
        return res
    counts: Dict[Any, int] = {}
    for pairs in _by_node(res).values():
        for channel, count in pairs:
            counts[channel] = counts.get(channel, 0) + int(count)
    return list(counts.items())


#: The type of a result callback, for annotations elsewhere in this package.
ResultCallback = Callable[..., Any]
