"""Sustained rate of the monitor's `POST /ingest/litellm` on loopback, its CPU against the parse
floor, and how much collection cycles slow ingest down.

The monitor runs as the service does (RunningMonitor: uvicorn in a thread, SQLite history in a temp
folder, a day of history ingested first) in this process; the load comes from a separate client
process so the two do not share a GIL. The run has two phases of half the duration each:

- idle: no cycle runs (the scheduler's interval is set past the run). `ingest_payloads_per_s` and
  `ingest_vs_parse_floor` come from this phase.
- cycles: a thread runs collection cycles back to back, as fast as they go, for the whole phase;
  how many ran and how long they took is in "raw".

`ingest_vs_parse_floor` is the server's CPU time per payload (this process's CPU during the idle
phase, over the payloads it stored) over the parse floor, `orjson.loads` of the same request bodies
alone per payload, on one core, both as CPU time (the floor is this thread's CPU time, so other
work on the machine moves both sides alike). Until 2026-11-28 it was wall time per payload over
the floor's wall time, which moved with the client and the machine's other load; the server's CPU
is what the target is about.
`ingest_p99_cycle_vs_idle` is the p99 batch latency of the cycles phase over the idle phase's.
"""
from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import threading
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


def parse_floor_times(body: bytes, repeats: int = 30, clock=time.perf_counter) -> list[float]:
    """Times of orjson.loads of one request body; freeing the objects is part of the cost."""
    times = []
    for _ in range(repeats):
        started = clock()
        parsed = orjson.loads(body)
        del parsed
        times.append(clock() - started)
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


HISTORY_PAYLOADS = 20_000  # spread over the day before the run: windows and hours a cycle reads
SECOND_PHASE_FIRST_BATCH = 10_000_000  # the cycles phase's batch numbers (ids) follow on from the idle phase's


def ingest_history(monitor, templates: Templates, count: int, now: float) -> None:
    """A day of traffic before `now`, through the push source, then one cycle to build its buckets."""
    generator = TrafficGenerator(templates, 99)
    payloads = [p for p in generator.payloads(count, now - 86400, count / 86400) if p["endTime"] < now]
    for i in range(0, len(payloads), 1000):
        monitor.push.ingest(payloads[i:i + 1000])
    monitor.run_cycle()


class BackToBackCycles:
    """Collection cycles one after the other in a thread until stopped; their wall times."""

    def __init__(self, monitor) -> None:
        self.monitor = monitor
        self.durations: list[float] = []
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-cycles", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                self.monitor.run_cycle()
            except Exception as exc:  # noqa: BLE001 - reported in the result, and the phase is not honest then
                self.error = repr(exc)
                return
            self.durations.append(time.perf_counter() - started)

    def __enter__(self) -> "BackToBackCycles":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _load(url: str, template_path: Path, items: int, duration: float, connections: int, first_batch: int = 0) -> dict:
    """Run the client process against `url`; its result plus the CPU each side spent."""
    cpu_before, client_cpu_before = time.process_time(), _children_cpu()
    client = subprocess.run(
        [sys.executable, "-m", "bench.ingest_client", "--url", url, "--template", str(template_path),
         "--items", str(items), "--span", str(TEMPLATE_SPAN), "--duration", str(duration),
         "--connections", str(connections), "--first-batch", str(first_batch)],
        cwd=REPO, capture_output=True, check=True, timeout=duration + 120)
    result = orjson.loads(client.stdout.splitlines()[-1])
    # This process only serves while the client runs elsewhere, so its CPU time is the server's
    # (the client's warm-up batches included: a slight overestimate), and the cycles' in phase 2.
    result["server_cpu_s"] = time.process_time() - cpu_before
    result["client_cpu_s"] = _children_cpu() - client_cpu_before
    return result


def _phase_figures(result: dict) -> dict:
    return {name: result[name] for name in ("seconds", "batches", "payloads", "errors", "outcomes", "server_cpu_s",
                                            "client_cpu_s", "batch_latency_p50_s", "batch_latency_p90_s",
                                            "batch_latency_p99_s", "batch_latency_max_s")}


def run_ingest(templates: Templates, items: int, duration: float, connections: int, log) -> dict:
    from monitor.runtime.config import build_config
    from monitor.runtime.server import RunningMonitor
    from monitor.runtime.service import Monitor

    template = body_template(templates, items)
    sample = make_body(template, 999_999_999, time.time(), TEMPLATE_SPAN)
    # Before, between the phases and after: load on the machine drifts.
    floor_times, floor_wall = parse_floor_times(sample, clock=time.thread_time), parse_floor_times(sample)
    phase = duration / 2
    with tempfile.TemporaryDirectory(prefix="aiops-bench-ingest-") as tmp:
        template_path = Path(tmp) / "body-template.json"
        template_path.write_bytes(template)
        # No scheduled cycle during the run: the cycles phase runs its own, the idle phase none.
        config = build_config({"store": {"url": f"sqlite:///{tmp}/history.db"},
                               "scheduler": {"interval_seconds": 10 * (duration + 600)}}, environ={})
        monitor = Monitor(config)
        history_started = time.perf_counter()
        ingest_history(monitor, templates, HISTORY_PAYLOADS, time.time())
        history_seconds = time.perf_counter() - history_started
        with RunningMonitor(monitor, host="127.0.0.1", port=0) as running:
            url = f"{running.url}/ingest/litellm"
            log(f"ingest: monitor on {running.url}, {connections} client connection(s), {phase:.0f} s idle ...")
            idle = _load(url, template_path, items, phase, connections)
            floor_times += parse_floor_times(sample, clock=time.thread_time)
            log(f"ingest: {phase:.0f} s with collection cycles back to back ...")
            with BackToBackCycles(running.monitor) as cycles:
                busy = _load(url, template_path, items, phase, connections, SECOND_PHASE_FIRST_BATCH)
            store_rows = {str(table): n for table, n in running.monitor.store.counts().items()}
            grouping = running.monitor.store.group_commit
            groups, batches = grouping.groups_written, grouping.batches_written
    if cycles.error:
        raise RuntimeError(f"a cycle failed during the cycles phase: {cycles.error}")
    floor_per_payload = statistics.median(floor_times + parse_floor_times(sample, clock=time.thread_time)) / items
    floor_wall_per_payload = statistics.median(floor_wall + parse_floor_times(sample)) / items
    rate = idle["payloads"] / idle["seconds"]
    server_cpu_per_payload = idle["server_cpu_s"] / max(idle["payloads"], 1)
    durations = sorted(cycles.durations) or [0.0]
    return {
        "ingest_payloads_per_s": rate,
        "ingest_vs_parse_floor": server_cpu_per_payload / floor_per_payload,
        "ingest_p99_cycle_vs_idle": busy["batch_latency_p99_s"] / idle["batch_latency_p99_s"],
        "raw": {
            "idle": _phase_figures(idle),
            "cycles": {**_phase_figures(busy), "payloads_per_s": busy["payloads"] / busy["seconds"],
                       "server_cpu_s_per_payload_cycles_included": busy["server_cpu_s"] / max(busy["payloads"], 1)},
            "cycles_run": len(cycles.durations),
            "cycle_seconds_total": sum(cycles.durations),
            "cycle_seconds_median": statistics.median(durations),
            "cycle_seconds_max": durations[-1],
            "history_payloads": HISTORY_PAYLOADS,
            "history_seconds": history_seconds,
            "store_rows_at_end": store_rows,
            "commit_groups": groups,
            "batches_committed": batches,
            "payloads_per_batch": items,
            "connections": connections,
            "body_bytes": len(sample),
            "bytes_per_payload": len(sample) / items,
            "parse_floor_s_per_payload": floor_per_payload,  # CPU time
            "parse_floor_wall_s_per_payload": floor_wall_per_payload,
            "typed_decode_s_per_payload": statistics.median(typed_decode_times(sample)) / items,
            "parse_floor_payloads_per_s": 1.0 / floor_per_payload,
            "server_cpu_s_per_payload": server_cpu_per_payload,
            # What one fully available core would sustain at that CPU cost.
            "server_cpu_bound_payloads_per_s": 1.0 / server_cpu_per_payload,
            # The old ratio (wall time per payload over the floor), for comparison with earlier runs.
            "wall_per_payload_vs_parse_floor": (1.0 / rate) / floor_wall_per_payload,
        },
    }
