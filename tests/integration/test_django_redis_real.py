"""Keeping django-redis: its RedisCache and DefaultClient with clustercore underneath.

``REDIS_CLIENT_CLASS = "clustercore.RedisCluster"`` and ``CONNECTION_POOL_CLASS =
"clustercore.contrib.django.redis_compat.DjangoRedisClusterPool"``; what works is asserted
here, what does not (multi-key set commands across slots) is asserted too, with the hash-tag
workaround docs/django.md gives.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator

import pytest
from django.core.cache import caches
from django.test import override_settings

from clustercore import ClusterCrossSlotError, RedisCluster
from clustercore.contrib.django.redis_compat import ClusterUnreachableError, DjangoRedisClusterPool
from clustercore.testing import LocalCluster

from ..django_support import configure

configure()

POOL = "clustercore.contrib.django.redis_compat.DjangoRedisClusterPool"


def _django_redis(url: str, **options: Any) -> Dict[str, Any]:
    return {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url,
            "OPTIONS": {"REDIS_CLIENT_CLASS": "clustercore.RedisCluster",
                        "CONNECTION_POOL_CLASS": POOL, **options}}


def _url(cluster: LocalCluster) -> str:
    node = cluster.startup_nodes[0]
    return f"redis://{node['host']}:{node['port']}"


@pytest.fixture
def dr(cluster: LocalCluster) -> Iterator[Any]:
    """django-redis's cache on the shared cluster."""
    with override_settings(CACHES={"default": _django_redis(_url(cluster))}):
        cache = caches["default"]
        yield cache
        cache.clear()


def test_django_redis_builds_a_clustercore_client(dr: Any) -> None:
    client = dr.client.get_client()
    assert isinstance(client, RedisCluster)
    assert isinstance(client.connection_pool, DjangoRedisClusterPool)
    assert len(client.get_primaries()) == 3


def test_django_redis_core_api_across_slots(dr: Any) -> None:
    data = {f"k{i}": i for i in range(40)}
    dr.set_many(data, timeout=60)
    assert dr.get_many(list(data)) == data
    assert 55 <= dr.ttl("k3") <= 60
    dr.delete_many([f"k{i}" for i in range(20)])
    assert sorted(dr.keys("k*")) == sorted(f"k{i}" for i in range(20, 40))
    assert len(list(dr.iter_keys("k*", itersize=5))) == 20
    assert dr.delete_pattern("k3*") == 10
    assert dr.set("n", 10) is True and dr.incr("n", 5) == 15 and dr.decr("n") == 14
    assert dr.add("n", 1) is False and dr.get("n") == 14
    assert dr.expire("n", 100) is True and dr.persist("n") is True and dr.ttl("n") is None
    assert dr.touch("n", 30) is True and 0 < dr.pttl("n") <= 30_000
    lock = dr.lock("job", timeout=5)
    assert lock.acquire(blocking=False) and not dr.lock("job").acquire(blocking=False)
    lock.release()
    dr.clear()  # FLUSHDB on every primary
    assert dr.keys("*") == []


def test_django_redis_multi_key_set_commands_need_hash_tags(dr: Any) -> None:
    dr.sadd("a", 1, 2)
    dr.sadd("b", 2, 3)
    with pytest.raises(ClusterCrossSlotError):
        dr.sinter("a", "b")
    dr.sadd("{tags}a", 1, 2)
    dr.sadd("{tags}b", 2, 3)
    assert dr.sinter("{tags}a", "{tags}b") == {2}


def test_ignore_exceptions_catches_clustercore_errors(
        make_cluster: Callable[..., LocalCluster]) -> None:
    import redis.exceptions

    throwaway = make_cluster(1, 0)
    url = _url(throwaway)
    quick = {"REDIS_CLIENT_KWARGS": {"retry_deadline": 0.5},
             "CONNECTION_POOL_KWARGS": {"probe_timeout": 0.2}}
    settings_ = {"default": _django_redis(url, IGNORE_EXCEPTIONS=True, **quick),
                 "strict": _django_redis(url, **quick),
                 # a different URL: a pool of its own, first used while the cluster is down
                 "late": _django_redis(url + "/0", IGNORE_EXCEPTIONS=True, **quick)}
    with override_settings(CACHES=settings_):
        cache = caches["default"]
        assert cache.set("k", 1) is True and cache.get("k") == 1
        assert caches["strict"].get("k") == 1
        throwaway.stop()  # the cluster goes away after its layout was learnt
        assert cache.get("k", "fallback") == "fallback"  # IGNORE_EXCEPTIONS: the default
        assert cache.set("k", 2) is None  # django-redis's omitted return value
        with pytest.raises(redis.exceptions.ConnectionError) as after_learnt:
            caches["strict"].get("k")
        # down before the first command: discovery fails, as a ConnectionError too
        assert caches["late"].get("k", "fallback") == "fallback"
        with pytest.raises(ClusterUnreachableError):
            caches["late"].client.get_client().get("k")
    # what django-redis re-raised is clustercore's error, bridged into redis-py's classes
    assert type(after_learnt.value).__module__.startswith("clustercore")
