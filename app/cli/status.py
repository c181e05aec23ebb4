"""`vigil status`: is the stack up, in one look. Kafka (does it answer; how
far the worker group is behind on `vigil.readings`), the gateway and the
worker these settings name (their /readyz, with the reason when not ready,
and a few figures from their /metrics). Exit 0 when all three are ready, 1
otherwise, so a script or a cron job can ask it (docs/operations.md)."""

from __future__ import annotations

import asyncio
import math
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from app.cli import lag
from app.cli.up import metric, scrape, supervisor_state
from app.core.errors import KafkaUnreachable
from app.infra import preflight
from app.infra.runtime import counted
from app.infra.settings import READINGS_TOPIC, Settings


@dataclass
class Part:
    name: str  # kafka, gateway, worker
    state: (
        str  # up / down (kafka); ready / not ready / down (gateway, worker); starting / stopping (`vigil up`)
    )
    where: str
    detail: str = ""  # why not ready, or what it is doing
    figures: dict[str, int | float | None] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.state in ("up", "ready")


def _readyz(url: str) -> tuple[int | None, str]:
    """/readyz's status and first line; (None, why) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status, response.read().decode(errors="replace").strip()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode(errors="replace").strip()
    except (OSError, ValueError) as failed:
        return None, str(getattr(failed, "reason", failed))


async def _service(name: str, base: str, start_with: str) -> tuple[Part, list[Any]]:
    code, text = await asyncio.get_running_loop().run_in_executor(None, _readyz, base + "/readyz")
    if code is None:
        return Part(name, "down", base, f"nothing answers ({text}): start it with {start_with}"), []
    samples = await scrape(base + "/metrics")
    if code == 200:
        return Part(name, "ready", base), samples
    why = text.removeprefix("not ready").lstrip(": ") or f"HTTP {code}"
    return Part(name, "not ready", base, why), samples


async def _kafka(settings: Settings) -> Part:
    where = settings.bootstrap
    try:
        await preflight.kafka(settings)
    except KafkaUnreachable as silent:  # why, when a broker refused us (SASL, TLS); else how to start it
        why = str(silent)
        unreachable = f"cannot reach Kafka at {where}: "
        return Part(
            "kafka",
            "down",
            where,
            "does not answer: " + why.removeprefix(unreachable) if why.startswith(unreachable) else why,
        )
    if not await preflight.topic_exists(settings, READINGS_TOPIC):
        return Part("kafka", "up", where, f"no topic {READINGS_TOPIC} yet (the gateway creates it)")
    try:
        lags = await lag.read(settings)
    except Exception as exc:  # noqa: BLE001 - only Kafka's "still starting" is answered here
        if not preflight.coordinator_starting(exc):
            raise
        # Seconds after a broker starts (`vigil up`): this said "failed ... start it with
        # `vigil up`", exit 3, while `vigil up` was starting it (a newcomer's finding).
        return Part(
            "kafka", "up", where, "starting: the worker group's offsets are not loaded yet; ask again"
        )
    behind = sum(p.lag for p in lags)
    if lags and behind and all(p.committed is None for p in lags):
        # Nothing committed on any partition: a group that never ran, or offsets Kafka
        # has not loaded yet (the whole topic read as backlog for a second after a start).
        said = f"{behind} records, none committed by the worker group (yet, or Kafka is loading its offsets)"
    else:
        said = f"{behind} records not yet committed by the worker group"
    return Part(
        "kafka",
        "up",
        where,
        f"{READINGS_TOPIC}: {len(lags)} partitions, {said}",
        {"partitions": len(lags), "lag": behind},
    )


async def check(settings: Settings) -> list[Part]:
    """Kafka, the gateway and the worker, looked at together."""
    s = settings
    gateway_url = f"http://{s.gateway_host}:{s.gateway_http_port}"
    worker_url = f"http://{s.worker_web_host}:{s.worker_web_port}"
    kafka, (gateway, gw), (worker, wk) = await asyncio.gather(
        _kafka(s),
        _service("gateway", gateway_url, "`vigil up` or `vigil gateway`"),
        _service("worker", worker_url, "`vigil up` or `vigil worker`"),
    )
    if gw:
        devices = metric(gw, "vigil_gateway_connections_open")
        accepted = metric(gw, "vigil_gateway_readings_total", outcome="accepted")
        gateway.figures = {"devices_connected": _count(devices), "readings_accepted": _count(accepted)}
        gateway.detail = gateway.detail or (
            f"{counted(devices, 'device')} connected, "
            f"{counted(accepted, 'reading')} accepted since it started"
        )
    if wk:
        patients = metric(wk, "vigil_worker_patients")
        opened = metric(wk, "vigil_worker_alert_events_total", status="open")
        resolved = metric(wk, "vigil_worker_alert_events_total", status="resolved")
        worker.figures = {
            "patients": _count(patients),
            "alerts_opened": _count(opened),
            "alerts_resolved": _count(resolved),
        }
        worker.detail = worker.detail or (
            f"{counted(patients, 'patient')} with live state, {counted(opened, 'alert')} opened and "
            f"{_shown(resolved)} resolved since it started"
        )
    parts = [kafka, gateway, worker]
    running = supervisor_state(s.home)
    if running is not None and running[1] in ("starting", "stopping"):
        # `vigil up` on this VIGIL_HOME is bringing the stack up (or down): what does not
        # answer yet is not down. It said `kafka down ... start it with vigil up` (a newcomer's report).
        pid, doing = running
        for part in parts:
            if part.state == "down":
                part.state = doing
                part.detail = (
                    f"not answering yet: `vigil up` (pid {pid}) is starting the stack; "
                    "ask again in a few seconds"
                    if doing == "starting"
                    else f"not answering: `vigil up` (pid {pid}) is stopping the stack"
                )
    return parts


def _count(value: float | None) -> int | float | None:
    """A counter or gauge of things as a whole number, as --json shows it (20, not 20.0)."""
    return int(value) if value is not None and math.isfinite(value) and value == int(value) else value


def _shown(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}"


def table(parts: list[Part]) -> str:
    return "\n".join(
        f"{p.name:<8} {p.state:<10} {p.where}" + (f": {p.detail}" if p.detail else "") for p in parts
    )


def as_json(parts: list[Part]) -> dict[str, Any]:
    """`vigil status --json`'s document (docs/operations.md)."""
    document: dict[str, Any] = {"ready": all(p.ok for p in parts)}
    for p in parts:
        document[p.name] = {"state": p.state, "where": p.where, "detail": p.detail, **p.figures}
    return document
