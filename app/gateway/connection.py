"""The gateway's websocket connection: asks the handshake guard before it
reads a byte, and feeds websockets' frame parser in slices."""

from __future__ import annotations

import asyncio
from typing import cast

from websockets.asyncio.server import ServerConnection

from app.core.handshake import HandshakeGuard
from app.infra import metrics

READ_SLICE = 16 * 1024  # bytes handed to websockets' frame parser at once


class GuardedConnection(ServerConnection):
    """A server connection that asks the handshake guard before it reads a
    byte (over the caps on connections still handshaking, it is closed at
    once), and that hands what it reads to websockets' frame parser in slices.

    The event loop reads up to 256 KiB at a time; full of 11-byte frames that
    is some 23,000 frames, which websockets parses in one go (about 70 ms
    here) before the device's budget can refuse any of them: every other
    device waits meanwhile. In slices of 16 KiB, with the loop free between
    them and reading paused until the last, one read holds the loop for a few
    milliseconds at most."""

    guard: HandshakeGuard  # set on the subclass each gateway makes

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._backlog: bytearray | None = None
        peer = transport.get_extra_info("peername")
        self.source = str(peer[0]) if peer else "unknown"
        self.handshaking = self.guard.open(self.source)
        if not self.handshaking:
            metrics.HANDSHAKES.labels("capped").inc()
            cast(asyncio.Transport, transport).abort()

    def data_received(self, data: bytes) -> None:
        if self._backlog is not None:  # still slicing an earlier read: keep the order
            self._backlog += data
            return
        if len(data) <= READ_SLICE:
            super().data_received(data)
            return
        self._backlog = bytearray(data)
        self.transport.pause_reading()
        self._feed()

    def _feed(self) -> None:
        backlog = self._backlog
        if backlog is None or self.transport.is_closing():
            self._backlog = None
            return
        piece = bytes(backlog[:READ_SLICE])
        del backlog[:READ_SLICE]
        super().data_received(piece)
        if backlog:
            self.loop.call_soon(self._feed)
            return
        self._backlog = None
        assembler = getattr(self, "recv_messages", None)
        if assembler is None or not assembler.paused:  # websockets itself may want reading paused
            self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._backlog = None
        self.handshake_answered()
        super().connection_lost(exc)

    def handshake_answered(self) -> None:
        if self.handshaking:
            self.handshaking = False
            self.guard.close(self.source)
