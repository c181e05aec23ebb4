"""`vigil status`: an operator asks whether the stack is up and gets one line
per part (Kafka, the gateway, the worker), ready or not and why, and an exit
code a script can use. Before it, the only way was to curl each /readyz and
read a bare "not ready"."""

from __future__ import annotations

import json

import pytest

from tests.conftest import stop

pytestmark = pytest.mark.integration


def test_status_says_what_is_up_and_what_is_not(vigil, services) -> None:
    vigil.run("simulate", "--devices", "2", "--duration", "3", "--speed", "240")
    up = vigil.run("status", check=False)
    assert up.returncode == 0, up.stdout + up.stderr
    lines = up.stdout.splitlines()
    states = [line.split()[:2] for line in lines]
    assert states == [["kafka", "up"], ["gateway", "ready"], ["worker", "ready"]]
    assert "vigil.readings: 4 partitions" in lines[0]
    assert "readings accepted since it started" in lines[1]

    document = json.loads(vigil.run("status", "--json").stdout)
    assert document["ready"] is True
    assert document["gateway"]["readings_accepted"] > 0
    assert document["kafka"]["partitions"] == 4

    stop(services["worker"])
    down = vigil.run("status", "--json", check=False)
    assert down.returncode == 1
    document = json.loads(down.stdout)
    assert document["ready"] is False
    assert document["worker"]["state"] == "down" and "vigil worker" in document["worker"]["detail"]
    assert document["gateway"]["state"] == "ready" and document["kafka"]["state"] == "up"
