"""Django 5.2's own BaseCacheTests on RedisClusterCache over the real 3+3 cluster.

The suite runs in a subprocess (tests/integration/django_suite.py: Django's settings and test
database stay out of this pytest process). The bar is what Django's RedisCache gets on one
node: 51 passed, 3 skipped (the culling tests, whose aliases are excluded as for redis), none
failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clustercore.testing import LocalCluster

from . import django_suite

REPO = Path(__file__).resolve().parents[2]
RESULT_PREFIX = "DJANGO-SUITE-RESULT "


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_django_base_cache_tests_pass_on_the_cluster(cluster: LocalCluster) -> None:
    suite_dir = django_suite.fetch()
    # two of the six nodes as startup nodes, one URL list as Django's LOCATION string
    location = ",".join(f"redis://{n['host']}:{n['port']}" for n in cluster.startup_nodes[:2])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "tests.integration.django_suite", str(suite_dir), location],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=540)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    assert lines, f"the suite printed no result (exit {done.returncode}):\n{done.stdout[-4000:]}" \
                  f"\n{done.stderr[-4000:]}"
    result = json.loads(lines[-1][len(RESULT_PREFIX):])
    print(f"\nDjango BaseCacheTests on the cluster: {result['passed']} passed, "
          f"{result['skipped']} skipped, {result['failed'] + result['errors']} failed")
    assert result["problems"] == [], "\n\n".join(result["problems"])
    assert (result["passed"], result["skipped"], result["failed"], result["errors"]) == (
        51, 3, 0, 0), result
    assert all("Culling isn't implemented" in skip for skip in result["skips"]), result["skips"]
    assert done.returncode == 0, done.stderr[-4000:]
