"""Topology refreshes for one cluster pool: one at a time, rate-limited, off the callers' path.

A refresh asks the cluster for its layout through :class:`Discovery` (its own short-lived
connections, never the callers' pools) and hands the result to the pool to publish. The rules:

* **single flight** -- one discovery runs at a time (:class:`RefreshState` ``RUNNING``); a
  caller that *needs* a layout (first use) waits for the one in flight, with a deadline, and a
  background request made meanwhile is dropped: the running one will answer it;
* **rate limit** -- requests closer than ``refresh_min_interval`` to the last refresh are not
  dropped but deferred: one timer runs the first of them when the limit allows (the later ones
  inside the window are answered by that refresh);
* **in the background** -- a request returns at once; the refresh runs on the maintenance
  thread when there is one (``refresh_interval`` or ``min_idle_per_node``), else on a
  short-lived thread, or inline when ``background_refresh=False`` (deterministic tests);
* the **maintenance thread** wakes when asked, every ``refresh_interval`` (periodic refresh)
  and at least once a second (:class:`Wakeup`); each round refreshes if due, then lets the pool
  reap and refill its idle connections. It holds the refresher only weakly, so a pool that is
  dropped without ``close()`` is freed and the thread ends.

The event hook is called, and discovery runs, with no lock held.
"""

from __future__ import annotations

import itertools
import logging
import threading
import weakref
from enum import Enum
from functools import partial
from time import monotonic
from typing import Callable, Dict, Optional, Sequence, Tuple

from .._address import NodeAddress
from .._topology.discovery import Discovery
from .._topology.snapshot import Topology
from ..errors import ClusterCoreError, PoolClosedError, RedisClusterConfigError
from .config import PoolConfig
from .stats import call_hook

__all__ = ["RefreshState", "Refresher", "Wakeup"]

_log = logging.getLogger("clustercore.pool")


class RefreshState(Enum):
    """Where the refresher is. Changed under its lock; read without it for quick refusals."""

    #: No discovery running: the next refresh starts one.
    IDLE = "idle"
    #: One discovery in flight: callers that need a layout wait for it, requests are dropped.
    RUNNING = "running"
    #: The pool is closed: nothing new starts (a discovery in flight still finishes).
    CLOSED = "closed"


class Wakeup(Enum):
    """Why the maintenance thread woke up, which decides what its round does."""

    #: request() handed it a refresh: run it, then reap and refill.
    ASKED = "asked"
    #: The period elapsed: a periodic refresh (if ``refresh_interval`` is set), reap, refill.
    PERIODIC = "periodic"
    #: The one-second wait ran out with nothing due: only check that the pool still exists.
    TIMEOUT = "timeout"


#: The pool's side: publish a discovered layout (trigger names why it was asked for).
Publish = Callable[[Topology, str], None]
Request = Tuple[str, Optional[NodeAddress]]


class Refresher:
    """Runs a pool's topology refreshes and its maintenance thread (see the module docstring).

    ``topology`` and ``seeds`` read the pool's current layout and startup nodes, ``publish``
    installs a new layout, ``maintain`` is the pool's reap-and-refill round."""

    def __init__(self, config: PoolConfig, discovery: Discovery, *,
                 topology: Callable[[], Topology], seeds: Callable[[], Sequence[NodeAddress]],
                 publish: Publish, maintain: Callable[[], None]) -> None:
        self._config = config
        self._discovery = discovery
        self._topology = topology
        self._seeds = seeds
        self._publish = publish
        self._maintain = maintain
        self._epochs = itertools.count(1)
        #: Refreshes published, refreshes failed, and how often each trigger asked for one.
        self.refreshes = 0
        self.refresh_failures = 0
        self.refresh_triggers: Dict[str, int] = {}
        self._last_refresh = -1e9  # on config.clock
        self._last_error: Optional[BaseException] = None
        self._start_over(RefreshState.IDLE)

    def _start_over(self, state: RefreshState) -> None:
        """Fresh lock, events and no threads: at construction, and in a forked child (where
        the parent's threads do not exist and its locks may be held forever)."""
        self._lock = threading.Lock()
        self._state = state
        self._done = threading.Event()  # set when the discovery in flight has ended
        self._done.set()
        self._wake = threading.Event()  # wakes the maintenance thread
        self._pending: Optional[Request] = None  # for the maintenance thread's next round
        self._deferred: Optional[threading.Timer] = None  # at most one rate-limited request
        self._thread: Optional[threading.Thread] = None

    @property
    def state(self) -> RefreshState:
        """IDLE, RUNNING or CLOSED."""
        return self._state

    @property
    def thread(self) -> Optional[threading.Thread]:
        """The maintenance thread, if one was started (close() joins it)."""
        return self._thread

    def start(self) -> None:
        """Start the maintenance thread when the configuration asks for one."""
        config = self._config
        if not config.needs_maintenance or self._state is RefreshState.CLOSED:
            return
        thread = threading.Thread(
            target=_maintenance_loop, args=(weakref.ref(self), self._wake, config.refresh_interval),
            name="clustercore-maintenance", daemon=True)
        self._thread = thread
        thread.start()

    def reopen(self) -> None:
        """After close(): usable again (the client's close() follows redis-py: the client may be
        used afterwards). Call only once close() has returned; it restarts the thread."""
        if self._state is not RefreshState.CLOSED:
            return
        self._start_over(RefreshState.IDLE)
        self.start()

    def after_fork(self) -> None:
        """In a forked child: forget the parent's threads and locks, restart the thread."""
        closed = self._state is RefreshState.CLOSED
        self._start_over(RefreshState.CLOSED if closed else RefreshState.IDLE)
        self.start()

    # --- refreshing -----------------------------------------------------------------------------
    def refresh_now(self, trigger: str, seeds: Optional[Sequence[NodeAddress]] = None,
                    known: Optional[Sequence[NodeAddress]] = None,
                    avoid: Optional[NodeAddress] = None) -> None:
        """Discover the layout on this thread and publish it, or wait for the discovery already
        in flight (single flight). Raises what the discovery raised; PoolClosedError once the
        pool is closed."""
        state, waiter = self._claim()
        if state is RefreshState.CLOSED:
            raise PoolClosedError("the connection pool is closed")
        if state is RefreshState.RUNNING:
            self._wait_for(waiter)
            return
        self._discover(trigger, seeds, known, avoid, waiter)

    def _claim(self) -> Tuple[RefreshState, threading.Event]:
        """The state found and the event of the discovery to wait for: IDLE means this caller
        now owns a new discovery (state RUNNING) and must run :meth:`_discover`."""
        with self._lock:
            state = self._state
            if state is RefreshState.IDLE:
                self._state = RefreshState.RUNNING
                self._done = threading.Event()
            return state, self._done

    def _discover(self, trigger: str, seeds: Optional[Sequence[NodeAddress]],
                  known: Optional[Sequence[NodeAddress]], avoid: Optional[NodeAddress],
                  waiter: threading.Event) -> None:
        """The discovery a :meth:`_claim` returning IDLE owns: run it, publish, hand back."""
        try:
            self.refresh_triggers[trigger] = self.refresh_triggers.get(trigger, 0) + 1
            candidates = self._discovery.order(
                seeds if seeds is not None else self._seeds(), avoid,
                known if known is not None else self._topology().nodes)
            topology = self._discovery.discover(
                candidates, next(self._epochs), monotonic() + self._config.discovery_deadline)
        except BaseException as exc:
            self.refresh_failures += 1
            self._last_error = exc
            if self._config.event_hook is not None:
                call_hook(self._config.event_hook, "topology_refresh_failed",
                          {"trigger": trigger, "error": repr(exc)})
            raise
        else:
            self._last_error = None
            self.refreshes += 1
            self._publish(topology, trigger)
        finally:
            self._last_refresh = self._config.clock()
            with self._lock:
                if self._state is RefreshState.RUNNING:  # close() may have come meanwhile
                    self._state = RefreshState.IDLE
            waiter.set()

    def catch_up(self, trigger: str, avoid: Optional[NodeAddress], max_age: float,
                 timeout: float) -> bool:
        """Before a call's last try: make the layout at most ``max_age`` seconds old, waiting
        at most ``timeout`` (real seconds). The rate limit does not apply -- the call is about
        to give up, and a failover that completed after the last refresh is exactly what a
        deferred refresh would see too late -- but single flight does: a discovery in flight
        is waited for, not doubled. Never raises (a failed refresh leaves the old layout).
        True if the layout was fresh or a refresh ended in time."""
        if self._config.clock() - self._last_refresh < max_age:
            return True
        state, waiter = self._claim()
        if state is RefreshState.CLOSED:
            return False
        if state is RefreshState.IDLE:
            if not self._config.background_refresh:  # deterministic tests: inline
                self._discover_quietly(trigger, avoid, waiter)
                return True
            threading.Thread(target=self._discover_quietly, args=(trigger, avoid, waiter),
                             name="clustercore-refresh", daemon=True).start()
        return waiter.wait(max(0.0, timeout))

    def _wait_for(self, waiter: threading.Event) -> None:
        """Wait for the discovery in flight; raise its error if it left no usable layout."""
        timeout = self._config.discovery_deadline
        if not waiter.wait(timeout):
            raise RedisClusterConfigError(f"topology refresh did not finish in {timeout}s")
        error = self._last_error
        if self._topology().covered_slots() == 0 and error is not None:
            raise error

    def request(self, trigger: str, avoid: Optional[NodeAddress] = None) -> bool:
        """Ask for a refresh in the background (rate-limited, one at a time); never blocks.
        True if one was started or handed to the maintenance thread."""
        if self._state is not RefreshState.IDLE:
            return False  # one is running (it answers this request too), or closed
        config = self._config
        wait = self._last_refresh + config.refresh_min_interval - config.clock()
        if wait > 0:
            self._defer(trigger, avoid, wait)
            return False
        if not config.background_refresh:
            self._refresh_quietly(trigger, avoid)
            return True
        if self._thread is not None:
            with self._lock:
                self._pending = (trigger, avoid)
            self._wake.set()
            return True
        threading.Thread(target=self._refresh_quietly, args=(trigger, avoid),
                         name="clustercore-refresh", daemon=True).start()
        return True

    def _defer(self, trigger: str, avoid: Optional[NodeAddress], wait: float) -> None:
        """A request inside the rate limit runs when the limit allows (at most one deferred
        request at a time), instead of being dropped."""
        if not self._config.background_refresh:
            return
        with self._lock:
            if self._deferred is not None or self._state is RefreshState.CLOSED:
                return
            timer = threading.Timer(wait, self._run_deferred, args=(trigger, avoid))
            timer.daemon = True
            self._deferred = timer
        timer.start()

    def _run_deferred(self, trigger: str, avoid: Optional[NodeAddress]) -> None:
        with self._lock:
            self._deferred = None
        self.request(trigger, avoid)

    def _refresh_quietly(self, trigger: str, avoid: Optional[NodeAddress]) -> None:
        """A background refresh: failures are logged, never raised into a helper thread."""
        self._quietly(trigger, partial(self.refresh_now, trigger, avoid=avoid))

    def _discover_quietly(self, trigger: str, avoid: Optional[NodeAddress],
                          waiter: threading.Event) -> None:
        """The discovery :meth:`catch_up` claimed, with failures logged, never raised."""
        self._quietly(trigger, partial(self._discover, trigger, None, None, avoid, waiter))

    @staticmethod
    def _quietly(trigger: str, run: Callable[[], None]) -> None:
        """Run a refresh on a helper thread: log its failure instead of raising it."""
        try:
            run()
        except PoolClosedError:
            pass  # closed while the request was on its way
        except ClusterCoreError as exc:
            _log.warning("topology refresh (%s) failed: %s", trigger, exc)
        except Exception:  # never let a helper thread die silently
            _log.exception("topology refresh (%s) crashed", trigger)

    def run_round(self, wakeup: Wakeup) -> None:
        """One maintenance round: the requested (or periodic) refresh, then the pool's."""
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            self._refresh_quietly(*pending)
        elif wakeup is Wakeup.PERIODIC and self._config.refresh_interval:
            self._refresh_quietly("periodic", None)
        self._maintain()

    # --- shutdown -------------------------------------------------------------------------------
    def close(self) -> None:
        """Refuse new refreshes, cancel the deferred one, stop and join the threads."""
        with self._lock:
            self._state = RefreshState.CLOSED
            deferred, self._deferred = self._deferred, None
        self._wake.set()
        me = threading.current_thread()
        if deferred is not None:
            deferred.cancel()  # an unstarted timer, once started, finishes at once
            if deferred is not me:
                _join_started(deferred, 1.0)
        thread = self._thread
        probe_timeout = self._config.probe_timeout
        if thread is not None and thread is not me:
            _join_started(thread, probe_timeout + 5)
        self._discovery.join(probe_timeout + 1)


def _maintenance_loop(ref: Callable[[], Optional[Refresher]], wake: threading.Event,
                      interval: Optional[float]) -> None:
    """The maintenance thread. Real time (its waits are real), not the pool's clock."""
    period = interval or 1.0
    next_periodic = monotonic() + period
    while True:
        woken = wake.wait(max(0.0, min(1.0, next_periodic - monotonic())))
        wake.clear()
        refresher = ref()
        if refresher is None or refresher.state is RefreshState.CLOSED:
            return
        now = monotonic()
        if now >= next_periodic:
            next_periodic = now + period
            wakeup = Wakeup.PERIODIC
        else:
            # a request that set the event after wait() timed out (and before clear()) still
            # counts: its _pending is there even though `woken` says otherwise
            asked = woken or refresher._pending is not None
            wakeup = Wakeup.ASKED if asked else Wakeup.TIMEOUT
        if wakeup is not Wakeup.TIMEOUT:
            try:
                refresher.run_round(wakeup)
            except Exception:
                _log.exception("clustercore maintenance round failed")
        del refresher


def _join_started(thread: threading.Thread, timeout: float) -> None:
    """Join ``thread`` if it was started. A thread is published (under the lock) before its
    start() runs outside it, so close() may meet one not started yet: joining that raises
    RuntimeError; it needs no join, since it sees the CLOSED state (or its cancelled timer)
    and ends at once when it starts."""
    if thread.ident is not None:
        thread.join(timeout)
