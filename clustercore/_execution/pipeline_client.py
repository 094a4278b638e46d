"""The client's names on a pipeline: redis-py's ClusterPipeline is a RedisCluster subclass, so
code written for it calls ``pipe.get_nodes()``, reads ``pipe.PRIMARIES`` or opens
``pipe.pipeline()``; clustercore's pipeline is not a client, so ``ClientNames`` forwards those
names to ``pipe.client`` (one source of truth: the client's node API and settings).

It also carries redis-py's pipeline constants and the stubs redis-py's pipeline has for
methods it does not implement (``load_scripts`` ...) or blocks in cluster mode (``config``,
``slowlog``, ``sentinel_*`` ...), raising ClusterUsageError (redis-py's
RedisClusterException). A name the client does not have (yet) raises AttributeError on the
pipeline too.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from ..errors import (
    AskError,
    ClusterUsageError,
    ConnectionError,
    MovedError,
    TimeoutError,
    TryAgainError,
)

__all__ = ["ClientNames", "ClientValue", "blocked_in_pipeline"]


class ClientValue:
    """A value of the client read through the pipeline (``pipe.PRIMARIES`` is
    ``pipe.client.PRIMARIES``): a data descriptor, so it cannot be shadowed by accident."""

    __slots__ = ("name",)

    def __init__(self, name: str = "") -> None:
        self.name = name

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: Optional[type] = None) -> Any:
        if obj is None:
            return self
        try:
            return getattr(obj.client, self.name)
        except AttributeError:
            raise AttributeError(f"{type(obj).__name__!r} object has no attribute "
                                 f"{self.name!r} (its client has none)") from None

    def __set__(self, obj: Any, value: Any) -> None:
        raise AttributeError(f"{self.name} is the client's: set it on pipe.client")


def blocked_in_pipeline(name: str) -> Callable[..., Any]:
    """A method redis-py's ClusterPipeline blocks in cluster mode: raises as redis-py does."""

    def blocked(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise ClusterUsageError(
            f"ERROR: Calling pipelined function {name} is blocked when running redis in "
            "cluster mode...")

    blocked.__name__ = blocked.__qualname__ = name
    blocked.__doc__ = f"Blocked in a cluster pipeline (redis-py's {name} stub); call the client."
    return blocked


#: "not given" for a forwarded keyword whose default is the client's
_KEEP: Any = object()


def _forward(name: str) -> Callable[..., Any]:
    """A pipeline method that calls the client's method ``name`` (at once, not queued)."""

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.client, name)(*args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"The client's ``{name}()`` (runs at once on the client, not queued)."
    return method


class ClientNames:
    """redis-py's ClusterPipeline names that belong to the client (see the module docstring)."""

    #: the pipeline's client (typed loosely: these forwards must not tie this module to the
    #: client's method list, which grows with redis-py's)
    client: Any

    #: redis-py's ClusterPipeline constants (which commands its transactions treat specially)
    NO_SLOTS_COMMANDS = frozenset({"UNWATCH"})
    IMMEDIATE_EXECUTE_COMMANDS = frozenset({"WATCH", "UNWATCH"})
    UNWATCH_COMMANDS = frozenset({"DISCARD", "EXEC", "UNWATCH"})
    #: the errors redis-py's pipeline retries (clustercore's router decides per command)
    ERRORS_ALLOW_RETRY = (ConnectionError, TimeoutError, MovedError, AskError, TryAgainError)
    #: redis-py sets this to ask for a topology refresh; clustercore's refresher decides
    refresh_table_asap = False

    PRIMARIES = ClientValue()
    REPLICAS = ClientValue()
    ALL_NODES = ClientValue()
    RANDOM = ClientValue()
    DEFAULT_NODE = ClientValue()
    NODE_FLAGS = ClientValue()
    nodes_manager = ClientValue()
    read_from_replicas = ClientValue()
    retry = ClientValue()
    RESULT_CALLBACKS = ClientValue()
    RedisClusterRequestTTL = ClientValue()
    cluster_response_callbacks = ClientValue()
    encoder = ClientValue()
    startup_nodes = ClientValue()
    reinitialize_steps = ClientValue()
    # the client's methods of the same name, called on the client (they run at once)
    determine_slot = _forward("determine_slot")
    get_random_primary_node = _forward("get_random_primary_node")
    disconnect_connection_pools = _forward("disconnect_connection_pools")

    def get_nodes_from_slot(self, command: str, *args: Any) -> Any:
        """The client's ``get_nodes_from_slot()``."""
        return self.client.get_nodes_from_slot(command, *args)

    def get_random_primary_or_all_nodes(self, command_name: str) -> Any:
        """The client's ``get_random_primary_or_all_nodes()``."""
        return self.client.get_random_primary_or_all_nodes(command_name)

    def replace_default_node(self, target_node: Any = None) -> None:
        """The client's ``replace_default_node()`` (the default node is the client's)."""
        self.client.replace_default_node(target_node)

    def load_external_module(self, funcname: str, func: Any) -> None:
        """redis-py's hook: make ``func`` available as ``self.<funcname>`` (on the pipeline)."""
        setattr(self, funcname, func)

    def set_retry(self, retry: Any) -> None:
        """The client's ``set_retry()`` (the retry policy is the client's)."""
        self.client.set_retry(retry)

    def monitor(self, target_node: Any = None, timeout: Any = _KEEP) -> Any:
        """The client's ``monitor()`` (a dedicated connection, never a pipeline's)."""
        if timeout is _KEEP:
            return self.client.monitor(target_node)
        return self.client.monitor(target_node, timeout=timeout)

    def get_nodes(self) -> Any:
        """The client's nodes (``pipe.client.get_nodes()``)."""
        return self.client.get_nodes()

    def get_primaries(self) -> Any:
        """The client's primary nodes."""
        return self.client.get_primaries()

    def get_replicas(self) -> Any:
        """The client's replica nodes."""
        return self.client.get_replicas()

    def get_random_node(self) -> Any:
        """A random node of the client's."""
        return self.client.get_random_node()

    def get_default_node(self) -> Any:
        """The client's default node."""
        return self.client.get_default_node()

    def set_default_node(self, node: Any) -> Any:
        """Set the client's default node (it is the client's, shared by its pipelines)."""
        return self.client.set_default_node(node)

    def get_node(self, host: Any = None, port: Any = None, node_name: Any = None) -> Any:
        """A node of the client's by host and port or by name."""
        return self.client.get_node(
            host=host, port=port, node_name=node_name)

    def get_node_from_key(self, key: Any, replica: bool = False) -> Any:
        """The node serving ``key``'s slot (a replica of it with ``replica=True``)."""
        return self.client.get_node_from_key(key, replica=replica)

    def keyslot(self, key: Any) -> Any:
        """``key``'s hash slot."""
        return self.client.keyslot(key)

    def get_redis_connection(self, node: Any) -> Any:
        """What commands for one node are called on (the client's answer)."""
        return self.client.get_redis_connection(node)

    def get_connection_kwargs(self) -> Any:
        """The client's connection keywords."""
        return self.client.get_connection_kwargs()

    def get_encoder(self) -> Any:
        """The client's encoder."""
        return self.client.get_encoder()

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> Any:
        """A new pipeline of the same client (as redis-py's ``pipe.pipeline()``)."""
        return self.client.pipeline(transaction=transaction, shard_hint=shard_hint)

    def pubsub(self, node: Any = None, host: Any = None, port: Any = None,
               **kwargs: Any) -> Any:
        """The client's pub/sub (a pipeline does not queue subscriptions)."""
        if node is None and host is None and port is None:
            return self.client.pubsub(**kwargs)
        return self.client.pubsub(node=node, host=host, port=port, **kwargs)

    def transaction(self, func: Any, *watches: Any, **kwargs: Any) -> Any:
        """The client's ``transaction(func, *watches)`` (its own pipeline, not this one)."""
        return self.client.transaction(func, *watches, **kwargs)

    def lock(self, name: Any, timeout: Any = None, sleep: float = 0.1, blocking: bool = True,
             blocking_timeout: Any = None, lock_class: Any = None, thread_local: bool = True,
             raise_on_release_error: bool = True) -> Any:
        """The client's ``lock()`` (a lock runs its commands at once, never in a pipeline)."""
        return self.client.lock(
            name, timeout=timeout, sleep=sleep, blocking=blocking,
            blocking_timeout=blocking_timeout, lock_class=lock_class,
            thread_local=thread_local, raise_on_release_error=raise_on_release_error)

    def load_scripts(self) -> None:
        """Not needed (redis-py's stub raises): scripts load themselves before their EVALSHA."""
        raise ClusterUsageError("method load_scripts() is not implemented")

    def script_load_for_pipeline(self, *args: Any, **kwargs: Any) -> None:
        """redis-py's stub: raises (scripts queued here load themselves on each node)."""
        raise ClusterUsageError("method script_load_for_pipeline() is not implemented")
