"""What every cohort is made of: simulated patients (readings in the protocol's
shape, `vitals` by name, custom channels included), their labelled events, and
the unlabelled nuisances (artifacts) an alert must not be raised for."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.core.records import reading_id

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a Thursday: a fixed start, so runs are reproducible


@dataclass(frozen=True)
class Event:
    """A labelled stretch: a true deterioration (or, for `generic`, an
    anomaly window), or, in `SimPatient.artifacts`, a nuisance.

    `deadline_ms`, when set, is when the event must have been caught to count
    as caught in time (`charted`: the second charted reading after onset;
    `home`: two days after onset)."""

    kind: str
    onset_ms: int
    end_ms: int
    deadline_ms: int | None = None


@dataclass
class SimPatient:
    subject: str
    profile: str
    readings: list[dict[str, Any]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    artifacts: list[Event] = field(default_factory=list)

    def add(self, ts: int, vitals: dict[str, Any]) -> None:
        """Append one reading (readings must be added in event-time order)."""
        seq = len(self.readings)
        self.readings.append({"id": reading_id(self.subject, seq), "seq": seq, "ts": ts, "vitals": vitals})


def patient_days(patients: list[SimPatient]) -> float:
    return float(sum((p.readings[-1]["ts"] - p.readings[0]["ts"]) / DAY for p in patients if p.readings))


def first_after(p: SimPatient, onset: int, vitals: tuple[str, ...], nth: int) -> int | None:
    """Event time of the `nth` reading after `onset` that carries any of `vitals`."""
    seen = 0
    for reading in p.readings:
        if reading["ts"] > onset and any(v in reading["vitals"] for v in vitals):
            seen += 1
            if seen == nth:
                return int(reading["ts"])
    return None
