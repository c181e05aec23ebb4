"""The fault and abuse suite, short version: `load-tests/faults.py --quick`
against real processes (its own Kafka, gateway and worker, killed and
flooded on purpose), each scenario reconciled by device and reading and by
alert_id (docs/reliability.md#fault-suite)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
QUICK = [
    "worker-kill", "gateway-kill", "broker-kill-10s", "worker-join-leave", "poison", "hello-flood",
    "invalid-flood", "rejected-flood", "handshake-flood", "future-timestamp", "seq-reset", "state-bloat",
    "registry-error",
]
# What today's code fails, by item of issue 10; the fixes are in flight.
# Strict: when a fix lands, the test reports XPASS as a failure and the
# name must come off its list.
VERDICT_FAILS_TODAY = {
    "poison": "item 1: no vigil.dead-letter topic, no vigil_worker_records_failed_total",
    "state-bloat": "item 1: the worker exits on MessageSizeTooLarge and again after a restart",
    "future-timestamp": "item 2: readings after a future-stamped one are out of order, no alert",
    "seq-reset": "item 3: readings of a reset seq are acknowledged as resends and dropped",
    "hello-flood": "item 4: hello frames are not rate-limited; others' ack p99 goes to seconds",
    "invalid-flood": "item 4: each refused reading is an error frame and a vigil.rejected record",
    "rejected-flood": "item 4: each rate-limited reading is an error frame and a vigil.rejected record",
    "registry-error": "item 6: a registry read error kills the credential re-check",
}
READINGS_FAIL_TODAY = {name: VERDICT_FAILS_TODAY[name] for name in ("seq-reset", "state-bloat")}
ALERTS_FAIL_TODAY = {name: VERDICT_FAILS_TODAY[name] for name in ("state-bloat",)}
# Found by this suite, intermittent (3 worker SIGKILLs in 31): the
# worker's RocksDB store already holds the state after the record it was
# processing while that record's alert events are still in the producer's
# buffer; after the restart the record is reprocessed as a duplicate against
# the advanced state and the lost event is never sent (docs/reliability.md).
INTERMITTENT = {"worker-kill": "an alert event lost when the worker is killed before it is delivered"}


def cases(failing: dict[str, str], intermittent: dict[str, str]) -> list:
    out = []
    for name in QUICK:
        if name in failing:
            out.append(pytest.param(name, marks=pytest.mark.xfail(reason=failing[name], strict=True)))
        elif name in intermittent:
            out.append(pytest.param(name, marks=pytest.mark.xfail(reason=intermittent[name], strict=False)))
        else:
            out.append(name)
    return out


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict], dict, Any]:
    report = tmp_path_factory.mktemp("faults") / "faults.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "load-tests" / "faults.py"), "--quick", "--json", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert report.exists(), run.stderr[-3000:]
    print(run.stdout)
    data = json.loads(report.read_text())
    return {row["scenario"]: row for row in data["scenarios"]}, data, run


@pytest.mark.parametrize("name", cases(READINGS_FAIL_TODAY, {}))
def test_no_acknowledged_reading_lost(suite, name: str) -> None:
    row = suite[0][name]
    assert row["runs"] == 1 and row["acked"] > 100, row
    assert row["lost"] == 0, row["failures"]
    assert row["stored_conflicting"] == 0, row["failures"]


@pytest.mark.parametrize("name", cases(ALERTS_FAIL_TODAY, INTERMITTENT))
def test_no_alert_event_lost_or_duplicated(suite, name: str) -> None:
    row = suite[0][name]
    assert row["alerts_expected"] > 0, "no alerts in the run: the alert reconciliation checked nothing"
    assert row["alerts_lost"] == 0, row["failures"]
    assert row["duplicate_alerts"] == 0, row["failures"]
    assert row["alerts_unexpected"] == 0, row["failures"]


@pytest.mark.parametrize("name", cases(VERDICT_FAILS_TODAY, INTERMITTENT))
def test_scenario_passes(suite, name: str) -> None:
    """Its own checks too: dead letters, alert delay, revocation, flood latency, no process died."""
    row = suite[0][name]
    assert row["passed"], row["failures"]


def test_the_suite_prints_one_table_and_fails_when_a_scenario_fails(suite) -> None:
    rows, data, run = suite
    assert list(rows) == QUICK  # broker-kill-60s is for the full run only
    header, rule, *lines = run.stdout.splitlines()
    assert header.split()[:2] == ["scenario", "runs"] and set(rule) <= {"-", " "}
    assert [line.split()[0] for line in lines[: len(QUICK)]] == QUICK
    assert run.returncode == (0 if all(r["passed"] for r in rows.values()) else 1)
    assert data["mode"] == "quick" and data["machine"]["cores"]
