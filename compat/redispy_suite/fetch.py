"""Fetch redis-py's test suite for a version and lay it out for the runs, cached in compat/.cache.

The sdist on PyPI carries ``tests/`` (checked: redis 8.1.0 does), so the first source is
``pip download redis==VERSION --no-binary :all: --no-deps``; the GitHub tag tarball is the
fallback.  The archive is checked against a pinned SHA-256 where one is known.  Only the
top-level sync test modules, their helpers and ``testdata/`` are extracted (no
``test_asyncio/``, no sub-packages that need other services or extra packages), plus a
``pytest.ini`` with the suite's marker list (from its ``pyproject.toml``) and nothing else: the
runner passes every option explicitly.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path
from typing import List, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # the allowlist and the suite's marker list need tomllib
    tomllib = None

CACHE_DIR = Path(__file__).resolve().parents[1] / ".cache"

#: SHA-256 of archives verified once by hand (redis-py sdists from PyPI).
PINNED_SHA256 = {
    "redis-8.1.0.tar.gz": "6e1a19beef9225c83efd689c7e6b7da2d5215b1f42cd13b7fc3714d0a09c7b25",
}
GITHUB_URL = "https://github.com/redis/redis-py/archive/refs/tags/v{version}.tar.gz"


class FetchError(RuntimeError):
    """The suite could not be downloaded, verified or extracted; the message says why."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: Path) -> None:
    expected = PINNED_SHA256.get(path.name)
    if expected is not None and _sha256(path) != expected:
        path.unlink()
        raise FetchError(f"{path.name}: SHA-256 mismatch (expected {expected}); deleted it")


def _download_sdist(version: str, dest: Path, timeout: float) -> Optional[Path]:
    """The sdist through pip (PyPI), or None when pip cannot get it."""
    target = dest / f"redis-{version}.tar.gz"
    if target.exists():
        return target
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", f"redis=={version}", "--no-binary",
               ":all:", "--no-deps", "-q", "-d", tmp]
        try:
            subprocess.run(cmd, check=True, timeout=timeout, capture_output=True)
        except (OSError, subprocess.SubprocessError):
            return None
        found = list(Path(tmp).glob("redis-*.tar.gz"))
        if not found:
            return None
        shutil.move(str(found[0]), target)
    return target


def _download_github(version: str, dest: Path, timeout: float) -> Optional[Path]:
    """The GitHub tag tarball, or None when GitHub cannot be reached."""
    target = dest / f"redis-py-{version}-github.tar.gz"
    if target.exists():
        return target
    partial = target.with_suffix(".part")
    try:
        with urllib.request.urlopen(GITHUB_URL.format(version=version), timeout=timeout) as resp:
            partial.write_bytes(resp.read())
    except OSError:
        partial.unlink(missing_ok=True)
        return None
    partial.rename(target)
    return target


def _members(archive: tarfile.TarFile) -> List[tarfile.TarInfo]:
    """Top-level ``tests/*.py``, ``tests/testdata/**`` and ``pyproject.toml`` (regular files)."""
    chosen: List[tarfile.TarInfo] = []
    for member in archive.getmembers():
        parts = member.name.split("/")
        if not member.isfile() or len(parts) < 2 or ".." in parts:
            continue
        rel = parts[1:]
        if rel == ["pyproject.toml"] or (rel[0] == "tests" and (
                (len(rel) == 2 and rel[1].endswith(".py")) or (len(rel) > 2 and rel[1] == "testdata"))):
            chosen.append(member)
    return chosen


def _pytest_ini(pyproject: Path) -> str:
    """A pytest.ini declaring the suite's markers (so none is "unknown"), nothing else."""
    markers: List[str] = []
    if tomllib is not None and pyproject.exists():
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        markers = list(data.get("tool", {}).get("pytest", {}).get("ini_options", {})
                       .get("markers", []))
    markers.append("forked: run in a subprocess (pytest-forked; not installed)")
    body = "\n".join(f"    {m}" for m in markers)
    return f"[pytest]\n# written by compat/redispy_suite/fetch.py\nmarkers =\n{body}\n"


def suite_dir(version: str, cache: Path = CACHE_DIR, timeout: float = 180.0) -> Path:
    """The extracted suite for ``version`` (``<dir>/tests/...`` and ``<dir>/pytest.ini``)."""
    out = cache / f"redis-py-{version}-suite"
    if (out / "pytest.ini").exists() and (out / "tests" / "conftest.py").exists():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    archive_path = _download_sdist(version, cache, timeout) or _download_github(
        version, cache, timeout)
    if archive_path is None:
        raise FetchError(f"could not download redis-py {version}: neither `pip download` "
                         f"(PyPI) nor {GITHUB_URL.format(version=version)} worked")
    _verify(archive_path)
    staging = Path(tempfile.mkdtemp(prefix="suite-", dir=cache))
    try:
        with tarfile.open(archive_path) as archive:
            members = _members(archive)
            if not any(m.name.endswith("/tests/conftest.py") for m in members):
                raise FetchError(f"{archive_path.name} has no tests/conftest.py")
            for member in members:
                rel = Path(*member.name.split("/")[1:])
                source = archive.extractfile(member)
                if source is None:
                    continue
                target = staging / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read())
        (staging / "pytest.ini").write_text(_pytest_ini(staging / "pyproject.toml"),
                                            encoding="utf-8")
        (staging / "SOURCE").write_text(f"{archive_path.name} sha256 {_sha256(archive_path)}\n",
                                        encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return out
