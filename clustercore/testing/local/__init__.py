"""LocalCluster: real redis-server processes on loopback."""
