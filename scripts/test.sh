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
echo "== pytest =="
exec .venv/bin/python -m pytest "$@"
