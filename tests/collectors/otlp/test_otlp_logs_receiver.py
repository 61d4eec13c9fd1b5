"""`POST /v1/logs`: the receiver's answers (same token, size limit, encodings and statuses as
/v1/traces), which log records are read, rejected or ignored, retries counted once, and how
evaluation records are joined to their traces at the next cycle: late ones, early ones, ones whose
trace never comes, by trace context or by gen_ai.response.id, with the trace's team."""
from __future__ import annotations

import gzip
import json
import uuid

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from collectors.observability_kpis import KpiMapping
from collectors.otlp import evaluations, tables
from collectors.otlp.decode import ESCALATED, GENAI, SCORED, Settings, parse_body, summarise
from collectors.otlp.logs import parse_logs, summarise_logs
from monitor.runtime.http import create_app
from monitor.storage.database import open_database
from signals.source import CycleWindow, SourceConfigError
from tests.collectors.otlp.otlp_support import OTLP_TOKEN, make_monitor
from tests.kpi_support import kpi as kpi_of

T0 = 1_800_000_000.0
NOW = T0 + 3000
AUTH = {"Authorization": f"Bearer {OTLP_TOKEN}"}
PB = {**AUTH, "Content-Type": "application/x-protobuf"}
N = 24
LIMIT = 64 * 1024


def traces_body(traces: list[bytes], start: float, team: str | None = "search", response_ids: bool = True) -> bytes:
    """One GenAI span per trace id (span id 1), with `gen_ai.response.id` resp-<trace hex>."""
    req = ExportTraceServiceRequest()
    out = req.resource_spans.add().scope_spans.add()
    for trace in traces:
        span = out.spans.add()
        span.trace_id, span.span_id, span.name = trace, (1).to_bytes(8, "big"), "chat gpt-4o"
        span.start_time_unix_nano, span.end_time_unix_nano = int(start * 1e9), int((start + 0.5) * 1e9)
        attrs = {"gen_ai.provider.name": "openai"}
        if team:
            attrs["metadata.user_api_key_team_alias"] = team
        if response_ids:
            attrs["gen_ai.response.id"] = f"resp-{trace.hex()}"
        for key, value in attrs.items():
            kv = span.attributes.add()
            kv.key, kv.value.string_value = key, value
    return req.SerializeToString()


def record(out, *, trace: bytes = b"", at: float | None = NOW - 30, observed: float | None = None, name="quality",
           value: float | None = 0.5, label: str | None = None, response_id: str | None = None,
           event: str | None = "gen_ai.evaluation.result", event_attribute: bool = False) -> None:
    r = out.log_records.add()
    if at is not None:
        r.time_unix_nano = int(at * 1e9)
    if observed is not None:
        r.observed_time_unix_nano = int(observed * 1e9)
    if trace:
        r.trace_id, r.span_id = trace, (1).to_bytes(8, "big")
    if event and not event_attribute:
        r.event_name = event
    r.body.string_value = "the judge's reasoning: never stored"
    attrs = {"gen_ai.evaluation.name": name, "gen_ai.evaluation.score.value": value,
             "gen_ai.evaluation.score.label": label, "gen_ai.response.id": response_id,
             "event.name": event if event_attribute else None}
    for key, v in attrs.items():
        if v is None:
            continue
        kv = r.attributes.add()
        kv.key = key
        if isinstance(v, float):
            kv.value.double_value = v
        else:
            kv.value.string_value = v


def logs_body(fill, namespace: str | None = None) -> bytes:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    if namespace:
        kv = rl.resource.attributes.add()
        kv.key, kv.value.string_value = "service.namespace", namespace
    fill(rl.scope_logs.add())
    return req.SerializeToString()


@pytest.fixture
def setup(tmp_path):
    clock = {"now": NOW}
    monitor, source = make_monitor(tmp_path, clock=lambda: clock["now"], max_body_bytes=LIMIT)
    with TestClient(create_app(monitor)) as client:
        yield monitor, source, clock, client
    monitor.close()


def kpi(report, name):
    result = report.org.kpis[name]
    return result.value, result.samples


def team_kpi(source, now: float, team: str, name: str):
    """A team's KPI from the source's signals (the report lists the gateway's teams; there is no gateway
    traffic here)."""
    return kpi_of(source.collect(CycleWindow(now, now - 3600, now, now - 30 * 86400)).signals[team], name)


def test_the_route_answers_like_the_trace_route(setup):
    monitor, _source, _clock, client = setup
    body = logs_body(lambda out: record(out, trace=uuid.uuid4().bytes))
    assert client.post("/v1/logs", content=body, headers={"Content-Type": "application/x-protobuf"}).status_code == 401
    assert client.post("/v1/logs", content=body, headers={**PB, "Authorization": "Bearer nope"}).status_code == 401
    assert client.post("/v1/logs", content=body, headers={**AUTH, "Content-Type": "text/plain"}).status_code == 415
    assert client.post("/v1/logs", content=b"\xff\xff garbage", headers=PB).status_code == 400
    r = client.post("/v1/logs", content=b"[1]", headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 400 and "must be an object" in r.json()["message"]
    bad_id = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "zz"}]}]}]}
    assert client.post("/v1/logs", content=json.dumps(bad_id), headers={**AUTH, "Content-Type": "application/json"}
                       ).status_code == 400
    assert client.post("/v1/logs", content=b"\x0a" * (LIMIT + 1), headers=PB).status_code == 413
    bomb = gzip.compress(b"\x00" * 2 * LIMIT)
    assert client.post("/v1/logs", content=bomb, headers={**PB, "Content-Encoding": "gzip"}).status_code == 413
    r = client.post("/v1/logs", content=gzip.compress(body), headers={**PB, "Content-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    assert not ExportLogsServiceResponse.FromString(r.content).HasField("partial_success")
    monitor.run_cycle()
    assert monitor.collectors["otlp"].up


def test_which_records_are_read_rejected_or_ignored(setup):
    monitor, source, _clock, client = setup
    known = [uuid.uuid4().bytes for _ in range(3)]
    assert client.post("/v1/traces", content=traces_body(known, NOW - 60), headers=PB).status_code == 200

    def fill(out):
        record(out, trace=known[0])                                           # read: trace context
        record(out, response_id=f"resp-{known[1].hex()}", value=None, label="pass")  # read: response id, a label
        record(out, trace=known[2], at=None, observed=NOW - 20, event_attribute=True)  # read: older SDKs' event.name
        record(out)                                                           # rejected: cannot be joined
        record(out, trace=known[0], name=None)                                # rejected: no evaluation name
        record(out, trace=known[0], at=None)                                  # rejected: no time at all
        record(out, trace=known[0], event="app.log")                          # ignored: another event
        record(out, trace=known[0], event=None)                               # ignored: a plain log record

    r = client.post("/v1/logs", content=logs_body(fill), headers=PB)
    response = ExportLogsServiceResponse.FromString(r.content)
    assert r.status_code == 200 and response.partial_success.rejected_log_records == 3
    message = response.partial_success.error_message
    assert "neither a trace context nor gen_ai.response.id" in message and "without gen_ai.evaluation.name" in message
    monitor.run_cycle()
    assert team_kpi(source, NOW, "search", "evaluation_coverage") == (1.0, 3)
    assert team_kpi(source, NOW, "search", "quality_score_avg") == (pytest.approx((0.5 + 1.0 + 0.5) / 3), 3)
    info = monitor.collectors["otlp"].info
    assert info["received"] == {"accepted_spans": 3, "accepted_log_records": 3, "rejected_log_records": 3,
                                "ignored_log_records": 2}
    assert (info["evaluations_joined"], info["pending_evaluations"]) == (3, 0)


def test_a_retried_body_counts_once(setup):
    monitor, _source, _clock, client = setup
    traces = [uuid.uuid4().bytes for _ in range(N)]
    client.post("/v1/traces", content=traces_body(traces, NOW - 60), headers=PB)
    body = logs_body(lambda out: [record(out, trace=t, value=0.25 * (k % 4)) for k, t in enumerate(traces)])
    for _ in range(2):
        assert client.post("/v1/logs", content=body, headers=PB).status_code == 200
    monitor.run_cycle()
    client.post("/v1/logs", content=body, headers=PB)  # a retry after the records were joined
    report = monitor.run_cycle()
    assert kpi(report, "quality_score_avg") == (pytest.approx(0.375), N)
    assert kpi(report, "evaluation_coverage") == (1.0, N)
    received = monitor.collectors["otlp"].info["received"]
    assert (received["accepted_log_records"], received["duplicate_log_records"]) == (N, 2 * N)


def test_early_late_and_orphan_evaluations(setup):
    monitor, source, clock, client = setup
    early, late, orphan = ([uuid.uuid4().bytes for _ in range(N)] for _ in range(3))
    # evaluations before their spans (by response id: the spans bring it later) and some that never get one
    body = logs_body(lambda out: [record(out, response_id=f"resp-{t.hex()}", value=1.0) for t in early + orphan])
    assert client.post("/v1/logs", content=body, headers=PB).status_code == 200
    report = monitor.run_cycle()
    assert kpi(report, "quality_score_avg") == (None, 0)
    assert monitor.collectors["otlp"].info["pending_evaluations"] == 2 * N

    spans_at = NOW - 600  # the traces' minute is long past `settle` when the late evaluations come
    assert client.post("/v1/traces", content=traces_body(early + late, spans_at), headers=PB).status_code == 200
    clock["now"] += 30
    report = monitor.run_cycle()
    assert kpi(report, "evaluation_coverage") == (0.5, 2 * N)
    clock["now"] += 600
    body = logs_body(lambda out: [record(out, trace=t, value=0.0, at=clock["now"] - 5) for t in late])
    assert client.post("/v1/logs", content=body, headers=PB).status_code == 200
    report = monitor.run_cycle()
    assert kpi(report, "evaluation_coverage") == (1.0, 2 * N)
    assert kpi(report, "quality_score_avg") == (0.5, 2 * N)
    assert monitor.collectors["otlp"].info["pending_evaluations"] == N  # the orphans wait

    clock["now"] += 3 * 86400  # past `retention`: the orphans are dropped with the per-trace rows
    monitor.run_cycle()
    with monitor.store.engine.connect() as conn:
        for table in (evaluations.pending, evaluations.response_ids):
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 0, table.name


def test_the_score_takes_the_traces_team_else_the_records_own(setup):
    monitor, source, _clock, client = setup
    with_team, without = [uuid.uuid4().bytes for _ in range(N)], [uuid.uuid4().bytes for _ in range(N)]
    client.post("/v1/traces", content=traces_body(with_team, NOW - 60), headers=PB)
    client.post("/v1/traces", content=traces_body(without, NOW - 60, team=None), headers=PB)
    body = logs_body(lambda out: [record(out, trace=t, value=0.75) for t in with_team + without], namespace="billing")
    client.post("/v1/logs", content=body, headers=PB)
    assert kpi(monitor.run_cycle(), "quality_score_avg") == (0.75, 2 * N)
    assert team_kpi(source, NOW, "search", "quality_score_avg") == (0.75, N)   # not billing: the trace says search
    assert team_kpi(source, NOW, "billing", "quality_score_avg") == (0.75, N)  # the trace has no team: the record's


def test_the_log_route_can_be_turned_off(tmp_path):
    monitor, _source = make_monitor(tmp_path, logs_path=None)
    with TestClient(create_app(monitor)) as client:
        assert client.post("/v1/logs", content=b"", headers=PB).status_code == 404
    monitor.close()
    with pytest.raises((SourceConfigError, ValueError), match="logs_path must differ from path"):
        make_monitor(tmp_path / "same", logs_path="/v1/traces")


def test_without_response_ids_only_records_with_trace_context_are_joined(tmp_path):
    monitor, source = make_monitor(tmp_path, clock=lambda: NOW, keep_response_ids=False)
    traces = [uuid.uuid4().bytes for _ in range(N)]
    with TestClient(create_app(monitor)) as client:
        client.post("/v1/traces", content=traces_body(traces, NOW - 60), headers=PB)
        body = logs_body(lambda out: [record(out, trace=t if k % 2 else b"", response_id=f"resp-{t.hex()}")
                                      for k, t in enumerate(traces)])
        response = ExportLogsServiceResponse.FromString(client.post("/v1/logs", content=body, headers=PB).content)
    assert response.partial_success.rejected_log_records == N // 2
    assert "joining by gen_ai.response.id is off" in response.partial_success.error_message
    assert kpi(monitor.run_cycle(), "evaluation_coverage") == (0.5, N)
    with monitor.store.engine.connect() as conn:  # the spans' response ids were not kept
        assert conn.execute(select(func.count()).select_from(evaluations.response_ids)).scalar_one() == 0
    monitor.close()


def test_the_join_in_the_store_on_both_databases(store_url):
    """The store functions on SQLite and PostgreSQL: spans with response ids, records by trace context
    and by response id (one of them before its span), a retried body, and the join at the cycle."""
    engine = open_database(store_url)
    settings = Settings(KpiMapping(), clock=lambda: NOW)
    traces = [uuid.uuid4().bytes for _ in range(4)]
    logs = logs_body(lambda out: [record(out, trace=traces[0], value=0.25),
                                  record(out, response_id=f"resp-{traces[1].hex()}", name="human_escalation", value=1.0),
                                  record(out, response_id=f"resp-{traces[3].hex()}", value=0.75)])  # its span: later
    for _ in range(2):  # the second post is a retry: nothing new
        evaluations.write_logs(engine, summarise_logs(parse_logs(logs, "application/x-protobuf"), settings))
    tables.write_batch(engine, summarise(parse_body(traces_body(traces[:3], NOW - 60), "application/x-protobuf"),
                                         settings))
    assert evaluations.resolve(engine, frozenset({"human_escalation"})) == 2
    assert evaluations.waiting(engine) == 1
    tables.write_batch(engine, summarise(parse_body(traces_body(traces[3:], NOW - 60), "application/x-protobuf"),
                                         settings))
    assert evaluations.resolve(engine, frozenset()) == 1 and evaluations.waiting(engine) == 0
    with engine.connect() as conn:
        flags = dict(conn.execute(select(tables.traces.c.trace_id, tables.traces.c.flags)).all())
        scores = sorted(conn.execute(select(tables.scores.c.team, tables.scores.c.name, tables.scores.c.count,
                                            tables.scores.c.total)).all())
        dirty = {m for (m,) in conn.execute(select(tables.dirty.c.minute))}
    assert flags == {traces[0].hex(): GENAI | SCORED, traces[1].hex(): GENAI | SCORED | ESCALATED,
                     traces[2].hex(): GENAI, traces[3].hex(): GENAI | SCORED}
    assert scores == [("search", "human_escalation", 1, 1.0), ("search", "quality", 2, 1.0)]
    assert int(NOW - 60) // 60 * 60 in dirty
    engine.dispose()
