"""Connections per node and per cluster: NodePool, Budget, stats, the public cluster pools."""
