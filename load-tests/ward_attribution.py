"""Attribute each of Vigil's false alerts on the `ward` cohort to the artifact it
overlaps (or "none"), by alert kind. A never-connected channel (the whole stay)
takes only the alerts whose evidence names it.

    .venv/bin/python load-tests/ward_attribution.py [--seed 2026 ...] [--detail]
"""

from __future__ import annotations

import argparse
from collections import Counter

from app.core import patient as core
from app.core import state as patient_state
from app.tools.evaluation import ward
from app.tools.evaluation.scoring import ARTIFACT_AFTER

BEFORE, AFTER = 5 * 60_000, 30 * 60_000


def attribute(seed: int, patients: int = 60, detail: bool = False) -> Counter:
    cohort = ward.with_artifacts(ward.cohort(patients, 1.0, seed), seed)
    tally: Counter = Counter()
    for p in cohort:
        state = patient_state.PatientState()
        for reading in p.readings:
            for e in core.process(state, p.subject, "eval", reading).events:
                if e["status"] != "open" or e["kind"] == "baseline_drift":
                    continue
                ts = reading["ts"]
                if any(ev.onset_ms - BEFORE <= ts <= ev.end_ms + AFTER for ev in p.events):
                    continue
                ev = e.get("evidence", {})
                hits = [
                    a.kind.split(":")[0]
                    for a in p.artifacts
                    if a.onset_ms <= ts <= a.end_ms + ARTIFACT_AFTER and _involved(a.kind, ev)
                ]
                cause = "+".join(sorted(set(hits))) or "none"
                key = (e["kind"], e.get("severity"), cause)
                tally[key] += 1
                if detail:
                    shown = {k: ev.get(k) for k in ("vitals", "z", "score", "subscores")}
                    print(seed, p.subject, p.profile, ts, key, shown)
    return tally


def _involved(artifact: str, evidence: dict) -> bool:
    """Could this artifact have raised an alert with this evidence? A
    channel never connected (`disconnected:<channel>`) spans the whole stay,
    so time alone would put every false alert of its patient down to it: it
    takes only those whose evidence names its channel. The other artifacts
    are short, and are put down by time."""
    kind, _, channel = artifact.partition(":")
    if kind != "disconnected":
        return True
    vitals = evidence.get("vitals") or {}
    return channel in vitals


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, nargs="+", default=[2026, 7, 99])
    ap.add_argument("--detail", action="store_true")
    args = ap.parse_args()
    for seed in args.seed:
        t = attribute(seed, detail=args.detail)
        print(f"seed {seed}: {sum(t.values())} false alerts")
        for (kind, sev, cause), n in t.most_common():
            print(f"  {n:4d}  {kind:15s} {sev!s:10s} {cause}")


if __name__ == "__main__":
    main()
