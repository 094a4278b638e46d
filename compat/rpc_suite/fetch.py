"""Getting redis-py-cluster 2.1.3's tests and a reference environment for them.

The tests are not in the sdist on PyPI (it ships the package only), so they come from the
GitHub tag tarball (``TAG_URL``; its SHA-256 is recorded in ``SOURCE``), or, where GitHub is out
of reach, from a directory given with ``--tests-from`` (the tag's ``tests/``). They are cached in
``compat/.cache/redis-py-cluster-2.1.3-suite/tests`` (ignored by git), with a ``SOURCE`` file
saying where they came from.

The reference run needs redis-py-cluster 2.1.3 on the redis-py it was written for (3.5.3): a
venv of its own in ``compat/.cache/rpc-venv`` (``pip install``, made once).
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path
from typing import Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO_ROOT / "compat" / ".cache"
SUITE_DIR = CACHE_DIR / "redis-py-cluster-2.1.3-suite"
VENV_DIR = CACHE_DIR / "rpc-venv"
TAG_URL = "https://github.com/Grokzen/redis-py-cluster/archive/refs/tags/2.1.3.tar.gz"
#: What the reference venv holds: the library, the redis-py it targets, the suite's tools.
REFERENCE_PACKAGES = ("redis-py-cluster==2.1.3", "redis==3.5.3", "pytest<8", "pytest-timeout",
                      "mock")
PYTEST_INI = "[pytest]\naddopts = -p no:randomly\n"


def _install_tests(source: Path, note: str) -> None:
    tests = SUITE_DIR / "tests"
    if tests.exists():
        shutil.rmtree(tests)
    tests.mkdir(parents=True)
    for path in sorted(source.glob("*.py")):
        shutil.copyfile(path, tests / path.name)
    (tests / "__init__.py").touch()  # the suite imports `tests.conftest` and `.conftest`
    (SUITE_DIR / "SOURCE").write_text(note + "\n", encoding="utf-8")


def _download() -> str:
    """The tag tarball's tests/ into the cache; the SOURCE line."""
    with urllib.request.urlopen(TAG_URL, timeout=30) as response:
        data = response.read()
    digest = hashlib.sha256(data).hexdigest()
    staging = SUITE_DIR / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if len(parts) == 3 and parts[1] == "tests" and member.isfile() and (
                    parts[2].endswith(".py")):
                extracted = tar.extractfile(member)
                if extracted is not None:
                    (staging / parts[2]).write_bytes(extracted.read())
    _install_tests(staging, f"{TAG_URL} sha256={digest}")
    shutil.rmtree(staging, ignore_errors=True)
    return digest


def suite_dir(tests_from: Optional[Path] = None, note: Optional[str] = None) -> Path:
    """The suite's root (``tests/`` and ``pytest.ini`` in it), fetched or copied if needed;
    ``note`` says where copied tests came from (recorded in SOURCE and the report)."""
    SUITE_DIR.mkdir(parents=True, exist_ok=True)
    if tests_from is not None:
        if not (tests_from / "conftest.py").is_file():
            raise SystemExit(f"--tests-from {tests_from}: no conftest.py there (give the tests/ "
                             "directory of redis-py-cluster's tag 2.1.3)")
        _install_tests(tests_from, f"copied from {tests_from.resolve()}"
                       + (f": {note}" if note else ""))
    elif not (SUITE_DIR / "tests" / "conftest.py").is_file():
        try:
            _download()
        except OSError as exc:
            raise SystemExit(
                f"could not download {TAG_URL} ({exc}); the PyPI sdist has no tests. Give the "
                "tag's tests/ directory with --tests-from DIR") from exc
    (SUITE_DIR / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    return SUITE_DIR


def reference_python() -> Path:
    """The reference venv's python (made with ``REFERENCE_PACKAGES`` the first time)."""
    python = VENV_DIR / "bin" / "python"
    marker = VENV_DIR / "packages.txt"
    wanted = "\n".join(REFERENCE_PACKAGES) + "\n"
    if python.exists() and marker.exists() and marker.read_text(encoding="utf-8") == wanted:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV_DIR)], check=True,
                   timeout=300)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *REFERENCE_PACKAGES],
                   check=True, timeout=600)
    marker.write_text(wanted, encoding="utf-8")
    return python
