"""RedisCluster: redis-py's command methods over the execution core.

One command: look up its spec (static table, else the server's COMMAND INFO, fetched once),
find its slot from its keys, and hand it to the client's :class:`~.executor.Executor`, which
routes it, runs it and carries out what :func:`~.router.next_step` (a pure function over an
explicit attempt state) decides after a failure: follow MOVED/ASK, back off, ask for a
background refresh, raise. A connection is released or discarded *before* any wait, so a
caller never holds a pooled connection while it sleeps or waits for a refresh. This module
only chooses the path (the one-key fast path, a slot, a split, a fan-out) and parses replies.

Multi-key commands whose keys span slots (MGET, MSET, DEL, UNLINK, EXISTS, TOUCH) are split by
slot; every node's share is written before any reply is read, and results come back in the
caller's order. They are not atomic across slots (each slot's part is). Atomic multi-key
commands must name keys of one slot and raise ClusterCrossSlotError before anything is sent.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Type, Union
from urllib.parse import parse_qsl, unquote, urlsplit

from .._address import NodeAddress
from .._commands.api import CommandsMixin
from .._commands.blocking import blocking_timeout
from .._commands.callbacks import CallbackDict, pop_never_decode
from .._commands.idempotency import is_idempotent
from .._commands.keys import SINGLE_KEY, slot_of
from .._commands.specs import Route, has_space, lookup, normalize_args
from .._net.connection import ClusterConnection
from .._pool.cluster_pool import (
    ClusterConnectionPool,
    ClusterReadOnlyConnectionPool,
    ClusterWithReadReplicasConnectionPool,
)
from .._slots import key_slot
from ..errors import (
    ClusterCrossSlotError,
    ConnectionError,
    DataError,
    RedisClusterConfigError,
    RedisClusterException,
    ResponseError,
    TimeoutError,
)
from .executor import Executor
from .pipeline import ClusterPipeline
from .pubsub import ClusterPubSub
from .retry import Backoff, RetryPolicy
from .router import may_resend
from .script import Script

__all__ = ["RedisCluster"]


class RedisCluster(CommandsMixin):
    """A thread-safe client for a Redis Cluster (redis-py-cluster 2.1.3's constructor).

    Retries (docs/retries.md): ``max_redirects``, ``cluster_down_retry_attempts``,
    ``retry_deadline`` (seconds from the first failure), ``backoff``, ``retry_non_idempotent``
    and redis-py's ``retry_on_timeout``: unset or None keeps the default (a timed-out idempotent
    command is retried within the deadline); ``False`` raises the TimeoutError after the first
    attempt. With a ``connection_pool`` it is read from the pool's ``connection_kwargs``.
    ``sleep`` and ``rng`` are the retry loop's pause and randomness (injectable for tests).
    """

    def __init__(
        self,
        host: Optional[str] = None,
        port: Union[int, str, None] = None,
        startup_nodes: Optional[Sequence[Any]] = None,
        max_connections: Optional[int] = None,
        max_connections_per_node: Union[bool, int] = False,
        init_slot_cache: bool = True,
        readonly_mode: bool = False,
        reinitialize_steps: Optional[int] = None,
        skip_full_coverage_check: bool = False,
        nodemanager_follow_cluster: bool = False,
        connection_class: Optional[Type[ClusterConnection]] = None,
        read_from_replicas: bool = False,
        cluster_down_retry_attempts: int = 3,
        host_port_remap: Any = None,
        *,
        connection_pool: Optional[ClusterConnectionPool] = None,
        retry_deadline: float = 5.0,
        max_redirects: int = 16,
        backoff: Optional[Backoff] = None,
        retry_non_idempotent: bool = False,
        read_policy: Optional[str] = None,
        sleep: Optional[Callable[[float], None]] = None,
        rng: Optional[random.Random] = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("db"):
            raise RedisClusterConfigError(f"Redis Cluster has only database 0; got db={kwargs['db']}")
        kwargs.pop("db", None)
        # redis-py's switch for retrying timeouts; the pool sees it too (it keeps it in
        # connection_kwargs, as redis-py-cluster did)
        retry_on_timeout: Optional[bool] = kwargs.get("retry_on_timeout")
        if connection_pool is None:
            if readonly_mode:
                pool_class: Type[ClusterConnectionPool] = ClusterReadOnlyConnectionPool
            elif read_from_replicas:
                pool_class = ClusterWithReadReplicasConnectionPool
            else:
                pool_class = ClusterConnectionPool
            if read_policy is not None:
                kwargs["read_policy"] = read_policy
            if host is None and not startup_nodes:
                host, port = "localhost", port or 6379
            connection_pool = pool_class(
                startup_nodes=startup_nodes, init_slot_cache=init_slot_cache,
                connection_class=connection_class, max_connections=max_connections,
                max_connections_per_node=max_connections_per_node,
                reinitialize_steps=reinitialize_steps,
                skip_full_coverage_check=skip_full_coverage_check,
                nodemanager_follow_cluster=nodemanager_follow_cluster,
                host_port_remap=host_port_remap, host=host, port=port, rng=rng, **kwargs)
        self.connection_pool = connection_pool
        on_timeout = retry_on_timeout if retry_on_timeout is not None else (
            connection_pool.connection_kwargs.get("retry_on_timeout"))
        policy = RetryPolicy(max_redirects=max_redirects,
                             cluster_down_attempts=cluster_down_retry_attempts,
                             deadline=retry_deadline, backoff=backoff or Backoff(),
                             retry_non_idempotent=retry_non_idempotent,
                             retry_on_timeout=on_timeout is None or bool(on_timeout))
        self.response_callbacks: Dict[str, Callable[..., Any]] = self._default_callbacks()
        self.result_callbacks: Dict[str, Callable[..., Any]] = {}
        #: The execution core: routing, retries and batches for this client, its pipelines,
        #: pub/sub and scripts. ``sleep`` and ``rng`` (backoff pauses and jitter, random
        #: nodes) are injectable for tests (``rng`` also seeds the pool it builds: replica
        #: choice, seed order); the clock is the pool's.
        self.executor = Executor(connection_pool, policy, sleep=sleep, rng=rng)
        self._encoding = self.executor.encoding

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy (frozen); assigning a new one takes effect on the next command."""
        return self.executor.policy

    @retry.setter
    def retry(self, policy: RetryPolicy) -> None:
        if not isinstance(policy, RetryPolicy):
            raise TypeError(f"retry must be a RetryPolicy, got {policy!r}")
        self.executor.policy = policy

    @property
    def read_from_replicas(self) -> bool:
        """Whether read-only commands may go to replicas (from the pool's read policy)."""
        return self.executor.read_from_replicas

    @read_from_replicas.setter
    def read_from_replicas(self, value: bool) -> None:
        self.executor.read_from_replicas = bool(value)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisCluster:
        """``redis://[user:pass@]h1:p1,h2:p2/0?opt=v`` (``rediss://`` for TLS); keeps every option."""
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise RedisClusterConfigError(f"URL scheme must be redis:// or rediss://: {url!r}")
        netloc = parts.netloc
        if "@" in netloc:
            creds, netloc = netloc.rsplit("@", 1)
            user, _, password = creds.partition(":")
            if user:
                kwargs.setdefault("username", unquote(user))
            if password:
                kwargs.setdefault("password", unquote(password))
        nodes = [NodeAddress.parse(part) for part in netloc.split(",") if part]
        kwargs.setdefault("startup_nodes", [{"host": n.host, "port": n.port} for n in nodes])
        path = parts.path.strip("/")
        if path and path != "0":
            raise RedisClusterConfigError(f"Redis Cluster has only database 0; URL names {path}")
        for key, value in parse_qsl(parts.query):
            kwargs.setdefault(key, _coerce_option(key, value))
        if parts.scheme == "rediss":
            kwargs.setdefault("ssl", True)
        return cls(**kwargs)

    # --- the execute loop ----------------------------------------------------------------------
    def execute_command(self, *args: Any, **options: Any) -> Any:
        """Route and run one command (with redirects and retries), then parse its reply."""
        try:
            spec = _single_key_spec(args[0])
        except (IndexError, TypeError):  # no arguments; an unhashable first one
            spec = None
        if spec is not None and len(args) > spec.first_key and (not options or (
                "never_decode" not in options and "NEVER_DECODE" not in options)):
            # The fast path: GET, SET, HGET ... with their one key where the table says.
            name = spec.name
            reply = self.executor.run_slot(args, key_slot(args[spec.first_key], self._encoding),
                                           spec)
            callbacks = self.response_callbacks
            callback = (_dict_get(callbacks, name) if type(callbacks) is CallbackDict
                        else callbacks.get(name))  # CallbackDict's keys are upper-case
            return reply if callback is None else callback(reply, **options)
        return self._execute_general(args, options)

    def _execute_general(self, args: Tuple[Any, ...], options: Dict[str, Any]) -> Any:
        """execute_command for every command the fast path does not take."""
        if not args:
            raise DataError("no command given")
        # never_decode: read the reply as bytes even with decode_responses (DUMP's payload)
        raw = pop_never_decode(options) if options else False
        spec = lookup(args)
        if spec is None or has_space(args[0]):
            args = normalize_args(args)
            spec = spec or lookup(args) or self.executor.server_spec(args)
        route = spec.route
        name = spec.name
        if route is Route.SLOT or route is Route.SLOT_ARG or route is Route.CHANNEL:
            try:
                slot = slot_of(spec, args, self._encoding)
            except ClusterCrossSlotError:
                if spec.split:
                    return self._parse_reply(name, self.executor.run_split(spec, args),
                                             **options)
                raise
            if slot is None:
                reply = self.executor.run_on_node(self.executor.random_node(), *args)
            else:
                blocking = (None if spec.blocking_timeout_arg is None
                            else blocking_timeout(spec, args))
                reply = self.executor.run_slot(args, slot, spec, blocking, raw)
            callback = self.response_callbacks.get(name)
            return reply if callback is None else callback(reply, **options)
        if route is Route.CONNECTION or route is Route.NODE_ONLY:
            raise RedisClusterException(
                f"{name} cannot be routed by a cluster client: it is bound to one connection or "
                "one node (use pipeline(), pubsub(), or a connection from "
                "connection_pool.get_connection_by_node())")
        return self._execute_fanout(args, spec, options)

    def _execute_on_node(self, node: Any, *args: Any) -> Any:
        """Run a command on one given node (the commands mixin's hook: SCAN with target_node,
        scan_iter); the raw reply."""
        return self.executor.run_on_node(node, *args)

    def _nodes_for_scan(self) -> List[NodeAddress]:
        """The primaries, for SCAN-style iteration over the whole key space."""
        return self.executor.primaries()

    def _execute_fanout(self, args: Sequence[Any], spec: Any, options: Dict[str, Any]) -> Any:
        """Send to every target node (all writes first, then all reads), parse each node's
        reply, then merge them as the spec (or a user's result callback) says."""
        executor = self.executor
        targets = executor.locate(spec.route)
        command = tuple(args)
        replies = executor.run_batches([(address, [command], None) for address in targets])
        parsed: Dict[str, Any] = {}
        idempotent = is_idempotent(spec, args)
        policy = executor.policy
        for address, (reply,) in zip(targets, replies):
            if isinstance(reply, (ConnectionError, TimeoutError)) and may_resend(
                    reply, idempotent=idempotent, policy=policy):
                try:
                    reply = executor.run_on_node(address, *args)  # once more, fresh socket
                except (ConnectionError, TimeoutError, ResponseError) as exc:
                    reply = exc
            if isinstance(reply, BaseException):
                parsed[address.name] = reply
            else:
                parsed[address.name] = self._parse_reply(
                    spec.name, reply, **{"current_host": address.host, **options})
        return self._merge_results(spec.name, spec.merge, parsed, **options)

    # --- callbacks and lifecycle ---------------------------------------------------------------
    def pipeline(self, transaction: bool = False, shard_hint: Any = None) -> ClusterPipeline:
        """Buffered commands sent node by node; ``transaction=True``: MULTI/EXEC on one slot."""
        return ClusterPipeline(self, transaction=transaction, shard_hint=shard_hint)

    def pubsub(self, **kwargs: Any) -> ClusterPubSub:
        """Classic and sharded pub/sub on dedicated connections, restored automatically."""
        return ClusterPubSub(self, **kwargs)

    def register_script(self, script: Any) -> Script:
        """EVALSHA; on NOSCRIPT loads the body on that node only (works in pipelines too)."""
        return Script(self, script)

    def close(self) -> None:
        """Ordered shutdown of the pool: fence new calls, close connections, join threads."""
        self.connection_pool.close()

    def __enter__(self) -> RedisCluster:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RedisCluster {self.connection_pool!r}>"


_BOOL_OPTIONS = {"ssl", "decode_responses", "readonly_mode", "read_from_replicas",
                 "skip_full_coverage_check", "nodemanager_follow_cluster", "socket_keepalive",
                 "retry_on_timeout", "init_slot_cache", "ssl_check_hostname",
                 "retry_non_idempotent"}
_FLOAT_OPTIONS = {"socket_timeout", "socket_connect_timeout", "health_check_interval",
                  "timeout", "retry_deadline", "max_idle_time", "refresh_interval",
                  "probe_timeout"}
_INT_OPTIONS = {"max_connections", "reinitialize_steps", "cluster_down_retry_attempts",
                "max_redirects", "protocol", "max_waiters", "min_idle_per_node"}


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


_single_key_spec = SINGLE_KEY.get
_dict_get = dict.get

