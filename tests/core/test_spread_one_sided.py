"""The learned spread widens as values spread, and a benign run is taken in
through it. Three versions of holding a run into what NEWS2 scores out of
the spread were tried on 2026-12-07 and taken back (docs/evaluation.md,
"A third review, and what was taken back"): these are the reviewers'
cases that each broke, kept so that a fourth does not break them again."""

from __future__ import annotations

import random

from tests.core.readings import Recorder

MINUTE, HOUR = 60_000, 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC


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
