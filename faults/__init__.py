"""clustercore's fault suite: real-cluster fault scenarios with published figures.

``python -m faults [--profile short|full] [--client clustercore|redis-py|all] [--out FILE]``
runs every scenario (``faults.registry``) against clustercore and, beside it, redis-py's
``RedisCluster``, and writes docs/reliability.md.  The CI profile is
tests/integration/test_fault_suite_real.py.  Modules: ``resp`` (raw RESP, the suite's own view
of the cluster), ``proxy`` (the blackholing forwarder), ``core`` (workload and verdict),
``runner`` (one scenario for one client), ``scenarios/`` (one module per family), ``report``.
"""
