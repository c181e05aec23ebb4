"""The device registry and the patient directory on Kafka, for gateways and
workers that share no disk (`VIGIL_REGISTRY=kafka`).

`vigil devices …` writes both compacted topics (`vigil.patients` first, so a
worker knows a patient before any of its device's readings can reach it);
every gateway holds `vigil.devices` in memory (`KafkaRegistry`) and every
worker `vigil.patients` (`KafkaPatients`), each read to its end before the
process is ready and then followed, so a revocation reaches every gateway
within moments and closes open connections at the next credential re-check
(`VIGIL_CREDENTIAL_CHECK_S`). The record formats are in
`app/core/directory.py`; tokens are stored only as their SHA-256 hash, and
`vigil.devices` holds no patient identifier, only its pseudonym.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError

from app.core.directory import (
    Device,
    decode_device,
    decode_patient,
    encode_device,
    encode_patient,
    match_token,
    token_hash,
    token_index,
)
from app.core.errors import RegistryError, RegistryUnavailable
from app.core.records import pseudonym
from app.infra import preflight
from app.infra.kafka_security import aiokafka_options
from app.infra.pseudonyms import load_key
from app.infra.registry import TOKEN_PREFIX, Registry, validate_id
from app.infra.settings import DEVICES_TOPIC, PATIENTS_TOPIC, Settings
from app.infra.topics import ensure_topics, from_start, read_to_end

log = structlog.get_logger("vigil.directory")


class TopicMirror:
    """A compacted topic held in memory: read to its end by `start`, then
    kept current by `follow` (a task). `apply(key, value)` takes each record
    in offset order; the newest record of a key is what counts."""

    def __init__(self, settings: Settings, topic: str, apply: Callable[[bytes, bytes | None], None]) -> None:
        self.settings = settings
        self.topic = topic
        self._apply = apply
        self._consumer: AIOKafkaConsumer | None = None
        self.loaded = False  # read to the end once

    async def start(self) -> None:
        # `KafkaDenied` (one line naming the ACL to grant) if this principal may not see the topic.
        if not await preflight.topic_exists(self.settings, self.topic):
            await ensure_topics(self.settings, needs=(self.topic,))
        consumer = from_start(self.settings, self.topic)
        self._consumer = consumer
        await consumer.start()
        await read_to_end(consumer, self.topic, self._take)
        self.loaded = True

    def _take(self, records: list[Any]) -> None:
        for record in records:
            if record.key is not None:
                self._apply(record.key, record.value)

    async def follow(self) -> None:
        consumer = self._consumer
        if consumer is None:
            raise RuntimeError("start the mirror first")
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=1000)
            except KafkaError:
                await asyncio.sleep(1)  # the consumer reconnects by itself
                continue
            self._take([r for records in batches.values() for r in records])

    async def stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                await asyncio.wait_for(consumer.stop(), 10)
            except Exception:  # noqa: BLE001 - shutting down, or never started
                pass


class KafkaRegistry:
    """The gateway's view of `vigil.devices`: the same questions as
    `Registry` (the file) answers."""

    def __init__(self, settings: Settings) -> None:
        self._by_id: dict[str, Device] = {}
        self._by_index: dict[str, list[Device]] = {}  # token_index -> devices
        self.mirror = TopicMirror(settings, DEVICES_TOPIC, self._apply)

    def _apply(self, key: bytes, value: bytes | None) -> None:
        device_id = key.decode(errors="replace")
        old = self._by_id.pop(device_id, None)
        if old is not None:
            index = token_index(old.token_sha256)
            rest = [d for d in self._by_index.get(index, []) if d is not old]
            if rest:
                self._by_index[index] = rest
            else:
                self._by_index.pop(index, None)
        device = decode_device(value)
        if device is None or device.device_id != device_id:
            return  # a tombstone, or a record this version cannot read: the device is not registered
        self._by_id[device_id] = device
        self._by_index.setdefault(token_index(device.token_sha256), []).append(device)

    def refresh(self) -> None:
        if not self.mirror.loaded:
            raise RegistryUnavailable(f"device registry not read from {DEVICES_TOPIC} yet")

    def authenticate(self, token: str) -> Device | None:
        self.refresh()
        digest = token_hash(token)
        return match_token(self._by_index.get(token_index(digest), []), digest)

    def cached(self, device_id: str) -> Device | None:
        return self._by_id.get(device_id)

    def devices(self) -> list[Device]:
        return [self._by_id[d] for d in sorted(self._by_id)]


class KafkaPatients:
    """The worker's view of `vigil.patients`: pseudonym -> patient reference."""

    def __init__(self, settings: Settings) -> None:
        self._map: dict[str, str] = {}
        self.mirror = TopicMirror(settings, PATIENTS_TOPIC, self._apply)

    def _apply(self, key: bytes, value: bytes | None) -> None:
        subject = key.decode(errors="replace")
        patient = decode_patient(value)
        if patient is None:
            self._map.pop(subject, None)
        else:
            self._map[subject] = patient

    def patient(self, subject: str) -> str | None:
        return self._map.get(subject)


class KafkaDirectoryAdmin:
    """What `vigil devices …` does with `VIGIL_REGISTRY=kafka`: the same
    operations as `Registry`, written to both topics and awaited (acks=all).
    Two operators changing the same device at the same moment: the last
    record written wins."""

    def __init__(self, settings: Settings, key: bytes) -> None:
        self.settings = settings
        self.key = key
        self.registry = KafkaRegistry(settings)
        self.patients = KafkaPatients(settings)
        self._producer: AIOKafkaProducer | None = None

    async def __aenter__(self) -> KafkaDirectoryAdmin:
        try:
            await self.registry.mirror.start()  # each made, compacted, where missing
            await self.patients.mirror.start()
            self._producer = AIOKafkaProducer(**aiokafka_options(self.settings), acks="all")
            await self._producer.start()
        except BaseException:
            await self.__aexit__()  # no client left open behind a refusal
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._producer is not None:
            await self._producer.stop()
        await self.registry.mirror.stop()
        await self.patients.mirror.stop()

    async def _write(self, devices: list[Device], patients: dict[str, str]) -> None:
        producer = self._producer
        if producer is None:
            raise RuntimeError("enter the admin first")
        try:
            sent = [
                await producer.send(PATIENTS_TOPIC, encode_patient(p), key=s.encode())
                for s, p in patients.items()
            ]
            await asyncio.gather(*sent)  # a worker knows the patient before a reading can come
            sent = [
                await producer.send(DEVICES_TOPIC, encode_device(d), key=d.device_id.encode())
                for d in devices
            ]
            await asyncio.gather(*sent)
        except KafkaError as exc:
            raise RegistryError(
                f"could not write the device registry to Kafka ({type(exc).__name__}); run the command again"
            ) from None

    def _new(self, device_id: str, patient: str) -> tuple[Device, str]:
        validate_id("device", device_id)
        validate_id("patient", patient)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        subject = pseudonym(self.key, patient)
        return Device(device_id, patient, created, False, token_hash(token), subject), token

    async def add(self, device_id: str, patient: str) -> str:
        current = self.registry.cached(device_id)
        if current is not None and not current.revoked:
            raise RegistryError("that device is already registered; revoke it first")
        device, token = self._new(device_id, patient)
        await self._write([device], {device.subject: patient})
        return token

    async def reissue(self, devices: dict[str, str]) -> dict[str, str]:
        made = [self._new(d, p) for d, p in devices.items()]
        await self._write([d for d, _ in made], {d.subject: d.patient for d, _ in made})
        return {d.device_id: token for d, token in made}

    async def rotate(self, device_id: str) -> str:
        current = self.registry.cached(device_id)
        if current is None or current.revoked:
            raise RegistryError("no such active device")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        await self._write([replace(current, token_sha256=token_hash(token))], {})
        return token

    async def revoke(self, device_id: str) -> None:
        current = self.registry.cached(device_id)
        if current is None:
            raise RegistryError("no such device")
        await self._write([replace(current, revoked=True)], {})

    def devices(self) -> list[Device]:
        """Every device, with its patient where the directory has it."""
        return [replace(d, patient=self.patients.patient(d.subject) or "") for d in self.registry.devices()]


async def reissue(settings: Settings, devices: dict[str, str]) -> dict[str, str]:
    """Register each device (id -> patient) afresh wherever the registry is
    kept (`VIGIL_REGISTRY`); the new tokens by device id. For Vigil's own
    clients: simulated fleets, replays, load tests."""
    if settings.registry == "kafka":
        async with KafkaDirectoryAdmin(settings, load_key(settings)) as admin:
            return await admin.reissue(devices)
    return Registry(settings.registry_path).reissue(devices)
