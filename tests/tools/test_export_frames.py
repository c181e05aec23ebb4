"""`vigil export` takes a patient's readings from records of several frames
(the gateway's coalescing, v 2) as well as from one-frame records."""

from __future__ import annotations

from types import SimpleNamespace

from app.core.protocol import Reading
from app.core.records import encode_frames, encode_readings
from app.tools.export import readings_rows

T0 = 1_780_000_000_000
MINE, OTHER = "p-" + "a" * 32, "p-" + "b" * 32


def frame(device: str, subject: str, seq: int) -> bytes:
    return encode_readings(device, subject, T0, [Reading(seq, T0 + seq, {"heart_rate": 70 + seq})])


def test_a_patients_readings_come_out_of_records_keyed_by_another_patient() -> None:
    records = [
        SimpleNamespace(key=MINE.encode(), value=frame("dev-1", MINE, 1)),
        # keyed by its first frame's patient, not by mine
        SimpleNamespace(
            key=OTHER.encode(), value=encode_frames([frame("dev-2", OTHER, 1), frame("dev-1", MINE, 2)])
        ),
    ]
    rows = readings_rows(records, MINE, T0, T0 + 10)
    assert [(r["device_id"], r["seq"], r["heart_rate"]) for r in rows] == [("dev-1", 1, 71), ("dev-1", 2, 72)]
