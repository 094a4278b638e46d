"""Optional compiled build: mypyc turns the hot modules into C extensions (docs/compiled.md).

The package metadata lives in pyproject.toml; this file only adds extension modules, and only
when asked: ``CLUSTERCORE_COMPILE=1 pip install .``. Without the switch (the default, and what
a user who does nothing gets) it adds nothing and the install is the pure-Python package. The
compiled modules are the same sources: mypyc reads the type annotations mypy --strict already
checks, so there is no second codebase; every module not listed here stays interpreted, and a
compiled module imports and calls interpreted ones as usual.

mypy (which ships mypyc) is a build requirement only when the switch is on: the in-tree build
backend (_build_backend/clustercore_build.py) asks pip for it. Asking for the compiled build
without mypy importable is an error naming the missing requirement, never a silent fallback.
"""

from __future__ import annotations

import os
from typing import Any, List

from setuptools import setup

#: The environment switch; "1" compiles, unset, "" or "0" builds the pure-Python package.
SWITCH = "CLUSTERCORE_COMPILE"

#: The modules compiled, relative to the repository root. Chosen by what mypyc accepts and by
#: what pays (docs/compiled.md lists the excluded hot modules and why). Left interpreted on
#: purpose: _net/connection.py and _pool/cluster_pool.py (a native subclass's
#: ``super().__init__(..., **kwargs)`` into a base with keyword-only parameters is miscompiled
#: by mypyc 2.4: the arguments land in the wrong parameters), _execution/client.py (mypyc
#: crashes on RedisCluster's command-family mixins; users also add methods to it at run time).
COMPILED_MODULES: List[str] = [
    "clustercore/_slots.py",
    "clustercore/_protocol/decoder.py",
    "clustercore/_protocol/encoder.py",
    "clustercore/_protocol/parser.py",
    "clustercore/_protocol/hiredis.py",
    "clustercore/_net/encoding.py",
    "clustercore/_pool/budget.py",
    "clustercore/_pool/node_pool.py",
    "clustercore/_commands/specs.py",
    "clustercore/_commands/keys.py",
    "clustercore/_commands/callbacks.py",
    "clustercore/_commands/merge.py",
    "clustercore/_execution/router.py",
    "clustercore/_execution/executor.py",
    "clustercore/_execution/pipeline.py",
]


def compile_requested() -> bool:
    """Whether the environment asks for the compiled build (a value other than 1/0 is refused)."""
    value = os.environ.get(SWITCH, "").strip()
    if value in ("", "0"):
        return False
    if value == "1":
        return True
    raise SystemExit(f"{SWITCH}={value!r}: expected 1 (compile with mypyc) or 0 / unset (pure Python)")


def extension_modules() -> List[Any]:
    """The mypyc extensions when the switch is on, else none (the pure-Python package)."""
    if not compile_requested():
        return []
    try:
        from mypyc.build import mypycify
    except ImportError as exc:
        raise SystemExit(
            f"{SWITCH}=1 needs mypy (it ships mypyc) importable at build time: {exc}; "
            "pip install . does this by itself (the build backend asks for mypy), "
            "with --no-build-isolation install mypy first"
        ) from exc
    here = os.path.dirname(os.path.abspath(__file__))
    missing = [m for m in COMPILED_MODULES if not os.path.isfile(os.path.join(here, m))]
    if missing:
        raise SystemExit(f"{SWITCH}=1: modules listed for compilation are missing: {missing}")
    # The project's mypy settings (setup.cfg [mypy]) apply; mypyc compiles for the running
    # interpreter. The shared runtime goes into one library named after the package.
    return mypycify(
        ["--config-file", os.path.join(here, "setup.cfg"), *COMPILED_MODULES],
        opt_level=os.environ.get("CLUSTERCORE_COMPILE_OPT", "3"),
        group_name="clustercore",
    )


if __name__ == "__main__":
    setup(ext_modules=extension_modules())
