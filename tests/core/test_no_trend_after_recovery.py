"""A patient who has recovered is not told a `trend` about the episode just
over: two hours at a heart rate of 130, SpO2 92 and a breathing rate of 26
(NEWS2 high), then back to 75, 97 and 16 for good. NEWS2 and the anomaly
resolve; an hour later, charted every 15 minutes, a `trend` "heading for
131/min" opened with a smoothed `level` of 128 while the heart rate read 75,
and with a second monitor reading 60 s after the first it opened at the
first reading after NEWS2 resolved (an outside tester, reading alerts as a
consumer would). Nor is it told the episode's drifts when its pressure then
eases: a `trend` "several vitals drifting" opened on the systolic's drift
after the recovery, naming the heart rate "drifted to" 131 while it read 75."""

from __future__ import annotations

import random
from typing import Any

from app.core import patient as core
from app.core import state as patient_state
from app.core.records import reading_id

MINUTE = 60_000
T0 = 1_764_000_000_000
EPISODE = ("heart_rate", "spo2", "respiratory_rate")


def _episode(
    seed: int,
    cadence_min: int,
    normal_before: int,
    bad: int,
    after: int,
    devices: int = 1,
    pressure_after: int = 120,
) -> tuple[list[dict[str, Any]], int]:
    """One patient charted every `cadence_min` minutes: `normal_before`
    readings at their normal, `bad` at NEWS2 high, `after` back at the
    normal (the systolic pressure at `pressure_after`); with `devices` 2, a
    second monitor reads the same values (its heart rate one more) 60 s
    after the first. The events, and the event time the values went back."""
    rng = random.Random(seed)
    state = patient_state.PatientState()
    events: list[dict[str, Any]] = []
    seqs = [0, 0]
    plan = (
        [(75, 97, 16, 120)] * normal_before
        + [(130, 92, 26, 120)] * bad
        + [(75, 97, 16, pressure_after)] * after
    )
    for i, (hr, spo2, rr, sbp) in enumerate(plan):
        vitals: dict[str, Any] = {
            "heart_rate": round(hr + rng.gauss(0, 3)),
            "spo2": min(100, round(spo2 + rng.gauss(0, 0.7))),
            "respiratory_rate": round(rr + rng.gauss(0, 1)),
            "systolic_bp": round(sbp + rng.gauss(0, 5)),
            "temperature": 37.0,
            "consciousness": "A",
            "on_oxygen": False,
        }
        ts = T0 + i * cadence_min * MINUTE
        for device in range(devices):
            name = f"monitor-{device + 1}"
            values = {**vitals, "heart_rate": vitals["heart_rate"] + device}
            reading = {"id": reading_id(name, seqs[device]), "seq": seqs[device], "ts": ts + device * MINUTE}
            seqs[device] += 1
            outcome = core.process(state, "p-" + "4" * 32, name, {**reading, "vitals": values})
            events += [{**e, "_ts": ts + device * MINUTE} for e in outcome.events]
    return events, T0 + (normal_before + bad) * cadence_min * MINUTE


def _opened_after(events: list[dict[str, Any]], kind: str, since: int) -> list[dict[str, Any]]:
    return [e for e in events if e["kind"] == kind and e["status"] == "open" and e["_ts"] >= since]


def test_no_trend_heading_for_danger_opens_once_the_values_are_back() -> None:
    for seed in range(10):
        for devices in (1, 2):
            events, back = _episode(seed, 15, 32, 8, 16, devices)
            assert any(e["kind"] == "news2" and e["status"] == "open" for e in events), (seed, devices)
            late = _opened_after(events, "trend", back)
            assert late == [], (seed, devices, [e["evidence"] for e in late])


def test_the_episodes_drifts_open_no_trend_once_their_values_are_back() -> None:
    for seed in range(6):
        events, back = _episode(seed, 5, 96, 12, 36, pressure_after=105)
        held = {
            e["evidence"]["vital"]
            for e in events
            if e["kind"] == "baseline_drift"
            and e["evidence"].get("held") == "unsafe_level"
            and e["_ts"] < back
        }
        assert set(EPISODE) <= held, (seed, held)  # the episode's drifts were seen, none adopted
        for trend in _opened_after(events, "trend", back):
            named = {name for name, v in trend["evidence"]["vitals"].items() if "drifted_at" in v}
            assert not named & set(EPISODE), (seed, trend["evidence"])
