"""The `home` cohort: heart-failure telemonitoring at home.

- Weight once a day, in the morning (07:00 +- 30 min; one day in ten missed).
- Blood pressure and heart rate twice a day, morning and evening (08:00 +-
  45 min, 20:00 +- 60 min; one session in seven missed); the morning reading
  runs higher than the evening one.
- A heart-rhythm strip once a week (Sunday evening): heart rate and a custom
  channel `rhythm_af` (1 when the strip shows atrial fibrillation, else 0).
- A weekly rhythm in the values themselves: weight 0.3-0.5 kg up over the
  weekend (Saturday to Monday mornings).
- Some patients go away for 5-10 days and send nothing.
- Nuisances that are not events: a weighing in clothes and shoes (+1-2 kg,
  one reading), a cuff error (one reading far off), a diuretic increase
  (weight down by 1.5 kg over two days, for good), a new antihypertensive
  (pressure down by 10, for good), and permanent atrial fibrillation.

Events (at most one per patient, 3 months each by default):

- heart-failure decompensation (about 30 %): a weight gain of 2.0-2.6 kg
  over 3 days, going on by 0.5 kg over the next 4 days, heart rate up by 8,
  new atrial fibrillation in a third; labelled for 7 days;
- hypertensive drift (about 20 %): systolic pressure up by 30-40 (diastolic
  by 15) over 4 days, lasting 10 days; labelled for 14 days.

Either must be caught within 2 days of its onset (`Event.deadline_ms`).
"""

from __future__ import annotations

import random
from typing import Any

from app.tools.evaluation.common import DAY, HOUR, MINUTE, T0, Event, SimPatient

EVENT_KINDS = ("decompensation", "hypertensive_drift")
DEADLINE = 2 * DAY
LENGTH = {"decompensation": 7 * DAY, "hypertensive_drift": 14 * DAY}


def cohort(patients: int = 60, days: float = 90.0, seed: int = 2026) -> list[SimPatient]:
    rng = random.Random(f"home:{seed}")
    return [_patient(i, random.Random(rng.getrandbits(64)), days) for i in range(patients)]


def _patient(i: int, rng: random.Random, days: float) -> SimPatient:
    p = SimPatient(f"home-{i:04d}", "heart_failure")
    n_days = max(1, int(days))
    base = {
        "weight": rng.gauss(82, 14),
        "systolic_bp": rng.gauss(132, 12),
        "diastolic_bp": rng.gauss(78, 7),
        "heart_rate": rng.gauss(70, 7),
        "af": rng.random() < 0.15,
    }
    if base["af"]:
        p.profile = "permanent_af"
    draw = rng.random()
    if n_days >= 30 and draw < 0.5:
        kind = EVENT_KINDS[0] if draw < 0.3 else EVENT_KINDS[1]
        onset = T0 + rng.randint(14, n_days - 14) * DAY + rng.randint(0, DAY - 1)
        p.events.append(Event(kind, onset, onset + LENGTH[kind], onset + DEADLINE))
    benign = {
        "diuretic": T0 + rng.randint(0, n_days) * DAY if rng.random() < 0.2 else None,
        "antihypertensive": T0 + rng.randint(0, n_days) * DAY if rng.random() < 0.2 else None,
    }
    away = rng.randint(0, n_days) if rng.random() < 0.2 else None
    away_days = rng.randint(5, 10)
    shape = {
        "gain": rng.uniform(2.0, 2.6),
        "sbp": rng.uniform(30, 40),
        "new_af": rng.random() < 0.33,
        "weekend": rng.uniform(0.3, 0.5),
    }
    for day in range(n_days):
        if away is not None and away <= day < away + away_days:
            continue
        for ts, what in _sessions(rng, day):
            v = _values(rng, p, base, benign, shape, ts, what)
            if v:
                p.add(ts, v)
    return p


def _sessions(rng: random.Random, day: int) -> list[tuple[int, str]]:
    start = T0 + day * DAY
    out: list[tuple[int, str]] = []
    if rng.random() >= 0.1:
        out.append((start + 7 * HOUR + rng.randint(-30, 30) * MINUTE, "weight"))
    if rng.random() >= 1 / 7:
        out.append((start + 8 * HOUR + rng.randint(-45, 45) * MINUTE, "morning"))
    if rng.random() >= 1 / 7:
        out.append((start + 20 * HOUR + rng.randint(-60, 60) * MINUTE, "evening"))
    if _weekday(start) == 6:  # Sunday
        out.append((start + 21 * HOUR + rng.randint(0, 60) * MINUTE, "rhythm"))
    return sorted(set(out))


def _weekday(ts: int) -> int:
    """0 = Monday ... 6 = Sunday (T0 is a Thursday)."""
    return ((ts - T0) // DAY + 3) % 7


def _values(
    rng: random.Random,
    p: SimPatient,
    base: dict[str, Any],
    benign: dict[str, int | None],
    shape: dict[str, Any],
    ts: int,
    what: str,
) -> dict[str, Any]:
    weight, sbp, dbp, hr = base["weight"], base["systolic_bp"], base["diastolic_bp"], base["heart_rate"]
    af = base["af"]
    if _weekday(ts) in (5, 6, 0):  # Saturday to Monday: the weekend's meals
        weight += shape["weekend"]
    if (at := benign["diuretic"]) is not None and ts >= at:
        weight -= 1.5 * min(1.0, (ts - at) / (2 * DAY))
    if (at := benign["antihypertensive"]) is not None and ts >= at:
        sbp -= 10 * min(1.0, (ts - at) / (3 * DAY))
        dbp -= 5 * min(1.0, (ts - at) / (3 * DAY))
    for e in p.events:
        if not e.onset_ms <= ts <= e.end_ms + 3 * DAY:
            continue
        recovery = max(0.0, 1 - max(0, ts - e.end_ms) / (3 * DAY))  # treated after the window
        if e.kind == "decompensation":
            progress = min(1.0, (ts - e.onset_ms) / (3 * DAY))
            weight += recovery * (
                shape["gain"] * progress + 0.5 * max(0.0, min(1.0, (ts - e.onset_ms) / (7 * DAY)))
            )
            hr += recovery * 8 * progress
            af = af or (shape["new_af"] and progress >= 1.0 and recovery == 1.0)
        else:
            progress = min(1.0, (ts - e.onset_ms) / (4 * DAY)) * (1.0 if ts <= e.onset_ms + 10 * DAY else 0.0)
            sbp += shape["sbp"] * progress
            dbp += 15 * progress
    if what == "weight":
        w = weight + rng.gauss(0, 0.35) + (rng.uniform(1.0, 2.0) if rng.random() < 0.03 else 0.0)
        return {"weight": round(w, 1)}
    if what in ("morning", "evening"):
        surge = 6 if what == "morning" else -3
        out = {
            "systolic_bp": round(sbp + surge + rng.gauss(0, 8)),
            "diastolic_bp": round(dbp + surge / 2 + rng.gauss(0, 5)),
            "heart_rate": round(hr + (rng.gauss(0, 10) if af else rng.gauss(0, 5))),
        }
        if rng.random() < 0.01:  # a cuff error: one reading far off
            out["systolic_bp"] += rng.choice([-45, 50])
        return out
    return {"heart_rate": round(hr + rng.gauss(0, 5)), "rhythm_af": int(af)}
