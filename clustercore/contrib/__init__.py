"""Framework integrations built on clustercore's public API only (``clustercore.contrib.django``).

Nothing here is imported by the core: each integration is imported by the framework's settings
and needs that framework installed (``pip install clustercore[django]``).
"""
