"""The thread's connect limit, :data:`DIAL_LIMIT`: when a connect must be done by.

Its own module, never compiled: mypyc cannot build a subclass of ``threading.local`` (as a
native class it segfaults on the first attribute read; as a non-native one the generated C
does not compile), and connection_core.py, which reads it on every connect, is compiled in the
optional build (docs/compiled.md). ``clustercore._net.connection`` re-exports it.
"""

from __future__ import annotations

import threading
from typing import Optional

__all__ = ["DIAL_LIMIT", "DialLimit"]


class DialLimit(threading.local):
    """When a connect on this thread must be done by (monotonic seconds; None: only
    ``socket_connect_timeout`` bounds it). The executor sets it around the checkout of a retry,
    so a reconnect -- TCP, TLS and handshake -- cannot outlast the call's deadline."""

    def __init__(self) -> None:
        self.at: Optional[float] = None


#: This thread's connect limit (see :class:`DialLimit`).
DIAL_LIMIT = DialLimit()
