"""The array commands (Redis 8.x's AR* family) of :class:`~.api.CommandsMixin`, with redis-py
8.1's names, arguments and return shapes.

An array is a sparse, index-addressed sequence under one key, so every command goes to the
key's slot owner (:mod:`.specs_redis8`). ARGREP's predicates and AROP's operation take redis-py's
enums (``redis.commands.core.ArrayPredicateType`` ...) or this module's enums of the same names
and values, or the plain words (``"SUM"``, ``"GLOB"``); anything else is a DataError naming the
bad value. The client does not check the server's version: a server without arrays answers
"unknown command".
"""

from __future__ import annotations

import enum
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Type

from ..errors import DataError
from .args import EncodableT, KeyT
from .base import CommandsBase

__all__ = [
    "ArrayAggregateOperations",
    "ArrayCommands",
    "ArrayPredicateCombinator",
    "ArrayPredicateType",
]


class ArrayAggregateOperations(enum.Enum):
    """AROP's operations (redis-py's enum of the same name and values)."""

    SUM = "SUM"
    MIN = "MIN"
    MAX = "MAX"
    AND = "AND"
    OR = "OR"
    XOR = "XOR"
    MATCH = "MATCH"
    USED = "USED"


class ArrayPredicateType(enum.Enum):
    """ARGREP's predicate kinds (redis-py's enum of the same name and values)."""

    EXACT = "EXACT"
    MATCH = "MATCH"
    GLOB = "GLOB"
    RE = "RE"


class ArrayPredicateCombinator(enum.Enum):
    """How ARGREP combines several predicates (redis-py's enum of the same name and values)."""

    AND = "AND"
    OR = "OR"


def _word(value: Any, allowed: Type[enum.Enum], what: str) -> Any:
    """An enum member's value (redis-py's or ours) or a plain word, checked against ``allowed``."""
    word = getattr(value, "value", value)
    text = word.decode() if isinstance(word, bytes) else word
    if not isinstance(text, str) or text.upper() not in allowed.__members__:
        raise DataError(f"{what} must be one of {sorted(allowed.__members__)}, not {value!r}")
    return word


def _limit(limit: Optional[int]) -> List[Any]:
    return [] if limit is None else [b"LIMIT", limit]


class ArrayCommands(CommandsBase):
    """The AR* commands, one method each (redis-py 8.1's names, arguments and shapes)."""

    def arset(self, name: KeyT, index: int, *values: EncodableT) -> Any:
        """Set ``values`` at consecutive indices from ``index``; how many slots were empty."""
        return self.execute_command("ARSET", name, index, *values)

    def armset(self, name: KeyT, mapping: Mapping[int, EncodableT]) -> Any:
        """Set ``{index: value}`` pairs (any order, gaps allowed); how many slots were empty."""
        items: List[Any] = []
        for pair in mapping.items():
            items.extend(pair)
        return self.execute_command("ARMSET", name, *items)

    def arget(self, name: KeyT, index: int) -> Any:
        """The value at ``index``, or None (no such key or an empty slot)."""
        return self.execute_command("ARGET", name, index)

    def armget(self, name: KeyT, *indices: int) -> Any:
        """The values at ``indices``, in their order (None for an empty slot)."""
        return self.execute_command("ARMGET", name, *indices)

    def argetrange(self, name: KeyT, start: int, end: int) -> Any:
        """The values of the inclusive range ``start``..``end`` (reversed when start > end)."""
        return self.execute_command("ARGETRANGE", name, start, end)

    def arscan(self, name: KeyT, start: int, end: int, limit: Optional[int] = None) -> Any:
        """``[[index, value], ...]`` of the populated slots in ``start``..``end`` (at most
        ``limit`` of them)."""
        return self.execute_command("ARSCAN", name, start, end, *_limit(limit))

    def argrep(self, name: KeyT, start: int, end: int,
               predicates: Sequence[Tuple[Any, EncodableT]], combinator: Any = None,
               limit: Optional[int] = None, withvalues: bool = False,
               nocase: bool = False) -> Any:
        """Indices (``withvalues``: ``[[index, value], ...]``) in ``start``..``end`` whose value
        matches the ``(ArrayPredicateType, value)`` predicates, combined by ``combinator``
        (AND / OR; the server's default is OR)."""
        pieces: List[Any] = [name, start, end]
        for kind, value in predicates:
            pieces += [_word(kind, ArrayPredicateType, "ARGREP predicate type"), value]
        if combinator is not None:
            pieces.append(_word(combinator, ArrayPredicateCombinator, "ARGREP combinator"))
        pieces += _limit(limit)
        if withvalues:
            pieces.append(b"WITHVALUES")
        if nocase:
            pieces.append(b"NOCASE")
        return self.execute_command("ARGREP", *pieces)

    def ardel(self, name: KeyT, *indices: int) -> Any:
        """Delete the values at ``indices``; how many there were."""
        return self.execute_command("ARDEL", name, *indices)

    def ardelrange(self, name: KeyT, *ranges: Tuple[int, int]) -> Any:
        """Delete the values in the inclusive ``(start, end)`` ranges; how many there were."""
        pieces: List[Any] = [name]
        for start, end in ranges:
            pieces += [start, end]
        return self.execute_command("ARDELRANGE", *pieces)

    def arcount(self, name: KeyT) -> Any:
        """How many slots hold a value (0 for no such key)."""
        return self.execute_command("ARCOUNT", name)

    def arlen(self, name: KeyT) -> Any:
        """The highest set index plus one (0 for no such key)."""
        return self.execute_command("ARLEN", name)

    def arinfo(self, name: KeyT, full: bool = False) -> Any:
        """The array's metadata as a dict (``full``: per-slice statistics too, O(N))."""
        return self.execute_command("ARINFO", name, *([b"FULL"] if full else []))

    def arnext(self, name: KeyT) -> Any:
        """The index ARINSERT would use next (None when the cursor is exhausted)."""
        return self.execute_command("ARNEXT", name)

    def arseek(self, name: KeyT, index: int) -> Any:
        """Move the insert cursor to ``index``; 1, or 0 for no such key."""
        return self.execute_command("ARSEEK", name, index)

    def arinsert(self, name: KeyT, *values: EncodableT) -> Any:
        """Insert ``values`` at the cursor, advancing it; the last index written."""
        return self.execute_command("ARINSERT", name, *values)

    def arring(self, name: KeyT, size: int, *values: EncodableT) -> Any:
        """Insert ``values`` into a ring of ``size`` slots; the last index written."""
        return self.execute_command("ARRING", name, size, *values)

    def arlastitems(self, name: KeyT, count: int, rev: bool = False) -> Any:
        """Up to ``count`` most recently inserted values, oldest first (``rev``: newest first)."""
        return self.execute_command("ARLASTITEMS", name, count, *([b"REV"] if rev else []))

    def arop(self, name: KeyT, start: int, end: int, operation: Any,
             value: Optional[EncodableT] = None) -> Any:
        """Aggregate ``start``..``end`` with an ArrayAggregateOperations member (``value`` for
        MATCH): a bulk string for SUM/MIN/MAX, an int for the others, None for no match."""
        pieces: List[Any] = [name, start, end,
                             _word(operation, ArrayAggregateOperations, "AROP operation")]
        if value is not None:
            pieces.append(value)
        return self.execute_command("AROP", *pieces)
