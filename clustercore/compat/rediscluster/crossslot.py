"""Client-side emulations of the cross-slot commands redis-py-cluster 2.1.3 emulated.

Each function takes the client and the command's arguments. When every key hashes to one slot
the real command runs (atomic, as on a single Redis); otherwise the steps below run, one command
at a time, each routed, redirected and retried by clustercore as any command is. None of them is
atomic across slots: another client can see the intermediate states. What they guarantee
instead is that **no step deletes data before its copy is confirmed**, so a failure half way
(a connection error, a node dying, a failover) leaves a duplicate at worst, never a loss, and
the error raised says where things are (:class:`CrossSlotEmulationError`). The guide
(docs/migration-redis-py-cluster.md, "Emulated cross-slot commands") has the same list.

- ``rename(src, dst)``: DUMP src, PTTL src, RESTORE dst REPLACE (renamenx: without REPLACE, so
  a dst that appeared meanwhile makes it return False), then delete src **only if it still
  holds what was dumped** (a Lua compare-and-delete on src's slot). Stopped before the delete:
  both keys hold the value. src changed meanwhile: src is kept and CrossSlotEmulationError says
  dst holds the older value.
- ``smove(src, dst, member)``: SISMEMBER src, SADD dst, SREM src; a member another client
  removed from src meanwhile is taken out of dst again (if this call added it) and the result
  is False. Stopped after SADD: the member is in both sets.
- ``rpoplpush`` / ``brpoplpush(src, dst)``: the element moves atomically (RPOPLPUSH / BRPOPLPUSH)
  from src into a **backup list in src's slot** (``{tag}rediscluster:backup:<id>``), is
  LPUSHed to dst, then the backup is deleted. If the LPUSH fails the element is moved back to
  src's tail (LMOVE, atomic); if that fails too it stays in the backup list, which the error
  names. The element is never only in the client's memory.
- ``msetnx(mapping)``: EXISTS over all keys (any: False); then MSETNX per slot group, each
  atomic. A group refused because a key appeared meanwhile makes the groups written before it
  be deleted again, each key only if it still holds the value written here (compare-and-delete),
  and the result is False.
- ``sdiff`` / ``sinter`` / ``sunion``: SMEMBERS of each key, combined here (a read: no state
  is changed). The ``*store`` forms write the result with one MULTI/EXEC on dest's slot
  (DEL + SADD): dest changes atomically or not at all.
- ``pfmerge(dest, *sources)``: each source outside dest's slot is copied (DUMP/RESTORE, 60 s
  expiry) to a temporary key in dest's slot, then one PFMERGE into dest (dest's own registers
  included, as PFMERGE does), then the temporary keys are deleted. dest changes in one step.
- ``pfcount(*keys)``: the same copies into the first key's slot, one PFCOUNT, then cleanup.

Temporary and backup keys live in the slot they are needed in through a hash tag found once
per slot (:func:`slot_tag`). A failed cleanup of a temporary key is harmless: it expires.
"""

from __future__ import annotations

import itertools
import os
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Set,
    Tuple,
)

from ..._slots import NUM_SLOTS, key_slot
from ...errors import RedisError, ResponseError
from .exceptions import CrossSlotEmulationError

if TYPE_CHECKING:
    from ..._execution.client import RedisCluster

__all__ = [
    "TEMP_TTL_MS",
    "brpoplpush",
    "list_or_args",
    "mapping_args",
    "msetnx",
    "pfcount",
    "pfmerge",
    "rename",
    "rpoplpush",
    "set_combine",
    "set_combine_store",
    "slot_tag",
    "smove",
]

#: How long a temporary copy (pfmerge, pfcount) lives if its cleanup fails.
TEMP_TTL_MS = 60_000
#: How many candidate tags slot_tag tries at most (every slot is found far sooner).
TAG_SEARCH_LIMIT = 2_000_000

#: Delete KEYS[1] only if DUMP of it is still ARGV[1] (rename: src unchanged since copied).
DEL_IF_DUMP = ("if redis.call('DUMP', KEYS[1]) == ARGV[1] then "
               "return redis.call('DEL', KEYS[1]) end return 0")
#: Delete KEYS[1] only if it is still the string ARGV[1] (msetnx's rollback).
DEL_IF_VALUE = ("if redis.call('GET', KEYS[1]) == ARGV[1] then "
                "return redis.call('DEL', KEYS[1]) end return 0")

_tags: Dict[int, str] = {}
_tag_counter = itertools.count()


def slot_tag(slot: int) -> str:
    """A hash tag whose keys (``{tag}...``) hash to ``slot``: found by trying candidates once,
    remembering every slot met on the way (one search of a few ten thousand CRCs fills most of
    the table)."""
    found = _tags.get(slot)
    if found is not None:
        return found
    if not 0 <= slot < NUM_SLOTS:
        raise ValueError(f"slot must be 0..{NUM_SLOTS - 1}, got {slot!r}")
    for _ in range(TAG_SEARCH_LIMIT):
        candidate = f"rc{next(_tag_counter)}"
        _tags.setdefault(key_slot(candidate), candidate)
        if slot in _tags:
            return _tags[slot]
    raise RuntimeError(f"no hash tag found for slot {slot} in {TAG_SEARCH_LIMIT} tries")


def _temp_key(slot: int, purpose: str) -> str:
    return f"{{{slot_tag(slot)}}}rediscluster:{purpose}:{os.urandom(8).hex()}"


def mapping_args(command: str, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Dict[Any, Any]:
    """redis-py-cluster's ``mset(*args, **kwargs)`` arguments: one dict and/or keywords."""
    if args:
        if len(args) != 1 or not isinstance(args[0], dict):
            raise RedisError(f"{command} requires **kwargs or a single dict arg")
        return {**kwargs, **args[0]}
    return dict(kwargs)


def list_or_args(keys: Any, args: Tuple[Any, ...]) -> List[Any]:
    """redis-py's ``list_or_args``: one list of keys, or keys as separate arguments."""
    if isinstance(keys, (bytes, str, memoryview, int, float)):
        return [keys, *args]
    return [*keys, *args]


def _step(rc: RedisCluster, command: str, step: str) -> None:
    """Tell the client's emulation hook (tests: a failover in the middle) a step is next."""
    hook: Optional[Callable[[str, str], None]] = getattr(rc, "emulation_hook", None)
    if hook is not None:
        hook(command, step)


def _one_slot(rc: RedisCluster, keys: Iterable[Any]) -> bool:
    return len({rc.keyslot(k) for k in keys}) <= 1


# --- rename / renamenx ----------------------------------------------------------------------------
def rename(rc: RedisCluster, src: Any, dst: Any, nx: bool = False) -> bool:
    """RENAME (``nx``: RENAMENX) for keys in any slots; see the module docstring."""
    command = "RENAMENX" if nx else "RENAME"
    if src == dst:
        raise ResponseError("source and destination objects are the same")
    if _one_slot(rc, (src, dst)):
        return bool(rc.execute_command(command, src, dst))
    data = rc.dump(src)
    if data is None:
        raise ResponseError("no such key")
    ttl = rc.pttl(src)
    ttl = ttl if isinstance(ttl, int) and ttl > 0 else 0
    _step(rc, command, "restore")
    try:
        rc.restore(dst, ttl, data, replace=not nx)
    except ResponseError as exc:
        if nx and "BUSYKEY" in str(exc):
            return False  # dst exists: RENAMENX's "no"
        raise
    _step(rc, command, "delete-source")
    try:
        deleted = rc.eval(DEL_IF_DUMP, 1, src, data)
    except Exception as exc:
        raise CrossSlotEmulationError(command, (src, dst), (
            f"the value was copied to {dst!r} but {src!r} could not be deleted: both keys "
            "hold it")) from exc
    if not deleted:
        raise CrossSlotEmulationError(command, (src, dst), (
            f"{src!r} changed (or vanished) while it was copied: {dst!r} holds the value as "
            f"it was, {src!r} was left as it is now"))
    return True


# --- smove ------------------------------------------------------------------------------------
def smove(rc: RedisCluster, src: Any, dst: Any, value: Any) -> bool:
    """SMOVE for sets in any slots; see the module docstring."""
    if _one_slot(rc, (src, dst)):
        return bool(rc.execute_command("SMOVE", src, dst, value))
    if not rc.sismember(src, value):
        return False
    _step(rc, "SMOVE", "add")
    added = rc.sadd(dst, value)
    _step(rc, "SMOVE", "remove")
    try:
        removed = rc.srem(src, value)
    except Exception as exc:
        raise CrossSlotEmulationError("SMOVE", (src, dst, value), (
            f"the member was added to {dst!r} but could not be removed from {src!r}: it is in "
            "both sets")) from exc
    if not removed:  # another client took it out of src meanwhile: not ours to move
        if added:
            rc.srem(dst, value)
        return False
    return True


# --- rpoplpush / brpoplpush ------------------------------------------------------------------
def _pop_push(rc: RedisCluster, command: str, src: Any, dst: Any,
              timeout: Optional[float]) -> Any:
    if _one_slot(rc, (src, dst)):
        if timeout is None:
            return rc.execute_command("RPOPLPUSH", src, dst)
        return rc.execute_command("BRPOPLPUSH", src, dst, timeout)
    backup = _temp_key(rc.keyslot(src), "backup")
    if timeout is None:
        raw = rc.execute_command("RPOPLPUSH", src, backup, never_decode=True)
    else:
        raw = rc.execute_command("BRPOPLPUSH", src, backup, timeout, never_decode=True)
    if raw is None:
        return None
    _step(rc, command, "push")
    try:
        rc.lpush(dst, raw)
    except Exception as exc:
        try:
            rc.execute_command("LMOVE", backup, src, "RIGHT", "RIGHT")
        except Exception:
            raise CrossSlotEmulationError(command, (src, dst), (
                f"the element could not be pushed to {dst!r} nor put back on {src!r}: it is "
                f"in the backup list {backup!r}")) from exc
        raise
    _step(rc, command, "drop-backup")
    try:
        rc.delete(backup)
    except Exception as exc:
        raise CrossSlotEmulationError(command, (src, dst), (
            f"the element is in {dst!r}; its backup copy {backup!r} could not be deleted")
        ) from exc
    return rc.get_encoder().decode(raw)


def rpoplpush(rc: RedisCluster, src: Any, dst: Any) -> Any:
    """RPOPLPUSH for lists in any slots; see the module docstring."""
    return _pop_push(rc, "RPOPLPUSH", src, dst, None)


def brpoplpush(rc: RedisCluster, src: Any, dst: Any, timeout: Optional[float] = 0) -> Any:
    """BRPOPLPUSH for lists in any slots (None once ``timeout`` seconds pass, 0: no limit)."""
    return _pop_push(rc, "BRPOPLPUSH", src, dst, timeout or 0)


def _msetnx_here(rc: RedisCluster, mapping: Mapping[Any, Any]) -> bool:
    """The real MSETNX (all keys in one slot)."""
    return bool(rc.execute_command("MSETNX", *itertools.chain.from_iterable(mapping.items())))


# --- msetnx ------------------------------------------------------------------------------------
def msetnx(rc: RedisCluster, mapping: Mapping[Any, Any]) -> bool:
    """MSETNX for keys in any slots; see the module docstring."""
    if not mapping:
        raise ResponseError("wrong number of arguments for 'msetnx' command")
    if _one_slot(rc, mapping):
        return _msetnx_here(rc, mapping)
    if rc.exists(*mapping):
        return False
    groups: Dict[int, Dict[Any, Any]] = {}
    for key, value in mapping.items():
        groups.setdefault(rc.keyslot(key), {})[key] = value
    written: List[Dict[Any, Any]] = []
    for group in groups.values():
        _step(rc, "MSETNX", "group")
        if _msetnx_here(rc, group):
            written.append(group)
            continue
        for done in written:  # undo, but only what still holds our values
            for key, value in done.items():
                rc.eval(DEL_IF_VALUE, 1, key, value)
        return False
    return True


# --- sets -----------------------------------------------------------------------------------------
_COMBINE: Dict[str, Callable[[Set[Any], Set[Any]], Set[Any]]] = {
    "SDIFF": lambda a, b: a - b,
    "SINTER": lambda a, b: a & b,
    "SUNION": lambda a, b: a | b,
}


def set_combine(rc: RedisCluster, command: str, keys: List[Any]) -> Set[Any]:
    """SDIFF / SINTER / SUNION over sets in any slots (SMEMBERS of each, combined here)."""
    if not keys:
        raise ResponseError(f"wrong number of arguments for '{command.lower()}' command")
    if _one_slot(rc, keys):
        return set(rc.execute_command(command, *keys) or ())
    combine = _COMBINE[command]
    result = set(rc.smembers(keys[0]) or ())
    for key in keys[1:]:
        result = combine(result, set(rc.smembers(key) or ()))
    return result


def set_combine_store(rc: RedisCluster, command: str, dest: Any, keys: List[Any]) -> int:
    """The ``*STORE`` forms: the result written to ``dest`` in one MULTI/EXEC (DEL + SADD)."""
    if _one_slot(rc, [dest, *keys]):
        return int(rc.execute_command(f"{command}STORE", dest, *keys))
    members = set_combine(rc, command, keys)
    _step(rc, f"{command}STORE", "store")
    pipe = rc.pipeline(transaction=True)
    pipe.delete(dest)
    if members:
        pipe.sadd(dest, *members)
    pipe.execute()
    return len(members)


# --- HyperLogLog ---------------------------------------------------------------------------------
def _copies_into(rc: RedisCluster, slot: int, keys: Iterable[Any], command: str) -> List[Any]:
    """Each key outside ``slot`` copied (DUMP/RESTORE, expiring) into a temporary key in it;
    keys already there as they are. Missing keys are left out (an empty HLL adds nothing)."""
    out: List[Any] = []
    for key in keys:
        if rc.keyslot(key) == slot:
            out.append(key)
            continue
        data = rc.dump(key)
        if data is None:
            continue
        temp = _temp_key(slot, "hll")
        _step(rc, command, "copy")
        rc.restore(temp, TEMP_TTL_MS, data, replace=True)
        out.append(temp)
    return out


def _drop(rc: RedisCluster, keys: Iterable[Any], originals: Iterable[Any]) -> None:
    temps = [k for k in keys if k not in set(originals)]
    for temp in temps:  # best effort: they expire anyway
        try:
            rc.delete(temp)
        except Exception:  # the copy expires in TEMP_TTL_MS
            pass


def pfmerge(rc: RedisCluster, dest: Any, *sources: Any) -> bool:
    """PFMERGE for HyperLogLogs in any slots; see the module docstring."""
    if _one_slot(rc, (dest, *sources)):
        return bool(rc.execute_command("PFMERGE", dest, *sources))
    keys = _copies_into(rc, rc.keyslot(dest), sources, "PFMERGE")
    try:
        _step(rc, "PFMERGE", "merge")
        rc.execute_command("PFMERGE", dest, *keys)
    finally:
        _drop(rc, keys, sources)
    return True


def pfcount(rc: RedisCluster, *sources: Any) -> int:
    """PFCOUNT (the union's cardinality) for HyperLogLogs in any slots."""
    if not sources:
        raise ResponseError("wrong number of arguments for 'pfcount' command")
    if _one_slot(rc, sources):
        return int(rc.execute_command("PFCOUNT", *sources))
    keys = _copies_into(rc, rc.keyslot(sources[0]), sources, "PFCOUNT")
    try:
        return int(rc.execute_command("PFCOUNT", *keys)) if keys else 0
    finally:
        _drop(rc, keys, sources)
