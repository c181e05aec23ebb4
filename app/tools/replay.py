"""`vigil replay FILE`: stream a recording through the live gateway.

A recording is CSV (a header with `patient`, `ts` and one column per vital,
or the long layout: `patient`, `ts`, `vital`, `value`, a value a row, those
of one moment one reading; other names mapped with `Layout`;
empty cells and other tools' marks of a missing value, `MISSING`, are
skipped, and so are the recording's own, `Missing`, and values their
channels cannot take or numbers out of their range, `_Cells`), JSON lines (`{"patient": ..., "ts": ...,
"vitals": {...}}`), or FHIR Observations, one per line, whose
`subject.reference` names the patient. Times are ISO 8601 or epoch
milliseconds.

Each patient gets a device (`replay-<patient>`, registered afresh) and a
reference client (`app.tools.simulate.DeviceClient`), so replay uses the real
protocol: acks, resends, backoff. Readings are sent at their recorded times
divided by `speed` (0: as fast as acks allow); since detection runs on event
time, the alerts are the same at any speed. `--shift-to-now` moves the whole
recording by whole days so that it ends within the last day (`shift_ms`; the
gateway accepts readings up to 7 days old, and `check_times` says so before
anything is sent).

A recording that cannot be read raises `RecordingError` naming the line and
what is wrong with it, never the patient identifier it holds.

`offline` runs a recording through the detection core in this process
instead, with no gateway, Kafka or worker, and hands each alert event over
as the worker would emit it: the same checks on each reading as the
gateway's (but for its 7-day window: a recording of any age and length),
the worker's settings (`Settings.detector_config`), its state bound (the
state is encoded after each reading, which drops what does not fit, as the
worker does before it writes its table), and the same pseudonym key, so the alert ids are those `vigil.alerts`
would carry.
"""

from __future__ import annotations

import asyncio
import csv
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from app.core import fhir
from app.core import patient as core
from app.core import state as patient_state
from app.core.errors import Code, Refusal, RegistryError
from app.core.errors import RecordingError as RecordingError  # part of its interface
from app.core.news2 import acvpu
from app.core.protocol import Limits, custom_name, parse_reading, type_problem, with_non_finite
from app.core.records import pseudonym, reading_id
from app.core.vitals import ACVPU, NAMED, NUMERIC
from app.infra.registry import validate_id
from app.infra.runtime import counted
from app.infra.settings import Settings
from app.tools import simulate


@dataclass(frozen=True)
class Row:
    patient: str
    ts_ms: int
    vitals: dict[str, Any]
    line: int = field(default=0, compare=False)  # the file's line of its first value (0: not known)


@dataclass(frozen=True)
class Times:
    """How a recording writes its times: ISO 8601 or epoch milliseconds,
    or `ts_format` (`--ts-format`, strptime's codes: a Fitbit export's
    `4/12/2016 7:21:00 AM` is `%m/%d/%Y %I:%M:%S %p`), or hours and minutes
    since `since_ms` (`--since`: PhysioNet 2012's `25:20`); a time without a
    zone is read in `tz` (`--tz`), and refused without one."""

    tz: tzinfo | None = None
    ts_format: str | None = None
    since_ms: int | None = None

    def ms(self, value: Any, where: str) -> int:
        """A reading's time in epoch milliseconds."""
        if self.since_ms is not None:
            return self.since_ms + _elapsed(value, where)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value)
        if not isinstance(value, str):
            raise RecordingError(f"{where}: ts must be ISO 8601 with a time zone, or epoch milliseconds")
        if self.ts_format is not None:
            try:
                moment = datetime.strptime(value.strip(), self.ts_format)
            except ValueError as exc:
                _no_such_date(exc, where)
                raise RecordingError(f"{where}: ts does not match --ts-format {self.ts_format!r}") from None
        elif value.strip().isdigit():
            return int(value)
        else:
            try:
                moment = datetime.fromisoformat(value.strip())
            except ValueError as exc:
                _no_such_date(exc, where)
                if ELAPSED.fullmatch(value.strip()):
                    raise RecordingError(
                        f"{where}: ts {value.strip()!r} has no date: hours and minutes since a start "
                        "(PhysioNet 2012's, since admission) are read with --since, e.g. --since "
                        "2026-01-01T00:00:00Z; times of day need their date (a date column is joined "
                        "to them by --map DATE=ts --map TIME=ts, with --ts-format)"
                    ) from None
                raise RecordingError(
                    f"{where}: ts must be ISO 8601 with a time zone, or epoch milliseconds; for another "
                    "layout give --ts-format, e.g. --ts-format '%m/%d/%Y %I:%M:%S %p'"
                ) from None
        if moment.tzinfo is None and self.tz is not None:
            moment = moment.replace(tzinfo=self.tz)
        if moment.tzinfo is None:
            raise RecordingError(
                f"{where}: ts has no time zone: add one (Z for UTC), or give --tz, e.g. --tz UTC"
            )
        return int(moment.timestamp() * 1000)


# Hours (any number of them), minutes and maybe seconds since a start: `--since`.
ELAPSED = re.compile(r"(\d+):([0-5]\d)(?::([0-5]\d))?")


def _elapsed(value: Any, where: str) -> int:
    """`H:MM` or `H:MM:SS` (hours may pass 24) in milliseconds."""
    match = ELAPSED.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise RecordingError(
            f"{where}: ts must be hours and minutes since --since (H:MM or H:MM:SS, e.g. 25:20), as given"
        )
    hours, minutes, seconds = match.groups()
    return ((int(hours) * 60 + int(minutes)) * 60 + int(seconds or 0)) * 1000


# With `--since`, a time this far before an earlier line's (of the same patient) is a
# time of day past midnight (23:59, then 00:01), not hours since a start (`_forward`).
SINCE_BACK_MS = 12 * 3_600_000


def _forward(rows: list[Row]) -> None:
    """Refuse times read with `--since` that go back by `SINCE_BACK_MS` or
    more in the file: times of day across midnight, which `--since` would
    put a day apart in the wrong order (an outside reviewer's 23:57 ...
    00:01, the 00:00 heart rate of 140 placed a day before 23:57)."""
    latest: dict[str, Row] = {}
    for row in sorted(rows, key=lambda r: r.line):
        before = latest.get(row.patient)
        if before is not None and row.ts_ms <= before.ts_ms - SINCE_BACK_MS:
            back = (before.ts_ms - row.ts_ms) / 3_600_000
            raise RecordingError(
                f"line {row.line}: its time is {back:.1f} hours before line "
                f"{before.line}'s: with --since, times are hours and minutes since a start and go forward; "
                "these look like times of day: write the date into them (a date column is joined to them "
                "by --map DATE=ts --map TIME=ts, with --ts-format) and leave out --since"
            )
        if before is None or row.ts_ms > before.ts_ms:
            latest[row.patient] = row


def since(text: str, tz: tzinfo | None) -> int:
    """`--since MOMENT`: ISO 8601, with a zone or read in `tz`, in epoch milliseconds."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise RecordingError(
            f"--since {text!r} is not ISO 8601: give e.g. --since 2026-01-01T00:00:00Z"
        ) from None
    if moment.tzinfo is None and tz is not None:
        moment = moment.replace(tzinfo=tz)
    if moment.tzinfo is None:
        raise RecordingError(f"--since {text!r} has no time zone: add one (Z for UTC), or give --tz")
    return int(moment.timestamp() * 1000)


_YEAR_CODES = frozenset("YyGcx")  # strptime's codes that give a year (%c and %x: a whole date)
_DAY_CODES = frozenset("djmbBUWV")  # and those that give a day or a month


def dated(ts_format: str) -> None:
    """Refuse, before anything is read, a `--ts-format` with no year: strptime
    reads such a time (`%H:%M:%S`, a lab oximeter's time of day alone) in
    1900, and every reading would be refused after the run, `ts is before
    1970`, with no word of the format."""
    codes = set(re.findall(r"%[-#]?(.)", ts_format.replace("%%", "")))
    if codes & _YEAR_CODES:
        return
    what = "year (no %Y or %y)" if codes & _DAY_CODES else "date (a time of day alone)"
    raise RecordingError(
        f"--ts-format {ts_format!r} has no {what}: each time would be read as in 1900, which the gateway "
        "refuses; write the date into the times (a date column of their own is joined to them by --map "
        "DATE=ts --map TIME=ts) and give it in the format, e.g. --ts-format '%Y-%m-%d %H:%M:%S'"
    )


def _no_such_date(exc: ValueError, where: str) -> None:
    """Refuse a time in the right layout whose date or time does not exist
    (`2020-02-30`, `25:00`), saying so: Python's word for it (`day is out of
    range for month`) holds no value; its word for a layout it cannot read
    holds the time itself, and is not repeated."""
    why = str(exc)
    if not why.startswith(("Invalid isoformat string", "time data", "unconverted data")):
        raise RecordingError(
            f"{where}: ts names a date or time that does not exist ({why}): correct it in the file"
        ) from None


def time_zone(name: str) -> tzinfo:
    """`--tz NAME`: an IANA time zone (`UTC`, `Europe/London`)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RecordingError(
            f"--tz {name!r} is not a time zone this machine knows: try UTC or Europe/London"
        ) from None


def _number(text: str) -> Any:
    word = text.strip().lower()
    if word in ("true", "false"):  # pandas writes True and False
        return word == "true"
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text.strip()  # consciousness letters


def _patient(value: Any, where: str) -> str:
    try:
        return validate_id("patient", str(value))
    except RegistryError as exc:
        raise RecordingError(f"{where}: {exc}") from None


def _text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")  # a spreadsheet's "CSV UTF-8" begins with a byte-order mark
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RecordingError(f"{path.name}: line {line} is not UTF-8 text; save it as UTF-8") from None


# What recordings from other systems call Vigil's vitals (PhysioNet's, MIMIC's,
# VitalDB's, monitors' exports), written lower case without `_`, spaces or signs:
# a column under one of these names is taken for a custom channel, or refused, when
# the vital was meant (`_channel`).
ALIASES = {
    "heart_rate": ("hr", "ecghr", "hrecg"),
    "pulse_rate": ("pulse", "pr", "plethhr", "hrpleth", "spo2hr"),
    "spo2": ("sao2", "o2sat", "spo2pct", "oxygensaturation"),
    "respiratory_rate": ("rr", "resp", "resprate", "respiration", "respirationrate", "breathingrate", "awrr"),
    "systolic_bp": ("sbp", "sys", "systolic", "sysabp", "nisysabp", "abpsys", "nbpsys", "nibpsys", "artsys"),
    "diastolic_bp": (
        "dbp",
        "dia",
        "diastolic",
        "diasabp",
        "nidiasabp",
        "abpdias",
        "nbpdias",
        "nibpdia",
        "artdia",
    ),
    "mean_bp": ("map", "mbp", "meanbp", "nimap", "abpmean", "nbpmean", "nibpmean", "artmean"),
    "temperature": ("temp", "tempc", "bodytemp", "bodytemperature"),
    "weight": ("wt", "weightkg", "bodyweight"),
    "consciousness": ("avpu", "acvpu", "gcs", "gcstotal", "glasgowcomascale"),
    "on_oxygen": ("o2", "oxygen", "ono2", "onoxygen"),  # and FIO2_NAMES, VENTILATED_NAMES, below
}
# A column (a vital of the long layout or of JSON lines) read as `on_oxygen`
# under a name that says it holds the fraction of inspired oxygen (PhysioNet
# 2012's `FiO2`, 0.21-1, or a percentage, 21-100) or mechanical ventilation
# (its `MechVent`, 1) has its numbers read as the oxygen (`_Oxygen`): NEWS2
# scores supplemental oxygen 2, and an intubation round on an FiO2 of 1.0
# scored 3 where it is 5 (an outside tester's PhysioNet 2012 stay 132551).
FIO2_NAMES = frozenset(
    {
        "fio2",
        "fio2pct",
        "fio2percent",
        "fio2set",
        "fractioninspiredoxygen",
        "fractionofinspiredoxygen",
        "inspiredo2fraction",
        "inspiredoxygenfraction",
    }
)
VENTILATED_NAMES = frozenset({"mechvent", "mechanicalventilation", "ventilated", "onventilator"})
# ... or the oxygen's flow (MIMIC-IV's `O2 Flow`, L/min: over 0 is oxygen, 0 room air), or
# the device it is given by, as text (MIMIC-IV's `O2 Delivery Device(s)`: `Nasal
# cannula`, `Non-rebreather`; `None` and `Room air` say room air): NEWS2 scores
# supplemental oxygen 2 whatever gives it.
FLOW_NAMES = frozenset({"o2flow", "o2flowrate", "oxygenflow", "oxygenflowrate", "o2lmin", "o2flowlmin"})
DEVICE_NAMES = frozenset(
    {
        "o2deliverydevice",
        "o2deliverydevices",
        "o2device",
        "o2delivery",
        "oxygendevice",
        "oxygendeliverydevice",
        "oxygendelivery",
        "o2deliverymethod",
    }
)
# What a device column writes for no device: room air (`on_oxygen` false). "None" is
# read so here, not skipped as a missing value, as it is in any other column.
ROOM_AIR_WORDS = frozenset({"none", "room air", "ra", "air", "no", "no device", "off"})
# ... and what names no device: a flag (`Y`, `N`, `Yes`) or a word for not knowing, left out
# with a line, never read as a device (`_device`).
NOT_A_DEVICE = frozenset(
    {"y", "n", "yes", "t", "f", "other", "unknown", "not applicable", "na", "n a", "nan"}
)
FLOW_TOP = 80.0  # L/min: a high-flow nasal cannula's most is 60-70
ALIASES["on_oxygen"] += tuple(sorted(FIO2_NAMES | VENTILATED_NAMES | FLOW_NAMES | DEVICE_NAMES))
_MEANT = {alias: vital for vital, aliases in ALIASES.items() for alias in (*aliases, vital.replace("_", ""))}
# A pulse under these names beside a blood pressure, with no SpO2 and no heart
# rate, is a cuff's (Omron Connect's `Pulse (bpm)`): the heart rate, NEWS2's
# pulse. Beside an SpO2 it is an oximeter's, `pulse_rate` (docs/alerts.md:
# checked against the ECG's `heart_rate`); so is a pulse alone.
_CUFF_PULSE = ("pulse", "pr")
_PRESSURES = ("systolic_bp", "diastolic_bp", "mean_bp")


@dataclass(frozen=True)
class _Unit:
    """A unit a column's name may say its values are in (`Weight (lb)`,
    `Temperature (°F)`, as home devices' exports write them) that is not
    its vital's: read under that vital, its numbers are converted
    (`convert`), rounded to 0.01."""

    vital: str
    words: frozenset[str]  # the name's words that say it, lower case
    name: str  # as told: "lb"
    to: str  # the vital's: "kg"
    how: str  # the conversion, as told
    convert: Callable[[float], float]


UNITS = (
    _Unit(
        "weight",
        frozenset({"lb", "lbs", "pound", "pounds"}),
        "lb",
        "kg",
        "1 lb = 0.45359237 kg",
        lambda value: value * 0.45359237,
    ),
    _Unit(
        "temperature",
        frozenset({"f", "degf", "fahrenheit"}),
        "°F",
        "°C",
        "(°F - 32) × 5/9",
        lambda value: (value - 32) * 5 / 9,
    ),
)


def _unit(name: str, vital: str) -> _Unit | None:
    """The unit, other than `vital`'s own, that a column's name says its
    values are in: `Weight (lb)`, `weight_lbs`, `Temperature (°F)`, `Temp F`."""
    words = set(re.split(r"[^a-z0-9]+", name.lower()))
    return next((unit for unit in UNITS if unit.vital == vital and words & unit.words), None)


def _channel(name: str, where: str, hints: dict[str, str], others: Iterable[str] = ()) -> None:
    """Refuse a column (or a JSON line's key) that names no channel the
    gateway takes (every reading would be refused, `wrong_type`), saying
    which vital it may have meant. Note in `hints` (once per name) one that
    is a custom channel's name but another system's for one of Vigil's
    vitals (`hr`): it would be learned as a custom channel, without NEWS2 or
    a dangerous range. `others`: the names beside it (the header's, the
    JSON line's), for what a pulse is (`_meant`)."""
    if _known(name, hints):
        return
    if not custom_name(name):
        raise RecordingError(
            f"{where} {name!r} is not a channel name (lower-case letters, digits and _, "
            f"starting with a letter; docs/protocol.md): give {_leave_out(name, others)}"
        )
    if _meant(name, others):
        hints[name] = (
            f"{where} {name!r} is read as a custom channel (learned, but not scored by NEWS2); "
            f"give {_map(name, others)} if it holds that"
        )


def _meant(name: str, others: Iterable[str] = ()) -> str | None:
    """The vital another system's column name may mean: `HR`, `Resp Rate`,
    and with its unit, as a device's export writes it (`Systolic (mmHg)`,
    `Pulse (bpm)`: Omron Connect's). A pulse beside a blood pressure, with
    no SpO2 or heart rate beside it, is a cuff's: `heart_rate` (`_CUFF_PULSE`);
    and with a device's number after it (`SpO2 1`, `Pulse_2`, `HR2`), as a
    lab oximeter's export numbers its devices."""
    plain, bare = _bare(name)
    meant = _MEANT.get(bare)
    if meant is None:
        numbered = "".join(c for c in re.sub(r"[\s_#.-]*\d+$", "", plain).lower() if c.isalnum())
        if numbered != bare and numbered in _MEANT:
            bare, meant = numbered, _MEANT[numbered]
    if meant == "pulse_rate" and bare in _CUFF_PULSE:
        beside = {_meant(other) for other in others if other != name}
        if beside & set(_PRESSURES) and not beside & {"spo2", "heart_rate", "pulse_rate"}:
            return "heart_rate"
    return meant


def _bare(name: str) -> tuple[str, str]:
    """A name without what it says in brackets (`Systolic (mmHg)`), and that
    lower case, letters and digits alone (`systolic`)."""
    plain = re.sub(r"[(\[][^)\]]*[)\]]", "", name).strip()
    return plain, "".join(c for c in plain.lower() if c.isalnum())


def _map(name: str, others: Iterable[str] = ()) -> str:
    """The `--map` that reads a column as the vital it may mean, with the
    conversion of a unit its name says (`Weight (lb)`), or "" for none."""
    meant = _meant(name, others)
    if meant is None:
        return ""
    unit = _unit(name, meant)
    converted = f" (read as {unit.name}, converted to {unit.to})" if unit else ""
    kind = _oxygen_kind(name) if meant == "on_oxygen" else None
    if kind is not None:
        converted = f" ({_OXYGEN_READ[kind]})"
    return f"--map '{name}={meant}'{converted}"


def _leave_out(name: str, others: Iterable[str] = ()) -> str:
    """What to give for a column no channel can be named: the vital it may
    mean, and how to leave it out."""
    meant = _map(name, others)
    hint = f"{meant} if it holds that, or " if meant else ""
    return f"{hint}--map '{name}=' to leave it out"


def _columns(path: Path, names: list[str], hints: dict[str, str]) -> None:
    """Check a CSV header's columns (`_channel`), in the header's order,
    and refuse every one no channel can be named in one message: an
    export of 17 columns (a cuff's, in Spanish) took 14 runs to learn them
    one by one, a different one each run."""
    refused = [name for name in names if name and not custom_name(name) and not _known(name, hints)]
    if len(refused) > 1:
        raise RecordingError(
            f"{path.name}: columns {', '.join(repr(n) for n in refused)} are not channel names (lower-case "
            "letters, digits and _, starting with a letter; docs/protocol.md): give "
            + "; ".join(_leave_out(name, names) for name in refused)
        )
    for name in names:
        if name:  # "": left out (`--map NAME=`)
            _channel(name, f"{path.name}: column", hints, names)


def _known(name: str, hints: dict[str, str]) -> bool:
    if name.startswith(OXYGEN_FROM):  # an FiO2 or a ventilation read as on_oxygen (`_read_as`)
        return True
    return name in ALIASES or name in NUMERIC or name in NAMED or name in ("patient", "ts") or name in hints


LEAVE_OUT = "--leave-out-unnamed"


def _unnamed(file: str, names: list[str], where: str, others: Iterable[str]) -> RecordingError:
    """The refusal of the vitals (long layout, JSON lines) no channel can be
    named, all in one message, in the order the file first names them, with
    the `--map` for each and `--leave-out-unnamed` for every one: a MIMIC
    chart export names over a hundred item ids, and the refusal named the
    first alone, a run each. `where`: the first's line; one alone keeps
    `_channel`'s words."""
    if len(names) == 1:
        return RecordingError(
            f"{where}: vital {names[0]!r} is not a channel name (lower-case letters, digits and _, "
            f"starting with a letter; docs/protocol.md): give {_leave_out(names[0], others)}"
        )
    return RecordingError(
        f"{file}: {len(names)} vitals {', '.join(repr(n) for n in names)} are not channel names (lower-case "
        f"letters, digits and _, starting with a letter; docs/protocol.md; the first on {where}): give "
        + "; ".join(_leave_out(name, others) for name in names)
        + f"; or give {LEAVE_OUT} to leave out every vital no channel can be named"
    )


def _unnamed_told(file: str, rd: _Recording) -> list[str]:
    """The line saying what `--leave-out-unnamed` left out: how many values
    of how many vitals, the first eight named (never a patient id), and the
    `--map` for those that may be one of Vigil's vitals (`HR`)."""
    if not rd.unnamed:
        return []
    names = list(rd.unnamed)
    values = sum(rd.unnamed.values())
    shown = ", ".join(repr(name) for name in names[:8]) + (f" and {len(names) - 8} more" if names[8:] else "")
    line = (
        f"{file}: {LEAVE_OUT} left out {values} value{'' if values == 1 else 's'} of {len(names)} "
        f"vital{'' if len(names) == 1 else 's'} no channel can be named ({shown})"
    )
    meant = [hint for hint in (_map(name, names) for name in names) if hint]
    if meant:
        line += f"; give {'; '.join(meant)} for what one of Vigil's vitals holds"
    return [line]


@dataclass
class _Unfit:
    """A column's (a JSON key's) values that its channel cannot take: text
    where a number goes (`72 bpm`, a comment, a bed), a number where `true`
    or `false` goes; and numbers out of its range (`385` for 38.5 °C)."""

    label: str  # "column" or "vital"
    given: list[str] = field(default_factory=list)  # the recording's names for it (`--map`), as first seen
    values: int = 0  # values seen, missing ones not counted
    unfit: int = 0
    listed: int = 0  # unfit values that look like lists in brackets (`[64]`, a Withings export's)
    first: str = ""  # the line of the first unfit one
    why: str = ""  # what the channel takes, as the gateway's refusal says it
    outside: int = 0  # numbers out of the channel's range (`_Cells._within`)
    outside_first: str = ""  # the line of the first
    outside_why: str = ""  # the gateway's `out_of_range` message for it: it names no patient
    outside_value: Any = None  # the first, and whether every one is the same (`_Cells.outside`)
    same: bool = True

    def named(self, name: str, label: str | None = None) -> str:
        """`column 'heart_rate'`; a column `--map` reads as another name, by
        the recording's name for it and the name it is read as (`column
        'HRx' (read as heart_rate)`): the user looks for it in the file."""
        return f"{label or self.label} {self.shown(name)}"

    def shown(self, name: str) -> str:
        """`'heart_rate'`, or `'HRx' (read as heart_rate)` (`named`)."""
        given = self.given or [name]
        if given == [name]:
            return repr(name)
        return f"{' or '.join(repr(n) for n in given)} (read as {name})"

    def why_unfit(self) -> str:
        """What the channel takes, and, when every unfit value looks like a
        list in brackets, that they do (never the values)."""
        if self.listed == self.unfit:
            return f"{self.why}, and they look like lists in brackets"
        return self.why


# Most of a recording's temperatures from SKIN_FROM to under SKIN_UNDER (°C), at
# least SKIN_VALUES of them, look like a wearable's skin temperature
# (`_Cells.skin`); a mark of a value not measured (-1) is none.
SKIN_FROM = 25.0
SKIN_UNDER = 35.5
SKIN_VALUES = 5


class _Cells:
    """Skips the values their channels cannot take, so that the rest of the
    row goes through (sent, such a value is refused `wrong_type` and the
    reading's other values with it), and says so once per column: a column
    of text alone is left out, or, under a vital's name, refused. A number
    out of its channel's range (refused `out_of_range`, with the reading's
    other values) is left out the same way, and told (`outside`)."""

    def __init__(self) -> None:
        self.columns: dict[str, _Unfit] = {}
        self.cool = 0  # temperatures under SKIN_UNDER (`skin`)
        self.left_out = 0  # numbers out of range, of every column (`outside`)

    def keep(self, name: str, value: Any, where: str, label: str, given: str) -> bool:
        """`given`: the recording's name for the column (the vital) `name`
        is read as (`Layout`)."""
        seen = self.columns.get(name)
        if seen is None:
            seen = self.columns[name] = _Unfit(label)
        if given not in seen.given:
            seen.given.append(given)
        seen.values += 1
        if value.__class__ in (int, float) and name not in NAMED:
            if name == "temperature" and SKIN_FROM <= value < SKIN_UNDER:
                self.cool += 1
            vital = NUMERIC.get(name)
            if vital is not None and vital.possible[0] <= value <= vital.possible[1]:
                return True  # the usual case, without building a refusal
            return self._within(name, value, where, seen)
        why = type_problem(name, value)
        if why is None and name == "consciousness" and value not in ACVPU:
            why = _NO_LEVEL
        if why is None:
            return self._within(name, value, where, seen)
        seen.unfit += 1
        seen.listed += _listed(value)
        if not seen.first:
            seen.first, seen.why = where, why
        return False

    def _within(self, name: str, value: Any, where: str, seen: _Unfit) -> bool:
        """Would the gateway take `value` (of the right type) for `name`?
        A number out of its range is refused `out_of_range` with the whole
        reading: left out, counted for `outside` (a chart's `385` for 38.5
        took a NEWS2 of 12 with it). The protocol's own check says so, and
        its message is told."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return True  # a status of the right type (an ACVPU letter, true or false)
        try:
            parse_reading({"seq": 0, "ts": 0, "vitals": {name: value}}, 0)
        except Refusal as refusal:
            if refusal.code is not Code.OUT_OF_RANGE:
                return True
            if not seen.outside:
                seen.outside_first, seen.outside_why, seen.outside_value = where, refusal.message, value
            seen.outside += 1
            self.left_out += 1
            seen.same = seen.same and _same(value, seen.outside_value)
            return False
        return True

    def skin(self, file: str, column: str | None = None) -> list[str]:
        """A line when most temperatures are under `SKIN_UNDER`: a
        wearable's skin temperature (a Whoop strap's export names its column
        `temperature`, 32.9-36.2 °C), which NEWS2 would score as the body's
        hypothermia. Told, not refused: a patient cooled after a cardiac
        arrest is kept at 33-36 °C."""
        seen = self.columns.get("temperature")
        if seen is None or self.cool < SKIN_VALUES or 2 * self.cool <= seen.values:
            return []
        return [
            f"{file}: {self.cool} of {seen.values} temperatures are under {SKIN_UNDER} °C: a wearable's skin "
            "temperature is not the body temperature NEWS2 scores; if that is what they are, give "
            f"--map '{column or 'temperature'}=skin_temperature' to read them as a custom channel"
        ]

    def told(self, file: str) -> list[str]:
        """One line per column with unfit values (never the values: a
        comment may name anyone); raises for a vital none of whose values
        fit."""
        lines = []
        for name, seen in self.columns.items():
            if not seen.unfit:
                continue
            what, why = f"{file}: {seen.named(name)}", seen.why_unfit()
            if seen.unfit < seen.values:
                lines.append(
                    f"{what}: {seen.unfit} of {seen.values} values are not what it takes ({why}; "
                    f"the first on {seen.first}): skipped as empty cells, the rest of their rows goes through"
                )
            elif name in NUMERIC or name in NAMED:
                raise RecordingError(
                    f"{what} holds no value it takes ({why}; {seen.first}): write them so, "
                    "or leave the column out"
                )
            else:
                lines.append(f"{what} holds no value a channel takes ({why}): it is left out")
        return lines

    def outside(self, file: str, unsent: list[str]) -> list[str]:
        """One line per column with numbers out of its range: how many, the
        gateway's message for the first (its range, and the unit it looks
        like), its line, and `--missing` for one value throughout (`-1`,
        an oximeter's 255); then one for the rows (`unsent`: their lines)
        left with no value, which are not sent. Never a patient id."""
        lines = []
        for name, seen in self.columns.items():
            if not seen.outside:
                continue
            one = seen.outside == 1
            line = (
                f"{file}: {seen.named(name)}: {seen.outside} value{'' if one else 's'} outside what the "
                f"gateway takes ({seen.outside_why}; the first on {seen.outside_first}): left out, the rest "
                f"of {'its reading' if one else 'their readings'} goes through"
            )
            value = seen.outside_value
            if seen.same and (value == -1 or not one):
                each = "it was" if one else "each was"
                line += (
                    f"; {each} {value:g}: if {value:g} marks a value not measured, give --missing {value:g}"
                )
            elif "Fahrenheit" in seen.outside_why:
                line += (
                    f"; if {'it is' if one else 'they are'} in °F, a column name saying so "
                    "('Temperature (°F)'), or in a file of one value a row a unit column "
                    f"(--map UNITCOLUMN=unit), has {'it' if one else 'them'} converted"
                )
            lines.append(line)
        if unsent:
            readings = "1 reading" if len(unsent) == 1 else f"{len(unsent)} readings"
            lines.append(
                f"{file}: {readings} had no value left once those were left out (the first on {unsent[0]}): "
                "not sent, as a row with every cell empty is not"
            )
        return lines

    def custom(self, file: str, hinted: dict[str, str]) -> list[str]:
        """One line naming the columns (JSON lines' vitals) read as custom
        channels, but those `_channel` already spoke of, and Vigil's own
        (`pulse_rate`): a Welltory export's `robinson_index` was learned and
        alerted on without a word."""
        names = [
            name
            for name, seen in self.columns.items()
            if seen.unfit < seen.values
            and name not in NUMERIC
            and name not in NAMED
            and name not in ALIASES
            and name not in hinted
        ]
        if not names:
            return []
        shown = ", ".join(self.columns[name].shown(name) for name in names[:8]) + (
            f" and {len(names) - 8} more" if names[8:] else ""
        )
        label, first = self.columns[names[0]].label, (self.columns[names[0]].given or names)[0]
        if names[1:]:
            what = f"{label}s {shown} are not Vigil's vitals: read as custom channels"
        else:
            what = f"{label} {shown} is not one of Vigil's vitals: read as a custom channel"
        leave = "one" if names[1:] else "it"
        return [
            f"{file}: {what} (learned and alerted on, not scored by NEWS2); "
            f"give --map '{first}=' to leave {leave} out"
        ]


def _listed(value: Any) -> bool:
    """Does a value look like a list in brackets (a Withings export's `[64]`
    or `[88,89]`, a JSON line's array)?"""
    if isinstance(value, list):
        return True
    return isinstance(value, str) and value.startswith("[") and value.endswith("]")


# What spreadsheets, pandas, R and monitors' exports write where a value is
# missing: skipped as an empty cell is, so the rest of the row goes through (sent,
# a `NaN` is refused as not finite, and the reading's other values with it).
MISSING = frozenset({"nan", "na", "n/a", "null", "none", "-", "--", "---", "?"})


@dataclass(frozen=True)
class Layout:
    """How a recording names things, when not as Vigil does: `names` maps
    its column names (and, in the long layout or JSON lines, its vitals'
    names) to Vigil's (`--map Time=ts --map HR=heart_rate`; to "": left
    out, `--map Urine=`); `patient` is the patient of a file without a
    patient column (`--patient`); `gcs`, that its consciousness numbers are
    a GCS even when none is over 4 (`--gcs`, `_gcs_told`)."""

    names: dict[str, str] = field(default_factory=dict)
    patient: str | None = None
    # `--leave-out-unnamed`: the vitals of the long layout and JSON lines under a
    # name no channel can have (a chart's item ids) are left out, counted
    # (`_unnamed_told`), instead of refusing the recording
    leave_out_unnamed: bool = False
    gcs: bool = False

    def name(self, name: str) -> str:
        """Vigil's name for a column or vital; a column with no name in the
        header is `_header`'s (`--map '=ts'`), not an empty vital's. A name
        mapped to a name no channel can have, itself mapped (`--map
        '226732=O2 Delivery Device(s)' --map 'O2 Delivery Device(s)=on_oxygen'`:
        a MIMIC item id given the name that says how it is read), is read as
        that one's (`said`)."""
        return self.names.get(self.said(name), name) if name else name

    def said(self, name: str) -> str:
        """The name a column or vital is read by: its own, or the name it is
        mapped to when that is no channel's and is mapped in turn (`name`)."""
        given = self.names.get(name)
        if given and given != name and given in self.names and not custom_name(given):
            return given
        return name


@dataclass(frozen=True)
class Missing:
    """A recording's own marks of a value not measured (`--missing -1`:
    PhysioNet 2012 writes -1), skipped as an empty cell is: a value equal to
    one as a number when both are numbers (`-1.0` is `-1`), else as text, in
    any case."""

    numbers: frozenset[float] = frozenset()
    words: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.numbers or self.words)

    def __contains__(self, value: Any) -> bool:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value in self.numbers
        return str(value).strip().lower() in self.words


def missing(values: list[str]) -> Missing:
    """`--missing VALUE` (repeatable)."""
    numbers, words = set(), set()
    for item in values:
        if not item.strip():
            raise RecordingError(
                "--missing '': empty cells are skipped already; give the mark, e.g. --missing -1"
            )
        value = _number(item)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            numbers.add(float(value))
        else:
            words.add(item.strip().lower())
    return Missing(frozenset(numbers), frozenset(words))


def layout(
    maps: list[str], patient: str | None, leave_out_unnamed: bool = False, gcs: bool = False
) -> Layout:
    """`--map NAME=VIGIL` (repeatable; `NAME=` leaves it out), `--patient ID`,
    `--leave-out-unnamed` and `--gcs`."""
    names: dict[str, str] = {}
    for item in maps:
        name, sep, vigil = item.partition("=")
        if not sep or not (name.strip() or vigil.strip()):
            raise RecordingError(
                f"--map {item!r}: write it NAME=VIGIL, e.g. --map HR=heart_rate (--map '=ts' for a column "
                "with no name in the header, as pandas writes its index)"
            )
        names[name.strip()] = vigil.strip()  # "": the header's first column with no name (`_header`)
    return Layout(names, None if patient is None else _patient(patient, "--patient"), leave_out_unnamed, gcs)


def _silenced(key: str, value: Any, later: Any) -> bool:
    """Would `later`, a "no signal" value (0, a negative code, a pressure
    line open to air: `core.no_signal`), replace `value`, a measured one of
    the same vital and moment? Then the measured one is kept: PhysioNet
    2012 charts two probes' temperatures at one time, 37.1 and then 0, and
    keeping the later lost the reading's 37.1 (an outside tester's 34.8
    told by nothing)."""
    return (
        value.__class__ in (int, float)
        and later.__class__ in (int, float)
        and core.no_signal(_vital(key), later)
        and not core.no_signal(_vital(key), value)
    )


def _same(value: Any, other: Any) -> bool:
    """Equal, as numbers when both are (`-1.0` is `-1`, `True` is not `1`)."""
    return isinstance(value, bool) == isinstance(other, bool) and value == other


@dataclass
class _Merges:
    """CSV rows of a patient and a time an earlier row had, merged into its
    reading (the later row's value kept where both have one), for one line
    (`told`)."""

    rows: int = 0  # rows with a value
    merged: int = 0
    differed: int = 0  # values a later row changed
    first: str = ""  # the line of the first merged row
    changed: str = ""  # the line of the first row that changed a value
    what: str = ""  # that value: its vital, and the recording's names and values before and after
    silenced: int = 0  # "no signal" values of later rows that did not replace a measured one (`_silenced`)

    def add(
        self,
        vitals: dict[str, Any],
        later: dict[str, Any],
        where: str,
        names: dict[str, tuple[str, str]],
        apart: Iterable[str] = (),
    ) -> None:
        """Merge `later` (a row at `where`) into `vitals`, an earlier row's
        reading, but for its "no signal" values where `vitals` has a measured
        one (`_silenced`); `names[vital]`: the recording's names of its value
        there and in `later` (a cuff's `NISysABP` and a line's `SysABP`, both
        mapped to `systolic_bp`); `apart`: vitals given by two sources
        (a line's and a cuff's pressure), not counted as given again, as
        `_Pressures` keeps one source's."""
        self.merged += 1
        self.first = self.first or where
        differed = [k for k, value in later.items() if k in vitals and not _same(vitals[k], value)]
        silenced = [k for k in differed if _silenced(k, vitals[k], later[k])]
        self.silenced += len(silenced)
        differed = [k for k in differed if k not in silenced and k not in apart]
        self.differed += len(differed)
        if differed and not self.changed:
            self.changed, name = where, differed[0]
            was, now = names[name]
            self.what = f"{_vital(name)}: {was!r} {vitals[name]}, then {now!r} {later[name]}"
        vitals.update({k: value for k, value in later.items() if k not in silenced})

    def told(self, file: str, long: bool) -> list[str]:
        lines = []
        if self.silenced:
            times = "once" if self.silenced == 1 else f"{self.silenced} times"
            lines.append(
                f'{file}: a vital was given again for a patient and time as "no signal" '
                "(0, a negative code, a pressure line open to air) where it had a measured value, "
                f"{times}: the measured value kept"
            )
        return lines + self._told(file, long)

    def _told(self, file: str, long: bool) -> list[str]:
        if long:  # a value a row: merging is the layout's; a vital given twice at once is not
            if not self.differed:
                return []
            times = "once" if self.differed == 1 else f"{self.differed} times"
            return [
                f"{file}: a vital was given again for a patient and time with another value, "
                f"{times} (the first on {self.changed}, {self.what}): the later row's kept; "
                "if two of the recording's vitals were mapped to one, map one of them away (--map NAME=)"
            ]
        if not self.merged:
            return []
        rows = "1 row has" if self.merged == 1 else f"{self.merged} rows have"
        line = (
            f"{file}: {rows} the patient and time of an earlier row, merged into its reading (the first "
            f"on {self.first}); {self.differed} of their values differed: the later row's kept"
        )
        if self.merged * 3 > self.rows:
            line += (
                f"; that is {self.merged} of {self.rows} rows: if the ts column holds dates only, "
                "give one with the time of day too (--map NAME=ts)"
            )
        return [line]


# A long layout's name of a pressure taken by a cuff, not an arterial line:
# PhysioNet 2012's `NISysABP`, MIMIC's `Non Invasive Blood Pressure systolic`
# and `NBP [Systolic]`, eICU's `noninvasivesystolic`.
# `NBP` and `NIBP` not after a letter (`VS_NIBP_SYS` is a cuff's; `IBP1` a line's).
CUFF_NAME = re.compile(r"^ni|non.?invasive|(?<![a-z])ni?bp|cuff|manual", re.IGNORECASE)
# MIMIC's item ids of a cuff's pressures, for an id mapped straight to a vital
# (`--map 220179=systolic_bp`): MIMIC-III CareVue's NBP (455, 8441, 456) and
# Manual BP (442, 8440); MetaVision's (MIMIC-III and IV) Non Invasive Blood
# Pressure (220179, 220180, 220181) and Manual Blood Pressure, left and right
# (224167, 224643, 227243, 227242). Any other id is a line's (Arterial BP 51,
# 8368, 52; Arterial Blood Pressure 220050-220052; ART BP 225309-225312).
CUFF_ITEMS = frozenset(
    ("455", "8441", "456", "442", "8440")
    + ("220179", "220180", "220181", "224167", "224643", "227243", "227242")
)


def _cuff(name: str, layout: Layout) -> bool:
    """Is this a cuff's name of a pressure (`CUFF_NAME`, `CUFF_ITEMS`), by
    itself or by the name it is mapped through (a MIMIC item id's label)?"""
    said = layout.said(name)
    return bool(CUFF_NAME.search(name) or CUFF_NAME.search(said) or name.strip() in CUFF_ITEMS)


def _two_sources(names: dict[str, tuple[str, str]], layout: Layout) -> list[str]:
    """The pressures of `names` (a vital's recording's names in an earlier
    row and a later one, `_Merges.add`) given one by a line, one by a cuff."""
    return [
        k for k, (was, now) in names.items() if k in _PRESSURES and _cuff(was, layout) != _cuff(now, layout)
    ]


@dataclass
class _Pressures:
    """A long layout's pressures of each moment, by source: an arterial
    line's (`SysABP`) and a cuff's (`NISysABP`, `CUFF_NAME`), both mapped
    to `systolic_bp` and charted at the same minute, were merged into a
    reading neither gave (a line's 88/65 and a cuff's 116/39 read as 88/39,
    the mean the cuff's: an outside tester, PhysioNet 2012 stay 132567).
    Where both gave pressures, the reading's are one source's (`kept`)."""

    # each moment's pressures by source (True: the cuff's), and the line its second source began on
    by_moment: dict[tuple[str, int], dict[bool, dict[str, Any]]] = field(default_factory=dict)
    first: dict[tuple[str, int], int] = field(default_factory=dict)
    again: int = 0  # a pressure given twice by one source at one moment, with another value

    def given(
        self, moment: tuple[str, int], name: str, layout: Layout, vital: str, value: Any, line: int
    ) -> None:
        """A pressure at `moment`, by the recording's `name` for it (`_cuff`)."""
        if value.__class__ not in (int, float) or core.no_signal(vital, value):
            return  # no pressure: nothing to choose between
        sources = self.by_moment.setdefault(moment, {})
        cuff = _cuff(name, layout)
        if sources and cuff not in sources:
            self.first.setdefault(moment, line)
        source = sources.setdefault(cuff, {})
        self.again += vital in source and not _same(source[vital], value)
        source[vital] = value

    def kept(self, rows: dict[tuple[str, int], Row], file: str) -> list[str]:
        """Make each reading's pressures one source's: the one that gave
        more of them, the line's when as many (as `vigil evaluate
        --physionet2012` reads them); one line says how often, and how many
        of the other's values were left out."""
        lines = []
        both = [moment for moment, sources in self.by_moment.items() if len(sources) == 2]
        left = 0
        for moment in both:
            line, cuff = self.by_moment[moment][False], self.by_moment[moment][True]
            keep, other = (cuff, line) if len(cuff) > len(line) else (line, cuff)
            vitals = rows[moment].vitals
            for vital in _PRESSURES:
                vitals.pop(vital, None)
            vitals.update(keep)
            left += len(other)
        if both:
            times = "once" if len(both) == 1 else f"{len(both)} times"
            first = min(self.first[moment] for moment in both)
            lines.append(
                f"{file}: an arterial line's and a cuff's pressures were given for a patient and time, "
                f"{times} (the first on line {first}): each such reading's pressures are one source's, "
                "the one that gave more of them (the line's when as many), so that no reading mixes the "
                f"two; {counted(left, 'value')} of the other left out (--map NAME= leaves a source out)"
            )
        if self.again:
            times = "once" if self.again == 1 else f"{self.again} times"
            lines.append(
                f"{file}: a pressure was given again by one source for a patient and time with another "
                f"value, {times}: the later row's kept"
            )
        return lines


# The key, within a reading being read, of a value of a column (a vital) that
# `_read_as` reads as `on_oxygen` from an FiO2 or a ventilation: this and the
# recording's name for it, which no channel can be; `_Oxygen.resolve` makes
# them the reading's `on_oxygen`.
OXYGEN_FROM = " o2 "
_OXYGEN_READ = {  # how each kind's values are read (`_Oxygen.value`), as told
    "fio2": "an FiO2 over 0.21 or 21 % read as on oxygen, 0.21 or 21 % as room air",
    "ventilated": "1 read as on oxygen, 0 as saying nothing of it",
    "flow": "a flow over 0 L/min read as on oxygen, 0 as room air",
    "device": "a device named read as on oxygen, None or Room air as room air",
}
_OXYGEN_TAKES = {  # what a value that is neither is not, and what they may be, as told
    "fio2": "no FiO2 (a fraction from 0.21 to 1, or a percentage from 21 to 100",
    "ventilated": "no mechanical ventilation (1, ventilated, or 0",
    "flow": "no oxygen flow (0 to 80 L/min",
    "device": "no device (a device's name, or None or Room air for none",
}
_OXYGEN_LINES = 5  # the lines of values that are not, named one by one
_OXYGEN_PARTS = {  # each kind's values told (`_Oxygen.told`): read as what; those on oxygen; the rest
    "fio2": ("an FiO2", "over 0.21 (21 %), on oxygen", "at 0.21 (21 %), room air"),
    "ventilated": ("mechanical ventilation", "at 1, on oxygen", "at 0, saying nothing of it"),
    "flow": ("the oxygen's flow", "over 0 L/min, on oxygen", "at 0, room air"),
    "device": ("the oxygen's delivery device", "a device, on oxygen", "none (room air)"),
}


def _oxygen_kind(name: str) -> str | None:
    """What a column's (a vital's) name says it holds, when that is the
    oxygen given another way: `fio2` (`FiO2`, `FiO2 (%)`) or `ventilated`
    (`MechVent`)."""
    bare = _bare(name)[1]
    if bare in FIO2_NAMES:
        return "fio2"
    if bare in FLOW_NAMES:
        return "flow"
    if bare in DEVICE_NAMES:
        return "device"
    return "ventilated" if bare in VENTILATED_NAMES else None


def _read_as(name: str, layout: Layout) -> str:
    """Vigil's name for a column or vital (`Layout.name`), but for one read as
    `on_oxygen` (`--map FiO2=on_oxygen`) whose name says it holds an FiO2 or
    a ventilation (`_oxygen_kind`): a key of its own (`OXYGEN_FROM`), so that
    its numbers are read as the oxygen (`_Oxygen`) and two such columns, or
    one beside `on_oxygen` itself, are not one column read twice."""
    vital = layout.name(name)
    said = layout.said(name)
    if vital == "on_oxygen" and said != vital and _oxygen_kind(said) is not None:
        return OXYGEN_FROM + said
    return vital


def _vital(key: str) -> str:
    """The channel a reading's key is sent as (`_read_as`)."""
    return "on_oxygen" if key.startswith(OXYGEN_FROM) else key


@dataclass
class _OxygenSource:
    """One column's (vital's) FiO2, ventilation, flow or device values read
    as `on_oxygen` (`kind`, `_oxygen_kind`)."""

    kind: str
    label: str  # "column" or "vital"
    read: int = 0  # values read as the oxygen
    oxygen: int = 0  # of them, read as on oxygen
    outside: list[str] = field(default_factory=list)  # the lines of values none of its kind


@dataclass
class _Oxygen:
    """The FiO2s and ventilations read as `on_oxygen` (`_read_as`), each
    value on its own: an FiO2 over 0.21 (21 %) is oxygen, 0.21 (21 %) room
    air; a ventilation's 1 is oxygen, its 0 says nothing (a patient off the
    ventilator may be on a mask). A number that is neither (an FiO2 of 0.1,
    5 or 150) is left out, named by its line, and the rest of its reading
    goes through. At one moment, what they and an `on_oxygen` of its own
    say is one value, `resolve`: on oxygen when any of them says so."""

    sources: dict[str, _OxygenSource] = field(default_factory=dict)
    disagreed: int = 0  # readings said both on oxygen and on room air
    disagreed_first: int = 0  # the line of the first
    disagreeing: list[str] = field(default_factory=list)  # the recording's names of what said so

    def read(self, given: dict[str, Any], where: str, cells: _Cells, label: str) -> dict[str, Any]:
        """`given` with its FiO2s and ventilations read as true or false, and
        those that are neither left out (counted in `cells.left_out`, so
        that a reading left with no value is told as not sent)."""
        if not any(key.startswith(OXYGEN_FROM) for key in given):
            return given
        kept = {}
        for key, value in given.items():
            if not key.startswith(OXYGEN_FROM):
                kept[key] = value
                continue
            name = key.removeprefix(OXYGEN_FROM)
            kind = _oxygen_kind(name) or "fio2"
            if value.__class__ is bool or (value.__class__ not in (int, float) and kind != "device"):
                kept[key] = value  # true or false as given; text is `_Cells`' to skip
                continue
            if isinstance(value, str) and not _present(value) and _device(value) is not False:
                continue  # JSON lines' "" or "N/A": not measured, as in a CSV cell (not a device)
            source = self.sources.setdefault(name, _OxygenSource(kind, label))
            said = self.value(kind, value)
            if said is None:
                source.outside.append(where)
                cells.left_out += 1
                continue
            source.read += 1
            if said == "":
                continue  # a ventilation's 0: read, saying nothing of the oxygen
            source.oxygen += said is True
            kept[key] = said
        return kept

    @staticmethod
    def value(kind: str, value: Any) -> bool | str | None:
        """An FiO2 (`fio2`: a fraction 0.21-1 or a percentage 21-100), a
        ventilation (1 or 0), a flow (0-80 L/min) or a device (its name;
        `ROOM_AIR_WORDS` for none) as the oxygen: true or false, "" for a
        ventilation's 0 (nothing said), None for a value that is neither."""
        if kind == "device":
            return _device(value)
        number = float(value)
        if kind == "flow":
            return number > 0 if 0 <= number <= FLOW_TOP else None
        if kind == "ventilated":
            return True if number == 1 else "" if number == 0 else None
        if 0.21 <= number <= 1:
            return number > 0.21 + 1e-9
        if 21 <= number <= 100:
            return number > 21 + 1e-7
        return None

    def resolve(self, rows: list[Row]) -> None:
        """Each reading's FiO2s and ventilations, and its `on_oxygen` if it
        has one, as its one `on_oxygen`: true when any of them says so (a
        ventilated patient on an FiO2 of 0.21, an `on_oxygen` of false beside
        an FiO2 of 0.4: NEWS2's 2 points are not dropped on one word against
        another), counted for `told` when they differ."""
        for row in rows:
            keys = [key for key in row.vitals if key.startswith(OXYGEN_FROM)]
            if not keys:
                continue
            said = {key: row.vitals.pop(key) for key in keys}
            if "on_oxygen" in row.vitals:
                said["on_oxygen"] = row.vitals["on_oxygen"]
            if len(set(said.values())) > 1:
                self.disagreed += 1
                self.disagreed_first = self.disagreed_first or row.line
                for key in said:
                    if key.removeprefix(OXYGEN_FROM) not in self.disagreeing:
                        self.disagreeing.append(key.removeprefix(OXYGEN_FROM))
            row.vitals["on_oxygen"] = True in said.values()

    def told(self, file: str) -> list[str]:
        """A line per column (vital) saying how its values were read, one for
        the values that were none of its kind (the file and their lines), and
        one for the readings said both ways."""
        lines = []
        for name, source in self.sources.items():
            what = f"{file}: {source.label} {name!r} (read as on_oxygen)"
            if source.read:
                values = f"{source.read} value{'' if source.read == 1 else 's'}"
                read_as, on, off = _OXYGEN_PARTS[source.kind]
                parts = [(source.oxygen, on), (source.read - source.oxygen, off)]
                how = "; ".join(f"{count} {part}" for count, part in parts if count)
                lines.append(f"{what}: {values} read as {read_as}: {how}")
            if source.outside:
                n = len(source.outside)
                shown = ("line " if n == 1 else "lines ") + ", ".join(
                    where.removeprefix("line ") for where in source.outside[:_OXYGEN_LINES]
                )
                if n > _OXYGEN_LINES:
                    shown += f" and {n - _OXYGEN_LINES} more"
                rest = "its reading" if n == 1 else "their readings"
                lines.append(
                    f"{what}: {n} value{' is' if n == 1 else 's are'} {_OXYGEN_TAKES[source.kind]}; "
                    f"{shown}): left out, the rest of {rest} goes through"
                )
        if self.disagreed:
            readings = "1 reading was" if self.disagreed == 1 else f"{self.disagreed} readings were"
            quoted = [repr(name) for name in self.disagreeing]
            names = f"{', '.join(quoted[:-1])} and {quoted[-1]}"
            lines.append(
                f"{file}: {readings} said both on oxygen and on room air by {names} (the first on line "
                f"{self.disagreed_first}): read as on oxygen, as one of them said"
            )
        return lines


@dataclass
class _Recording:
    """What reading one recording keeps and goes by: the hints for `warn`
    (`_channel`), the values set aside (`_Cells`), the rows merged
    (`_Merges`) and other lines for `warn` (`told`), how its times and
    names are written (`Times`, `Layout`), its own marks of a missing value
    (`Missing`)."""

    times: Times
    layout: Layout
    missing: Missing = field(default_factory=Missing)
    hints: dict[str, str] = field(default_factory=dict)
    cells: _Cells = field(default_factory=_Cells)
    merges: _Merges = field(default_factory=_Merges)
    told: list[str] = field(default_factory=list)  # more lines for `warn`
    gcs: int = 0  # consciousness values given as a GCS score, read as ACVPU (`_consciousness`)
    gcs_top: float = 0.0  # the highest of them
    gcs_not: int = 0  # numbers in consciousness that are no GCS score (not whole, or outside 3-15)
    words: int = 0  # consciousness values written as words or lower-case letters (`_consciousness`)
    # by the name read and what said the unit (`_converted`)
    converted: dict[tuple[str, str], tuple[_Unit, int]] = field(default_factory=dict)
    unsent: list[str] = field(default_factory=list)  # rows left with no value (`_Cells.outside`): their lines
    # vitals (long layout, JSON lines) no channel can be named: values left out by
    # `--leave-out-unnamed` (`_unnamed_told`); without it, JSON lines' first line
    # and the names beside them, for one refusal once all are read (`_unnamed`)
    unnamed: dict[str, int] = field(default_factory=dict)
    unnamed_at: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    oxygen: _Oxygen = field(default_factory=_Oxygen)  # FiO2s and ventilations read as on_oxygen


def _convert(name: str, vital: str, value: Any, rd: _Recording, unit_cell: str = "") -> Any:
    """A value of a column (a vital) `name`, read as `vital`, in Vigil's
    unit: a number in a unit its name says (`Weight (lb)`, `_unit`), or, in
    the long layout, its row's `unit` cell (a MIMIC chart's `VALUEUOM` of
    °F under the item id 223761), converted, counted for `_converted`; else
    as given."""
    if value.__class__ not in (int, float) or vital not in ("weight", "temperature"):
        return value
    unit, said = (_unit(unit_cell, vital), "its unit column says") if unit_cell else (None, "")
    if unit is None:
        unit, said = _unit(name, vital), "its name says"
    if unit is None:
        return value
    key = (name, said)
    rd.converted[key] = (unit, rd.converted.get(key, (unit, 0))[1] + 1)
    return round(unit.convert(value), 2)


def _converted(file: str, rd: _Recording) -> list[str]:
    """A line per column (a vital) whose values were converted from the
    unit its name, or its rows' unit cells, say."""
    return [
        f"{file}: {name!r} is in {unit.name}, as {said}: its {count} value{'s' if count > 1 else ''} "
        f"converted to {unit.to} for {unit.vital} ({unit.how}, to 0.01 {unit.to})"
        for (name, said), (unit, count) in rd.converted.items()
    ]


# The words charts write for a level of consciousness (MIMIC-IV's "Level of
# Consciousness": Alert, Arouse to Voice, Arouse to Pain, Unresponsive), in any
# case, and the letters in lower case, read as NEWS2's ACVPU (`_consciousness`).
# Words that say no level (Sleeping, Lethargic) are not guessed.
ACVPU_WORDS = {
    **{letter.lower(): letter for letter in ACVPU},
    "alert": "A",
    "confused": "C",
    "confusion": "C",
    "new confusion": "C",
    "voice": "V",
    "verbal": "V",
    "responds to voice": "V",
    "arouse to voice": "V",
    "pain": "P",
    "responds to pain": "P",
    "arouse to pain": "P",
    "unresponsive": "U",
    "no response": "U",
}


_NO_LEVEL = (
    "consciousness takes an ACVPU level: A, C, V, P or U, or Alert, Confused, Voice, Pain, Unresponsive"
)


def _consciousness(given: dict[str, Any], rd: _Recording) -> None:
    """A consciousness given as a Glasgow Coma Scale score (a whole number
    from 3 to 15, as intensive-care charts record it) is read as NEWS2's
    ACVPU (`news2.acvpu`), as `vigil evaluate --physionet2012` reads one:
    no number is an ACVPU letter, so the column was refused whole. One
    written as a word or a lower-case letter (`ACVPU_WORDS`) is read as its
    letter, counted for `_words_told`: sent as it was, the gateway refused
    it with the reading's other values (an outside tester's round of a pulse
    of 135, SpO2 88 and "Arouse to Voice", NEWS2 16, was lost whole)."""
    value = given.get("consciousness")
    if value.__class__ is str:
        letter = ACVPU_WORDS.get(" ".join(value.lower().split()))
        if letter is not None and letter != value:
            given["consciousness"] = letter
            rd.words += 1
        return
    if value.__class__ not in (int, float):
        return
    if 3 <= value <= 15 and value == int(value):
        given["consciousness"] = acvpu(value)
        rd.gcs += 1
        rd.gcs_top = max(rd.gcs_top, value)
    else:
        rd.gcs_not += 1


def _words_told(file: str, rd: _Recording) -> list[str]:
    """The line saying how many consciousness values were read from words."""
    if not rd.words:
        return []
    seen = rd.cells.columns.get("consciousness")
    column = seen.named("consciousness") if seen else "column 'consciousness'"
    return [
        f"{file}: {rd.words} value{'s' if rd.words > 1 else ''} of {column} written as words or lower-case "
        "letters, read as NEWS2's ACVPU (Alert A, Confused C, Voice V, Pain P, Unresponsive U)"
    ]


def _gcs_told(file: str, rd: _Recording) -> list[str]:
    """The line saying how many consciousness values were read as a GCS;
    refused when the column's numbers are not all a GCS, or when none is
    over 4 and `--gcs` was not given: AVPU coded 1-4 (in either direction)
    would have its 3 read as U and its 4, maybe alert, as P."""
    if not rd.gcs:
        return []
    seen = rd.cells.columns.get("consciousness")
    column = seen.named("consciousness", "column") if seen else "column 'consciousness'"
    if rd.gcs_not:
        raise RecordingError(
            f"{file}: {column} holds numbers that are not all a GCS score (whole numbers "
            "from 3 to 15): write the levels as ACVPU letters (A, C, V, P, U), or leave it out"
        )
    if rd.gcs_top <= 4 and not rd.layout.gcs:
        raise RecordingError(
            f"{file}: {column} has no number over 4, so it may be AVPU coded 1-4 as well as "
            "a GCS score and is not guessed: give --gcs if it is a GCS (3 is U), or write the levels as "
            "ACVPU letters (A, C, V, P, U)"
        )
    return [
        f"{file}: {rd.gcs} consciousness value{'s' if rd.gcs > 1 else ''} given as a GCS score, "
        "read as NEWS2's ACVPU (15 A, 13-14 C, 9-12 V, 4-8 P, 3 U)"
    ]


LONG = ("vital", "value")  # a CSV with these columns holds one value a row (`_csv_rows`)
LONG_UNIT = "unit"  # ... and, with this column, each value's unit (`_convert`)
# Columns after the first that `--map` reads as ts (a date column and a time
# column, as home devices' exports write them) are named this and a number,
# which no channel can be: their cells are joined to the first's with a space.
JOINED_TS = " ts"


# The separators a CSV header may have instead of commas, refused (`_header`): as the
# refusal says them, and the file's kind.
_OTHER_SEPARATORS = {";": ("';'", "semicolon"), "\t": ("tabs", "tab")}


def _header(path: Path, names: list[str], layout: Layout) -> list[str]:
    """A CSV header's names as Vigil's (`Layout`); refused when it is one
    of a semicolon- or tab-separated file (a European spreadsheet's, a
    glucose sensor's export), or names a
    column twice (the later cell would go and the earlier one be lost)."""
    for mark, (said, kind) in _OTHER_SEPARATORS.items():
        if len(names) == 1 and mark in names[0]:
            raise RecordingError(
                f"{path.name}: the header is separated by {said}: the file looks {kind}-separated, and "
                "replay reads comma-separated CSV; save it with commas between cells (and 36.8, not 36,8)"
            )
    vigil = [_read_as(name, layout) for name in names]
    if "" in names and "" in layout.names:  # `--map '=ts'`: the first column with no name (pandas' index)
        vigil[names.index("")] = layout.names[""]
    joined = [i for i, v in enumerate(vigil) if v == "ts"]
    if len(joined) > 1 and all(names[i] in layout.names for i in joined):  # each given by --map
        for k, i in enumerate(joined[1:], start=1):  # a date and a time column: joined (`_csv_rows`)
            vigil[i] = f"{JOINED_TS}{k}"
    for name in dict.fromkeys(v for v in vigil if vigil.count(v) > 1 and v):
        given = sorted({n for n, v in zip(names, vigil, strict=True) if v == name})
        if len(given) == 1:
            raise RecordingError(
                f"{path.name}: column {given[0]!r} is in the header twice: rename or remove one"
            )
        raise RecordingError(
            f"{path.name}: columns {given[0]!r} and {given[1]!r} are both read as {name!r}: "
            f"leave one out, e.g. --map '{given[0]}='"
        )
    return vigil


def _csv_reader(text: str) -> csv.DictReader[str]:
    """A CSV recording's rows, its header's names without the spaces around
    them: `date, heartRate` (an Apple Health export) was refused, saying to
    give `--map ' heartRate=heart_rate'`, and refused again when given it,
    as `--map` reads its names without them (an outside tester)."""
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames:
        reader.fieldnames = [name.strip() for name in reader.fieldnames]
    return reader


@dataclass
class _CsvHeader:
    """A CSV recording's header, its names read as Vigil's and checked (`_csv_header`)."""

    reader: csv.DictReader[str]  # its rows, under Vigil's names
    source: dict[str, str]  # Vigil's name of a column -> the file's (`_convert`)
    long: bool  # the long layout: a row a value, `vital` and `value` columns
    joined: list[str]  # more columns of the time, joined to `ts` (`JOINED_TS`)
    units: bool  # the long layout with a column of units (`LONG_UNIT`)


def _csv_header(path: Path, text: str, rd: _Recording) -> _CsvHeader:
    """Read a CSV recording's header as Vigil's names; refuse one without
    patient and time columns, or with columns no channel can be named
    (`_columns`), in one message."""
    layout = rd.layout
    _title_line(path, text)
    reader = _csv_reader(text)
    source: dict[str, str] = {}
    if reader.fieldnames:
        names = list(reader.fieldnames)
        reader.fieldnames = _header(path, names, layout)
        source = dict(zip(reader.fieldnames, names, strict=True))
    header = list(dict.fromkeys(reader.fieldnames or ()))  # in the header's order: the same message every run
    fields = set(header)
    if "ts" not in fields or ("patient" not in fields and layout.patient is None):
        unnamed = ""
        if "" in header and "ts" not in fields:  # pandas' index, a lab oximeter's times
            unnamed = (
                f"; its column {header.index('') + 1} has no name in the header: if it holds the times, "
                "give --map '=ts'"
            )
        raise RecordingError(
            f"{path.name}: a CSV recording needs patient and ts columns (or --patient ID for a file of "
            f"one patient; --map NAME=ts to name a column){unnamed}"
        )
    long = set(LONG) <= fields
    joined = [name for name in header if name.startswith(JOINED_TS)]
    header = [name for name in header if not name.startswith(JOINED_TS)]
    _columns(path, [name for name in header if name not in (*LONG, LONG_UNIT)] if long else header, rd.hints)
    return _CsvHeader(reader, source, long, joined, long and LONG_UNIT in fields)


def _csv_rows(path: Path, text: str, rd: _Recording) -> list[Row]:
    cells, times, layout = rd.cells, rd.times, rd.layout
    head = _csv_header(path, text, rd)
    reader, source, long, joined, units = head.reader, head.source, head.long, head.joined, head.units
    rows: dict[tuple[str, int], Row] = {}
    emptied: dict[tuple[str, int], str] = {}  # readings whose values were all out of range: the first line
    merges = rd.merges
    origin: dict[tuple[str, int, str], str] = {}  # the long layout's name of each value read
    named: list[str] = []  # the long layout's vitals, read when one needs them (`_channel`)
    pressures = _Pressures()  # a line's and a cuff's at one moment: one of them kept
    column = source.get("vital", "vital")  # the file's name of the long layout's vital column
    for record in reader:
        where = f"line {reader.line_num}"
        if None in record:  # DictReader keeps cells beyond the header under the key None
            raise RecordingError(f"{where}: more cells than the header has columns")
        unit_cell = ""
        if long:
            cell, name = record["value"], record["vital"].strip()
            vital = _long_vital(path.name, text, rd, name, cell, where, column, named)
            vital = _read_as(name, layout) if vital == "on_oxygen" else vital
            given = {vital: _number(cell)} if vital and (_present(cell) or _room_air(vital, cell)) else {}
            source = {vital: name}
            unit_cell = (record[LONG_UNIT] or "").strip() if units else ""
        else:
            given = {
                k: _number(v)
                for k, v in record.items()
                if k
                and k not in ("patient", "ts")
                and not k.startswith(JOINED_TS)
                and (_present(v) or _room_air(k, v))
            }
        if rd.missing:
            given = {k: v for k, v in given.items() if v not in rd.missing}
        given = {k: _convert(source.get(k, k), k, v, rd, unit_cell) for k, v in given.items()}
        _consciousness(given, rd)
        left_out = cells.left_out
        label = "vital" if long else "column"
        given = rd.oxygen.read(given, where, cells, label)
        vitals = {k: v for k, v in given.items() if cells.keep(_vital(k), v, where, label, source.get(k, k))}
        if not vitals and cells.left_out == left_out:
            continue
        patient = _patient(record["patient"] if "patient" in record else layout.patient, where)
        ts = record["ts"] if not joined else " ".join(record[k] or "" for k in ("ts", *joined)).strip()
        ts_ms = times.ms(ts, where)
        if not vitals:  # not sent, unless another row of the long layout gives it a value
            emptied.setdefault((patient, ts_ms), where)
            continue
        row = rows.get((patient, ts_ms))
        merges.rows += 1
        if row is None:
            rows[(patient, ts_ms)] = Row(patient, ts_ms, vitals, reader.line_num)
        else:  # one patient's values of one moment are one reading (the long layout's, a row each)
            given_by = {
                k: (origin.get((patient, ts_ms, k), source.get(k, k)), source.get(k, k)) for k in vitals
            }
            merges.add(row.vitals, vitals, where, given_by, _two_sources(given_by, layout))
        if long:  # the recording's name of each value, for `_Merges.what`
            origin[(patient, ts_ms, vital)] = name
            if vital in _PRESSURES and vital in vitals:
                pressures.given((patient, ts_ms), name, layout, vital, vitals[vital], reader.line_num)
    rd.told += merges.told(path.name, long)
    rd.told += pressures.kept(rows, path.name)
    rd.unsent += [where for key, where in emptied.items() if key not in rows]
    return list(rows.values())


def _long_vital(
    file: str, text: str, rd: _Recording, name: str, cell: str, where: str, column: str, named: list[str]
) -> str:
    """The channel a long-layout row's vital `name` is read as, or "" when
    it is left out (`--leave-out-unnamed`, counting its value). A name no
    channel can have is refused with every such name of the recording in
    one line (`_unnamed`); `named`, the recording's vitals in order, is
    read into the list the first time one is needed (`_long_vitals`)."""
    layout, hints = rd.layout, rd.hints
    vital = layout.name(name)
    if vital in rd.unnamed:  # `--leave-out-unnamed`
        rd.unnamed[vital] += _present(cell)
        return ""
    if not vital or _known(vital, hints):
        return vital
    if not named:
        named += _long_vitals(text, layout, column)
    if custom_name(vital):
        _channel(vital, f"{where}: vital", hints, named)
        return vital
    if layout.leave_out_unnamed:
        rd.unnamed[vital] = int(_present(cell))
        return ""
    unnamed = [n for n in named if n and not custom_name(n) and not _known(n, hints)]
    raise _unnamed(file, unnamed, where, named)


def _long_vitals(text: str, layout: Layout, column: str) -> list[str]:
    """The vitals a recording in the long layout names, as Vigil's, in the
    order it first names them; `column`: the file's name of its `vital`
    column (`--map ITEMID=vital`)."""
    return list(dict.fromkeys(layout.name((r.get(column) or "").strip()) for r in _csv_reader(text)))


def _device_words(text: str) -> str:
    """A device cell's words: lower case, letters and digits, one space apart."""
    return " ".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def _device(value: Any) -> bool | None:
    """A delivery device's cell as the oxygen: a device named is on oxygen,
    a word for none (`ROOM_AIR_WORDS`, or one beginning so: `Room air
    (none)`) room air, and a number, a flag or a word for not knowing
    (`NOT_A_DEVICE`: `Y`, `N`, `Other`, `Unknown`) None, left out. A column
    named `Oxygen therapy` holding `N` read every such `N` as oxygen in a
    first version (an outside reviewer)."""
    if not isinstance(value, str):
        return None
    words = _device_words(value)
    if words in ROOM_AIR_WORDS or words.startswith(("room air ", "none ")):
        return False
    return None if words in NOT_A_DEVICE else True


def _room_air(key: str, cell: str | None) -> bool:
    """Is this cell a device column's word for none (`ROOM_AIR_WORDS`:
    `None` is room air there, not a missing value)?"""
    if cell is None or not key.startswith(OXYGEN_FROM):
        return False
    return _device(cell) is False and _oxygen_kind(key.removeprefix(OXYGEN_FROM)) == "device"


def _present(cell: str | None) -> bool:
    """Does a CSV cell hold a value (not empty, not a mark of a missing one)?"""
    return cell is not None and bool(cell.strip()) and cell.strip().lower() not in MISSING


def _json_row(text: str, line: int, rd: _Recording) -> Row | None:
    hints, cells, times, layout = rd.hints, rd.cells, rd.times, rd.layout
    where = f"line {line}"
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        obj = with_non_finite(exc)  # Python's json.dumps writes a missing value as NaN
        if obj is None:
            raise RecordingError(f"{where}: not JSON") from None
    if isinstance(obj, dict) and obj.get("resourceType") == "Observation":
        try:
            native = fhir.to_reading({**obj, "identifier": [{"system": fhir.SEQ_SYSTEM, "value": "0"}]})
        except Exception as exc:  # noqa: BLE001 - a Refusal: report the line
            raise RecordingError(f"{where}: {exc}") from None
        if "patient" not in native:
            raise RecordingError(f"{where}: the Observation has no subject")
        return Row(
            _patient(native["patient"], where), Times().ms(native["ts"], where), native["vitals"], line
        )
    if isinstance(obj, dict) and layout.patient is not None:
        obj.setdefault("patient", layout.patient)
    if isinstance(obj, dict) and {"patient", "ts", "vitals"} <= set(obj) and isinstance(obj["vitals"], dict):
        source = {_read_as(str(name), layout): str(name) for name in obj["vitals"]}
        given = {_read_as(str(name), layout): value for name, value in obj["vitals"].items()}
        given.pop("", None)  # left out (`--map NAME=`)
        others = list(given)
        for name in [n for n in others if not custom_name(n) and not _known(n, hints)]:
            value = given.pop(name)  # `--leave-out-unnamed`, or refused once every line is read
            if layout.leave_out_unnamed:
                rd.unnamed[name] = rd.unnamed.get(name, 0) + (value is not None and not _nan(value))
            else:
                rd.unnamed_at.setdefault(name, (where, others))
        _consciousness(given, rd)
        for name in given:
            _channel(name, f"{where}: vital", hints, given)
        present = {
            name: _convert(source[name], name, value, rd)
            for name, value in given.items()
            if value is not None and not _nan(value) and not (rd.missing and value in rd.missing)
        }
        left_out = cells.left_out
        present = rd.oxygen.read(present, where, cells, "vital")
        vitals = {k: v for k, v in present.items() if cells.keep(_vital(k), v, where, "vital", source[k])}
        if not vitals:
            if cells.left_out > left_out:
                rd.unsent.append(where)
            return None  # as a CSV row with every cell empty
        return Row(_patient(obj["patient"], where), times.ms(obj["ts"], where), vitals, line)
    raise RecordingError(f"{where}: expected patient, ts and vitals, or a FHIR Observation")


def _nan(value: Any) -> bool:
    """A JSON line's `NaN` or `Infinity` (as Python writes a missing value):
    skipped, as `null` and a CSV cell's `NaN` are."""
    return isinstance(value, float) and not math.isfinite(value)


def read_recording(
    path: Path,
    warn: Callable[[str], None] | None = None,
    tz: tzinfo | None = None,
    ts_format: str | None = None,
    layout: Layout | None = None,
    missing: Missing | None = None,
    since_ms: int | None = None,
) -> list[Row]:
    """The recording's readings in time order. `warn` hears, once each, of
    names that are custom channels' but other systems' for Vigil's vitals
    (`_channel`), of columns with values their channels cannot take, of
    those read as custom channels, of numbers out of their channels' range
    left out and of readings left with no value (`_Cells`), of values
    converted from a unit their column's name says (`_convert`), and of CSV
    rows merged
    (`_Merges`); `tz` is the time zone of times written without one, and
    `ts_format` their layout when it is not ISO 8601 (`Times`); `layout`,
    the recording's own names for things and its patient (`Layout`);
    `missing`, its own marks of a value not measured (`Missing`);
    `since_ms`, the start its times are hours and minutes after (`Times`)."""
    if ts_format is not None:
        dated(ts_format)
    try:
        return _read(path, warn, Times(tz, ts_format, since_ms), layout, missing)
    except RecordingError as exc:
        raise named(path.name, exc) from None


# Endings that say JSON lines; `.csv` says CSV; any other is told by its first line (`_is_csv`).
JSON_ENDINGS = frozenset({".json", ".jsonl", ".ndjson", ".ldjson"})


def _is_csv(path: Path, text: str) -> bool:
    """Is the recording CSV? By its ending, `.csv`, or JSON lines' own
    (`JSON_ENDINGS`); with any other ending, by its first line that is not
    blank: one that does not begin `{` and has a comma, a tab or a semicolon
    is a CSV header (the last two refused as such by `_header`), and so is
    one with none over such a line (a title, refused by `_title_line`). PhysioNet
    2012's files end `.txt` (`Time,Parameter,Value`): read as JSON lines,
    each was refused "line 1: not JSON", as was a tab-separated glucose
    sensor's export (outside testers)."""
    ending = path.suffix.lower()
    if ending == ".csv" or ending in JSON_ENDINGS:
        return ending == ".csv"
    first, second = (_first_lines(text) + ["", ""])[:2]
    if first.startswith("{"):
        return False
    return _separated(first) or (bool(second) and _separated(second) and not second.startswith("{"))


SEPARATORS = ",\t;"


def _separated(line: str) -> bool:
    return any(mark in line for mark in SEPARATORS)


def _first_lines(text: str) -> list[str]:
    """The first two lines of `text` that are not blank, stripped."""
    lines: list[str] = []
    for line in text.splitlines():
        if line.strip():
            lines.append(line.strip())
            if len(lines) == 2:
                break
    return lines


def _title_line(path: Path, text: str) -> None:
    """Refuse a CSV whose first line has no separator while its second
    has: a title over the header (a glucose sensor's export puts the
    patient's name there, never repeated here), which would be read as a
    header of one column and refused for having no patient and ts
    columns (an outside tester)."""
    lines = _first_lines(text)
    if len(lines) == 2 and not _separated(lines[0]) and _separated(lines[1]):
        raise RecordingError(
            f"{path.name}: line 1 has no ',' while the next line has separators: a title over the header? "
            "remove the lines before the header"
        )


def named(file: str, exc: RecordingError) -> RecordingError:
    """`exc`, its message naming the recording `file` first (`bad.csv: line
    2: ts must be ...`) where it does not already: every refusal of one
    file names it, as some did and others (`line 1: not JSON`) did not."""
    message = str(exc)
    return exc if message.startswith(f"{file}: ") else RecordingError(f"{file}: {message}")


def _read(
    path: Path,
    warn: Callable[[str], None] | None,
    times: Times,
    layout: Layout | None,
    missing: Missing | None,
) -> list[Row]:
    """`read_recording`, its refusals not all naming the file yet."""
    text = _text(path)
    rd = _Recording(times, layout or Layout(), missing or Missing())
    if _is_csv(path, text):
        rows = _csv_rows(path, text, rd)
    else:
        lines = enumerate(text.splitlines(), start=1)
        read = (_json_row(line, n, rd) for n, line in lines if line.strip())
        rows = [row for row in read if row is not None]
        if rd.unnamed_at:
            where, others = next(iter(rd.unnamed_at.values()))
            raise _unnamed(path.name, list(rd.unnamed_at), where, others)
    if times.since_ms is not None:
        _forward(rows)
    rd.oxygen.resolve(rows)
    rd.told += _unnamed_told(path.name, rd) + _gcs_told(path.name, rd) + _words_told(path.name, rd)
    rd.told += _converted(path.name, rd)
    rd.told += rd.oxygen.told(path.name)
    told = [
        *rd.hints.values(),
        *rd.cells.told(path.name),
        *rd.cells.outside(path.name, rd.unsent),
        *rd.cells.custom(path.name, rd.hints),
        *rd.cells.skin(path.name, next((k for k, v in rd.layout.names.items() if v == "temperature"), None)),
        *rd.told,
    ]
    for hint in told:
        if warn is not None:
            warn(hint)
    if not rows:
        raise RecordingError(f"{path.name}: no readings")
    rows.sort(key=lambda r: r.ts_ms)
    if _SECONDS_LIKE[0] <= rows[0].ts_ms and rows[-1].ts_ms < _SECONDS_LIKE[1]:
        raise RecordingError(
            f"{path.name}: every ts, read as epoch milliseconds, falls in 1970-1973: if they are epoch "
            "seconds, write them in milliseconds (times 1000) or as ISO 8601"
        )
    return rows


# Epoch seconds from 2001-09-09 to 5138, read as milliseconds, fall here (1970-01-12 to
# 1973-03-03), where no recording's readings do: a minute apart would be 60 ms apart.
_SECONDS_LIKE = (10**9, 10**11)


_DAY_MS = 86_400_000
_MARGIN_MS = 10 * 60_000  # the replay itself takes a while


def shift_ms(rows: list[Row], now_ms: int, limits: Limits | None = None) -> int:
    """How far `--shift-to-now` moves the recording: by whole days, so that
    each reading keeps its time of day (a morning weighing stays a morning
    one, and daily profiles learn what they would have), ending within the
    last day; exactly to a minute ago when whole days would take its start
    out of the gateway's window."""
    exact = now_ms - 60_000 - rows[-1].ts_ms
    days = exact // _DAY_MS * _DAY_MS
    window = (limits or Limits()).max_past_ms - _MARGIN_MS
    return days if rows[0].ts_ms + days >= now_ms - window else exact


def check_times(rows: list[Row], shift_to_now: bool, now_ms: int, limits: Limits | None = None) -> None:
    """Refuse, before sending anything, a recording the gateway would refuse
    for its times (`bad_timestamp`), with what to do about it."""
    limits = limits or Limits()
    offset = shift_ms(rows, now_ms, limits) if shift_to_now else 0
    margin_ms = _MARGIN_MS
    too_old = sum(r.ts_ms + offset < now_ms - limits.max_past_ms + margin_ms for r in rows)
    too_new = sum(r.ts_ms + offset > now_ms + limits.max_future_ms for r in rows)
    days = limits.max_past_ms // 86_400_000
    if too_old and shift_to_now:
        raise RecordingError(
            f"the recording spans more than {days} days and the gateway refuses readings older than that; "
            "run it with --offline (no gateway needed), or split it into shorter recordings"
        )
    if too_old or too_new:
        which = (
            f"{counted(too_old, 'reading')} {'is' if too_old == 1 else 'are'} older than {days} days"
            if too_old
            else f"{counted(too_new, 'reading')} {'is' if too_new == 1 else 'are'} dated in the future"
        )
        raise RecordingError(
            f"{which}, which the gateway refuses: replay with --shift-to-now to move the recording "
            "to end now, or run it with --offline"
        )


def device_ids(rows: list[Row], prefix: str) -> dict[str, str]:
    """The replay device of each patient (device id -> prefixed patient id)."""
    patients = dict.fromkeys(prefix + r.patient for r in rows)
    try:
        return {validate_id("device", f"replay-{p}"): validate_id("patient", p) for p in patients}
    except RegistryError as exc:
        raise RecordingError(f"with --patient-prefix {prefix!r}: {exc}") from None


_SEQ_TOP = 2**53 - 1  # the protocol's highest seq


def seqs(rows: list[Row], offset: int = 0, prefix: str = "") -> list[int]:
    """Each row's seq under its patient's replay device (rows in time
    order): the time its patient's first reading is sent at, in epoch
    milliseconds (`offset`: `shift_ms`), then up by one a reading. Taken
    from the recording, so a second replay of it resends the seqs the
    first stored, with the same content, and the gateway acknowledges them
    without storing them again (docs/protocol.md, "Delivery"); and a later
    recording of the same patient starts above an earlier one's (its
    readings are at least a millisecond apart), so neither takes the
    other's seqs. The live replay and `offline` number alike: an alert
    event's reading id is the same."""
    first: dict[str, int] = {}
    count: dict[str, int] = {}
    numbered = []
    for row in rows:
        name = prefix + row.patient
        start = row.ts_ms + offset
        # a time the gateway refuses (before 1970, or beyond any date) starts from 0
        base = first.setdefault(name, start if 0 <= start <= _SEQ_TOP // 2 else 0)
        n = count[name] = count.get(name, -1) + 1
        numbered.append(base + n)
    return numbered


async def replay(
    settings: Settings,
    rows: list[Row],
    speed: float,
    offset: int = 0,
    prefix: str = "",
    settle_s: float = 30.0,
) -> simulate.Stats:
    """Send every row through the gateway, `offset` ms later than recorded
    (`shift_ms`), under the seqs `seqs` gives; return once all are
    acknowledged, with `already_stored` counting those the gateway's first
    hello said it had (a replay of this recording before), and `not_told`
    those below the last 1024 seqs its hello speaks for, which it stores
    again if it had them (under the same reading ids)."""
    stats = simulate.Stats()
    stop = asyncio.Event()
    devices = device_ids(rows, prefix)
    by_device = await simulate.clients_for(settings, devices, stats)
    clients = {p: by_device[d] for d, p in devices.items()}
    numbered = seqs(rows, offset, prefix)
    by_patient: dict[str, list[int]] = {}
    for row, seq in zip(rows, numbered, strict=True):
        by_patient.setdefault(prefix + row.patient, []).append(seq)
    for name, client in clients.items():  # a reading renumbered (`seq_reused`) goes above the recording's
        client.next_seq = max(client.next_seq, by_patient[name][-1] + 1)
    connections = [asyncio.ensure_future(c.run(stop)) for c in clients.values()]
    started, first = time.monotonic(), rows[0].ts_ms
    for row, seq in zip(rows, numbered, strict=True):
        if speed > 0:
            delay = (row.ts_ms - first) / 1000 / speed - (time.monotonic() - started)
            if delay > 0:
                await asyncio.sleep(delay)
        await clients[prefix + row.patient].send(row.ts_ms + offset, row.vitals, seq)
    deadline = time.monotonic() + settle_s
    while any(c.pending for c in clients.values()) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    stop.set()
    await asyncio.gather(*connections)
    for name, numbers in by_patient.items():
        stored, not_told = clients[name].stored_before(numbers)
        stats.already_stored += stored
        stats.not_told += not_told
    return stats


@dataclass
class _Refused:
    """The readings refused with one error code for one vital (`Refusals`)."""

    readings: int = 0
    line: int = 0  # the file's line of the first (0: not known)
    message: str = ""  # the gateway's message for that one: it names no patient
    value: Any = None  # the value refused, while every one is the same
    same: bool = True


class Refusals:
    """The readings the gateway would refuse, by error code and vital, for
    a few lines saying where the first is and why (`told`)."""

    SHOWN = 8

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str], _Refused] = {}

    def add(self, refusal: Refusal, row: Row) -> None:
        vital = _refused_vital(refusal, row)
        group = self.groups.setdefault((refusal.code.value, vital), _Refused(value=row.vitals.get(vital)))
        group.readings += 1
        group.same = group.same and _same(row.vitals.get(vital), group.value)
        if not group.message or 0 < row.line < group.line:
            group.line, group.message = row.line, refusal.message

    def told(self) -> list[str]:
        """A line per code and vital, the most refused first; never a patient id."""
        ranked = sorted(self.groups.items(), key=lambda item: (-item[1].readings, item[1].line))
        lines = [_refusal_line(code, vital, group) for (code, vital), group in ranked[: self.SHOWN]]
        if len(ranked) > self.SHOWN:
            rest = sum(group.readings for _, group in ranked[self.SHOWN :])
            lines.append(f"and {len(ranked) - self.SHOWN} more codes and vitals ({rest} readings refused)")
        return lines


def _refused_vital(refusal: Refusal, row: Row) -> str:
    """The vital a refusal is about: its field names a catalogue's vital; a
    custom channel's is found by trying each alone; else the field (`ts`)."""
    field = refusal.field or ""
    if field.startswith("vitals."):
        return field.removeprefix("vitals.")
    if field == "vitals":
        for name, value in row.vitals.items():
            try:
                parse_reading({"seq": 0, "ts": row.ts_ms, "vitals": {name: value}}, row.ts_ms)
            except Refusal:
                return name
    return field


def _refusal_line(code: str, vital: str, group: _Refused) -> str:
    what = f" for {vital}" if vital else ""
    where = f", the first on line {group.line}" if group.line else ""
    readings = "1 reading" if group.readings == 1 else f"{group.readings} readings"
    line = f"{readings} refused {code}{what}{where}: {group.message}"
    value = group.value
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    # The same value in every refused reading (or -1 once) is likely the file's
    # mark of "not measured": -1 (PhysioNet 2012), 255 (an oximeter's export).
    if code == "out_of_range" and group.same and number and (value == -1 or group.readings > 1):
        line += f"; each had {value:g}: if {value:g} marks a value not measured, give --missing {value:g}"
    return line


@dataclass
class OfflineTotals:
    readings: int = 0
    patients: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # error code -> readings
    alerts: dict[str, int] = field(default_factory=dict)  # kind -> events
    refusals: Refusals = field(default_factory=Refusals)  # by code and vital, for `Refusals.told`


def offline(
    rows: list[Row],
    settings: Settings,
    key: bytes,
    on_event: Callable[[dict[str, Any]], None],
    prefix: str = "",
) -> OfflineTotals:
    """Run the recording (time order) through the detection core here, one
    state per patient, handing each alert event to `on_event`; see the
    module's docstring."""
    config = settings.detector_config()
    states: dict[str, patient_state.PatientState] = {}
    subjects: dict[str, str] = {}
    totals = OfflineTotals()
    devices = {p: d for d, p in device_ids(rows, prefix).items()}
    for row, seq in zip(rows, seqs(rows, 0, prefix), strict=True):
        name = prefix + row.patient
        device = devices[name]
        totals.readings += 1
        try:  # the gateway's checks, at the reading's own time (no 7-day window)
            parsed = parse_reading({"seq": seq, "ts": row.ts_ms, "vitals": row.vitals}, row.ts_ms)
        except Refusal as refusal:
            totals.refused[refusal.code.value] = totals.refused.get(refusal.code.value, 0) + 1
            totals.refusals.add(refusal, row)
            continue
        if name not in states:
            states[name], subjects[name] = patient_state.PatientState(), pseudonym(key, name)
        reading = {"id": reading_id(device, seq), "seq": seq, "ts": parsed.ts_ms, "vitals": parsed.vitals}
        outcome = core.process(states[name], subjects[name], device, reading, config, name)
        for event in outcome.events:
            kind = str(event["kind"])
            totals.alerts[kind] = totals.alerts.get(kind, 0) + 1
            on_event(event)
    totals.patients = len(states)
    return totals
