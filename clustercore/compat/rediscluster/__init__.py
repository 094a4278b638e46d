"""redis-py-cluster 2.1.3's ``rediscluster`` package over clustercore.

``from clustercore.compat import rediscluster`` (or ``import clustercore.compat.rediscluster as
rediscluster``) gives its module layout (``client``, ``connection``, ``exceptions``,
``nodemanager``, ``pipeline``, ``pubsub``, ``utils``, ``crc``) and its top-level names, so an
application written for redis-py-cluster changes that one import line. What differs from
``clustercore`` itself (per-node replies, cross-slot emulation, redis-py 3.5 signatures) is in
:mod:`.client`; everything is documented in docs/migration-redis-py-cluster.md.

This package file re-exports, unlike clustercore's private sub-packages: it stands for a public
package whose ``__init__`` carried these names.
"""

from __future__ import annotations

from typing import Tuple, Union

from .client import RedisCluster
from .connection import (
    ClusterBlockingConnectionPool,
    ClusterConnection,
    ClusterConnectionPool,
    ClusterReadOnlyConnectionPool,
    ClusterWithReadReplicasConnectionPool,
    SSLClusterConnection,
)
from .exceptions import (
    AskError,
    ClusterCrossSlotError,
    ClusterDownError,
    ClusterDownException,
    ClusterError,
    CrossSlotEmulationError,
    MasterDownError,
    MovedError,
    RedisClusterError,
    RedisClusterException,
    TryAgainError,
)
from .pipeline import ClusterPipeline
from .pubsub import ClusterPubSub

#: The redis-py-cluster release whose conventions this package keeps.
__version__ = "2.1.3"
VERSION: Tuple[Union[int, str], ...] = (2, 1, 3)

__all__ = [
    "AskError",
    "ClusterBlockingConnectionPool",
    "ClusterConnection",
    "ClusterConnectionPool",
    "ClusterCrossSlotError",
    "ClusterDownError",
    "ClusterDownException",
    "ClusterError",
    "ClusterPipeline",
    "ClusterPubSub",
    "ClusterReadOnlyConnectionPool",
    "ClusterWithReadReplicasConnectionPool",
    "CrossSlotEmulationError",
    "MasterDownError",
    "MovedError",
    "RedisCluster",
    "RedisClusterError",
    "RedisClusterException",
    "SSLClusterConnection",
    "TryAgainError",
]
