"""One connection shared by every thread: commands coalesced into one write, replies in order.

The model is Lettuce's, StackExchange.Redis's, ioredis's and valkey-glide's: a node has one
:class:`~clustercore._net.connection.ClusterConnection` (opened as any pooled one is: the same
handshake, TLS, timeouts and wire trace) and a :class:`MultiplexedConnection` over it lets
many threads use it at once. Redis answers the commands of one connection in the order it got
them, so a reply needs no tag: the n-th reply read belongs to the n-th command written.

No thread of its own does the work; the callers take turns at two roles:

* **writer** (combining): a caller queues its packed command and a :class:`Call` under a short
  lock. If no writer is active it becomes the writer and sends *everything* queued in one
  ``sendall``, again and again until the queue is empty; callers arriving meanwhile just queue
  (their bytes go out in the writer's next write). The order of the calls in ``inflight`` is
  the order of the bytes on the wire, since only the writer takes from the queue.
* **reader** (leader-follower): a caller waiting for its reply becomes the reader if nobody
  is; it reads replies in order, completing each one's :class:`Call` (waking its thread), until
  its own has come. Then it hands the role to the next waiting caller (waking it) and returns.
  Everybody else sleeps on a lock of its own (never polling) until it is completed or
  promoted to reader.

Reliability, as a pooled connection has it:

* **deadline**: each call waits at most ``timeout`` (the connection's ``socket_timeout``): a
  caller that runs out gets TimeoutError (``request_sent=True``) and its call is *abandoned*:
  its reply, when it comes, is read and dropped, so the connection stays in step. When the
  oldest outstanding reply is overdue by a second ``timeout`` (nothing came for two deadlines:
  a hung node), the connection is given up like a lost one.
* **lost connection**: every outstanding call fails with a copy of the error; ``request_sent``
  is True for those whose bytes may have reached the server and False for those still queued
  (or alone in a write that failed), so the client's router re-sends only what it may.
* **idle EOF**: before writing on a connection with nothing outstanding, the writer checks it
  for pending input (EOF from a server that closed an idle client): then nothing was sent and
  every queued call fails with ``request_sent=False``.

Push messages (RESP3) go to the connection's push handler as on any connection. MULTI, WATCH,
blocking commands, pub/sub and MONITOR change or hold a connection's state for one caller:
they must never be sent here (the pool gives them dedicated connections).
"""

from __future__ import annotations

import threading
from collections import deque
from time import monotonic
from typing import Any, Callable, Deque, List, Optional, Sequence, Union

from .._address import NodeAddress
from .._protocol.decoder import decode_strings
from .._protocol.encoder import pack_command
from ..errors import ClusterCoreError, ConnectionError, ResponseError, TimeoutError
from .connection import TRACE, ClusterConnection, wait_readable, wire_logger

__all__ = ["Call", "MultiplexedConnection", "SharedConnection"]

_PENDING, _DONE, _FAILED, _ABANDONED = 0, 1, 2, 3
#: Without a deadline the reader waits for bytes in steps of this many seconds.
_FOREVER_STEP = 60.0


class Call:
    """One command's place in line: its reply (or failure) and how its thread waits.

    ``wakeup`` is made (already acquired) only when the caller has to sleep; releasing it wakes
    the caller, exactly once: when the call is completed or failed by another thread, or when
    the caller is promoted to reader. Every field changes under the connection's lock."""

    __slots__ = ("deadline", "decode", "promoted", "seq", "state", "value", "wakeup", "woken")

    def __init__(self, decode: bool, deadline: Optional[float], seq: int = 0) -> None:
        self.decode = decode
        #: Its number in the connection's write order (set when it is queued).
        self.seq = seq
        self.deadline = deadline
        self.state = _PENDING
        self.value: Any = None
        self.wakeup: Optional[threading.Lock] = None
        self.woken = False
        self.promoted = False


Chunk = Union[bytes, memoryview]


class MultiplexedConnection:
    """Many threads' commands over one connected :class:`ClusterConnection` (see the module).

    ``on_broken(self, error)`` is called once, with no lock held, when the connection is given
    up (lost, hung, or closed): the owner forgets it and disposes of ``connection``. ``timeout``
    is each call's deadline in seconds (default: the connection's ``socket_timeout``; None
    waits as long as the socket does). ``clock`` is for tests."""

    def __init__(self, connection: ClusterConnection, *,
                 on_broken: Optional[Callable[[MultiplexedConnection, BaseException], None]]
                 = None,
                 timeout: Optional[float] = -1.0,
                 clock: Callable[[], float] = monotonic) -> None:
        self.connection = connection
        self.address: NodeAddress = connection.address
        self.timeout = connection.socket_timeout if timeout == -1.0 else timeout
        self._on_broken = on_broken
        self._clock = clock
        self._encoding = connection.encoding
        self._encoding_errors = connection.encoding_errors
        self._lock = threading.Lock()
        #: Calls whose replies are still to be read, in the order of their bytes on the wire.
        self._inflight: Deque[Call] = deque()
        #: Packed commands not written yet, and their count (at the tail of ``_inflight``).
        self._queue: List[Chunk] = []
        self._queued_args: List[Sequence[Any]] = []
        self._unsent = 0
        #: Calls queued so far, and calls whose bytes have been written in full (a reader
        #: without a deadline waits for its head to be written before it blocks in recv).
        self._queued_total = 0
        self._sent_total = 0
        self._written = threading.Condition(self._lock)
        self._awaiting_write = False
        self._writing = False
        self._reading = False
        self._error: Optional[BaseException] = None
        #: Whether writes go out through the connection's traced (redacting) path.
        self._trace = wire_logger.isEnabledFor(TRACE)
        #: Statistics: writes made, and commands they carried.
        self.writes = 0
        self.commands = 0

    def __repr__(self) -> str:
        state = "broken" if self._error is not None else "open"
        return (f"<MultiplexedConnection {self.address} {state} "
                f"in_flight={len(self._inflight)}>")

    @property
    def broken(self) -> bool:
        """Whether the connection was given up (new commands raise ConnectionError)."""
        return self._error is not None

    @property
    def in_flight(self) -> int:
        """Calls whose replies have not been read yet (abandoned ones included)."""
        return len(self._inflight)

    # --- the two halves ------------------------------------------------------------------------
    def submit(self, commands: Sequence[Sequence[Any]], decode: bool = True,
               timeout: Optional[float] = -1.0) -> List[Call]:
        """Queue ``commands`` back to back (nothing of another thread's between them) and
        write them, or leave them to the active writer; one :class:`Call` per command, to
        :meth:`wait` on, each waiting at most ``timeout`` seconds (default: the connection's
        :attr:`timeout`). An argument that cannot be encoded raises before anything is
        queued."""
        encoding, errors = self._encoding, self._encoding_errors
        packed: List[Chunk] = []
        for args in commands:
            packed += pack_command(args, encoding, errors)
        if timeout == -1.0:
            timeout = self.timeout
        deadline = None if timeout is None else self._clock() + timeout
        calls = [Call(decode, deadline) for _ in commands]
        with self._lock:
            if self._error is not None:
                raise self._refused()
            idle = not self._inflight
            if idle and not self._reading:
                # Nothing outstanding: this caller checks the socket before writing, and it
                # is the reader too (so no other thread polls the socket meanwhile).
                self._reading = True
                calls[0].promoted = True
            else:
                idle = False
            seq = self._queued_total
            for call in calls:
                call.seq = seq
                seq += 1
            self._queued_total = seq
            self._inflight.extend(calls)
            self._queue += packed
            if self._trace:
                self._queued_args += commands
            self._unsent += len(calls)
            if self._writing:
                return calls
            self._writing = True
        self._flush(idle)
        return calls

    def execute(self, args: Sequence[Any], decode: bool = True) -> Any:
        """Send one command and return its reply (an error reply as a value)."""
        return self.wait(self.submit((args,), decode)[0])

    def wait(self, call: Call) -> Any:
        """The reply of ``call`` (an error reply as a value); raises the connection's failure,
        or TimeoutError once the call's deadline has passed (the call is then abandoned)."""
        lock = self._lock
        while True:
            with lock:
                state = call.state
                if state == _DONE:
                    return call.value
                if state == _FAILED:
                    raise call.value
                if state == _ABANDONED:  # given up by this caller's own read, just now
                    raise self._timed_out()
                if call.promoted:
                    call.promoted = False
                    reader = True
                elif not self._reading:
                    self._reading = True
                    reader = True
                else:
                    reader = False
                    wakeup = call.wakeup
                    if wakeup is None:
                        wakeup = threading.Lock()
                        wakeup.acquire()
                        call.wakeup = wakeup
            if reader:
                self._read_until(call)
                continue
            assert wakeup is not None
            deadline = call.deadline
            if deadline is None:
                wakeup.acquire()
                continue
            left = deadline - self._clock()
            if left > 0 and wakeup.acquire(timeout=left):
                continue
            with lock:
                if call.state != _PENDING:
                    continue  # completed (or failed) just now
                call.state = _ABANDONED
                if call.promoted:  # made reader just now, but out of time: pass the role on
                    call.promoted = False
                    self._hand_off_locked()
            raise self._timed_out()

    # --- writing -------------------------------------------------------------------------------
    def _flush(self, idle: bool) -> None:
        """The writer's loop: write whatever is queued, until nothing is."""
        conn = self.connection
        if idle:
            try:
                stale = conn.has_pending_input()
            except BaseException:
                stale = True
            if stale:  # EOF or junk on a connection with nothing outstanding: nothing sent
                conn.disconnect()
                self._fail(ConnectionError("connection closed by the server while idle",
                                           node=self.address), unsent=None)
                return
        while True:
            with self._lock:
                chunks, count = self._queue, self._unsent
                if not chunks or self._error is not None:
                    self._writing = False
                    return
                args = self._queued_args
                self._queue, self._queued_args, self._unsent = [], [], 0
            try:
                if self._trace:
                    conn.send_commands(args)
                else:
                    conn.send_packed_command(
                        [chunks[0] if len(chunks) == 1 else b"".join(chunks)],
                        check_health=False)
            except ClusterCoreError as exc:
                # A command cut short never runs; with several in the write, earlier ones
                # may have been delivered whole.
                self._fail(exc, unsent=(count if count == 1 else 0))
                return
            except BaseException:  # Ctrl-C mid-write: the stream may hold half a command
                conn.disconnect()
                self._fail(ConnectionError("interrupted while writing", node=self.address),
                           unsent=(count if count == 1 else 0))
                raise
            with self._lock:
                self._sent_total += count
                if self._awaiting_write:
                    self._awaiting_write = False
                    self._written.notify_all()
            self.writes += 1
            self.commands += count

    # --- reading -------------------------------------------------------------------------------
    def _read_until(self, call: Call) -> None:
        """The reader's loop (the role is held): read replies in order, completing each call,
        until ``call``'s reply has come, its deadline has passed or the connection failed."""
        conn = self.connection
        lock = self._lock
        inflight = self._inflight
        timeout = self.timeout
        with lock:
            if self._error is not None or not inflight:
                self._reading = False
                return
            head = inflight[0]
        try:
            while True:
                deadline = call.deadline
                if deadline is None:
                    # No deadline: block in recv as a pooled connection does, once the
                    # head's bytes are out (a transport whose recv cannot wait, the fakes,
                    # would otherwise report a timeout for a reply not even asked for).
                    if head.seq >= self._sent_total and not self._wait_written(head):
                        return
                elif not conn.has_pending_input() and not wait_readable(
                        [conn], max(0.0, deadline - self._clock())):
                    # With a deadline, wait for bytes outside recv: a deadline that passes
                    # abandons this call, it must not close the socket (a timeout in recv
                    # would).
                    break  # see below
                reply = conn.read_reply(disable_decoding=not head.decode)
                with lock:
                    if self._error is not None:
                        return
                    inflight.popleft()
                    if head.state == _PENDING:
                        head.value = reply
                        head.state = _DONE
                        if head is not call and head.wakeup is not None and not head.woken:
                            head.woken = True
                            head.wakeup.release()
                    if head is call:
                        self._hand_off_locked()
                        return
                    head = inflight[0]
        except ClusterCoreError as exc:  # the connection failed (and closed itself)
            self._fail(exc, unsent=None, sent=True)
        except BaseException:  # Ctrl-C mid-reply: the stream is out of step
            conn.disconnect()
            self._fail(ConnectionError("interrupted while reading", node=self.address),
                       unsent=None, sent=True)
            raise
        if not self._reader_timed_out(call, head, timeout):
            raise self._timed_out()

    def _wait_written(self, head: Call) -> bool:
        """Wait until ``head``'s bytes have been written (the writer is at it); False when the
        connection failed meanwhile."""
        with self._written:
            while head.seq >= self._sent_total and self._error is None:
                self._awaiting_write = True
                self._written.wait(_FOREVER_STEP)
            return self._error is None

    def _reader_timed_out(self, call: Call, head: Call, timeout: Optional[float]) -> bool:
        """The reader's deadline passed with nothing to read. Abandon its call and hand the
        role on; when the oldest reply is overdue by a second deadline, give the connection up
        instead. True when the connection was given up (the call then holds the failure)."""
        now = self._clock()
        with self._lock:
            if self._error is not None:
                return True
            call.state = _ABANDONED
            hung = (timeout is not None and head.deadline is not None
                    and now > head.deadline + timeout)
            if not hung:
                self._hand_off_locked()
        if hung:
            self.connection.disconnect()
            self._fail(TimeoutError(f"no reply from {self.address} for {2 * (timeout or 0):g}s:"
                                    " the connection is given up", node=self.address),
                       unsent=None, sent=True)
            call.state = _FAILED  # abandoned above: _fail skipped it
            call.value = self._timed_out()
        return hung

    def _hand_off_locked(self) -> None:
        """Give the reader role to the first caller asleep on a pending call, or drop it."""
        for other in self._inflight:
            if other.state == _PENDING and other.wakeup is not None and not other.woken:
                other.promoted = True
                other.woken = True
                other.wakeup.release()
                return  # ``_reading`` stays True: the role passed to ``other``
        self._reading = False

    # --- failure -------------------------------------------------------------------------------
    def _fail(self, error: BaseException, *, unsent: Optional[int], sent: bool = True) -> None:
        """Give the connection up: every outstanding call fails with a copy of ``error``.
        ``unsent`` calls at the tail were never (completely) written (None: as many as are
        still queued); the others may have been, when ``sent``."""
        with self._lock:
            if self._error is not None:
                return
            self._error = error
            calls = list(self._inflight)
            self._inflight.clear()
            never = self._unsent if unsent is None else unsent + self._unsent
            self._queue, self._queued_args, self._unsent = [], [], 0
            self._writing = self._reading = False
            self._written.notify_all()
            first_unsent = len(calls) - never
            for i, call in enumerate(calls):
                if call.state != _PENDING:
                    continue
                call.value = _copy_error(error, self.address, sent and i < first_unsent)
                call.state = _FAILED
                if call.wakeup is not None and not call.woken:
                    call.woken = True
                    call.wakeup.release()
        if self._on_broken is not None:
            self._on_broken(self, error)

    def _refused(self) -> ConnectionError:
        refused = ConnectionError(f"the shared connection to {self.address} was lost "
                                  f"({self._error})", node=self.address)
        refused.request_sent = False
        return refused

    def _timed_out(self) -> TimeoutError:
        exc = TimeoutError(f"no reply from {self.address} in time (shared connection)",
                           node=self.address)
        exc.request_sent = True
        return exc

    def close(self) -> None:
        """Give the connection up: close the socket and fail every waiting caller with
        ConnectionError (``request_sent`` as for a lost connection). Idempotent."""
        if self._error is None:
            self._fail(ConnectionError("the shared connection was closed", node=self.address),
                       unsent=None)
        self.connection.disconnect()

    def handle(self) -> SharedConnection:
        """A connection-like handle for one command or one batch (what the executor gets)."""
        return SharedConnection(self)


def _copy_error(error: BaseException, node: NodeAddress, sent: bool) -> BaseException:
    """A fresh exception per failed call (each thread raises its own: tracebacks differ)."""
    kind = type(error) if isinstance(error, ClusterCoreError) else ConnectionError
    try:
        copy = kind(str(error), node=node)
    except Exception:  # a subclass with another constructor
        copy = ConnectionError(str(error), node=node)
    copy.request_sent = sent
    copy.__cause__ = error
    return copy


class SharedConnection:
    """What the executor holds for one command on a multiplexed connection: the subset of the
    ClusterConnection API its one-slot loop uses (``execute``, ``send_commands`` +
    ``read_reply`` / ``read_replies`` for ASK), with ``address``. Releasing or discarding it
    is a no-op for the shared connection: a timeout abandons only this call, a lost connection
    has already been given up."""

    __slots__ = ("_calls", "_mux", "_timeout", "address")

    def __init__(self, mux: MultiplexedConnection) -> None:
        self._mux = mux
        self.address = mux.address
        self._calls: Deque[Call] = deque()
        self._timeout: Optional[float] = -1.0  # -1: the shared connection's own

    @property
    def socket_timeout(self) -> Optional[float]:
        """The shared connection's per-call deadline (its connection's socket_timeout)."""
        return self._mux.timeout

    def set_timeout(self, seconds: Optional[float]) -> None:
        """Bound the waits of the commands this handle sends next by ``seconds`` (the
        shared socket itself is not touched)."""
        self._timeout = seconds

    def __repr__(self) -> str:
        return f"<SharedConnection {self._mux!r}>"

    @property
    def multiplexed(self) -> MultiplexedConnection:
        """The shared connection this handle writes to."""
        return self._mux

    def execute(self, *args: Any, disable_decoding: bool = False) -> Any:
        """Send one command and return its reply, raising error replies."""
        mux = self._mux
        reply = mux.wait(mux.submit((args,), not disable_decoding)[0])
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    def execute_within(self, args: Sequence[Any], seconds: float,
                       disable_decoding: bool = False) -> Any:
        """:meth:`execute`, waiting at most ``seconds`` for the reply (the caller's deadline
        is nearer than the connection's); a timeout abandons only this call."""
        mux = self._mux
        reply = mux.wait(mux.submit((args,), not disable_decoding, seconds)[0])
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    def send_commands(self, commands: Sequence[Sequence[Any]]) -> None:
        """Queue several commands back to back; read their replies with :meth:`read_reply`.
        They are read undecoded and decoded as each is handed out (so ``disable_decoding``
        can still be chosen per reply)."""
        self._calls.extend(self._mux.submit(commands, False, self._timeout))

    def read_reply(self, disable_decoding: bool = False) -> Any:
        """The next reply of :meth:`send_commands` (an error reply as a value)."""
        if not self._calls:
            raise ConnectionError("no reply is outstanding on this handle", node=self.address)
        reply = self._mux.wait(self._calls.popleft())
        if disable_decoding or isinstance(reply, ResponseError):
            return reply
        conn = self._mux.connection
        if not conn.decode_responses:
            return reply
        return decode_strings(reply, conn.encoding, conn.encoding_errors)

    def read_replies(self, count: int, into: List[Any]) -> None:
        """Append the next ``count`` replies to ``into`` (errors as values)."""
        for _ in range(count):
            into.append(self.read_reply())
