"""Several devices for one patient: a monitor streams heart rate, SpO2 and
breathing rate; a cuff's reading is stamped when it began measuring and
arrives a minute later, when the monitor has sent newer readings. Its values
are still the pressure's newest: they are learned and scored (they were
dropped as out of order, so the pressure was never learned and no personal
alert could come from it), and what they raise is told at the patient's
newest time. A reading stored twice is still scored once."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from app.core.records import reading_id
from tests.core.readings import Recorder

T0 = 1_764_435_600_000
MINUTE = 60_000


def monitored(hours: int, cuff: Any) -> Recorder:
    """A monitor every minute; every 15 minutes a cuff reading stamped a
    minute before it arrives, its systolic `cuff(minute)`."""
    rng = random.Random(12)
    p = Recorder()
    for i in range(hours * 60):
        monitor = {"heart_rate": round(rng.gauss(72, 3)), "spo2": 97, "respiratory_rate": 15}
        p.read(T0 + i * MINUTE, monitor, "monitor-1")
        if i % 15 == 0 and i > 0:
            systolic = cuff(i)
            p.read(
                T0 + (i - 1) * MINUTE,
                {"systolic_bp": systolic, "diastolic_bp": round(systolic * 0.6)},
                "cuff-1",
            )
    return p


def test_a_late_cuff_is_learned_and_a_fall_of_the_patients_own_pressure_alerts() -> None:
    rng = random.Random(3)
    p = monitored(12, lambda minute: round(rng.gauss(152, 4)) if minute < 11 * 60 else 114)
    baseline = p.state.baselines.get("systolic_bp")
    assert baseline is not None and baseline.var.n >= 40  # every cuff reading learned
    # 114 scores 0 in NEWS2: only the patient's own normal (about 152) says it is a fall.
    anomalies = [e for e in p.events if e["kind"] == "anomaly" and e["status"] == "open"]
    assert anomalies and "systolic_bp" in anomalies[0]["evidence"]["z"]
    # One alert for the hour of 114s: it held between cuff readings (it resolved and reopened).
    assert len(anomalies) == 1, [e["event_time"] for e in anomalies]
    newest = max(r[1] for r in p.state.latest.values())
    assert p.state.last_ts == newest  # the clock never went back


def test_a_late_reading_stored_twice_is_scored_once() -> None:
    p = monitored(1, lambda minute: 150)
    cuff = {
        "id": reading_id("cuff-1", 999),
        "seq": 999,
        "ts": T0 + 58 * MINUTE,
        "vitals": {"systolic_bp": 90},
    }
    first = p.replay(cuff, "cuff-1")
    p.read(T0 + 60 * MINUTE, {"heart_rate": 72, "spo2": 97, "respiratory_rate": 15}, "monitor-1")
    learned = p.state.baselines["systolic_bp"].var.n
    again = p.replay(cuff, "cuff-1")  # the same reading, stored twice
    assert not first.out_of_order and again.out_of_order and again.events == []
    assert p.state.baselines["systolic_bp"].var.n == learned


def test_a_late_cuff_can_be_the_third_vital_drifting_together() -> None:
    """The heart and breathing rate (the monitor) and the systolic pressure
    (the late cuff, every 5 minutes) drift the way a sepsis moves them; the
    pressure's drift, found on a late reading, is the third and opens the
    `trend` on that reading."""
    rng = random.Random(4)
    p = Recorder()
    for i in range(10 * 60):
        progress = max(0.0, (i - 6 * 60) / (4 * 60))
        heart, breathing = round(rng.gauss(72, 3) + 40 * progress), round(rng.gauss(15, 1) + 10 * progress)
        p.read(T0 + i * MINUTE, {"heart_rate": heart, "spo2": 97, "respiratory_rate": breathing}, "monitor-1")
        if i % 5 == 0 and i > 0:
            systolic = round(rng.gauss(125, 4) - 35 * max(0.0, (i - 1 - 6 * 60) / (4 * 60)))
            outcome = p.read(T0 + (i - 1) * MINUTE, {"systolic_bp": systolic}, "cuff-1")
            assert not outcome.out_of_order
    trends = [e for e in p.events if e["kind"] == "trend" and e["status"] == "open"]
    drifts = [e for e in p.events if e["kind"] == "baseline_drift"]
    # In the order they first drifted (the heart rate, climbing on, may drift again before the cuff's).
    first = {e["evidence"]["vital"]: e for e in reversed(drifts)}
    in_order = sorted(first, key=lambda vital: at(first[vital]))
    assert in_order == ["heart_rate", "respiratory_rate", "systolic_bp"]
    assert trends and "systolic_bp" in trends[0]["evidence"]["vitals"]
    # Told at the patient's newest time, on the cuff's reading: not at the next drift of another vital.
    assert 0 < at(trends[0]) - at(first["systolic_bp"]) <= MINUTE


def at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(event["event_time"]).replace("Z", "+00:00")).timestamp() * 1000
