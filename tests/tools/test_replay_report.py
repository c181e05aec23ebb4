"""What `vigil replay` tells about a recording it reads, where an outside
reviewer replaying real public recordings found it silent or misleading:
numbers out of their vital's range, left out of their readings (by vital,
where the first is and the gateway's own message for it, `--missing` for a
mark of a value not measured), readings the gateway would refuse (by code
and vital), rows merged for sharing a patient and a time, columns read as
custom channels, and files it cannot read as written (semicolon-separated,
a column twice, a date that does not exist). Run as a user runs it (`vigil
replay FILE --offline`), in this process; the lines never name a patient."""

from __future__ import annotations

import os
import re
from pathlib import Path

import orjson
import pytest

from app.cli import main

START = 1_764_374_400_000  # 2025-11-29T00:00:00Z
MINUTE = 60_000


@pytest.fixture
def vigil(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """`vigil ARGS...` here: its exit code and its stderr's lines."""
    for name in [n for n in os.environ if n.startswith("VIGIL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("VIGIL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VIGIL_COMPILED_CORE", "0")
    monkeypatch.setattr(main.logs, "configure", lambda *args, **kwargs: None)

    def run(*args: str) -> tuple[int, list[str]]:
        capsys.readouterr()
        code = main.main(list(args))
        return code, capsys.readouterr().err.splitlines()

    return run


def _csv(tmp_path: Path, name: str, header: str, rows: list[str]) -> str:
    path = tmp_path / name
    path.write_text(
        header + "\n" + "".join(f"MRN-0042,{START + i * MINUTE},{row}\n" for i, row in enumerate(rows))
    )
    return str(path)


def _outside(err: list[str]) -> list[str]:
    """The lines telling of numbers out of range left out (`_Cells.outside`)."""
    return [line for line in err if "outside what the gateway takes" in line or "no value left" in line]


def test_a_red_round_with_one_impossible_cell_raises_its_news2_alert(
    vigil, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An ICU chart's round of HR 135, RR 28, SpO2 84, systolic 86 with a
    temperature typed `385` (for 38.5): the whole reading was refused
    `out_of_range` and no alert was raised, though the other values score
    NEWS2 12 (an outside reviewer). A hand-entered chart has no device to
    resend it: the impossible cell is left out, as text in a numeric cell
    is, the rest of the round goes through and raises the alert, and one
    line says so in the gateway's words, naming no patient."""
    path = tmp_path / "chart.csv"
    path.write_text(
        "patient,ts,heart_rate,respiratory_rate,spo2,systolic_bp,temperature\n"
        "P5,2157-11-21 08:00:00,80,16,97,125,36.8\n"
        "P5,2157-11-21 09:00:00,82,17,97,124,36.9\n"
        "P5,2157-11-21 10:00:00,135,28,84,86,385\n"
        "P5,2157-11-21 11:00:00,84,18,96,122,37.0\n"
    )
    capsys.readouterr()
    code = main.main(["replay", str(path), "--offline", "--tz", "UTC", "--json"])
    out, err = capsys.readouterr()
    events = [orjson.loads(line) for line in out.splitlines()]
    assert [(e["kind"], e["evidence"]["score"]) for e in events if e["status"] == "open"] == [("news2", 12)]
    assert code == 0, err
    assert err.splitlines() == [
        "vigil replay: chart.csv: column 'temperature': 1 value outside what the gateway takes (temperature "
        "is outside 0..50 Cel; the first on line 4): left out, the rest of its reading goes through",
        "vigil replay: ran 4 readings offline (patients: 1); alert events {'news2': 1}; refused none",
    ]
    assert "P5" not in err
    # The live replay sends the same readings: each one the gateway takes, where the round was refused.
    from app.core.protocol import parse_frame
    from app.tools import replay

    rows = replay.read_recording(path, tz=replay.time_zone("UTC"))
    assert rows[2].vitals == {"heart_rate": 135, "respiratory_rate": 28, "spo2": 84, "systolic_bp": 86}
    for seq, row in enumerate(rows):
        frame = orjson.dumps({"type": "reading", "seq": seq, "ts": row.ts_ms, "vitals": row.vitals})
        assert parse_frame(frame, row.ts_ms).refusals == []
    refused = {
        "type": "reading",
        "seq": 2,
        "ts": rows[2].ts_ms,
        "vitals": {**rows[2].vitals, "temperature": 385},
    }
    assert [r.code.value for r in parse_frame(orjson.dumps(refused), rows[2].ts_ms).refusals] == [
        "out_of_range"
    ]


def test_a_mapped_columns_number_out_of_range_is_told_by_the_files_column(vigil, tmp_path) -> None:
    """A `385` in the file's `Temp`, read as temperature (`--map
    Temp=temperature`), was told as `column 'temperature'`, a column the
    file does not have (an outside tester): the line names `Temp` and the
    vital it is read as. An unmapped column beside it is told as before."""
    path = tmp_path / "map_temp.csv"
    path.write_text("when,Temp,spo2\n2026-01-01T00:00:00Z,385,97\n2026-01-01T01:00:00Z,37.0,101\n")
    code, err = vigil(
        "replay", str(path), "--offline", "--patient", "W1", "--map", "when=ts", "--map", "Temp=temperature"
    )
    assert code == 0, err
    assert _outside(err) == [
        "vigil replay: map_temp.csv: column 'Temp' (read as temperature): 1 value outside what the gateway "
        "takes (temperature is outside 0..50 Cel; the first on line 2): left out, the rest of its reading "
        "goes through",
        "vigil replay: map_temp.csv: column 'spo2': 1 value outside what the gateway takes (spo2 is outside "
        "0..100 %; the first on line 3): left out, the rest of its reading goes through",
    ]


def test_a_row_whose_only_value_is_out_of_range_is_told_and_not_sent(vigil, tmp_path) -> None:
    """A weighing of -3 alone on its row: left out, the row has no value
    left, and is not sent, as a row with every cell empty is not; both are
    said, with its line, and the gateway refuses nothing. In JSON lines,
    and in the long layout (a reading whose every row was left out), too."""
    path = _csv(tmp_path, "scale.csv", "patient,ts,weight", ["80.1", "-3", "80.4"])
    code, err = vigil("replay", path, "--offline")
    assert code == 0, err
    assert _outside(err) == [
        "vigil replay: scale.csv: column 'weight': 1 value outside what the gateway takes (weight is outside "
        "0..700 kg; the first on line 3): left out, the rest of its reading goes through",
        "vigil replay: scale.csv: 1 reading had no value left once those were left out (the first on line "
        "3): not sent, as a row with every cell empty is not",
    ]
    assert "ran 2 readings offline" in err[-1] and "refused none" in err[-1]
    assert not any("would be refused" in line or "MRN-0042" in line for line in err)
    jsonl = tmp_path / "scale.jsonl"
    jsonl.write_text(
        f'{{"patient": "P1", "ts": {START}, "vitals": {{"weight": 80.1}}}}\n'
        f'{{"patient": "P1", "ts": {START + MINUTE}, "vitals": {{"weight": -3}}}}\n'
    )
    code, err = vigil("replay", str(jsonl), "--offline")
    assert code == 0 and _outside(err)[1].startswith("vigil replay: scale.jsonl: 1 reading had no value left")
    long = tmp_path / "long.csv"
    long.write_text(
        "patient,ts,vital,value\n"
        f"P1,{START},heart_rate,70\nP1,{START},spo2,-1\n"  # the heart rate goes through
        f"P1,{START + MINUTE},spo2,-1\nP1,{START + MINUTE},heart_rate,500\n"  # nothing left
    )
    code, err = vigil("replay", str(long), "--offline")
    assert code == 0 and "ran 1 readings offline" in err[-1]
    assert _outside(err)[-1] == (
        "vigil replay: long.csv: 1 reading had no value left once those were left out (the first on line 4): "
        "not sent, as a row with every cell empty is not"
    )
    only = _csv(tmp_path, "only.csv", "patient,ts,weight", ["-3"])
    code, err = vigil("replay", only, "--offline")
    assert code == 2 and err[-1] == "vigil replay: only.csv: no readings" and len(_outside(err)) == 2


def test_minus_one_for_not_measured_is_told_by_vital_with_the_missing_that_mends_it(vigil, tmp_path) -> None:
    """PhysioNet 2012 writes -1 where a value was not measured: the only
    line said "9 of 10 readings would be refused by the gateway"; then a
    line per vital said how many, where the first is, the gateway's
    message and `--missing -1`, which then runs them all. Now the -1s are
    left out of their readings (the rest of each goes through) with those
    lines; `--missing -1` skips them without a word."""
    rows = ["70,36.8,-1"] + [f"{70 + i},-1,97" for i in range(6)] + ["72,37.0,-1"] * 3
    path = _csv(tmp_path, "stay.csv", "patient,ts,heart_rate,temperature,spo2", rows)
    code, err = vigil("replay", path, "--offline")
    assert code == 0, err
    assert err[:2] == [
        "vigil replay: stay.csv: column 'temperature': 6 values outside what the gateway takes (temperature "
        "is outside 0..50 Cel; the first on line 3): left out, the rest of their readings goes through; each "
        "was -1: if -1 marks a value not measured, give --missing -1",
        "vigil replay: stay.csv: column 'spo2': 4 values outside what the gateway takes (spo2 is outside "
        "0..100 %; the first on line 2): left out, the rest of their readings goes through; each was -1: if "
        "-1 marks a value not measured, give --missing -1",
    ]
    assert "ran 10 readings offline (patients: 1)" in err[-1] and "refused none" in err[-1]
    assert not any("MRN-0042" in line for line in err)
    code, err = vigil("replay", path, "--offline", "--missing", "-1")
    assert code == 0 and len(err) == 1 and "ran 10 readings offline (patients: 1)" in err[-1]


def test_fahrenheit_is_told_in_the_gateways_own_words(vigil, tmp_path) -> None:
    rows = ["70,36.9"] * 3 + ["71,98.6", "72,99.1"]
    code, err = vigil(
        "replay", _csv(tmp_path, "home.csv", "patient,ts,heart_rate,temperature", rows), "--offline"
    )
    assert code == 0, err
    assert _outside(err) == [
        "vigil replay: home.csv: column 'temperature': 2 values outside what the gateway takes (temperature "
        "is outside 0..50 Cel (degrees Celsius: this looks like Fahrenheit); the first on line 5): left out, "
        "the rest of their readings goes through; if they are in °F, a column name saying so ('Temperature "
        "(°F)'), or in a file of one value a row a unit column (--map UNITCOLUMN=unit), has them converted"
    ]


def test_a_chart_of_one_value_a_row_has_its_fahrenheit_converted_by_its_unit_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A MIMIC chart export: one value a row under an item id, its unit in a
    column of its own (`VALUEUOM`). Its temperatures in °F (223761) were left
    out as out of range, a fever of 103.1 and a hypothermia of 94.6 with
    them, and no map could have them read (an outside tester). With the unit
    column mapped (`--map VALUEUOM=unit`) they are converted, with a line
    saying so, and NEWS2 scores them."""
    path = tmp_path / "chartevents.csv"
    rows = [
        ("08:00", "220045", "118", "bpm"),
        ("08:00", "223761", "103.1", "°F"),
        ("08:00", "220210", "22", "insp/min"),
        ("12:00", "220045", "121", "bpm"),
        ("12:00", "223761", "94.6", "°F"),
        ("12:00", "220210", "23", "insp/min"),
    ]
    path.write_text(
        "SUBJECT_ID,CHARTTIME,ITEMID,VALUE,VALUEUOM\n"
        + "".join(f"s1,2026-11-19T{t}:00Z,{item},{value},{unit}\n" for t, item, value, unit in rows)
    )
    maps = ["SUBJECT_ID=patient", "CHARTTIME=ts", "ITEMID=vital", "VALUE=value", "VALUEUOM=unit"]
    maps += ["220045=heart_rate", "220210=respiratory_rate", "223761=temperature"]
    args = [arg for m in maps for arg in ("--map", m)]
    capsys.readouterr()
    code = main.main(["replay", str(path), "--offline", "--json", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err.splitlines()[0] == (
        "vigil replay: chartevents.csv: '223761' is in °F, as its unit column says: its 2 values converted "
        "to °C for temperature ((°F - 32) × 5/9, to 0.01 °C)"
    )
    events = [orjson.loads(line) for line in out.splitlines()]
    news = [e for e in events if e["kind"] == "news2"]
    assert [e["evidence"]["vitals"]["temperature"] for e in news] == [39.5, 34.78]


def test_a_single_negative_value_is_not_taken_for_a_mark_and_a_repeated_one_is(vigil, tmp_path) -> None:
    rows = ["70,80.0", "70,-3", "70,80.2", "70,-9999", "70,-9999"]
    code, err = vigil(
        "replay", _csv(tmp_path, "scale.csv", "patient,ts,heart_rate,weight", rows), "--offline"
    )
    told = _outside(err)
    assert code == 0 and len(told) == 1 and "column 'weight': 3 values outside" in told[0]
    assert "--missing" not in told[0]  # -3 once, -9999 twice: not one value
    code, err = vigil(
        "replay", _csv(tmp_path, "s2.csv", "patient,ts,weight", ["80.0", "-9999", "-9999.0"]), "--offline"
    )
    assert err[0].endswith("each was -9999: if -9999 marks a value not measured, give --missing -9999")


def test_an_oximeters_255_for_an_invalid_sample_gets_the_hint(vigil, tmp_path) -> None:
    """O2 Insight Pro writes 255 where a sample was invalid (the probe off):
    every such reading was refused, with no word of `--missing 255`, which
    the hint gave only for negative marks (an outside reviewer)."""
    rows = ["97,62", "255,255", "255,255", "96,61"]
    code, err = vigil("replay", _csv(tmp_path, "o2.csv", "patient,ts,spo2,heart_rate", rows), "--offline")
    told = _outside(err)
    assert code == 0 and told and "column 'spo2': 2 values" in told[0] and "give --missing 255" in told[0]
    o2 = _csv(tmp_path, "o2.csv", "patient,ts,spo2,heart_rate", rows)
    code, err = vigil("replay", o2, "--offline", "--missing", "255")
    assert code == 0 and not _outside(err), err


def test_custom_channels_out_of_range_are_left_out_each_named(vigil, tmp_path) -> None:
    """Ten custom channels, each once too large: the protocol's message does
    not name a custom channel, the line does (the recording's own column)."""
    names = [f"c{i}" for i in range(10)]
    rows = [",".join("2e12" if j == i else "1" for j in range(10)) for i in range(10)]
    code, err = vigil(
        "replay", _csv(tmp_path, "many.csv", "patient,ts," + ",".join(names), rows), "--offline"
    )
    told = _outside(err)
    assert code == 0 and len(told) == 10 and "refused none" in err[-1]
    assert told[0] == (
        "vigil replay: many.csv: column 'c0': 1 value outside what the gateway takes (custom channel value "
        "is out of range; the first on line 2): left out, the rest of its reading goes through"
    )


def test_refusals_are_told_for_eight_codes_and_vitals_at_most() -> None:
    """What reaches the gateway's checks offline and is refused (a
    recording's numbers out of range no longer do: `_Cells`): ten custom
    channels, each once too large, as readings handed to `offline` as they
    are; the protocol's message does not name a custom channel, the line
    does."""
    from app.infra.settings import Settings
    from app.tools import replay

    names = [f"c{i}" for i in range(10)]
    rows = [
        replay.Row("P1", START + i * MINUTE, {n: 2e12 if j == i else 1 for j, n in enumerate(names)}, i + 2)
        for i in range(10)
    ]
    totals = replay.offline(rows, Settings.from_env({}), b"k" * 32, lambda event: None)
    told = totals.refusals.told()
    assert totals.refused == {"out_of_range": 10} and len(told) == 9
    assert told[0] == (
        "1 reading refused out_of_range for c0, the first on line 2: custom channel value is out of range"
    )
    assert told[-1] == "and 2 more codes and vitals (2 readings refused)"


def test_missing_values_are_compared_as_numbers_or_as_text(vigil, tmp_path) -> None:
    """`--missing -1` skips `-1.0` too; `--missing n.m.` skips `N.M.`; a
    `true` is no number, so `--missing 1` leaves on_oxygen alone."""
    rows = ["-1.0,97,true", "n.m.,96,false", "N.M.,-1,True", "1,95,true"]
    path = _csv(tmp_path, "chart.csv", "patient,ts,respiratory_rate,spo2,on_oxygen", rows)
    code, err = vigil("replay", path, "--offline", "--missing", "-1", "--missing", "n.m.", "--missing", "1")
    assert code == 0, err
    assert "ran 4 readings offline" in err[-1] and "refused none" in err[-1]
    from app.tools import replay

    read = replay.read_recording(Path(path), missing=replay.missing(["-1", "n.m.", "1"]))
    assert [r.vitals for r in read] == [
        {"spo2": 97, "on_oxygen": True},
        {"spo2": 96, "on_oxygen": False},
        {"on_oxygen": True},
        {"spo2": 95, "on_oxygen": True},
    ]
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text(f'{{"patient": "P1", "ts": {START}, "vitals": {{"spo2": -1, "heart_rate": 70}}}}\n')
    assert replay.read_recording(jsonl, missing=replay.missing(["-1"]))[0].vitals == {"heart_rate": 70}


def test_missing_is_in_the_help(capsys) -> None:
    with pytest.raises(SystemExit):
        main.main(["replay", "--help"])
    assert "--missing VALUE" in capsys.readouterr().out


def test_rows_of_one_patient_and_time_are_merged_with_one_line_saying_so(vigil, tmp_path) -> None:
    """A wearable's export had a heart rate of 76 and of 121 at one second:
    merged silently, 121 kept. Still merged; one line says how many rows
    and how many values differed."""
    path = tmp_path / "watch.csv"
    rows = [f"W-7,{START + i * MINUTE},{70 + i},120\n" for i in range(6)]
    rows.insert(3, f"W-7,{START + 2 * MINUTE},121,120\n")
    path.write_text("patient,ts,heart_rate,systolic_bp\n" + "".join(rows))
    code, err = vigil("replay", str(path), "--offline")
    assert code == 0, err
    assert err[0] == (
        "vigil replay: watch.csv: 1 row has the patient and time of an earlier row, merged into its reading "
        "(the first on line 5); 1 of their values differed: the later row's kept"
    )
    assert "ran 6 readings offline" in err[-1] and "W-7" not in "".join(err)


def test_a_merge_of_many_rows_asks_whether_the_times_are_dates_only(vigil, tmp_path) -> None:
    """Mapping only a date column to ts merged 202 rows into 102."""
    path = tmp_path / "daily.csv"
    days = [f"2025-11-{1 + i // 3:02d}T00:00:00Z" for i in range(9)]
    path.write_text(
        "patient,ts,heart_rate\n" + "".join(f"W-7,{day},{70 + i}\n" for i, day in enumerate(days))
    )
    code, err = vigil("replay", str(path), "--offline")
    assert code == 0, err
    assert err[0].endswith(
        "6 of their values differed: the later row's kept; that is 6 of 9 rows: if the ts column holds dates "
        "only, give one with the time of day too (--map NAME=ts)"
    )


def test_the_long_layout_tells_only_a_vital_given_twice_at_once(vigil, tmp_path) -> None:
    path = tmp_path / "chart.csv"
    text = "patient,ts,vital,value\n" + "".join(
        f"P-1,{START + i * MINUTE},{vital},{value}\n"
        for i in range(3)
        for vital, value in (("heart_rate", 70 + i), ("spo2", 97))
    )
    path.write_text(text)
    code, err = vigil("replay", str(path), "--offline")
    assert code == 0 and len(err) == 1, err  # the totals alone
    path.write_text(text + f"P-1,{START + 2 * MINUTE},heart_rate,99\n")
    code, err = vigil("replay", str(path), "--offline")
    assert err[0] == (
        "vigil replay: chart.csv: a vital was given again for a patient and time with another value, once "
        "(the first on line 8, heart_rate: 'heart_rate' 72, then 'heart_rate' 99): the later row's kept; "
        "if two of the recording's vitals were mapped to one, map one of them away (--map NAME=)"
    )


def test_a_no_signal_zero_given_again_keeps_the_measured_value(vigil, tmp_path) -> None:
    # An outside tester's PhysioNet 2012 stay (set-a 132642) charts two probes'
    # temperatures at one time, 37.1 and then 0: the later 0 ("no signal")
    # replaced the measured value. Here 34.8 (NEWS2 3) and 0 at one time, in
    # either order: the 34.8 opens NEWS2; a 0 given after it is told in a line.
    for first, then in (("34.8", "0"), ("0", "34.8")):
        path = tmp_path / "chart.csv"
        path.write_text(
            "patient,ts,vital,value\n"
            f"P-1,{START},temperature,37.0\nP-1,{START + 60 * MINUTE},temperature,37.1\n"
            f"P-1,{START + 120 * MINUTE},temperature,{first}\nP-1,{START + 120 * MINUTE},temperature,{then}\n"
            f"P-1,{START + 120 * MINUTE},heart_rate,80\n"
        )
        code, err = vigil("replay", str(path), "--offline")
        assert code == 0 and "alert events {'news2': 1}" in err[-1], err
        silenced = [line for line in err if "no signal" in line]
        assert silenced == (
            [
                'vigil replay: chart.csv: a vital was given again for a patient and time as "no signal" '
                "(0, a negative code, a pressure line open to air) where it had a measured value, once: "
                "the measured value kept"
            ]
            if then == "0"
            else []
        ), err


def test_a_custom_channels_negative_value_given_again_is_a_value(vigil, tmp_path) -> None:
    # A fourth reviewer: an ECG's ST deviation given 0.4 and then -1.1 at one
    # time kept the 0.4 and was told as "no signal". A custom channel's 0 or
    # negative number is a measurement (the core keeps it): the later row's kept.
    path = tmp_path / "st.csv"
    path.write_text(
        "patient,ts,vital,value\n"
        + "".join(f"P-1,{START + i * MINUTE},st_ii,0.{i % 5}\n" for i in range(40))
        + f"P-1,{START + 40 * MINUTE},st_ii,0.4\nP-1,{START + 40 * MINUTE},st_ii,-1.1\n"
    )
    code, err = vigil("replay", str(path), "--offline")
    assert code == 0, err
    assert [line for line in err if "no signal" in line] == [], err
    assert any("st_ii: 'st_ii' 0.4, then 'st_ii' -1.1): the later row's kept" in line for line in err), err


def test_two_vitals_mapped_to_one_are_named_with_their_values(vigil, tmp_path) -> None:
    # An outside tester's PhysioNet 2012 stay, two of its vitals both mapped
    # to one: the later row's value was kept, and the line said only "a
    # vital". (A cuff's and a line's pressures so mapped are one source's a
    # reading since 2026-12-07: test_replay_columns.py.)
    path = tmp_path / "stay.csv"
    path.write_text(
        "Time,Parameter,Value\n"
        f"{START},RespRate,18\n{START},HR,72\n{START},PulseRate,66\n"
        f"{START + MINUTE},RespRate,17\n{START + MINUTE},PulseRate,70\n"
    )
    code, err = vigil(
        "replay", str(path), "--offline", "--patient", "S-1",
        "--map", "Time=ts", "--map", "Parameter=vital", "--map", "Value=value",
        "--map", "RespRate=respiratory_rate", "--map", "HR=heart_rate", "--map", "PulseRate=heart_rate",
    )  # fmt: skip
    assert code == 0, err
    assert (
        "(the first on line 4, heart_rate: 'HR' 72, then 'PulseRate' 66): the later row's kept" in err[0]
    ), err


def test_columns_read_as_custom_channels_are_named_in_one_line(vigil, tmp_path) -> None:
    """A Welltory export's indices were learned and alerted on as custom
    channels without a word; now one line names them and gives the --map
    that leaves one out. A column of text (left out) and another system's
    name for a vital (its own line) are not in it."""
    header = "patient,ts,heart_rate,kerdo_vegetation_index,robinson_index,is_resting,hr,note"
    rows = [f"{70 + i},{i - 2},{90 + i},{i % 2},{70 + i},calm" for i in range(5)]
    code, err = vigil("replay", _csv(tmp_path, "welltory.csv", header, rows), "--offline")
    assert code == 0, err
    named = [line for line in err if "custom channel" in line]
    assert named[-1] == (
        "vigil replay: welltory.csv: columns 'kerdo_vegetation_index', 'robinson_index', 'is_resting' are "
        "not Vigil's vitals: read as custom channels (learned and alerted on, not scored by NEWS2); give "
        "--map 'kerdo_vegetation_index=' to leave one out"
    )
    assert len(named) == 2 and "'hr'" in named[0]  # its own line, with the --map to heart_rate
    maps = ["--map", "kerdo_vegetation_index=", "--map", "robinson_index=", "--map", "is_resting="]
    code, err = vigil("replay", _csv(tmp_path, "welltory.csv", header, rows), "--offline", *maps)
    assert [line for line in err if "custom channel" in line] == named[:1]
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text(f'{{"patient": "P1", "ts": {START}, "vitals": {{"steps": 4, "heart_rate": 70}}}}\n')
    code, err = vigil("replay", str(jsonl), "--offline")
    assert err[0] == (
        "vigil replay: a.jsonl: vital 'steps' is not one of Vigil's vitals: read as a custom channel "
        "(learned and alerted on, not scored by NEWS2); give --map 'steps=' to leave it out"
    )


@pytest.mark.parametrize(
    ("name", "text", "args", "expected"),
    [
        (
            "semicolon.csv",
            "patient;ts;heart_rate;temperature\nP-1;2025-11-29T10:00:00Z;66;35,1\n",
            [],
            "vigil replay: semicolon.csv: the header is separated by ';': the file looks "
            "semicolon-separated, and replay reads comma-separated CSV; save it with commas between cells "
            "(and 36.8, not 36,8)",
        ),
        (
            "tabs.csv",
            "patient\tts\tglucose\nP-1\t2025-11-29T10:00:00Z\t6.9\n",
            [],
            "vigil replay: tabs.csv: the header is separated by tabs: the file looks "
            "tab-separated, and replay reads comma-separated CSV; save it with commas between cells "
            "(and 36.8, not 36,8)",
        ),
        (
            "tabs.txt",
            "ts\tglucose\n2025-11-29T10:00:00Z\t6.9\n",
            ["--patient", "P-1"],
            "vigil replay: tabs.txt: the header is separated by tabs: the file looks "
            "tab-separated, and replay reads comma-separated CSV; save it with commas between cells "
            "(and 36.8, not 36,8)",
        ),
        (
            "semicolon.txt",
            "ts;glucose\n2025-11-29T10:00:00Z;6,9\n",
            ["--patient", "P-1"],
            "vigil replay: semicolon.txt: the header is separated by ';': the file looks "
            "semicolon-separated, and replay reads comma-separated CSV; save it with commas between cells "
            "(and 36.8, not 36,8)",
        ),
        (
            "titled.txt",
            "Jane Doe\nts\tglucose\n2025-11-29T10:00:00Z\t6.9\n",
            ["--patient", "P-1"],
            "vigil replay: titled.txt: line 1 has no ',' while the next line has separators: a title over "
            "the header? remove the lines before the header",
        ),
        (
            "titled.csv",
            "Jane Doe\nts,glucose\n2025-11-29T10:00:00Z,6.9\n",
            ["--patient", "P-1"],
            "vigil replay: titled.csv: line 1 has no ',' while the next line has separators: a title over "
            "the header? remove the lines before the header",
        ),
        (
            "dupcol.csv",
            "patient,ts,heart_rate,heart_rate\nP-1,2025-11-29T10:00:00Z,60,61\n",
            [],
            "vigil replay: dupcol.csv: column 'heart_rate' is in the header twice: rename or remove one",
        ),
        (
            "mapped.csv",
            "patient,ts,heart_rate,HR\nP-1,2025-11-29T10:00:00Z,60,61\n",
            ["--map", "HR=heart_rate"],
            "vigil replay: mapped.csv: columns 'HR' and 'heart_rate' are both read as 'heart_rate': "
            "leave one out, e.g. --map 'HR='",
        ),
        (
            "badday.csv",
            "patient,ts,heart_rate\nP-1,2020-01-01T07:05:00Z,61\nP-1,2020-02-30T07:05:00Z,61\n",
            [],
            "vigil replay: badday.csv: line 3: ts names a date or time that does not exist "
            "(day is out of range for month): correct it in the file",
        ),
        (
            "badday_format.csv",
            "patient,ts,heart_rate\nP-1,02/30/2020 07:05,61\n",
            ["--ts-format", "%m/%d/%Y %H:%M", "--tz", "UTC"],
            "vigil replay: badday_format.csv: line 2: ts names a date or time that does not exist "
            "(day is out of range for month): correct it in the file",
        ),
    ],
    ids=[
        "semicolon",
        "tabs",
        "tabs_any_ending",
        "semicolon_any_ending",
        "title_line",
        "title_line_csv",
        "column_twice",
        "mapped_twice",
        "no_such_day",
        "no_such_day_ts_format",
    ],
)
def test_a_file_replay_cannot_read_as_written_is_one_line_saying_why(
    vigil, tmp_path, name: str, text: str, args: list[str], expected: str
) -> None:
    """A semicolon-separated file was refused for having no patient and ts
    columns, and so was a tab-separated one (a glucose sensor's export: an
    outside tester), or "line 1: not JSON" when its name ended `.txt`, and
    one with a title line (the patient's name, never repeated) over its
    header; a
    column twice was read silently (the later cell kept); a 30 February was
    refused as not ISO 8601."""
    path = tmp_path / name
    path.write_text(text)
    assert vigil("replay", str(path), "--offline", *args) == (2, [expected])


def test_a_time_before_1970_is_refused_saying_so(vigil, tmp_path) -> None:
    """A recording of any age runs offline, but event times start at 1970:
    a weekly series from 1958 (an outside tester's) had its ISO times before
    1970 refused as "ts is not a plausible epoch time", which the file never
    wrote."""
    path = tmp_path / "co2.csv"
    path.write_text("patient,ts,heart_rate\nP,1969-12-31T23:00:00Z,70\nP,1970-01-01T01:00:00Z,71\n")
    code, err = vigil("replay", str(path), "--offline")
    assert code == 1
    assert [line for line in err if "refused bad_timestamp" in line] == [
        "vigil replay: 1 reading refused bad_timestamp for ts, the first on line 2: ts is before 1970: "
        "event times start at 1970"
    ]


def _hinted_maps(line: str) -> list[str]:
    """The `--map`s a refusal's line gives for what each column holds."""
    return [
        f"{name}={vital}"
        for name, vital in re.findall(r"--map '([^=']+)=(\w+)'[^;]*? if it holds that", line)
    ]


def test_a_scale_export_in_pounds_run_as_the_hint_says_is_weighed_in_kg(vigil, tmp_path) -> None:
    """An Apple Health export's `Weight (lb)`: replay's hint gave
    `--map 'Weight (lb)=weight'`, which read 179.2 lb as 179.2 kg, and the
    heart-failure rule (2 kg in 3 days) opened on a gain of 2.8 lb (1.3 kg).
    Run as the hint says, the pounds are converted to kg, with a line saying
    so, and that gain opens no weight-gain trend."""
    weights = ["176.0", "176.4", "175.8", "176.2", "176.0", "176.4", "176.0", "178.2", "179.2", "179.4"]
    path = tmp_path / "health.csv"
    path.write_text(
        "ts,Weight (lb)\n" + "".join(f"2024-01-{i + 1:02d}T07:00:00Z,{w}\n" for i, w in enumerate(weights))
    )
    code, err = vigil("replay", str(path), "--offline", "--patient", "p1")
    assert code == 2 and _hinted_maps(err[-1]) == ["Weight (lb)=weight"]
    assert "--map 'Weight (lb)=weight' (read as lb, converted to kg) if it holds that" in err[-1]
    code, err = vigil("replay", str(path), "--offline", "--patient", "p1", "--map", "Weight (lb)=weight")
    assert code == 0, err
    assert err[0] == (
        "vigil replay: health.csv: 'Weight (lb)' is in lb, as its name says: its 10 values converted to kg "
        "for weight (1 lb = 0.45359237 kg, to 0.01 kg)"
    )
    assert not any("2 kg or more" in line for line in err), err


def test_a_cuffs_pulse_run_as_the_hint_says_is_the_heart_rate_news2_scores(
    vigil, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Omron Connect's export (`Date,Time,Systolic (mmHg),Diastolic
    (mmHg),Pulse (bpm)`): the hint steered the pulse to `pulse_rate`, a
    custom channel, so a pulse of 142 scored nothing in NEWS2. Run with the
    maps the hint gives, it is the heart rate, and NEWS2 scores it."""
    pulses = [63, 64, 66, 65, 62, 64, 63, 65, 64, 66, 142]
    path = tmp_path / "omron.csv"
    path.write_text(
        "Date,Time,Systolic (mmHg),Diastolic (mmHg),Pulse (bpm)\n"
        + "".join(
            f"May {i // 2 + 1:02d} 2024,{7 + 12 * (i % 2):02d}:00,128,80,{p}\n" for i, p in enumerate(pulses)
        )
    )
    args = ["replay", str(path), "--offline", "--patient", "p5", "--map", "Date=ts", "--map", "Time=ts"]
    args += ["--ts-format", "%b %d %Y %H:%M", "--tz", "UTC"]
    code, err = vigil(*args)
    maps = _hinted_maps(err[-1])
    assert code == 2 and "Pulse (bpm)=heart_rate" in maps and "Pulse (bpm)=pulse_rate" not in maps
    capsys.readouterr()
    assert main.main([*args, *[arg for m in maps for arg in ("--map", m)], "--json"]) == 0
    events = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["kind"], e["evidence"]["subscores"]) for e in events] == [
        ("news2", {"systolic_bp": 0, "heart_rate": 3})
    ]


def _chart(tmp_path: Path) -> Path:
    """A MIMIC `chartevents` export as an outside tester replayed it: item ids
    for vitals, two patients, and charted items no channel can be named (a
    rhythm, an oxygen device, an alarm setting), each first on its own line."""
    path = tmp_path / "chartevents.csv"
    items = [
        ("220045", "88"),
        ("220210", "18"),
        ("220048", "AF (Atrial Fibrillation)"),
        ("226732", "Nasal cannula"),
        ("220277", "95"),
        ("220046", "120"),
        ("220048", "SR (Sinus Rhythm)"),
        ("HR Alarm - High", "120"),
    ]
    rows = [
        f"{subject},{START + i * MINUTE},{item},{value},unit\n"
        for subject in ("10000032", "10000980")
        for i, (item, value) in enumerate(items)
    ]
    path.write_text("SUBJECT_ID,CHARTTIME,ITEMID,VALUE,VALUEUOM\n" + "".join(rows))
    return path


CHART_MAPS = [
    *("--map", "SUBJECT_ID=patient", "--map", "CHARTTIME=ts", "--map", "ITEMID=vital"),
    *("--map", "VALUE=value", "--map", "VALUEUOM=", "--map", "220045=heart_rate"),
    *("--map", "220210=respiratory_rate", "--map", "220277=spo2"),
]


def test_every_vital_no_channel_can_be_named_in_the_long_layout_is_named_in_one_line(vigil, tmp_path) -> None:
    """A MIMIC chart export names well over a hundred item ids: the refusal
    named the first alone (`line 4: vital '220048' ...`), and the next run
    the next one, a run each. It now names every one in one line, in the
    order the file first names them, with the `--map` that leaves each out
    (and the one that reads a vital it may mean), and the option that leaves
    out all; run with those maps, the recording runs."""
    path = _chart(tmp_path)
    code, err = vigil("replay", str(path), "--offline", *CHART_MAPS)
    assert code == 2 and err == [
        "vigil replay: chartevents.csv: 4 vitals '220048', '226732', '220046', 'HR Alarm - High' are not "
        "channel names (lower-case letters, digits and _, starting with a letter; docs/protocol.md; the "
        "first on line 4): give --map '220048=' to leave it out; --map '226732=' to leave it out; "
        "--map '220046=' to leave it out; --map 'HR Alarm - High=' to leave it out; or give "
        "--leave-out-unnamed to leave out every vital no channel can be named"
    ]
    maps = [arg for m in re.findall(r"--map '([^']+=)'", err[0]) for arg in ("--map", m)]
    code, err = vigil("replay", str(path), "--offline", *CHART_MAPS, *maps)
    assert code == 0 and err == [
        "vigil replay: ran 6 readings offline (patients: 2); alert events none; refused none"
    ]
    code, err = vigil("replay", str(path), "--offline", *CHART_MAPS, *maps[:-2])
    assert code == 2 and err == [
        "vigil replay: chartevents.csv: line 9: vital 'HR Alarm - High' is not a channel name "
        "(lower-case letters, digits and _, starting with a letter; docs/protocol.md): "
        "give --map 'HR Alarm - High=' to leave it out"
    ]


def test_leave_out_unnamed_leaves_every_such_vital_out_with_one_line_counting_them(vigil, tmp_path) -> None:
    """`--leave-out-unnamed`: one run, whatever the ids, and one line saying
    how many values of how many vitals it left out (never a patient id);
    the readings are those the maps for each give."""
    path = _chart(tmp_path)
    code, err = vigil("replay", str(path), "--offline", *CHART_MAPS, "--leave-out-unnamed")
    assert code == 0 and err == [
        "vigil replay: chartevents.csv: --leave-out-unnamed left out 10 values of 4 vitals no channel can "
        "be named ('220048', '226732', '220046', 'HR Alarm - High')",
        "vigil replay: ran 6 readings offline (patients: 2); alert events none; refused none",
    ]
    assert not any("10000032" in line or "10000980" in line for line in err)
    names = "".join(f"P,{START + i * MINUTE},item_{i}x,{i}\n" for i in range(12))
    many = tmp_path / "many.csv"
    many.write_text("patient,ts,vital,value\nP,0,heart_rate,70\n" + names.replace("item_", "Item "))
    code, err = vigil("replay", str(many), "--offline", "--leave-out-unnamed", "--map", "Item 3x=")
    assert code == 0 and err[0] == (
        "vigil replay: many.csv: --leave-out-unnamed left out 11 values of 11 vitals no channel can be "
        "named ('Item 0x', 'Item 1x', 'Item 2x', 'Item 4x', 'Item 5x', 'Item 6x', 'Item 7x', 'Item 8x' "
        "and 3 more)"
    )


def test_json_lines_vitals_no_channel_can_be_named_are_named_in_one_line(vigil, tmp_path) -> None:
    """JSON lines' vitals were refused one a run too, the first line's first."""
    path = tmp_path / "chart.jsonl"
    lines = [
        {"patient": "MRN-7", "ts": START, "vitals": {"heart_rate": 70, "Rhythm": "SR"}},
        {"patient": "MRN-7", "ts": START + MINUTE, "vitals": {"heart_rate": 71, "HR": 71}},
        {"patient": "MRN-7", "ts": START + 2 * MINUTE, "vitals": {"O2 Device": None, "Rhythm": "AF"}},
    ]
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    code, err = vigil("replay", str(path), "--offline")
    assert code == 2 and err == [
        "vigil replay: chart.jsonl: 3 vitals 'Rhythm', 'HR', 'O2 Device' are not channel names (lower-case "
        "letters, digits and _, starting with a letter; docs/protocol.md; the first on line 1): give "
        "--map 'Rhythm=' to leave it out; --map 'HR=heart_rate' if it holds that, or --map 'HR=' to leave "
        "it out; --map 'O2 Device=on_oxygen' (a device named read as on oxygen, None or Room air as room "
        "air) if it holds that, or --map 'O2 Device=' to leave it out; or give --leave-out-unnamed to leave "
        "out every vital no channel can be named"
    ]
    code, err = vigil("replay", str(path), "--offline", "--leave-out-unnamed")
    assert code == 0 and err == [
        "vigil replay: chart.jsonl: --leave-out-unnamed left out 3 values of 3 vitals no channel can be "
        "named ('Rhythm', 'HR', 'O2 Device'); give --map 'HR=heart_rate'; --map 'O2 Device=on_oxygen' (a "
        "device named read as on oxygen, None or Room air as room air) for what one of Vigil's vitals holds",
        "vigil replay: ran 2 readings offline (patients: 1); alert events none; refused none",
    ]


def test_a_gcs_refused_is_given_its_map_to_the_level_of_consciousness(vigil, tmp_path) -> None:
    """An outside tester's PhysioNet 2012 file: the refusal gave `HR`, `FiO2`
    and `NISysABP` each their `--map` to a vital, and `GCS` only `--map
    'GCS=' to leave it out`; followed, a stay's GCS of 6 throughout (NEWS2 3
    for it alone) was left out, and its alert open for 26 hours with it."""
    path = tmp_path / "133017.txt"
    path.write_text("Time,Parameter,Value\n00:57,GCS,6\n00:57,HR,88\n01:57,GCS,6\n01:57,HR,90\n")
    given = ["--map", "Time=ts", "--map", "Parameter=vital", "--map", "Value=value", "--patient", "G1"]
    given += ["--since", "2026-01-01T00:00:00Z"]
    code, err = vigil("replay", str(path), "--offline", *given)
    assert code == 2 and "--map 'GCS=consciousness' if it holds that" in err[0]
    code, err = vigil(
        "replay", str(path), "--offline", *given, "--map", "GCS=consciousness", "--map", "HR=heart_rate"
    )
    assert code == 0 and "alert events {'news2': 1}" in err[-1]


def test_a_ventilated_patients_gcs_3_throughout_is_refused_then_replays_as_u_with_gcs(
    vigil, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real PhysioNet 2012 stay of a ventilated, sedated patient, GCS 3
    in every row (an outside tester): refused, exit 2, as numbers "not all
    a GCS score", which they are. The line now says why (no number over 4:
    AVPU coded 1-4 may be meant) and what to give; with `--gcs` the stay
    replays, 3 read as U, NEWS2's consciousness scoring 3."""
    path = _csv(
        tmp_path,
        "stay.csv",
        "patient,ts,heart_rate,systolic_bp,consciousness,on_oxygen",
        ["76,104,3,true", "80,112,3,true", "82,108,3,true"],
    )
    code, err = vigil("replay", path, "--offline")
    assert code == 2
    assert err == [
        "vigil replay: stay.csv: column 'consciousness' has no number over 4, so it may be AVPU coded 1-4 as "
        "well as a GCS score and is not guessed: give --gcs if it is a GCS (3 is U), or write the levels as "
        "ACVPU letters (A, C, V, P, U)"
    ]
    capsys.readouterr()
    code = main.main(["replay", path, "--offline", "--gcs", "--json"])
    out, text = capsys.readouterr()
    err = text.splitlines()
    assert code == 0, err
    events = [orjson.loads(line) for line in out.splitlines()]
    assert [(e["kind"], e["evidence"]["vitals"]["consciousness"]) for e in events] == [("news2", "U")]
    assert events[0]["evidence"]["subscores"]["consciousness"] == 3
    assert err == [
        "vigil replay: stay.csv: 3 consciousness values given as a GCS score, read as NEWS2's ACVPU "
        "(15 A, 13-14 C, 9-12 V, 4-8 P, 3 U)",
        "vigil replay: ran 3 readings offline (patients: 1); alert events {'news2': 1}; refused none",
    ]
    assert "MRN-0042" not in " ".join(err)


def test_replays_help_shows_gcs(vigil, capsys: pytest.CaptureFixture[str]) -> None:
    """`--gcs` is in `vigil replay --help`, with what it does."""
    with pytest.raises(SystemExit):
        main.main(["replay", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--gcs" in text and "Glasgow Coma Scale" in text and "AVPU coded 1-4" in text
