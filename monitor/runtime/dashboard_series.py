"""The KPI dashboard's series (the model's "KPI Dashboard Template"), from the snapshot's periods.

Periods (monitor.runtime.service.dashboard_periods): `24h` (the last 24 hours), `prev_24h` (the 24
hours before them) and `mtd` (the calendar month to date, UTC). Per team label (the same bounded
labels as the KPIs, `all` for the organisation), from the gateway store:
- aiops_gateway_requests, aiops_gateway_failed_requests, aiops_gateway_cache_hit_requests,
  aiops_gateway_cost_usd {team, period}: sums over the period (requests as the KPIs count them);
- aiops_gateway_latency_seconds {team, period="24h", quantile}: p50, p95, p99 of request latency;
- aiops_gateway_cache_savings_usd, aiops_gateway_cache_hits_unpriced {team, period}: what the
  cache hits would have cost (collectors.litellm.model_mix has the rule), and the hits not priced;
- aiops_budget_monthly_usd {team}: the configured `budgets`;
- aiops_kpi_period_value {kpi, team, period}: each KPI of the evaluation window evaluated over
  `24h` and `prev_24h` instead (quality, evaluation coverage, error rate ... and their change);
  absent while the period has too little data, as aiops_kpi_value is.
Changes (against `prev_24h`) and shares (of the budget) are left to the dashboard's queries, so a
period with no data shows as no data rather than as a 0 % change.
"""
from __future__ import annotations

from typing import Iterator

from signals.labels import BoundedGaugeMetricFamily

SUMS = {
    "requests": ("aiops_gateway_requests", "Gateway requests in the period (health probes excluded)."),
    "failed_requests": ("aiops_gateway_failed_requests", "Gateway requests that failed, in the period."),
    "cache_hit_requests": ("aiops_gateway_cache_hit_requests", "Gateway requests answered from the cache."),
    "cost_usd": ("aiops_gateway_cost_usd", "Gateway spend in USD in the period."),
    "cache_savings_usd": ("aiops_gateway_cache_savings_usd",
                          "What the period's cache hits would have cost at their model group's mean cost per "
                          "non-cached request in the period (groups with too few such requests are not priced)."),
    "cache_hits_unpriced": ("aiops_gateway_cache_hits_unpriced",
                            "Cache hits whose model group had too few non-cached requests in the period to price."),
}
QUANTILES = (0.5, 0.95, 0.99)


def dashboard_families(periods: dict[str, dict[str, dict]], budgets: dict[str, float],
                       period_kpis: dict[str, dict] | None = None, windows: dict[str, str] | None = None) -> Iterator:
    """`periods`: team label -> period -> signals (as the service folded them); `period_kpis`:
    period -> team -> Assessment; `windows`: KPI id -> its catalog window (only `evaluation` KPIs
    have a period value)."""
    families = {name: BoundedGaugeMetricFamily(metric, help_text, labels=["team", "period"])
                for name, (metric, help_text) in SUMS.items()}
    latency = BoundedGaugeMetricFamily("aiops_gateway_latency_seconds",
                                       "Request latency quantiles over the last 24 hours.",
                                       labels=["team", "period", "quantile"])
    for team, by_period in sorted(periods.items()):
        for period, signals in sorted(by_period.items()):
            if not signals:
                continue
            for name, family in families.items():
                value = signals.get(name)
                if isinstance(value, (int, float)):
                    family.add_metric([team, period], float(value))
            distribution = signals.get("request_latency_seconds")
            if distribution is not None and getattr(distribution, "count", 0):
                for q in QUANTILES:
                    value = distribution.quantile(q)
                    if value is not None:
                        latency.add_metric([team, period, f"{q:g}"], value)
    budget = BoundedGaugeMetricFamily("aiops_budget_monthly_usd", "Configured monthly budget in USD (`budgets`).",
                                      labels=["team"])
    for team, usd in sorted(budgets.items()):
        budget.add_metric([team], usd)
    kpi_value = BoundedGaugeMetricFamily("aiops_kpi_period_value",
                                         "KPI value over a dashboard period (24h, prev_24h); absent while no_data.",
                                         labels=["kpi", "team", "period"])
    for period, by_team in sorted((period_kpis or {}).items()):
        for team, assessment in sorted(by_team.items()):
            for kpi_id, result in assessment.kpis.items():
                if (windows or {}).get(kpi_id) == "evaluation" and result.value is not None \
                        and result.samples >= result.min_samples:
                    kpi_value.add_metric([kpi_id, team, period], float(result.value))
    yield from (*families.values(), latency, budget, kpi_value)
