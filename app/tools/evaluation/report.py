"""`vigil evaluate`'s text table, and the Markdown tables of docs/evaluation.md
(`vigil evaluate --markdown`: one table per cohort, a row per seed and method)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Column = tuple[str, Callable[[dict[str, Any]], str]]

# Targets of issue 13 (docs/evaluation.md), printed under each cohort's table.
TARGETS = {
    "ward": "sensitivity >= 0.97, <= 0.3 false alerts/patient-day, median delay < 4 min",
    "ward_clean": "sensitivity >= 0.97, <= 0.3 false alerts/patient-day, median delay < 4 min",
    "ward_devices": "as ward (the same patients, read by four devices)",
    "ward_wander": "as ward (the same patients, their vitals wandering)",
    "charted": "caught by the second charted reading after onset; <= 1 alert opening and <= 2 notifications "
    "per stable patient-day",
    "home": "caught within 2 days; <= 1 false alert per patient-month",
    "generic": "window score >= 1.5x the windowed-Gaussian baseline's",
}


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:g}"


def _num(key: str) -> Callable[[dict[str, Any]], str]:
    return lambda r: _fmt(r.get(key))


def _delay(r: dict[str, Any]) -> str:
    return _duration(r.get("median_delay_s"))


def _by_kind(name: str, result: dict[str, Any]) -> str:
    """Vigil's median delay per kind of event, in words ("" for `generic`,
    whose kinds are shapes of a custom channel, not deteriorations)."""
    delays = result["vigil"].get("median_delay_s_by_kind", {}) if name != "generic" else {}
    return ", ".join(f"{kind} {_duration(s)}" for kind, s in delays.items())


def _false_by_alert(result: dict[str, Any]) -> str:
    """Vigil's false alerts per kind of alert, in words, and what is left
    without NEWS2's own (the safety net, scored on the readings as they
    come, artifacts and all)."""
    vigil = result["vigil"]
    counts = vigil.get("false_alerts_by_alert_kind", {})
    if not counts:
        return ""
    words = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    days = result["cohort"].get("patient_days")
    learned = sum(n for kind, n in counts.items() if kind != "news2")
    if "news2" in counts and days:
        if "false_alerts_per_patient_month" in vigil:  # home: its target is per patient-month
            words += f"; without NEWS2's own, {30 * learned / days:.2f} per patient-month"
        else:
            words += f"; without NEWS2's own, {learned / days:.2f} per patient-day"
    return words


def _duration(s: float | None) -> str:
    if s is None:
        return "-"
    if s >= 2 * 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / 60:.1f} min"


COMMON: list[Column] = [
    ("sensitivity", _num("sensitivity")),
    ("false alerts/patient-day", _num("false_alerts_per_patient_day")),
    ("median delay", _delay),
    ("(readings)", _num("median_delay_readings")),
    ("notifications/patient-day", _num("notifications_per_patient_day")),
]
EXTRA: dict[str, list[Column]] = {
    "charted": [
        ("caught in time", _num("caught_in_time")),
        ("openings/stable day", _num("openings_per_stable_patient_day")),
        ("notifications/stable day", _num("notifications_per_stable_patient_day")),
    ],
    "home": [
        ("caught in time", _num("caught_in_time")),
        ("decompensation in time", lambda r: _fmt(r.get("caught_in_time_by_kind", {}).get("decompensation"))),
        ("false alerts/patient-month", _num("false_alerts_per_patient_month")),
    ],
    "generic": [("window score", _num("window_score"))],
}


def _columns(cohort: str) -> list[Column]:
    return COMMON + EXTRA.get(cohort, [])


def _methods(result: dict[str, Any]) -> list[str]:
    return [k for k, v in result.items() if isinstance(v, dict) and "sensitivity" in v]


def table(results: dict[str, Any]) -> str:
    """Every cohort of `evaluate`'s result, one block each."""
    return "\n\n".join(_block(name, result) for name, result in results.items())


def _block(name: str, result: dict[str, Any]) -> str:
    columns = _columns(name)
    widths = [max(len(title), 8) + 2 for title, _ in columns]
    rows = [f"{name:<20}" + "".join(f"{t:>{w}}" for (t, _), w in zip(columns, widths, strict=True))]
    for method in _methods(result):
        r = result[method]
        rows.append(
            f"{method:<20}" + "".join(f"{f(r):>{w}}" for (_, f), w in zip(columns, widths, strict=True))
        )
    c = result["cohort"]
    rows.append(
        f"  {c['patients']} patients, {c['patient_days']} patient-days, {c['readings']} readings, "
        f"seed {c['seed']}; events {c['events']}"
    )
    if "artifacts" in c:
        rows.append(
            f"  artifacts {c['artifacts']}; vigil's false alerts during them "
            f"{result['vigil'].get('false_alerts_in_artifacts', {})}"
        )
    if by_kind := _by_kind(name, result):
        rows.append(f"  vigil's median delay by kind of event: {by_kind}")
    if by_alert := _false_by_alert(result):
        rows.append(f"  vigil's false alerts by kind of alert: {by_alert}")
    if "windowed_gaussian" in result:
        rows.append(
            f"  windowed Gaussian at its best threshold: z = {result['windowed_gaussian']['threshold_z']}"
        )
    rows.append(f"  largest encoded patient state: {result['state_bytes_max']} bytes (target <= 4096)")
    if name in TARGETS:
        rows.append(f"  targets: {TARGETS[name]}")
    return "\n".join(rows)


def markdown(runs: dict[int, dict[str, Any]]) -> str:
    """One Markdown table per cohort from `evaluate` results keyed by seed."""
    cohorts = list(next(iter(runs.values()))) if runs else []
    out: list[str] = []
    for name in cohorts:
        columns = _columns(name)
        out += [f"### Results: {name}", ""]
        out.append("| seed (events) | method | " + " | ".join(t for t, _ in columns) + " |")
        out.append("|---|---|" + "---|" * len(columns))
        for seed, results in runs.items():
            result = results[name]
            events = sum(result["cohort"]["events"].values())
            for i, method in enumerate(_methods(result)):
                label = f"{seed} ({events})" if i == 0 else ""
                cells = " | ".join(f(result[method]) for _, f in columns)
                out.append(f"| {label} | {method} | {cells} |")
        out += [""] + _notes(name, runs) + [f"Targets: {TARGETS.get(name, '-')}.", ""]
    return "\n".join(out).rstrip() + "\n"


def _notes(name: str, runs: dict[int, dict[str, Any]]) -> list[str]:
    notes: list[str] = []
    for seed, results in runs.items():
        result = results[name]
        if "artifacts" in result["cohort"]:
            during = result["vigil"].get("false_alerts_in_artifacts", {})
            notes.append(
                f"- seed {seed}: artifacts {_pairs(result['cohort']['artifacts'])}; "
                f"Vigil's false alerts during them {_pairs(during)}"
            )
        if by_kind := _by_kind(name, result):
            notes.append(f"- seed {seed}: Vigil's median delay by kind of event: {by_kind}")
        if by_alert := _false_by_alert(result):
            notes.append(f"- seed {seed}: Vigil's false alerts by kind of alert: {by_alert}")
        if "windowed_gaussian" in result:
            notes.append(
                f"- seed {seed}: windowed Gaussian at its best threshold, "
                f"z = {result['windowed_gaussian']['threshold_z']:g}"
            )
    return notes + ([""] if notes else [])


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


def public_table(results: dict[str, Any]) -> str:
    """`vigil evaluate --physionet2012 / --physionet2019 / --nab`'s text: one block per dataset."""
    blocks = {"physionet2012": _challenge_2012, "physionet2019": _challenge_2019, "nab": _benchmark}
    return "\n\n".join(block(results[name]) for name, block in blocks.items() if name in results)


def _challenge_2012(r: dict[str, Any]) -> str:
    v, n = r["vigil"], r["news2"]
    return "\n".join(
        [
            f"{'physionet2012':<20}{'openings/stay-day':>20}{'AUC death (hours open)':>25}"
            f"{'mean hours open':>18}{'notifications/stay-day':>25}{'stays alerting':>16}",
            f"{'vigil':<20}{_fmt(v['openings_per_stay_day']):>20}{_fmt(v['auc_hours_open']):>25}"
            f"{_fmt(v['mean_hours_open']):>18}{_fmt(v['notifications_per_stay_day']):>25}"
            f"{_fmt(v['stays_alerting']):>16}",
            f"{'news2 (>= low-med.)':<20}{_fmt(n['openings_per_stay_day']):>20}"
            f"{_fmt(n['auc_hours_open']):>25}{_fmt(n['mean_hours_open']):>18}",
            f"  {r['stays']} stays ({r['deaths']} died, of {r['stays_with_outcome']} with an "
            "outcome), "
            f"{r['stay_days']} stay-days, {r['values_refused']} values refused; "
            f"vigil's openings by kind {v['openings_by_kind']}",
        ]
    )


_SEPSIS_COLUMNS = (  # (title, key) of `sepsis_outcomes`' per-method figures
    ("septic alarmed -12h..+3h", "septic_alarmed_in_window"),
    ("median h before", "median_hours_before_onset"),
    ("alarms/other stay-day", "alarms_per_other_stay_day"),
    ("other stays alarming", "other_stays_alarming"),
)


def _challenge_2019(r: dict[str, Any]) -> str:
    rows = [f"{'physionet2019':<20}" + "".join(f"{t:>{len(t) + 2}}" for t, _ in _SEPSIS_COLUMNS)]
    for method, label in (("vigil", "vigil"), ("news2", "news2 (band rises)")):
        rows.append(
            f"{label:<20}" + "".join(f"{_fmt(r[method][k]):>{len(t) + 2}}" for t, k in _SEPSIS_COLUMNS)
        )
    v = r["vigil"]
    rows.append(
        f"  {r['stays']} stays ({r['septic']} septic, {r['septic_from_start']} of them from their first "
        f"hour, not counted), {r['stay_days']} stay-days, {r['values_refused']} values refused; "
        f"vigil's notifications per other stay-day {_fmt(v['notifications_per_other_stay_day'])}, "
        f"openings by kind {v['openings_by_kind']}"
    )
    return "\n".join(rows)


def _benchmark(r: dict[str, Any]) -> str:
    columns = _columns("generic")
    widths = [max(len(title), 8) + 2 for title, _ in columns]
    rows = [f"{'nab':<20}" + "".join(f"{t:>{w}}" for (t, _), w in zip(columns, widths, strict=True))]
    for method in ("vigil", "windowed_gaussian"):
        m = r[method]
        rows.append(
            f"{method:<20}" + "".join(f"{f(m):>{w}}" for (_, f), w in zip(columns, widths, strict=True))
        )
    rows.append(
        f"  {r['series']} series, {r['windows']} labelled windows, {r['readings']} readings; "
        f"windowed Gaussian at its best threshold: z = {r['windowed_gaussian']['threshold_z']}"
    )
    return "\n".join(rows)
