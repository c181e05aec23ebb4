"""A device's own word that it moved (`motion`: true in a reading): a wrist
wearable's accelerometer gate. Its pulse-derived values (heart rate, SpO2,
the oximeter's pulse rate) in that reading are left out of detection, so a
wearer's movements, however long, raise nothing; the same movements
unflagged do, and a desaturation the device does not flag still opens."""

from __future__ import annotations

import json
import random
from datetime import datetime
from typing import Any

from app.cli.alert_view import describe
from app.core import patient as core
from app.core import state as patient_state
from app.core.alerts import iso
from app.core.fhir import detected_issue
from app.core.protocol import parse_frame
from app.core.records import ReadingBatch, decode_frames, encode_readings
from tests.core.readings import Recorder, wrist
from tests.core.test_contracts import validator

T0 = 1_764_435_600_000
SECOND = 1000


def wear(flagged: bool, seed: int = 8) -> tuple[Recorder, int]:
    """Four hours of a wrist wearable read every second; from the second
    half hour on, a movement about every 10 minutes throws its heart rate
    and SpO2 off for 20-45 s, longer than the 15 s confirmation
    (`tests.core.readings.wrist`). With `flagged`, the device says so
    (`motion`)."""
    w = Recorder()
    movements = 0
    for i, vitals, moving, began in wrist(random.Random(seed), 4 * 3600, every_s=600, lasting_s=(20, 45)):
        movements += began
        w.read(T0 + i * SECOND, {**vitals, "motion": flagged and moving}, "watch-1")
    return w, movements


def test_movements_the_device_flags_raise_nothing_and_unflagged_they_alarm() -> None:
    flagged, movements = wear(True)
    assert movements >= 10
    assert flagged.onsets() == []
    assert "spo2" not in flagged.state.quality  # the probe is not blamed for the wearer's movements
    unflagged, _ = wear(False)
    assert unflagged.onsets(), "the same movements unflagged: the test would show nothing"


def test_a_desaturation_the_device_does_not_flag_still_opens() -> None:
    w, _ = wear(True)
    start = 4 * 3600
    for i in range(start, start + 300):  # SpO2 falling 12 % over three minutes, the wearer still
        fall = 12 * min(1.0, (i - start) / 180)
        w.read(T0 + i * SECOND, {"heart_rate": 76, "spo2": round(97 - fall), "motion": False}, "watch-1")
    opened = [e for e in w.events if e["status"] == "open"]
    assert opened
    at = datetime.fromisoformat(str(opened[0]["event_time"]).replace("Z", "+00:00")).timestamp() * 1000
    assert at - (T0 + start * SECOND) <= 150 * SECOND


def test_a_flagged_reading_keeps_its_other_values_and_the_flag_is_not_kept() -> None:
    w = Recorder()
    w.read(T0, {"heart_rate": 71, "spo2": 98, "respiratory_rate": 15})
    moved = {"heart_rate": 140, "spo2": 70, "pulse_rate": 150, "respiratory_rate": 17, "motion": True}
    w.read(T0 + SECOND, moved)
    latest = w.state.latest
    assert latest["heart_rate"][0] == 71 and latest["spo2"][0] == 98  # the moved values left out
    assert latest["respiratory_rate"][0] == 17  # the rest of the reading counts
    assert "pulse_rate" not in latest and "motion" not in latest


def test_the_flag_goes_from_the_frame_through_the_record_to_the_worker() -> None:
    """What the gateway and the worker run, without their sockets and Kafka:
    a documented frame, parsed, written as a `vigil.readings` record, read
    back and processed."""
    frame = {
        "type": "reading",
        "seq": 3,
        "ts": T0,
        "vitals": {"heart_rate": 150, "spo2": 71, "respiratory_rate": 16, "motion": True},
    }
    validator("reading").validate(frame)
    parsed = parse_frame(json.dumps(frame), T0)
    assert parsed.refusals == [] and parsed.readings[0].vitals["motion"] is True
    (batch,) = decode_frames(encode_readings("watch-1", "p-" + "7" * 32, T0, parsed.readings))
    assert isinstance(batch, ReadingBatch)
    state = patient_state.PatientState()
    core.process_record(state, batch)
    assert set(state.latest) == {"respiratory_rate"}


def notices(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (e["evidence"]["vital"], e["evidence"]["signal"], e["evidence"].get("cause", ""))
        for e in events
        if e["kind"] == "no_signal"
    ]


def test_a_device_stuck_with_its_flag_on_gets_a_notice_and_another_when_it_stops() -> None:
    """Set on every reading, the flag leaves the patient's heart rate and
    SpO2 out of detection: after `no_signal_ms` (5 min) each of them gets a
    `no_signal` notice saying why (`cause`: `motion`), and another when an
    unflagged value arrives. Nothing else is raised."""
    w = Recorder()
    for i in range(0, 1800, 5):  # half an hour unflagged, every 5 s
        w.read(T0 + i * SECOND, {"heart_rate": 72, "spo2": 97, "respiratory_rate": 15}, "watch-1")
    stuck_at = T0 + 1800 * SECOND
    for i in range(1800, 2700, 5):  # 15 minutes, every reading flagged
        vitals = {"heart_rate": 72, "spo2": 97, "respiratory_rate": 15, "motion": True}
        w.read(T0 + i * SECOND, vitals, "watch-1")
        if i == 1800 + 240:  # 4 minutes in: not yet
            assert notices(w.events) == []
    lost = [e for e in w.events if e["kind"] == "no_signal"]
    assert notices(lost) == [("heart_rate", "lost", "motion"), ("spo2", "lost", "motion")]
    for e in lost:
        validator("alert").validate(e)
        assert e["status"] == "notice" and e["severity"] == "low"
        assert e["evidence"]["since"] == iso(stuck_at)
        assert e["event_time"] == iso(stuck_at + 300 * SECOND)  # 5 minutes of event time
    assert "heart_rate signal lost (only values flagged as moving since" in describe(lost[0])  # vigil alerts
    assert "only values flagged as moving" in detected_issue(lost[0])["detail"]  # the FHIR DetectedIssue
    # Encoded and read back mid-run (a worker restarted): the run and its notice are kept.
    w.state = patient_state.decode(patient_state.encode(w.state))
    w.read(T0 + 2700 * SECOND, {"heart_rate": 73, "spo2": 96, "respiratory_rate": 15}, "watch-1")
    restored = [e for e in w.events if e["kind"] == "no_signal"][2:]
    assert notices(restored) == [("heart_rate", "restored", "motion"), ("spo2", "restored", "motion")]
    assert [e["alert_id"] for e in restored] == [e["alert_id"] for e in lost]  # one run, one id
    assert w.state.moving == {}
    assert w.onsets() == []  # a notice, not an alarm
    assert "m" not in json.loads(patient_state.encode(w.state))


def test_short_movements_and_a_flagged_reading_now_and_then_raise_no_notice() -> None:
    flagged, movements = wear(True)  # four hours, a 20-45 s movement every 10 minutes
    assert movements >= 10
    assert notices(flagged.events) == []
    w = Recorder()
    for i in range(0, 3600, 60):  # a cuff-only reading in between does not end the run ...
        vitals: dict[str, Any] = {"heart_rate": 72, "spo2": 97, "motion": True}
        w.read(T0 + i * SECOND, vitals if i % 600 else {"systolic_bp": 120}, "watch-1")
    assert notices(w.events) == [("heart_rate", "lost", "motion"), ("spo2", "lost", "motion")]


def test_a_state_without_a_motion_run_reads_as_none_and_a_bad_one_is_refused() -> None:
    older = json.loads(patient_state.encode(patient_state.PatientState()))  # version 6, before "m"
    assert "m" not in older and patient_state.decode(json.dumps(older).encode()).moving == {}
    for bad in ({"respiratory_rate": [T0, 0]}, {"spo2": [T0]}, {"spo2": "x"}):
        try:
            patient_state.decode(json.dumps({**older, "m": bad}).encode())
        except patient_state.StateError:
            continue
        raise AssertionError(f"decoded {bad}")
