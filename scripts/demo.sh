#!/usr/bin/env bash
# The README's demo command: installs what it needs, starts a local cluster, shows the client.
CLUSTERCORE_EXTRAS="${CLUSTERCORE_EXTRAS:-hiredis}"
export CLUSTERCORE_EXTRAS
source "$(dirname "$0")/_setup.sh"
exec .venv/bin/python examples/demo.py "$@"
