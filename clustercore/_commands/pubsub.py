"""The pub/sub commands of :class:`~.api.CommandsMixin` that need no subscribed connection
(PUBLISH, SPUBLISH, PUBSUB *). Subscribing is connection-bound and belongs to ``ClusterPubSub``.
"""

from __future__ import annotations

from typing import Any

from .args import (
    EncodableT,
)
from .base import CommandsBase

__all__ = ["PubSubCommands"]


class PubSubCommands(CommandsBase):
    """Pub/sub commands that need no subscribed connection (redis-py's names and shapes)."""

    def publish(self, channel: Any, message: EncodableT, **kwargs: Any) -> Any:
        """Publish to a channel (delivered cluster-wide); receivers counted on that node."""
        return self.execute_command("PUBLISH", channel, message, **kwargs)

    def pubsub_channels(self, pattern: Any = "*", **kwargs: Any) -> Any:
        """Channels with subscribers on any node (no duplicates)."""
        return self.execute_command("PUBSUB", "CHANNELS", pattern, **kwargs)

    def pubsub_numpat(self, **kwargs: Any) -> Any:
        """Pattern subscriptions summed over all nodes."""
        return self.execute_command("PUBSUB", "NUMPAT", **kwargs)

    def pubsub_numsub(self, *args: Any, **kwargs: Any) -> Any:
        """``[(channel, subscribers)]`` summed over all nodes."""
        return self.execute_command("PUBSUB", "NUMSUB", *args, **kwargs)

    def pubsub_shardchannels(self, pattern: Any = "*", **kwargs: Any) -> Any:
        """Shard channels with subscribers on any node (no duplicates)."""
        return self.execute_command("PUBSUB", "SHARDCHANNELS", pattern, **kwargs)

    def pubsub_shardnumsub(self, *args: Any, **kwargs: Any) -> Any:
        """``[(shard channel, subscribers)]`` summed over all nodes."""
        return self.execute_command("PUBSUB", "SHARDNUMSUB", *args, **kwargs)

    def spublish(self, shard_channel: Any, message: EncodableT) -> Any:
        """Publish to a shard channel (routed by the channel's slot)."""
        return self.execute_command("SPUBLISH", shard_channel, message)
