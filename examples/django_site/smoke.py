"""Drive the site with Django's test client (no server) and print what it saw as JSON.

``CLUSTERCORE_LOCATION=redis://127.0.0.1:7000 python smoke.py [THREADS] [REQUESTS]``: two
visits by one visitor, two fetches of the cached page, then THREADS threads (default 4)
making REQUESTS requests each (default 25) to the counter.
"""

import json
import os
import sys
import threading

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_site.settings")

import django

django.setup()

from django.core.cache import cache  # noqa: E402
from django.test import Client  # noqa: E402


def main(threads: int, requests: int) -> dict:
    cache.clear()
    visitor = Client()
    first, second = (visitor.get("/").json() for _ in range(2))
    page_a, page_b = (Client().get("/cached/").json() for _ in range(2))
    statuses: list = []
    lock = threading.Lock()

    def worker() -> None:
        client = Client()
        for _ in range(requests):
            status = client.get("/").status_code
            with lock:
                statuses.append(status)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)
    return {
        "first": first, "second": second,
        "cached_same": page_a["rendered_at"] == page_b["rendered_at"],
        "statuses": sorted(set(statuses)), "requests": len(statuses),
        "hits_after": cache.get("hits"),
        "health": Client().get("/health/").status_code,
    }


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    print(json.dumps(main(*(args or [4, 25]))))
