#!/usr/bin/env bash
# The unit suite against the optional mypyc-compiled build (docs/compiled.md).
#
# Builds `CLUSTERCORE_COMPILE=1 pip install ".[dev]"` into .venv-compiled (gitignored; created on
# first use, pip's cache reused), checks that every module setup.py lists is really a C extension
# (module.__file__ ends in .so), then runs tests/unit against that install. The rebuild is skipped
# when nothing the build reads has changed since the last one (a stamp in the venv).
# Tests marked not_compiled are skipped in this run only (tests/conftest.py).
# Extra arguments go to pytest (default: tests/unit -q -p no:randomly).
# Timings go to stderr: build and tests separately.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=.venv-compiled
PY="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV =="
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
fi

# Everything the build reads: the package sources and the build configuration.
stamp="$( (git ls-files -s -- clustercore setup.py setup.cfg pyproject.toml _build_backend 2>/dev/null
           git diff --no-ext-diff -- clustercore setup.py setup.cfg pyproject.toml _build_backend 2>/dev/null
           "$VENV/bin/python" -c 'import sys; print(sys.version)') | sha256sum | cut -c1-16)"
start=$(date +%s)
if [ "$(cat "$VENV/.clustercore-build-stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "== building the compiled clustercore into $VENV (mypyc; a few minutes) =="
  # pip's isolated build environment gets mypy from the build backend (the path a user takes);
  # the dev extra brings the test tools. Uninstalling first makes pip build the checkout again.
  "$VENV/bin/python" -m pip uninstall -q -y clustercore >/dev/null 2>&1 || true
  CLUSTERCORE_COMPILE=1 "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    ".[dev]" >"$VENV/build.log" 2>&1 \
    || { tail -40 "$VENV/build.log"; echo "compiled build failed (log: $VENV/build.log)" >&2; exit 1; }
  echo "$stamp" >"$VENV/.clustercore-build-stamp"
else
  echo "== $VENV is up to date with the sources (stamp $stamp) =="
fi
built=$(date +%s)

echo "== checking that the listed modules are compiled =="
# -P: the checkout is not on sys.path, so the installed (compiled) package is the one imported.
"$VENV/bin/python" -P - <<'PY'
import importlib, importlib.machinery, importlib.util, sys
spec = importlib.util.spec_from_file_location("clustercore_setup", "setup.py")
setup = importlib.util.module_from_spec(spec)
spec.loader.exec_module(setup)
suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
bad = []
for path in setup.COMPILED_MODULES:
    name = path[:-3].replace("/", ".")
    module = importlib.import_module(name)
    if not module.__file__.endswith(suffixes):
        bad.append(f"{name}: {module.__file__}")
import clustercore, glob, os
listed = {os.path.join(os.path.dirname(os.path.dirname(clustercore.__file__)), p[:-3])
          for p in setup.COMPILED_MODULES}
root = os.path.dirname(clustercore.__file__)
for path in glob.glob(os.path.join(root, "**", "*.so"), recursive=True):
    if path.split(".cpython-")[0] not in listed:
        bad.append(f"{path}: compiled but not listed in setup.py (a stale build?)")
if bad:
    sys.exit("not compiled as listed:\n  " + "\n  ".join(bad))
print(f"{len(setup.COMPILED_MODULES)} modules compiled, e.g. {module.__file__}")
PY

echo "== pytest (compiled build) =="
# --import-mode=append keeps the checkout behind site-packages on sys.path (tests/ is a package,
# so pytest would otherwise put the checkout first and test the sources, not the build).
set +e
CLUSTERCORE_EXPECT_COMPILED=1 "$VENV/bin/python" -P -m pytest --import-mode=append \
  "${@:-tests/unit}" $( [ $# -eq 0 ] && echo "-q -p no:randomly" )
rc=$?
set -e
done_at=$(date +%s)
echo "== compiled build: $((built - start)) s, tests: $((done_at - built)) s ==" >&2
exit $rc
