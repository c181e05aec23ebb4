"""`vigil evaluate`: the scoring shared by every cohort, and the command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from app.cli.main import main
from app.tools import evaluation
from app.tools.evaluation import DAY, MINUTE, T0, Event, SimPatient, nab_score, score
from app.tools.evaluation.methods import Alarm, Runner
from app.tools.evaluation.scoring import Rules
from tests.conftest import ROOT

WARD_RULES = Rules(before_ms=5 * MINUTE, after_ms=30 * MINUTE)


def _minutely(n: int) -> SimPatient:
    p = SimPatient("p", "typical")
    for i in range(n):
        p.add(T0 + i * MINUTE, {})
    return p


def _fake(alarms: list[Alarm]) -> Runner:
    return lambda patient, sizes: iter(alarms)


def test_scoring_counts_detections_delays_false_alerts_and_notifications() -> None:
    p = _minutely(24 * 60)
    p.events = [Event("hypoxia", T0 + 600 * MINUTE, T0 + 650 * MINUTE, deadline_ms=T0 + 602 * MINUTE)]
    fired: list[Alarm] = [
        ("open", T0 + 100 * MINUTE, "news2"),  # false: long before the event
        ("reminder", T0 + 160 * MINUTE, "news2"),  # a notification, not a new alert
        ("resolved", T0 + 200 * MINUTE, "news2"),
        ("open", T0 + 603 * MINUTE, "anomaly"),  # 3 min late: the 4th reading from the onset on
    ]
    result, _ = score([p], _fake(fired), WARD_RULES)
    assert result["sensitivity"] == 1.0
    assert result["median_delay_s"] == 180.0
    assert result["median_delay_readings"] == 4
    assert result["caught_in_time"] == 0.0  # after its deadline
    assert result["caught_in_time_by_kind"] == {"hypoxia": 0.0}
    assert result["median_delay_s_by_kind"] == {"hypoxia": 180.0}
    assert result["false_alerts"] == 1
    assert result["false_alerts_by_alert_kind"] == {"news2": 1}  # the anomaly came within the event
    assert result["false_alerts_per_patient_day"] == round(1 / ((24 * 60 - 1) / (24 * 60)), 2)
    assert result["notifications"] == 3  # two opens and the reminder; a resolution is not one


def test_a_reminder_or_resolution_during_an_event_does_not_detect_it() -> None:
    p = _minutely(24 * 60)
    p.events = [Event("hypoxia", T0 + 600 * MINUTE, T0 + 650 * MINUTE)]
    fired: list[Alarm] = [("open", T0 + 100 * MINUTE, "news2"), ("reminder", T0 + 610 * MINUTE, "news2")]
    result, _ = score([p], _fake(fired), WARD_RULES)
    assert result["detected"] == 0 and result["median_delay_s"] is None


def test_stable_patients_are_scored_apart() -> None:
    stable, sick = _minutely(24 * 60 + 1), _minutely(24 * 60 + 1)
    sick.subject = "q"
    sick.events = [Event("sepsis", T0 + 60 * MINUTE, T0 + 120 * MINUTE)]
    alarms: list[Alarm] = [("open", T0 + 300 * MINUTE, "news2"), ("reminder", T0 + 360 * MINUTE, "news2")]
    result, _ = score([stable, sick], _fake(alarms), WARD_RULES)
    assert result["openings_per_stable_patient_day"] == 1.0
    assert result["notifications_per_stable_patient_day"] == 2.0
    assert result["false_alerts_per_patient_day"] == 1.0  # 2 over 2 patient-days


def test_window_score_rewards_early_detection_and_penalises_false_positives() -> None:
    window = [Event("level_shift", T0 + DAY, T0 + DAY + 12 * 60 * MINUTE)]
    early = nab_score(window, [T0 + DAY + 10 * MINUTE])
    late = nab_score(window, [T0 + DAY + 11 * 60 * MINUTE])
    missed = nab_score(window, [])
    assert early > late > missed == -1.0
    assert 0.9 < early < 1.0
    # A second detection in the same window counts neither way.
    assert nab_score(window, [T0 + DAY + 10 * MINUTE, T0 + DAY + 20 * MINUTE]) == early
    # Each false positive costs, more the further it is from the window before it.
    before = nab_score(window, [T0 + 10 * MINUTE, T0 + DAY + 10 * MINUTE])
    just_after = nab_score(window, [T0 + DAY + 10 * MINUTE, T0 + DAY + 13 * 60 * MINUTE])
    long_after = nab_score(window, [T0 + DAY + 10 * MINUTE, T0 + 2 * DAY])
    assert early > just_after > long_after > before
    assert before == pytest.approx(early - 0.11)
    # A false positive weeks after a two-hour window costs the whole A_FP
    # (the sigmoid's exp overflowed there: `vigil evaluate --days 28` crashed).
    spike = [Event("spike", T0 + DAY, T0 + DAY + 120 * MINUTE)]
    weeks_after = nab_score(spike, [T0 + DAY + 10 * MINUTE, T0 + 20 * DAY])
    assert weeks_after == pytest.approx(nab_score(spike, [T0 + DAY + 10 * MINUTE]) - 0.11)


def test_normalised_window_score_is_0_for_silence_and_100_for_perfect() -> None:
    p = _minutely(3 * 24 * 60)
    p.events = [
        Event("spike", T0 + DAY, T0 + DAY + 120 * MINUTE),
        Event("spike", T0 + 2 * DAY, T0 + 2 * DAY + 120 * MINUTE),
    ]
    rules = Rules(before_ms=0, after_ms=0, window_score=True)
    silent, _ = score([p], _fake([]), rules)
    perfect, _ = score([p], _fake([("open", e.onset_ms, "x") for e in p.events]), rules)
    noisy, _ = score([p], _fake([("open", e.onset_ms, "x") for e in p.events] + [("open", T0, "x")]), rules)
    assert silent["window_score"] == 0.0
    assert perfect["window_score"] == 100.0
    assert 0 < noisy["window_score"] < 100


def test_every_cohort_is_reproducible_for_a_seed() -> None:
    small = {"ward": 0.25, "charted": 1.0, "home": 30.0, "generic": 5.0}
    for name, days in small.items():
        build = evaluation.COHORTS[name].build
        a, b, c = build(3, days, 7), build(3, days, 7), build(3, days, 8)
        assert [p.readings for p in a] == [p.readings for p in b], name
        assert [(p.events, p.artifacts) for p in a] == [(p.events, p.artifacts) for p in b], name
        assert [p.readings for p in a] != [p.readings for p in c], name


def test_evaluate_command_prints_one_json_object_keyed_by_cohort(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--json", "--patients", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert list(result) == ["ward", "charted", "home", "generic"]
    expected_methods = {
        "ward": {"vigil", "static_thresholds", "news2"},
        "charted": {"vigil", "static_thresholds", "news2"},
        "home": {"vigil", "static_thresholds", "news2", "weight_rule"},
        "generic": {"vigil", "windowed_gaussian"},
    }
    for name, methods in expected_methods.items():
        cohort = result[name]
        assert {k for k, v in cohort.items() if isinstance(v, dict) and "sensitivity" in v} == methods
        for method in methods:
            assert set(cohort[method]) >= {
                "sensitivity",
                "false_alerts_per_patient_day",
                "median_delay_s",
                "median_delay_readings",
                "notifications_per_patient_day",
            }
        assert 0 < cohort["state_bytes_max"] <= 4096
        assert cohort["cohort"]["patients"] == 2 and cohort["cohort"]["seed"] == 2026
    assert "window_score" in result["generic"]["windowed_gaussian"]
    assert "false_alerts_per_patient_month" in result["home"]["vigil"]
    assert "caught_in_time" in result["charted"]["vigil"]


def test_evaluate_command_selects_cohorts_and_prints_markdown() -> None:
    run = [sys.executable, "-m", "app.cli", "evaluate", "--patients", "3", "--cohort", "charted"]
    out = subprocess.run(
        [
            *run,
            "--cohort",
            "ward_clean",
            "--cohort",
            "ward_devices",
            "--cohort",
            "ward_wander",
            "--days",
            "0.5",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert list(json.loads(out)) == ["charted", "ward_clean", "ward_devices", "ward_wander"]
    md = subprocess.run(
        [*run, "--markdown", "--seeds", "1", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert md.startswith("### Results: charted\n")
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| seed (events) | method | sensitivity |")
    assert [r.split(" | ")[1] for r in rows[1:]] == ["vigil", "static_thresholds", "news2"] * 2


def test_evaluate_command_refuses_an_empty_cohort_in_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "evaluate", "--patients", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr


def test_the_report_splits_false_alerts_by_kind_of_alert_and_without_news2s_own() -> None:
    from app.tools.evaluation.report import table

    p = _minutely(2 * 24 * 60 + 1)  # two patient-days
    fired: list[Alarm] = [
        ("open", T0 + 100 * MINUTE, "news2"),
        ("open", T0 + 900 * MINUTE, "trend"),
        ("open", T0 + 1900 * MINUTE, "news2"),
    ]
    result, _ = score([p], _fake(fired), WARD_RULES)
    assert result["false_alerts_by_alert_kind"] == {"news2": 2, "trend": 1}
    cohort = {"patients": 1, "patient_days": 2.0, "readings": 2881, "seed": 1, "events": {}}
    out = table({"ward": {"cohort": cohort, "vigil": result, "state_bytes_max": 1}})
    assert "false alerts by kind of alert: news2 2, trend 1; without NEWS2's own, 0.50 per patient-day" in out
