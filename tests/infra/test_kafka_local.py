from __future__ import annotations

import socket

import pytest

from app.core.errors import PortInUse
from app.infra import kafka_local
from app.infra.kafka_local import LocalKafka, LocalKafkaError


def test_missing_java_says_what_to_install(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LocalKafkaError, match="openjdk-17-jre-headless.*VIGIL_KAFKA_BOOTSTRAP"):
        kafka_local.java()


def test_port_in_use_is_reported(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(kafka_local, "ensure_jars", lambda quiet=False, cache=None: tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port} on 127.0.0.1 is already in use.*LOCAL_KAFKA_PORT"):
            LocalKafka(tmp_path, port=port, controller_port=kafka_local.free_port()).start()


# As Kafka 3.9.1 logged them on a full tmpfs (paths and class names shortened).
LOG_DIR_FAILED = "".join(
    line + "\n"
    for line in (
        "[2026-11-30 12:44:35,454] ERROR Error while appending records to t-0 in dir /d/logs (...)",
        "java.io.IOException: No space left on device",
        "[2026-11-30 12:44:35,458] WARN [ReplicaManager broker=1] Stopping serving replicas in dir /d/logs "
        "with uuid Some(x) because the log directory has failed. (kafka.server.ReplicaManager)",
        "[2026-11-30 12:44:35,462] WARN Stopping serving logs in dir /d/logs (kafka.log.LogManager)",
    )
)


def test_failure_reads_a_log_dir_going_offline_from_the_broker_log(tmp_path) -> None:
    """Lines as Kafka 3.9.1 logged them on a full tmpfs; the process may still be alive."""
    broker = LocalKafka(tmp_path)
    broker.log_path.write_text("[2026-11-30 12:44:34,572] INFO Kafka Server started\n")
    assert broker.failure() is None
    with open(broker.log_path, "a") as log:
        log.write(LOG_DIR_FAILED[:150])  # half a line: not judged yet
        assert broker.failure() is None
        log.write(LOG_DIR_FAILED[150:])
    why = broker.failure()
    assert why is not None and "took its log directory" in why and "disk is full" in why
