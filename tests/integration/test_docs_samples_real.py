"""The documentation's samples that connect to a cluster, run against the LocalCluster fixtures.

tests/unit/test_docs_samples.py holds the convention and the extractor: a page whose runnable
blocks name ``127.0.0.1:7000`` (``7000`` to ``7005``) runs here, its blocks in order in one
namespace, port ``700N`` replaced by the shared 3+3 cluster's N-th node (``rediss://`` blocks:
the TLS cluster's, with its CA for ``/etc/ssl/redis-ca.pem``), every connection outside
loopback refused. A page's ``test_*`` functions are called after its blocks.
"""

from __future__ import annotations

from typing import Callable

import pytest

from clustercore.testing import LocalCluster
from tests.unit.test_docs_samples import (
    CLUSTER_PAGES,
    Block,
    Page,
    network_guard,
    run_page,
    sample_test_names,
    substitute,
)

__all__ = ["network_guard"]  # the fixture, imported for the tests below


@pytest.mark.parametrize("page", CLUSTER_PAGES, ids=[p.name for p in CLUSTER_PAGES])
def test_docs_samples_run_on_a_real_cluster(page: Page, request: pytest.FixtureRequest,
                                            network_guard: Callable[[bool], None]) -> None:
    cluster: LocalCluster = request.getfixturevalue("cluster")
    tls: LocalCluster | None = None
    if any(b.needs_tls for b in page.runnable):
        tls = request.getfixturevalue("tls_cluster")
        tls.heal(timeout=60)
    ports = [n.port for n in cluster.nodes]

    def code_for(block: Block) -> str:
        if block.needs_tls:
            assert tls is not None and tls.ca_cert_path is not None
            return substitute(block, [n.port for n in tls.nodes], str(tls.ca_cert_path))
        return substitute(block, ports)

    network_guard(True)
    ran = run_page(page, code_for)
    assert sorted(ran) == sorted(sample_test_names(page))
