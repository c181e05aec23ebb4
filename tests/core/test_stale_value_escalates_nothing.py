"""A value from an earlier reading is no news at a later one: an open
`anomaly` holds on another vital's latest value at a reading without it
(`_far_elsewhere`: a patient read by several devices), but never escalates
on it. On a real PhysioNet 2012 ICU stay an SpO2 of 87 was charted once, at
15:16, during the SpO2's warm-up (no anomaly then; NEWS2 told it). A low
anomaly about a fever opened at 15:48, and at the rounds at 16:48 and 17:58,
which carried no SpO2 and no fever, the 87 escalated it to `medium`, twice,
with the same evidence (an outside tester, 2026-12-06)."""

from __future__ import annotations

import random
from typing import Any

from app.core import patient as core
from app.core import state as patient_state
from app.core.records import reading_id

T0 = 1_767_600_000_000
MINUTE, HOUR = 60_000, 3_600_000


def _chart(
    seed: int, lone_hour: int, fever: range, afebrile: int
) -> list[tuple[int, dict[str, Any], dict[str, Any]]]:
    """Hourly rounds (no SpO2) of a stable adult, a fever (37.9) over the
    rounds of `fever` but `afebrile`'s; an SpO2 charted on its own at a
    quarter past every fourth hour (97-98), and at `lone_hour` an 85, the
    last. Every event with its reading's time and vitals."""
    rng = random.Random(seed)
    state, events = patient_state.PatientState(), []
    seq = 0

    def read(ts: int, vitals: dict[str, Any]) -> None:
        nonlocal seq
        reading = {"id": reading_id("chart", seq), "seq": seq, "ts": ts, "vitals": vitals}
        seq += 1
        events.extend((ts, vitals, e) for e in core.process(state, "p-chart-2", "chart", reading).events)

    for hour in range(lone_hour + 10):
        feverish = hour in fever and hour != afebrile
        read(
            T0 + hour * HOUR,
            {
                "heart_rate": round(80 + rng.gauss(0, 3)),
                "systolic_bp": round(120 + rng.gauss(0, 5)),
                "respiratory_rate": 16,
                "temperature": round((37.9 if feverish else 36.8) + rng.gauss(0, 0.1), 1),
                "consciousness": "A",
            },
        )
        if hour % 4 == 0 and hour < lone_hour:
            read(T0 + hour * HOUR + 15 * MINUTE, {"spo2": round(97.5 + rng.gauss(0, 0.5))})
        if hour == lone_hour:
            read(T0 + hour * HOUR + 15 * MINUTE, {"spo2": 85})
    return events


def _told(events: list[tuple[int, dict[str, Any], dict[str, Any]]]) -> list[tuple[int, str, list[str], bool]]:
    """The anomaly's openings and escalations: (hour, status, the vitals cited,
    whether each was in the reading told at)."""
    return [
        (
            (ts - T0) / HOUR,
            e["status"],
            sorted(e["evidence"]["vitals"]),
            e["evidence"]["vitals"].keys() <= vitals.keys(),
        )
        for ts, vitals, e in events
        if e["kind"] == "anomaly" and e["status"] in ("open", "escalated")
    ]


def test_a_lone_spo2_charted_in_warm_up_escalates_no_anomaly_at_later_rounds() -> None:
    """The reproducer's shape: the 85 is the SpO2's eighth value (warm-up:
    no anomaly of its own), a fever's low anomaly open. Rounds without the
    SpO2, the fever gone for one, escalated the anomaly to medium on the 85."""
    for seed in range(4):
        events = _chart(seed, lone_hour=28, fever=range(26, 36), afebrile=31)
        told = _told(events)
        assert told and all(ok for *_, ok in told), (seed, told)
        assert not [t for t in told if "spo2" in t[2]], (seed, told)
        news2 = [ts for ts, _, e in events if e["kind"] == "news2" and e["status"] in ("open", "escalated")]
        assert T0 + 28 * HOUR + 15 * MINUTE in news2, (seed, news2)  # the safety net told the 85 when it came


def test_a_lone_spo2_told_at_its_reading_is_not_told_again_at_later_rounds() -> None:
    """A warm SpO2's 85 escalates the fever's open anomaly at its own
    reading (medium, once). The fever's rounds settle the alert back to low;
    a round without it then escalated it again on the same 85, hours old."""
    for seed in range(4):
        events = _chart(seed, lone_hour=36, fever=range(34, 46), afebrile=40)
        told = _told(events)
        assert all(ok for *_, ok in told), (seed, told)
        spo2 = [(hour, status) for hour, status, vitals, _ in told if "spo2" in vitals]
        assert spo2 == [(36.25, "escalated")], (seed, told)
