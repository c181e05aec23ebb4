"""Two gateways on one host behind one websocket port (`VIGIL_GATEWAY_REUSE_PORT`,
SO_REUSEPORT), each with a home of its own (`VIGIL_REGISTRY=kafka`): the
kernel spreads devices over both; when one is SIGKILLed its devices reconnect
to the same address, land on the other, and every reading acknowledged by
either is on `vigil.readings` (issue 15, item 4)."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app.infra import directory
from app.infra.kafka_local import LocalKafka
from app.infra.settings import Settings
from app.tools.simulate import DeviceClient, Stats
from tests.conftest import ROOT, read_all, reported_ports, stop, wait_ready

pytestmark = pytest.mark.integration

NORMAL = {"heart_rate": 74, "spo2": 97, "respiratory_rate": 15, "systolic_bp": 121, "temperature": 36.8}
DEVICES = 16


def _open_connections(http_url: str) -> float:
    with urllib.request.urlopen(f"{http_url}/metrics", timeout=5) as response:
        text = response.read().decode()
    found = re.search(r"^vigil_gateway_connections_open (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


async def test_two_gateways_share_a_port_and_take_over_each_others_devices(
    kafka: LocalKafka, tmp_path: Path
) -> None:
    # The shared port, held by a socket bound with SO_REUSEPORT (not listening:
    # it takes no connection) so that no other process takes it meanwhile.
    shared = socket.socket()
    shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    shared.bind(("127.0.0.1", 0))
    ws = shared.getsockname()[1]
    base = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")} | {
        "VIGIL_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "VIGIL_REGISTRY": "kafka",
        "VIGIL_PSEUDONYM_KEY": secrets.token_hex(32),
        "VIGIL_GATEWAY_PORT": str(ws),
        "VIGIL_GATEWAY_REUSE_PORT": "1",
        "VIGIL_LOG_FORMAT": "json",
    }
    gateways = []
    for name in ("gw1", "gw2"):
        env = base | {"VIGIL_HOME": str(tmp_path / name), "VIGIL_GATEWAY_HTTP_PORT": "0"}
        log = open(tmp_path / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        ports_file = tmp_path / f"{name}.ports.json"
        command = [sys.executable, "-m", "app.cli", "gateway", "--ports-file", str(ports_file)]
        proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        bound = reported_ports(ports_file, proc, tmp_path / f"{name}.log")
        assert bound["ws"] == ws
        gateways.append((proc, f"http://127.0.0.1:{bound['http']}"))
    clients: list[DeviceClient] = []
    stop_clients = asyncio.Event()
    running: list[asyncio.Future[None]] = []
    try:
        for proc, http_url in gateways:
            wait_ready(f"{http_url}/readyz", proc, timeout=60)
        settings = Settings.from_env(base | {"VIGIL_HOME": str(tmp_path / "admin")})
        names = {f"share-{tmp_path.name[-12:]}-{i}": f"MRN-S{i}" for i in range(DEVICES)}
        tokens = await directory.reissue(settings, names)
        url = f"ws://127.0.0.1:{ws}/v1"
        clients = [DeviceClient(url, tokens[d], stats=Stats(), track_acks=True) for d in names]
        running = [asyncio.ensure_future(c.run(stop_clients)) for c in clients]
        start = int(time.time() * 1000) - 600_000
        for step in range(40):
            for client in clients:
                await client.send(start + step * 1000, NORMAL)
            if step == 10:
                spread = [_open_connections(http_url) for _, http_url in gateways]
                assert sum(spread) == DEVICES and min(spread) > 0, spread  # both gateways serve devices
                gateways[0][0].kill()  # a crash: its devices reconnect and land on the other
            await asyncio.sleep(0.05)
        deadline = time.monotonic() + 60
        while any(c.unacked for c in clients) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        assert not [c for c in clients if c.unacked], "readings never acknowledged after the takeover"
        assert _open_connections(gateways[1][1]) == DEVICES
    finally:
        stop_clients.set()
        await asyncio.gather(*running, return_exceptions=True)
        for proc, _ in gateways:
            stop(proc)
        shared.close()
    assert all(len(c.acked_seqs or ()) == 40 for c in clients)
    stored: dict[str, set[int]] = {}
    for record in await read_all(kafka.bootstrap, "vigil.readings"):
        stored.setdefault(record["value"]["device_id"], set()).update(
            item["seq"] for item in record["value"]["readings"]
        )
    for device, client in zip(names, clients, strict=True):
        assert (client.acked_seqs or set()) <= stored.get(device, set()), device
