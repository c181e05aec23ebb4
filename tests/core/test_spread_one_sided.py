"""A run held out of the learned normal does not widen the learned spread:
an alarm is not a new normal, by the mean or by the spread. A change in
variance (values on both sides of the normal) still widens it."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from app.core.alerts import iso
from tests.core.readings import Recorder

MINUTE, HOUR = 60_000, 3_600_000

# PhysioNet 2012 set-b stay 150014's heart rate as charted (times since
# admission from 2026-01-01 00:00 UTC): 66-77 through a hypothermic night,
# 87-106 for a day, then 100-126 for thirteen hours after extubation.
STAY_150014 = """01:50 77, 02:05 66, 02:20 69, 02:35 69, 02:50 66, 03:50 70, 04:20 69, 04:50 68,
05:50 74, 06:50 99, 08:50 89, 09:50 95, 10:50 95, 11:50 106, 12:50 89, 13:50 95, 14:50 97, 15:50 99,
16:50 100, 17:50 100, 18:50 103, 19:50 91, 20:50 95, 21:50 97, 22:50 97, 23:50 97, 24:50 89, 25:50 87,
26:50 90, 27:50 92, 28:50 93, 29:50 90, 32:50 102, 33:45 108, 33:50 113, 34:00 114, 34:35 111,
34:50 117, 35:50 120, 36:20 126, 36:50 102, 36:55 100, 37:50 106, 38:50 111, 39:50 115, 40:50 117,
41:50 116, 42:50 119, 43:50 104, 44:50 109, 45:50 110"""
T0 = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)


def _stay() -> list[tuple[int, int]]:
    rows = []
    for item in STAY_150014.replace("\n", " ").split(","):
        at, value = item.split()
        hours, minutes = at.split(":")
        rows.append((T0 + int(hours) * HOUR + int(minutes) * MINUTE, int(value)))
    return rows


def test_a_day_held_out_of_the_normal_does_not_hide_the_next_days_tachycardia() -> None:
    """Before: the day at 87-106 took the spread from 3.6 to 8 (each value
    inside 5 SDs learned, winsorised at 3), the anomaly resolved at 92 and
    the spread went on to 22: 102-126 the next day were told by nothing."""
    recorder = Recorder()
    spread_at_onset = 0.0
    for ts, value in _stay():
        recorder.read(ts, {"heart_rate": value})
        anomalies = [e for e in recorder.events if e["kind"] == "anomaly"]
        if anomalies and not spread_at_onset:
            spread_at_onset = recorder.state.baselines["heart_rate"].sd
    anomalies = [e for e in recorder.events if e["kind"] == "anomaly"]
    assert anomalies[0]["status"] == "open" and anomalies[0]["evidence"]["vitals"] == {"heart_rate": 99}
    # Told through the second day's tachycardia: open to the end, escalated at its first 102.
    assert [e["status"] for e in anomalies].count("resolved") == 0, anomalies
    second_day = iso(T0 + 32 * HOUR + 50 * MINUTE)
    assert any(e["event_time"] == second_day and e["status"] == "escalated" for e in anomalies), anomalies
    assert recorder.state.baselines["heart_rate"].sd < 1.5 * spread_at_onset


def test_a_noisier_patient_still_widens_the_spread() -> None:
    """Values on both sides of the normal, three times as spread: the spread
    learned grows toward theirs within hours (a memory of a day), and the anomalies it opened
    on the way resolve."""
    rng = random.Random(5)
    recorder = Recorder()
    ts = T0
    for _ in range(3 * 60):
        recorder.read(ts, {"heart_rate": round(72 + rng.gauss(0, 2))})
        ts += MINUTE
    before = recorder.state.baselines["heart_rate"].sd
    for _ in range(12 * 60):
        recorder.read(ts, {"heart_rate": round(72 + rng.gauss(0, 6))})
        ts += MINUTE
    after = recorder.state.baselines["heart_rate"].sd
    assert after > 1.6 * before, (before, after)
    anomalies = [e for e in recorder.events if e["kind"] == "anomaly"]
    assert not anomalies or anomalies[-1]["status"] == "resolved", anomalies[-3:]


def test_a_benign_rise_nothing_scores_is_still_taken_in_and_hides_no_later_fall() -> None:
    """An outside reviewer's patient up and about: at 08:00 the heart rate
    goes from 65 to 80 and the breathing rate from 14 to 17 for good (NEWS2
    scores neither), read every minute. Its drift is held while both are up
    together (an arousal's); the spread widening is how it is taken in. A
    first version held every run out of the spread: the heart rate's
    anomaly stayed open for days, and a fall of the systolic from 124 to 98
    the next morning opened nothing beside it."""
    rng = random.Random(2)
    recorder = Recorder()
    for minute in range(34 * 60):
        up = minute >= 8 * 60
        fall = min(max(0.0, (minute - 34 * 60 + 8 * 60) / 40), 1.0)  # day 2, 10:00-10:40
        vitals = {
            "heart_rate": round((80 if up else 65) + rng.gauss(0, 3)),
            "respiratory_rate": round((17 if up else 14) + rng.gauss(0, 1)),
            "systolic_bp": round(124 - 26 * fall + rng.gauss(0, 4)),
            "spo2": round(97 + rng.gauss(0, 0.6)),
        }
        recorder.read(T0 + minute * MINUTE, vitals)
        if minute == 34 * 60 - 8 * 60 - 1:  # day 2, 09:59: the rise is taken in
            assert "anomaly" not in {k.value for k in recorder.state.alerts}, minute
    told = [
        e
        for e in recorder.events
        if e["status"] in ("open", "escalated") and "systolic_bp" in e["evidence"].get("vitals", {})
    ]
    assert told, [
        (e["kind"], e["status"], e["event_time"]) for e in recorder.events if e["kind"] != "baseline_drift"
    ]


def test_a_monitors_waking_heart_rate_that_nothing_but_news2_scores_does_not_alarm_every_day() -> None:
    """An outside reviewer's patient read every minute: awake (06:00-22:00)
    at a heart rate of 96 (NEWS2 1), asleep at 84, for three days. With a
    run into what NEWS2 scores held out of the spread at any cadence, the
    spread measured about the minute values' own recent level fell under
    the patient's, and each morning opened anomalies again (26 in four
    days). Read this often, a run widens the spread as before."""
    rng = random.Random(4)
    recorder = Recorder()
    for minute in range(3 * 24 * 60):
        awake = 6 <= (minute // 60) % 24 < 22
        recorder.read(T0 + minute * MINUTE, {"heart_rate": round((96 if awake else 84) + rng.gauss(0, 2))})
    opened = [e for e in recorder.events if e["kind"] == "anomaly" and e["status"] == "open"]
    assert len(opened) <= 2, [e["event_time"] for e in opened]
