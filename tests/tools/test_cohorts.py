"""Each cohort of `vigil evaluate` is what it claims: its cadence, its labels
covering what was injected, and the baselines doing what they should on it."""

from __future__ import annotations

import bisect
import statistics
from typing import Any

from app.core import news2
from app.core.protocol import parse_reading
from app.core.vitals import NUMERIC
from app.tools.evaluation import COHORTS, DAY, HOUR, MINUTE, T0, charted, generic, home, ward
from app.tools.evaluation.common import SimPatient
from app.tools.evaluation.methods import news2_alone, run_vigil, weight_rule, windowed_gaussian
from app.tools.evaluation.scoring import Rules, score


def _gaps(p: SimPatient, vital: str) -> list[int]:
    times = [r["ts"] for r in p.readings if vital in r["vitals"]]
    return [b - a for a, b in zip(times, times[1:], strict=False)]


# -- ward ----------------------------------------------------------------------------


def test_ward_clean_is_the_cohort_evaluate_always_ran() -> None:
    big = ward.cohort(40, 1.0, seed=1)
    assert {e.kind for p in big for e in p.events} == set(ward.EVENT_KINDS)
    assert {p.profile for p in big} == {"typical", "athlete", "copd"}
    for p in big:
        ts = [r["ts"] for r in p.readings]
        assert ts == sorted(ts) and ts[-1] - ts[0] < DAY
        assert all(e.onset_ms < e.end_ms and ts[0] <= e.onset_ms <= ts[-1] for e in p.events)
        assert statistics.median(_gaps(p, "heart_rate")) == MINUTE
        assert not p.artifacts


def test_ward_devices_is_the_ward_read_by_four_devices() -> None:
    """`ward_devices` carries the `ward` cohort's values, events and
    artifacts, each minute's values regrouped into one reading per device
    (ECG monitor, oximeter, cuff, thermometer), each within 20 s of the
    minute the monitor read them at."""
    one = COHORTS["ward"].build(8, 1.0, 3)
    four = COHORTS["ward_devices"].build(8, 1.0, 3)
    for a, b in zip(one, four, strict=True):
        assert a.events == b.events and a.artifacts == b.artifacts
        assert len(b.readings) > 3 * len(a.readings)
        regrouped: dict[int, dict[str, Any]] = {}  # each device reading back to the monitor's
        times = [r["ts"] for r in a.readings]
        for r in b.readings:
            assert len({ward.DEVICES.get(k, "other") for k in r["vitals"]}) == 1
            at = times[bisect.bisect_right(times, r["ts"]) - 1]
            assert 0 <= r["ts"] - at <= ward.DEVICE_SPREAD_S * 1000
            assert not set(r["vitals"]) & set(regrouped.get(at, {}))
            regrouped.setdefault(at, {}).update(r["vitals"])
        assert regrouped == {r["ts"]: r["vitals"] for r in a.readings}
        assert [r["ts"] for r in b.readings] == sorted(r["ts"] for r in b.readings)
        assert [r["seq"] for r in b.readings] == list(range(len(b.readings)))


def test_ward_wander_is_the_ward_with_its_vitals_wandering() -> None:
    """`ward_wander` has the `ward` cohort's patients, events, artifacts and
    reading times; its values are the ward's moved by a slow wander of each
    vital (`app.tools.evaluation.wander`), which is what real monitor
    numerics have and the ward's independent noise has not: a patient's
    heart rate, a minute apart, moves about as much, but an hour apart
    much more."""
    ward_ = COHORTS["ward"].build(12, 1.0, 3)
    wandering = COHORTS["ward_wander"].build(12, 1.0, 3)
    hourly: dict[str, list[float]] = {"ward": [], "ward_wander": []}
    minutely: dict[str, list[float]] = {"ward": [], "ward_wander": []}
    for a, b in zip(ward_, wandering, strict=True):
        assert a.events == b.events and a.artifacts == b.artifacts and a.profile == b.profile
        assert [r["ts"] for r in a.readings] == [r["ts"] for r in b.readings]
        assert [set(r["vitals"]) for r in a.readings] == [set(r["vitals"]) for r in b.readings]
        assert any(r["vitals"] != s["vitals"] for r, s in zip(a.readings, b.readings, strict=True))
        for name, p in (("ward", a), ("ward_wander", b)):
            hr = [
                r["vitals"]["heart_rate"]
                for r in p.readings[:600]
                if isinstance(r["vitals"].get("heart_rate"), int)
            ]
            minutely[name] += [abs(y - x) for x, y in zip(hr, hr[1:], strict=False)]
            hourly[name] += [abs(y - x) for x, y in zip(hr, hr[60:], strict=False)]
    assert statistics.median(minutely["ward_wander"]) <= 1.5 * statistics.median(minutely["ward"])
    assert statistics.median(hourly["ward_wander"]) >= 1.5 * statistics.median(hourly["ward"])


def test_every_labelled_ward_deterioration_has_readings_to_show_it() -> None:
    """A deterioration that lies in a dropout (the monitor off for up to an
    hour) is not in the data: no method could catch it, so it is not
    labelled, as artifacts in a dropout are not. Seed 7 has one, read once
    6 s after its onset."""
    for seed in (2026, 7, 99):
        for p in ward.cohort(60, 1.0, seed):
            times = [r["ts"] for r in p.readings]
            for e in p.events:
                assert sum(e.onset_ms <= t <= e.end_ms for t in times) >= 2, (seed, p.subject, e)
    assert sum(len(p.events) for p in ward.cohort(60, 1.0, 7)) == 28  # 29 drawn, one in a dropout


def test_ward_artifacts_are_laid_over_the_same_physiology_and_labelled() -> None:
    clean = ward.cohort(30, 1.0, seed=5)
    dirty = ward.with_artifacts(ward.cohort(30, 1.0, seed=5), seed=5)
    kinds = {a.kind.split(":")[0] for p in dirty for a in p.artifacts}
    assert kinds == set(ward.ARTIFACT_KINDS)
    for c, d in zip(clean, dirty, strict=True):
        assert [r["ts"] for r in c.readings] == [r["ts"] for r in d.readings]
        assert c.events == d.events
        for rc, rd in zip(c.readings, d.readings, strict=True):
            inside = [a for a in d.artifacts if a.onset_ms <= rd["ts"] <= a.end_ms]
            if not inside:
                assert rc == rd  # untouched outside every labelled artifact
            if len(inside) == 1:
                _check_artifact(inside[0].kind, inside[0].onset_ms, rc["vitals"], rd["vitals"], rd["ts"])
            for name, value in rd["vitals"].items():  # what the gateway accepts (docs/protocol.md)
                if name in NUMERIC:
                    assert NUMERIC[name].possible[0] <= value <= NUMERIC[name].possible[1]
        for a in d.artifacts:  # every label covers readings it changed
            assert any(a.onset_ms <= r["ts"] <= a.end_ms for r in d.readings)


def _check_artifact(kind: str, onset: int, clean: dict[str, Any], dirty: dict[str, Any], ts: int) -> None:
    if kind == "arousal":  # heart and breathing rate move together
        assert (
            dirty["heart_rate"] >= clean["heart_rate"]
            and dirty["respiratory_rate"] >= clean["respiratory_rate"]
        )
    elif kind == "probe_off" and ts - onset >= MINUTE:
        assert dirty["spo2"] == 0
    elif kind == "rr_undercount":
        assert 6 <= dirty["respiratory_rate"] <= 9
    elif kind == "cuff" and ts - onset < MINUTE:
        assert dirty.get("systolic_bp", 0) == 0
    elif kind.startswith("disconnected:"):
        assert dirty[kind.split(":")[1]] == 0


# -- charted -------------------------------------------------------------------------


def test_charted_has_the_cadence_it_claims() -> None:
    patients = charted.cohort(12, 3.0, seed=3)
    for p in patients:
        assert [r["ts"] for r in p.readings] == sorted({r["ts"] for r in p.readings})
        assert 50 * MINUTE <= statistics.median(_gaps(p, "heart_rate")) <= 70 * MINUTE
        assert 3 * HOUR <= statistics.median(_gaps(p, "spo2")) <= 5 * HOUR
        assert 150 * MINUTE <= statistics.median(_gaps(p, "consciousness")) <= 210 * MINUTE
    assert {p.profile for p in patients} == set(charted.PROFILES)


def test_sedated_ventilated_patients_sit_in_a_news2_band_while_stable() -> None:
    patients = [
        p for p in charted.cohort(30, 3.0, seed=3) if p.profile == "sedated_ventilated" and not p.events
    ]
    assert patients
    for p in patients:
        latest: dict[str, Any] = {}
        bands = []
        for r in p.readings:
            latest |= r["vitals"]
            if r["ts"] > T0 + 6 * HOUR:
                bands.append(news2.score(latest).band)
        assert all(b in ("medium", "high") for b in bands)


def test_charted_deadline_is_the_second_charted_reading_after_onset() -> None:
    patients = charted.cohort(30, 3.0, seed=4)
    events = [(p, e) for p in patients for e in p.events]
    assert {e.kind for _, e in events} == set(charted.EVENT_KINDS)
    for p, e in events:
        after = [
            r["ts"]
            for r in p.readings
            if r["ts"] > e.onset_ms and set(r["vitals"]) & set(charted.CHANGES[e.kind])
        ]
        assert e.deadline_ms == after[1]


def test_news2_alone_catches_a_charted_haemorrhage() -> None:
    patients = [
        p for p in charted.cohort(40, 3.0, seed=2026) if any(e.kind == "haemorrhage" for e in p.events)
    ]
    assert patients
    result, _ = score(patients, news2_alone(6 * HOUR), Rules(before_ms=0, after_ms=2 * HOUR))
    assert result["detected"] >= 1


# -- home ----------------------------------------------------------------------------


def test_home_has_the_cadence_it_claims() -> None:
    for p in home.cohort(10, 60.0, seed=3):
        weights = [r["ts"] for r in p.readings if "weight" in r["vitals"]]
        days = [(ts - T0) // DAY for ts in weights]
        assert len(days) == len(set(days))  # at most one weighing a day
        pressure_days = [(r["ts"] - T0) // DAY for r in p.readings if "systolic_bp" in r["vitals"]]
        assert max(pressure_days.count(d) for d in set(pressure_days)) == 2  # twice a day
        strips = [r["ts"] for r in p.readings if "rhythm_af" in r["vitals"]]
        assert strips and all(((ts - T0) // DAY + 3) % 7 == 6 for ts in strips)  # Sundays
        weeks = [(ts - T0) // (7 * DAY) for ts in strips]
        assert len(weeks) == len(set(weeks)) and len(strips) <= 9  # once a week, over 60 days


def test_home_decompensation_is_a_2_kg_gain_over_3_days_caught_by_the_weight_rule() -> None:
    patients = home.cohort(60, 90.0, seed=2026)
    sick = [(p, e) for p in patients for e in p.events if e.kind == "decompensation"]
    assert sick
    for p, e in sick:
        assert e.deadline_ms == e.onset_ms + 2 * DAY
        w = [(r["ts"], r["vitals"]["weight"]) for r in p.readings if "weight" in r["vitals"]]
        before = statistics.median(x for ts, x in w if e.onset_ms - 7 * DAY <= ts < e.onset_ms)
        after = statistics.median(x for ts, x in w if e.onset_ms + 3 * DAY <= ts <= e.onset_ms + 6 * DAY)
        assert after - before >= 1.5
    result, _ = score([p for p, _ in sick], weight_rule(), Rules(before_ms=0, after_ms=3 * DAY))
    assert result["sensitivity"] >= 0.5


# -- generic -------------------------------------------------------------------------


def test_generic_series_are_custom_channels_every_10_minutes_with_gaps() -> None:
    patients = generic.cohort(12, 14.0, seed=3)
    for p in patients:
        names = {n for r in p.readings for n in r["vitals"]}
        assert names == {p.profile} and p.profile in generic.CHANNELS
        gaps = _gaps(p, p.profile)
        assert min(gaps) == generic.STEP == statistics.median(gaps)
    assert any(max(_gaps(p, p.profile)) >= 2 * HOUR for p in patients)  # missing stretches


def test_generic_labels_cover_every_injected_anomaly() -> None:
    patients = generic.cohort(24, 14.0, seed=5)
    assert {e.kind for p in patients for e in p.events} == set(generic.EVENT_KINDS)
    for p in patients:
        values = {r["ts"]: r["vitals"][p.profile] for r in p.readings}
        for e in p.events:
            assert e.onset_ms >= T0 + generic.FIRST
            inside = [values[t] for t in sorted(values) if e.onset_ms <= t <= e.end_ms]
            assert len(inside) >= (e.end_ms - e.onset_ms) // generic.STEP  # no gap hides a window
            if e.kind == "flatline":
                assert inside[0] == inside[1] == inside[5]
        for a, b in zip(p.events, p.events[1:], strict=False):
            assert b.onset_ms - a.end_ms > DAY  # windows never overlap


def test_windowed_gaussian_finds_a_spike_and_vigil_runs_on_custom_channels() -> None:
    patients = [p for p in generic.cohort(24, 14.0, seed=5) if any(e.kind == "spike" for e in p.events)]
    rules = Rules(before_ms=0, after_ms=0, probation=0.15, window_score=True)
    baseline, _ = score(patients, windowed_gaussian(z=3.0), rules)
    assert baseline["detected"] >= 1
    vigil, sizes = score(patients[:2], run_vigil, rules)
    assert vigil["window_score"] is not None and max(sizes) <= 4096


# -- every cohort ---------------------------------------------------------------------


def test_every_cohort_sends_what_the_gateway_accepts() -> None:
    small = {"ward": 1.0, "charted": 2.0, "home": 40.0, "generic": 5.0}
    for name, days in small.items():
        for p in COHORTS[name].build(6, days, 11):
            assert p.readings, name
            for reading in p.readings:
                parse_reading(reading, now_ms=reading["ts"])  # raises a Refusal if not
