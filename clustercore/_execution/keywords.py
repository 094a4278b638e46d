"""redis-py 8.1's RedisCluster constructor keywords, mapped to clustercore's or refused.

``RedisCluster`` keeps redis-py-cluster 2.1.3's constructor (its positional order and
keywords) and also takes every keyword of redis-py 8.1's ``redis.cluster.RedisCluster``. This
module decides, at construction, what each redis-py keyword becomes -- or raises
RedisClusterConfigError naming it when clustercore cannot honour it -- so that nothing is
accepted and then fails later (at discovery, with a TypeError from a connection class):

=============================  ==============================================================
redis-py 8.1 keyword           clustercore
=============================  ==============================================================
``startup_nodes``              ClusterNode / NodeAddress / dicts / "host:port" all accepted
``require_full_coverage``      ``skip_full_coverage_check = not require_full_coverage``
                               (either set to skip skips)
``cluster_error_retry_attempts``  ``cluster_down_retry_attempts`` (retries of CLUSTERDOWN,
                               connection failures and uncovered slots)
``retry``                      a clustercore ``RetryPolicy``: the policy; a redis-py
                               ``Retry`` (anything with ``get_retries()``): its count as
                               ``cluster_down_retry_attempts`` (backoff stays clustercore's)
``reinitialize_steps``         the same keyword (MOVED replies between refreshes)
``read_from_replicas``         the same keyword (reads spread over primary and replicas)
``load_balancing_strategy``    ``read_policy``: ROUND_ROBIN -> "any", ROUND_ROBIN_REPLICAS ->
                               "replicas", RANDOM_REPLICA -> "random_replica" (enum or value)
``dynamic_startup_nodes``      ``nodemanager_follow_cluster`` (default: that keyword's, False)
``connection_pool_class``      redis-py's BlockingConnectionPool: ``blocking=True`` (its
                               ``timeout=`` is the wait for a connection); its ConnectionPool:
                               the default; any other class refused
``address_remap``              ``host_port_remap`` (the same ``(host, port) -> (host, port)``)
``url``                        as ``RedisCluster.from_url``: seeds, credentials, options
``protocol``                   2 or 3 (a str from a URL is converted; None: the default 2)
``legacy_responses``           True accepted (clustercore's shapes are the legacy ones);
                               False refused
``retry_on_error``             accepted and ignored, as redis-py's cluster client ignores it
                               (connection failures and timeouts are retried by the policy)
``socket_read_size``           accepted and ignored (a buffer-size hint)
``cache``, ``cache_config``    refused unless None: no client-side caching
``event_dispatcher``           refused unless None: no redis-py event system
``policy_resolver``            refused unless None: routing is clustercore's command table
``maint_notifications_config`` refused when enabled (None or disabled accepted)
``credential_provider``,       refused unless None (not supported by clustercore's
``redis_connect_func``,        connections)
``queue_class``,
``unix_socket_path``,
``ssl_ca_path``,
``ssl_include_verify_flags``,
``ssl_exclude_verify_flags``,
``nodes_flag``
``lib_name``, ``lib_version``, refused unless None: clustercore sends no CLIENT SETINFO
``driver_info``
``db``                         0 only (Redis Cluster has one database)
=============================  ==============================================================

Every other keyword must be one that the pool or the connection class takes (checked against
the connection class's signature unless a user-defined class takes ``**kwargs``), else
RedisClusterConfigError names it.
"""

from __future__ import annotations

import inspect
from typing import Any, Dict, FrozenSet, Mapping, Optional, Set, Type
from urllib.parse import parse_qsl, unquote

from .._address import NodeAddress
from .._net.connection import ClusterConnection, SSLClusterConnection
from .._pool.url import redact_url, split_url
from ..errors import RedisClusterConfigError
from .retry import RetryPolicy

__all__ = ["check_connection_keywords", "load_balancing_policy", "redis_py_keywords",
           "url_options"]

#: redis-py LoadBalancingStrategy values -> clustercore read policies.
_STRATEGIES = {"round_robin": "any", "round_robin_replicas": "replicas",
               "random_replica": "random_replica", "random": "any"}

#: Keywords refused unless None (what each would need that clustercore does not have).
_REFUSED_UNLESS_NONE = {
    "cache": "client-side caching is not supported",
    "cache_config": "client-side caching is not supported",
    "event_dispatcher": "redis-py's event system is not supported",
    "policy_resolver": "routing comes from clustercore's command table",
    "credential_provider": "credential providers are not supported; pass username/password",
    "redis_connect_func": "connect callbacks are not supported",
    "queue_class": "the pools' wait queues are not replaceable",
    "unix_socket_path": "Redis Cluster nodes are reached over TCP",
    "ssl_ca_path": "use ssl_ca_certs or ssl_ca_data",
    "ssl_include_verify_flags": "not supported by clustercore's TLS context",
    "ssl_exclude_verify_flags": "not supported by clustercore's TLS context",
    "nodes_flag": "pass target_nodes= per command",
    "lib_name": "clustercore sends no CLIENT SETINFO",
    "lib_version": "clustercore sends no CLIENT SETINFO",
    "driver_info": "clustercore sends no CLIENT SETINFO",
}
#: Accepted and ignored (see the table).
_IGNORED = frozenset({"retry_on_error", "socket_read_size"})

#: The pools' keyword options (ClusterConnectionPool's keyword-only parameters and the
#: positional ones a client passes by name).
_POOL_KEYWORDS = frozenset({
    "blocking", "timeout", "max_waiters", "readonly", "read_policy", "max_idle_time",
    "min_idle_per_node", "refresh_interval", "refresh_min_interval", "failure_cooldown",
    "probe_timeout", "discovery_timeout", "event_hook", "ssl", "rng", "clock",
    "background_refresh", "retry_on_timeout", "host", "port", "follow_unknown_redirects",
    # folded into the pool's one TLS context
    "ssl_cert_reqs", "ssl_ca_certs", "ssl_ca_data", "ssl_certfile", "ssl_keyfile",
    "ssl_password", "ssl_check_hostname", "ssl_min_version", "ssl_ciphers",
    "ssl_server_hostname", "ssl_node_hostnames", "ssl_verify_discovered",
})


def load_balancing_policy(strategy: Any) -> str:
    """The read policy for a redis-py ``LoadBalancingStrategy`` (the enum or its value)."""
    value = getattr(strategy, "value", strategy)
    policy = _STRATEGIES.get(value) if isinstance(value, str) else None
    if policy is None:
        raise RedisClusterConfigError(
            f"load_balancing_strategy must be a redis-py LoadBalancingStrategy "
            f"({', '.join(sorted(_STRATEGIES))}); got {strategy!r}")
    return policy


def _pool_kind(pool_class: Any) -> Optional[str]:
    """"blocking" for redis-py's BlockingConnectionPool (or a subclass), "plain" for its
    ConnectionPool, None for anything else (told by name: redis-py need not be installed)."""
    if not isinstance(pool_class, type):
        return None
    names = {(c.__module__.split(".")[0], c.__name__) for c in pool_class.__mro__}
    if ("redis", "BlockingConnectionPool") in names:
        return "blocking"
    if ("redis", "ConnectionPool") in names:
        return "plain"
    return None


def redis_py_keywords(kwargs: Dict[str, Any], *, retry: Any, require_full_coverage: bool,
                      cluster_error_retry_attempts: Optional[int],
                      load_balancing_strategy: Any, dynamic_startup_nodes: Optional[bool],
                      address_remap: Any, maint_notifications_config: Any,
                      ) -> Dict[str, Any]:
    """Check redis-py's keywords and return clustercore's settings for them (keys:
    ``policy``, ``cluster_down_retry_attempts``, ``skip_full_coverage_check``,
    ``read_policy``, ``nodemanager_follow_cluster``, ``host_port_remap`` -- only those the
    caller's keywords decide). ``kwargs`` (the remaining keywords) loses the keywords that are
    ignored and has ``protocol`` normalised; RedisClusterConfigError names a refused one."""
    out: Dict[str, Any] = {}
    pool_class = kwargs.pop("connection_pool_class", None)
    if pool_class is not None:
        kind = _pool_kind(pool_class)
        if kind is None:
            raise RedisClusterConfigError(
                f"connection_pool_class={pool_class!r} is not supported: give redis-py's "
                "ConnectionPool or BlockingConnectionPool (or pass connection_pool= a "
                "clustercore cluster pool)")
        if kind == "blocking":
            kwargs.setdefault("blocking", True)  # its timeout= is the pool's wait
    for name, why in _REFUSED_UNLESS_NONE.items():
        if kwargs.get(name) is not None:
            raise RedisClusterConfigError(f"{name}={kwargs[name]!r} is not supported: {why}")
        kwargs.pop(name, None)
    for name in _IGNORED:
        kwargs.pop(name, None)
    if "legacy_responses" in kwargs and not kwargs.pop("legacy_responses"):
        raise RedisClusterConfigError(
            "legacy_responses=False is not supported: replies have redis-py's legacy shapes")
    if "protocol" in kwargs:
        protocol = kwargs.pop("protocol")
        if protocol is not None:
            try:
                kwargs["protocol"] = int(protocol)
            except (TypeError, ValueError):
                raise RedisClusterConfigError(f"protocol must be 2 or 3; got {protocol!r}"
                                              ) from None
            if kwargs["protocol"] not in (2, 3):
                raise RedisClusterConfigError(f"protocol must be 2 or 3; got {protocol!r}")
    if maint_notifications_config is not None and getattr(
            maint_notifications_config, "enabled", True):
        raise RedisClusterConfigError(
            f"maint_notifications_config={maint_notifications_config!r} is not supported: "
            "clustercore does not handle maintenance notifications")
    if retry is not None:
        if isinstance(retry, RetryPolicy):
            out["policy"] = retry
        elif callable(getattr(retry, "get_retries", None)):
            out["cluster_down_retry_attempts"] = int(retry.get_retries())
        else:
            raise RedisClusterConfigError(
                f"retry must be a clustercore RetryPolicy or a redis-py Retry; got {retry!r}")
    if cluster_error_retry_attempts is not None:
        if isinstance(cluster_error_retry_attempts, bool) or not isinstance(
                cluster_error_retry_attempts, int) or cluster_error_retry_attempts < 0:
            raise RedisClusterConfigError(
                "cluster_error_retry_attempts must be an int >= 0; got "
                f"{cluster_error_retry_attempts!r}")
        out.setdefault("cluster_down_retry_attempts", cluster_error_retry_attempts)
    if not require_full_coverage:
        out["skip_full_coverage_check"] = True
    if load_balancing_strategy is not None:
        out["read_policy"] = load_balancing_policy(load_balancing_strategy)
    if dynamic_startup_nodes is not None:
        out["nodemanager_follow_cluster"] = bool(dynamic_startup_nodes)
    if address_remap is not None:
        if not callable(address_remap):
            raise RedisClusterConfigError(
                f"address_remap must be a callable (host, port) -> (host, port); got "
                f"{address_remap!r}")
        out["host_port_remap"] = address_remap
    return out


def check_connection_keywords(kwargs: Mapping[str, Any],
                              connection_class: Optional[Type[ClusterConnection]],
                              ssl: bool) -> None:
    """RedisClusterConfigError naming every keyword neither the pool nor the connection
    class takes (a user-defined connection class that takes ``**kwargs`` takes anything)."""
    if connection_class is not None and not isinstance(connection_class, type):
        raise RedisClusterConfigError(
            f"connection_class must be a class; got {connection_class!r}")
    cls = connection_class or (SSLClusterConnection if ssl else ClusterConnection)
    accepted = _accepted(cls)
    if accepted is None:
        return
    unknown = sorted(k for k in kwargs if k not in accepted and k not in _POOL_KEYWORDS)
    if unknown:
        raise RedisClusterConfigError(
            f"unknown keyword argument(s) {', '.join(unknown)} (not taken by RedisCluster, "
            f"its pool or {cls.__name__})")


def _accepted(cls: type) -> Optional[FrozenSet[str]]:
    """The keyword names ``cls(...)`` takes along its MRO; None when a class outside
    clustercore takes ``**kwargs`` (anything may be meant for it)."""
    names: Set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        try:
            parameters = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return None
        for parameter in parameters:
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                if not klass.__module__.startswith("clustercore."):
                    return None
            else:
                names.add(parameter.name)
    return frozenset(names)


def url_options(url: str) -> Dict[str, Any]:
    """``redis://[user:pass@]h1:p1,h2:p2/0?opt=v`` (``rediss://`` for TLS) as constructor
    keywords: ``startup_nodes``, ``username``/``password``, ``ssl``, and every query option
    with the known options' types. RedisClusterConfigError for a URL that is not a str or
    does not parse, another scheme, a bad host:port or option value, or a database other
    than 0; no message shows the password."""
    parts = split_url(url, check_port=False)  # the netloc may list several host:port
    if parts.scheme not in ("redis", "rediss"):
        raise RedisClusterConfigError(
            f"URL scheme must be redis:// or rediss://: {redact_url(url)!r}")
    out: Dict[str, Any] = {}
    netloc = parts.netloc
    if "@" in netloc:
        creds, netloc = netloc.rsplit("@", 1)
        user, _, password = creds.partition(":")
        if user:
            out["username"] = unquote(user)
        if password:
            out["password"] = unquote(password)
    try:
        nodes = [NodeAddress.parse(part) for part in netloc.split(",") if part]
    except ValueError as exc:  # the netloc has no credentials left: the port may be shown
        raise RedisClusterConfigError(f"bad host:port in the URL {redact_url(url)!r}: {exc}"
                                      ) from None
    out["startup_nodes"] = [{"host": n.host, "port": n.port} for n in nodes]
    path = parts.path.strip("/")
    if path and path != "0":
        raise RedisClusterConfigError(f"Redis Cluster has only database 0; URL names {path}")
    for key, value in parse_qsl(parts.query):
        if key == "db":
            if value != "0":
                raise RedisClusterConfigError(
                    f"Redis Cluster has only database 0; URL names db={value}")
            continue
        try:
            out.setdefault(key, _coerce_option(key, value))
        except ValueError:
            raise RedisClusterConfigError(
                f"URL option {key}={value!r} is not a valid {_OPTION_KINDS.get(key, 'value')}"
                ) from None
    if parts.scheme == "rediss":
        out.setdefault("ssl", True)
    return out


_BOOL_OPTIONS = {"ssl", "decode_responses", "readonly_mode", "read_from_replicas",
                 "skip_full_coverage_check", "nodemanager_follow_cluster", "socket_keepalive",
                 "retry_on_timeout", "init_slot_cache", "ssl_check_hostname",
                 "retry_non_idempotent", "require_full_coverage", "dynamic_startup_nodes",
                 "follow_unknown_redirects"}
_FLOAT_OPTIONS = {"socket_timeout", "socket_connect_timeout", "health_check_interval",
                  "timeout", "retry_deadline", "max_idle_time", "refresh_interval",
                  "probe_timeout", "read_your_writes"}
_INT_OPTIONS = {"max_connections", "reinitialize_steps", "cluster_down_retry_attempts",
                "max_redirects", "protocol", "max_waiters", "min_idle_per_node",
                "cluster_error_retry_attempts"}


_OPTION_KINDS = {**dict.fromkeys(_FLOAT_OPTIONS, "number"),
                 **dict.fromkeys(_INT_OPTIONS, "integer"),
                 "max_connections_per_node": "integer or true/false"}


def _coerce_option(key: str, value: str) -> Any:
    """URL query values are strings; give the known options their types."""
    if key in _BOOL_OPTIONS:
        return value.lower() in ("1", "true", "yes", "on")
    if key in _FLOAT_OPTIONS:
        return float(value)
    if key in _INT_OPTIONS:
        return int(value)
    if key == "max_connections_per_node":
        low = value.lower()
        return True if low in ("true", "yes") else False if low in ("false", "no") else int(value)
    return value
