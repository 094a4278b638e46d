"""Raw RESP2 over a plain socket: how the suite looks at the cluster without the client under test.

Every check of the cluster's state (who owns a slot, was a replica promoted, what value does a
key hold, how many topology fetches did the servers serve) goes through these few functions, so
a bug in clustercore or redis-py cannot hide itself from the verdict.  Standard library only.
"""

from __future__ import annotations

import binascii
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

Address = Tuple[str, int]
Reply = Union[None, int, bytes, str, List[Any], "RespError"]

NUM_SLOTS = 16384


class RespError(Exception):
    """An error reply (``-MOVED ...``, ``-CLUSTERDOWN ...``) from a server."""


def key_slot(key: Union[str, bytes]) -> int:
    """The cluster slot of a key (CRC16/XMODEM of the hash tag or the whole key), computed here
    rather than by the client under test."""
    data = key.encode() if isinstance(key, str) else key
    start = data.find(b"{")
    if start >= 0:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1:end]
    return binascii.crc_hqx(data, 0) % NUM_SLOTS


def _encode(args: Sequence[Union[str, bytes, int]]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class RawConnection:
    """One blocking RESP2 connection with a finite timeout on every operation."""

    def __init__(self, address: Address, *, timeout: float = 3.0,
                 ssl_context: Optional[ssl.SSLContext] = None) -> None:
        sock = socket.create_connection(address, timeout=timeout)
        if ssl_context is not None:
            sock = ssl_context.wrap_socket(sock, server_hostname=address[0])
        self.sock = sock
        self.buf = b""

    def close(self) -> None:
        """Close the socket (idempotent)."""
        self.sock.close()

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buf += data

    def _line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._fill()

    def _read(self) -> Reply:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise ConnectionError(f"unexpected RESP line {line[:40]!r}")

    def call(self, *args: Union[str, bytes, int]) -> Reply:
        """Send one command and return its reply (an error reply is returned, not raised)."""
        self.sock.sendall(_encode(args))
        return self._read()


def call(address: Address, *args: Union[str, bytes, int], timeout: float = 3.0,
         ssl_context: Optional[ssl.SSLContext] = None) -> Reply:
    """One command on a fresh connection, closed afterwards."""
    with RawConnection(address, timeout=timeout, ssl_context=ssl_context) as conn:
        return conn.call(*args)


@dataclass(frozen=True)
class NodeEntry:
    """One line of CLUSTER NODES."""

    node_id: str
    address: Address
    flags: frozenset[str]
    master_id: str
    slots: Tuple[Tuple[int, int], ...]

    @property
    def is_master(self) -> bool:
        return "master" in self.flags and "fail" not in self.flags

    def owns(self, slot: int) -> bool:
        return any(a <= slot <= b for a, b in self.slots)


def cluster_nodes(address: Address, *, timeout: float = 2.0,
                  ssl_context: Optional[ssl.SSLContext] = None) -> List[NodeEntry]:
    """CLUSTER NODES of one node, parsed (migrating/importing markers skipped)."""
    reply = call(address, "CLUSTER", "NODES", timeout=timeout, ssl_context=ssl_context)
    if not isinstance(reply, bytes):
        raise ConnectionError(f"CLUSTER NODES on {address}: {reply!r}")
    entries = []
    for line in reply.decode().splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        hostport = parts[1].split("@")[0].split(",")[0]
        host, _, port = hostport.rpartition(":")
        slots: List[Tuple[int, int]] = []
        for s in parts[8:]:
            if s.startswith("["):
                continue
            a, _, b = s.partition("-")
            slots.append((int(a), int(b or a)))
        entries.append(NodeEntry(parts[0], (host, int(port)), frozenset(parts[2].split(",")),
                                 parts[3], tuple(slots)))
    return entries


def slot_owner(addresses: Sequence[Address], slot: int, *,
               ssl_context: Optional[ssl.SSLContext] = None) -> Address:
    """The address of the primary owning ``slot`` per the first node that answers."""
    last: Exception = ConnectionError("no address given")
    for a in addresses:
        try:
            for e in cluster_nodes(a, ssl_context=ssl_context):
                if e.is_master and e.owns(slot):
                    return e.address
        except OSError as exc:
            last = exc
    raise ConnectionError(f"no node named the owner of slot {slot}: {last}")


def read_keys(addresses: Sequence[Address], keys: Sequence[str], *,
              ssl_context: Optional[ssl.SSLContext] = None,
              timeout: float = 10.0) -> Dict[str, Optional[bytes]]:
    """GET every key on its slot's primary (following MOVED), within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    owners: Dict[int, Address] = {}
    out: Dict[str, Optional[bytes]] = {}
    conns: Dict[Address, RawConnection] = {}
    try:
        for key in keys:
            slot = key_slot(key)
            while True:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"could not read {key!r} within {timeout}s")
                if slot not in owners:
                    owners[slot] = slot_owner(addresses, slot, ssl_context=ssl_context)
                addr = owners[slot]
                if addr not in conns:
                    conns[addr] = RawConnection(addr, ssl_context=ssl_context)
                reply = conns[addr].call("GET", key)
                if isinstance(reply, RespError):
                    owners.pop(slot, None)  # MOVED / CLUSTERDOWN during settling: ask again
                    time.sleep(0.05)
                    continue
                if reply is not None and not isinstance(reply, bytes):
                    raise ConnectionError(f"GET {key!r} answered {reply!r}")
                out[key] = reply
                break
    finally:
        for c in conns.values():
            c.close()
    return out


def reset_stats(addresses: Sequence[Address], *,
                ssl_context: Optional[ssl.SSLContext] = None) -> None:
    """CONFIG RESETSTAT on every node (commandstats back to zero)."""
    for a in addresses:
        call(a, "CONFIG", "RESETSTAT", ssl_context=ssl_context)


def topology_fetches(addresses: Sequence[Address], *,
                     ssl_context: Optional[ssl.SSLContext] = None) -> int:
    """CLUSTER SLOTS + CLUSTER SHARDS calls served since the last reset, summed over nodes.

    (CLUSTER NODES is not counted: the suite's own promotion watcher uses it.)"""
    total = 0
    for a in addresses:
        try:
            reply = call(a, "INFO", "commandstats", ssl_context=ssl_context)
        except OSError:
            continue
        if not isinstance(reply, bytes):
            continue
        for line in reply.decode().splitlines():
            name, _, rest = line.partition(":")
            if name in ("cmdstat_cluster|slots", "cmdstat_cluster|shards"):
                for part in rest.split(","):
                    k, _, v = part.partition("=")
                    if k == "calls":
                        total += int(v)
    return total
