"""Waiting on many connections at once: ``wait_readable(connections, timeout)`` of the
connection module (what pub/sub's get_message sleeps in), the transports' ``wait_readable`` it
hands the waiting to (the real TCP one: socket pairs, TLS bytes pending in the SSL object; the
in-process FakeNetwork: a condition variable its streams notify, never a polling loop), and
ClusterPubSub.get_message on top of it.

Cross-thread tests synchronise with Events only: ``SpyCondition`` (given to the FakeNetwork)
records when the waiter has really gone to sleep on the network's condition, and only then
does the other thread act.
"""

from __future__ import annotations

import importlib
import select
import socket
import ssl
import threading
from time import monotonic
from typing import Any, Iterator, List, Optional, Tuple

import pytest

from clustercore import ClusterPubSub, NodeAddress
from clustercore._net.connection import ClusterConnection, wait_readable
from clustercore._net.transport import TCPTransport, TransportOptions
from clustercore.errors import ConnectionError
from clustercore.testing import FakeCluster
from clustercore.testing.fake.net import FakeNetwork, FakeSession, FakeStream
from tests.unit.fakeclient import make_client
from tests.unit.test_pubsub import PubSubServer, drain, setup

#: Generous bounds: a prompt wakeup takes microseconds; these only catch "waited the timeout".
LONG = 30.0
PROMPT = 5.0
#: A pub/sub message as a server pushes it (RESP2).
MESSAGE = b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"


class SpyCondition(threading.Condition):
    """A Condition that tells the test when someone is waiting on it, and how often."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()
        self.waits = 0

    def wait(self, timeout: Optional[float] = None) -> bool:
        self.waits += 1
        self.waiting.set()
        return super().wait(timeout)


class Echo:
    """A fake server answering every command with +OK."""

    def handle(self, session: FakeSession, args: List[bytes]) -> Any:
        return b"OK"


def echo_network(count: int) -> Tuple[FakeNetwork, SpyCondition, List[NodeAddress]]:
    """A FakeNetwork waiting on a SpyCondition, with ``count`` Echo nodes."""
    spy = SpyCondition()
    net = FakeNetwork(condition=spy)
    addresses = [NodeAddress("node", 7000 + i) for i in range(count)]
    for address in addresses:
        net.add(address, Echo())
    return net, spy, addresses


def fake_streams(count: int = 2) -> Tuple[FakeNetwork, SpyCondition, List[FakeStream]]:
    net, spy, addresses = echo_network(count)
    return net, spy, [net.open(a, 1.0, TransportOptions()) for a in addresses]


def fake_connections(count: int = 3) -> Tuple[SpyCondition, List[ClusterConnection],
                                               List[FakeStream]]:
    """``count`` connected ClusterConnections on one network, and the server end of each."""
    net, spy, addresses = echo_network(count)
    conns = [ClusterConnection(a.host, a.port, transport=net, socket_timeout=1.0)
             for a in addresses]
    for conn in conns:
        conn.connect()
    return spy, conns, [net.connections_to(a)[0] for a in addresses]


def in_thread(target: Any) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


# --- wait_readable over connections ----------------------------------------------------------------
def test_connections_with_something_to_read_in_the_order_given() -> None:
    spy, conns, streams = fake_connections(3)
    assert wait_readable(conns, 0) == []
    streams[2].push(MESSAGE)
    streams[0].push(MESSAGE)
    assert wait_readable(conns, LONG) == [conns[0], conns[2]]
    assert wait_readable(conns[::-1], LONG) == [conns[2], conns[0]]
    assert spy.waits == 0  # something was ready: nobody slept
    assert conns[0].read_reply() == [b"message", b"ch", b"hi"]
    assert wait_readable(conns, 0) == [conns[2]]
    assert wait_readable([], LONG) == []  # nothing to wait on: at once


def test_sleeps_on_the_transport_until_a_message_arrives_from_another_thread() -> None:
    spy, conns, streams = fake_connections(3)
    slept: List[bool] = []

    def publisher() -> None:
        slept.append(spy.waiting.wait(LONG))  # the waiter is asleep on the network's condition
        streams[1].push(MESSAGE)

    thread = in_thread(publisher)
    start = monotonic()
    ready = wait_readable(conns, LONG)
    elapsed = monotonic() - start
    thread.join(LONG)
    assert ready == [conns[1]]
    assert slept == [True], "wait_readable never slept on the transport"
    assert elapsed < PROMPT
    assert spy.waits == 1  # woken by the push, not by re-checking on a timer


def test_returns_nothing_once_the_timeout_has_passed() -> None:
    spy, conns, _streams = fake_connections(2)
    start = monotonic()
    assert wait_readable(conns, 0.05) == []
    assert 0.05 <= monotonic() - start < PROMPT
    assert 1 <= spy.waits <= 2  # slept on the transport (a spurious wakeup at most), no loop


def test_a_reply_already_in_the_decoder_is_ready_without_waiting() -> None:
    """Two messages arrive in one read: after the first is parsed, the second sits in the
    decoder, where the transport cannot see it. wait_readable must not sleep on it."""
    spy, conns, streams = fake_connections(2)
    streams[1].push(MESSAGE + MESSAGE)
    assert conns[1].read_reply() == [b"message", b"ch", b"hi"]
    assert streams[1].pending_output() == 0  # the socket has nothing more ...
    start = monotonic()
    assert wait_readable(conns, LONG) == [conns[1]]  # ... but the connection has
    assert monotonic() - start < PROMPT
    assert spy.waits == 0
    assert conns[1].read_reply() == [b"message", b"ch", b"hi"]
    assert wait_readable(conns, 0) == []


def test_a_closed_or_dropped_connection_is_ready_and_reading_it_raises() -> None:
    """Pub/sub restores its subscriptions when reading raises, so a dead connection must come
    back from the wait at once rather than be slept on."""
    spy, conns, streams = fake_connections(3)
    streams[2].drop()      # closed by the server: EOF waits on the stream
    start = monotonic()
    assert wait_readable(conns, LONG) == [conns[2]]
    conns[0].disconnect()  # closed here (by close() in another thread, say): ready without
    assert wait_readable(conns, LONG) == [conns[0]]  # asking the transport about the others
    assert monotonic() - start < PROMPT
    assert spy.waits == 0
    for conn in (conns[0], conns[2]):
        with pytest.raises(ConnectionError):
            conn.read_reply()
    assert wait_readable(conns, 0) == [conns[0], conns[2]]  # both closed now


def test_connections_of_two_transports_are_each_looked_at() -> None:
    """Streams of different transports cannot be waited on together: each transport is asked
    without waiting, then only the first one is waited on."""
    spy_a, (a,), _ = fake_connections(1)
    spy_b, (b,), (stream_b,) = fake_connections(1)
    stream_b.push(MESSAGE)
    start = monotonic()
    assert wait_readable([a, b], LONG) == [b]
    assert monotonic() - start < PROMPT
    assert b.read_reply() == [b"message", b"ch", b"hi"]
    assert wait_readable([a, b], 0) == []
    assert spy_a.waits == spy_b.waits == 0  # timeout 0: looked, never slept
    assert wait_readable([a, b], 0.05) == []
    assert spy_a.waits >= 1 and spy_b.waits == 0


# --- FakeNetwork ---------------------------------------------------------------------------------
def test_fake_wait_wakes_when_bytes_are_pushed_from_another_thread() -> None:
    net, spy, streams = fake_streams(3)
    slept: List[bool] = []

    def publisher() -> None:
        slept.append(spy.waiting.wait(LONG))  # the waiter is asleep on the condition
        streams[1].push(b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n")

    thread = in_thread(publisher)
    start = monotonic()
    assert net.wait_readable(streams, LONG) == [1]
    elapsed = monotonic() - start
    thread.join(LONG)
    assert slept == [True], "wait_readable never slept on the network's condition"
    assert elapsed < PROMPT
    assert spy.waits == 1  # woken by the notification, not by re-checking on a timer
    assert streams[1].recv(1024).startswith(b"*3\r\n$7\r\nmessage")


def test_fake_wait_returns_empty_after_the_timeout() -> None:
    net, spy, streams = fake_streams(2)
    start = monotonic()
    assert net.wait_readable(streams, 0.05) == []
    elapsed = monotonic() - start
    assert 0.05 <= elapsed < PROMPT
    assert spy.waits <= 2  # slept on the condition (a spurious wakeup at most), no loop
    start = monotonic()
    assert net.wait_readable(streams, 0) == []
    assert net.wait_readable(streams, -1.0) == []
    assert monotonic() - start < PROMPT


def test_fake_wait_ready_states() -> None:
    net, _spy, streams = fake_streams(4)
    assert net.wait_readable(streams, 0) == []
    streams[0].sendall(b"*1\r\n$4\r\nPING\r\n")  # a reply is waiting
    streams[2].drop()                             # EOF is waiting
    assert net.wait_readable(streams, None) == [0, 2]
    assert streams[0].recv(1024) == b"$2\r\nOK\r\n"
    assert net.wait_readable(streams, 0) == [2]
    streams[3].close()                            # reading a closed stream raises: ready
    assert net.wait_readable(streams, 0) == [2, 3]
    other, _, foreign = fake_streams(1)
    assert net.wait_readable([streams[1], foreign[0]], 0) == [1]  # not this network's: ready
    assert other.wait_readable([streams[1]], 0) == [0]
    assert net.wait_readable([], 0) == []


def test_fake_wait_wakes_when_the_server_closes_or_the_client_closes() -> None:
    for action in ("drop", "server-eof", "close"):
        net, spy, streams = fake_streams(2)

        def closer(action: str = action, spy: SpyCondition = spy,
                   stream: FakeStream = streams[1]) -> None:
            if spy.waiting.wait(LONG):
                if action == "drop":
                    stream.drop()
                elif action == "server-eof":
                    stream.closed_by_server = True
                else:
                    stream.close()

        thread = in_thread(closer)
        start = monotonic()
        assert net.wait_readable(streams, LONG) == [1], action
        assert monotonic() - start < PROMPT, action
        thread.join(LONG)


def test_fake_push_and_recv_in_two_threads_lose_no_bytes() -> None:
    net, _spy, streams = fake_streams(1)
    stream = streams[0]
    chunks = [b"%06d|" % i for i in range(3000)]
    expected = b"".join(chunks)

    def pusher() -> None:
        for chunk in chunks:
            stream.push(chunk)

    thread = in_thread(pusher)
    got = bytearray()
    deadline = monotonic() + LONG
    while len(got) < len(expected) and monotonic() < deadline:
        if net.wait_readable([stream], 1.0):
            got += stream.recv(5)
    thread.join(LONG)
    assert bytes(got) == expected


def test_fake_push_after_either_end_closed_is_lost() -> None:
    _net, _spy, streams = fake_streams(2)
    streams[0].drop()
    streams[0].push(b"+late\r\n")
    assert streams[0].recv(1024) == b""
    streams[1].close()
    streams[1].push(b"+late\r\n")
    assert streams[1].pending_output() == 0


# --- TCPTransport ----------------------------------------------------------------------------------
@pytest.fixture
def pairs() -> Iterator[List[Tuple[socket.socket, socket.socket]]]:
    made = [socket.socketpair() for _ in range(3)]
    yield made
    for a, b in made:
        a.close()
        b.close()


def test_tcp_wait_times_out_then_sees_data_and_eof(
        pairs: List[Tuple[socket.socket, socket.socket]]) -> None:
    transport = TCPTransport()
    clients = [a for a, _b in pairs]
    start = monotonic()
    assert transport.wait_readable(clients, 0.05) == []
    assert 0.04 <= monotonic() - start < PROMPT
    assert transport.wait_readable(clients, 0) == []
    pairs[2][1].sendall(b"+PONG\r\n")
    assert transport.wait_readable(clients, LONG) == [2]
    pairs[0][1].close()                                   # EOF
    assert transport.wait_readable(clients, LONG) == [0, 2]
    clients[1].close()                                    # closed here: fileno() is -1
    assert transport.wait_readable(clients, 0) == [1]


def test_tcp_wait_wakes_when_the_peer_writes_from_another_thread(
        pairs: List[Tuple[socket.socket, socket.socket]]) -> None:
    transport = TCPTransport()
    clients = [a for a, _b in pairs]
    go = threading.Event()

    def writer() -> None:
        go.wait(LONG)
        pairs[1][1].sendall(b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nd\r\n")

    thread = in_thread(writer)
    go.set()
    start = monotonic()
    assert transport.wait_readable(clients, LONG) == [1]
    assert monotonic() - start < PROMPT
    thread.join(LONG)


def test_tcp_wait_sees_tls_bytes_pending_in_the_ssl_object() -> None:
    """Bytes already decrypted into the SSL object are invisible to poll: ready at once."""
    trustme = importlib.import_module("trustme")  # dev dependency: fail, never skip
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    a, b = socket.socketpair()
    served: List[ssl.SSLSocket] = []

    def serve() -> None:
        tls = server_ctx.wrap_socket(b, server_side=True)
        tls.sendall(b"x" * 100)  # one TLS record
        served.append(tls)

    thread = in_thread(serve)
    client = client_ctx.wrap_socket(a, server_hostname="localhost")
    try:
        thread.join(LONG)
        assert client.recv(1) == b"x"  # decrypts the whole record, returns one byte
        assert client.pending() == 99
        poller = select.poll()
        poller.register(client.fileno(), select.POLLIN)
        assert poller.poll(0) == []    # the kernel buffer is empty: poll alone would wait
        start = monotonic()
        assert TCPTransport().wait_readable([client], LONG) == [0]
        assert monotonic() - start < PROMPT
    finally:
        client.close()
        for tls in served:
            tls.close()


# --- ClusterPubSub over the fake network ---------------------------------------------------------
def test_get_message_wakes_when_published_from_another_thread() -> None:
    spy = SpyCondition()
    fake = FakeCluster(network=FakeNetwork(condition=spy))
    PubSubServer(fake)
    rc, _sleeps = make_client(fake)
    ps = ClusterPubSub(rc, ignore_subscribe_messages=True)
    ps.subscribe("news")
    assert drain(ps) == []
    slept: List[bool] = []

    def publisher() -> None:
        slept.append(spy.waiting.wait(LONG))  # get_message is asleep in wait_readable
        rc.publish("news", "flash")

    spy.waiting.clear()
    thread = in_thread(publisher)
    start = monotonic()
    message = ps.get_message(timeout=LONG)
    elapsed = monotonic() - start
    thread.join(LONG)
    assert slept == [True]
    assert message is not None and message["data"] == b"flash", message
    assert elapsed < PROMPT
    ps.close()
    rc.close()


def test_get_message_timeout_waits_then_returns_none() -> None:
    _fake, _server, rc = setup()
    ps = ClusterPubSub(rc)
    ps.subscribe("quiet")
    drain(ps)
    start = monotonic()
    assert ps.get_message(timeout=0.1) is None
    assert 0.1 <= monotonic() - start < PROMPT
    rc.publish("quiet", "now")
    message = ps.get_message(timeout=LONG)
    assert message is not None and message["data"] == b"now"
    ps.close()
    rc.close()
