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

import dataclasses
import inspect
import random
import weakref
from types import MappingProxyType
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Type, Union

from .._address import NodeAddress
from .._commands.api import CommandsMixin
from .._commands.args import list_or_args
from .._commands.blocking import blocking_timeout
from .._commands.callbacks import CallbackDict, pop_never_decode
from .._commands.idempotency import is_idempotent
from .._commands.keys import SINGLE_KEY, slot_of
from .._commands.specs import Route, has_space, lookup, normalize_args
from .._net.connection import ClusterConnection
from .._net.encoding import Encoder
from .._pool.cluster_pool import (
    ClusterConnectionPool,
    ClusterReadOnlyConnectionPool,
    ClusterWithReadReplicasConnectionPool,
)
from .._pool.config import check_number
from .._pool.multiplexed import MultiplexedClusterConnectionPool, multiplexed_pool_class
from .._slots import key_slot
from ..errors import (
    ClusterCrossSlotError,
    ClusterDownError,
    ClusterUsageError,
    ConnectionError,
    DataError,
    RedisClusterConfigError,
    SlotNotCoveredError,
    TimeoutError,
    WatchError,
)
from .executor import Executor
from .keywords import check_connection_keywords, redis_py_keywords, url_options
from .monitor import DEFAULT_MONITOR_TIMEOUT, Monitor
from .nodes import (
    ALL_NODES,
    DEFAULT_NODE,
    NODE_FLAGS,
    PRIMARIES,
    RANDOM,
    REPLICAS,
    RESULT_CALLBACKS,
    ClusterNode,
    NodeClient,
    NodeSet,
    NodesManagerView,
    merge_targeted,
    node_address,
)
from .pipeline import ClusterPipeline
from .pubsub import ClusterPubSub
from .pubsub_messages import cluster_node
from .retry import Backoff, RetryPolicy
from .script import Script

__all__ = ["DEFAULT_TRANSACTION_ATTEMPTS", "Encoder", "RedisCluster"]

#: How many times ``RedisCluster.transaction`` runs ``func`` before it lets a WatchError out.
DEFAULT_TRANSACTION_ATTEMPTS = 100


class RedisCluster(CommandsMixin):
    """A thread-safe client for a Redis Cluster: redis-py 8.x's RedisCluster API over
    redis-py-cluster 2.1.3's constructor.

    The positional arguments are redis-py-cluster's; every redis-py 8.1 keyword is accepted by
    name as well and mapped to clustercore's setting or refused at construction with
    RedisClusterConfigError naming it (the table is in :mod:`.keywords`). Startup nodes may be
    ClusterNodes, NodeAddresses, node dicts or ``"host:port"`` strings.

    Retries (docs/retries.md): ``max_redirects``, ``cluster_down_retry_attempts`` (None: retry
    CLUSTERDOWN until the deadline; an int caps the count too; redis-py:
    ``cluster_error_retry_attempts`` or a ``retry`` object's count), ``retry_deadline``
    (seconds from the start of the call: it bounds every read, write, pause and wait of a
    non-blocking command), ``backoff``, ``retry_non_idempotent`` and redis-py's
    ``retry_on_timeout``: unset or None keeps the default (a timed-out idempotent command is
    retried within the deadline); ``False`` raises the TimeoutError after the first attempt.
    With a ``connection_pool`` it is read from the pool's ``connection_kwargs``. ``retry`` may
    also be a clustercore RetryPolicy (used as is). ``sleep`` and ``rng`` are the retry loop's
    pause and randomness (injectable for tests).

    ``read_your_writes`` (seconds, default 0: off), with replica reads: a read of a slot this
    client wrote less than that long ago goes to the slot's primary, so a thread reads its own
    writes although replication is asynchronous (docs/pools.md, "Replica reads").

    ``multiplexed=True`` (docs/multiplexed.md): single non-blocking commands from every
    thread share one connection per node (coalesced writes, replies matched in order);
    blocking commands, transactions, pub/sub, MONITOR and pipelines keep dedicated pooled
    connections. With a ``connection_pool`` it must be a multiplexed pool.

    The node API is redis-py's (``get_nodes()``, ``get_primaries()``, ``get_node()``,
    ``get_default_node()``, ``keyslot()``, ``get_redis_connection(node)`` ...): ClusterNodes
    built from the pool's current topology snapshot. Commands take redis-py's
    ``target_nodes=`` (a node flag such as ``RedisCluster.PRIMARIES``, a ClusterNode, a list
    or a ``{name: node}`` dict): they run on exactly those nodes, without following redirects,
    and several nodes' replies are merged by redis-py's rules (:data:`.nodes.RESULT_CALLBACKS`;
    otherwise a ``{node name: reply}`` dict).
    """

    #: redis-py's node flags, for ``target_nodes=``.
    PRIMARIES = PRIMARIES
    REPLICAS = REPLICAS
    ALL_NODES = ALL_NODES
    RANDOM = RANDOM
    DEFAULT_NODE = DEFAULT_NODE
    NODE_FLAGS = NODE_FLAGS
    #: redis-py's redirect budget per command (clustercore's is ``max_redirects``).
    RedisClusterRequestTTL = 16
    #: redis-py's merge rules for node-targeted commands (read-only here; per client, use
    #: ``set_result_callback``).
    RESULT_CALLBACKS = MappingProxyType(RESULT_CALLBACKS)
    #: The errors after which redis-py retries a command (clustercore's router decides).
    ERRORS_ALLOW_RETRY = (ConnectionError, TimeoutError, ClusterDownError, SlotNotCoveredError)

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
        cluster_down_retry_attempts: Optional[int] = None,
        host_port_remap: Any = None,
        *,
        connection_pool: Optional[ClusterConnectionPool] = None,
        retry_deadline: float = 5.0,
        max_redirects: int = 16,
        backoff: Optional[Backoff] = None,
        retry_non_idempotent: bool = False,
        read_policy: Optional[str] = None,
        read_your_writes: float = 0.0,
        sleep: Optional[Callable[[float], None]] = None,
        rng: Optional[random.Random] = None,
        cluster_error_retry_attempts: Optional[int] = None,
        retry: Any = None,
        require_full_coverage: bool = True,
        load_balancing_strategy: Any = None,
        dynamic_startup_nodes: Optional[bool] = None,
        url: Optional[str] = None,
        address_remap: Any = None,
        cache: Any = None,
        cache_config: Any = None,
        event_dispatcher: Any = None,
        policy_resolver: Any = None,
        maint_notifications_config: Any = None,
        multiplexed: bool = False,
        **kwargs: Any,
    ) -> None:
        if url is not None:  # redis-py's url=: what from_url would build, then the rest
            params = {k: v for k, v in locals().items()
                      if k not in ("self", "url", "kwargs", "__class__")}
            params.update(kwargs)
            for key, value in url_options(url).items():
                if key == "startup_nodes":
                    params[key] = [*(startup_nodes or ()), *value]
                elif key not in params or (key in _INIT_DEFAULTS
                                           and params[key] == _INIT_DEFAULTS[key]):
                    params[key] = value  # a keyword given explicitly wins over the URL
            RedisCluster.__init__(self, **params)
            return
        if kwargs.get("db"):
            raise RedisClusterConfigError(
                "Argument 'db' is not possible to use in cluster mode (Redis Cluster has only "
                f"database 0); got db={kwargs['db']!r}")
        kwargs.pop("db", None)
        if retry_deadline is None:
            raise RedisClusterConfigError(
                "retry_deadline must be a number of seconds (it bounds every call and its "
                "retries); got None -- give a large value to wait longer")
        check_number("retry_deadline", retry_deadline)  # the pool checks its own numbers
        check_number("max_redirects", max_redirects, integer=True)
        check_number("read_your_writes", read_your_writes)
        check_number("cluster_down_retry_attempts", cluster_down_retry_attempts, integer=True)
        for name, value in (("cache", cache), ("cache_config", cache_config),
                            ("event_dispatcher", event_dispatcher),
                            ("policy_resolver", policy_resolver)):
            kwargs[name] = value  # checked (refused unless None) with the other keywords
        mapped = redis_py_keywords(
            kwargs, retry=retry, require_full_coverage=require_full_coverage,
            cluster_error_retry_attempts=cluster_error_retry_attempts,
            load_balancing_strategy=load_balancing_strategy,
            dynamic_startup_nodes=dynamic_startup_nodes, address_remap=address_remap,
            maint_notifications_config=maint_notifications_config)
        skip_full_coverage_check = (skip_full_coverage_check
                                    or mapped.get("skip_full_coverage_check", False))
        if "cluster_down_retry_attempts" in mapped and cluster_down_retry_attempts is None:
            cluster_down_retry_attempts = mapped["cluster_down_retry_attempts"]
        if "nodemanager_follow_cluster" in mapped and not nodemanager_follow_cluster:
            nodemanager_follow_cluster = mapped["nodemanager_follow_cluster"]
        if "host_port_remap" in mapped:
            if host_port_remap is not None:
                raise RedisClusterConfigError(
                    "give address_remap or host_port_remap, not both")
            host_port_remap = mapped["host_port_remap"]
        if "read_policy" in mapped:
            if read_policy is not None and read_policy != mapped["read_policy"]:
                raise RedisClusterConfigError(
                    f"load_balancing_strategy={load_balancing_strategy!r} contradicts "
                    f"read_policy={read_policy!r}")
            read_policy = mapped["read_policy"]
        #: redis-py's attribute (the strategy given, if any).
        self.load_balancing_strategy = load_balancing_strategy
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
                raise RedisClusterConfigError(
                    "RedisCluster requires at least one node to discover the cluster: give "
                    "host (and port), startup_nodes, url, or connection_pool; got none")
            if multiplexed:
                pool_class = multiplexed_pool_class(pool_class)
            check_connection_keywords(kwargs, connection_class, bool(kwargs.get("ssl")))
            connection_pool = pool_class(
                startup_nodes=[node_address(n) for n in startup_nodes or ()],
                init_slot_cache=init_slot_cache,
                connection_class=connection_class, max_connections=max_connections,
                max_connections_per_node=max_connections_per_node,
                reinitialize_steps=reinitialize_steps,
                skip_full_coverage_check=skip_full_coverage_check,
                nodemanager_follow_cluster=nodemanager_follow_cluster,
                host_port_remap=host_port_remap, host=host, port=port, rng=rng, **kwargs)
        elif multiplexed and not isinstance(connection_pool, MultiplexedClusterConnectionPool):
            raise RedisClusterConfigError(
                f"multiplexed=True needs a multiplexed pool; got connection_pool="
                f"{type(connection_pool).__name__} (use MultiplexedClusterConnectionPool)")
        self.connection_pool = connection_pool
        on_timeout = retry_on_timeout if retry_on_timeout is not None else (
            connection_pool.connection_kwargs.get("retry_on_timeout"))
        policy = mapped.get("policy") or RetryPolicy(
            max_redirects=max_redirects, cluster_down_attempts=cluster_down_retry_attempts,
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
        if read_your_writes:
            self.executor.set_read_your_writes(read_your_writes)
        self._encoding = self.executor.encoding
        #: redis-py's per-client copy of the node flags.
        self.node_flags = set(NODE_FLAGS)
        #: redis-py attributes with nothing behind them here (no connect hook, no
        #: maintenance notifications: both are refused at construction).
        self.user_on_connect_func: Optional[Callable[..., Any]] = None
        self.maint_notifications_config: Any = None
        self._node_set: Optional[NodeSet] = None
        self._nodes_manager: Optional[NodesManagerView] = None
        #: The pub/sub objects made by pubsub(): close() disconnects them (held weakly).
        self._pubsubs: weakref.WeakSet[ClusterPubSub] = weakref.WeakSet()

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy (frozen); assigning a new one takes effect on the next command."""
        return self.executor.policy

    @retry.setter
    def retry(self, policy: RetryPolicy) -> None:
        if not isinstance(policy, RetryPolicy):
            raise TypeError(f"retry must be a RetryPolicy, got {policy!r}")
        self.executor.policy = policy

    def set_retry(self, retry: Any) -> None:
        """redis-py's setter: a RetryPolicy as is; a redis-py ``Retry``: its retry count
        becomes the policy's ``cluster_down_attempts`` (the rest of the policy stays)."""
        if isinstance(retry, RetryPolicy):
            self.retry = retry
        elif callable(getattr(retry, "get_retries", None)):
            self.retry = dataclasses.replace(self.executor.policy,
                                             cluster_down_attempts=int(retry.get_retries()))
        else:
            raise TypeError(f"retry must be a RetryPolicy or a redis-py Retry, got {retry!r}")

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
        for key, value in url_options(url).items():
            kwargs.setdefault(key, value)
        return cls(**kwargs)

    # --- the execute loop ----------------------------------------------------------------------
    def execute_command(self, *args: Any, **options: Any) -> Any:
        """Route and run one command (with redirects and retries), then parse its reply."""
        try:
            spec = _single_key_spec(args[0])
        except (IndexError, TypeError):  # no arguments; an unhashable first one
            spec = None
        if spec is not None and len(args) > spec.first_key and (not options or (
                "never_decode" not in options and "NEVER_DECODE" not in options
                and "target_nodes" not in options)):
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
            raise ClusterUsageError("Unable to determine command to use (no arguments)")
        # never_decode: read the reply as bytes even with decode_responses (DUMP's payload)
        raw = pop_never_decode(options) if options else False
        targets = options.pop("target_nodes", None) if options else None
        spec = lookup(args)
        if spec is None or has_space(args[0]):
            args = normalize_args(args)
            spec = spec or lookup(args) or self.executor.server_spec(args)
        if targets is not None:
            return self._execute_targeted(args, spec, targets, raw, options)
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
                if 0 < spec.first_key >= len(args):
                    raise ClusterUsageError(
                        "No way to dispatch this command to Redis Cluster. Missing key. "
                        f"({name} takes a key at argument {spec.first_key}; got {args!r})")
                reply = self.executor.run_on_node(self.executor.random_node(), *args)
            else:
                blocking = (None if spec.blocking_timeout_arg is None
                            else blocking_timeout(spec, args))
                reply = self.executor.run_slot(args, slot, spec, blocking, raw)
            callback = self.response_callbacks.get(name)
            return reply if callback is None else callback(reply, **options)
        if route is Route.CONNECTION or route is Route.NODE_ONLY:
            raise ClusterUsageError(
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
        replies = executor.run_on_nodes(targets, args, idempotent=is_idempotent(spec, args))
        parsed: Dict[str, Any] = {}
        for address, reply in zip(targets, replies):
            if isinstance(reply, BaseException):
                parsed[address.name] = reply
            else:
                parsed[address.name] = self._parse_reply(
                    spec.name, reply, **{"current_host": address.host, **options})
        return self._merge_results(spec.name, spec.merge, parsed, **options)

    def _execute_targeted(self, args: Sequence[Any], spec: Any, target_nodes: Any, raw: bool,
                          options: Dict[str, Any]) -> Any:
        """redis-py's ``target_nodes=``: run on exactly those nodes (no redirect followed:
        the caller chose them), parse each reply, raise the first error, merge by redis-py's
        rules (the user's result callback first)."""
        if spec.name in _BOUND_TO_CONNECTION:
            raise ClusterUsageError(
                f"{spec.name} changes the state of one connection and cannot be sent to "
                "pooled connections, target_nodes or not (use pipeline() or pubsub())")
        executor = self.executor
        # each node once: a node named twice would run the command twice for one reply
        addresses = list(dict.fromkeys(executor.locate(
            node=target_nodes, read=spec.readonly and executor.read_from_replicas)))
        replies = executor.run_on_nodes(addresses, args, idempotent=is_idempotent(spec, args),
                                        raw=raw)
        parsed: Dict[str, Any] = {}
        name = spec.name
        for address, reply in zip(addresses, replies):
            if isinstance(reply, BaseException):
                raise reply
            parsed[address.name] = self._parse_reply(
                name, reply, **{"current_host": address.host, **options})
        return merge_targeted(name, parsed, self.result_callbacks, **options)

    # --- redis-py's node API -----------------------------------------------------------------
    def node_set(self) -> NodeSet:
        """The ClusterNodes of the current topology (discovered first if needed), built once
        per snapshot: the nodes are derived from the topology, never a second copy of it."""
        topology = self.connection_pool.ensure_topology()
        nodes = self._node_set
        if nodes is None or nodes.topology is not topology:
            nodes = self._node_set = NodeSet(topology, self)
        return nodes

    def node_for_address(self, address: NodeAddress) -> ClusterNode:
        """The ClusterNode at ``address`` (one outside the current layout has no server_type)."""
        node = self.node_set().node(address)
        return node if node is not None else ClusterNode.of(address, None, self)

    @property
    def nodes_manager(self) -> NodesManagerView:
        """redis-py's ``nodes_manager`` attributes (``nodes_cache``, ``slots_cache``,
        ``default_node`` ...), read from the current topology."""
        if self._nodes_manager is None:
            self._nodes_manager = NodesManagerView(self)
        return self._nodes_manager

    @property
    def startup_nodes(self) -> List[ClusterNode]:
        """The pool's startup nodes, as ClusterNodes."""
        return [ClusterNode(a.host, a.port) for a in self.connection_pool.startup_nodes]

    @property
    def reinitialize_steps(self) -> int:
        """MOVED replies between two topology refreshes (the pool's); settable, as in
        redis-py (0 refreshes on every MOVED; a refresh runs in the background either way)."""
        return self.connection_pool.reinitialize_steps

    @reinitialize_steps.setter
    def reinitialize_steps(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise DataError(f"reinitialize_steps must be an int >= 0; got {value!r}")
        self.connection_pool.reinitialize_steps = value

    @property
    def cluster_response_callbacks(self) -> Dict[str, Callable[..., Any]]:
        """redis-py's name for the reply callbacks (one case-insensitive dict here: the
        cluster commands' callbacks are in ``response_callbacks`` with the others)."""
        return self.response_callbacks

    def get_nodes(self) -> List[ClusterNode]:
        """Every node of the current layout: the primaries, then the replicas."""
        return list(self.node_set().nodes)

    def get_primaries(self) -> List[ClusterNode]:
        """The primaries of the current layout."""
        return list(self.node_set().primaries)

    def get_replicas(self) -> List[ClusterNode]:
        """The replicas of the current layout."""
        return list(self.node_set().replicas)

    def get_random_node(self) -> ClusterNode:
        """A random node, primary or replica (drawn from the client's ``rng``)."""
        return self.executor.choose(self.node_set().nodes)

    def get_random_primary_node(self) -> ClusterNode:
        """A random primary."""
        return self.executor.choose(self.node_set().primaries)

    def get_random_primary_or_all_nodes(self, command_name: str) -> ClusterNode:
        """A random node for a read command when replicas serve reads, else a random primary."""
        spec = lookup((command_name,))
        if self.read_from_replicas and spec is not None and spec.readonly:
            return self.get_random_node()
        return self.get_random_primary_node()

    def get_node(self, host: Optional[str] = None, port: Union[int, str, None] = None,
                 node_name: Optional[str] = None) -> Optional[ClusterNode]:
        """The node at ``host``/``port`` or named ``node_name`` ("host:port") in the current
        layout, or None (also when neither is given, as redis-py)."""
        if host and port:
            node_name = f"{'127.0.0.1' if host == 'localhost' else host}:{port}"
        elif not node_name:
            return None
        return self.node_set().by_name.get(node_name)

    def get_default_node(self) -> ClusterNode:
        """The node ``target_nodes=RedisCluster.DEFAULT_NODE`` names: the one set with
        set_default_node while it is in the layout, else the first primary by slot."""
        return self.node_for_address(self.executor.default_address())

    def set_default_node(self, node: Optional[ClusterNode]) -> bool:
        """Make ``node`` the default node; False (nothing changes) when it is not a node of
        the current layout."""
        if node is None or self.get_node(node_name=node.name) is None:
            return False
        self.executor.default_node = node.address
        return True

    def replace_default_node(self, target_node: Optional[ClusterNode] = None) -> None:
        """Set ``target_node`` as the default, or (none given) another random primary --
        a replica when there is no other primary (redis-py's rule)."""
        if target_node is not None:
            self.set_default_node(target_node)
            return
        current = self.get_default_node()
        nodes = self.node_set()
        others = [n for n in nodes.primaries if n != current] or [
            n for n in nodes.replicas if n != current]
        if others:
            self.executor.default_node = self.executor.choose(others).address

    def keyslot(self, key: Any) -> int:
        """The hash slot of ``key`` (encoded as the connections encode it)."""
        return key_slot(key, self._encoding)

    def determine_slot(self, *args: Any) -> int:
        """The one slot a command's keys map to; ClusterCrossSlotError when they span slots,
        ClusterUsageError when the command has no key to route by."""
        spec = lookup(args) or self.executor.server_spec(normalize_args(args))
        slot = slot_of(spec, normalize_args(args), self._encoding)
        if slot is None:
            raise ClusterUsageError(
                f"No way to dispatch {spec.name} to Redis Cluster: it has no key")
        return slot

    def get_node_from_key(self, key: Any, replica: bool = False) -> Optional[ClusterNode]:
        """The primary serving ``key``'s slot, or with ``replica`` its first replica (None
        when it has none); SlotNotCoveredError when no node serves the slot."""
        slot = self.keyslot(key)
        members = self.node_set().slot_nodes(slot)
        if not members:
            raise SlotNotCoveredError(f'Slot "{slot}" is not covered by the cluster.')
        if replica:
            return members[1] if len(members) > 1 else None
        return members[0]

    def get_nodes_from_slot(self, command: str, *args: Any) -> List[ClusterNode]:
        """``[the node that would serve this command]`` by its keys' slot (a replica for a
        read when replicas serve reads)."""
        spec = lookup((command,))
        read = bool(spec is not None and spec.readonly and self.read_from_replicas)
        address = self.connection_pool.address_for_slot(self.determine_slot(*args), read)
        return [self.node_for_address(address)]

    def get_redis_connection(self, node: Union[ClusterNode, NodeAddress]) -> NodeClient:
        """What redis-py users call commands on for one node: every command method, sent to
        ``node`` through this client (``rc.get_redis_connection(node).ping()``)."""
        if isinstance(node, ClusterNode):
            connection = self.node_for_address(node.address).redis_connection
            assert isinstance(connection, NodeClient)
            return connection
        return NodeClient(self, node)

    def get_connection_kwargs(self) -> Dict[str, Any]:
        """The keyword arguments every connection is built with (a copy)."""
        return dict(self.connection_pool.connection_kwargs)

    @property
    def encoder(self) -> Encoder:
        """redis-py's ``encoder`` attribute (see get_encoder)."""
        return self.get_encoder()

    def get_encoder(self) -> Encoder:
        """redis-py's encoder: ``encode(value)`` as the wire sends it, ``decode(value)`` as
        replies are decoded with ``decode_responses``."""
        kwargs = self.connection_pool.connection_kwargs
        return Encoder(self._encoding, str(kwargs.get("encoding_errors", "strict")),
                       bool(kwargs.get("decode_responses", False)))

    def disconnect_connection_pools(self) -> None:
        """Close every idle connection (in-use ones when released); the client stays usable."""
        self.connection_pool.disconnect()

    def load_external_module(self, funcname: str, func: Any) -> None:
        """redis-py's hook: make ``func`` available as ``self.<funcname>``."""
        setattr(self, funcname, func)

    # --- redis-py's conveniences ---------------------------------------------------------------
    def __getitem__(self, name: Any) -> Any:
        """``rc[name]``: GET, KeyError when the key does not exist."""
        value = self.get(name)
        if value is not None:
            return value
        raise KeyError(name)

    def __setitem__(self, name: Any, value: Any) -> None:
        """``rc[name] = value``: SET."""
        self.set(name, value)

    def __delitem__(self, name: Any) -> None:
        """``del rc[name]``: DEL (no error for a missing key, as redis-py)."""
        self.delete(name)

    def __contains__(self, name: Any) -> bool:
        """``name in rc``: EXISTS."""
        return bool(self.exists(name))

    def mget_nonatomic(self, keys: Any, *args: Any) -> List[Any]:
        """Values of ``keys`` in order, MGET per slot (one round trip per node; not atomic
        across slots); ``[]`` for no keys, as in redis-py."""
        names = list_or_args(keys, args)
        return list(self.mget(names)) if names else []

    def mset_nonatomic(self, mapping: Mapping[Any, Any]) -> List[Any]:
        """Set every pair, one MSET per slot (in the order slots first appear), sent as one
        pipeline; each slot's MSET result (True), as redis-py returns them."""
        by_slot: Dict[int, List[Any]] = {}
        for key, value in mapping.items():
            by_slot.setdefault(self.keyslot(key), []).extend((key, value))
        with self.pipeline() as pipe:
            for pairs in by_slot.values():
                pipe.execute_command("MSET", *pairs)
            return pipe.execute()

    def transaction(self, func: Callable[[ClusterPipeline], Any], *watches: Any,
                    shard_hint: Any = None, value_from_callable: bool = False,
                    watch_delay: Optional[float] = None,
                    max_attempts: int = DEFAULT_TRANSACTION_ATTEMPTS, **kwargs: Any) -> Any:
        """redis-py's optimistic transaction: WATCH ``watches``, call ``func(pipe)``, EXEC;
        on WatchError, again. Returns EXEC's results (``func``'s value with
        ``value_from_callable``). ``watch_delay`` pauses between attempts.

        Bounded, unlike redis-py's endless loop: after ``max_attempts`` attempts (default
        DEFAULT_TRANSACTION_ATTEMPTS) the last WatchError is raised."""
        if kwargs:  # redis-py takes **kwargs and drops what it does not know: refuse instead
            raise TypeError(f"transaction() got unexpected keyword(s) {', '.join(sorted(kwargs))}")
        if not isinstance(max_attempts, int) or isinstance(max_attempts, bool) or max_attempts < 1:
            raise DataError(f"max_attempts must be an int >= 1; got {max_attempts!r}")
        with self.pipeline(True, shard_hint) as pipe:
            for attempt in range(max_attempts):
                try:
                    if watches:
                        pipe.watch(*watches)
                    value = func(pipe)
                    results = pipe.execute()
                    return value if value_from_callable else results
                except WatchError:
                    if attempt + 1 == max_attempts:
                        raise
                    pipe.reset()
                    if watch_delay is not None and watch_delay > 0:
                        self.executor.sleep(watch_delay)
        raise AssertionError("unreachable")

    def lock(self, name: Any, timeout: Optional[float] = None, sleep: float = 0.1,
             blocking: bool = True, blocking_timeout: Optional[float] = None,
             lock_class: Any = None, thread_local: bool = True,
             raise_on_release_error: bool = True) -> Any:
        """redis-py's ``lock()``: ``(lock_class or clustercore's Lock)(self, name, ...)``, a
        Lua lock on ``name``'s slot (see ``clustercore._execution.lock``)."""
        if lock_class is None:
            from .lock import Lock  # imported on use: most clients never lock

            lock_class = Lock
        return lock_class(self, name, timeout=timeout, sleep=sleep, blocking=blocking,
                          blocking_timeout=blocking_timeout, thread_local=thread_local,
                          raise_on_release_error=raise_on_release_error)

    # --- callbacks and lifecycle ---------------------------------------------------------------
    def pipeline(self, transaction: Optional[bool] = None,
                 shard_hint: Any = None) -> ClusterPipeline:
        """Buffered commands sent node by node; ``transaction=True``: MULTI/EXEC on one slot."""
        return ClusterPipeline(self, transaction=bool(transaction), shard_hint=shard_hint)

    def pubsub(self, node: Any = None, host: Optional[str] = None, port: Optional[int] = None,
               **kwargs: Any) -> ClusterPubSub:
        """Classic and sharded pub/sub on dedicated connections, restored automatically;
        ``node`` or ``host``/``port`` (redis-py) name the node for classic subscriptions."""
        for key, value in (("node", node), ("host", host), ("port", port)):
            if value is not None:
                kwargs[key] = value
        pubsub = ClusterPubSub(self, **kwargs)
        self._pubsubs.add(pubsub)
        return pubsub

    def monitor(self, target_node: Any = None,
                timeout: Optional[float] = DEFAULT_MONITOR_TIMEOUT) -> Monitor:
        """redis-py's MONITOR context manager on one node (the default node when none is
        given), on a dedicated connection closed on exit; reads wait at most ``timeout``."""
        node = self.get_default_node() if target_node is None else target_node
        address = cluster_node(self.executor.pool, node, None, None)
        assert address is not None
        conn = self.executor.pool.dedicated_connection(address, readonly=False, protocol=2,
                                                  socket_timeout=timeout)
        return Monitor(conn, address)

    def register_script(self, script: Any) -> Script:
        """EVALSHA; on NOSCRIPT loads the body on that node only (works in pipelines too)."""
        return Script(self, script)

    def close(self) -> None:
        """Close every connection and stop the pool's threads (an ordered shutdown: calls in
        flight get PoolClosedError); as with redis-py's client, a command issued afterwards
        reopens the pool and reconnects. For a final fence, close the pool itself:
        ``rc.connection_pool.close()``. As redis-py's close() closes in-use connections, the
        connections of the pub/sub objects pubsub() made are closed too, so the server drops
        their subscriptions (an object still in use subscribes again on its next read)."""
        for pubsub in list(self._pubsubs):
            pubsub.disconnect()
        self.connection_pool.close(reopen_on_use=True)

    def __enter__(self) -> RedisCluster:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RedisCluster {self.connection_pool!r}>"


#: Commands that change one connection's state: never sent on a pooled connection.
_BOUND_TO_CONNECTION = frozenset({
    "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH", "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE",
    "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE", "AUTH", "HELLO", "RESET", "QUIT", "SELECT",
    "READONLY", "READWRITE", "CLIENT TRACKING", "CLIENT REPLY", "CLIENT CACHING", "MONITOR"})
#: RedisCluster.__init__'s defaults: a URL option replaces a named argument left at its default.
_INIT_DEFAULTS: Dict[str, Any] = {
    name: parameter.default
    for name, parameter in inspect.signature(RedisCluster.__init__).parameters.items()
    if parameter.default is not parameter.empty}

_single_key_spec = SINGLE_KEY.get
_dict_get = dict.get

