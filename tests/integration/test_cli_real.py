"""The command line against real clusters (LocalCluster): info (text and JSON checked against
what the servers say), check (healthy, wrong password, TLS name, an uncovered slot, a frozen
node), bench (tiny, bounded), the development cluster (up / status / down, every pid gone) and
the live views in a real terminal (tmux: info --watch, bench)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator, List

import pytest
from click.testing import CliRunner, Result

from clustercore.cli.app import cli
from clustercore.cli.devcluster import pid_alive
from clustercore.testing import LocalCluster

from .conftest import ACL_PASSWORD, ACL_USER, AUTH_PASSWORD

NUM_SLOTS = 16384


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def seed(cluster: LocalCluster) -> str:
    node = cluster.running_nodes()[0]
    return f"{node.host}:{node.port}"


def addr(node: object) -> str:
    host, port = node.address  # type: ignore[attr-defined]
    return f"{host}:{port}"


def test_info_text_shows_every_node_as_the_servers_see_it(cluster: LocalCluster) -> None:
    result = run("info", seed(cluster))
    assert result.exit_code == 0, result.output
    out = result.output
    version = cluster.info(cluster.nodes[0], "server")["redis_version"]
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip().startswith("127.0.0.1:")}
    primaries = {addr(n) for n in cluster.primaries()}
    replicas = {addr(n) for n in cluster.replicas()}
    assert set(lines) == primaries | replicas
    for address in primaries:
        assert " primary " in lines[address] and version in lines[address]
        assert " ok " in lines[address]
    for replica in cluster.replicas():
        line = lines[addr(replica)]
        assert " replica " in line and f"of {addr(cluster.primary_of(replica))}" in line
    assert f"slots covered {NUM_SLOTS}/{NUM_SLOTS}" in out
    assert "3 primaries, 3 replicas" in out
    assert "client pool ClusterConnectionPool: topology epoch" in out
    assert "1 refreshes (initialize=1)" in out
    assert f"client connections: {len(cluster.nodes)} open" in out
    assert "OK: every node answered" in out


def test_info_json_matches_the_cluster(cluster: LocalCluster) -> None:
    result = run("info", seed(cluster), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    nodes = {n["address"]: n for n in report["nodes"]}
    assert {n for n, v in nodes.items() if v["role"] == "primary"} == {
        addr(n) for n in cluster.primaries()}
    owners = {e.node_id: e for e in cluster.cluster_nodes(cluster.nodes[0]) if e.is_master}
    for primary in cluster.primaries():
        row = nodes[addr(primary)]
        assert row["node_id"] == primary.node_id
        assert [tuple(r) for r in row["slots"]] == list(owners[primary.node_id].slots)
        assert sorted(row["replicas"]) == sorted(addr(r) for r in cluster.replicas_of(primary))
        assert row["announced"] == addr(primary)
        assert row["health"] == "ok" and row["cluster_state"] == "ok"
        assert row["version"] == cluster.info(primary, "server")["redis_version"]
        assert row["pool"]["open"] >= 1
    assert sum(n["slot_count"] for n in nodes.values()) == NUM_SLOTS
    assert report["covered_slots"] == NUM_SLOTS and report["uncovered"] == []
    assert report["problems"] == []
    assert report["pool"]["open"] == len(nodes)  # one pooled connection per node pinged


def test_info_shows_the_announced_address_beside_the_remapped_one(cluster: LocalCluster) -> None:
    primary = cluster.primaries()[0]
    host, port = primary.address
    result = run("info", seed(cluster), "--json", "--remap", f"{host}:{port}=localhost:{port}")
    assert result.exit_code == 0, result.output
    nodes = {n["address"]: n for n in json.loads(result.output)["nodes"]}
    assert nodes[f"localhost:{port}"]["announced"] == f"{host}:{port}"
    assert nodes[f"localhost:{port}"]["pool"]["open"] >= 1  # the client's pool dials it there
    assert f"{host}:{port}" not in nodes
    text = run("info", seed(cluster), "--remap", f"{host}:{port}=localhost:{port}").output
    assert re.search(rf"localhost:{port}\s+{host}:{port}\s+primary", text), text


def test_check_healthy_cluster_exits_0(cluster: LocalCluster) -> None:
    result = run("check", seed(cluster))
    assert result.exit_code == 0, result.output
    assert result.output.count("ok   ") == len(cluster.nodes)
    assert run("ping", seed(cluster)).exit_code == 0


def test_check_wrong_password_says_so(auth_cluster: LocalCluster) -> None:
    result = run("check", seed(auth_cluster), "--password-env", "CC_PW",
                 env={"CC_PW": "not-" + AUTH_PASSWORD})
    assert result.exit_code == 1
    assert "wrong password (or user name)" in result.output
    assert "not-" + AUTH_PASSWORD not in result.output
    missing = run("check", seed(auth_cluster))
    assert missing.exit_code == 1 and "requires a password" in missing.output
    good = run("check", seed(auth_cluster), "--password-env", "CC_PW",
               env={"CC_PW": AUTH_PASSWORD})
    assert good.exit_code == 0, good.output
    acl = run("check", seed(auth_cluster), "--user", ACL_USER, "--password-env", "CC_PW",
              env={"CC_PW": ACL_PASSWORD})
    assert acl.exit_code == 0, acl.output
    info = run("info", seed(auth_cluster), "--password-env", "CC_PW", env={"CC_PW": "nope"})
    assert info.exit_code == 3 and "wrong password" in info.output


def test_check_tls(tls_cluster: LocalCluster) -> None:
    ca = str(tls_cluster.ca_cert_path)
    good = run("check", f"rediss://{seed(tls_cluster)}", "--ca", ca)
    assert good.exit_code == 0, good.output
    other_name = run("check", seed(tls_cluster), "--ca", ca, "--tls-server-name", "wrong.example")
    assert other_name.exit_code == 1
    assert "certificate is for another name" in other_name.output
    skipped = run("check", seed(tls_cluster), "--ca", ca, "--tls-server-name", "wrong.example",
                  "--insecure-hostname")
    assert skipped.exit_code == 0, skipped.output
    untrusted = run("check", seed(tls_cluster), "--tls")
    assert untrusted.exit_code == 1 and "not trusted" in untrusted.output
    plain = run("check", seed(tls_cluster), "--timeout", "1")
    assert plain.exit_code == 1 and "try --tls" in plain.output


def test_check_reports_a_slot_not_covered(make_cluster: Callable[..., LocalCluster]) -> None:
    local = make_cluster(1, 0)
    local.cli(local.nodes[0], "CLUSTER", "DELSLOTS", "100")
    result = run("check", seed(local))
    assert result.exit_code == 1
    assert "1 of 16384 slots are not covered by any primary: 100" in result.output
    assert "cluster_state:fail" in result.output
    info = run("info", seed(local), "--json")
    assert info.exit_code == 0
    assert json.loads(info.output)["uncovered"] == [[100, 100]]


def test_check_reports_a_frozen_node(cluster: LocalCluster) -> None:
    frozen = cluster.replicas()[0]
    cluster.pause(frozen)
    try:
        result = run("check", seed(cluster), "--timeout", "0.5")
    finally:
        cluster.resume(frozen)
    assert result.exit_code == 1
    assert (f"replica {addr(frozen)}: accepts connections but did not answer within 0.5s"
            in result.output)


def test_check_after_a_failover_reports_the_dead_primary(
        make_cluster: Callable[..., LocalCluster]) -> None:
    local = make_cluster(3, 1, node_timeout_ms=1000)
    victim = local.primaries()[0]
    local.kill(victim)
    promoted = local.wait_failover_after_kill(victim)
    result = run("check", seed(local))
    assert result.exit_code == 1
    assert f"{addr(victim)}: connection refused: nothing listens on that address" in result.output
    assert f"slots covered {NUM_SLOTS}/{NUM_SLOTS}" in result.output
    info = json.loads(run("info", seed(local), "--json").output)
    rows = {n["address"]: n for n in info["nodes"]}
    assert rows[addr(promoted)]["role"] == "primary" and rows[addr(promoted)]["slot_count"] > 0
    assert rows[addr(victim)]["health"] == "unreachable"


def test_bench_tiny(cluster: LocalCluster) -> None:
    prefix = f"clitest:{uuid.uuid4().hex[:8]}:"
    result = CliRunner().invoke(cli, ["bench", seed(cluster), "--requests", "64", "--duration",
                                      "5", "--keys", "20", "--prefix", prefix, "--json",
                                      "--compare", "redis-py"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["client"], r["op"]) for r in rows] == [
        (c, op) for c in ("clustercore", "redis-py") for op in ("get", "set", "pipeline", "mget")]
    for r in rows:
        assert r["calls"] == 64 and r["errors"] == 0
        assert r["commands"] == (640 if r["op"] == "pipeline" else 64)
        assert 0 < r["p50_ms"] <= r["p99_ms"] and r["ops_per_sec"] > 0
    leftovers = [k for n in cluster.primaries()
                 for k in cluster.cli(n, "--scan", "--pattern", prefix + "*").split()]
    assert leftovers == []


def test_cluster_up_status_down(tmp_path: Path) -> None:
    directory = tmp_path / "dev"
    up = run("cluster", "up", "--dir", str(directory), "--masters", "2", "--replicas", "1")
    try:
        assert up.exit_code == 0, up.output
        state = json.loads((directory / "state.json").read_text())
        pids = [int(n["pid"]) for n in state["nodes"]]
        assert len(pids) == 4 and all(pid_alive(p, "redis-server") for p in pids)
        assert pid_alive(int(state["supervisor_pid"]), "clustercore.cli.devcluster")
        again = run("cluster", "up", "--dir", str(directory))
        assert again.exit_code == 1 and "already running" in again.output
        status = run("cluster", "status", "--dir", str(directory))
        assert status.exit_code == 0, status.output
        assert status.output.count("cluster_state:ok") == 4
        first = state["nodes"][0]
        info = run("info", f"{first['host']}:{first['port']}", "--json")
        assert {n["address"] for n in json.loads(info.output)["nodes"]} == {
            f"{n['host']}:{n['port']}" for n in state["nodes"]}
    finally:
        down = run("cluster", "down", "--dir", str(directory))
    assert down.exit_code == 0, down.output
    assert not any(pid_alive(p) for p in pids)
    assert not pid_alive(int(state["supervisor_pid"]))
    assert not (directory / "state.json").exists()
    assert not Path(state["dir"]).exists()
    after = run("cluster", "status", "--dir", str(directory))
    assert after.exit_code == 1 and "no development cluster recorded" in after.output


def test_cluster_down_after_the_supervisor_died(tmp_path: Path) -> None:
    directory = tmp_path / "dev"
    up = run("cluster", "up", "--dir", str(directory), "--masters", "1", "--replicas", "1")
    assert up.exit_code == 0, up.output
    state = json.loads((directory / "state.json").read_text())
    pids = [int(n["pid"]) for n in state["nodes"]]
    try:
        os.kill(int(state["supervisor_pid"]), signal.SIGKILL)  # a crash: no cleanup ran
        status = run("cluster", "status", "--dir", str(directory))
        assert status.exit_code == 1 and "the supervisor is gone" in status.output
    finally:
        down = run("cluster", "down", "--dir", str(directory))
    assert down.exit_code == 0, down.output
    assert not any(pid_alive(p) for p in pids)


def test_demo_bounded() -> None:
    result = run("demo", "--seconds", "10", "--threads", "2")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "SIGKILL primary 127.0.0.1:" in out
    assert "now routed to 127.0.0.1:" in out  # the client followed the failover
    assert re.search(r"stale or wrong reads\s+\S\s+0\s", out), out
    assert "cluster stopped" in out


# ---- live views in a real terminal -----------------------------------------------------------

TMUX = shutil.which("tmux")


@pytest.fixture
def tmux_session() -> Iterator[Callable[[str], Callable[[], str]]]:
    """Start a command in a detached tmux session; returns a function reading the pane."""
    if TMUX is None:
        if os.environ.get("CI"):
            pytest.fail("tmux is missing (scripts/_setup.sh installs it)")
        pytest.skip("tmux is not installed")
    names: List[str] = []

    def start(command: str) -> Callable[[], str]:
        name = f"clustercore-test-{uuid.uuid4().hex[:8]}"
        names.append(name)
        subprocess.run([TMUX, "new-session", "-d", "-s", name, "-x", "200", "-y", "50",
                        f"{command}; echo EXIT=$?; sleep 30"], check=True, timeout=10,
                       env={**os.environ, "TERM": "xterm-256color"})
        return lambda: subprocess.run([TMUX, "capture-pane", "-p", "-t", name],
                                      capture_output=True, text=True, timeout=10).stdout

    start.names = names  # type: ignore[attr-defined]
    yield start
    for name in names:
        subprocess.run([TMUX, "kill-session", "-t", name], capture_output=True, timeout=10)


def wait_for(read: Callable[[], str], *needles: str, timeout: float = 60.0) -> str:
    """Poll the pane until it shows every needle (or fail with what it showed)."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = read()
        if all(n in screen for n in needles):
            return screen
        time.sleep(0.2)  # polling the terminal's content, bounded by the deadline
    raise AssertionError(f"pane never showed {needles}:\n{screen}")


def _cli_command(*args: str) -> str:
    return " ".join(shlex.quote(a) for a in [sys.executable, "-m", "clustercore", *args])


def test_info_watch_in_a_terminal(cluster: LocalCluster, tmux_session) -> None:  # type: ignore[no-untyped-def]
    read = tmux_session(_cli_command("info", seed(cluster), "--watch", "0.5", "--count", "40"))
    screen = wait_for(read, "refresh #3", "slots covered 16384/16384")
    for node in cluster.nodes:
        assert addr(node) in screen
    # Refreshed in place: one header on screen, not one per refresh.
    assert screen.count("clustercore info --watch") == 1
    later = wait_for(read, "refresh #5")
    assert later.count("clustercore info --watch") == 1
    # Ctrl-C is how a watch ends: exit 0, no error line, the last view left on screen.
    subprocess.run([TMUX, "send-keys", "-t", tmux_session.names[-1], "C-c"], check=True,
                   timeout=10)
    ended = wait_for(read, "EXIT=")
    assert "EXIT=0" in ended and "error" not in ended
    assert "slots covered 16384/16384" in ended


def test_bench_in_a_terminal(cluster: LocalCluster, tmux_session) -> None:  # type: ignore[no-untyped-def]
    read = tmux_session(_cli_command("bench", seed(cluster), "--requests", "300",
                                     "--duration", "10", "--keys", "20", "--prefix",
                                     f"clitest:{uuid.uuid4().hex[:8]}:"))
    screen = wait_for(read, "clustercore bench", "ops/s", "p99 ms", "EXIT=0")
    for op in ("get", "set", "pipeline", "mget"):
        assert f"clustercore {op}" in screen
    assert "300/300" in screen  # the progress bars, finished
