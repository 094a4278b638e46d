"""gunicorn settings for the example: 2 workers x 4 threads, the app loaded before the fork.

``gunicorn -c gunicorn.conf.py 'app:create_app()'`` (EXAMPLE_BIND overrides the address).
"""

from __future__ import annotations

import os
from typing import Any

bind = os.environ.get("EXAMPLE_BIND", "127.0.0.1:8000")
workers = 2
threads = 4
worker_class = "gthread"
# The app, and its clustercore client, are built once in the master; each worker's pools
# start over after the fork (clustercore's fork generation), so no socket is shared.
preload_app = True
timeout = 30
graceful_timeout = 10


def worker_exit(server: Any, worker: Any) -> None:
    """Close this worker's clustercore client (its connections) as the worker exits."""
    import app as example  # already imported: the master loaded it before forking

    wsgi = getattr(worker, "wsgi", None)
    if wsgi is not None:
        example.clustercore.close(wsgi)
