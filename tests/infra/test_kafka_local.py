from __future__ import annotations

import os
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
            LocalKafka(tmp_path, port=port).start()  # the controller port: chosen


def test_chosen_ports_that_are_taken_are_chosen_again(monkeypatch, tmp_path) -> None:
    """Without explicit ports the broker chooses them; one taken before the
    broker starts is replaced, and the broker then serves on the new one."""
    monkeypatch.setattr(kafka_local, "ensure_jars", lambda quiet=False, cache=None: tmp_path)
    started: list[tuple[int, int]] = []
    monkeypatch.setattr(
        LocalKafka,
        "_start_once",
        lambda self, libs, timeout: started.append((self.port, self.controller_port)),
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        # Ports the system says are free now (fixed numbers such as 40002
        # were sometimes in use on a shared CI machine, and the test ran out).
        others: list[int] = []
        while len(others) < 3:
            port = kafka_local._choose_port()
            if port != taken and port not in others:
                others.append(port)
        free = iter([taken, *others])
        monkeypatch.setattr(kafka_local, "_choose_port", lambda: next(free))
        broker = LocalKafka(tmp_path)
        assert broker.bootstrap == f"127.0.0.1:{taken}"
        broker.start()
    assert started == [(others[1], others[2])]
    assert broker.bootstrap == f"127.0.0.1:{others[1]}"


def test_an_explicit_port_the_broker_cannot_bind_is_one_port_in_use(monkeypatch, tmp_path) -> None:
    """Explicit ports are never chosen again: the port Kafka could not bind is named, with its setting."""
    monkeypatch.setattr(kafka_local, "ensure_jars", lambda quiet=False, cache=None: tmp_path)
    attempts: list[int] = []

    def bind_fails(self, libs, timeout) -> None:
        attempts.append(self.port)
        raise kafka_local._BindFailed("the local Kafka exited with code 1", 40011)

    monkeypatch.setattr(LocalKafka, "_start_once", bind_fails)
    broker = LocalKafka(tmp_path, port=40010, controller_port=40011)
    with pytest.raises(
        PortInUse, match="port 40011 on 127.0.0.1 is already in use.*LOCAL_KAFKA_CONTROLLER_PORT"
    ):
        broker.start()
    assert attempts == [40010] and (broker.port, broker.controller_port) == (40010, 40011)


def test_the_bind_failure_is_read_from_the_broker_log(tmp_path) -> None:
    broker = LocalKafka(tmp_path, port=40010, controller_port=40011)
    broker.log_path.write_text(
        "[2026-11-30 19:08:08,100] ERROR ... (kafka.server.BrokerServer)\n"
        "Caused by: org.apache.kafka.common.KafkaException: Socket server failed to bind to "
        "127.0.0.1:40010: Address already in use.\n"
    )
    assert broker._bind_failed() == 40010
    broker.log_path.write_text("[2026-11-30 19:08:08,100] ERROR Exiting Kafka due to fatal exception\n")
    assert broker._bind_failed() is None


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


def fake_maven(tmp_path, monkeypatch, body: str) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "mvn"
    fake.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do case $a in -DoutputDirectory=*) out=${a#-DoutputDirectory=};; esac; done\n' + body
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")


def test_the_first_fetch_shows_vigils_lines_and_keeps_mavens_in_a_log(monkeypatch, tmp_path, capsys) -> None:
    """A newcomer's first `vigil up` printed Maven's 70 lines of chatter
    (`[INFO] Scanning for projects...`, a line per download) among vigil's
    own. They go to a log in the cache now, without the colour codes Debian's
    Maven 3.8 writes even in batch mode to a pipe or a file (`make run > log`
    showed them, one glued to vigil's next line)."""
    fake_maven(
        tmp_path,
        monkeypatch,
        "printf '\\033[0m\\033[0m[INFO] Scanning for projects...\\n'\n"
        "printf '[INFO] Downloaded from central: \\033[1mkafka_2.13.jar\\033[m\\n'\n"
        'mkdir -p "$out" && touch "$out/kafka.jar"\n'
        "printf '\\033[0m\\033[0m'\n",
    )
    libs = kafka_local.ensure_jars(cache=tmp_path / "cache")
    err = capsys.readouterr().err
    assert (libs / "kafka.jar").exists()
    assert [line for line in err.splitlines() if not line.startswith("vigil: ")] == []
    assert "Kafka's jars are ready: 1 jars, 1 files downloaded" in err
    log = (libs.parent / "fetch.log").read_text()
    assert "\x1b" not in log
    assert "[INFO] Scanning for projects...\n" in log and "Downloaded from central: kafka_2.13.jar\n" in log


def test_a_failed_fetch_says_where_mavens_log_is(monkeypatch, tmp_path) -> None:
    fake_maven(
        tmp_path, monkeypatch, "echo '[ERROR] Could not transfer artifact: Network is unreachable'\nexit 1\n"
    )
    with pytest.raises(kafka_local.LocalKafkaError) as failed:
        kafka_local.ensure_jars(cache=tmp_path / "cache")
    message = str(failed.value)
    assert "Network is unreachable" in message and str(tmp_path / "cache") in message
    assert not (tmp_path / "cache" / f"kafka-{kafka_local.KAFKA_VERSION}" / ".complete").exists()
