"""Inside an open NEWS2 alert, what is new is told (`escalated`) though no
score moves: the level of consciousness a step further down ACVPU (NEWS2
scores V, P and U 3, as it does new confusion), and a fever reaching
39.1 °C (NEWS2's most for a fever, 2). On real charted ICU stays, a GCS
falling from 15 to 13, then 7, then 6 escalated nothing after the first,
and a fever climbing from 37.6 to 39.3 inside a high alert said nothing
(an outside clinician's review)."""

from __future__ import annotations

from typing import Any

from tests.core.readings import Recorder

T0 = 1_764_374_400_000
HOUR = 3_600_000


def _charted(rounds: list[dict[str, Any]]) -> list[tuple[int, str, dict[str, Any]]]:
    """A ventilated patient charted hourly: each round's values over a
    steady background; the NEWS2 events by round (hour, status, vitals),
    an escalation's vitals with what it tells anew (`evidence.newly`) as
    `newly`."""
    recorder, told = Recorder(), []
    for hour, changes in enumerate(rounds):
        vitals = {
            "heart_rate": 80,
            "respiratory_rate": 16,
            "spo2": 96,
            "systolic_bp": 118,
            "temperature": 37.4,
            "consciousness": "C",
            "on_oxygen": True,
            **changes,
        }
        for e in recorder.read(T0 + hour * HOUR, vitals).events:
            if e["kind"] == "news2":
                newly = {"newly": e["evidence"]["newly"]} if "newly" in e["evidence"] else {}
                told.append((hour, str(e["status"]), {**e["evidence"]["vitals"], **newly}))
    return told


def test_a_level_of_consciousness_falling_further_is_told_each_step() -> None:
    levels = ["C"] * 4 + ["V"] * 3 + ["P"] * 3 + ["U"] * 2
    told = _charted([{"consciousness": level} for level in levels])
    assert told[0][:2] == (0, "open")  # confused, on oxygen: NEWS2 5, medium
    escalated = [(hour, vitals["consciousness"]) for hour, status, vitals in told if status == "escalated"]
    assert escalated == [(4, "V"), (7, "P"), (10, "U")]
    assert all(vitals["newly"] == ["consciousness"] for _, status, vitals in told if status == "escalated")


def test_a_level_of_consciousness_coming_back_is_no_news_and_falling_again_is() -> None:
    levels = ["C", "C", "P", "P", "V", "V", "V", "P"]
    told = _charted([{"consciousness": level} for level in levels])
    escalated = [(hour, vitals["consciousness"]) for hour, status, vitals in told if status == "escalated"]
    assert escalated == [(2, "P"), (7, "P")]


def test_a_fever_reaching_the_top_band_is_told_inside_an_open_alert() -> None:
    temperatures = [37.4, 37.6, 38.2, 38.5, 38.9, 39.2, 39.3, 38.7, 38.0]
    # Confused, on oxygen, a systolic of 100: NEWS2 7, high, from the first round.
    told = _charted([{"temperature": t, "systolic_bp": 100} for t in temperatures])
    assert told[0][:2] == (0, "open")
    escalated = [(hour, vitals.get("temperature")) for hour, status, vitals in told if status == "escalated"]
    assert escalated == [(5, 39.2)]
    assert [vitals["newly"] for _, status, vitals in told if status == "escalated"] == [["temperature"]]
