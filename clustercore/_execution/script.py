"""Script: a registered Lua script run by EVALSHA, loaded on the node that lacks it.

It extends :class:`clustercore._commands.scripting.Script` (redis-py's helper) in two ways. On
NOSCRIPT the body is loaded on every node, as redis-py does (so replicas serve EVALSHA_RO and
``script_exists`` says True), or, when that fan-out fails (one node down), at least on the node
that answered; then the EVALSHA is sent once more. Called with a pipeline as
its client, it tells the pipeline the body (``note_script``) before queueing the EVALSHA, so the
pipeline can load the script on the node that reports NOSCRIPT (or before a MULTI) and retry
that command alone. Loading on one node goes through the client's executor (its public
``run_on_node``), not a private method of the client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, List, Optional

from .._commands.api import CommandsMixin
from .._commands.scripting import Script as _BaseScript
from ..errors import ClusterCoreError, ClusterUsageError, NoScriptError

if TYPE_CHECKING:
    from .executor import Executor

__all__ = ["Script"]


class Script(_BaseScript):
    """A Lua script run by sha; on NOSCRIPT it is loaded where it was missing and run again."""

    def __call__(self, keys: Iterable[Any] = (), args: Iterable[Any] = (),
                 client: Optional[CommandsMixin] = None) -> Any:
        """EVALSHA ``keys`` and ``args``; on NOSCRIPT load the body on that node, retry once."""
        target = client if client is not None else self.client
        key_list: List[Any] = list(keys)
        arg_list: List[Any] = list(args)
        note = getattr(target, "note_script", None)
        if note is not None:  # a pipeline: it falls back per command when it runs
            note(self.sha, self.script)
            return target.evalsha(self.sha, len(key_list), *key_list, *arg_list)
        try:
            return target.evalsha(self.sha, len(key_list), *key_list, *arg_list)
        except NoScriptError as exc:
            missing_on = exc.node
        try:
            # every node, as redis-py loads it (replicas then serve EVALSHA_RO too) ...
            self.load(target)
        except ClusterCoreError:
            if missing_on is None:
                raise
            self.load(target, missing_on)  # ... or at least where it was missing
        return target.evalsha(self.sha, len(key_list), *key_list, *arg_list)

    def load(self, client: Optional[CommandsMixin] = None, node: Any = None) -> str:
        """SCRIPT LOAD on ``node`` (every node when None); returns the sha.

        Loading on one node runs at once through the client's executor, so it needs a
        RedisCluster (a pipeline queues its commands: it loads scripts itself, per node)."""
        target = client if client is not None else self.client
        if node is None:
            target.script_load(self.script)
            return self.sha
        executor: Optional[Executor] = getattr(target, "executor", None)
        if executor is None:
            raise ClusterUsageError("SCRIPT LOAD on one node runs at once: call load() with "
                                        "the RedisCluster client, not a pipeline")
        executor.run_on_node(node, "SCRIPT", "LOAD", self.script)
        return self.sha
