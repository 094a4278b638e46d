"""TLS verification policy without a server: make_ssl_context's defaults, TLSPolicy's choice of
the name each node's certificate must match, and how a refused certificate travels (typed,
with its cause, not retried, no failure mark). The handshakes themselves are in
tests/integration/test_tls_real.py."""

from __future__ import annotations

import random
import ssl
from typing import Any, List, Optional

import pytest
import trustme

from clustercore import ClusterConnectionPool, NodeAddress, SSLClusterConnection
from clustercore._execution.retry import RetryPolicy
from clustercore._execution.router import Action, Attempt, may_resend, next_step
from clustercore._net.connection import ClusterConnection
from clustercore._net.transport import (
    TLSPolicy,
    TransportOptions,
    make_ssl_context,
    translate_error,
    verification_error,
)
from clustercore._pool.node_pool import NodePool
from clustercore.errors import (
    REDIS_EXCEPTIONS_BRIDGED,
    ConnectionError,
    DataError,
    NodeFailingError,
    RedisClusterConfigError,
    TLSVerificationError,
)

SEED = NodeAddress("10.0.0.5", 6379)
DISCOVERED = NodeAddress("10.0.0.6", 6379)


@pytest.fixture(scope="module")
def ca_data() -> str:
    return trustme.CA().cert_pem.bytes().decode()


def cert_error(message: str = "Hostname mismatch") -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, f"certificate verify failed: {message}")
    exc.verify_message = message
    return exc


# --- make_ssl_context --------------------------------------------------------------------------
def test_names_are_checked_by_default() -> None:
    context = make_ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True


def test_the_name_check_is_an_explicit_opt_out() -> None:
    assert make_ssl_context(ssl_check_hostname=False).check_hostname is False
    assert make_ssl_context(ssl_check_hostname=False).verify_mode == ssl.CERT_REQUIRED
    assert make_ssl_context(ssl_cert_reqs="optional").check_hostname is True


@pytest.mark.parametrize("reqs", ["none", None, ssl.CERT_NONE])
def test_no_verification_means_no_name_check(reqs: Any) -> None:
    context = make_ssl_context(ssl_cert_reqs=reqs)
    assert context.verify_mode == ssl.CERT_NONE and context.check_hostname is False


def test_contradictory_or_bad_values_are_refused_by_name() -> None:
    with pytest.raises(DataError, match="ssl_check_hostname=True"):
        make_ssl_context(ssl_cert_reqs="none", ssl_check_hostname=True)
    with pytest.raises(DataError, match="'yes'"):
        make_ssl_context(ssl_check_hostname="yes")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="'sometimes'"):
        make_ssl_context(ssl_cert_reqs="sometimes")
    with pytest.raises(DataError, match="99"):
        make_ssl_context(ssl_cert_reqs=99)


# --- TLSPolicy ----------------------------------------------------------------------------------
def policy(ca_data: Optional[str] = None, **kwargs: Any) -> TLSPolicy:
    kwargs.setdefault("seed_hosts", (SEED.host,))
    return TLSPolicy.build(ssl_ca_data=ca_data, **kwargs)


def test_seed_hosts_and_dns_names_are_verified_as_given(ca_data: str) -> None:
    p = policy(ca_data)
    for address in (SEED, NodeAddress(SEED.host, 7000), NodeAddress("node1.example", 6379),
                    NodeAddress("NODE2.example", 6380)):
        target = p.target(address)
        assert target.expected == address.host == target.server_hostname
        assert target.context.check_hostname and target.refusal is None


def test_a_discovered_ip_is_ca_only_with_a_private_ca(ca_data: str) -> None:
    target = policy(ca_data).target(DISCOVERED)
    assert target.expected is None and target.refusal is None
    assert target.context.check_hostname is False
    assert target.context.verify_mode == ssl.CERT_REQUIRED  # the chain is still checked


def test_a_discovered_ip_is_refused_against_the_system_trust_store() -> None:
    target = policy(None).target(DISCOVERED)
    assert target.refusal is not None and str(DISCOVERED) in target.refusal
    assert "ssl_server_hostname" in target.refusal and "system trust store" in target.refusal
    # Seeds and DNS names are still fine with the system store.
    assert policy(None).target(SEED).refusal is None
    assert policy(None).target(NodeAddress("node1.example", 1)).refusal is None


def test_verify_discovered_modes(ca_data: str) -> None:
    by_ip = policy(None, ssl_verify_discovered="ip").target(DISCOVERED)
    assert by_ip.expected == DISCOVERED.host and by_ip.context.check_hostname
    ca_only = policy(None, ssl_verify_discovered="ca-only").target(DISCOVERED)
    assert ca_only.expected is None and ca_only.refusal is None
    assert not ca_only.context.check_hostname
    with pytest.raises(DataError, match="'sometimes'"):
        policy(ca_data, ssl_verify_discovered="sometimes")


def test_given_names_win_over_every_other_rule(ca_data: str) -> None:
    shared = policy(None, ssl_server_hostname="redis.example")
    for address in (SEED, DISCOVERED, NodeAddress("node1.example", 1)):
        target = shared.target(address)
        assert target.expected == target.server_hostname == "redis.example"
    mapped = policy(None, ssl_server_hostname="redis.example",
                    ssl_node_hostnames={"10.0.0.6:6379": "node6.example",
                                        ("10.0.0.7", 6379): "node7.example",
                                        NodeAddress("::1", 7000): "v6.example"})
    assert mapped.target(DISCOVERED).expected == "node6.example"
    assert mapped.target(NodeAddress("10.0.0.7", 6379)).expected == "node7.example"
    assert mapped.target(NodeAddress("0:0::1", 7000)).expected == "v6.example"  # canonical
    assert mapped.target(NodeAddress("10.0.0.8", 1)).expected == "redis.example"
    seen: List[NodeAddress] = []

    def name_of(address: NodeAddress) -> Optional[str]:
        seen.append(address)
        return "odd.example" if address.port % 2 else None

    called = policy(None, ssl_node_hostnames=name_of)
    assert called.target(NodeAddress("10.0.0.9", 7001)).expected == "odd.example"
    assert called.target(NodeAddress("10.0.0.9", 7002)).refusal is not None  # no name: rule 4
    assert seen == [NodeAddress("10.0.0.9", 7001), NodeAddress("10.0.0.9", 7002)]


def test_bad_names_are_refused_by_name() -> None:
    with pytest.raises(DataError, match="'nohostport'"):
        policy(None, ssl_node_hostnames={"nohostport": "x"})
    with pytest.raises(DataError, match=r"10\.0\.0\.6:6379"):
        policy(None, ssl_node_hostnames={"10.0.0.6:6379": ""})
    with pytest.raises(DataError, match="ssl_node_hostnames must be"):
        policy(None, ssl_node_hostnames=42)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="ssl_server_hostname"):
        policy(None, ssl_server_hostname="")
    with pytest.raises(DataError, match="returned 7"):
        policy(None, ssl_node_hostnames=lambda a: 7).target(DISCOVERED)  # type: ignore


def test_without_the_name_check_every_node_is_ca_only() -> None:
    p = policy(None, ssl_check_hostname=False, ssl_server_hostname="redis.example")
    for address in (SEED, DISCOVERED):
        target = p.target(address)
        assert target.expected is None and target.refusal is None
        assert target.server_hostname == "redis.example"  # still sent as SNI


def test_a_callers_context_is_used_as_given() -> None:
    own = ssl.create_default_context()
    p = TLSPolicy.build(ssl_context=own, seed_hosts=(SEED.host,))
    target = p.target(DISCOVERED)
    assert target.context is own and target.expected == DISCOVERED.host
    assert target.refusal is None
    with pytest.raises(DataError, match="ssl_ca_certs"):
        TLSPolicy.build(ssl_context=own, ssl_ca_certs="/etc/ca.pem")


def test_ipv6_seed_hosts_compare_canonically(ca_data: str) -> None:
    p = policy(ca_data, seed_hosts=("0:0:0:0:0:0:0:1",))
    assert p.target(NodeAddress("::1", 7000)).expected == "::1"


# --- connections and pools -------------------------------------------------------------------
class CountingTransport:
    """Counts opens and fails them as a refused certificate would (never touches a socket)."""

    def __init__(self) -> None:
        self.opens: List[TransportOptions] = []

    def open(self, address: NodeAddress, timeout: Optional[float],
             options: TransportOptions) -> Any:
        self.opens.append(options)
        exc = cert_error()
        raise verification_error(exc, address, options.server_hostname,
                                 True) from exc

    def idle_check(self, stream: Any) -> Any:
        return lambda: True

    def wait_readable(self, streams: Any, timeout: Optional[float]) -> List[int]:
        return []


def test_a_connection_made_directly_verifies_its_own_host() -> None:
    conn = SSLClusterConnection("10.1.2.3", 6379)
    assert conn.tls_target.expected == "10.1.2.3" and conn.tls_target.refusal is None
    named = SSLClusterConnection("10.1.2.3", 6379, server_hostname="redis.example")
    assert named.tls_target.expected == "redis.example"


def test_a_refused_node_is_not_dialled() -> None:
    transport = CountingTransport()
    pol = policy(None)
    conn = SSLClusterConnection(DISCOVERED.host, DISCOVERED.port, ssl_policy=pol,
                                transport=transport)
    for _ in range(2):
        with pytest.raises(TLSVerificationError, match="not dialling") as info:
            conn.connect()
        assert info.value.node == DISCOVERED and info.value.__cause__ is None
    assert transport.opens == [] and not conn.is_connected


def test_the_pool_counts_its_startup_hosts_as_given(ca_data: str) -> None:
    pool = ClusterConnectionPool(startup_nodes=[{"host": "10.9.9.9", "port": 7000},
                                                "seed.example:7001"],
                                 ssl=True, init_slot_cache=False, ssl_ca_data=ca_data)
    try:
        pol = pool.config.own_connection_kwargs["ssl_policy"]
        assert isinstance(pol, TLSPolicy)
        assert {"10.9.9.9", "seed.example"} <= pol.seed_hosts
        assert pool.connection_kwargs["ssl_context"] is pol.context
        assert pol.target(NodeAddress("10.9.9.9", 7005)).expected == "10.9.9.9"
        assert pol.target(NodeAddress("10.9.9.10", 7005)).expected is None  # CA-only
        conn = pool.dedicated_connection(NodeAddress("10.9.9.10", 7005))
        assert isinstance(conn, SSLClusterConnection) and conn.tls_target.expected is None
    finally:
        pool.close()
    with pytest.raises(DataError, match="ssl_verify_discovered"):
        ClusterConnectionPool(startup_nodes=["h:1"], ssl=True, init_slot_cache=False,
                              ssl_verify_discovered="never")


def test_naming_options_need_tls() -> None:
    with pytest.raises(RedisClusterConfigError, match=r"ssl_server_hostname.*ssl=True"):
        ClusterConnectionPool(startup_nodes=["h:1"], init_slot_cache=False,
                              ssl_server_hostname="redis.example")


# --- the error ----------------------------------------------------------------------------------
def test_the_error_names_node_and_name_and_is_a_connection_error() -> None:
    exc = cert_error("IP address mismatch")
    err = verification_error(exc, DISCOVERED, "node6.example", True)
    assert isinstance(err, ConnectionError) and err.node == DISCOVERED
    assert err.expected == "node6.example"
    assert "node6.example" in str(err) and str(DISCOVERED) in str(err)
    assert "IP address mismatch" in str(err)
    ca_only = verification_error(exc, DISCOVERED, "10.0.0.6", False)
    assert ca_only.expected is None and "CA-only" in str(ca_only)
    assert isinstance(translate_error(exc, DISCOVERED), TLSVerificationError)
    if REDIS_EXCEPTIONS_BRIDGED:
        import redis

        assert issubclass(TLSVerificationError, redis.exceptions.ConnectionError)


def test_the_router_raises_it_at_once() -> None:
    err = verification_error(cert_error(), DISCOVERED, "x", True)
    attempt = Attempt()
    step = next_step(err, attempt, idempotent=True, policy=RetryPolicy(), now=0.0,
                     rng=random.Random(1))
    assert step.action is Action.RAISE and step.error is err and not step.mark_failing
    assert attempt.retries == 0
    # a call to one given node (fan-out part, node-targeted command) is not resent either
    assert not may_resend(err, idempotent=True, policy=RetryPolicy())
    assert may_resend(ConnectionError("reset", node=DISCOVERED), idempotent=True,
                      policy=RetryPolicy())


def test_the_node_pool_does_not_mark_the_node_failing() -> None:
    transport = CountingTransport()
    pol = policy(None, ssl_verify_discovered="ip")

    def factory(address: NodeAddress) -> ClusterConnection:
        return SSLClusterConnection(address.host, address.port, ssl_policy=pol,
                                    transport=transport)

    pool = NodePool(DISCOVERED, factory)
    for attempt in (1, 2, 3):
        with pytest.raises(TLSVerificationError) as info:
            pool.get()
        assert not isinstance(info.value, NodeFailingError)
        assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
        assert len(transport.opens) == attempt and not pool.failing
    stats = pool.stats()
    assert stats.in_use == 0 and stats.connect_failures == 0
    assert [o.server_hostname for o in transport.opens] == [DISCOVERED.host] * 3


# --- announced hostnames (CLUSTER SHARDS ``hostname``) ----------------------------------------------
def shards_reply(hostname: Optional[str]) -> List[Any]:
    def node(port: int, role: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": f"{port:040d}", "port": port, "ip": "10.0.0.1",
                                 "endpoint": "10.0.0.1", "role": role, "health": "online"}
        if hostname is not None:
            entry["hostname"] = f"n{port}.{hostname}" if hostname else ""
        return entry

    return [{"slots": [0, 16383], "nodes": [node(7000, "master"), node(7001, "replica")]}]


def test_cluster_shards_hostnames_are_kept_per_node() -> None:
    from clustercore._topology.merge import merge_views
    from clustercore._topology.parse import parse_cluster_shards

    source = NodeAddress("10.0.0.1", 7000)
    topology = parse_cluster_shards(shards_reply("example"), source)
    assert topology.hostname_of(NodeAddress("10.0.0.1", 7000)) == "n7000.example"
    assert topology.hostname_of(NodeAddress("10.0.0.1", 7001)) == "n7001.example"
    assert topology.hostname_of(NodeAddress("10.0.0.9", 7000)) is None
    for reply in (shards_reply(None), shards_reply("")):  # not announced / empty
        assert parse_cluster_shards(reply, source).hostname_of(source) is None
    merged, _ = merge_views([topology, parse_cluster_shards(shards_reply(None), source)],
                            epoch=2)
    assert merged.hostname_of(NodeAddress("10.0.0.1", 7001)) == "n7001.example"
    promoted = topology.with_slot_owner(5, NodeAddress("10.0.0.1", 7001), epoch=3)
    assert promoted.hostname_of(NodeAddress("10.0.0.1", 7001)) == "n7001.example"


def test_an_announced_hostname_comes_after_given_names_and_before_the_host(ca_data: str) -> None:
    announced = {DISCOVERED: "node6.example", SEED: "node5.example"}
    p = policy(None)
    p.follow_announced(announced.get)
    assert p.target(DISCOVERED).expected == "node6.example"  # no refusal: a name is known
    assert p.target(SEED).expected == "node5.example"
    assert p.target(NodeAddress("10.0.0.7", 1)).refusal is not None
    named = policy(ca_data, ssl_node_hostnames={str(DISCOVERED): "given.example"})
    named.follow_announced(announced.get)
    assert named.target(DISCOVERED).expected == "given.example"


def test_a_pool_binds_its_policy_to_its_layout_without_keeping_itself_alive() -> None:
    import gc
    import weakref

    pool = ClusterConnectionPool(startup_nodes=["10.9.9.9:7000"], ssl=True,
                                 init_slot_cache=False)
    pol = pool.config.own_connection_kwargs["ssl_policy"]
    assert pol.announced is not None and pol.announced(SEED) is None  # no layout yet
    ref = weakref.ref(pool)
    pool.close()
    del pool
    gc.collect()
    assert ref() is None and pol.announced(SEED) is None


def test_url_options_reach_the_policy() -> None:
    from clustercore import RedisCluster

    rc = RedisCluster.from_url(
        "rediss://10.9.9.9:7000?ssl_server_hostname=x.example&ssl_verify_discovered=ip"
        "&ssl_check_hostname=false", init_slot_cache=False)
    try:
        pol = rc.connection_pool.config.own_connection_kwargs["ssl_policy"]
        assert pol.server_hostname == "x.example" and pol.verify_discovered == "ip"
        assert pol.context.check_hostname is False
        assert pol.target(DISCOVERED).server_hostname == "x.example"
    finally:
        rc.close()
