"""The benchmark's Quix Streams peer (load-tests/quix_worker.py) still runs on
a real broker: it consumes every reading of every record, keeps a state per
patient, and that state reaches its changelog topic (durable, as the
benchmark claims). A few hundred readings, a few seconds: so the peer does
not rot between benchmark runs."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.core.protocol import Reading
from app.core.records import encode_readings
from app.infra.kafka_local import LocalKafka
from tests.conftest import new_topic_with, reported_ports, stop

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "load-tests"))

import bench_worker  # noqa: E402

PATIENTS, RECORDS_EACH, PER_RECORD = 10, 20, 2  # 200 records, 400 readings


def records() -> list[tuple[bytes, bytes]]:
    out = []
    for k in range(RECORDS_EACH):
        for p in range(PATIENTS):
            subject = f"p-{p:032x}"
            part = [
                Reading(
                    k * PER_RECORD + j,
                    1_780_000_000_000 + (k * PER_RECORD + j) * 60_000,
                    {"heart_rate": 70 + p + j, "spo2": 97, "temperature": 36.8, "consciousness": "A"},
                )
                for j in range(PER_RECORD)
            ]
            out.append((subject.encode(), encode_readings(f"dev-{p}", subject, 1_780_000_000_000, part)))
    return out


async def fill(bootstrap: str, topic: str) -> None:
    await new_topic_with(bootstrap, topic, 2, ((key, value, None) for key, value in records()))


async def count_records(bootstrap: str, topic: str) -> int:
    try:
        begin, end = await bench_worker.offsets(bootstrap, topic)
    except RuntimeError:  # not created yet
        return 0
    return sum(end[tp] - begin[tp] for tp in end)


def bench_stats(port: int) -> dict | None:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/bench", timeout=2) as answer:
            return json.loads(answer.read())
    except OSError:
        return None


def test_quix_peer_processes_every_reading_with_its_state_in_the_changelog(
    kafka: LocalKafka, tmp_path: Path
) -> None:
    run = secrets.token_hex(3)
    topic, group = f"bench.smoke.{run}", f"bench-smoke-quix-{run}"
    asyncio.run(fill(kafka.bootstrap, topic))
    env = {
        **os.environ,
        "BENCH_BOOTSTRAP": kafka.bootstrap,
        "BENCH_APP_ID": group,
        "BENCH_TOPIC": topic,
        "BENCH_WEB_PORT": "0",  # it reports the port it bound
        "BENCH_PORTS_FILE": str(tmp_path / "quix.ports.json"),
        "BENCH_DATADIR": str(tmp_path / "state"),
        "BENCH_COMMIT_S": "0.5",
    }
    log = open(tmp_path / "quix.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "load-tests" / "quix_worker.py")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    changelog = f"changelog__{group}--{topic}--default"
    try:
        port = reported_ports(tmp_path / "quix.ports.json", proc, tmp_path / "quix.log")["web"]
        deadline, stats, written = time.monotonic() + 90, None, 0
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "quix.log").read_text()[-3000:]
            stats = bench_stats(port)
            if stats and stats["readings"] >= PATIENTS * RECORDS_EACH * PER_RECORD:
                written = asyncio.run(count_records(kafka.bootstrap, changelog))
                if written >= PATIENTS * 3:  # a checkpoint has written every patient's vitals
                    break
            time.sleep(0.2)
    finally:
        stop(proc)
        log.close()
    assert stats is not None, (tmp_path / "quix.log").read_text()[-3000:]
    assert stats["records"] == PATIENTS * RECORDS_EACH
    assert stats["readings"] == PATIENTS * RECORDS_EACH * PER_RECORD
    assert stats["patients"] == PATIENTS
    # Three numeric vitals per patient, each its own state key: at least one
    # changelog record each once a checkpoint has been committed.
    assert written >= PATIENTS * 3, f"{written} changelog records"
