"""The gateway's per-frame waits: the ack's wait for Kafka and the in-flight bound."""

from __future__ import annotations

import asyncio

import pytest

from app.gateway.waits import Slots, done_within


async def test_done_within_says_whether_the_delivery_came_in_time_and_never_cancels_it() -> None:
    loop = asyncio.get_running_loop()
    stored = loop.create_future()
    loop.call_later(0.01, stored.set_result, "offset 7")
    assert await done_within(stored, 5.0)
    assert stored.result() == "offset 7"

    late = loop.create_future()
    assert not await done_within(late, 0.01)
    assert not late.cancelled()  # a record stored late still completes
    late.set_result("offset 8")

    failed = loop.create_future()
    loop.call_soon(failed.set_exception, RuntimeError("not stored"))
    assert await done_within(failed, 5.0)
    assert isinstance(failed.exception(), RuntimeError)


async def test_a_cancelled_wait_leaves_the_delivery_alone() -> None:
    delivery = asyncio.get_running_loop().create_future()
    waiting = asyncio.ensure_future(done_within(delivery, 30.0))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert not delivery.cancelled()
    delivery.set_result(None)  # no callback of the cancelled wait left to run


async def test_slots_bound_what_is_in_flight_first_come_first_served() -> None:
    slots = Slots(2)
    order: list[int] = []

    async def frame(i: int) -> None:
        await slots.acquire()
        order.append(i)

    await frame(0)
    await frame(1)
    waiting = [asyncio.ensure_future(frame(i)) for i in range(2, 6)]
    await asyncio.sleep(0)
    assert order == [0, 1]  # both slots taken: the rest wait
    waiting[1].cancel()  # frame 3's connection closed while it waited
    for _ in range(3):
        slots.release()
        await asyncio.sleep(0)
    assert order == [0, 1, 2, 4, 5]
    assert slots.free == 0
    for _ in range(5):
        slots.release()
    assert slots.free == 5


async def test_a_slot_handed_to_a_waiter_cancelled_meanwhile_is_passed_on() -> None:
    slots = Slots(1)
    await slots.acquire()
    first = asyncio.ensure_future(slots.acquire())
    second = asyncio.ensure_future(slots.acquire())
    await asyncio.sleep(0)
    slots.release()  # handed to `first` ...
    first.cancel()  # ... which is cancelled before it runs
    await asyncio.sleep(0)
    await asyncio.wait_for(second, 1.0)  # the slot went on to `second`
    assert slots.free == 0
