"""The local broker itself: start, restart on the same data, odd cluster ids."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.infra import kafka_local
from app.infra.kafka_local import LocalKafka, free_port

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
    broker = LocalKafka(tmp_path, port=free_port(), controller_port=free_port())
    with broker:
        assert asyncio.run(produce_and_read(broker.bootstrap, create=True)) == [b"kept"]
    assert (tmp_path / "logs" / "meta.properties").read_text().count("cluster.id=-AbCdEfGhIjKlMnOpQrStU") == 1
    with broker:
        assert asyncio.run(produce_and_read(broker.bootstrap, create=False)) == [b"kept"]
