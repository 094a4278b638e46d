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
node (:func:`translate_error`); a certificate the handshake refused is a TLSVerificationError
naming the name it had to match, with the ssl error as its cause.

Which name a node's certificate must match is :class:`TLSPolicy`'s decision (docs/security.md,
"TLS verification policy"): made once per connection, before dialling.
"""

from __future__ import annotations

import builtins
import errno
import ipaddress
import math
import os
import select
import socket
import ssl
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from functools import partial
from time import monotonic
from typing import (
    AbstractSet,
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Tuple,
    Union,
)

from .._address import NodeAddress
from ..errors import (
    ClusterCoreError,
    ConnectionError,
    DataError,
    TimeoutError,
    TLSVerificationError,
)

__all__ = [
    "DEFAULT_TRANSPORT",
    "VERIFY_DISCOVERED",
    "NodeHostnames",
    "Stream",
    "TCPTransport",
    "TLSPolicy",
    "TLSTarget",
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
            except ssl.SSLCertVerificationError as exc:
                sock.close()  # the same certificate answers on every address: stop here
                assert options.ssl_context is not None
                raise verification_error(exc, address, hostname,
                                         options.ssl_context.check_hostname) from exc
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
        return TLSVerificationError(
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
    ssl_check_hostname: Optional[bool] = None,
    ssl_min_version: Union[str, Any, None] = None,
    ssl_ciphers: Optional[str] = None,
    ssl_ca_data: Optional[str] = None,
) -> ssl.SSLContext:
    """Build a client TLS context from redis-py-cluster's ``ssl_*`` keyword arguments.

    ``ssl_cert_reqs`` takes "none" / "optional" / "required" or an ``ssl.CERT_*`` value.
    ``ssl_check_hostname`` (None: the default) checks the certificate's name whenever the
    certificate is verified at all; False turns the name check off (CA-only verification),
    True with ``ssl_cert_reqs="none"`` is a contradiction and refused. With neither
    ``ssl_ca_certs`` nor ``ssl_ca_data`` the system trust store is loaded. Bad values raise
    DataError before any connection is tried.
    """
    cert_reqs = _cert_reqs(ssl_cert_reqs)
    if ssl_check_hostname is not None and not isinstance(ssl_check_hostname, bool):
        raise DataError(f"ssl_check_hostname must be True, False or None; got "
                        f"{ssl_check_hostname!r}")
    if ssl_check_hostname and cert_reqs == ssl.CERT_NONE:
        raise DataError("ssl_check_hostname=True needs a verified certificate; it cannot be "
                        f"combined with ssl_cert_reqs={ssl_cert_reqs!r}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = cert_reqs != ssl.CERT_NONE and ssl_check_hostname is not False
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


def _cert_reqs(ssl_cert_reqs: Union[str, int, None]) -> ssl.VerifyMode:
    if ssl_cert_reqs is None:
        return ssl.CERT_NONE
    if isinstance(ssl_cert_reqs, str):
        try:
            return _CERT_REQS[ssl_cert_reqs.lower()]
        except KeyError:
            raise DataError(f"invalid ssl_cert_reqs {ssl_cert_reqs!r}: "
                            "use 'none', 'optional' or 'required'") from None
    try:
        return ssl.VerifyMode(ssl_cert_reqs)
    except ValueError:
        raise DataError(f"invalid ssl_cert_reqs {ssl_cert_reqs!r}") from None


def verification_error(exc: ssl.SSLCertVerificationError, address: NodeAddress,
                       expected: Optional[str], name_checked: bool) -> TLSVerificationError:
    """The typed error for a certificate the handshake refused (the caller chains ``exc``)."""
    what = (f"expected name {expected!r}" if name_checked and expected
            else "CA-only verification, name not checked")
    return TLSVerificationError(
        f"TLS certificate verification failed for {address} ({what}): "
        f"{exc.verify_message or exc}",
        node=address, expected=expected if name_checked else None)


# --- which name a node's certificate must match -------------------------------------------------
#: ``ssl_verify_discovered`` values: what to do with a node the cluster announced by IP address
#: only when no name for it was given (see TLSPolicy).
VERIFY_DISCOVERED = ("auto", "ip", "ca-only")

#: ``ssl_node_hostnames``: ``{"host:port": name}`` or a callable ``(NodeAddress) -> name or None``.
NodeHostnames = Union[Mapping[Any, str], Callable[[NodeAddress], Optional[str]]]


@dataclass(frozen=True)
class TLSTarget:
    """How one node is dialled: the context, the name sent as SNI and the name its certificate
    must match (None: CA-only, or not verified at all); ``refusal`` set means "do not dial"."""

    context: ssl.SSLContext = field(compare=False)
    server_hostname: str
    expected: Optional[str]
    refusal: Optional[str] = None


class TLSPolicy:
    """Decides, per node, which name its certificate must match (docs/security.md).

    For node ``host:port``, first match wins:

    1. ``node_hostnames`` names it (a mapping keyed ``"host:port"``, or a callable);
    2. ``server_hostname`` (one name for every node: a shared or wildcard certificate, a TLS
       proxy);
    3. the hostname the node announced in CLUSTER SHARDS (``cluster-announce-hostname``),
       looked up through :meth:`follow_announced` (a pool binds its policy to its layout);
    4. ``host`` itself when it is a DNS name (the user gave it, or the cluster announced it as
       its endpoint) or an IP address the user gave as a startup node (``seed_hosts``);
    5. else the node is an IP address learned from the cluster, with no name known.
       ``verify_discovered``: "ip" verifies the IP against the certificate's IP SANs;
       "ca-only" only checks the chain; "auto" (default) is "ca-only" when a private CA was
       given (``ssl_ca_certs``/``ssl_ca_data``: only certificates it signed pass) and refuses
       to dial when the system trust store is in use (any publicly trusted certificate
       would pass CA-only).

    With the name check off (``ssl_check_hostname=False``) every node is CA-only; with
    ``ssl_cert_reqs="none"`` nothing is verified. A caller's own ``ssl_context`` is used as it
    is: its ``check_hostname`` decides, against the name rules 1-4 give, else the host.
    """

    def __init__(self, context: ssl.SSLContext, *, ca_only_context: Optional[ssl.SSLContext],
                 private_ca: bool, caller_context: bool = False,
                 server_hostname: Optional[str] = None,
                 node_hostnames: Optional[NodeHostnames] = None,
                 verify_discovered: str = "auto",
                 seed_hosts: AbstractSet[str] = frozenset()) -> None:
        if verify_discovered not in VERIFY_DISCOVERED:
            raise DataError(f"ssl_verify_discovered must be one of "
                            f"{', '.join(VERIFY_DISCOVERED)}; got {verify_discovered!r}")
        if server_hostname is not None and (not isinstance(server_hostname, str)
                                            or not server_hostname):
            raise DataError(f"ssl_server_hostname must be a non-empty str; got "
                            f"{server_hostname!r}")
        #: The context that checks names (or the only one, when names are not checked).
        self.context = context
        self.ca_only_context = ca_only_context
        self.private_ca = private_ca
        self.caller_context = caller_context
        self.server_hostname = server_hostname
        self.verify_discovered = verify_discovered
        self._names, self._name_of = _node_names(node_hostnames)
        self.seed_hosts = frozenset(_normal_host(h) for h in seed_hosts)
        #: address -> the hostname it announced (None: none known); see follow_announced.
        self.announced: Optional[Callable[[NodeAddress], Optional[str]]] = None

    def follow_announced(self, lookup: Callable[[NodeAddress], Optional[str]]) -> None:
        """Verify nodes against the hostnames ``lookup`` says they announced (rule 3). A pool
        calls this once, with a lookup into its current layout, on the policy it built."""
        self.announced = lookup

    @classmethod
    def build(cls, *, seed_hosts: Sequence[str] = (), ssl_context: Optional[ssl.SSLContext] = None,
              ssl_server_hostname: Optional[str] = None,
              ssl_node_hostnames: Optional[NodeHostnames] = None,
              ssl_verify_discovered: str = "auto", **context_options: Any) -> TLSPolicy:
        """The policy for redis-py-cluster's ``ssl_*`` keywords (see make_ssl_context) plus
        clustercore's three naming ones; ``ssl_context`` (the caller's) replaces the
        ``ssl_*`` context options, which must then not be given."""
        naming: Dict[str, Any] = dict(
            server_hostname=ssl_server_hostname, node_hostnames=ssl_node_hostnames,
            verify_discovered=ssl_verify_discovered, seed_hosts=frozenset(seed_hosts))
        if ssl_context is not None:
            given = sorted(k for k, v in context_options.items() if v is not None
                           and not (k == "ssl_cert_reqs" and v == "required"))
            if given:
                raise DataError(f"ssl_context is given, so {', '.join(given)} cannot apply: "
                                "set them on the context")
            return cls(ssl_context, ca_only_context=None, private_ca=False,
                       caller_context=True, **naming)
        context = make_ssl_context(**context_options)
        private_ca = bool(context_options.get("ssl_ca_certs") or
                          context_options.get("ssl_ca_data"))
        ca_only = None
        if context.check_hostname and (ssl_verify_discovered == "ca-only" or (
                ssl_verify_discovered == "auto" and private_ca)):
            ca_only = make_ssl_context(**{**context_options, "ssl_check_hostname": False})
        return cls(context, ca_only_context=ca_only, private_ca=private_ca, **naming)

    def with_seed_hosts(self, hosts: Sequence[str]) -> TLSPolicy:
        """The same policy with ``hosts`` counted as given by the user (rule 3)."""
        clone = object.__new__(TLSPolicy)
        clone.__dict__.update(self.__dict__)
        clone.seed_hosts = self.seed_hosts | {_normal_host(h) for h in hosts}
        return clone

    def name_for(self, address: NodeAddress) -> Optional[str]:
        """The name given for ``address`` (rules 1 and 2), else None."""
        name = None
        if self._names:
            name = self._names.get(address) or self._names.get(
                NodeAddress(_normal_host(address.host), address.port))
        if name is None and self._name_of is not None:
            name = self._name_of(address)
            if name is not None and (not isinstance(name, str) or not name):
                raise DataError(f"ssl_node_hostnames returned {name!r} for {address}; "
                                "expected a non-empty str or None")
        return name or self.server_hostname

    def target(self, address: NodeAddress) -> TLSTarget:
        """How to dial ``address`` (see the class docstring for the rules)."""
        name = self.name_for(address)
        if name is None and self.announced is not None:
            name = self.announced(address)
        host = address.host
        context = self.context
        if not context.check_hostname:  # names not checked: CA-only, or nothing verified
            return TLSTarget(context, name or host, None)
        if name is not None or self.caller_context:
            return TLSTarget(context, name or host, name or host)
        if not _is_ip(host) or _normal_host(host) in self.seed_hosts:
            return TLSTarget(context, host, host)
        mode = self.verify_discovered
        if mode == "ip":
            return TLSTarget(context, host, host)
        if self.ca_only_context is not None:  # "ca-only", or "auto" with a private CA
            return TLSTarget(self.ca_only_context, host, None)
        return TLSTarget(context, host, host, refusal=(
            f"not dialling {address}: the cluster announced it by IP address, no name to "
            "verify its certificate against is known, and CA-only verification against the "
            "system trust store would accept any publicly trusted certificate. Give "
            "ssl_server_hostname or ssl_node_hostnames, a private CA (ssl_ca_certs), "
            "ssl_verify_discovered='ip' when the certificates list the nodes' IP addresses, "
            "or (explicitly) ssl_verify_discovered='ca-only' (docs/security.md)"))

    def __repr__(self) -> str:
        checks = "names" if self.context.check_hostname else (
            "chain" if self.context.verify_mode != ssl.CERT_NONE else "nothing")
        return (f"<TLSPolicy verifies {checks}, discovered={self.verify_discovered}, "
                f"server_hostname={self.server_hostname!r}, seeds={sorted(self.seed_hosts)}>")


def _node_names(names: Optional[NodeHostnames],
                ) -> Tuple[Dict[NodeAddress, str], Optional[Callable[[NodeAddress], Optional[str]]]]:
    """``ssl_node_hostnames`` checked: (address -> name, callable); DataError names a bad entry."""
    if names is None:
        return {}, None
    if isinstance(names, MappingABC):
        table: Dict[NodeAddress, str] = {}
        for key, name in names.items():
            try:
                address = key if isinstance(key, NodeAddress) else (
                    NodeAddress(str(key[0]), int(key[1])) if isinstance(key, tuple)
                    else NodeAddress.parse(key) if isinstance(key, str) and ":" in key
                    else None)
            except (TypeError, ValueError, IndexError):
                address = None
            if address is None:
                raise DataError(f"ssl_node_hostnames key {key!r} is not a 'host:port' node")
            if not isinstance(name, str) or not name:
                raise DataError(f"ssl_node_hostnames[{key!r}] must be a non-empty str; got "
                                f"{name!r}")
            table[NodeAddress(_normal_host(address.host), address.port)] = name
            table[address] = name
        return table, None
    if callable(names):
        return {}, names
    raise DataError(f"ssl_node_hostnames must be a mapping or a callable; got {names!r}")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _normal_host(host: str) -> str:
    """IP addresses in their canonical spelling, names lower-cased (for comparing hosts)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host.lower()
