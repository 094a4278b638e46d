"""The multiplexed mode on real Redis Clusters (LocalCluster): 64 threads on one connection
per node, and a primary SIGKILLed under multiplexed load with every acknowledged write found
afterwards (docs/multiplexed.md)."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, List

from clustercore import MultiplexedClusterConnectionPool, RedisCluster, key_slot
from clustercore.testing import LocalCluster

from .test_client_real import Workload, assert_clean, client, clients  # noqa: F401 (fixture)

THREADS = 64
PER_THREAD = 60
BOUND_S = 60.0


def test_64_threads_share_one_connection_per_node(cluster: LocalCluster,
                                                  clients: List[RedisCluster],  # noqa: F811
                                                  ) -> None:
    """64 threads SET then GET their own keys through one multiplexed client: every read is
    the thread's own write, and the only connections the pool made are the shared ones (one
    per primary), whatever the interleaving. Bounded in operations and time."""
    rc = client(clients, startup_nodes=cluster.startup_nodes, multiplexed=True,
                socket_timeout=5)
    assert isinstance(rc.connection_pool, MultiplexedClusterConnectionPool)
    for i in range(50):  # open the three shared connections first
        rc.get(f"mux64:warm:{i}")
    assert rc.connection_pool.created_connections == 3
    bad: List[str] = []
    errors: List[BaseException] = []
    start = threading.Barrier(THREADS)
    stop_at = time.monotonic() + BOUND_S

    def work(t: int) -> None:
        try:
            start.wait(10)
            for n in range(PER_THREAD):
                if time.monotonic() > stop_at:
                    return
                key, value = f"mux64:{t}:{n % 7}", f"{t}:{n}".encode()
                if rc.set(key, value) is not True:
                    bad.append(f"SET {key} did not answer True")
                got = rc.get(key)
                if got != value:
                    bad.append(f"GET {key} = {got!r}, wrote {value!r}")
        except BaseException as exc:  # handed to the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,), daemon=True) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(BOUND_S + 30)
        assert not th.is_alive(), "a worker hung"
    assert not errors, errors[:3]
    assert not bad, bad[:5]
    pool = rc.connection_pool
    assert pool.created_connections == 3  # no pooled connection was needed for the load
    shared = [pool.shared_connection(a) for a in pool.topology.primaries]
    assert all(m is not None and not m.broken for m in shared)
    writes = sum(m.writes for m in shared if m is not None)
    commands = sum(m.commands for m in shared if m is not None)
    assert commands >= THREADS * PER_THREAD * 2
    print(f"\n[mux 64t] {commands} commands in {writes} writes "
          f"({commands / max(writes, 1):.2f} per write)")


def test_sigkill_primary_under_multiplexed_load(make_cluster: Callable[..., LocalCluster],
                                                clients: List[RedisCluster],  # noqa: F811
                                                record_property: Callable[[str, Any], None],
                                                ) -> None:
    """SIGKILL of a primary while 8 threads SET/GET/INCR their own keys over shared
    connections: no read returns anything but the last acknowledged write; no SET/GET error
    reaches a caller; INCR succeeds or raises OutcomeUnknownError, never applied twice; and
    afterwards every key holds its last acknowledged value (acknowledged writes survived)."""
    lc = make_cluster(masters=3, replicas_per_master=1, node_timeout_ms=1000)
    rc = client(clients, startup_nodes=lc.startup_nodes, multiplexed=True, retry_deadline=6.0,
                socket_timeout=1, socket_connect_timeout=0.5)
    keys = [[f"muxkill:{t}:{j}" for j in range(12)] for t in range(8)]
    victim = lc.slot_owner(key_slot(keys[0][0]))
    wl = Workload(rc, keys, incr=True, tag="muxkill", max_seconds=60.0).start()
    try:
        assert wl.progressed(50, 20), "workload did not start"
        t_kill = time.monotonic()
        lc.kill(victim)
        lc.wait_failover_after_kill(victim, timeout=30)
        failover_s = time.monotonic() - t_kill
        assert wl.progressed(50, 20), "workload did not resume after the failover"
    finally:
        wl.stop()
    stall, _ = wl.max_latency
    print(f"\n[mux sigkill] failover {failover_s:.2f}s; {wl.report()}")
    record_property("mux_sigkill_max_stall_s", round(stall, 3))
    assert_clean(wl)
    assert not wl.check_counters()
    lost: Dict[str, Any] = {}
    for t, ks in enumerate(keys):
        for k in ks:
            got = rc.get(k)
            if got not in wl.allowed[t][k]:
                lost[k] = (got, sorted(map(repr, wl.allowed[t][k])))
    assert not lost, f"acknowledged writes missing after the failover: {list(lost.items())[:5]}"
