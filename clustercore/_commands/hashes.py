"""The hash commands of :class:`~.api.CommandsMixin` (HSET, HGET, HGETALL, HSCAN ...), one method
each with redis-py's name, arguments and return shape, and the newer ones: hash-field expiry
(HEXPIRE, HPEXPIRE, HEXPIREAT, HPEXPIREAT, HTTL, HPTTL, HEXPIRETIME, HPEXPIRETIME, HPERSIST:
Redis 7.4+) and HGETDEL, HGETEX, HSETEX (Redis 8.0+), sent in redis-py 8.1's wire form
(``... FIELDS numfields field ...``).

The client does not check the server's version for those: an older server answers "unknown
command" and that ResponseError is what the caller gets, so nothing is emulated and nothing is
silently dropped.
"""

from __future__ import annotations

import datetime
import warnings
from typing import Any, Iterator, List, Mapping, Optional, Sequence

from ..errors import DataError
from .args import (
    AbsExpiryT,
    EncodableT,
    ExpiryT,
    KeyT,
    list_or_args,
    millis,
    scan_args,
    seconds,
    unix_millis,
    unix_seconds,
)
from .base import CommandsBase

__all__ = ["HashCommands"]

_PERSIST_OPTIONS = ("FNX", "FXX")


def _condition(nx: bool, xx: bool, gt: bool, lt: bool) -> List[str]:
    chosen = [word for flag, word in ((nx, "NX"), (xx, "XX"), (gt, "GT"), (lt, "LT")) if flag]
    if len(chosen) > 1:
        raise DataError(f"Only one of 'nx', 'xx', 'gt', 'lt' can be specified, not {chosen}")
    return chosen


def _fields(fields: Sequence[Any]) -> List[Any]:
    return ["FIELDS", len(fields), *fields]


def _expiry(ex: Any, px: Any, exat: Any, pxat: Any, flag: bool, flag_name: str) -> List[Any]:
    """EX/PX/EXAT/PXAT (at most one of them and ``flag``: PERSIST or KEEPTTL)."""
    given = [n for n, v in (("ex", ex), ("px", px), ("exat", exat), ("pxat", pxat))
             if v is not None]
    if flag:
        given.append(flag_name.lower())
    if len(given) > 1:
        raise DataError(f"``ex``, ``px``, ``exat``, ``pxat`` and ``{flag_name.lower()}`` are "
                        f"mutually exclusive; got {given}")
    if ex is not None:
        return ["EX", seconds(ex, "ex")]
    if px is not None:
        return ["PX", millis(px, "px")]
    if exat is not None:
        return ["EXAT", unix_seconds(exat)]
    if pxat is not None:
        return ["PXAT", unix_millis(pxat)]
    return [flag_name] if flag else []


class HashCommands(CommandsBase):
    """Hash commands, one method each (redis-py's names, arguments and return shapes)."""

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
        return self.execute_command("HMGET", name, *list_or_args(keys, args))

    def hmset(self, name: KeyT, mapping: Mapping[Any, EncodableT]) -> Any:
        """Set several fields (deprecated; use hset(mapping=...)); True. Warns
        DeprecationWarning, as redis-py (since 3.5) does."""
        name_of_class = type(self).__name__  # redis-py 3.5's text, with the caller's class
        warnings.warn(f"{name_of_class}.hmset() is deprecated. Use {name_of_class}.hset() "
                      "instead.", DeprecationWarning, stacklevel=2)
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
        pieces = scan_args(cursor, match, count)
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

    # --- field expiry (Redis 7.4+) and HGETDEL / HGETEX / HSETEX (Redis 8.0+) -------------------
    def hexpire(self, name: KeyT, seconds: ExpiryT, *fields: Any, nx: bool = False,
                xx: bool = False, gt: bool = False, lt: bool = False) -> Any:
        """Give ``fields`` a TTL in seconds; one code per field (1 set, 0 condition not met,
        2 deleted at once, -2 no such field)."""
        if isinstance(seconds, datetime.timedelta):
            seconds = int(seconds.total_seconds())
        return self.execute_command("HEXPIRE", name, seconds, *_condition(nx, xx, gt, lt),
                                    *_fields(fields))

    def hpexpire(self, name: KeyT, milliseconds: ExpiryT, *fields: Any, nx: bool = False,
                 xx: bool = False, gt: bool = False, lt: bool = False) -> Any:
        """Give ``fields`` a TTL in milliseconds; one code per field (as :meth:`hexpire`)."""
        if isinstance(milliseconds, datetime.timedelta):
            milliseconds = int(milliseconds.total_seconds() * 1000)
        return self.execute_command("HPEXPIRE", name, milliseconds,
                                    *_condition(nx, xx, gt, lt), *_fields(fields))

    def hexpireat(self, name: KeyT, unix_time_seconds: AbsExpiryT, *fields: Any,
                  nx: bool = False, xx: bool = False, gt: bool = False,
                  lt: bool = False) -> Any:
        """Expire ``fields`` at a unix time in seconds; one code per field."""
        return self.execute_command("HEXPIREAT", name, unix_seconds(unix_time_seconds),
                                    *_condition(nx, xx, gt, lt), *_fields(fields))

    def hpexpireat(self, name: KeyT, unix_time_milliseconds: AbsExpiryT, *fields: Any,
                   nx: bool = False, xx: bool = False, gt: bool = False,
                   lt: bool = False) -> Any:
        """Expire ``fields`` at a unix time in milliseconds; one code per field."""
        return self.execute_command("HPEXPIREAT", name, unix_millis(unix_time_milliseconds),
                                    *_condition(nx, xx, gt, lt), *_fields(fields))

    def httl(self, key: KeyT, *fields: Any) -> Any:
        """Seconds left per field (-1 no TTL, -2 no such field)."""
        return self.execute_command("HTTL", key, *_fields(fields))

    def hpttl(self, key: KeyT, *fields: Any) -> Any:
        """Milliseconds left per field (-1 no TTL, -2 no such field)."""
        return self.execute_command("HPTTL", key, *_fields(fields))

    def hexpiretime(self, key: KeyT, *fields: Any) -> Any:
        """Unix expiry time in seconds per field (-1 none, -2 no such field)."""
        return self.execute_command("HEXPIRETIME", key, *_fields(fields))

    def hpexpiretime(self, key: KeyT, *fields: Any) -> Any:
        """Unix expiry time in milliseconds per field (-1 none, -2 no such field)."""
        return self.execute_command("HPEXPIRETIME", key, *_fields(fields))

    def hpersist(self, name: KeyT, *fields: Any) -> Any:
        """Remove the fields' TTLs; one code per field (1 removed, -1 had none, -2 missing)."""
        return self.execute_command("HPERSIST", name, *_fields(fields))

    def hgetdel(self, name: KeyT, *keys: Any) -> Any:
        """Get and delete fields (Redis 8.0+); their values, None where missing."""
        if not keys:
            raise DataError("'hgetdel' should have at least one key provided")
        return self.execute_command("HGETDEL", name, *_fields(keys))

    def hgetex(self, name: KeyT, *keys: Any, ex: Optional[ExpiryT] = None,
               px: Optional[ExpiryT] = None, exat: Optional[AbsExpiryT] = None,
               pxat: Optional[AbsExpiryT] = None, persist: bool = False) -> Any:
        """Get fields and set or clear their TTLs (Redis 8.0+); their values."""
        if not keys:
            raise DataError("'hgetex' should have at least one key provided")
        return self.execute_command("HGETEX", name,
                                    *_expiry(ex, px, exat, pxat, persist, "PERSIST"),
                                    *_fields(keys))

    def hsetex(self, name: KeyT, key: Any = None, value: Optional[EncodableT] = None,
               mapping: Optional[Mapping[Any, EncodableT]] = None,
               items: Optional[Sequence[EncodableT]] = None, ex: Optional[ExpiryT] = None,
               px: Optional[ExpiryT] = None, exat: Optional[AbsExpiryT] = None,
               pxat: Optional[AbsExpiryT] = None, data_persist_option: Any = None,
               keepttl: bool = False) -> Any:
        """Set fields with a TTL (Redis 8.0+; ``data_persist_option`` FNX / FXX); 1 when set,
        0 when the condition was not met."""
        if key is None and not mapping and not items:
            raise DataError("'hsetex' with no key value pairs")
        if items and len(items) % 2:
            raise DataError(f"'hsetex' items must be field/value pairs, got {len(items)} items")
        pieces = _expiry(ex, px, exat, pxat, keepttl, "KEEPTTL")
        if data_persist_option:
            option = getattr(data_persist_option, "value", data_persist_option)
            if str(option).upper() not in _PERSIST_OPTIONS:
                raise DataError(f"hsetex data_persist_option must be FNX or FXX, "
                                f"not {data_persist_option!r}")
            pieces.insert(0, option)
        pairs: List[Any] = list(items or ())
        if key is not None:
            pairs += [key, value]
        for pair in (mapping or {}).items():
            pairs.extend(pair)
        return self.execute_command("HSETEX", name, *pieces, "FIELDS", len(pairs) // 2, *pairs)
