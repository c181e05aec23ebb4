"""The local broker itself: start, restart on the same data, odd cluster ids."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.infra import kafka_local
from app.infra.kafka_local import LocalKafka

pytestmark = pytest.mark.integration


async def produce_and_read(bootstrap: str, create: bool) -> list[bytes]:
    if create:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic("t", 1, 1)])
        await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        await producer.send_and_wait("t", b"kept")
        await producer.stop()
    consumer = AIOKafkaConsumer("t", bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=5000)
        return [r.value for records in batches.values() for r in records]
    finally:
        await consumer.stop()


def test_data_survives_a_restart_and_a_dash_leading_cluster_id_works(tmp_path, monkeypatch) -> None:
    # Base64 ids may start with "-"; the formatter must not read it as an option.
    monkeypatch.setattr(kafka_local, "new_cluster_id", lambda: "-AbCdEfGhIjKlMnOpQrStU")
    broker = LocalKafka(tmp_path)  # ports chosen, and kept across the restart
    with broker:
        assert asyncio.run(produce_and_read(broker.bootstrap, create=True)) == [b"kept"]
    assert (tmp_path / "logs" / "meta.properties").read_text().count("cluster.id=-AbCdEfGhIjKlMnOpQrStU") == 1
    with broker:
        assert asyncio.run(produce_and_read(broker.bootstrap, create=False)) == [b"kept"]


def test_a_broker_whose_chosen_port_is_taken_starts_on_new_ones(tmp_path, monkeypatch) -> None:
    """Another process binds the chosen client port before the JVM does: the
    broker fails to bind it, and start() chooses again instead of failing."""
    with socket.socket() as taken:  # bound, not listening: only the JVM's own bind notices
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        chooser = kafka_local._choose_port
        first = iter([port])
        monkeypatch.setattr(kafka_local, "_choose_port", lambda: next(first, None) or chooser())
        attempts: list[int] = []
        start_once = LocalKafka._start_once

        def attempt(self, libs, timeout) -> None:
            attempts.append(self.port)
            start_once(self, libs, timeout)

        monkeypatch.setattr(LocalKafka, "_start_once", attempt)
        with LocalKafka(tmp_path) as broker:
            assert attempts == [port, broker.port] and broker.port != port
            assert asyncio.run(produce_and_read(broker.bootstrap, create=True)) == [b"kept"]


def test_vigil_kafka_says_where_it_runs_and_when_it_has_stopped(tmp_path) -> None:
    """`vigil kafka` said nothing when stopped (an SRE's finding): after a
    SIGTERM it says it is stopping and how long it took, exit code 0."""
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")} | {
        "VIGIL_HOME": str(tmp_path),
        "VIGIL_LOCAL_KAFKA_PORT": "0",
        "VIGIL_LOCAL_KAFKA_CONTROLLER_PORT": "0",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "kafka"], env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True
    )
    try:
        first = proc.stderr.readline() if proc.stderr else ""
        while first and "Kafka running on" not in first:
            first = proc.stderr.readline() if proc.stderr else ""
        assert "Ctrl-C to stop" in first
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    rest = (proc.stderr.read() if proc.stderr else "").strip().splitlines()
    assert rest[0] == "vigil kafka: stopping ..." and rest[-1].startswith("vigil kafka: stopped in "), rest


def test_vigil_kafka_stopped_while_starting_leaves_no_broker(tmp_path) -> None:
    """A SIGTERM while the broker starts (the JVM launched, not yet serving)
    stops `vigil kafka` with exit code 0 and takes the broker with it; the
    signal was once the default one until the "running" line, and a later
    race let a SIGTERM just after that line kill `vigil kafka` (CI)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT
    from tests.integration.test_up import alive, processes, wait_gone

    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")} | {
        "VIGIL_HOME": str(tmp_path),
        "VIGIL_LOCAL_KAFKA_PORT": "0",
        "VIGIL_LOCAL_KAFKA_CONTROLLER_PORT": "0",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "kafka"], env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        broker: list[int] = []
        while not broker and time.monotonic() < deadline and proc.poll() is None:
            children = [pid for pid, ppid in processes() if ppid == proc.pid]
            broker = [pid for pid in children if "kafka.Kafka " in _cmdline(pid)]
            time.sleep(0.02)
        assert broker, "no broker process started"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        wait_gone(broker)
    finally:
        if proc.poll() is None:
            proc.kill()
    printed = (proc.stderr.read() if proc.stderr else "").strip().splitlines()
    assert "vigil kafka: stopping ..." in printed, printed
    assert printed[-1].startswith("vigil kafka: stopped in "), printed
    assert not alive(broker)


def _cmdline(pid: int) -> str:
    from pathlib import Path

    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
