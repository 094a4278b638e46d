"""The Flask extension's configuration handling (no network: the client is built lazily)."""

from __future__ import annotations

from typing import Any, Dict

import pytest
from flask import Flask

from clustercore import RedisCluster, RedisClusterConfigError
from clustercore.contrib.flask.extension import EXTENSION_NAME, ClusterCore, build_client, client_for
from clustercore.contrib.patterns import glob_escape


def app_with(**config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(CLUSTERCORE_CLOSE_AT_EXIT=False, **config)
    return app


@pytest.mark.parametrize(("config", "match"), [
    ({}, "CLUSTERCORE_URL or CLUSTERCORE_STARTUP_NODES"),
    ({"CLUSTERCORE_URL": 7000}, "CLUSTERCORE_URL must be a string"),
    ({"CLUSTERCORE_STARTUP_NODES": "127.0.0.1:7000"}, "must be a list of nodes"),
    ({"CLUSTERCORE_URL": "redis://127.0.0.1:7000", "CLUSTERCORE_OPTIONS": ["x"]},
     "CLUSTERCORE_OPTIONS must be a dict"),
    ({"CLUSTERCORE_URL": "redis://127.0.0.1:7000", "CLUSTERCORE_CHECK_ON_INIT": "yes"},
     "CLUSTERCORE_CHECK_ON_INIT must be True or False"),
    ({"CLUSTERCORE_CLIENT": object()}, "CLUSTERCORE_CLIENT must be a clustercore.RedisCluster"),
    ({"CLUSTERCORE_URL": "redis://127.0.0.1:7000/3"}, "database 0"),
    ({"CLUSTERCORE_URL": "redis://127.0.0.1:7000", "CLUSTERCORE_OPTIONS": {"db": 2}}, "db=2"),
])
def test_bad_configuration_is_named(config: Dict[str, Any], match: str) -> None:
    with pytest.raises(RedisClusterConfigError, match=match):
        ClusterCore(app_with(**config))


def test_lazy_client_from_url_nodes_and_options() -> None:
    """URL and startup nodes merge; options reach the client; nothing connects."""
    app = app_with(CLUSTERCORE_URL="redis://127.0.0.1:7000?socket_timeout=1.5",
                   CLUSTERCORE_STARTUP_NODES=["127.0.0.1:7001", ("127.0.0.1", 7002)],
                   CLUSTERCORE_OPTIONS={"retry_deadline": 3.0, "max_connections": 40})
    ext = ClusterCore(app)
    client = ext.get_client(app)
    assert isinstance(client, RedisCluster)
    assert {n.port for n in client.startup_nodes} == {7000, 7001, 7002}
    assert client.get_connection_kwargs()["socket_timeout"] == 1.5
    assert client.retry.deadline == 3.0
    assert client.connection_pool.stats().created == 0
    with app.app_context():
        assert ext.client is client
    assert client_for(app) is client
    assert set(app.extensions[EXTENSION_NAME]) == {"CLUSTERCORE"}


def test_prefixes_and_factory_pattern() -> None:
    """Two clusters through two prefixes; ClusterCore() then init_app (the factory pattern)."""
    app = app_with(CLUSTERCORE_URL="redis://127.0.0.1:7000",
                   SESSIONS_URL="redis://127.0.0.1:8000", SESSIONS_CLOSE_AT_EXIT=False)
    main, sessions = ClusterCore(), ClusterCore(config_prefix="SESSIONS")
    main.init_app(app)
    sessions.init_app(app)
    assert main.get_client(app) is not sessions.get_client(app)
    assert [n.port for n in sessions.get_client(app).startup_nodes] == [8000]
    with pytest.raises(RuntimeError, match="'OTHER'"):
        client_for(app, "OTHER")
    with pytest.raises(RedisClusterConfigError, match="config_prefix"):
        ClusterCore(config_prefix="")


def test_build_client_alone() -> None:
    client = build_client({"X_STARTUP_NODES": [{"host": "127.0.0.1", "port": 7005}]}, "X")
    assert [n.port for n in client.startup_nodes] == [7005]


def test_glob_escape() -> None:
    assert glob_escape("a*b?c[d]e\\f") == "a\\*b\\?c\\[d\\]e\\\\f"
    assert glob_escape("plain:") == "plain:"
