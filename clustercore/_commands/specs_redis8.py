"""Command-table rows for the commands newer than the Redis 7.0 the table was first checked
against: Redis 8.x's array type (AR*), vector sets (V*), HOTKEYS, HIMPORT, LMOVEM/BLMOVEM,
DELEX/DIGEST/INCREX/MSETEX, SDIFFCARD/SUNIONCARD, XACKDEL/XDELEX/XNACK/XCFGSET, and the removed
STRALGO that redis-py 8.1 still offers.

Plain data (no import from :mod:`.specs`, which imports this module): each row is ``(name,
kind, (first_key, last_key, key_step), options)``; :mod:`.specs` turns a row into a
:class:`~.specs.CommandSpec` with the helper of the same kind (``read``: a readonly command,
``conv``: a write that is safe to repeat, ``once``: a write that must not be repeated blindly,
``conn``: bound to one connection, ``node``: a key-less command for one or more nodes). In
``options`` a ``route`` / ``merge`` is the value of a :class:`~.specs.Route` /
:class:`~.specs.Merge`; everything else is passed to :class:`~.specs.CommandSpec` as is.

Keys: the array and vector-set commands take one key first, LMOVEM/BLMOVEM two (BLMOVEM's
timeout is ``args[5]``), SDIFFCARD/SUNIONCARD a numkeys count. MSETEX (``MSETEX numkeys k v
...``) and STRALGO (``STRALGO LCS KEYS k1 k2`` / ``STRINGS a b``) name their keys in ways a
range cannot say; :mod:`.keys` extracts them and the range given here only marks them keyed.
HIMPORT PREPARE/DISCARD/DISCARDALL change one connection's session (the fieldsets) and are
connection-bound (so, as every connection-bound command, never re-sent blindly); HIMPORT SET is
routed by its key and, as it replaces the whole hash, safe to repeat. HOTKEYS START/STOP/RESET/GET
go to every primary (the server's per-node trackers; GET's per-node one-element lists
concatenate).

These servers' readonly flags cannot be checked against the local Redis 7.0 (which does not know
the commands); they follow the command documentation: every command that only reads is
``read``.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

__all__ = ["REDIS8_NAMES", "REDIS8_ROWS"]

_Row = Tuple[str, str, Tuple[int, int, int], Dict[str, Any]]
_K1 = (1, 1, 1)
_K12 = (1, 2, 1)
_K2 = (2, 2, 1)
_NONE = (0, 0, 0)

REDIS8_ROWS: Tuple[_Row, ...] = (
    # --- arrays (Redis 8.x) ----------------------------------------------------------------------
    ("ARCOUNT", "read", _K1, {}),
    ("ARDEL", "conv", _K1, {}),
    ("ARDELRANGE", "conv", _K1, {}),
    ("ARGET", "read", _K1, {}),
    ("ARGETRANGE", "read", _K1, {}),
    ("ARGREP", "read", _K1, {}),
    ("ARINFO", "read", _K1, {}),
    ("ARINSERT", "once", _K1, {}),
    ("ARLASTITEMS", "read", _K1, {}),
    ("ARLEN", "read", _K1, {}),
    ("ARMGET", "read", _K1, {}),
    ("ARMSET", "conv", _K1, {}),
    ("ARNEXT", "read", _K1, {}),
    ("AROP", "read", _K1, {}),
    ("ARRING", "once", _K1, {}),
    ("ARSCAN", "read", _K1, {}),
    ("ARSEEK", "conv", _K1, {}),
    ("ARSET", "conv", _K1, {}),
    # --- strings and keys ------------------------------------------------------------------------
    ("DELEX", "conv", _K1, {}),
    ("DIGEST", "read", _K1, {}),
    ("INCREX", "once", _K1, {}),
    ("MSETEX", "conv", (2, -1, 2), {}),
    ("STRALGO", "read", (3, 4, 1), {}),
    # --- lists -----------------------------------------------------------------------------------
    ("BLMOVEM", "once", _K12, {"blocking_timeout_arg": 5}),
    ("LMOVEM", "once", _K12, {}),
    # --- sets ------------------------------------------------------------------------------------
    ("SDIFFCARD", "read", _NONE, {"numkeys_arg": 1}),
    ("SUNIONCARD", "read", _NONE, {"numkeys_arg": 1}),
    # --- streams ---------------------------------------------------------------------------------
    ("XACKDEL", "conv", _K1, {}),
    ("XCFGSET", "conv", _K1, {}),
    ("XDELEX", "conv", _K1, {}),
    ("XNACK", "once", _K1, {}),
    # --- vector sets (Redis 8.0) -----------------------------------------------------------------
    ("VADD", "conv", _K1, {}),
    ("VCARD", "read", _K1, {}),
    ("VDIM", "read", _K1, {}),
    ("VEMB", "read", _K1, {}),
    ("VGETATTR", "read", _K1, {}),
    ("VINFO", "read", _K1, {}),
    ("VLINKS", "read", _K1, {}),
    ("VRANDMEMBER", "read", _K1, {}),
    ("VRANGE", "read", _K1, {}),
    ("VREM", "conv", _K1, {}),
    ("VSETATTR", "conv", _K1, {}),
    ("VSIM", "read", _K1, {}),
    # --- HIMPORT (hash templates) ----------------------------------------------------------------
    ("HIMPORT DISCARD", "conn", _NONE, {}),
    ("HIMPORT DISCARDALL", "conn", _NONE, {}),
    ("HIMPORT PREPARE", "conn", _NONE, {}),
    ("HIMPORT SET", "conv", _K2, {}),
    # --- HOTKEYS ---------------------------------------------------------------------------------
    ("HOTKEYS GET", "node", _NONE, {"route": "all-primaries", "merge": "concat"}),
    ("HOTKEYS RESET", "node", _NONE, {"route": "all-primaries", "merge": "first"}),
    ("HOTKEYS START", "node", _NONE, {"route": "all-primaries", "merge": "first",
                                      "idempotent": False}),
    ("HOTKEYS STOP", "node", _NONE, {"route": "all-primaries", "merge": "first"}),
)

#: The names of those rows (for checks against a server that predates them).
REDIS8_NAMES = frozenset(row[0] for row in REDIS8_ROWS)
