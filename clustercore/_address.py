"""NodeAddress: the one frozen, hashable name of a cluster node used across every layer.

It lives in its own dependency-free module (rather than in ``topology`` as DESIGN.md first
suggested) so that ``errors`` can carry a node address without importing the topology layer.
"""

from __future__ import annotations

from typing import NamedTuple, Union


class NodeAddress(NamedTuple):
    """A node's host and port; ``name`` is redis-py-cluster's ``"host:port"`` spelling."""

    host: str
    port: int

    @property
    def name(self) -> str:
        """``"host:port"`` exactly as redis-py-cluster names nodes (IPv6 hosts are not bracketed)."""
        return f"{self.host}:{self.port}"

    def __str__(self) -> str:
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: str, default_port: int = 6379) -> NodeAddress:
        """Parse ``host:port``, ``[v6]:port``, ``v6addr:port``, a bare host, or a redis:// URL."""
        text = text.strip()
        if "://" in text:
            text = text.split("://", 1)[1]
            text = text.rsplit("@", 1)[-1].split("/", 1)[0].split("?", 1)[0]
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port_text = rest[1:] if rest.startswith(":") else ""
        elif text.count(":") == 1:
            host, _, port_text = text.partition(":")
        elif text.count(":") > 1:
            # A bare IPv6 address with the port after its last colon, as Redis prints them.
            host, _, port_text = text.rpartition(":")
            if not port_text.isdigit():
                host, port_text = text, ""
        else:
            host, port_text = text, ""
        return cls(host, coerce_port(port_text) if port_text else default_port)


def coerce_port(port: Union[str, int]) -> int:
    """Turn a str or int port into an int in 1..65535, or raise ValueError naming it."""
    if isinstance(port, bool):
        raise ValueError(f"invalid port {port!r}")
    try:
        value = int(port)
    except (TypeError, ValueError):
        raise ValueError(f"invalid port {port!r}") from None
    if not 0 < value < 65536:
        raise ValueError(f"port {port!r} is out of range 1..65535")
    return value
