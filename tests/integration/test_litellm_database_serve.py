"""`aiops-maturity serve` with only the LiteLLM database source: a fresh PostgreSQL with LiteLLM's
schema and LiteLLM-written rows (tests/collectors/litellm/proxy_database.py); after its first cycle
the service is ready and reports a level and every gateway KPI, from rows it never received."""
from __future__ import annotations

import asyncio
import time

import yaml

from tests.collectors.litellm import proxy_database as proxy
from tests.integration.integration_support import ManagedProcess, clean_env, free_port, wait_until

GATEWAY_KPIS = ("api_error_rate", "cache_hit_rate", "provider_availability", "monthly_spend_usd",
                "cost_attribution_coverage", "gateway_latency_p50_seconds", "latency_p95_seconds", "request_volume")


def test_serve_with_only_the_database_source_reports_a_level_after_its_first_cycle(
        postgres_server, tmp_path, aiops_bin, http):
    name = postgres_server.create_database()
    dsn = postgres_server.dsn(name)
    proxy.apply_schema(dsn)
    recorder = proxy.Recorder()
    asyncio.run(recorder.run(60))
    first = min(row["startTime"].timestamp() for row in recorder.spend_rows)
    proxy.insert_spend_rows(dsn, recorder.spend_rows, shift=time.time() - 1800 - first)  # half an hour ago
    port = free_port()
    config = tmp_path / "monitor.yaml"
    config.write_text(yaml.safe_dump({"server": {"host": "127.0.0.1", "port": port},
                                      "store": {"url": f"sqlite:///{tmp_path / 'history.db'}"},
                                      "sources": {"litellm_db": {}}}))
    base = f"http://127.0.0.1:{port}"
    process = ManagedProcess("serve-litellm-db", [aiops_bin, "serve", "--config", config], tmp_path / "serve.log",
                             env=clean_env(AIOPS_LITELLM_DATABASE_URL=postgres_server.url(name)), cwd=tmp_path)
    try:
        wait_until(lambda: process.alive() and http.get(f"{base}/readyz", timeout=2).status_code == 200, 90,
                   "the service ready after its first cycle", on_timeout=process.log_tail)
        report = http.get(f"{base}/api/report").json()
        assert 'aiops_collector_up{collector="litellm_db"} 1.0' in http.get(f"{base}/metrics").text
        assert isinstance(report["level"], int)  # a level, decided from evidence; what blocks the next is not the gateway's lack of data
        assert not [b for b in report["blocking"] if b["kpi"] in GATEWAY_KPIS and b["status"] == "no_data"]
        for kpi in GATEWAY_KPIS:
            assert report["kpis"][kpi]["status"] != "no_data", kpi
        assert report["kpis"]["api_error_rate"]["evidence"]["requests"] == 60
    finally:
        process.stop()
        postgres_server.drop_database(name)
