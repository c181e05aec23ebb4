"""`vigil up`: the embedded default, and a supervisor that cleans up after itself.

Starts the local Kafka (unless VIGIL_KAFKA_BOOTSTRAP names a cluster), creates
the topics, starts the worker and the gateway as child processes, waits until
each of *its own* children answers /readyz, then watches them. With
`--simulate N` it also runs N simulated devices and prints alerts; a status
line every few seconds says it is alive.

How it ends (docs/operations.md#vigil-up):

- Ctrl-C, SIGTERM or SIGHUP (the terminal closing), or the reader of its
  output going away (`vigil up | head`): devices, gateway, worker and Kafka
  are stopped in that order, each with SIGTERM (SIGKILL after a grace
  period); exit 0.
- The worker or the gateway exits on its own, killed (`kill -9`), crashed,
  or the worker stopped itself because it stalled (exit code 6: not ready,
  or records waiting on its partitions, and doing nothing, while Kafka
  answered it; `app.core.watchdog`): one line saying which, with which code
  and its last log line, and it is started again on the same ports, as
  systemd's Restart=on-failure would; device intake goes on meanwhile. Up to
  STALL_RESTARTS times in STALL_WINDOW_S for each child: one more exit stops
  everything (one line: it keeps crashing); exit 1.
- A child exits with 0 (it was stopped: `kill PID`), or with the code of a
  bad setting (2) or a port taken (4), which starting it again would not
  mend, or the local Kafka dies or takes its log directory offline (it does
  on a full disk, and may stay alive meanwhile): one line saying which, the
  rest stopped in order; exit 1.
- `vigil up` itself is killed, even with SIGKILL: the kernel sends each child
  SIGTERM (Linux's parent-death signal, `app.infra.runtime.die_with_parent`), so no
  child outlives it.
- A port it needs is taken, or another `vigil up` runs on the same
  VIGIL_HOME: one line naming the port and the setting that changes it,
  before anything starts; exit 4.

A gateway or worker port set to 0 is bound on a port the system chooses: the
child reports it (`--ports-file` under VIGIL_HOME, `app.infra.ports`), and
`vigil up` uses and prints the real one.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from app.cli import alert_view
from app.core.errors import Exit, InUse, ServiceFailed
from app.infra import ports, preflight
from app.infra.kafka_local import PRIVATE, LocalKafka
from app.infra.runtime import STOP_SIGNALS, counted, die_with_parent, write_line
from app.infra.settings import ALERTS_TOPIC, Settings
from app.infra.topics import ensure_topics
from app.tools import simulate

GRACE_S = {"gateway": 10.0, "worker": 15.0}  # SIGTERM, then SIGKILL after this long
# With the broker gone there is nothing left to flush or commit, and Faust's
# consumer retries it until killed: a short grace.
GRACE_NO_KAFKA_S = 3.0
KAFKA_SILENT_S = preflight.KAFKA_SILENT_S  # a broker that does not answer this long gets a line
# A worker or gateway that exited on its own (killed, crashed, or the worker
# stopped itself because it stalled) is started again, this many times in this
# many seconds, each child; one more exit stops `vigil up` (something else is wrong).
STALL_RESTARTS = 3
STALL_WINDOW_S = 900.0
# A child that exits with one of these is not started again: it was stopped
# (0), or it would stop the same way again (a bad setting, a port taken), and
# its one line is what the operator needs.
NOT_RESTARTED = frozenset({Exit.OK, Exit.USAGE, Exit.PORT_IN_USE})


def say(message: str) -> None:
    write_line(sys.stderr, f"vigil: {message}")


class Stopping(Exception):
    """A stop signal arrived while starting up."""


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    ports_file: Path | None = None  # where it reports the ports it bound, when one is set to 0
    restarts: list[float] = field(default_factory=list)  # when it was started again (monotonic)


class Supervisor:
    def __init__(
        self, settings: Settings, simulate_devices: int, speed: float, show_all: bool, status_every: float
    ) -> None:
        self.settings = settings
        self.devices = simulate_devices
        self.speed = speed
        self.status_every = status_every
        self.screen = alert_view.Screen(show_all=show_all)
        self.logs = settings.home / "logs"
        self.kafka: LocalKafka | None = None
        self.children: list[Child] = []
        self.failure: str | None = None  # why we stop, when it is not the user's doing
        self.stopping = False
        self._wake: Any = None  # sets the running loop's stop event, from a signal handler

    # -- signals ------------------------------------------------------------------------

    def on_signal(self, signum: int, _frame: Any) -> None:
        if self.stopping:
            return  # already stopping, in order
        if self._wake is not None:
            self._wake()
            return
        raise Stopping(signal.Signals(signum).name)

    # -- starting -----------------------------------------------------------------------

    def check_ports(self) -> None:
        """Every port the stack binds, all named in one line when several are
        taken (another `vigil up` holds five: they were named one a try)."""
        s = self.settings
        wanted = [
            (s.gateway_host, s.gateway_port, "VIGIL_GATEWAY_PORT"),
            (s.gateway_host, s.gateway_http_port, "VIGIL_GATEWAY_HTTP_PORT"),
            (s.worker_web_host, s.worker_web_port, "VIGIL_WORKER_WEB_PORT"),
        ]
        if s.uses_local_kafka:
            wanted.append(("127.0.0.1", s.local_kafka_port, "VIGIL_LOCAL_KAFKA_PORT"))
            wanted.append(("127.0.0.1", s.local_kafka_controller_port, "VIGIL_LOCAL_KAFKA_CONTROLLER_PORT"))
        taken = preflight.ports_taken(wanted)
        if not taken:
            return
        what = {preflight.PORT_OWNERS[variable][0] for _, _, variable in taken}
        hint = (
            f" (another {what.pop()}, or another `vigil up`?)" if len(what) == 1 else " (another `vigil up`?)"
        )
        raise preflight.in_use(taken, hint)

    def start(self) -> None:
        s = self.settings
        if s.uses_local_kafka:
            self.kafka = local_kafka(s)
            started = time.monotonic()
            say(f"starting the local Kafka on {self.kafka.bootstrap} ...")
            self.kafka.start()
            # Ports set to 0 were chosen (and maybe chosen again): the children get the real ones.
            self.settings = s = s.with_(
                local_kafka_port=self.kafka.port, local_kafka_controller_port=self.kafka.controller_port
            )
            say(
                f"Kafka ready on {self.kafka.bootstrap} in {time.monotonic() - started:.1f} s "
                f"(data in {self.kafka.data_dir})"
            )
        else:
            say(f"using the Kafka cluster at {s.bootstrap}")
            asyncio.run(preflight.kafka(s, within=10))
        asyncio.run(ensure_topics(s))
        self.children = [self.spawn("worker"), self.spawn("gateway")]
        self.learn_ports(self.children[1])
        s = self.settings
        host = s.gateway_host
        self.wait_ready(self.children[1], f"http://{host}:{s.gateway_http_port}/readyz")
        say(
            f"gateway ready on {preflight.gateway_url(s)} (metrics http://{host}:{s.gateway_http_port}/metrics)"
        )
        self.learn_ports(self.children[0])
        s = self.settings
        self.wait_ready(self.children[0], f"http://{s.worker_web_host}:{s.worker_web_port}/readyz")
        say(f"worker ready (metrics http://{s.worker_web_host}:{s.worker_web_port}/metrics)")
        kafka = self.kafka
        theirs = (
            f", the local Kafka's in {kafka.log_path} and {kafka.data_dir / 'kafka.out'}" if kafka else ""
        )
        say(f"logs in {self.logs}{theirs}; press Ctrl-C to stop")

    def spawn(self, command: str, **extra: str) -> Child:
        log = self.logs / f"{command}.log"
        env = dict(
            os.environ,
            VIGIL_KAFKA_BOOTSTRAP=self.settings.bootstrap,
            VIGIL_HOME=str(self.settings.home),
            **extra,
        )
        args = [sys.executable, "-m", "app.cli", command, "--supervisor", str(os.getpid())]
        ports_file = self.ports_file(command)
        if ports_file is not None:
            ports_file.unlink(missing_ok=True)
            args += ["--ports-file", str(ports_file)]
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # Ctrl-C reaches us; we stop children in order
                preexec_fn=die_with_parent(),  # and if we die, however, so do they
            )
        return Child(command, proc, log, ports_file)

    def ports_file(self, command: str) -> Path | None:
        """Where `command` reports the ports it bound, when one of them is set to 0."""
        s = self.settings
        chosen = (s.gateway_port, s.gateway_http_port) if command == "gateway" else (s.worker_web_port,)
        return self.settings.home / f"{command}.ports.json" if 0 in chosen else None

    def learn_ports(self, child: Child, timeout: float = 120.0) -> None:
        """The ports `child` bound in place of 0, into our settings: the URLs we
        print, readiness, the status line and the simulated devices use them."""
        if child.ports_file is None:
            return
        try:
            found = ports.wait(child.ports_file, child.proc, timeout)
        except TimeoutError:
            raise ServiceFailed(
                f"the {child.name} was not ready within {timeout:.0f} s; see {child.log}"
            ) from None
        if found is None:
            raise self.exited(child)
        if child.name == "gateway":
            self.settings = self.settings.with_(
                gateway_port=found[ports.GATEWAY_WS], gateway_http_port=found[ports.GATEWAY_HTTP]
            )
        else:
            self.settings = self.settings.with_(worker_web_port=found[ports.WORKER_WEB])

    def exited(self, child: Child) -> ServiceFailed:
        return ServiceFailed(
            f"the {child.name} exited with code {_code(child.proc.returncode)} while starting; "
            + _last_line(child.log)
        )

    def wait_ready(self, child: Child, url: str, timeout: float = 120.0) -> None:
        """Wait until `child` (our own process: it checked its ports were free
        before binding them) answers `url` with 200 and is still running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child.proc.poll() is not None:
                raise self.exited(child)
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200 and child.proc.poll() is None:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        raise ServiceFailed(f"the {child.name} was not ready within {timeout:.0f} s; see {child.log}")

    # -- running --------------------------------------------------------------------------

    async def serve(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._wake = lambda: loop.call_soon_threadsafe(stop.set)
        tasks: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(self.watch(stop)),
            asyncio.ensure_future(self.watch_kafka(stop)),
        ]
        if self.status_every > 0:
            tasks.append(asyncio.ensure_future(self.status(stop)))
        try:
            if self.devices:
                listening = asyncio.Event()
                tasks.append(
                    asyncio.ensure_future(
                        alert_view.tail(self.settings, self.screen, stop, started=listening)
                    )
                )
                await _first(listening.wait(), stop.wait())
                if not stop.is_set():
                    tasks.append(
                        asyncio.ensure_future(simulate_fleet(self.settings, self.devices, self.speed, stop))
                    )
            await stop.wait()
        finally:
            self._wake = None
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)

    def fail(self, why: str, stop: asyncio.Event) -> None:
        if self.failure is None:
            self.failure = why
            say(f"{why}; stopping")
        stop.set()

    async def watch(self, stop: asyncio.Event) -> None:
        """Notice a child or the broker that died, or the reader of our output going away."""
        while not stop.is_set():
            # The broker first: when it fails (a full disk), the others fail because of it.
            why = self.kafka.failure() if self.kafka is not None else None
            if why:
                self.fail(why, stop)
                break
            for child in self.children:
                if stop.is_set() or child.proc.poll() is None:
                    continue
                if self.may_restart(child):
                    self.restart(child)
                else:
                    self.fail(self.gave_up(child), stop)
            if self.screen.closed:
                say("the reader of the output has gone away; stopping")
                stop.set()
            await preflight.sleep_or_stop(stop, 0.5)

    def may_restart(self, child: Child) -> bool:
        """`child` exited on its own with a code that starting it again may mend
        (killed, crashed, stalled), and has restarts left in its window."""
        now = time.monotonic()
        child.restarts = [t for t in child.restarts if now - t < STALL_WINDOW_S]
        return child.proc.returncode not in NOT_RESTARTED and len(child.restarts) < STALL_RESTARTS

    def gave_up(self, child: Child) -> str:
        """Why `vigil up` stops for `child`, in one line."""
        code = child.proc.returncode
        exited = f"the {child.name} exited with code {_code(code)}"
        if code in NOT_RESTARTED:
            return f"{exited} ({_last_line(child.log)})"
        keeps = "stalling" if child.name == "worker" and code == Exit.STALLED else "crashing"
        return (
            f"{exited} after {len(child.restarts)} restarts in {STALL_WINDOW_S / 60:.0f} min: "
            f"it keeps {keeps} ({_last_line(child.log)})"
        )

    def restart(self, child: Child) -> None:
        """Start `child` again, on the ports it had (its URLs stay as printed,
        devices reconnect to the same address): a worker recovers its
        patients' states from its folder and the changelog, and processes
        what it had not; a gateway's devices resend what was not acknowledged."""
        child.restarts.append(time.monotonic())
        code, s = child.proc.returncode, self.settings
        n, window = len(child.restarts), STALL_WINDOW_S / 60
        again = f"({n} of {STALL_RESTARTS} in {window:.0f} min; {_last_line(child.log)})"
        if child.name == "worker" and code == Exit.STALLED:
            say(
                "the worker stopped itself: not ready, or records waiting for it, and doing nothing, "
                f"while Kafka answered it (VIGIL_WORKER_STALL_S); starting it again {again}"
            )
        else:
            say(
                f"the {child.name} exited with code {_code(code)}; "
                f"starting it again on the same port{'s' if child.name == 'gateway' else ''} {again}"
            )
        if child.name == "worker":
            ports_now = {"VIGIL_WORKER_WEB_PORT": str(s.worker_web_port)}
        else:
            ports_now = {
                "VIGIL_GATEWAY_PORT": str(s.gateway_port),
                "VIGIL_GATEWAY_HTTP_PORT": str(s.gateway_http_port),
            }
        started = self.spawn(child.name, **ports_now)
        child.proc, child.log = started.proc, started.log

    async def watch_kafka(self, stop: asyncio.Event) -> None:
        """Ask Kafka for metadata now and then: a broker can be alive and not answering."""
        where = f"Kafka at {self.settings.bootstrap}"
        await preflight.watch(
            self.settings,
            stop,
            silent=lambda: say(
                f"{where} has not answered for {KAFKA_SILENT_S:.0f} s; "
                "devices get `unavailable` and keep their readings until it is back"
            ),
            back=lambda: say(f"{where} answers again"),
            silent_s=KAFKA_SILENT_S,
        )

    async def status(self, stop: asyncio.Event) -> None:
        s = self.settings
        gateway = f"http://{s.gateway_host}:{s.gateway_http_port}/metrics"
        worker = f"http://{s.worker_web_host}:{s.worker_web_port}/metrics"
        # A rate needs two counts: the first is taken now, so that the first line has one.
        first = metric(await scrape(gateway), "vigil_gateway_readings_total", outcome="accepted")
        before = None if first is None else (time.monotonic(), first)
        while not await preflight.sleep_or_stop(stop, self.status_every):
            gw, wk = await asyncio.gather(scrape(gateway), scrape(worker))
            now = time.monotonic()
            accepted = metric(gw, "vigil_gateway_readings_total", outcome="accepted")
            rate = readings_rate(before, now, accepted)
            before = (now, accepted) if accepted is not None else None
            # With simulated devices, the alerts open on vigil.alerts as this `vigil up`
            # read them; without, what the worker counted since it (last) started.
            say(
                status_line(
                    metric(gw, "vigil_gateway_connections_open"),
                    rate,
                    len(self.screen.open) if self.devices else None,
                    metric(wk, "vigil_worker_consumer_lag"),
                    self.screen.hidden_notices,
                    worker_alerts=None if self.devices else _worker_alerts(wk),
                )
            )

    # -- stopping ---------------------------------------------------------------------------

    def stop_all(self) -> None:
        """Gateway, then worker, then Kafka: each with SIGTERM, SIGKILL after its grace period."""
        if not self.children and self.kafka is None:
            return
        started = time.monotonic()
        say("stopping ...")
        kafka_gone = self.kafka is not None and self.kafka.failure() is not None
        for child in sorted(self.children, key=lambda c: c.name != "gateway"):
            _terminate(child.proc, GRACE_NO_KAFKA_S if kafka_gone else GRACE_S[child.name])
        if self.kafka is not None:
            self.kafka.stop()
        say(f"stopped in {time.monotonic() - started:.1f} s")


def local_kafka(settings: Settings) -> LocalKafka:
    """The local broker `vigil up` and `vigil kafka` run: on its settings' ports, or
    for a port set to 0 on one it chooses."""
    return LocalKafka(
        settings.home / "kafka",
        settings.local_kafka_port or None,
        settings.local_kafka_controller_port or None,
        partitions=settings.partitions,
        cache=settings.cache,
    )


def run(
    settings: Settings,
    simulate_devices: int = 0,
    speed: float = 60.0,
    show_all: bool = False,
    status_every: float = 10.0,
) -> int:
    sup = Supervisor(settings, simulate_devices, speed, show_all, status_every)
    previous = {sig: signal.signal(sig, sup.on_signal) for sig in STOP_SIGNALS}
    try:
        with _home(settings.home) as logs:
            sup.logs = logs
            sup.check_ports()
            try:
                _tell(settings.home, "starting")
                sup.start()
                _tell(settings.home, "up")
                asyncio.run(sup.serve())
            except Stopping:
                pass
            finally:
                sup.stopping = True
                _tell(settings.home, "stopping")
                sup.stop_all()
                with contextlib.suppress(OSError):
                    (settings.home / STATE_FILE).unlink()
        return Exit.RUNTIME if sup.failure else Exit.OK
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


STATE_FILE = "up.state"  # under VIGIL_HOME: {"pid", "state"} of the `vigil up` running on it


def _tell(home: Path, state: str) -> None:
    """Say, for `vigil status`, what this `vigil up` is doing: `starting`
    (until its children are ready), `up`, `stopping`."""
    path = home / STATE_FILE
    spare = path.with_name(STATE_FILE + ".new")
    with contextlib.suppress(OSError):
        spare.write_bytes(orjson.dumps({"pid": os.getpid(), "state": state}))
        spare.replace(path)


def supervisor_state(home: Path) -> tuple[int, str] | None:
    """The `vigil up` running on VIGIL_HOME `home` and what it is doing
    (`_tell`), or None: none runs (a file left by one killed with SIGKILL
    names a process that is gone)."""
    try:
        told = orjson.loads((home / STATE_FILE).read_bytes())
        pid, state = int(told["pid"]), str(told["state"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # another user's process, alive
    return pid, state


@contextlib.contextmanager
def _home(home: Path) -> Iterator[Path]:
    """VIGIL_HOME and its logs folder (owner only), held by this `vigil up` alone."""
    home.mkdir(mode=PRIVATE, parents=True, exist_ok=True)
    logs = home / "logs"
    logs.mkdir(exist_ok=True)
    logs.chmod(PRIVATE)
    with open(home / "up.lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            raise InUse(
                f"another `vigil up` (pid {holder}) is running on VIGIL_HOME={home}: stop it, "
                "or give this one its own VIGIL_HOME"
            ) from None
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        yield logs


def _terminate(proc: subprocess.Popen[bytes], grace: float) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _code(returncode: int | None) -> str:
    """An exit code as the operator reads it: `1`, or `-9 (killed by SIGKILL)`."""
    if returncode is not None and returncode < 0:
        with contextlib.suppress(ValueError):
            return f"{returncode} (killed by {signal.Signals(-returncode).name})"
    return str(returncode)


def _last_line(log: Path) -> str:
    """A child's last log line, as its restart line ends with it: a JSON log
    event's event and level alone (`last log line: [^Worker]: Ready (info)`),
    none of its other fields, which the raw line showed; another line (a
    crash's traceback) as written, cut at 300 characters; else where the
    log is."""
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    shown = _readable(lines[-1]) if lines else None
    return f"last log line: {shown}" if shown else f"see {log}"


def _readable(line: str) -> str | None:
    """A log line as an operator reads it; None for JSON with no event to give."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        return line[:300]
    if not isinstance(event, dict):
        return line[:300]
    text, level = event.get("event"), event.get("level")
    if not isinstance(text, str):
        return None
    return text[:300] + (f" ({level})" if isinstance(level, str) and level else "")


async def _first(*aws: Any) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


# -- the status line ---------------------------------------------------------------------------


async def scrape(url: str) -> list[Any]:
    """The samples of a /metrics page, or [] when it does not answer."""
    from prometheus_client.parser import text_string_to_metric_families

    def fetch() -> str:
        with urllib.request.urlopen(url, timeout=2) as response:
            page: str = response.read().decode()
            return page

    try:
        text = await asyncio.get_running_loop().run_in_executor(None, fetch)
    except (OSError, ValueError):
        return []
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def metric(samples: list[Any], name: str, **labels: str) -> float | None:
    """The sum of `name`'s samples with these labels; None when there are none."""
    values = [
        s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    return sum(values) if values else None


def _worker_alerts(samples: list[Any]) -> tuple[float | None, float | None]:
    """Alerts the worker opened, and resolved, since it started (None:
    unknown). Not the alerts open now: a worker started again counts from 0,
    and resolves alerts its predecessor opened (the line said "-2 open
    alerts", then "0 open alerts" with alerts still open, as SREs saw)."""
    opened = metric(samples, "vigil_worker_alert_events_total", status="open")
    resolved = metric(samples, "vigil_worker_alert_events_total", status="resolved")
    return opened, resolved


def readings_rate(before: tuple[float, float] | None, now: float, accepted: float | None) -> float | None:
    """Readings accepted per second since `before` (when, the gateway's count then); None
    when unknown. A count lower than before is a gateway started again, its counter from
    0 somewhere in the interval: no rate for that interval (it showed -631.9 readings/s)."""
    if before is None or accepted is None or now <= before[0] or accepted < before[1]:
        return None
    return (accepted - before[1]) / (now - before[0])


def status_line(
    devices: float | None,
    rate: float | None,
    open_alerts: int | None,
    lag: float | None,
    hidden_notices: int = 0,
    worker_alerts: tuple[float | None, float | None] | None = None,
) -> str:
    """The status line; `worker_alerts` (opened, resolved since the worker
    started), when given, stands where the open alerts would."""

    def shown(value: float | None, fmt: str = "{:.0f}") -> str:
        return "?" if value is None else fmt.format(value)

    if worker_alerts is None:
        alerts = counted(open_alerts, "open alert")
    else:
        opened, resolved = worker_alerts
        alerts = f"{counted(opened, 'alert')} opened and {shown(resolved)} resolved since the worker started"
    line = (
        f"status: {counted(devices, 'device')} connected, {shown(rate, '{:.1f}')} readings/s, "
        f"{alerts}, worker lag {counted(lag, 'record')}"
    )
    if hidden_notices:
        line += f"; {counted(hidden_notices, 'baseline-drift notice')} not shown (--all shows them)"
    return line


# -- simulated devices ------------------------------------------------------------------------


def _next_run(home: Path) -> int:
    """1, 2, 3, ...: one more each time devices are simulated on this VIGIL_HOME."""
    home.mkdir(mode=PRIVATE, parents=True, exist_ok=True)
    with open(home / "simulated-runs", "a+") as counter:
        fcntl.flock(counter, fcntl.LOCK_EX)
        counter.seek(0)
        text = counter.read().strip()
        run = int(text) + 1 if text.isdigit() else 1
        counter.seek(0)
        counter.truncate()
        counter.write(f"{run}\n")
    return run


def fleet_line(n: int, deteriorating: int, alerts_here: bool) -> str:
    """The first line of a simulation: how many devices, how many patients
    deteriorate, and where their alerts show."""
    verb = "deteriorates" if deteriorating == 1 else "deteriorate"
    line = f"simulating {counted(n, 'device')} ({counted(deteriorating, 'patient')} {verb})"
    if not deteriorating:
        return line
    if alerts_here:
        return line + "; alerts follow"
    return line + f"; their alerts go to {ALERTS_TOPIC} (`vigil alerts` in another terminal prints them)"


async def simulate_fleet(
    settings: Settings,
    n: int,
    speed: float,
    stop: asyncio.Event,
    prefix: str = "sim",
    alerts_here: bool = True,
) -> simulate.Stats:
    """Register N simulated devices (re-issuing their tokens), run them until
    `stop`, and print what they sent and got back.

    Each run simulates new patients (`SIM-<run>-<n>`, the run counted in
    VIGIL_HOME) on new devices (`<prefix>-<run>-<n>`: `vigil up`'s
    `sim-<run>-<n>`, `vigil simulate`'s `simulate-<run>-<n>`): a run
    re-creates the last 40 minutes of history, and giving an earlier run's
    patients a second, different history over the same times would leave
    the worker seeing them as out of order and silent; sent by an earlier
    run's devices it would be a clock stepped back 40 minutes
    (`vigil devices clocks`' `stepped_back`, which the runbook reads as a
    device fault: a newcomer's report, every `sim-<n>` after a few `make
    run`s). Nor does one run, beside another, re-register (and so
    disconnect) the other's devices. `alerts_here`: this process prints the
    alerts (`vigil up`), or not (`vigil simulate`: the first line says
    where)."""
    schedule = simulate.Schedule(speed=speed)
    start_ms = int(time.time() * 1000) - schedule.history_ms
    stats = simulate.Stats()
    patients = simulate.fleet(n, start_ms, schedule)
    run = _next_run(settings.home)
    devices = {f"{prefix}-{run}-{i:04d}": f"SIM-{run}-{i:04d}" for i in range(1, n + 1)}
    clients = await simulate.clients_for(settings, devices, stats)
    tasks = [
        simulate.run_device(client, patient, start_ms, schedule, stop)
        for client, patient in zip(clients.values(), patients, strict=True)
    ]
    deteriorating = sum(p.onset_ms is not None for p in patients)
    say(fleet_line(n, deteriorating, alerts_here))
    if speed > 1:  # simulated time runs `speed` times faster until it meets the clock
        caught_up_s = schedule.history_ms / 1000 / (speed - 1)
        timer = asyncio.get_running_loop().call_later(
            caught_up_s,
            say,
            f"simulated time has caught up with the clock; one reading per device "
            f"every {schedule.step_ms / 1000:.0f} s from now on",
        )
    try:
        await asyncio.gather(*tasks)
    finally:
        if speed > 1:
            timer.cancel()
    say(
        f"devices sent {stats.sent} readings, {stats.acked} acknowledged; "
        f"errors {dict(sorted(stats.errors.items())) or 'none'}; reconnects {stats.reconnects}"
    )
    return stats
