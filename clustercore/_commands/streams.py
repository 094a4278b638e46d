"""The stream commands of :class:`~.api.CommandsMixin` (XADD, XREAD, XREADGROUP, XCLAIM, XGROUP *,
XINFO * ...), one method each with redis-py's name, arguments and return shape.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Sequence, Tuple

from ..errors import DataError
from .args import (
    EncodableT,
    KeyT,
)
from .base import CommandsBase

__all__ = ["StreamCommands"]

_REF_POLICIES = ("KEEPREF", "DELREF", "ACKED")


class StreamCommands(CommandsBase):
    """Stream commands, one method each (redis-py's names, arguments and return shapes)."""

    def xack(self, name: KeyT, groupname: Any, *ids: Any) -> Any:
        """Acknowledge messages; how many were pending."""
        return self.execute_command("XACK", name, groupname, *ids)

    def xadd(self, name: KeyT, fields: Mapping[Any, EncodableT], id: Any = "*",
             maxlen: Optional[int] = None, approximate: bool = True, nomkstream: bool = False,
             minid: Any = None, limit: Optional[int] = None, ref_policy: Optional[str] = None,
             idmpauto: Optional[str] = None, idmp: Optional[Tuple[Any, Any]] = None) -> Any:
        """Append an entry; its id. Only an explicit ``id`` (or ``idmp``) makes a retry safe.

        Redis 8.2+ options (an older server answers with a syntax error): ``ref_policy``
        (KEEPREF / DELREF / ACKED: what trimming does to consumer groups' references) and
        the idempotent-producer ids ``idmpauto=producer`` or ``idmp=(producer, id)``, which need
        ``id="*"``.
        """
        if maxlen is not None and minid is not None:
            raise DataError("Only one of ``maxlen`` or ``minid`` may be specified")
        if not isinstance(fields, Mapping) or not fields:
            raise DataError("XADD fields must be a non-empty dict")
        pieces: List[Any] = []
        if nomkstream:
            pieces.append("NOMKSTREAM")
        if ref_policy is not None or idmpauto is not None or idmp is not None:
            pieces += self._xadd_newer(id, ref_policy, idmpauto, idmp)
        pieces += self._trim_pieces(maxlen, approximate, minid, limit)
        pieces.append(id)
        for pair in fields.items():
            pieces.extend(pair)
        return self.execute_command("XADD", name, *pieces)

    @staticmethod
    def _xadd_newer(id: Any, ref_policy: Optional[str], idmpauto: Optional[str],
                    idmp: Optional[Tuple[Any, Any]]) -> List[Any]:
        """XADD's Redis 8.2+ pieces: the reference policy, then IDMPAUTO / IDMP."""
        pieces: List[Any] = []
        if ref_policy is not None:
            pieces.append(_ref_policy(ref_policy, "XADD"))
        if idmpauto is not None and idmp is not None:
            raise DataError("Only one of ``idmpauto`` or ``idmp`` may be specified")
        if (idmpauto is not None or idmp is not None) and id != "*":
            raise DataError(f"IDMPAUTO and IDMP can only be used with id='*', not {id!r}")
        if idmpauto is not None:
            pieces += ["IDMPAUTO", idmpauto]
        if idmp is not None:
            if not isinstance(idmp, tuple) or len(idmp) != 2:
                raise DataError(f"XADD idmp must be a (producer_id, idempotent_id) tuple, "
                                f"not {idmp!r}")
            pieces += ["IDMP", *idmp]
        return pieces

    @staticmethod
    def _trim_pieces(maxlen: Optional[int], approximate: bool, minid: Any,
                     limit: Optional[int]) -> List[Any]:
        pieces: List[Any] = []
        if maxlen is not None:
            if not isinstance(maxlen, int) or maxlen < 0:
                raise DataError("XADD/XTRIM maxlen must be a non-negative integer")
            pieces.append("MAXLEN")
        elif minid is not None:
            pieces.append("MINID")
        else:  # LIMIT alone is sent, as redis-py does: the server refuses it (not dropped)
            return pieces if limit is None else ["LIMIT", limit]
        if approximate:
            pieces.append("~")
        pieces.append(maxlen if maxlen is not None else minid)
        if limit is not None:
            pieces += ["LIMIT", limit]
        return pieces

    def xautoclaim(self, name: KeyT, groupname: Any, consumername: Any, min_idle_time: int,
                   start_id: Any = "0-0", count: Optional[int] = None,
                   justid: bool = False) -> Any:
        """Claim idle pending messages: ``[next id, entries, deleted ids]`` (ids with
        ``justid``)."""
        _non_negative(min_idle_time, "min_idle_time", "XAUTOCLAIM")
        pieces: List[Any] = [name, groupname, consumername, min_idle_time, start_id]
        if count is not None:
            if _non_negative(count, "count", "XAUTOCLAIM") < 1:
                raise DataError(f"XAUTOCLAIM count must be a positive integer, not {count!r}")
            pieces += ["COUNT", count]
        options = {}
        if justid:
            pieces.append("JUSTID")
            options["parse_justid"] = True
        return self.execute_command("XAUTOCLAIM", *pieces, **options)

    def xclaim(self, name: KeyT, groupname: Any, consumername: Any, min_idle_time: int,
               message_ids: Sequence[Any], idle: Optional[int] = None,
               time: Optional[int] = None, retrycount: Optional[int] = None,
               force: bool = False, justid: bool = False) -> Any:
        """Change the owner of pending messages; the claimed entries (ids with ``justid``)."""
        if not isinstance(min_idle_time, int) or min_idle_time < 0:
            raise DataError("XCLAIM min_idle_time must be a non negative integer")
        if not isinstance(message_ids, (list, tuple)) or not message_ids:
            raise DataError("XCLAIM message_ids must be a non empty list or tuple")
        pieces: List[Any] = [name, groupname, consumername, min_idle_time, *message_ids]
        for value, word in ((idle, "IDLE"), (time, "TIME"), (retrycount, "RETRYCOUNT")):
            if value is not None:
                if not isinstance(value, int):
                    raise DataError(f"XCLAIM {word.lower()} must be an integer")
                pieces += [word, value]
        options = {}
        if force:
            pieces.append("FORCE")
        if justid:
            pieces.append("JUSTID")
            options["parse_justid"] = True
        return self.execute_command("XCLAIM", *pieces, **options)

    def xdel(self, name: KeyT, *ids: Any) -> Any:
        """Delete entries; how many existed."""
        return self.execute_command("XDEL", name, *ids)

    def xgroup_create(self, name: KeyT, groupname: Any, id: Any = "$",
                      mkstream: bool = False, entries_read: Optional[int] = None) -> Any:
        """Create a consumer group; True."""
        pieces: List[Any] = [name, groupname, id]
        if mkstream:
            pieces.append("MKSTREAM")
        if entries_read is not None:
            pieces += ["ENTRIESREAD", entries_read]
        return self.execute_command("XGROUP", "CREATE", *pieces)

    def xgroup_createconsumer(self, name: KeyT, groupname: Any, consumername: Any) -> Any:
        """Create a consumer; 1 if created."""
        return self.execute_command("XGROUP", "CREATECONSUMER", name, groupname, consumername)

    def xgroup_delconsumer(self, name: KeyT, groupname: Any, consumername: Any) -> Any:
        """Delete a consumer; how many messages it had pending."""
        return self.execute_command("XGROUP", "DELCONSUMER", name, groupname, consumername)

    def xgroup_destroy(self, name: KeyT, groupname: Any) -> Any:
        """Destroy a consumer group; bool."""
        return self.execute_command("XGROUP", "DESTROY", name, groupname)

    def xgroup_setid(self, name: KeyT, groupname: Any, id: Any,
                     entries_read: Optional[int] = None) -> Any:
        """Set a group's last delivered id; True."""
        pieces: List[Any] = [name, groupname, id]
        if entries_read is not None:
            pieces += ["ENTRIESREAD", entries_read]
        return self.execute_command("XGROUP", "SETID", *pieces)

    def xinfo_consumers(self, name: KeyT, groupname: Any) -> Any:
        """A dict per consumer of the group."""
        return self.execute_command("XINFO", "CONSUMERS", name, groupname)

    def xinfo_groups(self, name: KeyT) -> Any:
        """A dict per consumer group of the stream."""
        return self.execute_command("XINFO", "GROUPS", name)

    def xinfo_stream(self, name: KeyT, full: bool = False) -> Any:
        """The stream's metadata as a dict (``full`` for everything)."""
        pieces = ["FULL"] if full else []
        return self.execute_command("XINFO", "STREAM", name, *pieces, full=full)

    def xlen(self, name: KeyT) -> Any:
        """The number of entries."""
        return self.execute_command("XLEN", name)

    def xpending(self, name: KeyT, groupname: Any) -> Any:
        """Pending summary: ``{pending, min, max, consumers: [{name, pending}]}``."""
        return self.execute_command("XPENDING", name, groupname)

    def xpending_range(self, name: KeyT, groupname: Any, min: Any, max: Any, count: int,
                       consumername: Any = None, idle: Optional[int] = None) -> Any:
        """Pending messages in an id range: a dict per message. With none of min, max and
        count: the group's summary (``xpending``), as in redis-py. A count or idle that is
        not a number raises ValueError, a negative one DataError (redis-py's checks)."""
        if min is None and max is None and count is None:
            if idle is not None or consumername is not None:
                raise DataError("if XPENDING is provided with idle time or consumername, it "
                                "must be provided with min, max and count parameters")
            return self.xpending(name, groupname)
        if min is None or max is None or count is None:
            raise DataError("XPENDING must be provided with min, max and count parameters, "
                            f"or none of them; got min={min!r}, max={max!r}, count={count!r}")
        pieces: List[Any] = [name, groupname]
        if idle is not None:
            _non_negative(idle, "idle", "XPENDING")
            pieces += ["IDLE", idle]
        _non_negative(count, "count", "XPENDING")
        pieces += [min, max, count]
        if consumername is not None:
            pieces.append(consumername)
        return self.execute_command("XPENDING", *pieces, parse_detail=True)

    def xrange(self, name: KeyT, min: Any = "-", max: Any = "+",
               count: Optional[int] = None) -> Any:
        """Entries in an id range: ``[(id, {field: value})]``."""
        pieces: List[Any] = [name, min, max]
        if count is not None:
            pieces += ["COUNT", count]
        return self.execute_command("XRANGE", *pieces)

    def xread(self, streams: Mapping[Any, Any], count: Optional[int] = None,
              block: Optional[int] = None, max_count: Optional[int] = None,
              max_size: Optional[int] = None) -> Any:
        """Read from streams (keys of one slot) after the given ids, blocking up to ``block``
        ms; ``[[stream, [(id, fields)]]]``. ``max_count`` / ``max_size`` (MAXCOUNT / MAXSIZE)
        need a server that has them (newer than Redis 8.2; older ones answer a syntax error)."""
        pieces = self._xread_options(count, block, max_count, max_size, "XREAD")
        return self.execute_command("XREAD", *pieces, *self._streams_pieces(streams))

    def xreadgroup(self, groupname: Any, consumername: Any, streams: Mapping[Any, Any],
                   count: Optional[int] = None, block: Optional[int] = None,
                   noack: bool = False, claim_min_idle_time: Optional[int] = None,
                   max_count: Optional[int] = None, max_size: Optional[int] = None) -> Any:
        """Read as a group consumer (``">"`` = new messages); same shape as xread.
        ``claim_min_idle_time`` (CLAIM, Redis 8.4+) also claims pending entries idle that long."""
        pieces: List[Any] = ["GROUP", groupname, consumername,
                             *self._xread_options(count, block, max_count, max_size,
                                                  "XREADGROUP")]
        if noack:
            pieces.append("NOACK")
        if claim_min_idle_time is not None:
            if (isinstance(claim_min_idle_time, bool) or not isinstance(claim_min_idle_time, int)
                    or claim_min_idle_time < 0):
                raise DataError(f"XREADGROUP claim_min_idle_time must be a non-negative "
                                f"integer, not {claim_min_idle_time!r}")
            pieces += ["CLAIM", claim_min_idle_time]
        return self.execute_command("XREADGROUP", *pieces, *self._streams_pieces(streams))

    @staticmethod
    def _xread_options(count: Optional[int], block: Optional[int],
                       max_count: Optional[int] = None, max_size: Optional[int] = None,
                       command: str = "XREAD") -> List[Any]:
        pieces: List[Any] = []
        if count is not None:
            if not isinstance(count, int) or count < 1:
                raise DataError(f"{command} count must be a positive integer, not {count!r}")
            pieces += ["COUNT", count]
        if max_count is not None:
            _positive(max_count, "max_count", command)
            if count is not None and max_count < count:
                raise DataError(f"{command} max_count ({max_count}) must be >= count ({count})")
            pieces += ["MAXCOUNT", max_count]
        if max_size is not None:
            pieces += ["MAXSIZE", _positive(max_size, "max_size", command)]
        if block is not None:
            if not isinstance(block, int) or block < 0:
                raise DataError(f"{command} block must be a non-negative integer, not {block!r}")
            pieces += ["BLOCK", block]
        return pieces

    @staticmethod
    def _streams_pieces(streams: Mapping[Any, Any]) -> List[Any]:
        if not isinstance(streams, Mapping) or not streams:
            raise DataError("XREAD streams must be a non empty dict")
        return ["STREAMS", *streams.keys(), *streams.values()]

    def xrevrange(self, name: KeyT, max: Any = "+", min: Any = "-",
                  count: Optional[int] = None) -> Any:
        """Entries in an id range, newest first."""
        pieces: List[Any] = [name, max, min]
        if count is not None:
            pieces += ["COUNT", count]
        return self.execute_command("XREVRANGE", *pieces)

    def xtrim(self, name: KeyT, maxlen: Optional[int] = None, approximate: bool = True,
              minid: Any = None, limit: Optional[int] = None,
              ref_policy: Optional[str] = None) -> Any:
        """Trim by MAXLEN or MINID; how many entries were removed. ``ref_policy`` (KEEPREF /
        DELREF / ACKED) needs Redis 8.2+."""
        if (maxlen is None) == (minid is None):
            raise DataError("Exactly one of ``maxlen`` or ``minid`` must be specified")
        pieces = self._trim_pieces(maxlen, approximate, minid, limit)
        if ref_policy is not None:
            pieces.append(_ref_policy(ref_policy, "XTRIM"))
        return self.execute_command("XTRIM", name, *pieces)


def _positive(value: Any, name: str, command: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DataError(f"{command} {name} must be a positive integer, not {value!r}")
    return value


def _non_negative(value: Any, name: str, command: str) -> int:
    """``int(value)`` (ValueError / TypeError when it is not a number, as redis-py's checks
    raise), DataError when negative; the value itself is sent as given."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{command} {name} must be an integer >= 0, not {value!r}") from None
    if number < 0:
        raise DataError(f"{command} {name} must be an integer >= 0, not {value!r}")
    return number


def _ref_policy(value: Any, command: str) -> Any:
    if value not in _REF_POLICIES:
        raise DataError(f"{command} ref_policy must be one of {_REF_POLICIES}, not {value!r}")
    return value
