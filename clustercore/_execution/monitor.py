"""Monitor: redis-py's MONITOR reader, on one node's dedicated connection.

MONITOR turns a connection into a stream of every command the node runs, so it cannot be a
pooled connection: ``RedisCluster.monitor(target_node)`` makes a new one with the pool's
``make_connection`` and this object closes it on exit. Each line, ``<time> [<db>
<client>] "arg" "arg" ...``, is parsed into redis-py's dict (time, db, client_address,
client_port, client_type, command). Reads wait at most ``timeout`` seconds (finite by
default): a node that runs nothing raises TimeoutError instead of blocking a worker forever.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterator, Optional

from .._address import NodeAddress
from ..errors import ResponseError

__all__ = ["DEFAULT_MONITOR_TIMEOUT", "Monitor", "parse_monitor_line"]

#: Seconds a read waits for the next monitored command by default.
DEFAULT_MONITOR_TIMEOUT = 30.0

_LINE = re.compile(r"\[(\d+) (.*?)\] (.*)")
_ARG = re.compile(r'"(.*?)(?<!\\)"')


def parse_monitor_line(line: str) -> Dict[str, Any]:
    """One MONITOR line as redis-py's dict; ValueError naming the line when it is not one."""
    stamp, _, rest = line.partition(" ")
    match = _LINE.match(rest)
    if match is None:
        raise ValueError(f"not a MONITOR line: {line!r}")
    db, client, command = match.groups()
    # Each argument is quoted by the server, its own quotes escaped: unescape those only.
    text = " ".join(_ARG.findall(command)).replace('\\"', '"')
    if client == "lua":
        address, port, kind = "lua", "", "lua"
    elif client.startswith("unix"):
        address, port, kind = "unix", client[5:], "unix"
    elif client == "":
        address, port, kind = "", "", "unknown"
    else:
        address, port = client.rsplit(":", 1)  # rsplit: IPv6 addresses hold colons
        kind = "tcp"
    return {"time": float(stamp), "db": int(db), "client_address": address,
            "client_port": port, "client_type": kind, "command": text}


class Monitor:
    """redis-py's Monitor context manager: ``with rc.monitor(node) as m: m.next_command()``.

    ``connection`` is a dedicated connection to ``address`` (not connected yet); entering
    sends MONITOR and checks the OK, leaving closes the connection."""

    def __init__(self, connection: Any, address: NodeAddress) -> None:
        self.connection = connection
        self.address = address

    def __enter__(self) -> Monitor:
        try:
            self.connection.connect()
            self.connection.send_command("MONITOR")
            reply = self.connection.read_reply()
        except BaseException:
            self.connection.disconnect()
            raise
        if _text(reply) != "OK":
            self.connection.disconnect()
            raise ResponseError(f"MONITOR failed on {self.address}: {reply!r}")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.connection.disconnect()

    def next_command(self) -> Optional[Dict[str, Any]]:
        """The next command the node runs, parsed (TimeoutError after the read deadline)."""
        reply = self.connection.read_reply()
        if reply is None:
            return None
        return parse_monitor_line(_text(reply))

    def listen(self) -> Iterator[Optional[Dict[str, Any]]]:
        """Yield the node's commands as they come (each read bounded as ``next_command``)."""
        while True:
            yield self.next_command()


def _text(reply: Any) -> str:
    if isinstance(reply, (bytes, bytearray)):
        return bytes(reply).decode("utf-8", "replace")
    return str(reply)
