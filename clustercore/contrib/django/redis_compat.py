"""Keeping django-redis: a CONNECTION_POOL_CLASS that makes its DefaultClient talk to a cluster.

django-redis builds its client as ``REDIS_CLIENT_CLASS(connection_pool=POOL.from_url(url,
parser_class=..., **CONNECTION_POOL_KWARGS))``. With ``REDIS_CLIENT_CLASS =
"clustercore.RedisCluster"`` and this pool class, every django-redis call goes through
clustercore, which splits multi-key commands by slot and fans FLUSHDB/SCAN out to every
primary::

    "OPTIONS": {
        "REDIS_CLIENT_CLASS": "clustercore.RedisCluster",
        "CONNECTION_POOL_CLASS": "clustercore.contrib.django.redis_compat.DjangoRedisClusterPool",
    }

django-redis keeps one pool per URL in a process-wide dict, so its clients share connections
as they do with redis-py. docs/django.md lists what does and does not work that way.
"""

from __future__ import annotations

from typing import Any

from clustercore import ClusterConnectionPool, ConnectionError, RedisClusterConfigError, redact_url

from .client import cluster_url_parts

__all__ = ["ClusterUnreachableError", "DjangoRedisClusterPool"]


class ClusterUnreachableError(ConnectionError):
    """No startup node gave the layout on first use (the cluster is down or unreachable): a
    connection error, which django-redis's IGNORE_EXCEPTIONS catches."""


class DjangoRedisClusterPool(ClusterConnectionPool):
    """A clustercore cluster pool with the ``from_url`` django-redis calls."""

    @classmethod
    def from_url(cls, url: str, db: Any = None, decode_components: bool = False,
                 **kwargs: Any) -> DjangoRedisClusterPool:
        """A pool for the cluster that ``url`` (``redis://[user:pass@]host:port``, ``rediss://``
        for TLS, several ``host:port`` separated by ``,`` allowed) names a startup node of.

        The signature is the pools' (redis-py-cluster's); ``db`` may only be 0 and
        ``decode_components`` is accepted for it (the URL's parts are always unquoted).
        ``parser_class`` (django-redis always passes redis-py's) is dropped: clustercore
        parses replies itself (hiredis when installed). Other keywords are the pool's.
        The layout is discovered on first use (``init_slot_cache=False`` unless given), as a
        redis-py pool connects on first use: a cluster that is down when django-redis builds
        its client fails the first command, inside django-redis's IGNORE_EXCEPTIONS net,
        not the construction outside it."""
        kwargs.pop("parser_class", None)
        if db not in (None, 0, "0"):
            raise RedisClusterConfigError(
                f"Redis Cluster has only database 0; got db={db!r} for {redact_url(url)!r}")
        kwargs.setdefault("init_slot_cache", False)
        nodes, credentials = cluster_url_parts(url)
        for key, value in credentials.items():
            kwargs.setdefault(key, value)
        return cls(startup_nodes=nodes, **kwargs)

    def ensure_topology(self) -> Any:
        """The layout, discovered on first use; a discovery that fails raises
        :class:`ClusterUnreachableError` (a ConnectionError) instead of clustercore's
        RedisClusterConfigError, so that django-redis treats a cluster that is down when it
        first connects as it treats a server that is down (IGNORE_EXCEPTIONS catches it)."""
        try:
            return super().ensure_topology()
        except RedisClusterConfigError as exc:
            raise ClusterUnreachableError(f"cluster unreachable on first use: {exc}") from exc
