"""`vigil devices clocks`: which devices' clocks are off, from `vigil.readings`.

Each `vigil.readings` frame holds the gateway's receipt time (`received_ms`)
and its readings' own times (`ts`). A frame's age on arrival is the receipt
time minus its newest reading's `ts`: near 0 for a device sending live,
larger for readings sent late (buffered while offline) or by a clock behind,
below 0 only for a clock ahead (no reading is taken in the future). The
gateway's histogram `vigil_gateway_reading_age_seconds` says that some device
is off (VigilDeviceClocksAhead); this says which, per device: its frames of
the last minutes, their median and smallest age, and how many of its
readings were stamped before ones it numbered earlier (a clock stepped back).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from app.core.records import ReadingBatch, readable_frames
from app.infra.settings import READINGS_TOPIC, Settings
from app.infra.topics import assignment, from_start, read_to_end

AHEAD_S = 5.0  # as VigilDeviceClocksAhead: a reading stamped this far past the receipt
STEP_S = 60.0  # a reading stamped this far before one the device numbered earlier: its clock stepped back


def report(frames: Iterable[ReadingBatch]) -> list[dict[str, Any]]:
    """Per device: frames, the median and smallest age on arrival in seconds,
    whether its clock is ahead (its smallest age at -`AHEAD_S` or below),
    and how many of its readings were stamped `STEP_S` or more before a
    reading it numbered earlier (`stepped_back`: its clock went back; the
    worker scores such readings only for channels with nothing newer, so
    while it is behind its own past the patient's detection waits); the
    devices stepped back first, then the most ahead, then the latest."""
    ages: dict[str, list[float]] = {}
    stamps: dict[str, list[tuple[int, int]]] = {}  # device -> (seq, ts) of its readings
    for frame in frames:
        if frame.readings:
            newest = max(int(r["ts"]) for r in frame.readings)
            ages.setdefault(frame.device_id, []).append((frame.received_ms - newest) / 1000)
            stamps.setdefault(frame.device_id, []).extend(
                (int(r["seq"]), int(r["ts"])) for r in frame.readings
            )
    rows = [
        {
            "device_id": device,
            "frames": len(seen),
            "age_s_median": round(statistics.median(seen), 3),
            "age_s_min": round(min(seen), 3),
            "ahead": min(seen) <= -AHEAD_S,
            "stepped_back": _stepped_back(stamps[device]),
        }
        for device, seen in ages.items()
    ]
    return sorted(rows, key=lambda row: (-row["stepped_back"], row["age_s_min"], -row["age_s_median"]))


def _stepped_back(readings: list[tuple[int, int]]) -> int:
    """How many of a device's readings, in the order it numbered them, are
    stamped `STEP_S` or more before the newest stamp of those numbered before."""
    newest, behind = None, 0
    for _, ts in sorted(set(readings)):
        if newest is not None and ts <= newest - STEP_S * 1000:
            behind += 1
        newest = ts if newest is None else max(newest, ts)
    return behind


async def frames_since(settings: Settings, since_ms: int) -> list[ReadingBatch]:
    """Every readable frame of `vigil.readings` written since `since_ms`
    (Kafka's record time, the gateway's write), up to its end now."""
    consumer = from_start(settings, READINGS_TOPIC)
    await consumer.start()
    try:
        partitions = await assignment(consumer, READINGS_TOPIC)
        ends = await consumer.end_offsets(partitions)
        found = await consumer.offsets_for_times({tp: since_ms for tp in partitions})
        for tp in partitions:
            at = found.get(tp)
            consumer.seek(tp, at.offset if at is not None else ends[tp])
        frames: list[ReadingBatch] = []
        await read_to_end(
            consumer,
            READINGS_TOPIC,
            lambda records: frames.extend(f for r in records for f in readable_frames(r.value)),
            ends,
        )
        return frames
    finally:
        await consumer.stop()
