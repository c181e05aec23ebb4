"""The gateway's websocket connection: asks the handshake guard before it
reads a byte, feeds websockets' frame parser in slices, stops reading a
peer that does not read what it is sent, and budgets a peer's pings."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ProtocolError
from websockets.frames import CloseCode, Frame, Opcode

from app.core import proxy_header
from app.core.handshake import HandshakeGuard
from app.infra import metrics

READ_SLICE = 16 * 1024  # bytes handed to websockets' frame parser at once
# Pings a connection may send: a burst of PING_BURST, then PING_RATE a second.
# A keep-alive pings every few seconds at most; beyond that the connection is
# closed with 1008 (docs/protocol.md, close codes).
PING_BURST = 20
PING_RATE = 1.0
# A peer that reads nothing of what waits for it this long is closed: its keep-alive
# ping waits behind the unread data, so websockets' own timeout never starts.
WRITE_STALL_S = 60.0


class GuardedConnection(ServerConnection):
    """A server connection that asks the handshake guard before it reads a
    byte (over the caps on connections still handshaking, it is closed at
    once), and that hands what it reads to websockets' frame parser in slices.

    The event loop reads up to 256 KiB at a time; full of 11-byte frames that
    is some 23,000 frames, which websockets parses in one go (about 70 ms
    here) before the device's budget can refuse any of them: every other
    device waits meanwhile. In slices of 16 KiB, with the loop free between
    them and reading paused until the last, one read holds the loop for a few
    milliseconds at most.

    Reading also stops while the socket's send buffer is over websockets'
    write limit (asyncio's `pause_writing`): a peer that does not read what
    it is sent (acks, or the pongs websockets answers each ping with) is not
    read either, so what waits for it stays within one read, and one that
    reads nothing for `WRITE_STALL_S` is closed (its keep-alive ping waits
    behind the unread data: websockets' timeout never started). A ping flood
    from a client that never read its socket grew the gateway to 1.5 GB in
    28 s, and every other device's acks waited (an outside tester). Pings
    beyond `PING_BURST` and `PING_RATE` close the connection with 1008: each
    costs a pong, and pings do not count against the device's budget of
    frames (websockets answers them before Vigil sees them)."""

    guard: HandshakeGuard  # set on the subclass each gateway makes
    # A PROXY protocol header comes first (`VIGIL_GATEWAY_PROXY_PROTOCOL`): the
    # source address is the client's it names, not the proxy's (`_read_header`).
    proxy_protocol: bool = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pings, self._pinged_at = float(PING_BURST), time.monotonic()
        self._writes_paused = False
        answer = self.protocol.recv_frame  # websockets answers a ping there, with a pong

        def recv_frame(frame: Frame) -> None:
            if frame.opcode is Opcode.PING and not self._ping_allowed():
                self.protocol.fail(CloseCode.POLICY_VIOLATION, "too many pings")
                raise ProtocolError("too many pings")  # ends websockets' parsing of this connection
            answer(frame)

        # No hook in websockets for it: the instance's own method, wrapped.
        setattr(self.protocol, "recv_frame", recv_frame)  # noqa: B010

    def _ping_allowed(self) -> bool:
        now = time.monotonic()
        self._pings = min(float(PING_BURST), self._pings + (now - self._pinged_at) * PING_RATE)
        self._pinged_at = now
        if self._pings < 1.0:
            metrics.PINGS_REFUSED.inc()
            return False
        self._pings -= 1.0
        metrics.PINGS.inc()
        return True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._backlog: bytearray | None = None
        peer = transport.get_extra_info("peername")
        self.source = str(peer[0]) if peer else "unknown"
        self._header: bytearray | None = bytearray() if self.proxy_protocol else None
        self.handshaking = False
        if self._header is None:
            self._guard_open()

    def _guard_open(self) -> None:
        self.handshaking = self.guard.open(self.source)
        if not self.handshaking:
            metrics.HANDSHAKES.labels("capped").inc()
            self.transport.abort()

    def _read_header(self, header: bytearray, data: bytes) -> bytes | None:
        """The bytes after the PROXY protocol header, once it is whole (its
        client address then the source); None while it is not. A connection
        that does not begin with one did not come through the proxy: closed."""
        header += data
        try:
            found = proxy_header.parse(bytes(header))
        except proxy_header.ProxyHeaderError:
            metrics.HANDSHAKES.labels("no_proxy_header").inc()
            self._header = None
            self.transport.abort()
            return None
        if found is None:
            return None
        client, length = found
        self._header = None
        self.source = client or self.source  # none named: the proxy's own connection
        self._guard_open()
        return bytes(header[length:]) if self.handshaking else None

    def pause_writing(self) -> None:
        super().pause_writing()
        self._writes_paused = True
        self.transport.pause_reading()
        self._stall = self.loop.call_later(WRITE_STALL_S, self._stalled)

    def _stalled(self) -> None:
        """Nothing of what waits for the peer was read for `WRITE_STALL_S`."""
        metrics.WRITE_STALLS.inc()
        self.transport.abort()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._writes_paused = False
        self._stall.cancel()
        if self._backlog is not None:
            self.loop.call_soon(self._feed)
        else:
            self._resume_reading()

    def data_received(self, data: bytes) -> None:
        if self._header is not None:
            rest = self._read_header(self._header, data)
            if not rest:
                return
            data = rest
        if self._backlog is not None or self._writes_paused:
            # Still slicing an earlier read (keep the order), or the peer is not
            # reading what it is sent: kept, and no more read until it does.
            if self._backlog is None:
                self._backlog = bytearray()
            self._backlog += data
            if self._writes_paused:
                self.transport.pause_reading()
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
        if self._writes_paused:
            return  # `resume_writing` feeds the rest
        if backlog:
            piece = bytes(backlog[:READ_SLICE])
            del backlog[:READ_SLICE]
            super().data_received(piece)
        if backlog and self._backlog is not None:
            self.loop.call_soon(self._feed)
            return
        self._backlog = None
        self._resume_reading()

    def _resume_reading(self) -> None:
        assembler = getattr(self, "recv_messages", None)
        # websockets itself may want reading paused (its queue of messages is full).
        if not self._writes_paused and (assembler is None or not assembler.paused):
            self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._backlog = None
        if self._writes_paused:
            self._stall.cancel()
        self.handshake_answered()
        super().connection_lost(exc)

    def handshake_answered(self) -> None:
        if self.handshaking:
            self.handshaking = False
            self.guard.close(self.source)
