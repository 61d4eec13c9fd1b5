"""The ingest endpoint and /metrics through Starlette's test client (no sockets needed here;
the real proxy and Prometheus talk to a real server in tests/integration)."""
import gzip
import json

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from monitor.runtime.config import build_config
from monitor.runtime.http import create_app
from monitor.runtime.service import Monitor
from tests.scenario import scenario_payloads

NOW = 1_800_000_000.0 + 3600
TOKEN = "s3cret-token-value"


@pytest.fixture()
def monitor(tmp_path):
    config = build_config({"store": {"url": f"sqlite:///{tmp_path / 'h.db'}"}, "server": {"max_body_bytes": 200_000}},
                          environ={"AIOPS_INGEST_TOKEN": TOKEN})
    m = Monitor(config, clock=lambda: NOW)
    yield m
    m.close()


@pytest.fixture()
def client(monitor):
    return TestClient(create_app(monitor))


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def post(client, body, headers=AUTH):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/ingest/litellm", content=data, headers={"Content-Type": "application/json", **headers})


def post_all(client, items, batch=8):
    for i in range(0, len(items), batch):
        assert post(client, items[i:i + batch]).status_code == 200


def test_generic_api_batches_are_ingested_and_deduplicated(client, monitor):
    items = scenario_payloads(rounds=1)
    r = post(client, items)
    assert r.status_code == 200 and r.json()["accepted"] == 7 and r.json()["health_checks"] == 1
    assert post(client, items).json()["duplicates"] == 7
    report = monitor.run_cycle()
    assert report.org.kpis["api_error_rate"].samples == 6


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
def test_wrong_or_missing_token_is_401_and_stores_nothing(client, monitor, headers):
    r = post(client, scenario_payloads(rounds=1), headers=headers)
    assert r.status_code == 401
    assert TOKEN not in r.text
    assert monitor.store.counts()["requests"] == 0


def test_oversized_body_is_413(client, monitor):
    r = post(client, scenario_payloads(rounds=4))  # ~16 KB each, limit 200 KB
    assert r.status_code == 413
    assert monitor.store.counts()["requests"] == 0


@pytest.mark.parametrize("body", [b"", b"{nope", b"\x00\x01binary", b"[]"])
def test_garbage_is_400(client, body):
    assert post(client, body).status_code == 400


def test_all_items_bad_is_400_partial_is_200(client):
    assert post(client, [{"id": "x"}, 5]).status_code == 400
    r = post(client, [{"id": "x"}] + scenario_payloads(rounds=1)[:2])
    assert r.status_code == 200 and r.json()["rejected"] == 1 and r.json()["accepted"] == 2
    assert "item 0" in r.json()["errors"][0]


def test_ndjson_and_single_object_log_formats(client):
    items = scenario_payloads(rounds=1)
    assert post(client, "\n".join(json.dumps(p) for p in items[:4])).json()["accepted"] == 4
    assert post(client, items[4]).json()["accepted"] == 1


def test_metrics_serves_the_contract_series(client, monitor):
    post_all(client, scenario_payloads(rounds=5))
    monitor.run_cycle()
    text = client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ("aiops_maturity_level", "aiops_maturity_score", "aiops_kpi_value", "aiops_kpi_target",
                 "aiops_kpi_met", "aiops_kpi_no_data", "aiops_dimension_level", "aiops_collector_up",
                 "aiops_collector_last_success_timestamp_seconds"):
        assert name in families, name
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert samples[("aiops_kpi_value", (("kpi", "api_error_rate"), ("level", "1"), ("team", "all")))] == \
        pytest.approx(2 / 6)
    assert samples[("aiops_kpi_met", (("kpi", "api_error_rate"), ("level", "1"), ("team", "all")))] == 0
    assert ("aiops_kpi_value", (("kpi", "trace_coverage"), ("level", "3"), ("team", "all"))) not in samples
    assert samples[("aiops_kpi_no_data", (("kpi", "trace_coverage"), ("level", "3"), ("team", "all")))] == 1
    assert samples[("aiops_kpi_target", (("comparator", "lt"), ("kpi", "mttr_seconds"), ("level", "4")))] == 3600
    assert samples[("aiops_maturity_level", (("model", "aiops"), ("team", "search")))] == 0
    assert samples[("aiops_collector_up", (("collector", "litellm_push"),))] == 1
    assert TOKEN not in text


def test_report_endpoint(client, monitor):
    assert client.get("/api/report").status_code == 503
    post_all(client, scenario_payloads(rounds=5))
    monitor.run_cycle()
    body = client.get("/api/report").json()
    assert body["model"] == "aiops" and body["kpis"]["cache_hit_rate"]["value"] == pytest.approx(1 / 6)


def test_readyz_waits_for_the_first_cycle_while_livez_answers_from_the_start(client, monitor):
    assert client.get("/livez").status_code == 200
    before = client.get("/readyz")
    assert before.status_code == 503 and before.json()["status"] == "not_ready"
    monitor.run_cycle()
    assert client.get("/readyz").status_code == 200
    assert client.get("/healthz").status_code == 200
