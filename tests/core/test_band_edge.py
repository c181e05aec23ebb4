"""Two vitals at their NEWS2 bands' edges are not two vitals moved.

A monitor sends averages (a breathing rate of 20.6, a systolic of 100.1);
NEWS2 scores them as 21 and 100, and one reading can cross two bands' edges
by noise alone. Medium or high opens at once only when two vitals moved
clear of their edges; on the edge it waits for the next reading like any
other finding. An outside reviewer's real MIMIC-II numerics (a40802n): a
medium alert opened at once on one such reading, 24 minutes after the last
one resolved, and the next reading scored 3."""

from __future__ import annotations

import random

import pytest

from app.core import news2
from tests.core.readings import Recorder, normal

T0 = 1_764_435_600_000
MINUTE = 60_000


@pytest.mark.parametrize(
    ("name", "value", "certain"),
    [
        ("respiratory_rate", 20.6, 0),  # 21 scores 2, 20 scores 0
        ("respiratory_rate", 22.0, 2),
        ("respiratory_rate", 25.0, 2),  # 3 as 25, 2 as 24
        ("systolic_bp", 100.1, 1),  # 2 as 100, 1 as 101
        ("systolic_bp", 98.0, 2),
        ("spo2", 95.3, 0),
        ("heart_rate", 91.0, 0),
        ("heart_rate", 95.0, 1),
        ("temperature", 38.1, 0),
        ("temperature", 38.5, 1),
        ("consciousness", "V", 3),  # said, not measured: no edge
    ],
)
def test_what_a_part_scores_for_certain(name: str, value: object, certain: int) -> None:
    sub = news2.score({name: value}).subscores[name]
    assert news2.edge_score(name, value, sub) == certain


def settled(seed: int) -> Recorder:
    """Three hours of a normal on a monitor, one reading a minute."""
    rng, rec = random.Random(seed), Recorder()
    for m in range(180):
        rec.read(T0 + m * MINUTE, normal(rng))
    return rec


def news(rec: Recorder, since: int) -> list[tuple[str, str]]:
    return [(e["status"], e["severity"]) for e in rec.events[since:] if e["kind"] == "news2"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_reading_on_two_edges_opens_nothing(seed: int) -> None:
    rec = settled(seed)
    rng, n = random.Random(seed), len(rec.events)
    # NEWS2 5 (medium): breathing 2, systolic 2, SpO2 1, every part one step from a lower score.
    rec.read(T0 + 180 * MINUTE, {**normal(rng), "respiratory_rate": 20.6, "systolic_bp": 100.1, "spo2": 95.3})
    assert news(rec, n) == []
    for m in range(181, 200):
        rec.read(T0 + m * MINUTE, normal(rng))
    assert news(rec, n) == [], "one reading on the bands' edges raised an alert"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_edges_that_last_are_confirmed_like_any_finding(seed: int) -> None:
    """Confirmed as a step on one channel is: held back a reading, then
    held for the confirmation delay (`test_cadence`)."""
    rec = settled(seed)
    rng, n = random.Random(seed), len(rec.events)
    edge = {"respiratory_rate": 20.6, "systolic_bp": 100.1, "spo2": 95.3}
    rec.read(T0 + 180 * MINUTE, {**normal(rng), **edge})
    assert news(rec, n) == []
    for m in (181, 182):
        rec.read(T0 + m * MINUTE, {**normal(rng), **edge})
    assert news(rec, n) == [("open", "medium")]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_vitals_moved_clear_of_their_edges_open_at_once(seed: int) -> None:
    rec = settled(seed)
    rng, n = random.Random(seed), len(rec.events)
    rec.read(T0 + 180 * MINUTE, {**normal(rng), "respiratory_rate": 23, "systolic_bp": 95, "spo2": 95})
    assert news(rec, n) == [("open", "medium")]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_high_band_and_new_confusion_open_at_once_on_the_edges(seed: int) -> None:
    """A monitor's last reading before it is disconnected (a second
    reviewer's): NEWS2 7 with every part one step from a lower score, and
    new confusion beside a breathing rate of 21. Each waited for a next
    reading that never came."""
    rec = settled(seed)
    rng, n = random.Random(seed), len(rec.events)
    edges = {"respiratory_rate": 21, "systolic_bp": 100, "spo2": 95, "heart_rate": 91, "temperature": 38.1}
    rec.read(T0 + 180 * MINUTE, {**normal(rng), **edges})
    assert news(rec, n) == [("open", "high")]
    rec = settled(seed)
    n = len(rec.events)
    rec.read(T0 + 180 * MINUTE, {**normal(rng), "consciousness": "C", "respiratory_rate": 21})
    assert news(rec, n) == [("open", "medium")]
