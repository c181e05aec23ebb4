"""Device to alert, on the real Kafka, with every part as its own process.

The alert is read back with a plain Kafka consumer (aiokafka), not with any
of Vigil's own code, as an alert consumer would.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from aiokafka import AIOKafkaProducer
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from app.core.model import weekday
from app.core.records import Reading, encode_readings, partition_for, pseudonym
from tests.conftest import ROOT, read_topic
from tests.core.test_cadence import iso_ms
from tests.core.test_weekly import CHANNEL, value

pytestmark = pytest.mark.integration

VITALS = {
    "heart_rate": 74,
    "spo2": 97,
    "respiratory_rate": 15,
    "systolic_bp": 121,
    "temperature": 36.8,
    "consciousness": "A",
}
ABNORMAL = {"heart_rate": 148, "spo2": 84, "respiratory_rate": 31, "systolic_bp": 84}


@pytest.mark.vigil_env(VIGIL_LOG_LEVEL="debug")  # the most verbose logs must still hold no patient data
async def test_device_to_alert(vigil, kafka, services) -> None:
    added = vigil.run("devices", "add", "bedside-7", "--patient", "MRN-0042")
    token = json.loads(added.stdout)["token"]

    # A wrong token is refused in the handshake.
    with pytest.raises(InvalidStatus) as refused:
        async with connect(vigil.ws_url, additional_headers={"Authorization": "Bearer vgl_wrong"}):
            pass
    assert refused.value.response.status_code == 401

    now = int(time.time() * 1000)
    start = now - 61 * 60_000
    async with connect(vigil.ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        # An hour of normal readings, one a minute, as single readings and batches.
        for seq in range(30):
            await ws.send(
                json.dumps({"type": "reading", "seq": seq, "ts": start + seq * 60_000, "vitals": VITALS})
            )
            assert json.loads(await ws.recv()) == {"type": "ack", "seq": seq}
        batch = [
            {"type": "reading", "seq": seq, "ts": start + seq * 60_000, "vitals": VITALS}
            for seq in range(30, 60)
        ]
        batch.insert(5, {"type": "reading", "seq": 999, "ts": start, "vitals": {"spo2": 140}})
        await ws.send(json.dumps({"type": "batch", "readings": batch}))
        replies = [json.loads(await ws.recv()) for _ in range(2)]
        assert {
            "type": "error",
            "seq": 999,
            "code": "out_of_range",
            "message": "spo2 is outside 0..100 %",
        } in replies
        assert {"type": "ack", "seqs": list(range(30, 60))} in replies

        # Then a clearly abnormal one, with an ISO timestamp, from a patient
        # prescribed NEWS2's SpO2 scale 2 (a hypercapnic target of 88-92 %).
        ts_iso = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now / 1000))
        vitals = {**ABNORMAL, "spo2_scale": 2}
        await ws.send(json.dumps({"type": "reading", "seq": 60, "ts": ts_iso, "vitals": vitals}))
        assert json.loads(await ws.recv()) == {"type": "ack", "seq": 60}

    alerts = await read_topic(
        kafka.bootstrap,
        "vigil.alerts",
        lambda r, v: (
            v.get("patient") == "MRN-0042" and v.get("kind") == "news2" and v.get("status") == "open"
        ),
    )
    assert len(alerts) == 1, vigil.log("worker")[-3000:]
    alert = alerts[0]["value"]
    assert alert["patient"] == "MRN-0042"
    assert alert["subject"].startswith("p-") and "0042" not in alert["subject"]
    assert alerts[0]["key"] == alert["subject"].encode()
    assert alert["device_id"] == "bedside-7"
    assert alert["severity"] == "high"
    assert alert["event_time"] == ts_iso
    assert alert["evidence"]["vitals"] == ABNORMAL
    assert alert["evidence"]["score"] >= 7
    assert alert["evidence"]["subscores"]["spo2"] == 2  # 84 % on scale 2; on scale 1 it scores 3
    assert len(alert["alert_id"]) == 36

    rejected = await read_topic(
        kafka.bootstrap, "vigil.rejected", lambda r, v: v.get("device_id") == "bedside-7"
    )
    assert [(r["value"]["seq"], r["value"]["code"]) for r in rejected] == [(999, "out_of_range")]

    # The patient identifier never enters the internal topics: only its pseudonym.
    internal = await read_topic(
        kafka.bootstrap,
        "vigil.readings",
        lambda r, v: v["device_id"] == "bedside-7" and v["readings"][-1]["seq"] == 60,
    )
    assert internal and internal[0]["value"]["patient"] == alert["subject"]
    changelog = f"{vigil.env['VIGIL_WORKER_ID']}-patients-changelog"
    states = await read_topic(kafka.bootstrap, changelog, lambda r, v: r.key == alert["subject"].encode())
    assert states
    for record in internal + states + rejected:
        assert "MRN-0042" not in json.dumps(record["value"]) and b"MRN-0042" not in (record["key"] or b"")
    assert token not in json.dumps([r["value"] for r in rejected])

    # The worker's metrics saw it, without any patient id in them.
    with urllib.request.urlopen(vigil.worker_url + "/metrics") as response:
        worker_metrics = response.read().decode()
    assert 'vigil_worker_alert_events_total{kind="news2",severity="high",status="open"}' in worker_metrics
    with urllib.request.urlopen(vigil.http_url + "/metrics") as response:
        gateway_metrics = response.read().decode()
    assert 'vigil_gateway_readings_total{outcome="accepted"} 61.0' in gateway_metrics
    assert 'vigil_gateway_readings_total{outcome="out_of_range"} 1.0' in gateway_metrics
    for text in (worker_metrics, gateway_metrics, vigil.log("worker"), vigil.log("gateway")):
        assert "MRN-0042" not in text and token not in text

    # Logs are JSON lines; one frame's trace id is found in both processes' logs.
    gateway_events = [json.loads(line) for line in vigil.log("gateway").splitlines()]
    worker_events = [json.loads(line) for line in vigil.log("worker").splitlines() if line.startswith("{")]
    traced = {
        e["trace_id"] for e in gateway_events if e.get("event") == "frame received" and e.get("accepted")
    }
    processed = [e for e in worker_events if e.get("event") == "record processed"]
    assert traced & {e["trace_id"] for e in processed}
    assert all(e["partition"] in range(4) and e["component"] == "worker" for e in processed)

    # `vigil alerts` shows the same alert as JSON, and as a FHIR DetectedIssue.
    shown = tail_alerts(
        vigil, "--json", lambda e: e["alert_id"] == alert["alert_id"] and e["status"] == "open"
    )
    assert shown == alert
    issue = tail_alerts(vigil, "--fhir", lambda e: e["id"] == alert["alert_id"])
    assert (issue["resourceType"], issue["status"], issue["severity"]) == (
        "DetectedIssue",
        "preliminary",
        "high",
    )
    assert issue["patient"] == {"reference": "Patient/MRN-0042"}

    listed = [json.loads(line) for line in vigil.run("devices", "list").stdout.splitlines()]
    assert [(d["device_id"], d["revoked"]) for d in listed] == [("bedside-7", False)]
    assert token not in vigil.run("devices", "list").stdout


def tail_alerts(vigil, flag: str, predicate) -> dict:
    """The first line `vigil alerts --from-beginning FLAG` prints that matches."""
    return alerts_of(vigil, predicate, until=lambda seen: True, flag=flag)[0]


async def test_a_device_stuck_with_its_motion_flag_on_gets_a_notice(vigil, kafka, services) -> None:
    """A wearable, written from docs/protocol.md, that flags every reading as
    taken while moving for 10 minutes: its patient's heart rate and SpO2 are
    out of detection, and `vigil.alerts` says so once per channel (a
    `no_signal` notice, `cause: motion`), then again when an unflagged
    reading arrives. No alarm."""
    added = vigil.run("devices", "add", "wrist-3", "--patient", "MRN-0077")
    token = json.loads(added.stdout)["token"]
    start = int(time.time() * 1000) - 45 * 60_000
    wear = {"heart_rate": 72, "spo2": 97}
    readings = [
        {"type": "reading", "seq": i, "ts": start + i * 60_000, "vitals": {**wear, "motion": 30 <= i < 40}}
        for i in range(41)
    ]
    async with connect(vigil.ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        await ws.send(json.dumps({"type": "batch", "readings": readings}))
        assert json.loads(await ws.recv()) == {"type": "ack", "seqs": list(range(41))}

    def mine(v: dict) -> bool:
        return v.get("patient") == "MRN-0077"

    await read_topic(
        kafka.bootstrap,
        "vigil.alerts",
        lambda r, v: mine(v) and v.get("kind") == "no_signal" and v["evidence"]["signal"] == "restored",
    )
    events = alerts_of(vigil, mine, until=lambda seen: sum(e["kind"] == "no_signal" for e in seen) >= 4)
    notices = [(e["evidence"]["vital"], e["evidence"]["signal"], e["evidence"].get("cause")) for e in events]
    assert sorted(notices) == sorted(
        (vital, signal, "motion") for vital in ("heart_rate", "spo2") for signal in ("lost", "restored")
    ), vigil.log("worker")[-3000:]
    flagged_from = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((start + 30 * 60_000) / 1000))
    assert all(e["evidence"]["since"].startswith(flagged_from) for e in events)
    assert len({e["alert_id"] for e in events}) == 2  # one per channel's run: lost and restored share it
    assert not [e for e in events if e["status"] in ("open", "escalated")]  # a notice, not an alarm


def alerts_of(vigil, predicate, until, flag: str = "--json") -> list[dict]:
    """The lines `vigil alerts --from-beginning FLAG` prints that match, once
    `until` holds for them."""
    tail = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "alerts", "--from-beginning", flag],
        env=vigil.env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    seen: list[dict] = []
    stop = threading.Timer(60, tail.terminate)  # never wait for ever: the assertion below says what came
    stop.start()
    try:
        for line in tail.stdout:
            event = json.loads(line)
            if predicate(event):
                seen.append(event)
                if until(seen):
                    return seen
        raise AssertionError(f"only {seen}")
    finally:
        stop.cancel()
        tail.terminate()
        assert tail.wait(30) == 0


@pytest.mark.vigil_env(VIGIL_NEWS2_SUSTAIN_S="0")
async def test_a_weekly_rhythm_stops_alerting_once_it_has_come_round_twice(vigil, kafka, services) -> None:
    """Another system writes five weeks of a custom metric to `vigil.readings`
    (docs/protocol.md: version 1 records keyed by the patient's pseudonym),
    one record a day, a reading every 10 minutes, the weekend 20 % lower. The
    worker alerts at the first weekends' edges and, once the weekly profile
    is in use, at no later one (docs/evaluation.md, "A weekly profile")."""
    vigil.run("devices", "add", "weekly-feed", "--patient", "WEEKLY-PATIENT")
    subject = pseudonym(bytes.fromhex((vigil.home / "pseudonym.key").read_text()), "WEEKLY-PATIENT")
    day_ms, step = 86_400_000, 600_000
    today = int(time.time() * 1000) // day_ms
    monday = (today - 42 - weekday(today * day_ms)) * day_ms  # a Monday 00:00 UTC six weeks ago
    rng = random.Random(11)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await producer.start()
    try:
        seq = 0
        for day in range(35):
            readings = []
            for t in range(monday + day * day_ms, monday + (day + 1) * day_ms, step):
                readings.append(Reading(seq, t, {CHANNEL: value(rng, t)}))
                seq += 1
            if day == 34:  # the end, marked by a reading NEWS2 alerts on at once
                readings.append(Reading(seq, readings[-1].ts_ms + 60_000, {"heart_rate": 146, "spo2": 84}))
            record = encode_readings("weekly-feed", subject, readings[-1].ts_ms + 1_000, readings)
            await producer.send_and_wait(
                "vigil.readings", record, key=subject.encode(), partition=partition_for(subject.encode(), 4)
            )
    finally:
        await producer.stop()

    events = alerts_of(
        vigil,
        lambda e: e["patient"] == "WEEKLY-PATIENT",
        lambda seen: any(e["kind"] == "news2" and e["status"] == "open" for e in seen),
    )
    edges = {
        week: [
            e for e in events
            if e["kind"] == "anomaly" and e["status"] == "open"
            and any(
                edge <= iso_ms(e["event_time"]) < edge + 2 * 3_600_000
                for edge in (monday + (7 * week + 5) * day_ms, monday + 7 * (week + 1) * day_ms)
            )
        ]
        for week in range(5)
    }  # fmt: skip
    assert edges[0], f"the first weekend alerts at its edges: {events}"
    assert edges[2] == edges[3] == edges[4] == [], edges


async def test_a_patients_two_devices_are_one_patient_and_one_low_value_does_not_alarm(
    vigil, kafka, services
) -> None:
    """An ECG monitor and a pulse oximeter registered to one patient, each
    with its own connection, sending a minute apart from each other's
    readings by 10 s: one patient's state. One SpO2 value of 84 % between
    97s is not an alarm (the ECG's readings after it say nothing of the
    SpO2: docs/alerts.md, lifecycle); a fall to 84 % that lasts opens a
    NEWS2 alert at the oximeter's second low value, naming the oximeter."""
    tokens = {}
    for device in ("ecg-12", "oximeter-12"):
        added = vigil.run("devices", "add", device, "--patient", "MRN-0512")
        tokens[device] = json.loads(added.stdout)["token"]
    start = int(time.time() * 1000) - 61 * 60_000
    headers = {device: {"Authorization": f"Bearer {token}"} for device, token in tokens.items()}
    async with (
        connect(vigil.ws_url, additional_headers=headers["ecg-12"]) as ecg,
        connect(vigil.ws_url, additional_headers=headers["oximeter-12"]) as oximeter,
    ):
        for minute in range(60):
            ts = start + minute * 60_000
            ecg_vitals = {"heart_rate": 74 + minute % 3, "respiratory_rate": 15}
            await ecg.send(json.dumps({"type": "reading", "seq": minute, "ts": ts, "vitals": ecg_vitals}))
            assert json.loads(await ecg.recv()) == {"type": "ack", "seq": minute}
            spo2 = 84 if minute == 40 or minute >= 50 else 97
            reading = {"type": "reading", "seq": minute, "ts": ts + 10_000, "vitals": {"spo2": spo2}}
            await oximeter.send(json.dumps(reading))
            assert json.loads(await oximeter.recv()) == {"type": "ack", "seq": minute}

    opened = await read_topic(
        kafka.bootstrap,
        "vigil.alerts",
        lambda r, v: (
            v.get("patient") == "MRN-0512" and v.get("kind") == "news2" and v.get("status") == "open"
        ),
    )
    assert opened, vigil.log("worker")[-3000:]
    first = opened[0]["value"]
    assert iso_ms(first["event_time"]) == start + 51 * 60_000 + 10_000  # not minute 41: one value is no alarm
    assert first["device_id"] == "oximeter-12"
    assert first["evidence"]["vitals"] == {"spo2": 84}
