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
    assert [public.acvpu(g) for g in (15, 14, 12, 8, 3)] == ["A", "C", "V", "P", "U"]


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
    ],
)
def test_a_folder_that_is_not_the_dataset_is_one_line_saying_what_is_wrong(
    tmp_path: Path, args: list[str], says: str
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad" / "set-a").mkdir(parents=True)
    (tmp_path / "bad" / "set-a" / "1.txt").write_text("Time,Parameter,Value\n00:00,RecordID,1\nsoon,HR,80\n")
    args = [a.format(empty=tmp_path / "empty", bad=tmp_path / "bad") for a in args]
    done = vigil(dict(os.environ), "evaluate", *args)
    assert done.returncode == 2
    assert says in one_line(done)
