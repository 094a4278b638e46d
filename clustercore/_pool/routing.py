"""What a slot number is, checked in one place, and where read commands may go.

Every routing method of the cluster pools (``address_for_slot``, ``addresses_for_slots``,
``get_connection_by_slot``, ``get_node_by_slot``, ``get_master_node_by_slot``, ``on_moved``,
``nodes.node_from_slot``) lets :func:`slot_number` judge a slot it cannot index directly, so
they all agree: a slot is an integer 0..16383, and anything else raises
:class:`~clustercore.errors.InvalidSlotError` naming the value -- never the owner of another slot
(``-1`` used to index slot 16383) nor a bare ``IndexError``/``TypeError``.

``True`` and ``False`` are integers to Python and index a tuple as 1 and 0. The per-command path
(a range check and a tuple index) accepts them, and refusing them would add a type test to every
command, so they count as slots 1 and 0 here too, on every path.
"""

from __future__ import annotations

import operator
from typing import Any

from .._slots import NUM_SLOTS
from ..errors import InvalidSlotError

__all__ = ["READ_POLICIES", "slot_number"]

#: Where read commands go. "primary": never replicas. "replicas": round-robin over healthy
#: replicas, the primary when there are none. "random_replica": a random healthy replica, else
#: the primary. "any": random over primary and replicas (redis-py-cluster's read replicas pool).
READ_POLICIES = ("primary", "replicas", "random_replica", "any")


def slot_number(slot: Any) -> int:
    """``slot`` as an index into a topology's slot table, or InvalidSlotError naming it."""
    try:
        number = operator.index(slot)
    except TypeError:
        raise InvalidSlotError(
            f"slot {slot!r} is not an integer (slots are 0..{NUM_SLOTS - 1})") from None
    if not 0 <= number < NUM_SLOTS:
        raise InvalidSlotError(f"slot {slot!r} is outside 0..{NUM_SLOTS - 1}")
    return number
