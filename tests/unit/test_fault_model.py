"""The fault suite's rollback rule (faults.core.rolled_back): an older acknowledged value after
a failover counts as the server's rollback only when every newer acknowledgement came within
ROLLBACK_WINDOW before the fault; anything else stays lost or wrong."""

from __future__ import annotations

from faults.core import ROLLBACK_WINDOW, KeyState, rolled_back, window_before

FAULT = 100.0
JUST_BEFORE = FAULT - ROLLBACK_WINDOW / 2
LONG_BEFORE = FAULT - 3 * ROLLBACK_WINDOW


def test_an_older_value_whose_newer_writes_came_just_before_the_fault_is_a_rollback() -> None:
    acks = [(b"v1", LONG_BEFORE), (b"v2", JUST_BEFORE), (b"v3", JUST_BEFORE + 0.1)]
    assert rolled_back(acks, b"v1", FAULT)
    assert not rolled_back(acks, b"v1", None)  # no fault: nothing can be rolled back


def test_a_value_lost_long_before_the_fault_or_never_written_is_not_a_rollback() -> None:
    acks = [(b"v1", LONG_BEFORE), (b"v2", LONG_BEFORE + 0.1), (b"v3", JUST_BEFORE)]
    assert not rolled_back(acks, b"v1", FAULT)  # v2 was acknowledged long before the fault
    assert not rolled_back(acks, b"never", FAULT)
    assert not rolled_back(acks, b"v3", FAULT)  # the newest value is no rollback at all
    assert not rolled_back([(b"v1", FAULT + 0.5)], None, FAULT)  # acknowledged after it


def test_none_is_a_rollback_only_when_every_acknowledgement_was_just_before_the_fault() -> None:
    assert rolled_back([(b"v1", JUST_BEFORE)], None, FAULT)
    assert not rolled_back([(b"v1", LONG_BEFORE), (b"v2", JUST_BEFORE)], None, FAULT)
    assert not window_before([(1, LONG_BEFORE)], FAULT)


def test_the_key_model_follows_the_rollback() -> None:
    st = KeyState()
    st.ack(b"v1")
    st.ack(b"v2")
    st.roll_back(b"v1")
    assert st.acked == b"v1" and [v for v, _ in st.acks] == [b"v1"]
    st.roll_back(None)
    assert st.acked is None and st.acks == []
