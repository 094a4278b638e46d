"""Connection classes of the caller's own (redis-py-cluster's ``connection_class=``).

redis-py-cluster discovered the cluster over its own connections and used the caller's class
only for the connections its pool handed out; its tests pass classes with nothing but an
``__init__``. clustercore does the same: :func:`is_native` says whether a class speaks
clustercore's connection interface (a :class:`ClusterConnection` subclass, which then also
serves discovery, as before); any other class is *foreign*. :func:`pooled_class` gives a
foreign class the few attributes the pool keeps on each connection (``generation``,
``last_used``, ``is_connected``, a no-op ``disconnect``) as class-level defaults *behind*
the caller's own (its attributes and methods win), without changing ``isinstance`` or the
class's name; :class:`LenientNodePool` pools them without vetting.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any, Dict, FrozenSet, Mapping, Type

from .._net.connection import ClusterConnection

__all__ = ["accepted_keywords", "is_native", "own_keywords", "pooled_class",
           "takes_any_keyword"]

_lock = threading.Lock()
_adapted: Dict[type, Type[ClusterConnection]] = {}


class _ForeignDefaults:
    """What the pool reads or writes on a pooled connection, where the class has none."""

    #: The node pool's generation the connection belongs to (set by the pool).
    generation = 0
    #: When it was last released (set by the pool, on the pool's clock).
    last_used = 0.0
    #: The pool cannot tell; it keeps a released connection for reuse (redis-py-cluster did).
    is_connected = True

    def disconnect(self) -> None:
        """Nothing to close: the class has no disconnect() of its own."""


def is_native(cls: type) -> bool:
    """Whether ``cls`` is clustercore's connection interface (a ClusterConnection subclass)."""
    return isinstance(cls, type) and issubclass(cls, ClusterConnection)


def pooled_class(cls: type) -> Type[ClusterConnection]:
    """``cls`` itself when native; else its subclass with :class:`_ForeignDefaults` behind it
    (made once per class, same name and module, so repr and isinstance stay the caller's)."""
    if is_native(cls):
        return cls
    with _lock:
        adapted = _adapted.get(cls)
        if adapted is None:
            namespace = {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                         "__doc__": cls.__doc__}
            adapted = _adapted[cls] = type(cls.__name__, (cls, _ForeignDefaults), namespace)
        return adapted


def own_keywords(cls: Type[ClusterConnection], kwargs: Mapping[str, Any]) -> Dict[str, Any]:
    """The part of a foreign class's connection keywords that clustercore's own class
    ``cls`` takes (discovery's connections get the credentials, timeouts and transport, not
    the caller's private options)."""
    accepted = accepted_keywords(cls)
    return {k: v for k, v in kwargs.items() if k in accepted}


def accepted_keywords(cls: type) -> FrozenSet[str]:
    """The keyword names ``cls(...)`` takes along its MRO (``**kwargs`` catch-alls aside)."""
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        for parameter in inspect.signature(init).parameters.values():
            if parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
                names.add(parameter.name)
    names.discard("self")
    return frozenset(names)


def takes_any_keyword(cls: type) -> bool:
    """Whether a class outside clustercore along ``cls``'s MRO takes ``**kwargs`` (then any
    keyword may be meant for it)."""
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object or klass.__module__.startswith("clustercore."):
            continue
        try:
            parameters = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return True
        if any(p.kind is p.VAR_KEYWORD for p in parameters):
            return True
    return False
