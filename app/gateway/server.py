"""The websocket gateway: the I/O shell around `app.core.session`.

Each connection gets a `DeviceSession` (the device's window of stored seqs
and its budget are kept here, across connections). For each device frame the
gateway reads the clock once (the receipt time), hands the frame to the
session and performs what it decides, in order (`_perform`): counts, error
frames, hello replies and acks to send, records for `vigil.rejected`, the
readings record for `vigil.readings` (keyed by the patient's pseudonym,
`acks=all`, idempotent producer; with `gateway_coalesce_ms` above 0, frames of
patients on the same partition share one record, `app.gateway.coalesce`,
written to the partition Kafka's default partitioner gives each of them), a
pause for a device over its budget, a close. When Kafka has the readings, the
session is told (`stored`) and the device gets its ack; the stored seqs go to `vigil.device-seqs`.

If Kafka does not acknowledge within `ack_timeout_s`, the device gets
`unavailable` for those readings and the connection is closed with 1013 (try
again later); the gateway reports not ready and refuses handshakes with 503
until a fresh producer connects, which also clears a producer stuck on
sequence errors. Records that Kafka stores late are still entered in the
device's window, so the device's resend is recognised.

Kafka is also probed every `kafka_probe_s` with a metadata request, so
readiness drops within seconds of the broker going away, with no traffic too.

Connections: connections still handshaking are capped (in all and per source
address) and time out; a source that failed too many handshakes is answered
429 (`app.core.handshake`); one live connection per device (a new one
replaces the old, close code 4001), a cap on connections in all, credentials
re-checked every `credential_check_s` against the registry (a revoked or
rotated token closes the connection with 4003; while the registry cannot be
read, handshakes get 503 and the last good copy is used for the re-check).
HTTP on a second port serves /metrics, /healthz and /readyz.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import os
import ssl
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, cast

import structlog
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from app.core.delivery import (
    NOTICE_INTERVAL_S,
    Budget,
    SeqWindow,
    TokenBucket,
    WindowRecords,
    is_delta,
)
from app.core.directory import SamePatient
from app.core.errors import GatewayConfigError, StateError
from app.core.handshake import GuardLimits, HandshakeGuard
from app.core.protocol import Limits
from app.core.records import partition_for
from app.core.session import (
    UNREAD,
    Action,
    Close,
    Count,
    DeviceSession,
    RecordRejection,
    Send,
    StoreReadings,
    Throttle,
    rejection_summary,
)
from app.gateway.coalesce import Coalescer
from app.gateway.connection import GuardedConnection
from app.gateway.waits import Slots, done_within
from app.infra import gc_tuning, metrics, ports
from app.infra.directory import KafkaRegistry
from app.infra.kafka_security import aiokafka_options
from app.infra.pseudonyms import load_key
from app.infra.registry import Device, Registry, RegistryUnavailable
from app.infra.settings import (
    DEVICE_SEQS_TOPIC,
    PRODUCER_BATCH_BYTES,
    READINGS_TOPIC,
    REJECTED_TOPIC,
    Settings,
)
from app.infra.topics import ensure_topics, from_start, read_to_end

log = structlog.get_logger()

PATHS = ("/", "/v1")
# Frames larger than this are cut off by websockets itself (close code 1009);
# frames between the protocol limit and this get a `frame_too_large` error.
HARD_FRAME_LIMIT_FACTOR = 4

CLOSE_REPLACED = 4001  # a newer connection of the same device took over
CLOSE_REVOKED = 4003  # the credential was revoked or rotated
THROTTLE_DELAY_S = 1.0  # a source over its failed-handshake budget waits this long for its 429
# A connection costs the device a twentieth of its burst of tokens (`VIGIL_DEVICE_BURST`;
# 50 of 1000, refilled at `VIGIL_DEVICE_RATE`, 20 a second: 20 connections at once, then
# one every 2.5 s): a handshake is far dearer than a frame. Two copies of one device
# replacing each other made 21,174 connections in 20 s (an outside tester).
CONNECTS_PER_BURST = 20


class ConfigError(GatewayConfigError):
    """The gateway's settings are unsafe or inconsistent; the message says why."""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _new_trace() -> str:
    """A frame's trace id: follows its readings into the worker's logs."""
    return os.urandom(8).hex()


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.tls_cert and not settings.tls_key:
        host = settings.gateway_host
        loopback = host == "localhost" or _is_loopback(host)
        if not loopback and not settings.allow_plaintext:
            raise ConfigError(
                f"refusing to serve devices on {host} without TLS: set VIGIL_TLS_CERT and "
                "VIGIL_TLS_KEY, or VIGIL_GATEWAY_ALLOW_PLAINTEXT=1 behind a TLS-terminating proxy"
            )
        return None
    if not (settings.tls_cert and settings.tls_key):
        raise ConfigError("TLS needs both VIGIL_TLS_CERT and VIGIL_TLS_KEY")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# A reconnected device waits for its previous connection's writes at most
# `ack_timeout_s` and this much more (its closing handshake, the last frame in hand).
SETTLE_MARGIN_S = 5.0
WINDOW_FLUSH_S = 0.25  # how often changed seq windows are written to vigil.device-seqs
WRITTEN_KEPT = 8  # window records written and not yet read back, remembered per device


@dataclass(slots=True)
class _Link:
    """One device connection as the gateway holds it: the socket, the
    session that decides, and the acks still waiting for Kafka."""

    connection: ServerConnection
    session: DeviceSession
    pending: set[asyncio.Task[None]] = field(default_factory=set)
    open: bool = True  # False once a send found the connection closed: nothing more is sent

    async def send(self, frame: str) -> None:
        if not self.open:
            return
        try:
            await self.connection.send(frame)
        except ConnectionClosed:
            self.open = False  # the device resends what it has no ack for

    async def close(self, code: int, reason: str) -> None:
        if not self.open:
            return
        self.open = False
        try:
            await self.connection.close(code, reason)
        except ConnectionClosed:
            pass


class Gateway:
    def __init__(self, settings: Settings, ports_file: Path | None = None) -> None:
        self.settings = settings
        self.ports_file = ports_file  # where to report the ports bound (`--ports-file`)
        self.http_port = settings.gateway_http_port  # the ports bound: those set, or the system's choice (0)
        self.ws_port = settings.gateway_port
        self.limits = Limits(max_frame_bytes=settings.max_frame_bytes, max_batch=settings.max_batch)
        self.registry: Registry | KafkaRegistry = (
            KafkaRegistry(settings) if settings.registry == "kafka" else Registry(settings.registry_path)
        )
        self.key = load_key(settings)
        self.producer: AIOKafkaProducer | None = None
        self.inflight = Slots(settings.max_inflight)
        self.kafka_ok = False
        self.serving = False
        self.live: dict[str, ServerConnection] = {}
        # Set when a device's connection handler has finished, its writes settled (`handle`).
        self.settled: dict[str, asyncio.Event] = {}
        self.windows: dict[str, SeqWindow] = {}
        self.budgets: dict[str, Budget] = {}
        self.guard = HandshakeGuard(
            GuardLimits(
                max_pending=settings.max_handshakes,
                max_pending_per_source=settings.max_handshakes_per_source,
                failure_rate=settings.handshake_failure_rate,
                failure_burst=settings.handshake_failure_burst,
            )
        )
        self._summaries_due: set[str] = set()  # devices with refusals beyond their budget not yet summarised
        # Hashes of the window records this gateway wrote and has not read back yet, per device,
        # oldest first (`_merge_windows`); at most WRITTEN_KEPT each.
        self._written: dict[str, list[int]] = {}
        self._registry_ok = True
        self._closing: set[asyncio.Future[None]] = set()
        self._kafka_down = asyncio.Event()
        self._connection_ids = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._window_writes: set[asyncio.Future[Any]] = set()
        self.window_records = WindowRecords()  # stored seqs not yet on vigil.device-seqs
        self._flush_scheduled = False
        self._window_round: asyncio.Future[None] | None = None  # the windows being written (`_flush_windows`)
        self._rate_limited_at: dict[str, float] = {}
        self.coalescer: Coalescer | None = None
        if settings.gateway_coalesce_ms > 0:
            self.coalescer = Coalescer(
                self._hand_over,
                settings.gateway_coalesce_ms / 1000,
                settings.gateway_coalesce_frames,
                settings.gateway_coalesce_bytes,
            )
        self._partitions: tuple[int, dict[bytes, int]] = (0, {})  # (count, partition of each key)
        metrics.RATE_LIMITED_DEVICES.set_function(self._count_rate_limited)
        metrics.INFLIGHT.set_function(lambda: settings.max_inflight - self.inflight.free)
        # Counters by label, looked up once: `labels()` on every frame was 3 % of the gateway's CPU.
        self._frames_counted = {kind: metrics.FRAMES.labels(kind) for kind in metrics.FRAME_KINDS}
        self._readings_counted = {o: metrics.READINGS.labels(o) for o in metrics.GATEWAY_OUTCOMES}

    def _count_rate_limited(self) -> int:
        horizon = time.time() - 60
        for device_id in [d for d, t in self._rate_limited_at.items() if t < horizon]:
            del self._rate_limited_at[device_id]
        return len(self._rate_limited_at)

    @property
    def ready(self) -> bool:
        return not self.not_ready_because()

    def not_ready_because(self) -> str:
        """Why /readyz says 503, in a few words (`vigil status` prints them); "" when ready."""
        if not self.kafka_ok:
            return f"Kafka at {self.settings.bootstrap} does not answer or acknowledge in time"
        if not self.serving:
            return "starting or stopping: not listening for devices"
        return ""

    # -- handshake --------------------------------------------------------------

    async def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        guarded = cast(GuardedConnection, connection)  # `serve` makes them with create_connection
        try:
            return await self._answer_handshake(guarded, request)
        finally:
            guarded.handshake_answered()

    async def _answer_handshake(self, connection: GuardedConnection, request: Request) -> Response | None:
        now_s = time.monotonic()
        retry_after = self.guard.throttled(connection.source, now_s)
        if retry_after is not None:
            metrics.HANDSHAKES.labels("throttled").inc()
            await asyncio.sleep(THROTTLE_DELAY_S)  # a client retrying at once is slowed down too
            return _refusal(
                connection, HTTPStatus.TOO_MANY_REQUESTS, "too many failed handshakes", retry_after
            )
        if request.path not in PATHS:
            self.guard.failed(connection.source, now_s)
            metrics.HANDSHAKES.labels("not_found").inc()
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        try:
            device = self.registry.authenticate(token.strip()) if scheme.lower() == "bearer" else None
        except RegistryUnavailable as exc:
            self._registry_state(exc)
            metrics.HANDSHAKES.labels("unavailable").inc()
            return _refusal(connection, HTTPStatus.SERVICE_UNAVAILABLE, "unavailable", 5)
        if device is None:
            self.guard.failed(connection.source, now_s)
            metrics.HANDSHAKES.labels("unauthorized").inc()
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "unauthorized\n")
            response.headers["WWW-Authenticate"] = 'Bearer realm="vigil"'
            return response
        bucket = self._budget(device.device_id).bucket
        cost = bucket.burst / CONNECTS_PER_BURST
        if not bucket.allow(now_s, cost):
            metrics.HANDSHAKES.labels("device_throttled").inc()
            await asyncio.sleep(THROTTLE_DELAY_S)  # a client retrying at once is slowed down too
            wait_s = math.ceil(bucket.wait_s(time.monotonic(), cost))
            return _refusal(connection, HTTPStatus.TOO_MANY_REQUESTS, "too many connections", max(1, wait_s))
        if not self.ready or (
            len(self.live) >= self.settings.max_connections and device.device_id not in self.live
        ):
            metrics.HANDSHAKES.labels("unavailable").inc()
            return _refusal(connection, HTTPStatus.SERVICE_UNAVAILABLE, "unavailable", 5)
        connection.device = device  # type: ignore[attr-defined]
        connection.subject = device.pseudonym(self.key)  # type: ignore[attr-defined]
        metrics.HANDSHAKES.labels("accepted").inc()
        return None

    # -- one connection -----------------------------------------------------------

    async def handle(self, connection: ServerConnection) -> None:
        device: Device = connection.device  # type: ignore[attr-defined]
        self._connection_ids += 1
        structlog.contextvars.bind_contextvars(connection=self._connection_ids)
        previous, settled = self.settled.get(device.device_id), asyncio.Event()
        self.settled[device.device_id] = settled
        try:
            await self._connected(device, connection, previous)
        finally:  # whatever happened, the device's next connection need not wait for this one
            settled.set()
            if self.settled.get(device.device_id) is settled:
                del self.settled[device.device_id]
            structlog.contextvars.unbind_contextvars("connection")

    async def _connected(
        self, device: Device, connection: ServerConnection, previous: asyncio.Event | None
    ) -> None:
        await self._take_over(device.device_id, connection)
        metrics.CONNECTIONS_OPEN.inc()
        log.info("device connected")
        link = _Link(connection, self._session(device, connection.subject))  # type: ignore[attr-defined]
        try:
            if previous is not None:
                await self._settle(previous)
            async for message in connection:
                await self._frame(link, message)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("connection handler failed")  # websockets closes with 1011
            raise
        finally:
            if link.pending:
                await asyncio.gather(*link.pending, return_exceptions=True)
            if self.live.get(device.device_id) is connection:
                del self.live[device.device_id]
            metrics.CONNECTIONS_OPEN.dec()
            log.info("device disconnected", code=connection.close_code)

    async def _settle(self, previous: asyncio.Event) -> None:
        """Before a reconnected device's first frame is read, its previous
        connection's writes settle (each stored or given up within
        `ack_timeout_s`): a hello then counts the readings that were still
        being written when the connection dropped, and their resends are
        recognised as stored, not stored twice. Found by a firmware writer's
        client: 30 readings sent, the socket dropped, a hello at once missed
        the 30 still in flight, and their resends were all stored again."""
        try:
            await asyncio.wait_for(previous.wait(), self.settings.ack_timeout_s + SETTLE_MARGIN_S)
        except TimeoutError:
            log.warning("previous connection's writes did not settle in time")

    async def _take_over(self, device_id: str, connection: ServerConnection) -> None:
        """One live connection per device: a new one closes the one before."""
        previous = self.live.get(device_id)
        self.live[device_id] = connection
        if previous is not None:
            await previous.close(CLOSE_REPLACED, "replaced by a newer connection")

    def _budget(self, device_id: str) -> Budget:
        """The device's budget of tokens: its frames and its connections draw on it."""
        budget = self.budgets.get(device_id)
        if budget is None:
            budget = self.budgets[device_id] = Budget(
                TokenBucket(self.settings.device_rate, self.settings.device_burst)
            )
        return budget

    def _session(self, device: Device, subject: str) -> DeviceSession:
        """The device's window and budget outlive its connections: reconnecting
        does not refill the budget."""
        window = self.windows.setdefault(device.device_id, SeqWindow())
        budget = self._budget(device.device_id)
        return DeviceSession(
            device.device_id,
            SamePatient(self.key, subject),
            subject,
            window,
            budget,
            self.limits,
            new_trace=_new_trace,
        )

    async def _frame(self, link: _Link, message: str | bytes) -> None:
        started = time.perf_counter()
        metrics.BYTES_IN.inc(len(message))
        now_ms = _now_ms()
        received = link.session.receive(message, now_ms)
        if received.newest_ms is not None:
            metrics.READING_AGE.observe((now_ms - received.newest_ms) / 1000)
        counter = self._frames_counted.get(received.kind)
        (counter if counter is not None else metrics.FRAMES.labels(received.kind)).inc()
        if received.kind != UNREAD:
            structlog.contextvars.bind_contextvars(trace_id=received.trace)
            log.debug(
                "frame received",
                kind=received.kind,
                size=len(message),
                accepted=received.accepted,
                refused=received.refused,
            )
        await self._perform(link, received.actions, started)

    async def _perform(self, link: _Link, actions: list[Action], started: float) -> None:
        """Does what the session decided, in order. Once the device is gone,
        records are still written but nothing more is sent."""
        for action in actions:
            match action:
                case Count(outcome, n):
                    counter = self._readings_counted.get(outcome)
                    (counter if counter is not None else metrics.READINGS.labels(outcome)).inc(n)
                case Send(frame):
                    await link.send(frame)
                case RecordRejection(key, value):
                    await self._record_rejection(key, value)
                case StoreReadings():
                    await self._store(link, action, started)
                case Throttle(pause_s):
                    self._rate_limited_at[link.session.device_id] = time.time()
                    self._summaries_due.add(link.session.device_id)
                    if link.open and pause_s > 0:
                        await asyncio.sleep(pause_s)  # its frames wait in the socket meanwhile
                case Close(code, reason):
                    await link.close(code, reason)

    async def _record_rejection(self, key: bytes, value: bytes) -> None:
        if self.producer is None or not self.kafka_ok:
            return
        try:
            await self.producer.send(REJECTED_TOPIC, value, key=key)
        except KafkaError:
            log.warning("could not record a rejected reading")

    async def _store(self, link: _Link, write: StoreReadings, started: float) -> None:
        """Hands the readings to Kafka; the ack waits, in a task, until Kafka has them.
        `ack_timeout_s` counts from here: handing the record over and its delivery."""
        await self.inflight.acquire()
        deadline = time.perf_counter() + self.settings.ack_timeout_s
        if self.coalescer is not None:
            delivery = await self._coalesce(write)
        else:
            delivery = await self._send_readings(write)
        if delivery is None:
            self._release()
            await self._give_up(link, write)
            return
        task = asyncio.create_task(self._ack_when_stored(link, write, delivery, started, deadline))
        link.pending.add(task)
        task.add_done_callback(link.pending.discard)

    async def _coalesce(self, write: StoreReadings) -> asyncio.Future[Any] | None:
        """The future of the coalesced record that will hold the readings; None
        if Kafka is down. Without the topic's metadata, written alone as before."""
        producer = self.producer
        if producer is None or not self.kafka_ok or self.coalescer is None:
            return None
        partition = self._partition(producer, write.key)
        if partition is None:
            return await self._send_readings(write)
        return await self.coalescer.add(partition, write.key, write.value)

    def _partition(self, producer: AIOKafkaProducer, key: bytes) -> int | None:
        """The partition aiokafka's default partitioner gives `key` on
        `vigil.readings` now: each patient stays on the partition (and so the
        worker's table partition) it has always been on."""
        partitions = producer.client.cluster.partitions_for_topic(READINGS_TOPIC)
        if not partitions:
            return None
        count, known = self._partitions
        if count != len(partitions):
            count, known = self._partitions = (len(partitions), {})
        partition = known.get(key)
        if partition is None:
            partition = known[key] = partition_for(key, count)
        return partition

    async def _hand_over(self, partition: int, key: bytes, value: bytes) -> asyncio.Future[Any] | None:
        """One (coalesced) record to the producer, for `Coalescer`."""
        return await self._send_readings(StoreReadings(key, value, (), ()), partition)

    async def _send_readings(
        self, write: StoreReadings, partition: int | None = None
    ) -> asyncio.Future[Any] | None:
        """The delivery of the readings record; None if Kafka is down, refused it,
        or did not take it within `ack_timeout_s`. aiokafka's `send` waits while
        a batch of the partition is being retried (its leader moved: seconds, up
        to its request timeout of 40 s), and meanwhile this connection reads
        nothing and its device hears nothing; cancelled, the record is not sent."""
        producer = self.producer
        if producer is None or not self.kafka_ok:
            return None
        try:
            async with asyncio.timeout(self.settings.ack_timeout_s):  # no task per record, as wait_for makes
                delivery: asyncio.Future[Any] = await producer.send(
                    READINGS_TOPIC, write.value, key=write.key, partition=partition
                )
        except (TimeoutError, KafkaError) as exc:
            # A producer that cannot take records (stuck on a batch, or failed
            # for good: every send raising) is replaced, as when an ack does not
            # come; without this, its devices heard `unavailable` for good.
            log.warning("kafka did not take a record", error=type(exc).__name__)
            if producer is self.producer:
                self._kafka_failed()
            return None
        metrics.READINGS_RECORDS.inc()
        return delivery

    async def _ack_when_stored(
        self,
        link: _Link,
        write: StoreReadings,
        delivery: asyncio.Future[Any],
        started: float,
        deadline: float,
    ) -> None:
        sent = time.perf_counter()
        try:
            # On timeout the record may still be stored: the future is kept (`done_within`).
            if not await done_within(delivery, deadline - sent):
                raise TimeoutError
            delivery.result()  # KafkaError: not stored
        except (TimeoutError, KafkaError):
            self._kafka_failed()
            delivery.add_done_callback(lambda done: self._stored_late(link.session, write, done))
            await self._give_up(link, write)
            return
        finally:
            self._release()
        metrics.PRODUCE_LATENCY.observe(time.perf_counter() - sent)
        actions = link.session.stored(write)
        self._window_changed(link.session, write)
        await self._perform(link, actions, started)
        if link.open:
            metrics.ACK_LATENCY.observe(time.perf_counter() - started)

    async def _give_up(self, link: _Link, write: StoreReadings) -> None:
        log.warning("kafka did not acknowledge in time", count=len(write.seqs))
        await self._perform(link, link.session.failed(write), 0.0)

    def _stored_late(
        self, session: DeviceSession, write: StoreReadings, delivery: asyncio.Future[Any]
    ) -> None:
        """Kafka stored a record after the device was told to resend it: its
        seqs still enter the window, so the resend is recognised."""
        if delivery.cancelled() or delivery.exception() is not None:
            return
        session.stored(write)  # nothing to send: the session gave up on it
        self._window_changed(session, write)

    def _release(self) -> None:
        self.inflight.release()

    def _window_changed(self, session: DeviceSession, write: StoreReadings) -> None:
        # What was stored goes to `vigil.device-seqs` in the next round (at most
        # every WINDOW_FLUSH_S), not once per frame: a busy device sends many
        # frames a second, and one record says it all (`WindowRecords`).
        self.window_records.stored(session.device_id, session.window, write.seqs, write.fingerprints)
        self._schedule_windows()

    def _schedule_windows(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(WINDOW_FLUSH_S, self._flush_windows)

    def _flush_windows(self, final: bool = False) -> None:
        """Write this round's window records, in one task that sends them one
        after another. A task per device, as before, meant a thousand tasks
        waiting on the same full producer batch, all woken at each drain to
        find the next batch full: a third of the gateway's CPU at 3,000
        frames/s (docs/benchmarks.md, "Seq windows written in one task").
        While a round is being written the next waits for it (and takes in
        every seq stored meanwhile): a device's records reach the topic in
        the order they were taken."""
        self._flush_scheduled = False
        if self._window_round is not None and not self._window_round.done():
            self._flush_scheduled = True  # this round's records go with the next, once this one is out
            self._window_round.add_done_callback(lambda _: self._flush_windows(final))
            return
        records = self.window_records.take(time.monotonic(), final)
        if self.window_records.waiting():
            self._schedule_windows()  # runs still open: their whole windows close them later
        if not records:
            return
        kinds = metrics.SEQ_WINDOW_KINDS
        for device_id, encoded in records:
            kinds["delta" if is_delta(encoded) else "whole"].inc(len(encoded))
            written = self._written.setdefault(device_id, [])
            written.append(hash(encoded))  # not merged again when read back
            if len(written) > WRITTEN_KEPT:
                del written[0]  # never read back (a write failed): forgotten
        self._window_round = task = asyncio.ensure_future(self._send_windows(records))
        self._window_writes.add(task)
        task.add_done_callback(self._window_writes.discard)

    async def _send_windows(self, records: list[tuple[str, bytes]]) -> None:
        """Best effort, as `_write`: each window handed to the producer in
        turn, then every delivery awaited together."""
        producer = self.producer
        if producer is None:
            return
        deliveries = []
        try:
            for device_id, value in records:
                deliveries.append(await producer.send(DEVICE_SEQS_TOPIC, value, key=device_id.encode()))
            results = await asyncio.gather(*deliveries, return_exceptions=True)
        except KafkaError:
            log.warning("could not record a device's stored seqs")
        else:
            if any(isinstance(result, BaseException) for result in results):
                log.warning("could not record a device's stored seqs")

    def _write(self, topic: str, value: bytes, device_id: str, failure: str) -> None:
        """Best effort, in the background: a lost window record only means a
        resend is stored twice (with the same reading id), never that a reading
        is lost; a lost rejection record loses only a diagnosis."""
        task = asyncio.ensure_future(self._send_record(topic, value, device_id, failure))
        self._window_writes.add(task)
        task.add_done_callback(self._window_writes.discard)

    async def _send_record(self, topic: str, value: bytes, device_id: str, failure: str) -> None:
        producer = self.producer
        if producer is None:
            return
        try:
            await (await producer.send(topic, value, key=device_id.encode()))
        except KafkaError:
            log.warning(failure)

    async def _summarise(self) -> None:
        """Every half interval: one summary record per device whose frames
        were refused beyond its budget for an interval."""
        while True:
            await asyncio.sleep(NOTICE_INTERVAL_S / 2)
            self._write_summaries(final=False)

    def _write_summaries(self, final: bool) -> None:
        now_ms = _now_ms()
        for device_id in list(self._summaries_due):
            record = rejection_summary(device_id, self.budgets[device_id], now_ms, final)
            if record is None:
                continue
            self._summaries_due.discard(device_id)
            if self.kafka_ok:
                self._write(REJECTED_TOPIC, record, device_id, "could not record a rejection summary")

    # -- Kafka ----------------------------------------------------------------------

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            **aiokafka_options(self.settings),
            enable_idempotence=True,  # implies acks=all
            acks="all",
            linger_ms=2,
            # aiokafka's default batch (16 KiB per partition) fills with a few
            # device frames; every send then waits on the full batch's drain,
            # and under load most of the gateway's time went to those waits
            # (py-spy: wait_drain and the wake-ups it schedules). Larger
            # batches, still under the broker's 1 MiB message limit.
            max_batch_size=PRODUCER_BATCH_BYTES,
            max_request_size=4 * 1024 * 1024,
        )

    def _kafka_failed(self) -> None:
        if self.kafka_ok:
            log.warning("kafka unavailable; refusing devices until it is back")
        self.kafka_ok = False
        metrics.GATEWAY_READY.set(0)
        metrics.KAFKA_UP.set(0)
        self._kafka_down.set()

    async def _keep_kafka(self) -> None:
        """When a send failed, connect a fresh producer as soon as Kafka answers."""
        while True:
            await self._kafka_down.wait()
            fresh = self._new_producer()
            try:
                await asyncio.wait_for(fresh.start(), 10)
            except (TimeoutError, KafkaError, OSError):
                await _stop_quietly(fresh)
                await asyncio.sleep(1)
                continue
            old, self.producer = self.producer, fresh
            self._kafka_down.clear()
            self.kafka_ok = True
            metrics.GATEWAY_READY.set(1)
            metrics.KAFKA_UP.set(1)
            log.info("kafka available again")
            if old is not None:
                # Its pending records may still be delivered; their callbacks
                # enter them in the devices' windows.
                self._tasks.append(asyncio.create_task(_stop_quietly(old, timeout=60)))

    async def _load_windows(self) -> AIOKafkaConsumer:
        """Read `vigil.device-seqs` to its end, then keep merging what follows."""
        consumer = from_start(self.settings, DEVICE_SEQS_TOPIC)
        await consumer.start()
        await read_to_end(consumer, DEVICE_SEQS_TOPIC, self._merge_windows)
        return consumer

    def _merge_windows(self, records: list[Any]) -> None:
        """Merge windows read from `vigil.device-seqs` into this gateway's,
        except its own records read back: nothing is new in them, and
        merging one walks every seq it holds (up to 1,024), which was 8 % of
        the gateway's CPU at 5,000 frames/s when only the latest record
        written was recognised (a round is often written before the last
        one is read back). A device's records come back in the order they
        were written, so a record recognised also retires the older ones."""
        written = self._written
        for record in records:
            device_id = record.key.decode()
            mine = written.get(device_id)
            if mine is not None:
                digest = hash(record.value)
                if digest in mine:
                    del mine[: mine.index(digest) + 1]
                    if not mine:
                        del written[device_id]
                    continue
            known = self.windows.get(device_id)
            fresh = known is None
            if known is None:
                known = SeqWindow()
            try:
                known.merge_record(record.value)  # whole or delta; nothing merged if it is neither
            except StateError:
                continue
            if fresh:
                self.windows[device_id] = known

    async def _follow_windows(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=1000)
                self._merge_windows([r for records in batches.values() for r in records])
            except KafkaError:
                await asyncio.sleep(1)

    def _follow_registry(self) -> list[asyncio.Task[None]]:
        if isinstance(self.registry, KafkaRegistry):
            return [asyncio.create_task(self.registry.mirror.follow())]
        return []

    async def _probe_kafka(self) -> None:
        """A metadata request every `kafka_probe_s`: without traffic a dead
        broker would only be noticed at the next send."""
        while True:
            await asyncio.sleep(self.settings.kafka_probe_s)
            producer = self.producer
            if not self.kafka_ok or producer is None:
                continue  # _keep_kafka is on it
            try:
                answer = producer.client.fetch_all_metadata()
                await asyncio.wait_for(answer, max(2.0, 2 * self.settings.kafka_probe_s))
            except (TimeoutError, KafkaError, OSError):
                if producer is self.producer:
                    self._kafka_failed()

    async def _check_credentials(self) -> None:
        """Closes connections whose credential is no longer in force. Survives
        any error: the next round comes all the same."""
        while True:
            await asyncio.sleep(self.settings.credential_check_s)
            try:
                self._recheck_credentials()
            except Exception as exc:  # noqa: BLE001 - revocation must keep working
                metrics.REGISTRY_ERRORS.inc()
                log.error("credential re-check failed; trying again", error=type(exc).__name__)

    def _recheck_credentials(self) -> None:
        try:
            self.registry.refresh()
            self._registry_state(None)
        except RegistryUnavailable as exc:
            metrics.REGISTRY_ERRORS.inc()
            self._registry_state(exc)  # and check against the last good copy
        for device_id, connection in list(self.live.items()):
            opened_with = connection.device  # type: ignore[attr-defined]
            current = self.registry.cached(device_id)
            if current is None or current.revoked or current.token_sha256 != opened_with.token_sha256:
                if getattr(connection, "revoking", False):
                    continue
                connection.revoking = True  # type: ignore[attr-defined]
                log.info("closing a connection whose credential is no longer valid")
                closing = asyncio.ensure_future(connection.close(CLOSE_REVOKED, "credentials revoked"))
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)

    def _registry_state(self, failure: RegistryUnavailable | None) -> None:
        if failure is not None and self._registry_ok:
            log.warning(
                "device registry unreadable; handshakes get 503, open connections are checked "
                "against the last good copy",
                reason=str(failure),
            )
        elif failure is None and not self._registry_ok:
            log.info("device registry readable again")
        self._registry_ok = failure is None

    # -- life cycle ---------------------------------------------------------------

    async def http_app(self) -> web.Application:
        async def healthz(_: web.Request) -> web.Response:
            return web.Response(text="ok\n")

        async def readyz(_: web.Request) -> web.Response:
            if self.ready:
                return web.Response(text="ready\n")
            return web.Response(status=503, text=f"not ready: {self.not_ready_because()}\n")

        async def metrics_view(_: web.Request) -> web.Response:
            body, content_type = metrics.exposition(metrics.GATEWAY)
            return web.Response(body=body, headers={"Content-Type": content_type})

        app = web.Application()
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)
        app.router.add_get("/metrics", metrics_view)
        return app

    async def run(self, stop: asyncio.Event) -> None:
        context = tls_context(self.settings)
        runner = web.AppRunner(await self.http_app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, self.settings.gateway_host, self.settings.gateway_http_port).start()
        self.http_port = ports.address_port(runner.addresses)
        windows: AIOKafkaConsumer | None = None
        try:
            windows = await self._connect_kafka()
            self._tasks += [
                asyncio.create_task(self._keep_kafka()),
                asyncio.create_task(self._follow_windows(windows)),
                *self._follow_registry(),
                asyncio.create_task(self._check_credentials()),
                asyncio.create_task(self._probe_kafka()),
                asyncio.create_task(self._summarise()),
            ]
            await self._serve(context, stop)
        finally:
            await self._shut_down(windows)
            await runner.cleanup()

    async def _connect_kafka(self) -> AIOKafkaConsumer:
        """Topics, the seq windows stored so far, and the producer."""
        await ensure_topics(self.settings, needs=(READINGS_TOPIC, REJECTED_TOPIC, DEVICE_SEQS_TOPIC))
        windows = await self._load_windows()
        if isinstance(self.registry, KafkaRegistry):
            await self.registry.mirror.start()  # every device, before the first handshake
        self.producer = self._new_producer()
        await self.producer.start()
        for topic in (READINGS_TOPIC, DEVICE_SEQS_TOPIC):  # fetch metadata now, not on first send
            await self.producer.partitions_for(topic)
        self.kafka_ok = True
        metrics.KAFKA_UP.set(1)
        return windows

    async def _serve(self, context: ssl.SSLContext | None, stop: asyncio.Event) -> None:
        guarded = type(
            "Guarded",
            (GuardedConnection,),
            {"guard": self.guard, "proxy_protocol": self.settings.gateway_proxy_protocol},
        )
        async with serve(
            self.handle,
            self.settings.gateway_host,
            self.settings.gateway_port,
            process_request=self.process_request,
            create_connection=guarded,
            open_timeout=self.settings.handshake_timeout_s,
            ssl=context,
            max_size=self.limits.max_frame_bytes * HARD_FRAME_LIMIT_FACTOR,
            # Compressed frames can amplify memory use 1000x: off unless asked for.
            compression="deflate" if self.settings.compression == "deflate" else None,
            ping_interval=self.settings.ping_interval_s,
            ping_timeout=self.settings.ping_timeout_s,
            server_header=None,
            reuse_port=self.settings.gateway_reuse_port or None,
        ) as server:
            self.ws_port = ports.bound_port(server.sockets)
            self._report_ports()
            gc_tuning.tune()  # once up: startup's objects frozen, young collections rarer
            self.serving = True
            metrics.GATEWAY_READY.set(1)
            scheme = "wss" if context else "ws"
            log.info(
                "gateway listening",
                ws=f"{scheme}://{self.settings.gateway_host}:{self.ws_port}",
                http=f"http://{self.settings.gateway_host}:{self.http_port}",
            )
            await stop.wait()
            self.serving = False
            metrics.GATEWAY_READY.set(0)

    def _report_ports(self) -> None:
        """The ports bound, for whoever started us on port 0 (`--ports-file`)."""
        if self.ports_file is not None:
            ports.write(self.ports_file, {ports.GATEWAY_WS: self.ws_port, ports.GATEWAY_HTTP: self.http_port})

    async def _shut_down(self, windows: AIOKafkaConsumer | None) -> None:
        for task in self._tasks:
            task.cancel()
        self._write_summaries(final=True)
        if self.coalescer is not None:
            await self.coalescer.flush_all()  # frames waiting for their record: written, then acked
        self._flush_windows(final=True)  # what is stored, whole, for the next gateway to know
        deadline = time.monotonic() + 10
        while self._window_writes and time.monotonic() < deadline:  # a round, then the one waiting for it
            await asyncio.wait(set(self._window_writes), timeout=max(0.0, deadline - time.monotonic()))
        if self.producer is not None:
            await _stop_quietly(self.producer, timeout=30)
        if windows is not None:
            await _stop_quietly(windows)
        if isinstance(self.registry, KafkaRegistry):
            await self.registry.mirror.stop()


def _refusal(connection: ServerConnection, status: HTTPStatus, text: str, retry_after_s: int) -> Response:
    response = connection.respond(status, text + "\n")
    response.headers["Retry-After"] = str(retry_after_s)
    return response


async def _stop_quietly(client: Any, timeout: float = 10) -> None:
    try:
        await asyncio.wait_for(client.stop(), timeout)
    except Exception:  # noqa: BLE001 - shutting down; nothing to do about it
        pass
