"""What a pipeline queues, and how its errors are told apart: the pieces ClusterPipeline
(pipeline.py) and its transaction half (transaction.py) share.

A queued command (``_Command``) has one or more wire parts (``_Part``: a split MGET has one per
slot, a fan-out command one per node). ``PipelineCommand`` is the read-only public view of a
queued command that ``ClusterPipeline.command_stack`` hands out (redis-py-cluster's and
redis-py's shape: ``args``, ``options``, ``position``). ``annotate_exception`` rewrites an
error raised by ``execute()`` into redis-py's "Command # N (...) of pipeline caused error: ..."
form, so messages and log parsers written for redis-py read the same.
"""

from __future__ import annotations

import textwrap
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .._address import NodeAddress
from .._commands.callbacks import pop_never_decode
from .._commands.idempotency import is_idempotent
from .._commands.specs import CommandSpec
from .._net.connection import redact
from ..errors import (
    AskError,
    BusyLoadingError,
    ClusterDownError,
    ClusterUsageError,
    ConnectionError,
    MovedError,
    ProtocolError,
    ReadOnlyError,
    TimeoutError,
    TryAgainError,
)
from .router import Attempt

__all__ = ["ConcurrentPipelineError", "PipelineCommand", "annotate_exception"]

#: Replies that say "not here / not now" for the whole slot: nothing was applied.
ROUTING_ERRORS = (MovedError, AskError, TryAgainError, ClusterDownError, ReadOnlyError,
                  BusyLoadingError)
#: Failures of the socket (the request may or may not have been written).
IO_ERRORS = (ConnectionError, TimeoutError, ProtocolError)
#: redis-py's limit on the command text inside an annotated message (its truncate_text).
_ANNOTATION_WIDTH = 100


class ConcurrentPipelineError(ClusterUsageError):
    """A pipeline was used by a second thread while it was in use; pipelines are per thread."""


class PipelineCommand:
    """A queued command as users read it (redis-py's PipelineCommand): ``args`` (the command
    and its arguments as queued), ``options`` (the reply callback's keywords) and ``position``
    (0-based, in call order). A snapshot: changing it does not change the pipeline."""

    __slots__ = ("args", "asking", "node", "options", "position", "result")

    def __init__(self, args: Tuple[Any, ...], options: Optional[Dict[str, Any]] = None,
                 position: Optional[int] = None) -> None:
        self.args = args
        self.options: Dict[str, Any] = {} if options is None else options
        self.position = position
        self.result: Any = None       # redis-py fills these while it executes; the queue of a
        self.node: Any = None         # clustercore pipeline is read before execute() only
        self.asking = False

    def __repr__(self) -> str:
        return f"PipelineCommand(args={self.args!r}, position={self.position!r})"


def _safe_str(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def annotate_exception(exception: BaseException, number: int, command: Sequence[Any]) -> None:
    """Prefix ``exception``'s message with redis-py's pipeline context, in place:
    ``Command # {number} ({command, shortened to 100 characters}) of pipeline caused error:
    {message}``. ``number`` counts from 1 in call order (0 is the MULTI of a transaction).
    Credentials in the command (AUTH, CONFIG SET requirepass ...) are shown redacted."""
    text = " ".join(_safe_str(arg) for arg in redact(command))
    shown = textwrap.shorten(text, width=_ANNOTATION_WIDTH, placeholder="...",
                             break_long_words=True)
    args = exception.args
    message = args[0] if args else str(exception)
    exception.args = (f"Command # {number} ({shown}) of pipeline caused error: {message}",
                      *args[1:])


class Part:
    """One wire command of a queued command (a split MGET has one per slot)."""

    __slots__ = ("address", "args", "ask", "attempt", "command", "indexes", "node", "preload",
                 "reply", "slot")

    def __init__(self, command: Command, args: Tuple[Any, ...], slot: Optional[int],
                 node: Optional[NodeAddress] = None, indexes: Optional[List[int]] = None) -> None:
        self.command = command
        self.args = args
        self.slot = slot
        self.node = node                      # a fixed target (fan-out part, target_nodes)
        self.indexes = indexes                # key indexes of a split part
        self.reply: Any = None
        self.attempt: Optional[Attempt] = None
        self.ask: Optional[NodeAddress] = None
        self.preload: Any = None              # a script body to SCRIPT LOAD before the command
        self.address: Optional[NodeAddress] = None


class Command:
    """A queued command: its spec, callback options and wire parts."""

    __slots__ = ("args", "fanout", "name", "options", "parts", "raw", "read", "spec")

    def __init__(self, args: Tuple[Any, ...], options: Dict[str, Any], spec: CommandSpec,
                 read: bool) -> None:
        self.args = args
        #: never_decode: its reply is read as bytes even with decode_responses (DUMP)
        self.raw = pop_never_decode(options) if options else False
        self.options = options
        self.spec = spec
        self.name = spec.name
        self.read = read
        self.fanout = False
        self.parts: List[Part] = []

    @property
    def idempotent(self) -> bool:
        """Whether a lost reply may be answered by sending it again (asked only on failure)."""
        return is_idempotent(self.spec, self.args)


def text_of(value: Any) -> str:
    """An argument as text (a script's SHA given as bytes or str)."""
    return _safe_str(value)
