#!/usr/bin/env bash
# The README's test command: installs what it needs, then lint, types, unit + real-cluster tests.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh tests/unit -x`).
source "$(dirname "$0")/_setup.sh"
echo "== ruff =="
.venv/bin/python -m ruff check clustercore tests examples benchmarks compat faults
echo "== mypy =="
.venv/bin/python -m mypy clustercore
echo "== docs =="
.venv/bin/python -m mkdocs build --strict --site-dir tmp/site
# The same unit suite against the optional mypyc build (issue 15), in the background while
# the pure-Python suite runs (it is mostly compile time); only for a whole run, not for a
# selection given as arguments. CLUSTERCORE_SKIP_COMPILED=1 leaves it out.
compiled=""
if [ "$#" -eq 0 ] && [ "${CLUSTERCORE_SKIP_COMPILED:-0}" != 1 ]; then
  mkdir -p tmp
  echo "== compiled build + its unit suite: in the background (log: tmp/compiled.log) =="
  bash scripts/test_compiled.sh >tmp/compiled.log 2>&1 &
  compiled=$!
fi
echo "== pytest =="
set +e
.venv/bin/python -m pytest "$@"
rc=$?
if [ -n "$compiled" ]; then
  wait "$compiled"
  crc=$?
  echo "== compiled build: $( [ "$crc" = 0 ] && echo passed || echo "FAILED (exit $crc)") =="
  tail -4 tmp/compiled.log
  [ "$rc" = 0 ] && rc=$crc
fi
exit "$rc"
