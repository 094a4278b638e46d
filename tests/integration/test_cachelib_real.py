"""cachelib and Flask-Caching on a real 3+3 cluster through clustercore.

cachelib's own ``RedisCache(host=<client>)`` and our ``ClusterCache`` both run every
multi-key call across slots (MGET, DEL, the SET pipeline, KEYS/SCAN on every primary): the
tests spread their keys over all three primaries and check each value where it lives.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Iterator, List

import pytest
from cachelib import RedisCache
from flask import Flask
from flask_caching import Cache

from clustercore import RedisCluster, key_slot
from clustercore.contrib.flask.caching import ClusterCache, flask_caching_backend
from clustercore.contrib.flask.extension import ClusterCore
from clustercore.testing import LocalCluster


@pytest.fixture
def rc(cluster: LocalCluster) -> Iterator[RedisCluster]:
    client = RedisCluster(startup_nodes=cluster.startup_nodes)
    yield client
    client.connection_pool.close()


def spread_keys(cluster: LocalCluster, count: int = 30) -> List[str]:
    """``count`` fresh key names that land on every primary."""
    keys = [uuid.uuid4().hex for _ in range(count)]  # random names (CRC16 is linear: names
    # differing in one digit fall in a few slot ranges)
    owners = {cluster.slot_owner(key_slot(k)).port for k in keys}
    assert len(owners) == len(cluster.primaries()), owners
    return keys


@pytest.mark.parametrize("kind", ["cachelib", "cluster"])
def test_many_key_calls_cross_slots(cluster: LocalCluster, rc: RedisCluster, kind: str) -> None:
    """set_many / get_many / has / delete_many / inc / dec on keys of all three primaries,
    with cachelib's class and ours; the values are on the right nodes with their TTL."""
    prefix = f"cl-{uuid.uuid4().hex[:6]}:"
    cache = (RedisCache(host=rc, key_prefix=prefix) if kind == "cachelib"
             else ClusterCache(rc, key_prefix=prefix))
    keys = spread_keys(cluster)
    values = {k: {"n": i, "s": "\u00e9" * i} for i, k in enumerate(keys)}
    assert sorted(cache.set_many(values, timeout=100)) == sorted(keys)
    assert cache.get_many(*keys) == [values[k] for k in keys]
    for k in keys:  # each key is on its own slot's primary, with the timeout
        node = cluster.slot_owner(key_slot(prefix + k))
        ttl = int(cluster.cli(node, "TTL", prefix + k).strip())
        assert 90 < ttl <= 100, (k, ttl)
    assert all(cache.has(k) for k in keys)
    gone = cache.delete_many(*keys[:12])
    assert sorted(gone) == sorted(keys[:12])
    assert cache.get_many(*keys[:14]) == [None] * 12 + [values[keys[12]], values[keys[13]]]
    assert cache.inc("counter", 5) == 5
    assert cache.inc("counter") == 6
    assert cache.dec("counter", 2) == 4
    assert rc.get(prefix + "counter") == b"4"  # raw int, so INCR works on it
    # timeout 0 persists (no TTL)
    assert cache.set("forever", 1, timeout=0)
    assert rc.ttl(prefix + "forever") == -1
    # timedelta timeouts
    assert cache.set("td", 1, timeout=datetime.timedelta(seconds=50))
    assert 40 < rc.ttl(prefix + "td") <= 50
    assert cache.clear()
    assert cache.get_many(*keys) == [None] * len(keys)
    assert not rc.exists(prefix + "counter", prefix + "forever", prefix + "td")


def test_clear_with_prefix_keeps_other_keys(cluster: LocalCluster, rc: RedisCluster) -> None:
    """clear() under a prefix deletes that prefix's keys on every primary and nothing else --
    also when the prefix holds glob characters (cachelib's KEYS would take ``a*`` as a glob)."""
    tag = uuid.uuid4().hex[:6]
    keys = spread_keys(cluster, 40)
    glob_prefix = f"{tag}*:"
    other_prefix = f"{tag}x:"  # matched by the unescaped glob "{tag}*:*"
    ours = ClusterCache(rc, key_prefix=glob_prefix, scan_count=7)
    other = ClusterCache(rc, key_prefix=other_prefix)
    ours.set_many({k: k for k in keys})
    other.set_many({k: k for k in keys})
    assert ours.clear() is True
    assert ours.get_many(*keys) == [None] * len(keys)
    assert other.get_many(*keys) == keys
    # cachelib's own clear() takes the prefix as a glob and deletes the other prefix's keys
    ours.set_many({k: k for k in keys})
    RedisCache(host=rc, key_prefix=glob_prefix).clear()
    assert other.get_many(*keys) == [None] * len(keys)
    other.clear()


def test_clear_without_prefix_empties_every_primary(make_cluster: object) -> None:
    """No prefix: clear() is FLUSHDB on every primary (the documented whole-cluster wipe)."""
    lc: LocalCluster = make_cluster(3, 0)  # type: ignore[operator]
    client = RedisCluster(startup_nodes=lc.startup_nodes)
    try:
        cache = ClusterCache(client)
        keys = spread_keys(lc)
        cache.set_many({k: 1 for k in keys})
        assert sum(int(lc.cli(p, "DBSIZE").strip()) for p in lc.primaries()) == len(keys)
        assert cache.clear()
        assert [int(lc.cli(p, "DBSIZE").strip()) for p in lc.primaries()] == [0, 0, 0]
    finally:
        client.connection_pool.close()


def test_add_is_one_atomic_command(cluster: LocalCluster, rc: RedisCluster) -> None:
    """ClusterCache.add: SET NX EX (the key carries its TTL from the start); a second add is
    refused and keeps the first value; timeout 0 adds without expiry."""
    cache = ClusterCache(rc, key_prefix=f"add-{uuid.uuid4().hex[:6]}:")
    assert cache.add("k", "first", timeout=30) is True
    assert cache.add("k", "second", timeout=30) is False
    assert cache.get("k") == "first"
    assert 20 < rc.ttl(cache.key_prefix + "k") <= 30
    assert cache.add("p", 1, timeout=0) is True
    assert rc.ttl(cache.key_prefix + "p") == -1
    cache.clear()


def test_cluster_cache_refuses_bad_clients(cluster: LocalCluster) -> None:
    """A non-clustercore client and a decoding client are refused by name."""
    with pytest.raises(TypeError, match="RedisCluster"):
        ClusterCache(object())  # type: ignore[arg-type]
    decoding = RedisCluster(startup_nodes=cluster.startup_nodes, decode_responses=True,
                            init_slot_cache=False)
    with pytest.raises(ValueError, match="decode_responses"):
        ClusterCache(decoding)
    with pytest.raises(ValueError, match="scan_count"):
        ClusterCache(RedisCluster(startup_nodes=cluster.startup_nodes, init_slot_cache=False),
                     scan_count=0)


def test_flask_caching_views_and_memoize(cluster: LocalCluster) -> None:
    """Flask-Caching with CACHE_TYPE = our factory, on the ClusterCore extension's client:
    a cached view runs once, memoized calls are cached per argument (keys on every primary),
    delete_memoized and clear work, and Flask-Caching's own options reach the cache."""
    prefix = f"fc-{uuid.uuid4().hex[:6]}:"
    app = Flask(__name__)
    app.config.update(
        CLUSTERCORE_STARTUP_NODES=cluster.startup_nodes,
        CACHE_TYPE="clustercore.contrib.flask.caching.flask_caching_backend",
        CACHE_KEY_PREFIX=prefix, CACHE_DEFAULT_TIMEOUT=77)
    ext = ClusterCore(app)
    cache = Cache(app)
    calls: List[str] = []

    @app.route("/slow")
    @cache.cached()
    def slow() -> str:
        calls.append("view")
        return f"rendered {len(calls)}"

    @cache.memoize()
    def square(n: int) -> int:
        calls.append(f"sq{n}")
        return n * n

    with app.test_client() as http:
        assert http.get("/slow").get_data(as_text=True) == "rendered 1"
        assert http.get("/slow").get_data(as_text=True) == "rendered 1"
    with app.app_context():
        assert [square(n) for n in range(20)] == [n * n for n in range(20)]
        assert [square(n) for n in range(20)] == [n * n for n in range(20)]
        assert calls.count("sq3") == 1
        client = ext.client
        names = list(client.scan_iter(match=prefix + "*"))
        owners = {cluster.slot_owner(key_slot(n)).port for n in names}
        assert len(owners) == 3, owners
        assert all(60 < client.ttl(n) <= 77 for n in names if b"memver" not in n)
        cache.delete_memoized(square, 3)
        assert square(3) == 9 and calls.count("sq3") == 2
        backend = app.extensions["cache"][cache]
        assert isinstance(backend, ClusterCache) and backend.client is client
        assert cache.clear()
        assert list(client.scan_iter(match=prefix + "*")) == []
    assert flask_caching_backend.__name__ in app.config["CACHE_TYPE"]
