"""The receiver's answers per the OTLP/HTTP spec, and that bad input never breaks the monitor."""
from __future__ import annotations

import gzip
import json
import sqlite3
import time

import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest, ExportTraceServiceResponse,
)
from starlette.testclient import TestClient

from tests.collectors.otlp.otlp_support import OTLP_TOKEN, make_monitor
from monitor.runtime.http import create_app
from tests.kpi_support import kpi

AUTH = {"Authorization": f"Bearer {OTLP_TOKEN}"}
PB = {**AUTH, "Content-Type": "application/x-protobuf"}


def request_with(trace_ids: list[bytes], now: float, **attrs) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.namespace", "billing"
    spans = rs.scope_spans.add()
    for i, trace_id in enumerate(trace_ids):
        span = spans.spans.add()
        span.trace_id, span.span_id, span.name = trace_id, bytes([1] * 8), "chat gpt-4o"
        span.start_time_unix_nano, span.end_time_unix_nano = int((now - 30 + i) * 1e9), int((now - 29 + i) * 1e9)
        for key, value in {"gen_ai.request.model": "gpt-4o", **attrs}.items():
            a = span.attributes.add()
            a.key, a.value.string_value = key, value
    return req


@pytest.fixture
def client(tmp_path):
    monitor, source = make_monitor(tmp_path, max_body_bytes=4096)
    with TestClient(create_app(monitor)) as c:
        yield c, monitor
    monitor.close()


def status_of(response) -> status_pb2.Status:
    status = status_pb2.Status()
    status.ParseFromString(response.content)
    return status


def test_protobuf_success_and_partial_success(client):
    c, monitor = client
    now = time.time()
    good = request_with([bytes(range(1, 17)), bytes(range(2, 18))], now)
    r = c.post("/v1/traces", content=good.SerializeToString(), headers=PB)
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    assert not ExportTraceServiceResponse.FromString(r.content).HasField("partial_success")

    bad = request_with([bytes(16), b"short", bytes(range(3, 19))], now)  # all-zero and 5-byte trace ids
    r = c.post("/v1/traces", content=bad.SerializeToString(), headers=PB)
    response = ExportTraceServiceResponse.FromString(r.content)
    assert r.status_code == 200 and response.partial_success.rejected_spans == 2
    assert "trace_id" in response.partial_success.error_message
    assert monitor.run_cycle().org.kpis["evaluation_coverage"].samples == 3
    from signals.source import CycleWindow

    signals = monitor.sources[0].collect(CycleWindow(now, now - 3600, now, now - 30 * 86400)).signals
    assert kpi(signals["billing"], "evaluation_coverage")[1] == 3  # team from resource attribute service.namespace


def test_json_body_and_gzip(client):
    c, monitor = client
    now = time.time()
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
                               "scopeSpans": [{"spans": [{
                                   "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
                                   "name": "chat", "kind": 3, "startTimeUnixNano": str(int((now - 5) * 1e9)),
                                   "endTimeUnixNano": str(int(now * 1e9)), "unknownFieldIsIgnored": 1,
                                   "attributes": [{"key": "gen_ai.system", "value": {"stringValue": "openai"}}]}]}]}]}
    r = c.post("/v1/traces", content=json.dumps(body), headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 200 and r.json() == {}
    packed = gzip.compress(request_with([bytes(range(5, 21))], now).SerializeToString())
    r = c.post("/v1/traces", content=packed, headers={**PB, "Content-Encoding": "gzip"})
    assert r.status_code == 200
    assert monitor.run_cycle().org.kpis["evaluation_coverage"].samples == 2


@pytest.mark.parametrize("content_type, body, status", [
    ("application/x-protobuf", b"\xff\xff\xff\xff garbage", 400),
    ("application/json", b"{not json", 400),
    ("application/json", b"[1, 2]", 400),
    ("application/json", json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}).encode(), 400),
    ("text/plain", b"hello", 415),
    ("", b"hello", 415),
])
def test_bad_bodies_get_the_spec_status(client, content_type, body, status):
    c, monitor = client
    r = c.post("/v1/traces", content=body, headers={**AUTH, "Content-Type": content_type})
    assert r.status_code == status
    if content_type == "application/json":
        assert json.loads(r.content)["message"]  # google.rpc.Status in JSON
    else:
        assert status_of(r).message
    assert c.get("/healthz").status_code == 200  # still serving
    monitor.run_cycle()
    assert monitor.collectors["otlp"].up


def test_auth_size_limit_and_gzip_bomb(client):
    c, _ = client
    body = request_with([bytes(range(1, 17))], time.time()).SerializeToString()
    assert c.post("/v1/traces", content=body, headers={"Content-Type": "application/x-protobuf"}).status_code == 401
    wrong = {"Authorization": "Bearer nope", "Content-Type": "application/x-protobuf"}
    assert c.post("/v1/traces", content=body, headers=wrong).status_code == 401
    assert c.post("/v1/traces", content=b"\x0a" * 5000, headers=PB).status_code == 413
    bomb = gzip.compress(b"\x00" * 100_000)  # small on the wire, 100 kB inflated > 4 kB limit
    assert c.post("/v1/traces", content=bomb, headers={**PB, "Content-Encoding": "gzip"}).status_code == 413
    assert c.post("/v1/traces", content=b"not gzip", headers={**PB, "Content-Encoding": "gzip"}).status_code == 400
    assert c.post("/v1/traces", content=body, headers={**PB, "Content-Encoding": "br"}).status_code == 415


def test_ingest_token_is_reused_when_no_otlp_token(tmp_path):
    monitor, _ = make_monitor(tmp_path, environ={"AIOPS_INGEST_TOKEN": "shared-token"})
    with TestClient(create_app(monitor)) as c:
        body = request_with([bytes(range(1, 17))], time.time()).SerializeToString()
        headers = {"Content-Type": "application/x-protobuf", "Authorization": "Bearer shared-token"}
        assert c.post("/v1/traces", content=body, headers=headers).status_code == 200
    monitor.close()


def test_store_failure_answers_503_retryable(client, monkeypatch):
    c, monitor = client
    source = monitor.sources[0]

    def broken(_batch):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(source, "write", broken)
    from collectors.otlp import receiver

    source._endpoint = receiver.make_endpoint(source.settings, broken, OTLP_TOKEN, 4096, lambda r, t: True)
    app = create_app(monitor)
    with TestClient(app) as c2:
        r = c2.post("/v1/traces", content=request_with([bytes(range(1, 17))], time.time()).SerializeToString(), headers=PB)
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
