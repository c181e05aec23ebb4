"""A vital heading for danger counts once its smoothed level has left the
patient's normal by `trend_z` SDs (2.5); for a vital whose normal wanders
(it drifted three times or more in the day before the last 90 minutes, as
real monitor numerics do), by `trend_z_wander` (2.75). A wandering level
reaches 2.5 SDs by chance, heading down at night: the `trend` opened there
on stable patients. An acute fall goes on past 2.75 SDs within a minute,
and a patient whose normal is settled is judged as before."""

from __future__ import annotations

import random
from typing import Any

from app.core import patient as core
from app.core import state as patient_state
from app.core.records import reading_id
from app.tools.evaluation import wander
from tests.core.readings import normal

MINUTE = 60_000
T0 = 1_764_374_400_000  # 2025-11-29 00:00 UTC
PATIENT = "p-" + "9" * 32
OFF = core.Config(trend_z_wander=0)  # every vital judged at `trend_z`, as before


def _heading(event: dict[str, Any]) -> bool:
    """A `trend` opened by a vital heading for danger (its evidence projects
    the level), not by vitals drifting together."""
    return (
        event["kind"] == "trend"
        and event["status"] == "open"
        and any("projected" in v for v in event["evidence"]["vitals"].values())
    )


def _days_of_heading_trends(seed: int, config: core.Config, days: int = 3) -> list[int]:
    """A stable patient whose vitals wander (`app.tools.evaluation.wander`,
    a 30-minute memory), read once a minute from midnight: the day (0, 1,
    2) of each `trend` heading for danger."""
    rng, state, days_of = random.Random(seed), patient_state.PatientState(), []
    for i, vitals in enumerate(wander.vitals(rng, days * 1440)):
        reading = {"id": reading_id("monitor-1", i), "seq": i, "ts": T0 + i * MINUTE, "vitals": vitals}
        for event in core.process(state, PATIENT, "monitor-1", reading, config).events:
            if _heading(event):
                days_of.append(i // 1440)
    return days_of


def test_wandering_vitals_open_few_trends_heading_for_danger_once_their_wandering_is_known() -> None:
    """Eight such patients for three days. With every vital judged at 2.5
    SDs, 16 `trend`s heading for danger opened after the first day (a
    systolic of 98-106 at night, a breathing rate of 9, an SpO2 of 92,
    heading down); judged at 2.75 SDs once their wandering is known, 10. The
    first day, while little is known of it, keeps most of its own."""
    on = [_days_of_heading_trends(seed, core.Config()) for seed in range(8)]
    off = [_days_of_heading_trends(seed, OFF) for seed in range(8)]
    later_on = sum(1 for days in on for d in days if d >= 1)
    later_off = sum(1 for days in off for d in days if d >= 1)
    assert later_off >= 12, off  # the patients do wander into it
    assert later_on * 3 <= later_off * 2, (on, off)  # a third fewer, or more
    assert all(d.count(0) <= e.count(0) for d, e in zip(on, off, strict=True))


def _first_alert(
    readings: list[dict[str, object]], onset: int, config: core.Config
) -> tuple[int, str] | None:
    """Minutes from `onset` to the first alert opened at or after it (not a
    drift notice), and its kind."""
    state = patient_state.PatientState()
    for i, vitals in enumerate(readings):
        reading = {"id": reading_id("monitor-1", i), "seq": i, "ts": T0 + i * MINUTE, "vitals": vitals}
        for event in core.process(state, PATIENT, "monitor-1", reading, config).events:
            if i >= onset and event["status"] == "open" and event["kind"] != "baseline_drift":
                return i - onset, str(event["kind"])
    return None


def _fall(readings: list[dict[str, object]], onset: int, vital: str, to: float) -> list[dict[str, object]]:
    """The `ward` cohort's acute deterioration: from `onset`, `vital` moves
    to `to` over 8 minutes and stays there."""
    for i in range(onset, len(readings)):
        value = readings[i][vital]
        assert isinstance(value, int | float)
        readings[i][vital] = round(value + (to - value) * min(1.0, (i - onset) / 8))
    return readings


ONSET = (2 * 24 + 14) * 60  # the third day, 14:00


def test_a_fall_on_a_wandering_patient_is_caught_at_most_a_minute_later() -> None:
    """A guard: a hypotension (to 82 mmHg) and a bradycardia (to 38/min) in
    the third day of a patient whose vitals wander, eight patients each.
    Each is caught within 8 minutes, at most a minute later than with
    every vital judged at 2.5 SDs (an acute fall goes on past 2.75 SDs)."""
    for vital, to in (("systolic_bp", 82.0), ("heart_rate", 38.0)):
        for seed in range(8):
            readings = _fall(list(wander.vitals(random.Random(seed), ONSET + 40)), ONSET, vital, to)
            on, off = _first_alert(readings, ONSET, core.Config()), _first_alert(readings, ONSET, OFF)
            assert on is not None and off is not None, (vital, seed)
            assert on[0] <= 8 and on[0] <= off[0] + 1, (vital, seed, on, off)


def test_a_fall_on_a_patient_whose_normal_is_settled_is_caught_as_before() -> None:
    """A guard: the same hypotension in a patient whose vitals keep to their
    normal (independent noise: a drift notice now and then, never three in
    a day) opens its `trend` at the same minute either way."""
    for seed in range(4):
        rng = random.Random(seed)
        readings = _fall([normal(rng) for _ in range(ONSET + 40)], ONSET, "systolic_bp", 82.0)
        on, off = _first_alert(readings, ONSET, core.Config()), _first_alert(readings, ONSET, OFF)
        assert on is not None and on == off, (seed, on, off)
