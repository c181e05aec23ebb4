"""`vigil replay FILE`: stream a recording through the live gateway.

A recording is CSV (a header with `patient`, `ts` and one column per vital;
empty cells are skipped), JSON lines (`{"patient": ..., "ts": ...,
"vitals": {...}}`), or FHIR Observations, one per line, whose
`subject.reference` names the patient. Times are ISO 8601 or epoch
milliseconds.

Each patient gets a device (`replay-<patient>`, registered afresh) and a
reference client (`app.simulate.DeviceClient`), so replay uses the real
protocol: acks, resends, backoff. Readings are sent at their recorded times
divided by `speed` (0: as fast as acks allow); since detection runs on event
time, the alerts are the same at any speed. `shift_to_now` moves the whole
recording so that it ends now (the gateway accepts readings up to 7 days old).
"""

from __future__ import annotations

import asyncio
import csv
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from app import simulate
from app.core import fhir
from app.settings import Settings


class RecordingError(Exception):
    """The recording cannot be read; the message says where."""


@dataclass(frozen=True)
class Row:
    patient: str
    ts_ms: int
    vitals: dict[str, Any]


def _ms(value: Any, where: str) -> int:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        if value.strip().isdigit():
            return int(value)
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            if moment.tzinfo is not None:
                return int(moment.timestamp() * 1000)
    raise RecordingError(f"{where}: ts must be ISO 8601 with a time zone, or epoch milliseconds")


def _number(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text  # consciousness letters


def read_recording(path: Path) -> list[Row]:
    text = path.read_text()
    rows: list[Row] = []
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or not {"patient", "ts"} <= set(reader.fieldnames):
            raise RecordingError(f"{path.name}: a CSV recording needs patient and ts columns")
        for n, record in enumerate(reader, start=2):
            vitals = {k: _number(v) for k, v in record.items() if k not in ("patient", "ts") and v not in ("", None)}
            if vitals:
                rows.append(Row(record["patient"], _ms(record["ts"], f"line {n}"), vitals))
    else:
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise RecordingError(f"line {n}: not JSON") from None
            if isinstance(obj, dict) and obj.get("resourceType") == "Observation":
                try:
                    native = fhir.to_reading({**obj, "identifier": [{"system": fhir.SEQ_SYSTEM, "value": "0"}]})
                except Exception as exc:  # a Refusal: report the line
                    raise RecordingError(f"line {n}: {exc}") from None
                if "patient" not in native:
                    raise RecordingError(f"line {n}: the Observation has no subject")
                rows.append(Row(native["patient"], _ms(native["ts"], f"line {n}"), native["vitals"]))
            elif isinstance(obj, dict) and {"patient", "ts", "vitals"} <= set(obj):
                rows.append(Row(str(obj["patient"]), _ms(obj["ts"], f"line {n}"), obj["vitals"]))
            else:
                raise RecordingError(f"line {n}: expected patient, ts and vitals, or a FHIR Observation")
    if not rows:
        raise RecordingError(f"{path.name}: no readings")
    return sorted(rows, key=lambda r: r.ts_ms)


async def replay(
    settings: Settings,
    rows: list[Row],
    speed: float,
    shift_to_now: bool = False,
    prefix: str = "",
    settle_s: float = 30.0,
) -> simulate.Stats:
    """Send every row through the gateway; return once all are acknowledged."""
    offset = int(time.time() * 1000) - 60_000 - rows[-1].ts_ms if shift_to_now else 0
    stats = simulate.Stats()
    stop = asyncio.Event()
    patients = dict.fromkeys(prefix + r.patient for r in rows)
    by_device = simulate.clients_for(settings, {f"replay-{p}": p for p in patients}, stats)
    clients = {p: by_device[f"replay-{p}"] for p in patients}
    connections = [asyncio.ensure_future(c.run(stop)) for c in clients.values()]
    started, first = time.monotonic(), rows[0].ts_ms
    for row in rows:
        if speed > 0:
            delay = (row.ts_ms - first) / 1000 / speed - (time.monotonic() - started)
            if delay > 0:
                await asyncio.sleep(delay)
        await clients[prefix + row.patient].send(row.ts_ms + offset, row.vitals)
    deadline = time.monotonic() + settle_s
    while any(c.pending for c in clients.values()) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    stop.set()
    await asyncio.gather(*connections)
    return stats
