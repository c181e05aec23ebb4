"""The websocket gateway: a thin shell around `app.core.protocol`.

For each device frame it reads the clock once (the receipt time), lets the
core parse it, writes the accepted readings to `vigil.readings` as one
record keyed by patient, and acknowledges them only once Kafka has the record
(`acks=all`, idempotent producer). Refused readings get an error frame and go
to `vigil.rejected`. Frames from one connection are handed to the producer
in order, so one patient's readings keep their order on their partition.

HTTP on a second port serves /metrics, /healthz and /readyz.
"""

from __future__ import annotations

import asyncio
import time
from http import HTTPStatus
from typing import Any

import structlog
from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from app import metrics
from app.core.errors import Code, Refusal
from app.core.protocol import Limits, ack_frame, error_frame, parse_frame
from app.core.records import encode_readings, encode_rejection
from app.registry import Device, Registry
from app.settings import READINGS_TOPIC, REJECTED_TOPIC, Settings
from app.topics import ensure_topics

log = structlog.get_logger()

PATHS = ("/", "/v1")
# Frames larger than this are cut off by websockets itself (close code 1009);
# frames between the protocol limit and this get a `frame_too_large` error.
HARD_FRAME_LIMIT_FACTOR = 4


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Gateway:
    def __init__(self, settings: Settings, limits: Limits = Limits()) -> None:
        self.settings = settings
        self.limits = limits
        self.registry = Registry(settings.registry_path)
        self.producer: AIOKafkaProducer | None = None
        self.inflight = asyncio.Semaphore(settings.max_inflight)
        self.ready = False
        self._connection_ids = 0

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
        if not self.ready:
            metrics.HANDSHAKES.labels("unavailable").inc()
            response = connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "unavailable\n")
            response.headers["Retry-After"] = "5"
            return response
        connection.device = device  # type: ignore[attr-defined]
        metrics.HANDSHAKES.labels("accepted").inc()
        return None

    # -- one connection -----------------------------------------------------------

    async def handle(self, connection: ServerConnection) -> None:
        device: Device = connection.device  # type: ignore[attr-defined]
        self._connection_ids += 1
        structlog.contextvars.bind_contextvars(connection=self._connection_ids)
        metrics.CONNECTIONS_OPEN.inc()
        log.info("device connected")
        pending: set[asyncio.Task[None]] = set()
        try:
            async for message in connection:
                received_ms = _now_ms()
                started = time.perf_counter()
                size = len(message)
                metrics.BYTES_IN.inc(size)
                parsed = parse_frame(message, received_ms, self.limits)
                metrics.FRAMES.labels(parsed.kind).inc()
                for refusal in parsed.refusals:
                    metrics.READINGS.labels(refusal.code.value).inc()
                    await self._reject(connection, device, received_ms, refusal, message)
                if not parsed.readings:
                    continue
                value = encode_readings(device.device_id, device.patient, received_ms, parsed.readings)
                seqs = [r.seq for r in parsed.readings]
                await self.inflight.acquire()
                metrics.INFLIGHT.inc()
                try:
                    assert self.producer is not None
                    delivery = await self.producer.send(
                        READINGS_TOPIC, value, key=device.patient.encode()
                    )
                except (KafkaError, AssertionError):
                    self._release()
                    await self._unavailable(connection, seqs)
                    continue
                task = asyncio.create_task(
                    self._ack_when_durable(connection, delivery, seqs, parsed.kind == "batch", started)
                )
                pending.add(task)
                task.add_done_callback(pending.discard)
        except ConnectionClosed:
            pass
        finally:
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            metrics.CONNECTIONS_OPEN.dec()
            log.info("device disconnected", code=connection.close_code)
            structlog.contextvars.unbind_contextvars("connection")

    def _release(self) -> None:
        self.inflight.release()
        metrics.INFLIGHT.dec()

    async def _ack_when_durable(
        self,
        connection: ServerConnection,
        delivery: asyncio.Future[Any],
        seqs: list[int],
        batch: bool,
        started: float,
    ) -> None:
        sent = time.perf_counter()
        try:
            await asyncio.wait_for(delivery, self.settings.ack_timeout_s)
        except (KafkaError, asyncio.TimeoutError):
            await self._unavailable(connection, seqs)
            return
        finally:
            self._release()
        metrics.PRODUCE_LATENCY.observe(time.perf_counter() - sent)
        metrics.READINGS.labels("accepted").inc(len(seqs))
        try:
            await connection.send(ack_frame(seqs, batch))
        except ConnectionClosed:
            return  # the device resends what it has no ack for
        metrics.ACK_LATENCY.observe(time.perf_counter() - started)

    async def _unavailable(self, connection: ServerConnection, seqs: list[int]) -> None:
        metrics.READINGS.labels(Code.UNAVAILABLE.value).inc(len(seqs))
        log.warning("kafka did not acknowledge in time", count=len(seqs))
        for seq in seqs:
            refusal = Refusal(Code.UNAVAILABLE, "service unavailable; resend later", seq)
            try:
                await connection.send(error_frame(refusal))
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
        item = refusal.item
        if item is None:  # the whole frame was refused: keep a bounded copy of it
            raw = message if isinstance(message, str) else message.decode(errors="replace")
            item = raw[:4096]
        if self.producer is not None:
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

    # -- life cycle ---------------------------------------------------------------

    async def start_kafka(self) -> None:
        await ensure_topics(self.settings)
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.bootstrap,
            enable_idempotence=True,  # implies acks=all
            acks="all",
            linger_ms=2,
            max_request_size=4 * 1024 * 1024,
        )
        await self.producer.start()
        self.ready = True
        metrics.READY.set(1)

    async def stop_kafka(self) -> None:
        self.ready = False
        metrics.READY.set(0)
        if self.producer is not None:
            await self.producer.stop()

    async def http_app(self) -> web.Application:
        async def healthz(_: web.Request) -> web.Response:
            return web.Response(text="ok\n")

        async def readyz(_: web.Request) -> web.Response:
            if self.ready:
                return web.Response(text="ready\n")
            return web.Response(status=503, text="not ready\n")

        async def metrics_view(_: web.Request) -> web.Response:
            body, content_type = metrics.exposition()
            return web.Response(body=body, headers={"Content-Type": content_type})

        app = web.Application()
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)
        app.router.add_get("/metrics", metrics_view)
        return app

    async def run(self, stop: asyncio.Event) -> None:
        runner = web.AppRunner(await self.http_app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.gateway_host, self.settings.gateway_http_port)
        await site.start()
        try:
            await self.start_kafka()
            async with serve(
                self.handle,
                self.settings.gateway_host,
                self.settings.gateway_port,
                process_request=self.process_request,
                max_size=self.limits.max_frame_bytes * HARD_FRAME_LIMIT_FACTOR,
                compression=None,  # compressed frames can amplify memory use 1000x
                server_header=None,
            ):
                log.info(
                    "gateway listening",
                    ws=f"ws://{self.settings.gateway_host}:{self.settings.gateway_port}",
                    http=f"http://{self.settings.gateway_host}:{self.settings.gateway_http_port}",
                )
                await stop.wait()
        finally:
            await self.stop_kafka()
            await runner.cleanup()
