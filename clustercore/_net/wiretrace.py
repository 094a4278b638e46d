"""Credential redaction and hex dumps for the wire trace and error messages.

What may never appear in a log, a trace or an error: AUTH's arguments, HELLO / MIGRATE AUTH,
CONFIG SET of a password parameter, ACL SETUSER password rules (:func:`redact`); replies that
may echo one are traced by size only (:func:`secret_reply`). Kept apart from the connection so
that module stays about I/O.
"""

from __future__ import annotations

from typing import Sequence, Tuple, Union

__all__ = ["hexdump", "redact", "secret_reply", "upper_word"]

Arg = Union[bytes, str, int, float, memoryview, bytearray]
_REDACTED = b"<redacted>"


#: CONFIG parameters whose values are credentials (CONFIG SET's value is redacted).
_SECRET_CONFIG = frozenset({b"MASTERAUTH", b"REQUIREPASS", b"TLS-KEY-FILE-PASS",
                            b"TLS-CLIENT-KEY-FILE-PASS"})
#: ACL SETUSER rules that carry a password or its hash: ``>pw``, ``<pw``, ``#hash``, ``!hash``.
_SECRET_RULE_PREFIXES = (b">", b"<", b"#", b"!")


def redact(args: Sequence[Arg]) -> Tuple[Arg, ...]:
    """Return ``args`` with every credential replaced, for logs, traces and error messages:
    AUTH's arguments, HELLO ... AUTH and MIGRATE ... AUTH / AUTH2, CONFIG SET of a password
    parameter (``masterauth``, ``requirepass``, the TLS key passphrases) and ACL SETUSER's
    password rules (``>pw <pw #hash !hash``)."""
    if not args:
        return tuple(args)
    name = upper_word(args[0])
    if name == b"AUTH":
        return (args[0],) + (_REDACTED,) * (len(args) - 1)
    if name in (b"HELLO", b"MIGRATE"):
        out = list(args)
        i = 1
        while i < len(out):
            word = upper_word(out[i])
            # HELLO ... AUTH user pass; MIGRATE ... AUTH pass | AUTH2 user pass
            count = 2 if word == b"AUTH2" or (word == b"AUTH" and name == b"HELLO") else (
                1 if word == b"AUTH" else 0)
            for j in range(i + 1, min(i + 1 + count, len(out))):
                out[j] = _REDACTED
            i += 1 + count
        return tuple(out)
    sub = upper_word(args[1]) if len(args) > 1 else b""
    if name == b"CONFIG" and sub == b"SET":
        out = list(args)
        for i in range(2, len(out) - 1, 2):  # CONFIG SET param value [param value ...]
            if upper_word(out[i]) in _SECRET_CONFIG:
                out[i + 1] = _REDACTED
        return tuple(out)
    if name == b"ACL" and sub == b"SETUSER":
        return tuple(args[:3]) + tuple(
            _REDACTED if upper_word(rule).startswith(_SECRET_RULE_PREFIXES) else rule
            for rule in args[3:])
    return tuple(args)


def secret_reply(args: Sequence[Arg]) -> bool:
    """Whether the reply to ``args`` may hold a credential (CONFIG GET can return
    ``requirepass``; ACL GETUSER / ACL LIST show password hashes): its read is not dumped."""
    if len(args) < 2:
        return False
    name, sub = upper_word(args[0]), upper_word(args[1])
    return (name == b"CONFIG" and sub == b"GET") or (
        name == b"ACL" and sub in (b"GETUSER", b"LIST"))


def upper_word(arg: Arg) -> bytes:
    """A command word as upper-case bytes (b"" for a non-text argument)."""
    if isinstance(arg, str):
        return arg.upper().encode()
    if isinstance(arg, (bytes, bytearray)):
        return bytes(arg).upper()
    return b""


def hexdump(data: bytes) -> str:
    """A Netty-style hex dump: offset, 16 hex bytes, printable ASCII."""
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        hexpart = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{off:08x}| {hexpart:<47} |{text}")
    return "\n".join(lines)
