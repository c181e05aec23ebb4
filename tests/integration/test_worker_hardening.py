"""Issue 10 on the real worker: no record can stop it, no device can grow a
patient's state past its bound, and a device clock that ran ahead cannot
hide a deterioration. Gateway and worker are separate processes on the real
Kafka; records are read back with a plain Kafka consumer."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import urllib.error
import urllib.request

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from websockets.asyncio.client import connect

from app.cli.up import metric, scrape
from app.core.protocol import Reading
from app.core.records import encode_frames, encode_readings, pseudonym
from app.core.state import MAX_STATE_BYTES
from app.infra import preflight
from app.infra.kafka_local import LocalKafka
from app.infra.settings import ALERTS_TOPIC, READINGS_TOPIC, Settings
from tests.conftest import http_status, read_topic, stop, wait_ready

pytestmark = pytest.mark.integration

NORMAL = {"heart_rate": 72, "spo2": 97, "respiratory_rate": 15, "systolic_bp": 122, "temperature": 36.8}
CRITICAL = {"heart_rate": 146, "spo2": 84, "respiratory_rate": 31, "systolic_bp": 84, "temperature": 36.8}


def register(vigil, device: str, patient: str) -> dict[str, str]:
    token = json.loads(vigil.run("devices", "add", device, "--patient", patient).stdout)["token"]
    return {"Authorization": f"Bearer {token}"}


async def send_batch(ws, readings: list[dict]) -> None:
    await ws.send(json.dumps({"type": "batch", "readings": readings}))
    reply = json.loads(await ws.recv())
    assert reply == {"type": "ack", "seqs": [r["seq"] for r in readings]}, reply


def opened(patient: str, kind: str = "news2"):
    return lambda r, v: v.get("patient") == patient and v.get("kind") == kind and v.get("status") == "open"


def failed_records(vigil) -> dict[str, float]:
    """The worker's `vigil_worker_records_failed_total` by reason."""
    with urllib.request.urlopen(vigil.worker_url + "/metrics") as response:
        text = response.read().decode()
    prefix = 'vigil_worker_records_failed_total{reason="'
    return {
        line[len(prefix) : line.index('"', len(prefix))]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(prefix)
    }


async def caught_up(vigil, kafka, timeout: float = 90.0) -> None:
    """Until the worker's group has committed every record `vigil.readings`
    held when called: a ready worker may still be reading the backlog."""
    settings = Settings.from_env().with_(kafka_bootstrap=kafka.bootstrap)
    group = vigil.env["VIGIL_WORKER_ID"]
    partitions = list(range(await preflight.partition_count(settings, READINGS_TOPIC) or 0))
    ends = await preflight.backlog(settings, READINGS_TOPIC, group, partitions)
    assert ends is not None
    deadline = time.monotonic() + timeout
    while True:
        now = await preflight.backlog(settings, READINGS_TOPIC, group, partitions)
        if now is not None and all(now[p][1] >= end for p, (end, _) in ends.items()):
            return
        assert time.monotonic() < deadline, f"the worker did not catch up: {now} against {ends}"
        await asyncio.sleep(0.5)


async def test_no_record_or_device_stops_alerting(vigil, kafka, services) -> None:
    now = int(time.time() * 1000)
    hour_ago = now - 60 * 60_000
    # Its group reads vigil.readings from the start, other tests' malformed records
    # too: counted once it has read them all (ready is not caught up).
    await caught_up(vigil, kafka)
    failed_before = failed_records(vigil)

    # 1. Poison: records of the wrong shape written straight to the topic by
    # another producer. Each goes to vigil.dead-letter; the worker goes on.
    ahead = register(vigil, "clock-1", "CLOCK-PATIENT")  # the patient of step 3
    clock_subject = pseudonym(bytes.fromhex((vigil.home / "pseudonym.key").read_text()), "CLOCK-PATIENT")
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
    await producer.start()
    try:
        poison = [
            b"\x00not json",
            orjson.dumps(
                {
                    "v": 1,
                    "device_id": "rogue",
                    "patient": "p-poisoned-patient",
                    "received_ms": now,
                    "readings": [{"id": "a", "ts": "yesterday", "vitals": {"heart_rate": 80}}],
                }
            ),
            orjson.dumps(
                {
                    "v": 1,
                    "device_id": "rogue",
                    "patient": "p-poisoned-patient",
                    "received_ms": now,
                    "readings": [{"id": "b", "ts": now, "vitals": {"heart_rate": [80]}}],
                }
            ),
            # A feed in microseconds, for the patient of step 3: read as a reading
            # millennia ahead, it left that patient's later readings out of order.
            orjson.dumps(
                {
                    "v": 1,
                    "device_id": "feed-in-microseconds",
                    "patient": clock_subject,
                    "received_ms": now * 1000,
                    "readings": [{"id": "c", "ts": now * 1000, "vitals": {"heart_rate": 80}}],
                }
            ),
        ]
        for value in poison:
            await producer.send_and_wait("vigil.readings", value, key=b"p-poisoned-patient")
    finally:
        await producer.stop()

    # 2. Bloat: one device sends 300 readings, each with 60 new channel names.
    bloat = register(vigil, "bloat-1", "BLOAT-PATIENT")
    async with connect(vigil.ws_url, additional_headers=bloat, max_size=None) as ws:
        for first in range(0, 300, 10):
            readings = []
            for seq in range(first, first + 10):
                vitals = dict(NORMAL)
                vitals.update({f"ch{seq:03d}_{k:02d}_" + "x" * 55: seq + k / 7 for k in range(58)})
                readings.append({"seq": seq, "ts": hour_ago + seq * 10_000, "vitals": vitals})
            await send_batch(ws, readings)
        await send_batch(
            ws, [{"seq": 300 + i, "ts": now - 20_000 + i * 5_000, "vitals": CRITICAL} for i in range(4)]
        )

    # 3. A clock that ran ahead: an hour of normal readings, one stamped 290 s
    # in the future, then critical readings stamped correctly.
    async with connect(vigil.ws_url, additional_headers=ahead) as ws:
        await send_batch(ws, [{"seq": i, "ts": hour_ago + i * 60_000, "vitals": NORMAL} for i in range(59)])
        await send_batch(ws, [{"seq": 59, "ts": int(time.time() * 1000) + 290_000, "vitals": NORMAL}])
        for i in range(4):  # stamped as they are taken, like a live device
            await send_batch(ws, [{"seq": 60 + i, "ts": int(time.time() * 1000), "vitals": CRITICAL}])

    # Every patient still gets their alert.
    for patient in ("BLOAT-PATIENT", "CLOCK-PATIENT"):
        alerts = await read_topic(kafka.bootstrap, "vigil.alerts", opened(patient))
        assert len(alerts) == 1, (patient, vigil.log("worker")[-3000:])
    assert services["worker"].poll() is None

    # This test's poison only, by the letters' fingerprint: the broker is the
    # session's, and every test's worker (a consumer group of its own) reads
    # vigil.readings from the start, other tests' malformed records included.
    ours = {hashlib.sha256(value).hexdigest()[:16] for value in poison}
    letters = await read_topic(
        kafka.bootstrap,
        "vigil.dead-letter",
        lambda r, v: v.get("topic") == "vigil.readings" and v.get("sha256") in ours,
    )
    assert sorted(letter["value"]["reason"] for letter in letters) == [
        "undecodable",
        "wrong_shape",
        "wrong_shape",
        "wrong_shape",
    ]
    assert any("epoch milliseconds" in letter["value"]["message"] for letter in letters)
    assert all(isinstance(letter["value"]["offset"], int) for letter in letters)
    assert "poisoned" not in json.dumps([letter["value"] for letter in letters])

    # The bloated patient's state stayed within its bound in the changelog.
    subject = pseudonym(bytes.fromhex((vigil.home / "pseudonym.key").read_text()), "BLOAT-PATIENT")
    changelog = f"{vigil.env['VIGIL_WORKER_ID']}-patients-changelog"
    states = await read_topic(
        kafka.bootstrap, changelog, lambda r, v: r.key == subject.encode() and v["n"] >= 300
    )
    assert states
    assert max(len(orjson.dumps(s["value"])) for s in states) <= MAX_STATE_BYTES

    failed = failed_records(vigil)
    assert failed["wrong_shape"] - failed_before.get("wrong_shape", 0.0) == 3
    assert failed["undecodable"] - failed_before.get("undecodable", 0.0) == 1
    assert "poisoned" not in vigil.log("worker")


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def test_worker_readiness_follows_kafka(vigil, tmp_path) -> None:
    """The consumer keeps its partitions while the broker is down: readiness
    must still say the worker is not scoring anything."""
    broker = LocalKafka(tmp_path / "kafka")  # on ports it chooses
    broker.start(quiet=True)
    vigil.env.update(VIGIL_KAFKA_BOOTSTRAP=broker.bootstrap)
    worker = vigil.spawn("worker", log_name="worker")
    try:
        wait_ready(vigil.worker_url + "/readyz", worker)
        broker.stop()
        assert wait_for(lambda: http_status(vigil.worker_url + "/readyz") == 503, 30), vigil.log("worker")[
            -2000:
        ]
        with urllib.request.urlopen(vigil.worker_url + "/metrics") as response:
            assert "vigil_worker_kafka_up 0.0" in response.read().decode()
        broker.start(90.0, True)
        assert wait_for(lambda: http_status(vigil.worker_url + "/readyz") == 200, 90), vigil.log("worker")[
            -2000:
        ]
        assert worker.poll() is None
    finally:
        stop(worker)
        broker.stop()


WRITE_WAIT = "vigil_worker_kafka_write_wait_seconds"


async def until(vigil, check, timeout: float, what: str) -> None:
    """Until `check` holds of the worker's /metrics samples; on timeout,
    `what` and the end of the worker's log."""
    deadline = time.monotonic() + timeout
    while not check(await scrape(vigil.worker_url + "/metrics")):
        assert time.monotonic() < deadline, f"{what}: {vigil.log('worker')[-2000:]}"
        await asyncio.sleep(0.5)


async def test_alerts_kafka_will_not_take_show_as_a_stuck_write_then_go_out(vigil, tmp_path) -> None:
    """`vigil.alerts` deleted under a running worker (on a broker that does
    not create topics): Kafka still answers, so the worker stays ready and
    `vigil_worker_kafka_up` is 1, while the alert an alerting record opens
    waits inside the producer. `vigil_worker_kafka_write_wait_seconds` shows
    the wait (VigilWorkerWritesStuck pages on it); after the producer's
    request timeout the send fails, and is counted, logged and tried again
    (with Faust's default timeout it waited 20 minutes, saying nothing).
    Once the topic is back, the alert goes out and the wait is 0.
    On a broker of its own: the session's topics are other tests'."""
    broker = LocalKafka(tmp_path / "kafka")
    broker.start(quiet=True)
    vigil.env.update(VIGIL_KAFKA_BOOTSTRAP=broker.bootstrap)
    worker = vigil.spawn("worker", log_name="worker")
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        wait_ready(vigil.worker_url + "/readyz", worker)
        assert metric(await scrape(vigil.worker_url + "/metrics"), WRITE_WAIT) == 0.0
        settings = Settings.from_env().with_(kafka_bootstrap=broker.bootstrap)
        partitions = await preflight.partition_count(settings, ALERTS_TOPIC)
        assert partitions
        await admin.start()
        await admin.delete_topics([ALERTS_TOPIC])
        deadline = time.monotonic() + 30
        while ALERTS_TOPIC in await admin.list_topics():
            assert time.monotonic() < deadline, "vigil.alerts was not deleted"
            await asyncio.sleep(0.2)

        now = int(time.time() * 1000)
        record = encode_frames(
            [encode_readings("dev-stuck", "p-stuck", now, [Reading(1, now - 1000, CRITICAL)])]
        )
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(READINGS_TOPIC, record, key=b"p-stuck")
        finally:
            await producer.stop()
        await until(vigil, lambda samples: (metric(samples, WRITE_WAIT) or 0.0) >= 10, 60, "no write waited")
        assert metric(await scrape(vigil.worker_url + "/metrics"), "vigil_worker_kafka_up") == 1.0
        assert http_status(vigil.worker_url + "/readyz") == 200
        # The producer gives the send up after its request timeout (40 s, not
        # Faust's 20 minutes): the retry is counted and logged with its error.
        await until(
            vigil,
            lambda samples: (
                (metric(samples, "vigil_worker_send_retries_total", topic=ALERTS_TOPIC) or 0.0) >= 1
            ),
            60,
            "no retry",
        )
        assert "alert events not written to Kafka; trying again" in vigil.log("worker")

        await admin.create_topics([NewTopic(ALERTS_TOPIC, partitions, 1)])
        alerts = await read_topic(
            broker.bootstrap, ALERTS_TOPIC, lambda r, v: r.key == b"p-stuck" and v.get("status") == "open"
        )
        assert [a["value"]["kind"] for a in alerts] == ["news2"], vigil.log("worker")[-2000:]
        await until(
            vigil,
            lambda samples: metric(samples, WRITE_WAIT) == 0.0,
            30,
            "the wait did not end",
        )
        assert worker.poll() is None
    finally:
        await admin.close()
        stop(worker)
        broker.stop()
