"""A recording as other systems write it. Its columns (and JSON lines'
vitals) as they name them: a name no channel can have (`HR`) is refused before anything is sent,
saying which vital it may have meant, where every reading used to be
refused `wrong_type` one by one; a custom channel's name that other systems
give one of Vigil's vitals (`hr`) runs, with a word that it is learned as a
custom channel, without NEWS2. Their marks of a missing value; their text
where numbers go (a bed, a rhythm, `72 bpm`); their times without a time
zone (`--tz`), or in epoch seconds."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.core import news2
from app.tools import replay
from app.tools.replay import RecordingError


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("column", "meant"),
    [("HR", "heart_rate"), ("SpO2", "spo2"), ("NISysABP", "systolic_bp"), ("Resp Rate", "respiratory_rate")],
)
def test_a_column_no_channel_can_be_named_is_refused_with_the_vital_it_may_mean(
    tmp_path: Path, column: str, meant: str
) -> None:
    path = _write(tmp_path, "monitor.csv", f"patient,ts,heart_rate,{column}\nBED-1,1764374400000,70,80\n")
    with pytest.raises(RecordingError) as refused:
        replay.read_recording(path)
    message = str(refused.value)
    assert f"column '{column}' is not a channel name" in message
    assert f"give --map '{column}={meant}' if it holds that, or --map '{column}=' to leave it out" in message


def test_an_unknown_name_no_channel_can_have_is_refused_without_a_guess(tmp_path: Path) -> None:
    path = _write(tmp_path, "monitor.csv", "patient,ts,Device Serial\nBED-1,1764374400000,4\n")
    with pytest.raises(RecordingError, match="'Device Serial' is not a channel name") as refused:
        replay.read_recording(path)
    assert "if it holds that" not in str(refused.value) and "--map 'Device Serial='" in str(refused.value)


def test_another_systems_name_for_a_vital_runs_as_a_custom_channel_with_a_word_once(tmp_path: Path) -> None:
    rows = "".join(f"BED-1,{1764374400000 + i * 60_000},{70 + i},{16 + i % 2}\n" for i in range(5))
    path = _write(tmp_path, "monitor.csv", "patient,ts,hr,respiratory_rate\n" + rows)
    told: list[str] = []
    readings = replay.read_recording(path, warn=told.append)
    assert len(readings) == 5 and readings[0].vitals == {"hr": 70, "respiratory_rate": 16}
    assert told == [
        "monitor.csv: column 'hr' is read as a custom channel (learned, but not scored by NEWS2); "
        "give --map 'hr=heart_rate' if it holds that"
    ]


def test_json_lines_are_checked_by_their_vitals_names(tmp_path: Path) -> None:
    good = '{"patient": "BED-1", "ts": 1764374400000, "vitals": {"temp": 37.1, "heart_rate": 70}}\n'
    told: list[str] = []
    assert len(replay.read_recording(_write(tmp_path, "a.jsonl", good * 3), warn=told.append)) == 3
    assert len(told) == 1 and "line 1: vital 'temp'" in told[0] and "--map 'temp=temperature'" in told[0]
    bad = good + '{"patient": "BED-1", "ts": 1764374460000, "vitals": {"MAP": 80}}\n'
    with pytest.raises(
        RecordingError, match="line 2: vital 'MAP' is not a channel name.*--map 'MAP=mean_bp'"
    ):
        replay.read_recording(_write(tmp_path, "b.jsonl", bad))


def test_every_vital_and_named_value_passes_unremarked(tmp_path: Path) -> None:
    header = "patient,ts,heart_rate,spo2,respiratory_rate,systolic_bp,diastolic_bp,mean_bp,temperature,weight"
    header += ",consciousness,on_oxygen,spo2_scale,motion,pulse_rate,glucose"
    row = "BED-1,1764374400000,70,97,16,120,80,93,36.8,70,A,false,1,false,71,5.4\n"
    told: list[str] = []
    assert len(replay.read_recording(_write(tmp_path, "all.csv", f"{header}\n{row}"), warn=told.append)) == 1
    assert told == [  # but the one custom channel, as any is (tests/tools/test_replay_report.py)
        "all.csv: column 'glucose' is not one of Vigil's vitals: read as a custom channel (learned and "
        "alerted on, not scored by NEWS2); give --map 'glucose=' to leave it out"
    ]


def test_other_tools_marks_of_a_missing_value_are_skipped_and_the_rest_of_the_row_goes_through(
    tmp_path: Path,
) -> None:
    """pandas, R, spreadsheets and monitors' exports write `NaN`, `NA`,
    `--` where a value is missing: skipped as an empty cell is. Sent, a
    `NaN` was refused as not finite, and the row's heart rate with it."""
    text = (
        "patient,ts,heart_rate,spo2,systolic_bp,consciousness\n"
        "BED-1,1764374400000,70,NaN,120,A\n"
        "BED-1,1764374460000,71,97,--,nan\n"
        "BED-1,1764374520000,NA,N/A,null,-\n"
        "BED-1,1764374580000,72, 96 ,None,\n"
    )
    rows = replay.read_recording(_write(tmp_path, "export.csv", text))
    assert [r.vitals for r in rows] == [
        {"heart_rate": 70, "systolic_bp": 120, "consciousness": "A"},
        {"heart_rate": 71, "spo2": 97},
        {"heart_rate": 72, "spo2": 96},
    ]


def test_a_column_of_text_is_left_out_and_the_vitals_beside_it_go_through(tmp_path: Path) -> None:
    """A chart export with a bed and a rhythm column: sent, every reading
    was refused `wrong_type`, its heart rate and SpO2 with it. The text
    itself is never repeated (a comment may name anyone)."""
    text = "patient,ts,heart_rate,rhythm,spo2,comment\n" + "".join(
        f"BED-1,{1764374400000 + i * 60_000},{70 + i},SR,97,{'seen by Dr Jones' if i == 1 else ''}\n"
        for i in range(3)
    )
    told: list[str] = []
    rows = replay.read_recording(_write(tmp_path, "chart.csv", text), warn=told.append)
    assert [r.vitals for r in rows] == [{"heart_rate": 70 + i, "spo2": 97} for i in range(3)]
    assert [line.split(" holds")[0] for line in told] == [
        "chart.csv: column 'rhythm'",
        "chart.csv: column 'comment'",
    ]
    assert all("it is left out" in line and "Jones" not in line for line in told)


def test_a_vitals_odd_text_value_is_skipped_and_the_rest_of_its_row_goes_through(tmp_path: Path) -> None:
    """A nurse charted `irregular` for one heart rate: that value is
    skipped as an empty cell, the row's SpO2 goes through, and one line
    says how many and where the first is."""
    text = (
        "patient,ts,heart_rate,spo2\n"
        "BED-1,1764374400000,70,97\n"
        "BED-1,1764374460000,irregular,96\n"
        "BED-1,1764374520000,72,95\n"
        "BED-1,1764374580000,irregular,\n"
    )
    told: list[str] = []
    rows = replay.read_recording(_write(tmp_path, "chart.csv", text), warn=told.append)
    assert [r.vitals for r in rows] == [
        {"heart_rate": 70, "spo2": 97},
        {"spo2": 96},
        {"heart_rate": 72, "spo2": 95},
    ]
    assert len(told) == 1
    assert (
        "column 'heart_rate': 2 of 4 values are not what it takes" in told[0] and "first on line 3" in told[0]
    )


def test_a_vital_of_text_alone_is_refused_saying_what_it_takes(tmp_path: Path) -> None:
    """`72 bpm` in every row, or `1`/`0` for on_oxygen: the vital was meant,
    and leaving it out would lose it; refused before anything is sent."""
    text = "patient,ts,heart_rate,spo2\nBED-1,1764374400000,72 bpm,97\nBED-1,1764374460000,73 bpm,97\n"
    with pytest.raises(RecordingError, match="column 'heart_rate' holds no value it takes .*numbers; line 2"):
        replay.read_recording(_write(tmp_path, "a.csv", text))
    text = "patient,ts,spo2,on_oxygen\nBED-1,1764374400000,97,1\n"
    with pytest.raises(RecordingError, match="column 'on_oxygen' holds no value it takes .*true or false"):
        replay.read_recording(_write(tmp_path, "b.csv", text))


def test_pandas_true_and_false_are_booleans(tmp_path: Path) -> None:
    text = "patient,ts,spo2,on_oxygen\nBED-1,1764374400000,97,True\nBED-1,1764374460000,97,FALSE\n"
    rows = replay.read_recording(_write(tmp_path, "a.csv", text))
    assert [r.vitals["on_oxygen"] for r in rows] == [True, False]


def test_a_json_lines_text_value_is_skipped_as_a_csv_cells_is(tmp_path: Path) -> None:
    text = (
        '{"patient": "BED-1", "ts": 1764374400000, "vitals": {"heart_rate": "72", "spo2": 97}}\n'
        '{"patient": "BED-1", "ts": 1764374460000, "vitals": {"heart_rate": 73, "spo2": 97}}\n'
    )
    told: list[str] = []
    rows = replay.read_recording(_write(tmp_path, "a.jsonl", text), warn=told.append)
    assert [r.vitals for r in rows] == [{"spo2": 97}, {"heart_rate": 73, "spo2": 97}]
    assert len(told) == 1 and "vital 'heart_rate': 1 of 2 values" in told[0] and "first on line 1" in told[0]


def test_a_json_lines_null_is_a_missing_value(tmp_path: Path) -> None:
    text = '{"patient": "BED-1", "ts": 1764374400000, "vitals": {"heart_rate": 70, "spo2": null}}\n'
    assert replay.read_recording(_write(tmp_path, "a.jsonl", text))[0].vitals == {"heart_rate": 70}
    empty = '{"patient": "BED-1", "ts": 1764374460000, "vitals": {"spo2": null}}\n'
    assert len(replay.read_recording(_write(tmp_path, "b.jsonl", text + empty))) == 1


def test_a_json_lines_nan_as_python_writes_it_is_a_missing_value(tmp_path: Path) -> None:
    """Python's `json.dumps` writes a missing value as `NaN`: not JSON, and the
    recording was refused ("not JSON"); now skipped as `null` is."""
    import json

    line = json.dumps(
        {"patient": "BED-1", "ts": 1764374400000, "vitals": {"heart_rate": 70, "spo2": float("nan")}}
    )
    assert "NaN" in line
    assert replay.read_recording(_write(tmp_path, "a.jsonl", line + "\n"))[0].vitals == {"heart_rate": 70}
    with pytest.raises(RecordingError, match="line 1: not JSON"):
        replay.read_recording(_write(tmp_path, "b.jsonl", '{"patient": NaNo}\n'))


def test_times_without_a_zone_are_refused_unless_the_zone_is_given(tmp_path: Path) -> None:
    """A Fitbit export's `2016-04-01 07:54:00`: refused, saying to add a
    zone or give `--tz`; with one, read in it (summer time in London is an
    hour ahead of UTC)."""
    path = _write(tmp_path, "fitbit.csv", "patient,ts,heart_rate\nU1,2016-04-01 07:54:00,70\n")
    with pytest.raises(RecordingError, match="line 2: ts has no time zone.*--tz UTC"):
        replay.read_recording(path)
    utc = replay.read_recording(path, tz=replay.time_zone("UTC"))[0].ts_ms
    assert utc == 1459497240000  # 2016-04-01T07:54:00Z
    assert replay.read_recording(path, tz=ZoneInfo("Europe/London"))[0].ts_ms == utc - 3_600_000
    with_zone = _write(tmp_path, "zoned.csv", "patient,ts,heart_rate\nU1,2016-04-01T07:54:00+02:00,70\n")
    assert replay.read_recording(with_zone, tz=ZoneInfo("UTC"))[0].ts_ms == utc - 7_200_000  # its own zone
    with pytest.raises(RecordingError, match="--tz 'Mars/Olympus' is not a time zone"):
        replay.time_zone("Mars/Olympus")


def test_times_in_another_layout_are_read_with_ts_format(tmp_path: Path) -> None:
    """Fitbit's own export writes `4/12/2016 7:21:00 AM`: refused, saying to
    give `--ts-format`; with it (and `--tz`, as it has no zone), read."""
    text = "patient,ts,heart_rate\nU1,4/1/2016 7:54:00 AM,70\nU1,4/1/2016 12:05:00 PM,71\n"
    path = _write(tmp_path, "fitbit.csv", text)
    with pytest.raises(RecordingError, match="line 2: ts must be ISO 8601.*--ts-format"):
        replay.read_recording(path)
    layout = "%m/%d/%Y %I:%M:%S %p"
    with pytest.raises(RecordingError, match="line 2: ts has no time zone"):
        replay.read_recording(path, ts_format=layout)
    rows = replay.read_recording(path, tz=ZoneInfo("UTC"), ts_format=layout)
    assert [r.ts_ms for r in rows] == [1459497240000, 1459512300000]  # 07:54 and 12:05 UTC
    zoned = _write(tmp_path, "zoned.csv", "patient,ts,heart_rate\nU1,01.04.2016 09:54 +0200,70\n")
    assert replay.read_recording(zoned, ts_format="%d.%m.%Y %H:%M %z")[0].ts_ms == 1459497240000
    mixed = _write(
        tmp_path, "mixed.csv", "patient,ts,heart_rate\nU1,4/1/2016 7:54:00 AM,70\nU1,2016-04-01,71\n"
    )
    with pytest.raises(RecordingError, match="line 3: ts does not match --ts-format '%m/%d/%Y %I:%M:%S %p'"):
        replay.read_recording(mixed, tz=ZoneInfo("UTC"), ts_format=layout)


def test_another_systems_names_are_read_with_map(tmp_path: Path) -> None:
    """Fitbit's `Id,Time,Value`: refused as having no patient column (with a
    word of --map); read with `--map Id=patient --map Time=ts --map
    Value=heart_rate`."""
    text = "Id,Time,Value\n2022484408,2016-04-01T07:54:00Z,93\n2022484408,2016-04-01T07:54:05Z,91\n"
    path = _write(tmp_path, "fitbit.csv", text)
    with pytest.raises(RecordingError, match="needs patient and ts columns.*--patient.*--map"):
        replay.read_recording(path)
    layout = replay.layout(["Id=patient", "Time=ts", "Value=heart_rate"], None)
    rows = replay.read_recording(path, layout=layout)
    assert [(r.patient, r.ts_ms, r.vitals) for r in rows] == [
        ("2022484408", 1459497240000, {"heart_rate": 93}),
        ("2022484408", 1459497245000, {"heart_rate": 91}),
    ]
    with pytest.raises(RecordingError, match="--map 'HR': write it NAME=VIGIL"):
        replay.layout(["HR"], None)


def test_the_long_layout_a_value_a_row_makes_one_reading_a_moment(tmp_path: Path) -> None:
    """A chart export (PhysioNet 2012's `Time,Parameter,Value`, one stay a
    file): `--patient` names the stay's patient, the parameter column is
    `vital` and the value column `value`, each parameter mapped or left out
    (`GCS=`: ACVPU is not a number); the values of one moment are one
    reading."""
    text = (
        "Time,Parameter,Value\n"
        "2016-01-01T00:00:00Z,HR,70\n"
        "2016-01-01T00:00:00Z,NISysABP,120\n"
        "2016-01-01T00:00:00Z,GCS,15\n"
        "2016-01-01T01:00:00Z,HR,NaN\n"
        "2016-01-01T01:00:00Z,Temp,37.1\n"
    )
    path = _write(tmp_path, "140001.csv", text)
    maps = ["Time=ts", "Parameter=vital", "Value=value", "HR=heart_rate", "NISysABP=systolic_bp"]
    with pytest.raises(RecordingError, match="line 4: vital 'GCS' is not a channel name"):
        replay.read_recording(path, layout=replay.layout([*maps, "Temp=temperature"], "S-140001"))
    rows = replay.read_recording(path, layout=replay.layout([*maps, "Temp=temperature", "GCS="], "S-140001"))
    assert [(r.patient, r.vitals) for r in rows] == [
        ("S-140001", {"heart_rate": 70, "systolic_bp": 120}),
        ("S-140001", {"temperature": 37.1}),
    ]


def test_times_in_epoch_seconds_are_refused_not_read_a_thousand_times_too_close(tmp_path: Path) -> None:
    rows = "".join(f"BED-1,{1764374400 + i * 60},70\n" for i in range(3))
    with pytest.raises(RecordingError, match="epoch seconds"):
        replay.read_recording(_write(tmp_path, "seconds.csv", "patient,ts,heart_rate\n" + rows))
    rows = "".join(f"BED-1,{i * 60_000},70\n" for i in range(3))  # times from 0, as some tools write them
    assert len(replay.read_recording(_write(tmp_path, "relative.csv", "patient,ts,heart_rate\n" + rows))) == 3


def test_a_spreadsheets_csv_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Excel's "CSV UTF-8" begins with a byte-order mark: its header's first
    column read as `\\ufeffpatient`, and the recording was refused as having
    no patient column."""
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfpatient,ts,heart_rate\nBED-1,1764374400000,70\n")
    assert replay.read_recording(path)[0].vitals == {"heart_rate": 70}


def test_every_column_no_channel_can_be_named_is_refused_at_once_in_the_headers_order(tmp_path: Path) -> None:
    """An Omron Connect export: its own column names, units and all. The
    refusal named one column a run, a different one each run (the header
    was read into a set): a Spanish export of 17 columns took 14 runs. It
    now names them all in one message, in the header's order, with the
    vital each may mean, units and all."""
    header = "Date,Systolic (mmHg),Diastolic (mmHg),Pulse (bpm),Notes\n"
    path = _write(tmp_path, "omron.csv", header + "2026-01-21 18:09,126,84,54,\n")
    with pytest.raises(RecordingError) as refused:
        replay.read_recording(path, layout=replay.Layout({"Date": "ts"}, patient="P"), tz=ZoneInfo("UTC"))
    message = str(refused.value)
    assert (
        "columns 'Systolic (mmHg)', 'Diastolic (mmHg)', 'Pulse (bpm)', 'Notes' are not channel names"
        in message
    )
    assert "--map 'Systolic (mmHg)=systolic_bp' if it holds that" in message
    assert "--map 'Diastolic (mmHg)=diastolic_bp' if it holds that" in message
    assert "--map 'Pulse (bpm)=heart_rate' if it holds that" in message  # a cuff's pulse
    assert "--map 'Notes=' to leave it out" in message and "'Notes=notes'" not in message


def test_a_date_column_and_a_time_column_mapped_to_ts_are_read_as_one_time(tmp_path: Path) -> None:
    """Home devices' exports (Omron's, a cuff log's, the UCI diabetes
    files) write the date and the time of day in columns of their own:
    `--map Date=ts --map Time=ts` joins them, in the header's order, with a
    space, for `--ts-format`. Before, the two were refused as read as one
    column, and the date alone merged each day's readings into one."""
    rows = "21/01/2026,18:09,126\n21/01/2026,23:33,123\n23/01/2026,07:13,132\n"
    path = _write(tmp_path, "cuff.csv", "Date,Time,Systolic\n" + rows)
    layout = replay.Layout({"Date": "ts", "Time": "ts", "Systolic": "systolic_bp"}, patient="P")
    readings = replay.read_recording(path, layout=layout, tz=ZoneInfo("UTC"), ts_format="%d/%m/%Y %H:%M")
    assert [(r.ts_ms, r.vitals) for r in readings] == [
        (1769018940000, {"systolic_bp": 126}),
        (1769038380000, {"systolic_bp": 123}),
        (1769152380000, {"systolic_bp": 132}),
    ]


def test_a_consciousness_charted_as_a_gcs_score_is_read_as_acvpu(tmp_path: Path) -> None:
    """Intensive-care charts record a Glasgow Coma Scale score, not ACVPU:
    no number is an ACVPU letter, so the whole column was refused. A whole
    number from 3 to 15 is read as NEWS2's ACVPU, as `vigil evaluate
    --physionet2012` reads one, with a line saying so."""
    rows = "".join(f"P1,{1764374400000 + i * 3_600_000},80,{g}\n" for i, g in enumerate((15, 14, 10, 7, 3)))
    told: list[str] = []
    readings = replay.read_recording(
        _write(tmp_path, "chart.csv", "patient,ts,heart_rate,consciousness\n" + rows), warn=told.append
    )
    assert [r.vitals["consciousness"] for r in readings] == ["A", "C", "V", "P", "U"]
    assert told == [
        "chart.csv: 5 consciousness values given as a GCS score, read as NEWS2's ACVPU "
        "(15 A, 13-14 C, 9-12 V, 4-8 P, 3 U)"
    ]


def test_a_consciousness_written_as_words_or_lower_case_is_read_as_acvpu(tmp_path: Path) -> None:
    """Charts write the level as words (MIMIC-IV's "Alert", "Arouse to
    Voice") or letters in lower case: sent as they were, the gateway refused
    each such reading whole, its pulse of 135 and SpO2 of 88 with it (a round
    scoring NEWS2 16 lost). They are read as their letters, with a line
    saying how many; in JSON lines as well."""
    levels = ("Alert", "new  confusion", "Arouse to Voice", "arouse to pain", "Unresponsive", "v", " p ")
    rows = "".join(f"P1,{1764374400000 + i * 3_600_000},135,88,{g}\n" for i, g in enumerate(levels))
    told: list[str] = []
    readings = replay.read_recording(
        _write(tmp_path, "chart.csv", "patient,ts,heart_rate,spo2,consciousness\n" + rows), warn=told.append
    )
    assert [r.vitals for r in readings] == [
        {"heart_rate": 135, "spo2": 88, "consciousness": letter} for letter in "ACVPUVP"
    ]
    assert told == [
        "chart.csv: 7 values of column 'consciousness' written as words or lower-case letters, read as "
        "NEWS2's ACVPU (Alert A, Confused C, Voice V, Pain P, Unresponsive U)"
    ]
    line = '{"patient": "P1", "ts": 1764374400000, "vitals": {"heart_rate": 135, "consciousness": "v"}}\n'
    (reading,) = replay.read_recording(_write(tmp_path, "chart.jsonl", line))
    assert reading.vitals == {"heart_rate": 135, "consciousness": "V"}


def test_a_consciousness_no_level_can_be_read_from_is_skipped_and_its_row_goes_through(
    tmp_path: Path,
) -> None:
    """A word that says no ACVPU level ("Sleeping") is not guessed: its cell
    is skipped as empty, with a line naming the column and the first line,
    and the rest of its row (a pulse of 135) goes through."""
    rows = "P1,1764374400000,80,A\nP1,1764378000000,135,Sleeping\n"
    told: list[str] = []
    readings = replay.read_recording(
        _write(tmp_path, "chart.csv", "patient,ts,heart_rate,consciousness\n" + rows), warn=told.append
    )
    assert [r.vitals for r in readings] == [{"heart_rate": 80, "consciousness": "A"}, {"heart_rate": 135}]
    assert told == [
        "chart.csv: column 'consciousness': 1 of 2 values are not what it takes (consciousness takes an "
        "ACVPU level: A, C, V, P or U, or Alert, Confused, Voice, Pain, Unresponsive; the first on line 3): "
        "skipped as empty cells, the rest of their rows goes through"
    ]


def test_a_wearables_skin_temperature_under_the_name_temperature_is_told(tmp_path: Path) -> None:
    """A Whoop strap's export names its skin temperature `temperature`
    (32.9-36.2 °C): read as the body's, NEWS2 opened on hypothermia with no
    word said. Most of a recording's temperatures under 35.5 °C get a line
    naming the custom channel to read them as (a cooled patient after a
    cardiac arrest is kept at 33-36 °C: told, not refused)."""
    rows = "".join(f"P1,{1764374400000 + i * 60_000},60,{33.2 + i / 10:.1f}\n" for i in range(8))
    told: list[str] = []
    readings = replay.read_recording(
        _write(tmp_path, "strap.csv", "patient,ts,heart_rate,temperature\n" + rows), warn=told.append
    )
    assert len(readings) == 8
    assert told == [
        "strap.csv: 8 of 8 temperatures are under 35.5 °C: a wearable's skin temperature is not the body "
        "temperature NEWS2 scores; if that is what they are, give --map 'temperature=skin_temperature' to "
        "read them as a custom channel"
    ]
    told.clear()
    warm = rows.replace(",33.", ",36.").replace(",34.", ",37.")
    replay.read_recording(
        _write(tmp_path, "body.csv", "patient,ts,heart_rate,temperature\n" + warm), warn=told.append
    )
    assert told == []


def test_a_short_row_of_a_date_and_time_recording_is_refused_naming_its_line(tmp_path: Path) -> None:
    """A row with fewer cells than the header, its time cell missing: it
    crashed with a TypeError (joining None); its time is now the date
    alone, refused as any time not in the layout given, naming its line."""
    rows = "21/01/2026,126,18:09\n22/01/2026,130\n"
    path = _write(tmp_path, "cuff.csv", "Date,Systolic,Time\n" + rows)
    layout = replay.Layout({"Date": "ts", "Time": "ts", "Systolic": "systolic_bp"}, patient="P")
    with pytest.raises(RecordingError, match="line 3"):
        replay.read_recording(path, layout=layout, tz=ZoneInfo("UTC"), ts_format="%d/%m/%Y %H:%M")


def test_a_ts_column_beside_one_mapped_to_ts_is_refused_as_before(tmp_path: Path) -> None:
    """Only columns each given by --map are joined: a file's own `ts` and
    another column mapped to it are two columns read as one."""
    path = _write(tmp_path, "two.csv", "patient,ts,Time,heart_rate\nP,1764374400000,10:00,70\n")
    with pytest.raises(RecordingError, match="both read as 'ts'"):
        replay.read_recording(path, layout=replay.Layout({"Time": "ts"}))


def test_a_consciousness_coded_otherwise_than_a_gcs_is_refused_not_guessed(tmp_path: Path) -> None:
    """A chart coding AVPU as 1-4: its 3 would be read as the GCS 3 (U) and
    its 4 as P. Numbers that are not all a GCS (whole, 3-15) are refused
    with what to write instead, `--gcs` or not."""
    rows = "".join(f"P1,{1764374400000 + i * 3_600_000},80,{g}\n" for i, g in enumerate((1, 2, 3, 4, 3)))
    path = _write(tmp_path, "avpu.csv", "patient,ts,heart_rate,consciousness\n" + rows)
    with pytest.raises(RecordingError, match="not all a GCS score.*ACVPU letters"):
        replay.read_recording(path)
    with pytest.raises(RecordingError, match="not all a GCS score.*ACVPU letters"):
        replay.read_recording(path, layout=replay.layout([], None, gcs=True))


@pytest.mark.parametrize("levels", [(3, 3, 3, 3), (3, 4, 4, 3, 3)])
def test_a_consciousness_with_no_number_over_4_is_refused_saying_it_may_be_avpu(
    tmp_path: Path, levels: tuple
) -> None:
    """A ventilated, sedated patient's GCS 3 throughout (PhysioNet 2012, an
    outside tester) was refused as "numbers that are not all a GCS score":
    every one is. The reason is that AVPU coded 1-4, in either direction,
    may put 4 for alert, and read as a GCS that is a red score invented: the
    refusal says so, in one line, with `--gcs` and the letters to write
    instead, naming no patient and no value."""
    rows = "".join(f"ICU-3,{1764374400000 + i * 3_600_000},80,{g}\n" for i, g in enumerate(levels))
    path = _write(tmp_path, "stay.csv", "patient,ts,heart_rate,consciousness\n" + rows)
    with pytest.raises(RecordingError) as refused:
        replay.read_recording(path)
    assert str(refused.value) == (
        "stay.csv: column 'consciousness' has no number over 4, so it may be AVPU coded 1-4 as well as a "
        "GCS score and is not guessed: give --gcs if it is a GCS (3 is U), or write the levels as ACVPU "
        "letters (A, C, V, P, U)"
    )


def test_gcs_reads_a_consciousness_with_no_number_over_4_as_a_gcs(tmp_path: Path) -> None:
    """With `--gcs` the column is a GCS: 3 is U (NEWS2 consciousness 3), 4
    is P, with the line saying how many were read; a column with numbers
    over 4 reads as it does without it."""
    rows = "".join(f"P1,{1764374400000 + i * 3_600_000},80,{g}\n" for i, g in enumerate((3, 3, 4, 3)))
    told: list[str] = []
    readings = replay.read_recording(
        _write(tmp_path, "stay.csv", "patient,ts,heart_rate,consciousness\n" + rows),
        warn=told.append,
        layout=replay.layout([], None, gcs=True),
    )
    assert [r.vitals["consciousness"] for r in readings] == ["U", "U", "P", "U"]
    assert [news2.consciousness(r.vitals["consciousness"]) for r in readings] == [3, 3, 3, 3]
    assert told == [
        "stay.csv: 4 consciousness values given as a GCS score, read as NEWS2's ACVPU "
        "(15 A, 13-14 C, 9-12 V, 4-8 P, 3 U)"
    ]
    mixed = "".join(f"P1,{1764374400000 + i * 3_600_000},80,{g}\n" for i, g in enumerate((15, 14, 10, 7, 3)))
    path = _write(tmp_path, "chart.csv", "patient,ts,heart_rate,consciousness\n" + mixed)
    for layout in (None, replay.layout([], None, gcs=True)):
        readings = replay.read_recording(path, layout=layout)
        assert [r.vitals["consciousness"] for r in readings] == ["A", "C", "V", "P", "U"]


def test_the_skin_temperature_line_names_the_recordings_own_column(tmp_path: Path) -> None:
    """Read with `--map skin=temperature`, the line's `--map` must name
    `skin`, the column the user can map elsewhere (it named `temperature`,
    which changed nothing)."""
    rows = "".join(f"P1,{1764374400000 + i * 60_000},{33.2 + i / 10:.1f}\n" for i in range(6))
    told: list[str] = []
    replay.read_recording(
        _write(tmp_path, "strap.csv", "patient,ts,skin\n" + rows),
        warn=told.append,
        layout=replay.Layout({"skin": "temperature"}),
    )
    assert len(told) == 1 and "--map 'skin=skin_temperature'" in told[0]


def test_a_pulse_beside_a_blood_pressure_is_hinted_as_the_heart_rate_and_an_oximeters_as_pulse_rate(
    tmp_path: Path,
) -> None:
    """Omron Connect's `Pulse (bpm)` is a cuff's pulse, the heart rate: the
    hint steered it to `pulse_rate`, a custom channel NEWS2 does not score.
    Beside an SpO2 a pulse is an oximeter's, `pulse_rate` (checked against
    the ECG's heart rate, docs/alerts.md), and so it stays; so does one
    beside a heart rate, which would else be read twice. The same in the
    long layout and in JSON lines, and for a legal custom name (`pulse`)."""
    layout = replay.Layout({"Date": "ts"}, patient="P")

    def hint(header: str, cells: str) -> str:
        path = _write(tmp_path, "export.csv", f"Date,{header}\n2026-01-21 18:09,{cells}\n")
        with pytest.raises(RecordingError) as refused:
            replay.read_recording(path, layout=layout, tz=ZoneInfo("UTC"))
        return str(refused.value)

    assert "--map 'Pulse (bpm)=heart_rate' if" in hint(
        "Systolic (mmHg),Diastolic (mmHg),Pulse (bpm)", "126,84,54"
    )
    assert "--map 'Pulse (bpm)=pulse_rate' if" in hint("SpO2 (%),Pulse (bpm)", "97,54")
    assert "--map 'Pulse (bpm)=pulse_rate' if" in hint("SYS,SpO2 (%),Pulse (bpm)", "126,97,54")
    assert "--map 'Pulse (bpm)=pulse_rate' if" in hint("SYS,HR,Pulse (bpm)", "126,60,54")
    long = "patient,ts,vital,value\n" + "".join(
        f"P,1764374400000,{vital},{value}\n" for vital, value in (("Pulse (bpm)", 54), ("Systolic", 126))
    )
    with pytest.raises(RecordingError, match=r"--map 'Pulse \(bpm\)=heart_rate' if"):
        replay.read_recording(_write(tmp_path, "long.csv", long))
    told: list[str] = []
    line = '{"patient": "P", "ts": 1764374400000, "vitals": {"sys": 126, "dia": 84, "pulse": 54}}\n'
    replay.read_recording(_write(tmp_path, "cuff.jsonl", line), warn=told.append)
    assert any("vital 'pulse'" in hint and "--map 'pulse=heart_rate'" in hint for hint in told)


@pytest.mark.parametrize(
    ("column", "value", "vital", "read"),
    [
        ("Weight (lb)", "176.0", "weight", 79.83),
        ("weight_lbs", "179.2", "weight", 81.28),
        ("Body Weight [pounds]", "1", "weight", 0.45),
        ("Temperature (°F)", "98.6", "temperature", 37.0),
        ("Temp (F)", "101.3", "temperature", 38.5),
        ("Body Temperature (Fahrenheit)", "95", "temperature", 35.0),
    ],
)
def test_a_column_whose_name_says_pounds_or_fahrenheit_is_read_in_kg_or_celsius(
    tmp_path: Path, column: str, value: str, vital: str, read: float
) -> None:
    """An Apple Health export's `Weight (lb)`, read as `weight` as replay's
    own hint said, was read as kg: a 2 lb gain opened the heart-failure
    rule's 2 kg in 3 days. Its values are converted (1 lb = 0.45359237 kg;
    °F to °C), to 0.01, with a line saying so; the hint says it too."""
    path = _write(tmp_path, "export.csv", f"ts,{column}\n2024-01-01T07:00:00Z,{value}\n")
    told: list[str] = []
    [row] = replay.read_recording(path, warn=told.append, layout=replay.Layout({column: vital}, patient="P"))
    assert row.vitals == {vital: read}
    assert (
        len(told) == 1 and f"export.csv: {column!r} is in " in told[0] and "1 value converted to" in told[0]
    )
    if not replay.custom_name(column):
        with pytest.raises(RecordingError) as refused:
            replay.read_recording(path, layout=replay.Layout(patient="P"))
        unit = "lb, converted to kg" if vital == "weight" else "°F, converted to °C"
        assert f"--map '{column}={vital}' (read as {unit}) if it holds that" in str(refused.value)


def test_a_unit_is_converted_only_into_its_vital_and_after_the_recordings_missing_marks(
    tmp_path: Path,
) -> None:
    """Kilograms and Celsius are read as given; a column in pounds read as a
    custom channel keeps its pounds; `--missing` marks are the file's own
    numbers, before conversion; JSON lines' vitals are converted too."""
    text = "ts,Weight (kg),Weight (lb),Temperature (°C)\n"
    text += "2024-01-01T07:00:00Z,80.1,176.0,36.9\n2024-01-02T07:00:00Z,80.2,-1,37.0\n"
    path = _write(tmp_path, "scale.csv", text)
    names = {"Weight (kg)": "weight", "Weight (lb)": "weight_lb", "Temperature (°C)": "temperature"}
    told: list[str] = []
    rows = replay.read_recording(path, warn=told.append, layout=replay.Layout(names, patient="P"))
    assert rows[0].vitals == {"weight": 80.1, "weight_lb": 176.0, "temperature": 36.9}
    assert not any("converted" in line for line in told)
    names = {"Weight (kg)": "", "Weight (lb)": "weight", "Temperature (°C)": ""}
    rows = replay.read_recording(
        path, layout=replay.Layout(names, patient="P"), missing=replay.missing(["-1"])
    )
    assert [row.vitals for row in rows] == [{"weight": 79.83}]
    line = '{"patient": "P", "ts": 1764374400000, "vitals": {"Temp (°F)": 98.6, "heart_rate": 70}}\n'
    [row] = replay.read_recording(
        _write(tmp_path, "t.jsonl", line), layout=replay.Layout({"Temp (°F)": "temperature"})
    )
    assert row.vitals == {"temperature": 37.0, "heart_rate": 70}


def test_a_mapped_columns_unfit_values_are_told_by_the_files_column_and_the_vital(tmp_path: Path) -> None:
    """Text in a column `--map` reads as a vital was told under the vital's
    name (`column 'heart_rate'`), which the file does not have (an outside
    tester): the line names the file's column and the vital it is read as.
    An unmapped column's line is as it was; so is a JSON line's unmapped
    vital, and a mapped one is named as the column is."""
    text = (
        "when,HRx,spo2\n"
        "2026-01-01T00:00:00Z,irregular,97\n"
        "2026-01-01T01:00:00Z,80,probe off\n"
        "2026-01-01T02:00:00Z,82,96\n"
    )
    told: list[str] = []
    layout = replay.layout(["when=ts", "HRx=heart_rate"], "W1")
    replay.read_recording(_write(tmp_path, "map_text.csv", text), warn=told.append, layout=layout)
    assert told == [
        "map_text.csv: column 'HRx' (read as heart_rate): 1 of 3 values are not what it takes (vital values "
        "must be numbers; the first on line 2): skipped as empty cells, the rest of their rows goes through",
        "map_text.csv: column 'spo2': 1 of 3 values are not what it takes (vital values must be numbers; the "
        "first on line 3): skipped as empty cells, the rest of their rows goes through",
    ]
    text = "when,HRx\n2026-01-01T00:00:00Z,72 bpm\n2026-01-01T01:00:00Z,73 bpm\n"
    with pytest.raises(RecordingError) as refused:
        replay.read_recording(_write(tmp_path, "all_text.csv", text), layout=layout)
    assert str(refused.value) == (
        "all_text.csv: column 'HRx' (read as heart_rate) holds no value it takes (vital values must be "
        "numbers; line 2): write them so, or leave the column out"
    )
    jsonl = _write(
        tmp_path,
        "watch.jsonl",
        '{"patient": "W1", "ts": 1764374400000, "vitals": {"HRx": "irregular", "spo2": "off"}}\n'
        '{"patient": "W1", "ts": 1764374460000, "vitals": {"HRx": 80, "spo2": 97}}\n',
    )
    told = []
    replay.read_recording(jsonl, warn=told.append, layout=replay.layout(["HRx=heart_rate"], None))
    assert [line.split(":")[1] for line in told] == [" vital 'HRx' (read as heart_rate)", " vital 'spo2'"]


def test_a_column_of_lists_in_brackets_is_refused_saying_they_look_like_lists(tmp_path: Path) -> None:
    """A Withings export's `raw_tracker_hr.csv` writes each heart rate as a
    list (`[64]`, `"[88,89]"`): refused under the vital's name with no word
    of why (an outside tester). The refusal names the file's column, the
    vital, and that the values look like lists in brackets, without them."""
    text = (
        "start,duration,value\n"
        "2019-12-28T11:55:16+01:00,[115],[64]\n"
        '2019-12-28T11:59:46+01:00,"[86,3]","[88,89]"\n'
    )
    layout = replay.layout(["start=ts", "duration=", "value=heart_rate"], "W1")
    with pytest.raises(RecordingError) as refused:
        replay.read_recording(_write(tmp_path, "raw_tracker_hr.csv", text), layout=layout)
    assert str(refused.value) == (
        "raw_tracker_hr.csv: column 'value' (read as heart_rate) holds no value it takes (vital values must "
        "be numbers, and they look like lists in brackets; line 2): write them so, or leave the column out"
    )
    text = "patient,ts,heart_rate\nW1,1764374400000,[64]\nW1,1764374460000,irregular\nW1,1764374520000,70\n"
    told: list[str] = []
    replay.read_recording(_write(tmp_path, "mixed.csv", text), warn=told.append)
    assert "(vital values must be numbers; the first on line 2)" in told[0]  # not every one a list: no word


def test_a_mapped_gcs_column_is_refused_by_its_own_name(tmp_path: Path) -> None:
    """PhysioNet 2012's `GCS`, read as consciousness (`--map GCS=consciousness`),
    was refused as `column 'consciousness'`: the refusal names `GCS`."""
    rows = "".join(f"ICU-3,{1764374400000 + i * 3_600_000},80,3\n" for i in range(3))
    path = _write(tmp_path, "stay.csv", "patient,ts,heart_rate,GCS\n" + rows)
    with pytest.raises(RecordingError) as refused:
        replay.read_recording(path, layout=replay.layout(["GCS=consciousness"], None))
    assert str(refused.value).startswith(
        "stay.csv: column 'GCS' (read as consciousness) has no number over 4, so it may be AVPU coded 1-4"
    )


def test_a_column_mapped_to_a_custom_channel_is_told_by_its_own_name(tmp_path: Path) -> None:
    """The line naming custom channels gave `--map 'hr_x='` for a column
    `HRx` read as `hr_x`, which leaves nothing out: it names the file's
    column and gives the `--map` that does."""
    text = "when,HRx\n2026-01-01T00:00:00Z,80\n"
    told: list[str] = []
    layout = replay.layout(["when=ts", "HRx=hr_x"], "W1")
    replay.read_recording(_write(tmp_path, "watch.csv", text), warn=told.append, layout=layout)
    assert told == [
        "watch.csv: column 'HRx' (read as hr_x) is not one of Vigil's vitals: read as a custom channel "
        "(learned and alerted on, not scored by NEWS2); give --map 'HRx=' to leave it out"
    ]


@pytest.mark.parametrize(
    ("ts_format", "missing"), [("%H:%M:%S", "date"), (" %H:%M", "date"), ("%d/%m %H:%M", "year")]
)
def test_a_ts_format_without_a_date_is_refused_before_anything_is_read(
    tmp_path: Path, ts_format: str, missing: str
) -> None:
    """A lab oximeter's export writes times of day alone (` 13:11:55`):
    `--ts-format '%H:%M:%S'` read each as 1 January 1900, and every reading
    was refused after the run (`ts is before 1970`, patients: 0, exit 1),
    with no word of the format. Refused at once, saying what it lacks and
    what to do; a format with a year is read as before."""
    text = "time,spo2,pulse_rate\n 13:11:55,96.9,45\n 13:11:56,96.9,45\n"
    path = _write(tmp_path, "min_timeofday.csv", text)
    layout = replay.layout(["time=ts"], "S4")
    with pytest.raises(RecordingError) as refused:
        replay.read_recording(path, tz=ZoneInfo("UTC"), ts_format=ts_format, layout=layout)
    message = str(refused.value)
    assert message.startswith(f"--ts-format {ts_format!r} has no {missing}")
    assert "1900" in message and "--map DATE=ts --map TIME=ts" in message and "\n" not in message
    dated = _write(tmp_path, "dated.csv", "time,spo2\n2026-01-01 13:11:55,96\n")
    rows = replay.read_recording(dated, tz=ZoneInfo("UTC"), ts_format="%Y-%m-%d %H:%M:%S", layout=layout)
    assert rows[0].ts_ms == 1767273115000


def test_a_time_column_with_no_name_in_the_header_is_read_with_map_equals_ts(tmp_path: Path) -> None:
    """pandas writes its index, and a lab oximeter's export its times, under
    an empty header name: the refusal said `needs patient and ts columns`,
    and `--map '=ts'` was refused as `write it NAME=VIGIL`. The refusal now
    names the column with no name and the `--map '=ts'` that reads it."""
    text = ",spo2,pulse_rate\n2026-01-01 13:11:55,96.9,45\n2026-01-01 13:11:56,96.9,45\n"
    path = _write(tmp_path, "min_unnamed.csv", text)
    with pytest.raises(RecordingError) as refused:
        replay.read_recording(path, tz=ZoneInfo("UTC"), layout=replay.layout([], "S4"))
    message = str(refused.value)
    assert "needs patient and ts columns" in message
    assert "column 1 has no name in the header" in message and "give --map '=ts'" in message
    rows = replay.read_recording(path, tz=ZoneInfo("UTC"), layout=replay.layout(["=ts"], "S4"))
    assert [(r.ts_ms, r.vitals) for r in rows] == [
        (1767273115000, {"spo2": 96.9, "pulse_rate": 45}),
        (1767273116000, {"spo2": 96.9, "pulse_rate": 45}),
    ]
    trailing = _write(
        tmp_path, "trailing.csv", ",spo2,\n2026-01-01 13:11:55,96,\n"
    )  # an empty column at the end
    assert replay.read_recording(trailing, tz=ZoneInfo("UTC"), layout=replay.layout(["=ts"], "S4"))[
        0
    ].vitals == {"spo2": 96}
    with pytest.raises(RecordingError, match=r"--map '=': write it NAME=VIGIL.*--map '=ts' for a column"):
        replay.layout(["="], "S4")


@pytest.mark.parametrize(
    ("header", "hints"),
    [
        ("SpO2 1,Pulse 1", ["--map 'SpO2 1=spo2'", "--map 'Pulse 1=pulse_rate'"]),
        ("HR_2,Resp Rate-2", ["--map 'HR_2=heart_rate'", "--map 'Resp Rate-2=respiratory_rate'"]),
        (
            "Systolic (mmHg) 1,Pulse 1",
            ["--map 'Systolic (mmHg) 1=systolic_bp'", "--map 'Pulse 1=heart_rate'"],
        ),
    ],
)
def test_a_device_numbered_name_gets_the_map_its_name_without_the_number_gets(
    tmp_path: Path, header: str, hints: list[str]
) -> None:
    """A lab oximeter's export numbers its devices (`SpO2 1`, `Pulse 1`):
    they got only "leave it out", where `SpO2` and `Pulse` get the `--map`
    for the vital they hold."""
    path = _write(tmp_path, "min_suffix.csv", f"patient,ts,{header}\nS4,2026-01-01T00:00:00Z,97,45\n")
    with pytest.raises(RecordingError) as refused:
        replay.read_recording(path)
    message = str(refused.value)
    for hint in hints:
        assert f"{hint} if it holds that" in message


def test_a_recording_whose_ending_says_neither_is_read_by_its_first_line(tmp_path: Path) -> None:
    """PhysioNet 2012's files end `.txt` and are CSV (`Time,Parameter,Value`):
    read as JSON lines, each was refused "line 1: not JSON" (an outside
    tester). Any ending but `.csv` and JSON lines' own is told by its first
    line."""
    csv_text = "patient,ts,heart_rate\nBED-1,1764374400000,70\n"
    jsonl_text = '{"patient": "BED-1", "ts": 1764374400000, "vitals": {"heart_rate": 70}}\n'
    cases = [("a.txt", csv_text), ("b.txt", jsonl_text), ("c", csv_text), ("d.log", "\n" + jsonl_text)]
    for name, text in cases:
        rows = replay.read_recording(_write(tmp_path, name, text))
        assert [(row.patient, row.vitals) for row in rows] == [("BED-1", {"heart_rate": 70})], name
    with pytest.raises(RecordingError, match="line 1: not JSON"):
        replay.read_recording(_write(tmp_path, "e.jsonl", csv_text))  # the ending says JSON lines


def test_times_since_a_start_are_read_with_since(tmp_path: Path) -> None:
    """Hours (past 24), minutes and maybe seconds since `--since`; any other
    time, with it, is refused saying what it takes."""
    start = replay.since("2026-01-01T00:00:00Z", None)
    text = "patient,ts,heart_rate\nS-1,0:00,70\nS-1,25:20,71\nS-1,100:05:30,72\n"
    rows = replay.read_recording(_write(tmp_path, "a.csv", text), since_ms=start)
    hour = 3_600_000
    assert [row.ts_ms - start for row in rows] == [
        0,
        25 * hour + 20 * 60_000,
        100 * hour + 5 * 60_000 + 30_000,
    ]
    with pytest.raises(RecordingError, match="line 2: ts must be hours and minutes since --since"):
        replay.read_recording(
            _write(tmp_path, "b.csv", "patient,ts,heart_rate\nS-1,2026-01-01T00:00Z,70\n"), since_ms=start
        )
    assert replay.since("2026-01-01T01:00", ZoneInfo("Europe/London")) == start + hour
    with pytest.raises(RecordingError, match="is not ISO 8601"):
        replay.since("yesterday", None)


def test_times_of_day_across_midnight_are_refused_with_since(tmp_path: Path) -> None:
    """23:57 ... 00:01 read with `--since` went a day back: the 00:00 heart
    rate of 140 was placed a day before 23:57 (an outside reviewer). Times
    that go back 12 hours or more are refused, naming both lines; without
    `--since` the line says what either reading of them needs."""
    text = "patient,ts,heart_rate\nP1,23:57,70\nP1,23:59,72\nP1,00:00,140\nP1,00:01,138\n"
    path = _write(tmp_path, "tod.csv", text)
    start = replay.since("2026-01-01T00:00:00Z", None)
    with pytest.raises(RecordingError, match=r"line 4: its time is .* hours before line 3's.*times of day"):
        replay.read_recording(path, since_ms=start)
    with pytest.raises(RecordingError, match="has no date.*--since.*times of day need their date"):
        replay.read_recording(path)
    late = "patient,ts,heart_rate\nP1,25:00,70\nP1,24:30,72\nP2,0:10,80\n"  # a value entered late is kept
    assert len(replay.read_recording(_write(tmp_path, "late.csv", late), since_ms=start)) == 3


def test_a_header_with_spaces_after_its_commas_is_read_by_its_names(tmp_path: Path) -> None:
    """An Apple Health export's header is `date, heartRate`: its column was
    refused, saying to give `--map ' heartRate=heart_rate'`, and refused
    again when given that (an outside tester). The spaces around a header's
    names are not part of them."""
    text = "date, heartRate\n2015-12-01 22:00:10 -0500, 82\n2015-12-01 23:00:10 -0500, 72\n"
    path = _write(tmp_path, "heart_rate.csv", text)
    with pytest.raises(RecordingError) as refused:
        replay.read_recording(path, layout=replay.layout(["date=ts"], "AH1"))
    assert "give --map 'heartRate=heart_rate' if it holds that" in str(refused.value)
    for given in ("heartRate=heart_rate", " heartRate=heart_rate"):
        rows = replay.read_recording(path, layout=replay.layout(["date=ts", given], "AH1"))
        assert [(r.ts_ms, r.vitals) for r in rows] == [
            (1449025210000, {"heart_rate": 82}),
            (1449028810000, {"heart_rate": 72}),
        ]


def test_a_lines_and_a_cuffs_pressures_at_one_moment_are_not_mixed(tmp_path: Path) -> None:
    """PhysioNet 2012 charts an arterial line's pressures (`SysABP`,
    `DiasABP`, `MAP`) and a cuff's (`NISysABP`, ...) at the same minute; both
    mapped to Vigil's pressures, each vital kept the later row's value, and
    a line's 88/65 and a cuff's 116/39 became a reading of 88/39 with the
    cuff's mean of 64.67 (an outside tester, set-a 132567). Each reading's
    pressures are now one source's: the one that gave more of them (a
    line's lone systolic beside a cuff's 94/34 with a mean of 50 lost the
    cuff's mean under 65 in a first version: a reviewer), the line's when
    as many; a moment with one source keeps it, so no cuff value is lost."""
    text = (
        "Time,Parameter,Value\n"
        "00:05,DiasABP,65\n00:05,MAP,75\n00:05,NIDiasABP,39\n00:05,NIMAP,64.67\n"
        "00:05,NISysABP,116\n00:05,SysABP,88\n00:05,HR,95\n"
        "01:05,MAP,70\n01:05,NISysABP,110\n01:05,NIDiasABP,60\n"  # the line's mean only: the cuff's kept
        "02:05,SysABP,96\n02:05,NISysABP,94\n02:05,NIDiasABP,34\n02:05,NIMAP,50\n"  # a lone line systolic
        "03:05,NISysABP,96\n03:05,NIDiasABP,55\n03:05,NIMAP,56\n"  # the cuff alone: kept
    )
    path = _write(tmp_path, "132567.txt", text)
    maps = ["Time=ts", "Parameter=vital", "Value=value", "HR=heart_rate"]
    maps += ["SysABP=systolic_bp", "DiasABP=diastolic_bp", "MAP=mean_bp"]
    maps += ["NISysABP=systolic_bp", "NIDiasABP=diastolic_bp", "NIMAP=mean_bp"]
    told: list[str] = []
    rows = replay.read_recording(
        path, warn=told.append, layout=replay.layout(maps, "S-132567"), since_ms=1_767_225_600_000
    )
    assert [r.vitals for r in rows] == [
        {"systolic_bp": 88, "diastolic_bp": 65, "mean_bp": 75, "heart_rate": 95},
        {"systolic_bp": 110, "diastolic_bp": 60},
        {"systolic_bp": 94, "diastolic_bp": 34, "mean_bp": 50},
        {"systolic_bp": 96, "diastolic_bp": 55, "mean_bp": 56},
    ]
    assert [line for line in told if "given" in line] == [
        "132567.txt: an arterial line's and a cuff's pressures were given for a patient and time, 3 times "
        "(the first on line 4): each such reading's pressures are one source's, the one that gave more of "
        "them (the line's when as many), so that no reading mixes the two; 5 values of the other left out "
        "(--map NAME= leaves a source out)"
    ]  # and not as a value given again, the later row's kept


def test_a_cuff_named_by_an_item_id_mapped_through_its_label_is_a_cuffs(tmp_path: Path) -> None:
    """MIMIC charts by item id: `--map '220179=Non Invasive Blood Pressure
    systolic'` then that label to `systolic_bp` names it a cuff's (a
    reviewer: the ids alone were not, and the reading was mixed)."""
    text = (
        "patient,ts,vital,value\n"
        "P,2026-01-01T00:00:00Z,220050,90\nP,2026-01-01T00:00:00Z,220051,60\n"
        "P,2026-01-01T00:00:00Z,220179,120\nP,2026-01-01T00:00:00Z,220180,40\n"
    )
    path = _write(tmp_path, "chartevents.csv", text)
    maps = ["220050=Arterial Blood Pressure systolic", "Arterial Blood Pressure systolic=systolic_bp"]
    maps += ["220051=Arterial Blood Pressure diastolic", "Arterial Blood Pressure diastolic=diastolic_bp"]
    maps += [
        "220179=Non Invasive Blood Pressure systolic",
        "Non Invasive Blood Pressure systolic=systolic_bp",
    ]
    maps += [
        "220180=Non Invasive Blood Pressure diastolic",
        "Non Invasive Blood Pressure diastolic=diastolic_bp",
    ]
    rows = replay.read_recording(path, layout=replay.layout(maps, None))
    assert [r.vitals for r in rows] == [{"systolic_bp": 90, "diastolic_bp": 60}]


def test_a_cuffs_item_id_mapped_straight_to_a_vital_is_a_cuffs(tmp_path: Path) -> None:
    """An outside tester's MIMIC chart replayed with ids mapped straight to
    Vigil's vitals (`--map 220179=systolic_bp`): neither id names a cuff or a
    line, and a line's 90/60 and a cuff's 120/40 charted at one minute were
    merged, each vital the later row's. MIMIC's cuff ids are known (both
    databases, NBP, Non Invasive and Manual Blood Pressure): the reading is
    one source's, as with the labels."""
    text = (
        "patient,ts,vital,value\n"
        "P,2026-01-01T00:00:00Z,220050,90\nP,2026-01-01T00:00:00Z,220051,60\n"
        "P,2026-01-01T00:00:00Z,220179,120\nP,2026-01-01T00:00:00Z,220180,40\n"
        "P,2026-01-01T01:00:00Z,51,95\nP,2026-01-01T01:00:00Z,455,130\nP,2026-01-01T01:00:00Z,8441,45\n"
    )
    path = _write(tmp_path, "chartevents.csv", text)
    maps = ["220050=systolic_bp", "220051=diastolic_bp", "220179=systolic_bp", "220180=diastolic_bp"]
    maps += ["51=systolic_bp", "455=systolic_bp", "8441=diastolic_bp"]
    told: list[str] = []
    rows = replay.read_recording(path, warn=told.append, layout=replay.layout(maps, None))
    assert [r.vitals for r in rows] == [
        {"systolic_bp": 90, "diastolic_bp": 60},  # as many: the line's
        {"systolic_bp": 130, "diastolic_bp": 45},  # the cuff gave more
    ]
    assert any("an arterial line's and a cuff's pressures were given" in line for line in told)
