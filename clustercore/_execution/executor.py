"""The execution core: the one place that turns a call into node(s) and carries out the router.

:class:`Executor` owns what every caller (``RedisCluster``, ``ClusterPipeline``,
``ClusterPubSub``, ``Script``) needs to run commands on a cluster: the pool, the retry policy,
and the three effects a retry loop has -- reading the clock, sleeping, drawing random numbers --
each injected through the constructor so tests drive them without touching privates.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Callable, List, Optional, Sequence, TypeVar

from .._address import NodeAddress
from .retry import RetryPolicy

if TYPE_CHECKING:
    from .._pool.cluster_pool import ClusterConnectionPool

__all__ = ["Executor"]

T = TypeVar("T")


class Executor:
    """Runs commands for one client: routing, retries, batches (see the module docstring).

    ``sleep`` pauses between retries (``time.sleep``; a fake clock's ``advance`` in tests),
    ``rng`` draws backoff jitter and random nodes, and the clock is the pool's (``pool.clock``),
    so the pool's failure marks and the retry deadlines read the same time.
    """

    def __init__(self, pool: ClusterConnectionPool, policy: RetryPolicy, *,
                 sleep: Optional[Callable[[float], None]] = None,
                 rng: Optional[random.Random] = None) -> None:
        self.pool = pool
        self.policy = policy
        self.sleep: Callable[[float], None] = sleep or time.sleep
        self.rng = rng or random.Random()

    def now(self) -> float:
        """The pool's clock (monotonic seconds)."""
        return self.pool.clock()

    def backoff_delay(self, retries: int) -> float:
        """The pause before retry number ``retries`` (0 = the first), with jitter."""
        return self.policy.backoff.delay(retries, self.rng)

    def choose(self, items: Sequence[T]) -> T:
        """One of ``items`` at random (IndexError when there are none)."""
        return items[self.rng.randrange(len(items))]

    def random_node(self, primaries_only: bool = True) -> NodeAddress:
        """A random primary (or any node), discovering the cluster first if needed."""
        topology = self.pool.ensure_topology()
        nodes: Sequence[NodeAddress] = topology.primaries if primaries_only else topology.nodes
        return self.choose(nodes)

    def primaries(self) -> List[NodeAddress]:
        """Every primary of the current layout (discovered first if needed)."""
        return list(self.pool.ensure_topology().primaries)
