"""`aiops-maturity demo` end to end: a real LiteLLM Router in-process, /metrics on a real port."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

SCRIPT = Path(sys.executable).parent / "aiops-maturity"
GATEWAY_KPIS = {"api_error_rate", "provider_availability", "cache_hit_rate", "monthly_spend_usd", "request_volume",
                "cost_attribution_coverage", "gateway_latency_p50_seconds", "latency_p95_seconds"}
CONTRACT_SERIES = {"aiops_maturity_level", "aiops_maturity_score", "aiops_kpi_value", "aiops_kpi_target",
                   "aiops_kpi_met", "aiops_kpi_no_data", "aiops_dimension_level", "aiops_collector_up",
                   "aiops_collector_last_success_timestamp_seconds"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.integration
def test_demo_serves_every_contract_series(tmp_path):
    port = free_port()
    proc = subprocess.Popen([str(SCRIPT), "demo", "--port", str(port), "--duration", "40", "--rate", "25",
                             "--data-dir", str(tmp_path / "data")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        deadline, families = time.monotonic() + 90, {}
        while time.monotonic() < deadline:
            time.sleep(2)
            assert proc.poll() is None, proc.stdout.read()
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            except httpx.HTTPError:
                continue
            families = {f.name: f for f in text_string_to_metric_families(text)}
            values = [s for s in families.get("aiops_kpi_value").samples] if "aiops_kpi_value" in families else []
            teams = {s.labels["team"] for s in values if s.labels["kpi"] == "api_error_rate"}
            kpis_all = {s.labels["kpi"] for s in values if s.labels["team"] == "all"}
            if GATEWAY_KPIS <= kpis_all and len(teams - {"all", "other"}) >= 3:
                break
        else:
            pytest.fail(f"demo never reported every gateway KPI for all and 3 teams: {sorted(families)}")
        assert CONTRACT_SERIES <= set(families)
        assert len(teams - {"all"}) >= 3
        cache = {s.labels["team"]: s.value for s in families["aiops_kpi_value"].samples
                 if s.labels["kpi"] == "cache_hit_rate"}
        assert cache["all"] > 0, "the demo's cache never hit"
    finally:
        proc.terminate()
        output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, output
    assert "Traceback" not in output
