"""The transport edge: the only module that imports ``socket``, ``ssl`` and ``select``.

A *transport* opens a *stream* to a node. A stream is anything with the few socket methods the
connection uses (``sendall``, ``recv``, ``settimeout``, ``close``); a real transport hands out
plain ``socket.socket`` / ``ssl.SSLSocket`` objects, so the hot path calls C methods directly.
Tests and :class:`clustercore.testing.FakeCluster` plug in their own transport with the same
methods, so everything above this module runs unmodified against in-process fakes.

Waiting is the transport's job too: :meth:`Transport.wait_readable` blocks until one of several
streams has something to read (``poll`` here, a condition variable in the fake network), so no
module above this one needs ``select``.

OSError and ssl errors are translated here, once, into clustercore's typed errors that name the
node (:func:`translate_error`).
"""

from __future__ import annotations

import builtins
import errno
import math
import os
import select
import socket
import ssl
from dataclasses import dataclass, field
from functools import partial
from time import monotonic
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Sequence, Union

from .._address import NodeAddress
from ..errors import ClusterCoreError, ConnectionError, DataError, TimeoutError

__all__ = [
    "DEFAULT_TRANSPORT",
    "Stream",
    "TCPTransport",
    "Transport",
    "TransportOptions",
    "make_ssl_context",
    "shutdown_stream",
    "translate_error",
]

Buffer = Union[bytes, bytearray, memoryview]


class Stream(Protocol):
    """What a connection needs from an open byte stream (a subset of ``socket.socket``).

    ``sendall`` returns only when every byte was accepted; raising means some were not. The
    executor relies on that: a single command whose write failed never reached the server
    whole, so it was not run and may be sent again (docs/retries.md).
    """

    def sendall(self, data: Buffer, /) -> None: ...

    def recv(self, bufsize: int, /) -> bytes: ...

    def settimeout(self, value: Optional[float], /) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class TransportOptions:
    """Socket-level options, fixed per pool: keepalive, TLS context and TLS server name."""

    keepalive: bool = False
    keepalive_options: Optional[Mapping[int, int]] = None
    ssl_context: Optional[ssl.SSLContext] = field(default=None, compare=False)
    server_hostname: Optional[str] = None


class Transport(Protocol):
    """Opens streams; says whether streams have something (data or EOF) to read, or waits."""

    def open(self, address: NodeAddress, timeout: Optional[float],
             options: TransportOptions) -> Stream: ...

    def idle_check(self, stream: Stream) -> Callable[[], object]:
        """A check, made once per stream and called on every checkout, that is truthy when the
        idle ``stream`` has data, EOF or an error to read (so it must not be reused)."""
        ...

    def wait_readable(self, streams: Sequence[Stream], timeout: Optional[float]) -> List[int]:
        """Indexes (ascending) of the ``streams`` with data, EOF or an error to read.

        Returns as soon as one is ready, or ``[]`` once ``timeout`` seconds have passed
        (``0``: do not wait; ``None``: wait until one is ready). A closed stream counts as
        ready: reading it reports the error.
        """
        ...


class TCPTransport:
    """The real transport: TCP with TCP_NODELAY and optional keepalive, optionally TLS, IPv4/6."""

    def open(self, address: NodeAddress, timeout: Optional[float],
             options: TransportOptions) -> Stream:
        """Connect within ``timeout`` seconds (covering every address tried and the TLS handshake)."""
        deadline = None if timeout is None else monotonic() + timeout
        try:
            infos = socket.getaddrinfo(address.host, address.port, 0, socket.SOCK_STREAM)
        except OSError as exc:
            raise ConnectionError(f"cannot resolve {address.host!r}: {exc}",
                                  node=address) from exc
        last_exc: Optional[BaseException] = None
        for family, socktype, proto, _name, sockaddr in infos:
            sock = socket.socket(family, socktype, proto)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if options.keepalive:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                    for opt, value in (options.keepalive_options or {}).items():
                        sock.setsockopt(socket.IPPROTO_TCP, opt, value)
                sock.settimeout(_remaining(deadline, monotonic()))
                sock.connect(sockaddr)
                if options.ssl_context is not None:
                    sock.settimeout(_remaining(deadline, monotonic()))
                    hostname = options.server_hostname or address.host
                    sock = options.ssl_context.wrap_socket(sock, server_hostname=hostname)
                return sock
            except OSError as exc:
                sock.close()
                last_exc = exc
                if deadline is not None and monotonic() >= deadline:
                    break
        if last_exc is None:
            raise ConnectionError(f"no address found for {address.host!r}", node=address)
        raise translate_error(last_exc, address, "connecting to") from last_exc

    def idle_check(self, stream: Stream) -> Callable[[], object]:
        """Truthy when the idle socket is readable: unread data, EOF or an error is waiting (a
        clean idle connection to Redis has nothing to read). The poll object is made once;
        for a plain socket the check is ``poll(0)`` itself, no Python frame."""
        fileno = stream.fileno() if isinstance(stream, socket.socket) else -1
        if fileno < 0:
            return lambda: True
        poll = select.poll()
        poll.register(fileno, select.POLLIN | select.POLLPRI)
        probe = poll.poll
        if isinstance(stream, ssl.SSLSocket):
            pending = stream.pending
            return lambda: bool(pending() or probe(0))
        return partial(probe, 0)  # a list of events: empty (falsy) when nothing is pending

    def wait_readable(self, streams: Sequence[Stream], timeout: Optional[float]) -> List[int]:
        """Wait on all ``streams`` at once with one ``poll`` (see :meth:`Transport.wait_readable`).

        A TLS socket whose SSL object already holds decrypted bytes is ready at once: poll only
        sees the kernel's buffer, which those bytes have already left.
        """
        ready: List[int] = []
        fds: Dict[int, int] = {}
        for index, stream in enumerate(streams):
            if isinstance(stream, ssl.SSLSocket) and stream.pending():
                ready.append(index)
                continue
            fileno = stream.fileno() if isinstance(stream, socket.socket) else -1
            if fileno < 0:
                ready.append(index)  # closed (or not a socket): reading reports it
                continue
            fds[fileno] = index
        if ready or not fds:
            return ready
        poller = select.poll()
        for fileno in fds:
            poller.register(fileno, select.POLLIN | select.POLLPRI)
        millis = None if timeout is None else max(0, math.ceil(timeout * 1000))
        events = poller.poll(millis)
        return sorted(fds[fileno] for fileno, _mask in events if fileno in fds)


#: The transport used when none is injected.
DEFAULT_TRANSPORT = TCPTransport()


def _remaining(deadline: Optional[float], now: float) -> Optional[float]:
    if deadline is None:
        return None
    left = deadline - now
    if left <= 0:
        raise socket.timeout("deadline reached")
    return left


def shutdown_stream(stream: Any) -> None:
    """Shut a socket down both ways before it is closed, so the server sees the close at once
    even while a forked child still holds a copy of the descriptor (close() alone ends only
    this process's copy: under a pre-forking server the connection would stay open on the
    server until every worker exits). A stream without ``shutdown`` (a test double) and a
    socket already gone are left alone."""
    shutdown = getattr(stream, "shutdown", None)
    if shutdown is None:
        return
    try:
        shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError):
        pass


def translate_error(exc: BaseException, address: Optional[NodeAddress],
                    doing: str = "talking to") -> ClusterCoreError:
    """Map an OSError/ssl error to a typed clustercore error naming the node (caller chains it)."""
    where = f"{doing} {address}" if address is not None else doing
    if isinstance(exc, ClusterCoreError):
        return exc
    if isinstance(exc, (socket.timeout, builtins.TimeoutError)) or (
            isinstance(exc, OSError) and exc.errno == errno.ETIMEDOUT):
        return TimeoutError(f"timeout {where}", node=address)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ConnectionError(
            f"TLS certificate verification failed {where}: {exc.verify_message or exc}",
            node=address)
    if isinstance(exc, ssl.SSLError):
        return ConnectionError(f"TLS error {where}: {exc}", node=address)
    if isinstance(exc, ConnectionRefusedError):
        return ConnectionError(f"connection refused {where}", node=address)
    if isinstance(exc, OSError):
        reason = os.strerror(exc.errno) if exc.errno else str(exc) or type(exc).__name__
        return ConnectionError(f"error {where}: {reason}", node=address)
    return ConnectionError(f"error {where}: {exc!r}", node=address)


_CERT_REQS = {
    "none": ssl.CERT_NONE,
    "optional": ssl.CERT_OPTIONAL,
    "required": ssl.CERT_REQUIRED,
}

_TLS_VERSIONS = {
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1_2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
    "TLSv1_3": ssl.TLSVersion.TLSv1_3,
}


def make_ssl_context(
    ssl_cert_reqs: Union[str, int, None] = "required",
    ssl_ca_certs: Optional[str] = None,
    ssl_certfile: Optional[str] = None,
    ssl_keyfile: Optional[str] = None,
    ssl_password: Optional[str] = None,
    ssl_check_hostname: bool = False,
    ssl_min_version: Union[str, Any, None] = None,
    ssl_ciphers: Optional[str] = None,
    ssl_ca_data: Optional[str] = None,
) -> ssl.SSLContext:
    """Build a client TLS context from redis-py-cluster's ``ssl_*`` keyword arguments.

    ``ssl_cert_reqs`` takes "none" / "optional" / "required" or an ``ssl.CERT_*`` value.
    Bad values raise DataError before any connection is tried.
    """
    if ssl_cert_reqs is None:
        cert_reqs = ssl.CERT_NONE
    elif isinstance(ssl_cert_reqs, str):
        try:
            cert_reqs = _CERT_REQS[ssl_cert_reqs.lower()]
        except KeyError:
            raise DataError(f"invalid ssl_cert_reqs {ssl_cert_reqs!r}: "
                            "use 'none', 'optional' or 'required'") from None
    else:
        cert_reqs = ssl.VerifyMode(ssl_cert_reqs)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = bool(ssl_check_hostname) and cert_reqs != ssl.CERT_NONE
    context.verify_mode = cert_reqs
    if ssl_ca_certs or ssl_ca_data:
        context.load_verify_locations(cafile=ssl_ca_certs, cadata=ssl_ca_data)
    elif cert_reqs != ssl.CERT_NONE:
        context.load_default_certs()
    if ssl_certfile:
        context.load_cert_chain(ssl_certfile, ssl_keyfile, ssl_password)
    if ssl_min_version is not None:
        if isinstance(ssl_min_version, str):
            try:
                context.minimum_version = _TLS_VERSIONS[ssl_min_version]
            except KeyError:
                raise DataError(f"invalid ssl_min_version {ssl_min_version!r}") from None
        else:
            context.minimum_version = ssl_min_version
    if ssl_ciphers:
        context.set_ciphers(ssl_ciphers)
    return context
