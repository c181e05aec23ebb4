"""A patient's state in the worker, and its explicit, versioned encoding.

The state is a small plain value (`PatientState`); the worker keeps one per
patient in a Faust table backed by a changelog topic, encoded with `encode`
and read back with `decode`, never pickled. Everything encoded is a public
value Vigil owns (`app.core.stats`, `app.core.model`, `app.core.alerts`), so
a library release cannot change what a stored state means.

Version 6, one JSON object:

    {"v": 6, "n": readings processed, "t": newest event time (ms),
     "i": id of the reading processed last,
     "it" (only when it is not "t"): the event time that reading carried (ms): a late reading's or
                     one stamped after its record was received (`app.core.patient.process`),
     "q": {channel: [smoothed share of its recent values that were artifacts,
                     start of its "no signal" run (ms, 0: none), 1 if a notice said so, else 0]},
     "e" (when "q" is not empty): {channel of "q": [the tag of the device "q" judges
                     (`app.core.patient.device_tag`; the device of the channel's latest value),
                     and for each other device, at most two, its share, run, notice and tag]},
     "b": {channel (a numeric vital, or a custom channel): base64 of little-endian IEEE 754 doubles
                  [var.n, var.mean, var.m2, prior mean, prior sd (negative once folded in: minus
                   the spread established with, -1 where none was kept), recent level,
                   ph.n, ph.mean, ph.sum_increase, ph.sum_decrease, ph.min_increase (inf for none
                   yet), ph.max_decrease, trend level, trend slope per minute, trend time (ms),
                   and once learning has begun the daily profile: mean of (value - level) x cos,
                   x sin of the time of day, mean of cos^2, of sin^2, the event time its learning
                   began (negated once the profile is in use)];
                  a custom channel's (version 5): [var.n, var.mean, var.m2, recent level, the six
                   of ph, the profile's five, then its generic block: short mean of its raw scores,
                   their long mean, long variance, how many seen, current run of repeated values,
                   usual longest run]},
     "l": {channel: [latest value, its event time (ms), its cadence: typical ms between its values,
                     and for a re-take in a sitting (`app.core.patient.SITTING_MS`) the event
                     time the sitting began, -1 for a sparse channel read densely for longer,
                     minus the event time of its first value while its values so far may be
                     one sitting (its cadence only their first step)]},
     "a": {kind: [opened (ms), severity, clear since (ms) or null, confirmed, notified (ms) or null,
                  lower since (ms) or null, reminders sent, parts at their worst when last told
                  (a bitmask, `app.core.alerts.Finding.marks`), and only when the severity settled
                  lower since it was last told, the severity last told (`OpenAlert.told`), then
                  only while a rise awaits confirmation, [first seen, last seen] (ms;
                  `OpenAlert.rise`; the told severity null when there is none), then only
                  while parts told at their worst are no longer so, [the event time they
                  stopped (ms), those parts (a bitmask)] (`OpenAlert.lapsed`; the two
                  before null when there are none)]},
     "s" (only when not empty): {channel: [level-shift CUSUM in SDs (> 0 up, < 0 down),
                     event time its run began (ms), 1 once a trend reported it else 0,
                     latest residual (value - forecast)]},
     "d" (only when not empty): {vital: [event time of its latest drift in its deteriorating
                     direction (ms), the mean it drifted from, the level it drifted to]},
     "u" (only when not empty): {vital with a deteriorating direction whose normal drifted in
                     the last day and a half: the event times (minutes since 1970) of its latest
                     drifts either way, at most eight, oldest first (`app.core.patient._settled`)},
     "m" (only when not empty): {channel the device flags as moving: [event time of the first
                     value of its run that came only flagged (ms), 1 if a notice said so, else 0]},
     "w" (only when not empty): {channel whose weekly profile has begun learning: base64 of
                     little-endian IEEE 754 doubles [its seven offsets (Monday first), the trailing
                     level, mean squared error of the day deviations without the profile, with it,
                     days closed (negated while in use), the day being accumulated (days since
                     1970, UTC), the mean so far of its values less their daily profile, how many]
                     (`app.core.model.WEEKLY_FIELDS`)},
     "r" (only when not empty): {custom channel whose runs of far values have begun: [the place of
                     the run in progress (0: none), then per time of day at which runs began (at
                     most three): its minute of the day (UTC), how long runs lasted on earlier days
                     (minutes), how long today's, the day one last began (days since 1970), on how
                     many days one has, the largest |z| (rounded up) runs reached on earlier days,
                     today's] (`app.core.model.Baseline.daily_routine`)},
     "h" (only when not empty): {custom channel whose shape of the day has begun learning: base64
                     of little-endian IEEE 754 doubles [the means of its values in each hour of the
                     day (UTC; 24), their mean, the mean squared error of the first harmonic's
                     forecast, of the hours', the first day learned (days since 1970 plus one,
                     negated while in use)], then 24 unsigned 16-bit counts of values, one per hour
                     (`app.core.model.SHAPE_FIELDS`)},
     "f" (only when not empty): {custom channel that has had far values: how far out (|z|) they
                     have lately gone (`app.core.model.Baseline.far_z`)},
     "k" (only when not empty): {alert kind resolved lately: [event time its last alert resolved
                     (ms), how many times in a row it opened again soon after] (`app.core.alerts._flaps`)},
     "x" (only when not empty): [channel whose latest value was held back at its own reading, and
                     is held back until its next (`app.core.patient._hold_latest`)],
     "z" (only after a trim, until the first reading a day or more later): event time (ms) the
                     state was last trimmed to fit its bound; until a day after, no weekly profile or
                     shape of the day begins, nor a custom channel's baseline once there is neither
                     left to drop for it (`bound`, `REGROW_AFTER_MS`),
     "g" (once a reading came): the tag (`app.core.patient.device_tag`) of the patient's device:
                     the device of its first reading, or the one that since sent the latest value of
                     every vital judged for signal quality,
     "o" (only when not empty): {vital judged for signal quality whose latest value another device
                     sent: that device's tag} (`app.core.patient._note_source`),
     "y" (only when not empty): {channel of "q": event time (ms) any device last sent it, a value
                     or an artifact} (`app.core.patient._gone`),
     "p" (once one came): event time (ms) a NEWS2 parameter last scored 3 in the part of its red
                     range people live in, judged a deterioration (`app.core.patient._hold_unrecovered`),
     "ph" (once one came): event time (ms) a NEWS2 parameter last scored 3 in the high band, the
                     patient's own or not (`app.core.patient._high_held`),
     "c" (once a weight came): [2 when the latest weighing is a gain the heart-failure rule tells,
                     1 when it meets the rule alone, else 0; the event time (ms) of the first weighing
                     of the run meeting it; the latest weighing's event time (ms) and kg; the event
                     time its occasion began (ms) and the kg of the last weighing of the occasion
                     before; then the weight's sliding minimum over three days, oldest first: event
                     time (ms) and kg (the higher of that weighing and the last of the occasion
                     before) of each lower than every later one, at most six]
                     (`app.core.patient._weigh`),
     "j" (only when not empty): {pressure whose newest values stand at or above its severe limit:
                     [event time (ms) the run began, its latest's event time (ms) and value]}
                     (`app.core.patient._pressure`),
     "je" (only after a run ended, until the next begins): event time (ms) the last run of "j" ended
                     (`app.core.patient._severe_again`),
     "jm" (only while one runs): the arterial line's mean standing under 65 mmHg: [event time (ms)
                     the run began, its latest low value's event time (ms) and value, the event time
                     (ms) it came back to 65 or over, 0 if it has not] (`app.core.patient._mean_under_floor`)}

"d" came within version 6 (`app.core.patient._drifting_together`): a state
without it reads as no recent drifts, and a worker that predates it reads
the rest and leaves it out, so it needed no new version; so did "m"
(`app.core.patient._motion`), read as no channel moving when absent, and "w"
(`app.core.model.Baseline.weekly`), read as no weekly profile learned yet: a
worker that predates it leaves it out, and the profile starts learning
afresh. "r" came within version 6 the same way (`app.core.model.RUNS_SLOTS`):
read as no daily routine known when absent, and "h" (`app.core.model.Baseline.shape`):
read as no shape of the day learned yet, and "f": read as no far values seen yet, and "k":
read as no alert resolved lately (a worker that predates it ignores it: an alert
open after a flap then resolves after the usual wait), and "x": read as no value held
back (a worker that predates it ignores it: a held value is then carried to NEWS2 by
other devices' readings, as before), and "u": read as no drift lately (every vital's
normal counts as settled; a worker that predates it ignores it), and "z": read as not trimmed
lately (a worker that predates it ignores it: what was dropped begins again at once, and is
dropped again), and "e": read as each "q" entry judging any device (as before; a worker
that predates it ignores it, and judges the devices of "q" together), and "g" with "o":
read as the device of each vital's latest value not known until its next value (the
first device to send one is the patient's; a worker that predates them ignores them), and
"y": read as each channel of "q" sent at the next reading, and "p": read as no such red value
seen (a worker that predates it ignores it), and "ph": read as none in the high band
(a worker that predates it ignores it), and "c": read as no weighing yet (a worker
that predates it ignores it), and "jm": read as no mean under its floor (a worker that predates
it ignores it), and "je": read as no run ended (a worker that predates it ignores it), and
"j": read as no pressure at its severe limit (a worker that
predates it ignores it: a run begins again at its next value), and "it": read as "t" (a worker
that predates it ignores it, and drops a reading as a duplicate on its id alone), and an alert's ninth
element (`OpenAlert.told`): read as told at its severity, and its tenth (`OpenAlert.rise`): read as
no rise awaiting confirmation, and its eleventh (`OpenAlert.lapsed`): read as no lapse (a
worker that predates any of them cannot read an alert that has it, and starts that patient's state
afresh). "s" is new in
version 5 (only channels read every 6 hours or less often with a shift in
progress; `app.core.patient._watch_shift`). Version 6 adds
the alerts' eighth number; version 5 is still read (its alerts' parts start
at 0: the next reminder sets them). Version 4 is
still read: its alerts had only the first five (the severity never fell, the
reminders did not back off) and read as lower since null, no reminder sent;
its custom channels had no generic block, which starts at 0; it had no
shifts.
Versions 2 (no trend: baselines of 12 numbers) and 3 (15), whose baselines
are JSON lists, are still read; their "q" (one artifact share for the whole
patient) is dropped: the per-channel shares start afresh at 0.

The state is bounded whatever a device sends (docs/operations.md#worker-state):
baselines exist only for the catalogue's numeric vitals and at most
`MAX_CUSTOM_CHANNELS` custom channels, alerts one per kind, and the latest
values of at most `MAX_CUSTOM_CHANNELS` custom channels are kept; `bound`,
which the core calls after every reading, drops custom channels' baselines,
then their latest values, to fit, and `encode` refuses a state still over
`MAX_STATE_BYTES` (`StateError`).
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.core.alerts import Kind, OpenAlert, Severity
from app.core.errors import StateError
from app.core.model import (
    GENERIC_FIELDS,
    RUNS_FIELDS,
    RUNS_SLOTS,
    SHAPE_BINS,
    SHAPE_FIELDS,
    WEEKLY_FIELDS,
    Baseline,
)
from app.core.stats import PageHinkley, RunningVar
from app.core.vitals import MOVED, NAMED, NUMERIC

MAX_STATE_BYTES = 4096  # the bound on one patient's encoded state
MAX_CUSTOM_CHANNELS = 8  # custom channels whose latest value a patient's state keeps
# Decimals the state keeps of an artifact share and a level-shift sum (and
# residual). The core rounds them so as it updates them (`app.core.patient`),
# so that the state it goes on with is the one it writes: a worker restarted
# from the written bytes decides as one that ran on (a share or a sum on a
# threshold's edge, rounded only when written, once crossed it after a restart).
STORED_DIGITS = 4
# A state trimmed to fit its bound (`bound`) begins no weekly profile or shape of the day for
# a day of event time after (nor a custom channel's baseline with neither left to drop for
# it): what was dropped began again at the next reading, was dropped again, and a patient at
# the bound paid a trim at every one.
REGROW_AFTER_MS = 24 * 60 * 60 * 1000
DRIFT_TIMES_KEPT = 8  # the times of a vital's latest drifts kept ("u"; `app.core.patient._settled`)
STATE_VERSION = 6  # 2: baselines carry their prior (mean, sd); 3: and a trend; 4: quality per channel;
# 5: alerts carry when their condition fell below their severity and how many reminders they sent;
# custom channels' baselines carry their generic block (surprise, repeated values); level-shift watch;
# 6: alerts carry which parts of their condition were at their worst when last told
_READABLE_VERSIONS = (
    2,
    3,
    4,
    5,
    6,
)  # a v2 baseline starts its trend afresh; v2-3 quality, v2-4 shifts afresh
_QUALITY_CHANNELS = frozenset(NUMERIC) | {"pulse_rate"}  # channels whose signal quality is judged
CATALOGUE = frozenset(NUMERIC) | NAMED
_NONE_YET = 1e300  # v2-3 JSON had no infinity: PageHinkley.min_increase before its first value
_BASE_FIELDS = 15  # numbers of a baseline ...
_PROFILE_FIELDS = 5  # ... and of its daily profile, once learning has begun
_PACK_BASE = struct.Struct(f"<{_BASE_FIELDS}d")
_PACK_PROFILE = struct.Struct(f"<{_BASE_FIELDS + _PROFILE_FIELDS}d")
# A custom channel's baseline (version 5) leaves out what it never uses (a
# prior: it has none once it has values; a trend: it has no dangerous range)
# and carries its generic block: var.n, var.mean, var.m2, recent level, the six
# of Page-Hinkley, the profile's five, the generic block's six.
_PACK_CUSTOM = struct.Struct(f"<{4 + 6 + _PROFILE_FIELDS + GENERIC_FIELDS}d")
_PACK_WEEKLY = struct.Struct(f"<{WEEKLY_FIELDS}d")
_PACK_SHAPE = struct.Struct(f"<{SHAPE_FIELDS - SHAPE_BINS}d{SHAPE_BINS}H")


@dataclass(slots=True)
class PatientState:
    count: int = 0  # readings processed
    last_ts: int = 0  # newest event time processed, epoch ms
    last_id: str = ""  # id of the reading processed last, to drop its duplicates
    last_stamp: int = -1  # the event time that reading carried when not `last_ts` (late or clamped), else -1
    # channel -> [smoothed share of its recent values that were artifacts,
    #             event time its "no signal" run began (0: none), 1 if a notice said so,
    #             the device's tag (0: not said)], per device (`app.core.patient.QUALITY_DEVICES`),
    #             the device of the channel's latest value first
    quality: dict[str, list[Any]] = field(default_factory=dict)
    baselines: dict[str, Baseline] = field(default_factory=dict)
    latest: dict[str, list[Any]] = field(default_factory=dict)  # name -> [value, ts_ms]
    alerts: dict[Kind, OpenAlert] = field(default_factory=dict)
    # channel -> [its level-shift CUSUM in SDs (> 0 up, < 0 down), event time its run began (ms),
    #             1 once a `trend` reported it, its latest residual (value - forecast)]; only
    #             slowly read channels with a run in progress (`app.core.patient._watch_shift`)
    shifts: dict[str, list[Any]] = field(default_factory=dict)
    # vital -> [event time of its latest drift in its deteriorating direction (ms), the mean it
    #           drifted from, the level it drifted to]; only drifts of the last
    #           `Config.drift_together_ms` (`app.core.patient._drifting_together`)
    drifting: dict[str, list[Any]] = field(default_factory=dict)
    # channel -> [event time of the first value of its run that came only in readings flagged
    #             `motion` (ms), 1 if a notice said so]; only `MOVED` channels in such a run
    #             (`app.core.patient._motion`)
    moving: dict[str, list[int]] = field(default_factory=dict)
    # kind -> [event time its last alert resolved (ms), its flaps in a row]; only kinds
    #         resolved lately or open after a flap (`app.core.alerts._flaps`)
    flaps: dict[Kind, list[int]] = field(default_factory=dict)
    # channels whose latest value was held back at its own reading, held back at every reading
    # until their next value (`app.core.patient._hold_latest`)
    held: set[str] = field(default_factory=set)
    # vital -> event times (minutes since 1970) of its latest drifts either way, at most
    #          DRIFT_TIMES_KEPT, oldest first; only those of the last day and a half
    #          (`app.core.patient._settled`)
    drift_times: dict[str, list[int]] = field(default_factory=dict)
    # event time (ms) `bound` last dropped something to fit, 0: not within `REGROW_AFTER_MS`
    full: int = 0
    # the tag (`app.core.patient.device_tag`) of the device that sent the latest value of each
    # vital judged for signal quality, unless `sources` names another (0: none yet)
    device: int = 0
    # vital judged for signal quality -> the tag of the device that sent its latest value, when
    # not `device` (`app.core.patient._note_source`)
    sources: dict[str, int] = field(default_factory=dict)
    # channel of `quality` -> event time (ms) any device last sent it, a value or an artifact
    # (`app.core.patient._gone`)
    seen: dict[str, int] = field(default_factory=dict)
    # event time (ms) a NEWS2 parameter last scored 3 in the part of its red range people live in,
    # judged a deterioration (`app.core.patient._hold_unrecovered`); 0: never
    red_at: int = 0
    # event time (ms) a NEWS2 parameter last scored 3 in NEWS2's high band, the patient's own
    # value or not (`app.core.patient._high_held`); 0: never
    high_red_at: int = 0
    # the weight's last three days for the heart-failure rule (`app.core.patient._weigh`): 2 when
    # its latest weighing is a gain the rule tells, 1 when it meets the rule alone, else 0; when the
    # run of weighings meeting it began (ms); the latest weighing (event time in ms, kg); when its
    # occasion began (ms) and the last weighing of the occasion before (kg); then its sliding
    # minimum, oldest first: (event time, kg: the higher of that weighing and the last of the
    # occasion before) of each lower than every later one, at most `app.core.patient.WEIGHT_LOWS`
    gain: list[float] = field(default_factory=list)
    # pressure at or above its severe limit (`app.core.patient.SEVERE_PRESSURE`) at its newest
    # values -> [event time (ms) the run began, its latest's event time (ms) and value]
    # (`app.core.patient._pressure`)
    severe: dict[str, list[float]] = field(default_factory=dict)
    # the arterial line's mean under `app.core.patient.MAP_FLOOR`: [when its run began, its latest low
    # value's event time (ms) and value, when it came back (0: not)], or empty (`_mean_under_floor`)
    low_mean: list[float] = field(default_factory=list)
    severe_ended: int = 0  # event time (ms) the last severe pressure's run ended (0: none since one began)


def encode(state: PatientState) -> bytes:
    """The state's bytes, at most `MAX_STATE_BYTES`. The core keeps every
    state it advances within the bound at each reading (`bound`), so this
    drops nothing from such a state; a state that does not fit is trimmed
    as `bound` says, and one that still does not fit raises `StateError`."""
    data = _encode(state)
    if len(data) <= MAX_STATE_BYTES:
        return data
    _trim(state, len(data))
    data = _encode(state)
    if len(data) > MAX_STATE_BYTES:  # `_trim` says so first; never written over the bound
        raise StateError(f"patient state exceeds {MAX_STATE_BYTES} bytes")
    return data


def bound(state: PatientState) -> None:
    """Keep `state` within `MAX_STATE_BYTES` once encoded, trimming it in
    place. The core calls this after every reading, so that what is dropped,
    and when, depends on the readings alone: trimmed when the worker writes
    the state (once per Kafka record), the same readings grouped into records
    differently, or replayed by a tool that writes at other times, gave
    different alerts once a state reached the bound. Most states are far
    from it: `_size_bound` says so without encoding.

    What is dropped to fit, in this order: weekly profiles (custom channels'
    first, then the vitals'; each learns afresh), custom channels' shapes of
    the day (least recently updated first; each learns afresh), their learned
    baselines, the newest first (the channel then learns afresh, and is
    dropped again while there is no room: the channels learned first keep
    learning, whatever their cadence; least recently updated first, an
    hourly channel beside chatty ones was the one dropped at every write and
    never learned), then their latest values, then the weight rule's three
    days ("c": a property test's patient with every vital, a weight and
    twelve custom channels did not fit with it). (A channel no longer sent
    leaves `latest`, and its baseline with it, once a ninth custom channel
    comes: `_keep_custom` in `app.core.patient`.)

    For `REGROW_AFTER_MS` of event time after a trim (`PatientState.full`;
    the core's `_model` asks) no weekly profile or shape of the day begins,
    and a custom channel's baseline only while a weekly profile or shape is
    left to drop for it (`app.core.patient._room_to_make`): what was dropped
    began again at the next reading and was dropped again, an encoding and
    a trim at every reading of a patient at the bound. After the day, what
    can begin does, and is dropped again if there is still no room."""
    if state.full and state.last_ts - state.full >= REGROW_AFTER_MS:
        state.full = 0  # room to grow again; dropped again if there is none
    if _size_bound(state) > MAX_STATE_BYTES:
        size = _size(state)
        if size > MAX_STATE_BYTES:
            _trim(state, size)


def _trim(state: PatientState, size: int) -> None:
    """Drop what `bound` says until the state fits; `size` is its encoded
    size now. An encoding costs more than what is dropped: the size after a
    drop is worked out from the bytes of the one channel's parts (`_parts`),
    give or take the separators that go with them, and the state is encoded
    again only when that cannot tell whether it fits."""
    baselines = state.baselines
    custom = [k for k in state.latest if k not in CATALOGUE]  # least recently updated first
    steps = [(_WEEK, k) for k in custom + [k for k in baselines if k in CATALOGUE] if _has(state, k, _WEEK)]
    steps += [(_SHAPE_OF_DAY, k) for k in custom if _has(state, k, _SHAPE_OF_DAY)]
    steps += [(_BASELINE_OF, k) for k in reversed(baselines) if k not in CATALOGUE]  # the newest first
    if state.full != state.last_ts:
        state.full = state.last_ts  # recorded first: its key counts in the size
        size = _size(state)
    high = low = size  # the size now lies within these
    for step, name in steps:
        before = _parts(state, name)
        b = baselines[name]
        if step == _WEEK:
            b.forget_week(state.last_ts)
        elif step == _SHAPE_OF_DAY:
            b.forget_shape()
        else:
            del baselines[name]
        gone = before - _parts(state, name)
        high, low = high - gone, low - gone - _SEPARATORS
        if high <= MAX_STATE_BYTES:
            return
        if low <= MAX_STATE_BYTES:
            high = low = _size(state)
            if high <= MAX_STATE_BYTES:
                return
    for name in custom:
        del state.latest[name]
        state.shifts.pop(name, None)
        state.sources.pop(name, None)  # the pulse rate's, kept as a custom channel's
    if state.gain and _size(state) > MAX_STATE_BYTES:
        state.gain.clear()  # the weight rule's three days: it starts again from the next weighing
    if (state.severe or state.low_mean or state.severe_ended) and _size(state) > MAX_STATE_BYTES:
        state.severe.clear()  # the severe pressure rule's runs: they start again from the next value
        state.low_mean.clear()
        state.severe_ended = 0
    if (state.seen or state.sources or state.quality) and _size(state) > MAX_STATE_BYTES:
        # A patient of three devices sending every vital: what each device sent last ("y", "o")
        # and the other devices' signal quality (all of "e" but the first device's) go last;
        # each is learned again from the next readings. Before, a state of every vital from
        # three devices did not fit once the custom channels were gone: `bound` raised, and
        # every record of the patient after it was dead-lettered (a random property, 2026-12-06).
        state.seen.clear()
        state.sources.clear()
        for entry in state.quality.values():
            del entry[_QUALITY_SLOT:]
    if _size(state) > MAX_STATE_BYTES:
        raise StateError(f"patient state exceeds {MAX_STATE_BYTES} bytes")


_WEEK, _SHAPE_OF_DAY, _BASELINE_OF = 0, 1, 2  # what `_trim` drops of a channel
_QUALITY_SLOT = 4  # a quality entry's first device: share, run, notice, tag (`app.core.patient._SLOT`)
_SEPARATORS = 40  # commas, and a map left empty (`,"w":{}`), of the five maps a channel's parts are in


def _has(state: PatientState, name: str, part: int) -> bool:
    b = state.baselines.get(name)
    return b is not None and (b.weekly if part == _WEEK else b.shape) is not None


def _parts(state: PatientState, name: str) -> int:
    """The bytes of a channel's baseline, weekly profile, shape of the day,
    runs and reach in the state's JSON, with their keys, without separators."""
    b = state.baselines.get(name)
    if b is None:
        return 0
    key = len(orjson.dumps(name)) + 1  # with its colon
    n = key + len(_pack_len(b)) + 2
    if b.weekly is not None:
        n += key + _WEEKLY + 2
    if b.shape is not None:
        n += key + _SHAPE + 2
    if b.runs is not None:
        n += key + len(orjson.dumps(b.runs))
    if b.far_z > 0.0:
        n += key + len(orjson.dumps(b.far_z))
    return n


# Bytes `_encode` can spend, at most, on ...
_NUMBER = 26  # ... a number and its comma: an int of 64 bits, a float's shortest repr, null, a bool
_KEYED = 6  # ... a key's quotes, colon and comma, and a value's quotes or brackets
_TOP = 160  # ... the top level's keys, braces and version
_BASELINE = max(4 * math.ceil(s.size / 3) for s in (_PACK_BASE, _PACK_PROFILE, _PACK_CUSTOM))
_WEEKLY = 4 * math.ceil(_PACK_WEEKLY.size / 3)
_SHAPE = 4 * math.ceil(_PACK_SHAPE.size / 3)
# Strings as long as a packed part of each layout (`_size`)
_CUSTOM_LEN, _PROFILE_LEN, _BASE_LEN = (
    "0" * (4 * math.ceil(p.size / 3)) for p in (_PACK_CUSTOM, _PACK_PROFILE, _PACK_BASE)
)
_WEEKLY_LEN, _SHAPE_LEN = "0" * _WEEKLY, "0" * _SHAPE


def _key(name: str) -> int:
    """At most the bytes of a channel's name as a key: the catalogue's are
    plain ASCII; another system's records may name a custom channel in any
    characters (`app.core.records`), each escaped as \\uXXXX at worst."""
    known = _CATALOGUE_KEYS.get(name)
    return 6 * len(name) + _KEYED if known is None else known


_CATALOGUE_KEYS = {name: len(name) + _KEYED for name in CATALOGUE}


def _size_bound(state: PatientState) -> int:
    """An upper bound on `len(_encode(state))`, in a few additions per part
    (a fraction of an encoding's cost). Loose, never low: a state this
    says fits does fit (`tests/core/test_process_properties.py`)."""
    n = _TOP + 2 * _NUMBER + 6 * len(state.last_id)  # a reading id escaped at worst
    if state.full:
        n += _KEYED + 1 + _NUMBER  # its own key
    n += _KEYED + 1 + _NUMBER  # the patient's device ("g")
    if state.sources:
        n += _KEYED + 1
    for name in state.sources:
        n += _key(name) + _NUMBER
    if state.seen:
        n += _KEYED + 1
    for name in state.seen:
        n += _key(name) + _NUMBER
    if state.last_stamp >= 0:
        n += _KEYED + 2 + _NUMBER
    if state.red_at:
        n += _KEYED + 1 + _NUMBER
    if state.high_red_at:
        n += _KEYED + 2 + _NUMBER
    if state.gain:
        n += _KEYED + 1 + _NUMBER * len(state.gain)
    if state.severe_ended:
        n += _KEYED + 2 + _NUMBER
    if state.low_mean:
        n += _KEYED + 2 + 4 * _NUMBER
    if state.severe:
        n += _KEYED + 1
    for name in state.severe:
        n += _key(name) + 3 * _NUMBER
    if state.quality:
        n += _KEYED + 1  # the key "e"
    for name in state.quality:
        n += 2 * _key(name) + 12 * _NUMBER  # and its devices ("e")
    for name, b in state.baselines.items():
        key = _key(name)
        n += 2 * key + _BASELINE + _NUMBER  # and its reach ("f")
        if b.weekly is not None:
            n += key + _WEEKLY
        if b.shape is not None:
            n += key + _SHAPE
        if b.runs is not None:
            n += key + _NUMBER * len(b.runs)
    for name, entry in state.latest.items():
        n += _key(name) + _NUMBER * len(entry)  # a value is a number, a bool or one ACVPU letter
    n += len(state.alerts) * (_KEYED + 16 + 9 * _NUMBER)  # a kind's name is shorter than 16
    n += len(state.flaps) * (_KEYED + 16 + 2 * _NUMBER)
    for name in state.shifts:
        n += _key(name) + 4 * _NUMBER
    for name, entry in state.drifting.items():
        n += _key(name) + _NUMBER * len(entry)
    for name, times in state.drift_times.items():
        n += _key(name) + _NUMBER * len(times)
    for name, entry in state.moving.items():
        n += _key(name) + _NUMBER * len(entry)
    for name in state.held:
        n += _key(name)
    return n


def decode(data: bytes) -> PatientState:
    try:
        obj = orjson.loads(data)
        if obj.get("v") not in _READABLE_VERSIONS:
            raise StateError("unknown patient state version")
        return PatientState(
            count=obj["n"],
            last_ts=obj["t"],
            last_id=obj.get("i", ""),
            last_stamp=_stamp(obj.get("it", -1)),
            quality=_quality(obj) if obj["v"] >= 4 else {},
            baselines=_baselines(
                obj["b"], obj["v"], obj.get("w", {}), obj.get("r", {}), obj.get("h", {}), obj.get("f", {})
            ),
            latest={name: _latest(entry) for name, entry in obj["l"].items()},
            alerts={Kind(kind): _alert(*fields) for kind, fields in obj["a"].items()},
            shifts=_shifts(obj.get("s", {})) if obj["v"] >= 5 else {},
            drifting=_drifting(obj.get("d", {})),
            moving=_moving(obj.get("m", {})),
            flaps={Kind(kind): [int(entry[0]), int(entry[1])] for kind, entry in obj.get("k", {}).items()},
            held={str(name) for name in obj.get("x", ())},
            drift_times=_drift_times(obj.get("u", {})),
            full=int(obj.get("z", 0)),
            device=int(obj.get("g", 0)),
            sources=_sources(obj.get("o", {})),
            seen=_sources(obj.get("y", {})),
            red_at=int(obj.get("p", 0)),
            high_red_at=int(obj.get("ph", 0)),
            gain=_gain(obj.get("c", [])),
            severe=_severe(obj.get("j", {})),
            low_mean=_low_mean(obj.get("jm", [])),
            severe_ended=_time(obj.get("je", 0), "a severe pressure's end"),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StateError("undecodable patient state") from exc


def _size(state: PatientState) -> int:
    """`len(_encode(state))`, exactly, without packing a baseline, weekly
    profile or shape (most of an encoding's cost): each packs to a length
    its layout fixes, and base64 needs no escaping in JSON."""
    return len(_encode(state, True))


def _encode(state: PatientState, sizing: bool = False) -> bytes:
    """The state's JSON; `sizing`: with each packed part a placeholder as
    long as it (`_size`)."""
    pack, pack_weekly, pack_shape = (
        (_pack_len, _weekly_len, _shape_len) if sizing else (_pack, _pack_weekly, _pack_shape)
    )
    obj: dict[str, Any] = {
        "v": STATE_VERSION,
        "n": state.count,
        "t": state.last_ts,
        "i": state.last_id,
        "q": {name: [round(q[0], STORED_DIGITS), q[1], q[2]] for name, q in state.quality.items()},
        "b": {name: pack(b) for name, b in state.baselines.items()},
        "l": state.latest,
        "a": {
            kind.value: [
                a.opened_ms,
                a.severity,
                a.clear_since_ms,
                a.confirmed,
                a.notified_ms,
                a.lower_since_ms,
                a.reminders,
                a.marks,
                *_alert_tail(a),
            ]
            for kind, a in state.alerts.items()
        },
    }
    _optional(obj, state, pack_weekly, pack_shape)
    return orjson.dumps(obj)


def _pack(b: Baseline) -> str:
    """A baseline's numbers (the layout in this module's docstring) as
    little-endian IEEE 754 doubles in base64: exact, as JSON's shortest
    round-trip decimals are, in about half the bytes (room for every channel
    within the bound). The profile's five follow once its learning began."""
    var, ph, p = b.var, b.ph, b.profile
    base = (var.n, var.mean, var.m2, b.prior_mean, b.prior_sd, b.recent, ph.n, ph.mean, ph.sum_increase,
            ph.sum_decrease, ph.min_increase, ph.max_decrease, b.level, b.slope, b.t_ms)  # fmt: skip
    if b.generic is not None:
        data = _PACK_CUSTOM.pack(*base[:3], *base[5:12], *p, *b.generic)
    else:
        data = _PACK_PROFILE.pack(*base, *p) if p[4] else _PACK_BASE.pack(*base)
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _optional(obj: dict[str, Any], state: PatientState, pack_weekly: Any, pack_shape: Any) -> None:
    """`_encode`'s keys present only when they hold something (most
    patients have none of them)."""
    if state.shifts:  # most patients have none: no key at all
        obj["s"] = {
            name: [round(e[0], STORED_DIGITS), e[1], e[2], round(e[3], STORED_DIGITS)]
            for name, e in state.shifts.items()
        }
    if state.drifting:  # as rare
        obj["d"] = state.drifting
    if state.drift_times:  # dense vitals whose normal drifted lately
        obj["u"] = state.drift_times
    if state.moving:  # as rare: a device stuck with its motion flag on
        obj["m"] = state.moving
    if state.flaps:  # kinds resolved lately
        obj["k"] = {kind.value: entry for kind, entry in state.flaps.items()}
    if state.quality:  # the devices each entry judges (a worker that predates it ignores it)
        obj["e"] = {name: _devices(q) for name, q in state.quality.items()}
    if state.full:  # trimmed to fit within the last day
        obj["z"] = state.full
    if state.device:  # the patient's device (a worker that predates it ignores it)
        obj["g"] = state.device
    if state.sources:  # vitals another device sent last: a patient read by several
        obj["o"] = state.sources
    if state.seen:  # when the channels judged for signal quality were last sent
        obj["y"] = state.seen
    if state.last_stamp >= 0:  # the last reading was late or clamped (a worker that predates it ignores it)
        obj["it"] = state.last_stamp
    if state.red_at:  # a red value people may live at was seen (a worker that predates it ignores it)
        obj["p"] = state.red_at
    if state.high_red_at:  # a red value in the high band was seen (a worker that predates it ignores it)
        obj["ph"] = state.high_red_at
    if state.gain:  # a patient weighed: the weight's last three days (a worker that predates it ignores it)
        obj["c"] = state.gain
    if state.severe:  # a pressure at its severe limit (a worker that predates it ignores it)
        obj["j"] = state.severe
    if state.low_mean:  # the line's mean under its floor (a worker that predates it ignores it)
        obj["jm"] = state.low_mean
    if state.severe_ended:  # when the last severe pressure's run ended (a worker that predates it ignores it)
        obj["je"] = state.severe_ended
    if state.held:  # a value held back as the channel's latest: rare, and only until its next
        held = sorted(name for name in state.held if name in state.latest)
        if held:
            obj["x"] = held
    weekly = {name: pack_weekly(b.weekly) for name, b in state.baselines.items() if b.weekly is not None}
    if weekly:  # channels learned for a day or more
        obj["w"] = weekly
    runs = {name: b.runs for name, b in state.baselines.items() if b.runs is not None}
    if runs:  # custom channels that have had far values
        obj["r"] = runs
    shapes = {name: pack_shape(b.shape) for name, b in state.baselines.items() if b.shape is not None}
    if shapes:  # custom channels read often, learned for a while
        obj["h"] = shapes
    reach = {name: b.far_z for name, b in state.baselines.items() if b.far_z > 0.0}
    if reach:  # custom channels that have had far values
        obj["f"] = reach


def _pack_len(b: Baseline) -> str:
    """A string as long as `_pack(b)`."""
    if b.generic is not None:
        return _CUSTOM_LEN
    return _PROFILE_LEN if b.profile[4] else _BASE_LEN


def _weekly_len(weekly: list[float]) -> str:
    return _WEEKLY_LEN


def _shape_len(shape: list[float]) -> str:
    return _SHAPE_LEN


def _pack_weekly(weekly: list[float]) -> str:
    return binascii.b2a_base64(_PACK_WEEKLY.pack(*weekly), newline=False).decode("ascii")


def _unpack_weekly(text: str) -> list[float]:
    data = base64.b64decode(text.encode("ascii"), validate=True)
    if len(data) != _PACK_WEEKLY.size:
        raise StateError("weekly profile of an unknown shape")
    weekly = list(_PACK_WEEKLY.unpack(data))
    if not all(math.isfinite(v) for v in weekly):
        raise StateError("weekly profile with a value that is not a number")
    return weekly


def _pack_shape(shape: list[float]) -> str:
    counts = [int(c) for c in shape[SHAPE_FIELDS - SHAPE_BINS :]]
    data = _PACK_SHAPE.pack(*shape[: SHAPE_FIELDS - SHAPE_BINS], *counts)
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _unpack_shape(text: Any) -> list[float]:
    """A custom channel's shape of the day (`app.core.model.Baseline.shape`)."""
    data = base64.b64decode(text.encode("ascii"), validate=True) if isinstance(text, str) else b""
    if len(data) != _PACK_SHAPE.size:
        raise StateError("shape of the day of an unknown size")
    shape = [float(v) for v in _PACK_SHAPE.unpack(data)]
    if not all(math.isfinite(v) for v in shape) or abs(shape[SHAPE_BINS + 3]) < 1.0:
        raise StateError("shape of the day with a value that is not a number or a day")
    return shape


def _unpack(text: str) -> list[float]:
    data = base64.b64decode(text.encode("ascii"), validate=True)
    if len(data) == _PACK_BASE.size:
        return list(_PACK_BASE.unpack(data))
    if len(data) == _PACK_PROFILE.size:
        return list(_PACK_PROFILE.unpack(data))
    if len(data) == _PACK_CUSTOM.size:
        v = _PACK_CUSTOM.unpack(data)  # back to the full layout: no prior (-1: none), no trend
        # The prior's mean is the mean of a baseline that has learned nothing
        # yet (`Baseline.prior`: a custom channel's first value, kept as `recent`).
        first = v[3] if v[0] == 0 else v[1]
        return [*v[:3], first, -1.0, *v[3:10], 0.0, 0.0, 0.0, *v[10:]]
    raise StateError("baseline of an unknown shape")


def _baselines(
    obj: dict[str, Any],
    version: int,
    weekly: dict[str, Any],
    runs: dict[str, Any],
    shapes: dict[str, Any],
    reach: dict[str, Any],
) -> dict[str, Baseline]:
    """The baselines ("b"), each with its weekly profile ("w"), its daily
    routine's runs ("r"), its shape of the day ("h") and how far out its far
    values have gone ("f") if it has them."""
    if sum(name not in CATALOGUE for name in obj) > MAX_CUSTOM_CHANNELS:
        raise StateError("baselines of too many custom channels")
    if any(name not in obj for name in weekly):
        raise StateError("weekly profile of a channel without a baseline")
    baselines = {
        name: _baseline(
            name,
            _unpack(values) if version >= 4 else values,
            _unpack_weekly(weekly[name]) if name in weekly else None,
        )
        for name, values in obj.items()
    }
    for name, entry in runs.items():
        b = baselines.get(name)
        if b is None or b.generic is None:
            raise StateError("runs of a channel without a custom channel's baseline")
        b.runs = _runs(entry)
    for name, text in shapes.items():
        b = baselines.get(name)
        if b is None or b.generic is None:
            raise StateError("shape of the day of a channel without a custom channel's baseline")
        b.set_shape(_unpack_shape(text))
    for name, far_z in reach.items():
        b = baselines.get(name)
        if b is None or b.generic is None:
            raise StateError("far values of a channel without a custom channel's baseline")
        if type(far_z) not in (int, float) or not 0.0 < far_z < math.inf:
            raise StateError("far values' reach that is not a positive number")
        b.far_z = float(far_z)
    return baselines


def _runs(entry: list[Any]) -> list[int]:
    """A custom channel's daily routine (`app.core.model.Baseline.daily_routine`)."""
    size = len(entry) if isinstance(entry, list) else 0
    if not size or (size - 1) % RUNS_FIELDS or size > 1 + RUNS_FIELDS * RUNS_SLOTS:
        raise StateError("runs of an unknown shape")
    if not all(type(v) is int for v in entry) or entry[0] % RUNS_FIELDS != 1 and entry[0] != 0:
        raise StateError("runs with a value that is not a place or a count")
    if entry[0] >= len(entry) or not all(0 <= entry[i] < 1440 for i in range(1, len(entry), RUNS_FIELDS)):
        raise StateError("runs with a place or a time of day out of range")
    return list(entry)


def _baseline(name: str, values: list[float], weekly: list[float] | None = None) -> Baseline:
    if not isinstance(name, str) or not name or name in CATALOGUE and name not in NUMERIC:
        raise StateError("baseline of an unknown vital")
    n, mean, m2, prior_mean, prior_sd, recent, ph_n, ph_mean, inc, dec, min_inc, max_dec = values[:12]
    level, slope, t_ms = values[12:15] if len(values) >= 15 else (0.0, 0.0, 0)  # v2 had no trend
    profile = values[15:20] if len(values) >= 20 else None  # learning not begun
    generic = values[20:] if len(values) > 20 else None  # v5, custom channels
    if generic is not None and name in NUMERIC:
        raise StateError("a custom channel's baseline for a vital")
    ph = PageHinkley(ph_n, ph_mean, inc, dec, math.inf if min_inc >= _NONE_YET else min_inc, max_dec)
    return Baseline(
        name,
        RunningVar(n, mean, m2),
        prior_mean,
        prior_sd,
        ph,
        recent,
        level,
        slope,
        int(t_ms),
        profile,
        generic,
        weekly,
    )


def _latest(entry: list[Any]) -> list[Any]:
    """[value, event time, cadence] and, for a re-take in a sitting, the
    sitting's first event time; versions 2-3 had no cadence (0: not known yet)."""
    if len(entry) == 2:
        return [entry[0], int(entry[1]), 0]
    if len(entry) == 4:
        value, ts, cadence, began = entry
        return [value, int(ts), int(cadence), int(began)]
    value, ts, cadence = entry
    return [value, int(ts), int(cadence)]


def _shifts(obj: dict[str, Any]) -> dict[str, list[Any]]:
    if len(obj) > len(NUMERIC) + MAX_CUSTOM_CHANNELS:
        raise StateError("level shifts of too many channels")
    shifts: dict[str, list[Any]] = {}
    for name, (cusum, since_ms, reported, residual) in obj.items():
        if not isinstance(name, str) or not name or name in CATALOGUE and name not in NUMERIC:
            raise StateError("level shift of an unknown channel")
        shifts[name] = [float(cusum), int(since_ms), 1 if reported else 0, float(residual)]
    return shifts


def _drifting(obj: dict[str, Any]) -> dict[str, list[Any]]:
    if len(obj) > len(NUMERIC):
        raise StateError("drifts of too many vitals")
    drifting: dict[str, list[Any]] = {}
    for name, (ts, old, new) in obj.items():
        if name not in NUMERIC:
            raise StateError("drift of an unknown vital")
        drifting[name] = [int(ts), float(old), float(new)]
    return drifting


def _drift_times(obj: dict[str, Any]) -> dict[str, list[int]]:
    if len(obj) > len(NUMERIC):
        raise StateError("drifts of too many vitals")
    times: dict[str, list[int]] = {}
    for name, minutes in obj.items():
        if name not in NUMERIC or len(minutes) > DRIFT_TIMES_KEPT:
            raise StateError("drift times of an unknown vital, or too many")
        times[name] = [int(t) for t in minutes]
    return times


def _moving(obj: dict[str, Any]) -> dict[str, list[int]]:
    moving: dict[str, list[int]] = {}
    for name, (since_ms, notified) in obj.items():
        if name not in MOVED:
            raise StateError("motion run of a channel no motion flag covers")
        moving[name] = [int(since_ms), 1 if notified else 0]
    return moving


def _quality(obj: dict[str, Any]) -> dict[str, list[Any]]:
    quality: dict[str, list[Any]] = {}
    devices = obj.get("e", {})
    for name, (share, since_ms, notified) in obj["q"].items():
        if name not in _QUALITY_CHANNELS:
            raise StateError("signal quality of an unknown channel")
        more = devices.get(name, (0,))
        if len(more) % 4 != 1 or len(more) > 9:
            raise StateError("signal quality of an unknown shape")
        entry = [float(share), int(since_ms), int(notified), int(more[0])]
        for at in range(1, len(more), 4):  # the other devices'
            entry += [float(more[at]), int(more[at + 1]), int(more[at + 2]), int(more[at + 3])]
        quality[name] = entry
    return quality


def _sources(obj: dict[str, Any]) -> dict[str, int]:
    """ "o" or "y": a number per channel judged for signal quality."""
    sources: dict[str, int] = {}
    for name, number in obj.items():
        if name not in _QUALITY_CHANNELS:
            raise StateError("a number of a channel not judged for signal quality")
        sources[name] = int(number)
    return sources


_LAST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: the last event time written as ISO 8601 (`iso`)


def _gain(obj: list[Any]) -> list[float]:
    """ "c": a flag, a time, a weighing, an occasion's, then pairs of (event time, kg), all numbers."""
    if not isinstance(obj, list) or (obj and (len(obj) < 6 or len(obj) % 2)):
        raise StateError("a weight's window that is not a flag, a time, two weighings and lows")
    return _numbers(obj, "a weight's window")


def _numbers(obj: list[Any], what: str) -> list[float]:
    """A list of the state's numbers (times, values), each from 0 to `_LAST_MS`, as floats."""
    if any(x.__class__ not in (int, float) for x in obj):
        raise StateError(f"{what} with a value that is not a number")
    if not all(0 <= x <= _LAST_MS for x in obj):
        raise StateError(f"{what} with a time or value out of range")
    return [float(x) for x in obj]


def _stamp(x: Any) -> int:
    """ "it": the event time the reading processed last carried (ms), or -1 (absent: "t")."""
    return -1 if x.__class__ is int and x == -1 else _time(x, "the last reading's time")


def _time(x: Any, what: str) -> int:
    """An event time (ms) of the state's, an integer from 1970 to 9999."""
    if x.__class__ is not int or not 0 <= x <= _LAST_MS:
        raise StateError(f"{what} that is not a time")
    return int(x)


def _low_mean(run: Any) -> list[float]:
    """ "jm": the mean's run under its floor, two times, a value and a time, or empty."""
    if not isinstance(run, list) or len(run) not in (0, 4):
        raise StateError("a mean pressure's run that is not two times, a value and a time")
    return _numbers(run, "a mean pressure's run")


def _severe(obj: dict[str, Any]) -> dict[str, list[float]]:
    """ "j": per pressure, a run's start, its latest's time and value, all numbers."""
    if not isinstance(obj, dict):
        raise StateError("severe pressures that are not a map")
    out: dict[str, list[float]] = {}
    for name, run in obj.items():
        if name not in ("systolic_bp", "diastolic_bp"):
            raise StateError("a severe pressure of a channel that is not a pressure")
        if not isinstance(run, list) or len(run) != 3:
            raise StateError("a severe pressure's run that is not two times and a value")
        out[str(name)] = _numbers(run, "a severe pressure's run")
    return out


def _devices(entry: list[Any]) -> list[Any]:
    """A quality entry's "e": the first device's tag, then the others' four."""
    out = [entry[3]]
    for at in range(4, len(entry), 4):
        out += [round(entry[at], STORED_DIGITS), entry[at + 1], entry[at + 2], entry[at + 3]]
    return out


def _alert(
    opened_ms: int,
    severity: str,
    clear_since_ms: int | None,
    confirmed: int,  # a bool (true), or 1: read either
    notified_ms: int | None,
    lower_since_ms: int | None = None,  # version 4 had neither
    reminders: int = 0,
    marks: int = 0,  # version 5 had none
    told: str | None = None,  # only when not the severity (or a rise follows: null)
    rise: list[int] | None = None,  # only while a rise awaits confirmation (or a lapse follows: null)
    lapsed: list[int] | None = None,  # only while a part told at its worst is not
) -> OpenAlert:
    return OpenAlert(
        opened_ms,
        Severity(severity),
        clear_since_ms,
        bool(confirmed),
        notified_ms,
        lower_since_ms,
        int(reminders),
        int(marks),
        Severity(told) if told is not None else None,
        [int(rise[0]), int(rise[1])] if rise is not None else None,
        [int(lapsed[0]), int(lapsed[1])] if lapsed is not None else None,
    )


def _alert_tail(a: OpenAlert) -> tuple[Any, ...]:
    """An alert's optional elements, as few as say them: the severity last
    told, a rise awaiting confirmation, a lapse (`OpenAlert.lapsed`),
    each null when an element after it is said."""
    if a.lapsed is not None:
        return (a.told, a.rise, a.lapsed)
    if a.rise is not None:
        return (a.told, a.rise)
    return (a.told,) if a.told is not None else ()
