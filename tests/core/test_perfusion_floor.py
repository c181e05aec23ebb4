"""A systolic of 90 or less may be a patient's own normal (a small young
woman), but not beside an arterial line's mean under 65 mmHg: a PhysioNet
2012 stay charted at a systolic of 74-90 with a mean of 50-62 for 36 hours
was taken for a patient living low and raised nothing."""

from __future__ import annotations

import random
from typing import Any

from tests.core.readings import by_minute

T0 = 1_764_374_400_000


def _line(diastolic_later: float, minutes: int = 300) -> list[dict[str, Any]]:
    """A patient living at a systolic of about 88 (an arterial line: systolic,
    diastolic and mean each minute), the rest of her vitals unremarkable;
    from minute 240 her diastolic sits at `diastolic_later`, her systolic
    unchanged."""
    rng = random.Random(11)

    def vitals_at(minute: int) -> dict[str, Any]:
        systolic = round(rng.gauss(88, 1.5))
        diastolic = round(rng.gauss(58 if minute < 240 else diastolic_later, 1.5))
        return {
            "heart_rate": round(rng.gauss(72, 3)),
            "spo2": round(rng.gauss(97, 0.6)),
            "respiratory_rate": round(rng.gauss(15, 1)),
            "systolic_bp": systolic,
            "diastolic_bp": diastolic,
            "mean_bp": round((systolic + 2 * diastolic) / 3),
            "temperature": round(rng.gauss(36.8, 0.1), 1),
            "consciousness": "A",
        }

    return by_minute(T0, range(minutes), vitals_at)


def _news2(events: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(str(e["status"]), e["_minute"]) for e in events if e["kind"] == "news2"]


def test_a_low_systolic_is_her_own_while_her_mean_perfuses() -> None:
    """NEWS2's alert on her systolic resolves once her normal is learned
    (two hours), and stays resolved at 88/57, a mean of 67."""
    news = _news2(_line(diastolic_later=57))
    assert news[-1][0] == "resolved" and news[-1][1] < 240, news
    assert [m for s, m in news if s == "open" and m >= 150] == [], news


def test_a_low_systolic_with_a_mean_under_65_alarms_however_used_to_it() -> None:
    """The same systolic at 88/42, a mean of 57: NEWS2's alert opens within
    the minute, her systolic scoring 3 as NEWS2 scores it."""
    events = _line(diastolic_later=42)
    later = [e for e in events if e["kind"] == "news2" and e["status"] == "open" and e["_minute"] >= 150]
    assert later and later[0]["_minute"] <= 242, _news2(events)
    assert later[0]["evidence"]["subscores"]["systolic_bp"] == 3
