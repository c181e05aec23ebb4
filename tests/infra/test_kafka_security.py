"""The Kafka security settings (VIGIL_KAFKA_SECURITY_PROTOCOL, SASL, CA,
client certificate) and the client options app/infra/kafka_security.py
makes of them; and that every Kafka client in app/ and agents/ is built
with those options. No broker here: tests/integration/test_kafka_sasl.py
connects to one."""

from __future__ import annotations

import ast
import os
import ssl
import subprocess
import sys
from pathlib import Path

import faust
import pytest
import trustme

from app.infra.kafka_security import aiokafka_options, faust_credentials
from app.infra.settings import MASK, Settings, SettingsError, inspect
from tests.conftest import ROOT

BOOTSTRAP = "kafka-1.example:9093"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A CA, and a client certificate with its key, as PEM files."""
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA(organization_name="Vigil test CA")
    client = ca.issue_cert("gateway.example")
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    client.cert_chain_pems[0].write_to_path(str(folder / "client.pem"))
    client.private_key_pem.write_to_path(str(folder / "client.key"))
    files = {name: str(folder / f"{name}.pem") for name in ("ca", "client")}
    return files | {"key": str(folder / "client.key")}


def env(**variables: str) -> dict[str, str]:
    return {"VIGIL_KAFKA_BOOTSTRAP": BOOTSTRAP} | {f"VIGIL_{k}": v for k, v in variables.items()}


def problems(environ: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(environ)
    return raised.value.problems


# -- settings: one line per problem, at start ------------------------------------------------------


def test_an_unknown_security_protocol_is_named_with_what_is_accepted() -> None:
    assert problems(env(KAFKA_SECURITY_PROTOCOL="TLS")) == [
        "VIGIL_KAFKA_SECURITY_PROTOCOL must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL, not 'TLS'"
    ]


def test_protocol_and_mechanism_are_read_as_kafka_spells_them() -> None:
    settings = Settings.from_env(
        env(KAFKA_SECURITY_PROTOCOL="sasl_ssl", KAFKA_SASL_MECHANISM="plain", KAFKA_SASL_USERNAME="gw")
        | {"VIGIL_KAFKA_SASL_PASSWORD": PASSWORD}
    )
    assert (settings.kafka_security_protocol, settings.kafka_sasl_mechanism) == ("SASL_SSL", "PLAIN")


def test_an_unknown_mechanism_is_refused() -> None:
    assert problems(env(KAFKA_SASL_MECHANISM="GSSAPI")) == [
        "VIGIL_KAFKA_SASL_MECHANISM must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, not 'GSSAPI'"
    ]


def test_sasl_without_a_password_says_which_setting_is_missing() -> None:
    assert problems(env(KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SASL_USERNAME="gateway")) == [
        "VIGIL_KAFKA_SASL_PASSWORD (or VIGIL_KAFKA_SASL_PASSWORD_FILE) must be set "
        "when VIGIL_KAFKA_SECURITY_PROTOCOL is SASL_SSL"
    ]


def test_sasl_without_a_user_is_refused() -> None:
    assert problems(env(KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", KAFKA_SASL_PASSWORD=PASSWORD)) == [
        "VIGIL_KAFKA_SASL_USERNAME must be set when VIGIL_KAFKA_SECURITY_PROTOCOL is SASL_PLAINTEXT"
    ]


def test_a_missing_ca_file_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-ca.pem")
    assert problems(env(KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_CA=missing)) == [
        f"VIGIL_KAFKA_CA must be the path of a readable file, or empty, not {missing!r}"
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_password_file_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text(PASSWORD)
    secret.chmod(0)
    found = problems(
        env(
            KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SASL_USERNAME="gw", KAFKA_SASL_PASSWORD_FILE=str(secret)
        )
    )
    assert [p.split(" must be")[0] for p in found] == ["VIGIL_KAFKA_SASL_PASSWORD_FILE"]


def test_a_client_certificate_needs_its_key(pki: dict[str, str]) -> None:
    assert problems(env(KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_CERT=pki["client"])) == [
        "VIGIL_KAFKA_KEY must be set with VIGIL_KAFKA_CERT (a client certificate needs its key)"
    ]


def test_a_ca_without_tls_is_a_contradiction(pki: dict[str, str]) -> None:
    assert problems(env(KAFKA_CA=pki["ca"])) == [
        "VIGIL_KAFKA_CA is set, but PLAINTEXT does not use TLS: use SSL or SASL_SSL"
    ]


def test_security_needs_a_cluster_not_the_embedded_broker() -> None:
    assert problems({"VIGIL_KAFKA_SECURITY_PROTOCOL": "SSL"}) == [
        "VIGIL_KAFKA_SECURITY_PROTOCOL=SSL needs VIGIL_KAFKA_BOOTSTRAP "
        "(the embedded local broker is plaintext)"
    ]


def test_password_and_password_file_together_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text(PASSWORD)
    found = problems(
        env(
            KAFKA_SECURITY_PROTOCOL="SASL_SSL",
            KAFKA_SASL_USERNAME="gw",
            KAFKA_SASL_PASSWORD=PASSWORD,
            KAFKA_SASL_PASSWORD_FILE=str(secret),
        )
    )
    assert found == ["VIGIL_KAFKA_SASL_PASSWORD_FILE must be empty when VIGIL_KAFKA_SASL_PASSWORD is set"]
    assert PASSWORD not in " ".join(found)


# -- the options each protocol gives ----------------------------------------------------------------


def test_plaintext_options_are_the_bootstrap_alone() -> None:
    settings = Settings.from_env(env())
    assert aiokafka_options(settings) == {"bootstrap_servers": BOOTSTRAP, "security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings) is None


def test_ssl_options_trust_the_configured_ca_and_check_the_host(pki: dict[str, str]) -> None:
    settings = Settings.from_env(
        env(KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_CA=pki["ca"], KAFKA_CERT=pki["client"], KAFKA_KEY=pki["key"])
    )
    options = aiokafka_options(settings)
    context = options.pop("ssl_context")
    assert options == {"bootstrap_servers": BOOTSTRAP, "security_protocol": "SSL"}
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
    issuers = [dict(x[0] for x in cert["subject"]).get("organizationName") for cert in context.get_ca_certs()]
    assert "Vigil test CA" in issuers
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SSLCredentials) and credentials.context.check_hostname


def test_sasl_plaintext_options_carry_the_user_and_mechanism_without_tls() -> None:
    settings = Settings.from_env(
        env(KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", KAFKA_SASL_MECHANISM="PLAIN", KAFKA_SASL_USERNAME="gw")
        | {"VIGIL_KAFKA_SASL_PASSWORD": PASSWORD}
    )
    assert aiokafka_options(settings) == {
        "bootstrap_servers": BOOTSTRAP,
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "gw",
        "sasl_plain_password": PASSWORD,
    }
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.protocol.value, credentials.mechanism.value) == ("SASL_PLAINTEXT", "PLAIN")


def test_sasl_ssl_takes_the_password_from_its_file(tmp_path: Path, pki: dict[str, str]) -> None:
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    settings = Settings.from_env(
        env(
            KAFKA_SECURITY_PROTOCOL="SASL_SSL",
            KAFKA_SASL_USERNAME="gateway",
            KAFKA_SASL_PASSWORD_FILE=str(secret),
            KAFKA_CA=pki["ca"],
        )
    )
    options = aiokafka_options(settings)
    assert isinstance(options.pop("ssl_context"), ssl.SSLContext)
    assert options == {
        "bootstrap_servers": BOOTSTRAP,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "gateway",
        "sasl_plain_password": PASSWORD,
    }
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.protocol.value, credentials.mechanism.value) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (credentials.username, credentials.password) == ("gateway", PASSWORD)


# -- the password is never shown ---------------------------------------------------------------------


def test_vigil_config_masks_the_password_and_shows_the_file_path(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text(PASSWORD)
    base = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    variables = env(KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", KAFKA_SASL_USERNAME="gw")
    rows, _ = inspect(variables | {"VIGIL_KAFKA_SASL_PASSWORD": PASSWORD})
    assert {r.var: r.value for r in rows}["VIGIL_KAFKA_SASL_PASSWORD"] == MASK
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "config"],
        env=base | variables | {"VIGIL_HOME": str(tmp_path), "VIGIL_KAFKA_SASL_PASSWORD": PASSWORD},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    shown = {line.split()[0]: line for line in done.stdout.splitlines() if line.startswith("VIGIL_")}
    assert MASK in shown["VIGIL_KAFKA_SASL_PASSWORD"]
    assert "SASL_PLAINTEXT" in shown["VIGIL_KAFKA_SECURITY_PROTOCOL"]


# -- every client gets the options -------------------------------------------------------------------

CLIENTS = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient", "AIOKafkaClient"}


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _is_faust_app(call: ast.Call) -> bool:
    func = call.func
    return isinstance(func, ast.Attribute) and func.attr == "App" and _name(func.value) == "faust"


def _constructions() -> list[tuple[str, ast.Call]]:
    found = []
    for folder in ("app", "agents"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Call) and (_name(node.func) in CLIENTS or _is_faust_app(node)):
                    found.append((f"{path.relative_to(ROOT)}:{node.lineno}", node))
    return found


def test_every_kafka_client_is_built_with_the_security_options() -> None:
    constructions = _constructions()
    assert len(constructions) >= 7  # gateway, worker, topics (2), preflight, alerts, loadtest
    missing = []
    for where, call in constructions:
        if _name(call.func) == "App":
            given = {k.arg: k.value for k in call.keywords}
            ok = _name(getattr(given.get("broker_credentials"), "func", ast.Name(""))) == "faust_credentials"
        else:
            spread = [k.value for k in call.keywords if k.arg is None]
            spread_options = any(
                isinstance(v, ast.Call) and _name(v.func) == "aiokafka_options" for v in spread
            )
            ok = spread_options and all(k.arg != "bootstrap_servers" for k in call.keywords)
        if not ok:
            missing.append(where)
    assert missing == [], "Kafka clients built without app.infra.kafka_security's options"


# -- topics on a cluster with ACLs -------------------------------------------------------------------


class _RefusingAdmin:
    """A secured cluster as a principal sees it: only the topics it may
    describe are listed, and creating any topic is refused (TOPIC_AUTHORIZATION_FAILED)."""

    def __init__(self, **config) -> None: ...
    async def start(self) -> None: ...
    async def close(self) -> None: ...

    async def list_topics(self) -> list[str]:
        return ["vigil.readings", "vigil.rejected", "vigil.device-seqs"]

    async def create_topics(self, wanted) -> object:
        return type("Response", (), {"topic_errors": [(t.name, 29, "") for t in wanted]})()


async def test_a_principal_leaves_alone_the_topics_it_may_not_see_and_does_not_use(monkeypatch) -> None:
    from app.infra import topics

    monkeypatch.setattr(topics, "AIOKafkaAdminClient", _RefusingAdmin)
    settings = Settings(kafka_bootstrap=BOOTSTRAP)
    await topics.ensure_topics(settings, needs=("vigil.readings", "vigil.rejected", "vigil.device-seqs"))
    with pytest.raises(topics.TopicError, match="creating topic vigil.alerts failed with Kafka error 29"):
        await topics.ensure_topics(settings, needs=("vigil.readings", "vigil.alerts"))
