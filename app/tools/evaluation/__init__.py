"""`vigil evaluate`: labelled synthetic cohorts, each run through the same core
code the worker runs and through the baselines that apply to it, scored the
same way for every method (docs/evaluation.md).

Cohorts (`COHORTS`; the default is every name in `DEFAULT`):

- `ward` (`ward.py`): dense bedside monitoring, one reading a minute, with a
  real monitor's artifacts (arousal bursts, probe-off, cuff inflations,
  channels never connected that send 0);
- `ward_clean`: the same patients without those artifacts, the cohort
  `vigil evaluate` ran before (selected by name only);
- `ward_devices`: the `ward` cohort read by four devices (ECG monitor,
  pulse oximeter, cuff, thermometer), each sending its own readings
  (selected by name only);
- `ward_wander`: the `ward` cohort with each patient's vitals wandering
  from their normal as real monitor numerics do (`wander.py`, a 30-minute
  memory; selected by name only);
- `charted` (`charted.py`): hourly intensive-care charting, gases every 4
  hours, consciousness every 3, sedated and ventilated patients who sit in
  NEWS2's medium band for days;
- `home` (`home.py`): heart-failure telemonitoring, daily weight, blood
  pressure twice a day, a weekly rhythm strip;
- `generic` (`generic.py`): custom channels with daily and weekly cycles and
  labelled anomaly windows, scored with a window score (`scoring.nab_score`).

Everything is event time and seeded: the numbers do not depend on the machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.tools.evaluation import charted, generic, home, wander, ward
from app.tools.evaluation.common import DAY, HOUR, MINUTE, T0, Event, SimPatient, patient_days
from app.tools.evaluation.methods import (
    STATIC_LIMITS,
    WINDOWED_GAUSSIAN,
    Runner,
    Tuned,
    news2_alone,
    run_vigil,
    static_thresholds,
    weight_rule,
)
from app.tools.evaluation.scoring import Rules, best, nab_score, score

# The one-a-minute cohort without artifacts (`ward_clean`), under the name the
# benchmarks in load-tests/ import it by.
cohort = ward.cohort

__all__ = [
    "COHORTS",
    "DAY",
    "DEFAULT",
    "HOUR",
    "MINUTE",
    "STATIC_LIMITS",
    "T0",
    "Cohort",
    "cohort",
    "Event",
    "SimPatient",
    "evaluate",
    "evaluate_cohort",
    "nab_score",
    "score",
]


@dataclass(frozen=True)
class Cohort:
    name: str
    build: Callable[[int, float, int], list[SimPatient]]  # (patients, days, seed)
    days: float  # default days per patient
    methods: dict[str, Runner | Tuned]
    rules: Rules
    kinds: tuple[str, ...]  # kinds of labelled event


def _ward(patients: int, days: float, seed: int) -> list[SimPatient]:
    return ward.with_artifacts(ward.cohort(patients, days, seed), seed)


def _ward_devices(patients: int, days: float, seed: int) -> list[SimPatient]:
    return ward.as_devices(_ward(patients, days, seed), seed)


def _ward_wander(patients: int, days: float, seed: int) -> list[SimPatient]:
    return ward.with_artifacts(ward.cohort(patients, days, seed, wander_min=wander.MEMORY_MIN), seed)


_WARD_METHODS: dict[str, Runner | Tuned] = {
    "vigil": run_vigil,
    "static_thresholds": static_thresholds(),
    "news2": news2_alone(HOUR),
}
_WARD_RULES = Rules(before_ms=5 * MINUTE, after_ms=30 * MINUTE)

COHORTS: dict[str, Cohort] = {
    "ward": Cohort("ward", _ward, 1.0, _WARD_METHODS, _WARD_RULES, ward.EVENT_KINDS),
    "ward_clean": Cohort("ward_clean", ward.cohort, 1.0, _WARD_METHODS, _WARD_RULES, ward.EVENT_KINDS),
    "ward_devices": Cohort("ward_devices", _ward_devices, 1.0, _WARD_METHODS, _WARD_RULES, ward.EVENT_KINDS),
    "ward_wander": Cohort("ward_wander", _ward_wander, 1.0, _WARD_METHODS, _WARD_RULES, ward.EVENT_KINDS),
    "charted": Cohort(
        "charted",
        charted.cohort,
        3.0,
        # NEWS2 from charts: the latest value of each parameter of the last
        # 6 hours (gases every 4 hours, consciousness every 3).
        {"vigil": run_vigil, "static_thresholds": static_thresholds(), "news2": news2_alone(6 * HOUR)},
        Rules(before_ms=0, after_ms=2 * HOUR),
        charted.EVENT_KINDS,
    ),
    "home": Cohort(
        "home",
        home.cohort,
        90.0,
        {
            "vigil": run_vigil,
            "static_thresholds": static_thresholds(),
            "news2": news2_alone(13 * HOUR),  # heart rate and pressure only: twice a day
            "weight_rule": weight_rule(),
        },
        Rules(before_ms=0, after_ms=3 * DAY, per_month=True),
        home.EVENT_KINDS,
    ),
    "generic": Cohort(
        "generic",
        generic.cohort,
        14.0,
        {"vigil": run_vigil, "windowed_gaussian": WINDOWED_GAUSSIAN},
        Rules(before_ms=0, after_ms=0, probation=0.15, window_score=True),
        generic.EVENT_KINDS,
    ),
}
DEFAULT = ("ward", "charted", "home", "generic")


def evaluate(
    cohorts: tuple[str, ...] | list[str] = DEFAULT,
    patients: int = 60,
    days: float | None = None,
    seed: int = 2026,
) -> dict[str, Any]:
    """One result per cohort, keyed by its name. `days` (per patient) applies
    to every cohort; None: each cohort's own default."""
    return {name: evaluate_cohort(COHORTS[name], patients, days, seed) for name in cohorts}


def evaluate_cohort(c: Cohort, patients: int, days: float | None, seed: int) -> dict[str, Any]:
    population = c.build(patients, c.days if days is None else days, seed)
    result: dict[str, Any] = {}
    for method, run in c.methods.items():
        result[method], sizes = (
            best(population, run, c.rules) if isinstance(run, Tuned) else score(population, run, c.rules)
        )
        if method == "vigil":
            result["state_bytes_max"] = max(sizes, default=0)
    result["cohort"] = _describe(c, population, patients, seed)
    return result


def _describe(c: Cohort, population: list[SimPatient], patients: int, seed: int) -> dict[str, Any]:
    profiles: dict[str, int] = {}
    for p in population:
        profiles[p.profile] = profiles.get(p.profile, 0) + 1
    described: dict[str, Any] = {
        "patients": patients,
        "patient_days": round(patient_days(population), 2),
        "seed": seed,
        "readings": sum(len(p.readings) for p in population),
        "events": {k: sum(e.kind == k for p in population for e in p.events) for k in c.kinds},
        "profiles": profiles,
    }
    artifacts: dict[str, int] = {}
    for p in population:
        for a in p.artifacts:
            kind = a.kind.split(":", 1)[0]
            artifacts[kind] = artifacts.get(kind, 0) + 1
    if artifacts:
        described["artifacts"] = dict(sorted(artifacts.items()))
    return described
