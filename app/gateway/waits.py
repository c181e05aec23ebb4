"""Two asyncio primitives the gateway uses once per frame, in forms whose
cost does not grow with the number of frames waiting.

At 3,000 frames/s, py-spy put about a quarter of the gateway's CPU in
`asyncio.wait_for(asyncio.shield(delivery))` (a waiter, a timer, an outer
future and four callbacks per frame) and in CPython 3.11's
`asyncio.Semaphore`, whose `acquire` and `release` scan the deque of waiters
(`locked()` and `_wake_up_next`) each time: quadratic once thousands of
frames wait for a slot (docs/benchmarks.md, "The ack's wait").
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any


async def done_within(future: asyncio.Future[Any], timeout: float) -> bool:
    """Wait until `future` is done or `timeout` seconds have passed; whether it
    is done. `future` itself is never cancelled, neither on timeout nor when
    the waiting task is (what `wait_for(shield(future))` gave), so a record
    stored late still completes its delivery."""
    if future.done():
        return True
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()

    def wake(_: Any = None) -> None:
        if not waiter.done():
            waiter.set_result(None)

    future.add_done_callback(wake)
    timer = loop.call_later(max(0.0, timeout), wake)
    try:
        await waiter
    finally:
        timer.cancel()
        if not future.done():  # the timeout, or this task cancelled: stop listening
            future.remove_done_callback(wake)
    return future.done()


class Slots:
    """A counting semaphore, first come first served, with O(1) `acquire` and
    `release`: a released slot is handed to the oldest waiter still waiting."""

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def free(self) -> int:
        return self._free

    async def acquire(self) -> None:
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot just as it was cancelled: pass it on
            raise

    def release(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():  # a cancelled waiter is skipped
                waiter.set_result(None)  # the slot goes straight to it
                return
        self._free += 1
