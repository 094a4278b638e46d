"""Public path of cluster pub/sub (``clustercore.pubsub.ClusterPubSub``, as documented since the
first release); the implementation lives in ``clustercore._execution.pubsub``."""

from __future__ import annotations

from ._execution.pubsub import ClusterPubSub, PubSubLinkInfo, PubSubSnapshot
from .errors import PubSubError

__all__ = ["ClusterPubSub", "PubSubError", "PubSubLinkInfo", "PubSubSnapshot"]
