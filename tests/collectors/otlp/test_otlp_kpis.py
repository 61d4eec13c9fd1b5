"""Trace KPIs from stored spans: late data, incremental cycles, week over week, publish list, pruning."""
from __future__ import annotations

import uuid

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from collectors.otlp import tables
from tests.collectors.otlp.otlp_support import OTLP_TOKEN, make_monitor
from monitor.runtime.http import create_app
from tests.payloads import payload

T0 = 1_800_000_000.0
PB = {"Authorization": f"Bearer {OTLP_TOKEN}", "Content-Type": "application/x-protobuf"}


def spans(items: list[dict]) -> bytes:
    """items: {trace: uuid str, start: s, span_id?: int (default: position + 1), call_id?, team?, score?: (name, value),
    cost?}"""
    req = ExportTraceServiceRequest()
    out = req.resource_spans.add().scope_spans.add()
    for i, item in enumerate(items):
        span = out.spans.add()
        span.trace_id, span.span_id = uuid.UUID(item["trace"]).bytes, item.get("span_id", i + 1).to_bytes(8, "big")
        span.name = "litellm_request"
        span.start_time_unix_nano = int(item["start"] * 1e9)
        span.end_time_unix_nano = int((item["start"] + 0.4) * 1e9)
        attrs = {"metadata.user_api_key_team_alias": item.get("team", "search")}
        if item.get("call_id"):
            attrs["litellm.call_id"] = item["call_id"]
        for key, value in attrs.items():
            kv = span.attributes.add()
            kv.key, kv.value.string_value = key, value
        if "cost" in item:
            kv = span.attributes.add()
            kv.key, kv.value.double_value = "gen_ai.cost.total_cost", item["cost"]
        if "score" in item:
            event = span.events.add()
            event.name, event.time_unix_nano = "gen_ai.evaluation.result", span.end_time_unix_nano
            kv = event.attributes.add()
            kv.key, kv.value.string_value = "gen_ai.evaluation.name", item["score"][0]
            kv = event.attributes.add()
            kv.key, kv.value.double_value = "gen_ai.evaluation.score.value", item["score"][1]
    return req.SerializeToString()


def setup(tmp_path, **config):
    clock = {"now": T0 + 3000}
    monitor, source = make_monitor(tmp_path, clock=lambda: clock["now"], **config)
    return monitor, source, clock, TestClient(create_app(monitor))


def test_late_gateway_requests_and_late_evaluations_are_picked_up(tmp_path):
    monitor, source, clock, client = setup(tmp_path)
    ids = [str(uuid.uuid4()) for _ in range(40)]
    monitor.push.ingest([payload(c, start=T0 + 100 + k, team_alias="search") for k, c in enumerate(ids[:30])])
    assert client.post("/v1/traces", content=spans([{"trace": c, "start": T0 + 100 + k, "call_id": c}
                                                     for k, c in enumerate(ids[:30])]), headers=PB).status_code == 200
    kpis = monitor.run_cycle().org.kpis
    assert (kpis["trace_coverage"].value, kpis["trace_coverage"].samples) == (1.0, 30)
    assert kpis["evaluation_coverage"].value == 0.0

    clock["now"] += 60
    monitor.push.ingest([payload(c, start=T0 + 100 + k, team_alias="search") for k, c in enumerate(ids[30:])])
    kpis = monitor.run_cycle().org.kpis  # gateway data for an old minute: noticed by its request count
    assert (kpis["trace_coverage"].value, kpis["trace_coverage"].samples) == (0.75, 40)

    clock["now"] += 60  # an evaluation of an old trace arrives in a later batch, in a later minute
    # (a new span of the trace: its own span id, else the receiver takes it for a retry of the first)
    late = spans([{"trace": c, "start": clock["now"] - 1, "span_id": 1000 + k, "score": ("quality", 1.0)}
                  for k, c in enumerate(ids[:3])])
    assert client.post("/v1/traces", content=late, headers=PB).status_code == 200
    kpis = monitor.run_cycle().org.kpis
    assert (kpis["evaluation_coverage"].value, kpis["evaluation_coverage"].samples) == (3 / 30, 30)
    assert kpis["quality_score_avg"].value == 1.0 and kpis["quality_score_avg"].samples == 3

    clock["now"] += 30
    monitor.run_cycle()  # nothing new: only the settle period's minutes are recomputed
    assert monitor.collectors["otlp"].info["minutes_recomputed"] <= 5
    client.close()
    monitor.close()


def test_week_over_week_quality_and_cost_per_point(tmp_path):
    monitor, source, clock, client = setup(tmp_path)
    now = clock["now"]
    last = [{"trace": str(uuid.uuid4()), "start": now - 10 * 86400 + k, "score": ("quality", 0.8), "cost": 0.010}
            for k in range(25)]
    this = [{"trace": str(uuid.uuid4()), "start": now - 2 * 86400 + k, "score": ("quality", 0.9), "cost": 0.009}
            for k in range(25)]
    assert client.post("/v1/traces", content=spans(last + this), headers=PB).status_code == 200
    kpis = monitor.run_cycle().org.kpis
    assert kpis["self_improvement_rate"].value == __import__("pytest").approx(0.125)
    this_cpq, last_cpq = (25 * 0.009) / (0.9 * 25), (25 * 0.010) / (0.8 * 25)
    assert kpis["cost_per_quality_point"].value == __import__("pytest").approx((this_cpq - last_cpq) / last_cpq)
    assert kpis["cost_per_quality_point"].samples == 25
    assert kpis["cost_per_quality_point"].checks[0].status == "met"  # decreasing
    client.close()
    monitor.close()


def test_publish_list_and_pruning(tmp_path):
    monitor, source, clock, client = setup(tmp_path, kpis={"publish": ["trace_coverage"]}, retention="1h")
    ids = [str(uuid.uuid4()) for _ in range(25)]
    monitor.push.ingest([payload(c, start=T0 + 2900, team_alias="search") for c in ids])
    client.post("/v1/traces", content=spans([{"trace": c, "start": T0 + 2900, "call_id": c, "score": ("quality", 1)}
                                             for c in ids]), headers=PB)
    kpis = monitor.run_cycle().org.kpis
    assert kpis["trace_coverage"].value == 1.0
    assert kpis["evaluation_coverage"].samples == 0 and kpis["quality_score_avg"].samples == 0  # not published
    clock["now"] += 3 * 86400
    monitor.run_cycle()
    with monitor.store.engine.connect() as conn:
        for table in (tables.traces, tables.ids, tables.seen, tables.rollup, tables.scores, tables.span_stats):
            assert conn.execute(select(func.count()).select_from(table)).scalar() == 0, table.name
    client.close()
    monitor.close()


def test_memory_utilization_from_memory_operation_spans(tmp_path):
    """GenAI memory operations (gen_ai.operation.name): a trace with a search_memory span used memory;
    one that only wrote memory (create_memory, upsert_memory, ...) has memory enabled."""
    monitor, source, clock, client = setup(tmp_path)
    req = ExportTraceServiceRequest()
    out = req.resource_spans.add().scope_spans.add()
    operations = ["search_memory"] * 10 + ["create_memory", "upsert_memory"] * 6 + [None] * 8
    for k, operation in enumerate(operations):
        trace = uuid.uuid4().bytes
        for i, op in enumerate(("chat", operation)):
            if op is None:
                continue
            span = out.spans.add()
            span.trace_id, span.span_id, span.name = trace, (i + 1).to_bytes(8, "big"), f"{op} span"
            span.start_time_unix_nano = int((clock["now"] - 120 + k) * 1e9)
            span.end_time_unix_nano = span.start_time_unix_nano + 100_000_000
            kv = span.attributes.add()
            kv.key, kv.value.string_value = "gen_ai.operation.name", op
    assert client.post("/v1/traces", content=req.SerializeToString(), headers=PB).status_code == 200
    kpis = monitor.run_cycle().org.kpis
    assert (kpis["memory_utilization_rate"].value, kpis["memory_utilization_rate"].samples) == (10 / 22, 22)
    client.close()
    monitor.close()
