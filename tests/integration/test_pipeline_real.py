"""ClusterPipeline on a real cluster: 1000 commands over every slot, a pipeline running while
slots are resharded (no errors, exactly-once counters), transactions, WATCH conflicts."""

from __future__ import annotations

from typing import Any, Callable, Iterator, List

import pytest

from clustercore import NUM_SLOTS, ClusterPipeline, RedisCluster, key_slot
from clustercore.errors import ClusterCrossSlotError, WatchError
from clustercore.testing import LocalCluster


def _client(lc: LocalCluster, **kwargs: Any) -> RedisCluster:
    kwargs.setdefault("socket_timeout", 10)
    return RedisCluster(startup_nodes=lc.startup_nodes, **kwargs)


@pytest.fixture
def rc(cluster: LocalCluster) -> Iterator[RedisCluster]:
    client = _client(cluster)
    yield client
    client.close()


def _key_for_slot(slot: int, tried: int = 200_000) -> str:
    for i in range(tried):
        key = f"pk:{i}"
        if key_slot(key) == slot:
            return key
    raise AssertionError(f"no key for slot {slot}")


def test_thousand_commands_across_all_slots_come_back_in_order(rc: RedisCluster) -> None:
    keys = [f"order:{i}" for i in range(500)]
    assert len({key_slot(k) for k in keys}) > 480
    pipe = ClusterPipeline(rc)
    for i, key in enumerate(keys):
        pipe.set(key, i)
    for key in keys:
        pipe.get(key)
    assert len(pipe) == 1000
    results = pipe.execute()
    assert results[:500] == [True] * 500
    assert results[500:] == [str(i).encode() for i in range(500)]
    pipe.delete(*keys)
    assert pipe.execute() == [500]
    assert rc.connection_pool.stats().in_use == 0


def test_pipeline_while_slots_are_resharded_has_no_errors(
        make_cluster: Callable[..., LocalCluster]) -> None:
    lc = make_cluster(2, 0)
    rc = _client(lc)
    try:
        source, target = lc.primaries()
        first = next(s for s in range(NUM_SLOTS) if rc.connection_pool.address_for_slot(s)
                     == (source.host, source.port))
        slots = [first, first + 1, first + 2]
        keys = [f"{{{_key_for_slot(s)}}}:{i}" for s in slots for i in range(40)]
        other = [f"still:{i}" for i in range(20)]
        for key in keys + other:
            rc.set(key, "0")
        counters = [f"{{{_key_for_slot(s)}}}:n" for s in slots]
        runs: List[int] = []

        def run_pipeline() -> None:
            pipe = ClusterPipeline(rc)
            for key in keys:
                pipe.get(key)
            for key in counters:
                pipe.incr(key)
            pipe.mget(*other[:5], *keys[:5])
            results = pipe.execute(raise_on_error=False)
            errors = [r for r in results if isinstance(r, BaseException)]
            assert errors == []
            assert results[:len(keys)] == [b"0"] * len(keys)
            runs.append(1)

        lc.migrate_slots(slots, source, target, keys_batch=10, between_keys=run_pipeline)
        run_pipeline()
        assert len(runs) >= len(slots) * 4
        stats = rc._execute_on_node(f"{target.host}:{target.port}", "INFO", "commandstats")
        asking = [line for line in stats.decode().splitlines() if "cmdstat_asking" in line]
        assert asking, "the pipeline never followed an ASK redirect"
        assert all(rc.connection_pool.address_for_slot(s) == (target.host, target.port)
                   for s in slots)  # MOVED updated the map
        assert [int(rc.get(c)) for c in counters] == [len(runs)] * len(counters)
        assert rc.connection_pool.stats().in_use == 0
    finally:
        rc.close()


def test_transaction_and_cross_slot_refusal(rc: RedisCluster) -> None:
    pipe = ClusterPipeline(rc, transaction=True)
    pipe.delete("{tx}a").set("{tx}a", 5).incrby("{tx}a", 2).get("{tx}a")
    assert pipe.execute() == [0, True, 7, b"7"]
    pipe.set("{tx}a", 1).set("{other}b", 1)  # refused by execute(), as redis-py does
    with pytest.raises(ClusterCrossSlotError, match="must map to the same slot"):
        pipe.execute()
    assert rc.get("{tx}a") == b"7" and rc.get("{other}b") is None  # nothing was sent


def test_watch_conflict_from_a_second_client_is_a_watch_error(
        cluster: LocalCluster, rc: RedisCluster) -> None:
    other = _client(cluster)
    try:
        rc.set("{w}balance", 100)
        pipe = ClusterPipeline(rc, transaction=True)
        pipe.watch("{w}balance")
        balance = int(pipe.get("{w}balance"))
        other.set("{w}balance", 50)  # the second client wins the race
        pipe.multi()
        pipe.set("{w}balance", balance - 10)
        with pytest.raises(WatchError):
            pipe.execute()
        assert rc.get("{w}balance") == b"50"
        # The usual retry loop then succeeds.
        with ClusterPipeline(rc, transaction=True) as pipe:
            pipe.watch("{w}balance")
            balance = int(pipe.get("{w}balance"))
            pipe.multi()
            pipe.set("{w}balance", balance - 10)
            assert pipe.execute() == [True]
        assert rc.get("{w}balance") == b"40"
        assert rc.connection_pool.stats().in_use == 0
    finally:
        other.close()
