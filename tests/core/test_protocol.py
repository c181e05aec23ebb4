"""The device protocol core, driven with raw frames and no event loop."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.errors import Code
from app.core.protocol import Limits, ack_frame, error_frame, hello_frame, parse_frame

NOW = 1_764_435_600_000  # 2025-11-29T17:00:00Z
ISO_NOW = "2025-11-29T17:00:00.000Z"


def frame(**fields: object) -> str:
    return orjson.dumps(fields).decode()


def reading(seq: int = 1, ts: object = NOW, **vitals: object) -> dict[str, object]:
    return {"type": "reading", "seq": seq, "ts": ts, "vitals": vitals or {"heart_rate": 72}}


def codes(parsed) -> list[str]:
    return [r.code.value for r in parsed.refusals]


def test_reading_with_iso_time_is_accepted() -> None:
    parsed = parse_frame(frame(**reading(17, ISO_NOW, heart_rate=72, spo2=97)), NOW)
    assert parsed.refusals == []
    assert [(r.seq, r.ts_ms, r.vitals) for r in parsed.readings] == [
        (17, NOW, {"heart_rate": 72, "spo2": 97})
    ]


def test_epoch_milliseconds_and_offsets_give_the_same_time() -> None:
    a = parse_frame(frame(**reading(1, NOW)), NOW).readings[0]
    b = parse_frame(frame(**reading(1, "2025-11-29T18:00:00+01:00")), NOW).readings[0]
    assert a.ts_ms == b.ts_ms == NOW


def test_an_rfc_3339_time_with_lower_case_t_and_z_is_the_same_time() -> None:
    # Firmware written to RFC 3339, which allows them (found by a firmware writer's client).
    parsed = parse_frame(frame(**reading(1, "2025-11-29t17:00:00.000z")), NOW)
    assert parsed.refusals == [] and parsed.readings[0].ts_ms == NOW


def test_every_named_vital_and_a_custom_channel_are_accepted() -> None:
    vitals = {
        "heart_rate": 72,
        "spo2": 97,
        "respiratory_rate": 16,
        "systolic_bp": 120,
        "diastolic_bp": 80,
        "temperature": 36.8,
        "weight": 70.5,
        "consciousness": "A",
        "on_oxygen": False,
        "spo2_scale": 2,
        "motion": True,
        "etco2": 38.5,
    }
    parsed = parse_frame(frame(**reading(1, NOW, **vitals)), NOW)
    assert parsed.refusals == []
    assert parsed.readings[0].vitals == vitals


def test_batch_with_one_bad_reading_refuses_only_that_one() -> None:
    items = [reading(1), reading(2, NOW, heart_rate=-5), reading(3)]
    parsed = parse_frame(frame(type="batch", readings=items), NOW)
    assert [r.seq for r in parsed.readings] == [1, 3]
    assert [(r.seq, r.code) for r in parsed.refusals] == [(2, Code.OUT_OF_RANGE)]
    assert parsed.refusals[0].item == items[1]


def test_a_nan_or_infinity_is_refused_with_its_reading_and_the_neighbours_go_through() -> None:
    """Python's `json.dumps` writes a failed measurement as `NaN` (and many C
    encoders do too): not JSON, so the whole batch was `malformed_json`, its
    good readings with it. Read as a number that is not finite, it costs its
    own reading only (found by an outsider's client written from the docs)."""
    items = [
        {"seq": 1, "ts": NOW, "vitals": {"heart_rate": 70}},
        {"seq": 2, "ts": NOW, "vitals": {"heart_rate": float("nan")}},
        {"seq": 3, "ts": NOW, "vitals": {"heart_rate": 71, "spo2": float("-inf")}},
        {"seq": 4, "ts": NOW, "vitals": {"heart_rate": 72}},
    ]
    raw = json.dumps({"type": "batch", "readings": items})  # NaN and -Infinity, as Python writes them
    assert "NaN" in raw and "-Infinity" in raw
    parsed = parse_frame(raw, NOW)
    assert [r.seq for r in parsed.readings] == [1, 4]
    assert [(r.seq, r.code, r.message) for r in parsed.refusals] == [
        (2, Code.OUT_OF_RANGE, "vital values must be finite"),
        (3, Code.OUT_OF_RANGE, "vital values must be finite"),
    ]
    assert all(r.fingerprint for r in parsed.refusals)
    one = parse_frame(json.dumps({"type": "reading", **items[1]}), NOW)
    assert one.readings == [] and [r.code for r in one.refusals] == [Code.OUT_OF_RANGE]


def test_valid_json_orjson_cannot_hold_costs_only_its_own_reading() -> None:
    """A number beyond a double (`1e400`, an integer of 400 digits) and a
    lone surrogate escape are valid JSON (RFC 8259) that orjson refuses: the
    whole batch was `malformed_json`, and firmware told "do not resend as
    is" dropped its good readings (found by firmware written from the docs).
    Each now costs its own reading, with the code its value earns."""

    def good(seq: int) -> str:
        return f'{{"seq": {seq}, "ts": {NOW}, "vitals": {{"heart_rate": 70}}}}'

    def batch(middle: str) -> str:
        return f'{{"type": "batch", "readings": [{good(1)}, {middle}, {good(3)}]}}'

    bad = [
        (f'{{"seq": 2, "ts": {NOW}, "vitals": {{"heart_rate": 1e400}}}}', Code.OUT_OF_RANGE),
        (f'{{"seq": 2, "ts": {NOW}, "vitals": {{"etco2": {"9" * 400}}}}}', Code.OUT_OF_RANGE),
        ('{"seq": 2, "ts": 1e400, "vitals": {"heart_rate": 70}}', Code.BAD_TIMESTAMP),
        # more digits than Python converts (4,300): the frame was malformed_json
        (f'{{"seq": 2, "ts": {NOW}, "vitals": {{"etco2": -{"9" * 5000}}}}}', Code.OUT_OF_RANGE),
    ]
    for item, code in bad:
        parsed = parse_frame(batch(item), NOW)
        assert [r.seq for r in parsed.readings] == [1, 3], item
        assert [(r.seq, r.code) for r in parsed.refusals] == [(2, code)], item
    # a lone surrogate in a field no reading keeps: the reading goes through
    noted = f'{{"seq": 2, "ts": {NOW}, "note": "\\udc00", "vitals": {{"heart_rate": 71}}}}'
    raw = batch(noted)
    assert [r.seq for r in parse_frame(raw, NOW).readings] == [1, 2, 3]
    # ... and an integer of 5,000 digits there
    huge = f'{{"seq": 2, "ts": {NOW}, "note": {"7" * 5000}, "vitals": {{"heart_rate": 71}}}}'
    assert [r.seq for r in parse_frame(batch(huge), NOW).readings] == [1, 2, 3]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", Code.MALFORMED_JSON),
        ('{"type": "reading", "seq": 1, "ts": 1, "vitals": {NaN: 70}}', Code.MALFORMED_JSON),
        ('{"type": "reading", "seq": 1, "ts": 1, "vitals": {"heart_rate": NaNa}}', Code.MALFORMED_JSON),
        ("[1, 2]", Code.WRONG_TYPE),
        ('{"seq": 1}', Code.MISSING_FIELD),
        ('{"type": "telemetry"}', Code.UNKNOWN_TYPE),
        ('{"type": "batch"}', Code.MISSING_FIELD),
        ('{"type": "batch", "readings": {}}', Code.WRONG_TYPE),
        ('{"type": "batch", "readings": []}', Code.MISSING_FIELD),
    ],
)
def test_frame_level_errors(raw: str, code: Code) -> None:
    parsed = parse_frame(raw, NOW)
    assert parsed.readings == []
    assert [r.code for r in parsed.refusals] == [code]


@pytest.mark.parametrize(
    ("item", "code"),
    [
        ({"type": "reading", "ts": NOW, "vitals": {"heart_rate": 70}}, Code.MISSING_FIELD),
        (reading(seq="7"), Code.WRONG_TYPE),  # type: ignore[arg-type]
        (reading(seq=True), Code.WRONG_TYPE),  # type: ignore[arg-type]
        (reading(seq=-1), Code.OUT_OF_RANGE),
        ({"type": "reading", "seq": 1, "vitals": {"heart_rate": 70}}, Code.MISSING_FIELD),
        (reading(ts="yesterday"), Code.BAD_TIMESTAMP),
        (reading(ts="2025-11-29T17:00:00"), Code.BAD_TIMESTAMP),  # no time zone
        (reading(ts=[1]), Code.WRONG_TYPE),
        (reading(ts=NOW + 6 * 60_000), Code.BAD_TIMESTAMP),
        (reading(ts=NOW - 8 * 24 * 3600_000), Code.BAD_TIMESTAMP),
        ({"type": "reading", "seq": 1, "ts": NOW}, Code.MISSING_FIELD),
        ({"type": "reading", "seq": 1, "ts": NOW, "vitals": []}, Code.WRONG_TYPE),
        ({"type": "reading", "seq": 1, "ts": NOW, "vitals": {}}, Code.MISSING_FIELD),
        (reading(heart_rate="72"), Code.WRONG_TYPE),
        (reading(heart_rate=True), Code.WRONG_TYPE),
        (reading(heart_rate=401), Code.OUT_OF_RANGE),
        (reading(spo2=101), Code.OUT_OF_RANGE),
        (reading(consciousness="X"), Code.OUT_OF_RANGE),
        (reading(consciousness=1), Code.WRONG_TYPE),
        (reading(on_oxygen="yes"), Code.WRONG_TYPE),
        (reading(heart_rate=72, motion=1), Code.WRONG_TYPE),
        (reading(spo2_scale=3), Code.OUT_OF_RANGE),
        (reading(spo2_scale=2.0), Code.WRONG_TYPE),
        (reading(spo2_scale="2"), Code.WRONG_TYPE),
        (reading(spo2_scale=True), Code.WRONG_TYPE),
        (reading(**{"Bad-Name": 1}), Code.WRONG_TYPE),
        (reading(custom=1e300), Code.OUT_OF_RANGE),
    ],
)
def test_reading_level_errors_carry_the_seq_when_known(item: dict, code: Code) -> None:
    parsed = parse_frame(frame(**item), NOW)
    assert parsed.readings == []
    assert [r.code for r in parsed.refusals] == [code]
    if isinstance(item.get("seq"), int) and not isinstance(item.get("seq"), bool) and item["seq"] >= 0:
        assert parsed.refusals[0].seq == item["seq"]


def test_frame_and_batch_limits() -> None:
    limits = Limits(max_frame_bytes=200, max_batch=2)
    big = frame(**reading(1, NOW, note=1), pad="x" * 300)
    assert codes(parse_frame(big, NOW, limits)) == ["frame_too_large"]
    three = frame(type="batch", readings=[reading(1), reading(2), reading(3)])
    assert codes(parse_frame(three, NOW, Limits(max_batch=2))) == ["batch_too_large"]


def test_invalid_utf8_is_malformed() -> None:
    assert codes(parse_frame(b'{"type": "reading", "seq": \xff}', NOW)) == ["malformed_json"]


def test_ack_and_error_frames() -> None:
    assert orjson.loads(ack_frame([17], batch=False)) == {"type": "ack", "seq": 17}
    assert orjson.loads(ack_frame([1, 3], batch=True)) == {"type": "ack", "seqs": [1, 3]}
    refusal = parse_frame(frame(**reading(5, NOW, heart_rate=-1)), NOW).refusals[0]
    assert orjson.loads(error_frame(refusal)) == {
        "type": "error",
        "seq": 5,
        "code": "out_of_range",
        "message": "heart_rate is outside 0..400 /min",
    }


def test_a_temperature_in_fahrenheit_or_a_weight_in_grams_is_refused_with_the_unit_named() -> None:
    """Firmware set to Fahrenheit sends 98.6 (or kelvin, 310.1; a weight in
    grams, 82600): refused as out of range (the
    reading is the firmware's to fix, not Vigil's to guess), and the message
    says which unit is wanted and that this looks like Fahrenheit; a value
    no unit explains gets the plain message."""
    fahrenheit = parse_frame(frame(**reading(3, NOW, temperature=98.6, heart_rate=72)), NOW).refusals[0]
    assert (fahrenheit.code.value, fahrenheit.message) == (
        "out_of_range",
        "temperature is outside 0..50 Cel (degrees Celsius: this looks like Fahrenheit)",
    )
    kelvin = parse_frame(frame(**reading(4, NOW, temperature=310.1)), NOW).refusals[0]
    assert kelvin.message == "temperature is outside 0..50 Cel (degrees Celsius: this looks like kelvin)"
    grams = parse_frame(frame(**reading(4, NOW, weight=82600)), NOW).refusals[0]
    assert grams.message == "weight is outside 0..700 kg (kilograms: this looks like grams)"
    absurd = parse_frame(frame(**reading(4, NOW, temperature=500)), NOW).refusals[0]
    assert absurd.message == "temperature is outside 0..50 Cel"


def test_a_pressure_line_open_to_air_is_accepted_with_the_rest_of_its_reading() -> None:
    """A transducer not connected to the patient reads a few mmHg either side
    of 0 (VitalDB case 1: -9 to +8 for ten minutes). That is a working
    device's value, not an error: the reading, with its heart rate and SpO2,
    is accepted (the worker reads the pressures as "no signal"). Below -50,
    or a negative heart rate, is no device's reading and is refused."""
    vitals = {"heart_rate": 72, "spo2": 97, "systolic_bp": -9, "diastolic_bp": -3}
    parsed = parse_frame(frame(**reading(1, NOW, **vitals)), NOW)
    assert not parsed.refusals and parsed.readings[0].vitals == vitals
    assert codes(parse_frame(frame(**reading(2, NOW, systolic_bp=-51)), NOW)) == ["out_of_range"]
    assert codes(parse_frame(frame(**reading(3, NOW, heart_rate=-1, spo2=97)), NOW)) == ["out_of_range"]


def test_a_line_flushed_high_on_both_pressures_keeps_its_reading() -> None:
    """VitalDB case 1: an arterial line flushed reads 322/312 (the flush bag's
    pressure on both) with the heart rate and SpO2 of the same reading. The
    systolic was accepted up to 400 but the diastolic refused above 300, so
    the whole reading went, its heart rate and SpO2 with it. Both pressures
    take up to 400; the worker keeps such a line out of detection."""
    vitals = {"heart_rate": 77, "spo2": 100, "systolic_bp": 322, "diastolic_bp": 312}
    parsed = parse_frame(frame(**reading(1, NOW, **vitals)), NOW)
    assert not parsed.refusals and parsed.readings[0].vitals == vitals
    assert codes(parse_frame(frame(**reading(2, NOW, diastolic_bp=401)), NOW)) == ["out_of_range"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300),
        json_values.map(lambda v: json.dumps(v)),
        st.fixed_dictionaries(
            {"type": st.sampled_from(["reading", "batch"])},
            optional={"seq": json_values, "ts": json_values, "vitals": json_values, "readings": json_values},
        ).map(lambda v: json.dumps(v)),
    )
)
def test_any_input_gets_readings_or_documented_errors(data: bytes | str) -> None:
    parsed = parse_frame(data, NOW)
    documented = {c.value for c in Code}
    assert all(r.code.value in documented for r in parsed.refusals)
    # A hello frame (the generator can write `{"type":"hello"}` as text) asks for
    # the gateway's reply: no reading, and nothing refused.
    assert (
        parsed.readings
        or parsed.refusals
        or (parsed.kind == "hello" and orjson.loads(data)["type"] == "hello")
    )


def test_hello_frame_and_reply() -> None:
    assert parse_frame('{"type": "hello"}', NOW).kind == "hello"
    assert orjson.loads(hello_frame(41, [7], 0, gateway_ts=NOW)) == {
        "type": "hello",
        "protocol": 1,
        "last_seq": 41,
        "gaps": [7],
        "gaps_from": 0,
        "gateway_ts": NOW,
    }
    assert orjson.loads(hello_frame(None, [], None, gateway_ts=NOW)) == {
        "type": "hello",
        "protocol": 1,
        "last_seq": None,
        "gaps": [],
        "gaps_from": None,
        "gateway_ts": NOW,
    }


def test_optional_patient_field_is_carried_for_the_gateway_to_check() -> None:
    parsed = parse_frame(frame(**reading(1), patient="MRN-1"), NOW)
    assert parsed.readings[0].patient == "MRN-1"
    assert codes(parse_frame(frame(**reading(1), patient=7), NOW)) == ["wrong_type"]


def test_pseudonyms_are_keyed_stable_and_distinct() -> None:
    from app.core.records import pseudonym

    a = pseudonym(b"k" * 32, "MRN-0042")
    assert a == pseudonym(b"k" * 32, "MRN-0042")
    assert a.startswith("p-") and len(a) == 34 and "0042" not in a
    assert a != pseudonym(b"j" * 32, "MRN-0042")
    assert a != pseudonym(b"k" * 32, "MRN-0043")


hostile = st.one_of(
    # deep nesting, in and out of the fields that matter
    st.integers(min_value=1, max_value=5000).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=1, max_value=3000).map(
        lambda n: '{"type": "reading", "seq": 1, "ts": 0, "vitals": ' + '{"a": ' * n + "1" + "}" * n + "}"
    ),
    # huge numbers, NaN and Infinity spelled every way
    st.sampled_from(
        ["1e999", "-1e999", "NaN", "Infinity", "-Infinity", "1" * 400, "0." + "0" * 400 + "1"]
    ).map(
        lambda v: (
            '{"type": "reading", "seq": ' + v + ', "ts": ' + v + ', "vitals": {"heart_rate": ' + v + "}}"
        )
    ),
    # invalid UTF-8 and lone surrogates
    st.binary(min_size=1, max_size=64).map(lambda b: b'{"type": "reading", "seq": 1, "note": "' + b + b'"}'),
    st.just('{"type": "reading", "seq": 1, "ts": 0, "vitals": {"\\ud800": 1}}'),
    # enormous strings where short ones are expected
    st.integers(min_value=1_000, max_value=200_000).map(
        lambda n: json.dumps({"type": "reading", "seq": 1, "ts": "x" * n, "vitals": {"heart_rate": 70}})
    ),
    st.integers(min_value=1_000, max_value=70_000).map(
        lambda n: json.dumps({"type": "reading", "seq": 1, "ts": 0, "vitals": {"h" * n: 70}})
    ),
    # FHIR-shaped garbage
    json_values.map(
        lambda v: json.dumps({"resourceType": "Observation", "identifier": v, "code": v, "valueQuantity": v})
    ),
    json_values.map(lambda v: json.dumps({"resourceType": "Bundle", "entry": [v, {"resource": v}]})),
)


@settings(max_examples=300, deadline=None)
@given(hostile)
def test_hostile_frames_only_earn_documented_errors(data: bytes | str) -> None:
    parsed = parse_frame(data, NOW)
    documented = {c.value for c in Code}
    assert all(r.code.value in documented for r in parsed.refusals)
    assert all(len(r.message) <= 200 for r in parsed.refusals)
    for reading in parsed.readings:  # anything accepted is within the documented ranges
        assert all(isinstance(v, (int, float, str, bool)) for v in reading.vitals.values())
