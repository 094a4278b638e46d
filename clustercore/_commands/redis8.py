"""The commands redis-py 8.1 added for Redis 8.x servers, and the last few redis-py names the
families lacked, for :class:`~.api.CommandsMixin`: LMOVEM/BLMOVEM, DELEX/DIGEST (and the local
digest), INCREX, MSETEX, SDIFFCARD/SUNIONCARD, STRALGO, XACKDEL/XDELEX/XNACK/XCFGSET, HOTKEYS *,
SYNC/PSYNC, and the methods redis-py deliberately refuses (DEBUG SEGFAULT, FAILOVER, SCRIPT DEBUG,
SWAPDB in cluster mode), which refuse here with redis-py's exception and message.

Routing (:mod:`.specs_redis8`): keyed commands go to their key's slot owner; the multi-key ones
(LMOVEM, BLMOVEM, MSETEX, SDIFFCARD, SUNIONCARD, STRALGO ... KEYS) must keep their keys in one
slot (ClusterCrossSlotError otherwise, before anything is sent). STRALGO over two strings goes to
the default node, as redis-py's cluster client sends it. HOTKEYS START/STOP/RESET/GET go to every
primary and GET concatenates the nodes' session lists -- a deliberate difference: redis-py's
cluster client raises NotImplementedError for them; ``target_nodes=`` narrows them to given nodes.
SYNC and PSYNC turn the connection into a replication stream: they need ``target_nodes=`` (a
keyword redis-py's methods do not take) and are refused without.

Version gates: redis-py applies none (it marks DELEX, DIGEST, MSETEX ... experimental, warning on
each call; clustercore does not warn); a server too old for a command answers "unknown command".
"""

from __future__ import annotations

import enum
from typing import Any, List, Mapping, Optional, Sequence

from ..errors import DataError, RedisClusterException
from .args import AbsExpiryT, EncodableT, ExpiryT, KeyT, targets
from .base import CommandsBase
from .hashes import _expiry

__all__ = ["DataPersistOptions", "HotkeysMetricsTypes", "Redis8Commands"]

_END = ("LEFT", "RIGHT")
_REF_POLICIES = ("KEEPREF", "DELREF", "ACKED")
_NACK_MODES = ("SILENT", "FAIL", "FATAL")


class DataPersistOptions(enum.Enum):
    """MSETEX's condition (redis-py's enum of the same name and values)."""

    NX = "NX"
    XX = "XX"


class HotkeysMetricsTypes(enum.Enum):
    """HOTKEYS START's metrics (redis-py's enum of the same name and values)."""

    CPU = "CPU"
    NET = "NET"


def _value(option: Any) -> Any:
    """An enum member's value (redis-py's or ours), or the option itself."""
    return getattr(option, "value", option)


def _move_many(first_list: Any, second_list: Any, src: str, dest: str, timeout: Any,
               count: Optional[int], mode: Optional[str], ordering: Optional[str]) -> List[Any]:
    """LMOVEM / BLMOVEM arguments (``timeout`` None: the non-blocking form)."""
    if count is None:
        if mode is not None or ordering is not None:
            raise DataError("``count`` is required when ``mode`` or ``ordering`` is set")
    elif ordering is None:
        raise DataError("``ordering`` (OBO or BULK) is required when ``count`` is set")
    pieces: List[Any] = [first_list, second_list, src, dest]
    if timeout is not None:
        pieces.append(timeout)
    if count is not None:
        pieces += [mode or "COUNT", count, ordering]
    return pieces


def _ids(command: str, ids: Sequence[Any]) -> List[Any]:
    if not ids:
        raise DataError(f"{command} requires at least one message ID")
    return ["IDS", len(ids), *ids]


def _ref_policy(command: str, ref_policy: str) -> str:
    if ref_policy not in _REF_POLICIES:
        raise DataError(f"{command} ref_policy must be one of: KEEPREF, DELREF, ACKED "
                        f"(got {ref_policy!r})")
    return ref_policy


def _bounded(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DataError(f"XCFGSET {name} must be an integer between {low} and {high:,}, "
                        f"not {value!r}")
    return value


class Redis8Commands(CommandsBase):
    """The Redis 8.x commands (module docstring), one method each."""

    # --- lists -----------------------------------------------------------------------------------
    def lmovem(self, first_list: str, second_list: str, src: str = "LEFT", dest: str = "RIGHT",
               count: Optional[int] = None, mode: Optional[str] = None,
               ordering: Optional[str] = None) -> Any:
        """Move one element, or ``count`` (``mode`` COUNT: up to, EXACTLY: all or none) in
        ``ordering`` OBO / BULK, between two lists of one slot; the moved elements or None."""
        return self.execute_command("LMOVEM", *_move_many(
            first_list, second_list, src, dest, None, count, mode, ordering))

    def blmovem(self, first_list: str, second_list: str, timeout: float, src: str = "LEFT",
                dest: str = "RIGHT", count: Optional[int] = None, mode: Optional[str] = None,
                ordering: Optional[str] = None) -> Any:
        """:meth:`lmovem` that waits up to ``timeout`` seconds (0: forever) for elements; None
        on timeout."""
        return self.execute_command("BLMOVEM", *_move_many(
            first_list, second_list, src, dest, timeout, count, mode, ordering))

    # --- strings and keys ------------------------------------------------------------------------
    def delex(self, name: KeyT, ifeq: Any = None, ifne: Any = None, ifdeq: Optional[str] = None,
              ifdne: Optional[str] = None) -> Any:
        """Delete ``name`` if its value equals / differs from ``ifeq`` / ``ifne``, or its digest
        ``ifdeq`` / ``ifdne`` (at most one condition: ValueError, as redis-py); 1 when deleted."""
        conditions = [(w, v) for w, v in (("IFEQ", ifeq), ("IFNE", ifne), ("IFDEQ", ifdeq),
                                          ("IFDNE", ifdne)) if v is not None]
        if len(conditions) > 1:
            raise ValueError("Only one of IFEQ/IFNE/IFDEQ/IFDNE may be specified")
        pieces: List[Any] = ["DELEX", name]
        for word, value in conditions:
            pieces += [word, value]
        return self.execute_command(*pieces)

    def digest(self, name: KeyT) -> Any:
        """The XXH3 digest of ``name``'s string value as hex, or None for no such key."""
        return self.execute_command("DIGEST", name)

    def digest_local(self, value: Any) -> Any:
        """The digest :meth:`digest` would return for ``value``, computed here (str as UTF-8);
        bytes unless the client decodes replies. Needs the optional ``xxhash`` package
        (NotImplementedError without it, as redis-py)."""
        try:
            import xxhash  # type: ignore[import-not-found]
        except ImportError:
            raise NotImplementedError(
                "XXHASH support requires the optional 'xxhash' library. Install it with "
                "'pip install xxhash'.") from None
        hexdigest: str = xxhash.xxh3_64(value).hexdigest()
        encoder = getattr(self, "get_encoder", None)
        if encoder is not None and encoder().decode_responses:
            return hexdigest
        return hexdigest.encode()

    def increx(self, name: KeyT, *, byfloat: Optional[EncodableT] = None,
               byint: Optional[EncodableT] = None, lbound: Optional[EncodableT] = None,
               ubound: Optional[EncodableT] = None, saturate: bool = False,
               ex: Optional[ExpiryT] = None, px: Optional[ExpiryT] = None,
               exat: Optional[AbsExpiryT] = None, pxat: Optional[AbsExpiryT] = None,
               persist: bool = False, enx: bool = False) -> Any:
        """Increment ``name`` (by 1, ``byint`` or ``byfloat``) within ``lbound``..``ubound``
        (``saturate``: clamp instead of refusing), optionally setting its TTL; ``[new value,
        actual increment]``."""
        if byfloat is not None and byint is not None:
            raise DataError("``byfloat`` and ``byint`` are mutually exclusive.")
        expiry = _expiry(ex, px, exat, pxat, persist, "PERSIST")
        if enx and (not expiry or expiry == ["PERSIST"]):
            raise DataError("``enx`` requires one of ``ex``, ``px``, ``exat``, or ``pxat``.")
        pieces: List[Any] = [name]
        if byfloat is not None:
            pieces += ["BYFLOAT", byfloat]
        elif byint is not None:
            pieces += ["BYINT", byint]
        if lbound is not None:
            pieces += ["LBOUND", lbound]
        if ubound is not None:
            pieces += ["UBOUND", ubound]
        if saturate:
            pieces.append("SATURATE")
        pieces += expiry
        if enx:
            pieces.append("ENX")
        return self.execute_command("INCREX", *pieces)

    def msetex(self, mapping: Mapping[Any, EncodableT], data_persist_option: Any = None,
               ex: Optional[ExpiryT] = None, px: Optional[ExpiryT] = None,
               exat: Optional[AbsExpiryT] = None, pxat: Optional[AbsExpiryT] = None,
               keepttl: bool = False) -> Any:
        """Set every key of ``mapping`` (one slot) with one TTL, if all exist (XX) / none exists
        (NX) when ``data_persist_option`` says so; 1 when set, 0 when the condition failed."""
        options = _expiry(ex, px, exat, pxat, keepttl, "KEEPTTL")
        if data_persist_option:
            option = _value(data_persist_option)
            if str(option).upper() not in DataPersistOptions.__members__:
                raise DataError(f"msetex data_persist_option must be NX or XX, "
                                f"not {data_persist_option!r}")
            options.insert(0, option)
        pieces: List[Any] = ["MSETEX", len(mapping)]
        for pair in mapping.items():
            pieces.extend(pair)
        return self.execute_command(*pieces, *options)

    def stralgo(self, algo: str, value1: KeyT, value2: KeyT,
                specific_argument: str = "strings", len: bool = False, idx: bool = False,
                minmatchlen: Optional[int] = None, withmatchlen: bool = False,
                **kwargs: Any) -> Any:
        """STRALGO LCS (Redis 6.x; removed in 7.0) of two strings or two keys of one slot:
        the match, its length (``len``) or the match positions (``idx``)."""
        if algo != "LCS":
            raise DataError("The supported algorithms are: LCS")
        if specific_argument not in ("keys", "strings"):
            raise DataError("specific_argument can be only keys or strings")
        if len and idx:
            raise DataError("len and idx cannot be provided together.")
        target_nodes = kwargs.pop("target_nodes", None)
        if specific_argument == "strings" and target_nodes is None:
            target_nodes = "default-node"
        pieces: List[Any] = [algo, specific_argument.upper(), value1, value2]
        if len:
            pieces.append(b"LEN")
        if idx:
            pieces.append(b"IDX")
        if minmatchlen is not None:
            pieces += [b"MINMATCHLEN", minmatchlen]
        if withmatchlen:
            pieces.append(b"WITHMATCHLEN")
        return self.execute_command("STRALGO", *pieces, len=len, idx=idx,
                                    minmatchlen=minmatchlen, withmatchlen=withmatchlen,
                                    **kwargs, **targets(target_nodes))

    # --- sets ------------------------------------------------------------------------------------
    def sdiffcard(self, numkeys: int, keys: Sequence[KeyT], limit: int = 0) -> Any:
        """How many members the first set has that the others (one slot) lack, capped at
        ``limit`` (0: no cap)."""
        return self.execute_command("SDIFFCARD", numkeys, *keys, "LIMIT", limit)

    def sunioncard(self, numkeys: int, keys: Sequence[KeyT], limit: int = 0,
                   approx: bool = False) -> Any:
        """How many members the union of the sets (one slot) has, capped at ``limit``;
        ``approx``: a HyperLogLog estimate."""
        pieces: List[Any] = [numkeys, *keys]
        if approx:
            pieces.append("APPROX")
        return self.execute_command("SUNIONCARD", *pieces, "LIMIT", limit)

    # --- streams ---------------------------------------------------------------------------------
    def xackdel(self, name: KeyT, groupname: Any, *ids: Any,
                ref_policy: str = "KEEPREF") -> Any:
        """Acknowledge ``ids`` in ``groupname`` and delete them from the stream; one result
        code per id."""
        policy = _ref_policy("XACKDEL", ref_policy)
        return self.execute_command("XACKDEL", name, groupname, policy, *_ids("XACKDEL", ids))

    def xdelex(self, name: KeyT, *ids: Any, ref_policy: str = "KEEPREF") -> Any:
        """XDEL with a say over the consumer groups' references (``ref_policy``); one result
        code per id."""
        policy = _ref_policy("XDELEX", ref_policy)
        return self.execute_command("XDELEX", name, policy, *_ids("XDELEX", ids))

    def xcfgset(self, name: KeyT, idmp_duration: Optional[int] = None,
                idmp_maxsize: Optional[int] = None) -> Any:
        """Configure the stream's idempotent-id map: remember ids ``idmp_duration`` seconds
        (1..300), at most ``idmp_maxsize`` (1..1,000,000) per producer."""
        if idmp_duration is None and idmp_maxsize is None:
            raise DataError("XCFGSET requires at least one of idmp_duration or idmp_maxsize")
        pieces: List[Any] = []
        if idmp_duration is not None:
            pieces += [b"IDMP-DURATION", _bounded("idmp_duration", idmp_duration, 1, 300)]
        if idmp_maxsize is not None:
            pieces += [b"IDMP-MAXSIZE", _bounded("idmp_maxsize", idmp_maxsize, 1, 1000000)]
        return self.execute_command("XCFGSET", name, *pieces)

    def xnack(self, name: KeyT, groupname: Any, mode: str, *ids: Any,
              retrycount: Optional[int] = None, force: bool = False) -> Any:
        """Negatively acknowledge pending ``ids`` (``mode`` SILENT / FAIL / FATAL); how many."""
        pieces = _ids("XNACK", ids)
        if mode not in _NACK_MODES:
            raise DataError(f"XNACK mode must be one of: SILENT, FAIL, FATAL (got {mode!r})")
        if retrycount is not None:
            if retrycount < 0:
                raise DataError(f"XNACK retrycount must be >= 0, not {retrycount!r}")
            pieces += [b"RETRYCOUNT", retrycount]
        if force:
            pieces.append(b"FORCE")
        return self.execute_command("XNACK", name, groupname, mode, *pieces)

    # --- HOTKEYS ---------------------------------------------------------------------------------
    def hotkeys_start(self, metrics: Sequence[Any], count: Optional[int] = None,
                      duration: Optional[int] = None, sample_ratio: Optional[int] = None,
                      slots: Optional[Sequence[int]] = None, **kwargs: Any) -> Any:
        """Start a hot-key collection (``metrics``: HotkeysMetricsTypes CPU / NET) on every
        primary (or ``target_nodes``); "OK"."""
        args: List[Any] = ["HOTKEYS", "START", "METRICS", len(metrics),
                           *(str(_value(m)) for m in metrics)]
        for word, value in (("COUNT", count), ("DURATION", duration), ("SAMPLE", sample_ratio)):
            if value is not None:
                args += [word, value]
        if slots is not None:
            args += ["SLOTS", len(slots), *slots]
        return self.execute_command(*args, **kwargs)

    def hotkeys_stop(self, **kwargs: Any) -> Any:
        """Stop the running hot-key collection (its results stay for HOTKEYS GET); "OK"."""
        return self.execute_command("HOTKEYS STOP", **kwargs)

    def hotkeys_reset(self, **kwargs: Any) -> Any:
        """Drop the last collection's results; "OK"."""
        return self.execute_command("HOTKEYS RESET", **kwargs)

    def hotkeys_get(self, **kwargs: Any) -> Any:
        """The current or last collection's results: one dict per node's session."""
        return self.execute_command("HOTKEYS GET", **kwargs)

    # --- replication and what redis-py refuses ---------------------------------------------------
    def sync(self, **kwargs: Any) -> Any:
        """SYNC on ``target_nodes`` (required): the RDB payload, read undecoded. The connection
        then carries a replication stream: meant for tools, not applications."""
        return self.execute_command("SYNC", NEVER_DECODE=[], **kwargs)

    def psync(self, replicationid: str, offset: int, **kwargs: Any) -> Any:
        """PSYNC ``replicationid`` ``offset`` on ``target_nodes`` (required), read undecoded;
        as :meth:`sync`."""
        return self.execute_command("PSYNC", replicationid, offset, NEVER_DECODE=[], **kwargs)

    def swapdb(self, *args: Any, **kwargs: Any) -> Any:
        """Refused: a cluster has database 0 only (RedisClusterException, as redis-py)."""
        raise RedisClusterException("SWAPDB is not supported in cluster mode")

    def debug_segfault(self, **kwargs: Any) -> None:
        """Refused, as redis-py refuses it (NotImplementedError): it crashes the server."""
        raise NotImplementedError(
            "DEBUG SEGFAULT is intentionally not implemented in the client.")

    def failover(self) -> None:
        """Refused, as redis-py refuses it (NotImplementedError); use cluster_failover()."""
        raise NotImplementedError("FAILOVER is intentionally not implemented in the client.")

    def script_debug(self, *args: Any) -> None:
        """Refused, as redis-py refuses it (NotImplementedError): SCRIPT DEBUG turns one
        connection into a debugging session."""
        raise NotImplementedError("SCRIPT DEBUG is intentionally not implemented in the client.")
