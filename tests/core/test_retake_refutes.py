"""A home cuff's re-take that clears the condition an alert opened on in the
same sitting refutes the reading it opened at: the alert resolves at the
re-take, not two cadences (a day) later. On a real home log (jscrane/BP), a
75/55 re-taken at 120/70 56 seconds later held a NEWS2 alert for two days,
and a 185/100 re-taken at 120/70 held an anomaly for a day (an outside
tester). A re-take that still shows the condition changes nothing, nor does
a reading outside the sitting, nor a patient read every minute, whose
alerts wait their usual time to resolve."""

from __future__ import annotations

import random
from typing import Any

from app.core import patient as core
from app.core import state as patient_state
from app.core.alerts import iso
from app.core.records import reading_id

DAY, HOUR, MINUTE, SECOND = 86_400_000, 3_600_000, 60_000, 1000
MIDNIGHT = 1_764_374_400_000  # 2025-11-29 00:00 UTC


class Patient:
    def __init__(self) -> None:
        self.state = patient_state.PatientState()
        self.seq = 0
        self.events: list[dict[str, Any]] = []

    def read(self, ts: int, vitals: dict[str, Any]) -> None:
        reading = {"id": reading_id("cuff-1", self.seq), "seq": self.seq, "ts": ts, "vitals": vitals}
        self.seq += 1
        self.events += core.process(self.state, "p-" + "7" * 32, "cuff-1", reading).events
        self.state = patient_state.decode(patient_state.encode(self.state))

    def of(self, kind: str) -> list[tuple[str, str]]:
        return [(e["status"], e["event_time"]) for e in self.events if e["kind"] == kind]


def home_cuff(days: int, seed: int = 3) -> tuple[Patient, int]:
    """A cuff read morning and evening for `days` days, pressures and pulse
    normal; returns the patient and the next evening's sitting time."""
    p, rng = Patient(), random.Random(seed)
    for day in range(days):
        for hour in (9, 19):
            sbp, pulse = round(120 + rng.gauss(0, 5)), round(66 + rng.gauss(0, 3))
            p.read(
                MIDNIGHT + day * DAY + hour * HOUR + rng.randint(-20, 20) * MINUTE,
                {"systolic_bp": sbp, "diastolic_bp": round(sbp * 0.62), "heart_rate": pulse},
            )
    return p, MIDNIGHT + days * DAY + 19 * HOUR


def test_a_low_reading_re_taken_normal_a_minute_later_resolves_at_the_re_take() -> None:
    p, at = home_cuff(14)
    p.read(at, {"systolic_bp": 75, "diastolic_bp": 55, "heart_rate": 64})
    assert p.of("news2") == [("open", iso(at))]
    p.read(at + 56 * SECOND, {"systolic_bp": 120, "diastolic_bp": 70, "heart_rate": 64})
    assert p.of("news2") == [("open", iso(at)), ("resolved", iso(at + 56 * SECOND))]


def test_a_high_reading_re_taken_normal_resolves_its_anomaly_at_the_re_take() -> None:
    p, at = home_cuff(14)
    p.read(at, {"systolic_bp": 185, "diastolic_bp": 100, "heart_rate": 64})
    opened = [e for e in p.events if e["status"] == "open"]
    assert opened, "a pressure of 185/100 after two weeks at 120 opens an alert"
    p.read(at + 70 * SECOND, {"systolic_bp": 121, "diastolic_bp": 72, "heart_rate": 65})
    for e in opened:
        assert ("resolved", iso(at + 70 * SECOND)) in p.of(e["kind"]), p.of(e["kind"])


def test_a_re_take_that_still_shows_the_condition_keeps_the_alert() -> None:
    p, at = home_cuff(14)
    p.read(at, {"systolic_bp": 75, "diastolic_bp": 55, "heart_rate": 64})
    p.read(at + MINUTE, {"systolic_bp": 80, "diastolic_bp": 56, "heart_rate": 66})
    p.read(at + 2 * MINUTE, {"systolic_bp": 78, "diastolic_bp": 55, "heart_rate": 65})
    assert p.of("news2") == [("open", iso(at))]


def test_a_normal_reading_after_the_sitting_waits_as_before() -> None:
    """Half an hour on is a new sitting, not a re-take: the alert resolves
    after two of the channel's cadences without the condition, as any."""
    p, at = home_cuff(14)
    p.read(at, {"systolic_bp": 75, "diastolic_bp": 55, "heart_rate": 64})
    p.read(at + 30 * MINUTE, {"systolic_bp": 120, "diastolic_bp": 70, "heart_rate": 64})
    assert p.of("news2") == [("open", iso(at))]


def test_a_low_re_take_opens_and_a_normal_third_resolves() -> None:
    """The re-take is the low one: the alert opens there, and the sitting's
    third reading, back to normal, refutes it."""
    p, at = home_cuff(14)
    p.read(at, {"systolic_bp": 118, "diastolic_bp": 72, "heart_rate": 64})
    p.read(at + MINUTE, {"systolic_bp": 76, "diastolic_bp": 54, "heart_rate": 64})
    p.read(at + 2 * MINUTE, {"systolic_bp": 117, "diastolic_bp": 71, "heart_rate": 64})
    assert p.of("news2") == [("open", iso(at + MINUTE)), ("resolved", iso(at + 2 * MINUTE))]


def test_a_monitor_read_every_minute_waits_to_resolve() -> None:
    """Read every minute there are no sittings: a saturation of 88 for a few
    minutes, then 97, keeps its alert open for the usual wait (flapping is
    damped), not resolved at the first normal value."""
    p, rng = Patient(), random.Random(5)
    start = MIDNIGHT + 8 * HOUR
    for i in range(240):
        p.read(start + i * MINUTE, {"heart_rate": round(72 + rng.gauss(0, 2)), "spo2": 97})
    at = start + 240 * MINUTE
    for i in range(4):
        p.read(at + i * MINUTE, {"heart_rate": 72, "spo2": 88})
    p.read(at + 4 * MINUTE, {"heart_rate": 72, "spo2": 97})
    assert [s for s, _ in p.of("news2")] == ["open"]
