"""Issue 14 item 6: bad input fails at construction (or at the call) with a typed error naming
the bad value, before any connection is made.

Reproduced before the fix: ``max_connections='10'`` -> TypeError from a comparison; a URL port
``abc``, ``redis://[::1`` or ``?max_connections=abc`` -> bare ValueError; ``from_url(12345)``
-> AttributeError; an unknown keyword to a pool accepted, then "could not discover the
cluster layout" (a TypeError on every connect); negative timeouts accepted (then a timeout or
a hang at discovery); a lone surrogate in a key -> UnicodeEncodeError.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List

import pytest

from clustercore import ClusterConnection, ClusterConnectionPool, RedisCluster
from clustercore.compat.rediscluster import RedisCluster as CompatRedisCluster
from clustercore.errors import DataError, RedisClusterConfigError
from clustercore.testing import FakeCluster


@pytest.fixture()
def fake() -> FakeCluster:
    return FakeCluster(masters=2, replicas=0)


def connections_made(fake: FakeCluster) -> int:
    return len(fake.network.streams)


def build_client(fake: FakeCluster, **kwargs: Any) -> RedisCluster:
    return RedisCluster(startup_nodes=fake.startup_nodes, transport=fake.network, **kwargs)


def build_pool(fake: FakeCluster, **kwargs: Any) -> ClusterConnectionPool:
    return ClusterConnectionPool(startup_nodes=fake.startup_nodes, transport=fake.network,
                                 **kwargs)


BUILDERS: Dict[str, Callable[..., Any]] = {"RedisCluster": build_client,
                                           "ClusterConnectionPool": build_pool}


# --- numbers and types at construction ------------------------------------------------------------
@pytest.mark.parametrize("builder", list(BUILDERS), ids=list(BUILDERS))
@pytest.mark.parametrize("kwargs,message", [
    ({"max_connections": "10"}, "max_connections must be an int; got '10' of type str"),
    ({"max_connections": 2.5}, "max_connections must be an int; got 2.5"),
    ({"max_connections": True}, "max_connections must be an int; got True"),
    ({"max_connections_per_node": "4"}, "max_connections_per_node must be an int; got '4'"),
    ({"socket_timeout": -1}, "socket_timeout must be > 0; got -1"),
    ({"socket_timeout": 0}, "socket_timeout must be > 0; got 0"),
    ({"socket_timeout": "1"}, "socket_timeout must be a number; got '1' of type str"),
    ({"socket_timeout": float("nan")}, "socket_timeout must be > 0; got nan"),
    ({"socket_connect_timeout": -0.5}, "socket_connect_timeout must be > 0; got -0.5"),
    ({"health_check_interval": -1}, "health_check_interval must be >= 0; got -1"),
    ({"timeout": -1}, "timeout must be >= 0; got -1"),
    ({"max_idle_time": -5}, "max_idle_time must be >= 0; got -5"),
    ({"refresh_interval": -1.0}, "refresh_interval must be >= 0; got -1.0"),
    ({"refresh_min_interval": -1}, "refresh_min_interval must be >= 0; got -1"),
    ({"failure_cooldown": -1}, "failure_cooldown must be >= 0; got -1"),
    ({"probe_timeout": 0}, "probe_timeout must be > 0; got 0"),
    ({"discovery_timeout": -2}, "discovery_timeout must be > 0; got -2"),
    ({"max_waiters": 1.5}, "max_waiters must be an int; got 1.5"),
    ({"min_idle_per_node": -1}, "min_idle_per_node must be >= 0; got -1"),
    ({"reinitialize_steps": "x"}, "reinitialize_steps must be an int; got 'x'"),
    ({"bogus_option": 1}, "unknown keyword argument\\(s\\) bogus_option"),
    ({"ssl_cert_reqs": "none"}, "ssl_cert_reqs: TLS options, give ssl=True"),
    ({"connection_class": "ClusterConnection"}, "connection_class must be a class"),
])
def test_bad_value_fails_at_construction_naming_it(fake: FakeCluster, builder: str,
                                                   kwargs: Dict[str, Any], message: str) -> None:
    with pytest.raises(RedisClusterConfigError, match=message) as info:
        BUILDERS[builder](fake, **kwargs)
    assert "could not discover" not in str(info.value)
    assert connections_made(fake) == 0  # refused before any connect


@pytest.mark.parametrize("kwargs,message", [
    ({"retry_deadline": -1}, "retry_deadline must be >= 0; got -1"),
    ({"retry_deadline": float("nan")}, "retry_deadline must be >= 0; got nan"),
    ({"retry_deadline": "5"}, "retry_deadline must be a number; got '5'"),
    ({"max_redirects": -1}, "max_redirects must be >= 0; got -1"),
    ({"cluster_down_retry_attempts": "3"}, "cluster_down_retry_attempts must be an int"),
])
def test_bad_client_budget_fails_at_construction(fake: FakeCluster, kwargs: Dict[str, Any],
                                                 message: str) -> None:
    with pytest.raises(RedisClusterConfigError, match=message):
        build_client(fake, **kwargs)
    assert connections_made(fake) == 0


def test_boundary_values_stay_accepted(fake: FakeCluster) -> None:
    rc = build_client(fake, socket_timeout=None, socket_connect_timeout=0.5, timeout=0,
                      retry_deadline=0, max_redirects=0, max_connections=1,
                      max_connections_per_node=True, health_check_interval=0,
                      refresh_min_interval=0, reinitialize_steps=0)
    try:
        assert rc.set("k", "v") is True and rc.get("k") == b"v"
    finally:
        rc.close()
    pool = build_pool(fake, max_connections=3, max_connections_per_node=2, timeout=0.0)
    try:
        assert pool.max_connections_per_node is not None
    finally:
        pool.disconnect()


# --- URLs -------------------------------------------------------------------------------------------
URL_BUILDERS: Dict[str, Callable[[Any], Any]] = {
    "RedisCluster.from_url": RedisCluster.from_url,
    "RedisCluster(url=)": lambda url: RedisCluster(url=url),
    "ClusterConnectionPool.from_url": ClusterConnectionPool.from_url,
}


@pytest.mark.parametrize("builder", list(URL_BUILDERS), ids=list(URL_BUILDERS))
@pytest.mark.parametrize("url,message", [
    ("redis://127.0.0.1:abc", "'redis://127.0.0.1:abc'"),
    ("redis://127.0.0.1:0", "'redis://127.0.0.1:0'"),
    ("redis://[::1", "cannot parse the URL 'redis://\\[::1': Invalid IPv6 URL"),
    (12345, "the URL must be a str; got int 12345"),
    (["redis://h"], "the URL must be a str; got list \\['redis://h'\\]"),
])
def test_bad_url_is_a_config_error_naming_it(builder: str, url: Any, message: str) -> None:
    with pytest.raises(RedisClusterConfigError, match=message):
        URL_BUILDERS[builder](url)


def test_from_url_none_is_a_config_error() -> None:
    # (RedisCluster(url=None) means "no URL": the other keywords name the nodes)
    for from_url in (RedisCluster.from_url, ClusterConnectionPool.from_url):
        with pytest.raises(RedisClusterConfigError, match="got NoneType None"):
            from_url(None)


@pytest.mark.parametrize("option,kind", [("max_connections=abc", "integer"),
                                         ("socket_timeout=soon", "number"),
                                         ("max_connections_per_node=maybe", "integer")])
def test_bad_url_option_value_names_the_option(option: str, kind: str) -> None:
    key, value = option.split("=")
    with pytest.raises(RedisClusterConfigError,
                       match=f"URL option {key}='{value}' is not a valid {kind}"):
        RedisCluster.from_url(f"redis://127.0.0.1:7000?{option}")


def test_unknown_url_option_is_refused_by_name_before_discovery() -> None:
    with pytest.raises(RedisClusterConfigError, match="unknown keyword argument\\(s\\) bogus"):
        RedisCluster.from_url("redis://127.0.0.1:7000?bogus=1")
    with pytest.raises(RedisClusterConfigError, match="unknown keyword argument\\(s\\) bogus"):
        ClusterConnectionPool.from_url("redis://127.0.0.1:7000?bogus=1")


def test_url_negative_timeout_is_refused() -> None:
    with pytest.raises(RedisClusterConfigError, match=r"socket_timeout must be > 0; got -1\.0"):
        RedisCluster.from_url("redis://127.0.0.1:7000?socket_timeout=-1")
    with pytest.raises(RedisClusterConfigError, match=r"socket_timeout must be > 0; got -1\.0"):
        ClusterConnectionPool.from_url("redis://127.0.0.1:7000?socket_timeout=-1")


def test_startup_nodes_empty_is_refused() -> None:
    with pytest.raises(RedisClusterConfigError, match="at least one node"):
        RedisCluster(startup_nodes=[])


# --- keys at the call ---------------------------------------------------------------------------------
LONE = "user:\udc80"


@pytest.mark.parametrize("call", [
    lambda rc: rc.set(LONE, "v"),
    lambda rc: rc.get(LONE),
    lambda rc: rc.delete(LONE),
    lambda rc: rc.mget("a", LONE),
    lambda rc: rc.mset({"a": 1, LONE: 2}),
    lambda rc: rc.keyslot(LONE),
    lambda rc: rc.pipeline().set(LONE, 1).execute(),
], ids=["set", "get", "delete", "mget", "mset", "keyslot", "pipeline"])
def test_a_lone_surrogate_key_is_a_data_error_naming_the_key(
        fake: FakeCluster, call: Callable[[RedisCluster], Any]) -> None:
    rc = build_client(fake)
    try:
        rc.set("before", 1)
        fake.clear_commands_seen()
        with pytest.raises(DataError, match=r"key 'user:\\udc80' cannot be encoded with "
                                            r"'utf-8': surrogates not allowed at position 5"):
            call(rc)
        seen: List[List[bytes]] = [c for n in fake.nodes for c in fake.commands_seen(n)]
        assert seen == []  # refused before anything was sent
        assert rc.get("before") == b"1"  # the client is still fine
    finally:
        rc.close()


def test_a_lone_surrogate_value_is_a_data_error_too(fake: FakeCluster) -> None:
    rc = build_client(fake)
    try:
        with pytest.raises(DataError, match="argument 2 of SET: cannot encode"):
            rc.set("k", "v\ud800")
    finally:
        rc.close()


@pytest.mark.parametrize("kwargs", [{"socket_timeout": -1}, {"socket_timeout": 0},
                                    {"socket_connect_timeout": "2"},
                                    {"socket_connect_timeout": float("nan")}])
def test_a_connection_refuses_a_bad_timeout_at_construction(kwargs: Dict[str, Any]) -> None:
    name, value = next(iter(kwargs.items()))
    with pytest.raises(DataError, match=f"{name} must be None or a number > 0, not "
                                        f"{re.escape(repr(value))}"):
        ClusterConnection("127.0.0.1", 7000, **kwargs)


def test_compat_from_url_refuses_a_non_str_url_by_type() -> None:
    with pytest.raises(RedisClusterConfigError, match="the URL must be a str; got int 12345"):
        CompatRedisCluster.from_url(12345)
