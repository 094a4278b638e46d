"""The substitute for redis-py's ``RedisCluster``: redis-py's name, a clustercore client behind it.

This is the honest "code written for redis-py runs unchanged" test: only the class is
substituted (``redis.RedisCluster`` and ``redis.cluster.RedisCluster``, before the test modules
import it); no test, fixture or helper is patched.  The substitute is a subclass of
``clustercore.RedisCluster`` whose constructor accepts redis-py's constructor call:

- the call is bound to redis-py's own constructor signature (read from the installed redis-py,
  so positional arguments mean what they mean in redis-py); a call redis-py itself would
  reject raises the same kind of TypeError;
- only arguments the caller passed are forwarded (clustercore's defaults apply to the rest);
- ``ClusterNode`` startup nodes become ``{"host", "port"}`` dicts (``TRANSLATED``); redis-py's
  keywords (``require_full_coverage``, ``load_balancing_strategy`` ...) go to clustercore as
  they are, since its constructor takes them;
- everything else, including redis-py's connection keyword arguments, is passed through by
  name, so clustercore itself decides what it accepts (whatever it does with, say,
  ``retry=`` is what redis-py code would get).

A translation that cannot be made raises ``ShimError``, which the report shows as its own
failure reason, so a limit of the shim is never mistaken for (or hidden behind) clustercore's.
``from_url`` is clustercore's own (it builds the client through this constructor).
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, List, Optional, Tuple, Type

import redis
import redis.cluster

import clustercore

#: redis-py's RedisCluster, kept before it is replaced (the reference signature).
ORIGINAL: Type[Any] = redis.cluster.RedisCluster

#: Everything the shim translates, for the report. clustercore's constructor takes redis-py's
#: keywords by name itself (require_full_coverage, load_balancing_strategy, ...), so the shim
#: only re-binds positional arguments by redis-py's signature and passes everything by name.
TRANSLATED: Tuple[str, ...] = (
    "positional arguments -> keywords (bound by redis-py's signature)",
    "startup_nodes=[ClusterNode] -> [{'host', 'port'}]",
)


class ShimError(TypeError):
    """A redis-py constructor argument the shim cannot express for clustercore."""


def _node(node: Any) -> Any:
    """A redis-py ClusterNode (anything with host and port) as a redis-py-cluster node dict."""
    if isinstance(node, dict):
        return node
    host, port = getattr(node, "host", None), getattr(node, "port", None)
    if host is None or port is None:
        return node  # clustercore decides
    return {"host": host, "port": port}


def translate(arguments: Dict[str, Any], extra: Dict[str, Any]) -> Dict[str, Any]:
    """clustercore keyword arguments for redis-py constructor ``arguments`` (the named
    parameters the caller passed) and ``extra`` (its ``**kwargs``)."""
    out: Dict[str, Any] = {}
    for name, value in arguments.items():
        if name == "startup_nodes":
            out[name] = None if value is None else [_node(n) for n in value]
        else:
            out[name] = value
    for name, value in extra.items():
        if name in out:
            raise ShimError(f"argument {name!r} given twice after translation")
        out[name] = value
    return out


def make_substitute(core: Type[Any], reference: Type[Any],
                    on_construct: Optional[Callable[[], None]] = None) -> Type[Any]:
    """A subclass of ``core`` (clustercore's RedisCluster) constructed with ``reference``'s
    (redis-py's RedisCluster) constructor call; ``on_construct`` is told about each one."""
    signature = inspect.signature(reference.__init__)
    params: List[inspect.Parameter] = list(signature.parameters.values())
    self_name = params[0].name
    varkw = next((p.name for p in params if p.kind is inspect.Parameter.VAR_KEYWORD), None)

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if on_construct is not None:
            on_construct()
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"not a valid redis-py RedisCluster call either: {exc}") from None
        arguments = dict(bound.arguments)
        arguments.pop(self_name, None)
        extra: Dict[str, Any] = dict(arguments.pop(varkw, {})) if varkw else {}
        core.__init__(self, **translate(arguments, extra))

    __init__.__doc__ = "Build a clustercore client from a redis-py RedisCluster(...) call."
    namespace = {"__init__": __init__, "__module__": __name__,
                 "__doc__": f"clustercore.RedisCluster behind redis-py's name ({__name__})."}
    return type("RedisCluster", (core,), namespace)


def install(on_construct: Optional[Callable[[], None]] = None) -> Type[Any]:
    """Replace ``redis.RedisCluster`` and ``redis.cluster.RedisCluster`` by the substitute."""
    substitute = make_substitute(clustercore.RedisCluster, ORIGINAL, on_construct)
    redis.RedisCluster = substitute  # type: ignore[misc]
    redis.cluster.RedisCluster = substitute  # type: ignore[misc]
    return substitute
