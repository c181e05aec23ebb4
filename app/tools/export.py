"""`vigil export`: one patient's cleaned readings and alerts over a time range,
to CSV or Parquet.

The patient is looked up by pseudonym (the key of `vigil.readings` and
`vigil.alerts`), so the identifier itself is only used here, on the
operator's side. The export scans both topics from their start (simple, and
fine for a retention of days; a time index is left for later) and keeps the
records whose event time lies in [from, to).

Readings are *cleaned* as the worker cleans them: each row carries the vitals
as sent and an `artifacts` column naming the vitals outside physiology
(`app.core.vitals.is_artifact`), which the worker never learned from or
alerted on.
"""

from __future__ import annotations

import csv
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from app.core.alerts import iso
from app.core.errors import ExportError as ExportError  # part of its interface
from app.core.records import pseudonym, readable_frames
from app.core.vitals import is_artifact
from app.infra.settings import ALERTS_TOPIC, READINGS_TOPIC, Settings
from app.infra.topics import from_start, read_to_end

READING_COLUMNS = [
    "ts",
    "device_id",
    "reading_id",
    "seq",
    "heart_rate",
    "spo2",
    "respiratory_rate",
    "systolic_bp",
    "diastolic_bp",
    "temperature",
    "weight",
    "consciousness",
    "on_oxygen",
    "spo2_scale",
    "artifacts",
    "mean_bp",  # added after the others: a reader of the columns by position reads them as before
]
_VITAL_COLUMNS = [c for c in READING_COLUMNS[4:] if c != "artifacts"]
ALERT_COLUMNS = ["event_time", "alert_id", "kind", "status", "severity", "opened_at", "device_id", "evidence"]


def parse_time(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ExportError(f"not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise ExportError("times need a time zone, such as Z")
    return int(moment.timestamp() * 1000)


async def _scan(settings: Settings, topic: str) -> list[Any]:
    consumer = from_start(settings, topic)
    records: list[Any] = []
    try:
        await consumer.start()
        await read_to_end(consumer, topic, records.extend)
    finally:
        await consumer.stop()
    return records


def readings_rows(records: list[Any], subject: str, start: int, end: int) -> list[dict[str, Any]]:
    rows: dict[tuple[str, int, bytes], dict[str, Any]] = {}
    for batch in (b for record in records for b in readable_frames(record.value)):
        if batch.patient != subject:
            continue  # a record of several frames is keyed by its first frame's patient only
        for reading in batch.readings:
            if not start <= reading["ts"] < end:
                continue
            vitals = reading["vitals"]
            row = {
                "ts": iso(reading["ts"]),
                "device_id": batch.device_id,
                "reading_id": reading["id"],
                "seq": reading.get("seq"),
            }
            row.update({k: vitals.get(k) for k in _VITAL_COLUMNS})
            custom = {k: v for k, v in vitals.items() if k not in READING_COLUMNS}
            row.update(custom)
            bad = [
                k
                for k, v in vitals.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool) and is_artifact(k, v)
            ]
            row["artifacts"] = " ".join(bad)
            # A reading stored twice has the same id, time and vitals. The same id
            # with other content is another reading (a device whose counter went
            # back further than the gateway's window: docs/protocol.md), kept too.
            rows[(reading["id"], reading["ts"], orjson.dumps(vitals, option=orjson.OPT_SORT_KEYS))] = row
    # One row per reading, even if it was stored twice; in event-time order.
    return sorted(rows.values(), key=lambda r: (r["ts"], r["seq"]))


def alert_rows(records: list[Any], subject: str, start: int, end: int) -> list[dict[str, Any]]:
    rows = {}
    for record in records:
        if record.key != subject.encode():
            continue
        event = orjson.loads(record.value)
        if not start <= parse_time(event["event_time"]) < end:
            continue
        row = {k: event.get(k) for k in ALERT_COLUMNS}
        row["evidence"] = orjson.dumps(event.get("evidence")).decode()
        rows[(event["alert_id"], event["status"], event["severity"], event["event_time"])] = row
    return sorted(rows.values(), key=lambda r: r["event_time"])


PRIVATE_FILE = 0o600  # an export holds a patient's readings and alerts: its owner's only


def _private(path: Path) -> int:
    """`path` opened for writing, emptied, readable and writable by its owner
    only, whether it is new or was there (with wider rights) before."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)
    return fd


def write(rows: list[dict[str, Any]], columns: list[str], path: Path, fmt: str) -> None:
    extra = sorted({k for r in rows for k in r} - set(columns))
    columns = columns[:-1] + extra + columns[-1:] if extra else columns
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({c: [r.get(c) for r in rows] for c in columns})
        with os.fdopen(_private(path), "wb") as out:
            pq.write_table(table, out)
        return
    with open(_private(path), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})


async def export(
    settings: Settings, key: bytes, patient: str, start: int, end: int, prefix: Path, fmt: str
) -> tuple[Path, Path, int, int]:
    subject = pseudonym(key, patient)
    readings = readings_rows(await _scan(settings, READINGS_TOPIC), subject, start, end)
    alerts = alert_rows(await _scan(settings, ALERTS_TOPIC), subject, start, end)
    paths = (Path(f"{prefix}-readings.{fmt}"), Path(f"{prefix}-alerts.{fmt}"))
    write(readings, READING_COLUMNS, paths[0], fmt)
    write(alerts, ALERT_COLUMNS, paths[1], fmt)
    return paths[0], paths[1], len(readings), len(alerts)
