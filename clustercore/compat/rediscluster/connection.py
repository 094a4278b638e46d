"""redis-py-cluster 2.1.3's ``rediscluster.connection`` names: clustercore's pool family and
connection classes (the same classes ``clustercore`` exports; nothing is wrapped).

The pools keep redis-py-cluster's constructor and methods (docs/pools.md); the differences that
remain are listed in docs/migration-redis-py-cluster.md.
"""

from __future__ import annotations

from typing import Any

from ..._net.connection import ClusterConnection, SSLClusterConnection
from ..._pool.cluster_pool import (
    ClusterBlockingConnectionPool,
    ClusterConnectionPool,
    ClusterReadOnlyConnectionPool,
    ClusterWithReadReplicasConnectionPool,
)
from ...errors import RedisClusterException

__all__ = [
    "ClusterBlockingConnectionPool",
    "ClusterConnection",
    "ClusterConnectionPool",
    "ClusterReadOnlyConnectionPool",
    "ClusterWithReadReplicasConnectionPool",
    "SSLClusterConnection",
    "UnixDomainSocketConnection",
]


class UnixDomainSocketConnection:
    """The name ``rediscluster.connection`` re-exported from redis-py, so that imports of it
    keep working; a cluster is not reached over a Unix socket (redis-py-cluster refused
    ``unix://`` URLs for the same reason), so making one raises RedisClusterException."""

    description_format = "UnixDomainSocketConnection<path=%(path)s>"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise RedisClusterException(
            "Unix sockets do not work in a cluster environment: UnixDomainSocketConnection "
            f"cannot be used (path={kwargs.get('path')!r})")
