"""Temporary: the names ``clustercore._commands.table`` used to define, re-exported from the
modules that hold them now.

The one-module command table was split by job (issue 10): :mod:`.specs` (CommandSpec, Route,
Merge, the static table, COMMANDS, lookup, name_of, normalize_args, has_space), :mod:`.keys`
(keys_of, slot_of, SINGLE_KEY, split_by_slot), :mod:`.merge` (merge_split, merge_replies),
:mod:`.idempotency` (is_idempotent), :mod:`.blocking` (blocking_timeout) and
:mod:`.server_specs` (spec_from_command_info, specs_from_command_reply).

The table itself could not stay in this module: to re-export those names it imports their
modules, and they import the table, so keeping it here would be a runtime import cycle (which
tests/unit/test_layers.py forbids). Modules inside ``_commands`` import from the new homes; this
module goes away once the importers outside ``_commands`` have moved.
"""

from __future__ import annotations

# --- temporary re-exports for importers outside _commands (to be removed) ---
from .blocking import blocking_timeout as blocking_timeout
from .idempotency import is_idempotent as is_idempotent
from .keys import SINGLE_KEY as SINGLE_KEY
from .keys import keys_of as keys_of
from .keys import slot_of as slot_of
from .keys import split_by_slot as split_by_slot
from .merge import merge_replies as merge_replies
from .merge import merge_split as merge_split
from .server_specs import spec_from_command_info as spec_from_command_info
from .server_specs import specs_from_command_reply as specs_from_command_reply
from .specs import _FIRST as _FIRST  # tests/unit/test_client.py narrows the index
from .specs import COMMANDS as COMMANDS
from .specs import CommandSpec as CommandSpec
from .specs import Merge as Merge
from .specs import Route as Route
from .specs import _index as _index  # tests/unit/test_client.py restores the index
from .specs import has_space as has_space
from .specs import lookup as lookup
from .specs import name_of as name_of
from .specs import normalize_args as normalize_args

__all__ = [
    "COMMANDS",
    "CommandSpec",
    "Merge",
    "Route",
    "blocking_timeout",
    "is_idempotent",
    "keys_of",
    "lookup",
    "merge_replies",
    "merge_split",
    "name_of",
    "normalize_args",
    "slot_of",
    "spec_from_command_info",
    "specs_from_command_reply",
    "split_by_slot",
]
