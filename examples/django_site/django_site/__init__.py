"""A small Django project whose cache and sessions live on a Redis Cluster (clustercore)."""
