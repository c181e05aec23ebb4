"""A reading is dropped as a duplicate only when it is the reading processed
last stored again: the same id at the same time. Another system writing to
`vigil.readings` may repeat an id (a charting system that numbers each
patient's rows from 1 again, or writes one id for every row), or write the
id a device will use next; before, every reading after the first of such a
run was dropped, and a patient's deterioration with it."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from app.core import patient as core
from app.core import state as patient_state
from app.core.records import ReadingBatch, reading_id
from tests.core.readings import Recorder, normal

T0 = 1_764_435_600_000
MINUTE = 60_000
SUBJECT = "p-" + "7" * 32


def falling(i: int, rng: random.Random) -> dict[str, Any]:
    """A stable adult for an hour, then SpO2 and pressure falling, the
    breathing rate rising (NEWS2 well past 7 by 90 minutes)."""
    vitals = normal(rng)
    if i >= 60:
        k = min(i - 60, 30) / 30
        vitals.update(
            spo2=round(97 - 12 * k), systolic_bp=round(122 - 32 * k), respiratory_rate=round(16 + 12 * k)
        )
    return vitals


def test_a_producer_that_repeats_one_id_has_every_reading_scored() -> None:
    same, own = Recorder(SUBJECT), Recorder(SUBJECT)
    rng_same, rng_own = random.Random(5), random.Random(5)
    for i in range(100):
        outcome = same.replay({"id": "row", "seq": 0, "ts": T0 + i * MINUTE, "vitals": falling(i, rng_same)})
        assert not outcome.duplicate
        own.read(T0 + i * MINUTE, falling(i, rng_own))
    assert same.state.count == own.state.count == 100
    assert same.onsets(), "the deterioration is told"
    assert [(e["kind"], e["severity"], e["event_time"]) for e in same.onsets()] == [
        (e["kind"], e["severity"], e["event_time"]) for e in own.onsets()
    ]


def test_a_reading_stored_twice_is_still_dropped_whatever_its_time() -> None:
    p = Recorder(SUBJECT)
    rng = random.Random(8)
    for i in range(30):
        reading = {"id": reading_id("dev-1", i), "seq": i, "ts": T0 + i * MINUTE, "vitals": normal(rng)}
        assert not p.replay(reading).duplicate
        before = patient_state.encode(p.state)
        assert p.replay(dict(reading)).duplicate
        assert patient_state.encode(p.state) == before
    # a cuff's reading stamped when it began, arriving after a newer one: stored twice, once scored
    late = {"id": reading_id("cuff-1", 0), "seq": 0, "ts": T0 + 28 * MINUTE, "vitals": {"diastolic_bp": 74}}
    assert not p.replay(late, "cuff-1").out_of_order
    before = patient_state.encode(p.state)
    assert p.replay(dict(late), "cuff-1").duplicate
    assert patient_state.encode(p.state) == before


def test_a_resend_of_a_reading_stamped_ahead_of_its_receipt_is_dropped() -> None:
    """A device whose clock runs ahead: its reading is processed at its
    record's receipt, and the copy stored again comes in a later record."""
    state = patient_state.PatientState()
    rng = random.Random(2)
    for i in range(20):
        reading = {"id": reading_id("dev-1", i), "seq": i, "ts": T0 + i * MINUTE, "vitals": normal(rng)}
        core.process_record(state, ReadingBatch(SUBJECT, "dev-1", T0 + i * MINUTE, [reading]))
    ahead = {"id": reading_id("dev-1", 20), "seq": 20, "ts": T0 + 25 * MINUTE, "vitals": normal(rng)}
    first = core.process_record(state, ReadingBatch(SUBJECT, "dev-1", T0 + 20 * MINUTE, [ahead]))
    assert first.counts["future"] == 1 and first.counts["scored"] == 1
    before = patient_state.encode(state)
    again = core.process_record(state, ReadingBatch(SUBJECT, "dev-1", T0 + 21 * MINUTE, [dict(ahead)]))
    assert again.counts["duplicate"] == 1 and again.counts["scored"] == 0
    assert patient_state.encode(state) == before
    assert patient_state.decode(before).last_stamp == T0 + 25 * MINUTE


def test_a_reading_written_under_a_devices_next_id_does_not_shadow_it() -> None:
    p = Recorder(SUBJECT)
    rng = random.Random(4)
    for i in range(30):
        p.replay(
            {"id": reading_id("mon-1", i), "seq": i, "ts": T0 + i * MINUTE, "vitals": normal(rng)}, "mon-1"
        )
    other = {
        "id": reading_id("mon-1", 30),
        "seq": 30,
        "ts": T0 + 30 * MINUTE - 20_000,
        "vitals": {"temperature": 37.0},
    }
    p.replay(other, "chart-1")
    red = {"heart_rate": 72, "spo2": 84, "respiratory_rate": 26, "systolic_bp": 118}
    outcome = p.replay(
        {"id": reading_id("mon-1", 30), "seq": 30, "ts": T0 + 30 * MINUTE, "vitals": red}, "mon-1"
    )
    assert not outcome.duplicate
    assert p.state.latest["spo2"][0] == 84


def test_the_time_a_late_reading_carried_survives_encoding() -> None:
    state = patient_state.PatientState(count=3, last_ts=T0, last_id="x", last_stamp=T0 - MINUTE)
    again = patient_state.decode(patient_state.encode(state))
    assert again.last_stamp == T0 - MINUTE
    plain = patient_state.PatientState(count=3, last_ts=T0, last_id="x")
    assert "it" not in patient_state.encode(plain).decode()
    assert patient_state.decode(patient_state.encode(plain)).last_stamp == -1


@pytest.mark.parametrize("bad", [True, 1.5, -5, "1", 10**23])
def test_a_state_whose_last_readings_time_is_not_a_time_is_refused(bad: object) -> None:
    obj = orjson.loads(patient_state.encode(patient_state.PatientState(count=3, last_ts=T0, last_id="x")))
    obj["it"] = bad
    data = orjson.dumps({**obj, "it": 0}).replace(
        b'"it":0', b'"it":' + orjson.dumps(bad) if bad != 10**23 else b'"it":' + str(bad).encode()
    )
    with pytest.raises(patient_state.StateError):
        patient_state.decode(data)
