"""``ClusterCore``: one clustercore client per Flask app, shared by every thread of a process.

Construction is lazy: ``init_app`` builds the :class:`~clustercore.RedisCluster` with
``init_slot_cache=False``, so it validates the configuration but opens no connection, and the
app imports (and a pre-forking server loads it) while the cluster is down
(Grokzen/redis-py-cluster#158, #127): the first command discovers the layout, and a command
issued while the cluster is unreachable raises a ``ConnectionError`` / ``TopologyError`` for
that request only; the next command tries again.

One client per process: the client object outlives ``os.fork()`` (so the cache, limiter and
session objects that were handed it at start-up keep working in the workers), but its pools
start over in the child -- clustercore's pools compare a fork generation on every checkout,
so a worker never writes to a socket that its parent (gunicorn's ``--preload`` master) opened.

Teardown: nothing is closed at the end of a request (connections go back to the pool after
every command; closing per request would reconnect on every request). ``close()`` shuts the
client down for good at process exit; ``init_app`` registers it with :mod:`atexit` unless
``CLUSTERCORE_CLOSE_AT_EXIT`` is false (gunicorn users may call it from ``worker_exit``).

Configuration keys (the prefix is ``CLUSTERCORE`` unless another is given):

``CLUSTERCORE_URL``            ``redis://h1:p1,h2:p2?socket_timeout=1`` (``rediss://`` for TLS)
``CLUSTERCORE_STARTUP_NODES``  a list of ``"host:port"``, ``(host, port)`` or ``{"host", "port"}``
``CLUSTERCORE_OPTIONS``        a dict of :class:`~clustercore.RedisCluster` keyword arguments
``CLUSTERCORE_CLIENT``         a ready client (used as is; the keys above are then ignored)
``CLUSTERCORE_CHECK_ON_INIT``  ``True``: ``init_app`` PINGs the cluster and fails fast
``CLUSTERCORE_CLOSE_AT_EXIT``  ``False``: do not register ``close()`` with atexit
"""

from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

from flask import Flask, current_app

from clustercore import RedisCluster, RedisClusterConfigError, redact_url

__all__ = ["EXTENSION_NAME", "ClusterCore", "client_for"]

#: The key of ``app.extensions`` under which each prefix's client is kept.
EXTENSION_NAME = "clustercore"


@dataclass(frozen=True)
class _AppState:
    """What ``init_app`` made for one app and prefix: the client, and whether we own it."""

    client: RedisCluster
    owned: bool


def shown(value: Any) -> str:
    """How an error message quotes a configured value that may hold a credential: a str as a
    redacted URL (its password ``***``), anything else by its type only (a repr of bytes, a
    list or a client could show a password)."""
    if isinstance(value, str):
        return repr(redact_url(value))
    return f"a {type(value).__name__}"


def _setting(config: Mapping[str, Any], prefix: str, suffix: str, default: Any = None) -> Any:
    return config.get(f"{prefix}_{suffix}", default)


def _flag(config: Mapping[str, Any], prefix: str, suffix: str, default: bool) -> bool:
    value = _setting(config, prefix, suffix, default)
    if not isinstance(value, bool):
        raise RedisClusterConfigError(f"{prefix}_{suffix} must be True or False, got {value!r}")
    return value


def build_client(config: Mapping[str, Any], prefix: str = "CLUSTERCORE") -> RedisCluster:
    """A client from the ``<prefix>_URL`` / ``_STARTUP_NODES`` / ``_OPTIONS`` keys of
    ``config``; connects to nothing unless ``_OPTIONS`` sets ``init_slot_cache=True``.

    Raises RedisClusterConfigError naming the key when a value has the wrong type or when
    neither a URL nor startup nodes are given (a client silently pointed at localhost:6379 is
    the failure mode this integration exists to avoid)."""
    url = _setting(config, prefix, "URL")
    nodes = _setting(config, prefix, "STARTUP_NODES")
    options = _setting(config, prefix, "OPTIONS") or {}
    if url is not None and not isinstance(url, str):
        raise RedisClusterConfigError(f"{prefix}_URL must be a string, got {shown(url)}")
    if nodes is not None and (isinstance(nodes, (str, bytes)) or not isinstance(
            nodes, (list, tuple))):
        raise RedisClusterConfigError(
            f"{prefix}_STARTUP_NODES must be a list of nodes, got {shown(nodes)}")
    if not isinstance(options, Mapping):
        raise RedisClusterConfigError(f"{prefix}_OPTIONS must be a dict, got {shown(options)}")
    if not url and not nodes:
        raise RedisClusterConfigError(
            f"set {prefix}_URL or {prefix}_STARTUP_NODES (or {prefix}_CLIENT): "
            "no cluster address is configured")
    kwargs: Dict[str, Any] = {"init_slot_cache": False, **options}
    if nodes:
        kwargs["startup_nodes"] = list(nodes)
    if url:
        kwargs["url"] = url
    return RedisCluster(**kwargs)


class ClusterCore:
    """The Flask extension: ``ClusterCore(app)`` or ``ext = ClusterCore(); ext.init_app(app)``.

    ``ext.client`` is the current app's client (inside an app context); ``ext.get_client(app)``
    works outside one. Several clusters in one app: one extension per ``config_prefix``.
    """

    def __init__(self, app: Optional[Flask] = None, *, config_prefix: str = "CLUSTERCORE") -> None:
        if not isinstance(config_prefix, str) or not config_prefix:
            raise RedisClusterConfigError(
                f"config_prefix must be a non-empty string, got {config_prefix!r}")
        self.config_prefix = config_prefix
        self._lock = threading.Lock()
        self._closed: List[RedisCluster] = []
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Build this app's client (lazily connected) and keep it in ``app.extensions``."""
        config = app.config
        prefix = self.config_prefix
        check = _flag(config, prefix, "CHECK_ON_INIT", False)
        close_at_exit = _flag(config, prefix, "CLOSE_AT_EXIT", True)
        given = _setting(config, prefix, "CLIENT")
        if given is not None and not isinstance(given, RedisCluster):
            raise RedisClusterConfigError(
                f"{prefix}_CLIENT must be a clustercore.RedisCluster, got {shown(given)}")
        state = _AppState(given, False) if given is not None else _AppState(
            build_client(config, prefix), True)
        app.extensions.setdefault(EXTENSION_NAME, {})[prefix] = state
        if check:
            state.client.ping()
        if close_at_exit and state.owned:
            atexit.register(self._close_client, state.client)

    def get_client(self, app: Optional[Flask] = None) -> RedisCluster:
        """The client of ``app`` (default: the current app); RuntimeError naming the prefix
        when ``init_app`` has not run for it."""
        return client_for(app if app is not None else current_app, self.config_prefix)

    @property
    def client(self) -> RedisCluster:
        """The current app's client (needs an app context)."""
        return self.get_client()

    def close(self, app: Optional[Flask] = None) -> None:
        """Close the app's client for good (its pool refuses later commands). Idempotent; a
        ready client given through ``<prefix>_CLIENT`` is left to its owner."""
        target = app if app is not None else current_app
        state = target.extensions.get(EXTENSION_NAME, {}).get(self.config_prefix)
        if isinstance(state, _AppState) and state.owned:
            self._close_client(state.client)

    def _close_client(self, client: RedisCluster) -> None:
        with self._lock:
            if any(c is client for c in self._closed):
                return
            self._closed.append(client)
        client.connection_pool.close()  # I/O after the lock is released


def client_for(app: Flask, config_prefix: str = "CLUSTERCORE") -> RedisCluster:
    """The client :class:`ClusterCore` made for ``app`` under ``config_prefix`` (what the
    cache and session backends of this package use)."""
    state = app.extensions.get(EXTENSION_NAME, {}).get(config_prefix)
    if not isinstance(state, _AppState):
        raise RuntimeError(
            f"clustercore is not set up for app {app.name!r} (prefix {config_prefix!r}): call "
            "ClusterCore(config_prefix=...).init_app(app) before using it")
    return state.client
