"""ClusterConnection over ConnectionCore: the constructor interpreted, the I/O compiled.

In the optional compiled build ConnectionCore (``_net/connection_core.py``) is a native (mypyc)
class, and ClusterConnection, SSLClusterConnection and a user's ``connection_class`` are
interpreted subclasses of it (docs/compiled.md). These tests hold in both builds: the public
names, a subclass's overrides being the ones the base class's own methods call, keywords
passed through ``**kwargs`` landing where they belong, the values given stored as given, and
``close()`` keeping the class-body alias's meaning.
"""

from __future__ import annotations

import inspect
from typing import Any, List

import clustercore
import clustercore.compat.rediscluster.connection as rediscluster_connection
from clustercore import NodeAddress
from clustercore._net import connection
from clustercore._net.connection import ClusterConnection, Connection, SSLClusterConnection
from clustercore._net.connection_core import ConnectionCore
from clustercore.testing.fake.net import FakeNetwork
from tests.unit.test_connection import TinyServer

ADDR = NodeAddress("127.0.0.1", 7000)


def network() -> FakeNetwork:
    net = FakeNetwork()
    net.add(ADDR, TinyServer())
    return net


def test_every_import_path_names_the_same_classes() -> None:
    assert clustercore.SSLClusterConnection is SSLClusterConnection
    assert rediscluster_connection.SSLClusterConnection is SSLClusterConnection
    assert clustercore.ClusterConnection is ClusterConnection is Connection
    assert rediscluster_connection.ClusterConnection is ClusterConnection
    assert ClusterConnection.__module__ == SSLClusterConnection.__module__ == connection.__name__
    assert issubclass(SSLClusterConnection, ClusterConnection)
    assert issubclass(ClusterConnection, ConnectionCore)


def test_the_constructor_is_introspectable() -> None:
    """The pools read which keywords a connection class takes from its __init__ signature."""
    init = ClusterConnection.__dict__["__init__"]
    assert inspect.isfunction(init)  # interpreted in both builds
    names = list(inspect.signature(init).parameters)
    assert names[:3] == ["self", "host", "port"] and "max_depth" in names


def test_values_are_stored_as_given() -> None:
    """Unchecked values are kept as they came (the compiled base class declares them Any)."""
    conn = ClusterConnection(ADDR.host, ADDR.port, decode_responses=1, readonly=None,  # type: ignore[arg-type]
                             health_check_interval=None, password=b"pw",  # type: ignore[arg-type]
                             socket_timeout=2, protocol=3.0)  # type: ignore[arg-type]
    assert conn.decode_responses == 1 and type(conn.decode_responses) is int
    assert conn.readonly is None and conn.health_check_interval is None
    assert conn.password == b"pw"
    assert type(conn.socket_timeout) is int and type(conn.protocol) is float


class Counting(ClusterConnection):
    """A user's connection_class: its own __init__ passing keywords on, overrides, attributes."""

    def __init__(self, host: str, port: int, **kwargs: Any) -> None:
        self.calls: List[str] = []
        super().__init__(host, port, **kwargs)

    def connect(self) -> None:
        self.calls.append("connect")
        super().connect()

    def disconnect(self) -> None:
        self.calls.append("disconnect")
        super().disconnect()

    def check_health(self, now: Any = None) -> None:
        self.calls.append("check_health")
        super().check_health(now)


def test_keywords_through_a_subclass_kwargs_land_in_their_parameters() -> None:
    conn = Counting(ADDR.host, ADDR.port, transport=network(), socket_timeout=1.5,
                    socket_keepalive=True, decode_responses=True, readonly=True,
                    client_name="n", max_depth=7, health_check_interval=2)
    assert (conn.socket_timeout, conn.socket_connect_timeout) == (1.5, 1.5)
    assert (conn.decode_responses, conn.readonly, conn.client_name) == (True, True, "n")
    assert (conn.max_depth, conn.health_check_interval) == (7, 2)
    assert conn.address == ADDR and conn.calls == []


def test_the_base_classes_methods_call_a_subclasss_overrides() -> None:
    conn = Counting(ADDR.host, ADDR.port, transport=network(), health_check_interval=1)
    assert conn.execute("SET", "k", "v") == b"OK"  # connects first: through the override
    assert conn.calls == ["connect"]
    conn.last_used -= 5  # idle longer than health_check_interval: PING first
    conn.send_packed_command(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
    assert conn.calls == ["connect", "check_health"]
    assert conn.read_response() == b"v"
    conn.disconnect()
    conn.send_commands([("GET", "k")])  # reconnects through the override
    assert conn.calls == ["connect", "check_health", "disconnect", "connect"]
    assert conn.read_response() == b"v"


def test_close_is_clusterconnections_disconnect_as_the_alias_was() -> None:
    conn = Counting(ADDR.host, ADDR.port, transport=network())
    conn.connect()
    conn.close()  # the alias bound ClusterConnection.disconnect: a subclass's is not called
    assert conn.calls == ["connect"]
    assert not conn.is_connected and "disconnected" in repr(conn)
    conn.close()  # idempotent
    plain = ClusterConnection(ADDR.host, ADDR.port, transport=network())
    plain.connect()
    plain.close()
    assert not plain.is_connected


def test_a_subclass_instance_takes_attributes_of_its_own() -> None:
    conn = Counting(ADDR.host, ADDR.port, transport=network())
    conn.extra = "mine"  # type: ignore[attr-defined]
    assert conn.extra == "mine"  # type: ignore[attr-defined]
    assert isinstance(conn, ClusterConnection)


def test_redis_pys_flags_take_any_value_for_its_truth() -> None:
    conn = ClusterConnection(ADDR.host, ADDR.port, transport=network(), decode_responses=True)
    assert conn.execute("SET", "k", "v", disable_decoding=0) == "OK"
    assert conn.execute("GET", "k", disable_decoding=1) == b"v"
    conn.send_packed_command(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", check_health=0)
    assert conn.read_response(disable_decoding=None) == "v"
    conn.send_command("GET", "k")
    assert conn.read_reply(disable_decoding="yes") == b"v"
    assert conn.execute_within(("GET", "k"), 1.0, disable_decoding=1) == b"v"
