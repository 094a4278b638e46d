"""A cluster pool's configuration: checked once, then a frozen value.

The public pools take redis-py-cluster's positional arguments, their own keyword options and
any number of connection keyword arguments. :func:`build_pool_config` turns all of that into a
:class:`PoolConfig` -- seeds parsed and remapped, the two connection caps reconciled the way
redis-py-cluster reads them, the read policy and encoding checked, one TLS context made for the
whole pool -- and raises RedisClusterConfigError naming the bad value, so a typo fails at
construction instead of at the first command's connect. Nothing in the value changes afterwards
(``connection_kwargs`` is a read-only view); the pool copies the attributes redis-py-cluster
code reads from it.
"""

from __future__ import annotations

import codecs
import random
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Type,
    Union,
    cast,
)

from .._address import NodeAddress, coerce_port
from .._net.connection import ClusterConnection, SSLClusterConnection
from .._net.transport import TLSPolicy
from .._topology.remap import Remapper
from ..errors import RedisClusterConfigError, RedisClusterException
from .foreign import accepted_keywords, is_native, own_keywords, takes_any_keyword
from .stats import EventHook

__all__ = ["UNCAPPED", "ConnectionKwargs", "NodeLike", "PoolConfig", "build_pool_config",
           "check_number",
           "connection_arguments", "parse_startup_nodes"]

#: Where read commands go. "primary": never replicas. "replicas": round-robin over healthy
#: replicas, the primary when there are none. "random_replica": a random healthy replica, else
#: the primary. "any": random over primary and replicas (redis-py-cluster's read replicas pool).
READ_POLICIES = ("primary", "replicas", "random_replica", "any")

#: How callers name a node: a NodeAddress, a node dict, ``"host:port"`` or a (host, port) pair.
NodeLike = Union[NodeAddress, Mapping[str, Any], str, Tuple[str, Union[int, str]]]

#: Connection keyword arguments that go into the pool's one TLS policy (and its context) instead.
_SSL_KEYS = ("ssl_cert_reqs", "ssl_ca_certs", "ssl_ca_data", "ssl_certfile", "ssl_keyfile",
             "ssl_password", "ssl_check_hostname", "ssl_min_version", "ssl_ciphers",
             "ssl_context", "ssl_server_hostname", "ssl_node_hostnames",
             "ssl_verify_discovered")

#: redis-py-cluster's "no cap" (its ``max_connections`` when none is given).
UNCAPPED = 2 ** 31

#: Connection keywords whose values are credentials (never shown by a repr).
_SECRET_KEYS = frozenset({"password", "ssl_password"})


class ConnectionKwargs(Dict[str, Any]):
    """A pool's ``connection_kwargs``: a plain dict (redis-py-cluster code reads and updates
    it) whose repr shows the password and the TLS key passphrase as ``'***'``."""

    def __repr__(self) -> str:
        shown = {k: ("***" if k in _SECRET_KEYS and v is not None else v)
                 for k, v in self.items()}
        return repr(shown)


@dataclass(frozen=True)
class PoolConfig:
    """Everything one cluster pool was configured with, validated (see build_pool_config)."""

    #: Seeds after ``host_port_remap``, duplicates dropped, in the order given.
    startup_nodes: Tuple[NodeAddress, ...]
    remap: Optional[Remapper]
    connection_class: Type[ClusterConnection]
    #: What every connection is built with (host and port removed, TLS options folded into
    #: ``ssl_context``); ``retry_on_timeout`` stays for redis-py-cluster code that reads it.
    connection_kwargs: Mapping[str, Any] = field(repr=False)  # holds the password
    #: Cluster-wide cap (None: none); per-node cap (None: none).
    max_connections: Optional[int]
    max_connections_per_node: Optional[int]
    blocking: bool
    timeout: Optional[float]
    max_waiters: Optional[int]
    #: READONLY on every connection; implied by any read policy but "primary".
    readonly: bool
    read_policy: str
    max_idle_time: Optional[float]
    min_idle_per_node: int
    init_slot_cache: bool
    #: MOVED replies between two refreshes.
    reinitialize_steps: int
    skip_full_coverage_check: bool
    nodemanager_follow_cluster: bool
    refresh_interval: Optional[float]
    refresh_min_interval: float
    failure_cooldown: float
    probe_timeout: float
    discovery_timeout: Optional[float]
    #: False runs adaptive refreshes inline on the requesting thread (deterministic tests).
    background_refresh: bool
    event_hook: Optional[EventHook]
    #: Replica choice, seed order, random nodes.
    rng: random.Random
    #: Time source for cool-downs, idle times and refresh rate limits.
    clock: Callable[[], float]
    #: The class and keywords of the pool's own connections (discovery, dedicated ones):
    #: ``connection_class`` when it is a ClusterConnection, else clustercore's (see foreign).
    own_connection_class: Type[ClusterConnection] = ClusterConnection
    own_connection_kwargs: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), repr=False)  # holds the password

    @property
    def native(self) -> bool:
        """Whether ``connection_class`` is clustercore's (else the caller's foreign class)."""
        return self.own_connection_class is self.connection_class

    @property
    def tls(self) -> bool:
        """Whether connections are TLS (and CLUSTER SHARDS' ``tls-port`` is preferred)."""
        return issubclass(self.own_connection_class, SSLClusterConnection)

    @property
    def needs_maintenance(self) -> bool:
        """Whether a background thread is needed: periodic refreshes or a minimum of idle
        connections to keep open."""
        return bool(self.refresh_interval or self.min_idle_per_node)

    @property
    def discovery_deadline(self) -> float:
        """Seconds one topology discovery may take in all (and a caller may wait for it)."""
        if self.discovery_timeout is not None:
            return self.discovery_timeout
        return self.probe_timeout * 2 + 1.0


def build_pool_config(
    startup_nodes: Optional[Sequence[NodeLike]], connection_kwargs: Mapping[str, Any], *,
    init_slot_cache: bool, connection_class: Optional[type],
    max_connections: Optional[int], max_connections_per_node: Union[bool, int],
    reinitialize_steps: Optional[int], skip_full_coverage_check: bool,
    nodemanager_follow_cluster: bool, host_port_remap: Any, blocking: bool,
    timeout: Optional[float], max_waiters: Optional[int], readonly: bool, read_policy: str,
    max_idle_time: Optional[float], min_idle_per_node: int, refresh_interval: Optional[float],
    refresh_min_interval: float, failure_cooldown: float, probe_timeout: float,
    discovery_timeout: Optional[float], event_hook: Optional[EventHook], ssl: bool,
    rng: Optional[random.Random], clock: Callable[[], float],
    background_refresh: bool,
) -> PoolConfig:
    """Check and normalise a pool's constructor arguments (the pool documents their meaning).

    ``connection_kwargs`` may hold ``host``/``port`` (one more seed, redis-py style); it is
    not modified. Raises RedisClusterConfigError (or RedisClusterException for no seeds at
    all) naming the offending value."""
    if read_policy not in READ_POLICIES:
        raise RedisClusterConfigError(
            f"read_policy must be one of {', '.join(READ_POLICIES)}; got {read_policy!r}")
    _check_numbers(
        timeout=timeout, max_idle_time=max_idle_time, refresh_interval=refresh_interval,
        refresh_min_interval=refresh_min_interval, failure_cooldown=failure_cooldown)
    _check_numbers(positive=True, probe_timeout=probe_timeout,
                   discovery_timeout=discovery_timeout)
    _check_numbers(integer=True, max_waiters=max_waiters, min_idle_per_node=min_idle_per_node,
                   reinitialize_steps=reinitialize_steps)
    _check_numbers(positive=True, **{k: connection_kwargs[k] for k in _POSITIVE_TIMEOUTS
                                     if k in connection_kwargs})
    if "health_check_interval" in connection_kwargs:
        check_number("health_check_interval", connection_kwargs["health_check_interval"])
    kwargs = dict(connection_kwargs)
    seeds = parse_startup_nodes(startup_nodes, kwargs.pop("host", None), kwargs.pop("port", None))
    if not seeds:
        raise RedisClusterException("No startup nodes provided")
    remap = Remapper.from_config(host_port_remap)
    per_node, total = _connection_caps(max_connections, max_connections_per_node)
    try:  # fail at construction, not at the first command's connect
        codecs.lookup(kwargs.get("encoding", "utf-8"))
        codecs.lookup_error(kwargs.get("encoding_errors", "strict"))
    except (LookupError, TypeError) as exc:
        raise RedisClusterConfigError(f"encoding/encoding_errors: {exc}") from None
    if ssl and connection_class is None:
        connection_class = SSLClusterConnection
    if connection_class is not None and not isinstance(connection_class, type):
        raise RedisClusterConfigError(
            f"connection_class must be a class; got {connection_class!r}")
    # A foreign class is typed as ours from here on: the pool only builds, counts and closes
    # its instances (see foreign.py), never calls clustercore's connection methods on them.
    cls = cast(Type[ClusterConnection], connection_class or ClusterConnection)
    if is_native(cls):
        unknown = () if takes_any_keyword(cls) else sorted(set(kwargs) - accepted_keywords(cls))
        if unknown:  # else every connect fails, and discovery with it, on a TypeError
            tls = [k for k in unknown if k in _SSL_KEYS]
            hint = f"; {', '.join(tls)}: TLS options, give ssl=True or a rediss:// URL" if (
                tls) else ""
            raise RedisClusterConfigError(
                f"unknown keyword argument(s) {', '.join(unknown)} (not taken by the pool "
                f"or {cls.__name__}){hint}")
        own, own_kwargs = cls, kwargs
    else:  # the caller's class gets its keywords as given; discovery speaks through ours
        own = SSLClusterConnection if ssl or kwargs.get("ssl") else ClusterConnection
        own_kwargs = own_keywords(own, kwargs)
    startup = tuple(remap(s) if remap else s for s in seeds)
    if issubclass(own, SSLClusterConnection) and own_kwargs.get("ssl_policy") is None:
        # One TLS policy (and context) for the whole pool, not one per connection; the hosts
        # of the startup nodes, as given and as remapped, are the names the user gave.
        tls_options = {k: own_kwargs.pop(k) for k in _SSL_KEYS if k in own_kwargs}
        policy = TLSPolicy.build(seed_hosts=[s.host for s in seeds + list(startup)],
                                 **tls_options)
        own_kwargs["ssl_policy"] = policy
        own_kwargs["ssl_context"] = policy.context  # redis-py-cluster code reads it here
    return PoolConfig(
        startup_nodes=startup, remap=remap,
        connection_class=cls, connection_kwargs=MappingProxyType(kwargs),
        max_connections=total, max_connections_per_node=per_node, blocking=blocking,
        timeout=timeout, max_waiters=max_waiters,
        # Reading from replicas needs READONLY on the connection (a replica answers MOVED
        # otherwise), so any read policy other than "primary" implies it.
        readonly=readonly or read_policy != "primary", read_policy=read_policy,
        max_idle_time=max_idle_time, min_idle_per_node=min_idle_per_node,
        init_slot_cache=init_slot_cache, reinitialize_steps=reinitialize_steps or 25,
        skip_full_coverage_check=skip_full_coverage_check,
        nodemanager_follow_cluster=nodemanager_follow_cluster,
        refresh_interval=refresh_interval, refresh_min_interval=refresh_min_interval,
        failure_cooldown=failure_cooldown, probe_timeout=probe_timeout,
        discovery_timeout=discovery_timeout, background_refresh=background_refresh,
        event_hook=event_hook, rng=rng or random.Random(), clock=clock,
        own_connection_class=own, own_connection_kwargs=MappingProxyType(own_kwargs))


#: Connection timeouts that must be None or a number > 0 (0 would make sockets non-blocking).
_POSITIVE_TIMEOUTS = ("socket_timeout", "socket_connect_timeout")


def check_number(name: str, value: Any, *, integer: bool = False, positive: bool = False,
                 ) -> None:
    """RedisClusterConfigError naming ``name`` and ``value`` unless it is None or a number
    (an int when ``integer``; bools and numeric strings refused) that is >= 0 (> 0 when
    ``positive``) and not NaN."""
    if value is None:
        return
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an int" if integer else "a number"
        raise RedisClusterConfigError(
            f"{name} must be {kind}; got {value!r} of type {type(value).__name__}")
    if not (value > 0 if positive else value >= 0):  # NaN fails both
        raise RedisClusterConfigError(
            f"{name} must be {'> 0' if positive else '>= 0'}; got {value!r}")


def _check_numbers(*, integer: bool = False, positive: bool = False, **values: Any) -> None:
    for name, value in values.items():
        check_number(name, value, integer=integer, positive=positive)


def _connection_caps(max_connections: Optional[int], max_connections_per_node: Union[bool, int],
                     ) -> Tuple[Optional[int], Optional[int]]:
    """(per-node cap, cluster-wide cap) as redis-py-cluster reads its two arguments:
    ``max_connections_per_node=True`` makes ``max_connections`` a per-node cap; an int is a
    per-node cap and ``max_connections`` stays the cluster-wide total. Both must be ints
    (a bool only for the per-node switch): RedisClusterConfigError names anything else."""
    for name, given in (("max_connections", max_connections),
                        ("max_connections_per_node", max_connections_per_node)):
        if (given is not None and not isinstance(given, int)) or (
                isinstance(given, bool) and name == "max_connections"):
            raise RedisClusterConfigError(
                f"{name} must be an int; got {given!r} of type {type(given).__name__}")
    if max_connections_per_node is True:
        per_node: Optional[int] = max_connections or UNCAPPED
        total: Optional[int] = None
    elif max_connections_per_node:
        per_node, total = int(max_connections_per_node), max_connections
    else:
        per_node, total = None, max_connections
    for name, value in (("max_connections", total), ("max_connections_per_node", per_node)):
        if value is not None and value < 1:
            raise RedisClusterConfigError(f"{name} must be at least 1; got {value}")
    return per_node, total


def parse_startup_nodes(nodes: Optional[Sequence[NodeLike]], host: Optional[str] = None,
                        port: Union[int, str, None] = None) -> List[NodeAddress]:
    """Accept redis-py-cluster's dicts (str or int ports), "host:port", URLs, tuples, hosts."""
    out: List[NodeAddress] = []
    extra: List[NodeLike] = [{"host": host, "port": port or 6379}] if host else []
    for node in list(nodes or []) + extra:
        if isinstance(node, NodeAddress):
            address = node
        elif isinstance(node, Mapping):
            if "host" not in node:
                raise RedisClusterConfigError(f"startup node {node!r} has no 'host'")
            try:
                address = NodeAddress(str(node["host"]), coerce_port(node.get("port", 6379)))
            except ValueError as exc:
                raise RedisClusterConfigError(f"startup node {node!r}: {exc}") from None
        elif isinstance(node, str):
            try:
                address = NodeAddress.parse(node)
            except ValueError as exc:
                raise RedisClusterConfigError(f"startup node {node!r}: {exc}") from None
        elif isinstance(node, tuple) and len(node) == 2:
            address = NodeAddress(str(node[0]), coerce_port(node[1]))
        else:
            raise RedisClusterConfigError(f"cannot understand startup node {node!r}")
        if address not in out:
            out.append(address)
    return out


def connection_arguments(config_kwargs: Mapping[str, Any],
                         overrides: Mapping[str, Any]) -> Dict[str, Any]:
    """The keyword arguments a new connection is built with: the pool's, then ``overrides``,
    without ``retry_on_timeout`` (kept in ``connection_kwargs`` for redis-py-cluster code that
    reads it; connections no longer take it: retries are the client's RetryPolicy)."""
    kwargs = {**config_kwargs, **overrides}
    kwargs.pop("retry_on_timeout", None)
    return kwargs
