"""The gateway's connection, without a socket: a peer that does not read
what it is sent is not read either, and nothing it sent is lost meanwhile."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection
from websockets.server import ServerProtocol

from app.gateway import connection
from app.gateway.connection import READ_SLICE, GuardedConnection


class Transport:
    """What GuardedConnection asks of an asyncio transport."""

    def __init__(self) -> None:
        self.reading = True
        self.aborted = False

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return False

    def abort(self) -> None:
        self.aborted = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("10.0.0.1", 40000) if name == "peername" else default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass


class Server:
    """What ServerConnection asks of the server: a handler task to start."""

    def __init__(self) -> None:
        self.handler_tasks: set[asyncio.Task[None]] = set()

    async def handler(self, connection: ServerConnection) -> None:
        pass


class Guard:
    def open(self, source: str) -> bool:
        return True

    def close(self, source: str) -> None:
        pass


@pytest.fixture
def fed(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """What the connection hands to websockets' parser, in order."""
    handed: list[bytes] = []
    monkeypatch.setattr(ServerConnection, "data_received", lambda self, data: handed.append(bytes(data)))
    return handed


async def test_a_peer_that_does_not_read_is_not_read_and_loses_nothing(fed: list[bytes]) -> None:
    """A client flooding pings without reading its socket grew the gateway to
    1.5 GB in 28 s: each ping's pong waited in the send buffer, and its pings
    went on being read. Once the send buffer is over the write limit
    (asyncio's `pause_writing`), reading stops; what came meanwhile is kept,
    in order, and handed on once the peer reads again."""
    guarded = type("Guarded", (GuardedConnection,), {"guard": Guard()})
    connection = guarded(ServerProtocol(), Server())
    transport = Transport()
    connection.connection_made(transport)  # type: ignore[arg-type]

    connection.data_received(b"a" * 100)
    assert fed == [b"a" * 100]

    connection.pause_writing()
    assert not transport.reading
    connection.data_received(b"b" * 100)
    connection.data_received(b"c" * (READ_SLICE + 10))  # one more read before the pause took
    assert fed == [b"a" * 100] and not transport.reading

    connection.resume_writing()
    for _ in range(5):
        await asyncio.sleep(0)
    assert b"".join(fed) == b"a" * 100 + b"b" * 100 + b"c" * (READ_SLICE + 10)
    assert all(len(piece) <= READ_SLICE for piece in fed)
    assert transport.reading


async def test_a_peer_that_reads_nothing_for_a_minute_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its keep-alive ping waits behind the unread data, so websockets' own
    timeout never starts: an outside tester's device that never read kept
    its connection open for as long as it liked. One that reads again in
    time is kept."""
    monkeypatch.setattr(connection, "WRITE_STALL_S", 0.05)
    guarded = type("Guarded", (GuardedConnection,), {"guard": Guard()})
    for reads_again, dropped in ((True, False), (False, True)):
        peer, transport = guarded(ServerProtocol(), Server()), Transport()
        peer.connection_made(transport)  # type: ignore[arg-type]
        peer.pause_writing()
        if reads_again:
            peer.resume_writing()
        await asyncio.sleep(0.1)
        assert transport.aborted is dropped
