"""``clustercore bench``: GET, SET, pipelined SET and MGET against a cluster, bounded.

Each operation runs until ``--requests`` calls or ``--duration`` seconds, whichever comes
first, from one thread (the figure is the client's per-call cost, not the cluster's
capacity). Latency is measured per call with ``perf_counter``; the client's CPU per command
with ``time.process_time`` (the whole process: the client's own work, which is what differs
between clients). ``--compare redis-py`` runs the same loop through redis-py's RedisCluster.
Keys live under ``--prefix`` and are deleted at the end.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import clustercore

from .connect import ConnectOptions, connection_options
from .errors import CliError, Exit
from .output import console
from .survey import connect_client

__all__ = ["BenchResult", "bench", "percentile"]

OPERATIONS = ("get", "set", "pipeline", "mget")


@dataclass
class BenchResult:
    """One client's figures for one operation."""

    client: str
    op: str
    calls: int
    commands: int
    seconds: float
    ops_per_sec: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_op: float
    errors: int
    first_error: Optional[str] = None


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (0.0 for none)."""
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def _operations(client: Any, prefix: str, keys: int, value: bytes, batch: int,
                mget_keys: int) -> Dict[str, Callable[[int], int]]:
    """Callables doing one call of each operation; they return the commands they sent."""
    tag = "{" + prefix + "m}"

    def do_get(i: int) -> int:
        client.get(f"{prefix}{i % keys}")
        return 1

    def do_set(i: int) -> int:
        client.set(f"{prefix}{i % keys}", value)
        return 1

    def do_pipeline(i: int) -> int:
        pipe = client.pipeline(transaction=False)
        for j in range(batch):
            pipe.set(f"{prefix}{(i * batch + j) % keys}", value)
        pipe.execute()
        return batch

    mget_names = [f"{tag}{j}" for j in range(mget_keys)]

    def do_mget(i: int) -> int:
        client.mget(mget_names)
        return 1  # one MGET command (of mget_keys keys, one slot: a real MGET)

    return {"get": do_get, "set": do_set, "pipeline": do_pipeline, "mget": do_mget}


def _run(name: str, op: str, call: Callable[[int], int], requests: int, duration: float,
         progress: Progress) -> BenchResult:
    task = progress.add_task(f"{name} {op}", total=requests)
    latencies: List[float] = []
    errors, commands, first_error = 0, 0, None
    perf, cpu = time.perf_counter, time.process_time
    start, cpu_start = perf(), cpu()
    deadline = start + duration
    i = 0
    while i < requests:
        t0 = perf()
        try:
            commands += call(i)
        except Exception as exc:  # counted and shown: a bench reports errors, it does not stop
            errors += 1
            first_error = first_error or f"{type(exc).__name__}: {exc}"
        t1 = perf()
        latencies.append(t1 - t0)
        i += 1
        if i % 64 == 0:
            progress.update(task, completed=i)
        if t1 >= deadline:
            break
    seconds, cpu_used = perf() - start, cpu() - cpu_start
    progress.update(task, completed=requests if i >= requests else i, total=max(i, 1)
                    if i < requests else requests)
    latencies.sort()
    return BenchResult(
        client=name, op=op, calls=i, commands=commands, seconds=seconds,
        ops_per_sec=commands / seconds if seconds > 0 else 0.0,
        p50_ms=percentile(latencies, 0.50) * 1000, p99_ms=percentile(latencies, 0.99) * 1000,
        cpu_us_per_op=cpu_used / commands * 1e6 if commands else 0.0, errors=errors,
        first_error=first_error)


def _redis_py(connect: ConnectOptions) -> Any:
    try:
        from redis.cluster import ClusterNode, RedisCluster
    except ImportError:
        raise CliError("--compare redis-py needs redis-py: pip install redis", Exit.USAGE) from None
    kwargs: Dict[str, Any] = {"username": connect.username, "password": connect.password,
                              "socket_timeout": connect.timeout,
                              "socket_connect_timeout": connect.timeout}
    if connect.tls:
        kwargs.update(ssl=True, ssl_ca_certs=connect.ca, ssl_certfile=connect.cert,
                      ssl_keyfile=connect.key, ssl_check_hostname=connect.check_hostname)
    try:
        nodes = [ClusterNode(h, p) for h, p in connect.seeds]  # type: ignore[no-untyped-call]
        return RedisCluster(startup_nodes=nodes, **kwargs)
    except Exception as exc:
        raise CliError(f"redis-py cannot connect: {type(exc).__name__}: {exc}",
                       Exit.CANNOT_CONNECT) from None


def results_table(results: List[BenchResult]) -> Table:
    """The summary: one row per client and operation."""
    table = Table(title="clustercore bench (one thread; indicative figures)")
    for column in ("client", "op", "commands", "seconds", "ops/s", "p50 ms", "p99 ms",
                   "CPU us/op", "errors"):
        table.add_column(column, justify="left" if column in ("client", "op") else "right")
    for r in results:
        table.add_row(r.client, r.op, f"{r.commands:,}", f"{r.seconds:.2f}",
                      f"{r.ops_per_sec:,.0f}", f"{r.p50_ms:.3f}", f"{r.p99_ms:.3f}",
                      f"{r.cpu_us_per_op:.1f}", str(r.errors))
    return table


@click.command(epilog="""
\b
Examples:
  clustercore bench 127.0.0.1:7000 --requests 20000
  clustercore bench 127.0.0.1:7000 --duration 5 --ops get,pipeline --compare redis-py
  clustercore bench 127.0.0.1:7000 --requests 1000 --json > bench.json
""")
@connection_options
@click.option("--requests", type=click.IntRange(min=1, max=10_000_000), default=10_000,
              show_default=True, help="Calls per operation (at most).")
@click.option("--duration", type=click.FloatRange(min=0.01, max=3600), default=10.0,
              show_default=True, help="Seconds per operation (at most).")
@click.option("--ops", default=",".join(OPERATIONS), show_default=True,
              help="Operations to run, comma-separated (get, set, pipeline, mget).")
@click.option("--pipeline-size", type=click.IntRange(min=1, max=10_000), default=10,
              show_default=True, help="Commands per pipeline call.")
@click.option("--mget-keys", type=click.IntRange(min=1, max=10_000), default=10,
              show_default=True, help="Keys per MGET (one hash tag: one slot).")
@click.option("--value-size", type=click.IntRange(min=0, max=1 << 20), default=100,
              show_default=True, help="Bytes per value.")
@click.option("--keys", "keyspace", type=click.IntRange(min=1, max=1_000_000), default=1000,
              show_default=True, help="Distinct keys the loops cycle through.")
@click.option("--prefix", default="clustercore:bench:", show_default=True,
              help="Key prefix (keys under it are deleted at the end).")
@click.option("--compare", type=click.Choice(["redis-py"]), default=None,
              help="Run the same loops through another client as well.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def bench(connect: ConnectOptions, requests: int, duration: float, ops: str,
          pipeline_size: int, mget_keys: int, value_size: int, keyspace: int, prefix: str,
          compare: Optional[str], as_json: bool) -> None:
    """Measure GET, SET, pipelined SET and MGET: ops/s, p50/p99 latency and client CPU per
    command, with a live progress bar; exit 1 if any command failed."""
    chosen = [o.strip() for o in ops.split(",") if o.strip()]
    unknown = [o for o in chosen if o not in OPERATIONS]
    if unknown or not chosen:
        raise CliError(f"--ops: unknown operation(s) {unknown or [ops]}; choose from "
                       f"{', '.join(OPERATIONS)}", Exit.USAGE)
    clients: List[Any] = [("clustercore", connect_client(connect))]
    if compare == "redis-py":
        clients.append(("redis-py", _redis_py(connect)))
    value = b"x" * value_size
    results: List[BenchResult] = []
    err = console(stderr=True)
    try:
        first = clients[0][1]
        for j in range(mget_keys):  # MGET reads existing keys
            first.set("{" + prefix + "m}" + str(j), value)
        with Progress(TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=err, transient=False) as progress:
            for name, client in clients:
                calls = _operations(client, prefix, keyspace, value, pipeline_size, mget_keys)
                for op in chosen:
                    results.append(_run(name, op, calls[op], requests, duration, progress))
    finally:
        _cleanup(clients[0][1], prefix, keyspace, mget_keys)
        for _name, client in clients:
            client.close()
    if as_json:
        click.echo(json.dumps([asdict(r) for r in results], indent=2))
    else:
        out = console()
        out.print(results_table(results))
        for r in results:
            if r.first_error:
                out.print(f"{r.client} {r.op}: {r.errors} errors, first: {r.first_error}")
    if any(r.errors for r in results):
        raise click.exceptions.Exit(int(Exit.PROBLEMS))


def _cleanup(client: clustercore.RedisCluster, prefix: str, keyspace: int, mget_keys: int) -> None:
    """Delete the keys the loops wrote (bounded by --keys), ignoring errors."""
    names = [f"{prefix}{i}" for i in range(keyspace)]
    names += ["{" + prefix + "m}" + str(j) for j in range(mget_keys)]
    try:
        for start in range(0, len(names), 500):
            pipe = client.pipeline(transaction=False)
            for name in names[start:start + 500]:
                pipe.delete(name)
            pipe.execute()
    except clustercore.ClusterCoreError:
        pass
