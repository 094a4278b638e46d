"""One RedisCluster per process for every cache backend object that asks for the same cluster.

Django makes a cache backend object per thread (and per alias); building a cluster client per
object would mean a topology discovery, a pool and a maintenance thread per thread. Instead
each backend asks :data:`registry` for the client of its (LOCATION, OPTIONS): the first caller
builds it (outside the lock: discovery is I/O), later callers of any thread get the same one.

After ``os.fork()`` the child starts with an empty registry (``os.register_at_fork``): its
first caller builds a new client. The parent's clients are kept referenced but never used in
the child -- closing them there could shut down sockets the parent still reads (TLS close
notify) -- and their pools' own fork check drops the inherited connections anyway.

``LOCATION`` is Django's: a list of URLs or one string split on ``,`` and ``;``. Every entry
names a startup node (``redis://[user:pass@]host:port``, ``rediss://`` for TLS, or a bare
``host:port``); credentials, TLS and query options come from the first URL.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Type, Union
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from clustercore import ClusterConnectionPool, NodeAddress, RedisCluster, redact_url

__all__ = ["ClientRegistry", "build_client", "cluster_url_parts", "registry", "split_location"]

#: RedisCluster keywords that shape the client (retries, routing) rather than its pool: with an
#: explicit ``pool_class`` these go to RedisCluster and the rest to the pool.
CLIENT_KEYWORDS = frozenset({
    "retry_deadline", "max_redirects", "backoff", "retry_non_idempotent",
    "cluster_down_retry_attempts", "cluster_error_retry_attempts", "retry", "sleep",
    "read_from_replicas", "retry_on_timeout", "read_your_writes",
})


def split_location(location: Union[str, Sequence[str], None]) -> List[str]:
    """Django's LOCATION as a list of non-empty entries (a string is split on ``,``/``;``)."""
    if location is None or location == "":
        raise ImproperlyConfigured("RedisClusterCache needs a LOCATION: one or more startup "
                                   "node URLs (redis://host:port)")
    if isinstance(location, str):
        entries = [part.strip() for part in re.split("[;,]", location)]
    elif isinstance(location, (list, tuple)):
        entries = [str(part).strip() for part in location]
    else:  # its repr could hold a URL with a password: name the type only
        raise ImproperlyConfigured(
            f"LOCATION must be a string or a list of URLs; got {type(location).__name__}")
    entries = [e for e in entries if e]
    if not entries:
        raise ImproperlyConfigured("LOCATION names no node")
    return [e if "://" in e else f"redis://{e}" for e in entries]


def cluster_url_parts(url: str) -> Tuple[List[NodeAddress], Dict[str, Any]]:
    """The startup nodes of one URL (``redis://[user:pass@]h1:p1[,h2:p2]``) and its username,
    password and TLS switch (``rediss://``), as pool keywords. Query options are refused:
    this path builds a pool, whose options are given as keywords."""
    shown = redact_url(url)  # every error quotes the URL without its password
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # unbalanced IPv6 brackets
        raise ImproperlyConfigured(f"cannot parse the URL {shown!r}: {exc}") from None
    if parts.scheme not in ("redis", "rediss"):
        raise ImproperlyConfigured(f"URL scheme must be redis:// or rediss://: {shown!r}")
    if "@" not in parts.netloc and "@" in url.partition("://")[2]:
        # urlsplit ended the host part early: at a '/', '?' or '#' inside the password
        raise ImproperlyConfigured(
            f"URL {shown!r} has an '@' after its host part: a password holding '/', '?' or "
            "'#' must be percent-encoded (urllib.parse.quote(password, safe=''))")
    if parts.query:
        raise ImproperlyConfigured(
            f"give connection options as keywords (OPTIONS), not in the URL: {shown!r}")
    if parts.path.strip("/") not in ("", "0"):
        raise ImproperlyConfigured(f"Redis Cluster has only database 0; URL names {shown!r}")
    credentials: Dict[str, Any] = {}
    netloc = parts.netloc
    if "@" in netloc:
        creds, netloc = netloc.rsplit("@", 1)
        user, _, password = creds.partition(":")
        if user:
            credentials["username"] = unquote(user)
        if password:
            credentials["password"] = unquote(password)
    if parts.scheme == "rediss":
        credentials["ssl"] = True
    try:
        nodes = [NodeAddress.parse(part) for part in netloc.split(",") if part]
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"URL {shown!r}: {exc}") from None
    if not nodes:
        raise ImproperlyConfigured(f"URL names no node: {shown!r}")
    return nodes, credentials


def _pool_class(value: Any) -> Type[ClusterConnectionPool]:
    cls = import_string(value) if isinstance(value, str) else value
    if not (isinstance(cls, type) and issubclass(cls, ClusterConnectionPool)):
        raise ImproperlyConfigured(
            f"OPTIONS['pool_class'] must be a clustercore cluster pool class; got {value!r}")
    return cls


def build_client(urls: Sequence[str], options: Mapping[str, Any]) -> RedisCluster:
    """A RedisCluster for startup nodes ``urls`` with ``options`` (RedisCluster's keywords,
    plus ``pool_class``: one of clustercore's pool classes or its dotted path)."""
    options = dict(options)
    pool_class = options.pop("pool_class", None)
    if pool_class is None:
        # the first URL carries credentials, TLS and query options (clustercore reads
        # them); the others add startup nodes
        rest = [node for url in urls[1:] for node in cluster_url_parts(url)[0]]
        return RedisCluster(url=urls[0], startup_nodes=rest, **options)
    parsed = [cluster_url_parts(url) for url in urls]
    nodes = [node for found, _ in parsed for node in found]
    client_kwargs = {k: v for k, v in options.items() if k in CLIENT_KEYWORDS}
    pool_kwargs = {k: v for k, v in options.items() if k not in CLIENT_KEYWORDS}
    for key, value in parsed[0][1].items():  # credentials and TLS from the first URL
        pool_kwargs.setdefault(key, value)
    pool = _pool_class(pool_class)(startup_nodes=nodes, **pool_kwargs)
    return RedisCluster(connection_pool=pool, **client_kwargs)


def options_key(urls: Sequence[str], options: Mapping[str, Any]) -> str:
    """What identifies one client: the URLs and the options (by repr: options may hold
    unhashable values, and every thread's settings hold the same objects)."""
    return repr((tuple(urls), sorted(options.items(), key=lambda item: item[0])))


class ClientRegistry:
    """The process's clients by :func:`options_key`; emptied in a forked child.

    ``generation`` changes whenever the registry is emptied, so a backend object that cached
    a client knows when to ask again."""

    def __init__(self, factory: Callable[[Sequence[str], Mapping[str, Any]], RedisCluster]
                 = build_client) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._clients: Dict[str, RedisCluster] = {}
        #: Clients inherited from the parent process: referenced, never used or closed here.
        self._inherited: List[RedisCluster] = []
        self.generation = 0

    def get(self, urls: Sequence[str], options: Mapping[str, Any]) -> Tuple[RedisCluster, int]:
        """The shared client for these settings (built on first use) and the generation it
        belongs to."""
        key = options_key(urls, options)
        with self._lock:
            found = self._clients.get(key)
            generation = self.generation
        if found is not None:
            return found, generation
        built = self._factory(urls, options)  # discovery: never under the lock
        with self._lock:  # after a reset meanwhile, ours is the new generation's first
            found = self._clients.setdefault(key, built)
            generation = self.generation
        if found is not built:  # another thread won the race: ours was never handed out
            built.connection_pool.close()
        return found, generation

    def reset(self) -> List[RedisCluster]:
        """Forget every client (the next get builds anew); returns them for the caller to
        close, if it wants to (tests do; the fork handler does not)."""
        with self._lock:
            dropped = list(self._clients.values())
            self._clients.clear()
            self.generation += 1
        return dropped

    def after_fork_in_child(self) -> None:
        """Start empty in a forked child with a fresh lock (a parent thread may have held the
        old one at the fork); keep the parent's clients referenced, unused."""
        self._lock = threading.Lock()
        self._inherited.extend(self._clients.values())
        self._clients = {}
        self.generation += 1

    def __len__(self) -> int:
        with self._lock:
            return len(self._clients)


#: The process-wide registry every RedisClusterCache uses.
registry = ClientRegistry()

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=registry.after_fork_in_child)


def optional_import(value: Any, what: str) -> Optional[Any]:
    """A setting that may be an object or its dotted path (None stays None)."""
    if value is None or not isinstance(value, str):
        return value
    try:
        return import_string(value)
    except ImportError as exc:
        raise ImproperlyConfigured(f"{what}: cannot import {value!r}: {exc}") from exc
