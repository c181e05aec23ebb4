"""The patient state's encoding: a round trip changes nothing a reading
would notice, older versions still decode, others are refused."""

from __future__ import annotations

import base64
import math
import random
import struct

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
    state.alerts[Kind.ANOMALY] = OpenAlert(1000, Severity.MEDIUM, None, True, 1000, 5000, 3)
    copy = decode(encode(state))
    b = copy.baselines["temperature"]
    tail = [36.7 + rng.gauss(0, 0.1) for _ in range(50)] + [38.0] * 30
    assert feed(a, tail[:]) == feed(b, tail[:])  # drift at the same readings
    assert (a.mean, a.sd, a.level, a.slope, a.recent) == (b.mean, b.sd, b.level, b.slope, b.recent)
    assert copy.alerts == state.alerts and copy.alerts[Kind.ANOMALY].severity is Severity.MEDIUM
    assert encode(copy) == encode(state)


# A version 3 state as that version wrote it: a SpO2 baseline of 40 readings
# of 97 (prior 97, 1.5), its Page-Hinkley detector with a test statistic of 3
# upwards and 2 downwards, and a trend, as JSON numbers.
V3_SPO2 = [40.0, 97.0, 0.0, 97.0, 1.5, 97.0, 40.0, 0.1, 5.0, -4.0, 2.0, -2.0, 97.0, 0.0, 60_000]
V3 = {
    "v": 3,
    "n": 40,
    "t": 60_000,
    "i": "r",
    "q": 0.42,
    "b": {"spo2": V3_SPO2},
    "l": {"spo2": [97, 60_000]},
    "a": {},
}


def test_version_2_states_decode_without_a_trend() -> None:
    obj = {**V3, "v": 2, "b": {"spo2": V3_SPO2[:12]}}  # version 2 baselines had no trend
    b = decode(orjson.dumps(obj)).baselines["spo2"]
    assert (b.n, b.var.mean, b.prior_sd, b.t_ms, b.slope) == (40.0, 97.0, 1.5, 0, 0.0)


def test_version_3_states_decode_with_signal_quality_afresh() -> None:
    state = decode(orjson.dumps(V3))
    b = state.baselines["spo2"]
    assert state.quality == {} and state.latest["spo2"] == [97, 60_000, 0]  # cadence not known yet
    assert (b.n, b.var.mean, b.level, b.t_ms) == (40.0, 97.0, 97.0, 60_000)
    assert (b.ph.n, b.ph.sum_increase, b.ph.min_increase) == (40.0, 5.0, 2.0)


def test_version_4_alerts_decode_with_their_reminders_counted_from_none() -> None:
    """A version 4 alert (five fields) reads as never having fallen below its
    severity and as having sent no reminder: its reminders back off afresh."""
    alerts = {"news2": [0, "high", None, 1, 4]}
    obj = {"v": 4, "n": 1, "t": 5, "i": "r", "q": {}, "b": {}, "l": {}, "a": alerts}
    state = decode(orjson.dumps(obj))
    assert state.alerts[Kind.NEWS2] == OpenAlert(0, Severity.HIGH, None, True, 4, None, 0, 0)
    assert orjson.loads(encode(state))["a"] == {"news2": [0, "high", None, True, 4, None, 0, 0]}


def test_version_5_alerts_decode_with_no_part_told_at_its_worst() -> None:
    """A version 5 alert (seven fields) reads as having told no part of its
    condition at its worst: a parameter scoring 3 on the next reading is
    told (once), and a version 6 alert keeps what it told."""
    v5 = {
        "v": 5,
        "n": 1,
        "t": 5,
        "i": "r",
        "q": {},
        "b": {},
        "l": {},
        "a": {"news2": [0, "high", None, 1, 4, 2, 1]},
    }
    assert decode(orjson.dumps(v5)).alerts[Kind.NEWS2] == OpenAlert(0, Severity.HIGH, None, True, 4, 2, 1, 0)
    told = PatientState(alerts={Kind.NEWS2: OpenAlert(0, Severity.HIGH, None, True, 4, None, 1, 0b1010)})
    assert decode(encode(told)).alerts == told.alerts
    assert orjson.loads(encode(told))["a"] == {"news2": [0, "high", None, True, 4, None, 1, 10]}


def test_a_rise_awaiting_confirmation_survives_a_restart() -> None:
    """A rise seen at one reading is confirmed at the next one after a
    restart as it would be without (`OpenAlert.rise`); an alert with none
    stores nothing more."""
    alerts = {
        Kind.ANOMALY: OpenAlert(0, Severity.LOW, None, True, 4, None, 0, 0, None, [60_000, 75_000]),
        Kind.NEWS2: OpenAlert(0, Severity.LOW, None, True, 4, None, 0, 0, Severity.HIGH, [60_000, 60_000]),
    }
    state = PatientState(alerts=alerts)
    assert decode(encode(state)).alerts == alerts
    stored = orjson.loads(encode(state))["a"]
    assert stored["anomaly"][8:] == [None, [60_000, 75_000]]
    assert stored["news2"][8:] == ["high", [60_000, 60_000]]


def test_signal_quality_per_channel_round_trips() -> None:
    state = PatientState(
        quality={
            "spo2": [0.6723, 0, 0, 12345],
            "systolic_bp": [1.0, 1_764_435_600_000, 1, 678, 0.36, 0, 0, 91011],  # two devices
        }
    )
    assert decode(encode(state)).quality == state.quality


def test_signal_quality_without_its_device_judges_any_device() -> None:
    """A state written before each entry kept its devices ("e") reads as the
    entry judging every device (tag 0), as it was judged before."""
    data = orjson.loads(encode(PatientState(quality={"spo2": [0.6723, 0, 0, 12345]})))
    del data["e"]
    assert decode(orjson.dumps(data)).quality == {"spo2": [0.6723, 0, 0, 0]}


def test_version_4_states_decode_with_no_level_shift_in_progress() -> None:
    state = decode(orjson.dumps({**V3, "v": 4, "q": {}, "b": {}, "s": {"weight": [3.0, 1, 1, 2.0]}}))
    assert state.shifts == {} and state.latest["spo2"] == [97, 60_000, 0]


def test_a_level_shift_in_progress_round_trips_and_none_costs_no_bytes() -> None:
    state = PatientState(latest={"weight": [84.0, 5, 86_400_000]})
    assert "s" not in orjson.loads(encode(state))
    state.shifts["weight"] = [2.4, 1_764_435_600_000, 1, 1.6]
    assert decode(encode(state)).shifts == state.shifts


def test_alert_kinds_resolved_lately_round_trip_and_none_costs_no_bytes() -> None:
    """Which kinds resolved lately and how often they came back soon after
    (`app.core.alerts._flaps`) survive a restart; a state written before
    they were kept reads as none resolved lately."""
    state = PatientState()
    assert "k" not in orjson.loads(encode(state))
    state.flaps[Kind.NEWS2] = [1_764_435_600_000, 2]
    copy = decode(encode(state))
    assert copy.flaps == {Kind.NEWS2: [1_764_435_600_000, 2]}
    assert copy.flaps.keys() == {Kind.NEWS2} and isinstance(next(iter(copy.flaps)), Kind)
    older = orjson.loads(encode(state))
    del older["k"]
    assert decode(orjson.dumps(older)).flaps == {}


def test_a_value_held_back_round_trips_and_none_costs_no_bytes() -> None:
    """A channel whose latest value was held back at its own reading
    (`app.core.patient._hold_latest`) is still held back after a restart,
    until its next value; a state written before reads as none held, and a
    mark whose channel has left `latest` is not written."""
    state = PatientState(latest={"spo2": [86, 5, 60_000]})
    assert "x" not in orjson.loads(encode(state))
    state.held = {"spo2", "a_channel_gone"}
    assert orjson.loads(encode(state))["x"] == ["spo2"]
    assert decode(encode(state)).held == {"spo2"}
    older = orjson.loads(encode(state))
    del older["x"]
    assert decode(orjson.dumps(older)).held == set()


EMPTY = {"v": STATE_VERSION, "n": 0, "t": 0, "b": {}, "l": {}, "a": {}, "q": {}}
ZEROS = base64.b64encode(bytes(8 * 15)).decode()
CUSTOM = base64.b64encode(bytes(8 * 22)).decode()  # a custom channel's baseline, its generic block
RUN = [0, 180, 60, 0, 20000, 2, 9, 0]  # a daily routine: no run in progress, one time of day


def _shape(means: list[float], first: float = 20424.0, count: int = 12) -> str:
    """A shape of the day: 24 hour means, their mean, two errors, the first day, how many errors."""
    values = [*means, sum(means) / 24, 90.0, 4.0, first, 500.0]
    return base64.b64encode(struct.pack("<29d24H", *values, *[count] * 24)).decode()


DAY_SHAPE = [20.0] * 9 + [80.0] * 9 + [20.0] * 6  # a business day
SHAPE = _shape(DAY_SHAPE)


def test_a_shape_of_the_day_round_trips_and_a_state_without_one_reads_as_none_learned() -> None:
    """A custom channel's shape of the day ("h") decodes to the numbers
    encoded, in use when its first day is negated; a state without "h" (as
    written before it) reads as no shape learned."""
    data = orjson.dumps({**EMPTY, "b": {"c0": CUSTOM}, "h": {"c0": _shape(DAY_SHAPE, first=-20424.0)}})
    b = decode(data).baselines["c0"]
    assert b.shape is not None and b.shape[:24] == DAY_SHAPE and b.hours is b.shape
    assert orjson.loads(encode(decode(data)))["h"] == {"c0": _shape(DAY_SHAPE, first=-20424.0)}
    b = decode(orjson.dumps({**EMPTY, "b": {"c0": CUSTOM}})).baselines["c0"]
    assert b.shape is None and b.hours is None


def test_how_far_a_channels_far_values_go_round_trips_and_a_state_without_it_reads_as_none_seen() -> None:
    """A custom channel's reach ("f": how far out its far values have lately
    gone) decodes to the number encoded; a state without "f" (as written
    before it) reads as no far value seen, so a value 8 spreads out is its
    own confirmation, as it was before."""
    data = orjson.dumps({**EMPTY, "b": {"c0": CUSTOM}, "f": {"c0": 12.375}})
    assert decode(data).baselines["c0"].far_z == 12.375
    assert orjson.loads(encode(decode(data)))["f"] == {"c0": 12.375}
    state = decode(orjson.dumps({**EMPTY, "b": {"c0": CUSTOM}}))
    assert state.baselines["c0"].far_z == 0.0 and "f" not in orjson.loads(encode(state))


@pytest.mark.parametrize(
    "data",
    [
        orjson.dumps({"v": STATE_VERSION + 1, "n": 0, "t": 0, "b": {}, "l": {}, "a": {}}),
        orjson.dumps({"v": 1, "n": 0}),
        orjson.dumps({**EMPTY, "b": {f"c{i}": ZEROS for i in range(9)}}),  # more custom channels than kept
        orjson.dumps({**EMPTY, "b": {"consciousness": ZEROS}}),  # a catalogue channel that is not a number
        orjson.dumps({**EMPTY, "b": {"spo2": ZEROS[:-4]}}),  # a baseline of the wrong length
        orjson.dumps({**EMPTY, "b": {"spo2": "not base64!"}}),
        orjson.dumps(
            {"v": STATE_VERSION, "n": 0, "t": 0, "b": {}, "l": {}, "a": {"news2": [0, "grave", None, 1, 0]}}
        ),
        orjson.dumps(
            {"v": STATE_VERSION, "n": 0, "t": 0, "b": {}, "l": {}, "a": {}, "q": {"no_such_vital": [0, 0, 0]}}
        ),
        orjson.dumps({**EMPTY, "s": {"consciousness": [3.0, 1, 0, 1.0]}}),  # a shift of a letter
        orjson.dumps({**EMPTY, "s": {"weight": [3.0, 1, 0]}}),  # a shift of the wrong length
        orjson.dumps({**EMPTY, "r": {"c0": RUN}}),  # no baseline
        orjson.dumps({**EMPTY, "b": {"c0": CUSTOM}, "r": {"c0": RUN[:-1]}}),  # too short
        orjson.dumps(
            {**EMPTY, "b": {"c0": CUSTOM}, "r": {"c0": [0, 1500, 6, 0, 20000, 2, 9, 0]}}
        ),  # after 23:59
        orjson.dumps(
            {**EMPTY, "b": {"c0": CUSTOM}, "r": {"c0": [3, 180, 60, 0, 20000, 2, 9, 0]}}
        ),  # not a place
        orjson.dumps(
            {**EMPTY, "b": {"c0": CUSTOM}, "r": {"c0": [1, 180, 60.5, 0, 20000, 2, 9, 0]}}
        ),  # not a count
        orjson.dumps(
            {**EMPTY, "b": {"spo2": ZEROS}, "r": {"spo2": [0, 180, 60, 0, 20000, 2, 9, 0]}}
        ),  # a vital's
        orjson.dumps({**EMPTY, "h": {"c0": SHAPE}}),  # no baseline
        orjson.dumps({**EMPTY, "b": {"spo2": ZEROS}, "h": {"spo2": SHAPE}}),  # a vital's
        orjson.dumps({**EMPTY, "b": {"c0": CUSTOM}, "h": {"c0": SHAPE[:-8]}}),  # too short
        orjson.dumps({**EMPTY, "b": {"c0": CUSTOM}, "h": {"c0": [20.0] * 24}}),  # not packed
        orjson.dumps(
            {**EMPTY, "b": {"c0": CUSTOM}, "h": {"c0": _shape([float("nan")] + DAY_SHAPE[1:])}}
        ),  # not a number
        orjson.dumps({**EMPTY, "b": {"c0": CUSTOM}, "h": {"c0": _shape(DAY_SHAPE, first=0.0)}}),  # no day
        orjson.dumps({**EMPTY, "f": {"c0": 9.5}}),  # no baseline
        orjson.dumps({**EMPTY, "b": {"spo2": ZEROS}, "f": {"spo2": 9.5}}),  # a vital's
        orjson.dumps({**EMPTY, "b": {"c0": CUSTOM}, "f": {"c0": -9.5}}),  # not positive
        orjson.dumps({**EMPTY, "b": {"c0": CUSTOM}, "f": {"c0": "9.5"}}),  # not a number
        orjson.dumps({**EMPTY, "b": {"c0": CUSTOM}, "f": {"c0": True}}),  # not a number
        orjson.dumps({**EMPTY, "b": {"c0": CUSTOM}, "f": {"c0": 1e400}}),  # not finite (null in JSON)
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
    state = PatientState(
        count=3, last_ts=5, last_id="x", baselines={"heart_rate": b}, latest={"spo2": [97, 5, 0]}
    )
    obj = orjson.loads(encode(state))
    packed = obj["b"].pop("heart_rate")
    assert obj == {"v": 6, "n": 3, "t": 5, "i": "x", "q": {}, "b": {}, "l": {"spo2": [97, 5, 0]}, "a": {}}
    ph = b.ph
    assert struct.unpack("<15d", base64.b64decode(packed)) == (
        3.0, 72.0, 8.0, 75.0, 12.0, b.recent,
        ph.n, ph.mean, ph.sum_increase, ph.sum_decrease, ph.min_increase, ph.max_decrease,
        0.0, 0.0, 0.0,
    )  # fmt: skip


def test_the_daily_profile_round_trips_and_forecasts_the_same() -> None:
    rng = random.Random(3)
    a = Baseline.prior("my_metric", 100.0)
    day = 86_400_000
    for i in range(3 * 96):  # three days, every 15 minutes, a daily cycle of +-20
        t = i * 900_000
        angle = 2 * math.pi * (t % day) / day
        x = 100 + 20 * math.cos(angle) + rng.gauss(0, 2)
        a.update(x, a.z(x), 3.0, None, a.n >= 8, 900_000, 5.0, math.cos(angle), math.sin(angle), t)
    assert a.daily is not None and abs(a.daily[0] - 20) < 3 and abs(a.daily[1]) < 3
    b = decode(encode(PatientState(baselines={"my_metric": a}))).baselines["my_metric"]
    assert b.daily == a.daily and b.forecast(1.0, 0.0) == a.forecast(1.0, 0.0)


def test_a_custom_channels_generic_block_round_trips_and_version_4_decodes_without_it() -> None:
    """Version 5 stores a custom channel's surprise history and run of
    repeats; a version 4 state (a custom baseline of 20 numbers) still
    decodes, its generic block starting at 0."""
    a = Baseline.prior("my_metric", 100.0)
    for i in range(200):
        x = 100.0 + (i % 7) - 3
        a.update(x, a.z(x), 3.0, None, a.n >= 8, 600_000, 5.0, 1.0, 0.0, 600_000 * (i + 1))
        a.surprise(a.z(x), 144.0)
    a.repeated(True, 3)
    b = decode(encode(PatientState(baselines={"my_metric": a}))).baselines["my_metric"]
    assert b.generic == a.generic and (b.mean, b.sd) == (a.mean, a.sd)
    assert b.surprise(4.0, 144.0) == a.surprise(4.0, 144.0)
    v4 = struct.pack("<20d", *([200.0, 100.0, 800.0, 100.0, -1.0, 100.0] + [0.0] * 14))
    obj = {**EMPTY, "v": 4, "b": {"my_metric": base64.b64encode(v4).decode()}}
    old = decode(orjson.dumps(obj)).baselines["my_metric"]
    assert old.generic == [0.0] * 7 and old.mean == 100.0


def test_a_restart_after_a_spread_grown_in_warm_up_changes_no_alert() -> None:
    """An outside tester's fuzzing (42 readings, minimised): the systolic's
    spread grew in a warm-up after long gaps, with its daily profile in use.
    In memory the daily part stayed in use; a decoded state, which works it
    out from the spread, dropped it. A worker restarted before reading 35
    then opened a `low` anomaly at two systolics of 226 that the running
    one did not (and a `medium` one at 294 where the other's was `low`)."""
    import copy
    import json
    from pathlib import Path

    from app.core import patient as core
    from app.core.records import reading_id

    prefix = json.loads((Path(__file__).parent / "data" / "restart_daily_profile.json").read_text())

    def run(seq: list, restart_before: int | None = None) -> list[tuple]:
        state, events = PatientState(), []
        for i, (device, reading) in enumerate(seq):
            if i == restart_before:
                state = decode(encode(state))
            events += core.process(
                state, "p-" + "a" * 32, device, copy.deepcopy(reading), patient="PT-1"
            ).events
            encode(state)
        return [(e["kind"], e["status"], e["severity"], e["evidence"].get("z")) for e in events]

    ts = 1797251545502
    for value in (226, 294):
        seq = prefix + [
            ["dev-282-0", {"id": reading_id("dev-282-0", 3200 + j), "seq": 3200 + j, "ts": ts + j * 60000,
                           "vitals": {"systolic_bp": value}}]
            for j in range(2)
        ]  # fmt: skip
        assert run(seq) == run(seq, restart_before=35)
