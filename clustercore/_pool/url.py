"""``ClusterConnectionPool.from_url``'s URL: redis-py 3.5's ``ConnectionPool.from_url`` reading,
which redis-py-cluster 2.1.3's pools inherited.

``redis://[[username]:password@]host[:port][/db][?option=value...]`` and ``rediss://`` (TLS).
As redis-py 3.5 read it:

* the URL's host and port become the one seed (port 6379 when absent);
* ``username`` / ``password`` come from the user-info part (None when absent), percent-
  decoded only with ``decode_components=True``;
* the database is the query's ``db``, else the path, else the ``db`` argument, else 0; the
  cluster has only database 0, so any other number is refused here (redis-py-cluster passed it
  on and failed at the first SELECT);
* query options: ``socket_timeout`` / ``socket_connect_timeout`` are floats,
  ``socket_keepalive`` / ``retry_on_timeout`` / ``ssl_check_hostname`` booleans (redis-py's
  ``to_bool``: ``0 f false n no`` are false, case-insensitive), ``max_connections`` /
  ``health_check_interval`` integers; an unparsable value warns (UserWarning) and is dropped;
  options without a value are dropped; other options stay strings;
* the keyword arguments come next and the URL's values replace them (redis-py's
  ``kwargs.update(url_options)``); ``charset`` / ``errors`` are renamed ``encoding`` /
  ``encoding_errors`` with a DeprecationWarning.

Beyond redis-py 3.5, the cluster pools' own options given in the query (``max_connections_per_node``,
``skip_full_coverage_check``, ``readonly``, ``timeout`` ...) get their types too (redis-py 3.5
left them strings, so ``skip_full_coverage_check=false`` was true); ``unix://`` is refused
with RedisClusterConfigError (cluster nodes are reached over TCP).

No error names the URL with its password (:func:`redact_url`); a password holding ``#``, ``?``
or ``/`` unencoded (which would end the host part early and be read as a port, a path or a
query) is refused with RedisClusterConfigError asking for percent-encoding (:func:`split_url`),
instead of an untyped ValueError quoting the password's start.
"""

from __future__ import annotations

import re
import warnings
from typing import Any, Callable, Dict, Optional, Union
from urllib.parse import ParseResult, SplitResult, parse_qs, unquote, urlparse, urlsplit

from ..errors import RedisClusterConfigError

__all__ = ["parse_url", "redact_url", "split_url", "to_bool"]


#: Query options whose values are credentials (``?password=...``), case-insensitive.
_SECRET_QUERY = re.compile(r"([?&;](?:ssl_)?password=)[^&;#]*", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` with its credentials shown as ``***``: the form every error message quotes.

    The password of the user-info part (everything between the user name's ``:`` and the last
    ``@`` is hidden, so a password holding ``@`` or a delimiter is hidden whole) and the
    values of ``password`` / ``ssl_password`` query options. Public as
    ``clustercore.redact_url``: integrations quote URLs through it. TypeError for a non-str
    (whose repr could show the password)."""
    if not isinstance(url, str):
        raise TypeError(f"redact_url needs a str; got {type(url).__name__}")
    scheme, sep, rest = url.partition("://")
    at = rest.rfind("@")
    if sep and at != -1:
        user, colon, _secret = rest[:at].partition(":")
        url = f"{scheme}://{user}{':***' if colon else ''}{rest[at:]}"
    return _SECRET_QUERY.sub(r"\1***", url)


def split_url(url: Any, parse: Callable[[str], Any] = urlsplit, *, check_port: bool = True,
              ) -> Union[SplitResult, ParseResult]:
    """``parse(url)`` (urlsplit or urlparse) with every failure a RedisClusterConfigError
    that names the URL without its password: not a str, unbalanced IPv6 brackets, a password
    with ``#``, ``?`` or ``/`` left unencoded, and (``check_port``: a URL naming one host) a
    port that is not a number in 1..65535."""
    if not isinstance(url, str):
        shown = type(url).__name__ if isinstance(url, (bytes, bytearray, memoryview)) else (
            f"{type(url).__name__} {url!r}")
        raise RedisClusterConfigError(f"the URL must be a str; got {shown}")
    try:
        parts = parse(url)
    except ValueError as exc:  # "Invalid IPv6 URL": says nothing of the URL's content
        raise RedisClusterConfigError(f"cannot parse the URL {redact_url(url)!r}: {exc}"
                                      ) from None
    # An '@' after the host part: the user-info held '/', '?' or '#' (a legitimate path,
    # first query option name or fragment never holds '@'), so the host part ends inside the
    # password and its start would be read as a port. Quote nothing of it.
    first_option = parts.query.split("&", 1)[0].split("=", 1)[0]
    if "@" not in parts.netloc and ("@" in parts.path or "@" in parts.fragment
                                    or "@" in first_option):
        raise RedisClusterConfigError(
            "the URL's user name or password holds '/', '?' or '#': percent-encode them "
            "(%2F, %3F, %23); the URL is not shown as it holds the password")
    if not check_port:
        return parts  # type: ignore[no-any-return]
    try:
        port = parts.port  # urlsplit checks the port only when asked
    except ValueError:
        port = 0
    if port == 0:
        raise RedisClusterConfigError(
            f"invalid port in the URL {redact_url(url)!r}: it must be a number in 1..65535"
            ) from None
    return parts  # type: ignore[no-any-return]


_FALSE_STRINGS = ("0", "F", "FALSE", "N", "NO")


def to_bool(value: Any) -> Optional[bool]:
    """redis-py 3.5's ``to_bool``: None or "" -> None; "0 f false n no" (any case) -> False;
    anything else by truth value."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.upper() in _FALSE_STRINGS:
        return False
    return bool(value)


def _per_node(value: str) -> Union[bool, int]:
    flag = to_bool(value)
    try:
        return int(value)
    except ValueError:
        if flag is None:
            raise
        return flag


#: redis-py 3.5's URL_QUERY_ARGUMENT_PARSERS.
_REDIS_PY_PARSERS: Dict[str, Callable[[str], Any]] = {
    "socket_timeout": float,
    "socket_connect_timeout": float,
    "socket_keepalive": to_bool,
    "retry_on_timeout": to_bool,
    "max_connections": int,
    "health_check_interval": int,
    "ssl_check_hostname": to_bool,
}

#: The cluster pools' own options (typed here; redis-py 3.5 would have left them strings).
_POOL_PARSERS: Dict[str, Callable[[str], Any]] = {
    "init_slot_cache": to_bool,
    "skip_full_coverage_check": to_bool,
    "nodemanager_follow_cluster": to_bool,
    "readonly": to_bool,
    "blocking": to_bool,
    "decode_responses": to_bool,
    "reinitialize_steps": int,
    "max_connections_per_node": _per_node,
    "timeout": float,
    "max_waiters": int,
    "max_idle_time": float,
    "min_idle_per_node": int,
    "refresh_interval": float,
    "refresh_min_interval": float,
    "failure_cooldown": float,
    "probe_timeout": float,
    "discovery_timeout": float,
    "protocol": int,
}


def parse_url(url: str, db: Optional[Any] = None, decode_components: bool = False,
              **kwargs: Any) -> Dict[str, Any]:
    """The pool's keyword arguments for ``url`` plus ``kwargs`` (see the module text)."""
    parts = split_url(url, urlparse)
    options: Dict[str, Any] = {}
    for name, values in parse_qs(parts.query).items():
        if not values:
            continue
        parser = _REDIS_PY_PARSERS.get(name) or _POOL_PARSERS.get(name)
        if parser is None:
            options[name] = values[0]
            continue
        try:
            options[name] = parser(values[0])
        except (TypeError, ValueError):
            warnings.warn(UserWarning(f"Invalid value for `{name}` in connection URL."),
                          stacklevel=3)
    if decode_components:
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        path = unquote(parts.path) if parts.path else None
        hostname = unquote(parts.hostname) if parts.hostname else None
    else:
        username, password = parts.username or None, parts.password or None
        path, hostname = parts.path, parts.hostname
    if parts.scheme not in ("redis", "rediss"):
        raise RedisClusterConfigError(
            "Redis URL must specify one of the following schemes (redis://, rediss://); "
            f"got {redact_url(url)!r} (cluster nodes are reached over TCP: no unix://)")
    port = parts.port or 6379  # split_url checked it
    options.update({"host": hostname or "localhost", "port": port, "username": username,
                    "password": password})
    if "db" not in options and path and path.replace("/", ""):
        options["db"] = path.replace("/", "")  # checked below: "/abc" is an error, not ignored
    try:
        options["db"] = int(options.get("db", db or 0))
    except (TypeError, ValueError):
        raise RedisClusterConfigError(f"db must be a number; got {options.get('db', db)!r}",
                                      ) from None
    if options["db"] != 0:
        raise RedisClusterConfigError(
            f"Redis Cluster has only database 0; the URL or db= names {options['db']}")
    if parts.scheme == "rediss":
        options["ssl"] = True
    kwargs.update(options)
    for old, new in (("charset", "encoding"), ("errors", "encoding_errors")):
        if old in kwargs:
            warnings.warn(DeprecationWarning(f'"{old}" is deprecated. Use "{new}" instead'),
                          stacklevel=3)
            kwargs[new] = kwargs.pop(old)
    return kwargs
