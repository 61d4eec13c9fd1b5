"""Prometheus alert rules generated from the KPI catalog (`aiops-maturity rules --out FILE`).

Four families, each on the exported contract series only:
- `AiopsKpiBelowTarget`: one rule per KPI and level target, `aiops_kpi_met == 0` for the KPI's `for:`.
- `AiopsKpiNoData`: the same KPI/level has been `no_data` longer than its staleness limit.
- `AiopsMaturityLevelDropped`: a team's level is below the highest it held in the last day.
- `AiopsCollectorDown` / `AiopsMonitorAbsent`: a collector reports down; the monitor's series are gone.
- `AiopsSnapshotStale`: the served snapshot is older than three cycle intervals, and at least
  `STALE_SNAPSHOT_SECONDS` (cycles keep failing), so every number on the dashboards is frozen even
  though the monitor answers.

Severity is computed in PromQL, so Alertmanager can route on it: a KPI target at a level the team
held within `HELD_LOOKBACK` is `critical` (the team is losing, or has lost, that level); at the level
right above the current one it is `warning` (it blocks the next level); anything further up is `info`
(roadmap, not actionable today; the shipped Alertmanager config drops it). A level label is a string
and cannot be compared with a gauge value, so each rule pins its own level number (the generator
knows it) and joins the team's level `on(team)`.

Replicas: every replica exports the same snapshot (docs/replicas.md), so Prometheus holds one copy
per scraped replica, differing in `instance` (and `pod` under the Prometheus Operator). Each
expression first reduces the copies with `max without (REPLICA_LABELS)`, so an alert fires once,
not once per replica, and keeps the target's other labels (job, namespace) for routing. A scrape
configuration that adds another per-replica label needs it added to REPLICA_LABELS.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from metrics.catalog import Catalog, Kpi, SYMBOL, Target, load_catalog

DEFAULT_GRAFANA_URL = "http://localhost:3000"
KPI_DASHBOARD = "d/aiops-kpi/aiops-kpi-detail"  # uid/slug fixed in monitor/generate/grafana/maturity.py
REPLICA_LABELS = "instance, pod"
ONE = f"max without ({REPLICA_LABELS})"  # one copy of a snapshot series, whichever replica served it
STALE_SNAPSHOT_SECONDS = 600  # the floor: 20 missed cycles at the default 30 s interval
# The oldest snapshot any replica serves: one alert whichever replica is behind (a leader whose
# cycles fail, or a replica that cannot read the leader's snapshot).
STALE_SNAPSHOT = (f"{ONE} (aiops_snapshot_age_seconds)\n  > clamp_min(3 * {ONE} (aiops_cycle_interval_seconds), "
                  f"{STALE_SNAPSHOT_SECONDS})")
HELD_LOOKBACK = "1d"  # how long a level reached stays "held" for severity and for the level-drop alert


@dataclass(frozen=True)
class AlertPolicy:
    """How long a condition must hold before the alert fires (Prometheus durations)."""

    unmet_for: str = "15m"   # KPI below target: long enough to ride out one bad evaluation cycle
    no_data_for: str = "1h"  # KPI without enough samples: a quiet hour is normal, a quiet shift is not


DEFAULT_POLICY = AlertPolicy()
# KPIs whose value moves more, or is built from rarer events, wait longer. The catalog stays
# declarative (it has no alerting field), so the table lives here; a KPI not listed gets the default.
POLICIES: dict[str, AlertPolicy] = {
    # Rates over the evaluation window jump with traffic bursts and provider hiccups.
    "provider_availability": AlertPolicy("30m", "1h"),
    "gateway_latency_p50_seconds": AlertPolicy("30m", "1h"),
    "latency_p95_seconds": AlertPolicy("30m", "1h"),
    # Slow-moving shares: an hour below target is still not urgent.
    "cache_hit_rate": AlertPolicy("1h", "2h"),
    "cost_attribution_coverage": AlertPolicy("1h", "2h"),
    "evaluation_coverage": AlertPolicy("1h", "2h"),
    "trace_coverage": AlertPolicy("1h", "2h"),
    # Built from incidents (a handful a week): minimum samples take days to gather.
    "mttr_seconds": AlertPolicy("1h", "1d"),
    "autonomous_resolution_rate": AlertPolicy("1h", "1d"),
    "human_intervention_rate": AlertPolicy("1h", "1d"),
    "emergent_capability_detection": AlertPolicy("1h", "7d"),
    # Week-over-week and daily-period KPIs change once a day at most.
    "cost_per_quality_point": AlertPolicy("6h", "1d"),
    "self_improvement_rate": AlertPolicy("6h", "1d"),
    "cost_prediction_accuracy": AlertPolicy("6h", "2d"),
    # DORA over the trailing 30 days from a few deployments a week: moves once per deployment.
    "deployment_frequency": AlertPolicy("6h", "2d"),
    "lead_time_for_changes": AlertPolicy("6h", "2d"),
    "change_failure_rate": AlertPolicy("1h", "2d"),
    # Needs 60 minutes of history before it has data at all.
    "system_health_score": AlertPolicy("30m", "2h"),
}


@dataclass(frozen=True)
class RuleSpec:
    """One generated rule plus what the tests need to know about it."""

    group: str
    alert: str
    expr: str
    for_: str
    labels: dict[str, str]
    annotations: dict[str, str]
    probe: str             # the series the rule watches: must exist while the monitor runs
    condition: str         # the raw condition without severity joins: non-empty exactly when it fires
    kpi: str | None = None

    def as_rule(self) -> dict:
        rule = {"alert": self.alert, "expr": self.expr, "for": self.for_}
        if self.labels:
            rule["labels"] = dict(self.labels)
        rule["annotations"] = dict(self.annotations)
        return rule


def _severity(base: str, level: int, model: str) -> str:
    """`base` with a `severity` label: critical / warning / info by the team's level (see module doc)."""
    held = f'max by (team) (max_over_time(aiops_maturity_level{{model="{model}"}}[{HELD_LOOKBACK}]))'
    current = f'max by (team) (aiops_maturity_level{{model="{model}"}})'
    branches = [
        ("critical", f"{base}\n  and on(team) ({held} >= {level})"),
        ("warning", f"{base}\n  and on(team) ({current} == {level - 1})"),
        ("info", base),
    ]
    parts = [f'label_replace(\n  {expr},\n  "severity", "{name}", "", "")' for name, expr in branches]
    # `or on(...)` keeps the first branch that matched for a series: the most severe one.
    return "\nor on(kpi, level, team)\n".join(parts) + "\n"


def _target_text(kpi: Kpi, target: Target) -> str:
    return f"{SYMBOL[target.comparator]} {target.value:g} {kpi.unit}"


def _dashboard_link(grafana_url: str, kpi: str) -> str:
    return f"{grafana_url.rstrip('/')}/{KPI_DASHBOARD}?var-kpi={kpi}&var-team={{{{ $labels.team }}}}"


def kpi_rules(catalog: Catalog, grafana_url: str) -> list[RuleSpec]:
    specs: list[RuleSpec] = []
    for kpi in catalog.kpis:
        policy = POLICIES.get(kpi.id, DEFAULT_POLICY)
        for target in sorted(kpi.targets, key=lambda t: t.level):
            sel = f'{{kpi="{kpi.id}",level="{target.level}"}}'
            target_text = _target_text(kpi, target)
            # Same values as the series' own labels; they make each rule unique (promtool's duplicate lint)
            # and let Alertmanager route on kpi/level even when the expression changes.
            static = {"kpi": kpi.id, "level": str(target.level)}
            common = {"remediation": " ".join(kpi.remediation.split()),
                      "dashboard": _dashboard_link(grafana_url, kpi.id)}
            # The value is the KPI's, so $value in the annotations reads as the measurement.
            unmet = f"{ONE} (aiops_kpi_value{sel})\n  and on(kpi, level, team) ({ONE} (aiops_kpi_met{sel}) == 0)"
            specs.append(RuleSpec(
                "aiops-maturity-kpis", "AiopsKpiBelowTarget", _severity(f"({unmet})", target.level, catalog.model),
                policy.unmet_for, static, {
                    "summary": f"{kpi.name} misses its level-{target.level} target for team {{{{ $labels.team }}}}",
                    "description": (f"{kpi.id} is {{{{ $value | printf \"%.4g\" }}}} {kpi.unit}; level {target.level} "
                                    f"needs {target_text}. Unmet for at least {policy.unmet_for}."),
                    **common,
                }, f"aiops_kpi_met{sel}", f"aiops_kpi_met{sel} == 0", kpi.id))
            no_data = f"{ONE} (aiops_kpi_no_data{sel}) == 1"
            specs.append(RuleSpec(
                "aiops-maturity-data", "AiopsKpiNoData", _severity(f"({no_data})", target.level, catalog.model),
                policy.no_data_for, static, {
                    "summary": f"{kpi.name} has had no data for team {{{{ $labels.team }}}} for {policy.no_data_for}",
                    "description": (f"{kpi.id} has fewer than {kpi.min_samples} samples in its window, so level "
                                    f"{target.level} ({target_text}) cannot be credited. Check that its source "
                                    f"sends data and its collector is up."),
                    **common,
                }, f"aiops_kpi_no_data{sel}", no_data, kpi.id))
    return specs


def level_rules(grafana_url: str) -> list[RuleSpec]:
    # All models, not only the catalog's: a drop is a drop whichever model scored it.
    def dropped(sel: str) -> str:
        held = f"max by (model, team) (max_over_time(aiops_maturity_level{sel}[{HELD_LOOKBACK}]))"
        return f"{ONE} (aiops_maturity_level{sel})\n  < on(model, team) group_left()\n  {held}"

    # The organisation's row dropping is critical, one team's is a warning; the label sets differ by team.
    org, teams = dropped('{team="all"}'), dropped('{team!="all"}')
    expr = (f'label_replace(\n  {org},\n  "severity", "critical", "", "")\n'
            f'or\nlabel_replace(\n  {teams},\n  "severity", "warning", "", "")\n')
    held_query = ("{{ with printf \"max(max_over_time(aiops_maturity_level{model='%s',team='%s'}[" + HELD_LOOKBACK
                  + "]))\" $labels.model $labels.team | query }}{{ . | first | value }}{{ end }}")
    return [RuleSpec(
        "aiops-maturity-level", "AiopsMaturityLevelDropped", expr, "10m", {}, {
            "summary": "Maturity level of team {{ $labels.team }} dropped ({{ $labels.model }} model)",
            "description": f"Level {{{{ $value }}}} now; {held_query} within the last {HELD_LOOKBACK}. "
                           "The KPI alerts for this team say which target broke.",
            "remediation": "Fix the KPIs of the lost level first: they are the team's critical AiopsKpiBelowTarget "
                           "and AiopsKpiNoData alerts.",
            "dashboard": f"{grafana_url.rstrip('/')}/d/aiops-team/aiops-team-view?var-team={{{{ $labels.team }}}}",
        }, "aiops_maturity_level", dropped(""))]


def collector_rules(grafana_url: str) -> list[RuleSpec]:
    link = f"{grafana_url.rstrip('/')}/d/aiops-collectors/aiops-collector-health"
    last = ("{{ with printf \"aiops_collector_last_success_timestamp_seconds{collector='%s'}\" $labels.collector"
            " | query }}{{ . | first | value | humanizeTimestamp }}{{ else }}never{{ end }}")
    return [
        RuleSpec("aiops-maturity-collectors", "AiopsCollectorDown", f"{ONE} (aiops_collector_up) == 0\n", "10m",
                 {"severity": "warning"}, {
                     "summary": "Collector {{ $labels.collector }} is down",
                     "description": f"Its last attempt failed; last success: {last}. Its KPIs keep the last good "
                                    "values until the source's staleness limit, then turn no_data.",
                     "remediation": "Check the collector's source (URL, credentials, network) and the monitor's log; "
                                    "for litellm_push, check the proxy's generic_api logger or CustomLogger.",
                     "dashboard": link,
                 }, "aiops_collector_up", f"{ONE} (aiops_collector_up) == 0"),
        RuleSpec("aiops-maturity-collectors", "AiopsSnapshotStale",
                 f"{STALE_SNAPSHOT}\n",
                 "5m", {"severity": "critical"}, {
                     "summary": "The maturity snapshot is {{ $value | humanizeDuration }} old: cycles are failing",
                     "description": "The monitor answers, but no collection cycle has completed for a while, so every "
                                    "KPI, level and alert shows frozen numbers. aiops_cycle_failures_total counts "
                                    "the failed attempts.",
                     "remediation": "Read the monitor's log for 'collection cycle failed' and its /healthz (a store "
                                    "that cannot write says so there); with replicas, the log of the one with "
                                    "aiops_cycle_leader 1, or the stale one's for 'shared snapshot'.",
                     "dashboard": link,
                 }, "aiops_snapshot_age_seconds",
                 f"{STALE_SNAPSHOT}"),
        RuleSpec("aiops-maturity-collectors", "AiopsMonitorAbsent", "absent(aiops_maturity_level)\n", "10m",
                 {"severity": "critical"}, {
                     "summary": "No maturity series in Prometheus: the monitor is down or not scraped",
                     "description": "aiops_maturity_level has been absent for 10 minutes, so every KPI alert is blind.",
                     "remediation": "Check the monitor's /healthz and the Prometheus scrape target for it.",
                     "dashboard": link,
                 }, "aiops_maturity_level", "absent(aiops_maturity_level)"),
    ]


def rule_specs(catalog: Catalog | None = None, grafana_url: str = DEFAULT_GRAFANA_URL) -> list[RuleSpec]:
    catalog = catalog or load_catalog()
    return kpi_rules(catalog, grafana_url) + level_rules(grafana_url) + collector_rules(grafana_url)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the PromQL) as literal blocks, so the file reads like hand-written rules."""


_Dumper.add_representer(
    str, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None))


def render_rules(catalog: Catalog | None = None, grafana_url: str = DEFAULT_GRAFANA_URL) -> str:
    catalog = catalog or load_catalog()
    groups: dict[str, list[dict]] = {}
    for spec in rule_specs(catalog, grafana_url):
        groups.setdefault(spec.group, []).append(spec.as_rule())
    document = {"groups": [{"name": name, "rules": rules} for name, rules in groups.items()]}
    header = (f"# Generated from the '{catalog.model}' KPI catalog by `aiops-maturity rules` (monitor/generate/rules.py).\n"
              "# Do not edit: change the catalog or monitor/generate/rules.py and regenerate.\n")
    return header + yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)


def write_rules(path: str | Path, model: str = "aiops", grafana_url: str = DEFAULT_GRAFANA_URL) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_rules(load_catalog(model), grafana_url), encoding="utf-8")
    return path
