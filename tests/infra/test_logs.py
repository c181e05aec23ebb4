from __future__ import annotations

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
