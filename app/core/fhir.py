"""FHIR R4 vital-signs Observations, mapped onto native readings.

A device may send an Observation (vital-signs profile) instead of a native
reading, and a Bundle of them instead of a batch. Each is turned into the
native reading it stands for, which `app.core.protocol` then validates like
any other:

- `seq`: the Observation's identifier with system `urn:vigil:seq` (FHIR has
  no sequence number of its own; the gateway acknowledges by it);
- `ts`: `effectiveDateTime` (or `effectiveInstant`);
- the vital: the LOINC code in `code.coding` (table below; the blood-pressure
  panel 85354-9 carries systolic, diastolic and mean as components);
- the value: `valueQuantity`, converted from its UCUM unit to Vigil's
  canonical one (°F to °C, lb and g to kg, kPa to mmHg);
- `subject.reference` `Patient/<id>`, when present, must be the device's own
  patient (the gateway checks it).

Codes and units: FHIR R4 vital-signs profile, LOINC and UCUM, as listed in
../shared/reference/clinical.md.
"""

from __future__ import annotations

from typing import Any

from app.core.errors import Code, Refusal
from app.core.vitals import NUMERIC

LOINC = "http://loinc.org"
SEQ_SYSTEM = "urn:vigil:seq"
BP_PANEL = "85354-9"
_PANEL_PARTS = ("8480-6", "8462-4", "8478-0")  # its components: systolic, diastolic, mean
SEQ_DIGITS = 16  # 2^53-1, the largest seq, has 16 digits

VITAL_BY_LOINC = {
    "8867-4": "heart_rate",
    "9279-1": "respiratory_rate",
    "2708-6": "spo2",
    "59408-5": "spo2",
    "8310-5": "temperature",
    "29463-7": "weight",
    "8480-6": "systolic_bp",
    "8462-4": "diastolic_bp",
    "8478-0": "mean_bp",
}

_PER_MIN = {"/min": 1.0, "{beats}/min": 1.0, "{breaths}/min": 1.0, "{Beats}/min": 1.0}
_MMHG = {"mm[Hg]": 1.0, "mmHg": 1.0, "kPa": 7.500617}
# (factor, offset): canonical = value * factor + offset
UNITS: dict[str, dict[str, tuple[float, float]]] = {
    "heart_rate": {u: (f, 0.0) for u, f in _PER_MIN.items()},
    "respiratory_rate": {u: (f, 0.0) for u, f in _PER_MIN.items()},
    "spo2": {"%": (1.0, 0.0)},
    "temperature": {"Cel": (1.0, 0.0), "[degF]": (5 / 9, -32 * 5 / 9)},
    "weight": {"kg": (1.0, 0.0), "g": (0.001, 0.0), "[lb_av]": (0.45359237, 0.0)},
    "systolic_bp": {u: (f, 0.0) for u, f in _MMHG.items()},
    "diastolic_bp": {u: (f, 0.0) for u, f in _MMHG.items()},
    "mean_bp": {u: (f, 0.0) for u, f in _MMHG.items()},
}


def is_fhir(obj: dict[str, Any]) -> bool:
    return "resourceType" in obj


def bundle_entries(bundle: dict[str, Any]) -> list[Any]:
    entries = bundle.get("entry")
    if entries is None:
        raise Refusal(Code.MISSING_FIELD, "bundle has no entry", field="entry")
    if not isinstance(entries, list):
        raise Refusal(Code.WRONG_TYPE, "bundle entry must be an array", field="entry")
    return [e.get("resource") if isinstance(e, dict) else e for e in entries]


def to_reading(obs: Any) -> dict[str, Any]:
    """The native reading an Observation stands for (not yet validated)."""
    if not isinstance(obs, dict):
        raise Refusal(Code.WRONG_TYPE, "bundle entries must hold Observation resources", field="entry")
    if obs.get("resourceType") != "Observation":
        raise Refusal(Code.UNKNOWN_TYPE, "only Observation resources are accepted", field="resourceType")
    seq = _seq(obs)
    if obs.get("status") == "entered-in-error":
        raise Refusal(Code.OUT_OF_RANGE, "observation was entered in error", seq, "status")
    reading: dict[str, Any] = {
        "type": "reading",
        "seq": seq,
        "ts": obs.get("effectiveDateTime", obs.get("effectiveInstant")),
        "vitals": _vitals(obs, seq),
    }
    subject = obs.get("subject")
    if subject is not None:
        reference = subject.get("reference") if isinstance(subject, dict) else None
        if not isinstance(reference, str) or not reference.startswith("Patient/"):
            raise Refusal(Code.WRONG_TYPE, "subject must reference a Patient", seq, "subject")
        reading["patient"] = reference.removeprefix("Patient/")
    return reading


def _seq(obs: dict[str, Any]) -> int:
    """The `urn:vigil:seq` identifier: ASCII digits only (`str.isdigit` and
    `int` also take other scripts' digits, superscripts among them)."""
    identifiers = obs.get("identifier")
    if isinstance(identifiers, list):
        for ident in identifiers:
            if isinstance(ident, dict) and ident.get("system") == SEQ_SYSTEM:
                value = ident.get("value")
                if isinstance(value, str) and value.isascii() and value.isdigit():
                    if len(value) <= SEQ_DIGITS:
                        return int(value)  # above 2^53-1 it is refused like a native seq
                    raise Refusal(Code.OUT_OF_RANGE, "seq must be between 0 and 2^53-1", field="identifier")
                raise Refusal(
                    Code.WRONG_TYPE, "urn:vigil:seq identifier must be a decimal integer", field="identifier"
                )
    raise Refusal(Code.MISSING_FIELD, "observation has no urn:vigil:seq identifier", field="identifier")


def _loinc(concept: Any) -> str | None:
    if not isinstance(concept, dict) or not isinstance(concept.get("coding"), list):
        return None
    for coding in concept["coding"]:
        if (
            isinstance(coding, dict)
            and coding.get("system") == LOINC
            and coding.get("code")
            in (
                *VITAL_BY_LOINC,
                BP_PANEL,
            )
        ):
            code: str = coding["code"]
            return code
    return None


def _vitals(obs: dict[str, Any], seq: int) -> dict[str, Any]:
    code = _loinc(obs.get("code"))
    if code is None:
        raise Refusal(Code.UNKNOWN_TYPE, "observation code is not a supported LOINC vital sign", seq, "code")
    if code == BP_PANEL:
        components = obs.get("component")
        if not isinstance(components, list) or not components:
            raise Refusal(Code.MISSING_FIELD, "blood pressure panel has no component", seq, "component")
        vitals = {}
        for component in components:
            sub = _loinc(component.get("code")) if isinstance(component, dict) else None
            if sub not in _PANEL_PARTS:
                raise Refusal(
                    Code.UNKNOWN_TYPE,
                    "blood pressure component must be 8480-6, 8462-4 or 8478-0",
                    seq,
                    "component",
                )
            name = VITAL_BY_LOINC[sub]
            vitals[name] = _quantity(component.get("valueQuantity"), name, seq)
        return vitals
    name = VITAL_BY_LOINC[code]
    return {name: _quantity(obs.get("valueQuantity"), name, seq)}


def _quantity(quantity: Any, name: str, seq: int) -> Any:
    if quantity is None:
        raise Refusal(Code.MISSING_FIELD, f"{name} has no valueQuantity", seq, "valueQuantity")
    if not isinstance(quantity, dict):
        raise Refusal(Code.WRONG_TYPE, "valueQuantity must be an object", seq, "valueQuantity")
    value = quantity.get("value")
    unit = quantity.get("code", quantity.get("unit"))
    conversion = UNITS[name].get(unit) if isinstance(unit, str) else None
    if conversion is None:
        raise Refusal(Code.WRONG_TYPE, f"unit not supported for {name}", seq, "valueQuantity")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return value  # left for the native validation to refuse with its own message
    factor, offset = conversion
    if factor == 1.0 and offset == 0.0:
        return value
    try:
        return round(value * factor + offset, 3)
    except (OverflowError, ValueError):  # an integer no float holds, or inf
        raise Refusal(Code.OUT_OF_RANGE, f"{name} is out of range", seq, "valueQuantity") from None


# -- alerts out: FHIR R4 DetectedIssue -------------------------------------------

LOINC_BY_VITAL = {
    "heart_rate": "8867-4",
    "respiratory_rate": "9279-1",
    "spo2": "59408-5",
    "temperature": "8310-5",
    "weight": "29463-7",
    "systolic_bp": "8480-6",
    "diastolic_bp": "8462-4",
    "mean_bp": "8478-0",
}
_SEVERITY = {"low": "low", "medium": "moderate", "high": "high"}
# DetectedIssue.status takes the Observation status codes.
_STATUS = {
    "open": "preliminary",
    "escalated": "amended",
    "reminder": "preliminary",
    "resolved": "final",
    "notice": "final",
}
_KIND_TEXT = {
    "news2": "NEWS2 early-warning score in a trigger band",
    "anomaly": "vital signs far from this patient's learned baseline",
    "trend": "a vital sign heading for a dangerous range, or shifting or drifting as deterioration moves it",
    "baseline_drift": "a lasting change in this patient's baseline",
    "signal_quality": "a channel keeps sending artifacts; its values are kept out of detection",
    "no_signal": "a channel sends no signal (sensor not connected)",
}


def heading(evidence: dict[str, Any]) -> str:
    """A `trend` alert's evidence in words (also `vigil alerts`' line), per
    finding behind it (docs/alerts.md): vitals heading for a dangerous range,
    a slowly read vital whose level has shifted, a weight gain by the
    heart-failure rule, a blood pressure at its severe limit, several vitals
    whose normal drifted the way a deterioration moves them."""
    vitals = {name: v for name, v in evidence.get("vitals", {}).items() if isinstance(v, dict)}
    found: dict[str, list[str]] = {}
    for name, v in vitals.items():
        if "projected" in v:
            found.setdefault("heading for a dangerous range", []).append(
                f"{name} {v.get('level')} -> {v.get('projected')} "
                f"(limit {v.get('limit')} in {v.get('minutes_to_limit')} min)"
            )
        if "cusum" in v:
            found.setdefault("level shifted", []).append(
                f"{name} {v.get('level')} ({_signed(v.get('change'))} since {v.get('since')})"
            )
        if "lowest" in v:
            low = f"the lowest, {v.get('lowest')}, at {v.get('lowest_at')}"
            gained = f"{_signed(v.get('gain'))} kg over {low}"
            found.setdefault("weight gain of 2 kg or more in 3 days", []).append(
                f"{name} {v.get('level')} ({gained})"
            )
        if "severe_since" in v:
            words = "mean pressure under 65, confirmed" if name == "mean_bp" else None
            found.setdefault(words or "blood pressure at or above 180/120, confirmed", []).append(
                f"{name} {v.get('level')} (limit {v.get('limit')}, since {v.get('severe_since')})"
            )
        if "drifted_to" in v:
            found.setdefault("normal drifting the way a deterioration moves it", []).append(
                f"{name} {v.get('drifted_from')} -> {v.get('drifted_to')}"
            )
    parts = [f"{words}: {', '.join(each)}" for words, each in found.items()]
    return "; ".join(parts) or "no vital heading for danger, shifted or drifting now"  # a resolution's


def signal_words(evidence: dict[str, Any]) -> str:
    """A `no_signal` notice's evidence in words (also `vigil alerts`' line):
    the channel, lost or restored, and since when it had no usable value."""
    why = "only values flagged as moving" if evidence.get("cause") == "motion" else "no signal"
    return f"{evidence.get('vital')} signal {evidence.get('signal')} ({why} since {evidence.get('since')})"


# `unit` evidence in words: the unit a value looks like, where "in <unit>" is not English.
_UNIT_WORDS = {"fraction": "as a fraction of 1"}


def _catalogue_unit(name: str) -> str:
    vital = NUMERIC.get(name)
    return vital.unit if vital is not None else "its unit"


def quality_words(evidence: dict[str, Any]) -> str:
    """A `signal_quality` alert's evidence in words (also `vigil alerts`'
    line): the channels sending artifacts, with their share, those stuck at
    one value and those whose value came in another unit (docs/alerts.md); a
    resolution's evidence has none."""
    vitals, stuck, unit = evidence.get("vitals"), evidence.get("stuck"), evidence.get("unit")
    vitals = vitals if isinstance(vitals, dict) else {}
    stuck = stuck if isinstance(stuck, dict) else {}
    unit = unit if isinstance(unit, dict) else {}
    parts = [f"{name} stuck at {value} (a flat line)" for name, value in stuck.items()]
    parts += [
        f"{name} sent {_UNIT_WORDS.get(str(value), f'in {value}')}, not {_catalogue_unit(name)} "
        "(the device's setting)"
        for name, value in unit.items()
    ]
    noisy = [name for name in vitals if name not in stuck and name not in unit]
    if noisy:
        share = evidence.get("artifact_share", 0)
        share = f"{share:.0%}" if isinstance(share, int | float) else str(share)
        parts.insert(0, f"{share} of recent {', '.join(noisy)} values are artifacts")
    if not parts:
        return "no channel sending artifacts or stuck now"  # a resolution's
    return "; ".join(parts) + "; kept out of detection"


def _signed(change: Any) -> str:
    return f"{change:+}" if isinstance(change, int | float) and not isinstance(change, bool) else str(change)


def detected_issue(alert: dict[str, Any]) -> dict[str, Any]:
    """An alert event (schema vigil.alert/1) as a FHIR R4 DetectedIssue."""
    evidence = alert.get("evidence", {})
    values = evidence.get("vitals", {}) if isinstance(evidence.get("vitals"), dict) else {}
    if alert.get("kind") == "baseline_drift":
        values = {evidence.get("vital"): evidence.get("to")}
    elif alert.get("kind") == "trend":
        values = {
            name: v.get("level", v.get("drifted_to")) for name, v in values.items() if isinstance(v, dict)
        }
    issue: dict[str, Any] = {
        "resourceType": "DetectedIssue",
        "id": alert["alert_id"],
        "identifier": [{"system": "urn:vigil:alert-id", "value": alert["alert_id"]}],
        "status": _STATUS.get(alert.get("status", ""), "unknown"),
        "severity": _SEVERITY.get(alert.get("severity", ""), "low"),
        "code": {
            "coding": [{"system": "urn:vigil:alert-kind", "code": alert.get("kind")}],
            "text": _KIND_TEXT.get(alert.get("kind", ""), alert.get("kind")),
        },
        "identifiedDateTime": alert.get("event_time"),
        "detail": _detail(alert, evidence),
        "evidence": [
            {
                "code": [
                    {
                        "coding": [{"system": LOINC, "code": LOINC_BY_VITAL[name]}],
                        "text": f"{name} {value}",
                    }
                ]
            }
            for name, value in values.items()
            if name in LOINC_BY_VITAL
        ],
    }
    if alert.get("patient"):
        issue["patient"] = {"reference": f"Patient/{alert['patient']}"}
    return issue


def _detail(alert: dict[str, Any], evidence: dict[str, Any]) -> str:
    status = alert.get("status")
    if alert.get("kind") == "news2":
        return f"{status}: NEWS2 {evidence.get('score')} ({evidence.get('band')})"
    if alert.get("kind") == "anomaly":
        return f"{status}: largest deviation {evidence.get('score')} standard deviations"
    if alert.get("kind") == "trend":
        return f"{status}: {heading(evidence)}"
    if alert.get("kind") == "signal_quality":
        return f"{status}: {quality_words(evidence)}"
    if alert.get("kind") == "no_signal":
        return f"{status}: {signal_words(evidence)}"
    return f"{status}: {evidence.get('vital')} baseline {evidence.get('from')} -> {evidence.get('to')}"
