"""Tests of the LocalCluster harness itself, against real redis-server processes."""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from clustercore.testing import LocalCluster, LocalNode, RedisServerNotFound
from clustercore.testing.local.cluster import NUM_SLOTS, LocalClusterError

from .conftest import ACL_PASSWORD, ACL_USER, AUTH_PASSWORD, IN_CI

MakeCluster = Callable[..., LocalCluster]


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# ---- shared clusters ----------------------------------------------------------------------


def test_every_node_reports_ok_and_all_slots(cluster: LocalCluster) -> None:
    assert len(cluster.nodes) == 6
    for node in cluster.nodes:
        info = cluster.cluster_info(node)
        assert info["cluster_state"] == "ok", (node, info)
        assert info["cluster_slots_assigned"] == str(NUM_SLOTS)
        assert info["cluster_slots_ok"] == str(NUM_SLOTS)
        assert info["cluster_known_nodes"] == "6"
        assert info["cluster_size"] == "3"


def test_roles_and_replication(cluster: LocalCluster) -> None:
    primaries, replicas = cluster.primaries(), cluster.replicas()
    assert len(primaries) == 3 and len(replicas) == 3
    assert set(primaries) | set(replicas) == set(cluster.nodes)
    for p in primaries:
        (r,) = cluster.replicas_of(p)
        assert cluster.primary_of(r) is p
        repl = cluster.info(r, "replication")
        assert repl["role"] == "slave"
        assert repl["master_port"] == str(p.port)
        assert repl["master_link_status"] == "up"
        assert cluster.info(p, "replication")["connected_slaves"] == "1"
    owners = [cluster.slot_owner(s) for s in (0, 5000, 10000, NUM_SLOTS - 1)]
    assert owners[0] is not owners[-1]
    assert all(o in primaries for o in owners)


def test_node_addresses_and_bus_ports(cluster: LocalCluster) -> None:
    assert cluster.startup_nodes == [{"host": "127.0.0.1", "port": n.port} for n in cluster.nodes]
    ports = [n.port for n in cluster.nodes] + [n.bus_port for n in cluster.nodes]
    assert len(set(ports)) == len(ports)
    seen = {e.node_id: e for e in cluster.cluster_nodes(cluster.nodes[0])}
    for n in cluster.nodes:
        assert n.is_running() and n.pid is not None
        assert n.address == ("127.0.0.1", n.port)
        assert (seen[n.node_id].port, seen[n.node_id].bus_port) == (n.port, n.bus_port)
        assert "Ready to accept connections" in n.log_path.read_text()


def test_data_round_trip_through_owner(cluster: LocalCluster) -> None:
    owner = cluster.slot_owner(cluster.key_slot("harness:key"))
    assert cluster.cli(owner, "SET", "harness:key", "v1") == "OK"
    assert cluster.cli(owner, "GET", "harness:key") == "v1"
    other = next(n for n in cluster.primaries() if n is not owner)
    res = cluster.run_cli(other, "GET", "harness:key")
    assert res.returncode != 0 and "MOVED" in res.stdout + res.stderr


def test_tls_cluster_answers_over_tls_only(tls_cluster: LocalCluster) -> None:
    c = tls_cluster
    assert (
        c.ca_cert_path is not None and c.client_cert_path is not None and c.client_key_path is not None
    )
    node = c.nodes[0]
    assert c.cli(node, "PING") == "PONG"
    assert c.cluster_info(node)["cluster_state"] == "ok"
    assert len(c.primaries()) == 3 and len(c.replicas()) == 3
    # A plain-TCP client is refused.
    plain = c.run_cli(node, "PING", tls=False)
    assert plain.returncode != 0 and "PONG" not in plain.stdout
    # The stdlib TLS stack verifies the server certificate for 127.0.0.1 with the generated CA.
    ctx = ssl.create_default_context(cafile=str(c.ca_cert_path))
    raw = socket.create_connection(node.address, timeout=5)
    with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls_sock:
        tls_sock.sendall(b"PING\r\n")
        assert tls_sock.recv(64) == b"+PONG\r\n"
    # ... and a CA that did not sign it is rejected.
    with socket.create_connection(node.address, timeout=5) as raw, pytest.raises(ssl.SSLError):
        ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1")


def test_auth_cluster_requires_credentials(auth_cluster: LocalCluster) -> None:
    c = auth_cluster
    assert len(c.nodes) == 2 and len(c.replicas()) == 1
    node = c.primaries()[0]
    refused = c.run_cli(node, "PING", no_auth=True)
    assert refused.returncode != 0 and "NOAUTH" in refused.stdout + refused.stderr
    wrong = c.run_cli(node, "PING", password="wrong")
    assert wrong.returncode != 0
    ok = c.run_cli(node, "PING", password=AUTH_PASSWORD)
    assert (ok.returncode, ok.stdout.strip()) == (0, "PONG")
    alice = c.run_cli(node, "ACL", "WHOAMI", username=ACL_USER, password=ACL_PASSWORD)
    assert (alice.returncode, alice.stdout.strip()) == (0, ACL_USER)
    assert c.cli(node, "ACL", "WHOAMI") == "default"


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 support in this Python")
def test_ipv6_loopback_cluster(make_cluster: MakeCluster) -> None:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError as exc:
        if IN_CI:
            pytest.fail(f"IPv6 loopback unavailable in CI: {exc}")
        pytest.skip(f"IPv6 loopback unavailable: {exc}")
    c = make_cluster(2, 0, host="::1")
    assert {e.host for e in c.cluster_nodes(c.nodes[0])} == {"::1"}
    owner = c.slot_owner(c.key_slot("k6"))
    assert c.cli(owner, "SET", "k6", "v") == "OK"


# ---- destructive: throw-away clusters ---------------------------------------------------------


def test_kill_failover_restart_and_manual_failover(make_cluster: MakeCluster) -> None:
    c = make_cluster(3, 1, node_timeout_ms=1000)
    primary = c.slot_owner(c.key_slot("fo-key"))
    (replica,) = c.replicas_of(primary)
    assert c.cli(primary, "SET", "fo-key", "before") == "OK"
    assert c.cli(primary, "WAIT", "1", "2000") == "1"

    old_pid = primary.pid
    assert old_pid is not None
    c.kill(primary)
    assert not primary.is_running() and primary.pid is None and not _pid_alive(old_pid)
    assert c.health_problem() is not None
    with pytest.raises(LocalClusterError, match="not healthy"):
        c.wait_healthy(timeout=0.2)

    promoted = c.wait_failover_after_kill(primary, timeout=30)
    assert promoted is replica
    assert c.slot_owner(c.key_slot("fo-key")) is replica
    assert c.cli(replica, "GET", "fo-key") == "before"

    c.restart(primary)
    assert primary.is_running() and primary.pid not in (None, old_pid)
    _wait_for(lambda: primary in c.replicas(), 30, "restarted node to become a replica")
    c.wait_healthy(timeout=30)
    assert c.primary_of(primary) is replica

    # Fail back with a manual (coordinated) failover.
    c.failover(primary, timeout=30)
    assert primary in c.primaries() and c.primary_of(replica) is primary
    assert c.cli(primary, "GET", "fo-key") == "before"


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"password": "pw"}, id="tcp-password"),
        pytest.param({"tls": True, "acl_users": {"bob": "builder"}}, id="tls-acl"),
    ],
)
def test_migrate_slots_moves_keys(make_cluster: MakeCluster, options: dict[str, object]) -> None:
    c = make_cluster(2, 0, **options)
    slot = c.key_slot("{mig}")
    source = c.slot_owner(slot)
    target = next(n for n in c.primaries() if n is not source)
    pairs = [x for i in range(230) for x in (f"{{mig}}:{i}", "v")]
    assert c.cli(source, "MSET", *pairs) == "OK"
    # Awkward keys: newline, a non-UTF-8 byte (passed as a surrogate escape) and a NUL byte.
    assert c.cli(source, "SET", "{mig}\nnewline", "v") == "OK"
    assert c.cli(source, "SET", "{mig}\udcffbyte", "v") == "OK"
    nul = c.run_cli(source, "--quoted-input", '"SET"', '"{mig}\\x00nul"', '"v"')
    assert nul.returncode == 0, nul.stderr

    def count(node: LocalNode) -> int:
        return int(c.cli(node, "CLUSTER", "COUNTKEYSINSLOT", str(slot)))

    assert (count(source), count(target)) == (233, 0)
    progress: list[tuple[int, int]] = []
    asked: list[str] = []

    def between() -> None:
        progress.append((count(source), count(target)))
        moved = c.cli(target, "CLUSTER", "GETKEYSINSLOT", str(slot), "1").splitlines()
        res = c.run_cli(source, "GET", moved[0])
        asked.append((res.stdout + res.stderr).strip())

    c.migrate_slots([slot], source, target, keys_batch=100, between_keys=between)

    assert (count(source), count(target)) == (0, 233)
    assert progress == [(133, 100), (33, 200), (0, 233)]
    assert all(a.startswith(f"ASK {slot} ") for a in asked), asked
    for n in c.nodes:
        owner = next(e for e in c.cluster_nodes(n) if any(a <= slot <= b for a, b in e.slots))
        assert owner.node_id == target.node_id
    assert c.slot_owner(slot) is target
    assert c.cli(target, "GET", "{mig}\udcffbyte") == "v"
    assert c.cli(target, "GET", "{mig}:7") == "v"
    c.wait_healthy(timeout=10)


def test_add_node_joins_as_primary_and_replica(make_cluster: MakeCluster) -> None:
    c = make_cluster(1, 0)
    first = c.nodes[0]
    new_primary = c.add_node()
    new_replica = c.add_node(replica_of=first)
    assert len(c.nodes) == 3
    for n in c.nodes:
        assert c.cluster_info(n)["cluster_known_nodes"] == "3"
    assert set(c.primaries()) == {first, new_primary}
    assert c.primary_of(new_replica) is first
    # pause/resume: a SIGSTOPped node stops answering without dying.
    c.pause(new_replica)
    with pytest.raises(LocalClusterError, match="timed out"):
        c.cli(new_replica, "PING", timeout=0.3)
    assert new_replica.is_running()
    c.resume(new_replica)
    assert c.cli(new_replica, "PING") == "PONG"
    # The new, empty primary can take slots.
    c.migrate_slots([0, 1], first, new_primary)
    assert c.slot_owner(0) is new_primary and c.slot_owner(2) is first
    c.wait_healthy(timeout=10)


# ---- lifecycle ---------------------------------------------------------------------------------


def test_stop_leaves_no_process_and_no_directory() -> None:
    with LocalCluster(1, 1) as c:
        pids = [n.pid for n in c.nodes]
        directory = c.dir
        assert directory is not None and directory.is_dir()
        assert all(p is not None and _pid_alive(p) for p in pids)
    assert all(p is not None and not _pid_alive(p) for p in pids)
    assert all(n.pid is None and not n.is_running() for n in c.nodes)
    assert not directory.exists()
    c.stop()  # idempotent


def test_failed_start_reports_log_tail_and_cleans_up(tmp_path: Path) -> None:
    c = LocalCluster(1, 1, base_dir=str(tmp_path), extra_config={"no-such-directive": "1"})
    with pytest.raises(LocalClusterError) as info:
        c.start()
    message = str(info.value)
    assert "no-such-directive" in message and "Bad directive" in message
    assert c.nodes and all(n.pid is None and not n.is_running() for n in c.nodes)
    assert list(tmp_path.iterdir()), "base_dir content is kept for inspection"


def test_missing_binaries_have_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    assert not LocalCluster.available()
    with pytest.raises(RedisServerNotFound) as info:
        LocalCluster.check_available()
    assert str(info.value) == (
        "redis-server not found on PATH; install it with: apt-get install -y redis-server"
    )
    with pytest.raises(RedisServerNotFound, match="redis-server not found at '/nonexistent/rs'"):
        LocalCluster(redis_server="/nonexistent/rs").start()


# ---- no secret on a command line (issue 14 item 7) ------------------------------------------


def _cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def _child_redis_cli() -> int | None:
    """The pid of a redis-cli child of this process, if one is running."""
    me = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "<pid> (<comm>) <state> <ppid> ...": comm may hold spaces, so split after ")"
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = stat[stat.rindex(")") + 2:].split()[1]
        if ppid == me and comm == "redis-cli":
            return int(entry.name)
    return None


def test_no_password_in_any_process_cmdline(auth_cluster: LocalCluster) -> None:
    c = auth_cluster
    secrets = (AUTH_PASSWORD.encode(), ACL_PASSWORD.encode())
    for node in c.nodes:
        assert node.pid is not None
        cmdline = _cmdline(node.pid)
        assert b"redis-server" in cmdline
        assert not any(s in cmdline for s in secrets), cmdline
        assert os.stat(node.config_path).st_mode & 0o777 == 0o600
    # A redis-cli call, caught while it blocks in BLPOP (the pushed value releases it).
    node = c.primaries()[0]
    key = "{cmdline}:q"
    results: list[str] = []

    def blocked() -> None:
        results.append(c.cli(node, "BLPOP", key, "20", timeout=25))

    thread = threading.Thread(target=blocked)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        pid = None
        while pid is None and time.monotonic() < deadline:
            pid = _child_redis_cli()
        assert pid is not None, "redis-cli did not start"
        cmdline = _cmdline(pid)
        assert b"BLPOP" in cmdline
        assert not any(s in cmdline for s in secrets), cmdline
        assert b"--pass" not in cmdline and b"-a\x00" not in cmdline
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\x00")
        assert b"REDISCLI_AUTH=" + AUTH_PASSWORD.encode() in env  # how it authenticated
    finally:
        c.cli(node, "LPUSH", key, "go")  # releases BLPOP (or is popped at once if it was late)
        thread.join(timeout=25)
    assert not thread.is_alive()
    assert results and "go" in results[0]
