"""Django integration: ``BACKEND = "clustercore.contrib.django.RedisClusterCache"``.

See docs/django.md. The package re-exports its public names, so settings can name the backend
(and the serializers) without the module they live in.
"""

from __future__ import annotations

from .cache import RedisClusterCache
from .serializers import JSONSerializer, PickleSerializer, ZlibCompressor

__all__ = ["JSONSerializer", "PickleSerializer", "RedisClusterCache", "ZlibCompressor"]
