"""The alert lifecycle (`transition`), step by step in event time."""

from __future__ import annotations

from collections.abc import Callable

from app.core.alerts import SETTLE_CADENCES, Finding, Kind, OpenAlert, Severity, Status, opens_now, transition

KINDS = (Kind.NEWS2, Kind.ANOMALY)
S = 1000
HOUR = 3600 * S


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
    assert step(alerts, 20 * S, finding(Severity.HIGH)) == []  # a rise, confirmed as an opening is
    assert step(alerts, 35 * S, finding(Severity.HIGH)) == [(Status.ESCALATED, Severity.HIGH)]
    assert step(alerts, 45 * S, finding(Severity.HIGH)) == []
    assert step(alerts, 3635 * S, finding(Severity.HIGH)) == [(Status.REMINDER, Severity.HIGH)]
    assert step(alerts, 3700 * S, None) == []  # gone: the resolution wait starts
    assert step(alerts, 3800 * S, finding()) == []  # back: the wait starts over
    assert step(alerts, 3900 * S, None) == []
    assert step(alerts, 4499 * S, None) == []
    assert step(alerts, 4500 * S, None) == [(Status.RESOLVED, Severity.HIGH)]
    assert alerts == {}


def test_the_severity_follows_the_condition_down_and_a_new_rise_escalates_again() -> None:
    """A clinician told "high" once must be told again when the patient, back
    at medium for a while, is high again: that is a new emergency trigger,
    once it has lasted as long as the settle took (hysteresis in time)."""
    alerts: dict[Kind, OpenAlert] = {}
    step(alerts, 0, finding())
    assert step(alerts, 15 * S, finding()) == [(Status.OPEN, Severity.MEDIUM)]
    assert step(alerts, 20 * S, finding(Severity.HIGH)) == []
    assert step(alerts, 35 * S, finding(Severity.HIGH)) == [(Status.ESCALATED, Severity.HIGH)]
    assert step(alerts, 60 * S, finding()) == []  # lower for a moment: still high (damped as a resolution is)
    assert step(alerts, 90 * S, finding(Severity.HIGH)) == []  # so this is no news
    assert alerts[Kind.ANOMALY].severity is Severity.HIGH
    assert step(alerts, 100 * S, finding()) == []
    assert step(alerts, 700 * S, finding()) == []  # medium for the resolution wait: settled, silently
    assert alerts[Kind.ANOMALY].severity is Severity.MEDIUM
    for t in range(800, 1400, 10):  # high again, read every 10 s: not yet as long as the settle took
        assert step(alerts, t * S, finding(Severity.HIGH)) == []
    assert step(alerts, 1400 * S, finding(Severity.HIGH)) == [(Status.ESCALATED, Severity.HIGH)]


def test_a_rise_seen_at_one_reading_escalates_nothing() -> None:
    """A monitor's single minute at a higher severity is no escalation: on a
    patient with an SpO2 of 90-91 read every minute (a `low` alert open),
    each single minute the breathing count read 21 made NEWS2 5 and an
    `escalated` to medium, six times in 2.4 hours (an outside tester). A
    rise seen again within two cadences is confirmed, as an opening is;
    readings between at the lower severity (another device's) do not undo
    it; a finding made only of earlier values (`stale`) confirms nothing."""
    minute = 60 * S

    def at(alerts: dict[Kind, OpenAlert], m: float, severity: Severity, stale: bool = False) -> list[Status]:
        held = Finding(Kind.ANOMALY, severity, {}, stale=stale)
        changes = transition(
            alerts, KINDS, {Kind.ANOMALY: held}, int(m * minute), resolve_after_ms=600 * S,
            confirm_ms=15 * S, renotify_ms=0, cadence_ms=minute,
        )  # fmt: skip
        return [c.status for c in changes]

    alerts: dict[Kind, OpenAlert] = {}
    assert at(alerts, 0, Severity.LOW) == []
    assert at(alerts, 1, Severity.LOW) == [Status.OPEN]
    for m in range(2, 120):  # a single minute medium every 20 minutes
        assert at(alerts, m, Severity.MEDIUM if m % 20 == 0 else Severity.LOW) == []
    assert alerts[Kind.ANOMALY].severity is Severity.LOW
    assert at(alerts, 120, Severity.MEDIUM) == []
    assert at(alerts, 120.2, Severity.LOW) == []  # another device's reading between
    assert at(alerts, 120.5, Severity.MEDIUM, stale=True) == []  # says nothing new of it
    assert at(alerts, 121, Severity.MEDIUM) == [Status.ESCALATED]
    assert alerts[Kind.ANOMALY].severity is Severity.MEDIUM


def test_a_spot_finding_or_a_part_newly_at_its_worst_urgent_escalates_at_once() -> None:
    """A charted value is its own confirmation (`Finding.spot`), and a part
    newly at its worst (a new red parameter) with the evidence of two vitals
    (`urgent`) is a new trigger, told as it would open: neither waits for a
    next reading on a patient read every minute."""
    minute = 60 * S

    def at(alerts: dict[Kind, OpenAlert], m: int, held: Finding) -> list[Status]:
        changes = transition(
            alerts, KINDS, {Kind.ANOMALY: held}, m * minute, resolve_after_ms=600 * S,
            confirm_ms=15 * S, renotify_ms=0, cadence_ms=minute,
        )  # fmt: skip
        return [c.status for c in changes]

    alerts: dict[Kind, OpenAlert] = {}
    assert at(alerts, 0, Finding(Kind.ANOMALY, Severity.LOW, {}, urgent=True)) == [Status.OPEN]
    assert at(alerts, 1, Finding(Kind.ANOMALY, Severity.MEDIUM, {}, spot=True)) == [Status.ESCALATED]
    red, redder = 1, 2
    assert at(alerts, 2, Finding(Kind.ANOMALY, Severity.MEDIUM, {}, urgent=True, marks=red)) == [
        Status.ESCALATED
    ]
    assert (
        at(alerts, 3, Finding(Kind.ANOMALY, Severity.MEDIUM, {}, marks=red | redder)) == []
    )  # not urgent: waits
    assert at(alerts, 4, Finding(Kind.ANOMALY, Severity.MEDIUM, {}, marks=red | redder)) == [Status.ESCALATED]


def test_a_rise_back_below_the_severity_last_told_is_not_told_as_an_escalation() -> None:
    """Told "high", the condition settles to low, then rises to medium: its
    consumers have high, so `escalated` at medium was news lower than they
    had (an outside tester's finding: a NEWS2 alert told high, at 3 for 15
    minutes, then 5). Nothing is told; the next reminder carries medium, and
    a rise to high again escalates, as after any settling."""
    alerts: dict[Kind, OpenAlert] = {}
    step(alerts, 0, finding(Severity.HIGH))
    assert step(alerts, 15 * S, finding(Severity.HIGH)) == [(Status.OPEN, Severity.HIGH)]
    assert step(alerts, 20 * S, finding(Severity.LOW)) == []
    assert step(alerts, 700 * S, finding(Severity.LOW)) == []  # low for the resolution wait: settled
    assert alerts[Kind.ANOMALY].severity is Severity.LOW
    for t in range(800, 1410, 10):  # medium, as long as the settle took: below what was told, silent
        assert step(alerts, t * S, finding(Severity.MEDIUM)) == []
    assert alerts[Kind.ANOMALY].severity is Severity.MEDIUM
    assert step(alerts, 3700 * S, finding(Severity.MEDIUM)) == [(Status.REMINDER, Severity.MEDIUM)]
    assert step(alerts, 3800 * S, finding(Severity.HIGH)) == []
    assert step(alerts, 3815 * S, finding(Severity.HIGH)) == [(Status.ESCALATED, Severity.HIGH)]


def test_a_rise_back_to_the_severity_last_told_after_settling_escalates() -> None:
    alerts: dict[Kind, OpenAlert] = {}
    step(alerts, 0, finding(Severity.HIGH))
    assert step(alerts, 15 * S, finding(Severity.HIGH)) == [(Status.OPEN, Severity.HIGH)]
    assert step(alerts, 20 * S, finding(Severity.LOW)) == []
    assert step(alerts, 700 * S, finding(Severity.LOW)) == []
    assert step(alerts, 800 * S, finding(Severity.MEDIUM)) == []
    for t in range(900, 1500, 10):
        assert step(alerts, t * S, finding(Severity.HIGH)) == []
    assert step(alerts, 1500 * S, finding(Severity.HIGH)) == [(Status.ESCALATED, Severity.HIGH)]


def charted_steps(
    alerts: dict[Kind, OpenAlert], renotify_ms: int = HOUR
) -> Callable[..., list[tuple[Status, Severity]]]:
    """One finding a charted hour (urgent and spot: each charted value is its
    own confirmation); the first reminder after four charted rounds."""

    def charted(hours: int, severity: Severity, marks: int = 0) -> list[tuple[Status, Severity]]:
        held = Finding(Kind.ANOMALY, severity, {}, urgent=True, marks=marks, spot=True)
        changes = transition(
            alerts, KINDS, {Kind.ANOMALY: held}, hours * HOUR, resolve_after_ms=600 * S,
            confirm_ms=15 * S, renotify_ms=renotify_ms, cadence_ms=HOUR,
        )  # fmt: skip
        return [(c.status, c.alert.severity) for c in changes]

    return charted


def test_at_a_sparse_cadence_an_alert_resolves_once_its_condition_has_been_gone_two_cadences() -> None:
    """Charted hourly: the first and second charted values without the
    condition do not resolve the alert (the next may bring it back, as
    charted values near a band's edge do: a real ICU stay's breathing rate of
    19-26 opened NEWS2 three times in 8 hours when one hour without it
    resolved it); the third, two hours after the first, does."""
    alerts: dict[Kind, OpenAlert] = {}

    def at(minutes: int, holds: bool) -> list[Status]:
        held = {Kind.ANOMALY: Finding(Kind.ANOMALY, Severity.MEDIUM, {}, urgent=True)} if holds else {}
        changes = transition(
            alerts, KINDS, held, minutes * 60 * S, resolve_after_ms=600 * S,
            confirm_ms=15 * S, renotify_ms=0, cadence_ms=HOUR,
        )  # fmt: skip
        return [c.status for c in changes]

    assert at(0, True) == [Status.OPEN]
    assert at(60, False) == []
    assert at(120, True) == []  # back again: the same alert, still open
    assert at(180, False) == []
    assert at(210, False) == []  # a value charted in between: gone only half a cadence
    assert at(240, False) == []  # gone one cadence
    assert at(300, False) == [Status.RESOLVED]


def test_at_a_sparse_cadence_one_lower_reading_does_not_make_the_next_rise_news() -> None:
    """Charted hourly: a score that steps down for one charted value and back
    up is the same trigger; only a lower severity held for `SETTLE_CADENCES`
    charted rounds settles it, and the rise after that is told again."""
    alerts: dict[Kind, OpenAlert] = {}
    charted = charted_steps(alerts, renotify_ms=0)  # no reminders here
    assert charted(0, Severity.MEDIUM) == [(Status.OPEN, Severity.MEDIUM)]
    assert charted(1, Severity.HIGH) == [(Status.ESCALATED, Severity.HIGH)]
    assert charted(2, Severity.MEDIUM) == []
    assert charted(3, Severity.HIGH) == []  # one charted value lower: no news
    assert alerts[Kind.ANOMALY].severity is Severity.HIGH
    assert SETTLE_CADENCES == 2
    assert charted(4, Severity.MEDIUM) == []
    assert charted(5, Severity.MEDIUM) == []
    assert alerts[Kind.ANOMALY].severity is Severity.HIGH  # lower for one round only
    assert charted(6, Severity.MEDIUM) == []
    assert alerts[Kind.ANOMALY].severity is Severity.MEDIUM  # lower for two rounds: settled, silently
    assert charted(7, Severity.HIGH) == [(Status.ESCALATED, Severity.HIGH)]


def test_a_part_of_the_condition_newly_at_its_worst_escalates_without_a_higher_severity() -> None:
    """An alert already high says so again when one more part of its
    condition reaches its worst (NEWS2: a new parameter scoring 3, a
    hypoxia in a sedated patient whose score was high already), once per
    part until the next notification re-arms it."""
    alerts: dict[Kind, OpenAlert] = {}
    charted = charted_steps(alerts)
    consciousness, spo2 = 1, 2
    assert charted(0, Severity.HIGH, consciousness) == [(Status.OPEN, Severity.HIGH)]
    assert charted(1, Severity.HIGH, consciousness) == []
    assert charted(2, Severity.HIGH, consciousness | spo2) == [(Status.ESCALATED, Severity.HIGH)]
    assert charted(3, Severity.HIGH, consciousness) == []
    assert charted(4, Severity.HIGH, consciousness | spo2) == []  # told already
    assert charted(5, Severity.HIGH, consciousness) == []
    # the reminder (one interval after the escalation) tells what holds now ...
    assert charted(6, Severity.HIGH, consciousness) == [(Status.REMINDER, Severity.HIGH)]
    # ... so a later return of the same part is news again
    assert charted(7, Severity.HIGH, consciousness | spo2) == [(Status.ESCALATED, Severity.HIGH)]


def test_a_part_no_longer_at_its_worst_when_the_severity_settles_is_news_again() -> None:
    """A high alert told for a heart rate under 30 settles to medium once
    the rate is up and the score lower for two rounds, and rises back to
    high on other parameters (told: the rate is 44 then); the rate's fall
    to 25 in that same open alert is news (a PhysioNet 2012 stay, where it
    was told by nothing for 3.5 hours). Held marks (above `NEWS_MARKS`)
    stay with the alert."""
    alerts: dict[Kind, OpenAlert] = {}
    charted = charted_steps(alerts, renotify_ms=0)  # no reminders here
    slow_pulse, held = 1, 1 << 24
    assert charted(0, Severity.HIGH, slow_pulse | held) == [(Status.OPEN, Severity.HIGH)]
    for hour in (1, 2, 3):
        assert charted(hour, Severity.MEDIUM, held) == []
    assert alerts[Kind.ANOMALY].severity is Severity.MEDIUM  # settled
    assert alerts[Kind.ANOMALY].marks == held
    assert charted(4, Severity.HIGH, held) == [(Status.ESCALATED, Severity.HIGH)]
    assert charted(5, Severity.HIGH, slow_pulse | held) == [(Status.ESCALATED, Severity.HIGH)]
    assert charted(6, Severity.HIGH, slow_pulse | held) == []  # told once


def reminders_over(hours: int, renotify_max_ms: int, cadence_ms: float = 60 * S) -> list[int]:
    """The hours at which an alert whose condition holds unchanged is reminded of."""
    alerts: dict[Kind, OpenAlert] = {}
    at = []
    for minute in range(hours * 60 + 1):
        changes = transition(
            alerts, KINDS, {Kind.ANOMALY: finding(urgent=True)}, minute * 60 * S, resolve_after_ms=600 * S,
            confirm_ms=15 * S, renotify_ms=3600 * S, cadence_ms=cadence_ms, renotify_max_ms=renotify_max_ms,
        )  # fmt: skip
        at += [minute / 60 for c in changes if c.status is Status.REMINDER]
    return at


def test_reminders_of_an_unchanged_alert_back_off() -> None:
    """Reminded after 1 hour, then 2, 4, 8 ... hours after the one before,
    up to the cap: a patient who sits in a NEWS2 band for days is not told
    the same thing every hour."""
    assert reminders_over(72, renotify_max_ms=24 * 3600 * S) == [1, 3, 7, 15, 31, 55]
    assert reminders_over(72, renotify_max_ms=4 * 3600 * S) == [1, 3, 7, 11, 15, 19] + list(range(23, 72, 4))
    assert reminders_over(6, renotify_max_ms=0) == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]  # a cap at or below it: fixed, as before


def test_an_escalation_is_a_notification_the_back_off_goes_on_from() -> None:
    alerts: dict[Kind, OpenAlert] = {}
    hour = 3600 * S
    events = []
    for minute in range(12 * 60 + 1):
        severity = Severity.HIGH if minute >= 4 * 60 else Severity.MEDIUM
        changes = transition(
            alerts, KINDS, {Kind.ANOMALY: finding(severity, urgent=True)}, minute * 60 * S,
            resolve_after_ms=600 * S, confirm_ms=15 * S, renotify_ms=hour, renotify_max_ms=24 * hour,
            cadence_ms=60 * S,
        )  # fmt: skip
        events += [(c.status, minute) for c in changes]
    assert events == [
        (Status.OPEN, 0), (Status.REMINDER, 60), (Status.REMINDER, 180),
        (Status.ESCALATED, 241),  # confirmed at the next reading; the next reminder 4 hours after it
        (Status.REMINDER, 481),
    ]  # fmt: skip


def test_an_urgent_first_rise_of_a_charted_patient_is_told_at_its_round() -> None:
    """An urgent rise (a status said, two vitals clear of their edges) is told
    at once as it would open, where the patient is charted: a PhysioNet 2012
    stay's first GCS of 8 opened `low`, and the next round, 15 minutes on,
    said ventilated with a pulse and a temperature scoring (NEWS2 7); its
    escalation to high waited for the round after, and came at medium then.
    At a monitor's minute a first rise still waits a reading (above)."""
    for cadence_min, escalated_at in ((15, 15), (1, 2)):
        alerts: dict[Kind, OpenAlert] = {}
        events = []
        for minute in range(0, 4 * cadence_min, cadence_min):
            severity = Severity.HIGH if minute >= cadence_min else Severity.LOW
            holds = {Kind.NEWS2: Finding(Kind.NEWS2, severity, {}, urgent=True)}
            changes = transition(
                alerts, KINDS, holds, minute * 60 * S, resolve_after_ms=600 * S, confirm_ms=15 * S,
                renotify_ms=HOUR, cadence_ms=cadence_min * 60 * S,
            )  # fmt: skip
            events += [(c.status, minute) for c in changes]
        assert events == [(Status.OPEN, 0), (Status.ESCALATED, escalated_at)], (cadence_min, events)


def test_read_every_second_an_urgent_finding_still_holds_for_the_confirmation_delay() -> None:
    """At one reading a minute an urgent finding (two vitals off at once)
    opens at once: confirming would cost a minute. Read every second (a
    wearable), confirming costs 15 s, and one movement of the wrist moves
    every value its sensor derives: the finding holds for the delay like any
    other, and a burst shorter than that never alarms."""

    def step_at(alerts: dict[Kind, OpenAlert], ts: int, holds: Finding | None, cadence: int) -> list[Status]:
        changes = transition(
            alerts, KINDS, {Kind.ANOMALY: holds} if holds else {}, ts,
            resolve_after_ms=600 * S, confirm_ms=15 * S, renotify_ms=3600 * S, cadence_ms=cadence,
        )  # fmt: skip
        return [c.status for c in changes]

    minute: dict[Kind, OpenAlert] = {}
    assert step_at(minute, 0, finding(urgent=True), 60 * S) == [Status.OPEN]
    second: dict[Kind, OpenAlert] = {}
    assert [step_at(second, t * S, finding(urgent=True), S) for t in range(10)] == [[]] * 10
    assert step_at(second, 10 * S, None, S) == []
    assert second == {}  # a 10 s burst: gone before confirmation
    assert [step_at(second, t * S, finding(urgent=True), S) for t in range(20, 36)][-1] == [Status.OPEN]


def test_an_alert_that_keeps_coming_back_soon_after_it_resolved_waits_longer_to_resolve() -> None:
    """A condition back within `REOPEN_WAITS` resolution waits of its last
    resolution is a flap: the alert it opens waits twice as long to resolve,
    four times after a second flap in a row (a patient on a NEWS2 band's
    edge for hours has one alert open, not one an hour); after a quiet
    spell the wait is the usual one again."""
    alerts: dict[Kind, OpenAlert] = {}
    flaps: dict[Kind, list[int]] = {}
    minute = 60 * S

    def at(minutes: int, holds: bool) -> list[Status]:
        held = {Kind.ANOMALY: Finding(Kind.ANOMALY, Severity.MEDIUM, {}, urgent=True)} if holds else {}
        changes = transition(
            alerts, KINDS, held, minutes * minute, resolve_after_ms=10 * minute,
            confirm_ms=15 * S, renotify_ms=0, flaps=flaps,
        )  # fmt: skip
        return [c.status for c in changes]

    def resolves_after(start: int) -> int:
        """Minutes the condition must be gone from `start` for the alert to resolve."""
        for m in range(start, start + 200):
            if at(m, False) == [Status.RESOLVED]:
                return m - start
        raise AssertionError("never resolved")

    assert at(0, True) == [Status.OPEN]
    assert resolves_after(1) == 10  # the first alert: the usual wait
    assert at(30, True) == [Status.OPEN]  # back 19 minutes later: a flap
    assert resolves_after(31) == 20
    assert at(60, True) == [Status.OPEN]  # and again
    assert resolves_after(61) == 40
    assert at(130, True) == [Status.OPEN]  # again: at most four times the wait
    assert resolves_after(131) == 40
    assert at(300, True) == [Status.OPEN]  # after 129 quiet minutes: no flap
    assert resolves_after(301) == 10
    assert at(400, True) == [Status.OPEN]  # 89 quiet minutes: the record of the last is gone
    assert Kind.ANOMALY not in flaps


def test_without_a_record_of_flaps_an_alert_resolves_after_the_usual_wait() -> None:
    """Callers that keep no `flaps` (the evaluation's baselines) get the
    lifecycle as before: every alert waits `resolve_after_ms`."""
    alerts: dict[Kind, OpenAlert] = {}
    for start in (0, 20, 40):
        assert step(alerts, start * 60 * S, finding(urgent=True)) == [(Status.OPEN, Severity.MEDIUM)]
        assert step(alerts, (start + 1) * 60 * S, None) == []
        assert step(alerts, (start + 11) * 60 * S, None) == [(Status.RESOLVED, Severity.MEDIUM)]


def test_whether_a_finding_opens_now() -> None:
    """`opens_now`, which the core also asks before it lets a second kind of
    alert open at the same moment about the same values: held 15 s it
    opens, an urgent finding at once except at a cadence under 15 s, a
    finding with nothing new in it (stale) never, a longer hold once held
    that long, and with confirmation off everything at once."""
    low = Severity.LOW
    waiting = OpenAlert(0, low, confirmed=False)  # awaiting confirmation since event time 0
    cases = [
        (waiting, Finding(Kind.ANOMALY, low, {}), 15_000, 60_000, 15_000, True),
        (waiting, Finding(Kind.ANOMALY, low, {}), 14_999, 60_000, 15_000, False),
        (None, Finding(Kind.ANOMALY, low, {}), 0, 60_000, 15_000, False),
        (None, Finding(Kind.ANOMALY, low, {}, urgent=True), 0, 60_000, 15_000, True),
        (None, Finding(Kind.ANOMALY, low, {}, urgent=True), 0, 1_000, 15_000, False),
        (waiting, Finding(Kind.ANOMALY, low, {}, stale=True), 60_000, 60_000, 15_000, False),
        (waiting, Finding(Kind.ANOMALY, low, {}, hold_ms=420_000), 60_000, 60_000, 15_000, False),
        (waiting, Finding(Kind.ANOMALY, low, {}, hold_ms=420_000), 420_000, 60_000, 15_000, True),
        (None, Finding(Kind.ANOMALY, low, {}), 0, 60_000, 0, True),
    ]
    for current, finding, ts, cadence, confirm, opens in cases:
        assert opens_now(current, finding, ts, confirm, cadence) is opens, (current, finding, ts, cadence)
