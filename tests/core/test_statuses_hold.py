"""A status (the level of consciousness, the oxygen) holds until a later
reading says otherwise, at most a day: a PhysioNet 2012 stay, ventilated and
unresponsive, its GCS charted at 00:17, 02:02 and then 06:02 and its oxygen
charted with the FiO2 only, had both drop out of NEWS2 between charts (1.5 of
their cadence), and its alert resolved at 05:32 to reopen at 06:02 with
nothing changed."""

from __future__ import annotations

import random
from typing import Any

from tests.core.readings import by_minute

T0 = 1_764_374_400_000


def _ventilated(gcs_at: set[int], oxygen_at: set[int], hours: int = 10) -> list[dict[str, Any]]:
    """Hourly rounds of a stable heart rate, pressure and temperature (the
    breathing set by the ventilator, not charted); consciousness `U` charted
    at the minutes in `gcs_at`, `on_oxygen` at those in `oxygen_at`."""
    rng = random.Random(5)

    def vitals_at(minute: int) -> dict[str, Any]:
        vitals: dict[str, Any] = {}
        if minute % 60 == 2:
            vitals.update(
                heart_rate=round(rng.gauss(84, 3)),
                systolic_bp=round(rng.gauss(118, 5)),
                temperature=round(rng.gauss(37.0, 0.1), 1),
            )
        if minute in gcs_at:
            vitals["consciousness"] = "U"
        if minute in oxygen_at:
            vitals["on_oxygen"] = True
        return vitals

    return by_minute(T0, sorted({h * 60 + 2 for h in range(hours)} | gcs_at | oxygen_at), vitals_at)


def test_a_level_of_consciousness_charted_irregularly_keeps_one_alert_open() -> None:
    events = _ventilated(gcs_at={17, 122, 362}, oxygen_at={17, 32})
    news = [(e["status"], e["_minute"]) for e in events if e["kind"] == "news2"]
    assert [s for s, _ in news].count("open") == 1, news
    assert "resolved" not in [s for s, _ in news], news
    last = [e for e in events if e["kind"] == "news2"][-1]
    assert last["evidence"]["vitals"].get("consciousness") == "U"
    assert last["evidence"]["vitals"].get("on_oxygen") is True  # charted at 00:17 and 00:32 only


def test_a_status_charted_once_still_ages_out_after_a_day() -> None:
    """The bound: a GCS of 3 charted twice (the second confirms it), then
    nothing said of it for more than a day, no longer scores: the alert
    resolves once the last one is a day old, as any value gone that long
    (and the condition gone two charting rounds)."""
    events = _ventilated(gcs_at={17, 122}, oxygen_at=set(), hours=30)
    news = [(e["status"], e["_minute"]) for e in events if e["kind"] == "news2"]
    assert news[0] == ("open", 122) and news[-1][0] == "resolved", news
    assert 122 + 24 * 60 <= news[-1][1] <= 122 + 27 * 60, news
