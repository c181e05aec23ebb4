"""Scoring, the same for every method of a cohort.

- An alert onset is an `open` or `escalated` event; a notification is what a
  consumer of `vigil.alerts` is told: an onset or a `reminder`.
- A labelled event is detected when an onset falls in [onset - before, end];
  its delay runs from the event's onset (0 if the alert came just before), in
  time and in readings (the readings taken from the onset up to and including
  the one that raised the alert). With a deadline, it is caught in time when
  its first such onset is no later than the deadline.
- A false alert is an `open` outside every event's [onset - before, end +
  after] (and, where the cohort has one, after the probationary period).
- Stable patients are those without any labelled event.
- `window_score` (generic): see `nab_score`.
"""

from __future__ import annotations

import bisect
import math
import statistics
from dataclasses import dataclass
from typing import Any

from app.tools.evaluation.common import DAY, MINUTE, Event, SimPatient, patient_days
from app.tools.evaluation.methods import Alarm, Runner, Tuned

ONSETS = ("open", "escalated")
NOTIFICATIONS = ("open", "escalated", "reminder")
ARTIFACT_AFTER = 10 * MINUTE  # a false alert this soon after an artifact ended is put down to it

# The Numenta Anomaly Benchmark's standard profile (Lavin and Ahmad 2015):
# reward of an early detection, cost of a false positive, cost of a miss.
A_TP, A_FP, A_FN = 1.0, 0.11, 1.0


@dataclass(frozen=True)
class Rules:
    before_ms: int  # an alert this long before onset still detects the event
    after_ms: int  # alerts this long after an event's end are not false alerts
    probation: float = 0.0  # share of each stay whose alerts are not scored (generic)
    window_score: bool = False
    per_month: bool = False  # also report false alerts per patient-month (home)


def score(patients: list[SimPatient], run: Runner, rules: Rules) -> tuple[dict[str, Any], list[int]]:
    t = _Tally()
    sizes: list[int] = []
    for p in patients:
        alarms = list(run(p, sizes))
        t.add(p, alarms, rules)
    return t.result(patients, rules), sizes


def best(population: list[SimPatient], tuned: Tuned, rules: Rules) -> tuple[dict[str, Any], list[int]]:
    """The best window score (else the fewest false alerts) over the grid."""
    results = []
    for value, run in tuned.grid.items():
        result, _ = score(population, run, rules)
        result[tuned.setting] = value
        results.append(result)
    # The first of the best, as `max` gives it; an empty grid raises ValueError.
    return max(results, key=lambda r: r.get("window_score") or -r["false_alerts"]), []


class _Tally:
    def __init__(self) -> None:
        self.events = self.detected = self.false_alerts = self.notifications = 0
        self.in_time = self.with_deadline = 0
        self.in_time_by_kind: dict[str, list[int]] = {}  # kind -> [caught in time, events]
        self.stable_openings = self.stable_notifications = 0
        self.stable_days = 0.0
        self.delays: list[float] = []
        self.delays_by_kind: dict[str, list[float]] = {}
        self.delay_readings: list[int] = []
        self.in_artifacts: dict[str, int] = {}
        self.false_by_alert: dict[str, int] = {}  # alert kind (or a baseline's vital) -> false alerts
        self.nab = self.nab_null = self.nab_perfect = 0.0

    def add(self, p: SimPatient, alarms: list[Alarm], rules: Rules) -> None:
        times = [r["ts"] for r in p.readings]
        scored_from = times[0] + rules.probation * (times[-1] - times[0]) if times else 0
        onsets = [ts for status, ts, _ in alarms if status in ONSETS]
        notifications = sum(status in NOTIFICATIONS for status, _, _ in alarms)
        self.notifications += notifications
        for event in p.events:
            self._detect(event, onsets, times, rules)
        false_alarms = [
            (ts, kind)
            for status, ts, kind in alarms
            if status == "open"
            and ts >= scored_from
            and not any(e.onset_ms - rules.before_ms <= ts <= e.end_ms + rules.after_ms for e in p.events)
        ]
        false = [ts for ts, _ in false_alarms]
        self.false_alerts += len(false)
        for _, kind in false_alarms:
            self.false_by_alert[str(kind)] = self.false_by_alert.get(str(kind), 0) + 1
        for a in p.artifacts:
            kind = a.kind.split(":", 1)[0]
            hits = sum(a.onset_ms <= ts <= a.end_ms + ARTIFACT_AFTER for ts in false)
            self.in_artifacts[kind] = self.in_artifacts.get(kind, 0) + hits
        if not p.events and times:
            self.stable_days += (times[-1] - times[0]) / DAY
            self.stable_openings += sum(status == "open" for status, _, _ in alarms)
            self.stable_notifications += notifications
        if rules.window_score:
            detections = [ts for ts in onsets if ts >= scored_from]
            self.nab += nab_score(p.events, detections)
            self.nab_null += -A_FN * len(p.events)
            self.nab_perfect += A_TP * _sigmoid(-1.0) * len(p.events)

    def _detect(self, event: Event, onsets: list[int], times: list[int], rules: Rules) -> None:
        self.events += 1
        hits = [ts for ts in onsets if event.onset_ms - rules.before_ms <= ts <= event.end_ms]
        if event.deadline_ms is not None:
            self.with_deadline += 1
            caught = bool(hits) and min(hits) <= event.deadline_ms
            self.in_time += caught
            tally = self.in_time_by_kind.setdefault(event.kind, [0, 0])
            tally[0] += caught
            tally[1] += 1
        if not hits:
            return
        first = min(hits)
        self.detected += 1
        delay = max(0, first - event.onset_ms) / 1000
        self.delays.append(delay)
        self.delays_by_kind.setdefault(event.kind, []).append(delay)
        self.delay_readings.append(
            max(0, bisect.bisect_right(times, first) - bisect.bisect_left(times, event.onset_ms))
        )

    def result(self, patients: list[SimPatient], rules: Rules) -> dict[str, Any]:
        days = patient_days(patients)
        r: dict[str, Any] = {
            "sensitivity": round(self.detected / self.events, 3) if self.events else None,
            "false_alerts_per_patient_day": _per(self.false_alerts, days),
            "median_delay_s": round(statistics.median(self.delays), 1) if self.delays else None,
            "events": self.events,
            "detected": self.detected,
            "false_alerts": self.false_alerts,
            "median_delay_readings": statistics.median(self.delay_readings) if self.delay_readings else None,
            "notifications": self.notifications,
            "notifications_per_patient_day": _per(self.notifications, days),
            "openings_per_stable_patient_day": _per(self.stable_openings, self.stable_days),
            "notifications_per_stable_patient_day": _per(self.stable_notifications, self.stable_days),
        }
        if self.with_deadline:
            r["caught_in_time"] = round(self.in_time / self.with_deadline, 3)
            r["caught_in_time_by_kind"] = {
                k: round(c / n, 3) for k, (c, n) in sorted(self.in_time_by_kind.items())
            }
        if rules.per_month:
            r["false_alerts_per_patient_month"] = _per(30 * self.false_alerts, days)
        if self.delays_by_kind:
            r["median_delay_s_by_kind"] = {
                kind: round(statistics.median(delays), 1)
                for kind, delays in sorted(self.delays_by_kind.items())
            }
        if self.false_by_alert:
            r["false_alerts_by_alert_kind"] = dict(sorted(self.false_by_alert.items()))
        if self.in_artifacts:
            r["false_alerts_in_artifacts"] = dict(sorted(self.in_artifacts.items()))
        if rules.window_score:
            span = self.nab_perfect - self.nab_null
            r["window_score"] = round(100 * (self.nab - self.nab_null) / span, 1) if span else None
            r["window_score_raw"] = round(self.nab, 2)
        return r


def _per(count: float, days: float) -> float | None:
    return round(count / days, 2) if days else None


def _sigmoid(y: float) -> float:
    """NAB's scaled sigmoid: 0.987 at y = -1 (a window's start), 0 at its end
    (y = 0), tending to -1 long after it (exactly -1 from y = 100 on, where
    exp would overflow: a false alert days after a two-hour window)."""
    return 2 / (1 + math.exp(5 * y)) - 1 if y < 100 else -1.0


def nab_score(windows: list[Event], detections: list[int]) -> float:
    """One series' raw window score, in the style of the Numenta Anomaly
    Benchmark (Lavin and Ahmad, "Evaluating real-time anomaly detection
    algorithms", 2015), on event time:

    - each labelled window [start, end] earns A_TP * sigmoid(y) for its first
      detection, where y = -(end - t) / (end - start) runs from -1 at the
      window's start to 0 at its end: the earlier, the closer to 1; later
      detections in the same window count neither way;
    - a window without detection costs A_FN;
    - a detection outside every window costs A_FP * sigmoid(y) (negative) with
      y = (t - end) / (end - start) of the last window before it (so one just
      after a window costs little, one long after costs nearly A_FP), or
      A_FP in full before the first window;

    sigmoid(y) = 2 / (1 + exp(5 y)) - 1. The cohort's score is normalised as
    100 * (raw - null) / (perfect - null), where null is the raw score of a
    detector that never fires (-A_FN per window) and perfect that of one that
    fires at every window's start: 0 is no better than silence, 100 is perfect.
    """
    ordered = sorted(windows, key=lambda w: w.onset_ms)
    total = 0.0
    caught: set[int] = set()
    for t in sorted(detections):
        inside = next((i for i, w in enumerate(ordered) if w.onset_ms <= t <= w.end_ms), None)
        if inside is not None:
            if inside not in caught:
                caught.add(inside)
                w = ordered[inside]
                total += A_TP * _sigmoid(-(w.end_ms - t) / max(1, w.end_ms - w.onset_ms))
            continue
        before = [w for w in ordered if w.end_ms < t]
        if before:
            w = before[-1]
            total += A_FP * _sigmoid((t - w.end_ms) / max(1, w.end_ms - w.onset_ms))
        else:
            total -= A_FP
    return total - A_FN * (len(ordered) - len(caught))
