"""NEWS2, the National Early Warning Score 2.

Source: Royal College of Physicians, "National Early Warning Score (NEWS) 2",
2017, Chart 1 (scoring) and Chart 2 (clinical response); the table is copied in
../shared/reference/clinical.md. Scores are computed from the latest value of
each parameter. Respiration rate, SpO2, systolic pressure and pulse are charted
as whole numbers, temperature to one decimal, so values are rounded that way
before they are banded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

PARAMETERS = (
    "respiratory_rate",
    "spo2",
    "on_oxygen",
    "systolic_bp",
    "heart_rate",
    "consciousness",
    "temperature",
)


def _band(value: float, bands: tuple[tuple[float, int], ...], above: int) -> int:
    """Score of `value` given (upper bound inclusive, score) pairs, ascending."""
    for upper, score in bands:
        if value <= upper:
            return score
    return above


def respiratory_rate(rr: float) -> int:
    return _band(round(rr), ((8, 3), (11, 1), (20, 0), (24, 2)), 3)


def spo2_scale1(spo2: float) -> int:
    return _band(round(spo2), ((91, 3), (93, 2), (95, 1)), 0)


def spo2_scale2(spo2: float, on_oxygen: bool) -> int:
    """Scale 2: only for patients prescribed a hypercapnic target of 88-92 %."""
    s = round(spo2)
    if s <= 92 or not on_oxygen:
        return _band(s, ((83, 3), (85, 2), (87, 1)), 0)
    return _band(s, ((94, 1), (96, 2)), 3)


def air_or_oxygen(on_oxygen: bool) -> int:
    return 2 if on_oxygen else 0


def systolic_bp(sbp: float) -> int:
    return _band(round(sbp), ((90, 3), (100, 2), (110, 1), (219, 0)), 3)


def pulse(hr: float) -> int:
    return _band(round(hr), ((40, 3), (50, 1), (90, 0), (110, 1), (130, 2)), 3)


def consciousness(acvpu: str) -> int:
    return 0 if acvpu == "A" else 3


def temperature(t: float) -> int:
    return _band(round(t, 1), ((35.0, 3), (36.0, 1), (38.0, 0), (39.0, 1)), 2)


# The values each measured part scores 0 at, both ends in (SpO2's depend on its scale and the
# oxygen: not here).
ZERO_BAND: dict[str, tuple[float, float]] = {
    "respiratory_rate": (12, 20),
    "systolic_bp": (111, 219),
    "heart_rate": (51, 90),
    "temperature": (36.1, 38.0),
}


# The whole-number parameters' scores looked up by value (0-400, what the
# gateway accepts), built from the functions above: `score` runs per reading.
_TABLE_SIZE = 401
_RR = tuple(respiratory_rate(v) for v in range(_TABLE_SIZE))
_SPO2_1 = tuple(spo2_scale1(v) for v in range(_TABLE_SIZE))
_SBP = tuple(systolic_bp(v) for v in range(_TABLE_SIZE))
_PULSE = tuple(pulse(v) for v in range(_TABLE_SIZE))


def _lookup(table: tuple[int, ...], scorer: Callable[[float], int], value: float) -> int:
    i = round(value)
    return table[i] if 0 <= i < _TABLE_SIZE else scorer(value)


class News2(NamedTuple):  # a tuple: built for every reading, the cheapest immutable record
    total: int
    subscores: dict[str, int]
    complete: bool  # every parameter had a value

    @property
    def any_three(self) -> bool:
        return 3 in self.subscores.values()

    @property
    def band(self) -> str:
        """Clinical risk (RCP 2017 Chart 2): low, low_medium, medium or high."""
        total = self.total
        if total >= 7:
            return "high"
        if total >= 5:
            return "medium"
        if total >= 3 and 3 in self.subscores.values():
            return "low_medium"
        return "low"


_new_tuple = tuple.__new__


def score(latest: dict[str, Any], scale2: bool = False) -> News2:
    """NEWS2 from the latest value of each parameter present in `latest`.

    A missing parameter scores 0 and makes the result incomplete; a missing
    `on_oxygen` means the patient is on air, and scores 0 without counting as
    missing only when SpO2 is missing too.
    """
    # `_lookup` and `temperature`, inline: this runs for every reading (a whole
    # number, as most values are, is its own rounding).
    sub: dict[str, int] = {}
    get = latest.get
    on_oxygen = bool(get("on_oxygen", False))
    if (v := get("respiratory_rate")) is not None:
        i = v if v.__class__ is int else round(v)
        sub["respiratory_rate"] = _RR[i] if 0 <= i < _TABLE_SIZE else respiratory_rate(v)
    if (v := get("spo2")) is not None:
        if scale2:
            sub["spo2"] = spo2_scale2(v, on_oxygen)
        else:
            i = v if v.__class__ is int else round(v)
            sub["spo2"] = _SPO2_1[i] if 0 <= i < _TABLE_SIZE else spo2_scale1(v)
    if "on_oxygen" in latest:
        sub["on_oxygen"] = 2 if on_oxygen else 0
    if (v := get("systolic_bp")) is not None:
        i = v if v.__class__ is int else round(v)
        sub["systolic_bp"] = _SBP[i] if 0 <= i < _TABLE_SIZE else systolic_bp(v)
    if (v := get("heart_rate")) is not None:
        i = v if v.__class__ is int else round(v)
        sub["heart_rate"] = _PULSE[i] if 0 <= i < _TABLE_SIZE else pulse(v)
    if (v := get("consciousness")) is not None:
        sub["consciousness"] = 0 if v == "A" else 3
    if (v := get("temperature")) is not None:
        # 36.1 to 38.0 round (to one decimal) within the band that scores 0; only
        # other values need `round(t, 1)`, which is slow.
        sub["temperature"] = 0 if 36.1 <= v <= 38.0 else temperature(v)
    # `News2(...)` without its generated `__new__`: a third of this function's time.
    return _new_tuple(News2, (sum(sub.values()), sub, len(sub) == 7))  # 7: every one of PARAMETERS


# The step each measured parameter is charted in. A monitor's 20.6 breaths a
# minute scores 2 as 21 and its 20.4 scores 0 as 20: a value one step from a
# lower score sits on its band's edge, where noise alone crosses it.
STEP = {"respiratory_rate": 1.0, "spo2": 1.0, "systolic_bp": 1.0, "heart_rate": 1.0, "temperature": 0.1}


def edge_score(name: str, value: Any, sub: int, scale2: bool = False, on_oxygen: bool = False) -> int:
    """What a part scores for certain: the least of its score `sub` and the
    scores of its value one step (`STEP`) either way. A status (consciousness,
    oxygen) is said, not measured: its score."""
    step = STEP.get(name)
    if step is None:
        return sub
    scorer = _SCORERS[name]
    if name == "spo2" and scale2:
        return min(sub, spo2_scale2(value - step, on_oxygen), spo2_scale2(value + step, on_oxygen))
    return min(sub, scorer(value - step), scorer(value + step))


_SCORERS: dict[str, Callable[[float], int]] = {
    "respiratory_rate": respiratory_rate,
    "spo2": spo2_scale1,
    "systolic_bp": systolic_bp,
    "heart_rate": pulse,
    "temperature": temperature,
}


def acvpu(gcs: float) -> str:
    """A Glasgow Coma Scale score as NEWS2's ACVPU: 15 alert, 13-14 confused,
    9-12 responds to voice, 4-8 to pain, 3 unresponsive (as charts that
    record a GCS, not ACVPU, are read: docs/replay.md)."""
    g = round(gcs)
    return "A" if g >= 15 else "C" if g >= 13 else "V" if g >= 9 else "P" if g >= 4 else "U"
