"""Stable patients whose vitals wander (`app.tools.evaluation.wander`): Vigil's
alert openings per patient-day by kind, side by side with the two checks for
a normal that wanders off (`off`), the settled-normal check of vitals
drifting together on (`together`: `Config.drift_wander`), and with it a
wandering vital heading for danger judged at `Config.trend_z_wander` (`both`,
the default). Every alert is a false one: the patients have no deterioration.

    .venv/bin/python load-tests/wandering.py [--patients 8] [--days 3] [--memory 30 120]
"""

from __future__ import annotations

import argparse
import random
from collections import Counter
from typing import Any

from app.core import patient as core
from app.core import state as patient_state
from app.core.records import reading_id
from app.tools.evaluation import wander
from app.tools.evaluation.common import DAY, MINUTE, T0  # T0: a midnight, as `wander.vitals` begins


def run(seed: int, days: float, memory_min: float, config: core.Config) -> Counter:
    """One patient's alert openings by kind (and `together` for the trends
    of vitals drifting together, `... day 1` for those of its first day),
    drift notices and notifications."""
    rng = random.Random(f"wander:{seed}")
    state = patient_state.PatientState()
    tally: Counter = Counter()
    for i, vitals in enumerate(wander.vitals(rng, int(days * 24 * 60), memory_min=memory_min)):
        reading = {"id": reading_id("monitor-1", i), "seq": i, "ts": T0 + i * MINUTE, "vitals": vitals}
        for e in core.process(state, "p-" + "4" * 32, "monitor-1", reading, config).events:
            if e["kind"] == "baseline_drift":
                tally["drift notices"] += 1
                continue
            if e["status"] in ("open", "escalated", "reminder"):
                tally["notifications"] += 1
            if e["status"] != "open":
                continue
            kind = str(e["kind"])
            if kind == "trend" and _together(e["evidence"]):
                kind = "trend (drifting together)"
                if i * MINUTE < DAY:
                    tally[kind + ", day 1"] += 1
            elif kind == "trend":
                kind = "trend (heading for danger)"
            tally[kind] += 1
            tally["openings"] += 1
    return tally


def _together(evidence: dict[str, Any]) -> bool:
    return any(isinstance(v, dict) and "drifted_from" in v for v in evidence.get("vitals", {}).values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=8)
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--memory", type=float, nargs="+", default=[30.0, 120.0], help="minutes")
    args = parser.parse_args()
    configs = {
        "off": core.Config(drift_wander=0),  # `_wanders` counts on the drift times `drift_wander` keeps
        "together": core.Config(trend_z_wander=0),
        "both": core.Config(),
    }
    patient_days = args.patients * args.days
    print(f"{args.patients} stable patients x {args.days:g} days, read once a minute; per patient-day")
    for memory in args.memory:
        tallies = {name: Counter() for name in configs}
        for name, config in configs.items():
            for seed in range(args.patients):
                tallies[name] += run(seed, args.days, memory, config)
        first = ("openings", "notifications")
        rows = sorted(set().union(*tallies.values()), key=lambda k: (k not in first, k))
        print(f"\nvitals wandering with a {memory:g}-minute memory")
        print(f"| {'':34} | " + " | ".join(f"{n:>9}" for n in configs) + " |")
        print(f"|{'-' * 36}|" + "|".join("-" * 11 for _ in configs) + "|")
        for row in rows:
            cells = " | ".join(f"{tallies[n][row] / patient_days:9.2f}" for n in configs)
            print(f"| {row:34} | {cells} |")


if __name__ == "__main__":
    main()
