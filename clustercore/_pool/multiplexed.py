"""The multiplexed pools: single commands share one connection per node, the rest is pooled.

``MultiplexedClusterConnectionPool`` is a :class:`ClusterConnectionPool` whose
:meth:`connection_for_command` -- what the executor's one-slot loop asks for (GET, SET, HGET
... and every other one-slot command that does not block) -- hands out a
:class:`~clustercore._net.multiplex.SharedConnection` over the node's one
:class:`~clustercore._net.multiplex.MultiplexedConnection` instead of a connection of its own.
Everything else (blocking commands, transactions with MULTI/WATCH, pub/sub, MONITOR,
pipelines, node-targeted and fan-out commands) checks connections out of the same pool as
before: those need a connection to themselves.

The shared connection is itself a connection checked out of the node's pool (so it is counted,
capped, connected with the pool's handshake, TLS and timeouts, and a node that refuses
connects is cooled down as usual); it is kept until it breaks, and given back (discarded)
then. A forked child forgets the parent's shared connections without touching them, as the
pool forgets its node pools (:mod:`.fork`); ``close()`` and ``disconnect()`` give every shared
connection up first (its waiting callers get ConnectionError), then do what the pool does.

:func:`multiplexed_pool_class` makes the multiplexed variant of any pool class (the read-only
and read-replica pools included): what ``RedisCluster(multiplexed=True)`` builds.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, Optional, Type, TypeVar

from .._address import NodeAddress
from .._net.multiplex import MultiplexedConnection, SharedConnection
from ..errors import PoolClosedError, PoolTimeoutError, RedisClusterConfigError
from .cluster_pool import (
    ClusterBlockingConnectionPool,
    ClusterConnectionPool,
    ClusterReadOnlyConnectionPool,
    ClusterWithReadReplicasConnectionPool,
)
from .fork import fork_generation

__all__ = ["MultiplexedClusterConnectionPool", "multiplexed_pool_class"]

P = TypeVar("P", bound=ClusterConnectionPool)

#: How long a caller waits for another thread that is opening the shared connection, when no
#: timeout is configured (seconds).
_DEFAULT_OPEN_WAIT = 30.0


class MultiplexedClusterConnectionPool(ClusterConnectionPool):
    """A cluster pool whose single commands share one connection per node (see the module).

    Takes every argument :class:`ClusterConnectionPool` takes. ``stats()`` counts each shared
    connection as one connection in use on its node."""

    #: Marks the multiplexed pools (the client and the docs read it).
    multiplexed = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._shared: Dict[NodeAddress, MultiplexedConnection] = {}  # copy-on-write
        self._opening: Dict[NodeAddress, threading.Event] = {}
        self._shared_lock = threading.Lock()
        self._shared_fork = fork_generation[0]
        super().__init__(*args, **kwargs)
        if not self.config.native:
            self.close()
            raise RedisClusterConfigError(
                "a multiplexed pool needs clustercore's own connection API; "
                f"connection_class={self.connection_class!r} is not a ClusterConnection")

    def connection_for_command(self, address: NodeAddress) -> Any:
        """A handle on the shared connection to ``address`` (opened on first use, and again
        after it broke); raises what a checkout raises when it cannot be opened."""
        if self._shared_fork != fork_generation[0]:
            self._forget_after_fork()
        mux = self._shared.get(address)
        if mux is None or mux.broken:
            mux = self._open_shared(address)
        return SharedConnection(mux)

    def shared_connection(self, address: NodeAddress) -> Optional[MultiplexedConnection]:
        """The current shared connection to ``address``, if one is open (for tests and stats)."""
        mux = self._shared.get(address)
        return None if mux is None or mux.broken else mux

    def _open_shared(self, address: NodeAddress) -> MultiplexedConnection:
        """Open the node's shared connection; callers arriving meanwhile wait for it."""
        for _ in range(2):
            with self._shared_lock:
                mux = self._shared.get(address)
                if mux is not None and not mux.broken:
                    return mux
                opening = self._opening.get(address)
                if opening is None:
                    opening = self._opening[address] = threading.Event()
                    opener = True
                else:
                    opener = False
            if not opener:
                if not opening.wait(self._open_wait()):
                    raise PoolTimeoutError(
                        f"timed out waiting for the shared connection to {address} to open",
                        node=address)
                continue  # opened (take it), or its opener failed (try once ourselves)
            try:
                conn = self.get_connection_by_address(address)
            except BaseException:
                with self._shared_lock:
                    self._opening.pop(address, None)
                opening.set()
                raise
            mux = MultiplexedConnection(conn, on_broken=self._shared_broken)
            with self._shared_lock:
                self._opening.pop(address, None)
                closed = self.closed
                if not closed:
                    shared = dict(self._shared)
                    shared[address] = mux
                    self._shared = shared
            opening.set()
            if closed:  # close() ran meanwhile: do not keep a connection it did not see
                mux.close()
                raise PoolClosedError("the connection pool is closed", node=address)
            return mux
        raise PoolTimeoutError(f"the shared connection to {address} could not be opened",
                               node=address)

    def _open_wait(self) -> float:
        kwargs = self.connection_kwargs
        waits = [w for w in (kwargs.get("socket_connect_timeout"), kwargs.get("socket_timeout"),
                             self.timeout) if w]
        return (max(waits) if waits else _DEFAULT_OPEN_WAIT) + 1.0

    def _shared_broken(self, mux: MultiplexedConnection, error: BaseException) -> None:
        """A shared connection was given up: forget it and hand its connection back."""
        with self._shared_lock:
            if self._shared.get(mux.address) is mux:
                shared = dict(self._shared)
                del shared[mux.address]
                self._shared = shared
        if self._shared_fork == fork_generation[0]:  # never a parent's connection in a child
            super().discard(mux.connection)

    def _forget_after_fork(self) -> None:
        """In a forked child: drop the parent's shared connections unused (their sockets and
        waiters are the parent's), with a new lock (a parent thread may have held the old)."""
        self._shared_lock = threading.Lock()
        self._shared = {}
        self._opening = {}
        self._shared_fork = fork_generation[0]

    def _give_up_shared(self) -> None:
        if self._shared_fork != fork_generation[0]:  # a child: the parent's are not ours
            self._forget_after_fork()
            return
        with self._shared_lock:
            shared, self._shared = self._shared, {}
        for mux in shared.values():
            mux.close()

    # --- returns: a handle is not a pooled connection ---------------------------------------
    def release(self, connection: Any) -> None:
        """Return a connection; a shared-connection handle needs nothing."""
        if type(connection) is not SharedConnection:
            super().release(connection)

    def discard(self, connection: Any) -> None:
        """Close a broken connection; for a shared-connection handle nothing: its call was
        abandoned (timeout) or the shared connection has already been given up."""
        if type(connection) is not SharedConnection:
            super().discard(connection)

    # --- lifecycle --------------------------------------------------------------------------
    def disconnect(self) -> None:
        """Give up every shared connection, then close the pooled ones (see the pool's)."""
        self._give_up_shared()
        super().disconnect()

    def close(self, reopen_on_use: bool = False) -> None:
        """Give up every shared connection (waiting callers get ConnectionError), then the
        pool's ordered shutdown."""
        self._give_up_shared()
        super().close(reopen_on_use)


_variants: Dict[type, type] = {
    ClusterConnectionPool: MultiplexedClusterConnectionPool,
}
_variants_lock = threading.Lock()


def multiplexed_pool_class(base: Type[P]) -> Type[P]:
    """The multiplexed variant of the pool class ``base`` (made once per class): ``base``'s
    behaviour with :class:`MultiplexedClusterConnectionPool`'s shared connections."""
    if issubclass(base, MultiplexedClusterConnectionPool):
        return base
    with _variants_lock:
        variant = _variants.get(base)
        if variant is None:
            variant = type(f"Multiplexed{base.__name__}", (MultiplexedClusterConnectionPool, base),
                           {"__module__": __name__, "__doc__": base.__doc__})
            _variants[base] = variant
    return variant


#: The multiplexed variants of the other public pools.
MultiplexedClusterBlockingConnectionPool = multiplexed_pool_class(ClusterBlockingConnectionPool)
MultiplexedClusterReadOnlyConnectionPool = multiplexed_pool_class(ClusterReadOnlyConnectionPool)
MultiplexedClusterWithReadReplicasConnectionPool = multiplexed_pool_class(
    ClusterWithReadReplicasConnectionPool)
