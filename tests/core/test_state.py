"""The patient state's encoding: a round trip changes nothing a reading
would notice, older versions still decode, others are refused."""

from __future__ import annotations

import random

import orjson
import pytest

from app.core.alerts import Kind, OpenAlert, Severity
from app.core.errors import StateError
from app.core.model import Baseline
from app.core.state import STATE_VERSION, PatientState, decode, encode


def feed(b: Baseline, values: list[float]) -> list[bool]:
    return [b.update(x, b.z(x), learn_below=3.0) for x in values]


def test_round_trip_preserves_behaviour() -> None:
    rng = random.Random(9)
    a = Baseline.prior("temperature")
    feed(a, [36.7 + rng.gauss(0, 0.1) for _ in range(100)])
    for i in range(20):
        a.track(36.7 + i / 50, 60_000 * (i + 1), a.sd)
    state = PatientState(count=100, last_ts=60_000 * 20, last_id="r-1", baselines={"temperature": a})
    state.alerts[Kind.ANOMALY] = OpenAlert(1000, Severity.MEDIUM, None, True, 1000)
    copy = decode(encode(state))
    b = copy.baselines["temperature"]
    tail = [36.7 + rng.gauss(0, 0.1) for _ in range(50)] + [38.0] * 30
    assert feed(a, tail[:]) == feed(b, tail[:])  # drift at the same readings
    assert (a.mean, a.sd, a.level, a.slope, a.recent) == (b.mean, b.sd, b.level, b.slope, b.recent)
    assert copy.alerts == state.alerts and copy.alerts[Kind.ANOMALY].severity is Severity.MEDIUM
    assert encode(copy) == encode(state)


def test_version_2_states_decode_without_a_trend() -> None:
    a = Baseline.prior("spo2")
    feed(a, [97.0] * 40)
    a.track(97.0, 60_000, a.sd)
    obj = orjson.loads(encode(PatientState(count=40, baselines={"spo2": a})))
    obj["v"] = 2
    obj["b"]["spo2"] = obj["b"]["spo2"][:12]  # version 2 baselines had no trend
    b = decode(orjson.dumps(obj)).baselines["spo2"]
    assert (b.n, b.mean, b.sd, b.t_ms, b.slope) == (a.n, a.mean, a.sd, 0, 0.0)


def test_version_3_states_decode_with_signal_quality_afresh() -> None:
    a = Baseline.prior("spo2")
    feed(a, [97.0] * 40)
    obj = orjson.loads(encode(PatientState(count=40, baselines={"spo2": a}, quality={"spo2": [0.5, 0, 0]})))
    obj["v"], obj["q"] = 3, 0.42  # version 3: one artifact share for the whole patient
    state = decode(orjson.dumps(obj))
    assert state.quality == {} and state.baselines["spo2"].mean == a.mean


def test_signal_quality_per_channel_round_trips() -> None:
    state = PatientState(quality={"spo2": [0.6723, 0, 0], "systolic_bp": [1.0, 1_764_435_600_000, 1]})
    assert decode(encode(state)).quality == state.quality


@pytest.mark.parametrize(
    "data",
    [
        orjson.dumps({"v": STATE_VERSION + 1, "n": 0, "t": 0, "b": {}, "l": {}, "a": {}}),
        orjson.dumps({"v": 1, "n": 0}),
        orjson.dumps({"v": STATE_VERSION, "n": 0, "t": 0, "b": {"no_such_vital": [0] * 15}, "l": {}, "a": {}}),
        orjson.dumps({"v": STATE_VERSION, "n": 0, "t": 0, "b": {}, "l": {}, "a": {"news2": [0, "grave", None, 1, 0]}}),
        orjson.dumps(
            {"v": STATE_VERSION, "n": 0, "t": 0, "b": {}, "l": {}, "a": {}, "q": {"no_such_vital": [0, 0, 0]}}
        ),
        b"\x00",
    ],
)
def test_states_of_other_versions_or_shapes_are_refused(data: bytes) -> None:
    with pytest.raises(StateError):
        decode(data)


def test_the_encoding_is_plain_json_of_public_values() -> None:
    """Pinned: a change to this layout needs a new STATE_VERSION."""
    b = Baseline.prior("heart_rate")
    feed(b, [70.0, 72.0, 74.0])
    state = PatientState(count=3, last_ts=5, last_id="x", baselines={"heart_rate": b}, latest={"spo2": [97, 5]})
    assert orjson.loads(encode(state)) == {
        "v": 4,
        "n": 3,
        "t": 5,
        "i": "x",
        "q": {},
        "b": {"heart_rate": [3.0, 72.0, 8.0, 75.0, 12.0, b.recent, 3.0, b.ph.mean, b.ph.sum_increase,
                             b.ph.sum_decrease, b.ph.min_increase, b.ph.max_decrease, 0.0, 0.0, 0]},
        "l": {"spo2": [97, 5]},
        "a": {},
    }
