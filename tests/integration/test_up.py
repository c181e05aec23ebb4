"""`vigil up --simulate`: the main job, on its own local Kafka, as a newcomer runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from app.kafka_local import free_port
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def test_up_with_simulated_devices_prints_alerts_and_stops_cleanly(tmp_path) -> None:
    env = dict(
        os.environ,
        VIGIL_HOME=str(tmp_path),
        VIGIL_LOCAL_KAFKA_PORT=str(free_port()),
        VIGIL_LOCAL_KAFKA_CONTROLLER_PORT=str(free_port()),
        VIGIL_GATEWAY_PORT=str(free_port()),
        VIGIL_GATEWAY_HTTP_PORT=str(free_port()),
        VIGIL_WORKER_WEB_PORT=str(free_port()),
    )
    env.pop("VIGIL_KAFKA_BOOTSTRAP", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "up", "--simulate", "8", "--speed", "240"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and not any(" OPEN " in line for line in lines):
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.5)
        opened = [line for line in lines if " OPEN " in line]
        assert opened, "no alert printed"
        # Simulated patients 4 and 8 deteriorate; the others stay well.
        assert {line.split()[4] for line in opened} <= {"SIM-0004", "SIM-0008"}
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    err = proc.stderr.read()
    assert code == 0, err
    assert "Kafka ready" in err and "gateway ready" in err and "worker ready" in err
    assert err.rstrip().endswith("vigil: stopped")
    # A newcomer's terminal shows Vigil's own lines only, not the libraries' chatter.
    assert [line for line in err.splitlines() if not line.startswith("vigil: ")] == []
    # Nothing is left running: Kafka's data dir is no longer locked by a JVM.
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(tmp_path) not in ps
