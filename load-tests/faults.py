"""The fault and abuse suite: real processes, real Kafka, faults injected while a fleet streams.

    .venv/bin/python load-tests/faults.py [--quick] [--runs N] [--only NAME[,NAME]] [--json FILE]

It starts a local Kafka (`app.infra.kafka_local`, on ports it chooses), a `vigil gateway`
and a `vigil worker` as child processes, and runs each scenario against them:
a small simulated fleet (`app.tools.loadtest`, on the reference client
`app.tools.simulate.DeviceClient`; half the patients deteriorate) streams through
the gateway while the fault is injected. Every scenario is then reconciled:

(a) by device and reading: every reading a device had acknowledged must be on
    `vigil.readings` with the content the device sent, in a record the
    worker's consumer group has committed (so processed). `lost` counts
    readings never acknowledged after the drain, acknowledged but not stored
    (with that content), and stored but not processed. `stored twice` counts
    extra copies of one device's seq: a resend stored again with the same
    content is harmless (counted); the same seq stored with different content
    is a bug (a failure).
(b) by `alert_id`: the scenario's readings on `vigil.readings` are replayed
    offline through the core (`app.core.patient.process`, per patient in
    partition order, with the worker's `Settings.detector_config()`), and
    compared with the events on `vigil.alerts`: events of the replay missing
    from the topic are `lost alerts`; an (alert_id, status, severity) on the
    topic more than once is a duplicate, "re-emitted" when the copies are
    identical (a worker repeating itself after a crash) and "conflicting"
    when they differ. Both count as duplicates; the target is 0.

Scenarios (`--only` takes these names):

  worker-kill       SIGKILL the worker mid-stream, start it again (x5 in full mode)
  gateway-kill      SIGKILL the gateway mid-stream, start it again (x5 in full mode)
  broker-kill-10s   SIGKILL Kafka, start it again 10 s later
  broker-kill-60s   the same, 60 s (full mode only)
  worker-join-leave a second worker joins the consumer group mid-stream, then stops
  poison            records of the wrong shape written straight to vigil.readings: each must land
                    on vigil.dead-letter, be counted in vigil_worker_records_failed_total, and the
                    stream go on
  hello-flood       one device sends hello frames (each answer listing 1,023 gaps) as fast as it can
  invalid-flood     one device sends batches of readings the gateway refuses
  rejected-flood    one device sends valid readings far over its rate (all refused rate_limited)
  handshake-flood   one client fails handshakes as fast as it can and holds idle connections
  future-timestamp  one device sends a reading stamped +290 s, then critical readings stamped now:
                    an alert must open within the usual delay (confirm_s; 0 in this suite)
  seq-reset         one device's seq restarts at 0 with new readings (the reference client queuing
                    before its first hello): no acknowledged reading may be lost
  state-bloat       one device sends 300 readings, each with 60 new custom channel names: the
                    worker must stay up, other patients still alert
  registry-error    the device registry file is corrupt for 3 s, then a device is revoked: its open
                    connection must close (4003)

With `--cluster` the suite runs on three brokers (three replicas of every
topic, `min.insync.replicas` 2), two gateways sharing one websocket port
(`VIGIL_GATEWAY_REUSE_PORT`) and three workers in one consumer group, each
process with a home of its own and the registry on Kafka (`VIGIL_REGISTRY=kafka`:
nothing shared but Kafka and the pseudonym key), and runs these instead:

  scale-kill          SIGKILL one gateway and one worker at once, neither restarted: the devices
                      reconnect to the shared port and land on the other gateway, the two workers
                      left take over the partitions and their states
  cluster-broker-kill SIGKILL one broker for 10 s
  cluster-two-down    SIGKILL two brokers for 15 s: the gateway must answer `unavailable` (it cannot
                      reach two replicas) and acknowledge nothing it cannot store; then both return

The floods run in a process of their own (hostile.py); while one floods, the
fleet's ack p99 for readings sent during the flood must stay within 2x of
its p99 before the flood in the same run (or within `--p99-slack` of it,
whichever is larger: on a shared 2-core machine tens of milliseconds of
scheduling noise must not fail a run). The hostile client runs at niceness
19 (`--hostile-nice`): it gets the CPU the machine has spare, as if it were
on a host of its own, so that its own work does not pass for the gateway's.

`recovery s` is, from the moment the fault is injected, the time until every
fleet device has had a reading acknowledged again and the worker's committed
offsets have passed every record that was on `vigil.readings` at injection.
For future-timestamp it is the alert's delay in event time after the first
critical reading; for registry-error, from the revocation to the close.

FAULTS_LOG_LEVEL sets the children's VIGIL_LOG_LEVEL (default warning; with
--keep their logs stay in the temp dir).

One table on stdout (one row per scenario, summed over its runs), the
reasons for each failure below it, `--json FILE` for the same and every run.
Exits 1 if any scenario failed. `--quick` (one run each, 20 devices, the 10 s
broker outage only) and `--cluster --quick` are what `make test` runs
(tests/integration/test_faults.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import benchlib  # noqa: F401  (puts the repository root on sys.path)
import orjson  # noqa: E402
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient  # noqa: E402
from aiokafka.errors import KafkaError  # noqa: E402
from benchlib import (
    FLEET_CONFIRM_S,
    Processes,
    http_get,
    machine,
    machine_line,
    metric,
    reported_ports,
    stop_on_signals,
    table,
    vigil_env,
    wait_ready,
)
from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from app.core import patient as core  # noqa: E402
from app.core.errors import Exit  # noqa: E402
from app.core.records import pseudonym, readable_frames  # noqa: E402
from app.infra.kafka_local import LocalCluster, LocalKafka  # noqa: E402
from app.infra.kafka_security import aiokafka_options  # noqa: E402
from app.infra.registry import Registry  # noqa: E402
from app.infra.settings import ALERTS_TOPIC, READINGS_TOPIC, Settings  # noqa: E402
from app.infra.topics import assignment, ensure_topics, from_start, read_to_end  # noqa: E402
from app.tools import loadtest  # noqa: E402

DEAD_LETTER_TOPIC = "vigil.dead-letter"
FAILED_METRIC = "vigil_worker_records_failed_total"
HERE = Path(__file__).resolve().parent
STALL_S = 20.0  # a worker whose committed offsets have not moved this long, while behind, is stuck
# The workers' own watchdog (VIGIL_WORKER_STALL_S): a worker not ready and doing nothing this
# long while Kafka answers it exits with code 6, and the suite starts it again as its supervisor
# would (`Stack.supervise`). Offsets that have not moved are waited on this long and more.
WORKER_STALL_S = 30.0
WAIT_STALL_S = max(STALL_S, WORKER_STALL_S + 15.0)
REVOKED_CLOSE_S = 5.0  # the gateway re-checks credentials every VIGIL_CREDENTIAL_CHECK_S (1 s)
PARTITIONS = 4

NORMAL = {
    "heart_rate": 72,
    "spo2": 97,
    "respiratory_rate": 15,
    "systolic_bp": 122,
    "diastolic_bp": 78,
    "temperature": 36.8,
    "consciousness": "A",
}
CRITICAL = {
    "heart_rate": 135,
    "spo2": 86,
    "respiratory_rate": 30,
    "systolic_bp": 88,
    "diastolic_bp": 50,
    "temperature": 39.4,
    "consciousness": "A",
}


# A quick run's flood lasts 3 s: its p99 is the third-slowest of about 300
# acks, and one scheduling stall of the shared machine's two cores is enough
# to put 3 acks 50-150 ms late (seen in 4 of 5 quick runs beside other test
# suites). The floods this check exists for took others' p99 from 10 ms to
# 0.3-10 s (docs/reliability.md).
QUICK_P99_SLACK_S = 0.2


@dataclass(frozen=True)
class Sizes:
    """How big and long each run is: `--quick` or full."""

    devices: int
    rate: float  # readings per second per fleet device
    lead_s: float  # streaming before the fault
    tail_s: float  # streaming after it
    flood_s: float
    drain_s: float
    p99_slack_s: float = 0.1
    hostile_nice: int = 19

    @classmethod
    def of(cls, quick: bool, **options: Any) -> Sizes:
        if quick:
            return cls(20, 5.0, lead_s=3.0, tail_s=3.0, flood_s=3.0, drain_s=30.0, **options)
        return cls(50, 4.0, lead_s=8.0, tail_s=8.0, flood_s=10.0, drain_s=45.0, **options)


# -- the processes ------------------------------------------------------------------


@dataclass
class Worker:
    name: str
    worker_id: str  # Faust app id: the consumer group
    home: Path
    proc: subprocess.Popen[bytes]
    port: int = 0  # its web port: first 0 (the system chooses), then the one it reported

    @property
    def ports_file(self) -> Path:
        return self.home / "worker.ports.json"

    @property
    def url(self) -> str:
        if not self.port:
            self.port = reported_ports(self.ports_file, self.proc, 120, self.name)["web"]
        return f"http://127.0.0.1:{self.port}"


class Stack:
    """Kafka, a gateway and a worker for the whole suite; scenarios kill,
    restart and add to them. Each worker process has a home of its own (its
    RocksDB), sharing the registry file and the pseudonym key, as on
    separate hosts."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs = Processes(tmp / "logs")
        # Ports chosen by the broker (again if taken before it binds them), kept across its restarts.
        self.broker = LocalKafka(tmp / "kafka", partitions=PARTITIONS)
        self.home = tmp / "home"
        self.home.mkdir(parents=True)
        self.key = secrets.token_hex(32)
        # The gateway's ports: 0 at first (the system chooses), then those it reported; a
        # restarted gateway binds them again, so that the devices' URL stays the same.
        self._gateway_ports: dict[str, int] = {}
        self.env = vigil_env(
            self.home,
            self.broker.bootstrap,
            500,
            GATEWAY_PORT="0",
            GATEWAY_HTTP_PORT="0",
            PSEUDONYM_KEY=self.key,
            WORKER_ID="vigil-faults-1",
            CONFIRM_S=FLEET_CONFIRM_S,
            WORKER_STALL_S=f"{WORKER_STALL_S:g}",
        )
        self.env["VIGIL_LOG_LEVEL"] = os.environ.get("FAULTS_LOG_LEVEL", "warning")
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("VIGIL_")})
        self.gateway: subprocess.Popen[bytes] | None = None
        self.workers: dict[str, Worker] = {}  # running workers, by name
        self.stall_restarts: list[str] = []  # workers that stopped themselves (stalled), started again
        self.worker_id = "vigil-faults-1"
        self._groups = 1
        self._names = 0

    @property
    def settings(self) -> Settings:
        return Settings.from_env().with_(worker_id=self.worker_id)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.gateway_port('ws')}/v1"

    @property
    def http_port(self) -> int:
        return self.gateway_port("http")

    def gateway_port(self, name: str) -> int:
        """The gateway's port `name` ("ws", "http"), once it has reported it."""
        if not self._gateway_ports:
            assert self.gateway is not None
            found = reported_ports(self.home / "gateway.ports.json", self.gateway, 90, "the gateway")
            self._gateway_ports = found
            self.env["VIGIL_GATEWAY_PORT"] = str(found["ws"])
            self.env["VIGIL_GATEWAY_HTTP_PORT"] = str(found["http"])
            os.environ.update({k: v for k, v in self.env.items() if k.startswith("VIGIL_GATEWAY")})
        return self._gateway_ports[name]

    @property
    def registry(self) -> Registry:
        return Registry(self.home / "devices.json")

    def start(self) -> None:
        self.broker.start(quiet=True)
        self.env["VIGIL_KAFKA_BOOTSTRAP"] = os.environ["VIGIL_KAFKA_BOOTSTRAP"] = self.broker.bootstrap
        asyncio.run(ensure_topics(self.settings))
        self.start_gateway(wait=False)
        worker = self.start_worker(wait=False)
        self.wait_gateway()
        self.wait_worker(worker)

    def stop(self) -> None:
        self.procs.stop_all()
        self.broker.stop()

    # gateway

    # Children are spawned from the main thread only, and waited for in
    # another: they die with the thread that spawned them (PR_SET_PDEATHSIG,
    # benchlib.Processes), and a thread of `asyncio.to_thread` ends soon.

    def start_gateway(self, wait: bool = True) -> None:
        ports_file = self.home / "gateway.ports.json"
        command = [sys.executable, "-m", "app.cli", "gateway", "--ports-file", str(ports_file)]
        self.gateway = self.procs.start("gateway", command, self.env)
        if wait:
            self.wait_gateway()

    def wait_gateway(self) -> None:
        assert self.gateway is not None
        wait_ready(f"http://127.0.0.1:{self.http_port}/readyz", self.gateway, 90, 0.1, what="the gateway")

    def kill_gateway(self) -> None:
        assert self.gateway is not None
        Processes.kill(self.gateway)

    # workers

    def start_worker(self, worker_id: str | None = None, wait: bool = True) -> Worker:
        """A worker process in the consumer group `worker_id` (the current one by default)."""
        self._names += 1
        name = f"worker-{self._names}"
        home = self.tmp / name
        home.mkdir()
        (home / "devices.json").symlink_to(self.home / "devices.json")
        env = {
            **self.env,
            "VIGIL_HOME": str(home),
            "VIGIL_WORKER_WEB_PORT": "0",
            "VIGIL_WORKER_ID": worker_id or self.worker_id,
        }
        command = [sys.executable, "-m", "app.cli", "worker", "--ports-file", str(home / "worker.ports.json")]
        proc = self.procs.start(name, command, env)
        worker = Worker(name, worker_id or self.worker_id, home, proc)
        self.workers[name] = worker
        if wait:
            self.wait_worker(worker)
        return worker

    def wait_worker(self, worker: Worker, timeout: float = 120.0) -> None:
        wait_ready(f"{worker.url}/readyz", worker.proc, timeout, 0.1, what=f"{worker.name}")

    def restart_worker(self, worker: Worker, wait: bool = True) -> Worker:
        """The same worker again after a crash: same home (RocksDB), same group and port."""
        env = {
            **self.env,
            "VIGIL_HOME": str(worker.home),
            "VIGIL_WORKER_WEB_PORT": str(worker.port),  # the one it reported (0 if it never did)
            "VIGIL_WORKER_ID": worker.worker_id,
        }
        if not worker.port:
            worker.ports_file.unlink(missing_ok=True)
        command = [sys.executable, "-m", "app.cli", "worker", "--ports-file", str(worker.ports_file)]
        worker.proc = self.procs.start(worker.name, command, env)
        self.workers[worker.name] = worker
        if wait:
            self.wait_worker(worker)
        return worker

    def primary(self) -> Worker:
        return next(iter(self.workers.values()))

    def forget(self, worker: Worker) -> None:
        """The scenario ends this worker on purpose: not an unexpected exit."""
        self.workers.pop(worker.name, None)

    def worker_alive(self) -> bool:
        self.supervise()
        return any(w.proc.poll() is None for w in self.workers.values())

    def supervise(self) -> None:
        """A worker that stopped itself because it stalled (exit code 6,
        `app.core.watchdog`) is started again, as `vigil up`, systemd or
        Kubernetes would; noted in the run (`stall_restarts`), not a failure."""
        for worker in list(self.workers.values()):
            if worker.proc.poll() == Exit.STALLED:
                self.stall_restarts.append(worker.name)
                self.restart_worker(worker, wait=False)

    # the broker

    def kill_broker(self) -> None:
        assert self.broker.proc is not None
        Processes.kill(self.broker.proc)

    def restart_broker(self) -> None:
        """Blocks until Kafka is up; safe in a thread: the broker's JVM is
        not tied to the thread that starts it."""
        self.broker.start(timeout=120, quiet=True)

    # between scenarios

    def heal(self) -> list[str]:
        """Whatever a failed scenario left broken, mended for the next one.
        A worker that is down (or crashes again on the same record) is
        replaced by a fresh consumer group starting at the current end of
        `vigil.readings`, so one scenario's damage never fails the next."""
        notes = []
        if self.broker.proc is None or self.broker.proc.poll() is not None:
            notes.append("Kafka was down: restarted")
            self.restart_broker()
        if self.gateway is None or self.gateway.poll() is not None:
            notes.append("the gateway was down: restarted")
            self.start_gateway()
        elif not _ready(f"http://127.0.0.1:{self.http_port}/readyz", 60):
            notes.append("the gateway was not ready: restarted")
            Processes.stop(self.gateway)
            self.start_gateway()
        healthy = [
            w
            for w in self.workers.values()
            if w.proc.poll() is None and _ready(f"{w.url}/readyz", 60) and self.caught_up(STALL_S)
        ]
        if len(healthy) != 1 or len(self.workers) != 1:
            states = ", ".join(
                f"{w.name} "
                + ("running" if w.proc.poll() is None else f"exited {w.proc.returncode}")
                + (", ready" if w in healthy else ", not ready")
                for w in self.workers.values()
            )
            for worker in list(self.workers.values()):
                Processes.stop(worker.proc, timeout=10)
                self.forget(worker)
            self._groups += 1
            self.worker_id = f"vigil-faults-{self._groups}"
            notes.append(
                f"the worker was down ({states or 'none'}): replaced by consumer group {self.worker_id} "
                "from the topic's end"
            )
            asyncio.run(commit_at_end(self.broker.bootstrap, self.worker_id))
            self.start_worker()
        return notes

    def caught_up(self, timeout: float) -> bool:
        """Has the worker processed everything on `vigil.readings`? A worker
        can be up and ready yet stuck (its producer crashed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ends = asyncio.run(end_offsets(self.broker.bootstrap, READINGS_TOPIC))
            done = asyncio.run(committed(self.broker.bootstrap, self.worker_id))
            if all(done.get(p, 0) >= offset for p, offset in ends.items()):
                return True
            time.sleep(0.5)
        return False


class ClusterStack(Stack):
    """Beyond one machine, on one machine (`--cluster`): three Kafka brokers
    (three replicas of every topic, `min.insync.replicas` 2), two gateways
    sharing one websocket port (`VIGIL_GATEWAY_REUSE_PORT`: the kernel
    spreads the devices over them, as a load balancer would) and three
    workers in one consumer group. Every process has a home of its own and
    the registry is on Kafka (`VIGIL_REGISTRY=kafka`): nothing shared but
    Kafka and the pseudonym key, as on separate hosts. `gateway` is the one
    that must stay up; `victim` the one a scenario may kill."""

    WORKERS = 3

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs = Processes(tmp / "logs")
        # Six ports free now: a KRaft quorum names its controllers' ports before they bind.
        self.broker = LocalCluster(tmp / "kafka", 3, port=0, controller_port=0, partitions=PARTITIONS)  # type: ignore[assignment]
        self.home = tmp / "home"
        self.home.mkdir(parents=True)
        self.key = secrets.token_hex(32)
        # The shared websocket port: a socket bound to it with SO_REUSEPORT (not
        # listening, so it takes no connection) holds it for the whole suite.
        self._shared = socket.socket()
        self._shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self._shared.bind(("127.0.0.1", 0))
        self.ws_port = self._shared.getsockname()[1]
        self._http: dict[int, int] = {}  # gateway index -> the HTTP port it reported
        self.env = vigil_env(
            self.home,
            self.broker.bootstrap,
            500,
            GATEWAY_PORT=str(self.ws_port),
            GATEWAY_HTTP_PORT="0",
            GATEWAY_REUSE_PORT="1",
            PSEUDONYM_KEY=self.key,
            WORKER_ID="vigil-faults-1",
            REGISTRY="kafka",
            REPLICATION_FACTOR="3",
            CONFIRM_S=FLEET_CONFIRM_S,
            WORKER_STALL_S=f"{WORKER_STALL_S:g}",
        )
        self.env["VIGIL_LOG_LEVEL"] = os.environ.get("FAULTS_LOG_LEVEL", "warning")
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("VIGIL_")})
        self.gateway = None
        self.victim: subprocess.Popen[bytes] | None = None
        self.workers = {}
        self.worker_id = "vigil-faults-1"
        self._groups = 1
        self._names = 0
        self.killed: list[Worker] = []  # workers a scenario killed on purpose, for heal()
        self.stall_restarts = []

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/v1"

    @property
    def http_port(self) -> int:
        return self._http[1]

    def start(self) -> None:
        self.broker.start(quiet=True)
        asyncio.run(ensure_topics(self.settings))
        self.start_gateway(wait=False)
        self.start_victim()
        workers = [self.start_worker(wait=False) for _ in range(self.WORKERS)]
        self.wait_gateway()
        for worker in workers:
            self.wait_worker(worker)

    def stop(self) -> None:
        super().stop()
        self._shared.close()

    def _start_gateway(self, index: int) -> subprocess.Popen[bytes]:
        """Gateway `index` (0: the victim, 1: the one that stays), its HTTP port reported."""
        home = self.tmp / f"gateway-{index + 1}"
        home.mkdir(exist_ok=True)
        ports_file = home / "gateway.ports.json"
        ports_file.unlink(missing_ok=True)
        command = [sys.executable, "-m", "app.cli", "gateway", "--ports-file", str(ports_file)]
        proc = self.procs.start(f"gateway-{index + 1}", command, {**self.env, "VIGIL_HOME": str(home)})
        self._http[index] = reported_ports(ports_file, proc, 90, f"gateway-{index + 1}")["http"]
        return proc

    def start_gateway(self, wait: bool = True) -> None:
        self.gateway = self._start_gateway(1)
        if wait:
            self.wait_gateway()

    def start_victim(self) -> None:
        self.victim = self._start_gateway(0)
        wait_ready(f"http://127.0.0.1:{self._http[0]}/readyz", self.victim, 90, 0.1, what="gateway-1")

    def kill_victim(self) -> None:
        assert self.victim is not None
        Processes.kill(self.victim)

    def kill_broker(self, index: int = 1) -> None:  # type: ignore[override]
        self.broker.nodes[index].kill()  # type: ignore[attr-defined]

    def restart_broker(self, index: int = 1) -> None:  # type: ignore[override]
        self.broker.restart(index, timeout=120)  # type: ignore[attr-defined]

    def heal(self) -> list[str]:
        """Every broker, both gateways and three workers up again, caught up."""
        notes = []
        for index, node in enumerate(self.broker.nodes):  # type: ignore[attr-defined]
            if node.proc is None or node.proc.poll() is not None:
                notes.append(f"broker {index + 1} was down: restarted")
                self.broker.restart(index, timeout=120)  # type: ignore[attr-defined]
        if self.victim is None or self.victim.poll() is not None:
            self.start_victim()
        if self.gateway is None or self.gateway.poll() is not None:
            notes.append("the gateway that must stay up was down: restarted")
            self.start_gateway()
        for worker in self.killed:
            self.restart_worker(worker, wait=False)
        for worker in list(self.workers.values()):
            if worker.proc.poll() is not None and worker not in self.killed:
                notes.append(f"{worker.name} was down: restarted")
                self.restart_worker(worker, wait=False)
        self.killed = []
        for worker in self.workers.values():
            self.wait_worker(worker)
        if not self.caught_up(120):
            notes.append("the workers did not catch up within 120 s")
        return notes


def _ready(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = http_get(url, timeout=2.0)
        if answer is not None and answer[0] == 200:
            return True
        time.sleep(0.25)
    return False


# -- Kafka helpers ------------------------------------------------------------------------


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """{partition: end offset} of `topic` now; {} if it does not exist."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await loadtest._started(consumer)
    try:
        # `topics()` refreshes metadata but not the consumer's cached copy,
        # which `partitions_for_topic` reads: take the partitions from it.
        cluster = await consumer._client.fetch_all_metadata()
        partitions = cluster.partitions_for_topic(topic) or set()
        if not partitions:
            return {}
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def read_range(bootstrap: str, topic: str, starts: dict[int, int], ends: dict[int, int]) -> list[Any]:
    """The records of `topic` from `starts` (0 where missing) to `ends`."""
    if not any(ends.values()):
        return []
    consumer = await loadtest._started(from_start(Settings(kafka_bootstrap=bootstrap), topic))
    records: list[Any] = []
    try:
        tps = await asyncio.wait_for(assignment(consumer, topic), 30)
        for tp in tps:
            consumer.seek(tp, starts.get(tp.partition, 0))
        await read_to_end(consumer, topic, records.extend, {tp: ends.get(tp.partition, 0) for tp in tps})
    finally:
        await consumer.stop()
    return records


async def committed(bootstrap: str, group: str) -> dict[int, int]:
    """The group's committed offsets on `vigil.readings`; {} if Kafka does not answer."""
    answer = await committed_or_none(bootstrap, group)
    return {} if answer is None else answer


async def committed_or_none(bootstrap: str, group: str) -> dict[int, int] | None:
    """The group's committed offsets on `vigil.readings`; None if Kafka does not answer
    (a broker just restarted can refuse offset requests while it loads its offsets topic)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        offsets = await admin.list_consumer_group_offsets(group)
        return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == READINGS_TOPIC}
    except (TimeoutError, KafkaError, OSError):
        return None
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


async def commit_at_end(bootstrap: str, group: str) -> None:
    """Start consumer group `group` at the current end of `vigil.readings`."""
    ends = await end_offsets(bootstrap, READINGS_TOPIC)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await loadtest._started(consumer)
    try:
        tps = {TopicPartition(READINGS_TOPIC, p): offset for p, offset in ends.items()}
        consumer.assign(list(tps))
        await consumer.commit(tps)
    finally:
        await consumer.stop()


def scrape_sum(url: str, name: str) -> float | None:
    """Sum of a metric's samples on a worker's /metrics; None if it is not exported."""
    answer = http_get(f"{url}/metrics", timeout=5.0)
    if answer is None or answer[0] != 200:
        return None
    samples = metric(answer[1].decode(), name)
    return sum(samples.values()) if samples else None


# -- the fleet, with a ledger of what each device sent -----------------------------------


def fingerprint(ts: Any, vitals: Any) -> bytes:
    return orjson.dumps([ts, vitals], option=orjson.OPT_SORT_KEYS)


class _Ledger(dict):
    """A client's `unacked`, noting the content of every reading queued under each seq."""

    def __init__(self, client: FaultClient, *args: Any) -> None:
        super().__init__(*args)
        self.client = client
        for seq, reading in self.items():
            client._note(seq, reading)

    def __setitem__(self, seq: int, reading: dict[str, Any]) -> None:
        super().__setitem__(seq, reading)
        self.client._note(seq, reading)


class FaultClient(loadtest.LoadClient):
    """The reference client, remembering the content of every reading it
    queued and which of them were acknowledged: whatever the client does with
    seqs (a reset, a renumbering), an acknowledged reading is then checked by
    its content, not only by its seq."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.content: dict[int, bytes] = {}  # seq -> fingerprint of the reading last queued under it
        self.queued: set[bytes] = set()
        self.acked_fps: set[bytes] = set()
        self.last_ack = 0.0  # perf_counter of the latest ack
        self.events: list[tuple[float, str]] = []  # (perf_counter, a hello, an error frame, a close)
        super().__init__(*args, **kwargs)

    @property  # type: ignore[override]
    def unacked(self) -> dict[int, dict[str, Any]]:
        return self._unacked

    @unacked.setter
    def unacked(self, value: dict[int, dict[str, Any]]) -> None:
        self._unacked = value if isinstance(value, _Ledger) else _Ledger(self, value)

    def _note(self, seq: int, reading: dict[str, Any]) -> None:
        fp = fingerprint(reading["ts"], reading["vitals"])
        self.content[seq] = fp
        self.queued.add(fp)

    # Readings are noted when handed to the client too: a client may hold
    # them unnumbered (out of `unacked`) until the gateway's hello reply.
    async def send(self, ts_ms: int, vitals: dict[str, Any], seq: int | None = None) -> Any:
        self.queued.add(fingerprint(ts_ms, vitals))
        return await super().send(ts_ms, vitals, seq)

    async def send_batch(self, items: list[tuple[int, dict[str, Any]]]) -> Any:
        self.queued.update(fingerprint(ts, vitals) for ts, vitals in items)
        return await super().send_batch(items)

    @property
    def held(self) -> int:
        """Readings the client still holds, acknowledged by nobody."""
        return len(self.unacked) + len(getattr(self, "unnumbered", ()))

    def _acked(self, seq: int) -> None:
        super()._acked(seq)
        fp = self.content.get(seq)
        if fp is not None:
            self.acked_fps.add(fp)
        self.last_ack = time.perf_counter()

    # What the client lived through, for the diagnosis of readings never acknowledged.
    async def run(self, stop: asyncio.Event) -> None:
        try:
            await super().run(stop)
        except BaseException as exc:
            self.events.append((time.perf_counter(), f"connection loop ended: {exc!r}"[:300]))
            raise

    async def _hello(self, ws: Any) -> None:
        await super()._hello(ws)
        self.events.append((time.perf_counter(), "hello"))

    async def _receive(self, ws: Any, stop: asyncio.Event) -> None:
        try:
            await super()._receive(ws, stop)
        finally:
            self.events.append((time.perf_counter(), f"closed {getattr(ws, 'close_code', None)}"))

    def _on_frame(self, frame: dict[str, Any]) -> None:
        if frame.get("type") == "error":
            self.events.append((time.perf_counter(), f"error {frame.get('code')} {frame.get('seq')}"))
        super()._on_frame(frame)

    def snapshot(self, now: float) -> dict[str, Any]:
        """Where this client's unacknowledged readings stand, at `now`."""
        ws = self._ws
        return {
            "held": self.held,
            "seqs": sorted(self.unacked)[:5] + (["..."] if len(self.unacked) > 5 else []),
            "connected": self._connected.is_set(),
            "ws_state": getattr(getattr(ws, "state", None), "name", None),
            "last_ack_s_ago": round(now - self.last_ack, 1) if self.last_ack else None,
            "hellos": sum(1 for _, e in self.events if e == "hello"),
            "events_s_ago": [(round(now - t, 1), e) for t, e in self.events[-8:]],
        }


class FaultRun(loadtest.LoadRun):
    client_type = FaultClient

    def __init__(self, *args: Any, alive: Callable[[], bool], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.alive = alive
        self.ack_log: list[tuple[float, float]] = []  # (perf_counter at ack, latency)
        self.held_at_drain: dict[str, dict[str, Any]] = {}  # device -> FaultClient.snapshot
        self.unanswered = 0  # polls of the committed offsets Kafka did not answer (`_wait_processed`)

    def on_ack(self, latency: float) -> None:
        super().on_ack(latency)
        self.ack_log.append((time.perf_counter(), latency))

    async def _processed(self, end_offsets: dict[Any, int], deadline: float) -> dict[int, int]:
        # The drain is over: note the devices still holding readings, while still connected.
        now = time.perf_counter()
        self.held_at_drain = {
            d: c.snapshot(now)
            for d, c in self.clients.items()
            if c.held  # type: ignore[attr-defined]
        }
        return await super()._processed(end_offsets, deadline)

    async def _wait_processed(self, end: dict[Any, int], deadline: float) -> dict[int, int]:
        """The worker's committed offsets once they reach `end`; given up
        on at the deadline, at once when no worker runs, and when they have
        not moved for WAIT_STALL_S (a worker alive but stuck, even after its
        own watchdog had it start again: `Stack.supervise`). A poll Kafka does
        not answer says nothing of the worker: it neither counts as not
        moved nor replaces the last answer. Before, 20 s of unanswered polls
        read as a stuck worker with nothing committed."""
        last: dict[int, int] | None = None
        moved = polled = time.perf_counter()
        while True:
            answer = await committed_or_none(self.settings.bootstrap, self.settings.worker_id)
            now = time.perf_counter()
            if answer is None:
                self.unanswered += 1
                moved += now - polled  # time without an answer is not time without progress
            elif all(answer.get(tp.partition, 0) >= offset for tp, offset in end.items()):
                return answer
            elif answer != last:
                last, moved = answer, now
            if now > deadline or now - moved > WAIT_STALL_S or not self.alive():
                return last or {}
            polled = now
            await asyncio.sleep(0.5)


# -- one run of one scenario ------------------------------------------------------------


@dataclass
class Result:
    scenario: str
    run: int
    sent: int = 0
    acked: int = 0
    lost: int = 0
    lost_detail: dict[str, int] = field(default_factory=dict)
    stored_twice: int = 0
    stored_conflicting: int = 0
    alerts_expected: int = 0
    alerts_lost: int = 0
    alerts_reemitted: int = 0
    alerts_conflicting: int = 0
    alerts_unexpected: int = 0
    recovery_s: float | None = None
    ack_p99_s: float | None = None
    ack_p99_before_s: float | None = None  # floods: before the flood, same run
    failures: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def fail(self, reason: str) -> None:
        self.failures.append(reason)

    @property
    def duplicate_alerts(self) -> int:
        return self.alerts_reemitted + self.alerts_conflicting

    @property
    def passed(self) -> bool:
        return not self.failures


class Ctx:
    """What a scenario's fault sees: the stack, the fleet, the clock of the
    run, and where it records its own checks."""

    def __init__(
        self,
        stack: Stack,
        sizes: Sizes,
        run: FaultRun,
        result: Result,
        prefix: str,
        starts: dict[str, dict[int, int]],
    ) -> None:
        self.stack = stack
        self.starts = starts  # topic -> {partition: offset} when the run began
        self.sizes = sizes
        self.run = run
        self.result = result
        self.prefix = prefix
        self.started = 0.0  # perf_counter when the fleet started sending
        self.extra: dict[str, list[FaultClient | RawDevice]] = {}  # device -> its clients (accountable)
        self.patients: dict[str, str] = {}  # every device of this run -> its patient
        self.checks: list[Callable[[], Awaitable[None]]] = []  # run after reconciliation
        self.recoveries: list[asyncio.Future[float | None]] = []  # one per injection
        self.flood_window: tuple[float, float] | None = None
        self.background: list[asyncio.Future[Any]] = []

    @property
    def settings(self) -> Settings:
        return self.stack.settings

    async def at(self, seconds: float) -> None:
        """Sleep until `seconds` after the fleet started sending."""
        await asyncio.sleep(max(0.0, self.started + seconds - time.perf_counter()))

    def fail(self, reason: str) -> None:
        self.result.fail(reason)

    async def inject(self, track: bool = True) -> float:
        """Mark the fault's moment; the recovery clock starts here (unless
        the scenario measures its own recovery: `track=False`)."""
        now = time.perf_counter()
        if track:
            marks = await end_offsets(self.settings.bootstrap, READINGS_TOPIC)
            self.recoveries.append(asyncio.ensure_future(self._recovered(now, marks)))
        return now

    async def _recovered(self, since: float, marks: dict[int, int], limit: float = 300.0) -> float | None:
        clients = list(self.run.clients.values())
        while time.perf_counter() - since < limit:
            if all(c.last_ack > since for c in clients):
                done = await committed(self.settings.bootstrap, self.stack.worker_id)
                if all(done.get(p, 0) >= offset for p, offset in marks.items()):
                    return time.perf_counter() - since
            await asyncio.sleep(0.25)
        return None

    def register(self, device_id: str, patient: str) -> str:
        """An extra device for this run (besides the fleet); returns its token."""
        token = self.stack.registry.reissue({device_id: patient})[device_id]
        self.patients[device_id] = patient
        return token

    def client(self, device_id: str, token: str) -> FaultClient:
        client = FaultClient(self.stack.ws_url, token, run=None)
        self.extra.setdefault(device_id, []).append(client)
        return client

    def device(self, name: str) -> str:
        return f"{self.prefix}-{name}"


Fault = Callable[[Ctx], Awaitable[None]]


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: Fault
    duration: Callable[[Sizes], float]  # fleet streaming time
    full_runs: int = 1
    full_only: bool = False
    drain_s: float | None = None
    # After the fleet stops, how long the worker may take to commit past
    # every reading before the rest counts as lost. After a broker restart
    # the worker rejoins its group and Faust rebalances; that has been seen
    # to take minutes (docs/reliability.md, findings): slow is reported in
    # `recovery s`, lost only if it never catches up.
    catch_up_s: float = 60.0


async def run_once(stack: Stack, scenario: Scenario, index: int, sizes: Sizes, verbose: bool) -> Result:
    result = Result(scenario.name, index)
    random.seed(index)  # the reference client's reconnect jitter, among others
    prefix = f"{scenario.name}-{index}"
    settings = stack.settings
    bootstrap = settings.bootstrap
    starts = {t: await end_offsets(bootstrap, t) for t in (READINGS_TOPIC, ALERTS_TOPIC, DEAD_LETTER_TOPIC)}
    plan = loadtest.Plan(
        devices=sizes.devices,
        rate=sizes.rate,
        duration_s=scenario.duration(sizes),
        batch=1,
        deteriorate=0.5,
        drain_s=scenario.drain_s or sizes.drain_s,
        seed=7 + index,
        prefix=prefix,
        settle_s=0.5,
    )
    out = sys.stderr if verbose else open(os.devnull, "w")
    run = FaultRun(settings, plan, out=out, alive=stack.worker_alive)
    ctx = Ctx(stack, sizes, run, result, prefix, starts)
    workers_before = dict(stack.workers)
    stalls_before = len(stack.stall_restarts)
    t0 = time.perf_counter()
    phases = result.notes["phases_s"] = {}  # when each stage ended, from the start of the run

    def phase(name: str) -> None:
        phases[name] = round(time.perf_counter() - t0, 1)

    fleet = asyncio.ensure_future(run.run(asyncio.Event()))
    fault: asyncio.Future[None] | None = None
    try:
        await _first(run.sending_started.wait(), fleet)
        ctx.started = time.perf_counter()
        phase("connected")
        fault = asyncio.ensure_future(scenario.fault(ctx))
        fault.add_done_callback(lambda _: phase("fault"))
        report = await fleet
        phase("fleet")
        await fault
    finally:
        for task in [fleet, *([fault] if fault else []), *ctx.background]:
            task.cancel()
        if not verbose:
            out.close()
    ctx.patients.update({d: d.upper() for d in run.clients})
    clients = {d: [c] for d, c in run.clients.items()} | ctx.extra

    # Everything the run wrote, processed: the simulator has waited for its
    # own readings already; this adds the extra devices' and the poison, and
    # gives a worker still catching up (after a rebalance, the partitions
    # moved back to a remaining worker have been seen idle for up to a
    # minute) time to: slow is reported in `recovery s`, lost only if stuck.
    ends = await end_offsets(bootstrap, READINGS_TOPIC)
    done = await run._wait_processed(
        {TopicPartition(READINGS_TOPIC, p): o for p, o in ends.items()},
        time.perf_counter() + scenario.catch_up_s,
    )
    phase("processed")
    records = await read_range(bootstrap, READINGS_TOPIC, starts[READINGS_TOPIC], ends)
    alerts = await read_range(
        bootstrap, ALERTS_TOPIC, starts[ALERTS_TOPIC], await end_offsets(bootstrap, ALERTS_TOPIC)
    )
    phase("read")
    reconcile_readings(result, clients, records, done)
    key = bytes.fromhex(stack.key)
    subjects = {pseudonym(key, p): p for p in ctx.patients.values()}
    reconcile_alerts(result, subjects, records, alerts, settings.detector_config())
    result.ack_p99_s = report["ack_latency_s"]["p99"]
    result.notes["simulator"] = {
        k: report[k] for k in ("sent", "acked", "errors", "lost_detail", "reconnects")
    }
    if run.held_at_drain:
        result.notes["held_at_drain"] = run.held_at_drain
    if run.unanswered:
        result.notes["offset_polls_unanswered"] = run.unanswered
    if len(stack.stall_restarts) > stalls_before:
        # A worker stalled and was started again (`Stack.supervise`): the designed
        # recovery, not a failure; the notes say it, with where its tasks waited.
        stalled = stack.stall_restarts[stalls_before:]
        result.notes["stall_restarts"] = stalled
        result.notes["stalled_worker_logs"] = {
            name: _stalled_lines(stack.procs.log_tail(name, 20000)) for name in set(stalled)
        }
    for check in ctx.checks:
        await check()
    if ctx.recoveries:
        try:
            times = await asyncio.wait_for(asyncio.gather(*ctx.recoveries), 15)
        except TimeoutError:
            times = [None]
        if None in times:
            result.fail("did not recover: some devices had no ack, or the worker did not catch up")
        else:
            result.recovery_s = max(times)  # type: ignore[type-var]
    for name, worker in workers_before.items():
        if stack.workers.get(name) is worker and worker.proc.poll() is not None:
            result.fail(f"{name} exited unexpectedly (code {worker.proc.returncode})")
    if stack.gateway is not None and stack.gateway.poll() is not None:
        result.fail(f"the gateway exited unexpectedly (code {stack.gateway.returncode})")
    phase("checked")
    judge(result)
    if not result.passed:
        # What each worker said last: the logs go with the temp dir (without --keep), and a
        # failure seen on a clean clone (broker-kill-10s, 2026-12-04: a worker wedged after the
        # broker's restart, docs/reliability.md) left nothing to read.
        result.notes["worker_logs"] = {name: stack.procs.log_tail(name, 2500) for name in stack.workers}
    return result


def _stalled_lines(log: str) -> list[str]:
    """The watchdog's lines in a worker's log: that it stalled, and where its tasks waited."""
    return [line for line in log.splitlines() if "stalled" in line]


async def _first(waiting: Awaitable[Any], fleet: asyncio.Future[Any]) -> None:
    """Wait for `waiting`, or raise what the fleet raised if it ended first."""
    task = asyncio.ensure_future(waiting)
    await asyncio.wait({task, fleet}, return_when=asyncio.FIRST_COMPLETED)
    if not task.done():
        task.cancel()
        fleet.result()  # raises the fleet's error
        raise RuntimeError("the fleet stopped before sending")


def reconcile_readings(
    result: Result, clients: dict[str, list[Any]], records: list[Any], done: dict[int, int]
) -> None:
    """(a) by device and reading content, against `vigil.readings` and the worker's committed offsets."""
    stored: dict[
        str, dict[bytes, list[tuple[int, int]]]
    ] = {}  # device -> fingerprint -> [(partition, offset)]
    by_seq: dict[
        tuple[str, int], list[tuple[bytes, str]]
    ] = {}  # (device, seq) -> [(fingerprint, reading id)]
    for record in records:
        for batch in readable_frames(record.value):  # none of poison: not a device's reading
            if batch.device_id not in clients:
                continue
            for reading in batch.readings:
                fp = fingerprint(reading["ts"], reading["vitals"])
                stored.setdefault(batch.device_id, {}).setdefault(fp, []).append(
                    (record.partition, record.offset)
                )
                by_seq.setdefault((batch.device_id, reading["seq"]), []).append((fp, reading["id"]))
    never_acked = not_stored = not_processed = held_stored = 0
    for device_id, device_clients in clients.items():
        copies = stored.get(device_id, {})
        for client in device_clients:
            result.sent += len(client.queued)
            result.acked += len(client.acked_fps)
            never_acked += getattr(client, "held", len(client.unacked))
            content = getattr(client, "content", {})
            held_stored += sum(1 for seq in client.unacked if copies.get(content.get(seq, b"")))
            for fp in client.acked_fps:
                places = copies.get(fp)
                if not places:
                    not_stored += 1
                elif all(offset >= done.get(partition, 0) for partition, offset in places):
                    not_processed += 1
    for entries in by_seq.values():
        if len(entries) > 1:
            contents = {fp for fp, _ in entries}
            result.stored_twice += len(entries) - 1
            result.stored_conflicting += len(contents) - 1
    result.lost_detail = {
        "never_acked": never_acked,
        "acked_not_stored": not_stored,
        "stored_not_processed": not_processed,
    }
    result.lost = never_acked + not_stored + not_processed
    if never_acked:
        result.notes["never_acked_but_stored"] = held_stored


def replay(subjects: dict[str, str], records: list[Any], config: core.Config) -> list[dict[str, Any]]:
    """The alert events the core makes of these records, per patient in partition order."""
    states: dict[str, core.PatientState] = {}
    events: list[dict[str, Any]] = []
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        for batch in readable_frames(record.value):  # none of poison: the worker skips it too
            if batch.patient not in subjects:
                continue
            state = states.setdefault(batch.patient, core.PatientState())
            patient = subjects[batch.patient]
            events.extend(core.process_record(state, batch, config, patient).events)  # as the worker does
    return events


def alert_key(event: dict[str, Any]) -> tuple[Any, ...]:
    """The key consumers deduplicate on (docs/alerts.md): a re-emission repeats it; reminders, and an
    escalation to a severity the episode had reached before it settled lower, differ by event time."""
    return (event.get("alert_id"), event.get("status"), event.get("severity"), event.get("event_time"))


def reconcile_alerts(
    result: Result, subjects: dict[str, str], records: list[Any], alerts: list[Any], config: core.Config
) -> None:
    """(b) by alert_id, against an offline replay of the same readings."""
    replayed = replay(subjects, records, config)
    expected = Counter(alert_key(e) for e in replayed)
    seen: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for record in alerts:
        try:
            event = orjson.loads(record.value)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict) and event.get("subject") in subjects:
            seen.setdefault(alert_key(event), []).append(event)
    result.alerts_expected = sum(expected.values())
    missing = expected - Counter({k: len(v) for k, v in seen.items()})
    result.alerts_lost = sum(missing.values())
    if missing:  # what a reader needs to look into it: which device, which event
        result.notes["lost_alerts"] = [_brief(e) for e in replayed if alert_key(e) in missing][:10]
    for key, copies in seen.items():
        extra = len(copies) - max(1, expected.get(key, 0))
        if extra > 0:
            distinct: list[dict[str, Any]] = []
            for copy in copies:
                if copy not in distinct:
                    distinct.append(copy)
            conflicting = min(extra, len(distinct) - 1)  # copies that differ from every earlier one
            result.alerts_conflicting += conflicting
            result.alerts_reemitted += extra - conflicting  # repeats of an earlier copy
        if key not in expected:
            result.alerts_unexpected += 1
            result.notes.setdefault("unexpected_alerts", []).append(_brief(copies[0]))
        elif extra > 0:
            result.notes.setdefault("duplicate_alerts", []).append(_brief(copies[0]) + f" x{len(copies)}")


def _brief(event: dict[str, Any]) -> str:
    return (
        f"{event.get('device_id')} {event.get('kind')} {event.get('status')} {event.get('severity')} "
        f"at {event.get('event_time')} ({str(event.get('alert_id'))[:8]})"
    )


def judge(result: Result) -> None:
    if result.lost:
        d = result.lost_detail
        result.fail(
            f"{result.lost} readings lost: {d['never_acked']} never acknowledged, {d['acked_not_stored']} "
            f"acknowledged but not stored, {d['stored_not_processed']} not processed by the end of the wait"
        )
    if result.stored_conflicting:
        result.fail(f"{result.stored_conflicting} seqs stored twice with different content")
    if result.alerts_lost:
        result.fail(
            f"{result.alerts_lost} of {result.alerts_expected} alert events of the replay not on vigil.alerts"
        )
    if result.duplicate_alerts:
        result.fail(
            f"{result.duplicate_alerts} duplicate alert events ({result.alerts_reemitted} re-emitted "
            f"identical, {result.alerts_conflicting} conflicting)"
        )
    if result.alerts_unexpected:
        result.fail(f"{result.alerts_unexpected} alert events on vigil.alerts that the replay does not make")
    if result.alerts_expected == 0:
        result.notes["warning"] = "no alert events in this run: the alert reconciliation checked nothing"


# -- the faults ------------------------------------------------------------------------


async def worker_kill(ctx: Ctx) -> None:
    await ctx.at(ctx.sizes.lead_s)
    worker = ctx.stack.primary()
    await ctx.inject()
    Processes.kill(worker.proc)
    ctx.stack.restart_worker(worker, wait=False)
    await asyncio.to_thread(ctx.stack.wait_worker, worker)


async def gateway_kill(ctx: Ctx) -> None:
    await ctx.at(ctx.sizes.lead_s)
    await ctx.inject()
    ctx.stack.kill_gateway()
    ctx.stack.start_gateway(wait=False)
    await asyncio.to_thread(ctx.stack.wait_gateway)


def broker_kill(outage_s: float) -> Fault:
    async def fault(ctx: Ctx) -> None:
        await ctx.at(ctx.sizes.lead_s)
        await ctx.inject()
        ctx.stack.kill_broker()
        await asyncio.sleep(outage_s)
        await asyncio.to_thread(ctx.stack.restart_broker)

    return fault


async def worker_join_leave(ctx: Ctx) -> None:
    await ctx.at(ctx.sizes.lead_s / 2)
    await ctx.inject()
    second = ctx.stack.start_worker(wait=False)
    await asyncio.to_thread(ctx.stack.wait_worker, second)
    await asyncio.sleep(ctx.sizes.lead_s / 2)
    await ctx.inject()  # the leave: the first worker takes its partitions back
    ctx.stack.forget(second)
    code = await asyncio.to_thread(Processes.stop, second.proc, 30.0)
    ctx.result.notes["second_worker_exit"] = code
    if code != 0:
        ctx.fail(f"the second worker did not stop cleanly (exit code {code})")


async def scale_kill(ctx: Ctx) -> None:
    """One gateway and one worker SIGKILLed at once, neither restarted: the
    devices reconnect to the shared port and land on the other gateway; the
    two workers left take over the partitions and their states."""
    stack = ctx.stack
    assert isinstance(stack, ClusterStack)
    await ctx.at(ctx.sizes.lead_s)
    await ctx.inject()
    worker = stack.primary()
    stack.forget(worker)
    stack.killed.append(worker)
    stack.kill_victim()
    Processes.kill(worker.proc)


async def cluster_broker_kill(ctx: Ctx) -> None:
    """One of three brokers SIGKILLed for 10 s: with two replicas left every
    write still reaches `min.insync.replicas`."""
    await ctx.at(ctx.sizes.lead_s)
    await ctx.inject()
    ctx.stack.kill_broker()
    await asyncio.sleep(10)
    await asyncio.to_thread(ctx.stack.restart_broker)


async def cluster_two_down(ctx: Ctx) -> None:
    """Two of three brokers SIGKILLed for 15 s: no write can reach
    `min.insync.replicas`, so the gateway acknowledges nothing and answers
    `unavailable` (after `VIGIL_ACK_TIMEOUT_S`); with the brokers back the
    devices' resends are stored, and the reconciliation finds every reading
    acknowledged before, during and after on `vigil.readings`."""
    stack = ctx.stack
    assert isinstance(stack, ClusterStack)
    await ctx.at(ctx.sizes.lead_s)
    await ctx.inject()
    stack.kill_broker(1)
    stack.kill_broker(2)
    await asyncio.sleep(15)
    await asyncio.to_thread(stack.restart_broker, 1)
    await asyncio.to_thread(stack.restart_broker, 2)

    async def check() -> None:
        if not ctx.run.stats.errors.get("unavailable"):
            ctx.fail("with two brokers down the gateway never answered unavailable")

    ctx.checks.append(check)


def _poison(now_ms: int) -> list[tuple[str, bytes]]:
    """Records of the wrong shape, as another system might write them to vigil.readings."""
    head = {"v": 1, "device_id": "poison-device", "patient": "p-" + "0" * 32, "received_ms": now_ms}

    def record(**fields: Any) -> bytes:
        return orjson.dumps({**head, **fields})

    return [
        ("not JSON", b"\xff\x00 not json"),
        ("a JSON array", b"[1, 2, 3]"),
        ("no readings", record()),
        ("ts a string", record(readings=[{"id": "x", "seq": 0, "ts": "soon", "vitals": {"heart_rate": 70}}])),
        ("vitals a list", record(readings=[{"id": "x", "seq": 0, "ts": now_ms, "vitals": [70, 98]}])),
        (
            "a vital a string",
            record(readings=[{"id": "x", "seq": 0, "ts": now_ms, "vitals": {"heart_rate": "x"}}]),
        ),
    ]


async def poison(ctx: Ctx) -> None:
    await ctx.at(ctx.sizes.lead_s)
    worker = ctx.stack.primary()
    before = await asyncio.to_thread(scrape_sum, worker.url, FAILED_METRIC)
    await ctx.inject()
    producer = AIOKafkaProducer(**aiokafka_options(ctx.settings), acks="all")
    await producer.start()
    written: list[tuple[int, int]] = []
    try:
        for i, (_, value) in enumerate(_poison(int(time.time() * 1000))):
            meta = await producer.send_and_wait(
                READINGS_TOPIC, value, key=b"poison", partition=i % PARTITIONS
            )
            written.append((meta.partition, meta.offset))
    finally:
        await producer.stop()

    async def check() -> None:
        await _check_dead_letters(ctx, written)
        after = await asyncio.to_thread(scrape_sum, worker.url, FAILED_METRIC)
        ctx.result.notes["records_failed_metric"] = [before, after]
        if after is None:
            ctx.fail(f"{FAILED_METRIC} is not exported by the worker")
        elif after - (before or 0) < len(written):
            ctx.fail(
                f"{FAILED_METRIC} rose by {after - (before or 0):g}, not by the {len(written)} poison records"
            )

    ctx.checks.append(check)


async def _check_dead_letters(ctx: Ctx, written: list[tuple[int, int]]) -> None:
    bootstrap = ctx.settings.bootstrap
    ends = await end_offsets(bootstrap, DEAD_LETTER_TOPIC)
    if not ends:
        ctx.fail(f"no {DEAD_LETTER_TOPIC} topic: the {len(written)} poison records went nowhere")
        return
    records = await read_range(bootstrap, DEAD_LETTER_TOPIC, ctx.starts[DEAD_LETTER_TOPIC], ends)
    found: set[tuple[int, int]] = set()
    identifiers = [p.encode() for p in ctx.patients.values()] + [p.encode() for p in ctx.run.clients]
    key = bytes.fromhex(ctx.stack.key)
    identifiers += [pseudonym(key, p).encode() for p in ctx.patients.values()]
    for record in records:
        if any(i in record.value for i in identifiers):
            ctx.fail("a vigil.dead-letter record carries a patient identifier")
        with contextlib.suppress(orjson.JSONDecodeError, AttributeError, TypeError):
            letter = orjson.loads(record.value)
            if letter.get("topic", READINGS_TOPIC) == READINGS_TOPIC:
                found.add((letter.get("partition"), letter.get("offset")))
    matched = (
        len(found & set(written)) if any(None not in f for f in found) else min(len(records), len(written))
    )
    ctx.result.notes["dead_letters"] = {"written": len(written), "on_topic": len(records), "matched": matched}
    if matched < len(written):
        ctx.fail(f"{len(written) - matched} of {len(written)} poison records not on {DEAD_LETTER_TOPIC}")


def flood(kind: str) -> Fault:
    async def fault(ctx: Ctx) -> None:
        token = ""
        if kind != "handshake":
            device = ctx.device("hostile")
            token = ctx.register(device, device.upper())
        await ctx.at(ctx.sizes.lead_s)
        await ctx.inject()
        cmd = [sys.executable, str(HERE / "hostile.py"), kind, "--url", ctx.stack.ws_url]
        cmd += ["--seconds", str(ctx.sizes.flood_s), "--nice", str(ctx.sizes.hostile_nice)]
        proc = await asyncio.create_subprocess_exec(
            *cmd, *(["--token", token] if token else []), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        begun = time.perf_counter()
        out, err = await proc.communicate()
        ctx.flood_window = (begun, time.perf_counter())
        try:
            ctx.result.notes["flood"] = orjson.loads(out.splitlines()[-1])
        except (IndexError, orjson.JSONDecodeError):
            ctx.fail(f"the hostile client failed: {err.decode(errors='replace')[-300:]}")
        ctx.checks.append(lambda: _check_p99(ctx))

    return fault


async def _check_p99(ctx: Ctx) -> None:
    assert ctx.flood_window is not None
    begun, ended = ctx.flood_window
    before = [lat for at, lat in ctx.run.ack_log if ctx.started + 1.0 <= at - lat < begun]
    during = [lat for at, lat in ctx.run.ack_log if begun <= at - lat <= ended]
    p_before = loadtest.percentiles(before)["p99"]
    p_during = loadtest.percentiles(during)["p99"]
    ctx.result.ack_p99_before_s, ctx.result.ack_p99_s = p_before, p_during
    ctx.result.notes["acks_before_during"] = [len(before), len(during)]
    if p_before is None or p_during is None:
        ctx.fail("too few acks to compare the fleet's latency before and during the flood")
        return
    limit = max(2 * p_before, p_before + ctx.sizes.p99_slack_s)
    if p_during > limit:
        ctx.fail(
            f"other devices' ack p99 {p_during * 1000:.0f} ms during the flood, over {limit * 1000:.0f} ms "
            f"(before: {p_before * 1000:.0f} ms)"
        )


async def _until_acked(clients: list[FaultClient], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(c.pending for c in clients) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return not any(c.pending for c in clients)


async def future_timestamp(ctx: Ctx) -> None:
    device = ctx.device("clock")
    client = ctx.client(device, ctx.register(device, device.upper()))
    stop = asyncio.Event()
    connection = asyncio.ensure_future(client.run(stop))
    ctx.background.append(connection)
    now = int(time.time() * 1000)
    await client.send_batch([(now - 10_000 + i * 1000, NORMAL) for i in range(10)])
    await ctx.at(ctx.sizes.lead_s / 2)
    await client.send(int(time.time() * 1000) + 290_000, NORMAL)  # the device clock jumps ahead
    await _until_acked([client], 30)
    await ctx.inject(track=False)  # this scenario's recovery is the alert's delay
    first = int(time.time() * 1000)
    for _ in range(10):  # the clock is right again; the patient is in trouble
        await client.send(int(time.time() * 1000), CRITICAL)
        await asyncio.sleep(0.4)
    await _until_acked([client], 30)
    stop.set()
    await connection

    async def check() -> None:
        subject = pseudonym(bytes.fromhex(ctx.stack.key), device.upper())
        bootstrap = ctx.settings.bootstrap
        alerts = await read_range(
            bootstrap, ALERTS_TOPIC, ctx.starts[ALERTS_TOPIC], await end_offsets(bootstrap, ALERTS_TOPIC)
        )
        onsets = []
        for record in alerts:
            event = orjson.loads(record.value)
            if event.get("subject") == subject and event.get("status") in ("open", "escalated"):
                if (
                    event.get("kind") != "baseline_drift"
                    and loadtest._ms(event.get("event_time", "")) >= first
                ):
                    onsets.append(loadtest._ms(event["event_time"]))
        limit_s = ctx.settings.confirm_s + 5
        if not onsets:
            ctx.fail("no alert opened for the critical readings after the future-stamped one")
            return
        ctx.result.recovery_s = (min(onsets) - first) / 1000
        if ctx.result.recovery_s > limit_s:
            ctx.fail(
                f"the alert opened {ctx.result.recovery_s:.0f} s of event time late (limit {limit_s:.0f} s)"
            )

    ctx.checks.append(check)


async def seq_reset(ctx: Ctx) -> None:
    device = ctx.device("reset")
    token = ctx.register(device, device.upper())
    first = ctx.client(device, token)
    stop = asyncio.Event()
    connection = asyncio.ensure_future(first.run(stop))
    ctx.background.append(connection)
    for _ in range(20):
        await first.send(int(time.time() * 1000), NORMAL)
        await asyncio.sleep(0.05)
    await _until_acked([first], 30)
    stop.set()
    await connection
    await ctx.at(ctx.sizes.lead_s)
    await ctx.inject()
    # Firmware whose counter reset (a battery change): seqs 0-9 again, new readings.
    ctx.extra[device].append(
        await _raw_batch(
            ctx,
            token,
            [(i, int(time.time() * 1000) + i, {**NORMAL, "heart_rate": 100 + i}) for i in range(10)],
        )
    )
    # The reference client restarted: readings queued before it connects,
    # then new ones, all different from what the device sent before.
    second = ctx.client(device, token)
    for i in range(10):
        await second.send(int(time.time() * 1000) + i, {**NORMAL, "heart_rate": 80 + i})
    stop = asyncio.Event()
    connection = asyncio.ensure_future(second.run(stop))
    ctx.background.append(connection)
    for _ in range(10):
        await second.send(int(time.time() * 1000), {**NORMAL, "heart_rate": 90})
        await asyncio.sleep(0.1)
    await _until_acked([second], 30)
    stop.set()
    await connection


class RawDevice:
    """A device without the reference client: its own seqs, no resends. What
    it was told is reconciled like a client's (`reconcile_readings`)."""

    def __init__(self) -> None:
        self.queued: set[bytes] = set()
        self.acked_fps: set[bytes] = set()
        self.unacked: dict[int, Any] = {}  # it keeps nothing: a refused reading is refused, not lost
        self.refused: dict[str, int] = {}


async def _raw_batch(ctx: Ctx, token: str, readings: list[tuple[int, int, dict[str, Any]]]) -> RawDevice:
    """Send one batch frame (seq, ts, vitals) and note what each reading got back."""
    raw = RawDevice()
    by_seq = {seq: fingerprint(ts, vitals) for seq, ts, vitals in readings}
    raw.queued = set(by_seq.values())
    frame = {"type": "batch", "readings": [{"seq": q, "ts": t, "vitals": v} for q, t, v in readings]}
    answered: set[int] = set()
    async with connect(ctx.stack.ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        await ws.send(orjson.dumps(frame).decode())
        with contextlib.suppress(asyncio.TimeoutError, ConnectionClosed):
            while answered < set(by_seq):
                answer = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
                if answer.get("type") == "ack":
                    for seq in answer.get("seqs") or [answer.get("seq")]:
                        answered.add(seq)
                        raw.acked_fps.add(by_seq[seq])
                elif answer.get("type") == "error":
                    answered.add(answer.get("seq"))
                    raw.refused[answer.get("code", "?")] = raw.refused.get(answer.get("code", "?"), 0) + 1
    ctx.result.notes["reset_device_refused"] = raw.refused
    return raw


def _bloated(i: int) -> dict[str, Any]:
    """60 custom channels with names never sent before, and a heart rate."""
    vitals: dict[str, Any] = {f"chan_{i:04d}_{j:02d}_" + "x" * 44: j for j in range(60)}
    vitals["heart_rate"] = 72
    return vitals


async def state_bloat(ctx: Ctx) -> None:
    device = ctx.device("bloat")
    client = ctx.client(device, ctx.register(device, device.upper()))
    stop = asyncio.Event()
    connection = asyncio.ensure_future(client.run(stop))
    ctx.background.append(connection)
    await ctx.at(ctx.sizes.lead_s / 2)
    await ctx.inject()
    now = int(time.time() * 1000) - 60_000
    for frame in range(30):  # 300 readings, 10 a frame
        await client.send_batch([(now + (frame * 10 + k) * 100, _bloated(frame * 10 + k)) for k in range(10)])
        await asyncio.sleep(0.1)
    await _until_acked([client], 30)
    stop.set()
    await connection


async def registry_error(ctx: Ctx) -> None:
    device = ctx.device("revoked")
    token = ctx.register(device, device.upper())
    path = ctx.stack.home / "devices.json"
    async with connect(ctx.stack.ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        sender = asyncio.ensure_future(_trickle(ws))
        ctx.background.append(sender)
        await ctx.at(ctx.sizes.lead_s)
        good = path.read_bytes()
        path.write_bytes(good[: len(good) // 2])  # a half-written file
        await asyncio.sleep(3.0)
        path.write_bytes(good)
        ctx.stack.registry.revoke(device)
        revoked = await ctx.inject(track=False)  # this scenario's recovery is the time to close
        try:
            await asyncio.wait_for(ws.wait_closed(), REVOKED_CLOSE_S)
        except TimeoutError:
            ctx.fail(f"the revoked device's connection still open {REVOKED_CLOSE_S:g} s after the revocation")
            return
        finally:
            sender.cancel()
        ctx.result.recovery_s = time.perf_counter() - revoked
        if ws.close_code != 4003:
            ctx.fail(f"the revoked device's connection closed with {ws.close_code}, not 4003")


async def _trickle(ws: Any) -> None:
    """A well-behaved device: one reading every half second, acks read."""
    seq = 0
    reader = asyncio.ensure_future(_drain(ws))
    try:
        while True:
            await ws.send(
                orjson.dumps(
                    {"type": "reading", "seq": seq, "ts": int(time.time() * 1000), "vitals": NORMAL}
                ).decode()
            )
            seq += 1
            await asyncio.sleep(0.5)
    except ConnectionClosed:
        pass
    finally:
        reader.cancel()


async def _drain(ws: Any) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for _ in ws:
            pass


SCENARIOS = [
    Scenario("worker-kill", worker_kill, lambda s: s.lead_s + s.tail_s + 2, full_runs=5),
    Scenario("gateway-kill", gateway_kill, lambda s: s.lead_s + s.tail_s, full_runs=5),
    Scenario(
        "broker-kill-10s", broker_kill(10), lambda s: s.lead_s + 10 + s.tail_s, drain_s=60, catch_up_s=240
    ),
    Scenario(
        "broker-kill-60s",
        broker_kill(60),
        lambda s: s.lead_s + 60 + s.tail_s,
        full_only=True,
        drain_s=90,
        catch_up_s=240,
    ),
    # Partitions moving between live workers: records Faust skips around the
    # rebalance are read again (docs/reliability.md, worker-join-leave).
    Scenario("worker-join-leave", worker_join_leave, lambda s: s.lead_s + 12),
    Scenario("poison", poison, lambda s: s.lead_s + s.tail_s),
    Scenario("hello-flood", flood("hello"), lambda s: s.lead_s + s.flood_s + 0.5),
    Scenario("invalid-flood", flood("invalid"), lambda s: s.lead_s + s.flood_s + 0.5),
    Scenario("rejected-flood", flood("rejected"), lambda s: s.lead_s + s.flood_s + 0.5),
    Scenario("handshake-flood", flood("handshake"), lambda s: s.lead_s + s.flood_s + 0.5),
    Scenario("future-timestamp", future_timestamp, lambda s: s.lead_s + 5),
    Scenario("seq-reset", seq_reset, lambda s: s.lead_s + s.tail_s),
    Scenario("state-bloat", state_bloat, lambda s: s.lead_s + s.tail_s),
    Scenario("registry-error", registry_error, lambda s: s.lead_s + s.tail_s + 3),
]

# `--cluster`: on a ClusterStack.
CLUSTER_SCENARIOS = [
    Scenario(
        "scale-kill",
        scale_kill,
        lambda s: s.lead_s + s.tail_s + 15,
        drain_s=60,
        catch_up_s=240,
    ),
    Scenario(
        "cluster-broker-kill",
        cluster_broker_kill,
        lambda s: s.lead_s + 10 + s.tail_s,
        drain_s=60,
        catch_up_s=240,
    ),
    Scenario(
        "cluster-two-down",
        cluster_two_down,
        lambda s: s.lead_s + 15 + s.tail_s + 5,
        drain_s=90,
        catch_up_s=240,
    ),
]


# -- the table ----------------------------------------------------------------------------


def summarise(name: str, results: list[Result]) -> dict[str, Any]:
    def total(attr: str) -> int:
        return sum(getattr(r, attr) for r in results)

    recoveries = [r.recovery_s for r in results if r.recovery_s is not None]
    p99s = [r.ack_p99_s for r in results if r.ack_p99_s is not None]
    befores = [r.ack_p99_before_s for r in results if r.ack_p99_before_s is not None]
    return {
        "scenario": name,
        "runs": len(results),
        "sent": total("sent"),
        "acked": total("acked"),
        "lost": total("lost"),
        "stored_twice": total("stored_twice"),
        "stored_conflicting": total("stored_conflicting"),
        "alerts_expected": total("alerts_expected"),
        "alerts_lost": total("alerts_lost"),
        "duplicate_alerts": total("duplicate_alerts"),
        "alerts_reemitted": total("alerts_reemitted"),
        "alerts_conflicting": total("alerts_conflicting"),
        "alerts_unexpected": total("alerts_unexpected"),
        "recovery_s_max": round(max(recoveries), 1) if recoveries else None,
        "ack_p99_s": round(max(p99s), 4) if p99s else None,
        "ack_p99_before_s": round(max(befores), 4) if befores else None,
        "passed": all(r.passed for r in results),
        "elapsed_s": round(sum(r.notes.get("elapsed_s", 0.0) for r in results), 1),
        "failures": [f"run {r.run}: {f}" for r in results for f in r.failures],
        "runs_detail": [_run_detail(r) for r in results],
    }


def _run_detail(r: Result) -> dict[str, Any]:
    detail = {k: v for k, v in r.__dict__.items() if k not in ("failures",)}
    detail.update(passed=r.passed, failures=r.failures, duplicate_alerts=r.duplicate_alerts)
    return detail


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def render(rows: list[dict[str, Any]]) -> str:
    headers = [
        "scenario",
        "runs",
        "sent",
        "acked",
        "lost",
        "stored twice",
        "alerts (lost)",
        "duplicate alerts",
        "recovery s",
        "others' ack p99",
        "result",
        "time s",
    ]
    lines = []
    for s in rows:
        twice = f"{s['stored_twice']}" + (
            f" ({s['stored_conflicting']} differ)" if s["stored_conflicting"] else ""
        )
        dups = f"{s['duplicate_alerts']}" + (
            f" ({s['alerts_conflicting']} differ)" if s["alerts_conflicting"] else ""
        )
        p99 = _ms(s["ack_p99_s"]) + (
            f" ({_ms(s['ack_p99_before_s'])} before)" if s["ack_p99_before_s"] else ""
        )
        recovery = "-" if s["recovery_s_max"] is None else f"{s['recovery_s_max']:.1f}"
        lines.append(
            [
                s["scenario"],
                s["runs"],
                s["sent"],
                s["acked"],
                s["lost"],
                twice,
                f"{s['alerts_expected']} ({s['alerts_lost']})",
                dups,
                recovery,
                p99,
                "pass" if s["passed"] else "FAIL",
                f"{s['elapsed_s']:.0f}",
            ]
        )
    return table(headers, lines)


# -- the command ----------------------------------------------------------------------------


def selected(args: argparse.Namespace) -> list[Scenario]:
    names = [n for part in (args.only or []) for n in part.split(",") if n]
    scenarios = CLUSTER_SCENARIOS if args.cluster else SCENARIOS
    known = {s.name for s in scenarios}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown scenario {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    chosen = [s for s in scenarios if (not names or s.name in names)]
    return [s for s in chosen if not (s.full_only and args.quick and not names)]


def runs_of(scenario: Scenario, args: argparse.Namespace) -> int:
    if args.runs:
        return args.runs
    return 1 if args.quick else scenario.full_runs


def run_suite(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    slack = args.p99_slack if args.p99_slack is not None else (QUICK_P99_SLACK_S if args.quick else 0.1)
    sizes = Sizes.of(args.quick, p99_slack_s=slack, hostile_nice=args.hostile_nice)
    scenarios = selected(args)
    tmp = Path(tempfile.mkdtemp(prefix="vigil-faults-"))
    stack = ClusterStack(tmp) if args.cluster else Stack(tmp)
    rows: list[dict[str, Any]] = []
    healed: list[str] = []
    started = time.monotonic()
    try:
        say(
            f"starting three brokers, two gateways and three workers in {tmp}"
            if args.cluster
            else f"starting Kafka, the gateway and a worker in {tmp}"
        )
        stack.start()
        say(f"started in {time.monotonic() - started:.0f} s")
        for scenario in scenarios:
            results = []
            for index in range(1, runs_of(scenario, args) + 1):
                t0 = time.monotonic()
                result = asyncio.run(run_once(stack, scenario, index, sizes, args.verbose))
                results.append(result)
                say(
                    f"{scenario.name} run {index}: {'pass' if result.passed else 'FAIL'} in "
                    f"{time.monotonic() - t0:.0f} s" + "".join(f"\n    {f}" for f in result.failures)
                )
                for note in stack.heal():
                    healed.append(f"after {scenario.name} run {index}: {note}")
                    say(f"    {note}")
                result.notes["elapsed_s"] = round(time.monotonic() - t0, 1)  # the run and the heal after it
            rows.append(summarise(scenario.name, results))
    finally:
        stack.stop()
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    meta = {
        "mode": "quick" if args.quick else "full",
        "stack": "cluster" if args.cluster else "single",
        "sizes": sizes.__dict__,
        "elapsed_s": round(time.monotonic() - started, 1),
        "machine": machine(),
        "healed": healed,
    }
    return rows, meta


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Vigil's fault and abuse suite: scenarios against real processes, reconciled.",
        epilog="Scenarios: "
        + ", ".join(s.name for s in SCENARIOS)
        + "; with --cluster: "
        + ", ".join(s.name for s in CLUSTER_SCENARIOS),
    )
    parser.add_argument(
        "--quick", action="store_true", help="one run of each, 20 devices, broker outage 10 s only"
    )
    parser.add_argument(
        "--runs", type=int, default=0, help="runs of each scenario (default: 1 quick, 5 for kills)"
    )
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="only these scenarios (repeat or comma-separate)"
    )
    parser.add_argument(
        "--json", type=Path, metavar="FILE", help="write the table and every run's detail here"
    )
    parser.add_argument(
        "--hostile-nice",
        type=int,
        default=19,
        metavar="N",
        help="niceness of the hostile client's process (default 19: it takes only CPU the machine has spare, "
        "standing in for a host of its own; 0 lets its own work compete with the gateway's)",
    )
    parser.add_argument(
        "--p99-slack",
        type=float,
        default=None,
        metavar="S",
        help="during a flood, others' ack p99 may exceed 2x the p99 before it up to this many seconds "
        "above it (default 0.1; 0.2 with --quick, whose 3 s floods give a p99 of about 300 acks)",
    )
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="three brokers, two gateways on one shared port, three workers, no shared disk; "
        "runs the cluster scenarios",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs of every process)")
    parser.add_argument("--verbose", action="store_true", help="the simulator's progress lines too")
    args = parser.parse_args(argv)
    stop_on_signals()
    # Kafka clients in this process complain at every broker outage the
    # suite causes on purpose; what matters is in the table.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    rows, meta = run_suite(args)
    print(render(rows))
    for row in rows:
        for failure in row["failures"]:
            print(f"{row['scenario']}: {failure}")
    print(machine_line(meta["machine"]) + f"; {meta['mode']} run in {meta['elapsed_s']:.0f} s")
    if args.json:
        args.json.write_bytes(orjson.dumps({**meta, "scenarios": rows}, option=orjson.OPT_INDENT_2) + b"\n")
    return 0 if all(r["passed"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
