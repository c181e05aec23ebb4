"""Vigil's topics: create them when missing (idempotent), and read one from
its start to its current end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
)

from app.core.errors import TopicError
from app.infra.kafka_security import aiokafka_options
from app.infra.settings import (
    ALERTS_TOPIC,
    DEAD_LETTER_TOPIC,
    DEVICE_SEQS_TOPIC,
    DEVICES_TOPIC,
    PATIENTS_TOPIC,
    READINGS_TOPIC,
    REJECTED_TOPIC,
    Settings,
)

ALL_TOPICS = (
    READINGS_TOPIC,
    REJECTED_TOPIC,
    ALERTS_TOPIC,
    DEVICE_SEQS_TOPIC,
    DEAD_LETTER_TOPIC,
    DEVICES_TOPIC,
    PATIENTS_TOPIC,
)
_COMPACTED = {"cleanup.policy": "compact"}
_REFUSED = {TopicAuthorizationFailedError.errno, ClusterAuthorizationFailedError.errno}


async def ensure_topics(settings: Settings, needs: Collection[str] = ALL_TOPICS) -> None:
    """Create the topics missing; a refusal is an error for a topic in `needs`.
    On a secured cluster an operator creates the topics, and a principal
    without Describe on one neither sees it nor may create it: a topic the
    process does not use is then left alone (docs/operations.md#kafka-security)."""
    admin = AIOKafkaAdminClient(**aiokafka_options(settings))
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        configs = {DEVICE_SEQS_TOPIC: _COMPACTED, DEVICES_TOPIC: _COMPACTED, PATIENTS_TOPIC: _COMPACTED}
        wanted = [
            NewTopic(
                name, settings.partitions, settings.replication_factor, topic_configs=configs.get(name, {})
            )
            for name in ALL_TOPICS
            if name not in existing
        ]
        if wanted:
            response = await admin.create_topics(wanted)
            for name, code, *_ in response.topic_errors:
                # Another process may have created it first; that is fine.
                if code == TopicAlreadyExistsError.errno or (code in _REFUSED and name not in needs):
                    continue
                if code:
                    raise TopicError(f"creating topic {name} failed with Kafka error {code}")
    finally:
        await admin.close()


def from_start(settings: Settings, topic: str) -> AIOKafkaConsumer:
    """A consumer of every partition of `topic`, from the oldest record, outside any group."""
    return AIOKafkaConsumer(
        topic,
        **aiokafka_options(settings),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )


async def assignment(consumer: AIOKafkaConsumer, topic: str) -> list[Any]:
    """Wait until a started `from_start` consumer holds every partition of
    `topic`, and return them."""
    while not consumer.assignment() or len(consumer.assignment()) < len(
        consumer.partitions_for_topic(topic) or ()
    ):
        await asyncio.sleep(0.05)  # not getmany(): records fetched here would be lost
    return sorted(consumer.assignment())


async def read_to_end(
    consumer: AIOKafkaConsumer,
    topic: str,
    on_batch: Callable[[list[Any]], None],
    ends: dict[Any, int] | None = None,
) -> None:
    """Hand every record up to the end offsets of now (or `ends`, per
    partition) to `on_batch`; the started consumer stays where it stopped, so
    it can go on following."""
    if ends is None:
        ends = await consumer.end_offsets(await assignment(consumer, topic))
    while True:
        behind = [tp for tp, end in ends.items() if await consumer.position(tp) < end]
        if not behind:
            return
        batches = await consumer.getmany(*behind, timeout_ms=1000)
        on_batch([r for tp, records in batches.items() for r in records if r.offset < ends[tp]])
