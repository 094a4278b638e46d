"""Public path of cluster pub/sub (``clustercore.pubsub.ClusterPubSub``, as documented since the
first release); the implementation lives in ``clustercore._execution.pubsub``."""

from __future__ import annotations

from ._execution.pubsub import ClusterPubSub, PubSubError

__all__ = ["ClusterPubSub", "PubSubError"]
