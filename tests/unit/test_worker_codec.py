"""The worker's table codec: Vigil's encoding, and no stall on a bad record."""

from __future__ import annotations

from agents.app import EncodedState, PatientStateCodec, load_state, patients
from app import metrics
from app.core import state as patient_state


def test_table_uses_vigils_codec_for_the_changelog() -> None:
    # Recovery decodes with the changelog topic's codec: it must be ours, not JSON.
    assert patients.changelog_topic.value_serializer == "vigil_state"
    assert patients.value_serializer == "vigil_state"
    assert patients.changelog_topic.key_serializer == "raw"


def test_round_trip_and_fresh_state_for_undecodable_records() -> None:
    codec = PatientStateCodec()
    state = patient_state.PatientState(count=3, last_ts=1000)
    stored = codec.loads(codec.dumps(state))
    # Recovery keeps the bytes; the state is decoded when the patient is next seen.
    assert isinstance(stored, EncodedState) and stored.data == patient_state.encode(state)
    assert load_state(stored) == state
    assert codec.dumps(stored) == patient_state.encode(state)  # written back unchanged if it ever is
    assert load_state(None) == patient_state.PatientState()
    before = metrics.STATE_RESETS._value.get()
    for bad in (b"not json", b'{"v": 1, "n": 1}', b'{"v": 99}'):
        assert load_state(codec.loads(bad)) == patient_state.PatientState()
    assert metrics.STATE_RESETS._value.get() == before + 3


async def test_decoded_state_cache_is_bounded_and_forgotten_when_partitions_move(monkeypatch) -> None:
    from agents import app as worker

    monkeypatch.setattr(worker, "DECODED_CACHE", 3)
    worker._decoded.clear()
    for i in range(5):
        worker._remember(f"p-{i}".encode(), patient_state.PatientState(count=i))
    assert list(worker._decoded) == [b"p-2", b"p-3", b"p-4"]  # the least recently seen went first
    worker._remember(b"p-2", patient_state.PatientState(count=2))
    worker._remember(b"p-5", patient_state.PatientState(count=5))
    assert list(worker._decoded) == [b"p-4", b"p-2", b"p-5"]
    # Another worker may advance these patients once their partitions move.
    await worker.app.on_partitions_revoked.send(set())
    assert not worker._decoded
    worker._remember(b"p-6", patient_state.PatientState())
    await worker.app.on_partitions_assigned.send(set())
    assert not worker._decoded
