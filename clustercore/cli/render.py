"""Rich renderables for ``info`` and ``check``: the node table, the pool line, the problems."""

from __future__ import annotations

from typing import List

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .survey import NUM_SLOTS, ClusterReport, format_ranges

__all__ = ["check_view", "info_view"]

_HEALTH_STYLE = {"ok": "green", "pfail": "yellow", "no answer": "red", "unreachable": "red",
                 "fail": "red", "auth failed": "red", "tls failed": "red"}


def _ms(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, float) else "-"


def node_table(report: ClusterReport) -> Table:
    """One row per node: what the client dials and what the node announces, role, slots,
    replicas, health, version, ping latency and the client's connections to it."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name, justify in (("node", "left"), ("announced", "left"), ("role", "left"),
                          ("slots", "left"), ("replicas / of", "left"), ("health", "left"),
                          ("version", "left"), ("ping ms", "right"),
                          ("conns o/u/i", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in report.nodes:
        announced = "same" if row.announced in (None, row.address) else row.announced
        if row.announced is None:
            announced = "?"
        if row.role == "primary":
            slots = f"{format_ranges(row.slots, 3)} ({row.slot_count})" if row.slots else "-"
            related = ", ".join(row.replicas) or "none"
        else:
            slots, related = "-", f"of {row.primary}" if row.primary else "-"
        health = Text(row.health, style=_HEALTH_STYLE.get(row.health, "yellow"))
        pool = row.pool
        conns = f"{pool['open']}/{pool['in_use']}/{pool['idle']}" if pool else "-"
        table.add_row(row.address, announced, row.role, slots, related, health,
                      row.version or "-", _ms(row.latency_ms), conns)
    return table


def summary_lines(report: ClusterReport) -> List[Text]:
    """The slot coverage and the pool statistics, one line each."""
    primaries = sum(1 for n in report.nodes if n.role == "primary" and n.slots)
    empty = sum(1 for n in report.nodes if n.role == "primary" and not n.slots)
    replicas = sum(1 for n in report.nodes if n.role == "replica")
    coverage = Text(
        f"{primaries} primaries" + (f" (+{empty} without slots)" if empty else "")
        + f", {replicas} replicas; slots covered "
        f"{report.covered_slots}/{NUM_SLOTS}"
        + (f" (missing: {format_ranges(report.uncovered)})" if report.uncovered else "")
        + (" ; TLS" if report.tls else ""),
        style="bold" if not report.uncovered else "bold red")
    p = report.pool
    triggers = ", ".join(f"{k}={v}" for k, v in sorted(p["refresh_triggers"].items())) or "none"
    pool = Text(
        f"client pool {p['type']}: topology epoch {p['topology_epoch']}, {p['active_nodes']} "
        f"active nodes, {p['refreshes']} refreshes ({triggers}), {p['refresh_failures']} "
        f"refresh failures")
    connections = Text(
        f"client connections: {p['open']} open ({p['in_use']} in use, {p['idle']} idle), "
        f"{p['waits']} checkouts waited, {p['wait_timeouts']} timed out")
    return [coverage, pool, connections]


def problem_lines(report: ClusterReport) -> List[Text]:
    """'OK' or one red line per problem."""
    if not report.problems:
        return [Text("OK: every node answered and every slot is covered", style="green")]
    return [Text(f"problem: {p}", style="red") for p in report.problems]


def info_view(report: ClusterReport, header: str = "") -> RenderableType:
    """``clustercore info``: header, node table, summary, problems."""
    parts: List[RenderableType] = []
    if header:
        parts.append(Text(header, style="dim"))
    parts += [node_table(report), *summary_lines(report), *problem_lines(report)]
    return Group(*parts)


def check_view(report: ClusterReport) -> RenderableType:
    """``clustercore check``: one line per node, then the verdict."""
    lines: List[RenderableType] = []
    for row in report.nodes:
        mark = Text("ok  ", style="green") if row.health == "ok" else Text("FAIL", style="red")
        detail = f"{_ms(row.latency_ms)} ms, {row.version}" if row.health == "ok" else (
            row.problem or row.health)
        lines.append(Text.assemble(mark, f" {row.role:<7} {row.address:<22} {detail}"))
    lines += [summary_lines(report)[0], *problem_lines(report)]
    return Group(*lines)
