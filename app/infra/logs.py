"""Structured logging: every log line is an event dict passed through a chain
of small processors, rendered as JSON lines in production (or when output is
not a terminal) and readable text on a terminal.

Context (component, connection, trace id) is bound once with
`structlog.contextvars.bind_contextvars`. Log records of the libraries (Faust,
aiokafka, websockets) are rendered by the same chain (`stdlib_config`). Logs never carry patient data:
`redact` removes any key that could hold it, whatever a caller passes.
"""

from __future__ import annotations

import logging
import logging.config
import sys
import time
from typing import Any

import structlog
from structlog.typing import EventDict, Processor

# Keys that may hold patient data or secrets; dropped from every log event.
SENSITIVE_KEYS = frozenset(
    {"patient", "patient_id", "token", "authorization", "vitals", "reading", "readings", "value", "frame"}
)


def redact(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    for key in SENSITIVE_KEYS.intersection(event_dict):
        event_dict[key] = "[redacted]"
    return event_dict


LIBRARIES_CAPPED_AT_INFO = ("faust", "mode", "aiokafka", "kafka", "websockets", "aiohttp")


def _renderer(fmt: str) -> Any:
    json_lines = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    if json_lines:
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())


def _level(level: str) -> int:
    return logging.getLevelNamesMapping().get(level.upper(), logging.INFO)


# What every event goes through before rendering, ours and the libraries'.
_SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    redact,
]


REPEAT_S = 10.0  # a library's same message: at most once in this long


class Repeats(logging.Filter):
    """A library logging the same message again and again (aiokafka's
    "Unable connect to node with id %s" while a broker is down: about 60
    lines a second per worker, 1.2 MB in two minutes of outage, as an SRE
    measured) is let through once every `REPEAT_S`; the line that comes
    through says how many were left out since. Vigil's own lines pass."""

    def __init__(self, every_s: float = REPEAT_S) -> None:
        super().__init__()
        self.every_s = every_s
        # (logger, message template) -> [when last let through, how many left out since]
        self.seen: dict[tuple[str, str], list[float]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.partition(".")[0] not in LIBRARIES_CAPPED_AT_INFO:
            return True
        key, now = (record.name, str(record.msg)), time.monotonic()
        seen = self.seen.get(key)
        if seen is not None and now - seen[0] < self.every_s:
            seen[1] += 1
            return False
        if seen is not None and seen[1]:
            record.msg = f"{record.msg} (and {seen[1]:.0f} more like it in the last {now - seen[0]:.0f} s)"
        if len(self.seen) >= 1000:  # bounded: many distinct messages forget the older ones
            self.seen.clear()
        self.seen[key] = [now, 0.0]
        return True


# aiokafka's ERROR lines about a connection or a metadata request it tries
# again by itself, whatever the error (a refused connection is an OSError,
# with no `retriable`): "Unable connect to node with id 1: [Errno 111] Connect
# call failed", every 10 s (`Repeats`) while a broker is down.
RETRIED_MESSAGES = frozenset(
    {
        "Unable connect to node with id %s: %s",
        'Unable connect to "%s:%s": %s',
        "Unable to update metadata from %s",
    }
)


class Retried(logging.Filter):
    """aiokafka logs at ERROR a request it then retries by itself: "Group
    Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError"
    as every worker starts on a broker whose offsets topic is not yet there,
    "Unable connect to node with id 1: [Errno 111] ..." while a broker is
    down. Such a line (its error `retriable`, or one of `RETRIED_MESSAGES`)
    is a WARNING: an error-level log alert would fire at every start or
    broker restart, for nothing. If it goes on, the process says so in its
    own words ("kafka unavailable", "has not answered"), and the worker's
    readiness and `vigil_worker_kafka_up` do too."""

    def filter(self, record: logging.LogRecord) -> bool:
        # aiokafka's client logs as "aiokafka", the rest as "aiokafka.<module>"
        if record.levelno == logging.ERROR and record.name.partition(".")[0] == "aiokafka":
            retried = record.msg in RETRIED_MESSAGES
            if retried or any(getattr(arg, "retriable", False) for arg in record.args or ()):
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def stdlib_config(fmt: str = "auto", level: str = "info") -> dict[str, Any]:
    """A `logging.config.dictConfig` that renders the standard library's log
    records (Faust, aiokafka, websockets) like Vigil's own: the same JSON
    lines, the same context, the same redaction."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "vigil": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    _renderer(fmt),
                ],
                "foreign_pre_chain": [structlog.stdlib.add_logger_name, *_SHARED],
            }
        },
        "filters": {"repeats": {"()": Repeats}, "retried": {"()": Retried}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "vigil",
                "stream": "ext://sys.stderr",
                "filters": ["retried", "repeats"],
            }
        },
        "root": {"level": _level(level), "handlers": ["default"]},
        # These libraries print whole Kafka messages and frames (patient data)
        # in their DEBUG lines, so they never log below INFO, whatever
        # VIGIL_LOG_LEVEL says.
        "loggers": {name: {"level": max(_level(level), logging.INFO)} for name in LIBRARIES_CAPPED_AT_INFO},
    }


def configure(component: str, fmt: str = "auto", level: str = "info", quiet_libraries: bool = False) -> None:
    """Set up logging for one process. Interactive commands pass
    `quiet_libraries`, so the libraries' routine INFO lines (connections,
    metadata) do not drown what the command prints."""
    structlog.configure(
        processors=[*_SHARED, structlog.processors.format_exc_info, _renderer(fmt)],
        wrapper_class=structlog.make_filtering_bound_logger(_level(level)),
        # sys.stderr is looked up when a logger is made, not when configured.
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.config.dictConfig(stdlib_config(fmt, level))
    if quiet_libraries:
        for name in LIBRARIES_CAPPED_AT_INFO:
            logging.getLogger(name).setLevel(max(_level(level), logging.WARNING))
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(component=component)


def get(name: str | None = None) -> Any:
    return structlog.get_logger(name)
