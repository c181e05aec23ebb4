"""Settings are read once and checked: type, range, allowed values; one
problem per bad setting, naming the variable and what it accepts; and
docs/configuration.md documents exactly the settings there are."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.infra.settings import MASK, Settings, SettingsError, inspect, specs, variables

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_defaults_without_environment() -> None:
    assert Settings.from_env({}) == Settings()


def test_values_are_read_with_their_types() -> None:
    s = Settings.from_env(
        {
            "VIGIL_GATEWAY_PORT": "9000",
            "VIGIL_CONFIRM_S": "2.5",
            "VIGIL_UVLOOP": "off",
            "VIGIL_GATEWAY_ALLOW_PLAINTEXT": "yes",
            "VIGIL_LOG_LEVEL": "DEBUG",
            "VIGIL_KAFKA_BOOTSTRAP": "k1:9092, k2:9092",
            "VIGIL_HOME": "~/somewhere",
        }
    )
    assert (s.gateway_port, s.confirm_s, s.uvloop, s.allow_plaintext) == (9000, 2.5, False, True)
    assert s.log_level == "debug" and s.debug
    assert s.kafka_bootstrap == "k1:9092,k2:9092"
    assert s.home == Path("~/somewhere").expanduser()


def test_empty_means_default_except_where_empty_switches_something_off() -> None:
    s = Settings.from_env(
        {"VIGIL_GATEWAY_PORT": "", "VIGIL_KAFKA_BOOTSTRAP": "", "VIGIL_GATEWAY_COMPRESSION": ""}
    )
    assert s.gateway_port == 8765 and s.kafka_bootstrap == "" and s.compression == ""


def test_port_0_has_a_free_one_chosen() -> None:
    names = (
        "GATEWAY_PORT",
        "GATEWAY_HTTP_PORT",
        "WORKER_WEB_PORT",
        "LOCAL_KAFKA_PORT",
        "LOCAL_KAFKA_CONTROLLER_PORT",
    )
    s = Settings.from_env({f"VIGIL_{name}": "0" for name in names})
    assert [s.gateway_port, s.gateway_http_port, s.worker_web_port] == [0, 0, 0]
    assert [s.local_kafka_port, s.local_kafka_controller_port] == [0, 0]


@pytest.mark.parametrize(
    ("variable", "value", "accepts"),
    [
        ("VIGIL_GATEWAY_PORT", "99999", "a port number from 0 to 65535"),
        ("VIGIL_GATEWAY_PORT", "-1", "a port number from 0 to 65535"),
        ("VIGIL_LOCAL_KAFKA_PORT", "70000", "a port number from 0 to 65535 (0: a free one is chosen)"),
        ("VIGIL_CONFIRM_S", "abc", "a number of seconds"),
        ("VIGIL_ACK_TIMEOUT_S", "10s", "without a unit"),
        ("VIGIL_ACK_TIMEOUT_S", "0", "above 0"),
        ("VIGIL_RESOLVE_AFTER_S", "-1", "0 or more"),
        ("VIGIL_RENOTIFY_S", "nan", "a number of seconds"),
        ("VIGIL_PARTITIONS", "0", "a whole number from 1"),
        ("VIGIL_MAX_BATCH", "1.5", "a whole number"),
        ("VIGIL_LOG_LEVEL", "verbose", "one of 'debug', 'info', 'warning', 'error'"),
        ("VIGIL_LOG_FORMAT", "xml", "one of 'auto', 'json', 'console'"),
        ("VIGIL_WORKER_STORE", "redis://", "'rocksdb://', 'memory://'"),
        ("VIGIL_WORKER_DECODED_CACHE", "0", "a whole number, at least 1"),
        ("VIGIL_GATEWAY_COMPRESSION", "gzip", "empty, 'deflate'"),
        ("VIGIL_UVLOOP", "maybe", "1, true, yes or on"),
        ("VIGIL_KAFKA_BOOTSTRAP", "broker1", "host:port"),
        ("VIGIL_WORKER_ID", "my worker", "letters, digits"),
        ("VIGIL_TLS_CERT", "/no/such/cert.pem", "a readable file"),
        ("VIGIL_PSEUDONYM_KEY_FILE", "/no/such/key", "a readable file"),
    ],
)
def test_a_bad_value_is_one_problem_naming_the_variable(variable: str, value: str, accepts: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({variable: value})
    (problem,) = refused.value.problems
    assert problem.startswith(f"{variable} must be ") and accepts in problem and repr(value) in problem


def test_a_bad_secret_is_not_echoed() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"VIGIL_PSEUDONYM_KEY": "ab" * 8})
    assert "ab" * 8 not in str(refused.value) and "VIGIL_PSEUDONYM_KEY" in str(refused.value)


def test_all_problems_at_once() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"VIGIL_GATEWAY_PORT": "x", "VIGIL_LOG_LEVEL": "loud", "VIGIL_CONFIRM_S": "1"})
    assert [p.split()[0] for p in refused.value.problems] == ["VIGIL_GATEWAY_PORT", "VIGIL_LOG_LEVEL"]


def test_inspect_gives_value_and_source_with_secrets_masked() -> None:
    rows, unknown = inspect(
        {"VIGIL_CONFIRM_S": "20", "VIGIL_PSEUDONYM_KEY": "cd" * 32, "VIGIL_CONFIRMS": "1"}
    )
    by_var = {row.var: row for row in rows}
    assert (by_var["VIGIL_CONFIRM_S"].value, by_var["VIGIL_CONFIRM_S"].source) == ("20", "environment")
    assert (by_var["VIGIL_GATEWAY_PORT"].value, by_var["VIGIL_GATEWAY_PORT"].source) == ("8765", "default")
    assert by_var["VIGIL_PSEUDONYM_KEY"].value == MASK
    assert unknown == ["VIGIL_CONFIRMS"]
    assert [row.var for row in rows] == [spec.var for _, spec in specs()]


@pytest.mark.parametrize(
    ("variable", "value"),
    [("VIGIL_PSEUDONYM_KEY", "ab" * 32 + "zz"), ("VIGIL_PSEUDONYM_KEY", "cd" * 8)],
)
def test_inspect_masks_a_secret_that_is_not_valid(variable: str, value: str) -> None:
    rows, _ = inspect({variable: value})
    (row,) = [row for row in rows if row.var == variable]
    assert row.problem and row.value == MASK
    assert value not in row.problem


def test_inspect_flags_a_missing_setting_without_a_value() -> None:
    """A Kafka security problem may name a setting that is not set at all."""
    rows, _ = inspect(
        {
            "VIGIL_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "VIGIL_KAFKA_BOOTSTRAP": "kafka:9092",
        }
    )
    by_var = {row.var: row for row in rows}
    assert by_var["VIGIL_KAFKA_SASL_USERNAME"].problem and by_var["VIGIL_KAFKA_SASL_USERNAME"].value == ""
    assert by_var["VIGIL_KAFKA_SASL_PASSWORD"].problem and by_var["VIGIL_KAFKA_SASL_PASSWORD"].value == ""


def test_every_secret_is_masked() -> None:
    secret = [spec.var for _, spec in specs() if spec.secret]
    assert secret == ["VIGIL_KAFKA_SASL_PASSWORD", "VIGIL_PSEUDONYM_KEY"]
    # A *_FILE setting names where a secret is, and is shown.
    assert [
        spec.var
        for _, spec in specs()
        if re.search(r"PASSWORD|SECRET|TOKEN", spec.var)
        and not spec.secret
        and not spec.var.endswith("_FILE")
    ] == []


def test_docs_and_settings_are_in_step() -> None:
    documented = set(re.findall(r"`(VIGIL_[A-Z0-9_]+)`", DOCS.read_text()))
    assert sorted(variables() - documented) == [], "settings missing from docs/configuration.md"
    assert sorted(documented - variables()) == [], (
        "docs/configuration.md names variables that are not settings"
    )


def _documented_defaults() -> dict[str, str]:
    """VIGIL_* variable -> the default docs/configuration.md gives it, as
    `vigil config` shows it (`empty` is "", off and on are 0 and 1)."""
    shown = {"empty": "", "off": "0", "on": "1"}
    defaults = {}
    for line in DOCS.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) < 2 or not cells[0].startswith("`VIGIL_"):
            continue
        names = re.findall(r"`(VIGIL_[A-Z0-9_]+)`", cells[0])
        values = [shown.get(v.strip(), v.strip().strip("`")) for v in cells[1].split(",")]
        if len(values) == 1:
            values *= len(names)
        defaults.update(zip(names, values, strict=True))
    return defaults


def test_docs_give_every_setting_its_default() -> None:
    documented = _documented_defaults()
    rows, _ = inspect({})
    # VIGIL_HOME and VIGIL_CACHE default to folders under the user's home: the docs write them with `~`.
    actual = {row.var: row.value for row in rows if row.var not in ("VIGIL_HOME", "VIGIL_CACHE")}
    assert {var: documented.get(var) for var in actual} == actual


def test_where_the_core_has_a_default_the_setting_has_the_same() -> None:
    """Written once, in the core (`Config`, `Limits`, `GuardLimits`): the settings' defaults are its."""
    from app.core.handshake import GuardLimits
    from app.core.patient import Config
    from app.core.protocol import Limits

    s = Settings()
    assert s.detector_config() == Config()
    assert Limits(max_frame_bytes=s.max_frame_bytes, max_batch=s.max_batch) == Limits()
    assert (
        GuardLimits(
            max_pending=s.max_handshakes,
            max_pending_per_source=s.max_handshakes_per_source,
            failure_rate=s.handshake_failure_rate,
            failure_burst=s.handshake_failure_burst,
        )
        == GuardLimits()
    )


def test_the_detection_settings_reach_the_core() -> None:
    s = Settings.from_env(
        {"VIGIL_DRIFT_TOGETHER": "0", "VIGIL_DRIFT_TOGETHER_S": "3600", "VIGIL_DRIFT_WANDER": "0"}
    )
    config = s.detector_config()
    assert (config.drift_together, config.drift_together_ms, config.drift_wander) == (0, 3_600_000, 0)
    assert Settings.from_env({}).detector_config().drift_wander == 3
    assert Settings.from_env({"VIGIL_TREND_Z_WANDER": "3"}).detector_config().trend_z_wander == 3.0
    assert Settings.from_env({"VIGIL_TREND_Z_WANDER": "0"}).detector_config().trend_z_wander == 0
    assert Settings.from_env({}).detector_config().trend_z_wander == 2.75
    for bad in (
        {"VIGIL_DRIFT_TOGETHER": "6"},
        {"VIGIL_DRIFT_WANDER": "-1"},
        {"VIGIL_DRIFT_WANDER": "two"},
        {"VIGIL_TREND_Z_WANDER": "-1"},
    ):
        with pytest.raises(SettingsError):
            Settings.from_env(bad)


def test_settings_is_the_only_reader_of_the_environment() -> None:
    """Every other module gets its configuration from a `Settings`; passing
    the environment on to a child process (`dict(os.environ, ...)`) is not
    reading it. app/native.py reads VIGIL_COMPILED_CORE itself: it chooses
    which core modules load, before `Settings` (which imports the core) can;
    `Settings` still lists and checks the variable."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    readers = []
    for path in [*(root / "app").rglob("*.py"), *(root / "agents").rglob("*.py")]:
        if path.name == "settings.py" or path == root / "app" / "native.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                target = ast.unparse(node.func)
                if target in ("os.environ.get", "os.getenv", "os.environ.setdefault"):
                    readers.append(f"{path.relative_to(root)}:{node.lineno}")
            if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
                readers.append(f"{path.relative_to(root)}:{node.lineno}")
    assert readers == []
