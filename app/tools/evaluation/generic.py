"""The `generic` cohort: one custom channel per device, no catalogue entry.

Each series (one reading every 10 minutes, 14 days by default) has its own
scale (a level between 3 and 1,000, in no particular unit), a daily cycle
(10-40 % of the level), a weekly one (the weekend 0-25 % lower), noise (3-8 %
of the level) and missing stretches (2-12 hours without a reading, not
labelled). Anomalies, the kinds in turn, at least 2 days apart and none in the
first 3 days (the probationary 15 % of the stay is not scored):

- `spike`: one reading 6-10 noise deviations off (window: 2 hours);
- `level_shift`: the level moves by 30-60 % for good (window: 12 hours);
- `variance`: the noise grows 3-5 times for 1-3 days (window: 12 hours);
- `flatline`: the sensor sticks at one value for 6-24 hours (window: 12 hours).

Each anomaly is labelled with a window starting at its onset; 15 % of series
have none (only false alerts are possible there).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator

from app.tools.evaluation.common import DAY, HOUR, MINUTE, T0, Event, SimPatient

EVENT_KINDS = ("spike", "level_shift", "variance", "flatline")
CHANNELS = ("glucose_mg_dl", "steps", "hrv_ms", "skin_temp_delta", "activity_counts", "resp_effort")
STEP = 10 * MINUTE
WINDOW = {"spike": 2 * HOUR, "level_shift": 12 * HOUR, "variance": 12 * HOUR, "flatline": 12 * HOUR}
FIRST = 3 * DAY
APART = 2 * DAY


def cohort(patients: int = 60, days: float = 14.0, seed: int = 2026) -> list[SimPatient]:
    rng = random.Random(f"generic:{seed}")
    kinds = itertools.cycle(EVENT_KINDS)
    return [_series(i, random.Random(rng.getrandbits(64)), days, kinds) for i in range(patients)]


def _series(i: int, rng: random.Random, days: float, kinds: Iterator[str]) -> SimPatient:
    channel = CHANNELS[i % len(CHANNELS)]
    p = SimPatient(f"gen-{i:04d}", channel)
    duration = int(days * DAY)
    level = 10 ** rng.uniform(0.5, 3)
    daily, weekend, noise = (
        rng.uniform(0.1, 0.4) * level,
        rng.uniform(0, 0.25),
        rng.uniform(0.03, 0.08) * level,
    )
    phase = rng.uniform(0, DAY)
    wanted = 0 if rng.random() < 0.15 else rng.randint(1, 3)
    at = FIRST + rng.randint(0, DAY)
    while len(p.events) < wanted and at + 2 * WINDOW["level_shift"] < duration:
        kind = next(kinds)
        p.events.append(Event(kind, T0 + at, T0 + at + WINDOW[kind]))
        at += APART + rng.randint(0, 3 * DAY)
    gaps = [
        (T0 + s, T0 + s + rng.randint(2, 12) * HOUR) for s in (rng.randint(0, duration) for _ in range(2))
    ]
    # A missing stretch never hides an anomaly: every labelled one is in the data.
    gaps = [(a, b) for a, b in gaps if not any(a <= e.end_ms and e.onset_ms - HOUR <= b for e in p.events)]
    shapes = {
        e: (
            rng.choice([-1, 1]) * rng.uniform(6, 10),
            rng.choice([-1, 1]) * rng.uniform(0.3, 0.6),
            rng.uniform(3, 5),
            rng.randint(1, 3) * DAY,
            rng.randint(6, 24) * HOUR,
        )
        for e in p.events
    }
    stuck: float | None = None
    for t in range(0, duration, STEP):
        ts = T0 + t
        weekday = (t // DAY + 3) % 7  # T0 is a Thursday
        x = level * (1 - weekend * (weekday >= 5)) + daily * math.sin(2 * math.pi * (t + phase) / DAY)
        sd = noise
        flat = False
        for e in p.events:
            spike, shift, grow, grow_for, flat_for = shapes[e]
            if e.kind == "level_shift" and ts >= e.onset_ms:
                x += shift * level
            elif e.kind == "variance" and e.onset_ms <= ts < e.onset_ms + grow_for:
                sd *= grow
            elif e.kind == "spike" and e.onset_ms <= ts < e.onset_ms + STEP:
                x += spike * noise
            elif e.kind == "flatline" and e.onset_ms <= ts < e.onset_ms + flat_for:
                flat = True
        value = x + rng.gauss(0, sd)
        if flat:
            stuck = value if stuck is None else stuck
            value = stuck
        else:
            stuck = None
        if any(a <= ts < b for a, b in gaps):
            continue
        p.add(ts, {channel: round(value, 3)})
    return p
