"""The pool of connections to ONE node, and the cluster-wide connection budget.

Shape (after urllib3's blocking pool and httpcore's hand-over rules):

* idle connections sit on a LIFO stack: warm sockets stay busy, cold ones age out at the bottom
  and are reaped after ``max_idle_time``;
* ``_count`` (idle + in use + being created) is capped per node (``max_size``) and, through a
  shared :class:`Budget`, across the whole cluster (``max_connections``);
* a caller that finds no capacity waits in a FIFO line with a deadline; a released connection
  is handed *directly* to the first waiter (it never looks idle in between), a closed one hands
  its capacity over. Budget-starved waiters (the cluster-wide cap) queue on the budget, and a
  connection released on another node is closed to make room for them, so the pool never stalls
  while capacity exists anywhere;
* checkout and release of an idle connection take no lock (see "The idle stack" below); under the
  lock only counters and lists change; connecting, PING, closing sockets happen after it;
* a node whose connects fail is *marked failing* for a cool-down: new connects fail fast instead
  of every thread paying the connect timeout, and after the cool-down exactly one caller probes;
* every pool draws its generation numbers from a block of its own, so a connection's
  ``generation`` says both whether it is current (reusable) and which pool handed it out
  (:meth:`NodePool.owns`): ``put`` and ``discard`` refuse connections of other pools, and the
  cluster pool finds the owner of a returned connection without marking the connection.

The idle stack is lock-free: ``list.pop()``/``append()`` are atomic under the GIL, so checkout
pops (``IndexError``: empty) and a release with nobody waiting appends, neither under ``_lock``.
Only ``_count`` (idle + in use + being created) is a counter (changed under the lock); in use is
``_count - len(_idle)``. No lost wake-up: a release that saw no waiter appends, then looks at
both lines again and, if one queued meanwhile, serves it from the stack (:meth:`_serve_idle`);
a caller that must wait enqueues, then looks at the stack again. In any interleaving one sees
the other. ``close()``/``disconnect()`` empty the stack in place by pops; a release that pushed
just after them sees the new state when it looks again and takes stale ones out (``_purge_idle``).
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from time import monotonic
from typing import Any, Callable, Deque, List, Optional, Union

from .._address import NodeAddress
from .._net.connection import ClusterConnection
from ..errors import (
    ClusterCoreError,
    ConnectionError,
    DeadlineExceededError,
    NodeFailingError,
    PoolClosedError,
    PoolTimeoutError,
    TimeoutError,
    TLSVerificationError,
    TooManyConnectionsError,
    TooManyWaitersError,
)
from .budget import _BUDGET_SLOT, _HANDOFF_GRACE, _NODE_SLOT, Budget, _Waiter, drain
from .stats import EventHook, NodeStats, call_hook

__all__ = ["Budget", "NodePool"]

ConnectionFactory = Callable[[NodeAddress], ClusterConnection]

#: Pool ``n`` (from ``_serials``) numbers its generations from ``n * _GENERATION_BLOCK`` up, one
#: per disconnect()/close(); block 0 is no pool's (a connection no pool made keeps 0).
_GENERATION_BLOCK = 1 << 40
_serials = itertools.count(1)


class NodePool:
    """Connections to one node: LIFO idle stack, caps, FIFO waiters, failure mark, stats."""

    #: Stamp ``last_used`` on every release, not only when reaping or a health check reads it
    #: (a foreign connection class may have no ``health_check_interval`` to look at).
    _stamp_always = False

    def __init__(
        self,
        address: NodeAddress,
        factory: ConnectionFactory,
        *,
        max_size: Optional[int] = None,
        budget: Optional[Budget] = None,
        blocking: bool = False,
        timeout: Optional[float] = 20.0,
        max_waiters: Optional[int] = None,
        max_idle_time: Optional[float] = None,
        failure_cooldown: float = 1.0,
        event_hook: Optional[EventHook] = None,
        clock: Callable[[], float] = monotonic,
        role: Optional[str] = None,
        connect_new: bool = True,
    ) -> None:
        self.address = address
        #: Whether a new connection is connected before it is handed out (False for a caller's
        #: own connection class, which connects itself, as redis-py-cluster's pools left it).
        self.connect_new = connect_new
        self.role = role
        self._factory = factory
        self.max_size = max_size
        self._budget = budget
        self.blocking = blocking
        self.timeout = timeout
        self.max_waiters = max_waiters
        self.max_idle_time = max_idle_time
        self.failure_cooldown = failure_cooldown
        self._hook = event_hook
        self._clock = clock
        self._lock = threading.Lock()
        self._idle: List[ClusterConnection] = []
        self._waiters: Deque[_Waiter] = deque()
        self._count = 0
        self._budget_waiting = 0
        #: This pool's number: its generations are ``serial * _GENERATION_BLOCK`` and up.
        self.serial = next(_serials)
        #: Bumped by disconnect() and close(): connections of an older generation are closed
        #: when they come back instead of being reused.
        self.generation = self.serial * _GENERATION_BLOCK
        self.closed = False
        self._failed_until = 0.0
        self._probing = False
        self._next_reap = 0.0
        # statistics
        self.created = 0
        self.closed_count = 0
        self.waits = 0
        self.wait_timeouts = 0
        self.total_wait_time = 0.0
        self.health_check_failures = 0
        self.connect_failures = 0
        if budget is not None:
            budget.register(self)

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("failing" if self.failing else "open")
        idle = len(self._idle)
        return (f"<NodePool {self.address} {state} in_use={self._count - idle} idle={idle} "
                f"waiting={len(self._waiters) + self._budget_waiting} max={self.max_size}>")

    # --- checkout -----------------------------------------------------------------------------
    def get(self, timeout: Optional[float] = None) -> ClusterConnection:
        """Check out a connected connection, waiting up to ``timeout`` (blocking pools only)."""
        # The hot path, inlined and lock-free: pop an idle connection (atomic under the GIL);
        # return it if it is of this generation with nothing pending on its socket and no
        # health check due. Anything else goes the general way.
        try:
            conn = None if self.closed else self._idle.pop()
        except IndexError:
            conn = None
        if conn is not None:
            try:
                fresh = (conn.generation == self.generation and not conn.health_check_interval
                         and conn.is_connected and not conn.has_pending_input())
            except BaseException:
                self._discard(conn, "checkout interrupted")
                raise
            if fresh:
                return conn
            conn = self._prepare(conn)  # stale (closed now, None) or a health check due
            if conn is not None:
                return conn
        conn = self._get(timeout, block=True)
        assert conn is not None
        return conn

    def try_get(self) -> Optional[ClusterConnection]:
        """A connection if one is free or can be opened now; None where get() would wait or
        raise TooManyConnectionsError (for callers holding others: hold-and-wait deadlocks)."""
        return self._get(None, block=False)

    def _get(self, timeout: Optional[float], block: bool) -> Optional[ClusterConnection]:
        if timeout is None:
            timeout = self.timeout
        deadline: Optional[float] = None
        while True:
            waiter: Optional[_Waiter] = None
            conn: Optional[ClusterConnection] = None
            create = reclaim = False
            with self._lock:
                if self.closed:
                    raise PoolClosedError(f"pool for {self.address} is closed", node=self.address)
                try:
                    conn = self._idle.pop()
                except IndexError:  # none idle: open one, queue, or refuse
                    if self.max_size is None or self._count < self.max_size:
                        if self._budget is None or self._budget.try_take():
                            self._count += 1
                            create = True
                        elif self.blocking and block:
                            waiter = self._queue_locked(on_budget=True)
                        else:
                            reclaim = True
                    elif self.blocking and block:
                        waiter = self._queue_locked(on_budget=False)
                    elif not block:
                        return None
                    else:
                        raise TooManyConnectionsError(
                            f"Too many connections to {self.address} (max {self.max_size} "
                            "per node)", node=self.address) from None
                if waiter is not None:
                    # Queued: look at the stack again. A release that appended after our pop
                    # above but looked for waiters before we queued would otherwise leave its
                    # connection idle while we sleep (see "The idle stack").
                    try:
                        conn = self._idle.pop()
                    except IndexError:
                        conn = None
                    if conn is not None:
                        self.waits -= 1  # never waited after all
            if conn is not None:
                if waiter is not None:
                    self._abandon(waiter)  # out of the line; pass on anything served meanwhile
                ready = self._prepare(conn)
                if ready is not None:
                    return ready
                continue  # it was stale and is now closed; try again
            if create:
                return self._create()
            if reclaim:
                # Non-blocking pool at the cluster-wide cap: close an idle connection elsewhere.
                assert self._budget is not None
                if not self._budget.reclaim_idle(exclude=self):
                    if not block:
                        return None
                    raise TooManyConnectionsError(
                        f"Too many connections (max {self._budget.limit} in all)",
                        node=self.address)
                continue
            assert waiter is not None
            try:
                if deadline is None and timeout is not None:
                    deadline = self._clock() + timeout
                result = self._wait(waiter, deadline, timeout)
            except BaseException:  # a timeout, or Ctrl-C / a raising hook or clock mid-wait
                self._abandon(waiter)
                raise
            if not isinstance(result, str):  # a connection, of any class (connection_class=)
                ready = self._prepare(result)
                if ready is not None:
                    return ready
            elif result == _NODE_SLOT:
                return self._create()
            else:  # _BUDGET_SLOT
                got = self._use_budget_slot()
                if got is not None:
                    return got

    def _queue_locked(self, on_budget: bool) -> _Waiter:
        """Park the caller in the node's line or the budget's line (lock held)."""
        waiting = len(self._waiters) + self._budget_waiting
        if self.max_waiters is not None and waiting >= self.max_waiters:
            raise TooManyWaitersError(
                f"{waiting} callers already waiting for {self.address} (max_waiters="
                f"{self.max_waiters})", node=self.address)
        waiter = _Waiter(self, on_budget)
        self.waits += 1
        if on_budget:
            assert self._budget is not None
            self._budget_waiting += 1
            self._budget.enqueue(waiter)
        else:
            self._waiters.append(waiter)
        return waiter

    def _wait(self, waiter: _Waiter, deadline: Optional[float],
              timeout: Optional[float]) -> Union[ClusterConnection, str]:
        """Block until served or the deadline passes; raise PoolTimeoutError on timeout."""
        if waiter.on_budget:
            assert self._budget is not None
            self._budget.reclaim_idle(exclude=self)
        started = self._clock()
        self._emit("checkout_waited", waiting_for="budget" if waiter.on_budget else "node")
        remaining = -1.0 if deadline is None else max(0.0, deadline - self._clock())
        served = waiter.lock.acquire(timeout=remaining)
        ended = self._clock()
        timed_out = False
        with self._lock:
            waiter.left = True
            if not served:
                if waiter.on_budget:
                    assert self._budget is not None
                    timed_out = self._budget.dequeue(waiter)
                else:
                    try:
                        self._waiters.remove(waiter)
                        timed_out = True
                    except ValueError:
                        timed_out = False  # served just as the wait ran out
            if waiter.on_budget:
                self._budget_waiting -= 1
            self.total_wait_time += ended - started
            if timed_out:
                self.wait_timeouts += 1
                waiter.done = True  # out of the line, never served: nothing is owed
        if timed_out:
            self._emit("checkout_timeout", timeout=timeout)
            cap = f"max {self.max_size} per node" if self.max_size is not None else "no node cap"
            if self._budget is not None and self._budget.limit is not None:
                cap += f", {self._budget.limit} in all"
            raise PoolTimeoutError(  # redis-py-cluster's blocking pool: "No connection available"
                f"No connection available: no connection to {self.address} became free "
                f"within {timeout}s ({cap})",
                node=self.address)
        if not served:  # the server dequeued us and sets the result without blocking
            waiter.lock.acquire(timeout=_HANDOFF_GRACE)
        result = waiter.result
        waiter.done = True
        if isinstance(result, BaseException):
            raise result
        assert result is not None
        return result

    def _abandon(self, waiter: _Waiter) -> None:
        """The waiter leaves by an exception: take it out of its line and counters and pass on
        what a server handed it just before (a connection, a node or budget slot): none lost."""
        if waiter.done:
            return
        queued = False
        with self._lock:
            if not waiter.left:
                waiter.left = True
                if waiter.on_budget:
                    assert self._budget is not None
                    queued = self._budget.dequeue(waiter)
                    self._budget_waiting -= 1
                else:
                    try:
                        self._waiters.remove(waiter)
                        queued = True
                    except ValueError:
                        queued = False  # a server took it out: its result is ours to pass on
        waiter.done = True
        if queued:
            return  # never served
        result = waiter.result
        if result is None:  # dequeued by a server that is about to set the result
            waiter.lock.acquire(timeout=_HANDOFF_GRACE)
            result = waiter.result
        if result is not None and not isinstance(result, (str, BaseException)):
            self.put(result)  # a connection (of any class): idle again, or to the next waiter
        elif result == _NODE_SLOT:
            self._release_slot()
        elif result == _BUDGET_SLOT:
            assert self._budget is not None
            self._budget.give_back()
        # an exception (the pool was closed) or nothing: no capacity was handed over

    def _use_budget_slot(self) -> Optional[ClusterConnection]:
        """Woken with a cluster-wide slot: reuse an idle one, create one, or wait on the node."""
        assert self._budget is not None
        conn: Optional[ClusterConnection] = None
        create = False
        with self._lock:
            closed = self.closed
            if not closed:
                try:
                    conn = self._idle.pop()
                except IndexError:  # none idle: open one if the node cap allows
                    if self.max_size is None or self._count < self.max_size:
                        self._count += 1
                        create = True
            if not create:
                self._budget.give_back()  # the slot is not needed (or cannot be used) here
        if closed:
            raise PoolClosedError(f"pool for {self.address} is closed", node=self.address)
        if conn is not None:
            return self._prepare(conn)
        if create:
            return self._create()
        return None  # the node cap is reached: loop and wait on the node line

    def _prepare(self, conn: ClusterConnection) -> Optional[ClusterConnection]:
        """Vet a reused connection outside the lock; None if it was stale (and is now closed)."""
        try:
            stale = (conn.generation != self.generation or not conn.is_connected
                     or conn.has_pending_input())
            if not stale and conn.health_check_interval:
                try:
                    conn.check_health(self._clock())
                except ClusterCoreError:
                    with self._lock:
                        self.health_check_failures += 1
                    self._discard(conn, "health check failed")
                    raise
        except ClusterCoreError:
            raise
        except BaseException:  # Ctrl-C mid-check: the connection's state is unknown
            self._discard(conn, "checkout interrupted")
            raise
        if stale:
            self._discard(conn, "stale")
            return None
        return conn

    def open_new(self, connect: bool = True) -> ClusterConnection:
        """A new connection, counted as checked out, never waiting (redis-py-cluster's
        ``make_connection``): an idle one elsewhere is closed to make room under the cluster-wide
        cap; TooManyConnectionsError when there is no room. ``connect=False`` leaves it
        unconnected (it connects on its first command)."""
        while True:
            with self._lock:
                if self.closed:
                    raise PoolClosedError(f"pool for {self.address} is closed", node=self.address)
                if self.max_size is not None and self._count >= self.max_size:
                    raise TooManyConnectionsError(
                        f"Too many connections to {self.address} (max {self.max_size} per node)",
                        node=self.address)
                took = self._budget is None or self._budget.try_take()
                if took:
                    self._count += 1
            if took:
                return self._create(connect)
            assert self._budget is not None
            if not self._budget.reclaim_idle(exclude=self):
                raise TooManyConnectionsError(
                    f"Too many connections (max {self._budget.limit} in all)", node=self.address)

    def _create(self, connect: bool = True) -> ClusterConnection:
        """Open a new connection for a slot already counted; give the slot back on failure."""
        try:
            now = self._clock()
        except BaseException:
            self._release_slot()
            raise
        with self._lock:
            failing = now < self._failed_until or self._probing
            if not failing and self._failed_until:
                self._probing = True  # cool-down over: this caller is the one probe
        if failing:
            self._release_slot()
            raise NodeFailingError(
                f"node {self.address} is marked failing after a connection error; not "
                "dialling it again until its cool-down ends", node=self.address)
        try:
            conn = self._factory(self.address)
            conn.generation = self.generation
            if connect and self.connect_new:
                conn.connect()
        except BaseException as exc:
            self._release_slot()
            down = isinstance(exc, (ConnectionError, TimeoutError))
            # a refused cert, or a dial cut by the caller's deadline: not the node's fault
            if down and not isinstance(exc, (TLSVerificationError, DeadlineExceededError)):
                self._mark_failing(exc)
            else:
                with self._lock:
                    self._probing = False
            raise
        recovered = False
        with self._lock:
            self.created += 1
            if self._failed_until or self._probing:
                recovered = True
            self._failed_until = 0.0
            self._probing = False
        if self._hook is not None:
            try:
                self._emit("connection_created")
                if recovered:
                    self._emit("node_recovered")
            except BaseException:  # call_hook swallows Exception; this is Ctrl-C or alike
                self._discard(conn, "event hook raised")
                raise
        return conn

    def _mark_failing(self, exc: BaseException) -> None:
        until = self._clock() + self.failure_cooldown
        with self._lock:
            self.connect_failures += 1
            self._failed_until = until
            self._probing = False
        self._emit("node_failing", error=repr(exc), cooldown=self.failure_cooldown)

    def mark_failing(self, exc: Optional[BaseException] = None) -> None:
        """The client suspects this node (a command timed out on it): refuse new connections
        for the cool-down and close the idle ones, so other threads fail fast instead of each
        paying a socket timeout on a hung node."""
        self._mark_failing(exc or ConnectionError("marked failing", node=self.address))
        self.disconnect()

    @property
    def failing(self) -> bool:
        """Whether new connections are currently refused by the failure mark."""
        return self._clock() < self._failed_until

    # --- release ------------------------------------------------------------------------------
    def owns(self, conn: ClusterConnection) -> bool:
        """Whether this pool handed ``conn`` out (its generation lies in this pool's block)."""
        return conn.generation // _GENERATION_BLOCK == self.serial

    def put(self, conn: ClusterConnection) -> bool:
        """Return a checked-out connection: hand it to a waiter, keep it idle, or close it.

        Returns False, and leaves the connection alone, when this pool did not hand it out
        (see :meth:`owns`): counting a stranger would corrupt the caps. Whatever has to be
        closed (this connection, or idle ones past ``max_idle_time``) is closed, and the event
        hook told, after the lock is released: the hook may read :meth:`stats`."""
        reusable = conn.generation == self.generation and conn.is_connected
        if not reusable and not self.owns(conn):
            return False
        now = 0.0
        if self.max_idle_time is not None or self._stamp_always or conn.health_check_interval:
            try:  # idle time counts from here, on the pool's clock (only reaping and health
                now = conn.last_used = self._clock()  # checks read it: else the clock is skipped)
            except BaseException:
                self._discard(conn, "release interrupted")
                raise
        if reusable and not self.closed:
            if self._waiters:  # unlocked peek; the hand-off itself is under the lock
                with self._lock:
                    if self._waiters and not self.closed:
                        self._waiters.popleft().wake(conn)  # FIFO, never idle in between
                        return True
            # Nobody waits on this node: push (lock-free), then look at both lines again. A
            # waiter that queued after the first look either finds this connection when it
            # re-checks the stack, or is seen here and served from the stack under the lock.
            # Budget waiters are seen only here, after the push: in this order one that queued
            # after the look finds the connection when it scans the idle lists (reclaim_idle).
            self._idle.append(conn)
            budget = self._budget
            if self._waiters or (budget is not None and budget.waiters):
                self._serve_idle()
            if self.closed or conn.generation != self.generation:
                self._purge_idle()  # closed or reset meanwhile: take stale ones back out
            elif self.max_idle_time is not None and now >= self._next_reap:
                with self._lock:
                    reaped = self._collect_idle_locked(now)
                self._close_all(reaped, "idle")
            return True
        with self._lock:
            self._count -= 1
            self.closed_count += 1
            self._grant_locked()
        self._close_taken(conn, "released to a closed or reset pool")
        return True

    def _serve_idle(self) -> None:
        """Serve waiters from the idle stack (a release pushed while some queued): the node's
        line first, FIFO; then the budget's line, whose waiter gets the connection if it waits
        on this node, else its cluster-wide slot, the connection being closed to make room."""
        budget = self._budget
        victims: List[ClusterConnection] = []
        with self._lock:
            while not self.closed:
                if self._waiters:
                    try:
                        conn = self._idle.pop()
                    except IndexError:
                        break  # taken by a checkout: its release serves the waiter
                    self._waiters.popleft().wake(conn)
                elif budget is not None and budget.waiters:
                    try:
                        conn = self._idle.pop()
                    except IndexError:
                        break
                    waiter = budget.pop_waiter()
                    if waiter is None:  # it left (or was served) meanwhile: back, look again
                        self._idle.append(conn)
                        continue
                    if waiter.pool is self:
                        waiter.wake(conn)  # it stays in use, now by the waiter
                    else:
                        self._count -= 1
                        self.closed_count += 1
                        waiter.wake(_BUDGET_SLOT)
                        victims.append(conn)
                else:
                    break
        self._close_all(victims, "making room")

    def _purge_idle(self) -> None:
        """Take idle connections that are stale (of an older generation, or every one once the
        pool is closed) off the stack and close them, passing their capacity on: a release
        that pushed just as close() or disconnect() emptied the stack."""
        with self._lock:
            taken = drain(self._idle)
            stale = [c for c in taken if self.closed or c.generation != self.generation]
            keep = [c for c in taken if not (self.closed or c.generation != self.generation)]
            self._idle.extend(reversed(keep))  # bottom first, as they were
            self._count -= len(stale)
            self.closed_count += len(stale)
            for _ in stale:
                self._grant_locked()
        if keep and (self._waiters or (self._budget is not None and self._budget.waiters)):
            self._serve_idle()
        self._close_all(stale, "released to a closed or reset pool")

    def release(self, conn: ClusterConnection) -> bool:
        """:meth:`put` (redis-py's name); a method: mypyc miscompiles ``release = put``."""
        return NodePool.put(self, conn)

    def _discard(self, conn: ClusterConnection, why: str) -> None:
        """Close a checked-out connection that must not be reused; pass its slot on."""
        with self._lock:
            self._count -= 1
            self.closed_count += 1
            self._grant_locked()
        self._close_taken(conn, why)

    def discard(self, conn: ClusterConnection) -> bool:
        """The connection broke or timed out: close it, never reuse it, pass its slot on.
        False (nothing done) for a connection this pool did not hand out, as for put()."""
        if not self.owns(conn):
            return False
        self._discard(conn, "broken")
        return True

    def _release_slot(self) -> None:
        """A reserved slot was not used (connect failed): pass it on."""
        with self._lock:
            self._count -= 1
            self._grant_locked()

    def _grant_locked(self) -> None:
        """One connection's capacity was freed (lock held): first node waiter, else the budget."""
        if self._waiters:
            self._count += 1
            self._waiters.popleft().wake(_NODE_SLOT)
        elif self._budget is not None:
            self._budget.give_back()

    def close_coldest_idle(self, why: str) -> bool:
        """Close the idle connection unused longest, for the budget: its cluster-wide slot is
        then the caller's to pass on (it is not given back here). False if none was idle."""
        with self._lock:
            try:
                conn = self._idle.pop(0)  # the bottom of the LIFO stack: the coldest
            except IndexError:
                return False
            self._count -= 1
            self.closed_count += 1
        self._close_taken(conn, why)
        return True

    def _close_taken(self, conn: ClusterConnection, why: str) -> None:
        """Tell the hook and close a connection already uncounted; the socket is closed even
        if the hook raises (a BaseException, which call_hook lets through)."""
        try:
            self._emit_closed(conn, why)
        finally:
            conn.disconnect()

    # --- maintenance --------------------------------------------------------------------------
    def _collect_idle_locked(self, now: float, keep: int = 0) -> List[ClusterConnection]:
        """Remove idle connections unused for max_idle_time from the bottom (lock held)."""
        self._next_reap = now + min(1.0, (self.max_idle_time or 1.0) / 2)
        limit = now - (self.max_idle_time or 0.0)
        victims: List[ClusterConnection] = []
        idle = self._idle
        while len(idle) > keep:
            # Checkouts pop from the top without this lock: the bottom may vanish under us.
            try:
                if idle[0].last_used >= limit:
                    break
                victims.append(idle.pop(0))  # (if the stack emptied and refilled meanwhile,
            except IndexError:               # a younger one: closing it is merely early)
                break
        for _ in victims:
            self._count -= 1
            self.closed_count += 1
            if self._budget is not None:
                self._budget.give_back()
        return victims

    def reap(self, keep: int = 0) -> int:
        """Close idle connections older than max_idle_time, keeping at least ``keep`` idle."""
        if self.max_idle_time is None:
            return 0
        now = self._clock()
        with self._lock:
            victims = self._collect_idle_locked(now, keep)
        self._close_all(victims, "idle")
        return len(victims)

    def fill(self, min_idle: int) -> int:
        """Open connections until ``min_idle`` are idle (a maintenance thread calls this)."""
        opened = 0
        while True:
            if self.failing:
                return opened
            with self._lock:
                if self.closed or len(self._idle) >= min_idle:
                    return opened
            try:
                conn = self.get(timeout=0)
            except (ConnectionError, TimeoutError):
                return opened
            self.put(conn)
            opened += 1

    def _close_all(self, conns: List[ClusterConnection], why: str) -> None:
        """Tell the hook and close each connection; never called with the lock held. If the hook
        raises, the remaining connections are still closed before the exception goes on."""
        for i, conn in enumerate(conns):
            try:
                self._close_taken(conn, why)
            except BaseException:
                for rest in conns[i + 1:]:
                    rest.disconnect()
                raise

    def disconnect(self) -> None:
        """Close idle connections now and in-use ones when they come back; stay usable."""
        with self._lock:
            self.generation += 1
            idle = drain(self._idle)
            self._count -= len(idle)
            self.closed_count += len(idle)
            for _ in idle:
                self._grant_locked()
        self._close_all(idle, "disconnect")

    def close(self) -> None:
        """Fence new checkouts, fail the waiters, close idle connections; in-use ones on return."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self.generation += 1
            idle = drain(self._idle)
            self._count -= len(idle)
            self.closed_count += len(idle)
            if self._budget is not None:
                for _ in idle:
                    self._budget.give_back()
            waiters = list(self._waiters)
            self._waiters.clear()
            if self._budget is not None:
                waiters += self._budget.remove_waiters_of(self)
                self._budget.forget(self)
        err = PoolClosedError(f"pool for {self.address} was closed", node=self.address)
        for waiter in waiters:
            waiter.wake(err)
        self._close_all(idle, "pool closed")

    # --- observation --------------------------------------------------------------------------
    def stats(self) -> NodeStats:
        """A frozen snapshot of this node's pool."""
        failing = self.failing  # reads the clock: not under the lock
        with self._lock:
            idle = len(self._idle)  # checkouts and releases move connections without the lock,
            return NodeStats(       # but atomically: in use = counted - idle, at this instant
                address=self.address, role=self.role, created=self.created,
                closed=self.closed_count, in_use=self._count - idle, idle=idle,
                waiting=len(self._waiters) + self._budget_waiting, waits=self.waits,
                wait_timeouts=self.wait_timeouts, total_wait_time=self.total_wait_time,
                health_check_failures=self.health_check_failures,
                connect_failures=self.connect_failures, failing=failing)

    @property
    def in_use(self) -> int:
        """Connections checked out (or being opened) right now: counted minus idle."""
        with self._lock:
            return self._count - len(self._idle)

    @property
    def idle_count(self) -> int:
        """Idle connections right now."""
        return len(self._idle)

    @property
    def count(self) -> int:
        """Connections open or being opened (idle + in use)."""
        return self._count

    def _emit(self, event: str, **fields: Any) -> None:
        hook = self._hook
        if hook is not None:
            fields["node"] = self.address
            call_hook(hook, event, fields)

    def _emit_closed(self, conn: ClusterConnection, why: str) -> None:
        if self._hook is not None:
            self._emit("connection_closed", reason=why)


class LenientNodePool(NodePool):
    """A node pool for connections of a caller's own class (redis-py-cluster's
    ``connection_class=``): counted, capped, handed over and closed like any other, but
    reused without vetting -- no liveness poll, no health check, no connect before handing
    out -- as redis-py-cluster's pools did (such a class connects itself and need not have
    clustercore's connection methods). Only the generation is compared, so a disconnect()
    or close() of the pool still retires what it lent before."""

    _stamp_always = True

    def get(self, timeout: Optional[float] = None) -> ClusterConnection:
        """Check out a connection (the last one released, else a new one), unvetted."""
        conn = self._get(timeout, block=True)
        assert conn is not None
        return conn

    def _prepare(self, conn: ClusterConnection) -> Optional[ClusterConnection]:
        if conn.generation != self.generation:
            self._discard(conn, "stale")
            return None
        return conn
