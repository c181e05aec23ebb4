"""Settings, read from the environment (VIGIL_*) once at start-up, and checked.

Every setting has a default that runs the embedded local set-up; docs/configuration.md
lists them all (a test keeps the two in step). Each field names its variable,
how its text is read (type and range or allowed values) and whether it is a
secret. `Settings.from_env()` reads them all and raises `SettingsError` with
one line per bad setting, naming the variable and what it accepts;
`inspect()` gives the effective value and source of each (`vigil config`).
This module is the only reader of VIGIL_* variables it declares. Topic names
are public contracts and are not configurable.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from app.core.errors import SettingsError as SettingsError  # part of its interface
from app.core.handshake import GuardLimits
from app.core.patient import Config
from app.core.protocol import Limits

READINGS_TOPIC = "vigil.readings"
REJECTED_TOPIC = "vigil.rejected"
ALERTS_TOPIC = "vigil.alerts"
# Compacted: per device, the window of `seq`s already stored (app/core/delivery.py).
DEVICE_SEQS_TOPIC = "vigil.device-seqs"
# Records of vigil.readings the worker could not process: where they are and
# why, never their content (docs/operations.md#dead-letter).
DEAD_LETTER_TOPIC = "vigil.dead-letter"
# Compacted, with VIGIL_REGISTRY=kafka: the device registry (keyed by device,
# read by gateways) and the patient directory (keyed by pseudonym, read by
# workers): app/core/directory.py.
DEVICES_TOPIC = "vigil.devices"
PATIENTS_TOPIC = "vigil.patients"

# The gateway's and the worker's Kafka producers batch up to this many bytes
# per partition (the clients' default, 16 KiB, holds a few device frames), still
# under the broker's 1 MiB message limit.
PRODUCER_BATCH_BYTES = 512 * 1024

PREFIX = "VIGIL_"
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("auto", "json", "console")
MASK = "********"


# -- readers: text -> value, or ValueError saying what is accepted ----------------


def _whole(text: str, low: int, high: int | None = None) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError from None
    if value < low or (high is not None and value > high):
        raise ValueError
    return value


def whole(low: int, high: int | None = None) -> tuple[Callable[[str], Any], str]:
    accepts = (
        f"a whole number from {low} to {high}" if high is not None else f"a whole number, at least {low}"
    )
    return (lambda text: _whole(text, low, high)), accepts


PORT = ((lambda text: _whole(text, 1, 65535)), "a port number from 1 to 65535")
# A port Vigil binds: 0 has a free one chosen, which is then reported (the
# gateway's and the worker's start-up log line and `--ports-file`; `vigil up`
# and `vigil kafka` print where the local broker runs).
LISTEN_PORT = (
    (lambda text: _whole(text, 0, 65535)),
    "a port number from 0 to 65535 (0: a free one is chosen)",
)


def seconds(minimum: float = 0.0, strict: bool = False) -> tuple[Callable[[str], Any], str]:
    def read(text: str) -> float:
        value = float(text.strip())
        if not math.isfinite(value) or value < minimum or (strict and value == minimum):
            raise ValueError
        return value

    bound = f"above {minimum:g}" if strict else f"{minimum:g} or more"
    return read, f"a number of seconds, {bound} (such as 15 or 0.5, without a unit)"


def number(minimum: float, strict: bool = True) -> tuple[Callable[[str], Any], str]:
    read, _ = seconds(minimum, strict)
    return read, f"a number, {f'above {minimum:g}' if strict else f'{minimum:g} or more'}"


def _flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError


FLAG = (_flag, "1, true, yes or on (or 0, false, no, off)")


def choice(*allowed: str) -> tuple[Callable[[str], Any], str]:
    def read(text: str) -> str:
        lowered = text.strip().lower()
        if lowered not in allowed:
            raise ValueError
        return lowered

    shown = ", ".join(repr(a) if a else "empty" for a in allowed)
    return read, f"one of {shown}"


def exact_choice(*allowed: str) -> tuple[Callable[[str], Any], str]:
    """One of `allowed`, as Kafka spells it (upper case); read case-insensitively."""

    def read(text: str) -> str:
        upper = text.strip().upper()
        if upper not in allowed:
            raise ValueError
        return upper

    return read, f"one of {', '.join(allowed)}"


KAFKA_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

TEXT = ((lambda text: text), "any text")
PATH = ((lambda text: Path(text).expanduser()), "a folder path")

_HOST_PORT = re.compile(r"[A-Za-z0-9._\-\[\]:]+:\d{1,5}\Z")


def _bootstrap(text: str) -> str:
    if not text.strip():
        return ""
    servers = [s.strip() for s in text.split(",")]
    for server in servers:
        if not _HOST_PORT.match(server) or not 1 <= int(server.rsplit(":", 1)[1]) <= 65535:
            raise ValueError
    return ",".join(servers)


BOOTSTRAP = (_bootstrap, "host:port[,host:port...], or empty for the local broker")

_NAME = re.compile(r"[A-Za-z0-9._-]{1,200}\Z")


def _name(text: str) -> str:
    if not _NAME.match(text):
        raise ValueError
    return text


KAFKA_NAME = (_name, "1-200 letters, digits, '.', '_' or '-' (it prefixes Kafka topic and group names)")


def _file(text: str) -> str:
    if text and not (Path(text).expanduser().is_file() and os.access(Path(text).expanduser(), os.R_OK)):
        raise ValueError
    return str(Path(text).expanduser()) if text else ""


FILE = (_file, "the path of a readable file, or empty")


def _hex_key(text: str) -> str:
    if text and len(bytes.fromhex(text.strip())) < 32:
        raise ValueError
    return text.strip()


HEX_KEY = (_hex_key, "hexadecimal holding at least 32 bytes (64 hex digits), or empty")

_HOST = re.compile(r"[A-Za-z0-9._:\-]{1,253}\Z")


def _host(text: str) -> str:
    if not _HOST.match(text.strip()):
        raise ValueError
    return text.strip()


HOST = (_host, "a host name or IP address")


@dataclass(frozen=True)
class Spec:
    """How one setting is read from its variable."""

    var: str
    read: Callable[[str], Any]
    accepts: str
    secret: bool = False


def setting(
    var: str,
    default: Any = None,
    reader: tuple[Callable[[str], Any], str] = TEXT,
    *,
    factory: Callable[[], Any] | None = None,
    secret: bool = False,
) -> Any:
    spec = {"vigil": Spec(PREFIX + var, reader[0], reader[1], secret)}
    if factory is not None:
        return field(default_factory=factory, metadata=spec)
    return field(default=default, metadata=spec)


def _cache_default() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "vigil"


# Where the core has a default (detection, frame limits, handshake limits),
# the setting's default is the core's: written once, there.
_DETECTION = Config()
_FRAME = Limits()
_HANDSHAKE = GuardLimits()


@dataclass(frozen=True)
class Settings:
    home: Path = setting("HOME", reader=PATH, factory=lambda: Path.home() / ".vigil")
    # Where the local broker's jars are cached (app/infra/kafka_local.py).
    cache: Path = setting("CACHE", reader=PATH, factory=_cache_default)
    # Bootstrap servers of an existing Kafka cluster. Empty: Vigil runs its own
    # local broker on `local_kafka_port`.
    kafka_bootstrap: str = setting("KAFKA_BOOTSTRAP", "", BOOTSTRAP)
    # How Vigil's Kafka clients (gateway, worker, every command) reach a secured
    # cluster: app/infra/kafka_security.py turns these into client options.
    kafka_security_protocol: str = setting(
        "KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", exact_choice(*KAFKA_PROTOCOLS)
    )
    kafka_sasl_mechanism: str = setting(
        "KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", exact_choice(*SASL_MECHANISMS)
    )
    kafka_sasl_username: str = setting("KAFKA_SASL_USERNAME", "")
    kafka_sasl_password: str = setting("KAFKA_SASL_PASSWORD", "", secret=True)
    # A file holding the password (its first line), in place of KAFKA_SASL_PASSWORD.
    kafka_sasl_password_file: str = setting("KAFKA_SASL_PASSWORD_FILE", "", FILE)
    # PEM CA bundle the clients trust for the brokers' certificates; empty: the system's.
    kafka_ca: str = setting("KAFKA_CA", "", FILE)
    # PEM client certificate and its (unencrypted) key, for brokers that ask for one (mutual TLS).
    kafka_cert: str = setting("KAFKA_CERT", "", FILE)
    kafka_key: str = setting("KAFKA_KEY", "", FILE)
    local_kafka_port: int = setting("LOCAL_KAFKA_PORT", 9092, LISTEN_PORT)
    local_kafka_controller_port: int = setting("LOCAL_KAFKA_CONTROLLER_PORT", 9093, LISTEN_PORT)
    partitions: int = setting("PARTITIONS", 4, whole(1, 10_000))
    replication_factor: int = setting("REPLICATION_FACTOR", 1, whole(1, 32))
    gateway_host: str = setting("GATEWAY_HOST", "127.0.0.1", HOST)
    gateway_port: int = setting("GATEWAY_PORT", 8765, LISTEN_PORT)
    gateway_http_port: int = setting("GATEWAY_HTTP_PORT", 8766, LISTEN_PORT)
    # Several gateways on one host share the websocket port (SO_REUSEPORT: the kernel spreads new
    # connections over them); each keeps an HTTP port of its own for its metrics.
    gateway_reuse_port: bool = setting("GATEWAY_REUSE_PORT", False, FLAG)
    # Each connection begins with a PROXY protocol header (v1 or v2) naming the client: the
    # gateway is reached only through a TCP proxy that sends one (deploy/compose's haproxy).
    gateway_proxy_protocol: bool = setting("GATEWAY_PROXY_PROTOCOL", False, FLAG)
    # Faust app id: consumer group and changelog topic prefix.
    worker_id: str = setting("WORKER_ID", "vigil-worker", KAFKA_NAME)
    worker_web_host: str = setting("WORKER_WEB_HOST", "127.0.0.1", HOST)
    worker_web_port: int = setting("WORKER_WEB_PORT", 6066, LISTEN_PORT)
    # How long Kafka waits for a silent worker before handing its partitions
    # to another: the pause after a crash. Faust's default is 60 s.
    worker_session_timeout_s: float = setting("WORKER_SESSION_TIMEOUT_S", 10.0, seconds(0, strict=True))
    # A worker Kafka answers that stays not ready, or ready with records waiting on its partitions,
    # this long without progress (no record handled, no changelog record recovered) stops itself,
    # exit code 6, for its supervisor to start it again (`app.core.watchdog`). 0: never.
    worker_stall_s: float = setting("WORKER_STALL_S", 120.0, seconds(0))
    # How often the worker writes the patients it has changed to the table
    # and its changelog (once each, however many records changed them), and
    # only then lets Faust commit those records' offsets. 0: after every record.
    # A patient whose device sends every second is written once per interval,
    # not once per reading; a crash replays at most the interval.
    worker_flush_interval_s: float = setting("WORKER_FLUSH_INTERVAL_S", 5.0, seconds(0))
    # Patients whose states the worker keeps decoded (about 6.4 KB each):
    # beyond them, a frame decodes its patient's state again (3-4 times an
    # encode). 30,000: the patients of a worker at 20,000 readings/s from
    # devices sending every second, with room to spare.
    worker_decoded_cache: int = setting("WORKER_DECODED_CACHE", 30_000, whole(1))
    # Faust table store: rocksdb:// (on disk) or memory://
    worker_store: str = setting("WORKER_STORE", "rocksdb://", choice("rocksdb://", "memory://"))
    # The worker's own folder (its RocksDB store); empty: $VIGIL_HOME/worker. Two workers
    # on one host share VIGIL_HOME (registry, key) with a folder each (`worker_dir`).
    worker_data: str = setting("WORKER_DATA", "")
    uvloop: bool = setting("UVLOOP", True, FLAG)  # gateway and worker on uvloop's event loop
    # The compiled core (`make core`, app/native.py) when it is built and current; 0: the sources.
    # Read when `app` is imported, so set it in the environment, not later.
    compiled_core: bool = setting("COMPILED_CORE", True, FLAG)
    # A condition must hold this long (event time) to open an alert ...
    confirm_s: float = setting("CONFIRM_S", _DETECTION.confirm_ms / 1000, seconds())
    # ... and be gone this long to resolve.
    resolve_after_s: float = setting("RESOLVE_AFTER_S", _DETECTION.resolve_after_ms / 1000, seconds())
    # A reminder while an alert stays open; 0: never.
    renotify_s: float = setting("RENOTIFY_S", _DETECTION.renotify_ms / 1000, seconds())
    # ... then each twice as long after the notification before, up to this (at most RENOTIFY_S: fixed).
    renotify_max_s: float = setting("RENOTIFY_MAX_S", _DETECTION.renotify_max_ms / 1000, seconds())
    # How far ahead a vital's trend looks for a dangerous range.
    trend_horizon_s: float = setting(
        "TREND_HORIZON_S", _DETECTION.trend_horizon_ms / 1000, seconds(0, strict=True)
    )
    # SDs a vital must have left its normal before its trend counts.
    trend_z: float = setting("TREND_Z", _DETECTION.trend_z, number(0))
    # ... or, for a vital that wanders (DRIFT_WANDER drifts or more in the day before), this many; 0: TREND_Z.
    trend_z_wander: float = setting("TREND_Z_WANDER", _DETECTION.trend_z_wander, number(0, strict=False))
    # A channel sending "no signal" (0) this long (event time) gets a technical notice.
    no_signal_s: float = setting("NO_SIGNAL_S", _DETECTION.no_signal_ms / 1000, seconds(0, strict=True))
    # An arousal-like rise (heart and breathing rate up together) must hold this long to open; 0: off.
    excursion_s: float = setting("EXCURSION_S", _DETECTION.excursion_ms / 1000, seconds())
    # A NEWS2 trigger made by a monitored rise (fast heart or breathing) must hold this long; 0: off.
    news2_sustain_s: float = setting("NEWS2_SUSTAIN_S", _DETECTION.news2_sustain_ms / 1000, seconds())
    # This many vitals drifting in a deterioration's direction within DRIFT_TOGETHER_S open a trend; 0: off.
    drift_together: int = setting("DRIFT_TOGETHER", _DETECTION.drift_together, whole(0, 5))
    drift_together_s: float = setting(
        "DRIFT_TOGETHER_S", _DETECTION.drift_together_ms / 1000, seconds(0, strict=True)
    )
    # ... counting only vitals that drifted fewer than this many times in the day before; 0: every vital.
    drift_wander: int = setting("DRIFT_WANDER", _DETECTION.drift_wander, whole(0, 1000))
    ack_timeout_s: float = setting("ACK_TIMEOUT_S", 10.0, seconds(0, strict=True))
    # Frames of one partition wait this long for others to share their vigil.readings record; 0: off.
    gateway_coalesce_ms: float = setting("GATEWAY_COALESCE_MS", 2.0, number(0, strict=False))
    # At most this many frames, or bytes, in one coalesced record (under the broker's 1 MiB message limit).
    gateway_coalesce_frames: int = setting("GATEWAY_COALESCE_FRAMES", 100, whole(1, 10_000))
    gateway_coalesce_bytes: int = setting(
        "GATEWAY_COALESCE_BYTES", 256 * 1024, whole(1024, PRODUCER_BATCH_BYTES)
    )
    # Device frames awaiting Kafka's acknowledgement, per gateway.
    max_inflight: int = setting("MAX_INFLIGHT", 2048, whole(1))
    # PEM certificate chain; with tls_key, the gateway serves wss://
    tls_cert: str = setting("TLS_CERT", "", FILE)
    tls_key: str = setting("TLS_KEY", "", FILE)
    # CA bundle that Vigil's own clients (vigil simulate) trust for wss://
    tls_ca: str = setting("TLS_CA", "", FILE)
    # Needed to listen without TLS on a non-loopback address.
    allow_plaintext: bool = setting("GATEWAY_ALLOW_PLAINTEXT", False, FLAG)
    max_connections: int = setting("MAX_CONNECTIONS", 10_000, whole(1))
    device_rate: float = setting("DEVICE_RATE", 20.0, number(0))  # readings per second per device, sustained
    # Readings a device may send at once (an offline buffer).
    device_burst: int = setting("DEVICE_BURST", 1_000, whole(1))
    max_frame_bytes: int = setting("MAX_FRAME_BYTES", _FRAME.max_frame_bytes, whole(256, 16 * 1024 * 1024))
    max_batch: int = setting("MAX_BATCH", _FRAME.max_batch, whole(1, 100_000))
    ping_interval_s: float = setting("PING_INTERVAL_S", 20.0, seconds(0, strict=True))
    ping_timeout_s: float = setting("PING_TIMEOUT_S", 20.0, seconds(0, strict=True))
    compression: str = setting("GATEWAY_COMPRESSION", "", choice("", "deflate"))  # "" (off) or "deflate"
    # How often open connections are re-checked against the registry.
    credential_check_s: float = setting("CREDENTIAL_CHECK_S", 1.0, seconds(0, strict=True))
    # A connection must finish its handshake (TLS included) within this.
    handshake_timeout_s: float = setting("HANDSHAKE_TIMEOUT_S", 5.0, seconds(0, strict=True))
    # Connections still handshaking, in all (beyond it new ones are closed at once) ...
    max_handshakes: int = setting("MAX_HANDSHAKES", _HANDSHAKE.max_pending, whole(1))
    # ... and per source IP.
    max_handshakes_per_source: int = setting(
        "MAX_HANDSHAKES_PER_SOURCE", _HANDSHAKE.max_pending_per_source, whole(1)
    )
    # Failed handshakes per second per source IP, sustained, and at once; beyond them: 429 with Retry-After.
    handshake_failure_rate: float = setting("HANDSHAKE_FAILURE_RATE", _HANDSHAKE.failure_rate, number(0))
    handshake_failure_burst: int = setting("HANDSHAKE_FAILURE_BURST", _HANDSHAKE.failure_burst, whole(1))
    # How often the gateway checks that Kafka answers, with no traffic too.
    kafka_probe_s: float = setting("KAFKA_PROBE_S", 2.0, seconds(0, strict=True))
    # The patient pseudonym key (app/infra/pseudonyms.py reads it) or a file holding it.
    pseudonym_key: str = setting("PSEUDONYM_KEY", "", HEX_KEY, secret=True)
    pseudonym_key_file: str = setting("PSEUDONYM_KEY_FILE", "", FILE)
    # Where the device registry and the patient directory live: "file" ($VIGIL_HOME/devices.json,
    # one host or a shared volume) or "kafka" (vigil.devices and vigil.patients: no shared disk).
    registry: str = setting("REGISTRY", "file", choice("file", "kafka"))
    log_format: str = setting("LOG_FORMAT", "auto", choice(*LOG_FORMATS))
    log_level: str = setting("LOG_LEVEL", "info", choice(*LOG_LEVELS))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings the environment gives; `SettingsError` lists every bad one."""
        values, problems = _read(os.environ if environ is None else environ)
        if problems:
            raise SettingsError(problems)
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def detector_config(self) -> Config:
        """The detection core's `app.core.patient.Config` for these settings:
        the worker's, and that of anything replaying `vigil.readings` offline
        to check the worker (load-tests/faults.py)."""
        return Config(
            confirm_ms=int(self.confirm_s * 1000),
            resolve_after_ms=int(self.resolve_after_s * 1000),
            renotify_ms=int(self.renotify_s * 1000),
            renotify_max_ms=int(self.renotify_max_s * 1000),
            trend_horizon_ms=int(self.trend_horizon_s * 1000),
            trend_z=self.trend_z,
            trend_z_wander=self.trend_z_wander,
            no_signal_ms=int(self.no_signal_s * 1000),
            excursion_ms=int(self.excursion_s * 1000),
            news2_sustain_ms=int(self.news2_sustain_s * 1000),
            drift_together=self.drift_together,
            drift_together_ms=int(self.drift_together_s * 1000),
            drift_wander=self.drift_wander,
        )

    @property
    def bootstrap(self) -> str:
        """Where Kafka is: the configured cluster, or the local broker."""
        return self.kafka_bootstrap or f"127.0.0.1:{self.local_kafka_port}"

    @property
    def kafka_password(self) -> str:
        """The SASL password: VIGIL_KAFKA_SASL_PASSWORD, or the first line of its file."""
        if self.kafka_sasl_password or not self.kafka_sasl_password_file:
            return self.kafka_sasl_password
        lines = Path(self.kafka_sasl_password_file).read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""

    @property
    def uses_local_kafka(self) -> bool:
        return not self.kafka_bootstrap

    @property
    def registry_path(self) -> Path:
        return self.home / "devices.json"

    @property
    def worker_dir(self) -> Path:
        """The worker's own folder: VIGIL_WORKER_DATA, or $VIGIL_HOME/worker."""
        return Path(self.worker_data).expanduser() if self.worker_data else self.home / "worker"

    @property
    def debug(self) -> bool:
        return self.log_level == "debug"


def specs() -> list[tuple[str, Spec]]:
    """(field name, spec) of every setting, in declaration order."""
    return [(f.name, f.metadata["vigil"]) for f in fields(Settings)]


def variables() -> set[str]:
    return {spec.var for _, spec in specs()}


# Readers for which the empty text is a value of its own (it switches something
# off); for the others an empty variable means the default.
_EMPTY_OK = {BOOTSTRAP[0], FILE[0], HEX_KEY[0]}


def _read(environ: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, spec in specs():
        raw = environ.get(spec.var)
        if raw is None or (raw == "" and spec.read not in _EMPTY_OK):
            continue  # unset (or empty where empty means nothing): the default
        try:
            values[name] = spec.read(raw)
        except ValueError:
            shown = "" if spec.secret else f", not {raw!r}"
            problems.append(f"{spec.var} must be {spec.accepts}{shown}")
    if not problems:
        problems += kafka_security_problems(replace(Settings(), **values))
    return values, problems


def kafka_security_problems(s: Settings) -> list[str]:
    """What is missing or contradictory in the Kafka security settings, one line each."""
    protocol = s.kafka_security_protocol
    when = f"when VIGIL_KAFKA_SECURITY_PROTOCOL is {protocol}"
    problems = []
    if protocol != "PLAINTEXT" and s.uses_local_kafka:
        problems.append(
            f"VIGIL_KAFKA_SECURITY_PROTOCOL={protocol} needs VIGIL_KAFKA_BOOTSTRAP "
            "(the embedded local broker is plaintext)"
        )
    if protocol.startswith("SASL_"):
        if not s.kafka_sasl_username:
            problems.append(f"VIGIL_KAFKA_SASL_USERNAME must be set {when}")
        if not (s.kafka_sasl_password or s.kafka_sasl_password_file):
            problems.append(
                f"VIGIL_KAFKA_SASL_PASSWORD (or VIGIL_KAFKA_SASL_PASSWORD_FILE) must be set {when}"
            )
        elif s.kafka_sasl_password and s.kafka_sasl_password_file:
            problems.append(
                "VIGIL_KAFKA_SASL_PASSWORD_FILE must be empty when VIGIL_KAFKA_SASL_PASSWORD is set"
            )
    if bool(s.kafka_cert) != bool(s.kafka_key):
        given, missing = ("CERT", "KEY") if s.kafka_cert else ("KEY", "CERT")
        problems.append(
            f"VIGIL_KAFKA_{missing} must be set with VIGIL_KAFKA_{given} (a client certificate needs its key)"
        )
    tls_only = [v for v in ("CA", "CERT") if getattr(s, "kafka_" + v.lower())]
    if tls_only and not protocol.endswith("SSL"):
        problems.append(
            f"VIGIL_KAFKA_{tls_only[0]} is set, but {protocol} does not use TLS: use SSL or SASL_SSL"
        )
    return problems


@dataclass(frozen=True)
class Row:
    var: str
    value: str
    source: str  # "default" or "environment"
    problem: str = ""


def inspect(environ: Mapping[str, str] | None = None) -> tuple[list[Row], list[str]]:
    """Every setting's effective value (secrets masked) and where it came
    from, plus the VIGIL_* variables that are not settings (typos)."""
    env = os.environ if environ is None else environ
    values, problems = _read(env)
    defaults = Settings()
    rows = []
    for name, spec in specs():
        from_env = spec.var in env and (name in values or env[spec.var] != "")
        value = values.get(name, getattr(defaults, name))
        problem = next((p for p in problems if p.startswith(spec.var + " ")), "")
        shown = _show(value)
        if spec.secret:
            # Masked whether valid or not: a secret with a typo is still almost all of the secret.
            shown = MASK if shown or env.get(spec.var) else ""
        elif problem and spec.var in env:
            shown = env[spec.var]
        rows.append(Row(spec.var, shown, "environment" if from_env else "default", problem))
    return rows, unknown_variables(env)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    return sorted(k for k in env if k.startswith(PREFIX) and k not in variables())
