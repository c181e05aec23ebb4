"""Charted patients who sit in a NEWS2 band for days (issue 13, `charted`):
what the nurse reading `vigil.alerts` is told about them.

A sedated, ventilated patient on oxygen who responds only to pain scores 5
(medium) for the whole stay; hourly rounds, a blood gas every 4 hours, a GCS
every 3 hours."""

from __future__ import annotations

import random

from app.core import patient as core
from app.core import state as patient_state
from app.core.records import reading_id

T0 = 1_764_435_600_000
MINUTE, HOUR = 60_000, 3_600_000


class Charted:
    """A sedated, ventilated patient, charted: hourly rounds, a gas every 4 h, a GCS every 3 h."""

    def __init__(self, seed: int) -> None:
        self.state = patient_state.PatientState()
        self.rng = random.Random(seed)
        self.seq = 0
        self.events: list[dict[str, object]] = []

    def round(self, hour: int, **changes: float) -> list[dict[str, object]]:
        rng = self.rng
        vitals: dict[str, object] = {
            "heart_rate": round(84 + rng.gauss(0, 3)),
            "systolic_bp": round(120 + rng.gauss(0, 5)),
            "diastolic_bp": round(66 + rng.gauss(0, 3)),
            "respiratory_rate": 16,
            "temperature": round(37.0 + rng.gauss(0, 0.1), 1),
            "on_oxygen": True,
        }
        if hour % 4 == 0:
            vitals["spo2"] = round(97 + rng.gauss(0, 0.5))
        if hour % 3 == 0:
            vitals["consciousness"] = "P"
        vitals.update(changes)
        reading = {
            "id": reading_id("chart", self.seq),
            "seq": self.seq,
            "ts": T0 + hour * HOUR,
            "vitals": vitals,
        }
        self.seq += 1
        out = [
            e for e in core.process(self.state, "p-icu-1", "chart", reading).events if e["kind"] == "news2"
        ]
        self.events += out
        return out


def test_a_patient_sitting_in_the_medium_band_for_days_is_told_once_and_reminded_ever_less_often() -> None:
    """Three days at NEWS2 5, unchanged: the alert opens at the first round
    and stays open (the first GCS stands until the second is charted: it
    does not drop out after an hour, resolving and reopening the alert). It
    is reminded of after 4 hours (four charted readings), then 8, 16 and 24
    hours after the reminder before: 4 reminders in 3 days, not 17."""
    p = Charted(1)
    for hour in range(72):
        p.round(hour)
    told = [(e["status"], e["event_time"][8:16]) for e in p.events]
    assert told == [
        ("open", "29T17:00"),  # hour 0
        ("reminder", "29T21:00"),  # 4
        ("reminder", "30T05:00"),  # 12
        ("reminder", "30T21:00"),  # 28
        ("reminder", "01T21:00"),  # 52
    ]


def test_a_rise_to_high_after_a_flicker_to_high_is_told_again() -> None:
    """A flicker to the high band (a low pressure charted once) escalates; the
    band goes back to medium for hours; a bleed then takes the patient to
    the high band again. The nurse is told at that round, as NEWS2 on its
    own would tell her, not hours later."""
    p = Charted(2)
    for hour in range(24):
        p.round(hour)
    assert [e["status"] for e in p.round(24, systolic_bp=98)] == ["escalated"]  # NEWS2 7 (high)
    for hour in range(25, 30):
        p.round(hour)  # back to 5 (medium)
    bleed = p.round(30, heart_rate=118, systolic_bp=88)  # NEWS2 10
    assert [(e["status"], e["severity"]) for e in bleed] == [("escalated", "high")]


def test_a_score_on_the_high_bands_edge_is_one_trigger_not_one_a_round() -> None:
    """A sedated patient whose pulse and pressure wander about the edges of
    their bands scores 6, 7, 6, 6, 7 ... for a day: the nurse is told "high"
    once, then reminded ever less often; not told "escalated" at every round
    the score steps back up to 7 (a sitting patient's band edge, not a new
    emergency). Once the score has been clearly lower (5) for two rounds,
    the next 7 is news again."""
    p = Charted(3)
    for hour in range(6):
        p.round(hour)  # NEWS2 5: opens medium
    rng = random.Random(3)
    for hour in range(6, 30):
        if rng.random() < 0.5:
            p.round(hour, heart_rate=96, systolic_bp=106)  # 7
        else:
            p.round(hour, heart_rate=96)  # 6
    told = [(e["status"], e["severity"]) for e in p.events if e["status"] != "reminder"]
    assert told == [("open", "medium"), ("escalated", "high")]
    for hour in range(30, 33):
        p.round(hour, heart_rate=84, systolic_bp=120)  # 5, three rounds
    assert [(e["status"], e["severity"]) for e in p.round(33, heart_rate=96, systolic_bp=106)] == [
        ("escalated", "high")
    ]


def test_a_new_hypoxia_in_a_patient_already_high_is_told_at_that_gas() -> None:
    """Already in the high band for hours (a sedated patient scoring 7), the
    blood gas shows an SpO2 of 87 on oxygen: a parameter newly scoring 3.
    The band was high already, so the severity cannot rise; the nurse is
    told all the same, at that round, with the SpO2 in the evidence."""
    p = Charted(4)
    for hour in range(10):
        p.round(hour, heart_rate=96, systolic_bp=106)  # 7
    assert [e["status"] for e in p.events] == ["open", "reminder"]  # at hour 0, and 4
    told = p.round(12, heart_rate=96, systolic_bp=106, spo2=87)
    assert [(e["status"], e["severity"]) for e in told] == [("escalated", "high")]
    assert told[0]["evidence"]["subscores"]["spo2"] == 3  # type: ignore[index]
    assert p.round(13, heart_rate=96, systolic_bp=106) == []  # the same hypoxia is not told twice
    assert p.round(15, heart_rate=96, systolic_bp=106, spo2=87) == []


class PostOp(Charted):
    """Alert, on air; hourly rounds of heart rate, pressure, breathing rate and temperature."""

    def round(self, hour: int, **changes: float) -> list[dict[str, object]]:
        rng = self.rng
        vitals: dict[str, object] = {
            "heart_rate": round(78 + rng.gauss(0, 3)),
            "systolic_bp": round(118 + rng.gauss(0, 5)),
            "diastolic_bp": round(66 + rng.gauss(0, 3)),
            "respiratory_rate": round(15 + rng.gauss(0, 1)),
            "temperature": round(36.9 + rng.gauss(0, 0.1), 1),
            "on_oxygen": False,
        }
        vitals.update(changes)
        ts = T0 + hour * HOUR
        reading = {"id": reading_id("chart", self.seq), "seq": self.seq, "ts": ts, "vitals": vitals}
        self.seq += 1
        out = core.process(self.state, "p-icu-2", "chart", reading).events
        self.events += out
        return out

    def off(self, name: str, sds: float) -> float:
        """A value `sds` of the patient's learned SDs from its learned normal."""
        b = self.state.baselines[name]
        return round(b.mean + sds * b.sd, 1)


def test_two_charted_vitals_leaving_the_normal_together_open_an_anomaly_at_that_round() -> None:
    """Heart rate and temperature each 4 SDs up at one round (a sepsis
    starting): neither is 5 SDs off and NEWS2 scores 1, but two independent
    vitals moving together is physiology, and the next round is an hour away."""
    p = PostOp(3)
    for hour in range(16):
        p.round(hour)
    assert [e for e in p.events if e["kind"] != "baseline_drift"] == []
    out = p.round(16, heart_rate=p.off("heart_rate", 4), temperature=p.off("temperature", 4))
    assert [(e["status"], e["kind"]) for e in out] == [("open", "anomaly")]
    assert set(out[0]["evidence"]["vitals"]) == {"heart_rate", "temperature"}


def test_one_charted_vital_off_or_one_cuff_reading_off_is_not_an_alert() -> None:
    p = PostOp(4)
    for hour in range(16):
        p.round(hour)
    assert p.round(16, heart_rate=p.off("heart_rate", 4)) == []  # one vital: waits for more
    # systolic and diastolic come from the same cuff reading: they do not corroborate each other
    assert p.round(17, systolic_bp=p.off("systolic_bp", 4), diastolic_bp=p.off("diastolic_bp", 4)) == []


def test_heart_breathing_and_temperature_rising_together_are_told_by_the_second_round() -> None:
    """A sepsis starting after hour 15: at the first round after onset the
    heart rate and temperature are 1 SD up (nothing to tell); at the second,
    heart rate, breathing rate and temperature are each 2.5 SDs up. None is
    5 SDs off, no two are 3 SDs off, and NEWS2 scores none of them, but three
    independently measured vitals leaving the patient's normal at once is
    the systemic response itself: the anomaly opens at that round."""
    p = PostOp(5)
    for hour in range(16):
        p.round(hour)
    assert p.round(16, heart_rate=p.off("heart_rate", 1), temperature=p.off("temperature", 1)) == []
    out = p.round(
        17,
        heart_rate=p.off("heart_rate", 2.5),
        respiratory_rate=p.off("respiratory_rate", 2.5),
        temperature=p.off("temperature", 2.5),
    )
    assert [(e["status"], e["kind"]) for e in out] == [("open", "anomaly")]
    assert set(out[0]["evidence"]["vitals"]) == {"heart_rate", "respiratory_rate", "temperature"}


def test_two_vitals_or_one_cuff_reading_2_5_sds_off_are_not_three() -> None:
    """Two vitals 2.5 SDs off (under the two-vital rule's 3) wait; so do the
    heart rate with both pressures of one cuff reading (one measurement)."""
    p = PostOp(6)
    for hour in range(16):
        p.round(hour)
    assert p.round(16, heart_rate=p.off("heart_rate", 2.5), temperature=p.off("temperature", 2.5)) == []
    assert (
        p.round(
            17,
            heart_rate=p.off("heart_rate", 2.5),
            systolic_bp=p.off("systolic_bp", -2.5),
            diastolic_bp=p.off("diastolic_bp", -2.5),
        )
        == []
    )


def test_a_stable_charted_patient_is_not_told_more_by_the_three_vital_rule() -> None:
    """Three days of ordinary hourly rounds (charting noise only), for a few
    patients: no anomaly, no trend, nothing but their NEWS2 as before."""
    for seed in range(10, 16):
        p = PostOp(seed)
        for hour in range(72):
            p.round(hour)
        assert [e for e in p.events if e["kind"] in ("anomaly", "trend")] == [], seed


class OneAtATime:
    """A post-operative patient on oxygen, charted hourly, each round entered
    a vital at a time a minute apart, the oxygen status sent with each (as a
    chart export with a row per observation gives it)."""

    ORDER = ("heart_rate", "diastolic_bp", "systolic_bp", "respiratory_rate", "temperature")

    def __init__(self, seed: int) -> None:
        self.state = patient_state.PatientState()
        self.rng = random.Random(seed)
        self.seq = 0
        self.events: list[dict[str, object]] = []

    def round(self, hour: int, **changes: float) -> None:
        rng = self.rng
        vitals: dict[str, float] = {
            "heart_rate": round(84 + rng.gauss(0, 3)),
            "diastolic_bp": round(66 + rng.gauss(0, 3)),
            "systolic_bp": round(122 + rng.gauss(0, 4)),
            "respiratory_rate": 16,
            "temperature": round(37.0 + rng.gauss(0, 0.1), 1),
        }
        vitals.update(changes)
        for i, name in enumerate(self.ORDER):
            ts = T0 + hour * HOUR + i * MINUTE
            reading = {
                "id": reading_id("chart", self.seq),
                "seq": self.seq,
                "ts": ts,
                "vitals": {name: vitals[name], "on_oxygen": True},
            }
            self.seq += 1
            for e in core.process(self.state, "p-icu-2", "chart", reading).events:
                if e["kind"] == "news2":
                    self.events.append({**e, "_minute": (ts - T0) // MINUTE})

    def told(self) -> list[tuple[object, int]]:
        return [(e["status"], e["_minute"]) for e in self.events if e["status"] in ("open", "resolved")]


def test_a_breathing_rate_out_of_one_round_of_several_charted_a_vital_at_a_time_is_one_alert() -> None:
    """A breathing rate of 26 (3) in two rounds, 16 in the next, 26 again in
    the two after: one alert, as for rounds sent whole (a value that dips for
    one charted round is the same condition). Before, the oxygen status
    repeated with each vital (five readings a minute apart an hour) made the
    patient look read every 8 minutes: the alert resolved at the next
    round's first value, 10 minutes' wait long past, and a second opened
    three minutes later on the breathing rate."""
    chart = OneAtATime(4)
    for hour in range(30):
        chart.round(hour)
    for hour, rate in ((30, 26), (31, 26), (32, 16), (33, 26), (34, 26)):
        chart.round(hour, respiratory_rate=rate)
    assert chart.told() == [("open", 30 * 60 + 3)]
