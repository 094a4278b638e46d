"""The HyperLogLog commands of :class:`~.api.CommandsMixin` (PFADD, PFCOUNT, PFMERGE), with
redis-py's names, arguments and return shapes.
"""

from __future__ import annotations

from typing import Any

from .args import (
    EncodableT,
    KeyT,
)
from .base import CommandsBase

__all__ = ["HyperLogLogCommands"]


class HyperLogLogCommands(CommandsBase):
    """HyperLogLog commands, one method each (redis-py's names, arguments and return shapes)."""

    def pfadd(self, name: KeyT, *values: EncodableT) -> Any:
        """Add elements; 1 if the estimate changed."""
        return self.execute_command("PFADD", name, *values)

    def pfcount(self, *sources: KeyT) -> Any:
        """Approximate cardinality of the union (keys of one slot)."""
        return self.execute_command("PFCOUNT", *sources)

    def pfmerge(self, dest: KeyT, *sources: KeyT) -> Any:
        """Merge HyperLogLogs into ``dest`` (same slot); True."""
        return self.execute_command("PFMERGE", dest, *sources)
