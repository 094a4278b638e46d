"""A real, local Redis Cluster for tests: redis-server processes on free loopback ports.

``LocalCluster`` starts its own ``redis-server`` processes in a temporary directory, forms a
cluster, waits until it is healthy and stops exactly the pids it started.  Admin operations go
through ``redis-cli`` subprocesses (never through clustercore itself), so the harness does not
depend on the code it is used to test.  Standard library only; ``trustme`` is imported lazily
for TLS.

Why the cluster is formed explicitly (SET-CONFIG-EPOCH, ADDSLOTSRANGE, MEET, REPLICATE) rather
than with ``redis-cli --cluster create``: every step is one command against one known node, so
a failure names the node, the command and the reply; there is no interactive prompt, no fixed
sleeps inside redis-cli, the primary/replica pairing is exactly the plan (redis-cli shuffles
replicas across hosts), and the explicit ``CLUSTER MEET ip port cport`` form honours the
``cluster-port`` bus ports we choose.

Redis 7.0 notes: a new primary keeps ``cluster_state:fail`` for ~2 s after it starts
(CLUSTER_WRITABLE_DELAY), the floor of startup (and of ``add_node`` for a primary).  MIGRATE
goes over TLS when ``tls-cluster yes`` (the target is addressed by its TLS client port), so
``migrate_slots`` works on TLS clusters, with AUTH/AUTH2 too.  ``cluster-port`` sets the bus
port explicitly.  We set ``repl-diskless-sync-delay 0`` (default 5 s would delay every replica
sync) and ``shutdown-timeout 0`` (no waiting for replicas on SIGTERM).  Admin keys round-trip
exactly (``--quoted-json`` / ``--quoted-input``), even with newlines or NUL bytes.
"""

from __future__ import annotations

import binascii
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

__all__ = [
    "NUM_SLOTS",
    "ClusterNodeEntry",
    "LocalCluster",
    "LocalClusterError",
    "LocalNode",
    "RedisServerNotFound",
    "TLSFiles",
]

NUM_SLOTS = 16384
_POLL_INTERVAL = 0.025
_STOP_GRACE = 5.0
_PORT_RETRIES = 3
_BAD_FLAGS = frozenset({"fail", "fail?", "handshake", "noaddr"})
_INSTALL_HINT = "apt-get install -y redis-server"


class LocalClusterError(RuntimeError):
    """A LocalCluster operation failed or a wait did not reach its goal before its deadline."""


class RedisServerNotFound(RuntimeError):
    """redis-server or redis-cli is missing; the message says what and how to install it."""


# --------------------------------------------------------------------------------------------
# Small helpers


class _Deadline:
    """A monotonic deadline with the remaining time, for bounded polling loops."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.end = time.monotonic() + timeout

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.end


def _find_executable(name: str, explicit: str | None) -> str:
    """Return the path of redis-server/redis-cli or raise RedisServerNotFound saying how to fix it."""
    if explicit is not None:
        found = shutil.which(explicit)
        if found is None:
            raise RedisServerNotFound(
                f"{name} not found at {explicit!r}; install it with: {_INSTALL_HINT}"
            )
        return found
    found = shutil.which(name)
    if found is None:
        extra = " (redis-cli comes with it)" if name == "redis-cli" else ""
        raise RedisServerNotFound(f"{name} not found on PATH; install it with: {_INSTALL_HINT}{extra}")
    return found


def _reserve_ports(host: str, count: int) -> list[int]:
    """Pick `count` distinct free TCP ports by binding them all at once, then release them."""
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(family, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((host, 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def _conf_arg(value: str) -> str:
    """Quote one redis.conf argument when it is empty or contains separators/quotes."""
    if value and not any(c in value for c in " \t\"'\\\n\r"):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def _quote_arg(data: bytes) -> str:
    """Quote bytes for redis-cli --quoted-input (handles NUL, newlines and non-UTF-8 bytes)."""
    out = ['"']
    for b in data:
        ch = chr(b)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= b < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\x{b:02x}")
    out.append('"')
    return "".join(out)


_REPR_ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "a": b"\a", "b": b"\b", '"': b'"', "\\": b"\\"}


def _unrepr(text: str) -> bytes:
    """Undo Redis' sdscatrepr escaping (as printed by redis-cli --quoted-json) back to bytes."""
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "x" and i + 3 < len(text):
                out.append(int(text[i + 2 : i + 4], 16))
                i += 4
                continue
            if nxt in _REPR_ESCAPES:
                out += _REPR_ESCAPES[nxt]
                i += 2
                continue
        out += ch.encode("utf-8", "surrogateescape")
        i += 1
    return bytes(out)


def _parse_info(text: str) -> dict[str, str]:
    """Parse INFO / CLUSTER INFO text into a dict (section headers and blanks skipped)."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        result[key] = value
    return result


def _log_tail(path: Path, lines: int = 25) -> str:
    """Return the last `lines` lines of a log file (or a note that it is missing)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"(no log at {path}: {exc})"
    text = data.decode("utf-8", "replace").rstrip("\n").splitlines()
    return "\n".join(text[-lines:]) if text else "(empty log)"


def _is_ip_literal(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# Data types


@dataclass(frozen=True)
class TLSFiles:
    """PEM files generated for a TLS cluster (CA, server and client certificates)."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


@dataclass(frozen=True)
class ClusterNodeEntry:
    """One line of CLUSTER NODES: identity, address, flags, primary and owned slot ranges."""

    node_id: str
    host: str
    port: int
    bus_port: int
    flags: frozenset[str]
    master_id: str | None
    link_state: str
    slots: tuple[tuple[int, int], ...]

    @property
    def myself(self) -> bool:
        return "myself" in self.flags

    @property
    def is_master(self) -> bool:
        return "master" in self.flags

    @property
    def is_replica(self) -> bool:
        return "slave" in self.flags

    @classmethod
    def parse_all(cls, text: str) -> list[ClusterNodeEntry]:
        """Parse CLUSTER NODES output; slots being migrated/imported ("[...]") are skipped."""
        entries = []
        for line in text.splitlines():
            fields = line.split()
            if len(fields) < 8:
                continue
            addr = fields[1].split(",", 1)[0]
            hostport, _, bus = addr.partition("@")
            host, _, port = hostport.rpartition(":")
            slots: list[tuple[int, int]] = []
            for token in fields[8:]:
                if token.startswith("["):
                    continue
                start, _, end = token.partition("-")
                slots.append((int(start), int(end or start)))
            entries.append(
                cls(
                    node_id=fields[0],
                    host=host,
                    port=int(port or 0),
                    bus_port=int(bus or 0),
                    flags=frozenset(fields[2].split(",")),
                    master_id=None if fields[3] == "-" else fields[3],
                    link_state=fields[7],
                    slots=tuple(slots),
                )
            )
        return entries


@dataclass(eq=False)
class LocalNode:
    """One redis-server process of a LocalCluster (identity-hashed, so usable in sets/dicts)."""

    host: str
    port: int
    bus_port: int
    dir: Path
    tls: bool = False
    pid: int | None = None
    node_id: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def log_path(self) -> Path:
        return self.dir / "redis.log"

    @property
    def config_path(self) -> Path:
        return self.dir / "redis.conf"

    def is_running(self) -> bool:
        """True while our process for this node exists and has not exited."""
        return self.process is not None and self.process.poll() is None

    def __repr__(self) -> str:
        node_id = self.node_id[:8] or "?"
        return f"LocalNode({self.host}:{self.port}, id={node_id}, pid={self.pid})"


class _Resources:
    """What must be cleaned up: our processes and maybe the temp dir (no reference to the cluster)."""

    def __init__(self, nodes: list[LocalNode]) -> None:
        self.nodes = nodes
        self.remove_dir: Path | None = None

    def cleanup(self) -> None:
        procs = [n.process for n in self.nodes if n.process is not None]
        _terminate(procs)
        for n in self.nodes:
            n.process = None
            n.pid = None
        if self.remove_dir is not None:
            shutil.rmtree(self.remove_dir, ignore_errors=True)
            self.remove_dir = None


def _terminate(procs: Iterable[subprocess.Popen[bytes]], grace: float = _STOP_GRACE) -> None:
    """SIGTERM our processes, wait up to `grace` seconds, SIGKILL stragglers, reap them all."""
    procs = list(procs)
    for p in procs:
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
                p.send_signal(signal.SIGCONT)  # in case a test paused it with SIGSTOP
            except ProcessLookupError:
                pass
    deadline = _Deadline(grace)
    for p in procs:
        try:
            p.wait(timeout=deadline.remaining())
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# --------------------------------------------------------------------------------------------
# The cluster


class LocalCluster:
    """Real redis-server processes forming a Redis Cluster on loopback, for tests and demos.

    Safety: ``host`` must be a loopback address (the servers enable DEBUG for local clients
    and often have no password); another address needs ``allow_non_loopback=True`` and a
    ``password``, and then protected mode stays on. Passwords are never put on a command
    line (argv is world-readable in /proc): the servers read them from their config file
    (mode 0600), redis-cli from REDISCLI_AUTH, and MIGRATE ... AUTH goes to redis-cli's stdin.
    """

    def __init__(
        self,
        masters: int = 3,
        replicas_per_master: int = 1,
        *,
        host: str = "127.0.0.1",
        node_timeout_ms: int = 2000,
        password: str | None = None,
        acl_users: Mapping[str, str] | None = None,
        tls: bool = False,
        tls_auth_clients: str = "optional",
        tls_server_names: Sequence[str] = ("127.0.0.1", "::1", "localhost"),
        redis_server: str | None = None,
        redis_cli: str | None = None,
        base_dir: str | None = None,
        startup_timeout: float = 60.0,
        extra_config: Mapping[str, str] | None = None,
        allow_non_loopback: bool = False,
    ) -> None:
        if masters < 1:
            raise ValueError("masters must be >= 1")
        if replicas_per_master < 0:
            raise ValueError("replicas_per_master must be >= 0")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(
                f"host must be an IP address (CLUSTER MEET needs one), got {host!r}"
            ) from None
        if not address.is_loopback:
            # Throw-away test servers (DEBUG enabled, often no password) must not be reachable
            # from other machines by accident: loopback only unless explicitly asked for.
            if not allow_non_loopback:
                raise ValueError(
                    f"host {host!r} is not a loopback address; LocalCluster binds to loopback "
                    f"only (127.0.0.0/8, ::1) unless allow_non_loopback=True is given"
                )
            if password is None:
                raise ValueError(
                    f"host {host!r} with allow_non_loopback=True needs a password: protected "
                    f"mode stays on, and it refuses non-loopback clients (replicas included) "
                    f"of a server without one"
                )
        if tls_auth_clients not in ("yes", "no", "optional"):
            raise ValueError("tls_auth_clients must be 'yes', 'no' or 'optional'")
        if isinstance(tls_server_names, str) or not tls_server_names or not all(
                isinstance(n, str) and n for n in tls_server_names):
            raise ValueError(f"tls_server_names must be a non-empty sequence of names or IP "
                             f"addresses; got {tls_server_names!r}")
        self.masters = masters
        self.replicas_per_master = replicas_per_master
        self.host = host
        self.node_timeout_ms = node_timeout_ms
        self.password = password
        self.acl_users: dict[str, str] = dict(acl_users or {})
        self.tls = tls
        self.tls_auth_clients = tls_auth_clients
        #: The names and IP addresses the (one, shared) server certificate is issued for (the
        #: first DNS name is also its common name). Cluster peers and redis-cli check only the
        #: CA, so a cert for names alone still runs the cluster (for tests of the client's name
        #: checks).
        self.tls_server_names: tuple[str, ...] = tuple(tls_server_names)
        self._redis_server_arg = redis_server
        self._redis_cli_arg = redis_cli
        self.redis_server = redis_server or "redis-server"
        self.redis_cli = redis_cli or "redis-cli"
        self.base_dir = base_dir
        self.startup_timeout = startup_timeout
        self.extra_config: dict[str, str] = dict(extra_config or {})
        #: Whether a non-loopback ``host`` was explicitly allowed (protected mode then stays on).
        self.allow_non_loopback = allow_non_loopback
        self.nodes: list[LocalNode] = []
        self.dir: Path | None = None
        self.tls_files: TLSFiles | None = None
        self.startup_seconds: float | None = None
        self._started = False
        self._replicas_at_kill: dict[str, list[str]] = {}
        self._paused: set[LocalNode] = set()
        self._cli_env = {k: v for k, v in os.environ.items() if not k.startswith("REDISCLI_")}
        self._resources = _Resources(self.nodes)
        # finalize(atexit=True) is also our atexit hook: processes never outlive the interpreter,
        # and unlike atexit.register it does not keep the cluster object alive.
        self._finalizer = weakref.finalize(self, self._resources.cleanup)

    # ---- availability ------------------------------------------------------------------------

    @classmethod
    def available(cls) -> bool:
        """True when redis-server and redis-cli are both on PATH."""
        try:
            cls.check_available()
        except RedisServerNotFound:
            return False
        return True

    @classmethod
    def check_available(cls) -> None:
        """Raise RedisServerNotFound naming the missing binary and how to install it."""
        _find_executable("redis-server", None)
        _find_executable("redis-cli", None)

    # ---- convenience properties --------------------------------------------------------------

    @property
    def startup_nodes(self) -> list[dict[str, Any]]:
        """[{"host": ..., "port": ...}] for every node (redis-py-cluster style)."""
        return [{"host": n.host, "port": n.port} for n in self.nodes]

    @property
    def ca_cert_path(self) -> Path | None:
        return self.tls_files.ca_cert if self.tls_files else None

    @property
    def client_cert_path(self) -> Path | None:
        return self.tls_files.client_cert if self.tls_files else None

    @property
    def client_key_path(self) -> Path | None:
        return self.tls_files.client_key if self.tls_files else None

    def running_nodes(self) -> list[LocalNode]:
        """Nodes whose process is currently alive."""
        return [n for n in self.nodes if n.is_running()]

    def node_by_id(self, node_id: str) -> LocalNode:
        """The LocalNode with this cluster node id."""
        for n in self.nodes:
            if n.node_id == node_id:
                return n
        raise LocalClusterError(f"no local node has id {node_id}")

    # ---- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> LocalCluster:
        """Start the processes, form the cluster and wait until it is healthy; stop all on failure."""
        if self._started:
            raise LocalClusterError("LocalCluster.start() may be called only once; create a new one")
        self._started = True
        self.redis_server = _find_executable("redis-server", self._redis_server_arg)
        self.redis_cli = _find_executable("redis-cli", self._redis_cli_arg)
        t0 = time.monotonic()
        deadline = _Deadline(self.startup_timeout)
        try:
            self._prepare_dir()
            if self.tls:
                self.tls_files = self._make_tls_files()
            total = self.masters * (1 + self.replicas_per_master)
            ports = _reserve_ports(self.host, 2 * total)
            for i in range(total):
                node_dir = self._dir() / f"node-{i}"
                node_dir.mkdir(parents=True)
                self.nodes.append(
                    LocalNode(self.host, ports[2 * i], ports[2 * i + 1], node_dir, tls=self.tls)
                )
            for n in self.nodes:
                self._write_config(n)
                self._popen(n)
            for n in self.nodes:
                self._wait_started(n, deadline)
            self._form_cluster(deadline)
        except BaseException as exc:
            message = self._failure_report(f"LocalCluster failed to start: {exc}")
            self.stop()
            if not isinstance(exc, Exception) or isinstance(exc, RedisServerNotFound):
                raise
            raise LocalClusterError(message) from exc
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        """Stop our processes (SIGTERM, then SIGKILL) and remove the temp dir; idempotent."""
        self._finalizer()

    def _prepare_dir(self) -> None:
        if self.base_dir is not None:
            path = Path(self.base_dir)
            path.mkdir(parents=True, exist_ok=True)
            self.dir = Path(tempfile.mkdtemp(prefix="cluster-", dir=path))
        else:
            self.dir = Path(tempfile.mkdtemp(prefix="clustercore-cluster-"))
            self._resources.remove_dir = self.dir

    def _dir(self) -> Path:
        if self.dir is None:
            raise LocalClusterError("cluster is not started")
        return self.dir

    def _failure_report(self, headline: str) -> str:
        """Headline plus log tails: of nodes that exited, else a few lines of every node."""
        dead = [n for n in self.nodes if n.process is not None and n.process.poll() is not None]
        parts = [headline]
        for n in dead or self.nodes:
            if str(n.log_path) in headline:
                continue  # its tail is already in the message
            lines = 25 if dead else 6
            parts.append(
                f"--- tail of {n.log_path} ({n.host}:{n.port}) ---\n{_log_tail(n.log_path, lines)}"
            )
        return "\n".join(parts)

    # ---- TLS ---------------------------------------------------------------------------------

    def _make_tls_files(self) -> TLSFiles:
        """Generate a throw-away CA plus a server certificate for ``tls_server_names`` (by
        default 127.0.0.1, ::1 and localhost) and a client certificate."""
        try:
            import trustme
        except ImportError:
            raise LocalClusterError(
                "tls=True needs the 'trustme' package to generate certificates; "
                "install it with: pip install trustme (it is in clustercore's dev extra)"
            ) from None
        tls_dir = self._dir() / "tls"
        tls_dir.mkdir()
        ca = trustme.CA()
        names = self.tls_server_names
        dns = [n for n in names if not _is_ip_literal(n)]
        server = ca.issue_cert(*names, common_name=(dns or list(names))[0])
        client = ca.issue_cert("client.clustercore.test", common_name="clustercore-client")
        files = TLSFiles(
            ca_cert=tls_dir / "ca.crt",
            ca_key=tls_dir / "ca.key",
            server_cert=tls_dir / "server.crt",
            server_key=tls_dir / "server.key",
            client_cert=tls_dir / "client.crt",
            client_key=tls_dir / "client.key",
        )
        ca.cert_pem.write_to_path(str(files.ca_cert))
        ca.private_key_pem.write_to_path(str(files.ca_key))
        server.cert_chain_pems[0].write_to_path(str(files.server_cert))
        server.private_key_pem.write_to_path(str(files.server_key))
        client.cert_chain_pems[0].write_to_path(str(files.client_cert))
        client.private_key_pem.write_to_path(str(files.client_key))
        return files

    # ---- processes ---------------------------------------------------------------------------

    def _config_lines(self, node: LocalNode) -> list[tuple[str, list[str]]]:
        lines: list[tuple[str, list[str]]] = [("bind", [node.host])]
        if self.tls:
            assert self.tls_files is not None
            lines += [
                ("port", ["0"]),
                ("tls-port", [str(node.port)]),
                ("tls-cert-file", [str(self.tls_files.server_cert)]),
                ("tls-key-file", [str(self.tls_files.server_key)]),
                ("tls-ca-cert-file", [str(self.tls_files.ca_cert)]),
                ("tls-cluster", ["yes"]),
                ("tls-replication", ["yes"]),
                ("tls-auth-clients", [self.tls_auth_clients]),
            ]
        else:
            lines.append(("port", [str(node.port)]))
        lines += [
            ("cluster-enabled", ["yes"]),
            ("cluster-config-file", ["nodes.conf"]),
            ("cluster-node-timeout", [str(self.node_timeout_ms)]),
            ("cluster-port", [str(node.bus_port)]),
            ("cluster-require-full-coverage", ["yes"]),
            ("cluster-allow-replica-migration", ["no"]),
            # Always allow a replica to fail over (deterministic tests, whatever its data age).
            ("cluster-replica-validity-factor", ["0"]),
            ("dir", [str(node.dir)]),
            ("save", [""]),
            ("appendonly", ["no"]),
            # Off only on loopback (where it changes nothing but is one less surprise);
            # exposed on another address, the server keeps Redis' own guard.
            ("protected-mode", ["yes" if self.allow_non_loopback else "no"]),
            ("daemonize", ["no"]),
            ("logfile", [str(node.log_path)]),
            # Fast replica sync and fast shutdown: no diskless-sync batching delay, no waiting
            # for replicas on SIGTERM (tests do not need durability).
            ("repl-diskless-sync-delay", ["0"]),
            ("shutdown-timeout", ["0"]),
            ("enable-debug-command", ["local"]),
        ]
        # Secrets live in the config file (mode 0600), never on a command line: argv is
        # world-readable in /proc/<pid>/cmdline.
        if self.password is not None:
            lines += [("requirepass", [self.password]), ("masterauth", [self.password])]
        for user, pw in self.acl_users.items():
            lines.append(("user", [user, "on", ">" + pw, "~*", "&*", "+@all"]))
        return lines

    def _write_config(self, node: LocalNode) -> None:
        lines = self._config_lines(node)
        overridden = set(self.extra_config)
        text = [
            f"{k} {' '.join(_conf_arg(a) for a in args)}" for k, args in lines if k not in overridden
        ]
        text += [f"{k} {v}" for k, v in self.extra_config.items()]
        # Owner-only from creation on: the file holds requirepass/masterauth and ACL passwords.
        fd = os.open(node.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as config:
            config.write("\n".join(text) + "\n")

    def _popen(self, node: LocalNode) -> None:
        with open(node.log_path, "ab") as log:
            node.process = subprocess.Popen(
                [self.redis_server, str(node.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(node.dir),
                start_new_session=True,
            )
        node.pid = node.process.pid

    def _wait_started(self, node: LocalNode, deadline: _Deadline) -> None:
        """Wait until the node answers PING; re-pick its ports if they were taken meanwhile."""
        for attempt in range(_PORT_RETRIES + 1):
            try:
                self._wait_ping(node, deadline)
                return
            except LocalClusterError:
                exited = node.process is not None and node.process.poll() is not None
                if (
                    exited
                    and attempt < _PORT_RETRIES
                    and "already in use" in _log_tail(node.log_path, 10)
                ):
                    node.port, node.bus_port = _reserve_ports(self.host, 2)
                    self._write_config(node)
                    self._popen(node)
                    continue
                raise

    def _wait_ping(self, node: LocalNode, deadline: _Deadline) -> None:
        last = ""
        while True:
            if node.process is None or node.process.poll() is not None:
                code = node.process.returncode if node.process is not None else None
                raise LocalClusterError(
                    f"redis-server for {node.host}:{node.port} exited with code {code}\n"
                    f"--- tail of {node.log_path} ---\n{_log_tail(node.log_path)}"
                )
            try:
                # Short per-attempt timeout: a foreign listener on a stolen port may never answer.
                res = self.run_cli(node, "PING", timeout=1.0)
            except LocalClusterError as exc:
                last = str(exc)
            else:
                if res.returncode == 0 and res.stdout.strip() == "PONG":
                    return
                last = (res.stdout + res.stderr).strip()
            if deadline.expired():
                raise LocalClusterError(
                    f"{node.host}:{node.port} did not answer PING within {deadline.timeout:.1f}s "
                    f"(last reply: {last!r})\n"
                    f"--- tail of {node.log_path} ---\n{_log_tail(node.log_path)}"
                )
            time.sleep(_POLL_INTERVAL)

    # ---- redis-cli ---------------------------------------------------------------------------

    def _credentials(self) -> tuple[str | None, str | None]:
        """Default admin credentials: the password (default user), else the first ACL user."""
        if self.password is not None:
            return None, self.password
        for user, pw in self.acl_users.items():
            return user, pw
        return None, None

    def cli_command(
        self,
        node: LocalNode,
        *args: str,
        username: str | None = None,
        password: str | None = None,
        no_auth: bool = False,
        tls: bool | None = None,
    ) -> list[str]:
        """The redis-cli argv for `args` against `node` (TLS and user options included).

        The password is never on it (argv is world-readable in /proc/<pid>/cmdline): run the
        argv with :meth:`cli_env` (same credentials), which passes it in REDISCLI_AUTH.
        """
        cmd = [self.redis_cli, "-h", node.host, "-p", str(node.port), "-e", "--no-auth-warning"]
        if self.tls if tls is None else tls:
            if self.tls_files is None:
                raise LocalClusterError("this cluster has no TLS files")
            cmd += ["--tls", "--cacert", str(self.tls_files.ca_cert)]
            cmd += ["--cert", str(self.tls_files.client_cert), "--key", str(self.tls_files.client_key)]
        username, password = self._cli_auth(username, password, no_auth)
        if password is not None and username is not None:
            cmd += ["--user", username]
        cmd += list(args)
        return cmd

    def cli_env(
        self, *, username: str | None = None, password: str | None = None, no_auth: bool = False
    ) -> dict[str, str]:
        """The environment to run a :meth:`cli_command` argv with: REDISCLI_AUTH holds the
        password (the caller's REDISCLI_* variables are dropped)."""
        env = dict(self._cli_env)
        password = self._cli_auth(username, password, no_auth)[1]
        if password is not None:
            env["REDISCLI_AUTH"] = password
        return env

    def _cli_auth(
        self, username: str | None, password: str | None, no_auth: bool
    ) -> tuple[str | None, str | None]:
        """The credentials a redis-cli call uses: the given ones, else the admin's."""
        if username is None and password is None and not no_auth:
            return self._credentials()
        return username, password

    def run_cli(
        self,
        node: LocalNode,
        *args: str,
        timeout: float = 10.0,
        username: str | None = None,
        password: str | None = None,
        no_auth: bool = False,
        tls: bool | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run redis-cli and return the completed process without checking it (for failure tests)."""
        return self._run_cli(
            node, args, None, timeout, username=username, password=password, no_auth=no_auth,
            tls=tls,
        )

    def _run_cli(
        self,
        node: LocalNode,
        args: Sequence[str],
        stdin: bytes | None,
        timeout: float,
        **auth: Any,
    ) -> subprocess.CompletedProcess[str]:
        """redis-cli with `args`, `stdin` as its input (commands, one a line) or none."""
        tls = auth.pop("tls", None)
        cmd = self.cli_command(node, *args, tls=tls, **auth)
        label = " ".join(args) or "(commands on stdin)"
        try:
            res = subprocess.run(
                cmd,
                input=stdin,
                stdin=subprocess.DEVNULL if stdin is None else None,
                capture_output=True,
                timeout=timeout,
                env=self.cli_env(**auth),
            )
        except subprocess.TimeoutExpired:
            raise LocalClusterError(
                f"redis-cli {label} on {node.host}:{node.port} timed out after {timeout}s"
            ) from None
        return subprocess.CompletedProcess(
            res.args,
            res.returncode,
            res.stdout.decode("utf-8", "surrogateescape"),
            res.stderr.decode("utf-8", "surrogateescape"),
        )

    def cli(self, node: LocalNode, *args: str, timeout: float = 10.0) -> str:
        """Run one command with redis-cli against `node`; return its raw output, raise on error."""
        res = self.run_cli(node, *args, timeout=timeout)
        if res.returncode != 0:
            detail = res.stderr.strip() or res.stdout.strip() or "(no output)"
            raise LocalClusterError(
                f"redis-cli {' '.join(args)} on {node.host}:{node.port} failed "
                f"(exit {res.returncode}): {detail}"
            )
        return res.stdout.rstrip("\n")

    def info(self, node: LocalNode, section: str = "", *, timeout: float = 10.0) -> dict[str, str]:
        """INFO <section> of a node as a dict."""
        args = ("INFO", section) if section else ("INFO",)
        return _parse_info(self.cli(node, *args, timeout=timeout))

    def cluster_info(self, node: LocalNode, *, timeout: float = 10.0) -> dict[str, str]:
        """CLUSTER INFO of a node as a dict."""
        return _parse_info(self.cli(node, "CLUSTER", "INFO", timeout=timeout))

    def cluster_nodes(self, node: LocalNode, *, timeout: float = 10.0) -> list[ClusterNodeEntry]:
        """CLUSTER NODES as seen by `node`."""
        return ClusterNodeEntry.parse_all(self.cli(node, "CLUSTER", "NODES", timeout=timeout))

    def _self_entry(self, node: LocalNode) -> ClusterNodeEntry:
        for e in self.cluster_nodes(node):
            if e.myself:
                return e
        raise LocalClusterError(f"{node!r}: no 'myself' line in CLUSTER NODES")

    # ---- forming the cluster -----------------------------------------------------------------

    def _form_cluster(self, deadline: _Deadline) -> None:
        primaries = self.nodes[: self.masters]
        for i, n in enumerate(self.nodes):
            n.node_id = self.cli(n, "CLUSTER", "MYID").strip()
            # Distinct config epochs up front, as redis-cli --cluster create does: no collisions.
            self.cli(n, "CLUSTER", "SET-CONFIG-EPOCH", str(i + 1))
        for i, p in enumerate(primaries):
            start = i * NUM_SLOTS // self.masters
            end = (i + 1) * NUM_SLOTS // self.masters - 1
            self.cli(p, "CLUSTER", "ADDSLOTSRANGE", str(start), str(end))
        # Full-mesh MEET: every pair shakes hands directly instead of waiting for gossip.
        for i, a in enumerate(self.nodes):
            for b in self.nodes[i + 1 :]:
                self.cli(a, "CLUSTER", "MEET", b.host, str(b.port), str(b.bus_port))
        # REPLICATE as soon as each replica knows its primary, overlapping the ~2 s during
        # which new primaries keep cluster_state:fail anyway.
        for i, p in enumerate(primaries):
            start = self.masters + i * self.replicas_per_master
            for r in self.nodes[start : start + self.replicas_per_master]:
                self._wait_knows(r, p, deadline)
                self.cli(r, "CLUSTER", "REPLICATE", p.node_id)
        self._wait_all_know(self.nodes, deadline)
        self.wait_healthy(timeout=deadline.remaining())
        self._warm_replication(deadline)

    def _warm_replication(self, deadline: _Deadline) -> None:
        """Give every replica a non-zero replication offset, as in any cluster that saw a write.

        Redis 7.0 treats a replica whose offset is still 0 as "loading": CLUSTER SLOTS leaves it
        out and CLUSTER SHARDS reports health "loading", so a brand-new empty cluster would look
        replica-less to clients. A SET + DEL per primary replicates without leaving a key behind.
        """
        if not self.replicas_per_master:
            return
        for p in self.nodes[: self.masters]:
            tag = f"{{{self._slot_tag(p)}}}__localcluster_warm"
            self.cli(p, "SET", tag, "1")
            self.cli(p, "DEL", tag)
        while True:
            problem = self._replicas_listed_problem()
            if problem is None:
                return
            if deadline.expired():
                raise LocalClusterError(f"replicas not advertised in time: {problem}")
            time.sleep(_POLL_INTERVAL)

    def _slot_tag(self, primary: LocalNode) -> str:
        """A hash tag in ``primary``'s slot range from the initial even split (stdlib CRC16)."""
        i = self.nodes.index(primary)
        start, end = i * NUM_SLOTS // self.masters, (i + 1) * NUM_SLOTS // self.masters - 1
        for n in range(1_000_000):
            if start <= binascii.crc_hqx(f"t{n}".encode(), 0) % NUM_SLOTS <= end:
                return f"t{n}"
        raise LocalClusterError(f"no hash tag found for {primary!r}")

    def _replicas_listed_problem(self) -> str | None:
        """None when every running node's CLUSTER SHARDS shows no replica as "loading"."""
        for n in self.running_nodes():
            try:
                text = self.cli(n, "CLUSTER", "SHARDS")
            except LocalClusterError as exc:
                return str(exc)
            if "\nloading\n" in f"\n{text}\n":
                return f"{n!r} still reports a replica as loading"
        return None

    def _wait_knows(self, node: LocalNode, other: LocalNode, deadline: _Deadline) -> None:
        """Wait until `node` lists `other` as a known (not handshake) node."""
        while True:
            for e in self.cluster_nodes(node):
                if e.node_id == other.node_id and not e.flags & {"handshake", "noaddr"}:
                    return
            if deadline.expired():
                raise LocalClusterError(
                    f"{node!r} did not get to know {other!r} within {deadline.timeout:.1f}s"
                )
            time.sleep(_POLL_INTERVAL)

    def _wait_all_know(self, nodes: Sequence[LocalNode], deadline: _Deadline) -> None:
        """Wait until each running node lists all of `nodes` (by id) without handshake/noaddr."""
        wanted = {n.node_id for n in nodes}
        problem = ""
        while True:
            problem = ""
            for n in self.running_nodes():
                entries = {e.node_id: e for e in self.cluster_nodes(n)}
                missing = wanted - entries.keys()
                bad = [e.node_id[:8] for e in entries.values() if e.flags & {"handshake", "noaddr"}]
                if missing or bad:
                    problem = (
                        f"{n!r} does not know {sorted(m[:8] for m in missing)} yet (handshake: {bad})"
                    )
                    break
                if not all(other.node_id in entries for other in self.running_nodes()):
                    problem = f"{n!r} does not know every running node yet"
                    break
            if not problem:
                return
            if deadline.expired():
                raise LocalClusterError(
                    f"nodes did not all meet within {deadline.timeout:.1f}s: {problem}"
                )
            time.sleep(_POLL_INTERVAL)

    # ---- health ------------------------------------------------------------------------------

    def health_problem(self, cli_timeout: float = 10.0) -> str | None:
        """One round of the health check: None when healthy, else a description of what is not."""
        running = self.running_nodes()
        if not running:
            return "no node is running"
        running_ids = {n.node_id for n in running}
        reference: tuple[object, object] | None = None
        reference_node: LocalNode | None = None
        for n in running:
            try:
                info = self.cluster_info(n, timeout=cli_timeout)
                entries = self.cluster_nodes(n, timeout=cli_timeout)
            except LocalClusterError as exc:
                return str(exc)
            if info.get("cluster_state") != "ok" or info.get("cluster_slots_ok") != str(NUM_SLOTS):
                return f"{n!r} CLUSTER INFO: {info}"
            by_id = {e.node_id: e for e in entries}
            missing = running_ids - by_id.keys()
            if missing:
                return f"{n!r} does not know running nodes {sorted(m[:8] for m in missing)}"
            for rid in sorted(running_ids):
                e = by_id[rid]
                if e.flags & _BAD_FLAGS:
                    return f"{n!r} sees {rid[:8]} with flags {','.join(sorted(e.flags))}"
                if not e.myself and e.link_state != "connected":
                    return f"{n!r} has its link to {rid[:8]} {e.link_state}"
            slot_map = sorted((s, t, e.node_id) for e in entries if e.is_master for s, t in e.slots)
            covered = sum(t - s + 1 for s, t, _ in slot_map)
            if covered != NUM_SLOTS:
                return f"{n!r} sees {covered} of {NUM_SLOTS} slots assigned"
            dead_owners = {owner for _, _, owner in slot_map} - running_ids
            if dead_owners:
                dead = sorted(d[:8] for d in dead_owners)
                return f"{n!r} maps slots to nodes that are not running: {dead}"
            roles = sorted(
                (rid, "master" if by_id[rid].is_master else "slave", by_id[rid].master_id)
                for rid in running_ids
            )
            me = by_id[n.node_id]
            if me.is_replica:
                if me.master_id not in running_ids:
                    return f"{n!r} replicates {me.master_id}, which is not running"
                try:
                    repl = self.info(n, "replication", timeout=cli_timeout)
                except LocalClusterError as exc:
                    return str(exc)
                if repl.get("master_link_status") != "up" or repl.get("master_sync_in_progress") != "0":
                    return (
                        f"replica {n!r}: master_link_status={repl.get('master_link_status')} "
                        f"master_sync_in_progress={repl.get('master_sync_in_progress')}"
                    )
            view = (slot_map, roles)
            if reference is None:
                reference, reference_node = view, n
            elif view != reference:
                return f"{n!r} and {reference_node!r} disagree on slots/roles"
        return None

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Wait until every running node has cluster_state:ok and all agree on slots and roles."""
        deadline = _Deadline(timeout)
        while True:
            problem = self.health_problem(cli_timeout=min(10.0, max(1.0, deadline.remaining())))
            if problem is None:
                return
            if deadline.expired():
                raise LocalClusterError(f"cluster not healthy after {timeout:.1f}s: {problem}")
            time.sleep(_POLL_INTERVAL)

    def heal(self, timeout: float = 30.0) -> None:
        """Resume paused nodes, restart any node whose process died, then wait until healthy."""
        deadline = _Deadline(timeout)
        for n in list(self._paused):
            self.resume(n)
        for n in self.nodes:
            if n.process is not None and not n.is_running():
                self.restart(n)
        self.wait_healthy(timeout=deadline.remaining())

    # ---- live roles --------------------------------------------------------------------------

    def primaries(self) -> list[LocalNode]:
        """Running nodes that currently say they are primaries."""
        return [n for n in self.running_nodes() if self._self_entry(n).is_master]

    def replicas(self) -> list[LocalNode]:
        """Running nodes that currently say they are replicas."""
        return [n for n in self.running_nodes() if self._self_entry(n).is_replica]

    def replicas_of(self, primary: LocalNode) -> list[LocalNode]:
        """Running nodes that currently replicate `primary`."""
        result = []
        for n in self.running_nodes():
            e = self._self_entry(n)
            if e.is_replica and e.master_id == primary.node_id:
                result.append(n)
        return result

    def primary_of(self, replica: LocalNode) -> LocalNode:
        """The node `replica` currently replicates (asked to the replica itself)."""
        e = self._self_entry(replica)
        if not e.is_replica or e.master_id is None:
            raise LocalClusterError(f"{replica!r} is not a replica")
        return self.node_by_id(e.master_id)

    def slot_owner(self, slot: int) -> LocalNode:
        """The primary serving `slot`, per the first running node's CLUSTER NODES."""
        if not 0 <= slot < NUM_SLOTS:
            raise ValueError(f"slot out of range: {slot}")
        running = self.running_nodes()
        if not running:
            raise LocalClusterError("no node is running")
        for e in self.cluster_nodes(running[0]):
            if e.is_master and any(s <= slot <= t for s, t in e.slots):
                return self.node_by_id(e.node_id)
        raise LocalClusterError(f"slot {slot} is not assigned according to {running[0]!r}")

    def key_slot(self, key: str) -> int:
        """CLUSTER KEYSLOT computed by the server (independent of clustercore's own key_slot)."""
        return int(self.cli(self.running_nodes()[0], "CLUSTER", "KEYSLOT", key))

    # ---- faults ------------------------------------------------------------------------------

    def kill(self, node: LocalNode, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to that node's pid only and wait until it is reaped (SIGSTOP/SIGCONT: no wait)."""
        if not node.is_running() or node.process is None:
            return
        if sig in (signal.SIGSTOP, signal.SIGTSTP):
            node.process.send_signal(sig)
            self._paused.add(node)
            return
        if sig == signal.SIGCONT:
            node.process.send_signal(sig)
            self._paused.discard(node)
            return
        if node.node_id and node not in self._paused:
            try:  # remember its replicas, for wait_failover_after_kill
                out = self.cli(node, "CLUSTER", "NODES", timeout=2.0)
                self._replicas_at_kill[node.node_id] = [
                    e.node_id
                    for e in ClusterNodeEntry.parse_all(out)
                    if e.is_replica and e.master_id == node.node_id
                ]
            except LocalClusterError:
                pass
        node.process.send_signal(sig)
        if node in self._paused:
            node.process.send_signal(signal.SIGCONT)  # let a stopped process act on the signal
            self._paused.discard(node)
        try:
            node.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise LocalClusterError(f"{node!r} still running 10s after signal {sig}") from None
        node.pid = None

    def pause(self, node: LocalNode) -> None:
        """SIGSTOP the node (it stays connected but stops answering), e.g. to fake a hang."""
        self.kill(node, signal.SIGSTOP)

    def resume(self, node: LocalNode) -> None:
        """SIGCONT a paused node."""
        self.kill(node, signal.SIGCONT)

    def restart(self, node: LocalNode, timeout: float = 30.0) -> None:
        """Start a stopped node again on the same port and dir/nodes.conf; wait until it PINGs."""
        if node.is_running():
            raise LocalClusterError(f"{node!r} is still running; kill it first")
        if node not in self.nodes:
            raise LocalClusterError(f"{node!r} does not belong to this cluster")
        self._replicas_at_kill.pop(node.node_id, None)
        self._popen(node)
        try:
            self._wait_ping(node, _Deadline(timeout))
        except LocalClusterError as exc:
            raise LocalClusterError(f"restart of {node!r} failed: {exc}") from None
        if node.node_id:
            node_id = self.cli(node, "CLUSTER", "MYID").strip()
            if node_id != node.node_id:
                raise LocalClusterError(f"{node!r} came back with a different id {node_id}")

    def failover(self, replica: LocalNode, *, force: bool = False, timeout: float = 30.0) -> None:
        """CLUSTER FAILOVER [FORCE] on `replica`; wait until it is a primary and all is healthy."""
        deadline = _Deadline(timeout)
        if not self._self_entry(replica).is_replica:
            raise LocalClusterError(f"{replica!r} is not a replica")
        self.cli(replica, "CLUSTER", "FAILOVER", *(["FORCE"] if force else []))
        while not self._self_entry(replica).is_master:
            if deadline.expired():
                raise LocalClusterError(f"{replica!r} was not promoted within {timeout:.1f}s")
            time.sleep(_POLL_INTERVAL)
        self.wait_healthy(timeout=deadline.remaining())

    def wait_failover_after_kill(self, killed_primary: LocalNode, timeout: float = 30.0) -> LocalNode:
        """Wait until a replica of the killed primary is promoted and survivors are ok; return it."""
        deadline = _Deadline(timeout)
        candidate_ids = list(self._replicas_at_kill.get(killed_primary.node_id, []))
        if not candidate_ids:
            for n in self.running_nodes():
                for e in self.cluster_nodes(n):
                    if e.is_replica and e.master_id == killed_primary.node_id:
                        candidate_ids.append(e.node_id)
                break
        candidates = [self.node_by_id(i) for i in dict.fromkeys(candidate_ids)]
        if not candidates:
            raise LocalClusterError(f"{killed_primary!r} has no replica that could be promoted")
        last = "no candidate promoted yet"
        while True:
            for c in candidates:
                if not c.is_running() or not self._self_entry(c).is_master:
                    continue
                last = self._survivors_problem(c)
                if not last:
                    return c
            if deadline.expired():
                raise LocalClusterError(
                    f"no replica of {killed_primary!r} took over within {timeout:.1f}s: {last}"
                )
            time.sleep(_POLL_INTERVAL)

    def _survivors_problem(self, new_primary: LocalNode) -> str:
        for n in self.running_nodes():
            info = self.cluster_info(n)
            if info.get("cluster_state") != "ok":
                return f"{n!r} CLUSTER INFO: {info}"
            view = {e.node_id: e for e in self.cluster_nodes(n)}
            e = view.get(new_primary.node_id)
            if e is None or not e.is_master:
                return f"{n!r} does not see {new_primary!r} as a primary yet"
        return ""

    # ---- topology changes --------------------------------------------------------------------

    def add_node(self, *, replica_of: LocalNode | None = None, timeout: float = 30.0) -> LocalNode:
        """Start a new node, CLUSTER MEET it, optionally REPLICATE; wait until everyone knows it."""
        deadline = _Deadline(timeout)
        existing = self.running_nodes()
        if not existing:
            raise LocalClusterError("no running node to meet")
        port, bus_port = _reserve_ports(self.host, 2)
        node_dir = self._dir() / f"node-{len(self.nodes)}"
        node_dir.mkdir(parents=True)
        node = LocalNode(self.host, port, bus_port, node_dir, tls=self.tls)
        self.nodes.append(node)
        self._write_config(node)
        self._popen(node)
        try:
            self._wait_started(node, deadline)
            node.node_id = self.cli(node, "CLUSTER", "MYID").strip()
            for peer in existing:
                self.cli(node, "CLUSTER", "MEET", peer.host, str(peer.port), str(peer.bus_port))
            if replica_of is not None:
                self._wait_knows(node, replica_of, deadline)
                self.cli(node, "CLUSTER", "REPLICATE", replica_of.node_id)
            self._wait_all_know(self.running_nodes(), deadline)
            self.wait_healthy(timeout=deadline.remaining())
        except LocalClusterError as exc:
            raise LocalClusterError(self._failure_report(f"add_node failed: {exc}")) from None
        return node

    def migrate_slots(
        self,
        slots: Sequence[int],
        source: LocalNode,
        target: LocalNode,
        *,
        keys_batch: int = 100,
        between_keys: Callable[[], None] | None = None,
        migrate_timeout_ms: int = 5000,
        timeout: float = 60.0,
    ) -> None:
        """Reshard `slots` from source to target with IMPORTING/MIGRATING, MIGRATE and SETSLOT NODE.

        `between_keys` runs after every MIGRATE batch (at least once per slot) while the slot is
        half-migrated, so a test can produce ASK redirects.
        """
        deadline = _Deadline(timeout)
        if source is target:
            raise ValueError("source and target must differ")
        auth: list[str] = []
        user, pw = self._credentials()
        if pw is not None:
            auth = ["AUTH2", user, pw] if user is not None else ["AUTH", pw]
        others = [p for p in self.primaries() if p is not source and p is not target]
        for slot in slots:
            self.cli(target, "CLUSTER", "SETSLOT", str(slot), "IMPORTING", source.node_id)
            self.cli(source, "CLUSTER", "SETSLOT", str(slot), "MIGRATING", target.node_id)
            called = False
            while True:
                keys = self._keys_in_slot(source, slot, keys_batch)
                if not keys:
                    break
                args = [target.host, str(target.port), "", "0", str(migrate_timeout_ms), *auth, "KEYS"]
                quoted = [_quote_arg(a.encode()) for a in ["MIGRATE", *args]]
                quoted += [_quote_arg(k) for k in keys]
                # On stdin, not argv: MIGRATE's AUTH carries the password. (redis-cli reading
                # commands from stdin exits 0 on an error reply, so the reply is checked.)
                res = self._run_cli(
                    source, (), (" ".join(quoted) + "\n").encode(),
                    max(1.0, deadline.remaining()),
                )
                if res.returncode != 0 or res.stdout.strip() not in ("OK", "NOKEY"):
                    raise LocalClusterError(
                        f"MIGRATE of {len(keys)} keys in slot {slot} from {source!r} to {target!r} "
                        f"failed: {(res.stderr or res.stdout).strip()}"
                    )
                if between_keys is not None:
                    between_keys()
                    called = True
                if deadline.expired():
                    raise LocalClusterError(
                        f"migrating slot {slot} did not finish within {timeout:.1f}s"
                    )
            if between_keys is not None and not called:
                between_keys()
            self.cli(target, "CLUSTER", "SETSLOT", str(slot), "NODE", target.node_id)
            self.cli(source, "CLUSTER", "SETSLOT", str(slot), "NODE", target.node_id)
            for p in others:
                self.cli(p, "CLUSTER", "SETSLOT", str(slot), "NODE", target.node_id)
        self._wait_slots_owned(slots, target, deadline)

    def _keys_in_slot(self, node: LocalNode, slot: int, count: int) -> list[bytes]:
        out = self.cli(node, "--quoted-json", "-2", "CLUSTER", "GETKEYSINSLOT", str(slot), str(count))
        return [_unrepr(k) for k in json.loads(out)]

    def _wait_slots_owned(self, slots: Sequence[int], target: LocalNode, deadline: _Deadline) -> None:
        """Wait until every running node maps each of `slots` to `target`."""
        wanted = set(slots)
        while True:
            problem = ""
            for n in self.running_nodes():
                owned: set[int] = set()
                for e in self.cluster_nodes(n):
                    if e.node_id == target.node_id:
                        owned = {s for s in wanted if any(a <= s <= b for a, b in e.slots)}
                if owned != wanted:
                    problem = f"{n!r} does not yet map slots {sorted(wanted - owned)[:10]} to {target!r}"
                    break
            if not problem:
                return
            if deadline.expired():
                raise LocalClusterError(f"slot ownership did not converge: {problem}")
            time.sleep(_POLL_INTERVAL)
