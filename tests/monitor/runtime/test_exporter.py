"""The exporter reads the snapshot only: a fresh registry, values read back with get_sample_value."""
from prometheus_client import CollectorRegistry

from monitor.runtime.exporter import MaturityCollector
from monitor.runtime.service import CollectorStatus, Snapshot
from metrics.catalog import load_catalog
from metrics.report import build_report
from monitor.runtime.windows import windows_by_team
from collectors.litellm.requests import aggregate_by_team, gateway_result, group_requests
from collectors.litellm.payload import parse_attempt
from tests.scenario import scenario_payloads


def snapshot(teams_top_n=10):
    attempts = [a for a in map(parse_attempt, scenario_payloads()) if not a.health_check]
    per_team = aggregate_by_team(group_requests(attempts).values())
    windows = windows_by_team({"evaluation": (0, 86400), "30d": (0, 86400)}, [gateway_result({"evaluation": per_team, "30d": per_team})], [], teams_top_n)
    report = build_report(load_catalog(), windows, 1.0)
    return Snapshot(report, load_catalog(), {"litellm_push": CollectorStatus(True, 123.0)})


def test_values_come_from_the_snapshot():
    registry = CollectorRegistry()
    current = {"s": Snapshot(catalog=load_catalog())}
    registry.register(MaturityCollector(lambda: current["s"]))
    assert registry.get_sample_value("aiops_maturity_level", {"model": "aiops", "team": "all"}) is None
    assert registry.get_sample_value("aiops_kpi_target", {"kpi": "api_error_rate", "level": "1",
                                                           "comparator": "lt"}) == 0.1
    current["s"] = snapshot()
    assert registry.get_sample_value("aiops_maturity_level", {"model": "aiops", "team": "all"}) == 0
    assert registry.get_sample_value("aiops_maturity_score", {"model": "aiops", "team": "all"}) == 0.5
    assert registry.get_sample_value("aiops_kpi_value", {"kpi": "cache_hit_rate", "level": "3",
                                                          "team": "all"}) == 1 / 6
    assert registry.get_sample_value("aiops_dimension_level", {"model": "aiops", "dimension": "cost"}) == 1
    assert registry.get_sample_value("aiops_collector_last_success_timestamp_seconds",
                                     {"collector": "litellm_push"}) == 123.0


def test_team_labels_are_bounded():
    registry = CollectorRegistry()
    snap = snapshot(teams_top_n=1)
    registry.register(MaturityCollector(lambda: snap))
    teams = {s.labels["team"] for m in registry.collect() if m.name == "aiops_maturity_level" for s in m.samples}
    assert teams == {"all", "search", "unattributed"}


def test_folding_teams_never_changes_the_org_row():
    """More teams than labels: `other` takes the rest, and `all` still counts every request once,
    in every window, however often the same aggregates are folded."""
    from tests.payloads import payload
    items = [payload(f"c{i}", team_alias=f"team{i % 7}", start=1_800_000_000.0 + i) for i in range(70)]
    per_team = aggregate_by_team(group_requests(map(parse_attempt, items)).values())
    spans = {"evaluation": (0, 86400), "30d": (0, 86400)}
    windows = windows_by_team(spans, [gateway_result({name: per_team for name in spans})], [], 2)
    for name in ("evaluation", "30d"):
        assert windows["all"][name].signals["requests"] == 70
        assert sum(windows[t][name].signals["requests"] for t in windows if t != "all") == 70
        assert windows["other"][name].signals["requests"] == 50
    assert sum(a.requests for a in per_team.values()) == 70  # inputs untouched


def test_roadmap_criteria_per_level_for_the_org_and_the_next_level_per_team():
    registry = CollectorRegistry()
    snap = snapshot()
    registry.register(MaturityCollector(lambda: snap))

    def value(team, level, state):
        return registry.get_sample_value("aiops_roadmap_criteria", {"team": team, "level": level, "state": state})

    # the organisation, level-1 guide: spend measured from 30 requests (proven), half the spend without a team
    # (50 % < 99 %: disproven), no traces (no data), the guidelines (not measurable)
    assert [value("all", "1", s) for s in ("proven", "disproven", "no_data", "unmeasurable")] == [1, 1, 1, 1]
    for level in "12345":
        counts = snap.report.roadmap["all"]["levels"][level]
        assert [value("all", level, s) for s in counts] == list(counts.values())
        assert sum(counts.values()) == 4
    # a team at level 0: its next level's four states only
    assert snap.report.teams["search"].level == 0
    assert value("search", "1", "proven") == snap.report.roadmap["search"]["counts"]["proven"] == 2
    assert value("search", "2", "proven") is None
    samples = [s for m in registry.collect() if m.name == "aiops_roadmap_criteria" for s in m.samples]
    assert len(samples) == 5 * 4 + 2 * 4
    assert {s.labels["state"] for s in samples} == {"proven", "disproven", "no_data", "unmeasurable"}
