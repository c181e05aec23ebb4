"""The model in one picture: one channel of one series of a `vigil evaluate`
cohort, run through the pure core exactly as the worker runs it, drawn with
what the core forecast, the band it alerts outside, its calibrated surprise
and the alerts it raised (docs/evaluation.md, "The model in one picture").

    .venv/bin/python load-tests/model_figure.py                       # generic, seed 2026, series 20
    .venv/bin/python load-tests/model_figure.py --seed 7 --index 4
    .venv/bin/python load-tests/model_figure.py --cohort ward --index 3 --channel heart_rate

Each reading goes through `app.core.patient.process` in event time (as
`app.tools.evaluation.methods.run_vigil` feeds it, default `Config`). Before
each step the channel's baseline is read, not changed: the forecast
(`Baseline.forecast`: the learned mean plus the daily profile at that time
of day, when the profile is in use), the spread, and so the z-score the core
scores the value with and the band `forecast ± z_alert × sd` outside which
it is anomalous. The calibrated surprise of a custom channel is what
`Baseline.surprise` returns for that z-score, taken from a copy of the
baseline when the core computed one at that step. The alerts are the events
the core emitted (`open`, `escalated`, `reminder`, `resolved`; `baseline_drift`
notices apart). Writes a PNG and a JSON of the plotted series beside it;
deterministic (event time, seeded).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core import patient as core  # noqa: E402
from app.core import state as patient_state  # noqa: E402
from app.core.model import DAY_MS, MEMORY_MIN, MEMORY_MS, PROFILE_MAX_CADENCE_MS, Baseline  # noqa: E402
from app.tools import evaluation  # noqa: E402
from app.tools.evaluation.common import SimPatient  # noqa: E402

OUT = ROOT / "docs" / "figures" / "model-channel.png"
DEFAULTS = {"generic": (20, None), "ward": (3, "heart_rate")}  # cohort -> (series index, channel)
COLOURS = {"anomaly": "tab:red", "signal_quality": "tab:orange", "trend": "tab:purple", "news2": "tab:blue"}


def series(cohort: str, seed: int, index: int, patients: int = 60, days: float | None = None) -> SimPatient:
    """Series `index` of the cohort as `vigil evaluate` builds it (its default size, and days
    unless given, as `vigil evaluate --days`)."""
    c = evaluation.COHORTS[cohort]
    population = c.build(max(patients, index + 1), c.days if days is None else days, seed)
    return population[index]


def trace(p: SimPatient, channel: str, config: core.Config = core.Config()) -> dict[str, Any]:
    """Run `p` through the core; per reading of `channel`, what the core scored it against."""
    state = patient_state.PatientState()
    points: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for reading in p.readings:
        ts, x = reading["ts"], reading["vitals"].get(channel)
        before = _before(state, channel, ts) if isinstance(x, (int, float)) else None
        outcome = core.process(state, p.subject, "eval", reading, config)
        events += [_event(e, ts) for e in outcome.events]
        if before is not None and not outcome.out_of_order and not outcome.duplicate:
            points.append(_point(state, channel, float(x), ts, before, config))
    return {"points": points, "events": events, "spans": spans(events, p.readings[-1]["ts"])}


def _copy(channel: str, b: Baseline) -> Baseline:
    """A copy through the state's exact encoding (the compiled core's classes
    do not deep-copy)."""
    alone = patient_state.PatientState(baselines={channel: b})
    return patient_state.decode(patient_state.encode(alone)).baselines[channel]


def _before(state: patient_state.PatientState, channel: str, ts: int) -> dict[str, Any] | None:
    """The channel's baseline as the core will score this reading against it (read only)."""
    b = state.baselines.get(channel)
    if b is None:
        return None  # its first value: the baseline is created from it
    angle = (ts % DAY_MS) * 2 * math.pi / DAY_MS
    return {
        "mean": b.mean,
        "forecast": b.forecast(math.cos(angle), math.sin(angle), ts),
        "sd": b.sd,
        "copy": _copy(channel, b),  # as it was: its warm-up, and its surprise for this z
        "mark": (b.recent, b.ph.n, id(b.ph)),
        "baseline": b,
    }


def _point(
    state: patient_state.PatientState,
    channel: str,
    x: float,
    ts: int,
    before: dict[str, Any],
    config: core.Config,
) -> dict[str, Any]:
    b = before["baseline"]
    cadence = state.latest[channel][2]  # as `_clean` left it for `_model`
    # No daily profile at six-hourly cadence or slower (`app.core.patient._model`).
    forecast = before["forecast"] if cadence < PROFILE_MAX_CADENCE_MS else before["mean"]
    sd = before["sd"]
    z = (x - forecast) / sd
    scored = state.baselines.get(channel) is b and (b.recent, b.ph.n, id(b.ph)) != before["mark"]
    surprise = None
    was = before["copy"].generic
    if was is not None and b.generic is not None and b.generic[3] > was[3]:  # the core computed one
        memory = max(MEMORY_MS / cadence if cadence > 0 else MEMORY_MIN, MEMORY_MIN)
        far = abs(z) >= config.z_alert
        surprise = before["copy"].surprise(z, memory, config.surprise_z, far)
    return {
        "t": ts,
        "value": x,
        "forecast": round(forecast, 3),
        "sd": round(sd, 3),
        "band": [round(forecast - config.z_alert * sd, 3), round(forecast + config.z_alert * sd, 3)],
        "z": round(z, 2) if scored else None,  # a stuck or bad channel's value is not scored
        "surprise": None if surprise is None else round(surprise, 2),  # as the evidence rounds them
        "warm": scored and before["copy"].warm(cadence),
        "scored": scored,
    }


def _event(e: dict[str, Any], ts: int) -> dict[str, Any]:
    evidence = e["evidence"]
    named = evidence.get("vitals") or {}
    found = {
        "t": ts,
        "status": str(e["status"]),
        "kind": str(e["kind"]),
        "severity": str(e["severity"]),
        "alert_id": e["alert_id"],
        "vitals": sorted(named) if isinstance(named, dict) else [],
    }
    for key in ("z", "surprise", "stuck"):
        if key in evidence:
            found[key] = evidence[key]
    if e["kind"] == "baseline_drift":
        found.update(vital=evidence["vital"], adopted=evidence["adopted"], to=evidence["to"])
    return found


def spans(events: list[dict[str, Any]], end_ms: int) -> list[dict[str, Any]]:
    """Each alert episode (`alert_id`) from its `open` to its `resolved`
    (None: still open at the end of the series), with its kind."""
    found: dict[str, dict[str, Any]] = {}
    for e in events:
        if e["kind"] == "baseline_drift" or e["status"] == "notice":
            continue
        span = found.setdefault(
            e["alert_id"], {"kind": e["kind"], "opened": None, "resolved": None, "vitals": [], "events": 0}
        )
        span["events"] += 1
        span["vitals"] = sorted(set(span["vitals"]) | set(e["vitals"]))
        if e["status"] == "open":
            span["opened"] = e["t"]
        elif e["status"] == "resolved":
            span["resolved"] = e["t"]
    result = list(found.values())
    for span in result:
        span["until"] = span["resolved"] if span["resolved"] is not None else end_ms
    return result


def plot(
    p: SimPatient, channel: str, traced: dict[str, Any], config: core.Config, title: str, path: Path
) -> None:
    """Two panels sharing the time axis: the value, forecast, band and alerts;
    below, |z| and the calibrated surprise with their thresholds."""
    import logging

    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = p.readings[0]["ts"]
    day = (lambda ms: (ms - t0) / DAY_MS) if _span_days(p) > 2 else (lambda ms: (ms - t0) / 3_600_000)
    unit = "days" if _span_days(p) > 2 else "hours"
    pts = traced["points"]
    t = [day(q["t"]) for q in pts]
    fig, (top, bottom) = plt.subplots(
        2, 1, sharex=True, figsize=(11, 6.2), dpi=100, gridspec_kw={"height_ratios": [3, 2]}
    )
    for e in p.events:  # the labelled windows
        for ax in (top, bottom):
            ax.axvspan(day(e.onset_ms), day(e.end_ms), color="0.85", zorder=0)
        top.annotate(
            e.kind.replace("_", " "),
            (day(e.onset_ms), 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -20),
            textcoords="offset points",
            fontsize=8,
            color="0.35",
        )
    gap = _gap(t)
    lo, hi = _broken(t, [q["band"][0] for q in pts], gap), _broken(t, [q["band"][1] for q in pts], gap)
    tb = _broken(t, t, gap)
    top.fill_between(
        tb, lo, hi, color="tab:green", alpha=0.15, lw=0, label=f"band: forecast ± {config.z_alert:g} sd"
    )
    top.plot(tb, _broken(t, [q["value"] for q in pts], gap), color="0.25", lw=0.6, label="value")
    off = [(tt, q["value"]) for tt, q in zip(t, pts, strict=True) if not q["scored"]]
    if off:
        top.scatter(
            *zip(*off, strict=True), s=4, color="tab:orange", zorder=3, label="not scored (bad channel)"
        )
    top.plot(tb, _broken(t, [q["forecast"] for q in pts], gap), color="tab:green", lw=1.0, label="forecast")
    _alerts(top, bottom, traced["spans"], day)
    _drifts(
        top, [e for e in traced["events"] if e["kind"] == "baseline_drift" and e["vital"] == channel], day
    )
    top.set_ylim(
        *_limits([q["value"] for q in pts], [q["band"][0] for q in pts], [q["band"][1] for q in pts])
    )
    top.set_ylabel(channel)
    top.legend(fontsize=7, loc="lower left", ncol=5)
    top.grid(True, alpha=0.25)
    top.set_title(title, fontsize=9)
    cap = 12.0
    nan = math.nan
    zs = [min(abs(q["z"]), cap) if q["warm"] else nan for q in pts]
    bottom.plot(tb, _broken(t, zs, gap), color="0.55", lw=0.5, label=f"|z| after warm-up (capped at {cap:g})")
    sur = [nan if q["surprise"] is None else min(q["surprise"], cap) for q in pts]
    if any(q["surprise"] is not None for q in pts):
        bottom.plot(tb, _broken(t, sur, gap), color="tab:blue", lw=0.9, label="calibrated surprise")
        if config.surprise_z != config.z_alert:
            bottom.axhline(
                config.surprise_z, color="tab:blue", ls=":", lw=0.9, label=f"surprise_z {config.surprise_z:g}"
            )
    both = (
        " = surprise_z" if config.surprise_z == config.z_alert and not all(math.isnan(v) for v in sur) else ""
    )
    bottom.axhline(
        config.z_alert, color="tab:red", ls="--", lw=0.8, label=f"z_alert{both} {config.z_alert:g}"
    )
    bottom.set_ylim(min(-1.0, min((v for v in sur if not math.isnan(v)), default=0.0) - 0.5), cap + 0.5)
    bottom.set_ylabel("SDs")
    bottom.set_xlabel(f"event time ({unit} from the first reading)")
    bottom.legend(fontsize=7, loc="upper left", ncol=4)
    bottom.grid(True, alpha=0.25)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def _alerts(top: Any, bottom: Any, found: list[dict[str, Any]], day: Any) -> None:
    seen: set[str] = set()
    for span in found:
        if span["opened"] is None:
            continue
        colour = COLOURS.get(span["kind"], "black")
        a, b = day(span["opened"]), day(span["until"])
        for ax in (top, bottom):
            ax.axvspan(a, max(b, a + 0.02), color=colour, alpha=0.25, lw=0, zorder=1)
        label = None if span["kind"] in seen else f"alert: {span['kind']}"
        seen.add(span["kind"])
        top.scatter(
            [a],
            [0.97],
            marker="v",
            s=30,
            color=colour,
            transform=top.get_xaxis_transform(),
            zorder=4,
            label=label,
        )


def _gap(t: list[float]) -> float:
    """A missing stretch: more than three typical steps without a reading."""
    steps = sorted(b - a for a, b in zip(t, t[1:], strict=False))
    return 3 * steps[len(steps) // 2] if steps else math.inf


def _broken(t: list[float], ys: list[float], gap: float) -> list[float]:
    """`ys` with a NaN after each reading followed by a missing stretch (a
    line does not bridge it); `t` itself, broken the same way, is the x."""
    out: list[float] = []
    for i, y in enumerate(ys):
        if i and t[i] - t[i - 1] > gap:
            out.append(math.nan)
        out.append(y)
    return out


def _drifts(top: Any, drifts: list[dict[str, Any]], day: Any) -> None:
    """A `baseline_drift` notice: the level the forecast jumps to (adopted) or not."""
    seen: set[bool] = set()
    for e in drifts:
        top.scatter(
            [day(e["t"])],
            [e["to"]],
            marker="D" if e["adopted"] else "X",
            s=22,
            facecolor="none" if e["adopted"] else "black",
            edgecolor="black",
            zorder=5,
            label=f"baseline_drift ({'adopted' if e['adopted'] else 'not adopted'})"
            if e["adopted"] not in seen
            else None,
        )
        seen.add(e["adopted"])


def _limits(values: list[float], lo: list[float], hi: list[float]) -> tuple[float, float]:
    """The values in full and the band where it is not far off them (the first
    readings' band is wide)."""
    vmin, vmax = min(values), max(values)
    pad = 0.6 * (vmax - vmin or 1.0)
    return max(min(lo), vmin - pad), min(max(hi), vmax + pad)


def _span_days(p: SimPatient) -> float:
    return (p.readings[-1]["ts"] - p.readings[0]["ts"]) / DAY_MS


def summary(p: SimPatient, channel: str, traced: dict[str, Any], config: core.Config) -> dict[str, Any]:
    pts = traced["points"]
    warm = [q for q in pts if q["warm"]]
    sds = [q["sd"] for q in warm]
    surprises = [q["surprise"] for q in pts if q["surprise"] is not None]
    return {
        "readings": len(pts),
        "labelled": [{"kind": e.kind, "onset": e.onset_ms, "end": e.end_ms} for e in p.events],
        "alerts": [
            {k: s[k] for k in ("kind", "opened", "resolved", "vitals")}
            for s in traced["spans"]
            if s["opened"]
        ],
        "drifts": [e for e in traced["events"] if e["kind"] == "baseline_drift" and e["vital"] == channel],
        "sd_range": [round(min(sds), 4), round(max(sds), 4)] if sds else None,
        "max_abs_z": round(max((abs(q["z"]) for q in warm), default=0.0), 2),
        "max_surprise": round(max(surprises), 2) if surprises else None,
        "not_scored": sum(not q["scored"] for q in pts),
    }


def columns(points: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The plotted series, one list per field (a reading's fields at the same index)."""
    keys = list(points[0]) if points else []
    return {k: [q[k] for q in points] for k in keys}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", choices=sorted(DEFAULTS), default="generic")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--index", type=int, help="which series of the cohort (default: generic 20, ward 3)")
    parser.add_argument("--channel", help="default: the series' custom channel (generic), heart_rate (ward)")
    parser.add_argument("--days", type=float, help="days per series (default: the cohort's own)")
    parser.add_argument("--out", type=Path, default=OUT, help="the PNG; the JSON goes beside it")
    args = parser.parse_args()
    if args.days is not None and args.days <= 0:
        print("--days must be above 0", file=sys.stderr)
        return 2
    index = DEFAULTS[args.cohort][0] if args.index is None else args.index
    p = series(args.cohort, args.seed, index, days=args.days)
    channel = args.channel or DEFAULTS[args.cohort][1] or p.profile
    if not any(channel in r["vitals"] for r in p.readings):
        print(f"series {index} of {args.cohort} has no channel {channel!r}", file=sys.stderr)
        return 1
    config = core.Config()
    traced = trace(p, channel, config)
    title = (
        f"load-tests/model_figure.py: {args.cohort} cohort, seed {args.seed}, series {index} ({channel})"
        f"{f', {args.days:g} days' if args.days is not None else ''}; "
        f"grey: labelled windows, shaded colour: alerts open"
    )
    plot(p, channel, traced, config, title, args.out)
    about = summary(p, channel, traced, config)
    doc = {
        "figure": "load-tests/model_figure.py",
        "cohort": args.cohort,
        "seed": args.seed,
        "index": index,
        "days": args.days,
        "channel": channel,
        "config": {
            "z_alert": config.z_alert,
            "surprise_z": config.surprise_z,
            "learn_below": config.learn_below,
        },
        "summary": about,
        "series": columns(traced["points"]),
        "events": traced["events"],
        "spans": traced["spans"],
    }
    json_path = args.out.with_suffix(".json")
    json_path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    _print(args, index, channel, about, p, json_path)
    return 0


def _print(
    args: Any, index: int, channel: str, about: dict[str, Any], p: SimPatient, json_path: Path
) -> None:
    t0 = p.readings[0]["ts"]

    hours = _span_days(p) <= 2

    def d(ms: int | None) -> str:
        if ms is None:
            return "still open"
        return f"hour {(ms - t0) / 3_600_000:.2f}" if hours else f"day {(ms - t0) / DAY_MS:.2f}"

    print(
        f"{_shown(args.out)}: {args.cohort} seed {args.seed} series {index}, {channel}, "
        f"{about['readings']} readings"
    )
    for e in about["labelled"]:
        print(f"  labelled {e['kind']:<12} {d(e['onset'])} to {d(e['end'])}")
    for a in about["alerts"]:
        print(
            f"  alert    {a['kind']:<14} opened {d(a['opened'])}, resolved {d(a['resolved'])} {a['vitals']}"
        )
    for e in about["drifts"]:
        print(f"  drift    {d(e['t'])} to {e['to']} ({'adopted' if e['adopted'] else 'not adopted'})")
    print(
        f"  spread (warm) {about['sd_range']}, max |z| {about['max_abs_z']}, max surprise "
        f"{about['max_surprise']}, not scored {about['not_scored']}"
    )
    print(f"{_shown(json_path)}: the plotted series")


def _shown(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


if __name__ == "__main__":
    sys.exit(main())
