"""A value on its way back to normal is no anomaly: one NEWS2 scores 0,
while the normal this patient's model learned is in a band NEWS2 scores,
no deeper into NEWS2's normal band than the learned normal is from it. A
patient cooled after a cardiac arrest, at 34.2-35.0 C from admission, had
that learned as his normal, and rewarming to 36.1 and 36.7 opened `medium`
anomalies (z 8.5) at the readings NEWS2 resolved at (a PhysioNet 2012 stay,
an outside tester). A move deeper than that is still scored: a systolic of
140 at night against a normal of 104 (tests/core/test_normal_by_time_of_day.py)."""

from __future__ import annotations

import random

from tests.core.readings import Recorder

T0 = 1_764_374_400_000
HOUR = 3_600_000


def _charted(temperatures: list[float], pulses: list[int]) -> list[dict[str, object]]:
    recorder, rng = Recorder(), random.Random(6)
    for hour, (temperature, pulse) in enumerate(zip(temperatures, pulses, strict=True)):
        vitals = {
            "heart_rate": pulse,
            "respiratory_rate": rng.randint(14, 18),
            "systolic_bp": rng.randint(112, 124),
            "spo2": rng.randint(95, 98),
            "temperature": temperature,
            "consciousness": "U",
            "on_oxygen": True,
        }
        recorder.read(T0 + hour * HOUR, vitals)
    return [e for e in recorder.events if e["kind"] == "anomaly" and e["status"] in ("open", "escalated")]


def test_rewarming_after_cooling_opens_no_anomaly() -> None:
    """The tester's stay, its temperature charted every 15 minutes at
    34.2-35.0, then every two hours as it is rewarmed, cooled again, and
    rewarmed: NEWS2 tells the cold; nothing tells the rewarming."""
    minutes = [0, 15, 30, 45, 60, 75, 90, 105, 120, 135, 150, 270, 390, 510, 630, 750, 870, 990, 1110, 1230]
    temperatures = [34.3, 34.3, 34.2, 34.2, 34.3, 34.4, 34.5, 34.6, 34.7, 34.8, 35.0, 36.1, 36.4, 36.4, 36.5]
    temperatures += [34.7, 35.0, 35.0, 36.1, 36.7]
    recorder = Recorder()
    for minute, temperature in zip(minutes, temperatures, strict=True):
        recorder.read(T0 + minute * 60_000, {"temperature": temperature, "heart_rate": 62})
    assert [e for e in recorder.events if e["kind"] == "anomaly"] == []
    assert [e["status"] for e in recorder.events if e["kind"] == "news2"][:1] == ["open"]


def test_a_heart_rate_back_from_a_day_at_120_opens_no_anomaly_and_a_fall_to_40_does() -> None:
    rng = random.Random(3)
    temperatures = [37.0] * 36
    fast = [rng.randint(118, 128) for _ in range(30)]
    assert _charted(temperatures, fast + [100, 92, 88, 86, 85, 84]) == []
    told = _charted(temperatures, fast + [100, 92, 60, 45, 40, 38])
    assert told and "heart_rate" in told[0]["evidence"]["vitals"]


def test_a_fall_past_the_normal_band_from_a_day_at_140_is_still_an_anomaly() -> None:
    """An outside reviewer's case against a first version: a heart rate
    about 140 for 30 hours, then 46, 45, 44. The way back to normal ends at
    the band's far edge (51): past it, the fall is an anomaly as before."""
    rng = random.Random(3)
    pulses = [rng.randint(135, 145) for _ in range(30)] + [46, 45, 44, 45, 46, 45]
    told = _charted([37.0] * len(pulses), pulses)
    assert told and "heart_rate" in told[0]["evidence"]["vitals"]
