"""Exit codes and the plain-words descriptions of connection problems.

Every command ends with one of :class:`Exit`'s codes, which are part of the interface (scripts
branch on them) and documented in docs/cli.md. A failure is reported as one line; the message
is built here from the exception's type and text, so wrong passwords, TLS certificates for
another name and frozen nodes read as what they are rather than as a traceback.
"""

from __future__ import annotations

import enum
from typing import Iterable, Optional

import clustercore

__all__ = ["CliError", "Exit", "describe", "scrub"]


class Exit(enum.IntEnum):
    """The process exit codes of every ``clustercore`` command (stable)."""

    OK = 0
    #: ``check``/``ping``/``cluster status`` found a problem; ``bench`` saw command errors.
    PROBLEMS = 1
    #: Bad options or arguments (click's own usage errors use 2 as well).
    USAGE = 2
    #: No seed could be reached or the handshake failed (or, for ``cluster up`` and ``demo``,
    #: redis-server is not installed).
    CANNOT_CONNECT = 3
    #: Interrupted (Ctrl-C).
    INTERRUPTED = 130
    #: A bug in clustercore: the message says to rerun with --debug for the traceback.
    INTERNAL = 70


class CliError(Exception):
    """A failure to report as one line with an exit code (raised by the commands)."""

    def __init__(self, message: str, code: Exit) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def scrub(text: str, secrets: Iterable[Optional[str]]) -> str:
    """``text`` with every secret replaced by ``***`` (a last guard: messages never print one)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _chain(exc: BaseException) -> str:
    """The exception's text and that of its causes, lower-cased, for classification."""
    parts = []
    seen: Optional[BaseException] = exc
    depth = 0
    while seen is not None and depth < 5:
        parts.append(f"{type(seen).__name__}: {seen}")
        seen = seen.__cause__ or seen.__context__
        depth += 1
    return " | ".join(parts).lower()


def describe(exc: BaseException, *, timeout: float, tls: bool) -> str:
    """One plain sentence (without the address) saying what went wrong talking to a node."""
    text = _chain(exc)
    if "wrongpass" in text or "invalid password" in text:
        return "wrong password (or user name): the server refused the credentials (WRONGPASS)"
    if "without any password configured" in text:
        return "a password was given but the server has none configured"
    if "noauth" in text or "authentication required" in text:
        return "the server requires a password: give --password-env VAR or --ask-password"
    if "noperm" in text or isinstance(exc, clustercore.AuthorizationError):
        return "the user is not allowed to run the commands clustercore needs (NOPERM)"
    if "hostname mismatch" in text or "doesn't match" in text:
        return ("the server's TLS certificate is for another name "
                "(use --tls-server-name NAME, or --insecure-hostname to skip the name check)")
    if "certificate verify failed" in text or "certificate verification failed" in text:
        return ("the server's TLS certificate is not trusted "
                "(give the CA that signed it with --ca FILE)")
    if "wrong version number" in text or "unknown protocol" in text:
        return "the server does not speak TLS here (drop --tls?)"
    if "handshake operation timed out" in text:
        return (f"the TLS handshake got no answer within {timeout:g}s "
                "(does the server speak TLS on this port? drop --tls?)")
    if "connection refused" in text:
        return "connection refused: nothing listens on that address"
    if "name or service not known" in text or "nodename nor servname" in text or (
            "getaddrinfo" in text) or "temporary failure in name resolution" in text:
        return "the host name does not resolve"
    if "timeout connecting" in text or "timed out connecting" in text:
        return f"no connection within {timeout:g}s (wrong address, firewall, or host down)"
    if isinstance(exc, (clustercore.TimeoutError, TimeoutError)) or "timeout" in text:
        return (f"accepts connections but did not answer within {timeout:g}s "
                "(frozen or overloaded, or not a Redis server)")
    if "connection reset" in text or "closed by server" in text or "closed the connection" in text:
        hint = "" if tls else " (does it expect TLS? try --tls)"
        return f"the server closed the connection{hint}"
    return f"{type(exc).__name__}: {exc}"
