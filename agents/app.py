"""The Faust app (`vigil worker`).

One agent consumes `vigil.readings`. For each record (one device frame, all
from one patient, keyed by the patient's pseudonym) it decodes the readings,
looks up the patient reference alert consumers need (`app.pseudonyms`), advances the patient's state with
`app.core.patient.process`, sends any alert events to `vigil.alerts`, and
writes the state back once. The `patients` table is backed by a changelog
topic; its values are encoded with Vigil's own versioned encoding
(`app.core.patient.encode`), never pickle.

Settings that Faust gets wrong for health data are set here on purpose:
the web server binds to an explicit address with its table, router, stats
and graph views off; the agent runs with concurrency 1, so an offset is never
committed past a record still being processed (faust-streaming #606);
changelog replication follows VIGIL_REPLICATION_FACTOR.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

import faust
import orjson
import structlog
from faust.serializers import codecs

from app import metrics
from app.core import patient as core
from app.core.errors import StateError
from app.core.records import decode_readings
from app.pseudonyms import PatientDirectory, load_key
from app.registry import Registry
from app.settings import ALERTS_TOPIC, READINGS_TOPIC, Settings

log = structlog.get_logger()
settings = Settings.from_env()


class EncodedState:
    """A patient's state as read from the changelog, still encoded.

    Recovery hands every changelog record to the codec; decoding them all
    there (River objects for every vital of every patient) made recovering
    100,000 patients take 45 s and about 7.8 KB of memory each. The bytes are
    kept instead (about 1.5 KB) and decoded the first time the patient's next
    reading arrives (`load_state`).
    """

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class PatientStateCodec(codecs.Codec):
    """Faust codec for table values: Vigil's versioned state encoding.

    Writes encode a `PatientState`; reads keep the bytes (`EncodedState`).
    """

    def _dumps(self, obj: Any) -> bytes:
        data = obj.data if isinstance(obj, EncodedState) else core.encode(obj)
        metrics.CHANGELOG_WRITES.inc()
        metrics.CHANGELOG_BYTES.inc(len(data))
        return data

    def _loads(self, s: bytes) -> Any:
        return EncodedState(bytes(s))


def load_state(stored: Any) -> core.PatientState:
    """The table's value for a patient as a `PatientState`: a fresh one for
    a new patient, the decoded one for a state recovered from the changelog.

    A stored state this version cannot read (an older encoding, a corrupt
    record) must not stop the worker: the patient starts again from the
    population prior, and `vigil_worker_state_resets_total` counts it.
    """
    if stored is None:
        return core.PatientState()
    if isinstance(stored, EncodedState):
        try:
            return core.decode(stored.data)
        except StateError:
            metrics.STATE_RESETS.inc()
            log.warning("undecodable patient state replaced by a fresh one")
            return core.PatientState()
    return stored


codecs.register("vigil_state", PatientStateCodec())

app = faust.App(
    settings.worker_id,
    broker=f"kafka://{settings.bootstrap}",
    # Tables live in RocksDB under VIGIL_HOME/worker, backed by the changelog:
    # a restarted worker reads only the changelog records written since its
    # last commit, not every patient's state again (crash recovery in
    # seconds), and states rest on disk rather than in the Python heap.
    store=settings.worker_store,
    topic_partitions=settings.partitions,
    topic_replication_factor=settings.replication_factor,
    producer_acks=-1,
    # Faust sends each changelog and alert record at once (linger 0) in
    # batches of 16 KiB: under load, a produce request per record, and the
    # socket writes took about a sixth of the worker's time (py-spy). A few
    # milliseconds of linger and larger batches send them together.
    producer_linger=0.005,
    producer_max_batch_size=512 * 1024,
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=settings.worker_session_timeout_s,
    broker_heartbeat_interval=min(3.0, settings.worker_session_timeout_s / 3),
    web_enabled=True,
    web_bind=settings.worker_web_host,
    web_host=settings.worker_web_host,
    web_port=settings.worker_web_port,
    web_in_thread=False,
    web_tables_enabled=False,
    web_router_enabled=False,
    web_stats_enabled=False,
    web_graph_enabled=False,
    web_metrics_enabled=False,
    datadir=str(settings.home / "worker"),
)

readings_topic = app.topic(READINGS_TOPIC, key_serializer="raw", value_serializer="raw")
alerts_topic = app.topic(ALERTS_TOPIC, key_serializer="raw", value_serializer="raw")



class StoredPatientState:
    """The `patients` table's value type, as Faust sees it.

    Faust takes a table's codec from its value type (`_options.serializer`,
    JSON otherwise) for both the writes to the changelog and the reads during
    recovery, and hands what the codec decoded to `from_data`. Naming the
    codec here keeps the two in agreement; setting serializers on the table
    after it is declared does not reach the changelog topic.
    """

    class _options:
        serializer = "vigil_state"

    @staticmethod
    def from_data(value: Any, preferred_type: Any = None) -> Any:
        return value  # an EncodedState from PatientStateCodec; see load_state


patients = app.Table(
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

# Decoded states of the patients seen most recently. The table's store
# (RocksDB) holds them encoded; decoding one per record cost about a fifth of
# the worker's throughput. The table stays the truth: every state is written
# back to it (and its changelog) after each record, and the cache is emptied
# whenever partitions move, so a state another worker advanced is never used.
DECODED_CACHE = 10_000  # patients; a decoded state takes about 6.4 KB
_decoded: OrderedDict[bytes, core.PatientState] = OrderedDict()


def _remember(key: bytes, state: core.PatientState) -> None:
    _decoded[key] = state
    _decoded.move_to_end(key)
    if len(_decoded) > DECODED_CACHE:
        _decoded.popitem(last=False)


@app.on_partitions_revoked.connect
async def _forget_on_revoke(app: Any, revoked: Any, **kwargs: Any) -> None:
    _decoded.clear()


@app.on_partitions_assigned.connect
async def _forget_on_assign(app: Any, assigned: Any, **kwargs: Any) -> None:
    _decoded.clear()


detector_config: core.Config = settings.detector_config()
# Readings arrive keyed by pseudonym; alerts carry the patient reference too.
directory = PatientDirectory(Registry(settings.registry_path), load_key(settings))

# Label children bound once: `.labels()` per reading would cost a dict lookup
# and a lock on the hot path.
_SCORED = metrics.PROCESSED.labels("scored")
_OUT_OF_ORDER = metrics.PROCESSED.labels("out_of_order")
_ARTIFACT = metrics.PROCESSED.labels("artifact")
_UNDECODABLE = metrics.PROCESSED.labels("undecodable")
_DUPLICATE = metrics.PROCESSED.labels("duplicate")
_OUTCOMES = {"scored": _SCORED, "artifact": _ARTIFACT, "out_of_order": _OUT_OF_ORDER, "duplicate": _DUPLICATE}
_MODEL_UPDATE = metrics.MODEL_UPDATE
_STAGE_DECODE = metrics.PROCESS_TIME.labels("decode")
_STAGE_SCORE = metrics.PROCESS_TIME.labels("score")
_STAGE_EMIT = metrics.PROCESS_TIME.labels("emit")


@app.agent(readings_topic, concurrency=1)
async def detect(stream: faust.StreamT[bytes]) -> None:
    async for value in stream:
        started = time.perf_counter()
        try:
            batch = decode_readings(value)
        except StateError:
            _UNDECODABLE.inc()
            log.warning("undecodable readings record skipped")
            continue
        current = stream.current_event
        structlog.contextvars.bind_contextvars(
            trace_id=batch.trace, partition=current.message.partition if current is not None else None
        )
        subject = batch.patient  # the pseudonym; the real identifier never comes here
        key = subject.encode()
        patient_ref = directory.patient(subject)
        state = _decoded.get(key)
        if state is None:
            state = load_state(patients.get(key))
        _remember(key, state)
        decoded = time.perf_counter()
        _STAGE_DECODE.observe(decoded - started)

        # Metrics are counted here and recorded once per record: three
        # Prometheus updates per reading cost about a fifth of the core's time.
        events: list[dict[str, Any]] = []
        counts = {"scored": 0, "artifact": 0, "out_of_order": 0, "duplicate": 0}
        for reading in batch.readings:
            outcome = core.process(state, subject, batch.device_id, reading, detector_config, patient_ref)
            events.extend(outcome.events)
            if outcome.duplicate:
                counts["duplicate"] += 1
                continue
            if outcome.artifacts:
                counts["artifact"] += 1
            counts["out_of_order" if outcome.out_of_order else "scored"] += 1
            for vital in outcome.drifts:
                metrics.DRIFTS.labels(vital).inc()
        scored = time.perf_counter()
        if batch.readings:
            _MODEL_UPDATE.observe((scored - decoded) / len(batch.readings))
            newest = max(r["ts"] for r in batch.readings)
            metrics.EVENT_TIME_LAG.observe(max(0.0, time.time() - newest / 1000))
        for outcome_name, n in counts.items():
            if n:
                _OUTCOMES[outcome_name].inc(n)
        _STAGE_SCORE.observe(scored - decoded)

        for event in events:
            await alerts_topic.send(key=key, value=orjson.dumps(event))
            metrics.ALERTS.labels(event["kind"], event["severity"], event["status"]).inc()
        if events:
            metrics.END_TO_END.observe(max(0.0, time.time() - batch.received_ms / 1000))
        patients[key] = state  # one changelog record per Kafka record
        log.debug("record processed", count=len(batch.readings), events=len(events))
        _STAGE_EMIT.observe(time.perf_counter() - scored)


def _ready() -> bool:
    """Connected, assigned partitions, and the tables recovered from their changelog."""
    try:
        assigned = bool(app.consumer.assignment())
    except Exception:  # no consumer yet
        return False
    return assigned and not app.rebalancing and app.tables.recovery.completed.is_set()


@app.page("/healthz")
async def healthz(web: Any, request: Any) -> Any:
    return web.text("ok\n")


@app.page("/readyz")
async def readyz(web: Any, request: Any) -> Any:
    ready = _ready()
    metrics.WORKER_READY.set(1 if ready else 0)
    return web.text("ready\n" if ready else "not ready\n", status=200 if ready else 503)


def _record_lag() -> None:
    try:
        consumer = app.consumer
        assigned = [tp for tp in consumer.assignment() if tp.topic == READINGS_TOPIC]
    except Exception:  # no consumer yet
        return
    metrics.CONSUMER_LAG.clear()
    for tp in assigned:
        read = consumer._read_offset.get(tp)
        try:
            highwater = consumer.highwater(tp)
        except Exception:  # not fetched yet
            continue
        if highwater is not None:
            lag = highwater - (read + 1 if read is not None else 0)
            metrics.CONSUMER_LAG.labels(str(tp.partition)).set(max(0, lag))


@app.page("/metrics")
async def metrics_view(web: Any, request: Any) -> Any:
    metrics.PATIENTS.set(len(patients))
    metrics.WORKER_READY.set(1 if _ready() else 0)
    _record_lag()
    body, content_type = metrics.exposition(metrics.WORKER)
    # aiohttp refuses a charset inside content_type=, so pass the header whole.
    return web.bytes(body, headers={"Content-Type": content_type})
