"""redis-py-cluster 2.1.3's ``rediscluster.pipeline``: ``ClusterPipeline``.

A non-transactional clustercore pipeline in which the cross-slot commands the compat client
emulates (rename, smove, rpoplpush, msetnx, sdiff ... pfmerge) can be queued too. Such a command
cannot travel in a batch (each emulation step depends on the previous reply), so the queue is
kept as segments: runs of ordinary commands, each sent as one clustercore pipeline batch, and
the emulated commands between them, each run through the client **in its place**. Results come
back in call order, errors included (``raise_on_error=True``: the first one is raised after
everything ran, as redis-py does). An emulated command is as (non-)atomic as on the client
(:mod:`.crossslot`), and the pipeline as a whole never was atomic.

redis-py-cluster refused these commands in pipelines; it also refused ``multi()`` and
``watch()`` there, and so does this class: a transaction is ``rc.pipeline(transaction=True)``
(clustercore's one-slot MULTI/EXEC).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, List, Optional, Sequence, Tuple, Union

from ..._execution.pipeline import ClusterPipeline as _CorePipeline
from ..._execution.pipeline_command import PipelineCommand, annotate_exception
from ...errors import RedisClusterException
from .crossslot import mapping_args

if TYPE_CHECKING:
    from ..._execution.client import RedisCluster

__all__ = ["EMULATED", "ClusterPipeline"]

#: The client methods a pipeline runs in its place instead of batching.
EMULATED = ("rename", "renamenx", "smove", "rpoplpush", "brpoplpush", "msetnx", "sdiff",
            "sinter", "sunion", "sdiffstore", "sinterstore", "sunionstore", "pfmerge", "pfcount")



class _Deferred:
    """An emulated command queued in its place: the client call, and the command as redis-py
    would name it in an error ("Command # 2 (RENAME a b) of pipeline caused error: ...")."""

    __slots__ = ("args", "call")

    def __init__(self, call: Callable[[], Any], args: Tuple[Any, ...]) -> None:
        self.call = call
        self.args = args

    def __call__(self) -> Any:
        return self.call()


Segment = Union[_CorePipeline, _Deferred]


class ClusterPipeline(_CorePipeline):
    """A pipeline of ordinary commands and emulated cross-slot ones (module docstring)."""

    def __init__(self, client: RedisCluster, transaction: Optional[bool] = None,
                 shard_hint: Any = None) -> None:
        if transaction:
            raise RedisClusterException(
                "this pipeline is not transactional: use rc.pipeline(transaction=True)")
        super().__init__(client, shard_hint=shard_hint)
        self._segments: List[Segment] = []

    def _batch(self) -> _CorePipeline:
        last = self._segments[-1] if self._segments else None
        if isinstance(last, _CorePipeline):
            return last
        batch = _CorePipeline(self.client)
        self._segments.append(batch)
        return batch

    def execute_command(self, *args: Any, **options: Any) -> Any:
        """Queue one ordinary command (into the current batch); returns the pipeline."""
        self._batch().execute_command(*args, **options)
        return self

    def _defer(self, method: str, *args: Any, **kwargs: Any) -> ClusterPipeline:
        bound = getattr(self.client, method)
        self._segments.append(_Deferred(lambda: bound(*args, **kwargs),
                                        (method.upper(), *args)))
        return self

    # --- the emulated commands: run in their place ----------------------------------------------
    def rename(self, src: Any, dst: Any, replace: bool = False) -> Any:
        """Queue RENAME (emulated across slots, in its place)."""
        return self._defer("rename", src, dst, replace)

    def renamenx(self, src: Any, dst: Any) -> Any:
        """Queue RENAMENX (emulated across slots, in its place)."""
        return self._defer("renamenx", src, dst)

    def smove(self, src: Any, dst: Any, value: Any) -> Any:
        """Queue SMOVE (emulated across slots, in its place)."""
        return self._defer("smove", src, dst, value)

    def rpoplpush(self, src: Any, dst: Any) -> Any:
        """Queue RPOPLPUSH (emulated across slots, in its place)."""
        return self._defer("rpoplpush", src, dst)

    def brpoplpush(self, src: Any, dst: Any, timeout: Optional[float] = 0) -> Any:
        """Queue BRPOPLPUSH (emulated across slots, in its place; blocks the execute())."""
        return self._defer("brpoplpush", src, dst, timeout)

    def msetnx(self, *args: Any, **kwargs: Any) -> Any:
        """Queue MSETNX (one dict and/or keywords; emulated across slots, in its place)."""
        return self._defer("msetnx", mapping_args("MSETNX", args, kwargs))

    def mset(self, *args: Any, **kwargs: Any) -> Any:
        """Queue MSET (one dict and/or keywords; split by slot in the batch)."""
        return super().mset(mapping_args("MSET", args, kwargs))

    def sdiff(self, keys: Any, *args: Any) -> Any:
        """Queue SDIFF (computed across slots, in its place)."""
        return self._defer("sdiff", keys, *args)

    def sinter(self, keys: Any, *args: Any) -> Any:
        """Queue SINTER (computed across slots, in its place)."""
        return self._defer("sinter", keys, *args)

    def sunion(self, keys: Any, *args: Any) -> Any:
        """Queue SUNION (computed across slots, in its place)."""
        return self._defer("sunion", keys, *args)

    def sdiffstore(self, dest: Any, keys: Any, *args: Any) -> Any:
        """Queue SDIFFSTORE (emulated across slots, in its place)."""
        return self._defer("sdiffstore", dest, keys, *args)

    def sinterstore(self, dest: Any, keys: Any, *args: Any) -> Any:
        """Queue SINTERSTORE (emulated across slots, in its place)."""
        return self._defer("sinterstore", dest, keys, *args)

    def sunionstore(self, dest: Any, keys: Any, *args: Any) -> Any:
        """Queue SUNIONSTORE (emulated across slots, in its place)."""
        return self._defer("sunionstore", dest, keys, *args)

    def pfmerge(self, dest: Any, *sources: Any) -> Any:
        """Queue PFMERGE (emulated across slots, in its place)."""
        return self._defer("pfmerge", dest, *sources)

    def pfcount(self, *sources: Any) -> Any:
        """Queue PFCOUNT (emulated across slots, in its place)."""
        return self._defer("pfcount", *sources)

    # --- refused, as redis-py-cluster refused them ----------------------------------------------
    def multi(self) -> None:
        """Refused: this pipeline is not transactional (``rc.pipeline(transaction=True)``)."""
        raise RedisClusterException(
            "method multi() is not implemented on this pipeline: use rc.pipeline(transaction=True)")

    def watch(self, *names: Any) -> bool:
        """Refused: this pipeline is not transactional (``rc.pipeline(transaction=True)``)."""
        raise RedisClusterException(
            "method watch() is not implemented on this pipeline: use "
            "rc.pipeline(transaction=True)")

    # --- the queue -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return sum(len(s) if isinstance(s, _CorePipeline) else 1 for s in self._segments)

    @property
    def command_stack(self) -> List[PipelineCommand]:
        """The queued ordinary commands in call order (emulated ones are not commands yet)."""
        out: List[PipelineCommand] = []
        for segment in self._segments:
            if isinstance(segment, _CorePipeline):
                out.extend(PipelineCommand(c.args, c.options, len(out) + i)
                           for i, c in enumerate(segment.command_stack))
        return out

    def reset(self) -> None:
        """Drop everything queued."""
        segments, self._segments = self._segments, []
        for segment in segments:
            if isinstance(segment, _CorePipeline):
                segment.reset()

    close = reset

    def __exit__(self, *exc: Any) -> None:
        self.reset()

    def execute(self, raise_on_error: bool = True) -> List[Any]:
        """Run the segments in order; the results in call order (module docstring)."""
        segments, self._segments = self._segments, []
        queued = _queued_args(segments)
        results: List[Any] = []
        try:
            for segment in segments:
                if isinstance(segment, _CorePipeline):
                    results.extend(segment.execute(raise_on_error=False))
                else:
                    try:
                        results.append(segment())
                    except Exception as exc:  # a result, as in a batch
                        results.append(exc)
        finally:
            for segment in segments:
                if isinstance(segment, _CorePipeline):
                    segment.reset()
        if raise_on_error:
            for number, result in enumerate(results, 1):
                if isinstance(result, Exception):
                    if number <= len(queued):
                        annotate_exception(result, number, queued[number - 1])
                    raise result
        return results


def _queued_args(segments: Sequence[Segment]) -> List[Tuple[Any, ...]]:
    """Each queued command's arguments in call order (an error names its command by them)."""
    out: List[Tuple[Any, ...]] = []
    for segment in segments:
        if isinstance(segment, _CorePipeline):
            out.extend(tuple(c.args) for c in segment.command_stack)
        else:
            out.append(segment.args)
    return out
