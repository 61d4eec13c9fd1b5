"""The monitor's /metrics scraped by the real Prometheus server (Debian's `prometheus`): the level and
KPI values queried through Prometheus's HTTP API are the monitor's."""
from __future__ import annotations

import time

import httpx
import pytest

from tests.integration.integration_support import (
    ManagedProcess, clean_env, expected_by_team, free_port, load_sample_payloads, renamed, shift_to, wait_until,
)

pytestmark = pytest.mark.integration

PROMETHEUS_START_TIMEOUT = 30
SCRAPE_TIMEOUT = 30


def traffic(now: float) -> list[dict]:
    """The recorded run (fallbacks, cache hits, 400s, 500s, health probes) plus 60 more successes so the
    error rate is below 10 % and the level is 1, not a trivial 0."""
    recorded = load_sample_payloads()
    success = [p for p in recorded if p["status"] == "success" and p.get("model_group") == "gpt-4o-mini"
               and p.get("cache_hit") is not True][0]
    extra = [renamed([success], f"extra{i}")[0] for i in range(60)]
    return shift_to(recorded + extra, now - 30)


@pytest.fixture
def prometheus(tmp_path, prometheus_bin):
    started: list[ManagedProcess] = []

    def start(targets: list[str]) -> str:
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: aiops\n    metrics_path: /metrics\n"
            f"    static_configs:\n      - targets: [{', '.join(repr(t) for t in targets)}]\n")
        process = ManagedProcess("prometheus", [
            prometheus_bin, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
        ], tmp_path / "prometheus.log", env=clean_env(), cwd=tmp_path)
        started.append(process)
        base = f"http://127.0.0.1:{port}"

        def ready():
            if not process.alive():
                pytest.fail(f"prometheus exited with {process.proc.returncode}\n{process.log_tail()}", pytrace=False)
            return httpx.get(f"{base}/-/ready", timeout=2, trust_env=False).status_code == 200

        wait_until(ready, PROMETHEUS_START_TIMEOUT, "Prometheus to be ready", interval=0.2, on_timeout=process.log_tail)
        return base

    yield start
    for process in started:
        process.stop()


def query(http, base: str, promql: str) -> list[dict]:
    body = http.get(f"{base}/api/v1/query", params={"query": promql}).raise_for_status().json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def test_prometheus_scrapes_level_and_kpis(monitor_factory, prometheus, http):
    running = monitor_factory("prom")
    now = time.time()
    payloads = traffic(now)
    outcome = running.monitor.push.ingest(payloads, route="test")
    assert outcome.rejected == 0 and outcome.too_old == 0
    report = running.monitor.run_cycle().as_dict()

    want = expected_by_team(payloads)["all"]
    assert report["kpis"]["api_error_rate"]["evidence"]["requests"] == want.requests
    assert report["kpis"]["api_error_rate"]["value"] == want.failed_requests / want.requests
    assert report["level"] == 1, "the traffic is built to reach level 1"

    base = prometheus([f"127.0.0.1:{running.port}"])
    series = wait_until(lambda: query(http, base, 'aiops_maturity_level{model="aiops",team="all"}'),
                        SCRAPE_TIMEOUT, "aiops_maturity_level{team=\"all\"} in Prometheus", interval=0.5)
    assert len(series) == 1
    assert float(series[0]["value"][1]) == report["level"]
    assert series[0]["metric"]["job"] == "aiops"

    up = query(http, base, 'up{job="aiops"}')
    assert [float(s["value"][1]) for s in up] == [1.0]
    score = query(http, base, 'aiops_maturity_score{model="aiops",team="all"}')
    assert float(score[0]["value"][1]) == report["score"]
    error_rate = query(http, base, 'aiops_kpi_value{kpi="api_error_rate",team="all"}')
    assert len(error_rate) == 1 and error_rate[0]["metric"]["level"] == "1"
    assert float(error_rate[0]["value"][1]) == report["kpis"]["api_error_rate"]["value"]
    met = query(http, base, 'aiops_kpi_met{kpi="api_error_rate",level="1",team="all"}')
    assert float(met[0]["value"][1]) == 1.0
    # no_data KPIs have no value series, only aiops_kpi_no_data == 1
    assert query(http, base, 'aiops_kpi_value{kpi="mttr_seconds",team="all"}') == []
    no_data = query(http, base, 'aiops_kpi_no_data{kpi="mttr_seconds",team="all"}')
    assert {float(s["value"][1]) for s in no_data} == {1.0}
    target = query(http, base, 'aiops_kpi_target{kpi="api_error_rate",level="1"}')
    assert target[0]["metric"]["comparator"] == "lt" and float(target[0]["value"][1]) == 0.10
