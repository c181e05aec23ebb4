"""The records Vigil writes to Kafka, and their stable identifiers.

`vigil.readings`: one record per accepted device frame, keyed by the
patient's pseudonym (`pseudonym`), so all of a patient's readings stay in
order on one partition and no patient identifier enters the topic:

    {"v": 1, "device_id": "...", "patient": "p-<pseudonym>", "received_ms": <gateway
     receipt, epoch ms>, "readings": [{"id": "...", "seq": 17, "ts": <epoch ms>,
     "vitals": {...}}, ...]}

Carrying a whole frame as one record lets the worker take many readings per
Kafka message. The gateway may also coalesce several frames (of several
patients) that go to the same partition into one record, version 2:

    {"v": 2, "frames": [<a version 1 record, exactly as above>, ...]}

keyed by its first frame's pseudonym and written to the partition Kafka's
default partitioner gives each of its frames' keys (`partition_for`), so each
patient stays on the partition it has always been on. Readers accept both
versions (`decode_frames`). `received_ms` travels with the readings so the worker can
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
import math
import uuid
from dataclasses import dataclass
from typing import Any, TypeGuard

import orjson

from app.core.errors import RecordError, Refusal
from app.core.protocol import Reading
from app.core.vitals import ACVPU, MOTION, SPO2_SCALE, SPO2_SCALES

READINGS_VERSION = 1
FRAMES_VERSION = 2  # several version 1 records in one: `encode_frames`

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


# Event and receipt times are epoch milliseconds before 2100-01-01 (UTC). A
# producer writing micro- or nanoseconds passes it by far: its record is
# refused, not read as times thousands of years ahead, which put the
# patient's clock there and left every later reading out of order (no alert
# for that patient again, from any device).
MAX_EPOCH_MS = 4_102_444_800_000
MAX_RECORD_READINGS = 10_000  # readings in one record; the gateway writes at most a batch (500)
_VITALS_MAX = 64  # as app.core.protocol.MAX_VITALS
_NAME_MAX = 64  # as app.core.vitals.CUSTOM_NAME_MAX
_ID_MAX = 128


def decode_readings(value: bytes) -> ReadingBatch:
    """Decode and check one `vigil.readings` record.

    The gateway writes well-formed records, but other systems may write to the
    topic too: every field the worker relies on is checked here, so that a
    record of the wrong shape is refused as a whole (`RecordError`, sent to
    `vigil.dead-letter` by the worker) before it touches any patient's state.
    """
    return _frame(_load(value))


def _load(value: bytes) -> dict[str, Any]:
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        raise RecordError("undecodable", "record is not JSON") from None
    if not isinstance(obj, dict):
        raise RecordError("wrong_shape", "record is not a JSON object")
    return obj


def _frame(obj: Any) -> ReadingBatch:
    """One frame's object (a version 1 record), checked."""
    if not isinstance(obj, dict):
        raise RecordError("wrong_shape", "a frame is not a JSON object")
    if obj.get("v") != READINGS_VERSION:
        raise RecordError("undecodable", "unknown readings record version")
    device_id, patient = obj.get("device_id"), obj.get("patient")
    received_ms, readings, trace = obj.get("received_ms"), obj.get("readings"), obj.get("trace", "")
    if not isinstance(device_id, str) or not 0 < len(device_id) <= _ID_MAX:
        raise RecordError("wrong_shape", "device_id must be a string of 1 to 128 characters")
    if not isinstance(patient, str) or not 0 < len(patient) <= _ID_MAX:
        raise RecordError("wrong_shape", "patient must be a string of 1 to 128 characters")
    if not _is_int(received_ms):
        raise RecordError("wrong_shape", "received_ms must be an integer")
    if not 0 <= received_ms < MAX_EPOCH_MS:
        raise RecordError("wrong_shape", "received_ms must be epoch milliseconds, from 1970 to 2100")
    if not isinstance(trace, str) or len(trace) > _ID_MAX:
        raise RecordError("wrong_shape", "trace must be a short string")
    if not isinstance(readings, list) or len(readings) > MAX_RECORD_READINGS:
        raise RecordError("wrong_shape", f"readings must be an array of at most {MAX_RECORD_READINGS}")
    for reading in readings:
        _check_reading(reading)
    return ReadingBatch(device_id, patient, received_ms, readings, trace)


MAX_RECORD_FRAMES = 10_000  # frames in one version 2 record; the gateway caps far lower


def encode_frames(frames: list[bytes]) -> bytes:
    """Several `encode_readings` records as one version 2 record, each kept byte for byte."""
    return b'{"v":2,"frames":[' + b",".join(frames) + b"]}"


def decode_frames(value: bytes) -> list[ReadingBatch | RecordError]:
    """The frames of one `vigil.readings` record, of either version.

    A version 1 record is one frame, decoded as `decode_readings` does (and
    refused as a whole as it does). In a version 2 record each frame is
    checked alone: a malformed one is returned as its `RecordError`, in its
    place, and its neighbours are decoded all the same. `RecordError` is
    raised only for a record that cannot be read at all."""
    obj = _load(value)
    version = obj.get("v")
    if version == READINGS_VERSION:
        return [_frame(obj)]
    if version != FRAMES_VERSION:
        raise RecordError("undecodable", "unknown readings record version")
    frames = obj.get("frames")
    if not isinstance(frames, list) or not 0 < len(frames) <= MAX_RECORD_FRAMES:
        raise RecordError("wrong_shape", f"frames must be an array of 1 to {MAX_RECORD_FRAMES}")
    return [_frame_or_error(frame) for frame in frames]


def readable_frames(value: bytes) -> list[ReadingBatch]:
    """The frames of a record that decode, for the tools that count or export
    readings; none of a record that cannot be read. The worker dead-letters
    what is left out here."""
    try:
        frames = decode_frames(value)
    except RecordError:
        return []
    return [frame for frame in frames if isinstance(frame, ReadingBatch)]


def _frame_or_error(obj: Any) -> ReadingBatch | RecordError:
    try:
        return _frame(obj)
    except RecordError as exc:
        return exc


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash of a record key (`org.apache.kafka.common.utils.Utils.murmur2`)."""
    m, length = 0x5BD1E995, len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    rest = length % 4
    if rest >= 3:
        h ^= data[whole + 2] << 16
    if rest >= 2:
        h ^= data[whole + 1] << 8
    if rest >= 1:
        h ^= data[whole]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (Java's and aiokafka's) gives
    a record with `key` on a topic of `partitions` partitions."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def _is_int(value: object) -> TypeGuard[int]:
    return value.__class__ is int


def _check_reading(reading: Any) -> None:
    if not isinstance(reading, dict):
        raise RecordError("wrong_shape", "a reading is not a JSON object")
    rid, ts, vitals = reading.get("id"), reading.get("ts"), reading.get("vitals")
    if not isinstance(rid, str) or not 0 < len(rid) <= _ID_MAX:
        # not empty: a new patient's state has read "" as its latest reading's id, and
        # dropped a first reading of id "" as a duplicate of it
        raise RecordError("wrong_shape", "a reading's id must be a string of 1 to 128 characters")
    if not _is_int(ts):
        raise RecordError("wrong_shape", "a reading's ts must be an integer (epoch ms)")
    if not 0 <= ts < MAX_EPOCH_MS:
        raise RecordError("wrong_shape", "a reading's ts must be epoch milliseconds, from 1970 to 2100")
    if not isinstance(vitals, dict) or len(vitals) > _VITALS_MAX:
        raise RecordError("wrong_shape", f"a reading's vitals must be an object of at most {_VITALS_MAX}")
    for name, x in vitals.items():
        if len(name) > _NAME_MAX:
            raise RecordError("wrong_shape", f"a vital's name is longer than {_NAME_MAX} characters")
        kind = x.__class__
        if name == "consciousness":
            if kind is not str or x not in ACVPU:
                raise RecordError("wrong_shape", "consciousness must be one ACVPU letter")
        elif name == "on_oxygen" or name == MOTION:
            if kind is not bool:
                raise RecordError("wrong_shape", f"{name} must be true or false")
        elif name == SPO2_SCALE:
            if kind is not int or x not in SPO2_SCALES:
                raise RecordError("wrong_shape", "spo2_scale must be 1 or 2")
        elif kind is float:
            if not math.isfinite(x):  # orjson reads neither NaN nor inf, but a record may come from elsewhere
                raise RecordError("wrong_shape", "a vital's value is not finite")
        elif kind is not int:
            raise RecordError("wrong_shape", "a vital's value must be a number")


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


def encode_dead_letter(
    reason: str,
    message: str,
    topic: str,
    partition: int | None,
    offset: int | None,
    value: bytes | None,
    frame: int | None = None,
) -> bytes:
    """A record the worker could not process, for `vigil.dead-letter`.

    It names where the record is (topic, partition, offset) and why it failed,
    with a fingerprint of its bytes, but carries none of its content: a
    readings record holds a patient's pseudonym and vital signs, which stay
    on `vigil.readings` under that topic's access rules. For one frame of a
    record of several, `frame` is its index (from 0); the fingerprint is the
    whole record's.
    """
    data = value or b""
    where = {} if frame is None else {"frame": frame}  # which frame of a version 2 record
    return orjson.dumps(
        where
        | {
            "v": 1,
            "reason": reason,
            "message": message,
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest()[:16],
        }
    )
