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

import glob
import os
import sys
from typing import Any, List

from setuptools import setup

#: The environment switch; "1" compiles, unset, "" or "0" builds the pure-Python package.
SWITCH = "CLUSTERCORE_COMPILE"

#: The modules compiled, relative to the repository root. Chosen by what mypyc accepts and by
#: what pays (docs/compiled.md lists the excluded hot modules and why). Left interpreted on
#: purpose: _net/connection.py (ClusterConnection's constructor: its checks see the arguments
#: as given; the I/O it inherits is _net/connection_core.py, compiled) and
#: _pool/cluster_pool.py (a native subclass's ``super().__init__(..., **kwargs)`` into a base
#: with keyword-only parameters is miscompiled by mypyc 2.4: the arguments land in the wrong
#: parameters), _execution/client.py (mypyc
#: crashes on RedisCluster's command-family mixins; users also add methods to it at run time),
#: _slots.py, _protocol/decoder.py and hiredis.py (compiled, an ``int`` parameter takes True and
#: 1.5 past the checks that refuse them by name, a bad key type is a bare TypeError, and
#: ``raise ... from`` loses the decode error's cause), _execution/pipeline.py (compat's
#: rediscluster.ClusterPipeline subclasses it: an interpreted class cannot subclass a compiled one).
COMPILED_MODULES: List[str] = [
    "clustercore/_protocol/encoder.py",
    "clustercore/_protocol/parser.py",
    "clustercore/_net/encoding.py",
    "clustercore/_net/connection_core.py",
    "clustercore/_pool/budget.py",
    "clustercore/_pool/node_pool.py",
    "clustercore/_commands/specs.py",
    "clustercore/_commands/keys.py",
    "clustercore/_commands/callbacks.py",
    "clustercore/_commands/merge.py",
    "clustercore/_execution/router.py",
    "clustercore/_execution/executor.py",
]


def compile_requested() -> bool:
    """Whether the environment asks for the compiled build (a value other than 1/0 is refused)."""
    value = os.environ.get(SWITCH, "").strip()
    if value in ("", "0"):
        return False
    if value == "1":
        return True
    raise SystemExit(f"{SWITCH}={value!r}: expected 1 (compile with mypyc) or 0 / unset (pure Python)")


#: setup.py commands that build code; the others (egg_info, dist_info, sdist: what pip runs to
#: ask for build requirements and metadata) get no extension list, so they need no mypy and
#: do not run mypyc for nothing.
BUILD_COMMANDS = frozenset({"build", "build_ext", "bdist_wheel", "install"})
#: Editable installs build extensions in place, next to the sources they would then shadow.
EDITABLE_COMMANDS = frozenset({"develop", "editable_wheel"})


def extension_modules() -> List[Any]:
    """The mypyc extensions when the switch is on and code is built, else none."""
    if not compile_requested():
        return []
    commands = set(sys.argv[1:])
    if commands & EDITABLE_COMMANDS:
        raise SystemExit(
            f"{SWITCH}=1 with an editable install: the compiled modules would be written next to "
            "the sources and shadow every edit; install the compiled build without -e")
    if not commands & BUILD_COMMANDS:
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
    # The project's mypy settings (setup.cfg [mypy]) apply, less what depends on the optional
    # packages installed beside the build (pip's isolated build environment has neither redis
    # nor hiredis: their imports are then Any, and the "type: ignore"s for them unused); the
    # strict check itself is CI's job (mypy clustercore). mypyc compiles for the running
    # interpreter. The shared runtime goes into one library named after the package.
    return mypycify(
        ["--config-file", os.path.join(here, "setup.cfg"), "--ignore-missing-imports",
         "--no-warn-unused-ignores", "--no-warn-return-any", *COMPILED_MODULES],
        opt_level=os.environ.get("CLUSTERCORE_COMPILE_OPT", "3"),
        group_name="clustercore",
    )


def remove_stale_extensions() -> None:
    """Delete extension files an earlier build left in build/lib*: setuptools packs everything
    there into the wheel, so a pure build after a compiled one (or a compiled one after the
    module list shrank) would otherwise ship old .so files that shadow the sources."""
    here = os.path.dirname(os.path.abspath(__file__))
    for lib in glob.glob(os.path.join(here, "build", "lib*")):
        for path in [*glob.glob(os.path.join(lib, "clustercore", "**", "*.so"), recursive=True),
                     *glob.glob(os.path.join(lib, "*__mypyc*.so"))]:
            os.remove(path)


if __name__ == "__main__":
    if set(sys.argv[1:]) & BUILD_COMMANDS:
        remove_stale_extensions()
    setup(ext_modules=extension_modules())
