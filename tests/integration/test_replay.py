"""`vigil replay`: a recording through the live gateway and worker; the same
recording replayed at two speeds gives the same alerts (event time, not wall
clock, drives detection), and so does `vigil replay --offline`."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import read_topic

pytestmark = pytest.mark.integration


def recording(path, start_ms: int) -> None:
    lines = ["patient,ts,heart_rate,spo2,respiratory_rate,systolic_bp,temperature"]
    for minute in range(200):
        ts = start_ms + minute * 60_000
        hypoxic = 120 <= minute < 150
        spo2 = 85 if hypoxic else 97 - (minute % 3 == 0)
        rr = 27 if hypoxic else 15 + (minute % 2)
        temp = f"{36.7 + (minute % 4) / 10:.1f}" if minute % 5 == 0 else ""
        lines.append(f"BED-9,{ts},{72 + minute % 5},{spo2},{rr},{118 + minute % 7},{temp}")
    path.write_text("\n".join(lines) + "\n")


def signature(events: list[dict]) -> list[tuple]:
    return sorted(
        (
            e["kind"],
            e["status"],
            e["severity"],
            e["event_time"],
            e["opened_at"],
            json.dumps(e["evidence"], sort_keys=True),
        )
        for e in events
    )


async def test_replay_at_two_speeds_gives_the_same_alerts(vigil, kafka, services, tmp_path) -> None:
    path = tmp_path / "ward.csv"
    recording(path, int(time.time() * 1000) - 4 * 3600_000)
    fast = vigil.run("replay", str(path), "--speed", "0", "--patient-prefix", "A-")
    slow = vigil.run("replay", str(path), "--speed", "3000", "--patient-prefix", "B-")
    for done in (fast, slow):
        assert "replayed 200 readings, 200 acknowledged; errors none" in done.stderr

    found: dict[str, list[dict]] = {"A-BED-9": [], "B-BED-9": []}

    def collect(record, value) -> bool:
        if value.get("patient") in found:
            found[value["patient"]].append(value)
        return all(any(e["status"] == "resolved" for e in v) for v in found.values())

    await read_topic(kafka.bootstrap, "vigil.alerts", collect, timeout=60)
    a, b = found["A-BED-9"], found["B-BED-9"]
    assert any(e["kind"] == "news2" and e["status"] == "open" for e in a), a
    assert signature(a) == signature(b)
    assert {e["alert_id"] for e in a}.isdisjoint({e["alert_id"] for e in b})  # different patients

    # The same recording run offline (no gateway, Kafka or worker) prints the
    # alert events the live system emitted, alert ids included.
    offline = vigil.run("replay", str(path), "--offline", "--json", "--patient-prefix", "A-")
    printed = [json.loads(line) for line in offline.stdout.splitlines()]
    assert "ran 200 readings offline (patients: 1)" in offline.stderr
    assert signature(printed) == signature(a)
    assert sorted(e["alert_id"] for e in printed) == sorted(e["alert_id"] for e in a)
