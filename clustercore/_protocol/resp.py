"""Former home of the RESP codec, now split by role; this module only re-exports.

The codec lives in :mod:`.encoder` (commands to wire chunks), :mod:`.decoder` (the decoder
interface and the pure-Python decoder), :mod:`.hiredis` (the hiredis decoder), :mod:`.parser`
(choosing between them) and :mod:`.reply_encoder` (the server side, for the fakes and tests).
"""

from __future__ import annotations

# --- temporary re-exports for importers outside _protocol (to be removed) ---
# tests/unit/test_pubsub.py (encode_reply), tests/unit/test_client.py and test_pool.py
# (SimpleString), benchmarks/bench_decoder.py (all five; ``hiredis`` is the hiredis package).
from .hiredis import HIREDIS_AVAILABLE as HIREDIS_AVAILABLE
from .parser import make_decoder as make_decoder
from .reply_encoder import SimpleString as SimpleString
from .reply_encoder import encode_reply as encode_reply

try:
    import hiredis as hiredis
except ImportError:  # pragma: no cover - the dev venv has hiredis
    hiredis = None  # type: ignore[assignment]
