"""A patient's learned baseline for one vital.

Per vital:

- A running variance (`app.core.stats.RunningVar`, River's `stats.Var`
  with public state) learns the mean and variance of this patient's own
  readings. Scoring blends them with a prior (mean, standard deviation)
  weighted as `PRIOR_WEIGHT` readings: at first the population's
  (`app.core.vitals`), so a new patient is scored at once against population
  norms and the baseline becomes personal as readings arrive (cold start).
  Blending variances rather than pooling the prior as pseudo-readings keeps
  the gap between population and patient means out of the patient's spread.
- Each reading is scored as a z-score against that baseline. After the
  warm-up (`Baseline.warm`: `WARMUP_MIN` readings spanning `WARMUP_MS` of
  event time), whose readings are all learned (so that a patient whose normal is
  far from the population's, such as SpO2 89 % with COPD, becomes personal),
  readings that look anomalous (|z| >= `learn_below`) are kept out of
  learning, so the model does not learn a deterioration as the new normal.
  The caller raises no anomaly from a vital still in warm-up; NEWS2 covers
  that time.
- A short-horizon trend (Holt's linear smoothing in event time: a level and
  a slope per minute, with the time between readings in the smoothing
  weights) gives `projection`, where the vital will be in a few minutes if it
  keeps moving as it does; the caller warns when that is a dangerous range the
  vital has not reached yet. One spike moves it by a few standard deviations
  at most, and a gap of more than `TREND_GAP_MS` starts it afresh.
- A Page-Hinkley test (`app.core.stats.PageHinkley`, River's
  `drift.PageHinkley`) watches the z-scores. When the level has moved for
  good it signals drift; the caller then decides whether the new level is
  adopted as baseline (see `app.core.patient`: only when it is clinically
  safe) and calls `adopt`, which makes the recent level the new prior.

Every part of a baseline is a public number, so the per-patient state has an
explicit, versioned encoding (`app.core.state`) and is never pickled.
"""

from __future__ import annotations

import math
from typing import Any

from app.core.stats import PageHinkley, RunningVar
from app.core.vitals import DANGER, NUMERIC

PRIOR_WEIGHT = 5.0  # the prior counts as this many readings
WARMUP = 30  # readings an adopted baseline counts as (at least): already warmed up
# Warm-up is in event time: a vital's values are all learned (so an unusual
# normal becomes personal) until at least WARMUP_MIN of them span WARMUP_MS
# (30 readings at one a minute, as before; 8 hours of hourly charting; 30
# minutes at one a second). Only then can it raise anomalies and trends.
WARMUP_MIN = 8
WARMUP_MS = 30 * 60 * 1000
RECENT_ALPHA = 0.2  # smoothing of the recent level used when a drift is adopted
RECENT_CLIP = 3.0  # standard deviations one value may move the recent level by

# PageHinkley on z-scores (unit variance by construction). River's defaults
# (delta=0.005, threshold=50 on raw values) raise drift constantly on steady
# vitals (../shared/reference/stack-pitfalls.md); on z-scores, a tolerance of
# half a standard deviation and a threshold of 25 detect a sustained shift of
# about 2 standard deviations within about 15 readings and stay quiet on noise.
# Holt's smoothing, per minute of event time: the level follows readings
# closely, the slope over several minutes, so noise of one reading barely
# tilts it but a ramp over a few minutes shows.
TREND_ALPHA = 0.5
TREND_BETA = 0.15
TREND_GAP_MS = 10 * 60 * 1000  # a gap longer than this and than TREND_GAP_CADENCES readings
TREND_GAP_CADENCES = 3  # ... restarts the trend
MINUTE_MS = 60_000
# Holt's weights for a step of so many minutes (or cadences), as computed (a pure function of
# the step, remembered: readings come at a few distinct steps); cleared when this large.
_TREND_WEIGHTS: dict[float, tuple[float, float]] = {}
_TREND_WEIGHTS_MAX = 4096

# After warm-up, learning forgets: the count stops at the number of readings
# of MEMORY_MS at the vital's cadence (at least MEMORY_MIN), so the mean and
# spread become exponentially weighted with that memory, and each residual is
# winsorised at `learn_below` standard deviations instead of skipped: the
# spread can grow (a noisier patient, a variance change) as well as shrink,
# while one wild value moves it only as much as a value at the limit would.
MEMORY_MS = 24 * 60 * 60 * 1000
MEMORY_MIN = 30
# The daily profile is used once a channel's learned values span a day (at
# its cadence), and only when its amplitude is at least half a spread.
PROFILE_AFTER_MS = 24 * 60 * 60 * 1000
PROFILE_MIN = 0.5
PROFILE_PHASE = 0.05  # mean cos^2 (sin^2) below which that phase is not estimated
# A channel read this rarely or less often (4 times a day or fewer) has no
# daily profile: its times of day (one, or two opposite) do not identify a
# first harmonic (`app.core.patient._model`).
PROFILE_MAX_CADENCE_MS = 6 * 60 * 60 * 1000
DAY_MS = 24 * 60 * 60 * 1000
# The weekly profile (`Baseline.weekly`): an offset per day of the week (UTC
# days, Monday first), learned from day means, on channels read every
# WEEKLY_MAX_CADENCE_MS or more often: a day's mean of 24 values or more is
# precise enough for one week's offsets to be checked against the next. A
# scale's one value each morning is not: tried on the `home` cohort, the
# profile came and went on noise, and decompensations were caught later (in
# time 0.438 -> 0.375 and 0.231 -> 0.192, seeds 2026 and 7). A channel
# whose cadence grows past twice that (a wearable now worn once a day)
# drops its profile.
# It begins the day a channel's daily profile comes into use (the channel has
# been learned for a day). At the end of each day, the mean of its values less
# their daily profile is compared with a trailing level (the day means less
# their offsets, with a memory of about two days): the difference is that
# weekday's deviation. Before its offset learns it (all of it the first week,
# then a half, a third, a quarter at most: a memory of a few weeks), the
# deviation is scored twice: as it is (the error without the profile) and
# less the offset learned so far (with it), each at most WEEKLY_CLIP spreads,
# with a memory of WEEKLY_MEMORY_DAYS days. The profile is used once
# WEEKLY_AFTER_DAYS days are in and its errors are at most WEEKLY_GAIN of
# those without it, and put away when they are larger. The first week's errors
# are the same either way (nothing learned yet): only a weekday seen a second
# time can tell a weekly rhythm from a level shift, and a level shift in the
# first week makes the second week's errors larger with the profile than
# without, so it stays away. Days are UTC days: a patient's weekend that
# begins at local midnight is that many hours off, which the offsets of the
# two days it straddles share.
WEEKLY_MAX_CADENCE_MS = 60 * 60 * 1000
WEEKLY_AFTER_DAYS = 8
WEEKLY_GAIN = 0.8
WEEKLY_CLIP = 3.0
WEEKLY_MEMORY_DAYS = 14
WEEKLY_OFFSET_WEEKS = 4  # an offset's step is 1 / (weeks seen), at least 1 / this
WEEKLY_LEVEL_STEP = 0.5  # the trailing level follows a level shift within days
# [seven offsets (Monday first), the trailing level, mean squared error of the
#  day deviations without the profile, with it, days closed (negated while in
#  use), the day being accumulated (days since 1 January 1970), the mean so far
#  of its values less their daily profile, how many]
WEEKLY_FIELDS = 14
# The shape of a custom channel's day (`Baseline.shape`), on channels read at
# least every SHAPE_MAX_CADENCE_MS: the mean of its values in each hour of the
# day (UTC), each with a memory of SHAPE_DAYS days. It draws a day that is not
# a sine, which the first harmonic cannot: a business day (low at night, high
# from 9 to 6, a step at each end), a morning peak. Each value's error is kept
# against the first harmonic's forecast and against its hour's mean (each at
# most SHAPE_CLIP spreads, a memory of SHAPE_ERR_DAYS days). The hours' means
# replace the harmonic in the forecast once SHAPE_AFTER_DAYS days are in, every
# hour has had values, and their errors are at most SHAPE_GAIN of the
# harmonic's; they are put away when their errors are the larger (on a sine,
# the hours' means, quick to learn, stand in while the harmonic converges and
# give way to it: days 2 to 11 of a cycle of +-20 read every 15 minutes). Only
# errors counted once the harmonic is in use (a day after it began) compare.
# An hour's mean learns only values within `keep_out` of the forecast. [the 24 hours' means, their mean,
# the harmonic's mean squared error, the hours', the first day learned (days
# since 1970, UTC, plus one, at least 1; negated while in use), how many errors were
# counted, then the 24 hours' counts of values]
SHAPE_BINS = 24
SHAPE_MS = DAY_MS // SHAPE_BINS
SHAPE_MAX_CADENCE_MS = 30 * 60 * 1000
SHAPE_DAYS = 7
SHAPE_ERR_DAYS = 3
SHAPE_AFTER_DAYS = 2
SHAPE_GAIN = 0.5
SHAPE_CLIP = 5.0
SHAPE_COUNT_MAX = 65_535  # a count is kept in 16 bits
SHAPE_FIELDS = 2 * SHAPE_BINS + 5
_SHAPE_MEAN = SHAPE_BINS  # where the fields after the means are
_SHAPE_HARMONIC = SHAPE_BINS + 1
_SHAPE_HOURS = SHAPE_BINS + 2
_SHAPE_FIRST = SHAPE_BINS + 3
_SHAPE_ERRORS = SHAPE_BINS + 4
_SHAPE_COUNTS = SHAPE_BINS + 5
_EPOCH_WEEKDAY = 3  # 1 January 1970 was a Thursday


def weekday(ts_ms: int) -> int:
    """The UTC day of the week of an event time, Monday 0."""
    return (ts_ms // DAY_MS + _EPOCH_WEEKDAY) % 7


KEEP_OUT = 5.0  # |z| from which a value is not learned at all (the caller passes its anomaly threshold)
# Channels without a catalogue entry (custom channels) have no prior: the
# baseline is learned from the channel's own first values, scale-free. Their
# smallest spread is a share of their level, with an absolute minimum.
RELATIVE_FLOOR = 1e-3
ABSOLUTE_FLOOR = 1e-9
# A channel learned as a custom one whose meaning Vigil knows has its vital's
# floor instead: a pulse oximeter's pulse rate is a pulse (`heart_rate`'s 3/min).
# At a relative floor (0.07/min at 65), a monitor's pulse rate averaged over a
# minute gave 19 drift notices in 5.8 hours for half-beat changes, its heart
# rate from the same values 1 (MIMIC-II a41664).
KNOWN_FLOORS = {"pulse_rate": NUMERIC["heart_rate"].floor}

# Custom channels (no clinical meaning, no NEWS2) are where a generic anomaly
# detector belongs; each carries a small block of its own (`Baseline.generic`):
# [short surprise, its long mean, its long variance, how many it has seen,
#  current run of repeated values, the channel's usual longest run,
#  its rate of runs of values at the anomaly threshold or beyond begun, negative
#  while the last value was at it (`Baseline.surprise`)].
GENERIC_FIELDS = 7
# A channel whose runs of values at the anomaly threshold begin more often than
# this (per value, with the memory `SPIKE_MEMORY_MIN` sets) is heavy-tailed:
# one such value alone is not its own confirmation (see
# `app.core.patient._anomaly`).
SPIKE_RARE = 1e-3
# A channel where such a run begins at one value in fifty or more (an hourly
# job's spike, read every 5 minutes: one in twelve) is one its spread does not
# describe: such values are its normal, and only the channel's calibrated
# surprise (its scores against their own history) makes it anomalous. Runs, not
# values: an hour of congestion on one morning is one run, and the next
# morning's is news again.
SPIKE_ROUTINE = 2e-2
# The rate's memory, in values, is at least this, so that one run is never a
# rate: with a day's memory, a channel read hourly (24 values, or MEMORY_MIN)
# took one spike for one value in thirty, "routine", and for the next 15
# hours a real change raised nothing. At 75 one run counts one in 75, two
# close together reach SPIKE_ROUTINE. Channels read every 19 minutes or more
# often (75 values a day or more) are unaffected.
SPIKE_MEMORY_MIN = 1.5 / SPIKE_ROUTINE
# A far value at a time of day where runs of far values began on `RUNS_DAYS`
# earlier days, the latest within `RUNS_RECENT_DAYS`, and within as long after
# that time as those runs lasted (each side `RUNS_WINDOW_MIN` more), belongs
# to a daily routine (a nightly job, a morning walk's steps): as with
# `SPIKE_ROUTINE`, only the channel's calibrated surprise makes it anomalous,
# and it is no evidence of a new level. One or two runs a day are too rare a
# rate for `SPIKE_ROUTINE` (a nightly job on a metric read every 5 minutes
# begins one run in 288 values), and a first-harmonic daily profile cannot
# draw an hour's bump, so without this such a channel alerted every night.
# What lasts past the routine's usual end (a level that stays up after the
# job) or goes more than `RUNS_Z_MARGIN` times as far out as its runs did on
# earlier days is news. `Baseline.runs`: [the place of the run in progress (0:
# none), then per time of day remembered (at most `RUNS_SLOTS`): the minute of
# the day (UTC) its first run began, how long its runs lasted on earlier days
# (minutes, at most `RUNS_LONGEST_MIN`), how long today's has so far, the day
# a run last began there (days since 1970), on how many days one has (at most
# `RUNS_DAYS_MAX`), the largest |z| its runs reached on earlier days (rounded
# up, at most `RUNS_Z_MAX`), today's].
RUNS_SLOTS = 3
RUNS_FIELDS = 7
RUNS_Z_MARGIN = 2
RUNS_Z_MAX = 1_000_000
# Routines that cover more of the day than this (their runs and slack) are not
# a routine but a spread that does not describe the channel: its far values
# are then judged as any others, and move its level as any others.
RUNS_COVER_MAX_MIN = 360
RUNS_WINDOW_MIN = 60
RUNS_LONGEST_MIN = 360  # longer is a daily cycle, the profile's to learn
RUNS_DAYS = 2
RUNS_RECENT_DAYS = 7
RUNS_DAYS_MAX = 7
_DAY_MIN = 1440


def _circular(minutes: int) -> int:
    """A difference of times of day, in minutes, as -720 to 719."""
    return (minutes + _DAY_MIN // 2) % _DAY_MIN - _DAY_MIN // 2


def _run_begun(runs: list[int], day: int, minute: int) -> int:
    """Remember a run of far values begun at `minute` of `day`
    (`Baseline.runs`) and return its place: the time of day within
    `RUNS_WINDOW_MIN` of it counts one day more (once a day; forgotten
    after `RUNS_RECENT_DAYS`), or else it takes a new place, or the place
    whose last run is the oldest."""
    width = RUNS_FIELDS
    near, gap = 0, RUNS_WINDOW_MIN + 1
    for i in range(1, len(runs), width):
        d = _circular(minute - runs[i])
        d = d if d >= 0 else -d
        if d < gap:
            near, gap = i, d
    if near:
        last, days = runs[near + 3], runs[near + 4]
        if day > last:
            if day - last > RUNS_RECENT_DAYS:  # forgotten: news again
                runs[near + 1], runs[near + 5], days = 0, 0, 0
            else:  # the day before's run joins the earlier days'
                if runs[near + 2] > runs[near + 1]:
                    runs[near + 1] = runs[near + 2]
                if runs[near + 6] > runs[near + 5]:
                    runs[near + 5] = runs[near + 6]
            runs[near + 2], runs[near + 3], runs[near + 6] = 0, day, 0
            runs[near + 4] = days + 1 if days < RUNS_DAYS_MAX else days
        return near
    entry = [minute, 0, 0, day, 1, 0, 0]
    if len(runs) < 1 + width * RUNS_SLOTS:
        runs += entry
        return len(runs) - width
    oldest = min(range(1, len(runs), width), key=lambda i: runs[i + 3])
    runs[oldest : oldest + width] = entry
    return oldest


def _in_routine(runs: list[int], day: int, minute: int, size: int) -> bool:
    """Whether a far value at `minute` of `day`, `size` spreads out (rounded
    up), is within a routine of `runs` (`Baseline.runs`): a time of day seen
    on `RUNS_DAYS` earlier days, the latest within `RUNS_RECENT_DAYS`, no
    later than its runs lasted and no more than `RUNS_Z_MARGIN` times as far
    out, each with its slack; none if the routines would cover more than
    `RUNS_COVER_MAX_MIN` of the day."""
    routine, covered = False, 0
    for i in range(1, len(runs), RUNS_FIELDS):
        last, days = runs[i + 3], runs[i + 4]
        earlier = days - 1 if last == day else days
        if earlier >= RUNS_DAYS and day - last <= RUNS_RECENT_DAYS:
            covered += runs[i + 1] + 2 * RUNS_WINDOW_MIN
            offset = _circular(minute - runs[i])
            if (
                -RUNS_WINDOW_MIN <= offset <= runs[i + 1] + RUNS_WINDOW_MIN
                and size <= RUNS_Z_MARGIN * runs[i + 5]
            ):
                routine = True
    return routine and covered <= RUNS_COVER_MAX_MIN


# Calibrated surprise (anomaly likelihood, as in Numenta's HTM detector): the
# raw score of a value is its |z| against the forecast (capped), smoothed over
# about ten readings as Numenta's short window is (SURPRISE_ALPHA); that short mean is compared
# with the channel's own history of it (an exponentially weighted mean and
# variance with the baseline's memory). A level change and a change in variance
# both raise it; as the spread and the history take the new regime in, it fades.
SURPRISE_ALPHA = 0.1
SURPRISE_CAP = 6.0  # |z| at most this: one wild value is a spike (the z-score's own alarm), not a regime
SURPRISE_WINSOR = 3.0  # see `Baseline.surprise`
SURPRISE_MEMORY = 7.0  # the history's memory, in baseline memories (a week; Numenta's: 30 days)
SURPRISE_AFTER = 144  # short means a channel must have seen before its surprise counts
SURPRISE_MIN_SD = 0.1  # the history's smallest spread, in units of the raw score
# A stuck sensor: a run of identical values no shorter than `stuck_readings`
# and over twice the channel's usual longest run (the longest it has had, which
# forgets by RUN_FORGET per value: halved in about 700 values), on a channel
# whose learned spread is STUCK_SPREAD times its floor
# or more (a channel that is constant by nature is never stuck).
RUN_FORGET = 0.999
STUCK_SPREAD = 10.0

PH_MIN_INSTANCES = 30
PH_DELTA = 0.5
PH_THRESHOLD = 25.0
PH_ALPHA = 1 - 1e-4
PH_CLIP = 4.0  # z fed to the detector is clipped: a drift takes several readings
# The detector weighs a value read less than a minute after the one before by
# the part of a minute it stands for: readings close together are not
# independent evidence, and counted one by one a vital read every 2 s had its
# drift adopted 30 times sooner than one read every minute (about 30 s after
# a heart rate began to rise, on VitalDB case 1). Read every minute or less
# often, each value counts fully, as before.
PH_PER_MS = 60_000


def _beyond(value: Any, level: float, limit: float, above: bool) -> bool:
    """Is `value` (None: not known, taken as yes) more than `limit` above
    `level` (`above`), or more than `limit` below it?"""
    if value is None or value.__class__ not in (int, float):
        return True
    return value - level > limit if above else level - value > limit


class Baseline:
    """Learned baseline and drift detector for one vital of one patient."""

    __slots__ = (
        "daily",
        "far_z",
        "floor",
        "generic",
        "grow",
        "level",
        "mean",
        "name",
        "ph",
        "prior_mean",
        "prior_sd",
        "profile",
        "recent",
        "runs",
        "sd",
        "shape",
        "hours",
        "slope",
        "t_ms",
        "var",
        "week",
        "weekly",
    )

    def __init__(
        self,
        name: str,
        var: RunningVar,
        prior_mean: float,
        prior_sd: float,
        ph: PageHinkley,
        recent: float,
        level: float = 0.0,
        slope: float = 0.0,
        t_ms: int = 0,
        profile: list[float] | None = None,
        generic: list[float] | None = None,
        weekly: list[float] | None = None,
        runs: list[int] | None = None,
        shape: list[float] | None = None,
    ) -> None:
        self.name = name
        vital = NUMERIC.get(name)
        self.floor = vital.floor if vital is not None else 0.0  # 0: relative to the level (custom)
        # Custom channels only (`GENERIC_FIELDS`); None for the catalogue's vitals.
        if vital is not None:
            self.generic = None
        else:
            self.generic = generic if generic is not None else [0.0] * GENERIC_FIELDS
        self.var = var
        # Once folded in (`prior_sd` < 0: `fold_prior`, `adopt`), `prior_mean` is
        # the normal as warm-up left it or as a drift was adopted, which learning
        # does not move (`app.core.patient._deviates` reads it).
        self.prior_mean = prior_mean
        self.prior_sd = prior_sd
        self.ph = ph
        self.recent = recent
        self.level = level  # the trend: smoothed level, slope per minute, and
        self.slope = slope  # the event time (ms) they were last updated at;
        self.t_ms = t_ms  # 0: no trend yet
        # The daily profile: exponentially weighted means of (value - level) x
        # cos and x sin of the time of day, and of cos^2 and sin^2; `daily`:
        # [a, b] of the forecast's level + a cos + b sin once it is in use.
        self.profile = profile if profile is not None else [0.0, 0.0, 0.0, 0.0, 0.0]
        self.daily: list[float] | None = None
        # The weekly profile (`WEEKLY_FIELDS`), None until it begins learning;
        # `week`: the same list while the forecast uses it, else None.
        self.weekly = weekly
        self.week = weekly if weekly is not None and weekly[10] < 0.0 else None
        # Custom channels only: the times of day far runs began (`RUNS_SLOTS`), None until one has.
        self.runs = runs
        # Custom channels only: how far out (|z|) its far values have lately gone, 0 until
        # one has (`app.core.patient.FAR_Z_FADE`; kept in the state's "f").
        self.far_z = 0.0
        # Custom channels only: the shape of the day (`SHAPE_FIELDS`), None until
        # it begins learning; `hours`: the same list while the forecast uses it.
        self.shape: list[float] | None = None
        self.hours: list[float] | None = None
        if shape is not None:
            self.set_shape(shape)
        # False while the patient's state has lately been trimmed to fit its bound: no weekly
        # profile or shape of the day begins (`app.core.state.REGROW_AFTER_MS`); set by the
        # caller at each reading, never stored.
        self.grow = True
        self.mean = self.sd = 0.0  # what values are scored against, kept by `_refresh`
        self._refresh()

    @classmethod
    def prior(cls, name: str, first: float = 0.0) -> Baseline:
        """A new baseline: the catalogue's population prior for a vital, or
        for a custom channel none (prior sd 0, weight 0 once it has values):
        scale-free, learned from its own values, starting at `first`."""
        vital = NUMERIC.get(name)
        if vital is None:
            return cls(name, RunningVar(), float(first), 0.0, PageHinkley(), float(first))
        mean, sd = vital.prior
        return cls(name, RunningVar(), mean, sd, PageHinkley(), mean)

    @property
    def n(self) -> float:
        """Readings learned since the last reset."""
        return self.var.n

    def remembers(self, cadence: float) -> bool:
        """Is learning's memory full: `MEMORY_MS` of readings at `cadence`
        (ms), and at least `MEMORY_MIN`, learned since the last reset? Until
        then the mean is the average of every value since, and a change
        lasting those hours moves it as far as the patient's normal."""
        n = self.var.n
        return n >= MEMORY_MIN and cadence > 0 and n * cadence >= MEMORY_MS

    def _refresh(self) -> None:
        """Recompute `mean` and `sd` after learning: scoring reads them for
        every value, learning changes them less often; and whether the daily
        profile is in use, which depends on the spread (`_set_daily`), as a
        decoded baseline computes it: a spread grown in a warm-up after a
        gap left the daily part in use in memory and not after a restart,
        and a restarted worker opened an anomaly the running one did not (an
        outside tester's fuzzing)."""
        self.mean = self._mean()
        self.sd = self._sd()
        self._set_daily()

    def _mean(self) -> float:
        n = self.var.n
        if self.prior_sd < 0.0 or self.floor == 0.0:  # folded in, or custom: no prior once it has values
            return self.var.mean if n else self.prior_mean
        return (PRIOR_WEIGHT * self.prior_mean + n * self.var.mean) / (PRIOR_WEIGHT + n)

    def _sd(self) -> float:
        var = self.var
        n = var.n
        own = var.m2 / (n - 1) if n > 1 else 0.0
        if self.floor == 0.0:  # custom: no prior, a floor relative to the level
            floor = RELATIVE_FLOOR * abs(var.mean) + ABSOLUTE_FLOOR
            known = KNOWN_FLOORS.get(self.name)
            if known is not None and known > floor:
                floor = known
            spread = math.sqrt(own) if own > 0.0 else 0.0
            return spread if spread > floor else floor
        if self.prior_sd < 0.0:  # the prior is folded into the learned values
            spread = math.sqrt(own) if own > 0.0 else 0.0
            return spread if spread > self.floor else self.floor
        variance = (PRIOR_WEIGHT * self.prior_sd**2 + n * (own if own > 0.0 else 0.0)) / (PRIOR_WEIGHT + n)
        spread = math.sqrt(variance)
        return spread if spread > self.floor else self.floor

    def warm(self, cadence_ms: float) -> bool:
        """Warmed up: at least `WARMUP_MIN` values learned, spanning
        `WARMUP_MS` at this vital's cadence (`cadence_ms`, its typical time
        between readings)."""
        n = self.var.n
        return n >= WARMUP_MIN and n * cadence_ms >= WARMUP_MS

    def z(self, x: float) -> float:
        return (x - self.mean) / self.sd

    def established_sd(self) -> float:
        """The spread of the normal as established (`prior_mean`, once the
        prior is folded in): warm-up's, or the adopted drift's, kept as
        `-prior_sd`; the spread learned since where none was kept (-1: a
        state from before it was, a custom channel's). A spread kept of
        exactly 1 reads as none kept: no vital judged by it (pulse,
        systolic, breathing rate; `app.core.patient._off_established`) has
        a floor that low."""
        kept = self.prior_sd
        return -kept if kept < 0.0 and kept != -1.0 else self.sd

    def update(
        self,
        x: float,
        z: float,
        learn_below: float,
        sd: float | None = None,
        warm: bool | None = None,
        cadence_ms: float = 0.0,
        keep_out: float = KEEP_OUT,
        cos_t: float = 0.0,
        sin_t: float = 0.0,
        ts_ms: int = 0,
        routine: bool = False,
    ) -> bool:
        """Feed one clean value (with its z-score); return True on drift.

        The drift detector and the recent level see the value clipped to a few
        standard deviations: one spike (a motion artifact) must not look like
        a lasting change, or be adopted as the new baseline. Until `warm`
        (by default: `WARMUP` values learned) every value is learned
        (`_warm_up`); after, with a memory (`MEMORY_MS` at `cadence_ms`) and winsorised
        at `learn_below` standard deviations, the mean only from values
        within them, nothing from values at `keep_out` or beyond (an alarm
        is not a new normal: whether a lasting change is adopted is the
        caller's decision on drift). A `routine` value (a custom channel's
        daily routine, `daily_routine`) is no evidence of drift either.
        """
        sd = self.sd if sd is None else sd  # the caller usually has it already
        if warm and self.generic is not None and cadence_ms > 0.0 and self.profile[4] < 0.0:
            if cadence_ms <= SHAPE_MAX_CADENCE_MS:
                if self.shape is not None or self.grow:
                    self.learn_shape(x, sd, cos_t, sin_t, ts_ms, cadence_ms, -keep_out < z < keep_out)
            elif self.shape is not None and cadence_ms > 2 * SHAPE_MAX_CADENCE_MS:  # now read too seldom
                self.forget_shape()
        limit = RECENT_CLIP * sd
        move = x - self.recent
        self.recent += RECENT_ALPHA * (limit if move > limit else -limit if move < -limit else move)
        if warm is None:
            warm = self.var.n >= WARMUP
        if not warm:
            self._warm_up(x, sd, learn_below, keep_out)
        elif -keep_out < z < keep_out:
            self._learn(x, z, learn_below, sd, cadence_ms, cos_t, sin_t, ts_ms)
        if routine:
            return False
        z = PH_CLIP if z > PH_CLIP else -PH_CLIP if z < -PH_CLIP else z
        # Evidence counts per minute of event time (`w`, `PH_PER_MS`): a vital
        # read every 2 s adds a thirtieth of a minute's reading each time.
        w = cadence_ms / PH_PER_MS if 0.0 < cadence_ms < PH_PER_MS else 1.0
        return self.ph.update(z, PH_MIN_INSTANCES, PH_DELTA, PH_THRESHOLD, PH_ALPHA, w)

    def _warm_up(self, x: float, sd: float, below: float, keep_out: float) -> None:
        """One warm-up step (see `update`): every value is learned, a
        catalogue vital's winsorised at `below` SDs (its spread so far, the
        prior's included) around the mean of its values so far, the first at
        `keep_out` SDs around the prior's mean: one probe's SpO2 of 53 among
        the first charted values no longer makes a spread of 12 that hides
        every fall for a day, and a patient far from the population (a
        fever, a COPD patient's SpO2, 140 kg) is still theirs within a few
        values. A custom channel has no spread to go by yet: its values are
        learned as they are."""
        var = self.var
        if self.floor:
            if var.n:
                if var.n == 1.0 and self._first_cut_short(x, keep_out):
                    var.mean = x  # the first was out here too (see `_first_cut_short`)
                centre, limit = var.mean, below * sd
            else:
                centre, limit = self.prior_mean, keep_out * sd
            lo, hi = centre - limit, centre + limit
            var.update(hi if x > hi else lo if x < lo else x)
        else:
            var.update(x)
        self._refresh()

    def _first_cut_short(self, x: float, keep_out: float) -> bool:
        """Was the one value learned so far winsorised at `keep_out` SDs of
        the prior (`_warm_up`), and is `x`, the second, beyond that edge on the
        same side, in no range NEWS2 scores 3 (`DANGER`)? Then the patient is
        out there, not a first value's artifact: the first is learned as `x`.
        A 175 kg patient's first weight was learned as 150 (75 + 5 x 15 kg):
        the 25 kg left a spread of 4-5 kg and a mean 2 kg short after warm-up,
        and a 4 kg gain in 10 days raised nothing (an outside reviewer: below
        about 153 kg the same gain was told). A probe's SpO2 of 53, then 52,
        stays cut short (both score 3)."""
        edge = keep_out * (self.prior_sd if self.prior_sd > self.floor else self.floor)
        off = self.var.mean - self.prior_mean
        if self.prior_sd < 0.0 or abs(abs(off) - edge) > 1e-9 * edge or (x - self.var.mean) * off <= 0.0:
            return False
        danger = DANGER.get(self.name)
        if danger is None:
            return True
        low, high = danger
        return not ((low is not None and x <= low) or (high is not None and x >= high))

    def _learn(
        self, x: float, z: float, below: float, sd: float, cadence: float, cos_t: float, sin_t: float, ts: int
    ) -> None:
        """One robust, forgetting step of a warm baseline (see `update`): the
        residual from the forecast winsorised at `below` SDs; the count (the
        inverse of the step) stops at `MEMORY_MS` of readings at `cadence`."""
        var = self.var
        explain = False
        if self.prior_sd >= 0.0 and self.floor:
            self.fold_prior()
        n = var.n
        count = n if self.remembers(cadence) else n + 1.0
        a = 1.0 / count
        limit = below * sd
        day = ts // DAY_MS
        wk = self.weekly
        if wk is not None and day > wk[11]:  # `app.core.patient._model` has rolled it already
            self.roll_week(day)
        mean0 = var.mean
        level = x - mean0
        daily = self.daily
        hours = self.hours
        if hours is not None:
            r0 = level - hours[(ts % DAY_MS) // SHAPE_MS] + hours[_SHAPE_MEAN]
        else:
            r0 = level - daily[0] * cos_t - daily[1] * sin_t if daily is not None else level
        if wk is not None and day == wk[11]:  # the day's mean (older days' values are not counted)
            wk[13] += 1.0
            wk[12] += (r0 + mean0 - wk[12]) / wk[13]
        week = self.week
        d = r0 - week[(day + _EPOCH_WEEKDAY) % 7] if week is not None else r0
        if d > limit:
            d = limit
        elif d < -limit:
            d = -limit
        own = var.m2 / (n - 1) if n > 1 else 0.0
        own += a * (d * d - own)
        if -below < z < below:
            var.mean += a * d
            explain = self._learn_profile(level, a, count, cadence, cos_t, sin_t, ts)
        var.n = count
        var.m2 = own * (count - 1)
        floor = self.floor
        if floor:  # `_refresh`, inline (the prior is folded in by now)
            self.mean = var.mean
            # the variance as `_sd` reads it back from a decoded state, not `own`
            # itself (they can differ in the last bit: a restart must not)
            own = var.m2 / (count - 1) if count > 1 else 0.0
            spread = math.sqrt(own) if own > 0.0 else 0.0
            self.sd = spread if spread > floor else floor
        else:
            self._refresh()
        if self.profile[4] < 0.0:
            self._profiles_learned(explain, cadence, ts, day)

    def _profiles_learned(self, explain: bool, cadence: float, ts: int, day: int) -> None:
        """After a step with the daily profile learning: the forecast's daily
        part follows it (`_set_daily`), a custom channel whose profile has
        just begun has its spread explained (`explain`), and the weekly
        profile begins learning once read often enough for a day's mean (and
        the state has room: `grow`), or is forgotten once read too seldom for
        one."""
        self._set_daily()
        if explain:
            self._explain_spread()
        wk = self.weekly
        if wk is None and 0.0 < cadence <= WEEKLY_MAX_CADENCE_MS and self.grow:  # learned for a day
            self.weekly = [0.0] * 11 + [float(day), 0.0, 0.0]
        elif wk is not None and cadence > 2 * WEEKLY_MAX_CADENCE_MS:  # now read too seldom
            self.forget_week(ts)

    def _learn_profile(
        self, level: float, a: float, count: float, cadence_ms: float, cos_t: float, sin_t: float, ts_ms: int
    ) -> bool:
        """The daily profile's step: a first harmonic of the time of day, by
        least squares on each phase separately (uneven sampling, such as a
        cuff at 8 and 20 h, is normalised by the mean of cos^2 and sin^2
        actually seen); in use (`_set_daily`) a day after it began learning
        (`_profile_begun`), when its amplitude is at least PROFILE_MIN of the
        spread. A profile in use keeps the memory's step when an adoption
        restarts the count (`adopt`): the daily cycle did not move. True when
        a custom channel's profile has just begun and its spread is to be
        explained (`_explain_spread`)."""
        p = self.profile
        began = p[4]
        if count * cadence_ms < MEMORY_MS and began < 0.0 and cadence_ms > 0:
            a = cadence_ms / MEMORY_MS
        p[0] += a * (level * cos_t - p[0])
        p[1] += a * (level * sin_t - p[1])
        p[2] += a * (cos_t * cos_t - p[2])
        p[3] += a * (sin_t * sin_t - p[3])
        if began == 0.0 or 0.0 < began <= ts_ms - PROFILE_AFTER_MS:
            return self._profile_begun(ts_ms) and self.generic is not None
        return False

    def repeated(self, same: bool, stuck_readings: int) -> bool:
        """A custom channel's value again (`same`: equal to its previous one)
        or not; True while the channel is stuck: a run of `stuck_readings` or
        more identical values, over twice its usual longest run, on a channel
        whose learned spread makes repeats improbable, and which has been
        learned for a day (its daily profile's day, as before a custom
        channel raises anomalies): its usual runs are then known. Every run
        that ends lengthens the usual run to its own: a channel that sits at
        0 every night (steps) was flagged the first night, and on real
        recordings, a ring oximeter's motion index at 0 through a night's
        sleep, a watch's SpO2 confidence holding at 2, a monitor's pulse rate
        steady at 75 for 42 s at one value a second each opened a
        `signal_quality` alert within minutes of the first value."""
        g = self.generic
        if g is None:
            return False
        run, usual = g[4], g[5]
        if same:
            g[4] = run + 1
            return self.stuck(stuck_readings)
        if run > usual:
            g[5] = run
        g[4] = 0.0
        g[5] *= RUN_FORGET
        return False

    def stuck(self, stuck_readings: int) -> bool:
        """Is this custom channel stuck now (see `repeated`)?"""
        g = self.generic
        if g is None:
            return False
        run = g[4]
        return run >= stuck_readings and run > 2 * g[5] and self.profile[4] < 0.0 and self._varies()

    def _varies(self) -> bool:
        floor = RELATIVE_FLOOR * abs(self.var.mean) + ABSOLUTE_FLOOR
        return self.var.n >= WARMUP_MIN and self.sd >= STUCK_SPREAD * floor

    def daily_routine(self, ts_ms: int, z: float, far: bool, cadence_ms: float) -> bool:
        """Whether this value (its z-score `z`), at the anomaly threshold or
        beyond (`far`), belongs to the channel's daily routine
        (`RUNS_SLOTS`). Call it before `surprise`, which marks the value as
        far. The first value of a run is remembered (`_run_begun`); the
        run's values then say how long that day's run lasted and how far
        out it went. Only for a channel read at least every two
        `RUNS_WINDOW_MIN` (`cadence_ms`), whose routine's slack then spans
        at most a twelfth of its readings: read less often, a time of day
        says little (a channel read daily at 7 a.m. has every value, far or
        not, at its one time of day)."""
        g, runs = self.generic, self.runs
        if g is None or not far or not 0.0 < cadence_ms <= 2 * RUNS_WINDOW_MIN * 60_000:
            if runs is not None and runs[0]:
                runs[0] = 0
            return False
        day, minute = divmod(ts_ms // 60_000, _DAY_MIN)
        if runs is None:
            runs = self.runs = [0]
        if math.copysign(1.0, g[6]) > 0.0:  # a run begins
            runs[0] = _run_begun(runs, day, minute)
        size = math.ceil(z if z >= 0.0 else -z)
        i = runs[0]
        if i:  # how long today's run has lasted, how far out it went
            lasted = _circular(minute - runs[i])
            if runs[i + 2] < lasted <= RUNS_LONGEST_MIN:
                runs[i + 2] = lasted
            if size > runs[i + 6]:
                runs[i + 6] = size if size < RUNS_Z_MAX else RUNS_Z_MAX
        return _in_routine(runs, day, minute, size)

    def surprise(
        self, z: float, count: float, report: float = math.inf, far: bool = False, routine: bool = False
    ) -> float:
        """The calibrated surprise of a custom channel's value (its z-score
        against the forecast): how many of the channel's own standard
        deviations the short mean of its raw scores (|z|, capped) is above
        their usual mean; 0 until it has seen `SURPRISE_AFTER` of them.
        `count` is the baseline's memory in values. A surprise of `report`
        or more is reported once: the history then widens so that this short
        mean sits at a quarter of it (the new regime is known), and only a further
        change surprises again until the history has forgotten it. `far`:
        the value is at the anomaly threshold or beyond, for the channel's
        rate of runs of such values begun (`SPIKE_RARE`, `SPIKE_ROUTINE`).
        A value of the channel's daily routine (`routine`, `daily_routine`)
        is counted in that rate and otherwise left out, as a missing value
        is: its history, which sees the routine an hour a day, would
        otherwise take each night's a little higher than usual for a new
        regime, and the short mean would stay raised after it ends."""
        g = self.generic
        if g is None:
            return 0.0
        # The rate is of far runs begun (a far value after one that was not),
        # its sign whether the last value was far: an hourly job's two-reading
        # spike begins 24 runs a day, a morning's hour of congestion one.
        rate = g[6] if g[6] >= 0.0 else -g[6]
        begun = far and math.copysign(1.0, g[6]) > 0.0
        rate += ((1.0 if begun else 0.0) - rate) / (count if count > SPIKE_MEMORY_MIN else SPIKE_MEMORY_MIN)
        g[6] = -rate if far else rate
        if routine:
            return 0.0
        raw = z if z >= 0.0 else -z
        short = g[0] + SURPRISE_ALPHA * ((raw if raw < SURPRISE_CAP else SURPRISE_CAP) - g[0])
        g[0] = short
        seen = g[3]
        deviation = short - g[1]
        sd = math.sqrt(g[2]) if g[2] > 0.0 else 0.0
        surprise = 0.0
        if seen >= SURPRISE_AFTER:
            surprise = deviation / (sd if sd > SURPRISE_MIN_SD else SURPRISE_MIN_SD)
        count *= SURPRISE_MEMORY
        a = 1.0 / (seen + 1.0 if seen + 1.0 < count else count)
        if seen >= SURPRISE_AFTER:
            # The history learns each short mean winsorised at SURPRISE_WINSOR of its
            # SDs: a regime change must not widen it before it has been reported.
            limit = SURPRISE_WINSOR * (sd if sd > SURPRISE_MIN_SD else SURPRISE_MIN_SD)
            deviation = limit if deviation > limit else -limit if deviation < -limit else deviation
        g[1] += a * deviation
        g[2] += a * (deviation * deviation * (1 - a) - g[2])
        g[3] = seen + 1.0
        if surprise >= report:
            widened = (short - g[1]) / (report / 4)
            g[2] = widened * widened
        return surprise

    def _profile_begun(self, ts_ms: int) -> bool:
        """Note when the profile began learning; put it in use a day later
        (and return True then). A custom channel's run of repeats under way
        then is part of the day it learned (a wearer's night of 0 steps as
        that day ends): it counts as a usual run, not as a sensor stuck at
        the channel's first look (`repeated`)."""
        p = self.profile
        began = p[4]
        if began == 0.0:
            p[4] = float(ts_ms) or 1.0
        elif 0.0 < began <= ts_ms - PROFILE_AFTER_MS:
            p[4] = -began
            g = self.generic
            if g is not None and g[4] > g[5]:
                g[5] = g[4]
            return True
        return False

    def _explain_spread(self) -> None:
        """A custom channel's profile has just come into use: the spread
        learned so far includes the daily cycle, which the forecast now
        explains. The residual's variance is the total less the profile's
        (a least-squares fit: the two are orthogonal), at least a quarter of
        it; without this the spread would take days to forget the cycle."""
        daily, var, p = self.daily, self.var, self.profile
        if daily is None or var.n < 2:
            return
        own = var.m2 / (var.n - 1)
        explained = daily[0] ** 2 * p[2] + daily[1] ** 2 * p[3]
        var.m2 = max(own - explained, own / 4) * (var.n - 1)
        self._refresh()  # the daily part follows the spread (`_set_daily`)

    def _set_daily(self) -> None:
        """Whether the forecast uses the daily profile, and its coefficients:
        from stored values only, so a decoded baseline forecasts the same."""
        p = self.profile
        if p[4] >= 0.0:  # not in use yet
            self.daily = None
            return
        ca = p[0] / p[2] if p[2] > PROFILE_PHASE else 0.0
        cb = p[1] / p[3] if p[3] > PROFILE_PHASE else 0.0
        self.daily = [ca, cb] if ca * ca + cb * cb >= (PROFILE_MIN * self.sd) ** 2 else None

    def forecast(self, cos_t: float, sin_t: float, ts_ms: int = 0) -> float:
        """The expected value at a time of day (its cosine and sine) and, with
        the weekly profile in use, at event time `ts_ms`'s day of the week."""
        daily, week = self.daily, self.week
        if self.hours is not None:
            mean = self.mean + self.shape_offset(ts_ms)
        else:
            mean = self.mean + daily[0] * cos_t + daily[1] * sin_t if daily is not None else self.mean
        return mean + week[weekday(ts_ms)] if week is not None and ts_ms else mean

    def roll_week(self, day: int) -> None:
        """A value of a later `day` (days since 1 January 1970, UTC) than the
        one the weekly profile is accumulating: that day is closed
        (`_close_day`) and `day` begins. Called before the value is scored,
        so that a profile that comes into use does so for it."""
        w = self.weekly
        if w is None or day <= w[11]:
            return
        if w[13] > 0.0:
            self._close_day(int(w[11]), w[12])
        w[11], w[12], w[13] = float(day), 0.0, 0.0

    def _close_day(self, day: int, mean: float) -> None:
        """One day's mean (of its values less their daily profile) for the
        weekly profile: score it without and with the offset learned so far,
        learn its deviation from the trailing level, and put the profile in
        use or away (`WEEKLY_FIELDS`, and the constants' comment)."""
        w = self.weekly
        if w is None:
            return
        on = w[10] < 0.0
        n = -w[10] if on else w[10]
        if n == 0.0:  # the first day: the trailing level begins at its mean
            w[7], w[10] = mean, 1.0
            return
        i = (day + _EPOCH_WEEKDAY) % 7
        offset = w[i]
        deviation = mean - w[7]
        limit = WEEKLY_CLIP * self.sd
        without = max(-limit, min(limit, deviation))
        with_ = max(-limit, min(limit, deviation - offset))
        step = 1.0 / n if n < WEEKLY_MEMORY_DAYS else 1.0 / WEEKLY_MEMORY_DAYS
        w[8] += step * (without * without - w[8])
        w[9] += step * (with_ * with_ - w[9])
        weeks = (n - 1.0) // 7 + 1.0  # times this weekday has been seen, this one included
        w[i] = offset + (deviation - offset) / min(weeks, WEEKLY_OFFSET_WEEKS)
        w[7] += WEEKLY_LEVEL_STEP * (mean - w[i] - w[7])
        n += 1.0
        if n >= 7.0:  # every weekday seen: the offsets' mean goes to the level
            shift = sum(w[:7]) / 7
            for k in range(7):
                w[k] -= shift
            w[7] += shift
            if on:  # ... and to the forecast's mean, so that no forecast moves
                self.var.mean += shift
                self._refresh()
        w[10] = -n if on else n
        if not on and n >= WEEKLY_AFTER_DAYS and w[9] < WEEKLY_GAIN * w[8]:
            self._switch_week(i, True)
        elif on and w[9] > w[8]:
            self._switch_week(i, False)

    def _switch_week(self, i: int, on: bool) -> None:
        """Put the weekly profile in use (or away) at the end of a day of
        weekday `i`: the forecast's mean, that day's level, loses (or gets
        back) that day's offset."""
        w = self.weekly
        if w is None:
            return
        self.var.mean += -w[i] if on else w[i]
        w[10] = -w[10]
        self.week = w if on else None
        self._refresh()

    def forget_week(self, ts_ms: int) -> None:
        """Drop the weekly profile (a state over its bound keeps its room for
        baselines): put away at `ts_ms`'s day if in use. It learns afresh."""
        w = self.weekly
        if w is not None and w[10] < 0.0:
            self._switch_week(weekday(ts_ms), False)
        self.weekly = self.week = None

    def fold_prior(self) -> None:
        """At the end of warm-up (before the first value scored as warm: a
        value then too far from the blend of prior and values to be learned
        kept a 240 kg patient's baseline at 176 kg for good) the prior's mean
        becomes part of the learned mean, so that learning can forget it with everything else;
        its spread is dropped (the gap between population and patient is not
        this patient's spread). The two means are weighed by their precision
        (empirical Bayes): the prior's is one over the population's variance
        (`prior_sd` squared: how far patients' own means lie apart), the
        patient's is the values learned over their own variance. Blended as
        readings (`PRIOR_WEIGHT`), a weight of 82 kg would leave warm-up
        scored against 100 kg against the population's 75: a gap of many of
        the patient's spreads that kept the values out of learning and
        inflated the spread for weeks. Where the population's spread is close
        to a patient's (SpO2, heart rate) the blend barely moves."""
        var = self.var
        n = var.n
        own = var.m2 / (n - 1) if n > 1 else 0.0
        own = own if own > self.floor * self.floor else self.floor * self.floor
        between = self.prior_sd * self.prior_sd
        var.mean = (self.prior_mean * own + n * between * var.mean) / (own + n * between)
        self.prior_mean, self.prior_sd = var.mean, -1.0
        self._refresh()
        self.prior_sd = -self.sd  # the spread it was established with (`established_sd`)

    def track(self, x: float, ts_ms: int, sd: float, cadence_ms: float = 0.0) -> None:
        """Advance the trend to event time `ts_ms` with one clean value.

        The smoothing runs per minute of event time, or per reading when
        readings are further apart (`cadence_ms`): hourly charting gets a
        trend over several charted values, not a slope between two. A gap of
        more than `TREND_GAP_MS` and `TREND_GAP_CADENCES` readings starts it
        afresh."""
        dt_ms = ts_ms - self.t_ms
        if self.t_ms <= 0 or (dt_ms > TREND_GAP_MS and dt_ms > TREND_GAP_CADENCES * cadence_ms):
            self.level, self.slope, self.t_ms = x, 0.0, ts_ms
            return
        if dt_ms <= 0:
            return  # same instant, or older: the trend only moves forward
        dt = dt_ms / 60_000
        forecast = self.level + self.slope * dt
        error = x - forecast
        limit = RECENT_CLIP * sd
        if error > limit:
            error = limit
        elif error < -limit:
            error = -limit
        if dt_ms == 60_000 and cadence_ms <= MINUTE_MS:  # the common case: a reading a minute
            a, b = TREND_ALPHA, TREND_BETA
        else:
            steps = dt_ms / (cadence_ms if cadence_ms > MINUTE_MS else MINUTE_MS)
            weights = _TREND_WEIGHTS.get(steps)  # a few distinct steps per channel: two powers saved
            if weights is None:
                if len(_TREND_WEIGHTS) >= _TREND_WEIGHTS_MAX:
                    _TREND_WEIGHTS.clear()
                weights = (1 - (1 - TREND_ALPHA) ** steps, 1 - (1 - TREND_BETA) ** steps)
                _TREND_WEIGHTS[steps] = weights
            a, b = weights
        level = forecast + a * error
        self.slope += b * ((level - self.level) / dt - self.slope)
        self.level, self.t_ms = level, ts_ms

    def projection(self, minutes: float) -> float:
        """Where the trend puts this vital `minutes` after its last value."""
        return self.level + self.slope * minutes

    def shape_offset(self, ts_ms: int) -> float:
        """The shape's part of the forecast at event time `ts_ms`: its hour's
        mean less the hours' mean (0 when the shape is not in use)."""
        hours = self.hours
        return hours[(ts_ms % DAY_MS) // SHAPE_MS] - hours[_SHAPE_MEAN] if hours is not None else 0.0

    def learn_shape(
        self, x: float, sd: float, cos_t: float, sin_t: float, ts_ms: int, cadence_ms: float, learn: bool
    ) -> None:
        """Learn a warmed-up custom channel's value `x` (spread `sd`, event
        time `ts_ms`, its time of day's cosine and sine) into the shape of its
        day (`SHAPE_FIELDS`): the two forecasts' errors, then, if `learn` (it
        is not far out: an anomaly is no hour's normal), its hour's mean; then
        put the shape in use or away."""
        s = self.shape
        day = ts_ms // DAY_MS
        if s is None:
            s = self.shape = [0.0] * SHAPE_FIELDS
            s[_SHAPE_FIRST] = float(day + 1 if day >= 0 else 1)  # never 0: its sign is the flag
        week = self.week
        if week is not None:  # the hours are of the value less its day of the week's offset
            x -= week[(day + _EPOCH_WEEKDAY) % 7]
        h = (ts_ms % DAY_MS) // SHAPE_MS
        count = s[_SHAPE_COUNTS + h]
        limit = SHAPE_CLIP * sd
        if count > 0.0:
            daily = self.daily
            harmonic = x - self.mean - (daily[0] * cos_t + daily[1] * sin_t if daily is not None else 0.0)
            hourly = x - s[h]
            harmonic = limit if harmonic > limit else -limit if harmonic < -limit else harmonic
            hourly = limit if hourly > limit else -limit if hourly < -limit else hourly
            errors = s[_SHAPE_ERRORS] + 1.0
            a = cadence_ms / (SHAPE_ERR_DAYS * DAY_MS)
            if a < 1.0 / errors:  # a mean of all so far, until the memory is full
                a = 1.0 / errors
                s[_SHAPE_ERRORS] = errors
            s[_SHAPE_HARMONIC] += a * (harmonic * harmonic - s[_SHAPE_HARMONIC])
            s[_SHAPE_HOURS] += a * (hourly * hourly - s[_SHAPE_HOURS])
        if learn:
            memory = SHAPE_DAYS * SHAPE_MS / cadence_ms
            memory = memory if memory < SHAPE_COUNT_MAX else SHAPE_COUNT_MAX
            if count < memory:
                count += 1.0
                s[_SHAPE_COUNTS + h] = count
            move = x - s[h]
            if count > 2.0:  # one wild value moves an hour's mean as a value at the limit would
                move = limit if move > limit else -limit if move < -limit else move
            step = move / count
            s[h] += step
            s[_SHAPE_MEAN] += step / SHAPE_BINS
        first = s[_SHAPE_FIRST]
        if first >= 0.0:
            if (
                day + 1 - first >= SHAPE_AFTER_DAYS
                and s[_SHAPE_HOURS] < SHAPE_GAIN * s[_SHAPE_HARMONIC]
                and min(s[_SHAPE_COUNTS:]) > 0.0
            ):
                self._switch_shape(True)
        elif s[_SHAPE_HOURS] > s[_SHAPE_HARMONIC]:
            self._switch_shape(False)

    def _switch_shape(self, on: bool) -> None:
        """Put the shape of the day in use (or away): the spread
        becomes the new forecast's errors, the mean the hours' mean (the
        forecast is then each hour's), and the drift detector starts again
        (the scores it saw were against the other forecast)."""
        s = self.shape
        if s is None:
            return
        s[_SHAPE_FIRST] = -s[_SHAPE_FIRST]
        self.hours = s if on else None
        var = self.var
        if on:
            var.mean = s[_SHAPE_MEAN]
        if var.n > 1:
            # The new forecast's errors, no larger than the spread now when the
            # harmonic comes back (its errors were counted before it was learned).
            own = var.m2 / (var.n - 1)
            errors = s[_SHAPE_HOURS] if on else min(s[_SHAPE_HARMONIC], own)
            var.m2 = errors * (var.n - 1)
        self.ph = PageHinkley()
        self._refresh()

    def set_shape(self, shape: list[float]) -> None:
        """A shape of the day as decoded (`SHAPE_FIELDS`), in use if marked so."""
        self.shape = shape
        self.hours = shape if shape[_SHAPE_FIRST] < 0.0 else None

    def forget_shape(self) -> None:
        """Drop the shape of the day (a state over its bound keeps its room
        for baselines): put away if in use. It learns afresh."""
        if self.hours is not None:
            self._switch_shape(False)
        self.shape = self.hours = None

    def drift_level(
        self, x: float, cos_t: float = 0.0, sin_t: float = 0.0, ts_ms: int = 0, previous: Any = None
    ) -> float:
        """The level a drift detected at value `x` moved to: the recent level,
        or `x` itself when the recent level (which one value moves by a few
        standard deviations at most) has not caught up with a large step,
        one the channel's `previous` value (when known) had taken too. A value
        far beyond both is one value, not a level: a wearable's heart rate
        rising from 53 asleep to 60-76 awake, then one 89, was adopted at 89
        (an outsider's real recording), and every usual value after it was
        far below the patient's "normal" for six hours.
        Both are values at this time of day (its cosine and sine): the daily
        profile's part is taken out, and with the weekly profile in use that
        of the day of the week of `ts_ms`: the level is the forecast's mean."""
        recent = self.recent
        limit = RECENT_CLIP * self.sd
        level = x if abs(x - recent) > limit and _beyond(previous, recent, limit, x > recent) else recent
        daily, week = self.daily, self.week
        if self.hours is not None:
            level -= self.shape_offset(ts_ms)
        else:
            level = level - daily[0] * cos_t - daily[1] * sin_t if daily is not None else level
        return level - week[weekday(ts_ms)] if week is not None and ts_ms else level

    def adopt(self, cadence_ms: float = 0.0, level: float | None = None, span_ms: float = WARMUP_MS) -> None:
        """Take `level` (by default the recent level) as the new baseline,
        spread as the old one.

        The new baseline counts as already warmed up (`WARMUP` readings at
        that level and spread, or `WARMUP_MS` of them at `cadence_ms`): it is
        this patient's, so from the next reading on anomalous values stay out
        of learning. Learning everything again would let a deterioration that
        starts soon after a benign change become the baseline it is scored
        against. The drift detector restarts as if it had seen the new level
        `PH_MIN_INSTANCES` times: should the level still be moving (a large
        step adopted early), the next drift is detected within a few readings.
        """
        level = self.recent if level is None else level
        sd = self.sd
        # No prior to blend: the new level is this patient's, established with the old spread
        # (`established_sd`; a custom channel keeps none: it has no NEWS2 score to judge).
        self.prior_mean, self.prior_sd = level, -sd if self.generic is None else -1.0
        n = max(WARMUP, math.ceil(span_ms / cadence_ms)) if cadence_ms > 0 else WARMUP
        self.var = RunningVar.of(n, level, sd)
        self.recent = level
        self.ph = PageHinkley(n=float(PH_MIN_INSTANCES))
        self._refresh()

    def reject_drift(self) -> None:
        """Drift to an unsafe level: keep the baseline, restart the detector."""
        self.ph = PageHinkley()
