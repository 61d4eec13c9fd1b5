"""The operations dashboards: Collector health (is the evidence flowing?) and Cost."""
from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db

from monitor.generate.grafana import kit

REJECTED = 'outcome=~"rejected|too_old|unauthorized|too_large|bad_body"'
SPEND = 'aiops_kpi_value{kpi="monthly_spend_usd"'
# Until the forecast collector lands, aiops_cost_forecast_usd{team,horizon} is not exported at all.
FORECAST_NOTE = ("Forecast series `aiops_cost_forecast_usd{team,horizon}` come from the forecast collector; "
                 "this panel stays empty until it is configured.")


def collector_health() -> db.Dashboard:
    board = kit.new_dashboard("aiops-collectors", "AI-Ops maturity: collector health",
                              "Whether the evidence behind the KPIs is arriving: collectors, ingest, cycles.", [])
    board = board.with_panel(kit.status_timeline(
        "Collector up", "max by (collector) (aiops_collector_up)", "{{collector}}",
        "1 while the collector's last attempt succeeded. The push collector (litellm_push) is up once payloads arrive.",
        h=6, collectors=True))
    board = board.with_panel(kit.bar_panel(
        "Time since last success", "time() - max by (collector) (aiops_collector_last_success_timestamp_seconds)",
        "{{collector}}", "Seconds since each collector last succeeded; a push route is quiet when no traffic flows.",
        "s", w=12, h=7))
    board = board.with_panel(kit.stat_panel(
        "Rejected share of ingested payloads",
        f"(sum(rate(aiops_ingest_payloads_total{{{REJECTED}}}[$__rate_interval])) or vector(0))\n"
        "/ sum(rate(aiops_ingest_payloads_total[$__rate_interval]))", "rejected",
        "Payloads refused (malformed, too old, unauthorised, too large, unparsable body) / all payloads received.",
        unit="percentunit", w=12, h=7))
    board = board.with_panel(kit.timeseries_panel(
        "Ingest rate by route and outcome",
        [("sum by (route, outcome) (rate(aiops_ingest_payloads_total[$__rate_interval]))", "{{route}} {{outcome}}")],
        "Payloads per second on the ingest routes: accepted, duplicates, health checks, and each rejection reason.",
        unit="reqps"))
    board = board.with_panel(kit.timeseries_panel(
        "Rejections by reason",
        [(f"sum by (outcome) (rate(aiops_ingest_payloads_total{{{REJECTED}}}[$__rate_interval]))", "{{outcome}}")],
        "Rejected payloads per second by reason; empty while nothing has ever been rejected.", unit="reqps"))
    board = board.with_panel(kit.timeseries_panel(
        "Collection cycle duration", [
            ("histogram_quantile(0.95,\n"
             "  sum by (le) (rate(aiops_cycle_duration_seconds_bucket[$__rate_interval])))", "p95"),
            ("sum(rate(aiops_cycle_duration_seconds_sum[$__rate_interval]))\n"
             "/ sum(rate(aiops_cycle_duration_seconds_count[$__rate_interval]))", "mean")],
        "Wall time of one collection cycle; it should stay well below the scheduler interval.", unit="s", w=24))
    return board


def cost() -> db.Dashboard:
    team = kit.query_variable("team", "Team", f"label_values({SPEND}}}, team)", True, "all")
    board = kit.new_dashboard("aiops-cost", "AI-Ops maturity: cost",
                              "Spend by team (trailing 30 days), attribution, and forecast against actual.", [team])
    teams = 'team!="all",team=~"$team"'
    board = board.with_panel(kit.bar_panel(
        "Spend by team (trailing 30 days)", f"max by (team) ({SPEND},{teams}}})", "{{team}}",
        "Sum of response_cost over the trailing 30 days per team; `unattributed` has no team identity.",
        "currencyUSD", w=10))
    board = board.with_panel(kit.pie_panel(
        "Attributed vs unattributed spend", [
            (f'sum(max by (team) ({SPEND},team!~"all|unattributed"}}))', "attributed"),
            (f'sum(max by (team) ({SPEND},team="unattributed"}}))', "unattributed")],
        "Spend of requests that carry a team identity against spend that does not (trailing 30 days).",
        "currencyUSD", w=7))
    board = board.with_panel(kit.stat_panel(
        "Attribution coverage", 'max(aiops_kpi_value{kpi="cost_attribution_coverage",team="all"})', "coverage",
        "Attributed share of spend in the evaluation window; level 2 needs at least 90 %.", unit="percentunit",
        w=7, h=8).thresholds(kit.thresholds((None, "red"), (0.9, "green"))))
    board = board.with_panel(kit.timeseries_panel(
        "Spend by team over time", [(f"max by (team) ({SPEND},{teams}}})", "{{team}}")],
        "Trailing-30-day spend per team as it evolves.", unit="currencyUSD", w=24))
    board = board.with_panel(kit.timeseries_panel(
        "Forecast vs actual, per day", [
            ('max by (team) (aiops_cost_forecast_usd{horizon="1d",team=~"$team"})', "forecast {{team}} (tomorrow)"),
            (f"max by (team) ({SPEND},team=~\"$team\"}}) / 30", "actual {{team}} (30-day daily mean)")],
        "Tomorrow's forecast per team next to the actual daily mean of the trailing 30 days (the accuracy KPI "
        "below scores each forecast against its exact day). " + FORECAST_NOTE, unit="currencyUSD", dashed="^forecast"))
    board = board.with_panel(kit.bar_panel(
        "Forecast, next 7 days", 'max by (team) (aiops_cost_forecast_usd{horizon="7d",team!="all",team=~"$team"})',
        "{{team}}", "Forecast spend per team for the 7 days from tomorrow. " + FORECAST_NOTE, "currencyUSD", w=12))
    board = board.with_panel(kit.timeseries_panel(
        "Cost prediction accuracy", [
            ('max by (team) (aiops_kpi_value{kpi="cost_prediction_accuracy",team=~"$team"})', "{{team}}"),
            ('max(aiops_kpi_target{kpi="cost_prediction_accuracy"})', "target")],
        "1 - |forecast - actual| / actual over closed days; no data until forecasts cover 7 closed days. "
        + FORECAST_NOTE, unit="percentunit", dashed="^target", w=24))
    return board
