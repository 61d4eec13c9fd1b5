"""The digest's content from a controlled history: levels and their change, KPI counts, movers,
blockers with next actions ordered by gap, alerts of the week, trends, and the hooks."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from metrics.catalog import load_catalog
from monitor.digest.builder import build_digest
from monitor.digest.hooks import claims_section, incidents_section
from monitor.digest.week import WeekError, last_complete_week, parse_week, shift_week, week_bounds, week_of
from monitor.storage.history import History
from collectors.litellm.store import Store
from monitor.storage.database import open_database
from tests.monitor.digest.digest_support import DAY, W02, fake_report, seed_weeks

W09 = W02 + 7 * 7 * DAY
HEADLINE = ["api_error_rate", "cache_hit_rate", "latency_p95_seconds", "provider_availability"]
BEFORE = dict(error_rate=0.15, cache_rate=0.35, attributed=0.8, latency=0.6)
WED, SAT = W09 + 2 * DAY + 9 * 3600, W09 + 5 * DAY + 9 * 3600


@pytest.fixture
def history(tmp_path):
    store = Store(open_database(f"sqlite:///{tmp_path / 'h.db'}"))
    history = History(store.engine)
    seed_weeks(history, W02, 7, [BEFORE] * 7)  # W02..W08
    history.record(fake_report(WED, error_rate=0.02, cache_rate=0.35, attributed=0.8, latency=0.6), WED)
    history.record(fake_report(SAT, error_rate=0.02, cache_rate=0.2, attributed=0.8, latency=0.6), SAT)
    yield history
    store.close()


def build(history, week="2026-W09", **kwargs):
    return build_digest(history, week, "UTC", "aiops", HEADLINE, weeks=8, now=W09 + 8 * DAY, **kwargs)


def test_levels_scores_and_change_from_last_week(history):
    digest = build(history)
    now = fake_report(SAT, error_rate=0.02, cache_rate=0.2, attributed=0.8, latency=0.6)
    before = fake_report(W09 - 2 * DAY + 9 * 3600, seed=6, **BEFORE)
    assert digest.has_data and not digest.in_progress and digest.snapshots == 2
    (model,) = digest.models
    org = model["org"]
    assert (org["level"], org["score"]) == (now.org.level, now.org.score) == (1, org["score"])
    assert org["level_delta"] == 1 and org["score_delta"] == pytest.approx(now.org.score - before.org.score)
    assert [t["team"] for t in model["teams"]] == ["search", "support", "unattributed"]
    statuses = [r.headline.status for r in now.org.kpis.values()]
    assert digest.counts["all"] == {s: statuses.count(s) for s in ("met", "unmet", "no_data")}


def test_blocking_kpis_are_ordered_by_relative_gap_with_catalog_next_actions(history):
    digest = build(history)
    catalog = load_catalog("aiops")
    unmet = [b for b in digest.blocking if b["status"] == "unmet"]
    assert [b["kpi"] for b in unmet][:3] == ["gateway_latency_p50_seconds", "cost_attribution_coverage",
                                             "provider_availability"]
    gaps = [b["relative_gap"] for b in unmet]
    assert gaps == sorted(gaps, reverse=True)
    # p50 0.6 s against < 0.5 s (DDSketch: within 0.5 % of 0.6 s)
    assert unmet[0]["gap"] == pytest.approx(0.1, abs=0.004) and unmet[0]["relative_gap"] == pytest.approx(0.2, abs=0.008)
    assert all(b["level"] == 2 for b in digest.blocking)
    for b in digest.blocking:
        assert b["remediation"] == " ".join(catalog.kpi(b["kpi"]).remediation.split())
    no_data = [b["status"] == "no_data" for b in digest.blocking]
    assert no_data == sorted(no_data)  # no_data last


def test_movers_rank_by_relative_movement_and_say_which_way(history):
    movers = {(m["team"], m["kpi"]): m for m in build(history).movers}
    error = movers[("all", "api_error_rate")]
    assert (error["before"], error["after"], error["direction"]) == (pytest.approx(0.15), pytest.approx(0.02), "improved")
    cache = movers[("all", "cache_hit_rate")]
    assert cache["direction"] == "worsened" and cache["relative"] == pytest.approx(-3 / 7)
    assert len(build(history).movers) == 8


def test_alerts_of_the_week_from_status_changes(history):
    alerts = build(history).alerts
    new = {(a["team"], a["kpi"]) for a in alerts["new"]}
    resolved = {(a["team"], a["kpi"]): a for a in alerts["resolved"]}
    assert ("all", "cache_hit_rate") in new
    assert {("all", "api_error_rate"), ("search", "api_error_rate")} <= set(resolved)
    assert resolved[("all", "api_error_rate")]["at"] == WED
    assert ("all", "cache_hit_rate") in {(a["team"], a["kpi"]) for a in alerts["open"]}
    assert alerts["new_count"] == len(alerts["new"])


def test_trends_have_one_point_per_day_with_data_over_eight_weeks(history):
    digest = build(history)
    assert digest.trend_start == W02
    by_kpi = {t["kpi"]: t for t in digest.trends}
    assert list(by_kpi) == HEADLINE
    points = by_kpi["api_error_rate"]["points"]
    assert len(points) == 16 and points[-1] == (SAT, pytest.approx(0.02))
    assert by_kpi["api_error_rate"]["target"] == 0.1
    assert len(digest.level_trend) == 16


def test_a_week_without_snapshots_has_no_data(history):
    digest = build(history, week="2026-W20")
    assert not digest.has_data and digest.models == [] and digest.trends == [] and digest.snapshots == 0
    first = build(history, week="2026-W02")  # data, but nothing the week before
    assert first.models[0]["org"]["score_delta"] is None and first.movers == []


def test_incidents_hook():
    start, end = W09, W09 + 7 * DAY
    assert incidents_section([], start, end)["none"] is True
    assert incidents_section(None, start, end)["none"] is True
    section = incidents_section([
        {"id": "a", "title": "Provider 5xx", "team": "search", "opened_at": W09 - 3600, "resolved_at": W09 + 1800},
        {"id": "b", "labels": {"alertname": "HighLatency", "severity": "page"}, "starts_at": "2026-02-24T10:00:00Z",
         "ends_at": None},
        {"id": "c", "title": "old", "opened_at": W02, "resolved_at": W02 + 60},
    ], start, end)
    assert [i["id"] for i in section["new"]] == ["b"] and section["new"][0]["title"] == "HighLatency"
    assert [i["id"] for i in section["resolved"]] == ["a"] and section["median_resolution_seconds"] == 5400
    assert [i["id"] for i in section["open"]] == ["b"] and section["none"] is False


def test_claims_hook():
    assert claims_section(None) is None
    crosswalk = {"model": "aiops", "models": {"aiops": {
        "model": "aiops", "level": 1, "level_name": None, "score": 1.4, "warnings": [],
        "answers": {"q1": {"claim": 4, "evidence": 2, "scored": 2, "status": "capped"},
                    "q2": {"claim": 1, "evidence": 3, "scored": 1, "status": "verified"}}}}}
    (row,) = claims_section(crosswalk)["models"]
    assert row["counts"] == {"verified": 1, "partly_verified": 0, "capped": 1, "unverified": 0}
    assert row["capped"] == [{"question": "q1", "claim": 4, "evidence": 2, "scored": 2}]


def test_weeks_in_a_time_zone():
    berlin = ZoneInfo("Europe/Berlin")
    start, end = week_bounds("2026-W13", berlin)  # summer time starts on Sunday 29 March
    assert start == datetime(2026, 3, 23, tzinfo=berlin) and (end.timestamp() - start.timestamp()) == 167 * 3600
    assert week_of(datetime(2026, 3, 29, 23, 30, tzinfo=berlin).timestamp(), berlin) == "2026-W13"
    assert week_of(datetime(2026, 3, 29, 23, 30, tzinfo=berlin).timestamp(), ZoneInfo("UTC")) == "2026-W13"
    assert week_of(datetime(2026, 3, 30, 0, 30, tzinfo=berlin).timestamp(), berlin) == "2026-W14"
    assert last_complete_week(datetime(2026, 1, 5, 8, 0, tzinfo=berlin).timestamp(), berlin) == "2026-W01"
    assert shift_week("2026-W01", -1) == "2025-W52" and parse_week("2020-W53") == (2020, 53)
    for bad in ("2026-13", "2026-W54", "2025-W53", "W05"):
        with pytest.raises(WeekError):
            parse_week(bad)


def test_every_model_of_the_self_assessment_with_its_change(tmp_path):
    from metrics.assessment import assess_all, evidence_from_report

    store = Store(open_database(f"sqlite:///{tmp_path / 'm.db'}"))
    history = History(store.engine)
    for week, attributed in ((0, 0.5), (1, 1.0)):  # attribution fixed in the second week: q9 is no longer capped
        t = W02 + week * 7 * DAY + DAY
        report = fake_report(t, attributed=attributed)
        models = assess_all({"model": "aiops", "answers": {f"q{i}": 3 for i in range(1, 13)}},
                            evidence_from_report(report.as_dict()))
        history.record(report, t, models=models)
    digest = build_digest(history, "2026-W03", "UTC", "aiops", HEADLINE, now=W02 + 14 * DAY)
    store.close()
    rows = {(m["model"], m["source"]): m["org"] for m in digest.models}
    assert list(rows)[0] == ("aiops", "telemetry")
    assert set(rows) == {("aiops", "telemetry")} | {(n, "self-assessment") for n in
                                                    ("aiops", "selfhosted", "platform", "enterprise", "stages")}
    assert rows[("aiops", "self-assessment")]["score_delta"] > 0
    assert digest.kpis and set(digest.counts) == {"all", "search", "support"}  # KPIs: the telemetry model only
