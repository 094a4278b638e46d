"""The scripting commands of :class:`~.api.CommandsMixin` (EVAL*, FCALL*, SCRIPT *, FUNCTION *)
with redis-py's names and shapes, and the base :class:`Script` that ``register_script()``
returns (``clustercore.Script`` extends it with per-node NOSCRIPT handling).
"""

from __future__ import annotations

import hashlib
from typing import (
    TYPE_CHECKING,
    Any,
    Iterable,
    List,
    Optional,
    Union,
    cast,
)

from ..errors import DataError, NoScriptError
from .base import CommandsBase

if TYPE_CHECKING:
    from .api import CommandsMixin

__all__ = ["Script", "ScriptingCommands"]


class ScriptingCommands(CommandsBase):
    """Scripting and function commands, one method each (redis-py's names and shapes)."""

    def eval(self, script: Any, numkeys: int, *keys_and_args: Any) -> Any:
        """Run a Lua script on the node of its keys (all in one slot; no keys: any primary)."""
        return self.execute_command("EVAL", script, numkeys, *keys_and_args)

    def eval_ro(self, script: Any, numkeys: int, *keys_and_args: Any) -> Any:
        """Read-only EVAL (may run on a replica)."""
        return self.execute_command("EVAL_RO", script, numkeys, *keys_and_args)

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> Any:
        """Run a cached script by sha (see script_load / register_script)."""
        return self.execute_command("EVALSHA", sha, numkeys, *keys_and_args)

    def evalsha_ro(self, sha: str, numkeys: int, *keys_and_args: Any) -> Any:
        """Read-only EVALSHA (may run on a replica)."""
        return self.execute_command("EVALSHA_RO", sha, numkeys, *keys_and_args)

    def fcall(self, function: Any, numkeys: int, *keys_and_args: Any) -> Any:
        """Call a library function on the node of its keys."""
        return self.execute_command("FCALL", function, numkeys, *keys_and_args)

    def fcall_ro(self, function: Any, numkeys: int, *keys_and_args: Any) -> Any:
        """Call a read-only library function (may run on a replica)."""
        return self.execute_command("FCALL_RO", function, numkeys, *keys_and_args)

    def function_delete(self, library: Any) -> Any:
        """Delete a library on every primary; True."""
        return self.execute_command("FUNCTION", "DELETE", library)

    def function_dump(self) -> Any:
        """A serialized payload of every library (bytes, even with decode_responses), from one
        primary (functions replicate, and FUNCTION LOAD went to every primary)."""
        return self.execute_command("FUNCTION", "DUMP", never_decode=True)

    def function_kill(self) -> Any:
        """Kill the read-only function running now (on whichever primary runs one); True."""
        return self.execute_command("FUNCTION", "KILL")

    def function_restore(self, payload: Any, policy: Optional[str] = "APPEND") -> Any:
        """Restore libraries from :meth:`function_dump`'s payload on every primary (APPEND,
        REPLACE or FLUSH); True."""
        pieces = [] if policy is None else [policy]
        return self.execute_command("FUNCTION", "RESTORE", payload, *pieces)

    def function_stats(self) -> Any:
        """FUNCTION STATS of every primary: ``{node name: reply}``."""
        return self.execute_command("FUNCTION", "STATS")

    def function_flush(self, mode: str = "SYNC") -> Any:
        """Delete every library on every primary; True."""
        return self.execute_command("FUNCTION", "FLUSH", mode)

    def function_list(self, library: Any = "*", withcode: bool = False) -> Any:
        """Libraries and their functions (raw nested lists), from one primary."""
        pieces: List[Any] = ["LIBRARYNAME", library]
        if withcode:
            pieces.append("WITHCODE")
        return self.execute_command("FUNCTION", "LIST", *pieces)

    def function_load(self, code: Any, replace: bool = False) -> Any:
        """Load a library on every primary; its name."""
        pieces = ["REPLACE"] if replace else []
        return self.execute_command("FUNCTION", "LOAD", *pieces, code)

    def register_script(self, script: Any) -> Script:
        """A callable Script: EVALSHA, loading the script on NOSCRIPT (redis-py's helper)."""
        # self is the composed CommandsMixin at run time, the type the script keeps
        return Script(cast("CommandsMixin", self), script)

    def script_exists(self, *args: str) -> Any:
        """Whether every node has each sha cached: a list of bool."""
        return self.execute_command("SCRIPT", "EXISTS", *args)

    def script_flush(self, sync_type: Optional[str] = None) -> Any:
        """Empty the script cache of every node; True."""
        if sync_type not in ("SYNC", "ASYNC", None):
            raise DataError("SCRIPT FLUSH defaults to SYNC; sync_type must be SYNC or ASYNC")
        pieces = [sync_type] if sync_type is not None else []
        return self.execute_command("SCRIPT", "FLUSH", *pieces)

    def script_kill(self) -> Any:
        """Kill the read-only script running now (on whichever primary runs one); True."""
        return self.execute_command("SCRIPT", "KILL")

    def script_load(self, script: Any) -> Any:
        """Cache a script on every node; its sha (str)."""
        return self.execute_command("SCRIPT", "LOAD", script)


class Script:
    """A Lua script run by sha; loaded on every node on NOSCRIPT (redis-py's helper)."""

    def __init__(self, client: CommandsMixin, script: Union[str, bytes]) -> None:
        self.client = client
        #: redis-py's name for the client the script was registered with
        self.registered_client = client
        self.script = script
        data = script.encode("utf-8") if isinstance(script, str) else bytes(script)
        self.sha = hashlib.sha1(data).hexdigest()

    def __call__(self, keys: Iterable[Any] = (), args: Iterable[Any] = (),
                 client: Optional[CommandsMixin] = None) -> Any:
        """EVALSHA with ``keys`` and ``args``; on NOSCRIPT, SCRIPT LOAD and try once more."""
        client = client or self.client
        keys, args = list(keys), list(args)
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            client.script_load(self.script)
            return client.evalsha(self.sha, len(keys), *keys, *args)
