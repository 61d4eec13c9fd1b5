"""Idempotent ingestion: a span (trace id + span id) and the evaluation results it carries count once
however often it is posted (exporters retry on timeouts and 5xx), also when two posts race; and
hostile bodies or absurd span times are a 400 or a counted per-span rejection, never a 500."""
from __future__ import annotations

import json
import threading
import time
import uuid

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest, ExportTraceServiceResponse,
)
from sqlalchemy import func, select
from starlette.testclient import TestClient

from collectors.observability_kpis import KpiMapping
from collectors.otlp import tables
from collectors.otlp.decode import Settings, parse_body, summarise
from tests.collectors.otlp.otlp_support import OTLP_TOKEN, make_monitor
from monitor.storage.database import open_database
from monitor.runtime.http import create_app
from tests.payloads import payload

T0 = 1_800_000_000.0
NOW = T0 + 3000
PB = {"Authorization": f"Bearer {OTLP_TOKEN}", "Content-Type": "application/x-protobuf"}
KPIS = ("trace_coverage", "evaluation_coverage", "quality_score_avg")
CALL_IDS = [str(uuid.UUID(int=0x5EED_0000 + k)) for k in range(20)]


def body(indices, start: float = NOW - 100, span_id=None, times=None) -> bytes:
    """One GenAI span per index (trace = CALL_IDS[k], span id k + 1), each with one quality score and a
    cost. `span_id` overrides the span id bytes, `times` the (start, end) in ns for every span."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "chat-app"
    out = rs.scope_spans.add()
    for k in indices:
        span = out.spans.add()
        span.trace_id = uuid.UUID(CALL_IDS[k]).bytes
        span.span_id = (k + 1).to_bytes(8, "big") if span_id is None else span_id
        span.name = "litellm_request"
        if times is None:
            span.start_time_unix_nano = int((start + k) * 1e9)
            span.end_time_unix_nano = span.start_time_unix_nano + 250_000_000
        else:
            span.start_time_unix_nano, span.end_time_unix_nano = times
        for key, value in (("metadata.user_api_key_team_alias", "search"), ("litellm.call_id", CALL_IDS[k]),
                           ("gen_ai.request.model", "gpt-4o-mini")):
            a = span.attributes.add()
            a.key, a.value.string_value = key, value
        a = span.attributes.add()
        a.key, a.value.double_value = "gen_ai.cost.total_cost", 0.001 * (k + 1)
        event = span.events.add()
        event.name, event.time_unix_nano = "gen_ai.evaluation.result", span.end_time_unix_nano
        a = event.attributes.add()
        a.key, a.value.string_value = "gen_ai.evaluation.name", "quality"
        a = event.attributes.add()
        a.key, a.value.double_value = "gen_ai.evaluation.score.value", 0.5 + 0.025 * k
    return req.SerializeToString()


def rejected(response) -> int:
    return ExportTraceServiceResponse.FromString(response.content).partial_success.rejected_spans


def _rounded(row) -> tuple:
    return tuple(round(v, 9) if isinstance(v, float) else v for v in row)


def snapshot(monitor) -> dict:
    """The numbers the monitor derives from what it stored: KPIs and the OTLP tables' rows."""
    kpis = monitor.run_cycle().org.kpis
    out = {name: (None if kpis[name].value is None else round(kpis[name].value, 9), kpis[name].samples)
           for name in KPIS}
    with monitor.store.engine.connect() as conn:
        for table in (tables.span_stats, tables.scores, tables.hourly, tables.traces, tables.ids, tables.rollup):
            out[table.name] = sorted(_rounded(r) for r in conn.execute(select(table)))
    return out


def spans_stored(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.sum(tables.span_stats.c.spans))).scalar() or 0)


def run(tmp_path, name: str, posts: list[bytes]) -> tuple[dict, dict]:
    """A fresh monitor (12 gateway requests, the first 10+ traced) given these posts; (snapshot, counter)."""
    folder = tmp_path / name
    folder.mkdir()
    monitor, source = make_monitor(folder, clock=lambda: NOW)
    monitor.push.ingest([payload(c, start=NOW - 100 + k, team_alias="search") for k, c in enumerate(CALL_IDS[:12])])
    with TestClient(create_app(monitor)) as client:
        for content in posts:
            r = client.post("/v1/traces", content=content, headers=PB)
            assert r.status_code == 200 and rejected(r) == 0
    result = snapshot(monitor), dict(source._received)
    monitor.close()
    return result


def test_same_spans_posted_twice_count_once(tmp_path):
    once, once_counter = run(tmp_path, "once", [body(range(10))])
    assert once["quality_score_avg"][1] == 10 and once["trace_coverage"] == (round(10 / 12, 9), 12)
    assert sum(r[4] for r in once["otlp_span_stats"]) == 10  # (minute, team, service, model, spans, ...)
    assert once_counter == {"accepted_spans": 10}

    twice, twice_counter = run(tmp_path, "twice", [body(range(10)), body(range(10))])
    assert twice == once  # every KPI and every stored count, score sum and cost
    assert twice_counter == {"accepted_spans": 10, "duplicate_spans": 10}


def test_a_retry_with_new_spans_counts_only_the_new_ones(tmp_path):
    reference, _ = run(tmp_path, "reference", [body(range(12))])
    assert reference["quality_score_avg"][1] == 12
    # bodies repeating their own spans, and a retry overlapping the first post
    posts = [body(list(range(6)) * 2), body(range(3, 12)), body(list(range(12)) * 2)]
    overlapping, counter = run(tmp_path, "overlap", posts)
    assert overlapping == reference
    assert counter == {"accepted_spans": 12, "duplicate_spans": 6 + 3 + 24}


def test_concurrent_posts_of_one_body_count_once(running_monitor):
    running, monitor, source = running_monitor
    now = time.time()
    monitor.push.ingest([payload(c, start=now - 100 + k, team_alias="search") for k, c in enumerate(CALL_IDS[:10])])
    content = body(range(10), start=now - 100)
    posters = 4
    barrier, statuses = threading.Barrier(posters), []

    def post() -> None:
        with httpx.Client(trust_env=False, timeout=30) as client:
            barrier.wait()
            statuses.append(client.post(f"{running.url}/v1/traces", content=content, headers=PB).status_code)

    threads = [threading.Thread(target=post) for _ in range(posters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * posters
    assert spans_stored(monitor.store.engine) == 10
    kpis = monitor.run_cycle().org.kpis
    assert kpis["quality_score_avg"].samples == 10 and kpis["evaluation_coverage"].samples == 10
    assert kpis["trace_coverage"].value == 1.0
    assert source._received["accepted_spans"] == 10 and source._received["duplicate_spans"] == 30


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_store_writers_claim_each_span_once(tmp_path, request, backend):
    """Without the source's in-process lock (another process, or a second replica on PostgreSQL):
    the claim in the batch's own transaction is what keeps the count right, whatever the span order."""
    url = f"sqlite:///{tmp_path / 'history.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    engine = open_database(url)
    tables.metadata.create_all(engine)
    settings = Settings(KpiMapping())
    contents = [body(range(10)), body(range(10)), body(reversed(range(10))), body(range(5, 15)), body(range(14, 4, -1))]
    batches = [summarise(parse_body(c, "application/x-protobuf"), settings) for c in contents]
    barrier, counted, errors = threading.Barrier(len(batches)), [], []

    def write(batch) -> None:
        try:
            barrier.wait()
            counted.append(tables.write_batch(engine, batch))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(counted) == len(batches)
    assert sum(b.duplicates for b in counted) == 50 - 15
    assert spans_stored(engine) == 15
    with engine.connect() as conn:
        assert conn.execute(select(func.sum(tables.scores.c.count))).scalar() == 15
        assert conn.execute(select(func.count()).select_from(tables.seen)).scalar() == 15
        assert conn.execute(select(func.count()).select_from(tables.traces)).scalar() == 15
    tables.prune(engine, NOW + 3600, NOW - 15 * 86400)  # the seen keys go with the per-trace rows
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(tables.seen)).scalar() == 0
    engine.dispose()


def test_spans_without_a_valid_span_id_are_counted_each_time(tmp_path):
    """The documented choice: such a span cannot be recognised, so it is counted, not refused."""
    posts = [body([0], span_id=bytes(8)), body([0], span_id=bytes(8)), body([1], span_id=b"\x01\x02\x03"),
             body([1], span_id=b"\x01\x02\x03")]
    stats, counter = run(tmp_path, "no-span-id", posts)
    assert sum(r[4] for r in stats["otlp_span_stats"]) == 4 and stats["quality_score_avg"][1] == 4
    assert counter == {"accepted_spans": 4}


@pytest.fixture
def client(tmp_path):
    monitor, source = make_monitor(tmp_path, clock=lambda: NOW)
    with TestClient(create_app(monitor)) as c:
        yield c, monitor, source
    monitor.close()


def _varint(n: int) -> bytes:
    out = b""
    while True:
        low, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([low])
        out += bytes([low | 0x80])


def _field(number: int, payload: bytes) -> bytes:  # a length-delimited protobuf field
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def test_deep_or_invalid_bodies_are_400_not_500(client):
    c, monitor, _ = client
    json_headers = {**PB, "Content-Type": "application/json"}
    deep_json = b'{"resourceSpans": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = c.post("/v1/traces", content=deep_json, headers=json_headers)
    assert r.status_code == 400 and "nested" in r.json()["message"]
    deep_object = b'{"a": ' * 50_000 + b"1" + b"}" * 50_000
    assert c.post("/v1/traces", content=deep_object, headers=json_headers).status_code == 400

    # protobuf: an attribute value nested 2000 arrays deep (AnyValue.array_value.values[0]...)
    value = _field(1, b"x")
    for _ in range(2000):
        value = _field(5, _field(1, value))
    span = _field(1, bytes(range(1, 17))) + _field(2, bytes(range(1, 9))) + _field(9, _field(1, b"tags") + _field(2, value))
    deep_pb = _field(1, _field(2, _field(2, span)))
    assert c.post("/v1/traces", content=deep_pb, headers=PB).status_code == 400

    # protobuf: invalid UTF-8 in a string field (the span name)
    good = body([0])
    assert b"litellm_request" in good
    bad_utf8 = good.replace(b"litellm_request", b"litellm_\xff\xfe\xfd\xfc\xfb\xfa\xf9")
    assert c.post("/v1/traces", content=bad_utf8, headers=PB).status_code == 400

    # a tag attribute that looks like a deeply nested JSON list: read as no tags, the span counts
    req = ExportTraceServiceRequest.FromString(body([0]))
    a = req.resource_spans[0].scope_spans[0].spans[0].attributes.add()
    a.key, a.value.string_value = "tags", "[" * 100_000
    r = c.post("/v1/traces", content=req.SerializeToString(), headers=PB)
    assert r.status_code == 200 and rejected(r) == 0
    assert spans_stored(monitor.store.engine) == 1
    assert c.get("/healthz").status_code == 200


def test_absurd_span_times_are_counted_rejections(client):
    c, monitor, source = client
    ns = 10**9
    good = ExportTraceServiceRequest.FromString(body(range(3)))
    cases = [
        (0, 0),                                       # unset
        (int(946_684_799 * ns), int(946_684_800 * ns)),   # starts in 1999
        (int(4_102_444_800 * ns), int(4_102_444_801 * ns)),  # 2100
        (int(NOW * ns), int((NOW - 1) * ns)),           # ends before it starts
        (int(NOW * ns), int(5_000_000_000 * ns)),       # ends in 2128
        (int(NOW), int(NOW) + 1),                     # seconds sent as nanoseconds: 1970
    ]
    for k, times in enumerate(cases, start=3):
        good.MergeFromString(body([k], times=times))
    r = c.post("/v1/traces", content=good.SerializeToString(), headers=PB)
    assert r.status_code == 200
    response = ExportTraceServiceResponse.FromString(r.content)
    assert response.partial_success.rejected_spans == len(cases)
    assert "time" in response.partial_success.error_message
    assert source._received == {"accepted_spans": 3, "rejected_spans": len(cases)}
    assert spans_stored(monitor.store.engine) == 3
    with monitor.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(tables.seen)).scalar() == 3
    kpis = monitor.run_cycle().org.kpis
    assert kpis["quality_score_avg"].samples == 3 and kpis["evaluation_coverage"].samples == 3

    # JSON too: times are strings of nanoseconds there
    span = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "chat",
            "startTimeUnixNano": str(int(NOW * ns)), "endTimeUnixNano": str(int((NOW - 5) * ns)),
            "attributes": [{"key": "gen_ai.system", "value": {"stringValue": "openai"}}]}
    r = c.post("/v1/traces", content=json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}),
               headers={**PB, "Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert spans_stored(monitor.store.engine) == 3
