"""The set commands of :class:`~.api.CommandsMixin` (SADD, SMEMBERS, SINTER, SSCAN ...), one method
each with redis-py's name, arguments and return shape.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence

from .args import (
    EncodableT,
    KeyT,
    list_or_args,
    scan_args,
)
from .base import CommandsBase

__all__ = ["SetCommands"]


class SetCommands(CommandsBase):
    """Set commands, one method each (redis-py's names, arguments and return shapes)."""

    def sadd(self, name: KeyT, *values: EncodableT) -> Any:
        """Add members; how many were new."""
        return self.execute_command("SADD", name, *values)

    def scard(self, name: KeyT) -> Any:
        """The number of members."""
        return self.execute_command("SCARD", name)

    def sdiff(self, keys: Any, *args: KeyT) -> Any:
        """Members of the first set not in the others (same slot); a set."""
        return self.execute_command("SDIFF", *list_or_args(keys, args))

    def sdiffstore(self, dest: KeyT, keys: Any, *args: KeyT) -> Any:
        """Store SDIFF in ``dest`` (same slot); its size."""
        return self.execute_command("SDIFFSTORE", dest, *list_or_args(keys, args))

    def sinter(self, keys: Any, *args: KeyT) -> Any:
        """Intersection (same slot); a set."""
        return self.execute_command("SINTER", *list_or_args(keys, args))

    def sintercard(self, numkeys: int, keys: Sequence[KeyT], limit: int = 0) -> Any:
        """Size of the intersection (same slot), stopping at ``limit`` (0 = no limit)."""
        return self.execute_command("SINTERCARD", numkeys, *keys, "LIMIT", limit)

    def sinterstore(self, dest: KeyT, keys: Any, *args: KeyT) -> Any:
        """Store SINTER in ``dest`` (same slot); its size."""
        return self.execute_command("SINTERSTORE", dest, *list_or_args(keys, args))

    def sismember(self, name: KeyT, value: EncodableT) -> Any:
        """1 if ``value`` is a member, else 0."""
        return self.execute_command("SISMEMBER", name, value)

    def smembers(self, name: KeyT) -> Any:
        """All members; a set."""
        return self.execute_command("SMEMBERS", name)

    def smismember(self, name: KeyT, values: Any, *args: EncodableT) -> Any:
        """1/0 per value: whether it is a member."""
        return self.execute_command("SMISMEMBER", name, *list_or_args(values, args))

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
        return self.execute_command("SSCAN", name, *scan_args(cursor, match, count))

    def sscan_iter(self, name: KeyT, match: Any = None,
                   count: Optional[int] = None) -> Iterator[Any]:
        """Every member of the set."""
        cursor = -1
        while cursor != 0:
            cursor, data = self.sscan(name, max(cursor, 0), match, count)
            yield from data

    def sunion(self, keys: Any, *args: KeyT) -> Any:
        """Union (same slot); a set."""
        return self.execute_command("SUNION", *list_or_args(keys, args))

    def sunionstore(self, dest: KeyT, keys: Any, *args: KeyT) -> Any:
        """Store SUNION in ``dest`` (same slot); its size."""
        return self.execute_command("SUNIONSTORE", dest, *list_or_args(keys, args))
