"""Glob patterns for KEYS / SCAN MATCH built from user-supplied prefixes."""

from __future__ import annotations

__all__ = ["glob_escape"]

_GLOB_SPECIAL = "\\*?[]"


def glob_escape(text: str) -> str:
    """``text`` as a literal inside a Redis glob pattern: a key prefix such as ``"a*"`` must
    match only keys that start with ``a*``, not every key that starts with ``a``."""
    return "".join("\\" + ch if ch in _GLOB_SPECIAL else ch for ch in text)
