"""Compatibility layers for code written against other clients.

``clustercore.compat.rediscluster`` is redis-py-cluster 2.1.3's module layout and conventions
over clustercore (docs/migration-redis-py-cluster.md): an application changes one import line,
``from clustercore.compat import rediscluster``. This package file imports nothing, so importing
``clustercore.compat`` costs nothing until a layer is used.
"""
