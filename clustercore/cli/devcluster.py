"""``clustercore cluster up|down|status``: a development cluster on loopback that outlives the
command.

``up`` starts a small supervisor process in its own session (``python -m
clustercore.cli.devcluster serve DIR ...``) which runs a :class:`clustercore.testing.LocalCluster`
and writes ``DIR/state.json`` (its own pid, each redis-server's pid, port and config file, the
cluster's directory) once the cluster is healthy; ``up`` waits for that file, bounded, and
returns. ``down`` asks the supervisor to stop the cluster (SIGTERM: LocalCluster stops its
servers), then makes sure every recorded pid is gone, killing only a pid whose command line
still names redis-server and that node's port (a recycled pid is never touched), and removes the
state. ``status`` reports the recorded processes and what each node answers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import click
from rich.table import Table

from clustercore.testing import LocalCluster, RedisServerNotFound

from .connect import ConnectOptions
from .errors import CliError, Exit
from .output import console
from .survey import probe_node

__all__ = ["cluster", "pid_alive", "read_state", "serve"]

STATE = "state.json"
FAILED = "failed.txt"
LOG = "supervisor.log"
INSTALL = ("redis-server is not installed (redis-cli comes with it): "
           "apt install redis-server (Debian/Ubuntu), dnf install redis (Fedora), "
           "brew install redis (macOS)")
_POLL = 0.05


def pid_alive(pid: int, *needles: str) -> bool:
    """Whether ``pid`` runs (a zombie does not count) and its command line contains every one
    of ``needles`` (so a pid recycled by another program is not mistaken for ours)."""
    proc = Path(f"/proc/{pid}")
    if proc.exists():
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            return False
        if stat.rpartition(")")[2].split()[0] in ("Z", "X"):
            return False
        return all(needle in cmdline for needle in needles)
    try:  # no /proc: existence only, and only when nothing had to be matched
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return not needles
    return not needles


def _node_needles(node: Dict[str, Any]) -> Tuple[str, str]:
    """What a recorded node's command line shows: redis-server sets its process title to
    ``redis-server HOST:PORT [cluster]``."""
    return ("redis-server", f":{node['port']}")


def read_state(directory: Path) -> Optional[Dict[str, Any]]:
    """The recorded state of the cluster under ``directory``, or None."""
    try:
        data: Dict[str, Any] = json.loads((directory / STATE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {directory / STATE}: {exc}", Exit.PROBLEMS) from None
    return data


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def serve(directory: Path, masters: int, replicas: int, timeout: float) -> int:
    """The supervisor: start the cluster, record it, wait for SIGTERM, stop it."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    nodes_dir = directory / "nodes"
    try:
        local = LocalCluster(masters, replicas, base_dir=str(nodes_dir), startup_timeout=timeout)
        local.start()
    except Exception as exc:  # reported to `up`, which is waiting for one of the two files
        _write_atomic(directory / FAILED, f"{type(exc).__name__}: {exc}\n")
        return 1
    try:
        roles = {n.node_id: "primary" for n in local.primaries()}
        state = {
            "supervisor_pid": os.getpid(), "dir": str(local.dir), "started_at": time.time(),
            "startup_seconds": local.startup_seconds,
            "nodes": [{"host": n.host, "port": n.port, "bus_port": n.bus_port, "pid": n.pid,
                       "node_id": n.node_id, "role": roles.get(n.node_id, "replica"),
                       "config": str(n.config_path)} for n in local.nodes],
        }
        _write_atomic(directory / STATE, json.dumps(state, indent=2))
        while not stop.wait(1.0):
            if not local.running_nodes():
                break  # every server is gone (killed from outside): nothing left to supervise
    finally:
        local.stop()
        (directory / STATE).unlink(missing_ok=True)
    return 0


def _nodes_table(state: Dict[str, Any], answers: Optional[Dict[int, str]] = None) -> Table:
    table = Table()
    for column in ("node", "role", "pid", "process", *(["answers"] if answers else [])):
        table.add_column(column)
    for n in state["nodes"]:
        alive = pid_alive(int(n["pid"]), *_node_needles(n)) if n.get("pid") else False
        row = [f"{n['host']}:{n['port']}", n["role"], str(n["pid"]),
               "running" if alive else "gone"]
        if answers:
            row.append(answers.get(int(n["port"]), "-"))
        table.add_row(*row)
    return table


@click.group(epilog="""
\b
Examples:
  clustercore cluster up                 # 3 primaries + 3 replicas on 127.0.0.1
  clustercore info 127.0.0.1:PORT        # PORT: any node port printed by 'up'
  clustercore cluster status
  clustercore cluster down
""")
def cluster() -> None:
    """A development Redis Cluster on loopback (redis-server processes) that outlives the
    command: up, status, down. Needs redis-server installed."""


_dir_option = click.option(
    "--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
    default=Path(".clustercore-cluster"), show_default=True,
    help="Where the state file, the logs and the servers' files live.")


@cluster.command(epilog="""
\b
Examples:
  clustercore cluster up
  clustercore cluster up --masters 1 --replicas 0 --dir /tmp/devcluster
""")
@_dir_option
@click.option("--masters", type=click.IntRange(1, 16), default=3, show_default=True)
@click.option("--replicas", type=click.IntRange(0, 4), default=1, show_default=True,
              help="Replicas per primary.")
@click.option("--timeout", type=click.FloatRange(1, 600), default=90.0, show_default=True,
              help="Seconds to wait for the cluster to become healthy.")
def up(directory: Path, masters: int, replicas: int, timeout: float) -> None:
    """Start the cluster in the background and record it under --dir."""
    try:
        LocalCluster.check_available()
    except RedisServerNotFound:
        raise CliError(INSTALL, Exit.CANNOT_CONNECT) from None
    state = read_state(directory)
    if state is not None and pid_alive(int(state["supervisor_pid"]), "clustercore.cli.devcluster"):
        raise CliError(f"a cluster is already running from {directory} (supervisor pid "
                       f"{state['supervisor_pid']}); stop it with: clustercore cluster down "
                       f"--dir {directory}", Exit.PROBLEMS)
    directory.mkdir(parents=True, exist_ok=True)
    for name in (STATE, FAILED):
        (directory / name).unlink(missing_ok=True)
    with open(directory / LOG, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "clustercore.cli.devcluster", "serve", str(directory.resolve()),
             str(masters), str(replicas), str(timeout)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True)
    deadline = time.monotonic() + timeout + 15
    while (state := read_state(directory)) is None:
        if (directory / FAILED).exists():
            raise CliError("the cluster did not start: " + (directory / FAILED).read_text()
                           .strip().splitlines()[0], Exit.PROBLEMS)
        if proc.poll() is not None:
            raise CliError(f"the supervisor exited with code {proc.returncode}; see "
                           f"{directory / LOG}", Exit.PROBLEMS)
        if time.monotonic() > deadline:
            proc.terminate()
            raise CliError(f"the cluster was not healthy within {timeout:g}s; see "
                           f"{directory / LOG}", Exit.PROBLEMS)
        time.sleep(_POLL)  # polling a file the supervisor writes, bounded by the deadline
    out = console()
    out.print(f"cluster up in {state['startup_seconds']:.1f}s (supervisor pid "
              f"{state['supervisor_pid']}, files in {state['dir']})")
    out.print(_nodes_table(state))
    first = state["nodes"][0]
    out.print(f"try: clustercore info {first['host']}:{first['port']}")


def _signal(pid: int, sig: int) -> None:
    """Signal a pid just checked to be ours; it may have ended in between."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _wait_gone(pids: Sequence[Tuple[int, Tuple[str, ...]]], timeout: float) -> None:
    """Wait (bounded) until none of ``pids`` runs; they are not our children, so poll."""
    deadline = time.monotonic() + timeout
    while any(pid_alive(p, *c) for p, c in pids) and time.monotonic() < deadline:
        time.sleep(_POLL)


@cluster.command(epilog="""
\b
Examples:
  clustercore cluster down
  clustercore cluster down --dir /tmp/devcluster
""")
@_dir_option
@click.option("--timeout", type=click.FloatRange(1, 120), default=20.0, show_default=True,
              help="Seconds to wait for the processes to end before SIGKILL.")
def down(directory: Path, timeout: float) -> None:
    """Stop the recorded cluster: exactly its pids, then remove its files."""
    state = read_state(directory)
    if state is None:
        click.echo(f"no development cluster recorded in {directory}; nothing to stop")
        return
    supervisor = int(state["supervisor_pid"])
    nodes = [(int(n["pid"]), _node_needles(n)) for n in state["nodes"] if n.get("pid")]
    if pid_alive(supervisor, "clustercore.cli.devcluster"):
        _signal(supervisor, signal.SIGTERM)  # LocalCluster.stop(): SIGTERM, then SIGKILL
        _wait_gone([(supervisor, ("clustercore.cli.devcluster",))], timeout)
    survivors = [(p, c) for p, c in nodes if pid_alive(p, *c)]
    for pid, _needles in survivors:  # the supervisor was gone already, or it failed
        _signal(pid, signal.SIGCONT)
        _signal(pid, signal.SIGTERM)
    _wait_gone(survivors, 5.0)
    killed = []
    for pid, needles in survivors:
        if pid_alive(pid, *needles):
            _signal(pid, signal.SIGKILL)
            killed.append(pid)
    _wait_gone(survivors, 5.0)
    left = [p for p, c in nodes if pid_alive(p, *c)]
    if left:
        raise CliError(f"processes still running after SIGKILL: {left}", Exit.PROBLEMS)
    recorded = Path(state["dir"]).resolve()
    if directory.resolve() in recorded.parents:
        shutil.rmtree(recorded, ignore_errors=True)
    (directory / STATE).unlink(missing_ok=True)
    (directory / FAILED).unlink(missing_ok=True)
    note = f" ({len(killed)} needed SIGKILL)" if killed else ""
    click.echo(f"stopped the cluster recorded in {directory}: supervisor {supervisor} and "
               f"{len(nodes)} redis-server processes{note}")


@cluster.command(epilog="""
\b
Examples:
  clustercore cluster status
  clustercore cluster status --dir /tmp/devcluster || clustercore cluster up --dir /tmp/devcluster
""")
@_dir_option
def status(directory: Path) -> None:
    """Report the recorded processes and what each node answers; exit 1 unless all are up
    and the cluster is ok."""
    state = read_state(directory)
    if state is None:
        click.echo(f"no development cluster recorded in {directory} "
                   f"(start one with: clustercore cluster up --dir {directory})")
        raise click.exceptions.Exit(int(Exit.PROBLEMS))
    options = ConnectOptions(seeds=[], timeout=1.0)
    answers: Dict[int, str] = {}
    problems: List[str] = []
    for n in state["nodes"]:
        probe = probe_node(options, n["host"], int(n["port"]))
        answers[int(n["port"])] = (f"cluster_state:{probe.cluster_state}" if probe.ok
                                   else str(probe.problem))
        if not probe.ok or probe.cluster_state != "ok":
            problems.append(f"{n['host']}:{n['port']}: {answers[int(n['port'])]}")
    out = console()
    alive = pid_alive(int(state["supervisor_pid"]), "clustercore.cli.devcluster")
    out.print(f"supervisor pid {state['supervisor_pid']}: {'running' if alive else 'gone'}; "
              f"files in {state['dir']}")
    out.print(_nodes_table(state, answers))
    if not alive:
        problems.append("the supervisor is gone")
    for p in problems:
        out.print(f"problem: {p}")
    if problems:
        raise click.exceptions.Exit(int(Exit.PROBLEMS))
    out.print("OK")


def _main(argv: List[str]) -> int:
    """``python -m clustercore.cli.devcluster serve DIR MASTERS REPLICAS TIMEOUT``."""
    if len(argv) != 5 or argv[0] != "serve":
        print("usage: python -m clustercore.cli.devcluster serve DIR MASTERS REPLICAS TIMEOUT",
              file=sys.stderr)
        return 2
    return serve(Path(argv[1]), int(argv[2]), int(argv[3]), float(argv[4]))


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
