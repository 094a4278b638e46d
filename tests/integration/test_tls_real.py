"""TLS name verification against real 3+3 TLS clusters (docs/security.md, issue 14 item 1).

Two clusters: the shared ``tls_cluster``, whose certificate lists 127.0.0.1, ::1 and localhost,
and one started here whose certificate names only ``redis.clustercore.test`` (no IP address),
so verifying a node by its IP address fails there. Every connection is counted by a transport
wrapper, to show that a refused certificate is not dialled again by a retry.
"""

from __future__ import annotations

import ssl
import threading
from collections import Counter
from typing import Iterator, List, Optional

import pytest

from clustercore import NodeAddress, RedisCluster, SSLClusterConnection
from clustercore._net.transport import TCPTransport, TransportOptions
from clustercore.errors import (
    REDIS_EXCEPTIONS_BRIDGED,
    ConnectionError,
    NodeFailingError,
    TLSVerificationError,
)
from clustercore.testing import LocalCluster

NAME = "redis.clustercore.test"


class CountingTransport(TCPTransport):
    """The real transport, counting the TLS streams it opens per node (thread-safe)."""

    def __init__(self) -> None:
        self.opens: Counter[NodeAddress] = Counter()
        self.names: List[Optional[str]] = []
        self._lock = threading.Lock()

    def open(self, address: NodeAddress, timeout: Optional[float],
             options: TransportOptions) -> object:  # type: ignore[override]
        with self._lock:
            self.opens[address] += 1
            self.names.append(options.server_hostname)
        return super().open(address, timeout, options)


@pytest.fixture(scope="module")
def named_cluster() -> Iterator[LocalCluster]:
    """3 primaries + 1 replica each over TLS; the certificate names only redis.clustercore.test."""
    c = LocalCluster(3, 1, node_timeout_ms=2000, tls=True, tls_server_names=(NAME,))
    c.start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def announcing_cluster() -> Iterator[LocalCluster]:
    """Like named_cluster, and every node announces redis.clustercore.test as its hostname
    (cluster-announce-hostname: CLUSTER SHARDS' ``hostname``; the endpoints stay IPs)."""
    c = LocalCluster(3, 1, node_timeout_ms=2000, tls=True, tls_server_names=(NAME,),
                     extra_config={"cluster-announce-hostname": NAME})
    c.start()
    yield c
    c.stop()


def client(cluster: LocalCluster, transport: CountingTransport, host: str = "127.0.0.1",
           **kwargs: object) -> RedisCluster:
    port = cluster.primaries()[0].port
    kwargs.setdefault("ssl_ca_certs", str(cluster.ca_cert_path))
    return RedisCluster(host=host, port=port, ssl=True, transport=transport,
                        socket_timeout=5, socket_connect_timeout=5, **kwargs)


def key_on(cluster: LocalCluster, node: NodeAddress) -> str:
    """A key whose slot the primary at ``node`` owns."""
    for i in range(10000):
        key = f"k{i}"
        if cluster.slot_owner(cluster.key_slot(key)).address == tuple(node):
            return key
    raise AssertionError(f"no key found for {node}")


def write_everywhere(rc: RedisCluster, cluster: LocalCluster) -> None:
    """SET + GET one key on each primary (so a connection to every primary is verified)."""
    for primary in cluster.primaries():
        key = key_on(cluster, NodeAddress(*primary.address))
        assert rc.set(key, "v") is True
        assert rc.get(key) == b"v"


def expected_names(rc: RedisCluster) -> dict[NodeAddress, Optional[str]]:
    """Node -> the name its pooled connections verified (None: CA-only)."""
    out: dict[NodeAddress, Optional[str]] = {}
    for node in rc.get_primaries():
        conn = rc.connection_pool.get_connection_by_node(
            {"host": node.host, "port": node.port})
        try:
            assert isinstance(conn, SSLClusterConnection)
            out[conn.address] = conn.tls_target.expected
        finally:
            rc.connection_pool.release(conn)
    return out


def test_seed_ip_is_verified_against_ip_san(tls_cluster: LocalCluster) -> None:
    transport = CountingTransport()
    rc = client(tls_cluster, transport)
    try:
        write_everywhere(rc, tls_cluster)
        # Every node shares the seed's host (127.0.0.1, given by the user): all verified by IP.
        assert set(expected_names(rc).values()) == {"127.0.0.1"}
    finally:
        rc.close()


def test_discovered_ips_are_ca_only_with_a_private_ca_and_ip_on_request(
        tls_cluster: LocalCluster) -> None:
    transport = CountingTransport()
    rc = client(tls_cluster, transport, host="localhost")  # announced as 127.0.0.1
    try:
        write_everywhere(rc, tls_cluster)
        assert set(expected_names(rc).values()) == {None}  # CA-only: the CA was given
    finally:
        rc.close()
    strict = client(tls_cluster, CountingTransport(), host="localhost",
                    ssl_verify_discovered="ip")
    try:
        write_everywhere(strict, tls_cluster)
        assert set(expected_names(strict).values()) == {"127.0.0.1"}
    finally:
        strict.close()


def test_a_cert_for_another_name_is_refused_once_with_its_cause(
        named_cluster: LocalCluster) -> None:
    transport = CountingTransport()
    seed = NodeAddress(*named_cluster.primaries()[0].address)
    with pytest.raises(TLSVerificationError) as info:
        client(named_cluster, transport)
    err = info.value
    assert isinstance(err, ConnectionError)
    assert isinstance(err.__cause__, ssl.SSLCertVerificationError)
    assert err.node == seed and err.expected == "127.0.0.1"
    assert "127.0.0.1" in str(err) and str(seed) in str(err)
    assert transport.opens == Counter({seed: 1})  # one seed, one attempt: not retried
    if REDIS_EXCEPTIONS_BRIDGED:
        import redis

        assert isinstance(err, redis.ConnectionError)


def test_a_refused_discovered_node_is_not_retried_and_keeps_its_cause(
        named_cluster: LocalCluster) -> None:
    transport = CountingTransport()
    seed = NodeAddress(*named_cluster.primaries()[0].address)
    # The seed is named; the other nodes are verified by IP, which their certificate lacks.
    rc = client(named_cluster, transport, ssl_node_hostnames={str(seed): NAME},
                ssl_verify_discovered="ip")
    try:
        other = NodeAddress(*named_cluster.primaries()[1].address)
        key = key_on(named_cluster, other)
        for attempt in (1, 2):
            with pytest.raises(TLSVerificationError) as info:
                rc.set(key, "v")
            err = info.value
            assert not isinstance(err, NodeFailingError)
            assert isinstance(err.__cause__, ssl.SSLCertVerificationError)
            assert err.node == other and err.expected == "127.0.0.1"
            assert transport.opens[other] == attempt  # one dial per command, no retry
            # A refused certificate is not a down node: no failure mark, which would turn
            # the next caller's error into a NodeFailingError without this cause.
            stats = {n.address: n for n in rc.connection_pool.stats().nodes}
            assert other in stats and not stats[other].failing
        assert rc.set(key_on(named_cluster, seed), "v") is True  # the seed still works
        # A command sent to every primary: each refused node is dialled once, not resent.
        before = Counter(transport.opens)
        with pytest.raises(TLSVerificationError):
            rc.dbsize()
        others = [NodeAddress(*n.address) for n in named_cluster.primaries()[1:]]
        assert {a: transport.opens[a] - before[a] for a in others} == dict.fromkeys(others, 1)
    finally:
        rc.close()


@pytest.mark.parametrize("how", ["server_hostname", "map", "callable"])
def test_names_given_for_the_nodes_verify_every_node(named_cluster: LocalCluster,
                                                     how: str) -> None:
    transport = CountingTransport()
    options: dict[str, object] = {
        "server_hostname": {"ssl_server_hostname": NAME},
        "map": {"ssl_node_hostnames": {f"{n.host}:{n.port}": NAME for n in named_cluster.nodes}},
        "callable": {"ssl_node_hostnames": lambda address: NAME},
    }[how]
    rc = client(named_cluster, transport, **options)
    try:
        write_everywhere(rc, named_cluster)
        assert set(expected_names(rc).values()) == {NAME}
        assert set(transport.names) == {NAME}  # sent as SNI too
    finally:
        rc.close()


def test_opt_outs(named_cluster: LocalCluster) -> None:
    # No name check at all: the chain must still be signed by the given CA.
    rc = client(named_cluster, CountingTransport(), ssl_check_hostname=False)
    try:
        write_everywhere(rc, named_cluster)
        assert set(expected_names(rc).values()) == {None}
    finally:
        rc.close()
    # The seed (given as "localhost") named; the nodes announced as 127.0.0.1, CA-only,
    # explicitly (with a private CA given, "auto" would decide the same).
    seed = named_cluster.primaries()[0]
    transport = CountingTransport()
    rc = client(named_cluster, transport, host="localhost",
                ssl_node_hostnames={f"localhost:{seed.port}": NAME},
                ssl_verify_discovered="ca-only")
    try:
        write_everywhere(rc, named_cluster)
        assert set(expected_names(rc).values()) == {None}
        assert transport.opens[NodeAddress("localhost", seed.port)] >= 1  # the seed probe
    finally:
        rc.close()


def test_system_trust_store_refuses_ca_only_for_discovered_nodes(
        tls_cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    # The test CA stands in for the system trust store (OpenSSL reads SSL_CERT_FILE when the
    # default paths are loaded): no ssl_ca_certs is given, so CA-only would accept any cert
    # that store trusts. The seed ("localhost", given) verifies; the nodes the cluster
    # announced as 127.0.0.1 have no known name and are not dialled.
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_cluster.ca_cert_path))
    transport = CountingTransport()
    rc = client(tls_cluster, transport, host="localhost", ssl_ca_certs=None)
    try:
        primary = NodeAddress(*tls_cluster.primaries()[1].address)
        with pytest.raises(TLSVerificationError) as info:
            rc.set(key_on(tls_cluster, primary), "v")
        assert info.value.node == primary and "system trust store" in str(info.value)
        assert transport.opens[primary] == 0  # refused before dialling
        assert transport.opens[NodeAddress("localhost", primary.port)] == 0
    finally:
        rc.close()
    # Explicit opt-in to CA-only against the store: works.
    rc = client(tls_cluster, CountingTransport(), host="localhost", ssl_ca_certs=None,
                ssl_verify_discovered="ca-only")
    try:
        write_everywhere(rc, tls_cluster)
    finally:
        rc.close()


def test_discovered_nodes_are_verified_against_their_announced_hostname(
        announcing_cluster: LocalCluster) -> None:
    transport = CountingTransport()
    seed = NodeAddress(*announcing_cluster.primaries()[0].address)
    # Only the seed probe needs a name (no layout is known yet); "ip" for the rest would fail
    # on this certificate, so passing proves the announced name was used.
    rc = client(announcing_cluster, transport, ssl_node_hostnames={str(seed): NAME},
                ssl_verify_discovered="ip")
    try:
        assert {rc.connection_pool.topology.hostname_of(NodeAddress(*n.address))
                for n in announcing_cluster.nodes} == {NAME}
        write_everywhere(rc, announcing_cluster)
        assert set(expected_names(rc).values()) == {NAME}
        assert set(transport.names) == {NAME}
    finally:
        rc.close()
