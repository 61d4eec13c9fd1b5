"""Every dashboard query and every alert rule against a real Prometheus scraping the running demo,
and one alert end to end: Prometheus -> Alertmanager (shipped config) -> a webhook held by the test."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.dashboards.alerting_stack import JOB, WEBHOOK_TOKEN, metric_names, substitute
from tests.integration.integration_support import wait_until
from metrics.catalog import load_catalog
from monitor.generate.dashboards import EXPECTED_EMPTY, FUTURE_SERIES, panel_queries, variable_queries
from monitor.generate.rules import HELD_LOOKBACK, rule_specs

pytestmark = pytest.mark.integration

GRAFANA = Path(__file__).resolve().parents[2] / "dashboards" / "grafana"
ALERT_TIMEOUT = 60


def _dashboards() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(GRAFANA.glob("*.json"))}


def _expected_empty(expr: str) -> str | None:
    return next((reason for key, reason in EXPECTED_EMPTY.items() if key in expr), None)


def test_every_panel_query_returns_data(alerting_stack):
    prom = alerting_stack.prometheus
    exported = prom.names()
    problems, empty = [], []
    for name, data in _dashboards().items():
        for title, ref, raw in panel_queries(data):
            expr = substitute(raw)
            where = f"{name} / {title} / {ref}"
            unknown = metric_names(expr) - exported - set(FUTURE_SERIES)
            if unknown:
                problems.append(f"{where}: reads series the monitor does not export: {sorted(unknown)}")
                continue
            if not prom.query(expr):
                reason = _expected_empty(expr)
                (empty if reason else problems).append(f"{where}: empty" + (f" (expected: {reason})" if reason else ""))
    assert not problems, "\n".join(problems)
    print("\nexpected-empty panel queries:\n  " + "\n  ".join(empty))


def test_every_variable_query_returns_values(alerting_stack):
    prom = alerting_stack.prometheus
    for name, data in _dashboards().items():
        for variable, query in variable_queries(data):
            inner, _, label = substitute(query).removeprefix("label_values(").removesuffix(")").rpartition(",")
            values = {r["metric"].get(label.strip()) for r in prom.query(f"count by ({label.strip()}) ({inner})")}
            assert values - {None}, f"{name}: variable {variable} ({query}) has no values"


def test_panels_refer_only_to_exported_or_documented_series(alerting_stack):
    """A second, independent read: the names a panel reads are the monitor's own (job of the demo)."""
    exported = alerting_stack.prometheus.names()
    assert {"aiops_maturity_level", "aiops_kpi_met", "aiops_kpi_no_data", "aiops_collector_up"} <= exported
    read = {name for data in _dashboards().values() for _, _, expr in panel_queries(data)
            for name in metric_names(substitute(expr))}
    assert read - exported == set(FUTURE_SERIES) & read, sorted(read - exported)
    assert metric_names('sum by (le) (rate(aiops_cycle_duration_seconds_bucket{x="y"}[1m] offset 1d))') == \
        {"aiops_cycle_duration_seconds_bucket"}


def test_every_rule_expression_runs_and_matches_its_condition(alerting_stack):
    """Each rule expression returns exactly the series of its raw condition (no `for:` in an instant
    query), its watched series exist unless the KPI is verifiably no_data in the demo, and the
    severity label follows the team's level."""
    prom = alerting_stack.prometheus
    # A few scrapes back: a scrape's samples are stamped with its start and appended when it ends,
    # so at "now" a later query could see a sample an earlier one did not (the levels read below
    # and the rules' severity joins must see the same data).
    at = time.time() - 5
    no_data_kpis = {(r["metric"]["kpi"], r["metric"]["level"])
                    for r in prom.query("min by (kpi, level) (aiops_kpi_no_data) == 1", at)}
    level = {r["metric"]["team"]: float(r["value"][1]) for r in prom.query('aiops_maturity_level{model="aiops"}', at)}
    held = {r["metric"]["team"]: float(r["value"][1]) for r in
            prom.query(f'max_over_time(aiops_maturity_level{{model="aiops"}}[{HELD_LOOKBACK}])', at)}
    key_labels = ("kpi", "level", "team", "model", "collector")
    fired, expected_empty = set(), []
    for spec in rule_specs(load_catalog()):
        result = prom.query(spec.expr, at)
        condition = prom.query(spec.condition, at)
        keys = lambda rows: {tuple(r["metric"].get(k) for k in key_labels) for r in rows}  # noqa: E731
        assert keys(result) == keys(condition), f"{spec.alert} {spec.kpi}: expression and condition disagree"
        if not prom.query(spec.probe, at):
            kpi_level = (spec.labels.get("kpi"), spec.labels.get("level"))
            assert kpi_level in no_data_kpis, f"{spec.alert}: {spec.probe} is empty but the KPI has data"
            expected_empty.append(f"{spec.probe}: the KPI is no_data in the demo (its source is not part of it)")
        if not result:
            expected_empty.append(f"{spec.alert} {spec.labels}: not firing in the demo ({spec.condition} is empty)")
        for row in result:
            labels = row["metric"]
            fired.add((spec.alert, labels.get("kpi")))
            if spec.alert in ("AiopsKpiBelowTarget", "AiopsKpiNoData"):
                kpi_level, team = int(labels["level"]), labels["team"]
                want = ("critical" if held.get(team, -1) >= kpi_level
                        else "warning" if level.get(team) == kpi_level - 1 else "info")
                assert labels["severity"] == want, f"{spec.alert} {labels}: severity should be {want}"
    # The demo's flaky and dead deployments keep provider availability below 99 %.
    assert ("AiopsKpiBelowTarget", "provider_availability") in fired
    assert any(alert == "AiopsKpiNoData" for alert, _ in fired)
    print(f"\n{len(expected_empty)} rule expressions or probes empty, each for the stated reason")


def test_alert_reaches_the_webhook_through_alertmanager(alerting_stack):
    webhook = alerting_stack.webhook
    catalog = load_catalog()

    def delivered():
        return [a for a in webhook.alerts() if a["labels"].get("alertname") == "AiopsKpiBelowTarget"
                and a["labels"].get("kpi") == "provider_availability" and a["status"] == "firing"]

    alerts = wait_until(delivered, ALERT_TIMEOUT, "AiopsKpiBelowTarget{kpi=provider_availability} at the webhook",
                        interval=0.5, on_timeout=lambda: f"received: {[a['labels'] for a in webhook.alerts()]}")
    alert = alerts[0]
    assert alert["labels"]["level"] == "2" and alert["labels"]["severity"] in ("warning", "critical")
    assert alert["labels"]["job"] == JOB
    remediation = " ".join(catalog.kpi("provider_availability").remediation.split())
    assert alert["annotations"]["remediation"] == remediation
    assert alert["annotations"]["dashboard"].endswith(
        f"/d/aiops-kpi/aiops-kpi-detail?var-kpi=provider_availability&var-team={alert['labels']['team']}")
    value = float(alert["annotations"]["description"].split(" is ")[1].split()[0])
    assert 0 <= value < 0.99
    # The shipped routing: info (targets beyond the next level) never reaches the monitor.
    assert all(a["labels"].get("severity") != "info" for a in webhook.alerts())
    assert all(h.get("Authorization") == f"Bearer {WEBHOOK_TOKEN}" for h in webhook.headers)
    assert webhook.received[0]["receiver"] == "aiops-monitor"
