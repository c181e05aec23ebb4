"""Vigil's Kafka security settings against a real secured broker: the
project's local Kafka with one SASL_SSL listener (SCRAM-SHA-512 users, a
test CA), the StandardAuthorizer, and ACLs for a `gateway` principal as
docs/operations.md#kafka-security gives them (write readings, rejected and
device-seqs; read device-seqs; nothing on alerts)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import TopicAuthorizationFailedError
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from websockets.asyncio.client import connect

from app.infra.kafka_local import LocalKafka, Secured
from app.infra.kafka_security import aiokafka_options
from app.infra.settings import Settings
from app.infra.topics import assignment, ensure_topics, from_start, read_to_end
from tests.conftest import ROOT, frames_of, reported_ports, stop, wait_ready

pytestmark = pytest.mark.integration

USERS = {"admin": "admin-secret-1", "gateway": "gateway-secret-2", "worker": "worker-secret-3"}
WORKER_ID = "vigil-sasl-worker"
KEYSTORE_PASSWORD = "keystore-secret"


def _broker_pki(folder: Path) -> tuple[Path, Path]:
    """A test CA (PEM) and the broker's key and certificate for 127.0.0.1 (PKCS#12)."""
    ca = trustme.CA(organization_name="Vigil Kafka test CA")
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    cert = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())
    keystore = folder / "broker.p12"
    keystore.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"broker",
            key,  # type: ignore[arg-type]
            cert,
            None,
            serialization.BestAvailableEncryption(KEYSTORE_PASSWORD.encode()),
        )
    )
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    return keystore, folder / "ca.pem"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalKafka, Path]]:
    folder = tmp_path_factory.mktemp("kafka-sasl")
    keystore, ca = _broker_pki(folder)
    broker = LocalKafka(
        folder / "data",
        partitions=2,
        secured=Secured(keystore, KEYSTORE_PASSWORD, ca, USERS),
    )
    broker.start(quiet=True)
    try:
        asyncio.run(ensure_topics(_settings(broker, ca, "admin")))
        topics = ("--topic", "vigil.readings", "--topic", "vigil.rejected", "--topic", "vigil.device-seqs")
        gateway = ("--allow-principal", "User:gateway")
        broker.acl(*gateway, "--operation", "Write", "--operation", "Describe", *topics)
        broker.acl(*gateway, "--operation", "Read", "--topic", "vigil.device-seqs")
        broker.acl(*gateway, "--operation", "Read", "--operation", "Describe", "--topic", "vigil.devices")
        worker = ("--allow-principal", "User:worker")
        reads = ("--topic", "vigil.readings", "--group", WORKER_ID)
        broker.acl(*worker, "--operation", "Read", "--operation", "Describe", *reads)
        broker.acl(*worker, "--operation", "Read", "--operation", "Describe", "--topic", "vigil.patients")
        outputs = ("--topic", "vigil.alerts", "--topic", "vigil.dead-letter")
        broker.acl(*worker, "--operation", "Write", "--operation", "Describe", *outputs)
        owned = ("--resource-pattern-type", "prefixed", "--topic", f"{WORKER_ID}-")
        for operation in ("Create", "Read", "Write", "Describe"):
            worker += ("--operation", operation)
        broker.acl(*worker, *owned)
        yield broker, ca
    finally:
        broker.stop()


def _env(broker: LocalKafka, ca: Path, user: str, home: Path) -> dict[str, str]:
    password = home / f"{user}.password"
    password.parent.mkdir(parents=True, exist_ok=True)
    password.write_text(USERS[user] + "\n")
    base = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    return base | {
        "VIGIL_HOME": str(home),
        "VIGIL_KAFKA_BOOTSTRAP": broker.bootstrap,
        "VIGIL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "VIGIL_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "VIGIL_KAFKA_SASL_USERNAME": user,
        "VIGIL_KAFKA_SASL_PASSWORD_FILE": str(password),
        "VIGIL_KAFKA_CA": str(ca),
        "VIGIL_LOG_FORMAT": "json",
    }


def _settings(broker: LocalKafka, ca: Path, user: str) -> Settings:
    return Settings.from_env(
        {
            "VIGIL_KAFKA_BOOTSTRAP": broker.bootstrap,
            "VIGIL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "VIGIL_KAFKA_SASL_USERNAME": user,
            "VIGIL_KAFKA_SASL_PASSWORD": USERS[user],
            "VIGIL_KAFKA_CA": str(ca),
        }
    )


def _vigil(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "app.cli", *args]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)


async def _stored(settings: Settings, device_id: str) -> list[int]:
    """The seqs of `device_id` on vigil.readings, read as `settings`' principal."""
    seqs: list[int] = []

    def keep(records) -> None:
        for r in records:
            for value in frames_of(json.loads(r.value)):
                if value["device_id"] != device_id:
                    continue
                seqs.extend(item["seq"] for item in value["readings"])

    consumer = from_start(settings, "vigil.readings")
    await consumer.start()
    try:
        await read_to_end(consumer, "vigil.readings", keep)
    finally:
        await consumer.stop()
    return seqs


@pytest.mark.parametrize("registry", ["file", "kafka"])
async def test_the_gateway_principal_stores_a_reading_through_sasl_ssl(
    secured, tmp_path: Path, registry: str
) -> None:
    """With `VIGIL_REGISTRY=kafka` the device is registered by the admin
    principal from another home, and the gateway reads `vigil.devices` under
    its own ACLs."""
    broker, ca = secured
    device = f"dev-sasl-{registry}"
    shared = {"VIGIL_REGISTRY": registry, "VIGIL_PSEUDONYM_KEY": "ab" * 32}
    env = _env(broker, ca, "gateway", tmp_path) | shared
    env |= {"VIGIL_GATEWAY_PORT": "0", "VIGIL_GATEWAY_HTTP_PORT": "0"}
    admin = _env(broker, ca, "admin", tmp_path / "admin") | shared if registry == "kafka" else env
    added = _vigil(admin, "devices", "add", device, "--patient", "P-SASL")
    token = json.loads(added.stdout)["token"]
    log = open(tmp_path / "gateway.log", "ab")
    ports_file = tmp_path / "gateway.ports.json"
    gateway = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "gateway", "--ports-file", str(ports_file)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        bound = reported_ports(ports_file, gateway, tmp_path / "gateway.log")
        wait_ready(f"http://127.0.0.1:{bound['http']}/readyz", gateway, timeout=60)
        url = f"ws://127.0.0.1:{bound['ws']}/v1"
        async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            reading = {"type": "reading", "seq": 1, "ts": int(time.time() * 1000), "vitals": {"spo2": 97}}
            await ws.send(json.dumps(reading))
            assert json.loads(await asyncio.wait_for(ws.recv(), 20)) == {"type": "ack", "seq": 1}
    finally:
        code = stop(gateway)
    assert code == 0, (tmp_path / "gateway.log").read_text()[-3000:]
    assert await _stored(_settings(broker, ca, "admin"), device) == [1]


async def test_the_worker_principal_consumes_readings_through_sasl_ssl(secured, tmp_path: Path) -> None:
    """Faust's consumer group, its changelog topics and the readiness probe, all as `worker`."""
    broker, ca = secured
    env = _env(broker, ca, "worker", tmp_path) | {
        "VIGIL_WORKER_ID": WORKER_ID,
        "VIGIL_WORKER_WEB_PORT": "0",
        "VIGIL_WORKER_STORE": "memory://",
    }
    log = open(tmp_path / "worker.log", "ab")
    ports_file = tmp_path / "worker.ports.json"
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "--ports-file", str(ports_file)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        web = reported_ports(ports_file, worker, tmp_path / "worker.log")["web"]
        wait_ready(f"http://127.0.0.1:{web}/readyz", worker, timeout=90)
        ends = await _processed(_settings(broker, ca, "admin"))
    finally:
        code = stop(worker)
    assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]
    assert ends[0] == ends[1], "the worker did not commit every record of vigil.readings"


async def _processed(admin_settings: Settings, timeout: float = 60.0) -> tuple[dict, dict]:
    """As admin: write a record the worker cannot decode (it goes to the dead-letter
    topic), then wait until the worker's group has committed up to the end of
    vigil.readings. (committed, end offsets) per partition."""
    producer = AIOKafkaProducer(**aiokafka_options(admin_settings), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait("vigil.readings", b"not a reading", key=b"dev-sasl-poison")
    finally:
        await producer.stop()
    consumer = from_start(admin_settings, "vigil.readings")
    admin = AIOKafkaAdminClient(**aiokafka_options(admin_settings))
    await consumer.start()
    await admin.start()
    try:
        partitions = await assignment(consumer, "vigil.readings")
        ends = {tp.partition: end for tp, end in (await consumer.end_offsets(partitions)).items()}
        deadline = time.monotonic() + timeout
        while True:
            offsets = await admin.list_consumer_group_offsets(WORKER_ID)
            committed = {tp.partition: m.offset for tp, m in offsets.items() if tp.topic == "vigil.readings"}
            done = {p: committed.get(p, 0) for p, end in ends.items() if end > 0}
            if done == {p: end for p, end in ends.items() if end > 0} or time.monotonic() > deadline:
                return done, {p: end for p, end in ends.items() if end > 0}
            await asyncio.sleep(0.5)
    finally:
        await admin.close()
        await consumer.stop()


def test_vigil_alerts_as_the_gateway_principal_is_refused_in_one_line(secured, tmp_path: Path) -> None:
    broker, ca = secured
    done = _vigil(_env(broker, ca, "gateway", tmp_path), "alerts")
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "refuses User:gateway the topic vigil.alerts" in lines[0]
    assert USERS["gateway"] not in done.stderr


@pytest.mark.parametrize("topic", ["vigil.alerts", "vigil.patients"])
async def test_a_consumer_as_the_gateway_principal_cannot_read_patient_data(secured, topic: str) -> None:
    """Alert events and the patient directory (docs/operations.md#no-shared-disk)."""
    broker, ca = secured
    consumer = AIOKafkaConsumer(
        topic,
        **aiokafka_options(_settings(broker, ca, "gateway")),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await asyncio.wait_for(consumer.start(), 20)
            await asyncio.wait_for(consumer.getmany(timeout_ms=5000), 20)
    finally:
        await consumer.stop()


@pytest.mark.parametrize(("user", "topic"), [("admin", "vigil.alerts"), ("worker", "vigil.patients")])
async def test_the_principals_granted_read_what_the_gateway_may_not(secured, user: str, topic: str) -> None:
    """The refusal above is the ACL's, not a broken listener: others read the same topic."""
    broker, ca = secured
    consumer = from_start(_settings(broker, ca, user), topic)
    await consumer.start()
    try:
        await asyncio.wait_for(read_to_end(consumer, topic, lambda records: None), 20)
    finally:
        await consumer.stop()


def test_a_wrong_password_is_one_line_naming_the_login(secured, tmp_path: Path) -> None:
    broker, ca = secured
    env = _env(broker, ca, "gateway", tmp_path)
    Path(env["VIGIL_KAFKA_SASL_PASSWORD_FILE"]).write_text("not-the-password\n")
    done = _vigil(env, "alerts")
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "refused the SASL login of User:gateway" in lines[0]
    assert "not-the-password" not in done.stderr
    # `vigil status` says why Kafka is down for it, not "start it".
    status = _vigil(env, "status")
    assert status.returncode == 3, status.stderr
    kafka = status.stdout.splitlines()[0]
    assert kafka.startswith("kafka    down") and "refused the SASL login of User:gateway" in kafka


def test_a_broker_certificate_from_another_ca_is_one_line(secured, tmp_path: Path) -> None:
    broker, ca = secured
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    done = _vigil(_env(broker, ca, "gateway", tmp_path) | {"VIGIL_KAFKA_CA": str(other)}, "alerts")
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not trusted" in lines[0] and "VIGIL_KAFKA_CA" in lines[0], done.stderr


def test_vigil_devices_on_the_kafka_registry_as_the_gateway_principal_is_one_line(
    secured, tmp_path: Path
) -> None:
    """An operator who runs `vigil devices` with a gateway's credentials: the
    patient directory is not the gateway's to read (docs/operations.md#no-shared-disk)."""
    broker, ca = secured
    registry = {"VIGIL_REGISTRY": "kafka", "VIGIL_PSEUDONYM_KEY": "ab" * 32}
    env = _env(broker, ca, "gateway", tmp_path) | registry
    done = _vigil(env, "devices", "list")
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "refuses User:gateway the topic vigil.patients" in lines[0], lines[0]
