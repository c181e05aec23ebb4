"""Frames of several devices coalesced into one `vigil.readings` record
(issue 14) on the real gateway, worker and Kafka: the record is on the
partition each of its patients has always been on, every one of its readings
is processed and raises its alert, and one malformed frame in such a record
is dead-lettered alone while its neighbours are processed."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from aiokafka import AIOKafkaProducer
from websockets.asyncio.client import connect

from app.core.protocol import Reading
from app.core.records import encode_frames, encode_readings, partition_for, pseudonym
from tests.conftest import read_topic

pytestmark = pytest.mark.integration

ABNORMAL = {"heart_rate": 148, "spo2": 84, "respiratory_rate": 31, "systolic_bp": 84, "temperature": 39.5}
DEVICES = 8  # on 4 partitions: at least two patients share one


async def send_one(url: str, token: str, now_ms: int) -> dict:
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        await ws.send(json.dumps({"type": "reading", "seq": 1, "ts": now_ms, "vitals": ABNORMAL}))
        return json.loads(await ws.recv())


def opened_for(patient: str):
    return lambda r, v: v.get("patient") == patient and v.get("kind") == "news2" and v.get("status") == "open"


@pytest.mark.vigil_env(VIGIL_GATEWAY_COALESCE_MS="300", VIGIL_NEWS2_SUSTAIN_S="0")
async def test_coalesced_frames_are_each_processed_and_alert(vigil, kafka, services) -> None:
    tokens = {
        f"COAL-{i}": json.loads(vigil.run("devices", "add", f"coal-{i}", "--patient", f"COAL-{i}").stdout)[
            "token"
        ]
        for i in range(DEVICES)
    }
    now = int(time.time() * 1000)
    # Connected and sent together: their frames meet in the gateway's window.
    replies = await asyncio.gather(*(send_one(vigil.ws_url, t, now) for t in tokens.values()))
    assert replies == [{"type": "ack", "seq": 1}] * DEVICES

    key = bytes.fromhex((vigil.home / "pseudonym.key").read_text())
    subjects = {pseudonym(key, patient): patient for patient in tokens}
    coalesced = await read_topic(
        kafka.bootstrap, "vigil.readings", lambda r, v: v.get("v") == 2, frames=False
    )
    assert coalesced, "no record of several frames"
    for found in coalesced:
        partitions = {partition_for(frame["patient"].encode(), 4) for frame in found["value"]["frames"]}
        assert len(partitions) == 1  # only frames of one partition share a record
        assert found["key"] == found["value"]["frames"][0]["patient"].encode()
    ours = [f for c in coalesced for f in c["value"]["frames"] if f["patient"] in subjects]
    assert len(ours) >= 2

    for patient in tokens:
        assert await read_topic(kafka.bootstrap, "vigil.alerts", opened_for(patient)), (
            patient,
            vigil.log("worker")[-3000:],
        )


@pytest.mark.vigil_env(VIGIL_NEWS2_SUSTAIN_S="0")
async def test_a_malformed_frame_among_good_ones_is_dead_lettered_alone(vigil, kafka, services) -> None:
    vigil.run("devices", "add", "coal-good", "--patient", "COAL-GOOD")
    subject = pseudonym(bytes.fromhex((vigil.home / "pseudonym.key").read_text()), "COAL-GOOD")
    now = int(time.time() * 1000)
    good = encode_readings("coal-good", subject, now, [Reading(1, now, ABNORMAL)])
    bad = good.replace(b'"readings":[', b'"readings":7,"x":[')  # `readings` not an array
    partition = partition_for(subject.encode(), 4)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
    await producer.start()
    try:
        sent = await producer.send_and_wait(
            "vigil.readings", encode_frames([bad, good]), key=subject.encode(), partition=partition
        )
    finally:
        await producer.stop()

    letters = await read_topic(
        kafka.bootstrap,
        "vigil.dead-letter",
        lambda r, v: v.get("partition") == sent.partition and v.get("offset") == sent.offset,
    )
    assert [(d["value"]["reason"], d["value"].get("frame")) for d in letters] == [("wrong_shape", 0)]
    assert b"COAL-GOOD" not in json.dumps(letters).encode() and subject not in json.dumps(letters)
    assert await read_topic(kafka.bootstrap, "vigil.alerts", opened_for("COAL-GOOD")), vigil.log("worker")[
        -3000:
    ]
