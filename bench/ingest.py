"""Sustained rate of the monitor's `POST /ingest/litellm` on loopback, against the parse floor.

The monitor runs as the service does (RunningMonitor: uvicorn in a thread, the scheduler running
its cycles, SQLite history in a temp folder) in this process; the load comes from a separate
client process so the two do not share a GIL. The parse floor is `orjson.loads` of the same
request bodies alone, on one core.
"""
from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from bench.generate import REPO, Templates, TrafficGenerator
from bench.ingest_client import ID_TOKEN, TIME_SENTINEL, TIME_PATTERN, make_body

TEMPLATE_SPAN = 1.0  # seconds covered by one batch's times


def body_template(templates: Templates, items: int, seed: int = 7) -> bytes:
    """A JSON array of `items` generated payloads; ids carry ID_TOKEN, times are sentinels."""
    token = ID_TOKEN.decode()
    generator = TrafficGenerator(templates, seed)
    payloads = []
    for payload in generator.payloads(items, TIME_SENTINEL, items / TEMPLATE_SPAN):
        # Copy: a redelivered payload is the same dict twice and must get the token once.
        payload = dict(payload, id=token + payload["id"], litellm_call_id=token + payload["litellm_call_id"],
                       trace_id=token + payload["trace_id"])
        payloads.append(payload)
    body = orjson.dumps(payloads)
    expected = 3 * items  # startTime, endTime, completionStartTime of every payload
    found = len(TIME_PATTERN.findall(body))
    if found != expected:
        raise RuntimeError(f"time sentinels: found {found}, expected {expected}; change TIME_SENTINEL")
    return body


def parse_floor_times(body: bytes, repeats: int = 30) -> list[float]:
    """Times of orjson.loads of one request body; freeing the objects is part of the cost."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        parsed = orjson.loads(body)
        del parsed
        times.append(time.perf_counter() - started)
    return times


def typed_decode_times(body: bytes, repeats: int = 30) -> list[float]:
    """Times of the monitor's own decode of one request body (msgspec, only the fields it reads)."""
    from collectors.litellm.payload import decode_document

    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        decode_document(body)
        times.append(time.perf_counter() - started)
    return times


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cycle_stats(monitor) -> tuple[float, float]:
    """(cycles run, seconds spent in them) from the monitor's own histogram."""
    samples = monitor.cycle_duration.collect()[0].samples
    count = next(s.value for s in samples if s.name.endswith("_count"))
    total = next(s.value for s in samples if s.name.endswith("_sum"))
    return count, total


def _load(url: str, template_path: Path, items: int, duration: float, connections: int) -> dict:
    """Run the client process against `url`; its result plus the CPU each side spent."""
    cpu_before, client_cpu_before = time.process_time(), _children_cpu()
    client = subprocess.run(
        [sys.executable, "-m", "bench.ingest_client", "--url", url, "--template", str(template_path),
         "--items", str(items), "--span", str(TEMPLATE_SPAN), "--duration", str(duration),
         "--connections", str(connections)],
        cwd=REPO, capture_output=True, check=True, timeout=duration + 120)
    result = orjson.loads(client.stdout.splitlines()[-1])
    # This process only serves while the client runs elsewhere, so its CPU time is the server's
    # (the client's warm-up batches included: a slight overestimate).
    result["server_cpu_s"] = time.process_time() - cpu_before
    result["client_cpu_s"] = _children_cpu() - client_cpu_before
    return result


def run_ingest(templates: Templates, items: int, duration: float, connections: int, log) -> dict:
    from monitor.runtime.config import build_config
    from monitor.runtime.server import RunningMonitor
    from monitor.runtime.service import Monitor

    template = body_template(templates, items)
    sample = make_body(template, 999_999_999, time.time(), TEMPLATE_SPAN)
    floor_times = parse_floor_times(sample)  # before and after the run: load on the machine drifts
    with tempfile.TemporaryDirectory(prefix="aiops-bench-ingest-") as tmp:
        template_path = Path(tmp) / "body-template.json"
        template_path.write_bytes(template)
        config = build_config({"store": {"url": f"sqlite:///{tmp}/history.db"}}, environ={})
        with RunningMonitor(Monitor(config), host="127.0.0.1", port=0) as running:
            log(f"ingest: monitor on {running.url}, {connections} client connection(s), {duration:.0f} s ...")
            result = _load(f"{running.url}/ingest/litellm", template_path, items, duration, connections)
            cycles, cycle_seconds = _cycle_stats(running.monitor)
    floor_per_payload = statistics.median(floor_times + parse_floor_times(sample)) / items
    rate = result["payloads"] / result["seconds"]
    server_cpu_per_payload = result["server_cpu_s"] / max(result["payloads"], 1)
    return {
        "ingest_payloads_per_s": rate,
        "ingest_vs_parse_floor": (1.0 / rate) / floor_per_payload,
        "raw": {
            **result,
            "payloads_per_batch": items,
            "body_bytes": len(sample),
            "bytes_per_payload": len(sample) / items,
            "parse_floor_s_per_payload": floor_per_payload,
            "typed_decode_s_per_payload": statistics.median(typed_decode_times(sample)) / items,
            "parse_floor_payloads_per_s": 1.0 / floor_per_payload,
            "server_cpu_s_per_payload": server_cpu_per_payload,
            # What one fully available core would sustain, and the CPU cost against the floor.
            "server_cpu_bound_payloads_per_s": 1.0 / server_cpu_per_payload,
            "server_cpu_vs_parse_floor": server_cpu_per_payload / floor_per_payload,
            "cycles_during_run": cycles,
            "cycle_seconds_during_run": cycle_seconds,
        },
    }
