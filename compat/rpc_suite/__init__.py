"""Run redis-py-cluster 2.1.3's own test suite against clustercore.compat.rediscluster.

``.venv/bin/python -m compat.rpc_suite`` (see compat/README.md and ``runner``).
"""
