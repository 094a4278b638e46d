"""redis-py-cluster 2.1.3's ``rediscluster.pubsub``: ``ClusterPubSub``.

clustercore's ClusterPubSub (redis-py 8.x's API, every subscription restored after a failover)
with redis-py 3.5's one convention that differs: ``get_message()`` before anything was ever
subscribed raises RuntimeError (redis-py 3.5 had no connection yet; clustercore would just
return None). ``reset()`` and ``close()`` bring that state back.
"""

from __future__ import annotations

from typing import Any, Optional

from ..._execution.pubsub import ClusterPubSub as _CorePubSub

__all__ = ["ClusterPubSub"]

#: redis-py 3.5's message for a read before the first subscription.
NOT_SUBSCRIBED = ("pubsub connection not set: did you forget to call subscribe() or "
                  "psubscribe()?")


class ClusterPubSub(_CorePubSub):
    """clustercore's ClusterPubSub; reading before the first subscribe is a RuntimeError."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._compat_started = False

    def subscribe(self, *args: Any, **kwargs: Any) -> None:
        """SUBSCRIBE (clustercore's); from now on get_message() reads."""
        super().subscribe(*args, **kwargs)
        self._compat_started = True

    def psubscribe(self, *args: Any, **kwargs: Any) -> None:
        """PSUBSCRIBE (clustercore's); from now on get_message() reads."""
        super().psubscribe(*args, **kwargs)
        self._compat_started = True

    def ssubscribe(self, *args: Any, **kwargs: Any) -> None:
        """SSUBSCRIBE (clustercore's); from now on get_message() reads."""
        super().ssubscribe(*args, **kwargs)
        self._compat_started = True

    def get_message(self, ignore_subscribe_messages: bool = False,
                    timeout: Optional[float] = 0.0) -> Any:
        """The next message (clustercore's); RuntimeError before any subscription."""
        if not self._compat_started:
            raise RuntimeError(NOT_SUBSCRIBED)
        return super().get_message(ignore_subscribe_messages=ignore_subscribe_messages,
                                   timeout=timeout)

    def reset(self) -> None:
        """Drop every subscription and connection (clustercore's), back to "never subscribed"."""
        super().reset()
        self._compat_started = False

    def close(self) -> None:
        """reset() (redis-py's close)."""
        super().close()
        self._compat_started = False
