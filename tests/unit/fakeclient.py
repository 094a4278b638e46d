"""A deterministic RedisCluster on a FakeCluster, shared by the unit tests."""

from __future__ import annotations

from typing import Any, List, Tuple

from clustercore import RedisCluster
from clustercore.testing import FakeCluster


def make_client(fake: FakeCluster, **kwargs: Any) -> Tuple[RedisCluster, List[float]]:
    """A client on the fake's clock whose sleeps advance it (and are recorded); refreshes run
    inline, so every fault plays out the same way on every run."""
    sleeps: List[float] = []
    kwargs.setdefault("socket_timeout", 1.0)

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        fake.clock.advance(seconds)

    rc = RedisCluster(startup_nodes=fake.startup_nodes, transport=fake.network,
                      clock=fake.clock, background_refresh=False, refresh_min_interval=0,
                      sleep=sleep, **kwargs)
    return rc, sleeps
