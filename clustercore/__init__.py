"""clustercore: a synchronous, thread-safe, blocking client for Redis Cluster."""

from __future__ import annotations

from .address import NodeAddress
from .errors import *  # noqa: F403 - the exception tree is public API
from .errors import __all__ as _error_names
from .slots import NUM_SLOTS, key_slot

__version__ = "0.1.0"

__all__ = [
    "NUM_SLOTS",
    "NodeAddress",
    "__version__",
    "key_slot",
    *_error_names,
]
