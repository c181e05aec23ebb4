"""The fault suite's reconciliation (load-tests/faults.py) counts what a user
would check, from what the devices were told and what Kafka holds: no broker
needed, the records are built here."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "load-tests"))

import faults  # noqa: E402

from app.core.records import encode_frames, reading_id  # noqa: E402
from app.infra.settings import Settings  # noqa: E402

DEVICE = "dev-1"
SUBJECT = "p-" + "a" * 32
T0 = 1_780_000_000_000


def client() -> faults.FaultClient:
    return faults.FaultClient("ws://127.0.0.1:1/v1", "token", run=None)


def queue(c: faults.FaultClient, ts: int, vitals: dict) -> int:
    """What `DeviceClient.send` does with a reading before sending it."""
    seq = c.next_seq
    c.next_seq += 1
    c.unacked[seq] = {"type": "reading", "seq": seq, "ts": ts, "vitals": vitals}
    return seq


def ack(c: faults.FaultClient, seq: int) -> None:
    c._on_frame({"type": "ack", "seq": seq})


def record(partition: int, offset: int, readings: list[tuple[int, int, dict]], device: str = DEVICE):
    value = orjson.dumps(
        {
            "v": 1,
            "device_id": device,
            "patient": SUBJECT,
            "received_ms": T0,
            "readings": [
                {"id": reading_id(device, seq), "seq": seq, "ts": ts, "vitals": v} for seq, ts, v in readings
            ],
        }
    )
    return SimpleNamespace(partition=partition, offset=offset, value=value)


def reconcile(clients, records, committed) -> faults.Result:
    result = faults.Result("test", 1)
    faults.reconcile_readings(result, {DEVICE: clients}, records, committed)
    return result


def test_a_stored_acked_reading_is_not_lost() -> None:
    c = client()
    seq = queue(c, T0, {"heart_rate": 70})
    ack(c, seq)
    result = reconcile([c], [record(0, 5, [(seq, T0, {"heart_rate": 70})])], {0: 6})
    assert (result.sent, result.acked, result.lost, result.stored_twice) == (1, 1, 0, 0)


def test_acked_but_missing_unprocessed_or_never_acked_readings_are_lost() -> None:
    c = client()
    stored, unprocessed, missing, pending = (queue(c, T0 + i, {"heart_rate": 70 + i}) for i in range(4))
    for seq in (stored, unprocessed, missing):
        ack(c, seq)
    records = [
        record(0, 5, [(stored, T0 + 0, {"heart_rate": 70})]),
        record(0, 6, [(unprocessed, T0 + 1, {"heart_rate": 71})]),  # beyond the committed offset
    ]
    result = reconcile([c], records, {0: 6})
    assert result.lost_detail == {"never_acked": 1, "acked_not_stored": 1, "stored_not_processed": 1}
    assert result.lost == 3 and pending in c.unacked


def test_a_reset_seq_acked_as_a_resend_is_lost_although_the_seq_is_stored() -> None:
    """The device restarts at seq 0 with a new reading; the gateway acks it
    as a resend of the old seq 0: the seq is on the topic, the reading is not."""
    before, after = client(), client()
    ack(before, queue(before, T0, {"heart_rate": 70}))
    ack(after, queue(after, T0 + 60_000, {"heart_rate": 95}))
    result = reconcile([before, after], [record(0, 1, [(0, T0, {"heart_rate": 70})])], {0: 2})
    assert result.acked == 2
    assert result.lost_detail["acked_not_stored"] == 1


def test_a_reading_renumbered_by_the_client_is_checked_by_its_content() -> None:
    c = client()
    seq = queue(c, T0, {"heart_rate": 70})
    reading = c.unacked.pop(seq)
    c.unacked[7] = {**reading, "seq": 7}  # a client moving a refused reading to a fresh seq
    ack(c, 7)
    result = reconcile([c], [record(0, 1, [(7, T0, {"heart_rate": 70})])], {0: 2})
    assert (result.acked, result.lost) == (1, 0)


async def test_a_reading_the_client_still_holds_unnumbered_is_never_acked() -> None:
    """A client may keep readings out of `unacked` until the gateway's hello
    (numbering them only then): handed to it and never acked is lost."""
    c = client()
    await c.send(T0, {"heart_rate": 70})  # not connected: held unnumbered until a hello reply
    assert len(c.unnumbered) == 1 and not c.unacked
    result = reconcile([c], [], {})
    assert (result.sent, result.lost_detail["never_acked"]) == (1, 1)


def test_a_raw_device_refused_is_not_lost_but_acked_and_missing_is() -> None:
    raw = faults.RawDevice()
    kept, dropped, refused = (faults.fingerprint(T0 + i, {"heart_rate": 90 + i}) for i in range(3))
    raw.queued = {kept, dropped, refused}
    raw.acked_fps = {kept, dropped}  # acknowledged; `refused` got an error frame
    result = reconcile([raw], [record(0, 1, [(0, T0, {"heart_rate": 90})])], {0: 2})
    assert (result.sent, result.acked, result.lost) == (3, 2, 1)
    assert result.lost_detail["acked_not_stored"] == 1


def test_copies_of_a_seq_are_counted_and_conflicting_content_is_a_failure() -> None:
    c = client()
    for i in range(2):
        ack(c, queue(c, T0 + i, {"heart_rate": 70}))
    records = [
        record(0, 1, [(0, T0, {"heart_rate": 70}), (1, T0 + 1, {"heart_rate": 70})]),
        record(0, 2, [(0, T0, {"heart_rate": 70})]),  # a resend stored again: harmless
        record(0, 3, [(1, T0 + 5, {"heart_rate": 99})]),  # seq 1 with other content: a bug
    ]
    result = reconcile([c], records, {0: 4})
    assert (result.stored_twice, result.stored_conflicting, result.lost) == (2, 1, 0)
    faults.judge(result)
    assert any("different content" in f for f in result.failures)


# -- alerts, against the offline replay ---------------------------------------------------

CRITICAL = faults.CRITICAL


def critical_records() -> list[SimpleNamespace]:
    return [record(0, i, [(i, T0 + i * 5000, CRITICAL)]) for i in range(4)]


def alert_records(events: list[dict]) -> list[SimpleNamespace]:
    return [SimpleNamespace(partition=0, offset=i, value=orjson.dumps(e)) for i, e in enumerate(events)]


@pytest.fixture
def replayed() -> list[dict]:
    events = faults.replay({SUBJECT: "P-1"}, critical_records(), Settings().detector_config())
    assert [e["status"] for e in events] == ["open"]  # critical vitals: NEWS2 opens at once
    return events


def reconcile_alerts(events: list[dict]) -> faults.Result:
    result = faults.Result("test", 1)
    faults.reconcile_alerts(
        result, {SUBJECT: "P-1"}, critical_records(), alert_records(events), Settings().detector_config()
    )
    faults.judge(result)
    return result


def test_alerts_matching_the_replay_pass(replayed: list[dict]) -> None:
    result = reconcile_alerts(replayed)
    assert (result.alerts_expected, result.alerts_lost, result.duplicate_alerts) == (1, 0, 0)
    assert result.passed


def test_an_alert_of_the_replay_missing_from_the_topic_is_lost(replayed: list[dict]) -> None:
    result = reconcile_alerts([])
    assert result.alerts_lost == 1 and not result.passed


def test_a_re_emitted_identical_alert_and_a_conflicting_one_are_both_duplicates(replayed: list[dict]) -> None:
    event = replayed[0]
    result = reconcile_alerts([event, event, {**event, "reading_id": "other"}])
    assert (result.alerts_reemitted, result.alerts_conflicting, result.duplicate_alerts) == (1, 1, 2)
    assert not result.passed


def test_alerts_of_other_patients_are_ignored(replayed: list[dict]) -> None:
    stranger = {**replayed[0], "subject": "p-" + "b" * 32, "alert_id": "x"}
    result = reconcile_alerts([*replayed, stranger, stranger])
    assert result.passed


def test_the_table_shows_how_long_each_scenario_took_over_its_runs() -> None:
    runs = [faults.Result("worker-kill", i) for i in (1, 2)]
    runs[0].notes["elapsed_s"], runs[1].notes["elapsed_s"] = 17.7, 20.1
    row = faults.summarise("worker-kill", runs)
    assert row["elapsed_s"] == 37.8
    header, _, line = faults.render([row]).splitlines()
    assert header.split()[-2:] == ["time", "s"] and line.split()[-2:] == ["pass", "38"]


def test_readings_in_a_record_of_several_frames_are_counted_each() -> None:
    """The gateway coalesces frames of one partition into one record (v 2):
    each of its frames' readings is stored, none lost."""
    c = client()
    first, second = queue(c, T0, {"heart_rate": 70}), queue(c, T0 + 1, {"heart_rate": 71})
    ack(c, first)
    ack(c, second)
    other = record(0, 0, [(5, T0, {"heart_rate": 60})], device="dev-other").value
    frames = [
        record(0, 0, [(first, T0, {"heart_rate": 70})]).value,
        other,
        record(0, 0, [(second, T0 + 1, {"heart_rate": 71})]).value,
    ]
    coalesced = SimpleNamespace(partition=0, offset=3, value=encode_frames(frames))
    result = reconcile([c], [coalesced], {0: 4})
    assert (result.acked, result.lost, result.stored_twice) == (2, 0, 0)


def _waiter(answers: list, monkeypatch: pytest.MonkeyPatch) -> faults.FaultRun:
    """A fault run whose committed-offset polls get `answers` in turn (None:
    Kafka did not answer), on a fake clock that moves 1 s per poll."""
    clock = [0.0]
    polls = iter(answers)

    async def poll(bootstrap: str, group: str) -> dict[int, int] | None:
        clock[0] += 1.0
        return next(polls)

    async def no_sleep(seconds: float) -> None:
        return None

    monkeypatch.setattr(faults, "committed_or_none", poll)
    monkeypatch.setattr(faults.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(faults.asyncio, "sleep", no_sleep)
    run = object.__new__(faults.FaultRun)
    run.settings = SimpleNamespace(bootstrap="127.0.0.1:1", worker_id="vigil-worker")
    run.alive = lambda: True
    run.unanswered = 0
    return run


def test_unanswered_offset_polls_are_not_a_stuck_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kafka does not answer for 30 polls (a broker restarting), then the
    worker's offsets are there, moving on to the end: the wait returns them.
    Before, 20 s of unanswered polls read as a stuck worker with nothing
    committed, every record of the run counted unprocessed."""
    run = _waiter([{0: 5}] + [None] * 30 + [{0: 8}, {0: 10}], monkeypatch)
    end = {faults.TopicPartition(faults.READINGS_TOPIC, 0): 10}
    assert faults.asyncio.run(run._wait_processed(end, deadline=1000.0)) == {0: 10}
    assert run.unanswered == 30


def test_offsets_that_do_not_move_are_a_stuck_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Answered, but not moving for WAIT_STALL_S: the wait gives up with the last
    answer (what the worker did commit), long before the deadline."""
    run = _waiter([{0: 5}] * 100, monkeypatch)
    end = {faults.TopicPartition(faults.READINGS_TOPIC, 0): 10}
    assert faults.asyncio.run(run._wait_processed(end, deadline=1000.0)) == {0: 5}
    assert run.unanswered == 0


def test_a_worker_that_stopped_itself_stalled_is_started_again() -> None:
    """Exit code 6 (the worker's watchdog): started again, as a supervisor
    would, and noted; a worker that crashed or was killed is not."""

    def exited(code: int) -> SimpleNamespace:
        return SimpleNamespace(poll=lambda: code, returncode=code)

    stack = object.__new__(faults.Stack)
    stack.workers = {
        "worker-1": SimpleNamespace(name="worker-1", proc=exited(6)),
        "worker-2": SimpleNamespace(name="worker-2", proc=exited(-9)),
    }
    stack.stall_restarts = []
    restarted = []

    def restart_worker(worker: SimpleNamespace, wait: bool = True) -> None:
        restarted.append((worker.name, wait))
        worker.proc = SimpleNamespace(poll=lambda: None, returncode=None)

    stack.restart_worker = restart_worker
    assert stack.worker_alive()
    assert restarted == [("worker-1", False)]
    assert stack.stall_restarts == ["worker-1"]
    stack.worker_alive()
    assert restarted == [("worker-1", False)]  # once
