"""The heart-failure self-care rule, whatever was learned: a weight gain of
more than 2 kg in 3 days is reported (the Heart Failure Association of the
ESC; docs/alerts.md). A scale log that lost 10 kg on diuretics over
twelve weeks, sat on a plateau, then regained 4 kg in five days told
nothing: the learned spread had taken the loss in (an outside reviewer's
public Withings log). One weighing in clothes and shoes is no gain."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from app.core import state as patient_state
from app.core.state import StateError
from tests.core.readings import Recorder

T0 = 1_704_092_400_000  # 2024-01-01 07:00 UTC, a Monday
DAY = 86_400_000
HOUR = 3_600_000
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "alert.schema.json"


def _loss_then_plateau() -> list[tuple[int, float]]:
    """Weekly weighings falling from 89.8 to 80.0 over eleven weeks, then
    daily at 80 +- 0.3 for three weeks (the reviewer's log's shape)."""
    rng = random.Random(5)
    weighings = [(T0 + week * 7 * DAY, round(89.8 - 0.9 * week + rng.gauss(0, 0.2), 1)) for week in range(12)]
    start = T0 + 12 * 7 * DAY
    weighings += [(start + day * DAY, round(80 + rng.gauss(0, 0.3), 1)) for day in range(21)]
    return weighings


def _weigh(recorder: Recorder, weighings: list[tuple[int, float]]) -> list[dict[str, Any]]:
    events = []
    for ts, kg in weighings:
        for e in recorder.read(ts, {"weight": kg}, device="scale").events:
            events.append({**e, "_ts": ts})
    return events


def _trends(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["kind"] == "trend"]


def test_a_regain_after_a_loss_is_told_by_the_rule() -> None:
    recorder = Recorder()
    plateau = _loss_then_plateau()
    assert _trends(_weigh(recorder, plateau)) == []  # the loss and the plateau: nothing
    start = plateau[-1][0] + DAY
    regain = [(start + day * DAY, round(80.0 + 0.8 * (day + 1), 1)) for day in range(6)]  # 80.8 ... 84.8
    trends = _trends(_weigh(recorder, regain))
    opened = [e for e in trends if e["status"] == "open"]
    assert len(opened) == 1, trends
    # Told at the fourth weighing of the regain, 83.2: the second in a row 2 kg or more over the
    # lowest of the three days before it (82.4 over the plateau's 79.8, then 83.2 over 80.8).
    assert opened[0]["_ts"] == start + 3 * DAY
    weight = opened[0]["evidence"]["vitals"]["weight"]
    assert weight["level"] == 83.2 and weight["gain"] == 2.4 and weight["lowest"] == 80.8
    with open(SCHEMA_PATH) as f:
        jsonschema.validate({k: v for k, v in opened[0].items() if k != "_ts"}, json.load(f))


def test_one_weighing_in_clothes_is_no_gain() -> None:
    recorder = Recorder()
    plateau = _loss_then_plateau()
    _weigh(recorder, plateau)
    start = plateau[-1][0] + DAY
    clothes = [(start, 82.6), (start + DAY, 80.1), (start + 2 * DAY, 80.3)]
    assert _trends(_weigh(recorder, clothes)) == []


def test_a_re_take_at_the_same_sitting_confirms_nothing() -> None:
    """Weighed in clothes, then again a minute later, still in them: one
    occasion, however many weighings."""
    recorder = Recorder()
    plateau = _loss_then_plateau()
    _weigh(recorder, plateau)
    start = plateau[-1][0] + DAY
    sitting = [(start, 82.6), (start + 60_000, 82.5), (start + DAY, 80.1)]
    assert _trends(_weigh(recorder, sitting)) == []


def test_a_steady_weight_with_its_weekends_raises_nothing_in_a_year() -> None:
    rng = random.Random(9)
    weighings = []
    for day in range(365):
        weekend = 0.5 if day % 7 in (5, 6, 0) else 0.0
        weighings.append(
            (T0 + day * DAY + rng.randint(-30, 30) * 60_000, round(80 + weekend + rng.gauss(0, 0.35), 1))
        )
    assert _trends(_weigh(Recorder(), weighings)) == []


def test_the_rule_survives_a_restart_at_every_weighing() -> None:
    """The same alerts when the state is written and read back between
    weighings (a worker restarted, the table restored)."""
    plateau = _loss_then_plateau()
    start = plateau[-1][0] + DAY
    weighings = plateau + [(start + day * DAY, round(80.0 + 0.8 * (day + 1), 1)) for day in range(6)]
    straight = _weigh(Recorder(), weighings)
    restarted, recorder = [], Recorder()
    for ts, kg in weighings:
        restarted += _weigh(recorder, [(ts, kg)])
        recorder.state = patient_state.decode(patient_state.encode(recorder.state))
    assert [(e["status"], e["_ts"]) for e in restarted] == [(e["status"], e["_ts"]) for e in straight]
    assert any(e["kind"] == "trend" for e in straight)


MALFORMED = [[1, 2, 3, 4], [0, 1, 1, 80.0, 1, "x"], [0, 1, 1, 80.0, 1, 80.0, 2], {"a": 1}]


@pytest.mark.parametrize("window", MALFORMED)
def test_a_malformed_weight_window_is_refused(window: Any) -> None:
    recorder = Recorder()
    _weigh(recorder, [(T0, 80.0)])
    raw = orjson.loads(patient_state.encode(recorder.state))
    raw["c"] = window
    with pytest.raises(StateError):
        patient_state.decode(orjson.dumps(raw))


def _steady(days: int, rng: random.Random) -> list[tuple[int, float]]:
    return [(T0 + day * DAY, round(80 + rng.gauss(0, 0.3), 1)) for day in range(days)]


def test_a_scale_read_every_hour_tells_a_gain_once_it_has_lasted_three_hours() -> None:
    """In hospital a scale may send every hour: a gain of 1.5 kg a day after
    three weeks at 80 is told within the day, not never (a second reviewer:
    every weighing under three hours after the one before was taken for a
    re-take, so the rule never counted)."""
    rng = random.Random(4)
    weighings = _steady(8, rng)  # too few for the level-shift watch (12): the rule alone
    start = T0 + 8 * DAY
    weighings += [(start + hour * 3_600_000, round(80 + 1.5 * hour / 24, 2)) for hour in range(72)]
    opened = [e for e in _trends(_weigh(Recorder(), weighings)) if e["status"] == "open"]
    # 2 kg over the lowest (about 79.6) near hour 30, counted three hours later.
    assert len(opened) == 1 and opened[0]["_ts"] <= start + 40 * 3_600_000, opened
    assert opened[0]["evidence"]["vitals"]["weight"]["gain"] >= 2.0


def test_one_light_weighing_is_no_low_to_gain_over() -> None:
    """Another member of the household at 77.7 among the patient's 80s, or
    the usual clothes left off: the next two weighings at 80 are no gain of
    2 kg (a second reviewer found the rule open four days on them)."""
    rng = random.Random(6)
    weighings = _steady(21, rng)
    weighings += [(T0 + 20 * DAY + 12 * 3_600_000, 77.7), (T0 + 21 * DAY, 80.4), (T0 + 22 * DAY, 80.7)]
    weighings += [(T0 + day * DAY, round(80 + rng.gauss(0, 0.3), 1)) for day in range(23, 30)]
    assert _trends(_weigh(Recorder(), sorted(weighings))) == []


def test_a_gain_of_exactly_2_kg_counts() -> None:
    """2.0 kg in floating point: 64.1 over 62.1 is 1.9999999999999929."""
    weighings = [(T0 + day * DAY, 62.1) for day in range(5)]  # too few for the level-shift watch
    weighings += [(T0 + 5 * DAY, 63.2), (T0 + 6 * DAY, 64.1), (T0 + 7 * DAY, 64.1)]
    opened = [e for e in _trends(_weigh(Recorder(), weighings)) if e["status"] == "open"]
    assert len(opened) == 1 and opened[0]["evidence"]["vitals"]["weight"]["gain"] == 2.0


def test_a_light_weighing_saved_twice_is_still_one_occasion() -> None:
    """A scale that saves one weighing twice, seconds apart (a real Renpho
    log does, dozens of times): a light weighing saved so is one occasion,
    no low to gain over; the next morning's usual 89.6 is no gain of 2 kg
    (an outside reviewer's probe of that log opened the rule on it)."""
    weighings = [(T0 + day * DAY, 89.5 + 0.1 * (day % 3)) for day in range(6)]
    light = T0 + 5 * DAY + 3 * 3_600_000
    weighings += [(light, 87.2), (light + 5_000, 87.2), (T0 + 6 * DAY, 89.6), (T0 + 7 * DAY, 89.7)]
    assert _trends(_weigh(Recorder(), sorted(weighings))) == []


def _copied_daily(days: list[float], start: int) -> list[tuple[int, float]]:
    """An Apple Health export's weighings: each day's at midnight and again
    when it was taken, 07:00."""
    out = []
    for day, kg in enumerate(days):
        out += [(start + day * DAY - 7 * 3_600_000, kg), (start + day * DAY, kg)]
    return out


def test_a_light_days_copy_is_no_low() -> None:
    """One light day (77.8 among the patient's 80s), written twice by the
    export, seven hours apart, opened a gain at the next day's 80.3 and
    reminded of it at 80.0 (an outside reviewer's Health Auto Export)."""
    recorder = Recorder()
    usual = [80.0, 80.2, 79.9, 80.1, 80.0, 80.2, 79.8, 80.1, 80.0, 79.9, 80.1, 80.0, 80.2, 80.0]
    events = _weigh(recorder, _copied_daily([*usual, 77.8, 80.3, 80.1, 80.0], T0))
    assert _trends(events) == []


def test_a_regain_written_twice_is_told_at_the_same_weighing() -> None:
    """The reviewer's regain after a loss, each day's weighing written
    twice: told at the regain's fourth weighing as when written once, not
    at the third's copy (a second occasion it was not)."""
    recorder = Recorder()
    plateau = _loss_then_plateau()
    _weigh(recorder, plateau)
    start = plateau[-1][0] + DAY
    regain = [round(80.0 + 0.8 * (day + 1), 1) for day in range(6)]  # 80.8 ... 84.8
    opened = [e for e in _trends(_weigh(recorder, _copied_daily(regain, start))) if e["status"] == "open"]
    assert len(opened) == 1, opened
    assert opened[0]["evidence"]["vitals"]["weight"]["level"] == 83.2


def _home(gain_from_day: int | None) -> list[dict[str, Any]]:
    """A home patient: a cuff morning and evening, a scale each morning, for
    21 days. The diastolic rises by 14 from day 14 (its level shift opens a
    `trend`); from `gain_from_day` the weight climbs 1.1 kg a morning."""
    rng = random.Random(11)
    recorder, events = Recorder(), []
    for day in range(21):
        morning = T0 + day * DAY
        kg = 80.0 + rng.gauss(0, 0.15)
        if gain_from_day is not None and day >= gain_from_day:
            kg += 1.1 * (day - gain_from_day + 1)
        events += _weigh(recorder, [(morning, round(kg, 1))])
        for at in (HOUR, 13 * HOUR):
            diastolic = 78 + rng.gauss(0, 3) + (14 if day >= 14 else 0)
            vitals = {"systolic_bp": round(127 + rng.gauss(0, 5)), "diastolic_bp": round(diastolic)}
            events += [{**e, "_ts": morning + at} for e in recorder.read(morning + at, vitals, "cuff").events]
    return events


def test_a_weight_gain_inside_an_open_trend_is_told_as_an_escalation() -> None:
    """A diastolic's level shift keeps a `trend` open; the weight then climbs
    3.3 kg in three mornings. Its level shift and the heart-failure rule,
    new in the open alert, are each told once as an `escalated` event
    naming the weight (`evidence.newly`), not only inside the reminders (an
    outside reviewer's mixed-cadence patient)."""
    quiet = _trends(_home(None))
    assert [e["status"] for e in quiet if e["status"] in ("open", "escalated")] == ["open"]
    trends = _trends(_home(17))
    opened = [e for e in trends if e["status"] == "open"]
    assert len(opened) == 1 and "diastolic_bp" in opened[0]["evidence"]["vitals"]
    escalated = [e for e in trends if e["status"] == "escalated"]
    assert escalated, [(e["status"], sorted(e["evidence"]["vitals"])) for e in trends]
    assert all(e["evidence"]["newly"] == ["weight"] for e in escalated)
    assert escalated[0]["_ts"] <= T0 + 19 * DAY  # by the third morning of the climb
    assert len(escalated) <= 2  # the shift, then the rule: each once
    assert any("gain" in e["evidence"]["vitals"]["weight"] for e in escalated)
    with open(SCHEMA_PATH) as f:
        schema = json.load(f)
    for e in escalated:
        jsonschema.validate({k: v for k, v in e.items() if k != "_ts"}, schema)


def test_every_mark_of_a_trend_is_told_once_an_episode() -> None:
    """The trend's marks (a severe pressure, the weight rule, each level
    shift) are those `ONCE_MARKS` keeps through reminders and settles."""
    from app.core import patient as core
    from app.core.alerts import NEWS_MARKS, ONCE_MARKS, Kind

    assert ONCE_MARKS[Kind.TREND] == core._TREND_MARKS
    assert core._TREND_MARKS & ~NEWS_MARKS == 0


def test_a_single_readings_run_beside_an_open_trend_is_no_news() -> None:
    """A systolic's level shift keeps a `trend` open for weeks; the pulse
    and the weight stay where they were, with their noise. A run one
    reading long, reported beside the shift for moving with it (`together`,
    a pulse of 79 against 72), was told as an `escalated` event naming
    it ("newly" shifted; an outside reviewer, 43 of 45 such escalations on
    its weight scenarios): only a shift that stands on its own is news
    inside an open `trend`."""
    escalated = []
    for seed in range(1, 6):
        rng = random.Random(seed)
        recorder = Recorder()
        for day in range(60):
            morning = T0 + day * DAY
            recorder.read(morning, {"weight": round(82 + rng.gauss(0, 0.35), 1)}, device="scale")
            for at in (HOUR, 13 * HOUR):
                systolic = 128 + rng.gauss(0, 6) + (25 if day >= 20 else 0)
                vitals = {
                    "systolic_bp": round(systolic),
                    "diastolic_bp": round(80 + rng.gauss(0, 4)),
                    "heart_rate": round(72 + rng.gauss(0, 5)),
                }
                recorder.read(morning + at, vitals, "cuff")
        trends = _trends(recorder.events)
        assert any(e["status"] == "open" and "systolic_bp" in e["evidence"]["vitals"] for e in trends), seed
        escalated += [e for e in trends if e["status"] == "escalated"]
    assert escalated == []


def test_a_gain_the_window_has_moved_past_is_not_told() -> None:
    """A property test found a weight `trend` telling a gain of 0.0 kg (the
    schema's least is 2): the rule met, then the three-day window moved past
    the low it was met over (a copy of the weighing hours later moves it
    without a new weighing), and the gain was told over the weighing
    itself. A gain under the rule's 2 kg is never told."""
    from app.core import patient as core_patient
    from app.core import state as patient_state
    from app.core.patient import Config, _Reading

    state = patient_state.PatientState()
    day, now = 86_400_000, 1_764_374_400_000 + 10 * 86_400_000
    state.latest["weight"] = [82.6, now, day]
    # met (2) since two days ago, the latest weighing now at 82.6, its only low in the window itself
    state.gain[:] = [2.0, float(now - 2 * day), float(now), 82.6, float(now), 82.6, float(now), 82.6]
    r = _Reading(
        "p-" + "5" * 32,
        None,
        "scale-1",
        {"id": "x", "vitals": {"weight": 82.6}},
        now,
        {"weight": 82.6},
        {},
        [],
        [],
        {},
        {},
        {},
    )
    core_patient._weight_gain(state, r, Config())
    assert r.findings == {}
