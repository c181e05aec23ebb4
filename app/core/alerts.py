"""Alert events and their lifecycle.

Per patient and kind of condition, an alert opens, may escalate, and resolves;
every event of one episode carries the same `alert_id`, derived from the
patient's pseudonym, the kind and the event time at which the episode opened. Re-emitting
an event (after a worker restart, say) therefore yields the same id, and
consumers can deduplicate on (`alert_id`, `status`, `severity`).

The schema is `vigil.alert/1`, documented in docs/alerts.md.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SCHEMA = "vigil.alert/1"
SEVERITIES = ("low", "medium", "high")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_ALERT_NS = uuid.UUID("0b6c1f8e-54a7-4c1b-8d8e-6a2f3c9e7d21")


def rank(severity: str) -> int:
    return _RANK[severity]


def alert_id(subject: str, kind: str, opened_ms: int) -> str:
    """Derived from the patient's pseudonym, the kind and the opening event time."""
    return str(uuid.uuid5(_ALERT_NS, f"{subject}\x1f{kind}\x1f{opened_ms}"))


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


@dataclass(slots=True)
class OpenAlert:
    opened_ms: int  # event time the condition was first seen (also the alert id's)
    severity: str
    clear_since_ms: int | None = None  # event time the condition stopped holding
    confirmed: bool = True  # False while the condition awaits confirmation
    notified_ms: int | None = None  # event time of the last open, escalation or reminder


@dataclass(frozen=True, slots=True)
class Finding:
    """A condition that holds for the current reading."""

    kind: str
    severity: str
    evidence: dict[str, Any]
    urgent: bool = False  # opens without waiting for confirmation


def transition(
    open_alerts: dict[str, OpenAlert],
    kinds: tuple[str, ...],
    findings: dict[str, Finding],
    ts_ms: int,
    resolve_after_ms: int,
    confirm_ms: int = 0,
    renotify_ms: int = 0,
    muted: frozenset[str] = frozenset(),
) -> list[tuple[str, str, OpenAlert, Finding | None]]:
    """Advance the lifecycle of each kind given what holds now.

    Returns (status, kind, alert, finding) for every change:

    - "open" once a condition has held on consecutive readings for
      `confirm_ms` of event time (a short confirmation delay: on SpO2, 15 s
      removed 60 % of alarms, ../shared/reference/clinical.md); a condition
      that goes away before that never alarms. An urgent finding, or
      `confirm_ms` 0, opens at once;
    - "escalated" when an open alert's severity rises;
    - "reminder" while it still holds, every `renotify_ms` after the last
      notification (0: never);
    - "resolved" once the condition has not held for `resolve_after_ms`. The
      wait damps flapping: a condition that comes and goes keeps one alert
      open instead of opening a new one each time (alarm on onset and
      resolution, not repeatedly).

    Kinds in `muted` open no new alert unless the finding is urgent; alerts
    already open carry on. `open_alerts` is updated in place.
    """
    changes: list[tuple[str, str, OpenAlert, Finding | None]] = []
    for kind in kinds:
        finding = findings.get(kind)
        current = open_alerts.get(kind)
        if finding is not None and current is None and kind in muted and not finding.urgent:
            continue
        if finding is not None and current is None:
            immediate = confirm_ms <= 0 or finding.urgent
            current = open_alerts[kind] = OpenAlert(ts_ms, finding.severity, confirmed=immediate)
            if current.confirmed:
                current.notified_ms = ts_ms
                changes.append(("open", kind, current, finding))
        elif finding is not None and current is not None:
            current.clear_since_ms = None
            if not current.confirmed:
                current.severity = max(current.severity, finding.severity, key=rank)
                # A reading stamped before the one that started the wait (a
                # device clock set back): the wait starts again from it, so a
                # clock that ran ahead cannot hold confirmation back.
                current.opened_ms = min(current.opened_ms, ts_ms)
                if ts_ms - current.opened_ms >= confirm_ms or finding.urgent:
                    current.confirmed = True
                    current.notified_ms = ts_ms
                    changes.append(("open", kind, current, finding))
            elif rank(finding.severity) > rank(current.severity):
                current.severity = finding.severity
                current.notified_ms = ts_ms
                changes.append(("escalated", kind, current, finding))
            elif renotify_ms > 0 and ts_ms - (current.notified_ms or current.opened_ms) >= renotify_ms:
                current.notified_ms = ts_ms
                changes.append(("reminder", kind, current, finding))
        elif current is not None:
            if not current.confirmed:
                del open_alerts[kind]  # gone before it was confirmed: never alarmed
                continue
            if current.clear_since_ms is None or ts_ms < current.clear_since_ms:
                current.clear_since_ms = ts_ms  # (earlier: a clock set back, as above)
            if ts_ms - current.clear_since_ms >= resolve_after_ms:
                del open_alerts[kind]
                changes.append(("resolved", kind, current, None))
    return changes


def event(
    *,
    subject: str,
    patient: str | None,
    device_id: str,
    status: str,
    kind: str,
    severity: str,
    opened_ms: int,
    event_ms: int,
    reading_id: str,
    evidence: dict[str, Any],
    episode_id: str | None = None,
) -> dict[str, Any]:
    """One alert event, as written to `vigil.alerts` (docs/alerts.md)."""
    return {
        "schema": SCHEMA,
        "alert_id": episode_id or alert_id(subject, kind, opened_ms),
        "patient": patient,
        "subject": subject,
        "device_id": device_id,
        "status": status,
        "severity": severity,
        "kind": kind,
        "event_time": iso(event_ms),
        "opened_at": iso(opened_ms),
        "reading_id": reading_id,
        "evidence": evidence,
    }
