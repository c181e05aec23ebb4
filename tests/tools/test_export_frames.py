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


def test_a_reading_stored_twice_is_one_row_and_a_reused_seq_with_other_content_is_two() -> None:
    """A resend stored again (same id, time and vitals) is one row. A device
    whose counter went back further than the gateway's window of 1024 seqs
    has a new reading stored under an old seq's id: both were acknowledged,
    both are rows (found by a firmware writer: the export showed the new one
    only, the acknowledged original gone)."""
    original = encode_readings("dev-1", MINE, T0, [Reading(5, T0 + 5, {"heart_rate": 65})])
    reused = encode_readings("dev-1", MINE, T0, [Reading(5, T0 + 9, {"heart_rate": 99})])
    records = [SimpleNamespace(key=MINE.encode(), value=v) for v in (original, original, reused)]
    rows = readings_rows(records, MINE, T0, T0 + 10)
    assert [(r["seq"], r["heart_rate"]) for r in rows] == [(5, 65), (5, 99)]


def test_the_mean_pressure_has_its_column_and_the_artifacts_column_still_names_the_artifacts() -> None:
    """`mean_bp` joined the catalogue after the other columns: it has its own
    column (last, so that a reader by position reads the others as before),
    and `artifacts` still lists the reading's artifacts, the mean's included."""
    from app.tools.export import READING_COLUMNS

    vitals = {"systolic_bp": 120, "diastolic_bp": 70, "mean_bp": 300, "spo2": 0, "cvp": 8}
    record = encode_readings("dev-1", MINE, T0, [Reading(1, T0 + 1, vitals)])
    (row,) = readings_rows([SimpleNamespace(key=MINE.encode(), value=record)], MINE, T0, T0 + 10)
    assert READING_COLUMNS[-1] == "mean_bp" and READING_COLUMNS[-2] == "artifacts"
    assert (row["mean_bp"], row["systolic_bp"], row["cvp"]) == (300, 120, 8)
    assert row["artifacts"] == "mean_bp spo2"
