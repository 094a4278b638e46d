"""RedisClusterCache on FakeCluster: settings, the codec, per-node round trips, the shared client.

Lua is not in FakeCluster, so incr/decr are tested on the real cluster
(tests/integration/test_django_cache_real.py), as is everything Django's own BaseCacheTests
check (tests/integration/test_django_basecache.py).
"""

from __future__ import annotations

import pickle
import threading
import warnings
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from django.core.cache.backends.base import CacheKeyWarning
from django.core.exceptions import ImproperlyConfigured

from clustercore import ClusterBlockingConnectionPool, NodeAddress, RedisCluster
from clustercore.contrib.django import (
    JSONSerializer,
    PickleSerializer,
    RedisClusterCache,
    ZlibCompressor,
)
from clustercore.contrib.django.client import (
    ClientRegistry,
    build_client,
    cluster_url_parts,
    registry,
    split_location,
)
from clustercore.contrib.django.redis_compat import ClusterUnreachableError, DjangoRedisClusterPool
from clustercore.contrib.django.serializers import COMPRESSED_MAGIC, Codec
from clustercore.testing import FakeCluster

from ..django_support import (
    WireWrites,
    assert_one_write_per_node,
    close_shared_clients,
    wire_writes,
)


@pytest.fixture
def fake() -> FakeCluster:
    return FakeCluster(masters=3, replicas=1)


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    """Each test builds its own clients; they are closed afterwards."""
    yield
    close_shared_clients()


def _cache(fake: FakeCluster, **params: Any) -> RedisClusterCache:
    location = ",".join(f"{n['host']}:{n['port']}" for n in fake.startup_nodes[:2])
    options = {"transport": fake.network, **params.pop("OPTIONS", {})}
    return RedisClusterCache(location, {"OPTIONS": options, **params})


@pytest.fixture
def writes() -> Iterator[WireWrites]:
    """Wire-trace writes of the connections opened from now on."""
    with wire_writes() as handler:
        yield handler


# --- the codec ------------------------------------------------------------------------------
def test_ints_are_stored_raw_and_everything_else_serialized() -> None:
    codec = Codec(PickleSerializer())
    assert codec.dumps(42) == 42 and codec.dumps(-7) == -7
    assert codec.dumps(True) == pickle.dumps(True, pickle.HIGHEST_PROTOCOL)  # bools pickled
    for value in (True, 1.5, "12", b"\x00z", None, [1, 2], {"a": (1,)}):
        assert codec.loads(_wire(codec.dumps(value))) == value
    assert codec.loads(b"-12") == -12 and type(codec.loads(b"12")) is int


def _wire(value: Any) -> bytes:
    """What a reply carries for what dumps() produced (ints travel as decimal text)."""
    return str(value).encode() if isinstance(value, int) else value


def test_json_serializer_round_trips_and_refuses_what_json_cannot_hold() -> None:
    codec = Codec(JSONSerializer())
    for value in ("é", 1.5, -2.5, [1, "a"], {"k": None}, True, None):
        assert codec.loads(_wire(codec.dumps(value))) == value
    assert codec.dumps({"k": [1]}) == b'{"k":[1]}'
    with pytest.raises(TypeError):
        codec.dumps(object())


def test_compression_past_the_threshold_only_and_old_values_stay_readable() -> None:
    plain = Codec(PickleSerializer())
    codec = Codec(PickleSerializer(), ZlibCompressor(), min_length=64)
    small, big = "x" * 8, "y" * 1000
    assert not bytes(codec.dumps(small)).startswith(COMPRESSED_MAGIC)  # type: ignore[arg-type]
    packed = codec.dumps(big)
    assert isinstance(packed, bytes) and packed.startswith(COMPRESSED_MAGIC)
    assert len(packed) < len(plain.dumps(big))  # type: ignore[arg-type]
    assert codec.loads(packed) == big
    assert codec.loads(plain.dumps(big)) == big  # written before compression was on
    with pytest.raises(ValueError, match="no compressor"):
        plain.loads(packed)


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_codec_refuses_a_bad_min_length(bad: Any) -> None:
    with pytest.raises(ValueError, match="compress_min_length"):
        Codec(PickleSerializer(), min_length=bad)


def test_zlib_level_is_checked() -> None:
    with pytest.raises(ValueError, match="zlib level"):
        ZlibCompressor(level=12)


# --- settings -------------------------------------------------------------------------------
def test_location_is_split_like_djangos_redis_cache() -> None:
    assert split_location("redis://a:1,redis://b:2; c:3") == [
        "redis://a:1", "redis://b:2", "redis://c:3"]
    assert split_location(["rediss://a:1", "b:2"]) == ["rediss://a:1", "redis://b:2"]
    for bad in ("", None, " , ;", 42):
        with pytest.raises(ImproperlyConfigured):
            split_location(bad)


def test_url_parts_give_nodes_credentials_and_tls() -> None:
    nodes, creds = cluster_url_parts("rediss://u:p%40ss@h1:7000,h2:7001")
    assert nodes == [NodeAddress("h1", 7000), NodeAddress("h2", 7001)]
    assert creds == {"username": "u", "password": "p@ss", "ssl": True}
    for bad in ("http://h:1", "redis://h:1/3", "redis://h:1?socket_timeout=1", "redis://"):
        with pytest.raises(ImproperlyConfigured):
            cluster_url_parts(bad)


def test_bad_serializer_compressor_and_pool_class_are_named() -> None:
    with pytest.raises(ImproperlyConfigured, match="serializer"):
        RedisClusterCache("h:1", {"OPTIONS": {"serializer": "no.such.Module"}})
    with pytest.raises(ImproperlyConfigured, match="dumps"):
        RedisClusterCache("h:1", {"OPTIONS": {"serializer": object()}})
    with pytest.raises(ImproperlyConfigured, match="compress"):
        RedisClusterCache("h:1", {"OPTIONS": {"compressor": object()}})
    with pytest.raises(ImproperlyConfigured, match="compress_min_length"):
        RedisClusterCache("h:1", {"OPTIONS": {"compress_min_length": -3}})
    with pytest.raises(ImproperlyConfigured, match="pool_class"):
        build_client(["redis://h:1"], {"pool_class": dict})


def test_options_reach_the_client_and_pool_class_builds_the_pool(fake: FakeCluster) -> None:
    cache = _cache(fake, OPTIONS={"pool_class": "clustercore.ClusterBlockingConnectionPool",
                                  "max_connections": 7, "retry_deadline": 2.5,
                                  "read_your_writes": 1.5,
                                  "MAX_ENTRIES": 10, "serializer": "json"})
    client = cache.get_client()
    assert isinstance(client.connection_pool, ClusterBlockingConnectionPool)
    assert client.connection_pool.max_connections == 7
    assert client.retry.deadline == 2.5
    assert client.executor.read_your_writes == 1.5  # a client option, not a pool one
    cache.set("k", {"a": 1})
    assert fake.get(":1:k") == b'{"a":1}'


def test_an_unknown_option_is_refused_by_name(fake: FakeCluster) -> None:
    cache = _cache(fake, OPTIONS={"no_such_option": 1})
    with pytest.raises(Exception, match="no_such_option"):
        cache.get("k")


# --- Django's API on the fake cluster -------------------------------------------------------
def test_basic_operations_and_timeouts(fake: FakeCluster) -> None:
    cache = _cache(fake, TIMEOUT=60, KEY_PREFIX="p", VERSION=3)
    cache.set("a", "x")
    assert fake.get("p:3:a") == pickle.dumps("x", pickle.HIGHEST_PROTOCOL)
    assert cache.get("a") == "x" and cache.get("missing", "d") == "d"
    assert 59_000 < cache.pttl("a") <= 60_000  # type: ignore[operator]
    cache.set("n", 5, timeout=None)
    assert fake.get("p:3:n") == b"5" and cache.ttl("n") is None
    cache.set("half", 1, timeout=0.5)
    assert 0 < cache.pttl("half") <= 500  # type: ignore[operator]
    cache.set("a", "gone", timeout=0)
    assert not cache.has_key("a") and cache.ttl("a") == 0
    assert cache.add("b", 1) is True and cache.add("b", 2) is False and cache.get("b") == 1
    assert cache.add("c", 1, timeout=0) is True and not cache.has_key("c")
    assert cache.touch("b", None) is True and cache.ttl("b") is None
    assert cache.touch("b", 10) is True and cache.ttl("b") == 10
    assert cache.persist("b") is True and cache.persist("nope") is False
    assert cache.expire("b", 20) is True and cache.ttl("b") == 20
    assert cache.pexpire("b", 1500) is True and cache.pttl("b") <= 1500  # type: ignore[operator]
    assert cache.delete("b") is True and cache.delete("b") is False


def test_set_many_keeps_each_timeout_and_returns_empty_list(fake: FakeCluster) -> None:
    cache = _cache(fake)
    data = {f"k{i}": i for i in range(20)}
    assert cache.set_many(data, timeout=30) == []
    assert all(0 < cache.pttl(k) <= 30_000 for k in data)  # type: ignore[operator]
    assert cache.set_many(data, timeout=None) == []
    assert all(cache.ttl(k) is None for k in data)
    assert cache.set_many(data, timeout=0) == []
    assert cache.get_many(list(data)) == {}
    assert cache.set_many({}) == []


def test_a_pickle_error_reaches_the_caller_and_nothing_is_sent(fake: FakeCluster) -> None:
    class Unpicklable:
        def __getstate__(self) -> Any:
            raise pickle.PickleError("no")

    cache = _cache(fake)
    with pytest.raises(pickle.PickleError):
        cache.set("u", Unpicklable())
    with pytest.raises(pickle.PickleError):
        cache.set_many({"first": 1, "u": Unpicklable()})
    assert not cache.has_key("first")


def test_multi_key_calls_make_one_round_trip_per_node(fake: FakeCluster,
                                                      writes: WireWrites) -> None:
    cache = _cache(fake)
    cache.get("warm-up")  # discovery and the first connection
    keys = [f"key{i}" for i in range(60)]
    owners = {fake.owner_of(cache.make_key(k)).address for k in keys}
    assert len(owners) == 3
    assert_one_write_per_node(writes, {(host, port) for host, port in owners},
                              [lambda: cache.set_many({k: k for k in keys}, 100),
                               lambda: cache.get_many(keys),
                               lambda: cache.delete_many(keys)])


def test_get_many_keeps_the_callers_keys_and_skips_misses(fake: FakeCluster) -> None:
    cache = _cache(fake, VERSION=2)
    cache.set_many({"a": 1, "b": None, "c": "x"})
    assert cache.get_many(iter(["a", "b", "c", "d"])) == {"a": 1, "b": None, "c": "x"}
    assert cache.get_many([]) == {}


def test_clear_empties_every_primary(fake: FakeCluster) -> None:
    cache = _cache(fake)
    cache.set_many({f"k{i}": i for i in range(50)})
    holders = {fake.owner_of(cache.make_key(f"k{i}")).address for i in range(50)}
    assert holders == {p.address for p in fake.primaries()} and fake.dbsize() == 50
    cache.clear()
    assert fake.dbsize() == 0


def test_keys_iter_keys_and_delete_pattern_scan_every_primary(fake: FakeCluster) -> None:
    cache = _cache(fake, KEY_PREFIX="a*b")
    other = _cache(fake, KEY_PREFIX="a-b")  # would match an unescaped "a*b" pattern
    cache.set_many({f"user:{i}": i for i in range(40)})
    cache.set("session:1", 1)
    other.set("user:99", 1)
    owners = {fake.owner_of(cache.make_key(f"user:{i}")).address for i in range(40)}
    assert len(owners) == 3
    assert sorted(cache.keys("user:*")) == sorted(f"user:{i}" for i in range(40))
    assert sorted(cache.iter_keys("user:1*", itersize=5)) == sorted(
        ["user:1", *(f"user:{i}" for i in range(10, 20))])
    assert cache.keys("user:*", version=2) == []
    assert cache.delete_pattern("user:*", itersize=7) == 40
    assert cache.keys("*") == ["session:1"] and other.keys("*") == ["user:99"]


def test_key_warnings_are_kept(fake: FakeCluster) -> None:
    cache = _cache(fake)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        cache.set("has space", 1)
    assert any(issubclass(w.category, CacheKeyWarning) for w in seen)


# --- one client per process -----------------------------------------------------------------
def test_every_thread_shares_one_client_and_close_keeps_it(fake: FakeCluster) -> None:
    found: List[RedisCluster] = []
    start = threading.Barrier(6)

    def worker() -> None:
        cache = _cache(fake)  # Django builds a backend object per thread
        start.wait(timeout=10)
        cache.set(f"t{threading.get_ident()}", 1)
        found.append(cache.get_client())
        cache.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(found) == 6 and len({id(c) for c in found}) == 1
    assert len(registry) == 1
    assert not found[0].connection_pool.closed
    assert _cache(fake).get_client() is found[0]


def test_different_settings_get_different_clients(fake: FakeCluster) -> None:
    a = _cache(fake).get_client()
    b = _cache(fake, OPTIONS={"retry_deadline": 1.0}).get_client()
    c = _cache(fake, KEY_PREFIX="other").get_client()  # prefixes share the client
    assert a is not b and a is c


def test_the_registry_builds_once_under_a_race_and_closes_the_loser() -> None:
    built: List[Tuple[Any, ...]] = []
    both_building = threading.Barrier(2)
    fake = FakeCluster(masters=1)

    def factory(urls: Any, options: Any) -> RedisCluster:
        client = RedisCluster(startup_nodes=fake.startup_nodes, **fake.connection_kwargs())
        built.append((client,))
        both_building.wait(timeout=10)  # both threads are past the lookup
        return client

    reg = ClientRegistry(factory)
    got: Dict[int, RedisCluster] = {}

    def get(i: int) -> None:
        got[i] = reg.get(["redis://x:1"], {})[0]

    threads = [threading.Thread(target=get, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(built) == 2 and got[0] is got[1]
    losers = [c for (c,) in built if c is not got[0]]
    assert len(losers) == 1 and losers[0].connection_pool.closed
    assert not got[0].connection_pool.closed
    got[0].connection_pool.close()


def test_after_a_fork_the_child_builds_a_new_client(fake: FakeCluster) -> None:
    """What ``os.register_at_fork`` runs in the child (a real fork: the integration test)."""
    cache = _cache(fake)
    before = cache.get_client()
    generation = registry.generation
    registry.after_fork_in_child()
    assert registry.generation == generation + 1 and len(registry) == 0
    after = cache.get_client()
    assert after is not before and not before.connection_pool.closed
    cache.set("k", 1)
    assert cache.get("k") == 1


# --- django-redis's pool --------------------------------------------------------------------
def test_django_redis_pool_from_url(fake: FakeCluster) -> None:
    node = fake.startup_nodes[0]
    pool = DjangoRedisClusterPool.from_url(
        f"redis://u:pw@{node['host']}:{node['port']}", parser_class=object,
        **fake.connection_kwargs())
    assert pool.startup_nodes == [NodeAddress(node["host"], node["port"])]
    assert pool.connection_kwargs["username"] == "u"
    assert pool.connection_kwargs["password"] == "pw"
    assert "parser_class" not in pool.connection_kwargs
    pool.close()


def test_json_and_zlib_options_end_to_end(fake: FakeCluster) -> None:
    cache = _cache(fake, OPTIONS={"serializer": "json", "compressor": "zlib",
                                  "compress_min_length": 100})
    big = {"rows": ["x" * 50] * 20}
    cache.set_many({"big": big, "small": [1, 2], "n": 3})
    assert fake.get(":1:big").startswith(COMPRESSED_MAGIC)  # type: ignore[union-attr]
    assert fake.get(":1:small") == b"[1,2]" and fake.get(":1:n") == b"3"
    assert cache.get_many(["big", "small", "n"]) == {"big": big, "small": [1, 2], "n": 3}
    custom = _cache(fake, OPTIONS={"serializer": PickleSerializer(protocol=2),
                                   "compressor": ZlibCompressor(level=1)})
    custom.set("p", ("t",))
    assert fake.get(":1:p").startswith(b"\x80\x02")  # type: ignore[union-attr]
    assert custom.get("p") == ("t",)


def test_django_redis_pool_reports_an_unreachable_cluster_as_a_connection_error(
        fake: FakeCluster) -> None:
    import redis.exceptions

    node = fake.startup_nodes[0]
    pool = DjangoRedisClusterPool.from_url(f"redis://{node['host']}:{node['port']}",
                                           probe_timeout=0.2, **fake.connection_kwargs())
    for each in fake.nodes:
        fake.kill(each)
    with pytest.raises(ClusterUnreachableError) as info:
        pool.ensure_topology()
    assert isinstance(info.value, redis.exceptions.ConnectionError)  # IGNORE_EXCEPTIONS' class
    assert "unreachable" in str(info.value)
    for each in fake.nodes:
        fake.revive(each)
    assert pool.ensure_topology().shards  # discovered once the cluster is back
    pool.close()
