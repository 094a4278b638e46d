"""More workers than connections: a blocking pool of 2 connections per node, 8 workers."""

from __future__ import annotations

from typing import Any, Dict

from ..runner import Context, Scenario
from .kill import MasterKill


class PoolExhaustion(Scenario):
    name = "pool_exhaustion"
    family = "pool"
    title = "Pool exhaustion (8 workers, 2 connections per node, blocking pool)"
    what = ("8 workers share a blocking pool capped at 2 connections per node (clustercore: "
            "blocking=True, max_connections=2, max_connections_per_node=True; redis-py: "
            "RedisCluster.from_url(..., connection_pool_class=BlockingConnectionPool, "
            "max_connections=2): built from startup_nodes it ignores connection_pool_class and "
            "raises MaxConnectionsError at the cap), pool wait timeout 5 s. No fault: callers "
            "wait their turn.")
    threads = 8
    promotion_expected = False
    measures_recovery = False

    def client_kwargs(self, ctx: Context) -> Dict[str, Any]:
        if ctx.adapter.name == "clustercore":
            return {"blocking": True, "max_connections": 2, "max_connections_per_node": True,
                    "timeout": 5}
        from redis import BlockingConnectionPool

        # redis-py's RedisCluster uses connection_pool_class only when built by from_url
        return {"from_url": True, "connection_pool_class": BlockingConnectionPool,
                "max_connections": 2, "timeout": 5}


class PoolExhaustionFailover(MasterKill):
    name = "pool_exhaustion_failover"
    family = "pool"
    title = "Pool exhaustion with a failover (SIGKILL)"
    what = "The same exhausted pool while the primary of half of the keys is SIGKILLed."
    threads = 8

    def client_kwargs(self, ctx: Context) -> Dict[str, Any]:
        return PoolExhaustion.client_kwargs(self, ctx)  # type: ignore[arg-type]
