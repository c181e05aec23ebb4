"""A `vigil.readings` made with another partition count than the worker's
`VIGIL_PARTITIONS` (whose table changelog has one partition per partition of
the topic) is one line and exit 2 at start, not a crash at the first record
of a partition the changelog lacks ("Unrecognized partition", seen in CI)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.infra.kafka_local import LocalKafka
from tests.conftest import ROOT

pytestmark = pytest.mark.integration


async def _make_readings(bootstrap: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic("vigil.readings", partitions, 1)])
    finally:
        await admin.close()


def test_a_readings_topic_with_other_partitions_is_one_line(tmp_path: Path) -> None:
    with LocalKafka(tmp_path / "kafka", partitions=4) as broker:
        asyncio.run(_make_readings(broker.bootstrap, 8))
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")} | {
            "VIGIL_HOME": str(tmp_path / "home"),
            "VIGIL_KAFKA_BOOTSTRAP": broker.bootstrap,
            "VIGIL_WORKER_WEB_PORT": "0",
        }
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", "worker"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "vigil worker: VIGIL_PARTITIONS is 4 but vigil.readings has 8 partitions: set VIGIL_PARTITIONS=8 "
        "(the worker's table needs one partition per partition of the topic)"
    ), done.stderr
    assert "Traceback" not in done.stderr
