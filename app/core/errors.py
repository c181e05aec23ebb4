"""The one error hierarchy of Vigil.

Every error Vigil raises on purpose derives from `VigilError`. The core's own
are about data: a refused device frame, a state or a record it cannot read.
The others are the expected failures of a `vigil` command, one class per
failure a user can act on: the message says what failed and what to do, and
`exit_code` is the command's exit code (a public contract,
docs/operations.md#exit-codes). `app.cli.main` catches `VigilError` and
prints its message as one line.

    VigilError                    exit 1 when a command stops on it
     ├── Refusal                  a device frame, or one reading in it, is refused; has a `code`
     ├── StateError               an encoded per-patient state cannot be decoded, or is too large to store
     ├── RecordError              a `vigil.readings` record cannot be processed; has a `reason`
     ├── LocalKafkaError          the local broker cannot be provisioned or started
     ├── TopicError               a Kafka topic is missing, or cannot be created
     ├── KafkaDenied              Kafka refuses the configured principal a topic it needs (ACLs)
     ├── ServiceFailed            a child of `vigil up` exited, or was not ready in time
     ├── NotStored                readings sent were refused or never acknowledged
     ├── BadInput                 bad usage, settings or input                          exit 2
     │    ├── SettingsError       VIGIL_* values that are not valid; `problems`, one line each
     │    ├── GatewayConfigError  gateway settings that are unsafe or inconsistent (TLS)
     │    ├── RegistryError       a device registry operation cannot be done
     │    │    └── RegistryUnavailable  the registry file cannot be read or parsed now
     │    ├── PseudonymKeyError   the pseudonym key is unusable
     │    ├── RecordingError      a recording `vigil replay` cannot read
     │    └── ExportError         arguments `vigil export` cannot use
     ├── KafkaUnreachable         Kafka does not answer                                 exit 3
     ├── InUse                    something Vigil needs is taken by another process     exit 4
     │    └── PortInUse           a port, named with the setting that changes it
     └── GatewayUnreachable       nothing accepts connections on the gateway's port     exit 5

Messages are short, lower case, and never carry patient data, tokens or
reading values: they are sent to devices and written to logs as they are.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Exit(IntEnum):
    """The `vigil` command's exit codes (docs/operations.md#exit-codes)."""

    OK = 0  # done (a long-running command stopped by Ctrl-C, SIGTERM or SIGHUP too)
    RUNTIME = 1  # failed while running (a child process died, readings left unacknowledged, disk full, ...)
    USAGE = 2  # bad usage, settings or input (a bad VIGIL_* value, an unreadable recording, ...)
    KAFKA_UNREACHABLE = 3
    PORT_IN_USE = 4  # a port (or the VIGIL_HOME of a running `vigil up`) is already in use
    GATEWAY_UNREACHABLE = 5  # replay, simulate
    STALLED = 6  # the worker stopped itself: not ready or behind, without progress, while Kafka answered
    INTERRUPTED = 130  # interrupted before it could finish (Ctrl-C during a one-shot command)


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
    """Root of every error Vigil raises on purpose. `exit_code`: the exit
    code of a `vigil` command that stops on it."""

    exit_code = Exit.RUNTIME


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


# -- expected failures of a `vigil` command ------------------------------------------------------


class LocalKafkaError(VigilError):
    """The local broker cannot be provisioned or started; the message says why."""


class TopicError(VigilError):
    """A topic Vigil needs is missing, or cannot be created."""


class KafkaDenied(VigilError):
    """Kafka refuses the configured principal a topic it needs; the message
    names the principal, the topic and the ACL to grant."""


class ServiceFailed(VigilError):
    """A service `vigil up` started exited, or was not ready in time."""


class NotStored(VigilError):
    """Readings a command sent were refused, or never acknowledged."""


class BadInput(VigilError):
    """Bad usage, settings or input."""

    exit_code = Exit.USAGE


class SettingsError(BadInput):
    """Some settings are invalid; `problems` holds one line per bad setting."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class GatewayConfigError(BadInput):
    """The gateway's settings are unsafe or inconsistent; the message says why."""


class RegistryError(BadInput):
    """A registry operation cannot be done; the message says why."""


class RegistryUnavailable(RegistryError):
    """The registry file cannot be read or parsed now. The message names the
    kind of failure only, never the file's content."""


class PseudonymKeyError(BadInput):
    """The configured key is unusable; the message says why (never the key)."""


class RecordingError(BadInput):
    """The recording cannot be read or sent; the message says where and why."""


class ExportError(BadInput):
    """The export cannot be done; the message says why."""


class KafkaUnreachable(VigilError):
    exit_code = Exit.KAFKA_UNREACHABLE


class InUse(VigilError):
    """Something Vigil needs for itself is taken by another process."""

    exit_code = Exit.PORT_IN_USE


class PortInUse(InUse):
    """A port Vigil needs is taken; `others` (more (port, host, VIGIL_* variable)
    taken at once) are named in the same line, so that a second stack beside
    a running one is not a chase, one port a try (a newcomer)."""

    def __init__(
        self,
        port: int,
        host: str,
        variable: str,
        hint: str = "",
        others: tuple[tuple[int, str, str], ...] = (),
    ) -> None:
        if others:
            *named, last = [f"{p} on {h} ({v})" for p, h, v in ((port, host, variable), *others)]
            message = (
                f"ports {', '.join(named)} and {last} are already in use{hint}: "
                "stop what holds them, or choose others with those settings"
            )
        else:
            message = (
                f"port {port} on {host} is already in use{hint}: "
                f"stop what holds it, or choose another with {variable}"
            )
        super().__init__(message)
        self.port = port
        self.variable = variable


class GatewayUnreachable(VigilError):
    exit_code = Exit.GATEWAY_UNREACHABLE
