"""A drift of the SpO2 is judged on the scale the patient is prescribed:
on NEWS2's scale 2 (a hypercapnic target of 88-92 %) an SpO2 of 97 or
more on oxygen scores 3 and is no new normal, and 91-92 on air scores
nothing and is one. Scale 1 judged every patient's drifts before
2026-12-06 (a reviewer: a scale-2 patient's drift to 97 on oxygen was
adopted as the normal, and one to 93 held as unsafe, 4-6 notices a day)."""

from __future__ import annotations

import random
from typing import Any

from tests.core.readings import Recorder

T0 = 1_764_374_400_000
MINUTE = 60_000


def _drifts(level_at: Any, oxygen: bool, minutes: int = 600) -> list[dict[str, Any]]:
    recorder, rng = Recorder(), random.Random(3)
    for minute in range(minutes):
        vitals = {
            "spo2": round(level_at(minute) + rng.gauss(0, 0.5)),
            "heart_rate": round(78 + rng.gauss(0, 2)),
            "respiratory_rate": round(18 + rng.gauss(0, 1)),
            "on_oxygen": oxygen,
            "spo2_scale": 2,
        }
        recorder.read(T0 + minute * MINUTE, vitals)
    return [e for e in recorder.events if e["kind"] == "baseline_drift"]


def test_a_drift_to_97_on_oxygen_on_scale_2_is_not_adopted() -> None:
    drifts = _drifts(lambda minute: 93.0 if minute < 240 else 97.5, oxygen=True)
    up = [e for e in drifts if e["evidence"]["to"] > 96]
    assert up, drifts
    assert all(not e["evidence"]["adopted"] and e["evidence"]["held"] == "unsafe_level" for e in up), up


def test_a_drift_to_92_on_air_on_scale_2_is_adopted() -> None:
    drifts = _drifts(lambda minute: 89.0 if minute < 240 else 92.0, oxygen=False)
    up = [e for e in drifts if e["evidence"]["to"] > 91]
    assert up and up[0]["evidence"]["adopted"], drifts
