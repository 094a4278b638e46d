"""Suite-wide settings: hypothesis profiles ("dev" by default, "ci" when CI is set); SIGTERM
stops the suite cleanly; tests marked ``not_compiled`` are skipped when the clustercore under
test is the mypyc-compiled build (scripts/test_compiled.sh, docs/compiled.md)."""

from __future__ import annotations

import importlib.machinery
import os
import signal
import threading
from typing import List

import pytest
from hypothesis import HealthCheck, settings

import clustercore._execution.executor as _probe

#: Whether the clustercore imported is the compiled build (its modules are C extensions).
COMPILED = (_probe.__file__ or "").endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "nightly", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


def pytest_configure(config: object) -> None:
    """A SIGTERM (a CI timeout, `kill`) ends the session the way Ctrl-C does (KeyboardInterrupt,
    which no `except Exception` swallows): fixtures tear down, so the redis-server processes
    the suite started are stopped, not left running."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def pytest_report_header() -> str:
    """Say which build of clustercore the run tests (the compiled one or the pure package)."""
    build = "compiled (mypyc)" if COMPILED else "pure Python"
    return f"clustercore: {build} from {_probe.__file__}"


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    """Under the compiled build, skip the tests marked ``not_compiled`` (they inspect or patch
    module internals that compiled code does not have). CLUSTERCORE_EXPECT_COMPILED=1 (set by
    scripts/test_compiled.sh) makes testing the pure package by mistake an error."""
    if os.environ.get("CLUSTERCORE_EXPECT_COMPILED") == "1" and not COMPILED:
        raise pytest.UsageError(
            f"CLUSTERCORE_EXPECT_COMPILED=1 but {_probe.__file__} is not compiled")
    if not COMPILED:
        return
    for item in items:
        marker = item.get_closest_marker("not_compiled")
        if marker is not None:
            reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
            item.add_marker(pytest.mark.skip(reason=f"not under the compiled build: {reason}"))
