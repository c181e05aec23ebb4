"""Kafka stopped and restarted under a streaming device: the device is told to
try later, the gateway recovers on its own, and no acknowledged reading is
missing from `vigil.readings` (read with a plain Kafka consumer)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from app.infra.kafka_local import LocalKafka
from app.tools.simulate import DeviceClient
from tests.conftest import read_topic, ready, stop, wait_ready

pytestmark = pytest.mark.integration


async def test_no_acknowledged_reading_is_lost_when_kafka_restarts(vigil, tmp_path) -> None:
    broker = LocalKafka(tmp_path / "kafka")  # on ports it chooses
    broker.start(quiet=True)
    vigil.env.update(VIGIL_KAFKA_BOOTSTRAP=broker.bootstrap, VIGIL_ACK_TIMEOUT_S="3")
    gateway = vigil.spawn("gateway", log_name="gateway")
    try:
        wait_ready(vigil.http_url + "/readyz", gateway)
        token = json.loads(vigil.run("devices", "add", "bedside-1", "--patient", "P-1").stdout)["token"]
        client = DeviceClient(vigil.ws_url, token, track_acks=True)
        stop_event = asyncio.Event()
        connection = asyncio.ensure_future(client.run(stop_event))

        async def stream(seconds: float) -> None:
            until = time.monotonic() + seconds
            while time.monotonic() < until:
                await client.send(int(time.time() * 1000), {"heart_rate": 70, "spo2": 98})
                await asyncio.sleep(0.02)

        await stream(3)
        acked_before = len(client.acked_seqs)
        assert acked_before > 50

        await asyncio.to_thread(broker.stop)
        await stream(4)  # Kafka is down: nothing new is acknowledged
        assert not ready(vigil.http_url + "/readyz")
        # `vigil status` says what is wrong: Kafka, and the gateway because of it.
        outage = vigil.run("status", "--json", check=False)
        assert outage.returncode == 3, outage.stdout + outage.stderr
        status = json.loads(outage.stdout)
        assert status["kafka"]["state"] == "down"
        assert status["gateway"]["state"] == "not ready" and "Kafka" in status["gateway"]["detail"]
        await asyncio.to_thread(broker.start, 90.0, True)
        await stream(3)

        deadline = time.monotonic() + 60
        while client.unacked and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        stop_event.set()
        await connection

        assert client.unacked == {}, f"{len(client.unacked)} readings never acknowledged"
        assert client.acked_seqs == set(range(client.next_seq))
        assert client.stats.errors.get("unavailable", 0) > 0 or client.stats.reconnects > 0
        assert ready(vigil.http_url + "/readyz")

        stored: list[int] = []

        def collect(record, value) -> bool:
            stored.extend(r["seq"] for r in value["readings"])
            return set(stored) >= client.acked_seqs

        await read_topic(broker.bootstrap, "vigil.readings", collect, timeout=30)
        assert set(stored) >= client.acked_seqs  # nothing acknowledged is missing
        duplicates = len(stored) - len(set(stored))
        print(f"readings {client.next_seq}, stored records {len(stored)}, duplicates {duplicates}")
    finally:
        stop(gateway)
        broker.stop()
