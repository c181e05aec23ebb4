"""Cost per reading of the pure detection core, side by side in one run.

Runs the same cohort readings (app/tools/evaluation/ward.py, fixed seed) through:
- Vigil's core (`app.core.patient.process`: clean + score + learn + NEWS2 +
  alert lifecycle), the code the worker runs per reading;
- NEWS2 alone (score from the latest values);
- static thresholds (compare each vital with fixed limits);
- the encoding of the patient state (what each changelog write costs);
- Vigil's core for patients whose state sits at its bound (a monitor and two
  custom channels read every minute, on their third day: the state is kept
  within 4 KiB at every reading, `app.core.state.bound`).

One core, no I/O. Prints the median of several repetitions in microseconds
of CPU time per reading (process time, so that other processes taking turns
on a shared core do not count), and ratios to Vigil's core; the machines are
shared and noisy, so read medians and ratios, not single numbers.

Each of those runs on both cores, side by side: the compiled core (`make
core`, app/native.py) and the same sources as Python (VIGIL_COMPILED_CORE=0),
in separate processes taking turns for `--rounds` rounds; the table gives the
median of the rounds.

    .venv/bin/python load-tests/bench_core.py [--patients 20] [--repeat 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import native  # noqa: E402
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


def at_the_bound(patients: int) -> tuple[list[bytes], list[list[dict]]]:
    """Patients whose state sits at its 4 KiB bound: a monitor's vitals and
    two custom channels (a daily cycle and noise) read every minute, after
    two days (the states as bytes), and their third day's readings."""
    snapshots, rest = [], []
    for p in cohort(patients, 3.0, seed=2026):
        rng = random.Random(p.subject)
        state = patient_state.PatientState()
        for i, reading in enumerate(p.readings):
            hour = 2 * math.pi * (reading["ts"] // 3_600_000 % 24) / 24
            reading["vitals"]["etco2"] = round(38 + 3 * math.sin(hour) + rng.gauss(0, 1), 1)
            reading["vitals"]["pi"] = round(2 + math.cos(hour) + rng.gauss(0, 0.2), 2)
            if i == 2 * 1440:
                snapshots.append(patient_state.encode(state))
                rest.append(p.readings[i:])
            if i < 2 * 1440:
                core.process(state, "p-bench", "bench", reading)
    return snapshots, rest


def measure(patients: int, repeat: int) -> dict[str, float]:
    """CPU µs per reading of each function, median of `repeat`, in this process's core."""
    population = cohort(patients, 1.0, seed=2026)
    readings = [p.readings for p in population]
    n = sum(len(r) for r in readings)
    results: dict[str, float] = {"readings": n}
    for name, fn in (("vigil core", vigil), ("news2 alone", news2_alone), ("static thresholds", static),
                     ("state encode", encode_state)):  # fmt: skip
        runs = []
        for _ in range(repeat):
            started = time.process_time()
            fn(readings)
            runs.append((time.process_time() - started) / n * 1e6)
        results[name] = statistics.median(runs)
    snapshots, rest = at_the_bound(max(1, patients // 5))
    n = sum(len(r) for r in rest)
    runs = []
    for _ in range(repeat):
        states = [patient_state.decode(s) for s in snapshots]
        started = time.process_time()
        for state, readings_left in zip(states, rest, strict=True):
            for reading in readings_left:
                core.process(state, "p-bench", "bench", reading)
        runs.append((time.process_time() - started) / n * 1e6)
    results["vigil core, at bound"] = statistics.median(runs)
    results["state bytes, at bound"] = statistics.median(len(patient_state.encode(s)) for s in states)
    return results


def _round(compiled: bool, args: argparse.Namespace) -> dict[str, float]:
    env = {**os.environ, "VIGIL_COMPILED_CORE": "1" if compiled else "0"}
    command = [sys.executable, __file__, "--one", "--patients", str(args.patients)]
    command += ["--repeat", str(args.repeat)]
    done = subprocess.run(command, env=env, capture_output=True, check=True)
    result: dict[str, float] = orjson.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the two cores")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # one round, JSON out
    args = parser.parse_args()
    if args.one:
        result = {**measure(args.patients, args.repeat), "compiled": native.compiled}
        sys.stdout.buffer.write(orjson.dumps(result))
        return
    cores = ["source", "compiled"] if native.compiled else ["source"]
    rounds: dict[str, list[dict[str, float]]] = {c: [] for c in cores}
    for _ in range(args.rounds):
        for c in cores:
            result = _round(c == "compiled", args)
            if bool(result.pop("compiled")) != (c == "compiled"):
                sys.exit(f"the {c} core did not load in its round")
            rounds[c].append(result)
    n = int(rounds["source"][0]["readings"])
    if not native.compiled:
        print(f"compiled core not loaded ({native.why_not}): the sources only")
    print(f"{n} readings from {args.patients} patients, medians of {args.rounds} alternating rounds "
          f"(each the median of {args.repeat} runs), one core, CPU us/reading")  # fmt: skip
    header = f"{'':<20}" + "".join(f"{c:>12}" for c in cores) + f"{'vs vigil core':>15}"
    print(header + (f"{'compiled/source':>17}" if native.compiled else ""))
    med = {c: {k: statistics.median(r[k] for r in rounds[c]) for k in rounds[c][0]} for c in cores}
    best = cores[-1]
    for name in ("vigil core", "news2 alone", "static thresholds", "state encode", "vigil core, at bound"):
        row = f"{name:<20}" + "".join(f"{med[c][name]:>12.2f}" for c in cores)
        row += f"{med[best][name] / med[best]['vigil core']:>14.2f}x"
        if native.compiled:
            row += f"{med['compiled'][name] / med['source'][name]:>16.2f}x"
        print(row)
    print(f"(at bound: a monitor and two custom channels read every minute, the third day; its state "
          f"{med[best]['state bytes, at bound']:.0f} bytes of {patient_state.MAX_STATE_BYTES})")  # fmt: skip
    us = med[best]["vigil core"]
    verdict = "met" if us < 20 else "not met"
    print(f"target for vigil core: under 20 us/reading -> {verdict} ({best}: {us:.2f})")


if __name__ == "__main__":
    main()
