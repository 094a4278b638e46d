"""The cluster-wide connection budget and the parked caller (:class:`_Waiter`).

Split from ``node_pool`` (which re-exports :class:`Budget`): a :class:`Budget` caps open
connections across every node pool of one cluster pool and keeps the line of callers waiting
for a cluster-wide slot; a :class:`_Waiter` is one parked caller of either line.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, Deque, List, Optional, Tuple, Union

from .._net.connection import ClusterConnection

if TYPE_CHECKING:
    from .node_pool import NodePool

__all__ = ["Budget"]

# Tokens a waiter can be woken with besides a connection.
_NODE_SLOT = "node-slot"      # node and budget capacity reserved for the waiter: create one
_BUDGET_SLOT = "budget-slot"  # only a cluster-wide slot was handed over

#: How long a waiter that leaves by an exception waits for a hand-off already under way (its
#: server dequeued it and sets the result moments later, without blocking in between).
_HANDOFF_GRACE = 5.0


def drain(stack: List[ClusterConnection]) -> List[ClusterConnection]:
    """Empty a node pool's idle stack in place, by pops, top first (its lock held: checkouts
    pop without it, and one racing this either pops first or finds the stack empty). Not
    ``stack[:]`` then ``clear()``: a release appending between the two would be lost."""
    taken: List[ClusterConnection] = []
    pop = stack.pop
    while True:
        try:
            taken.append(pop())
        except IndexError:
            return taken


class _Waiter:
    """One parked caller: a pre-acquired lock that the server releases after setting ``result``.

    ``left`` is set (under the node lock) once the caller has taken itself out of the line and
    its counters; ``done`` once it has consumed ``result`` or knows none will come: from then on
    nothing is owed to it (see :meth:`NodePool._abandon`)."""

    __slots__ = ("done", "left", "lock", "on_budget", "pool", "result")

    def __init__(self, pool: NodePool, on_budget: bool) -> None:
        self.pool = pool
        self.on_budget = on_budget
        self.lock = threading.Lock()
        self.lock.acquire()
        self.result: Union[ClusterConnection, str, BaseException, None] = None
        self.done = False
        self.left = False

    def wake(self, result: Union[ClusterConnection, str, BaseException]) -> None:
        self.result = result
        self.lock.release()


class Budget:
    """A cluster-wide cap on open connections, shared by every NodePool of one cluster pool.

    Lock order: a NodePool's lock may be held while taking the budget's lock, never the reverse.
    """

    def __init__(self, limit: Optional[int]) -> None:
        self.limit = limit
        self.used = 0
        self.waiters: Deque[_Waiter] = deque()
        self._pools: Tuple[NodePool, ...] = ()  # copy-on-write: reclaim_idle reads it unlocked
        self._lock = threading.Lock()

    def register(self, pool: NodePool) -> None:
        """A node pool that shares this budget: its idle connections may be reclaimed."""
        with self._lock:
            self._pools = (*self._pools, pool)

    def try_take(self) -> bool:
        """Reserve one connection slot if the cap allows."""
        with self._lock:
            if self.limit is not None and self.used >= self.limit:
                return False
            self.used += 1
            return True

    def give_back(self) -> None:
        """A connection closed: pass its slot to the first budget waiter, or free it."""
        with self._lock:
            if self.waiters:
                self.waiters.popleft().wake(_BUDGET_SLOT)
            else:
                self.used -= 1

    def pop_waiter(self) -> Optional[_Waiter]:
        """Dequeue the first budget waiter, if any (caller then serves it)."""
        if not self.waiters:  # unlocked peek; the caller holds its node lock (see NodePool.put)
            return None
        with self._lock:
            return self.waiters.popleft() if self.waiters else None

    def enqueue(self, waiter: _Waiter) -> None:
        """Park a caller in the cluster-wide line (served by give_back() or a release)."""
        with self._lock:
            self.waiters.append(waiter)

    def dequeue(self, waiter: _Waiter) -> bool:
        """Remove a waiter that timed out; False if it was already served."""
        with self._lock:
            try:
                self.waiters.remove(waiter)
                return True
            except ValueError:
                return False

    def forget(self, pool: NodePool) -> None:
        """A closed pool no longer offers idle connections for reclaiming."""
        with self._lock:
            self._pools = tuple(p for p in self._pools if p is not pool)

    def remove_waiters_of(self, pool: NodePool) -> List[_Waiter]:
        """Take a closing pool's waiters out of the budget line."""
        with self._lock:
            mine = [w for w in self.waiters if w.pool is pool]
            for w in mine:
                self.waiters.remove(w)
            return mine

    def reclaim_idle(self, exclude: NodePool) -> bool:
        """Close one idle connection on another node to free a slot; True if one was found.

        Called with no lock held: the node pool closes its connection (and tells the event
        hook) outside its lock, then the freed slot is passed on here."""
        candidates = sorted((p for p in self._pools if p is not exclude and p.idle_count),
                            key=lambda p: -p.idle_count)
        for pool in candidates:
            try:
                found = pool.close_coldest_idle("reclaimed")
            except BaseException:
                # Only its hook can raise, after the connection was uncounted and closed
                # (_close_taken): the slot is free all the same.
                self.give_back()
                raise
            if found:
                self.give_back()
                return True
        return False
