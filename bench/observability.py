"""Benchmarks of the observability collectors (ratios and rates measured in one run; not pass/fail).

    run(quick) -> {"otlp_spans_per_s": ..., "langfuse_requests_per_cycle_at_100k_traces_vs_1k": ..., ...}

otlp_spans_per_s: spans per second the OTLP receiver sustains on loopback: the monitor as the
  service runs it (uvicorn in a thread, SQLite history in a temp folder) in this process, the load
  from a separate client process (so they share no GIL) posting protobuf batches of 512 GenAI
  spans (LiteLLM `litellm_request`-like: ~20 attributes, an evaluation event on most) on 2
  keep-alive connections. Target >= 20000. Also reported: spans per CPU second of the server
  process (the receiver's cost alone; the wall rate drops when other work shares the 2 cores).
langfuse_requests_per_cycle_at_100k_traces_vs_1k: HTTP requests per collection cycle (mean over
  steady-state cycles, 30 s apart, new traces and gateway requests arriving at the volume's rate)
  against the Langfuse test double holding 100k traces in the 24 h window, over the same with 1k.
  Both generations are measured; the headline is the larger ratio. Target <= 1.5. `quick` uses
  20k instead of 100k (named in the result).
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BATCH = 512


# ---------------------------------------------------------------------------- OTLP
def make_batch(seed: int, now: float) -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "litellm"
    spans = rs.scope_spans.add()
    for i in range(BATCH):
        span = spans.spans.add()
        span.trace_id, span.span_id = uuid.uuid4().bytes, (i + 1).to_bytes(8, "big")
        span.name = "litellm_request"
        span.start_time_unix_nano = int((now - 60 + i * 0.01) * 1e9)
        span.end_time_unix_nano = span.start_time_unix_nano + 300_000_000
        attrs = {"gen_ai.system": "openai", "gen_ai.request.model": f"model-{i % 4}", "gen_ai.response.model": "m",
                 "gen_ai.operation.name": "chat", "litellm.call_id": str(uuid.uuid4()),
                 "metadata.user_api_key_team_alias": f"team-{(seed + i) % 8}", "metadata.user_api_key_hash": "h" * 64,
                 "metadata.user_api_key_user_id": "u", "metadata.requester_ip_address": "127.0.0.1",
                 "llm.request.type": "acompletion", "gen_ai.input.messages": "[{\"role\": \"user\"}]" * 5,
                 "gen_ai.output.messages": "[{\"role\": \"assistant\"}]" * 5, "hidden_params": "{}" * 50}
        for key, value in attrs.items():
            a = span.attributes.add()
            a.key, a.value.string_value = key, value
        for key, value in (("gen_ai.cost.total_cost", 0.0013), ("gen_ai.usage.input_tokens", 10.0),
                           ("gen_ai.usage.output_tokens", 20.0), ("gen_ai.usage.total_tokens", 30.0)):
            a = span.attributes.add()
            a.key, a.value.double_value = key, value
        if i % 5:
            event = span.events.add()
            event.name, event.time_unix_nano = "gen_ai.evaluation.result", span.end_time_unix_nano
            for key, value in (("gen_ai.evaluation.name", "quality"),):
                a = event.attributes.add()
                a.key, a.value.string_value = key, value
            a = event.attributes.add()
            a.key, a.value.double_value = "gen_ai.evaluation.score.value", 0.8
    return req.SerializeToString()


def _client(url: str, batches: int, connections: int) -> None:
    """Child process: pre-encode the batches, then post them; prints elapsed seconds."""
    import threading

    import httpx

    now = time.time()
    # Every body distinct (fresh trace ids): the receiver counts a span once, so a re-posted body
    # would take the cheap duplicate path and overstate the rate. One more for the warm-up.
    bodies = [make_batch(i, now) for i in range(batches + 1)]
    done, lock = [0], threading.Lock()

    def worker() -> None:
        with httpx.Client(trust_env=False, timeout=60) as client:
            while True:
                with lock:
                    if done[0] >= batches:
                        return
                    n = done[0]
                    done[0] += 1
                r = client.post(url, content=bodies[n + 1], headers={"Content-Type": "application/x-protobuf"})
                assert r.status_code == 200, r.status_code

    with httpx.Client(trust_env=False) as warm:
        warm.post(url, content=bodies[0], headers={"Content-Type": "application/x-protobuf"})
    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(time.perf_counter() - started)


def otlp_spans_per_s(batches: int) -> dict:
    from collectors.otlp.source import OtlpConfig, OtlpSource
    from monitor.runtime.config import build_config
    from monitor.runtime.server import RunningMonitor
    from monitor.runtime.service import Monitor
    from signals.source import SourceContext
    from collectors.litellm.store import Store
    from monitor.storage.database import open_database

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(open_database(f"sqlite:///{tmp}/history.db"))
        source = OtlpSource(OtlpConfig(), SourceContext(store.engine, time.time, {}, "team:", gateway=store))
        monitor = Monitor(build_config({"scheduler": {"interval_seconds": 3600}}, environ={}), store=store, sources=[source])
        with RunningMonitor(monitor, host="127.0.0.1", port=0) as running:
            cpu = time.process_time()
            # cwd=REPO: `python -c` puts its working directory first on sys.path, so `bench` imports
            out = subprocess.run([sys.executable, "-c", f"from bench.observability import _client; "
                                  f"_client({running.url + '/v1/traces'!r}, {batches}, 2)"],
                                 capture_output=True, text=True, check=True, timeout=600, cwd=REPO)
            elapsed = float(out.stdout.strip().splitlines()[-1])
            server_cpu = time.process_time() - cpu
            started = time.perf_counter()
            monitor.run_cycle()
            cycle = time.perf_counter() - started
    spans = batches * BATCH
    return {"otlp_spans_per_s": round(spans / elapsed), "otlp_spans_per_server_cpu_s": round(spans / server_cpu),
            "otlp_spans": spans, "otlp_elapsed_s": round(elapsed, 3),
            "otlp_server_cpu_s": round(server_cpu, 3), "otlp_cycle_after_load_s": round(cycle, 3)}


# ---------------------------------------------------------------------------- Langfuse
def _double_module():
    # the test double, imported as the package the tests use (it imports tests.recorded); the repo
    # root is on sys.path: bench/run.py puts it there, and `python -m bench.observability` runs from it
    from tests.collectors.langfuse import double

    return double


def langfuse_requests_per_cycle(generation: str, traces: int, cycles: int = 10) -> float:
    from sqlalchemy import insert

    from collectors.langfuse.source import LangfuseConfig, LangfuseSource
    from monitor.runtime.config import build_config
    from monitor.runtime.service import Monitor
    from signals.source import SourceContext
    from collectors.litellm.store import Store, requests
    from monitor.storage.database import open_database

    double_module = _double_module()
    double = double_module.LangfuseDouble(generation, "pk", "sk", validate=False).start()
    clock = {"now": time.time()}
    rate = traces / 86400.0

    def arrive(start: float, end: float, rows: list) -> None:
        n = int(round((end - start) * rate))
        for k in range(n):
            ts = start + (k + 0.5) / max(rate, 1e-9)
            call_id = str(uuid.uuid4())
            double.traces.append(double_module.Trace(call_id, ts, tags=[f"team:t{k % 8}"], cost=0.001))
            if k % 2:
                double.scores.append(double_module.Score(f"s-{call_id}", call_id, "quality", 0.8, ts + 1))
            rows.append({"call_id": call_id, "trace_id": None, "team": f"t{k % 8}", "start": ts, "end": ts + 0.5,
                         "minute": int(ts // 60) * 60, "success": 1, "cache_hit": 0, "cost": 0.001, "attempts": 1,
                         "provider_attempts": 1, "provider_successes": 1, "flags": 0})

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(open_database(f"sqlite:///{tmp}/history.db"))
        rows: list = []
        arrive(clock["now"] - 86400, clock["now"], rows)
        with store.engine.begin() as conn:
            conn.execute(insert(requests), rows)
        env = {"LANGFUSE_PUBLIC_KEY": "pk", "LANGFUSE_SECRET_KEY": "sk", "LANGFUSE_HOST": double.url}
        source = LangfuseSource(LangfuseConfig(), SourceContext(store.engine, lambda: clock["now"], env, "team:", gateway=store))
        monitor = Monitor(build_config({}, environ={}), clock=lambda: clock["now"], store=store, sources=[source])
        monitor.run_cycle()  # detection and the first catch-up
        before = double.total_requests()
        for _ in range(cycles):
            rows = []
            arrive(clock["now"], clock["now"] + 30, rows)
            if rows:
                with store.engine.begin() as conn:
                    conn.execute(insert(requests), rows)
            clock["now"] += 30
            monitor.run_cycle()
            assert monitor.collectors["langfuse"].up, monitor.collectors["langfuse"].last_error
        per_cycle = (double.total_requests() - before) / cycles
        monitor.close()
    double.stop()
    return per_cycle


def run(quick: bool) -> dict:
    result = otlp_spans_per_s(40 if quick else 400)
    large = 100_000  # the figure; the double serves aggregates, so this stays quick
    ratios = {}
    for generation in ("v3", "v4"):
        low = langfuse_requests_per_cycle(generation, 1_000)
        high = langfuse_requests_per_cycle(generation, large)
        result[f"langfuse_{generation}_requests_per_cycle_1k"] = low
        result[f"langfuse_{generation}_requests_per_cycle_{large // 1000}k"] = high
        ratios[generation] = high / low
    result["langfuse_requests_per_cycle_at_100k_traces_vs_1k"] = round(max(ratios.values()), 3)
    result["langfuse_large_volume"] = large
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(run("--quick" in sys.argv)))
