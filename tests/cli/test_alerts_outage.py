"""`vigil alerts` with Kafka gone: it says so in its own words (and when
Kafka answers again), and Ctrl-C ends it as documented (exit 0), though
aiokafka's stop lets out a CancelledError of its own (an outside SRE's
finding: "unexpected error (CancelledError)", exit 1). No broker needed:
the consumer and the probes are stand-ins."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time

import pytest
import structlog
from aiokafka import TopicPartition

from app.cli import alert_view, main
from app.infra import preflight
from app.infra.settings import Settings


class ConsumerOfAGoneKafka:
    """What aiokafka's consumer does with the broker gone: nothing comes,
    and `stop()` raises the CancelledError of the retry it cancelled
    (fetcher.close). It sends the Ctrl-C itself, `ctrl_c_after` s in."""

    ctrl_c_after = 1.0

    def __init__(self, *_args: object, **_kwargs: object) -> None:
        self.started = time.monotonic()
        self.stopped = False

    async def start(self) -> None:
        pass

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition("vigil.alerts", 0)}

    async def position(self, _tp: TopicPartition) -> int:
        return 0

    async def getmany(self, timeout_ms: int = 0) -> dict[TopicPartition, list[object]]:
        await asyncio.sleep(timeout_ms / 1000)
        # What aiokafka's fetcher and client log meanwhile.
        logging.getLogger("aiokafka.consumer.fetcher").warning(
            "Failed fetch messages from %s: %s",
            1,
            "KafkaConnectionError: Connection at 127.0.0.1:9092 closed",
        )
        logging.getLogger("aiokafka").error("Unable connect to node with id %s: %s", 1, "[Errno 111] refused")
        if time.monotonic() - self.started > self.ctrl_c_after and not self.stopped:
            self.stopped = True
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, as the loop's handler gets it
        return {}

    async def stop(self) -> None:
        await asyncio.sleep(0)
        raise asyncio.CancelledError


@pytest.fixture(autouse=True)
def _logging_put_back():
    """`vigil alerts` configures logging to the stderr of its test, which
    pytest closes after it: a later test whose code logs (with logging's
    configuration stubbed out) printed "--- Logging error ---" into its own
    one-line stderr. The root logger is put back as it was."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def kafka_gone(monkeypatch, tmp_path):
    """`vigil alerts` past its start-up checks, on a Kafka that stops
    answering at once and answers again after `back_after` s (None: never)."""
    monkeypatch.setenv("VIGIL_HOME", str(tmp_path))
    monkeypatch.setenv("VIGIL_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    monkeypatch.setattr(preflight, "WATCH_EVERY_S", 0.05, raising=False)
    monkeypatch.setattr(preflight, "KAFKA_SILENT_S", 0.2, raising=False)
    monkeypatch.setattr(alert_view, "AIOKafkaConsumer", ConsumerOfAGoneKafka)
    started = time.monotonic()
    back_after: list[float | None] = [None]

    async def kafka(_settings, within: float = 5.0) -> None:
        pass

    async def topic_exists(_settings, _topic, timeout: float = 5.0) -> bool:
        return True

    async def answers(_settings, timeout: float = 5.0) -> bool:
        return back_after[0] is not None and time.monotonic() - started > back_after[0]

    monkeypatch.setattr(preflight, "kafka", kafka)
    monkeypatch.setattr(preflight, "topic_exists", topic_exists)
    monkeypatch.setattr(preflight, "answers", answers)
    yield back_after
    structlog.reset_defaults()


def test_ctrl_c_with_kafka_gone_exits_0_after_saying_kafka_is_unavailable(kafka_gone, capsys) -> None:
    code = main.main(["alerts"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "unexpected error" not in err and "CancelledError" not in err, err
    assert (
        "vigil alerts: Kafka at 127.0.0.1:19092 has not answered for 0 s; "
        "alert events show once it is back (Ctrl-C to stop)"
    ) in err, err
    assert "answers again" not in err


def test_alerts_says_when_kafka_answers_again(kafka_gone, capsys) -> None:
    kafka_gone[0] = 0.5
    code = main.main(["alerts"])
    lines = [line for line in capsys.readouterr().err.splitlines() if ": Kafka at" in line]
    assert code == 0
    assert len(lines) == 2, lines
    assert lines[0].startswith("vigil alerts: Kafka at 127.0.0.1:19092 has not answered for "), lines
    assert lines[1] == "vigil alerts: Kafka at 127.0.0.1:19092 answers again", lines


def test_aiokafkas_lines_about_the_outage_stay_off_the_terminal(kafka_gone, capsys) -> None:
    """Its own "has not answered" line, not aiokafka's JSON warnings beside it
    (a newcomer saw about 3 every 10 s); and the logger is put back after."""
    code = main.main(["alerts"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "has not answered" in err, err
    assert "Failed fetch messages" not in err and "Unable connect" not in err, err
    assert logging.getLogger("aiokafka").propagate


def test_aiokafkas_lines_show_at_debug_level(kafka_gone, capsys, monkeypatch) -> None:
    monkeypatch.setenv("VIGIL_LOG_LEVEL", "debug")
    code = main.main(["alerts"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Failed fetch messages" in err, err


def test_a_cancellation_of_the_task_itself_still_goes_through(monkeypatch) -> None:
    """Only aiokafka's own cancelled retry is swallowed: a tail cancelled
    from outside (`vigil up` stopping) is still cancelled."""
    monkeypatch.setattr(alert_view, "AIOKafkaConsumer", ConsumerOfAGoneKafka)
    monkeypatch.setattr(ConsumerOfAGoneKafka, "ctrl_c_after", 3600.0)

    async def run() -> bool:
        stop = asyncio.Event()
        task = asyncio.ensure_future(alert_view.tail(Settings(), lambda _e: None, stop))
        await asyncio.sleep(0.3)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return True
        return False

    assert asyncio.run(run())
