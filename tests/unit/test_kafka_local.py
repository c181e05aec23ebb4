from __future__ import annotations

import socket

import pytest

from app import kafka_local
from app.kafka_local import LocalKafka, LocalKafkaError


def test_missing_java_says_what_to_install(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LocalKafkaError, match="openjdk-17-jre-headless.*VIGIL_KAFKA_BOOTSTRAP"):
        kafka_local.java()


def test_port_in_use_is_reported(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(kafka_local, "ensure_jars", lambda quiet=False: tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(LocalKafkaError, match=f"port {port} is already in use"):
            LocalKafka(tmp_path, port=port, controller_port=kafka_local.free_port()).start()
