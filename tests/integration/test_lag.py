"""`vigil lag`: the workers' backlog on `vigil.readings`, read from Kafka
itself. An SRE killed the worker and flooded the gateway: 3,676 records
waited, and the only lag Vigil reported (the worker's own gauge) was gone
with the worker; they had to write an aiokafka script to see it."""

from __future__ import annotations

import json
import time

import pytest

pytestmark = pytest.mark.integration


def lag(vigil, **env: str) -> dict:
    done = vigil.run("lag", "--json", env_extra=env)
    return json.loads(done.stdout)


def test_lag_is_read_from_kafka_with_or_without_a_worker(vigil, services) -> None:
    vigil.run("simulate", "--devices", "3", "--duration", "4", "--speed", "240")
    # A group no worker runs as (a worker that is down): everything written waits.
    idle = lag(vigil, VIGIL_WORKER_ID="vigil-worker-not-running")
    assert idle["topic"] == "vigil.readings" and idle["group"] == "vigil-worker-not-running"
    assert idle["lag"] == sum(p["end"] for p in idle["partitions"]) > 0
    assert all(p["committed"] is None for p in idle["partitions"])
    # The running worker's group catches up: its committed offsets reach the ends.
    deadline = time.monotonic() + 60
    running = lag(vigil)
    while running["lag"] > 0 and time.monotonic() < deadline:
        time.sleep(1)
        running = lag(vigil)
    written = [p for p in running["partitions"] if p["end"] > 0]
    assert running["lag"] == 0 and written and all(p["committed"] == p["end"] for p in written), running
    text = vigil.run("lag").stdout
    assert "partition" in text.splitlines()[0] and "0 records not yet committed" in text
