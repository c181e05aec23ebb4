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

from app.registry import Registry
from app.settings import Settings
from websockets.exceptions import ConnectionClosed, InvalidHandshake

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


class DeviceClient:
    """Reference client: at-least-once delivery of readings over one websocket."""

    def __init__(
        self, url: str, token: str, stats: Stats | None = None, ssl: Any = None, track_acks: bool = False
    ) -> None:
        self.url = url
        self.token = token
        self.stats = stats or Stats()
        self.ssl = ssl
        self.acked_seqs: set[int] | None = set() if track_acks else None
        self.next_seq = 0
        self.unacked: dict[int, dict[str, Any]] = {}  # seq -> reading, until acked
        self._ws: Any = None
        self._connected = asyncio.Event()

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
                    for reading in list(self.unacked.values()):  # resend what is missing
                        await ws.send(orjson.dumps(reading).decode())
                    self._connected.set()
                    await self._receive(ws, stop)
            except (OSError, ConnectionClosed, InvalidHandshake, asyncio.TimeoutError):
                pass
            finally:
                self._connected.clear()
                self._ws = None
            if stop.is_set():
                break
            self.stats.reconnects += 1
            # Exponential backoff with full jitter, capped at 30 s.
            await _sleep_or_stop(stop, random.uniform(0, backoff))
            backoff = min(30.0, backoff * 2)

    async def _hello(self, ws: Any) -> None:
        """Drop buffered readings the gateway says it already stored."""
        await ws.send('{"type": "hello"}')
        while True:
            frame = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            if frame.get("type") == "hello":
                break
            self._on_frame(frame)  # a late ack from before the hello
        last, gaps = frame.get("last_seq"), set(frame.get("gaps") or ())
        if last is None:
            return
        if self.next_seq == 0 and last >= 0:
            # A device that has sent nothing yet but whose id the gateway
            # already stored readings from (a restarted simulator, firmware
            # that lost its counter): carry on after them. Reusing their seqs
            # would have the gateway take new readings for resends, ack them
            # and drop them.
            self.next_seq = last + 1
            return
        lowest_known = last - 1023  # the gateway's window (app/core/delivery.py)
        for seq in [s for s in self.unacked if lowest_known <= s <= last and s not in gaps]:
            del self.unacked[seq]
            self._acked(seq)

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
        if frame.get("type") == "ack":
            for seq in frame.get("seqs") or [frame["seq"]]:
                if self.unacked.pop(seq, None) is not None:
                    self._acked(seq)
        elif frame.get("type") == "error":
            code = frame.get("code", "?")
            self.stats.errors[code] = self.stats.errors.get(code, 0) + 1
            seq = frame.get("seq")
            if code == "rate_limited" and seq in self.unacked:
                asyncio.get_running_loop().call_later(1.0, self._resend, seq)
            elif code != "unavailable":  # unavailable: keep it; resent after reconnecting
                self.unacked.pop(seq, None)

    def _resend(self, seq: int) -> None:
        reading, ws = self.unacked.get(seq), self._ws
        if reading is not None and ws is not None:
            task = asyncio.ensure_future(ws.send(orjson.dumps(reading).decode()))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def send_batch(self, items: list[tuple[int, dict[str, Any]]]) -> list[int]:
        """Queue several readings (ts_ms, vitals) and send them as one batch
        frame; each is kept until acked and resent alone after a reconnect."""
        readings = []
        for ts_ms, vitals in items:
            reading = {"type": "reading", "seq": self.next_seq, "ts": ts_ms, "vitals": vitals}
            self.unacked[self.next_seq] = reading
            self.next_seq += 1
            readings.append({"seq": reading["seq"], "ts": ts_ms, "vitals": vitals})
        self.stats.sent += len(readings)
        ws = self._ws
        if ws is not None:
            try:
                await ws.send(orjson.dumps({"type": "batch", "readings": readings}).decode())
            except ConnectionClosed:
                pass
        return [r["seq"] for r in readings]

    async def send(self, ts_ms: int, vitals: dict[str, Any]) -> int:
        """Queue one reading; it is sent now if connected, else on reconnect."""
        seq = self.next_seq
        self.next_seq += 1
        reading = {"type": "reading", "seq": seq, "ts": ts_ms, "vitals": vitals}
        self.unacked[seq] = reading
        self.stats.sent += 1
        ws = self._ws
        if ws is not None:
            try:
                await ws.send(orjson.dumps(reading).decode())
            except ConnectionClosed:
                pass
        return seq


def clients_for(settings: Settings, devices: dict[str, str], stats: Stats) -> dict[str, DeviceClient]:
    """Reference clients for devices (id -> patient), registered afresh, that
    connect to this host's gateway: wss when TLS is configured, trusting
    VIGIL_TLS_CA (or the system's CAs)."""
    host = "127.0.0.1" if settings.gateway_host in ("0.0.0.0", "::") else settings.gateway_host
    context = ssl.create_default_context(cafile=settings.tls_ca or None) if settings.tls_cert else None
    url = f"{'wss' if context else 'ws'}://{host}:{settings.gateway_port}/v1"
    tokens = Registry(settings.registry_path).reissue(devices)
    return {d: DeviceClient(url, tokens[d], stats=stats, ssl=context) for d in devices}


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except asyncio.TimeoutError:
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
