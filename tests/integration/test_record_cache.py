"""The worker's record cache (issue 14) on the real worker and Kafka: a
patient whose device sends one reading per frame gets one changelog record
per flush, not one per reading, and the state in the changelog is whole."""

from __future__ import annotations

import json
import time

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from websockets.asyncio.client import connect

from app.cli.up import metric, scrape
from app.core.records import pseudonym
from tests.conftest import read_topic

pytestmark = pytest.mark.integration

NORMAL = {"heart_rate": 72, "spo2": 97, "respiratory_rate": 15, "systolic_bp": 122, "temperature": 36.8}
FRAMES = 60


async def changelog_records(bootstrap: str, topic: str, key: bytes) -> list[bytes]:
    """Every record of `topic` with this key, read to the end."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()]
        consumer.unsubscribe()
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        found: list[bytes] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batches = await consumer.getmany(timeout_ms=500)
            found += [r.value for records in batches.values() for r in records if r.key == key]
        return found
    finally:
        await consumer.stop()


async def test_one_changelog_record_per_flush_not_per_reading(vigil, kafka, services) -> None:
    token = json.loads(vigil.run("devices", "add", "cache-1", "--patient", "CACHE-PATIENT").stdout)["token"]
    start = int(time.time() * 1000) - FRAMES * 1000
    async with connect(vigil.ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        for seq in range(FRAMES):  # a bedside monitor: one reading per frame, as taken
            reading = {"type": "reading", "seq": seq, "ts": start + seq * 1000, "vitals": NORMAL}
            await ws.send(json.dumps(reading))
            reply = json.loads(await ws.recv())
            assert reply == {"type": "ack", "seq": seq}, reply

    key = pseudonym(bytes.fromhex((vigil.home / "pseudonym.key").read_text()), "CACHE-PATIENT").encode()
    changelog = f"{vigil.env['VIGIL_WORKER_ID']}-patients-changelog"
    # The whole state reaches the changelog: every reading counted.
    whole = await read_topic(kafka.bootstrap, changelog, lambda r, v: r.key == key and v["n"] >= FRAMES)
    assert whole, vigil.log("worker")[-3000:]
    records = await changelog_records(kafka.bootstrap, changelog, key)
    # One record per flush (VIGIL_WORKER_FLUSH_INTERVAL_S, 0.5 s) while the
    # frames arrived, not one per reading as before the cache.
    assert 1 <= len(records) <= FRAMES // 3, len(records)
    # The SRE's counters count those writes (the worker sends them itself).
    samples = await scrape(vigil.worker_url + "/metrics")
    assert (metric(samples, "vigil_worker_changelog_writes_total") or 0) >= len(records)
    assert (metric(samples, "vigil_worker_changelog_bytes_total") or 0) >= sum(len(r) for r in records)
