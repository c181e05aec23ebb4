"""Alert events and their lifecycle.

Per patient and kind of condition, an alert opens, may escalate, and resolves;
every event of one episode carries the same `alert_id`, derived from the
patient's pseudonym, the kind and the event time at which the episode opened. Re-emitting
an event (after a worker restart, say) therefore yields the same id, and
consumers can deduplicate on (`alert_id`, `status`, `severity`, `event_time`).

The schema is `vigil.alert/1`, documented in docs/alerts.md.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

SCHEMA = "vigil.alert/1"
_ALERT_NS = uuid.UUID("0b6c1f8e-54a7-4c1b-8d8e-6a2f3c9e7d21")


class Kind(StrEnum):
    """What an alert event is about (`kind` in docs/alerts.md)."""

    NEWS2 = "news2"  # the safety net: NEWS2 from the latest value of each parameter
    ANOMALY = "anomaly"  # far from this patient's learned normal
    TREND = "trend"  # heading for a dangerous range
    SIGNAL_QUALITY = "signal_quality"  # a channel sending artifacts again and again
    BASELINE_DRIFT = "baseline_drift"  # a notice: a vital's level moved for good
    NO_SIGNAL = "no_signal"  # a technical notice: a channel without signal (0) for a while, or back


class Status(StrEnum):
    """Where an alert is in its lifecycle (`status` in docs/alerts.md)."""

    OPEN = "open"
    ESCALATED = "escalated"
    REMINDER = "reminder"
    RESOLVED = "resolved"
    NOTICE = "notice"  # one-off events (baseline_drift), no lifecycle


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


# Kinds with a lifecycle, in the order their changes are reported.
LIFECYCLE_KINDS = (Kind.NEWS2, Kind.ANOMALY, Kind.TREND, Kind.SIGNAL_QUALITY)
PHYSIOLOGY = frozenset({Kind.NEWS2, Kind.ANOMALY, Kind.TREND})
SEVERITIES = tuple(Severity)
RENOTIFY_READINGS = 4  # reminders at most every this many readings at the patient's cadence
# ... a `trend`'s backing off up to this many readings when that is longer than
# `renotify_max_ms` (not when that is a fixed interval): a daily scale's gain open for weeks was
# reminded of every four days, 6-14 times, and a scale's BMI read twice a week 8 times in 25 days
# (outside testers' home logs); they back off to 16 days. Not a NEWS2 alert's: its reminder
# re-arms the parts told at their worst, and a relapse to an SpO2 of 86 twice a day was told only
# by a reminder 84 hours on (an outside reviewer).
RENOTIFY_MAX_READINGS = 16
SETTLE_CADENCES = 2  # a severity follows its condition down after this many cadences lower (`_settle`)
# A patient or a channel read this rarely or less often is sparse (charted, a spot check):
# the reading itself is the confirmation, where waiting for the next one would
# mean waiting that long.
SPARSE_MS = 5 * 60 * 1000
RISE_CADENCES = 2  # a rise not seen again within this many cadences lapses unconfirmed (`_rise_confirmed`)
RESOLVE_CADENCES = 2  # a condition gone for this many cadences resolves, when longer than `resolve_after_ms`
# ... but for no longer than this, nor `resolve_after_ms` when longer: a channel read every few
# months, a pulse of 147 re-taken at 100 and 94 three days on and 49 a week on, held its alert
# open 16 months, to the next reading (an outside tester's home log). A daily scale's two
# cadences are this. A flap's wait doubles the uncapped one: a weekly pulse of 140 at every
# third check opened three times where it opened once (an outside reviewer).
RESOLVE_MAX_MS = 2 * 24 * 60 * 60 * 1000
# (one let a charted NEWS2 on a band's edge open three times in 8 hours on a real ICU stay)
# An alert that opens within this many resolution waits of its kind's last
# resolution is a flap: its own wait to resolve doubles for each flap in a
# row, up to 2 ** FLAP_DOUBLINGS times (`_flaps`).
REOPEN_WAITS = 4
FLAP_DOUBLINGS = 2
_RANK = {s: i for i, s in enumerate(SEVERITIES)}
# The severity of a NEWS2 alert by the score's clinical risk band (`news2.Score.band`; docs/alerts.md).
NEWS2_SEVERITY = {"high": Severity.HIGH, "medium": Severity.MEDIUM, "low_medium": Severity.LOW}


def rank(severity: str) -> int:
    return _RANK[severity]  # type: ignore[index]  # a Severity, or its value


def alert_id(subject: str, kind: str, opened_ms: int) -> str:
    """Derived from the patient's pseudonym, the kind and the opening event time."""
    return str(uuid.uuid5(_ALERT_NS, f"{subject}\x1f{kind}\x1f{opened_ms}"))


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class OpenAlert:
    opened_ms: int  # event time the condition was first seen (also the alert id's)
    severity: Severity
    clear_since_ms: int | None = None  # event time the condition stopped holding
    confirmed: bool = True  # False while the condition awaits confirmation
    notified_ms: int | None = None  # event time of the last open, escalation or reminder
    lower_since_ms: int | None = None  # event time the condition fell below `severity` (still holding)
    reminders: int = 0  # reminders since it opened (`reminder_due`)
    marks: int = 0  # parts of the condition at their worst when last told (`Finding.marks`)
    # the severity last told, when not `severity` (which settled lower since, `_settle`, and may
    # have risen again as far as it); None: `severity`
    told: Severity | None = None
    # a rise above what was last told (a higher severity, or a part newly at its worst) awaiting
    # confirmation (`_rise_confirmed`): [event time first seen, event time last seen]; None: none
    rise: list[int] | None = None
    # parts told at their worst (of `LAPSING_MARKS`) no longer so: [event time since, those
    # parts] (`_lapse`); None: none
    lapsed: list[int] | None = None


# The bits of `Finding.marks` that are news when newly set; those above are kept with the
# alert's marks but never told (`app.core.patient._HELD_SHIFT`: what may hold it open).
NEWS_MARKS = (1 << 20) - 1
# Per kind, the parts told once an alert's episode, whatever it says after (inside
# a `trend`: the severe blood pressure rule's, the heart-failure weight rule's, each
# channel's level shift; `app.core.patient._TREND_MARKS`): neither a reminder nor a
# settle re-arms them (the severe pressure's and the weight's rules do, when a run
# ends). A patient at 178-192 for weeks had the re-take after each reminder at 179
# told as a new escalation (an outside reviewer). Low bits: a state at its bound has
# no bytes to spare for a long number.
ONCE_MARKS: dict[Kind, int] = {Kind.TREND: (1 << 9) - 1}
# Per kind, the parts that are news again when they come back after `LAPSE_MS` no
# longer at their worst, even while the severity holds (`_lapse`): NEWS2's calling
# criteria past red and a mean under its floor with the systolic red
# (`app.core.patient._BEYOND_RED`, `_SHOCK_BIT`). Each is held within a margin once
# told, so a value hovering about one lapses only once clear of it. A parameter's own
# red (scoring 3) has no margin: a pulse flickering at 38-44 about red at 40 would be
# told at each dip.
LAPSING_MARKS: dict[Kind, int] = {Kind.NEWS2: 0b11111 << 12}
# ... after this long, or a settle's wait when longer (two charted rounds): a monitor's
# systolic wandering 82-99 for 13 minutes between two dips to 76 is one hypotension.
LAPSE_MS = 60 * 60 * 1000


@dataclass(frozen=True, slots=True)
class Finding:
    """A condition that holds for the current reading."""

    kind: Kind
    severity: Severity
    evidence: dict[str, Any]
    urgent: bool = False  # opens without waiting for confirmation
    hold_ms: int = 0  # must hold at least this long to open (a longer confirmation than `confirm_ms`)
    # Parts of the condition at their worst now, one bit each (NEWS2: the
    # parameters scoring 3): one not at its worst when last told escalates.
    marks: int = 0
    # Made only of values that came before this reading (NEWS2 at a reading of
    # another device): it holds, but it confirms nothing, so a condition seen
    # in one value is not confirmed by readings that say nothing of it.
    stale: bool = False
    # Its own confirmation: spot measurements (charted, a home device: waiting
    # for the next would mean waiting that long), or a rule that confirmed
    # its run itself. A rise in it escalates at once (`_rise_confirmed`).
    spot: bool = False


@dataclass(frozen=True, slots=True)
class Change:
    """One step of an alert's lifecycle, to be emitted as an event."""

    status: Status
    kind: Kind
    alert: OpenAlert
    finding: Finding | None  # None when resolved
    told: int = 0  # an escalation's marks not told before (`Finding.marks`): what is new in it


def transition(
    open_alerts: dict[Kind, OpenAlert],
    kinds: tuple[Kind, ...],
    findings: dict[Kind, Finding],
    ts_ms: int,
    *,
    resolve_after_ms: int,
    confirm_ms: int,
    renotify_ms: int,
    muted: frozenset[Kind] = frozenset(),
    cadence_ms: float = 0,
    renotify_max_ms: int = 0,
    flaps: dict[Kind, list[int]] | None = None,
    pace_ms: float = 0,
    waits: frozenset[Kind] = frozenset(),
    refuted: frozenset[Kind] = frozenset(),
) -> list[Change]:
    """Advance the lifecycle of each kind given what holds now.

    Returns a `Change` for every step:

    - "open" once a condition has held on consecutive readings for
      `confirm_ms` of event time (a short confirmation delay: on SpO2, 15 s
      removed 60 % of alarms, ../shared/reference/clinical.md); a condition
      that goes away before that never alarms. An urgent finding, or
      `confirm_ms` 0, opens at once; except where the patient is read more
      often than every `confirm_ms` (`cadence_ms`: a wearable every second
      or few), where confirming costs seconds, not a reading's wait, and
      one movement of the wrist moves every value its sensor derives: there
      an urgent finding also holds for `confirm_ms`;
    - "escalated" when an open alert's severity rises, or when a part of its
      condition reaches its worst that was not there when last told
      (`Finding.marks`: a NEWS2 parameter newly scoring 3 inside a high
      alert, a new hypoxia in a sedated patient). The severity follows the
      condition down as well, without an event of its own, once the
      condition has held only at a lower severity for `resolve_after_ms`, or
      `SETTLE_CADENCES` of the patient's cadence when that is longer
      (`_settle`): a NEWS2 alert whose band went back from high to medium is
      medium again, and the next rise to high escalates again (a new
      emergency trigger), as NEWS2 on its own would call it. A rise that
      stays below the severity last told is not told (a high alert settled
      to low, then medium: its consumers have high); the next reminder
      carries it. A part newly at its worst is told all the same, at the
      severity the condition has settled to; a part no longer at its worst
      when the severity settles is news again when it comes back. A score that
      dips for one charted value and comes back is the same trigger, not a
      new one;
    - "reminder" while it still holds (`renotify_ms` 0: never): the first
      `renotify_ms` after the open, each later one twice as long after the
      notification before (an escalation is one), up to `renotify_max_ms`
      (`reminder_due`), and no more often than every `RENOTIFY_READINGS`
      readings at the patient's cadence (`cadence_ms`, the typical time
      between readings): hourly charting is first reminded of after four
      hours, not at every charted value; a `trend`'s backing off up to
      `RENOTIFY_MAX_READINGS` readings when that is longer (a daily scale:
      4, 8, then 16 days);
    - "resolved" once the condition has not held for `resolve_after_ms`, or
      for `RESOLVE_CADENCES` of the patient's cadence when that is longer
      (charted hourly: the third charted value in a row without it), or
      of `pace_ms` when shorter (the step a sparse channel is read at again
      after a gap, while its cadence still counts the gap), and at most
      `RESOLVE_MAX_MS` (two days) of them, but for a flap. The
      wait damps flapping: a condition that comes and goes keeps one alert
      open instead of opening a new one each time (alarm on onset and
      resolution, not repeatedly). Resolving at the first reading without
      the condition, as before, opened a third of the alerts on public
      intensive-care charts within two hours of the same kind's resolution
      (a value charted on a NEWS2 band's edge, in and out of it). An alert
      that opens soon after its kind last resolved waits longer (`_flaps`).
      An alert of a kind in `refuted` resolves at once when its condition
      does not hold: a re-take refuted the reading it opened at
      (`app.core.patient._refuted`). A home cuff's 75/55 re-taken at 120/70
      56 s later held a NEWS2 alert for two days (an outside tester's real
      log). Its resolution counts for `_flaps` as any.

    Kinds in `muted` open no new alert unless the finding is urgent; alerts
    already open carry on. An alert of a kind in `waits` does not resolve at
    this reading (one that shows its condition's value, not yet its
    condition); its wait goes on. `open_alerts` is updated in place, and so is
    `flaps` (kind -> [event time its last alert resolved, flaps in a row]),
    when given.
    """
    changes: list[Change] = []
    settle_ms = max(resolve_after_ms, int(SETTLE_CADENCES * cadence_ms))
    pace = pace_ms if 0 < pace_ms < cadence_ms else cadence_ms
    uncapped = max(resolve_after_ms, int(RESOLVE_CADENCES * pace))  # a flap's wait doubles this
    resolve_after_ms = min(uncapped, max(resolve_after_ms, RESOLVE_MAX_MS))
    backs_off = renotify_max_ms > renotify_ms  # an operator's fixed interval stays fixed
    if renotify_ms > 0 and RENOTIFY_READINGS * cadence_ms > renotify_ms:
        renotify_ms = int(RENOTIFY_READINGS * cadence_ms)
    # A `trend`'s reminders back off to 16 readings; a NEWS2 alert's reminder re-arms its marks.
    trend_max_ms = renotify_max_ms
    if backs_off:
        trend_max_ms = max(renotify_max_ms, int(RENOTIFY_MAX_READINGS * cadence_ms))
    for kind in kinds:
        finding = findings.get(kind)
        current = open_alerts.get(kind)
        if finding is not None and current is None:
            if kind in muted and not finding.urgent:
                continue
            confirmed = opens_now(None, finding, ts_ms, confirm_ms, cadence_ms)
            current = open_alerts[kind] = OpenAlert(ts_ms, finding.severity, confirmed=confirmed)
            change = _opened(kind, current, finding, ts_ms) if confirmed else None
        elif finding is not None and current is not None:
            most = trend_max_ms if kind is Kind.TREND else renotify_max_ms
            change = _still_holds(
                kind, current, finding, ts_ms, confirm_ms, cadence_ms, settle_ms, renotify_ms, most
            )
        elif current is not None:
            wait = uncapped << flaps[kind][1] if flaps and kind in flaps else resolve_after_ms
            if kind in refuted:
                wait = 0
            change = _cleared(open_alerts, kind, current, ts_ms, wait, kind in waits)
        else:
            if flaps and kind in flaps and ts_ms - flaps[kind][0] > REOPEN_WAITS * resolve_after_ms:
                del flaps[kind]  # quiet long enough: the next opening is no flap
            change = None
        if flaps is not None and change is not None and change.status in (Status.OPEN, Status.RESOLVED):
            _flaps(flaps, kind, change.status, ts_ms, REOPEN_WAITS * resolve_after_ms)
        if change is not None:
            changes.append(change)
    return changes


def _flaps(flaps: dict[Kind, list[int]], kind: Kind, status: Status, ts_ms: int, window_ms: int) -> None:
    """Keep count of an alert kind's flaps: openings within `window_ms` of
    its last resolution, in a row. The alert open now waits 2 ** flaps times
    as long to resolve (at most 2 ** `FLAP_DOUBLINGS`). A patient who sits
    on a NEWS2 band's edge for hours (a score of 5 to 7, then 3 for a quarter
    of an hour, then 5 again: MIMIC-II numerics, docs/evaluation.md) has one
    alert that stays open, escalating when it rises, instead of a new
    opening every half hour: a third of the NEWS2 openings on those
    recordings came within 30 minutes of the last resolution. Nothing is
    lost by the wait: the alert is still open, and what is new escalates.
    An opening after a quiet `window_ms` starts the count again."""
    last = flaps.get(kind)
    if status == Status.RESOLVED:
        flaps[kind] = [ts_ms, last[1] if last else 0]
    elif last is not None and ts_ms - last[0] <= window_ms:
        last[1] = min(last[1] + 1, FLAP_DOUBLINGS)
    else:
        flaps.pop(kind, None)


def _opened(kind: Kind, current: OpenAlert, finding: Finding, ts_ms: int) -> Change:
    """The alert opens (confirmed) now."""
    current.confirmed = True
    current.notified_ms = ts_ms
    current.reminders = 0
    current.marks = finding.marks
    current.told = None
    current.rise = None
    return Change(Status.OPEN, kind, current, finding)


def opens_now(
    current: OpenAlert | None, finding: Finding, ts_ms: int, confirm_ms: int, cadence_ms: float
) -> bool:
    """Does `finding` open its kind's alert at this reading (`current`: the
    alert awaiting confirmation, None when there is none yet)? Once held
    `confirm_ms` (or the finding's longer `hold_ms`) of event time, at once
    when urgent or when `confirm_ms` is 0; a finding made only of values
    from before this reading (`stale`) never does. Where the patient is read
    more often than every `confirm_ms` (`cadence_ms`), an urgent finding
    holds for `confirm_ms` too (`transition`), unless all its values are
    spot measurements (`Finding.spot`): a wrist's motion throws off the
    wearable's own values, not a cuff's or a finger probe's, and a cuff's
    84/50 beside a heart rate every 5 seconds waited for the cuff's next
    value, 12 hours on (an outside reviewer)."""
    if finding.stale:
        return False
    urgent = finding.urgent and (finding.spot or not 0 < cadence_ms < confirm_ms)
    if current is None:
        return confirm_ms <= 0 or urgent
    return urgent or ts_ms - current.opened_ms >= max(confirm_ms, finding.hold_ms)


def _still_holds(
    kind: Kind,
    current: OpenAlert,
    finding: Finding,
    ts_ms: int,
    confirm_ms: int,
    cadence_ms: float,
    settle_ms: int,
    renotify_ms: int,
    renotify_max_ms: int,
) -> Change | None:
    """The condition of an alert (open, or awaiting confirmation) holds again:
    it opens once confirmed, escalates when worse, settles when lower for
    long enough, reminds when due."""
    current.clear_since_ms = None
    if not current.confirmed:
        current.severity = max(current.severity, finding.severity, key=rank)
        # A stale finding (nothing new of it in this reading) neither lapses nor confirms.
        return (
            _opened(kind, current, finding, ts_ms)
            if opens_now(current, finding, ts_ms, confirm_ms, cadence_ms)
            else None
        )
    _lapse(kind, current, finding, ts_ms, settle_ms)
    rises = rank(finding.severity) > rank(current.severity)
    told = finding.marks & ~current.marks & NEWS_MARKS
    gap = max(RISE_CADENCES * cadence_ms, confirm_ms)
    if rises or told:
        current.lower_since_ms = None
        if not _rise_told_now(current, finding, bool(told), ts_ms, confirm_ms, cadence_ms, settle_ms, gap):
            return None  # awaiting confirmation: nothing else is told meanwhile
    elif current.rise is not None and ts_ms - current.rise[1] > gap:
        current.rise = None  # lapsed
    if rises:
        current.severity = finding.severity
        # A rise back from a settled severity is news only as far as the
        # severity last told: a high alert settled to low and risen to medium
        # was told as `escalated` at `medium`, below what its consumers had.
        rises = current.told is None or rank(finding.severity) >= rank(current.told)
    if rises or told:
        current.notified_ms = ts_ms
        current.marks |= finding.marks
        current.told = None
        return Change(Status.ESCALATED, kind, current, finding, told)
    _settle(current, finding, ts_ms, settle_ms)
    if reminder_due(current, ts_ms, renotify_ms, renotify_max_ms):
        current.notified_ms = ts_ms
        current.reminders += 1
        current.marks = finding.marks | (current.marks & ONCE_MARKS.get(kind, 0))
        current.told = None
        return Change(Status.REMINDER, kind, current, finding)
    return None


def _rise_told_now(
    current: OpenAlert,
    finding: Finding,
    told: bool,
    ts_ms: int,
    confirm_ms: int,
    cadence_ms: float,
    settle_ms: int,
    gap_ms: float,
) -> bool:
    """Is a rise in an open alert's condition (`told`: a part newly at its
    worst) told at this reading? A part newly at its worst is confirmed at a
    second reading (its rule has waited already: a calling criterion's
    smoothed level; an arousal's hold is not added on top, which told a
    heart rate over 160 five minutes late), and at once when urgent, as it
    would open: a new trigger. A rise back to a severity told before it
    settled (`OpenAlert.told`) holds as long as the settle took; a first
    rise is confirmed as an opening (`_rise_confirmed`)."""
    last = current.told
    back = not told and last is not None and rank(finding.severity) <= rank(last)
    urgent = finding.urgent and not finding.stale and not 0 < cadence_ms < confirm_ms
    if urgent and (told or (not back and cadence_ms >= SPARSE_MS)):
        current.rise = None
        return True
    if told:
        need = confirm_ms
    elif back:
        need = max(confirm_ms, finding.hold_ms, settle_ms)
    else:
        need = max(confirm_ms, finding.hold_ms)
    return _rise_confirmed(current, finding, ts_ms, need, gap_ms)


def _rise_confirmed(current: OpenAlert, finding: Finding, ts_ms: int, need_ms: int, gap_ms: float) -> bool:
    """Is a rise in an open alert's condition (a higher severity, or a part
    newly at its worst) confirmed at this reading? It runs from the first
    reading that showed it (`OpenAlert.rise`) through each later one that
    shows it again within `gap_ms` (`RISE_CADENCES` of the patient's
    cadence) of the one before, readings between at a lower severity
    notwithstanding (another device's, which does not measure the risen
    vital); it is confirmed once it has run `need_ms`: the opening's
    confirmation (`confirm_ms`, or the finding's longer `hold_ms`: two
    readings or more), or, for a rise back to a severity told before it
    settled, as long as the settle took (hysteresis in time, both ways).
    At once when the finding is its own confirmation (`Finding.spot`: spot
    measurements, or a rule that confirmed its run) or `need_ms` is 0. A
    finding made only of values from before this reading (`stale`) neither
    begins nor confirms one.

    One reading escalated before: on a patient with an SpO2 of 90-91 read
    every minute (a `low` alert open), each single minute the breathing
    count read 21 made NEWS2 5 and an `escalated` to medium, six times in
    2.4 hours; an anomaly about a heart rate near 8 SDs out escalated to
    medium 8-11 times in 5 hours, each after its severity settled (outside
    testers). A rise that lasts is told a reading later, a rise back after
    a settle once it has lasted as long; a charted rise at its reading."""
    if finding.spot or need_ms <= 0:
        current.rise = None
        return not finding.stale
    run = current.rise
    if run is None or ts_ms - run[1] > gap_ms:
        if finding.stale:
            current.rise = None
            return False
        run = current.rise = [ts_ms, ts_ms]  # the first reading of a rise, or the last run lapsed
    else:
        run[1] = ts_ms
    if finding.stale or ts_ms - run[0] < need_ms:
        return False
    current.rise = None
    return True


def _settle(current: OpenAlert, finding: Finding, ts_ms: int, settle_ms: int) -> None:
    """An open alert's severity follows its condition down once the condition
    has held only at a lower severity for `settle_ms` (the wait that damps a
    resolution damps this too: a band flickering down for one reading of a
    dense monitor, or for one charted value, changes nothing). No event says
    so (the next reminder or resolution carries the severity); what it
    changes is that a rise back escalates again, instead of hiding behind
    the severity reached once."""
    if rank(finding.severity) >= rank(current.severity):
        current.lower_since_ms = None
        return
    if current.lower_since_ms is None:
        current.lower_since_ms = ts_ms
    if ts_ms - current.lower_since_ms >= settle_ms:
        if current.told is None:
            current.told = current.severity
        current.severity = finding.severity
        current.lower_since_ms = None
        # The parts no longer at their worst settle with it (the held marks, above
        # `NEWS_MARKS`, are kept): one at its worst again is news. A heart rate under
        # 30 told a day before stayed marked through a settle and a rise back that
        # told 44, and its fall to 25 in the same open alert was told by nothing
        # (an outside tester, PhysioNet 2012).
        current.marks &= finding.marks | ONCE_MARKS.get(finding.kind, 0) | ~NEWS_MARKS


def _lapse(kind: Kind, current: OpenAlert, finding: Finding, ts_ms: int, settle_ms: int) -> None:
    """Parts told at their worst (of `LAPSING_MARKS`) no longer so for
    `LAPSE_MS`, or `settle_ms` when longer, are news again when they come
    back, though the severity holds: a systolic told under 80, back at 89-91
    for three hourly rounds, then at 52, 44, 41 in an alert held high by the
    rest of its score, was told by nothing for 14 hours (an outside tester,
    PhysioNet 2012 stay 133079). The wait begins again whenever the parts
    lapsed change: a heart rate back under 160 for an hour does not re-arm a
    systolic back over 85 for 15 minutes (an outside reviewer). Run at every
    reading the alert holds at, an escalation's too. A part whose vital is
    not measured now is neither (`app.core.patient._beyond_red` holds it).
    One settle of the severity (`_settle`) re-arms every part not at its
    worst at once, as before."""
    lapsed = current.marks & LAPSING_MARKS.get(kind, 0) & ~finding.marks
    if not lapsed:
        current.lapsed = None
    elif current.lapsed is None or current.lapsed[1] != lapsed:
        current.lapsed = [ts_ms, lapsed]
    elif ts_ms - current.lapsed[0] >= max(settle_ms, LAPSE_MS):
        current.marks &= ~lapsed
        current.lapsed = None


def reminder_due(current: OpenAlert, ts_ms: int, renotify_ms: int, renotify_max_ms: int) -> bool:
    """Is a reminder of this open alert due? The first comes `renotify_ms`
    after it opened; each later one twice as long after the notification
    before it (1, 2, 4, 8 ... times `renotify_ms`), up to `renotify_max_ms`
    (at most `renotify_ms` there: a fixed interval, as before). A reminder
    guards against a missed notification: the longer an alert has been open,
    the surer it is that it was seen, and each repeat of the same news is one
    more alarm that is not actionable (alarm fatigue: ../shared/reference/
    clinical.md). What is new is told at once by an escalation, itself a
    notification, so the next reminder comes one interval after it; it does
    not restart the back-off, or a patient whose NEWS2 sits on a band's edge
    for days would be reminded anew after every flicker."""
    if renotify_ms <= 0:
        return False
    interval = renotify_ms * (1 << min(current.reminders, 30))
    if interval > renotify_max_ms:
        interval = max(renotify_ms, renotify_max_ms)
    return ts_ms - (current.notified_ms or current.opened_ms) >= interval


def _cleared(
    open_alerts: dict[Kind, OpenAlert],
    kind: Kind,
    current: OpenAlert,
    ts_ms: int,
    resolve_after_ms: int,
    waits: bool = False,
) -> Change | None:
    """The condition of an alert does not hold: it resolves once gone for
    `resolve_after_ms`, not at a reading it `waits` at; one never confirmed
    is dropped without a word."""
    if not current.confirmed:
        del open_alerts[kind]  # gone before it was confirmed: never alarmed
        return None
    if current.clear_since_ms is None:
        current.clear_since_ms = ts_ms
    if current.lower_since_ms is None:  # gone is lower too: the severity settles over both (`_settle`)
        current.lower_since_ms = ts_ms
    if ts_ms - current.clear_since_ms >= resolve_after_ms and not waits:
        del open_alerts[kind]
        return Change(Status.RESOLVED, kind, current, None)
    return None


def event(
    *,
    subject: str,
    patient: str | None,
    device_id: str,
    status: Status,
    kind: Kind,
    severity: Severity,
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
