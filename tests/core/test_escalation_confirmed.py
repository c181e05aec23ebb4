"""An open alert escalates on a rise that lasts, not on one reading; a red
part is told again after it has left its neighbouring band, not after a
reminder read a point under it (`app.core.alerts._rise_confirmed`,
`app.core.patient._near_red`)."""

from __future__ import annotations

import random

from app.core import patient as core
from app.core import state as patient_state
from app.core.alerts import iso
from app.core.records import reading_id

T0 = 1_764_435_600_000
MINUTE = 60_000
HOUR = 60 * MINUTE


def _run(rows: list[tuple[int, dict[str, object]]]) -> list[dict[str, object]]:
    """NEWS2 events of one patient read at (event time, vitals)."""
    state = patient_state.PatientState()
    told: list[dict[str, object]] = []
    for seq, (ts, vitals) in enumerate(rows):
        reading = {"id": reading_id("dev-1", seq), "seq": seq, "ts": ts, "vitals": vitals}
        out = core.process(state, "p-subject-1", "dev-1", reading, patient="patient-1")
        told += [e for e in out.events if e["kind"] == "news2"]
    return told


def _hypoxic(blips: set[int], sustained: range = range(0)) -> list[tuple[int, dict[str, object]]]:
    """Six hours at an SpO2 of 96 read every minute, then 90-91 on air (NEWS2
    3: a `low` alert) for four hours, the breathing count 18-20 but 21 (NEWS2
    5, medium) at the minutes in `blips` and all through `sustained`."""
    rng = random.Random(3)
    rows: list[tuple[int, dict[str, object]]] = []
    for m in range(10 * 60):
        vitals: dict[str, object] = {
            "heart_rate": round(80 + rng.gauss(0, 2)),
            "respiratory_rate": 18 + rng.randrange(3),
            "spo2": 96 if m < 6 * 60 else 90 + rng.randrange(2),
            "systolic_bp": round(124 + rng.gauss(0, 3)),
            "temperature": 36.8,
        }
        if m >= 6 * 60 and (m - 6 * 60 in blips or m - 6 * 60 in sustained):
            vitals["respiratory_rate"] = 21
        if m == 0:
            vitals.update(consciousness="A", on_oxygen=False)
        rows.append((T0 + m * MINUTE, vitals))
    return rows


def test_single_minutes_of_a_higher_score_do_not_escalate_an_open_alert() -> None:
    """An outside tester's patient: each single minute the breathing count
    read 21 beside an SpO2 of 90-91 made NEWS2 5 and an `escalated` to
    medium, the severity settling back 10 minutes later: six escalations in
    2.4 hours for one number flickering. Now none; the alert stays open at
    low."""
    news = _run(_hypoxic(blips=set(range(30, 240, 23))))
    assert [e["status"] for e in news] == ["open", "reminder", "reminder"]
    assert {e["severity"] for e in news} == {"low"}


def test_a_higher_score_that_lasts_escalates_at_its_second_reading() -> None:
    news = _run(_hypoxic(blips=set(), sustained=range(100, 130)))
    escalated = [e for e in news if e["status"] == "escalated"]
    assert [e["severity"] for e in escalated] == ["medium"]
    assert escalated[0]["event_time"] == iso(T0 + (6 * 60 + 101) * MINUTE)  # its second minute


def _charted(pulses: list[int], systolics: list[int]) -> list[dict[str, object]]:
    """A patient charted hourly who responds to voice only (NEWS2 3: an
    alert open all through), with these pulses and systolics hour by hour."""
    rows = []
    for h, (pulse, systolic) in enumerate(zip(pulses, systolics, strict=True)):
        vitals: dict[str, object] = {
            "heart_rate": pulse,
            "respiratory_rate": 16,
            "spo2": 96,
            "systolic_bp": systolic,
            "temperature": 37.0,
            "consciousness": "V",
            "on_oxygen": False,
        }
        rows.append((T0 + h * HOUR, vitals))
    return _run(rows)


def _newly(news: list[dict[str, object]], vital: str) -> list[str]:
    return [
        str(e["event_time"])
        for e in news
        if e["status"] == "escalated" and vital in (e["evidence"].get("newly") or [])  # type: ignore[union-attr]
    ]


def test_a_red_pulse_on_its_bands_edge_is_told_once_not_after_every_reminder() -> None:
    """A real ICU stay's pulse charted 127-137 for two days beside a red
    breathing rate (PhysioNet 2012, an outside tester): each reminder read
    at 127-130 (NEWS2 2) re-armed the pulse, and its next 131 was told as
    `newly: heart_rate`, for a pulse that had not changed. The pulse is told
    once; the reminders go on."""
    news = _charted([132, 128, 130] * 16, [125] * 48)
    assert news[0]["status"] == "open" and news[0]["evidence"]["vitals"]["heart_rate"] == 132  # type: ignore[index]
    assert _newly(news, "heart_rate") == []  # told as it opened
    assert [e["status"] for e in news].count("reminder") >= 3


def test_a_red_part_back_after_a_day_in_a_band_scoring_1_is_told_again() -> None:
    """A systolic of 88 told inside an alert held open by the level of
    consciousness, then 104-110 (NEWS2 1) for a day: its fall to 86 is a relapse,
    told at its charted value (a `charted` cohort's hypotension, found
    when the change above was first tried)."""
    systolics = [125] + [88] * 4 + [104, 110] * 12 + [86] * 3
    news = _charted([80] * len(systolics), systolics)
    assert _newly(news, "systolic_bp") == [iso(T0 + 29 * HOUR)]  # at its first charted value
