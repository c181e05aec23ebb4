"""A high alert settles to medium only after the condition has been lower
for a quarter of the alert's age, up to an hour (and at least the usual two
cadences): an outside reviewer's patient with a breathing rate of 21-24 and
a systolic of 92-99 (NEWS2 5) and a pulse flickering between 38 and 44
(NEWS2 7 at 40 or under) was told `escalated` to high 23-28 times a day,
each time the pulse came back under 41 after twenty minutes above it. A
return to high after the alert has been lower for longer than that is a
new emergency, told as before."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from tests.core.readings import Recorder

T0 = 1_764_374_400_000
MINUTE = 60_000
HOUR = 60 * MINUTE


def _patient(hours: int, pulse_at: Callable[[float, random.Random], float]) -> list[dict[str, Any]]:
    """Read every 5 minutes; the events of NEWS2, each with its hour."""
    rng, recorder = random.Random(7), Recorder()
    news = []
    for ts in range(T0, T0 + hours * HOUR, 5 * MINUTE):
        hour = (ts - T0) / HOUR
        vitals = {
            "heart_rate": round(pulse_at(hour, rng)),
            "respiratory_rate": round(rng.uniform(21, 24)),
            "systolic_bp": round(rng.uniform(92, 99)),
            "spo2": 97,
            "temperature": 36.8,
            "consciousness": "A",
        }
        for e in recorder.read(ts, vitals).events:
            if e["kind"] == "news2":
                news.append({**e, "_hour": hour})
    return news


def test_a_pulse_flickering_at_the_red_edge_beside_ambers_is_not_an_emergency_told_every_hour() -> None:
    news = _patient(28, lambda hour, rng: rng.uniform(60, 70) if hour < 4 else rng.uniform(38, 45))
    highs = [e for e in news if e["status"] in ("open", "escalated") and e["severity"] == "high"]
    assert 1 <= len(highs) <= 3, [(round(e["_hour"], 2), e["status"]) for e in highs]


def test_a_return_to_high_after_hours_lower_is_told_again() -> None:
    # High for four hours (a pulse of 38-40), medium for two (60-70), high again.
    def pulse(hour: float, rng: random.Random) -> float:
        return rng.uniform(60, 70) if hour < 2 or 6 <= hour < 8 else rng.uniform(38, 40.4)

    news = _patient(10, pulse)
    told = [e for e in news if e["status"] in ("open", "escalated") and e["severity"] == "high"]
    highs = [round(e["_hour"], 2) for e in told]
    assert len(highs) == 2 and 8 <= highs[1] < 8.5, highs
