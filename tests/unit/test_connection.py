"""ClusterConnection against an in-process fake server: handshake order, errors, deadlines, trace."""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, List

import pytest

from clustercore import NodeAddress
from clustercore._net.connection import TRACE, ClusterConnection, handshake_plan, redact
from clustercore._protocol.decoder import NEED_DATA
from clustercore._protocol.reply_encoder import SimpleString
from clustercore.errors import (
    AuthenticationError,
    ConnectionError,
    DataError,
    MovedError,
    ResponseError,
    TimeoutError,
)
from clustercore.testing.fake.net import FakeNetwork, FakeSession

ADDR = NodeAddress("127.0.0.1", 7000)


class TinyServer:
    """Just enough of a Redis node for connection tests."""

    def __init__(self, password: str | None = None, users: Dict[str, str] | None = None,
                 refuse_readonly: bool = False) -> None:
        self.password = password
        self.users = users or {}
        self.refuse_readonly = refuse_readonly
        self.data: Dict[bytes, bytes] = {}

    def _auth(self, session: FakeSession, user: str, password: str) -> Any:
        expected = self.users.get(user) if user != "default" else self.password
        if expected is None or expected != password:
            return ResponseError("WRONGPASS invalid username-password pair or user is disabled.")
        session.authenticated_as = user
        return SimpleString(b"OK")

    def handle(self, session: FakeSession, args: List[bytes]) -> Any:
        name = args[0].upper()
        if name == b"HELLO":
            session.protocol = int(args[1])
            rest = [a.decode() for a in args[2:]]
            if "AUTH" in rest:
                i = rest.index("AUTH")
                reply = self._auth(session, rest[i + 1], rest[i + 2])
                if isinstance(reply, ResponseError):
                    session.protocol = 2
                    return reply
            if "SETNAME" in rest:
                session.name = rest[rest.index("SETNAME") + 1]
            return {b"server": b"redis", b"proto": session.protocol}
        if name == b"AUTH":
            if len(args) == 2:
                return self._auth(session, "default", args[1].decode())
            return self._auth(session, args[1].decode(), args[2].decode())
        needs_auth = self.password is not None or self.users
        if needs_auth and session.authenticated_as is None:
            return ResponseError("NOAUTH Authentication required.")
        if name == b"CLIENT" and args[1].upper() == b"SETNAME":
            session.name = args[2].decode()
            return SimpleString(b"OK")
        if name == b"READONLY":
            if self.refuse_readonly:
                return ResponseError("ERR This instance has cluster support disabled")
            session.readonly = True
            return SimpleString(b"OK")
        if name == b"PING":
            return SimpleString(b"PONG")
        if name == b"SET":
            self.data[args[1]] = args[2]
            return SimpleString(b"OK")
        if name == b"GET":
            return self.data.get(args[1])
        if name == b"MOVEME":
            return ResponseError("MOVED 42 127.0.0.1:7001")
        return ResponseError(f"ERR unknown command '{args[0].decode()}'")


def make(server: Any = None, **kwargs: Any) -> tuple[FakeNetwork, ClusterConnection]:
    net = FakeNetwork()
    net.add(ADDR, server or TinyServer())
    conn = ClusterConnection(ADDR.host, ADDR.port, transport=net, **kwargs)
    return net, conn


def sent_commands(net: FakeNetwork) -> List[List[bytes]]:
    return [cmd for stream in net.streams for cmd in stream.session.commands]


def test_handshake_order_resp2() -> None:
    net, conn = make(TinyServer(users={"alice": "pw"}), username="alice", password="pw",
                     client_name="web-1", readonly=True)
    conn.connect()
    assert sent_commands(net) == [
        [b"AUTH", b"alice", b"pw"], [b"CLIENT", b"SETNAME", b"web-1"], [b"READONLY"]]
    session = net.streams[0].session
    assert (session.authenticated_as, session.name, session.readonly) == ("alice", "web-1", True)


def test_handshake_order_resp3_folds_auth_and_setname_into_hello() -> None:
    net, conn = make(TinyServer(password="pw"), password="pw", client_name="n", readonly=True,
                     protocol=3)
    conn.connect()
    assert sent_commands(net) == [
        [b"HELLO", b"3", b"AUTH", b"default", b"pw", b"SETNAME", b"n"], [b"READONLY"]]
    assert conn.execute("PING") == b"PONG"


def test_no_handshake_when_nothing_to_say() -> None:
    net, conn = make()
    conn.connect()
    assert sent_commands(net) == []
    assert conn.execute("SET", "k", "v") == b"OK"
    assert conn.execute("GET", "k") == b"v"
    assert sent_commands(net) == [[b"SET", b"k", b"v"], [b"GET", b"k"]]


def test_handshake_plan_is_pure_and_ordered() -> None:
    assert handshake_plan() == []
    assert handshake_plan(password="p") == [("AUTH", "p")]
    assert handshake_plan(password="p", username="u", readonly=True) == [
        ("AUTH", "u", "p"), ("READONLY",)]
    assert handshake_plan(protocol=3) == [("HELLO", "3")]


def test_wrong_password_is_authentication_error_naming_node_and_closes() -> None:
    net, conn = make(TinyServer(password="right"), password="wrong")
    with pytest.raises(AuthenticationError) as info:
        conn.connect()
    assert info.value.node == ADDR
    assert "7000" in str(info.value)
    assert "wrong" not in str(info.value)
    assert not conn.is_connected
    assert net.streams == []  # the socket was closed


def test_missing_password_gives_noauth_as_authentication_error() -> None:
    _net, conn = make(TinyServer(password="right"), client_name="x")
    with pytest.raises(AuthenticationError):
        conn.connect()


def test_readonly_refused_is_connection_error() -> None:
    net, conn = make(TinyServer(refuse_readonly=True), readonly=True)
    with pytest.raises(ConnectionError) as info:
        conn.connect()
    assert "READONLY" in str(info.value)
    assert not isinstance(info.value, AuthenticationError)
    assert net.streams == []


def test_refused_connection_is_typed_and_names_node() -> None:
    net, conn = make()
    net.refuse(ADDR)
    with pytest.raises(ConnectionError) as info:
        conn.connect()
    assert info.value.node == ADDR
    assert "refused" in str(info.value)


def test_frozen_node_times_out_within_connect_deadline() -> None:
    net, conn = make(readonly=True, socket_connect_timeout=0.25, socket_timeout=5)
    net.freeze(ADDR)
    with pytest.raises(TimeoutError) as info:
        conn.connect()
    assert info.value.node == ADDR
    assert net.waited <= 0.25 + 1e-9  # only the connect deadline was spent, not socket_timeout
    assert net.streams == []


def test_error_reply_is_raised_with_node_and_mapped_class() -> None:
    _net, conn = make()
    with pytest.raises(MovedError) as info:
        conn.execute("MOVEME")
    assert (info.value.slot_id, info.value.host, info.value.port) == (42, "127.0.0.1", 7001)
    assert info.value.node == ADDR
    # the connection stays usable after an error reply
    assert conn.execute("PING") == b"PONG"


def test_read_reply_returns_error_as_value() -> None:
    _net, conn = make()
    conn.send_commands([("SET", "a", "1"), ("NOPE",), ("GET", "a")])
    replies = [conn.read_reply() for _ in range(3)]
    assert replies[0] == b"OK" and replies[2] == b"1"
    assert isinstance(replies[1], ResponseError) and replies[1].node == ADDR


def test_drop_after_write_marks_request_sent() -> None:
    net, conn = make()
    conn.connect()
    stream = net.streams[0]
    stream.cut_after = 0
    with pytest.raises(ConnectionError) as info:
        conn.execute("SET", "k", "v")
    assert info.value.request_sent is True
    assert not conn.is_connected


def test_write_to_dropped_connection_is_not_request_sent() -> None:
    net, conn = make()
    conn.connect()
    net.drop_connections(ADDR)
    assert conn.has_pending_input()  # EOF is waiting: a pool would discard it
    with pytest.raises(ConnectionError) as info:
        conn.execute("SET", "k", "v")
    assert info.value.request_sent is False


def test_reply_cut_half_way_is_connection_error() -> None:
    server = TinyServer()
    server.data[b"k"] = b"x" * 100
    net, conn = make(server)
    conn.connect()
    net.streams[0].cut_after = 20
    with pytest.raises(ConnectionError):
        conn.execute("GET", "k")
    assert not conn.is_connected


def test_health_check_pings_only_when_idle_and_reconnects() -> None:
    net, conn = make(health_check_interval=10)
    conn.connect()
    conn.check_health(now=conn.last_used + 5)
    assert sent_commands(net) == []
    net.drop_connections(ADDR)
    conn.check_health(now=conn.last_used + 11)
    assert conn.is_connected
    assert [b"PING"] in sent_commands(net)
    assert net.opened == 2



def test_send_packed_command_health_checks_an_idle_connection_unless_told_not_to() -> None:
    """redis-py's ``send_packed_command(command, check_health=True)``: a connection idle past
    ``health_check_interval`` is PINGed first (reconnected if that fails); False skips it."""
    net, conn = make(health_check_interval=10)
    conn.connect()
    conn.last_used -= 11  # idle past the interval (a public attribute the pool reads too)
    conn.send_packed_command(b"*1\r\n$4\r\nPING\r\n", check_health=False)
    assert conn.read_response() in (b"PONG", "PONG")
    assert sent_commands(net) == [[b"PING"]]  # only ours: no health check
    conn.last_used -= 11
    net.drop_connections(ADDR)
    conn.send_packed_command(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
    assert conn.read_response() is None
    assert net.opened == 2  # the health check's PING failed: reconnected before sending
    assert sent_commands(net)[-2:] == [[b"PING"], [b"GET", b"k"]]


def test_retry_on_timeout_true_is_refused_by_a_connection_false_accepted() -> None:
    """redis-py's Connection keyword: a connection never re-sends on its own, so True is a
    clear error pointing at the client or pool (whose policy honours it); False is the truth."""
    with pytest.raises(DataError, match="retry_on_timeout=True"):
        ClusterConnection("h", 1, retry_on_timeout=True)
    assert ClusterConnection("h", 1, retry_on_timeout=False).address == ("h", 1)

def test_db_other_than_zero_is_rejected() -> None:
    with pytest.raises(DataError):
        ClusterConnection("h", 1, db=1)


def test_repr_never_shows_password_and_pid_recorded() -> None:
    _net, conn = make(TinyServer(password="hunter2"), password="hunter2")
    conn.connect()
    assert "hunter2" not in repr(conn)
    assert conn.pid == os.getpid()
    assert "connected" in repr(conn)


def test_redact_hides_every_credential_form() -> None:
    assert redact(("AUTH", "pw")) == ("AUTH", b"<redacted>")
    assert redact(("AUTH", "u", "pw")) == ("AUTH", b"<redacted>", b"<redacted>")
    assert redact(("HELLO", "3", "AUTH", "u", "pw", "SETNAME", "n")) == (
        "HELLO", "3", "AUTH", b"<redacted>", b"<redacted>", "SETNAME", "n")
    assert redact(("MIGRATE", "h", "1", "", "0", "5", "AUTH", "pw", "KEYS", "a")) == (
        "MIGRATE", "h", "1", "", "0", "5", "AUTH", b"<redacted>", "KEYS", "a")
    assert redact(("MIGRATE", "h", "1", "", "0", "5", "AUTH2", "u", "pw", "KEYS", "a"))[7:9] == (
        b"<redacted>", b"<redacted>")
    assert redact(("GET", "AUTH")) == ("GET", "AUTH")


def test_wire_trace_logs_hex_and_redacts(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(TRACE, logger="clustercore.wire"):
        _net, conn = make(TinyServer(users={"alice": "s3cretpw"}), username="alice",
                          password="s3cretpw")
        conn.connect()
        conn.execute("SET", "greeting", "hello")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "WRITE" in text and "READ" in text
    assert "greeting" in text.replace("\n", "")  or "67 72 65 65" in text
    assert "s3cretpw" not in text
    assert "73 33 63 72 65 74 70 77" not in text  # the password's bytes in hex
    assert "<redacted>"[:5] in text or "3c 72 65 64" in text


def test_wire_trace_off_costs_nothing_visible(caplog: pytest.LogCaptureFixture) -> None:
    logging.getLogger("clustercore.wire").setLevel(logging.INFO)
    try:
        _net, conn = make()
        conn.connect()
        assert conn._trace is False
        conn.execute("PING")
        assert not [r for r in caplog.records if r.name == "clustercore.wire"]
    finally:
        logging.getLogger("clustercore.wire").setLevel(logging.NOTSET)


# --- reads racing a close() from another thread; pushes during undecoded reads ---------------------
def test_close_from_another_thread_mid_read_is_a_connection_error() -> None:
    """pub/sub's close() may land between "need more data" and the receive: the reader gets a
    ConnectionError (request_sent), never an AssertionError/AttributeError."""
    from clustercore.testing import FakeCluster
    fake = FakeCluster()
    address = fake.primaries()[0].address
    conn = ClusterConnection(address.host, address.port, transport=fake.network)
    conn.connect()
    conn.send_command("PING")
    class ClosingDecoder:
        """The real decoder, but "need more data" is followed by another thread's close()."""

        def __init__(self, decoder: Any) -> None:
            self.decoder = decoder

        def __getattr__(self, name: str) -> Any:
            return getattr(self.decoder, name)

        def gets(self, decode: bool = True) -> Any:
            reply = self.decoder.gets(decode)
            if reply is NEED_DATA:
                conn.disconnect()
            return reply

    conn._decoder = ClosingDecoder(conn._decoder)
    with pytest.raises(ConnectionError) as info:
        conn.read_reply()
    assert info.value.request_sent


def test_pushes_reach_the_handler_decoded_during_an_undecoded_read() -> None:
    from clustercore.testing import FakeCluster
    fake = FakeCluster()
    address = fake.primaries()[0].address
    conn = ClusterConnection(address.host, address.port, transport=fake.network, protocol=3,
                             decode_responses=True)
    seen: List[Any] = []
    conn.push_handler = seen.append
    conn.connect()
    stream = fake.network.connections_to(address)[-1]
    push = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
    for raw in (False, True):
        stream.push(push)
        assert conn.execute("PING", disable_decoding=raw) == ("PONG" if not raw else b"PONG")
    stream.push(push)
    conn.send_command("PING")
    assert conn.read_reply(disable_decoding=True) == b"PONG"
    assert seen == [["invalidate", ["k"]]] * 3


def test_a_decoder_failure_makes_the_connection_look_pending() -> None:
    """After a protocol error the decoder is unusable: has_pending_input() must say so even
    though the connection object still holds it (the pool then never reuses it)."""
    from clustercore.errors import ProtocolError
    from clustercore.testing import FakeCluster
    fake = FakeCluster()
    address = fake.primaries()[0].address
    for parser in ("python", "hiredis"):
        conn = ClusterConnection(address.host, address.port, transport=fake.network,
                                 parser=parser)
        conn.connect()
        assert not conn.has_pending_input()
        conn._decoder.feed(b"?garbage\r\n")
        with pytest.raises(ProtocolError):
            conn._decoder.gets()
        assert conn.has_pending_input()
        conn.disconnect()


def test_a_bad_encoding_closes_the_socket_it_opened() -> None:
    from clustercore.testing import FakeCluster
    fake = FakeCluster()
    address = fake.primaries()[0].address
    conn = ClusterConnection(address.host, address.port, transport=fake.network,
                             decode_responses=True, encoding="no-such-codec")
    with pytest.raises(LookupError):  # the codec registry's own error, as hiredis raises it
        conn.connect()
    assert not conn.is_connected
    assert fake.network.connections_to(address) == []  # the stream it opened was closed
