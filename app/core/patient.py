"""Per-patient detection: advance a patient's state (`app.core.state`) by one
reading, or by every reading of one `vigil.readings` record.

For every reading, in event time, `process` runs these stages:

1. `_clean`. A duplicate of the reading processed last (same id and time: a
   resend stored twice) is dropped. Values outside physiology
   (`app.core.vitals.is_artifact`) are marked as artifacts and go no further.
   A reading older than the newest one already seen (a resend, or a device
   replaying its buffer) updates the latest values it is newest for, and is
   neither learned nor scored. Each channel's cadence (typical time
   between its values) moves on. A reading's event time is never later than
   its record's receipt by the gateway (`process_record`): a device clock
   that ran ahead cannot push the patient's clock into the future, where it
   would make every correctly stamped reading after it look old.
2-4. `_model`, per numeric channel in one pass: score (a z-score against
   the patient's baseline, `app.core.model.Baseline`, before it learns from
   the value); track (the vital's short-horizon trend moves on; vitals whose
   trend reaches a dangerous range within the horizon are noted); learn and
   drift (the baseline learns; anomalous values are kept out of its mean).
   A drift (the level moved for good) is adopted as the new baseline only
   when the new level is clinically safe (NEWS2 scores the vital 0); a drift
   into a range NEWS2 scores is a deterioration and keeps alerting. Either
   way a `baseline_drift` notice is emitted.
5. Findings: `_safety_net` (NEWS2 from the latest value of each parameter no
   older than `news2_max_age_ms`, independent of anything learned),
   `_anomaly` (far from the learned normal), `_trend` (heading for danger),
   `_signal_quality` (a channel sending artifacts again and again; `_quality`
   judges each channel on its own and keeps a bad one's values out of
   detection, never another's).
6. `_lifecycle` (`app.core.alerts.transition`): open once the condition has
   held for `confirm_ms` (a single artifact-like reading never alarms; spot
   measurements, read every `SPARSE_MS` or less often, are their own
   confirmation), escalate, remind, and resolve once it has been gone for
   `resolve_after_ms`, or for two of the patient's cadences when that is
   longer.

Everything depends only on the readings and their event times, so a replay
at any speed produces the same events.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.core import news2
from app.core.alerts import (
    LIFECYCLE_KINDS,
    NEWS2_SEVERITY,
    PHYSIOLOGY,
    SPARSE_MS,
    Finding,
    Kind,
    OpenAlert,
    Severity,
    Status,
    alert_id,
    event,
    iso,
    opens_now,
    rank,
    transition,
)
from app.core.model import (
    DAY_MS,
    MEMORY_MIN,
    MEMORY_MS,
    PROFILE_MAX_CADENCE_MS,
    RECENT_CLIP,
    RUNS_Z_MARGIN,
    SPIKE_RARE,
    SPIKE_ROUTINE,
    WARMUP_MIN,
    WARMUP_MS,
    Baseline,
    weekday,
)
from app.core.records import ReadingBatch
from app.core.state import (
    CATALOGUE,
    DRIFT_TIMES_KEPT,
    MAX_CUSTOM_CHANNELS,
    REGROW_AFTER_MS,
    STORED_DIGITS,
    PatientState,
    bound,
)
from app.core.vitals import DANGER, MOTION, MOVED, NUMERIC, SPO2_SCALE, SPO2_SCALE2_DANGER

ARTIFACT_ALPHA = 0.2  # smoothing of a channel's share of recent values that were artifacts
QUALITY_FORGET = 0.01  # a channel's artifact share below which its quality entry is dropped
# A channel no device has sent for this long, and this many of its cadences, has its quality
# entry dropped (`_gone`): a probe unplugged for good is not a bad signal for good.
QUALITY_GONE_MS = 6 * 60 * 60 * 1000
QUALITY_GONE_CADENCES = 3
# A custom channel remembers how far out its far values go (`Baseline.far_z`), fading
# by this at each run of them begun: on a channel where far values are no rarity, one
# far value is its own confirmation only RUNS_Z_MARGIN times as far out as that.
FAR_Z_FADE = 0.8
NO_SIGNAL = 0  # what a monitor sends for a channel without signal (a sensor not connected) ...
# ... or any value under it: no vital can be negative, and monitors export a channel without a value
# as a negative code (-1, -8, -9). A pressure transducer open to air (a line not
# connected, or being zeroed) reads the atmosphere, within a few mmHg of 0 (VitalDB
# case 1: -9 to +8 for ten minutes): a pressure up to this is "no signal" too (`_silent`).
OPEN_LINE_MMHG = 10
MEDIUM_HOLD_SD = 1.0  # an open `medium` anomaly stays `medium` this much nearer than `Config.z_medium`
PULSE_PRESSURE_MIN = 20  # mmHg between systolic and diastolic: a pressure with a pulse in it (`_flushed`)
# A mean pressure sits about a third of the way from the diastolic to the systolic (a cuff's
# charted mean at 0.20-0.35 in 98 % of 794 PhysioNet 2012 readings, a line's at 0.19-0.75 in
# 98 % of 1,608): one in the bottom tenth contradicts its systolic (`_implausible_together`);
# 2 of the 2,402 were, a cuff's 274/67 mean 81 and a line's 104/53 mean 56.
MEAN_FORM_MIN = 0.1
_PRESSURES = frozenset(("systolic_bp", "diastolic_bp", "mean_bp"))
# A pressure reading "no signal" is a cuff inflating only for about as long as a measurement takes:
# a line that stays without signal (never connected) is not measuring (`_pressure_measured`).
CUFF_MEASURE_MS = 2 * 60 * 1000
JUMP_Z = 2.0  # SDs over its recent level a cuff's value stands when it jumped there (`_pressure_measured`)
# The part of each vital's red range (NEWS2 scores 3) that people live in: an
# SpO2 of 85-91 or a breathing rate of 25-30 with COPD, a pulse of 30-40 in an
# athlete or on a beta-blocker, a systolic of 90 or less in a small young
# woman (no floor: how far below it a value may still be hers is left to the
# learned normal and spread; a floor of 80 added false alerts on the ward
# cohort's low-normal patients at 74-79, and no real recording asked for one).
# Red values there may be the patient's learned normal (`_deviates`), but
# for the SpO2: its range here is what is learned (`_model`), never what
# excuses a red value (scale 2 is prescribed, `spo2_scale`); no other red
# value can.
# ... but not with the arterial line's mean under this (mmHg) in the same
# reading: the Surviving Sepsis Campaign's target for a patient in shock
# (Evans et al., Crit Care Med 2021), under which the organs are not
# perfused whatever the patient's habit (`_deviates`).
MAP_FLOOR = 65.0
# ... and only for a patient whose normal was established in that red range or in
# the band next to it (`_deviates`): what NEWS2 scores a pulse of 41-50, a
# systolic of 91-100, a breathing rate of 21-24 (PhysioNet 2012 set-a 132540,
# established at a systolic of 105 in a post-operative hypotension, had its 66-88
# taken for its own).
_NEXT_TO_RED = {"heart_rate": 1, "systolic_bp": 2, "respiratory_rate": 2}  # the score of that band
# ... and which way is deeper into that red range (`_deviates`).
_INTO_RED = {"heart_rate": -1.0, "systolic_bp": -1.0, "respiratory_rate": 1.0}
_RED_LIVED_IN: dict[str, tuple[float, float]] = {
    "spo2": (85.0, 91.0),
    "heart_rate": (30.0, 40.0),
    "systolic_bp": (0.0, 90.0),
    "respiratory_rate": (25.0, 30.0),
}
# So a value beyond these, in a red range no one lives in, is never learned
# once the channel is warm (`_model`): a breathing count of 4-8 for an hour
# (an opioid's, or a failing impedance count) was learned winsorised into the
# normal, which fell from 13 to 10.9, and the return to 16 read as breathing
# up, with two other small drifts a `trend` (MIMIC-II a41664). Below the
# first, or at or over the second. One entry per vital of `DANGER`, which
# `_model` finds here (tests/core/test_signal_quality.py checks the two agree).
_NEVER_NORMAL: dict[str, tuple[float, float]] = {
    "heart_rate": (30.0, DANGER["heart_rate"][1] or math.inf),
    "respiratory_rate": ((DANGER["respiratory_rate"][0] or 0.0) + 1e-9, 30.0 + 1e-9),
    "spo2": (85.0, math.inf),
    "systolic_bp": (-math.inf, DANGER["systolic_bp"][1] or math.inf),
    "temperature": ((DANGER["temperature"][0] or 0.0) + 1e-9, math.inf),
}
# A weight this many times the latest (1 kg = 2.2046 lb, give or take 5 % of
# the body's own change between weighings) came in pounds (`_in_pounds`).
POUNDS_RATIO = (2.2046 * 0.95, 2.2046 * 1.05)
# An SpO2 in this range came as a fraction of 1, not percent (`_other_unit`).
SPO2_FRACTION = (0.5, 1.0)
_UNITS_CONFUSED = frozenset({"weight", "spo2"})  # the vitals `_other_unit` knows
# A pulse oximeter's own pulse rate: a custom channel the core recognises, to
# check the oximeter against the ECG's heart rate (LOINC 8889-8).
PULSE_RATE = "pulse_rate"
PULSE_DISAGREE = 10.0  # beats/min the oximeter's pulse rate may differ from the ECG's heart rate ...
PULSE_DISAGREE_SHARE = 0.15  # ... and this share of it
# A disagreement lasting this long is the pulse rate's own (a pulse deficit), not the SpO2 probe's
PULSE_DEFICIT_MS = 5 * 60 * 1000
# A value past physiology's edge continues a fall (or rise) through NEWS2's red range when the
# vital's previous value is at most this old, or two of its cadences (`_past_the_edge`)
EDGE_RECENT_MS = 10 * 60 * 1000
# A temperature falling faster than a body cools is the probe's, slipped out or
# taken off and reading the room (`_cooled_too_fast`): more than this (a
# site's or a device's difference) ...
TEMP_FALL_C = 1.0
# ... and this for each minute since the channel's last kept value (15 °C an
# hour: several times the fastest cooling outside cardiopulmonary bypass)
TEMP_FALL_C_PER_MIN = 0.25

CADENCE_ALPHA = 0.2  # smoothing of each channel's cadence (time between its readings)
CADENCE_CLIP = 10.0  # one interval moves the cadence by at most this many times the estimate
# A sitting (`_keep_latest`): on a channel read every SITTING_CADENCE_MS or less
# often (charted, a home cuff or scale), values within SITTING_MS of the first
# and closer together than a SITTING_RATIO-th of its cadence are one sitting, as
# home blood pressure is taken (two or three readings a minute apart, ESH 2021):
# the later ones are re-takes, scored but not learned, and no cadence sample.
# A channel's first values (no cadence yet) within SITTING_MS of the first are
# one sitting when the pause after them is SITTING_RATIO times their span or
# more: the channel's first cadence sample is from the first to the pause's end.
SITTING_CADENCE_MS = 60 * 60 * 1000
# A slowly read channel's level shift (`_shift`) spans at least this: half the
# cadence its watch begins at (`Config.shift_cadence_ms`, 6 h); readings closer
# together are one occasion, however many sittings.
SHIFT_SPAN_MS = 3 * 60 * 60 * 1000
SHIFT_STALE_CADENCES = 3  # a shift holds only while its channel was read within this many of its cadences
SHIFT_STALE_MS = 4 * 24 * 60 * 60 * 1000  # ... or this long: a cuff's weekend off is no end of a shift
# Channels' level-shift runs begun further apart than this do not move together (`_shift_together`):
# the heart-failure rule's three days (`_weigh`).
TOGETHER_SPAN_MS = 3 * 24 * 60 * 60 * 1000
# The heart-failure self-care rule (the Heart Failure Association of the ESC,
# Jaarsma et al., Eur J Heart Fail 2021;23:157-174; heartfailurematters.org):
# report a weight gain of more than 2 kg in 3 days. Model-free, as NEWS2 is
# for the vitals (`_weigh`, `_weight_gain`) ...
WEIGHT_GAIN_KG = 2.0
WEIGHT_GAIN_MS = 3 * 24 * 60 * 60 * 1000
WEIGHT_LOWS = 6  # the sliding minimum's entries kept (`PatientState.gain`): a daily scale needs four
# The same weight to the last digit again, a new occasion (`SHIFT_SPAN_MS`) later but within this
# long, is a copy, not a weighing (`_weigh`): an Apple Health export writes each day's weighing
# twice, at midnight and when it was taken. (Within an occasion it is one occasion anyway: a bed
# scale read hourly at a steady weight still counts hour by hour; and the next morning's weighing,
# however like the last, is a weighing.)
WEIGHT_COPY_MS = 18 * 60 * 60 * 1000
# Severe blood pressure (`_pressure`, `_severe_pressure`): a systolic of 180 or
# more and/or a diastolic of 120 or more (the ACC/AHA 2017 guideline, Whelton
# et al., Hypertension 2018;71:e13-e115, section 11.2), confirmed by a re-take at
# least five minutes later (the AHA's advice to patients: wait five minutes and
# test again). Model-free, as NEWS2 (which scores no high pressure below 220)
# and the weight rule are.
SEVERE_PRESSURE = {"systolic_bp": 180.0, "diastolic_bp": 120.0}
SEVERE_RETAKE_MS = 5 * 60 * 1000
# One value of the mean back at the floor or over that stood this long (until the
# next value) ends its run (`_mean_under_floor`): as long as two hourly rounds.
MAP_BACK_MS = 2 * 60 * 60 * 1000
# The marks of a `trend`'s rules (`Finding.marks`): a severe pressure confirmed,
# the heart-failure rule's weight gain, a level shift of each measurement
# (`_shift_bit`: a cuff's or a line's pressures are one; every custom channel,
# one). Newly found in a `trend` already open (a level shift of the same
# pressure; one of the diastolic, for the weight), each is told as an escalation
# (`app.core.alerts.transition`), once an episode (`app.core.alerts.ONCE_MARKS`;
# `_trend_newly` names its vitals; a severe pressure again a day after its run
# ended, `_severe_again`, the weight rule after a run of gains ends, `_weigh`): a
# weight gain of 3.6 kg in three mornings inside a diastolic's `trend` was told
# only by its reminders (an outside reviewer's mixed-cadence patients).
_SEVERE_BIT, _GAIN_BIT = 1, 2
_SHIFT_MEASURED = ("weight", "systolic_bp", "heart_rate", "respiratory_rate", "temperature", "spo2")
_SHIFT_BIT = {name: 4 << i for i, name in enumerate(_SHIFT_MEASURED)}
_CUSTOM_SHIFT_BIT = 4 << len(_SHIFT_BIT)
_TREND_MARKS = _SEVERE_BIT | _GAIN_BIT | sum(_SHIFT_BIT.values()) | _CUSTOM_SHIFT_BIT  # ONCE_MARKS[TREND]
# ... and again once no run has stood for this long (`_severe_again`).
SEVERE_REARM_MS = DAY_MS
SITTING_MS = 10 * 60 * 1000
# A re-take refutes an alert opened at its sitting's first reading only when
# clear by this margin (`_clear_by_far`): within this many SDs of the learned
# normal, as a value the personalised limits take for the patient's own.
REFUTE_Z = 2.5
# A custom channel back after this long a silence, and this many of its
# cadences, is learned afresh (`_keep_latest`): a new sensor, a new wear.
AFRESH_GAP_MS = 7 * 24 * 60 * 60 * 1000
AFRESH_GAP_CADENCES = 100
SITTING_RATIO = 12
# A channel's first values are one sitting only within this of the first (`_first_sitting`);
# 90 s (a first version's remedy for a monitor on for minutes, then unplugged for hours) told a
# spot check taken as three re-takes a minute apart, as home blood pressure is, a check late.
FIRST_SITTING_MS = SITTING_MS
# A sparse channel's step shorter than its cadence, and at least this share of
# it, is the pace it is read at now: an alert resolves after two such steps
# (`transition`'s `pace_ms`). A channel's cadence follows a gap slowly (one
# step of 12 hours made an hourly channel's 2.8 hours, back under 2 hours only
# at the fourth value after): an hourly SpO2 of 87, 12 hours of nothing, then
# 97s resolved at the fifth 97, not the third.
PACE_SHARE = 0.25
# A dense vital's drift whose trend would take it one SD further, the way a
# deterioration goes, within this is still moving (`_still_moving`).
MOVING_MS = 30 * 60 * 1000
# ... and its adopted baseline counts this long of readings, not `WARMUP_MS`: it learns slowly
# from there, so that the rest of a climb is judged against where it began.
MOVING_MEMORY_MS = 4 * 60 * 60 * 1000
# A monitor's breathing count the SpO2 can contradict (`_undercount`): NEWS2's low red range ...
_SLOW_BREATHING: float = DANGER["respiratory_rate"][0] or 0.0
_NEAR_APNOEA = 5  # ... down to this: a count under it is near-apnoea, the patient's whatever the SpO2
FRESH_CADENCES = 1.5  # a NEWS2 parameter is fresh this many of its cadences (or news2_max_age_ms) ...
FRESH_CAP_MS = 24 * 60 * 60 * 1000  # ... and never older than a day
_SAID = frozenset({"on_oxygen", SPO2_SCALE})  # what a reading says of the patient, not a measurement
# A status, not a measurement: it holds until a later reading says otherwise
# (at most FRESH_CAP_MS), in NEWS2 as everywhere (`_held`).
_STATUSES = frozenset({"on_oxygen", "consciousness"})
# An open high NEWS2 alert stays high while the score is this or more (one
# point below the band's 7): a score sitting on the band's edge is one
# emergency trigger, not a new one each time it steps back up.
HIGH_HELD_FROM = 6
HIGH_FROM, MEDIUM_FROM = 7, 5  # NEWS2's aggregates for the high and medium bands (`news2.News2.band`)

_PLAUSIBLE = {name: vital.plausible for name, vital in NUMERIC.items()}
# A number is a value of exactly these classes (bool, a subclass of int, is not).
_NUMBERS: frozenset[Any] = frozenset({int, float})
_CHECKED = {**_PLAUSIBLE, PULSE_RATE: NUMERIC["heart_rate"].plausible}  # channels whose signal is judged
_NEWS2_PARAMETERS = frozenset(news2.PARAMETERS)
_NEWS2_BIT = {name: 1 << i for i, name in enumerate(news2.PARAMETERS)}  # `Finding.marks`
# Marks beyond the parameters' (`_news2_marks`): each step down ACVPU below confusion, which
# NEWS2 scores 3 as it does confusion (a GCS falling from 13 to 7 moved no score), and a fever in
# NEWS2's top band for one (>= 39.1 C scores 2, its most).
_DEEPER = {"V": 1, "P": 2, "U": 3}  # steps below C
_DEEPER_BITS = (0, 1 << 7, 3 << 7, 7 << 7)
_FEVER_BIT = 1 << 10
# ... and an SpO2 fallen under the part of its red range people live in
# (`_RED_LIVED_IN`: under 85 %). NEWS2 scores 91 % and 65 % alike: an
# oximeter's SpO2 falling from 91 to 65 over nine minutes after a `low`
# alert opened told nothing more (a real induced-hypoxaemia recording).
_HYPOXIA_BIT = 1 << 11
_HYPOXIA_UNDER = _RED_LIVED_IN["spo2"][0]
# ... and a red parameter gone on past a medical emergency team's calling
# criteria, beyond NEWS2's red bands (University of Pittsburgh's: any heart
# rate over 160, a systolic under 80, a breathing rate over 36, and an SpO2
# under 85 % as above; DeVita et al., Qual Saf Health Care 2004;13:251-4;
# its heart rate under 40 and breathing under 8 are NEWS2's red bands
# themselves), or a heart rate under 30, where no one lives
# (`_RED_LIVED_IN`). NEWS2 scores a systolic of 88 and of 45, a heart rate
# of 135 and of 190 alike: on a real ICU stay (PhysioNet 2012) a pressure
# falling from 88 to 64/38 after its alert went high told nothing more. Once
# told, a criterion holds while the value stays within its margin of it, so
# that a value hovering about it is told once, not at each dip after a
# reminder. (vital, direction past it: 1 over, -1 under; the criterion; the
# margin; the bit.)
_BEYOND_RED: tuple[tuple[str, int, float, float, int], ...] = (
    ("heart_rate", 1, 160.0, 10.0, 1 << 12),
    ("heart_rate", -1, 30.0, 5.0, 1 << 13),
    ("systolic_bp", -1, 80.0, 5.0, 1 << 14),
    ("respiratory_rate", 1, 36.0, 4.0, 1 << 15),
)
# ... and the arterial line's mean under MAP_FLOOR with the systolic red
# (`_underperfused`), held within this margin once told.
_SHOCK_BIT = 1 << 16
# ... and, beside a parameter's bit, its bit this far up when its red value was in the part of
# the range people live in (`_RED_LIVED_IN`) while NEWS2 scored nothing of the normal learned
# (`_held_marks`): what may hold the alert once it is no longer red (`_hold_unrecovered`).
# Never news (`app.core.alerts.NEWS_MARKS`).
_HELD_SHIFT = 20  # `app.core.alerts.NEWS_MARKS`: the bits under it are news
_HELD_BIT = {name: bit << _HELD_SHIFT for name, bit in _NEWS2_BIT.items()}
# ... and the side of its range a parameter was red on, under or over its normal band
# (`_red_side`): a value near red is near that red band (`_within_red_margin`), not the
# other. A breathing rate told red at 7 held its alert open at 23, near 25, its
# reminder saying "not_recovered" (a PhysioNet 2012 stay, an outside tester). Neither
# bit (an alert told before they were kept): either side. Never news.
_RED_UNDER_SHIFT, _RED_OVER_SHIFT = 27, 34
_RED_UNDER_BIT = {name: bit << _RED_UNDER_SHIFT for name, bit in _NEWS2_BIT.items()}
_RED_OVER_BIT = {name: bit << _RED_OVER_SHIFT for name, bit in _NEWS2_BIT.items()}
# An open NEWS2 alert holds on a parameter not recovered (`_hold_unrecovered`) for at most this long
# after a red value in the part of its range people live in last counted as a deterioration (not
# as the patient's own, `_deviates`; `PatientState.red_at`).
UNRECOVERED_MS = 24 * 60 * 60 * 1000
# A vital read this seldom or less often (charted) has a run of red values deep into red
# (`_off_established`) in two of them in a row, where its recent level lags for hours.
CHARTED_RUN_MS = 30 * 60 * 1000
# A high alert held high by a part within a reading's noise of red (`_high_held`) only
# while a red value was seen within this (or two of the patient's cadences, if longer).
HIGH_NEAR_RED_MS = 60 * 60 * 1000
_SHOCK_MARGIN = 5.0
_RADIANS_PER_MS = 2 * math.pi / DAY_MS
# Enum members bound once: looking one up on its class costs four times a
# plain name on the hot path.
_NEWS2, _ANOMALY, _TREND, _SIGNAL_QUALITY = Kind.NEWS2, Kind.ANOMALY, Kind.TREND, Kind.SIGNAL_QUALITY
_REFUTABLE = (_NEWS2, _ANOMALY)  # the kinds a re-take may refute (`_refuted`)
_BASELINE_DRIFT, _NO_SIGNAL = Kind.BASELINE_DRIFT, Kind.NO_SIGNAL
_LOW, _MEDIUM, _HIGH = Severity.LOW, Severity.MEDIUM, Severity.HIGH
# What an arousal (waking, moving, coughing, pain) raises for a few minutes:
# sympathetic activation speeds the heart and breathing and raises pressure.
_AROUSAL = frozenset({"heart_rate", "respiratory_rate", "systolic_bp", "diastolic_bp", "mean_bp"})
# Vitals measured independently of one another (the ones NEWS2 scores; the
# diastolic pressure comes from the same cuff reading as the systolic): two
# of them far from normal at once corroborate each other (`_together`).
_TOGETHER = frozenset({"heart_rate", "spo2", "respiratory_rate", "systolic_bp", "temperature"})
# The channels of one arm: the cuff's and the oximeter's (`_pressure_measured`).
_ONE_ARM = frozenset({"spo2", PULSE_RATE, "systolic_bp", "diastolic_bp", "mean_bp"})
# The direction in which a drift of a vital's normal is a deterioration's, as
# sepsis moves them (SIRS criteria, qSOFA): the heart and breathing rate and
# the temperature up, the systolic pressure and SpO2 down (`_drifting_together`).
_DETERIORATES: dict[str, int] = {
    "heart_rate": 1,
    "respiratory_rate": 1,
    "temperature": 1,
    "systolic_bp": -1,
    "spo2": -1,
}
# ... by at least this many of the vital's SDs: the drift detector also
# fires on a level that barely moved (a systolic "falling" 0.2 mmHg, the
# daily rhythm's leftovers), which is no deterioration's.
DRIFT_TOGETHER_SD = 0.5
# ... and only a vital whose normal had moved fewer than `Config.drift_wander` times
# (either way) in this long before the window (`_settled`).
DRIFT_WANDER_MS = 24 * 60 * 60 * 1000
_STILL = ("respiratory_rate", "spo2", "systolic_bp")  # what moves with a heart rate rising for a reason
# The values from which NEWS2 scores a vital on the side an arousal pushes it
# (`_transient_rise`): pulse over 90, breathing 21 or more, systolic 220 or more.
_RISE = {"heart_rate": 91, "respiratory_rate": 21, "systolic_bp": 220}
# The monitored vitals that, still scoring 2 or more (next to or in their red band),
# keep a NEWS2 trigger awaiting confirmation pending through a dip (`_keep_pending`).
_HOVERING = ("heart_rate", "respiratory_rate", "systolic_bp", "spo2")
# How near its red band (`DANGER`) a parameter told red holds its mark at a reminder or a
# settle (`_near_red`): about a reading's noise, as the calling criteria hold theirs.
_NEAR_RED = {"heart_rate": 5, "respiratory_rate": 2, "systolic_bp": 5, "spo2": 1}
_NEVER = 1 << 62  # a hold no condition outlasts: pending, not opening on this reading


# The NEWS2 parameter scorer for each modelled vital; a drift is only adopted
# when the new level scores 0. Diastolic pressure is not in NEWS2.
def _under_map_floor(level: float) -> int:
    """A mean arterial pressure under MAP_FLOOR is no one's normal (3, as a
    red score; else 0): NEWS2 does not score it, and a chart that records
    the arterial line's mean without a systolic had a fall to 42-48 adopted
    as the patient's normal, its anomaly resolved and 24 hours of shock
    told by nothing (a PhysioNet 2012 stay; an outside tester)."""
    return 3 if level < MAP_FLOOR else 0


# What NEWS2 scores a level of each vital (`_level_scores`): a drift to a level
# scored is a deterioration, not a new normal; the mean pressure's floor likewise.
_SAFE_LEVEL: dict[str, Callable[[float], int]] = {
    "heart_rate": news2.pulse,
    "spo2": news2.spo2_scale1,
    "respiratory_rate": news2.respiratory_rate,
    "systolic_bp": news2.systolic_bp,
    "temperature": news2.temperature,
    "mean_bp": _under_map_floor,
}
# The direction in which a vital's sustained shift is a deterioration, for
# the level-shift watch on slowly read channels (`_watch_shift`): +1 up, -1
# down. Weight: a gain is fluid retention in heart failure, not a new normal
# (Heart Failure Association of the ESC, Jaarsma et al., "Self-care of heart
# failure patients", Eur J Heart Fail 2021;23:157-174, doi:10.1002/ejhf.2008, and
# the ESC's heartfailurematters.org: a gain of more than 2 kg in 3 days is to be
# reported to the heart-failure team); a loss is what diuretics are for. Pressure
# and heart rate: a sustained rise is hypertension or decompensation, a fall
# usually a treatment's intended effect (a fall into danger is NEWS2's).
# Channels not listed (custom channels) are watched both ways.
_WORSENS: dict[str, int] = {
    "weight": 1,
    "systolic_bp": 1,
    "diastolic_bp": 1,
    "mean_bp": 1,
    "heart_rate": 1,
    "respiratory_rate": 1,
    "temperature": 1,
    "spo2": -1,
}
# Channels that come from one measurement (a cuff or an arterial line gives
# systolic, diastolic and mean pressure at once, sharing its errors; a pulse
# oximeter's probe its SpO2 and pulse rate): for the level-shift watch's
# fusion (`_shift_together`) and for an anomaly's corroboration (`_anomaly`)
# they are one source of evidence, as for `_TOGETHER`, keyed by the first.
_SAME_MEASUREMENT = {"diastolic_bp": "systolic_bp", "mean_bp": "systolic_bp", "pulse_rate": "spo2"}


@dataclass(frozen=True, slots=True)
class Config:
    z_alert: float = 5.0  # |z| at which a vital is anomalous for this patient
    z_medium: float = 8.0  # |z| from which an anomaly is of medium severity
    learn_below: float = 3.0  # |z| below which a value is learned from
    news2_max_age_ms: int = 60 * 60 * 1000  # older latest values do not count
    resolve_after_ms: int = 10 * 60 * 1000  # a condition must be gone this long to resolve
    confirm_ms: int = 15 * 1000  # ... and hold this long, over two readings or more, to open
    personal_after: int = 12  # readings learned, and ...
    personal_after_ms: int = 2 * 60 * 60 * 1000  # ... the time they span, before a trigger can be the normal
    renotify_ms: int = 60 * 60 * 1000  # first reminder while an alert stays open (NEWS2 medium: hourly) ...
    renotify_max_ms: int = 24 * 60 * 60 * 1000  # ... then twice as long each time, up to this
    artifact_share: float = 0.3  # share of a channel's recent values that were artifacts that marks it bad
    no_signal_ms: int = 5 * 60 * 1000  # a channel sending "no signal" (0) this long is a technical notice
    trend_horizon_ms: int = 15 * 60 * 1000  # how far ahead the trend looks for a dangerous range
    trend_z: float = 2.5  # how far (in SDs) a vital must have left its normal before its trend counts
    scale2: bool = False  # NEWS2 SpO2 scale 2 (hypercapnic target)
    step_z: float = 5.0  # a dense channel's value this many SDs from its previous one is a sudden step ...
    corroborate_z: float = 3.0  # ... that another channel stepping this many SDs at once corroborates
    excursion_ms: int = 7 * 60 * 1000  # a dense rise such as an arousal's must hold this long to open
    together_charted_z: float = 3.0  # two charted NEWS2 vitals this many SDs off at once: an anomaly; 0: off
    three_charted_z: float = 2.0  # three charted NEWS2 vitals this many SDs off at once: an anomaly; 0: off
    news2_sustain_ms: int = 5 * 60 * 1000  # a NEWS2 trigger made only of a dense rise must hold this long
    one_alarm: bool = True  # an anomaly or trend on one vital this reading's NEWS2 scores 3 adds no alert
    together_z: float = 1.5  # heart and breathing rate both this many SDs up: moving together
    heart_alone_ms: int = 7 * 60 * 1000  # a dense heart rate's trend up, nothing else moving, holds this long
    trend_together: bool = True  # a trend of heart and breathing rate heading up together waits excursion_ms
    cuff_dip: float = 2.0  # SpO2 this many % under its level as the pressure is measured: the cuff's; 0: off
    # A monitor's breathing rate in NEWS2's low red range while SpO2 on air (`on_oxygen`: false) stays
    # within this many % of its learned normal is the sensor under-counting (`_undercount`); 0: off.
    undercount_spo2: float = 2.0
    breathing_level: bool = True  # a breathing rate whose smoothed level is up counts as up (_excursion)
    # Custom channels (a generic anomaly detector's ground, `app.core.model.GENERIC_FIELDS`):
    surprise_z: float = 5.0  # calibrated surprise (SDs of the channel's own history of scores): anomalous
    stuck_readings: int = 3  # a run of this many repeats (and over twice the channel's usual): a stuck sensor
    # A channel read this rarely or less often (a scale, a home cuff) is watched for a sustained shift of
    # its level (`_watch_shift`): a one-sided CUSUM of its standardised residuals less `shift_k` SDs
    # each, opening a `trend` when the sum reaches `shift_h` SDs; one residual counts at most
    # `shift_k + shift_clip * shift_h` SDs, so a single reading cannot open it.
    shift_cadence_ms: int = 6 * 60 * 60 * 1000
    shift_k: float = 1.0
    shift_h: float = 2.25
    shift_clip: float = 0.9
    # Two or more independently measured slowly read channels, each with a run in its deteriorating
    # direction, open the `trend` together when their CUSUMs sum to `shift_together * shift_h` SDs
    # (`_shift_together`): the sum of two independent channels' evidence spreads sqrt(2) times as
    # wide as one's. 0: off.
    shift_together: float = math.sqrt(2)
    # ... and a slowly read heart rate alone opens at `shift_pulse_alone * shift_h` SDs (`_shift`):
    # a home pulse runs high for a day or two at a time (stress, caffeine, a cold), its readings
    # far from independent; beside another channel moving its way, it counts as before.
    shift_pulse_alone: float = math.sqrt(2)
    # This many of the vitals in `_DETERIORATES` each drifting in a deterioration's direction
    # within `drift_together_ms` of one another open a `trend` (`_drifting_together`); 0: off.
    drift_together: int = 3
    drift_together_ms: int = 90 * 60 * 1000
    # ... counting only vitals whose normal moved fewer than this many times, either way, in the
    # day before the window (`_settled`: one that moves several times a day wanders); 0: off.
    drift_wander: int = 3
    # ... and such a vital (one that wanders, `_wanders`) counts as heading for danger only once its
    # smoothed level is this many SDs out, not `trend_z`; 0: `trend_z` for every vital.
    trend_z_wander: float = 2.75


# The three classes below are made once or twice per reading. Written as
# plain classes, mypyc compiles their constructors; a dataclass's generated
# `__init__` stays interpreted (0.2-0.8 µs each, about a tenth of the core).


class Outcome:
    """What processing one reading did, for the shell's metrics."""

    __slots__ = ("events", "artifacts", "out_of_order", "duplicate", "drifts")
    events: list[dict[str, Any]]
    artifacts: int
    out_of_order: bool
    duplicate: bool
    drifts: list[str]

    def __init__(self) -> None:
        self.events = []
        self.artifacts = 0
        self.out_of_order = False
        self.duplicate = False
        self.drifts = []


# scored: learned and scored; artifact: carried an implausible value (also
# counted as scored or out_of_order); out_of_order: older than the newest
# reading seen; duplicate: the reading processed last, again; future: stamped
# after its record was received (a device clock ahead), processed at the
# receipt time (also counted as scored or out_of_order).
READING_OUTCOMES = ("scored", "artifact", "out_of_order", "duplicate", "future")


class RecordOutcome:
    """What processing one `vigil.readings` record did: its alert events and,
    for the shell's metrics, how many readings had each outcome
    (`READING_OUTCOMES`) and which vitals drifted."""

    __slots__ = ("events", "counts", "drifts")
    events: list[dict[str, Any]]
    counts: dict[str, int]
    drifts: list[str]

    def __init__(self) -> None:
        self.events = []
        self.counts = dict.fromkeys(READING_OUTCOMES, 0)
        self.drifts = []


_NO_CHANNELS: frozenset[str] = frozenset()


class _Reading:
    """One reading on its way through the stages, with what each found."""

    __slots__ = (
        "subject", "patient", "device_id", "raw", "ts", "clean", "z", "scored", "near", "findings",
        "evidence", "artifacts", "bad", "far", "off", "wide", "steps", "judged", "stuck", "surprised",
        "heavy", "routine", "doubted", "moving", "drifted", "unit", "before", "pace", "tag", "spaced",
    )  # fmt: skip
    subject: str  # the patient's pseudonym: keys the state, derives alert ids
    patient: str | None  # the reference alert consumers act on
    device_id: str
    tag: int  # the device's tag in the state (`device_tag`)
    raw: dict[str, Any]
    ts: int
    clean: dict[str, Any]
    z: dict[str, float]  # modelled vital -> z-score
    # (channel, whether its baseline is warmed up), for every numeric channel scored, in the reading's order
    scored: list[tuple[str, bool]]
    near: list[str]  # vitals whose trend reaches danger
    findings: dict[Kind, Finding]
    evidence: dict[Kind, dict[str, Any]]
    artifacts: dict[str, Any]  # channel -> its artifact value in this reading
    bad: frozenset[str] | set[str]  # channels whose signal is bad now (`_quality`)
    far: bool  # a channel scored |z| >= z_alert (`_model`)
    off: int  # NEWS2 vitals (`_TOGETHER`) scored |z| >= together_charted_z (`_model`)
    wide: int  # sparsely read NEWS2 vitals (`_TOGETHER`) scored |z| >= three_charted_z (`_model`)
    # dense channels that stepped `corroborate_z` SDs or more since their previous value -> the step in
    # SDs, and how many dense channels with a baseline were judged (`_clean`)
    steps: dict[str, float] | None
    judged: int
    stuck: dict[str, Any] | None  # custom channels stuck at one value -> that value (`_repeat`)
    surprised: dict[str, float] | None  # custom channels -> their calibrated surprise, when anomalous
    heavy: bool  # a custom channel far out now often is (`Baseline.exceeds`)
    routine: list[str] | None  # custom channels far out routinely: only their surprise counts
    doubted: bool  # this reading's SpO2 was dropped for the pulse rate's disagreement (`_quality`)
    moving: str | None  # a dense channel stepping on from a value already off that way (`_step`)
    drifted: bool  # a vital's normal drifted in a deterioration's direction (`_drift`)
    unit: dict[str, str] | None  # channels whose value came in another unit -> that unit (`_other_unit`)
    before: dict[str, Any]  # channels with a value before this reading's -> that value (`_keep_latest`)
    # the shortest regular step, SPARSE_MS or longer, of a channel read at this reading (`_keep_latest`)
    pace: int
    # channels read at this reading SPARSE_MS or more after their value before (`_keep_latest`)
    spaced: list[str] | None

    def __init__(
        self,
        subject: str,
        patient: str | None,
        device_id: str,
        raw: dict[str, Any],
        ts: int,
        clean: dict[str, Any],
        z: dict[str, float],
        scored: list[tuple[str, bool]],
        near: list[str],
        findings: dict[Kind, Finding],
        evidence: dict[Kind, dict[str, Any]],
        artifacts: dict[str, Any],
    ) -> None:
        self.subject = subject
        self.patient = patient
        self.device_id = device_id
        self.tag = device_tag(device_id)
        self.raw = raw
        self.ts = ts
        self.clean = clean
        self.z = z
        self.scored = scored
        self.near = near
        self.findings = findings
        self.evidence = evidence
        self.artifacts = artifacts
        self.bad = _NO_CHANNELS
        self.far = False
        self.off = 0
        self.wide = 0
        self.steps = None
        self.judged = 0
        self.stuck = None
        self.unit = None
        self.surprised = None
        self.heavy = False
        self.routine = None
        self.doubted = False
        self.before = {}
        self.pace = 0
        self.spaced = None
        self.moving = None
        self.drifted = False


def process_record(
    state: PatientState,
    batch: ReadingBatch,
    config: Config = Config(),
    patient: str | None = None,
) -> RecordOutcome:
    """Advance `state` (in place) by every reading of one record, in order.

    No reading can have been taken after the gateway received it: one
    stamped later (a device clock running ahead) is processed at the
    record's receipt time, so that it cannot move the patient's clock past
    the readings that follow it. Replaying `vigil.readings` through this
    function gives the same events at any speed: the receipt time is in the
    record."""
    result = RecordOutcome()
    counts = result.counts
    received = batch.received_ms
    for reading in batch.readings:
        ts = reading["ts"]
        if ts > received:
            counts["future"] += 1
            ts = received
        outcome = process(state, batch.patient, batch.device_id, reading, config, patient, ts)
        result.events.extend(outcome.events)
        if outcome.duplicate:
            counts["duplicate"] += 1
            continue
        if outcome.artifacts:
            counts["artifact"] += 1
        counts["out_of_order" if outcome.out_of_order else "scored"] += 1
        result.drifts.extend(outcome.drifts)
    return result


def process(
    state: PatientState,
    subject: str,
    device_id: str,
    reading: dict[str, Any],
    config: Config = Config(),
    patient: str | None = None,
    ts: int | None = None,
) -> Outcome:
    """Advance `state` (in place) by one reading from a `vigil.readings` record.

    `subject` is the patient's pseudonym, which keys the state and derives the
    alert ids; `patient` is the reference alert consumers act on, put in the
    alert events as it is. `ts` is the reading's event time when it is not
    the reading's own (see `process_record`).
    """
    outcome = Outcome()
    if reading["id"] == state.last_id and reading["ts"] == _stamp(state):
        # the same reading stored twice (a resend): already counted. The same id at another
        # time is another reading: a producer that repeats an id, or writes the next id a
        # device will send, must not have a patient's readings dropped
        outcome.duplicate = True
        return outcome
    when = reading["ts"] if ts is None else ts
    r = _Reading(subject, patient, device_id, reading, when, {}, {}, [], [], {}, {}, {})
    now = _clean_in_time(state, r, config, outcome)
    if now is None:
        bound(state)  # its values may have been kept as their channels' latest
        return outcome
    _advance(state, r, now)
    if r.artifacts or state.quality:  # the common case skips these calls: this is the hot path
        _quality(state, r, config, outcome)
    if state.moving or MOTION in r.raw["vitals"]:
        _motion(state, r, config, outcome)
    if r.stuck:
        r.bad = set(r.bad) | r.stuck.keys()
    spo2 = r.clean.get("spo2")
    if spo2 is not None and config.cuff_dip:  # the common case stops at the level's comparison
        baseline = state.baselines.get("spo2")
        if baseline is not None and spo2.__class__ in _NUMBERS and spo2 <= baseline.level - config.cuff_dip:
            _cuff_dip(state, r, config)
    if r.steps:
        _hold_steps(state, r, config)
    breathing = r.clean.get("respiratory_rate")
    if breathing is not None and breathing.__class__ in _NUMBERS:  # the common case stops here
        if _NEAR_APNOEA <= breathing <= _SLOW_BREATHING:
            _undercount(state, r, config)
    if r.bad or state.held:
        _hold_latest(state, r)
    _model(state, r, config, outcome)
    if "weight" in r.clean:
        _weigh(state, r)
    clean = r.clean
    if "systolic_bp" in clean or "diastolic_bp" in clean or "mean_bp" in clean:
        _pressure(state, r)
    r.ts = now  # the rest runs at the patient's newest time: a late value is told now (`_late`)
    _safety_net(state, r, config)
    alerts = state.alerts
    if r.far or r.off >= 2 or r.wide >= 3 or alerts:
        _anomaly(state, r, config)
    if r.near or alerts:
        _trend(state, r, config)
    if state.shifts:
        _shift(state, r, config)
    if state.gain and state.gain[0] == 2:
        _weight_gain(state, r, config)
    if state.severe:
        _severe_pressure(state, r, config)
    if state.low_mean:
        _low_mean(state, r, config)
    if state.drifting:
        _drifting_together(state, r, config)
    if state.quality or alerts or r.stuck or r.unit:
        _signal_quality(state, r, config)
    if r.findings or alerts:
        _lifecycle(state, r, config, outcome)
    bound(state)  # here, not when the state is written: what is dropped then depends on the readings alone
    return outcome


# -- 1. clean ---------------------------------------------------------------------


def _clean(state: PatientState, r: _Reading, config: Config) -> int:
    """Keep the plausible values in `r.clean` and as the patient's latest;
    note the artifacts (per channel) in `r.artifacts` and return how many
    there were. Cross-channel checks (`_implausible_together`) mark values
    that are each plausible but cannot all be right. A reading the device
    says it took while moving (`motion`: true) has its pulse-derived values
    (`MOVED`) left out: neither kept nor counted as artifacts (the device
    knows why they are off, and the probe is not to blame), as is the flag
    itself, which speaks for this reading only."""
    ts, clean, artifacts, vitals = r.ts, r.clean, r.artifacts, r.raw["vitals"]
    moving = vitals.get(MOTION) is True
    for name, value in vitals.items():
        if name == MOTION or (moving and name in MOVED):
            continue
        bounds = _CHECKED.get(name)
        if bounds is not None:
            if name in _UNITS_CONFUSED and value.__class__ in _NUMBERS:
                unit = _other_unit(state, name, value)
                if unit is not None:  # the device's setting, not the patient: `signal_quality` says so
                    r.unit = {**(r.unit or {}), name: unit}
                    continue  # neither kept nor counted as an artifact (the probe is not to blame)
            if value.__class__ in _NUMBERS and (
                (not bounds[0] <= value <= bounds[1] and not _past_the_edge(state, r, name, value, bounds))
                or (name == "temperature" and _cooled_too_fast(state, ts, value))
            ):
                artifacts[name] = value  # outside physiology (app.core.vitals.is_artifact), or no signal
                continue
        elif name == SPO2_SCALE:
            # A prescription, not a measurement: it holds until a newer
            # reading says otherwise, however old, and is neither learned
            # nor scored (no cadence: it does not say how often the patient is read).
            held = state.latest.get(name)
            if held is None or held[1] <= ts:
                state.latest[name] = [value, ts, 0]
            continue
        clean[name] = value
    if (
        PULSE_RATE in clean
        or "diastolic_bp" in clean
        or "mean_bp" in clean
        or ("systolic_bp" in clean and ("diastolic_bp" in artifacts or "mean_bp" in artifacts))  # `_flushed`
    ):
        _implausible_together(state, r)
    _keep_latest(state, r, config)
    if r.tag != state.device or state.sources:  # the common case, one device, stops here
        _note_source(state, r)
    return len(artifacts)


def _note_source(state: PatientState, r: _Reading) -> None:
    """Note which device sent each judged vital's latest value: the
    patient's device (`state.device`), or another (`state.sources`). A
    device's first artifact of a vital is judged against it (`_quality`):
    a spare left unplugged beside a cuff read every 30 minutes, its first 0
    taken for the device of the pressure's latest value, kept the cuff's
    pressure out of NEWS2 until its next reading (NEWS2 5 instead of 7).
    Once one device sent the latest value of every judged vital (a monitor
    replaced), it is the patient's device. A state from before "g" knows
    no vital's device (0) until its next value."""
    tag, ts, latest, sources = r.tag, r.ts, state.latest, state.sources
    if not state.device:
        state.device = tag  # the first reading's device
        for name in latest:
            if name in _CHECKED:
                sources[name] = 0  # this reading's own are known below; a new patient has no other
    own = tag == state.device
    for name in r.clean:
        entry = latest.get(name) if name in _CHECKED else None
        if entry is not None and entry[1] == ts:  # this value is the channel's latest
            if own:
                sources.pop(name, None)
            else:
                sources[name] = tag
    if not own and all(sources.get(name) == tag for name in latest if name in _CHECKED):
        state.device = tag
        sources.clear()


def _source(state: PatientState, name: str) -> int:
    """The tag of the device that sent the latest value of `name`, a vital
    judged for signal quality; 0 when it has none or the state did not say."""
    if name not in state.latest:
        return 0
    return state.sources.get(name, state.device)


def _other_unit(state: PatientState, name: str, value: float) -> str | None:
    """The unit a value came in when it is plainly not the catalogue's: a
    weight in pounds (`_in_pounds`), or an SpO2 as a fraction of 1 (0.5-1:
    FHIR's and some APIs' ratio, where the catalogue's is percent; no
    oximeter reads 1 %, and "no signal" is 0). None for the rest."""
    if name == "weight":
        return "lb" if _in_pounds(state, value) else None
    if name == "spo2" and SPO2_FRACTION[0] <= value <= SPO2_FRACTION[1]:
        return "fraction"
    return None


def _in_pounds(state: PatientState, value: float) -> bool:
    """A weight `POUNDS_RATIO` times the patient's latest one (1 kg is
    2.2046 lb): the scale sent pounds, as a scale set to them or a weight
    typed in from one does. No body's weight more than doubles between two
    weighings; without the check the value was scored as the patient's (an
    `anomaly` 193 spreads out, and a level the drift detector could adopt)."""
    latest = state.latest.get("weight")
    if latest is None or latest[0].__class__ not in _NUMBERS or latest[0] <= 0:
        return False
    ratio: float = value / latest[0]
    return POUNDS_RATIO[0] <= ratio <= POUNDS_RATIO[1]


def _keep_latest(state: PatientState, r: _Reading, config: Config) -> None:
    """Each clean value newer than its channel's latest becomes the latest,
    with the channel's cadence updated (and a dense channel's step since its
    previous value noted: `_step`); a value at the latest's own time replaces it.
    A re-take in a sitting (`SITTING_MS`) leaves the cadence as it was and
    notes the sitting's first time as the entry's fourth element; -1 there
    says the channel has gone on being read that often for longer than a
    sitting (a monitor connected), so its cadence follows until a longer step.
    A channel's first values, its cadence not known, may be a sitting too:
    while they are (within `SITTING_MS` of the first), minus the first's
    time is the fourth element; a pause after them of `SITTING_RATIO` times
    their span or more makes the time from the first the channel's first
    cadence sample, their steps forgotten. A spot-check device sending each
    check as quick re-takes (5 readings 1 s apart every 4 hours) had a
    first cadence of a second, its re-takes a sample each while under
    `SITTING_CADENCE_MS`: the channel looked read every minute, and a fall
    was confirmed only at the next check, 4 hours late. A monitor's first
    minutes before a dropout are no sitting: their span is too long for the
    pause."""
    ts, clean = r.ts, r.clean
    latest, baselines, corroborate_z = state.latest, state.baselines, config.corroborate_z
    for name, value in clean.items():
        previous = latest.get(name)
        if previous is None:
            if name not in CATALOGUE:
                _keep_custom(state, name)
            latest[name] = [value, ts, 0]
        elif previous[1] < ts:
            r.before[name] = previous[0]
            if name not in CATALOGUE:
                _keep_custom(state, name)
                if _afresh(state, name, value, ts, previous):
                    continue
                _repeat(state, r, name, value, previous[0], config)
            # The channel's cadence (typical time between its values, ms): an
            # exponentially weighted mean whose steps are clipped to
            # CADENCE_CLIP times the estimate, so that one night's gap hardly
            # moves a monitor's cadence while a real change (charting hourly
            # from now on) is followed within a few readings.
            cadence, dt = previous[2], ts - previous[1]
            if (
                state.shifts
                and name in state.shifts
                and dt > max(SHIFT_STALE_CADENCES * cadence, SHIFT_STALE_MS)
                and _TREND not in state.alerts
            ):
                # Unread as long as a shift holds (`_shift`), and no `trend` open: its run is
                # over, this value begins any new one (a home pulse's run was kept across 133
                # days unread and told a pulse of 69 as shifted since 203 days before, an
                # outside tester). A trend open holds it: a reviewer's pressure trend resolved
                # at 153/90 a day after a week unread, the pressure still up.
                del state.shifts[name]
            if dt >= SPARSE_MS:  # read as a spot measurement (`_sparse`)
                if r.spaced is None:
                    r.spaced = []
                r.spaced.append(name)
            sitting = 0
            if len(previous) > 3 and previous[3] < -1:  # the channel's values so far may be one sitting
                cadence, dt, sitting = _first_sitting(previous, ts, cadence, dt)
            if cadence >= SITTING_CADENCE_MS and dt * SITTING_RATIO <= cadence:
                sitting = previous[3] if len(previous) > 3 else previous[1]
                if sitting > 0 and ts - sitting <= SITTING_MS:  # a re-take: not learned (`_model`)
                    latest[name] = [value, ts, cadence, sitting]
                    continue
                # More than a sitting since the value before: a sitting of its own begins
                # (its re-takes follow); read this often for longer than a sitting without
                # such a pause (a monitor connected): no sittings until a longer step.
                sitting = 0 if dt > SITTING_MS else -1
            if cadence <= 0:
                cadence = dt
                if dt <= FIRST_SITTING_MS:  # the first step may be a re-take of a sitting begun at the first
                    sitting = -previous[1]
            else:
                baseline = baselines.get(name) if dt <= 2 * cadence < 2 * SPARSE_MS else None
                if baseline is not None and baseline.var.n >= WARMUP_MIN:  # `_step`, inline
                    if value.__class__ in _NUMBERS and previous[0].__class__ in _NUMBERS:
                        r.judged += 1
                        change = value - previous[0]
                        if (change if change > 0 else -change) >= corroborate_z * baseline.sd:
                            _step(r, name, change, baseline, previous, corroborate_z)
                step = dt if dt < CADENCE_CLIP * cadence else CADENCE_CLIP * cadence
                cadence = int(cadence + CADENCE_ALPHA * (step - cadence) + 0.5)
                if SPARSE_MS <= dt < cadence:
                    _note_pace(r, name, dt, cadence)
            latest[name] = [value, ts, cadence] if sitting == 0 else [value, ts, cadence, min(sitting, -1)]
        elif previous[1] == ts:
            previous[0] = value


def _first_sitting(previous: list[Any], ts: int, cadence: int, dt: int) -> tuple[int, int, int]:
    """`_keep_latest` for a channel whose values so far may be one sitting
    (`previous[3]`: minus its first value's time): its cadence, the step to
    this value and the sitting to note. A pause of `SITTING_RATIO` times
    their span or more after them says they were: the first cadence sample
    is from the first value. Within `FIRST_SITTING_MS` of the first they
    still may be; later, without such a pause, they were not. The price: a
    monitor on for five minutes, then unplugged for two hours, is taken for
    a spot check every two hours, and once plugged in again its values are
    spot measurements for up to half an hour, each its own confirmation
    (one SpO2 artifact opened NEWS2: a reviewer's finding). Re-takes cannot
    be told from a monitor's first minutes by their spacing: home blood
    pressure is three readings a minute apart (ESH 2021), and limiting the
    sitting to 90 s told such checks a whole check late (a second
    reviewer's)."""
    began = -previous[3]
    if dt > SITTING_MS and (previous[1] - began) * SITTING_RATIO <= ts - began:
        return 0, ts - began, 0
    if ts - began <= FIRST_SITTING_MS:
        return cadence, dt, previous[3]
    return cadence, dt, 0


def _note_pace(r: _Reading, name: str, dt: int, cadence: int) -> None:
    """A sparse channel's step `dt` shorter than its `cadence` (updated) is
    the pace it is read at now, whatever a gap did to the cadence, when at
    least `PACE_SHARE` of it (`transition`'s `pace_ms`: the shortest of the
    reading's). A status said with each reading (`_SAID`) sets none."""
    if dt >= PACE_SHARE * cadence and not 0 < r.pace <= dt and name not in _SAID:
        r.pace = dt


def _afresh(state: PatientState, name: str, value: Any, ts: int, previous: list[Any]) -> bool:
    """Is this custom channel back after a silence of `AFRESH_GAP_MS` and
    `AFRESH_GAP_CADENCES` of its cadences (a glucose sensor worn for a few
    hours, a new one seven weeks later)? Then what was learned says little
    of this wear, and its first day would count as learned already (a quiet
    night was judged a stuck sensor on a real log): it is learned afresh
    from `value`, as a new channel."""
    gap = ts - previous[1]
    if gap <= AFRESH_GAP_MS or gap <= AFRESH_GAP_CADENCES * previous[2] or not previous[2]:
        return False
    if name not in state.baselines:
        return False
    state.baselines[name] = Baseline.prior(name, value)
    state.shifts.pop(name, None)
    state.latest[name] = [value, ts, 0]
    return True


def _past_the_edge(
    state: PatientState, r: _Reading, name: str, value: float, bounds: tuple[float, float]
) -> bool:
    """Is a value beyond physiology's `plausible` edge (not "no signal")
    the patient's own? When the vital's latest value, recent (two of its
    cadences, or `EDGE_RECENT_MS`), was already in NEWS2's red range on the
    same side (`DANGER`): a fall through 85 % to 45 %, a heart rate through
    35 to 15, a pressure through 60 to 35 is a patient peri-arrest, who must
    not drop out of detection because the values are extreme. From a normal
    value the same number is an artifact, as before. So is a systolic
    pressure under the edge while the same reading's SpO2 is above its red
    range: a pulse oximeter needs a pulse, and it does not find one at a
    systolic pressure under 40 (an arterial line being flushed or zeroed
    reads 15-30 mmHg with a steady SpO2 of 100 %, as on VitalDB case 1);
    and a systolic over the edge while the same reading's diastolic is over
    its own: a pressure with no pulse in it, the flush bag's 300 mmHg on
    the transducer (310/293 on the same recording)."""
    danger, previous = DANGER.get(name), state.latest.get(name)
    if danger is None or previous is None or _silent(name, value) or previous[0].__class__ not in _NUMBERS:
        return False
    if r.ts - previous[1] > max(2 * previous[2], EDGE_RECENT_MS):
        return False
    low, high = danger
    if value < bounds[0]:
        vitals = r.raw["vitals"]
        if name == "systolic_bp" and vitals.get(MOTION) is not True and _perfused(vitals.get("spo2")):
            return False
        return low is not None and previous[0] <= low
    if name == "systolic_bp" and _past_plausible(r.raw["vitals"].get("diastolic_bp"), "diastolic_bp"):
        return False
    return high is not None and previous[0] >= high


def _cooled_too_fast(state: PatientState, ts: int, value: float) -> bool:
    """Is this temperature lower than the channel's last kept value by more
    than a body can cool in the time between (`TEMP_FALL_C`, and
    `TEMP_FALL_C_PER_MIN` a minute)? Then it is the probe's: out of place or
    taken off, it reads the room. On an operating-room recording (VitalDB
    case 4096) the probe read 35.8, then 29.6, 23.7, 21.3 ... 19.4 a minute
    apart as the case ended, and NEWS2 escalated to high on it. Each value is
    judged against the last one kept, so a probe left in the air stays an
    artifact (a `signal_quality` alert once sustained). A rise is not judged:
    a probe warming up after it is placed rises as fast, towards the truth.
    Nor is a value stamped at or before the last kept one (a chart entered
    late): seen from its own time, the body warmed since."""
    previous = state.latest.get("temperature")
    if previous is None or previous[0].__class__ not in _NUMBERS or ts <= previous[1]:
        return False
    return bool(previous[0] - value > TEMP_FALL_C + TEMP_FALL_C_PER_MIN * (ts - previous[1]) / 60_000)


def _past_plausible(value: Any, name: str) -> bool:
    """A number over the top of `name`'s `plausible` range."""
    return value.__class__ in _NUMBERS and value > _CHECKED[name][1]


def _perfused(spo2: Any) -> bool:
    """An SpO2 value plausible and above its red range (`DANGER`): the
    oximeter is finding a pulse."""
    return spo2.__class__ in _NUMBERS and DANGER["spo2"][0] < spo2 <= _CHECKED["spo2"][1]


def _implausible_together(state: PatientState, r: _Reading) -> None:
    """Values plausible one by one but not together are artifacts:

    - a pulse oximeter's pulse rate (`PULSE_RATE`) that disagrees with the
      ECG's heart rate by more than `PULSE_DISAGREE` beats/min (and
      `PULSE_DISAGREE_SHARE` of the heart rate): the oximeter is not reading
      the pulse (a loose or moving probe), so its SpO2 is not to be trusted
      either. The ECG's heart rate is kept. A disagreement that lasts
      (`PULSE_DEFICIT_MS` since the pulse rate last agreed, or one that has
      never agreed) is the pulse rate's own: a pulse deficit (atrial
      fibrillation, hypotension: beats too weak to reach the finger) or a
      miscounting channel, and the SpO2 is kept, so that a lasting deficit
      never mutes a desaturation. The SpO2 dropped for a disagreement does
      not count in its own artifact share (`r.doubted`): the evidence is
      against the pulse rate;
    - a pressure beside a diastolic or mean of the same reading past its
      plausible top with no pulse in it (`_flushed`: a line flushed, 260/251
      mean 251 on a real PhysioNet 2012 stay, whose systolic of 260 was told
      as NEWS2's red): all are dropped, and a mean that reads the same
      pressure (`_reads_the_flush`);
    - a systolic pressure not above the diastolic one (a cuff or transducer
      error): both are dropped;
    - a mean pressure in the bottom `MEAN_FORM_MIN` of the pulse pressure it
      comes with (a cuff's 274/67 with its own mean of 81: the mean computed
      from a systolic of about 110, the 274 mistyped, opened NEWS2 `high` and
      a `medium` anomaly on a PhysioNet 2012 stay, an outside tester): one of
      them is wrong, and all three are dropped;
    - a mean pressure outside the systolic and diastolic ones it comes with,
      or beside a systolic and diastolic that read "no signal" (the line
      flushed or zeroed: on MIMIC-II numerics the mean read the flush bag's
      224-338 mmHg, or 0, while they read 0): the mean alone is dropped,
      and counts with the line's "no signal" run (`_quality`)."""
    clean, artifacts = r.clean, r.artifacts
    hr, pr = clean.get("heart_rate"), clean.get(PULSE_RATE)
    if isinstance(hr, (int, float)) and isinstance(pr, (int, float)):
        if abs(hr - pr) > max(PULSE_DISAGREE, PULSE_DISAGREE_SHARE * hr):
            artifacts[PULSE_RATE] = clean.pop(PULSE_RATE)
            agreed = _agreed(state, r)
            if "spo2" in clean and agreed is not None and r.ts - agreed[1] < PULSE_DEFICIT_MS:
                artifacts["spo2"] = clean.pop("spo2")
                r.doubted = True
    sbp, dbp = clean.get("systolic_bp"), clean.get("diastolic_bp")
    if (sbp is not None or dbp is not None) and _flushed(artifacts, sbp):
        for name in ("systolic_bp", "diastolic_bp"):
            if name in clean:
                artifacts[name] = clean.pop(name)
        if _reads_the_flush(artifacts, clean.get("mean_bp")):
            artifacts["mean_bp"] = clean.pop("mean_bp")
        sbp = dbp = None
    if isinstance(sbp, (int, float)) and isinstance(dbp, (int, float)) and sbp <= dbp:
        artifacts["systolic_bp"] = clean.pop("systolic_bp")
        artifacts["diastolic_bp"] = clean.pop("diastolic_bp")
        sbp = dbp = None
    mbp = clean.get("mean_bp")
    if isinstance(mbp, (int, float)):
        if isinstance(sbp, (int, float)) and isinstance(dbp, (int, float)):
            if not dbp <= mbp <= sbp:
                artifacts["mean_bp"] = clean.pop("mean_bp")
            elif mbp - dbp < MEAN_FORM_MIN * (sbp - dbp):
                for name in ("systolic_bp", "diastolic_bp", "mean_bp"):
                    artifacts[name] = clean.pop(name)
        elif _line_silent(r.raw["vitals"]):
            artifacts["mean_bp"] = clean.pop("mean_bp")


def _flushed(artifacts: dict[str, Any], sbp: Any) -> bool:
    """Was this reading's diastolic or mean pressure dropped as past its
    plausible top (a diastolic over 200, a mean over 230), with no pulse in
    the pressure (the systolic at most `PULSE_PRESSURE_MIN` over it, or
    none): the flush bag's pressure on the line? A crisis of 290/205, mean
    233, has a pulse, and is the patient's (a reviewer's); a mean over the
    systolic is not this pressure's (another source's, merged into the
    reading: a reviewer's 232/128 beside a line's mean of 250)."""
    for name in ("diastolic_bp", "mean_bp"):
        value = artifacts.get(name)
        if value is not None and value.__class__ in _NUMBERS and value > _PLAUSIBLE[name][1]:
            if sbp.__class__ not in _NUMBERS or 0 <= sbp - value < PULSE_PRESSURE_MIN:
                return True
    return False


def _reads_the_flush(artifacts: dict[str, Any], mean: Any) -> bool:
    """Does a mean pressure beside a flushed line's (`_flushed`) read the
    flush bag's pressure too: within `PULSE_PRESSURE_MIN` of its systolic
    or diastolic? Then it is dropped with them: a line's 219/215, mean 218,
    kept the mean, and it opened a `medium` anomaly (z 32.7) for 2.5 hours
    on a PhysioNet 2012 stay (an outside tester). A mean far from them is
    another source's, and is kept."""
    if mean.__class__ not in _NUMBERS:
        return False
    for name in ("systolic_bp", "diastolic_bp"):
        value = artifacts.get(name)
        if value.__class__ in _NUMBERS and -PULSE_PRESSURE_MIN < value - mean < PULSE_PRESSURE_MIN:
            return True
    return False


def _agreed(state: PatientState, r: _Reading) -> list[Any] | None:
    """The pulse rate's latest clean value, the last that agreed with the
    heart rate (`_implausible_together`), when it is this reading's
    device's: not when another device sent it (`_source`). A wearable's own pulse
    rate every 30 s kept refreshing it, and a monitor's lasting deficit
    (ECG 100, its oximeter's pulse 80) was never taken as the patient's
    own: its SpO2 of 85 was doubted for an hour (an outside tester's
    finding)."""
    if _source(state, PULSE_RATE) not in (0, r.tag):
        return None
    return state.latest.get(PULSE_RATE)


def _line_silent(vitals: dict[str, Any]) -> bool:
    """Do the systolic and diastolic pressures of this reading both read
    "no signal" (`_silent`: a line flushed, zeroed or not connected)?"""
    sbp, dbp = vitals.get("systolic_bp"), vitals.get("diastolic_bp")
    if not isinstance(sbp, (int, float)) or not isinstance(dbp, (int, float)):
        return False
    return _silent("systolic_bp", sbp) and _silent("diastolic_bp", dbp)


def _keep_custom(state: PatientState, name: str) -> None:
    """Make `name` the most recently updated custom channel, forgetting the
    least recently updated one (its value and baseline) when the patient
    already has `MAX_CUSTOM_CHANNELS` (dicts keep insertion order)."""
    latest = state.latest
    if name in latest:
        del latest[name]
        return
    custom = [k for k in latest if k not in CATALOGUE]
    if len(custom) >= MAX_CUSTOM_CHANNELS:
        del latest[custom[0]]
        state.baselines.pop(custom[0], None)
        state.shifts.pop(custom[0], None)
        state.quality.pop(custom[0], None)
        state.sources.pop(custom[0], None)
        state.held.discard(custom[0])


def _repeat(state: PatientState, r: _Reading, name: str, value: Any, previous: Any, config: Config) -> None:
    """A custom channel sending the same value again and again, where its
    learned spread and its own history of repeats make that improbable, is a
    stuck sensor (a flat-line): a signal-quality matter, not the patient's
    or the process's. Its values are kept out of detection while it lasts
    (`r.bad`), so the flat stretch is neither learned nor scored, and
    `_signal_quality` names it."""
    baseline = state.baselines.get(name)
    if baseline is not None and baseline.repeated(value == previous, config.stuck_readings):
        if r.stuck is None:
            r.stuck = {}
        r.stuck[name] = value


def _clean_in_time(state: PatientState, r: _Reading, config: Config, outcome: Outcome) -> int | None:
    """Clean the reading (`_clean`) and say when its alerts are told: at its
    own time, or at the patient's newest for a late one with values that are
    still their channel's newest (`_late`: only those go on); None when it is
    out of order."""
    now = state.last_ts
    if r.ts >= now:
        outcome.artifacts = _clean(state, r, config)
        return r.ts
    latest = state.latest
    before = {name: latest[name][1] for name in r.raw["vitals"] if name in latest}
    outcome.artifacts = _clean(state, r, config)
    fresh = _late(r, before, now, config)
    if not fresh:
        outcome.out_of_order = True
        return None
    r.clean = fresh
    return now


def _late(r: _Reading, before: dict[str, int], now: int, config: Config) -> dict[str, Any]:
    """Of a reading older than the patient's newest (`now`), the values that
    are their channel's newest all the same (a cuff stamped when it started
    measuring, a chart entered after the fact, while a monitor streams other
    vitals): learned and scored at their own time, their alerts told at the
    patient's newest. Only within NEWS2's freshness (`news2_max_age_ms`: a
    value NEWS2 still counts, the model counts too); older, or with no value
    newer than its channel's, the reading is out of order as before. A
    reading replayed after a crash, or stored twice, has no such value: its
    channels already hold it (or newer), so it is never scored twice."""
    if now - r.ts > config.news2_max_age_ms:
        return {}
    ts = r.ts
    return {name: value for name, value in r.clean.items() if before.get(name, -1) < ts}


def _stamp(state: PatientState) -> int:
    """The event time the reading processed last carried (`PatientState.last_stamp`)."""
    stamp = state.last_stamp
    return state.last_ts if stamp < 0 else stamp


def _advance(state: PatientState, r: _Reading, now: int) -> None:
    """The patient's clock and counters move on to this reading (`now`: its
    time, or the patient's newest for a late one, `_late`)."""
    state.last_ts = now
    state.last_id = r.raw["id"]
    stamp = r.raw["ts"]
    state.last_stamp = -1 if stamp == now else stamp
    state.count += 1


def no_signal(name: str, value: float) -> bool:
    """Is this number what a device sends for a channel without signal
    (`_silent`), on a channel whose signal is judged (`_CHECKED`: a custom
    channel's 0 or -1.1 is a value, an ECG's ST deviation)? For the shells
    (`vigil replay` merging rows)."""
    return name in _CHECKED and _silent(name, value)


def _silent(name: str, value: float) -> bool:
    """Is this value "no signal" (`NO_SIGNAL`; a pressure up to `OPEN_LINE_MMHG`)?"""
    return value <= NO_SIGNAL or (value <= OPEN_LINE_MMHG and name in _PRESSURES)


def _quality(state: PatientState, r: _Reading, config: Config, outcome: Outcome) -> None:
    """Judge each channel's signal on its own, per device (`state.quality`:
    per channel, for each of at most `QUALITY_DEVICES` devices, the smoothed
    share of its recent values that were artifacts, when its "no signal"
    run began, whether a notice said so, and its tag, `device_tag`; the
    device whose value is the channel's latest first). A channel is bad
    (`r.bad`) while that device's share is at least `artifact_share`, or
    while it sends "no signal" (`_silent`: 0, a negative code, a pressure
    line open to air); a bad channel's values are neither scored nor learned
    nor fed to NEWS2, and no other channel is affected. A device's values
    judge that device only: a spare monitor left unplugged, sending 0 for
    every vital beside the one in use, muted the working monitor, whose
    values each ended the spare's run so that its next 0 counted again (an
    outside tester's finding); and the working monitor's own loose probe is
    judged bad beside it as alone (a reviewer's). A "no signal" run lasting
    `no_signal_ms` is a technical notice (`no_signal`), as is the signal's
    return after it."""
    quality, artifacts = state.quality, r.artifacts
    if not artifacts and not quality:
        return
    _count_artifacts(state, r, config, outcome, r.tag)
    _judge_values(state, r, outcome, r.tag)
    _gone(state, r)
    share = config.artifact_share
    r.bad = {name for name, entry in quality.items() if entry[0] >= share or entry[1]}


def _count_artifacts(state: PatientState, r: _Reading, config: Config, outcome: Outcome, device: int) -> None:
    """`_quality`'s first stage: each artifact of this reading counts in
    its device's share, a "no signal" once a run, which is told once it
    lasts `no_signal_ms`."""
    quality, artifacts, ts, vitals = state.quality, r.artifacts, r.ts, r.raw["vitals"]
    for name, value in artifacts.items():
        if r.doubted and name == "spo2":
            continue  # dropped for the pulse rate's disagreement: the pulse rate's evidence, not its own
        entry = quality.get(name)
        if entry is None:
            # judged against the device of the channel's latest value, when another's (`_note_source`)
            source = _source(state, name)
            entry = quality[name] = [0.0, 0, 0, source if source else device]
        at = _slot(entry, device)
        if value.__class__ is not bool and (
            _silent(name, value) or (name == "mean_bp" and _line_silent(vitals))
        ):
            # A run of "no signal" (a probe off, a sensor unplugged) counts
            # once in the artifact share: it is one event, whose length says
            # nothing about the signal once it is back; a probe flapping
            # between 0 and values counts every time.
            if not entry[at + 1]:
                entry[at] = round(entry[at] + ARTIFACT_ALPHA * (1.0 - entry[at]), STORED_DIGITS)
                entry[at + 1] = ts
            elif not entry[at + 2] and ts - entry[at + 1] >= config.no_signal_ms:
                entry[at + 2] = 1
                outcome.events.append(_no_signal_event(r, name, entry[at + 1], "lost"))
        else:
            _end_no_signal(r, name, entry, outcome, at)
            entry[at] = round(entry[at] + ARTIFACT_ALPHA * (1.0 - entry[at]), STORED_DIGITS)


def _judge_values(state: PatientState, r: _Reading, outcome: Outcome, device: int) -> None:
    """`_quality`'s second stage: each clean value of a channel with an
    entry puts its device first when it is the channel's latest, ends that
    device's run and fades its share (and, for the value in use, the
    others'); devices faded out leave the entry."""
    quality, artifacts, ts, vitals, latest = state.quality, r.artifacts, r.ts, r.raw["vitals"], state.latest
    moving = vitals.get(MOTION) is True
    for name, entry in list(quality.items()):
        if name in artifacts or name not in vitals or (moving and name in MOVED):
            continue  # no value of this channel to judge (one the device moved for says nothing)
        newest = latest.get(name)
        if newest is not None and newest[1] == ts and name in r.clean:
            _first(entry, device)  # the channel's latest is now this device's
        at = _own(entry, device)
        if at < 0:
            continue  # a device with no artifacts of this channel: nothing to judge
        _end_no_signal(r, name, entry, outcome, at)
        entry[at] = round(entry[at] - ARTIFACT_ALPHA * entry[at], STORED_DIGITS)  # as the state keeps it
        # the value in use is this device's: the others' shares fade too (a device gone is forgotten)
        if at == 0:
            for other in range(_SLOT, len(entry), _SLOT):
                entry[other] = round(entry[other] - ARTIFACT_ALPHA * entry[other], STORED_DIGITS)
        _forget(quality, name, entry)


def _gone(state: PatientState, r: _Reading) -> None:
    """`_quality`'s last stage: a channel with a quality entry that no
    device has sent (a value or an artifact) for `QUALITY_GONE_MS` and
    `QUALITY_GONE_CADENCES` of its cadence has its entry dropped; it is
    judged afresh if it comes back. An oximeter's pulse rate that disagreed
    with the ECG for 15 minutes and was then unplugged, or a thermometer
    whose probe slipped and was taken away, kept its channel bad, and a
    `signal_quality` alert open and reminding, for good (an outside
    tester's finding). `state.seen` keeps when each was last sent. Six
    hours at least: a thermometer charted every two hours whose every value
    was an artifact (no cadence known) was dropped between its readings and
    never judged bad; and an entry with a "no signal" run in progress stays,
    so that the signal's return is told after its loss (a reviewer's
    findings)."""
    quality, seen, vitals, ts = state.quality, state.seen, r.raw["vitals"], r.ts
    for name, entry in list(quality.items()):
        if name in vitals:
            if seen.get(name, 0) < ts:
                seen[name] = ts
            continue
        since = seen.setdefault(name, ts)  # a state from before "y": from now
        latest = state.latest.get(name)
        cadence = latest[2] if latest is not None else 0
        if ts - since > max(QUALITY_GONE_MS, QUALITY_GONE_CADENCES * cadence) and not any(entry[1::_SLOT]):
            del quality[name], seen[name]  # (a "no signal" run in progress stays, to be told back)
    if len(seen) > len(quality):  # entries `_forget` dropped
        for name in [name for name in seen if name not in quality]:
            del seen[name]


# devices a channel's quality entry judges apart (`_quality`); a fourth takes the last's place
QUALITY_DEVICES = 3
_SLOT = 4  # numbers a device takes in a quality entry: share, run's start, noticed, tag


def _own(entry: list[Any], device: int) -> int:
    """Where `device`'s numbers start in a quality entry, -1 if not there.
    Tag 0 (a state that did not say) is any device's, and becomes this one's."""
    for at in range(0, len(entry), _SLOT):
        tag = entry[at + 3]
        if tag == device:
            return at
        if not tag:
            entry[at + 3] = device
            return at
    return -1


def _slot(entry: list[Any], device: int) -> int:
    """`_own`, making room for a device not there: last, in place of the
    last when the entry is full (the device of the channel's latest value
    stays first)."""
    at = _own(entry, device)
    if at >= 0:
        return at
    if len(entry) >= QUALITY_DEVICES * _SLOT:
        del entry[-_SLOT:]
    entry += [0.0, 0, 0, device]
    return len(entry) - _SLOT


def _first(entry: list[Any], device: int) -> None:
    """Put `device`, whose value is now the channel's latest, first in the
    entry: its judgment is the channel's (`r.bad`, `_red_held`,
    `_pressure_measured`); one with none yet starts clean."""
    at = _own(entry, device)
    if at == 0:
        return
    if at > 0:
        entry[:] = entry[at : at + _SLOT] + entry[:at] + entry[at + _SLOT :]
    else:
        entry[:] = ([0.0, 0, 0, device] + entry)[: QUALITY_DEVICES * _SLOT]


def _run_since(entry: list[Any] | None, device: int) -> int:
    """When `device`'s "no signal" run of a channel began (0: none), from
    its quality entry; a device a state did not name (tag 0) is any."""
    if entry is not None:
        for at in range(0, len(entry), _SLOT):
            if entry[at + 3] in (device, 0):
                return int(entry[at + 1])
    return 0


def _forget(quality: dict[str, list[Any]], name: str, entry: list[Any]) -> None:
    """Devices whose share faded below QUALITY_FORGET with no run in
    progress leave the entry, after the first (the device of the channel's
    latest value, kept clean); the entry goes when none is left to judge."""
    for at in range(len(entry) - _SLOT, 0, -_SLOT):
        if entry[at] < QUALITY_FORGET and not entry[at + 1]:
            del entry[at : at + _SLOT]
    if entry[0] < QUALITY_FORGET and not entry[1]:
        if len(entry) == _SLOT:
            del quality[name]
        else:
            entry[0] = 0.0


def _motion(state: PatientState, r: _Reading, config: Config, outcome: Outcome) -> None:
    """A channel whose every value for `no_signal_ms` came in readings the
    device flagged as taken while moving (`motion`: true, `_clean` leaves
    them out) is out of detection as surely as a probe that is off: one
    `no_signal` notice (`cause`: `motion`) says so, and another when a value
    of it arrives unflagged. A device stuck with the flag on does not
    silence its patient's heart rate and SpO2 unseen (`state.moving`)."""
    vitals, moving, ts = r.raw["vitals"], state.moving, r.ts
    if vitals.get(MOTION) is True:
        for name in MOVED:
            if name not in vitals:
                continue
            entry = moving.get(name)
            if entry is None:
                moving[name] = [ts, 0]
            elif not entry[1] and ts - entry[0] >= config.no_signal_ms:
                entry[1] = 1
                outcome.events.append(_no_signal_event(r, name, entry[0], "lost", motion=True))
        return
    for name in [name for name in moving if name in vitals and ts >= moving[name][0]]:
        since, noticed = moving.pop(name)  # a value not flagged: the device no longer says it moves
        if noticed:
            outcome.events.append(_no_signal_event(r, name, since, "restored", motion=True))


def _step(
    r: _Reading, name: str, change: float, baseline: Baseline, previous: list[Any], off_z: float
) -> None:
    """Note a dense channel's change since its previous value (`previous`,
    its `latest` entry: value, event time, cadence), in its SDs,
    when it is `corroborate_z` (`off_z`) or more (`_hold_steps`); and whether
    it goes on from a previous value already that far off in the same
    direction (a movement under way, not a sudden step: `r.moving`)."""
    if r.steps is None:
        r.steps = {}
    sd = baseline.sd
    r.steps[name] = (change if change > 0 else -change) / sd
    off = (previous[0] - _normal_at(baseline, previous[1], previous[2])) / sd
    if (off >= off_z and change > 0) or (off <= -off_z and change < 0):
        r.moving = name


def _hold_steps(state: PatientState, r: _Reading, config: Config) -> None:
    """A sudden step on one densely read channel (its value `step_z` of its
    learned SDs from its previous value, one reading apart) that no other
    channel corroborates (none stepped `corroborate_z` SDs in the same
    reading) is more likely the sensor than the patient: a cuff inflating on
    the oximeter's arm, a probe sliding off, a motion spike. Its value is held
    back for this reading: neither scored, learned nor fed to NEWS2. It is
    still the channel's latest value, so a step that persists is no step at
    the next reading and counts from then on (one reading late); one that
    returns was never alarmed on. A step that goes on from a value already
    `corroborate_z` SDs off in the same direction is a movement under way,
    not a sudden step (`r.moving`): a desaturation falling 5 % a minute is a
    step at every reading, and was held back at every one, alarming on
    nothing until it stopped falling. Physiology moves channels together (an
    arousal: heart and breathing rate; a bleed: heart rate and pressure).
    Only the catalogue's vitals (whose physiology is known) are judged, and
    only when another channel could have corroborated the step: a custom
    channel, or a device that sends one vital, is never held back."""
    steps = r.steps
    if not steps or len(steps) > 1 or r.judged < 2:
        return  # nothing large, corroborated, or nothing that could have corroborated it
    ((name, size),) = steps.items()
    if size >= config.step_z and name in NUMERIC and name not in r.bad and name != r.moving:
        r.bad = set(r.bad) | {name}


def _cuff_dip(state: PatientState, r: _Reading, config: Config) -> None:
    """An SpO2 value `cuff_dip` % or more under its smoothed level (checked
    inline in `process`: the hot path), in a reading where the blood pressure
    is being measured (`_pressure_measured`), is the cuff's: a non-invasive
    cuff inflating on the arm that carries the oximeter occludes its
    arterial flow, and the SpO2 sags or loses signal
    until the cuff deflates (bedside monitors suppress the SpO2 alarm during
    a measurement on the same limb for this reason). The value is held back
    for this reading (neither scored, learned nor fed to NEWS2), and the SpO2
    and pressure steps are one arm's, not two channels corroborating each
    other (`_hold_steps`). A desaturation that is real is still there at the
    next reading, once the cuff is done, and counts from then."""
    if "spo2" in r.bad or state.baselines["spo2"].t_ms <= 0 or not _pressure_measured(state, r, config):
        return
    r.bad = set(r.bad) | {"spo2"}
    if r.steps:
        r.steps.pop("spo2", None)


def _undercount(state: PatientState, r: _Reading, config: Config) -> None:
    """A breathing rate in NEWS2's low red range (`DANGER`: 8/min or less,
    down to `_NEAR_APNOEA`, 5/min: slower is near-apnoea and always counts)
    read by a monitor (densely: the impedance of its ECG leads) is the
    sensor under-counting, not the patient, when the same reading's SpO2,
    on air, is still within `undercount_spo2` % of the patient's learned
    normal: breathing that slow on air halves the ventilation, and the
    saturation falls within minutes. Impedance counts miss shallow breaths,
    and a sleeping patient's can read 6-9/min for hours with nothing else
    moving (seen on real monitor numerics, docs/evaluation.md). The value is
    held back as a bad channel's (`r.bad`: neither scored, learned nor fed
    to NEWS2) for this reading only; once the SpO2 sags, it counts again at
    once, and a fall that goes on below 5/min counts from there (a fall
    from 16 to 2 over ten minutes still opens a `trend` at minute 5, as
    without this check; NEWS2 follows at 4/min, three minutes later than
    without it). Only for a patient the readings say is on air
    (`on_oxygen`: false, and said within the hour, or 1.5 of its charting
    intervals: an older word may no longer be true, and it would keep an
    alarm back; NEWS2 holds the status longer, `_held`, where holding it
    keeps nothing back): oxygen keeps
    the SpO2 up while a patient hypoventilates, and a monitor that does not
    say is not taken to mean air (docs/evaluation.md, "A breathing count
    the SpO2 contradicts"). The SpO2 is the reading's own or, from an
    oximeter that is a device of its own, its latest value at most one of
    its cadences old and not held back (`_oximeter_apart`): the same values
    from an ECG monitor and an oximeter apart are judged as from one
    monitor. Not without such an SpO2, and not for breathing rates charted
    by hand (counted by a nurse, not a sensor)."""
    if not config.undercount_spo2 or "respiratory_rate" in r.bad or "spo2" in r.bad:
        return
    spo2, baseline = r.clean.get("spo2"), state.baselines.get("spo2")
    if spo2 is None:
        spo2 = _oximeter_apart(state, r)
    if spo2 is None or spo2.__class__ not in _NUMBERS or baseline is None or baseline.n < WARMUP_MIN:
        return
    breathing, oxygen = state.latest.get("respiratory_rate"), state.latest.get("on_oxygen")
    if breathing is None or not 0 < breathing[2] < SPARSE_MS or oxygen is None or oxygen[0]:
        return  # not a monitor's count, or not known to be on air
    if not _fresh(oxygen, r.ts, config.news2_max_age_ms):  # a fresh word: it keeps an alarm back
        return
    entry = state.latest.get("spo2")
    if spo2 >= _normal_at(baseline, r.ts, entry[2] if entry is not None else 0.0) - config.undercount_spo2:
        r.bad = set(r.bad) | {"respiratory_rate"}


def _hold_latest(state: PatientState, r: _Reading) -> None:
    """A value held back at its own reading (`r.bad`: a bad channel's, an
    uncorroborated step, the cuff's SpO2 dip, an under-counted breathing
    rate) is still its channel's latest, so that the next value is judged
    against it (`_step`), but it stays held back at every reading until its
    channel's next value (`state.held`): a patient read by several devices
    has the oximeter's dip carried on as the SpO2's latest by the ECG's, the
    cuff's and the thermometer's readings, where NEWS2, the anomaly and the
    trend awaiting confirmation would take it up as if it were good. A
    value of this reading that is its channel's latest sets or clears its
    channel's mark; the marked channels this reading does not carry are
    held back here as if bad (`r.bad`)."""
    held, latest, bad, ts = state.held, state.latest, r.bad, r.ts
    for name in r.clean:
        entry = latest.get(name)
        if entry is None or entry[1] != ts:
            continue  # a late value, older than its channel's latest: the mark is the latest's
        if name in bad:
            held.add(name)
        else:
            held.discard(name)
    elsewhere = [name for name in held if name not in r.clean]
    if elsewhere:
        r.bad = set(bad) | set(elsewhere)


def _oximeter_apart(state: PatientState, r: _Reading) -> Any:
    """The SpO2 of an oximeter that is a device of its own (`_undercount`):
    its latest value, when it is at most one of its cadences old and was
    not held back (`state.held`), as the same reading's SpO2 would be from
    one monitor; else None."""
    entry = state.latest.get("spo2")
    if entry is None or "spo2" in state.held or not 0 <= r.ts - entry[1] <= entry[2]:
        return None
    return entry[0]


def _pressure_measured(state: PatientState, r: _Reading, config: Config) -> bool:
    """Is a non-invasive pressure measurement under way or just reported in
    this reading? The systolic pressure reads "no signal" (the cuff
    inflating; a reading that only lacks it proves nothing) for no longer
    than a measurement takes (`CUFF_MEASURE_MS`: a line that stays silent,
    never connected, is not measuring, and must not have every SpO2 dip
    put down to a cuff), steps up from
    its previous value to one over this patient's normal (both
    `corroborate_z` SDs: a new measurement, not the step back from one; a
    pressure falling with SpO2 is a shock's), comes back after its reading
    went missing (the cuff inflating, then its value), or arrives at all
    when it is measured less often than the oximeter reads (a cuff cycling
    every 15 minutes beside SpO2 every minute). A cuff of its own says the
    same apart (`_measured_apart`). Not when a channel off that arm
    (`_ONE_ARM`) stepped in the same reading: that is independent evidence."""
    name, steps = "systolic_bp", r.steps
    if steps and any(other not in _ONE_ARM for other in steps):
        return False  # another channel stepped too (the ECG's heart rate, the breathing): physiology
    silent = r.artifacts.get(name)
    if silent is not None and _silent(name, silent):
        # when this device's "no signal" run began (`_quality`): another's (a line left
        # unplugged beside a cuff of its own) says nothing of this one measuring
        since = _run_since(state.quality.get(name), r.tag)
        return not since or r.ts - since < CUFF_MEASURE_MS
    if steps and name in steps and state.baselines[name].z(r.clean[name]) >= config.corroborate_z:
        return True  # a step up to a value over this patient's normal; not the step back, nor a fall
    entry, spo2 = state.latest.get(name), state.latest["spo2"]
    if entry is None or entry[1] != r.ts:
        return _measured_apart(state, r, entry, spo2[2], config)  # not in this reading
    if entry[2] > 2 * spo2[2] > 0:
        return True  # a cuff cycling, read less often than the oximeter: each value is a measurement
    since = r.ts - state.baselines[name].t_ms if name in state.baselines else 0
    return bool(1.5 * entry[2] < since <= SPARSE_MS)  # back after its reading(s) went missing: the cuff's


def _measured_apart(
    state: PatientState, r: _Reading, entry: list[Any] | None, spo2_cadence: float, config: Config
) -> bool:
    """`_pressure_measured` for a cuff of its own (its values in readings of
    their own, docs/protocol.md), seen from a reading without the pressure:
    measuring while its "no signal" run is under way and younger than a
    measurement takes; while its value (`entry`) is overdue by half its
    cadence or more, for less than a measurement takes (inflating, its value
    to come, as a value gone missing from one monitor's readings); or when
    its value since the oximeter's last one (`spo2_cadence` ago at most) is
    a measurement's: cycling less often than the oximeter reads, or a jump to
    over this patient's normal (`corroborate_z` SDs, and `JUMP_Z` SDs over
    its recent level, which one value moves little: the step up seen apart;
    a pressure that has stood high for a while is no jump)."""
    name = "systolic_bp"
    if name not in r.raw["vitals"]:
        runs = state.quality.get(name, ())
        if any(runs[at + 1] and r.ts - runs[at + 1] < CUFF_MEASURE_MS for at in range(0, len(runs), _SLOT)):
            return True  # inflating: a "no signal" run begun no longer ago than a measurement takes
        if entry is not None and 0 < entry[2] < SPARSE_MS:
            late = r.ts - entry[1] - entry[2]
            if 2 * late > entry[2] and late < CUFF_MEASURE_MS:
                return True  # inflating: its value overdue, to come
    if entry is None or not 0 < r.ts - entry[1] <= spo2_cadence:
        return False  # nothing since the oximeter's last value
    if entry[2] > 2 * spo2_cadence > 0:
        return True  # cycling: each value is a measurement
    baseline = state.baselines.get(name)
    x = entry[0]
    return (
        baseline is not None
        and x.__class__ in _NUMBERS
        and baseline.z(x) >= config.corroborate_z
        and x - baseline.recent >= JUMP_Z * baseline.sd
    )


def device_tag(device_id: str) -> int:
    """A device's short, stable tag in the state (`state.quality`): its
    id's CRC-32, never 0 (0: a state that did not say)."""
    return zlib.crc32(device_id.encode("utf-8", "surrogatepass")) or 1


def _end_no_signal(r: _Reading, name: str, entry: list[Any], outcome: Outcome, at: int = 0) -> None:
    """A value other than "no signal" ends the channel's run, if one is in
    progress. A run long enough for its notice (`no_signal_ms`: a probe
    taken off, then put back on) also clears the artifact share: the probe
    now read is a new placement, which its predecessor's artifacts say
    nothing of (a loose probe taken off and replaced reopened
    `signal_quality` on a good signal). The value that ended it counts next,
    for the new placement."""
    if entry[at + 2]:
        outcome.events.append(_no_signal_event(r, name, entry[at + 1], "restored"))
        entry[at] = 0.0
    entry[at + 1] = entry[at + 2] = 0


def _no_signal_event(
    r: _Reading, vital: str, since_ms: int, signal: str, motion: bool = False
) -> dict[str, Any]:
    evidence: dict[str, Any] = {"vital": vital, "since": iso(since_ms), "signal": signal}
    run = f"no_signal/{vital}"
    if motion:  # every value since `since` came flagged as taken while moving (`_motion`)
        evidence["cause"] = "motion"
        run += "/motion"
    return event(
        subject=r.subject,
        patient=r.patient,
        device_id=r.device_id,
        status=Status.NOTICE,
        kind=_NO_SIGNAL,
        severity=_LOW,
        opened_ms=since_ms,
        event_ms=r.ts,
        reading_id=r.raw["id"],
        evidence=evidence,
        episode_id=alert_id(r.subject, run, since_ms),
    )


# -- 2-4. score, track, learn and drift ------------------------------------------------


def _model(state: PatientState, r: _Reading, config: Config, outcome: Outcome) -> None:
    """Per numeric channel, in one pass (the hot path):

    - score: its z-score against the baseline as it was before this reading
      (a new patient's: the population prior; a custom channel's: its own
      first values);
    - track: its trend moves on (vitals with a dangerous range, `DANGER`);
      those heading there within the horizon, not there yet, are noted in
      `r.near`;
    - learn and drift: the baseline learns the value (not a re-take in a
      sitting); a drift is adopted only at a level NEWS2 scores 0, and
      reported either way (`_drift`)."""
    baselines, bad, latest, ts = state.baselines, r.bad, state.latest, r.ts
    learn_below, z_alert = config.learn_below, config.z_alert
    together_z = min(z_alert, config.together_charted_z or z_alert)
    wide_z = min(together_z, config.three_charted_z or together_z)
    shift_cadence, personal_after = config.shift_cadence_ms, config.personal_after
    scored, z_scores = r.scored, r.z
    angle = (ts % DAY_MS) * _RADIANS_PER_MS  # the time of day, for daily profiles
    cos_t, sin_t = math.cos(angle), math.sin(angle)
    today = ts // DAY_MS  # for weekly profiles
    day = weekday(ts)
    full = state.full  # trimmed to fit lately: nothing new grows (`REGROW_AFTER_MS`)
    grow = not full or ts - full >= REGROW_AFTER_MS
    for name, x in r.clean.items():
        if x.__class__ not in _NUMBERS or (bad and name in bad):
            continue  # consciousness (a letter), oxygen (a flag), or a bad channel
        entry = latest.get(name)
        if entry is None:
            continue  # a custom channel past the cap, forgotten by a later one of this reading
        baseline = baselines.get(name)
        if baseline is None:
            if not grow and name not in CATALOGUE and not _room_to_make(state):
                continue  # a custom channel's, with nothing left to drop for it (`bound`): not yet
            baseline = baselines[name] = Baseline.prior(name, x)
        baseline.grow = grow
        weekly = baseline.weekly
        if weekly is not None and today > weekly[11]:
            baseline.roll_week(today)  # a new day: yesterday's mean may put the weekly profile in use
        sd, cadence = baseline.sd, entry[2]
        if cadence >= PROFILE_MAX_CADENCE_MS:
            c = si = 0.0  # no daily profile at this cadence (`_expected`)
        else:
            c, si = cos_t, sin_t
        n = baseline.var.n
        warm = n >= WARMUP_MIN and n * cadence >= WARMUP_MS  # `Baseline.warm`, inline
        if warm and baseline.prior_sd >= 0.0 and baseline.floor:
            # Warm-up is over: the prior is folded in before the first value scored
            # against the patient's own values (`Baseline.fold_prior`).
            baseline.fold_prior()
            sd = baseline.sd
        mean = _expected(baseline, ts, c, si, day)
        z = (x - mean) / sd
        if z >= wide_z or z <= -wide_z:
            _count_far(r, name, z, cadence, z_alert, together_z)
        generic = baseline.generic is not None
        routine = generic and warm and _surprise(r, name, baseline, z, cadence, config)
        # A custom channel (no prior, no known rhythm) alarms once its daily profile's day is learned.
        scored.append(
            (name, warm and (not generic or cadence >= PROFILE_MAX_CADENCE_MS or baseline.profile[4] < 0.0))
        )
        z_scores[name] = z
        if len(entry) > 3 and entry[3] > 0 and entry[1] == ts:
            continue  # a re-take in a sitting: scored, not learned (`_keep_latest`)
        if generic and warm and x and _silent_until_now(baseline):
            baselines[name] = Baseline.prior(name, x)  # scored above; learns afresh from here
            continue
        keep_out = z_alert
        never = _NEVER_NORMAL.get(name)  # the vitals with a dangerous range (`DANGER`)
        if never is not None:
            baseline.track(x, ts, sd, cadence)
            if baseline.slope and _heading_for(state, name, baseline, cadence, config):
                r.near.append(name)  # heading for danger; _heading checks the rest
            if warm and not never[0] <= x < never[1]:
                keep_out = 0.0  # a value no one lives at: scored, tracked, never learned
        if cadence >= shift_cadence and warm and n >= personal_after:  # a spread known from enough values
            _watch_shift(state, r, name, z, x - mean, config)
        if baseline.update(x, z, learn_below, sd, warm, cadence, keep_out, c, si, ts, routine):
            _drift(state, r, name, baseline, x, mean, cadence, outcome, config)


def _room_to_make(state: PatientState) -> bool:
    """Can a custom channel's new baseline be kept in a state trimmed to fit
    lately (`REGROW_AFTER_MS`)? While there is a weekly profile or a shape
    of the day to drop for it, as there was before the hold (`bound` drops
    those first); once none is left, the new baseline would be the first
    dropped, at this very reading."""
    for b in state.baselines.values():
        if b.weekly is not None or b.shape is not None:
            return True
    return False


def _silent_until_now(baseline: Baseline) -> bool:
    """Has this custom channel sent only 0 since it began (a central venous
    line never connected, for two days: no signal, as a 0 is for a vital)?
    Then it has no spread: `_model` scores its first other value (the change
    is news) and lets it learn afresh from that value, as a new channel.
    Before, the values after it scored z = 10-65 against a spread of nothing
    for five hours. Once only: the new baseline starts at that value (a
    square wave of 20 and 80 keeps learning)."""
    return baseline.var.m2 == 0.0 and baseline.var.mean == 0.0


def _expected(baseline: Baseline, ts: int, cos_t: float, sin_t: float, day: int) -> float:
    """What the baseline forecasts for a value at `ts`: its level, with the
    shape of the day or the daily profile (`cos_t`, `sin_t`: the time of
    day's, both 0 where the channel takes no daily profile) and the weekly
    profile (`day`: the weekday) where they are in use (`Baseline.forecast`).

    A channel read every `PROFILE_MAX_CADENCE_MS` or less often (a scale each
    morning, a cuff at 8 and 20 h) takes no daily profile: its readings fall
    at one time of day or at two opposite ones, where the cosine and sine of
    the time of day are collinear. Fitted phase by phase, the two
    coefficients each took the whole offset between the value and the mean
    (the forecast moved twice the real difference), and the mean, learning
    only what the profile left, wandered off the values while the profile
    followed it (a daily score at 50 was forecast from a mean of 54)."""
    mean = baseline.mean
    if cos_t or sin_t:
        if baseline.hours is not None:
            mean += baseline.shape_offset(ts)
        else:
            daily = baseline.daily
            if daily is not None:
                mean += daily[0] * cos_t + daily[1] * sin_t
    week = baseline.week
    if week is not None:
        mean += week[day]
    return mean


def _normal_at(baseline: Baseline, ts: int, cadence: float) -> float:
    """The patient's normal for this channel at event time `ts`: what the
    baseline forecasts then (`_expected`), with the daily profile where the
    channel's cadence takes one. Not the learned level alone (`Baseline.mean`,
    the day's average): a pressure that dips by night, as most do, is at its
    normal at 3 a.m. though 2.5 SDs under the day's average."""
    if cadence >= PROFILE_MAX_CADENCE_MS:
        return _expected(baseline, ts, 0.0, 0.0, weekday(ts))
    angle = (ts % DAY_MS) * _RADIANS_PER_MS
    return _expected(baseline, ts, math.cos(angle), math.sin(angle), weekday(ts))


def _normal_now(state: PatientState, name: str) -> float:
    """The normal a vital's latest value was scored against (`_normal_at`
    its time and cadence): an anomaly's evidence."""
    entry = state.latest[name]
    return _normal_at(state.baselines[name], entry[1], entry[2])


def _count_far(r: _Reading, name: str, z: float, cadence: float, z_alert: float, together_z: float) -> None:
    """Count a value `z` standard deviations out (at least the charted rule's
    widest, `_model`'s `wide_z`) towards the reading's findings: far (at
    `z_alert`), and, for a vital that counts together (`_TOGETHER`), wide
    (charted values only: `_together`'s three) and off (at `together_z`)."""
    if z >= z_alert or z <= -z_alert:
        r.far = True
    if name in _TOGETHER:
        if cadence >= SPARSE_MS:  # only charted values can make three together (`_together`)
            r.wide += 1
        if z >= together_z or z <= -together_z:
            r.off += 1


def _heading_for(state: PatientState, name: str, baseline: Baseline, cadence: float, config: Config) -> bool:
    """Is the vital's trend heading into its dangerous range (`_danger`)
    within the horizon (`_horizon_min`, inline), not there yet?"""
    level, horizon_ms = baseline.level, config.trend_horizon_ms
    ahead = level + baseline.slope * (horizon_ms if horizon_ms > 2 * cadence else 2 * cadence) / 60_000
    low, high = _danger(state, name, config)
    return (low is not None and ahead <= low < level) or (high is not None and level < high <= ahead)


def _surprise(r: _Reading, name: str, baseline: Baseline, z: float, cadence: float, config: Config) -> bool:
    """A custom channel's calibrated surprise (`Baseline.surprise`): its
    recent scores against its own history of them, with the baseline's
    memory. A regime change (a level or a variance that moved) raises it at
    once, and it fades as the spread and the history take the new regime in:
    one alert, then quiet. True when the value is of the channel's daily
    routine (`Baseline.daily_routine`), which is no evidence of drift."""
    memory = MEMORY_MS / cadence if cadence > 0 else MEMORY_MIN
    memory = memory if memory > MEMORY_MIN else MEMORY_MIN
    far = z >= config.z_alert or z <= -config.z_alert
    generic = baseline.generic
    rate = 0.0 if generic is None else generic[6] if generic[6] >= 0.0 else -generic[6]
    daily = baseline.daily_routine(r.ts, z, far, cadence)  # before `surprise` marks the value as far
    reach = baseline.far_z
    if far:
        size = z if z >= 0.0 else -z
        beyond = size >= RUNS_Z_MARGIN * reach if reach > 0.0 else size >= config.z_medium
        if generic is not None and generic[6] >= 0.0:  # a run begins: the reach fades a little
            reach *= FAR_Z_FADE
        baseline.far_z = size if size > reach else reach
    if far and (rate >= SPIKE_RARE or daily):  # runs of far values are no rarity for this channel
        if not beyond:  # ... nor is one this far out: it waits for its confirmation
            r.heavy = True
        # ... they are its normal (often, or daily at this time): only the surprise can tell
        if rate >= SPIKE_ROUTINE or daily:
            if r.routine is None:
                r.routine = []
            r.routine.append(name)
    surprise = baseline.surprise(z, memory, config.surprise_z, far, daily)
    if surprise >= config.surprise_z:
        if r.surprised is None:
            r.surprised = {}
        r.surprised[name] = surprise
        r.far = True
    return daily


def _watch_shift(
    state: PatientState, r: _Reading, name: str, z: float, residual: float, config: Config
) -> None:
    """A slowly read channel's level-shift watch (`Config.shift_cadence_ms`: a
    scale, a home cuff), in its deteriorating direction (`_WORSENS`; both for
    a custom channel): a CUSUM (Page 1954) of its standardised residuals
    against the forecast, each less the reference `shift_k`, so that a
    sustained move of more than `shift_k` spreads per reading accumulates
    while noise and a weekend's rhythm (less than a spread) drain away.
    Each residual counts at most `shift_k + shift_clip * shift_h` SDs (3 by
    default, as learning winsorises): one outlier (a weighing in shoes) adds
    at most `shift_clip` of the threshold, so it cannot open alone. The sum
    is capped at twice `shift_h`, so it falls back within a few normal
    readings. `state.shifts` keeps only channels with a run in progress."""
    clip = config.shift_k + config.shift_clip * config.shift_h
    z = clip if z > clip else -clip if z < -clip else z
    k, cap = config.shift_k, 2 * config.shift_h
    worse = _WORSENS.get(name, 0)
    shifts = state.shifts
    entry = shifts.get(name)
    s = entry[0] if entry is not None else 0.0
    up = max(0.0, (s if s > 0 else 0.0) + z - k) if worse >= 0 else 0.0
    down = min(0.0, (s if s < 0 else 0.0) + z + k) if worse <= 0 else 0.0
    new = (up or down) if s >= 0 else (down or up)
    if not new:
        if entry is not None:
            del shifts[name]
        return
    new = round(cap if new > cap else -cap if new < -cap else new, STORED_DIGITS)  # as the state keeps it
    residual = round(residual, STORED_DIGITS)
    if entry is None or (new > 0) != (s > 0):
        shifts[name] = [new, r.ts, 0, residual]
    else:
        entry[0], entry[3] = new, residual


def _drift(
    state: PatientState,
    r: _Reading,
    name: str,
    baseline: Baseline,
    x: float,
    old_mean: float,
    cadence: float,
    outcome: Outcome,
    config: Config,
) -> None:
    """A drift is adopted as the new baseline only at a level NEWS2 scores 0,
    not while an arousal is under way (`_aroused`: a level reached with the
    heart and breathing rate up together is an arousal's, which passes
    within minutes; adopting it would make the patient's own normal, once
    back, look far out), and, on a channel under the level-shift watch, not
    while a shift in the same direction is accumulating that no `trend` has
    reported yet (a heart-failure patient's weight gain must alert before it
    can become the normal it is scored against). Either way a notice says
    so. A value that stepped from the channel's previous one (`r.steps`, not
    a movement under way) is one value, not a level: the drift is to the
    recent level, never to that value (a cuff of its own, measuring, sends
    one high pressure that nothing in its reading can hold back; adopted as
    the normal, every usual pressure after it was an anomaly)."""
    angle = (r.ts % DAY_MS) * _RADIANS_PER_MS  # the level is the forecast's mean, without the daily profile
    steps = r.steps
    one_value = steps is not None and name in steps and name != r.moving
    level = baseline.drift_level(
        baseline.recent if one_value else x, math.cos(angle), math.sin(angle), r.ts, r.before.get(name)
    )
    if name in DANGER and _gone_back(baseline, x, level, r.ts, cadence):
        baseline.reject_drift()  # nothing to adopt, nor to count as drifting
        return
    moved = (level - old_mean) / baseline.sd  # in the vital's SDs, before any adoption
    safe_level = _SAFE_LEVEL.get(name)
    shift = state.shifts.get(name)
    unreported = shift is not None and not shift[2] and (shift[0] > 0) == (level > old_mean)
    ph = baseline.ph  # before adopt or reject restarts it: which way did the detector see the values move?
    seen = 1 if ph.sum_increase - ph.min_increase >= ph.max_decrease - ph.sum_decrease else -1
    held: str | None
    if unreported:
        held = "shift_unreported"
    elif safe_level is not None and _level_scores(state, name, level, safe_level, config):
        held = "unsafe_level"
    elif _aroused(state, r, name, config):
        held = "arousal"
    else:
        held = None
    adopted = held is None
    if adopted:
        baseline.adopt(
            cadence, level, MOVING_MEMORY_MS if _still_moving(name, baseline, cadence) else WARMUP_MS
        )
        state.shifts.pop(name, None)  # the new level is the reference: a reported shift ends
    else:
        baseline.reject_drift()
    if config.drift_together:
        _note_drifting(state, r, name, old_mean, level, moved, seen, config)
    outcome.drifts.append(name if name in CATALOGUE else "custom")  # metric labels stay bounded
    outcome.events.append(_drift_event(r, name, old_mean, level, held))


def _still_moving(name: str, baseline: Baseline, cadence: float) -> bool:
    """Is a densely read vital's level still moving, as its drift is
    adopted, the way a deterioration moves it (`_DETERIORATES`), at a pace
    that takes it one of its SDs further within `MOVING_MS` (its trend's
    slope, `Baseline.track`)? Then its adopted baseline counts
    `MOVING_MEMORY_MS` of readings, not `WARMUP_MS`: half an hour at a
    minute's cadence learned a climb on as fast as it went. A heart rate
    climbing from 75 to 125 in 100 minutes, read every minute, was adopted
    at 82 and learned all the way up (its spread 3 to 16), and nothing but
    NEWS2 at 131 told it; read every 5 or 15 minutes (an adopted baseline
    counts 30 readings, hours of them), an anomaly told it at 95-111. A
    benign step (waking, a meal) is adopted as before: its level is right,
    and the slower learning after it costs nothing (holding its adoption
    instead, as a level not yet reached, left a step from 62 to 80 an
    anomaly for the hour). Not for sparsely read vitals."""
    towards = _DETERIORATES.get(name, 0)
    return (
        bool(towards) and cadence < SPARSE_MS and baseline.slope * towards * MOVING_MS / 60_000 >= baseline.sd
    )


def _level_scores(
    state: PatientState, name: str, level: float, safe_level: Callable[[float], int], config: Config
) -> bool:
    """Does NEWS2 score this level of the vital (so that a drift to it is a
    deterioration, not a new normal)? An SpO2 on the scale the patient is
    prescribed (`_scale2`), with the oxygen status last said: on scale 2 a
    COPD patient's 89 on air scores nothing and is adopted, and 97 on
    oxygen scores 3 and is not. On scale 1 for everyone before 2026-12-06
    (a reviewer: a scale-2 patient's drift to 93 held as unsafe, 4-6
    notices a day from a wearable, and a drift to 97 on oxygen adopted)."""
    if name == "spo2" and _scale2(state, config):
        oxygen = state.latest.get("on_oxygen")
        return news2.spo2_scale2(level, oxygen is not None and oxygen[0] is True) != 0
    return safe_level(level) != 0


def _gone_back(baseline: Baseline, x: float, level: float, ts: int, cadence: float) -> bool:
    """Have the values gone back before the drift was seen: are the value `x`
    and the trend's smoothed level both nearer the normal than the drift's
    `level` (each at this time of day)? The recent level a drift is taken
    at still holds an excursion's tail for a while: a breathing rate back at
    14 for ten minutes after an hour at 28, its recent level 19, was adopted
    at 19, and the usual 14 then opened a `trend` "heading for 8/min" on a
    recovered patient (found by an outsider's client written from the docs)."""
    normal = _normal_at(baseline, ts, cadence)
    to = level + normal - baseline.mean  # the drift's level at this time of day
    fast = baseline.level
    return abs(x - normal) < abs(x - to) and abs(fast - normal) < abs(fast - to)


def _note_drifting(
    state: PatientState,
    r: _Reading,
    name: str,
    old_mean: float,
    level: float,
    moved: float,
    seen: int,
    config: Config,
) -> None:
    """A drift counts towards `_drifting_together` when its level moved
    (`moved` SDs) in a deterioration's direction, the detector saw the
    values move that way (`seen`), and the vital's normal was settled
    before (`_settled`). One it saw move back is a recovery,
    whatever its level against the old normal (the recent level still lags
    an excursion's tail): the vital drifts towards deterioration no longer."""
    towards = _DETERIORATES.get(name, 0)
    if not towards:
        return
    settled = _settled(state, name, r.ts, config.drift_together_ms, config.drift_wander)
    if seen == towards and moved * towards >= DRIFT_TOGETHER_SD and settled:
        state.drifting[name] = [r.ts, round(old_mean, 2), round(float(level), 2)]
        r.drifted = True
    elif seen != towards:
        state.drifting.pop(name, None)


def _settled(state: PatientState, name: str, ts: int, window_ms: int, wander: int) -> bool:
    """Note a drift of this vital at `ts` (either way), and say whether its
    normal was settled before: it moved fewer than `wander` times in the
    `DRIFT_WANDER_MS` before the window (`window_ms`) this drift counts in
    (`wander` 0: always, and nothing noted).

    Vitals that wander (a normal that moves every hour or two, as real
    monitor numerics do) drift the way a deterioration goes by chance:
    three of them within 90 minutes came about once a patient-day on stable
    patients whose vitals wander with a 30-minute memory
    (`app.tools.evaluation.wander`). A vital with at most two drifts a day
    either way drifts the deteriorating way about once a day, a chance of
    1 - exp(-1.5 h / 24 h) = 6 % per window; three of the five such vitals
    together, 10 x 0.06^3 per window, 16 windows a day: about once a
    patient-month at most. A deterioration's own drifts (a vital drifting
    again and again as it climbs) fall inside the window and do not count
    against it."""
    if not wander:
        return True
    start, oldest = _wander_window(ts, window_ms)
    times = [t for t in state.drift_times.get(name, ()) if t >= oldest]  # older ones say nothing now
    before = sum(1 for t in times if t < start)
    times.append(ts // 60_000)
    state.drift_times[name] = times[-DRIFT_TIMES_KEPT:]
    return before < wander


def _wander_window(ts: int, window_ms: int) -> tuple[int, int]:
    """The minutes (since 1970, as `PatientState.drift_times` keeps them)
    where the `DRIFT_WANDER_MS` before a window of `window_ms` ending at `ts`
    ends and begins: the drifts between them say whether a vital wanders."""
    start = ts // 60_000 - window_ms // 60_000
    return start, start - DRIFT_WANDER_MS // 60_000


def _wanders(state: PatientState, name: str, ts: int, config: Config) -> bool:
    """Does this vital's normal wander: did it drift, either way,
    `drift_wander` times or more in the day before the last
    `drift_together_ms` (the drifts `_settled` counts)? A deterioration's
    own drifts, as it moves, fall in those last 90 minutes and do not count."""
    if not config.drift_wander:
        return False
    start, oldest = _wander_window(ts, config.drift_together_ms)
    return sum(1 for t in state.drift_times.get(name, ()) if oldest <= t < start) >= config.drift_wander


def _aroused(state: PatientState, r: _Reading, name: str, config: Config) -> bool:
    """Is this one of an arousal's vitals (`_AROUSAL`), with the heart and
    breathing rate both at least `together_z` SDs up right now?"""
    if name not in _AROUSAL or config.excursion_ms <= 0:
        return False
    together = config.together_z
    return _up(state, r, "heart_rate") >= together and _up(state, r, "respiratory_rate") >= together


def _drift_event(
    r: _Reading, vital: str, old_mean: float, new_level: float, held: str | None
) -> dict[str, Any]:
    """A `baseline_drift` notice; `held`: why the level was not adopted (None: it was)."""
    evidence: dict[str, Any] = {
        "vital": vital,
        "from": round(old_mean, 2),
        "to": round(float(new_level), 2),  # a float, as sent or not: the same from the compiled core
        "adopted": held is None,
    }
    if held is not None:
        evidence["held"] = held
    return event(
        subject=r.subject,
        patient=r.patient,
        device_id=r.device_id,
        status=Status.NOTICE,
        kind=_BASELINE_DRIFT,
        severity=_LOW,
        opened_ms=r.ts,
        event_ms=r.ts,
        reading_id=r.raw["id"],
        evidence=evidence,
        episode_id=alert_id(r.subject, f"baseline_drift/{vital}", r.ts),
    )


# -- 5. findings ------------------------------------------------------------------------
# Evidence is built only when a finding or an open alert needs it: most
# readings raise nothing, and this is the hot path.


def _safety_net(state: PatientState, r: _Reading, config: Config) -> None:
    """NEWS2 from the latest value of each parameter. Below the high band, a
    trigger made only of this patient's established normals does not alarm
    (personalised limits). The medium and high bands alarm at once when two
    or more vitals moved: one faulty sensor cannot do that; otherwise they
    wait for confirmation like the rest."""
    current = _news2_current(state, r, config)
    scale2 = _scale2(state, config)
    score = news2.score(current, scale2)
    band = score.band
    severity = NEWS2_SEVERITY.get(band)
    held_high = band == "medium" and _open_high(state) and _high_held(state, r.ts, score, current, config)
    if held_high:
        severity = _HIGH  # one point below the high band's edge, or a red part within noise of red
    if severity is None and _NEWS2 not in state.alerts:
        return
    r.evidence[_NEWS2] = evidence = {
        "score": score.total,
        "band": band,
        "complete": score.complete,
        "subscores": score.subscores,
        "vitals": {k: current[k] for k, s in score.subscores.items() if s > 0},
    }
    if "spo2" in score.subscores:  # the scale its SpO2 was scored on: 92 scores 2 on one, 0 on the other
        evidence["spo2_scale"] = 2 if scale2 else 1
    if severity is None:
        _keep_pending(state, r, score.subscores)
        _hold_unreliable(state, r, config)
        _hold_unrecovered(state, r, current, config)
        _hold_near_red(state, r, current, config)
        return
    deviating = [
        name
        for name, sub in score.subscores.items()
        if sub and _deviates(state, name, current[name], config, sub, current, r.before.get(name))
    ]
    _note_red(state, r.ts, score, current, deviating)
    # Held high, within the hour of a red value (`_high_held`), is the high band's: it alarms too. A
    # patient admitted with a pulse of 38-44 beside ambers (NEWS2 7 and 5 in turn, every part learned
    # as his own) had his alert resolve at each stretch of 5 and open again minutes later at 7.
    if deviating or band == "high" or held_high:
        stale = _stale_trigger(r, score.subscores) and not _rise_read_now(state, r, score, severity)
        if band != "high" and _transient_rise(state, score.subscores, current, deviating, config):
            # Its red parts marked as any opening's are: a full memory holds only a marked part (`_deviates`).
            marks = _news2_marks(score, current)
            marks |= _beyond_red(state, score.subscores, current, evidence, monitored=True)
            marks |= _held_marks(state, score.subscores, current, config) | _near_red(state, current, config)
            r.findings[_NEWS2] = Finding(
                _NEWS2, severity, evidence, hold_ms=config.news2_sustain_ms, marks=marks, stale=stale
            )
            return
        measured = [name for name in deviating or score.subscores if name not in _STATUSES]
        urgent = _urgent(state, score, current, deviating, measured, scale2)
        spot = _sparse(state, measured, r.spaced)
        r.findings[_NEWS2] = Finding(
            _NEWS2,
            severity,
            evidence,
            urgent and not stale,
            marks=_news2_marks(score, current)
            | _beyond_red(state, score.subscores, current, evidence)
            | _held_marks(state, score.subscores, current, config)
            | _near_red(state, current, config),
            stale=stale,
            spot=spot,
        )
    else:
        _hold_unreliable(state, r, config)
        _hold_unrecovered(state, r, current, config)
        _hold_near_red(state, r, current, config)


def _urgent(
    state: PatientState,
    score: news2.News2,
    current: dict[str, Any],
    deviating: list[str],
    measured: list[str],
    scale2: bool,
) -> bool:
    """Does a NEWS2 trigger open (or a rise in an open alert escalate) at
    once, without waiting for the next reading? When two or more vitals moved
    into the medium band or above (`_moved_clear`); when its measurements are
    spot measurements (`_sparse`) and its statuses charted; or when charted
    statuses alone make its band (`_said_alone`). A charted status (the level
    of consciousness, the oxygen: said, not read by a sensor that can spike;
    its first value has no cadence) is its own confirmation: a first charted
    GCS of 7 beside a pulse of 100 waited 45 minutes for the next round
    (PhysioNet 2012), and a ventilated patient's escalation to high 47."""
    band = score.band
    if band in ("medium", "high") and _moved_clear(score, current, deviating, scale2):
        return True
    if not _charted_statuses(state, deviating or list(score.subscores)):
        return False
    return _sparse(state, measured) or _said_alone(score, band)


def _charted_statuses(state: PatientState, names: list[str]) -> bool:
    """Is every status among `names` charted, not streamed: its first value
    (no cadence yet) or one said every `SPARSE_MS` or less often? A status a
    feed repeats every minute (an FiO2 numeric read as the oxygen, a device's
    ACVPU) can be wrong for one reading like any sampled value, and waits for
    the next as a measurement does: taken as its own confirmation, one wrong
    "V" a minute opened an alert (an outside reviewer)."""
    latest = state.latest
    for name in names:
        if name in _STATUSES:
            entry = latest.get(name)
            if entry is not None and 0 < entry[2] < SPARSE_MS:
                return False
    return True


def _said_alone(score: news2.News2, band: str) -> bool:
    """Do the statuses (`_STATUSES`: the level of consciousness, the oxygen)
    alone make this band, whatever the measurements beside them? Said by
    whoever assessed the patient, they are their own confirmation."""
    said = {name: sub for name, sub in score.subscores.items() if name in _STATUSES}
    return bool(said) and news2.News2(sum(said.values()), said, False).band == band


def _moved_clear(score: news2.News2, current: dict[str, Any], deviating: list[str], scale2: bool) -> bool:
    """Did two or more vitals move into NEWS2's medium band or above, in
    the medium band clear of their bands' edges? A part is clear when it
    still scores with its value one charting step toward normal
    (`news2.edge_score`): one faulty sensor cannot move two vitals, but noise
    at two edges can. An outside reviewer's real monitor numerics (MIMIC-II
    a40802n) opened a medium alert at once on one reading, a breathing rate
    of 20.6 scored as 21 and a systolic of 100.1 as 100 beside hours at
    20-21 and 100-105, minutes after the last one resolved; the next reading
    scored 3. The high band, and a trigger with a status in it (new
    confusion, oxygen: said, not measured), open at once as before: a high
    score on five edges as a monitor's last reading, and new confusion with
    a breathing rate of 21, waited for a next reading that never came (a
    second reviewer)."""
    if len(deviating) < 2:
        return False
    if score.band == "high" or any(name in _STATUSES for name in deviating):
        return True
    on_oxygen = bool(current.get("on_oxygen", False))
    subscores = score.subscores
    moved = 0
    for name in deviating:
        moved += news2.edge_score(name, current[name], subscores[name], scale2, on_oxygen) > 0
    return moved >= 2


def _note_red(
    state: PatientState, ts: int, score: news2.News2, current: dict[str, Any], deviating: list[str]
) -> None:
    """When a red value was last read: one people may live at, judged a
    deterioration, not this patient's own (`state.red_at`,
    `_hold_unrecovered`), and any in the high band, which alarms whatever
    the limits say of its parts (`state.high_red_at`, `_high_held`)."""
    for name in deviating:
        if score.subscores[name] == 3 and _lived_in(name, current[name]):
            state.red_at = ts
    if score.band == "high" and 3 in score.subscores.values():
        state.high_red_at = ts


def _hold_near_red(state: PatientState, r: _Reading, current: dict[str, Any], config: Config) -> None:
    """An open NEWS2 alert that no longer triggers does not resolve while a
    parameter told red in it is still within a reading's noise of red
    (`_near_red`: 5/min of a pulse's, 2/min of a breathing rate's, 5 mmHg,
    1 % SpO2): a breathing rate sliding to 24-25 opened and resolved four
    times in five hours, each 22-24 a resolution and each 25 a new alert (an
    outside reviewer). It holds at `low`, `not_recovered` in its evidence
    naming those parameters, and resolves once they are further from red,
    or a day after the alert opened (`UNRECOVERED_MS`: a pulse back at 43-47
    after 36-40 was otherwise held for days). Only an alert never told
    above `low`: one told `high`, held at `low`, would take a new medium
    score for less than it had told and say nothing (a third reviewer: a
    pulse and breathing rate rising at NEWS2 6 went untold for 13 hours)."""
    alert = state.alerts.get(_NEWS2)
    if alert is None or not alert.confirmed or _NEWS2 in r.findings:
        return
    if alert.severity is not _LOW or alert.told not in (None, _LOW):
        return  # told higher: held at low, a new medium would be less than told, and go untold
    if r.ts - alert.opened_ms > UNRECOVERED_MS:
        return
    marks, near = 0, []
    for name in _NEAR_RED:
        bit = _NEWS2_BIT[name]
        if not alert.marks & bit:
            continue
        if not _within_red_margin(state, name, current.get(name), config, alert.marks):
            continue
        # Not where the patient lives (a COPD breathing rate of 26): the limits' judgement stands.
        baseline = state.baselines.get(name)
        if baseline is not None and baseline.prior_sd < 0.0:
            if _within_red_margin(state, name, baseline.prior_mean, config, alert.marks):
                continue
        marks |= bit | alert.marks & (_RED_UNDER_BIT[name] | _RED_OVER_BIT[name])
        near.append(name)
    if near:
        evidence = {**r.evidence[_NEWS2], "not_recovered": near}
        r.findings[_NEWS2] = Finding(_NEWS2, _LOW, evidence, marks=marks, stale=True)


def _hold_unrecovered(state: PatientState, r: _Reading, current: dict[str, Any], config: Config) -> None:
    """An open NEWS2 alert that no longer triggers does not resolve while a
    parameter that was red in it, in the part of its range people live in
    (`_RED_LIVED_IN`: a low SpO2, pulse or systolic, a fast breathing rate;
    its bit `_HELD_SHIFT` up in `OpenAlert.marks`), still scores on that
    side, where the patient's normal as established (warm-up's, or the last
    adopted drift's: `Baseline.prior_mean`) scores nothing but the normal
    learned since (`Baseline.mean`) does, on that side too (`_same_side`),
    and such a red value counted as a deterioration (`_deviates`) within
    `UNRECOVERED_MS` (`state.red_at`); only for a normal the learning took
    into a scored band after the alert opened (`_held_marks`). Then what
    ends the trigger is the learning, not the patient: the learned normal
    followed the deterioration into a band NEWS2 scores, and its values
    there count as the patient's own (`_deviates`). A hypotension settled
    in ambers, and a septic chart at NEWS2 5, resolved so, and their red
    values then went untold (docs/evaluation.md, "A normal learned from the
    illness, held to account": the findings, and two reviews of this rule).

    The alert holds at its band's severity (`low` below the medium band; a
    high one stays high at 6), `not_recovered` in its evidence naming those
    parameters. Once a held parameter has been out of red for a
    resolution's wait, its recent level (`Baseline.recent`) out of red too,
    its red mark goes: a run of red values back is a relapse, told at once
    as an escalation naming it (`newly`), where a new alert opened before
    the hold. It resolves once the parameter is back in the band its
    established normal scores, or the learned normal is (the patient
    recovered), or a day has passed without a red value that deviates (the
    patient lives at the new level). A hold, never an opening: a patient
    who comes to live at a scored level without an alert keeps the
    personalised limits."""
    alert = state.alerts.get(_NEWS2)
    if alert is None or not alert.confirmed or _NEWS2 in r.findings or r.ts - state.red_at > UNRECOVERED_MS:
        return
    scale2, baselines, evidence = _scale2(state, config), state.baselines, r.evidence[_NEWS2]
    marked = [name for name, sub in evidence["subscores"].items() if sub and alert.marks & _HELD_BIT[name]]
    held = [name for name in marked if _unrecovered(state, name, current, scale2)]
    marks = 0
    for name in held:
        marks |= _HELD_BIT[name]
    if held:
        # Out of red for a resolution's wait, its recent level too: no longer at their worst, and
        # a red value back is a relapse, told at once (`newly`), as a new alert was before the hold.
        # Not a value out of red between two red ones: a pulse flickering about 40 is one episode.
        if r.ts - state.red_at >= max(config.resolve_after_ms, 2 * _patient_cadence(state, r.ts)):
            for name in held:
                recent = baselines[name].recent
                if news2.score({name: recent}, scale2).subscores.get(name, 0) < 3 and not (
                    name in _NEAR_RED and _within_red_margin(state, name, recent, config, alert.marks)
                ):  # a recent level flickering about the edge (a pulse of 38-45) is no recovery
                    alert.marks &= ~_NEWS2_BIT[name]
        severity = NEWS2_SEVERITY.get(evidence["band"]) or _LOW
        if severity is _MEDIUM and evidence["score"] >= HIGH_HELD_FROM and _open_high(state):
            severity = _HIGH  # a high alert stays high at 6, as ever
        evidence = {**evidence, "not_recovered": held}
        r.findings[_NEWS2] = Finding(_NEWS2, severity, evidence, marks=marks, stale=True)


def _unrecovered(state: PatientState, name: str, current: dict[str, Any], scale2: bool) -> bool:
    """Is this parameter, held in an open NEWS2 alert (`_hold_unrecovered`),
    still off the normal as established on its red range's side, where NEWS2
    scores the normal learned since (on that side: `_same_side`) but not
    the one established?"""
    lived, baseline = _RED_LIVED_IN.get(name), state.baselines.get(name)
    if lived is None or baseline is None or baseline.prior_sd >= 0.0:
        return False
    value, established = current[name], baseline.prior_mean
    if (value - established) * (lived[0] - established) <= 0:
        return False  # on the other side of the normal: not the red range's
    if not _same_side(name, value, baseline.mean, scale2, current):
        return False  # the learned normal scores nothing, or on the other side: the limits do not apply
    normal = {name: established}
    if "on_oxygen" in current:
        normal["on_oxygen"] = current["on_oxygen"]
    return not news2.score(normal, scale2).subscores.get(name)


def _held_marks(
    state: PatientState, subscores: dict[str, int], current: dict[str, Any], config: Config
) -> int:
    """The held marks (`_HELD_SHIFT`) of a NEWS2 finding: each red
    parameter in the part of its range people live in that already has one
    in the open alert, or whose learned normal NEWS2 scores nothing on its
    side (`_same_side`) now: a hold is for a normal the learning took into a
    scored band after the alert, not one the patient lived at before it (an
    SpO2 of 94 for two days, then a desaturation: held a day, where it
    resolved in 40 minutes, before a reviewer)."""
    alert, marks = state.alerts.get(_NEWS2), 0
    told = alert.marks if alert is not None else 0
    scale2 = None
    for name, sub in subscores.items():
        if sub != 3 or not _lived_in(name, current[name]):
            continue
        bit = _HELD_BIT[name]
        if told & bit:
            marks |= bit
            continue
        baseline = state.baselines.get(name)
        if scale2 is None:
            scale2 = _scale2(state, config)
        if baseline is None or not _same_side(name, current[name], baseline.mean, scale2, current):
            marks |= bit
    return marks


def _lived_in(name: str, value: Any) -> bool:
    """Is this value in the part of its red range people live in
    (`_RED_LIVED_IN`), as a whole number, the way NEWS2 scores it? A
    breathing rate of 24.8 (an hourly mean of a monitor's counts) scores 3
    as 25 does; compared as it came, it lay under the range, so it was red
    where no one lives, a deterioration whatever was learned: a septic
    patient charted at 25-30 from admission, his 26-27s his own, had an
    alert open at each of his lowest values, 24.6-24.8, and none while he
    was worse (MIMIC-II, an outside tester)."""
    lived = _RED_LIVED_IN.get(name)
    return lived is not None and value.__class__ in _NUMBERS and lived[0] <= round(value) <= lived[1]


def _same_side(name: str, value: Any, normal: float, scale2: bool, current: dict[str, Any]) -> bool:
    """Does NEWS2 score this learned normal on the side of its range that
    `value` is on: the normal, and the point midway to the value, both
    scored (NEWS2's bands are contiguous on each side of the band that
    scores nothing, which lies between a pulse of 37 and a normal of 94
    learned from a tachycardia: 65, scored nothing)?"""
    probe = {name: normal}
    if "on_oxygen" in current:
        probe["on_oxygen"] = current["on_oxygen"]
    if not news2.score(probe, scale2).subscores.get(name):
        return False
    probe[name] = (normal + value) / 2
    return bool(news2.score(probe, scale2).subscores.get(name))


def _news2_current(state: PatientState, r: _Reading, config: Config) -> dict[str, Any]:
    """The value of each NEWS2 parameter that counts now: its latest, when
    fresh and its channel not bad (or bad, with a red value held:
    `_red_held`)."""
    ts, bad, max_age, latest = r.ts, r.bad, config.news2_max_age_ms, state.latest
    current = {}
    for name in news2.PARAMETERS:
        entry = latest.get(name)
        if entry is None or (bad and name in bad and not _red_held(state, name, entry[0], config)):
            continue
        # Fresh: `news2_max_age_ms`, or FRESH_CADENCES of the parameter's own
        # cadence when it is charted less often (GCS every three hours stays in
        # the score until the next one is due), at most FRESH_CAP_MS; a status
        # or a charted parameter's first value until the next (`_held`).
        if _fresh(entry, ts, max_age) or _held(state, name, entry, ts):
            current[name] = entry[0]
    return current


def _hold_unreliable(state: PatientState, r: _Reading, config: Config) -> None:
    """An open NEWS2 alert that no longer triggers does not resolve while a
    parameter that scored 3 in it when last told (`OpenAlert.marks`) is bad
    (`_quality`: sending artifacts again and again, or no signal) and its
    latest clean value, still fresh, is still off normal (NEWS2 scores it):
    the parameter went unreliable, not better. The alert holds as it is,
    neither escalating nor settling, `unreliable` in its evidence naming
    those parameters; it resolves once clean values show the parameter
    normal, or its latest is no longer fresh. A real monitor's breathing
    count fell to 4.6/min, then read 0-9.4 for an hour (0 in most minutes,
    1-2 in others: artifacts): the channel went bad, NEWS2 lost its
    breathing rate and resolved at 0 while the count still read 2, 7.5,
    3.5, 0 (MIMIC-II, docs/evaluation.md). A breathing count back at 16
    resolves it as before; a bad channel never opens or escalates one."""
    current = state.alerts.get(_NEWS2)
    if current is None or not current.confirmed or not r.bad:
        return
    scale2, latest = _scale2(state, config), state.latest
    unreliable = []
    for name in news2.PARAMETERS:
        entry = latest.get(name)
        if name not in r.bad or entry is None or not current.marks & _NEWS2_BIT[name]:
            continue
        alone = {name: entry[0]}
        if name == "spo2" and "on_oxygen" in latest:  # scale 2 scores a high SpO2 on oxygen
            alone["on_oxygen"] = latest["on_oxygen"][0]
        if _fresh(entry, r.ts, config.news2_max_age_ms) and news2.score(alone, scale2).subscores.get(name):
            unreliable.append(name)
    if unreliable:
        evidence = {**r.evidence[_NEWS2], "unreliable": unreliable}
        r.findings[_NEWS2] = Finding(_NEWS2, current.severity, evidence, stale=True)


def _rise_read_now(state: PatientState, r: _Reading, score: news2.News2, severity: Severity) -> bool:
    """Inside an open NEWS2 alert, is this score's rise above the alert's
    severity read at this reading: a value its band rests on (without it
    the aggregate would fall under the band's 7, or 5 for medium), or any
    scoring one where none does alone, new now? Then the finding is no
    stale one for that rise, whatever older value the trigger itself rests
    on (`_stale_trigger`). A systolic of 88 read an hour before, then a
    pulse of 114 and a breathing rate of 23 charted now, NEWS2 7: the rise
    to high waited for the systolic's next reading, 25-90 minutes on a
    monitor beside a cuff, and with the pressure not charted again it was
    never told (an outside reviewer of real charts, MIMIC-IV).

    Left: at an aggregate of exactly 7 every scoring value is one the band
    rests on, so a second device's unchanged pulse and breathing rate
    confirm a rise that one SpO2 of 88 from another device made once (a
    second reviewer): told a reading later, where before 2026-12-06 any
    single reading escalated at once. Telling the values that moved from
    those that were re-read needs the score as last told, which the state
    does not keep."""
    told = state.alerts.get(_NEWS2)
    if told is None or not told.confirmed or rank(severity) <= rank(told.severity):
        return False
    floor = HIGH_FROM if severity is _HIGH else MEDIUM_FROM
    subscores, total, clean = score.subscores, score.total, r.clean
    scoring = [name for name, sub in subscores.items() if sub and name not in _STATUSES]
    resting = [name for name in scoring if total - subscores[name] < floor]
    return any(name in clean for name in (resting or scoring))


def _stale_trigger(r: _Reading, subscores: dict[str, int]) -> bool:
    """Is this NEWS2 trigger made without a new value from this reading (one
    of another of the patient's devices)? Then it holds, but confirms nothing
    (`Finding.stale`). What must be new is a parameter the trigger rests on
    (without it, the others would not trigger: the SpO2 of 63 beside a pulse
    of 98 scoring 1, not the pulse), or, where none does alone, any that
    scores. The SpO2 scale is a prescription, not a value: a reading that
    carries it (as a chart's reading does every time) confirms nothing of
    an SpO2 read before. A status (`_STATUSES`) holds as if said again at
    every reading until one says otherwise (`_held`): charted, it is its own
    confirmation, so a trigger the statuses make alone is never stale, and
    one they help make needs a new value of the measurements it rests on. A
    first "U" charted once, then hourly rounds at NEWS2 7 without one, never
    opened."""
    clean = r.clean
    if _triggers([sub for name, sub in subscores.items() if name in _STATUSES]):
        return False
    scoring = [name for name, sub in subscores.items() if sub and name not in _STATUSES]
    resting = [name for name in scoring if not _triggers([s for k, s in subscores.items() if k != name])]
    return not any(name in clean for name in (resting or scoring))


def _fresh(entry: list[Any], ts: int, max_age_ms: int) -> bool:
    """Is a latest value ([value, ts, cadence]) still current at `ts`: no
    older than `max_age_ms`, or than FRESH_CADENCES of its own cadence when it
    is charted less often (GCS every three hours stays until the next is
    due), and never older than FRESH_CAP_MS?"""
    age: int = ts - entry[1]
    cadence: int = entry[2]
    return age <= max_age_ms or (age <= FRESH_CADENCES * cadence and age <= FRESH_CAP_MS)


def _news2_marks(score: news2.News2, current: dict[str, Any]) -> int:
    """What an open NEWS2 alert is told again for when it newly holds
    (`OpenAlert.marks`, `app.core.alerts.transition`): a parameter scoring 3;
    the level of consciousness a step further down ACVPU (V, P, U: NEWS2
    scores each 3, as it does new confusion, so a GCS falling from 15 to 13,
    then 7, then 6 on a real ICU stay escalated nothing after the first);
    a fever reaching 39.1 C (NEWS2's most for one, 2: a fever climbing to
    39.3 inside a high alert said nothing); an SpO2 fallen under 85 %, where
    no one lives (`_HYPOXIA_BIT`). And `_beyond_red`'s."""
    marks = 0
    for name, sub in score.subscores.items():
        if sub == 3:
            marks |= _NEWS2_BIT[name] | _red_side(name, current[name])
    level = current.get("consciousness")
    if level in _DEEPER:
        marks |= _DEEPER_BITS[_DEEPER[level]]
    if score.subscores.get("temperature") == 2:  # 39.1 C or more: no other band scores 2
        marks |= _FEVER_BIT
    spo2 = current.get("spo2")
    if spo2 is not None and spo2 < _HYPOXIA_UNDER and score.subscores.get("spo2") == 3:
        marks |= _HYPOXIA_BIT  # red on the scale in use (scale 2: 83 or less)
    return marks


def _near_red(state: PatientState, current: dict[str, Any], config: Config) -> int:
    """The parameters the open NEWS2 alert told at their worst (scoring 3:
    `OpenAlert.marks`) whose value now is within `_NEAR_RED` of their red
    band (`_danger`): marked still, so that a reminder or a settle at such a
    value does not make the next red one news. A heart rate of 140 +- 15 in
    atrial fibrillation was told `newly: heart_rate` at 133, 140 and 142
    after hours at 131 or more, each after a reminder read at 125-130; a
    charted pulse alternating 128 and 132 after each reminder (outside
    testers, a PhysioNet 2012 stay). One further off (a systolic recovered
    to 104-110 for a day; a pulse at 117 for 12 hours) is unmarked at the
    next reminder as before, and its next red value is news: held while it
    scored 2 at all, a pulse at 111-130 for a day, then 150, was told by
    nothing new (an outside reviewer)."""
    told = state.alerts.get(_NEWS2)
    if told is None or not told.marks:
        return 0
    marks = 0
    for name in _NEAR_RED:
        bit = _NEWS2_BIT[name]
        if told.marks & bit and _within_red_margin(state, name, current.get(name), config, told.marks):
            marks |= bit | told.marks & (_RED_UNDER_BIT[name] | _RED_OVER_BIT[name])
    return marks


def _red_side(name: str, value: Any) -> int:
    """The bit saying which side of its range a red value is on
    (`_RED_UNDER_BIT`, `_RED_OVER_BIT`); 0 for a status."""
    bounds = DANGER.get(name)
    if bounds is None or value.__class__ not in _NUMBERS:
        return 0
    low, high = bounds
    under = high is None or (low is not None and value <= (low + high) / 2)
    return _RED_UNDER_BIT[name] if under else _RED_OVER_BIT[name]


def _within_red_margin(state: PatientState, name: str, value: Any, config: Config, marks: int) -> bool:
    """Is this value within `_NEAR_RED` of the vital's red band (`_danger`)
    on the side the open alert told it red (`marks`, `_red_side`)?"""
    if value.__class__ not in _NUMBERS:
        return False
    margin = _NEAR_RED[name]
    low, high = _danger(state, name, config)
    side = marks & (_RED_UNDER_BIT[name] | _RED_OVER_BIT[name])
    if side == _RED_OVER_BIT[name]:
        low = None
    elif side == _RED_UNDER_BIT[name]:
        high = None
    return (low is not None and value <= low + margin) or (high is not None and value >= high - margin)


def _beyond_red(
    state: PatientState,
    subscores: dict[str, int],
    current: dict[str, Any],
    evidence: dict[str, Any],
    monitored: bool = False,
) -> int:
    """The marks of red vitals gone on past a calling criterion
    (`_BEYOND_RED`), or of a mean under MAP_FLOOR with the systolic red
    (`_SHOCK_BIT`), whole numbers as NEWS2 takes them, each held within its
    margin once told (a systolic wandering about 80 is told once, not at each
    dip under it after a reminder); the mean's is held so whatever the
    systolic scores once told (a mean of 61 beside a systolic of 89, then
    93, told the mean again at each 89: an outside reviewer); and each
    told is held while its vital is not measured now (missing data is no
    recovery: `app.core.alerts._lapse`). The criteria are absolute, as a medical
    emergency team's are: not judged against what was learned (a septic
    patient's normal, learned down over hours, put a systolic of 76 within
    2.5 SDs of it). `monitored`: a rise a monitor reads every minute
    (`_transient_rise`) counts once the vital's smoothed level is past the
    criterion too, not for one burst. A mean that marks goes into the
    evidence's `vitals`, which says why the alert is told again."""
    news = state.alerts.get(_NEWS2)
    told = news.marks if news is not None and news.confirmed else 0
    marks = 0
    for name, direction, criterion, margin, bit in _BEYOND_RED:
        if name not in subscores:  # not measured now: neither past it nor clear of it
            marks |= told & bit
            continue
        if subscores[name] != 3:
            continue
        past = direction * (round(current[name]) - criterion)
        if past > 0 or (told & bit and past > -margin):
            if monitored and not told & bit:
                baseline = state.baselines.get(name)
                if (
                    baseline is not None
                    and baseline.t_ms > 0
                    and direction * (baseline.level - criterion) <= 0
                ):
                    continue
            marks |= bit
    systolic, shock = subscores.get("systolic_bp"), told & _SHOCK_BIT
    if systolic == 3 or (shock and systolic is not None):
        mean = _mean_with_systolic(state, current["systolic_bp"])
        if mean is None:  # no mean read with it: neither
            marks |= shock
        elif mean < MAP_FLOOR or (shock and mean < MAP_FLOOR + _SHOCK_MARGIN):
            marks |= _SHOCK_BIT
            evidence["vitals"] = {**evidence["vitals"], "mean_bp": mean}
    elif systolic is None:
        marks |= shock
    return marks


def _red_held(state: PatientState, name: str, value: Any, config: Config) -> bool:
    """Does a bad channel's latest clean value still count in NEWS2? Only
    while a NEWS2 alert is open (confirmed) in which this parameter scored 3
    when last told (`OpenAlert.marks`), the channel has lost its signal (a
    "no signal" run, not a channel sending artifacts again and again) and
    the value is still in the red range (`DANGER`): a channel that loses its
    signal at the bottom of a fall (breathing slowing to 4/min, then
    nothing; an oximeter that finds no pulse) does not take its red value out
    of the open alert, which would then resolve on missing data. It counts
    for as long as it is fresh. A bad channel never opens or escalates an
    alert this way (a probe's last value as it slid off is not the alert's)."""
    open_news, quality = state.alerts.get(_NEWS2), state.quality.get(name)
    if name not in DANGER or open_news is None or not open_news.confirmed or value.__class__ not in _NUMBERS:
        return False
    if not open_news.marks & _NEWS2_BIT[name]:
        return False
    if quality is None or not quality[1] or quality[0] >= config.artifact_share:
        return False
    low, high = _danger(state, name, config)
    return (low is not None and value <= low) or (high is not None and value >= high)


def _scale2(state: PatientState, config: Config) -> bool:
    """Is this patient's SpO2 scored on NEWS2's scale 2? When prescribed a
    hypercapnic target of 88-92 % (RCP 2017: by a clinician, recorded on the
    chart): the latest `spo2_scale` a reading sent, or for every patient
    `Config.scale2`."""
    prescribed = state.latest.get(SPO2_SCALE)
    return prescribed[0] == 2 if prescribed is not None else config.scale2


def _high_held(
    state: PatientState, ts: int, score: news2.News2, current: dict[str, Any], config: Config
) -> bool:
    """Does an open high NEWS2 alert's score in the medium band still hold
    it high: one point below the band's edge (`HIGH_HELD_FROM`), or in the
    band with each part told red (`OpenAlert.marks`) and now within a
    reading's noise of red (`_near_red`) counted as red? A pulse flickering
    at 38-44 beside a breathing rate of 21-24 and a systolic of 92-99 (NEWS2
    5 and 7 in turn, at 5-minute readings) settled to medium at each twenty
    minutes over 40 and was told `escalated` to high at the next 40: 40-45
    times in two days (an outside reviewer's, 2026-12-06). A relapse after a
    real recovery is still told at once: a breathing rate back at 22-24
    beside a pulse scoring 1 is NEWS2 6 counted so, and settles. And only
    while a red value was seen within `HIGH_NEAR_RED_MS`, or two of the
    patient's cadences (`state.red_at`, one judged a deterioration, or
    `state.high_red_at`, one in the high band): held for good, a pulse back at 42-45
    for six hours, then 31-34, was told nothing new, nor a shock's return
    after a day at NEWS2 5 (a reviewer); an hour after the last red value
    the alert settles, and a relapse is told at once."""
    if score.total >= HIGH_HELD_FROM:
        return True
    if ts - max(state.red_at, state.high_red_at) > _high_window(state, ts):
        return False
    near = _near_red(state, current, config)
    lift = sum(3 - sub for name, sub in score.subscores.items() if sub < 3 and near & _NEWS2_BIT[name])
    return score.total + lift >= HIGH_FROM


def _high_window(state: PatientState, ts: int) -> float:
    """How long after its last red value a score within noise of the high
    band holds it (`_high_held`): `HIGH_NEAR_RED_MS`, or two of the
    patient's cadences when that is longer."""
    return max(HIGH_NEAR_RED_MS, 2 * _patient_cadence(state, ts))


def _open_high(state: PatientState) -> bool:
    """Is a confirmed NEWS2 alert open at high severity?"""
    current = state.alerts.get(_NEWS2)
    return current is not None and current.confirmed and current.severity is _HIGH


def _keep_pending(state: PatientState, r: _Reading, subscores: dict[str, int]) -> None:
    """A NEWS2 trigger awaiting confirmation whose score dips below its band
    for a reading, while a vital read more often than every `SPARSE_MS`
    (`_HOVERING`) still scores 2 or more, stays pending, without opening on
    this reading: a value hovering about a band's edge is one lasting
    change, not a string of new ones each waiting afresh. A developing
    sepsis's breathing at 25, 23, 25 (with `news2_sustain_ms` to wait), or
    a real monitor's systolic at 89, 92, 89 every 2 s, which never held 90
    or less for 15 s and never alarmed (VitalDB, 7 minutes at a mean
    pressure of 58-60)."""
    pending = state.alerts.get(_NEWS2)
    if pending is None or pending.confirmed:
        return
    latest = state.latest
    for name in _HOVERING:
        held = latest.get(name)
        if subscores.get(name, 0) >= 2 and held is not None and 0 < held[2] < SPARSE_MS:
            r.findings[_NEWS2] = Finding(_NEWS2, _LOW, r.evidence[_NEWS2], hold_ms=_NEVER)
            return


def _transient_rise(
    state: PatientState,
    subscores: dict[str, int],
    current: dict[str, Any],
    deviating: list[str],
    config: Config,
) -> bool:
    """Is this trigger, below the high band, made by continuously monitored
    values on the side an arousal (waking, moving, coughing, pain) pushes
    them (`_RISE`: a fast heart, over 90/min; fast breathing, 21/min or
    more; a systolic pressure of 220 or more; each read more often than
    every `SPARSE_MS`), with no other parameter scoring away from this
    patient's established normal (`deviating`: the personalised limits'
    judgement; with nothing learned yet, every scoring parameter deviates)?
    NEWS2 was made for observations taken at rest; a monitor's
    minute-by-minute values of such a rise count once the rise has lasted
    `news2_sustain_ms`, as a repeat of the observations would, not for one
    burst. A fall (a slow heart or breathing, a low pressure or SpO2), a
    new fever, oxygen, confusion, a spot measurement, or the high band opens
    as before."""
    if config.news2_sustain_ms <= 0:
        return False
    latest, rising, rest = state.latest, False, []
    for name, sub in subscores.items():
        if not sub:
            continue
        rise = _RISE.get(name)
        if rise is not None and round(current[name]) >= rise and 0 < latest[name][2] < SPARSE_MS:
            rising = True
        else:
            rest.append(name)
    # Nothing else scores away from this patient's normal: the rise alone makes the alert.
    return rising and not any(name in deviating for name in rest)


def _held(state: PatientState, name: str, entry: list[Any], ts: int) -> bool:
    """Does a value no longer `_fresh` still stand until the next one (at
    most FRESH_CAP_MS)? A status (`_STATUSES`: the oxygen, the level of
    consciousness) holds until a later reading says otherwise, as the
    protocol says: a ventilated patient's GCS of 3, charted at 00:17, 02:02
    and then 06:02, dropped out of the score at 1.5 of its first interval and
    the NEWS2 alert resolved at 05:32, to reopen at 06:02; oxygen charted
    with the FiO2 only dropped out within three hours (a PhysioNet 2012 stay,
    docs/evaluation.md). So does a charted parameter's first value
    (`_first_charted`). Missing data is no improvement."""
    if ts - entry[1] > FRESH_CAP_MS:
        return False
    return name in _STATUSES or _first_charted(state, entry, ts)


def _underperfused(state: PatientState, systolic: Any) -> bool:
    """Does the arterial line's mean, sent in the systolic's reading, stand
    under MAP_FLOOR (and between "no signal" and the systolic: a mean
    outside them is the line's artifact)? A PhysioNet 2012 stay charted at a
    systolic of 74-90 with a mean of 50-62 for 36 hours was taken for a
    patient living low, and raised nothing (docs/evaluation.md)."""
    mean = _mean_with_systolic(state, systolic)
    return mean is not None and mean < MAP_FLOOR


def _mean_with_systolic(state: PatientState, systolic: Any) -> float | None:
    """The arterial line's mean sent in the systolic's reading, when it
    stands between "no signal" and the systolic (outside them, the line's
    artifact); else None."""
    mean, entry = state.latest.get("mean_bp"), state.latest.get("systolic_bp")
    if mean is None or entry is None or mean[1] != entry[1] or mean[0].__class__ not in _NUMBERS:
        return None
    value = mean[0]
    return value if OPEN_LINE_MMHG < value < systolic else None


def _first_charted(state: PatientState, entry: list[Any], ts: int) -> bool:
    """Is this the only value so far of a parameter (its cadence not known
    yet) of a patient who is charted (read every `SPARSE_MS` or less often)?
    Then it stands until the next one is charted (at most FRESH_CAP_MS), as
    every later value stands until the next is due: a first GCS of
    "responds to pain" does not drop out of the score after an hour, so the
    alert of a sedated patient does not resolve and reopen when the second
    GCS is charted three hours later. Missing data is no improvement."""
    return not entry[2] and _patient_cadence(state, ts) >= SPARSE_MS


def _sparse(state: PatientState, names: list[str], spaced: list[str] | None = None) -> bool:
    """Are all these channels read every `SPARSE_MS` or less often (or, of
    `spaced`, read at this reading `SPARSE_MS` or more after their value
    before: `_Reading.spaced`)? Then their values are spot measurements
    (charted, a home device), each one its own confirmation. A channel with
    one value so far has no cadence and is not sparse.

    `spaced` is for a rise in an open alert (`Finding.spot`): a monitor
    taken off and the patient charted from then on, the channels' cadences
    still said a minute at the first charted rounds (a cadence follows a
    gap slowly), and a charted NEWS2 of 7 escalated a round late, an hour on
    hourly charting (an outside reviewer)."""
    latest = state.latest
    for name in names:
        entry = latest.get(name)
        if entry is None or (entry[2] < SPARSE_MS and (spaced is None or name not in spaced)):
            return False
    return True


def _deviates(
    state: PatientState,
    name: str,
    value: Any,
    config: Config,
    sub: int = 0,
    current: dict[str, Any] | None = None,
    before: Any = None,
) -> bool:
    """Is this value away from the patient's established normal? Parameters
    the model does not learn (consciousness, oxygen), or has learned from fewer
    than `personal_after` readings spanning `personal_after_ms` (two hours:
    120 readings at one a minute, 12 charted hourly), always count as deviating: personalised
    limits apply only to values the patient is known to live with (an
    athlete's slow pulse; SpO2 and breathing rate with COPD, for whom the
    chart's scale 2 would be prescribed).

    A value NEWS2 scores 1 or 2 within 2.5 SDs of the normal is the
    patient's own; but while a NEWS2 alert at medium or high is open, only
    if the normal as established (`Baseline.prior_mean`) scores on its side
    too. An outside tester's slow sepsis (over ten hours a pulse from 75
    to 116, breathing from 16 to 22.5, a systolic from 122 to 104, a
    temperature to 38.6) had its alert resolve at NEWS2 5 and 6, at every
    cadence from a minute to an hour, each amber value near a normal a few
    hours old learned from the sepsis, and open again later; held only
    while the learning's memory was under a day, it resolved at 5-6 once
    the memory was full (a reviewer). Not for an opening: measured so,
    ambers the normal of the first day learned raised 15-35 % more false
    alerts on `ward` (docs/evaluation.md).

    A value NEWS2 scores 3 (`sub`, its red range) is judged by
    `_red_deviates`, with `before` (the value this one follows on its
    channel, when this reading carries it: `_Reading.before`).

    The established normal here is the day's (`Baseline.mean`), not the
    one at this time of day (`_normal_at`) that the other rules measure
    from: a value NEWS2 scores is judged against where the patient lives,
    not against a night dip. Measured from the night's normal, a post-operative
    patient charted at a systolic of 74-101 mmHg had its 84 at 01:53 taken for
    its own, and its NEWS2 alert resolved and opened again (`charted`, seed 7)."""
    baseline = state.baselines.get(name)
    if baseline is None:
        return True
    n = baseline.n
    personal = n >= config.personal_after and n * state.latest[name][2] >= config.personal_after_ms
    if not personal or abs(baseline.z(value)) >= 2.5:
        return True
    if sub < 3:
        told = state.alerts.get(_NEWS2)  # held, not opened: see above
        if baseline.prior_sd >= 0.0 or told is None or not told.confirmed or told.severity is _LOW:
            return False
        return not _same_side(name, value, baseline.prior_mean, _scale2(state, config), current or {})
    return _red_deviates(state, name, value, baseline, config, current, before)


def _red_deviates(
    state: PatientState,
    name: str,
    value: Any,
    baseline: Baseline,
    config: Config,
    current: dict[str, Any] | None,
    before: Any,
) -> bool:
    """Is a red value (NEWS2 scores it 3) within 2.5 SDs of a personal
    normal away from it (`_deviates`)?

    It is the patient's own only when NEWS2 scores the learned normal too:
    an athlete living at 44. Never a red SpO2: scale 2, which scores a COPD patient's 88-92 % as her
    target, is a clinician's prescription (`spo2_scale`; RCP 2017), not a
    habit learned; a ward chart's SpO2 of 90-91 on air, learned, went
    untold for 36 hours (an outside reviewer, 2026-12-06). Where the normal scores nothing, a red
    value is a deterioration however wide the learned spread: a heart rate
    wandering 40-110 after cardiac surgery (its spread 21) does not make 24
    the patient's normal (PhysioNet 2012 set-b, docs/evaluation.md). And
    only in the part of a red range people live in (`_RED_LIVED_IN`): no
    one's normal is a heart rate of 131 or more, an SpO2 of 73, a
    breathing rate of 8 or less, a temperature in NEWS2's red range or a
    systolic of 220 or more. On an eICU stay, a tachycardia of 132 charted
    for six hours was taken for the patient's normal, and an SpO2 of 73
    for one within a spread widened by a probe's 53; both alerts resolved
    while the values lasted (docs/evaluation.md).

    The normal as established must score on that side too, at any age, and
    the value and its run lie near it (`_off_established`).

    `before`: the value this one follows on its channel, when this reading
    carries it: two deep values in a row are a charted run
    (`_off_established`).

    One exception, for an open alert that holds the parameter no longer red
    (`_hold_unrecovered`): a red value that is not a run's (the
    parameter's recent level, `Baseline.recent`, about its last five
    values, not red) is a stray among the patient's usual values, not a
    relapse (`_stray_red`). A patient at 95 +- 3 after a bleed, read every
    minute, had each 89-90 after a settle told as an escalation, 18 in two
    days; a run of them is still told at once."""
    if name == "spo2":
        return True  # a red SpO2: scale 2 is a clinician's prescription, not a habit learned
    if not _lived_in(name, value):
        return True  # a red value no one lives at: a deterioration whatever was learned
    if name == "systolic_bp" and _underperfused(state, value):
        return True  # a low systolic with a mean under MAP_FLOOR: a patient in shock, not a habit
    normal = {name: baseline.mean}
    if current is not None and "on_oxygen" in current:
        normal["on_oxygen"] = current["on_oxygen"]
    scale2 = _scale2(state, config)
    if not _same_side(name, value, baseline.mean, scale2, normal):
        return True  # the normal scores nothing, or on the other side (a pulse of 37 beside 94)
    if baseline.prior_sd >= 0.0:
        return False
    told = state.alerts.get(_NEWS2)
    if told is not None and told.confirmed and _stray_red(told, name, baseline, normal, scale2):
        return False  # a lone red value while the alert holds the part: no relapse
    # The normal as established: the learned one follows a slide slower than its memory.
    charted = before if state.latest[name][2] >= CHARTED_RUN_MS else None  # its value before, if charted
    marked = told is not None and told.confirmed and bool(told.marks & _NEWS2_BIT[name])
    return _off_established(name, value, baseline, normal, scale2, charted, marked)


def _off_established(
    name: str,
    value: Any,
    baseline: Baseline,
    normal: dict[str, Any],
    scale2: bool,
    before: Any = None,
    marked: bool = False,
) -> bool:
    """Is a red value, in the part of its range people live in, that the
    learned normal scores on its side (`_deviates`), off the normal as
    established (`Baseline.prior_mean`, folded in), not the patient's own?

    It must score on that side too, at any age (where warm-up left it, or
    where a drift was last adopted; a drift is adopted only at a level
    NEWS2 scores 0, `_drift`): a patient lives at a red
    value only if he was established there. The learned normal follows a
    deterioration slower than its memory (a day): a systolic sliding from
    122 to 84 over eight hours, six hours after admission, took it to 93
    (NEWS2 2); one sliding over 30-72 hours, charted hourly or every 15
    minutes, to 108 at its first red value, its spread widened by the slide
    itself; and its red values were taken for the patient's own, nothing at
    all told, NEWS2 included (outside testers; a breathing rate from 16 to
    27 and a pulse from 72 to 38 the same). Asked only while the memory was
    under a day (2026-12-06, evening), slides slower than that were still
    missed. A new level NEWS2 scores is a deterioration, not a new normal
    (issue 13), whatever the learning made of it. And only a normal
    established in the red range or in the band next to it (`_NEXT_TO_RED`:
    a pulse of 41-50, a systolic of 91-100, a breathing rate of 21-24): one
    established at a systolic of 105 (NEWS2 1) made a slide to 85 the
    patient's own, its alert resolving at 85 (a reviewer), and a real ICU
    stay established at 105 in a post-operative hypotension had its 66-88
    taken for its own (PhysioNet 2012 set-a 132540). Nor a run of red
    values deeper into red than the normal as established (`_deeper_run`;
    `before` and `marked` are its)."""
    established = {**normal, name: baseline.prior_mean}
    if news2.score(established, scale2).subscores.get(name, 0) < _NEXT_TO_RED[name]:
        return True  # established further from red than the band next to it (a systolic of 105)
    if _deeper_run(name, value, baseline, before, marked):
        return True
    return not _same_side(name, value, baseline.prior_mean, scale2, normal)


def _deeper_run(name: str, value: Any, baseline: Baseline, before: Any, marked: bool) -> bool:
    """Is this red value one of a run deeper into red than the normal as
    established (`_INTO_RED`; `Baseline.prior_mean`), whatever the learning
    made of it? Its recent level (`Baseline.recent`, about its last five
    values) 2.5 of the spreads it was established with
    (`Baseline.established_sd`) deeper, or 1.5 of them with the value
    itself 2.5 deeper. A patient established at a systolic of 95 +- 3 (his
    88-90s his own) fell to 78 +- 3 on day four; the learning followed (its
    spread from 5 to 8 in five hours, its mean still 93), the 78s came
    within 2.5 of its spreads, and the alert resolved five hours into the
    fall, read every minute, 15 minutes or hour (2026-12-06, late). A lone
    value is not enough: measured so, a COPD breathing rate established at
    25.5 +- 1 and wandering +- 2 after warm-up opened twice as many alerts
    (an outside reviewer). Nor 1.5 spreads for the recent level alone: an
    athlete established at a pulse of 44 +- 1.5 opened an alert every
    night his pulse dipped to 39, and a COPD rate wandering 22-27 five
    times as many (a reviewer, 2026-12-06, night).

    Once told (`marked`: the open NEWS2 alert marks the part), the run
    lasts while the recent level stays 1.0 spread deeper: a level that sits
    about the opening's edge is one alert. Without it an outside reviewer's
    slides from a systolic of 95 to 80 over 12-72 hours had their alerts
    resolve 39 times in 27 runs with the value red, and open again (1
    now; docs/evaluation.md, "A run into red held while it lasts").

    Charted (read every `CHARTED_RUN_MS` or less often: `before`, the value
    this one follows, else None), the recent level lags hours: this value
    and the one before it, each 2.5 spreads deeper, are a run too. A
    post-operative patient established at a systolic of 100 +- 7, charted
    at 80 from day two, was told at the fourth 80, four hours after the
    first (`charted`, seed 99), and is now at the second. Not at denser
    reading, where two values in a row are minutes apart (the COPD
    patient's wander, every 15 minutes)."""
    spread, into, established = baseline.established_sd(), _INTO_RED[name], baseline.prior_mean
    run = (baseline.recent - established) * into
    if run >= (1.0 if marked else 2.5) * spread:
        return True
    if run >= 1.5 * spread and (value - established) * into >= 2.5 * spread:
        return True  # the value far deeper, its run well on the way
    if before.__class__ not in _NUMBERS:
        return False
    shallower: float = min(value * into, before * into) - established * into
    return shallower >= 2.5 * spread  # charted: this value and the one before it, each deep


def _stray_red(told: OpenAlert, name: str, baseline: Baseline, normal: dict[str, Any], scale2: bool) -> bool:
    """Is a red value of a parameter the open alert holds on, no longer red
    (`_hold_unrecovered`), a stray among the patient's usual values, its
    recent level (`Baseline.recent`) not red (`_deviates`)?"""
    if told.marks & _NEWS2_BIT[name] or not told.marks & _HELD_BIT[name]:
        return False
    return news2.score({**normal, name: baseline.recent}, scale2).subscores.get(name, 0) < 3


def _anomaly(state: PatientState, r: _Reading, config: Config) -> None:
    """Vitals far from this patient's normal (never during warm-up)."""
    if not r.far and r.off < 2 and r.wide < 3 and _ANOMALY not in state.alerts:
        return  # the common case: nothing far out, nothing open
    z_scores, z_alert = r.z, config.z_alert
    surprised = r.surprised or {}
    routine = r.routine or ()
    anomalous = {
        name: z_scores[name]
        for name, warm in r.scored
        if warm and ((abs(z_scores[name]) >= z_alert and name not in routine) or name in surprised)
    }
    if len(anomalous) < 2 and (r.off >= 2 or r.wide >= 3):
        anomalous = _together(state, r, config) or anomalous
    if anomalous:
        anomalous = {name: z for name, z in anomalous.items() if not _recovering(state, name, r.clean[name])}
    if not anomalous and _ANOMALY not in state.alerts:
        return
    if not anomalous and _held_elsewhere(state, r, config):
        return
    # The largest |z| of the vitals it is about; with none (a resolution), of the warm
    # values scored now: never a channel still warming up (a custom channel's first
    # values scored 9e14 beside a weight's 297).
    scores = anomalous or {name: z_scores[name] for name, warm in r.scored if warm}
    top = max((abs(z) for z in scores.values()), default=0.0)
    r.evidence[_ANOMALY] = evidence = {
        "score": round(top, 2),
        "vitals": {k: r.clean[k] for k in anomalous},
        "z": {k: round(z, 2) for k, z in anomalous.items()},
        "baseline": {k: round(_normal_now(state, k), 2) for k in anomalous},
    }
    if surprised:
        evidence["surprise"] = {k: round(v, 2) for k, v in surprised.items()}
    if anomalous:
        custom = _custom_only(anomalous)
        severity = _anomaly_severity(r, anomalous, _medium_from(state, config))
        # Two vitals far from this patient's normal at once, each of its own measurement:
        # not one sensor's artifact (an arterial line's diastolic and mean after a flush,
        # 107/142 against 77/99, are one transducer's). A spot measurement far out
        # (medium) is its own confirmation (`_sparse`).
        if _excursion(state, r, anomalous, config):
            r.findings[_ANOMALY] = Finding(_ANOMALY, severity, evidence, hold_ms=config.excursion_ms)
            return
        urgent = (
            len({_SAME_MEASUREMENT.get(name, name) for name in anomalous}) >= 2
            or (custom and bool(surprised))  # a surprise is a mean over several readings: confirmed
            or ((not r.heavy if custom else severity is _MEDIUM) and _sparse(state, list(anomalous)))
        )
        spot = _sparse(state, list(anomalous), r.spaced)
        if _said_by_news2(state, r, _ANOMALY, anomalous, urgent, config):
            return
        r.findings[_ANOMALY] = Finding(_ANOMALY, severity, evidence, urgent=urgent, spot=spot)


def _held_elsewhere(state: PatientState, r: _Reading, config: Config) -> bool:
    """An anomaly open or awaiting confirmation that this reading says
    nothing of, its vitals still far out at their own readings
    (`_far_elsewhere`): it holds (`Finding.stale`), at no more than its
    severity now. A value its own reading told (or, in warm-up or said by
    NEWS2, did not) is no news at a reading without it: an SpO2 of 87
    charted once escalated a low anomaly about a fever at two later rounds
    (an outside tester, PhysioNet 2012)."""
    far = _far_elsewhere(state, r, config)
    if not far:
        return False
    top = max(abs(z) for z in far.values())
    r.evidence[_ANOMALY] = evidence = {
        "score": round(top, 2),
        "vitals": {k: state.latest[k][0] for k in far},
        "z": {k: round(z, 2) for k, z in far.items()},
        "baseline": {k: round(_normal_now(state, k), 2) for k in far},
    }
    severity = _MEDIUM if top >= _medium_from(state, config) and not _custom_only(far) else _LOW
    held = state.alerts[_ANOMALY].severity
    if rank(severity) > rank(held):
        severity = held
    r.findings[_ANOMALY] = Finding(_ANOMALY, severity, evidence, stale=True)
    return True


def _recovering(state: PatientState, name: str, value: Any) -> bool:
    """Is this value on its way back to normal, no anomaly: this patient's
    learned normal outside the band NEWS2 scores 0 (`news2.ZERO_BAND`), and
    the value moved from it towards that band, no deeper into the band than
    the normal is from it? A patient cooled after a cardiac arrest,
    34.2-35.0 C from admission, learned that as his normal, and rewarming to
    36.1 and 36.7 opened `medium` anomalies (z 8.5) while NEWS2 resolved (a
    PhysioNet 2012 stay, an outside tester); a heart rate back from 124 to
    90 opened one too. A move deeper than that is a move of its own, still
    scored: a systolic of 140 at night against a normal of 104; and so is
    one past the band's far edge (a pulse of 45 after a day at 140, which a
    first version took for a recovery: an outside reviewer)."""
    band = news2.ZERO_BAND.get(name)
    if band is None or value.__class__ not in _NUMBERS:
        return False
    low, high = band
    normal, x = _normal_now(state, name), float(value)
    if normal < low:
        return normal < x <= min(high, 2 * low - normal)
    return normal > high and max(low, 2 * high - normal) <= x < normal


def _medium_from(state: PatientState, config: Config) -> float:
    """The |z| from which an anomaly is `medium`: `Config.z_medium`, or,
    while the open anomaly is `medium`, `MEDIUM_HOLD_SD` nearer. Its
    severity settles only once its vitals have been nearer than that for
    the settle's wait (`app.core.alerts._settle`): an anomaly of a systolic
    hovering about 8 SDs out, its noise an SD a reading, settled to `low`
    at each dip and was told `escalated` to `medium` at each rise back, 8
    to 11 times in 5 hours (outside testers). Only the severity holds so:
    the alert resolves as before (holding it open, tried, hid other vitals'
    deteriorations behind it: docs/evaluation.md)."""
    told = state.alerts.get(_ANOMALY)
    if told is not None and told.confirmed and told.severity is _MEDIUM:
        return config.z_medium - MEDIUM_HOLD_SD
    return config.z_medium


def _anomaly_severity(r: _Reading, anomalous: dict[str, float], z_medium: float) -> Severity:
    """`medium` from `z_medium` SDs out (`_medium_from`), but for custom
    channels only (`low` at any distance: `_custom_only`); and for a mean
    arterial pressure fallen under MAP_FLOOR however near (organs not
    perfused, which NEWS2 does not score)."""
    top = max(abs(z) for z in anomalous.values())
    if top >= z_medium and not _custom_only(anomalous):
        return _MEDIUM
    mean_bp = anomalous.get("mean_bp")
    if mean_bp is not None and mean_bp < 0 and OPEN_LINE_MMHG < r.clean["mean_bp"] < MAP_FLOOR:
        return _MEDIUM
    return _LOW


def _far_elsewhere(state: PatientState, r: _Reading, config: Config) -> dict[str, float]:
    """The channels not in this reading whose latest value, at most one
    cadence old (`FRESH_CADENCES` of a sparse channel's: a cuff's reading,
    stamped when it began measuring, arrives after the monitor's of the next
    minute), was `z_alert` SDs or more from the patient's normal (scored
    at its own time; a value that far out was not learned). A patient read by
    several devices (an ECG monitor, an oximeter, a cuff, each its own
    reading) has each vital in every few readings: an anomaly awaiting
    confirmation holds at the others' readings instead of lapsing there, and
    is confirmed by its own vital's next value, as when one monitor sends
    them all; an open one holds there too, instead of resolving between two
    cuff readings and opening again at the next. (The longer age for a
    densely read channel, an oximeter's, held its artifacts pending into
    `ward_devices`' false alerts.)"""
    found: dict[str, float] = {}
    clean, bad, ts, z_alert = r.clean, r.bad, r.ts, config.z_alert
    for name, entry in state.latest.items():
        if name in clean or (bad and name in bad):
            continue
        baseline = state.baselines.get(name)
        value, at, cadence = entry[0], entry[1], entry[2]
        if (
            baseline is None
            or value.__class__ not in _NUMBERS
            or not 0 < ts - at <= (FRESH_CADENCES * cadence if cadence >= SPARSE_MS else cadence)
        ):
            continue
        if not baseline.warm(cadence):
            continue
        z = (value - _normal_at(baseline, at, cadence)) / baseline.sd
        if z >= z_alert or z <= -z_alert:
            found[name] = z
    return found


def _together(state: PatientState, r: _Reading, config: Config) -> dict[str, float]:
    """Charted vitals that left this patient's normal together: two or more
    of the independently measured NEWS2 vitals (`_TOGETHER`), warmed up and
    charted (`_sparse`), each `together_charted_z` SDs or more off in the
    same reading. One vital 3 SDs off is common enough; two at once is
    physiology moving (a sepsis: heart rate and temperature up; a bleed:
    heart rate up, pressure down), the fusion of signals that finds a
    deterioration early without more alarms (../shared/reference/clinical.md).
    Each charted reading is its own confirmation, and the next is an hour
    away; dense monitors are left to the usual `z_alert`.

    Three or more of them each `three_charted_z` SDs (2) or more off in the
    same reading is the same corroboration spread wider: the systemic
    response of a sepsis moves the heart rate, breathing rate and
    temperature (the SIRS criteria, personalised) before any one of them is
    3 SDs out. A value 2 SDs out is in one reading of twenty; three of a
    round's four independent vitals at once, in about one round of 2,600
    (one alert a century of patient-days, were charting noise normal; it
    is heavier-tailed). Empty when neither holds."""
    for limit, least in ((config.together_charted_z, 2), (config.three_charted_z, 3)):
        if limit <= 0:
            continue
        z_scores = r.z
        found = {
            name: z_scores[name]
            for name, warm in r.scored
            if warm and name in _TOGETHER and abs(z_scores[name]) >= limit
        }
        if len(found) >= least and _sparse(state, list(found)):
            return found
    return {}


def _said_by_news2(
    state: PatientState, r: _Reading, kind: Kind, anomalous: dict[str, float], urgent: bool, config: Config
) -> bool:
    """Is this anomaly one vital that the same reading's NEWS2 finding
    already alarms on (it scores 3, and without it the other parameters
    would not trigger: it is what the NEWS2 alert is about), opening no
    later than the anomaly would? Then the anomaly would be a second alert
    about the same value (a breathing rate at 7 is NEWS2's 3 and 6 SDs below
    this patient's normal): one alarm per finding, the safety net's, whose
    band is the clinical severity. An anomaly on a vital NEWS2 does not
    score 3, on two or more vitals, beside a NEWS2 alert held up by other
    parameters (a sedated patient in a band for days), or that would open
    sooner, stands."""
    news = r.findings.get(_NEWS2)
    if not config.one_alarm or news is None or news.hold_ms or (urgent and not news.urgent):
        return False
    told, news_open = state.alerts.get(kind), _NEWS2 in state.alerts
    if told is not None and told.confirmed and (not news_open or kind is _ANOMALY):
        # Open before the safety net saw it; or an anomaly told already: it stands while
        # its value is far out, where a resolution would say the value is back (a medium
        # anomaly at z -11 resolved beside a low NEWS2 alert, the heart rate still 35).
        return False
    if told is not None and not told.confirmed and not news_open and not news.urgent:
        # Awaiting confirmation, the safety net not opening at this reading. Awaiting it
        # while NEWS2 opens at once on the same value, it would be told with it: one alarm
        # (an hourly heart rate of 98, then 143, opened both on an Apple Watch's log).
        return False
    measured = {_SAME_MEASUREMENT.get(name, name) for name in anomalous}
    if len(measured) != 1:
        return False  # two measurements far out together: the anomaly says more than each score
    (name,) = measured
    subscores = r.evidence[_NEWS2]["subscores"]
    if subscores.get(name) == 3 and not _triggers([sub for k, sub in subscores.items() if k != name]):
        return True
    return _told_by_news2(state, r, name, anomalous.get(name), config)


def _told_by_news2(state: PatientState, r: _Reading, name: str, z: float | None, config: Config) -> bool:
    """Has the open NEWS2 alert told this measurement at its worst (its red
    in `OpenAlert.marks`, on the side the anomaly says, when the alert knows
    it), and did NEWS2 score its value before this one too, and this one?
    Then an anomaly about it is the same news: a home cuff's 88/52 opened
    NEWS2, and its re-take a minute later, 92/56 (NEWS2 2), opened an
    anomaly about the same low pressure, both held a day and a half (an
    outside tester). A value back to one NEWS2 scores 0 in between ends it:
    a relapse inside an alert held open for days is news (a bout of atrial
    fibrillation at 145 hours after the last, normal between: a reviewer).
    Spot measurements only (`_sparse`): a monitor's systolic fallen 34 mmHg
    opens its `medium` anomaly beside NEWS2's `low`, as before. And only
    within `SITTING_MS` of NEWS2's last notification: a COPD patient's
    alert open for days at a breathing rate of 26, an SpO2 of 91 told, then
    85-86 two days later, had that anomaly held back 36 hours (an outside
    reviewer)."""
    alert = state.alerts.get(_NEWS2)
    bit = _NEWS2_BIT.get(name)
    if alert is None or not alert.confirmed or bit is None or not alert.marks & bit:
        return False
    if not _sparse(state, [name]):
        return False
    if r.ts - (alert.notified_ms or alert.opened_ms) > SITTING_MS:
        return False  # told before this sitting: a value worse since is news (a reviewer's COPD patient)
    scale2 = _scale2(state, config)
    for value in (r.clean.get(name), r.before.get(name)):
        if value.__class__ not in _NUMBERS or not news2.score({name: value}, scale2).subscores.get(name):
            return False
    sides = alert.marks & (_RED_UNDER_BIT[name] | _RED_OVER_BIT[name])
    if not sides or z is None:
        return True
    return bool(sides & (_RED_UNDER_BIT[name] if z < 0 else _RED_OVER_BIT[name]))


def _triggers(subscores: list[int]) -> bool:
    """Would these NEWS2 parameter scores alone trigger an alert (an
    aggregate of 5 or more, or one parameter scoring 3)?"""
    return sum(subscores) >= 5 or 3 in subscores


def _custom_only(names: dict[str, float]) -> bool:
    """Are these only custom channels (no catalogue entry, no clinical
    meaning, no NEWS2)? A value far out on a sparse one (read every
    `SPARSE_MS` or less often) is its own confirmation at any severity, as
    any anomaly detector's would be: a spike is one reading, and the next is
    a cadence away. Their anomaly is `low` however far out: Vigil knows
    neither what such a channel means nor which way is worse (on a real
    wearable's log, a very good night's HRV was `medium` by its z-score,
    while the illness a week later, told by the heart rate, was `low`)."""
    return all(name not in CATALOGUE for name in names)


def _excursion(state: PatientState, r: _Reading, anomalous: dict[str, float], config: Config) -> bool:
    """Is this, so far, an arousal (waking, moving, coughing, pain): densely
    read vitals risen above this patient's normal as sympathetic activation
    raises them (`_AROUSAL`: heart and breathing rate, pressure; up, not
    down), with the heart and breathing rate moving together (both at least
    `together_z` SDs up; the breathing rate's noisy count, or its smoothed
    level, `_breathing_level_up`)? Such an excursion usually passes within minutes: it
    opens only once it has held for `excursion_ms`. What is dangerous is the
    safety net's (NEWS2 opens on its own terms, unchanged); a fall
    (bradycardia, desaturation, hypotension) or a heart rate racing on its
    own (an arrhythmia) opens as before."""
    if config.excursion_ms <= 0:
        return False
    latest, together = state.latest, config.together_z
    if _up(state, r, "heart_rate") < together:
        return False
    if _up(state, r, "respiratory_rate") < together and not _breathing_level_up(state, r.ts, config):
        return False
    for name, zn in anomalous.items():
        if zn < 0 or name not in _AROUSAL or latest[name][2] >= SPARSE_MS:
            return False
    return True


def _breathing_level_up(state: PatientState, ts: int, config: Config) -> bool:
    """Is the breathing rate's smoothed level (`Baseline.track`), densely
    read, `together_z` SDs above this patient's normal? A minute's count of
    breaths is the noisiest vital (impedance, one count a minute): during an
    arousal it dips under `together_z` for a reading while its level still
    stands well up with the heart's. A tachycardia (an arrhythmia) leaves the
    breathing, and so its level, where it was."""
    if not config.breathing_level:
        return False
    entry, baseline = state.latest.get("respiratory_rate"), state.baselines.get("respiratory_rate")
    if entry is None or baseline is None or not 0 < entry[2] < SPARSE_MS or baseline.sd <= 0:
        return False
    return (baseline.level - _normal_at(baseline, ts, entry[2])) / baseline.sd >= config.together_z


def _up(state: PatientState, r: _Reading, name: str) -> float:
    """How far (SDs) this vital is above its normal: its z-score now, or its
    latest value's when this reading's was held back or did not carry it."""
    z = r.z.get(name)
    if z is not None:
        return z
    baseline, entry = state.baselines.get(name), state.latest.get(name)
    if baseline is None or entry is None or entry[0].__class__ not in _NUMBERS:
        return 0.0
    return float((entry[0] - _normal_at(baseline, entry[1], entry[2])) / baseline.sd)


def _trend(state: PatientState, r: _Reading, config: Config) -> None:
    """Predictive: a vital that has left this patient's normal and, at its
    current pace, reaches a dangerous range within the horizon. Once it is
    there, NEWS2 and the anomaly score carry on; while either is already
    alarming, the trend adds no alert of its own."""
    heading = _heading(state, r.near, r.ts, config) if r.near and not _alarming(state) else {}
    if not heading and _TREND not in state.alerts:
        return
    if not heading and not state.alerts[_TREND].confirmed:
        near = _near_elsewhere(state, r, config)
        heading = _heading(state, near, r.ts, config) if near and not _alarming(state) else {}
        if heading:  # awaiting confirmation, and this reading says nothing of it (`Finding.stale`)
            horizon = max([config.trend_horizon_ms / 60_000] + [h.pop("_horizon") for h in heading.values()])
            r.evidence[_TREND] = evidence = {"horizon_min": horizon, "vitals": heading}
            r.findings[_TREND] = Finding(_TREND, _LOW, evidence, stale=True)
            return
    horizon = max([config.trend_horizon_ms / 60_000] + [h.pop("_horizon") for h in heading.values()])
    r.evidence[_TREND] = evidence = {"horizon_min": horizon, "vitals": heading}
    if heading:
        # A steep climb of an arousal's vitals, together, is waited out as the
        # anomaly waits it out (`_excursion`).
        rising = {name: h["slope_per_min"] for name, h in heading.items()}
        hold = config.excursion_ms if _excursion(state, r, rising, config) or _breathing_alone(rising) else 0
        if not hold and _heart_alone(state, r, rising, config):
            hold = config.heart_alone_ms
        if not hold and _heading_together(state, rising, config):
            hold = config.excursion_ms
        if not hold and _said_by_news2(state, r, _TREND, rising, False, config):
            return  # the value is there already, and the safety net says so (one alarm)
        if not hold and _said_by_anomaly(state, r, rising, config):
            return  # the anomaly about the same vitals opens at this reading (one alarm)
        r.findings[_TREND] = Finding(_TREND, _LOW, evidence, hold_ms=hold)


def _said_by_anomaly(state: PatientState, r: _Reading, heading: dict[str, Any], config: Config) -> bool:
    """Does the anomaly this reading found, about every vital of this trend
    (`heading`: those vitals, a heading's or a level shift's),
    open at this reading (`app.core.alerts.opens_now`)? Then the trend
    would be a second alert about the same values at the same moment: one
    alarm per finding. While the anomaly is open the trend adds nothing (`_alarming`);
    a trend that opens a reading or more before the anomaly still opens (it
    is the earlier word), and one whose anomaly waits longer (an arousal's
    hold) or lapses is left as it is."""
    found, trend = r.findings.get(_ANOMALY), state.alerts.get(_TREND)
    if found is None or found.hold_ms or (trend is not None and trend.confirmed):
        return False  # no anomaly opening here, or the trend is open already: it holds as before
    pending = state.alerts.get(_ANOMALY)
    if pending is not None and pending.confirmed:
        return False
    far = found.evidence.get("z", {})
    if not all(name in far for name in heading):
        return False
    return opens_now(pending, found, r.ts, config.confirm_ms, _patient_cadence(state, r.ts))


def _near_elsewhere(state: PatientState, r: _Reading, config: Config) -> list[str]:
    """The vitals with a dangerous range not in this reading whose trend, at
    their latest value at most one cadence old, heads there (`_heading_for`):
    a trend awaiting confirmation holds at another device's reading
    (`_far_elsewhere`)."""
    near = []
    latest, clean, ts = state.latest, r.clean, r.ts
    for name in DANGER:
        entry = latest.get(name)
        if entry is None or name in clean or (r.bad and name in r.bad) or not 0 < ts - entry[1] <= entry[2]:
            continue
        baseline = state.baselines.get(name)
        if baseline is not None and baseline.slope and _heading_for(state, name, baseline, entry[2], config):
            near.append(name)
    return near


def _heart_alone(state: PatientState, r: _Reading, rising: dict[str, float], config: Config) -> bool:
    """Is only the heart rate up, densely read, with nothing else moving (the
    breathing rate, SpO2 and pressure each under `together_z` SDs from this
    patient's normal)? Sinus tachycardia from waking, moving or pain, with
    the breathing not yet following, passes within minutes: its `trend`
    waits `heart_alone_ms`. A heart that keeps climbing opens once the wait
    is over, and the anomaly (a heart far out now) still opens as before: a
    wait on it cost a median 0.6-1.2 minutes on tachycardias. A falling
    heart rate, or one rising with another vital, counts as before."""
    if config.heart_alone_ms <= 0 or len(rising) != 1 or rising.get("heart_rate", 0.0) <= 0:
        return False
    entry = state.latest.get("heart_rate")
    if entry is None or not 0 < entry[2] < SPARSE_MS:
        return False
    together = config.together_z
    return all(abs(_up(state, r, name)) < together for name in _STILL)


def _heading_together(state: PatientState, rising: dict[str, float], config: Config) -> bool:
    """Are the heart and breathing rate both heading up (their trends, not
    this reading's values), with nothing but an arousal's vitals
    (`_AROUSAL`) in the trend and nothing heading down, all densely read? An
    arousal's breathing rate is a noisy count that dips below `together_z`
    from one minute to the next while its trend still climbs with the
    heart's: the trend is waited out for `excursion_ms` as `_excursion`
    waits out the values. A fall in any vital, a spot measurement, or the
    anomaly and NEWS2 (unchanged) open as before."""
    if not config.trend_together or config.excursion_ms <= 0:
        return False
    if "heart_rate" not in rising or "respiratory_rate" not in rising:
        return False
    latest = state.latest
    return all(
        slope > 0 and name in _AROUSAL and latest[name][2] < SPARSE_MS for name, slope in rising.items()
    )


def _breathing_alone(rising: dict[str, float]) -> bool:
    """Is only the breathing rate heading up? Breathing is the vital most
    moved by behaviour (talking, moving, coughing, anxiety) and a minute's
    count is the noisiest: a climb of it alone is waited out as an
    arousal's (`excursion_ms`). A falling rate, or one climbing with another
    vital, counts as before."""
    return len(rising) == 1 and rising.get("respiratory_rate", 0.0) > 0


def _shift(state: PatientState, r: _Reading, config: Config) -> None:
    """A slowly read channel whose level-shift CUSUM (`_watch_shift`) has
    reached `shift_h` SDs: a sustained move in its deteriorating direction
    (a heart-failure patient's weight gain, a hypertensive drift), reported
    as a `trend` at once (each reading of such a channel is a spot
    measurement, and the sum already spans two readings or more), with the
    change and the time it has taken, once its run spans `SHIFT_SPAN_MS`:
    readings closer together are one occasion (a home cuff re-taken an hour
    after a hand-gripper exercise, its pulse still up, opened one on a public
    log). It holds while the sum stays there. A heart rate alone needs
    `shift_pulse_alone` times the evidence: a healthy person's home pulse,
    twice a day, opened 1.8 level-shift trends a month on a public log (its
    successive residuals' correlation 0.3, the pressures' 0.02; on another
    log 0.51 against 0.30-0.43), as much evidence as two channels together
    need (`_shift_together`, where it still counts from `shift_h`). While
    NEWS2 or an anomaly is open it opens nothing, as every trend (a resting
    heart rate of 107, then 105 the next morning on a wearable's log: a
    medium anomaly, then a `trend` beside it a day later), nor when an anomaly
    about the same vitals opens at this reading (`_said_by_anomaly`: a home
    pulse of 73 against 58 opened both at once on an Omron log). A shift
    that outlasts them opens it then, unless the anomaly was about it: its
    run ends there, told (it opened a day later on the Omron log, at a
    pulse of 60, and seven months later on another log, at 69). A shift
    holds only while its channel's latest value is on the shifted side of
    the forecast: a weight that rose 1.3 kg in three days and fell back was
    reminded of at 85.41, 0.19 under its baseline, while the sum still
    stood over the threshold (a public scale log). Nor once its channel has
    gone unread for `SHIFT_STALE_CADENCES` of its cadence and `SHIFT_STALE_MS`: a scale no longer
    used kept a weight's trend reminding every two days with its last
    weighing (an outside tester's finding), and a home cuff's trend opened
    on one systolic of 142 was reminded of for a year of pulse-only readings
    (a public log)."""
    h, latest, since = config.shift_h, state.latest, r.ts - SHIFT_SPAN_MS
    pulse_h = config.shift_pulse_alone * h
    shifted: dict[str, dict[str, Any]] = {}
    for name, entry in state.shifts.items():
        s = entry[0]
        if -h < s < h or entry[1] > since or not _still_shifted(state, name, entry, r.ts):
            continue  # not there, begun too lately to be more than one occasion, or no longer
        if name == "heart_rate" and -pulse_h < s < pulse_h:
            continue  # a pulse alone: not yet
        shifted[name] = _shifted(entry, latest[name][0], r.ts)
    if config.shift_together > 0 and len(state.shifts) >= 2:
        _shift_together(state, r, shifted, config)
    if not shifted:
        return
    trend = state.alerts.get(_TREND)
    opening = trend is None or not trend.confirmed
    if opening:
        said = _said_by_anomaly(state, r, shifted, config)
        if said or _alarming(state):  # as every trend: nothing while NEWS2 or an anomaly is open, or opens
            _end_told_shifts(state, r, shifted, said)
            return
    _tell_trend(r, config, shifted, _shift_marks(shifted, opening))


def _shift_marks(shifted: dict[str, dict[str, Any]], opening: bool) -> int:
    """The marks of these shifts (`_shift_bit`): all of them as the `trend`
    opens; once it is open, only a shift that stands on its own (`shift_h`,
    over `SHIFT_SPAN_MS`) is news, not one reported beside it for moving
    with the others (`together`: a single reading's run, a pulse of 79
    against 72, was told as "newly" shifted; an outside reviewer)."""
    marks = 0
    for name, each in shifted.items():
        if opening or "together" not in each:
            marks |= _shift_bit(name)
    return marks


def _shift_bit(name: str) -> int:
    """A channel's level-shift mark in a `trend` (`_SHIFT_BIT`): one per
    measurement (`_SAME_MEASUREMENT`): a diastolic shifting beside the
    systolic is the same cuff, no news."""
    return _SHIFT_BIT.get(_SAME_MEASUREMENT.get(name, name), _CUSTOM_SHIFT_BIT)


def _tell_trend(
    r: _Reading, config: Config, found: dict[str, dict[str, Any]], marks: int = 0, severity: Severity = _LOW
) -> None:
    """Add what a rule found (per vital, its evidence) to this reading's
    `trend` finding, which opens at once (`urgent`): the level-shift watch,
    the weight and pressure rules and the drifts together each add theirs,
    a vital's evidence from several merged, and their `marks` (what is news
    when newly found in an open `trend`), at the highest `severity` of them
    (`low`; a mean under its floor, `medium`)."""
    evidence = r.evidence.get(_TREND)
    if evidence is None:
        evidence = r.evidence[_TREND] = {"horizon_min": config.trend_horizon_ms / 60_000, "vitals": {}}
    vitals = evidence["vitals"]
    for name, each in found.items():
        vitals[name] = {**vitals.get(name, {}), **each}
    before = r.findings.get(_TREND)
    if before is not None:
        marks |= before.marks
        severity = max(severity, before.severity, key=rank)
    r.findings[_TREND] = Finding(_TREND, severity, evidence, urgent=True, marks=marks, spot=True)


def _weigh(state: PatientState, r: _Reading) -> None:
    """Note a weighing for the heart-failure rule (`WEIGHT_GAIN_KG` in
    `WEIGHT_GAIN_MS`; `_weight_gain` tells it): does it stand that far
    above the lowest of the three days before it? It counts once the
    weighings meeting it have done so for `SHIFT_SPAN_MS` on end: one
    occasion (a weighing in clothes and shoes over a weekend's meals, a
    re-take a minute later) is no gain, two mornings in a row or a scale
    read hourly for three hours are. Each weighing's low is the higher of
    it and the last weighing of the occasion before: one light occasion (a
    household member, the clothes left off, a weighing the scale saved
    twice seconds apart: a real Renpho log) is no low to gain over. What the learned normal
    cannot see, the rule does: after a loss of 10 kg on diuretics and a
    plateau, a regain of 4 kg in five days told nothing, the learned
    spread (3.2 kg) having taken the loss in (a public scale log,
    docs/evaluation.md). Only the channel's newest value counts (a late
    weighing is history), and only a clean one in kilograms (pounds are
    refused, `_other_unit`). The same weight to the last digit again, hours
    later within `WEIGHT_COPY_MS`, is a copy, not a second occasion: an Apple
    Health export writes each day's weighing at midnight and when it was
    taken, and one light day's copy made it a low, the next day a gain (an
    outside reviewer, 2026-12-06). A real weighing that happens to repeat
    the last waits for the next to count."""
    entry = state.latest.get("weight")
    weight = r.clean["weight"]
    if entry is None or entry[1] != r.ts or weight.__class__ not in _NUMBERS or "weight" in r.bad:
        return
    x, ts, gain = float(weight), r.ts, state.gain
    if not gain:
        t = float(ts)  # floats, all of them: the same bytes from the compiled core
        gain[:] = [0.0, t, t, x, t, x, t, x]
        return
    if ts <= gain[2]:
        return  # the same weighing again (a re-take at the same time): the first stands
    if x == gain[3] and SHIFT_SPAN_MS <= ts - gain[2] < WEIGHT_COPY_MS:
        gain[2] = float(ts)  # the same weight again hours later, within the day: a copy (an export's),
        return  # the latest weighing as it was, and no new occasion
    lows = [(gain[at], gain[at + 1]) for at in range(6, len(gain), 2) if gain[at] >= ts - WEIGHT_GAIN_MS]
    met, since = 0, ts  # 1: this weighing meets the rule; 2: weighings meeting it since `since` count
    if lows and round(x - lows[0][1], 2) >= WEIGHT_GAIN_KG:
        if gain[0]:
            since = int(gain[1])  # the run of weighings meeting it goes on
        met = 2 if ts - since >= SHIFT_SPAN_MS else 1  # a run within SHIFT_SPAN_MS is one occasion
    # The low kept is the higher of this weighing and the last of the occasion before (within the
    # three days): one occasion lighter than the rest (another member of the household, the clothes
    # left off; a scale that saves a weighing twice, seconds apart) is no low to gain over; two in a
    # row are. An occasion: weighings within SHIFT_SPAN_MS of its first.
    if ts - gain[4] < SHIFT_SPAN_MS:
        began, before = gain[4], gain[5]
    else:
        began, before = float(ts), (gain[3] if gain[2] >= ts - WEIGHT_GAIN_MS else x)
    robust = max(x, before)
    while lows and lows[-1][1] >= robust:
        lows.pop()  # no longer the lowest of any window to come
    lows.append((ts, robust))
    if len(lows) > WEIGHT_LOWS:  # a scale read more often than daily, rising: the one before goes
        del lows[-2]
    if gain[0] == 2 and met != 2:
        _gain_ended(state)
    gain[:] = [float(met), float(since), float(ts), x, began, before]
    for low_ts, low in lows:
        gain += [float(low_ts), low]


def _gain_ended(state: PatientState) -> None:
    """A counted weight gain ends (`_weigh`): the next is news again in a
    `trend` still open (its mark re-armed, `_GAIN_BIT`)."""
    told = state.alerts.get(_TREND)
    if told is not None:
        told.marks &= ~_GAIN_BIT


def _weight_gain(state: PatientState, r: _Reading, config: Config) -> None:
    """A `trend` for the heart-failure rule while the latest weighing is a
    gain it counts (`_weigh`) and the scale is still in use (read within
    `SHIFT_STALE_CADENCES` of its cadence or `SHIFT_STALE_MS`, as a level
    shift). As every trend, nothing opens while NEWS2 or an anomaly is open.
    Evidence for the weight: its `level`, the `gain` in kg over the
    `lowest` weighing of the three days before and when that was
    (`lowest_at`)."""
    gain, entry = state.gain, state.latest.get("weight")
    if entry is None or entry[1] != gain[2] or len(gain) < 8:
        return
    stale = max(SHIFT_STALE_CADENCES * entry[2], SHIFT_STALE_MS)
    if r.ts - entry[1] > stale:
        return
    trend = state.alerts.get(_TREND)
    if (trend is None or not trend.confirmed) and _alarming(state):
        return
    lows = [(gain[at], gain[at + 1]) for at in range(6, len(gain), 2) if gain[at] >= gain[2] - WEIGHT_GAIN_MS]
    if not lows:
        return
    low_ts, low = lows[0]
    gained = round(gain[3] - low, 2)
    if gained < WEIGHT_GAIN_KG:
        # The window has moved past the low the rule was met over (a copy of the weighing,
        # hours later, moves it without weighing again): the schema's `gain` is 2 kg or more,
        # and a property test found a `trend` telling 0.0.
        return
    found = {"level": entry[0], "gain": gained, "lowest": low, "lowest_at": iso(int(low_ts))}
    _tell_trend(r, config, {"weight": found}, _GAIN_BIT)


def _pressure(state: PatientState, r: _Reading) -> None:
    """Note a blood pressure for the severe pressure rule (`SEVERE_PRESSURE`;
    `_severe_pressure` tells it): per pressure, the run of its newest values
    at or above its limit, [when it began, its latest's event time and value]
    (`PatientState.severe`). A value under the limit ends its run, on a
    channel read every `SPARSE_MS` or more often (a monitor's, an arterial
    line's) only once its recent level (`Baseline.recent`) is under it too:
    a line read every second at 188 +- 4 dips under 180 with each breath,
    and no run of single values lasted five minutes (an outside reviewer).
    A late value (not its channel's newest), an artifact or a value held
    back for bad signal leaves it as it is. The guideline's limit is "180
    and/or 120": a value under its limit ends nothing while the reading's
    other pressure stands at its own (187/109, re-taken 170/122: both
    readings severe, and the two runs are one, `_severe_pressure`; an
    outside tester's real cuff log)."""
    severe = state.severe
    clean = r.clean
    had = bool(severe)
    for name, limit in SEVERE_PRESSURE.items():
        value = clean.get(name)
        if value is None or value.__class__ not in _NUMBERS or name in r.bad:
            continue
        entry = state.latest.get(name)
        if entry is None or entry[1] != r.ts:
            continue  # a late value is history
        run = severe.get(name)
        if value < limit and run is not None and _other_severe(clean, name, r.bad):
            continue  # the reading is severe by its other pressure
        if value >= limit:
            if run is None:
                if not severe:
                    _severe_again(state, r.ts)
                t = float(r.ts)  # floats, all of them: the same bytes from the compiled core
                severe[name] = [t, t, float(value)]
            elif r.ts > run[1]:
                run[1], run[2] = float(r.ts), float(value)
        elif run is not None:
            baseline = state.baselines.get(name)
            if entry[2] < SPARSE_MS and baseline is not None and baseline.recent >= limit:
                if r.ts > run[1]:
                    run[1], run[2] = float(r.ts), round(baseline.recent, 1)  # the level the run stands at
            else:
                del severe[name]
    if had and not severe:
        state.severe_ended = r.ts
    if "mean_bp" in clean:
        _mean_under_floor(state, r)


def _severe_again(state: PatientState, ts: int) -> None:
    """A severe pressure's run begins: one a day or more after the last run
    ended is news again inside a `trend` still open (its mark re-armed,
    `_SEVERE_BIT`): told once an episode, a relapse after days back under
    the limit inside a weight's trend open for weeks was told by nothing (an
    outside reviewer). A run ended by one re-take under the limit is not."""
    ended = state.severe_ended
    if ended and ts - ended >= SEVERE_REARM_MS:
        told = state.alerts.get(_TREND)
        if told is not None:
            told.marks &= ~_SEVERE_BIT
    state.severe_ended = 0


def _mean_under_floor(state: PatientState, r: _Reading) -> None:
    """Note the arterial line's mean for the floor (`MAP_FLOOR`; `_low_mean`
    tells it): the run of its values under it, [when it began, its latest
    low value's event time and value, when the mean came back to the floor
    or over (0: it has not)] (`PatientState.low_mean`). The run ends once
    the mean has stood at the floor or over for `SEVERE_RETAKE_MS` (a
    value there five minutes after the first back there), or one value back
    there stood `MAP_BACK_MS` (the next value, low, came that long after
    it): charted means of 60, 93 and 58, eight and five hours apart, made
    one run "since" the 60, and a `trend` opened at the 58 (an outside
    tester's MIMIC-IV stay); hourly means of 62, 66, 62 are one run. A
    line read every second at 63 +- 3 crosses 65 for a few seconds again and
    again, and an outside reviewer's opened and resolved 11 times in 12
    hours when one value (a five-second level) ended it. A run whose last
    low value is older than `_low_mean_stale` (a line taken out) is over: the next low
    value begins a new one. "No signal" (`OPEN_LINE_MMHG` or under), an
    artifact or a value held back for bad signal leaves it as it is."""
    value = r.clean["mean_bp"]
    entry = state.latest.get("mean_bp")
    if value.__class__ not in _NUMBERS or "mean_bp" in r.bad or entry is None or entry[1] != r.ts:
        return
    if value <= OPEN_LINE_MMHG:
        return
    run, t = state.low_mean, float(r.ts)
    if run and (t - run[1] > _low_mean_stale(entry[2]) or (run[3] and t - run[3] >= MAP_BACK_MS)):
        run.clear()
    if value < MAP_FLOOR:
        if not run:
            run.extend((t, t, float(value), 0.0))
        elif t > run[1]:
            run[1], run[2], run[3] = t, float(value), 0.0
    elif run:
        if not run[3]:
            run[3] = t
        elif t - run[3] >= SEVERE_RETAKE_MS:
            run.clear()


def _mean_low_now(state: PatientState, ts: int) -> bool:
    """Is the line's latest mean under its floor (`_mean_under_floor`), and
    not stale? No reading then resolves a `trend`
    (`_lifecycle`'s `waits`): its run over (means of 65, 67 and 65 for two
    and a half hours, charted), the alert resolved at the next round's 58
    and opened again at 56 a quarter of an hour later, a patient still
    hypotensive told as recovered (a real PhysioNet 2012 stay, an outside
    tester); and at a heart rate charted apart 5 minutes after the 58, or
    an oximeter's SpO2 between a line's values (a second reviewer). Its
    wait goes on: on a line read every minute, an isolated 63 every few
    minutes does not hold it open."""
    run, entry = state.low_mean, state.latest.get("mean_bp")
    if not run or entry is None or run[1] != entry[1]:
        return False
    return ts - run[1] <= _low_mean_stale(entry[2])


def _severe_now(state: PatientState, trend: OpenAlert, ts: int) -> bool:
    """Is a pressure's newest value at or above its severe limit
    (`SEVERE_PRESSURE`: its run in `PatientState.severe` holds it), and not
    stale, while the open `trend` has told a severe pressure (`_SEVERE_BIT`)?
    No reading then resolves it (`_lifecycle`'s `waits`), as for a mean
    under its floor (`_mean_low_now`): a line's severe run ended at 179, the
    alert resolved at the next 208, a run begun but not yet confirmed, and
    opened again at 197 ten minutes later under a new id (a real PhysioNet
    2012 stay, an outside tester). A trend about another vital is not held
    by a pressure (a reviewer's SpO2 trend held four days by one cuff
    reading of 183)."""
    if not state.severe or not trend.marks & _SEVERE_BIT:
        return False
    for name, run in state.severe.items():
        entry = state.latest.get(name)
        if entry is not None and run[1] == entry[1] and _in_use(entry, run[1], ts):
            return True
    return False


def _in_use(entry: list[Any] | None, last: float, ts: int) -> bool:
    """Was a channel (`entry`: its latest value, time, cadence) last read,
    at `last`, within `SHIFT_STALE_CADENCES` of its cadences or
    `SHIFT_STALE_MS` of `ts`: still in use, as a level shift holds?"""
    cadence = entry[2] if entry is not None else 0
    return ts - last <= max(SHIFT_STALE_CADENCES * cadence, SHIFT_STALE_MS)


def _low_mean_stale(cadence: float) -> float:
    """How long after its last low value a run of the mean under its floor
    is over: three of the line's cadences, and at least ten minutes (a line
    zeroed or flushed for a minute is still the same run; one taken out
    kept a `medium` alert open four days, an outside reviewer)."""
    return max(SHIFT_STALE_CADENCES * cadence, 10 * 60_000)


def _low_mean(state: PatientState, r: _Reading, config: Config) -> None:
    """A `trend`, `medium`, while the arterial line's mean has stood under
    `MAP_FLOOR` for `SEVERE_RETAKE_MS` or more (two values five minutes or
    more apart, no five minutes at the floor or over between), whatever was
    learned: the Surviving Sepsis Campaign's target in shock, which NEWS2
    does not score. A mean that fell slowly was learned under 65 (2-3 mmHg
    an hour, charted hourly: nothing told on 12 of 12 runs of an outside
    reviewer's), and a monitor's fall from 80 to 55 in an hour adopted 70
    and followed it down. It holds while the run does (`_mean_under_floor`)
    and resolves once it is over. Before it opens, an alert that tells it
    already tells it instead: NEWS2 scoring the systolic red at `medium` or
    over (its evidence carries the mean; a `low` one, the systolic alone
    red, told a real MIMIC-II stay's 10 minutes at a mean of 60-64 at low,
    an outside tester), an anomaly at this reading with the mean itself
    `z_alert` out; once open, it holds whatever else is told (a reviewer's
    opened and resolved around NEWS2's readings while the mean stood at 60).
    Nor once the mean is back at the floor or over (the run ending): a
    charted stay's 62 and 64 told by NEWS2 (high, the systolic red) had the
    `trend` open at the next round, an hour later, the mean back at 76,
    naming the 64 (PhysioNet 2012 set-a 132547, an outside tester).
    Evidence: the run's latest low `level`, the `limit` and when it began
    (`severe_since`)."""
    since, last, value, back = state.low_mean
    entry = state.latest.get("mean_bp")
    if last - since < SEVERE_RETAKE_MS or entry is None or r.ts - last > _low_mean_stale(entry[2]):
        return
    told = state.alerts.get(_TREND)
    if told is None or not told.confirmed:
        if back:
            return  # back at the floor or over since its last low value: a run ending is no news
        anomaly = r.findings.get(_ANOMALY)
        if anomaly is not None and abs(anomaly.evidence.get("z", {}).get("mean_bp", 0.0)) >= config.z_alert:
            return
        if _news2_tells_pressure(state, r):
            return
    level = int(value) if value == int(value) else value
    found = {"mean_bp": {"level": level, "limit": int(MAP_FLOOR), "severe_since": iso(int(since))}}
    _tell_trend(r, config, found, severity=_MEDIUM)


# The marks of an open NEWS2 alert that told a low pressure (`_news2_tells_pressure`): the
# systolic red, past 80, or with the mean under MAP_FLOOR.
_TOLD_PRESSURE = (
    _NEWS2_BIT["systolic_bp"]
    | sum(bit for name, _, _, _, bit in _BEYOND_RED if name == "systolic_bp")
    | _SHOCK_BIT
)


def _news2_tells_pressure(state: PatientState, r: _Reading) -> bool:
    """Does NEWS2 tell the low pressure (its evidence carries the mean), so
    that the mean's `trend` would be a second alarm for it? This reading's
    finding at `medium` or over with the systolic red; or an alert open,
    confirmed at `medium` or over (as told), while this reading's NEWS2
    scores the systolic 2 or more (100 or under): a charted NEWS2 alert
    opened at a systolic of 86 and a mean of 58, and the `trend` opened
    beside it at the next round's 92 and 62, as the patient recovered, or at
    its escalation on a systolic of 78, its score 4 (the finding `low`, the
    alert told at `medium`): 6 of 11 PhysioNet 2012 stays (an outside
    tester). Only an alert that told the pressure (`_TOLD_PRESSURE` in its
    marks): one open 41 hours for the level of consciousness and the
    ventilator, which told nothing of it, held back means of 58 and 56 an
    hour, and 60 and 57 two (a second tester, PhysioNet 2012 stay 133227)."""
    news = r.findings.get(_NEWS2)
    if news is not None and news.severity is not _LOW and news.evidence["subscores"].get("systolic_bp") == 3:
        return True
    told = state.alerts.get(_NEWS2)
    scored = r.evidence.get(_NEWS2)
    if told is None or not told.confirmed or told.severity is _LOW or scored is None:
        return False
    if not told.marks & _TOLD_PRESSURE:
        return False  # open for something else: the low mean is news
    systolic: int = scored["subscores"].get("systolic_bp", 0)
    return systolic >= 2


def _other_severe(clean: dict[str, Any], name: str, bad: Any) -> bool:
    """Does this reading's other pressure than `name` stand at its severe limit?"""
    for other, limit in SEVERE_PRESSURE.items():
        value = clean.get(other)
        if other != name and value is not None and value.__class__ in _NUMBERS and other not in bad:
            if value >= limit:
                return True
    return False


def _severe_pressure(state: PatientState, r: _Reading, config: Config) -> None:
    """A `trend` while a pressure's newest values have stood at or above its
    severe limit (`SEVERE_PRESSURE`) for `SEVERE_RETAKE_MS` or more: two
    readings at least five minutes apart and none under it between (the
    evening's reading after the morning's, a re-take five minutes after the
    first; five minutes of a monitor's, its recent level at the limit),
    whatever was learned: a patient who lives at 175 has a normal that
    takes 185 in its stride, and one who arrived at 190 has learned 190.
    One reading alone is no finding (a cuff's error, a patient just in from
    the stairs). It holds while the run does and the cuff is in use (read
    within `SHIFT_STALE_CADENCES` of its cadence or `SHIFT_STALE_MS`, as a
    level shift), and resolves once a value comes under the limit or the
    cuff has gone unused that long. An alert that tells the pressure
    already (this reading's anomaly with the pressure alone `z_alert` out;
    NEWS2 scoring it: a systolic of 220 or more) tells it instead; one about
    other vitals does not: an
    anomaly of a heart rate of 118 (a new atrial fibrillation) kept a
    confirmed 188/106 untold for 8 days (an outside reviewer). Nor does one
    still awaiting its confirmation (`_anomaly_told_now`): 187/95 re-taken
    170/122, the diastolic's anomaly awaiting the next reading, which
    lapsed it at 150/85, was told by nothing (an outside tester). Evidence per
    pressure: the run's latest `level`, the `limit` and when the run began
    (`severe_since`): the two pressures' runs are one (`_pressure`), begun
    with the earlier. Newly confirmed while a `trend` is open (a level
    shift of the same pressure told the first reading), it is told as an
    escalation (`_SEVERE_BIT`): the re-take confirming 180 or more was
    told by nothing (an outside tester)."""
    anomaly, news = r.findings.get(_ANOMALY), r.findings.get(_NEWS2)
    if anomaly is not None and not _anomaly_told_now(state, r, anomaly, config):
        anomaly = None  # awaiting its confirmation, which the next re-take may lapse: not told yet
    current: dict[str, tuple[float, float, float]] = {}
    for name, (since, last, value) in state.severe.items():
        if anomaly is not None and abs(anomaly.evidence.get("z", {}).get(name, 0.0)) >= config.z_alert:
            continue  # the anomaly tells it: the pressure alone is as far out as an anomaly opens at
        if news is not None and news.evidence["subscores"].get(name):
            continue  # NEWS2 scores it
        if _in_use(state.latest.get(name), last, r.ts):
            current[name] = (since, last, value)
    if not current:
        return
    since = min(run[0] for run in current.values())
    if max(run[1] for run in current.values()) - since < SEVERE_RETAKE_MS:
        return
    found = {}
    for name, (_, _, value) in current.items():
        level = int(value) if value == int(value) else value
        found[name] = {"level": level, "limit": int(SEVERE_PRESSURE[name]), "severe_since": iso(int(since))}
    _tell_trend(r, config, found, _SEVERE_BIT)


def _anomaly_told_now(state: PatientState, r: _Reading, anomaly: Finding, config: Config) -> bool:
    """Is this reading's anomaly told: its alert open already, or opening
    now (`app.core.alerts.opens_now`), not awaiting a confirmation that a
    later reading may lapse?"""
    told = state.alerts.get(_ANOMALY)
    if told is not None and told.confirmed:
        return True
    return opens_now(told, anomaly, r.ts, config.confirm_ms, _patient_cadence(state, r.ts))


def _end_told_shifts(state: PatientState, r: _Reading, shifted: dict[str, Any], said: bool) -> None:
    """A shift that this reading's anomaly tells as it opens (`said`), or an
    open anomaly tells again, is told: its run ends here. Not one only
    awaiting confirmation, which may lapse: the shift's onset would be lost
    from the trend that follows."""
    anomaly, told = r.findings.get(_ANOMALY), state.alerts.get(_ANOMALY)
    if anomaly is None or not (said or (told is not None and told.confirmed)):
        return
    for name in anomaly.evidence.get("z", ()):
        if name in shifted:
            del state.shifts[name]


def _drifting_together(state: PatientState, r: _Reading, config: Config) -> None:
    """Several vitals whose normal drifted in a deterioration's direction
    (`_DETERIORATES`) within `drift_together_ms` of one another: at least
    `drift_together` of them (3), a `trend` opens at once and holds while they
    stay within the window. Each drift is the drift detector's finding (a
    level held for about 7 minutes of event time, at any cadence), and one
    alone is adopted as the patient's new normal whenever NEWS2 does not yet
    score it, so a slow deterioration (sepsis: the heart and breathing rate
    and the temperature rising, the pressure falling, over hours) used to be
    learned vital by vital as normal until NEWS2 scored it. Three, not two:
    the heart rate and the temperature rise together every afternoon (the
    circadian rhythm), and an arousal moves the heart and breathing rate with
    the pressure up, not down. While NEWS2 or an anomaly is alarming this adds
    no alert of its own, as `_trend` does not; it opens on the reading of a
    drift, so once its alert has resolved (NEWS2 took over) the same drifts
    do not open it again.

    Nor does a drift count towards opening it once its vital's latest value
    is back: nearer
    the mean it drifted from than the level it drifted to, and more than
    `RECENT_CLIP` SDs from that level (`_drifted_back`). A drift held as
    unsafe never moved the normal, so the values' return is no drift back
    to remove it: two hours at a heart rate of 130, SpO2 92 and a breathing
    rate of 26 (NEWS2 high, the three drifts held) then back to normal, a
    systolic pressure easing 10 mmHg after the recovery drifted and opened a
    `trend` naming the episode's three drifts beside it. Once open, it holds
    on its drifts as before."""
    drifting, window = state.drifting, config.drift_together_ms
    for name in [name for name, entry in drifting.items() if r.ts - entry[0] > window]:
        del drifting[name]
    if not config.drift_together or len(drifting) < config.drift_together or _alarming(state):
        return
    if _TREND not in state.alerts and not r.drifted:
        return  # opens only with a drift of this reading: once resolved, not again for the same drifts
    trend = state.alerts.get(_TREND)
    counted = drifting
    if trend is None or not trend.confirmed:
        counted = {name: entry for name, entry in drifting.items() if not _drifted_back(state, name, entry)}
        if len(counted) < config.drift_together:
            return  # the values went back: drifts they contradict open nothing
    drifted = {
        name: {"drifted_from": old, "drifted_to": new, "drifted_at": iso(since)}
        for name, (since, old, new) in counted.items()
    }
    _tell_trend(r, config, drifted)


def _drifted_back(state: PatientState, name: str, entry: list[Any]) -> bool:
    """Is this drifting vital's latest value back (`_drifting_together`):
    nearer the mean it drifted from (`entry[1]`) than the level it drifted
    to (`entry[2]`), and more than `RECENT_CLIP` SDs from that level (not a
    noisy value about a small drift)?"""
    latest, baseline = state.latest.get(name), state.baselines.get(name)
    if latest is None or baseline is None or latest[0].__class__ not in _NUMBERS:
        return False
    x, old, new = float(latest[0]), float(entry[1]), float(entry[2])
    return abs(x - old) < abs(x - new) and abs(x - new) > RECENT_CLIP * baseline.sd


def _shifted(entry: list[Any], value: Any, ts: int) -> dict[str, Any]:
    """A reported shift's evidence (`_shift`); from now on a drift to this
    level may be adopted (`_drift`)."""
    entry[2] = 1
    residual, since = entry[3], entry[1]
    over_min = (ts - since) / 60_000
    return {
        "level": value,
        "slope_per_min": round(residual / over_min, 6) if over_min > 0 else 0.0,
        "baseline": round(value - residual, 2),
        "change": round(residual, 2),
        "cusum": round(entry[0], 2),
        "since": iso(since),
        "over_min": round(over_min),
    }


def _shift_together(
    state: PatientState, r: _Reading, shifted: dict[str, dict[str, Any]], config: Config
) -> None:
    """Slowly read channels moving together in their deteriorating
    directions (`_WORSENS`; a custom channel has none and is left out), each
    from its own measurement (`_SAME_MEASUREMENT`: a cuff's two pressures
    are one, the larger run speaking for both): when two or more have a run
    in progress and their CUSUMs sum to `shift_together * shift_h` SDs, each
    is reported, those under `shift_h` with `together` in their evidence.
    A decompensating heart-failure patient gains weight and speeds the heart
    at once; a nuisance (a weighing in clothes, a cuff error, a diuretic, an
    arrhythmia) moves one channel. As with `_together` for charted vitals,
    agreement between independent measurements lets each say less: Page's
    CUSUM is a log-likelihood ratio, and those of independent channels add
    to the evidence of a change in all of them at once, held to a threshold
    sqrt(2) times one channel's, as the sum of two independent channels'
    evidence spreads sqrt(2) times as wide. A single reading still cannot
    open it alone: it needs another measurement already in a run. A home
    cuff's pressure and pulse, each far up in one reading taken after a
    hand-gripper exercise, both began their runs there and opened it (a
    public home log, docs/evaluation.md): both move in an exertion, and one
    reading is one sitting. Nor, to open it, a run begun days before the
    other's (`TOGETHER_SPAN_MS`): a pulse 1.6/min up for 24 days, its CUSUM
    1.4, and one diastolic of 94 among re-takes of 70 and 68 opened it on a
    real home log (LeeKennedy/Health, an outside tester, 2026-12-06). An
    open `trend` holds on them as before: asked of the hold too, a weight's
    run and a pulse's begun three and a half days later let it resolve, and
    the pulse opened another an hour later (`home`, seed 60606)."""
    latest = state.latest
    best: dict[str, tuple[float, str]] = {}  # measurement -> (its CUSUM towards worse, channel)
    for name, entry in state.shifts.items():
        s = entry[0] * _WORSENS.get(name, 0)
        if s <= 0 or not _still_shifted(state, name, entry, r.ts):
            continue  # not worse, or no longer shifted (`_shift`)
        source = _SAME_MEASUREMENT.get(name, name)
        held = best.get(source)
        if held is None or s > held[0]:
            best[source] = (s, name)
    told = state.alerts.get(_TREND)
    if len(best) >= 2 and (told is None or not told.confirmed):  # to open: runs begun within days
        latest_begun = max(state.shifts[name][1] for _, name in best.values())
        best = {k: v for k, v in best.items() if state.shifts[v[1]][1] >= latest_begun - TOGETHER_SPAN_MS}
    if len(best) < 2 or sum(s for s, _ in best.values()) < config.shift_together * config.shift_h:
        return
    begun = {state.shifts[name][1] for _, name in best.values()}
    if len(begun) == 1 and min(begun) > r.ts - SHIFT_SPAN_MS:
        return  # every run begun at one reading, lately: a cuff's pressure and pulse after the stairs
    for _, name in best.values():
        if name not in shifted:  # not already reported on its own
            shifted[name] = {**_shifted(state.shifts[name], latest[name][0], r.ts), "together": True}


def _still_shifted(state: PatientState, name: str, entry: list[Any], ts: int) -> bool:
    """Is a channel with a level-shift run (`entry`, `state.shifts`) still
    shifted at `ts`: its latest value on the shifted side of its forecast,
    and read within `SHIFT_STALE_CADENCES` of its cadence or `SHIFT_STALE_MS`
    (`_shift`)? Three cadences of a cuff read twice a day are 36 hours, and
    a weekend without it resolved its trend and opened another on Monday (a
    reviewer's finding)."""
    read = state.latest.get(name)
    if read is None or entry[3] * entry[0] <= 0.0:
        return False
    age: int = ts - read[1]
    cadence: int = read[2]
    return age <= max(SHIFT_STALE_CADENCES * cadence, SHIFT_STALE_MS)


def _alarming(state: PatientState) -> bool:
    news, anomaly = state.alerts.get(_NEWS2), state.alerts.get(_ANOMALY)
    return (news is not None and news.confirmed) or (anomaly is not None and anomaly.confirmed)


def _heading(state: PatientState, near: list[str], ts: int, config: Config) -> dict[str, dict[str, Any]]:
    """Of the vitals whose trend reaches a dangerous range
    (`app.core.vitals.DANGER`) within the horizon and that are not there yet
    (`near`), those the patient has a warmed-up baseline for and
    whose smoothed level has already left it (its normal at this time of
    day, `_normal_at`) by `trend_z` standard deviations in that direction: a
    wobble inside the normal range, or a benign slow drift far from danger,
    does not count. A vital whose normal wanders (`_wanders`: a real
    patient's, moved about by posture, sleep and visitors) must be out by
    `trend_z_wander`: its level reaches `trend_z` by chance, heading down at
    night (on stable patients whose vitals wander with a 30-minute memory,
    1.2 such `trend`s a patient-day), while an acute fall goes on past it
    within a minute. The cost is on slow falls: a sepsis whose pressure
    wobbles down early is caught later, by a later rule.

    Nor one whose latest value is back more than `RECENT_CLIP` SDs on the
    safe side of the smoothed level: one value moves the level by a few SDs
    at most (`Baseline.track`), so after a step back to normal the level
    follows over many readings, its slope still the climb's. An hour after
    a heart rate of 130 went back to 75, charted every 15 minutes, its level
    was still 128 and rising: a `trend` "heading for 131/min" opened on a
    recovered patient (an outside tester's finding). A value on the
    danger side of the level (a climb, which the level trails) never
    contradicts it."""
    found: dict[str, dict[str, Any]] = {}
    for name in near:
        entry = state.latest[name]
        baseline, cadence = state.baselines[name], entry[2]
        if not baseline.warm(cadence):
            continue
        horizon = _horizon_min(config, cadence)
        level, slope = baseline.level, baseline.slope
        back = (level - entry[0] if slope > 0 else entry[0] - level) / baseline.sd
        if back > RECENT_CLIP:
            continue  # the values went back: the level and slope are a step's lag, not a heading
        departure = (level - _normal_at(baseline, ts, cadence)) / baseline.sd
        out = config.trend_z
        far = departure >= out or departure <= -out
        if far and config.trend_z_wander > out and _wanders(state, name, ts, config):
            out = config.trend_z_wander  # a normal that wanders reaches `trend_z` by chance
        # Not `_danger`: compiled, its tuple gives an int limit back as a float (40.0 in the evidence).
        bounds = DANGER[name] if name != "spo2" or not _scale2(state, config) else SPO2_SCALE2_DANGER
        low, high = bounds
        if slope < 0 and departure <= -out and low is not None:
            limit = low
        elif slope > 0 and departure >= out and high is not None:
            limit = high
        else:
            continue
        # The limit as the catalogue has it (131, not 131.0): `limit` is a float, which
        # the compiled core boxes as one; the tuple's own item is passed on untouched.
        told: Any = bounds[0] if slope < 0 else bounds[1]
        found[name] = {
            "level": round(level, 1),
            "slope_per_min": round(slope, 2),
            "projected": round(level + slope * horizon, 1),
            "limit": told,
            "minutes_to_limit": round((limit - level) / slope, 1),
            "_horizon": horizon,
        }
    return found


def _danger(state: PatientState, name: str, config: Config) -> tuple[float | None, float | None]:
    """A vital's dangerous range (`app.core.vitals.DANGER`; SpO2's on NEWS2's
    scale 2 for a patient prescribed it)."""
    return DANGER[name] if name != "spo2" or not _scale2(state, config) else SPO2_SCALE2_DANGER


def _horizon_min(config: Config, cadence_ms: float) -> float:
    """How far ahead (minutes) a vital's trend looks: `trend_horizon_ms`, or
    two of its readings when it is read less often."""
    return max(config.trend_horizon_ms, 2 * cadence_ms) / 60_000


def _signal_quality(state: PatientState, r: _Reading, config: Config) -> None:
    """A channel sending artifacts again and again (a loose probe) raises a
    `signal_quality` alert naming it; its own values are kept out of
    detection (`_quality`) while every other channel carries on. A channel
    sending "no signal" is not part of it: that is a notice, not an alarm.
    A custom channel stuck at one value (`_repeat`) raises it too, named in
    `vitals` and, with the value it is stuck at, in `stuck`; so does a value
    that came in another unit (`_other_unit`), at once, named in `vitals` and,
    with the unit it looks like, in `unit`."""
    if not state.quality and _SIGNAL_QUALITY not in state.alerts and not r.stuck and not r.unit:
        return  # the common case: every channel clean
    share = config.artifact_share
    noisy = {  # the device of each channel's latest value (`_quality`): the values in use
        name: round(entry[0], 2)
        for name, entry in state.quality.items()
        if entry[0] >= share and not entry[1]
    }
    stuck = _stuck(state, r, config) if r.stuck or _SIGNAL_QUALITY in state.alerts else {}
    unit = r.unit or {}
    if noisy or stuck or unit or _SIGNAL_QUALITY in state.alerts:
        r.evidence[_SIGNAL_QUALITY] = evidence = {
            "artifact_share": max(noisy.values(), default=0.0),
            "vitals": {**noisy, **{name: noisy.get(name, 0.0) for name in (*stuck, *unit)}},
        }
        if stuck:
            evidence["stuck"] = stuck
        if unit:
            evidence["unit"] = unit
    if noisy or stuck or unit:
        r.findings[_SIGNAL_QUALITY] = Finding(_SIGNAL_QUALITY, _LOW, r.evidence[_SIGNAL_QUALITY], urgent=True)


def _stuck(state: PatientState, r: _Reading, config: Config) -> dict[str, Any]:
    """The custom channels stuck now: those this reading found stuck, and
    those it did not carry whose baseline is still in a stuck run."""
    stuck = dict(r.stuck or {})
    vitals = r.raw["vitals"]
    for name, baseline in state.baselines.items():
        if name not in vitals and name not in stuck and baseline.stuck(config.stuck_readings):
            stuck[name] = state.latest[name][0] if name in state.latest else None
    return stuck


# -- 6. lifecycle -------------------------------------------------------------------------


_TREND_WAITS = frozenset({_TREND})


def _patient_cadence(state: PatientState, ts: int) -> float:
    """How often this patient is read: the shortest cadence among the
    channels still arriving (their latest value at most three cadences old).
    The lifecycle's resolution and reminders follow it. The oxygen status
    and the SpO2 scale are not read but said: a source that repeats them
    with each vital charted apart (a round as five readings a minute apart)
    gave them a cadence of 8-12 minutes: hourly vitals' alerts resolved after
    10 minutes instead of a round, and reopened at the next value out."""
    cadences = [
        entry[2]
        for name, entry in state.latest.items()
        if entry[2] and ts - entry[1] <= 3 * entry[2] and name not in _SAID
    ]
    return min(cadences, default=0)


def _refuted(state: PatientState, r: _Reading, cadence: float, config: Config) -> frozenset[Kind]:
    """The kinds whose alert this reading refutes (`transition`'s `refuted`):
    a re-take (`_keep_latest`) of every channel read at the first reading of
    its sitting, each now clear by a margin (`_clear_by_far`), refutes a
    `news2` or `anomaly` alert opened at that first reading. Only for a
    patient read every `SPARSE_MS` or less often (`cadence`), and not an
    alert that opened as a flap (`state.flaps`): a first reading low at
    every sitting, re-taken normal, is told once, then held as any flap.
    An outside reviewer's cases for each limit: a blood pressure re-charted
    unchanged at 00:05 resolved an anomaly of the heart rate and temperature
    charted at 00:00; a sitting's 196/117, 187/118, 183/110 resolved at the
    183 (its z 4.97 against 5), and 87/54 re-taken at 88/53 (NEWS2 3); a
    severe pressure confirmed by its re-take, and a level shift of days,
    resolved by one lower reading (a `trend` is never refuted)."""
    if cadence < SPARSE_MS or not (_NEWS2 in state.alerts or _ANOMALY in state.alerts):
        return frozenset()
    began, latest = 0, state.latest
    for name, value in r.clean.items():
        entry = latest.get(name)
        if entry is None or entry[1] != r.ts or len(entry) < 4 or entry[3] <= 0:
            continue
        if (began and entry[3] != began) or not _clear_by_far(state, r, name, value, config):
            return frozenset()
        began = entry[3]
    if not began or any(entry[1] == began and name not in _STATUSES for name, entry in latest.items()):
        return frozenset()  # no re-take, or a channel read at the sitting's first reading not re-taken
    alerts, flaps = state.alerts, state.flaps
    return frozenset(
        kind
        for kind in _REFUTABLE
        if (alert := alerts.get(kind)) is not None and alert.opened_ms == began and kind not in flaps
    )


def _clear_by_far(state: PatientState, r: _Reading, name: str, value: Any, config: Config) -> bool:
    """Is a re-taken value clear of any alert by a margin: within `REFUTE_Z`
    of the learned normal (when scored), and, for a part of NEWS2, scoring 0?"""
    z = r.z.get(name, 0.0)
    if z >= REFUTE_Z or z <= -REFUTE_Z:
        return False
    if name not in news2.STEP or value.__class__ not in _NUMBERS:
        return True
    said = {"on_oxygen": latest[0]} if name == "spo2" and (latest := state.latest.get("on_oxygen")) else {}
    return news2.score({name: value, **said}, _scale2(state, config)).total == 0


def _lifecycle(state: PatientState, r: _Reading, config: Config, outcome: Outcome) -> None:
    if not r.findings and not state.alerts:
        return
    waits: frozenset[Kind] = frozenset()
    trend = state.alerts.get(_TREND)
    if trend is not None and (_mean_low_now(state, r.ts) or _severe_now(state, trend, r.ts)):
        waits = _TREND_WAITS
    cadence = _patient_cadence(state, r.ts)
    changes = transition(
        state.alerts,
        LIFECYCLE_KINDS,
        r.findings,
        r.ts,
        resolve_after_ms=config.resolve_after_ms,
        confirm_ms=config.confirm_ms,
        renotify_ms=config.renotify_ms,
        renotify_max_ms=config.renotify_max_ms,
        cadence_ms=cadence,
        flaps=state.flaps,
        pace_ms=r.pace,
        waits=waits,
        refuted=_refuted(state, r, cadence, config),
    )
    for change in changes:
        evidence = change.finding.evidence if change.finding else r.evidence[change.kind]
        if change.told:
            told = _newly(change.told) if change.kind is _NEWS2 else _trend_newly(change.told, evidence)
            evidence = {**evidence, "newly": told}
        if change.status is Status.RESOLVED and change.kind in PHYSIOLOGY:
            alert = change.alert
            since = alert.clear_since_ms or r.ts
            unmeasured = _unmeasured(state, alert.opened_ms, since, change.kind is _NEWS2, config)
            if unmeasured:
                evidence = {**evidence, "unmeasured": unmeasured}
        outcome.events.append(
            event(
                subject=r.subject,
                patient=r.patient,
                device_id=r.device_id,
                status=change.status,
                kind=change.kind,
                severity=change.alert.severity,
                opened_ms=change.alert.opened_ms,
                event_ms=r.ts,
                reading_id=r.raw["id"],
                evidence=evidence,
            )
        )


def _unmeasured(
    state: PatientState, opened_ms: int, since_ms: int, news: bool, config: Config
) -> dict[str, dict[str, Any]]:
    """At a physiology alert's resolution, the vitals NEWS2 scores (and the
    mean pressure, under its floor) read during its episode (from
    `opened_ms`) but not since its condition stopped holding (`since_ms`),
    whose last value was scored: each with that value and when. A
    resolution says the condition is gone from what is measured; a consumer
    must tell "recovered" from "no longer measured". A real ICU stay's mean
    pressure of 49.67, its line then unread for 3.5 hours, had its `trend`
    resolve with empty evidence, read as a recovery (an outside tester,
    PhysioNet 2012). One read before the episode is no part of it (a
    temperature of 35.8 read before an anomaly's episode was named at its
    resolution: an outside reviewer), but for a NEWS2 alert (`news`) one
    still in the score it opened on is (`_fresh` then): a cuff's systolic
    of 95 read just before its alert opened and the cuff taken off, the
    alert resolving as the value aged out of the score, resolved with no
    word of it (a second reviewer)."""
    found: dict[str, dict[str, Any]] = {}
    latest = state.latest
    for name, safe_level in _SAFE_LEVEL.items():
        entry = latest.get(name)
        if entry is None or entry[1] >= since_ms or entry[0].__class__ not in _NUMBERS:
            continue
        if entry[1] < opened_ms and not (news and _fresh(entry, opened_ms, config.news2_max_age_ms)):
            continue  # read before the episode, and no part of the score it opened on
        if _level_scores(state, name, entry[0], safe_level, config):
            found[name] = {"value": entry[0], "at": iso(entry[1])}
    return found


def _trend_newly(marks: int, evidence: dict[str, Any]) -> list[str]:
    """The vitals a `trend`'s escalation tells of anew: the pressures of a
    severe run confirmed (`_SEVERE_BIT`), the weight of the heart-failure
    rule (`_GAIN_BIT`), the channels newly shifted (`_SHIFT_BIT`). Before
    2026-12-07 they were read as NEWS2's marks, and a confirmed 182/110 was
    told "new: respiratory_rate"."""
    vitals = evidence.get("vitals", {})
    newly = []
    if marks & _SEVERE_BIT:
        newly += [name for name in SEVERE_PRESSURE if "severe_since" in vitals.get(name, {})]
    if marks & _GAIN_BIT:
        newly.append("weight")
    for name, each in vitals.items():
        if "cusum" in each and marks & _shift_bit(name) and name not in newly:
            newly.append(name)
    return newly


def _newly(marks: int) -> list[str]:
    """The NEWS2 parameters an escalation tells of anew (`_news2_marks`), in
    NEWS2's order: those newly scoring 3, the level of consciousness fallen
    further, a fever reaching 39.1 C, a red vital gone on past a calling
    criterion (`_BEYOND_RED`, `_SHOCK_BIT`). An escalation whose score went down
    (NEWS2 6 after 7, a systolic newly at 88) says why it is news."""
    newly = [name for name in news2.PARAMETERS if marks & _NEWS2_BIT[name]]
    if marks & _DEEPER_BITS[3] and "consciousness" not in newly:
        newly.append("consciousness")
    if marks & _FEVER_BIT and "temperature" not in newly:
        newly.append("temperature")
    if marks & _HYPOXIA_BIT and "spo2" not in newly:
        newly.append("spo2")
    for name, _, _, _, bit in _BEYOND_RED:
        if marks & bit and name not in newly:
            newly.append(name)
    if marks & _SHOCK_BIT and "systolic_bp" not in newly:
        newly.append("systolic_bp")
    return newly
