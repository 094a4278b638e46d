"""Test helpers for clustercore users and its own suite.

- ``LocalCluster``: real redis-server processes on loopback (integration tests, the demo).
- ``FakeCluster``: an in-process cluster speaking real RESP through ``FakeNetwork``, plugged in
  at the transport boundary (unit and property tests, and your app's tests; no server needed).
"""

from __future__ import annotations

from .fake.cluster import FakeClock, FakeCluster, FakeClusterError, FakeNode
from .fake.net import NO_REPLY, FakeNetwork, FakeSession
from .local.cluster import LocalCluster, LocalClusterError, LocalNode, RedisServerNotFound

__all__ = [
    "NO_REPLY",
    "FakeClock",
    "FakeCluster",
    "FakeClusterError",
    "FakeNetwork",
    "FakeNode",
    "FakeSession",
    "LocalCluster",
    "LocalClusterError",
    "LocalNode",
    "RedisServerNotFound",
]
