"""Where commands go without ``target_nodes`` and which errors usage mistakes raise: the same
bodies run against redis-py 8.1's RedisCluster and clustercore's on one real cluster, with the
same default node, and their observations must be equal.

Each body takes a client and returns what it saw (values, types, error classes as the
``redis.exceptions`` class they are caught by, message prefixes); the documented deliberate
differences (docs/redis-py-compat.md) are not exercised here.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any, Callable, Dict, Iterator, List

import pytest

import clustercore
from clustercore.testing import LocalCluster

redis_cluster = importlib.import_module("redis.cluster")  # dev dependency: fail, never skip
rex = importlib.import_module("redis.exceptions")

#: the redis-py classes an observed error is checked against
CATCHERS = ("CrossSlotTransactionError", "ClusterCrossSlotError", "RedisClusterException",
            "DataError", "ResponseError", "RedisError")


class Caught:
    """The redis-py classes (of CATCHERS) whose ``except`` catches an error. clustercore's
    error matches redis-py's when every clause that catches redis-py's catches it too (it may
    be caught by more: CrossSlotKeysError is also a ClusterCrossSlotError)."""

    def __init__(self, exc: BaseException) -> None:
        self.names = frozenset(n for n in CATCHERS if isinstance(exc, getattr(rex, n)))

    def __repr__(self) -> str:
        return f"Caught({sorted(self.names)})"


def raised(call: Callable[[], Any]) -> Any:
    """``("raised", Caught, message)`` or ``("returned", value)``."""
    try:
        return ("returned", call())
    except Exception as exc:
        return ("raised", Caught(exc), str(exc))


def same(ours: Any, theirs: Any) -> bool:
    """Equal observations, errors compared as :class:`Caught` says."""
    if isinstance(theirs, Caught) or isinstance(ours, Caught):
        return (isinstance(ours, Caught) and isinstance(theirs, Caught)
                and bool(theirs.names) and theirs.names <= ours.names)
    if isinstance(theirs, (list, tuple)):
        return (isinstance(ours, (list, tuple)) and len(ours) == len(theirs)
                and all(same(a, b) for a, b in zip(ours, theirs)))
    return bool(ours == theirs)


@pytest.fixture(scope="module")
def clients(cluster: LocalCluster) -> Iterator[Dict[str, Any]]:
    seed = cluster.startup_nodes[0]
    theirs = redis_cluster.RedisCluster(host=seed["host"], port=seed["port"], socket_timeout=10)
    ours = clustercore.RedisCluster(startup_nodes=cluster.startup_nodes, socket_timeout=10)
    primary = theirs.get_primaries()[0]
    assert theirs.set_default_node(primary)
    assert ours.set_default_node(ours.get_node(primary.host, primary.port))
    yield {"redis-py": theirs, "clustercore": ours}
    theirs.close()
    ours.close()


def both(clients: Dict[str, Any], body: Callable[[Any], List[Any]]) -> List[Any]:
    """Run ``body`` on both clients; assert the observations are equal; return them."""
    seen = {label: body(client) for label, client in clients.items()}
    assert same(seen["clustercore"], seen["redis-py"]), seen
    return seen["clustercore"]


def test_node_commands_answer_from_the_default_node(clients: Dict[str, Any]) -> None:
    def body(r: Any) -> List[Any]:
        node = r.get_default_node()
        info = r.info("server")
        config = r.config_get("maxmemory")
        clients_list = r.client_list()
        memory = r.memory_stats()
        every = r.info(target_nodes=r.ALL_NODES)
        return [info["tcp_port"] == node.port, sorted(config), type(clients_list).__name__,
                all("addr" in c for c in clients_list), "peak.allocated" in memory,
                type(r.lastsave()).__name__, type(r.slowlog_len()).__name__,
                type(r.latency_latest()).__name__, sorted(every) == sorted(
                    n.name for n in r.get_nodes())]

    seen = both(clients, body)
    assert seen[0] is True and seen[-1] is True


def test_acl_changes_land_on_the_default_node(clients: Dict[str, Any]) -> None:
    def body(r: Any) -> List[Any]:
        name = "parity-user"
        others = [n for n in r.get_nodes() if n.name != r.get_default_node().name]
        out = [r.acl_setuser(name, enabled=True, nopass=True)]
        out.append(r.acl_getuser(name) is not None)
        out.append([r.acl_getuser(name, target_nodes=n) is None for n in others])
        out.append(r.acl_deluser(name))
        out.append(r.acl_getuser(name))
        return out

    assert both(clients, body)[0] is True


def test_cluster_shards_shape(clients: Dict[str, Any]) -> None:
    def body(r: Any) -> List[Any]:
        shards = r.cluster_shards()
        return [sorted(sorted(s) for s in shards),
                sorted(tuple(s["slots"]) for s in shards),
                sorted(sorted(n) for s in shards for n in s["nodes"])]

    both(clients, body)


def test_usage_errors_are_redis_cluster_exceptions(clients: Dict[str, Any]) -> None:
    def body(r: Any) -> List[Any]:
        missing = raised(lambda: r.execute_command("GET"))
        cross = raised(lambda: r.eval("return 1", 2, "{a}x", "{b}y"))
        return [missing[:2], missing[2].startswith(
            "No way to dispatch this command to Redis Cluster. Missing key."), cross[:2],
            r.mget_nonatomic([])]

    seen = both(clients, body)
    assert "RedisClusterException" in seen[0][1].names


def test_transaction_slot_errors(clients: Dict[str, Any]) -> None:
    def body(r: Any) -> List[Any]:
        out: List[Any] = []
        with r.pipeline(transaction=True) as tx:
            tx.set("{p1}a", 1)
            tx.set("{p2}b", 2)
            error = raised(tx.execute)
            out += [error[:2], error[2].startswith(
                "All keys involved in a cluster transaction must map to the same slot")]
        with r.pipeline(transaction=True) as tx:
            error = raised(lambda: tx.watch("{p1}a", "{p2}b"))
            out += [error[:2], "WATCH - all keys must map to the same key slot" in error[2]]
        out.append(r.exists("{p1}a", "{p2}b"))  # nothing was sent
        return out

    seen = both(clients, body)
    assert "CrossSlotTransactionError" in seen[0][1].names and seen[-1] == 0


def test_constructor_and_deprecation_parity(clients: Dict[str, Any]) -> None:
    def empty(cls: Any) -> Any:
        error = raised(lambda: cls(startup_nodes=[]))
        return error[:2], error[2].startswith(
            "RedisCluster requires at least one node to discover the cluster")

    ours, theirs = empty(clustercore.RedisCluster), empty(redis_cluster.RedisCluster)
    assert same(ours, theirs) and ours[1] is True, (ours, theirs)

    def body(r: Any) -> List[Any]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = r.hmset("parity:h", {"a": 1})
        r.delete("parity:h")
        return [result, [w.category.__name__ for w in caught]]

    assert both(clients, body)[1] == ["DeprecationWarning"]


def test_stream_checks_and_summary(clients: Dict[str, Any]) -> None:
    def body(r: Any) -> List[Any]:
        r.delete("parity:s")
        r.xgroup_create("parity:s", "g", mkstream=True)
        r.xadd("parity:s", {"f": "v"})
        r.xreadgroup("g", "c", {"parity:s": ">"})
        summary = r.xpending_range("parity:s", "g", None, None, None)
        checks = [raised(lambda: r.xpending_range("parity:s", "g", "-", "+", -1))[:2],
                  raised(lambda: r.xautoclaim("parity:s", "g", "c", min_idle_time=-1))[:2],
                  raised(lambda: r.xautoclaim("parity:s", "g", "c", min_idle_time="x"))[0]]
        r.delete("parity:s")
        return [summary["pending"], summary["consumers"], *checks]

    assert both(clients, body)[0] == 1
