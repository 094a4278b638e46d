"""Reply-decoding throughput of clustercore's decoders (clustercore._protocol): pure Python vs
hiredis, as a Markdown table.

Run ``.venv/bin/python benchmarks/bench_decoder.py``. Each cell decodes for a fixed time (about
0.12 s; a few seconds in all), either one reply per feed() (a reply per recv) or 1000 replies
in one feed() (a pipeline read at once). Prints the table and nothing else; writes no file.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Callable, List, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# after the path tweak, so a checkout runs as is
from clustercore._protocol.hiredis import HIREDIS_AVAILABLE
from clustercore._protocol.parser import make_decoder
from clustercore._protocol.reply_encoder import SimpleString, encode_reply

BUDGET = 0.12  # seconds per cell
PIPELINE = 1000

REPLIES: List[Tuple[str, bytes]] = [
    ("short bulk (100 B)", encode_reply(b"v" * 100)),
    ("integer", encode_reply(1234567)),
    ("array of 100 short bulks", encode_reply([b"member:%05d" % i for i in range(100)])),
    ("+OK", encode_reply(SimpleString(b"OK"))),
]


def one_per_feed(kind: str, data: bytes) -> Callable[[], int]:
    """A step: feed one reply, get it back. Returns the number of replies decoded."""
    decoder = make_decoder(kind)
    feed, gets = decoder.feed, decoder.gets

    def step() -> int:
        for _ in range(100):
            feed(data)
            gets()
        return 100

    return step


def many_per_feed(kind: str, data: bytes) -> Callable[[], int]:
    """A step: feed PIPELINE replies at once, get them all back."""
    decoder = make_decoder(kind)
    feed, gets = decoder.feed, decoder.gets
    blob = data * PIPELINE

    def step() -> int:
        feed(blob)
        for _ in range(PIPELINE):
            gets()
        return PIPELINE

    return step


def measure(step: Callable[[], int]) -> float:
    """Replies per second of ``step`` over BUDGET seconds (after one warm-up call)."""
    step()
    done = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < BUDGET:
        done += step()
        elapsed = time.perf_counter() - start
    return done / elapsed


def _hiredis_version() -> str:
    """The installed hiredis package's version, or "not installed"."""
    try:
        import hiredis
    except ImportError:
        return "not installed"
    return str(getattr(hiredis, "__version__", "unknown"))


def main() -> None:
    kinds = ["python"] + (["hiredis"] if HIREDIS_AVAILABLE else [])
    print(f"Python {sys.version.split()[0]}, hiredis {_hiredis_version()}")
    print()
    print("| reply | bytes | decoder | mode | replies/s | MB/s |")
    print("|---|---:|---|---|---:|---:|")
    for name, data in REPLIES:
        for kind in kinds:
            for mode, make in (("1 reply / feed", one_per_feed),
                               (f"{PIPELINE} replies / feed", many_per_feed)):
                rate = measure(make(kind, data))
                print(f"| {name} | {len(data)} | {kind} | {mode} | {rate:,.0f} "
                      f"| {rate * len(data) / 1e6:,.1f} |")


if __name__ == "__main__":
    main()

