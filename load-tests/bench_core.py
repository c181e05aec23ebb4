"""Cost per reading of the pure detection core, side by side in one run.

Runs the same cohort readings (app/tools/evaluation/ward.py, fixed seed) through:
- Vigil's core (`app.core.patient.process`: clean + score + learn + NEWS2 +
  alert lifecycle), the code the worker runs per reading;
- NEWS2 alone (score from the latest values);
- static thresholds (compare each vital with fixed limits);
- the encoding of the patient state (what each changelog write costs).

One core, no I/O. Prints the median of several repetitions in microseconds
of CPU time per reading (process time, so that other processes taking turns
on a shared core do not count), and ratios to Vigil's core; the machines are
shared and noisy, so read medians and ratios, not single numbers.

    .venv/bin/python load-tests/bench_core.py [--patients 20] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core import news2  # noqa: E402
from app.core import patient as core  # noqa: E402
from app.core import state as patient_state  # noqa: E402
from app.tools.evaluation import HOUR, STATIC_LIMITS, cohort  # noqa: E402


def vigil(readings_by_patient: list[list[dict]]) -> None:
    for readings in readings_by_patient:
        state = patient_state.PatientState()
        for reading in readings:
            core.process(state, "p-bench", "bench", reading)


def news2_alone(readings_by_patient: list[list[dict]]) -> None:
    for readings in readings_by_patient:
        latest: dict = {}
        for reading in readings:
            ts = reading["ts"]
            for name, value in reading["vitals"].items():
                latest[name] = (value, ts)
            news2.score({k: v for k, (v, at) in latest.items() if ts - at <= HOUR})


def static(readings_by_patient: list[list[dict]]) -> None:
    for readings in readings_by_patient:
        for reading in readings:
            vitals = reading["vitals"]
            for name, (lo, hi) in STATIC_LIMITS.items():
                value = vitals.get(name)
                if value is not None and not lo <= value <= hi:
                    pass


def encode_state(readings_by_patient: list[list[dict]]) -> None:
    state = patient_state.PatientState()
    for reading in readings_by_patient[0][:500]:
        core.process(state, "p-bench", "bench", reading)
    for readings in readings_by_patient:
        for _ in readings:
            patient_state.encode(state)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    population = cohort(args.patients, 1.0, seed=2026)
    readings = [p.readings for p in population]
    n = sum(len(r) for r in readings)
    results: dict[str, float] = {}
    for name, fn in (("vigil core", vigil), ("news2 alone", news2_alone), ("static thresholds", static),
                     ("state encode", encode_state)):
        runs = []
        for _ in range(args.repeat):
            started = time.process_time()
            fn(readings)
            runs.append((time.process_time() - started) / n * 1e6)
        results[name] = statistics.median(runs)
    print(f"{n} readings from {args.patients} patients, median of {args.repeat} runs, one core")
    print(f"{'':<20}{'CPU us/reading':>15}{'vs vigil core':>15}")
    for name, us in results.items():
        print(f"{name:<20}{us:>15.2f}{us / results['vigil core']:>14.2f}x")
    print(
        f"target for vigil core: under 20 us/reading -> {'met' if results['vigil core'] < 20 else 'not met'}"
    )


if __name__ == "__main__":
    main()
