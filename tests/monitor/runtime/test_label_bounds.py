"""Label values on /metrics are bounded in size (signals/labels.py) and in count (teams.top_n), so
the exposition stays under a bound that does not depend on what is posted (README, "Exported series")."""
from __future__ import annotations

import hashlib

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from monitor.runtime.config import build_config
from monitor.runtime.http import create_app
from signals.labels import MAX_LABEL_BYTES, MAX_LABEL_LENGTH, bounded_label
from monitor.runtime.service import Monitor
from tests.payloads import payload

T0 = 1_800_000_000.0
LINE_FIXED_BYTES = 200  # a series line apart from its team value: name, other labels, syntax, value


# ------------------------------------------------------------------ the truncation rule
def test_short_values_are_unchanged():
    for value in ("", "search", "unattributed", "é" * MAX_LABEL_LENGTH, "x" * MAX_LABEL_LENGTH):
        assert bounded_label(value) == value


def test_long_values_are_bounded_and_keep_a_stable_hash_suffix():
    long = "team-" + "a" * 10_000
    out = bounded_label(long)
    assert len(out) == MAX_LABEL_LENGTH
    assert out == long[:119] + "~" + hashlib.sha256(long.encode()).hexdigest()[:8]
    assert bounded_label(long) == out  # stable
    assert len(bounded_label("x" * (MAX_LABEL_LENGTH + 1))) == MAX_LABEL_LENGTH
    assert len(bounded_label("\U0001F600" * 5000).encode()) <= MAX_LABEL_BYTES


def test_two_long_values_with_the_same_prefix_stay_apart():
    prefix = "p" * 300
    a, b = bounded_label(prefix + "-alpha"), bounded_label(prefix + "-beta")
    assert a != b
    assert a[:119] == b[:119] == prefix[:119]


# ------------------------------------------------------------------ /metrics whatever is posted
def metrics_bound(top_n: int, checks: int, base: int) -> int:
    """The documented bound: at most top_n + 3 team rows (the named teams, `other`, `unattributed`,
    `all`), each 2 + 3 * checks series lines (maturity level and score; per KPI check: value, met,
    no_data), each line at most LINE_FIXED_BYTES + MAX_LABEL_BYTES; on top of `base`, what /metrics
    holds with no traffic (target, dimension, collector and process series do not grow with it)."""
    return base + (top_n + 3) * (2 + 3 * checks) * (LINE_FIXED_BYTES + MAX_LABEL_BYTES)


@pytest.fixture()
def monitor(tmp_path):
    config = build_config({"store": {"url": f"sqlite:///{tmp_path / 'h.db'}"}, "teams": {"top_n": 10}}, environ={})
    m = Monitor(config, clock=lambda: T0 + 600)
    yield m
    m.close()


def test_metrics_stay_under_the_bound_with_many_huge_team_names(monitor):
    client = TestClient(create_app(monitor))  # registers the exporter as the server does
    monitor.run_cycle()
    base = len(client.get("/metrics").content)

    teams = [f"{i:03d}-" + "t" * 252 for i in range(500)]  # 256 characters each, 500 distinct teams
    assert all(len(t) == 256 for t in teams)
    items = [payload(f"c{i}-{k}", start=T0 + i * 0.5 + k * 0.01, team_alias=team)
             for i, team in enumerate(teams) for k in range(1 + i % 3)]
    outcome = monitor.push.ingest(items)
    assert outcome.accepted == len(items), outcome.as_dict()
    report = monitor.run_cycle()
    assert len(report.teams) > 10  # the named teams were seen, then folded

    body = client.get("/metrics").content
    checks = sum(len(kpi.targets) for kpi in monitor.catalog.kpis)
    bound = metrics_bound(monitor.config.teams.top_n, checks, base)
    posted = sum(len(t) for t in teams)
    assert len(body) <= bound, f"/metrics is {len(body)} bytes, bound {bound}"

    families = list(text_string_to_metric_families(body.decode()))
    values = [v for f in families for s in f.samples for v in s.labels.values()]
    assert max(len(v.encode()) for v in values) <= MAX_LABEL_BYTES
    team_values = {s.labels["team"] for f in families for s in f.samples if "team" in s.labels}
    assert len(team_values) <= monitor.config.teams.top_n + 3
    assert {"all", "other"} <= team_values
    named = team_values - {"all", "other", "unattributed"}
    assert len(named) == 10 and all(len(t) == MAX_LABEL_LENGTH and "~" in t for t in named)
    # the top 10 by volume (3 requests: i % 3 == 2), ties by name; each stays apart by its hash suffix
    assert {t[:3] for t in named} == {f"{i:03d}" for i in range(2, 30, 3)}
    assert named == {bounded_label(teams[i]) for i in range(2, 30, 3)}
    assert len(body) < posted  # the exposition is no longer proportional to what was posted


def test_the_exporter_bounds_names_that_no_ingest_limit_caught():
    """Names from any source (OTLP, a scrape, a future route): megabyte team, model and collector
    names still come out at most MAX_LABEL_BYTES each, and the exposition under the same bound."""
    from prometheus_client import CollectorRegistry, generate_latest

    from collectors.litellm.payload import parse_attempt
    from metrics.catalog import load_catalog
    from collectors.litellm.requests import aggregate_by_team, group_requests
    from metrics.report import build_report
    from monitor.runtime.exporter import MaturityCollector
    from monitor.runtime.service import CollectorStatus, Snapshot
    from collectors.litellm.requests import gateway_result
    from monitor.runtime.windows import windows_by_team

    catalog = load_catalog()
    short = aggregate_by_team(group_requests(
        parse_attempt(payload(f"c{i}", start=T0 + i, team_alias=f"t{i}")) for i in range(40)).values())
    huge = {f"{i:02d}" + "h" * 1_000_000: aggregate for i, aggregate in enumerate(short.values())}
    windows = windows_by_team({"evaluation": (T0, T0 + 3600), "30d": (T0, T0 + 3600)}, [gateway_result({"evaluation": huge, "30d": huge})], [], 10)
    snapshot = Snapshot(build_report(catalog, windows, 1.0), catalog,
                        {"c" * 1_000_000: CollectorStatus(True, T0)})
    registry = CollectorRegistry()
    registry.register(MaturityCollector(lambda: snapshot))
    empty = CollectorRegistry()
    empty.register(MaturityCollector(lambda: Snapshot(catalog=catalog)))
    body = generate_latest(registry)
    checks = sum(len(kpi.targets) for kpi in catalog.kpis)
    base = len(generate_latest(empty)) + 2 * (LINE_FIXED_BYTES + MAX_LABEL_BYTES)  # + the collector's two series
    assert len(body) <= metrics_bound(10, checks, base)
    families = list(text_string_to_metric_families(body.decode()))
    values = {v for f in families for s in f.samples for v in s.labels.values()}
    assert max(len(v.encode()) for v in values) <= MAX_LABEL_BYTES
    assert len({s.labels["team"] for f in families for s in f.samples if "team" in s.labels}) == 10 + 2  # + all, other
