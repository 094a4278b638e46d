"""Integration fixtures: real local Redis Clusters (clustercore.testing.LocalCluster).

Every test in this directory gets the ``integration`` marker.  Without redis-server/redis-cli
the tests are skipped locally, but the run aborts when ``CI`` is set: CI must never skip them.
Shared clusters are session-scoped and started lazily; ``make_cluster`` makes throw-away
clusters for destructive tests.  Startup times are printed in the terminal summary.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from clustercore.testing import LocalCluster, RedisServerNotFound

INTEGRATION_DIR = Path(__file__).resolve().parent
IN_CI = bool(os.environ.get("CI"))
SHARED_CLUSTERS = ("cluster", "tls_cluster", "auth_cluster")
AUTH_PASSWORD = "s3cret"
ACL_USER, ACL_PASSWORD = "alice", "wonderland"

# name -> seconds from start() until healthy, for the terminal summary
STARTUP_TIMES: dict[str, float] = {}


def _missing_redis() -> str | None:
    try:
        LocalCluster.check_available()
    except RedisServerNotFound as exc:
        return str(exc)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests under tests/integration; skip them (or abort in CI) without redis-server."""
    ours = [item for item in items if INTEGRATION_DIR in item.path.resolve().parents]
    for item in ours:
        item.add_marker(pytest.mark.integration)
    if not ours:
        return
    missing = _missing_redis()
    if missing is None:
        return
    if IN_CI:
        pytest.exit(f"CI is set but integration tests cannot run: {missing}", returncode=3)
    skip = pytest.mark.skip(reason=missing)
    for item in ours:
        item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Report how long each LocalCluster took to become healthy."""
    if not STARTUP_TIMES:
        return
    terminalreporter.section("LocalCluster startup times")
    for name, seconds in STARTUP_TIMES.items():
        terminalreporter.write_line(f"{name}: {seconds:.2f}s")


def _start(name: str, cluster: LocalCluster) -> LocalCluster:
    t0 = time.monotonic()
    cluster.start()
    STARTUP_TIMES[name] = time.monotonic() - t0
    return cluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    """3 primaries + 1 replica each, plain TCP, node timeout 2000 ms (shared: leave it healthy)."""
    c = _start("cluster (3+3 TCP)", LocalCluster(3, 1, node_timeout_ms=2000))
    yield c
    c.stop()


@pytest.fixture(scope="session")
def tls_cluster() -> Iterator[LocalCluster]:
    """3 primaries + 1 replica each over TLS (client certs optional; CA in tls_cluster.ca_cert_path)."""
    c = _start("tls_cluster (3+3 TLS)", LocalCluster(3, 1, node_timeout_ms=2000, tls=True))
    yield c
    c.stop()


@pytest.fixture(scope="session")
def auth_cluster() -> Iterator[LocalCluster]:
    """1 primary + 1 replica with requirepass "s3cret" and ACL user alice/wonderland."""
    c = _start(
        "auth_cluster (1+1 password+ACL)",
        LocalCluster(1, 1, password=AUTH_PASSWORD, acl_users={ACL_USER: ACL_PASSWORD}),
    )
    yield c
    c.stop()


@pytest.fixture(autouse=True)
def _shared_clusters_healthy(request: pytest.FixtureRequest) -> None:
    """Before each test using a shared cluster: restart dead nodes and wait until it is healthy."""
    for name in SHARED_CLUSTERS:
        if name in request.fixturenames:
            shared: LocalCluster = request.getfixturevalue(name)
            shared.heal(timeout=60)


@pytest.fixture
def make_cluster() -> Iterator[Callable[..., LocalCluster]]:
    """Factory for throw-away clusters (kills, failovers, resharding); all stopped at teardown."""
    made: list[LocalCluster] = []

    def factory(*args: Any, **kwargs: Any) -> LocalCluster:
        c = LocalCluster(*args, **kwargs)
        made.append(c)
        t0 = time.monotonic()
        c.start()
        label = f"make_cluster({c.masters}+{c.masters * c.replicas_per_master}{' TLS' if c.tls else ''})"
        STARTUP_TIMES.setdefault(label, time.monotonic() - t0)
        return c

    yield factory
    for c in made:
        c.stop()
