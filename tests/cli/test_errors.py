"""The `vigil` command's expected failures, run as a user runs them: one line
saying what failed and what to do, a documented exit code, no traceback
(unless VIGIL_LOG_LEVEL=debug). None of these needs a running Kafka."""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

KEY = "ab" * 32


@pytest.fixture
def env(tmp_path: Path, nobody_listens) -> dict[str, str]:
    """Nothing listens where Kafka is said to be (a port held, not listening, for
    the test); a gateway or worker would bind ports the system chooses."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    return dict(
        base,
        VIGIL_HOME=str(tmp_path / "home"),
        VIGIL_KAFKA_BOOTSTRAP=f"127.0.0.1:{nobody_listens()}",
        VIGIL_GATEWAY_PORT="0",
        VIGIL_GATEWAY_HTTP_PORT="0",
        VIGIL_WORKER_WEB_PORT="0",
    )


def vigil(
    env: dict[str, str], *args: str, preexec_fn=None, stdout=subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    """`vigil ARGS`, its stderr (and, unless `stdout` is given, its stdout) captured."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        cwd=ROOT,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        preexec_fn=preexec_fn,
    )


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr and "Unclosed" not in done.stderr
    return lines[0]


# -- settings (item 3) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "command"),
    [
        ("VIGIL_CONFIRM_S", "abc", ["devices", "list"]),
        ("VIGIL_ACK_TIMEOUT_S", "10s", ["devices", "list"]),
        ("VIGIL_GATEWAY_PORT", "99999", ["gateway"]),
        ("VIGIL_LOG_LEVEL", "verbose", ["worker"]),
        ("VIGIL_LOG_FORMAT", "xml", ["gateway"]),
    ],
)
def test_a_bad_setting_is_named_with_what_it_accepts(
    env, variable: str, value: str, command: list[str]
) -> None:
    done = vigil({**env, variable: value}, *command)
    assert done.returncode == 2
    line = one_line(done)  # an SRE found it two lines, the hint apart
    assert variable in line and repr(value) in line and "must be" in line
    assert "vigil config" in line


def test_every_bad_setting_is_reported_at_once(env) -> None:
    done = vigil(
        {**env, "VIGIL_CONFIRM_S": "abc", "VIGIL_PARTITIONS": "0", "VIGIL_UVLOOP": "maybe"}, "devices", "list"
    )
    assert done.returncode == 2
    assert [v for v in ("VIGIL_CONFIRM_S", "VIGIL_PARTITIONS", "VIGIL_UVLOOP") if v not in done.stderr] == []


def test_config_shows_values_sources_and_masks_secrets(env) -> None:
    done = vigil({**env, "VIGIL_PSEUDONYM_KEY": KEY, "VIGIL_CONFIRM_S": "20"}, "config")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()}
    assert "20" in rows["VIGIL_CONFIRM_S"] and "[environment]" in rows["VIGIL_CONFIRM_S"]
    assert "600" in rows["VIGIL_RESOLVE_AFTER_S"] and "[default]" in rows["VIGIL_RESOLVE_AFTER_S"]
    assert KEY not in done.stdout and "********" in rows["VIGIL_PSEUDONYM_KEY"]


def test_config_masks_a_secret_that_is_not_valid(env) -> None:
    typo = KEY[:-2] + "zz"
    done = vigil({**env, "VIGIL_PSEUDONYM_KEY": typo}, "config")
    assert done.returncode == 2
    (row,) = [line for line in done.stdout.splitlines() if line.startswith("VIGIL_PSEUDONYM_KEY ")]
    assert "********" in row and "invalid: must be hexadecimal" in row
    assert typo[:16] not in done.stdout + done.stderr
    # ... and the one-line error of any other command does not echo it either.
    done = vigil({**env, "VIGIL_PSEUDONYM_KEY": typo}, "devices", "list")
    assert done.returncode == 2 and "VIGIL_PSEUDONYM_KEY must be" in done.stderr
    assert typo[:16] not in done.stdout + done.stderr


def test_config_flags_kafka_security_problems(env) -> None:
    """A problem that names a setting left unset, or one that is not "must be ...": flagged, one line."""
    done = vigil(
        {**env, "VIGIL_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "VIGIL_KAFKA_CA": "/etc/hosts"}, "config"
    )
    assert done.returncode == 2 and done.stderr == ""
    rows = {line.split()[0]: line for line in done.stdout.splitlines()}
    assert (
        "(empty)  [default]  <- invalid: (or VIGIL_KAFKA_SASL_PASSWORD_FILE) must be set when"
        in rows["VIGIL_KAFKA_SASL_PASSWORD"]
    )
    assert "<- invalid: is set, but SASL_PLAINTEXT does not use TLS" in rows["VIGIL_KAFKA_CA"]


def test_config_flags_a_bad_setting_and_a_typo(env) -> None:
    done = vigil({**env, "VIGIL_GATEWAY_PORT": "99999", "VIGIL_GATEWAY_PROT": "1"}, "config")
    assert done.returncode == 2
    assert (
        "invalid" in [line for line in done.stdout.splitlines() if line.startswith("VIGIL_GATEWAY_PORT ")][0]
    )
    assert "VIGIL_GATEWAY_PROT" in done.stdout and "not a Vigil setting" in done.stdout


# -- the first screen (item 5) -------------------------------------------------------------------


def test_version(env) -> None:
    done = vigil(env, "--version")
    assert done.returncode == 0 and done.stdout.startswith("vigil 0.")


def test_version_refuses_a_bad_setting_as_every_command_does(env) -> None:
    """`VIGIL_COMPILED_CORE=banana vigil --version` said "core: compiled", exit 0."""
    done = vigil({**env, "VIGIL_COMPILED_CORE": "banana"}, "--version")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("vigil --version: VIGIL_COMPILED_CORE must be "), done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr


COMMANDS = [
    ["up"],
    ["gateway"],
    ["worker"],
    ["config"],
    ["devices", "add"],
    ["devices", "list"],
    ["devices", "rotate"],
    ["devices", "revoke"],
    ["alerts"],
    ["lag"],
    ["simulate"],
    ["replay"],
    ["export"],
    ["evaluate"],
    ["kafka"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_shows_defaults_and_where_settings_live(env, command: list[str]) -> None:
    done = vigil(env, *command, "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "vigil config" in text and "docs/configuration.md" in text
    if command in (["up"], ["simulate"], ["replay"], ["evaluate"], ["export"]):
        assert "(default: " in text


# -- expected failures (item 4) ----------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["alerts"],
        [
            "export",
            "--patient",
            "P-1",
            "--from",
            "2026-01-01T00:00:00Z",
            "--to",
            "2026-01-02T00:00:00Z",
            "--out",
            "x",
        ],
        ["gateway"],
        ["worker"],
        ["lag"],
    ],
    ids=lambda c: c[0],
)
def test_kafka_unreachable_is_one_line(env, command: list[str]) -> None:
    done = vigil({**env, "VIGIL_PSEUDONYM_KEY": KEY}, *command)
    assert done.returncode == 3
    line = one_line(done)
    assert f"cannot reach Kafka at {env['VIGIL_KAFKA_BOOTSTRAP']}" in line and "VIGIL_KAFKA_BOOTSTRAP" in line


def test_debug_level_shows_the_traceback(env) -> None:
    done = vigil({**env, "VIGIL_LOG_LEVEL": "debug"}, "alerts")
    assert done.returncode == 3 and "Traceback" in done.stderr


def test_busy_port_on_the_gateway_is_one_line(env) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = str(holder.getsockname()[1])
        done = vigil({**env, "VIGIL_PSEUDONYM_KEY": KEY, "VIGIL_GATEWAY_HTTP_PORT": port}, "gateway")
    assert done.returncode == 4
    line = one_line(done)
    assert port in line and "VIGIL_GATEWAY_HTTP_PORT" in line


@pytest.mark.parametrize(
    ("command", "setting", "extra"),
    [
        ("gateway", "VIGIL_GATEWAY_HOST", {"VIGIL_PSEUDONYM_KEY": KEY, "VIGIL_GATEWAY_ALLOW_PLAINTEXT": "1"}),
        ("worker", "VIGIL_WORKER_WEB_HOST", {}),
    ],
)
def test_an_address_not_of_this_machine_is_named_with_its_setting_not_as_a_busy_port(
    env, command: str, setting: str, extra: dict[str, str]
) -> None:
    """An outside tester: a host setting naming an address this machine does
    not have was told "port 6066 on 192.0.2.7 is already in use: stop what
    holds it", sending the operator after a process that does not exist."""
    done = vigil({**env, **extra, setting: "192.0.2.7"}, command)
    assert done.returncode == 2
    line = one_line(done)
    assert "192.0.2.7" in line and f"set {setting}" in line and "in use" not in line


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("extra.csv", "patient,ts,heart_rate\nBED-1,{ts},70\nBED-1,{ts},71,99\n", "line 3: more cells"),
        ("latin1.csv", "patient,ts,heart_rate\nBED-1,{ts},70\n", "not UTF-8"),
        ("space.csv", "patient,ts,heart_rate\nBED-1,{ts},70\nMRN 0042,{ts},70\n", "line 3: a patient id is"),
        ("space.jsonl", '{{"patient": "MRN 0042", "ts": {ts}, "vitals": {{"heart_rate": 70}}}}\n', "line 1:"),
        ("old.csv", "patient,ts,heart_rate\nBED-1,{old},70\n", "--shift-to-now"),
        ("upper.csv", "patient,ts,HR\nBED-1,{ts},70\n", "column 'HR' is not a channel name"),
        ("naive.csv", "patient,ts,heart_rate\nBED-1,2026-11-29 10:00:00,70\n", "give --tz"),
        ("when.csv", "patient,ts,heart_rate\nBED-1,yesterday,70\n", "line 2: ts must be ISO 8601"),
        ("notjson.jsonl", "heart_rate 70\n", "line 1: not JSON"),
        ("empty.csv", "patient,ts,heart_rate\n", "no readings"),
    ],
    ids=[
        "extra_column",
        "not_utf8",
        "space_in_patient_csv",
        "space_in_patient_jsonl",
        "older_than_7_days",
        "not_a_channel_name",
        "no_time_zone",
        "ts_not_a_time",
        "not_json",
        "no_readings",
    ],
)
def test_replay_refuses_a_bad_recording_in_one_line(
    env, tmp_path, name: str, content: str, expected: str
) -> None:
    path = tmp_path / name
    text = content.format(ts=now_ms() - 3_600_000, old=now_ms() - 8 * 86_400_000)
    path.write_bytes(text.encode() + (b"B\xe9D-2,1,70\n" if name == "latin1.csv" else b""))
    done = vigil(env, "replay", str(path))
    assert done.returncode == 2
    line = one_line(done)
    assert expected in line
    # Each names the file, once (`line 2: ts must be ...` and `line 1: not JSON` did not).
    assert line.startswith(f"vigil replay: {name}: ") and line.count(name) == 1, line
    assert "MRN 0042" not in done.stderr  # never a patient identifier in a message


def test_replay_names_the_option_not_the_file_for_a_bad_option(env, tmp_path) -> None:
    path = tmp_path / "fine.csv"
    path.write_text(f"patient,ts,heart_rate\nBED-1,{now_ms() - 3_600_000},70\n")
    line = one_line(vigil(env, "replay", str(path), "--tz", "Mars/Olympus"))
    assert line.startswith("vigil replay: --tz 'Mars/Olympus' is not a time zone"), line
    assert "fine.csv" not in one_line(vigil(env, "replay", str(path), "--ts-format", "%H"))
    line = one_line(vigil(env, "replay", str(path), "--patient-prefix", "a b "))
    assert line.startswith("vigil replay: fine.csv: with --patient-prefix 'a b '"), line


def test_replay_offline_runs_a_long_old_recording_without_kafka(env, tmp_path) -> None:
    """Two months of morning weighings from a year ago, a 2.4 kg gain over
    the last three days: the live gateway takes 7 days at most, `--offline`
    runs it all here (nothing listens where Kafka is said to be) and prints
    the `trend` as `vigil alerts` would. A weighing of -3, the gateway
    would refuse: left out, and its row, with no value left, not sent,
    with a line for each."""
    start = now_ms() - 365 * 86_400_000
    lines = ["patient,ts,weight"]
    for day in range(60):
        gain = 0.8 * max(0, day - 56)
        lines.append(f"HF-1,{start + day * 86_400_000},{80.0 + (day % 3) * 0.3 + gain:.1f}")
    path = tmp_path / "scale.csv"
    path.write_text("\n".join(lines) + "\n")
    assert "--offline" in one_line(vigil(env, "replay", str(path)))  # the live replay points there
    done = vigil(env, "replay", str(path), "--offline")
    assert done.returncode == 0, done.stderr
    opened = [line for line in done.stdout.splitlines() if "OPEN" in line]
    assert len(opened) == 1 and "trend" in opened[0] and "level shifted: weight" in opened[0]
    assert "ran 60 readings offline (patients: 1)" in done.stderr
    path.write_text("\n".join([*lines, f"HF-1,{start + 61 * 86_400_000},-3"]) + "\n")
    done = vigil(env, "replay", str(path), "--offline", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[0])["kind"] == "trend"
    assert "column 'weight': 1 value outside what the gateway takes" in done.stderr
    assert "1 reading had no value left once those were left out (the first on line 62)" in done.stderr
    assert "ran 60 readings offline" in done.stderr and "refused none" in done.stderr
    assert "HF-1" not in done.stderr


def test_replay_offline_scores_an_fio2_charted_in_the_long_layout_as_oxygen(env, tmp_path) -> None:
    """An outside tester's PhysioNet 2012 stay in the long layout: an FiO2 of
    1.0 and a ventilation charted at intubation, the GCS of 8 half an hour
    later. `--map FiO2=on_oxygen` was refused as not true or false; read as
    the oxygen, held to the next round, the round scores NEWS2 5, medium,
    where it scored 3."""
    rows = [
        ("17:40", "HR", "70"), ("17:40", "SysABP", "130"), ("17:40", "GCS", "15"),
        ("18:10", "FiO2", "1"), ("18:10", "MechVent", "1"), ("18:10", "HR", "63"),
        ("18:40", "HR", "65"), ("18:40", "SysABP", "143"), ("18:40", "GCS", "8"),
    ]  # fmt: skip
    path = tmp_path / "stay.csv"
    path.write_text(
        "patient,ts,vital,value\n" + "".join(f"P1,2026-01-01T{at}:00Z,{v},{x}\n" for at, v, x in rows)
    )
    maps = ["--gcs", "--map", "HR=heart_rate", "--map", "SysABP=systolic_bp", "--map", "GCS=consciousness"]
    refused = vigil(env, "replay", str(path), "--offline", *maps, "--map", "FiO2=on_oxygen")
    assert refused.returncode == 2 and "--map 'MechVent=on_oxygen' (1 read as on oxygen" in one_line(refused)
    done = vigil(
        env,
        "replay",
        str(path),
        "--offline",
        "--json",
        *maps,
        "--map",
        "FiO2=on_oxygen",
        "--map",
        "MechVent=",
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(e["event_time"], e["severity"], e["evidence"]["score"]) for e in events] == [
        ("2026-01-01T18:40:00.000Z", "medium", 5)
    ]
    assert (
        "vital 'FiO2' (read as on_oxygen): 1 value read as an FiO2: 1 over 0.21 (21 %), on oxygen"
        in done.stderr
    )


def test_replay_says_once_that_another_systems_name_for_a_vital_is_a_custom_channel(env, tmp_path) -> None:
    """A monitor's export with a column `hr`: it runs (a custom channel may
    be called so), and the totals come after one line saying it is not the
    heart rate to Vigil, and what to call it if it is."""
    start = now_ms() - 86_400_000
    path = tmp_path / "export.csv"
    rows = "".join(f"BED-1,{start + i * 60_000},72,97\n" for i in range(30))
    path.write_text("patient,ts,hr,spo2\n" + rows)
    done = vigil(env, "replay", str(path), "--offline")
    assert done.returncode == 0, done.stderr
    hints = [line for line in done.stderr.splitlines() if "'hr'" in line]
    assert len(hints) == 1 and "read as a custom channel" in hints[0] and "--map 'hr=heart_rate'" in hints[0]
    assert "ran 30 readings offline (patients: 1)" in done.stderr


def test_replay_leaves_a_text_column_out_and_runs_the_vitals_beside_it(env, tmp_path) -> None:
    """A chart export with a bed column: every reading was refused
    `wrong_type` (exit 1, nothing learned); now one line says the column is
    left out, and the readings run."""
    start = now_ms() - 86_400_000
    path = tmp_path / "chart.csv"
    path.write_text(
        "patient,ts,heart_rate,bed\n" + "".join(f"BED-1,{start + i * 60_000},72,4B\n" for i in range(30))
    )
    done = vigil(env, "replay", str(path), "--offline")
    assert done.returncode == 0, done.stderr
    assert "column 'bed' holds no value a channel takes" in done.stderr
    assert "ran 30 readings offline (patients: 1)" in done.stderr and "refused none" in done.stderr


@pytest.mark.parametrize(
    "command", [["replay", "REC"], ["simulate", "--devices", "1", "--duration", "2"]], ids=lambda c: c[0]
)
def test_no_gateway_is_one_line_naming_the_url(env, tmp_path, nobody_listens, command: list[str]) -> None:
    recording = tmp_path / "rec.csv"
    recording.write_text(f"patient,ts,heart_rate\nBED-1,{now_ms() - 60_000},70\n")
    port = str(nobody_listens())
    done = vigil(
        {**env, "VIGIL_GATEWAY_PORT": port}, *[str(recording) if part == "REC" else part for part in command]
    )
    assert done.returncode == 5
    line = one_line(done)
    assert f"cannot reach ws://127.0.0.1:{port}/v1" in line


def test_devices_add_on_a_full_disk_leaves_the_registry_as_it_was(env) -> None:
    home = Path(env["VIGIL_HOME"])
    for i in range(20):
        assert vigil(env, "devices", "add", f"bed-{i}", "--patient", f"P-{i}").returncode == 0
    registry = home / "devices.json"
    before = registry.read_bytes()

    def small_files() -> None:  # a write beyond this size fails, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (len(before) // 2, resource.RLIM_INFINITY))

    done = vigil(env, "devices", "add", "bed-new", "--patient", "P-NEW", preexec_fn=small_files)
    assert done.returncode == 2
    line = one_line(done)
    assert "could not write the device registry" in line and "nothing was changed" in line
    assert registry.read_bytes() == before
    assert not (home / "devices.tmp").exists()
    listed = [json.loads(row)["device_id"] for row in vigil(env, "devices", "list").stdout.splitlines()]
    assert "bed-new" not in listed and len(listed) == 20


# -- one error root (issue 12 item 5) --------------------------------------------------------------


EXPECTED_FAILURES = [  # (where the code raising it gets it, the class, its exit code)
    ("app.infra.settings", "SettingsError", 2),
    ("app.infra.registry", "RegistryError", 2),
    ("app.infra.registry", "RegistryUnavailable", 2),
    ("app.infra.pseudonyms", "PseudonymKeyError", 2),
    ("app.tools.replay", "RecordingError", 2),
    ("app.tools.export", "ExportError", 2),
    ("app.core.errors", "GatewayConfigError", 2),
    ("app.infra.kafka_local", "LocalKafkaError", 1),
    ("app.infra.topics", "TopicError", 1),
    ("app.core.errors", "ServiceFailed", 1),
    ("app.core.errors", "NotStored", 1),
    ("app.infra.preflight", "KafkaUnreachable", 3),
    ("app.infra.preflight", "PortInUse", 4),
    ("app.infra.preflight", "GatewayUnreachable", 5),
]


@pytest.mark.parametrize(
    ("module", "name", "code"), EXPECTED_FAILURES, ids=[n for _, n, _ in EXPECTED_FAILURES]
)
def test_every_expected_failure_is_a_vigil_error_with_its_exit_code(
    module: str, name: str, code: int
) -> None:
    import importlib

    from app.core.errors import VigilError

    raised = getattr(importlib.import_module(module), name)
    assert issubclass(raised, VigilError)
    assert raised.exit_code == code


def test_a_topic_kafka_refuses_to_create_is_one_line_with_exit_1(monkeypatch, capsys) -> None:
    """`ensure_topics` used to raise a bare RuntimeError: `unexpected error (RuntimeError)`."""
    import asyncio
    from types import SimpleNamespace

    from app.cli import main
    from app.infra import topics

    class Admin:  # a cluster whose policy refuses new topics (TOPIC_AUTHORIZATION_FAILED)
        def __init__(self, **config) -> None: ...
        async def start(self) -> None: ...
        async def close(self) -> None: ...
        async def list_topics(self) -> list[str]:
            return []

        async def create_topics(self, wanted) -> SimpleNamespace:
            return SimpleNamespace(topic_errors=[(t.name, 29, "") for t in wanted])

    def worker(args, settings) -> int:  # as `vigil worker` does before Faust starts
        asyncio.run(topics.ensure_topics(settings))
        return 0

    monkeypatch.setattr(topics, "AIOKafkaAdminClient", Admin)
    monkeypatch.setitem(main.COMMANDS, "evaluate", worker)
    monkeypatch.setattr(main.logs, "configure", lambda *args, **kwargs: None)
    assert main.main(["evaluate"]) == 1
    line = "vigil evaluate: creating topic vigil.readings failed with Kafka error 29"
    assert capsys.readouterr().err == line + "\n"


def test_replay_reads_times_without_a_zone_in_the_zone_given(env, tmp_path) -> None:
    path = tmp_path / "naive.csv"
    path.write_text(
        "patient,ts,heart_rate\n" + "".join(f"BED-1,2025-11-29 10:{m:02d}:00,70\n" for m in range(5))
    )
    done = vigil(env, "replay", str(path), "--offline", "--tz", "Europe/London")
    assert done.returncode == 0, done.stderr
    assert "ran 5 readings offline (patients: 1)" in done.stderr
    done = vigil(env, "replay", str(path), "--offline", "--tz", "Mars/Olympus")
    assert done.returncode == 2 and "is not a time zone" in one_line(done)


def test_replay_reads_fitbits_own_columns_with_map(env, tmp_path) -> None:
    """Fitbit's `Id,Time,Value` as exported (times `11/29/2025 10:00:00 AM`),
    named and read from the command line as a user types it."""
    path = tmp_path / "heartrate_seconds_merged.csv"
    path.write_text(
        "Id,Time,Value\n" + "".join(f"2022484408,11/29/2025 10:{m:02d}:00 AM,70\n" for m in range(5))
    )
    done = vigil(env, "replay", str(path), "--offline")
    assert done.returncode == 2 and "--map" in one_line(done)
    layout = ["--map", "Id=patient", "--map", "Time=ts", "--map", "Value=heart_rate"]
    done = vigil(env, "replay", str(path), "--offline", *layout)
    assert done.returncode == 2 and "--ts-format" in one_line(done)  # its times are not ISO 8601
    done = vigil(
        env, "replay", str(path), "--offline", *layout, "--tz", "UTC", "--ts-format", "%m/%d/%Y %I:%M:%S %p"
    )
    assert done.returncode == 0, done.stderr
    assert "ran 5 readings offline (patients: 1)" in done.stderr


def test_replay_reads_a_physionet_2012_stay_as_published(env, tmp_path) -> None:
    """A PhysioNet 2012 file as published: `.txt`, `Time,Parameter,Value`,
    times hours and minutes since admission (past 24). Read as JSON lines,
    it was refused "line 1: not JSON"; its times, as they are, were met
    with a --ts-format hint that cannot read them (an outside tester). Its
    times are told to need --since, and with it the stay runs: a pulse of
    135 and a breathing rate of 28 on the second day open NEWS2."""
    path = tmp_path / "132592.txt"
    rows = ["Time,Parameter,Value", "00:00,RecordID,132592", "00:00,Age,35"]
    for hour in range(0, 30, 2):
        sick = hour >= 26
        rows += [f"{hour:02d}:20,HR,{135 if sick else 80}", f"{hour:02d}:20,RespRate,{28 if sick else 16}"]
    path.write_text("\n".join(rows) + "\n")
    layout = ["--patient", "S-1", "--map", "Time=ts", "--map", "Parameter=vital", "--map", "Value=value"]
    layout += ["--map", "HR=heart_rate", "--map", "RespRate=respiratory_rate", "--leave-out-unnamed"]
    done = vigil(env, "replay", str(path), "--offline", *layout)
    assert done.returncode == 2 and "--since" in one_line(done) and "not JSON" not in done.stderr
    done = vigil(env, "replay", str(path), "--offline", *layout, "--since", "2026-01-01T00:00")
    assert done.returncode == 2 and "has no time zone" in one_line(done)
    done = vigil(env, "replay", str(path), "--offline", "--json", *layout, "--since", "2026-01-01T00:00:00Z")
    assert done.returncode == 0, done.stderr
    opened = [json.loads(line) for line in done.stdout.splitlines() if '"news2"' in line]
    assert opened and opened[0]["status"] == "open" and opened[0]["event_time"] == "2026-01-02T02:20:00.000Z"


@pytest.mark.parametrize("command", [["config"], ["--version"], ["replay", "--help"]])
def test_a_reader_that_goes_away_ends_the_command_as_done(env, command: list[str]) -> None:
    """`vigil config | head -1` exited 1, saying nothing, where `vigil up |
    head` exits 0 (docs/operations.md): a script under `set -o pipefail`
    saw a failure (a newcomer); `vigil --version` so piped printed a
    traceback. The reader going away is the end of it."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line
    try:
        done = vigil(env, *command, stdout=write)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (0, "")
