"""The `ward` cohort: dense bedside monitoring, one reading a minute.

`cohort` is the synthetic cohort `vigil evaluate` has always run (fixed seed),
with what makes alarms hard in real wards (../shared/reference/clinical.md): a
daily rhythm, sensor noise, motion artifacts (single-reading spikes), dropouts,
benign baseline shifts (new medication), patients whose normal is unusual
(athletes; COPD, whose readings carry their prescribed SpO2 target of 88-92
%: NEWS2's scale 2, `spo2_scale`), and five kinds of true deterioration with known onsets: a
sepsis-like slow decline over hours, hypoxic episodes, bradycardia,
tachycardia and hypotension. It is reachable as the `ward_clean` cohort.

`with_artifacts` lays over the same readings what a real bedside monitor also
sends, none of which is a deterioration (so an alert raised for one is a false
alert): multi-minute arousal bursts (heart and breathing rate rising and
falling together), probe-off stretches (SpO2 sliding, then 0: no signal), cuff
inflations (the pressure reading missing or 0, then one spike; SpO2 dipping
when the probe is on the cuffed arm), a breathing rate read from chest
impedance that under-counts at 6-9 for hours, and channels that were never connected and send 0 for the
whole stay (an arterial line's diastolic pressure, a capnograph's `etco2`).
That is the `ward` cohort. The artifacts come from a random stream of their
own, so the physiology underneath is exactly `ward_clean`'s.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Iterator
from typing import Any

from app.tools.evaluation import wander
from app.tools.evaluation.common import DAY, MINUTE, T0, Event, SimPatient

HOUR = 60 * MINUTE
EVENT_KINDS = ("sepsis", "hypoxia", "bradycardia", "tachycardia", "hypotension")
ARTIFACT_KINDS = ("arousal", "probe_off", "cuff", "rr_undercount", "disconnected")
# Expected artifacts per patient-day (Poisson counts), and their length in minutes.
ARTIFACT_RATES = {"arousal": 2.0, "probe_off": 1.0, "cuff": 4.0, "rr_undercount": 0.2}
ARTIFACT_MINUTES = {"arousal": (3, 6), "probe_off": (2, 20), "cuff": (2, 2), "rr_undercount": (60, 240)}
DISCONNECTED_SHARE = 0.15  # patients with a channel that was never connected


def cohort(
    patients: int = 60, days: float = 1.0, seed: int = 2026, step_s: int = 60, wander_min: float = 0.0
) -> list[SimPatient]:
    """`wander_min` > 0: each patient's vitals also wander from their normal
    with that memory (`app.tools.evaluation.wander.Levels`), drawn apart:
    the same patients, events and readings' times, the values moved."""
    rng = random.Random(seed)
    kinds = itertools.cycle(EVENT_KINDS)  # every kind of event occurs, in turn
    return [
        _patient(i, random.Random(rng.getrandbits(64)), days, step_s, kinds, wander_min)
        for i in range(patients)
    ]


def _patient(
    i: int, rng: random.Random, days: float, step_s: int, kinds: Iterator[str], wander_min: float = 0.0
) -> SimPatient:
    """One patient: a profile and personal baselines, then at most one benign
    lasting change and one deterioration (`_plan`), then the readings
    (`_read`). The random draws come in that order; a wander's come from a
    generator of its own."""
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
    shifts = _plan(p, rng, duration, kinds)
    levels = None
    if wander_min > 0:
        levels = wander.Levels(random.Random(f"wander:{p.subject}:{phase!r}"), wander_min)
    _read(p, rng, base, phase, duration, step_s, shifts, levels)
    p.events = _observed(p.events, [r["ts"] for r in p.readings])
    return p


Shift = tuple[int, str, float]  # a benign lasting change: its relative time, vital and size


def _plan(p: SimPatient, rng: random.Random, duration: int, kinds: Iterator[str]) -> list[Shift]:
    """A benign, lasting change for a quarter of patients (returned) and a deterioration for 45 % of those
    read for 8 hours or more (added to `p.events`), the kinds in turn."""
    shifts: list[Shift] = []
    vital: str
    delta: float
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
    return shifts


def _read(
    p: SimPatient,
    rng: random.Random,
    base: dict[str, float],
    phase: float,
    duration: int,
    step_s: int,
    shifts: list[Shift],
    levels: wander.Levels | None = None,
) -> None:
    """The readings, one every `step_s`: baselines with a daily rhythm and
    sensor noise (and the vitals' wander, `levels`), the benign changes and
    deteriorations laid over them, dropouts of 10-60 minutes and one-reading
    motion spikes."""
    dropout_until = -1
    for t in range(0, duration, step_s * 1000):
        offsets = levels.step(step_s / 60) if levels is not None else None
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
        if offsets is not None:
            for name, offset in offsets.items():
                v[name] += offset
        for at, vital, delta in shifts:
            if t >= at:
                v[vital] += delta
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
        if len(p.readings) % 5 == 0:
            vitals["temperature"] = round(v["temperature"], 1)
        if p.profile == "copd":
            vitals["spo2_scale"] = 2  # prescribed a hypercapnic target of 88-92 %, as their chart says
        p.add(T0 + t, vitals)


def _observed(events: list[Event], times: list[int]) -> list[Event]:
    """A label only for what is in the data, as for artifacts (`_overlay`): a
    deterioration with fewer than two readings inside it (it lies in a
    dropout) shows no change for any method to catch (seed 7 has one: a
    50-minute hypoxia read once, 6 s after its onset, then a 51-minute
    dropout; it was counted a miss for every method before 2026-12-02)."""
    return [
        e for e in events if bisect.bisect_right(times, e.end_ms) - bisect.bisect_left(times, e.onset_ms) >= 2
    ]


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


# -- artifacts ---------------------------------------------------------------------


def with_artifacts(patients: list[SimPatient], seed: int) -> list[SimPatient]:
    """The same patients with artifacts laid over their readings (in place),
    each labelled in `SimPatient.artifacts`."""
    for i, p in enumerate(patients):
        _overlay(p, random.Random(f"ward-artifacts:{seed}:{i}"))
    return patients


# The devices of a bedside read as several (`as_devices`): each vital's device.
DEVICES = {
    "heart_rate": "ecg",
    "respiratory_rate": "ecg",
    "spo2": "oximeter",
    "pulse_rate": "oximeter",
    "systolic_bp": "cuff",
    "diastolic_bp": "cuff",
    "mean_bp": "cuff",
    "temperature": "thermometer",
}
DEVICE_SPREAD_S = 20  # each device's reading comes up to this many seconds into its minute


def as_devices(patients: list[SimPatient], seed: int) -> list[SimPatient]:
    """The same patients read by four devices instead of one monitor (in
    place): an ECG monitor (heart and breathing rate), a pulse oximeter, a
    cuff and a thermometer, each minute's values of each sent as a reading
    of its own, 0-20 s into the minute (`DEVICE_SPREAD_S`, drawn per device
    and minute). Same values, same events and artifacts; only how they
    arrive differs (docs/evaluation.md, "A patient read by several
    devices")."""
    for i, p in enumerate(patients):
        rng = random.Random(f"ward-devices:{seed}:{i}")
        split: list[tuple[int, dict[str, Any]]] = []
        for reading in p.readings:
            devices: dict[str, dict[str, Any]] = {}
            for name, value in reading["vitals"].items():
                devices.setdefault(DEVICES.get(name, "other"), {})[name] = value
            for vitals in devices.values():
                split.append((reading["ts"] + rng.randint(0, DEVICE_SPREAD_S) * 1000, vitals))
        split.sort(key=lambda x: x[0])
        p.readings = []
        for ts, vitals in split:
            p.add(ts, vitals)
    return patients


def _overlay(p: SimPatient, rng: random.Random) -> None:
    if not p.readings:
        return
    first, last = p.readings[0]["ts"], p.readings[-1]["ts"]
    days = (last - first) / DAY
    for kind, minutes in ARTIFACT_MINUTES.items():
        for _ in range(_poisson(rng, ARTIFACT_RATES[kind] * days)):
            start = rng.randint(first, last)
            p.artifacts.append(Event(kind, start, start + rng.randint(*minutes) * MINUTE))
    if rng.random() < DISCONNECTED_SHARE:
        p.artifacts.append(Event(f"disconnected:{rng.choice(['diastolic_bp', 'etco2'])}", first, last))
    # A label only for what is in the data: not for an artifact inside a dropout.
    times = [r["ts"] for r in p.readings]
    p.artifacts = sorted(
        (
            a
            for a in p.artifacts
            if bisect.bisect_left(times, a.onset_ms) < bisect.bisect_right(times, a.end_ms)
        ),
        key=lambda a: a.onset_ms,
    )
    shapes = {
        a: (
            rng.uniform(15, 35),
            rng.uniform(4, 10),
            rng.uniform(70, 88),
            rng.uniform(25, 50),
            rng.uniform(4, 10) if rng.random() < 0.5 else 0.0,
            rng.random() < 0.5,
        )
        for a in p.artifacts
    }
    for reading in p.readings:
        for a in p.artifacts:
            if a.onset_ms <= reading["ts"] <= a.end_ms:
                _apply(a, shapes[a], reading)


def _apply(a: Event, shape: tuple[float, float, float, float, float, bool], reading: dict[str, Any]) -> None:
    v, ts = reading["vitals"], reading["ts"]
    hr_up, rr_up, slipping, spike, dip, zero = shape
    if a.kind == "arousal":  # heart and breathing rate up and down together, over minutes
        ramp = min(1.0, (ts - a.onset_ms + MINUTE) / (2 * MINUTE), (a.end_ms - ts + MINUTE) / (2 * MINUTE))
        v["heart_rate"] = round(v["heart_rate"] + hr_up * ramp)
        v["respiratory_rate"] = round(v["respiratory_rate"] + rr_up * ramp)
    elif a.kind == "probe_off":  # the probe slides (a low but possible value), then no signal at all
        v["spo2"] = round(slipping) if ts == a.onset_ms or ts - a.onset_ms < MINUTE else 0
    elif a.kind == "rr_undercount":  # impedance breathing rate under-counting for hours (asleep)
        v["respiratory_rate"] = 6 + (ts // MINUTE + int(rr_up)) % 4
    elif a.kind == "cuff":  # the cuff inflates: pressure missing or 0, then one spike; SpO2 dips on its arm
        if ts - a.onset_ms < MINUTE:
            if zero:
                v["systolic_bp"] = 0
            else:
                v.pop("systolic_bp", None)
        elif ts - a.onset_ms < 2 * MINUTE:
            v["systolic_bp"] = round(v.get("systolic_bp", 120) + spike)
        if v.get("spo2"):  # not when the probe is off as well
            v["spo2"] = max(1, round(v["spo2"] - dip))
    else:  # disconnected:<channel>: never connected, the monitor sends 0
        v[a.kind.split(":", 1)[1]] = 0


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the small means used here."""
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k
