"""The I/O of one node connection: :class:`ConnectionCore`, ClusterConnection's base class.

Everything a connection does after it is made lives here -- connect and handshake, send, read,
the wire trace -- and is compiled in the optional mypyc build (setup.py, docs/compiled.md);
:class:`~.connection.ClusterConnection` (connection.py, never compiled) adds only its
constructor, whose argument checks thus run on the values exactly as given in both builds.
Compiled, ConnectionCore is a native class that interpreted classes subclass
(ClusterConnection, SSLClusterConnection, a user's ``connection_class``); their overrides are
the ones its methods call. Each attribute ClusterConnection's constructor stores a caller's
value in unchecked is declared ``Any`` here, so the compiled class stores the same object the
pure one does (ClusterConnection declares their types for its users); see connection.py for
their meaning.
"""

from __future__ import annotations

import logging
import os
from time import monotonic
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
)

from .._address import NodeAddress
from .._protocol.decoder import NEED_DATA, PushReply, decode_strings
from .._protocol.encoder import pack_command, pack_commands
from .._protocol.parser import make_decoder
from ..errors import (
    AuthenticationError,
    ClusterCoreError,
    ConnectionError,
    DeadlineExceededError,
    ResponseError,
    TimeoutError,
)
from .dial_limit import DIAL_LIMIT
from .transport import Stream, Transport, TransportOptions, shutdown_stream
from .transport import translate_error as _translate
from .wiretrace import hexdump, redact, secret_reply, upper_word

__all__ = ["DIAL_LIMIT", "TRACE", "ConnectionCore", "handshake_plan", "wait_readable"]

_T = TypeVar("_T")
_C = TypeVar("_C", bound="ConnectionCore")

try:  # only mypyc reads the decorator (at build time); the pure install needs no package
    from mypy_extensions import mypyc_attr
except ImportError:  # pragma: no cover - mypy_extensions comes with mypy (the dev extra)
    def mypyc_attr(*attrs: str, **kwattrs: object) -> Callable[[_T], _T]:
        """mypy_extensions.mypyc_attr's stand-in: returns the class unchanged."""
        return lambda x: x


#: Log level of the wire trace (below DEBUG).
TRACE = 5
logging.addLevelName(TRACE, "TRACE")
wire_logger = logging.getLogger("clustercore.wire")
_log = logging.getLogger("clustercore.connection")

Arg = Union[bytes, str, int, float, memoryview, bytearray]
_RECV_SIZE = 65536


def handshake_plan(*, protocol: int = 2, username: Optional[str] = None,
                   password: Optional[str] = None, client_name: Optional[str] = None,
                   readonly: bool = False) -> List[Tuple[Arg, ...]]:
    """The commands sent right after connecting, in order: HELLO or AUTH, SETNAME, READONLY.

    RESP3 folds AUTH and SETNAME into HELLO; RESP2 uses AUTH (works on every Redis >= 6 with
    ACL users and on older servers with a plain password) and CLIENT SETNAME.
    """
    plan: List[Tuple[Arg, ...]] = []
    if protocol == 3:
        hello: List[Arg] = ["HELLO", "3"]
        if password is not None:
            hello += ["AUTH", username or "default", password]
        if client_name:
            hello += ["SETNAME", client_name]
        plan.append(tuple(hello))
    else:
        if password is not None:
            plan.append(("AUTH", username, password) if username else ("AUTH", password))
        if client_name:
            plan.append(("CLIENT", "SETNAME", client_name))
    if readonly:
        plan.append(("READONLY",))
    return plan


@mypyc_attr(allow_interpreted_subclasses=True)
class ConnectionCore:
    """A connection's state and I/O; made only through a subclass whose ``__init__`` sets every
    attribute below (:class:`~.connection.ClusterConnection`)."""

    # Values as the caller gave them (ClusterConnection checks some, none is converted). For
    # the same reason the flags of redis-py's methods (``disable_decoding``, ``check_health``)
    # are typed ``object``: any value is taken for its truth, compiled as interpreted.
    host: Any
    username: Any
    password: Any
    socket_timeout: Any
    socket_connect_timeout: Any
    encoding: Any
    encoding_errors: Any
    decode_responses: Any
    readonly: Any
    client_name: Any
    protocol: Any
    health_check_interval: Any
    parser: Any
    # Set by ClusterConnection's constructor from checked or converted values, and by
    # connect() / disconnect() and the pools.
    port: int
    address: NodeAddress
    _limits: Tuple[int, int, int]
    _transport: Transport
    _options: TransportOptions
    _sock: Optional[Stream]
    _decoder: Any
    _idle_check: Callable[[], object]
    is_connected: bool
    _trace: bool
    _trace_hide_reads: bool
    pid: int
    generation: int
    last_used: float
    push_handler: Optional[Callable[[Any], None]]
    node: Optional[Dict[str, Any]]

    @property
    def max_bulk_length(self) -> int:
        """The longest bulk string a reply may hold (a longer one: ProtocolError, closed)."""
        return self._limits[0]

    @property
    def max_line_length(self) -> int:
        """The longest line (simple string, error, number, length header) without CRLF."""
        return self._limits[1]

    @property
    def max_depth(self) -> int:
        """The deepest nesting of aggregates a reply may have."""
        return self._limits[2]

    # --- identity -----------------------------------------------------------------------------
    def __repr__(self) -> str:
        state = "connected" if self._sock is not None else "disconnected"
        ro = ",readonly" if self.readonly else ""
        return f"<{type(self).__name__} {self.address} {state}{ro} pid={self.pid}>"

    # --- connecting ---------------------------------------------------------------------------
    def connect(self) -> None:
        """Open the socket and run the handshake, all within ``socket_connect_timeout`` -- or
        within what is left of the caller's deadline (:data:`DIAL_LIMIT`) when that is sooner:
        then running out raises DeadlineExceededError (not the node's fault)."""
        if self._sock is not None:
            return
        timeout = self.socket_connect_timeout
        limit = DIAL_LIMIT.at
        if limit is not None:
            left = limit - monotonic()
            if timeout is None or left < timeout:
                cut = DeadlineExceededError(
                    f"the call's deadline ran out while connecting to {self.address}",
                    node=self.address)
                if left <= 0:
                    raise cut
                try:
                    self._connect(left)
                except TimeoutError as exc:
                    raise cut from exc
                return
        self._connect(timeout)

    def _connect(self, timeout: Optional[float]) -> None:
        deadline = None if timeout is None else monotonic() + timeout
        self._trace = wire_logger.isEnabledFor(TRACE)
        try:
            sock = self._transport.open(self.address, timeout, self._options)
        except ClusterCoreError:
            raise
        except OSError as exc:
            raise _translate(exc, self.address, "connecting to") from exc
        self._sock = sock
        self.is_connected = True
        try:  # from here on any failure closes the socket (a bad encoding or parser too)
            self._idle_check = self._transport.idle_check(sock)
            self._decoder = make_decoder(
                self.parser, encoding=self.encoding if self.decode_responses else None,
                encoding_errors=self.encoding_errors, node=self.address,
                max_bulk_length=self._limits[0], max_line_length=self._limits[1],
                max_depth=self._limits[2])
            self._handshake(deadline)
            sock.settimeout(self.socket_timeout)
        except BaseException:
            self.disconnect()
            raise
        self.pid = os.getpid()
        self.last_used = monotonic()

    def on_connect(self) -> None:
        """Run the handshake on an open socket (redis-py-cluster's hook name)."""
        timeout = self.socket_connect_timeout
        self._handshake(None if timeout is None else monotonic() + timeout)

    def _handshake(self, deadline: Optional[float]) -> None:
        plan = handshake_plan(protocol=self.protocol, username=self.username,
                              password=self.password, client_name=self.client_name,
                              readonly=self.readonly)
        if not plan:
            return
        self._send(plan, deadline)
        first_error: Optional[BaseException] = None
        for args in plan:
            reply = self._read(deadline)
            if isinstance(reply, ResponseError) and first_error is None:
                first_error = self._handshake_error(args, reply)
        if first_error is not None:
            raise first_error

    def _handshake_error(self, args: Tuple[Arg, ...], reply: ResponseError) -> BaseException:
        step = " ".join(str(a) for a in redact(args)[:2] if not isinstance(a, bytes)) or "AUTH"
        if isinstance(reply, AuthenticationError):
            err: ClusterCoreError = AuthenticationError(
                f"authentication failed ({step}): {reply.message}", node=self.address)
        elif upper_word(args[0]) == b"HELLO":
            err = ConnectionError(
                f"HELLO {self.protocol} refused ({reply.message}); the server may not support "
                "RESP3: use protocol=2", node=self.address)
        else:
            err = ConnectionError(f"handshake step {step} failed: {reply.message}",
                                  node=self.address)
        err.__cause__ = reply
        return err

    def disconnect(self) -> None:
        """Close the socket (idempotent; never raises). In the process that connected it, the
        socket is shut down first (as redis-py does), so a forked child's inherited copy
        cannot keep the server-side connection open; a child closes only its own copy."""
        sock, self._sock = self._sock, None
        self.is_connected = False
        self._decoder = None
        if sock is not None:
            if self.pid == os.getpid():
                shutdown_stream(sock)
            try:
                sock.close()
            except OSError:
                pass

    def close(self) -> None:
        """This class's :meth:`disconnect` (redis-py's other name; a subclass's override of
        disconnect is not called, as with the class-body alias this was). A method: a
        compiled class's method alias crashes when called (docs/compiled.md)."""
        ConnectionCore.disconnect(self)

    # --- commands -----------------------------------------------------------------------------
    def send_command(self, *args: Arg) -> None:
        """Send one command (connecting first if needed)."""
        self.send_commands((args,))

    def send_commands(self, commands: Sequence[Sequence[Arg]]) -> None:
        """Send several commands in one write (a pipeline); connect first if needed."""
        if self._sock is None:
            self.connect()
        self._send(commands, None)

    def send_packed_command(self, chunks: Union[bytes, Iterable[Union[bytes, memoryview]]],
                            check_health: object = True) -> None:
        """Send pre-encoded bytes (redis-py's and redis-py-cluster's name and signature). Not
        traced with redaction. ``check_health``: first PING a connection idle longer than
        ``health_check_interval`` (see :meth:`check_health`), as redis-py does; False skips it
        (a caller in the middle of its own exchange)."""
        if self._sock is None:
            self.connect()
        elif check_health and self.health_check_interval:
            self.check_health()
        if isinstance(chunks, bytes):
            chunks = (chunks,)
        self._write(list(chunks), None)

    def read_response(self, disable_decoding: object = False) -> Any:
        """Read the next reply; raise it if it is an error reply (with ``.node`` set).
        ``disable_decoding``: strings stay bytes even with decode_responses (redis-py's name)."""
        reply = self._read(None, not disable_decoding)
        if isinstance(reply, ResponseError):  # the decoder set its .node
            raise reply
        return reply

    def read_reply(self, disable_decoding: object = False) -> Any:
        """Read the next reply; an error reply is returned as a value (for pipelines)."""
        return self._read(None, not disable_decoding)

    def decode_reply(self, reply: Any) -> Any:
        """A reply read with ``disable_decoding`` as it would have been read without it."""
        if not self.decode_responses:
            return reply
        return decode_strings(reply, self.encoding, self.encoding_errors)

    def execute(self, *args: Arg, disable_decoding: object = False) -> Any:
        """Send one command and return its reply, raising error replies: the hot path.
        ``disable_decoding``: read the reply as bytes even with decode_responses (DUMP)."""
        sock = self._sock
        if sock is None:
            self.connect()
            sock = self._sock
            assert sock is not None
        chunks = pack_command(args, self.encoding, self.encoding_errors)
        if self._trace:
            self._trace_write((args,))
        try:
            if len(chunks) == 1:
                sock.sendall(chunks[0])
            else:
                for chunk in chunks:
                    sock.sendall(chunk)
        except OSError as exc:
            self.disconnect()
            raise _translate(exc, self.address, "writing to") from exc
        self.last_used = monotonic()
        # The server answers every command, so receive before asking the decoder: one parse
        # attempt instead of two. (Bytes already buffered, e.g. a RESP3 push, are still
        # parsed first: the decoder returns them before this command's reply.)
        data = self._fill(None)
        try:
            reply = self._decoder.gets() if not disable_decoding else self._decoder.gets(False)
        except ClusterCoreError:
            self.disconnect()
            raise
        if reply is NEED_DATA or (self.protocol == 3 and isinstance(reply, PushReply)):
            # The reply spans several reads (or a push came first): from here on the reads
            # are recorded for the decoder's limits; this one began a reply.
            self._decoder.track(data, True)
            if reply is not NEED_DATA:
                self._on_push(reply, not disable_decoding)
            reply = self._read(None, not disable_decoding)
        if isinstance(reply, ResponseError):  # the decoder set its .node
            raise reply
        return reply

    def set_timeout(self, seconds: Optional[float]) -> None:
        """Make the open socket wait at most ``seconds`` (None: forever) per read or write,
        until set again (a caller bounding a few steps by its deadline puts socket_timeout
        back before it releases the connection)."""
        sock = self._sock
        if sock is not None:
            sock.settimeout(seconds)

    def execute_within(self, args: Sequence[Arg], seconds: float,
                       disable_decoding: object = False) -> Any:
        """:meth:`execute` with each socket wait bounded by ``seconds`` instead of
        socket_timeout (the caller's deadline is nearer): a retry, or a connection whose
        socket_timeout is longer than the client's deadline. The socket goes back to
        socket_timeout afterwards; a timeout closes the connection, as always."""
        if self._sock is None:
            self.connect()
        sock = self._sock
        assert sock is not None
        sock.settimeout(seconds)
        try:
            return self.execute(*args, disable_decoding=disable_decoding)
        finally:
            if self._sock is sock:
                sock.settimeout(self.socket_timeout)

    def execute_blocking(self, args: Sequence[Arg], server_timeout: float) -> Any:
        """Run a blocking command (BLPOP, XREAD BLOCK ...) that the server may hold for
        ``server_timeout`` seconds (``inf``: forever): the socket waits that long plus
        socket_timeout, then goes back to socket_timeout."""
        if self._sock is None:
            self.connect()
        sock = self._sock
        assert sock is not None
        if server_timeout == float("inf") or self.socket_timeout is None:
            sock.settimeout(None)
        else:
            sock.settimeout(server_timeout + self.socket_timeout)
        try:
            return self.execute(*args)
        finally:
            if self._sock is sock:
                sock.settimeout(self.socket_timeout)

    def check_health(self, now: Optional[float] = None) -> None:
        """PING when idle longer than ``health_check_interval``; reconnect once if it fails."""
        if not self.health_check_interval or self._sock is None:
            return
        if (now if now is not None else monotonic()) - self.last_used <= self.health_check_interval:
            return
        try:
            self._ping()
        except (ConnectionError, TimeoutError):
            self.disconnect()
            self.connect()
            self._ping()

    def _ping(self) -> None:
        reply = self.execute("PING")
        if reply not in (b"PONG", "PONG"):
            self.disconnect()
            raise ConnectionError(f"bad PING reply {reply!r}", node=self.address)

    def has_pending_input(self) -> bool:
        """True if the idle socket has data, EOF or an error waiting (not safe to reuse)."""
        sock = self._sock
        if sock is None:
            return False
        decoder = self._decoder
        if decoder is not None and decoder.has_buffered():  # read each time: _fail rebinds it
            return True
        try:
            return bool(self._idle_check())
        except (OSError, ValueError):
            return True

    def _buffered(self) -> bool:
        """Whether the decoder already holds bytes of a reply (readable without waiting)."""
        decoder = self._decoder
        return decoder is not None and bool(decoder.buffered())

    # --- I/O internals ------------------------------------------------------------------------
    def _send(self, commands: Sequence[Sequence[Arg]], deadline: Optional[float]) -> None:
        chunks = pack_commands(commands, self.encoding, self.encoding_errors)
        if self._trace:
            self._trace_write(commands)
        self._write(chunks, deadline)

    def _write(self, chunks: Sequence[Union[bytes, memoryview]], deadline: Optional[float]) -> None:
        sock = self._sock
        if sock is None:
            raise ConnectionError("connection is closed", node=self.address)
        try:
            if deadline is not None:
                sock.settimeout(_left(deadline))
            for chunk in chunks:
                sock.sendall(chunk)
        except OSError as exc:
            self.disconnect()
            raise _translate(exc, self.address, "writing to") from exc
        self.last_used = monotonic()

    def _read(self, deadline: Optional[float], decode: bool = True) -> Any:
        decoder = self._decoder
        if self._sock is None or decoder is None:
            raise ConnectionError("connection is closed", node=self.address)
        while True:
            try:
                reply = decoder.gets(decode)
                if reply is NEED_DATA:
                    decoder.waiting()  # a limit broken by what the decoder waits on
            except ClusterCoreError:
                self.disconnect()
                raise
            if reply is NEED_DATA:
                decoder.track(self._fill(deadline))
            elif self.protocol == 3 and isinstance(reply, PushReply):
                self._on_push(reply, decode)
            else:
                return reply

    def read_replies(self, count: int, into: List[Any]) -> None:
        """Append the next ``count`` replies to ``into``, error replies as values (``.node``
        set): a pipeline's batch in one call. When the connection fails part-way, the replies
        read so far are already in ``into`` and the error is raised (the connection closed)."""
        decoder = self._decoder
        if self._sock is None or decoder is None:
            raise ConnectionError("connection is closed", node=self.address)
        if self.protocol == 3:  # pushes may come between the replies: one at a time
            for _ in range(count):
                into.append(self._read(None))
            return
        take = decoder.take  # RESP2: no pushes; the decoder tags errors with this address
        while count:
            try:
                taken = take(into, count)
                if not taken:
                    decoder.waiting()
            except ClusterCoreError:
                self.disconnect()
                raise
            if taken:
                count -= taken
            else:
                decoder.track(self._fill(None))

    def _on_push(self, push: Any, decoded: bool) -> None:
        """Hand a RESP3 push to the push handler, always decoded as the connection decodes."""
        if self.push_handler is not None:
            self.push_handler(push if decoded else self.decode_reply(push))

    def _fill(self, deadline: Optional[float]) -> bytes:
        """Receive the next bytes into the decoder and return them (for the decoder's limit
        bookkeeping, which only the multi-read paths do: see Decoder.track); a failure closes
        the connection and raises an error that says the request was sent (its outcome is
        unknown)."""
        sock = self._sock
        decoder = self._decoder
        if sock is None or decoder is None:  # closed by another thread (pub/sub close())
            closed = ConnectionError("connection closed while reading a reply",
                                     node=self.address)
            closed.request_sent = True
            raise closed
        try:
            if deadline is not None:
                sock.settimeout(_left(deadline))
            data = sock.recv(_RECV_SIZE)
        except OSError as exc:
            self.disconnect()
            err = _translate(exc, self.address, "reading from")
            err.request_sent = True
            raise err from exc
        if not data:
            self.disconnect()
            err = ConnectionError("connection closed by the server", node=self.address)
            err.request_sent = True
            raise err
        if self._trace:
            self._trace_read(data)
        decoder.feed(data)
        return data

    def _trace_write(self, commands: Sequence[Sequence[Arg]]) -> None:
        safe = [redact(cmd) for cmd in commands]
        # Until the next write, the reads answer these commands: hide them if any may echo
        # a credential back (an error reply may quote the arguments, a redacted one too).
        self._trace_hide_reads = any(
            secret_reply(cmd) or shown != tuple(cmd) for cmd, shown in zip(commands, safe))
        data = b"".join(bytes(c) for c in pack_commands(safe, self.encoding, "replace"))
        wire_logger.log(TRACE, "%s WRITE %dB\n%s", self.address, len(data), hexdump(data))

    def _trace_read(self, data: bytes) -> None:
        if self._trace_hide_reads:
            wire_logger.log(TRACE, "%s READ %dB <redacted: the reply may hold a credential>",
                            self.address, len(data))
            return
        wire_logger.log(TRACE, "%s READ %dB\n%s", self.address, len(data), hexdump(data))


def _always_pending() -> bool:
    return True


def _left(deadline: float) -> float:
    left = deadline - monotonic()
    if left <= 0:
        raise OSError(110, "deadline reached")  # ETIMEDOUT: translated to TimeoutError
    return left


def wait_readable(conns: Sequence[_C], timeout: float) -> List[_C]:
    """The connections with a reply (or EOF) to read, waiting at most ``timeout`` seconds
    (``0``: do not wait); ``[]`` when none became ready in time. Connections of one transport
    come back in the order given.

    A connection whose decoder already holds bytes (the transport cannot see those), or that
    is closed (reading it raises, so pub/sub restores its subscriptions), is ready without
    waiting: such connections are returned at once, without asking the transport about the
    others. The others are waited on together by their transport (one transport per pool, so
    one call in practice); connections of several transports are each looked at without
    waiting, then only the first transport's are waited on.
    """
    ready: List[_C] = []
    groups: Dict[int, Tuple[Transport, List[_C], List[Stream]]] = {}
    for conn in conns:
        sock = conn._sock  # read once: close() in another thread may clear it
        if sock is None or conn._buffered():
            ready.append(conn)
            continue
        transport = conn._transport
        group = groups.setdefault(id(transport), (transport, [], []))
        group[1].append(conn)
        group[2].append(sock)
    if ready or not groups:
        return ready
    if len(groups) > 1:
        # Connections made by different transports cannot be waited on together: look at
        # every group without waiting, then wait on the first group only.
        for transport, members, streams in groups.values():
            ready += [members[i] for i in transport.wait_readable(streams, 0.0)]
        if ready or timeout <= 0:
            return ready
    transport, members, streams = next(iter(groups.values()))
    return [members[i] for i in transport.wait_readable(streams, timeout)]


