"""Shared fixtures. The integration tests share one real Kafka broker, started
once per session on free ports by the same module `vigil up` uses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from app.infra.kafka_local import LocalKafka, free_port

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    broker = LocalKafka(
        tmp_path_factory.mktemp("kafka"), port=free_port(), controller_port=free_port(), partitions=4
    )
    broker.start(quiet=True)
    yield broker
    broker.stop()


@dataclass
class Vigil:
    """Environment for running `vigil` commands against the test broker."""

    env: dict[str, str]
    home: Path
    ws_url: str
    http_url: str
    worker_url: str

    def run(
        self, *args: str, check: bool = True, env_extra: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            env={**self.env, **(env_extra or {})},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    def spawn(self, *args: str, log_name: str) -> subprocess.Popen[bytes]:
        log = open(self.home / f"{log_name}.log", "ab")
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", *args],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def log(self, name: str) -> str:
        return (self.home / f"{name}.log").read_text(errors="replace")


@pytest.fixture
def vigil(kafka: LocalKafka, tmp_path: Path, request: pytest.FixtureRequest) -> Vigil:
    gw, http, web = free_port(), free_port(), free_port()
    env = dict(
        os.environ,
        VIGIL_HOME=str(tmp_path),
        VIGIL_KAFKA_BOOTSTRAP=kafka.bootstrap,
        VIGIL_GATEWAY_PORT=str(gw),
        VIGIL_GATEWAY_HTTP_PORT=str(http),
        VIGIL_WORKER_WEB_PORT=str(web),
        VIGIL_WORKER_ID=f"vigil-test-{tmp_path.name}",
        VIGIL_LOG_FORMAT="json",
    )
    marker = request.node.get_closest_marker("vigil_env")  # per-test settings
    if marker is not None:
        env.update(marker.kwargs)
    return Vigil(env, tmp_path, f"ws://127.0.0.1:{gw}/v1", f"http://127.0.0.1:{http}", f"http://127.0.0.1:{web}")


@pytest.fixture
def services(vigil: Vigil) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """The gateway and the worker as separate processes, ready. A test may
    replace `services["worker"]` with a new process; all are stopped after."""
    procs = {
        "gateway": vigil.spawn("gateway", log_name="gateway"),
        "worker": vigil.spawn("worker", log_name="worker"),
    }
    try:
        wait_ready(vigil.http_url + "/readyz", procs["gateway"])
        wait_ready(vigil.worker_url + "/readyz", procs["worker"])
        yield procs
    finally:
        codes = {name: stop(proc) for name, proc in procs.items()}
    assert codes["gateway"] == 0, vigil.log("gateway")[-3000:]


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"process exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"{url} not ready within {timeout} s")


def http_status(url: str) -> int:
    """The HTTP status `url` answers with; 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def ready(url: str) -> bool:
    """Does a /readyz answer 200 now?"""
    return http_status(url) == 200


def stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.terminate()
        try:
            return proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    return proc.returncode


async def read_topic(bootstrap: str, topic: str, predicate, timeout: float = 60.0) -> list[dict]:
    """Records of `topic` (from the start) whose (record, decoded value) match, read with
    a plain Kafka consumer; returns once at least one matched, or at `timeout`."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[dict] = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not found:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    try:
                        value = orjson.loads(record.value)
                    except orjson.JSONDecodeError:
                        continue  # another test's poison record (tests/integration/test_worker_hardening.py)
                    if predicate(record, value):
                        found.append({"key": record.key, "value": value})
    finally:
        await consumer.stop()
    return found


async def read_all(bootstrap: str, topic: str) -> list[dict]:
    """Every record of `topic` up to its current end, decoded (JSON values only)."""
    from app.infra.settings import Settings
    from app.infra.topics import from_start, read_to_end

    found: list[dict] = []

    def keep(records) -> None:
        for record in records:
            try:
                found.append({"key": record.key, "value": orjson.loads(record.value)})
            except orjson.JSONDecodeError:
                continue  # another test's poison record

    consumer = from_start(Settings(kafka_bootstrap=bootstrap), topic)
    await consumer.start()
    try:
        await read_to_end(consumer, topic, keep)
    finally:
        await consumer.stop()
    return found
