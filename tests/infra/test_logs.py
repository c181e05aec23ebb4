from __future__ import annotations

import orjson
import pytest
import structlog

from app.infra import logs


def test_redact_removes_patient_data_and_secrets() -> None:
    event = {
        "event": "x",
        "patient": "P-1",
        "token": "vgl_abc",
        "vitals": {"hr": 1},
        "readings": 3,
        "connection": 7,
    }
    out = logs.redact(None, "info", dict(event))
    assert out["patient"] == out["token"] == out["vitals"] == out["readings"] == "[redacted]"
    assert out["connection"] == 7


@pytest.fixture
def restore_structlog():
    yield
    structlog.reset_defaults()


def test_configured_logger_writes_json_without_patient_data(capsys, restore_structlog) -> None:
    logs.configure("test", fmt="json")
    structlog.get_logger().info("hello", patient="P-123", device_count=2)
    err = capsys.readouterr().err
    assert '"component": "test"' in err and '"device_count": 2' in err
    assert "P-123" not in err


def test_a_library_repeating_itself_is_let_through_once_every_ten_seconds(
    capsys, monkeypatch, restore_structlog
) -> None:
    """During a two-minute Kafka outage each worker wrote about 6,500 lines
    of aiokafka's "Unable connect to node with id 1" (1.2 MB: an SRE's
    finding). The same library message is let through once every 10 s,
    saying how many were left out; Vigil's own lines all pass."""
    import logging

    clock = [1000.0]
    monkeypatch.setattr(logs.time, "monotonic", lambda: clock[0])
    logs.configure("worker", fmt="json")
    library, own = logging.getLogger("aiokafka.conn"), structlog.get_logger()
    for _ in range(300):
        library.error("Unable connect to node with id %s: %s", 1, "[Errno 111] Connection refused")
        own.warning("kafka unavailable")
        clock[0] += 0.02  # 50 a second, for 6 s
    clock[0] += 5
    library.error("Unable connect to node with id %s: %s", 1, "[Errno 111] Connection refused")
    library.error("another message")
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    told = [line for line in lines if "Unable connect" in line]
    assert len(told) == 2 and "and 299 more like it in the last 11 s" in told[1], told
    assert len([line for line in lines if "kafka unavailable" in line]) == 300
    assert any("another message" in line for line in lines)


def test_a_library_error_it_retries_by_itself_is_a_warning(capsys, restore_structlog) -> None:
    """Every worker starting on a fresh broker logged aiokafka's "Group
    Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError"
    at level error (found by an outsider reading the logs): an error-level
    log alert would fire at every start. A retriable error is a warning; one
    aiokafka does not retry stays an error."""
    import logging

    from aiokafka import errors

    logs.configure("worker", fmt="json")
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    coordinator.error("Group Coordinator Request failed: %s", errors.GroupCoordinatorNotAvailableError())
    logging.getLogger("aiokafka.consumer.fetcher").error(
        "Failed fetch: %s", errors.TopicAuthorizationFailedError()
    )
    lines = [orjson.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert [(line["level"], "Authorization" in line["event"]) for line in lines] == [
        ("warning", False),
        ("error", True),
    ]


def test_a_connection_aiokafka_tries_again_by_itself_is_a_warning(capsys, restore_structlog) -> None:
    """With Kafka stopped, `vigil alerts` printed aiokafka's "Unable connect
    to node with id 1: [Errno 111] Connect call failed" at level error every
    10 s (an outside SRE's finding): aiokafka tries again by itself, and the
    process says "kafka unavailable" or "has not answered" in its own words.
    A refused connection is an OSError, with no `retriable`: its message
    tells. Error stays for what aiokafka gives up on."""
    import logging

    logs.configure("alerts", fmt="json")
    refused = ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 9092)")
    client = logging.getLogger("aiokafka")  # aiokafka.client's own logger
    client.error("Unable connect to node with id %s: %s", 1, refused)
    client.error('Unable connect to "%s:%s": %s', "127.0.0.1", 9092, refused)
    client.error("Unable to update metadata from %s", [1])
    logging.getLogger("aiokafka.cluster").error("Topic %s is not authorized for this client", "vigil.alerts")
    lines = [orjson.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert [line["level"] for line in lines] == ["warning", "warning", "warning", "error"], lines
