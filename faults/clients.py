"""The two clients under test, built the same way from the same environment.

``clustercore`` is this project's ``RedisCluster``; ``redis-py`` is redis-py's
``redis.cluster.RedisCluster`` (installed in the development venv).  Each adapter turns the
scenario's environment (seed addresses, per-node proxies, TLS files) and the scenario's
keyword arguments into a client, and says whether an exception is an honest "maybe".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

Address = Tuple[str, int]


@dataclass(frozen=True)
class Connect:
    """How to reach the cluster: seeds, an optional address remap, optional TLS files."""

    seeds: Tuple[Address, ...]
    remap: Optional[Mapping[Address, Address]] = None
    ca_cert: Optional[str] = None


class Adapter:
    """Builds one client library's cluster client."""

    name = ""

    def make(self, connect: Connect, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def is_outcome_unknown(self, exc: BaseException) -> bool:
        """True when the error says "the command may or may not have run"."""
        return False

    def pipeline(self, client: Any, transaction: bool) -> Any:
        return client.pipeline(transaction=transaction)


class ClusterCoreAdapter(Adapter):
    name = "clustercore"

    def make(self, connect: Connect, **kwargs: Any) -> Any:
        from clustercore import RedisCluster

        params: Dict[str, Any] = dict(kwargs)
        if connect.remap is not None:
            params["host_port_remap"] = {k: v for k, v in connect.remap.items()}
        if connect.ca_cert is not None:
            params.update(ssl=True, ssl_ca_certs=connect.ca_cert, ssl_cert_reqs="required")
        seeds: List[Dict[str, Any]] = [{"host": h, "port": p} for h, p in connect.seeds]
        return RedisCluster(startup_nodes=seeds, **params)

    def is_outcome_unknown(self, exc: BaseException) -> bool:
        from clustercore.errors import OutcomeUnknownError

        return isinstance(exc, OutcomeUnknownError)


class RedisPyAdapter(Adapter):
    name = "redis-py"

    def make(self, connect: Connect, **kwargs: Any) -> Any:
        from redis.cluster import ClusterNode, RedisCluster

        params: Dict[str, Any] = dict(kwargs)
        seeds = list(connect.seeds)
        if connect.remap is not None:
            remap = dict(connect.remap)
            def fn(a: Address) -> Address:
                return remap.get((a[0], int(a[1])), a)
            params["address_remap"] = fn
        if connect.ca_cert is not None:
            params.update(ssl=True, ssl_ca_certs=connect.ca_cert, ssl_cert_reqs="required")
        if params.pop("from_url", False):
            # redis-py honours connection_pool_class (a BlockingConnectionPool) only here
            host, port = seeds[0]
            return RedisCluster.from_url(f"redis://{host}:{port}", **params)
        nodes = [ClusterNode(h, p) for h, p in seeds]  # type: ignore[no-untyped-call]
        return RedisCluster(startup_nodes=nodes, **params)


ADAPTERS: Dict[str, Adapter] = {a.name: a for a in (ClusterCoreAdapter(), RedisPyAdapter())}
