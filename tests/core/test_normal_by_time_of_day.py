"""A patient's normal at a time of day is what the baseline forecasts then
(its daily profile in use), not the day's average: most people's pressure
dips by night, and a value at its usual night level is no departure from
it. The z-scores always measured from the forecast; the rules below
measured from the day's average, and the anomaly's evidence reported it."""

from __future__ import annotations

import math
import random
from typing import Any

from app.core import patient as core
from app.core import state as patient_state
from app.core.records import reading_id

HOUR, MINUTE = 3_600_000, 60_000
T0 = 1_764_374_400_000  # 2025-11-29 00:00 UTC


def _night(minute: int) -> float:
    """1 at 03:00, 0 at 15:00."""
    return 0.5 * (1 + math.cos(2 * math.pi * ((minute % 1440) / 60 - 3) / 24))


def _monitor(dip: dict[str, Any] | None, *, days: float = 2.6, seed: int = 11) -> list[dict[str, Any]]:
    """A monitor read once a minute for `days` from midnight; the systolic
    pressure 128 by day and 104 at 03:00 (a nightly dip of 24 mmHg), the
    rest steady. `dip`: from `at` (minutes), the pressure falls `by` mmHg
    over `over` minutes (rises for a negative `by`) and stays there for
    `hold` minutes, then comes back. The events."""
    rng = random.Random(seed)
    state = patient_state.PatientState()
    events: list[dict[str, Any]] = []
    for i in range(int(days * 1440)):
        sbp = 128 - 24 * _night(i) + rng.gauss(0, 2.5)
        if dip is not None and dip["at"] <= i < dip["at"] + dip["over"] + dip["hold"]:
            sbp -= dip["by"] * min(1.0, (i - dip["at"] + 1) / dip["over"])
        vitals = {
            "heart_rate": round(70 + rng.gauss(0, 2)),
            "respiratory_rate": round(15 + rng.gauss(0, 0.8)),
            "spo2": round(97 + rng.gauss(0, 0.5)),
            "systolic_bp": round(sbp),
            "temperature": round(36.8 + rng.gauss(0, 0.08), 1),
            "consciousness": "A",
        }
        reading = {"id": reading_id("monitor-1", i), "seq": i, "ts": T0 + i * MINUTE, "vitals": vitals}
        events += core.process(state, "p-" + "5" * 32, "monitor-1", reading).events
    return events


def _opened(events: list[dict[str, Any]], kind: str, after_min: int) -> list[dict[str, Any]]:
    start = T0 + after_min * MINUTE
    return [
        e for e in events if e["kind"] == kind and e["status"] == "open" and _ms(e["event_time"]) >= start
    ]


def _ms(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


NIGHT_THREE = 48 * 60 + 3 * 60  # 03:00 of the third night


def test_a_pressure_wobbling_down_at_its_usual_night_level_is_not_heading_for_danger() -> None:
    """At 03:00 of the third night the pressure sits at its usual 104 and
    wobbles down 6 mmHg over 4 minutes (a slope of -1.5/min that, carried
    on, reaches 90 within the 15-minute horizon). It is 2.5 SDs under the
    day's average, but not under this patient's normal at 03:00: no
    `trend`. Before, the departure was measured from the day's average and
    the trend opened."""
    events = _monitor({"at": NIGHT_THREE, "by": 6, "over": 4, "hold": 4})
    assert not _opened(events, "trend", NIGHT_THREE), _opened(events, "trend", NIGHT_THREE)


def test_the_same_fall_from_the_daytime_level_opens_the_trend() -> None:
    """The profile does not blunt a real fall: at 15:00 of the third day
    the pressure (128) falls 30 mmHg over 15 minutes towards 90, and a
    `trend` opens on the way down."""
    afternoon = 48 * 60 + 15 * 60
    events = _monitor({"at": afternoon, "by": 30, "over": 15, "hold": 20}, days=2.8)
    trends = _opened(events, "trend", afternoon)
    assert trends, [e["kind"] for e in events if e["status"] == "open"]
    assert "systolic_bp" in trends[0]["evidence"]["vitals"]
    assert _ms(trends[0]["event_time"]) < T0 + (afternoon + 15) * MINUTE


def test_an_anomalys_evidence_gives_the_normal_of_its_time_of_day() -> None:
    """An anomaly's `baseline` is the value the patient's normal forecasts
    at that time, which its `z` measures from: a pressure of 140 at 03:00
    is reported against the night's normal (104; the profile has learned
    most of the dip by the third night), not the day's average of about
    115."""
    events = _monitor({"at": NIGHT_THREE, "by": -36, "over": 1, "hold": 5})
    anomalies = _opened(events, "anomaly", NIGHT_THREE)
    assert anomalies, [e["kind"] for e in events if e["status"] == "open"]
    baseline = anomalies[0]["evidence"]["baseline"]["systolic_bp"]
    assert 100 <= baseline <= 110, anomalies[0]["evidence"]
