"""The per-vital baseline: cold start, learning, drift, and its encoding."""

from __future__ import annotations

import math
import random

from app.core.model import Baseline


def feed(b: Baseline, values: list[float]) -> list[bool]:
    return [b.update(x, b.z(x), learn_below=3.0) for x in values]


def test_new_patient_is_scored_against_the_population_prior() -> None:
    b = Baseline.prior("heart_rate")
    assert (b.mean, b.sd, b.n) == (75.0, 12.0, 0)
    assert round(b.z(111), 1) == 3.0


def test_baseline_becomes_personal() -> None:
    rng = random.Random(3)
    b = Baseline.prior("heart_rate")
    feed(b, [58 + rng.gauss(0, 2) for _ in range(200)])
    assert abs(b.mean - 58) < 1.5
    assert b.sd < 4
    assert b.z(75) > 4  # normal for the population, unusual for this patient


def test_anomalous_values_are_not_learned() -> None:
    rng = random.Random(2)
    b = Baseline.prior("spo2")
    feed(b, [97.0 + rng.gauss(0, 1.5) for _ in range(50)])
    n, mean, sd = b.n, b.mean, b.sd
    assert not b.update(80.0, b.z(80.0), learn_below=3.0, keep_out=5.0)
    assert (b.n, b.mean, b.sd) == (n, mean, sd)
    x = mean - 3.5 * sd
    b.update(x, b.z(x), learn_below=3.0, keep_out=5.0)  # between: the spread only, winsorised
    assert b.mean == mean and sd < b.sd < sd * 1.2


def test_the_spread_grows_as_well_as_shrinks() -> None:
    rng = random.Random(6)
    b = Baseline.prior("heart_rate")
    for _ in range(300):
        x = 70 + rng.gauss(0, 4)
        b.update(x, b.z(x), learn_below=3.0, warm=b.n >= 30, cadence_ms=60_000, keep_out=5.0)
    calm = b.sd
    for _ in range(1440):  # a day at four times the variance
        x = 70 + rng.gauss(0, 8)
        b.update(x, b.z(x), learn_below=3.0, warm=True, cadence_ms=60_000, keep_out=5.0)
    assert 3.5 < calm < 4.6 and 6.5 < b.sd < 9
    for _ in range(1440):
        x = 70 + rng.gauss(0, 4)
        b.update(x, b.z(x), learn_below=3.0, warm=True, cadence_ms=60_000, keep_out=5.0)
    assert b.sd < 5.5


def test_the_spread_established_stays_as_the_learned_spread_widens() -> None:
    # The normal as established keeps the spread it was established with
    # (`app.core.patient._deviates` measures a fall into red from it): a
    # fall the learning follows widens the learned spread, not that one.
    rng = random.Random(6)
    b = Baseline.prior("systolic_bp")
    for _ in range(300):
        x = 95 + rng.gauss(0, 3)
        b.update(x, b.z(x), learn_below=3.0, warm=b.n >= 30, cadence_ms=60_000, keep_out=5.0)
    assert b.prior_sd < 0.0 and b.established_sd() == b.sd == 5.0  # folded in; the floor
    for _ in range(600):
        x = 78 + rng.gauss(0, 3)
        b.update(x, b.z(x), learn_below=3.0, warm=True, cadence_ms=60_000, keep_out=5.0)
    assert b.sd > 6.0 and b.established_sd() == 5.0
    b.recent = 80.0
    b.adopt()
    assert (b.prior_mean, b.established_sd()) == (80.0, b.sd)  # adopted with the spread it had
    b.prior_sd = -1.0  # a state from before the spread was kept: the learned one
    assert b.established_sd() == b.sd


def test_a_custom_channel_is_learned_from_its_own_values_at_any_scale() -> None:
    for scale in (1e-3, 1.0, 1e6):
        rng = random.Random(7)
        b = Baseline.prior("my_metric", 50 * scale)
        for _ in range(100):
            x = (50 + rng.gauss(0, 2)) * scale
            b.update(x, b.z(x), learn_below=3.0)
        assert abs(b.mean / scale - 50) < 1 and 1.5 < b.sd / scale < 2.6
        assert abs(b.z(62 * scale)) > 5


def test_sustained_shift_is_detected_as_drift_but_noise_is_not() -> None:
    rng = random.Random(5)
    b = Baseline.prior("heart_rate")
    steady = feed(b, [70 + rng.gauss(0, 3) for _ in range(1000)])
    assert not any(steady)
    shifted = feed(b, [86 + rng.gauss(0, 3) for _ in range(60)])
    assert any(shifted)
    assert abs(b.recent - 86) < 5


def test_adopting_a_drift_moves_the_baseline() -> None:
    b = Baseline.prior("heart_rate")
    feed(b, [70.0] * 100)
    b.recent = 85.0
    b.adopt()
    assert b.mean == 85.0
    assert abs(b.z(85.0)) < 0.01


def test_adopting_a_level_leaves_the_daily_cycle_as_it_was() -> None:
    """A custom metric read every 10 minutes with a daily cycle of +-15 and
    a noise of 2: three days learned, then a step to a new level adopted
    exactly. The cycle did not change with the level, and from 6 hours after
    the adoption the forecast stays within 2 of the truth for the rest of
    that day. Before, the adoption restarted the daily profile's learning at
    a step of 1/31 (about 5 hours of values, too short to tell cos from sin):
    the forecast was up to 3.4 to 4 off."""
    day, step, t0 = 86_400_000, 600_000, 1_764_435_600_000
    rng = random.Random(0)
    b = Baseline.prior("cpu_load", 100.0)

    def read(i: int, level: float) -> float:
        t = t0 + i * step
        angle = (t % day) * 2 * math.pi / day
        c, s = math.cos(angle), math.sin(angle)
        truth = level + 15 * s
        x = truth + rng.gauss(0, 2)
        b.update(x, (x - b.forecast(c, s)) / b.sd, 3.0, b.sd, b.warm(step), step, 5.0, c, s, t)
        return abs(b.forecast(c, s) - truth)

    n = 3 * day // step
    for i in range(n):
        read(i, 100.0)
    assert b.daily is not None
    b.adopt(step, 120.0)
    errors = [read(i, 120.0) for i in range(n, n + day // step)]
    assert max(errors[6 * 6 :]) < 2


def test_population_prior_does_not_inflate_a_personal_spread() -> None:
    # An athlete resting at 50-54/min: after two hours, 75/min is clearly
    # unusual for them, although it is the population's mean.
    b = Baseline.prior("heart_rate")
    feed(b, [52 + (i % 5) - 2 for i in range(120)])
    assert 52 < b.mean < 54
    assert b.sd == 3.0  # the floor: the patient's own spread is smaller
    assert b.z(75) > 7


def test_adopted_baseline_keeps_a_deterioration_out_of_learning() -> None:
    # A benign change adopted moments before a decline must not let the
    # decline be learned as the new normal.
    b = Baseline.prior("heart_rate")
    feed(b, [70.0 + (i % 5) - 2 for i in range(200)])
    b.recent = 78.0
    b.adopt()
    feed(b, [78.0 - 4 * i for i in range(1, 10)])  # 74, 70, ... 42: a bradycardia
    assert abs(b.mean - 78) < 2
    assert b.z(50) < -5


MIN = 60_000


def test_trend_follows_a_ramp_in_event_time() -> None:
    rng = random.Random(4)
    b = Baseline.prior("heart_rate")
    for i in range(40):
        b.track(75 + rng.gauss(0, 2), i * MIN, 4.0)
    assert abs(b.slope) < 0.6  # steady: no trend
    for i in range(40, 52):  # falling 3/min, readings every 30 s
        for half in (0, 1):
            t = i * MIN + half * MIN // 2
            b.track(75 - 3 * (t / MIN - 40) + rng.gauss(0, 2), t, 4.0)
    assert -4.0 < b.slope < -2.0
    assert b.projection(10) < 30


def test_trend_shrugs_off_one_spike_and_restarts_after_a_gap() -> None:
    b = Baseline.prior("heart_rate")
    for i in range(30):
        b.track(75.0, i * MIN, 4.0)
    b.track(220.0, 30 * MIN, 4.0)  # motion artifact inside the plausible range
    assert b.level < 75 + 3 * 4.0 and b.projection(15) < 110
    b.track(90.0, 60 * MIN, 4.0)  # half an hour later: no slope from the gap
    assert (b.level, b.slope) == (90.0, 0.0)
