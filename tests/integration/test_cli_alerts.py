"""`vigil alerts` on a live Kafka: it says it is waiting, and Ctrl-C ends it quietly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def test_alerts_before_the_topic_exists_says_so_and_stops_on_ctrl_c(kafka, tmp_path) -> None:
    """A cluster where nothing created Vigil's topics yet (the session's fresh
    broker, when this runs before any test that starts a gateway)."""
    env = dict(os.environ, VIGIL_HOME=str(tmp_path), VIGIL_KAFKA_BOOTSTRAP=kafka.bootstrap)
    with_topics = subprocess.run(
        [
            sys.executable,
            "-c",
            "import asyncio, sys; from app.infra.preflight import topic_exists; "
            "from app.infra.settings import Settings; "
            "sys.exit(0 if asyncio.run(topic_exists(Settings.from_env(), 'vigil.alerts')) else 1)",
        ],
        cwd=ROOT,
        env=env,
    )
    if with_topics.returncode == 0:
        pytest.skip("another test created the topics on the shared broker already")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "alerts"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline()
        assert line.startswith("vigil alerts: waiting for the topic vigil.alerts to be created"), line
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(30)
    assert code == 0 and proc.stderr.read() == ""
    # `vigil export` too: one line, not a wait for partitions that never come.
    export = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "export",
            "--patient",
            "P-1",
            "--from",
            "2026-01-01T00:00:00Z",
            "--to",
            "2026-01-02T00:00:00Z",
            "--out",
            str(tmp_path / "x"),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert export.returncode == 1 and "the topic vigil.readings does not exist" in export.stderr
    assert len(export.stderr.strip().splitlines()) == 1


def test_alerts_says_it_is_waiting_and_stops_on_ctrl_c(vigil, services) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "alerts"],
        env=vigil.env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline()  # blocks until the first line
        assert line.startswith("vigil alerts: waiting for alert events on vigil.alerts"), line
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(30)
    assert code == 0
    assert proc.stderr.read() == "" and proc.stdout.read() == ""
