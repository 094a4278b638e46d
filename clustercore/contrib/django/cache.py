"""RedisClusterCache: Django's cache API on a Redis Cluster, through one clustercore client.

Settings follow Django's own RedisCache::

    CACHES = {"default": {
        "BACKEND": "clustercore.contrib.django.RedisClusterCache",
        "LOCATION": ["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"],  # startup nodes
        "OPTIONS": {"max_connections": 64, "socket_timeout": 2.0},
    }}

What differs from pointing a one-node backend at a cluster (see docs/django.md):

- multi-key calls are split by node, one round trip per node (MGET per slot, a pipeline of
  per-key SETs so that every key keeps its timeout, DEL per slot);
- ``clear()`` empties every primary; ``keys()``/``iter_keys()``/``delete_pattern()`` scan
  every primary;
- ``incr()`` is one Lua call on the key's slot (missing key: ValueError), atomic, unlike
  EXISTS-then-INCRBY;
- timeouts have millisecond precision (PX), so ``0.5`` stores for half a second;
- the client is shared by every backend object of the process (one per thread in Django) and
  rebuilt in a forked child; ``close()``, which Django calls after every request, keeps it.

OPTIONS this backend reads itself (the rest are RedisCluster's keywords): ``serializer``
("pickle", "json", a class, an instance or a dotted path), ``compressor`` ("zlib", a class,
an instance or a dotted path), ``compress_min_length`` (bytes, default 256), ``pool_class``
(a clustercore pool class or its dotted path). ``MAX_ENTRIES`` and ``CULL_FREQUENCY`` are
Django's culling options for backends that cull; Redis evicts by its maxmemory policy, so they
are not passed on.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Union

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache, default_key_func
from django.core.exceptions import ImproperlyConfigured

from clustercore import RedisCluster, Script

from .client import optional_import, registry, split_location
from .serializers import Codec, Compressor, JSONSerializer, PickleSerializer, Serializer, ZlibCompressor

__all__ = ["RedisClusterCache"]

#: INCRBY only if the key exists (nil otherwise), in one step on the key's node. The new value
#: is returned as the string GET reads: Lua numbers are doubles, so returning INCRBY's reply
#: would round values past 2**53.
INCR_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('INCRBY', KEYS[1], ARGV[1])
return redis.call('GET', KEYS[1])
"""
#: OPTIONS consumed here or by BaseCache, never passed to the client.
OWN_OPTIONS = frozenset({"serializer", "compressor", "compress_min_length"})
CULL_OPTIONS = frozenset({"MAX_ENTRIES", "CULL_FREQUENCY"})
SERIALIZERS = {"pickle": PickleSerializer, "json": JSONSerializer}
COMPRESSORS = {"zlib": ZlibCompressor}
#: delete_pattern deletes in batches of this many keys (one DEL round per batch).
DELETE_BATCH = 500


def _instance(value: Any, named: Dict[str, Any], what: str) -> Any:
    """A serializer/compressor setting (name, class, dotted path or instance) as an instance."""
    if isinstance(value, str) and value in named:
        return named[value]()
    obj = optional_import(value, what)
    return obj() if isinstance(obj, type) else obj


def _glob_escape(text: str) -> str:
    """``text`` matched literally by a SCAN/KEYS pattern."""
    return "".join(f"\\{ch}" if ch in "*?[]\\" else ch for ch in text)


class RedisClusterCache(BaseCache):
    """Django cache backend over Redis Cluster (``clustercore.contrib.django.RedisClusterCache``)."""

    def __init__(self, server: Union[str, Sequence[str]], params: Dict[str, Any]) -> None:
        super().__init__(params)
        self._servers = split_location(server)
        options = dict(params.get("OPTIONS") or {})
        serializer: Serializer = _instance(options.get("serializer", "pickle"), SERIALIZERS,
                                           "OPTIONS['serializer']")
        if not (callable(getattr(serializer, "dumps", None))
                and callable(getattr(serializer, "loads", None))):
            raise ImproperlyConfigured(
                f"OPTIONS['serializer'] must have dumps() and loads(); got {serializer!r}")
        compressor: Optional[Compressor] = _instance(options.get("compressor"), COMPRESSORS,
                                                     "OPTIONS['compressor']")
        if compressor is not None and not callable(getattr(compressor, "compress", None)):
            raise ImproperlyConfigured(
                f"OPTIONS['compressor'] must have compress() and decompress(); got {compressor!r}")
        try:
            self._codec = Codec(serializer, compressor,
                                options.get("compress_min_length", 256))
        except ValueError as exc:
            raise ImproperlyConfigured(str(exc)) from exc
        self._client_options = {k: v for k, v in options.items()
                                if k not in OWN_OPTIONS and k not in CULL_OPTIONS}
        self._client: Optional[RedisCluster] = None
        self._generation = -1
        self._incr_script: Optional[Script] = None

    # --- the shared client -------------------------------------------------------------------
    def get_client(self, key: Any = None, *, write: bool = True) -> RedisCluster:
        """The process's clustercore client for these settings (django-redis's and Django's
        name; ``key`` and ``write`` are accepted for their signatures: one client serves all)."""
        client = self._client
        if client is None or self._generation != registry.generation:
            client, self._generation = registry.get(self._servers, self._client_options)
            self._client = client
            self._incr_script = None
        return client

    @property
    def client(self) -> RedisCluster:
        """The shared client (``get_client()``)."""
        return self.get_client()

    def close(self, **kwargs: Any) -> None:
        """Django calls this after every request: the shared client and its connections stay
        (closing them would reconnect on the next request). Close the pool to shut down."""

    # --- Django's cache API ------------------------------------------------------------------
    def get_backend_timeout(self, timeout: Any = DEFAULT_TIMEOUT) -> Optional[float]:
        """Seconds to keep a key: None persists, 0 (or less) stores nothing."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        return None if timeout is None else max(0.0, float(timeout))

    def _px(self, timeout: Any) -> Optional[int]:
        """The PX argument for ``timeout`` (None: persist; 0: do not store)."""
        seconds = self.get_backend_timeout(timeout)
        return None if seconds is None else int(seconds * 1000)

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT,
            version: Optional[int] = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        data = self._codec.dumps(value)
        px = self._px(timeout)
        client = self.get_client()
        if px == 0:  # added and gone at once: whether it was absent is the answer
            return not client.exists(key)
        return bool(client.set(key, data, px=px, nx=True))

    def get(self, key: Any, default: Any = None, version: Optional[int] = None) -> Any:
        key = self.make_and_validate_key(key, version=version)
        data = self.get_client(write=False).get(key)
        return default if data is None else self._codec.loads(data)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT,
            version: Optional[int] = None) -> None:
        key = self.make_and_validate_key(key, version=version)
        data = self._codec.dumps(value)  # a PickleError is raised before anything is sent
        px = self._px(timeout)
        if px == 0:
            self.get_client().delete(key)
        else:
            self.get_client().set(key, data, px=px)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT,
              version: Optional[int] = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        px = self._px(timeout)
        client = self.get_client()
        if px is None:  # PERSIST answers 0 for a key without a TTL: ask EXISTS as well
            with client.pipeline() as pipe:
                pipe.persist(key)
                pipe.exists(key)
                return bool(pipe.execute()[1])
        if px == 0:
            return bool(client.delete(key))
        return bool(client.pexpire(key, px))

    def delete(self, key: Any, version: Optional[int] = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        return bool(self.get_client().delete(key))

    def get_many(self, keys: Iterable[Any], version: Optional[int] = None) -> Dict[Any, Any]:
        """MGET per slot, one round trip per node (not atomic across slots)."""
        key_map = {self.make_and_validate_key(key, version=version): key for key in keys}
        if not key_map:
            return {}
        made = list(key_map)
        values = self.get_client(write=False).mget_nonatomic(made)
        return {key_map[k]: self._codec.loads(v) for k, v in zip(made, values) if v is not None}

    def has_key(self, key: Any, version: Optional[int] = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        return bool(self.get_client(write=False).exists(key))

    def incr(self, key: Any, delta: int = 1, version: Optional[int] = None) -> int:
        """INCRBY in one Lua step that first checks the key exists (ValueError if not); a
        non-integer value raises the server's ResponseError."""
        made = self.make_and_validate_key(key, version=version)
        client = self.get_client()
        script = self._incr_script
        if script is None:
            script = self._incr_script = client.register_script(INCR_IF_EXISTS)
        result = script(keys=[made], args=[delta])
        if result is None:
            raise ValueError(f"Key '{key}' not found.")
        return int(result)

    def set_many(self, data: Dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT,
                 version: Optional[int] = None) -> List[Any]:
        """One SET per key with the timeout (DEL for timeout 0), pipelined: one round trip
        per node. Every key is serialized before anything is sent. Returns [] (no key fails
        alone: an error raises)."""
        if not data:
            return []
        px = self._px(timeout)
        encoded = [(self.make_and_validate_key(key, version=version), self._codec.dumps(value))
                   for key, value in data.items()]
        with self.get_client().pipeline() as pipe:
            for key, value in encoded:
                if px == 0:
                    pipe.delete(key)
                else:
                    pipe.set(key, value, px=px)
            pipe.execute()
        return []

    def delete_many(self, keys: Iterable[Any], version: Optional[int] = None) -> None:
        """DEL per slot, one round trip per node."""
        made = [self.make_and_validate_key(key, version=version) for key in keys]
        if made:
            self.get_client().delete(*made)

    def clear(self) -> None:
        """FLUSHDB on every primary: every key of the cluster, not only this KEY_PREFIX's
        (as Django's RedisCache does on its server)."""
        self.get_client().flushdb()

    # --- django-redis's extras ---------------------------------------------------------------
    def ttl(self, key: Any, version: Optional[int] = None) -> Optional[int]:
        """Seconds left (django-redis): None when the key never expires, 0 when it is absent."""
        return self._left(self.get_client(write=False).ttl(
            self.make_and_validate_key(key, version=version)))

    def pttl(self, key: Any, version: Optional[int] = None) -> Optional[int]:
        """Milliseconds left, as :meth:`ttl`."""
        return self._left(self.get_client(write=False).pttl(
            self.make_and_validate_key(key, version=version)))

    @staticmethod
    def _left(reply: Any) -> Optional[int]:
        value = int(reply)
        if value == -1:
            return None
        return max(0, value)

    def expire(self, key: Any, timeout: Any, version: Optional[int] = None) -> bool:
        """Give ``key`` a new timeout (None: persist; 0: delete); False when it is absent."""
        return self.touch(key, timeout, version=version)

    def pexpire(self, key: Any, timeout_ms: int, version: Optional[int] = None) -> bool:
        """A new timeout in milliseconds; False when the key is absent."""
        key = self.make_and_validate_key(key, version=version)
        return bool(self.get_client().pexpire(key, int(timeout_ms)))

    def persist(self, key: Any, version: Optional[int] = None) -> bool:
        """Remove ``key``'s timeout; True when the key exists (with or without one)."""
        return self.touch(key, None, version=version)

    def lock(self, key: Any, version: Optional[int] = None, timeout: Optional[float] = None,
             sleep: float = 0.1, blocking: bool = True, blocking_timeout: Optional[float] = None,
             thread_local: bool = True) -> Any:
        """clustercore's Lock on the cache key (a Lua lock on the key's slot), as django-redis's
        ``cache.lock("name")``; use it as a context manager."""
        made = self.make_and_validate_key(key, version=version)
        return self.get_client().lock(made, timeout=timeout, sleep=sleep, blocking=blocking,
                                      blocking_timeout=blocking_timeout,
                                      thread_local=thread_local)

    def _pattern(self, search: str, version: Optional[int]) -> str:
        """The SCAN pattern for cache keys matching ``search`` (glob) in this prefix/version."""
        if self.key_func is default_key_func:
            version = self.version if version is None else version
            return f"{_glob_escape(self.key_prefix)}:{version}:{search}"
        return self.make_key(search, version=version)

    def _original(self, raw: Any) -> str:
        """A stored key back to the caller's key (the default key function only)."""
        text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        if self.key_func is default_key_func:
            return text.split(":", 2)[2]
        return text

    def iter_keys(self, search: str, itersize: Optional[int] = None,
                  version: Optional[int] = None) -> Iterator[str]:
        """Keys matching the glob ``search``, scanning every primary with SCAN (django-redis's
        names; keys as given to set() with the default KEY_FUNCTION, stored keys otherwise)."""
        for raw in self.get_client(write=False).scan_iter(
                match=self._pattern(search, version), count=itersize):
            yield self._original(raw)

    def keys(self, search: str, version: Optional[int] = None) -> List[str]:
        """The list of :meth:`iter_keys` (SCAN, never KEYS: it does not block the servers)."""
        return list(self.iter_keys(search, version=version))

    def delete_pattern(self, pattern: str, version: Optional[int] = None,
                       itersize: Optional[int] = None) -> int:
        """Delete every key matching ``pattern`` on every primary; the number deleted."""
        client = self.get_client()
        deleted = 0
        batch: List[Any] = []
        for raw in client.scan_iter(match=self._pattern(pattern, version), count=itersize):
            batch.append(raw)
            if len(batch) >= DELETE_BATCH:
                deleted += int(client.delete(*batch))
                batch = []
        if batch:
            deleted += int(client.delete(*batch))
        return deleted
