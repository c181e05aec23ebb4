"""A patient's learned baseline for one vital, built from River components.

Per vital:

- `river.stats.Var` holds the patient's baseline mean and variance. It starts
  from the population prior (`app.core.vitals`) as a few pseudo-observations,
  so a new patient is scored against population norms at once and becomes
  personal as readings arrive (cold start).
- Each reading is scored as a z-score against that baseline. Readings that
  look anomalous (|z| >= `learn_below`) are kept out of learning, so the model
  does not learn a deterioration as the new normal.
- `river.drift.PageHinkley` watches the z-scores. When the level has moved for
  good it signals drift; the caller then decides whether the new level is
  adopted as baseline (see `app.core.patient`: only when it is clinically
  safe) and calls `adopt`.

The River objects are rebuilt from, and reduced to, a few plain numbers
(`to_list` / `from_list`), so the per-patient state has an explicit, versioned
encoding and is never pickled.
"""

from __future__ import annotations

import math

from river import drift, stats

from app.core.vitals import NUMERIC

PRIOR_WEIGHT = 5.0  # the prior counts as this many observations
RECENT_ALPHA = 0.2  # smoothing of the recent level used when a drift is adopted

# PageHinkley on z-scores (unit variance by construction). River's defaults
# (delta=0.005, threshold=50 on raw values) raise drift constantly on steady
# vitals (../shared/reference/stack-pitfalls.md); on z-scores, a tolerance of
# half a standard deviation and a threshold of 25 detect a sustained shift of
# about 2 standard deviations within about 15 readings and stay quiet on noise.
PH_MIN_INSTANCES = 30
PH_DELTA = 0.5
PH_THRESHOLD = 25.0
PH_ALPHA = 1 - 1e-4


def _new_var(mean: float, sd: float) -> stats.Var:
    var = stats.Var()
    var.mean.n = PRIOR_WEIGHT
    var.mean._mean = mean
    var._S = (PRIOR_WEIGHT - 1) * sd * sd
    return var


def _new_ph() -> drift.PageHinkley:
    return drift.PageHinkley(
        min_instances=PH_MIN_INSTANCES, delta=PH_DELTA, threshold=PH_THRESHOLD, alpha=PH_ALPHA
    )


class Baseline:
    """Learned baseline and drift detector for one vital of one patient."""

    __slots__ = ("name", "floor", "var", "ph", "recent")

    def __init__(self, name: str, var: stats.Var, ph: drift.PageHinkley, recent: float) -> None:
        self.name = name
        self.floor = NUMERIC[name].floor
        self.var = var
        self.ph = ph
        self.recent = recent

    @classmethod
    def prior(cls, name: str) -> Baseline:
        mean, sd = NUMERIC[name].prior
        return cls(name, _new_var(mean, sd), _new_ph(), mean)

    @property
    def mean(self) -> float:
        return self.var.mean.get()

    @property
    def sd(self) -> float:
        return max(math.sqrt(max(self.var.get(), 0.0)), self.floor)

    @property
    def n(self) -> float:
        return self.var.mean.n - PRIOR_WEIGHT

    def z(self, x: float) -> float:
        return (x - self.mean) / self.sd

    def update(self, x: float, z: float, learn_below: float) -> bool:
        """Feed one clean value (with its z-score); return True on drift."""
        self.recent += RECENT_ALPHA * (x - self.recent)
        if abs(z) < learn_below:
            self.var.update(x)
        self.ph.update(z)
        return self.ph.drift_detected

    def adopt(self) -> None:
        """Take the recent level as the new baseline, spread as the old one."""
        self.var = _new_var(self.recent, self.sd)
        self.ph = _new_ph()

    def reject_drift(self) -> None:
        """Drift to an unsafe level: keep the baseline, restart the detector."""
        self.ph = _new_ph()

    # -- explicit encoding ----------------------------------------------------

    def to_list(self) -> list[float]:
        ph = self.ph
        return [
            self.var.mean.n,
            self.var.mean._mean,
            self.var._S,
            self.recent,
            ph._x_mean.n,
            ph._x_mean._mean,
            ph._sum_increase,
            ph._sum_decrease,
            ph._min_increase if math.isfinite(ph._min_increase) else 1e300,
            ph._max_decrease,
        ]

    @classmethod
    def from_list(cls, name: str, values: list[float]) -> Baseline:
        n, mean, s, recent, ph_n, ph_mean, inc, dec, min_inc, max_dec = values
        var = stats.Var()
        var.mean.n = n
        var.mean._mean = mean
        var._S = s
        ph = _new_ph()
        ph._x_mean.n = ph_n
        ph._x_mean._mean = ph_mean
        ph._sum_increase = inc
        ph._sum_decrease = dec
        ph._min_increase = math.inf if min_inc >= 1e300 else min_inc
        ph._max_decrease = max_dec
        return cls(name, var, ph, recent)
