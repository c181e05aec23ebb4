"""FHIR R4 Observations in, native readings out, units converted."""

from __future__ import annotations

import json

import pytest

from app.cli.alert_view import describe
from app.core.protocol import parse_frame

NOW = 1_764_435_600_000
ISO = "2025-11-29T17:00:00Z"


def obs(code: str, value: float | None = None, unit: str | None = None, seq: int = 1, **extra) -> dict:
    o = {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "identifier": [{"system": "urn:vigil:seq", "value": str(seq)}],
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "effectiveDateTime": ISO,
        **extra,
    }
    if value is not None:
        o["valueQuantity"] = {"value": value, "system": "http://unitsofmeasure.org", "code": unit}
    return o


@pytest.mark.parametrize(
    ("code", "value", "unit", "expected"),
    [
        ("8867-4", 72, "/min", {"heart_rate": 72}),
        ("9279-1", 18, "/min", {"respiratory_rate": 18}),
        ("2708-6", 97, "%", {"spo2": 97}),
        ("59408-5", 95, "%", {"spo2": 95}),
        ("8310-5", 37.2, "Cel", {"temperature": 37.2}),
        ("8310-5", 98.6, "[degF]", {"temperature": 37.0}),
        ("29463-7", 154, "[lb_av]", {"weight": 69.853}),
        ("29463-7", 70500, "g", {"weight": 70.5}),
    ],
)
def test_single_observations_map_and_convert(code, value, unit, expected) -> None:
    parsed = parse_frame(json.dumps(obs(code, value, unit, seq=9)), NOW)
    assert parsed.refusals == []
    assert (parsed.kind, parsed.readings[0].seq, parsed.readings[0].ts_ms, parsed.readings[0].vitals) == (
        "reading",
        9,
        NOW,
        expected,
    )


def test_blood_pressure_panel_in_kpa() -> None:
    panel = obs("85354-9", seq=3)
    panel["component"] = [
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "valueQuantity": {"value": 16, "code": "kPa"},
        },
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
            "valueQuantity": {"value": 80, "code": "mm[Hg]"},
        },
    ]
    (reading,) = parse_frame(json.dumps(panel), NOW).readings
    assert reading.vitals == {"systolic_bp": 120.01, "diastolic_bp": 80}


def test_a_blood_pressure_panel_with_its_mean_gives_mean_bp() -> None:
    """LOINC 8478-0 (mean blood pressure), a component of the panel as
    monitors export it, is the catalogue's `mean_bp`."""
    panel = obs("85354-9", seq=4)
    panel["component"] = [
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "valueQuantity": {"value": v, "code": "mm[Hg]"},
        }
        for code, v in (("8480-6", 150), ("8462-4", 70), ("8478-0", 97))
    ]
    (reading,) = parse_frame(json.dumps(panel), NOW).readings
    assert reading.vitals == {"systolic_bp": 150, "diastolic_bp": 70, "mean_bp": 97}


def test_bundle_is_a_batch_and_a_bad_entry_is_refused_alone() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": obs("8867-4", 70, "/min", seq=1)},
            {"resource": obs("8867-4", 70, "furlongs", seq=2)},
            {"resource": obs("1234-5", 1, "/min", seq=3)},
            {"resource": obs("2708-6", 150, "%", seq=4)},
            {"resource": obs("2708-6", 96, "%", seq=5, subject={"reference": "Patient/MRN-7"})},
        ],
    }
    parsed = parse_frame(json.dumps(bundle), NOW)
    assert parsed.kind == "batch"
    assert [(r.seq, r.patient) for r in parsed.readings] == [(1, None), (5, "MRN-7")]
    assert [(r.seq, r.code.value) for r in parsed.refusals] == [
        (2, "wrong_type"),
        (3, "unknown_type"),
        (4, "out_of_range"),
    ]
    assert parsed.refusals[0].item["resourceType"] == "Observation"


@pytest.mark.parametrize(
    ("resource", "code"),
    [
        ({"resourceType": "Patient"}, "unknown_type"),
        ({**obs("8867-4", 70, "/min"), "identifier": []}, "missing_field"),
        (
            {**obs("8867-4", 70, "/min"), "identifier": [{"system": "urn:vigil:seq", "value": "x"}]},
            "wrong_type",
        ),
        (obs("8867-4"), "missing_field"),
        ({**obs("8867-4", 70, "/min"), "effectiveDateTime": "soon"}, "bad_timestamp"),
        ({"resourceType": "Bundle"}, "missing_field"),
        ({"resourceType": "Bundle", "entry": {}}, "wrong_type"),
        ({**obs("8867-4", 70, "/min"), "subject": {"reference": "Group/1"}}, "wrong_type"),
    ],
)
def test_fhir_refusals_use_the_same_codes(resource, code) -> None:
    assert [r.code.value for r in parse_frame(json.dumps(resource), NOW).refusals] == [code]


def test_alerts_render_as_detected_issues() -> None:
    from app.core.fhir import detected_issue

    alert = {
        "schema": "vigil.alert/1",
        "alert_id": "6e1c0a8e-0f0e-5f3b-9a58-3d9b1f7e2c44",
        "patient": "MRN-0042",
        "subject": "p-" + "0" * 32,
        "device_id": "bedside-7",
        "status": "escalated",
        "severity": "medium",
        "kind": "news2",
        "event_time": "2026-11-29T17:00:00.000Z",
        "opened_at": "2026-11-29T16:58:00.000Z",
        "reading_id": "x",
        "evidence": {
            "score": 6,
            "band": "medium",
            "complete": True,
            "subscores": {},
            "vitals": {"heart_rate": 118, "spo2": 93},
        },
    }
    issue = detected_issue(alert)
    assert issue["resourceType"] == "DetectedIssue" and issue["id"] == alert["alert_id"]
    assert (issue["status"], issue["severity"]) == ("amended", "moderate")
    assert issue["patient"] == {"reference": "Patient/MRN-0042"}
    assert issue["identifiedDateTime"] == "2026-11-29T17:00:00.000Z"
    assert [e["code"][0]["coding"][0]["code"] for e in issue["evidence"]] == ["8867-4", "59408-5"]
    assert issue["detail"] == "escalated: NEWS2 6 (medium)"
    assert detected_issue({**alert, "status": "resolved", "severity": "high"})["status"] == "final"
    heading = {"level": 52.0, "slope_per_min": -2.5, "projected": 14.5, "limit": 40, "minutes_to_limit": 4.8}
    trend = detected_issue(
        {
            **alert,
            "kind": "trend",
            "status": "open",
            "severity": "low",
            "evidence": {"horizon_min": 15, "vitals": {"heart_rate": heading}},
        }
    )
    assert trend["code"]["text"].startswith("a vital sign heading for a dangerous range, or shifting")
    assert [e["code"][0]["text"] for e in trend["evidence"]] == ["heart_rate 52.0"]
    assert (
        trend["detail"]
        == "open: heading for a dangerous range: heart_rate 52.0 -> 14.5 (limit 40 in 4.8 min)"
    )
    shifted = {"level": 86.1, "slope_per_min": 0.0007, "baseline": 84.0, "change": 2.1}
    shifted |= {"since": "2026-11-27T07:00:00.000Z", "over_min": 2880, "cusum": 2.6}
    drifted = {"drifted_from": 72.5, "drifted_to": 81.3, "drifted_at": "2026-11-29T16:40:00.000Z"}
    both = detected_issue(
        {
            **alert,
            "kind": "trend",
            "status": "open",
            "severity": "low",
            "evidence": {"horizon_min": 15, "vitals": {"weight": shifted, "heart_rate": drifted}},
        }
    )
    assert [e["code"][0]["text"] for e in both["evidence"]] == ["weight 86.1", "heart_rate 81.3"]
    assert both["detail"] == (
        "open: level shifted: weight 86.1 (+2.1 since 2026-11-27T07:00:00.000Z); "
        "normal drifting the way a deterioration moves it: heart_rate 72.5 -> 81.3"
    )
    # The heart-failure rule's weight gain, beside the level shift it often comes with.
    ruled = {**shifted, "gain": 2.4, "lowest": 83.7, "lowest_at": "2026-11-26T07:02:00.000Z"}
    gain = detected_issue({**alert, "kind": "trend", "status": "open", "severity": "low", "evidence": {
        "horizon_min": 15, "vitals": {"weight": ruled}}})  # fmt: skip
    assert gain["detail"] == (
        "open: level shifted: weight 86.1 (+2.1 since 2026-11-27T07:00:00.000Z); "
        "weight gain of 2 kg or more in 3 days: weight 86.1 (+2.4 kg over the lowest, 83.7, "
        "at 2026-11-26T07:02:00.000Z)"
    )
    # A resolution's evidence is empty: it says nothing is found any more, not
    # "heading for a dangerous range" (an outsider read that on every resolved
    # weight gain).
    resolved = detected_issue({**alert, "kind": "trend", "status": "resolved", "evidence": {"vitals": {}}})
    assert resolved["detail"] == "resolved: no vital heading for danger, shifted or drifting now"
    line = describe(
        {**alert, "kind": "trend", "status": "resolved", "evidence": {"vitals": {}}}
    )  # vigil alerts
    assert line.endswith("MRN-0042  no vital heading for danger, shifted or drifting now")


def test_recordings_in_three_formats_read_the_same(tmp_path) -> None:
    from app.tools.replay import RecordingError, read_recording

    (tmp_path / "r.csv").write_text(
        "patient,ts,heart_rate,spo2,consciousness\nP1,2026-11-29T10:01:00Z,71,,A\nP1,1795000000000,70,97,\n"
    )
    (tmp_path / "r.jsonl").write_text(
        json.dumps({"patient": "P1", "ts": 1795000000000, "vitals": {"heart_rate": 70, "spo2": 97}})
        + "\n"
        + json.dumps(
            {
                "patient": "P1",
                "ts": "2026-11-29T10:01:00Z",
                "vitals": {"heart_rate": 71, "consciousness": "A"},
            }
        )
        + "\n"
    )
    fhir_obs = {**obs("8310-5", 98.6, "[degF]"), "subject": {"reference": "Patient/P1"}}
    (tmp_path / "r.ndjson").write_text(json.dumps(fhir_obs) + "\n")
    csv_rows, jsonl_rows = read_recording(tmp_path / "r.csv"), read_recording(tmp_path / "r.jsonl")
    assert csv_rows == jsonl_rows
    assert [r.ts_ms for r in csv_rows] == sorted(r.ts_ms for r in csv_rows)
    (row,) = read_recording(tmp_path / "r.ndjson")
    assert (row.patient, row.vitals) == ("P1", {"temperature": 37.0})
    (tmp_path / "bad.csv").write_text("who,when\nx,y\n")
    with pytest.raises(RecordingError, match="patient and ts"):
        read_recording(tmp_path / "bad.csv")


def test_signal_quality_in_words_names_a_stuck_sensor_and_a_resolution() -> None:
    """A real CGM trace (glucose the same five readings running) opened a
    `signal_quality` alert for a stuck sensor that read "0% of recent glucose
    values are artifacts", and its resolution "0% of recent a channel values
    are artifacts" (docs/evaluation.md, "Real glucose sensors")."""
    from app.core.fhir import detected_issue

    base = {"alert_id": "a", "kind": "signal_quality", "severity": "low", "patient": "MRN-0042"}
    stuck = {**base, "status": "open", "evidence": {"artifact_share": 0.0, "vitals": {"glucose": 0.0}}}
    stuck["evidence"]["stuck"] = {"glucose": 109}
    noisy = {**base, "status": "open", "evidence": {"artifact_share": 0.4, "vitals": {"spo2": 0.4}}}
    both = {**base, "status": "escalated"}
    both["evidence"] = {
        "artifact_share": 0.4,
        "vitals": {"spo2": 0.4, "glucose": 0.0},
        "stuck": {"glucose": 109},
    }
    resolved = {**base, "status": "resolved", "evidence": {"artifact_share": 0.0, "vitals": {}}}
    assert describe(stuck).endswith("MRN-0042  glucose stuck at 109 (a flat line); kept out of detection")
    assert describe(noisy).endswith("40% of recent spo2 values are artifacts; kept out of detection")
    assert describe(both).endswith(
        "40% of recent spo2 values are artifacts; glucose stuck at 109 (a flat line); kept out of detection"
    )
    assert describe(resolved).endswith("MRN-0042  no channel sending artifacts or stuck now")
    pounds = {**base, "status": "open", "evidence": {"artifact_share": 0.0, "vitals": {"weight": 0.0}}}
    pounds["evidence"]["unit"] = {"weight": "lb"}
    assert describe(pounds).endswith(
        "MRN-0042  weight sent in lb, not kg (the device's setting); kept out of detection"
    )
    fraction = {**base, "status": "open", "evidence": {"artifact_share": 0.0, "vitals": {"spo2": 0.0}}}
    fraction["evidence"]["unit"] = {"spo2": "fraction"}
    assert describe(fraction).endswith(
        "MRN-0042  spo2 sent as a fraction of 1, not % (the device's setting); kept out of detection"
    )
    assert (
        detected_issue(stuck)["detail"] == "open: glucose stuck at 109 (a flat line); kept out of detection"
    )
    assert detected_issue(resolved)["detail"] == "resolved: no channel sending artifacts or stuck now"


def test_a_drift_not_adopted_says_why() -> None:
    """`vigil alerts` said "not adopted (unsafe level)" for every drift held
    back, also a heart rate of 86 held for an arousal (a real MIMIC-II
    stay): now the evidence's `held` is in words; an event from before it
    says only "not adopted"."""
    base = {"alert_id": "a", "kind": "baseline_drift", "severity": "low", "patient": "MRN-0042"}
    drift = {"vital": "heart_rate", "from": 76.81, "to": 86.53, "adopted": False}
    lines = [
        describe({**base, "status": "notice", "evidence": {**drift, **held}})
        for held in ({"held": "arousal"}, {"held": "unsafe_level"}, {"held": "shift_unreported"}, {})
    ]
    assert [line.split("86.53, ")[1] for line in lines] == [
        "not adopted (heart and breathing rate up together: an arousal)",
        "not adopted (NEWS2 scores that level)",
        "not adopted (a level shift not yet reported)",
        "not adopted",
    ]
    adopted = describe({**base, "status": "notice", "evidence": {**drift, "adopted": True}})
    assert adopted.endswith("MRN-0042  heart_rate 76.81 -> 86.53, adopted")
