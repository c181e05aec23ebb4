"""Vigil's estimators compute what River's do, update for update: River is
the reference they are checked against."""

from __future__ import annotations

import random

from river import drift, stats

from app.core.stats import PageHinkley, RunningVar


def test_running_var_equals_rivers_var() -> None:
    rng = random.Random(1)
    ours, rivers = RunningVar(), stats.Var()
    assert ours.get() == rivers.get() == 0.0
    for _ in range(5000):
        x = rng.choice([rng.gauss(70, 5), rng.uniform(-1e6, 1e6), 0.0, 1e-9])
        ours.update(x)
        rivers.update(x)
        assert (ours.n, ours.mean, ours.get()) == (rivers.n, rivers.mean.get(), rivers.get())


def test_page_hinkley_detects_at_the_same_readings_as_rivers() -> None:
    rng = random.Random(2)
    params = {"min_instances": 30, "delta": 0.5, "threshold": 25.0, "alpha": 1 - 1e-4}
    ours, rivers = PageHinkley(), drift.PageHinkley(**params)
    detected = 0
    for i in range(20_000):
        level = 0.0 if (i // 700) % 2 == 0 else rng.choice([2.5, -2.5])
        x = max(-4.0, min(4.0, rng.gauss(level, 1)))
        rivers.update(x)
        assert ours.update(x, **params) == rivers.drift_detected, i
        detected += ours.drift_detected
    assert detected > 10  # the test above compared real detections, not only quiet stretches


def test_of_builds_a_variance_that_has_seen_n_values() -> None:
    var = RunningVar.of(30, 80.0, 4.0)
    assert (var.n, var.mean) == (30, 80.0) and abs(var.get() - 16.0) < 1e-12


def test_the_baselines_inline_detector_is_page_hinkley_weighted_by_the_part_of_a_minute() -> None:
    """`Baseline.update` runs the detector inline (the hot path): at a 2 s
    cadence it must be `PageHinkley.update` with each value weighted 2/60,
    detecting at the same readings."""
    from app.core import model

    rng = random.Random(3)
    b, ours = model.Baseline.prior("heart_rate"), PageHinkley()
    detected = 0
    for i in range(20_000):
        x = rng.gauss(72 if (i // 3000) % 2 == 0 else 90, 3)
        z = (x - b.mean) / b.sd
        clipped = max(-model.PH_CLIP, min(model.PH_CLIP, z))
        drift = b.update(x, z, 3.0, cadence_ms=2000.0)
        want = ours.update(
            clipped,
            model.PH_MIN_INSTANCES,
            model.PH_DELTA,
            model.PH_THRESHOLD,
            model.PH_ALPHA,
            2000.0 / 60_000,
        )
        assert drift == want, i
        if drift:
            b.reject_drift()
            ours = PageHinkley()
            detected += 1
    assert detected > 2  # real detections were compared, not only quiet stretches
