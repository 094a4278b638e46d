"""The string commands of :class:`~.api.CommandsMixin` (GET, SET, INCR, GETEX, LCS, MGET/MSET
...), one method each with redis-py's name, arguments and return shape.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from ..errors import DataError
from .args import (
    AbsExpiryT,
    EncodableT,
    ExpiryT,
    KeyT,
    list_or_args,
    millis,
    seconds,
    unix_millis,
    unix_seconds,
)
from .base import CommandsBase

__all__ = ["StringCommands"]


class StringCommands(CommandsBase):
    """String commands, one method each (redis-py's names, arguments and return shapes)."""

    def append(self, key: KeyT, value: EncodableT) -> Any:
        """Append ``value`` to the string at ``key``; the new length."""
        return self.execute_command("APPEND", key, value)

    def decr(self, name: KeyT, amount: int = 1) -> Any:
        """Decrement by ``amount``; the new value."""
        return self.execute_command("DECRBY", name, amount)

    def decrby(self, name: KeyT, amount: int = 1) -> Any:
        """Decrement by ``amount``; the new value."""
        return self.execute_command("DECRBY", name, amount)

    def get(self, name: KeyT) -> Any:
        """The value at ``name``, or None."""
        return self.execute_command("GET", name)

    def getdel(self, name: KeyT) -> Any:
        """Get the value and delete the key; None when missing."""
        return self.execute_command("GETDEL", name)

    def getex(self, name: KeyT, ex: Optional[ExpiryT] = None, px: Optional[ExpiryT] = None,
              exat: Optional[AbsExpiryT] = None, pxat: Optional[AbsExpiryT] = None,
              persist: bool = False) -> Any:
        """Get the value and set (or, with ``persist``, remove) its expiry."""
        if sum(x is not None for x in (ex, px, exat, pxat)) + bool(persist) > 1:
            raise DataError("``ex``, ``px``, ``exat``, ``pxat`` and ``persist`` are "
                            "mutually exclusive")
        pieces: List[Any] = []
        if ex is not None:
            pieces += ["EX", seconds(ex, "ex")]
        if px is not None:
            pieces += ["PX", millis(px, "px")]
        if exat is not None:
            pieces += ["EXAT", unix_seconds(exat)]
        if pxat is not None:
            pieces += ["PXAT", unix_millis(pxat)]
        if persist:
            pieces.append("PERSIST")
        return self.execute_command("GETEX", name, *pieces)

    def getrange(self, key: KeyT, start: int, end: int) -> Any:
        """The substring between ``start`` and ``end`` (inclusive)."""
        return self.execute_command("GETRANGE", key, start, end)

    def getset(self, name: KeyT, value: EncodableT) -> Any:
        """Set ``value`` and return the old value."""
        return self.execute_command("GETSET", name, value)

    def incr(self, name: KeyT, amount: int = 1) -> Any:
        """Increment by ``amount``; the new value."""
        return self.execute_command("INCRBY", name, amount)

    def incrby(self, name: KeyT, amount: int = 1) -> Any:
        """Increment by ``amount``; the new value."""
        return self.execute_command("INCRBY", name, amount)

    def incrbyfloat(self, name: KeyT, amount: float = 1.0) -> Any:
        """Increment by a float; the new value (float)."""
        return self.execute_command("INCRBYFLOAT", name, amount)

    def lcs(self, key1: KeyT, key2: KeyT, len: bool = False, idx: bool = False,
            minmatchlen: int = 0, withmatchlen: bool = False) -> Any:
        """Longest common substring of two strings (keys of one slot)."""
        pieces: List[Any] = [key1, key2]
        if len:
            pieces.append("LEN")
        if idx:
            pieces.append("IDX")
        if minmatchlen:
            pieces += ["MINMATCHLEN", minmatchlen]
        if withmatchlen:
            pieces.append("WITHMATCHLEN")
        return self.execute_command("LCS", *pieces)

    def mget(self, keys: Any, *args: KeyT) -> Any:
        """Values of many keys in order. Split by slot by the client: not atomic across slots."""
        return self.execute_command("MGET", *list_or_args(keys, args))

    def mset(self, mapping: Mapping[Any, EncodableT]) -> Any:
        """Set many keys; True. Split by slot by the client: not atomic across slots."""
        items: List[Any] = []
        for pair in mapping.items():
            items.extend(pair)
        return self.execute_command("MSET", *items)

    def msetnx(self, mapping: Mapping[Any, EncodableT]) -> Any:
        """Set many keys only if none exists; bool. Atomic: keys must share a slot."""
        items: List[Any] = []
        for pair in mapping.items():
            items.extend(pair)
        return self.execute_command("MSETNX", *items)

    def psetex(self, name: KeyT, time_ms: ExpiryT, value: EncodableT) -> Any:
        """Set ``value`` with a TTL in milliseconds; True."""
        return self.execute_command("PSETEX", name, millis(time_ms, "time_ms"), value)

    def set(self, name: KeyT, value: EncodableT, ex: Optional[ExpiryT] = None,
            px: Optional[ExpiryT] = None, nx: bool = False, xx: bool = False,
            keepttl: bool = False, get: bool = False, exat: Optional[AbsExpiryT] = None,
            pxat: Optional[AbsExpiryT] = None, ifeq: Optional[EncodableT] = None,
            ifne: Optional[EncodableT] = None, ifdeq: Optional[str] = None,
            ifdne: Optional[str] = None) -> Any:
        """Set ``value``; True, None when a condition was not met, the old value with ``get``.

        Conditions (at most one): ``nx``, ``xx``, and (Redis 8.4+; older servers answer with a
        syntax error) ``ifeq`` / ``ifne`` (the current value equals / differs from the given
        one), ``ifdeq`` / ``ifdne`` (the same against the value's XXH3 hex digest).
        """
        if (ex is not None or px is not None or exat is not None or pxat is not None) and (
                sum(x is not None for x in (ex, px, exat, pxat)) + bool(keepttl) > 1):
            raise DataError("``ex``, ``px``, ``exat``, ``pxat`` and ``keepttl`` are "
                            "mutually exclusive")
        pieces: List[Any] = [name, value]
        if ifeq is None and ifne is None and ifdeq is None and ifdne is None:
            if nx and xx:
                raise DataError("``nx`` and ``xx`` are mutually exclusive")
        else:
            pieces += self._set_condition(nx, xx, ifeq, ifne, ifdeq, ifdne)
        options: Dict[str, Any] = {}
        if ex is not None:
            pieces += ["EX", seconds(ex, "ex")]
        if px is not None:
            pieces += ["PX", millis(px, "px")]
        if exat is not None:
            pieces += ["EXAT", unix_seconds(exat)]
        if pxat is not None:
            pieces += ["PXAT", unix_millis(pxat)]
        if keepttl:
            pieces.append("KEEPTTL")
        if nx:
            pieces.append("NX")
        if xx:
            pieces.append("XX")
        if get:
            pieces.append("GET")
            options["get"] = True
        return self.execute_command("SET", *pieces, **options)

    @staticmethod
    def _set_condition(nx: bool, xx: bool, ifeq: Any, ifne: Any, ifdeq: Any,
                       ifdne: Any) -> List[Any]:
        """SET's IFEQ/IFNE/IFDEQ/IFDNE piece; refuses a second condition (NX/XX included)."""
        given = [(word, value) for word, value in (("IFEQ", ifeq), ("IFNE", ifne),
                                                   ("IFDEQ", ifdeq), ("IFDNE", ifdne))
                 if value is not None]
        if len(given) + bool(nx) + bool(xx) > 1:
            names = [w.lower() for w, _ in given] + [n for n, f in (("nx", nx), ("xx", xx)) if f]
            raise DataError(f"``nx``, ``xx``, ``ifeq``, ``ifne``, ``ifdeq``, ``ifdne`` are "
                            f"mutually exclusive; got {names}")
        return list(given[0])

    def setex(self, name: KeyT, time: ExpiryT, value: EncodableT) -> Any:
        """Set ``value`` with a TTL in seconds; True."""
        return self.execute_command("SETEX", name, seconds(time, "time"), value)

    def setnx(self, name: KeyT, value: EncodableT) -> Any:
        """Set ``value`` if the key does not exist; bool."""
        return self.execute_command("SETNX", name, value)

    def setrange(self, name: KeyT, offset: int, value: EncodableT) -> Any:
        """Overwrite part of the string at ``offset``; the new length."""
        return self.execute_command("SETRANGE", name, offset, value)

    def strlen(self, name: KeyT) -> Any:
        """Length of the string value."""
        return self.execute_command("STRLEN", name)

    def substr(self, name: KeyT, start: int, end: int = -1) -> Any:
        """The substring between ``start`` and ``end`` (SUBSTR)."""
        return self.execute_command("SUBSTR", name, start, end)
