"""The gateway shell without sockets or Kafka: a fake connection and a fake
producer, to check that it performs what the session decides."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.errors import KafkaError
from websockets.exceptions import ConnectionClosed

from app.gateway.server import Gateway
from app.infra import metrics
from app.infra.registry import Device
from app.infra.settings import READINGS_TOPIC, REJECTED_TOPIC, Settings

SUBJECT = "p-0123456789abcdef0123456789abcdef"
READING = '{"type": "reading", "seq": 7, "ts": %d, "vitals": {"heart_rate": 72}}'


class FakeConnection:
    """What `Gateway.handle` uses of a websockets connection."""

    def __init__(self, *frames: str, gone: bool = False) -> None:
        self.device = Device("dev-1", "patient-42", "2026-01-01T00:00:00Z")
        self.subject = SUBJECT
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
        self.deliveries: list[asyncio.Future[Any]] = []

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[Any]:
        if self.held:
            await asyncio.Event().wait()
        if self.broken:
            raise KafkaError("sender failed")
        self.records.append((topic, value, key))
        delivery: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if not self.stalled:
            delivery.set_result(None)
        self.deliveries.append(delivery)
        return delivery


@pytest.fixture
def gateway(tmp_path: Path) -> Gateway:
    settings = Settings.from_env(
        {"VIGIL_HOME": str(tmp_path), "VIGIL_PSEUDONYM_KEY": "ab" * 32, "VIGIL_ACK_TIMEOUT_S": "0.2"}
    )
    return Gateway(settings)


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
