"""`vigil evaluate`: a labeled synthetic cohort, run through the same core code
the worker runs, beside static bedside thresholds and NEWS2 alone.

The cohort (fixed seed) has what makes alarms hard in real wards
(../shared/reference/clinical.md): a daily rhythm, sensor noise, motion
artifacts (single-reading spikes), dropouts, benign baseline shifts (new
medication), patients whose normal is unusual (athletes, COPD), and five kinds
of true deterioration with known onsets: a sepsis-like slow decline over
hours, hypoxic episodes, bradycardia, tachycardia and hypotension.

Scoring, the same for every method:
- an alert *onset* is an `open` or `escalated` event (a drift notice is not);
- a true event is detected when an onset falls in [onset - 5 min, end]; its
  delay is from the event's onset (0 if the alert came just before);
- a false alert is an `open` outside every event's [onset - 5 min, end + 30 min];
- sensitivity = detected events / events; false alerts are per patient-day.

Everything is event time: the numbers do not depend on the machine.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from app.core import news2
from app.core import patient as core
from app.core import state as patient_state
from app.core.records import reading_id

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z: a fixed start, so runs are reproducible
BEFORE = 5 * MINUTE  # an alert this long before onset still counts as detecting it
AFTER = 30 * MINUTE  # alerts this long after an event's end are not false alerts
EVENT_KINDS = ("sepsis", "hypoxia", "bradycardia", "tachycardia", "hypotension")

# Typical bedside-monitor default limits (one alarm per parameter crossing).
STATIC_LIMITS = {
    "heart_rate": (50, 120),
    "spo2": (90, 101),
    "respiratory_rate": (8, 30),
    "systolic_bp": (90, 180),
    "temperature": (35.0, 38.5),
}


@dataclass(frozen=True)
class Event:
    kind: str
    onset_ms: int
    end_ms: int


@dataclass
class SimPatient:
    subject: str
    profile: str
    readings: list[dict[str, Any]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def cohort(patients: int = 60, days: float = 1.0, seed: int = 2026, step_s: int = 60) -> list[SimPatient]:
    rng = random.Random(seed)
    kinds = itertools.cycle(EVENT_KINDS)  # every kind of event occurs, in turn
    return [_patient(i, random.Random(rng.getrandbits(64)), days, step_s, kinds) for i in range(patients)]


def _patient(i: int, rng: random.Random, days: float, step_s: int, kinds: Iterator[str]) -> SimPatient:
    profile = rng.choices(["typical", "athlete", "copd"], weights=[8, 1, 1])[0]
    base = {
        "heart_rate": rng.gauss(76, 8) if profile != "athlete" else rng.gauss(52, 3),
        "spo2": min(99.0, rng.gauss(97, 1)) if profile != "copd" else rng.gauss(91.5, 1),
        "respiratory_rate": rng.gauss(16, 1.5) if profile != "copd" else rng.gauss(20, 1.5),
        "systolic_bp": rng.gauss(122, 10),
        "temperature": rng.gauss(36.8, 0.2),
    }
    phase = rng.uniform(0, DAY)
    duration = int(days * DAY)
    p = SimPatient(f"sim-{i:04d}", profile)

    shifts: list[tuple[int, str, float]] = []  # benign, lasting changes
    if rng.random() < 0.25:
        vital, delta = rng.choice(
            [("heart_rate", -12), ("heart_rate", 10), ("systolic_bp", -12), ("systolic_bp", 10)]
        )
        shifts.append((rng.randint(0, duration), vital, delta))  # relative time
    if rng.random() < 0.45 and duration >= 8 * HOUR:
        kind = next(kinds)
        onset = rng.randint(2 * HOUR, duration - 6 * HOUR)
        length = {
            "sepsis": 6 * HOUR,
            "hypoxia": 50 * MINUTE,
            "bradycardia": 40 * MINUTE,
            "tachycardia": 50 * MINUTE,
            "hypotension": 60 * MINUTE,
        }[kind]
        p.events.append(Event(kind, T0 + onset, T0 + onset + length))

    dropout_until = -1
    seq = 0
    for t in range(0, duration, step_s * 1000):
        if t < dropout_until:
            continue
        if rng.random() < 0.002:  # the sensor is off for a while
            dropout_until = t + rng.randint(10, 60) * MINUTE
            continue
        rhythm = math.sin(2 * math.pi * (t + phase) / DAY)
        v = {
            "heart_rate": base["heart_rate"] + 6 * rhythm + rng.gauss(0, 2),
            "spo2": base["spo2"] + rng.gauss(0, 0.7),
            "respiratory_rate": base["respiratory_rate"] + rng.gauss(0, 1),
            "systolic_bp": base["systolic_bp"] + 5 * rhythm + rng.gauss(0, 4),
            "temperature": base["temperature"] + 0.3 * rhythm + rng.gauss(0, 0.08),
        }
        for at, vital, shift in shifts:
            if t >= at:
                v[vital] += shift
        consciousness = "A"
        for event in p.events:
            consciousness = _deteriorate(v, event, T0 + t) or consciousness
        if rng.random() < 0.005:  # motion artifact: one implausible-looking spike
            if rng.random() < 0.5:
                v["heart_rate"] = rng.uniform(150, 220)
            else:
                v["spo2"] = rng.uniform(60, 85)
        vitals = {
            "heart_rate": round(v["heart_rate"]),
            "spo2": round(min(100.0, v["spo2"])),
            "respiratory_rate": round(v["respiratory_rate"]),
            "systolic_bp": round(v["systolic_bp"]),
            "consciousness": consciousness,
        }
        if seq % 5 == 0:
            vitals["temperature"] = round(v["temperature"], 1)
        p.readings.append({"id": reading_id(p.subject, seq), "seq": seq, "ts": T0 + t, "vitals": vitals})
        seq += 1
    return p


def _deteriorate(v: dict[str, float], event: Event, t: int) -> str | None:
    if not event.onset_ms <= t <= event.end_ms:
        return None
    if event.kind == "sepsis":  # slow decline over 4 hours
        p = min(1.0, (t - event.onset_ms) / (4 * HOUR))
        v["heart_rate"] += 40 * p
        v["respiratory_rate"] += 10 * p
        v["temperature"] += 2.0 * p
        v["systolic_bp"] -= 35 * p
        return "C" if p > 0.9 else None
    ramp = min(1.0, (t - event.onset_ms) / (8 * MINUTE), (event.end_ms - t) / (8 * MINUTE))
    if event.kind == "hypoxia":
        v["spo2"] -= 12 * ramp
        v["respiratory_rate"] += 6 * ramp
    elif event.kind == "bradycardia":
        v["heart_rate"] += (38 - v["heart_rate"]) * ramp
    elif event.kind == "tachycardia":
        v["heart_rate"] += (145 - v["heart_rate"]) * ramp
    elif event.kind == "hypotension":
        v["systolic_bp"] += (82 - v["systolic_bp"]) * ramp
    return None


# -- methods: each yields (status, ts) of its alert events for one patient ---------


def run_vigil(p: SimPatient, sizes: list[int]) -> Iterator[tuple[str, int]]:
    state = patient_state.PatientState()
    for i, reading in enumerate(p.readings):
        for event in core.process(state, p.subject, "eval", reading).events:
            if event["kind"] != "baseline_drift":
                yield event["status"], reading["ts"]
        if i % 500 == 0:
            sizes.append(len(patient_state.encode(state)))
    sizes.append(len(patient_state.encode(state)))


def run_static(p: SimPatient, sizes: list[int]) -> Iterator[tuple[str, int]]:
    alarming: dict[str, bool] = {}
    for reading in p.readings:
        for name, (lo, hi) in STATIC_LIMITS.items():
            value = reading["vitals"].get(name)
            if value is None:
                continue
            bad = not lo <= value <= hi
            if bad and not alarming.get(name):
                yield "open", reading["ts"]
            alarming[name] = bad


def run_news2(p: SimPatient, sizes: list[int]) -> Iterator[tuple[str, int]]:
    latest: dict[str, tuple[Any, int]] = {}
    rank = {"low": 0, "low_medium": 1, "medium": 2, "high": 3}
    band = "low"
    for reading in p.readings:
        ts = reading["ts"]
        for name, value in reading["vitals"].items():
            latest[name] = (value, ts)
        current = {k: v for k, (v, at) in latest.items() if ts - at <= HOUR}
        now = news2.score(current).band
        if rank[now] > rank[band]:
            yield ("open" if band == "low" else "escalated"), ts
        band = now


METHODS: dict[str, Callable[[SimPatient, list[int]], Iterator[tuple[str, int]]]] = {
    "vigil": run_vigil,
    "static_thresholds": run_static,
    "news2": run_news2,
}


def score(patients: list[SimPatient], method: str) -> tuple[dict[str, Any], list[int]]:
    run = METHODS[method]
    events = detected = false_alerts = 0
    delays: list[float] = []
    sizes: list[int] = []
    for p in patients:
        onsets = list(run(p, sizes))
        for event in p.events:
            events += 1
            hits = [ts for _, ts in onsets if event.onset_ms - BEFORE <= ts <= event.end_ms]
            if hits:
                detected += 1
                delays.append(max(0, min(hits) - event.onset_ms) / 1000)
        for status, ts in onsets:
            if status == "open" and not any(e.onset_ms - BEFORE <= ts <= e.end_ms + AFTER for e in p.events):
                false_alerts += 1
    days = sum(len(p.readings) for p in patients) and _patient_days(patients)
    return (
        {
            "sensitivity": round(detected / events, 3) if events else None,
            "false_alerts_per_patient_day": round(false_alerts / days, 2) if days else None,
            "median_delay_s": round(statistics.median(delays), 1) if delays else None,
            "events": events,
            "detected": detected,
            "false_alerts": false_alerts,
        },
        sizes,
    )


def _patient_days(patients: list[SimPatient]) -> float:
    days: float = sum((p.readings[-1]["ts"] - p.readings[0]["ts"]) / DAY for p in patients if p.readings)
    return days


def evaluate(patients: int = 60, days: float = 1.0, seed: int = 2026) -> dict[str, Any]:
    population = cohort(patients, days, seed)
    result: dict[str, Any] = {}
    for method in METHODS:
        result[method], sizes = score(population, method)
        if method == "vigil":
            result["state_bytes_max"] = max(sizes)
    result["cohort"] = {
        "patients": patients,
        "patient_days": round(_patient_days(population), 2),
        "seed": seed,
        "readings": sum(len(p.readings) for p in population),
        "events": {k: sum(e.kind == k for p in population for e in p.events) for k in EVENT_KINDS},
        "profiles": {k: sum(p.profile == k for p in population) for k in ("typical", "athlete", "copd")},
    }
    return result


TARGETS = {"sensitivity": 0.95, "false_alerts_per_patient_day": 0.5, "median_delay_s": 300}


def table(result: dict[str, Any]) -> str:
    rows = [f"{'method':<20}{'sensitivity':>12}{'false alerts/patient-day':>26}{'median delay':>15}"]
    for method in METHODS:
        r = result[method]
        delay = f"{r['median_delay_s'] / 60:.1f} min" if r["median_delay_s"] is not None else "-"
        rows.append(
            f"{method:<20}{_fmt(r['sensitivity']):>12}{_fmt(r['false_alerts_per_patient_day']):>26}{delay:>15}"
        )
    v, s = result["vigil"], result["static_thresholds"]
    ratio = (
        f"{s['false_alerts_per_patient_day'] / v['false_alerts_per_patient_day']:.1f}x fewer"
        if v["false_alerts_per_patient_day"]
        else "none at all"
    )
    c = result["cohort"]
    rows += [
        "",
        f"cohort: {c['patients']} patients, {c['patient_days']} patient-days, {c['readings']} readings, "
        f"seed {c['seed']}; events {c['events']}",
        f"vigil vs static thresholds: {ratio} false alerts",
        f"largest encoded patient state: {result['state_bytes_max']} bytes (target <= 4096)",
        f"targets: sensitivity >= {TARGETS['sensitivity']}, <= {TARGETS['false_alerts_per_patient_day']} "
        f"false alerts/patient-day, median delay < {TARGETS['median_delay_s'] // 60} min, "
        ">= 10x fewer than static",
    ]
    return "\n".join(rows)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:g}"
