"""The gateway shell without sockets or Kafka: a fake connection and a fake
producer, to check that it performs what the session decides."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiokafka.errors import KafkaError
from websockets.exceptions import ConnectionClosed

from app.core.delivery import SeqWindow, WindowRecords, decode_delta
from app.core.records import decode_frames, partition_for
from app.gateway.server import Gateway
from app.infra import metrics
from app.infra.registry import Device
from app.infra.settings import DEVICE_SEQS_TOPIC, READINGS_TOPIC, REJECTED_TOPIC, Settings

SUBJECT = "p-0123456789abcdef0123456789abcdef"
READING = '{"type": "reading", "seq": 7, "ts": %d, "vitals": {"heart_rate": 72}}'


class FakeConnection:
    """What `Gateway.handle` uses of a websockets connection."""

    def __init__(
        self, *frames: str, gone: bool = False, device: str = "dev-1", subject: str = SUBJECT
    ) -> None:
        self.device = Device(device, "patient-42", "2026-01-01T00:00:00Z")
        self.subject = subject
        self.frames = frames
        self.gone = gone  # the device went away: every send fails
        self.sent: list[dict[str, Any]] = []
        self.close_code: int | None = None

    async def __aiter__(self) -> AsyncIterator[str]:
        for frame in self.frames:
            yield frame
            await asyncio.sleep(0)

    async def send(self, frame: str) -> None:
        if self.gone or self.close_code is not None:
            raise ConnectionClosed(None, None)
        self.sent.append(orjson.loads(frame))

    async def close(self, code: int, reason: str) -> None:
        self.close_code = code


class FakeProducer:
    """Records what is sent; confirms at once, or never (`stalled`)."""

    def __init__(self, stalled: bool = False, held: bool = False, broken: bool = False) -> None:
        self.stalled = stalled
        self.held = held  # `send` itself waits for good (aiokafka, while a batch of the partition is retried)
        self.broken = broken  # `send` raises at once (aiokafka, once its sender died of a fatal error)
        self.records: list[tuple[str, bytes, bytes]] = []
        self.partitions: list[int | None] = []  # each record's, when the gateway chose it
        self.deliveries: list[asyncio.Future[Any]] = []
        self.client = SimpleNamespace(cluster=SimpleNamespace(partitions_for_topic=lambda _: set(range(4))))

    async def send(
        self, topic: str, value: bytes, key: bytes, partition: int | None = None
    ) -> asyncio.Future[Any]:
        if self.held:
            await asyncio.Event().wait()
        if self.broken:
            raise KafkaError("sender failed")
        self.records.append((topic, value, key))
        self.partitions.append(partition)
        delivery: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if not self.stalled:
            delivery.set_result(None)
        self.deliveries.append(delivery)
        return delivery


def make_gateway(tmp_path: Path, ack_timeout_s: float = 0.2, coalesce_ms: float = 2) -> Gateway:
    env = {
        "VIGIL_HOME": str(tmp_path),
        "VIGIL_PSEUDONYM_KEY": "ab" * 32,
        "VIGIL_ACK_TIMEOUT_S": str(ack_timeout_s),
        "VIGIL_GATEWAY_COALESCE_MS": str(coalesce_ms),
    }
    return Gateway(Settings.from_env(env))


@pytest.fixture(params=[0, 2], ids=["one-record-per-frame", "coalescing"])
def gateway(tmp_path: Path, request: pytest.FixtureRequest) -> Gateway:
    return make_gateway(tmp_path, coalesce_ms=request.param)


def reading_frame() -> str:
    """Seq 7, stamped a second ago (the gateway checks it against its clock)."""
    return READING % (time.time_ns() // 1_000_000 - 1000)


def readings_counted(outcome: str) -> float:
    return metrics.READINGS.labels(outcome)._value.get()


async def test_with_kafka_down_a_reading_gets_unavailable_and_the_connection_1013(gateway: Gateway) -> None:
    """No producer: an explicit check, not an assert (gone under python -O)."""
    gateway.kafka_ok, gateway.producer = False, None
    before = readings_counted("unavailable")
    connection = FakeConnection(reading_frame())
    await gateway.handle(connection)  # type: ignore[arg-type]
    assert [(m["type"], m["code"], m["seq"]) for m in connection.sent] == [("error", "unavailable", 7)]
    assert connection.close_code == 1013
    assert readings_counted("unavailable") == before + 1


async def test_a_reading_is_written_under_the_pseudonym_and_acknowledged_once_stored(
    gateway: Gateway,
) -> None:
    producer = FakeProducer()
    gateway.kafka_ok, gateway.producer = True, producer  # type: ignore[assignment]
    connection = FakeConnection(reading_frame())
    await gateway.handle(connection)  # type: ignore[arg-type]
    assert [(topic, key) for topic, _, key in producer.records] == [(READINGS_TOPIC, SUBJECT.encode())]
    assert b"patient-42" not in producer.records[0][1]
    assert connection.sent == [{"type": "ack", "seq": 7}]
    assert gateway.windows["dev-1"].stored(7)
    assert connection.close_code is None


async def test_kafka_that_never_confirms_gets_unavailable_then_a_late_store_is_remembered(
    gateway: Gateway,
) -> None:
    producer = FakeProducer(stalled=True)
    gateway.kafka_ok, gateway.producer = True, producer  # type: ignore[assignment]
    connection = FakeConnection(reading_frame())
    await gateway.handle(connection)  # type: ignore[arg-type]
    assert [(m["code"], m["seq"]) for m in connection.sent] == [("unavailable", 7)]
    assert connection.close_code == 1013
    assert not gateway.kafka_ok and not gateway.ready
    assert not gateway.windows["dev-1"].stored(7)
    producer.deliveries[0].set_result(None)  # Kafka stores it after all
    for _ in range(3):  # its callbacks (the coalesced record's, then the window's)
        await asyncio.sleep(0)
    assert gateway.windows["dev-1"].stored(7)


async def test_kafka_that_does_not_take_the_record_gets_unavailable_within_the_ack_timeout(
    gateway: Gateway,
) -> None:
    """While a partition's leader moves, aiokafka's `send` waits until the batch
    being retried is delivered (up to its 40 s request timeout): the device
    must still hear within `VIGIL_ACK_TIMEOUT_S` (0.2 s here), not when, if
    ever, the connection dies."""
    gateway.kafka_ok, gateway.producer = True, FakeProducer(held=True)  # type: ignore[assignment]
    connection = FakeConnection(reading_frame())
    await asyncio.wait_for(gateway.handle(connection), 10)  # type: ignore[arg-type]
    assert [(m["code"], m["seq"]) for m in connection.sent] == [("unavailable", 7)]
    assert connection.close_code == 1013
    assert not gateway.kafka_ok  # a fresh producer is due
    assert not gateway.windows["dev-1"].stored(7)


async def test_a_producer_that_refuses_every_record_is_replaced(gateway: Gateway) -> None:
    gateway.kafka_ok, gateway.producer = True, FakeProducer(broken=True)  # type: ignore[assignment]
    connection = FakeConnection(reading_frame())
    await gateway.handle(connection)  # type: ignore[arg-type]
    assert [(m["code"], m["seq"]) for m in connection.sent] == [("unavailable", 7)]
    assert connection.close_code == 1013
    assert not gateway.kafka_ok and not gateway.ready  # a fresh producer is due, not this one for good


async def test_a_device_gone_still_has_its_refusals_recorded(gateway: Gateway) -> None:
    producer = FakeProducer()
    gateway.kafka_ok, gateway.producer = True, producer  # type: ignore[assignment]
    connection = FakeConnection('{"type": "nonsense"}', '{"type": "nonsense"}', gone=True)
    await gateway.handle(connection)  # type: ignore[arg-type]
    assert [topic for topic, _, _ in producer.records] == [REJECTED_TOPIC, REJECTED_TOPIC]
    assert connection.sent == []


def subjects_on(partition: int, count: int) -> list[str]:
    """Pseudonyms that Kafka's default partitioner puts on `partition` of 4."""
    found = (f"p-{i:032x}" for i in range(10_000))
    return [s for s in found if partition_for(s.encode(), 4) == partition][:count]


async def test_frames_of_several_devices_on_one_partition_share_a_record_and_are_acked_once_it_is_stored(
    tmp_path: Path,
) -> None:
    gateway = make_gateway(tmp_path, ack_timeout_s=30, coalesce_ms=50)
    producer = FakeProducer(stalled=True)
    gateway.kafka_ok, gateway.producer = True, producer  # type: ignore[assignment]
    together, alone = subjects_on(1, 3), subjects_on(2, 1)
    connections = [
        FakeConnection(reading_frame(), device=f"dev-{i}", subject=subject)
        for i, subject in enumerate(together + alone)
    ]
    handling = [asyncio.create_task(gateway.handle(c)) for c in connections]  # type: ignore[arg-type]
    async with asyncio.timeout(10):
        while len(producer.records) < 2:
            await asyncio.sleep(0.01)
    by_partition = dict(zip(producer.partitions, producer.records, strict=True))
    assert sorted(by_partition) == [1, 2]  # one record per partition, on the partition each key has
    frames = decode_frames(by_partition[1][1])
    assert sorted(f.patient for f in frames) == sorted(together)  # type: ignore[union-attr]
    assert by_partition[1][2] == frames[0].patient.encode()  # type: ignore[union-attr]  # the first frame's key
    assert orjson.loads(by_partition[2][1])["v"] == 1  # a record of one frame is written as before
    assert by_partition[2][2] == alone[0].encode()
    await asyncio.sleep(0.05)
    assert all(c.sent == [] for c in connections)  # nothing acknowledged before Kafka has it
    for delivery in producer.deliveries:
        delivery.set_result(None)
    await asyncio.wait_for(asyncio.gather(*handling), 10)
    assert all(c.sent == [{"type": "ack", "seq": 7}] for c in connections)
    assert all(gateway.windows[f"dev-{i}"].stored(7) for i in range(4))


async def test_a_coalesced_record_kafka_refuses_answers_unavailable_to_each_of_its_devices(
    tmp_path: Path,
) -> None:
    gateway = make_gateway(tmp_path, ack_timeout_s=30, coalesce_ms=50)
    producer = FakeProducer(stalled=True)
    gateway.kafka_ok, gateway.producer = True, producer  # type: ignore[assignment]
    connections = [
        FakeConnection(reading_frame(), device=f"dev-{i}", subject=subject)
        for i, subject in enumerate(subjects_on(3, 3))
    ]
    handling = [asyncio.create_task(gateway.handle(c)) for c in connections]  # type: ignore[arg-type]
    async with asyncio.timeout(10):
        while not producer.deliveries:
            await asyncio.sleep(0.01)
    assert len(producer.records) == 1
    producer.deliveries[0].set_exception(KafkaError("not stored"))
    await asyncio.wait_for(asyncio.gather(*handling), 10)
    for connection in connections:
        assert [(m["code"], m["seq"]) for m in connection.sent] == [("unavailable", 7)]
        assert connection.close_code == 1013
    assert not gateway.kafka_ok  # a fresh producer is due


async def test_a_full_record_is_written_without_waiting_for_the_window(tmp_path: Path) -> None:
    gateway = make_gateway(tmp_path, ack_timeout_s=30, coalesce_ms=60_000)
    gateway.coalescer.max_frames = 2  # type: ignore[union-attr]
    producer = FakeProducer()
    gateway.kafka_ok, gateway.producer = True, producer  # type: ignore[assignment]
    connections = [
        FakeConnection(reading_frame(), device=f"dev-{i}", subject=subject)
        for i, subject in enumerate(subjects_on(0, 4))
    ]
    await asyncio.wait_for(asyncio.gather(*(gateway.handle(c) for c in connections)), 10)  # type: ignore[arg-type]
    assert [len(decode_frames(value)) for _, value, _ in producer.records] == [2, 2]
    assert all(c.sent == [{"type": "ack", "seq": 7}] for c in connections)


def _stored(gateway: Gateway, device_id: str, window: SeqWindow, seq: int, fp: int = 0) -> None:
    """The device's session stored `seq`, as `Gateway._store` reports it."""
    window.add(seq, fp)
    session = SimpleNamespace(device_id=device_id, window=window)
    gateway._window_changed(session, SimpleNamespace(seqs=(seq,), fingerprints=(fp,)))  # type: ignore[arg-type]


def _read_back(records: list[tuple[str, bytes, bytes]], device_id: str) -> SeqWindow:
    """What another gateway knows of the device from its records, merged in order."""
    known = SeqWindow()
    for _, value, key in records:
        if key == device_id.encode():
            known.merge_record(value)
    return known


async def test_seq_windows_are_written_by_one_task_in_the_order_they_changed(tmp_path: Path) -> None:
    # A task per device meant a thousand tasks waiting on one full producer batch;
    # one task per round, and a round that waits for the one before it, keeps each
    # device's records in order on the compacted topic.
    gateway = make_gateway(tmp_path)
    producer = FakeProducer(stalled=True)
    gateway.kafka_ok, gateway.producer = True, producer  # type: ignore[assignment]
    windows = {f"dev-{i}": SeqWindow() for i in range(1000)}
    for device_id, window in windows.items():
        _stored(gateway, device_id, window, 1)
    gateway._flush_windows()
    assert len(gateway._window_writes) == 1
    async with asyncio.timeout(10):
        while len(producer.records) < 1000:
            await asyncio.sleep(0.01)

    _stored(gateway, "dev-7", windows["dev-7"], 2, 77)  # while the first round is not yet stored
    gateway._flush_windows()
    await asyncio.sleep(0.05)
    assert len(producer.records) == 1000  # waits for the round before it
    for delivery in producer.deliveries:
        delivery.set_result(None)
    async with asyncio.timeout(10):
        while len(producer.records) < 1001:
            await asyncio.sleep(0.01)
    assert all(topic == DEVICE_SEQS_TOPIC for topic, _, _ in producer.records)
    mine = [value for _, value, key in producer.records if key == b"dev-7"]
    assert SeqWindow.decode(mine[0]).top == 1  # the run starts with the whole window
    assert decode_delta(mine[1]) == [(2, 77)]  # then only what is new: 13 bytes, not 4.2 KB
    assert len(mine[1]) < 20 < 4000 < len(mine[0])
    known = _read_back(producer.records, "dev-7")
    assert known.top == 2 and known.stored(1) and known.fingerprint(2) == 77
    producer.deliveries[-1].set_result(None)
    await asyncio.wait_for(asyncio.gather(*gateway._window_writes), 10)


async def test_a_device_whose_run_of_stores_ends_gets_its_whole_window_written_last(tmp_path: Path) -> None:
    # The topic is compacted: the latest record of a device is the one a gateway
    # starting later reads, so it must be the whole window, not a delta. The
    # gateway's own rounds write it, `snapshot_s` after the run's last store.
    gateway = make_gateway(tmp_path)
    gateway.window_records = WindowRecords(snapshot_s=0.5)
    producer = FakeProducer()
    gateway.kafka_ok, gateway.producer = True, producer  # type: ignore[assignment]
    written = lambda kind: metrics.GATEWAY.get_sample_value(  # noqa: E731
        "vigil_gateway_seq_window_bytes_total", {"kind": kind}
    )
    whole, delta = written("whole"), written("delta")
    window = SeqWindow()
    for seq in range(1, 6):
        _stored(gateway, "dev-3", window, seq, 100 + seq)
        gateway._flush_windows()
        async with asyncio.timeout(10):
            while len(producer.records) < seq:
                await asyncio.sleep(0.01)
    assert [decode_delta(v) is None for _, v, _ in producer.records] == [True, False, False, False, False]
    assert gateway.window_records.waiting()  # the run is open: its close is still to be written
    async with asyncio.timeout(10):
        while len(producer.records) < 6:
            await asyncio.sleep(0.01)
    last = SeqWindow.decode(producer.records[-1][1])  # whole, and it alone says everything
    assert last.top == 5 and all(last.fingerprint(s) == 100 + s for s in range(1, 6))
    assert not gateway.window_records.waiting()
    assert written("whole") - whole == 2 * len(producer.records[-1][1])  # what SREs see of the topic
    assert written("delta") - delta == 4 * 13


async def test_own_window_records_read_back_are_not_merged_again_but_another_gateways_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Merging a window walks every seq it holds; this gateway's own records, read
    # back from vigil.device-seqs a round or two late, carry nothing new.
    gateway = make_gateway(tmp_path)
    producer = FakeProducer()
    gateway.kafka_ok, gateway.producer = True, producer  # type: ignore[assignment]
    window = gateway.windows["dev-7"] = SeqWindow()
    for seq in (1, 2, 3):
        _stored(gateway, "dev-7", window, seq, 100 + seq)
        gateway._flush_windows()
        async with asyncio.timeout(10):
            while len(producer.records) < seq:
                await asyncio.sleep(0.01)
    written = [value for _, value, _ in producer.records]

    merged: list[Any] = []
    real_merge = SeqWindow.merge_record  # where the gateway merges a record, whole or delta
    monkeypatch.setattr(
        SeqWindow, "merge_record", lambda self, other: (merged.append(other), real_merge(self, other))
    )
    record = lambda value: SimpleNamespace(key=b"dev-7", value=value)  # noqa: E731
    gateway._merge_windows([record(written[0])])  # the oldest, read back after two more were written
    gateway._merge_windows([record(written[2])])
    assert merged == [] and "dev-7" not in gateway._written  # nothing left to recognise

    elsewhere = SeqWindow()
    elsewhere.add(9, 999)  # the device, meanwhile connected to another gateway
    gateway._merge_windows([record(elsewhere.encode()), record(written[1])])  # and an old one of ours
    assert len(merged) == 2  # ours is no longer known as ours once retired: merged, harmlessly
    assert window.top == 9 and window.fingerprint(9) == 999 and window.fingerprint(3) == 103


async def test_window_records_never_read_back_are_forgotten(tmp_path: Path) -> None:
    gateway = make_gateway(tmp_path)
    producer = FakeProducer()
    gateway.kafka_ok, gateway.producer = True, producer  # type: ignore[assignment]
    window = SeqWindow()
    for seq in range(1, 30):
        _stored(gateway, "dev-1", window, seq)
        gateway._flush_windows()
        async with asyncio.timeout(10):
            while len(producer.records) < seq:
                await asyncio.sleep(0.01)
    assert len(producer.records) == 29 and len(gateway._written["dev-1"]) == 8  # the latest eight


async def test_the_inflight_gauge_counts_frames_handed_to_kafka_and_not_yet_acknowledged(
    tmp_path: Path,
) -> None:
    gateway = make_gateway(tmp_path, ack_timeout_s=30, coalesce_ms=0)
    producer = FakeProducer(stalled=True)
    gateway.kafka_ok, gateway.producer = True, producer  # type: ignore[assignment]
    gauge = lambda: metrics.GATEWAY.get_sample_value("vigil_gateway_inflight_frames")  # noqa: E731
    connections = [FakeConnection(reading_frame(), device=f"dev-{i}") for i in range(3)]
    handled = asyncio.gather(*(gateway.handle(c) for c in connections))  # type: ignore[arg-type]
    async with asyncio.timeout(10):
        while len(producer.deliveries) < 3:
            await asyncio.sleep(0.01)
    assert gauge() == 3
    producer.deliveries[0].set_result(None)
    async with asyncio.timeout(10):
        while gauge() != 2:
            await asyncio.sleep(0.01)
    for delivery in producer.deliveries[1:]:
        delivery.set_result(None)
    await asyncio.wait_for(handled, 10)
    assert gauge() == 0 and all(c.sent == [{"type": "ack", "seq": 7}] for c in connections)
