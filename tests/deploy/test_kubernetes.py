"""deploy/kubernetes: each overlay renders with the real `kubectl kustomize`, every object validates
against the Kubernetes schemas (and the prometheus-operator CRDs), the PrometheusRule passes
`promtool`, the generated files match their generators, and the pod is what the image and the
config need (non-root, read-only root, probes, ports, Secret keys)."""
from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from monitor.generate import kubernetes as generator
from monitor.runtime.config import ENV_OVERRIDES, build_config
from monitor.runtime.sources import validate_source_sections
from tests.deploy.kube import DEPLOY, OVERLAYS, REPO, kubectl, kubernetes_versions, one, promtool, render, validate

GENERATED = DEPLOY / "base" / "generated"
SECRET = "aiops-maturity"
DOCKERFILE = (REPO / "Dockerfile").read_text()


def container(objects: list[dict]) -> dict:
    containers = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def secret_env(objects: list[dict]) -> dict[str, dict]:
    """Environment variable -> its secretKeyRef."""
    return {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container(objects)["env"]
            if "secretKeyRef" in e.get("valueFrom", {})}


def monitor_config(objects: list[dict]) -> dict:
    config_maps = [o for o in objects if o["kind"] == "ConfigMap" and "monitor.yaml" in o.get("data", {})]
    assert len(config_maps) == 1
    return yaml.safe_load(config_maps[0]["data"]["monitor.yaml"])


# ---------------------------------------------------------------- generated files: no drift


def test_generated_files_match_their_generators(tmp_path):
    written = generator.write_files(tmp_path)
    assert {p.name for p in written} == {p.name for p in GENERATED.iterdir()}
    for path in written:
        assert path.read_text() == (GENERATED / path.name).read_text(), \
            f"deploy/kubernetes/base/generated/{path.name} is out of date; regenerate it with: {generator.COMMAND}"


def test_dashboard_config_maps_hold_the_committed_dashboards():
    maps = [d for d in yaml.safe_load_all((GENERATED / generator.DASHBOARD_FILE).read_text()) if d]
    committed = {p.name: p.read_text() for p in (REPO / "dashboards" / "grafana").glob("*.json")}
    shipped = {}
    for config_map in maps:
        assert config_map["kind"] == "ConfigMap"
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"  # the sidecar's default
        shipped.update(config_map["data"])
    assert shipped == committed, "the dashboard ConfigMaps differ from dashboards/grafana/*.json: regenerate " \
                                 f"both (aiops-maturity dashboards --out dashboards/grafana; {generator.COMMAND})"
    for text in shipped.values():
        json.loads(text)


def test_prometheus_rule_groups_equal_the_rules_file():
    rule = yaml.safe_load((GENERATED / generator.RULE_FILE).read_text())
    rules_file = yaml.safe_load((REPO / "dashboards" / "prometheus" / "aiops-rules.yml").read_text())
    assert rule["spec"]["groups"] == rules_file["groups"]


# ---------------------------------------------------------------- rendering and schemas


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_every_part(overlay):
    objects = render(overlay)
    kinds = sorted(o["kind"] for o in objects)
    dashboards = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["labels"].get("grafana_dashboard")]
    assert len(dashboards) == len(list((REPO / "dashboards" / "grafana").glob("*.json")))
    for kind in ["Deployment", "Service", "ServiceMonitor", "PrometheusRule"]:
        assert kinds.count(kind) == 1, kind
    assert "Secret" not in kinds, "tokens come from an existing Secret, never from the manifests"
    names = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_against_its_schema(overlay):
    for version in kubernetes_versions():
        for obj in render(overlay):
            try:
                validate(obj, version)
            except jsonschema.ValidationError as error:
                pytest.fail(f"overlays/{overlay}: {obj['kind']} {obj['metadata']['name']} is not valid for "
                            f"Kubernetes {version}: {error}"[:2000])


def _invalid(obj: dict) -> bool:
    try:
        validate(obj, kubernetes_versions()[0])
    except jsonschema.ValidationError:  # kubernetes-validate's ValidationError is one too
        return True
    return False


def test_validation_catches_wrong_manifests():
    objects = render(OVERLAYS[0])
    deployment = copy.deepcopy(one(objects, "Deployment"))
    probe = deployment["spec"]["template"]["spec"]["containers"][0]
    probe["readynessProbe"] = probe.pop("readinessProbe")  # a misspelt field
    monitor = copy.deepcopy(one(objects, "ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["authorization"]["credentials"] = "token"  # a string for a SecretKeySelector
    rule = copy.deepcopy(one(objects, "PrometheusRule"))
    rule["spec"]["groups"][0]["rules"][0]["for"] = 15  # a number for a duration
    service = copy.deepcopy(one(objects, "Service"))
    service["spec"]["ports"][0]["port"] = "9464"
    assert all(_invalid(obj) for obj in [deployment, monitor, rule, service])


def test_prometheus_rule_passes_promtool(tmp_path):
    rule = one(render(OVERLAYS[0]), "PrometheusRule")
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False, allow_unicode=True))
    out = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    count = sum(len(group["rules"]) for group in rule["spec"]["groups"])
    assert f"SUCCESS: {count} rules found" in out.stdout


# ---------------------------------------------------------------- the pod


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pod_runs_non_root_on_a_read_only_root(overlay):
    objects = render(overlay)
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    main = container(objects)
    uid = int(re.search(r"useradd .*--uid (\d+)", DOCKERFILE).group(1))
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == uid
    assert pod["securityContext"]["fsGroup"] == uid  # a fresh volume at /data is writable
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    security = main["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    # What the process writes: the history and digests (/data), matplotlib's cache and temp files (/tmp).
    mounts = {m["mountPath"]: m["name"] for m in main["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert set(mounts.values()) <= set(volumes), "a volumeMount without its volume"
    assert "emptyDir" in volumes[mounts["/tmp"]]
    env = {e["name"]: e.get("value") for e in main["env"]}
    assert env["MPLCONFIGDIR"].startswith("/tmp/")
    config = build_config(monitor_config(objects), environ={})
    writable = [path for path, name in mounts.items() if name != "config"]
    store_file = config.store.url.removeprefix("sqlite:///")
    for path in [store_file, str(config.digest.out_dir)]:
        assert any(path.startswith(m + "/") for m in writable), f"{path} is not on a writable volume"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_ports_and_command_match_the_image_and_config(overlay):
    objects = render(overlay)
    main = container(objects)
    routes = set(re.findall(r'Route\("(/[a-z]+)"', (REPO / "monitor" / "runtime" / "http.py").read_text()))
    assert main["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"  # 503 until the first cycle completed
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"]:
        assert main[probe]["httpGet"]["path"] in routes, probe
        assert main[probe]["httpGet"]["port"] == "http"
    config = build_config(monitor_config(objects), environ={"AIOPS_INGEST_TOKEN": "t"})
    validate_source_sections(config.sources)
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    assert ports["http"] == config.server.port == int(re.search(r"EXPOSE (\d+)", DOCKERFILE).group(1))
    assert config.server.host == "0.0.0.0", "a pod must listen on its address for the Service"
    service = one(objects, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"].items() <= one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"].items()
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.M).group(1))
    assert main["args"] == cmd
    assert cmd[-1] in {f"{m['mountPath']}/monitor.yaml" for m in main["volumeMounts"] if m["name"] == "config"}
    monitor = one(objects, "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == "http"


def _env_names(model: type[BaseModel]) -> set[str]:
    """Defaults of every `*_env` field (the variable a secret is read from), nested sections included."""
    names = set()
    for name, field in model.model_fields.items():
        if name.endswith("_env") and isinstance(field.default, str):
            names.add(field.default)
        for candidate in _types(field.annotation):
            names |= _env_names(candidate)
    return names


def _types(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [t for arg in getattr(annotation, "__args__", ()) for t in _types(arg)]


def known_secret_variables() -> set[str]:
    from importlib.metadata import entry_points

    from monitor.digest.config import DigestConfig

    names = set(ENV_OVERRIDES) | _env_names(DigestConfig)
    for ep in entry_points(group="aiops_maturity.sources"):
        names |= _env_names(ep.load().config_model)
    return names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_come_from_the_existing_secret(overlay):
    objects = render(overlay)
    refs = secret_env(objects)
    assert {ref["name"] for ref in refs.values()} == {SECRET}
    unknown = set(refs) - known_secret_variables()
    assert not unknown, f"variables the monitor does not read: {sorted(unknown)}"
    required = {name for name, ref in refs.items() if not ref.get("optional")}
    expected = {"AIOPS_INGEST_TOKEN", "AIOPS_READ_TOKEN"} | ({"AIOPS_STORE_URL"} if overlay == "replicas" else set())
    assert required == expected
    assert "AIOPS_LITELLM_DATABASE_URL" in refs
    # The ServiceMonitor sends the read token that /metrics requires.
    credentials = one(objects, "ServiceMonitor")["spec"]["endpoints"][0]["authorization"]["credentials"]
    assert credentials == {"name": SECRET, "key": refs["AIOPS_READ_TOKEN"]["key"]}
    # Nothing secret in the config file: tokens, keys and URLs with passwords come from the environment.
    assert not re.search(r"token:|password|secret_key|postgresql", yaml.safe_dump(monitor_config(objects)))


def test_single_overlay_keeps_sqlite_on_a_claim():
    objects = render("single")
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"  # SQLite has one writer
    data = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}["data"]
    assert set(data) == {"name", "persistentVolumeClaim"}
    claim = one(objects, "PersistentVolumeClaim")
    assert data["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert build_config(monitor_config(objects), environ={}).store.url.startswith("sqlite:////data/")
    assert "AIOPS_STORE_URL" not in secret_env(objects)
    assert not [o for o in objects if o["kind"] == "PodDisruptionBudget"]


def test_replicas_overlay_runs_on_postgresql_with_a_disruption_budget():
    objects = render("replicas")
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert secret_env(objects)["AIOPS_STORE_URL"] == {"name": SECRET, "key": "store-url"}
    budget = one(objects, "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert not [o for o in objects if o["kind"] == "PersistentVolumeClaim"]
    # AIOPS_STORE_URL overrides the file's SQLite URL.
    config = build_config(monitor_config(objects), environ={"AIOPS_STORE_URL": "postgresql+psycopg://u:p@db/aiops"})
    assert config.store.url.startswith("postgresql")


def test_image_tag_is_the_package_version():
    from importlib.metadata import version

    kustomization = yaml.safe_load((DEPLOY / "base" / "kustomization.yaml").read_text())
    assert {i["name"]: i["newTag"] for i in kustomization["images"]}["aiops-maturity"] == version("aiops-maturity")


# ---------------------------------------------------------------- the docs' install steps


DOCS = (REPO / "docs" / "kubernetes.md").read_text()


def heredoc(target: str, append: bool = False) -> str:
    """The text of a `cat > TARGET <<'EOF'` (or `>>`) block of docs/kubernetes.md."""
    found = re.findall(rf"cat {'>>' if append else '>'} {re.escape(target)} <<'EOF'\n(.*?)\nEOF\n", DOCS, re.S)
    assert len(found) >= 1, f"docs/kubernetes.md has no heredoc for {target}"
    return "\n".join(found) + "\n"


def test_the_docs_overlay_renders(tmp_path):
    mine = tmp_path / "my-aiops"
    mine.mkdir()
    relative = os.path.relpath(DEPLOY / "overlays", mine)  # kustomize refuses absolute resource paths
    kustomization = heredoc("my-aiops/kustomization.yaml").replace("../deploy/kubernetes/overlays", relative)

    def rendered(text: str) -> list[dict]:
        (mine / "kustomization.yaml").write_text(text)
        out = subprocess.run([kubectl(), "kustomize", str(mine)], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return [d for d in yaml.safe_load_all(out.stdout) if d]

    objects = rendered(kustomization)
    assert {o["metadata"].get("namespace") for o in objects} == {"litellm"}
    assert container(objects)["image"].startswith("registry.example.com/")
    for kind in ["ServiceMonitor", "PrometheusRule"]:
        assert one(objects, kind)["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    # Its own config file replaces the base's (the docs' YAML example of a config).
    example = re.search(r"```yaml\n(server:.*?)```", DOCS, re.S).group(1)
    (mine / "monitor.yaml").write_text(example)
    kustomization += heredoc("my-aiops/kustomization.yaml", append=True).split("patches:")[0]
    objects = rendered(kustomization)
    assert monitor_config(objects) == yaml.safe_load(example)
    volumes = {v["name"]: v for v in one(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    config_name = volumes["config"]["configMap"]["name"]
    assert config_name in {o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"}
    # Without the Prometheus Operator: its two kinds dropped.
    objects = rendered(kustomization + "patches:" + heredoc("my-aiops/kustomization.yaml", append=True).split("patches:")[1])
    assert not {"ServiceMonitor", "PrometheusRule"} & {o["kind"] for o in objects}


def test_the_docs_litellm_values_post_to_the_monitor():
    from monitor.runtime.server import INGEST_ROUTE

    values = yaml.safe_load(heredoc("litellm-values.yaml"))
    objects = render("single")
    service = one(objects, "Service")
    endpoint = f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}{INGEST_ROUTE[1]}"
    assert values["envVars"]["GENERIC_LOGGER_ENDPOINT"] == endpoint
    assert values["envVars"]["DEFAULT_BATCH_SIZE"] == "1"
    assert "generic_api" in values["proxy_config"]["litellm_settings"]["callbacks"]
    # The logger's header Secret holds the monitor's ingest token.
    logger_secret = re.search(r"create secret generic (\S+) \\\n\s+--from-literal=GENERIC_LOGGER_HEADERS=\"Authorization=Bearer \$INGEST_TOKEN\"", DOCS)
    assert logger_secret and logger_secret.group(1) in values["environmentSecrets"]
    assert re.search(rf"create secret generic {SECRET} \\\n\s+--from-literal=ingest-token=\"\$INGEST_TOKEN\"", DOCS)
    assert values["masterkeySecretName"] in re.findall(r"create secret generic (\S+) --from-literal=masterkey=", DOCS)
