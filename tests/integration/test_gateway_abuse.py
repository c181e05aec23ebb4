"""Issue 10 against the real gateway process and real Kafka: a device cannot
lose acknowledged data (seq reuse), starve the gateway (floods), leak its
patient onto `vigil.rejected`, break revocation (registry errors) or close
its own connection with parseable input; and readiness follows Kafka."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import struct
import time
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus

from app.infra.kafka_local import LocalKafka
from app.infra.settings import Settings
from app.tools.simulate import DeviceClient
from tests.conftest import frames_of, ready, stop, wait_ready
from tests.integration.test_gateway import add_device, all_records, auth, drain, kafka_bootstrap, replies

pytestmark = pytest.mark.integration

TS = int(time.time() * 1000)
VITALS = {"heart_rate": 70, "spo2": 98}


def reading(seq: int, hr: int = 70, **extra) -> dict:
    return {"type": "reading", "seq": seq, "ts": TS, "vitals": {**VITALS, "heart_rate": hr}, **extra}


def start_gateway(vigil, name: str = "gateway", **env: str):
    vigil.env.update(VIGIL_DEVICE_RATE="50", VIGIL_DEVICE_BURST="100", VIGIL_CREDENTIAL_CHECK_S="0.2")
    vigil.env.update({f"VIGIL_{k}": v for k, v in env.items()})
    proc = vigil.spawn("gateway", log_name=name)
    wait_ready(vigil.http_url + "/readyz", proc)
    return proc


@pytest.fixture
def gateway(vigil):
    proc = start_gateway(vigil)
    yield proc
    assert stop(proc) == 0, vigil.log("gateway")[-3000:]


async def stored(vigil, device_id: str) -> dict[int, list[dict]]:
    """seq -> every reading stored under it on vigil.readings for `device_id`."""
    found: dict[int, list[dict]] = {}
    from app.infra.topics import from_start, read_to_end

    def keep(records) -> None:
        for r in records:
            for value in frames_of(json.loads(r.value)):
                if value["device_id"] != device_id:
                    continue
                for item in value["readings"]:
                    found.setdefault(item["seq"], []).append(item)

    consumer = from_start(Settings(kafka_bootstrap=kafka_bootstrap(vigil)), "vigil.readings")
    await consumer.start()
    try:
        await read_to_end(consumer, "vigil.readings", keep)
    finally:
        await consumer.stop()
    return found


def metric(vigil, name: str) -> float:
    with urllib.request.urlopen(vigil.http_url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


async def wait_for(condition, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(condition):
            return True
        await asyncio.sleep(interval)
    return False


# -- item 3: nothing acknowledged is lost ------------------------------------------------


async def test_a_device_that_resets_its_seq_gets_seq_reused_never_a_false_ack(vigil, gateway) -> None:
    """Written from docs/protocol.md alone: send, lose the counter, reconnect."""
    token = add_device(vigil, "dev-reset", "P-R")
    async with connect(vigil.ws_url, additional_headers=auth(token)) as ws:
        await ws.send(json.dumps({"type": "batch", "readings": [reading(s, 60 + s) for s in range(10)]}))
        assert (await replies(ws, 1))[0] == {"type": "ack", "seqs": list(range(10))}
    async with connect(vigil.ws_url, additional_headers=auth(token)) as ws:  # the battery was changed
        await ws.send(json.dumps({"type": "batch", "readings": [reading(s, 90 + s) for s in range(3)]}))
        got = await replies(ws, 3)
        assert [(r["type"], r["code"], r["seq"]) for r in got] == [
            ("error", "seq_reused", s) for s in (0, 1, 2)
        ]
        await ws.send(json.dumps(reading(5, 65)))  # a true resend is still recognised
        assert (await replies(ws, 1))[0] == {"type": "ack", "seq": 5}
        # what the protocol says to do: hello, then renumber above last_seq
        await ws.send(json.dumps({"type": "hello"}))
        hello = (await replies(ws, 1))[0]
        assert (hello["last_seq"], hello["gaps"]) == (9, [])
        renumbered = [reading(hello["last_seq"] + 1 + i, 90 + i) for i in range(3)]
        await ws.send(json.dumps({"type": "batch", "readings": renumbered}))
        assert (await replies(ws, 1))[0] == {"type": "ack", "seqs": [10, 11, 12]}
    found = await stored(vigil, "dev-reset")
    assert sorted(found) == list(range(13)) and all(len(v) == 1 for v in found.values())
    rates = [found[s][0]["vitals"]["heart_rate"] for s in range(13)]
    assert rates == [60 + s for s in range(10)] + [90, 91, 92]


async def test_a_device_whose_clock_is_ahead_shows_on_the_gateways_metrics(vigil, gateway) -> None:
    """A device 60 s ahead of the gateway: its readings are accepted (up to 5
    minutes ahead), the hello reply's `gateway_ts` lets it see by how much,
    and `vigil_gateway_reading_age_seconds` counts its frames below -10 s,
    which VigilDeviceClocksAhead reads; a device on time counts none."""
    ahead = 'vigil_gateway_reading_age_seconds_bucket{le="-10.0"}'
    before = metric(vigil, ahead)
    token = add_device(vigil, "dev-clock", "P-CLOCK")
    async with connect(vigil.ws_url, additional_headers=auth(token)) as ws:
        await ws.send(json.dumps({"type": "hello"}))
        offset_ms = time.time() * 1000 + 60_000 - (await replies(ws, 1))[0]["gateway_ts"]
        assert 55_000 < offset_ms < 65_000  # what its firmware would learn
        for seq in range(3):
            future = int(time.time() * 1000) + 60_000
            await ws.send(json.dumps({**reading(seq), "ts": future}))
            assert (await replies(ws, 1))[0] == {"type": "ack", "seq": seq}
    assert metric(vigil, ahead) == before + 3
    on_time = add_device(vigil, "dev-clock-ok", "P-CLOCK-OK")
    async with connect(vigil.ws_url, additional_headers=auth(on_time)) as ws:
        await ws.send(json.dumps({**reading(0), "ts": int(time.time() * 1000)}))
        assert (await replies(ws, 1))[0] == {"type": "ack", "seq": 0}
    assert metric(vigil, ahead) == before + 3
    # which device: `vigil devices clocks`, from the frames on vigil.readings
    listed = [
        json.loads(line) for line in vigil.run("devices", "clocks", "--minutes", "5").stdout.splitlines()
    ]
    clocks = {row["device_id"]: row for row in listed}
    assert clocks["dev-clock"]["ahead"] and -65 < clocks["dev-clock"]["age_s_min"] < -55
    assert not clocks["dev-clock-ok"]["ahead"] and listed[0]["device_id"] == "dev-clock"


async def test_seqs_above_two_to_the_53_are_refused(vigil, gateway) -> None:
    token = add_device(vigil, "dev-big", "P-BIG")
    async with connect(vigil.ws_url, additional_headers=auth(token)) as ws:
        await ws.send(json.dumps(reading(2**63 - 1)))
        assert (await replies(ws, 1))[0]["code"] == "out_of_range"
        await ws.send(json.dumps(reading(2**53 - 1)))
        assert (await replies(ws, 1))[0] == {"type": "ack", "seq": 2**53 - 1}


async def test_a_second_simulator_run_after_a_restart_loses_nothing(vigil, gateway) -> None:
    acked = 0
    for run in range(2):
        if run == 1:  # the whole thing restarts: simulator and gateway
            assert stop(gateway) == 0
            gateway = start_gateway(vigil, name="gateway2")
        done = vigil.run("simulate", "--devices", "3", "--duration", "4")
        summary = done.stderr.strip().splitlines()[-1]
        sent, ok = (int(w) for w in re.findall(r"sent (\d+) readings, (\d+) acknowledged", summary)[0])
        assert sent > 10 and ok >= sent - 6, summary
        acked += ok
    try:
        kept = 0
        # Each run's devices are its own (`simulate-<run>-<n>`: a run re-creates 40 minutes of
        # history, which the devices of the run before would send as a clock stepped back).
        last = int((Settings.from_env(vigil.env).home / "simulated-runs").read_text())
        for device in (f"simulate-{r}-{n:04d}" for r in (last - 1, last) for n in (1, 2, 3)):
            kept += len(await stored(vigil, device))  # distinct seqs: one per reading
        assert kept >= acked  # today: the second run's first readings were acked and dropped
    finally:
        assert stop(gateway) == 0


async def test_vigil_simulate_beside_vigil_ups_fleet_leaves_its_devices_connected(vigil, gateway) -> None:
    """`vigil up --simulate` runs its fleet as devices `sim-<n>`; a `vigil
    simulate` started beside it (an operator's first hour) registered the
    same ids afresh, and the running fleet's devices were refused (401) from
    then on, reconnecting forever, while its summary said "errors none".
    Now `vigil simulate`'s devices are `simulate-<run>-<n>` (and `vigil
    up`'s `sim-<run>-<n>`, new each run); and a refused handshake is
    counted in the summary's errors."""
    from app.cli import up

    vigil.port("gateway", "ws")  # the gateway's ports into vigil.env
    settings = Settings.from_env(vigil.env)
    stop_event = asyncio.Event()
    fleet = asyncio.ensure_future(up.simulate_fleet(settings, 2, 60.0, stop_event))  # as `vigil up` runs it
    await asyncio.sleep(2)
    beside = await asyncio.to_thread(vigil.run, "simulate", "--devices", "2", "--duration", "3")
    await asyncio.sleep(2)
    stop_event.set()
    stats = await fleet
    assert "acknowledged; errors none" in beside.stderr, beside.stderr
    assert not stats.errors and stats.acked >= stats.sent - 4, stats
    run = int(
        (settings.home / "simulated-runs").read_text()
    )  # `vigil simulate`'s; the fleet's the one before
    assert len(await stored(vigil, f"sim-{run - 1}-0001")) > 0
    assert len(await stored(vigil, f"simulate-{run}-0001")) > 0

    client = DeviceClient(vigil.ws_url, "vgl_not-a-token")
    stop_event = asyncio.Event()
    running = asyncio.ensure_future(client.run(stop_event))
    await asyncio.sleep(1.5)
    stop_event.set()
    await running
    assert client.stats.errors.get("http_401", 0) >= 1, client.stats


async def test_the_reference_client_renumbers_a_reused_seq_and_loses_nothing(vigil, gateway) -> None:
    token = add_device(vigil, "dev-client", "P-C")
    async with connect(vigil.ws_url, additional_headers=auth(token)) as ws:  # someone else used seqs 0..4
        await ws.send(json.dumps({"type": "batch", "readings": [reading(s) for s in range(5)]}))
        await replies(ws, 1)
    client = DeviceClient(vigil.ws_url, token, track_acks=True)
    stop_event = asyncio.Event()
    running = asyncio.ensure_future(client.run(stop_event))
    for i in range(5):  # queued before the first hello reply: numbered after it, from 5 on
        await client.send(TS + i, {"heart_rate": 80 + i})
    deadline = time.monotonic() + 20
    while (client.pending or not client.numbered) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    # Now the counter goes back (a firmware bug): the gateway refuses, the client renumbers.
    client.next_seq = 2
    for i in range(3):
        await client.send(TS + 10 + i, {"heart_rate": 100 + i})
    while client.pending and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    stop_event.set()
    await running
    assert client.pending == 0 and client.stats.errors.get("seq_reused", 0) == 3
    found = await stored(vigil, "dev-client")
    rates = sorted(r["vitals"]["heart_rate"] for readings in found.values() for r in readings)
    assert rates == [70] * 5 + [80, 81, 82, 83, 84, 100, 101, 102]


# -- item 4: one device cannot starve the gateway ----------------------------------------


async def test_a_hello_flood_gets_bounded_replies(vigil) -> None:
    proc = start_gateway(vigil, DEVICE_BURST="600")
    try:
        token = add_device(vigil, "dev-hello", "P-HF")
        async with connect(vigil.ws_url, additional_headers=auth(token)) as ws:
            for start in (0, 512):  # seqs 0, 2, ... 1022 stored: 511 gaps in the window
                evens = [reading(s) for s in range(start, start + 512, 2)]
                await ws.send(json.dumps({"type": "batch", "readings": evens}))
                assert (await replies(ws, 1))[0]["type"] == "ack"
            started = time.monotonic()
            for _ in range(400):
                await ws.send('{"type": "hello"}')
            got = await drain(ws)
            elapsed = time.monotonic() - started
    finally:
        assert stop(proc) == 0
    hellos = [r for r in got if r["type"] == "hello"]
    limited = [r for r in got if r.get("code") == "rate_limited"]
    assert hellos and all(len(r["gaps"]) == 256 for r in hellos)
    assert (hellos[0]["last_seq"], hellos[0]["gaps_from"], hellos[0]["gaps"][-1]) == (1022, 511, 1021)
    assert len(hellos) <= 600 - 512 + 50 * elapsed  # what is left of the burst, then the rate
    assert 1 <= len(limited) <= elapsed + 1  # one error frame a second
    assert len(hellos) + len(limited) < 400


async def test_an_invalid_frame_flood_is_summarised(vigil, gateway) -> None:
    token = add_device(vigil, "dev-junk", "P-J")
    started = time.monotonic()
    async with connect(vigil.ws_url, additional_headers=auth(token)) as ws:
        for _ in range(500):
            await ws.send("{oops")
        got = await drain(ws)
    elapsed = time.monotonic() - started
    assert len(got) <= 100 + 50 * elapsed + elapsed + 1

    def counted(records: list[dict]) -> int:
        return sum(r["counts"]["rate_limited"] if r["kind"] == "summary" else 1 for r in records)

    deadline = time.monotonic() + 10
    records = await all_records(kafka_bootstrap(vigil), "vigil.rejected", "dev-junk")
    while counted(records) < 500 and time.monotonic() < deadline:  # the last summary may be on its way
        records = await all_records(kafka_bootstrap(vigil), "vigil.rejected", "dev-junk")
    one_by_one = [r for r in records if r["kind"] == "rejection"]
    summaries = [r for r in records if r["kind"] == "summary"]
    assert len(one_by_one) <= 100 + 50 * elapsed and len(summaries) <= elapsed + 2
    assert counted(records) == 500


def _rss_mb(pid: int) -> float:
    status = open(f"/proc/{pid}/status").read()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]


def _ping_flood(ws_url: str, token: str, pings: int) -> str:
    """Handshake by hand, then `pings` ping frames, never reading the socket
    (a small receive buffer: the pongs cannot go anywhere); how it ended."""
    host, port = ws_url.removeprefix("ws://").split("/")[0].rsplit(":", 1)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /v1 HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {token}\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert b" 101 " in head.split(b"\r\n")[0], head
    ping = struct.pack("!BB", 0x89, 0x80 | 125) + b"\0\0\0\0" + b"x" * 125  # masked with a zero key
    sock.settimeout(10)
    try:
        for _ in range(pings // 1000):
            sock.sendall(ping * 1000)
        return "sent them all"
    except OSError as error:
        return f"stopped: {type(error).__name__}"
    finally:
        sock.close()


async def test_a_ping_flood_is_closed_and_costs_other_devices_nothing(vigil, gateway) -> None:
    """An outside tester's firmware flooded pings and never read its socket:
    websockets answers each with a pong, which waited in the gateway's send
    buffer, and the pings went on being read: 1.5 GB in 28 s, every other
    device's acks 13 times slower. Pings beyond a burst of 20 and one a
    second close the connection (1008), and a peer that does not read what
    it is sent is not read either."""
    flooder, steady = add_device(vigil, "pinger", "P-PING"), add_device(vigil, "steady", "P-STEADY")
    before = _rss_mb(gateway.pid)
    async with connect(vigil.ws_url, additional_headers=auth(steady)) as ws:
        flood = asyncio.ensure_future(asyncio.to_thread(_ping_flood, vigil.ws_url, flooder, 1_500_000))
        waits = []
        for seq in range(1, 21):
            sent = time.monotonic()
            await ws.send(json.dumps(reading(seq)))
            assert (await replies(ws, 1))[0] == {"type": "ack", "seq": seq}
            waits.append(time.monotonic() - sent)
            await asyncio.sleep(0.05)
        ended = await flood
    grown = _rss_mb(gateway.pid) - before
    assert metric(vigil, 'vigil_gateway_frames_total{type="ping_refused"}') >= 1, (ended, grown)
    assert grown < 50, ended
    assert sorted(waits)[len(waits) // 2] < 0.5, waits

    # A client's own library, pinging 30 times at once, is told why.
    async with connect(vigil.ws_url, additional_headers=auth(flooder), ping_interval=None) as ws:
        for _ in range(30):
            await ws.ping()
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert closed.value.rcvd.reason == "too many pings"
    # A keep-alive (here twice a second for 3 s) is never refused.
    async with connect(vigil.ws_url, additional_headers=auth(flooder), ping_interval=None) as ws:
        for _ in range(6):
            await asyncio.wait_for(await ws.ping(), 5)
            await asyncio.sleep(0.5)
        await ws.send(json.dumps(reading(1)))
        assert (await replies(ws, 1))[0]["type"] == "ack"


async def test_a_device_reconnecting_in_a_loop_is_throttled_and_others_connect(vigil, gateway) -> None:
    """Two copies of one device (the docs warn of it) replace each other for
    ever: an outside tester's made 21,174 connections in 20 s, the gateway's
    CPU at 62 % and other devices' acks 20 times slower. A connection costs
    the device a twentieth of its burst of tokens: 20 at once (here, with
    the test gateway's burst of 100, 5 tokens each, refilled at 50 a
    second: 10 a second after), then 429 with a Retry-After."""
    looping, other = add_device(vigil, "looping", "P-LOOP"), add_device(vigil, "other", "P-OTHER")
    statuses = []
    for _ in range(40):
        try:
            async with connect(vigil.ws_url, additional_headers=auth(looping)):
                statuses.append(101)
        except InvalidStatus as refused:
            statuses.append(refused.response.status_code)
            assert int(refused.response.headers["Retry-After"]) >= 1
    assert statuses.count(101) >= 20 and 429 in statuses, statuses
    assert metric(vigil, 'vigil_gateway_handshakes_total{outcome="device_throttled"}') >= 1
    async with connect(vigil.ws_url, additional_headers=auth(other)) as ws:  # others are not held back
        await ws.send(json.dumps(reading(1)))
        assert (await replies(ws, 1))[0] == {"type": "ack", "seq": 1}


def _through_proxy(ws_url: str, client: str, token: str) -> int:
    """A handshake as haproxy passes it on (`send-proxy` v1, naming `client`);
    the HTTP status, or 0 when the gateway closed without one."""
    host, port = ws_url.removeprefix("ws://").split("/")[0].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            f"PROXY TCP4 {client} 10.0.0.2 50000 8765\r\n".encode()
            + f"GET /v1 HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {token}\r\n\r\n".encode()
        )
        head = sock.recv(200)
    return int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else 0


async def test_behind_a_proxy_each_clients_address_has_its_own_limits(vigil) -> None:
    """The shipped haproxy forwards TCP: every device had haproxy's address,
    so one client retrying a bad token had the gateway answer 429 to the whole
    fleet, and 64 idle connections held every device back. With the PROXY
    protocol the gateway reads each client's address from the header haproxy
    sends, and a connection without one (round the proxy) is closed."""
    proc = start_gateway(
        vigil, GATEWAY_PROXY_PROTOCOL="1", HANDSHAKE_FAILURE_BURST="5", HANDSHAKE_FAILURE_RATE="0.25"
    )
    try:
        good = add_device(vigil, "behind-proxy", "P-PROXY")
        client = "203.0.113.7"
        bad = [await asyncio.to_thread(_through_proxy, vigil.ws_url, client, "vgl_x") for _ in range(7)]
        assert bad == [401] * 5 + [429] * 2
        # another client behind the same proxy is not held back
        assert await asyncio.to_thread(_through_proxy, vigil.ws_url, "198.51.100.9", good) == 101
        with pytest.raises(InvalidMessage):  # closed before any answer
            async with connect(vigil.ws_url, additional_headers=auth(good), open_timeout=5):
                pass  # no header: not through the proxy
        assert metric(vigil, 'vigil_gateway_handshakes_total{outcome="no_proxy_header"}') >= 1
    finally:
        assert stop(proc) == 0


async def test_failed_handshakes_are_throttled_with_429(vigil) -> None:
    proc = start_gateway(vigil, HANDSHAKE_FAILURE_BURST="5", HANDSHAKE_FAILURE_RATE="0.25")
    try:
        good = add_device(vigil, "dev-good", "P-G")
        statuses = []
        for _ in range(7):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(vigil.ws_url, additional_headers=auth("vgl_wrong")):
                    pass
            statuses.append(refused.value.response.status_code)
        assert statuses == [401] * 5 + [429] * 2
        assert int(refused.value.response.headers["Retry-After"]) >= 1
        with pytest.raises(InvalidStatus) as same_source:  # the throttle is per source address
            async with connect(vigil.ws_url, additional_headers=auth(good)):
                pass
        assert same_source.value.response.status_code == 429
        await asyncio.sleep(3)  # one failure's worth of budget back (4 s after the fifth)
        async with connect(vigil.ws_url, additional_headers=auth(good)) as ws:
            await ws.send(json.dumps(reading(1)))
            assert (await replies(ws, 1))[0] == {"type": "ack", "seq": 1}
    finally:
        assert stop(proc) == 0


async def test_connections_that_never_handshake_are_capped_and_time_out(vigil) -> None:
    proc = start_gateway(vigil, MAX_HANDSHAKES_PER_SOURCE="3", HANDSHAKE_TIMEOUT_S="2")
    port = int(vigil.ws_url.rsplit(":", 1)[1].split("/")[0])
    try:
        silent = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        await asyncio.sleep(0.3)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)  # the fourth: closed at once
        assert await asyncio.wait_for(reader.read(100), 2) == b""
        writer.close()
        opened = time.monotonic()
        for reader, writer in silent:  # the three others: closed by the handshake timeout
            assert await asyncio.wait_for(reader.read(100), 10) == b""
            writer.close()
        assert 1.0 < time.monotonic() - opened < 8
        token = add_device(vigil, "dev-after", "P-A")
        async with connect(vigil.ws_url, additional_headers=auth(token)) as ws:
            await ws.send(json.dumps(reading(1)))
            assert (await replies(ws, 1))[0] == {"type": "ack", "seq": 1}
    finally:
        assert stop(proc) == 0


# -- item 5: nothing of the patient on vigil.rejected ------------------------------------


async def test_rejected_items_leave_no_patient_identifier_or_name(vigil, gateway) -> None:
    token = add_device(vigil, "dev-priv", "MRN-PRIV-1")
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "identifier": [{"system": "urn:vigil:seq", "value": "1"}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": "Patient/MRN-PRIV-1", "display": "Ada Privatename"},
        "effectiveDateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "valueQuantity": {"value": 999, "code": "/min"},
    }
    async with connect(vigil.ws_url, additional_headers=auth(token)) as ws:
        await ws.send(json.dumps(observation))
        await ws.send(json.dumps({**reading(2, patient="MRN-PRIV-2"), "name": "Ada Privatename"}))
        await ws.send(json.dumps({**reading(3, patient="MRN-PRIV-1"), "ts": "yesterday"}))
        got = await replies(ws, 3)
    assert [r["code"] for r in got] == ["out_of_range", "unauthorized", "bad_timestamp"]
    deadline = time.monotonic() + 15
    records: list[dict] = []
    while len(records) < 3 and time.monotonic() < deadline:
        records = await all_records(kafka_bootstrap(vigil), "vigil.rejected", "dev-priv")
    assert [(r["seq"], r["code"], r["field"]) for r in records] == [
        (1, "out_of_range", "valueQuantity"),
        (2, "unauthorized", "patient"),
        (3, "bad_timestamp", "ts"),
    ]
    text = json.dumps(records)
    assert "PRIV" not in text and "Privatename" not in text and token not in text
    assert all(re.fullmatch(r"[0-9a-f]{16}", r["fingerprint"]) for r in records)


# -- item 6: revocation survives a broken registry ---------------------------------------


async def test_revocation_survives_an_unreadable_registry(vigil, gateway) -> None:
    token = add_device(vigil, "dev-keep", "P-K")
    other = add_device(vigil, "dev-other", "P-O")
    registry = vigil.home / "devices.json"
    good = registry.read_bytes()
    async with connect(vigil.ws_url, additional_headers=auth(token)) as ws:
        registry.write_bytes(good[: len(good) // 2])  # a hand edit gone wrong
        assert await wait_for(lambda: metric(vigil, "vigil_gateway_registry_errors_total") > 0, 10)
        with pytest.raises(InvalidStatus) as refused:
            async with connect(vigil.ws_url, additional_headers=auth(other)):
                pass
        assert refused.value.response.status_code == 503
        assert refused.value.response.headers["Retry-After"] == "5"
        await ws.send(json.dumps(reading(1)))  # open connections carry on
        assert (await replies(ws, 1))[0] == {"type": "ack", "seq": 1}
        registry.write_bytes(good)  # fixed; then the device is revoked
        vigil.run("devices", "revoke", "dev-keep")
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == 4003
    async with connect(vigil.ws_url, additional_headers=auth(other)) as ws:
        await ws.send(json.dumps(reading(1)))
        assert (await replies(ws, 1))[0] == {"type": "ack", "seq": 1}
    assert "Traceback" not in vigil.log("gateway")


# -- item 7: parseable input never closes the connection --------------------------------


async def test_deep_nesting_and_foreign_digits_are_refused_alone(vigil, gateway) -> None:
    token = add_device(vigil, "dev-deep", "P-D")
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def observation(seq: str) -> dict:
        return {
            "resource": {
                "resourceType": "Observation",
                "identifier": [{"system": "urn:vigil:seq", "value": seq}],
                "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                "effectiveDateTime": iso,
                "valueQuantity": {"value": 72, "code": "/min"},
            }
        }

    async with connect(vigil.ws_url, additional_headers=auth(token)) as ws:
        for depth in (255, 600, 1000):
            deep = "[" * depth + "1" + "]" * depth
            items = [reading(depth), {**reading(depth + 1), "vitals": "DEEP"}, reading(depth + 2)]
            await ws.send(json.dumps({"type": "batch", "readings": items}).replace('"DEEP"', deep))
            got = await replies(ws, 2)
            assert {"type": "ack", "seqs": [depth, depth + 2]} in got
            assert any(r.get("code") == "wrong_type" and r["seq"] == depth + 1 for r in got)
        # superscript two (int() raises on it), Arabic-Indic three (int() takes it)
        for digits in ("\u00b2", "\u0663"):
            bundle = {"resourceType": "Bundle", "entry": [observation("2000"), observation(digits)]}
            await ws.send(json.dumps(bundle))
            got = await replies(ws, 2)
            assert {"type": "ack", "seqs": [2000]} in got
            assert any(r.get("code") == "wrong_type" and r["seq"] is None for r in got)
        await ws.send(json.dumps(reading(3000)))  # still open
        assert (await replies(ws, 1))[0] == {"type": "ack", "seq": 3000}
    assert "Traceback" not in vigil.log("gateway")


# -- item 8 (gateway half): readiness follows Kafka, with no traffic too ------------------


async def test_readiness_follows_kafka_without_traffic(vigil, tmp_path) -> None:
    broker = LocalKafka(tmp_path / "kafka")  # on ports it chooses
    broker.start(quiet=True)
    vigil.env.update(VIGIL_KAFKA_BOOTSTRAP=broker.bootstrap, VIGIL_KAFKA_PROBE_S="1")
    proc = vigil.spawn("gateway", log_name="gateway")
    try:
        wait_ready(vigil.http_url + "/readyz", proc)
        assert metric(vigil, "vigil_gateway_kafka_up") == 1
        await asyncio.to_thread(broker.stop)
        down = time.monotonic()
        assert await wait_for(lambda: not ready(vigil.http_url + "/readyz"), 15)
        assert time.monotonic() - down < 10
        assert metric(vigil, "vigil_gateway_kafka_up") == 0
        await asyncio.to_thread(broker.start, 90.0, True)
        assert await wait_for(lambda: ready(vigil.http_url + "/readyz"), 60)
        assert metric(vigil, "vigil_gateway_kafka_up") == 1
    finally:
        stop(proc)
        broker.stop()
