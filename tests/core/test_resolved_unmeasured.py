"""A resolution names the scored vitals no longer measured
(`evidence.unmeasured`, `app.core.patient._unmeasured`): "recovered" and
"no longer measured" are told apart."""

from __future__ import annotations

from app.cli.alert_view import describe
from app.core.alerts import iso
from tests.core.readings import Recorder

T0 = 1_764_435_600_000
MINUTE = 60_000


def _run(rows: list[tuple[int, dict[str, object]]]) -> list[dict[str, object]]:
    patient = Recorder()
    for ts, vitals in rows:
        patient.read(ts, vitals)
    return patient.events


def test_a_mean_pressure_no_longer_charted_resolves_saying_so() -> None:
    """A real ICU stay (PhysioNet 2012, an outside tester): a mean pressure
    of 44-50 charted every 5 minutes, then not at all for hours while the
    temperature is still charted: its `trend` resolved with empty evidence,
    which reads as a recovery. The resolution says the mean was last 49 and
    when."""
    rows: list[tuple[int, dict[str, object]]] = []
    for k in range(12):  # an hour of a mean under 65
        rows.append((T0 + k * 5 * MINUTE, {"mean_bp": 44 + k % 6, "temperature": 37.1}))
    last = rows[-1][0]
    rows += [(last + k * 5 * MINUTE, {"temperature": 37.1}) for k in range(1, 60)]  # the line unread
    trend = [e for e in _run(rows) if e["kind"] == "trend"]
    assert [e["status"] for e in trend][:1] == ["open"]
    resolved = [e for e in trend if e["status"] == "resolved"]
    assert len(resolved) == 1
    evidence = resolved[0]["evidence"]
    assert evidence["unmeasured"] == {"mean_bp": {"value": 49, "at": iso(last)}}  # type: ignore[index]
    assert f"not measured since: mean_bp 49 at {iso(last)}" in describe(resolved[0])


def test_a_recovery_measured_resolves_without_it() -> None:
    rows: list[tuple[int, dict[str, object]]] = []
    for k in range(12):
        rows.append((T0 + k * 5 * MINUTE, {"mean_bp": 44 + k % 6, "temperature": 37.1}))
    rows += [(T0 + (12 + k) * 5 * MINUTE, {"mean_bp": 80, "temperature": 37.1}) for k in range(24)]
    resolved = [e for e in _run(rows) if e["kind"] == "trend" and e["status"] == "resolved"]
    assert len(resolved) == 1
    assert "unmeasured" not in resolved[0]["evidence"]  # type: ignore[operator]
    assert "not measured" not in describe(resolved[0])


def test_a_value_read_before_the_episode_is_not_named() -> None:
    """A temperature of 35.8 (NEWS2 1) read an hour before a hypotension,
    and not since, was named at its resolution (an outside reviewer): it
    was no part of the episode."""
    rows: list[tuple[int, dict[str, object]]] = [(T0 - 60 * MINUTE, {"temperature": 35.8})]
    for k in range(12):
        rows.append((T0 + k * 5 * MINUTE, {"mean_bp": 44 + k % 6}))
    last = rows[-1][0]
    rows += [(last + k * 5 * MINUTE, {"heart_rate": 80}) for k in range(1, 60)]
    resolved = [e for e in _run(rows) if e["kind"] == "trend" and e["status"] == "resolved"]
    assert len(resolved) == 1
    assert resolved[0]["evidence"]["unmeasured"] == {"mean_bp": {"value": 49, "at": iso(last)}}  # type: ignore[index]


def test_a_value_in_the_score_a_news2_alert_opened_on_is_named() -> None:
    """A second reviewer: a cuff's systolic of 95 (NEWS2 2) read, the cuff
    taken off; ten minutes later a pulse of 112 and a breathing rate of 22
    (2 each) open a `medium` NEWS2 alert on that systolic's points. The
    alert resolves as the systolic ages out of the score: its resolution
    says so, though the value was read before the alert opened."""
    rows: list[tuple[int, dict[str, object]]] = [
        (
            T0,
            {
                "systolic_bp": 95,
                "heart_rate": 80,
                "respiratory_rate": 16,
                "consciousness": "A",
                "on_oxygen": False,
            },
        )
    ]
    rows += [(T0 + m * MINUTE, {"heart_rate": 112, "respiratory_rate": 22}) for m in range(10, 100)]
    news = [e for e in _run(rows) if e["kind"] == "news2"]
    assert [e["status"] for e in news][0] == "open"
    assert news[0]["evidence"]["vitals"]["systolic_bp"] == 95  # type: ignore[index]
    resolved = [e for e in news if e["status"] == "resolved"]
    assert len(resolved) == 1
    assert resolved[0]["evidence"]["unmeasured"] == {"systolic_bp": {"value": 95, "at": iso(T0)}}  # type: ignore[index]
