"""The source plug-in contract: guarded collection, staleness, routes, config errors."""
import pytest
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from collectors.litellm.ingest import ingest
from signals.measured import Measured
from monitor.runtime.config import build_config
from monitor.runtime.http import create_app
from monitor.runtime.service import Monitor
from signals.source import SourceConfigError, SourceContext, SourceResult
from monitor.runtime.sources import build_sources
from tests.scenario import scenario_payloads

T0 = 1_800_000_000.0


class Scripted:
    """A source whose next answers a test sets: a value or an exception."""

    name, stale_after = "scripted", 300.0

    def __init__(self):
        self.next = None

    def collect(self, window):
        if isinstance(self.next, Exception):
            raise self.next
        return SourceResult({"all": {"scored_traces": self.next * 50, "traces_examined": 50}}, {"api": "v3"})

    def routes(self):
        return [Route("/hello", lambda request: PlainTextResponse("hi"))]

    def families(self):
        return []

    def close(self):
        pass


@pytest.fixture()
def setup(tmp_path):
    clock = {"now": T0 + 600}
    source = Scripted()
    config = build_config({"store": {"url": f"sqlite:///{tmp_path / 'h.db'}"}}, environ={})
    monitor = Monitor(config, clock=lambda: clock["now"], sources=[source])
    ingest(scenario_payloads(t0=T0), monitor.store, now=clock["now"])
    yield monitor, source, clock
    monitor.close()


def status(report, kpi):
    return report.org.kpis[kpi].checks[0].status


def test_failing_source_goes_down_then_stale_then_recovers(setup):
    monitor, source, clock = setup
    source.next = 0.9
    report = monitor.run_cycle()
    assert status(report, "evaluation_coverage") == "met" and monitor.collectors["scripted"].up
    assert monitor.collectors["scripted"].info == {"api": "v3"}

    source.next = TimeoutError("slow server")
    clock["now"] += 60
    report = monitor.run_cycle()
    assert not monitor.collectors["scripted"].up
    assert "slow server" in monitor.collectors["scripted"].last_error
    assert status(report, "evaluation_coverage") == "met"        # last good value, still fresh
    assert report.org.kpis["api_error_rate"].samples == 30       # gateway KPIs unaffected

    clock["now"] += 300
    report = monitor.run_cycle()
    assert status(report, "evaluation_coverage") == "no_data"    # stale: no old value shown
    assert report.org.kpis["api_error_rate"].samples == 30

    source.next = 0.5
    report = monitor.run_cycle()
    assert status(report, "evaluation_coverage") == "unmet" and monitor.collectors["scripted"].up


def test_source_routes_are_served_and_up_is_exported(setup):
    monitor, source, _ = setup
    source.next = 0.9
    monitor.run_cycle()
    client = TestClient(create_app(monitor))
    assert client.get("/hello").text == "hi"
    assert 'aiops_collector_up{collector="scripted"} 1.0' in client.get("/metrics").text


def test_unknown_source_name_fails_loudly(tmp_path):
    context = SourceContext(engine=None, clock=lambda: 0.0, environ={})
    with pytest.raises(SourceConfigError, match="sources.nope: unknown source"):
        build_sources({"nope": {}}, context)
