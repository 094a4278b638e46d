"""redis-py-cluster 2.1.3's ``rediscluster.nodemanager``: ``NodeManager``.

clustercore's pools build their node manager in ``clustercore/_pool/nodemanager.py`` (issue 12,
the pool API). Until a clustercore without that module is gone, the name is resolved when it
is first used, so this module always imports: ``NodeManager`` is the pool layer's class when
it exists, and using it otherwise raises an ImportError that says what is missing.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["NodeManager"]  # noqa: F822 - resolved by __getattr__ on first use


def _load() -> Any:
    try:
        nodemanager = importlib.import_module("clustercore._pool.nodemanager")
    except ImportError as exc:  # a clustercore from before the pool layer's NodeManager
        raise ImportError("clustercore.compat.rediscluster.nodemanager: this clustercore has "
                          "no NodeManager (clustercore/_pool/nodemanager.py)") from exc
    return nodemanager.NodeManager


def __getattr__(name: str) -> Any:
    """``NodeManager`` on first access (PEP 562), from the pool layer."""
    if name == "NodeManager":
        cls = _load()
        globals()["NodeManager"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
