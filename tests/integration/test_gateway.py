"""The gateway as firmware meets it: real websocket clients, real gateway
process, real Kafka. Readings are checked on `vigil.readings` with a plain
Kafka consumer."""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import subprocess
import sys
import time

import pytest
import trustme
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from tests.conftest import ROOT, read_all, read_topic, stop, wait_ready

pytestmark = pytest.mark.integration

VITALS = {"heart_rate": 70, "spo2": 98}


@pytest.fixture
def gateway(vigil):
    vigil.env.update(
        VIGIL_DEVICE_RATE="50",
        VIGIL_DEVICE_BURST="100",
        VIGIL_CREDENTIAL_CHECK_S="0.2",
        VIGIL_MAX_CONNECTIONS="2",
    )
    proc = vigil.spawn("gateway", log_name="gateway")
    wait_ready(vigil.http_url + "/readyz", proc)
    yield proc
    assert stop(proc) == 0, vigil.log("gateway")[-3000:]


def add_device(vigil, device_id: str, patient: str) -> str:
    return json.loads(vigil.run("devices", "add", device_id, "--patient", patient).stdout)["token"]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# One time for every reading: a reading sent again is the same reading (a resend).
TS = int(time.time() * 1000)


def reading(seq: int, **extra) -> dict:
    return {"type": "reading", "seq": seq, "ts": TS, "vitals": VITALS, **extra}


async def replies(ws, n: int) -> list[dict]:
    return [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(n)]


async def stored_seqs(kafka, device_id: str, expect: int) -> list[int]:
    """Every seq of `device_id` on vigil.readings, once `expect` of them are there."""
    seqs: list[int] = []

    def match(record, value) -> bool:
        if value["device_id"] == device_id:
            seqs.extend(r["seq"] for r in value["readings"])
        return len(seqs) >= expect

    await read_topic(kafka.bootstrap, "vigil.readings", match, timeout=15)
    return sorted(seqs)


async def test_handshake_refusals(vigil, gateway) -> None:
    token = add_device(vigil, "dev-a", "P-A")
    for headers in ({}, {"Authorization": "Basic " + token}, auth("vgl_not-a-token")):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(vigil.ws_url, additional_headers=headers):
                pass
        assert refused.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as missing:
        async with connect(vigil.ws_url.replace("/v1", "/v2"), additional_headers=auth(token)):
            pass
    assert missing.value.response.status_code == 404


async def test_every_error_code_a_frame_can_earn(vigil, gateway) -> None:
    token = add_device(vigil, "dev-b", "P-B")
    now = int(time.time() * 1000)
    frames = {
        "malformed_json": "{oops",
        "unknown_type": json.dumps({"type": "telemetry"}),
        "missing_field": json.dumps({"type": "reading", "seq": 1, "ts": now}),
        "wrong_type": json.dumps({"type": "reading", "seq": "1", "ts": now, "vitals": VITALS}),
        "out_of_range": json.dumps({"type": "reading", "seq": 2, "ts": now, "vitals": {"spo2": 120}}),
        "bad_timestamp": json.dumps({"type": "reading", "seq": 3, "ts": now + 3600_000, "vitals": VITALS}),
        "batch_too_large": json.dumps({"type": "batch", "readings": [reading(i) for i in range(501)]}),
        "frame_too_large": json.dumps({**reading(4), "pad": "x" * 70_000}),
        "unauthorized": json.dumps(reading(5, patient="SOMEONE-ELSE")),
    }
    async with connect(vigil.ws_url, additional_headers=auth(token)) as ws:
        for code, frame in frames.items():
            await ws.send(frame)
            (reply,) = await replies(ws, 1)
            assert (reply["type"], reply["code"]) == ("error", code)
            assert "SOMEONE-ELSE" not in reply["message"] and "P-B" not in reply["message"]
    rejected = await read_topic(
        kafka_bootstrap(vigil), "vigil.rejected", lambda r, v: v["device_id"] == "dev-b" and v["seq"] == 5
    )
    assert rejected and token not in json.dumps([r["value"] for r in rejected])


def kafka_bootstrap(vigil) -> str:
    return vigil.env["VIGIL_KAFKA_BOOTSTRAP"]


async def all_records(bootstrap: str, topic: str, device_id: str) -> list[dict]:
    """Every record of `device_id` on `topic` (keyed by device) up to its end now, decoded."""
    return [r["value"] for r in await read_all(bootstrap, topic) if r["key"] == device_id.encode()]


async def test_batch_with_a_bad_reading_and_a_resend_after_reconnect(vigil, kafka, gateway) -> None:
    token = add_device(vigil, "dev-c", "P-C")
    async with connect(vigil.ws_url, additional_headers=auth(token)) as ws:
        asked = time.time() * 1000
        await ws.send(json.dumps({"type": "hello"}))
        hello = (await replies(ws, 1))[0]
        assert asked - 1000 <= hello.pop("gateway_ts") <= time.time() * 1000 + 1000  # its clock
        assert hello == {"type": "hello", "protocol": 1, "last_seq": None, "gaps": [], "gaps_from": None}
        batch = [reading(i) for i in range(6)]
        batch[2] = {**batch[2], "vitals": {"heart_rate": 999}}
        await ws.send(json.dumps({"type": "batch", "readings": batch}))
        got = await replies(ws, 2)
        assert {"type": "ack", "seqs": [0, 1, 3, 4, 5]} in got
        assert any(r["type"] == "error" and r["seq"] == 2 and r["code"] == "out_of_range" for r in got)

    # Reconnect: the gateway says what it has; the device resends 3..6 anyway
    # (its acks for 3..5 were "lost"), and 6 is new.
    async with connect(vigil.ws_url, additional_headers=auth(token)) as ws:
        await ws.send(json.dumps({"type": "hello"}))
        hello = (await replies(ws, 1))[0]
        del hello["gateway_ts"]
        assert hello == {"type": "hello", "protocol": 1, "last_seq": 5, "gaps": [2], "gaps_from": 0}
        await ws.send(json.dumps({"type": "batch", "readings": [reading(i) for i in range(3, 7)]}))
        assert (await replies(ws, 1))[0] == {"type": "ack", "seqs": [3, 4, 5, 6]}
        await ws.send(json.dumps(reading(4)))
        assert (await replies(ws, 1))[0] == {"type": "ack", "seq": 4}

    assert await stored_seqs(kafka, "dev-c", expect=6) == [0, 1, 3, 4, 5, 6]


async def test_a_restarted_gateway_still_knows_what_is_stored(vigil, kafka, gateway) -> None:
    token = add_device(vigil, "dev-d", "P-D")
    async with connect(vigil.ws_url, additional_headers=auth(token)) as ws:
        await ws.send(json.dumps({"type": "batch", "readings": [reading(i) for i in range(10)]}))
        assert (await replies(ws, 1))[0]["seqs"] == list(range(10))
    assert stop(gateway) == 0
    second = vigil.spawn("gateway", log_name="gateway2")
    try:
        wait_ready(vigil.http_url + "/readyz", second)
        async with connect(vigil.ws_url, additional_headers=auth(token)) as ws:
            await ws.send(json.dumps({"type": "hello"}))
            assert (await replies(ws, 1))[0]["last_seq"] == 9
            await ws.send(json.dumps({"type": "batch", "readings": [reading(i) for i in range(8, 12)]}))
            assert (await replies(ws, 1))[0]["seqs"] == [8, 9, 10, 11]
    finally:
        assert stop(second) == 0
    assert await stored_seqs(kafka, "dev-d", expect=12) == list(range(12))


@pytest.mark.parametrize("action", ["rotate", "revoke"])
async def test_revoked_and_rotated_tokens_close_open_connections(vigil, gateway, action: str) -> None:
    token = add_device(vigil, f"dev-{action}", "P-E")
    async with connect(vigil.ws_url, additional_headers=auth(token)) as ws:
        vigil.run("devices", action, f"dev-{action}")
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 4003
    with pytest.raises(InvalidStatus) as refused:
        async with connect(vigil.ws_url, additional_headers=auth(token)):
            pass
    assert refused.value.response.status_code == 401


async def test_a_new_connection_replaces_the_old_one(vigil, gateway) -> None:
    token = add_device(vigil, "dev-g", "P-G")
    async with connect(vigil.ws_url, additional_headers=auth(token)) as first:
        async with connect(vigil.ws_url, additional_headers=auth(token)) as second:
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(first.recv(), 5)
            assert first.close_code == 4001
            await second.send(json.dumps(reading(1)))
            assert (await replies(second, 1))[0] == {"type": "ack", "seq": 1}


async def test_connection_cap_refuses_new_devices_but_not_reconnects(vigil, gateway) -> None:
    tokens = [add_device(vigil, f"dev-cap-{i}", f"P-CAP-{i}") for i in range(3)]
    async with (
        connect(vigil.ws_url, additional_headers=auth(tokens[0])),
        connect(vigil.ws_url, additional_headers=auth(tokens[1])),
    ):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(vigil.ws_url, additional_headers=auth(tokens[2])):
                pass
        assert refused.value.response.status_code == 503
        assert refused.value.response.headers["Retry-After"] == "5"
        async with connect(vigil.ws_url, additional_headers=auth(tokens[1])) as again:
            await again.send(json.dumps(reading(1)))
            assert (await replies(again, 1))[0] == {"type": "ack", "seq": 1}


async def drain(ws, quiet: float = 2.0) -> list[dict]:
    """Every frame the gateway sends until it has been quiet for `quiet` seconds."""
    got = []
    while True:
        try:
            got.append(json.loads(await asyncio.wait_for(ws.recv(), quiet)))
        except TimeoutError:
            return got


async def test_a_flooding_device_is_limited_and_others_are_not_slowed(vigil, gateway) -> None:
    flood_token = add_device(vigil, "dev-flood", "P-H")
    calm_token = add_device(vigil, "dev-calm", "P-I")
    async with (
        connect(vigil.ws_url, additional_headers=auth(flood_token)) as flood,
        connect(vigil.ws_url, additional_headers=auth(calm_token)) as calm,
    ):

        async def flood_it() -> list[dict]:
            for seq in range(400):
                await flood.send(json.dumps(reading(seq)))
            return await drain(flood)

        async def calm_readings() -> list[float]:
            latencies = []
            for seq in range(20):
                started = time.perf_counter()
                await calm.send(json.dumps(reading(seq)))
                assert (await replies(calm, 1))[0] == {"type": "ack", "seq": seq}
                latencies.append(time.perf_counter() - started)
                await asyncio.sleep(0.05)
            return latencies

        flooded, latencies = await asyncio.gather(flood_it(), calm_readings())
    limited = [r for r in flooded if r.get("code") == "rate_limited"]
    acked = [r for r in flooded if r["type"] == "ack"]
    assert 100 <= len(acked) < 350  # burst 100, then 50/s
    assert 1 <= len(limited) <= 10  # one error frame a second, not one per refused reading
    assert sorted(latencies)[len(latencies) // 2] < 0.5
    # vigil.rejected: a summary a second with counts, not a record per refused reading
    records = await all_records(kafka_bootstrap(vigil), "vigil.rejected", "dev-flood")
    assert records and {r["kind"] for r in records} == {"summary"} and len(records) <= 10
    assert sum(r["counts"]["rate_limited"] for r in records) == 400 - len(acked)


async def test_wss_with_a_locally_generated_ca(vigil, kafka, tmp_path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    vigil.env.update(VIGIL_TLS_CERT=str(tmp_path / "server.pem"), VIGIL_TLS_KEY=str(tmp_path / "server.pem"))
    proc = vigil.spawn("gateway", log_name="gateway-tls")
    try:
        wait_ready(vigil.http_url + "/readyz", proc)
        token = add_device(vigil, "dev-tls", "P-T")
        client = ssl.create_default_context()
        ca.configure_trust(client)
        url = vigil.ws_url.replace("ws://", "wss://")
        async with connect(url, ssl=client, additional_headers=auth(token)) as ws:
            await ws.send(json.dumps(reading(1)))
            assert (await replies(ws, 1))[0] == {"type": "ack", "seq": 1}
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        simulated = vigil.run(
            "simulate",
            "--devices",
            "2",
            "--duration",
            "4",
            env_extra={"VIGIL_TLS_CA": str(tmp_path / "ca.pem")},
        )
        summary = simulated.stderr.strip().splitlines()[-1]
        sent, acked = (int(w) for w in re.findall(r"sent (\d+) readings, (\d+) acknowledged", summary)[0])
        assert sent > 10 and acked >= sent - 4, summary  # the last few may be in flight at the end
        with pytest.raises(ssl.SSLCertVerificationError):  # an untrusting client refuses it
            async with connect(url, ssl=ssl.create_default_context(), additional_headers=auth(token)):
                pass
        with pytest.raises((OSError, ConnectionClosed, InvalidHandshake, asyncio.TimeoutError)):  # plain ws
            async with connect(vigil.ws_url, additional_headers=auth(token), open_timeout=3):
                pass
    finally:
        assert stop(proc) == 0


def test_plaintext_on_a_public_address_needs_an_opt_in(vigil) -> None:
    env = dict(vigil.env, VIGIL_GATEWAY_HOST="0.0.0.0")
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "gateway"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "without TLS" in result.stderr and "VIGIL_GATEWAY_ALLOW_PLAINTEXT" in result.stderr


async def test_fhir_bundle_through_the_gateway(vigil, kafka, gateway) -> None:
    token = add_device(vigil, "dev-fhir", "MRN-77")
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def temperature(seq: int, fahrenheit: float, patient: str) -> dict:
        return {
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "identifier": [{"system": "urn:vigil:seq", "value": str(seq)}],
                "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
                "subject": {"reference": f"Patient/{patient}"},
                "effectiveDateTime": iso,
                "valueQuantity": {
                    "value": fahrenheit,
                    "unit": "degF",
                    "system": "http://unitsofmeasure.org",
                    "code": "[degF]",
                },
            }
        }

    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [temperature(1, 101.3, "MRN-77"), temperature(2, 99, "MRN-78")],
    }
    async with connect(vigil.ws_url, additional_headers=auth(token)) as ws:
        await ws.send(json.dumps(bundle))
        got = await replies(ws, 2)
    assert {"type": "ack", "seqs": [1]} in got
    assert any(r.get("code") == "unauthorized" and r["seq"] == 2 for r in got)
    stored = await read_topic(kafka.bootstrap, "vigil.readings", lambda r, v: v["device_id"] == "dev-fhir")
    assert [(r["seq"], r["vitals"]) for r in stored[0]["value"]["readings"]] == [(1, {"temperature": 38.5})]


async def test_a_reconnect_while_readings_are_being_written_stores_each_once(vigil, kafka, gateway) -> None:
    """Firmware in the field: 30 readings sent one frame each, the socket
    dropped before their acks, a new connection at once, hello, and a resend
    of whatever hello did not count (found by a firmware writer's client:
    hello missed the readings still being written, and their resends were
    stored again, 30 duplicates in 5 trials of 6). Before the new connection
    reads a frame, the old one's writes settle: hello counts them, and each
    seq is stored once."""
    token = add_device(vigil, "dev-inflight", "P-IN")
    sent = {seq: {"type": "reading", "seq": seq, "ts": TS + seq, "vitals": VITALS} for seq in range(30)}
    first = await connect(vigil.ws_url, additional_headers=auth(token))
    for frame in sent.values():
        await first.send(json.dumps(frame))
    async with connect(vigil.ws_url, additional_headers=auth(token)) as ws:  # replaces the first at once
        await ws.send(json.dumps({"type": "hello"}))
        hello = (await replies(ws, 1))[0]
        have = set() if hello["last_seq"] is None else set(range(hello["gaps_from"], hello["last_seq"] + 1))
        resend = [f for seq, f in sent.items() if seq not in have or seq in hello["gaps"]]
        if resend:
            await ws.send(json.dumps({"type": "batch", "readings": resend}))
            assert (await replies(ws, 1))[0]["seqs"] == [f["seq"] for f in resend]
    await first.close()
    await asyncio.sleep(1)  # anything written twice would be on the topic by now
    records = await read_all(kafka_bootstrap(vigil), "vigil.readings")
    seqs = sorted(
        r["seq"]
        for rec in records
        if rec["value"]["device_id"] == "dev-inflight"
        for r in rec["value"]["readings"]
    )
    assert seqs == list(range(30)), f"hello {hello}; stored {seqs}"
