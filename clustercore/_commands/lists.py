"""The list commands of :class:`~.api.CommandsMixin` (LPUSH, LPOP, LRANGE, LMOVE, the blocking
pops ...), one method each with redis-py's name, arguments and return shape.
"""

from __future__ import annotations

from typing import Any, List, Optional

from .args import (
    EncodableT,
    KeyT,
    list_or_args,
)
from .base import CommandsBase

__all__ = ["ListCommands"]


class ListCommands(CommandsBase):
    """List commands, one method each (redis-py's names, arguments and return shapes)."""

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
        return self.execute_command("BLPOP", *list_or_args(keys, ()), timeout or 0)

    def brpop(self, keys: Any, timeout: Optional[float] = 0) -> Any:
        """Like blpop, from the tail; ``(key, value)`` or None."""
        return self.execute_command("BRPOP", *list_or_args(keys, ()), timeout or 0)

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
