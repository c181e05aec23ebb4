"""Input that once closed a device's connection or leaked patient data
(issue 10, items 5 and 7): `parse_frame` is total, each bad reading is
refused alone, and what goes to `vigil.rejected` names no patient."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.delivery import SeqWindow, admit
from app.core.errors import Code
from app.core.protocol import SEQ_MAX, parse_frame
from app.core.records import encode_rejection

NOW = 1_764_435_600_000
ISO = "2025-11-29T17:00:00Z"


def reading(seq: int, **extra: object) -> dict:
    return {"type": "reading", "seq": seq, "ts": NOW, "vitals": {"heart_rate": 72}, **extra}


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def observation(seq: str, **extra: object) -> dict:
    return {
        "resourceType": "Observation",
        "status": "final",
        "identifier": [{"system": "urn:vigil:seq", "value": seq}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "effectiveDateTime": ISO,
        "valueQuantity": {"value": 70, "code": "/min"},
        **extra,
    }


def encoded(parsed) -> list[dict]:
    return [orjson.loads(encode_rejection("dev-1", NOW, r)) for r in parsed.refusals]


@pytest.mark.parametrize("depth", [254, 255, 300, 1000, 1020])
def test_a_deeply_nested_value_is_refused_alone(depth: int) -> None:
    # orjson reads up to 1024 levels but writes only 254: the text is built by hand.
    deep = "[" * depth + "1" + "]" * depth
    items = [reading(1), {**reading(2), "note": "DEEP"}, {**reading(3), "vitals": "DEEP"}, reading(4)]
    text = json.dumps({"type": "batch", "readings": items}).replace('"DEEP"', deep)
    parsed = parse_frame(text, NOW)
    assert [r.seq for r in parsed.readings] == [1, 2, 4]
    assert [(r.seq, r.code) for r in parsed.refusals] == [(3, Code.WRONG_TYPE)]
    assert encoded(parsed)[0]["seq"] == 3  # and the rejection record can be written


@pytest.mark.parametrize(
    "seq", ["\u0663", "\u00b2", "\u0661\u0662", "\uff11", "1\u00b9", " 1", "+1", "1_0", "12345678901234567"]
)
def test_a_fhir_seq_is_ascii_digits_only(seq: str) -> None:
    bundle = {
        "resourceType": "Bundle",
        "entry": [{"resource": observation(s)} for s in ("1", seq, "3")],
    }
    parsed = parse_frame(json.dumps(bundle), NOW)
    assert [r.seq for r in parsed.readings] == [1, 3]
    assert [r.code for r in parsed.refusals] in ([Code.WRONG_TYPE], [Code.OUT_OF_RANGE])


def test_seqs_are_bounded_by_the_largest_exact_json_integer() -> None:
    assert SEQ_MAX == 2**53 - 1
    assert [r.seq for r in parse_frame(json.dumps(reading(SEQ_MAX)), NOW).readings] == [SEQ_MAX]
    for too_big in (2**53, 2**63 - 1):
        parsed = parse_frame(json.dumps(reading(too_big)), NOW)
        assert [r.code for r in parsed.refusals] == [Code.OUT_OF_RANGE]
    assert [r.seq for r in parse_frame(json.dumps(observation(str(SEQ_MAX))), NOW).readings] == [SEQ_MAX]
    assert [r.code for r in parse_frame(json.dumps(observation(str(SEQ_MAX + 1))), NOW).refusals] == [
        Code.OUT_OF_RANGE
    ]


def test_a_huge_fhir_quantity_in_a_converted_unit_is_refused() -> None:
    pressure = {**observation("5"), "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}}
    pressure["valueQuantity"] = {"value": 1.7e308, "code": "kPa"}  # x 7.5 overflows to infinity
    parsed = parse_frame(json.dumps(pressure), NOW)
    assert [(r.seq, r.code) for r in parsed.refusals] == [(5, Code.OUT_OF_RANGE)]


# -- item 5: nothing of the patient on vigil.rejected -------------------------------------


SECRETS = ("MRN-SECRET", "Jane Secretname")


def test_refused_fhir_and_native_readings_leave_no_patient_data() -> None:
    obs = observation("4", subject={"reference": "Patient/MRN-SECRET", "display": "Jane Secretname"})
    obs["valueQuantity"] = {"value": 999, "code": "/min"}  # out of range
    frames = [
        obs,
        {"resourceType": "Bundle", "entry": [{"resource": obs}]},
        {**observation("5"), "subject": {"reference": "Person/MRN-SECRET", "display": "Jane Secretname"}},
        {**reading(6, patient="MRN-SECRET", name="Jane Secretname"), "vitals": {"heart_rate": 999}},
        {"type": "batch", "readings": [reading(7, patient="MRN-SECRET", ts="yesterday")]},
        {"type": "telemetry", "patient": "MRN-SECRET", "display": "Jane Secretname"},
    ]
    records = []
    for frame in frames:
        parsed = parse_frame(json.dumps(frame), NOW)
        assert parsed.refusals and not parsed.readings
        records += encoded(parsed)
    raw = b'{"patient": "MRN-SECRET", "display": "Jane Secretname", oops'
    records += encoded(parse_frame(raw, NOW))
    # readings the gateway refuses after parsing: another patient's, a reused seq
    window = SeqWindow()
    window.add(8, 1)
    batch = {"type": "batch", "readings": [reading(8), reading(9, patient="MRN-SECRET")]}
    parsed = parse_frame(json.dumps(batch), NOW)
    admission = admit(parsed.readings, "MRN-OWN", window)
    assert {r.code for r in admission.refusals} == {Code.SEQ_REUSED, Code.UNAUTHORIZED}
    records += [orjson.loads(encode_rejection("dev-1", NOW, r)) for r in admission.refusals]

    text = json.dumps(records)
    assert not any(secret in text for secret in SECRETS)
    for record in records:
        assert "item" not in record and "patient" not in record
        assert len(record["fingerprint"]) == 16 and int(record["fingerprint"], 16) >= 0
    fields = [r["field"] for r in records[:4]]
    assert fields == ["valueQuantity", "valueQuantity", "subject", "vitals.heart_rate"]


def test_fingerprints_tell_refused_items_apart_and_recognise_repeats() -> None:
    a = parse_frame(json.dumps(reading(1, ts="yesterday")), NOW).refusals[0]
    again = parse_frame(json.dumps(reading(1, ts="yesterday")), NOW).refusals[0]
    b = parse_frame(json.dumps(reading(2, ts="yesterday")), NOW).refusals[0]
    assert a.fingerprint == again.fingerprint != b.fingerprint


# -- parse_frame is total -------------------------------------------------------------------

json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_values = st.recursive(
    json_leaf,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=20,
)
digit_strings = st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=20)
fields = st.sampled_from(["seq", "ts", "vitals", "patient", "type", "note"])


def _with_deep(value: object, depth: int) -> str:
    text = json.dumps(value, allow_nan=True)
    return text[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}" if text.endswith("}") else text


frames = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200),
    json_values.map(lambda v: json.dumps(v, allow_nan=True)),
    st.builds(
        lambda items: json.dumps({"type": "batch", "readings": items}, allow_nan=True),
        st.lists(st.dictionaries(fields, json_values, max_size=5), max_size=5),
    ),
    st.builds(
        lambda item, depth: _with_deep({"type": "batch", "readings": [reading(1), item]}, depth),
        st.dictionaries(fields, json_values, max_size=5),
        st.integers(min_value=200, max_value=1100),
    ),
    st.builds(lambda seq, v: json.dumps(observation(seq, valueQuantity=v)), digit_strings, json_values),
    st.builds(
        lambda seq, unit, value: json.dumps(
            {
                **observation(seq),
                "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
                "valueQuantity": {"value": value, "code": unit},
            }
        ),
        st.text(alphabet="0123456789", min_size=1, max_size=18),
        st.sampled_from(["[degF]", "Cel", "kPa"]),
        st.integers() | st.floats(allow_nan=False),
    ),
    st.builds(lambda ts: json.dumps(reading(1, ts=ts)), st.text(max_size=40) | st.floats() | st.integers()),
)


@settings(max_examples=500, deadline=None)
@given(frames)
def test_parse_frame_never_raises_and_every_refusal_can_be_recorded(data: bytes | str) -> None:
    parsed = parse_frame(data, NOW)
    assert parsed.readings or parsed.refusals or parsed.kind == "hello"
    for refusal in parsed.refusals:
        assert refusal.code in Code
        record = orjson.loads(encode_rejection("dev-1", NOW, refusal))
        assert set(record) >= {"device_id", "code", "message", "seq", "field", "fingerprint"}
    for accepted in parsed.readings:
        assert 0 <= accepted.seq <= SEQ_MAX
        orjson.dumps(accepted.vitals)  # storable
