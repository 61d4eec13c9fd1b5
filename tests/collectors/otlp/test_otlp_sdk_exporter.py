"""The real OpenTelemetry SDK exporting GenAI spans to the monitor's receiver: protobuf through
`opentelemetry-exporter-otlp-proto-http`, and JSON built from the same SDK spans per the OTLP JSON
encoding (the SDK has no JSON exporter). Expected KPI values are worked out here from what was sent.
"""
from __future__ import annotations

import base64
import time
import uuid
from pathlib import Path

import httpx
import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

from tests.collectors.otlp.otlp_support import OTLP_TOKEN
from tests.payloads import payload

SECRET_PROMPT = "SECRET-PROMPT-do-not-store-4411"


class PresetTraceIds(RandomIdGenerator):
    """Trace ids chosen by the test: the gateway request's call id (a UUID is 128 bits, like a trace id)."""

    def __init__(self):
        self.next: int | None = None

    def generate_trace_id(self) -> int:
        return self.next if self.next is not None else super().generate_trace_id()


def emit(provider: TracerProvider, ids: PresetTraceIds, call_ids: list[str], team: str, now: float) -> dict:
    """One litellm_request-like span per call id; every 4th gets no evaluation, every 10th is escalated,
    the others are memory-enabled and the first of them used memory. Returns the counts the KPIs should show."""
    tracer = provider.get_tracer("test")
    scored = escalated = memory = enabled = 0
    for k, call_id in enumerate(call_ids):
        ids.next = uuid.UUID(call_id).int if k % 2 == 0 else None  # half matched by trace id, half by call id
        start = int((now - 60 + k * 0.5) * 1e9)
        span = tracer.start_span("litellm_request", start_time=start, attributes={
            "gen_ai.request.model": "gpt-4o-mini", "gen_ai.system": "openai", "litellm.call_id": call_id,
            "metadata.user_api_key_team_alias": team, "gen_ai.cost.total_cost": 0.002,
            "gen_ai.input.messages": SECRET_PROMPT, "gen_ai.prompt": SECRET_PROMPT,
            "tags": ["escalated"] if k % 10 == 0 else (["memory:used"] if k < 6 else ["memory"])})
        escalated += k % 10 == 0
        memory += k < 6 and k % 10 != 0
        enabled += k % 10 != 0
        if k % 4 != 3:
            span.add_event("gen_ai.evaluation.result", {"gen_ai.evaluation.name": "quality",
                                                       "gen_ai.evaluation.score.value": 0.6 + (k % 5) * 0.1,
                                                       "gen_ai.evaluation.explanation": SECRET_PROMPT})
            scored += 1
        span.end(end_time=start + 300_000_000)
    return {"scored": scored, "escalated": escalated, "memory_used": memory, "memory_enabled": enabled}


def quality_mean(n: int) -> float:
    values = [0.6 + (k % 5) * 0.1 for k in range(n) if k % 4 != 3]
    return sum(values) / len(values)


def _hex(b64: str) -> str:
    return base64.b64decode(b64).hex()


def to_otlp_json(spans) -> dict:
    """ExportTraceServiceRequest as OTLP/JSON: lowerCamelCase keys, hex trace/span ids."""
    data = MessageToDict(encode_spans(spans))
    for rs in data.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = _hex(span[key])
    return data


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_sdk_spans_give_exact_trace_kpis(running_monitor, tmp_path, encoding):
    running, monitor, _source = running_monitor
    now = time.time()
    n_requests, n_traced = 40, 32
    call_ids = [str(uuid.uuid4()) for _ in range(n_requests)]
    outcome = monitor.push.ingest([payload(c, start=now - 60 + k * 0.5, team_alias="search") for k, c in enumerate(call_ids)])
    assert outcome.accepted == n_requests

    ids = PresetTraceIds()
    resource = Resource.create({"service.name": "chat-app", "service.namespace": "ignored-when-span-has-team"})
    provider = TracerProvider(resource=resource, id_generator=ids)
    if encoding == "protobuf":
        exporter = OTLPSpanExporter(endpoint=f"{running.url}/v1/traces", headers={"Authorization": f"Bearer {OTLP_TOKEN}"},
                                    timeout=10)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        sent = emit(provider, ids, call_ids[:n_traced], "search", now)
    else:
        memory = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(memory))
        sent = emit(provider, ids, call_ids[:n_traced], "search", now)
        response = httpx.post(f"{running.url}/v1/traces", json=to_otlp_json(memory.get_finished_spans()),
                              headers={"Authorization": f"Bearer {OTLP_TOKEN}"}, timeout=10, trust_env=False)
        assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
        assert response.json() == {}  # full success: no partial_success
    provider.shutdown()

    report = monitor.run_cycle()
    for team in ("all", "search"):
        kpis = (report.org if team == "all" else report.teams["search"]).kpis
        assert kpis["trace_coverage"].value == pytest.approx(n_traced / n_requests)
        assert kpis["trace_coverage"].samples == n_requests
        assert kpis["evaluation_coverage"].value == pytest.approx(sent["scored"] / n_traced)
        assert kpis["quality_score_avg"].value == pytest.approx(quality_mean(n_traced))
        assert kpis["quality_score_avg"].samples == sent["scored"]
        assert kpis["human_escalation_rate"].value == pytest.approx(sent["escalated"] / n_traced)
        assert kpis["memory_utilization_rate"].value == pytest.approx(sent["memory_used"] / sent["memory_enabled"])
    assert monitor.collectors["otlp"].up
    metrics = httpx.get(f"{running.url}/metrics", trust_env=False).text
    assert 'aiops_otlp_genai_spans{model="gpt-4o-mini",service="chat-app",team="search"} 32.0' in metrics
    assert 'aiops_kpi_value{kpi="trace_coverage",level="3",team="search"} 0.8' in metrics

    # message content never reaches the store (database file and its write-ahead log)
    for path in Path(tmp_path).glob("history.db*"):
        assert SECRET_PROMPT.encode() not in path.read_bytes()


def test_exporter_without_token_is_refused(running_monitor):
    running, monitor, _ = running_monitor
    provider = TracerProvider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.get_tracer("t").start_span("litellm_request", attributes={"gen_ai.system": "openai"}).end()
    exporter = OTLPSpanExporter(endpoint=f"{running.url}/v1/traces", timeout=5)
    from opentelemetry.sdk.trace.export import SpanExportResult

    assert exporter.export(memory.get_finished_spans()) == SpanExportResult.FAILURE
    assert monitor.run_cycle().org.kpis["evaluation_coverage"].samples == 0
