"""What ``info``, ``ping`` and ``check`` look at: the cluster as clustercore sees it, node by node.

The client (a RedisCluster over the seeds) gives the layout it routes by: shards, slot ranges,
replicas, the addresses it dials after remapping, and its pool statistics. Each node is then
probed over a dedicated, unpooled connection with a short timeout (PING, INFO server, CLUSTER
INFO, CLUSTER NODES), all nodes at once in threads, so one frozen node costs one timeout and is
reported as such instead of stalling the report. CLUSTER NODES supplies what the node itself
announces (to compare with the dialled address) and the failure flags its peers gossip.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import clustercore

from .connect import ConnectOptions, probe_connection
from .errors import CliError, Exit, describe

__all__ = ["ClusterReport", "NodeReport", "Probe", "probe_node", "survey"]

NUM_SLOTS = clustercore.NUM_SLOTS


@dataclass
class Probe:
    """One node's answers over a dedicated connection (or what went wrong)."""

    ok: bool
    latency_ms: Optional[float] = None
    version: Optional[str] = None
    cluster_state: Optional[str] = None
    nodes: List[Dict[str, Any]] = field(default_factory=list)
    problem: Optional[str] = None
    health: str = "ok"


@dataclass
class NodeReport:
    """One row of ``clustercore info``."""

    address: str
    role: str
    node_id: Optional[str] = None
    announced: Optional[str] = None
    slots: List[Tuple[int, int]] = field(default_factory=list)
    slot_count: int = 0
    primary: Optional[str] = None
    replicas: List[str] = field(default_factory=list)
    health: str = "ok"
    problem: Optional[str] = None
    version: Optional[str] = None
    cluster_state: Optional[str] = None
    latency_ms: Optional[float] = None
    pool: Optional[Dict[str, Any]] = None


@dataclass
class ClusterReport:
    """Everything ``info`` shows and ``check`` judges; ``as_json()`` is ``info --json``."""

    seeds: List[str]
    nodes: List[NodeReport]
    covered_slots: int
    uncovered: List[Tuple[int, int]]
    pool: Dict[str, Any]
    problems: List[str]
    tls: bool
    client_version: str = clustercore.__version__
    seconds: float = 0.0

    def as_json(self) -> Dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        return asdict(self)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def parse_info(text: str) -> Dict[str, str]:
    """INFO / CLUSTER INFO text -> dict (section headers skipped)."""
    out: Dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and ":" in line:
            key, _, value = line.partition(":")
            out[key.strip()] = value.strip()
    return out


def parse_cluster_nodes(text: str) -> List[Dict[str, Any]]:
    """CLUSTER NODES text -> [{id, announced, flags, primary_id, link, slots}]."""
    entries = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        address = fields[1].split(",", 1)[0].split("@", 1)[0]
        slots = []
        for token in fields[8:]:
            if token.startswith("["):
                continue  # a slot being migrated or imported
            start, _, end = token.partition("-")
            slots.append((int(start), int(end or start)))
        entries.append({"id": fields[0], "announced": address,
                        "flags": fields[2].split(","),
                        "primary_id": None if fields[3] == "-" else fields[3],
                        "link": fields[7], "slots": slots})
    return entries


def _health_label(sentence: str) -> str:
    if "password" in sentence or "credentials" in sentence or "NOPERM" in sentence:
        return "auth failed"
    if "TLS" in sentence or "certificate" in sentence:
        return "tls failed"
    if "did not answer" in sentence:
        return "no answer"
    return "unreachable"


def probe_node(options: ConnectOptions, host: str, port: int, *, full: bool = True) -> Probe:
    """Connect (handshake: TLS, AUTH), PING and, with ``full``, read the node's version, state
    and CLUSTER NODES; every step bounded by the options' timeout."""
    conn = probe_connection(options, host, port)
    try:
        start = time.perf_counter()
        conn.connect()
        conn.send_command("PING")
        conn.read_response()
        probe = Probe(ok=True, latency_ms=(time.perf_counter() - start) * 1000)
        if full:
            conn.send_command("INFO", "server")
            probe.version = parse_info(_text(conn.read_response())).get("redis_version")
            conn.send_command("CLUSTER", "INFO")
            probe.cluster_state = parse_info(_text(conn.read_response())).get("cluster_state")
            conn.send_command("CLUSTER", "NODES")
            probe.nodes = parse_cluster_nodes(_text(conn.read_response()))
        return probe
    except (clustercore.ClusterCoreError, OSError) as exc:
        sentence = describe(exc, timeout=options.timeout, tls=options.tls)
        return Probe(ok=False, problem=sentence, health=_health_label(sentence))
    finally:
        conn.disconnect()


def _probe_all(options: ConnectOptions,
               addresses: List[Tuple[str, int]]) -> Dict[Tuple[str, int], Probe]:
    if not addresses:
        return {}
    with ThreadPoolExecutor(max_workers=min(16, len(addresses)),
                            thread_name_prefix="clustercore-probe") as pool:
        futures = {a: pool.submit(probe_node, options, a[0], a[1]) for a in addresses}
        return {a: f.result() for a, f in futures.items()}


def connect_client(options: ConnectOptions, **extra: Any) -> clustercore.RedisCluster:
    """The client over the seeds; a discovery failure becomes one plain CliError (exit 3)
    naming what each seed answered."""
    try:
        return options.client(**extra)
    except clustercore.ClusterCoreError as exc:
        probes = _probe_all(options, options.seeds)
        reasons = [f"{h}:{p}: {pr.problem}" for (h, p), pr in probes.items() if not pr.ok]
        if not reasons:
            reasons = [describe(exc, timeout=options.timeout, tls=options.tls)]
        raise CliError("cannot reach the cluster: " + "; ".join(reasons),
                       Exit.CANNOT_CONNECT) from exc


def _node_stats(stats: Any) -> Dict[str, Any]:
    return {"open": stats.open, "in_use": stats.in_use, "idle": stats.idle,
            "created": stats.created, "waits": stats.waits, "failing": stats.failing,
            "connect_failures": stats.connect_failures}


def survey(rc: clustercore.RedisCluster, options: ConnectOptions) -> ClusterReport:
    """Probe every node the client knows and assemble the report with its problems."""
    started = time.monotonic()
    topology = rc.connection_pool.topology
    rows: Dict[Tuple[str, int], NodeReport] = {}
    ids: Dict[str, Tuple[str, int]] = {}
    for shard in topology.shards:
        primary = (shard.primary.host, shard.primary.port)
        rows[primary] = NodeReport(
            address=_fmt(primary), role="primary", node_id=shard.primary_id,
            slots=[(a, b) for a, b in shard.ranges], slot_count=shard.slot_count,
            replicas=[_fmt((r.host, r.port)) for r in shard.replicas])
        if shard.primary_id:
            ids[shard.primary_id] = primary
        for replica, rid in zip(shard.replicas, shard.replica_ids or [None] * len(shard.replicas)):
            address = (replica.host, replica.port)
            rows[address] = NodeReport(address=_fmt(address), role="replica", node_id=rid,
                                       primary=_fmt(primary))
            if rid:
                ids[rid] = address
    probes = _probe_all(options, list(rows) + [s for s in options.seeds if s not in rows])
    gossip: Dict[str, Dict[str, Any]] = {}
    flagged: Dict[str, set[str]] = {}
    for probe in probes.values():
        for entry in probe.nodes:
            if "myself" in entry["flags"] or entry["id"] not in gossip:
                gossip[entry["id"]] = entry
            bad = {f for f in entry["flags"] if f in ("fail", "fail?")}
            if bad:
                flagged.setdefault(entry["id"], set()).update(bad)
    problems: List[str] = []
    for address in options.seeds:
        probe = probes[address]
        if not probe.ok and address not in rows:
            problems.append(f"seed {_fmt(address)}: {probe.problem}")
    for address, row in rows.items():
        probe = probes[address]
        row.latency_ms, row.version, row.cluster_state = (
            probe.latency_ms, probe.version, probe.cluster_state)
        if row.node_id is None:
            mine = [e for e in probe.nodes if "myself" in e["flags"]]
            row.node_id = mine[0]["id"] if mine else None
        seen = gossip.get(row.node_id or "")
        if seen is not None:
            announced = seen["announced"]
            row.announced = announced if not announced.startswith(":") else None
        if not probe.ok:
            row.health, row.problem = probe.health, probe.problem
            problems.append(f"{row.role} {row.address}: {probe.problem}")
        elif row.node_id in flagged:
            marks = flagged[row.node_id]
            row.health = "fail" if "fail" in marks else "pfail"
            row.problem = ("its peers mark it failed" if row.health == "fail"
                           else "some peers cannot reach it (pfail)")
            problems.append(f"{row.role} {row.address}: {row.problem}")
        elif probe.cluster_state not in (None, "ok"):
            row.health = f"state {probe.cluster_state}"
            row.problem = f"it reports cluster_state:{probe.cluster_state}"
            problems.append(f"{row.role} {row.address}: {row.problem}")
        if probe.ok and row.health == "ok":
            try:  # through the client's pool, so its statistics show every node
                rc.get_redis_connection(clustercore.NodeAddress(*address)).ping()
            except clustercore.ClusterCoreError as exc:
                row.health = "client failed"
                row.problem = describe(exc, timeout=options.timeout, tls=options.tls)
                problems.append(f"{row.role} {row.address}: {row.problem}")
    known = {e["id"] for e in gossip.values()}
    for node_id in sorted(known - set(ids)):
        entry = gossip[node_id]
        if not {"master", "slave"} & set(entry["flags"]) or node_id in {
                r.node_id for r in rows.values()}:
            continue
        role = "primary" if "master" in entry["flags"] else "replica"
        row = NodeReport(address=entry["announced"], role=role, node_id=node_id,
                         announced=entry["announced"], health="not routed",
                         problem="known to the cluster but not in the client's layout "
                                 "(failed, loading, or without slots)")
        if role == "replica" and entry["primary_id"] in ids:
            row.primary = _fmt(ids[entry["primary_id"]])
        if node_id in flagged:  # e.g. a primary killed and replaced, still in the node table
            row.health = "fail" if "fail" in flagged[node_id] else "pfail"
            row.problem = f"its peers mark it {'failed' if row.health == 'fail' else 'pfail'}"
            problems.append(f"{role} {row.address} (not routed): {row.problem}")
        rows[(entry["announced"], -len(rows))] = row
    uncovered = [(a, b) for a, b in topology.uncovered_ranges()]
    if uncovered:
        count = sum(b - a + 1 for a, b in uncovered)
        problems.insert(0, f"{count} of {NUM_SLOTS} slots are not covered by any primary: "
                           f"{_ranges(uncovered)}")
    stats = rc.connection_pool.stats()
    for node_stats in stats.nodes:
        row_for = rows.get((node_stats.address.host, node_stats.address.port))
        if row_for is not None:
            row_for.pool = _node_stats(node_stats)
    pool = {"type": type(rc.connection_pool).__name__, "topology_epoch": stats.topology_epoch,
            "active_nodes": stats.active_nodes, "refreshes": stats.refreshes,
            "refresh_failures": stats.refresh_failures,
            "refresh_triggers": dict(stats.refresh_triggers), "open": stats.created
            - stats.closed_connections, "in_use": stats.in_use, "idle": stats.idle,
            "waits": stats.waits, "wait_timeouts": stats.wait_timeouts}
    ordered = _ordered(list(rows.values()))
    return ClusterReport(
        seeds=[_fmt(s) for s in options.seeds], nodes=ordered,
        covered_slots=topology.covered_slots(), uncovered=uncovered, pool=pool,
        problems=problems, tls=options.tls, seconds=time.monotonic() - started)


def _ordered(rows: List[NodeReport]) -> List[NodeReport]:
    """Primaries by first slot, each followed by its replicas; the rest after them."""
    primaries = sorted((r for r in rows if r.role == "primary" and r.slots),
                       key=lambda r: r.slots[0][0])
    out: List[NodeReport] = []
    for primary in primaries:
        out.append(primary)
        out.extend(sorted((r for r in rows if r.role == "replica"
                           and r.primary == primary.address), key=lambda r: r.address))
    out.extend(r for r in rows if r not in out)
    return out


def _fmt(address: Tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _ranges(ranges: List[Tuple[int, int]], limit: int = 6) -> str:
    parts = [str(a) if a == b else f"{a}-{b}" for a, b in ranges[:limit]]
    if len(ranges) > limit:
        parts.append(f"... ({len(ranges) - limit} more ranges)")
    return ", ".join(parts)


format_ranges = _ranges
format_address = _fmt
