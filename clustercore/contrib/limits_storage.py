"""A `limits <https://limits.readthedocs.io>`_ storage on clustercore (and so Flask-Limiter's).

Importing this module registers the storage schemes ``clustercore://`` and
``clustercore+tls://`` with limits (limits' storage classes register their ``STORAGE_SCHEME``
when they are defined)::

    import clustercore.contrib.limits_storage  # noqa: F401  (registers the schemes)
    storage = limits.storage.storage_from_string("clustercore://10.0.0.1:7000,10.0.0.2:7000")
    # or with a ready client (Flask-Limiter: RATELIMIT_STORAGE_OPTIONS = {"client": rc})
    storage = ClusterCoreStorage("clustercore://", client=rc)

The URI is clustercore's own (``RedisCluster.from_url``, so every query option works) with
the scheme ``redis`` / ``rediss`` replaced. The data layout and Lua scripts are those of
limits' RedisStorage (fixed window: one counter key; moving window: one list key; sliding
window counter: two keys sharing the hash tag ``{key}``), so every script touches one slot
and runs, through clustercore's Script, on the node that owns it (EVALSHA, loading the body on
NOSCRIPT there). ``reset()`` walks every primary with SCAN (not KEYS, and not a Lua script on
one node, which would only see that node's keys) and deletes in batches.

During a failover a write acknowledged by the old primary may be lost (replication is
asynchronous): a limit may briefly let through up to the hits counted just before it. That is
a property of Redis replication, not of this storage.
"""

from __future__ import annotations

import time
from typing import Any, Callable, List, Optional, Tuple, Type, Union

from limits.errors import ConfigurationError
from limits.storage.base import MovingWindowSupport, SlidingWindowCounterSupport, Storage
from limits.storage.redis import RedisStorage

from clustercore import ClusterCoreError, RedisCluster, key_slot, redact_url

from .patterns import glob_escape

__all__ = ["ClusterCoreStorage"]

_SCHEMES = {"clustercore": "redis", "clustercore+tls": "rediss"}
#: Keys per DEL while resetting (clustercore splits each DEL by slot).
RESET_BATCH = 500


class ClusterCoreStorage(Storage, MovingWindowSupport, SlidingWindowCounterSupport):
    """limits storage for Redis Cluster through clustercore (see the module docstring).

    :param uri: ``clustercore://[user:password@]host:port[,host:port...][?options]``
        (``clustercore+tls://`` for TLS); may be just ``clustercore://`` with ``client``.
    :param client: a ready :class:`clustercore.RedisCluster` to use instead of building one
        from ``uri`` (the storage then does not own it).
    :param key_prefix: the prefix of every key (limits' default ``LIMITS``).
    :param wrap_exceptions: raise :class:`limits.errors.StorageError` wrapping clustercore's
        errors, instead of the errors themselves.
    :param clock: seconds since the epoch (``time.time``), for the moving window's entries.
    :param options: keyword arguments for :class:`clustercore.RedisCluster`.
    """

    STORAGE_SCHEME = list(_SCHEMES)
    DEPENDENCIES: dict[str, Any] = {}

    def __init__(self, uri: str, client: Optional[RedisCluster] = None, *,
                 key_prefix: str = RedisStorage.PREFIX, wrap_exceptions: bool = False,
                 clock: Callable[[], float] = time.time, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        if not isinstance(uri, str):
            raise ConfigurationError(f"the storage URI must be a str, got {type(uri).__name__}")
        scheme, sep, rest = uri.partition("://")
        shown = redact_url(uri)  # every error quotes the URI without its password
        if not sep or scheme not in _SCHEMES:
            raise ConfigurationError(
                f"clustercore storage URI must start with {' or '.join(s + '://' for s in _SCHEMES)}"
                f", got {shown!r}")
        if not isinstance(key_prefix, str):
            raise ConfigurationError(f"key_prefix must be a string, got {key_prefix!r}")
        if client is not None:
            if not isinstance(client, RedisCluster):
                raise ConfigurationError(
                    f"client must be a clustercore.RedisCluster, got a {type(client).__name__}")
            if options:
                raise ConfigurationError(
                    f"give either a client or client options, not both: {sorted(options)}")
            self.storage, self.owns_client = client, False
        else:
            if not rest.split("?", 1)[0].split("/", 1)[0]:
                raise ConfigurationError(f"{shown!r} names no cluster node (or pass client=)")
            self.storage = RedisCluster.from_url(f"{_SCHEMES[scheme]}://{rest}", **options)
            self.owns_client = True
        self.key_prefix = key_prefix
        self.clock = clock
        self.lua_incr_expire = self.storage.register_script(RedisStorage.SCRIPT_INCR_EXPIRE)
        self.lua_moving_window = self.storage.register_script(RedisStorage.SCRIPT_MOVING_WINDOW)
        self.lua_acquire_moving_window = self.storage.register_script(
            RedisStorage.SCRIPT_ACQUIRE_MOVING_WINDOW)
        self.lua_sliding_window = self.storage.register_script(
            RedisStorage.SCRIPT_SLIDING_WINDOW)
        self.lua_acquire_sliding_window = self.storage.register_script(
            RedisStorage.SCRIPT_ACQUIRE_SLIDING_WINDOW)

    @property
    def base_exceptions(self) -> Union[Type[Exception], Tuple[Type[Exception], ...]]:
        """What limits wraps in StorageError with ``wrap_exceptions``: every clustercore error."""
        return ClusterCoreError

    # --- keys ----------------------------------------------------------------------------------
    def prefixed_key(self, key: str) -> str:
        """The stored name of a limit key (limits' layout: ``<prefix>:<key>``)."""
        return f"{self.key_prefix}:{key}"

    def window_keys(self, key: str) -> Tuple[str, str]:
        """The sliding window's (previous, current) counters: one hash tag, so one slot.

        A ConfigurationError names the key if they would not share a slot (an empty key
        gives the empty tag ``{}``, which Redis ignores; so does a prefix with ``{}``)."""
        current = self.prefixed_key(f"{{{key}}}")
        previous = f"{current}/-1"
        if key_slot(current) != key_slot(previous):
            raise ConfigurationError(
                f"sliding-window keys {previous!r} and {current!r} hash to different slots: "
                "use a non-empty key and a key_prefix without '{}'")
        return previous, current

    # --- fixed window --------------------------------------------------------------------------
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add ``amount`` to the counter, starting its ``expiry`` when it is new (one script)."""
        return int(self.lua_incr_expire([self.prefixed_key(key)], [expiry, amount]))

    def get(self, key: str) -> int:
        """The counter's value (0 when absent)."""
        return int(self.storage.get(self.prefixed_key(key)) or 0)

    def get_expiry(self, key: str) -> float:
        """When the counter expires (epoch seconds; now when absent)."""
        return max(int(self.storage.ttl(self.prefixed_key(key))), 0) + self.clock()

    def clear(self, key: str) -> None:
        """Forget one limit key."""
        self.storage.delete(self.prefixed_key(key))

    # --- moving window -------------------------------------------------------------------------
    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """Take ``amount`` entries in the moving window if they fit under ``limit``."""
        return bool(self.lua_acquire_moving_window(
            [self.prefixed_key(key)], [self.clock(), limit, expiry, amount]))

    def get_moving_window(self, key: str, limit: int, expiry: int) -> Tuple[float, int]:
        """(start of the window, entries in it)."""
        now = self.clock()
        window = self.lua_moving_window([self.prefixed_key(key)], [now - expiry, limit])
        if window:
            return float(window[0]), int(window[1])
        return now, 0

    # --- sliding window counter ----------------------------------------------------------------
    def acquire_sliding_window_entry(self, key: str, limit: int, expiry: int,
                                     amount: int = 1) -> bool:
        """Take ``amount`` hits if the weighted previous + current counts stay under ``limit``."""
        return bool(self.lua_acquire_sliding_window(list(self.window_keys(key)),
                                                    [limit, expiry, amount]))

    def get_sliding_window(self, key: str, expiry: int) -> Tuple[int, float, int, float]:
        """(previous count, its TTL in seconds, current count, its TTL in seconds)."""
        window = self.lua_sliding_window(list(self.window_keys(key)), [expiry])
        if not window:
            return 0, 0.0, 0, 0.0
        return (int(window[0] or 0), max(0.0, float(window[1] or 0)) / 1000,
                int(window[2] or 0), max(0.0, float(window[3] or 0)) / 1000)

    def clear_sliding_window(self, key: str, expiry: int) -> None:
        """Forget both counters of a sliding window (one slot: one DEL)."""
        self.storage.delete(*self.window_keys(key))

    # --- the whole storage ---------------------------------------------------------------------
    def check(self) -> bool:
        """Whether the cluster answers a PING (False on any clustercore error)."""
        try:
            return bool(self.storage.ping())
        except ClusterCoreError:
            return False

    def reset(self) -> Optional[int]:
        """Delete every key under the prefix on every primary; the number deleted."""
        pattern = glob_escape(self.key_prefix) + ":*"
        deleted = 0
        batch: List[Any] = []
        for name in self.storage.scan_iter(match=pattern, count=1000):
            batch.append(name)
            if len(batch) >= RESET_BATCH:
                deleted += int(self.storage.delete(*batch))
                batch = []
        if batch:
            deleted += int(self.storage.delete(*batch))
        return deleted

    def close(self) -> None:
        """Close the client if this storage built it (a given client is left to its owner)."""
        if self.owns_client:
            self.storage.connection_pool.close()
