"""Script: a registered Lua script run by EVALSHA, loaded on the node that lacks it.

It extends :class:`clustercore.api.Script` (redis-py's helper) in two ways. On NOSCRIPT the body
is loaded on the node that answered (``SCRIPT LOAD`` there only, not a fan-out that one down
replica would fail), then the EVALSHA is sent once more. Called with a pipeline as its client,
it tells the pipeline the body (``_note_script``) before queueing the EVALSHA, so the pipeline
can load the script on the node that reports NOSCRIPT (or before a MULTI) and retry that
command alone.
"""

from __future__ import annotations

from typing import Any, Iterable, List, Optional

from .._commands.api import CommandsMixin
from .._commands.api import Script as _BaseScript
from ..errors import NoScriptError

__all__ = ["Script"]


class Script(_BaseScript):
    """A Lua script run by sha; on NOSCRIPT it is loaded where it was missing and run again."""

    def __call__(self, keys: Iterable[Any] = (), args: Iterable[Any] = (),
                 client: Optional[CommandsMixin] = None) -> Any:
        """EVALSHA ``keys`` and ``args``; on NOSCRIPT load the body on that node, retry once."""
        target = client if client is not None else self.client
        key_list: List[Any] = list(keys)
        arg_list: List[Any] = list(args)
        note = getattr(target, "_note_script", None)
        if note is not None:  # a pipeline: it falls back per command when it runs
            note(self.sha, self.script)
            return target.evalsha(self.sha, len(key_list), *key_list, *arg_list)
        try:
            return target.evalsha(self.sha, len(key_list), *key_list, *arg_list)
        except NoScriptError as exc:
            self.load(target, exc.node)
        return target.evalsha(self.sha, len(key_list), *key_list, *arg_list)

    def load(self, client: Optional[CommandsMixin] = None, node: Any = None) -> str:
        """SCRIPT LOAD on ``node`` (every node when None); returns the sha."""
        target = client if client is not None else self.client
        if node is None:
            target.script_load(self.script)
        else:
            target._execute_on_node(node, "SCRIPT", "LOAD", self.script)
        return self.sha
