"""Simulated devices, and the reference device client they are built on.

`DeviceClient` shows firmware authors the protocol end to end: connect with
`Authorization: Bearer <token>`, say hello and learn which seqs the gateway
already stored, send readings with increasing `seq`, keep every reading until
its ack arrives (buffering while offline), and on a lost connection reconnect
with exponential backoff and full jitter and resend only what the gateway
does not have.

`Patient` makes plausible vitals for one simulated patient: a personal
baseline, a daily rhythm, noise, and, for some, a deterioration (rising heart
and breathing rate, falling SpO2 and blood pressure, fever) from a known onset.

Simulated time runs `speed` times faster than the wall clock until it catches
up with now, then in real time, so `vigil up --simulate N` shows a patient's
decline within a minute while every timestamp stays in the past.
"""

from __future__ import annotations

import asyncio
import math
import random
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from app.infra import directory
from app.infra.settings import Settings

DAY_MS = 24 * 3600 * 1000


@dataclass
class Patient:
    rng: random.Random
    onset_ms: int | None = None  # event time at which deterioration starts
    ramp_ms: int = 15 * 60 * 1000  # time to full deterioration
    base: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        r = self.rng
        self.base = {
            "heart_rate": r.gauss(74, 7),
            "spo2": min(99.0, r.gauss(97, 0.8)),
            "respiratory_rate": r.gauss(15, 1.5),
            "systolic_bp": r.gauss(122, 8),
            "diastolic_bp": r.gauss(76, 5),
            "temperature": r.gauss(36.8, 0.2),
        }

    def vitals(self, ts_ms: int) -> dict[str, Any]:
        r = self.rng
        b = self.base
        rhythm = math.sin(2 * math.pi * (ts_ms % DAY_MS) / DAY_MS)
        p = 0.0
        if self.onset_ms is not None and ts_ms > self.onset_ms:
            p = min(1.0, (ts_ms - self.onset_ms) / self.ramp_ms)
        return {
            "heart_rate": round(b["heart_rate"] + 4 * rhythm + r.gauss(0, 2) + 50 * p),
            "spo2": round(min(100.0, b["spo2"] + r.gauss(0, 0.6) - 10 * p)),
            "respiratory_rate": round(b["respiratory_rate"] + r.gauss(0, 1) + 12 * p),
            "systolic_bp": round(b["systolic_bp"] + 3 * rhythm + r.gauss(0, 4) - 35 * p),
            "diastolic_bp": round(b["diastolic_bp"] + r.gauss(0, 3) - 20 * p),
            "temperature": round(b["temperature"] + 0.2 * rhythm + r.gauss(0, 0.1) + 1.8 * p, 1),
            "consciousness": "A" if p < 0.9 else "C",
        }


@dataclass
class Stats:
    sent: int = 0
    acked: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    reconnects: int = 0
    already_stored: int = 0  # `vigil replay`: readings the gateway said it had before the run
    not_told: int = 0  # `vigil replay`: readings below the seqs the gateway's hello spoke for


class DeviceClient:
    """Reference client: at-least-once delivery of readings over one websocket.

    What firmware must do, and this client does (docs/protocol.md):

    - send nothing before the gateway's first hello reply, and number readings
      only after it, from `last_seq + 1` on: a restarted client (or firmware
      that lost its counter) never reuses a seq the gateway already stored;
    - keep every reading until its ack (buffering while offline); after a
      reconnect say hello and resend only what the gateway lacks;
    - on `rate_limited`, stop sending for a second, then resend whatever is
      still unacknowledged;
    - on `seq_reused`, say hello and give that reading a new seq above the
      gateway's `last_seq`, then resend it: nothing is lost.

    A caller that numbers its readings itself (`send`'s `seq`: `vigil replay`,
    whose seqs come from the recording, so that a second run resends what
    the first stored) has them sent under that seq whatever the hello
    says: the gateway compares their content with what it stored under it,
    and acknowledges a resend, or refuses other content `seq_reused` (then
    renumbered as above). `first_hello` keeps the first reply, for
    `stored_before`.
    """

    PAUSE_S = 1.0  # after `rate_limited`
    RESEND_BATCH = 50  # readings per frame when resending

    def __init__(
        self, url: str, token: str, stats: Stats | None = None, ssl: Any = None, track_acks: bool = False
    ) -> None:
        self.url = url
        self.token = token
        self.stats = stats or Stats()
        self.ssl = ssl
        self.acked_seqs: set[int] | None = set() if track_acks else None
        self.next_seq = 0
        self.numbered = False  # True once a hello reply said where to start
        self.unnumbered: list[dict[str, Any]] = []  # readings waiting for a seq
        self.unacked: dict[int, dict[str, Any]] = {}  # seq -> reading, until acked
        self.pinned: set[int] = set()  # seqs the caller gave (`send`): not dropped on a hello's word
        self.first_hello: dict[str, Any] | None = None  # the first hello reply (`stored_before`)
        self._ws: Any = None
        self._connected = asyncio.Event()
        self._resume: asyncio.TimerHandle | None = None  # set while paused after rate_limited
        self._hello_pending = False
        self._sends: set[asyncio.Future[Any]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Keep a connection open until `stop`, reconnecting with backoff."""
        backoff = 0.5
        while not stop.is_set():
            try:
                async with connect(
                    self.url,
                    additional_headers={"Authorization": f"Bearer {self.token}"},
                    compression=None,
                    open_timeout=10,
                    **({"ssl": self.ssl} if self.ssl is not None else {}),
                ) as ws:
                    await self._hello(ws)
                    self._ws = ws
                    backoff = 0.5
                    await self._send_unacked(ws)  # what the gateway lacks, and what waited for a seq
                    self._connected.set()
                    await self._receive(ws, stop)
            except InvalidStatus as exc:  # refused before the websocket opened: say so in the summary
                status = f"http_{exc.response.status_code}"
                self.stats.errors[status] = self.stats.errors.get(status, 0) + 1
            except (TimeoutError, OSError, ConnectionClosed, InvalidHandshake):
                pass
            finally:
                self._connected.clear()
                self._ws = None
                self._hello_pending = False
            if stop.is_set():
                break
            self.stats.reconnects += 1
            # Exponential backoff with full jitter, capped at 30 s.
            await _sleep_or_stop(stop, random.uniform(0, backoff))
            backoff = min(30.0, backoff * 2)

    async def _hello(self, ws: Any) -> None:
        """Say hello and wait for the reply (a rate-limited hello is repeated after a pause)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        await ws.send('{"type": "hello"}')
        while True:
            frame = orjson.loads(await asyncio.wait_for(ws.recv(), max(0.01, deadline - loop.time())))
            if frame.get("type") == "hello":
                break
            refused = frame.get("type") == "error" and frame.get("code") == "rate_limited"
            if refused and frame.get("seq") is None:
                await asyncio.sleep(self.PAUSE_S)
                await ws.send('{"type": "hello"}')
                continue
            self._on_frame(frame)  # a late ack from before the hello
        self._apply_hello(frame)

    def _apply_hello(self, frame: dict[str, Any]) -> list[dict[str, Any]]:
        """Drop buffered readings the gateway says it stored (not those the
        caller numbered, `send`: their content decides); carry on after
        its `last_seq`; number the readings that were waiting for a seq (returned)."""
        if self.first_hello is None:
            self.first_hello = frame
        last, gaps = frame.get("last_seq"), set(frame.get("gaps") or ())
        if last is not None:
            lowest = frame.get("gaps_from")
            if lowest is None:
                lowest = last - 1023  # a gateway that did not say: its whole window
            held = [s for s in self.unacked if lowest <= s <= last and s not in gaps]
            for seq in [s for s in held if s not in self.pinned]:
                del self.unacked[seq]
                self._acked(seq)
            self.next_seq = max(self.next_seq, last + 1)
        self.numbered = True
        numbered, self.unnumbered = self.unnumbered, []
        for reading in numbered:
            self._number(reading)
        return numbered

    def _number(self, reading: dict[str, Any]) -> int:
        seq = reading["seq"] = self.next_seq
        self.next_seq += 1
        self.unacked[seq] = reading
        return seq

    def _acked(self, seq: int) -> None:
        self.stats.acked += 1
        if self.acked_seqs is not None:
            self.acked_seqs.add(seq)

    async def _receive(self, ws: Any, stop: asyncio.Event) -> None:
        receiver = asyncio.ensure_future(self._acks(ws))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({receiver, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not receiver.done():
                receiver.cancel()
            elif receiver.exception() is not None:
                raise receiver.exception()  # type: ignore[misc]

    async def _acks(self, ws: Any) -> None:
        async for message in ws:
            self._on_frame(orjson.loads(message))

    def _on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "ack":
            for seq in frame.get("seqs") or [frame["seq"]]:
                if self.unacked.pop(seq, None) is not None:
                    self.pinned.discard(seq)
                    self._acked(seq)
        elif kind == "hello" and self._hello_pending:  # asked for after a seq_reused
            self._hello_pending = False
            self._in_background(self._send_now(self._apply_hello(frame)))
        elif kind == "error":
            code = frame.get("code", "?")
            self.stats.errors[code] = self.stats.errors.get(code, 0) + 1
            refused: int | None = frame.get("seq")
            if code == "rate_limited":
                self._pause()  # every unacknowledged reading is resent after it
            elif code == "seq_reused" and refused is not None:
                reading = self.unacked.pop(refused, None)
                self.pinned.discard(refused)
                if reading is not None:
                    self.unnumbered.append(reading)
                    self._ask_hello()
            elif code != "unavailable" and refused is not None:  # unavailable: kept, resent on reconnecting
                self.unacked.pop(refused, None)

    def _ask_hello(self) -> None:
        ws = self._ws
        if ws is not None and not self._hello_pending:
            self._hello_pending = True
            self._in_background(ws.send('{"type": "hello"}'))

    def _pause(self) -> None:
        if self._resume is None:
            self._resume = asyncio.get_running_loop().call_later(self.PAUSE_S, self._resume_sending)

    def _resume_sending(self) -> None:
        self._resume = None
        if self._ws is not None:
            self._in_background(self._send_unacked(self._ws))

    def _in_background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _send_unacked(self, ws: Any) -> None:
        """Every unacknowledged reading, in seq order, in batches."""
        if ws is None:
            return
        pending = [self.unacked[s] for s in sorted(self.unacked)]
        try:
            for i in range(0, len(pending), self.RESEND_BATCH):
                await self._transmit(ws, pending[i : i + self.RESEND_BATCH])
        except ConnectionClosed:
            pass

    async def _transmit(self, ws: Any, readings: list[dict[str, Any]]) -> None:
        if len(readings) == 1:
            await ws.send(orjson.dumps(readings[0]).decode())
        elif readings:
            await ws.send(orjson.dumps({"type": "batch", "readings": readings}).decode())

    async def _send_now(self, readings: list[dict[str, Any]]) -> None:
        """Send if connected and not pausing; else they go with the next resend."""
        ws = self._ws
        if ws is None or self._resume is not None:
            return
        try:
            for i in range(0, len(readings), self.RESEND_BATCH):
                await self._transmit(ws, readings[i : i + self.RESEND_BATCH])
        except ConnectionClosed:
            pass

    @property
    def pending(self) -> int:
        """Readings not yet acknowledged, numbered or not."""
        return len(self.unacked) + len(self.unnumbered)

    async def send_batch(self, items: list[tuple[int, dict[str, Any]]]) -> list[int]:
        """Queue several readings (ts_ms, vitals) and send them as one batch
        frame; each is kept until acked. Before the first hello reply they wait
        unnumbered (and [] is returned)."""
        readings = [{"type": "reading", "ts": ts_ms, "vitals": vitals} for ts_ms, vitals in items]
        self.stats.sent += len(readings)
        if not self.numbered:
            self.unnumbered += readings
            return []
        seqs = [self._number(r) for r in readings]
        await self._send_now(readings)
        return seqs

    def stored_before(self, seqs: list[int]) -> tuple[int, int]:
        """Of `seqs`, how many the first hello reply said were stored
        already, and how many it could not tell of (at or below its
        `last_seq` but below the seqs it speaks for: a gateway remembers a
        device's last 1024)."""
        frame = self.first_hello or {}
        last, gaps = frame.get("last_seq"), set(frame.get("gaps") or ())
        if last is None:
            return 0, 0
        lowest = frame.get("gaps_from")
        lowest = max(0, last - 1023) if lowest is None else lowest
        stored = sum(lowest <= s <= last and s not in gaps for s in seqs)
        return stored, sum(s < lowest for s in seqs)

    async def send(self, ts_ms: int, vitals: dict[str, Any], seq: int | None = None) -> int | None:
        """Queue one reading; it is sent now if connected, else on reconnect.
        Returns its seq, or None while waiting for the first hello reply.
        `seq`: the caller's own number for it (a resend of what may be
        stored), sent as it is once the first hello reply is in; numbers
        the client gives later go above it."""
        reading = {"type": "reading", "ts": ts_ms, "vitals": vitals}
        self.stats.sent += 1
        if seq is not None:
            reading["seq"] = seq
            self.pinned.add(seq)
            self.unacked[seq] = reading
            self.next_seq = max(self.next_seq, seq + 1)
            if self.numbered:
                await self._send_now([reading])
            return seq
        if not self.numbered:
            self.unnumbered.append(reading)
            return None
        seq = self._number(reading)
        await self._send_now([reading])
        return seq


async def clients_for(settings: Settings, devices: dict[str, str], stats: Stats) -> dict[str, DeviceClient]:
    """Reference clients for devices (id -> patient), registered afresh (in
    the registry `VIGIL_REGISTRY` names), that
    connect to this host's gateway: wss when TLS is configured, trusting
    VIGIL_TLS_CA (or the system's CAs)."""
    host = "127.0.0.1" if settings.gateway_host in ("0.0.0.0", "::") else settings.gateway_host
    context = ssl.create_default_context(cafile=settings.tls_ca or None) if settings.tls_cert else None
    url = f"{'wss' if context else 'ws'}://{host}:{settings.gateway_port}/v1"
    tokens = await directory.reissue(settings, devices)
    return {d: DeviceClient(url, tokens[d], stats=stats, ssl=context) for d in devices}


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


@dataclass(frozen=True)
class Schedule:
    history_ms: int = 40 * 60 * 1000  # simulated time starts this far in the past
    step_ms: int = 10_000  # one reading per device every 10 s of simulated time
    speed: float = 60.0  # simulated seconds per wall second, until caught up


async def run_device(
    client: DeviceClient, patient: Patient, start_ms: int, schedule: Schedule, stop: asyncio.Event
) -> None:
    connection = asyncio.ensure_future(client.run(stop))
    try:
        ts = start_ms
        while not stop.is_set():
            await client.send(ts, patient.vitals(ts))
            ts += schedule.step_ms
            now = time.time() * 1000
            wait_s = schedule.step_ms / 1000 / schedule.speed if ts < now else (ts - now) / 1000
            await _sleep_or_stop(stop, wait_s)
    finally:
        await connection


def fleet(n: int, start_ms: int, schedule: Schedule, seed: int = 7) -> list[Patient]:
    """N patients; every fourth deteriorates, 15 to 25 simulated minutes in."""
    rng = random.Random(seed)
    patients = []
    for i in range(n):
        onset = None
        if i % 4 == 3:
            onset = start_ms + int(rng.uniform(15, 25) * 60_000)
        patients.append(Patient(random.Random(rng.random()), onset_ms=onset))
    return patients
