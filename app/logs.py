"""Structured logging: every log line is an event dict passed through a chain
of small processors, rendered as JSON lines in production (or when output is
not a terminal) and readable text on a terminal.

Context (component, connection, partition) is bound once with
`structlog.contextvars.bind_contextvars`. Logs never carry patient data:
`redact` removes any key that could hold it, whatever a caller passes.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

# Keys that may hold patient data or secrets; dropped from every log event.
SENSITIVE_KEYS = frozenset(
    {"patient", "patient_id", "token", "authorization", "vitals", "reading", "readings", "value", "frame"}
)


def redact(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in SENSITIVE_KEYS.intersection(event_dict):
        event_dict[key] = "[redacted]"
    return event_dict


def configure(component: str, fmt: str = "auto", level: str = "info") -> None:
    json_lines = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        # sys.stderr is looked up when a logger is made, not when configured.
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(component=component)


def get(name: str | None = None) -> Any:
    return structlog.get_logger(name)
