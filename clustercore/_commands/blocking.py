"""How long the server may legitimately keep a call's reply back: ``blocking_timeout``.

Blocking commands (BLPOP & co., BLMOVE, BLMPOP, BZPOPMIN/MAX, BZMPOP, XREAD/XREADGROUP ... BLOCK,
WAIT, WAITAOF) carry a server-side timeout at the spec's ``blocking_timeout_arg`` (an index into
the arguments, or the keyword it follows), counted in ``blocking_timeout_unit`` seconds. The
client waits that long plus its socket timeout before it takes a quiet socket for a lost reply.
This is not ``idempotency``: that module says what may be done once a reply is lost, this one
says when it is.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

from .keys import keyword_index, xread_walk
from .specs import CommandSpec

__all__ = ["blocking_timeout"]


def blocking_timeout(spec: CommandSpec, args: Sequence[Any]) -> Optional[float]:
    """Seconds the server may block this call before replying; ``math.inf`` means forever.

    None when the command does not block in this call (not a blocking command, or XREAD
    without BLOCK). The client should wait that long plus its socket timeout for the reply.
    """
    where = spec.blocking_timeout_arg
    if where is None:
        return None
    if isinstance(where, str):
        if spec.keys_after == "STREAMS":
            value = xread_walk(args)[1].get(where)
        else:
            at = keyword_index(args, where)
            value = args[at + 1] if 0 <= at < len(args) - 1 else None
        if value is None:
            return None
    else:
        try:
            value = args[where]
        except IndexError:
            return None
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return None
    if amount <= 0:
        return math.inf
    return amount * spec.blocking_timeout_unit
