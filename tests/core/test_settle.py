"""A relapse to NEWS2's high band after a spell at 5 is told at once, as a
new emergency (`escalated`, naming the part newly red): a third reviewer
found a change that let a high alert settle only after an hour lower (to
quiet a pulse flickering on the red edge) tell such a relapse only at the
next reminder, 6 hours late; it was taken out (docs/evaluation.md, "A band
held, and undone")."""

from __future__ import annotations

import random

from tests.core.readings import Recorder

T0 = 1_764_374_400_000
MINUTE = 60_000
HOUR = 60 * MINUTE


def test_a_relapse_to_high_after_fifty_minutes_at_five_is_told_at_once() -> None:
    rng, recorder = random.Random(3), Recorder()
    relapse_at = 8 * HOUR + 50 * MINUTE
    told = []
    for ts in range(T0, T0 + 12 * HOUR, MINUTE):
        gap = T0 + 8 * HOUR <= ts < T0 + relapse_at  # NEWS2 5: breathing 22-24, pulse 100-108
        vitals = {
            "heart_rate": round(rng.uniform(100, 108) if gap else rng.uniform(112, 118)),
            "respiratory_rate": round(rng.uniform(22, 24) if gap else rng.uniform(25, 27)),
            "systolic_bp": round(rng.uniform(102, 110)),
            "spo2": 95,
            "temperature": 37.0,
            "consciousness": "A",
        }  # else NEWS2 7: breathing 25-27 (3), pulse 112-118 (2), systolic (1), SpO2 95 (1)
        for e in recorder.read(ts, vitals).events:
            if e["kind"] == "news2" and e["status"] in ("open", "escalated") and e["severity"] == "high":
                told.append(ts)
    assert told and told[0] < T0 + HOUR  # the first high, at once
    after = [ts for ts in told if ts >= T0 + relapse_at]
    assert after and after[0] - (T0 + relapse_at) <= 15 * MINUTE, [(t - T0) / HOUR for t in told]
