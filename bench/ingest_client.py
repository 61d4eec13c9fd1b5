"""Load generator for `POST /ingest/litellm`, run as its own process (`python -m bench.ingest_client`).

It gets one body template (a JSON array of 100 payloads) whose ids carry a placeholder token and
whose times are sentinel numbers. Each batch gets unique ids (the batch number) and times shifted
to "now", so the monitor sees fresh, distinct traffic spread over real minutes, as from a gateway.
Each connection is one thread with one keep-alive `httpx.Client`. Prints one JSON object, with the
batch latency percentiles (a batch's latency: from sending the POST to having the whole answer).
`--first-batch` lets a second run in the same store use ids the first did not.
"""
from __future__ import annotations

import argparse
import itertools
import math
import re
import sys
import threading
import time

import httpx
import orjson

ID_TOKEN = b"@BATCH@"
TIME_SENTINEL = 7_000_000_000.0
TIME_PATTERN = re.compile(rb"7000000\d{3}\.\d+")


def make_body(template: bytes, batch: int, now: float, span: float) -> bytes:
    """The template with this batch's ids and times `span` seconds up to `now`."""
    body = template.replace(ID_TOKEN, b"%010d" % batch)
    shift = now - span - TIME_SENTINEL
    return TIME_PATTERN.sub(lambda m: repr(float(m.group()) + shift).encode(), body)


class Totals:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.batches = self.payloads = self.bytes = self.errors = 0
        self.outcomes: dict[str, int] = {}
        self.latencies: list[float] = []

    def add(self, size: int, items: int, outcome: dict, latency: float) -> None:
        with self.lock:
            self.batches += 1
            self.payloads += items
            self.bytes += size
            self.latencies.append(latency)
            for key, value in outcome.items():
                if isinstance(value, int):
                    self.outcomes[key] = self.outcomes.get(key, 0) + value


def worker(url: str, template: bytes, items: int, span: float, numbers, deadline: float, max_batches: int,
           totals: Totals) -> None:
    with httpx.Client(timeout=60.0) as client:
        for batch in numbers:
            if batch >= max_batches or time.perf_counter() >= deadline:
                return
            body = make_body(template, batch, time.time(), span)
            started = time.perf_counter()
            response = client.post(url, content=body, headers={"content-type": "application/json"})
            latency = time.perf_counter() - started
            if response.status_code != 200:
                with totals.lock:
                    totals.errors += 1
                continue
            totals.add(len(body), items, orjson.loads(response.content), latency)


def percentile(ordered: list[float], q: float) -> float:
    """The nearest-rank percentile of sorted values."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def run(url: str, template: bytes, items: int, span: float, duration: float, max_batches: int,
        connections: int, warmup: int, first_batch: int = 0) -> dict:
    numbers = itertools.count(first_batch)  # shared: every batch number (and so every id) is used once
    max_batches += first_batch
    warm = Totals()
    worker(url, template, items, span, numbers, time.perf_counter() + 60.0, first_batch + warmup, warm)
    totals = Totals()
    started = time.perf_counter()
    deadline = started + duration
    threads = [threading.Thread(target=worker, args=(url, template, items, span, numbers, deadline,
                                                     warmup + max_batches, totals)) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies = sorted(totals.latencies) or [0.0]
    return {"seconds": elapsed, "batches": totals.batches, "payloads": totals.payloads, "bytes": totals.bytes,
            "errors": totals.errors, "outcomes": totals.outcomes, "connections": connections,
            "batch_latency_p50_s": percentile(latencies, 0.50),
            "batch_latency_p90_s": percentile(latencies, 0.90),
            "batch_latency_p99_s": percentile(latencies, 0.99),
            "batch_latency_max_s": latencies[-1]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--template", required=True, help="file with the body template")
    parser.add_argument("--items", type=int, required=True, help="payloads per body")
    parser.add_argument("--span", type=float, default=1.0, help="seconds the template's times cover")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--max-batches", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--first-batch", type=int, default=0, help="number of the first batch (ids use it)")
    args = parser.parse_args(argv)
    with open(args.template, "rb") as handle:
        template = handle.read()
    result = run(args.url, template, args.items, args.span, args.duration, args.max_batches, args.connections,
                 args.warmup, args.first_batch)
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
