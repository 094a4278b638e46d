"""Tools that measure how far clustercore is from a drop-in for redis-py's RedisCluster.

``api_surface`` compares the public API (names and signatures); ``redispy_suite`` runs
redis-py's own cluster-mode tests against clustercore.  See compat/README.md.
"""
