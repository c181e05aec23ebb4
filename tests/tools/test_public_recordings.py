"""`vigil evaluate --physionet2012 DIR` and `--nab DIR`: public recordings in
their own published layouts, read and scored (the datasets themselves are
not part of Vigil: these folders are written here, in the same layout)."""

from __future__ import annotations

import json
import math
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.cli.main import main
from app.core import news2
from app.tools.evaluation import public
from tests.cli.test_errors import one_line, vigil


def _stay(folder: Path, record: int, sick: bool, rng: random.Random) -> None:
    """48 hours of hourly charting in the challenge's layout; a sick stay
    breathes fast, with a low pressure and a GCS of 8 from hour 12."""
    lines = ["Time,Parameter,Value", f"00:00,RecordID,{record}", "00:00,Age,70", "00:00,Weight,-1"]
    for hour in range(48):
        t = f"{hour:02d}:{rng.randint(0, 59):02d}"
        worse = sick and hour >= 12
        lines += [
            f"{t},HR,{round(110 if worse else 75 + rng.gauss(0, 3))}",
            f"{t},RespRate,{round(28 if worse else 16 + rng.gauss(0, 1))}",
            f"{t},NISysABP,{round(88 if worse else 125 + rng.gauss(0, 4))}",
            f"{t},NIDiasABP,{round(50 if worse else 75 + rng.gauss(0, 3))}",
        ]
        if hour % 3 == 0:
            lines.append(f"{t},GCS,{8 if worse else 15}")
        if hour % 4 == 0:
            lines.append(f"{t},Temp,{round(36.8 + rng.gauss(0, 0.1), 1)}")
    (folder / "set-a" / f"{record}.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture
def challenge(tmp_path: Path) -> Path:
    (tmp_path / "set-a").mkdir()
    rng = random.Random(5)
    outcomes = ["RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death"]
    for i in range(6):
        record, sick = 140000 + i, i < 2
        _stay(tmp_path, record, sick, rng)
        outcomes.append(f"{record},10,2,5,-1,{int(sick)}")
    (tmp_path / "Outcomes-a.txt").write_text("\n".join(outcomes) + "\n")
    return tmp_path


def test_a_challenge_stay_is_read_as_charted_readings(tmp_path: Path) -> None:
    (tmp_path / "set-a").mkdir()
    (tmp_path / "set-a" / "1.txt").write_text(
        "Time,Parameter,Value\n00:00,RecordID,1\n"
        "01:05,SysABP,131\n01:05,NISysABP,120\n01:05,HR,80\n01:05,Temp,-1\n"
        "03:30,GCS,11\n03:30,FiO2,0.5\n27:10,HR,90\n"
    )
    (stay,) = public.physionet2012(tmp_path)
    readings = [(r["ts"] - stay.patient.readings[0]["ts"], r["vitals"]) for r in stay.patient.readings]
    assert readings == [
        # the arterial line's pressure, not the cuff's, when both are charted at once
        (0, {"systolic_bp": 131, "heart_rate": 80}),
        (145 * 60_000, {"consciousness": "V", "on_oxygen": True}),
        (1565 * 60_000, {"heart_rate": 90}),
    ]
    assert stay.refused == 1  # the temperature of -1 ("not measured"), as the gateway refuses it
    assert stay.died is None  # no Outcomes-a.txt
    assert [news2.acvpu(g) for g in (15, 14, 12, 8, 3)] == ["A", "C", "V", "P", "U"]


def test_vigil_alerts_on_the_stays_that_deteriorate_and_their_hours_open_tell_who_died(
    challenge: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", "--physionet2012", str(challenge), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["physionet2012"]
    assert (result["stays"], result["deaths"], result["stays_with_outcome"]) == (6, 2, 6)
    assert result["stay_days"] == pytest.approx(12, abs=0.1)
    vigil, news2 = result["vigil"], result["news2"]
    assert vigil["auc_hours_open"] == 1.0 and news2["auc_hours_open"] == 1.0
    assert vigil["openings_by_kind"].get("news2", 0) >= 2
    # The four stable stays raise nothing: every opening belongs to the two that deteriorate.
    assert vigil["stays_alerting"] == pytest.approx(2 / 6, abs=0.001)
    assert vigil["openings_per_stay_day"] <= 1.0
    assert main(["evaluate", "--physionet2012", str(challenge)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("physionet2012") and "6 stays (2 died" in text


P19_HEADER = (
    "HR|O2Sat|Temp|SBP|MAP|DBP|Resp|EtCO2|BaseExcess|HCO3|FiO2|pH|PaCO2|SaO2|AST|BUN|Alkalinephos|"
    "Calcium|Chloride|Creatinine|Bilirubin_direct|Glucose|Lactate|Magnesium|Phosphate|Potassium|"
    "Bilirubin_total|TroponinI|Hct|Hgb|PTT|WBC|Fibrinogen|Platelets|Age|Gender|Unit1|Unit2|HospAdmTime|"
    "ICULOS|SepsisLabel"
)


def _psv(path: Path, rows: list[dict[str, object]]) -> None:
    """A stay in the 2019 challenge's layout: pipe-separated, NaN where not measured."""
    names = P19_HEADER.split("|")
    lines = [P19_HEADER] + ["|".join(str(row.get(n, "NaN")) for n in names) for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _sepsis_stay(path: Path, label_from: int | None, rng: random.Random, hours: int = 48) -> None:
    """Hourly vitals; a septic stay's heart and breathing rate rise, its
    pressure falls and a fever starts 8 hours before the onset (its label
    turns 1 six hours before the onset, as the challenge labels)."""
    rows = []
    for hour in range(1, hours + 1):
        onset = None if label_from is None else label_from + 6
        sick = onset is not None and hour >= onset - 8
        rows.append(
            {
                "HR": 118 if sick else round(78 + rng.gauss(0, 3)),
                "O2Sat": 97,
                "Temp": 39.1 if sick else round(36.9 + rng.gauss(0, 0.1), 1) if hour % 4 == 0 else "NaN",
                "SBP": 86 if sick else round(124 + rng.gauss(0, 4)),
                "DBP": 48 if sick else round(72 + rng.gauss(0, 3)),
                "Resp": 27 if sick else round(16 + rng.gauss(0, 1)),
                "ICULOS": hour,
                "SepsisLabel": int(label_from is not None and hour >= label_from),
            }
        )
    _psv(path, rows)


def test_a_2019_challenge_stay_is_read_as_hourly_readings(tmp_path: Path) -> None:
    _psv(
        tmp_path / "training_setB" / "p100001.psv",
        [
            {"ICULOS": 1, "SepsisLabel": 0},  # nothing measured in the first hour
            {"HR": 88.5, "O2Sat": 96, "FiO2": 0.4, "ICULOS": 2, "SepsisLabel": 0},
            {"HR": 500, "Temp": 37.25, "Resp": 18, "ICULOS": 3, "SepsisLabel": 1},
        ],
    )
    (stay,) = public.physionet2019(tmp_path)
    readings = [(r["ts"] - public.T0, r["vitals"]) for r in stay.patient.readings]
    assert readings == [
        (3_600_000, {"heart_rate": 88.5, "spo2": 96, "on_oxygen": True}),
        (7_200_000, {"temperature": 37.25, "respiratory_rate": 18}),
    ]
    assert stay.refused == 1  # a heart rate of 500, as the gateway refuses it
    # The label turns 1 six hours before sepsis began (the challenge's definition).
    assert stay.sepsis_ms == public.T0 + 2 * 3_600_000 + 6 * 3_600_000 and not stay.from_start


def test_vigil_alarms_before_sepsis_and_not_on_the_stable_stays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(11)
    for i in range(4):
        _sepsis_stay(tmp_path / "training_setA" / f"p00000{i}.psv", None, rng)
    _sepsis_stay(tmp_path / "training_setA" / "p000010.psv", 30, rng)
    _sepsis_stay(tmp_path / "training_setA" / "p000011.psv", 24, rng)
    _sepsis_stay(tmp_path / "training_setA" / "p000012.psv", 1, rng)  # septic from its first hour
    assert main(["evaluate", "--physionet2019", str(tmp_path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["physionet2019"]
    assert (result["stays"], result["septic"], result["septic_from_start"]) == (7, 3, 1)
    vigil, news2 = result["vigil"], result["news2"]
    # Both septic stays watched before the onset raise an alarm in time, some hours before the onset.
    assert vigil["septic_alarmed_in_window"] == 1.0 and news2["septic_alarmed_in_window"] == 1.0
    assert vigil["median_hours_before_onset"] >= 6
    # The four stable stays raise nothing.
    assert vigil["other_stays_alarming"] == 0 and vigil["alarms_per_other_stay_day"] == 0
    assert main(["evaluate", "--physionet2019", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("physionet2019") and "7 stays (3 septic, 1 of them from their first hour" in text


def _nab(folder: Path) -> None:
    """Two series in the benchmark's layout: a daily cycle with noise, one
    with a lasting level shift inside its labelled window."""
    rng = random.Random(8)
    start = datetime(2014, 3, 1, tzinfo=UTC)
    labels = {}
    for name, shift_at in (("shifted", 9 * 24), ("quiet", None)):
        rows = ["timestamp,value"]
        for h in range(16 * 24):
            value = 50 + 5 * math.sin(2 * math.pi * h / 24) + rng.gauss(0, 1)
            if shift_at is not None and h >= shift_at:
                value += 15
            at = start + timedelta(hours=h)
            rows.append(f"{at:%Y-%m-%d %H:%M:%S},{value:.3f}")
        (folder / "data" / "realTest").mkdir(parents=True, exist_ok=True)
        (folder / "data" / "realTest" / f"{name}.csv").write_text("\n".join(rows) + "\n")
        windows = []
        if shift_at is not None:
            a, b = start + timedelta(hours=shift_at - 6), start + timedelta(hours=shift_at + 18)
            windows.append([f"{a:%Y-%m-%d %H:%M:%S}.000000", f"{b:%Y-%m-%d %H:%M:%S}.000000"])
        labels[f"realTest/{name}.csv"] = windows
    labels["realTest/not_here.csv"] = []  # a series of the benchmark this copy leaves out
    (folder / "labels").mkdir()
    (folder / "labels" / "combined_windows.json").write_text(json.dumps(labels))


def test_benchmark_series_are_scored_like_the_generic_cohort(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _nab(tmp_path)
    assert main(["evaluate", "--nab", str(tmp_path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["nab"]
    assert (result["series"], result["windows"], result["readings"]) == (2, 1, 2 * 16 * 24)
    vigil = result["vigil"]
    assert vigil["sensitivity"] == 1.0 and vigil["false_alerts"] == 0
    assert vigil["window_score"] > 50
    assert "threshold_z" in result["windowed_gaussian"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--physionet2012", "/nonexistent/folder"], "no such folder"),
        (["--nab", "{empty}"], "combined_windows.json"),
        (["--physionet2012", "{bad}"], "line 3"),
        (["--nab", "{empty}", "--cohort", "ward"], "leave out --cohort"),
        (["--physionet2019", "{empty}"], "no stay files (*.psv)"),
        (["--physionet2019", "{bad}"], "line 2"),
    ],
)
def test_a_folder_that_is_not_the_dataset_is_one_line_saying_what_is_wrong(
    tmp_path: Path, args: list[str], says: str
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad" / "set-a").mkdir(parents=True)
    (tmp_path / "bad" / "set-a" / "1.txt").write_text("Time,Parameter,Value\n00:00,RecordID,1\nsoon,HR,80\n")
    _psv(tmp_path / "bad" / "p000001.psv", [{"HR": "eighty", "ICULOS": 1, "SepsisLabel": 0}])
    args = [a.format(empty=tmp_path / "empty", bad=tmp_path / "bad") for a in args]
    done = vigil(dict(os.environ), "evaluate", *args)
    assert done.returncode == 2
    assert says in one_line(done)
