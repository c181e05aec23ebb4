"""Per-patient detection: the state a worker keeps for each patient, and the
one function that advances it by one reading.

For every reading, in event time:

1. Cleaning. A duplicate of the reading processed last (same id: a resend
   stored twice) is dropped. Values outside physiology
   (`app.core.vitals.is_artifact`) are marked as artifacts and go no further.
   A reading more than `Config.reorder_ms` older than the newest one already
   seen (a device replaying its offline buffer) updates the latest values it
   is newest for, and is neither learned nor scored; one within that window
   is current (a device clock set back after running ahead).
2. The learned model. Each modelled vital is scored against the patient's
   baseline (`app.core.model.Baseline`); anomalous values are kept out of
   learning. A drift (the level moved for good) is adopted as the new
   baseline only when the new level is clinically safe (NEWS2 scores the vital
   0); a drift into a range NEWS2 scores is a deterioration and keeps alerting.
   Either way a `baseline_drift` notice is emitted.
3. The safety net. NEWS2 from the latest value of each parameter (no older
   than `news2_max_age_ms`), independent of anything learned.
4. The lifecycle (`app.core.alerts.transition`): open once the condition has
   held for `confirm_ms` (a single artifact-like reading never alarms),
   escalate, and resolve once it has been gone for `resolve_after_ms`.

Everything depends only on the readings and their event times, so a replay
at any speed produces the same events.

The state is bounded whatever a device sends (docs/operations.md#patient-state):
baselines exist only for the catalogue's modelled vitals, alerts one per kind,
and the latest values of at most `MAX_CUSTOM_CHANNELS` custom channels are
kept (the least recently updated one is forgotten first); `encode` refuses a
state over `MAX_STATE_BYTES` (`StateError`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from app.core import news2
from app.core.alerts import Finding, OpenAlert, alert_id, event, transition
from app.core.errors import StateError
from app.core.model import WARMUP, Baseline
from app.core.records import ReadingBatch
from app.core.vitals import DANGER, MODELLED, NUMERIC, SPO2_SCALE2_DANGER

MAX_STATE_BYTES = 4096  # the bound on one patient's encoded state
MAX_CUSTOM_CHANNELS = 8  # custom channels whose latest value a patient's state keeps
STATE_VERSION = 3  # 2: baselines carry their prior (mean, sd); 3: and a trend
_READABLE_VERSIONS = (2, 3)  # a v2 baseline starts its trend afresh
KINDS = ("news2", "anomaly", "trend", "signal_quality")
PHYSIOLOGY = frozenset({"news2", "anomaly", "trend"})
ARTIFACT_ALPHA = 0.2  # smoothing of the share of readings carrying an artifact

_PLAUSIBLE = {name: vital.plausible for name, vital in NUMERIC.items()}
_CATALOGUE = frozenset(NUMERIC) | {"consciousness", "on_oxygen"}
_NEWS2_PARAMETERS = frozenset(news2.PARAMETERS)
_NEWS2_SEVERITY = {"high": "high", "medium": "medium", "low_medium": "low"}
# The NEWS2 parameter scorer for each modelled vital; a drift is only adopted
# when the new level scores 0. Diastolic pressure is not in NEWS2.
_SAFE_LEVEL = {
    "heart_rate": news2.pulse,
    "spo2": news2.spo2_scale1,
    "respiratory_rate": news2.respiratory_rate,
    "systolic_bp": news2.systolic_bp,
    "temperature": news2.temperature,
}


@dataclass(frozen=True, slots=True)
class Config:
    z_alert: float = 5.0  # |z| at which a vital is anomalous for this patient
    z_medium: float = 8.0  # |z| from which an anomaly is of medium severity
    learn_below: float = 3.0  # |z| below which a value is learned from
    news2_max_age_ms: int = 60 * 60 * 1000  # older latest values do not count
    resolve_after_ms: int = 10 * 60 * 1000  # a condition must be gone this long to resolve
    confirm_ms: int = 15 * 1000  # ... and hold this long, over two readings or more, to open
    personal_after: int = 120  # readings learned before a NEWS2 single-3 can be the patient's normal
    renotify_ms: int = 60 * 60 * 1000  # reminder while an alert stays open (NEWS2 medium: hourly)
    artifact_share: float = 0.3  # share of recent readings with artifacts that marks bad signal
    trend_horizon_ms: int = 15 * 60 * 1000  # how far ahead the trend looks for a dangerous range
    trend_z: float = 2.5  # how far (in SDs) a vital must have left its normal before its trend counts
    scale2: bool = False  # NEWS2 SpO2 scale 2 (hypercapnic target)
    # Readings up to this much older than the newest one seen are still
    # current (scored, learned, fed to NEWS2 and the lifecycle): a device
    # whose clock ran ahead by up to the gateway's future skew (5 min), then
    # was corrected, must not make its correctly stamped readings invisible.
    # Older readings (a replayed offline buffer) are out of order.
    reorder_ms: int = 5 * 60 * 1000


@dataclass(slots=True)
class PatientState:
    count: int = 0  # readings processed
    last_ts: int = 0  # newest event time processed, epoch ms
    last_id: str = ""  # id of the reading processed last, to drop its duplicates
    artifact_rate: float = 0.0  # smoothed share of recent readings carrying an artifact
    baselines: dict[str, Baseline] = field(default_factory=dict)
    latest: dict[str, list[Any]] = field(default_factory=dict)  # name -> [value, ts_ms]
    alerts: dict[str, OpenAlert] = field(default_factory=dict)


@dataclass(slots=True)
class Outcome:
    """What processing one reading did, for the shell's metrics."""

    events: list[dict[str, Any]] = field(default_factory=list)
    artifacts: int = 0
    out_of_order: bool = False
    duplicate: bool = False
    drifts: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RecordOutcome:
    """What processing one `vigil.readings` record did: its alert events and,
    for the shell's metrics, how many readings had each outcome
    (`READING_OUTCOMES`) and which vitals drifted."""

    events: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(READING_OUTCOMES, 0))
    drifts: list[str] = field(default_factory=list)


# scored: learned and scored; artifact: carried an implausible value (also
# counted as scored or out_of_order); out_of_order: older than the reorder
# window; duplicate: the reading processed last, again; future: stamped more
# than the reorder window after the record was received (only a producer
# other than the gateway can write one; it would hold the patient's clock).
READING_OUTCOMES = ("scored", "artifact", "out_of_order", "duplicate", "future")


def process_record(
    state: PatientState,
    batch: ReadingBatch,
    config: Config = Config(),
    patient: str | None = None,
) -> RecordOutcome:
    """Advance `state` (in place) by every reading of one record, in order."""
    result = RecordOutcome()
    counts = result.counts
    horizon = batch.received_ms + config.reorder_ms
    for reading in batch.readings:
        if reading["ts"] > horizon:
            counts["future"] += 1
            continue
        outcome = process(state, batch.patient, batch.device_id, reading, config, patient)
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
) -> Outcome:
    """Advance `state` (in place) by one reading from a `vigil.readings` record.

    `subject` is the patient's pseudonym, which keys the state and derives the
    alert ids; `patient` is the reference alert consumers act on, put in the
    alert events as it is.
    """
    ts: int = reading["ts"]
    vitals: dict[str, Any] = reading["vitals"]
    outcome = Outcome()
    if reading["id"] == state.last_id:
        outcome.duplicate = True  # the same reading stored twice (a resend): already counted
        return outcome

    clean: dict[str, Any] = {}
    latest = state.latest
    reorder_ms = config.reorder_ms
    for name, value in vitals.items():
        bounds = _PLAUSIBLE.get(name)
        if (
            bounds is not None
            and value.__class__ is not bool
            and isinstance(value, (int, float))
            and not bounds[0] <= value <= bounds[1]
        ):
            outcome.artifacts += 1  # outside physiology (app.core.vitals.is_artifact)
            continue
        clean[name] = value
        previous = latest.get(name)
        # Newer values replace older ones; within the reorder window, the
        # value that arrived last wins (a device clock corrected backwards).
        if previous is None or previous[1] <= ts + reorder_ms:
            if name not in _CATALOGUE:
                _keep_custom(latest, name)
            latest[name] = [value, ts]

    if ts < state.last_ts - reorder_ms:
        outcome.out_of_order = True
        return outcome
    if ts > state.last_ts:
        state.last_ts = ts
    state.last_id = reading["id"]
    state.count += 1
    state.artifact_rate += ARTIFACT_ALPHA * ((1.0 if outcome.artifacts else 0.0) - state.artifact_rate)

    z_scores: dict[str, float] = {}
    near: list[str] = []
    horizon = config.trend_horizon_ms / 60_000
    for name in MODELLED:
        x = clean.get(name)
        if x is None:
            continue
        baseline = state.baselines.get(name)
        if baseline is None:
            baseline = state.baselines[name] = Baseline.prior(name)
        old_mean, sd = baseline.mean, baseline.sd
        z = (x - old_mean) / sd
        z_scores[name] = z
        baseline.track(x, ts, sd)
        if baseline.slope and name in DANGER:
            ahead = baseline.level + baseline.slope * horizon
            low, high = DANGER[name] if name != "spo2" or not config.scale2 else SPO2_SCALE2_DANGER
            if (low is not None and ahead <= low < baseline.level) or (
                high is not None and baseline.level < high <= ahead
            ):
                near.append(name)  # heading for danger; _heading checks the rest
        if baseline.update(x, z, config.learn_below, sd):
            safe_level = _SAFE_LEVEL.get(name)
            adopted = safe_level is None or safe_level(baseline.recent) == 0
            if adopted:
                baseline.adopt()
            else:
                baseline.reject_drift()
            outcome.drifts.append(name)
            outcome.events.append(
                _drift_event(subject, patient, device_id, reading, name, old_mean, baseline.recent, adopted)
            )

    findings: dict[str, Finding] = {}
    evidence: dict[str, dict[str, Any]] = {}

    oldest = ts - config.news2_max_age_ms
    current = {
        name: value for name, (value, when) in latest.items() if when >= oldest and name in _NEWS2_PARAMETERS
    }
    score = news2.score(current, config.scale2)
    band = score.band
    # Evidence is built only when a finding or an open alert needs it: most
    # readings raise nothing, and this is the hot path.
    if band in _NEWS2_SEVERITY or "news2" in state.alerts:
        evidence["news2"] = {
            "score": score.total,
            "band": band,
            "complete": score.complete,
            "subscores": score.subscores,
            "vitals": {k: current[k] for k, s in score.subscores.items() if s > 0},
        }
    if band in _NEWS2_SEVERITY:
        deviating = [
            name for name, sub in score.subscores.items() if sub and _deviates(state, name, current[name], config)
        ]
        # Below the high band, a trigger made only of this patient's
        # established normals does not alarm (personalised limits). The
        # medium and high bands alarm at once when two or more vitals moved:
        # one faulty sensor cannot do that; otherwise they wait for
        # confirmation like the rest.
        if deviating or band == "high":
            severity = _NEWS2_SEVERITY[band]
            urgent = band in ("medium", "high") and len(deviating) >= 2
            findings["news2"] = Finding("news2", severity, evidence["news2"], urgent)

    anomalous = {
        k: z for k, z in z_scores.items() if abs(z) >= config.z_alert and state.baselines[k].n >= WARMUP
    }
    if anomalous or "anomaly" in state.alerts:
        worst = max(z_scores, key=lambda k: abs(z_scores[k]), default=None)
        evidence["anomaly"] = {
            "score": round(abs(z_scores[worst]), 2) if worst else 0.0,
            "vitals": {k: clean[k] for k in anomalous},
            "z": {k: round(z, 2) for k, z in anomalous.items()},
            "baseline": {k: round(state.baselines[k].mean, 2) for k in anomalous},
        }
    if anomalous:
        top = max(abs(z) for z in anomalous.values())
        severity = "medium" if top >= config.z_medium else "low"
        # Two vitals far from this patient's normal at once: not one sensor's artifact.
        findings["anomaly"] = Finding("anomaly", severity, evidence["anomaly"], urgent=len(anomalous) >= 2)

    # Predictive: a vital that has left this patient's normal and, at its
    # current pace, reaches a dangerous range within the horizon. Once it is
    # there, NEWS2 and the anomaly score carry on; while either is already
    # alarming, the trend adds no alert of its own.
    heading = {}
    if near and not _alarming(state):
        heading = _heading(state, near, config)
    if heading or "trend" in state.alerts:
        evidence["trend"] = {"horizon_min": config.trend_horizon_ms / 60_000, "vitals": heading}
    if heading:
        findings["trend"] = Finding("trend", "low", evidence["trend"])

    # A device sending artifacts again and again (a loose probe) mutes new
    # physiology alerts for this patient until its signal is good again; it
    # raises its own `signal_quality` alert instead. Urgent findings (two or
    # more vitals moving) are never muted.
    if state.artifact_rate >= config.artifact_share or "signal_quality" in state.alerts:
        evidence["signal_quality"] = {"artifact_share": round(state.artifact_rate, 2)}
    if state.artifact_rate >= config.artifact_share:
        findings["signal_quality"] = Finding("signal_quality", "low", evidence["signal_quality"], urgent=True)
    quality = state.alerts.get("signal_quality")
    muted = PHYSIOLOGY if quality is not None and quality.confirmed else frozenset()

    for status, kind, alert, finding in transition(
        state.alerts, KINDS, findings, ts, config.resolve_after_ms, config.confirm_ms, config.renotify_ms, muted
    ):
        outcome.events.append(
            event(
                subject=subject,
                patient=patient,
                device_id=device_id,
                status=status,
                kind=kind,
                severity=alert.severity,
                opened_ms=alert.opened_ms,
                event_ms=ts,
                reading_id=reading["id"],
                evidence=finding.evidence if finding else evidence[kind],
            )
        )
    return outcome


def _keep_custom(latest: dict[str, list[Any]], name: str) -> None:
    """Make `name` the most recently updated custom channel, forgetting the
    least recently updated one when the patient already has
    `MAX_CUSTOM_CHANNELS` (dicts keep insertion order)."""
    if name in latest:
        del latest[name]
        return
    custom = [k for k in latest if k not in _CATALOGUE]
    if len(custom) >= MAX_CUSTOM_CHANNELS:
        del latest[custom[0]]


def _alarming(state: PatientState) -> bool:
    news, anomaly = state.alerts.get("news2"), state.alerts.get("anomaly")
    return (news is not None and news.confirmed) or (anomaly is not None and anomaly.confirmed)


def _heading(state: PatientState, near: list[str], config: Config) -> dict[str, dict[str, float]]:
    """Of the vitals whose trend reaches a dangerous range
    (`app.core.vitals.DANGER`) within the horizon and that are not there yet
    (`near`), those the patient has a baseline for (`WARMUP` readings) and
    whose smoothed level has already left it by `trend_z` standard deviations
    in that direction: a wobble inside the normal range, or a benign slow
    drift far from danger, does not count."""
    horizon = config.trend_horizon_ms / 60_000
    found: dict[str, dict[str, float]] = {}
    for name in near:
        baseline = state.baselines[name]
        if baseline.n < WARMUP:
            continue
        level, slope = baseline.level, baseline.slope
        departure = (level - baseline.mean) / baseline.sd
        if slope < 0 and departure <= -config.trend_z:
            limit = DANGER[name][0] if name != "spo2" or not config.scale2 else SPO2_SCALE2_DANGER[0]
        elif slope > 0 and departure >= config.trend_z:
            limit = DANGER[name][1]
        else:
            continue
        assert limit is not None  # `near` only holds vitals heading for a bound they have
        found[name] = {
            "level": round(level, 1),
            "slope_per_min": round(slope, 2),
            "projected": round(level + slope * horizon, 1),
            "limit": limit,
            "minutes_to_limit": round((limit - level) / slope, 1),
        }
    return found


def _deviates(state: PatientState, name: str, value: Any, config: Config) -> bool:
    """Is this value away from the patient's established normal? Parameters
    the model does not learn (consciousness, oxygen), or has learned from fewer
    than `personal_after` readings, always count as deviating: personalised
    limits apply only to values the patient is known to live with (an
    athlete's slow pulse; SpO2 and breathing rate with COPD, for whom the
    chart's scale 2 would be prescribed)."""
    baseline = state.baselines.get(name)
    return baseline is None or baseline.n < config.personal_after or abs(baseline.z(value)) >= 2.5


def _drift_event(
    subject: str,
    patient: str | None,
    device_id: str,
    reading: dict[str, Any],
    vital: str,
    old_mean: float,
    new_level: float,
    adopted: bool,
) -> dict[str, Any]:
    ts = reading["ts"]
    return event(
        subject=subject,
        patient=patient,
        device_id=device_id,
        status="notice",
        kind="baseline_drift",
        severity="low",
        opened_ms=ts,
        event_ms=ts,
        reading_id=reading["id"],
        evidence={
            "vital": vital,
            "from": round(old_mean, 2),
            "to": round(new_level, 2),
            "adopted": adopted,
        },
        episode_id=alert_id(subject, f"baseline_drift/{vital}", ts),
    )


# -- explicit, versioned encoding (never pickle) -------------------------------


def encode(state: PatientState) -> bytes:
    """The state's bytes, at most `MAX_STATE_BYTES`. Custom channels'
    latest values are the only part that can be dropped to fit (they are not
    modelled); a state that still does not fit raises `StateError`."""
    data = _encode(state)
    if len(data) > MAX_STATE_BYTES:
        for name in [k for k in state.latest if k not in _CATALOGUE]:
            del state.latest[name]
        data = _encode(state)
        if len(data) > MAX_STATE_BYTES:
            raise StateError(f"patient state exceeds {MAX_STATE_BYTES} bytes")
    return data


def _encode(state: PatientState) -> bytes:
    return orjson.dumps(
        {
            "v": STATE_VERSION,
            "n": state.count,
            "t": state.last_ts,
            "i": state.last_id,
            "q": round(state.artifact_rate, 4),
            "b": {name: b.to_list() for name, b in state.baselines.items()},
            "l": state.latest,
            "a": {
                kind: [a.opened_ms, a.severity, a.clear_since_ms, a.confirmed, a.notified_ms]
                for kind, a in state.alerts.items()
            },
        }
    )


def decode(data: bytes) -> PatientState:
    try:
        obj = orjson.loads(data)
        if obj.get("v") not in _READABLE_VERSIONS:
            raise StateError("unknown patient state version")
        return PatientState(
            count=obj["n"],
            last_ts=obj["t"],
            last_id=obj.get("i", ""),
            artifact_rate=obj.get("q", 0.0),
            baselines={name: Baseline.from_list(name, v) for name, v in obj["b"].items()},
            latest=obj["l"],
            alerts={kind: OpenAlert(*fields) for kind, fields in obj["a"].items()},
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StateError("undecodable patient state") from exc
