"""Issue 14: read-your-writes for replica reads (``RedisCluster(read_your_writes=SECONDS)``).

Replication is asynchronous, so a replica read right after a write may see the old value. With
the window on, reads of a slot this client wrote within it go to the slot's primary; other
slots keep reading from replicas. The fake's commands_seen() shows which node served what.
"""

from __future__ import annotations

from typing import List

import pytest

from clustercore import RedisCluster, key_slot
from clustercore.errors import RedisClusterConfigError
from clustercore.testing import FakeCluster
from tests.unit.fakeclient import make_client


def _gets(fake: FakeCluster, key: str) -> List[str]:
    """Which kinds of node (primary / replica) served the GETs of ``key`` so far, sorted."""
    owner = fake.owner_of(key_slot(key))
    out = []
    for node, kind in [(owner, "primary"), *[(r, "replica") for r in owner.replicas]]:
        out += [kind for c in fake.commands_seen(node) if c[:2] == [b"GET", key.encode()]]
    return sorted(out)


def _client(fake: FakeCluster, window: float) -> RedisCluster:
    # read_policy "replicas": every read goes to a replica unless the window sends it home
    rc, _ = make_client(fake, read_your_writes=window, read_policy="replicas")
    return rc


def test_a_read_after_this_clients_write_goes_to_the_primary_within_the_window() -> None:
    fake = FakeCluster()
    rc = _client(fake, 1.0)
    rc.get("a")
    assert _gets(fake, "a") == ["replica"]  # nothing written yet: a replica serves it
    rc.set("a", "1")
    assert rc.get("a") == b"1"
    assert _gets(fake, "a") == ["primary", "replica"]  # the second GET: the primary
    fake.clock.advance(1.5)  # the window is over
    rc.get("a")
    assert _gets(fake, "a") == ["primary", "replica", "replica"]


def test_other_slots_keep_reading_from_replicas() -> None:
    fake = FakeCluster()
    rc = _client(fake, 5.0)
    other = next(k for k in (f"o{i}" for i in range(1000)) if key_slot(k) != key_slot("a"))
    rc.set("a", "1")
    rc.get(other)
    assert _gets(fake, other) == ["replica"]


def test_off_by_default_and_when_zero() -> None:
    fake = FakeCluster()
    rc, _ = make_client(fake, read_policy="replicas")
    assert rc.executor.read_your_writes == 0.0 and rc.executor.written_at is None
    rc.set("a", "1")
    rc.get("a")
    assert _gets(fake, "a") == ["replica"]


def test_pipelines_and_split_commands_honour_the_window() -> None:
    fake = FakeCluster()
    rc = _client(fake, 1.0)
    pipe = rc.pipeline(transaction=False)
    pipe.set("a", "1").get("a")
    assert pipe.execute() == [True, b"1"]
    assert _gets(fake, "a") == ["primary"]  # queued after the write of its slot
    rc.mget("b", "c")  # no write yet: replicas
    owner_b = fake.owner_of(key_slot("b"))
    mgets_on_replicas = sum(1 for r in owner_b.replicas for c in fake.commands_seen(r)
                            if c[0] == b"MGET")
    assert mgets_on_replicas >= 1
    rc.mset({"b": "2"})  # a split write (one slot here) records its slot
    before = sum(1 for c in fake.commands_seen(owner_b) if c[0] == b"MGET")
    assert rc.mget("b", "c") == [b"2", None]
    assert sum(1 for c in fake.commands_seen(owner_b) if c[0] == b"MGET") == before + 1


def test_bad_windows_are_refused_naming_the_value() -> None:
    fake = FakeCluster()
    for bad in (-1, "1", float("nan")):
        with pytest.raises(RedisClusterConfigError, match="read_your_writes"):
            RedisCluster(startup_nodes=fake.startup_nodes, transport=fake.network,
                         read_your_writes=bad)


def test_the_window_comes_from_a_url() -> None:
    fake = FakeCluster()
    seed = fake.startup_nodes[0]
    rc = RedisCluster.from_url(
        f"redis://{seed['host']}:{seed['port']}/0?read_your_writes=0.5&read_from_replicas=true",
        transport=fake.network)
    assert rc.executor.read_your_writes == 0.5 and rc.executor.written_at is not None
