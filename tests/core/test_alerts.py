"""The alert lifecycle (`transition`), step by step in event time."""

from __future__ import annotations

from app.core.alerts import Finding, Kind, OpenAlert, Severity, Status, transition

KINDS = (Kind.NEWS2, Kind.ANOMALY)
S = 1000


def finding(severity: Severity = Severity.MEDIUM, urgent: bool = False) -> Finding:
    return Finding(Kind.ANOMALY, severity, {}, urgent=urgent)


def step(
    alerts: dict[Kind, OpenAlert], ts: int, holds: Finding | None, muted: frozenset[Kind] = frozenset()
) -> list[tuple[Status, Severity]]:
    changes = transition(
        alerts,
        KINDS,
        {Kind.ANOMALY: holds} if holds else {},
        ts,
        resolve_after_ms=600 * S,
        confirm_ms=15 * S,
        renotify_ms=3600 * S,
        muted=muted,
    )
    assert all(c.kind is Kind.ANOMALY for c in changes)
    return [(c.status, c.alert.severity) for c in changes]


def test_a_condition_opens_once_it_has_held_for_the_confirmation_delay() -> None:
    alerts: dict[Kind, OpenAlert] = {}
    assert step(alerts, 0, finding()) == []
    assert step(alerts, 10 * S, finding(Severity.HIGH)) == []
    # opened at its worst severity while waiting, with the first reading's time
    assert step(alerts, 15 * S, finding()) == [(Status.OPEN, Severity.HIGH)]
    assert alerts[Kind.ANOMALY].opened_ms == 0


def test_a_condition_gone_before_confirmation_never_alarms() -> None:
    alerts: dict[Kind, OpenAlert] = {}
    assert step(alerts, 0, finding()) == []
    assert step(alerts, 5 * S, None) == []
    assert alerts == {}
    assert step(alerts, 20 * S, finding()) == []  # a new episode: waits again


def test_an_urgent_finding_opens_at_once_even_when_muted() -> None:
    alerts: dict[Kind, OpenAlert] = {}
    muted = frozenset({Kind.ANOMALY})
    assert step(alerts, 0, finding(), muted) == []
    assert alerts == {}  # muted: not even waiting for confirmation
    assert step(alerts, 0, finding(urgent=True), muted) == [(Status.OPEN, Severity.MEDIUM)]


def test_escalation_reminder_and_resolution() -> None:
    alerts: dict[Kind, OpenAlert] = {}
    step(alerts, 0, finding())
    assert step(alerts, 15 * S, finding()) == [(Status.OPEN, Severity.MEDIUM)]
    assert step(alerts, 20 * S, finding(Severity.HIGH)) == [(Status.ESCALATED, Severity.HIGH)]
    assert step(alerts, 30 * S, finding(Severity.LOW)) == []  # never de-escalates
    assert step(alerts, 3620 * S, finding()) == [(Status.REMINDER, Severity.HIGH)]
    assert step(alerts, 3700 * S, None) == []  # gone: the resolution wait starts
    assert step(alerts, 3800 * S, finding()) == []  # back: the wait starts over
    assert step(alerts, 3900 * S, None) == []
    assert step(alerts, 4499 * S, None) == []
    assert step(alerts, 4500 * S, None) == [(Status.RESOLVED, Severity.HIGH)]
    assert alerts == {}
