"""Django settings for the in-process Django tests (tests/unit/test_django_*.py,
tests/integration/test_django_*.py), configured once per pytest process.

Django allows one ``settings.configure()`` per process; every test module calls
:func:`configure` (idempotent) and changes what it needs with ``override_settings``. The
database is SQLite in memory (the ``cached_db`` session engine needs one); the default cache
is local memory, so nothing touches a cluster until a test points CACHES at one.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import Counter
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import django
from django.conf import settings

BACKEND = "clustercore.contrib.django.RedisClusterCache"
_lock = threading.Lock()
_tables_made: List[bool] = []


def configure() -> None:
    """Configure Django once for this process (the later calls do nothing)."""
    with _lock:
        if settings.configured:
            return
        settings.configure(
            DEBUG=False,
            SECRET_KEY="clustercore-tests",
            USE_TZ=True,
            DEFAULT_AUTO_FIELD="django.db.models.AutoField",
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth",
                            "django.contrib.sessions"],
            CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
            MIDDLEWARE=[],
        )
        django.setup()


def session_tables() -> None:
    """The sessions table in the in-memory database (for the ``cached_db`` engine)."""
    configure()
    with _lock:
        if _tables_made:
            return
        from django.core.management import call_command

        call_command("migrate", "sessions", verbosity=0, interactive=False)
        _tables_made.append(True)


def location(nodes: List[Dict[str, Any]], count: int = 2, scheme: str = "redis") -> str:
    """Django's LOCATION string for the first ``count`` startup nodes."""
    return ",".join(f"{scheme}://{n['host']}:{n['port']}" for n in nodes[:count])


def caches(location_value: Any, options: Optional[Dict[str, Any]] = None,
           **params: Any) -> Dict[str, Dict[str, Any]]:
    """A CACHES setting whose default alias is RedisClusterCache on ``location_value``."""
    entry: Dict[str, Any] = {"BACKEND": BACKEND, "LOCATION": location_value,
                             "OPTIONS": dict(options or {}), **params}
    return {"default": entry}


def close_shared_clients() -> None:
    """Forget RedisClusterCache's per-process clients and close them (test teardown)."""
    from clustercore.contrib.django.client import registry

    for client in registry.reset():
        client.connection_pool.close()


#: The wire trace's level (clustercore.wire logs every write and read at it).
TRACE = 5


class WireWrites(logging.Handler):
    """Every write batch the wire trace logs, as (host, port): one entry per round trip to
    that node. Only connections opened after :func:`wire_writes` started are traced."""

    def __init__(self) -> None:
        super().__init__(TRACE)
        self.writes: List[Tuple[str, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if " WRITE " in record.msg and isinstance(record.args, tuple):
            address = record.args[0]
            self.writes.append((address.host, address.port))


@contextlib.contextmanager
def wire_writes() -> Iterator[WireWrites]:
    """Trace the wire while the block runs (the logger's level and handlers restored after)."""
    logger = logging.getLogger("clustercore.wire")
    handler = WireWrites()
    old_level, old_propagate = logger.level, logger.propagate
    logger.setLevel(TRACE)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


def assert_one_write_per_node(writes: WireWrites, owners: Set[Tuple[str, int]],
                              calls: Sequence[Callable[[], Any]]) -> None:
    """Each call writes exactly once to each node in ``owners`` and to no other node."""
    for call in calls:
        writes.writes.clear()
        call()
        per_node = Counter(writes.writes)
        assert set(per_node) == owners and set(per_node.values()) == {1}, per_node
