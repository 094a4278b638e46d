"""Vector sets (Redis 8.0): redis-py 8.1's ``vset()`` and the :class:`VectorSet` commands object
it returns (``rc.vset().vadd(key, [0.1, 0.2], "elem")``).

Every V* command names one key first and goes to that key's slot owner (:mod:`.specs_redis8`);
the reply callbacks (VEMB, VSIM, VLINKS, VINFO, VGETATTR) are in :mod:`.callbacks_redis8` and
read the options these methods pass, which are redis-py's own (``WITHSCORES``, ``WITHATTRIBS``,
``RAW``, ``ALLOW_DECODING``, redis-py's ``NEVER_DECODE``). clustercore speaks RESP2, so the
``RESP3`` option redis-py sets on a RESP3 connection is never set. Attributes given as a dict
are sent as JSON (``json.dumps``), as redis-py does.
"""

from __future__ import annotations

import enum
import json
from typing import Any, Dict, List, Optional, Sequence, Union

from ..errors import DataError
from .args import KeyT
from .base import CommandsBase

__all__ = ["CallbacksOptions", "QuantizationOptions", "VectorSet", "VectorSetCommands"]

Number = Union[int, float]


class QuantizationOptions(enum.Enum):
    """VADD's quantization (redis-py's enum of the same name and values)."""

    NOQUANT = "NOQUANT"
    BIN = "BIN"
    Q8 = "Q8"


class CallbacksOptions(enum.Enum):
    """The callback option names the V* methods pass (redis-py's enum of the same values)."""

    RAW = "RAW"
    WITHSCORES = "WITHSCORES"
    WITHATTRIBS = "WITHATTRIBS"
    ALLOW_DECODING = "ALLOW_DECODING"
    RESP3 = "RESP3"


def _json(attributes: Union[Dict[str, Any], str]) -> str:
    return json.dumps(attributes) if isinstance(attributes, dict) else attributes


def _quantization(value: Any) -> Any:
    word = getattr(value, "value", value)
    if not isinstance(word, str) or word.upper() not in QuantizationOptions.__members__:
        raise DataError(f"VADD quantization must be one of NOQUANT, BIN, Q8, not {value!r}")
    return word


class VectorSet:
    """The vector-set commands on one client (redis-py's ``VectorSet``): each method builds
    redis-py's arguments and runs them with the client's ``execute_command``."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.execute_command = client.execute_command

    def _decodes(self) -> bool:
        encoder = getattr(self.client, "get_encoder", None)
        return bool(encoder is not None and encoder().decode_responses)

    def vadd(self, key: KeyT, vector: Union[Sequence[float], bytes], element: str,
             reduce_dim: Optional[int] = None, cas: Optional[bool] = False,
             quantization: Any = None, ef: Optional[Number] = None,
             attributes: Union[Dict[str, Any], str, None] = None,
             numlinks: Optional[int] = None) -> Any:
        """Add ``element`` with ``vector`` (a list of floats, or FP32 bytes); 1 when added."""
        if not vector or not element:
            raise DataError("Both vector and element must be provided")
        pieces: List[Any] = []
        if reduce_dim:
            pieces += ["REDUCE", reduce_dim]
        if isinstance(vector, bytes):
            pieces += ["FP32", vector]
        else:
            pieces += ["VALUES", len(vector), *vector]
        pieces.append(element)
        if cas:
            pieces.append("CAS")
        if quantization:
            pieces.append(_quantization(quantization))
        if ef:
            pieces += ["EF", ef]
        if attributes:
            pieces += ["SETATTR", _json(attributes)]
        if numlinks:
            pieces += ["M", numlinks]
        return self.execute_command("VADD", key, *pieces)

    def vsim(self, key: KeyT, input: Union[Sequence[float], bytes, str],
             with_scores: Optional[bool] = False, with_attribs: Optional[bool] = False,
             count: Optional[int] = None, ef: Optional[Number] = None,
             filter: Optional[str] = None, filter_ef: Optional[str] = None,
             truth: Optional[bool] = False, no_thread: Optional[bool] = False,
             epsilon: Optional[Number] = None) -> Any:
        """The elements most similar to ``input`` (a vector, FP32 bytes or an element name);
        with scores and/or attributes a dict per element."""
        if not input:
            raise DataError("'input' should be provided")
        pieces: List[Any] = []
        options: Dict[str, Any] = {}
        if isinstance(input, bytes):
            pieces += ["FP32", input]
        elif isinstance(input, list):
            pieces += ["VALUES", len(input), *input]
        else:
            pieces += ["ELE", input]
        if with_scores:
            pieces.append("WITHSCORES")
            options["WITHSCORES"] = True
        if with_attribs:
            pieces.append("WITHATTRIBS")
            options["WITHATTRIBS"] = True
        for word, value in (("COUNT", count), ("EPSILON", epsilon), ("EF", ef),
                            ("FILTER", filter), ("FILTER-EF", filter_ef)):
            if value:
                pieces += [word, value]
        if truth:
            pieces.append("TRUTH")
        if no_thread:
            pieces.append("NOTHREAD")
        return self.execute_command("VSIM", key, *pieces, **options)

    def vdim(self, key: KeyT) -> Any:
        """The (possibly reduced) dimension of the set's vectors."""
        return self.execute_command("VDIM", key)

    def vcard(self, key: KeyT) -> Any:
        """How many elements the set holds."""
        return self.execute_command("VCARD", key)

    def vrem(self, key: KeyT, element: str) -> Any:
        """Remove ``element``; 1 when it was there."""
        return self.execute_command("VREM", key, element)

    def vemb(self, key: KeyT, element: str, raw: Optional[bool] = False) -> Any:
        """``element``'s (approximated) vector; ``raw``: the internal representation as a dict
        (read undecoded, the quantization name decoded when the client decodes replies)."""
        options: Dict[str, Any] = {}
        pieces: List[Any] = [key, element]
        if raw:
            pieces.append("RAW")
            options["NEVER_DECODE"] = True
            if self._decodes():
                options["ALLOW_DECODING"] = True
            options["RAW"] = True
        return self.execute_command("VEMB", *pieces, **options)

    def vlinks(self, key: KeyT, element: str, with_scores: Optional[bool] = False) -> Any:
        """``element``'s neighbours per level (lists, or ``{element: score}`` dicts)."""
        if with_scores:
            return self.execute_command("VLINKS", key, element, "WITHSCORES", WITHSCORES=True)
        return self.execute_command("VLINKS", key, element)

    def vinfo(self, key: KeyT) -> Any:
        """The set's description as a dict."""
        return self.execute_command("VINFO", key)

    def vsetattr(self, key: KeyT, element: str,
                 attributes: Union[Dict[str, Any], str, None] = None) -> Any:
        """Set ``element``'s JSON attributes (None: remove them); 1 when set."""
        text = "{}" if attributes is None else _json(attributes)
        return self.execute_command("VSETATTR", key, element, text)

    def vgetattr(self, key: KeyT, element: str) -> Any:
        """``element``'s attributes (parsed JSON), or None."""
        return self.execute_command("VGETATTR", key, element)

    def vrandmember(self, key: KeyT, count: Optional[int] = None) -> Any:
        """One random element, or a list of ``count`` (negative: repeats allowed)."""
        return self.execute_command("VRANDMEMBER", key, *([] if count is None else [count]))

    def vrange(self, key: KeyT, start: str, end: str, count: Optional[int] = None) -> Any:
        """The elements in the lexicographical range ``start``..``end`` (``[``/``(`` prefixed,
        or ``-`` / ``+``), at most ``count``."""
        return self.execute_command("VRANGE", key, start, end,
                                    *([] if count is None else [count]))


class VectorSetCommands(CommandsBase):
    """redis-py's ``vset()`` entry point."""

    def vset(self) -> VectorSet:
        """The vector-set commands of this client (redis-py's ``VectorSet`` object)."""
        return VectorSet(self)
