"""Flask-Session on a clustercore client.

Flask-Session's ``SESSION_TYPE = "redis"`` checks ``isinstance(SESSION_REDIS, redis.Redis)``
and, when that fails, warns and silently builds ``redis.Redis()`` on localhost:6379 (a
``RedisCluster`` of any library fails the check). Two clean ways round it:

- :class:`ClusterSessionInterface` (``install_session(app)`` instead of ``Session(app)``):
  the same storage as Flask-Session's redis interface (one key ``<SESSION_KEY_PREFIX><sid>``
  per session, msgpack or json through Flask-Session's serializer, SET with EX) on the
  ClusterCore extension's client. Each session is one key, so it never crosses a slot.
- ``SESSION_TYPE = "cachelib"`` with ``SESSION_CACHELIB =
  ClusterCache(client, key_prefix=...)`` (Flask-Session's own cachelib interface; values
  pickled by cachelib) -- no code from here at run time beyond the cache.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Optional

from flask import Flask
from flask_session.base import (  # type: ignore[import-untyped]
    ServerSideSession,
    ServerSideSessionInterface,
)
from flask_session.defaults import Defaults  # type: ignore[import-untyped]

from clustercore import RedisCluster

from .extension import client_for, shown

__all__ = ["ClusterSession", "ClusterSessionInterface", "install_session"]


class ClusterSession(ServerSideSession):  # type: ignore[misc]
    """A server-side session kept in the cluster."""


class ClusterSessionInterface(ServerSideSessionInterface):  # type: ignore[misc]
    """Flask-Session's server-side sessions in a Redis Cluster.

    :param app: the Flask app (Flask-Session's serializer logs through it).
    :param client: a :class:`clustercore.RedisCluster`; default: the one the ClusterCore
        extension made for ``app`` under ``config_prefix``.

    The other arguments are Flask-Session's (``key_prefix``, ``use_signer``, ``permanent``,
    ``sid_length``, ``serialization_format``)."""

    session_class = ClusterSession
    ttl = True  # the server expires sessions: no cleanup job

    def __init__(self, app: Flask, client: Optional[RedisCluster] = None, *,
                 config_prefix: str = "CLUSTERCORE",
                 key_prefix: str = Defaults.SESSION_KEY_PREFIX,
                 use_signer: bool = Defaults.SESSION_USE_SIGNER,
                 permanent: bool = Defaults.SESSION_PERMANENT,
                 sid_length: int = Defaults.SESSION_ID_LENGTH,
                 serialization_format: str = Defaults.SESSION_SERIALIZATION_FORMAT) -> None:
        if client is None:
            client = client_for(app, config_prefix)
        elif not isinstance(client, RedisCluster):
            raise TypeError(
                f"ClusterSessionInterface needs a clustercore.RedisCluster, got {shown(client)}")
        self.client = client
        super().__init__(app, key_prefix, use_signer, permanent, sid_length,
                         serialization_format)

    def _retrieve_session_data(self, store_id: str) -> Optional[dict[str, Any]]:
        data = self.client.get(store_id)
        if not data:
            return None
        decoded: dict[str, Any] = self.serializer.decode(data)
        return decoded

    def _delete_session(self, store_id: str) -> None:
        self.client.delete(store_id)

    def _upsert_session(self, session_lifetime: timedelta, session: ServerSideSession,
                        store_id: str) -> None:
        # EX must be positive; a lifetime under a second keeps the session for one second
        seconds = max(1, int(session_lifetime.total_seconds()))
        self.client.set(store_id, self.serializer.encode(session), ex=seconds)


def install_session(app: Flask, client: Optional[RedisCluster] = None, *,
                    config_prefix: str = "CLUSTERCORE") -> ClusterSessionInterface:
    """Make ``app`` keep its sessions in the cluster (instead of ``Session(app)``), with
    Flask-Session's ``SESSION_KEY_PREFIX`` / ``SESSION_USE_SIGNER`` / ``SESSION_PERMANENT`` /
    ``SESSION_ID_LENGTH`` / ``SESSION_SERIALIZATION_FORMAT`` settings; returns the interface."""
    config = app.config
    interface = ClusterSessionInterface(
        app, client, config_prefix=config_prefix,
        key_prefix=config.get("SESSION_KEY_PREFIX", Defaults.SESSION_KEY_PREFIX),
        use_signer=config.get("SESSION_USE_SIGNER", Defaults.SESSION_USE_SIGNER),
        permanent=config.get("SESSION_PERMANENT", Defaults.SESSION_PERMANENT),
        sid_length=config.get("SESSION_ID_LENGTH", Defaults.SESSION_ID_LENGTH),
        serialization_format=config.get("SESSION_SERIALIZATION_FORMAT",
                                        Defaults.SESSION_SERIALIZATION_FORMAT))
    app.session_interface = interface
    return interface
