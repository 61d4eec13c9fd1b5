"""Failures of the Langfuse server: the monitor keeps serving, aiops_collector_up says 0 while the
collector fails, its KPIs go no_data after `stale_after` (never old values), the gateway's KPIs are
unaffected, and collection recovers by itself."""
from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from monitor.runtime.http import create_app

STALE = 300


def up_line(client) -> str:
    return next(line for line in client.get("/metrics").text.splitlines()
                if line.startswith('aiops_collector_up{collector="langfuse"}'))


@pytest.mark.parametrize("kind, message", [
    ("500", "HTTP 500 after 3 attempts"),
    ("503", "HTTP 503 after 3 attempts"),
    ("slow", "ReadTimeout after 3 attempts"),
    ("invalid", "does not match the API schema"),
    ("not_json", "not JSON"),
])
def test_failing_server_then_stale_then_recovery(make_setup, generation, kind, message):
    s = make_setup(generation, double_kwargs={"slow_seconds": 1.5}, timeout=0.4, stale_after=STALE)
    s.traffic(n=40, traced=40, scored=40)
    report = s.monitor.run_cycle()
    assert report.org.kpis["trace_coverage"].value == 1.0 and s.monitor.collectors["langfuse"].up
    gateway_samples = report.org.kpis["api_error_rate"].samples
    client = TestClient(create_app(s.monitor))

    s.double.fail("/api/public/", kind, times=3)  # the next three requests, whichever endpoint
    s.clock["now"] += 30
    report = s.monitor.run_cycle()
    status = s.monitor.collectors["langfuse"]
    assert not status.up and message in status.last_error
    assert up_line(client).endswith(" 0.0")
    assert report.org.kpis["trace_coverage"].value == 1.0  # last good values, still fresh
    assert client.get("/healthz").status_code == 200

    s.double.fail("/api/public/", kind, times=3 * 3)  # it keeps failing past the staleness limit
    for _ in range(3):
        s.clock["now"] += STALE / 2 + 1
        report = s.monitor.run_cycle()
    assert not s.monitor.collectors["langfuse"].up
    for name in ("trace_coverage", "evaluation_coverage", "quality_score_avg", "human_escalation_rate"):
        assert report.org.kpis[name].checks[0].status == "no_data", name
        assert f'aiops_kpi_no_data{{kpi="{name}"' in client.get("/metrics").text
    assert report.org.kpis["api_error_rate"].samples == gateway_samples  # other KPIs unaffected

    served = 12 - len(s.double.faults)  # a retryable failure uses 3 faults a cycle, a bad body one
    s.double.faults.clear()
    s.clock["now"] += 30
    report = s.monitor.run_cycle()  # the server is fine again
    assert s.monitor.collectors["langfuse"].up and up_line(client).endswith(" 1.0")
    assert report.org.kpis["quality_score_avg"].checks[0].status != "no_data"
    if kind in ("invalid", "not_json"):  # the validator saw the deliberately broken bodies too
        assert len(s.double.violations) == served and all(v.startswith("200 ") for v in s.double.violations)
        s.double.violations.clear()
    client.close()


def test_429_retry_after_is_honoured(make_setup, generation):
    s = make_setup(generation, stale_after=STALE)
    s.traffic()
    s.double.fail("/api/public/", "429", times=2, retry_after=2)
    s.monitor.run_cycle()
    assert s.monitor.collectors["langfuse"].up
    assert s.sleeps[:2] == [2.0, 2.0]  # waited what Retry-After said, then succeeded
    assert [status for _, status in s.double.undeclared] == [429, 429]


def test_429_longer_than_the_cycle_budget_pauses_collection(make_setup, generation):
    s = make_setup(generation, stale_after=STALE, cycle_budget="5s")
    s.traffic()
    s.double.fail("/api/public/", "429", times=1, retry_after=3600)
    s.monitor.run_cycle()
    status = s.monitor.collectors["langfuse"]
    assert not status.up and "retry after 3600 s" in status.last_error
    requests = s.double.total_requests()
    s.clock["now"] += 30
    s.monitor.run_cycle()  # the server asked for an hour: no request before then
    assert s.double.total_requests() == requests
    assert "rate limited" in s.monitor.collectors["langfuse"].last_error
    assert s.sleeps == []
