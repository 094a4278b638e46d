# Sourced by test.sh and demo.sh: installs redis-server when missing and prepares .venv.
# Everything a fresh Debian machine with Python 3.11 lacks is installed here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY="${PYTHON:-python3}"
# gcc and the Python headers: only for the optional compiled build (scripts/test_compiled.sh)
has_headers() { [ -f "$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ]; }
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1 \
   || ! command -v tmux >/dev/null 2>&1 || ! command -v gcc >/dev/null 2>&1 || ! has_headers; then
  echo "== installing redis-server, tmux, gcc, python3-dev (Debian packages) =="
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools tmux \
    gcc python3-dev >/dev/null
fi
command -v redis-server >/dev/null 2>&1 || { echo "redis-server is still missing" >&2; exit 3; }

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv =="
  "$PY" -m venv .venv
fi
EXTRAS="${CLUSTERCORE_EXTRAS:-dev}"
echo "== installing clustercore[$EXTRAS] into .venv =="
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$EXTRAS]"
