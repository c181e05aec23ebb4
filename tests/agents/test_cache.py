"""The decoded-state cache in front of the table."""

from __future__ import annotations

from agents.cache import DecodedStates
from app.core.state import PatientState


def test_bounded_least_recently_seen_out_first() -> None:
    cache = DecodedStates(size=3)
    for i in range(5):
        cache.put(f"p-{i}".encode(), PatientState(count=i))
    assert cache.keys() == [b"p-2", b"p-3", b"p-4"]
    cache.put(b"p-2", PatientState(count=2))
    cache.put(b"p-5", PatientState(count=5))
    assert cache.keys() == [b"p-4", b"p-2", b"p-5"]


def test_a_state_being_changed_is_out_of_the_cache() -> None:
    cache = DecodedStates(size=3)
    cache.put(b"p-1", PatientState(count=1))
    taken = cache.take(b"p-1")
    assert taken == PatientState(count=1) and cache.take(b"p-1") is None and len(cache) == 0


def test_a_failed_flush_puts_back_what_it_took_and_newer_states_win() -> None:
    from agents.cache import Change, Unflushed

    pending = Unflushed()
    pending.states[b"p-1"] = Change(0, b"old-1")
    pending.states[b"p-2"] = Change(1, b"old-2")
    pending.events.append("record-1")
    taken = pending.take()
    assert not pending and len(taken) == 2
    # Records go on while the flush waits on Kafka; then Kafka refuses it.
    pending.states[b"p-1"] = Change(0, b"new-1")
    pending.events.append("record-2")
    pending.restore(taken)
    assert pending.states == {b"p-1": Change(0, b"new-1"), b"p-2": Change(1, b"old-2")}
    assert pending.events == ["record-1", "record-2"]  # acked in order once written


def test_a_record_of_several_frames_has_its_alerting_patients_taken_and_stays_behind() -> None:
    """A coalesced record that raised alerts for two of its patients: both are
    written at once; its third patient and the record itself wait, behind the
    record before it, for the next flush."""
    from agents.cache import Change, Unflushed

    cache = Unflushed({}, [])
    cache.states[b"p-before"] = Change(0, b"0")
    cache.events.append("record 10")
    cache.states |= {b"p-a": Change(0, b"a"), b"p-b": Change(0, b"b"), b"p-quiet": Change(0, b"q")}
    taken = cache.take_some([b"p-a", b"p-b"], ["record 11"])
    assert set(taken.states) == {b"p-a", b"p-b"} and taken.events == []
    assert set(cache.states) == {b"p-before", b"p-quiet"} and cache.events == ["record 10", "record 11"]
