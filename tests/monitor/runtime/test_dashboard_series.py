"""The KPI dashboard's series: periods, model mix and cache savings, against hand-computed values."""
from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from monitor.runtime.config import build_config
from monitor.runtime.exporter import MaturityCollector
from monitor.runtime.service import Monitor, dashboard_periods
from tests.payloads import payload

NOW = 1_801_000_000.0  # 2027-01-26 (UTC): the month began 25 days before
DAY = 86400


def _traffic():
    """Yesterday: 10 requests of `search` on gpt (6 of 1 cent, 4 cache hits), 2 on claude
    (5 cents, one a cache hit). The day before: 4 requests of `search` on gpt, one failed."""
    items = []
    for i in range(6):
        items.append(payload(f"a{i}", start=NOW - 3600 - i, cost=0.01, team_alias="search") | {"model_group": "gpt"})
    for i in range(4):
        items.append(payload(f"h{i}", start=NOW - 7200 - i, cache_hit=True, team_alias="search") | {"model_group": "gpt"})
    items.append(payload("c0", start=NOW - 600, cost=0.05, team_alias="billing") | {"model_group": "claude"})
    items.append(payload("c1", start=NOW - 500, cache_hit=True, team_alias="billing") | {"model_group": "claude"})
    for i in range(4):
        status = "failure" if i == 0 else "success"
        items.append(payload(f"p{i}", start=NOW - DAY - 3600 - i, cost=0.02, status=status, team_alias="search")
                     | {"model_group": "gpt"})
    return items


@pytest.fixture()
def monitor(tmp_path):
    config = build_config({"store": {"url": f"sqlite:///{tmp_path / 'h.db'}"}, "budgets": {"all": 10.0, "search": 2.5}},
                          environ={})
    m = Monitor(config, clock=lambda: NOW)
    assert m.push.ingest(_traffic()).accepted == 16
    m.run_cycle()
    yield m
    m.close()


def _sample(monitor, name, **labels):
    registry = CollectorRegistry()
    registry.register(MaturityCollector(lambda: monitor.snapshot, monitor.all_sources, monitor.config.budgets))
    return registry.get_sample_value(name, labels)


def test_periods_are_the_last_24_hours_the_24_before_and_the_month_to_date():
    periods = dashboard_periods(NOW)
    cut = 1_800_913_560  # the start of the minute 24 hours before NOW (NOW is 40 s into its minute)
    assert periods["24h"] == (cut, NOW)
    assert periods["prev_24h"] == (cut - DAY, cut - 0.001)  # ends before that minute: none counted twice
    assert periods["mtd"][0] == 1_798_761_600.0  # 2027-01-01 00:00 UTC


def test_gateway_sums_per_period_and_team(monitor):
    assert _sample(monitor, "aiops_gateway_requests", team="all", period="24h") == 12
    assert _sample(monitor, "aiops_gateway_requests", team="search", period="prev_24h") == 4
    assert _sample(monitor, "aiops_gateway_failed_requests", team="search", period="prev_24h") == 1
    assert _sample(monitor, "aiops_gateway_cache_hit_requests", team="all", period="24h") == 5
    assert _sample(monitor, "aiops_gateway_cost_usd", team="all", period="24h") == pytest.approx(0.06 + 0.05)
    assert _sample(monitor, "aiops_gateway_requests", team="all", period="mtd") == 16
    assert _sample(monitor, "aiops_gateway_latency_seconds", team="all", period="24h", quantile="0.99") == \
        pytest.approx(0.1, rel=0.02)
    assert _sample(monitor, "aiops_budget_monthly_usd", team="search") == 2.5


def test_cache_savings_price_hits_at_their_groups_mean_non_cached_cost(monitor):
    # gpt in the 24 h: 6 successful non-cached requests, 0.06 USD -> 0.01 each; 4 hits save 0.04.
    # claude: 1 such request, fewer than MIN_PRICED (5): its hit is not priced.
    assert _sample(monitor, "aiops_gateway_cache_savings_usd", team="search", period="24h") == pytest.approx(0.04)
    assert _sample(monitor, "aiops_gateway_cache_hits_unpriced", team="billing", period="24h") == 1
    assert _sample(monitor, "aiops_gateway_cache_savings_usd", team="all", period="24h") == pytest.approx(0.04)
    # month to date: gpt has 6 + 3 successful non-cached requests for 0.06 + 0.06 USD (the failed
    # one is no price of an answer) -> 0.12 / 9 each.
    assert _sample(monitor, "aiops_gateway_cache_savings_usd", team="all", period="mtd") == pytest.approx(4 * 0.12 / 9)


def test_model_mix_counts_requests_and_spend_per_group(monitor):
    assert _sample(monitor, "aiops_gateway_model_requests", model_group="gpt", period="24h") == 10
    assert _sample(monitor, "aiops_gateway_model_requests", model_group="claude", period="24h") == 2
    assert _sample(monitor, "aiops_gateway_model_cost_usd", model_group="claude", period="24h") == pytest.approx(0.05)
    assert _sample(monitor, "aiops_gateway_model_requests", model_group="gpt", period="mtd") == 14


def test_a_request_at_the_boundary_of_the_two_days_counts_in_one_of_them(tmp_path):
    cut = dashboard_periods(NOW)["24h"][0]
    config = build_config({"store": {"url": f"sqlite:///{tmp_path / 'h.db'}"}}, environ={})
    m = Monitor(config, clock=lambda: NOW)
    try:
        m.push.ingest([payload("before", start=cut - 10), payload("after", start=cut + 10)])
        m.run_cycle()
        assert _sample(m, "aiops_gateway_requests", team="all", period="24h") == 1
        assert _sample(m, "aiops_gateway_requests", team="all", period="prev_24h") == 1
        assert sum(t.requests for t in m.store.model_window(*dashboard_periods(NOW)["prev_24h"]).values()) == 1
    finally:
        m.close()


def test_kpis_over_the_last_24_hours_and_the_24_before(tmp_path):
    """25 requests yesterday with 5 failures, 20 the day before with 2: error rates 0.2 and 0.1."""
    items = [payload(f"n{i}", start=NOW - 1800 - i, status="failure" if i < 5 else "success", team_alias="search")
             for i in range(25)]
    items += [payload(f"o{i}", start=NOW - DAY - 1800 - i, status="failure" if i < 2 else "success",
                      team_alias="search") for i in range(20)]
    config = build_config({"store": {"url": f"sqlite:///{tmp_path / 'h.db'}"}}, environ={})
    m = Monitor(config, clock=lambda: NOW)
    try:
        m.push.ingest(items)
        m.run_cycle()
        assert _sample(m, "aiops_kpi_period_value", kpi="api_error_rate", team="all", period="24h") == pytest.approx(0.2)
        assert _sample(m, "aiops_kpi_period_value", kpi="api_error_rate", team="search", period="prev_24h") == \
            pytest.approx(0.1)
        assert _sample(m, "aiops_kpi_period_value", kpi="monthly_spend_usd", team="all", period="24h") is None  # 30-day KPI
    finally:
        m.close()


def test_the_24h_period_is_read_on_its_own_when_the_evaluation_window_is_shorter(tmp_path):
    """Under the default 24 h window the period reuses the evaluation's aggregates; under 1 h it may not."""
    config = build_config({"store": {"url": f"sqlite:///{tmp_path / 'h.db'}"}, "evaluation_window": "1h"}, environ={})
    m = Monitor(config, clock=lambda: NOW)
    try:
        m.push.ingest(_traffic())
        report = m.run_cycle()
        # the last hour (whole minutes): the 6 gpt requests of the minute an hour ago and the 2 claude ones
        assert report.org.kpis["api_error_rate"].samples == 8
        assert _sample(m, "aiops_gateway_requests", team="all", period="24h") == 12
        assert _sample(m, "aiops_gateway_latency_seconds", team="all", period="24h", quantile="0.5") == \
            pytest.approx(0.1, rel=0.02)
    finally:
        m.close()
