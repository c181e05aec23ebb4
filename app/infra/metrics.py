"""Every Prometheus metric Vigil exports, defined in one place.

Units are seconds and bytes; counters end in `_total`; label values come from
small closed sets (outcomes, error codes, alert kinds), never from a patient
or a device. Shells record these; the pure core never imports this module.

The gateway's and the worker's metrics live in registries of their own, so
each process exports only its own (plus the process and Python runtime
metrics of the default registry). Every label value a series can take is
created at zero up front, so dashboards and alert rules see a series before
its first event.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from app.core.alerts import SEVERITIES
from app.core.errors import RECORD_FAILURES, Code
from app.core.vitals import MODELLED

disable_created_metrics()  # no *_created series: they double the series count for nothing here
GATEWAY = CollectorRegistry()
WORKER = CollectorRegistry()

# Buckets around the latency targets: tens of milliseconds to seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# -- gateway -------------------------------------------------------------------
CONNECTIONS_OPEN = Gauge(
    "vigil_gateway_connections_open", "Device websocket connections open now.", registry=GATEWAY
)
HANDSHAKES = Counter(
    "vigil_gateway_handshakes_total",
    "Websocket handshakes by outcome.",
    ["outcome"],
    registry=GATEWAY,
)
FRAMES = Counter(
    "vigil_gateway_frames_total", "Device frames received, by frame type.", ["type"], registry=GATEWAY
)
READINGS = Counter(
    "vigil_gateway_readings_total",
    "Readings by outcome: accepted, or the error code they were refused with.",
    ["outcome"],
    registry=GATEWAY,
)
READINGS_RECORDS = Counter(
    "vigil_gateway_readings_records_total",
    "Records handed to Kafka for vigil.readings: one per frame, or one per group of frames coalesced.",
    registry=GATEWAY,
)
BYTES_IN = Counter("vigil_gateway_received_bytes_total", "Bytes of device frames received.", registry=GATEWAY)
PRODUCE_LATENCY = Histogram(
    "vigil_gateway_produce_latency_seconds",
    "Time from handing a frame's readings to Kafka to Kafka's acknowledgement.",
    buckets=LATENCY_BUCKETS,
    registry=GATEWAY,
)
INFLIGHT = Gauge(
    "vigil_gateway_inflight_frames", "Frames sent to Kafka and not yet acknowledged.", registry=GATEWAY
)
SEQ_WINDOW_BYTES = Counter(
    "vigil_gateway_seq_window_bytes_total",
    "Bytes of seq-window records handed to Kafka for vigil.device-seqs, by kind (whole window or delta).",
    ["kind"],
    registry=GATEWAY,
)
SEQ_WINDOW_KINDS = {kind: SEQ_WINDOW_BYTES.labels(kind) for kind in ("whole", "delta")}
READING_AGE = Histogram(
    "vigil_gateway_reading_age_seconds",
    "Age of each frame's newest reading on receipt: the gateway's clock minus the reading's ts. "
    "Below 0: stamped in the gateway's future, the device's clock ahead; large: sent late "
    "(buffered by the device) or a clock behind.",
    buckets=(-300.0, -60.0, -10.0, -5.0, -1.0, 0.0, 1.0, 5.0, 10.0, 60.0, 300.0, 3600.0, 86400.0),
    registry=GATEWAY,
)
ACK_LATENCY = Histogram(
    "vigil_gateway_ack_latency_seconds",
    "Time from receiving a frame to sending its acknowledgement.",
    buckets=LATENCY_BUCKETS,
    registry=GATEWAY,
)

GATEWAY_READY = Gauge("vigil_ready", "1 when this process is ready to serve (see /readyz).", registry=GATEWAY)
KAFKA_UP = Gauge(
    "vigil_gateway_kafka_up", "1 while Kafka acknowledges the gateway's writes in time.", registry=GATEWAY
)
RATE_LIMITED_DEVICES = Gauge(
    "vigil_gateway_rate_limited_devices",
    "Devices that had frames refused for their budget in the last minute.",
    registry=GATEWAY,
)
REGISTRY_ERRORS = Counter(
    "vigil_gateway_registry_errors_total",
    "Failed reads of the device registry, and failed credential re-checks (the last good copy stays in use).",
    registry=GATEWAY,
)

# -- worker --------------------------------------------------------------------
PROCESSED = Counter(
    "vigil_worker_readings_total",
    "Readings processed, by outcome (scored, artifact, out_of_order, duplicate, future, undecodable).",
    ["outcome"],
    registry=WORKER,
)
PROCESS_TIME = Histogram(
    "vigil_worker_record_seconds",
    "Time to process one vigil.readings record (all its readings), by stage.",
    ["stage"],
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1),
    registry=WORKER,
)
END_TO_END = Histogram(
    "vigil_end_to_end_latency_seconds",
    "Time from the gateway receiving a reading to the alert it caused being produced.",
    buckets=LATENCY_BUCKETS,
    registry=WORKER,
)
READING_LATENCY = Histogram(
    "vigil_worker_reading_latency_seconds",
    "Time from the gateway receiving a record's first reading to the worker being done with the record "
    "(its alert events, if any, produced): every record, alerting or not.",
    buckets=(*LATENCY_BUCKETS, 30.0, 60.0, 300.0, 900.0),  # a backlog's wait, after a worker's outage
    registry=WORKER,
)
EVENT_TIME_LAG = Histogram(
    "vigil_worker_event_time_lag_seconds",
    "Time from a reading's device timestamp to its processing (the newest reading of each record).",
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 86400),
    registry=WORKER,
)
RECORDS_FAILED = Counter(
    "vigil_worker_records_failed_total",
    "vigil.readings records that could not be processed and went to vigil.dead-letter, by reason.",
    ["reason"],
    registry=WORKER,
)
KAFKA_REACHABLE = Gauge(
    "vigil_worker_kafka_up",
    "1 while Kafka answers the worker's metadata probe with a leader for every partition.",
    registry=WORKER,
)
OFFSET_GAPS = Counter(
    "vigil_worker_offset_gaps_total",
    "vigil.readings records that reached the worker past the next expected offset of their partition "
    "(records skipped on the way: a bug signal); the worker seeks back and reads the skipped records again.",
    ["partition"],
    registry=WORKER,
)
OFFSET_GAPS_UNRECOVERED = Counter(
    "vigil_worker_offset_gaps_unrecovered_total",
    "Records past a gap that the worker processed without the skipped records read again (5 seeks back "
    "failed, or they did not come after them): their readings are missing from the patients' states.",
    registry=WORKER,
)
COMMITTED_REALIGNED = Counter(
    "vigil_worker_committed_offset_realigned_total",
    "Partitions whose committed offset, as the Kafka consumer library kept it, differed from Kafka's at "
    "the first record after a rebalance and was set to Kafka's (left stale, it could stop the partition's "
    "commits for good).",
    registry=WORKER,
)
STATE_RESETS = Counter(
    "vigil_worker_state_resets_total",
    "Stored patient states that could not be decoded and were started afresh.",
    registry=WORKER,
)
PATIENTS = Gauge("vigil_worker_patients", "Patients with live state in this worker.", registry=WORKER)
DRIFTS = Counter(
    "vigil_worker_drift_events_total", "Baseline drifts detected, by vital.", ["vital"], registry=WORKER
)
ALERTS = Counter(
    "vigil_worker_alert_events_total",
    "Alert events emitted, by kind, severity and status.",
    ["kind", "severity", "status"],
    registry=WORKER,
)
MODEL_UPDATE = Histogram(
    "vigil_worker_model_update_seconds",
    "Time to clean, score, learn and run the alert logic for one reading "
    "(per record, averaged over its readings).",
    buckets=(0.000005, 0.00001, 0.00002, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005),
    registry=WORKER,
)
CHANGELOG_WRITES = Counter(
    "vigil_worker_changelog_writes_total", "Patient states written to the changelog.", registry=WORKER
)
CHANGELOG_BYTES = Counter(
    "vigil_worker_changelog_bytes_total", "Bytes of patient state written to the changelog.", registry=WORKER
)
FLUSH_SIZE = Histogram(
    "vigil_worker_state_flush_patients",
    "Patients written to the table and its changelog per flush of the record cache "
    "(VIGIL_WORKER_FLUSH_INTERVAL_S).",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000),
    registry=WORKER,
)
FLUSH_SECONDS = Histogram(
    "vigil_worker_state_flush_seconds",
    "Time a flush of the record cache took (written to the changelog, acknowledged by Kafka, "
    "written to the table): no record is processed meanwhile.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=WORKER,
)
FLUSH_FAILURES = Counter(
    "vigil_worker_state_flush_failures_total",
    "Flushes of the record cache that Kafka refused or timed out "
    "(retried; the records behind them stay uncommitted).",
    registry=WORKER,
)
KAFKA_WRITE_WAIT = Gauge(
    "vigil_worker_kafka_write_wait_seconds",
    "How long the worker's oldest write to Kafka still unfinished has waited (a record's alert events, "
    "a dead letter, a flush of patient states), retries included; 0 when none waits. The record stream "
    "waits with it.",
    registry=WORKER,
)
SEND_RETRIES = Counter(
    "vigil_worker_send_retries_total",
    "Sends of a record's alert events or of a dead letter that Kafka did not take (out of reach, no "
    "partition leader, timed out) and that the worker tries again, by topic.",
    ["topic"],
    registry=WORKER,
)
CONSUMER_LAG = Gauge(
    "vigil_worker_consumer_lag",
    "Records of vigil.readings not yet processed, per assigned partition.",
    ["partition"],
    registry=WORKER,
)
WORKER_READY = Gauge("vigil_ready", "1 when this process is ready to serve (see /readyz).", registry=WORKER)


# vigil_gateway_frames_total's types; "ping_refused": a ping over the connection's budget, which closes it
FRAME_KINDS = ("reading", "batch", "hello", "invalid", "unread", "ping", "ping_refused")
GATEWAY_OUTCOMES = ("accepted", "duplicate", *(c.value for c in Code))  # vigil_gateway_readings_total's


def _initialise() -> None:
    for outcome in ("accepted", "unauthorized", "unavailable", "not_found", "throttled", "capped"):
        HANDSHAKES.labels(outcome)
    HANDSHAKES.labels("device_throttled")  # 429: the device's connections over its budget
    HANDSHAKES.labels("no_proxy_header")  # closed: no PROXY protocol header (VIGIL_GATEWAY_PROXY_PROTOCOL)
    for kind in FRAME_KINDS:
        FRAMES.labels(kind)
    for outcome in GATEWAY_OUTCOMES:
        READINGS.labels(outcome)
    for outcome in ("scored", "artifact", "out_of_order", "duplicate", "future", "undecodable"):
        PROCESSED.labels(outcome)
    for reason in RECORD_FAILURES:
        RECORDS_FAILED.labels(reason)
    for stage in ("decode", "score", "emit"):
        PROCESS_TIME.labels(stage)
    for vital in (*MODELLED, "custom"):
        DRIFTS.labels(vital)
    for kind in ("news2", "anomaly"):
        for severity in SEVERITIES:
            for status in ("open", "escalated", "reminder", "resolved"):
                ALERTS.labels(kind, severity, status)
    for kind in ("trend", "signal_quality"):
        for status in ("open", "reminder", "resolved"):
            ALERTS.labels(kind, "low", status)
    ALERTS.labels("baseline_drift", "low", "notice")
    ALERTS.labels("no_signal", "low", "notice")


_initialise()
WRITE_STALLS = Counter(
    "vigil_gateway_write_stalls_total",
    "Connections closed because the device read nothing of what waited for it (acks, pongs) for 60 s.",
    registry=GATEWAY,
)
# Counted at every ping: looked up once.
PINGS, PINGS_REFUSED = FRAMES.labels("ping"), FRAMES.labels("ping_refused")


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """A component's metrics and the process/runtime ones, rendered for a scrape."""
    return generate_latest(REGISTRY) + generate_latest(registry), CONTENT_TYPE_LATEST
