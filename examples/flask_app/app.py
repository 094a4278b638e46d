"""A small Flask app on a Redis Cluster: a counter, a cached view, a rate-limited endpoint.

Run it (see README.md next to this file)::

    CLUSTERCORE_URL=redis://127.0.0.1:7000 gunicorn -c gunicorn.conf.py 'app:create_app()'

Everything goes through one clustercore client per process (the ClusterCore extension):
Flask-Caching's backend, Flask-Limiter's storage and the views share it. The client is built
when the app is created -- before gunicorn forks its workers under ``--preload`` -- and each
worker's pools start over after the fork, so no two processes share a socket.

Errors: a cluster error that outlives the client's retries (``retry_deadline``, during a
failover) becomes a 503 with ``{"error": <class>, "outcome_unknown": <bool>}``; an INCR whose
reply was lost is never re-sent (``outcome_unknown`` true: it may or may not have counted).
Nothing else answers 500 on account of the cluster.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional

from flask import Flask, jsonify, request
from flask_caching import Cache
from flask_limiter import Limiter

from clustercore import ClusterCoreError, OutcomeUnknownError, RedisCluster
from clustercore.contrib.flask.extension import ClusterCore

#: Registers the ``clustercore://`` scheme with limits (Flask-Limiter's storage).
from clustercore.contrib.limits_storage import ClusterCoreStorage

clustercore = ClusterCore()
cache = Cache()


def rate_limit_key() -> str:
    """Who a hit counts against: the X-Client header when sent (tests, API keys), else the
    remote address."""
    return request.headers.get("X-Client") or request.remote_addr or "unknown"


limiter = Limiter(rate_limit_key)


def connection_report(client: RedisCluster) -> List[str]:
    """The client address ("ip:port") that each primary sees for a connection of this
    process: one CLIENT INFO per primary, on a pooled connection."""
    addrs = []
    for node in client.get_primaries():
        info = client.get_redis_connection(node).client_info()
        addrs.append(str(info["addr"]))
    return addrs


def settings_from_env(env: Dict[str, str]) -> Dict[str, Any]:
    """The app's configuration from the environment (CLUSTERCORE_URL is required)."""
    url = env.get("CLUSTERCORE_URL")
    if not url:
        raise RuntimeError("set CLUSTERCORE_URL, e.g. redis://127.0.0.1:7000")
    return {
        "CLUSTERCORE_URL": url,
        "CLUSTERCORE_OPTIONS": {
            "socket_timeout": float(env.get("CLUSTERCORE_SOCKET_TIMEOUT", "1.0")),
            "socket_connect_timeout": 0.5,
            # longer than a failover (node timeout + election): idempotent commands ride it out
            "retry_deadline": float(env.get("CLUSTERCORE_RETRY_DEADLINE", "8.0")),
        },
        "CLUSTERCORE_CHECK_ON_INIT": env.get("CLUSTERCORE_CHECK_ON_INIT", "0") == "1",
        "CACHE_TYPE": "clustercore.contrib.flask.caching.flask_caching_backend",
        "CACHE_KEY_PREFIX": "example:cache:",
        "CACHE_DEFAULT_TIMEOUT": 60,
        "RATELIMIT_STORAGE_URI": "clustercore://",
        "RATELIMIT_KEY_PREFIX": "example-limits",
        "RATE_LIMIT": env.get("EXAMPLE_RATE_LIMIT", "10 per minute"),
    }


def create_app(config: Optional[Dict[str, Any]] = None) -> Flask:
    """The app factory (gunicorn: ``'app:create_app()'``)."""
    app = Flask(__name__)
    app.config.update(config if config is not None else settings_from_env(dict(os.environ)))
    clustercore.init_app(app)
    client = clustercore.get_client(app)
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {"client": client}
    cache.init_app(app)
    limiter.init_app(app)
    assert isinstance(limiter.storage, ClusterCoreStorage)
    report = os.environ.get("EXAMPLE_PRELOAD_REPORT")
    if report:  # the test's view of the connections made before the fork
        with open(report, "w") as out:
            json.dump({"pid": os.getpid(), "addrs": connection_report(client)}, out)

    @app.route("/")
    def index() -> str:
        hits = clustercore.client.incr("example:hits")
        return (f"<h1>clustercore on Flask</h1><p>This page was served {hits} times "
                f"(worker {os.getpid()}).</p>"
                '<p><a href="/cached">cached view</a> · <a href="/limited">rate limited</a></p>')

    @app.route("/incr/<name>")
    def incr(name: str) -> Any:
        return jsonify(value=clustercore.client.incr(f"example:counter:{name}"), pid=os.getpid())

    @app.route("/cached")
    @cache.cached(timeout=60)
    def cached() -> Any:
        renders = clustercore.client.incr("example:renders")
        return jsonify(render=renders, pid=os.getpid())

    @app.route("/limited")
    @limiter.limit(lambda: str(app.config["RATE_LIMIT"]))
    def limited() -> Any:
        return jsonify(ok=True, pid=os.getpid())

    @app.route("/whoami")
    def whoami() -> Any:
        return jsonify(pid=os.getpid(), addrs=connection_report(clustercore.client))

    @app.errorhandler(ClusterCoreError)
    def cluster_unavailable(exc: ClusterCoreError) -> Any:
        return jsonify(error=type(exc).__name__,
                       outcome_unknown=isinstance(exc, OutcomeUnknownError)), 503

    return app
