"""Real failures from a real cluster, caught the way redis-py code catches them:
``except redis.exceptions.X`` (the bridge in clustercore/errors.py)."""

from __future__ import annotations

import importlib
import socket

import pytest

redis_exceptions = importlib.import_module("redis.exceptions")  # dev dependency: fail, never skip

from clustercore import ClusterConnection, RedisCluster  # noqa: E402
from clustercore import errors as cc  # noqa: E402
from clustercore.testing import LocalCluster  # noqa: E402

r = redis_exceptions


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_real_moved_caught_as_redis_moved_error(cluster: LocalCluster) -> None:
    owner = cluster.slot_owner(cluster.key_slot("bridge:moved"))
    other = next(n for n in cluster.primaries() if n is not owner)
    conn = ClusterConnection(*other.address, socket_timeout=5, socket_connect_timeout=5)
    try:
        try:
            conn.execute("GET", "bridge:moved")
        except r.ConnectionError:
            pytest.fail("a MOVED reply must not be a redis-py ConnectionError")
        except r.MovedError as exc:
            assert isinstance(exc, cc.MovedError) and isinstance(exc, r.AskError)
            assert exc.slot_id == cluster.key_slot("bridge:moved")
            assert exc.node_addr == owner.address
            assert exc.node == other.address
        else:
            pytest.fail("no MOVED from a node that does not own the slot")
    finally:
        conn.disconnect()


def test_real_wrongtype_caught_as_redis_response_error(cluster: LocalCluster) -> None:
    rc = RedisCluster(startup_nodes=cluster.startup_nodes)
    try:
        rc.set("bridge:str", "x")
        try:
            rc.lpush("bridge:str", "y")
        except (r.ConnectionError, r.TimeoutError, r.RedisClusterException):
            pytest.fail("WRONGTYPE must be caught by ResponseError only")
        except r.ResponseError as exc:
            assert type(exc) is cc.WrongTypeError
            assert str(exc).startswith("WRONGTYPE")
        else:
            pytest.fail("LPUSH on a string key did not fail")
        # django-redis style: one catch-all for "redis failed"
        with pytest.raises(r.RedisError):
            rc.incr("bridge:str")
    finally:
        rc.delete("bridge:str")
        rc.close()


def test_real_connection_refused_caught_as_redis_connection_error() -> None:
    port = _closed_port()
    conn = ClusterConnection("127.0.0.1", port, socket_timeout=2, socket_connect_timeout=2)
    try:
        conn.execute("PING")
    except r.ResponseError:
        pytest.fail("a refused connection must not be a redis-py ResponseError")
    except r.ConnectionError as exc:
        assert isinstance(exc, cc.ConnectionError)
        assert f"127.0.0.1:{port}" in str(exc)
    else:
        pytest.fail(f"PING on closed port {port} succeeded")
    finally:
        conn.disconnect()


def test_no_reachable_startup_node_is_a_redis_cluster_exception() -> None:
    port = _closed_port()
    with pytest.raises(r.RedisClusterException) as info:
        RedisCluster(startup_nodes=[{"host": "127.0.0.1", "port": port}],
                     socket_connect_timeout=1, socket_timeout=1)
    assert isinstance(info.value, cc.RedisClusterConfigError)
    assert not isinstance(info.value, r.ResponseError)
