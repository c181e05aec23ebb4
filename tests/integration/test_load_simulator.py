"""`vigil simulate --report`: the device-fleet load test against a running
gateway and worker, with network hiccups, reconciled by device and seq."""

from __future__ import annotations

import json

import pytest

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
