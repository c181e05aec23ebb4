"""`vigil export`'s files hold a patient's readings and alert events: they
are created readable by their owner only (0600), as patient data under
VIGIL_HOME is. They were -rw-r--r-- (an outside SRE's first hour)."""

from __future__ import annotations

import asyncio
import os
from types import SimpleNamespace

import pytest

from app.core.protocol import Reading
from app.core.records import encode_readings, pseudonym
from app.infra.settings import Settings
from app.tools import export

KEY = b"k" * 32
T0 = 1_780_000_000_000


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_exported_files_are_the_owners_only_even_over_older_ones(tmp_path, monkeypatch, fmt: str) -> None:
    subject = pseudonym(KEY, "MRN-0042")
    readings = [
        SimpleNamespace(
            key=subject.encode(),
            value=encode_readings("dev-1", subject, T0, [Reading(1, T0 + 1, {"heart_rate": 71})]),
        )
    ]

    async def scan(_settings: Settings, topic: str) -> list[object]:
        return readings if topic == "vigil.readings" else []

    monkeypatch.setattr(export, "_scan", scan)
    old = os.umask(0o022)
    try:
        prefix = tmp_path / "mrn-0042"
        (tmp_path / f"mrn-0042-alerts.{fmt}").write_text("an older export, world-readable")
        (tmp_path / f"mrn-0042-alerts.{fmt}").chmod(0o644)
        paths = asyncio.run(export.export(Settings(), KEY, "MRN-0042", T0, T0 + 10, prefix, fmt))
    finally:
        os.umask(old)
    assert [oct(p.stat().st_mode & 0o777) for p in paths[:2]] == ["0o600", "0o600"]
    assert paths[2:] == (1, 0)
    if fmt == "csv":
        assert paths[0].read_text().splitlines()[1].startswith("2026-"), paths[0].read_text()
        assert paths[1].read_text().startswith("event_time,alert_id")  # the older content is gone
