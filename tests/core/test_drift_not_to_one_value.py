"""A drift is to a level the values hold, never to one value far beyond them:
a wearable's heart rate read every five minutes or so, 53/min asleep, rising
to 60-76 on waking, then one 89, had its drift detector adopt 89 as the new
normal (the recent level had not caught up, and the value was taken for a
large step's); every usual value after it stood far under that "normal" for
six hours (a real recording replayed by an outsider)."""

from __future__ import annotations

import random
from typing import Any

from tests.core.readings import Recorder

T0 = 1_764_374_400_000  # midnight UTC


# A real morning's values, about five minutes apart, from waking on.
WAKING = [57, 63, 69, 66, 68, 76, 71, 59, 71, 89, 64, 65, 71, 62, 65, 67, 69, 73, 69, 61, 70, 62, 64]


def _waking(seed: int) -> list[dict[str, Any]]:
    """An afternoon and evening about 70/min, nine hours asleep about 52/min,
    then `WAKING`, then about 66/min."""
    rng, recorder, events = random.Random(seed), Recorder(), []
    values = [round(70 + rng.gauss(0, 6)) for _ in range(120)]
    values += [round(52 + rng.gauss(0, 2)) for _ in range(108)] + WAKING
    values += [round(66 + rng.gauss(0, 4)) for _ in range(36)]
    t = T0
    for value in values:
        events += recorder.read(t, {"heart_rate": value}).events
        t += rng.randint(270, 330) * 1000
    return events


def test_a_drift_on_waking_is_to_the_waking_level_not_one_value_beyond_it() -> None:
    adopted, opened = [], []
    for seed in range(12):
        for e in _waking(seed):
            if e["kind"] == "baseline_drift" and e["evidence"]["adopted"]:
                adopted.append((seed, e["evidence"]["to"]))
            elif e["status"] == "open":
                opened.append((seed, e["kind"]))
    assert any(to > 60 for _, to in adopted), adopted  # the waking level is adopted
    assert all(to < 80 for _, to in adopted), [a for a in adopted if a[1] >= 80]
    assert opened == []  # nor does any usual value after the one 89 stand far from the normal
