"""clustercore: a synchronous, thread-safe, blocking client for Redis Cluster."""

from __future__ import annotations

from .address import NodeAddress
from .client import RedisCluster
from .cluster_pool import (
    ClusterBlockingConnectionPool,
    ClusterConnectionPool,
    ClusterReadOnlyConnectionPool,
    ClusterWithReadReplicasConnectionPool,
)
from .connection import ClusterConnection, SSLClusterConnection
from .errors import *  # noqa: F403 - the exception tree is public API
from .errors import __all__ as _error_names
from .pipeline import ClusterPipeline
from .pubsub import ClusterPubSub
from .retry import Backoff, RetryPolicy
from .slots import NUM_SLOTS, key_slot
from .stats import NodeStats, PoolStats

__version__ = "0.1.0"

__all__ = [
    "NUM_SLOTS",
    "Backoff",
    "ClusterBlockingConnectionPool",
    "ClusterConnection",
    "ClusterConnectionPool",
    "ClusterPipeline",
    "ClusterPubSub",
    "ClusterReadOnlyConnectionPool",
    "ClusterWithReadReplicasConnectionPool",
    "NodeAddress",
    "NodeStats",
    "PoolStats",
    "RedisCluster",
    "RetryPolicy",
    "SSLClusterConnection",
    "__version__",
    "key_slot",
    *_error_names,
]
