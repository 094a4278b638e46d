"""Reply callbacks of the Redis 8 commands (arrays, vector sets, HOTKEYS, HIMPORT, STRALGO), in
redis-py 8.1's RESP2 shapes.

:data:`REDIS8_CALLBACKS` joins :data:`.callbacks_admin.ADMIN_CALLBACKS` and so every client's
callback dict. The vector-set callbacks read redis-py's option names (``WITHSCORES``,
``WITHATTRIBS``, ``RAW``, ``ALLOW_DECODING``, ``RESP3``), which the :mod:`.vectorsets` methods
pass exactly as redis-py's do; redis-py registers them on the client when ``vset()`` is first
called, here they are always present (no other command has those names).
"""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any, Dict, List, Mapping, Optional, Union

from .callbacks import Callback, _pairs, _s, _str_pairs, bool_ok

__all__ = [
    "REDIS8_CALLBACKS",
    "parse_arinfo",
    "parse_hotkeys_get",
    "parse_stralgo",
    "parse_vemb",
    "parse_vgetattr",
    "parse_vinfo",
    "parse_vlinks",
    "parse_vsim",
]


def parse_arinfo(response: Any, **options: Any) -> Dict[str, Any]:
    """ARINFO: the metadata as a dict with str keys (RESP2 pairs or a RESP3 map)."""
    return _str_pairs(response)


def parse_hotkeys_get(response: Any, **options: Any) -> List[Dict[Any, Any]]:
    """HOTKEYS GET: one dict per collection session the node reports (keys as sent)."""
    return [_pairs(item) for item in response or ()]


def parse_stralgo(response: Any, **options: Any) -> Any:
    """STRALGO LCS: the match (str), its length (``len=True``: int) or, with ``idx=True``,
    ``{"matches": [[(s1, e1), (s2, e2)] (with the length first: withmatchlen)], "len": n}``."""
    if options.get("len", False):
        return int(response)
    if options.get("idx", False):
        if options.get("withmatchlen", False):
            matches = [[int(match[-1]), *map(tuple, match[:-1])] for match in response[1]]
        else:
            matches = [list(map(tuple, match)) for match in response[1]]
        return {_s(response[0]): matches, _s(response[2]): int(response[3])}
    return _s(response)


def _number(value: Any) -> Union[int, float]:
    try:
        return int(value)
    except ValueError:
        return float(value)


def parse_vemb(response: Any, **options: Any) -> Any:
    """VEMB: the vector as numbers; with ``RAW`` a dict ``{quantization, raw, l2[, range]}``
    (the quantization decoded when ``ALLOW_DECODING``: the client decodes replies)."""
    if response is None:
        return None
    if options.get("RAW"):
        quantization = response[0]
        result: Dict[str, Any] = {
            "quantization": (quantization.decode("utf-8") if options.get("ALLOW_DECODING")
                             else quantization),
            "raw": response[1],
            "l2": float(response[2]),
        }
        if len(response) > 3:
            result["range"] = float(response[3])
        return result
    if options.get("RESP3"):
        return response
    return [_number(value) for value in response]


def parse_vlinks(response: Any, **options: Any) -> Any:
    """VLINKS: the neighbours per level (lists); with ``WITHSCORES`` a ``{element: score}``
    dict per level."""
    if response is None or not options.get("WITHSCORES"):
        return response
    return [{k: float(v) for k, v in _pairs(level).items()} for level in response]


def _attributes(value: Any) -> Optional[Any]:
    return json.loads(value) if value else None


def parse_vsim(response: Any, **options: Any) -> Any:
    """VSIM: the elements (a list); with ``WITHSCORES`` or ``WITHATTRIBS`` a dict of element ->
    score / attributes (parsed JSON or None); with both ``{element: {"score", "attributes"}}``."""
    if response is None:
        return None
    withscores = bool(options.get("WITHSCORES"))
    withattribs = bool(options.get("WITHATTRIBS"))
    if withscores and withattribs:
        out: Dict[Any, Any] = {}
        if isinstance(response, dict):
            for element, data in response.items():
                out[element] = {"score": data[0], "attributes": _attributes(data[1])}
            return out
        it = iter(response)
        for element, score, attribs in zip(it, it, it):
            out[element] = {"score": float(score),
                            "attributes": None if attribs is None else json.loads(attribs)}
        return out
    if withscores:
        return {k: float(v) for k, v in _pairs(response).items()}
    if withattribs:
        return {k: _attributes(v) for k, v in _pairs(response).items()}
    return response


def parse_vgetattr(response: Any, **options: Any) -> Any:
    """VGETATTR: the element's attributes parsed from JSON; None when absent or empty (``{}``
    included, as redis-py)."""
    return _attributes(response) or None


def parse_vinfo(response: Any, **options: Any) -> Optional[Dict[Any, Any]]:
    """VINFO: the vector set's description as a dict (keys as sent), None for no set."""
    return _pairs(response) if response else None


def _int(response: Any, **options: Any) -> int:
    return int(response)


#: Callbacks of the Redis 8 commands, by table name (read-only).
REDIS8_CALLBACKS: Mapping[str, Callback] = MappingProxyType({
    "ARINFO": parse_arinfo,
    "HIMPORT DISCARD": _int,
    "HIMPORT DISCARDALL": _int,
    "HIMPORT PREPARE": bool_ok,
    "HIMPORT SET": bool_ok,
    "HOTKEYS GET": parse_hotkeys_get,
    "STRALGO": parse_stralgo,
    "VEMB": parse_vemb,
    "VGETATTR": parse_vgetattr,
    "VINFO": parse_vinfo,
    "VLINKS": parse_vlinks,
    "VSIM": parse_vsim,
})
