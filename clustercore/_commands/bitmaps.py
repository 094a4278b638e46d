"""The bitmap commands of :class:`~.api.CommandsMixin` (BITCOUNT, BITFIELD, BITOP, BITPOS, GETBIT,
SETBIT) with redis-py's names and shapes, and the :class:`BitFieldOperation` builder that
``bitfield()`` returns.
"""

from __future__ import annotations

from typing import (
    TYPE_CHECKING,
    Any,
    List,
    Optional,
    Sequence,
    Tuple,
    cast,
)

from ..errors import DataError
from .args import (
    KeyT,
)
from .base import CommandsBase

if TYPE_CHECKING:
    from .api import CommandsMixin

__all__ = ["BitFieldOperation", "BitmapCommands"]


class BitmapCommands(CommandsBase):
    """Bitmap commands, one method each (redis-py's names, arguments and return shapes)."""

    def bitcount(self, key: KeyT, start: Optional[int] = None, end: Optional[int] = None,
                 mode: Optional[str] = None) -> Any:
        """Number of set bits (optionally in a BYTE/BIT range)."""
        pieces: List[Any] = [key]
        if (start is None) != (end is None):
            raise DataError("Both start and end must be specified")
        if start is not None:
            pieces += [start, end]
        if mode is not None:
            if start is None:  # the server would answer a bare "syntax error"
                raise DataError("bitcount: mode (BYTE|BIT) needs start and end")
            pieces.append(mode)
        return self.execute_command("BITCOUNT", *pieces)

    def bitfield(self, key: KeyT, default_overflow: Optional[str] = None) -> BitFieldOperation:
        """A BITFIELD builder: chain get/set/incrby/overflow, then ``execute()``."""
        # self is the composed CommandsMixin at run time, the type the builder keeps
        return BitFieldOperation(cast("CommandsMixin", self), key,
                                 default_overflow=default_overflow)

    def bitfield_ro(self, key: KeyT, encoding: str, offset: Any,
                    items: Optional[Sequence[Tuple[str, Any]]] = None) -> Any:
        """Read-only BITFIELD GETs: ``(encoding, offset)`` and more ``items``."""
        pieces: List[Any] = [key, "GET", encoding, offset]
        for enc, off in items or ():
            pieces += ["GET", enc, off]
        return self.execute_command("BITFIELD_RO", *pieces)

    def bitop(self, operation: str, dest: KeyT, *keys: KeyT) -> Any:
        """AND/OR/XOR/NOT of strings into ``dest`` (same slot); its length."""
        return self.execute_command("BITOP", operation, dest, *keys)

    def bitpos(self, key: KeyT, bit: int, start: Optional[int] = None,
               end: Optional[int] = None, mode: Optional[str] = None) -> Any:
        """Position of the first ``bit`` (0 or 1)."""
        if bit not in (0, 1):
            raise DataError("bit must be 0 or 1")
        if start is None and end is not None:
            raise DataError("start argument is not set, when end is specified")
        pieces: List[Any] = [key, bit]
        if start is not None:
            pieces.append(start)
            if end is not None:
                pieces.append(end)
        if mode is not None:
            if end is None:  # BITPOS key bit [start [end [BYTE|BIT]]]: mode would read as end
                raise DataError("bitpos: mode (BYTE|BIT) needs start and end")
            pieces.append(mode)
        return self.execute_command("BITPOS", *pieces)

    def getbit(self, name: KeyT, offset: int) -> Any:
        """The bit at ``offset`` (0 or 1)."""
        return self.execute_command("GETBIT", name, offset)

    def setbit(self, name: KeyT, offset: int, value: int) -> Any:
        """Set the bit at ``offset``; the previous bit."""
        return self.execute_command("SETBIT", name, offset, 1 if value else 0)


class BitFieldOperation:
    """A BITFIELD command built step by step; ``execute()`` sends it (redis-py's helper)."""

    def __init__(self, client: CommandsMixin, key: KeyT,
                 default_overflow: Optional[str] = None) -> None:
        self.client = client
        self.key = key
        self._default_overflow = default_overflow
        self.operations: List[Tuple[Any, ...]] = []
        self._last_overflow = "WRAP"
        self.reset()

    def reset(self) -> None:
        """Drop the queued operations (keeping the default overflow)."""
        self.operations = []
        self._last_overflow = "WRAP"
        self.overflow(self._default_overflow or self._last_overflow)

    def overflow(self, overflow: str) -> BitFieldOperation:
        """Set WRAP/SAT/FAIL for the following INCRBY operations."""
        overflow = overflow.upper()
        if overflow != self._last_overflow:
            self._last_overflow = overflow
            self.operations.append(("OVERFLOW", overflow))
        return self

    def incrby(self, fmt: str, offset: Any, increment: int,
               overflow: Optional[str] = None) -> BitFieldOperation:
        """Add ``increment`` to the field at ``offset`` (``fmt`` like ``u8``, ``i16``)."""
        if overflow is not None:
            self.overflow(overflow)
        self.operations.append(("INCRBY", fmt, offset, increment))
        return self

    def get(self, fmt: str, offset: Any) -> BitFieldOperation:
        """Read the field at ``offset``."""
        self.operations.append(("GET", fmt, offset))
        return self

    def set(self, fmt: str, offset: Any, value: int) -> BitFieldOperation:
        """Write the field at ``offset`` (the reply holds the old value)."""
        self.operations.append(("SET", fmt, offset, value))
        return self

    @property
    def command(self) -> List[Any]:
        """The full BITFIELD command as it will be sent."""
        cmd: List[Any] = ["BITFIELD", self.key]
        for ops in self.operations:
            cmd.extend(ops)
        return cmd

    def execute(self) -> Any:
        """Send the command (then reset); one result per GET/SET/INCRBY."""
        command = self.command
        self.reset()
        return self.client.execute_command(*command)
