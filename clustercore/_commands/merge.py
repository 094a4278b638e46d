"""How several replies become one return value: the parts of a command split by slot
(``merge_split``) and the per-node replies of a fan-out command (``merge_replies``, as the spec's
:class:`~.specs.Merge` says).

Pure functions over replies already read; a reply that is an exception is raised (the first in
order) unless the merge rule tolerates it. The client calls them once every part of a
:func:`.keys.split_by_slot` call, or every node of an ``ALL_PRIMARIES``/``ALL_NODES`` command, has
answered; the API mixin's ``_merge_results`` falls back to ``merge_replies`` when no result
callback is set.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence, Tuple

from .specs import CommandSpec, Merge

__all__ = ["merge_replies", "merge_split"]


def merge_split(spec: CommandSpec, parts: Sequence[Tuple[Sequence[int], Any]]) -> Any:
    """Join the replies of :func:`split_by_slot` parts: ``[(key indexes, reply), ...]``."""
    size = 0
    for indexes, reply in parts:
        if isinstance(reply, BaseException):
            raise reply
        size += len(indexes)
    if spec.merge is Merge.KEY_ORDER:
        values: List[Any] = [None] * size
        for indexes, reply in parts:
            for i, value in zip(indexes, reply):
                values[i] = value
        return values
    return merge_replies(spec.merge, {n: reply for n, (_, reply) in enumerate(parts)})


def merge_replies(merge: Merge, replies: Mapping[Any, Any]) -> Any:
    """Combine per-node replies ``{node name: reply}`` as ``merge`` says.

    A reply that is an exception is raised (the first one in order), except for ANY_OK, which
    raises only when no node succeeded.
    """
    values = list(replies.values())
    errors = [v for v in values if isinstance(v, BaseException)]
    if merge is Merge.ANY_OK:
        good = [v for v in values if not isinstance(v, BaseException)]
        if good:
            return good[0]
        if errors:
            raise errors[0]
        return None
    if errors:
        raise errors[0]
    if merge is Merge.FIRST:
        return values[0] if values else None
    if merge is Merge.LIST:
        return values
    if merge is Merge.SUM:
        return sum(int(v) for v in values)
    if merge is Merge.MIN:
        return min(int(v) for v in values) if values else None
    if merge is Merge.MAX:
        return max(int(v) for v in values) if values else None
    if merge is Merge.CONCAT:
        out: List[Any] = []
        for v in values:
            out.extend(v or ())
        return out
    if merge is Merge.UNION:
        seen: Dict[Any, None] = {}
        for v in values:
            seen.update(dict.fromkeys(v or ()))
        return list(seen)
    if merge is Merge.SUM_BY_KEY:
        totals: Dict[Any, int] = {}
        for v in values:
            pairs = list(v or ())
            if pairs and not isinstance(pairs[0], (tuple, list)):
                pairs = list(zip(pairs[0::2], pairs[1::2]))
            for name, count in pairs:
                totals[name] = totals.get(name, 0) + int(count)
        return list(totals.items())
    if merge is Merge.ALL_OK:
        return True
    if merge is Merge.AND or merge is Merge.OR:
        combine = all if merge is Merge.AND else any
        if values and isinstance(values[0], (list, tuple)):
            return [combine(column) for column in zip(*values)]
        return combine(values)
    if merge is Merge.DICT_BY_NODE:
        return dict(replies)
    raise ValueError(f"{merge} is merged by merge_split, not merge_replies")
