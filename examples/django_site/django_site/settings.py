"""Settings: the cache and the sessions on a Redis Cluster through clustercore.

CLUSTERCORE_LOCATION: one or more startup nodes, comma-separated
(default ``redis://127.0.0.1:7000``). Nothing else is needed: no database (sessions use the
``cache`` engine; switch to ``cached_db`` once you have a database).
"""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "django_site.urls"
WSGI_APPLICATION = "django_site.wsgi.application"
INSTALLED_APPS: list = []
DATABASES: dict = {}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
]

CACHES = {
    "default": {
        "BACKEND": "clustercore.contrib.django.RedisClusterCache",
        "LOCATION": os.environ.get("CLUSTERCORE_LOCATION", "redis://127.0.0.1:7000"),
        "KEY_PREFIX": "django_site",
        "TIMEOUT": 300,
        "OPTIONS": {
            "max_connections": 32,  # per process, shared by every thread
            "socket_timeout": 2.0,
            "socket_connect_timeout": 1.0,
        },
    },
}

SESSION_ENGINE = "django.contrib.sessions.backends.cache"
SESSION_CACHE_ALIAS = "default"
