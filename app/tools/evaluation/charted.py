"""The `charted` cohort: intensive-care vitals as nurses chart them.

- Hourly rounds (at a time jittered around the hour, one in twenty missed):
  heart rate, systolic and diastolic pressure, respiratory rate, temperature,
  and whether the patient is on oxygen.
- A blood gas every 4 hours (+- 30 min): SpO2 (the gas's saturation).
- A consciousness check (GCS, charted as ACVPU) every 3 hours (+- 15 min).

Patients (default 3 days each): post-operative patients who are alert and on
air; sedated and ventilated patients, who are on oxygen with a responsiveness
of P or U and a breathing rate set by the ventilator, so that NEWS2 scores
them 5 or more (the medium band) for days while they are stable; and COPD
patients on oxygen with SpO2 of 88-91 %, prescribed a target of 88-92 %
and charted on NEWS2's SpO2 scale 2 (`spo2_scale`). A daily
rhythm, charting noise, and benign lasting shifts (a sedation or vasopressor
change: heart rate or pressure by 10-12) in a third of them.

About 40 % deteriorate, the kinds in turn: sepsis (over 3 hours: heart rate,
temperature and breathing rate up, pressure down, new confusion in those who
were alert), haemorrhage (over 90 minutes: heart rate up, pressure down),
hypoxia (over an hour: SpO2 down, breathing and heart rate up),
a fast arrhythmia (heart rate to 140-150 within 10 minutes) and hypotension
(systolic to 75-82 over an hour). An event lasts 12 hours (or to the end of
the stay) and must be caught by the second charted reading, after its onset,
of a vital it changes (`Event.deadline_ms`).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from typing import Any

from app.tools.evaluation.common import DAY, HOUR, MINUTE, T0, Event, SimPatient, first_after

EVENT_KINDS = ("sepsis", "haemorrhage", "hypoxia", "arrhythmia", "hypotension")
PROFILES = ("post_op", "sedated_ventilated", "copd")
RAMP = {
    "sepsis": 3 * HOUR,
    "haemorrhage": 90 * MINUTE,
    "hypoxia": HOUR,
    "arrhythmia": 10 * MINUTE,
    "hypotension": HOUR,
}
CHANGES = {
    "sepsis": ("heart_rate", "systolic_bp", "respiratory_rate", "temperature", "consciousness"),
    "haemorrhage": ("heart_rate", "systolic_bp"),
    "hypoxia": ("spo2", "respiratory_rate", "heart_rate"),
    "arrhythmia": ("heart_rate",),
    "hypotension": ("systolic_bp",),
}
EVENT_LENGTH = 12 * HOUR


def cohort(patients: int = 60, days: float = 3.0, seed: int = 2026) -> list[SimPatient]:
    rng = random.Random(f"charted:{seed}")
    kinds = itertools.cycle(EVENT_KINDS)
    return [_patient(i, random.Random(rng.getrandbits(64)), days, kinds) for i in range(patients)]


def _patient(i: int, rng: random.Random, days: float, kinds: Iterator[str]) -> SimPatient:
    profile = rng.choices(PROFILES, weights=[4, 4, 2])[0]
    p = SimPatient(f"icu-{i:04d}", profile)
    base = _baseline(profile, rng)
    duration = int(days * DAY)
    shift = None
    if rng.random() < 0.33:
        shift = (
            T0 + rng.randint(0, duration),
            rng.choice(["heart_rate", "systolic_bp"]),
            rng.choice([-1, 1]),
        )
    if rng.random() < 0.4 and duration >= 24 * HOUR:
        kind = next(kinds)
        onset = T0 + rng.randint(12 * HOUR, duration - 6 * HOUR)
        p.events.append(Event(kind, onset, min(onset + EVENT_LENGTH, T0 + duration)))
    target = {"arrhythmia": rng.uniform(140, 150), "hypotension": rng.uniform(75, 82)}
    phase = rng.uniform(0, DAY)
    for ts, what in _schedule(rng, duration):
        p.add(ts, _chart(rng, p, base, profile, ts, what, phase, shift, target))
    p.events = [
        Event(e.kind, e.onset_ms, e.end_ms, first_after(p, e.onset_ms, CHANGES[e.kind], 2)) for e in p.events
    ]
    return p


def _baseline(profile: str, rng: random.Random) -> dict[str, Any]:
    ventilated = profile == "sedated_ventilated"
    return {
        "heart_rate": rng.gauss(84 if ventilated else 78, 8),
        "systolic_bp": rng.gauss(118, 10),
        "diastolic_bp": rng.gauss(66, 6),
        "respiratory_rate": rng.choice([14, 16, 18])
        if ventilated
        else rng.gauss(17 if profile == "copd" else 15, 1.5),
        "temperature": rng.gauss(37.0, 0.25),
        "spo2": rng.gauss(89.5, 1.0) if profile == "copd" else min(99.0, rng.gauss(96.5, 1.0)),
        "on_oxygen": profile != "post_op",
        "consciousness": rng.choice("PU") if ventilated else "A",
    }


def _schedule(rng: random.Random, duration: int) -> list[tuple[int, str]]:
    """(event time, what is charted) in order; same-time entries are merged by `_chart`'s caller."""
    times: list[tuple[int, str]] = []
    for h in range(0, duration, HOUR):
        if rng.random() >= 0.05:
            times.append((T0 + max(0, h + round(rng.gauss(0, 8 * MINUTE) / MINUTE) * MINUTE), "round"))
    for h in range(int(rng.uniform(0, 4)) * HOUR, duration, 4 * HOUR):
        times.append((T0 + max(0, h + rng.randint(-30, 30) * MINUTE), "gas"))
    for h in range(int(rng.uniform(0, 3)) * HOUR, duration, 3 * HOUR):
        times.append((T0 + max(0, h + rng.randint(-15, 15) * MINUTE), "gcs"))
    merged: dict[int, str] = {}
    for ts, what in sorted(times):
        merged[ts] = f"{merged[ts]}+{what}" if ts in merged else what
    return sorted(merged.items())


def _chart(
    rng: random.Random,
    p: SimPatient,
    base: dict[str, Any],
    profile: str,
    ts: int,
    what: str,
    phase: float,
    shift: tuple[int, str, int] | None,
    target: dict[str, float],
) -> dict[str, Any]:
    rhythm = math.sin(2 * math.pi * (ts - T0 + phase) / DAY)
    ventilated = profile == "sedated_ventilated"
    v: dict[str, Any] = {
        "heart_rate": base["heart_rate"] + 5 * rhythm + rng.gauss(0, 4),
        "systolic_bp": base["systolic_bp"] + 5 * rhythm + rng.gauss(0, 7),
        "diastolic_bp": base["diastolic_bp"] + 3 * rhythm + rng.gauss(0, 4),
        "respiratory_rate": base["respiratory_rate"] + rng.gauss(0, 0.5 if ventilated else 1.5),
        "temperature": base["temperature"] + 0.3 * rhythm + rng.gauss(0, 0.15),
        "spo2": base["spo2"] + rng.gauss(0, 0.8),
        "consciousness": base["consciousness"],
    }
    if shift is not None and ts >= shift[0]:
        v[shift[1]] += shift[2] * (10 if shift[1] == "heart_rate" else 12)
    for e in p.events:
        if e.onset_ms <= ts <= e.end_ms:
            _deteriorate(v, e, ts, ventilated, target)
    out: dict[str, Any] = {}
    if "round" in what:
        out |= {
            "heart_rate": round(v["heart_rate"]),
            "systolic_bp": round(v["systolic_bp"]),
            "diastolic_bp": round(v["diastolic_bp"]),
            "respiratory_rate": round(v["respiratory_rate"]),
            "temperature": round(v["temperature"], 1),
            "on_oxygen": base["on_oxygen"],
        }
        if profile == "copd":
            out["spo2_scale"] = 2  # prescribed a hypercapnic target of 88-92 %, charted as such
    if "gas" in what:
        out["spo2"] = round(min(100.0, v["spo2"]))
    if "gcs" in what:
        out["consciousness"] = v["consciousness"]
    return out


def _deteriorate(v: dict[str, Any], e: Event, ts: int, ventilated: bool, target: dict[str, float]) -> None:
    systolic = v["systolic_bp"]
    _worsen(v, e, ts, ventilated, target)
    # A fall of the systolic pressure (a bleed, sepsis's vasodilation,
    # hypotension) takes the diastolic down by half as much, and the pulse
    # pressure never below 15 mmHg: the cuff reads both from one waveform, and
    # a systolic at or under the diastolic is a cuff error, not a patient.
    fall = systolic - v["systolic_bp"]
    if fall > 0:
        v["diastolic_bp"] = min(v["diastolic_bp"] - fall / 2, v["systolic_bp"] - 15)


def _worsen(v: dict[str, Any], e: Event, ts: int, ventilated: bool, target: dict[str, float]) -> None:
    p = min(1.0, (ts - e.onset_ms) / RAMP[e.kind])
    if e.kind == "sepsis":
        v["heart_rate"] += 35 * p
        v["temperature"] += 1.8 * p
        v["systolic_bp"] -= 30 * p
        v["respiratory_rate"] += 0 if ventilated else 8 * p
        if v["consciousness"] == "A" and p > 0.8:
            v["consciousness"] = "C"
    elif e.kind == "haemorrhage":
        v["heart_rate"] += 35 * p
        v["systolic_bp"] -= 40 * p
    elif e.kind == "hypoxia":
        v["spo2"] -= 10 * p
        v["respiratory_rate"] += 0 if ventilated else 8 * p
        v["heart_rate"] += 15 * p
    elif e.kind == "arrhythmia":
        v["heart_rate"] += (target["arrhythmia"] - v["heart_rate"]) * p
    elif e.kind == "hypotension":
        v["systolic_bp"] += (target["hypotension"] - v["systolic_bp"]) * p
