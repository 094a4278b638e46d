"""Which reply decoder a connection uses: :func:`make_decoder` and :data:`DefaultDecoder`.

The choice (the ``parser`` option of a connection, or the ``CLUSTERCORE_PARSER`` environment
variable) is between :class:`~.decoder.PythonDecoder` and :class:`~.hiredis.HiredisDecoder`,
so it lives above both.
"""

from __future__ import annotations

import os
from typing import Any, Type, Union

from ..errors import DataError
from .decoder import PythonDecoder
from .hiredis import HIREDIS_AVAILABLE, HiredisDecoder

__all__ = ["DefaultDecoder", "make_decoder"]

#: The fastest decoder installed: HiredisDecoder if hiredis imports, else PythonDecoder.
#: (make_decoder() also honours the CLUSTERCORE_PARSER environment variable; this does not.)
DefaultDecoder: Type[Union[PythonDecoder, HiredisDecoder]] = (
    HiredisDecoder if HIREDIS_AVAILABLE else PythonDecoder
)


def make_decoder(kind: str = "auto", **kwargs: Any) -> Union[PythonDecoder, HiredisDecoder]:
    """Build a decoder: ``kind`` is "auto" (env ``CLUSTERCORE_PARSER``, else the default),
    "python" or "hiredis". Missing hiredis raises ParserUnavailableError (an ImportError);
    an unknown kind raises DataError."""
    if kind == "auto":
        kind = os.environ.get("CLUSTERCORE_PARSER", "").strip().lower() or "auto"
        if kind == "auto":
            return DefaultDecoder(**kwargs)
    if kind == "python":
        return PythonDecoder(**kwargs)
    if kind == "hiredis":
        return HiredisDecoder(**kwargs)
    raise DataError(f"unknown parser {kind!r}; use 'auto', 'python' or 'hiredis' "
                    f"(argument or CLUSTERCORE_PARSER)")
