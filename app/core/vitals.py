"""The vital-sign catalogue: names, units and the two ranges each vital has.

`possible` is what the gateway accepts at all: a value outside it cannot come
from a working device reading a human (negative heart rate, SpO2 above 100 %),
so the reading is refused with `out_of_range`. A pressure transducer open to
air (an arterial line not yet connected, or being zeroed) reads a few mmHg
either side of 0: a working device's value, down to -50, read by the worker
as "no signal" like a 0, so that the heart rate and SpO2 it comes with are
not refused with it (VitalDB case 1: -9 to +8 mmHg for ten minutes).

`plausible` is what the worker's cleaning step believes is physiology. A value
inside `possible` but outside `plausible` (SpO2 of 0 from a probe that fell off,
a heart rate of 300 from motion) is kept and marked as an artifact: it is
stored, but never learned from, scored or fed to NEWS2.

`prior` is the population baseline (mean, standard deviation) a new patient's
model starts from, and `floor` the smallest standard deviation the model will
assume, so that a very steady patient does not turn every small wobble into a
large z-score. Adult resting values; NEWS2's score-0 bands
(../shared/reference/clinical.md, RCP 2017 Chart 1) sit inside them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Vital:
    name: str
    unit: str  # UCUM
    possible: tuple[float, float]
    plausible: tuple[float, float]
    prior: tuple[float, float]  # population mean, standard deviation
    floor: float  # smallest standard deviation the model assumes


NUMERIC: dict[str, Vital] = {
    v.name: v
    for v in (
        Vital("heart_rate", "/min", (0, 400), (20, 250), (75.0, 12.0), 3.0),
        Vital("spo2", "%", (0, 100), (50, 100), (97.0, 1.5), 1.0),
        Vital("respiratory_rate", "/min", (0, 200), (3, 70), (16.0, 3.0), 1.5),
        Vital("systolic_bp", "mm[Hg]", (-50, 400), (40, 300), (120.0, 15.0), 5.0),
        Vital("diastolic_bp", "mm[Hg]", (-50, 400), (20, 200), (75.0, 10.0), 4.0),
        # The mean arterial pressure a monitor reports beside them (an arterial
        # line's, or a cuff's); a line's flush reads the bag's 300 mmHg.
        Vital("mean_bp", "mm[Hg]", (-50, 400), (25, 230), (90.0, 11.0), 4.0),
        Vital("temperature", "Cel", (0, 50), (25, 45), (36.8, 0.4), 0.2),
        Vital("weight", "kg", (0, 700), (0.3, 400), (75.0, 15.0), 0.5),
    )
}

# The catalogue's vitals the per-patient model learns a baseline for: every
# numeric one (custom numeric channels are learned too, without a prior).
MODELLED: tuple[str, ...] = (
    "heart_rate",
    "spo2",
    "respiratory_rate",
    "systolic_bp",
    "diastolic_bp",
    "mean_bp",
    "temperature",
    "weight",
)

# Dangerous ranges for the predictive trend: a value at or below the first, or
# at or above the second, scores 3 on its own in NEWS2 (RCP 2017 Chart 1; the
# "red" single-parameter trigger for an urgent review), except temperature,
# whose highest NEWS2 band (>= 39.1 C) scores 2. None: no such bound. SpO2 is
# on scale 1 here; patients on scale 2 use `SPO2_SCALE2_DANGER`.
DANGER: dict[str, tuple[float | None, float | None]] = {
    "heart_rate": (40, 131),
    "respiratory_rate": (8, 25),
    "spo2": (91, None),
    "systolic_bp": (90, 220),
    "temperature": (35.0, 39.1),
}
SPO2_SCALE2_DANGER = (83, None)
# A reading may carry the patient's prescribed NEWS2 SpO2 scale (1, or 2 for a
# hypercapnic target of 88-92 %); it holds until a later reading changes it.
SPO2_SCALE = "spo2_scale"
SPO2_SCALES = (1, 2)  # the values it may take
# A reading may carry the device's own word that it was taken while the
# device moved (`true`: an accelerometer's gate judged its pulse-derived
# values unreliable); it speaks for that reading only.
MOTION = "motion"
# The values a device's motion corrupts: those of the optical sensor (SpO2 and
# its pulse rate) and, on a wearable, the heart rate derived from it.
MOVED = ("heart_rate", "spo2", "pulse_rate")
# The named vitals that are not numeric channels (what a device may send
# besides `NUMERIC` and custom channels).
NAMED = frozenset({"consciousness", "on_oxygen", SPO2_SCALE, MOTION})

# ACVPU: Alert, new Confusion, Voice, Pain, Unresponsive.
ACVPU = frozenset("ACVPU")

CUSTOM_NAME_MAX = 64
# A custom channel must be any finite number; this bounds it so that a single
# reading cannot poison downstream consumers with absurd magnitudes.
CUSTOM_ABS_MAX = 1e12


def is_artifact(name: str, value: float) -> bool:
    """True when a numeric value of a known vital lies outside physiology."""
    vital = NUMERIC.get(name)
    if vital is None:
        return False
    lo, hi = vital.plausible
    return not lo <= value <= hi
