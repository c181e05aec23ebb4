"""A weekly profile where the data shows one (issue 13, item 3): a channel
whose level is lower every weekend gets a forecast that knows the day of the
week, once the weekend has come a second time; a level shift in the first
week is not taken for a weekly rhythm; the profile is part of the state."""

from __future__ import annotations

import base64
import math
import random
import struct

import orjson
import pytest

from app.core import state as patient_state
from app.core.errors import StateError
from app.core.model import WEEKLY_FIELDS, weekday
from tests.core.test_generic_channels import DAY, HOUR, STEP, T0, Patient

MONDAY = (T0 // DAY + (7 - weekday(T0))) * DAY  # the first Monday 00:00 UTC after T0
CHANNEL = "logins"


def value(rng: random.Random, t: int, weekend: float = 0.2, shift: float = 0.0) -> float:
    """About 100 with a daily cycle of +-15, 2 of noise, `weekend` lower on
    Saturdays and Sundays (UTC), `shift` added."""
    weekend_part = weekend * 100 if weekday(t) >= 5 else 0.0
    daily = 15 * math.sin(2 * math.pi * (t % DAY) / DAY)
    return round(100 - weekend_part + daily + shift + rng.gauss(0, 2), 3)


def run(p: Patient, rng: random.Random, start: int, end: int, **shape: float) -> None:
    for t in range(start, end, STEP):
        p.read(t, {CHANNEL: value(rng, t, **shape)})


def edges(p: Patient, week: int) -> list[dict[str, object]]:
    """Anomalies opened within two hours after that week's weekend began
    (Saturday 00:00) or ended (Monday 00:00); week 0 begins at MONDAY."""
    saturday, monday = MONDAY + week * 7 * DAY + 5 * DAY, MONDAY + (week + 1) * 7 * DAY
    return [
        e for e in p.events
        if e["kind"] == "anomaly" and e["status"] == "open"
        and any(edge <= _ts(e) < edge + 2 * HOUR for edge in (saturday, monday))
    ]  # fmt: skip


def _ts(event: dict[str, object]) -> int:
    return int(str(event["_ts"]))


class Timed(Patient):
    """A Patient that notes each event's reading time."""

    def read(self, ts: int, vitals: dict[str, object]) -> list[dict[str, object]]:
        out = super().read(ts, vitals)
        for e in out:
            e["_ts"] = ts
        return out


def test_a_weekend_seen_twice_is_forecast_and_its_edges_stop_alerting() -> None:
    rng = random.Random(11)
    p = Timed()
    run(p, rng, MONDAY, MONDAY + 5 * 7 * DAY)
    assert edges(p, 0), "without a weekly profile a weekend 10 spreads lower alerts at its edges"
    baseline = p.state.baselines[CHANNEL]
    assert baseline.week is not None, "five weeks of a weekend rhythm: the profile is in use"
    for week in (2, 3, 4):
        assert edges(p, week) == [], f"week {week}: the weekend is forecast, its edges are news no more"
    offsets = baseline.week[:7]
    assert offsets[5] == pytest.approx(-16, abs=3) and offsets[6] == pytest.approx(-16, abs=3)
    assert all(o == pytest.approx(4, abs=3) for o in offsets[:5])  # the week's mean is the level


def test_with_the_weekly_profile_in_use_a_real_level_shift_still_alerts() -> None:
    rng = random.Random(12)
    p = Timed()
    run(p, rng, MONDAY, MONDAY + 3 * 7 * DAY + 2 * DAY)  # into the fourth week's Wednesday
    assert p.state.baselines[CHANNEL].week is not None
    since = MONDAY + 3 * 7 * DAY + 2 * DAY + 10 * HOUR
    run(p, rng, MONDAY + 3 * 7 * DAY + 2 * DAY, since)
    before = len(p.events)
    run(p, rng, since, since + 6 * HOUR, shift=-30.0)
    assert any(e["kind"] == "anomaly" and e["status"] == "open" for e in p.events[before:])


def test_a_level_shift_in_the_first_week_is_not_taken_for_a_weekly_rhythm() -> None:
    """One week of data cannot tell a Wednesday's step from a weekly rhythm:
    the second week, which has no step on Wednesday, keeps the profile away,
    so the step is not forecast again."""
    rng = random.Random(13)
    p = Timed()
    wednesday = MONDAY + 2 * DAY + 12 * HOUR
    run(p, rng, MONDAY, wednesday, weekend=0.0)
    run(p, rng, wednesday, MONDAY + 4 * 7 * DAY, weekend=0.0, shift=30.0)
    baseline = p.state.baselines[CHANNEL]
    assert baseline.weekly is not None, "the profile learned"
    assert baseline.week is None, "and was never good enough to use"
    later = [
        e for e in p.events if e["kind"] == "anomaly" and e["status"] == "open" and _ts(e) > MONDAY + 7 * DAY
    ]
    assert later == []


def test_a_channel_read_once_a_day_has_no_weekly_profile() -> None:
    """A day's mean of one value is too noisy to check one week's offsets
    against the next (`app.core.model.WEEKLY_MAX_CADENCE_MS`)."""
    rng = random.Random(14)
    p = Timed()
    for day in range(60):
        t = MONDAY + day * DAY + 7 * HOUR
        p.read(t, {"weight": round(80 + (0.4 if weekday(t) in (5, 6, 0) else 0) + rng.gauss(0, 0.2), 1)})
    assert p.state.baselines["weight"].weekly is None


def test_a_channel_that_comes_to_be_read_once_a_day_drops_its_weekly_profile() -> None:
    """Read every 10 minutes for three weeks, the profile is in use; read
    once a day afterwards, its day means are single values, and it goes."""
    rng = random.Random(17)
    p = Timed()
    run(p, rng, MONDAY, MONDAY + 3 * 7 * DAY)
    assert p.state.baselines[CHANNEL].week is not None
    for day in range(21, 35):
        t = MONDAY + day * DAY + 9 * HOUR
        p.read(t, {CHANNEL: value(rng, t)})
    assert p.state.baselines[CHANNEL].weekly is None


def test_the_weekly_profile_survives_the_state_round_trip() -> None:
    """A worker that restarts from the changelog mid-day (the day's mean
    half accumulated, the profile in use) raises the very same events."""
    readings = []
    rng = random.Random(15)
    for t in range(MONDAY, MONDAY + 3 * 7 * DAY, STEP):
        readings.append((t, value(rng, t)))
    cut = len(readings) - 3 * 24 * 6 + 37  # mid-Friday of the third week
    straight, restarted = Timed(), Timed()
    for t, x in readings:
        straight.read(t, {CHANNEL: x})
    for t, x in readings[:cut]:
        restarted.read(t, {CHANNEL: x})
    assert restarted.state.baselines[CHANNEL].week is not None
    restarted.state = patient_state.decode(patient_state.encode(restarted.state))
    for t, x in readings[cut:]:
        restarted.read(t, {CHANNEL: x})
    assert restarted.events == straight.events
    assert patient_state.encode(restarted.state) == patient_state.encode(straight.state)


def _learned_state() -> patient_state.PatientState:
    rng = random.Random(16)
    p = Timed()
    for i in range(2 * 24 * 6 + 10):  # two days: every channel's profile began
        t = MONDAY + i * STEP
        vitals: dict[str, object] = {
            f"m{j}": value(rng, t) + j for j in range(patient_state.MAX_CUSTOM_CHANNELS)
        }
        vitals.update(heart_rate=round(72 + rng.gauss(0, 3)), spo2=round(97 + rng.gauss(0, 0.6)))
        p.read(t, vitals)
    return p.state


def test_a_state_over_its_bound_drops_weekly_profiles_before_any_baseline() -> None:
    saved = patient_state.MAX_STATE_BYTES
    try:
        patient_state.MAX_STATE_BYTES = 1_000_000  # learned with room for every profile
        state = _learned_state()
        assert all(b.weekly is not None for b in state.baselines.values())
        size = len(patient_state.encode(state))
        patient_state.MAX_STATE_BYTES = size - 400  # room for all but about three weekly profiles
        data = patient_state.encode(state)
    finally:
        patient_state.MAX_STATE_BYTES = saved
    decoded = patient_state.decode(data)
    assert set(decoded.baselines) == set(state.baselines), "every baseline kept"
    dropped = [name for name, b in decoded.baselines.items() if b.weekly is None]
    assert dropped == ["m0", "m1", "m2"], "custom channels' first, least recently updated first"


@pytest.mark.parametrize(
    "weekly",
    [
        {"m0": base64.b64encode(struct.pack("<5d", 0, 0, 0, 0, 0)).decode()},  # the wrong length
        {"nowhere": base64.b64encode(struct.pack(f"<{WEEKLY_FIELDS}d", *[0.0] * WEEKLY_FIELDS)).decode()},
        {"m0": base64.b64encode(struct.pack(f"<{WEEKLY_FIELDS}d", *[math.nan] * WEEKLY_FIELDS)).decode()},
    ],
    ids=["shape", "no-baseline", "nan"],
)
def test_a_weekly_profile_that_does_not_fit_is_refused(weekly: dict[str, str]) -> None:
    obj = orjson.loads(patient_state.encode(_learned_state()))
    obj["w"] = weekly
    with pytest.raises(StateError):
        patient_state.decode(orjson.dumps(obj))
