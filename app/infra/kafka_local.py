"""The local Kafka broker: Apache Kafka 3.9 in KRaft single-node mode, from
Maven Central jars.

One module provisions, starts and stops it for `vigil up`, for the integration
tests (a session fixture on ports it chooses) and so for `.ci/run`:

- `ensure_jars()` resolves the broker's jars with Maven (app/infra/kafka/pom.xml)
  into a cache folder, once; later runs find them there. Maven's own
  download lines are the progress a user sees on the first run.
- `LocalKafka(data_dir, port, controller_port).start()` formats the storage on
  first use (the folder readable by its owner only), starts the JVM with a
  small heap, and waits until the broker says it has started. The JVM gets
  the kernel's parent-death signal, so it never outlives the process that
  started it. `stop()` shuts it down cleanly; `failure()` says whether it has
  died or taken its log directory offline (Kafka does that on a full disk).
- Without explicit ports, `LocalKafka(data_dir)` chooses free ones (readable
  as `port`, `controller_port`, `bootstrap`). A KRaft controller must know its
  own port before it binds it, so port 0 is no option: if another process
  takes a chosen port before the JVM binds it, `start()` chooses again (up to
  PORT_ATTEMPTS times). Explicit ports (`vigil up`, `vigil kafka`) are never
  changed: a taken one is one `PortInUse` naming its setting.

`LocalKafka(..., secured=Secured(...))` starts it as a secured cluster is
run (for tests of Vigil's Kafka security settings): one SASL_SSL listener
(SCRAM-SHA-512, the users added when the storage is formatted; TLS from a
PKCS#12 keystore and a PEM CA), the StandardAuthorizer with `admin` as
super user, and `acl()` to grant other principals what they need. The
controller listener stays plaintext on 127.0.0.1.

A user with their own cluster sets VIGIL_KAFKA_BOOTSTRAP and none of this runs.
"""

from __future__ import annotations

import base64
import contextlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.core.errors import LocalKafkaError as LocalKafkaError  # part of its interface
from app.core.errors import PortInUse
from app.infra.runtime import die_with_parent
from app.infra.settings import Settings

KAFKA_VERSION = "3.9.1"
POM = Path(__file__).resolve().parent / "kafka" / "pom.xml"  # package data: installs with Vigil
READY_LINE = "Kafka Server started"
# What the broker logs when a log directory fails (a full disk, an I/O
# error): it stops serving the directory, and with no directory left it halts.
LOG_DIR_FAILED = (
    "Stopping serving logs in dir",
    "because the log directory has failed",
    "Shutdown broker because all log dirs",
)
DISK_FULL = "No space left on device"
PRIVATE = 0o700  # Kafka's data folders: readable by their owner only
BIND_FAILED = "Address already in use"  # what the broker logs when it cannot bind a port
PORT_ATTEMPTS = 5  # a broker with chosen ports: how often it tries new ones
PROGRESS_S = 10.0  # fetching the jars: a progress line this often


class _BindFailed(LocalKafkaError):
    """The broker exited because a port it was to listen on (`port`; 0: unknown) is taken."""

    def __init__(self, message: str, port: int) -> None:
        super().__init__(message)
        self.port = port


def cache_dir(base: Path | None = None) -> Path:
    """The jar cache: `base` (Settings.cache, VIGIL_CACHE) or, for callers
    without settings (the test fixture), the same setting read from the environment."""
    if base is None:
        base = Settings.from_env().cache
    return Path(base) / f"kafka-{KAFKA_VERSION}"


def _require(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise LocalKafkaError(hint)
    return path


def java() -> str:
    return _require(
        "java",
        "Java 17 or newer is needed to run the local Kafka broker; install it "
        "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless), or set "
        "VIGIL_KAFKA_BOOTSTRAP to use an existing Kafka cluster.",
    )


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _say(text: str) -> None:
    print(f"vigil: {text}", file=sys.stderr, flush=True)


def ensure_jars(quiet: bool = False, cache: Path | None = None) -> Path:
    """Return the folder holding the broker's jars, downloading them once."""
    libs = cache_dir(cache) / "libs"
    done = cache_dir(cache) / ".complete"
    if done.exists():
        return libs
    mvn = _require(
        "mvn",
        "Maven is needed once, to fetch the Kafka broker's jars from Maven Central; "
        "install it (Debian/Ubuntu: apt-get install maven), or set VIGIL_KAFKA_BOOTSTRAP "
        "to use an existing Kafka cluster.",
    )
    java()
    log = cache_dir(cache) / "fetch.log"
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.touch()
    except OSError as e:
        raise LocalKafkaError(
            f"cannot write the jar cache {log.parent} ({e.strerror}); set VIGIL_CACHE to a writable folder"
        ) from None
    if not quiet:
        _say(f"fetching Apache Kafka {KAFKA_VERSION} jars into {libs} (first run only; Maven's log: {log})")
    tmp = cache_dir(cache) / "libs.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [
        mvn,
        "-B",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={tmp}",
        "-DincludeScope=runtime",
    ]
    started = time.monotonic()
    returncode, fetched = _maven(cmd, log, quiet)
    if returncode != 0:
        tail = log.read_text()[-2000:]
        raise LocalKafkaError(
            f"Maven could not fetch the Kafka jars (exit {returncode}; its log: {log}).\n{tail}"
        )
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    done.touch()
    if not quiet:
        jars, took = len(list(libs.glob("*.jar"))), time.monotonic() - started
        _say(f"Kafka's jars are ready: {jars} jars, {fetched} files downloaded, {took:.0f} s")
    return libs


def _maven(cmd: list[str], log: Path, quiet: bool) -> tuple[int, int]:
    """Run Maven; its exit code and how many files it downloaded. Its lines
    go to `log`, not the terminal (a newcomer's terminal shows vigil's own
    lines), without the colour codes Debian's Maven 3.8 writes even in batch
    mode to a file or a pipe; a line every PROGRESS_S says how far it got."""
    last = time.monotonic()
    fetched = 0
    with (
        open(log, "w") as out,
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as maven,
    ):
        for line in maven.stdout or ():
            line = _ANSI.sub("", line)
            out.write(line if line.endswith("\n") else line + "\n")
            fetched += "Downloaded from" in line
            if not quiet and time.monotonic() - last >= PROGRESS_S:
                last = time.monotonic()
                _say(f"still fetching Kafka's jars: {fetched} files downloaded so far")
        return maven.wait(), fetched


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


def _choose_port() -> int:
    """A port free now, for a broker without explicit ports. The JVM binds it
    later, so another process may take it first: `LocalKafka.start` then
    chooses again (a KRaft controller must know its port before it binds it,
    so port 0 is no option)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


_LOG4J = """\
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File={log}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
"""

_SERVER = """\
process.roles=broker,controller
node.id={node_id}
controller.quorum.voters={voters}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs={data}
num.partitions={partitions}
# Topics are created on purpose (app/infra/topics.py), never by a typo.
auto.create.topics.enable=false
# One replica per node up to three; with three, a write needs two of them.
offsets.topic.replication.factor={replicas}
offsets.topic.num.partitions=8
transaction.state.log.replication.factor={replicas}
transaction.state.log.min.isr={min_isr}
default.replication.factor={replicas}
min.insync.replicas={min_isr}
group.initial.rebalance.delay.ms=0
"""


_SECURED = """\
listeners=SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=SASL_SSL://127.0.0.1:{port}
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=\
org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="{admin_password}";
ssl.keystore.type=PKCS12
ssl.keystore.location={keystore}
ssl.keystore.password={keystore_password}
ssl.key.password={keystore_password}
ssl.truststore.type=PEM
ssl.truststore.location={truststore}
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
# ANONYMOUS is the broker itself on the plaintext controller listener (127.0.0.1 only):
# it registers and heartbeats there. Clients can only use the SASL_SSL listener.
super.users=User:admin;User:ANONYMOUS
"""


@dataclass(frozen=True)
class Secured:
    """A SASL_SSL listener: the broker's key and certificate (PKCS#12, with
    its password), the CA that signed it (PEM), and the SCRAM-SHA-512 users
    (name -> password); `admin` is required, and is the super user."""

    keystore: Path
    keystore_password: str
    truststore: Path
    users: Mapping[str, str] = field(default_factory=dict)

    def properties(self, port: int, controller_port: int) -> str:
        return _SECURED.format(
            port=port,
            controller_port=controller_port,
            admin_password=self.users["admin"],
            keystore=self.keystore,
            keystore_password=self.keystore_password,
            truststore=self.truststore,
        )

    def scram_arguments(self) -> list[str]:
        return [
            arg
            for name, password in self.users.items()
            for arg in ("--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]")
        ]

    def admin_client(self) -> str:
        """Client properties for Kafka's own tools, as `admin`."""
        return (
            "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"
            "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="admin" password="{self.users["admin"]}";\n'
            f"ssl.truststore.type=PEM\nssl.truststore.location={self.truststore}\n"
        )


def _secure(server: str, secured: Secured, port: int, controller_port: int) -> str:
    """The plaintext server properties with the listener lines replaced by the secured ones."""
    replaced = ("listeners=", "advertised.listeners=", "listener.security.protocol.map=", "inter.broker.")
    kept = [line for line in server.splitlines() if not line.startswith(replaced)]
    return "\n".join(kept) + "\n" + secured.properties(port, controller_port)


@dataclass(frozen=True)
class Node:
    """A broker's place in its cluster: its id, the controller quorum, the
    cluster id its storage is formatted with (None: a new one), and the
    replicas of every topic (three in a three-node cluster, so a write
    acknowledged with acks=all is on two of them at least)."""

    node_id: int = 1
    voters: str = ""  # empty: this node alone, on its controller port
    cluster_id: str | None = None
    replicas: int = 1

    @property
    def min_isr(self) -> int:
        return 2 if self.replicas >= 3 else 1


class LocalKafka:
    """One local KRaft broker with its data under `data_dir`."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        controller_port: int | None = None,
        heap: str = "512m",
        partitions: int = 4,
        cache: Path | None = None,
        secured: Secured | None = None,
        node: Node | None = None,
    ) -> None:
        self.node = node or Node()
        self.data_dir = Path(data_dir)
        self.secured = secured
        self.cache = cache
        self._log_seen = 0  # bytes of the log already scanned by failure()
        self._log_failure: str | None = None
        self._disk_full = False
        self._out_seen = 0  # bytes of kafka.out written by earlier runs
        # Ports not given are chosen here, and again by start() if another
        # process takes one before the broker binds it; once it has started,
        # they stay (a restart keeps the address its clients know).
        self._choosing = (port is None, controller_port is None)
        self.port = port or 0
        self.controller_port = controller_port or 0
        self._choose_again()
        self.heap = heap
        self.partitions = partitions
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "kafka.log"

    def _java(self, libs: Path, main: str, *args: str) -> list[str]:
        return [
            java(),
            f"-Xmx{self.heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.data_dir / 'log4j.properties'}",
            "-cp",
            f"{libs}/*",
            main,
            *args,
        ]

    def start(self, timeout: float = 90.0, quiet: bool = False) -> None:
        """Start the broker and wait until it serves. Explicit ports that are
        taken are one `PortInUse`; chosen ones are chosen again, up to
        PORT_ATTEMPTS times in all, if the broker could not bind them."""
        libs = ensure_jars(quiet=quiet, cache=self.cache)
        for attempt in range(1, PORT_ATTEMPTS + 1):
            if self._choosing != (False, False) and attempt > 1:
                self._choose_again()
            if self._chosen_ports_taken():
                continue
            try:
                self._start_once(libs, timeout)
            except _BindFailed as exc:
                explicit = self._explicit_port_taken(exc.port)
                if explicit is not None:
                    raise explicit from None
                if self._choosing == (False, False) or attempt == PORT_ATTEMPTS:
                    raise LocalKafkaError(str(exc)) from None
                continue
            self._choosing = (False, False)  # started: its clients know these ports now
            return
        raise LocalKafkaError(f"the local Kafka found no free ports in {PORT_ATTEMPTS} attempts")

    def _choose_again(self) -> None:
        """New ports for those not given (two different ones)."""
        if self._choosing[0]:
            self.port = _choose_port()
        if self._choosing[1]:
            self.controller_port = _choose_port()
            while self.controller_port == self.port:
                self.controller_port = _choose_port()

    def _explicit_port_taken(self, port: int) -> PortInUse | None:
        """`PortInUse` naming the setting of `port`, if it is one given explicitly."""
        for ours, variable, chosen in (
            (self.port, "VIGIL_LOCAL_KAFKA_PORT", self._choosing[0]),
            (self.controller_port, "VIGIL_LOCAL_KAFKA_CONTROLLER_PORT", self._choosing[1]),
        ):
            if port == ours and not chosen:
                return PortInUse(port, "127.0.0.1", variable, " (another Kafka, or another `vigil up`?)")
        return None

    def _chosen_ports_taken(self) -> bool:
        """Whether a chosen port is taken now (then choose again); `PortInUse` for an explicit one."""
        for port, variable, chosen in (
            (self.port, "VIGIL_LOCAL_KAFKA_PORT", self._choosing[0]),
            (self.controller_port, "VIGIL_LOCAL_KAFKA_CONTROLLER_PORT", self._choosing[1]),
        ):
            if _port_in_use(port):
                if chosen:
                    return True
                raise PortInUse(port, "127.0.0.1", variable, " (another Kafka, or another `vigil up`?)")
        return False

    def check_ports(self) -> None:
        """`PortInUse` for a port taken now (a cluster's nodes have theirs given)."""
        if self._chosen_ports_taken():
            raise LocalKafkaError("a port chosen for the local Kafka was taken; start it again")

    def _start_once(self, libs: Path, timeout: float) -> None:
        self.prepare(libs)
        self.launch(libs)
        self.await_ready(time.monotonic() + timeout)

    def prepare(self, libs: Path) -> None:
        """The configuration, and the storage formatted on first use."""
        logs = self.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for folder in (self.data_dir, logs):  # topic data is patient data
            folder.chmod(PRIVATE)
        config = self.data_dir / "server.properties"
        node = self.node
        server = _SERVER.format(
            port=self.port,
            controller_port=self.controller_port,
            data=logs,
            partitions=self.partitions,
            node_id=node.node_id,
            voters=node.voters or f"{node.node_id}@127.0.0.1:{self.controller_port}",
            replicas=node.replicas,
            min_isr=node.min_isr,
        )
        if self.secured is not None:
            server = _secure(server, self.secured, self.port, self.controller_port)
        config.touch(mode=0o600)  # it may hold the admin's password
        config.write_text(server)
        (self.data_dir / "log4j.properties").write_text(_LOG4J.format(log=self.log_path))
        if (logs / "meta.properties").exists():
            return
        fmt = subprocess.run(
            # "--cluster-id=" form: a base64 id may start with "-", which a
            # separate argument would turn into an unknown option.
            self._java(
                libs,
                "kafka.tools.StorageTool",
                "format",
                f"--cluster-id={node.cluster_id or new_cluster_id()}",
                "-c",
                str(config),
                *(self.secured.scram_arguments() if self.secured else []),
            ),
            capture_output=True,
            text=True,
            preexec_fn=die_with_parent(),
        )
        if fmt.returncode != 0:
            raise LocalKafkaError(f"formatting Kafka storage failed: {fmt.stderr or fmt.stdout}")

    def launch(self, libs: Path) -> None:
        self.log_path.write_text("")
        self._log_seen, self._log_failure, self._disk_full = 0, None, False
        with open(self.data_dir / "kafka.out", "ab") as out:
            self._out_seen = out.tell()
            self.proc = subprocess.Popen(
                self._java(libs, "kafka.Kafka", str(self.data_dir / "server.properties")),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches `vigil up`, which stops us in order
                preexec_fn=die_with_parent(),  # and if `vigil up` dies, so do we
            )

    def await_ready(self, deadline: float) -> None:
        proc = self.proc
        if proc is None:
            raise LocalKafkaError("the local Kafka was not launched")
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                taken = self._bind_failed()
                if taken is not None:
                    raise _BindFailed(str(self.failure()), taken)
                raise LocalKafkaError(str(self.failure()))
            if READY_LINE in self.log_path.read_text(errors="replace") and _port_in_use(self.port):
                return
            time.sleep(0.2)
        self.stop()
        raise LocalKafkaError(f"the local Kafka did not start in time; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL, as a crash (tests)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def _bind_failed(self) -> int | None:
        """The port the broker exited on because it is taken (0: which one it did not
        say), or None if it exited for another reason. Kafka logs "Socket server
        failed to bind to 127.0.0.1:PORT: Address already in use."."""
        printed = ""
        with contextlib.suppress(OSError):
            with open(self.data_dir / "kafka.out", "rb") as out:
                out.seek(self._out_seen)  # this run's output only: the file keeps every run's
                printed += out.read().decode(errors="replace")
        with contextlib.suppress(OSError):
            printed += self.log_path.read_text(errors="replace")
        if BIND_FAILED not in printed:
            return None
        named = re.search(r"failed to bind to [^\s]*:(\d+)", printed)
        return int(named.group(1)) if named else 0

    def acl(self, *arguments: str) -> None:
        """Add ACLs with Kafka's own tool, as `admin` (a secured broker only): `arguments`
        as kafka-acls takes them, such as ("--allow-principal", "User:gateway",
        "--operation", "Write", "--topic", "vigil.readings")."""
        if self.secured is None:
            raise LocalKafkaError("ACLs need a secured broker")
        client = self.data_dir / "admin.properties"
        client.touch(mode=0o600)
        client.write_text(self.secured.admin_client())
        done = subprocess.run(
            self._java(
                ensure_jars(quiet=True, cache=self.cache),
                "kafka.admin.AclCommand",
                "--bootstrap-server",
                self.bootstrap,
                "--command-config",
                str(client),
                "--add",
                *arguments,
            ),
            capture_output=True,
            text=True,
            preexec_fn=die_with_parent(),
        )
        if done.returncode != 0:
            raise LocalKafkaError(f"adding ACLs failed: {done.stderr or done.stdout}")

    def failure(self) -> str | None:
        """Why the broker can no longer serve, or None while it can: it has
        exited, or it has taken its log directory offline (a full disk; the
        process may still be alive for a while)."""
        self._scan_log()
        if self.proc is not None and self.proc.poll() is not None:
            why = self._log_failure or f"exited with code {self.proc.returncode}"
            return f"the local Kafka {why}; see {self.log_path}"
        if self._log_failure:
            return f"the local Kafka {self._log_failure}; see {self.log_path}"
        return None

    def _scan_log(self) -> None:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_seen)
                data = f.read()
        except OSError:
            return
        complete = data.rfind(b"\n") + 1  # whole lines only; the rest next time
        self._log_seen += complete
        text = data[:complete].decode(errors="replace")
        self._disk_full = self._disk_full or DISK_FULL in text
        if self._log_failure is None and any(marker in text for marker in LOG_DIR_FAILED):
            self._log_failure = f"took its log directory {self.data_dir / 'logs'} offline" + (
                " because the disk is full: free space, then start it again" if self._disk_full else ""
            )

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> LocalKafka:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LocalCluster:
    """`brokers` local KRaft nodes (broker and controller each) under
    `data_dir/node-N`, on ports `port`, `port + 2`, ... (controllers on
    `controller_port`, `controller_port + 2`, ...); topics get three
    replicas and `min.insync.replicas` 2 with three nodes or more."""

    def __init__(
        self,
        data_dir: Path,
        brokers: int = 3,
        port: int = 9092,
        controller_port: int = 9093,
        partitions: int = 4,
        cache: Path | None = None,
        ports: Sequence[tuple[int, int]] = (),
    ) -> None:
        """`ports`: (broker, controller) port of each node, instead of the consecutive ones."""
        self.data_dir = Path(data_dir)
        self.cache = cache
        ids = range(1, brokers + 1)
        if ports:
            pairs = list(ports)
        elif port and controller_port:
            pairs = [(port + 2 * (i - 1), controller_port + 2 * (i - 1)) for i in ids]
        else:  # 0: ports the system has free now (a cluster cannot choose again: its quorum names them)
            chosen: list[int] = []
            while len(chosen) < 2 * brokers:
                candidate = _choose_port()
                if candidate not in chosen:
                    chosen.append(candidate)
            pairs = [(chosen[2 * i], chosen[2 * i + 1]) for i in range(brokers)]
        if len(pairs) != brokers:
            raise ValueError("one (broker, controller) port pair per broker")
        node_ports = {i: pairs[i - 1] for i in ids}
        voters = ",".join(f"{i}@127.0.0.1:{node_ports[i][1]}" for i in ids)
        cluster_id = self._cluster_id()
        replicas = min(brokers, 3)
        self.nodes = [
            LocalKafka(
                self.data_dir / f"node-{i}",
                node_ports[i][0],
                node_ports[i][1],
                partitions=partitions,
                cache=cache,
                node=Node(i, voters, cluster_id, replicas),
            )
            for i in ids
        ]

    def _cluster_id(self) -> str:
        """One id for every node, kept so that a restart finds the same cluster."""
        path = self.data_dir / "cluster.id"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(mode=PRIVATE, parents=True, exist_ok=True)
        cluster_id = new_cluster_id()
        path.write_text(cluster_id + "\n")
        return cluster_id

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    def start(self, timeout: float = 120.0, quiet: bool = False) -> None:
        """Every node at once: a controller quorum needs a majority before any broker is ready."""
        libs = ensure_jars(quiet=quiet, cache=self.cache)
        for node in self.nodes:
            node.check_ports()
        for node in self.nodes:
            node.prepare(libs)
        for node in self.nodes:
            node.launch(libs)
        deadline = time.monotonic() + timeout
        try:
            for node in self.nodes:
                node.await_ready(deadline)
        except LocalKafkaError:
            self.stop()
            raise

    def restart(self, index: int, timeout: float = 90.0) -> None:
        """Start node `index` (0-based) again after a stop or a kill."""
        node = self.nodes[index]
        libs = ensure_jars(quiet=True, cache=self.cache)
        node.launch(libs)
        node.await_ready(time.monotonic() + timeout)

    def failure(self) -> str | None:
        for node in self.nodes:
            failure = node.failure()
            if failure:
                return failure
        return None

    def stop(self, timeout: float = 30.0) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.send_signal(signal.SIGTERM)
        for node in self.nodes:
            node.stop(timeout)

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
