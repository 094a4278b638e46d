"""A tiny loopback TCP forwarder for tests: reach a node through an address it never announces,
count connections, and cut them on demand. One selector thread per proxy; stops by itself."""

from __future__ import annotations

import selectors
import socket
import threading
from typing import Dict, List, Optional, Tuple


class Proxy:
    """Listens on 127.0.0.1:<free port> and forwards every connection to ``target``."""

    def __init__(self, target: Tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.setblocking(False)
        self.address: Tuple[str, int] = self._listener.getsockname()[:2]
        self.accepted = 0
        self._pairs: Dict[socket.socket, socket.socket] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._drop = threading.Event()
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._run, name=f"proxy-{self.address[1]}",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._drop.is_set():
                self._close_pairs()
                self._drop.clear()
            for key, _ in self._sel.select(timeout=0.02):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._listener:
                    self._accept()
                    continue
                peer = self._pairs.get(sock)
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data or peer is None:
                    self._close_pair(sock)
                    continue
                try:
                    peer.sendall(data)
                except OSError:
                    self._close_pair(sock)
        self._close_pairs()
        self._sel.close()
        self._listener.close()

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except OSError:
            return
        try:
            upstream = socket.create_connection(self.target, timeout=2)
        except OSError:
            client.close()
            return
        with self._lock:
            self.accepted += 1
            self._pairs[client] = upstream
            self._pairs[upstream] = client
        for s in (client, upstream):
            s.setblocking(True)
            s.settimeout(2)
            self._sel.register(s, selectors.EVENT_READ)

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
            s.close()

    def _close_pairs(self) -> None:
        with self._lock:
            socks: List[socket.socket] = list(self._pairs)
        for s in socks:
            self._close_pair(s)

    @property
    def open_connections(self) -> int:
        """Client connections currently forwarded."""
        with self._lock:
            return len(self._pairs) // 2

    def drop_all(self) -> None:
        """Cut every forwarded connection (the proxy keeps accepting new ones)."""
        self._drop.set()

    def stop(self, timeout: Optional[float] = 2.0) -> None:
        """Stop the thread and close everything."""
        self._stop.set()
        self._thread.join(timeout)
