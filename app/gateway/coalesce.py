"""Several device frames in one `vigil.readings` record, per partition.

The worker's cost is mostly per Kafka record (Faust's per-record path), so
frames of several patients that go to the same partition are written as one
record of several frames (`app.core.records.encode_frames`, version 2). A
partition's frames wait at most `window_s` from the first, or until the record
would hold `max_frames` frames or `max_bytes` bytes; a frame that alone is
larger than that is written alone. A record of one frame is written exactly
as without coalescing (version 1).

`add` returns the future of the record that will hold the frame: its result
is Kafka's acknowledgement of the record, its exception the reason it was not
written (`KafkaError`); the gateway acknowledges each of the record's frames
to its device only then. One partition's records are handed to the producer
one at a time, in the order their first frame came, so a device's frames stay
in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import KafkaError

from app.core.records import encode_frames

# (partition, key, value) -> the record's delivery, or None if the producer did not take it
Send = Callable[[int, bytes, bytes], Awaitable["asyncio.Future[Any] | None"]]


@dataclass(slots=True)
class _Open:
    """A partition's frames waiting for their record."""

    key: bytes  # the first frame's key (its patient's pseudonym)
    values: list[bytes] = field(default_factory=list)
    size: int = 0
    stored: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    timer: asyncio.TimerHandle | None = None


class Coalescer:
    def __init__(self, send: Send, window_s: float, max_frames: int, max_bytes: int) -> None:
        self._send = send
        self.window_s = window_s
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self._open: dict[int, _Open] = {}
        self._turns: dict[int, asyncio.Lock] = {}  # one hand-over at a time per partition
        self._flushing: set[asyncio.Task[None]] = set()

    async def add(self, partition: int, key: bytes, value: bytes) -> asyncio.Future[Any]:
        """Put one frame's record (version 1) in its partition's next record."""
        batch = self._open.get(partition)
        while batch is not None and (
            len(batch.values) >= self.max_frames or batch.size + len(value) > self.max_bytes
        ):
            await self._flush(partition)  # the frame that does not fit waits for the hand-over
            batch = self._open.get(partition)  # meanwhile another frame may have opened the next
        if batch is None:
            batch = self._open[partition] = _Open(key)
            batch.stored.add_done_callback(_retrieved)
            batch.timer = asyncio.get_running_loop().call_later(self.window_s, self._flush_later, partition)
        batch.values.append(value)
        batch.size += len(value) + 1
        stored = batch.stored
        if len(batch.values) >= self.max_frames or batch.size >= self.max_bytes:
            await self._flush(partition)
        return stored

    def _flush_later(self, partition: int) -> None:
        task = asyncio.ensure_future(self._flush(partition))
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _flush(self, partition: int) -> None:
        batch = self._open.pop(partition, None)
        if batch is None:
            return
        if batch.timer is not None:
            batch.timer.cancel()
        value = batch.values[0] if len(batch.values) == 1 else encode_frames(batch.values)
        async with self._turns.setdefault(partition, asyncio.Lock()):
            try:
                delivery = await self._send(partition, batch.key, value)
            except BaseException:
                _fail(batch.stored, KafkaError("record not handed over"))
                raise
        if delivery is None:
            _fail(batch.stored, KafkaError("record not handed over"))
        else:
            delivery.add_done_callback(lambda done: _pass_on(done, batch.stored))

    async def flush_all(self) -> None:
        """Every open record now (shutting down), and the flushes under way."""
        await asyncio.gather(*(self._flush(p) for p in list(self._open)), *self._flushing)


def _pass_on(delivery: asyncio.Future[Any], stored: asyncio.Future[Any]) -> None:
    if stored.done():
        return
    if delivery.cancelled():
        stored.set_exception(KafkaError("record cancelled"))
    elif (exc := delivery.exception()) is not None:
        stored.set_exception(exc)
    else:
        stored.set_result(delivery.result())


def _fail(stored: asyncio.Future[Any], exc: Exception) -> None:
    if not stored.done():
        stored.set_exception(exc)


def _retrieved(stored: asyncio.Future[Any]) -> None:
    """Every frame may have given up on the record already: no 'exception never retrieved'."""
    if not stored.cancelled():
        stored.exception()
