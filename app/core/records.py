"""The records Vigil writes to Kafka, and their stable identifiers.

`vigil.readings`: one record per accepted device frame, keyed by the
patient's pseudonym (`pseudonym`), so all of a patient's readings stay in
order on one partition and no patient identifier enters the topic:

    {"v": 1, "device_id": "...", "patient": "p-<pseudonym>", "received_ms": <gateway
     receipt, epoch ms>, "readings": [{"id": "...", "seq": 17, "ts": <epoch ms>,
     "vitals": {...}}, ...]}

Carrying a whole frame as one record lets the worker take many readings per
Kafka message. `received_ms` travels with the readings so the worker can
measure end-to-end latency instead of estimating it.

`vigil.rejected`, keyed by device, holds what an operator needs to debug a
device and nothing of its patient: no patient identifier or name, no FHIR
subject, no copy of the refused item or frame, never the token. One record
per refused frame or reading while the device is within its budget:

    {"v": 2, "kind": "rejection", "device_id": "...", "received_ms": ...,
     "seq": 17, "code": "out_of_range", "message": "...", "field": "vitals.spo2",
     "fingerprint": "<16 hex digits: SHA-256 prefix of the refused item>"}

and, for what a device sends beyond its budget, one summary per device per
interval, with counts by code (`RejectionSummary`):

    {"v": 2, "kind": "summary", "device_id": "...", "from_ms": ..., "received_ms": ...,
     "counts": {"rate_limited": 812}}
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from app.core.errors import Refusal, StateError
from app.core.protocol import Reading

READINGS_VERSION = 1

# Fixed namespace: the same (device, seq) yields the same reading id forever.
_READING_NS = uuid.UUID("6f1d4c0e-8a4b-4f5e-9a55-0c7f1e2b9d10")
_READING_NS_BYTES = _READING_NS.bytes


def pseudonym(key: bytes, patient: str) -> str:
    """The patient's pseudonym inside Vigil: a keyed HMAC-SHA256, 128 bits in hex.

    Without the key it cannot be reversed or recomputed from a guessed
    identifier; with it, the same patient always gets the same pseudonym.
    """
    return "p-" + hmac.new(key, patient.encode(), hashlib.sha256).hexdigest()[:32]


def reading_id(device_id: str, seq: int) -> str:
    """Stable id of a reading: resending it yields the same id, so duplicates are harmless.

    A UUID version 5 of (device, seq), equal to
    `str(uuid.uuid5(_READING_NS, f"{device_id}\x1f{seq}"))`, built without
    the UUID object: the gateway derives one per reading.
    """
    h = bytearray(hashlib.sha1(_READING_NS_BYTES + f"{device_id}\x1f{seq}".encode()).digest()[:16])
    h[6] = (h[6] & 0x0F) | 0x50  # version 5
    h[8] = (h[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


@dataclass(frozen=True, slots=True)
class ReadingBatch:
    """One `vigil.readings` record, decoded."""

    device_id: str
    patient: str
    received_ms: int
    readings: list[dict[str, Any]]  # each {"id", "seq", "ts", "vitals"}
    trace: str = ""  # the gateway's trace id for the frame, for logs


def encode_readings(
    device_id: str, patient: str, received_ms: int, readings: list[Reading], trace: str = ""
) -> bytes:
    return orjson.dumps(
        {
            "v": READINGS_VERSION,
            "device_id": device_id,
            "patient": patient,
            "received_ms": received_ms,
            "trace": trace,
            "readings": [
                {"id": reading_id(device_id, r.seq), "seq": r.seq, "ts": r.ts_ms, "vitals": r.vitals}
                for r in readings
            ],
        }
    )


def decode_readings(value: bytes) -> ReadingBatch:
    try:
        obj = orjson.loads(value)
        if obj["v"] != READINGS_VERSION:
            raise StateError("unknown readings record version")
        return ReadingBatch(
            obj["device_id"], obj["patient"], obj["received_ms"], obj["readings"], obj.get("trace", "")
        )
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise StateError("undecodable readings record") from exc


REJECTED_VERSION = 2


def encode_rejection(device_id: str, received_ms: int, refusal: Refusal) -> bytes:
    """A refused frame or reading, for `vigil.rejected`: its code, message,
    seq, the field that failed and a fingerprint; never the item itself."""
    return orjson.dumps(
        {
            "v": REJECTED_VERSION,
            "kind": "rejection",
            "device_id": device_id,
            "received_ms": received_ms,
            "seq": refusal.seq,
            "code": refusal.code.value,
            "message": refusal.message,
            "field": refusal.field,
            "fingerprint": refusal.fingerprint,
        }
    )


def encode_rejection_summary(device_id: str, from_ms: int, to_ms: int, counts: dict[str, int]) -> bytes:
    """What a device had refused beyond its budget over one interval: frames by code."""
    return orjson.dumps(
        {
            "v": REJECTED_VERSION,
            "kind": "summary",
            "device_id": device_id,
            "from_ms": from_ms,
            "received_ms": to_ms,
            "counts": counts,
        }
    )
