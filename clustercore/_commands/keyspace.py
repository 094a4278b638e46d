"""The key-space commands of :class:`~.api.CommandsMixin`: commands on keys of any type (DEL,
EXISTS, EXPIRE & co., RENAME, COPY, DUMP/RESTORE, OBJECT, TYPE, KEYS, SCAN, SORT ...), one method
each with redis-py's name, arguments and return shape.
"""

from __future__ import annotations

from typing import Any, Iterator, List, Optional

from ..errors import DataError
from .args import (
    AbsExpiryT,
    EncodableT,
    ExpiryT,
    KeyT,
    limit_args,
    list_or_args,
    millis,
    scan_args,
    seconds,
    unix_millis,
    unix_seconds,
)
from .base import CommandsBase

__all__ = ["KeyspaceCommands"]


def _expire_flags(nx: bool, xx: bool, gt: bool, lt: bool) -> List[str]:
    return [word for word, on in (("NX", nx), ("XX", xx), ("GT", gt), ("LT", lt)) if on]


class KeyspaceCommands(CommandsBase):
    """Key-space commands, one method each (redis-py's names, arguments and return shapes)."""

    def copy(self, source: KeyT, destination: KeyT, destination_db: Optional[int] = None,
             replace: bool = False) -> Any:
        """Copy a key (same slot); bool."""
        pieces: List[Any] = [source, destination]
        if destination_db is not None:
            pieces += ["DB", destination_db]
        if replace:
            pieces.append("REPLACE")
        return self.execute_command("COPY", *pieces)

    def delete(self, *names: KeyT) -> Any:
        """Delete keys; how many existed. Split by slot by the client: not atomic across slots."""
        return self.execute_command("DEL", *names)

    def dump(self, name: KeyT) -> Any:
        """The serialized value (bytes, for RESTORE), or None. ``never_decode=True`` asks the
        client to read this reply undecoded even with ``decode_responses`` (redis-py's
        NEVER_DECODE): the payload is binary."""
        return self.execute_command("DUMP", name, never_decode=True)

    def exists(self, *names: KeyT) -> Any:
        """How many of the keys exist. Split by slot by the client: not atomic across slots."""
        return self.execute_command("EXISTS", *names)

    def expire(self, name: KeyT, time: ExpiryT, nx: bool = False, xx: bool = False,
               gt: bool = False, lt: bool = False) -> Any:
        """Set a TTL in seconds; bool."""
        return self.execute_command("EXPIRE", name, seconds(time, "time"),
                                    *_expire_flags(nx, xx, gt, lt))

    def expireat(self, name: KeyT, when: AbsExpiryT, nx: bool = False, xx: bool = False,
                 gt: bool = False, lt: bool = False) -> Any:
        """Expire at a unix time (seconds or datetime); bool."""
        return self.execute_command("EXPIREAT", name, unix_seconds(when),
                                    *_expire_flags(nx, xx, gt, lt))

    def expiretime(self, key: KeyT) -> Any:
        """The absolute expiry (unix seconds); -1 no TTL, -2 no key."""
        return self.execute_command("EXPIRETIME", key)

    def keys(self, pattern: Any = "*", **kwargs: Any) -> Any:
        """Keys matching ``pattern`` on every primary, in one list (avoid on big data sets)."""
        return self.execute_command("KEYS", pattern, **kwargs)

    def object(self, infotype: str, key: KeyT, **kwargs: Any) -> Any:
        """OBJECT ENCODING/FREQ/IDLETIME/REFCOUNT of ``key``."""
        return self.execute_command("OBJECT", infotype, key, infotype=infotype, **kwargs)

    def migrate(self, host: str, port: int, keys: Any, destination_db: int, timeout: int,
                copy: bool = False, replace: bool = False, auth: Optional[str] = None,
                **kwargs: Any) -> Any:
        """Move ``keys`` (one slot's) to another server (MIGRATE ... KEYS); "OK" or "NOKEY"."""
        names = list_or_args(keys, [])
        if not names:
            raise DataError("MIGRATE requires at least one key")
        pieces: List[Any] = []
        if copy:
            pieces.append("COPY")
        if replace:
            pieces.append("REPLACE")
        if auth:
            pieces += ["AUTH", auth]
        return self.execute_command("MIGRATE", host, port, "", destination_db, timeout, *pieces,
                                    "KEYS", *names, **kwargs)

    def move(self, name: KeyT, db: int, **kwargs: Any) -> Any:
        """MOVE to another database: a cluster has only database 0, so refused unless sent to a
        target node (which answers for itself); bool."""
        return self.execute_command("MOVE", name, db, **kwargs)

    def persist(self, name: KeyT) -> Any:
        """Remove the TTL; bool."""
        return self.execute_command("PERSIST", name)

    def pexpire(self, name: KeyT, time: ExpiryT, nx: bool = False, xx: bool = False,
                gt: bool = False, lt: bool = False) -> Any:
        """Set a TTL in milliseconds; bool."""
        return self.execute_command("PEXPIRE", name, millis(time, "time"),
                                    *_expire_flags(nx, xx, gt, lt))

    def pexpireat(self, name: KeyT, when: AbsExpiryT, nx: bool = False, xx: bool = False,
                  gt: bool = False, lt: bool = False) -> Any:
        """Expire at a unix time in milliseconds (or datetime); bool."""
        return self.execute_command("PEXPIREAT", name, unix_millis(when),
                                    *_expire_flags(nx, xx, gt, lt))

    def pexpiretime(self, key: KeyT) -> Any:
        """The absolute expiry (unix milliseconds); -1 no TTL, -2 no key."""
        return self.execute_command("PEXPIRETIME", key)

    def pttl(self, name: KeyT) -> Any:
        """Remaining TTL in milliseconds; -1 no TTL, -2 no key."""
        return self.execute_command("PTTL", name)

    def randomkey(self, **kwargs: Any) -> Any:
        """A random key of a random primary (None when that primary is empty)."""
        return self.execute_command("RANDOMKEY", **kwargs)

    def rename(self, src: KeyT, dst: KeyT) -> Any:
        """Rename a key (same slot); True."""
        return self.execute_command("RENAME", src, dst)

    def renamenx(self, src: KeyT, dst: KeyT) -> Any:
        """Rename if ``dst`` does not exist (same slot); bool."""
        return self.execute_command("RENAMENX", src, dst)

    def restore(self, name: KeyT, ttl: float, value: EncodableT, replace: bool = False,
                absttl: bool = False, idletime: Optional[int] = None,
                frequency: Optional[int] = None) -> Any:
        """Create a key from a DUMP payload."""
        pieces: List[Any] = [name, ttl, value]
        if replace:
            pieces.append("REPLACE")
        if absttl:
            pieces.append("ABSTTL")
        if idletime is not None:
            if not isinstance(idletime, int):
                raise DataError("idletime must be an integer")
            pieces += ["IDLETIME", idletime]
        if frequency is not None:
            if not isinstance(frequency, int):
                raise DataError("frequency must be an integer")
            pieces += ["FREQ", frequency]
        return self.execute_command("RESTORE", *pieces)

    def scan(self, cursor: int = 0, match: Any = None, count: Optional[int] = None,
             _type: Optional[str] = None, target_node: Any = None, **kwargs: Any) -> Any:
        """One SCAN step: ``(cursor, keys)`` on ``target_node``; without one, every primary
        answers and the result is ``{node name: (cursor, keys)}`` (redis-py-cluster)."""
        pieces = scan_args(cursor, match, count, _type)
        if target_node is not None:
            raw = self._execute_on_node(target_node, "SCAN", *pieces)
            return self._parse_reply("SCAN", raw, **kwargs)
        return self.execute_command("SCAN", *pieces, **kwargs)

    def scan_iter(self, match: Any = None, count: Optional[int] = None,
                  _type: Optional[str] = None, **kwargs: Any) -> Iterator[Any]:
        """Every key of every primary, node by node (keys moved by resharding meanwhile may be
        missed or seen twice, as with SCAN itself)."""
        for node in self._nodes_for_scan():
            cursor = 0
            while True:
                raw = self._execute_on_node(node, "SCAN", *scan_args(cursor, match, count, _type))
                cursor, keys = self._parse_reply("SCAN", raw, **kwargs)
                yield from keys
                if cursor == 0:
                    break

    def sort(self, name: KeyT, start: Optional[int] = None, num: Optional[int] = None,
             by: Optional[str] = None, get: Any = None, desc: bool = False, alpha: bool = False,
             store: Optional[KeyT] = None, groups: bool = False) -> Any:
        """Sorted elements of a list/set/zset (BY/GET patterns must hash to the same slot)."""
        pieces = self._sort_pieces(name, start, num, by, get, desc, alpha)
        if store is not None:
            pieces += ["STORE", store]
        if groups and (not get or isinstance(get, (bytes, str)) or len(get) < 2):
            raise DataError("when using ``groups`` the ``get`` argument must name at least "
                            "two patterns")
        options = {"groups": len(get) if groups and get else None}
        return self.execute_command("SORT", *pieces, **options)

    def sort_ro(self, key: KeyT, start: Optional[int] = None, num: Optional[int] = None,
                by: Optional[str] = None, get: Any = None, desc: bool = False,
                alpha: bool = False) -> Any:
        """Read-only SORT (may run on a replica)."""
        return self.execute_command(
            "SORT_RO", *self._sort_pieces(key, start, num, by, get, desc, alpha))

    @staticmethod
    def _sort_pieces(name: Any, start: Any, num: Any, by: Any, get: Any, desc: bool,
                     alpha: bool) -> List[Any]:
        pieces: List[Any] = [name]
        if by is not None:
            pieces += ["BY", by]
        pieces += limit_args(start, num)
        if get is not None:
            for pattern in ([get] if isinstance(get, (bytes, str)) else get):
                pieces += ["GET", pattern]
        if desc:
            pieces.append("DESC")
        if alpha:
            pieces.append("ALPHA")
        return pieces

    def touch(self, *args: KeyT) -> Any:
        """Touch keys; how many exist. Split by slot by the client: not atomic across slots."""
        return self.execute_command("TOUCH", *args)

    def ttl(self, name: KeyT) -> Any:
        """Remaining TTL in seconds; -1 no TTL, -2 no key."""
        return self.execute_command("TTL", name)

    def type(self, name: KeyT) -> Any:
        """The value's type name (``string``, ``list`` ... ``none``)."""
        return self.execute_command("TYPE", name)

    def unlink(self, *names: KeyT) -> Any:
        """Delete keys lazily; how many existed. Split by slot: not atomic across slots."""
        return self.execute_command("UNLINK", *names)
