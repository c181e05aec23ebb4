"""The device session without sockets: frames and times in, actions out."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from app.core.delivery import NOTICE_INTERVAL_S, Budget, SeqWindow, TokenBucket
from app.core.protocol import Limits
from app.core.records import decode_readings
from app.core.session import (
    CLOSE_TRY_LATER,
    UNREAD,
    Action,
    Close,
    Count,
    DeviceSession,
    RecordRejection,
    Send,
    StoreReadings,
    Throttle,
    rejection_summary,
)

NOW = 1_800_000_000_000  # epoch ms
DEVICE, PATIENT, SUBJECT = "dev-1", "patient-42", "p-0123456789abcdef0123456789abcdef"


def session(
    window: SeqWindow | None = None, budget: Budget | None = None, limits: Limits = Limits()
) -> DeviceSession:
    return DeviceSession(
        DEVICE,
        PATIENT,
        SUBJECT,
        window if window is not None else SeqWindow(),
        budget if budget is not None else Budget(TokenBucket(1000, 1000)),
        limits,
        new_trace=lambda: "t-1",
    )


def reading(seq: int, hr: float = 72, **extra: object) -> dict[str, object]:
    return {"type": "reading", "seq": seq, "ts": NOW - 1000, "vitals": {"heart_rate": hr}, **extra}


def frame(obj: object) -> str:
    return orjson.dumps(obj).decode()


def batch(*items: dict[str, object]) -> str:
    return frame({"type": "batch", "readings": list(items)})


def sent(actions: list[Action]) -> list[dict[str, object]]:
    return [orjson.loads(a.frame) for a in actions if isinstance(a, Send)]


def counts(actions: list[Action]) -> dict[str, int]:
    out: dict[str, int] = {}
    for a in actions:
        if isinstance(a, Count):
            out[a.outcome] = out.get(a.outcome, 0) + a.n
    return out


def rejections(actions: list[Action]) -> list[dict[str, object]]:
    return [orjson.loads(a.value) for a in actions if isinstance(a, RecordRejection)]


def writes(actions: list[Action]) -> list[StoreReadings]:
    return [a for a in actions if isinstance(a, StoreReadings)]


def store(s: DeviceSession, text: str, now_ms: int = NOW) -> list[Action]:
    """Receive a frame and have Kafka store its readings; the actions of both."""
    actions = s.receive(text, now_ms).actions
    for write in writes(actions):
        actions = actions + s.stored(write)
    return actions


# -- hello ----------------------------------------------------------------------


def test_hello_on_a_new_device_says_nothing_is_stored() -> None:
    received = session().receive(frame({"type": "hello"}), NOW)
    assert received.kind == "hello"
    assert sent(received.actions) == [
        {"type": "hello", "protocol": 1, "last_seq": None, "gaps": [], "gaps_from": None, "gateway_ts": NOW}
    ]


def test_hello_names_the_highest_stored_seq_and_the_gaps_below_it() -> None:
    s = session()
    store(s, batch(reading(0), reading(1), reading(2), reading(5)))
    assert sent(s.receive(frame({"type": "hello"}), NOW).actions) == [
        {"type": "hello", "protocol": 1, "last_seq": 5, "gaps": [3, 4], "gaps_from": 0, "gateway_ts": NOW}
    ]


def test_hello_tells_the_gateways_clock_so_a_device_can_check_its_own() -> None:
    """A device whose clock is 45 s off has its readings compared, as
    stamped, with the patient's other devices'; the hello reply's
    `gateway_ts` is the gateway's clock when it answered."""
    later = NOW + 123_456
    assert sent(session().receive(frame({"type": "hello"}), later).actions)[0]["gateway_ts"] == later


def test_a_frame_tells_the_gateway_how_old_its_newest_reading_is() -> None:
    """The gateway measures each frame's newest reading against its own
    clock (`vigil_gateway_reading_age_seconds`): a device whose clock is
    ahead stamps readings in the gateway's future. Every reading whose
    time parsed counts; a frame without one does not."""
    ahead = session().receive(batch(reading(0, ts=NOW - 5_000), reading(1, ts=NOW + 40_000)), NOW)
    assert ahead.newest_ms == NOW + 40_000
    assert session().receive(frame({"type": "hello"}), NOW).newest_ms is None
    assert session().receive(frame({"type": "reading", "seq": 0}), NOW).newest_ms is None


# -- storing and acknowledging -------------------------------------------------------


def test_readings_are_acknowledged_only_once_kafka_has_them() -> None:
    s = session()
    received = s.receive(frame(reading(7)), NOW)
    assert received.kind == "reading"
    (write,) = writes(received.actions)
    assert sent(received.actions) == []  # nothing for the device yet
    assert not s.window.stored(7)
    assert s.pending == 1
    assert sent(s.stored(write)) == [{"type": "ack", "seq": 7}]
    assert s.window.stored(7)
    assert s.pending == 0


def test_the_record_is_keyed_by_the_pseudonym_and_carries_no_patient_identifier() -> None:
    (write,) = writes(session().receive(frame(reading(3, patient=PATIENT)), NOW).actions)
    assert write.key == SUBJECT.encode()
    record = decode_readings(write.value)
    assert (record.device_id, record.patient, record.received_ms) == (DEVICE, SUBJECT, NOW)
    assert record.trace == "t-1"
    assert [r["seq"] for r in record.readings] == [3]
    assert PATIENT.encode() not in write.value


def test_stored_counts_accepted_and_acks_a_batch_with_its_resends_in_order() -> None:
    s = session()
    store(s, frame(reading(2)))
    actions = s.receive(batch(reading(3), reading(2), reading(1)), NOW).actions
    (write,) = writes(actions)
    assert (write.seqs, write.resent, write.batch) == ((3, 1), (2,), True)
    acked = s.stored(write)
    assert counts(acked) == {"accepted": 2, "duplicate": 1}
    assert sent(acked) == [{"type": "ack", "seqs": [1, 2, 3]}]


def test_a_resend_is_acknowledged_at_once_and_not_stored_again() -> None:
    s = session()
    store(s, frame(reading(4)))
    actions = s.receive(frame(reading(4)), NOW).actions
    assert writes(actions) == []
    assert counts(actions) == {"duplicate": 1}
    assert sent(actions) == [{"type": "ack", "seq": 4}]


def test_a_resend_within_one_batch_is_stored_once() -> None:
    actions = session().receive(batch(reading(1), reading(1)), NOW).actions
    (write,) = writes(actions)
    assert (write.seqs, write.resent) == ((1,), (1,))


def test_a_stored_seq_with_other_content_is_refused_seq_reused() -> None:
    s = session()
    store(s, frame(reading(4, hr=72)))
    actions = s.receive(frame(reading(4, hr=90)), NOW).actions
    assert writes(actions) == []
    assert counts(actions) == {"seq_reused": 1}
    assert [(m["code"], m["seq"]) for m in sent(actions)] == [("seq_reused", 4)]
    assert [(r["code"], r["seq"], r["field"]) for r in rejections(actions)] == [("seq_reused", 4, "seq")]


# -- refusals ---------------------------------------------------------------------------


def test_a_bad_reading_is_refused_while_its_neighbours_go_through() -> None:
    s = session()
    actions = s.receive(batch(reading(1), reading(2, hr=999), reading(3)), NOW).actions
    assert counts(actions) == {"out_of_range": 1}
    assert [(m["type"], m["code"], m["seq"]) for m in sent(actions)] == [("error", "out_of_range", 2)]
    (record,) = rejections(actions)
    assert (record["code"], record["seq"], record["field"]) == ("out_of_range", 2, "vitals.heart_rate")
    (write,) = writes(actions)
    assert write.seqs == (1, 3)
    assert sent(s.stored(write)) == [{"type": "ack", "seqs": [1, 3]}]


def test_a_reading_naming_another_patient_is_unauthorized_and_the_name_is_not_recorded() -> None:
    s = session()
    actions = s.receive(batch(reading(1, patient="someone-else"), reading(2, patient=PATIENT)), NOW).actions
    assert counts(actions) == {"unauthorized": 1}
    assert [(m["code"], m["seq"]) for m in sent(actions)] == [("unauthorized", 1)]
    (rejection,) = [a for a in actions if isinstance(a, RecordRejection)]
    assert rejection.key == DEVICE.encode()
    assert b"someone-else" not in rejection.value and PATIENT.encode() not in rejection.value
    assert writes(actions)[0].seqs == (2,)


def test_refusals_are_counted_recorded_then_told_in_that_order() -> None:
    actions = session().receive(frame({"type": "nonsense"}), NOW).actions
    assert [type(a) for a in actions] == [Count, RecordRejection, Send]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("x" * (70 * 1024), "frame_too_large"),
        (b"\xff\xfe\x00garbage" * 100, "malformed_json"),
        ("[1, 2, 3]", "wrong_type"),
        ("[" * 100_000, "frame_too_large"),
    ],
    ids=["oversized", "garbage", "not-an-object", "deep"],
)
def test_an_unreadable_frame_is_refused_without_its_content(data: str | bytes, code: str) -> None:
    received = session().receive(data, NOW)
    assert received.kind == "invalid"
    (message,) = sent(received.actions)
    (record,) = rejections(received.actions)
    assert message["code"] == record["code"] == code
    raw = data.encode() if isinstance(data, str) else data
    assert record["fingerprint"] == hashlib.sha256(raw).hexdigest()[:16]
    for action in received.actions:  # nothing of the frame travels on: only its fingerprint
        size = len(action.frame if isinstance(action, Send) else getattr(action, "value", b""))
        assert size < 300


def test_receive_never_raises() -> None:
    s = session()
    for data in ("", b"", "\ud800", "null", "{" * 70_000):
        assert s.receive(data, NOW).kind == "invalid"
    actions = s.receive('{"type": "batch", "readings": [null, 1, "x"]}', NOW).actions
    assert counts(actions) == {"wrong_type": 3} and writes(actions) == []


# -- Kafka unavailable ------------------------------------------------------------------


def test_a_failed_write_answers_unavailable_per_reading_then_closes_1013() -> None:
    s = session()
    (write,) = writes(s.receive(batch(reading(1), reading(2)), NOW).actions)
    actions = s.failed(write)
    assert counts(actions) == {"unavailable": 2}
    assert [(m["code"], m["seq"]) for m in sent(actions)] == [("unavailable", 1), ("unavailable", 2)]
    assert actions[-1] == Close(CLOSE_TRY_LATER, "try again later")
    assert CLOSE_TRY_LATER == 1013
    assert not s.window.stored(1)
    assert s.pending == 0


def test_a_write_stored_after_it_failed_enters_the_window_silently() -> None:
    s = session()
    (write,) = writes(s.receive(frame(reading(9)), NOW).actions)
    s.failed(write)
    assert s.stored(write) == []  # the device was already told to resend
    assert s.window.stored(9)
    resend = s.receive(frame(reading(9)), NOW + 5000).actions
    assert writes(resend) == []
    assert sent(resend) == [{"type": "ack", "seq": 9}]


def test_failed_twice_answers_once() -> None:
    s = session()
    (write,) = writes(s.receive(frame(reading(1)), NOW).actions)
    assert s.failed(write) != []
    assert s.failed(write) == []


# -- the budget -------------------------------------------------------------------------


def budgeted(rate: float = 1.0, burst: float = 3.0) -> DeviceSession:
    return session(budget=Budget(TokenBucket(rate, burst)))


def test_a_frame_over_the_budget_is_refused_whole_told_once_and_paused() -> None:
    s = budgeted(rate=1, burst=3)
    received = s.receive(batch(reading(5), reading(6), reading(7), reading(8)), NOW)
    assert received.kind == "batch"
    assert counts(received.actions) == {"rate_limited": 4}
    assert [(m["code"], m["seq"]) for m in sent(received.actions)] == [("rate_limited", 5)]
    assert writes(received.actions) == [] and rejections(received.actions) == []
    (throttle,) = [a for a in received.actions if isinstance(a, Throttle)]
    assert throttle.pause_s == pytest.approx(1.0)  # 1 token short at 1 a second (capped at the interval)
    # Refused whole, so nothing was taken: three readings still fit.
    assert writes(s.receive(batch(reading(5), reading(6), reading(7)), NOW).actions)[0].seqs == (5, 6, 7)


def test_an_exhausted_device_is_refused_unread_and_told_once_an_interval() -> None:
    s = budgeted(rate=1, burst=2)
    store(s, batch(reading(1), reading(2)))  # the burst is spent
    first = s.receive(frame(reading(3)), NOW)
    assert first.kind == UNREAD and first.trace == ""
    assert [m["code"] for m in sent(first.actions)] == ["rate_limited"]
    assert counts(first.actions) == {}  # unread: no readings to count
    again = s.receive(frame(reading(3)), NOW + 100)
    assert again.kind == UNREAD and sent(again.actions) == []
    assert any(isinstance(a, Throttle) for a in again.actions)
    later = s.receive(frame({"type": "hello"}), NOW + 1100)  # a token is back
    assert later.kind == "hello"


def test_the_budget_is_the_devices_not_the_connections() -> None:
    budget, window = Budget(TokenBucket(1, 2)), SeqWindow()
    store(session(window, budget), batch(reading(1), reading(2)))
    reconnected = session(window, budget)
    assert reconnected.receive(frame(reading(3)), NOW).kind == UNREAD


def test_refusals_beyond_the_budget_are_summarised_once_an_interval() -> None:
    s = budgeted(rate=1, burst=1)
    s.receive(frame({"type": "hello"}), NOW)
    for i in range(5):
        s.receive(frame({"type": "hello"}), NOW + 10 * i)
    assert rejection_summary(DEVICE, s.budget, NOW + 100) is None  # the interval is not over
    record = rejection_summary(DEVICE, s.budget, NOW + int(NOTICE_INTERVAL_S * 1000))
    assert record is not None
    assert orjson.loads(record) == {
        "v": 2,
        "kind": "summary",
        "device_id": DEVICE,
        "from_ms": NOW,
        "received_ms": NOW + 40,
        "counts": {"rate_limited": 5},
    }
    assert rejection_summary(DEVICE, s.budget, NOW + 5000, final=True) is None  # said once


def test_the_trace_id_is_drawn_per_frame_read() -> None:
    traces = iter(["a", "b"])
    s = DeviceSession(
        DEVICE, PATIENT, SUBJECT, SeqWindow(), Budget(TokenBucket(10, 10)), new_trace=lambda: next(traces)
    )
    assert s.receive(frame({"type": "hello"}), NOW).trace == "a"
    (write,) = writes(s.receive(frame(reading(1)), NOW).actions)
    assert decode_readings(write.value).trace == "b"


def test_a_lone_surrogate_costs_only_its_reading_and_the_record_is_written() -> None:
    """Valid JSON orjson cannot hold (a lone surrogate escape) was
    `malformed_json` for the whole batch; now the reading keeping it in a
    field no reading stores goes through, the one naming a patient with it
    is refused as another patient's, and the record for Kafka is written."""
    s = session()
    raw = (
        '{"type": "batch", "readings": ['
        f'{{"seq": 1, "ts": {NOW}, "vitals": {{"heart_rate": 70}}}}, '
        f'{{"seq": 2, "ts": {NOW}, "note": "\\udc00", "vitals": {{"heart_rate": 71}}}}, '
        f'{{"seq": 3, "ts": {NOW}, "patient": "MRN-\\udc00", "vitals": {{"heart_rate": 72}}}}]}}'
    )
    actions = store(s, raw)
    assert counts(actions) == {"accepted": 2, "unauthorized": 1}
    (write,) = writes(actions)
    assert [r["seq"] for r in decode_readings(write.value).readings] == [1, 2]
