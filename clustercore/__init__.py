"""clustercore: a synchronous, thread-safe, blocking client for Redis Cluster."""

from __future__ import annotations

from ._address import NodeAddress
from ._execution.client import RedisCluster
from ._execution.nodes import ClusterNode, NodeClient
from ._execution.pipeline import ClusterPipeline, ConcurrentPipelineError
from ._execution.pubsub import ClusterPubSub, PubSubLinkInfo, PubSubSnapshot
from ._execution.retry import Backoff, RetryPolicy
from ._execution.script import Script
from ._net.connection import DEFAULT_SOCKET_TIMEOUT, ClusterConnection, SSLClusterConnection
from ._pool.cluster_pool import (
    ClusterBlockingConnectionPool,
    ClusterConnectionPool,
    ClusterReadOnlyConnectionPool,
    ClusterWithReadReplicasConnectionPool,
)
from ._pool.multiplexed import MultiplexedClusterConnectionPool
from ._pool.stats import NodeStats, PoolStats
from ._pool.url import redact_url
from ._slots import NUM_SLOTS, key_slot
from .errors import *  # noqa: F403 - the exception tree is public API
from .errors import __all__ as _error_names

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_SOCKET_TIMEOUT",
    "NUM_SLOTS",
    "Backoff",
    "ClusterBlockingConnectionPool",
    "ClusterConnection",
    "ClusterConnectionPool",
    "ClusterNode",
    "ClusterPipeline",
    "ClusterPubSub",
    "ClusterReadOnlyConnectionPool",
    "ClusterWithReadReplicasConnectionPool",
    "ConcurrentPipelineError",
    "MultiplexedClusterConnectionPool",
    "NodeAddress",
    "NodeClient",
    "NodeStats",
    "PoolStats",
    "PubSubLinkInfo",
    "PubSubSnapshot",
    "RedisCluster",
    "RetryPolicy",
    "Script",
    "SSLClusterConnection",
    "__version__",
    "key_slot",
    "redact_url",
    *_error_names,
]
