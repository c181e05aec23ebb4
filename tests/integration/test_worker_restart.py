"""Per-patient state is durable: a worker killed mid-stream comes back with it."""

from __future__ import annotations

import json
import signal
import time

import pytest
from websockets.asyncio.client import connect

from app.core.records import pseudonym
from tests.conftest import read_topic, wait_ready

pytestmark = pytest.mark.integration


async def test_learned_baseline_survives_a_killed_worker(vigil, kafka, services) -> None:
    token = json.loads(vigil.run("devices", "add", "wear-1", "--patient", "ATHLETE-1").stdout)["token"]
    headers = {"Authorization": f"Bearer {token}"}
    subject = pseudonym(bytes.fromhex((vigil.home / "pseudonym.key").read_text()), "ATHLETE-1")
    start = int(time.time() * 1000) - 3 * 3600_000

    # An athlete: resting heart rate about 52, far below the population's 75.
    async with connect(vigil.ws_url, additional_headers=headers) as ws:
        batch = [
            {"seq": i, "ts": start + i * 60_000, "vitals": {"heart_rate": 52 + (i % 5) - 2}}
            for i in range(120)
        ]
        await ws.send(json.dumps({"type": "batch", "readings": batch}))
        assert json.loads(await ws.recv()) == {"type": "ack", "seqs": list(range(120))}

    # Kill the worker as soon as the patient's state is in the changelog.
    changelog = f"{vigil.env['VIGIL_WORKER_ID']}-patients-changelog"
    written = await read_topic(
        kafka.bootstrap, changelog, lambda r, v: r.key == subject.encode() and v["n"] == 120
    )
    assert written, vigil.log("worker")[-3000:]
    services["worker"].send_signal(signal.SIGKILL)
    services["worker"].wait(10)

    services["worker"] = vigil.spawn("worker", log_name="worker2")
    wait_ready(vigil.worker_url + "/readyz", services["worker"])

    # 75/min is normal for the population but not for this patient: only a
    # worker that kept the learned baseline raises an anomaly for it.
    # Two readings a minute apart: an anomaly opens once confirmed.
    async with connect(vigil.ws_url, additional_headers=headers) as ws:
        for seq in (120, 121):
            reading = {
                "type": "reading",
                "seq": seq,
                "ts": start + seq * 60_000,
                "vitals": {"heart_rate": 75},
            }
            await ws.send(json.dumps(reading))
            assert json.loads(await ws.recv()) == {"type": "ack", "seq": seq}

    alerts = await read_topic(
        kafka.bootstrap,
        "vigil.alerts",
        lambda r, v: v["patient"] == "ATHLETE-1" and v["kind"] == "anomaly" and v["status"] == "open",
    )
    assert len(alerts) == 1, vigil.log("worker2")[-3000:]
    evidence = alerts[0]["value"]["evidence"]
    assert 50 < evidence["baseline"]["heart_rate"] < 54
    assert evidence["z"]["heart_rate"] > 5


def test_two_workers_share_a_home_with_a_data_folder_each(vigil, services, tmp_path) -> None:
    """Scale-out on one host: the workers share VIGIL_HOME (the device
    registry and the pseudonym key, which the gateway has too) and keep
    their stores apart with VIGIL_WORKER_DATA. The docs said both "each
    worker needs a VIGIL_HOME of its own" and "gateways and workers share
    VIGIL_HOME": an SRE followed the first and got a worker with a new
    pseudonym key of its own and no registry."""
    second_data = tmp_path / "worker-b-data"
    vigil.env["VIGIL_WORKER_DATA"] = str(second_data)
    services["worker-b"] = vigil.spawn("worker", log_name="worker-b")
    wait_ready(vigil.worker_url + "/readyz", services["worker-b"])
    time.sleep(10)  # the group rebalances over both
    assert services["worker"].poll() is None and services["worker-b"].poll() is None
    assert "ConsistencyError" not in vigil.log("worker") + vigil.log("worker-b")
    assert any(second_data.iterdir()) and (vigil.home / "worker").is_dir()
    assert [p.name for p in vigil.home.glob("pseudonym.key")] == ["pseudonym.key"]  # one key, shared
