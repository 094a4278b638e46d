"""The ClusterCore Flask extension and Flask-Session on real clusters.

Lazy construction (the app imports while the cluster is down and recovers once it is up,
Grokzen/redis-py-cluster#158 and #127), one client shared by every thread, close(), and
Flask-Session's three roads: its redis type (which silently falls back to localhost: the
limitation, shown), our ClusterSessionInterface, and its cachelib type on ClusterCache.
"""

from __future__ import annotations

import threading
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Tuple

import pytest
import redis
from flask import Flask, jsonify, session
from flask_session import Session

from clustercore import ClusterCoreError, PoolClosedError, RedisCluster, key_slot
from clustercore.contrib.flask.caching import ClusterCache
from clustercore.contrib.flask.extension import ClusterCore, client_for
from clustercore.contrib.flask.session import ClusterSessionInterface, install_session
from clustercore.testing import LocalCluster

FAST_FAIL = {"socket_connect_timeout": 0.3, "socket_timeout": 1.0, "retry_deadline": 1.0}


def make_app(config: Dict[str, Any]) -> Tuple[Flask, ClusterCore]:
    """A tiny app: /get and /incr on the extension's client; cluster errors become 503."""
    app = Flask(__name__)
    app.config.update(config)
    ext = ClusterCore(app)

    @app.route("/incr/<name>")
    def incr(name: str) -> Any:
        return jsonify(value=ext.client.incr(f"fl:{name}"))

    @app.errorhandler(ClusterCoreError)
    def unavailable(exc: ClusterCoreError) -> Any:
        return jsonify(error=type(exc).__name__), 503

    return app, ext


def test_app_imports_while_the_cluster_is_down(make_cluster: Callable[..., LocalCluster]) -> None:
    """Every node down: building the app opens nothing and takes no time; a request fails
    fast with a 503 (a clustercore error, bounded by the timeouts); once the nodes are back
    the same client serves requests without a restart."""
    lc = make_cluster(3, 0)
    nodes = list(lc.nodes)
    for node in nodes:
        lc.kill(node)
    t0 = time.monotonic()
    app, ext = make_app({"CLUSTERCORE_STARTUP_NODES": lc.startup_nodes,
                         "CLUSTERCORE_OPTIONS": FAST_FAIL})
    assert time.monotonic() - t0 < 0.5
    client = ext.get_client(app)
    assert client.connection_pool.stats().created == 0
    with app.test_client() as http:
        t0 = time.monotonic()
        down = http.get("/incr/a")
        assert down.status_code == 503, down.get_data(as_text=True)
        # no seed answers: a TopologyError (redis-py-cluster's RedisClusterConfigError)
        assert down.get_json()["error"] in ("RedisClusterConfigError", "TopologyError")
        assert time.monotonic() - t0 < 10
        for node in nodes:
            lc.restart(node)
        lc.wait_healthy(timeout=30)
        deadline = time.monotonic() + 20
        while True:  # the first request after the restart may still meet CLUSTERDOWN
            up = http.get("/incr/a")
            if up.status_code == 200 or time.monotonic() > deadline:
                break
        assert up.status_code == 200, up.get_data(as_text=True)
        assert up.get_json() == {"value": 1}
    assert ext.get_client(app) is client


def test_check_on_init_fails_fast_when_down() -> None:
    """CLUSTERCORE_CHECK_ON_INIT=True: init_app PINGs, so a dead cluster fails at start-up."""
    app = Flask(__name__)
    app.config.update(CLUSTERCORE_URL="redis://127.0.0.1:1", CLUSTERCORE_CHECK_ON_INIT=True,
                      CLUSTERCORE_OPTIONS=FAST_FAIL, CLUSTERCORE_CLOSE_AT_EXIT=False)
    t0 = time.monotonic()
    with pytest.raises(ClusterCoreError):
        ClusterCore(app)
    assert time.monotonic() - t0 < 10


def test_one_client_for_every_thread(cluster: LocalCluster) -> None:
    """16 threads x 50 requests: one client object, every INCR counted once, no connection
    left checked out, and at most one connection per thread and node created."""
    app, ext = make_app({"CLUSTERCORE_URL": "redis://" + ",".join(
        f"{n['host']}:{n['port']}" for n in cluster.startup_nodes[:2])})
    name = uuid.uuid4().hex
    seen: List[RedisCluster] = []
    lock = threading.Lock()

    def worker(_: int) -> List[int]:
        with app.app_context(), lock:
            seen.append(ext.client)
        with app.test_client() as http:
            return [http.get(f"/incr/{name}").get_json()["value"] for _ in range(50)]

    with ThreadPoolExecutor(16) as pool:
        values = [v for vs in pool.map(worker, range(16), timeout=120) for v in vs]
    assert sorted(values) == list(range(1, 16 * 50 + 1))
    client = ext.get_client(app)
    assert all(c is client for c in seen)
    stats = client.connection_pool.stats()
    assert stats.in_use == 0
    assert stats.created <= 16 * len(cluster.primaries()), stats
    ext.close(app)
    with pytest.raises(PoolClosedError):
        client.get("x")
    ext.close(app)  # idempotent


def test_a_given_client_is_used_and_left_open(cluster: LocalCluster) -> None:
    """CLUSTERCORE_CLIENT: that very client is used; close() leaves it to its owner."""
    rc = RedisCluster(startup_nodes=cluster.startup_nodes)
    try:
        app = Flask(__name__)
        app.config["CLUSTERCORE_CLIENT"] = rc
        ext = ClusterCore(app)
        assert client_for(app) is rc
        with app.app_context():
            ext.close()
        assert rc.ping() is True
    finally:
        rc.connection_pool.close()


def test_flask_session_redis_type_falls_back_to_localhost(cluster: LocalCluster) -> None:
    """The limitation: SESSION_TYPE="redis" with a clustercore client warns and builds
    redis.Redis() on localhost:6379 instead (so it must not be used; see docs/flask.md)."""
    app = Flask(__name__)
    rc = RedisCluster(startup_nodes=cluster.startup_nodes, init_slot_cache=False)
    app.config.update(SESSION_TYPE="redis", SESSION_REDIS=rc)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Session(app)
    assert any("No valid Redis instance" in str(w.message) for w in caught)
    fallback = app.session_interface.client
    assert isinstance(fallback, redis.Redis) and fallback is not rc
    assert fallback.connection_pool.connection_kwargs.get("host", "localhost") == "localhost"


def session_app(cluster: LocalCluster, how: str, prefix: str) -> Tuple[Flask, RedisCluster]:
    """An app keeping sessions in the cluster: ``interface`` (install_session) or
    ``cachelib`` (Flask-Session's cachelib type on ClusterCache)."""
    app = Flask(__name__)
    app.config.update(CLUSTERCORE_STARTUP_NODES=cluster.startup_nodes, SESSION_KEY_PREFIX=prefix,
                      SESSION_PERMANENT=True, PERMANENT_SESSION_LIFETIME=120,
                      SECRET_KEY="test")
    ext = ClusterCore(app)
    client = ext.get_client(app)
    if how == "interface":
        interface = install_session(app)
        assert isinstance(interface, ClusterSessionInterface) and interface.client is client
    else:
        app.config.update(SESSION_TYPE="cachelib", SESSION_CACHELIB=ClusterCache(client))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no fallback warning on this road
            Session(app)

    @app.route("/visit")
    def visit() -> Any:
        session["visits"] = session.get("visits", 0) + 1
        return jsonify(visits=session["visits"])

    @app.route("/logout")
    def logout() -> Any:
        session.clear()
        return jsonify(ok=True)

    return app, client


@pytest.mark.parametrize("how", ["interface", "cachelib"])
def test_sessions_live_in_the_cluster(cluster: LocalCluster, how: str) -> None:
    """Twelve browsers: each one's visits count up across requests; each session is one key
    with the session lifetime as TTL, on its slot's primary; clearing a session
    deletes it from the cluster."""
    prefix = f"sess-{uuid.uuid4().hex[:6]}:"
    app, client = session_app(cluster, how, prefix)
    browsers = [app.test_client() for _ in range(12)]
    for b in browsers:
        assert [b.get("/visit").get_json()["visits"] for _ in range(3)] == [1, 2, 3]
    names = list(client.scan_iter(match=prefix + "*"))
    assert len(names) == 12
    # each session key is stored on its own slot's primary (session ids are random, so how
    # the twelve spread over the primaries is not asserted: that would fail ~2% of runs)
    for name in names:
        text = name.decode() if isinstance(name, bytes) else name
        assert cluster.cli(cluster.slot_owner(key_slot(name)), "EXISTS", text).strip() == "1"
    assert all(100 < client.ttl(n) <= 120 for n in names)
    browsers[0].get("/logout")
    assert len(list(client.scan_iter(match=prefix + "*"))) == 11
    client.delete(*client.scan_iter(match=prefix + "*"))
    client.connection_pool.close()


def test_session_interface_refuses_other_clients(cluster: LocalCluster) -> None:
    """ClusterSessionInterface names a wrong client; without one it needs the extension."""
    app = Flask(__name__)
    with pytest.raises(TypeError, match="RedisCluster"):
        ClusterSessionInterface(app, client=redis.Redis())  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="init_app"):
        install_session(app)
