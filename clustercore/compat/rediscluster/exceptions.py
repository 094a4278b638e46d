"""redis-py-cluster 2.1.3's ``rediscluster.exceptions`` names, bound to clustercore's classes.

Every name is clustercore's own class (or an alias of one), so ``except
rediscluster.exceptions.MovedError`` catches what clustercore raises: there is one exception
tree, not a parallel one. ``RedisClusterException`` is clustercore's root (redis-py-cluster's
root of its own errors; here every clustercore error is one). ``ClusterDownException`` (which
redis-py-cluster defined but never raised) is ``ClusterDownError``.

``CrossSlotEmulationError`` is new: a client-side emulation of a cross-slot command (rename,
smove, rpoplpush ...) that stopped half way reports which keys hold what (see
docs/migration-redis-py-cluster.md, "Emulated cross-slot commands").
"""

from __future__ import annotations

from typing import Any, Tuple

from ...errors import (
    AskError,
    AuthenticationError,
    BusyLoadingError,
    ClusterCrossSlotError,
    ClusterDownError,
    ClusterError,
    ConnectionError,
    DataError,
    MasterDownError,
    MovedError,
    RedisClusterConfigError,
    RedisClusterError,
    RedisClusterException,
    RedisError,
    ResponseError,
    SlotNotCoveredError,
    TimeoutError,
    TryAgainError,
)

__all__ = [
    "AskError",
    "AuthenticationError",
    "BusyLoadingError",
    "ClusterCrossSlotError",
    "ClusterDownError",
    "ClusterDownException",
    "ClusterError",
    "ConnectionError",
    "CrossSlotEmulationError",
    "DataError",
    "MasterDownError",
    "MovedError",
    "RedisClusterConfigError",
    "RedisClusterError",
    "RedisClusterException",
    "RedisError",
    "ResponseError",
    "SlotNotCoveredError",
    "TimeoutError",
    "TryAgainError",
]

#: redis-py-cluster's name; it never raised it (the client raises ClusterDownError).
ClusterDownException = ClusterDownError


class CrossSlotEmulationError(RedisClusterError):
    """A client-side cross-slot emulation stopped after changing something.

    ``command`` is the emulated command, ``keys`` the keys involved and ``state`` says where the
    data is now (for example "the value is in both 'a' and 'b'"): the emulations never delete
    data before its copy is confirmed, so what stopped them leaves a duplicate at worst.
    ``__cause__`` is the error that stopped it, when one did.
    """

    def __init__(self, command: str, keys: Tuple[Any, ...], state: str) -> None:
        super().__init__(f"{command} {' '.join(repr(k) for k in keys)} stopped half way: {state}")
        self.command = command
        self.keys = keys
        self.state = state
