"""Helpers shared by the Kafka benchmarks (bench_worker.py, bench_state.py).

Not a benchmark itself: the machine description, a local Kafka in a temp dir,
child processes that are always cleaned up, HTTP polling, RSS, and plain
tables. Importing it also puts the repository root on sys.path, so the
benchmarks can import `app`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.infra import ports  # noqa: E402
from app.infra.kafka_local import KAFKA_VERSION, LocalKafka  # noqa: E402


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 2**20, 1)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": mem_gib,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": platform.platform(),
    }


def machine_line(m: dict[str, Any]) -> str:
    return (
        f"machine: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), "
        f"{m['memory_gib']} GiB RAM, {m['python']}, {m['os']}"
    )


# -- stopping cleanly on Ctrl-C and SIGTERM ----------------------------------------


def stop_on_signals() -> None:
    """Ctrl-C (SIGINT) raises KeyboardInterrupt and SIGTERM raises SystemExit,
    so the `finally:` blocks that stop the child processes and the broker run
    for both. SIGINT is reset explicitly: a shell starts background jobs with
    it ignored, and Python then never raises KeyboardInterrupt."""

    def on_sigterm(signum: int, frame: Any) -> None:
        print("SIGTERM: stopping every process this run started", file=sys.stderr)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_sigterm)


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGKILL it if the benchmark
    itself dies without cleaning up (kill -9), so no worker is left behind."""
    with contextlib.suppress(Exception):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Processes:
    """The child processes a benchmark starts; `stop_all()` ends every one
    still running (call it from a `finally:`)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Own session: a Ctrl-C in the terminal reaches only the benchmark,
            # which then stops its children itself, in order.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        log.close()  # the child has its own copy of the descriptor
        self.procs.append(proc)
        return proc

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    @staticmethod
    def stop(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited within `timeout`."""
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    @staticmethod
    def kill(proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL: a crash, no chance to commit or flush anything."""
        if proc.poll() is None:
            proc.kill()
        proc.wait()

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                self.stop(proc, timeout=10.0)


@contextlib.contextmanager
def kafka(bootstrap: str | None, data_dir: Path, partitions: int) -> Iterator[tuple[str, str]]:
    """Yield (bootstrap, description): the given cluster, or a fresh local
    broker under `data_dir` that is stopped on the way out, whatever happens."""
    if bootstrap:
        yield bootstrap, f"external Kafka at {bootstrap}"
        return
    broker = LocalKafka(data_dir, partitions=partitions)  # on ports it chooses
    try:
        broker.start(quiet=True)
        yield broker.bootstrap, f"local Apache Kafka {KAFKA_VERSION} (KRaft, one node, same machine)"
    finally:
        broker.stop()


# -- talking to the workers ----------------------------------------------------------


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes] | None:
    """(status, body), or None if nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return None


def wait_ready(
    url: str, proc: subprocess.Popen[bytes], timeout: float, interval: float = 0.05, what: str = "the worker"
) -> float:
    """Poll `url` until it answers 200; return the monotonic time it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before it was ready")
        answer = http_get(url, timeout=1.0)
        if answer is not None and answer[0] == 200:
            return time.monotonic()
        time.sleep(interval)
    raise RuntimeError(f"{url} not ready within {timeout:.0f} s")


def reported_ports(
    ports_file: Path, proc: subprocess.Popen[bytes], timeout: float, what: str = "the worker"
) -> dict[str, int]:
    """The ports a process started on port 0 with `--ports-file` (or BENCH_PORTS_FILE) reports."""
    found = ports.wait(ports_file, proc, timeout)
    if found is None:
        raise RuntimeError(f"{what} exited with code {proc.returncode} before it served")
    return found


def metric(text: str, name: str) -> dict[str, float]:
    """Samples of one metric in Prometheus text: {label part or "": value}."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            head, _, value = line.rpartition(" ")
            labels = head[len(name) :]
            if labels and not labels.startswith("{"):
                continue  # another metric whose name starts with this one
            found[labels] = float(value)
    return found


def rss_bytes(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, in bytes: resident now, and its peak."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, amount, _unit = line.split()
            values[key] = int(amount) * 1024  # the kernel reports kB
    return values["VmRSS:"], values["VmHWM:"]


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Plain fixed-width text: first column left-aligned, the rest right-aligned."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for r in [headers, *rows]:
        cells = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=False))
        ]
        lines.append("  ".join(cells))
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# -- Vigil's processes and the comparison apps ---------------------------------------


def _service(command: str, home: Path) -> list[str]:
    """`vigil gateway` or `vigil worker`, reporting its ports in `home`/COMMAND.ports.json."""
    return [sys.executable, "-m", "app.cli", command, "--ports-file", str(home / f"{command}.ports.json")]


# The workers' confirmation delay (VIGIL_CONFIRM_S) where a simulated fleet
# (app.tools.loadtest) streams: none. Its runs last seconds, several readings
# a second, and its patients deteriorate over 10 s; read that often, every
# finding holds for the confirmation delay (docs/alerts.md), so the default
# 15 s would leave a run without the alerts it measures (bench_pipeline.py)
# or reconciles (faults.py). Their subject is delivery and latency, not
# clinical timing: with 0 every finding opens at once.
FLEET_CONFIRM_S = "0"


def vigil_env(home: Path, bootstrap: str, devices: int, **settings: str) -> dict[str, str]:
    """Environment for `vigil gateway` / `vigil worker` children (and, once
    copied into os.environ, for this process's `Settings.from_env()`): a
    private home, the benchmark's Kafka, quiet JSON logs, room for `devices`
    connections. `settings` are more VIGIL_* values, e.g. GATEWAY_PORT="0"."""
    env = {
        **os.environ,
        "VIGIL_HOME": str(home),
        "VIGIL_KAFKA_BOOTSTRAP": bootstrap,
        "VIGIL_LOG_FORMAT": "json",
        "VIGIL_LOG_LEVEL": "warning",
        "VIGIL_MAX_CONNECTIONS": str(devices + 100),
    }
    env.update({f"VIGIL_{name}": value for name, value in settings.items()})
    return env


def comparison_app(default_id: str, default_port: int, stats: dict[str, Any]) -> tuple[Any, Any]:
    """The Faust app and `vigil.readings` topic of a comparison worker
    (naive_worker.py, decode_only_worker.py), configured by BENCH_* variables,
    with its `stats` served as JSON on /bench."""
    import tempfile

    import faust

    from agents.app import serve_web

    partitions = int(os.environ.get("BENCH_PARTITIONS", "4"))
    web_port = int(os.environ.get("BENCH_WEB_PORT", str(default_port)))
    app = faust.App(
        os.environ.get("BENCH_APP_ID", default_id),
        broker=f"kafka://{os.environ.get('BENCH_BOOTSTRAP', '127.0.0.1:9092')}",
        store="memory://",
        topic_partitions=partitions,
        consumer_auto_offset_reset="earliest",
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        # Faust refuses port 0: it binds BENCH_WEB_PORT below (agents.app.serve_web).
        web_port=web_port or default_port,
        web_in_thread=False,
        # Faust's default data folder is "<app id>-data" in the working
        # directory: keep it out of the repository.
        datadir=os.environ.get("BENCH_DATADIR", str(Path(tempfile.gettempdir()) / "vigil-bench-faust")),
    )
    topic = app.topic(
        os.environ.get("BENCH_TOPIC", "vigil.readings"), key_serializer="raw", value_serializer="raw"
    )

    @app.page("/bench")
    async def bench(web: Any, request: Any) -> Any:
        return web.json(stats)

    # With BENCH_WEB_PORT=0, the port bound is written to BENCH_PORTS_FILE ({"web": port}).
    ports_file = os.environ.get("BENCH_PORTS_FILE")
    serve_web(app, "127.0.0.1", web_port, Path(ports_file) if ports_file else None)
    return app, topic


def run_with_kafka(args: Any, prefix: str, bench: Any) -> tuple[Any, str]:
    """`asyncio.run(bench(args, bootstrap, tmp, procs))` in a fresh temp dir,
    with the Kafka `args.bootstrap` names (or a local one with
    `args.partitions` partitions); every child process is stopped before the
    broker, and the temp dir removed unless `args.keep`. Returns what `bench`
    returned and a description of the broker."""
    import asyncio
    import shutil
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    procs = Processes(tmp / "logs")
    try:
        with kafka(args.bootstrap, tmp / "kafka", args.partitions) as (bootstrap, description):
            try:
                out = asyncio.run(bench(args, bootstrap, tmp, procs))
            finally:
                procs.stop_all()  # before the broker goes
    finally:
        procs.stop_all()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return out, description


@dataclass
class Services:
    """A running gateway (and worker) started by `vigil_services`."""

    settings: Any  # app.infra.settings.Settings of this process, pointing at them
    broker: str  # description of the Kafka they use
    gateway: subprocess.Popen[bytes]
    worker_url: str | None  # http://127.0.0.1:<port> of the worker, if one runs
    worker: subprocess.Popen[bytes] | None = None


@contextlib.contextmanager
def vigil_services(
    bootstrap: str | None, prefix: str, devices: int, *, worker: bool, **settings: str
) -> Iterator[Services]:
    """A temp home, Kafka (`bootstrap` or a local broker with 4 partitions),
    Vigil's topics, a gateway and, with `worker`, a worker, all ready; every
    process is stopped and the home removed on the way out. `settings` are
    more VIGIL_* values for them. This process's environment gets the same
    VIGIL_* values, so the simulator (`app.tools.loadtest`) finds them."""
    import asyncio
    import tempfile

    from app.infra.settings import Settings
    from app.infra.topics import ensure_topics

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        home = Path(tmp)
        procs = Processes(home / "logs")
        try:
            with kafka(bootstrap, home / "kafka", 4) as (address, broker):
                # Port 0: each service reports the ports the system gave it.
                env = vigil_env(
                    home,
                    address,
                    devices,
                    GATEWAY_PORT="0",
                    GATEWAY_HTTP_PORT="0",
                    WORKER_WEB_PORT="0",
                    **settings,
                )
                os.environ.update({k: v for k, v in env.items() if k.startswith("VIGIL_")})
                asyncio.run(ensure_topics(Settings.from_env()))
                gateway = procs.start("gateway", _service("gateway", home), env)
                worker_url = None
                if worker:
                    worker_proc = procs.start("worker", _service("worker", home), env)
                    web = reported_ports(home / "worker.ports.json", worker_proc, 120)[ports.WORKER_WEB]
                    worker_url = f"http://127.0.0.1:{web}"
                bound = reported_ports(home / "gateway.ports.json", gateway, 60, what="the gateway")
                # The simulator (app.tools.loadtest) reads where the gateway is from the environment.
                os.environ["VIGIL_GATEWAY_PORT"] = str(bound[ports.GATEWAY_WS])
                os.environ["VIGIL_GATEWAY_HTTP_PORT"] = str(bound[ports.GATEWAY_HTTP])
                current = Settings.from_env()
                wait_ready(
                    f"http://127.0.0.1:{bound[ports.GATEWAY_HTTP]}/readyz",
                    gateway,
                    timeout=60,
                    what="the gateway",
                )
                if worker:
                    wait_ready(f"{worker_url}/readyz", worker_proc, timeout=120)
                yield Services(current, broker, gateway, worker_url, worker_proc if worker else None)
        finally:
            procs.stop_all()
