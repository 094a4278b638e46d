"""cachelib's RedisCache over a clustercore client, and a Flask-Caching backend built on it.

cachelib's ``RedisCache(host=<client>)`` already works with a clustercore client: its
``get_many`` is one MGET, ``delete_many`` one DEL, ``set_many`` a non-transactional pipeline
and ``clear()`` with a key prefix KEYS + DEL; clustercore splits MGET and DEL by slot (one
round trip per node), groups the pipeline per node and runs KEYS on every primary. Two things
it does are still wrong on a cluster, and :class:`ClusterCache` changes only those:

- ``add()`` is SETNX then EXPIRE (two commands: a key added by a process that dies between
  them never expires); here it is one ``SET NX EX``.
- ``clear()`` with a prefix runs KEYS, which blocks each primary for the whole keyspace walk,
  and passes the prefix unescaped as a glob (a prefix holding ``*``, ``?`` or ``[`` clears
  other keys); here it is SCAN on every primary with the prefix escaped, deleting in batches.
  Without a prefix both empty every primary (FLUSHDB on each): the whole cluster.

``flask_caching_backend`` is a Flask-Caching ``CACHE_TYPE``: it takes the client the
:class:`~clustercore.contrib.flask.extension.ClusterCore` extension made for the app, so
Flask-Caching needs neither redis-py nor a second client.
"""

from __future__ import annotations

import datetime
from typing import Any, Callable, Dict, List, Optional, Union

from cachelib import RedisCache
from flask import Flask

from clustercore import RedisCluster

from ..patterns import glob_escape
from .extension import client_for, shown

__all__ = ["ClusterCache", "flask_caching_backend"]

#: Keys deleted per DEL while clearing a prefix (clustercore splits each DEL by slot).
CLEAR_BATCH = 500


class ClusterCache(RedisCache):
    """cachelib's RedisCache on a ready clustercore client (see the module docstring).

    :param client: a :class:`clustercore.RedisCluster`, which must not decode responses
        (cachelib stores pickles); TypeError / ValueError otherwise.
    :param scan_count: the COUNT hint of the SCAN that ``clear()`` runs with a prefix.

    The other arguments are cachelib's: ``default_timeout`` (0: never expires),
    ``key_prefix`` (a string or a callable returning one), ``ignore_delete_many_errors``.
    """

    def __init__(self, client: RedisCluster,
                 default_timeout: Union[int, datetime.timedelta] = 300,
                 key_prefix: Union[str, Callable[[], str], None] = None,
                 ignore_delete_many_errors: bool = True, scan_count: int = 1000) -> None:
        if not isinstance(client, RedisCluster):
            raise TypeError(f"ClusterCache needs a clustercore.RedisCluster, got {shown(client)}")
        if client.get_encoder().decode_responses:
            raise ValueError("ClusterCache needs a client with decode_responses=False "
                             "(cachelib stores pickled bytes)")
        if not isinstance(scan_count, int) or isinstance(scan_count, bool) or scan_count < 1:
            raise ValueError(f"scan_count must be a positive int, got {scan_count!r}")
        super().__init__(host=client, default_timeout=default_timeout, key_prefix=key_prefix,
                         ignore_delete_many_errors=ignore_delete_many_errors)
        self.client = client
        self.scan_count = scan_count

    def add(self, key: str, value: Any,
            timeout: Union[int, datetime.timedelta, None] = None) -> bool:
        """Store ``value`` only if ``key`` is absent, with its timeout, in one command."""
        expires = self._normalize_timeout(timeout)
        created = self.client.set(f"{self._get_prefix()}{key}", self.serializer.dumps(value),
                                  ex=None if expires == -1 else expires, nx=True)
        return bool(created)

    def clear(self) -> bool:
        """Delete every key under the prefix on every primary (SCAN, then DEL in batches);
        without a prefix, FLUSHDB on every primary. True when it ran to the end."""
        prefix = self._get_prefix()
        if not prefix:
            return bool(self.client.flushdb())
        batch: List[Any] = []
        for name in self.client.scan_iter(match=glob_escape(prefix) + "*",
                                          count=self.scan_count):
            batch.append(name)
            if len(batch) >= CLEAR_BATCH:
                self.client.delete(*batch)
                batch = []
        if batch:
            self.client.delete(*batch)
        return True


def flask_caching_backend(app: Flask, config: Dict[str, Any], args: List[Any],
                          kwargs: Dict[str, Any]) -> ClusterCache:
    """Flask-Caching's factory protocol (``CACHE_TYPE =
    "clustercore.contrib.flask.caching.flask_caching_backend"``).

    Reads ``CACHE_KEY_PREFIX`` and ``CACHE_CLUSTERCORE_PREFIX`` (which ClusterCore extension's
    client to use; default ``"CLUSTERCORE"``); ``kwargs`` carries Flask-Caching's
    ``default_timeout``, ``ignore_delete_many_errors`` and ``CACHE_OPTIONS``."""
    prefix: Optional[str] = config.get("CACHE_KEY_PREFIX")
    options = dict(kwargs)
    if prefix:
        options.setdefault("key_prefix", prefix)
    client = client_for(app, config.get("CACHE_CLUSTERCORE_PREFIX", "CLUSTERCORE"))
    return ClusterCache(client, *args, **options)
