"""Same readings, same alerts: a digest of the alert stream of a small
deterministic run of every cohort, and of the patients' encoded states.

A user replaying a recording expects the very same alert events (every
field: kind, status, severity, times, ids, evidence) from one release to
the next unless a change of detection says otherwise; a speed-up of the
core must not move a single one. The digests below were taken on main at
85e8685, before the core was made faster (docs/benchmarks.md, "Core CPU per
reading"). A change that is meant to change alerts (or the state) updates
them: the failure prints the new value, and the commit says why. Changed
since: `ward`'s states (the cuff's SpO2 dip held back, s5-ward2), `charted`
and `generic` (the daily profile across an adopted drift, s5-profile);
`ward` and `ward_clean`'s events (a drift notice's `to` is always a float,
93.0 not 93, as `from` was: the compiled core's floats are doubles);
every cohort's states (version 6: alerts carry the parts of their condition
told at their worst) and `charted`, `ward` and `ward_clean`'s events (a NEWS2
parameter newly scoring 3 escalates; a severity settles after two of the
patient's cadences lower; a high NEWS2 alert stays high at a score of 6);
`home`'s events, on purpose (s7-home: slowly read channels moving together
in their deteriorating directions open the level-shift `trend` when their
CUSUMs sum to sqrt(2) times the threshold, `_shift_together`; 21 -> 27
events, the states unchanged); `charted`, `generic` and `home`'s events
(at a sparse cadence an alert resolves once its condition has been gone for
one cadence, not at the first reading without it: `charted` 25 -> 18,
`home` 27 -> 26 events, the states unchanged); `generic`'s events (runs of far
values that begin at one value in fifty or more are a custom channel's
normal: only its calibrated surprise makes it anomalous), and its states
(the channel's rate of far values became its rate of far runs begun, signed
while one runs: same layout; 32 -> 34 events); `ward` and `ward_clean`'s
events and states (three vitals drifting in a deterioration's direction
within 90 minutes open a `trend`, `_drifting_together`: the sepsis patient's
trend opens and resolves, 59 -> 61 and 54 -> 56 events; the states keep
those recent drifts); `charted` and `generic`'s states and `generic`'s events
(the weekly profile, s16-weekly: channels read hourly or more often keep one
once learned for a day; in the second week one series' return from its
weekend is forecast, and its anomaly, resolution and drift notice at Monday
00:00 are gone, 34 -> 31 events); `generic`'s states (the rate of far runs
begun has a memory of at least 75 values, `SPIKE_MEMORY_MIN`: where a gap
made a channel's cadence look long, the rate moves less; same events);
`generic`'s states (a custom channel's daily routine, `Baseline.runs`: the
times of day its far runs began are kept; same events); `generic`'s states
(a custom channel's shape of the day, `Baseline.shape`: the mean of its values
in each hour is kept; same events); `charted`, `home` and `ward`'s events and
`ward`'s states (a value in NEWS2's red range is the patient's own normal
only when NEWS2 scores the learned normal too: a charted NEWS2 alert no
longer resolves at a systolic of 79, nor a ward one at a breathing rate of
7, and a heart rate of 35 in a home patient whose normal is 70 opens one;
18 -> 19, 26 -> 29, 61 -> 62 events); `ward` and `ward_clean`'s states (a
drift the detector saw move back, a recovery, removes its vital from the
recent drifts `_drifting_together` counts; same events); `home`'s states
(warm-up winsorises a catalogue vital's values: a first systolic of 196
against the prior's 120 +- 15 is learned as 195; same events); `charted`,
`ward` and `ward_clean`'s events (a drift held back says why, `held` in its
evidence; with `held` left out the streams hash as before); every cohort's
states and `charted`'s events (an alert that opens soon after its kind
resolved waits longer to resolve, `app.core.alerts._flaps`: the states keep
the kinds resolved lately; a charted NEWS2 alert reopened a minute after it
resolved resolves 90 minutes later, 19 events as before); `home`'s states
(a custom channel's run of repeats under way as its first day ends counts as
a usual run, `Baseline._profile_begun`: `rhythm_af`'s weeks of 0; same
events); `ward`'s events and states (a drift detected at a value that
stepped from the previous one is to the recent level, never to that one
value: an arousal's heart-rate drift notice says 74.61, held as an
arousal's, where it said 93.0, held as unsafe; same count); `generic`, `ward`
and `ward_clean`'s states (a value held back at its own reading stays held
back until its channel's next, `app.core.patient._hold_latest`: the states
name such channels, "x"; same events); `charted` and `generic`'s events (an
anomaly's `baseline` is the normal its value was scored against, with the
daily profile in use, where it was the day's average: a charted heart rate
of 110 at 00:57 against 82.42, not 76.67; same count, same times, the
states unchanged); `charted`, `ward` and `ward_clean`'s states (the times of
each vital's latest drifts, "u", `app.core.patient._settled`; same events);
`ward` and `ward_clean`'s events and states (an anomaly told stays open
while its value stays far out after NEWS2 opened on it: one patient's medium
anomaly resolved at 12:44 with a score of 9.06, now at 13:37 with 1.39;
same count); `ward` and `ward_clean`'s events and states (a drift the values
have gone back from is not adopted, `_gone_back`: 62 -> 60 and 56 -> 55
events, each a drift notice fewer); `home`'s events (a heart rate's level
shift alone needs `shift_pulse_alone` times the evidence: a reminder's
heart rate at a CUSUM of 2.69 beside the weight's is marked `together`;
same count, the states unchanged); `charted`, `generic` and `home`'s
events and states (a condition gone two cadences resolves, where one did,
`RESOLVE_CADENCES`: charted 19 -> 17 events, a resolution and a reopening
fewer; generic and home the same count, resolutions a cadence later);
`charted`, `home`, `ward` and `ward_clean`'s events (a NEWS2 escalation
names what it tells anew, `evidence.newly`; same count, the states
unchanged); `charted`, `home`, `ward` and `ward_clean`'s events and states
(the prior is folded in at the end of warm-up before the first warm value
is scored, `Baseline.fold_prior`, and a first value cut short at the
prior's edge is learned as the second when that is out there too,
`Baseline._first_cut_short`: a 240 kg patient's weight learned as such;
same counts, evidence values and times moved); `generic`'s events (an
anomaly of custom channels only is `low` at any distance: same count, the
states unchanged); `charted`, `generic` and `home`'s events and states (an
alert resolves after two of the steps a sparse channel is read at again
after a gap, `pace_ms`, where the gap still stretched its cadence: same
counts, some resolutions sooner); `charted`'s events and states (an open
anomaly holds at readings without its far vital's value, as one awaiting
confirmation did, `_far_elsewhere`: two resolutions later, same count);
`home`'s events and states (a level shift holds only while the latest value
is on the shifted side of its forecast: a trend resolves a day sooner);
`ward`'s events and states and `ward_clean`'s states (a value in a red range
no one lives in is never learned: a breathing rate of 6 is 5.4 SDs from a
normal of 15.8 and joins the SpO2's anomaly a minute sooner, and two drift
notices of a normal pulled down by it are gone, 60 -> 58 events); `ward`'s
and `ward_clean`'s events and `ward`'s states (a NEWS2 alert escalates when
the SpO2 falls under 85 %: one escalation more on `ward`, 58 -> 59, and an
escalation's `newly` naming the SpO2 on `ward_clean`); `charted`'s, `ward`'s
and `ward_clean`'s events (a red vital gone on past a medical emergency
team's calling criterion escalates: on `ward` a septic patient's systolic at
76 is told at 15:30, so its reminder at 16:22 and a second escalation at
16:23 are not sent, 59 -> 58 events; one escalation more on `charted`);
every cohort's states (each names the patient's device, "g",
`app.core.patient._note_source`; the same events); `ward`'s states (when
each channel judged for signal quality was last sent, "y",
`app.core.patient._gone`; the same events); `charted`'s events and states
(an open NEWS2 alert holds while a parameter it was told red for is still
off the normal established before it, where only the normal learned since
scores, `_hold_unrecovered`: a patient's alert resolved at a systolic of
102 is reminded of at 108 and 97 and resolves at 30 hours; 18 -> 20 events, a
normal learned before the alert holding nothing, `_held_marks`); `charted`, `home`,
`ward` and `ward_clean`'s states (when a red value people may live at was
last judged a deterioration, "p", and the alerts' marks of the parameters
that may hold them, `_HELD_SHIFT`; the same events); `home`'s states (the
weight's last three days for the heart-failure rule, "c", `_weigh`; the
same events); `charted`, `ward` and `ward_clean`'s events (a `news2`
alert's evidence says which SpO2 scale it scored, `spo2_scale`; as many
events, the same states); `home` and `ward`'s states (when the last severe
pressure's run ended, "je", `_severe_again`; the same events); `ward` and
`ward_clean`'s events (a rise in an open alert is confirmed at a second
reading, `app.core.alerts._rise_confirmed`: one patient's NEWS2 5 for a
single minute at 02:24 escalates nothing, 58 -> 57 events, and an anomaly's
escalation to medium comes a minute later, at 9.06 and 9.25 SDs; the
states unchanged); `home`'s events and `ward`'s states (an open NEWS2
alert holds while a part told red is within a reading's noise of red,
`app.core.patient._hold_near_red`: a home patient's alert resolves a day
later, at a score of 2, not 0; as many events); `charted`, `ward` and
`ward_clean`'s states (when a red value last counted in NEWS2's high band,
"ph", `_high_held`; the same events); `ward`'s states (a condition gone
counts as lower for its alert's settle, `app.core.alerts._cleared`; the
same events); `charted`, `home`, `ward` and `ward_clean`'s states (a
baseline keeps the spread its normal was established with, as minus its
prior's spread, `app.core.model.Baseline.established_sd`; the same events);
`ward` and `ward_clean`'s events and states (a dense vital's drift still
moving the way a deterioration goes is adopted with a memory of 4 hours,
`app.core.patient._still_moving`: a sepsis patient's heart rate drifts
differently, and NEWS2 opens at 12:56, not at 12:43 and escalating at
12:56, the `trend` open since 12:18 in both; 57 -> 56 and 54 -> 53 events);
`home`'s events (reminders at a slow cadence back off up to 16 readings,
`app.core.alerts.RENOTIFY_MAX_READINGS`: three reminders of weight trends
fewer, one a little later; 29 -> 27 events, the states unchanged).
"""

from __future__ import annotations

import hashlib

import orjson
import pytest

from app.core import patient as core
from app.core import state as patient_state
from app.tools.evaluation import COHORTS

PATIENTS = 4  # per cohort, each cohort's own days and cadence
SEED = 2026

# cohort -> (events, sha256 of the events stream's first 16 hex digits, sha256 of the states' first 16)
GOLDEN: dict[str, tuple[int, str, str]] = {
    "charted": (20, "b01e9fdcc2b4373c", "ed9db89281b47dea"),
    "generic": (31, "82f605edab8320dd", "9b83f555a5e9b286"),
    "home": (27, "a837a88e5909f417", "5ee3dd8d6beddac2"),
    "ward": (56, "33f6c3e930e8be17", "f507dbea5340a2e7"),
    "ward_clean": (53, "413f3e3229d3c5ea", "380baababa73bd5e"),
}


def _digest(cohort: str) -> tuple[int, str, str]:
    c = COHORTS[cohort]
    events, stream, states = 0, hashlib.sha256(), hashlib.sha256()
    for p in c.build(PATIENTS, c.days, SEED):
        state = patient_state.PatientState()
        for i, reading in enumerate(p.readings):
            for event in core.process(state, p.subject, "golden", reading).events:
                stream.update(orjson.dumps(event, option=orjson.OPT_SORT_KEYS) + b"\n")
                events += 1
            if i % 100 == 0:
                states.update(patient_state.encode(state))
        states.update(patient_state.encode(state))
    return events, stream.hexdigest()[:16], states.hexdigest()[:16]


@pytest.mark.parametrize("cohort", sorted(GOLDEN))
def test_the_same_readings_give_the_same_alert_events_and_states(cohort: str) -> None:
    events, stream, states = _digest(cohort)
    want_events, want_stream, want_states = GOLDEN[cohort]
    new = f'"{cohort}": ({events}, "{stream}", "{states}")'
    assert events == want_events, f"{cohort}: {events} alert events, was {want_events}; now {new}"
    assert stream == want_stream, f"{cohort}: the alert events changed; now {new}"
    assert states == want_states, f"{cohort}: the encoded states changed; now {new}"
