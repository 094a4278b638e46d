"""Monitor: redis-py's MONITOR line parsing and the dedicated connection's lifecycle."""

from __future__ import annotations

from typing import Any, List

import pytest

from clustercore._address import NodeAddress
from clustercore._execution.monitor import Monitor, parse_monitor_line
from clustercore.errors import ResponseError


class FakeConn:
    """A connection that replays ``replies`` and records what it was asked."""

    def __init__(self, replies: List[Any]) -> None:
        self.replies = replies
        self.sent: List[Any] = []
        self.connected = False
        self.disconnects = 0

    def connect(self) -> None:
        self.connected = True

    def send_command(self, *args: Any) -> None:
        self.sent.append(args)

    def read_reply(self) -> Any:
        return self.replies.pop(0)

    def disconnect(self) -> None:
        self.disconnects += 1


def test_parse_tcp_line_with_quoted_and_escaped_arguments() -> None:
    line = '1339518083.107412 [0 127.0.0.1:60866] "GET" "{foo}\\"bar"'
    assert parse_monitor_line(line) == {
        "time": 1339518083.107412, "db": 0, "client_address": "127.0.0.1",
        "client_port": "60866", "client_type": "tcp", "command": 'GET {foo}"bar'}


def test_parse_binary_escape_is_kept_and_ipv6_lua_unix_clients() -> None:
    assert parse_monitor_line('1.5 [0 ::1:7000] "GET" "{foo}bar\\x92"')["command"] \
        == "GET {foo}bar\\x92"
    assert parse_monitor_line('1.5 [0 ::1:7000] "PING"')["client_address"] == "::1"
    lua = parse_monitor_line('1.5 [3 lua] "PING"')
    assert (lua["client_type"], lua["client_address"], lua["db"]) == ("lua", "lua", 3)
    unix = parse_monitor_line('1.5 [0 unix:/tmp/r.sock] "PING"')
    assert (unix["client_type"], unix["client_port"]) == ("unix", "/tmp/r.sock")


def test_parse_refuses_a_line_that_is_not_monitor_output() -> None:
    with pytest.raises(ValueError, match="not a MONITOR line"):
        parse_monitor_line("garbage")


def test_monitor_sends_monitor_reads_commands_and_closes_its_connection() -> None:
    conn = FakeConn([b"OK", b'2.0 [0 127.0.0.1:1] "SET" "k" "v"', None])
    with Monitor(conn, NodeAddress("127.0.0.1", 7000)) as m:
        assert conn.sent == [("MONITOR",)] and conn.connected
        assert m.next_command()["command"] == "SET k v"  # type: ignore[index]
        assert next(m.listen()) is None
    assert conn.disconnects == 1


def test_monitor_refused_raises_and_closes() -> None:
    conn = FakeConn([b"ERR nope"])
    with pytest.raises(ResponseError, match="MONITOR failed"), \
            Monitor(conn, NodeAddress("127.0.0.1", 7000)):
        pass
    assert conn.disconnects == 1
