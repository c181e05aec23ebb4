"""The worker benchmark's scale-out mode (`bench_worker.py --workers`) still
runs on a real broker: two `vigil worker` processes in one consumer group
share the stream, each does part of it, every reading is processed once,
and each patient lives on one worker. A couple of thousand readings, so the
mode does not rot between benchmark runs (docs/capacity.md rests on it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
READINGS, PATIENTS = 2_000, 50


def test_two_workers_in_one_group_share_the_stream(tmp_path: Path) -> None:
    """On a broker of its own (the benchmark provisions it): the scale-out
    mode makes `vigil.readings` with 8 partitions, which the session broker's
    other tests (4) must not inherit."""
    out = tmp_path / "scale.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "load-tests" / "bench_worker.py"),
            "--workers",
            "2",
            "--readings",
            str(READINGS),
            "--patients",
            str(PATIENTS),
            "--per-record",
            "2",
            "--timeout",
            "90",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    (run,) = result["runs"]
    assert run["workers"] == 2
    assert all(count > 0 for count in run["readings_each"]), run["readings_each"]
    assert sum(run["readings_each"]) == run["readings"] == READINGS
    # Keyed by patient: every patient's state is on exactly one of the two workers.
    assert sum(run["patients_each"]) == PATIENTS, run["patients_each"]
    (summary,) = result["scale"]
    assert summary["readings_per_s"] > 0 and summary["speedup"] is None  # no 1-worker run to compare with
    assert "per core" in done.stdout
