"""Public path of ``Script`` (``clustercore.script.Script``, as documented since the first
release); the implementation lives in ``clustercore._execution.script``."""

from __future__ import annotations

from ._execution.script import Script

__all__ = ["Script"]
