"""Time, not counts (issue 13, item 2): the same detector at one reading a
second, a minute, an hour and a day. Warm-up, trend, confirmation,
resolution, reminders and NEWS2 freshness follow each channel's cadence."""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from app.core import patient as core
from app.core import state as patient_state
from app.core.model import Baseline
from app.core.records import reading_id
from tests.core.readings import normal, wrist

T0 = 1_764_435_600_000
SECOND, MINUTE, HOUR, DAY = 1000, 60_000, 3_600_000, 86_400_000
# cadence -> readings of the patient's normal before anything happens (about a
# day, at least 60 readings, at most 3 hours at 1/s to keep the test fast)
CADENCES = {SECOND: 3 * 3600, MINUTE: 24 * 60, HOUR: 48, DAY: 60}


SICK = {"heart_rate": 128, "respiratory_rate": 26, "spo2": 93, "systolic_bp": 98}  # NEWS2 9: high


class Patient:
    def __init__(self) -> None:
        self.state = patient_state.PatientState()
        self.seq = 0
        self.events: list[dict[str, object]] = []

    def read(self, ts: int, vitals: dict[str, object]) -> list[dict[str, object]]:
        reading = {"id": reading_id("dev-1", self.seq), "seq": self.seq, "ts": ts, "vitals": vitals}
        self.seq += 1
        out = core.process(self.state, "p-subject-1", "dev-1", reading).events
        self.events += out
        return out


def statuses(events: list[dict[str, object]], kind: str) -> list[object]:
    return [e["status"] for e in events if e["kind"] == kind]


@pytest.mark.parametrize("cadence", list(CADENCES), ids=["1s", "1min", "1h", "1day"])
def test_same_detector_at_any_cadence(cadence: int) -> None:
    rng = random.Random(cadence % 97)
    p = Patient()
    n = CADENCES[cadence]
    for i in range(n):
        p.read(T0 + i * cadence, normal(rng))
    assert [e for e in p.events if e["kind"] != "baseline_drift"] == [], "a stable patient alerted"
    # A deterioration lasting six hours or twelve readings, whichever is longer.
    sick_for = max(6 * HOUR // cadence, 12)
    onset = n
    for i in range(onset, onset + sick_for):
        p.read(T0 + i * cadence, dict(SICK))
    news = [e for e in p.events if e["kind"] == "news2"]
    assert news and news[0]["status"] == "open" and news[0]["severity"] == "high"
    opened_at = T0 + onset * cadence
    # Opens at once (two vitals moved): no wait for a later reading. Read
    # more often than the confirmation delay (15 s), it holds for the delay
    # like any other finding: confirming costs seconds there.
    confirm = core.Config().confirm_ms
    assert news[0]["event_time"] == core_iso(opened_at + (confirm if cadence < confirm else 0))
    reminders = statuses(news, "news2").count("reminder")
    duration = sick_for * cadence
    assert reminders <= duration // core.Config().renotify_ms  # at most every renotify interval ...
    assert reminders <= sick_for // 3  # ... and not at every reading
    for i in range(onset + sick_for, onset + sick_for + max(40, 15 * MINUTE // cadence)):
        p.read(T0 + i * cadence, normal(rng))
    news = [e for e in p.events if e["kind"] == "news2"]
    assert news[-1]["status"] == "resolved"
    resolved_after = iso_ms(news[-1]["event_time"]) - (T0 + (onset + sick_for) * cadence)
    # Gone for ten minutes, or for two cadences when readings are further apart
    # (the third reading without the condition).
    resolve_after = core.Config().resolve_after_ms
    if 2 * cadence >= resolve_after:
        assert resolved_after == 2 * cadence
    else:
        assert resolve_after <= resolved_after <= resolve_after + cadence
    assert statuses(news, "news2").count("open") == 1


@pytest.mark.parametrize("cadence", [MINUTE, HOUR, DAY], ids=["1min", "1h", "1day"])
def test_one_abnormal_spot_reading_opens_without_waiting_for_the_next(cadence: int) -> None:
    """One vital scoring 3 (SpO2 90): on a monitor (one a minute) a second
    reading confirms it; on charted or home data it opens at once instead of
    waiting an hour (or a day) for the next value."""
    rng = random.Random(3)
    p = Patient()
    n = 60
    for i in range(n):
        p.read(T0 + i * cadence, normal(rng))
    first = p.read(T0 + n * cadence, {**normal(rng), "spo2": 90})
    opened = [e for e in first if e["kind"] == "news2" and e["status"] == "open"]
    if cadence == MINUTE:  # a sudden step on one channel is held back a reading, then confirmed
        assert opened == []
        second = p.read(T0 + (n + 1) * cadence, {**normal(rng), "spo2": 90})
        assert [e for e in second if e["kind"] == "news2"] == []
        third = p.read(T0 + (n + 2) * cadence, {**normal(rng), "spo2": 90})
        assert [e["status"] for e in third if e["kind"] == "news2"] == ["open"]
    else:
        assert len(opened) == 1


def test_a_charted_value_that_crosses_a_band_at_every_other_reading_keeps_one_alert() -> None:
    """Hourly charting of a breathing rate on a NEWS2 band's edge (as in
    public ICU charts: 25, 21, 26, 20, ...): one alert that stays open while
    it comes and goes, and resolves once three charted values in a row are
    clear (two hours), instead of an opening and a resolution every other
    hour."""
    rng = random.Random(6)
    p = Patient()
    for hour in range(48):
        p.read(T0 + hour * HOUR, normal(rng))
    for hour in range(48, 58):
        p.read(T0 + hour * HOUR, {**normal(rng), "respiratory_rate": 26 if hour % 2 == 0 else 20})
    for hour in range(58, 62):
        p.read(T0 + hour * HOUR, normal(rng))
    news = [e for e in p.events if e["kind"] == "news2"]
    assert [e["status"] for e in news if e["status"] != "reminder"] == ["open", "resolved"]
    # Resolved by the third clear value after the last crossing (hour 56).
    assert news[-1]["event_time"] == core_iso(T0 + 59 * HOUR)


def test_after_a_night_without_values_an_alert_resolves_at_the_charting_pace_again() -> None:
    """Hourly charting, one SpO2 of 87, nothing for 12 hours (a patient
    off the ward), then hourly 97s: the alert resolves at the third 97,
    two hours after the first, as it would have without the gap (the gap
    stretched the channel's cadence to nearly 3 hours, and resolution
    waited two of those: the fifth 97)."""
    rng = random.Random(8)
    p = Patient()
    for hour in range(27):
        p.read(T0 + hour * HOUR, {**normal(rng), "spo2": 96})
    p.read(T0 + 27 * HOUR, {**normal(rng), "spo2": 87})
    for hour in range(40, 48):
        p.read(T0 + hour * HOUR, {**normal(rng), "spo2": 97})
    news = [e for e in p.events if e["kind"] == "news2" and e["status"] != "reminder"]
    assert [e["status"] for e in news] == ["open", "resolved"]
    assert news[-1]["event_time"] == core_iso(T0 + 42 * HOUR)


def test_a_channel_read_every_few_months_resolves_within_days_of_normal_values() -> None:
    """A pulse checked every two months or so (an outside tester's home
    log): 147 opens NEWS2; 100 three days on, 94, and 49 a week on are
    back, and the alert resolves at the first of them two days or more
    after the first, not two of the channel's cadences (four months) later
    at the next check, as it did."""
    p = Patient()
    for month in range(12):
        p.read(T0 + month * 60 * DAY, {"heart_rate": 70 + month % 3})
    sick = T0 + 12 * 60 * DAY
    p.read(sick, {"heart_rate": 147})
    for day, pulse in ((3, 100), (3.01, 94), (7, 49), (120, 72)):
        p.read(sick + int(day * DAY), {"heart_rate": pulse})
    news = [e for e in p.events if e["kind"] == "news2" and e["status"] != "reminder"]
    assert [(e["status"], e["event_time"]) for e in news] == [
        ("open", core_iso(sick)),
        ("resolved", core_iso(sick + 7 * DAY)),
    ]


def test_news2_freshness_follows_each_parameters_cadence() -> None:
    """Hourly vitals and a consciousness level charted every three hours
    (voice: NEWS2 3): one alert that stays open, not one that flaps each
    time the last consciousness value is more than an hour old."""
    rng = random.Random(4)
    p = Patient()
    for hour in range(48):
        vitals = normal(rng)
        if hour % 3:
            del vitals["consciousness"]
        elif hour >= 24:
            vitals["consciousness"] = "V"
        p.read(T0 + hour * HOUR, vitals)
    news = statuses(p.events, "news2")
    assert news.count("open") == 1 and "resolved" not in news
    assert news.count("reminder") <= 24 // 3


def test_warm_up_is_in_time_so_hourly_charting_gets_a_personal_baseline_within_a_day() -> None:
    """Hourly charting: after a day the heart rate's baseline is this
    patient's, so a jump from 60 to 105 (NEWS2 1 only) is an anomaly. With a
    warm-up of 30 readings it would take more than a day."""
    rng = random.Random(5)
    p = Patient()
    for hour in range(20):
        p.read(T0 + hour * HOUR, {**normal(rng), "heart_rate": round(60 + rng.gauss(0, 2))})
    for hour in range(20, 23):
        p.read(T0 + hour * HOUR, {**normal(rng), "heart_rate": 105})
    assert ("anomaly", "open") in [(e["kind"], e["status"]) for e in p.events]


def anomalies_on(events: list[dict[str, object]], vital: str) -> list[dict[str, object]]:
    return [
        e
        for e in events
        if e["kind"] == "anomaly" and e["status"] == "open" and vital in e["evidence"]["z"]  # type: ignore[index,operator]
    ]


def test_one_far_value_in_warm_up_does_not_blind_the_learned_part_for_a_day() -> None:
    """Hourly charting whose second SpO2 is a probe's 53 (plausible, so
    learned: warm-up learns every value). Two days later the SpO2 falls from
    97 to 92 (NEWS2 2: no NEWS2 alert) and the learned part must see it, as
    it does without the probe: on the eICU demo stay this one value made a
    spread of 12-15 that hid every later fall for a day."""
    for probe in (None, 53):
        rng = random.Random(11)
        p = Patient()
        for hour in range(48):
            vitals = normal(rng)
            if hour == 1 and probe is not None:
                vitals["spo2"] = probe
            p.read(T0 + hour * HOUR, vitals)
        assert anomalies_on(p.events, "spo2") == []
        for hour in range(48, 51):
            p.read(T0 + hour * HOUR, {**normal(rng), "spo2": 92})
        found = anomalies_on(p.events, "spo2")
        assert found, f"no anomaly on the SpO2's fall (probe {probe})"
        assert found[0]["evidence"]["z"]["spo2"] <= -5  # type: ignore[index]


def test_a_fever_from_the_first_reading_is_still_learned_within_the_warm_up() -> None:
    """The warm-up's far values are winsorised, not dropped: a patient
    admitted at 39.2 C (six population SDs out) has it as their baseline
    once warmed up (NEWS2 still scores it: that alarm is independent of
    anything learned)."""
    rng = random.Random(12)
    p = Patient()
    for hour in range(24):
        p.read(T0 + hour * HOUR, {**normal(rng), "temperature": round(39.2 + rng.gauss(0, 0.1), 1)})
    assert anomalies_on(p.events, "temperature") == []
    baseline = p.state.baselines["temperature"]
    assert abs(baseline.mean - 39.2) < 0.15 and baseline.sd < 0.3


def test_the_trend_does_not_restart_at_every_charted_value() -> None:
    b = Baseline.prior("systolic_bp")
    for hour in range(12):  # hourly: falling 5 mmHg an hour
        b.track(130 - 5 * hour, T0 + hour * HOUR, 5.0, cadence_ms=HOUR)
    assert -0.12 < b.slope < -0.05  # per minute: about -5 an hour


def test_cadence_is_learned_per_channel() -> None:
    p = Patient()
    for i in range(40):
        vitals: dict[str, object] = {"heart_rate": 70}
        if i % 10 == 0:
            vitals["temperature"] = 36.8
        p.read(T0 + i * MINUTE, vitals)
    assert abs(p.state.latest["heart_rate"][2] - MINUTE) < 1000
    assert abs(p.state.latest["temperature"][2] - 10 * MINUTE) < 10_000


def core_iso(ms: int) -> str:
    from app.core.alerts import iso

    return iso(ms)


def iso_ms(text: object) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(str(text)).timestamp() * 1000)


# -- every numeric channel is learned (issue 13, item 1) ---------------------------


def test_a_custom_channel_is_learned_and_a_level_shift_is_flagged_once_then_adopted() -> None:
    """A custom channel (no catalogue prior, any scale): a step to a new level
    opens one anomaly, which resolves once the new level is adopted (a custom
    channel is not scored by NEWS2), instead of flagging the whole stretch."""
    rng = random.Random(9)
    p = Patient()
    for i in range(600):  # every 5 minutes, a step after 30 hours (a custom channel's first day is learned)
        level = 4200.0 if i < 360 else 5600.0
        vitals = {"heart_rate": round(72 + rng.gauss(0, 3)), "queue_depth": level + rng.gauss(0, 60)}
        p.read(T0 + i * 5 * MINUTE, vitals)
    anomaly = [(e["status"], e["evidence"]["vitals"]) for e in p.events if e["kind"] == "anomaly"]
    assert [s for s, _ in anomaly] == ["open", "resolved"]
    assert "queue_depth" in anomaly[0][1]
    drift = [e["evidence"] for e in p.events if e["kind"] == "baseline_drift"]
    assert drift and drift[0]["vital"] == "queue_depth" and drift[0]["adopted"] is True
    assert abs(p.state.baselines["queue_depth"].mean - 5600) < 100


def test_a_custom_channel_alarms_only_once_its_first_day_is_learned() -> None:
    """A custom channel has no prior and no known rhythm: its first values
    say little about its spread (a glucose sensor read every 5 minutes,
    flat for its first hour, then a meal: z 8.9 on a real trace,
    docs/evaluation.md). It is learned for a day (its daily profile's
    requirement) before it alarms; the same step a day later opens one
    anomaly."""
    rng = random.Random(14)

    def steps(at_h: float) -> list[str]:
        p = Patient()
        for i in range(12 * 40):  # every 5 minutes for 40 hours
            x = 100 + rng.gauss(0, 1.5) + (40.0 if at_h <= i / 12 < at_h + 1.5 else 0.0)
            p.read(T0 + i * 5 * MINUTE, {"glucose": round(x)})
        return [e["status"] for e in p.events if e["kind"] == "anomaly"]

    assert steps(at_h=3) == []  # in its first day: learned, not alarmed on
    assert steps(at_h=30)[:1] == ["open"]


def test_eight_custom_channels_are_all_learned_within_the_state_bound() -> None:
    rng = random.Random(10)
    p = Patient()
    for i in range(300):
        vitals = normal(rng)
        vitals.update({f"sensor_{j}_reading": 10.0**j + rng.gauss(0, 10.0 ** (j - 1)) for j in range(8)})
        p.read(T0 + i * MINUTE, vitals)
        assert len(patient_state.encode(p.state)) <= patient_state.MAX_STATE_BYTES
    assert sum(name.startswith("sensor_") for name in p.state.baselines) == 8
    assert [e for e in p.events if e["kind"] != "baseline_drift"] == []


# -- a forecast that knows the time of day (issue 13, item 3) -------------------------


def test_a_daily_cycle_is_forecast_so_a_value_normal_at_noon_is_anomalous_at_midnight() -> None:
    """A custom channel with a daily cycle of +-20 around 100 (noise 2),
    every 15 minutes: the cycle itself never alarms, and on day four a value
    of 118 at the cycle's trough (where 80 is expected), well inside the
    range the channel covers every day, is an anomaly."""
    import math

    rng = random.Random(12)
    p = Patient()
    step = 15 * MINUTE

    def value(t: int) -> float:
        return 100 + 20 * math.cos(2 * math.pi * (t % DAY) / DAY) + rng.gauss(0, 2)

    n = 3 * DAY // step + DAY // (2 * step)  # three and a half days: the next is the trough
    for i in range(n):
        p.read(T0 + i * step, {"load": value(T0 + i * step)})
    assert [e for e in p.events if e["kind"] == "anomaly"] == []
    baseline = p.state.baselines["load"]
    assert baseline.daily is not None and 15 < math.hypot(*baseline.daily) < 25
    trough = T0 + n * step
    angle = 2 * math.pi * (trough % DAY) / DAY
    expected = baseline.forecast(math.cos(angle), math.sin(angle), trough)
    assert abs(expected - (100 + 20 * math.cos(angle))) < 5
    out = p.read(trough, {"load": expected + 38})
    out += p.read(trough + step, {"load": expected + 38})
    assert ("anomaly", "open") in [(e["kind"], e["status"]) for e in out]


def test_a_change_in_variance_raises_one_alert_that_fades_as_the_spread_grows() -> None:
    """A custom channel whose noise goes from 2 to 10 around the same level:
    one anomaly, which resolves within a few hours once the spread has
    grown to the new one (before, only |z| < 3 was learned and learning
    never forgot, so the spread could not grow and the channel stayed
    flagged)."""
    rng = random.Random(21)
    p = Patient()
    for i in range(2 * 1440):
        p.read(T0 + i * MINUTE, {"flow": 50 + rng.gauss(0, 2 if i < 1440 else 10)})
    anomaly = [(e["status"], iso_ms(e["event_time"])) for e in p.events if e["kind"] == "anomaly"]
    assert [s for s, _ in anomaly if s in ("open", "resolved")] == ["open", "resolved"]
    assert anomaly[0][1] >= T0 + 1440 * MINUTE and anomaly[-1][1] < T0 + (1440 + 240) * MINUTE
    assert 8 < p.state.baselines["flow"].sd < 12


def test_a_wearable_read_every_second_rides_out_motion_and_still_sees_a_desaturation() -> None:
    """A wrist wearable every second: its heart rate and SpO2 come from one
    optical sensor, and moving the wrist throws both off together for a few
    seconds (SpO2 10-25 % low, the heart rate up to 40/min high). Two vitals
    off at once opened at once before (the rule for independent sensors,
    where waiting costs a reading): each burst was an anomaly and a medium
    NEWS2 alert. Read every second, an urgent finding holds for the 15 s
    confirmation like any other; a real fall of SpO2 still opens."""
    p = Patient()
    bursts = 0
    for i, vitals, _, began in wrist(random.Random(21), 2 * 3600, every_s=300, lasting_s=(5, 12)):
        bursts += began
        p.read(T0 + i * SECOND, {**vitals, "respiratory_rate": 16})
    assert bursts >= 10
    assert [e for e in p.events if e["status"] in ("open", "escalated")] == []
    start = 2 * 3600
    for i in range(start, start + 300):  # SpO2 falling 12 % over three minutes
        fall = 12 * min(1.0, (i - start) / 180)
        p.read(T0 + i * SECOND, {"heart_rate": 76, "spo2": round(97 - fall), "respiratory_rate": 16})
    opened = [e for e in p.events if e["status"] == "open"]
    assert opened and iso_ms(opened[0]["event_time"]) - (T0 + start * SECOND) <= 150 * SECOND


def _adopted_after(cadence: int) -> int:
    """Event time from a lasting heart-rate step (75 -> 88, a level NEWS2
    scores 0) to its adoption as the patient's new normal."""
    rng = random.Random(43)
    p = Patient()
    n = max(120, 2 * HOUR // cadence)  # two hours (warm at any cadence)
    for i in range(n):
        p.read(T0 + i * cadence, {**normal(rng), "heart_rate": round(rng.gauss(75, 2))})
    p.events.clear()
    for i in range(n, n + 2 * HOUR // cadence):
        p.read(T0 + i * cadence, {**normal(rng), "heart_rate": round(rng.gauss(88, 2))})
        adopted = [e for e in p.events if e["kind"] == "baseline_drift" and e["evidence"]["adopted"]]
        if adopted and adopted[0]["evidence"]["vital"] == "heart_rate":
            return (i - n) * cadence
    raise AssertionError("never adopted")


def test_a_new_normal_takes_the_same_event_time_to_adopt_at_any_cadence() -> None:
    """The drift detector counted readings: a step read every 2 s (an
    operating-room monitor) was adopted as the new normal in about a
    minute, 15 times sooner than the same step read every minute, so a heart
    rate on its way up became the normal the rest of its rise was judged
    against (VitalDB case 1: 78 -> 88 adopted 60 s into a rise to 115). Its
    evidence now counts per minute of event time."""
    every_minute = _adopted_after(MINUTE)
    assert 5 * MINUTE <= every_minute <= 30 * MINUTE  # 8 minutes, as before
    for cadence in (SECOND, 2 * SECOND, 10 * SECOND):  # before: 6, 14 and 70 s
        assert every_minute / 2 <= _adopted_after(cadence) <= every_minute * 2, cadence


def test_a_pulse_oximeters_pulse_rate_drifting_half_a_beat_is_no_news() -> None:
    """A monitor's pulse rate averaged over a minute (MIMIC-II numerics):
    64-66/min for hours. Learned as a custom channel, its spread floored at
    a thousandth of its level (0.07/min), every half-beat change was a
    drift notice: 19 in 5.8 hours, against 1 for the same values as the
    heart rate. A pulse is floored as the heart rate is (3/min); a change
    of 15/min is still a drift."""
    rng = random.Random(12)
    p = Patient()
    for i in range(6 * 60):
        level = 65.0 + (0.8 if (i // 40) % 2 else -0.8)  # a beat and a half up and down every 40 minutes
        p.read(T0 + i * MINUTE, {"pulse_rate": round(level + rng.gauss(0, 0.3), 1)})
    assert [e for e in p.events if e["kind"] == "baseline_drift"] == []
    for i in range(6 * 60, 7 * 60):
        p.read(T0 + i * MINUTE, {"pulse_rate": round(80 + rng.gauss(0, 0.3), 1)})
    drifts = [e["evidence"] for e in p.events if e["kind"] == "baseline_drift"]
    assert drifts and drifts[0]["vital"] == "pulse_rate" and drifts[0]["to"] > 75


def test_a_mean_pressure_fallen_under_65_is_a_medium_anomaly_told_at_once() -> None:
    """Charted hourly for 12 hours at 126/66 (a mean of 86), then 95/38, a
    mean of 56: NEWS2 scores the systolic 2 and nothing else, so only the
    learned part can tell it, and it told a `low` anomaly at the second low
    value. A mean arterial pressure under 65 is organs not perfused (the
    Surviving Sepsis Campaign's target): `medium`, and as a charted value
    far out, at once."""
    rng = random.Random(14)
    p = Patient()
    vitals = {"heart_rate": 88, "respiratory_rate": 16, "spo2": 97, "temperature": 37.0, "consciousness": "A"}
    for hour in range(12):
        systolic, diastolic = 126 + rng.randint(-2, 2), 66 + rng.randint(-2, 2)
        p.read(T0 + hour * HOUR, {**vitals, "systolic_bp": systolic, "diastolic_bp": diastolic,
                                  "mean_bp": round((systolic + 2 * diastolic) / 3)})  # fmt: skip
    out = p.read(T0 + 12 * HOUR, {**vitals, "systolic_bp": 95, "diastolic_bp": 38, "mean_bp": 56})
    opened = [(e["kind"], e["severity"]) for e in out if e["status"] == "open"]
    assert opened == [("anomaly", "medium")], opened


def test_a_status_repeated_with_each_vital_of_a_round_sets_no_pace() -> None:
    """An hourly round charted as three readings 6 minutes apart, each
    repeating `on_oxygen`: the oxygen is said, not read, so its 6-minute
    steps are no pace (as they are no cadence, `_patient_cadence`). Taken
    for one, an SpO2 alert resolved 12 minutes into the first normal round
    instead of at the third round (an outside review)."""
    rng = random.Random(3)
    p = Patient()

    def round_(hour: int, spo2: int) -> None:
        base = T0 + hour * HOUR
        p.read(base, {"heart_rate": 75 + rng.randint(-3, 3), "spo2": spo2, "on_oxygen": False})
        p.read(
            base + 6 * MINUTE,
            {"systolic_bp": 125 + rng.randint(-4, 4), "respiratory_rate": 15, "on_oxygen": False},
        )
        p.read(base + 12 * MINUTE, {"temperature": 36.9, "consciousness": "A", "on_oxygen": False})

    for hour in range(30):
        round_(hour, 96)
    round_(30, 87)
    for hour in (31, 32, 33):
        round_(hour, 97)
    news = [e for e in p.events if e["kind"] == "news2" and e["status"] != "reminder"]
    assert [e["status"] for e in news] == ["open", "resolved"]
    assert iso_ms(news[-1]["event_time"]) >= T0 + 33 * HOUR  # the third normal round


@pytest.mark.parametrize("vital, value", [("systolic_bp", 84), ("spo2", 88)])
def test_a_spot_value_scoring_3_opens_at_once_beside_a_wearable_read_every_5_seconds(
    vital: str, value: int
) -> None:
    """A wrist wearable sends the heart rate every 5 seconds; a cuff (or a
    finger oximeter) is read twice a day. Its red value opens NEWS2 at its
    own reading, as it does without the wearable: the wrist's motion does
    not move a cuff's or a finger probe's values, and the spot value's next
    reading is 12 hours away."""
    rng = random.Random(5)
    p = Patient()
    spot_every = 12 * HOUR
    opened_at = None
    for i in range(int(2.5 * DAY / (5 * SECOND))):
        ts = T0 + i * 5 * SECOND
        vitals: dict[str, object] = {"heart_rate": round(72 + rng.gauss(0, 3))}
        if (ts - T0) % spot_every == 0:
            normal_spot = {"systolic_bp": round(124 + rng.gauss(0, 4)), "spo2": round(97 + rng.gauss(0, 0.6))}
            vitals[vital] = value if ts - T0 == 2 * DAY else normal_spot[vital]
        events = p.read(ts, vitals)
        if opened_at is None and any(e["kind"] == "news2" and e["status"] == "open" for e in events):
            opened_at = ts - T0
    assert opened_at == 2 * DAY


@pytest.mark.parametrize("cadence", [MINUTE, 5 * MINUTE, 15 * MINUTE], ids=["1min", "5min", "15min"])
def test_a_heart_rate_climbing_50_in_100_minutes_is_told_before_news2_at_any_cadence(cadence: int) -> None:
    """Six hours at 75, then a climb to 125 over 100 minutes (a sepsis, a
    bleed), nothing else moving. Read every 5 or 15 minutes, an anomaly told
    it; read every minute, its drift was adopted at 82 and learned all the
    way up (the spread 3 to 16), and only NEWS2 told it, at a noisy 131,
    2-3 hours in. A drift still moving the way a deterioration goes is
    adopted with a memory of hours, not half an hour, and the learned part
    tells the climb by its end, before NEWS2, at every cadence."""
    for seed in (1, 2, 3):
        rng = random.Random(seed)
        p = Patient()
        first = None
        for minute in range(0, 6 * 60 + 100 + 60, cadence // MINUTE):
            vitals = normal(rng)
            climbed = min(max(minute - 360, 0) / 100, 1.0)
            vitals["heart_rate"] = round(75 + 50 * climbed + rng.gauss(0, 3))
            told = [e for e in p.read(T0 + minute * MINUTE, vitals) if e["status"] in ("open", "escalated")]
            if first is None and told:
                first = (minute - 360, told[0]["kind"])
        assert first is not None and first[1] in ("anomaly", "trend") and 0 <= first[0] <= 100, (seed, first)


def test_a_daily_scales_gain_open_for_weeks_is_reminded_of_less_and_less_often() -> None:
    """A weight climbing 0.15 kg a day, weighed each morning: its `trend`
    stays open for weeks, and its reminders back off (4, then 8 days, up to
    16 of the scale's readings apart), where they came every four days, as
    many as 14 times on a real log (an outside tester's)."""
    rng = random.Random(2)
    p = Patient()
    for day in range(80):
        weight = 80.0 + (0.15 * (day - 30) if day >= 30 else 0.0) + rng.gauss(0, 0.3)
        p.read(T0 + day * DAY + rng.randint(-20, 20) * MINUTE, {"weight": round(weight, 1)})
    episode = []
    for e in p.events:
        if e["kind"] == "trend":
            if e["status"] == "resolved":
                break
            episode.append(_ms(e["event_time"]))
    gaps = [(b - a) / DAY for a, b in zip(episode, episode[1:], strict=False)]
    assert len(gaps) >= 2 and gaps[1] >= 1.5 * gaps[0], gaps


def _ms(text: object) -> int:
    return int(datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp() * 1000)


def test_a_news2_relapse_read_twice_a_day_is_escalated_at_its_reading() -> None:
    """An outside reviewer's case against a first version, which backed off
    every kind's reminders to 16 readings: a high NEWS2 alert read twice a
    day, its SpO2 back to 96 for four days and then at 86 again, escalated
    at the 86 (a reminder re-arms what is told at its worst); with fewer
    reminders it was told only by one 84 hours on. Only a `trend` backs off
    so far."""
    p = Patient()
    for i in range(32):
        hour = 12 * i
        spo2 = 90 if hour < 156 else (96 if hour < 252 else 86)
        vitals = {
            "respiratory_rate": 26,
            "heart_rate": 115,
            "temperature": 39.2,
            "systolic_bp": 124,
            "spo2": spo2,
        }
        p.read(T0 + hour * HOUR, vitals)
    escalated = [e for e in p.events if e["kind"] == "news2" and e["status"] == "escalated"]
    assert core_iso(T0 + 252 * HOUR) in [e["event_time"] for e in escalated]


def test_a_weekly_pulse_high_at_every_third_check_is_one_flapping_alert() -> None:
    """An outside reviewer's case against the two-day cap on the wait to
    resolve: a pulse checked weekly, 140 at every third check. Its first
    resolution is two days after a normal check; the next opening is a flap,
    and a flap's wait doubles the uncapped wait (two weeks), so it is held:
    two openings, where the cap alone made three."""
    rng = random.Random(1)
    p = Patient()
    for week in range(24):
        pulse = 140 if week >= 12 and (week - 12) % 3 == 0 else rng.randint(68, 76)
        p.read(T0 + week * 7 * DAY, {"heart_rate": pulse})
    assert statuses(p.events, "news2").count("open") <= 2
