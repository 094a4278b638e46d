"""Django's own generic cache-backend tests (BaseCacheTests) run against RedisClusterCache.

``fetch()`` gets Django's sdist (pinned version and SHA-256) with ``pip download``, caches it
under ``<repo>/tmp/`` (gitignored) and extracts ``tests/cache/`` and Django's LICENSE (the test
files are Django's, BSD-licensed; they are read from the archive, never copied into this
repository).

``python -m tests.integration.django_suite SUITE_DIR LOCATION`` (what
tests/integration/test_django_basecache.py runs in a subprocess, so that Django's settings and
test database do not leak into the rest of the pytest run) wires the suite the way Django wires
its own RedisCacheTests: ``BaseCacheTests`` mixed into ``django.test.TestCase`` under
``override_settings(CACHES=caches_setting_for_tests(base=params, exclude={"cull",
"zero_cull"}))``. It prints every test's outcome and, last, one JSON line with the counts.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest
from pathlib import Path
from typing import Any, Dict, List

DJANGO_VERSION = "5.2.19"
SDIST = f"django-{DJANGO_VERSION}.tar.gz"
SDIST_SHA256 = "ad03d8abc51dbff95ebf34b27123cf0c26a3b62db7ba0cd520783686362533d1"
CACHE_DIR = Path(__file__).resolve().parents[2] / "tmp" / "django-suite"
BACKEND = "clustercore.contrib.django.RedisClusterCache"
#: The aliases Django's RedisCacheTests leaves out (Redis does not cull).
EXCLUDED_ALIASES = {"cull", "zero_cull"}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(dest: Path, timeout: float) -> Path:
    target = dest / SDIST
    if target.exists() and _sha256(target) == SDIST_SHA256:
        return target
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", f"Django=={DJANGO_VERSION}",
               "--no-binary", ":all:", "--no-deps", "--disable-pip-version-check", "-q",
               "-d", tmp]
        done = subprocess.run(cmd, timeout=timeout, capture_output=True, text=True)
        found = list(Path(tmp).glob("[Dd]jango-*.tar.gz"))
        if done.returncode != 0 or not found:
            raise RuntimeError(f"pip download Django=={DJANGO_VERSION} failed: {done.stderr}")
        if _sha256(found[0]) != SDIST_SHA256:
            raise RuntimeError(f"{found[0].name}: SHA-256 is not the pinned {SDIST_SHA256}")
        shutil.move(str(found[0]), target)
    return target


def fetch(cache: Path = CACHE_DIR, timeout: float = 300.0) -> Path:
    """The directory holding Django's ``cache`` test package (``<dir>/cache/tests.py``)."""
    out = cache / f"django-{DJANGO_VERSION}-tests"
    if (out / "cache" / "tests.py").exists():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    archive = _download(cache, timeout)
    staging = Path(tempfile.mkdtemp(prefix="staging-", dir=cache))
    try:
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                parts = member.name.split("/")
                if not member.isfile() or ".." in parts or len(parts) < 2:
                    continue
                rel = parts[1:]
                if rel == ["LICENSE"] or (len(rel) == 3 and rel[:2] == ["tests", "cache"]
                                          and rel[2].endswith(".py")):
                    source = tar.extractfile(member)
                    if source is None:
                        continue
                    target = staging / (rel[-1] if rel == ["LICENSE"] else Path(*rel[1:]))
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(source.read())
        if not (staging / "cache" / "tests.py").exists():
            raise RuntimeError(f"{archive.name} has no tests/cache/tests.py")
        (staging / "SOURCE").write_text(f"{SDIST} sha256 {SDIST_SHA256}\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return out


def _configure(location: str) -> None:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="django-suite",
        USE_TZ=False,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth",
                        "django.contrib.sessions", "cache"],
        CACHES={"default": {"BACKEND": BACKEND, "LOCATION": location}},
        MIDDLEWARE=[],
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates",
                    "APP_DIRS": True}],
    )
    django.setup()


class _Counts(unittest.TextTestResult):
    """Records every outcome by test name for the JSON summary."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.passed: List[str] = []

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self.passed.append(test.id())


def run(suite_dir: Path, location: str) -> Dict[str, Any]:
    """Run BaseCacheTests on ``location``; the counts and the failures' tracebacks."""
    sys.path.insert(0, str(suite_dir))
    _configure(location)
    from cache import tests as django_cache_tests  # Django's module, as Django names it
    from django.test import TestCase, override_settings
    from django.test.runner import DiscoverRunner

    import clustercore

    params = {"BACKEND": BACKEND, "LOCATION": location}

    @override_settings(CACHES=django_cache_tests.caches_setting_for_tests(
        base=params, exclude=EXCLUDED_ALIASES))
    class RedisClusterCacheTests(django_cache_tests.BaseCacheTests, TestCase):
        # a non-integer value makes INCRBY fail on the server, as with Django's RedisCache
        incr_decr_type_error = clustercore.ResponseError

    runner = DiscoverRunner(verbosity=0, interactive=False)
    runner.setup_test_environment()
    old = runner.setup_databases()
    try:
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(RedisClusterCacheTests)
        result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2,
                                         resultclass=_Counts).run(suite)
    finally:
        runner.teardown_databases(old)
        runner.teardown_test_environment()
    assert isinstance(result, _Counts)
    return {
        "tests": result.testsRun,
        "passed": len(result.passed),
        "skipped": len(result.skipped),
        "failed": len(result.failures),
        "errors": len(result.errors),
        "unexpected_successes": len(result.unexpectedSuccesses),
        "problems": [f"{t.id()}\n{tb}" for t, tb in result.failures + result.errors],
        "skips": [f"{t.id()}: {why}" for t, why in result.skipped],
    }


if __name__ == "__main__":
    summary = run(Path(sys.argv[1]), sys.argv[2])
    print("DJANGO-SUITE-RESULT " + json.dumps(summary))
