"""A drift the values have already left is not adopted: a hypoxia (SpO2 to
84, breathing to 28 for 20 minutes) that ends, its breathing rate back at 14
for ten minutes, had its drift detector adopt a breathing rate of 19 (the
recent level, still holding the episode's tail) as the new normal; the usual
14 then stood 2.5 SDs under it and falling, and a `trend` "heading for 8/min"
opened on a recovered patient (found by an outsider's client written from
the docs)."""

from __future__ import annotations

import random
from typing import Any

from tests.core.readings import by_minute

T0 = 1_764_374_400_000


def _hypoxia_then_recovery(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)

    def vitals_at(minute: int) -> dict[str, Any]:
        if minute < 60 or minute >= 90:
            spo2, breathing = 97 + rng.gauss(0, 0.5), 14 + rng.gauss(0, 0.7)
        elif minute < 70:
            spo2, breathing = 97 - 13 * (minute - 59) / 10, 14 + 14 * (minute - 59) / 10
        else:
            spo2, breathing = 84 + rng.gauss(0, 0.5), 28 + rng.gauss(0, 0.7)
        return {
            "heart_rate": round(76 + rng.gauss(0, 1.5)),
            "spo2": round(min(spo2, 100)),
            "respiratory_rate": round(breathing),
            "systolic_bp": round(125 + rng.gauss(0, 3)),
            "temperature": round(37.0 + rng.gauss(0, 0.1), 1),
            "consciousness": "A",
            "on_oxygen": False,
        }

    return by_minute(T0, range(150), vitals_at)


def test_a_recovered_breathing_rate_is_not_adopted_at_the_episodes_tail() -> None:
    for seed in range(6):
        events = _hypoxia_then_recovery(seed)
        opened = [(e["kind"], e["_minute"]) for e in events if e["status"] == "open"]
        assert any(kind == "news2" and 60 <= minute < 90 for kind, minute in opened), (seed, opened)
        late = [(kind, minute) for kind, minute in opened if minute >= 92]
        assert late == [], (seed, late)
        adopted = [
            e["evidence"]["to"]
            for e in events
            if e["kind"] == "baseline_drift"
            and e["evidence"]["vital"] == "respiratory_rate"
            and not e["evidence"].get("held")
        ]
        assert all(level < 17 for level in adopted), (seed, adopted)
