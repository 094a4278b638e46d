"""Views that read and write the cluster: a shared counter, a per-visitor session count,
a page cached by Django's cache_page."""

import os
import time

from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import cache_page

COUNTER_KEY = "hits"


def counter(request: HttpRequest) -> JsonResponse:
    """Counts every request site-wide (atomic INCRBY on the cluster) and this visitor's
    visits (in the session, itself stored in the cache)."""
    cache.add(COUNTER_KEY, 0, timeout=None)  # created once, never expires
    hits = cache.incr(COUNTER_KEY)
    visits = request.session.get("visits", 0) + 1
    request.session["visits"] = visits
    return JsonResponse({"hits": hits, "visits": visits, "pid": os.getpid()})


@cache_page(30)
def cached(request: HttpRequest) -> JsonResponse:
    """Rendered once per 30 s; later requests get the copy from the cluster."""
    return JsonResponse({"rendered_at": time.time(), "pid": os.getpid()})


def health(request: HttpRequest) -> JsonResponse:
    """Whether the cache answers (200) or not (503)."""
    try:
        cache.get("health-probe")
    except Exception as exc:  # any cluster error: report it instead of a 500
        return JsonResponse({"ok": False, "error": type(exc).__name__}, status=503)
    return JsonResponse({"ok": True})
