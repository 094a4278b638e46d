"""The connection and server commands of :class:`~.api.CommandsMixin` that make sense in a cluster
(CLIENT *, COMMAND *, CONFIG *, DBSIZE, ECHO, FLUSHALL/FLUSHDB, INFO, LASTSAVE, MEMORY *, PING,
TIME); most fan out to every primary or node and merge as the command table says.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

from ..errors import DataError
from .args import (
    EncodableT,
    KeyT,
)
from .base import CommandsBase

__all__ = ["ServerCommands"]


class ServerCommands(CommandsBase):
    """Server and connection commands, one method each (redis-py's names and shapes)."""

    def client_getname(self, **kwargs: Any) -> Any:
        """The name of a pooled connection (str), or None (set one with client_name=)."""
        return self.execute_command("CLIENT", "GETNAME", **kwargs)

    def client_id(self, **kwargs: Any) -> Any:
        """The id of a pooled connection (on a random node)."""
        return self.execute_command("CLIENT", "ID", **kwargs)

    def client_info(self, **kwargs: Any) -> Any:
        """CLIENT INFO of a pooled connection, as a dict."""
        return self.execute_command("CLIENT", "INFO", **kwargs)

    def client_list(self, _type: Optional[str] = None, client_id: Optional[Sequence[Any]] = None,
                    **kwargs: Any) -> Any:
        """Connected clients of every node: ``{node name: [client dict]}``."""
        pieces: List[Any] = []
        if _type is not None:
            if _type.lower() not in ("normal", "master", "replica", "pubsub"):
                raise DataError(f"CLIENT LIST _type must be one of normal, master, replica, "
                                f"pubsub, not {_type!r}")
            pieces += ["TYPE", _type]
        if client_id:
            pieces += ["ID", *client_id]
        return self.execute_command("CLIENT", "LIST", *pieces, **kwargs)

    def client_setname(self, name: str, **kwargs: Any) -> Any:
        """Name one pooled connection per node (prefer the client's ``client_name=``); True."""
        return self.execute_command("CLIENT", "SETNAME", name, **kwargs)

    def command(self, **kwargs: Any) -> Any:
        """Every command's metadata: ``{name: {...}}``."""
        return self.execute_command("COMMAND", **kwargs)

    def command_count(self, **kwargs: Any) -> Any:
        """The number of commands the server knows."""
        return self.execute_command("COMMAND", "COUNT", **kwargs)

    def command_getkeys(self, *args: Any) -> Any:
        """The keys the server finds in a full command (str)."""
        return self.execute_command("COMMAND", "GETKEYS", *args)

    def command_info(self, *command_names: str, **kwargs: Any) -> Any:
        """Metadata of the named commands (all when none): ``{name: {...}}``."""
        return self.execute_command("COMMAND", "INFO", *command_names, **kwargs)

    def config_get(self, pattern: Any = "*", *args: Any, **kwargs: Any) -> Any:
        """Matching settings of every node: ``{node name: {setting: value}}``."""
        return self.execute_command("CONFIG", "GET", pattern, *args, **kwargs)

    def config_resetstat(self, **kwargs: Any) -> Any:
        """Reset INFO statistics on every node; True."""
        return self.execute_command("CONFIG", "RESETSTAT", **kwargs)

    def config_set(self, name: Any, value: EncodableT, *args: Any, **kwargs: Any) -> Any:
        """Change settings on every node; True."""
        return self.execute_command("CONFIG", "SET", name, value, *args, **kwargs)

    def dbsize(self, **kwargs: Any) -> Any:
        """Keys in the cluster (summed over primaries)."""
        return self.execute_command("DBSIZE", **kwargs)

    def echo(self, value: EncodableT, **kwargs: Any) -> Any:
        """``value`` echoed by a node."""
        return self.execute_command("ECHO", value, **kwargs)

    def flushall(self, asynchronous: bool = False, **kwargs: Any) -> Any:
        """Delete every key on every primary; True."""
        pieces = ["ASYNC"] if asynchronous else []
        return self.execute_command("FLUSHALL", *pieces, **kwargs)

    def flushdb(self, asynchronous: bool = False, **kwargs: Any) -> Any:
        """Delete every key on every primary (db 0 is the only one); True."""
        pieces = ["ASYNC"] if asynchronous else []
        return self.execute_command("FLUSHDB", *pieces, **kwargs)

    def info(self, section: Optional[str] = None, *args: str, **kwargs: Any) -> Any:
        """INFO of every node: ``{node name: {field: value}}``."""
        pieces = [] if section is None else [section, *args]
        return self.execute_command("INFO", *pieces, **kwargs)

    def lastsave(self, **kwargs: Any) -> Any:
        """Last successful save of every node: ``{node name: datetime}``."""
        return self.execute_command("LASTSAVE", **kwargs)

    def memory_stats(self, **kwargs: Any) -> Any:
        """MEMORY STATS of every primary: ``{node name: {...}}``."""
        return self.execute_command("MEMORY", "STATS", **kwargs)

    def memory_usage(self, key: KeyT, samples: Optional[int] = None, **kwargs: Any) -> Any:
        """Bytes used by a key and its value, or None."""
        pieces: List[Any] = [key]
        if samples is not None:
            pieces += ["SAMPLES", samples]
        return self.execute_command("MEMORY", "USAGE", *pieces, **kwargs)

    def ping(self, **kwargs: Any) -> Any:
        """True when every primary answers PONG."""
        return self.execute_command("PING", **kwargs)

    def time(self, **kwargs: Any) -> Any:
        """A node's clock: ``(seconds, microseconds)``."""
        return self.execute_command("TIME", **kwargs)
