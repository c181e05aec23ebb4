"""A red value stays a deterioration however the model has learned it: a
NEWS2 alert raised by a parameter scoring 3 against a normal that scored
nothing does not resolve while that parameter still scores 3.

An outside tester's patient read every minute, six hours at a systolic of
120 +- 5, then 88 +- 5 for good: NEWS2 opened at once and resolved after
six hours with the systolic at 83, nothing reopening for three days. The
learning that follows the patient had followed the hypotension (its values
3-5 SDs out widened the spread from 5 to 17, then moved the mean to 110,
which NEWS2 scores 1), and the personalised limits took a red value beside
a normal that scores for the patient's own. A heart rate of 38 charted
hourly resolved the same way at 16 hours. A COPD patient whose SpO2 of 90 is
learned from admission still has it for her own."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from app.core import news2
from app.core.alerts import Kind
from tests.core.readings import Recorder, normal

T0 = 1_764_374_400_000
MINUTE = 60_000
HOUR = 60 * MINUTE


def _news2(recorder: Recorder, vital: str) -> list[tuple[int, str, int]]:
    """The NEWS2 alert's events: (hour since the first reading, status, the
    vital's subscore in its evidence)."""
    return [
        ((e["_ts"] - T0) // HOUR, e["status"], e["evidence"]["subscores"][vital])
        for e in recorder.events
        if e["kind"] == "news2"
    ]


def _read(
    recorder: Recorder,
    rng: random.Random,
    every: int,
    hours: range,
    vitals_at: Callable[[int, random.Random], Any],
) -> Recorder:
    """Read the patient every `every` ms through `hours`, `vitals_at(hour, rng)`
    each time; each event stamped with its reading's time (`_ts`)."""
    for ts in range(T0 + hours.start * HOUR, T0 + hours.stop * HOUR, every):
        before = len(recorder.events)
        recorder.read(ts, vitals_at((ts - T0) // HOUR, rng))
        for e in recorder.events[before:]:
            e["_ts"] = ts
    return recorder


def _patient(every: int, hours: int, vitals_at: Callable[[int, random.Random], Any]) -> Recorder:
    return _read(Recorder(), random.Random(11), every, range(hours), vitals_at)


def test_a_lasting_hypotension_keeps_its_news2_alert_open_as_the_normal_learns_it() -> None:
    def vitals_at(hour: int, rng: random.Random) -> dict[str, Any]:
        vitals = normal(rng)
        level = 88 if 6 <= hour < 30 else 120
        vitals["systolic_bp"] = round(level + rng.gauss(0, 5))
        return vitals

    rng = random.Random(11)
    recorder = _read(Recorder(), rng, MINUTE, range(30), vitals_at)
    # The learned normal followed the hypotension (as it did before): 110 or less, which NEWS2 scores.
    assert recorder.state.baselines["systolic_bp"].mean < 110.5
    _read(recorder, rng, MINUTE, range(30, 31), vitals_at)  # back at 120
    news = _news2(recorder, "systolic_bp")
    assert news[0][:2] == (6, "open")  # at once, as before
    # The alert stayed open for the whole day of it, and resolves once the systolic is back.
    assert [(hour, status) for hour, status, _ in news if status == "resolved"] == [(30, "resolved")]
    assert [status for _, status, _ in news].count("open") == 1


def test_a_heart_rate_of_38_charted_hourly_is_no_normal_of_a_patient_whose_normal_was_75() -> None:
    def vitals_at(hour: int, rng: random.Random) -> dict[str, Any]:
        vitals = normal(rng)
        vitals["heart_rate"] = round(38 + rng.gauss(0, 3)) if hour >= 6 else round(75 + rng.gauss(0, 3))
        return vitals

    recorder = _patient(HOUR, 6 + 96, vitals_at)
    news = _news2(recorder, "heart_rate")
    assert news[0][:2] == (6, "open")
    # Resolved, if at all, only once the heart rate no longer scores 3 (41 or more for two hours).
    assert all(sub < 3 for _, status, sub in news if status == "resolved"), news
    assert recorder.state.baselines["heart_rate"].mean < 51  # learned down into a range NEWS2 scores


def test_a_red_spo2_learned_from_admission_is_not_hers_without_scale_2() -> None:
    """An SpO2 of about 90 on air from the first reading opens NEWS2, and the
    alert stays open while it stays red: scale 2 is prescribed, not learned
    (RCP 2017). Before 2026-12-06 the learned normal resolved it, and a ward
    chart's SpO2 of 90-91 on air at every round then went untold for 36
    hours (an outside reviewer). Prescribed scale 2, it scores nothing."""
    recorder = _patient(MINUTE, 4, lambda hour, rng: {**normal(rng), "spo2": round(90 + rng.gauss(0, 0.6))})
    statuses = [e["status"] for e in recorder.events if e["kind"] == "news2"]
    assert statuses[0] == "open" and "resolved" not in statuses, statuses
    assert news2.spo2_scale1(recorder.state.latest["spo2"][0]) == 3  # still red
    prescribed = _patient(
        MINUTE, 4, lambda hour, rng: {**normal(rng), "spo2": round(90 + rng.gauss(0, 0.6)), "spo2_scale": 2}
    )
    assert [e for e in prescribed.events if e["kind"] == "news2"] == []


def test_a_hypotension_settled_in_ambers_keeps_its_alert_open_while_the_normal_learned_follows_it() -> None:
    """The alert a red systolic raised does not resolve in a stretch of
    ambers (91-99) that count as the patient's own only because the learned
    normal followed the hypotension there (about 95, which NEWS2 scores,
    against the 120 established): an outside reviewer's patient, 120 for six
    hours, then 88 +- 5 with a 96 in the first eight minutes of each hour,
    had its alert resolved in such a stretch in five seeds of eight, and its
    systolic of 80-90 then went untold for 6-10 hours. Held, the alert says
    why (`not_recovered`); back at 120, it resolves."""

    def vitals_at(minute: int, rng: random.Random) -> dict[str, Any]:
        vitals = {
            "heart_rate": round(72 + rng.gauss(0, 3)),
            "spo2": round(97 + rng.gauss(0, 0.6)),
            "respiratory_rate": round(16 + rng.gauss(0, 1)),
            "systolic_bp": round(120 + rng.gauss(0, 5)),
            "temperature": 36.9,
            "consciousness": "A",
        }
        if 6 * 60 <= minute < 30 * 60:
            vitals["systolic_bp"] = round(88 + rng.gauss(0, 5)) if minute % 60 >= 8 else 96
            if minute < 14 * 60:
                vitals["heart_rate"] = round(108 + rng.gauss(0, 3))
        return vitals

    for seed in range(8):
        rng, recorder = random.Random(seed), Recorder()
        untold = 0  # red systolics read with no NEWS2 alert open, once one has opened
        for minute in range(34 * 60):
            vitals = vitals_at(minute, rng)
            recorder.read(T0 + minute * MINUTE, vitals)
            alert = recorder.state.alerts.get(Kind.NEWS2)
            opened = any(e["kind"] == "news2" for e in recorder.events)
            if opened and vitals["systolic_bp"] <= 90 and (alert is None or not alert.confirmed):
                untold += 1
        assert untold <= 2, (seed, untold)  # a resolution and a reopening a minute later, at most
        news = [e for e in recorder.events if e["kind"] == "news2"]
        assert [e["status"] for e in news].count("open") <= 2
        assert news[-1]["status"] == "resolved"  # back at 120 for four hours


def test_a_septic_chart_at_news2_5_keeps_the_alert_its_red_spo2_opened() -> None:
    """Charted hourly: eight hours at a pulse of 85, a systolic of 115 and an
    SpO2 of 96-97, then a septic picture (a pulse of 106, a systolic of 98,
    an SpO2 of 92-94: NEWS2 4-5, every part of it learned as the patient's
    normal within hours) with an SpO2 of 90 at hours 12 and 20. A MIMIC
    septic-shock stay of that shape had its alert resolved at NEWS2 5, and
    the second red SpO2 raised nothing (docs/evaluation.md)."""

    def vitals_at(hour: int, rng: random.Random) -> dict[str, Any]:
        vitals = normal(rng)
        if hour < 8:
            vitals.update(heart_rate=round(85 + rng.gauss(0, 3)), systolic_bp=round(115 + rng.gauss(0, 4)))
            vitals["spo2"] = 96 + (hour % 2)
        else:
            vitals.update(heart_rate=round(106 + rng.gauss(0, 2)), systolic_bp=round(98 + rng.gauss(0, 2)))
            vitals["spo2"] = 90 if hour in (12, 20) else 92 + hour % 3
        return vitals

    for seed in (11, 12, 13):
        recorder = _read(Recorder(), random.Random(seed), HOUR, range(26), vitals_at)
        news = [((e["_ts"] - T0) // HOUR, e["status"]) for e in recorder.events if e["kind"] == "news2"]
        at_first_red = [status for hour, status in news if hour <= 12]
        assert at_first_red and at_first_red[-1] != "resolved", (seed, news)
        assert not [hour for hour, status in news if 12 <= hour <= 20 and status == "resolved"], (seed, news)
        assert recorder.state.alerts, (seed, news)  # still open at the end, the picture unchanged


def _by_minute(seed: int, minutes: int, vitals_at: Callable[[int, random.Random], Any]) -> Recorder:
    rng, recorder = random.Random(seed), Recorder()
    for minute in range(minutes):
        ts = T0 + minute * MINUTE
        before = len(recorder.events)
        recorder.read(ts, vitals_at(minute, rng))
        for e in recorder.events[before:]:
            e["_ts"] = ts
    return recorder


def test_a_new_desaturation_inside_an_alert_held_open_is_told_as_one() -> None:
    """An SpO2 of 90 after a pneumonia, then 94 +- 1 for days (its stray 91s
    taken for the patient's own), then a desaturation to 87-90 for an hour
    on day 2 and on day 3: each told at once, by an opening or an escalation
    naming the SpO2. A reviewer of the hold found the second untold in every
    seed: the alert held open by strays, the red value already among its
    marks."""
    day = 24 * 60
    desaturations = (2 * day + 12 * 60, 3 * day + 12 * 60)

    def vitals_at(minute: int, rng: random.Random) -> dict[str, Any]:
        vitals = normal(rng)
        if minute < 360:
            x = 97 + rng.gauss(0, 0.6)
        elif minute < 360 + 720:
            x = 90 + rng.gauss(0, 1.5)
        elif any(start <= minute < start + 60 for start in desaturations):
            x = min(90, max(87, 88.5 + rng.gauss(0, 1)))
        else:
            x = 94 + rng.gauss(0, 1)
        vitals["spo2"] = min(100, round(x))
        return vitals

    for seed in range(1, 6):
        recorder = _by_minute(seed, 4 * day, vitals_at)
        for start in desaturations:
            told = [
                e
                for e in recorder.events
                if e["kind"] == "news2"
                and T0 + start * MINUTE <= e["_ts"] < T0 + (start + 10) * MINUTE
                and (e["status"] == "open" or "spo2" in e["evidence"].get("newly", ()))
            ]
            assert told, (seed, start // day)


def test_a_hold_ends_a_day_after_the_last_red_value() -> None:
    """A systolic of 88 for twelve hours, then 104 +- 4 for good: the patient
    lives lower now. The alert is held a day, not for ever (ten days and
    fourteen reminders before a reviewer of the hold)."""

    def vitals_at(minute: int, rng: random.Random) -> dict[str, Any]:
        vitals = normal(rng)
        level = 120 if minute < 360 else 88 if minute < 360 + 720 else 104
        vitals["systolic_bp"] = round(level + rng.gauss(0, 5 if minute < 1080 else 4))
        return vitals

    recorder = _by_minute(5, 4 * 24 * 60, vitals_at)
    news = [e for e in recorder.events if e["kind"] == "news2"]
    resolved = [e["_ts"] for e in news if e["status"] == "resolved"]
    assert len(resolved) == 1 and resolved[0] <= T0 + (18 + 30) * HOUR, news
    assert sum(e["status"] == "reminder" and "not_recovered" in e["evidence"] for e in news) <= 3


def test_a_red_pulse_is_no_habit_of_a_patient_whose_normal_was_learned_fast() -> None:
    """Charted hourly: a pulse learned up towards 120 in a tachycardia (a
    normal NEWS2 scores, on the fast side), then rate-controlled at 46: a
    red 37 is a bradycardia, not the patient's own. It was taken for its own
    (the normal scored, if on the other side), and raised nothing (a
    reviewer of the hold)."""

    def vitals_at(hour: int, rng: random.Random) -> dict[str, Any]:
        vitals = normal(rng)
        if hour < 12:
            x = 75 + rng.gauss(0, 3)
        elif hour < 24:
            x = 75 + (hour - 12) / 12 * 47 + rng.gauss(0, 4)
        elif hour < 48:
            x = min(125, 120 + rng.gauss(0, 3))  # NEWS2 2, never red: no alert open before
        elif hour in (52, 53):
            x = 37
        else:
            x = 46 + rng.gauss(0, 2)
        vitals["heart_rate"] = round(x)
        return vitals

    recorder = _patient(HOUR, 72, vitals_at)
    news = _news2(recorder, "heart_rate")
    told = [hour for hour, status, sub in news if status in ("open", "escalated") and sub == 3]
    assert 52 in told or 53 in told, news


def _spo2_patient(seed: int, minutes: int, spo2_at: Callable[[int, random.Random], float]) -> Recorder:
    def vitals_at(minute: int, rng: random.Random) -> dict[str, Any]:
        vitals = normal(rng)
        vitals["spo2"] = min(100, round(spo2_at(minute, rng)))
        return vitals

    return _by_minute(seed, minutes, vitals_at)


FALL = 6 * 60 + 2 * 24 * 60  # after six hours at 97 and two days at 94 (NEWS2 1, learned)


def test_a_second_drop_a_quarter_of_an_hour_after_recovering_is_told_at_once() -> None:
    """An SpO2 of 89 for four hours, 94 for fifteen minutes, then 88-89
    again: the second drop is told within minutes, as a new alert was
    before the hold (a second reviewer found it untold for an hour)."""

    def spo2_at(minute: int, rng: random.Random) -> float:
        if minute < 360:
            return 97 + rng.gauss(0, 0.6)
        if FALL <= minute < FALL + 240 or FALL + 255 <= minute < FALL + 295:
            return 88.7 + rng.gauss(0, 0.5)
        return 94 + rng.gauss(0, 0.7)

    for seed in (1, 2, 3):
        recorder = _spo2_patient(seed, FALL + 360, spo2_at)
        second = T0 + (FALL + 255) * MINUTE
        told = [
            e
            for e in recorder.events
            if e["kind"] == "news2"
            and second <= e["_ts"] <= second + 10 * MINUTE
            and (e["status"] == "open" or "spo2" in e["evidence"].get("newly", ()))
        ]
        assert told, seed


def test_a_normal_lived_at_before_the_alert_does_not_hold_it() -> None:
    """Two days at an SpO2 of 94 (learned before any alert), then 89 for
    half an hour, then 94 again: the alert resolves within the hour, as
    before the hold (which held it a day, reminding)."""

    def spo2_at(minute: int, rng: random.Random) -> float:
        if minute < 360:
            return 97 + rng.gauss(0, 0.6)
        if FALL <= minute < FALL + 30:
            return 89 + rng.gauss(0, 0.5)
        return 94 + rng.gauss(0, 0.7)

    for seed in (1, 2, 3):
        recorder = _spo2_patient(seed, FALL + 6 * 60, spo2_at)
        news = [e for e in recorder.events if e["kind"] == "news2"]
        assert [e["status"] for e in news][:1] == ["open"], seed
        resolved = [e["_ts"] for e in news if e["status"] == "resolved"]
        assert resolved and resolved[0] <= T0 + (FALL + 90) * MINUTE, (seed, news)
        assert not any("not_recovered" in e["evidence"] for e in news)


def test_charted_values_about_a_red_edge_do_not_escalate_again_and_again() -> None:
    """Charted hourly for a fortnight: an SpO2 fallen from 97 to 90 +- 1.3
    and staying there. Its 92s between 90s are no recovery: a second
    reviewer counted 36 escalations over five seeds (none before the hold)."""

    def vitals_at(hour: int, rng: random.Random) -> dict[str, Any]:
        vitals = normal(rng)
        if hour >= 8:
            vitals["spo2"] = round(90 + rng.gauss(0, 1.3))
        return vitals

    escalations = 0
    for seed in range(1, 6):
        recorder = _read(Recorder(), random.Random(seed), HOUR, range(14 * 24), vitals_at)
        escalations += sum(e["kind"] == "news2" and e["status"] == "escalated" for e in recorder.events)
    assert escalations <= 10


def _slide(vital: str, start: float, end: float, seed: int, hours: int = 20) -> Recorder:
    """A patient read every minute by one monitor: six hours at the usual
    values, then `vital` sliding from `start` to `end` over eight hours (a
    straight line, with a reading's noise), and held there until `hours`."""
    rng, recorder = random.Random(seed), Recorder()
    noise = {"systolic_bp": 4.0, "respiratory_rate": 1.0, "heart_rate": 2.0}[vital]
    for minute in range(hours * 60):
        vitals = normal(rng)
        part = min(max((minute - 6 * 60) / (8 * 60), 0.0), 1.0)
        vitals[vital] = round(start + part * (end - start) + rng.gauss(0, noise))
        before = len(recorder.events)
        recorder.read(T0 + minute * MINUTE, vitals)
        for e in recorder.events[before:]:
            e["_ts"] = T0 + minute * MINUTE
    return recorder


def test_a_slide_into_red_over_eight_hours_is_told_by_news2() -> None:
    # An outside tester's patients, one vital each sliding over 8 hours into
    # NEWS2's red range: nothing at all was told. The learned normal, a few
    # hours old, followed the slide into a band NEWS2 scores (a systolic of
    # 93, a breathing rate of 24.6, a pulse of 43), and a red value beside a
    # normal that scores was taken for the patient's own; the normal as
    # established at admission (115, 18.6, 55) scores nothing.
    for vital, start, end in (("systolic_bp", 122, 84), ("respiratory_rate", 16, 27), ("heart_rate", 72, 38)):
        for seed in (1, 2):
            recorder = _slide(vital, start, end, seed)
            learned = {vital: recorder.state.baselines[vital].mean}
            assert news2.score(learned).subscores[vital] > 0  # the learned normal followed, as it did
            news = _news2(recorder, vital)
            opened = [hour for hour, status, sub in news if status == "open" and sub == 3]
            assert opened and opened[0] <= 14, (vital, seed, news)  # told as it turned red
            # ... and open at the end, red values still coming: a resolution was followed by a reopening.
            assert news[-1][1] != "resolved", (vital, seed, news)


def test_an_alert_a_slide_into_red_opened_stays_open_once_the_learning_remembers_a_day() -> None:
    # A reviewer: the breathing rate's alert opened at 11 hours, and at 31.6
    # hours, when the learning's memory filled (a day since a drift adopted
    # at 7.5 hours), resolved with the rate at 27, then nothing for 40 hours.
    # Its finding, a monitored rise, carried no mark of the rate's red, and
    # a full memory asks the normal as established only for a marked part.
    for seed in (3, 4):
        recorder = _slide("respiratory_rate", 16, 27, seed, hours=40)
        news = _news2(recorder, "respiratory_rate")
        assert news and news[0][1] == "open", (seed, news)
        assert [e for e in news if e[1] == "resolved"] == [], (seed, news)


def _sepsis(every: int, seed: int) -> Recorder:
    """An outside tester's slow sepsis, read every `every` ms by one device:
    six hours at the usual values, then over ten hours a pulse from 75 to
    116, breathing from 16 to 22.5, a systolic from 122 to 104 and a
    temperature from 36.8 to 38.6 (each amber at most: NEWS2 6-7 at the
    end), held until 40 hours: past the day the learning's memory holds."""
    rng, recorder = random.Random(seed), Recorder()

    def at(minute: int, start: float, end: float) -> float:
        return start + min(max((minute - 360) / 600, 0.0), 1.0) * (end - start)

    for ts in range(T0, T0 + 40 * HOUR, every):
        m = (ts - T0) // MINUTE
        systolic = at(m, 122, 104)
        vitals = {
            "heart_rate": round(at(m, 75, 116) + rng.gauss(0, 2)),
            "respiratory_rate": round(at(m, 16, 22.5) + rng.gauss(0, 0.7)),
            "spo2": min(100, round(96 + rng.gauss(0, 0.5))),
            "systolic_bp": round(systolic + rng.gauss(0, 4)),
            "diastolic_bp": round(systolic * 0.62 + rng.gauss(0, 2)),
            "temperature": round(at(m, 36.8, 38.6) + rng.gauss(0, 0.05), 1),
            "consciousness": "A",
        }
        before = len(recorder.events)
        recorder.read(ts, vitals)
        for e in recorder.events[before:]:
            e["_ts"] = ts
    return recorder


def test_a_news2_alert_of_ambers_does_not_resolve_in_the_medium_band_as_the_normal_learns_them() -> None:
    # The tester's slow sepsis: the NEWS2 alert resolved with the score at 5
    # or 6 (the medium band, an urgent review), at every cadence from one
    # reading a minute to one an hour, and opened again minutes to hours
    # later. Each scoring value was amber and within 2.5 SDs of a normal
    # learned from the sepsis itself, a few hours old, so none counted; and
    # (a reviewer) held so, it resolved at 5-6 once the memory held a day.
    for every in (MINUTE, 5 * MINUTE, 15 * MINUTE, HOUR):
        for seed in (1, 2, 3):
            recorder = _sepsis(every, seed)
            news = [e for e in recorder.events if e["kind"] == "news2"]
            assert news, (every, seed)
            at_medium = [
                ((e["_ts"] - T0) / HOUR, e["evidence"]["score"])
                for e in news
                if e["status"] == "resolved" and e["evidence"]["score"] >= 5
            ]
            assert at_medium == [], (every, seed, at_medium)
            assert news[-1]["status"] != "resolved", (every, seed)  # open at the end, the sepsis lasting


def test_a_pulse_flickering_about_the_red_edge_is_one_alert_not_an_escalation_every_half_hour() -> None:
    # A reviewer's patient: a pulse of 55-62 at admission, then 38-44 for a
    # day, read every 5 minutes. Measured from the normal as established
    # (58), the red values hold the alert open; each stretch of 41-44 long
    # enough for a resolution's wait took the red mark off (its recent level
    # scored 1), and the next 38-40 was told as `escalated`, newly at its
    # worst: 42 times in 48 hours. A recent level within a pulse's noise of
    # red (5/min) is no recovery.
    rng, recorder = random.Random(5), Recorder()
    for i in range(24 * 12):
        vitals = normal(rng)
        vitals["heart_rate"] = round(rng.uniform(55, 62) if i < 9 else rng.uniform(38, 44.99))
        before = len(recorder.events)
        recorder.read(T0 + i * 5 * MINUTE, vitals)
        for e in recorder.events[before:]:
            e["_ts"] = T0 + i * 5 * MINUTE
    news = _news2(recorder, "heart_rate")
    assert news and news[0][1] == "open"
    assert [status for _, status, _ in news].count("escalated") <= 2, news


def test_a_value_back_just_short_of_red_does_not_resolve_the_alert_its_red_opened() -> None:
    # A reviewer's patients: a systolic sliding from 122 to 91 (then 87-95)
    # charted hourly opened, resolved and opened again three times in a
    # day, each 91-95 a resolution and each 86-89 a new alert; a breathing
    # rate sliding to 24.5 read every 5 minutes, four times in five hours.
    # A part told red stays so while within a reading's noise of red.
    rng, recorder = random.Random(2), Recorder()
    for hour in range(36):
        vitals = normal(rng)
        part = min(max((hour - 4) / 6, 0.0), 1.0)
        vitals["systolic_bp"] = round(122 + part * (91 - 122) + rng.gauss(0, 4))
        before = len(recorder.events)
        recorder.read(T0 + hour * HOUR, vitals)
        for e in recorder.events[before:]:
            e["_ts"] = T0 + hour * HOUR
    news = _news2(recorder, "systolic_bp")
    assert [status for _, status, _ in news].count("open") == 1, news


def _minutes(hours: int, vitals_at: Callable[[float, random.Random], dict[str, Any]]) -> Recorder:
    """Read every minute for `hours`, `vitals_at(hour, rng)` each time; each
    event stamped with its reading's time (`_ts`)."""
    rng, recorder = random.Random(4), Recorder()
    for ts in range(T0, T0 + hours * HOUR, MINUTE):
        before = len(recorder.events)
        recorder.read(ts, vitals_at((ts - T0) / HOUR, rng))
        for e in recorder.events[before:]:
            e["_ts"] = ts
    return recorder


def test_a_new_medium_score_after_a_high_alert_is_back_near_red_is_told_at_once() -> None:
    # A third reviewer: NEWS2 8 (a systolic of 85-90, breathing 25-27, a
    # pulse of 112-118), then the systolic at 91-95 alone (NEWS2 2): held
    # open as near red, the alert, told high, took the NEWS2 6 that came at
    # 20 hours (breathing 21-24, a pulse of 112-120) for less than it had
    # told, and said nothing until a reminder 13 hours later.
    def vitals_at(hour: float, rng: random.Random) -> dict[str, Any]:
        vitals = normal(rng)
        if 2 <= hour < 17.5:
            vitals.update(systolic_bp=rng.randint(85, 90), respiratory_rate=rng.randint(25, 27))
            vitals["heart_rate"] = rng.randint(112, 118)
        elif hour >= 17.5:
            vitals["systolic_bp"] = rng.randint(91, 95)
        if hour >= 20:
            vitals.update(respiratory_rate=rng.randint(21, 24), heart_rate=rng.randint(112, 120))
        return vitals

    news = [e for e in _minutes(24, vitals_at).events if e["kind"] == "news2"]
    told = [
        (e["_ts"] - T0) / HOUR
        for e in news
        if e["status"] in ("open", "escalated") and e["severity"] == "medium"
    ]
    assert any(20 <= hour <= 20.5 for hour in told), [((e["_ts"] - T0) / HOUR, e["status"]) for e in news]


def test_a_pulse_back_near_red_is_held_a_day_at_most() -> None:
    # The reviewer's recovery: a pulse of 36-40, then 43-47 for days; held
    # as near red, its alert never resolved (a reminder a day).
    def vitals_at(hour: float, rng: random.Random) -> dict[str, Any]:
        vitals = normal(rng)
        vitals["heart_rate"] = (
            rng.randint(36, 40) if 2 <= hour < 8 else rng.randint(43, 47) if hour >= 8 else 72
        )
        return vitals

    news = [e for e in _minutes(40, vitals_at).events if e["kind"] == "news2"]
    resolved = [(e["_ts"] - T0) / HOUR for e in news if e["status"] == "resolved"]
    assert resolved and resolved[0] <= 27, [((e["_ts"] - T0) / HOUR, e["status"]) for e in news]


def _slow_slide(
    vital: str, start: float, end: float, every: int, seed: int, over_h: int
) -> tuple[float, Recorder]:
    """Six hours at the usual values, then `vital` sliding from `start` to
    `end` over `over_h` hours and held there a day, read every `every` ms.
    Returns the hour of the first red value and the recorder."""
    rng, recorder, first_red = random.Random(seed), Recorder(), -1.0
    noise = {"systolic_bp": 4.0, "respiratory_rate": 1.0, "heart_rate": 2.0}[vital]
    for ts in range(T0, T0 + (6 + over_h + 24) * HOUR, every):
        hour = (ts - T0) / HOUR
        vitals = normal(rng)
        part = min(max((hour - 6) / over_h, 0.0), 1.0)
        vitals[vital] = round(start + part * (end - start) + rng.gauss(0, noise))
        if first_red < 0 and news2.score({vital: vitals[vital]}).subscores[vital] == 3:
            first_red = hour
        before = len(recorder.events)
        recorder.read(ts, vitals)
        for e in recorder.events[before:]:
            e["_ts"] = ts
    return first_red, recorder


def test_a_slide_into_red_slower_than_the_learnings_memory_is_told_by_news2() -> None:
    # A systolic from 122 to 84 over 30, 48 or 72 hours, charted hourly or
    # every 15 minutes: the learned normal, a day's memory, followed it into
    # NEWS2's amber bands (108 at the first red value, charted hourly), and
    # with the memory full its red values were taken for the patient's own:
    # nothing at all was told, NEWS2 included, in 10 of 12 runs. Only a
    # normal the patient was established at scores a red value as his own.
    for every, over_h in ((HOUR, 30), (HOUR, 48), (15 * MINUTE, 48), (15 * MINUTE, 72)):
        for seed in (1, 2):
            first_red, recorder = _slow_slide("systolic_bp", 122, 84, every, seed, over_h)
            news = _news2(recorder, "systolic_bp")
            news2_events = [e for e in recorder.events if e["kind"] == "news2"]
            opened = [(e["_ts"] - T0) / HOUR for e in news2_events if e["status"] == "open"]
            assert opened and opened[0] <= first_red + every / HOUR, (every, over_h, seed, first_red, news)
            assert news[-1][1] != "resolved", (every, over_h, seed, news)  # red to the end


def test_lone_red_values_while_an_alert_holds_the_part_are_no_relapse_at_any_memory() -> None:
    # A bleed (a systolic of 80 for four hours after six at 120), then 95 +- 3
    # for two days, read every minute: about one value in twenty is 90 or
    # less. Measured from the normal as established, each such value after
    # a settle was a relapse: 18 escalations on seed 3. The alert holds the
    # part (`not_recovered`); a lone red value among the usual ones is not
    # news; a run of them would be (`_stray_red`).
    escalations = 0
    for seed in (1, 2, 3):
        rng, recorder = random.Random(seed), Recorder()
        for minute in range(60 * 60):
            vitals = normal(rng)
            level = 120 if minute < 360 else 80 if minute < 600 else 95
            vitals["systolic_bp"] = round(level + rng.gauss(0, 4 if minute < 600 else 3))
            recorder.read(T0 + minute * MINUTE, vitals)
        escalations += sum(e["kind"] == "news2" and e["status"] == "escalated" for e in recorder.events)
    assert escalations <= 4  # the fall under 80 (a calling criterion), told once or twice a seed


def test_a_normal_established_at_105_does_not_make_a_systolic_of_85_the_patients_own() -> None:
    # A reviewer: a systolic established at 105 +- 4 (NEWS2 1: an amber
    # admission), from hour 24 sliding to 85 over two days, charted hourly.
    # The normal as established scored on the red value's side, so the red
    # values became the patient's own and the alert resolved at 82 hours with
    # the systolic at 85. A patient lives at red only if established in it or
    # in the band next to it (a systolic of 91-100).
    for seed in (1, 2):
        rng, recorder = random.Random(seed), Recorder()
        for ts in range(T0, T0 + 96 * HOUR, HOUR):
            hour = (ts - T0) / HOUR
            vitals = normal(rng)
            part = min(max((hour - 24) / 48, 0.0), 1.0)
            vitals["systolic_bp"] = round(105 + part * (85 - 105) + rng.gauss(0, 4))
            before = len(recorder.events)
            recorder.read(ts, vitals)
            for e in recorder.events[before:]:
                e["_ts"] = ts
        news = _news2(recorder, "systolic_bp")
        assert [s for _, s, _ in news].count("open") >= 1, (seed, news)
        assert news[-1][1] != "resolved", (seed, news)  # red to the end


def test_a_fall_from_a_normal_established_next_to_red_stays_told_while_it_lasts() -> None:
    # Admitted at a systolic of 95 +- 3 (NEWS2 2, the band next to red: his
    # 88-90s are his own), falling to 78 +- 3 on day four. The learning
    # followed the fall (its spread from 5 to 8 in five hours, its mean still
    # at 93), the red values came within 2.5 of its spreads, and they were
    # taken for his own: the alert resolved 5 hours into the fall, read every
    # minute, 15 minutes or hour, on two seeds of three. A red value, or a run
    # of them, 2.5 spreads from where he was established is a deterioration.
    for every in (MINUTE, 15 * MINUTE, HOUR):
        for seed in (1, 2, 3):
            rng, recorder = random.Random(seed), Recorder()
            for ts in range(T0, T0 + 120 * HOUR, every):
                vitals = normal(rng)
                vitals["systolic_bp"] = round((78 if ts >= T0 + 80 * HOUR else 95) + rng.gauss(0, 3))
                before = len(recorder.events)
                recorder.read(ts, vitals)
                for e in recorder.events[before:]:
                    e["_ts"] = ts
            fall = [e for e in recorder.events if e["kind"] == "news2" and e["_ts"] >= T0 + 80 * HOUR]
            assert (
                fall
                and fall[0]["status"] == "open"
                and fall[0]["_ts"] <= T0 + 80 * HOUR + max(every, 15 * MINUTE)
            ), (
                every,
                seed,
            )
            assert "resolved" not in [e["status"] for e in fall], (
                every,
                seed,
                [(e["_ts"], e["status"]) for e in fall],
            )


def test_a_slide_from_a_normal_established_next_to_red_deeper_into_red_is_told_to_the_end() -> None:
    # A pulse established at 47 +- 2 (NEWS2 1) sliding to 37 over a day,
    # and a breathing rate established at 22 +- 1 (NEWS2 2) to 28: in the
    # band next to red, so their red values were the patient's own while
    # within 2.5 of the learned spreads. Charted every 15 minutes or hourly,
    # 3 of 8 were told by nothing and the other 5 resolved while red.
    for vital, start, end, noise in (("heart_rate", 47, 37, 2), ("respiratory_rate", 22, 28, 1)):
        for every in (15 * MINUTE, HOUR):
            for seed in (1, 2):
                rng, recorder = random.Random(seed), Recorder()
                for ts in range(T0, T0 + 72 * HOUR, every):
                    vitals = normal(rng)
                    part = min(max(((ts - T0) / HOUR - 12) / 24, 0.0), 1.0)
                    vitals[vital] = round(start + part * (end - start) + rng.gauss(0, noise))
                    recorder.read(ts, vitals)
                news = [e["status"] for e in recorder.events if e["kind"] == "news2"]
                assert "open" in news and "resolved" not in news, (vital, every, seed, news)


def test_a_red_range_lived_in_is_judged_in_whole_numbers_as_news2_scores_it() -> None:
    # A septic patient charted from admission at a breathing rate of 25-30,
    # as hourly means to a decimal (MIMIC-II): his 26-27s are his own. A
    # 24.8 scores 3 as 25 does, but compared as it came it lay under the
    # range people live in, red where no one lives: an alert opened at each
    # of his lowest values (24.6-24.9) and at each 30.1-30.4, five to seven
    # after the first day, read every 15 minutes. A 33 is still no one's.
    def vitals_at(hour: int, rng: random.Random) -> dict[str, Any]:
        level, noise = (33, 0.5) if hour >= 60 else (27, 1.2)
        return {**normal(rng), "respiratory_rate": round(level + rng.gauss(0, noise), 1)}

    for every in (15 * MINUTE, HOUR):
        for seed in (1, 2, 3):
            recorder = _read(Recorder(), random.Random(seed), every, range(66), vitals_at)
            news = [e for e in recorder.events if e["kind"] == "news2"]
            onsets = [e["_ts"] for e in news if e["status"] in ("open", "escalated")]
            lived = [t for t in onsets if T0 + 24 * HOUR <= t < T0 + 60 * HOUR]
            assert lived == [], (every, seed, [(t - T0) / HOUR for t in lived])
            told = [t for t in onsets if T0 + 60 * HOUR <= t <= T0 + 60 * HOUR + max(every, 30 * MINUTE)]
            assert told, (every, seed)


def test_a_run_into_red_from_a_normal_established_next_to_it_is_held_while_it_lasts() -> None:
    # Established at a systolic of 95 +- 3 (NEWS2 2, next to red): a slide to
    # 80 over a day, or over three, read every minute or 15 minutes. Its
    # alert opened once the run was 2.5 established spreads deep (spread 5)
    # and resolved whenever the recent level wandered back above that edge,
    # the values still red, and opened again later. Once told, the run
    # lasts while its recent level is a spread deep: no resolution once the
    # slide is 1.5 spreads down.
    def slide(hours: int) -> Callable[[int, random.Random], dict[str, Any]]:
        def vitals_at(hour: int, rng: random.Random) -> dict[str, Any]:
            level = 95 - 15 * min(max(hour - 24, 0), hours) / hours
            return {**normal(rng), "systolic_bp": round(level + rng.gauss(0, 3))}

        return vitals_at

    for hours in (24, 72):
        for every in (MINUTE, 15 * MINUTE):
            for seed in (1, 2, 3):
                recorder = _read(Recorder(), random.Random(seed), every, range(24 + hours + 12), slide(hours))
                news = [(e["_ts"], e["status"]) for e in recorder.events if e["kind"] == "news2"]
                opened = [t for t, status in news if status == "open" and t >= T0 + 24 * HOUR]
                assert opened, (hours, every, seed)
                deep = T0 + (24 + hours // 2) * HOUR  # the slide 7.5 mmHg down: 1.5 established spreads
                resolved = [
                    (t - T0) / HOUR for t, status in news if status == "resolved" and t > max(opened[0], deep)
                ]
                assert resolved == [], (hours, every, seed, resolved)


def test_a_fall_deep_into_red_charted_hourly_is_told_at_its_second_value() -> None:
    # Charted hourly at a systolic of 98 +- 5 for a day (NEWS2 2, next to
    # red), then wider, +- 8, for a day and a half (the learned spread
    # widens to 8-9), then 80 +- 3 from hour 60, an SpO2 read every 15
    # minutes between. The 80s lie within 2.5 learned spreads, so they were
    # the patient's own until the recent level, about five charted values,
    # had followed them: told at the third or fourth value on 3 seeds of
    # these 10, at none within four hours on one. Two values in a row 2.5
    # established spreads under are a run.
    told = []
    for seed in range(1, 11):
        rng, recorder = random.Random(seed), Recorder()
        for ts in range(T0, T0 + 64 * HOUR, 15 * MINUTE):
            hour = (ts - T0) // HOUR
            vitals: dict[str, Any] = {"spo2": round(97 + rng.gauss(0, 0.6))}
            if not (ts - T0) % HOUR:
                vitals = normal(rng)
                del vitals["spo2"]
                spread = 5 if hour < 24 else 8
                vitals["systolic_bp"] = round(
                    80 + rng.gauss(0, 3) if hour >= 60 else 98 + rng.gauss(0, spread)
                )
            before = len(recorder.events)
            recorder.read(ts, vitals)
            for e in recorder.events[before:]:
                e["_ts"] = ts
        fall = [
            e["_ts"]
            for e in recorder.events
            if e["kind"] == "news2" and e["status"] in ("open", "escalated") and e["_ts"] >= T0 + 60 * HOUR
        ]
        if fall:
            told.append((seed, (fall[0] - T0) / HOUR))
    assert len(told) >= 8 and all(hour <= 61 for _, hour in told), told


def test_a_slow_breathing_rate_is_not_held_by_a_fast_one() -> None:
    """A breathing rate of 7 (red on the slow side), then 13, 15, 23, 14,
    14, 23, charted hourly (a PhysioNet 2012 stay, an outside tester): the
    23s, near the fast side's red (25), held the alert open with reminders
    saying `not_recovered: respiratory_rate` until nine hours on. Near red is
    near the red the alert told; with 20 in place of each 23 (the same
    score) it resolved at once."""
    rates = [14, 15, 14, 16, 14, 15, 14, 15, 7, 13, 15, 23, 14, 14, 23, 14, 11, 14, 17, 15]
    results = {}
    for fast in (23, 20):
        recorder = Recorder()
        for hour, rate in enumerate(rates):
            vitals = {"heart_rate": 95, "systolic_bp": 120, "respiratory_rate": fast if rate == 23 else rate}
            recorder.read(T0 + hour * HOUR, vitals, "chart")
        news = [e for e in recorder.events if e["kind"] == "news2"]
        assert not any("not_recovered" in e["evidence"] for e in news)
        results[fast] = [(e["event_time"], e["status"]) for e in news]
    assert [status for _, status in results[23]] == ["open", "resolved"]
    assert results[23] == results[20]
