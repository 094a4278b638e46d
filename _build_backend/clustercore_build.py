"""In-tree build backend: setuptools' own, plus mypy as a build requirement when compiling.

``CLUSTERCORE_COMPILE=1 pip install .`` builds the optional mypyc extensions (setup.py,
docs/compiled.md). mypy, which ships mypyc, is then needed at build time, but only then: a
plain ``pip install .`` must not download a type checker to install a pure-Python package.
setuptools' static ``[build-system] requires`` cannot say "only when a variable is set", so
this module answers pip's get_requires_* hooks itself (setuptools documents this pattern for
dynamic build dependencies) and leaves every other hook to ``setuptools.build_meta``.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403  (every other PEP 517/660 hook)

#: What compiling needs beyond setuptools (mypyc ships in the mypy distribution).
COMPILE_REQUIRES = ["mypy>=1.10"]


def _extra() -> List[str]:
    """mypy when setup.py's switch asks for the compiled build (setup.py validates the value)."""
    return list(COMPILE_REQUIRES) if os.environ.get("CLUSTERCORE_COMPILE", "").strip() == "1" else []


def get_requires_for_build_wheel(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    """setuptools' wheel requirements, plus mypy when compiling."""
    return [*_setuptools.get_requires_for_build_wheel(config_settings), *_extra()]


def get_requires_for_build_editable(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    """setuptools' editable requirements, plus mypy when compiling."""
    return [*_setuptools.get_requires_for_build_editable(config_settings), *_extra()]


def get_requires_for_build_sdist(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    """An sdist never compiles: setuptools' requirements only."""
    return list(_setuptools.get_requires_for_build_sdist(config_settings))
