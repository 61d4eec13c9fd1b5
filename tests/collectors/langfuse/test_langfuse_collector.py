"""The Langfuse collector against the contract-validated double, client side the official SDK:
values for both server generations, pagination edges, watermarks across restarts, bounded cost."""
from __future__ import annotations

import logging

import pytest

from tests.collectors.langfuse.langfuse_support import PUBLIC, SECRET, langfuse_double
from signals.source import SourceConfigError, SourceContext


def kpi(report, name, team=None):
    assessment = report.org if team is None else report.teams[team]
    result = assessment.kpis[name]
    return result.value, result.samples, result.checks[0].status


def test_kpi_values_for_both_generations(make_setup, generation, caplog):
    caplog.set_level(logging.INFO)
    s = make_setup(generation)
    s.traffic(n=40, traced=36, scored=30)
    report = s.monitor.run_cycle()
    status = s.monitor.collectors["langfuse"]
    assert status.up and status.info["api"] == generation
    assert f"Langfuse API generation detected: {generation}" in caplog.text
    for team in (None, "search"):
        assert kpi(report, "trace_coverage", team) == (pytest.approx(36 / 40), 40, "unmet")
        assert kpi(report, "quality_score_avg", team) == (pytest.approx(0.75), 30, "unmet")  # target > 0.8
        assert kpi(report, "csat", team) == (pytest.approx(4.0), 30, "unmet")
        assert kpi(report, "human_escalation_rate", team) == (pytest.approx(4 / 36), 36, "unmet")
    # v3: the traces list says which traces have scores; v4: scores are read from /v3/scores first
    assert kpi(report, "evaluation_coverage")[:2] == (pytest.approx(30 / 36), 36)
    s.clock["now"] += 30
    assert kpi(s.monitor.run_cycle(), "evaluation_coverage")[:2] == (pytest.approx(30 / 36), 36)  # nothing re-read
    for text in (PUBLIC, SECRET):  # keys never in logs, info or errors
        assert text not in caplog.text and text not in repr(status)


def test_requests_per_cycle_do_not_grow_with_trace_volume(make_setup, generation):
    """Production defaults: one page of traces (and on v4 of scores) per cycle, fixed aggregates."""
    per_cycle = []
    for n in (100, 3000):
        s = make_setup(generation, max_lag="10m", slice="1m", trace_pages=1, score_pages=1, grace="2m")
        s.traffic(n=n, traced=n, scored=n // 2, start=s.clock["now"] - 3500, spacing=3400 / n)
        s.monitor.run_cycle()
        before = s.double.total_requests()
        for _ in range(5):
            s.clock["now"] += 30
            s.monitor.run_cycle()
            assert s.monitor.collectors["langfuse"].up
        per_cycle.append((s.double.total_requests() - before) / 5)
    assert per_cycle[1] <= 1.5 * per_cycle[0], per_cycle


@pytest.mark.parametrize("case", ["empty", "exact_pages", "added_while_paging"])
def test_pagination_edges(make_setup, generation, case):
    s = make_setup(generation, double_kwargs={"page_cap": 3}, page_limit=3, trace_pages=20, score_pages=20)
    if case != "empty":
        s.traffic(n=6, traced=6, scored=6)  # two full pages of 3: the last page is exactly full
    added = []

    def add_while_paging(path, query):
        if case == "added_while_paging" and (query.get("page") == "2" or query.get("cursor")) and not added:
            # a late trace lands inside the slice being read; page-numbered results shift by one
            trace = langfuse_double.Trace("late-trace", s.clock["now"] - 880, tags=["user_api_key_team_alias:search"])
            s.double.add_trace(trace, scores=[("quality", 1.0)])
            added.append(trace)

    s.double.on_request = add_while_paging
    report = s.monitor.run_cycle()
    assert s.monitor.collectors["langfuse"].up
    value, samples, _ = kpi(report, "evaluation_coverage")
    if case == "empty":
        assert (value, samples) == (None, 0)
    else:
        assert samples == 6 + len(added) or samples == 6  # counted once each, never twice
        assert value == 1.0
    paths = s.double.requests
    assert paths["/api/public/traces"] + paths["/api/public/v2/observations"] < 30  # terminated


def test_restart_resumes_from_the_watermarks(make_setup, generation):
    s = make_setup(generation)
    s.traffic(n=30, traced=30, scored=30)
    first = kpi(s.monitor.run_cycle(), "trace_coverage")
    assert first[:2] == (1.0, 30)
    from collectors.langfuse.source import LangfuseSource

    restarted = LangfuseSource(s.config, s.context, sleep=s.sleeps.append)  # same database, new process
    s.monitor.sources[0].close()
    s.monitor.sources = [restarted]
    s.clock["now"] += 30
    report = s.monitor.run_cycle()
    assert kpi(report, "trace_coverage")[:2] == (1.0, 30)  # nothing re-read, nothing counted twice
    s.traffic(n=10, traced=5, scored=0, start=s.clock["now"] - 200)
    s.clock["now"] += 30
    assert kpi(s.monitor.run_cycle(), "trace_coverage")[:2] == (pytest.approx(35 / 40), 40)  # the new ones only
    restarted.close()


def test_keys_only_from_the_environment(tmp_path):
    from collectors.langfuse.source import LangfuseConfig, LangfuseSource
    from collectors.litellm.store import Store
    from monitor.storage.database import open_database

    store = Store(open_database(f"sqlite:///{tmp_path / 'h.db'}"))
    with pytest.raises(SourceConfigError, match="LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY"):
        LangfuseSource(LangfuseConfig(), SourceContext(store.engine, lambda: 0.0, {}, "team:", gateway=store))
    with pytest.raises(Exception, match="extra"):
        LangfuseConfig.model_validate({"secret_key": "sk-in-a-file"})
    store.close()
