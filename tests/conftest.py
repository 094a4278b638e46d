"""Suite-wide settings: hypothesis profiles ("dev" by default, "ci" when CI is set); SIGTERM
stops the suite cleanly."""

from __future__ import annotations

import os
import signal
import threading

from hypothesis import HealthCheck, settings

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
