"""Connection options shared by every command: seeds, TLS, user, password, remapping.

Seeds are ``host:port``, ``[v6addr]:port`` or ``redis://`` / ``rediss://`` URLs (several
``host:port`` after one scheme, comma-separated, as redis-py-cluster's URLs allow). A password is
never taken from the command line (argv is readable by every local user through /proc): it
comes from an environment variable named by ``--password-env`` or from a prompt that does not
echo (``--ask-password``), and a URL carrying one is refused with the way to pass it instead.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar

import click

import clustercore

from .errors import CliError, Exit

__all__ = ["ConnectOptions", "connection_options", "parse_seed", "probe_connection"]

_HOSTPORT = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]/@]+)):(?P<port>\d+)$")
F = TypeVar("F", bound=Callable[..., Any])


def parse_hostport(text: str) -> Tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port); CliError (usage) naming a bad one."""
    match = _HOSTPORT.match(text.strip())
    if match is None:
        raise CliError(f"not a host:port: {text!r} (for IPv6 write [::1]:7000)", Exit.USAGE)
    port = int(match.group("port"))
    if not 0 < port < 65536:
        raise CliError(f"port out of range in {text!r} (1-65535)", Exit.USAGE)
    return (match.group("v6") or match.group("host"), port)


def parse_seed(text: str) -> Tuple[List[Tuple[str, int]], Optional[str], bool]:
    """One seed argument -> (addresses, user name from the URL or None, TLS asked by rediss)."""
    scheme, sep, rest = text.partition("://")
    if not sep:
        return [parse_hostport(text)], None, False
    if scheme not in ("redis", "rediss"):
        raise CliError(f"unknown URL scheme {scheme!r} in {text!r} (redis:// or rediss://)",
                       Exit.USAGE)
    user: Optional[str] = None
    if "@" in rest:
        creds, _, rest = rest.rpartition("@")
        name, has_pw, _pw = creds.partition(":")
        if has_pw:
            # The password itself is left out of the message on purpose.
            raise CliError(
                "the seed URL carries a password, which would be visible to every local user "
                "in the process list; drop it and pass it with --password-env VAR or "
                "--ask-password", Exit.USAGE)
        user = name or None
    rest = rest.split("/", 1)[0].split("?", 1)[0]
    if not rest:
        raise CliError(f"no host:port in {text!r}", Exit.USAGE)
    return [parse_hostport(part) for part in rest.split(",")], user, scheme == "rediss"


@dataclass
class ConnectOptions:
    """What a command needs to reach a cluster, resolved from the common options."""

    seeds: List[Tuple[str, int]]
    username: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)
    tls: bool = False
    ca: Optional[str] = None
    cert: Optional[str] = None
    key: Optional[str] = None
    check_hostname: bool = True
    server_name: Optional[str] = None
    timeout: float = 2.0
    remap: Dict[Tuple[str, int], Tuple[str, int]] = field(default_factory=dict)

    def connection_kwargs(self) -> Dict[str, Any]:
        """Keywords for ClusterConnection / SSLClusterConnection and RedisCluster."""
        kwargs: Dict[str, Any] = {
            "username": self.username, "password": self.password,
            "socket_timeout": self.timeout, "socket_connect_timeout": self.timeout,
        }
        if self.tls:
            kwargs.update(ssl_ca_certs=self.ca, ssl_certfile=self.cert, ssl_keyfile=self.key,
                          ssl_check_hostname=self.check_hostname)
            if self.server_name is not None:
                kwargs["server_hostname"] = self.server_name
        return kwargs

    def client(self, **extra: Any) -> clustercore.RedisCluster:
        """A RedisCluster over the seeds (discovery happens here: errors propagate)."""
        kwargs = self.connection_kwargs()
        if self.tls:
            kwargs["ssl"] = True
        if self.remap:
            kwargs["host_port_remap"] = dict(self.remap)
        kwargs.setdefault("retry_deadline", max(1.0, 2 * self.timeout))
        kwargs.update(extra)
        return clustercore.RedisCluster(
            startup_nodes=[{"host": h, "port": p} for h, p in self.seeds], **kwargs)

    def secrets(self) -> List[Optional[str]]:
        """What must never appear in output (see errors.scrub)."""
        return [self.password]


def probe_connection(options: ConnectOptions, host: str, port: int) -> clustercore.ClusterConnection:
    """A dedicated, unpooled connection to one node (connect() not called yet)."""
    kwargs = options.connection_kwargs()
    if options.tls:
        return clustercore.SSLClusterConnection(host=host, port=port, **kwargs)
    return clustercore.ClusterConnection(host=host, port=port, **kwargs)


def _resolve(seeds: Tuple[str, ...], user: Optional[str], password_env: Optional[str],
             ask_password: bool, tls: bool, ca: Optional[str], cert: Optional[str],
             key: Optional[str], insecure_hostname: bool, tls_server_name: Optional[str],
             timeout: float, remap: Tuple[str, ...]) -> ConnectOptions:
    if not seeds:
        raise CliError("give at least one seed: URL or host:port (e.g. 127.0.0.1:7000)",
                       Exit.USAGE)
    addresses: List[Tuple[str, int]] = []
    for seed in seeds:
        found, url_user, url_tls = parse_seed(seed)
        addresses.extend(found)
        user = user or url_user
        tls = tls or url_tls
    if (ca or cert or key or tls_server_name) and not tls:
        tls = True  # TLS options imply TLS: a plain connection would silently ignore them
    if bool(cert) != bool(key):
        raise CliError("--cert and --key go together (the client certificate and its key)",
                       Exit.USAGE)
    for label, path in (("--ca", ca), ("--cert", cert), ("--key", key)):
        if path is not None and not os.path.isfile(path):
            raise CliError(f"{label} {path!r}: no such file", Exit.USAGE)
    if password_env is not None and ask_password:
        raise CliError("give --password-env or --ask-password, not both", Exit.USAGE)
    password: Optional[str] = None
    if password_env is not None:
        if password_env not in os.environ:
            raise CliError(f"--password-env {password_env}: that environment variable is not set",
                           Exit.USAGE)
        password = os.environ[password_env]
    elif ask_password:
        password = click.prompt("Password", hide_input=True, err=True, default="",
                                show_default=False) or None
    if not timeout > 0:
        raise CliError(f"--timeout must be > 0 seconds, got {timeout!r}", Exit.USAGE)
    mapping: Dict[Tuple[str, int], Tuple[str, int]] = {}
    for rule in remap:
        source, sep, target = rule.partition("=")
        if not sep:
            raise CliError(f"--remap {rule!r}: write ANNOUNCED_HOST:PORT=DIAL_HOST:PORT",
                           Exit.USAGE)
        mapping[parse_hostport(source)] = parse_hostport(target)
    return ConnectOptions(
        seeds=list(dict.fromkeys(addresses)), username=user, password=password, tls=tls,
        ca=ca, cert=cert, key=key, check_hostname=not insecure_hostname,
        server_name=tls_server_name, timeout=timeout, remap=mapping)


def connection_options(func: F) -> F:
    """Decorate a command with the seeds and the connection options; it then receives one
    ``connect`` argument (a :class:`ConnectOptions`) instead of them."""
    options = [
        click.argument("seeds", nargs=-1, metavar="URL|HOST:PORT..."),
        click.option("--user", default=None, help="ACL user name (AUTH user password)."),
        click.option("--password-env", metavar="VAR", default=None,
                     help="Read the password from environment variable VAR."),
        click.option("--ask-password", is_flag=True,
                     help="Prompt for the password (not echoed)."),
        click.option("--tls", is_flag=True, help="Connect with TLS (implied by rediss://)."),
        click.option("--ca", type=click.Path(dir_okay=False), default=None,
                     help="CA certificate file (PEM) to verify the servers with."),
        click.option("--cert", type=click.Path(dir_okay=False), default=None,
                     help="Client certificate (PEM), for servers that ask for one."),
        click.option("--key", type=click.Path(dir_okay=False), default=None,
                     help="The client certificate's private key (PEM)."),
        click.option("--insecure-hostname", is_flag=True,
                     help="Do not check that the certificate names the host (still checks "
                          "the CA)."),
        click.option("--tls-server-name", metavar="NAME", default=None,
                     help="The name the certificate must carry, when it differs from the "
                          "address dialled (NAT, tunnels)."),
        click.option("--timeout", type=float, default=2.0, show_default=True,
                     help="Seconds to wait for a connection or a reply."),
        click.option("--remap", multiple=True, metavar="ANNOUNCED=DIAL",
                     help="Dial HOST:PORT instead of the announced HOST:PORT (Docker, NAT); "
                          "repeatable."),
    ]

    def wrapper(**kwargs: Any) -> Any:
        connect = _resolve(
            kwargs.pop("seeds"), kwargs.pop("user"), kwargs.pop("password_env"),
            kwargs.pop("ask_password"), kwargs.pop("tls"), kwargs.pop("ca"), kwargs.pop("cert"),
            kwargs.pop("key"), kwargs.pop("insecure_hostname"), kwargs.pop("tls_server_name"),
            kwargs.pop("timeout"), kwargs.pop("remap"))
        click.get_current_context().meta["clustercore.secrets"] = connect.secrets()
        return func(connect=connect, **kwargs)

    # Copies the name, the docstring and the options declared below this decorator.
    decorated: Any = functools.update_wrapper(wrapper, func)
    for option in reversed(options):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]
