"""The device protocol, as pure functions: frames in, readings and refusals out.

A device sends JSON text frames (docs/protocol.md):

    {"type": "reading", "seq": 17, "ts": "2026-11-29T17:00:00.000Z",
     "vitals": {"heart_rate": 72, "spo2": 97}}
    {"type": "batch", "readings": [<reading>, ...]}

or a FHIR R4 Observation (a Bundle of them for a batch), mapped by
`app.core.fhir`. `parse_frame` turns one frame into the readings it accepts and a `Refusal` for
each it does not; one bad reading in a batch never takes its neighbours down.
It is total: whatever the input (deep nesting, numbers no float holds, digits
of other scripts), it returns and never raises. It reads no clock: the caller
passes `now_ms`, the receipt time, so the timestamp window is checked against it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeGuard

import orjson

from app.core import fhir
from app.core.errors import Code, Refusal
from app.core.vitals import (
    ACVPU,
    CUSTOM_ABS_MAX,
    CUSTOM_NAME_MAX,
    MOTION,
    NAMED,
    NUMERIC,
    SPO2_SCALE,
    SPO2_SCALES,
)

PROTOCOL_VERSION = 1
# The largest integer an IEEE double (and so every JSON library) holds
# exactly: a seq above it could not be read back the same by a device or a tool.
SEQ_MAX = 2**53 - 1
MAX_VITALS = 64
_INT_DIGITS = 4000  # Python converts at most 4,300 digits (`sys.get_int_max_str_digits`)
_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


@dataclass(frozen=True, slots=True)
class Limits:
    """What one frame may hold. Defaults suit real devices (docs/protocol.md)."""

    max_frame_bytes: int = 64 * 1024
    max_batch: int = 500
    max_future_ms: int = 5 * 60 * 1000  # device clocks drift; 5 minutes of slack
    max_past_ms: int = 7 * 24 * 3600 * 1000  # devices buffer while offline


@dataclass(frozen=True, slots=True)
class Reading:
    """One accepted reading: the device's sequence number, event time, vitals."""

    seq: int
    ts_ms: int
    vitals: dict[str, Any]
    patient: str | None = None  # optional; must then be the device's own patient


@dataclass(slots=True)
class ParsedFrame:
    kind: str  # "hello", "reading", "batch", or "invalid"
    readings: list[Reading] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)


def parse_frame(data: str | bytes, now_ms: int, limits: Limits = Limits()) -> ParsedFrame:
    """Parse one device frame received at `now_ms` (epoch milliseconds).

    Never raises: a reading that fails in a way not foreseen below is refused
    alone (`wrong_type`), and every refusal gets a `fingerprint`."""
    try:
        parsed = _parse(data, now_ms, limits)
    except Exception:  # noqa: BLE001 - one frame must never take the connection down
        parsed = _invalid(Code.WRONG_TYPE, "frame could not be read")
    _fingerprint(parsed, data)
    return parsed


def with_non_finite(exc: orjson.JSONDecodeError) -> Any:
    """A frame orjson cannot hold read by Python's reader (None when that
    cannot either: not JSON text). Valid JSON orjson refuses: a number
    beyond a double (`1e400`, an integer of 400 digits) and a lone surrogate
    escape (a backslash-u escape of half a surrogate pair); and not JSON but
    written by Python's `json.dumps` and many C encoders for a failed
    measurement: `NaN`, `Infinity`. The reading holding such a number is then
    refused alone (`out_of_range`: not finite, or out of its range), a lone
    surrogate in a field no reading keeps is ignored, and the neighbours go
    through, where the whole frame was `malformed_json` (found by firmware
    written from these docs)."""
    try:
        # takes NaN, Infinity, -Infinity, big numbers, lone surrogates
        return json.loads(exc.doc, parse_int=_integer)
    except (ValueError, RecursionError):
        return None


def _integer(text: str) -> int | float:
    """A JSON integer; one of more digits than Python converts (4,300) is
    infinite, refused with its reading as any number out of range is (it
    made the whole frame `malformed_json`, an outside tester found)."""
    if len(text) > _INT_DIGITS:
        return -math.inf if text.startswith("-") else math.inf
    return int(text)


def _parse(data: str | bytes, now_ms: int, limits: Limits) -> ParsedFrame:
    size = len(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    if size > limits.max_frame_bytes:
        return _invalid(Code.FRAME_TOO_LARGE, f"frame exceeds {limits.max_frame_bytes} bytes")
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        obj = with_non_finite(exc)
        if obj is None:
            return _invalid(Code.MALFORMED_JSON, "frame is not valid JSON text")
    if not isinstance(obj, dict):
        return _invalid(Code.WRONG_TYPE, "frame must be a JSON object")
    if fhir.is_fhir(obj):
        return _parse_fhir(obj, now_ms, limits)
    kind = obj.get("type")
    if kind is None:
        return _invalid(Code.MISSING_FIELD, "frame has no type", "type")
    if kind == "hello":
        return ParsedFrame("hello")
    if kind == "reading":
        parsed = ParsedFrame("reading")
        _collect(obj, now_ms, limits, parsed)
        return parsed
    if kind == "batch":
        items = obj.get("readings")
        if items is None:
            return _invalid(Code.MISSING_FIELD, "batch has no readings", "readings")
        if not isinstance(items, list):
            return _invalid(Code.WRONG_TYPE, "batch readings must be an array", "readings")
        if not items:
            return _invalid(Code.MISSING_FIELD, "batch has no readings", "readings")
        if len(items) > limits.max_batch:
            return _invalid(
                Code.BATCH_TOO_LARGE,
                f"batch holds more than {limits.max_batch} readings; split it",
                "readings",
            )
        parsed = ParsedFrame("batch")
        for item in items:
            _collect(item, now_ms, limits, parsed)
        return parsed
    return _invalid(Code.UNKNOWN_TYPE, "unknown frame type", "type")


# Where a native field of a reading made from an Observation came from.
_FHIR_FIELD = {"seq": "identifier", "ts": "effectiveDateTime", "patient": "subject", "type": "resourceType"}


def _parse_fhir(obj: dict[str, Any], now_ms: int, limits: Limits) -> ParsedFrame:
    """An Observation is a reading; a Bundle of Observations is a batch."""
    if obj["resourceType"] == "Bundle":
        try:
            resources = fhir.bundle_entries(obj)
        except Refusal as refusal:
            return ParsedFrame("invalid", refusals=[refusal])
        if not resources:
            return _invalid(Code.MISSING_FIELD, "bundle has no entry", "entry")
        if len(resources) > limits.max_batch:
            return _invalid(
                Code.BATCH_TOO_LARGE, f"bundle holds more than {limits.max_batch} entries; split it", "entry"
            )
        parsed = ParsedFrame("batch")
    else:
        resources = [obj]
        parsed = ParsedFrame("reading")
    for resource in resources:
        try:
            native = fhir.to_reading(resource)
        except Refusal as refusal:
            refusal.item = resource
            parsed.refusals.append(refusal)
            continue
        except Exception:  # noqa: BLE001 - see parse_frame
            parsed.refusals.append(_unreadable(resource, "observation could not be read"))
            continue
        _collect(native, now_ms, limits, parsed)
        if parsed.refusals and parsed.refusals[-1].item is native:
            last = parsed.refusals[-1]
            last.item = resource  # what the device sent
            if last.field is not None:
                last.field = (
                    "valueQuantity"
                    if last.field.startswith("vitals")
                    else _FHIR_FIELD.get(last.field, last.field)
                )
    return parsed


def _invalid(code: Code, message: str, field: str | None = None) -> ParsedFrame:
    return ParsedFrame("invalid", refusals=[Refusal(code, message, field=field)])


def _collect(item: Any, now_ms: int, limits: Limits, parsed: ParsedFrame) -> None:
    try:
        parsed.readings.append(parse_reading(item, now_ms, limits))
    except Refusal as refusal:
        refusal.item = item
        parsed.refusals.append(refusal)
    except Exception:  # noqa: BLE001 - see parse_frame
        parsed.refusals.append(_unreadable(item, "reading could not be read"))


def _unreadable(item: Any, message: str) -> Refusal:
    seq = item.get("seq") if isinstance(item, dict) else None
    refusal = Refusal(Code.WRONG_TYPE, message, seq if _is_int(seq) and 0 <= seq <= SEQ_MAX else None)
    refusal.item = item
    return refusal


def fingerprint_of(value: Any) -> str | None:
    """The first 16 hex digits of the SHA-256 of a refused item (as compact
    JSON with sorted keys) or of a raw frame: the same item gives the same
    fingerprint, so an operator can tell repeats apart without the content.
    None when the value cannot be written back as JSON (nested too deep)."""
    try:
        if isinstance(value, str):
            raw = value.encode("utf-8", "surrogatepass")
        elif isinstance(value, bytes):
            raw = value
        else:
            raw = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(raw).hexdigest()[:16]


def _fingerprint(parsed: ParsedFrame, data: str | bytes) -> None:
    whole: str | None = None
    for refusal in parsed.refusals:
        if refusal.item is not None:
            refusal.fingerprint = fingerprint_of(refusal.item)
        if refusal.fingerprint is None:
            whole = whole or fingerprint_of(data)
            refusal.fingerprint = whole


def parse_reading(item: Any, now_ms: int, limits: Limits = Limits()) -> Reading:
    """Validate one reading object; raise `Refusal` (with its seq when known)."""
    if not isinstance(item, dict):
        raise Refusal(Code.WRONG_TYPE, "reading must be a JSON object")
    kind = item.get("type", "reading")
    seq = item.get("seq")
    if "seq" not in item:
        raise Refusal(Code.MISSING_FIELD, "reading has no seq", field="seq")
    if not _is_int(seq):
        raise Refusal(Code.WRONG_TYPE, "seq must be an integer", field="seq")
    if not 0 <= seq <= SEQ_MAX:
        raise Refusal(Code.OUT_OF_RANGE, "seq must be between 0 and 2^53-1", field="seq")
    if kind != "reading":
        raise Refusal(Code.UNKNOWN_TYPE, "batch items must be readings", seq, "type")
    ts_ms = _parse_ts(item.get("ts"), seq)
    if ts_ms > now_ms + limits.max_future_ms:
        raise Refusal(Code.BAD_TIMESTAMP, "timestamp is too far in the future", seq, "ts")
    if ts_ms < now_ms - limits.max_past_ms:
        raise Refusal(Code.BAD_TIMESTAMP, "timestamp is too far in the past", seq, "ts")
    patient = item.get("patient")
    if patient is not None and (not isinstance(patient, str) or not 0 < len(patient) <= 128):
        raise Refusal(Code.WRONG_TYPE, "patient must be a string of 1 to 128 characters", seq, "patient")
    return Reading(seq, ts_ms, _parse_vitals(item.get("vitals"), seq), patient)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    """An int or a float, not a bool. Not a `TypeGuard[float]`: compiled
    (app/native.py), a value narrowed to float is converted to one, and a
    device's 72 would be stored as 72.0."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _parse_ts(ts: Any, seq: int) -> int:
    if ts is None:
        raise Refusal(Code.MISSING_FIELD, "reading has no ts", seq, "ts")
    if isinstance(ts, str):
        if len(ts) > 40:
            raise Refusal(Code.BAD_TIMESTAMP, "ts is not an ISO 8601 time", seq, "ts")
        if ts[-1:] == "z":  # RFC 3339 allows a lower-case Z; Python's ISO parser does not
            ts = ts[:-1] + "Z"
        try:
            moment = datetime.fromisoformat(ts)
        except ValueError:
            raise Refusal(Code.BAD_TIMESTAMP, "ts is not an ISO 8601 time", seq, "ts") from None
        if moment.tzinfo is None:
            raise Refusal(Code.BAD_TIMESTAMP, "ts needs a time zone, such as Z", seq, "ts")
        try:
            return int(moment.timestamp() * 1000)
        except (OverflowError, ValueError):
            raise Refusal(Code.BAD_TIMESTAMP, "ts is not a plausible time", seq, "ts") from None
    if _is_number(ts):
        if math.isfinite(ts) and ts < 0:  # `vigil replay` sends a recording's times as numbers
            raise Refusal(Code.BAD_TIMESTAMP, "ts is before 1970: event times start at 1970", seq, "ts")
        if not math.isfinite(ts) or ts >= 2**53:
            raise Refusal(Code.BAD_TIMESTAMP, "ts is not a plausible epoch time", seq, "ts")
        return int(ts)
    raise Refusal(Code.WRONG_TYPE, "ts must be an ISO 8601 string or epoch milliseconds", seq, "ts")


def _parse_vitals(vitals: Any, seq: int) -> dict[str, Any]:
    if vitals is None:
        raise Refusal(Code.MISSING_FIELD, "reading has no vitals", seq, "vitals")
    if not isinstance(vitals, dict):
        raise Refusal(Code.WRONG_TYPE, "vitals must be a JSON object", seq, "vitals")
    if not vitals:
        raise Refusal(Code.MISSING_FIELD, "vitals is empty", seq, "vitals")
    if len(vitals) > MAX_VITALS:
        raise Refusal(Code.OUT_OF_RANGE, f"more than {MAX_VITALS} vitals in one reading", seq, "vitals")
    clean: dict[str, Any] = {}
    for name, value in vitals.items():
        # Custom channel names are the device's own words: only named vitals
        # are spelled out in `field`.
        field = f"vitals.{name}" if name in NUMERIC or name in NAMED else "vitals"
        if name == "consciousness":
            if not isinstance(value, str):
                raise Refusal(Code.WRONG_TYPE, "consciousness must be one ACVPU letter", seq, field)
            if value not in ACVPU:
                raise Refusal(Code.OUT_OF_RANGE, "consciousness must be one of A, C, V, P, U", seq, field)
            clean[name] = value
        elif name == "on_oxygen" or name == MOTION:
            if not isinstance(value, bool):
                raise Refusal(Code.WRONG_TYPE, f"{name} must be true or false", seq, field)
            clean[name] = value
        elif name == SPO2_SCALE:
            if value.__class__ is not int:  # not a bool, not 2.0
                raise Refusal(Code.WRONG_TYPE, "spo2_scale must be the whole number 1 or 2", seq, field)
            if value not in SPO2_SCALES:
                raise Refusal(Code.OUT_OF_RANGE, "spo2_scale must be 1 or 2", seq, field)
            clean[name] = value
        else:
            clean[name] = _parse_number(name, value, seq, field)
    return clean


def type_problem(name: str, value: Any) -> str | None:
    """Why the vital `name` cannot take a value of `value`'s type (text where
    a number goes, a number where `true` or `false` goes), as the gateway's
    `wrong_type` refusal says it; None when it can. A value of the right type
    but out of range is the gateway's to refuse, not this."""
    try:
        _parse_vitals({name: value}, 0)
    except Refusal as refusal:
        return refusal.message if refusal.code is Code.WRONG_TYPE else None
    return None


def custom_name(name: str) -> bool:
    """Can `name` be a custom channel's: lower-case letters, digits and `_`,
    starting with a letter, at most `CUSTOM_NAME_MAX` characters?"""
    return len(name) <= CUSTOM_NAME_MAX and _NAME.match(name) is not None


def _parse_number(name: str, value: Any, seq: int, field: str) -> Any:
    """The value as sent, an int or a float (typed `Any`: see `_is_number`)."""
    vital = NUMERIC.get(name)
    if vital is None and not custom_name(name):
        raise Refusal(Code.WRONG_TYPE, "channel names are lower case letters, digits and _", seq, field)
    if not _is_number(value):
        raise Refusal(Code.WRONG_TYPE, "vital values must be numbers", seq, field)
    if value.__class__ is float and not math.isfinite(value):  # an int of any size is finite
        raise Refusal(Code.OUT_OF_RANGE, "vital values must be finite", seq, field)
    if vital is None:
        if abs(value) > CUSTOM_ABS_MAX:
            raise Refusal(Code.OUT_OF_RANGE, "custom channel value is out of range", seq, field)
        return value
    lo, hi = vital.possible
    if not lo <= value <= hi:
        hint = _unit_hint(name, value)
        raise Refusal(Code.OUT_OF_RANGE, f"{name} is outside {lo:g}..{hi:g} {vital.unit}{hint}", seq, field)
    return value


def _unit_hint(name: str, value: float) -> str:
    """A body temperature (30-45 C) in Fahrenheit or kelvin, or a weight in
    grams, is past the possible range in the catalogue's unit: the
    firmware's unit, named in the refusal so that its author finds it."""
    if name == "temperature":
        if 86.0 <= value <= 113.0:
            return " (degrees Celsius: this looks like Fahrenheit)"
        if 303.0 <= value <= 318.0:
            return " (degrees Celsius: this looks like kelvin)"
    elif name == "weight" and 700.0 < value <= 400_000.0:
        return " (kilograms: this looks like grams)"
    return ""


# -- frames the gateway sends back -------------------------------------------


def ack_frame(seqs: list[int], batch: bool) -> str:
    """`{"type": "ack", "seq": n}` for a reading, `"seqs": [...]` for a batch."""
    if batch:
        return orjson.dumps({"type": "ack", "seqs": seqs}).decode()
    return orjson.dumps({"type": "ack", "seq": seqs[0]}).decode()


def hello_frame(
    last_seq: int | None, gaps: list[int], gaps_from: int | None = None, *, gateway_ts: int
) -> str:
    """The answer to a device's hello: the highest `seq` stored from it, the
    seqs from `gaps_from` up to it that are not stored (at most 256, the
    highest), `gaps_from`, and the gateway's clock (`gateway_ts`, epoch ms),
    against which a device can check its own. A reconnecting device drops
    its unacknowledged readings with `gaps_from <= seq <= last_seq` not in
    `gaps` (they are stored) and resends the rest."""
    reply = {"type": "hello", "protocol": PROTOCOL_VERSION, "last_seq": last_seq, "gaps": gaps}
    reply["gaps_from"] = gaps_from
    reply["gateway_ts"] = gateway_ts
    return orjson.dumps(reply).decode()


def error_frame(refusal: Refusal) -> str:
    return orjson.dumps(
        {
            "type": "error",
            "seq": refusal.seq,
            "code": refusal.code.value,
            "message": refusal.message,
        }
    ).decode()
