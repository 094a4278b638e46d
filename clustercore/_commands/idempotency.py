"""Idempotency: ``is_idempotent`` and its per-command argument rules.

May the client send a command again when the first attempt's reply was lost (it may or may
not have run)? Only when a second application right after the first leaves the
same data as one application *and* the first reply carried nothing the second would lose:

* reads: yes (EVAL_RO, EVALSHA_RO and FCALL_RO included);
* converging writes: yes -- SET (without GET), SETEX, PSETEX, SETNX, MSET, MSETNX, SETRANGE,
  GETEX, DEL, UNLINK, COPY, RENAME, RENAMENX, RESTORE, EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT,
  PERSIST, HSET, HMSET, HSETNX, HDEL, LSET, SADD, SREM, SMOVE, ZADD (without INCR), ZREM,
  ZREMRANGEBYSCORE/BYLEX, PFADD, PFMERGE, GEOADD, XACK, XDEL, XTRIM, XSETID, XGROUP *,
  XADD with an explicit id, the ``*STORE`` commands (unless the destination is also a source),
  FLUSHALL/FLUSHDB, SCRIPT/FUNCTION LOAD/FLUSH/DELETE, CONFIG SET ...
  The *reply* to the repeat may differ: counts describe that call only (DEL -> 0, SADD -> 0),
  conditional writes report "not applied" (SETNX/SET NX -> not set, HSETNX, MSETNX, RENAMENX,
  EXPIRE NX, SMOVE -> 0), and re-creating what now exists is an error (XADD with the same id,
  XGROUP CREATE -> BUSYGROUP, RENAME -> no such key, RESTORE -> BUSYKEY, FUNCTION LOAD ->
  library exists). A caller that branches on such a reply (a lock taken with SET NX) should
  check the data (GET its token) when it matters;
* accumulating writes: no -- INCR*, DECR*, INCRBYFLOAT, HINCRBY*, ZINCRBY, ZADD INCR, APPEND,
  LPUSH/RPUSH(X), LINSERT, XADD with ``*`` or ``<ms>-*``, BITFIELD with SET/INCRBY;
* consuming writes: no -- LPOP/RPOP/SPOP/ZPOP*, every blocking pop, LMOVE, RPOPLPUSH, LMPOP,
  ZMPOP, GETDEL, XREADGROUP, XCLAIM, XAUTOCLAIM, ZREMRANGEBYRANK, LREM with count != 0, an LTRIM
  that would drop more on a second run (``LTRIM 1 -1``, ``LTRIM 0 -2``);
* writes that answer with the value they replaced: no -- GETSET, SET ... GET, SETBIT;
* opaque or delivered effects: no -- EVAL, EVALSHA, FCALL, PUBLISH, SPUBLISH, MIGRATE;
* connection-bound and node-only commands (see routing in :mod:`.specs`): no, they are never
  re-sent on their own.

``spec.idempotent`` is the answer for a command's plain form; ``is_idempotent(spec, args)``
refines it by arguments (SET ... GET, XADD id, ZADD INCR, LREM count, LTRIM range, BITFIELD
ops, ``*STORE`` destinations). Unknown commands are never idempotent.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Sequence

from .._slots import key_to_bytes
from ..errors import DataError
from .keys import keys_of, option_keys, sort_keys
from .specs import COMMANDS, CommandSpec, has_space, normalize_args, upper_word

__all__ = ["is_idempotent"]


def _set_idempotent(args: Sequence[Any]) -> bool:
    # SET key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL] [IFEQ v ...]
    i = 3
    while i < len(args):
        word = upper_word(args[i])
        if word == "GET":
            return False
        i += 2 if word in ("EX", "PX", "EXAT", "PXAT", "IFEQ", "IFNE", "IFDEQ", "IFDNE") else 1
    return True


def _xadd_idempotent(args: Sequence[Any]) -> bool:
    # XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT n]] <*|id> field value ...
    i = 2
    while i < len(args):
        word = upper_word(args[i])
        if word in ("NOMKSTREAM", "KEEPREF", "DELREF", "ACKED"):
            i += 1
        elif word in ("MAXLEN", "MINID"):
            i += 1
            if i < len(args) and upper_word(args[i]) in ("=", "~"):
                i += 1
            i += 1
        elif word == "LIMIT":
            i += 2
        elif word == "IDMPAUTO":
            return False
        elif word == "IDMP":
            return True
        else:
            ident = key_to_bytes(args[i]) if not isinstance(args[i], bytes) else args[i]
            return ident != b"*" and not ident.endswith(b"-*")
    return False


def _zadd_idempotent(args: Sequence[Any]) -> bool:
    for arg in args[2:]:
        word = upper_word(arg)
        if word == "INCR":
            return False
        if word not in ("NX", "XX", "GT", "LT", "CH"):
            return True
    return True


def _int_arg(args: Sequence[Any], pos: int) -> Optional[int]:
    try:
        return int(args[pos])
    except (IndexError, TypeError, ValueError):
        return None


def _lrem_idempotent(args: Sequence[Any]) -> bool:
    return _int_arg(args, 2) == 0


def _ltrim_idempotent(args: Sequence[Any]) -> bool:
    start, stop = _int_arg(args, 2), _int_arg(args, 3)
    if start is None or stop is None:
        return False
    return (start == 0 and (stop >= 0 or stop == -1)) or (start < 0 and stop == -1)


def _bitfield_idempotent(args: Sequence[Any]) -> bool:
    i = 2
    while i < len(args):
        word = upper_word(args[i])
        if word == "GET":
            i += 3
        elif word == "OVERFLOW":
            i += 2
        else:  # SET / INCRBY
            return False
    return True


def _as_bytes(arg: Any) -> bytes:
    try:
        return key_to_bytes(arg)
    except DataError:
        return repr(arg).encode()


def _store_rule(dest_of: Callable[[Sequence[Any]], Optional[Any]],
                spec_name: str) -> Callable[[Sequence[Any]], bool]:
    """Idempotent unless the destination is also a source (``A = A op B`` changes A again)."""

    def rule(args: Sequence[Any]) -> bool:
        dest = dest_of(args)
        if dest is None:
            return True
        target = _as_bytes(dest)
        keys = keys_of(COMMANDS[spec_name], args)
        return sum(1 for k in keys if _as_bytes(k) == target) <= 1

    return rule


def _first_key_dest(args: Sequence[Any]) -> Optional[Any]:
    return args[1] if len(args) > 1 else None


def _sort_dest(args: Sequence[Any]) -> Optional[Any]:
    keys = sort_keys(args)
    return keys[1] if len(keys) > 1 else None


def _georadius_dest(start: int) -> Callable[[Sequence[Any]], Optional[Any]]:
    def dest(args: Sequence[Any]) -> Optional[Any]:
        stores = option_keys(args, start, ("STORE", "STOREDIST"))
        return stores[0] if stores else None

    return dest


_IDEMPOTENT_IF: Dict[str, Callable[[Sequence[Any]], bool]] = {
    "SET": _set_idempotent,
    "XADD": _xadd_idempotent,
    "ZADD": _zadd_idempotent,
    "LREM": _lrem_idempotent,
    "LTRIM": _ltrim_idempotent,
    "BITFIELD": _bitfield_idempotent,
    "BITOP": _store_rule(lambda a: a[2] if len(a) > 2 else None, "BITOP"),
    "SORT": _store_rule(_sort_dest, "SORT"),
    "GEORADIUS": _store_rule(_georadius_dest(6), "GEORADIUS"),
    "GEORADIUSBYMEMBER": _store_rule(_georadius_dest(5), "GEORADIUSBYMEMBER"),
}
for _name in ("SDIFFSTORE", "SINTERSTORE", "SUNIONSTORE", "ZDIFFSTORE", "ZINTERSTORE",
              "ZUNIONSTORE", "ZRANGESTORE", "GEOSEARCHSTORE"):
    _IDEMPOTENT_IF[_name] = _store_rule(_first_key_dest, _name)


def is_idempotent(spec: Optional[CommandSpec], args: Sequence[Any]) -> bool:
    """Whether this call may be sent again after its reply was lost (module docstring)."""
    if spec is None:
        return False
    rule = _IDEMPOTENT_IF.get(spec.name)
    if rule is not None:
        if args and has_space(args[0]):
            args = normalize_args(args)
        return rule(args)
    return spec.idempotent
