"""ClusterConnection / SSLClusterConnection against real redis-server processes."""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Iterator

import pytest

from clustercore import ClusterConnection, SSLClusterConnection
from clustercore._topology.parse import parse_cluster_slots
from clustercore.errors import (
    AuthenticationError,
    ConnectionError,
    MovedError,
    ReadOnlyError,
    TimeoutError,
)
from clustercore.testing import LocalCluster

from .conftest import ACL_PASSWORD, ACL_USER, AUTH_PASSWORD


def conn_to(node: object, **kwargs: object) -> ClusterConnection:
    host, port = node.address  # type: ignore[attr-defined]
    return ClusterConnection(host, port, socket_timeout=5, socket_connect_timeout=5, **kwargs)


def test_round_trip_and_moved(cluster: LocalCluster) -> None:
    owner = cluster.slot_owner(cluster.key_slot("greeting"))
    conn = conn_to(owner)
    try:
        assert conn.execute("SET", "greeting", "hello") == b"OK"
        assert conn.execute("GET", "greeting") == b"hello"
    finally:
        conn.disconnect()
    other = next(n for n in cluster.primaries() if n is not owner)
    conn = conn_to(other)
    try:
        with pytest.raises(MovedError) as info:
            conn.execute("GET", "greeting")
        assert info.value.port == owner.port
        assert info.value.node == other.address
    finally:
        conn.disconnect()


def test_cluster_slots_decoded(cluster: LocalCluster) -> None:
    node = cluster.primaries()[0]
    conn = conn_to(node)
    try:
        reply = conn.execute("CLUSTER", "SLOTS")
    finally:
        conn.disconnect()
    topology = parse_cluster_slots(reply, conn.address)
    assert topology.is_fully_covered
    assert sorted(topology.primaries) == sorted(n.address for n in cluster.primaries())
    assert sorted(topology.replicas) == sorted(n.address for n in cluster.replicas())


def test_readonly_on_replica_serves_reads(cluster: LocalCluster) -> None:
    primary = cluster.slot_owner(cluster.key_slot("ro-key"))
    writer = conn_to(primary)
    writer.execute("SET", "ro-key", "v1")
    writer.execute("WAIT", "1", "2000")
    writer.disconnect()
    replica = cluster.replicas_of(primary)[0]
    plain = conn_to(replica)
    with pytest.raises(MovedError):  # without READONLY a replica redirects to its primary
        plain.execute("GET", "ro-key")
    plain.disconnect()
    ro = conn_to(replica, readonly=True)
    try:
        assert ro.execute("GET", "ro-key") == b"v1"
        with pytest.raises((ReadOnlyError, MovedError)):
            ro.execute("SET", "ro-key", "nope")  # writes still refused on a replica
        # READONLY was sent once, in the handshake: the server shows the readonly flag
        info = ro.execute("CLIENT", "INFO").decode()
        assert "flags=r" in info
    finally:
        ro.disconnect()


def test_resp3_handshake_with_hello(cluster: LocalCluster) -> None:
    conn = conn_to(cluster.primaries()[0], protocol=3, client_name="cc-resp3")
    try:
        assert conn.execute("CLIENT", "GETNAME") == b"cc-resp3"
        assert "resp=3" in conn.execute("CLIENT", "INFO").decode()
    finally:
        conn.disconnect()


def test_auth_success_and_wrong_password(auth_cluster: LocalCluster) -> None:
    node = auth_cluster.primaries()[0]
    good = conn_to(node, password=AUTH_PASSWORD, client_name="cc-auth")
    assert good.execute("PING") == b"PONG"
    assert good.execute("CLIENT", "GETNAME") == b"cc-auth"
    good.disconnect()
    acl = conn_to(node, username=ACL_USER, password=ACL_PASSWORD)
    assert acl.execute("ACL", "WHOAMI") == ACL_USER.encode()
    acl.disconnect()
    for kwargs in ({"password": "wrong"}, {"username": ACL_USER, "password": "nope"},
                   {"protocol": 3, "password": "wrong"}):
        bad = conn_to(node, **kwargs)
        with pytest.raises(AuthenticationError) as info:
            bad.connect()
        assert info.value.node == node.address
        assert "wrong" not in str(info.value) and "nope" not in str(info.value)
        assert not bad.is_connected
    missing = conn_to(node, client_name="no-auth")
    with pytest.raises(AuthenticationError):
        missing.connect()


def test_tls_connect_and_handshake(tls_cluster: LocalCluster) -> None:
    node = tls_cluster.primaries()[0]
    host, port = node.address
    conn = SSLClusterConnection(host, port, ssl_ca_certs=str(tls_cluster.ca_cert_path),
                                ssl_cert_reqs="required", socket_timeout=5,
                                socket_connect_timeout=5, readonly=True)
    try:
        assert conn.execute("PING") == b"PONG"
    finally:
        conn.disconnect()
    with_client_cert = SSLClusterConnection(
        host, port, ssl_ca_certs=str(tls_cluster.ca_cert_path),
        ssl_certfile=str(tls_cluster.client_cert_path),
        ssl_keyfile=str(tls_cluster.client_key_path), ssl_check_hostname=True,
        socket_connect_timeout=5)
    assert with_client_cert.execute("PING") == b"PONG"
    with_client_cert.disconnect()


def test_tls_wrong_ca_fails_clearly(tls_cluster: LocalCluster, tmp_path: object) -> None:
    import trustme

    other_ca = trustme.CA()
    path = f"{tmp_path}/other-ca.pem"
    other_ca.cert_pem.write_to_path(path)
    host, port = tls_cluster.primaries()[0].address
    conn = SSLClusterConnection(host, port, ssl_ca_certs=path, socket_connect_timeout=5)
    with pytest.raises(ConnectionError) as info:
        conn.connect()
    assert "certificate verification failed" in str(info.value)
    assert info.value.node is not None and info.value.node.port == port


def test_plain_tcp_to_tls_port_fails_within_deadline(tls_cluster: LocalCluster) -> None:
    host, port = tls_cluster.primaries()[0].address
    conn = ClusterConnection(host, port, socket_connect_timeout=1, readonly=True)
    start = time.monotonic()
    with pytest.raises((ConnectionError, TimeoutError)):
        conn.connect()
    assert time.monotonic() - start < 3


@pytest.fixture
def silent_server() -> Iterator[tuple[str, int]]:
    """A loopback listener that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[:2]
    stop.set()
    thread.join(2)
    for s in accepted:
        s.close()
    listener.close()


def test_silent_node_hits_the_connect_deadline(silent_server: tuple[str, int]) -> None:
    host, port = silent_server
    # The handshake (AUTH + READONLY) never gets an answer: one deadline covers it all.
    conn = ClusterConnection(host, port, password="x", readonly=True,
                             socket_connect_timeout=0.3, socket_timeout=30)
    start = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        conn.connect()
    elapsed = time.monotonic() - start
    assert 0.25 <= elapsed < 1.5
    assert info.value.node is not None and info.value.node.port == port
    assert not conn.is_connected


def test_silent_tls_node_hits_the_connect_deadline(silent_server: tuple[str, int]) -> None:
    host, port = silent_server
    conn = SSLClusterConnection(host, port, ssl_cert_reqs="none", socket_connect_timeout=0.3,
                                socket_timeout=30)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        conn.connect()  # the TLS handshake itself never completes
    assert time.monotonic() - start < 1.5


def test_server_closing_connection_is_detected(cluster: LocalCluster) -> None:
    node = cluster.primaries()[0]
    conn = conn_to(node, client_name="victim")
    conn.execute("PING")
    killer = conn_to(node)
    killer.execute("CLIENT", "KILL", "SKIPME", "yes", "TYPE", "normal")
    killer.disconnect()
    deadline = time.monotonic() + 2
    while not conn.has_pending_input() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert conn.has_pending_input()  # EOF is visible before we try to reuse it
    with pytest.raises(ConnectionError):
        conn.execute("PING")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_disconnect_in_the_owner_closes_the_server_side_connection_despite_a_forked_copy(
        cluster: LocalCluster) -> None:
    """A forked child holds a copy of the parent's socket; the parent's disconnect() shuts the
    socket down, so the server drops the connection at once (close() alone would leave it open
    until the child exits), and the child's copy sees the end of the stream."""
    node = cluster.primaries()[0]
    conn = conn_to(node)
    conn.connect()
    client_id = conn.execute("CLIENT", "ID")
    observer = conn_to(node)
    go_read, done = os.pipe(), os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: wait for the parent's disconnect, then read the inherited copy
        code = 1
        try:
            os.read(go_read[0], 1)
            sock = socket.socket(fileno=os.dup(conn._sock.fileno()))  # type: ignore[union-attr]
            sock.settimeout(5)
            code = 0 if sock.recv(1) == b"" else 2  # end of stream, not a hang
            os.write(done[1], b"x")
        except BaseException:
            code = 3
        finally:
            os._exit(code)
    try:
        conn.disconnect()
        os.write(go_read[1], b"x")
        deadline = time.monotonic() + 5
        while str(client_id).encode() in observer.execute("CLIENT", "LIST", "ID", client_id):
            assert time.monotonic() < deadline, "the server still has the connection"
            time.sleep(0.02)  # a poll with a deadline
    finally:
        _, status = os.waitpid(pid, 0)
        observer.disconnect()
    assert os.waitstatus_to_exitcode(status) == 0
