"""Test helpers for clustercore users and its own suite: a real local Redis Cluster."""

from __future__ import annotations

from .local_cluster import LocalCluster, LocalClusterError, LocalNode, RedisServerNotFound

__all__ = ["LocalCluster", "LocalClusterError", "LocalNode", "RedisServerNotFound"]
