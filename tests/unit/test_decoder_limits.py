"""The reply decoder's limits as connection options (issue 14, security item 4).

``max_bulk_length`` (default 512 MiB), ``max_line_length`` (64 KiB) and ``max_depth`` (64)
are ClusterConnection keywords, passed through the pools, RedisCluster and URLs, and enforced
on both decoders: a reply that breaks one raises ProtocolError naming the limit and the size,
and the connection is closed (never reused). The pure-Python decoder checks as it parses;
hiredis cannot be told the limits, so HiredisDecoder checks the depth of the aggregates it
built and, while a reply spans several reads, StreamGuard works out what hiredis waits on
from the bytes the connection recorded (see clustercore/_protocol/limits.py).

Real sockets against a scripted loopback server for the connection tests; the decoders fed
directly (as the connection feeds them) for the properties: no legitimate stream is ever
refused, whatever its chunking, and an over-long line or an over-size bulk always is.
"""

from __future__ import annotations

import random
import socket
import threading
from typing import Any, List, Optional, Sequence, Tuple

import pytest

from clustercore import ClusterConnectionPool, RedisCluster
from clustercore._net.connection import ClusterConnection
from clustercore._protocol.decoder import NEED_DATA, PythonDecoder
from clustercore._protocol.parser import make_decoder
from clustercore.errors import ProtocolError, RedisClusterConfigError
from clustercore.testing import FakeCluster

PARSERS = ["python", "hiredis"]
LIMITS = ("max_bulk_length", "max_line_length", "max_depth")


# --- a scripted loopback server ---------------------------------------------------------------
class ScriptedServer:
    """Listens on 127.0.0.1; answers each command read with the next canned reply (sent in
    pieces), on whichever connection asks; a client that closes mid-reply ends that socket."""

    def __init__(self, replies: Sequence[bytes], piece: int = 65536) -> None:
        self._replies = list(replies)
        self._piece = piece
        self._lock = threading.Lock()
        self._stopped = False
        self._current: Optional[socket.socket] = None
        self.accepted = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(10.0)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _next(self) -> Optional[bytes]:
        with self._lock:
            return self._replies.pop(0) if self._replies else None

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._stopped:
                    conn.close()
                    return
                self.accepted += 1
                self._current = conn
            with conn:
                conn.settimeout(10.0)
                while not self._stopped:
                    try:
                        if not conn.recv(65536):
                            break
                    except OSError:
                        break
                    reply = self._next()
                    if reply is None:
                        return
                    try:
                        for at in range(0, len(reply), self._piece):
                            conn.sendall(reply[at:at + self._piece])
                    except OSError:
                        break

    def close(self) -> None:
        """Stop: wake a blocked recv (shut its socket down) or accept (connect once)."""
        with self._lock:
            self._stopped = True
            current = self._current
        if current is not None:
            try:
                current.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1.0).close()
        except OSError:
            pass
        self._thread.join(10.0)
        self._listener.close()
        assert not self._thread.is_alive()


@pytest.fixture
def serve() -> Any:
    servers: List[ScriptedServer] = []

    def start(*replies: bytes, piece: int = 65536) -> ScriptedServer:
        server = ScriptedServer(replies, piece)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def connect(server: ScriptedServer, parser: str, **limits: Any) -> ClusterConnection:
    return ClusterConnection("127.0.0.1", server.port, parser=parser, socket_timeout=10.0,
                             **limits)


def nested(depth: int) -> bytes:
    return b"*1\r\n" * depth + b":1\r\n"


# --- over the limits: refused, named, the connection closed -----------------------------------
@pytest.mark.parametrize("parser", PARSERS)
def test_a_long_line_without_crlf_is_refused_and_the_connection_closed(
        serve: Any, parser: str) -> None:
    server = serve(b"+" + b"a" * (4 << 20), b"+PONG\r\n")  # 4 MiB, never a CRLF
    conn = connect(server, parser)
    with pytest.raises(ProtocolError, match=r"line .*longer than max_line_length=65536"):
        conn.execute("GET", "k")
    assert not conn.is_connected  # discarded: a second command opens a new socket
    assert conn.execute("PING") == b"PONG"
    assert server.accepted == 2


@pytest.mark.parametrize("parser", PARSERS)
def test_a_huge_bulk_header_is_refused(serve: Any, parser: str) -> None:
    server = serve(b"$1099511627776\r\n" + b"x" * (1 << 20))  # declares 1 TiB
    conn = connect(server, parser)
    with pytest.raises(ProtocolError,
                       match="bulk length 1099511627776 is over max_bulk_length=536870912"):
        conn.execute("GET", "k")
    assert not conn.is_connected


@pytest.mark.parametrize("parser", PARSERS)
def test_a_bulk_over_a_configured_max_bulk_length_is_refused(serve: Any, parser: str) -> None:
    server = serve(b"$300000\r\n" + b"x" * 300000 + b"\r\n")
    conn = connect(server, parser, max_bulk_length=200000)
    with pytest.raises(ProtocolError, match="bulk length 300000 is over max_bulk_length=200000"):
        conn.execute("GET", "k")
    assert not conn.is_connected


@pytest.mark.parametrize("parser", PARSERS)
def test_deep_nesting_is_refused(serve: Any, parser: str) -> None:
    server = serve(nested(65), nested(11), b"+PONG\r\n")
    conn = connect(server, parser)
    with pytest.raises(ProtocolError, match="max_depth=64"):
        conn.execute("GET", "k")
    assert not conn.is_connected
    conn = connect(server, parser, max_depth=10)
    with pytest.raises(ProtocolError, match="max_depth=10"):
        conn.execute("GET", "k")
    assert not conn.is_connected


@pytest.mark.parametrize("parser", PARSERS)
def test_deep_nesting_is_refused_in_a_pipeline(serve: Any, parser: str) -> None:
    server = serve(b"+OK\r\n" + nested(5) + b"+OK\r\n")
    conn = connect(server, parser, max_depth=4)
    conn.send_commands([("SET", "a", "1"), ("GET", "b"), ("SET", "c", "1")])
    replies: List[Any] = []
    with pytest.raises(ProtocolError, match="max_depth=4"):
        conn.read_replies(3, replies)
    assert replies == [b"OK"]
    assert not conn.is_connected


# --- exactly at the limits: accepted -----------------------------------------------------------
@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("piece", [65536, 1000])
def test_exactly_at_the_limits_is_accepted(serve: Any, parser: str, piece: int) -> None:
    line = b"a" * 65536
    bulk = b"\r\n$9\r\n" * 50000  # 300000 bytes, full of CRLFs and would-be headers
    server = serve(b"+" + line + b"\r\n", b"$300000\r\n" + bulk + b"\r\n", nested(64),
                   b"-ERR " + line[5:] + b"\r\n", piece=piece)
    conn = connect(server, parser, max_bulk_length=300000)
    assert conn.execute("GET", "k") == line
    assert conn.execute("GET", "k") == bulk
    reply = conn.execute("GET", "k")
    for _ in range(64):
        reply = reply[0]
    assert reply == 1
    with pytest.raises(Exception, match="ERR") as info:
        conn.execute("GET", "k")
    assert not isinstance(info.value, ProtocolError)
    assert conn.is_connected


@pytest.mark.parametrize("parser", PARSERS)
def test_big_replies_within_the_limits_pass_in_pipelines(serve: Any, parser: str) -> None:
    big = b"y" * (3 << 20)
    replies = [b"$%d\r\n%s\r\n" % (len(big), big), b"+" + b"b" * 60000 + b"\r\n",
               b"*3\r\n$5\r\nhello\r\n:7\r\n*1\r\n$70000\r\n" + b"z" * 70000 + b"\r\n"] * 3
    server = serve(b"".join(replies), piece=4096)
    conn = connect(server, parser)
    conn.send_commands([("GET", str(i)) for i in range(9)])
    out: List[Any] = []
    conn.read_replies(9, out)
    assert out[0] == big and out[1] == b"b" * 60000
    assert out[2] == [b"hello", 7, [b"z" * 70000]]
    assert out[3:] == out[:3] * 2
    assert conn.is_connected


# --- the decoders fed as the connection feeds them ---------------------------------------------
def legit_item(rng: random.Random, max_line: int, max_bulk: int, depth: int = 0) -> bytes:
    """One reply within the limits, of the shapes that exercise the guard."""
    kind = rng.random()
    if kind < 0.25:
        return b"+" + b"s" * rng.choice([0, 5, max_line - 1, max_line]) + b"\r\n"
    if kind < 0.35:
        return b":%d\r\n" % rng.randint(-10**12, 10**12)
    if kind < 0.75:
        size = rng.choice([0, 3, 100, max_bulk // 3, max_bulk])
        filler = rng.choice([b"x", b"\r\n", b"\r\n$999999999\r\n", b"+", b"\r"])
        payload = (filler * (size // len(filler) + 1))[:size]
        return b"$%d\r\n%s\r\n" % (size, payload)
    if kind < 0.85 or depth > 4:
        return b"$-1\r\n"
    count = rng.randint(0, 4)
    return b"*%d\r\n" % count + b"".join(
        legit_item(rng, max_line, max_bulk, depth + 1) for _ in range(count))


def feed_like_a_connection(decoder: Any, stream: bytes, rng: random.Random,
                           max_piece: int = 65536) -> List[Any]:
    """Feed ``stream`` in random pieces (of at most ``max_piece`` bytes: hiredis does not
    measure an item that arrives whole in one read) as ClusterConnection's read loop does:
    gets() after each feed; on NEED_DATA, waiting() then the next piece, recorded with
    track()."""
    out: List[Any] = []
    at = 0
    while at < len(stream):
        piece = stream[at:at + min(rng.choice([1, 7, 500, 4096, 30000, 65536]), max_piece)]
        at += len(piece)
        decoder.feed(piece)
        decoder.track(piece)
        while True:
            reply = decoder.gets()
            if reply is NEED_DATA:
                decoder.waiting()
                break
            out.append(reply)
    return out


@pytest.mark.parametrize("parser", PARSERS)
def test_no_legitimate_stream_is_refused_whatever_its_chunking(parser: str) -> None:
    rng = random.Random(14)
    max_line, max_bulk = 3000, 200000
    for _ in range(150):
        stream = b"".join(legit_item(rng, max_line, max_bulk)
                          for _ in range(rng.randint(1, 12)))
        expected = feed_like_a_connection(PythonDecoder(), stream, random.Random(0))
        decoder = make_decoder(parser, max_line_length=max_line, max_bulk_length=max_bulk)
        assert feed_like_a_connection(decoder, stream, rng) == expected


@pytest.mark.parametrize("parser", PARSERS)
def test_an_over_long_line_is_always_refused_soon(parser: str) -> None:
    rng = random.Random(4)
    max_line, max_bulk = 3000, 200000
    for _ in range(150):
        prefix = b"".join(legit_item(rng, max_line, max_bulk) for _ in range(rng.randint(0, 6)))
        inner = b"*2\r\n:1\r\n" if rng.random() < 0.3 else b""
        line = rng.choice([b"+", b"-", b":", b"$", b"*"]) + b"7" * (max_line + 200000)
        decoder = make_decoder(parser, max_line_length=max_line, max_bulk_length=max_bulk)
        with pytest.raises(ProtocolError, match="max_line_length=3000") as info:
            feed_like_a_connection(decoder, prefix + inner + line, rng, max_piece=8192)
        # refused before hiredis held more than the limit plus one read and its slack
        assert "holds" not in str(info.value)


@pytest.mark.parametrize("parser", PARSERS)
def test_an_over_size_bulk_is_always_refused(parser: str) -> None:
    rng = random.Random(5)
    for _ in range(100):
        prefix = b"".join(legit_item(rng, 3000, 20000) for _ in range(rng.randint(0, 6)))
        size = rng.choice([20001, 10**6, 10**15])
        decoder = make_decoder(parser, max_line_length=3000, max_bulk_length=20000)
        stream = prefix + b"$%d\r\n" % size + b"q" * 100000
        with pytest.raises(ProtocolError, match=f"bulk length {size} is over "
                                                "max_bulk_length=20000"):
            feed_like_a_connection(decoder, stream, rng, max_piece=8192)


def test_what_the_guard_relies_on_in_hiredis() -> None:
    """After a gets() that returned "not enough data", hiredis's len() is the incomplete
    item's size (the pure decoder's exact buffered()) minus its type byte, plus at most
    1022 parsed bytes; has_data() is false only when at most that type byte is pending."""
    hiredis = pytest.importorskip("hiredis")
    rng = random.Random(7)
    seen = set()
    for _ in range(600):
        stream = b"".join(legit_item(rng, 300, 3000) for _ in range(rng.randint(1, 30)))
        stream += rng.choice([b"+abc", b"$5000\r\nyy", b"*3\r\n:1\r\n$", b"$"])
        reader, pure = hiredis.Reader(), PythonDecoder()
        at = 0
        while at < len(stream):
            piece = stream[at:at + rng.randint(1, 3000)]
            at += len(piece)
            reader.feed(piece)
            pure.feed(piece)
            while reader.gets() is not False:
                pass
            while pure.gets() is not NEED_DATA:
                pass
            pending = pure.buffered()
            if pending:
                assert -1 <= reader.len() - pending <= 1022
                seen.add(reader.len() - pending)
                assert reader.has_data() or pending == 1
            else:
                assert not reader.has_data()
    assert -1 in seen and max(seen) > 900  # both ends of the range occur


# --- plumbing: keywords, pools, RedisCluster, URLs ---------------------------------------------
@pytest.mark.parametrize("name", LIMITS)
@pytest.mark.parametrize("value", [0, -5, "10", 1.5, True, None])
def test_bad_limits_are_refused_naming_them(name: str, value: Any) -> None:
    with pytest.raises(RedisClusterConfigError, match=f"{name} must be an int >= 1; got"):
        ClusterConnection("127.0.0.1", 7100, **{name: value})
    fake = FakeCluster(masters=1, replicas=0)
    with pytest.raises(RedisClusterConfigError, match=f"{name} must be an int >= 1; got"):
        ClusterConnectionPool(startup_nodes=fake.startup_nodes, transport=fake.network,
                              **{name: value})
    with pytest.raises(RedisClusterConfigError, match=f"{name} must be an int >= 1; got"):
        RedisCluster(startup_nodes=fake.startup_nodes, transport=fake.network,
                     **{name: value})


@pytest.mark.parametrize("name", LIMITS)
def test_url_limits_must_be_integers(name: str) -> None:
    with pytest.raises(RedisClusterConfigError, match=f"URL option {name}='big' is not a "
                                                      "valid integer"):
        RedisCluster.from_url(f"redis://127.0.0.1:7100?{name}=big")
    with pytest.raises(RedisClusterConfigError, match=f"URL option {name}='big' is not an "
                                                      "integer"):
        ClusterConnectionPool.from_url(f"redis://127.0.0.1:7100?{name}=big")
    with pytest.raises(RedisClusterConfigError, match=f"{name} must be an int >= 1; got 0"):
        RedisCluster.from_url(f"redis://127.0.0.1:7100?{name}=0")
    with pytest.raises(RedisClusterConfigError, match=f"{name} must be an int >= 1; got 0"):
        ClusterConnectionPool.from_url(f"redis://127.0.0.1:7100?{name}=0")


def limited_connections(connections: Sequence[Any]) -> List[Tuple[int, int, int]]:
    return [(c.max_bulk_length, c.max_line_length, c.max_depth) for c in connections]


@pytest.mark.parametrize("parser", PARSERS)
def test_limits_reach_every_connection_from_kwargs_and_urls(parser: str) -> None:
    fake = FakeCluster(masters=3, replicas=0)
    node = fake.primaries()[0].address
    url = (f"redis://{node.host}:{node.port}/0?max_bulk_length=100000&max_line_length=5000"
           f"&max_depth=9&parser={parser}")
    fast = {"transport": fake.network, "clock": fake.clock, "background_refresh": False}
    clients = [  # retries of the ProtocolError back off on the fake clock
        RedisCluster.from_url(url, sleep=fake.clock.advance, **fast),
        RedisCluster(startup_nodes=fake.startup_nodes, parser=parser, max_bulk_length=100000,
                     max_line_length=5000, max_depth=9, sleep=fake.clock.advance, **fast),
        RedisCluster(connection_pool=ClusterConnectionPool.from_url(url, **fast),
                     sleep=fake.clock.advance),
    ]
    for rc in clients:
        assert rc.connection_pool.connection_kwargs["max_depth"] == 9
        rc.set("small", "v")
        rc.set("big", "x" * 300000)
        assert rc.get("small") == b"v"
        pool = rc.connection_pool
        connections = [pool.get_connection_by_node(n) for n in fake.startup_nodes]
        assert set(limited_connections(connections)) == {(100000, 5000, 9)}
        for connection in connections:
            pool.release(connection)
        with pytest.raises(ProtocolError, match="max_bulk_length=100000"):
            rc.get("big")
        rc.close()
