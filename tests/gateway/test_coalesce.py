"""The gateway's per-partition coalescing, without Kafka: what goes into
which record, in which order, and that no frame is left behind."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.errors import KafkaError

from app.core.protocol import Reading
from app.core.records import decode_frames, encode_readings
from app.gateway.coalesce import Coalescer


def frame(device: str, seq: int, pad: int = 0) -> bytes:
    vitals: dict[str, Any] = {"heart_rate": 72} | {f"x{i}": i for i in range(pad)}
    return encode_readings(device, "p-" + "0" * 32, 1, [Reading(seq, 1, vitals)])


class Broker:
    """A `send` for Coalescer: each record confirmed when `open` is set."""

    def __init__(self) -> None:
        self.records: list[tuple[int, bytes, bytes]] = []
        self.open = asyncio.Event()
        self.refuse = False

    async def send(self, partition: int, key: bytes, value: bytes) -> asyncio.Future[Any] | None:
        await self.open.wait()
        if self.refuse:
            return None
        self.records.append((partition, key, value))
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(partition)
        return done


def seqs(value: bytes) -> list[tuple[str, int]]:
    return [(f.device_id, f.readings[0]["seq"]) for f in decode_frames(value)]  # type: ignore[union-attr]


async def test_a_partitions_frames_share_a_record_in_the_order_they_came() -> None:
    broker = Broker()
    broker.open.set()
    coalescer = Coalescer(broker.send, 0.05, 100, 100_000)
    stored = [await coalescer.add(p, b"k", frame(f"d{p}", s)) for s in range(3) for p in (0, 1)]
    await asyncio.wait_for(asyncio.gather(*stored), 5)
    assert sorted((p, seqs(v)) for p, _, v in broker.records) == [
        (0, [("d0", 0), ("d0", 1), ("d0", 2)]),
        (1, [("d1", 0), ("d1", 1), ("d1", 2)]),
    ]


async def test_a_frame_that_does_not_fit_waits_and_no_frame_is_left_behind() -> None:
    """While a partition's hand-over is stuck, a frame that does not fit its
    open record waits for that record's hand-over; a frame arriving meanwhile
    starts the next record, which must not be dropped when the waiting frame
    goes on."""
    broker = Broker()
    big = len(frame("a", 0, pad=30))
    coalescer = Coalescer(broker.send, 60.0, 100, int(big * 1.5))
    first = await coalescer.add(0, b"k", frame("a", 0, pad=30))
    first_out = asyncio.ensure_future(coalescer._flush(0))  # held: the broker is not open
    await asyncio.sleep(0)
    second = await coalescer.add(0, b"k", frame("b", 0, pad=30))
    third = asyncio.ensure_future(coalescer.add(0, b"k", frame("c", 0, pad=30)))  # does not fit: waits
    await asyncio.sleep(0.01)
    fourth = await coalescer.add(0, b"k", frame("d", 0))  # arrives while the third waits
    broker.open.set()
    third_stored = await asyncio.wait_for(third, 5)
    await asyncio.wait_for(first_out, 5)
    await coalescer.flush_all()
    await asyncio.wait_for(asyncio.gather(first, second, third_stored, fourth), 5)
    written = [s for _, _, v in broker.records for s in seqs(v)]
    assert sorted(written) == [("a", 0), ("b", 0), ("c", 0), ("d", 0)]


async def test_a_record_not_taken_fails_each_of_its_frames() -> None:
    broker = Broker()
    broker.open.set()
    broker.refuse = True
    coalescer = Coalescer(broker.send, 0.01, 100, 100_000)
    stored = [await coalescer.add(2, b"k", frame(d, 1)) for d in ("a", "b")]
    results = await asyncio.wait_for(asyncio.gather(*stored, return_exceptions=True), 5)
    assert all(isinstance(r, KafkaError) for r in results)
