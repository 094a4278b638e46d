"""Run redis-py's own cluster-mode test suite against redis-py and against clustercore.

``python -m compat.redispy_suite`` (see ``runner``) fetches redis-py's test suite for the
installed redis-py version (``fetch``), starts a local 3+3 cluster, runs the suite's sync tests
in cluster mode twice under a pytest plugin (``plugin``) that records every test phase: once as
it is (the reference), once with ``redis.RedisCluster`` replaced by a clustercore client
(``shim``), and reports how many of the black-box tests that pass on redis-py also pass on
clustercore, per file and per failure reason (``results``).
"""
