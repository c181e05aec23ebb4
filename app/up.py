"""`vigil up`: the embedded default.

Starts the local Kafka (unless VIGIL_KAFKA_BOOTSTRAP names a cluster), creates
the topics, starts the worker and the gateway as child processes, waits until
each answers /readyz, and on Ctrl-C stops them in order: devices, gateway,
worker, Kafka. With `--simulate N` it also runs N simulated devices and prints
alerts as they are emitted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from app import alert_view, simulate
from app.kafka_local import LocalKafka, LocalKafkaError
from app.runtime import stop_on_signals
from app.settings import Settings
from app.topics import ensure_topics


def say(message: str) -> None:
    print(f"vigil: {message}", file=sys.stderr, flush=True)


def wait_ready(name: str, url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the {name} exited with code {proc.returncode}; last log lines:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the {name} was not ready within {timeout:.0f} s; see {log}")


def spawn(command: str, settings: Settings, logs: Path) -> tuple[subprocess.Popen[bytes], Path]:
    log = logs / f"{command}.log"
    env = dict(os.environ, VIGIL_KAFKA_BOOTSTRAP=settings.bootstrap, VIGIL_HOME=str(settings.home))
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", command],
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,  # Ctrl-C reaches us; we stop children in order
    )
    return proc, log


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 30.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(settings: Settings, simulate_devices: int = 0, speed: float = 60.0) -> int:
    settings.home.mkdir(parents=True, exist_ok=True)
    logs = settings.home / "logs"
    logs.mkdir(exist_ok=True)
    kafka: LocalKafka | None = None
    worker = gateway = None
    try:
        if settings.uses_local_kafka:
            kafka = LocalKafka(
                settings.home / "kafka",
                settings.local_kafka_port,
                settings.local_kafka_controller_port,
                partitions=settings.partitions,
            )
            started = time.monotonic()
            say(f"starting the local Kafka on {kafka.bootstrap} ...")
            kafka.start()
            say(f"Kafka ready in {time.monotonic() - started:.1f} s (data in {kafka.data_dir})")
        else:
            say(f"using the Kafka cluster at {settings.bootstrap}")
        asyncio.run(ensure_topics(settings))

        worker, worker_log = spawn("worker", settings, logs)
        gateway, gateway_log = spawn("gateway", settings, logs)
        host = settings.gateway_host
        wait_ready("gateway", f"http://{host}:{settings.gateway_http_port}/readyz", gateway, gateway_log)
        say(f"gateway ready on ws://{host}:{settings.gateway_port} (metrics http://{host}:{settings.gateway_http_port}/metrics)")
        wait_ready(
            "worker",
            f"http://{settings.worker_web_host}:{settings.worker_web_port}/readyz",
            worker,
            worker_log,
        )
        say(f"worker ready (metrics http://{settings.worker_web_host}:{settings.worker_web_port}/metrics)")
        say(f"logs in {logs}; press Ctrl-C to stop")
        asyncio.run(_serve(settings, simulate_devices, speed, [worker, gateway]))
        return 0
    except (LocalKafkaError, RuntimeError) as exc:
        say(str(exc))
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        say("stopping ...")
        stop_process(gateway)
        stop_process(worker)
        if kafka is not None:
            kafka.stop()
        say("stopped")


async def _serve(
    settings: Settings, devices: int, speed: float, children: list[subprocess.Popen[bytes]]
) -> None:
    stop = stop_on_signals()
    tasks = [asyncio.ensure_future(_watch(children, stop))]
    if devices:
        listening = asyncio.Event()
        tasks.append(
            asyncio.ensure_future(
                alert_view.tail(settings.bootstrap, alert_view.printer(False), stop, started=listening)
            )
        )
        await listening.wait()
        tasks.append(asyncio.ensure_future(simulate_fleet(settings, devices, speed, stop)))
    await stop.wait()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _watch(children: list[subprocess.Popen[bytes]], stop: asyncio.Event) -> None:
    while not stop.is_set():
        if any(child.poll() is not None for child in children):
            say("a child process exited; stopping (see the logs)")
            stop.set()
        await asyncio.sleep(0.5)


async def simulate_fleet(settings: Settings, n: int, speed: float, stop: asyncio.Event) -> simulate.Stats:
    """Register N simulated devices (re-issuing their tokens), run them until
    `stop`, and print what they sent and got back."""
    schedule = simulate.Schedule(speed=speed)
    start_ms = int(time.time() * 1000) - schedule.history_ms
    stats = simulate.Stats()
    patients = simulate.fleet(n, start_ms, schedule)
    clients = simulate.clients_for(settings, {f"sim-{i:04d}": f"SIM-{i:04d}" for i in range(1, n + 1)}, stats)
    tasks = [
        simulate.run_device(client, patient, start_ms, schedule, stop)
        for client, patient in zip(clients.values(), patients, strict=True)
    ]
    deteriorating = sum(p.onset_ms is not None for p in patients)
    say(f"simulating {n} devices ({deteriorating} patients deteriorate); alerts follow")
    await asyncio.gather(*tasks)
    say(
        f"devices sent {stats.sent} readings, {stats.acked} acknowledged; "
        f"errors {dict(sorted(stats.errors.items())) or 'none'}; reconnects {stats.reconnects}"
    )
    return stats
