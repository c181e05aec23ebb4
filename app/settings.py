"""Settings, read from the environment (VIGIL_*) once at start-up.

Every setting has a default that runs the embedded local set-up; docs/configuration.md
lists them all. Topic names are public contracts and are not configurable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.core.patient import Config

READINGS_TOPIC = "vigil.readings"
REJECTED_TOPIC = "vigil.rejected"
ALERTS_TOPIC = "vigil.alerts"
# Compacted: per device, the window of `seq`s already stored (app/core/delivery.py).
DEVICE_SEQS_TOPIC = "vigil.device-seqs"


def _env(name: str, default: str) -> str:
    return os.environ.get(f"VIGIL_{name}", default)


def _int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"VIGIL_{name} must be a whole number, not {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=lambda: Path.home() / ".vigil")
    # Bootstrap servers of an existing Kafka cluster. Empty: Vigil runs its own
    # local broker on `local_kafka_port`.
    kafka_bootstrap: str = ""
    local_kafka_port: int = 9092
    local_kafka_controller_port: int = 9093
    partitions: int = 4
    replication_factor: int = 1
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8765
    gateway_http_port: int = 8766
    worker_id: str = "vigil-worker"  # Faust app id: consumer group and changelog topic prefix
    worker_web_host: str = "127.0.0.1"
    worker_web_port: int = 6066
    # How long Kafka waits for a silent worker before handing its partitions
    # to another: the pause after a crash. Faust's default is 60 s.
    worker_session_timeout_s: float = 10.0
    worker_store: str = "rocksdb://"  # Faust table store: rocksdb:// (on disk) or memory://
    uvloop: bool = True  # gateway and worker on uvloop's event loop
    confirm_s: float = 15.0  # a condition must hold this long (event time) to open an alert
    resolve_after_s: float = 600.0  # ... and be gone this long to resolve it
    renotify_s: float = 3600.0  # reminder while an alert stays open; 0: never
    trend_horizon_s: float = 900.0  # how far ahead a vital's trend looks for a dangerous range
    trend_z: float = 2.5  # SDs a vital must have left its normal before its trend counts
    ack_timeout_s: float = 10.0
    max_inflight: int = 2048  # device frames awaiting Kafka's acknowledgement, per gateway
    tls_cert: str = ""  # PEM certificate chain; with tls_key, the gateway serves wss://
    tls_key: str = ""
    tls_ca: str = ""  # CA bundle that Vigil's own clients (vigil simulate) trust for wss://
    allow_plaintext: bool = False  # needed to listen without TLS on a non-loopback address
    max_connections: int = 10_000
    device_rate: float = 20.0  # readings per second per device, sustained
    device_burst: int = 1_000  # readings a device may send at once (an offline buffer)
    max_frame_bytes: int = 64 * 1024
    max_batch: int = 500
    ping_interval_s: float = 20.0
    ping_timeout_s: float = 20.0
    compression: str = ""  # "" (off) or "deflate"
    credential_check_s: float = 1.0  # how often open connections are re-checked against the registry
    log_format: str = "auto"  # auto | json | console
    log_level: str = "info"

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            home=Path(_env("HOME", str(Path.home() / ".vigil"))).expanduser(),
            kafka_bootstrap=_env("KAFKA_BOOTSTRAP", ""),
            local_kafka_port=_int("LOCAL_KAFKA_PORT", 9092),
            local_kafka_controller_port=_int("LOCAL_KAFKA_CONTROLLER_PORT", 9093),
            partitions=_int("PARTITIONS", 4),
            replication_factor=_int("REPLICATION_FACTOR", 1),
            gateway_host=_env("GATEWAY_HOST", "127.0.0.1"),
            gateway_port=_int("GATEWAY_PORT", 8765),
            gateway_http_port=_int("GATEWAY_HTTP_PORT", 8766),
            worker_id=_env("WORKER_ID", "vigil-worker"),
            worker_web_host=_env("WORKER_WEB_HOST", "127.0.0.1"),
            worker_web_port=_int("WORKER_WEB_PORT", 6066),
            worker_session_timeout_s=float(_env("WORKER_SESSION_TIMEOUT_S", "10")),
            worker_store=_env("WORKER_STORE", "rocksdb://"),
            uvloop=_env("UVLOOP", "1") not in ("0", "false", "no"),
            confirm_s=float(_env("CONFIRM_S", "15")),
            resolve_after_s=float(_env("RESOLVE_AFTER_S", "600")),
            renotify_s=float(_env("RENOTIFY_S", "3600")),
            trend_horizon_s=float(_env("TREND_HORIZON_S", "900")),
            trend_z=float(_env("TREND_Z", "2.5")),
            ack_timeout_s=float(_env("ACK_TIMEOUT_S", "10")),
            max_inflight=_int("MAX_INFLIGHT", 2048),
            tls_cert=_env("TLS_CERT", ""),
            tls_key=_env("TLS_KEY", ""),
            tls_ca=_env("TLS_CA", ""),
            allow_plaintext=_env("GATEWAY_ALLOW_PLAINTEXT", "") in ("1", "true", "yes"),
            max_connections=_int("MAX_CONNECTIONS", 10_000),
            device_rate=float(_env("DEVICE_RATE", "20")),
            device_burst=_int("DEVICE_BURST", 1_000),
            max_frame_bytes=_int("MAX_FRAME_BYTES", 64 * 1024),
            max_batch=_int("MAX_BATCH", 500),
            ping_interval_s=float(_env("PING_INTERVAL_S", "20")),
            ping_timeout_s=float(_env("PING_TIMEOUT_S", "20")),
            compression=_env("GATEWAY_COMPRESSION", ""),
            credential_check_s=float(_env("CREDENTIAL_CHECK_S", "1")),
            log_format=_env("LOG_FORMAT", "auto"),
            log_level=_env("LOG_LEVEL", "info"),
        )

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)

    def detector_config(self) -> Config:
        """The detection core's `app.core.patient.Config` for these settings:
        the worker's, and that of anything replaying `vigil.readings` offline
        to check the worker (load-tests/faults.py)."""
        from app.core.patient import Config  # the core (River) only where it is used

        return Config(
            confirm_ms=int(self.confirm_s * 1000),
            resolve_after_ms=int(self.resolve_after_s * 1000),
            renotify_ms=int(self.renotify_s * 1000),
            trend_horizon_ms=int(self.trend_horizon_s * 1000),
            trend_z=self.trend_z,
        )

    @property
    def bootstrap(self) -> str:
        """Where Kafka is: the configured cluster, or the local broker."""
        return self.kafka_bootstrap or f"127.0.0.1:{self.local_kafka_port}"

    @property
    def uses_local_kafka(self) -> bool:
        return not self.kafka_bootstrap

    @property
    def registry_path(self) -> Path:
        return self.home / "devices.json"
