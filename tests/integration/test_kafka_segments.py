"""load-tests/kafka_segments.py against segments a real broker wrote."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from app.core.state import PatientState, encode
from app.infra.kafka_local import LocalKafka
from tests.conftest import new_topic_with

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "load-tests"))

import kafka_segments  # noqa: E402


def test_the_records_a_broker_wrote_are_read_back_from_its_segments(kafka: LocalKafka) -> None:
    state = PatientState()
    state.count, state.last_ts = 7, 1_780_000_000_000
    records = [
        (b"p-1", b'{"v": 1, "device_id": "dev-1"}', 0),
        (b"p-2", encode(state), 1),  # binary: what DumpLogSegments mangles
        (b"p-1", b'{"v": 1, "device_id": "dev-1", "n": 2}', 0),
        (b"p-3", None, 1),  # a tombstone
    ]
    asyncio.run(new_topic_with(kafka.bootstrap, "segments-test", 2, records))
    skipped = kafka_segments.Skipped()
    read = list(kafka_segments.topic_records(kafka.data_dir / "logs", "segments-test", None, skipped))
    assert [(r.partition, r.offset, r.key, r.value) for r in read] == [
        (0, 0, b"p-1", records[0][1]),
        (0, 1, b"p-1", records[2][1]),
        (1, 0, b"p-2", records[1][1]),
        (1, 1, b"p-3", None),
    ]
    assert skipped == kafka_segments.Skipped()

    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "load-tests" / "kafka_segments.py"),
            str(kafka.data_dir / "logs"),
            "segments-test",
            "--partition",
            "1",
            "--states",
        ],
        capture_output=True,
        check=True,
        text=True,
    ).stdout.splitlines()
    assert '"value":{"count":7,"last_ts":1780000000000,"alerts_open":0}' in out[0]
    assert out[1].endswith('"value":null}')
