"""RedisClusterCache on the real 3+3 cluster: what BaseCacheTests does not cover.

Atomic incr under concurrency, the lock, replica reads, TLS, a pool class, a real fork, and
one write per node for the multi-key calls.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any, Dict, Iterator, List, Set, Tuple

import pytest

from clustercore import ClusterBlockingConnectionPool, ResponseError
from clustercore.contrib.django import RedisClusterCache
from clustercore.testing import LocalCluster

from ..django_support import (
    WireWrites,
    assert_one_write_per_node,
    close_shared_clients,
    configure,
    location,
    wire_writes,
)

configure()


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    yield
    close_shared_clients()


def _cache(cluster: LocalCluster, **params: Any) -> RedisClusterCache:
    return RedisClusterCache(location(cluster.startup_nodes), params)


@pytest.fixture
def writes() -> Iterator[WireWrites]:
    with wire_writes() as handler:
        yield handler


def test_incr_is_atomic_across_threads_and_backend_objects(cluster: LocalCluster) -> None:
    _cache(cluster).set("hits", 0)
    start = threading.Barrier(8)
    errors: List[BaseException] = []

    def worker() -> None:
        cache = _cache(cluster)  # one backend object per thread, as Django makes them
        start.wait(timeout=10)
        try:
            for _ in range(100):
                cache.incr("hits")
            for _ in range(25):
                cache.decr("hits", 2)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert _cache(cluster).get("hits") == 8 * (100 - 50)


def test_incr_missing_key_and_non_integer(cluster: LocalCluster) -> None:
    cache = _cache(cluster)
    with pytest.raises(ValueError, match="not found"):
        cache.incr("nothing-here")
    assert not cache.has_key("nothing-here")  # the check did not create it
    cache.set("text", "abc")
    with pytest.raises(ResponseError):
        cache.incr("text")
    cache.set("big", 2**62)
    assert cache.incr("big", 5) == 2**62 + 5


def test_lock_excludes_other_threads(cluster: LocalCluster) -> None:
    cache = _cache(cluster)
    held = threading.Event()
    release = threading.Event()
    outcome: Dict[str, Any] = {}

    def holder() -> None:
        with _cache(cluster).lock("job", timeout=10):
            held.set()
            release.wait(timeout=10)

    t = threading.Thread(target=holder)
    t.start()
    assert held.wait(timeout=10)
    outcome["while_held"] = cache.lock("job", timeout=5).acquire(blocking=False)
    release.set()
    t.join(timeout=10)
    lock = cache.lock("job", timeout=5, blocking_timeout=5)
    outcome["after"] = lock.acquire()
    lock.release()
    assert outcome == {"while_held": False, "after": True}


def test_reads_go_to_replicas_by_option_and_writes_to_primaries(cluster: LocalCluster,
                                                                writes: WireWrites) -> None:
    cache = _cache(cluster, OPTIONS={"read_policy": "replicas"})
    client = cache.get_client()
    replicas = {(n.host, n.port) for n in client.get_replicas()}
    primaries = {(n.host, n.port) for n in client.get_primaries()}
    cache.set("r", "v")
    writes.writes.clear()
    deadline = time.monotonic() + 10
    while cache.get("r") != "v":  # replication is asynchronous: read-your-writes is not given
        assert time.monotonic() < deadline, "the replica never caught up"
    assert writes.writes and set(writes.writes) <= replicas
    writes.writes.clear()
    cache.set("r", "w")
    assert set(writes.writes) <= primaries and writes.writes


def test_multi_key_calls_write_once_per_node_on_the_real_cluster(cluster: LocalCluster,
                                                                 writes: WireWrites) -> None:
    cache = _cache(cluster)
    cache.get("warm-up")
    keys = [f"item:{i}" for i in range(90)]
    client = cache.get_client()
    owners: Set[Tuple[str, int]] = set()
    for key in keys:
        node = client.get_node_from_key(cache.make_key(key))
        assert node is not None
        owners.add((node.host, node.port))
    assert len(owners) == 3
    assert_one_write_per_node(writes, owners, [lambda: cache.set_many({k: k for k in keys}, 60),
                                               lambda: cache.get_many(keys),
                                               lambda: cache.delete_many(keys)])


def test_tls_location_and_options(tls_cluster: LocalCluster) -> None:
    cache = RedisClusterCache(
        location(tls_cluster.startup_nodes, scheme="rediss"),
        {"OPTIONS": {"ssl_ca_certs": str(tls_cluster.ca_cert_path)}})
    cache.set_many({f"tls:{i}": i for i in range(20)})
    assert cache.get_many([f"tls:{i}" for i in range(20)]) == {f"tls:{i}": i for i in range(20)}
    cache.clear()


def test_pool_class_option_on_the_real_cluster(cluster: LocalCluster) -> None:
    cache = _cache(cluster, OPTIONS={"pool_class": ClusterBlockingConnectionPool,
                                     "max_connections": 4, "timeout": 5.0})
    assert isinstance(cache.get_client().connection_pool, ClusterBlockingConnectionPool)
    start = threading.Barrier(8)

    def worker(i: int) -> None:
        start.wait(timeout=10)
        for j in range(20):
            cache.set(f"p{i}:{j}", j)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(cache.get_many([f"p{i}:{j}" for i in range(8) for j in range(20)])) == 160


def _wait_child(pid: int, timeout: float) -> int:
    """The child's exit status, polling with a deadline (killed if it overstays)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError(f"child {pid} did not finish in {timeout}s")


def test_a_forked_child_builds_its_own_client(cluster: LocalCluster) -> None:
    cache = _cache(cluster)
    cache.set("parent", 1)
    parent_client = cache.get_client()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's cleanup
        code = 1
        try:
            child_cache = _cache(cluster)
            child_cache.set("child", os.getpid())
            report = {"same_client": child_cache.get_client() is parent_client,
                      "old_object_same_client": cache.get_client() is parent_client,
                      "parent_value": child_cache.get("parent")}
            os.write(write, json.dumps(report).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    assert _wait_child(pid, 60) == 0
    with os.fdopen(read, "rb") as fh:
        report = json.loads(fh.read())
    assert report == {"same_client": False, "old_object_same_client": False,
                      "parent_value": 1}
    assert cache.get("child") == pid  # the child's write reached the cluster
    assert cache.get_client() is parent_client  # the parent keeps its client ...
    assert cache.get("parent") == 1  # ... and its connections still work
