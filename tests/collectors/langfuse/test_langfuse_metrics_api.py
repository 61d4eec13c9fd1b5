"""Which Langfuse metrics API the collector uses: v2 (/api/public/v2/metrics) wherever the server
has it, the deprecated v1 only where it does not (self-hosted v3), logged once at detection, and
detected again when the server is upgraded under a running collector. The double answers v2 and v1
metrics only where its generation's OpenAPI spec has them, and every answer is validated."""
from __future__ import annotations

import base64
import json
import logging

import httpx
import pytest

from tests.collectors.langfuse.langfuse_support import PUBLIC, SECRET

V1, V2 = "/api/public/metrics", "/api/public/v2/metrics"


def detections(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("Langfuse API generation")]


def test_v2_metrics_where_the_server_has_them_v1_only_where_not(make_setup, generation, caplog):
    caplog.set_level(logging.INFO, logger="aiops_maturity.langfuse")
    s = make_setup(generation)
    s.traffic(n=30, traced=30, scored=30)
    for _ in range(3):
        report = s.monitor.run_cycle()
        s.clock["now"] += 30
    assert report.org.kpis["quality_score_avg"].value == pytest.approx(0.75)
    requests = s.double.requests
    if generation == "v4":
        assert requests[V1] == 0 and requests[V2] >= 1 + 3 * 2  # the probe, then 2 aggregates a cycle (+ weekly)
        assert detections(caplog) == ["Langfuse API generation detected: v4, metrics API v2 (/api/public/v2/metrics)"]
    else:
        assert requests[V2] == 1 and requests[V1] >= 1 + 3 * 2  # one probe answered 404, then v1 only
        assert detections(caplog) == ["Langfuse API generation detected: v3, metrics API v1 (/api/public/metrics, "
                                      "deprecated; the server has no v2)"]


def test_a_configured_generation_is_logged_and_not_probed(make_setup, caplog):
    caplog.set_level(logging.INFO, logger="aiops_maturity.langfuse")
    s = make_setup("v4", api="v4")
    s.traffic(n=20, traced=20, scored=20)
    s.monitor.run_cycle()
    assert s.monitor.collectors["langfuse"].up and s.double.requests[V1] == 0
    assert detections(caplog) == ["Langfuse API generation configured: v4, metrics API v2 (/api/public/v2/metrics)"]


def test_a_server_upgraded_to_v4_is_detected_again(make_setup, caplog):
    caplog.set_level(logging.INFO, logger="aiops_maturity.langfuse")
    s = make_setup("v3")
    s.traffic(n=30, traced=30, scored=30)
    assert s.monitor.run_cycle().org.kpis["quality_score_avg"].value == pytest.approx(0.75)
    v1_before = s.double.requests[V1]

    s.double.generation = "v4"  # upgraded: /traces and v1 metrics are gone
    s.clock["now"] += 30
    s.monitor.run_cycle()
    status = s.monitor.collectors["langfuse"]
    assert not status.up and "HTTP 404" in status.last_error
    s.clock["now"] += 30
    report = s.monitor.run_cycle()
    status = s.monitor.collectors["langfuse"]
    assert status.up and status.info["api"] == "v4"
    assert report.org.kpis["quality_score_avg"].value == pytest.approx(0.75)
    assert s.double.requests[V1] == v1_before + 1  # the one request that found v1 gone
    assert [m.split(",")[0] for m in detections(caplog)] == ["Langfuse API generation detected: v3",
                                                             "Langfuse API generation detected: v4"]


@pytest.mark.parametrize("query, status", [
    ({"view": "observations", "metrics": [{"measure": "count", "aggregation": "count"}]}, 200),
    ({"view": "traces", "metrics": [{"measure": "count", "aggregation": "count"}]}, 400),
    ({"view": "observations", "dimensions": [{"field": "traceId"}],
      "metrics": [{"measure": "count", "aggregation": "count"}]}, 400),
])
def test_the_double_answers_v2_metrics_as_the_v4_spec_says(make_setup, query, status):
    s = make_setup("v4")
    auth = "Basic " + base64.b64encode(f"{PUBLIC}:{SECRET}".encode()).decode()
    query = {**query, "fromTimestamp": "2026-01-01T00:00:00Z", "toTimestamp": "2026-01-02T00:00:00Z"}
    response = httpx.get(f"{s.double.url}{V2}", params={"query": json.dumps(query)}, headers={"Authorization": auth},
                         trust_env=False)
    assert response.status_code == status
    assert httpx.get(f"{s.double.url}{V1}", params={"query": json.dumps(query)}, headers={"Authorization": auth},
                     trust_env=False).status_code == 404  # v1 is gone on v4
