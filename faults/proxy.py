"""A loopback TCP forwarder that can blackhole a node without closing anything.

Clients reach every node through its own ``BlackholeProxy`` (clustercore's ``host_port_remap``,
redis-py's ``address_remap``).  ``blackhole()`` stops forwarding in both directions while every
socket stays open and new connections are still accepted (and then ignored): what a client sees
when a firewall starts dropping packets or a host vanishes behind a switch -- no RST, no FIN,
reads that never complete.  ``heal()`` cuts the held connections (as TCP keepalive or the
server's timeout eventually would) and forwards again.
"""

from __future__ import annotations

import selectors
import socket
import threading
from typing import Dict, List, Set, Tuple

Address = Tuple[str, int]


class BlackholeProxy:
    """Listens on 127.0.0.1:<free port> and forwards each connection to ``target``."""

    def __init__(self, target: Address) -> None:
        self.target = target
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self._listener.setblocking(False)
        self.address: Address = self._listener.getsockname()[:2]
        self._pairs: Dict[socket.socket, socket.socket] = {}
        self._held: List[socket.socket] = []
        # every socket this proxy opened and has not closed yet (removed only after close(),
        # so owned_fds never misses one that is being closed)
        self._open: Set[socket.socket] = {self._listener}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._holes = threading.Event()
        self._heal = threading.Event()
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._run, name=f"faults-proxy-{self.address[1]}",
                                        daemon=True)
        self._thread.start()

    # ---- control ----------------------------------------------------------------------------

    def blackhole(self) -> None:
        """Stop forwarding; keep every socket open; accept new connections and ignore them."""
        self._holes.set()

    def heal(self) -> None:
        """Close the connections held during the blackhole and forward again."""
        self._heal.set()

    def owned_fds(self) -> Set[int]:
        """File descriptors this proxy holds (excluded from the client's socket count)."""
        with self._lock:
            socks = list(self._open)
        return {s.fileno() for s in socks if s.fileno() >= 0}

    @property
    def open_connections(self) -> int:
        """Client connections forwarded or held right now."""
        with self._lock:
            return len(self._pairs) // 2 + len(self._held)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread and close every socket."""
        self._stop.set()
        self._thread.join(timeout)

    # ---- the loop ---------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._holes.is_set() and not self._heal.is_set():
                self._freeze_pairs()
            if self._heal.is_set():
                self._close_all()
                self._holes.clear()
                self._heal.clear()
            for key, _ in self._sel.select(timeout=0.02):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._listener:
                    self._accept()
                    continue
                self._forward(sock)
        self._close_all()
        self._sel.close()
        self._close(self._listener)

    def _freeze_pairs(self) -> None:
        """Unregister every forwarded socket (nothing is read, nothing is closed)."""
        for s in list(self._sel.get_map().values()):
            if s.fileobj is not self._listener:
                self._sel.unregister(s.fileobj)

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except OSError:
            return
        with self._lock:
            self._open.add(client)
        if self._holes.is_set():
            with self._lock:
                self._held.append(client)  # the connect succeeds; nothing ever answers
            return
        try:
            upstream = socket.create_connection(self.target, timeout=2)
        except OSError:
            self._close(client)
            return
        with self._lock:
            self._open.add(upstream)
            self._pairs[client] = upstream
            self._pairs[upstream] = client
        for s in (client, upstream):
            s.settimeout(2)
            self._sel.register(s, selectors.EVENT_READ)

    def _forward(self, sock: socket.socket) -> None:
        with self._lock:
            peer = self._pairs.get(sock)
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data or peer is None:
            self._close_pair(sock)
            return
        try:
            peer.sendall(data)
        except OSError:
            self._close_pair(sock)

    def _close_pair(self, sock: socket.socket) -> None:
        with self._lock:
            peer = self._pairs.pop(sock, None)
            if peer is not None:
                self._pairs.pop(peer, None)
        for s in (sock, peer):
            if s is None:
                continue
            try:
                self._sel.unregister(s)
            except (KeyError, ValueError):
                pass
            self._close(s)

    def _close(self, s: socket.socket) -> None:
        s.close()
        with self._lock:
            self._open.discard(s)

    def _close_all(self) -> None:
        with self._lock:
            socks = list(self._pairs) + self._held
            self._held = []
        for s in socks:
            self._close_pair(s)
