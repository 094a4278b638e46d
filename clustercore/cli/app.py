"""The ``clustercore`` command group: options, exit codes, one-line errors.

Every command's failure goes through :meth:`Group.invoke` here: a :class:`CliError` prints as
one line (``clustercore: error: ...``) with its exit code; any other exception prints as one
line too, with exit code 70 and the hint to rerun with ``--debug``, which shows the traceback.
Messages pass through :func:`errors.scrub`, so a password can never reach the terminal.
"""

from __future__ import annotations

import json
import time
import traceback
from typing import Any, Optional

import click
from rich.live import Live

import clustercore

from .connect import ConnectOptions, connection_options
from .errors import CliError, Exit, scrub
from .output import console
from .render import check_view, info_view
from .survey import connect_client, probe_node, survey

__all__ = ["cli"]

_SEED_HELP = """
Seeds are URL|HOST:PORT...: redis://host:port, rediss://host:port (TLS), host:port or
[::1]:port; one reachable seed is enough, the others are tried in turn.
The password never goes on the command line: --password-env VAR reads it from the environment,
--ask-password prompts without echo.
"""


class _Group(click.Group):
    """A group whose commands fail with one line and a documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except CliError as exc:
            self._fail(ctx, exc.message, exc.code, exc)
        except KeyboardInterrupt as exc:
            self._fail(ctx, "interrupted", Exit.INTERRUPTED, exc)
        except Exception as exc:
            self._fail(ctx, f"internal error: {type(exc).__name__}: {exc} "
                            "(rerun with --debug for the traceback, and please report it)",
                       Exit.INTERNAL, exc)
        return None

    @staticmethod
    def _fail(ctx: click.Context, message: str, code: int, exc: BaseException) -> None:
        secrets = ctx.meta.get("clustercore.secrets", [])
        if ctx.meta.get("clustercore.debug"):
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            click.echo(scrub(text, secrets), err=True)
        click.echo(f"clustercore: error: {scrub(message, secrets)}", err=True)
        ctx.exit(int(code))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"],
                                            "max_content_width": 100})
@click.version_option(clustercore.__version__, prog_name="clustercore")
@click.option("--debug", is_flag=True, help="Show tracebacks (never passwords) on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """clustercore: look at, check and exercise a Redis Cluster.

    \b
    Exit codes (stable, for scripts):
      0  ok
      1  a check found a problem (ping, check, cluster status), or bench saw errors
      2  usage error (bad option, bad seed, unset --password-env variable)
      3  cannot connect to the cluster (info, bench) or redis-server is not
         installed (cluster up, demo)
      70 internal error (a bug: rerun with --debug)
      130 interrupted
    """
    ctx.meta["clustercore.debug"] = debug


@cli.command(epilog=_SEED_HELP + """
\b
Examples:
  clustercore info 127.0.0.1:7000
  clustercore info rediss://redis.example:6380 --ca ca.pem --user app --password-env REDIS_PW
  clustercore info 127.0.0.1:7000 --json | jq '.nodes[] | {address, role, health}'
  clustercore info 127.0.0.1:7000 --watch 1
""")
@connection_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--watch", type=float, is_flag=False, flag_value=2.0, default=None,
              metavar="[SECONDS]", help="Refresh in place every SECONDS (default 2) until "
              "Ctrl-C (with --json: one JSON document a line).")
@click.option("--count", type=click.IntRange(min=0), default=0,
              help="With --watch: stop after COUNT refreshes (0: until Ctrl-C).")
def info(connect: ConnectOptions, as_json: bool, watch: Optional[float], count: int) -> None:
    """Every node as clustercore sees it: role, slots, replicas, health, the address it
    announces and the one dialled, server version, and the client's pool statistics."""
    if watch is not None and not watch > 0:
        raise CliError(f"--watch must be > 0 seconds, got {watch!r}", Exit.USAGE)
    rc = connect_client(connect, skip_full_coverage_check=True)
    try:
        if watch is None:
            report = survey(rc, connect)
            if as_json:
                click.echo(json.dumps(report.as_json(), indent=2))
            else:
                console().print(info_view(report))
            return
        _watch(rc, connect, watch, count, as_json)
    finally:
        rc.close()


def _watch(rc: clustercore.RedisCluster, connect: ConnectOptions, every: float, count: int,
           as_json: bool) -> None:
    done = 0
    if as_json:
        while count == 0 or done < count:
            if done:
                time.sleep(every)  # the refresh cadence the user asked for
            click.echo(json.dumps(survey(rc, connect).as_json()))
            done += 1
        return
    out = console()
    with Live(console=out, auto_refresh=False, transient=False) as live:
        try:
            while count == 0 or done < count:
                if done:
                    time.sleep(every)  # the refresh cadence the user asked for
                report = survey(rc, connect)
                done += 1
                stamp = time.strftime("%H:%M:%S")
                live.update(info_view(report, f"clustercore info --watch {every:g}s  {stamp}  "
                                              f"refresh #{done}  (Ctrl-C to stop)"),
                            refresh=True)
        except KeyboardInterrupt:
            pass  # Ctrl-C is how a watch ends: the last view stays on screen, exit 0


@cli.command(epilog=_SEED_HELP + """
\b
Examples:
  clustercore ping 127.0.0.1:7000
  until clustercore ping 127.0.0.1:7000 >/dev/null; do sleep 1; done
""")
@connection_options
def ping(connect: ConnectOptions) -> None:
    """Connect to every node (TLS and AUTH handshake included) and PING it; exit 1 if any
    node does not answer."""
    try:
        rc = connect_client(connect, skip_full_coverage_check=True)
    except CliError as exc:
        click.echo(f"FAIL {exc.message}")
        raise click.exceptions.Exit(int(Exit.PROBLEMS)) from None
    try:
        addresses = [(a.host, a.port) for a in rc.connection_pool.topology.nodes]
    finally:
        rc.close()
    failed = 0
    for host, port in addresses:
        probe = probe_node(connect, host, port, full=False)
        if probe.ok:
            click.echo(f"PONG {host}:{port} {probe.latency_ms:.1f} ms")
        else:
            failed += 1
            click.echo(f"FAIL {host}:{port} {probe.problem}")
    if failed:
        raise click.exceptions.Exit(int(Exit.PROBLEMS))


@cli.command(epilog=_SEED_HELP + """
\b
What is checked: every seed and node accepts a connection, completes the handshake (TLS,
AUTH) and answers within --timeout; every one of the 16384 slots has a primary; no node is
marked failed by its peers; every node reports cluster_state:ok.
\b
Examples:
  clustercore check 127.0.0.1:7000 || echo "cluster needs attention"
  clustercore check rediss://10.0.0.5:6380 --ca ca.pem --tls-server-name redis.internal
""")
@connection_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def check(connect: ConnectOptions, as_json: bool) -> None:
    """Check the cluster and say in plain words what is wrong; exit 1 if anything is."""
    try:
        rc = connect_client(connect, skip_full_coverage_check=True)
    except CliError as exc:
        if as_json:
            click.echo(json.dumps({"problems": [exc.message], "nodes": []}, indent=2))
        else:
            click.echo(f"problem: {exc.message}")
        raise click.exceptions.Exit(int(Exit.PROBLEMS)) from None
    try:
        report = survey(rc, connect)
    finally:
        rc.close()
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
    else:
        console().print(check_view(report))
    if report.problems:
        raise click.exceptions.Exit(int(Exit.PROBLEMS))


def _register() -> None:
    """Attach the commands that live in their own modules."""
    from .bench import bench
    from .demo import demo
    from .devcluster import cluster

    cli.add_command(bench)
    cli.add_command(demo)
    cli.add_command(cluster)


_register()
