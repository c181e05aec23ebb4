"""The gateway's and the worker's in-memory views of `vigil.devices` and
`vigil.patients` (app/infra/directory.py), fed records as Kafka would."""

from __future__ import annotations

import pytest

from app.core.directory import Device, encode_device, encode_patient, token_hash
from app.core.errors import RegistryUnavailable
from app.infra.directory import KafkaPatients, KafkaRegistry
from app.infra.settings import Settings


def _record(token: str, revoked: bool = False) -> bytes:
    return encode_device(Device("bed-7", "", "2026-11-30T10:00:00+00:00", revoked, token_hash(token), "p-1"))


@pytest.fixture
def registry() -> KafkaRegistry:
    return KafkaRegistry(Settings())


def test_no_handshake_is_answered_before_the_topic_is_read(registry: KafkaRegistry) -> None:
    registry._apply(b"bed-7", _record("vgl_one"))
    with pytest.raises(RegistryUnavailable):
        registry.authenticate("vgl_one")


def test_the_newest_record_of_a_device_counts(registry: KafkaRegistry) -> None:
    registry.mirror.loaded = True
    registry._apply(b"bed-7", _record("vgl_one"))
    assert registry.authenticate("vgl_one") is not None
    registry._apply(b"bed-7", _record("vgl_two"))  # rotated: the old token stops working
    assert registry.authenticate("vgl_one") is None
    assert registry.authenticate("vgl_two").subject == "p-1"
    registry._apply(b"bed-7", _record("vgl_two", revoked=True))
    assert registry.authenticate("vgl_two") is None and registry.cached("bed-7").revoked
    registry._apply(b"bed-7", None)  # a tombstone: not registered at all
    assert registry.cached("bed-7") is None and registry.devices() == []


def test_a_record_under_another_device_key_registers_nothing(registry: KafkaRegistry) -> None:
    registry.mirror.loaded = True
    registry._apply(b"bed-8", _record("vgl_one"))  # names bed-7
    assert registry.authenticate("vgl_one") is None


def test_the_worker_directory_follows_records_and_tombstones() -> None:
    patients = KafkaPatients(Settings())
    patients._apply(b"p-1", encode_patient("MRN-0042"))
    assert patients.patient("p-1") == "MRN-0042"
    patients._apply(b"p-1", None)
    assert patients.patient("p-1") is None
