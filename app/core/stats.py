"""Small online estimators whose whole state is public numbers.

They compute exactly what River's `stats.Var` (ddof 1) and
`drift.PageHinkley` compute, update for update (tests/core/test_stats.py
checks them against River itself on random data), with one difference that
matters here: their state is a few named public fields, so a patient's
state is encoded from values Vigil owns (`app.core.state`), not from River's
private attributes, which a River release may rename or reinterpret. They
are also cheaper to call: a method on a slotted dataclass instead of River's
layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(slots=True)
class RunningVar:
    """Mean and sample variance by Welford's algorithm (as `river.stats.Var`)."""

    n: float = 0.0  # values seen
    mean: float = 0.0
    m2: float = 0.0  # sum of squared deviations from the mean

    def update(self, x: float) -> None:
        old = self.mean
        self.n += 1.0
        self.mean += (1.0 / self.n) * (x - self.mean)
        self.m2 += (x - old) * (x - self.mean)

    def get(self) -> float:
        """The sample variance (divisor n - 1); 0 before two values."""
        return self.m2 / (self.n - 1) if self.n > 1 else 0.0

    @classmethod
    def of(cls, n: float, mean: float, sd: float) -> RunningVar:
        """A variance that has seen `n` values of this mean and spread."""
        return cls(n, mean, sd * sd * (n - 1))


@dataclass(slots=True)
class PageHinkley:
    """The Page-Hinkley test for a lasting shift of the mean, up or down (as
    `river.drift.PageHinkley` with mode "both"). Its parameters are
    constants of the caller (`update`'s arguments), not state."""

    n: float = 0.0
    mean: float = 0.0  # running mean of the values seen
    sum_increase: float = 0.0
    sum_decrease: float = 0.0
    min_increase: float = math.inf
    max_decrease: float = -1.0  # River's initial value (an int there; packed as the same double)
    drift_detected: bool = False

    def update(
        self, x: float, min_instances: int, delta: float, threshold: float, alpha: float, weight: float = 1.0
    ) -> bool:
        """Feed one value; True when a shift is detected. The next update
        after a detection starts the test afresh (as River does). `weight`
        scales what the value adds to the sums (1: River's test): a value
        that is worth part of an observation (one of many close together in
        time) adds that part of the evidence."""
        if self.drift_detected:
            self.n, self.mean, self.sum_increase, self.sum_decrease = 0.0, 0.0, 0.0, 0.0
            self.min_increase, self.max_decrease, self.drift_detected = math.inf, -1.0, False
        self.n += 1.0
        self.mean += (1.0 / self.n) * (x - self.mean)
        dev = x - self.mean
        self.sum_increase = alpha * self.sum_increase + weight * dev - weight * delta
        self.sum_decrease = alpha * self.sum_decrease + weight * dev + weight * delta
        if self.sum_increase < self.min_increase:
            self.min_increase = self.sum_increase
        if self.sum_decrease > self.max_decrease:
            self.max_decrease = self.sum_decrease
        if self.n >= min_instances:
            self.drift_detected = (
                self.sum_increase - self.min_increase > threshold
                or self.max_decrease - self.sum_decrease > threshold
            )
        return self.drift_detected
