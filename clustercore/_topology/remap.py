"""host_port_remap: the rules that turn the address a server names into the one the client dials.

:meth:`Remapper.from_config` validates redis-py-cluster 2.1.3's rule dicts (with its messages),
a ``{(host, port): (host, port)}`` mapping, or a callable; the parsers apply the result to every
node address of a reply (see :mod:`.parse`).
"""

from __future__ import annotations

import inspect
import ipaddress
import re
from typing import Any, Callable, Mapping, NamedTuple, Optional, Sequence

from .._address import NodeAddress
from ..errors import RedisClusterConfigError

__all__ = ["RemapFunc", "Remapper"]

#: Anything that turns a node address as the server names it into the one the client dials.
RemapFunc = Callable[[NodeAddress], NodeAddress]

_MSG_NOT_LIST = "host_port_remap must be a list"
_MSG_NOT_DICT = "items inside host_port_remap list must be of dict type"
_MSG_BAD_KEYS = "Invalid keys provided in host_port_remap rule"
_MSG_HOST_PAIR = ("Both from_host and to_host must be present in host_port_remap rule "
                  "if either is defined")
_MSG_PORT_PAIR = ("Both from_port and to_port must be present in host_port_remap rule "
                  "if either is defined")
_MSG_PORT_INT = "Both from_port and to_port in host_port_remap rule must be integers"
# redis-py-cluster 2.1.3's text, typo included, so code matching on it keeps working.
_MSG_OCTETS = "Both from_host and to_host in host_port_remap rule must must have all octets specified"
_MSG_HOST_INVALID = ("Both from_host and to_host in host_port_remap rule must be a valid ip address "
                     "or host name")
_MSG_PORT_RANGE = "Both from_port and to_port in host_port_remap rule must be within 1..65535"
_MSG_MAPPING = "host_port_remap mapping must map (host, port) pairs to (host, port) pairs"

_RULE_KEYS = frozenset(("from_host", "from_port", "to_host", "to_port"))
_NUMERIC_HOST = re.compile(r"[0-9]+(?:\.[0-9]+)*")
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_NAME = re.compile(rf"(?=.{{1,254}}$){_LABEL}(?:\.{_LABEL})*\.?")


def _unbracket(host: str) -> str:
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        return host[1:-1]
    return host


def _host_key(host: str) -> str:
    """Comparison key for a host: IP addresses by value ("::1" == "0:0::1", "010.0.0.1" ==
    "10.0.0.1" as 2.1.3's int() compare had it), host names case-insensitively."""
    text = _unbracket(host)
    if _NUMERIC_HOST.fullmatch(text):
        parts = text.split(".")
        if len(parts) == 4 and all(len(p) <= 3 and int(p) <= 255 for p in parts):
            return ".".join(str(int(p)) for p in parts)
        return text
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return text.lower().rstrip(".")


def _check_rule_host(value: Any) -> str:
    """Validate a rule host: an IPv4 dotted quad, an IPv6 address, or a host name."""
    if not isinstance(value, str):
        raise RedisClusterConfigError(_MSG_HOST_INVALID)
    text = _unbracket(value)
    if _NUMERIC_HOST.fullmatch(text):
        parts = text.split(".")
        if len(parts) < 4:
            raise RedisClusterConfigError(_MSG_OCTETS)
        if len(parts) > 4 or any(len(p) > 3 or int(p) > 255 for p in parts):
            raise RedisClusterConfigError(_MSG_HOST_INVALID)
        return text
    try:
        ipaddress.ip_address(text)
        return text
    except ValueError:
        pass
    if _HOST_NAME.fullmatch(text):
        return text
    raise RedisClusterConfigError(_MSG_HOST_INVALID)


def _check_rule_port(value: Any) -> int:
    """Validate a rule port: an int, or a decimal string such as "7000", within 1..65535."""
    if isinstance(value, int) and not isinstance(value, bool):
        port = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        port = int(value.strip())
    else:
        raise RedisClusterConfigError(_MSG_PORT_INT)
    if not 0 < port < 65536:
        raise RedisClusterConfigError(_MSG_PORT_RANGE)
    return port


class _Rule(NamedTuple):
    from_host: Optional[str]   # as a _host_key
    from_port: Optional[int]
    to_host: Optional[str]
    to_port: Optional[int]


def _rule_from_dict(item: Any) -> _Rule:
    """Validate one rule dict in the order and with the messages redis-py-cluster 2.1.3 used."""
    if not isinstance(item, dict):
        raise RedisClusterConfigError(_MSG_NOT_DICT)
    if set(item) - _RULE_KEYS:
        raise RedisClusterConfigError(_MSG_BAD_KEYS)
    if ("from_host" in item) != ("to_host" in item):
        raise RedisClusterConfigError(_MSG_HOST_PAIR)
    if ("from_port" in item) != ("to_port" in item):
        raise RedisClusterConfigError(_MSG_PORT_PAIR)
    from_host = to_host = None
    if "from_host" in item:
        from_host = _host_key(_check_rule_host(item["from_host"]))
        to_host = _check_rule_host(item["to_host"])
    from_port = to_port = None
    if "from_port" in item:
        from_port = _check_rule_port(item["from_port"])
        to_port = _check_rule_port(item["to_port"])
    return _Rule(from_host, from_port, to_host, to_port)


def _rule_from_pair(key: Any, value: Any) -> _Rule:
    """One ``(host, port): (host, port)`` entry of the mapping form."""
    if not (isinstance(key, (tuple, list)) and len(key) == 2
            and isinstance(value, (tuple, list)) and len(value) == 2):
        raise RedisClusterConfigError(_MSG_MAPPING)
    return _rule_from_dict({"from_host": key[0], "from_port": key[1],
                            "to_host": value[0], "to_port": value[1]})


def _takes_one_argument(func: Callable[..., Any]) -> bool:
    """True for redis-py style ``f((host, port))`` callables, False for ``f(host, port)``."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return False
    return len(positional) == 1


class Remapper:
    """host_port_remap: turns the address a server names into the one the client dials.

    Built by :meth:`from_config` from rule dicts, a ``{(host, port): (host, port)}`` mapping, or
    a callable. Rules are tried in order and the first match wins; an address no rule matches
    is returned unchanged. A rule with neither ``from_host`` nor ``from_port`` matches nothing.
    """

    __slots__ = ("_func", "_one_arg", "_rules")

    def __init__(self, rules: Sequence[_Rule] = (),
                 func: Optional[Callable[..., Any]] = None) -> None:
        self._rules = tuple(rules)
        self._func = func
        self._one_arg = func is not None and _takes_one_argument(func)

    @classmethod
    def from_config(cls, config: Any) -> Optional[Remapper]:
        """None -> None; a Remapper as is; a callable; a mapping; or a list of rule dicts.

        Rule dicts are validated like redis-py-cluster 2.1.3 (same messages), but hosts may be
        IPv4, IPv6 or host names and ports may be decimal strings. Only an all-numeric dotted
        host with fewer than four parts ("10.0.0") gets 2.1.3's "all octets" message; other
        invalid hosts get "must be a valid ip address or host name". A tuple of rules is
        accepted like a list. Raises RedisClusterConfigError.
        """
        if config is None:
            return None
        if isinstance(config, Remapper):
            return config
        if isinstance(config, Mapping):
            return cls([_rule_from_pair(k, v) for k, v in config.items()])
        if callable(config):
            return cls(func=config)
        if not isinstance(config, (list, tuple)):
            raise RedisClusterConfigError(_MSG_NOT_LIST)
        return cls([_rule_from_dict(item) for item in config])

    def __call__(self, address: NodeAddress) -> NodeAddress:
        """The remapped address (the same object when nothing matches)."""
        if self._func is not None:
            return self._call_func(address)
        key: Optional[str] = None
        for rule in self._rules:
            if rule.from_port is not None and rule.from_port != address.port:
                continue
            if rule.from_host is not None:
                if key is None:
                    key = _host_key(address.host)
                if rule.from_host != key:
                    continue
            elif rule.from_port is None:
                continue
            return NodeAddress(address.host if rule.to_host is None else rule.to_host,
                               address.port if rule.to_port is None else rule.to_port)
        return address

    def _call_func(self, address: NodeAddress) -> NodeAddress:
        assert self._func is not None
        if self._one_arg:
            result = self._func((address.host, address.port))
        else:
            result = self._func(address.host, address.port)
        if isinstance(result, (tuple, list)) and len(result) == 2:
            host, port = result
            if isinstance(host, bytes):
                host = host.decode("utf-8", "replace")
            if isinstance(host, str) and host:
                try:
                    return NodeAddress(_unbracket(host), _check_rule_port(port))
                except RedisClusterConfigError:
                    pass
        raise RedisClusterConfigError(
            f"host_port_remap callable returned {result!r} for {address}; expected (host, port)")

    def __repr__(self) -> str:
        if self._func is not None:
            return f"Remapper({self._func!r})"
        return f"Remapper({len(self._rules)} rules)"
