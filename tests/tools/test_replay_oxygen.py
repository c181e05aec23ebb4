"""Supplemental oxygen as intensive-care charts record it: the fraction of
inspired oxygen (PhysioNet 2012's `FiO2`, 0.21-1, or a percentage, 21-100)
and mechanical ventilation (`MechVent`, 1), read as `on_oxygen` with `--map
FiO2=on_oxygen`. They were refused as not true or false, and the hints
offered only to leave them out: an outside tester's intubation round (FiO2
1.0, GCS 8) scored NEWS2 3 where, with NEWS2's 2 points for oxygen, it is
5 (stay 132551, long layout)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.infra.settings import Settings
from app.tools import replay
from app.tools.replay import RecordingError

LONG_MAPS = ["HR=heart_rate", "SysABP=systolic_bp", "GCS=consciousness"]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _long(tmp_path: Path, rows: str) -> Path:
    return _write(tmp_path, "stay.csv", "patient,ts,vital,value\n" + rows)


def _read(path: Path, maps: list[str], told: list[str] | None = None) -> list[replay.Row]:
    layout = replay.layout(maps, None, gcs=True)
    return replay.read_recording(path, warn=None if told is None else told.append, layout=layout)


def test_fio2_and_mechvent_in_the_long_layout_are_read_as_on_oxygen(tmp_path: Path) -> None:
    path = _long(
        tmp_path,
        "P1,2026-01-01T18:10:00Z,FiO2,1\n"
        "P1,2026-01-01T18:10:00Z,MechVent,1\n"
        "P1,2026-01-01T18:10:00Z,HR,63\n"
        "P1,2026-01-01T19:10:00Z,FiO2,0.21\n"
        "P1,2026-01-01T19:10:00Z,HR,64\n",
    )
    with pytest.raises(RecordingError, match="'FiO2', 'MechVent' are not channel names"):
        _read(path, LONG_MAPS)
    told: list[str] = []
    rows = _read(path, [*LONG_MAPS, "FiO2=on_oxygen", "MechVent=on_oxygen"], told)
    assert [r.vitals for r in rows] == [
        {"heart_rate": 63, "on_oxygen": True},
        {"heart_rate": 64, "on_oxygen": False},
    ]
    assert told == [
        "stay.csv: vital 'FiO2' (read as on_oxygen): 2 values read as an FiO2: "
        "1 over 0.21 (21 %), on oxygen; 1 at 0.21 (21 %), room air",
        "stay.csv: vital 'MechVent' (read as on_oxygen): 1 value read as mechanical ventilation: "
        "1 at 1, on oxygen",
    ]


@pytest.mark.parametrize(
    ("fio2", "oxygen"),
    [
        ("0.21", False),
        ("0.22", True),
        ("1", True),
        ("1.0", True),
        ("21", False),
        ("21.5", True),
        ("100", True),
    ],
)
def test_an_fio2_as_a_fraction_or_a_percentage_over_room_air_is_oxygen(
    tmp_path: Path, fio2: str, oxygen: bool
) -> None:
    path = _write(tmp_path, "chart.csv", f"patient,ts,heart_rate,FiO2\nP1,1764374400000,80,{fio2}\n")
    assert _read(path, ["FiO2=on_oxygen"])[0].vitals == {"heart_rate": 80, "on_oxygen": oxygen}


def test_a_number_that_is_no_fio2_is_left_out_naming_the_file_and_its_lines(tmp_path: Path) -> None:
    """An FiO2 of 0.1, 5, 0 or 150 is neither a fraction nor a percentage:
    left out, each line named, and the rest of its reading goes through; a
    reading left with no value is not sent, as elsewhere."""
    rows = [
        "P1,1764374400000,80,0.1",
        "P1,1764378000000,81,5",
        "P1,1764381600000,82,150",
        "P1,1764385200000,,0",
    ]
    path = _write(tmp_path, "chart.csv", "patient,ts,heart_rate,FiO2 (%)\n" + "\n".join(rows) + "\n")
    told: list[str] = []
    readings = _read(path, ["FiO2 (%)=on_oxygen"], told)
    assert [r.vitals for r in readings] == [{"heart_rate": 80}, {"heart_rate": 81}, {"heart_rate": 82}]
    assert (
        "chart.csv: column 'FiO2 (%)' (read as on_oxygen): 4 values are no FiO2 (a fraction from 0.21 to 1, "
        "or a percentage from 21 to 100; lines 2, 3, 4, 5): left out, the rest of their readings goes through"
    ) in told
    assert any("1 reading had no value left" in line and "line 5" in line for line in told)


def test_the_lines_of_values_that_are_no_fio2_are_named_up_to_five(tmp_path: Path) -> None:
    rows = "".join(f"P1,{1764374400000 + i * 60_000},80,7\n" for i in range(7))
    told: list[str] = []
    _read(_write(tmp_path, "chart.csv", "patient,ts,heart_rate,FiO2\n" + rows), ["FiO2=on_oxygen"], told)
    assert any("7 values are no FiO2" in line and "lines 2, 3, 4, 5, 6 and 2 more)" in line for line in told)


def test_mechanical_ventilation_1_is_oxygen_0_says_nothing_else_is_left_out(tmp_path: Path) -> None:
    rows = "P1,1764374400000,80,1\nP1,1764378000000,81,0\nP1,1764381600000,82,2\n"
    told: list[str] = []
    readings = _read(
        _write(tmp_path, "chart.csv", "patient,ts,heart_rate,MechVent\n" + rows), ["MechVent=on_oxygen"], told
    )
    assert [r.vitals for r in readings] == [
        {"heart_rate": 80, "on_oxygen": True},
        {"heart_rate": 81},
        {"heart_rate": 82},
    ]
    assert any(
        "'MechVent' (read as on_oxygen): 1 value is no mechanical ventilation" in line and "line 4" in line
        for line in told
    )


def test_fio2_on_oxygen_and_mechvent_at_one_moment_say_oxygen_when_any_does(tmp_path: Path) -> None:
    """An `on_oxygen` of false beside an FiO2 of 0.4 (a wide chart with
    both), or an FiO2 of 0.21 beside a ventilation: one `on_oxygen`, true,
    and a line naming them and the first such reading's line; where they
    agree, nothing is said of them."""
    header = "patient,ts,heart_rate,on_oxygen,FiO2,MechVent\n"
    rows = (
        "P1,1764374400000,80,false,0.21,\n"
        "P1,1764378000000,80,false,0.4,\n"
        "P1,1764381600000,80,,0.21,1\n"
        "P1,1764385200000,80,true,,\n"
    )
    told: list[str] = []
    readings = _read(
        _write(tmp_path, "chart.csv", header + rows), ["FiO2=on_oxygen", "MechVent=on_oxygen"], told
    )
    assert [r.vitals["on_oxygen"] for r in readings] == [False, True, True, True]
    assert told[-1] == (
        "chart.csv: 2 readings were said both on oxygen and on room air by 'FiO2', 'on_oxygen' and "
        "'MechVent' (the first on line 3): read as on oxygen, as one of them said"
    )


def test_fio2_in_json_lines_is_read_as_on_oxygen(tmp_path: Path) -> None:
    line = '{"patient": "P1", "ts": 1764374400000, "vitals": {"heart_rate": 80, "FiO2": 40}}\n'
    rows = replay.read_recording(
        _write(tmp_path, "a.jsonl", line), layout=replay.layout(["FiO2=on_oxygen"], None)
    )
    assert rows[0].vitals == {"heart_rate": 80, "on_oxygen": True}


def test_the_hints_offer_fio2_and_mechvent_as_on_oxygen(tmp_path: Path) -> None:
    path = _long(
        tmp_path,
        "P1,2026-01-01T18:10:00Z,FiO2,1\nP1,2026-01-01T18:10:00Z,MechVent,1\nP1,2026-01-01T18:10:00Z,HR,63\n",
    )
    with pytest.raises(RecordingError) as refused:
        _read(path, LONG_MAPS)
    assert (
        "--map 'FiO2=on_oxygen' (an FiO2 over 0.21 or 21 % read as on oxygen, 0.21 or 21 % as room air)"
        in str(refused.value)
    )
    assert "--map 'MechVent=on_oxygen' (1 read as on oxygen, 0 as saying nothing of it)" in str(refused.value)
    told: list[str] = []
    replay.read_recording(
        path, warn=told.append, layout=replay.layout(LONG_MAPS, None, leave_out_unnamed=True)
    )
    assert "give --map 'FiO2=on_oxygen' (" in told[0] and "--map 'MechVent=on_oxygen' (" in told[0]
    custom = _write(tmp_path, "c.csv", "patient,ts,heart_rate,fio2\nP1,1764374400000,80,0.4\n")
    told = []
    assert replay.read_recording(custom, warn=told.append)[0].vitals == {"heart_rate": 80, "fio2": 0.4}
    assert any(
        "'fio2' is read as a custom channel" in line and "--map 'fio2=on_oxygen'" in line for line in told
    )


@pytest.mark.parametrize(("header", "maps"), [("on_oxygen", []), ("O2", ["O2=on_oxygen"])])
def test_numbers_in_another_oxygen_column_are_still_refused(
    tmp_path: Path, header: str, maps: list[str]
) -> None:
    """Only a name that says FiO2 or ventilation has its numbers read: a
    `1`/`0` in `on_oxygen` (or an `O2` read as it) may be a flag coded
    either way, and is refused as before."""
    path = _write(tmp_path, "chart.csv", f"patient,ts,heart_rate,{header}\nP1,1764374400000,80,1\n")
    with pytest.raises(RecordingError, match="holds no value it takes \\(on_oxygen must be true or false"):
        replay.read_recording(path, layout=replay.layout(maps, None))


def _events(rows: list[replay.Row]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    replay.offline(rows, Settings.from_env({}), b"k" * 32, events.append)
    return events


def test_the_intubation_round_scores_oxygen_held_from_the_fio2_charted_before(tmp_path: Path) -> None:
    """Stay 132551's rounds: the FiO2 of 1.0 charted at intubation (18:10),
    the GCS of 8 (P) charted at 18:40 with no FiO2 beside it. The oxygen
    said at 18:10 holds (a status, until a reading says otherwise): NEWS2 5,
    medium, where without it the round was 3, low."""
    text = (
        "P1,2026-01-01T17:40:00Z,HR,70\nP1,2026-01-01T17:40:00Z,SysABP,130\nP1,2026-01-01T17:40:00Z,GCS,15\n"
        "P1,2026-01-01T18:10:00Z,FiO2,1\nP1,2026-01-01T18:10:00Z,MechVent,1\n"
        "P1,2026-01-01T18:10:00Z,HR,63\nP1,2026-01-01T18:10:00Z,SysABP,130\n"
        "P1,2026-01-01T18:40:00Z,HR,65\nP1,2026-01-01T18:40:00Z,SysABP,143\nP1,2026-01-01T18:40:00Z,GCS,8\n"
    )
    path = _long(tmp_path, text)
    before = _events(_read(path, [*LONG_MAPS, "FiO2=", "MechVent="]))
    after = _events(_read(path, [*LONG_MAPS, "FiO2=on_oxygen", "MechVent=on_oxygen"]))
    assert [(e["event_time"][11:16], e["severity"], e["evidence"]["score"]) for e in before] == [
        ("18:40", "low", 3)
    ]
    assert [(e["event_time"][11:16], e["severity"], e["evidence"]["score"]) for e in after] == [
        ("18:40", "medium", 5)
    ]
    assert after[0]["evidence"]["subscores"]["on_oxygen"] == 2


def test_an_oxygen_delivery_device_and_flow_as_mimic_iv_charts_them_are_read_as_on_oxygen(
    tmp_path: Path,
) -> None:
    """MIMIC-IV charts the oxygen as `O2 Delivery Device(s)` (text: `Nasal
    cannula`, `Non-rebreather`; `None` for room air) and `O2 Flow` (L/min).
    They could not be read as `on_oxygen`: a patient on a non-rebreather
    scored NEWS2 2 fewer. A device named is oxygen, `None` and `Room air`
    are room air (`None` is no missing value there), a flow over 0 is
    oxygen; a number as a device, or a flow of 200, is left out, told."""
    path = _long(
        tmp_path,
        "P1,2026-01-01T08:00:00Z,O2 Delivery Device(s),Nasal cannula\n"
        "P1,2026-01-01T08:00:00Z,O2 Flow,4\n"
        "P1,2026-01-01T08:00:00Z,HR,88\n"
        "P1,2026-01-01T09:00:00Z,O2 Delivery Device(s),None\n"
        "P1,2026-01-01T09:00:00Z,HR,84\n"
        "P1,2026-01-01T10:00:00Z,O2 Delivery Device(s),Room Air\n"
        "P1,2026-01-01T10:00:00Z,O2 Flow,0\n"
        "P1,2026-01-01T11:00:00Z,O2 Delivery Device(s),Non-rebreather\n"
        "P1,2026-01-01T12:00:00Z,O2 Delivery Device(s),2\n"
        "P1,2026-01-01T12:00:00Z,O2 Flow,200\n"
        "P1,2026-01-01T12:00:00Z,HR,90\n",
    )
    maps = [*LONG_MAPS, "O2 Delivery Device(s)=on_oxygen", "O2 Flow=on_oxygen"]
    told: list[str] = []
    rows = _read(path, maps, told)
    assert [r.vitals for r in rows] == [
        {"heart_rate": 88, "on_oxygen": True},
        {"heart_rate": 84, "on_oxygen": False},
        {"on_oxygen": False},
        {"on_oxygen": True},
        {"heart_rate": 90},
    ]
    assert told[:2] == [
        "stay.csv: vital 'O2 Delivery Device(s)' (read as on_oxygen): 4 values read as the oxygen's "
        "delivery device: 2 a device, on oxygen; 2 none (room air)",
        "stay.csv: vital 'O2 Delivery Device(s)' (read as on_oxygen): 1 value is no device (a device's "
        "name, or None or Room air for none; line 10): left out, the rest of its reading goes through",
    ]
    assert any("'O2 Flow'" in line and "1 over 0 L/min, on oxygen; 1 at 0, room air" in line for line in told)
    assert any("'O2 Flow'" in line and "no oxygen flow (0 to 80 L/min; line 11)" in line for line in told)


def test_a_device_column_in_the_wide_layout_reads_none_as_room_air(tmp_path: Path) -> None:
    text = "patient,ts,heart_rate,O2 Device\nP1,1764374400000,80,Venti mask\nP1,1764378000000,82,none\n"
    rows = replay.read_recording(
        _write(tmp_path, "w.csv", text), layout=replay.layout(["O2 Device=on_oxygen"], None)
    )
    assert [r.vitals for r in rows] == [
        {"heart_rate": 80, "on_oxygen": True},
        {"heart_rate": 82, "on_oxygen": False},
    ]


def test_a_round_on_a_non_rebreather_scores_its_oxygen(tmp_path: Path) -> None:
    """A round charted with a pulse of 95 and a systolic of 98 (NEWS2 3)
    on a non-rebreather: medium (5) with the device read, nothing without
    (3, no part red)."""
    text = (
        "P1,2026-01-01T08:00:00Z,HR,72\nP1,2026-01-01T08:00:00Z,SysABP,128\n"
        "P1,2026-01-01T09:00:00Z,O2 Delivery Device(s),Non-rebreather\n"
        "P1,2026-01-01T09:00:00Z,HR,95\nP1,2026-01-01T09:00:00Z,SysABP,98\n"
        "P1,2026-01-01T10:00:00Z,O2 Delivery Device(s),None\n"
        "P1,2026-01-01T10:00:00Z,HR,95\nP1,2026-01-01T10:00:00Z,SysABP,98\n"
    )
    path = _long(tmp_path, text)
    before = _events(_read(path, [*LONG_MAPS, "O2 Delivery Device(s)="]))
    after = _events(_read(path, [*LONG_MAPS, "O2 Delivery Device(s)=on_oxygen"]))
    told = [(e["event_time"][11:16], e["status"], e["severity"], e["evidence"]["score"]) for e in after]
    assert told[0] == ("09:00", "open", "medium", 5)
    assert before == []


def test_a_device_cell_that_names_no_device_is_never_read_as_oxygen(tmp_path: Path) -> None:
    """An outside reviewer's: JSON lines' `""`, `" "`, `"N/A"`, `"-"` as a
    device were read as a device named, on oxygen (a CSV's empty cells are
    skipped); `Y`, `N`, `Other`, `Unknown` likewise; `Room air (none)` as
    oxygen. A value not measured is skipped, a flag or a word for not
    knowing is left out with its line, and a word for none is room air."""
    lines = ["", " ", "N/A", "-", "Room air (none)", "Y", "N", "Other", "Unknown", "Face tent"]
    text = "".join(
        f'{{"patient": "P1", "ts": {1764374400000 + i * 3_600_000}, '
        f'"vitals": {{"heart_rate": 80, "O2 Delivery Device(s)": "{device}"}}}}\n'
        for i, device in enumerate(lines)
    )
    told: list[str] = []
    rows = _read(_write(tmp_path, "chart.jsonl", text), ["O2 Delivery Device(s)=on_oxygen"], told)
    assert [r.vitals.get("on_oxygen") for r in rows] == [None] * 4 + [False] + [None] * 4 + [True]
    assert any("4 values are no device" in line and "lines 6, 7, 8, 9" in line for line in told), told


def test_a_yes_or_no_column_of_oxygen_therapy_is_not_read_as_a_device(tmp_path: Path) -> None:
    """`Oxygen therapy (Y/N)` read as a device column in a first version had
    every `N` read as oxygen; it is refused as before, as any `Y`/`N` under
    `on_oxygen` is."""
    text = "patient,ts,HR,Oxygen therapy (Y/N)\nP1,1764374400000,80,N\nP1,1764378000000,82,Y\n"
    with pytest.raises(RecordingError, match="on_oxygen must be true or false"):
        _read(_write(tmp_path, "yn.csv", text), ["HR=heart_rate", "Oxygen therapy (Y/N)=on_oxygen"])


def test_a_mimic_item_id_named_as_a_device_column_is_read_as_one(tmp_path: Path) -> None:
    """MIMIC-IV's chart names its device by item id (226732): `--map
    226732=on_oxygen` cannot say how its text is read, and renaming it
    `--map '226732=O2 Delivery Device(s)'` beside that name's own map was
    refused asking for the map already given (a second reviewer). The name
    an item id is mapped to is read as that name's map says."""
    path = _long(
        tmp_path,
        "P1,2026-01-01T10:00:00Z,220045,88\nP1,2026-01-01T10:00:00Z,226732,Nasal cannula\n"
        "P1,2026-01-01T11:00:00Z,220045,90\nP1,2026-01-01T11:00:00Z,226732,None\n",
    )
    maps = ["220045=heart_rate", "226732=O2 Delivery Device(s)", "O2 Delivery Device(s)=on_oxygen"]
    told: list[str] = []
    rows = _read(path, maps, told)
    assert [r.vitals for r in rows] == [
        {"heart_rate": 88, "on_oxygen": True},
        {"heart_rate": 90, "on_oxygen": False},
    ]
    assert told[0].startswith("stay.csv: vital 'O2 Delivery Device(s)' (read as on_oxygen): 2 values")
