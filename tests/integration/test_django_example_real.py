"""examples/django_site on the real cluster, through Django's test client (a subprocess: the
example has its own settings module).

The counter is exact under 4 threads, the session counts one visitor's visits, the cached
view is served from the cluster, the health check answers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from clustercore.testing import LocalCluster

from ..django_support import location

SITE = Path(__file__).resolve().parents[2] / "examples" / "django_site"


def _run(cluster: LocalCluster, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLUSTERCORE_LOCATION": location(cluster.startup_nodes),
           "DJANGO_SETTINGS_MODULE": "django_site.settings"}
    return subprocess.run([sys.executable, *args], cwd=SITE, env=env, capture_output=True,
                          text=True, timeout=240)


def test_the_example_site_passes_djangos_checks(cluster: LocalCluster) -> None:
    done = _run(cluster, "manage.py", "check")
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


def test_the_example_site_counts_caches_and_keeps_sessions(cluster: LocalCluster) -> None:
    done = _run(cluster, "smoke.py", "4", "25")
    assert done.returncode == 0, done.stderr[-4000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert (seen["first"]["hits"], seen["first"]["visits"]) == (1, 1)
    assert (seen["second"]["hits"], seen["second"]["visits"]) == (2, 2)
    assert seen["cached_same"] is True
    assert seen["statuses"] == [200] and seen["requests"] == 100
    assert seen["hits_after"] == 2 + 100  # every acknowledged request counted once
    assert seen["health"] == 200
