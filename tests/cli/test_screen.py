"""What `vigil up` shows: physiology alerts stand out, drift notices are
counted rather than printed, the status line, and a reader that goes away."""

from __future__ import annotations

import io
import os

from app.cli.alert_view import Screen
from app.cli.up import _worker_alerts, fleet_line, readings_rate, status_line


def event(kind: str, status: str, alert_id: str = "a1", severity: str = "high") -> dict:
    return {
        "alert_id": alert_id,
        "kind": kind,
        "status": status,
        "severity": severity,
        "patient": "SIM-1-0004",
        "event_time": "2026-11-30T12:00:00.000Z",
        "evidence": {},
    }


def test_drift_notices_are_counted_not_printed_unless_all() -> None:
    out = io.StringIO()
    screen = Screen(out, colour=False)
    screen(event("baseline_drift", "notice", "d1"))
    screen(event("news2", "open"))
    assert screen.hidden_notices == 1 and "baseline_drift" not in out.getvalue() and "news2" in out.getvalue()
    everything = io.StringIO()
    Screen(everything, show_all=True, colour=False)(event("baseline_drift", "notice", "d1"))
    assert "baseline_drift" in everything.getvalue()


def test_physiology_alerts_stand_out_on_a_terminal() -> None:
    out = io.StringIO()
    screen = Screen(out, colour=True)
    screen(event("news2", "open", severity="high"))
    screen(event("signal_quality", "open", "s1", severity="low"))
    first, second = out.getvalue().splitlines()
    assert first.startswith("\x1b[1;31m") and first.endswith("\x1b[0m")
    assert not second.startswith("\x1b")


def test_open_alerts_are_tracked_for_the_status_line() -> None:
    screen = Screen(io.StringIO(), colour=False)
    for e in (
        event("news2", "open", "a"),
        event("anomaly", "open", "b"),
        event("news2", "escalated", "a"),
        event("anomaly", "resolved", "b"),
        event("baseline_drift", "notice", "c"),
    ):
        screen(e)
    assert screen.open == {"a"}


def test_a_reader_that_goes_away_is_noticed_not_raised() -> None:
    read, write = os.pipe()
    os.close(read)
    with os.fdopen(write, "w") as out:
        screen = Screen(out, colour=False)
        screen(event("news2", "open"))
        screen(event("news2", "resolved"))
        assert screen.closed


def test_readings_rate_is_never_negative_across_a_gateway_restart() -> None:
    assert readings_rate((100.0, 500), 110.0, 520) == 2.0
    assert readings_rate(None, 110.0, 520) is None  # no count before
    assert readings_rate((100.0, 500), 110.0, None) is None  # no count now
    # The gateway started again: its counter went back to 0 in the interval.
    assert readings_rate((100.0, 6500), 110.0, 181) is None
    # The next interval counts from the new gateway's count.
    assert readings_rate((110.0, 181), 120.0, 381) == 20.0


def test_counts_of_one_are_singular() -> None:
    """A newcomer saw `1 alerts opened` and `(1 patients deteriorate)`."""
    assert status_line(1, 0.1, 1, 1, 1) == (
        "status: 1 device connected, 0.1 readings/s, 1 open alert, worker lag 1 record; "
        "1 baseline-drift notice not shown (--all shows them)"
    )
    assert "1 alert opened and 0 resolved" in status_line(1, 0.1, None, 0, worker_alerts=(1, 0))
    assert fleet_line(1, 1, alerts_here=True) == "simulating 1 device (1 patient deteriorates); alerts follow"
    assert fleet_line(2, 0, alerts_here=True) == "simulating 2 devices (0 patients deteriorate)"


def test_the_first_line_of_a_simulation_says_where_its_alerts_show() -> None:
    # `vigil up --simulate` prints the alerts itself.
    assert fleet_line(20, 6, alerts_here=True).endswith("; alerts follow")
    # `vigil simulate` prints none: the line says where they are.
    line = fleet_line(5, 2, alerts_here=False)
    assert "alerts follow" not in line and "vigil.alerts" in line and "`vigil alerts`" in line
    assert "alert" not in fleet_line(5, 0, alerts_here=False)


def test_status_line() -> None:
    assert status_line(20, 1.96, 3, 0, 12) == (
        "status: 20 devices connected, 2.0 readings/s, 3 open alerts, worker lag 0 records; "
        "12 baseline-drift notices not shown (--all shows them)"
    )
    assert status_line(None, None, None, None) == (
        "status: ? devices connected, ? readings/s, ? open alerts, worker lag ? records"
    )


def test_without_simulated_devices_the_line_says_the_alerts_the_worker_counted_since_it_started() -> None:
    """Without simulated devices, `vigil up` reads the alerts from the
    worker's metrics, which count from the worker's start: after a restart
    the line said "-2 open alerts" (an SRE following the docs), then `?`, or
    "0 open alerts" while alerts opened before were still open (an outside
    SRE's first hour). It says what it counts: alerts opened and resolved
    since the worker started."""
    from prometheus_client.samples import Sample

    def counts(opened: float, resolved: float) -> list[Sample]:
        name = "vigil_worker_alert_events_total"
        return [Sample(name, {"status": "open"}, opened), Sample(name, {"status": "resolved"}, resolved)]

    assert status_line(1, 3.0, None, 0, worker_alerts=_worker_alerts(counts(0, 2))) == (
        "status: 1 device connected, 3.0 readings/s, "
        "0 alerts opened and 2 resolved since the worker started, worker lag 0 records"
    )
    assert "5 alerts opened and 2 resolved since the worker started" in status_line(
        1, 3.0, None, 0, worker_alerts=_worker_alerts(counts(5, 2))
    )
    assert "? alerts opened and ? resolved since the worker started" in status_line(
        None, None, None, None, worker_alerts=_worker_alerts([])
    )


def test_a_news2_alert_held_above_its_band_says_so() -> None:
    """A high NEWS2 alert stays high while the score is 6 (docs/alerts.md):
    the line said `high ... NEWS2 6 (medium)`, which read as a contradiction
    on a first run; it now says the severity is held."""
    out = io.StringIO()
    screen = Screen(out, colour=False)
    held = event("news2", "escalated", severity="high")
    held["evidence"] = {"score": 6, "band": "medium", "vitals": {"spo2": 93}}
    screen(held)
    same = event("news2", "open", "a2", severity="medium")
    same["evidence"] = {"score": 5, "band": "medium", "vitals": {"spo2": 93}}
    screen(same)
    gone = event("news2", "resolved", "a1", severity="high")
    gone["evidence"] = {"score": 0, "band": "low"}
    screen(gone)
    first, second, third = out.getvalue().splitlines()
    assert first.endswith("NEWS2 6 (medium; held high): spo2 93"), first
    assert second.endswith("NEWS2 5 (medium): spo2 93"), second
    assert third.endswith("NEWS2 0 (low)"), third  # a resolution is not held


def test_an_escalation_says_what_is_new_in_it() -> None:
    """An escalation whose score went down (NEWS2 6 after 7) read like a bug
    on a newcomer's first run; the line now names what is new (the event's
    `evidence.newly`: a systolic newly scoring 3)."""
    out = io.StringIO()
    screen = Screen(out, colour=False)
    told = event("news2", "escalated", severity="high")
    told["evidence"] = {"score": 6, "band": "medium", "newly": ["systolic_bp"], "vitals": {"systolic_bp": 88}}
    screen(told)
    assert out.getvalue().strip().endswith("NEWS2 6 (medium; held high; new: systolic_bp): systolic_bp 88")


def test_a_news2_alert_held_open_by_a_bad_signal_says_so() -> None:
    """A NEWS2 alert stays open while a parameter it was told for sends
    artifacts (docs/alerts.md): its reminder at a score of 0 says why it
    is still open, instead of reading as an alert that forgot to resolve."""
    out = io.StringIO()
    screen = Screen(out, colour=False)
    held = event("news2", "reminder", severity="low")
    held["evidence"] = {"score": 0, "band": "low", "vitals": {}, "unreliable": ["respiratory_rate"]}
    screen(held)
    assert out.getvalue().strip().endswith("NEWS2 0 (low; held open, signal bad: respiratory_rate)")


def test_a_news2_alert_held_open_until_recovered_says_so() -> None:
    """A NEWS2 alert a red systolic opened stays open while the systolic is
    still off the normal established before it (docs/alerts.md): its
    reminder at a score of 2 says why."""
    out = io.StringIO()
    screen = Screen(out, colour=False)
    held = event("news2", "reminder", severity="low")
    vitals = {"systolic_bp": 96}
    held["evidence"] = {"score": 2, "band": "low", "vitals": vitals, "not_recovered": ["systolic_bp"]}
    screen(held)
    line = out.getvalue().strip()
    assert line.endswith("NEWS2 2 (low; held open, not recovered: systolic_bp): systolic_bp 96")
