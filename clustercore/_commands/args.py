"""Argument types and builders shared by the command-family mixins.

The type aliases of redis-py's signatures (``KeyT``, ``EncodableT``, ``ExpiryT``, ``AbsExpiryT``,
``ScoreCast``) and the builders more than one family uses: redis-py's ``keys, *args`` convention
(``list_or_args``), expiry conversions (``seconds``, ``millis``, ``unix_seconds``,
``unix_millis``), SCAN and LIMIT pieces (``scan_args``, ``limit_args``), redis-py's
``target_nodes=`` as call options (``targets``). They live in one module
so that the families share them instead of copying them; a helper only one family needs stays
in that family's module.
"""

from __future__ import annotations

import datetime
from typing import Any, Callable, Dict, List, Sequence, Union

from ..errors import DataError

__all__ = [
    "AbsExpiryT",
    "EncodableT",
    "ExpiryT",
    "KeyT",
    "ScoreCast",
    "limit_args",
    "list_or_args",
    "millis",
    "scan_args",
    "seconds",
    "targets",
    "unix_millis",
    "unix_seconds",
]

KeyT = Union[bytes, str, memoryview]
EncodableT = Union[bytes, bytearray, memoryview, str, int, float]
ExpiryT = Union[int, datetime.timedelta]
AbsExpiryT = Union[int, datetime.datetime]
ScoreCast = Callable[[Any], Any]


def list_or_args(keys: Any, args: Sequence[Any]) -> List[Any]:
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


def seconds(value: Any, name: str) -> Any:
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds())
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(f"{name} must be an int or a datetime.timedelta, not {value!r}")
    return value


def millis(value: Any, name: str) -> Any:
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds() * 1000)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(f"{name} must be an int or a datetime.timedelta, not {value!r}")
    return value


def unix_seconds(value: Any) -> Any:
    return int(value.timestamp()) if isinstance(value, datetime.datetime) else value


def unix_millis(value: Any) -> Any:
    return int(value.timestamp() * 1000) if isinstance(value, datetime.datetime) else value


def scan_args(cursor: Any, match: Any, count: Any, _type: Any = None) -> List[Any]:
    pieces: List[Any] = [cursor]
    if match is not None:
        pieces += ["MATCH", match]
    if count is not None:
        pieces += ["COUNT", count]
    if _type is not None:
        pieces += ["TYPE", _type]
    return pieces


def limit_args(start: Any, num: Any) -> List[Any]:
    if (start is None) != (num is None):
        raise DataError("``start`` and ``num`` must both be specified")
    return ["LIMIT", start, num] if start is not None else []


def targets(target_nodes: Any) -> Dict[str, Any]:
    """redis-py's ``target_nodes=`` as ``execute_command`` options: present only when given, so
    a call without it takes the client's usual route (and its fast path) unchanged."""
    return {} if target_nodes is None else {"target_nodes": target_nodes}
