"""The model's own KPI dashboard ("KPI Dashboard Template" of the AI-ops maturity model): operational
health, cost efficiency and quality, each figure with its change against the 24 hours before.

Every number comes from the monitor's dashboard series (monitor/runtime/dashboard_series.py, defined
in docs/kpis.md, "Dashboard series"); changes and shares are computed here, in the queries, so a
period without data shows no data instead of a 0 % change.
"""
from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from monitor.generate.grafana import kit

TEAM = 'team=~"$team"'  # one team at a time (the variable has no All): a regex only for Grafana's substitution


def _sum(metric: str, period: str) -> str:
    # max by (team) first: every replica exports the same snapshot, so a plain sum over the
    # scraped series would count each team once per replica (docs/replicas.md).
    return f'sum(max by (team) ({metric}{{{TEAM},period="{period}"}}))'


def _kpi(kpi: str, period: str) -> str:
    return f'max(aiops_kpi_period_value{{kpi="{kpi}",{TEAM},period="{period}"}})'


def _per_request(period: str) -> str:
    return f'{_sum("aiops_gateway_cost_usd", period)} / {_sum("aiops_gateway_requests", period)}'


def kpi_dashboard() -> db.Dashboard:
    team = kit.query_variable("team", "Team", 'label_values(aiops_gateway_requests{period="24h"}, team)', False, "all")
    board = kit.new_dashboard(
        "aiops-kpi-dashboard", "AI-Ops maturity: KPI dashboard",
        "The maturity model's KPI dashboard: operational health, cost efficiency and quality over the last 24 hours "
        "(and the month to date), each with its change against the 24 hours before.", [team])
    board = board.with_row(db.Row("Operational health"))
    board = board.with_panel(kit.stat_panel(
        "Request volume (24h)", _sum("aiops_gateway_requests", "24h"), "requests",
        "Requests in the last 24 hours (one per litellm_call_id, health probes excluded).", "short", w=6))
    board = board.with_panel(kit.stat_panel(
        "Request volume: change", f'{_sum("aiops_gateway_requests", "24h")} / '
        f'{_sum("aiops_gateway_requests", "prev_24h")} - 1', "change",
        "Requests in the last 24 hours against the 24 hours before, as a relative change.", "percentunit", w=6))
    board = board.with_panel(kit.stat_panel(
        "Error rate (24h)", _kpi("api_error_rate", "24h"), "error rate",
        "Failed requests / requests over the last 24 hours (the api_error_rate definition).", "percentunit", w=6))
    board = board.with_panel(kit.stat_panel(
        "Error rate: change", f'{_kpi("api_error_rate", "24h")} - {_kpi("api_error_rate", "prev_24h")}', "change",
        "Error rate of the last 24 hours minus that of the 24 hours before (percentage points).", "percentunit",
        w=6))
    board = board.with_panel(kit.stat_panel(
        "Latency p50 / p95 / p99 (24h)", 'max by (quantile) (aiops_gateway_latency_seconds{team=~"$team",period="24h"})',
        "p{{quantile}}", "Request latency quantiles over the last 24 hours (last attempt's end minus first "
        "attempt's start).", "s", w=24, h=4))
    board = board.with_row(db.Row("Cost efficiency"))
    board = board.with_panel(kit.stat_panel(
        "Spend (month to date)", _sum("aiops_gateway_cost_usd", "mtd"), "spend",
        "Spend in USD since the first of the month (UTC).", "currencyUSD", w=6))
    board = board.with_panel(kit.stat_panel(
        "Share of monthly budget", f'{_sum("aiops_gateway_cost_usd", "mtd")} / '
        f'sum(max by (team) (aiops_budget_monthly_usd{{{TEAM}}}))', "of budget",
        "Month-to-date spend / the configured monthly budget (`budgets` in the config; no data without one).",
        "percentunit", w=6))
    board = board.with_panel(kit.stat_panel(
        "Cost per request (24h)", _per_request("24h"), "per request",
        "Spend / requests over the last 24 hours.", "currencyUSD", w=6, decimals=5))
    board = board.with_panel(kit.stat_panel(
        "Cost per request: change", f"({_per_request('24h')}) / ({_per_request('prev_24h')}) - 1", "change",
        "Cost per request of the last 24 hours against the 24 hours before.", "percentunit", w=6))
    board = board.with_panel(kit.stat_panel(
        "Cache savings (month to date)", _sum("aiops_gateway_cache_savings_usd", "mtd"), "saved",
        "What the month's cache hits would have cost at their model group's mean cost per non-cached request; hits "
        "of groups with too few non-cached requests are not priced (a lower bound).", "currencyUSD", w=6))
    board = board.with_panel(kit.stat_panel(
        "Cache hit rate (month to date)", f'{_sum("aiops_gateway_cache_hit_requests", "mtd")} / '
        f'{_sum("aiops_gateway_requests", "mtd")}', "hit rate",
        "Requests answered from the cache / requests, month to date.", "percentunit", w=6))
    board = board.with_panel(kit.pie_panel(
        "Model mix: requests (24h)", [('max by (model_group) (aiops_gateway_model_requests{period="24h"})',
                                      "{{model_group}}")],
        "Share of the last 24 hours' requests per model group that answered (the busiest groups, the rest as "
        "`other`); organisation-wide.", "short", w=6))
    board = board.with_panel(kit.pie_panel(
        "Model mix: spend (24h)", [('max by (model_group) (aiops_gateway_model_cost_usd{period="24h"})',
                                   "{{model_group}}")],
        "Share of the last 24 hours' spend per model group; organisation-wide.", "currencyUSD", w=6))
    board = board.with_row(db.Row("Quality"))
    board = board.with_panel(kit.stat_panel(
        "Average quality score (24h)", _kpi("quality_score_avg", "24h"), "quality",
        "Mean quality score over the last 24 hours (the quality_score_avg definition).", "none", w=6, decimals=3))
    board = board.with_panel(kit.stat_panel(
        "Quality score: change", f'{_kpi("quality_score_avg", "24h")} - {_kpi("quality_score_avg", "prev_24h")}',
        "change", "Mean quality score of the last 24 hours minus that of the 24 hours before.", "none", w=6,
        decimals=3))
    board = board.with_panel(kit.stat_panel(
        "Evaluation coverage (24h)", _kpi("evaluation_coverage", "24h"), "coverage",
        "Share of traces with at least one evaluation score, last 24 hours.", "percentunit", w=6))
    board = board.with_panel(kit.stat_panel(
        "Evaluation coverage: change", f'{_kpi("evaluation_coverage", "24h")} - '
        f'{_kpi("evaluation_coverage", "prev_24h")}', "change",
        "Evaluation coverage of the last 24 hours minus that of the 24 hours before (percentage points).",
        "percentunit", w=6))
    board = board.with_panel(kit.timeseries_panel(
        "Quality trend (7 days)", [('max(aiops_kpi_value{kpi="quality_score_avg",team=~"$team"})', "quality")],
        "The quality score as the monitor exported it, over the last 7 days.", unit="none", w=24)
        .time_from("7d"))
    return board
