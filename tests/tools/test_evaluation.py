"""`vigil evaluate`: the labeled cohort and the side-by-side scoring."""

from __future__ import annotations

import json
import subprocess
import sys

from app.tools import evaluation
from app.tools.evaluation import DAY, Event, SimPatient, cohort, score
from tests.conftest import ROOT


def test_cohort_is_reproducible_and_labeled() -> None:
    a, b = cohort(10, 0.5, seed=7), cohort(10, 0.5, seed=7)
    assert [p.readings for p in a] == [p.readings for p in b]
    assert [p.events for p in a] == [p.events for p in b]
    assert cohort(10, 0.5, seed=8)[0].readings != a[0].readings
    big = cohort(40, 1.0, seed=1)
    kinds = {e.kind for p in big for e in p.events}
    assert kinds == set(evaluation.EVENT_KINDS)
    assert {p.profile for p in big} == {"typical", "athlete", "copd"}
    for p in big:
        ts = [r["ts"] for r in p.readings]
        assert ts == sorted(ts) and ts[-1] - ts[0] < DAY
        assert all(e.onset_ms < e.end_ms and ts[0] <= e.onset_ms <= ts[-1] for e in p.events)


def test_scoring_counts_detections_delays_and_false_alerts() -> None:
    p = SimPatient("p", "typical")
    p.readings = [
        {"id": str(i), "seq": i, "ts": evaluation.T0 + i * 60_000, "vitals": {}} for i in range(24 * 60)
    ]
    p.events = [Event("hypoxia", evaluation.T0 + 600 * 60_000, evaluation.T0 + 650 * 60_000)]
    fired = [("open", evaluation.T0 + 100 * 60_000), ("open", evaluation.T0 + 603 * 60_000)]
    evaluation.METHODS["fake"] = lambda patient, sizes: iter(fired)
    try:
        result, _ = score([p], "fake")
    finally:
        del evaluation.METHODS["fake"]
    assert result["sensitivity"] == 1.0
    assert result["median_delay_s"] == 180.0
    assert result["false_alerts"] == 1
    assert result["false_alerts_per_patient_day"] == round(1 / ((24 * 60 - 1) / (24 * 60)), 2)


def test_evaluate_command_prints_one_json_object_keyed_by_method() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "app.cli", "evaluate", "--json", "--patients", "12", "--days", "0.5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    result = json.loads(out)
    for method in ("vigil", "static_thresholds", "news2"):
        assert set(result[method]) >= {"sensitivity", "false_alerts_per_patient_day", "median_delay_s"}
    assert 0 < result["state_bytes_max"] <= 4096
