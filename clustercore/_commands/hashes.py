"""The hash commands of :class:`~.api.CommandsMixin` (HSET, HGET, HGETALL, HSCAN ...), one method
each with redis-py's name, arguments and return shape.
"""

from __future__ import annotations

from typing import Any, Iterator, List, Mapping, Optional, Sequence

from ..errors import DataError
from .args import (
    EncodableT,
    KeyT,
    list_or_args,
    scan_args,
)
from .base import CommandsBase

__all__ = ["HashCommands"]


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
