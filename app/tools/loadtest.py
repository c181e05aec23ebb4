"""`vigil simulate --rate R --report FILE.json`: a device-fleet load test.

N simulated devices (`app.tools.simulate.DeviceClient`, the reference client: the
real protocol, hello, acks, resends after a reconnect), each with its own
patient, send `rate` readings a second each, `batch` readings per frame, with
device timestamps from the wall clock. A share of the patients deteriorate
from a known onset (injected events). Optional network hiccups cut random
connections abruptly, so reconnects and resends are part of the load.

Measured, per reading and per alert:

- ack latency: from handing a frame to the websocket to its ack;
- alert latency: from sending the reading an alert event names
  (`reading_id`) to that event being produced to `vigil.alerts` (the time
  the worker's producer stamped on its record): gateway, Kafka and worker,
  end to end. Not the time this process reads it back: at a peak offer the
  simulator itself is saturated sending, and its own consumer's lag would
  count as Vigil's;
- detection delay of injected events: event time from onset to the first
  `open` or `escalated` alert of that patient;
- losses, reconciled by device and `seq` once sending stops: readings never
  acked (after a drain period), acked but not on `vigil.readings`, and
  stored but not processed (the worker's committed offsets never reached
  them). Readings refused with an error code are counted by code, not as lost.

With `--steps K` the run is K equal stages of rising offered load (from
rate/K to rate per device), and the report and plot give latency against
offered load. Output: a progress line a second, a summary, the JSON report
and a PNG plot next to it.
"""

from __future__ import annotations

import asyncio
import math
import os
import platform
import random
import sys
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, KafkaTimeoutError

from app.core.errors import TopicError
from app.core.records import readable_frames, reading_id
from app.infra.kafka_security import aiokafka_options
from app.infra.settings import ALERTS_TOPIC, READINGS_TOPIC, Settings
from app.infra.topics import assignment, from_start, read_to_end
from app.tools.simulate import DeviceClient, Patient, Stats, clients_for

PERCENTILES = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999))
ONSETS = "open", "escalated"


@dataclass
class Plan:
    devices: int
    rate: float  # readings per second per device (the peak, with stages)
    duration_s: float
    batch: int = 1
    steps: int = 1
    hiccups: float = 0.0  # chance per device per second of an abrupt disconnect
    deteriorate: float = 0.1  # share of patients with an injected event
    drain_s: float = 20.0  # how long to wait for acks and processing after sending
    worker: bool = True  # False: no worker runs (a gateway benchmark); processing is not checked
    seed: int = 7
    prefix: str = "load"  # device ids `<prefix>-00000`..., patients the same in upper case
    settle_s: float = 2.0  # after processing, how long to wait for the alerts of the last readings

    def stage_rate(self, stage: int) -> float:
        return self.rate * (stage + 1) / self.steps


def percentiles(values: Any) -> dict[str, float | int | None]:
    data = sorted(values)
    out: dict[str, float | int | None] = {"count": len(data)}
    for name, q in PERCENTILES:
        # nearest rank: the smallest value with at least q of the data at or below it
        out[name] = round(data[max(0, math.ceil(q * len(data)) - 1)], 6) if data else None
    out["max"] = round(data[-1], 6) if data else None
    return out


@dataclass
class Stage:
    offered_rps: float
    started: float = 0.0
    ended: float = 0.0
    acked: int = 0
    latencies: array[float] = field(default_factory=lambda: array("d"))


class LoadClient(DeviceClient):
    """The reference client, timing each reading from send to ack."""

    def __init__(self, *args: Any, run: LoadRun, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.run_ = run
        self.sent_perf: dict[int, float] = {}  # seq -> perf_counter at send, until acked
        self.sent_wall = array("d")  # seq -> wall time at first send, for alert latency
        self.acked_flags = bytearray()  # seq -> 1 once acked
        self.seq0: int | None = None  # the first seq this run sent (the arrays' index 0)

    def _acked(self, seq: int) -> None:
        super()._acked(seq)
        index = seq - (self.seq0 or 0)
        if 0 <= index < len(self.acked_flags):
            self.acked_flags[index] = 1
        started = self.sent_perf.pop(seq, None)
        if started is not None:
            self.run_.on_ack(time.perf_counter() - started)

    async def send_many(self, items: list[tuple[int, dict[str, Any]]]) -> None:
        now_perf, now_wall = time.perf_counter(), time.time()
        if self.seq0 is None:
            self.seq0 = self.next_seq
        for seq in range(self.next_seq, self.next_seq + len(items)):
            self.sent_perf[seq] = now_perf
            self.sent_wall.append(now_wall)
            self.acked_flags.append(0)
        if len(items) == 1:
            await self.send(*items[0])
        else:
            await self.send_batch(items)


class LoadRun:
    client_type: type[LoadClient] = LoadClient  # a subclass may bring its own client

    def __init__(self, settings: Settings, plan: Plan, out: Any = sys.stderr) -> None:
        self.settings = settings
        self.plan = plan
        self.out = out
        self.stats = Stats()
        self.stages = [Stage(plan.stage_rate(i) * plan.devices) for i in range(plan.steps)]
        self.stage = self.stages[0]
        self.second_acks = 0
        self.second_latencies: list[float] = []
        self.alert_latencies: list[float] = []
        self.alert_kinds: dict[str, int] = {}
        self.onsets: dict[str, list[int]] = {}  # device -> event times of its alert onsets
        rng = random.Random(plan.seed)
        self.patients: dict[str, Patient] = {}
        self.clients: dict[str, LoadClient] = {}
        self._rng = rng
        # Set when the devices start sending: a caller running alongside
        # (a fault injected mid-stream) times itself from here.
        self.sending_started = asyncio.Event()

    # -- counters -------------------------------------------------------------

    def on_ack(self, latency: float) -> None:
        self.stage.acked += 1
        self.stage.latencies.append(latency)
        self.second_acks += 1
        self.second_latencies.append(latency)

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    # -- the run ---------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> dict[str, Any]:
        await self._make_clients()
        # One consumer reads `vigil.readings` (offsets now and after the run,
        # then the reconciliation), another `vigil.alerts`.
        start_offsets = await self._readings_now()
        alerts = await _started(from_start(self.settings, ALERTS_TOPIC))
        scan: AIOKafkaConsumer | None = None
        watcher: asyncio.Future[Any] | None = None
        closing = asyncio.Event()  # clients stay connected through the drain, then close
        connections: list[asyncio.Future[Any]] = []
        try:
            await self._alerts_from_now(alerts)
            watcher = asyncio.ensure_future(self._watch_alerts(alerts))
            connections = [asyncio.ensure_future(c.run(closing)) for c in self.clients.values()]
            await self._wait_connected(stop)
            sent_for, deadline = await self._send_and_drain(stop)
            # The clients close before the end offsets are taken: every reading
            # acked by then was stored before it, so it is below them. An ack
            # that came after them (an overloaded gateway still acking when the
            # drain ran out) was counted "acked, not stored" although its record
            # was on the topic, just past the offsets read.
            closing.set()
            await asyncio.gather(*connections, return_exceptions=True)
            # A fresh consumer: one that lived through a broker restart may
            # never reach the new broker again (aiokafka: NodeNotReadyError
            # until its requests time out), as seen in the fault suite.
            scan = await _started(from_start(self.settings, READINGS_TOPIC))
            await _assignment(scan, READINGS_TOPIC)
            end_offsets = await _end_offsets(scan, list(start_offsets))
            processed = await self._processed(end_offsets, deadline)
            stored = await self._stored(scan, start_offsets, end_offsets, processed)
        finally:
            closing.set()
            for task in connections:
                task.cancel()
            if watcher is not None:
                watcher.cancel()
            await _stop_quietly(alerts)
            if scan is not None:
                await _stop_quietly(scan)
        return self._report(sent_for, stored)

    async def _make_clients(self) -> None:
        """One client and one simulated patient per device; a share of the
        patients deteriorate from an onset between a quarter and half the run."""
        plan = self.plan
        devices = {f"{plan.prefix}-{i:05d}": f"{plan.prefix.upper()}-{i:05d}" for i in range(plan.devices)}
        clients = await clients_for(self.settings, devices, self.stats)
        start_ms = int(time.time() * 1000)
        for device_id, client in clients.items():
            lc = self.client_type(client.url, client.token, stats=self.stats, ssl=client.ssl, run=self)
            self.clients[device_id] = lc
            onset = None
            if self._rng.random() < plan.deteriorate:
                onset = start_ms + int(self._rng.uniform(0.25, 0.5) * plan.duration_s * 1000)
            ramp = int(max(10.0, plan.duration_s / 4) * 1000)
            # The device's patient is the same person in every run (and every
            # phase of bench_pipeline.py): drawn from the stream above, a
            # patient's normal changed whenever the share deteriorating did,
            # and the worker, which remembers every patient, reported a
            # baseline drift for most of them (1.3 per patient: most of a
            # phase's alert events, each held up for Kafka).
            patient_rng = random.Random(f"{plan.seed}:{device_id}")
            self.patients[device_id] = Patient(patient_rng, onset_ms=onset, ramp_ms=ramp)

    async def _readings_now(self) -> dict[Any, int]:
        """The end offsets of `vigil.readings` before the run."""
        scan = await _started(from_start(self.settings, READINGS_TOPIC))
        try:
            offsets: dict[Any, int] = await scan.end_offsets(await _assignment(scan, READINGS_TOPIC))
            return offsets
        finally:
            await _stop_quietly(scan)

    async def _alerts_from_now(self, alerts: AIOKafkaConsumer) -> None:
        partitions = await _assignment(alerts, ALERTS_TOPIC)
        await alerts.seek_to_end(*partitions)
        for tp in partitions:
            await alerts.position(tp)  # fixed now: only alerts caused by this run count

    async def _send_and_drain(self, stop: asyncio.Event) -> tuple[float, float]:
        """Send for the plan's duration (or until `stop`), then wait for the
        acks still due. Returns the seconds spent sending and the drain's deadline."""
        plan = self.plan
        self.say(
            f"{plan.devices} devices connected; offered load {self.stages[-1].offered_rps:,.0f} readings/s"
            + (f" in {plan.steps} steps" if plan.steps > 1 else "")
            + f", {plan.batch} per frame, for {plan.duration_s:g} s"
        )
        sending = asyncio.Event()  # set: stop sending
        hiccups = asyncio.ensure_future(self._hiccups(sending)) if plan.hiccups > 0 else None
        progress = asyncio.ensure_future(self._progress(sending))
        try:
            sent_for, deadline = await self._send(stop, sending)
            if hiccups is not None:
                await hiccups
            while time.perf_counter() < deadline and any(c.pending for c in self.clients.values()):
                await asyncio.sleep(0.2)
        finally:
            progress.cancel()
        return sent_for, deadline

    async def _send(self, stop: asyncio.Event, sending: asyncio.Event) -> tuple[float, float]:
        """Every device sends, stage after stage of rising load; the seconds it
        took, and the drain's deadline (`drain_s` after sending stopped)."""
        plan = self.plan
        started = time.perf_counter()
        self.sending_started.set()
        drivers = [asyncio.ensure_future(self._drive(d, started, sending)) for d in self.clients]
        for i, stage in enumerate(self.stages):
            self.stage = stage
            stage.started = time.perf_counter()
            end = started + plan.duration_s * (i + 1) / plan.steps
            try:
                await asyncio.wait_for(stop.wait(), max(0.0, end - time.perf_counter()))
            except TimeoutError:
                pass
            stage.ended = time.perf_counter()
            if stop.is_set():
                break
        sending.set()
        stopped = time.perf_counter()
        deadline = stopped + plan.drain_s
        # A device blocked in a send (its window full of frames a flooded
        # gateway has not acked) would hold the run "draining" for as long as
        # that lasts: the drain bounds the wait, then the rest are cancelled.
        if drivers:
            await asyncio.wait(drivers, timeout=plan.drain_s)
        for driver in drivers:
            driver.cancel()
        await asyncio.gather(*drivers, return_exceptions=True)
        return stopped - started, deadline

    async def _processed(self, end_offsets: dict[Any, int], deadline: float) -> dict[int, int]:
        """Per partition of `vigil.readings`, the offset up to which the worker
        has processed (all of it, when the plan does not check a worker)."""
        if not self.plan.worker:
            return {tp.partition: offset for tp, offset in end_offsets.items()}
        processed = await self._wait_processed(end_offsets, deadline + self.plan.drain_s)
        await asyncio.sleep(self.plan.settle_s)  # alerts of the last readings
        return processed

    async def _wait_connected(self, stop: asyncio.Event, timeout: float = 120.0) -> None:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline and not stop.is_set():
            up = sum(c._connected.is_set() for c in self.clients.values())
            if up == len(self.clients):
                return
            await asyncio.sleep(0.2)
        up = sum(c._connected.is_set() for c in self.clients.values())
        self.say(f"only {up} of {len(self.clients)} devices connected; starting anyway")

    async def _drive(self, device_id: str, started: float, sending: asyncio.Event) -> None:
        """One device: `batch` readings every batch / rate seconds, evenly
        spread, the first at a random point of the first interval."""
        plan = self.plan
        client, patient = self.clients[device_id], self.patients[device_id]
        loop = asyncio.get_running_loop()
        last_ts = 0
        due = loop.time() + random.uniform(0, plan.batch / plan.stage_rate(0))
        while not sending.is_set():
            delay = due - loop.time()
            if delay > 0:
                try:
                    await asyncio.wait_for(sending.wait(), delay)
                    break
                except TimeoutError:
                    pass
            rate = plan.stage_rate(self.stages.index(self.stage))
            now_ms = int(time.time() * 1000)
            step_ms = 1000.0 / rate
            items = []
            for k in range(plan.batch):
                ts = max(last_ts + 1, now_ms - int((plan.batch - 1 - k) * step_ms))
                items.append((ts, patient.vitals(ts)))
                last_ts = ts
            await client.send_many(items)
            due += plan.batch / rate
            if due < loop.time() - 1.0:  # fell behind by more than a second: do not burst
                due = loop.time()

    async def _hiccups(self, sending: asyncio.Event) -> None:
        clients = list(self.clients.values())
        while not sending.is_set():
            for client in clients:
                ws = client._ws
                if ws is not None and random.random() < self.plan.hiccups:
                    ws.transport.abort()  # the network drops: no close handshake
            try:
                await asyncio.wait_for(sending.wait(), 1.0)
            except TimeoutError:
                pass

    async def _progress(self, sending: asyncio.Event) -> None:
        t0 = time.perf_counter()
        while True:
            await asyncio.sleep(1.0)
            lat = sorted(self.second_latencies)
            p99 = f"{lat[max(0, math.ceil(0.99 * len(lat)) - 1)] * 1000:.0f} ms" if lat else "-"
            errors = sum(self.stats.errors.values())
            stats = self.stats
            self.say(
                f"{time.perf_counter() - t0:6.0f} s  sent {stats.sent:>9,}  acked {stats.acked:>9,}  "
                f"{self.second_acks:>7,}/s  p99 ack {p99:>7}  errors {errors}  reconnects {stats.reconnects}"
                + ("  (draining)" if sending.is_set() else "")
            )
            self.second_acks = 0
            self.second_latencies = []

    async def _watch_alerts(self, consumer: AIOKafkaConsumer) -> None:
        async for message in consumer:
            # When the worker produced it (CreateTime, set by its producer),
            # not when this process got round to reading it.
            stamped = message.timestamp_type == 0 and message.timestamp
            seen = message.timestamp / 1000 if stamped else time.time()
            try:
                event = orjson.loads(message.value)
                device_id = event["device_id"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue
            client = self.clients.get(device_id)
            if client is None:
                continue  # another source's alert
            kind = event.get("kind", "?")
            self.alert_kinds[kind] = self.alert_kinds.get(kind, 0) + 1
            sent = self._sent_wall(device_id, client, event.get("reading_id"))
            if sent is not None:
                self.alert_latencies.append(max(0.0, seen - sent))
            if event.get("status") in ONSETS and kind != "baseline_drift":
                self.onsets.setdefault(device_id, []).append(_ms(event.get("event_time", "")))

    @staticmethod
    def _sent_wall(device_id: str, client: LoadClient, rid: Any, search: int = 5000) -> float | None:
        """When the reading an alert names was sent: its seq is found by
        deriving reading ids back from the newest (alerts name recent readings)."""
        seq0 = client.seq0 or 0
        for index in range(len(client.sent_wall) - 1, max(-1, len(client.sent_wall) - 1 - search), -1):
            if reading_id(device_id, seq0 + index) == rid:
                return client.sent_wall[index]
        return None

    # -- reconciliation ---------------------------------------------------------

    async def _wait_processed(self, end: dict[Any, int], deadline: float) -> dict[int, int]:
        """The worker's committed offsets on `vigil.readings`, once they reach
        `end` or at the deadline."""
        admin = AIOKafkaAdminClient(**aiokafka_options(self.settings))
        await admin.start()
        try:
            while True:
                offsets = await admin.list_consumer_group_offsets(self.settings.worker_id)
                committed = {
                    tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == READINGS_TOPIC
                }
                if (
                    all(committed.get(tp.partition, 0) >= off for tp, off in end.items())
                    or time.perf_counter() > deadline
                ):
                    return committed
                await asyncio.sleep(0.5)
        finally:
            await admin.close()

    async def _stored(
        self,
        consumer: AIOKafkaConsumer,
        start: dict[Any, int],
        end: dict[Any, int],
        committed: dict[int, int],
    ) -> dict[str, Any]:
        """Per device, how many times each of its seqs is on `vigil.readings`
        (one byte per seq), and which are beyond the worker's committed offset."""
        stored = {d: bytearray(len(c.sent_wall)) for d, c in self.clients.items()}
        unprocessed = {d: bytearray(len(c.sent_wall)) for d, c in self.clients.items()}

        def count(records: list[Any]) -> None:
            for record in records:
                late = record.offset >= committed.get(record.partition, 0)
                for batch in readable_frames(record.value):  # none of poison: not this run's
                    counts = stored.get(batch.device_id)
                    if counts is None:
                        continue  # another source's device
                    seq0 = self.clients[batch.device_id].seq0 or 0
                    for reading in batch.readings:
                        index = reading["seq"] - seq0
                        if 0 <= index < len(counts):
                            counts[index] = min(255, counts[index] + 1)
                            if late:
                                unprocessed[batch.device_id][index] = 1

        for tp, offset in start.items():
            consumer.seek(tp, offset)
        await read_to_end(consumer, READINGS_TOPIC, count, end)
        return {"stored": stored, "unprocessed": unprocessed}

    def _losses(self, stored: dict[str, Any]) -> tuple[dict[str, int], int]:
        """What was lost, by where (`lost_detail`), and how many copies were
        stored twice, from what was stored and processed per seq (`_stored`)."""
        never_acked = acked_not_stored = not_processed = copies = 0
        for device_id, client in self.clients.items():
            never_acked += client.pending  # numbered and not acked, or still waiting for a seq
            counts, late = stored["stored"][device_id], stored["unprocessed"][device_id]
            for index, flag in enumerate(client.acked_flags):
                if flag and not counts[index]:
                    acked_not_stored += 1
                elif flag and late[index]:
                    not_processed += 1
            copies += sum(c - 1 for c in counts if c > 1)
        detail = {
            "never_acked": never_acked,
            "acked_not_stored": acked_not_stored,
            "stored_not_processed": not_processed,
        }
        return detail, copies

    def _detected(self) -> tuple[int, dict[str, int]]:
        """The injected deteriorations, and per device that had one the delay
        (ms) from its onset to the first alert opened at or after it."""
        injected = {d: p.onset_ms for d, p in self.patients.items() if p.onset_ms is not None}
        detected: dict[str, int] = {}
        for device_id, onset in injected.items():
            after = [t for t in self.onsets.get(device_id, ()) if t >= onset]
            if after:
                detected[device_id] = min(after) - onset
        return len(injected), detected

    def _report(self, sent_for: float, stored: dict[str, Any]) -> dict[str, Any]:
        plan = self.plan
        lost, copies = self._losses(stored)
        latencies = array("d")
        for stage in self.stages:
            latencies.extend(stage.latencies)
        injected, detected = self._detected()
        refused = sum(self.stats.errors.values())
        return {
            "devices": plan.devices,
            "rate_per_device": plan.rate,
            "batch": plan.batch,
            "steps": plan.steps,
            "hiccups": plan.hiccups,
            "duration_s": round(sent_for, 2),
            "offered_rps": round(self.stages[-1].offered_rps, 1),
            "sent": self.stats.sent,
            "acked": self.stats.acked,
            "refused": refused,
            "errors": dict(sorted(self.stats.errors.items())),
            "lost": sum(lost.values()),
            "lost_detail": lost,
            "stored_twice": copies,
            "reconnects": self.stats.reconnects,
            "throughput_rps": round(self.stats.acked / sent_for, 1) if sent_for else 0.0,
            "ack_latency_s": percentiles(latencies),
            "alert_latency_s": percentiles(self.alert_latencies),
            "alerts": dict(sorted(self.alert_kinds.items())),
            "injected_events": injected,
            "detected_events": len(detected),
            "detection_delay_s": percentiles([d / 1000 for d in detected.values()]),
            "stages": [
                {
                    "offered_rps": round(s.offered_rps, 1),
                    "throughput_rps": round(s.acked / (s.ended - s.started), 1)
                    if s.ended > s.started
                    else None,
                    "ack_latency_s": percentiles(s.latencies),
                }
                for s in self.stages
                if s.ended
            ],
            "machine": machine(),
        }


async def _assignment(consumer: AIOKafkaConsumer, topic: str, timeout: float = 15.0) -> list[Any]:
    try:
        return await asyncio.wait_for(assignment(consumer, topic), timeout)
    except TimeoutError:
        raise TopicError(f"topic {topic} not found: is `vigil up` running?") from None


async def _started(consumer: AIOKafkaConsumer) -> AIOKafkaConsumer:
    """Start a consumer and let its background task begin. aiokafka's
    `stop()` cancels and awaits that task, and raises CancelledError when the
    task was cancelled before it ever ran (a consumer stopped right after it
    started, e.g. when the topic is missing)."""
    await consumer.start()
    await asyncio.sleep(0)
    return consumer


def _ms(iso_time: str) -> int:
    from datetime import datetime

    try:
        return int(datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def summary(report: dict[str, Any]) -> str:
    def ms(p: dict[str, Any], key: str) -> str:
        return f"{p[key] * 1000:.1f} ms" if p.get(key) is not None else "-"

    ack, alert, det = report["ack_latency_s"], report["alert_latency_s"], report["detection_delay_s"]
    lines = [
        f"devices {report['devices']}, offered {report['offered_rps']:,.0f} readings/s, "
        f"{report['batch']} per frame, {report['duration_s']} s",
        f"sent {report['sent']:,}  acked {report['acked']:,}  refused {report['refused']:,} "
        f"{report['errors'] or ''}  lost {report['lost']} {report['lost_detail']}",
        f"throughput {report['throughput_rps']:,.0f} readings/s acked; reconnects {report['reconnects']}",
        f"ack latency    p50 {ms(ack, 'p50')}  p95 {ms(ack, 'p95')}  p99 {ms(ack, 'p99')}  "
        f"p99.9 {ms(ack, 'p999')}",
        f"alert latency  p50 {ms(alert, 'p50')}  p95 {ms(alert, 'p95')}  p99 {ms(alert, 'p99')}  "
        f"p99.9 {ms(alert, 'p999')}  ({alert['count']} alert events)",
        f"injected events detected {report['detected_events']} of {report['injected_events']}"
        + (f", median {det['p50']:.0f} s of event time after onset" if det.get("p50") is not None else ""),
    ]
    if len(report["stages"]) > 1:
        lines.append("offered/s   acked/s   p50 ack   p99 ack")
        for s in report["stages"]:
            lines.append(
                f"{s['offered_rps']:>9,.0f} {s['throughput_rps'] or 0:>9,.0f} "
                f"{ms(s['ack_latency_s'], 'p50'):>9} {ms(s['ack_latency_s'], 'p99'):>9}"
            )
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> None:
    """Ack latency (p50, p99) and throughput against offered load."""
    import logging

    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # its font-cache notice
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = [s for s in report["stages"] if s["ack_latency_s"]["count"]]
    offered = [s["offered_rps"] for s in stages]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for key, style in (("p50", "o-"), ("p99", "s--"), ("p999", "^:")):
        ax.plot(offered, [s["ack_latency_s"][key] * 1000 for s in stages], style, label=f"ack {key}")
    ax.set_xlabel("offered load (readings/s)")
    ax.set_ylabel("ack latency (ms)")
    ax.grid(alpha=0.3)
    twin = ax.twinx()
    twin.plot(offered, [s["throughput_rps"] for s in stages], "k.-", alpha=0.5, label="acked/s")
    twin.set_ylabel("throughput (readings/s acked)")
    lines = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + twin.get_legend_handles_labels()[1]
    ax.legend(lines, labels, loc="upper left", fontsize=8)
    ax.set_title(f"vigil simulate: {report['devices']} devices, batches of {report['batch']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


async def run(
    settings: Settings, plan: Plan, stop: asyncio.Event, report_path: Path | None, plot_path: Path | None
) -> dict[str, Any]:
    load = LoadRun(settings, plan)
    report = await load.run(stop)
    print(summary(report), file=sys.stderr, flush=True)
    if report_path is not None:
        report_path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
        print(f"report: {report_path}", file=sys.stderr)
    if plot_path is not None:
        plot(report, plot_path)
        print(f"plot: {plot_path}", file=sys.stderr)
    return report


async def _end_offsets(consumer: AIOKafkaConsumer, partitions: list[Any], tries: int = 3) -> dict[Any, int]:
    """End offsets, asked again when a broker that was just restarted (a
    fault scenario) does not answer the first time."""
    offsets: dict[Any, int]
    for _ in range(tries - 1):
        try:
            offsets = await consumer.end_offsets(partitions)
            return offsets
        except KafkaTimeoutError:
            await asyncio.sleep(2)
    offsets = await consumer.end_offsets(partitions)
    return offsets


async def _stop_quietly(consumer: AIOKafkaConsumer) -> None:
    """Stop a consumer; one cut off by a broker restart may raise while its
    fetch task is cancelled (aiokafka), which is no reason to lose a report."""
    try:
        await consumer.stop()
    except (asyncio.CancelledError, KafkaError):
        if asyncio.current_task() is not None and asyncio.current_task().cancelling():  # type: ignore[union-attr]
            raise  # our own cancellation, not the consumer's
