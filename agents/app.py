"""The Faust app (`vigil worker`), built by `create_app(settings)`: nothing
happens at import.

One agent consumes `vigil.readings`. For each record (one device frame, all
from one patient, keyed by the patient's pseudonym; or, version 2, several
frames of patients of the same partition that the gateway coalesced) it decodes
and checks each frame (`app.core.records.decode_frames`), looks up the patient reference
alert consumers need (`app.infra.pseudonyms`), advances the patient's state with
`app.core.patient.process_record`, sends any alert events to `vigil.alerts`,
and writes the state back once (`agents.codec`: Vigil's versioned encoding,
never pickle). A record, or one frame of a record of several, that cannot be
processed goes to `vigil.dead-letter` and the agent carries on with the rest.

Settings that Faust gets wrong for health data are set here on purpose:
the web server binds to an explicit address with its table, router, stats
and graph views off; the agent runs with concurrency 1, so an offset is never
committed past a record still being processed (faust-streaming #606);
changelog replication follows VIGIL_REPLICATION_FACTOR.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import faust
import orjson
import structlog
from aiohttp import web as aiohttp_web
from aiokafka.errors import KafkaError, KafkaTimeoutError
from aiokafka.structs import TopicPartition
from faust.types import TP

from agents.cache import MAX_HELD_RECORDS, MAX_UNFLUSHED, Change, DecodedStates, PatientCensus, Unflushed
from agents.codec import EncodedState, StoredPatientState, load_state
from app import native
from app.core import patient as core
from app.core import state as patient_state
from app.core.errors import RECORD_FAILURES, Exit, RecordError, StateError, TopicError
from app.core.offsets import OffsetCursors, Step
from app.core.records import ReadingBatch, decode_frames, encode_dead_letter
from app.core.watchdog import Watchdog, partitions_waiting
from app.infra import gc_tuning, metrics, ports, preflight
from app.infra.directory import KafkaPatients
from app.infra.kafka_security import faust_credentials
from app.infra.preflight import leads
from app.infra.pseudonyms import PatientDirectory, load_key
from app.infra.registry import Registry
from app.infra.settings import (
    ALERTS_TOPIC,
    DEAD_LETTER_TOPIC,
    PRODUCER_BATCH_BYTES,
    READINGS_TOPIC,
    Settings,
)

log = structlog.get_logger()

COMMIT_WAIT_S = 10.0  # how long the revocation's commit waits for one already under way
KAFKA_PROBE_S = 2.0  # how often readiness asks Kafka whether it is there
BACKLOG_EVERY = 5  # the watchdog asks Kafka whether records wait on the worker's partitions every 5th probe
FLUSH_TIMER_S = 0.1  # how often an idle worker checks whether a flush is due
RESEEK_TIMER_S = 0.5  # how often the worker checks for a gap whose records have not come again
CENSUS_TIMER_S = 0.25  # how often the worker counts a slice of its patients (`PatientCensus`)
# A record's alert events (or its dead letter) that Kafka did not take, for want of a
# broker or in time, are sent again after this, doubling up to SEND_RETRY_MAX_S (`send_all`).
SEND_RETRY_S = 0.5
SEND_RETRY_MAX_S = 30.0
# How long the worker's producer waits on one send before failing it (Faust's
# `producer_request_timeout`, 20 minutes by default; aiokafka's own is 40 s).
# It bounds each wait on Kafka of a record's alert events, of a dead letter and
# of a flush of patient states, the revocation handler's included, below the
# group's rebalance timeout (60 s); a send that failed so is tried again
# (`send_all`, `flush`), its error class logged and counted.
PRODUCER_REQUEST_TIMEOUT_S = 40.0

# Label children bound once: `.labels()` per reading would cost a dict lookup
# and a lock on the hot path.
_OUTCOMES = {name: metrics.PROCESSED.labels(name) for name in core.READING_OUTCOMES}
_UNDECODABLE = metrics.PROCESSED.labels("undecodable")
_FAILED = {reason: metrics.RECORDS_FAILED.labels(reason) for reason in RECORD_FAILURES}
_SEND_RETRIES = {topic: metrics.SEND_RETRIES.labels(topic) for topic in (ALERTS_TOPIC, DEAD_LETTER_TOPIC)}
_STAGE_DECODE = metrics.PROCESS_TIME.labels("decode")
_STAGE_SCORE = metrics.PROCESS_TIME.labels("score")
_STAGE_EMIT = metrics.PROCESS_TIME.labels("emit")
_FLUSHED = metrics.FLUSH_SIZE
FAUST_PORT_NAMED = 6066  # the port Faust is told of when the worker's is 0 (`faust_app`)


def faust_app(settings: Settings) -> faust.App:
    return faust.App(
        settings.worker_id,
        broker=f"kafka://{settings.bootstrap}",
        broker_credentials=faust_credentials(settings),
        # Tables live in RocksDB under VIGIL_HOME/worker, backed by the changelog:
        # a restarted worker reads only the changelog records written since its
        # last commit, not every patient's state again (crash recovery in
        # seconds), and states rest on disk rather than in the Python heap.
        store=settings.worker_store,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        producer_acks=-1,
        # No linger. Before the record cache, a changelog record was sent per
        # Kafka record and 5 ms of linger batched them; now a flush sends
        # every changed patient in one go (they batch without linger), and the
        # waits that remain are synchronous: a record that raised alerts waits
        # for its alert events, then for its patient's state, and each wait
        # paid the whole linger (docs/benchmarks.md, "Linger after the record
        # cache": 1.38x at ten readings per record).
        producer_linger=0.0,
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        producer_request_timeout=PRODUCER_REQUEST_TIMEOUT_S,
        consumer_auto_offset_reset="earliest",
        # Records are acked only once the states they changed are flushed
        # (`Worker.flush`); Faust waiting for every record to be acked before
        # a rebalance or a stop would wait for a flush its own stopping
        # timers no longer run. The worker flushes and commits in its
        # revocation handler instead, and a stop replays what was not flushed.
        stream_wait_empty=False,
        broker_session_timeout=settings.worker_session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.worker_session_timeout_s / 3),
        web_enabled=True,
        web_bind=settings.worker_web_host,
        web_host=settings.worker_web_host,
        # Faust refuses port 0 (its Port setting starts at 1) and only names
        # this one in its metadata: the worker binds its web server itself, to
        # VIGIL_WORKER_WEB_PORT, 0 included (`serve_web`).
        web_port=settings.worker_web_port or FAUST_PORT_NAMED,
        web_in_thread=False,
        web_tables_enabled=False,
        web_router_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_metrics_enabled=False,
        datadir=str(settings.worker_dir),
    )


class Worker:
    """Everything one worker process holds: the Faust app, its topics, the
    patients table, the decoded-state cache and the detector's settings."""

    def __init__(
        self,
        settings: Settings,
        directory: PatientDirectory | KafkaPatients,
        ports_file: Path | None = None,
    ) -> None:
        self.settings = settings
        self.ports_file = ports_file  # where to report the web port bound (`--ports-file`)
        self.directory = directory
        self.config = settings.detector_config()
        self.kafka_up = False
        self.kafka_seen = False  # Kafka has answered once: a later "available" is a return
        for partition in range(settings.partitions):  # at zero before any gap (docs/operations.md)
            metrics.OFFSET_GAPS.labels(str(partition))
        self.joined = False  # the group has given this worker its share once (possibly none)
        self.handled = 0  # records handled: progress, for the watchdog
        self.watchdog = Watchdog(settings.worker_stall_s)
        self.behind = False  # records wait on its partitions past those it handled (`lagging`)
        self.waiting: dict[int, int | None] = {}  # those partitions, each with what it handled there
        self.backlog: dict[int, tuple[int, int]] = {}  # Kafka's (end, resume) of its partitions, last asked
        # Partitions found with nothing to read (`drop_hollow`): their (end, start) then.
        self.hollow: dict[int, tuple[int, int]] = {}
        self.decoded = DecodedStates(settings.worker_decoded_cache)
        self.unflushed = Unflushed()
        self.max_unflushed = max(MAX_UNFLUSHED, settings.worker_decoded_cache)
        self.census = PatientCensus()
        self.flushed_at = time.monotonic()
        self.lock = asyncio.Lock()  # one record, or one flush, at a time
        self.writes = KafkaWrites()  # what waits on Kafka, and since when
        metrics.KAFKA_WRITE_WAIT.set_function(self.writes.oldest_s)
        self.cursors = OffsetCursors()  # the next offset expected per partition (`in_order`)
        # Per partition of vigil.readings since its assignment: the offset after
        # the last record whose patients' states are written (`flush`), which
        # is what Faust commits (`_commit_what_is_written`).
        self.written: dict[int, int] = {}
        self.generation = 0  # partitions moved this many times (`in_order`)
        self.app = app = faust_app(settings)
        self.readings = app.topic(READINGS_TOPIC, key_serializer="raw", value_serializer="raw")
        self.alerts = app.topic(ALERTS_TOPIC, key_serializer="raw", value_serializer="raw")
        self.dead_letters = app.topic(DEAD_LETTER_TOPIC, key_serializer="raw", value_serializer="raw")
        self.patients = app.Table(
            "patients",
            default=None,
            key_type=bytes,
            value_type=StoredPatientState,
            partitions=settings.partitions,
            # The changelog is compacted, but Kafka compacts only closed segments:
            # rolling them every 10 minutes keeps what a fresh worker must replay
            # close to one record per patient instead of one per record processed.
            extra_topic_configs={"segment.ms": str(10 * 60 * 1000), "min.cleanable.dirty.ratio": "0.2"},
        )
        self._wire()

    def _wire(self) -> None:
        app = self.app
        _commit_what_is_written(app.consumer, self.written)
        app.agent(self.readings, name="detect", concurrency=1)(self.detect)
        app.task(self.private_datadir)
        app.task(self.tune_gc)
        # Faust makes a view class of each page function and calls it as a
        # method (view, request): plain functions, not bound methods.
        pages = {"/healthz": self.healthz, "/readyz": self.readyz, "/metrics": self.metrics_view}
        for path, handler in pages.items():
            app.page(path)(_page(handler))
        app.timer(interval=FLUSH_TIMER_S, name="flush_states")(self.flush_idle)
        app.timer(interval=RESEEK_TIMER_S, name="reseek_gaps")(self.reseek_gaps)
        app.timer(interval=CENSUS_TIMER_S, name="count_patients")(self.count_patients)
        app.on_partitions_revoked.connect(self.revoked)
        app.on_partitions_assigned.connect(self.assigned)
        self._serve_web()

    # -- the agent ------------------------------------------------------------------

    async def detect(self, stream: faust.StreamT[bytes]) -> None:
        """One record at a time. A record that cannot be processed, whatever
        the reason, goes to `vigil.dead-letter` and the agent carries on: no
        record can stop the worker (an exception escaping here would restart
        the agent and skip the record uncounted).

        Records are acknowledged to Faust (and so become committable) only
        when the states they changed are in the changelog: `flush`."""
        await self.directory_loaded()
        manual = stream.noack()  # type: ignore[attr-defined]  # Stream's, not in StreamT
        async for value in manual:
            event = manual.current_event
            message = event.message if event is not None else None
            if not await self.in_order(message):
                continue  # past a gap: not processed, not acked; the skipped records come again
            async with self.lock:
                urgent = await self.handle_record(value, message)
                records = [(manual, event)] if event is not None else []
                if urgent:
                    # A record that raised alerts has its patients written at
                    # once: replayed after a crash from an older state, it
                    # would send them again. The record itself is released
                    # with the records before it (`Unflushed.take_some`), by
                    # the next flush, which writes its other patients too.
                    await self.flush(self.unflushed.take_some(urgent, records))
                else:
                    self.unflushed.events += records
                if self.flush_due():
                    await self.flush(self.unflushed.take())
                    self.flushed_at = time.monotonic()

    async def in_order(self, message: Any) -> bool:
        """Whether to process this record: it is the next one expected of its
        partition (or one before it). A record past a gap (records of the
        partition skipped on the way here: a Faust fetch-loop bug seen after
        rebalances, docs/reliability.md) is counted, logged and not
        processed, and the partition is sought back to the expected offset so
        the skipped records are fetched again; commits cannot pass them (they
        take what is written, in order: `_commit_what_is_written`). A seek
        that fails is tried again (`reseek_gaps`); only after `max_seeks`
        seeks in vain is the record processed, past the gap, and commits
        then pass the skipped records (a transactional producer's commit
        marker takes an offset no record has: docs/protocol.md).

        A record whose partition moved while Kafka was asked where it is
        committed (a rebalance during the wait) is not processed: the
        partition's new owner, or this worker after the assignment, reads it."""
        if message is None or message.topic != READINGS_TOPIC:
            return True
        partition, offset = message.partition, message.offset
        consumer = self.app.consumer
        tp = TP(READINGS_TOPIC, partition)
        committed = None
        if not self.cursors.knows(partition):
            generation = self.generation
            committed = await self.kafka_committed(tp)
            if generation != self.generation:
                return self._not_processed(message)
            if committed is not None:
                _align_committed(consumer, tp, committed)
        step = self.cursors.check(partition, offset, committed, time.monotonic())
        if step is Step.PROCESS:
            self.cursors.processed(partition, offset)
            return True
        expected = self.cursors.expected(partition)
        _report_gap(step, partition, expected, offset)
        if step is Step.GIVE_UP:
            metrics.OFFSET_GAPS_UNRECOVERED.inc()  # the skipped records' readings are not in the states
            self.cursors.processed(partition, offset)
            return True
        if step is Step.SETTLE:
            metrics.OFFSET_GAPS_UNRECOVERED.inc()  # those never seen again are given up
        if step is not Step.SKIP:
            await self.seek_back(tp, expected)  # if it fails, the timer seeks again (`reseek_gaps`)
        return self._not_processed(message)

    def _not_processed(self, message: Any) -> bool:
        """A record left unprocessed and unacknowledged: it comes again."""
        self.app.consumer._unacked_messages.discard(message)  # type: ignore[attr-defined]  # never to be acked
        return False

    async def reseek_gaps(self) -> None:
        """Seek again the partitions whose records past a gap have not come
        again (`OffsetCursors.reseeks_due`)."""
        for partition, expected in self.cursors.reseeks_due(time.monotonic()):
            _report_gap(Step.RESEEK, partition, expected, None)
            await self.seek_back(TP(READINGS_TOPIC, partition), expected)

    async def kafka_committed(self, tp: TP) -> int | None:
        """Where the first record of `tp` after an assignment is expected:
        the partition's committed offset as Kafka has it or, when nothing
        was ever committed there or retention has deleted the records from
        there on, its first offset (where a consumer starts with
        `consumer_auto_offset_reset="earliest"`; expecting the deleted
        offset, the worker sought back 5 times in vain). A partition never
        committed is not trusted to start anywhere: in a scale-kill run the
        worker that died had not yet committed one of its partitions, and
        the new owner's first record was the first one written after the
        rebalance, 250 records in; with nothing committed Faust then
        commits past the skipped ones (docs/reliability.md).

        Kafka's, not Faust's copy (`_committed_offset`): for a partition
        this worker held before, the revocation handler's commit puts a
        value back after Faust forgot it, and the first records can come
        before Faust's seek of the new assignment updates it (in
        worker-join-leave it named offsets hundreds of records behind
        Kafka's). None, and no check, if Kafka does not say."""
        thread = self.app.consumer._thread  # type: ignore[attr-defined]  # Faust's consumer thread
        try:
            kafka = thread._ensure_consumer()
            wait = KAFKA_PROBE_S * 5
            committed = await asyncio.wait_for(thread.call_thread(kafka.committed, tp), wait)
            first = await self._first_offset(tp)
            if not isinstance(committed, int) or (first is not None and first > committed):
                committed = first  # nothing committed, or deleted since: the consumer reads from `first`
            return committed if isinstance(committed, int) else None
        except Exception as exc:  # noqa: BLE001 - no check for this partition's first record
            log.warning("committed offset not known; first record not checked", error=type(exc).__name__)
            return None

    async def _first_offset(self, tp: TP) -> int | None:
        """The partition's first offset, or None if Kafka does not say in time."""
        thread = self.app.consumer._thread  # type: ignore[attr-defined]  # Faust's consumer thread
        start = TopicPartition(tp.topic, tp.partition)
        try:
            kafka = thread._ensure_consumer()
            starts = await asyncio.wait_for(
                thread.call_thread(kafka.beginning_offsets, [start]), KAFKA_PROBE_S * 5
            )
        except Exception:  # noqa: BLE001 - the committed offset alone, then
            return None
        first = starts.get(start)
        return first if isinstance(first, int) else None

    async def seek_back(self, tp: TP, offset: int | None) -> None:
        """Seek `tp` to `offset`: aiokafka's position, and Faust's read
        offset, below which it would drop the records fetched again.
        Commits cannot pass `offset` meanwhile: they take what is written,
        in order (`_commit_what_is_written`), not what Faust counts as
        acknowledged (a stream acks records it skips as fetched before a
        rebalance, and `_gap` ranges count as acked)."""
        consumer = self.app.consumer
        try:
            if offset is None or tp not in consumer.assignment():
                raise ValueError("partition not assigned")
            # In the consumer's own thread and loop (`seek` would move
            # aiokafka's position from this one: the partition went silent).
            await asyncio.wait_for(consumer.seek_wait({tp: offset}), KAFKA_PROBE_S * 5)
            consumer._read_offset[tp] = offset or None  # type: ignore[attr-defined]  # as Faust's `seek`
        except Exception as exc:  # noqa: BLE001 - the timer seeks again (`reseek_gaps`)
            log.warning(
                "could not seek back past a gap; seeking again",
                partition=tp.partition,
                expected=offset,
                error=type(exc).__name__,
            )

    async def handle_record(self, value: bytes, message: Any) -> list[bytes]:
        """Process each frame of one record (one, or several the gateway
        coalesced); the keys of the patients it sent alert events for (to be
        written at once). A frame that fails is dead-lettered alone and its
        neighbours processed."""
        partition = message.partition if message is not None else None
        self.handled += 1
        try:
            frames = decode_frames(value)
        except Exception as exc:  # noqa: BLE001 - every failure is dead-lettered and counted
            await self.dead_letter(exc, value, message)
            return []
        alerted: list[bytes] = []
        tally = _Tally()
        for index, frame in enumerate(frames):
            try:
                if not isinstance(frame, ReadingBatch):
                    raise frame
                key = await self.handle(frame, partition, tally)
            except Exception as exc:  # noqa: BLE001 - every failure is dead-lettered and counted
                await self.dead_letter(exc, value, message, index if len(frames) > 1 else None)
                continue
            if key is not None:
                alerted.append(key)
        tally.record()
        return alerted

    async def handle(self, batch: ReadingBatch, partition: int | None, tally: _Tally) -> bytes | None:
        """Process one frame, adding its metrics to its record's `tally`; the
        patient's key when it sent alert events."""
        started = time.perf_counter()
        structlog.contextvars.bind_contextvars(trace_id=batch.trace, partition=partition)
        subject = batch.patient  # the pseudonym; the real identifier never comes here
        key = subject.encode()
        state = self.decoded.take(key)
        if state is None:
            change = self.unflushed.states.get(key)
            state = load_state(EncodedState(change.data) if change else self.patients.get(key))
        decoded = time.perf_counter()
        tally.decode += decoded - started

        if not tally.received or batch.received_ms < tally.received:
            tally.received = batch.received_ms
        result = core.process_record(state, batch, self.config, self.directory.patient(subject))
        encoded = patient_state.encode(state)  # bounded (MAX_STATE_BYTES); raises StateError otherwise
        scored = time.perf_counter()
        tally.add(batch.readings, result, scored - decoded)

        if result.events:
            await self.emit(key, result.events, batch.received_ms)
        if partition is None:  # not from a Kafka record (a test): straight to the table
            self.patients[key] = EncodedState(encoded)
        else:
            self.unflushed.states[key] = Change(partition, encoded)
        self.decoded.put(key, state)
        log.debug("record processed", count=len(batch.readings), events=len(result.events))
        tally.emit += time.perf_counter() - scored
        return key if result.events else None

    # -- the record cache -----------------------------------------------------------

    def flush_due(self) -> bool:
        return (
            len(self.unflushed) >= self.max_unflushed
            or len(self.unflushed.events) >= MAX_HELD_RECORDS
            or time.monotonic() - self.flushed_at >= self.settings.worker_flush_interval_s
        )

    async def flush(self, taken: Unflushed) -> None:
        """Write each patient taken from the record cache to the changelog
        once, wait until Kafka has every one, write them to the local store,
        and only then acknowledge the records taken with them to Faust, whose
        next commit may then pass them. Faust's own flush before a commit
        gives up after 0.1 s (`ProducerBuffer.flush_atmost`), so the
        futures are awaited here. Called with `self.lock` held; on failure
        everything goes back to the cache for the next flush."""
        if not taken:
            return
        started = time.perf_counter()
        owned = self.owned()
        try:
            changed = [(key, change) for key, change in taken.states.items() if change.partition in owned]
            if changed:
                with self.writes.waiting():
                    written = await self.write_changelog(changed)
                records = zip(changed, written, strict=True)
                self.patients.apply_changelog_batch(
                    [_Written.of(key, change.data, meta) for (key, change), meta in records]  # type: ignore[misc]
                )
        except Exception as exc:  # noqa: BLE001 - Kafka refused or timed out: keep them, try again
            self.unflushed.restore(taken)
            metrics.FLUSH_FAILURES.inc()
            log.warning("patient states not yet written; will try again", error=type(exc).__name__)
            return
        for stream, event in taken.events:
            await stream.ack(event)
            message = event.message
            if message.topic == READINGS_TOPIC:  # in order: `in_order` lets no record pass a gap
                self.written[message.partition] = message.offset + 1
                self.app.consumer._acked[message.tp]  # type: ignore[attr-defined]  # Faust commits only partitions listed there
        _FLUSHED.observe(len(taken.states))
        metrics.FLUSH_SECONDS.observe(time.perf_counter() - started)

    async def write_changelog(self, changed: list[tuple[bytes, Change]]) -> list[Any]:
        """Send each patient's state to the `patients` table's changelog and
        wait until Kafka has them all; their Kafka metadata, in order.

        Straight to the producer, as Faust's own sends of a topic's records
        do, not through `Table.send_changelog`: that path queues each record
        in Faust's producer buffer, serializes its key through the codec
        registry and, once sent, writes the record's offset to RocksDB, one
        write per record (`Collection._on_changelog_sent`); `flush` writes
        the states and each partition's last offset in one batch after
        (docs/benchmarks.md, "The changelog sent straight to the
        producer"). The states are already encoded and bounded."""
        producer = self.app.producer
        topic = self.patients.changelog_topic.get_topic_name()
        sent = [
            await producer.send(topic, key, change.data, change.partition, None, None)
            for key, change in changed
        ]
        written = await asyncio.gather(*sent)
        metrics.CHANGELOG_WRITES.inc(len(changed))
        metrics.CHANGELOG_BYTES.inc(sum(len(change.data) for _, change in changed))
        return written

    def owned(self) -> set[int]:
        """Partitions of `vigil.readings` this worker holds now: a state
        changed by a record of a partition since moved to another worker is
        not written (its record, never acked, is that worker's to replay)."""
        try:
            assignment = self.app.consumer.assignment()
        except Exception:  # noqa: BLE001 - no consumer yet
            return set()
        return {tp.partition for tp in assignment if tp.topic == READINGS_TOPIC}

    async def flush_idle(self) -> None:
        """The timer's flush, for when no record arrives to trigger one (and
        during a rebalance, while Faust waits for every record to be acked)."""
        if self.unflushed and not self.lock.locked() and self.flush_due():
            async with self.lock:
                await self.flush(self.unflushed.take())
                self.flushed_at = time.monotonic()

    async def emit(self, key: bytes, events: list[dict[str, Any]], received_ms: int) -> None:
        """Send a record's alert events and wait until Kafka has them, before
        the patient's state moves on: the store (RocksDB) is written at once,
        so a state stored ahead of undelivered events would, after a crash,
        have the record reprocessed against it and its events never sent
        (the fault suite found one so). Kafka acknowledging them first means
        a crash can at worst repeat an event, with the same `alert_id`."""
        await self.send_all(self.alerts, key, [orjson.dumps(event) for event in events], "alert events")
        for event in events:
            metrics.ALERTS.labels(event["kind"], event["severity"], event["status"]).inc()
        metrics.END_TO_END.observe(max(0.0, time.time() - received_ms / 1000))

    async def dead_letter(self, exc: Exception, value: bytes, message: Any, frame: int | None = None) -> None:
        """Put a failed record's whereabouts and reason on `vigil.dead-letter`.
        The log line and the record carry the reason and the exception's
        class, never its message, which could quote a value from the record."""
        reason, detail = _failure(exc)
        _FAILED[reason].inc()
        if reason in ("undecodable", "wrong_shape"):
            _UNDECODABLE.inc()  # the older, coarser count of the same thing
        partition = message.partition if message is not None else None
        offset = message.offset if message is not None else None
        log.warning(
            "record sent to the dead-letter topic",
            reason=reason,
            detail=detail,
            partition=partition,
            offset=offset,
            frame=frame,
        )
        if reason == "error":  # where it raised, for a developer; not the message, which may quote values
            frames = traceback.extract_tb(exc.__traceback__)
            log.debug("record failure", where=[f"{f.filename}:{f.lineno} {f.name}" for f in frames[-5:]])
        letter = encode_dead_letter(reason, detail, READINGS_TOPIC, partition, offset, value, frame)
        await self.send_all(self.dead_letters, None, [letter], "dead letter")

    async def send_all(self, topic: Any, key: bytes | None, values: list[bytes], what: str) -> None:
        """Send `values` to `topic` and wait until Kafka has every one. Kafka
        out of reach, timing out or moving a partition's leader (aiokafka's
        retriable errors and its timeout, as they are or wrapped by Faust) is
        not the record's fault: the sends are tried again, after
        `SEND_RETRY_S` doubling up to `SEND_RETRY_MAX_S`, for as long as it
        lasts, so no record is dead-lettered and no alert lost for an outage
        (the worker's producer gives up on a send after
        `PRODUCER_REQUEST_TIMEOUT_S`, 40 s). A value Kafka took before
        is sent again: an alert event repeats its `alert_id`, which consumers
        deduplicate on. Any other error (not authorised, too large) is
        raised: the record is dead-lettered, or the dead letter's failure
        stops the agent as before. The log line names the error's class
        only, never the key (a patient's pseudonym)."""
        delay = SEND_RETRY_S
        with self.writes.waiting():
            while True:
                try:
                    sent = [await topic.send(key=key, value=value) for value in values]
                    await asyncio.gather(*sent)
                    return
                except Exception as exc:
                    if not _kafka_trouble(exc):
                        raise
                    _SEND_RETRIES[topic.get_topic_name()].inc()
                    log.warning(
                        f"{what} not written to Kafka; trying again", error=type(exc).__name__, retry_s=delay
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, SEND_RETRY_MAX_S)

    async def revoked(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        """Partitions are moving: the patients changed since the last flush
        are written and their records committed first (Faust's own wait for
        acknowledged records is off: `stream_wait_empty`), then states
        another worker may advance are forgotten."""
        self.generation += 1
        async with self.lock:
            await self.flush(self.unflushed.take())
            if self.unflushed:  # Kafka refused: the records were never acked, so the new owner replays them
                self.unflushed.take()
            else:
                await _commit_now(self.app.consumer, self.written)
        self.decoded.clear()
        self.cursors.reset()
        self.written.clear()
        self.hollow.clear()
        self.census.restart()

    async def assigned(self, sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        self.generation += 1
        self.decoded.clear()
        self.cursors.reset()
        self.written.clear()
        self.hollow.clear()
        self.census.restart()
        self.joined = True

    async def count_patients(self) -> None:
        """The next slice of the patients' census (`PatientCensus`)."""
        try:
            count = self.census.step(self.patients.data)
        except Exception as exc:  # noqa: BLE001 - a store closed under the count: start over
            log.debug("patient census restarted", error=type(exc).__name__)
            self.census.restart()
            return
        if count is not None:
            metrics.PATIENTS.set(count)

    # -- housekeeping ---------------------------------------------------------------

    async def private_datadir(self) -> None:
        """The tables' RocksDB files hold patients' states: the folder is the
        owner's alone (created so, and tightened if it already existed)."""
        datadir = self.settings.worker_dir
        datadir.mkdir(mode=0o700, parents=True, exist_ok=True)
        datadir.chmod(0o700)

    async def tune_gc(self) -> None:
        """Once the worker is up, the collector as the gateway has it
        (`app.infra.gc_tuning`): what exists is frozen and the youngest
        generation collected every 50,000 allocations. With 20,000 patients
        the decoded states are millions of long-lived objects, and CPython's
        default thresholds scanned them in 17 full collections of up to
        0.2 s each in a 200,000-reading run, every one a pause of the agent
        (docs/benchmarks.md, "The worker's garbage collector")."""
        gc_tuning.tune()

    async def directory_loaded(self) -> None:
        """With `VIGIL_REGISTRY=kafka`: `vigil.patients` read to its end (and
        followed from then on) before the first record, so that alerts carry
        the patient reference from the start."""
        directory = self.directory
        if not isinstance(directory, KafkaPatients) or directory.mirror.loaded:
            return
        while True:
            try:
                await directory.mirror.start()
                break
            except (KafkaError, OSError, TopicError) as exc:
                log.warning("patient directory not readable yet; trying again", error=type(exc).__name__)
                await directory.mirror.stop()
                await asyncio.sleep(2)
        self.app.add_future(directory.mirror.follow())

    async def watch(self) -> None:
        """Readiness's Kafka probe and the watchdog, every KAFKA_PROBE_S from
        the moment the web server is up: Faust starts its timers only once the
        first recovery is complete, and a worker can stall before that (its
        first join)."""
        looks = 0
        while True:
            try:
                await self.probe_kafka()
                if looks % BACKLOG_EVERY == 0:
                    self.waiting = await self.lagging()
                    self.behind = bool(self.waiting)
                looks += 1
                await self.watch_stall()
            except Exception as exc:  # noqa: BLE001 - a failed look is not a reason to stop looking
                log.warning("readiness probe failed; trying again", error=type(exc).__name__)
            await asyncio.sleep(KAFKA_PROBE_S)

    async def probe_kafka(self) -> None:
        """The consumer keeps its partitions while the broker is down (a dead
        broker, a full disk that took its log directory offline), so
        readiness asks Kafka itself every few seconds."""
        was, self.kafka_up = self.kafka_up, await leads(self.settings, READINGS_TOPIC)
        metrics.KAFKA_REACHABLE.set(1 if self.kafka_up else 0)
        if was and not self.kafka_up:
            log.warning("kafka unavailable; readings wait on vigil.readings until it is back")
        elif self.kafka_up and not was and self.kafka_seen:
            log.info("kafka available again")
        self.kafka_seen = self.kafka_seen or self.kafka_up

    async def watch_stall(self) -> None:
        """A worker that Kafka answers but that has been not ready, or ready
        while records wait on its partitions (`lagging`), without progress,
        for `VIGIL_WORKER_STALL_S` stops itself, exit code 6
        (`app.core.watchdog`): it would process nothing for any patient
        until restarted, and its supervisor restarts it. It exits at once,
        as a SIGKILL would: a graceful stop would wait on the same stuck
        consumer, and what it had not committed is replayed after the
        restart (docs/reliability.md)."""
        now = time.monotonic()

        def look() -> float | None:
            return self.watchdog.observe(
                now,
                kafka_up=self.kafka_up,
                ready=self.ready(),
                progress=self.progress(),
                behind=self.behind,
                waiting=self.waiting,
            )

        stalled = look()
        if stalled is not None and self.behind and self.ready():
            await self.drop_hollow()
            stalled = look()  # again, without the partitions that hold nothing to read
        if stalled is None:
            return
        consumer_loop = getattr(getattr(self.app.consumer, "_thread", None), "thread_loop", None)
        log.warning(
            "stalled worker's tasks",
            tasks=_awaiting_chains(asyncio.get_running_loop()),
            consumer_tasks=_awaiting_chains(consumer_loop) if consumer_loop is not None else [],
        )
        log.error(
            "worker stalled: "
            + (
                "records wait, none handled, on partitions"
                if self.behind and self.ready()
                else "not ready, no progress"
            )
            + " while Kafka answers; exiting with code 6 for its supervisor to restart it",
            stalled_s=round(stalled),
            partitions=self.watchdog.stalled_partitions(now),
            setting="VIGIL_WORKER_STALL_S",
        )
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(Exit.STALLED)

    async def drop_hollow(self) -> None:
        """Before records waiting are called a stall, ask Kafka whether there
        is a record to read where they wait: an end offset past a partition's
        last record is none (a transactional producer's commit marker takes
        an offset, docs/protocol.md), and restarting for it would only find
        the same (an outside review). Partitions found with nothing to read
        are left out of `waiting` until their end or the offset looked from
        moves, or the partitions move (`lagging`, `assigned`). Kept when
        Kafka does not say."""
        starts = {
            partition: max(self.backlog[partition][1], handled if handled is not None else 0)
            for partition, handled in self.waiting.items()
            if partition in self.backlog
        }
        holding = await preflight.holding_records(self.settings, READINGS_TOPIC, starts)
        if holding is None:
            return
        for partition in sorted(set(starts) - holding):
            self.hollow[partition] = (self.backlog[partition][0], starts[partition])
            log.info("nothing to read where records seemed to wait; not a stall", partition=partition)
        self.waiting = {partition: h for partition, h in self.waiting.items() if partition not in self.hollow}
        self.behind = bool(self.waiting)

    async def lagging(self) -> dict[int, int | None]:
        """This worker's partitions of `vigil.readings` where records wait,
        as Kafka has it, past those it handled, each with the offset after
        the last it handled there (`partitions_waiting`). Asked only of a
        ready worker (a not-ready one is watched anyway), with a client of
        its own (`preflight.backlog`); none when Kafka does not say."""
        if not self.ready():
            return {}
        try:
            mine = sorted(tp.partition for tp in self.app.consumer.assignment() if tp.topic == READINGS_TOPIC)
        except Exception:  # noqa: BLE001 - no consumer yet
            return {}
        if not mine:
            return {}
        backlog = await preflight.backlog(self.settings, READINGS_TOPIC, self.settings.worker_id, mine)
        if backlog is None:
            return {}
        self.backlog = backlog
        waiting = partitions_waiting(backlog, self.cursors.expected)
        self.hollow = {  # still hollow: the same end, looked at from the same start
            p: (end, start)
            for p, (end, start) in self.hollow.items()
            if p in waiting and backlog[p][0] == end and max(backlog[p][1], waiting[p] or 0) == start
        }
        return {partition: handled for partition, handled in waiting.items() if partition not in self.hollow}

    def progress(self) -> tuple[int, int, int]:
        """What the worker has done so far: records handled, and changelog
        records recovered into its tables (a recovery is progress)."""
        recovery = self.app.tables.recovery  # type: ignore[attr-defined]  # TableManager's, untyped
        recovered = sum(o for o in recovery.active_offsets.values() if o is not None)
        standby = sum(o for o in recovery.standby_offsets.values() if o is not None)
        return self.handled, recovered, standby

    def ready(self) -> bool:
        """Kafka reachable, a member of its group with its share of the
        partitions (none, when the group has more workers than partitions or
        Faust's sticky assignor leaves it idle: it is ready to take some),
        and the tables recovered from their changelog."""
        return not self.not_ready_because()

    def not_ready_because(self) -> str:
        """Why /readyz says 503, in a few words (`vigil status` prints them); "" when ready."""
        app = self.app
        if not self.kafka_up:
            return f"Kafka at {self.settings.bootstrap} does not answer with a leader for every partition"
        if not self.joined:
            return "joining its consumer group"
        if app.rebalancing:
            return "its consumer group is rebalancing"
        if not app.tables.recovery.completed.is_set():  # type: ignore[attr-defined]  # TableManager's, untyped
            return "recovering the patients' state from the changelog"
        if isinstance(self.directory, KafkaPatients) and not self.directory.mirror.loaded:
            return "loading the patient directory"
        return ""

    # -- HTTP -----------------------------------------------------------------------

    def _serve_web(self) -> None:
        def started() -> None:
            self.app.add_future(self.watch())

        serve_web(
            self.app, self.settings.worker_web_host, self.settings.worker_web_port, self.ports_file, started
        )

    async def healthz(self, web: Any) -> Any:
        return web.text("ok\n")

    async def readyz(self, web: Any) -> Any:
        ready = self.ready()
        metrics.WORKER_READY.set(1 if ready else 0)
        body = "ready\n" if ready else f"not ready: {self.not_ready_because()}\n"
        return web.text(body, status=200 if ready else 503)

    async def metrics_view(self, web: Any) -> Any:
        metrics.WORKER_READY.set(1 if self.ready() else 0)
        self.record_lag()
        body, content_type = metrics.exposition(metrics.WORKER)
        # aiohttp refuses a charset inside content_type=, so pass the header whole.
        return web.bytes(body, headers={"Content-Type": content_type})

    def record_lag(self) -> None:
        try:
            consumer = self.app.consumer
            assigned = [tp for tp in consumer.assignment() if tp.topic == READINGS_TOPIC]
        except Exception:  # noqa: BLE001 - no consumer yet
            return
        metrics.CONSUMER_LAG.clear()
        for tp in assigned:
            read = consumer._read_offset.get(tp)  # type: ignore[attr-defined]  # Faust keeps it; no public view
            try:
                highwater = consumer.highwater(tp)
            except Exception:  # noqa: BLE001 - not fetched yet
                continue
            if highwater is not None:
                lag = highwater - (read + 1 if read is not None else 0)
                metrics.CONSUMER_LAG.labels(str(tp.partition)).set(max(0, lag))


class _Message(NamedTuple):
    key: bytes
    value: bytes
    partition: int
    offset: int
    tp: TP


class _Written(NamedTuple):
    """A changelog record the worker wrote, in the shape Faust's stores take
    from recovery (`apply_changelog_batch`): the local store gets exactly
    what the changelog holds, and RocksDB records the offset it has."""

    key: bytes
    value: EncodedState
    message: _Message

    @classmethod
    def of(cls, key: bytes, data: bytes, meta: Any) -> _Written:
        tp = TP(meta.topic, meta.partition)
        return cls(key, EncodedState(data), _Message(key, data, meta.partition, meta.offset, tp))


def _awaiting_chains(loop: asyncio.AbstractEventLoop) -> list[str]:
    """Each task of `loop` as the chain of coroutines it waits in (code
    locations only, never a value): where a stalled worker is stuck. Faust
    runs its Kafka consumer in a thread with a loop of its own."""
    chains: list[str] = []
    for task in asyncio.all_tasks(loop):
        links: list[str] = []
        awaited: Any = task.get_coro()
        while awaited is not None and len(links) < 20:
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
            if frame is None:
                break
            code = frame.f_code
            links.append(f"{Path(code.co_filename).name}:{frame.f_lineno} {code.co_name}")
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
        chains.append(" > ".join(links) or repr(type(task.get_coro()).__name__))
    return sorted(chains)


_GAP_LINES = {  # what a gap's step logs, and at what level
    Step.SEEK: ("warning", "record past a gap in its partition; seeking back"),
    Step.RESEEK: ("warning", "records past a gap have not come again yet; seeking back again"),
    Step.SETTLE: (
        "error",
        "records past a gap did not come again; reading on from the first record seen past it",
    ),
    Step.GIVE_UP: ("error", "records past a gap did not come again; processing from here"),
}


def _report_gap(step: Step, partition: int, expected: int | None, got: int | None) -> None:
    """Count and log a gap (partition and offsets only: no patient data)."""
    if step is Step.SEEK:
        metrics.OFFSET_GAPS.labels(str(partition)).inc()
    if step in _GAP_LINES:
        level, line = _GAP_LINES[step]
        getattr(log, level)(line, partition=partition, expected=expected, got=got)


def _align_committed(consumer: Any, tp: TP, committed: int) -> None:
    """Set Faust's copy of `tp`'s committed offset to Kafka's, at the first
    record after an assignment. Faust's copy can be stale either way after a
    rebalance (docs/reliability.md, "Commits that crawled"):
    its `_commit_offsets` records an offset even when Kafka refused the
    commit, and the revocation handler's commit can put back a value from
    before the partition moved. Too low, `Consumer._new_offset` refuses every
    commit of the partition for good (it takes acknowledged offsets starting
    more than one past the committed one for a gap at the head); too high,
    `_should_commit` refuses every commit up to it. Offsets only: no patient data."""
    faust = consumer._committed_offset.get(tp)
    if faust is not None and faust != committed:
        metrics.COMMITTED_REALIGNED.inc()
        log.warning(
            "the consumer's copy of a committed offset differed from Kafka's; set to Kafka's",
            partition=tp.partition,
            faust=faust,
            kafka=committed,
        )
    consumer._committed_offset[tp] = committed


async def _commit_now(consumer: Any, written: Mapping[int, int]) -> None:
    """Commit what is written, every partition of it, now (the revocation's
    commit: what it leaves out, the partition's next owner reads again and
    sends its alert events again).

    Faust's `commit` returns at once, having committed nothing, when a
    commit of its own timer is under way, whose offsets were taken before
    this worker's last flush: that one is waited for first, for up to
    `COMMIT_WAIT_S` (aiokafka retries a commit while the group coordinator
    moves). And Faust commits only the partitions listed in its acknowledged
    offsets, which it forgets for every revoked partition before the
    revocation's handlers run: a partition written since the last commit,
    with no record in the revocation's own flush, would be left out; they
    are listed again here (an outside review found both)."""
    deadline = time.monotonic() + COMMIT_WAIT_S
    while consumer._commit_fut is not None and time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.shield(consumer.maybe_wait_for_commit_to_finish()), deadline - time.monotonic()
            )
        await asyncio.sleep(0)  # a future left done and set would not yield
    if consumer._commit_fut is not None:  # `commit` would wait on it again, without end
        log.warning(
            "a commit under way did not end in time; the revocation commits nothing", waited_s=COMMIT_WAIT_S
        )
        return
    for partition in written:
        consumer._acked[TP(READINGS_TOPIC, partition)]  # listed, for Faust's commit to take
    await consumer.commit()


def _commit_what_is_written(consumer: Any, written: Mapping[int, int]) -> None:
    """Have Faust commit, for each partition of `vigil.readings`, the offset
    after the last record whose states are written (`written`), and nothing
    of its own bookkeeping of acknowledged offsets there.

    The worker processes a partition's records strictly in order from its
    committed offset (`in_order`) and acknowledges them in that order once
    their states are in the changelog (`flush`), so that offset is exactly
    what may be committed. Faust's bookkeeping (`Consumer._new_offset`) is
    wrong after a rebalance in two ways seen in worker-join-leave
    (docs/reliability.md, "Commits that crawled"): the fetch loop records
    offsets it saw jump over as a `_gap`, merged into the acknowledged
    offsets at each commit even when they are acknowledged already, and
    with an offset twice in the list each commit takes one record (a
    committed offset crawled one record per commit for 100 s); and a
    stream acknowledges records it skips as fetched before the rebalance,
    which the worker never processed. Other topics (none is consumed with
    acks today) keep Faust's. Faust's lists for the partition are emptied
    at each commit, so they do not grow."""
    faust_new_offset = consumer._new_offset

    def new_offset(tp: TP) -> int | None:
        if tp.topic != READINGS_TOPIC:
            faust: int | None = faust_new_offset(tp)
            return faust
        consumer._acked[tp].clear()
        consumer._acked_index[tp].clear()
        consumer._gap.pop(tp, None)
        return written.get(tp.partition)

    consumer._new_offset = new_offset


def _page(handler: Any) -> Any:
    async def view(web: Any, request: Any) -> Any:
        return await handler(web)

    return view


class _Tally:
    """One `vigil.readings` record's metrics, added up over its frames (one,
    or several the gateway coalesced) and recorded once (`record`): the
    metrics are per record (docs/operations.md), and seven Prometheus
    updates per frame cost about a tenth of a coalesced record's time."""

    __slots__ = ("frames", "decode", "score", "emit", "readings", "newest", "received", "counts", "drifts")

    def __init__(self) -> None:
        self.frames = 0  # frames that reached the core
        self.decode = self.score = self.emit = 0.0  # seconds, by stage
        self.readings = 0
        self.newest = 0  # the newest reading's device timestamp (ms)
        self.received = 0  # when the gateway received the record's first frame (epoch ms; 0: none)
        self.counts: dict[str, int] = {}
        self.drifts: list[str] = []

    def add(self, readings: list[dict[str, Any]], result: core.RecordOutcome, seconds: float) -> None:
        """A frame's outcome, counted in the core, and its time in the core."""
        self.frames += 1
        self.score += seconds
        if readings:
            self.readings += len(readings)
            newest = max(r["ts"] for r in readings)
            self.newest = newest if newest > self.newest else self.newest
        counts = self.counts
        for outcome_name, n in result.counts.items():
            if n:
                counts[outcome_name] = counts.get(outcome_name, 0) + n
        self.drifts += result.drifts

    def record(self) -> None:
        if not self.frames:
            return
        _STAGE_DECODE.observe(self.decode)
        _STAGE_SCORE.observe(self.score)
        _STAGE_EMIT.observe(self.emit)
        if self.received:  # read after the frames' alert events were produced (`Worker.handle`)
            metrics.READING_LATENCY.observe(max(0.0, time.time() - self.received / 1000))
        if self.readings:
            metrics.MODEL_UPDATE.observe(self.score / self.readings)
            metrics.EVENT_TIME_LAG.observe(max(0.0, time.time() - self.newest / 1000))
        for outcome_name, n in self.counts.items():
            _OUTCOMES[outcome_name].inc(n)
        for vital in self.drifts:
            metrics.DRIFTS.labels(vital).inc()


class KafkaWrites:
    """The worker's writes to Kafka not yet finished (a record's alert
    events with their retries, a dead letter, a flush of patient states),
    each with when it began: `oldest_s` is
    `vigil_worker_kafka_write_wait_seconds`, read at each scrape. A write
    waits inside the producer too, without failing (on a topic Kafka does
    not know, up to the producer's request timeout), where no retry is
    counted and no line logged yet: the wait is what an SRE sees first."""

    def __init__(self) -> None:
        self.began: dict[int, float] = {}
        self.count = 0

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        self.count += 1
        token = self.count
        self.began[token] = time.monotonic()
        try:
            yield
        finally:
            del self.began[token]

    def oldest_s(self) -> float:
        return time.monotonic() - min(self.began.values()) if self.began else 0.0


def _kafka_trouble(exc: BaseException | None) -> bool:
    """Is this Kafka out of reach, slow or moving leaders: one of aiokafka's
    retriable errors or its timeout, raised as it is or as the cause of
    Faust's `ProducerSendError`?"""
    while exc is not None:
        if isinstance(exc, KafkaError):
            return bool(exc.retriable) or isinstance(exc, KafkaTimeoutError)
        exc = exc.__cause__
    return False


def _failure(exc: Exception) -> tuple[str, str]:
    """(reason, detail) for `vigil.dead-letter`."""
    if isinstance(exc, RecordError):
        return exc.reason, exc.message
    if isinstance(exc, StateError):
        return "state_too_large", str(exc)
    return "error", f"processing raised {type(exc).__name__}"


def serve_web(
    app: faust.App,
    host: str,
    port: int,
    ports_file: Path | None = None,
    started: Callable[[], None] | None = None,
) -> None:
    """Have Faust's web server (aiohttp) started as Faust's `start_server` does,
    but on `port` even when it is 0 (the system chooses; Faust's own setting
    refuses 0); then log the port bound, write it to `ports_file` as
    {"web": port} (`app.infra.ports`) and call `started`. Faust starts it
    early, before the consumer. The load tests' Faust baselines use it too."""
    web: Any = app.web

    async def start_server() -> None:
        runner = web._runner  # Faust's AppRunner, holding the pages; no public view
        await runner.setup()
        await aiohttp_web.TCPSite(runner, host, port).start()
        bound = ports.address_port(runner.addresses)
        log.info("worker web server listening", http=f"http://{host}:{bound}", core=native.describe())
        if ports_file is not None:
            ports.write(ports_file, {ports.WORKER_WEB: bound})
        if started is not None:
            started()

    web.start_server = start_server


def create_app(settings: Settings, ports_file: Path | None = None) -> faust.App:
    """The worker's Faust app. Reads the device registry and the pseudonym
    key (alerts carry the patient reference) when called, not at import.
    With `ports_file`, the web port bound is written there (`app.infra.ports`)."""
    directory: PatientDirectory | KafkaPatients
    if settings.registry == "kafka":
        directory = KafkaPatients(settings)
    else:
        directory = PatientDirectory(Registry(settings.registry_path), load_key(settings))
    return Worker(settings, directory, ports_file).app
