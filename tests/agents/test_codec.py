"""The worker's table codec: Vigil's encoding, and no stall on a bad record."""

from __future__ import annotations

from agents.codec import EncodedState, PatientStateCodec, load_state
from app.core.state import PatientState, encode
from app.infra import metrics


def test_round_trip_and_fresh_state_for_undecodable_records() -> None:
    codec = PatientStateCodec()
    state = PatientState(count=3, last_ts=1000)
    stored = codec.loads(codec.dumps(state))
    # Recovery keeps the bytes; the state is decoded when the patient is next seen.
    assert isinstance(stored, EncodedState) and stored.data == encode(state)
    assert load_state(stored) == state
    assert codec.dumps(stored) == encode(state)  # written back unchanged
    assert load_state(None) == PatientState()
    before = metrics.STATE_RESETS._value.get()
    for bad in (b"not json", b'{"v": 1, "n": 1}', b'{"v": 99}'):
        assert load_state(codec.loads(bad)) == PatientState()
    assert metrics.STATE_RESETS._value.get() == before + 3
