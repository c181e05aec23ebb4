"""A mean arterial pressure under 65 mmHg (the Surviving Sepsis Campaign's
target in shock) is no one's normal. A chart that records the arterial
line's mean without a systolic (a PhysioNet 2012 stay did for 23 hours) had
a fall to 42-48 adopted as the patient's normal: its anomaly resolved, and
a day of shock was told by nothing, where NEWS2 scores no mean pressure."""

from __future__ import annotations

import random
from typing import Any

from tests.core.readings import Recorder

T0 = 1_772_352_000_000  # 2026-03-01 08:00 UTC
HOUR = 3_600_000


def _rounds(recorder: Recorder, means: list[int]) -> list[dict[str, Any]]:
    """Hourly rounds: a stable patient's vitals, the line's mean as given, no systolic."""
    rng = random.Random(3)
    events = []
    for h, mean in enumerate(means):
        vitals = {
            "heart_rate": rng.randint(76, 84),
            "respiratory_rate": rng.randint(14, 18),
            "spo2": rng.randint(96, 98),
            "temperature": round(rng.uniform(36.6, 37.0), 1),
            "mean_bp": mean,
            "consciousness": "A",
            "on_oxygen": False,
        }
        events += recorder.read(T0 + h * HOUR, vitals, "chart").events
    return events


def test_a_mean_pressure_fallen_under_65_is_held_open_not_learned() -> None:
    rng = random.Random(3)
    means = [rng.randint(80, 88) for _ in range(24)] + [80 - k * 6 for k in range(1, 7)]
    means += [rng.randint(42, 48) for _ in range(30)]
    recorder = Recorder()
    events = _rounds(recorder, means)
    anomaly = [e for e in events if e["kind"] == "anomaly"]
    assert anomaly and anomaly[0]["status"] == "open" and anomaly[0]["severity"] == "medium"
    assert [e for e in anomaly if e["status"] == "resolved"] == [], "shock stays told"
    drifts = [e for e in events if e["kind"] == "baseline_drift"]
    assert drifts and all(not e["evidence"]["adopted"] for e in drifts)
    assert {e["evidence"]["held"] for e in drifts} == {"unsafe_level"}
    assert recorder.state.baselines["mean_bp"].mean > 75  # the normal is still the patient's own
    assert "anomaly" in recorder.state.alerts


def test_a_mean_pressure_settling_lower_above_65_is_adopted() -> None:
    """A new normal of 72 (a sedative, a vasodilator) is a new normal: learned,
    no alert left open."""
    rng = random.Random(4)
    means = [rng.randint(84, 90) for _ in range(24)] + [rng.randint(70, 74) for _ in range(36)]
    recorder = Recorder()
    events = _rounds(recorder, means)
    assert not any(e["evidence"].get("held") == "unsafe_level" for e in events)
    assert "anomaly" not in recorder.state.alerts
    assert recorder.state.baselines["mean_bp"].mean < 80  # learned, as before the floor
