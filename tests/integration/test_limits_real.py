"""limits' own strategies, and Flask-Limiter, on ClusterCoreStorage over a real 3+3 cluster.

The limit keys are spread over every primary; concurrent hits from many threads must let
exactly ``limit`` through (the Lua scripts are atomic on the key's node).
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, List, Type

import pytest
from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.errors import ConfigurationError, StorageError
from limits.storage import storage_from_string
from limits.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)

from clustercore import RedisCluster, key_slot
from clustercore.contrib.flask.extension import ClusterCore
from clustercore.contrib.limits_storage import ClusterCoreStorage
from clustercore.testing import LocalCluster

STRATEGIES: List[Type[RateLimiter]] = [
    FixedWindowRateLimiter, MovingWindowRateLimiter, SlidingWindowCounterRateLimiter]


class ManualClock:
    """A settable clock for the moving window's timestamps."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def storage(cluster: LocalCluster) -> Iterator[ClusterCoreStorage]:
    seed = cluster.primaries()[0]
    made = storage_from_string(f"clustercore://{seed.host}:{seed.port}?socket_timeout=2",
                               key_prefix=f"L{uuid.uuid4().hex[:6]}")
    assert isinstance(made, ClusterCoreStorage)
    yield made
    made.reset()
    made.close()


def users_on_every_primary(cluster: LocalCluster, storage: ClusterCoreStorage,
                           item: RateLimitItem, strategy: Type[RateLimiter]) -> List[str]:
    """Identifiers whose limit keys land on every primary (for this strategy's layout)."""
    users: List[str] = []
    owners = set()
    for _ in range(300):  # bounded: random names cover three primaries within a few tries
        u = f"user-{uuid.uuid4().hex}"
        key = item.key_for(u)
        name = (storage.window_keys(key)[1] if strategy is SlidingWindowCounterRateLimiter
                else storage.prefixed_key(key))
        users.append(u)
        owners.add(cluster.slot_owner(key_slot(name)).port)
        if len(owners) == 3 and len(users) >= 9:
            break
    assert len(owners) == 3, owners
    return users


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.__name__)
def test_strategy_counts_per_key(cluster: LocalCluster, storage: ClusterCoreStorage,
                                 strategy: Type[RateLimiter]) -> None:
    """Each strategy admits exactly the limit per identifier, keys on all primaries; test()
    and get_window_stats agree; clear() gives the limit back."""
    limiter = strategy(storage)
    item = RateLimitItemPerMinute(4)
    users = users_on_every_primary(cluster, storage, item, strategy)
    for u in users:
        assert [limiter.hit(item, u) for _ in range(6)] == [True] * 4 + [False] * 2
        assert limiter.test(item, u) is False
        stats = limiter.get_window_stats(item, u)
        assert stats.remaining == 0
    limiter.clear(item, users[0])
    assert limiter.test(item, users[0]) is True
    assert limiter.hit(item, users[0], cost=4) is True
    assert limiter.hit(item, users[0]) is False
    assert storage.reset() is not None


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.__name__)
def test_concurrent_hits_admit_exactly_the_limit(storage: ClusterCoreStorage,
                                                 strategy: Type[RateLimiter]) -> None:
    """16 threads x 25 hits on one limit of 50: exactly 50 admitted (atomic scripts)."""
    limiter = strategy(storage)
    item = RateLimitItemPerMinute(50)
    start = threading.Barrier(16, timeout=10)

    def worker(_: int) -> int:
        start.wait()
        return sum(limiter.hit(item, "shared") for _ in range(25))

    with ThreadPoolExecutor(16) as pool:
        admitted = sum(pool.map(worker, range(16), timeout=60))
    assert admitted == 50
    if strategy is FixedWindowRateLimiter:  # its counter counts every hit: no INCR was lost
        assert storage.get(item.key_for("shared")) == 16 * 25


def test_moving_window_slides_with_the_clock(cluster: LocalCluster) -> None:
    """With an injected clock: entries older than the window stop counting."""
    clock = ManualClock(1_000_000.0)
    client = RedisCluster(startup_nodes=cluster.startup_nodes)
    store = ClusterCoreStorage("clustercore://", client, key_prefix=f"M{uuid.uuid4().hex[:6]}",
                               clock=clock)
    try:
        limiter = MovingWindowRateLimiter(store)
        item = RateLimitItemPerSecond(3, 10)  # 3 per 10 seconds
        assert [limiter.hit(item, "u") for _ in range(4)] == [True, True, True, False]
        clock.now += 5
        assert limiter.hit(item, "u") is False
        start, count = store.get_moving_window(item.key_for("u"), 3, 10)
        assert (start, count) == (1_000_000.0, 3)
        clock.now += 6  # the first three are now older than 10 s
        assert limiter.hit(item, "u") is True
        assert store.get_moving_window(item.key_for("u"), 3, 10)[1] == 1
    finally:
        store.reset()
        client.connection_pool.close()


def test_reset_check_and_errors(cluster: LocalCluster, storage: ClusterCoreStorage) -> None:
    """reset() deletes the prefix's keys on every primary (and only those); check() is True on
    a healthy cluster and False on a dead one; wrap_exceptions wraps clustercore's errors."""
    limiter = FixedWindowRateLimiter(storage)
    item = RateLimitItemPerMinute(10)
    users = users_on_every_primary(cluster, storage, item, FixedWindowRateLimiter)
    for u in users:
        limiter.hit(item, u)
    client = storage.storage
    client.set("unrelated-key", "x")
    assert storage.reset() == len(users)
    assert client.get("unrelated-key") == b"x"
    client.delete("unrelated-key")
    assert storage.check() is True

    dead = ClusterCoreStorage("clustercore://127.0.0.1:1", init_slot_cache=False,
                              socket_connect_timeout=0.2, retry_deadline=0.5,
                              wrap_exceptions=True)
    assert dead.check() is False
    with pytest.raises(StorageError):
        dead.incr("k", 10)


def test_bad_configuration_is_named() -> None:
    """Wrong scheme, no node, a non-clustercore client and client + options are refused."""
    with pytest.raises(ConfigurationError, match="clustercore://"):
        ClusterCoreStorage("redis://127.0.0.1:7000")
    with pytest.raises(ConfigurationError, match="names no cluster node"):
        ClusterCoreStorage("clustercore://")
    with pytest.raises(ConfigurationError, match="RedisCluster"):
        ClusterCoreStorage("clustercore://", client=object())  # type: ignore[arg-type]
    rc = RedisCluster(startup_nodes=[("127.0.0.1", 1)], init_slot_cache=False)
    with pytest.raises(ConfigurationError, match="not both"):
        ClusterCoreStorage("clustercore://", client=rc, socket_timeout=1)
    store = ClusterCoreStorage("clustercore://", client=rc, key_prefix="{}")
    with pytest.raises(ConfigurationError, match="different slots"):
        store.window_keys("k")


def test_flask_limiter_on_the_extension_client(cluster: LocalCluster) -> None:
    """Flask-Limiter with storage_uri clustercore:// and the extension's client passed in
    RATELIMIT_STORAGE_OPTIONS: the decorated view answers 429 after its limit, each
    strategy, and the counters live in the cluster."""
    for strategy in ("fixed-window", "moving-window", "sliding-window-counter"):
        app = Flask(__name__)
        app.config.update(CLUSTERCORE_STARTUP_NODES=cluster.startup_nodes)
        ext = ClusterCore(app)
        prefix = f"FL{uuid.uuid4().hex[:6]}"
        limiter = Limiter(get_remote_address, app=app, storage_uri="clustercore://",
                          storage_options={"client": ext.get_client(app), "key_prefix": prefix},
                          strategy=strategy)

        @app.route("/limited")
        @limiter.limit("3 per minute")
        def limited() -> str:
            return "ok"

        with app.test_client() as http:
            codes = [http.get("/limited").status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429], strategy
        client = ext.get_client(app)
        assert list(client.scan_iter(match=prefix + ":*")), strategy
        assert isinstance(limiter.storage, ClusterCoreStorage)
        limiter.storage.reset()

