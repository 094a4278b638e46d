"""HIMPORT (hash templates, Redis 8.x): redis-py 8.1's client-side fieldset registry and its
commands, for :class:`~.api.CommandsMixin`.

A fieldset (an ordered list of field names, ``HIMPORT PREPARE name f1 f2 ...``) lives in one
connection's server-side session; ``HIMPORT SET key name v1 v2 ...`` then writes a hash from
values alone, on a connection that has the fieldset. As in redis-py, the client keeps the
registry (:class:`HImportRegistry`, ``himport_registry``): ``himport_prepare`` /
``himport_discard`` / ``himport_discard_all`` change only the registry (one per client, shared
by its pipelines and node clients) and send nothing.

``himport_set`` sends the fieldset's PREPARE and the SET to the key's primary in one pipeline
batch, so both go on the same connection, PREPARE first; the PREPARE is repeated on every call
(it replaces the definition with the same one) instead of tracking which pooled connection has
which fieldset -- a few bytes more per call, and a discarded fieldset can never be used by
mistake. If a MOVED sends the SET elsewhere without its PREPARE (the slot just moved), the
server's "no such fieldset" makes the pair run once more, on the new owner. A fieldset that
was never declared in the registry is sent as a bare SET and the server answers. ``himport_set``
needs the cluster client itself: on a pipeline or a node client it raises RedisClusterException
(redis-py bundles a pre-flight PREPARE into its pipelines; clustercore's pipeline has no such
seam). Connections keep the fieldsets they were sent until they close (redis-py discards them
when a connection is released).

The ``*_internal`` methods are redis-py's raw wire mappings for one pinned connection: they are
connection-bound commands, which the cluster client and its pipelines refuse.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple

from ..errors import DataError, RedisClusterException, ResponseError
from .args import EncodableT, KeyT
from .base import CommandsBase

__all__ = ["HImportCommands", "HImportFieldset", "HImportRegistry"]

_NEW_REGISTRY = threading.Lock()
_ATTEMPTS = 2  # the pair once, and once more after a MOVED split it


class HImportFieldset(NamedTuple):
    """One declared fieldset: its name, fields (in order) and the registry revision that made
    it."""

    name: str
    fields: Tuple[Any, ...]
    version: int


class HImportRegistry:
    """The client's declared fieldsets (redis-py's ``HImportRegistry`` interface). Changes are
    made under a lock; a field iterable is consumed before the lock is taken."""

    def __init__(self) -> None:
        self._fieldsets: Dict[str, HImportFieldset] = {}
        self._lock = threading.Lock()
        self._revision = 0

    @staticmethod
    def _fields(fields: Iterable[Any]) -> Tuple[Any, ...]:
        if isinstance(fields, (str, bytes, bytearray, memoryview)):
            raise DataError("HIMPORT fields must be a collection of field names, not a single "
                            f"string or binary value ({fields!r})")
        materialized = tuple(fields)
        if not materialized:
            raise DataError("HIMPORT fieldset must have at least one field")
        return materialized

    def prepare(self, name: str, fields: Iterable[Any]) -> HImportFieldset:
        """Declare (or replace) ``name``; the new entry."""
        materialized = self._fields(fields)
        with self._lock:
            self._revision += 1
            fieldset = HImportFieldset(name, materialized, self._revision)
            self._fieldsets[name] = fieldset
        return fieldset

    def discard(self, name: str) -> bool:
        """Forget ``name``; whether it was declared."""
        with self._lock:
            if self._fieldsets.pop(name, None) is None:
                return False
            self._revision += 1
            return True

    def discard_all(self) -> int:
        """Forget every fieldset; how many there were."""
        with self._lock:
            count = len(self._fieldsets)
            if count:
                self._fieldsets.clear()
                self._revision += 1
            return count

    @property
    def revision(self) -> int:
        """A counter that moves on every change."""
        return self._revision

    def get(self, name: str) -> Optional[HImportFieldset]:
        """The fieldset declared as ``name``, or None."""
        return self._fieldsets.get(name)

    def names(self) -> List[str]:
        """The declared names."""
        with self._lock:
            return list(self._fieldsets)

    def items(self) -> List[Tuple[str, HImportFieldset]]:
        """A snapshot of ``(name, fieldset)`` pairs."""
        with self._lock:
            return list(self._fieldsets.items())

    def names_to_discard(self, prepared_names: Iterable[str]) -> List[str]:
        """Which of ``prepared_names`` are no longer declared."""
        with self._lock:
            return [name for name in prepared_names if name not in self._fieldsets]

    def __contains__(self, name: object) -> bool:
        return name in self._fieldsets

    def __len__(self) -> int:
        return len(self._fieldsets)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __repr__(self) -> str:
        body = ", ".join(f"{name}={list(f.fields)}" for name, f in self.items())
        return f"{type(self).__name__}({body})"


def _no_such_fieldset(reply: Any) -> bool:
    return isinstance(reply, ResponseError) and "fieldset" in str(reply).lower()


class HImportCommands(CommandsBase):
    """redis-py's HIMPORT methods (module docstring)."""

    @property
    def himport_registry(self) -> HImportRegistry:
        """The client's fieldset registry (a pipeline's or node client's is its client's)."""
        owner = getattr(self, "client", None)
        if owner is not None and owner is not self:
            shared: HImportRegistry = owner.himport_registry
            return shared
        registry: Optional[HImportRegistry] = self.__dict__.get("_himport_fieldsets")
        if registry is None:
            with _NEW_REGISTRY:  # two threads' first calls must not make two registries
                registry = self.__dict__.setdefault("_himport_fieldsets", HImportRegistry())
        return registry

    def himport_prepare(self, fieldset_name: str, fields: Iterable[Any]) -> bool:
        """Declare ``fieldset_name`` as ``fields`` (in the registry; nothing is sent); True."""
        self.himport_registry.prepare(fieldset_name, fields)
        return True

    def himport_discard(self, fieldset_name: str) -> int:
        """Forget ``fieldset_name`` (in the registry); 1 when it was declared, else 0."""
        return 1 if self.himport_registry.discard(fieldset_name) else 0

    def himport_discard_all(self) -> int:
        """Forget every fieldset (in the registry); how many there were."""
        return self.himport_registry.discard_all()

    def himport_set(self, key: KeyT, fieldset_name: str, values: Iterable[EncodableT]) -> Any:
        """Write ``key`` as a hash of ``fieldset_name``'s fields and ``values`` (in order);
        True. See the module docstring for how the fieldset reaches the connection."""
        if isinstance(values, (str, bytes, bytearray, memoryview)):
            raise DataError("HIMPORT values must be a collection of values, not a string "
                            f"({values!r})")
        values = list(values)
        fieldset = self.himport_registry.get(fieldset_name)
        if fieldset is None:
            return self.execute_command("HIMPORT SET", key, fieldset_name, *values)
        if getattr(self, "client", None) is not None:
            raise RedisClusterException(
                "himport_set with a declared fieldset runs on the cluster client only (it "
                "sends the fieldset and the SET on one connection); call it on the client")
        client: Any = self  # the cluster client: its node API and pipeline()
        for attempt in range(_ATTEMPTS):
            node = client.get_node_from_key(key)
            pipe = client.pipeline(transaction=False)
            try:
                pipe.execute_command("HIMPORT", "PREPARE", fieldset_name, *fieldset.fields,
                                     target_nodes=node)
                pipe.execute_command("HIMPORT", "SET", key, fieldset_name, *values)
                prepared, result = pipe.execute(raise_on_error=False)
            finally:
                pipe.reset()
            if isinstance(prepared, BaseException):
                raise prepared
            if isinstance(result, BaseException):
                if _no_such_fieldset(result) and attempt + 1 < _ATTEMPTS:
                    continue
                raise result
            return result
        raise AssertionError("unreachable: the last attempt returns or raises")

    def himport_prepare_internal(self, fieldset_name: str, fields: Iterable[Any]) -> Any:
        """Raw ``HIMPORT PREPARE`` on one connection (redis-py's wire mapping; connection-bound,
        so the cluster client refuses it: use :meth:`himport_prepare`)."""
        return self.execute_command("HIMPORT PREPARE", fieldset_name, *fields)

    def himport_discard_internal(self, fieldset_name: str) -> Any:
        """Raw ``HIMPORT DISCARD`` (connection-bound, as :meth:`himport_prepare_internal`)."""
        return self.execute_command("HIMPORT DISCARD", fieldset_name)

    def himport_discard_all_internal(self) -> Any:
        """Raw ``HIMPORT DISCARDALL`` (connection-bound, as :meth:`himport_prepare_internal`)."""
        return self.execute_command("HIMPORT DISCARDALL")
