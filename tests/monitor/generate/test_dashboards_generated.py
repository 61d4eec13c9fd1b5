"""The checked-in rules, dashboards and stack configs: generated without diff, valid for the real tools."""
from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from metrics.catalog import load_catalog
from monitor.generate.dashboards import build_dashboards, write_dashboards
from monitor.generate.grafana import kit
from monitor.generate.grafana.schema import DashboardSchemaError, validate_dashboard
from monitor.generate.rules import DEFAULT_POLICY, POLICIES, render_rules, rule_specs, write_rules

REPO = Path(__file__).resolve().parents[3]
DASH = REPO / "dashboards"
RULES = DASH / "prometheus" / "aiops-rules.yml"
GRAFANA = DASH / "grafana"
TIMEOUT = 120


def run(cmd: list, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT)


# ---------------------------------------------------------------------------- generated == checked in
def test_rules_regenerate_without_diff(tmp_path):
    written = write_rules(tmp_path / "rules.yml")
    assert written.read_text() == RULES.read_text(), \
        "aiops-rules.yml is stale: run `aiops-maturity rules --out dashboards/prometheus/aiops-rules.yml`"
    assert render_rules() == RULES.read_text()


def test_dashboards_regenerate_without_diff(tmp_path):
    written = {p.name: p.read_text() for p in write_dashboards(tmp_path)}
    checked_in = {p.name: p.read_text() for p in GRAFANA.glob("*.json")}
    assert set(written) == set(checked_in)
    for name, text in written.items():
        assert text == checked_in[name], f"{name} is stale: run `aiops-maturity dashboards --out dashboards/grafana`"


# ---------------------------------------------------------------------------- dashboards
@pytest.mark.parametrize("path", sorted(GRAFANA.glob("*.json")), ids=lambda p: p.name)
def test_checked_in_dashboards_fit_the_schema(path):
    data = json.loads(path.read_text())
    validate_dashboard(data)
    panels = [inner for panel in data["panels"] for inner in [panel, *panel.get("panels", [])]]
    assert len({p["id"] for p in panels}) == len(panels), "panel ids must be unique"
    for panel in panels:
        if panel["type"] not in ("row", "text"):
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert panel["targets"], f"{panel['title']}: no query"
    assert data["uid"].startswith("aiops-") and kit.TAG in data["tags"]


def test_dashboard_uids_are_unique():
    """Grafana keys dashboards by uid: two files with one uid would overwrite each other."""
    uids = [json.loads(p.read_text())["uid"] for p in sorted(GRAFANA.glob("*.json"))]
    assert len(set(uids)) == len(uids), uids


@pytest.mark.parametrize("breakage", ["unknown panel field", "unknown option", "bad enum", "wrong type",
                                      "misspelt transformation", "bad value mapping"])
def test_schema_check_rejects_broken_dashboards(breakage):
    data = copy.deepcopy(build_dashboards()["aiops-overview.json"])
    stat = next(p for p in data["panels"] if p["type"] == "stat")
    tbl = next(p for p in data["panels"] if p["type"] == "table")
    {
        "unknown panel field": lambda: stat.__setitem__("fieldConfg", {}),
        "unknown option": lambda: stat["options"].__setitem__("colourMode", "value"),
        "bad enum": lambda: stat["options"].__setitem__("colorMode", "rainbow"),
        "wrong type": lambda: stat["gridPos"].__setitem__("w", "wide"),
        "misspelt transformation": lambda: tbl["transformations"][0].__setitem__("opts", {}),
        "bad value mapping": lambda: tbl["fieldConfig"]["overrides"][0]["properties"][0]["value"][0]
        .__setitem__("option", {}),
    }[breakage]()
    with pytest.raises(DashboardSchemaError):
        validate_dashboard(data)


def test_grafana_provisioning_matches_the_stack():
    datasources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "aiops.yml").read_text())
    (source,) = datasources["datasources"]
    assert source["uid"] == kit.PROVISIONED_DATASOURCE_UID and source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "aiops.yml").read_text())
    path = providers["providers"][0]["options"]["path"]
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./dashboards/grafana:{path}:ro" in mounts
    assert "./dashboards/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts


# ---------------------------------------------------------------------------- rules
def test_every_kpi_target_has_its_rules():
    catalog = load_catalog()
    specs = rule_specs(catalog)
    for kpi in catalog.kpis:
        policy = POLICIES.get(kpi.id, DEFAULT_POLICY)
        for target in kpi.targets:
            for alert, duration in (("AiopsKpiBelowTarget", policy.unmet_for), ("AiopsKpiNoData", policy.no_data_for)):
                (spec,) = [s for s in specs if s.alert == alert and s.labels.get("kpi") == kpi.id
                           and s.labels.get("level") == str(target.level)]
                assert spec.for_ == duration
                assert spec.annotations["remediation"] == " ".join(kpi.remediation.split())
                assert f"var-kpi={kpi.id}" in spec.annotations["dashboard"]
                assert f'level="{target.level}"' in spec.expr and '"severity", "critical"' in spec.expr
    assert set(POLICIES) <= {k.id for k in catalog.kpis}, "a policy names a KPI the catalog does not have"
    families = {s.alert for s in specs}
    assert families == {"AiopsKpiBelowTarget", "AiopsKpiNoData", "AiopsMaturityLevelDropped", "AiopsCollectorDown",
                        "AiopsMonitorAbsent", "AiopsSnapshotStale"}


def test_promtool_checks_the_rules(promtool_bin):
    result = run([promtool_bin, "check", "rules", RULES])
    assert result.returncode == 0, result.stdout + result.stderr
    count = sum(len(g["rules"]) for g in yaml.safe_load(RULES.read_text())["groups"])
    assert f"SUCCESS: {count} rules found" in result.stdout


def test_promtool_unit_tests_cover_every_alert_family(promtool_bin):
    tests = sorted((DASH / "prometheus" / "tests").glob("*.yml"))
    result = run([promtool_bin, "test", "rules", *tests], cwd=DASH / "prometheus")
    assert result.returncode == 0, result.stdout + result.stderr
    tested = {case["alertname"] for path in tests for group in yaml.safe_load(path.read_text())["tests"]
              for case in group.get("alert_rule_test", [])}
    assert tested == {s.alert for s in rule_specs()}


# ---------------------------------------------------------------------------- stack configs
def test_prometheus_config_of_the_stack(promtool_bin, tmp_path):
    config_dir = tmp_path / "prometheus"
    config_dir.mkdir()
    (config_dir / "aiops-rules.yml").write_text(RULES.read_text())
    secret = tmp_path / "litellm_master_key"
    secret.write_text("sk-test")
    text = (DASH / "prometheus" / "prometheus.yml").read_text()
    # The only change: the credentials file the compose entrypoint writes at start.
    assert text.count("/etc/prometheus/secrets/litellm_master_key") == 1
    (config_dir / "prometheus.yml").write_text(text.replace("/etc/prometheus/secrets/litellm_master_key", str(secret)))
    result = run([promtool_bin, "check", "config", config_dir / "prometheus.yml"])
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(text)
    targets = {c["job_name"]: c["static_configs"][0]["targets"] for c in config["scrape_configs"]}
    assert targets["aiops-monitor"] == ["monitor:9464"] and targets["litellm"] == ["litellm:4000"]
    assert config["rule_files"] == ["aiops-rules.yml"]


def test_alertmanager_config_of_the_stack(amtool_bin):
    path = DASH / "alertmanager" / "alertmanager.yml"
    result = run([amtool_bin, "check-config", path])
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(path.read_text())
    (hook,) = next(r for r in config["receivers"] if r["name"] == config["route"]["receiver"])["webhook_configs"]
    assert hook["url"] == "http://monitor:9464/webhooks/alertmanager" and hook["send_resolved"] is True
    assert config["route"]["routes"][0] == {"receiver": "discard", "matchers": ['severity="info"']}


def _compose(compose_bin, *args) -> dict:
    result = run([compose_bin, "--env-file", ".env.example", "-f", "docker-compose.yml", *args, "config"], cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    return yaml.safe_load(result.stdout)


def test_docker_compose_config(compose_bin):
    _compose(compose_bin)
    config = _compose(compose_bin, "--profile", "langfuse", "--profile", "traffic")
    services = config["services"]
    assert {"monitor", "litellm", "litellm-db", "prometheus", "alertmanager", "grafana", "langfuse-web", "langfuse-worker",
            "langfuse-db", "langfuse-clickhouse", "langfuse-redis", "langfuse-minio"} <= set(services)
    assert services["monitor"]["build"]["context"] == str(REPO)
    for name, service in services.items():
        if "image" in service and name not in ("monitor", "traffic"):  # those two run the image built here
            tag = service["image"].rpartition(":")[2]
            assert re.search(r"\d", tag) and "latest" not in tag, f"{name}: image not pinned ({service['image']})"
        if name != "traffic":  # a request loop: nothing depends on it
            assert "healthcheck" in service, f"{name}: no healthcheck"
        for key, value in (service.get("environment") or {}).items():
            assert not str(value).startswith("#"), f"{name}.{key}: a comment leaked into the value"
    for name in ("monitor", "litellm-db", "prometheus", "alertmanager", "grafana", "langfuse-db",
                 "langfuse-clickhouse", "langfuse-minio"):
        named = [str(v).split(":")[0] for v in services[name]["volumes"]]
        assert set(named) & set(config["volumes"]), f"{name}: no data volume"
    assert all("langfuse" in services[n].get("profiles", []) for n in services if n.startswith("langfuse"))
    text = (REPO / "docker-compose.yml").read_text()
    assert "CHANGEME" not in text and "sk-" not in text, "secrets belong in .env, not in docker-compose.yml"


def test_monitor_config_of_the_stack_is_valid():
    from importlib.metadata import entry_points

    from monitor.runtime.config import load_config

    config = load_config(DASH / "stack" / "monitor.yaml", environ={"AIOPS_INGEST_TOKEN": "t"})
    assert config.server.host == "0.0.0.0" and config.store.url == "sqlite:////data/history.db"
    factories = {ep.name: ep for ep in entry_points(group="aiops_maturity.sources")}
    for name, section in config.sources.items():
        factories[name].load().config_model.model_validate(section or {})
    assert "alertmanager" in config.sources, "Alertmanager's webhook needs the alertmanager source"


def test_litellm_configs_of_the_stack():
    for path in sorted((DASH / "stack" / "litellm").glob("*.yaml")):
        config = yaml.safe_load(path.read_text())
        assert {"generic_api", "prometheus"} <= set(config["litellm_settings"]["callbacks"]), path.name
        assert config["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    dockerfile = (REPO / "Dockerfile").read_text()
    assert dockerfile.startswith("# ") and "FROM python:3.11-slim" in dockerfile and "RUN pip install ." in dockerfile
