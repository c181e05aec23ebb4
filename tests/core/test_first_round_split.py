"""A patient's first values, when nothing says the patient is read more
often than every 5 minutes, are spot measurements, each its own
confirmation: the next value may be hours away. A real MIMIC-IV admission
charted its pressure of 84/48 at 14:11, the pulse of 91 and the breathing
rate of 24 at 14:12, the SpO2 at 14:13 (NEWS2 6): the trigger waited for
the systolic's own next value, and was told at 14:30 without the 84, or
never when that value was normal (an outside reviewer, 2026-12-06); a
triage round's lone systolic of 84 was never told (a second reviewer)."""

from __future__ import annotations

from typing import Any

from tests.core.readings import Recorder

T0 = 1_704_114_660_000  # 2024-01-01 13:11 UTC
MINUTE = 60_000


def _read(recorder: Recorder, rows: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    events = []
    for minute, vitals in rows:
        events += [
            {**e, "_minute": minute}
            for e in recorder.read(T0 + minute * MINUTE, vitals, device="chart").events
        ]
    return events


def _news2(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["kind"] == "news2"]


ADMISSION = [
    (0, {"systolic_bp": 84, "diastolic_bp": 48}),
    (1, {"heart_rate": 91, "respiratory_rate": 24}),
    (2, {"spo2": 98}),
]


def test_an_admission_round_split_over_minutes_is_told_at_once() -> None:
    events = _news2(_read(Recorder(), ADMISSION))
    # The pressure's red value at once (a first value: a spot measurement), the round's score a
    # minute later.
    assert [(e["status"], e["severity"], e["_minute"]) for e in events] == [
        ("open", "low", 0),
        ("escalated", "medium", 1),
    ]
    assert events[1]["evidence"]["score"] == 6
    assert events[1]["evidence"]["vitals"]["systolic_bp"] == 84


def test_it_is_told_when_the_next_round_is_normal() -> None:
    """The next hour's pressure of 118 no longer drops the first round's
    trigger before it was told."""
    rows = ADMISSION + [
        (60, {"systolic_bp": 118, "diastolic_bp": 66}),
        (61, {"heart_rate": 84, "respiratory_rate": 17}),
    ]
    events = _news2(_read(Recorder(), rows))
    assert [(e["status"], e["_minute"]) for e in events][:2] == [("open", 0), ("escalated", 1)]


def test_a_first_rounds_lone_red_value_is_told_at_once() -> None:
    """A triage round in one reading, its systolic of 84 the only value
    NEWS2 scores (3: red, an urgent ward-based response), the next round
    four hours later at 96: it waited for the pressure's next value, and
    was never told (real MIMIC-IV-ED triage rows, a second reviewer)."""
    round_ = {"heart_rate": 88, "respiratory_rate": 18, "spo2": 97, "systolic_bp": 84, "temperature": 37.0}
    later = {**round_, "systolic_bp": 96}
    events = _news2(_read(Recorder(), [(0, {**round_, "consciousness": "A"}), (240, later)]))
    assert [(e["status"], e["severity"], e["_minute"]) for e in events][:1] == [("open", "low", 0)]
    assert events[0]["evidence"]["vitals"] == {"systolic_bp": 84}


def test_a_new_probe_on_a_monitored_patient_still_waits_for_its_next_value() -> None:
    """A patient read every minute: an oximeter's first value of 84 (a probe
    just clipped on) is confirmed or dropped by its next, a minute later,
    as before."""
    recorder = Recorder()
    rows = [(m, {"heart_rate": 78, "systolic_bp": 124, "respiratory_rate": 16}) for m in range(60)]
    rows += [(60, {"heart_rate": 78, "systolic_bp": 124, "respiratory_rate": 16, "spo2": 84})]
    rows += [(61, {"heart_rate": 78, "systolic_bp": 124, "respiratory_rate": 16, "spo2": 97})]
    assert _news2(_read(recorder, rows)) == []
