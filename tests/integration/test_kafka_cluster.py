"""Vigil on a three-broker KRaft cluster (`vigil kafka run --brokers 3`'s
`LocalCluster`), topics with three replicas and `min.insync.replicas` 2
(issue 15, item 3).

- One broker SIGKILLed mid-stream: every reading the gateway acknowledged is
  on `vigil.readings`.
- Two down: a write cannot reach two replicas, so the gateway acknowledges
  nothing and answers `unavailable`; with the brokers back, the device's
  resend is stored and the worker raises the alert."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.infra.kafka_local import LocalCluster, free_port
from app.tools.simulate import DeviceClient, Stats
from tests.conftest import ROOT, read_all, read_topic, stop, wait_ready

pytestmark = pytest.mark.integration

NORMAL = {"heart_rate": 74, "spo2": 97, "respiratory_rate": 15, "systolic_bp": 121, "temperature": 36.8}
ABNORMAL = {"heart_rate": 148, "spo2": 84, "respiratory_rate": 31, "systolic_bp": 84}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    ports = [(free_port(), free_port()) for _ in range(3)]
    brokers = LocalCluster(tmp_path_factory.mktemp("kafka-3"), 3, partitions=2, ports=ports)
    brokers.start(quiet=True)
    try:
        yield brokers
    finally:
        brokers.stop()


@pytest.fixture(scope="module")
def vigil_on_cluster(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    home = tmp_path_factory.mktemp("home-3")
    ws, http, web = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")} | {
        "VIGIL_HOME": str(home),
        "VIGIL_KAFKA_BOOTSTRAP": cluster.bootstrap,
        "VIGIL_REPLICATION_FACTOR": "3",
        "VIGIL_PARTITIONS": "2",
        "VIGIL_ACK_TIMEOUT_S": "5",
        "VIGIL_GATEWAY_PORT": str(ws),
        "VIGIL_GATEWAY_HTTP_PORT": str(http),
        "VIGIL_WORKER_WEB_PORT": str(web),
        "VIGIL_WORKER_ID": "vigil-cluster-test",
        "VIGIL_WORKER_STORE": "memory://",
        "VIGIL_LOG_FORMAT": "json",
    }

    def spawn(*args: str) -> subprocess.Popen[bytes]:
        log = open(home / f"{args[0]}.log", "ab")  # noqa: SIM115 - closed with the process
        command = [sys.executable, "-m", "app.cli", *args]
        return subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    gateway, worker = spawn("gateway"), spawn("worker")
    try:
        wait_ready(f"http://127.0.0.1:{http}/readyz", gateway, timeout=90)
        wait_ready(f"http://127.0.0.1:{web}/readyz", worker, timeout=120)
        yield {"env": env, "home": home, "url": f"ws://127.0.0.1:{ws}/v1"}
    finally:
        stop(gateway)
        stop(worker)


def _token(setup: dict, device: str, patient: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "devices", "add", device, "--patient", patient],
        env=setup["env"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )
    return json.loads(done.stdout)["token"]


async def _stored_seqs(bootstrap: str, device: str) -> set[int]:
    values = [r["value"] for r in await read_all(bootstrap, "vigil.readings")]
    mine = [v for v in values if v.get("device_id") == device]
    return {item["seq"] for value in mine for item in value["readings"]}


async def test_one_broker_killed_mid_stream_loses_nothing_acknowledged(cluster, vigil_on_cluster) -> None:
    token = _token(vigil_on_cluster, "cluster-kill-1", "MRN-C1")
    client = DeviceClient(vigil_on_cluster["url"], token, stats=Stats(), track_acks=True)
    stop_client = asyncio.Event()
    running = asyncio.ensure_future(client.run(stop_client))
    start = int(time.time() * 1000) - 600_000
    try:
        for i in range(300):
            await client.send(start + i * 1000, NORMAL)
            if i == 100:
                cluster.nodes[1].kill()  # mid-stream
            await asyncio.sleep(0.02)
        deadline = time.monotonic() + 90
        while client.unacked and time.monotonic() < deadline:
            await asyncio.sleep(0.5)  # the client resends what has no ack
        assert not client.unacked, f"{len(client.unacked)} readings never acknowledged"
    finally:
        stop_client.set()
        await running
        cluster.restart(1)
    acked = client.acked_seqs or set()
    assert len(acked) == 300
    stored = await _stored_seqs(cluster.bootstrap, "cluster-kill-1")
    assert acked <= stored, f"{len(acked - stored)} acknowledged readings not on vigil.readings"


async def test_with_two_brokers_down_nothing_is_acknowledged_until_they_return(
    cluster, vigil_on_cluster
) -> None:
    token = _token(vigil_on_cluster, "cluster-kill-2", "MRN-C2")
    headers = {"Authorization": f"Bearer {token}"}
    reading = {"type": "reading", "seq": 1, "ts": int(time.time() * 1000), "vitals": ABNORMAL}
    cluster.nodes[1].kill()
    cluster.nodes[2].kill()
    try:
        replies = []
        async with connect(vigil_on_cluster["url"], additional_headers=headers) as ws:
            await ws.send(json.dumps(reading))
            try:
                while True:
                    replies.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
            except ConnectionClosed:
                pass
        assert {"type": "error", "seq": 1, "code": "unavailable"}.items() <= replies[0].items(), replies
        assert not [r for r in replies if r.get("type") == "ack"], replies
    finally:
        cluster.restart(1)
        cluster.restart(2)

    deadline = time.monotonic() + 90
    acked = None
    while acked is None and time.monotonic() < deadline:  # the device resends until it has its ack
        try:
            async with connect(vigil_on_cluster["url"], additional_headers=headers) as ws:
                await ws.send(json.dumps(reading))
                reply = json.loads(await asyncio.wait_for(ws.recv(), 15))
                acked = reply if reply.get("type") == "ack" else None
        except (ConnectionClosed, OSError, TimeoutError):
            pass
        if acked is None:
            await asyncio.sleep(1)
    assert acked == {"type": "ack", "seq": 1}
    alerts = await read_topic(
        cluster.bootstrap, "vigil.alerts",
        lambda r, v: v.get("device_id") == "cluster-kill-2" and v.get("status") == "open", timeout=90,
    )
    assert alerts and alerts[0]["value"]["patient"] == "MRN-C2"
