"""Key arguments and hash slots of one call, read from its :class:`~.specs.CommandSpec`.

``keys_of`` lists a call's key arguments: the positions the spec names (see :mod:`.specs`), plus
the few commands whose extra keys follow option keywords (SORT ... STORE, GEORADIUS ...
STORE/STOREDIST, MIGRATE ... KEYS). ``slot_of`` turns them into the one hash slot the call must go
to. ``SINGLE_KEY`` indexes the commands whose one key sits at a fixed position and that never
block: the client's fast path hashes ``args[spec.first_key]`` and calls neither. It is built here,
not with the table, because which commands qualify depends on the key extractors of this module.

Multi-key commands with ``split=True`` (MGET, MSET, DEL, UNLINK, EXISTS, TOUCH) may be split by
the client into one sub-command per slot (``split_by_slot``) and joined with
:func:`.merge.merge_split`; they are then not atomic across slots. Every other multi-key
command is atomic and must name keys of one slot (``slot_of`` raises ClusterCrossSlotError
before anything is sent).

The argument walkers ``xread_walk``, ``keyword_index``, ``option_keys`` and ``sort_keys`` are
public because ``idempotency`` and ``blocking`` read the same positions.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .._slots import NUM_SLOTS, key_slot, key_slots
from ..errors import CrossSlotKeysError, DataError
from .specs import FIRST_WORDS, CommandSpec, Route, has_space, normalize_args, upper_word

__all__ = [
    "SINGLE_KEY",
    "Arg",
    "keys_of",
    "keyword_index",
    "option_keys",
    "slot_of",
    "sort_keys",
    "split_by_slot",
    "xread_walk",
]

#: ``keys_of`` argument: a key argument as the caller gave it.
Arg = Any


def _eq(arg: Any, word: str) -> bool:
    w = upper_word(arg)
    return w == word


def xread_walk(args: Sequence[Any]) -> Tuple[int, Dict[str, Any]]:
    """XREAD/XREADGROUP: (index of STREAMS or -1, {option word: its value}), skipping values."""
    options: Dict[str, Any] = {}
    i = 1
    n = len(args)
    while i < n:
        word = upper_word(args[i])
        if word == "STREAMS":
            return i, options
        if word == "GROUP":
            i += 3
        elif word in ("COUNT", "BLOCK", "CLAIM"):
            if i + 1 < n:
                options[word] = args[i + 1]
            i += 2
        else:  # NOACK and anything unknown
            i += 1
    return -1, options


def _streams_index(args: Sequence[Any]) -> int:
    """Index of the STREAMS keyword of XREAD/XREADGROUP, skipping option values; -1 if none."""
    return xread_walk(args)[0]


def keyword_index(args: Sequence[Any], keyword: str) -> int:
    if keyword == "STREAMS":
        return _streams_index(args)
    for i in range(1, len(args)):
        if _eq(args[i], keyword):
            return i
    return -1


def _numkeys(args: Sequence[Any], pos: int) -> int:
    try:
        value = int(args[pos])
    except IndexError:
        return 0
    except (TypeError, ValueError):
        raise DataError(f"numkeys argument {args[pos]!r} is not an integer") from None
    return max(value, 0)


def _range_keys(spec: CommandSpec, args: Sequence[Any]) -> List[Arg]:
    first = spec.first_key
    if not first:
        return []
    last = spec.last_key
    if last < 0:
        last += len(args)
    return list(args[first:last + 1:spec.key_step or 1])


def option_keys(args: Sequence[Any], start: int, words: Tuple[str, ...]) -> List[Arg]:
    """Arguments that follow one of ``words`` (SORT ... STORE dest, GEORADIUS ... STORE k)."""
    found = []
    for i in range(start, len(args) - 1):
        if upper_word(args[i]) in words:
            found.append(args[i + 1])
    return found


def _migrate_keys(args: Sequence[Any]) -> List[Arg]:
    # MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw|AUTH2 u pw] [KEYS k ...]
    for i in range(6, len(args)):
        word = upper_word(args[i])
        if word == "AUTH":
            continue
        if word == "KEYS":
            return list(args[i + 1:])
    key = args[3] if len(args) > 3 else None
    return [key] if key not in (None, b"", "") else []


def sort_keys(args: Sequence[Any]) -> List[Arg]:
    # SORT key [BY p] [LIMIT o c] [GET p ...] [ASC|DESC] [ALPHA] [STORE dest]
    keys = list(args[1:2])
    i = 2
    while i < len(args) - 1:
        word = upper_word(args[i])
        if word == "STORE":
            keys.append(args[i + 1])
            i += 2
        elif word in ("BY", "GET"):
            i += 2
        elif word == "LIMIT":
            i += 3
        else:
            i += 1
    return keys


def msetex_keys(args: Sequence[Any]) -> List[Arg]:
    # MSETEX numkeys key value [key value ...] [NX|XX] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL]
    count = _numkeys(args, 1)
    return list(args[2:2 + 2 * count:2])


def stralgo_keys(args: Sequence[Any]) -> List[Arg]:
    # STRALGO LCS KEYS k1 k2 [...]: two keys; STRALGO LCS STRINGS a b [...]: none
    return list(args[3:5]) if len(args) > 2 and upper_word(args[2]) == "KEYS" else []


_CUSTOM_KEYS: Dict[str, Callable[[Sequence[Any]], List[Arg]]] = {
    "MIGRATE": _migrate_keys,
    "SORT": sort_keys,
    "MSETEX": msetex_keys,
    "STRALGO": stralgo_keys,
    "GEORADIUS": lambda a: [*a[1:2], *option_keys(a, 6, ("STORE", "STOREDIST"))],
    "GEORADIUSBYMEMBER": lambda a: [*a[1:2], *option_keys(a, 5, ("STORE", "STOREDIST"))],
}


def _single_key(spec: CommandSpec) -> bool:
    """Whether every call of ``spec`` names exactly one key, at a fixed position, and never
    blocks: the slot is then ``key_slot(args[spec.first_key])`` and nothing else is needed."""
    return (spec.route is Route.SLOT and spec.first_key > 0 and spec.first_key == spec.last_key
            and not spec.numkeys_arg and not spec.keys_after and not spec.split
            and spec.blocking_timeout_arg is None and spec.name not in _CUSTOM_KEYS)


#: First argument (the spellings :data:`.specs.FIRST_WORDS` knows) -> spec, for the one-key
#: commands only (GET, SET, HGET, INCR ...): the client's fast path skips lookup() and slot_of()
#: for them.
SINGLE_KEY: Mapping[Any, CommandSpec] = MappingProxyType(
    {word: spec for word, spec in FIRST_WORDS.items()
     if isinstance(spec, CommandSpec) and _single_key(spec)})


def keys_of(spec: CommandSpec, args: Sequence[Any]) -> List[Arg]:
    """The key arguments of one call, in argument order (may be empty)."""
    if args and has_space(args[0]):
        args = normalize_args(args)
    custom = _CUSTOM_KEYS.get(spec.name)
    if custom is not None:
        return custom(args)
    if spec.keys_after:
        at = keyword_index(args, spec.keys_after)
        if at < 0:
            return []
        rest = args[at + 1:]
        return list(rest[:len(rest) // 2])
    keys = _range_keys(spec, args) if spec.first_key else []
    if spec.numkeys_arg:
        pos = spec.numkeys_arg
        count = _numkeys(args, pos)
        keys.extend(args[pos + 1:pos + 1 + count])
    return keys


def slot_of(spec: CommandSpec, args: Sequence[Any], encoding: str = "utf-8") -> Optional[int]:
    """The one hash slot this call must go to, or None when any node will do.

    Raises ClusterCrossSlotError when the keys hash to different slots, and DataError for a
    bad slot argument.
    """
    route = spec.route
    if route is Route.SLOT or route is Route.CONNECTION:
        first = spec.first_key
        if first and first == spec.last_key and not spec.numkeys_arg and (
                spec.name not in _CUSTOM_KEYS) and len(args) > first and not has_space(args[0]):
            return key_slot(args[first], encoding)
        keys = keys_of(spec, args)
        if not keys:
            return None
        slot = key_slot(keys[0], encoding)
        for key in keys[1:]:
            if key_slot(key, encoding) != slot:
                raise CrossSlotKeysError(
                    f"CROSSSLOT Keys in request don't hash to the same slot ({spec.name}); "
                    "use {hash tags} to keep them together")
        return slot
    if route is Route.SLOT_ARG:
        args = normalize_args(args)
        try:
            slot = int(args[spec.slot_arg])
        except (IndexError, TypeError, ValueError):
            raise DataError(f"{spec.name} needs a slot number argument") from None
        if not 0 <= slot < NUM_SLOTS:
            raise DataError(f"slot {slot} is outside 0..{NUM_SLOTS - 1}")
        return slot
    if route is Route.CHANNEL:
        return key_slot(args[1], encoding) if len(args) > 1 else None
    return None


# --- splitting multi-key commands by slot ------------------------------------------------------------
def split_by_slot(spec: CommandSpec, args: Sequence[Any], encoding: str = "utf-8",
                  ) -> List[Tuple[int, Tuple[Any, ...], List[int]]]:
    """One ``(slot, sub-command args, key indexes)`` per slot, in first-seen slot order.

    Key indexes count keys (not arguments) in the caller's order, for :func:`merge_split`.
    Only for ``spec.split`` commands, whose keys (with their values, MSET) fill args[1:].
    """
    step = spec.key_step or 1
    first = spec.first_key
    head = args[0]
    slots = key_slots(args[first::step], encoding)
    if len(set(slots)) == len(slots):  # every key in a slot of its own: no grouping needed
        if step == 1:
            return [(slot, (head, key), [n])
                    for n, (slot, key) in enumerate(zip(slots, args[first:]))]
        return [(slot, (head, *args[i:i + step]), [n])
                for n, (slot, i) in enumerate(zip(slots, range(first, len(args), step)))]
    groups: Dict[int, Tuple[List[Any], List[int]]] = {}
    for n, slot in enumerate(slots):
        i = first + n * step
        group = groups.get(slot)
        if group is None:
            groups[slot] = ([head, *args[i:i + step]], [n])
        else:
            group[0].extend(args[i:i + step])
            group[1].append(n)
    return [(slot, tuple(sub), indexes) for slot, (sub, indexes) in groups.items()]
