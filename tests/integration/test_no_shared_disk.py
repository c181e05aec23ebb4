"""Gateways and a worker that share no `VIGIL_HOME` (issue 15, item 1), on the
real Kafka: the device registry and the patient directory travel through
`vigil.devices` and `vigil.patients` (`VIGIL_REGISTRY=kafka`).

Two gateways and a worker run as separate processes, each with a home of
its own; `vigil devices` runs from a fourth. Devices are registered while
the gateways run, a reading sent through one gateway and another through the
other reach the worker, and the alert carries the patient reference the
worker learned from Kafka alone. A revocation closes the device's
connections on both gateways."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from app.infra.kafka_local import LocalKafka
from tests.conftest import ROOT, read_topic, reported_ports, stop, wait_ready

pytestmark = pytest.mark.integration

NORMAL = {"heart_rate": 74, "spo2": 97, "respiratory_rate": 15, "systolic_bp": 121, "temperature": 36.8}
ABNORMAL = {"heart_rate": 148, "spo2": 84, "respiratory_rate": 31, "systolic_bp": 84}


class Host:
    """One process's own environment: its own home, the shared Kafka and key."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.home = folder
        self.env = env | {"VIGIL_HOME": str(folder)}
        folder.mkdir()

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.home / "out.log", "ab")  # noqa: SIM115 - closed with the process
        command = [sys.executable, "-m", "app.cli", *args]
        return subprocess.Popen(command, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return (self.home / "out.log").read_text(errors="replace")


@pytest.fixture
def cluster(kafka: LocalKafka, tmp_path: Path) -> Iterator[dict[str, object]]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")} | {
        "VIGIL_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "VIGIL_REGISTRY": "kafka",
        "VIGIL_PSEUDONYM_KEY": secrets.token_hex(32),
        "VIGIL_LOG_FORMAT": "json",
        "VIGIL_WORKER_ID": f"vigil-test-{tmp_path.name}",
        "VIGIL_WORKER_STORE": "memory://",
    }
    base |= {"VIGIL_GATEWAY_PORT": "0", "VIGIL_GATEWAY_HTTP_PORT": "0", "VIGIL_WORKER_WEB_PORT": "0"}
    hosts = [Host(tmp_path / name, base) for name in ("gw1", "gw2", "worker")]
    admin = Host(tmp_path / "admin", base)
    commands = [("gateway", hosts[0]), ("gateway", hosts[1]), ("worker", hosts[2])]
    procs = [host.spawn(command, "--ports-file", str(host.home / "ports.json")) for command, host in commands]
    try:
        bound = [
            reported_ports(host.home / "ports.json", proc, host.home / "out.log")
            for (_, host), proc in zip(commands, procs, strict=True)
        ]
        gateways = [(hosts[i], f"ws://127.0.0.1:{bound[i]['ws']}/v1") for i in (0, 1)]
        for i in (0, 1):
            wait_ready(f"http://127.0.0.1:{bound[i]['http']}/readyz", procs[i], timeout=60)
        wait_ready(f"http://127.0.0.1:{bound[2]['web']}/readyz", procs[2], timeout=90)
        yield {"gateways": gateways, "worker": hosts[2], "admin": admin, "procs": procs}
    finally:
        codes = [stop(p) for p in procs]
    assert codes[:2] == [0, 0], hosts[0].log()[-2000:] + hosts[1].log()[-2000:]


def _add(admin: Host, device_id: str, patient: str) -> str:
    done = admin.run("devices", "add", device_id, "--patient", patient)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["token"]


async def _connect(url: str, token: str, within: float = 15.0):  # noqa: ANN202 - a websockets connection
    """A new device is known to a gateway moments after `vigil devices add`:
    retry a refused handshake for a little while."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await connect(url, additional_headers={"Authorization": f"Bearer {token}"})
        except InvalidStatus:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _send(ws, seq: int, ts: int, vitals: dict) -> None:  # noqa: ANN001
    await ws.send(json.dumps({"type": "reading", "seq": seq, "ts": ts, "vitals": vitals}))
    assert json.loads(await ws.recv()) == {"type": "ack", "seq": seq}


async def test_two_gateways_and_a_worker_share_only_kafka(cluster, kafka, tmp_path: Path) -> None:
    (gw1, url1), (gw2, url2) = cluster["gateways"]
    admin: Host = cluster["admin"]
    device, patient = f"bed-{tmp_path.name}"[-60:], f"MRN-{secrets.token_hex(4)}"
    token = _add(admin, device, patient)  # while the gateways and the worker run

    start = int(time.time() * 1000) - 31 * 60_000
    ws = await _connect(url1, token)
    for seq in range(30):
        await _send(ws, seq, start + seq * 60_000, NORMAL)
    await ws.close()
    ws = await _connect(url2, token)
    await _send(ws, 30, int(time.time() * 1000), ABNORMAL)
    await ws.close()

    alerts = await read_topic(
        kafka.bootstrap,
        "vigil.alerts",
        lambda r, v: v.get("device_id") == device and v.get("kind") == "news2" and v.get("status") == "open",
    )
    assert alerts and alerts[0]["value"]["patient"] == patient  # the worker learned it from vigil.patients

    # No host has a registry file, and the gateways' topic has no patient identifier.
    for host in (gw1, gw2, cluster["worker"], admin):
        assert not (host.home / "devices.json").exists()
    registered = await read_topic(kafka.bootstrap, "vigil.devices", lambda r, v: v.get("device_id") == device)
    assert registered and patient not in json.dumps(registered[0]["value"])
    listed = [json.loads(line) for line in admin.run("devices", "list").stdout.splitlines()]
    assert {"device_id": device, "patient": patient, "revoked": False} in [
        {k: d[k] for k in ("device_id", "patient", "revoked")} for d in listed
    ]


async def test_a_revocation_closes_the_device_on_every_gateway(cluster, tmp_path: Path) -> None:
    (_, url1), (_, url2) = cluster["gateways"]
    admin: Host = cluster["admin"]
    device = f"rev-{tmp_path.name}"[-60:]
    token = _add(admin, device, f"MRN-{secrets.token_hex(4)}")
    first, second = await _connect(url1, token), await _connect(url2, token)

    revoked_at = time.monotonic()
    done = admin.run("devices", "revoke", device)
    assert done.returncode == 0, done.stderr
    for ws in (first, second):
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 20)
        assert ws.close_code == 4003
    assert time.monotonic() - revoked_at < 10  # the re-check runs every second
    with pytest.raises(InvalidStatus) as refused:
        await connect(url1, additional_headers={"Authorization": f"Bearer {token}"})
    assert refused.value.response.status_code == 401
