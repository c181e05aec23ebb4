"""`vigil export`: a patient's cleaned readings and alerts, CSV and Parquet."""

from __future__ import annotations

import csv
import time

import pyarrow.parquet as pq
import pytest

from app.core.alerts import iso
from tests.integration.test_replay import recording

pytestmark = pytest.mark.integration


async def test_export_a_patient_over_a_time_range(vigil, kafka, services, tmp_path) -> None:
    start = (int(time.time() * 1000) - 4 * 3600_000) // 60_000 * 60_000
    path = tmp_path / "ward.csv"
    recording(path, start)  # BED-9: 200 minutes, hypoxic from minute 120 to 150
    lines = path.read_text().splitlines()
    cells = lines[11].split(",")  # minute 10 (after the header line)
    cells[3] = "0"  # SpO2 0: a probe that fell off
    lines[11] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    assert (
        "200 acknowledged" in vigil.run("replay", str(path), "--speed", "0", "--patient-prefix", "X-").stderr
    )
    time.sleep(3)  # let the worker emit the alerts

    out = tmp_path / "x"
    done = vigil.run(
        "export",
        "--patient",
        "X-BED-9",
        "--from",
        iso(start),
        "--to",
        iso(start + 200 * 60_000),
        "--out",
        str(out),
    )
    assert "200 readings" in done.stderr
    rows = list(csv.DictReader(open(f"{out}-readings.csv")))
    assert len(rows) == 200 and rows[0]["ts"] == iso(start)
    assert [r["artifacts"] for r in rows if r["artifacts"]] == ["spo2"]
    alerts = list(csv.DictReader(open(f"{out}-alerts.csv")))
    assert ("news2", "open") in [(a["kind"], a["status"]) for a in alerts]

    narrow = vigil.run(
        "export",
        "--patient",
        "X-BED-9",
        "--from",
        iso(start + 60 * 60_000),
        "--to",
        iso(start + 90 * 60_000),
        "--out",
        str(tmp_path / "n"),
        "--format",
        "parquet",
    )
    assert "30 readings" in narrow.stderr
    table = pq.read_table(tmp_path / "n-readings.parquet").to_pylist()
    assert [r["ts"] for r in table] == [iso(start + m * 60_000) for m in range(60, 90)]
    assert table[0]["heart_rate"] == int(rows[60]["heart_rate"])

    nobody = vigil.run(
        "export",
        "--patient",
        "NOBODY",
        "--from",
        iso(start),
        "--to",
        iso(start + 1),
        "--out",
        str(tmp_path / "z"),
    )
    assert "0 readings" in nobody.stderr
