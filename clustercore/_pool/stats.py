"""Frozen statistics snapshots and the one event hook.

``pool.stats()`` returns a :class:`PoolStats`; nothing in it changes after it is taken, so it can
be logged, compared and exported safely. The event hook is a single optional callable
``hook(event: str, fields: dict)`` called outside every lock; when none is set the pools pay one
``is None`` test. Event names: ``connection_created``, ``connection_closed``, ``checkout_waited``,
``checkout_timeout``, ``node_failing``, ``node_recovered``, ``topology_refreshed``,
``topology_refresh_failed``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from .._address import NodeAddress

__all__ = ["EventHook", "NodeStats", "PoolStats", "call_hook"]

_log = logging.getLogger("clustercore.pool")

#: Signature of the event hook: (event name, fields).
EventHook = Callable[[str, Dict[str, Any]], None]


def call_hook(hook: EventHook, event: str, fields: Dict[str, Any]) -> None:
    """Call the event hook, which must be reached with no pool lock held (it may read
    ``stats()``, which takes them). An exception from it is logged at debug level and swallowed:
    a broken metrics adapter must never break a command."""
    try:
        hook(event, fields)
    except Exception:
        _log.debug("event hook failed on %s", event, exc_info=True)


@dataclass(frozen=True)
class NodeStats:
    """One node's pool at one instant."""

    address: NodeAddress
    role: Optional[str]
    created: int
    closed: int
    in_use: int
    idle: int
    waiting: int
    waits: int
    wait_timeouts: int
    total_wait_time: float
    health_check_failures: int
    connect_failures: int
    failing: bool

    @property
    def open(self) -> int:
        """Connections currently open (created minus closed)."""
        return self.created - self.closed


@dataclass(frozen=True)
class PoolStats:
    """The whole cluster pool at one instant: per-node stats, totals, topology refreshes."""

    nodes: Tuple[NodeStats, ...]
    active_nodes: int
    topology_epoch: int
    refreshes: int
    refresh_failures: int
    refresh_triggers: Mapping[str, int] = field(default_factory=dict)
    closed: bool = False

    def _sum(self, name: str) -> int:
        return sum(getattr(n, name) for n in self.nodes)

    @property
    def in_use(self) -> int:
        """Connections checked out right now, all nodes."""
        return self._sum("in_use")

    @property
    def idle(self) -> int:
        """Idle connections ready for reuse, all nodes."""
        return self._sum("idle")

    @property
    def created(self) -> int:
        """Connections ever created, all nodes."""
        return self._sum("created")

    @property
    def closed_connections(self) -> int:
        """Connections ever closed, all nodes."""
        return self._sum("closed")

    @property
    def waiting(self) -> int:
        """Callers waiting for a connection right now."""
        return self._sum("waiting")

    @property
    def waits(self) -> int:
        """Checkouts that had to wait."""
        return self._sum("waits")

    @property
    def wait_timeouts(self) -> int:
        """Checkouts that gave up after ``timeout``."""
        return self._sum("wait_timeouts")

    def node(self, address: NodeAddress) -> Optional[NodeStats]:
        """The stats of one node, or None."""
        for n in self.nodes:
            if n.address == address:
                return n
        return None
