"""redis-py-cluster 2.1.3's ``rediscluster.connection`` names: clustercore's pool family and
connection classes (the same classes ``clustercore`` exports; nothing is wrapped).

The pools keep redis-py-cluster's constructor and methods (docs/pools.md); the differences that
remain are listed in docs/migration-redis-py-cluster.md.
"""

from __future__ import annotations

from ..._net.connection import ClusterConnection, SSLClusterConnection
from ..._pool.cluster_pool import (
    ClusterBlockingConnectionPool,
    ClusterConnectionPool,
    ClusterReadOnlyConnectionPool,
    ClusterWithReadReplicasConnectionPool,
)

__all__ = [
    "ClusterBlockingConnectionPool",
    "ClusterConnection",
    "ClusterConnectionPool",
    "ClusterReadOnlyConnectionPool",
    "ClusterWithReadReplicasConnectionPool",
    "SSLClusterConnection",
]
