"""Issue 10, in the core: a patient's state stays bounded whatever a device
sends, a record of the wrong shape is refused before it touches any state,
and a device clock that ran ahead cannot hide later readings from detection."""

from __future__ import annotations

import math
import random

import orjson
import pytest

from app.core import patient as core
from app.core import state as patient_state
from app.core.alerts import LIFECYCLE_KINDS, OpenAlert, Severity
from app.core.errors import RecordError, StateError
from app.core.records import ReadingBatch, decode_readings, encode_dead_letter, reading_id
from tests.core.readings import normal

T0 = 1_764_435_600_000
MINUTE = 60_000
CRITICAL = {"heart_rate": 142, "spo2": 85, "respiratory_rate": 29, "systolic_bp": 86, "temperature": 36.8}


def reading(seq: int, ts: int, vitals: dict[str, object]) -> dict[str, object]:
    return {"id": reading_id("dev-1", seq), "seq": seq, "ts": ts, "vitals": vitals}


def record(readings: list[dict[str, object]], received_ms: int) -> ReadingBatch:
    return ReadingBatch("dev-1", "p-subject-1", received_ms, readings)


# -- the state bound ------------------------------------------------------------


def test_new_channel_names_cannot_grow_a_state_past_its_bound() -> None:
    """About 300 readings with new custom channel names made a state of 1 MB,
    which the changelog refused, stopping the worker for every patient."""
    state = patient_state.PatientState()
    rng = random.Random(3)
    for i in range(300):
        vitals = normal(rng)
        # longest names the protocol allows, values that print long
        vitals[f"c{i:03d}_" + "x" * 59] = -123456789.12345679 - i
        vitals[f"d{i:03d}_" + "y" * 59] = 1e11 / 3 + i
        core.process(state, "p-subject-1", "dev-1", reading(i, T0 + i * MINUTE, vitals))
        assert len(patient_state.encode(state)) <= patient_state.MAX_STATE_BYTES
    custom = [k for k in state.latest if k.endswith(("xxx", "yyy"))]
    assert len(custom) == patient_state.MAX_CUSTOM_CHANNELS
    assert custom[-1].startswith("d299") and custom[-2].startswith("c299")  # the most recent are kept


def test_at_the_state_bound_the_alerts_do_not_depend_on_how_readings_are_grouped() -> None:
    """A monitor and eight custom channels of 64-character names, each with
    a daily cycle and a rare spike, read every 15 minutes for ten days,
    outgrow 4 KiB. The worker writes the state once per Kafka record, and
    `encode` used to trim it then: the same readings sent one per record or
    ten per record (or replayed by `vigil replay`, which writes at every
    reading) raised 36 alert events against 37. The core now keeps the state
    within the bound at every reading."""
    rng = random.Random(1)
    names = [f"c{j}_" + "x" * 60 for j in range(8)]
    readings = []
    for i in range(10 * 24 * 4):
        t = T0 + i * 15 * MINUTE
        vitals: dict[str, object] = {
            "heart_rate": round(70 + rng.gauss(0, 3)),
            "spo2": 97,
            "respiratory_rate": 16,
        }
        for j, name in enumerate(names):
            value = 100 + 20 * math.sin(2 * math.pi * (t // 3_600_000 % 24) / 24 + j) + rng.gauss(0, 3)
            vitals[name] = round(value + (60 if rng.random() < 0.002 else 0), 2)
        readings.append(reading(i, t, vitals))

    def alerts(per_record: int) -> list[tuple[object, ...]]:
        state, told = patient_state.PatientState(), []
        for k in range(0, len(readings), per_record):
            group = readings[k : k + per_record]
            outcome = core.process_record(state, record(group, group[-1]["ts"]))  # type: ignore[arg-type]
            told += [(e["kind"], e["status"], e["event_time"], e["alert_id"]) for e in outcome.events]
            patient_state.encode(state)  # the worker writes the state after each record
        return told

    one, ten = alerts(1), alerts(10)
    assert any(kind == "anomaly" for kind, *_ in one)
    assert one == ten


def _monitor_with_two_custom_channels(days: float) -> list[dict[str, object]]:
    rng = random.Random(4)
    readings = []
    for i in range(int(days * 24 * 60)):
        t = T0 + i * MINUTE
        vitals = normal(rng)
        hour = 2 * math.pi * (t // 3_600_000 % 24) / 24
        vitals["etco2"] = round(38 + 3 * math.sin(hour) + rng.gauss(0, 1), 1)
        vitals["pi"] = round(2 + math.cos(hour) + rng.gauss(0, 0.2), 2)
        readings.append(reading(i, t, vitals))
    return readings


def _parts(state: patient_state.PatientState) -> set[tuple[str, str]]:
    """What a state has learned that the bound may drop: (channel, part)."""
    parts = set()
    for name, b in state.baselines.items():
        parts.add((name, "baseline"))
        if b.weekly is not None:
            parts.add((name, "weekly"))
        if b.shape is not None:
            parts.add((name, "shape"))
    return parts


def test_what_the_bound_dropped_does_not_begin_again_for_a_day() -> None:
    """A monitor's vitals and two custom channels read every minute reach
    the 4 KiB bound within two days. The weekly profile dropped to fit began
    again at the next reading of its channel and was dropped again: an
    encoding and a trim at every reading, 1.6 times the CPU of the same
    patient (docs/benchmarks.md). The state now records when it was last
    trimmed (`full`, stored as "z"): for a day after, no weekly profile or
    shape begins (nor a custom baseline, with neither left to drop for it);
    then what was dropped begins again, and is dropped again if there is
    still no room. A worker restarted after every reading writes the same."""
    readings = _monitor_with_two_custom_channels(3.5)
    state = patient_state.PatientState()
    trims: list[int] = []  # event times of the trims
    after_trim: set[tuple[str, str]] = set()
    regrown = []
    for r in readings:
        core.process(state, "p-subject-1", "dev-1", r)
        assert len(patient_state._encode(state)) <= patient_state.MAX_STATE_BYTES
        if state.full and (not trims or state.full != trims[-1]):
            trims.append(state.full)
            after_trim = _parts(state)
        elif trims:
            new = _parts(state) - after_trim
            if r["ts"] < trims[-1] + patient_state.REGROW_AFTER_MS:  # type: ignore[operator]
                assert not new, f"{new} began within a day of a trim"
            elif new:
                regrown.append(r["ts"])
    assert trims and trims[0] < T0 + 2 * patient_state.REGROW_AFTER_MS  # at the bound within two days
    assert len(trims) <= 5, f"{len(trims)} trims in 3.5 days"  # at every reading, before
    assert regrown, "nothing began again a day after the trim"

    restarted, told, told_restarted = patient_state.PatientState(), [], []
    state = patient_state.PatientState()
    for r in readings:
        told += core.process(state, "p-subject-1", "dev-1", r).events
        told_restarted += core.process(restarted, "p-subject-1", "dev-1", r).events
        restarted = patient_state.decode(patient_state.encode(restarted))
    assert told_restarted == told
    assert patient_state.encode(restarted) == patient_state.encode(state)


def test_a_new_custom_channel_at_the_bound_is_learned_at_once() -> None:
    """Two custom channels of long names keep a monitor's state at its bound
    from the first day; a glucose sensor joins on day 2 and reads 8 mmol/L
    high for half an hour on day 3.5. Its baseline is kept at the cost of a
    weekly profile or a shape of the day, as before the hold: a first
    version of the hold kept every new baseline out for a day after each
    trim (the new channel's own arrival made one) and told nothing of the
    rise (an outside reviewer's finding)."""
    rng = random.Random(4)
    state, told = patient_state.PatientState(), []
    names = [f"c{j}_" + "x" * 61 for j in range(2)]
    for i in range(int(3.6 * 1440)):
        t = T0 + i * MINUTE
        vitals = normal(rng)
        hour = 2 * math.pi * (t // 3_600_000 % 24) / 24
        for j, name in enumerate(names):
            vitals[name] = round(100 + 20 * math.sin(hour + j) + rng.gauss(0, 3), 2)
        if i >= 2 * 1440:
            rise = 8 if 3.5 * 1440 <= i < 3.5 * 1440 + 30 else 0
            vitals["glucose_mmol"] = round(6 + math.sin(hour) + rng.gauss(0, 0.2) + rise, 2)
        told += core.process(state, "p-subject-1", "dev-1", reading(i, t, vitals)).events
        if i == 2 * 1440 - 1:
            assert state.full, "not at the bound before the new channel"
    rises = [e for e in told if e["kind"] == "anomaly" and e["status"] == "open"]
    assert any("glucose_mmol" in e["evidence"]["vitals"] for e in rises), rises


def test_the_trim_counts_the_mark_it_leaves() -> None:
    """The trim records when it trimmed ("z", about 20 bytes) in the state
    it measures: a state whose first dropped part freed just enough before
    the mark was written passed the bound by a few bytes (found by the
    property test in tests/core/test_process_properties.py)."""
    state = patient_state.PatientState()
    for r in _monitor_with_two_custom_channels(2.0):
        core.process(state, "p-subject-1", "dev-1", r)
        if state.full:
            break
    state.full = 0
    # the bytes the part dropped first (a weekly profile, custom channels' first) frees
    size = len(patient_state._encode(state))
    copy = patient_state.decode(patient_state.encode(state))
    custom = [k for k in copy.latest if k not in patient_state.CATALOGUE]
    first = next(k for k in custom + list(copy.baselines) if k in copy.baselines and copy.baselines[k].weekly)
    copy.baselines[first].forget_week(copy.last_ts)
    gone = size - len(patient_state._encode(copy))
    # pad the state so that after that part goes it is 10 bytes under the bound
    state.last_id += "x" * (patient_state.MAX_STATE_BYTES - 10 + gone - size)
    assert len(patient_state._encode(state)) == patient_state.MAX_STATE_BYTES - 10 + gone
    patient_state.bound(state)
    assert state.full == state.last_ts
    assert len(patient_state._encode(state)) <= patient_state.MAX_STATE_BYTES


def test_the_state_bound_holds_for_channel_names_that_json_escapes() -> None:
    """Another system's records may name a custom channel in any characters
    (app.core.records takes up to 64): each may take six bytes in the
    state's JSON. The core's cheap size bound allows for it."""
    state = patient_state.PatientState()
    names = [f"{j}" + '\x01\u00e9"' * 21 for j in range(patient_state.MAX_CUSTOM_CHANNELS)]
    for i in range(200):
        vitals: dict[str, object] = {name: 1000.123456789 + i + j for j, name in enumerate(names)}
        core.process(state, "p-subject-1", "dev-1", reading(i, T0 + i * MINUTE, vitals))
        size = len(patient_state._encode(state))
        assert size <= patient_state.MAX_STATE_BYTES
        assert patient_state._size_bound(state) >= size


def test_worst_case_state_fits_the_bound() -> None:
    """Every part at its largest: all modelled vitals learned and trending,
    every alert kind open, every catalogue vital and the most custom channels
    with the longest names and values."""
    state = patient_state.PatientState()
    rng = random.Random(5)
    for i in range(400):
        vitals = {
            k: v + rng.random() / 7 if isinstance(v, (int, float)) else v for k, v in normal(rng).items()
        }
        vitals.update(diastolic_bp=75 + rng.random() / 7, weight=80.123456789, on_oxygen=True)
        for j in range(patient_state.MAX_CUSTOM_CHANNELS):
            vitals[f"c{j}_" + "z" * 61] = -999999999999.0 + rng.random()
        core.process(state, "p-subject-1", "dev-1", reading(i, T0 + i * 997 + 1, vitals))
    for kind in LIFECYCLE_KINDS:
        state.alerts[kind] = OpenAlert(T0 * 3, Severity.MEDIUM, T0 * 3, False, T0 * 3)
    data = patient_state.encode(state)
    assert len(data) <= patient_state.MAX_STATE_BYTES
    assert (
        sum(k.endswith("zzz") for k in patient_state.decode(data).latest) == patient_state.MAX_CUSTOM_CHANNELS
    )


def test_a_state_that_cannot_fit_is_refused_not_written() -> None:
    state = patient_state.PatientState(last_id="x" * 5000)  # no device can cause this; a bug could
    with pytest.raises(StateError):
        patient_state.encode(state)


# -- records of the wrong shape -----------------------------------------------------


GOOD = {
    "v": 1,
    "device_id": "dev-1",
    "patient": "p-1",
    "received_ms": T0,
    "readings": [reading(0, T0, {"spo2": 97})],
}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff not json", "undecodable"),
        (orjson.dumps({**GOOD, "v": 9}), "undecodable"),
        (orjson.dumps([1, 2]), "wrong_shape"),
        (orjson.dumps({**GOOD, "readings": {"0": 1}}), "wrong_shape"),
        (orjson.dumps({**GOOD, "patient": 7}), "wrong_shape"),
        (orjson.dumps({**GOOD, "received_ms": "now"}), "wrong_shape"),
        (orjson.dumps({**GOOD, "readings": [{"id": "a", "ts": "2026-01-01", "vitals": {}}]}), "wrong_shape"),
        (orjson.dumps({**GOOD, "readings": [{"id": "a", "ts": T0, "vitals": [97]}]}), "wrong_shape"),
        (
            orjson.dumps({**GOOD, "readings": [{"id": "a", "ts": T0, "vitals": {"heart_rate": "72"}}]}),
            "wrong_shape",
        ),
        (
            orjson.dumps({**GOOD, "readings": [{"id": "a", "ts": T0, "vitals": {"consciousness": "Q"}}]}),
            "wrong_shape",
        ),
        (
            orjson.dumps({**GOOD, "readings": [{"id": "a", "ts": T0, "vitals": {"hr": {"x": 1}}}]}),
            "wrong_shape",
        ),
        (
            orjson.dumps({**GOOD, "readings": [{"id": "a", "ts": T0, "vitals": {"spo2_scale": 3}}]}),
            "wrong_shape",
        ),
        (
            orjson.dumps({**GOOD, "readings": [{"id": "a", "ts": T0, "vitals": {"motion": 1}}]}),
            "wrong_shape",
        ),
        (orjson.dumps({**GOOD, "readings": [7]}), "wrong_shape"),
        # a new patient's first reading of id "" was dropped as a duplicate of its empty state
        (orjson.dumps({**GOOD, "readings": [{"id": "", "ts": T0, "vitals": {"spo2": 97}}]}), "wrong_shape"),
    ],
)
def test_records_of_the_wrong_shape_are_refused_with_a_reason(value: bytes, reason: str) -> None:
    with pytest.raises(RecordError) as refused:
        decode_readings(value)
    assert refused.value.reason == reason
    assert "p-1" not in refused.value.message and "97" not in refused.value.message


def test_a_producer_writing_microseconds_cannot_silence_a_patient() -> None:
    """Another system writes to `vigil.readings` with its times in
    microseconds (or nanoseconds). Its record was read as a reading thousands
    of years ahead: the patient's clock went there, every later reading (from
    any device) was out of order, and a deterioration an hour later told
    nothing. Such a record is now refused as a whole, saying why; the
    patient's readings from the gateway go on being judged."""
    micro = {
        **GOOD,
        "device_id": "feed-1",
        "received_ms": T0 * 1000,
        "readings": [reading(0, T0 * 1000, {"heart_rate": 72})],
    }
    nano = {**GOOD, "received_ms": T0, "readings": [reading(0, T0 * 1_000_000, {"heart_rate": 72})]}
    before = {**GOOD, "received_ms": T0, "readings": [reading(0, -1, {"heart_rate": 72})]}
    for value in (micro, nano, before):
        with pytest.raises(RecordError) as refused:
            decode_readings(orjson.dumps(value))
        assert refused.value.reason == "wrong_shape" and "epoch milliseconds" in refused.value.message

    state, told = patient_state.PatientState(), []
    for i in range(60):
        ts = T0 + i * MINUTE
        if i == 10:
            try:
                core.process_record(state, decode_readings(orjson.dumps(micro)))
            except RecordError:
                pass  # dead-lettered by the worker
        vitals = (
            CRITICAL
            if i >= 40
            else {
                "heart_rate": 72,
                "spo2": 97,
                "respiratory_rate": 15,
                "systolic_bp": 125,
                "temperature": 36.8,
            }
        )
        batch = decode_readings(
            orjson.dumps({**GOOD, "received_ms": ts, "readings": [reading(i + 1, ts, vitals)]})
        )
        told += [e["kind"] for e in core.process_record(state, batch).events]
    assert "news2" in told


def test_a_well_formed_record_decodes() -> None:
    batch = decode_readings(orjson.dumps(GOOD))
    assert batch.readings[0]["vitals"] == {"spo2": 97} and batch.patient == "p-1"


def test_dead_letter_record_says_where_and_why_but_not_what() -> None:
    value = orjson.dumps({**GOOD, "patient": "p-secret", "readings": "x"})
    letter = orjson.loads(
        encode_dead_letter("wrong_shape", "readings must be an array", "vigil.readings", 2, 41, value)
    )
    assert letter["reason"] == "wrong_shape" and (letter["partition"], letter["offset"]) == (2, 41)
    assert letter["size"] == len(value) and len(letter["sha256"]) == 16
    assert b"p-secret" not in orjson.dumps(letter) and b"dev-1" not in orjson.dumps(letter)


# -- a device clock that ran ahead --------------------------------------------------


def first_open(future_skew_ms: int | None) -> int | None:
    """Learn an hour of normal readings, optionally one reading stamped
    `future_skew_ms` ahead of its receipt, then critical readings every 5 s
    stamped correctly, each record received 200 ms after its reading was
    taken; return the event time of the first news2 open, after the onset."""
    state = patient_state.PatientState()
    rng = random.Random(9)
    seq = 0

    def send(ts: int, vitals: dict[str, object], received: int) -> core.RecordOutcome:
        nonlocal seq
        seq += 1
        return core.process_record(state, record([reading(seq, ts, vitals)], received))

    for i in range(60):
        send(T0 + i * MINUTE, normal(rng), T0 + i * MINUTE + 200)
    onset = T0 + 60 * MINUTE
    if future_skew_ms is not None:
        ahead = send(onset - 1000 + future_skew_ms, normal(rng), onset - 800)
        assert ahead.counts["future"] == 1
    for k in range(30):
        ts = onset + k * 5_000
        for event in send(ts, CRITICAL, ts + 200).events:
            if event["kind"] == "news2" and event["status"] == "open":
                return ts - onset
    return None


def test_a_future_timestamp_does_not_hide_later_readings() -> None:
    usual = first_open(None)
    assert usual is not None
    for skew in (60_000, 290_000, 299_000, 7 * 24 * 3600_000):
        assert first_open(skew) == usual, skew


def test_a_reading_stamped_after_its_receipt_is_processed_at_the_receipt_time() -> None:
    state = patient_state.PatientState()
    received = T0 + 10 * MINUTE
    result = core.process_record(state, record([reading(0, received + 6 * MINUTE, {"spo2": 97})], received))
    assert result.counts["scored"] == 1 and result.counts["future"] == 1
    assert state.last_ts == received and state.latest["spo2"][:2] == [97, received]
    later = core.process_record(state, record([reading(1, received + 1000, {"spo2": 96})], received + 1200))
    assert later.counts["scored"] == 1 and state.latest["spo2"][:2] == [96, received + 1000]


def test_a_critical_reading_a_minute_late_is_told_and_an_old_buffer_is_out_of_order() -> None:
    """A reading older than the patient's newest whose values are their
    channels' newest all the same (the heart rate came from another device)
    is scored, and its alert told at the patient's newest time; a buffer
    replayed after NEWS2 would no longer count it is out of order."""
    state = patient_state.PatientState()
    core.process(state, "p-subject-1", "dev-1", reading(0, T0 + 30 * MINUTE, {"heart_rate": 70}))
    late = core.process(state, "p-subject-1", "dev-2", reading(1, T0 + 29 * MINUTE, CRITICAL))
    assert not late.out_of_order
    assert [(e["kind"], e["status"], e["event_time"]) for e in late.events] == [
        ("news2", "open", "2025-11-29T17:30:00.000Z")
    ]
    assert state.last_ts == T0 + 30 * MINUTE and state.latest["heart_rate"][0] == 70  # not the older 142
    state = patient_state.PatientState()
    core.process(state, "p-subject-1", "dev-1", reading(0, T0 + 3 * 60 * MINUTE, {"heart_rate": 70}))
    old = core.process(state, "p-subject-1", "dev-2", reading(1, T0 + 30 * MINUTE, CRITICAL))
    assert old.out_of_order and old.events == []
