"""Every Prometheus metric Vigil exports, defined in one place.

Units are seconds and bytes; counters end in `_total`; label values come from
small closed sets (outcomes, error codes, alert kinds), never from a patient
or a device. Shells record these; the pure core never imports this module.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

# Buckets around the latency targets: tens of milliseconds to seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# -- gateway -------------------------------------------------------------------
CONNECTIONS_OPEN = Gauge("vigil_gateway_connections_open", "Device websocket connections open now.")
HANDSHAKES = Counter(
    "vigil_gateway_handshakes_total", "Websocket handshakes by outcome.", ["outcome"]
)
FRAMES = Counter("vigil_gateway_frames_total", "Device frames received, by frame type.", ["type"])
READINGS = Counter(
    "vigil_gateway_readings_total",
    "Readings by outcome: accepted, or the error code they were refused with.",
    ["outcome"],
)
BYTES_IN = Counter("vigil_gateway_received_bytes_total", "Bytes of device frames received.")
PRODUCE_LATENCY = Histogram(
    "vigil_gateway_produce_latency_seconds",
    "Time from handing a frame's readings to Kafka to Kafka's acknowledgement.",
    buckets=LATENCY_BUCKETS,
)
INFLIGHT = Gauge("vigil_gateway_inflight_frames", "Frames sent to Kafka and not yet acknowledged.")
ACK_LATENCY = Histogram(
    "vigil_gateway_ack_latency_seconds",
    "Time from receiving a frame to sending its acknowledgement.",
    buckets=LATENCY_BUCKETS,
)

# -- worker --------------------------------------------------------------------
PROCESSED = Counter(
    "vigil_worker_readings_total",
    "Readings processed, by outcome (scored, artifact, out_of_order, duplicate, undecodable).",
    ["outcome"],
)
PROCESS_TIME = Histogram(
    "vigil_worker_record_seconds",
    "Time to process one vigil.readings record (all its readings), by stage.",
    ["stage"],
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1),
)
END_TO_END = Histogram(
    "vigil_end_to_end_latency_seconds",
    "Time from the gateway receiving a reading to the alert it caused being produced.",
    buckets=LATENCY_BUCKETS,
)
EVENT_TIME_LAG = Histogram(
    "vigil_worker_event_time_lag_seconds",
    "Time from a reading's device timestamp to its processing.",
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 86400),
)
STATE_RESETS = Counter(
    "vigil_worker_state_resets_total",
    "Stored patient states that could not be decoded and were started afresh.",
)
PATIENTS = Gauge("vigil_worker_patients", "Patients with live state in this worker.")
DRIFTS = Counter("vigil_worker_drift_events_total", "Baseline drifts detected, by vital.", ["vital"])
ALERTS = Counter(
    "vigil_worker_alert_events_total",
    "Alert events emitted, by kind, severity and status.",
    ["kind", "severity", "status"],
)
READY = Gauge("vigil_ready", "1 when this process is ready to serve (see /readyz).")


def exposition() -> tuple[bytes, str]:
    """The registry rendered for a scrape, with its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST
