"""Readings of a stable adult, for the core's tests."""

from __future__ import annotations

import random


def normal(rng: random.Random, *, hr_sd: float = 3.0, diastolic: bool = False) -> dict[str, object]:
    """One reading's vitals around a typical adult's normal (the draws in a
    fixed order, so a seeded `rng` gives the same readings every run)."""
    vitals: dict[str, object] = {
        "heart_rate": round(72 + rng.gauss(0, hr_sd)),
        "spo2": round(97 + rng.gauss(0, 0.6)),
        "respiratory_rate": round(16 + rng.gauss(0, 1)),
        "systolic_bp": round(122 + rng.gauss(0, 4)),
    }
    if diastolic:
        vitals["diastolic_bp"] = round(76 + rng.gauss(0, 3))
    vitals["temperature"] = round(36.8 + rng.gauss(0, 0.1), 1)
    vitals["consciousness"] = "A"
    return vitals
