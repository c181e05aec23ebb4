"""`vigil up`: the main job, on its own local Kafka, as a newcomer runs it, and
the ways it can end: Ctrl-C, the terminal closing, its reader going away,
being killed, a child or the broker dying, ports already taken."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.infra import ports
from app.infra.preflight import port_free
from tests.conftest import ROOT, http_status

pytestmark = pytest.mark.integration

PORTS = (
    "VIGIL_LOCAL_KAFKA_PORT",
    "VIGIL_LOCAL_KAFKA_CONTROLLER_PORT",
    "VIGIL_GATEWAY_PORT",
    "VIGIL_GATEWAY_HTTP_PORT",
    "VIGIL_WORKER_WEB_PORT",
)


def up_env(home: Path) -> dict[str, str]:
    """Every port 0: `vigil up` has free ones chosen and prints where each service is."""
    env = dict(os.environ, VIGIL_HOME=str(home), **dict.fromkeys(PORTS, "0"))
    env.pop("VIGIL_KAFKA_BOOTSTRAP", None)
    return env


class Up:
    """`vigil up` run as a user runs it, its stderr lines collected as they come."""

    def __init__(self, env: dict[str, str], *args: str, merged: bool = False, follow: bool = True) -> None:
        self.env = env
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "up", *args],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merged else subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True)]
        if not merged:
            self._readers.append(
                threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True)
            )
        if not follow:  # the test reads (and closes) the output itself
            self._readers = []
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, into: list[str]) -> None:
        with contextlib.suppress(ValueError, OSError):
            for line in stream:
                into.append(line.rstrip("\n"))

    def wait_for(self, text: str, lines: list[str] | None = None, timeout: float = 150) -> str:
        lines = self.err if lines is None else lines
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in list(lines) if text in line]
            if found:
                return found[0]
            assert self.proc.poll() is None, (
                f"vigil up exited with {self.proc.returncode}: {self.err or self.out}"
            )
            time.sleep(0.2)
        raise AssertionError(f"no {text!r} within {timeout} s: {self.err or self.out}")

    def children(self) -> list[int]:
        return [pid for pid, ppid in processes() if ppid == self.proc.pid]

    def ports(self) -> list[int]:
        """The ports `vigil up` said its services listen on (and the broker's controller port)."""
        printed = "\n".join(self.err + self.out)
        found = [int(port) for port in re.findall(r"(?:Kafka ready on |ws://|http://)[0-9.]+:(\d+)", printed)]
        server = (Path(self.env["VIGIL_HOME"]) / "kafka" / "server.properties").read_text()
        found += [int(port) for port in re.findall(r"controller.quorum.voters=1@[0-9.]+:(\d+)", server)]
        assert len(found) == 5 and 0 not in found, printed
        return found

    def bootstrap(self) -> str:
        return self.wait_for("Kafka ready on").split()[4]


def processes() -> list[tuple[int, int]]:
    """(pid, parent pid) of every live process (zombies count as gone)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if state != "Z":
            found.append((int(entry.name), int(ppid)))
    return found


def alive(pids: list[int]) -> list[int]:
    live = {pid for pid, _ in processes()}
    return [pid for pid in pids if pid in live]


def wait_gone(pids: list[int], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(pids), f"children still running after {timeout} s: {alive(pids)}"


def assert_ports_free(up: Up) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(port_free("127.0.0.1", p) for p in up.ports()):
        time.sleep(0.2)
    assert [p for p in up.ports() if not port_free("127.0.0.1", p)] == []


def test_up_with_simulated_devices_prints_alerts_and_stops_cleanly(tmp_path) -> None:
    up = Up(up_env(tmp_path), "--simulate", "8", "--speed", "240", "--status-every", "2")
    try:
        up.wait_for(" OPEN ", up.out)
        up.wait_for("vigil: status: 8 devices connected")
        # Even the first status line has a rate (it used to show `?`: a rate needs two counts).
        first = up.wait_for("vigil: status:")
        assert re.search(r", [0-9.]+ readings/s,", first), first
        opened = [line for line in up.out if " OPEN " in line]
        # Simulated patients 4 and 8 deteriorate; the others stay well.
        assert {line.split()[4] for line in opened} <= {"SIM-1-0004", "SIM-1-0008"}
        # Drift notices do not flood the screen: counted in the status line instead.
        assert not [line for line in up.out if "baseline_drift" in line]
        children = up.children()
        assert len(children) == 3  # Kafka, worker, gateway
    finally:
        up.proc.send_signal(signal.SIGINT)
        code = up.proc.wait(60)
    for reader in up._readers:
        reader.join(10)
    assert code == 0, up.err
    assert "Kafka ready" in "\n".join(up.err) and any("gateway ready" in line for line in up.err)
    assert any("worker ready" in line for line in up.err)
    stopped = re.fullmatch(r"vigil: stopped in ([0-9.]+) s", up.err[-1])
    assert stopped and float(stopped.group(1)) < 5.0, up.err[-3:]
    # A newcomer's terminal shows Vigil's own lines only, not the libraries' chatter.
    assert [line for line in up.err if not line.startswith("vigil: ")] == []
    assert alive(children) == []
    assert_ports_free(up)


@pytest.mark.parametrize("ending", ["reader_closed_then_ctrl_c", "terminal_closed", "killed"])
def test_no_child_outlives_vigil_up(tmp_path, ending: str) -> None:
    """`make run | tee` then Ctrl-C (tee goes first, so every later line hits a
    closed pipe), closing the terminal (SIGHUP), SIGKILL of `vigil up`: the
    broker, the worker and the gateway all go with it and free their ports."""
    up = Up(up_env(tmp_path), merged=True, follow=False)
    try:
        for line in up.proc.stdout:  # as `tee` would, until it is stopped
            up.out.append(line.rstrip("\n"))
            if "press Ctrl-C to stop" in line:
                break
        children = up.children()
        assert len(children) == 3
        ended = time.monotonic()
        if ending == "reader_closed_then_ctrl_c":
            up.proc.stdout.close()
            up.proc.send_signal(signal.SIGINT)
        elif ending == "terminal_closed":
            up.proc.send_signal(signal.SIGHUP)
        else:
            up.proc.kill()
        if ending != "reader_closed_then_ctrl_c":
            up.out.extend(line.rstrip("\n") for line in up.proc.stdout)
        code = up.proc.wait(60)
    finally:
        if up.proc.poll() is None:
            up.proc.kill()
    assert code == (-signal.SIGKILL if ending == "killed" else 0), up.out
    if ending == "terminal_closed":
        assert up.out[-1].startswith("vigil: stopped in "), up.out[-3:]
    # A graceful stop, or for a child whose supervisor was killed, SIGKILL after 10 s.
    wait_gone(children, timeout=30)
    print(f"{ending}: every child gone {time.monotonic() - ended:.1f} s after the ending")
    assert_ports_free(up)


def refused_up(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`vigil up` run once, as a user runs it, where it is expected to refuse to start."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "up"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_busy_port_is_one_line_naming_the_setting(tmp_path) -> None:
    env = up_env(tmp_path)
    with socket.socket() as holder:  # another gateway on the same port
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        env["VIGIL_GATEWAY_PORT"] = str(holder.getsockname()[1])
        done = refused_up(env)
    assert done.returncode == 4
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert env["VIGIL_GATEWAY_PORT"] in lines[0] and "VIGIL_GATEWAY_PORT" in lines[0]
    assert "gateway ready" not in done.stderr  # nothing was started, nothing else's readiness trusted


def test_an_address_not_of_this_machine_is_one_line_naming_its_setting(tmp_path) -> None:
    """Told "already in use" before 2026-12-07, exit 4: nothing holds the port."""
    env = {**up_env(tmp_path), "VIGIL_WORKER_WEB_HOST": "192.0.2.7"}
    done = refused_up(env)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "192.0.2.7" in lines[0] and "set VIGIL_WORKER_WEB_HOST" in lines[0] and "in use" not in lines[0]
    assert "starting" not in done.stdout + done.stderr  # refused before anything started


def test_second_up_on_the_same_home_is_refused(tmp_path) -> None:
    with open(tmp_path / "up.lock", "w") as lock:  # as a running `vigil up` holds it
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = refused_up(up_env(tmp_path))
    assert done.returncode == 4
    assert "another `vigil up`" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_up_stops_everything_when_the_broker_dies(tmp_path) -> None:
    up = Up(up_env(tmp_path))
    try:
        up.wait_for("press Ctrl-C to stop")
        children = up.children()
        kafka = [pid for pid in children if "java" in Path(f"/proc/{pid}/cmdline").read_bytes().decode()]
        assert len(kafka) == 1
        os.kill(kafka[0], signal.SIGKILL)
        code = up.proc.wait(60)
    finally:
        if up.proc.poll() is None:
            up.proc.kill()
    for reader in up._readers:
        reader.join(10)
    assert code == 1, up.err
    assert [line for line in up.err if "the local Kafka exited" in line], up.err
    assert up.err[-1].startswith("vigil: stopped in ")
    wait_gone(children)
    assert stat_mode(tmp_path / "kafka") == 0o700 and stat_mode(tmp_path / "kafka" / "logs") == 0o700
    assert stat_mode(tmp_path / "logs") == 0o700


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("needs to mount a small tmpfs (root) to fill a disk")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_up_notices_the_broker_taking_its_log_dir_offline_on_a_full_disk(tmp_path) -> None:
    import asyncio

    from aiokafka import AIOKafkaProducer

    with small_disk(tmp_path / "disk", "96m") as home:
        env = up_env(home)
        up = Up(env)
        try:
            up.wait_for("press Ctrl-C to stop")
            children = up.children()

            async def fill() -> None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=up.bootstrap(),
                    max_request_size=2_000_000,
                    request_timeout_ms=5000,
                )
                await producer.start()
                try:
                    for _ in range(200):
                        await producer.send_and_wait("vigil.rejected", os.urandom(900_000))
                except Exception:  # noqa: BLE001 - the broker gives up: that is the point
                    pass
                finally:
                    with contextlib.suppress(Exception):
                        await producer.stop()

            asyncio.run(fill())
            code = up.proc.wait(60)
        finally:
            if up.proc.poll() is None:
                up.proc.kill()
        for reader in up._readers:
            reader.join(10)
        assert code == 1, up.err
        offline = [line for line in up.err if "log directory" in line]
        assert offline and "disk is full" in offline[0], up.err
        wait_gone(children)


def test_a_second_run_on_the_same_home_shows_alerts_again(tmp_path) -> None:
    """`make run` twice in a row. The second run re-creates 40 minutes of
    history: for the first run's patients the worker would take it for out of
    order, so each run simulates new patients (on the same devices, whose seqs
    start again from 0: the gateway's seq_reused handling, issue 10, decides
    what of that is stored), and they alert again."""
    env = up_env(tmp_path)
    for run in (1, 2):
        up = Up(env, "--simulate", "8", "--speed", "240", "--status-every", "0")
        try:
            up.wait_for(" OPEN ", up.out, timeout=150)
            assert [line for line in up.out if " OPEN " in line][0].split()[4].startswith(f"SIM-{run}-")
            if run == 1:  # until the devices have caught up with now: every seq of the history stored
                up.wait_for("caught up with the clock")
        finally:
            up.proc.send_signal(signal.SIGINT)
            code = up.proc.wait(60)
        assert code == 0, (run, up.err)


def _worker_beside(up: Up, home: Path, name: str, **settings: str) -> tuple[subprocess.Popen[str], Path]:
    """Another `vigil worker` in the group of `vigil up`'s, on its broker and
    home (a data folder of its own)."""
    ports_file = home / f"{name}.ports.json"
    env = dict(
        up.env,
        VIGIL_KAFKA_BOOTSTRAP=up.bootstrap(),
        VIGIL_WORKER_WEB_PORT="0",
        VIGIL_WORKER_DATA=str(home / name),
        **settings,
    )
    with open(home / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker", "--ports-file", str(ports_file)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return proc, ports_file


def test_up_starts_a_killed_worker_and_gateway_again_on_their_ports(tmp_path) -> None:
    """`kill -9` of the worker, then of the gateway (an outside SRE's first
    hour: it stopped everything, exit 1): each is named in one line, with
    its code, and started again on the port `vigil up` printed, where it is
    ready again; `vigil up` runs on and stops cleanly on Ctrl-C. Its "logs
    in" line says where the local Kafka's logs are too (the SRE looked for
    them in $VIGIL_HOME/logs)."""
    up = Up(up_env(tmp_path))
    try:
        said = up.wait_for("press Ctrl-C to stop")
        kafka = tmp_path / "kafka"
        assert said == (
            f"vigil: logs in {tmp_path / 'logs'}, the local Kafka's in {kafka / 'kafka.log'} and "
            f"{kafka / 'kafka.out'}; press Ctrl-C to stop"
        ), said
        assert (kafka / "kafka.log").stat().st_size and (kafka / "kafka.out").exists()
        printed = "\n".join(up.err)
        urls = {
            "worker": re.search(r"worker ready \(metrics (http://[0-9.:]+)/metrics\)", printed),
            "gateway": re.search(r"gateway ready on \S+ \(metrics (http://[0-9.:]+)/metrics\)", printed),
        }
        assert all(urls.values()), up.err
        for name in ("worker", "gateway"):
            (pid,) = [
                pid
                for pid in up.children()
                if f"app.cli\0{name}\0" in Path(f"/proc/{pid}/cmdline").read_bytes().decode()
            ]
            os.kill(pid, signal.SIGKILL)
            said = up.wait_for(
                f"the {name} exited with code -9 (killed by SIGKILL); starting it again", timeout=60
            )
            assert "on the same port" in said and "(1 of 3 in 15 min; last log line: " in said, said
            deadline = time.monotonic() + 120
            while http_status(urls[name].group(1) + "/readyz") != 200:  # type: ignore[union-attr]
                assert time.monotonic() < deadline, up.err
                time.sleep(0.5)
        assert up.proc.poll() is None and not [line for line in up.err if "stopping" in line], up.err
    finally:
        up.proc.send_signal(signal.SIGINT)
        code = up.proc.wait(60)
    assert code == 0, up.err
    assert up.err[-1].startswith("vigil: stopped in ")


def test_up_starts_a_worker_that_stalled_again(tmp_path) -> None:
    """A real stall: worker 2 of the group is frozen (SIGSTOP) while a member
    (its session 60 s), worker 3 joins, and Kafka holds the rebalance for
    worker 2. `vigil up`'s worker, not ready and doing nothing for
    VIGIL_WORKER_STALL_S (15 s here), exits with code 6; `vigil up` says so
    in one line and starts it again on the same port. Worker 2 thawed, the
    group settles and the restarted worker is ready; `vigil up` ran on."""
    env = dict(up_env(tmp_path), VIGIL_WORKER_STALL_S="15")
    up = Up(env)
    others: list[subprocess.Popen[str]] = []
    try:
        up.wait_for("press Ctrl-C to stop")
        url = re.search(r"worker ready \(metrics (http://[0-9.:]+)/metrics\)", "\n".join(up.err))
        assert url, up.err
        second, second_ports = _worker_beside(
            up, tmp_path, "worker-2", VIGIL_WORKER_SESSION_TIMEOUT_S="60", VIGIL_WORKER_STALL_S="0"
        )
        others.append(second)
        found = ports.wait(second_ports, second, timeout=120)
        assert found is not None, (tmp_path / "worker-2.log").read_text()[-2000:]
        deadline = time.monotonic() + 90
        while http_status(f"http://127.0.0.1:{found[ports.WORKER_WEB]}/readyz") != 200:
            assert time.monotonic() < deadline, (tmp_path / "worker-2.log").read_text()[-2000:]
            time.sleep(0.5)
        second.send_signal(signal.SIGSTOP)
        third, _ = _worker_beside(up, tmp_path, "worker-3", VIGIL_WORKER_STALL_S="0")
        others.append(third)
        said = up.wait_for("the worker stopped itself", timeout=120)
        assert "starting it again (1 of 3" in said, said
        second.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 120
        while http_status(url.group(1) + "/readyz") != 200:
            assert up.proc.poll() is None, up.err
            assert time.monotonic() < deadline, up.err
            time.sleep(0.5)
        assert up.proc.poll() is None and not [line for line in up.err if "stopping" in line], up.err
        log = (tmp_path / "logs" / "worker.log").read_text(errors="replace")
        assert "worker stalled" in log
    finally:
        for proc in others:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
            proc.wait(10)
        up.proc.send_signal(signal.SIGINT)
        code = up.proc.wait(60)
    assert code == 0, up.err


def test_every_busy_port_is_named_in_the_one_line(tmp_path) -> None:
    """A second stack beside a running one (its own VIGIL_HOME) was told its
    ports one at a time: the gateway's, then the gateway's HTTP port, then
    the worker's (a newcomer chasing them). All that are taken are named at once."""
    env = up_env(tmp_path)
    with socket.socket() as gateway, socket.socket() as worker:
        for holder in (gateway, worker):
            holder.bind(("127.0.0.1", 0))
            holder.listen()
        env["VIGIL_GATEWAY_PORT"] = str(gateway.getsockname()[1])
        env["VIGIL_WORKER_WEB_PORT"] = str(worker.getsockname()[1])
        env["VIGIL_WORKER_WEB_HOST"] = "127.0.0.1"
        done = refused_up(env)
    assert done.returncode == 4
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for variable in ("VIGIL_GATEWAY_PORT", "VIGIL_WORKER_WEB_PORT"):
        assert f"{env[variable]} on 127.0.0.1 ({variable})" in lines[0], lines[0]
    assert "VIGIL_GATEWAY_HTTP_PORT" not in lines[0]  # free: port 0
