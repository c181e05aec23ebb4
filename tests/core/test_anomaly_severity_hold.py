"""An anomaly's `medium` holds a little nearer than it is reached
(`MEDIUM_HOLD_SD`).

A systolic settled about 8 SDs under its normal, its noise an SD a
reading, settled to `low` at each dip and was told `escalated` to `medium`
at each rise back: 8-11 times in 5 hours on a minute's monitor (outside
testers). The alert itself opens and resolves as before: holding it open,
tried, hid other vitals' deteriorations behind it (docs/evaluation.md)."""

from __future__ import annotations

import random

from tests.core.readings import Recorder, normal

T0 = 1_764_374_400_000
MINUTE = 60_000


def _settled(seed: int, every: int, step: float, hours: int = 12) -> list[dict]:
    """A day of a stable adult's values read every `every` minutes, then the
    systolic `step` mmHg away for `hours`, then back for 6 hours."""
    rng, recorder = random.Random(seed), Recorder()
    for m in range(0, (24 + hours + 6) * 60, every):
        vitals = normal(rng)
        if 24 * 60 <= m < (24 + hours) * 60:
            vitals["systolic_bp"] = round(vitals["systolic_bp"] + step)  # type: ignore[operator]
        recorder.read(T0 + m * MINUTE, vitals)
    return [e for e in recorder.events if e["kind"] == "anomaly"]


def test_an_anomaly_settled_about_medium_is_not_escalated_again_and_again() -> None:
    told = 0
    for seed in range(1, 7):
        anomalies = _settled(seed, 1, -34)
        assert sum(e["status"] == "open" for e in anomalies) == 1, seed
        assert anomalies[-1]["status"] == "resolved", seed  # once the systolic is back
        escalations = [e for e in anomalies if e["status"] == "escalated"]
        assert all(e["severity"] == "medium" for e in escalations)
        assert len(escalations) <= 2, (seed, [e["event_time"] for e in escalations])
        told += len(escalations)
    assert told >= 6  # each is told at medium
