"""A recording replayed twice through the gateway is stored once: replay
numbers each patient's readings from the recording itself (`replay.seqs`),
so the second run resends the seqs the first stored, with the same content,
and the gateway acknowledges them without storing them again
(docs/protocol.md, "Delivery"). Before 2026-12-06 the second run carried
on after the gateway's `last_seq` (seqs 30-59 after 0-29) and every
reading was stored twice, under new reading ids.

The gateway here is its pure session (`DeviceSession`) behind a fake
websocket, with one seq window for the device across connections, as the
gateway keeps it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.core.delivery import Budget, SeqWindow, TokenBucket
from app.core.session import DeviceSession, Send, StoreReadings
from app.infra.settings import Settings
from app.tools import replay, simulate


class FakeGateway:
    """One device's seq window, kept across connections, and every seq stored."""

    def __init__(self) -> None:
        self.window = SeqWindow()
        self.stored: list[int] = []
        self.errors: list[str] = []

    def connect(self, url: str, **_: Any) -> FakeSocket:
        return FakeSocket(self)


class FakeSocket:
    """What `DeviceClient` uses of a websockets client connection."""

    def __init__(self, gateway: FakeGateway) -> None:
        self.gateway = gateway
        bucket = TokenBucket(rate=1e6, burst=1e6)
        self.session = DeviceSession("replay-RP-1", "RP-1", "p-rp", gateway.window, Budget(bucket))
        self.inbox: asyncio.Queue[str] = asyncio.Queue()

    async def __aenter__(self) -> FakeSocket:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    async def send(self, frame: str) -> None:
        for action in self.session.receive(frame, int(time.time() * 1000)).actions:
            self._perform(action)

    def _perform(self, action: Any) -> None:
        if isinstance(action, Send):
            answer = orjson.loads(action.frame)
            if answer.get("type") == "error":
                self.gateway.errors.append(answer["code"])
            self.inbox.put_nowait(action.frame)
        elif isinstance(action, StoreReadings):
            self.gateway.stored += action.seqs
            for then in self.session.stored(action):
                self._perform(then)

    async def recv(self) -> str:
        return await self.inbox.get()

    def __aiter__(self) -> FakeSocket:
        return self

    async def __anext__(self) -> str:
        return await self.inbox.get()


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> FakeGateway:
    fake = FakeGateway()
    monkeypatch.setattr(simulate, "connect", fake.connect)

    async def clients_for(settings: Settings, devices: dict[str, str], stats: simulate.Stats) -> Any:
        return {device: simulate.DeviceClient("ws://gateway", "token", stats=stats) for device in devices}

    monkeypatch.setattr(simulate, "clients_for", clients_for)
    return fake


def _recording(tmp_path: Path, readings: int = 30, start_ms: int | None = None) -> list[replay.Row]:
    start = start_ms if start_ms is not None else int(time.time() * 1000) - 3_600_000
    lines = ["patient,ts,heart_rate"] + [f"RP-1,{start + i * 60_000},{70 + i % 5}" for i in range(readings)]
    path = tmp_path / "good.csv"
    path.write_text("\n".join(lines) + "\n")
    return replay.read_recording(path)


def _replay(rows: list[replay.Row]) -> simulate.Stats:
    return asyncio.run(replay.replay(Settings.from_env({}), rows, speed=0, settle_s=5))


def test_the_same_recording_replayed_twice_is_stored_once(tmp_path: Path, gateway: FakeGateway) -> None:
    rows = _recording(tmp_path)
    first = _replay(rows)
    assert (first.sent, first.acked, len(gateway.stored)) == (30, 30, 30)
    second = _replay(rows)
    assert (second.sent, second.acked) == (30, 30)
    assert len(gateway.stored) == 30  # the second run's readings were recognised as resends
    assert gateway.errors == []
    assert (second.already_stored, second.not_told) == (30, 0)  # and replay can say so


def test_a_later_recording_of_the_same_patient_is_stored_beside_the_first(
    tmp_path: Path, gateway: FakeGateway
) -> None:
    """Its seqs start from its own first time: they are not the first
    recording's, so nothing is refused `seq_reused` and nothing is lost."""
    now = int(time.time() * 1000)
    _replay(_recording(tmp_path, 30, now - 6 * 3_600_000))
    later = _replay(_recording(tmp_path, 20, now - 3_600_000))
    assert (later.acked, later.already_stored, len(gateway.stored), gateway.errors) == (20, 0, 50, [])
    assert len(set(gateway.stored)) == 50


def test_seqs_follow_each_patients_readings_from_the_time_of_its_first() -> None:
    rows = [
        replay.Row("A", 1_000, {"heart_rate": 70}),
        replay.Row("B", 1_500, {"heart_rate": 70}),
        replay.Row("A", 2_000, {"heart_rate": 71}),
        replay.Row("A", 2_001, {"heart_rate": 72}),
    ]
    assert replay.seqs(rows) == [1_000, 1_500, 1_001, 1_002]
    assert replay.seqs(rows, offset=86_400_000) == [86_401_000, 86_401_500, 86_401_001, 86_401_002]


def test_an_edited_recording_replayed_again_has_its_changed_reading_stored_under_a_new_seq(
    tmp_path: Path, gateway: FakeGateway
) -> None:
    """The gateway refuses other content under a stored seq (`seq_reused`);
    the client renumbers that reading above the recording's seqs and it is
    stored: nothing is lost, and the unchanged readings are not stored again."""
    rows = _recording(tmp_path, 10)
    _replay(rows)
    edited = [*rows[:4], replay.Row("RP-1", rows[4].ts_ms, {"heart_rate": 99}), *rows[5:]]
    again = _replay(edited)
    assert gateway.errors == ["seq_reused"]
    assert (again.acked, len(gateway.stored)) == (10, 11)
    assert gateway.stored[-1] == replay.seqs(rows)[-1] + 1


def test_a_recording_longer_than_the_gateways_memory_is_stored_again_beyond_it_and_told(
    tmp_path: Path, gateway: FakeGateway
) -> None:
    """The gateway remembers a device's last 1024 seqs: a patient's readings
    below them are stored again on a second run (under the same reading ids,
    which `vigil export` lists once), and replay counts them (`not_told`)."""
    rows = _recording(tmp_path, 1100, int(time.time() * 1000) - 2 * 86_400_000)
    _replay(rows)
    second = _replay(rows)
    assert (second.acked, second.already_stored, second.not_told) == (1100, 1024, 76)
    assert len(gateway.stored) == 1100 + 76
    assert set(gateway.stored) == set(replay.seqs(rows))


def test_the_command_says_what_the_gateway_had_before_and_what_it_stores_again() -> None:
    from app.cli.main import _replay_resends

    assert _replay_resends(simulate.Stats(sent=30, acked=30)) == []
    lines = _replay_resends(
        simulate.Stats(sent=30, acked=30, errors={"seq_reused": 1}, already_stored=30, not_told=1)
    )
    assert lines[0].startswith("30 readings had been stored before (this recording was replayed already)")
    assert lines[1].startswith("1 reading lay below the last 1024 seqs the gateway remembers")
    assert lines[2].startswith("seq_reused: 1 reading differed from what their patient's replay device")
