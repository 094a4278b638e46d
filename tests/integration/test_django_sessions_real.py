"""Django's ``cache`` and ``cached_db`` session engines on RedisClusterCache, real cluster."""

from __future__ import annotations

from importlib import import_module
from typing import Any, Iterator

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings

from clustercore.testing import LocalCluster

from ..django_support import caches as caches_setting
from ..django_support import close_shared_clients, configure, location, session_tables

configure()

CACHE_ENGINE = "django.contrib.sessions.backends.cache"
CACHED_DB_ENGINE = "django.contrib.sessions.backends.cached_db"


@pytest.fixture
def on_cluster(cluster: LocalCluster) -> Iterator[None]:
    """CACHES' default alias on the cluster, for the duration of one test."""
    session_tables()
    with override_settings(CACHES=caches_setting(location(cluster.startup_nodes),
                                                 KEY_PREFIX="sess-test")):
        yield
        caches["default"].clear()
    close_shared_clients()


def _store(engine: str, key: Any = None) -> Any:
    with override_settings(SESSION_ENGINE=engine):
        return import_module(settings.SESSION_ENGINE).SessionStore(key)


@pytest.mark.usefixtures("on_cluster")
@pytest.mark.parametrize("engine", [CACHE_ENGINE, CACHED_DB_ENGINE])
def test_a_session_round_trips_through_the_cluster(engine: str) -> None:
    session = _store(engine)
    session["cart"] = ["apple", 3]
    session.set_expiry(600)
    session.save()
    key = session.session_key
    assert key
    cache_key = session.cache_key
    stored = caches["default"].get(cache_key)
    assert stored["cart"] == ["apple", 3]  # the cache entry is on the cluster
    left = caches["default"].ttl(cache_key)
    assert left is not None and 590 <= left <= 600
    again = _store(engine, key)
    assert again["cart"] == ["apple", 3]
    again["cart"].append("pear")
    again.modified = True
    again.save()
    assert _store(engine, key)["cart"] == ["apple", 3, "pear"]


@pytest.mark.usefixtures("on_cluster")
@pytest.mark.parametrize("engine", [CACHE_ENGINE, CACHED_DB_ENGINE])
def test_cycle_key_and_flush(engine: str) -> None:
    session = _store(engine)
    session["user"] = 7
    session.save()
    old = session.session_key
    session.cycle_key()
    assert session.session_key != old
    assert not _store(engine).exists(old)
    assert _store(engine, session.session_key)["user"] == 7
    new_key = session.session_key
    session.flush()
    assert not _store(engine).exists(new_key)
    assert caches["default"].get(f"{_store(engine).cache_key_prefix}{new_key}") is None


@pytest.mark.usefixtures("on_cluster")
def test_cached_db_falls_back_to_the_database_and_refills_the_cache() -> None:
    from django.contrib.sessions.models import Session

    session = _store(CACHED_DB_ENGINE)
    session["n"] = 1
    session.save()
    key = session.session_key
    assert Session.objects.filter(session_key=key).exists()
    caches["default"].delete(session.cache_key)  # evicted, or the cluster lost it
    assert _store(CACHED_DB_ENGINE, key)["n"] == 1  # read from the database ...
    assert caches["default"].get(session.cache_key) == {"n": 1}  # ... and cached again


@pytest.mark.usefixtures("on_cluster")
def test_an_unknown_session_key_gives_an_empty_session() -> None:
    session = _store(CACHE_ENGINE, "x" * 32)
    assert dict(session.items()) == {}
    assert session.session_key is None  # Django drops a key it does not know
