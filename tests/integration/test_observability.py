"""A real Prometheus (Debian's package) scrapes a live gateway and worker under
a small simulated load: targets are up, every shipped rule evaluates without
error, and every query of the shipped Grafana dashboard returns data."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, stop

pytestmark = pytest.mark.integration

DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "vigil.json"
RULES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))


def dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [t["expr"] for p in panels for t in p.get("targets", [])]


@pytest.fixture
def prometheus(vigil, services, tmp_path):
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: `make test` installs Debian's prometheus package"
    gateway_target = vigil.http_url.removeprefix("http://")
    worker_target = vigil.worker_url.removeprefix("http://")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(p) for p in RULES],
                "scrape_configs": [
                    {"job_name": "vigil-gateway", "static_configs": [{"targets": [gateway_target]}]},
                    {"job_name": "vigil-worker", "static_configs": [{"targets": [worker_target]}]},
                ],
            }
        )
    )
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            "--web.listen-address=127.0.0.1:0",  # the port it was given: in its log
        ],
        stdout=open(tmp_path / "prometheus.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{listening_port(tmp_path / 'prometheus.log', proc)}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=2):
                break
        except OSError:
            time.sleep(0.2)
    yield url
    stop(proc)


def listening_port(log: Path, proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
    """The port Prometheus bound, from its log line `msg="Listening on" address=127.0.0.1:PORT`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r'msg="Listening on" address=127\.0\.0\.1:(\d+)', log.read_text(errors="replace"))
        if found:
            return int(found.group(1))
        assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
        time.sleep(0.2)
    raise AssertionError(f"Prometheus did not say where it listens within {timeout} s")


def api(base: str, path: str, **params: str) -> dict:
    with urllib.request.urlopen(f"{base}/api/v1/{path}?{urllib.parse.urlencode(params)}", timeout=10) as r:
        body = json.loads(r.read())
    assert body["status"] == "success", body
    return body["data"]


def test_prometheus_scrapes_rules_and_dashboard_queries(vigil, prometheus) -> None:
    simulation = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "simulate", "--devices", "8", "--duration", "40", "--speed", "240"],
        env=vigil.env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        queries = dashboard_queries()
        recorded = [
            r["record"]
            for f in RULES
            for g in yaml.safe_load(f.read_text())["groups"]
            for r in g["rules"]
            if "record" in r
        ]
        missing: list[str] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            missing = [q for q in queries + recorded if not api(prometheus, "query", query=q)["result"]]
            if not missing:
                break
            time.sleep(2)
        assert missing == [], f"no data for: {missing}"
    finally:
        simulation.terminate()
        simulation.wait(30)

    targets = api(prometheus, "targets")["activeTargets"]
    assert sorted((t["labels"]["job"], t["health"]) for t in targets) == [
        ("vigil-gateway", "up"),
        ("vigil-worker", "up"),
    ]
    groups = api(prometheus, "rules")["groups"]
    rules = [r for g in groups for r in g["rules"]]
    shipped = [r for path in RULES for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"]]
    assert (
        len([r for r in rules if r["type"] == "alerting"]) == len([r for r in shipped if "alert" in r]) >= 7
    )
    assert all(r["health"] == "ok" for r in rules), [
        (r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"
    ]

    # The worker saw alerts, and no label anywhere names a patient or a device.
    alerts = api(prometheus, "query", query="sum(vigil_worker_alert_events_total)")["result"]
    assert float(alerts[0]["value"][1]) > 0
    series = api(prometheus, "series", **{"match[]": '{__name__=~"vigil_.*"}'})
    values = {v for s in series for k, v in s.items() if k != "__name__"}
    assert not [v for v in values if "SIM-" in v or "sim-" in v or "simulate-" in v or v.startswith("p-")]
