"""Flask integration: the ClusterCore extension (``extension``), a cachelib / Flask-Caching
backend (``caching``) and a Flask-Session interface (``session``)."""
