"""Port 0: `vigil gateway` and `vigil worker` bind the ports the system
chooses and report them (their start-up log line, and `--ports-file`)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest
from websockets.asyncio.client import connect

from app.infra import ports
from tests.conftest import ROOT, stop, wait_ready

pytestmark = pytest.mark.integration


def start(vigil, command: str, ports_file, **env: str) -> subprocess.Popen[bytes]:
    log = open(vigil.home / f"{command}.log", "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", command, "--ports-file", str(ports_file)],
        env={**vigil.env, **env},
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def test_a_gateway_on_port_0_serves_on_the_ports_it_reports(vigil, tmp_path) -> None:
    token = json.loads(vigil.run("devices", "add", "dev-p0", "--patient", "P-P0").stdout)["token"]
    ports_file = tmp_path / "gateway-ports.json"
    proc = start(vigil, "gateway", ports_file, VIGIL_GATEWAY_PORT="0", VIGIL_GATEWAY_HTTP_PORT="0")
    try:
        reported = ports.wait(ports_file, proc, timeout=120)
        assert reported is not None, vigil.log("gateway")[-2000:]
        assert sorted(reported) == ["http", "ws"] and 0 not in reported.values()
        wait_ready(f"http://127.0.0.1:{reported['http']}/readyz", proc)
        headers = {"Authorization": f"Bearer {token}"}
        async with connect(f"ws://127.0.0.1:{reported['ws']}/v1", additional_headers=headers) as ws:
            await ws.send(json.dumps({"type": "hello"}))
            assert json.loads(await ws.recv())["type"] == "hello"
        lines = vigil.log("gateway").splitlines()
        listening = [json.loads(line) for line in lines if "gateway listening" in line]
        assert listening[0]["ws"] == f"ws://127.0.0.1:{reported['ws']}"
        assert listening[0]["http"] == f"http://127.0.0.1:{reported['http']}"
    finally:
        assert stop(proc) == 0, vigil.log("gateway")[-2000:]


def test_a_worker_on_port_0_answers_readyz_on_the_port_it_reports(vigil, tmp_path) -> None:
    ports_file = tmp_path / "worker-ports.json"
    proc = start(vigil, "worker", ports_file, VIGIL_WORKER_WEB_PORT="0")
    try:
        reported = ports.wait(ports_file, proc, timeout=120)
        assert reported is not None, vigil.log("worker")[-2000:]
        assert list(reported) == ["web"] and reported["web"] != 0
        wait_ready(f"http://127.0.0.1:{reported['web']}/readyz", proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{reported['web']}/healthz", timeout=5) as response:
            assert response.read() == b"ok\n"
    finally:
        stop(proc)
