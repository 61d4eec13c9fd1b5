"""Evaluation results as OTLP log records, sent by the real OpenTelemetry SDK (LoggerProvider and
the OTLP/HTTP log exporter; for JSON, the SDK's own encoder and the OTLP JSON rules) to a running
monitor, count exactly as the same results sent as span events: same scores, same evaluation
coverage, same escalations. Half the records carry their span's context and reach the monitor before
the span (emitted while it is open); the other half carry no context, only `gen_ai.response.id`, and
come after it. The span-event form is sent to a second monitor as the reference."""
from __future__ import annotations

import time
import uuid

import httpx
import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from monitor.runtime.server import RunningMonitor
from tests.collectors.otlp.otlp_support import OTLP_TOKEN, make_monitor
from tests.collectors.otlp.test_otlp_sdk_exporter import SECRET_PROMPT, _hex
from tests.payloads import payload

AUTH = {"Authorization": f"Bearer {OTLP_TOKEN}"}
N_REQUESTS, N_TRACED = 40, 32
KPIS = ("trace_coverage", "evaluation_coverage", "quality_score_avg", "human_escalation_rate")


def evaluations(k: int) -> list[dict]:
    """The evaluation results of request k: a quality score for 3 in 4 (every 5th as a pass/fail label
    only), an escalation score for every 8th."""
    out = []
    if k % 4 != 3:
        quality = {"gen_ai.evaluation.name": "quality", "gen_ai.evaluation.explanation": SECRET_PROMPT}
        if k % 5 == 0:
            quality["gen_ai.evaluation.score.label"] = "pass" if k % 10 == 0 else "fail"
        else:
            quality["gen_ai.evaluation.score.value"] = 0.5 + (k % 5) * 0.1
        out.append(quality)
    if k % 8 == 0:
        out.append({"gen_ai.evaluation.name": "human_escalation", "gen_ai.evaluation.score.value": 1.0})
    return out


def expected() -> dict:
    quality = []
    for k in range(N_TRACED):
        for e in evaluations(k):
            if e["gen_ai.evaluation.name"] == "quality":
                label = e.get("gen_ai.evaluation.score.label")
                quality.append(e["gen_ai.evaluation.score.value"] if label is None else float(label == "pass"))
    scored = sum(1 for k in range(N_TRACED) if evaluations(k))
    escalated = sum(1 for k in range(N_TRACED) if k % 8 == 0)
    return {"trace_coverage": (N_TRACED / N_REQUESTS, N_REQUESTS), "evaluation_coverage": (scored / N_TRACED, N_TRACED),
            "quality_score_avg": (sum(quality) / len(quality), len(quality)),
            "human_escalation_rate": (escalated / N_TRACED, N_TRACED)}


def send(url: str, form: str, call_ids: list[str], now: float) -> None:
    """GenAI spans for the first N_TRACED requests through the SDK's span exporter, their evaluations
    as span events (form "events") or as log records (form "protobuf": the SDK's log exporter, gzip;
    "json": the SDK's encoder, posted as OTLP JSON once all spans are sent)."""
    resource = Resource.create({"service.name": "chat-app"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(
        endpoint=f"{url}/v1/traces", headers=AUTH, timeout=10)))
    logger_provider = LoggerProvider(resource=resource)
    memory = InMemoryLogRecordExporter()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(memory if form == "json" else OTLPLogExporter(
        endpoint=f"{url}/v1/logs", headers=AUTH, timeout=10, compression=Compression.Gzip)))
    tracer, logger = tracer_provider.get_tracer("app"), logger_provider.get_logger("evaluator")
    for k, call_id in enumerate(call_ids[:N_TRACED]):
        start = int((now - 60 + k * 0.5) * 1e9)
        end, response_id = start + 300_000_000, f"chatcmpl-{uuid.uuid4().hex}"
        span = tracer.start_span("chat gpt-4o-mini", start_time=start, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.id": response_id, "litellm.call_id": call_id,
            "metadata.user_api_key_team_alias": "search"})
        with_context = k % 2 == 0
        for attributes in evaluations(k):
            if form == "events":
                span.add_event("gen_ai.evaluation.result", attributes, timestamp=end)
            elif with_context:  # the record is exported now, before its span
                logger.emit(event_name="gen_ai.evaluation.result", attributes=attributes, timestamp=end,
                            context=trace.set_span_in_context(span))
        span.end(end_time=end)
        if form != "events" and not with_context:  # no span context: the response id names the completion
            for attributes in evaluations(k):
                logger.emit(event_name="gen_ai.evaluation.result", timestamp=end, context=Context(),
                            attributes={**attributes, "gen_ai.response.id": response_id})
    tracer_provider.shutdown()
    if form == "json":
        data = MessageToDict(encode_logs(memory.get_finished_logs()))
        for resource_logs in data["resourceLogs"]:
            for scope_logs in resource_logs["scopeLogs"]:
                for record in scope_logs["logRecords"]:
                    for key in ("traceId", "spanId"):
                        if key in record:
                            record[key] = _hex(record[key])
        response = httpx.post(f"{url}/v1/logs", json=data, headers=AUTH, timeout=10, trust_env=False)
        assert response.status_code == 200 and response.json() == {}  # full success: no partial_success
    logger_provider.shutdown()


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_evaluations_as_sdk_log_records_count_like_span_events(tmp_path, encoding):
    now = time.time()
    call_ids = [str(uuid.uuid4()) for _ in range(N_REQUESTS)]
    results = {}
    for form in ("events", encoding):
        monitor, source = make_monitor(tmp_path / form)
        running = RunningMonitor(monitor, host="127.0.0.1", port=0).start(timeout=20)
        try:
            monitor.push.ingest([payload(c, start=now - 60 + k * 0.5, team_alias="search")
                                 for k, c in enumerate(call_ids)])
            send(running.url, form, call_ids, now)
            report = monitor.run_cycle()
            results[form] = {team: {name: (kpis[name].value, kpis[name].samples) for name in KPIS}
                             for team, kpis in (("all", report.org.kpis), ("search", report.teams["search"].kpis))}
            info = monitor.collectors["otlp"].info
            if form != "events":
                assert info["pending_evaluations"] == 0
                assert info["evaluations_joined"] == sum(len(evaluations(k)) for k in range(N_TRACED))
                assert info["received"]["accepted_log_records"] == info["evaluations_joined"]
        finally:
            running.stop()
            monitor.close()
        for path in (tmp_path / form).glob("history.db*"):  # explanations never reach the store
            assert SECRET_PROMPT.encode() not in path.read_bytes()
    assert results[encoding] == results["events"]
    for team in ("all", "search"):
        for name, (value, samples) in expected().items():
            assert results[encoding][team][name] == (pytest.approx(value), samples), (team, name)
