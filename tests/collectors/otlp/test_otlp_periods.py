"""The OTLP source gives the KPI dashboard's periods (the last 24 h and the 24 before) from its own
rollup: quality and evaluation coverage per period, against hand-computed values."""
from __future__ import annotations

import time

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.collectors.otlp.otlp_support import OTLP_TOKEN, running_monitor  # noqa: F401 - fixture
from tests.collectors.otlp.test_add_span import evaluation, make_span

NS = 10**9
DAY = 86400


def _spans(first_trace: int, at: float, scored: int, unscored: int, quality: float) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    for k in range(scored + unscored):
        events = (("gen_ai.evaluation.result", int((at + k) * NS), evaluation("quality", quality)),) if k < scored else ()
        spans.append(make_span(trace=first_trace + k, name="chat", start_ns=int((at + k) * NS), duration_ns=NS,
                               attributes={"gen_ai.request.model": "m"}, events=events))
    return request


def test_quality_and_evaluation_coverage_per_period(running_monitor):  # noqa: F811 - the fixture
    running, monitor, _ = running_monitor
    now = time.time()
    for body in (_spans(1, now - 1200, scored=24, unscored=6, quality=0.9),            # the last 24 h
                 _spans(1000, now - DAY - 1200, scored=20, unscored=20, quality=0.5)):  # the 24 h before
        response = httpx.post(f"{running.url}/v1/traces", content=body.SerializeToString(),
                              headers={"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {OTLP_TOKEN}"})
        assert response.status_code == 200, response.text
    monitor.run_cycle()
    last, before = monitor.snapshot.period_kpis["24h"]["all"], monitor.snapshot.period_kpis["prev_24h"]["all"]
    assert last.kpis["quality_score_avg"].value == pytest.approx(0.9) and last.kpis["quality_score_avg"].samples == 24
    assert last.kpis["evaluation_coverage"].value == pytest.approx(24 / 30)
    assert before.kpis["quality_score_avg"].value == pytest.approx(0.5)
    assert before.kpis["evaluation_coverage"].value == pytest.approx(0.5)
