"""The websocket gateway: a thin shell around `app.core.protocol` and
`app.core.delivery`.

For each device frame it reads the clock once (the receipt time), lets the
core parse it, and then:

- answers a `hello` with the highest `seq` stored from this device and the
  gaps below it;
- refuses readings over the device's rate (`rate_limited`) or naming another
  patient (`unauthorized`), with an error frame and a record on `vigil.rejected`;
- acknowledges at once, without storing again, readings whose `seq` is
  already stored (resends);
- writes the new readings to `vigil.readings` as one record keyed by the
  patient's pseudonym (keyed HMAC, `app.pseudonyms`) and acknowledges them only once Kafka has it (`acks=all`, idempotent
  producer), then records the stored seqs on `vigil.device-seqs`.

If Kafka does not acknowledge within `ack_timeout_s`, the device gets
`unavailable` for those readings and the connection is closed with 1013 (try
again later); the gateway reports not ready and refuses handshakes with 503
until a fresh producer connects, which also clears a producer stuck on
sequence errors. Records that Kafka stores late are still entered in the
device's window, so the device's resend is recognised.

Connections: one live connection per device (a new one replaces the old,
close code 4001), a cap on connections in all, credentials re-checked every
`credential_check_s` (a revoked or rotated token closes the connection with
4003). HTTP on a second port serves /metrics, /healthz and /readyz.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import ssl
import time
from http import HTTPStatus
from typing import Any

import structlog
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from app import metrics
from app.core.delivery import SeqWindow, TokenBucket, admit
from app.core.errors import Code, Refusal, StateError
from app.core.protocol import Limits, ack_frame, error_frame, hello_frame, parse_frame
from app.core.records import encode_readings, encode_rejection, pseudonym
from app.pseudonyms import load_key
from app.registry import Device, Registry
from app.settings import DEVICE_SEQS_TOPIC, READINGS_TOPIC, REJECTED_TOPIC, Settings
from app.topics import ensure_topics, from_start, read_to_end

log = structlog.get_logger()

PATHS = ("/", "/v1")
# Frames larger than this are cut off by websockets itself (close code 1009);
# frames between the protocol limit and this get a `frame_too_large` error.
HARD_FRAME_LIMIT_FACTOR = 4

CLOSE_TRY_LATER = 1013  # Kafka unavailable: reconnect with backoff
CLOSE_REPLACED = 4001  # a newer connection of the same device took over
CLOSE_REVOKED = 4003  # the credential was revoked or rotated


class ConfigError(Exception):
    """The gateway's settings are unsafe or inconsistent; the message says why."""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


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


WINDOW_FLUSH_S = 0.25  # how often changed seq windows are written to vigil.device-seqs


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.limits = Limits(max_frame_bytes=settings.max_frame_bytes, max_batch=settings.max_batch)
        self.registry = Registry(settings.registry_path)
        self.key = load_key(settings)
        self.producer: AIOKafkaProducer | None = None
        self.inflight = asyncio.Semaphore(settings.max_inflight)
        self.kafka_ok = False
        self.serving = False
        self.live: dict[str, ServerConnection] = {}
        self.windows: dict[str, SeqWindow] = {}
        self.buckets: dict[str, TokenBucket] = {}
        self._kafka_down = asyncio.Event()
        self._connection_ids = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._window_writes: set[asyncio.Future[None]] = set()
        self._dirty_windows: dict[str, SeqWindow] = {}  # stored seqs not yet on vigil.device-seqs
        self._flush_scheduled = False
        self._rate_limited_at: dict[str, float] = {}
        metrics.RATE_LIMITED_DEVICES.set_function(self._count_rate_limited)

    def _count_rate_limited(self) -> int:
        horizon = time.time() - 60
        for device_id in [d for d, t in self._rate_limited_at.items() if t < horizon]:
            del self._rate_limited_at[device_id]
        return len(self._rate_limited_at)

    @property
    def ready(self) -> bool:
        return self.serving and self.kafka_ok

    # -- handshake --------------------------------------------------------------

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path not in PATHS:
            metrics.HANDSHAKES.labels("not_found").inc()
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        device = self.registry.authenticate(token.strip()) if scheme.lower() == "bearer" else None
        if device is None:
            metrics.HANDSHAKES.labels("unauthorized").inc()
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "unauthorized\n")
            response.headers["WWW-Authenticate"] = 'Bearer realm="vigil"'
            return response
        if not self.ready or (
            len(self.live) >= self.settings.max_connections and device.device_id not in self.live
        ):
            metrics.HANDSHAKES.labels("unavailable").inc()
            response = connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "unavailable\n")
            response.headers["Retry-After"] = "5"
            return response
        connection.device = device  # type: ignore[attr-defined]
        connection.subject = pseudonym(self.key, device.patient)  # type: ignore[attr-defined]
        metrics.HANDSHAKES.labels("accepted").inc()
        return None

    # -- one connection -----------------------------------------------------------

    async def handle(self, connection: ServerConnection) -> None:
        device: Device = connection.device  # type: ignore[attr-defined]
        self._connection_ids += 1
        structlog.contextvars.bind_contextvars(connection=self._connection_ids)
        previous = self.live.get(device.device_id)
        self.live[device.device_id] = connection
        if previous is not None:
            await previous.close(CLOSE_REPLACED, "replaced by a newer connection")
        metrics.CONNECTIONS_OPEN.inc()
        log.info("device connected")
        window = self.windows.setdefault(device.device_id, SeqWindow())
        bucket = self.buckets.setdefault(
            device.device_id, TokenBucket(self.settings.device_rate, self.settings.device_burst)
        )
        pending: set[asyncio.Task[None]] = set()
        try:
            async for message in connection:
                task = await self._frame(connection, device, window, bucket, message)
                if task is not None:
                    pending.add(task)
                    task.add_done_callback(pending.discard)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("connection handler failed")  # websockets closes with 1011
            raise
        finally:
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            if self.live.get(device.device_id) is connection:
                del self.live[device.device_id]
            metrics.CONNECTIONS_OPEN.dec()
            log.info("device disconnected", code=connection.close_code)
            structlog.contextvars.unbind_contextvars("connection")

    async def _frame(
        self,
        connection: ServerConnection,
        device: Device,
        window: SeqWindow,
        bucket: TokenBucket,
        message: str | bytes,
    ) -> asyncio.Task[None] | None:
        received_ms = _now_ms()
        started = time.perf_counter()
        trace = os.urandom(8).hex()  # follows this frame's readings into the worker's logs
        structlog.contextvars.bind_contextvars(trace_id=trace)
        metrics.BYTES_IN.inc(len(message))
        parsed = parse_frame(message, received_ms, self.limits)
        metrics.FRAMES.labels(parsed.kind).inc()
        log.debug(
            "frame received", kind=parsed.kind, size=len(message), accepted=len(parsed.readings),
            refused=len(parsed.refusals),
        )
        if parsed.kind == "hello":
            top = window.top if window.top >= 0 else None
            await connection.send(hello_frame(top, window.gaps()))
            return None
        for refusal in parsed.refusals:
            await self._reject(connection, device, received_ms, refusal, message)
        readings = admit(parsed.readings, device.patient, window, bucket, received_ms / 1000)
        if readings.refusals and readings.refusals[0].code is Code.RATE_LIMITED:
            self._rate_limited_at[device.device_id] = received_ms / 1000
        for refusal in readings.refusals:
            await self._reject(connection, device, received_ms, refusal, message)
        batch = parsed.kind == "batch"
        if not readings.new:
            if readings.resent:
                metrics.READINGS.labels("duplicate").inc(len(readings.resent))
                await connection.send(ack_frame(readings.resent, batch))
            return None
        subject: str = connection.subject  # type: ignore[attr-defined]
        value = encode_readings(device.device_id, subject, received_ms, readings.new, trace)
        await self.inflight.acquire()
        metrics.INFLIGHT.inc()
        try:
            assert self.producer is not None and self.kafka_ok
            delivery = await self.producer.send(READINGS_TOPIC, value, key=subject.encode())
        except (KafkaError, AssertionError):
            self._release()
            await self._unavailable(connection, [r.seq for r in readings.new])
            return None
        new_seqs = [r.seq for r in readings.new]
        delivery.add_done_callback(lambda f: self._stored(f, device.device_id, window, new_seqs))
        return asyncio.create_task(
            self._ack_when_durable(connection, delivery, new_seqs, readings.resent, batch, started)
        )

    def _release(self) -> None:
        self.inflight.release()
        metrics.INFLIGHT.dec()

    def _stored(self, delivery: asyncio.Future[Any], device_id: str, window: SeqWindow, seqs: list[int]) -> None:
        """Runs when Kafka has the record, even after the device was told to resend."""
        if delivery.cancelled() or delivery.exception() is not None:
            return
        for seq in seqs:
            window.add(seq)
        # The window goes to `vigil.device-seqs` at most every WINDOW_FLUSH_S
        # per device, not once per frame: a busy device sends many frames a
        # second, and one record with its latest window says it all.
        self._dirty_windows[device_id] = window
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(WINDOW_FLUSH_S, self._flush_windows)

    def _flush_windows(self) -> None:
        self._flush_scheduled = False
        dirty, self._dirty_windows = self._dirty_windows, {}
        for device_id, window in dirty.items():
            task = asyncio.ensure_future(self._record_window(device_id, window.encode()))
            self._window_writes.add(task)
            task.add_done_callback(self._window_writes.discard)

    async def _record_window(self, device_id: str, encoded: bytes) -> None:
        """Best effort: a lost window record only means a resend is stored twice
        (with the same reading id), never that a reading is lost."""
        producer = self.producer
        if producer is None:
            return
        try:
            await (await producer.send(DEVICE_SEQS_TOPIC, encoded, key=device_id.encode()))
        except KafkaError:
            log.warning("could not record a device's stored seqs")

    async def _ack_when_durable(
        self,
        connection: ServerConnection,
        delivery: asyncio.Future[Any],
        seqs: list[int],
        resent: list[int],
        batch: bool,
        started: float,
    ) -> None:
        sent = time.perf_counter()
        try:
            # shield: on timeout the record may still be stored; keep the future.
            await asyncio.wait_for(asyncio.shield(delivery), self.settings.ack_timeout_s)
        except (KafkaError, asyncio.TimeoutError):
            self._kafka_failed()
            await self._unavailable(connection, seqs)
            return
        finally:
            self._release()
        metrics.PRODUCE_LATENCY.observe(time.perf_counter() - sent)
        metrics.READINGS.labels("accepted").inc(len(seqs))
        if resent:
            metrics.READINGS.labels("duplicate").inc(len(resent))
        try:
            await connection.send(ack_frame(sorted(seqs + resent) if batch else seqs, batch))
        except ConnectionClosed:
            return  # the device resends what it has no ack for
        metrics.ACK_LATENCY.observe(time.perf_counter() - started)

    async def _unavailable(self, connection: ServerConnection, seqs: list[int]) -> None:
        metrics.READINGS.labels(Code.UNAVAILABLE.value).inc(len(seqs))
        log.warning("kafka did not acknowledge in time", count=len(seqs))
        try:
            for seq in seqs:
                refusal = Refusal(Code.UNAVAILABLE, "service unavailable; resend later", seq)
                await connection.send(error_frame(refusal))
            await connection.close(CLOSE_TRY_LATER, "try again later")
        except ConnectionClosed:
            return

    async def _reject(
        self,
        connection: ServerConnection,
        device: Device,
        received_ms: int,
        refusal: Refusal,
        message: str | bytes,
    ) -> None:
        metrics.READINGS.labels(refusal.code.value).inc()
        item = refusal.item
        if item is None and refusal.code not in (Code.RATE_LIMITED, Code.UNAUTHORIZED):
            raw = message if isinstance(message, str) else message.decode(errors="replace")
            item = raw[:4096]  # the whole frame was refused: keep a bounded copy of it
        if self.producer is not None and self.kafka_ok:
            try:
                await self.producer.send(
                    REJECTED_TOPIC,
                    encode_rejection(device.device_id, received_ms, refusal, item),
                    key=device.device_id.encode(),
                )
            except KafkaError:
                log.warning("could not record a rejected reading")
        try:
            await connection.send(error_frame(refusal))
        except ConnectionClosed:
            pass

    # -- Kafka ----------------------------------------------------------------------

    def _new_producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            bootstrap_servers=self.settings.bootstrap,
            enable_idempotence=True,  # implies acks=all
            acks="all",
            linger_ms=2,
            # aiokafka's default batch (16 KiB per partition) fills with a few
            # device frames; every send then waits on the full batch's drain,
            # and under load most of the gateway's time went to those waits
            # (py-spy: wait_drain and the wake-ups it schedules). Larger
            # batches, still under the broker's 1 MiB message limit.
            max_batch_size=512 * 1024,
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
            except (KafkaError, OSError, asyncio.TimeoutError):
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
        consumer = from_start(self.settings.bootstrap, DEVICE_SEQS_TOPIC)
        await consumer.start()
        await read_to_end(consumer, DEVICE_SEQS_TOPIC, self._merge_windows)
        return consumer

    def _merge_windows(self, records: list[Any]) -> None:
        for record in records:
            try:
                window = SeqWindow.decode(record.value)
            except StateError:
                continue
            self.windows.setdefault(record.key.decode(), SeqWindow()).merge(window)

    async def _follow_windows(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=1000)
                self._merge_windows([r for records in batches.values() for r in records])
            except KafkaError:
                await asyncio.sleep(1)

    async def _check_credentials(self) -> None:
        while True:
            await asyncio.sleep(self.settings.credential_check_s)
            for device_id, connection in list(self.live.items()):
                opened_with = connection.device  # type: ignore[attr-defined]
                current = self.registry.current(device_id)
                if current is None or current.revoked or current.token_sha256 != opened_with.token_sha256:
                    log.info("closing a connection whose credential is no longer valid")
                    await connection.close(CLOSE_REVOKED, "credentials revoked")

    # -- life cycle ---------------------------------------------------------------

    async def http_app(self) -> web.Application:
        async def healthz(_: web.Request) -> web.Response:
            return web.Response(text="ok\n")

        async def readyz(_: web.Request) -> web.Response:
            if self.ready:
                return web.Response(text="ready\n")
            return web.Response(status=503, text="not ready\n")

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
        site = web.TCPSite(runner, self.settings.gateway_host, self.settings.gateway_http_port)
        await site.start()
        windows: AIOKafkaConsumer | None = None
        try:
            await ensure_topics(self.settings)
            windows = await self._load_windows()
            self.producer = self._new_producer()
            await self.producer.start()
            for topic in (READINGS_TOPIC, DEVICE_SEQS_TOPIC):  # fetch metadata now, not on first send
                await self.producer.partitions_for(topic)
            self.kafka_ok = True
            metrics.KAFKA_UP.set(1)
            self._tasks += [
                asyncio.create_task(self._keep_kafka()),
                asyncio.create_task(self._follow_windows(windows)),
                asyncio.create_task(self._check_credentials()),
            ]
            async with serve(
                self.handle,
                self.settings.gateway_host,
                self.settings.gateway_port,
                process_request=self.process_request,
                ssl=context,
                max_size=self.limits.max_frame_bytes * HARD_FRAME_LIMIT_FACTOR,
                # Compressed frames can amplify memory use 1000x: off unless asked for.
                compression="deflate" if self.settings.compression == "deflate" else None,
                ping_interval=self.settings.ping_interval_s,
                ping_timeout=self.settings.ping_timeout_s,
                server_header=None,
            ):
                self.serving = True
                metrics.GATEWAY_READY.set(1)
                scheme = "wss" if context else "ws"
                log.info(
                    "gateway listening",
                    ws=f"{scheme}://{self.settings.gateway_host}:{self.settings.gateway_port}",
                    http=f"http://{self.settings.gateway_host}:{self.settings.gateway_http_port}",
                )
                await stop.wait()
                self.serving = False
                metrics.GATEWAY_READY.set(0)
        finally:
            for task in self._tasks:
                task.cancel()
            self._flush_windows()  # what is stored, for the next gateway to know
            if self._window_writes:
                await asyncio.wait(self._window_writes, timeout=10)
            if self.producer is not None:
                await _stop_quietly(self.producer, timeout=30)
            if windows is not None:
                await _stop_quietly(windows)
            await runner.cleanup()


async def _stop_quietly(client: Any, timeout: float = 10) -> None:
    try:
        await asyncio.wait_for(client.stop(), timeout)
    except Exception:  # noqa: BLE001 - shutting down; nothing to do about it
        pass
