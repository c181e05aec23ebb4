"""`vigil status` at the moments a newcomer asks it: seconds after `vigil up`
started Kafka (its group coordinator still loading), and with its figures in
--json (counts as whole numbers). The stack itself is in
tests/integration/test_status.py; here Kafka's answers are set, as a broker
gives them while it starts."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka.errors import GroupCoordinatorNotAvailableError, KafkaConnectionError

from app.cli import lag, status, up
from app.cli.main import cmd_status, explain
from app.core.errors import KafkaUnreachable
from app.infra import preflight
from app.infra.settings import Settings


def _settings(tmp_path: Path) -> Settings:
    # Ports nothing listens on: the gateway and worker are down.
    return Settings.from_env().with_(home=tmp_path, worker_web_port=1, gateway_http_port=2)


def _kafka_answers(monkeypatch: pytest.MonkeyPatch, read: object) -> None:
    async def answers(*_: object, **__: object) -> bool:
        return True

    monkeypatch.setattr(preflight, "kafka", answers)
    monkeypatch.setattr(preflight, "topic_exists", answers)
    monkeypatch.setattr(lag, "read", read)


def test_kafka_still_loading_its_group_offsets_is_up_and_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seconds after `vigil up` started its broker, the worker group's
    offsets are not there to read (Error 15). It said `Kafka ... failed
    ... start it with vigil up`, exit 3, while Kafka was up and starting."""

    async def loading(_: Settings) -> list[lag.PartitionLag]:
        raise GroupCoordinatorNotAvailableError("Unable to get coordinator id for vigil-worker")

    _kafka_answers(monkeypatch, loading)
    kafka = asyncio.run(status.check(_settings(tmp_path)))[0]
    assert (kafka.state, kafka.ok) == ("up", True)
    assert "starting" in kafka.detail and "vigil up" not in kafka.detail
    code, said = explain(
        GroupCoordinatorNotAvailableError("Unable to get coordinator id"), _settings(tmp_path)
    )
    assert code == 1 and "still starting" in said and "ask again" in said  # `vigil lag`'s line


def test_no_offset_committed_anywhere_says_so_instead_of_a_backlog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole topic read as backlog for a second after a start (4506
    records "not yet committed", then 133): with no offset committed on
    any partition, the line says that, not that the worker fell behind."""

    async def none_committed(_: Settings) -> list[lag.PartitionLag]:
        return [lag.PartitionLag(p, 1000 + p, None) for p in range(4)]

    _kafka_answers(monkeypatch, none_committed)
    kafka = asyncio.run(status.check(_settings(tmp_path)))[0]
    assert "none committed by the worker group" in kafka.detail and "not yet committed" not in kafka.detail
    assert kafka.figures == {"partitions": 4, "lag": 4006}

    async def behind(_: Settings) -> list[lag.PartitionLag]:
        return [lag.PartitionLag(p, 1000, 990 if p else None) for p in range(4)]

    _kafka_answers(monkeypatch, behind)
    kafka = asyncio.run(status.check(_settings(tmp_path)))[0]
    assert "1030 records not yet committed by the worker group" in kafka.detail


def test_a_kafka_that_does_not_answer_is_still_down(tmp_path: Path) -> None:
    code, said = explain(KafkaConnectionError("no broker"), _settings(tmp_path))
    assert code == 3 and "cannot reach Kafka" in said


def test_json_counts_are_whole_numbers() -> None:
    """`devices_connected: 20.0` read as a measurement, not a count."""
    part = status.Part("gateway", "ready", "http://x")
    part.figures = {"devices_connected": status._count(20.0), "readings_accepted": status._count(None)}
    assert status.as_json([part])["gateway"]["devices_connected"] == 20
    assert isinstance(status.as_json([part])["gateway"]["devices_connected"], int)


def test_a_metric_that_is_not_a_number_is_shown_as_it_is() -> None:
    assert status._count(float("nan")) != status._count(float("nan"))  # NaN, not a crash
    assert status._count(float("inf")) == float("inf")


def _kafka_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    async def silent(settings: Settings) -> None:
        raise KafkaUnreachable(f"cannot reach Kafka at {settings.bootstrap}: [Errno 111] Connect call failed")

    monkeypatch.setattr(preflight, "kafka", silent)


def test_what_a_starting_vigil_up_has_not_brought_up_yet_is_starting_not_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`vigil status` while `vigil up` was still starting said `kafka down
    ... start it with vigil up`, exit 3 (a newcomer's report). `vigil up`
    says in VIGIL_HOME that it is starting: what does not answer yet is
    `starting`, exit 1."""
    _kafka_silent(monkeypatch)
    (tmp_path / "up.state").write_text(json.dumps({"pid": os.getpid(), "state": "starting"}))
    parts = asyncio.run(status.check(_settings(tmp_path)))
    assert [(p.name, p.state) for p in parts] == [
        ("kafka", "starting"),
        ("gateway", "starting"),
        ("worker", "starting"),
    ]
    for part in parts:
        assert f"`vigil up` (pid {os.getpid()}) is starting" in part.detail and "start it" not in part.detail
    assert cmd_status(argparse.Namespace(json=True), _settings(tmp_path)) == 1
    assert json.loads(capsys.readouterr().out)["kafka"]["state"] == "starting"


def test_a_vigil_up_that_is_gone_or_up_leaves_down_as_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A state file left by a `vigil up` killed with SIGKILL (its pid gone),
    or one that is up (its children then answer, or are down): down."""
    _kafka_silent(monkeypatch)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    for pid, state in ((int(gone.stdout), "starting"), (os.getpid(), "up")):
        (tmp_path / "up.state").write_text(json.dumps({"pid": pid, "state": state}))
        parts = asyncio.run(status.check(_settings(tmp_path)))
        assert [p.state for p in parts] == ["down", "down", "down"]
        assert "start it with `vigil up`" in parts[1].detail
    assert cmd_status(argparse.Namespace(json=False), _settings(tmp_path)) == 3


def test_vigil_up_says_in_its_home_what_it_is_doing(tmp_path: Path) -> None:
    up._tell(tmp_path, "starting")
    assert up.supervisor_state(tmp_path) == (os.getpid(), "starting")
    up._tell(tmp_path, "up")
    assert up.supervisor_state(tmp_path) == (os.getpid(), "up")
    (tmp_path / "up.state").write_text("{not json")
    assert up.supervisor_state(tmp_path) is None
