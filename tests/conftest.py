"""Shared fixtures. The integration tests share one real Kafka broker, started
once per session by the same module `vigil up` uses (on ports it chooses, and
chooses again if another process takes one first). Gateways and workers run
on port 0 and report the ports the system gave them (`--ports-file`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.infra import ports
from app.infra.kafka_local import LocalKafka
from tests.fault_suite import FaultSuite

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def nobody_listens() -> Iterator[Callable[[], int]]:
    """Ports nothing listens on, for the test's duration: each is bound here (not
    listening, without SO_REUSEADDR), so a connection to it is refused and no
    other process can take it meanwhile. Call the fixture for each one needed."""
    held: list[socket.socket] = []

    def port() -> int:
        sock = socket.socket()
        held.append(sock)
        sock.bind(("127.0.0.1", 0))
        number: int = sock.getsockname()[1]
        return number

    try:
        yield port
    finally:
        for sock in held:
            sock.close()


# The cluster fault suite (`faults.py --quick --cluster`: three brokers, two
# gateways, three workers, all its own, on ports it chooses; about 2.5 min)
# starts with the session when one of its tests is selected, and runs while
# the unit tests and the first integration tests do. test_faults.py reads its
# report, and runs the quick suite only once it has ended: the floods' latency
# checks never share the machine with it.
BACKGROUND: dict[str, FaultSuite] = {}


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly or "cluster" in BACKGROUND:
        return
    if any("cluster_fault_suite" in getattr(item, "fixturenames", ()) for item in session.items):
        BACKGROUND["cluster"] = FaultSuite("--cluster")


def pytest_sessionfinish(session: pytest.Session) -> None:
    for started in BACKGROUND.values():
        started.close()


@pytest.fixture(scope="session")
def cluster_fault_suite() -> FaultSuite:
    """`faults.py --quick --cluster`, started with the session (or now)."""
    if "cluster" not in BACKGROUND:
        BACKGROUND["cluster"] = FaultSuite("--cluster")
    return BACKGROUND["cluster"]


async def new_topic_with(
    bootstrap: str, topic: str, partitions: int, records: Iterable[tuple[bytes, bytes | None, int | None]]
) -> None:
    """Create `topic` (one replica) and write (key, value, partition or None) to it, all acknowledged."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value, partition in records:
            await producer.send(topic, value=value, key=key, partition=partition)
        await producer.flush()
    finally:
        await producer.stop()


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    broker = LocalKafka(tmp_path_factory.mktemp("kafka"), partitions=4)
    broker.start(quiet=True)
    yield broker
    broker.stop()


# The ports each service binds, all 0 (the system chooses), and the names it reports them under.
SERVICE_PORTS = {
    "gateway": {"VIGIL_GATEWAY_PORT": ports.GATEWAY_WS, "VIGIL_GATEWAY_HTTP_PORT": ports.GATEWAY_HTTP},
    "worker": {"VIGIL_WORKER_WEB_PORT": ports.WORKER_WEB},
}


@dataclass
class Vigil:
    """Environment for running `vigil` commands against the test broker.
    `spawn` starts a gateway or a worker on port 0 with `--ports-file`; the
    URLs below wait for the ports the last one spawned reports, and `env`
    then carries them for client commands (`vigil simulate`, ...)."""

    env: dict[str, str]
    home: Path
    spawned: dict[str, tuple[Path, subprocess.Popen[bytes]]] = field(default_factory=dict)

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
        command, env = args[0], dict(self.env)
        if command in SERVICE_PORTS:
            ports_file = self.home / f"{log_name}.ports.json"
            ports_file.unlink(missing_ok=True)
            env.update(dict.fromkeys(SERVICE_PORTS[command], "0"))
            args = (*args, "--ports-file", str(ports_file))
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *args],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if command in SERVICE_PORTS:
            self.spawned[command] = (ports_file, proc)
        return proc

    def port(self, command: str, name: str) -> int:
        """The port `name` of the last `command` spawned, once it reports it."""
        ports_file, proc = self.spawned[command]
        found = ports.wait(ports_file, proc, timeout=120)
        assert found is not None, f"the {command} exited with {proc.returncode}: {self.log_tail(ports_file)}"
        for variable, reported in SERVICE_PORTS[command].items():
            self.env[variable] = str(found[reported])
        return found[name]

    def log_tail(self, ports_file: Path) -> str:
        return self.log(ports_file.name.removesuffix(".ports.json"))[-2000:]

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port('gateway', ports.GATEWAY_WS)}/v1"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port('gateway', ports.GATEWAY_HTTP)}"

    @property
    def worker_url(self) -> str:
        return f"http://127.0.0.1:{self.port('worker', ports.WORKER_WEB)}"

    def log(self, name: str) -> str:
        return (self.home / f"{name}.log").read_text(errors="replace")


@pytest.fixture
def vigil(kafka: LocalKafka, tmp_path: Path, request: pytest.FixtureRequest) -> Vigil:
    env = dict(
        os.environ,
        VIGIL_HOME=str(tmp_path),
        VIGIL_KAFKA_BOOTSTRAP=kafka.bootstrap,
        # Until a gateway or worker reports its ports: 0 (a client command would fail at once).
        **dict.fromkeys([v for names in SERVICE_PORTS.values() for v in names], "0"),
        VIGIL_WORKER_ID=f"vigil-test-{tmp_path.name}",
        VIGIL_LOG_FORMAT="json",
    )
    marker = request.node.get_closest_marker("vigil_env")  # per-test settings
    if marker is not None:
        env.update(marker.kwargs)
    return Vigil(env, tmp_path)


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


def reported_ports(
    ports_file: Path, proc: subprocess.Popen[bytes], log: Path | None = None
) -> dict[str, int]:
    """The ports a service started with `--ports-file ports_file` reports, once it does."""
    found = ports.wait(ports_file, proc, timeout=120)
    tail = log.read_text(errors="replace")[-2000:] if log is not None else ""
    assert found is not None, f"process exited with {proc.returncode} before serving: {tail}"
    return found


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


def frames_of(value):
    """A decoded `vigil.readings` record of several frames (v 2) as its
    well-formed frames (each a v 1 record; a malformed one, as
    tests/integration/test_coalescing.py writes, is left out as the worker
    dead-letters it); any other value as itself."""
    from app.core.errors import RecordError
    from app.core.records import decode_readings

    if not (isinstance(value, dict) and value.get("v") == 2 and isinstance(value.get("frames"), list)):
        return [value]
    good = []
    for frame in value["frames"]:
        try:
            decode_readings(orjson.dumps(frame))
        except RecordError:
            continue
        good.append(frame)
    return good


async def read_topic(
    bootstrap: str, topic: str, predicate, timeout: float = 60.0, frames: bool = True
) -> list[dict]:
    """Records of `topic` (from the start) whose (record, decoded value) match, read with
    a plain Kafka consumer; returns once at least one matched, or at `timeout`. With
    `frames`, each frame of a `vigil.readings` record of several is matched on its own."""
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
                    for one in frames_of(value) if frames else [value]:
                        if predicate(record, one):
                            found.append({"key": record.key, "value": one})
    finally:
        await consumer.stop()
    return found


async def read_all(bootstrap: str, topic: str) -> list[dict]:
    """Every record of `topic` up to its current end, decoded (JSON values only; each
    frame of a `vigil.readings` record of several on its own)."""
    from app.infra.settings import Settings
    from app.infra.topics import from_start, read_to_end

    found: list[dict] = []

    def keep(records) -> None:
        for record in records:
            try:
                found.extend({"key": record.key, "value": v} for v in frames_of(orjson.loads(record.value)))
            except orjson.JSONDecodeError:
                continue  # another test's poison record

    consumer = from_start(Settings(kafka_bootstrap=bootstrap), topic)
    await consumer.start()
    try:
        await read_to_end(consumer, topic, keep)
    finally:
        await consumer.stop()
    return found
