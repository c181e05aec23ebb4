"""The one error hierarchy of Vigil's core.

    VigilError
     ├── Refusal      a device frame, or one reading in it, is refused; has a `code`
     ├── StateError   an encoded per-patient state cannot be decoded, or is too large to store
     └── RecordError  a `vigil.readings` record cannot be processed; has a `reason`

Messages are short, lower case, and never carry patient data, tokens or
reading values: they are sent to devices and written to logs as they are.
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    """The closed list of error codes a device can receive (docs/protocol.md)."""

    MALFORMED_JSON = "malformed_json"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    OUT_OF_RANGE = "out_of_range"
    BAD_TIMESTAMP = "bad_timestamp"
    BATCH_TOO_LARGE = "batch_too_large"
    FRAME_TOO_LARGE = "frame_too_large"
    RATE_LIMITED = "rate_limited"
    UNAUTHORIZED = "unauthorized"
    UNAVAILABLE = "unavailable"
    SEQ_REUSED = "seq_reused"


class VigilError(Exception):
    """Root of every error Vigil's core raises."""


class Refusal(VigilError):
    """A frame or a reading is refused. `seq` is the reading's, when known;
    `field` names the field that failed (a fixed protocol name such as `ts`
    or `vitals.spo2`, never a value), when known."""

    def __init__(self, code: Code, message: str, seq: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.seq = seq
        self.field = field
        # The refused JSON value, when the refusal is about one reading of a
        # batch. It never leaves the process: only its `fingerprint` (a
        # SHA-256 prefix, set by `parse_frame`) goes to `vigil.rejected`.
        self.item: object = None
        self.fingerprint: str | None = None

    def __repr__(self) -> str:
        return f"Refusal({self.code.value!r}, {self.message!r}, seq={self.seq!r})"


class StateError(VigilError):
    """An encoded per-patient state is not one this version can read."""


class RecordError(VigilError):
    """A `vigil.readings` record the worker cannot process. `reason` is one of
    `RECORD_FAILURES` and labels `vigil_worker_records_failed_total`; the
    message names the first problem found, never a value from the record."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


# Why a record went to `vigil.dead-letter` (docs/operations.md#dead-letter):
# undecodable  not JSON, or not a version this worker reads
# wrong_shape  valid JSON that is not a readings record (a field missing or of the wrong type)
# state_too_large  the patient's state would exceed the bound after this record (a bug: states are bounded)
# error        processing raised (a bug); the record is kept for a replay once fixed
RECORD_FAILURES = ("undecodable", "wrong_shape", "state_too_large", "error")
