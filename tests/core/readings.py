"""Readings for the core's tests: a stable adult's, a wrist wearable's; and a
recorder of what the core raises for one patient."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from app.core import patient as core
from app.core import state as patient_state
from app.core.records import reading_id


def normal(rng: random.Random, *, hr_sd: float = 3.0, diastolic: bool = False) -> dict[str, object]:
    """One reading's vitals around a typical adult's normal (the draws in a
    fixed order, so a seeded `rng` gives the same readings every run)."""
    vitals: dict[str, object] = {
        "heart_rate": round(72 + rng.gauss(0, hr_sd)),
        "spo2": round(97 + rng.gauss(0, 0.6)),
        "respiratory_rate": round(16 + rng.gauss(0, 1)),
        "systolic_bp": round(122 + rng.gauss(0, 4)),
    }
    if diastolic:
        vitals["diastolic_bp"] = round(76 + rng.gauss(0, 3))
    vitals["temperature"] = round(36.8 + rng.gauss(0, 0.1), 1)
    vitals["consciousness"] = "A"
    return vitals


def wrist(
    rng: random.Random, seconds: int, *, every_s: int, lasting_s: tuple[int, int], settle_s: int = 1800
) -> Iterator[tuple[int, dict[str, Any], bool, bool]]:
    """A wrist wearable read every second: its heart rate and SpO2 come from
    one optical sensor (slow random walks around 74/min and 97 %). After
    `settle_s`, a movement about every `every_s` seconds throws both off
    together for `lasting_s` seconds (SpO2 10-25 % low, the heart rate up to
    40/min high). Yields (second, vitals, moving, a movement began)."""
    hr = sp = 0.0
    until, depth = -1, 0.0
    for i in range(seconds):
        hr = 0.99 * hr + rng.gauss(0, 0.5)
        sp = 0.99 * sp + rng.gauss(0, 0.1)
        vitals: dict[str, Any] = {"heart_rate": round(74 + hr), "spo2": min(100, round(97 + sp))}
        began = i > settle_s and until < i and rng.random() < 1 / every_s
        if began:
            until, depth = i + rng.randint(*lasting_s), rng.uniform(10, 25)
        if i <= until:
            vitals["spo2"] = round(97 + sp - depth * rng.uniform(0.5, 1))
            vitals["heart_rate"] = round(74 + hr + rng.randint(0, 40))
        yield i, vitals, i <= until, began


class Recorder:
    """One patient's state and every event the core raised for it, fed a
    reading at a time (each device numbering its readings in turn)."""

    def __init__(self, subject: str = "p-" + "9" * 32) -> None:
        self.subject = subject
        self.state = patient_state.PatientState()
        self.seq = 0
        self.events: list[dict[str, Any]] = []

    def read(self, ts: int, vitals: dict[str, Any], device: str = "dev-1") -> core.Outcome:
        reading = {"id": reading_id(device, self.seq), "seq": self.seq, "ts": ts, "vitals": vitals}
        self.seq += 1
        return self.replay(reading, device)

    def replay(self, reading: dict[str, Any], device: str = "dev-1") -> core.Outcome:
        """Process `reading` as it is (a copy stored twice, say)."""
        outcome = core.process(self.state, self.subject, device, reading)
        self.events += outcome.events
        return outcome

    def onsets(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["status"] in ("open", "escalated")]


def by_minute(
    t0: int,
    minutes: Iterable[int],
    vitals_at: Callable[[int], dict[str, Any]],
    subject: str = "p-" + "9" * 32,
) -> list[dict[str, Any]]:
    """One patient read at each of `minutes` after `t0` with `vitals_at(minute)`'s
    vitals: every event the core raised, tagged with its reading's minute (`_minute`)."""
    recorder, events = Recorder(subject), []
    for minute in minutes:
        outcome = recorder.read(t0 + minute * 60_000, vitals_at(minute))
        events += [{**e, "_minute": minute} for e in outcome.events]
    return events
