"""The methods every cohort is run through. Each yields its alert events for
one patient as `Alarm`s (status, event time, kind), in event-time order.

- `run_vigil`: the same core code the worker runs (`app.core.patient.process`,
  default `Config`), reading by reading; every event but `baseline_drift`
  notices.
- `static_thresholds`: typical bedside-monitor limits, one alarm each time a
  parameter crosses out of its range (on the raw values, as a monitor does).
- `news2_alone`: an alarm whenever the NEWS2 band (from the latest plausible
  value of each parameter no older than `max_age_ms`, SpO2 on the scale the
  readings' `spo2_scale` prescribes) rises to low-medium or above.
- `weight_rule`: the usual heart-failure self-care rule, an alarm when weight
  is 2 kg or more above its lowest value of the last 3 days.
- `windowed_gaussian`: the windowed-Gaussian detector of the Numenta Anomaly
  Benchmark's baselines, on every custom channel: a value `z` standard
  deviations or more from the mean of the channel's last `window` values is
  anomalous, and one alarm is raised when a channel becomes anomalous. As the
  benchmark does for every detector, its threshold is the best of a grid
  (`Tuned`) on the cohort being scored: the baseline gets every advantage.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from app.core import news2
from app.core import patient as core
from app.core import state as patient_state
from app.core.vitals import NUMERIC, SPO2_SCALE, is_artifact
from app.tools.evaluation.common import DAY, HOUR, SimPatient

Alarm = tuple[str, int, str]  # status, event time (ms), kind
Runner = Callable[[SimPatient, list[int]], Iterator[Alarm]]

# Typical bedside-monitor default limits (one alarm per parameter crossing).
STATIC_LIMITS: dict[str, tuple[float, float]] = {
    "heart_rate": (50, 120),
    "spo2": (90, 101),
    "respiratory_rate": (8, 30),
    "systolic_bp": (90, 180),
    "temperature": (35.0, 38.5),
}
_RANK = {"low": 0, "low_medium": 1, "medium": 2, "high": 3}


def run_vigil(p: SimPatient, sizes: list[int]) -> Iterator[Alarm]:
    """Vigil's events for one patient; appends encoded state sizes to `sizes`."""
    state = patient_state.PatientState()
    for i, reading in enumerate(p.readings):
        for event in core.process(state, p.subject, "eval", reading).events:
            if event["kind"] != "baseline_drift":
                yield event["status"], reading["ts"], event["kind"]
        if i % 500 == 0:
            sizes.append(len(patient_state.encode(state)))
    sizes.append(len(patient_state.encode(state)))


def static_thresholds(limits: dict[str, tuple[float, float]] = STATIC_LIMITS) -> Runner:
    def run(p: SimPatient, sizes: list[int]) -> Iterator[Alarm]:
        alarming: dict[str, bool] = {}
        for reading in p.readings:
            for name, (lo, hi) in limits.items():
                value = reading["vitals"].get(name)
                if value is None:
                    continue
                bad = not lo <= value <= hi
                if bad and not alarming.get(name):
                    yield "open", reading["ts"], name
                alarming[name] = bad

    return run


def news2_alone(max_age_ms: int = HOUR) -> Runner:
    def run(p: SimPatient, sizes: list[int]) -> Iterator[Alarm]:
        band = "low"
        for ts, now in news2_bands(p, max_age_ms):
            if _RANK[now] > _RANK[band]:
                yield ("open" if band == "low" else "escalated"), ts, "news2"
            band = now

    return run


def news2_bands(p: SimPatient, max_age_ms: int) -> Iterator[tuple[int, str]]:
    """NEWS2's band after each reading: from the latest plausible value of each
    parameter no older than `max_age_ms`, SpO2 on the scale the readings'
    `spo2_scale` prescribes."""
    latest: dict[str, tuple[Any, int]] = {}
    scale2 = False
    for reading in p.readings:
        ts = reading["ts"]
        for name, value in reading["vitals"].items():
            if name in news2.PARAMETERS and not _implausible(name, value):
                latest[name] = (value, ts)
            elif name == SPO2_SCALE:
                scale2 = value == 2  # the patient's prescribed scale, as Vigil is told it
        current = {k: v for k, (v, at) in latest.items() if ts - at <= max_age_ms}
        yield ts, news2.score(current, scale2).band


def _implausible(name: str, value: Any) -> bool:
    return name in NUMERIC and isinstance(value, (int, float)) and is_artifact(name, value)


def weight_rule(gain_kg: float = 2.0, over_ms: int = 3 * DAY) -> Runner:
    def run(p: SimPatient, sizes: list[int]) -> Iterator[Alarm]:
        history: deque[tuple[int, float]] = deque()
        alarming = False
        for reading in p.readings:
            weight = reading["vitals"].get("weight")
            if weight is None:
                continue
            ts = reading["ts"]
            while history and history[0][0] < ts - over_ms:
                history.popleft()
            bad = bool(history) and weight - min(w for _, w in history) >= gain_kg
            if bad and not alarming:
                yield "open", ts, "weight"
            alarming = bad
            history.append((ts, weight))

    return run


def windowed_gaussian(window: int = 288, z: float = 4.0, min_points: int = 36) -> Runner:
    def run(p: SimPatient, sizes: list[int]) -> Iterator[Alarm]:
        channels: dict[str, _Window] = {}
        for reading in p.readings:
            for name, value in reading["vitals"].items():
                if name in NUMERIC or name in news2.PARAMETERS or name == SPO2_SCALE:
                    continue  # custom channels only
                w = channels.setdefault(name, _Window(window))
                bad = w.count >= min_points and abs(value - w.mean) >= z * max(w.sd, 1e-6)
                if bad and not w.alarming:
                    yield "open", reading["ts"], name
                w.alarming = bad
                w.push(float(value))

    return run


@dataclass(frozen=True)
class Tuned:
    """A method run once per setting; the one scoring best is reported, with its setting."""

    setting: str  # its name in the result
    grid: dict[float, Runner]


WINDOWED_GAUSSIAN = Tuned("threshold_z", {z: windowed_gaussian(z=z) for z in (2.0, 2.5, 3.0, 3.5, 4.0)})


class _Window:
    """Mean and standard deviation of the last `size` values."""

    def __init__(self, size: int) -> None:
        self.values: deque[float] = deque()
        self.size = size
        self.total = self.squares = 0.0
        self.alarming = False

    @property
    def count(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return self.total / len(self.values)

    @property
    def sd(self) -> float:
        n = len(self.values)
        return math.sqrt(max(0.0, self.squares / n - (self.total / n) ** 2))

    def push(self, x: float) -> None:
        self.values.append(x)
        self.total += x
        self.squares += x * x
        if len(self.values) > self.size:
            old = self.values.popleft()
            self.total -= old
            self.squares -= old * old
