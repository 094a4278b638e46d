"""The sorted-set commands of :class:`~.api.CommandsMixin` (ZADD, ZRANGE, ZPOPMIN, ZUNIONSTORE,
ZSCAN ...), one method each with redis-py's name, arguments and return shape.
"""

from __future__ import annotations

from typing import Any, Iterator, List, Mapping, Optional, Sequence

from ..errors import DataError
from .args import (
    EncodableT,
    KeyT,
    ScoreCast,
    limit_args,
    list_or_args,
    scan_args,
)
from .base import CommandsBase

__all__ = ["SortedSetCommands"]


class SortedSetCommands(CommandsBase):
    """Sorted-set commands, one method each (redis-py's names, arguments and return shapes)."""

    def bzmpop(self, timeout: float, numkeys: int, keys: Sequence[KeyT], min: bool = False,
               max: bool = False, count: Optional[int] = 1) -> Any:
        """Blocking ZMPOP (same slot); ``[key, [[member, score]]]`` or None."""
        return self.execute_command("BZMPOP", timeout, *self._zmpop_args(numkeys, keys, min,
                                                                         max, count))

    def bzpopmax(self, keys: Any, timeout: float = 0) -> Any:
        """Blocking ZPOPMAX over keys (same slot); ``(key, member, score)`` or None."""
        return self.execute_command("BZPOPMAX", *list_or_args(keys, ()), timeout or 0)

    def bzpopmin(self, keys: Any, timeout: float = 0) -> Any:
        """Blocking ZPOPMIN over keys (same slot); ``(key, member, score)`` or None."""
        return self.execute_command("BZPOPMIN", *list_or_args(keys, ()), timeout or 0)

    def zadd(self, name: KeyT, mapping: Mapping[Any, EncodableT], nx: bool = False,
             xx: bool = False, ch: bool = False, incr: bool = False, gt: bool = False,
             lt: bool = False) -> Any:
        """Add ``{member: score}``; the count (changed with ``ch``) or, with ``incr``, the new
        score."""
        if not mapping:
            raise DataError("ZADD requires at least one element/score pair")
        if nx and xx:
            raise DataError("ZADD allows either 'nx' or 'xx', not both")
        if gt and lt:
            raise DataError("ZADD allows either 'gt' or 'lt', not both")
        if nx and (gt or lt):
            raise DataError("Only one of 'nx', 'lt', or 'gt' may be defined")
        if incr and len(mapping) != 1:
            raise DataError("ZADD option 'incr' only works with a single element/score pair")
        pieces: List[Any] = [word for word, on in (("NX", nx), ("XX", xx), ("GT", gt),
                                                   ("LT", lt), ("CH", ch), ("INCR", incr)) if on]
        options = {"as_score": True} if incr else {}
        for member, score in mapping.items():
            pieces += [score, member]
        return self.execute_command("ZADD", name, *pieces, **options)

    def zcard(self, name: KeyT) -> Any:
        """The number of members."""
        return self.execute_command("ZCARD", name)

    def zcount(self, name: KeyT, min: Any, max: Any) -> Any:
        """Members with a score between ``min`` and ``max``."""
        return self.execute_command("ZCOUNT", name, min, max)

    def zdiff(self, keys: Sequence[KeyT], withscores: bool = False) -> Any:
        """Members of the first zset not in the others (same slot; flat with scores)."""
        pieces: List[Any] = [len(keys), *keys]
        if withscores:
            pieces.append("WITHSCORES")
        return self.execute_command("ZDIFF", *pieces)

    def zdiffstore(self, dest: KeyT, keys: Sequence[KeyT]) -> Any:
        """Store ZDIFF in ``dest`` (same slot); its size."""
        return self.execute_command("ZDIFFSTORE", dest, len(keys), *keys)

    def zincrby(self, name: KeyT, amount: float, value: EncodableT) -> Any:
        """Increment a member's score; the new score (float)."""
        return self.execute_command("ZINCRBY", name, amount, value)

    def zinter(self, keys: Any, aggregate: Optional[str] = None,
               withscores: bool = False) -> Any:
        """Intersection (same slot); members or ``[(member, score)]``."""
        return self._zaggregate("ZINTER", None, keys, aggregate, withscores=withscores)

    def zintercard(self, numkeys: int, keys: Sequence[KeyT], limit: int = 0) -> Any:
        """Size of the intersection (same slot)."""
        return self.execute_command("ZINTERCARD", numkeys, *keys, "LIMIT", limit)

    def zinterstore(self, dest: KeyT, keys: Any, aggregate: Optional[str] = None) -> Any:
        """Store the intersection (``keys`` may map key -> weight; same slot); its size."""
        return self._zaggregate("ZINTERSTORE", dest, keys, aggregate)

    def zlexcount(self, name: KeyT, min: EncodableT, max: EncodableT) -> Any:
        """Members between two lexicographic bounds."""
        return self.execute_command("ZLEXCOUNT", name, min, max)

    def zmpop(self, num_keys: int, keys: Sequence[KeyT], min: bool = False,
              max: bool = False, count: Optional[int] = 1) -> Any:
        """Pop from the first non-empty zset (same slot); ``[key, [[member, score]]]``."""
        return self.execute_command("ZMPOP", *self._zmpop_args(num_keys, keys, min, max, count))

    @staticmethod
    def _zmpop_args(numkeys: int, keys: Sequence[Any], low: bool, high: bool,
                    count: Optional[int]) -> List[Any]:
        if low == high:
            raise DataError("Exactly one of ``min`` or ``max`` must be True")
        pieces: List[Any] = [numkeys, *keys, "MIN" if low else "MAX"]
        if count != 1:
            pieces += ["COUNT", count]
        return pieces

    def zmscore(self, key: KeyT, members: Sequence[EncodableT]) -> Any:
        """Scores of several members (None where missing)."""
        if not members:
            raise DataError("ZMSCORE members must be a non-empty list")
        return self.execute_command("ZMSCORE", key, *members)

    def zpopmax(self, name: KeyT, count: Optional[int] = None) -> Any:
        """Pop the highest-scored member(s): ``[(member, score)]``."""
        pieces = [count] if count is not None else []
        return self.execute_command("ZPOPMAX", name, *pieces, withscores=True)

    def zpopmin(self, name: KeyT, count: Optional[int] = None) -> Any:
        """Pop the lowest-scored member(s): ``[(member, score)]``."""
        pieces = [count] if count is not None else []
        return self.execute_command("ZPOPMIN", name, *pieces, withscores=True)

    def zrandmember(self, key: KeyT, count: Optional[int] = None,
                    withscores: bool = False) -> Any:
        """Random member(s) (a flat member/score list with ``withscores``)."""
        pieces: List[Any] = []
        if count is not None:
            pieces.append(count)
        if withscores:
            pieces.append("WITHSCORES")
        return self.execute_command("ZRANDMEMBER", key, *pieces)

    def zrange(self, name: KeyT, start: Any, end: Any, desc: bool = False,
               withscores: bool = False, score_cast_func: ScoreCast = float,
               byscore: bool = False, bylex: bool = False, offset: Optional[int] = None,
               num: Optional[int] = None) -> Any:
        """Members by rank (or score/lex range); ``[(member, score)]`` with ``withscores``."""
        pieces = self._zrange_pieces(name, start, end, desc, byscore, bylex, withscores,
                                     offset, num)
        return self.execute_command("ZRANGE", *pieces, withscores=withscores,
                                    score_cast_func=score_cast_func)

    @staticmethod
    def _zrange_pieces(name: Any, start: Any, end: Any, desc: bool, byscore: bool, bylex: bool,
                       withscores: bool, offset: Optional[int], num: Optional[int]) -> List[Any]:
        if byscore and bylex:
            raise DataError("``byscore`` and ``bylex`` can not be specified together")
        if (offset is None) != (num is None):
            raise DataError("``offset`` and ``num`` must both be specified")
        if bylex and withscores:
            raise DataError("``withscores`` not supported in combination with ``bylex``")
        pieces: List[Any] = [name, start, end]
        if byscore:
            pieces.append("BYSCORE")
        if bylex:
            pieces.append("BYLEX")
        if desc:
            pieces.append("REV")
        if offset is not None:
            pieces += ["LIMIT", offset, num]
        if withscores:
            pieces.append("WITHSCORES")
        return pieces

    def zrangebylex(self, name: KeyT, min: EncodableT, max: EncodableT,
                    start: Optional[int] = None, num: Optional[int] = None) -> Any:
        """Members between two lexicographic bounds."""
        return self.execute_command("ZRANGEBYLEX", name, min, max, *limit_args(start, num))

    def zrangebyscore(self, name: KeyT, min: Any, max: Any, start: Optional[int] = None,
                      num: Optional[int] = None, withscores: bool = False,
                      score_cast_func: ScoreCast = float) -> Any:
        """Members with scores between ``min`` and ``max``."""
        pieces: List[Any] = [name, min, max, *limit_args(start, num)]
        if withscores:
            pieces.append("WITHSCORES")
        return self.execute_command("ZRANGEBYSCORE", *pieces, withscores=withscores,
                                    score_cast_func=score_cast_func)

    def zrangestore(self, dest: KeyT, name: KeyT, start: Any, end: Any, byscore: bool = False,
                    bylex: bool = False, desc: bool = False, offset: Optional[int] = None,
                    num: Optional[int] = None) -> Any:
        """Store a ZRANGE result in ``dest`` (same slot); its size."""
        pieces = self._zrange_pieces(name, start, end, desc, byscore, bylex, False, offset, num)
        return self.execute_command("ZRANGESTORE", dest, *pieces)

    def zrank(self, name: KeyT, value: EncodableT, withscore: bool = False,
              score_cast_func: ScoreCast = float) -> Any:
        """Rank (0-based, ascending), ``[rank, score]`` with ``withscore``, or None."""
        pieces = ["WITHSCORE"] if withscore else []
        return self.execute_command("ZRANK", name, value, *pieces, withscore=withscore,
                                    score_cast_func=score_cast_func)

    def zrem(self, name: KeyT, *values: EncodableT) -> Any:
        """Remove members; how many were removed."""
        return self.execute_command("ZREM", name, *values)

    def zremrangebylex(self, name: KeyT, min: EncodableT, max: EncodableT) -> Any:
        """Remove members between two lexicographic bounds; how many."""
        return self.execute_command("ZREMRANGEBYLEX", name, min, max)

    def zremrangebyrank(self, name: KeyT, min: int, max: int) -> Any:
        """Remove members by rank range; how many."""
        return self.execute_command("ZREMRANGEBYRANK", name, min, max)

    def zremrangebyscore(self, name: KeyT, min: Any, max: Any) -> Any:
        """Remove members by score range; how many."""
        return self.execute_command("ZREMRANGEBYSCORE", name, min, max)

    def zrevrange(self, name: KeyT, start: int, end: int, withscores: bool = False,
                  score_cast_func: ScoreCast = float) -> Any:
        """Members by rank, highest first."""
        pieces: List[Any] = [name, start, end]
        if withscores:
            pieces.append("WITHSCORES")
        return self.execute_command("ZREVRANGE", *pieces, withscores=withscores,
                                    score_cast_func=score_cast_func)

    def zrevrangebylex(self, name: KeyT, max: EncodableT, min: EncodableT,
                       start: Optional[int] = None, num: Optional[int] = None) -> Any:
        """Members between two lexicographic bounds, highest first."""
        return self.execute_command("ZREVRANGEBYLEX", name, max, min, *limit_args(start, num))

    def zrevrangebyscore(self, name: KeyT, max: Any, min: Any, start: Optional[int] = None,
                         num: Optional[int] = None, withscores: bool = False,
                         score_cast_func: ScoreCast = float) -> Any:
        """Members with scores between ``max`` and ``min``, highest first."""
        pieces: List[Any] = [name, max, min, *limit_args(start, num)]
        if withscores:
            pieces.append("WITHSCORES")
        return self.execute_command("ZREVRANGEBYSCORE", *pieces, withscores=withscores,
                                    score_cast_func=score_cast_func)

    def zrevrank(self, name: KeyT, value: EncodableT, withscore: bool = False,
                 score_cast_func: ScoreCast = float) -> Any:
        """Rank counting from the highest score, or None."""
        pieces = ["WITHSCORE"] if withscore else []
        return self.execute_command("ZREVRANK", name, value, *pieces, withscore=withscore,
                                    score_cast_func=score_cast_func)

    def zscan(self, name: KeyT, cursor: int = 0, match: Any = None,
              count: Optional[int] = None, score_cast_func: ScoreCast = float) -> Any:
        """One ZSCAN step: ``(cursor, [(member, score)])``."""
        return self.execute_command("ZSCAN", name, *scan_args(cursor, match, count),
                                    score_cast_func=score_cast_func)

    def zscan_iter(self, name: KeyT, match: Any = None, count: Optional[int] = None,
                   score_cast_func: ScoreCast = float) -> Iterator[Any]:
        """Every ``(member, score)`` of the sorted set."""
        cursor = -1
        while cursor != 0:
            cursor, data = self.zscan(name, max(cursor, 0), match, count, score_cast_func)
            yield from data

    def zscore(self, name: KeyT, value: EncodableT) -> Any:
        """A member's score (float), or None."""
        return self.execute_command("ZSCORE", name, value)

    def zunion(self, keys: Any, aggregate: Optional[str] = None, withscores: bool = False,
               score_cast_func: ScoreCast = float) -> Any:
        """Union (same slot); members or ``[(member, score)]``."""
        return self._zaggregate("ZUNION", None, keys, aggregate, withscores=withscores,
                                score_cast_func=score_cast_func)

    def zunionstore(self, dest: KeyT, keys: Any, aggregate: Optional[str] = None) -> Any:
        """Store the union (``keys`` may map key -> weight; same slot); its size."""
        return self._zaggregate("ZUNIONSTORE", dest, keys, aggregate)

    def _zaggregate(self, command: str, dest: Any, keys: Any, aggregate: Optional[str],
                    **options: Any) -> Any:
        pieces: List[Any] = [] if dest is None else [dest]
        weights: Optional[List[Any]] = None
        if isinstance(keys, Mapping):
            weights = list(keys.values())
            keys = list(keys.keys())
        pieces += [len(keys), *keys]
        if weights:
            pieces += ["WEIGHTS", *weights]
        if aggregate:
            if str(aggregate).upper() not in ("SUM", "MIN", "MAX"):
                raise DataError("aggregate can be sum, min or max")
            pieces += ["AGGREGATE", aggregate]
        if options.get("withscores"):
            pieces.append("WITHSCORES")
        return self.execute_command(command, *pieces, **options)
