"""RawConnection: send command lines, get each reply's exact bytes, from a real redis-server
or a FakeCluster node (shared by the fake's unit tests and the cross-check against redis-server)."""

from __future__ import annotations

import socket
from typing import Callable, List, Tuple

from clustercore import NodeAddress
from clustercore._net.transport import TransportOptions
from clustercore._protocol.decoder import NEED_DATA, PythonDecoder
from clustercore._protocol.encoder import pack_command
from clustercore.testing import FakeCluster


# ------------------------------------------------------------------------------------------------
# Raw connections: exact reply bytes from either server
# ------------------------------------------------------------------------------------------------
class RawConnection:
    """Sends command lines and returns each reply's exact bytes (pushes included)."""

    def __init__(self, send: Callable[[bytes], None], recv: Callable[[], bytes]) -> None:
        self._send = send
        self._recv = recv
        self._decoder = PythonDecoder()
        self._pending = b""  # bytes received and not yet returned as a reply

    def command(self, args: List[bytes], replies: int = 1) -> List[bytes]:
        """Send one command; read ``replies`` replies (fewer after an error or +QUEUED)."""
        self._send(b"".join(bytes(p) for p in pack_command(args)))
        out = [self.read()]
        while len(out) < replies and not out[-1].startswith((b"-", b"+QUEUED")):
            out.append(self.read())
        return out

    def read(self) -> bytes:
        """One whole reply's bytes."""
        while True:
            before = len(self._pending) - self._decoder.buffered()
            if self._decoder.gets() is not NEED_DATA:
                after = len(self._pending) - self._decoder.buffered()
                reply = self._pending[before:after]
                self._pending = self._pending[after:]
                return reply
            chunk = self._recv()
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self._pending += chunk
            self._decoder.feed(chunk)


def real_connection(port: int) -> Tuple[RawConnection, Callable[[], None]]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5.0)
    return RawConnection(sock.sendall, lambda: sock.recv(65536)), sock.close


def fake_connection(fake: FakeCluster) -> Tuple[RawConnection, Callable[[], None]]:
    node = fake.nodes[0]
    stream = fake.network.open(NodeAddress(node.host, node.port), 1.0, TransportOptions())
    return RawConnection(stream.sendall, lambda: stream.recv(65536)), stream.close

