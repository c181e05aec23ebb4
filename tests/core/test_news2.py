"""NEWS2 against the RCP 2017 chart (../shared/reference/clinical.md)."""

from __future__ import annotations

import pytest

from app.core import news2


# (value, expected score) at every band edge of Chart 1.
@pytest.mark.parametrize(
    ("fn", "cases"),
    [
        (news2.respiratory_rate, [(8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3)]),
        (news2.spo2_scale1, [(91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)]),
        (news2.systolic_bp, [(90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3)]),
        (
            news2.pulse,
            [(40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2), (131, 3)],
        ),
        (
            news2.temperature,
            [(35.0, 3), (35.1, 1), (36.0, 1), (36.1, 0), (38.0, 0), (38.1, 1), (39.0, 1), (39.1, 2)],
        ),
    ],
)
def test_band_edges(fn, cases) -> None:
    assert [(v, fn(v)) for v, _ in cases] == cases


def test_spo2_scale2_on_air_and_on_oxygen() -> None:
    on_air = [(83, 3), (84, 2), (85, 2), (86, 1), (87, 1), (88, 0), (92, 0), (93, 0), (99, 0)]
    assert [(v, news2.spo2_scale2(v, on_oxygen=False)) for v, _ in on_air] == on_air
    on_o2 = [(88, 0), (92, 0), (93, 1), (94, 1), (95, 2), (96, 2), (97, 3)]
    assert [(v, news2.spo2_scale2(v, on_oxygen=True)) for v, _ in on_o2] == on_o2


def test_consciousness_and_oxygen() -> None:
    assert [news2.consciousness(c) for c in "ACVPU"] == [0, 3, 3, 3, 3]
    assert (news2.air_or_oxygen(False), news2.air_or_oxygen(True)) == (0, 2)


NORMAL = {
    "respiratory_rate": 16,
    "spo2": 97,
    "on_oxygen": False,
    "systolic_bp": 120,
    "heart_rate": 72,
    "consciousness": "A",
    "temperature": 36.8,
}


def test_normal_patient_scores_zero_low() -> None:
    result = news2.score(NORMAL)
    assert (result.total, result.band, result.complete) == (0, "low", True)


def test_single_three_is_low_medium() -> None:
    result = news2.score({**NORMAL, "consciousness": "V"})
    assert (result.total, result.band) == (3, "low_medium")


def test_aggregate_bands() -> None:
    medium = news2.score({**NORMAL, "respiratory_rate": 22, "heart_rate": 112, "temperature": 38.5})
    assert (medium.total, medium.band) == (5, "medium")  # 2 + 2 + 1
    high = news2.score({**NORMAL, "respiratory_rate": 26, "spo2": 91, "on_oxygen": True})
    assert (high.total, high.band) == (8, "high")  # 3 + 3 + 2


def test_missing_parameters_make_it_incomplete() -> None:
    result = news2.score({"heart_rate": 135})
    assert (result.total, result.complete, result.subscores) == (3, False, {"heart_rate": 3})


def test_the_lookup_tables_score_as_the_chart_does() -> None:
    for v in [x / 2 for x in range(0, 900)]:
        latest = {"respiratory_rate": v, "spo2": v, "systolic_bp": v, "heart_rate": v}
        assert news2.score(latest).subscores == {
            "respiratory_rate": news2.respiratory_rate(v),
            "spo2": news2.spo2_scale1(v),
            "systolic_bp": news2.systolic_bp(v),
            "heart_rate": news2.pulse(v),
        }
