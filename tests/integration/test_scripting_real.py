"""Scripting on a real cluster: EVAL/EVALSHA routed by KEYS, SCRIPT LOAD/EXISTS/FLUSH on every
node, Script objects that survive SCRIPT FLUSH (NOSCRIPT fallback) alone, in pipelines and in
transactions, and FUNCTION LOAD + FCALL / FCALL_RO."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from clustercore import ClusterPipeline, RedisCluster
from clustercore._commands.scripting import Script as ApiScript
from clustercore._execution.script import Script
from clustercore.errors import ClusterCrossSlotError, NoScriptError
from clustercore.testing import LocalCluster

INCR_BY = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
LIBRARY = """#!lua name=cctest
redis.register_function('cc_set', function(keys, args)
  return redis.call('SET', keys[1], args[1])
end)
redis.register_function{function_name='cc_get', callback=function(keys, args)
  return redis.call('GET', keys[1])
end, flags={'no-writes'}}
"""


@pytest.fixture
def rc(cluster: LocalCluster) -> Iterator[RedisCluster]:
    client = RedisCluster(startup_nodes=cluster.startup_nodes, socket_timeout=10)
    yield client
    client.close()


def _node_of(rc: RedisCluster, key: str) -> Any:
    from clustercore import key_slot
    return rc.connection_pool.address_for_slot(key_slot(key))


def test_eval_is_routed_by_its_keys(rc: RedisCluster) -> None:
    for i in range(10):
        key = f"ev:{i}"
        assert rc.eval("redis.call('SET', KEYS[1], ARGV[1]) return KEYS[1]", 1, key, i) == (
            key.encode())
        assert rc.get(key) == str(i).encode()
    assert rc.eval("return 42", 0) == 42  # no keys: any primary
    with pytest.raises(ClusterCrossSlotError):
        rc.eval("return 1", 2, "{a}x", "{b}y")


def test_script_load_exists_flush_go_to_every_node(rc: RedisCluster) -> None:
    sha = rc.script_load(INCR_BY)
    assert rc.script_exists(sha) == [True]
    for node in rc.connection_pool.topology.nodes:
        assert rc._execute_on_node(node, "SCRIPT", "EXISTS", sha) == [1]
    assert rc.evalsha(sha, 1, "ev:sha", 5) == 5
    assert rc.script_flush() is True
    assert rc.script_exists(sha) == [False]
    with pytest.raises(NoScriptError):
        rc.evalsha(sha, 1, "ev:sha", 5)


def test_script_objects_survive_script_flush(rc: RedisCluster) -> None:
    rc.delete("sc:a", "sc:b")
    script = Script(rc, INCR_BY)
    assert script(keys=["sc:a"], args=[2]) == 2
    rc.script_flush()
    assert script(keys=["sc:a"], args=[3]) == 5  # NOSCRIPT: loaded on that node, run again
    node = _node_of(rc, "sc:a")
    assert rc._execute_on_node(node, "SCRIPT", "EXISTS", script.sha) == [1]
    rc.script_flush()
    plain = ApiScript(rc, INCR_BY)  # the api helper loads everywhere instead
    assert plain(keys=["sc:b"], args=[1]) == 1


def test_scripts_in_pipelines_and_transactions_after_flush(rc: RedisCluster) -> None:
    keys = [f"sp:{i}" for i in range(12)]
    rc.delete(*keys)
    rc.script_flush()
    pipe = ClusterPipeline(rc)
    script = pipe.register_script(INCR_BY)
    for key in keys:
        script(keys=[key], args=[7])
    pipe.get(keys[0])
    assert pipe.execute() == [7] * 12 + [b"7"]
    rc.script_flush()
    txn = ClusterPipeline(rc, transaction=True)
    tscript = txn.register_script(INCR_BY)
    tscript(keys=["{tx}s"], args=[1])
    tscript(keys=["{tx}s"], args=[1])
    txn.get("{tx}s")
    rc.delete("{tx}s")
    assert txn.execute() == [1, 2, b"2"]


def test_fcall_after_function_load(rc: RedisCluster) -> None:
    assert rc.function_load(LIBRARY, replace=True) in (b"cctest", "cctest")
    for i in range(6):
        key = f"fn:{i}"
        assert rc.fcall("cc_set", 1, key, f"v{i}") in (b"OK", "OK")
        assert rc.fcall_ro("cc_get", 1, key) == f"v{i}".encode()
    pipe = ClusterPipeline(rc)
    pipe.fcall("cc_set", 1, "fn:p", "x").fcall_ro("cc_get", 1, "fn:p")
    assert pipe.execute()[1] == b"x"
    assert rc.function_delete("cctest") is True


def test_noscript_loads_everywhere_or_falls_back_to_the_node(
        make_cluster: Callable[..., LocalCluster]) -> None:
    """On NOSCRIPT a Script is loaded on every node (as redis-py's is: script_exists is then
    True); when that fan-out fails (a replica is down) it is loaded where it was missing."""
    cluster = make_cluster(masters=2, replicas_per_master=1)
    rc = RedisCluster(startup_nodes=cluster.startup_nodes, socket_timeout=2,
                      socket_connect_timeout=1)
    try:
        script = rc.register_script(INCR_BY)
        assert script.registered_client is rc
        assert script(keys=["nos:a"], args=[2]) == 2
        assert rc.script_exists(script.sha) == [True]  # every node, replicas included
        rc.script_flush()
        owner = _node_of(rc, "nos:a")  # a primary: killing a replica leaves it serving
        cluster.kill(cluster.replicas()[0])
        assert script(keys=["nos:a"], args=[3]) == 5  # the fan-out failed; the owner has it
        assert rc._execute_on_node(owner, "SCRIPT", "EXISTS", script.sha) == [1]
    finally:
        rc.close()
