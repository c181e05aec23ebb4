"""One hostile device or client, flooding a gateway for a few seconds.

Run in a process of its own by the fault suite (faults.py), so that the
flood's own work never slows the well-behaved fleet's event loop, whose ack
latencies are what the suite measures:

    python load-tests/hostile.py KIND --url ws://127.0.0.1:8765/v1 --token vgl_... --seconds 10

KIND is one of:

- `hello`: a registered device first stores seq 1023 (so every hello answer
  lists 1,023 gaps), then sends hello frames as fast as the gateway takes them;
- `invalid`: batch frames of readings the gateway refuses (a vital of the
  wrong type), each refused reading an error frame and a `vigil.rejected`
  record today;
- `rejected`: batch frames of valid readings far over the device's rate, so
  that once its burst is spent every reading is refused `rate_limited`;
- `handshake`: a client without a valid token: handshakes with a wrong token
  as fast as the gateway answers, from a few parallel loops, while holding
  idle connections that never send a request.

The connected floods read every reply (a real attacker does, to keep the
gateway writing), reconnect when the gateway closes the connection, and stop
after `--seconds`. One JSON line on stdout says what was sent and received.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

KINDS = ("hello", "invalid", "rejected", "handshake")
BATCH = 100  # readings per batch frame of the invalid and rejected floods
HANDSHAKE_LOOPS = 20  # parallel failed-handshake loops
IDLE_SOCKETS = 200  # connections opened and left silent during the handshake flood
GAPS_1023 = {"type": "reading", "seq": 1023, "vitals": {"heart_rate": 72}}


class Tally:
    def __init__(self) -> None:
        self.frames = 0  # frames (or handshakes) sent
        self.replies = 0  # frames (or HTTP answers) received
        self.closed = 0  # connections the gateway closed or refused
        self.codes: dict[str, int] = {}  # close codes, HTTP statuses, error codes seen

    def saw(self, code: Any) -> None:
        self.codes[str(code)] = self.codes.get(str(code), 0) + 1


def _now_ms() -> int:
    return int(time.time() * 1000)


def _batch(first_seq: int, valid: bool) -> str:
    vitals = {"heart_rate": 72, "spo2": 97} if valid else {"heart_rate": "fast"}
    ts = _now_ms()
    readings = [{"seq": first_seq + i, "ts": ts, "vitals": vitals} for i in range(BATCH)]
    return orjson.dumps({"type": "batch", "readings": readings}).decode()


async def _read_all(ws: Any, tally: Tally) -> None:
    async for message in ws:
        tally.replies += 1
        if isinstance(message, str) and '"error"' in message[:20]:
            with contextlib.suppress(orjson.JSONDecodeError):
                tally.saw(orjson.loads(message).get("code"))


async def connected_flood(kind: str, url: str, token: str, until: float, tally: Tally) -> None:
    """A registered device sending `kind` frames until `until`, reconnecting
    whenever the gateway closes the connection."""
    seq = 0
    headers = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < until:
        try:
            async with connect(url, additional_headers=headers, compression=None, open_timeout=5) as ws:
                reader = asyncio.ensure_future(_read_all(ws, tally))
                try:
                    if kind == "hello":  # seq 1023 stored: every hello answer lists 1,023 gaps
                        await ws.send(orjson.dumps({**GAPS_1023, "ts": _now_ms()}).decode())
                    while time.monotonic() < until:
                        if kind == "hello":
                            frame = '{"type": "hello"}'
                        else:
                            frame = _batch(seq, valid=kind == "rejected")
                            seq += BATCH
                        # A gateway that stops reading holds the send back:
                        # give up on it at the end rather than wait.
                        await asyncio.wait_for(ws.send(frame), max(0.01, until - time.monotonic()))
                        tally.frames += 1
                        if tally.frames % 20 == 0:
                            await asyncio.sleep(0)  # let the reader drain the replies
                finally:
                    reader.cancel()
                    if time.monotonic() >= until:
                        ws.transport.abort()  # no closing handshake: an attacker just leaves
        except ConnectionClosed as exc:
            tally.closed += 1
            tally.saw(exc.rcvd.code if exc.rcvd else "closed")
        except (TimeoutError, OSError, InvalidHandshake) as exc:
            if time.monotonic() >= until:
                break  # the end came while a send was held back
            tally.closed += 1
            tally.saw(getattr(getattr(exc, "response", None), "status_code", type(exc).__name__))
            await asyncio.sleep(0.05)


async def _failed_handshakes(host: str, port: int, path: str, until: float, tally: Tally) -> None:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Authorization: Bearer vgl_not-a-valid-token\r\n\r\n"
    ).encode()
    while time.monotonic() < until:
        writer = None
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
            writer.write(request)
            tally.frames += 1
            status = await asyncio.wait_for(reader.readline(), 5)
            tally.replies += 1
            parts = status.split()
            tally.saw(parts[1].decode() if len(parts) > 1 else "none")
        except (TimeoutError, OSError):
            tally.closed += 1
            await asyncio.sleep(0.05)
        finally:
            if writer is not None:
                writer.close()


async def handshake_flood(url: str, until: float, tally: Tally) -> None:
    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"
    idle = []
    for _ in range(IDLE_SOCKETS):  # connections that never send a request
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            idle.append(await asyncio.wait_for(asyncio.open_connection(host, port), 2))
    try:
        await asyncio.gather(
            *(_failed_handshakes(host, port, path, until, tally) for _ in range(HANDSHAKE_LOOPS))
        )
    finally:
        for _, writer in idle:
            writer.close()


async def flood(kind: str, url: str, token: str, seconds: float) -> dict[str, Any]:
    tally = Tally()
    started = time.monotonic()
    until = started + seconds
    if kind == "handshake":
        await handshake_flood(url, until, tally)
    else:
        await connected_flood(kind, url, token, until, tally)
    elapsed = time.monotonic() - started
    return {
        "kind": kind,
        "seconds": round(elapsed, 2),
        "sent": tally.frames,
        "sent_per_s": round(tally.frames / elapsed, 1) if elapsed else 0.0,
        "received": tally.replies,
        "closed": tally.closed,
        "codes": dict(sorted(tally.codes.items())),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument(
        "--url", required=True, help="the gateway's websocket URL, e.g. ws://127.0.0.1:8765/v1"
    )
    parser.add_argument("--token", default="", help="the hostile device's token (not needed for handshake)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--nice", type=int, default=0, help="lower this process's CPU priority by N")
    args = parser.parse_args(argv)
    if args.nice:
        os.nice(args.nice)
    if args.kind != "handshake" and not args.token:
        parser.error(f"{args.kind} needs --token")
    result = asyncio.run(flood(args.kind, args.url, args.token, args.seconds))
    print(orjson.dumps(result).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
