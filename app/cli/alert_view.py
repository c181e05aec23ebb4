"""Reading `vigil.alerts` for people: `vigil alerts` and `vigil up --simulate`.

`vigil up`'s screen (`Screen`) makes physiology alerts stand out (bold and
coloured on a terminal), counts baseline-drift notices instead of printing
each one (`--all` prints them), and keeps the set of open alerts for its
status line. A reader that goes away (`vigil up | head`) is noticed, not a
traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from typing import Any, TextIO

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import TopicAuthorizationFailedError

from app.core.alerts import NEWS2_SEVERITY, SEVERITIES, rank
from app.core.fhir import detected_issue, heading, quality_words, signal_words
from app.infra import preflight
from app.infra.kafka_security import aiokafka_options
from app.infra.runtime import write_line
from app.infra.settings import ALERTS_TOPIC, Settings

PHYSIOLOGY = ("news2", "anomaly", "trend")
_BOLD_RED, _BOLD_YELLOW, _BOLD, _RESET = "\x1b[1;31m", "\x1b[1;33m", "\x1b[1m", "\x1b[0m"

# Why a drift was not adopted (`held` in its evidence; events before it had none).
_HELD = {
    "unsafe_level": "NEWS2 scores that level",
    "arousal": "heart and breathing rate up together: an arousal",
    "shift_unreported": "a level shift not yet reported",
}
_STATUS = {
    "open": "OPEN",
    "escalated": "ESCALATE",
    "reminder": "REMINDER",
    "resolved": "RESOLVED",
    "notice": "notice",
}


def describe(event: dict[str, Any]) -> str:
    """One line for a terminal; a resolution names what it could not see
    (`evidence.unmeasured`: scored vitals no longer measured)."""
    line = _describe(event)
    unmeasured = event.get("evidence", {}).get("unmeasured")
    if event.get("status") == "resolved" and isinstance(unmeasured, dict) and unmeasured:
        each = [(name, v) for name, v in unmeasured.items() if isinstance(v, dict)]
        last = ", ".join(f"{name} {v.get('value')} at {v.get('at')}" for name, v in each)
        line += f" (not measured since: {last})"
    return line


def _describe(event: dict[str, Any]) -> str:
    ev = event.get("evidence", {})
    status = _STATUS.get(event.get("status", ""), event.get("status", "?"))
    head = (
        f"{event.get('event_time', '?')}  {status:<8} {event.get('severity', '?'):<6} "
        f"{event.get('kind', '?'):<14} {event.get('patient', '?')}"
    )
    if event.get("kind") == "news2":
        vitals = ", ".join(
            f"{k} {v}{' (scale 2)' if k == 'spo2' and ev.get('spo2_scale') == 2 else ''}"
            for k, v in ev.get("vitals", {}).items()
        )
        band, severity = str(ev.get("band")), event.get("severity")
        banded = NEWS2_SEVERITY.get(band)
        held = severity in SEVERITIES and (banded is None or rank(severity) > rank(banded))
        unreliable = ev.get("unreliable")
        if isinstance(unreliable, list) and unreliable:
            # held open while a parameter it was told for sends artifacts (docs/alerts.md)
            band = f"{band}; held open, signal bad: {', '.join(map(str, unreliable))}"
        elif isinstance(unrecovered := ev.get("not_recovered"), list) and unrecovered:
            # held open while a parameter it was told red for is still off the normal
            # established before it (docs/alerts.md)
            band = f"{band}; held open, not recovered: {', '.join(map(str, unrecovered))}"
        elif held and event.get("status") != "resolved":
            # a high alert stays high while the score is 6, and falls only once it has
            # held lower for a while (docs/alerts.md): say so beside the lower band
            # (a resolution's severity is the alert's last, not held)
            band = f"{band}; held {severity}"
        newly = ev.get("newly")
        new = f"; new: {', '.join(map(str, newly))}" if isinstance(newly, list) and newly else ""
        return f"{head}  NEWS2 {ev.get('score')} ({band}{new}){': ' + vitals if vitals else ''}"
    if event.get("kind") == "anomaly":
        zs = ", ".join(f"{k} {ev['vitals'][k]} (z {z:+.1f})" for k, z in ev.get("z", {}).items())
        return f"{head}  score {ev.get('score')}{': ' + zs if zs else ''}"
    if event.get("kind") == "trend":
        return f"{head}  {heading(ev)}"
    if event.get("kind") == "signal_quality":
        return f"{head}  {quality_words(ev)}"
    if event.get("kind") == "no_signal":
        return f"{head}  {signal_words(ev)}"
    if event.get("kind") == "baseline_drift":
        why = _HELD.get(str(ev.get("held")))
        if ev.get("held") == "unsafe_level" and ev.get("vital") == "mean_bp":
            why = "a mean pressure under 65"
        verb = "adopted" if ev.get("adopted") else f"not adopted ({why})" if why else "not adopted"
        return f"{head}  {ev.get('vital')} {ev.get('from')} -> {ev.get('to')}, {verb}"
    return head


async def tail(
    settings: Settings,
    on_event: Callable[[dict[str, Any]], None],
    stop: asyncio.Event,
    from_beginning: bool = False,
    started: asyncio.Event | None = None,
) -> None:
    consumer = AIOKafkaConsumer(
        ALERTS_TOPIC,
        **aiokafka_options(settings),
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
    )
    try:
        await consumer.start()
        # Wait for the assignment, so "latest" means from now on.
        while not consumer.assignment():
            if stop.is_set():
                return
            await asyncio.sleep(0.05)
        for tp in consumer.assignment():
            await consumer.position(tp)
        if started is not None:
            started.set()
        while not stop.is_set():
            try:
                batches = await consumer.getmany(timeout_ms=200)
            except TopicAuthorizationFailedError:
                raise preflight.denied(settings, ALERTS_TOPIC) from None
            for records in batches.values():
                for record in records:
                    try:
                        on_event(orjson.loads(record.value))
                    except orjson.JSONDecodeError:
                        continue
    finally:
        await _stop(consumer)  # also after a failed start: no "Unclosed AIOKafkaConsumer"


async def _stop(consumer: AIOKafkaConsumer) -> None:
    """Stop the consumer. With Kafka gone, aiokafka's stop cancels a task of
    its own that was waiting to retry, and lets that task's CancelledError
    out of `stop()` (fetcher.close): Ctrl-C then ended `vigil alerts` with
    "unexpected error (CancelledError)", exit 1 (an outside SRE's finding).
    That cancellation is not ours: the connections are closed all the same.
    A cancellation of our own task still goes through."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        client = getattr(consumer, "_client", None)
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()


def printer(as_json: bool, out: TextIO | None = None, fhir: bool = False) -> Callable[[dict[str, Any]], None]:
    """One line per event: readable text, the event's JSON, or a FHIR DetectedIssue,
    on `out` (the standard output of the time, not of this module's import:
    a second `vigil replay --offline` in one process wrote to the first's,
    closed, and failed with ValueError)."""

    def show(event: dict[str, Any]) -> None:
        if fhir:
            line = orjson.dumps(detected_issue(event)).decode()
        elif as_json:
            line = orjson.dumps(event).decode()
        else:
            line = describe(event)
        if not write_line(out or sys.stdout, line):
            raise BrokenPipeError("the reader of the output has gone away")

    return show


class Screen:
    """`vigil up`'s view of the alert stream (see the module docstring)."""

    def __init__(self, out: TextIO = sys.stdout, show_all: bool = False, colour: bool | None = None) -> None:
        self.out = out
        self.show_all = show_all
        self.colour = out.isatty() if colour is None else colour
        self.open: set[str] = set()
        self.hidden_notices = 0
        self.closed = False  # the reader went away

    def __call__(self, event: dict[str, Any]) -> None:
        self._track(event)
        if event.get("kind") == "baseline_drift" and not self.show_all:
            self.hidden_notices += 1
            return
        if not self.closed and not write_line(self.out, self._paint(event, describe(event))):
            self.closed = True

    def _track(self, event: dict[str, Any]) -> None:
        alert_id, status = event.get("alert_id"), event.get("status")
        if not isinstance(alert_id, str) or status == "notice":
            return
        if status == "resolved":
            self.open.discard(alert_id)
        else:
            self.open.add(alert_id)

    def _paint(self, event: dict[str, Any], line: str) -> str:
        if not self.colour:
            return line
        if event.get("kind") in PHYSIOLOGY and event.get("status") in ("open", "escalated"):
            return f"{_BOLD_RED if event.get('severity') == 'high' else _BOLD_YELLOW}{line}{_RESET}"
        if event.get("kind") in PHYSIOLOGY:
            return f"{_BOLD}{line}{_RESET}"
        return line
