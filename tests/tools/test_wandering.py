"""load-tests/wandering.py (docs/evaluation.md, "Vitals that wander by
nature"): stable patients whose vitals wander, Vigil's alerts with the
checks for a normal that wanders off and on."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "load-tests"))

import wandering  # noqa: E402

from app.core import patient as core  # noqa: E402

TOGETHER = "trend (drifting together)"


def test_a_wandering_patients_second_day_raises_no_trend_of_vitals_drifting_together() -> None:
    # Patient 2: since 2026-12-07 (a dense drift still moving is adopted with hours of memory)
    # patient 0's second day raises one such trend without the check, not two.
    off = wandering.run(2, 2.0, 30.0, core.Config(drift_wander=0))
    on = wandering.run(2, 2.0, 30.0, core.Config())
    assert off["drift notices"] >= 2 * 15  # the vitals do wander
    assert off[TOGETHER] - off[TOGETHER + ", day 1"] >= 2  # without the check, its second day raises some
    assert on[TOGETHER] == on[TOGETHER + ", day 1"]  # with it, none after the first day
    assert on["openings"] < off["openings"]


def test_the_script_prints_both_columns_per_patient_day(capsys: pytest.CaptureFixture[str]) -> None:
    argv = sys.argv
    sys.argv = ["wandering.py", "--patients", "1", "--days", "1", "--memory", "120"]
    try:
        wandering.main()
    finally:
        sys.argv = argv
    out = capsys.readouterr().out
    assert "1 stable patients x 1 days" in out and "120-minute memory" in out
    header = next(line for line in out.splitlines() if "together" in line)
    assert header.index("off") < header.index("together") < header.index("both")
    assert any(line.startswith("| drift notices") for line in out.splitlines())
