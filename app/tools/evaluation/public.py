"""Public recordings Vigil was not built on (`vigil evaluate --physionet2012
DIR`, `--nab DIR`): real data read from a local copy of each dataset, run
through the same core code as the cohorts, beside the baselines that apply.

- PhysioNet/Computing in Cardiology Challenge 2012 (`physionet2012`): the
  first 48 hours of intensive-care stays as charted (`set-a/*.txt`, one
  `Time,Parameter,Value` file per stay) and each stay's in-hospital death
  (`Outcomes-a.txt`). There are no labelled events: what can be measured is
  how often Vigil alerts (openings and notifications per stay-day) and
  whether its hours with an alert open separate the patients who died from
  those who survived better than NEWS2 alone (the area under the ROC curve).
- The Numenta Anomaly Benchmark (`nab`): real metric series
  (`data/<category>/<name>.csv`, `timestamp,value`) with labelled anomaly
  windows (`labels/combined_windows.json`), each series one custom channel
  (`value`), scored like the `generic` cohort (window score, beside the
  windowed Gaussian at its best threshold).

Neither dataset is part of Vigil (docs/evaluation.md says where to get
them). A value the gateway would refuse (a -1 for "not measured") is left
out and counted, as the gateway would refuse it and take the rest of the
reading; a 0 from a sensor without signal is kept, as the gateway keeps it.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import orjson

from app.core.errors import BadInput, Refusal
from app.core.news2 import acvpu
from app.core.protocol import parse_reading
from app.tools.evaluation.common import DAY, HOUR, MINUTE, T0, Event, SimPatient
from app.tools.evaluation.methods import WINDOWED_GAUSSIAN, news2_bands, run_vigil
from app.tools.evaluation.scoring import NOTIFICATIONS, Rules, best, score

STAY_HOURS = 48  # the challenge's stays: the first 48 hours in intensive care
NEWS2_MAX_AGE_MS = 6 * HOUR  # NEWS2 alone from charts, as for the `charted` cohort

# Challenge parameter -> Vigil vital. Invasive pressures win over the cuff's
# when both are charted at one time; SaO2 (the blood gas's saturation) stands
# for SpO2, which the challenge does not chart.
_VITALS = {
    "HR": "heart_rate",
    "RespRate": "respiratory_rate",
    "SysABP": "systolic_bp",
    "NISysABP": "systolic_bp",
    "DiasABP": "diastolic_bp",
    "NIDiasABP": "diastolic_bp",
    "Temp": "temperature",
    "SaO2": "spo2",
}
_INVASIVE = frozenset({"SysABP", "DiasABP"})


@dataclass
class Stay:
    patient: SimPatient
    died: bool | None  # None: no outcome for this stay
    refused: int  # values left out, as the gateway would refuse them


def physionet2012(directory: Path) -> list[Stay]:
    """Every stay of `directory/set-a` (or of `directory` itself), with its
    outcome from `directory/Outcomes-a.txt` when there is one."""
    stays_dir = directory / "set-a" if (directory / "set-a").is_dir() else directory
    files = sorted(p for p in stays_dir.glob("*.txt") if p.name != "Outcomes-a.txt")
    if not files:
        raise BadInput(f"{stays_dir}: no stay files (*.txt); give the folder that holds set-a")
    outcomes = _outcomes(directory / "Outcomes-a.txt")
    return [_stay(path, outcomes.get(path.stem)) for path in files]


def _outcomes(path: Path) -> dict[str, bool]:
    if not path.exists():
        return {}
    rows = csv.DictReader(path.read_text().splitlines())
    if not rows.fieldnames or not {"RecordID", "In-hospital_death"} <= set(rows.fieldnames):
        raise BadInput(f"{path.name}: needs RecordID and In-hospital_death columns")
    return {row["RecordID"]: row["In-hospital_death"].strip() == "1" for row in rows}


def _stay(path: Path, died: bool | None) -> Stay:
    rows = csv.DictReader(path.read_text().splitlines())
    if rows.fieldnames != ["Time", "Parameter", "Value"]:
        raise BadInput(f"{path.name}: not a challenge stay (its header is not Time,Parameter,Value)")
    charted: dict[int, dict[str, Any]] = {}
    invasive: set[tuple[int, str]] = set()
    for row in rows:
        name, text = row["Parameter"], row["Value"]
        try:
            hours, minutes = row["Time"].split(":")
            at = int(hours) * 60 + int(minutes)
            value = float(text)
        except (ValueError, AttributeError):
            raise BadInput(f"{path.name}: line {rows.line_num} is not HH:MM,parameter,number") from None
        vitals = charted.setdefault(at, {})
        if name in _VITALS:
            vital = _VITALS[name]
            if (at, vital) in invasive and name not in _INVASIVE:
                continue
            if name in _INVASIVE:
                invasive.add((at, vital))
            vitals[vital] = int(value) if value.is_integer() and vital != "temperature" else value
        elif name == "GCS":
            vitals["consciousness"] = acvpu(value)
        elif name == "MechVent" and value >= 1:
            vitals["on_oxygen"] = True
        elif name == "FiO2" and 0 < value <= 1:
            vitals["on_oxygen"] = vitals.get("on_oxygen", False) or value > 0.21 + 1e-9
    patient = SimPatient(path.stem, "physionet2012")
    refused = 0
    for at in sorted(charted):
        ts = T0 + at * MINUTE
        kept = _accepted(charted[at], ts)
        refused += len(charted[at]) - len(kept)
        if kept:
            patient.add(ts, kept)
    return Stay(patient, died, refused)


def _accepted(vitals: dict[str, Any], ts: int) -> dict[str, Any]:
    """The values the gateway would take: each checked on its own, as the
    gateway refuses a value and would take the rest of the reading."""
    kept = {}
    for vital, value in vitals.items():
        try:
            parse_reading({"seq": 0, "ts": ts, "vitals": {vital: value}}, ts)
        except Refusal:
            continue
        kept[vital] = value
    return kept


def charted_outcomes(stays: list[Stay]) -> dict[str, Any]:
    """How often Vigil and NEWS2 alone alert on the stays, and how well their
    hours with an alert open (of the first 48) tell who died."""
    hours: dict[str, list[float]] = {"vigil": [], "news2": []}
    openings_of = {"vigil": 0, "news2": 0}
    kinds: Counter[str] = Counter()
    outcomes: list[bool | None] = []  # per stay read, in the order of `hours`
    days = 0.0
    notifications = alerting = 0
    for stay in stays:
        p = stay.patient
        if not p.readings:
            continue
        end = max(p.readings[-1]["ts"], T0 + STAY_HOURS * HOUR)
        days += (end - T0) / DAY
        alarms = list(run_vigil(p, []))
        openings = [kind for status, _, kind in alarms if status == "open"]
        kinds.update(str(k) for k in openings)
        openings_of["vigil"] += len(openings)
        notifications += sum(status in NOTIFICATIONS for status, _, _ in alarms)
        alerting += bool(openings)
        hours["vigil"].append(_hours_open(_vigil_intervals(alarms, end)))
        news2_open, news2_intervals = _news2_intervals(p, end)
        openings_of["news2"] += news2_open
        hours["news2"].append(_hours_open(news2_intervals))
        outcomes.append(stay.died)
    result: dict[str, Any] = {
        "stays": len(outcomes),
        "stays_with_outcome": sum(o is not None for o in outcomes),
        "deaths": sum(o is True for o in outcomes),
        "stay_days": round(days, 1),
        "values_refused": sum(s.refused for s in stays),
    }
    for method, stay_hours in hours.items():
        result[method] = {
            "openings_per_stay_day": round(openings_of[method] / days, 2) if days else None,
            "auc_hours_open": _auc(
                [h for h, o in zip(stay_hours, outcomes, strict=True) if o is True],
                [h for h, o in zip(stay_hours, outcomes, strict=True) if o is False],
            ),
            "mean_hours_open": round(sum(stay_hours) / len(stay_hours), 1) if stay_hours else None,
        }
    result["vigil"]["notifications_per_stay_day"] = round(notifications / days, 2) if days else None
    result["vigil"]["stays_alerting"] = round(alerting / len(outcomes), 3) if outcomes else None
    result["vigil"]["openings_by_kind"] = dict(sorted(kinds.items()))
    return result


def _vigil_intervals(alarms: list[tuple[str, int, str]], end: int) -> list[tuple[int, int]]:
    """Open stretches of Vigil's alerts: one alert of a kind at a time, from
    its opening to its resolution (or the end of the stay)."""
    opened: dict[str, int] = {}
    intervals = []
    for status, ts, kind in alarms:
        if status == "open":
            opened[kind] = ts
        elif status == "resolved" and kind in opened:
            intervals.append((opened.pop(kind), ts))
    return intervals + [(start, end) for start in opened.values()]


def _news2_intervals(p: SimPatient, end: int) -> tuple[int, list[tuple[int, int]]]:
    """Stretches with NEWS2 alone at low-medium or above (its alarm), and how
    many there were."""
    intervals: list[tuple[int, int]] = []
    since: int | None = None
    for ts, band in news2_bands(p, NEWS2_MAX_AGE_MS):
        high = band != "low"
        if high and since is None:
            since = ts
        elif not high and since is not None:
            intervals.append((since, ts))
            since = None
    if since is not None:
        intervals.append((since, end))
    return len(intervals), intervals


def _hours_open(intervals: list[tuple[int, int]]) -> float:
    """Hours covered by the union of `intervals`."""
    total, start, stop = 0, None, None
    for a, b in sorted(intervals):
        if stop is None or a > stop:
            if stop is not None and start is not None:
                total += stop - start
            start, stop = a, b
        else:
            stop = max(stop, b)
    if stop is not None and start is not None:
        total += stop - start
    return total / HOUR


def _auc(positive: list[float], negative: list[float]) -> float | None:
    """The area under the ROC curve of a score for `positive` against
    `negative` (Mann-Whitney; ties count half)."""
    if not positive or not negative:
        return None
    wins = sum((a > b) + 0.5 * (a == b) for a in positive for b in negative)
    return round(wins / (len(positive) * len(negative)), 3)


# -- PhysioNet/CinC Challenge 2019: early prediction of sepsis ------------------------------------

# Challenge column -> Vigil vital (hourly values, the hour's median as published).
_VITALS_2019 = {
    "HR": "heart_rate",
    "O2Sat": "spo2",
    "Temp": "temperature",
    "SBP": "systolic_bp",
    "DBP": "diastolic_bp",
    "Resp": "respiratory_rate",
}
SEPSIS_LABEL_LEAD_MS = 6 * HOUR  # the label turns 1 six hours before the onset of sepsis (Sepsis-3)
SEPSIS_EARLY_MS = 12 * HOUR  # an alarm counts from 12 hours before the onset ...
SEPSIS_LATE_MS = 3 * HOUR  # ... to 3 hours after, as the challenge's utility rewards it
_BAND_RANK = {"low": 0, "low_medium": 1, "medium": 2, "high": 3}


@dataclass
class SepsisStay:
    patient: SimPatient
    sepsis_ms: int | None  # the onset of sepsis (label + 6 h); None: the stay is not septic
    from_start: bool  # labelled from its first hour: septic before it could be watched
    refused: int  # values left out, as the gateway would refuse them


def physionet2019(directory: Path) -> list[SepsisStay]:
    """Every stay (`*.psv`) under `directory` (training_setA/, training_setB/
    or the files themselves)."""
    files = sorted(directory.rglob("*.psv"))
    if not files:
        raise BadInput(f"{directory}: no stay files (*.psv); give the folder that holds training_setA or B")
    return [_sepsis_stay(path) for path in files]


def _sepsis_stay(path: Path) -> SepsisStay:
    rows = csv.DictReader(path.read_text().splitlines(), delimiter="|")
    needed = {"ICULOS", "SepsisLabel", *_VITALS_2019}
    if not rows.fieldnames or not needed <= set(rows.fieldnames):
        raise BadInput(f"{path.name}: not a challenge stay (its header lacks ICULOS, SepsisLabel or a vital)")
    patient = SimPatient(path.stem, "physionet2019")
    refused, label_ms, first_ms = 0, None, None
    for row in rows:
        try:
            ts = T0 + (int(row["ICULOS"]) - 1) * HOUR
            values = {v: float(row[k]) for k, v in _VITALS_2019.items() if row[k] != "NaN"}
            fio2 = float(row["FiO2"]) if row.get("FiO2", "NaN") != "NaN" else None
            label = int(row["SepsisLabel"])
        except (ValueError, TypeError):
            raise BadInput(f"{path.name}: line {rows.line_num} is not a row of numbers or NaN") from None
        first_ms = ts if first_ms is None else first_ms
        if label == 1 and label_ms is None:
            label_ms = ts
        given = {v: int(x) if x.is_integer() and v != "temperature" else x for v, x in values.items()}
        vitals = _accepted(given, ts)
        refused += len(given) - len(vitals)
        if fio2 is not None and fio2 > 0:
            vitals["on_oxygen"] = (fio2 / 100 if fio2 > 1 else fio2) > 0.21 + 1e-9
        if vitals and (not patient.readings or ts > patient.readings[-1]["ts"]):
            patient.add(ts, vitals)
    sepsis_ms = None if label_ms is None else label_ms + SEPSIS_LABEL_LEAD_MS
    return SepsisStay(patient, sepsis_ms, label_ms is not None and label_ms == first_ms, refused)


def _news2_rises(p: SimPatient) -> list[int]:
    """NEWS2 alone's alarms: each time its band rises to low-medium or above."""
    rises, rank = [], 0
    for ts, band in news2_bands(p, NEWS2_MAX_AGE_MS):
        now = _BAND_RANK[band]
        if now > rank:
            rises.append(ts)
        rank = now
    return rises


def sepsis_outcomes(stays: list[SepsisStay]) -> dict[str, Any]:
    """Of the septic stays watched before sepsis began, the share where each
    method alarmed (an alert opened or escalated; NEWS2 alone's band rose)
    from 12 hours before the onset to 3 hours after, and how early; and each
    method's alarms per stay-day on the stays that were not septic."""
    alarms_of: dict[str, list[list[int]]] = {"vigil": [], "news2": []}
    kinds: Counter[str] = Counter()
    watched = [s for s in stays if s.patient.readings and not s.from_start]
    days = {"septic": 0.0, "other": 0.0}
    notifications = 0
    for stay in watched:
        p = stay.patient
        span = (p.readings[-1]["ts"] - p.readings[0]["ts"] + HOUR) / DAY
        days["septic" if stay.sepsis_ms is not None else "other"] += span
        alarms = list(run_vigil(p, []))
        kinds.update(str(kind) for status, _, kind in alarms if status == "open")
        if stay.sepsis_ms is None:
            notifications += sum(status in NOTIFICATIONS for status, _, _ in alarms)
        alarms_of["vigil"].append([ts for status, ts, _ in alarms if status in ("open", "escalated")])
        alarms_of["news2"].append(_news2_rises(p))
    septic = [i for i, s in enumerate(watched) if s.sepsis_ms is not None]
    other = [i for i, s in enumerate(watched) if s.sepsis_ms is None]
    result: dict[str, Any] = {
        "stays": len(stays),
        "septic": sum(s.sepsis_ms is not None for s in stays),
        "septic_from_start": sum(s.from_start for s in stays),
        "stay_days": round(days["septic"] + days["other"], 1),
        "values_refused": sum(s.refused for s in stays),
    }
    for method, alarms_per_stay in alarms_of.items():
        leads = []
        for i in septic:
            onset = watched[i].sepsis_ms or 0
            inside = [t for t in alarms_per_stay[i] if onset - SEPSIS_EARLY_MS <= t <= onset + SEPSIS_LATE_MS]
            if inside:
                leads.append((onset - inside[0]) / HOUR)
        false = sum(len(alarms_per_stay[i]) for i in other)
        result[method] = {
            "septic_alarmed_in_window": round(len(leads) / len(septic), 3) if septic else None,
            "median_hours_before_onset": round(median(leads), 1) if leads else None,
            "alarms_per_other_stay_day": round(false / days["other"], 2) if days["other"] else None,
            "other_stays_alarming": (
                round(sum(bool(alarms_per_stay[i]) for i in other) / len(other), 3) if other else None
            ),
        }
    result["vigil"]["notifications_per_other_stay_day"] = (
        round(notifications / days["other"], 2) if days["other"] else None
    )
    result["vigil"]["openings_by_kind"] = dict(sorted(kinds.items()))
    return result


NAB_RULES = Rules(before_ms=0, after_ms=0, probation=0.15, window_score=True)


def nab(directory: Path) -> list[SimPatient]:
    """Every series of `directory/data` that `directory/labels/combined_windows.json`
    labels, one custom channel (`value`) each, with its anomaly windows."""
    labels_path = directory / "labels" / "combined_windows.json"
    try:
        labels = orjson.loads(labels_path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise BadInput(f"{labels_path}: cannot read the benchmark's windows ({exc})") from None
    series = []
    for key, windows in sorted(labels.items()):
        path = directory / "data" / key
        if path.exists():
            series.append(_series(path, key, windows))
    if not series:
        raise BadInput(f"{directory / 'data'}: none of the labelled series is there")
    return series


def _nab_ms(text: str, where: str) -> int:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"{where}: {text!r} is not a time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the benchmark's times are UTC
    return int(moment.timestamp() * 1000)


def _series(path: Path, key: str, windows: list[list[str]]) -> SimPatient:
    p = SimPatient(key, "nab")
    rows = csv.DictReader(path.read_text().splitlines())
    if rows.fieldnames != ["timestamp", "value"]:
        raise BadInput(f"{key}: not a benchmark series (its header is not timestamp,value)")
    last = -1
    for row in rows:
        where = f"{key}: line {rows.line_num}"
        ts = _nab_ms(row["timestamp"], where)
        try:
            value = float(row["value"])
        except ValueError:
            raise BadInput(f"{where}: the value is not a number") from None
        if ts > last and math.isfinite(value):
            p.add(ts, {"value": value})
            last = ts
    p.events = [Event("window", _nab_ms(a, key), _nab_ms(b, key)) for a, b in windows]
    return p


def nab_scores(series: list[SimPatient]) -> dict[str, Any]:
    """Vigil and the windowed Gaussian on the series, scored like `generic`."""
    vigil, _ = score(series, run_vigil, NAB_RULES)
    gaussian, _ = best(series, WINDOWED_GAUSSIAN, NAB_RULES)
    return {
        "series": len(series),
        "windows": sum(len(p.events) for p in series),
        "readings": sum(len(p.readings) for p in series),
        "vigil": vigil,
        "windowed_gaussian": gaussian,
    }
