"""A patient's first round entered a vital at a time (a chart export's row
per observation): a red value the round rests on is corroborated by the
round's other values, as when the round comes in one reading. A real
MIMIC-IV admission charted its pressure of 84/48 at 14:11, the pulse of 91
and the breathing rate of 24 at 14:12, the SpO2 at 14:13 (NEWS2 6): the
trigger waited for the systolic's own next value, and was told at 14:30
without the 84, or never when that value was normal (an outside reviewer,
2026-12-06)."""

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
    assert [(e["status"], e["severity"], e["_minute"]) for e in events] == [("open", "medium", 1)]
    assert events[0]["evidence"]["score"] == 6
    assert events[0]["evidence"]["vitals"]["systolic_bp"] == 84


def test_it_is_told_when_the_next_round_is_normal() -> None:
    """The next hour's pressure of 118 no longer drops the first round's
    trigger before it was told."""
    rows = ADMISSION + [
        (60, {"systolic_bp": 118, "diastolic_bp": 66}),
        (61, {"heart_rate": 84, "respiratory_rate": 17}),
    ]
    events = _news2(_read(Recorder(), rows))
    assert [(e["status"], e["_minute"]) for e in events][:1] == [("open", 1)]


def test_one_other_value_does_not_corroborate_a_first_red_value() -> None:
    """A first systolic of 84 and a pulse of 95 (NEWS2 4): one other value
    scoring 1 is not a round's corroboration; the pressure's next value
    confirms or drops it, as before."""
    rows = [(0, {"systolic_bp": 84}), (1, {"heart_rate": 95}), (20, {"systolic_bp": 121})]
    assert _news2(_read(Recorder(), rows)) == []


def test_a_red_value_an_hour_old_is_no_round() -> None:
    """A round is minutes, not an hour: a first systolic of 84, then a pulse
    of 91 and a breathing rate of 24 forty minutes later, waits for the
    pressure's own next value."""
    rows = [
        (0, {"systolic_bp": 84}),
        (40, {"heart_rate": 91, "respiratory_rate": 24}),
        (50, {"systolic_bp": 122}),
    ]
    events = _news2(_read(Recorder(), rows))
    assert all("systolic_bp" not in e["evidence"].get("vitals", {}) for e in events)
