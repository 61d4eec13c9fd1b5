"""trace_coverage with late spans: gateway requests whose spans arrive after a cycle has counted them
untraced are counted traced by the next cycle, whichever id joins them (the request's trace_id or its
litellm_call_id), also when the trace began in the minute before the request (issue 14, 5a: the
trace-id join only recomputed the trace's first minute, so such requests stayed untraced)."""
from __future__ import annotations

import uuid

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from starlette.testclient import TestClient

from collectors.otlp.decode import Batch
from collectors.otlp.tables import MAX_TRACE_MINUTES, _join_minutes
from monitor.runtime.http import create_app
from tests.collectors.otlp.otlp_support import OTLP_TOKEN, make_monitor
from tests.payloads import payload

T0 = 1_800_000_000.0            # a minute boundary
MINUTE = T0 + 1200              # the requests' minute; NOW is far past `settle` (180 s) after it
NOW = T0 + 3000
PB = {"Authorization": f"Bearer {OTLP_TOKEN}", "Content-Type": "application/x-protobuf"}
N = 24


def span(out, trace: bytes, span_id: int, name: str, start: float, end: float, attrs: dict) -> None:
    s = out.spans.add()
    s.trace_id, s.span_id, s.name = trace, span_id.to_bytes(8, "big"), name
    s.start_time_unix_nano, s.end_time_unix_nano = int(start * 1e9), int(end * 1e9)
    for key, value in attrs.items():
        kv = s.attributes.add()
        kv.key, kv.value.string_value = key, value


def agent_traces(requests: list[tuple[str, str, float]], join: str) -> bytes:
    """Per request (call id, trace id, start): an agent trace that began 15 s before the minute of the
    request (its root `invoke_agent` span, listed first, so the trace's first minute is the one before)
    and a `chat` span for the gateway call. join="trace_id": the trace id is the request's trace_id and
    no span names the call id; join="call_id": a trace id of its own and `litellm.call_id` on the chat span."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "agent-app"
    out = rs.scope_spans.add()
    for call_id, trace_id, start in requests:
        trace = uuid.UUID(trace_id).bytes if join == "trace_id" else uuid.uuid4().bytes
        team = {"metadata.user_api_key_team_alias": "search"}
        span(out, trace, 1, "invoke_agent", MINUTE - 15, start + 5, {**team, "gen_ai.operation.name": "invoke_agent"})
        chat = {**team, "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini"}
        if join == "call_id":
            chat["litellm.call_id"] = call_id
        span(out, trace, 2, "chat gpt-4o-mini", start + 0.01, start + 0.5, chat)
    return req.SerializeToString()


@pytest.mark.parametrize("join", ["trace_id", "call_id"])
def test_late_spans_of_a_trace_that_began_the_minute_before_count(tmp_path, join):
    clock = {"now": NOW}
    monitor, _source = make_monitor(tmp_path, clock=lambda: clock["now"])
    requests = [(str(uuid.uuid4()), str(uuid.uuid4()), MINUTE + 5 + k) for k in range(N)]
    payloads = []
    for call_id, trace_id, start in requests:
        p = payload(call_id, start=start, team_alias="search")
        p["trace_id"] = trace_id  # the request's OTel trace id, as a UUID (same 128 bits)
        payloads.append(p)
    assert monitor.push.ingest(payloads).accepted == N
    coverage = monitor.run_cycle().teams["search"].kpis["trace_coverage"]
    assert (coverage.value, coverage.samples) == (0.0, N)  # no spans yet: all untraced

    clock["now"] += 30
    with TestClient(create_app(monitor)) as client:  # the spans come late, after that cycle
        assert client.post("/v1/traces", content=agent_traces(requests[:18], join), headers=PB).status_code == 200
    report = monitor.run_cycle()
    for kpis in (report.teams["search"].kpis, report.org.kpis):
        assert (kpis["trace_coverage"].value, kpis["trace_coverage"].samples) == (pytest.approx(18 / N), N)
    monitor.close()


def test_the_minutes_marked_for_the_join_span_each_trace_with_a_minute_either_side():
    m = int(MINUTE)
    batch = Batch(ranges={"a": [m, m + 120], "b": [m, m], "c": [m - 5 * 86400, m]})
    known = {"b": (m - 600, "search")}  # stored before: its first minute was 10 minutes earlier
    marked = _join_minutes(batch, known)
    assert set(range(m - 60, m + 180, 60)) <= marked                      # a: its minutes and one either side
    assert set(range(m - 660, m + 60, 60)) <= marked                      # b: from its stored first minute
    assert min(marked) == m - MAX_TRACE_MINUTES * 60 - 60                 # c: at most its last day
    assert marked == set(range(m - MAX_TRACE_MINUTES * 60 - 60, m + 240, 60))  # the union, nothing else
