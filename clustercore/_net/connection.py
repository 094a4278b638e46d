"""One connection to one cluster node: connect + handshake under one deadline, send, read.

``ClusterConnection`` (TCP) and ``SSLClusterConnection`` (TLS) take redis-py-cluster's keyword
arguments. The handshake (HELLO or AUTH, CLIENT SETNAME, READONLY) is sent as one pipelined
write and its replies checked in order, all inside ``socket_connect_timeout``. A connection is
owned by one thread at a time (the pool hands it out); it has no lock of its own.

Errors: a failure while *writing* a single command means the server never got a complete
command; a failure after the write (while reading) sets ``request_sent = True`` on the raised
error, which the client uses for its "never silently re-send a write" rule. Any socket error or
timeout closes the connection: a late reply must never be read as the answer to the next command.

Wire trace: enable the logger ``clustercore.wire`` at level ``TRACE`` (5) and connections opened
after that log every write and read as a hex dump, with credentials redacted (see ``redact``:
AUTH, HELLO/MIGRATE AUTH, CONFIG SET of a password parameter, ACL SETUSER password rules; the
replies to CONFIG GET / ACL GETUSER / ACL LIST are logged by size only). When it is off, the
hot path pays one boolean test.

The I/O is in :class:`~.connection_core.ConnectionCore` (connection_core.py), compiled in the
optional mypyc build; ClusterConnection adds the constructor and this module is never compiled,
so its argument checks see the values exactly as given and SSLClusterConnection's
``super().__init__(..., **kwargs)`` stays interpreted (docs/compiled.md).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping, Optional, Union

from .._address import NodeAddress, coerce_port
from .._protocol.decoder import (
    DEFAULT_MAX_BULK_LENGTH,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_LINE_LENGTH,
)
from ..errors import DataError, RedisClusterConfigError, TLSVerificationError
from .connection_core import (
    TRACE,
    ConnectionCore,
    _always_pending,
    handshake_plan,
    wait_readable,
)
from .connection_core import wire_logger as wire_logger  # multiplex.py's trace
from .dial_limit import DIAL_LIMIT
from .transport import (
    DEFAULT_TRANSPORT,
    NodeHostnames,
    TLSPolicy,
    Transport,
    TransportOptions,
)
from .wiretrace import redact, secret_reply

if TYPE_CHECKING:
    import ssl

__all__ = [
    "DEFAULT_SOCKET_TIMEOUT",
    "DIAL_LIMIT",
    "TRACE",
    "ClusterConnection",
    "Connection",
    "SSLClusterConnection",
    "check_decoder_limits",
    "handshake_plan",
    "redact",
    "secret_reply",
    "wait_readable",
]


#: Seconds a socket read or write may wait by default (a connect too, unless
#: ``socket_connect_timeout`` is given). redis-py waits forever (None); a node that stops
#: answering (SIGSTOP, a dead host behind a firewall, a half-open TCP connection) would then hold
#: its callers until it woke. Jedis uses 2 s, go-redis 3 s. ``socket_timeout=None`` restores
#: redis-py's "no timeout" for the socket; the client's ``retry_deadline`` still bounds a call.
DEFAULT_SOCKET_TIMEOUT = 3.0


class ClusterConnection(ConnectionCore):
    """A TCP connection to one node; ``readonly=True`` sends READONLY once in the handshake.

    ``socket_timeout`` defaults to :data:`DEFAULT_SOCKET_TIMEOUT` (finite: nothing hangs)."""

    # The types of the values ConnectionCore keeps as given (it declares them Any, so that
    # compiled it stores what the caller passed, as the interpreted class does).
    host: str
    username: Optional[str]
    password: Optional[str]
    socket_timeout: Optional[float]
    socket_connect_timeout: Optional[float]
    encoding: str
    encoding_errors: str
    decode_responses: bool
    readonly: bool
    client_name: Optional[str]
    protocol: int
    health_check_interval: float
    parser: str

    def __init__(
        self,
        host: str = "localhost",
        port: Union[int, str] = 6379,
        *,
        username: Optional[str] = None,
        password: Optional[str] = None,
        db: int = 0,
        socket_timeout: Optional[float] = DEFAULT_SOCKET_TIMEOUT,
        socket_connect_timeout: Optional[float] = None,
        socket_keepalive: bool = False,
        socket_keepalive_options: Optional[Mapping[int, int]] = None,
        encoding: str = "utf-8",
        encoding_errors: str = "strict",
        decode_responses: bool = False,
        readonly: bool = False,
        client_name: Optional[str] = None,
        protocol: int = 2,
        health_check_interval: float = 0,
        parser: str = "auto",
        transport: Optional[Transport] = None,
        ssl_context: Optional[ssl.SSLContext] = None,
        server_hostname: Optional[str] = None,
        retry_on_timeout: bool = False,
        max_bulk_length: int = DEFAULT_MAX_BULK_LENGTH,
        max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        check_decoder_limits(max_bulk_length=max_bulk_length, max_line_length=max_line_length,
                             max_depth=max_depth)
        if db:
            raise DataError(f"Redis Cluster has only database 0; got db={db!r}")
        for name, seconds in (("socket_timeout", socket_timeout),
                              ("socket_connect_timeout", socket_connect_timeout)):
            # None: no timeout; 0 would make the socket non-blocking, a negative one fails
            # only at connect (the pools check these at construction, with their own error)
            if seconds is not None and (isinstance(seconds, bool) or not isinstance(
                    seconds, (int, float)) or not seconds > 0):
                raise DataError(f"{name} must be None or a number > 0, not {seconds!r}")
        if retry_on_timeout:
            # redis-py's Connection keyword. A connection never re-sends by itself here: the
            # client's retry policy decides, so the promise is refused, not silently dropped.
            raise DataError(
                "retry_on_timeout=True cannot be honoured by a single connection (it never "
                "re-sends on its own); pass retry_on_timeout to RedisCluster or to the pool, "
                "whose retry policy retries timed-out idempotent commands")
        if protocol not in (2, 3):
            raise DataError(f"protocol must be 2 or 3, not {protocol!r}")
        self.host = host
        self.port = coerce_port(port)
        self.address = NodeAddress(host, self.port)
        self.username = username
        self.password = password
        self.socket_timeout = socket_timeout
        self.socket_connect_timeout = (
            socket_connect_timeout if socket_connect_timeout is not None else socket_timeout)
        self.encoding = encoding
        self.encoding_errors = encoding_errors
        self.decode_responses = decode_responses
        self.readonly = readonly
        self.client_name = client_name
        self.protocol = protocol
        self.health_check_interval = health_check_interval
        self.parser = parser
        # The reply decoder's limits, one attribute (see the properties): CPython 3.11 keeps
        # at most 30 attributes in a class's shared-key layout, and one more moves every
        # instance to a plain dict, slowing each attribute read on the hot path by ~5%.
        self._limits = (max_bulk_length, max_line_length, max_depth)
        self._transport = transport or DEFAULT_TRANSPORT
        self._options = TransportOptions(
            keepalive=socket_keepalive, keepalive_options=socket_keepalive_options,
            ssl_context=ssl_context, server_hostname=server_hostname)
        self._sock = None
        self._decoder = None
        self._idle_check = _always_pending
        #: Whether a socket is open (it may still have been closed by the peer). A plain
        #: attribute, kept in step with the socket by connect()/disconnect(): pools read it
        #: on every checkout and release.
        self.is_connected = False
        self._trace = False
        #: Whether the replies being read answer a command whose reply may hold a credential
        #: (see secret_reply): the wire trace then logs their size only.
        self._trace_hide_reads = False
        #: Process that last connected this connection (redis-py's attribute; shown by repr).
        #: Pools never compare it: after a fork they drop every node pool, told by a counter
        #: that ``os.register_at_fork`` bumps.
        self.pid = os.getpid()
        #: Generation of the node pool this connection belongs to (set by the pool, which bumps
        #: its own on disconnect() or close(), so connections of an older one are not reused).
        self.generation = 0
        #: monotonic() time of the last command (or of connecting).
        self.last_used = 0.0
        #: Called with each RESP3 push message that arrives between replies.
        self.push_handler = None
        #: redis-py-cluster's node dict (``host``, ``port``, ``name``, ``server_type``), set by
        #: the cluster pool that made the connection; None for one made directly.
        self.node = None


def check_decoder_limits(**limits: Any) -> None:
    """RedisClusterConfigError naming the limit unless each is an int >= 1:
    ``max_bulk_length`` (longest bulk string; default 512 MiB, the server's
    proto-max-bulk-len), ``max_line_length`` (longest simple string, error, number or length
    line; default 64 KiB) and ``max_depth`` (deepest nesting of aggregates; default 64)."""
    for name, value in limits.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RedisClusterConfigError(
                f"{name} must be an int >= 1; got {value!r} of type {type(value).__name__}")



class SSLClusterConnection(ClusterConnection):
    """A TLS connection; takes redis-py-cluster's ``ssl_*`` arguments or a ready ``ssl_context``.

    The certificate's name is checked by default (``ssl_check_hostname=False`` turns that off).
    Which name a node's certificate must match is the :class:`TLSPolicy`'s decision
    (docs/security.md): ``ssl_node_hostnames`` (``{"host:port": name}`` or a callable),
    ``ssl_server_hostname`` (one name for every node), else the host itself when it is a DNS
    name or a host the user gave; an IP address learned from the cluster follows
    ``ssl_verify_discovered`` ("auto", "ip", "ca-only"). A connection made directly counts its
    own host as given by the user; a pool passes its one ``ssl_policy`` (which then replaces
    the other ``ssl_*`` arguments), knowing the startup nodes.
    """

    def __init__(
        self,
        host: str = "localhost",
        port: Union[int, str] = 6379,
        *,
        ssl_cert_reqs: Union[str, int, None] = "required",
        ssl_ca_certs: Optional[str] = None,
        ssl_ca_data: Optional[str] = None,
        ssl_certfile: Optional[str] = None,
        ssl_keyfile: Optional[str] = None,
        ssl_password: Optional[str] = None,
        ssl_check_hostname: Optional[bool] = None,
        ssl_min_version: Any = None,
        ssl_ciphers: Optional[str] = None,
        ssl_context: Optional[ssl.SSLContext] = None,
        ssl_server_hostname: Optional[str] = None,
        ssl_node_hostnames: Optional[NodeHostnames] = None,
        ssl_verify_discovered: str = "auto",
        ssl_policy: Optional[TLSPolicy] = None,
        **kwargs: Any,
    ) -> None:
        # ClusterConnection's server_hostname means the same as ssl_server_hostname here.
        ssl_server_hostname = ssl_server_hostname or kwargs.pop("server_hostname", None)
        if ssl_policy is None:
            ssl_policy = TLSPolicy.build(
                seed_hosts=(host,), ssl_context=ssl_context, ssl_cert_reqs=ssl_cert_reqs,
                ssl_ca_certs=ssl_ca_certs, ssl_ca_data=ssl_ca_data, ssl_certfile=ssl_certfile,
                ssl_keyfile=ssl_keyfile, ssl_password=ssl_password,
                ssl_check_hostname=ssl_check_hostname, ssl_min_version=ssl_min_version,
                ssl_ciphers=ssl_ciphers, ssl_server_hostname=ssl_server_hostname,
                ssl_node_hostnames=ssl_node_hostnames,
                ssl_verify_discovered=ssl_verify_discovered)
        #: The pool's (or this connection's own) TLS naming policy.
        self.ssl_policy = ssl_policy
        #: What this connection verifies: the context, SNI name, expected name (or refusal).
        self.tls_target = target = ssl_policy.target(NodeAddress(host, coerce_port(port)))
        super().__init__(host, port, ssl_context=target.context,
                         server_hostname=target.server_hostname, **kwargs)

    def connect(self) -> None:
        """Connect as ClusterConnection does, unless the TLS policy refused this node: then
        TLSVerificationError (nothing is dialled; see ``tls_target.refusal``)."""
        refusal = self.tls_target.refusal
        if refusal is not None and not self.is_connected:
            raise TLSVerificationError(refusal, node=self.address)
        super().connect()



#: redis-py's name for a plain connection.
Connection = ClusterConnection
