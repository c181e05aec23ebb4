"""The worker's Faust app: built by a factory, with the settings Faust gets
wrong for health data set on purpose."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    NotLeaderForPartitionError,
    TopicAuthorizationFailedError,
)
from faust.exceptions import ProducerSendError
from faust.types import TP

from agents.app import Worker
from agents.cache import Change
from agents.codec import CODEC
from app.core.protocol import Reading
from app.core.records import encode_frames, encode_readings
from app.core.state import PatientState
from app.infra import gc_tuning, metrics
from app.infra.pseudonyms import PatientDirectory
from app.infra.registry import Registry
from app.infra.settings import READINGS_TOPIC, Settings

ROOT = Path(__file__).resolve().parents[2]


def worker(tmp_path: Path) -> Worker:
    settings = Settings(home=tmp_path, kafka_bootstrap="127.0.0.1:1", worker_store="memory://")
    return Worker(settings, PatientDirectory(Registry(tmp_path / "devices.json"), b"k" * 32))


def test_importing_the_worker_does_no_work(tmp_path: Path) -> None:
    """No settings read, no key file made, no app built at import."""
    code = "import agents.app, agents.codec, agents.cache; import sys; print(hasattr(agents.app, 'app'))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "False"
    assert list(tmp_path.iterdir()) == []


def test_table_uses_vigils_codec_for_the_changelog(tmp_path: Path) -> None:
    # Recovery decodes with the changelog topic's codec: it must be ours, not JSON.
    patients = worker(tmp_path).patients
    assert patients.changelog_topic.value_serializer == CODEC
    assert patients.value_serializer == CODEC
    assert patients.changelog_topic.key_serializer == "raw"


def test_web_views_that_would_serve_patient_data_are_off(tmp_path: Path) -> None:
    conf = worker(tmp_path).app.conf
    assert not (conf.web_tables_enabled or conf.web_router_enabled or conf.web_stats_enabled)
    assert conf.web_bind == "127.0.0.1" and conf.producer_acks == -1


async def test_decoded_states_are_forgotten_when_partitions_move(tmp_path: Path) -> None:
    w = worker(tmp_path)
    w.decoded.put(b"p-1", PatientState())
    # Another worker may advance these patients once their partitions move.
    await w.app.on_partitions_revoked.send(set())
    assert len(w.decoded) == 0
    w.decoded.put(b"p-2", PatientState())
    await w.app.on_partitions_assigned.send(set())
    assert len(w.decoded) == 0


class _Acks:
    """The agent's manual-ack stream, as far as `Worker.flush` uses it."""

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer

    async def ack(self, event: Any) -> None:
        self.consumer.ack(event.message)


class _Message:  # Faust keeps messages in a WeakSet: a class of its own, not a SimpleNamespace
    def __init__(self, offset: int) -> None:
        self.topic, self.partition, self.offset = READINGS_TOPIC, 0, offset
        self.tp, self.acked = TP(READINGS_TOPIC, 0), False


def _record(offset: int) -> Any:
    return SimpleNamespace(message=_Message(offset))


async def test_a_record_that_raised_alerts_is_not_committable_before_the_records_before_it(
    tmp_path: Path,
) -> None:
    """Partition 0 is committed up to offset 10. Record 10 changed one
    patient (its state waits in the record cache), record 11 raised an alert
    (its patient is written at once). Until record 10's patient is written,
    no commit may pass offset 10: a worker that stopped or crashed then (the
    second worker of worker-join-leave stopping) would leave record 10's
    reading out of its patient's state for good, and later alerts differ.
    Faust commits over a gap of one record at the head of what it was given."""
    w = worker(tmp_path)
    consumer = w.app.consumer
    w.app.topics._acking_topics.add(READINGS_TOPIC)  # as Faust's conductor does once the agent subscribes
    tp = TP(READINGS_TOPIC, 0)
    consumer._committed_offset[tp] = 10
    written: list[bytes] = []

    async def write_changelog(changed: list[tuple[bytes, Change]]) -> list[Any]:
        metas = []
        for key, change in changed:
            written.append(key)
            metas.append(
                SimpleNamespace(
                    topic="vigil-patients-changelog", partition=change.partition, offset=len(written)
                )
            )
        return metas

    w.write_changelog = write_changelog  # type: ignore[method-assign]
    w.owned = lambda: {0}  # type: ignore[method-assign]
    stream = _Acks(consumer)

    w.unflushed.states[b"p-quiet"] = Change(0, b"{}")  # record 10, as `detect` leaves it
    w.unflushed.events.append((stream, _record(10)))
    w.unflushed.states[b"p-alerted"] = Change(0, b"{}")  # record 11, which raised an alert
    await w.flush(w.unflushed.take_one(b"p-alerted", [(stream, _record(11))]))
    assert written == [b"p-alerted"]
    assert consumer._new_offset(tp) is None  # nothing to commit yet

    await w.flush(w.unflushed.take())  # the next flush writes record 10's patient
    assert written == [b"p-alerted", b"p-quiet"]
    assert consumer._new_offset(tp) == 12  # now both records may be committed


def _committed_at(offset: int) -> Any:
    async def committed(tp: TP) -> int:  # what Kafka answers the worker
        return offset

    return committed


def _committed_at_10(tmp_path: Path, fausts_copy: int) -> tuple[Worker, Any, TP]:
    """A worker whose partition 0 Kafka has committed up to offset 10 (and
    Faust's copy of that offset says `fausts_copy`), acking its records."""
    w = worker(tmp_path)
    consumer = w.app.consumer
    w.app.topics._acking_topics.add(READINGS_TOPIC)  # as Faust's conductor does once the agent subscribes
    tp = TP(READINGS_TOPIC, 0)
    consumer._committed_offset[tp] = fausts_copy
    w.kafka_committed = _committed_at(10)  # type: ignore[method-assign]
    return w, consumer, tp


class _Stream(_Acks):
    """The agent's stream as `detect` uses it: records (events) one by one,
    the current one in `current_event`; after the agent seeks a partition
    back, what it sought to comes next (as Kafka would deliver it)."""

    def __init__(self, consumer: Any, offsets: list[int]) -> None:
        super().__init__(consumer)
        self.offsets = offsets
        self.current_event: Any = None

    def noack(self) -> _Stream:
        return self

    async def __aiter__(self) -> Any:
        while self.offsets:
            self.current_event = _record(self.offsets.pop(0))
            yield str(self.current_event.message.offset).encode()


async def test_a_record_past_a_gap_is_not_processed_and_the_skipped_records_are_read_again(
    tmp_path: Path,
) -> None:
    """Partition 0 is committed up to offset 10, and record 11 reaches the
    agent first: record 10 was skipped on the way (Faust's fetch loop, after
    a rebalance; worker-join-leave). Record 11 must not be processed and
    must not become committable (Faust commits over a one-record gap at the
    head of what it was given, and record 10's reading would be lost from
    its patient's state for good); the partition is sought back to 10, and
    records 10, 11, 12 are processed once each, in order. Faust's stream
    acks records it skips as fetched before a rebalance: such an ack of
    record 10 must not let a commit pass it before it is processed."""
    w, consumer, tp = _committed_at_10(tmp_path, fausts_copy=10)
    consumer.ack(_Message(10))  # the stream skipped a copy fetched before the rebalance, and acked it
    stream = _Stream(consumer, [11, 12])
    sought: list[tuple[TP, int]] = []

    async def seek_wait(partitions: dict[TP, int]) -> None:  # Faust's, in its consumer thread
        sought.extend(partitions.items())
        stream.offsets[:] = [10, 11, 12]  # Kafka delivers from the offset sought to

    processed: list[int] = []
    committable: list[dict[TP, int]] = []

    async def handle_record(value: bytes, message: Any) -> list[bytes]:
        processed.append(int(value))
        committable.append(consumer._filter_committable_offsets([tp]))  # what Faust's commit would take
        w.unflushed.states[b"p-1"] = Change(0, b"{}")
        return []

    async def write_changelog(changed: list[tuple[bytes, Change]]) -> list[Any]:
        return [
            SimpleNamespace(topic="vigil-patients-changelog", partition=c.partition, offset=1)
            for _, c in changed
        ]

    consumer.seek_wait = seek_wait  # type: ignore[method-assign]
    consumer.assignment = lambda: {tp}  # type: ignore[method-assign]
    w.owned = lambda: {0}  # type: ignore[method-assign]
    w.handle_record = handle_record  # type: ignore[method-assign]
    w.write_changelog = write_changelog  # type: ignore[method-assign]

    await w.detect(stream)  # type: ignore[arg-type]
    await w.flush(w.unflushed.take())

    assert processed == [10, 11, 12]
    assert committable == [{}, {}, {}]  # nothing of 10 on is committable before its states are written
    assert sought == [(tp, 10)]
    assert consumer._read_offset[tp] == 10  # Faust drops records fetched again below its read offset
    assert consumer._new_offset(tp) == 13


async def test_a_record_past_a_gap_waits_while_seeking_back_fails_until_the_seeks_are_spent(
    tmp_path: Path, monkeypatch
) -> None:
    """A seek that fails (the consumer's thread busy past the wait) is tried
    again by the timer every 2 s; after 5 failed seeks the worker goes back
    once to the first record it saw past the gap, and only then processes
    what comes, each giving-up counted where the SREs' alert looks
    (VigilWorkerOffsetGap). Before, the first failed seek had it processed
    at once: commits, which take what is written, would then pass the
    skipped records while Kafka still had them (an outside review)."""
    unrecovered = metrics.OFFSET_GAPS_UNRECOVERED._value.get()
    clock = [0.0]
    monkeypatch.setattr("agents.app.time.monotonic", lambda: clock[0])
    w = worker(tmp_path)
    consumer = w.app.consumer
    tp = TP(READINGS_TOPIC, 0)
    w.kafka_committed = _committed_at(10)  # type: ignore[method-assign]
    tries: list[int] = []

    async def seek_wait(partitions: dict[TP, int]) -> None:
        tries.append(partitions[tp])
        raise TimeoutError

    consumer.seek_wait = seek_wait  # type: ignore[method-assign]
    consumer.assignment = lambda: {tp}  # type: ignore[method-assign]
    processed: list[int] = []

    async def handle_record(value: bytes, message: Any) -> list[bytes]:
        processed.append(int(value))
        return []

    w.handle_record = handle_record  # type: ignore[method-assign]
    await w.detect(_Stream(consumer, [11, 12]))  # type: ignore[arg-type]
    assert processed == [] and tries == [10]
    for second in (2, 4, 6, 8):
        clock[0] = second
        await w.reseek_gaps()
    assert tries == [10] * 5 and processed == []
    clock[0] = 10
    await w.detect(_Stream(consumer, [13]))  # type: ignore[arg-type]
    assert processed == [] and tries == [10] * 5 + [11]  # back to 11, the first seen past the gap
    clock[0] = 12
    await w.detect(_Stream(consumer, [14]))  # type: ignore[arg-type]
    assert processed == [] and tries == [10] * 5 + [11, 11]  # once more
    clock[0] = 14
    await w.detect(_Stream(consumer, [15]))  # type: ignore[arg-type]
    assert processed == [15]
    assert metrics.OFFSET_GAPS_UNRECOVERED._value.get() == unrecovered + 2


class _Partition:
    """Partition 0 as the worker meets it in `detect`: the records it
    processes, where it seeks, and (`refetched`) what Kafka delivers next
    after a seek."""

    def __init__(
        self, w: Worker, stream: _Stream, refetched: list[int] | None = None, writes: bool = False
    ) -> None:
        self.tp = TP(READINGS_TOPIC, 0)
        self.sought: list[tuple[TP, int]] = []
        self.processed: list[int] = []

        async def seek_wait(partitions: dict[TP, int]) -> None:
            self.sought.extend(partitions.items())
            if refetched is not None:
                stream.offsets[:] = refetched

        async def handle_record(value: bytes, message: Any) -> list[bytes]:
            self.processed.append(int(value))
            if writes:  # each record changes a patient, whose state Kafka takes at the flush
                w.unflushed.states[b"p-1"] = Change(0, b"{}")
            return []

        w.app.consumer.seek_wait = seek_wait
        w.app.consumer.assignment = lambda: {self.tp}
        w.handle_record = handle_record  # type: ignore[method-assign]
        if writes:
            w.write_changelog = _changelog_written  # type: ignore[method-assign]
            w.owned = lambda: {0}  # type: ignore[method-assign]


async def test_the_first_record_is_checked_against_kafkas_committed_offset_not_fausts_copy(
    tmp_path: Path,
) -> None:
    """Faust's copy of a partition's committed offset can be stale (this
    worker held the partition before; its revocation commit put the value
    back): the first record at Kafka's committed offset is no gap."""
    w = worker(tmp_path)
    consumer = w.app.consumer
    tp = TP(READINGS_TOPIC, 0)
    consumer._committed_offset[tp] = 5  # stale: another worker has since committed up to 10
    w.kafka_committed = _committed_at(10)  # type: ignore[method-assign]
    stream = _Stream(consumer, [10, 11])
    partition = _Partition(w, stream)
    await w.detect(stream)  # type: ignore[arg-type]
    assert partition.processed == [10, 11] and partition.sought == []


@pytest.mark.parametrize("faust_copy", [5, 30])
async def test_a_partition_commits_after_a_rebalance_left_fausts_copy_of_its_offset_stale(
    tmp_path: Path, faust_copy: int
) -> None:
    """Kafka has partition 0 committed up to 10; Faust's copy says 5 (put
    back by the revocation commit of an earlier assignment) or 30 (Faust
    records an offset even when Kafka refused the commit). Records 10 and 11
    are processed and their states written: Faust's next commit must take
    offset 12. With the stale copy it never did (below: `_new_offset` saw a
    head gap from 5 to 10; above: nothing up to 30 counted as new), and the
    partition's records were never committed again (worker-join-leave, a
    clean-clone CI failure: 360 readings not committed by the end of the wait)."""
    realigned = metrics.COMMITTED_REALIGNED._value.get()
    w, consumer, tp = _committed_at_10(tmp_path, fausts_copy=faust_copy)
    stream = _Stream(consumer, [10, 11])
    partition = _Partition(w, stream, writes=True)
    await w.detect(stream)  # type: ignore[arg-type]
    await w.flush(w.unflushed.take())
    assert partition.processed == [10, 11]
    assert consumer._filter_committable_offsets([tp]) == {tp: 12}
    assert metrics.COMMITTED_REALIGNED._value.get() == realigned + 1


async def test_a_commit_takes_every_record_written_when_fausts_fetch_loop_saw_a_gap_there(
    tmp_path: Path,
) -> None:
    """After a rebalance Faust's fetch loop saw partition 0's offsets jump
    from 10 to 15 (a record fetched at an old position) and noted 11-14 as a
    gap it counts as acknowledged; the worker then read 10-14 in order and
    wrote their states. The next commit must take offset 15. Faust's own
    bookkeeping merges the gap into the acknowledged offsets, each of 11-14
    twice, and then commits one record per commit: in a worker-join-leave
    run a partition's committed offset crawled one record every 2.5 s for
    100 s (docs/reliability.md, "Commits that crawled")."""
    w, consumer, tp = _committed_at_10(tmp_path, fausts_copy=10)
    await consumer._add_gap(tp, 11, 14)  # as Faust's `_drain_messages` does on a jump
    stream = _Stream(consumer, [10, 11, 12, 13, 14])
    partition = _Partition(w, stream, writes=True)
    await w.detect(stream)  # type: ignore[arg-type]
    assert consumer._filter_committable_offsets([tp]) == {}  # read, not yet written
    await w.flush(w.unflushed.take())
    assert partition.processed == [10, 11, 12, 13, 14]
    assert consumer._filter_committable_offsets([tp]) == {tp: 15}


async def _changelog_written(changed: list[tuple[bytes, Change]]) -> list[Any]:
    """`Worker.write_changelog` with Kafka taking every state at once."""
    return [
        SimpleNamespace(topic="vigil-patients-changelog", partition=c.partition, offset=1) for _, c in changed
    ]


def _rocksdb_worker(tmp_path: Path, active: set[int]) -> Worker:
    """A worker on a real RocksDB table, holding the changelog partitions in `active`."""
    settings = Settings(home=tmp_path, kafka_bootstrap="127.0.0.1:1", worker_store="rocksdb://")
    w = Worker(settings, PatientDirectory(Registry(tmp_path / "devices.json"), b"k" * 32))
    topic = w.patients.changelog_topic.get_topic_name()
    w.app.assignor.assigned_actives = lambda: {TP(topic, p) for p in active}  # type: ignore[method-assign]
    return w


async def test_the_patient_gauge_counts_a_slice_at_a_time_and_agrees_with_fausts_count(
    tmp_path: Path,
) -> None:
    # Counting every key at each scrape held the agent up for 135 ms per 100,000 patients:
    # the census counts 2,000 keys per timer tick and publishes each complete pass.
    w = _rocksdb_worker(tmp_path, active={0, 1})
    store = w.patients.data
    for i in range(4500):
        store._db_for_partition(i % 2)[f"p-{i}".encode()] = b"state"
    store._db_for_partition(2)[b"p-elsewhere"] = b"state"  # a partition another worker holds
    metrics.PATIENTS.set(0)
    await w.count_patients()
    await w.count_patients()
    assert metrics.PATIENTS._value.get() == 0  # no pass complete yet: nothing half-counted
    await w.count_patients()
    assert metrics.PATIENTS._value.get() == 4500 == len(w.patients)

    # Partitions move: the pass in progress is dropped, the next one counts what is held now.
    store._db_for_partition(0)[b"p-new"] = b"state"
    await w.count_patients()
    await w.app.on_partitions_revoked.send(set())
    for _ in range(3):
        await w.count_patients()
    assert metrics.PATIENTS._value.get() == 4501 == len(w.patients)


async def test_a_scrape_of_the_worker_does_not_count_the_table(tmp_path: Path) -> None:
    w = _rocksdb_worker(tmp_path, active={0})
    w.patients.data._db_for_partition(0)[b"p-1"] = b"state"

    def refuse() -> int:
        raise AssertionError("/metrics counted the table")

    w.patients.data._size = refuse  # type: ignore[method-assign]
    web = SimpleNamespace(bytes=lambda body, headers=None: body)
    assert b"vigil_worker_patients" in await w.metrics_view(web)


class _KafkaConsumerThread:
    """Faust's consumer thread, as `Worker.kafka_committed` asks it: an
    aiokafka consumer whose partition 0 was never committed (Kafka answers
    None) and starts at `first`."""

    def __init__(self, first: int) -> None:
        self.first = first
        self.asked: list[str] = []

    def _ensure_consumer(self) -> Any:
        return self

    async def call_thread(self, method: Any, *args: Any) -> Any:
        return await method(*args)

    async def committed(self, tp: Any) -> int | None:
        self.asked.append("committed")
        return None

    async def beginning_offsets(self, partitions: list[Any]) -> dict[Any, int]:
        self.asked.append("beginning_offsets")
        return {tp: self.first for tp in partitions}


async def test_a_partition_never_committed_is_read_from_its_first_record(tmp_path: Path) -> None:
    """Partition 0 was never committed (its worker died before its first
    commit, scale-kill) and the new owner's first record is 337, written
    after the rebalance: records 0-336 were skipped on the way. With nothing
    committed there is no committed offset to check against, and Faust would
    commit past the skipped records at its next commit; the worker must
    expect the partition's first offset instead, seek back to it and
    process from there, in order."""
    w = worker(tmp_path)
    consumer = w.app.consumer
    w.app.topics._acking_topics.add(READINGS_TOPIC)
    tp = TP(READINGS_TOPIC, 0)
    thread = _KafkaConsumerThread(first=0)
    consumer._thread = thread
    stream = _Stream(consumer, [337, 338])
    partition = _Partition(w, stream, refetched=[0, 1, 2])
    await w.detect(stream)  # type: ignore[arg-type]

    assert partition.processed == [0, 1, 2]
    assert partition.sought == [(tp, 0)]
    assert thread.asked == ["committed", "beginning_offsets"]


def _sample(name: str, labels: str = "") -> float:
    wanted = dict(kv.split("=") for kv in labels.split(",")) if labels else {}
    value = metrics.WORKER.get_sample_value(name, wanted)
    assert value is not None, f"{name} {labels} is not exported"
    return value


async def test_a_coalesced_record_is_timed_once_and_its_readings_counted_each(tmp_path: Path) -> None:
    """A record of three frames (three patients the gateway coalesced) is
    one record to the worker's per-record metrics (`vigil_worker_record_seconds`,
    `vigil_worker_model_update_seconds`: one observation each), and three
    readings to `vigil_worker_readings_total`; a frame that cannot be read is
    dead-lettered alone and its neighbours counted."""
    w = worker(tmp_path)
    letters: list[bytes] = []

    async def dead_letter(key: bytes | None = None, value: bytes = b"") -> Any:
        letters.append(value)
        return _done()

    w.dead_letters.send = dead_letter  # type: ignore[method-assign,assignment]
    now = 1_764_435_600_000
    frames = [
        encode_readings(f"dev-{i}", f"p-{i}", now, [Reading(1, now - 1000, {"heart_rate": 70 + i})])
        for i in range(3)
    ]
    value = encode_frames([frames[0], b'{"v":1}', frames[1], frames[2]])
    before = {
        "score": _sample("vigil_worker_record_seconds_count", "stage=score"),
        "model": _sample("vigil_worker_model_update_seconds_count"),
        "lag": _sample("vigil_worker_event_time_lag_seconds_count"),
        "scored": _sample("vigil_worker_readings_total", "outcome=scored"),
    }
    await w.handle_record(value, _Message(5))
    after = {
        "score": _sample("vigil_worker_record_seconds_count", "stage=score"),
        "model": _sample("vigil_worker_model_update_seconds_count"),
        "lag": _sample("vigil_worker_event_time_lag_seconds_count"),
        "scored": _sample("vigil_worker_readings_total", "outcome=scored"),
    }
    assert {k: after[k] - before[k] for k in before} == {"score": 1, "model": 1, "lag": 1, "scored": 3}
    assert len(w.unflushed.states) == 3 and len(letters) == 1


def test_the_decoded_state_cache_is_sized_by_its_setting(tmp_path: Path) -> None:
    """`VIGIL_WORKER_DECODED_CACHE`: an operator whose worker serves more
    patients than the default sizes it to them; beyond it, the least
    recently seen patient's state is the one decoded again."""
    environ = {
        "VIGIL_HOME": str(tmp_path),
        "VIGIL_WORKER_STORE": "memory://",
        "VIGIL_WORKER_DECODED_CACHE": "2",
    }
    settings = Settings.from_env(environ)
    w = Worker(settings, PatientDirectory(Registry(tmp_path / "devices.json"), b"k" * 32))
    for key in (b"p-1", b"p-2", b"p-3"):
        w.decoded.put(key, PatientState())
    assert w.decoded.keys() == [b"p-2", b"p-3"]


def test_a_flush_waits_for_its_interval_until_the_record_cache_holds_every_patient_seen(
    tmp_path: Path,
) -> None:
    """The record cache writes a patient once per flush interval only if it
    can hold every patient seen in that interval: its cap follows the
    decoded-state cache (a worker sized for 30,000 patients does not write
    each of them at every reading once 10,000 have changed), and a flush is
    still forced by the records held back (their memory)."""
    environ = {
        "VIGIL_HOME": str(tmp_path),
        "VIGIL_WORKER_STORE": "memory://",
        "VIGIL_WORKER_DECODED_CACHE": "30000",
        "VIGIL_WORKER_FLUSH_INTERVAL_S": "3600",
    }
    w = Worker(Settings.from_env(environ), PatientDirectory(Registry(tmp_path / "devices.json"), b"k" * 32))
    w.unflushed.states = {f"p-{i}".encode(): Change(0, b"{}") for i in range(20_000)}
    assert not w.flush_due()  # 20,000 patients changed: not yet
    w.unflushed.states |= {f"q-{i}".encode(): Change(0, b"{}") for i in range(10_000)}
    assert w.flush_due()  # 30,000: as many as the decoded cache holds
    w.unflushed.take()
    w.unflushed.events = [(None, None)] * 99_999
    assert not w.flush_due()
    w.unflushed.events.append((None, None))
    assert w.flush_due()  # 100,000 records held back


async def test_the_worker_once_up_collects_garbage_as_the_gateway_does(tmp_path: Path) -> None:
    """The worker's start-up task (`Worker.tune_gc`, run by Faust once the
    app is up): what exists then is out of every later collection's scan,
    and the young generation is collected every `GEN0` allocations, so the
    decoded states of thousands of patients are not scanned again and
    again, each scan a pause of the agent."""
    w = worker(tmp_path)
    tasks = [getattr(task, "__wrapped__", None) for task in w.app._app_tasks]  # type: ignore[attr-defined]
    assert w.tune_gc in tasks  # started with the app
    before = gc.get_threshold()
    try:
        await w.tune_gc()
        assert gc.get_threshold() == (gc_tuning.GEN0, before[1], before[2])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


async def test_the_worker_says_when_kafka_goes_and_comes_back(tmp_path: Path, monkeypatch, capsys) -> None:
    """An SRE stopped Kafka: the gateway said so, the worker wrote thousands
    of aiokafka lines and none of its own. Its readiness probe now logs the
    change, once each way (not at start, before Kafka ever answered)."""
    import structlog

    import agents.app as worker_module
    from app.infra import logs

    logs.configure("worker", fmt="json")
    # The module's logger caches the stderr of its first use (an earlier
    # test's, in a whole run): a fresh one writes to this test's.
    monkeypatch.setattr(worker_module, "log", structlog.get_logger())
    answers = iter([False, True, True, False, False, True])

    async def leads(settings: Settings, topic: str) -> bool:
        return next(answers)

    monkeypatch.setattr(worker_module, "leads", leads)
    w = worker(tmp_path)
    try:
        for _ in range(6):
            await w.probe_kafka()
    finally:
        structlog.reset_defaults()
    lines = [line for line in capsys.readouterr().err.splitlines() if "kafka " in line]
    assert ["unavailable" in line for line in lines] == [True, False], lines
    assert "kafka available again" in lines[1]


def test_offset_gaps_are_exported_at_zero_for_every_partition_before_any_gap(tmp_path: Path) -> None:
    """docs/operations.md: every label value is created at zero at start; an
    SRE found `vigil_worker_offset_gaps_total` with no series at all."""
    worker(tmp_path)
    page = metrics.exposition(metrics.WORKER)[0].decode()
    for partition in range(Settings().partitions):
        assert f'vigil_worker_offset_gaps_total{{partition="{partition}"}}' in page


def _done() -> Any:
    """A send's delivery, Kafka having taken it."""
    delivered = asyncio.get_running_loop().create_future()
    delivered.set_result(None)
    return delivered


def _as_faust_raises(error: Exception) -> Exception:
    """An aiokafka error as Faust's producer raises it from `send`."""
    try:
        raise ProducerSendError(f"Error while sending: {error!r}") from error
    except ProducerSendError as exc:
        return exc


class _Kafka:
    """A topic's `send` as the worker uses it: each of `failures` in turn
    (an exception raised by `send`, or one its delivery fails with), then
    Kafka takes what is sent."""

    def __init__(self, failures: list[tuple[str, Exception]]) -> None:
        self.failures, self.taken, self.tries = failures, [], 0

    async def send(self, key: bytes | None = None, value: bytes = b"") -> Any:
        self.tries += 1
        if self.failures:
            how, error = self.failures.pop(0)
            if how == "raised":
                raise error
            failed = asyncio.get_running_loop().create_future()
            failed.set_exception(error)
            return failed
        self.taken.append(value)
        return _done()


def _alerting_record(now: int) -> bytes:
    """One reading NEWS2 scores 9 (high) from three vitals at once: an alert opens at this reading."""
    vitals = {"heart_rate": 140, "respiratory_rate": 30, "spo2": 88, "systolic_bp": 120, "temperature": 37.0}
    return encode_frames([encode_readings("dev-1", "p-1", now, [Reading(1, now - 1000, vitals)])])


async def test_alert_events_kafka_did_not_take_are_sent_again_until_it_does(
    tmp_path: Path, monkeypatch
) -> None:
    """Kafka out of reach for longer than the producer waits (its timeout,
    as Faust raises it from `send`), then a partition's leader moving (the
    delivery failing): the record that opened an alert is not dead-lettered
    (its alert would be lost, its reading left out of the patient's state);
    its alert events are sent again until Kafka takes them. Before, the
    record went to `vigil.dead-letter` and its alert was never sent."""
    import agents.app as worker_module

    monkeypatch.setattr(worker_module, "SEND_RETRY_S", 0.001)
    w = worker(tmp_path)
    alerts = _Kafka(
        [("raised", _as_faust_raises(KafkaTimeoutError())), ("delivery", NotLeaderForPartitionError())]
    )
    letters = _Kafka([])
    w.alerts.send = alerts.send  # type: ignore[method-assign,assignment]
    w.dead_letters.send = letters.send  # type: ignore[method-assign,assignment]
    alerted = await w.handle_record(_alerting_record(1_764_435_600_000), _Message(7))
    assert alerted == [b"p-1"] and letters.taken == []
    assert alerts.tries >= 3
    opened = [orjson.loads(v) for v in alerts.taken]
    assert [(e["kind"], e["status"]) for e in opened] == [("news2", "open")]
    assert b"p-1" in w.unflushed.states  # the reading is in the patient's state


async def test_an_error_kafka_will_give_again_dead_letters_the_record_and_its_letter_waits_for_kafka(
    tmp_path: Path, monkeypatch
) -> None:
    """Kafka refusing the alerts topic (not authorised: it will refuse again)
    is not waited out: the record goes to `vigil.dead-letter`, as before,
    and the dead letter itself, if Kafka is out of reach a moment, is sent
    again until Kafka takes it (before, its delivery was never awaited)."""
    import agents.app as worker_module

    monkeypatch.setattr(worker_module, "SEND_RETRY_S", 0.001)
    w = worker(tmp_path)
    alerts = _Kafka([("raised", _as_faust_raises(TopicAuthorizationFailedError()))])
    letters = _Kafka([("delivery", KafkaConnectionError())])
    w.alerts.send = alerts.send  # type: ignore[method-assign,assignment]
    w.dead_letters.send = letters.send  # type: ignore[method-assign,assignment]
    assert await w.handle_record(_alerting_record(1_764_435_600_000), _Message(8)) == []
    assert alerts.tries == 1 and alerts.taken == []
    assert letters.tries == 2 and len(letters.taken) == 1
    assert orjson.loads(letters.taken[0])["reason"] == "error"


async def test_sends_kafka_did_not_take_are_counted_by_topic(tmp_path: Path, monkeypatch) -> None:
    """docs/operations.md: `vigil_worker_send_retries_total{topic}` counts
    each send tried again, the alert events' and the dead letter's apart;
    both series exist before the first retry."""
    import agents.app as worker_module

    monkeypatch.setattr(worker_module, "SEND_RETRY_S", 0.001)
    w = worker(tmp_path)
    alerts_before = _sample("vigil_worker_send_retries_total", "topic=vigil.alerts")
    letters_before = _sample("vigil_worker_send_retries_total", "topic=vigil.dead-letter")
    alerts = _Kafka([("raised", _as_faust_raises(KafkaTimeoutError())), ("delivery", KafkaConnectionError())])
    w.alerts.send = alerts.send  # type: ignore[method-assign,assignment]
    await w.handle_record(_alerting_record(1_764_435_600_000), _Message(9))
    assert _sample("vigil_worker_send_retries_total", "topic=vigil.alerts") == alerts_before + 2
    assert _sample("vigil_worker_send_retries_total", "topic=vigil.dead-letter") == letters_before


async def test_a_write_kafka_holds_shows_as_the_wait_until_kafka_takes_it(tmp_path: Path) -> None:
    """A send the producer holds without failing (a topic Kafka does not
    know is waited on for the producer's request timeout) counts no retry
    and logs nothing meanwhile: `vigil_worker_kafka_write_wait_seconds`
    is how long it has waited, and 0 again once Kafka has taken it."""
    w = worker(tmp_path)
    held = asyncio.get_running_loop().create_future()
    taken: list[bytes] = []

    async def send(key: bytes | None = None, value: bytes = b"") -> Any:
        taken.append(value)
        return held

    w.alerts.send = send  # type: ignore[method-assign,assignment]
    assert _sample("vigil_worker_kafka_write_wait_seconds") == 0.0
    handling = asyncio.ensure_future(w.handle_record(_alerting_record(1_764_435_600_000), _Message(10)))
    await asyncio.sleep(0.2)
    assert not handling.done()
    waited = _sample("vigil_worker_kafka_write_wait_seconds")
    assert waited > 0  # not >= 0.2: the record is decoded and scored before its send begins
    await asyncio.sleep(0.1)
    assert _sample("vigil_worker_kafka_write_wait_seconds") >= waited + 0.1
    held.set_result(None)
    assert await handling == [b"p-1"] and len(taken) == 1
    assert _sample("vigil_worker_kafka_write_wait_seconds") == 0.0


async def test_a_partition_whose_records_wait_with_none_handled_stops_the_worker(
    tmp_path: Path, monkeypatch
) -> None:
    """Records wait on partition 1 (Kafka's end 50, committed 40) and the
    worker handles none there, while partition 0's records go through: the
    watchdog stops the worker (exit code 6, for its supervisor to start it
    again, reading partition 1 from its commit) after VIGIL_WORKER_STALL_S,
    and its line names the partition. Before, progress on partition 0
    counted for the worker as a whole, and partition 1's patients were
    watched by nobody."""
    settings = Settings(
        home=tmp_path, kafka_bootstrap="127.0.0.1:1", worker_store="memory://", worker_stall_s=60.0
    )
    w = Worker(settings, PatientDirectory(Registry(tmp_path / "devices.json"), b"k" * 32))
    w.kafka_up = True
    w.ready = lambda: True  # type: ignore[method-assign]
    w.app.consumer.assignment = lambda: {TP(READINGS_TOPIC, 0), TP(READINGS_TOPIC, 1)}  # type: ignore[method-assign]
    ends = {0: 100}

    async def backlog(settings: Settings, topic: str, group: str, partitions: list[int]) -> Any:
        return {0: (ends[0], 90), 1: (50, 40)}

    clock = [0.0]
    exits: list[int] = []

    def exit_(code: int) -> None:
        exits.append(code)
        raise SystemExit(code)

    monkeypatch.setattr("agents.app.preflight.backlog", backlog)
    monkeypatch.setattr("agents.app.preflight.holding_records", _holding({1}))
    monkeypatch.setattr("agents.app.time.monotonic", lambda: clock[0])
    monkeypatch.setattr("agents.app.os._exit", exit_)
    lines: list[dict[str, Any]] = []
    monkeypatch.setattr("agents.app.log.error", lambda event, **kw: lines.append({"event": event, **kw}))
    with pytest.raises(SystemExit):
        for look in range(100):  # one look every 2 s, Kafka asked every 5th, as `watch` does
            clock[0] = 2.0 * look
            w.cursors.processed(0, ends[0] - 1)  # partition 0: every record handled, more coming
            w.handled += 1
            ends[0] += 5
            if look % 5 == 0:
                w.waiting = await w.lagging()
                w.behind = bool(w.waiting)
            await w.watch_stall()
    assert exits == [6] and 60 <= clock[0] <= 72
    assert lines[-1]["event"].startswith("worker stalled") and lines[-1]["partitions"] == [1]


async def test_the_revocation_commits_what_it_wrote_even_while_a_timer_commit_is_under_way(
    tmp_path: Path,
) -> None:
    """Partitions are revoked while Faust's commit timer is committing
    offsets it took before the revocation's flush wrote records 10 and 11:
    the revocation must still commit 12. Faust's `commit` returns at once,
    committing nothing, while another is under way, and what was written is
    then forgotten (its records read again by the next owner, their alert
    events sent again; an outside review)."""
    w, consumer, tp, committed = _revoking(tmp_path)
    under_way = asyncio.get_running_loop().create_future()
    consumer._commit_fut = under_way

    async def timer_commit_ends() -> None:
        await asyncio.sleep(0.05)
        consumer._commit_fut = None  # as Faust's `commit` does when it ends
        under_way.set_result(None)

    ending = asyncio.ensure_future(timer_commit_ends())
    await w.app.on_partitions_revoked.send(set())
    await ending
    assert committed == [{tp: 12}]


async def test_a_first_record_whose_partition_moved_while_kafka_was_asked_is_not_processed(
    tmp_path: Path,
) -> None:
    """The worker asks Kafka where partition 0 is committed before its first
    record, and the partitions move meanwhile (a rebalance): the record is
    not processed (its partition's owner reads it) and Faust's copy of the
    committed offset is not set from the answer taken before the move."""
    w = worker(tmp_path)
    consumer = w.app.consumer
    tp = TP(READINGS_TOPIC, 0)

    async def committed_while_revoked(tp: TP) -> int:
        await w.app.on_partitions_revoked.send(set())
        return 10

    w.kafka_committed = committed_while_revoked  # type: ignore[method-assign]
    stream = _Stream(consumer, [10])
    partition = _Partition(w, stream)
    await w.detect(stream)  # type: ignore[arg-type]
    assert partition.processed == []
    assert consumer._committed_offset.get(tp) is None


async def test_the_revocation_commits_a_partition_written_before_its_own_flush(tmp_path: Path) -> None:
    """Partition 0's records 10 and 11 were written by a timer's flush and
    not yet committed; the revocation's own flush has nothing of partition
    0. Faust forgets which partitions have acknowledged offsets before the
    revocation's handlers run, and commits only those listed: partition 0
    must still be committed at 12 (its next owner would read 10 and 11
    again, and send their alert events again; an outside review)."""
    w, consumer, tp, committed = _revoking(tmp_path)
    await w.flush(w.unflushed.take())  # the timer's flush
    for forgotten in (
        consumer._acked,
        consumer._acked_index,
        consumer._committed_offset,
        consumer._read_offset,
    ):
        forgotten.pop(tp, None)  # as Faust's `Consumer.on_partitions_revoked` does before the signal
    await w.app.on_partitions_revoked.send({tp})
    assert committed == [{tp: 12}]


def _holding(partitions: set[int]) -> Any:
    """`preflight.holding_records` as Kafka answers it: these partitions hold a record to read."""

    async def holding_records(settings: Settings, topic: str, starts: dict[int, int]) -> set[int]:
        return partitions & set(starts)

    return holding_records


async def test_records_waiting_where_there_is_nothing_to_read_are_no_stall(
    tmp_path: Path, monkeypatch
) -> None:
    """Kafka's end of partition 1 is one past its last record (a
    transactional producer's commit marker takes that offset), and its
    devices have gone quiet: records seem to wait there, with none handled.
    Asked, Kafka has nothing to read there: the worker does not stop (a
    restart would find the same, and stop again; an outside review), and
    asks no more until the partition's end moves."""
    settings = Settings(
        home=tmp_path, kafka_bootstrap="127.0.0.1:1", worker_store="memory://", worker_stall_s=60.0
    )
    w = Worker(settings, PatientDirectory(Registry(tmp_path / "devices.json"), b"k" * 32))
    w.kafka_up = True
    w.ready = lambda: True  # type: ignore[method-assign]
    w.app.consumer.assignment = lambda: {TP(READINGS_TOPIC, 1)}  # type: ignore[method-assign]

    async def backlog(settings: Settings, topic: str, group: str, partitions: list[int]) -> Any:
        return {1: (51, 50)}  # committed at 50 (the marker), end 51

    asked: list[dict[int, int]] = []

    async def holding_records(settings: Settings, topic: str, starts: dict[int, int]) -> set[int]:
        asked.append(dict(starts))
        return set()

    clock = [0.0]
    monkeypatch.setattr("agents.app.preflight.backlog", backlog)
    monkeypatch.setattr("agents.app.preflight.holding_records", holding_records)
    monkeypatch.setattr("agents.app.time.monotonic", lambda: clock[0])
    monkeypatch.setattr("agents.app.os._exit", lambda code: pytest.fail(f"the worker exited {code}"))
    for look in range(300):  # ten minutes, a look every 2 s, Kafka's backlog every 5th
        clock[0] = 2.0 * look
        if look % 5 == 0:
            w.waiting = await w.lagging()
            w.behind = bool(w.waiting)
        await w.watch_stall()
    assert asked == [{1: 50}]
    await w.app.on_partitions_assigned.send(set())  # partitions moved: looked at afresh
    assert w.hollow == {}


async def test_the_first_record_is_expected_at_the_first_offset_left_when_retention_deleted_the_committed_one(
    tmp_path: Path,
) -> None:
    """The group committed partition 0 at 10, and retention has since deleted
    records 10-19: the consumer reads from 20, and 20 is no gap. Expected
    at 10, the worker sought back 5 times in vain and then, with the
    watchdog watching each partition, a quiet partition stopped the worker
    at every start (an outside review)."""
    w = worker(tmp_path)
    kafka = SimpleNamespace(committed=lambda tp: 10, beginning_offsets=lambda tps: {tp: 20 for tp in tps})

    async def call_thread(fn: Any, *args: Any) -> Any:
        return fn(*args)

    w.app.consumer._thread = SimpleNamespace(_ensure_consumer=lambda: kafka, call_thread=call_thread)  # type: ignore[attr-defined]
    assert await w.kafka_committed(TP(READINGS_TOPIC, 0)) == 20
    kafka.beginning_offsets = lambda tps: {tp: 3 for tp in tps}  # nothing deleted past the commit
    assert await w.kafka_committed(TP(READINGS_TOPIC, 0)) == 10
    kafka.committed = lambda tp: None  # never committed: the first offset
    assert await w.kafka_committed(TP(READINGS_TOPIC, 0)) == 3

    def no_answer(tps: Any) -> Any:
        raise KafkaTimeoutError

    kafka.committed, kafka.beginning_offsets = (lambda tp: 10), no_answer
    assert await w.kafka_committed(TP(READINGS_TOPIC, 0)) == 10  # the committed offset alone, then


def _revoking(tmp_path: Path) -> tuple[Worker, Any, TP, list[dict[TP, int]]]:
    """A worker holding partition 0 (committed up to 10) with records 10 and
    11 processed, their patient's state not yet written; and the offsets
    each of Faust's commits would send to Kafka."""
    w, consumer, tp = _committed_at_10(tmp_path, fausts_copy=10)
    consumer.assignment = lambda: {tp}  # type: ignore[method-assign]
    w.write_changelog = _changelog_written  # type: ignore[method-assign]
    w.owned = lambda: {0}  # type: ignore[method-assign]
    stream = _Acks(consumer)
    w.unflushed.states[b"p-1"] = Change(0, b"{}")
    w.unflushed.events += [(stream, _record(10)), (stream, _record(11))]
    committed: list[dict[TP, int]] = []

    async def commit_offsets(offsets: dict[TP, int], start_new_transaction: bool = True) -> bool:
        committed.append(dict(offsets))
        return True

    consumer._commit_offsets = commit_offsets  # type: ignore[method-assign]
    return w, consumer, tp, committed
