"""Stable patients whose vitals wander, as real monitor numerics do: no
labelled event, so every alert is a false one. The `ward` cohort's stable
patients have independent noise around a fixed normal, and their drift
detectors fire a few times a day; a real patient's heart rate, pressure and
breathing move slowly about (posture, sleep, meals, visitors), and theirs
fire several times a day per vital. Rules that count drifts were tuned on
the first kind: these patients are the second (docs/evaluation.md, "Vitals
that wander by nature").

    .venv/bin/python load-tests/wandering.py [--patients 8] [--days 3] [--memory 30 120]
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

# How far each vital's level wanders (its standard deviation), around the daily rhythm.
WANDER = {"heart_rate": 4.0, "respiratory_rate": 1.5, "systolic_bp": 6.0, "spo2": 0.8}
TEMPERATURE_WANDER = 0.15
MEMORY_MIN = 30.0  # how long a wander lasts, by default (`ward_wander`'s)


class Levels:
    """Each vital's wander from its normal: a first-order autoregression
    with a memory of `memory_min` minutes (a random walk pulled back), by
    `WANDER` (and `TEMPERATURE_WANDER`, with four times the memory)."""

    def __init__(self, rng: random.Random, memory_min: float) -> None:
        self.rng = rng
        self.memory_min = memory_min
        self.level = {name: rng.gauss(0, sd) for name, sd in WANDER.items()}
        self.level["temperature"] = rng.gauss(0, TEMPERATURE_WANDER)

    def step(self, minutes: float = 1.0) -> dict[str, float]:
        """Move every level on by `minutes`; the levels."""
        rng, level = self.rng, self.level
        keep, keep_t = math.exp(-minutes / self.memory_min), math.exp(-minutes / (4 * self.memory_min))
        for name, sd in WANDER.items():
            level[name] = keep * level[name] + rng.gauss(0, sd * math.sqrt(1 - keep * keep))
        level["temperature"] = keep_t * level["temperature"] + rng.gauss(
            0, TEMPERATURE_WANDER * math.sqrt(1 - keep_t * keep_t)
        )
        return level


def vitals(
    rng: random.Random, minutes: int, *, memory_min: float = MEMORY_MIN
) -> Iterator[dict[str, object]]:
    """A stable adult read once a minute whose vitals wander, as real
    monitor numerics do: each vital's level wanders from its normal
    (`Levels`: the heart rate by 4/min, the breathing rate by 1.5, the
    systolic pressure by 6 mmHg, the SpO2 by 0.8 %, the temperature by 0.15
    °C), around a daily rhythm (at 03:00 the heart rate 12 lower, breathing
    3, pressure 14, SpO2 1.5; the temperature lowest at 05:00), with a
    reading's own noise on top. No deterioration: every value is this
    patient's normal. Minute 0 is midnight UTC."""
    levels = Levels(rng, memory_min)
    for i in range(minutes):
        level = levels.step()
        hour = (i % 1440) / 60
        night = 0.5 * (1 + math.cos(2 * math.pi * (hour - 3) / 24))  # 1 at 03:00, 0 at 15:00
        evening = math.cos(2 * math.pi * (hour - 17) / 24)  # 1 at 17:00
        yield {
            "heart_rate": round(76 - 12 * night + level["heart_rate"] + rng.gauss(0, 1.5)),
            "respiratory_rate": round(16 - 3 * night + level["respiratory_rate"] + rng.gauss(0, 0.7)),
            "systolic_bp": round(126 - 14 * night + level["systolic_bp"] + rng.gauss(0, 3)),
            "spo2": min(100, round(96.5 - 1.5 * night + level["spo2"] + rng.gauss(0, 0.4))),
            "temperature": round(36.9 + 0.3 * evening + level["temperature"], 1),
            "consciousness": "A",
        }
