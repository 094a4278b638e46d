"""An in-process network of fake servers, plugged in at the transport boundary.

``FakeNetwork`` implements clustercore's ``Transport`` protocol: ``open(address, ...)`` returns a
``FakeStream`` whose ``sendall`` feeds the bytes to a server object through clustercore's own
RESP decoder, and whose ``recv`` returns the server's encoded replies. Everything above the
transport (encoder, decoder, connection, handshake, pools, client) runs unmodified and no socket,
thread or sleep is involved. Faults are switches: refuse connections, freeze a node (reads time
out at once, as if the full socket timeout had passed), drop every open connection, or cut a
reply half-way.

The one real wait is :meth:`FakeNetwork.wait_readable` (pub/sub waits on its connections with
it): it blocks on a condition variable that the streams notify when bytes arrive (a reply, or a
message a server ``push``-es from any thread) or a connection closes, up to its timeout in real
seconds. A stream's buffered reply bytes are guarded by that condition's lock, so a publisher in
one thread may push to a subscriber's stream while another thread reads it.

A server is any object with ``handle(session, args) -> reply``; the reply is encoded with
``encode_reply`` (an Exception instance becomes an error reply; :data:`NO_REPLY` sends
nothing). :class:`FakeSession` is the per-connection state a real server keeps.
"""

from __future__ import annotations

import builtins
import itertools
import threading
from time import monotonic
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    List,
    Optional,
    Protocol,
    Sequence,
    Set,
    Union,
)

from ..._address import NodeAddress
from ..._net.transport import Stream, TransportOptions
from ..._protocol.decoder import NEED_DATA, PythonDecoder
from ..._protocol.reply_encoder import encode_reply

__all__ = ["NO_REPLY", "FakeNetwork", "FakeServer", "FakeSession", "FakeStream"]

#: Returned by a server's handle() to send no reply at all for that command.
NO_REPLY: Any = object()

_ids = itertools.count(1)


class FakeSession:
    """Per-connection server state: protocol, auth, READONLY, ASKING, name, commands seen."""

    def __init__(self, address: NodeAddress, tls: bool) -> None:
        self.address = address
        self.tls = tls
        self.id = next(_ids)
        self.protocol = 2
        self.authenticated_as: Optional[str] = None
        self.readonly = False
        self.asking = False
        self.name: Optional[str] = None
        self.commands: List[List[bytes]] = []
        #: Extra state a server may keep per connection (MULTI queue, WATCH set...).
        self.state: Dict[str, Any] = {}


class FakeServer(Protocol):
    """What a fake node implements: answer one command of one session."""

    def handle(self, session: FakeSession, args: List[bytes]) -> Any: ...


class FakeStream:
    """The client's end of a fake connection: behaves like a blocking socket with a timeout."""

    def __init__(self, network: FakeNetwork, address: NodeAddress, server: FakeServer,
                 tls: bool) -> None:
        self._network = network
        self.address = address
        self.server = server
        self.session = FakeSession(address, tls)
        self._decoder = PythonDecoder()
        self._out = bytearray()
        self.closed = False
        self._eof = False
        self.timeout: Optional[float] = None
        #: Cut the next reply after this many bytes, then close (a connection dropped mid-reply).
        self.cut_after: Optional[int] = None

    # socket-like API used by ClusterConnection
    def sendall(self, data: Union[bytes, bytearray, memoryview], /) -> None:
        if self.closed or self.closed_by_server:
            raise BrokenPipeError(32, "Broken pipe")
        self._network.bytes_sent += len(data)
        self._decoder.feed(bytes(data))
        while True:
            args = self._decoder.gets()
            if args is NEED_DATA:
                break
            if self._network.is_frozen(self.address):
                continue  # the node swallows the command and never answers
            self.session.commands.append(list(args))
            reply = self.server.handle(self.session, list(args))
            if reply is not NO_REPLY:
                encoded = encode_reply(reply, self.session.protocol)
                with self._readable:
                    self._out += encoded
                    self._readable.notify_all()
            if self.closed_by_server:
                break

    def recv(self, bufsize: int, /) -> bytes:
        if self.closed:
            raise OSError(9, "Bad file descriptor")
        with self._readable:
            if self._out:
                if self.cut_after is not None:
                    n = min(bufsize, self.cut_after)
                    data = bytes(self._out[:n])
                    self._out.clear()
                    self.cut_after = None
                    self.closed_by_server = True
                    return data
                data = bytes(self._out[:bufsize])
                del self._out[:bufsize]
                return data
        if self.closed_by_server:
            return b""
        # Nothing will ever arrive: a blocking socket would wait out its timeout.
        self._network.advance(self.timeout)
        raise builtins.TimeoutError("timed out")

    def settimeout(self, value: Optional[float], /) -> None:
        self.timeout = value

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._network._forget(self)
            with self._readable:
                self._readable.notify_all()  # a waiter on this stream: reading it now fails

    @property
    def _readable(self) -> threading.Condition:
        """The network's condition: guards ``_out``; notified when there is more to read."""
        return self._network._readable

    # server-side controls
    @property
    def closed_by_server(self) -> bool:
        """Whether the server closed this connection (the client reads EOF after the replies)."""
        return self._eof

    @closed_by_server.setter
    def closed_by_server(self, value: bool) -> None:
        with self._readable:
            self._eof = value
            self._readable.notify_all()

    def push(self, data: Union[bytes, bytearray]) -> None:
        """The server writes ``data`` unprompted (a pub/sub message), from any thread.

        Lost when either end has closed the connection, as on a real network.
        """
        with self._readable:
            if self.closed or self._eof:
                return
            self._out += data
            self._readable.notify_all()

    def drop(self) -> None:
        """The server closes this connection (pending replies are lost)."""
        with self._readable:
            self._out.clear()
            self.closed_by_server = True

    def pending_output(self) -> int:
        """Bytes the server has written that the client has not read yet."""
        return len(self._out)

    def readable(self) -> bool:
        """Whether a read would return at once: bytes, EOF, or an error (client-closed)."""
        return bool(self.closed or self._eof or self._out)


class FakeNetwork:
    """A Transport whose addresses lead to in-process fake servers."""

    def __init__(self, *, condition: Optional[threading.Condition] = None) -> None:
        """``condition``: the condition variable wait_readable() sleeps on and streams notify
        (a new one by default; tests pass a subclass to see when a waiter goes to sleep)."""
        self._lock = threading.Lock()
        #: Notified whenever a stream gets bytes to read or is closed (see wait_readable).
        self._readable = condition if condition is not None else threading.Condition()
        self.servers: Dict[NodeAddress, FakeServer] = {}
        self.streams: List[FakeStream] = []
        self.refused: Set[NodeAddress] = set()
        self.frozen: Set[NodeAddress] = set()
        self.opened = 0
        #: Connection attempts per address, refused ones included.
        self.dials: Dict[NodeAddress, int] = {}
        self.bytes_sent = 0
        #: Seconds of (fake) time spent waiting on timeouts; tests read it instead of a clock.
        self.waited = 0.0

    def add(self, address: NodeAddress, server: FakeServer) -> None:
        """Make ``address`` reachable, answered by ``server``."""
        with self._lock:
            self.servers[address] = server

    def remove(self, address: NodeAddress) -> None:
        """The node is gone: new connections are refused, open ones are dropped."""
        with self._lock:
            self.servers.pop(address, None)
        self.drop_connections(address)

    def refuse(self, address: NodeAddress, refused: bool = True) -> None:
        """Refuse (or accept again) new connections to ``address``."""
        with self._lock:
            (self.refused.add if refused else self.refused.discard)(address)

    def freeze(self, address: NodeAddress, frozen: bool = True) -> None:
        """Freeze a node: it accepts TCP but never answers (connects and reads time out)."""
        with self._lock:
            (self.frozen.add if frozen else self.frozen.discard)(address)

    def is_frozen(self, address: NodeAddress) -> bool:
        return address in self.frozen

    def drop_connections(self, address: Optional[NodeAddress] = None) -> int:
        """Close every open connection (to one node, or all): the next read gets EOF."""
        with self._lock:
            victims = [s for s in self.streams if address is None or s.address == address]
        for stream in victims:
            stream.drop()
        return len(victims)

    def connections_to(self, address: NodeAddress) -> List[FakeStream]:
        """Open (not client-closed) streams to ``address``."""
        with self._lock:
            return [s for s in self.streams if s.address == address]

    def advance(self, seconds: Optional[float]) -> None:
        """Account for time a real socket would have blocked."""
        with self._lock:
            self.waited += seconds or 0.0

    # Transport protocol
    def open(self, address: NodeAddress, timeout: Optional[float],
             options: TransportOptions) -> FakeStream:
        """Connect to a fake server, or fail the way a real network would."""
        with self._lock:
            self.dials[address] = self.dials.get(address, 0) + 1
            server = self.servers.get(address)
            refused = address in self.refused
            frozen = address in self.frozen
        if server is None or refused:
            raise ConnectionRefusedError(111, "Connection refused")
        stream = FakeStream(self, address, server, tls=options.ssl_context is not None)
        stream.timeout = timeout
        if frozen and options.ssl_context is not None:
            # A TLS handshake with a frozen node waits out the connect timeout.
            self.advance(timeout)
            raise builtins.TimeoutError("timed out")
        with self._lock:
            self.streams.append(stream)
            self.opened += 1
        return stream

    def idle_check(self, stream: Any) -> Callable[[], bool]:
        """Truthy when the idle ``stream`` has data or EOF waiting (it is not safe to reuse)."""
        return lambda: bool(stream.closed_by_server or stream.pending_output())

    def wait_readable(self, streams: Sequence[Stream], timeout: Optional[float]) -> List[int]:
        """Indexes of the ``streams`` with bytes, EOF or an error to read, waiting for one.

        Blocks on the network's condition variable (no polling loop): a reply, a pushed
        message or a close from any thread wakes it at once. Returns ``[]`` after ``timeout``
        real seconds (``0``: do not wait; ``None``: no limit). A stream this network did not
        open cannot be waited on and counts as ready.
        """
        deadline = None if timeout is None else monotonic() + max(timeout, 0.0)
        with self._readable:
            while True:
                ready = [i for i, stream in enumerate(streams)
                         if not isinstance(stream, FakeStream) or stream._network is not self
                         or stream.readable()]
                if ready:
                    return ready
                if deadline is None:
                    self._readable.wait()
                    continue
                left = deadline - monotonic()
                if left <= 0:
                    return []
                self._readable.wait(left)

    def _forget(self, stream: FakeStream) -> None:
        with self._lock:
            try:
                self.streams.remove(stream)
            except ValueError:
                pass


if TYPE_CHECKING:
    from ..._net.transport import Transport

    def _is_a_transport(network: FakeNetwork) -> Transport:
        return network  # mypy checks FakeNetwork against the Transport protocol here
