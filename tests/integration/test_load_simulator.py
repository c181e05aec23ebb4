"""`vigil simulate --report`: the device-fleet load test against a running
gateway and worker, with network hiccups, reconciled by device and seq."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration

LATENCIES = ("p50", "p95", "p99", "p999")


def load_test(vigil, report) -> dict:
    run = vigil.run(
        "simulate",
        "--devices",
        "12",
        "--rate",
        "4",
        "--batch",
        "2",
        "--duration",
        "12",
        "--steps",
        "2",
        "--hiccups",
        "0.05",
        "--deteriorate",
        "0.5",
        "--drain",
        "15",
        "--report",
        str(report),
    )
    assert "acked" in run.stderr  # progress lines and the summary go to the terminal
    return json.loads(report.read_text())


# Its patients deteriorate over 10 s of a 12 s run, read 4 times a second: read
# that often, a finding holds for the confirmation delay (15 s by default), so
# here findings open at once (as in the benchmarks: FLEET_CONFIRM_S,
# load-tests/benchlib.py).
@pytest.mark.vigil_env(VIGIL_CONFIRM_S="0")
def test_load_test_reports_throughput_latency_and_no_loss(vigil, services, tmp_path) -> None:
    first = load_test(vigil, tmp_path / "first.json")
    assert first["sent"] > 250 and first["acked"] == first["sent"] and first["refused"] == 0
    assert first["lost"] == 0, first["lost_detail"]
    assert first["reconnects"] > 0  # the hiccups cut connections; resends made up for them
    assert first["stored_twice"] == 0  # resends of stored readings are acked, not stored again
    assert 0 < first["throughput_rps"] <= first["offered_rps"] * 1.1
    for name in ("ack_latency_s", "alert_latency_s"):
        p = first[name]
        assert p["count"] > 0 and all(0 <= p[k] for k in LATENCIES), name
        assert p["p50"] <= p["p95"] <= p["p99"] <= p["p999"], name
    assert first["injected_events"] > 0 and first["detected_events"] == first["injected_events"]
    assert [s["offered_rps"] for s in first["stages"]] == [24.0, 48.0]
    assert (tmp_path / "first.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Run again with the same devices: their seqs carry on after what the
    # gateway stored, so nothing new is mistaken for a resend and dropped.
    second = load_test(vigil, tmp_path / "second.json")
    assert second["acked"] == second["sent"] and second["lost"] == 0, second["lost_detail"]


def _started_load_test(vigil, report) -> subprocess.Popen[str]:
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "simulate", "--devices", "6", "--rate", "4", "--duration", "300",
         "--drain", "5", "--report", str(report)],
        env=vigil.env, cwd=ROOT, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    for line in proc.stderr or ():
        if "acked" in line or time.monotonic() > deadline:
            break  # sending: progress lines come once a second
    return proc


def test_ctrl_c_stops_a_load_test_with_a_report_and_twice_at_once(vigil, services, tmp_path) -> None:
    """An SRE's load test printed "(draining)" for 25 s through two Ctrl-Cs
    and a SIGTERM, its devices blocked in sends a flooded gateway did not
    ack: it needed SIGKILL. The first signal stops sending and drains (the
    drain bounds every wait), the second ends it at once with 130."""
    import signal
    import time

    once = _started_load_test(vigil, tmp_path / "once.json")
    once.send_signal(signal.SIGINT)
    assert once.wait(60) == 0
    assert "again to stop at once" in (once.stderr.read() if once.stderr else "")
    assert json.loads((tmp_path / "once.json").read_text())["sent"] > 0

    twice = _started_load_test(vigil, tmp_path / "twice.json")
    twice.send_signal(signal.SIGINT)
    time.sleep(0.5)
    started = time.monotonic()
    twice.send_signal(signal.SIGINT)
    assert twice.wait(30) == 130 and time.monotonic() - started < 10
    assert not (tmp_path / "twice.json").exists()
