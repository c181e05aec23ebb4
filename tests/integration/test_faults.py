"""The fault and abuse suite, short version: `load-tests/faults.py --quick`
against real processes (its own Kafka, gateway and worker, killed and
flooded on purpose), each scenario reconciled by device and reading and by
alert_id (docs/reliability.md#fault-suite)."""

from __future__ import annotations

import contextlib
import subprocess
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import BACKGROUND
from tests.fault_suite import FaultSuite

pytestmark = pytest.mark.integration

QUICK = [
    "worker-kill",
    "gateway-kill",
    "broker-kill-10s",
    "worker-join-leave",
    "poison",
    "hello-flood",
    "invalid-flood",
    "rejected-flood",
    "handshake-flood",
    "future-timestamp",
    "seq-reset",
    "state-bloat",
    "registry-error",
]
# scale-kill (one gateway and one worker SIGKILLed at once, issue 15's
# kill-one-of-each test) is back since the worker reads again the records
# Faust skips around a rebalance: it had failed 2 of 10 runs before that fix,
# and passed 6 of 6 full runs and 3 of 3 quick ones (under load) after it
# (docs/reliability.md).
CLUSTER = ["scale-kill", "cluster-broker-kill", "cluster-two-down"]


@pytest.fixture(scope="module")
def suite() -> Iterator[tuple[dict[str, dict], dict, Any]]:
    for started in BACKGROUND.values():  # the cluster suite, if it runs: ended first (tests/conftest.py)
        with contextlib.suppress(subprocess.TimeoutExpired):
            started.wait()
    quick = FaultSuite()
    try:
        yield quick.result()
    finally:
        quick.close()


@pytest.fixture(scope="module")
def cluster_suite(cluster_fault_suite: FaultSuite) -> tuple[dict[str, dict], dict, Any]:
    """Three brokers, two gateways on one port, three workers, no shared disk (issue 15)."""
    return cluster_fault_suite.result()


@pytest.mark.parametrize("name", QUICK)
def test_no_acknowledged_reading_lost(suite, name: str) -> None:
    row = suite[0][name]
    _report_stalls(row)
    assert row["runs"] == 1 and row["acked"] > 100, row
    assert row["lost"] == 0, _why(row)
    assert row["stored_conflicting"] == 0, _why(row)


# worker-join-leave (a second worker joins the group mid-stream, then leaves)
# is checked here since the worker reads again the records Faust skips around
# a rebalance (it failed about one run in three before: alert events
# differing from the replay, or a group stalled; docs/reliability.md).
ALERTS_CHECKED = QUICK


def _which_alerts(row: dict) -> list:
    """The failures, and which alert events differed from the replay (device,
    kind, status, severity, event time, alert id), for whoever looks into it."""
    notes = [r.get("notes", {}) for r in row.get("runs_detail", [])]
    keys = ("lost_alerts", "unexpected_alerts", "duplicate_alerts")
    return [row["failures"], *[{k: n[k] for k in keys if k in n} for n in notes]]


def _why(row: dict) -> list:
    """The failures, and for each run that failed what it noted (when each stage
    ended, the simulator's counts, the last of each worker's log), for whoever
    looks into it: the suite's temp dir, logs and all, is gone by then."""
    failed = [r.get("notes", {}) for r in row.get("runs_detail", []) if not r.get("passed", True)]
    return [row["failures"], *failed]


def _report_stalls(row: dict) -> None:
    """A worker its watchdog stopped and the suite started again passes (the
    designed recovery) but is reported in pytest's warnings summary, with its
    "worker stalled" lines and where its tasks waited: how CI tells the team
    where a wedged worker was stuck (docs/reliability.md)."""
    for run in row.get("runs_detail", []):
        notes = run.get("notes", {})
        if notes.get("stall_restarts"):
            warnings.warn(
                f"a worker stalled and was started again: {notes['stall_restarts']}; "
                f"its lines: {notes.get('stalled_worker_logs')}",
                stacklevel=2,
            )


@pytest.mark.parametrize("name", ALERTS_CHECKED)
def test_no_alert_event_lost_or_duplicated(suite, name: str) -> None:
    row = suite[0][name]
    assert row["alerts_expected"] > 0, "no alerts in the run: the alert reconciliation checked nothing"
    assert row["alerts_lost"] == 0, _which_alerts(row)
    assert row["duplicate_alerts"] == 0, _which_alerts(row)
    assert row["alerts_unexpected"] == 0, _which_alerts(row)


@pytest.mark.parametrize("name", ALERTS_CHECKED)
def test_scenario_passes(suite, name: str) -> None:
    """Its own checks too: dead letters, alert delay, revocation, flood latency, no process died."""
    row = suite[0][name]
    assert row["passed"], _why(row)


def test_the_suite_prints_one_table_and_fails_when_a_scenario_fails(suite) -> None:
    rows, data, run = suite
    assert list(rows) == QUICK  # broker-kill-60s is for the full run only
    header, rule, *lines = run.stdout.splitlines()
    assert header.split()[:2] == ["scenario", "runs"] and set(rule) <= {"-", " "}
    assert [line.split()[0] for line in lines[: len(QUICK)]] == QUICK
    assert run.returncode == (0 if all(r["passed"] for r in rows.values()) else 1)
    assert data["mode"] == "quick" and data["machine"]["cores"]


@pytest.mark.parametrize("name", CLUSTER)
def test_beyond_one_machine_nothing_acknowledged_is_lost_and_no_alert_event_differs(
    cluster_suite, name: str
) -> None:
    row = cluster_suite[0][name]
    assert row["runs"] == 1 and row["acked"] > 100, row
    assert row["lost"] == 0 and row["stored_conflicting"] == 0, row["failures"]
    assert row["alerts_expected"] > 0, "no alerts in the run: the alert reconciliation checked nothing"
    assert row["alerts_lost"] == 0 and row["duplicate_alerts"] == 0, _which_alerts(row)
    assert row["alerts_unexpected"] == 0, _which_alerts(row)
    assert row["passed"], row["failures"]  # its own checks: `unavailable` with two brokers down


def test_the_cluster_suite_ran_on_the_cluster(cluster_suite) -> None:
    rows, data, run = cluster_suite
    for row in rows.values():
        _report_stalls(row)
    assert list(rows) == CLUSTER and data["stack"] == "cluster"
    assert run.returncode == (0 if all(r["passed"] for r in rows.values()) else 1)


def test_a_stall_restart_is_reported_not_failed() -> None:
    quiet = {"runs_detail": [{"notes": {}}]}
    notes = {"stall_restarts": ["worker-1"], "stalled_worker_logs": {"worker-1": ["x"]}}
    stalled = {"runs_detail": [{"notes": notes}]}
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        _report_stalls(quiet)
        assert seen == []
        _report_stalls(stalled)
    assert len(seen) == 1 and "worker-1" in str(seen[0].message) and "'x'" in str(seen[0].message)
