"""Create Vigil's topics when they are missing (idempotent)."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from app.settings import ALERTS_TOPIC, DEVICE_SEQS_TOPIC, READINGS_TOPIC, REJECTED_TOPIC, Settings


async def ensure_topics(settings: Settings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        configs = {DEVICE_SEQS_TOPIC: {"cleanup.policy": "compact"}}
        wanted = [
            NewTopic(name, settings.partitions, settings.replication_factor, topic_configs=configs.get(name, {}))
            for name in (READINGS_TOPIC, REJECTED_TOPIC, ALERTS_TOPIC, DEVICE_SEQS_TOPIC)
            if name not in existing
        ]
        if wanted:
            response = await admin.create_topics(wanted)
            for name, code, *_ in response.topic_errors:
                # Another process may have created it first; that is fine.
                if code and code != TopicAlreadyExistsError.errno:
                    raise RuntimeError(f"creating topic {name} failed with Kafka error {code}")
    finally:
        await admin.close()
