"""Reports with chosen KPI values, built by the real engine from synthetic requests, and history
seeded from them: the digest tests control what changed week over week."""
from __future__ import annotations

import json
import random
import threading
from functools import lru_cache
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from metrics.catalog import load_catalog
from signals.distribution import SketchDistribution
from collectors.litellm.requests import Request, aggregate_by_team, gateway_result
from metrics.report import Report, build_report
from monitor.storage.history import History
from monitor.runtime.windows import windows_by_team

CATALOG = load_catalog("aiops")
WINDOW = 3600.0
DAY = 86400.0
# Monday 2026-01-05 00:00 UTC is the start of ISO week 2026-W02.
W02 = datetime(2026, 1, 5, tzinfo=timezone.utc).timestamp()


@lru_cache(maxsize=512)  # reports are only read: the same arguments give the same (shared) report
def fake_report(t: float, error_rate: float = 0.02, cache_rate: float = 0.4, attributed: float = 1.0,
                latency: float = 0.2, n: int = 200, teams: tuple[str, ...] = ("search", "support"),
                seed: int = 0) -> Report:
    """`n` requests in the hour before `t`: exactly round(n * error_rate) fail, round(n * cache_rate)
    hit the cache, a share `attributed` carries a team; every latency is `latency` seconds."""
    rng = random.Random(seed)
    failed, hits, with_team = round(n * error_rate), round(n * cache_rate), round(n * attributed)
    requests = []
    for i in range(n):
        ok, hit = i >= failed, failed <= i < failed + hits
        team = teams[i % len(teams)] if i < with_team else None
        start = t - WINDOW + 1 + i * (WINDOW - 10) / n
        requests.append(Request(f"c{i}", team, start, start + latency, ok, hit, 0.01, 1,
                                0 if hit else 1, 0 if hit else int(ok)))
    rng.shuffle(requests)
    per_team = aggregate_by_team(requests, SketchDistribution)
    spans = {"evaluation": (t - WINDOW, t), "30d": (t - 30 * DAY, t)}
    return build_report(CATALOG, windows_by_team(spans, [gateway_result({name: per_team for name in spans})], [], 10), t,
                        {"window": {"start": t - WINDOW, "end": t, "seconds": WINDOW}})


def seed_weeks(history: History, first_monday: float, weeks: int, per_week: list[dict] | None = None,
               times: tuple[float, ...] = (2 * DAY + 9 * 3600, 5 * DAY + 9 * 3600)) -> list[float]:
    """Snapshots in `weeks` consecutive weeks (Wednesday and Saturday 09:00 UTC by default);
    `per_week[k]` are fake_report keyword arguments for week k. Returns the times recorded."""
    recorded = []
    for k in range(weeks):
        kwargs = (per_week or [{}] * weeks)[k]
        for offset in times:
            t = first_monday + k * 7 * DAY + offset
            history.record(fake_report(t, seed=k, **kwargs), t)
            recorded.append(t)
    return recorded


class FakeWebhook:
    """Answers each POST from `script` ((status, headers, body) in turn), then 200 "ok"."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.script: list[tuple[int, dict, str]] = []
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with hook.lock:
                    status, headers, text = hook.script.pop(0) if hook.script else (200, {}, "ok")
                    hook.posts.append({"path": self.path, "json": json.loads(body), "status": status,
                                       "content_type": self.headers["Content-Type"]})
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/B000/XXXX"

    def delivered(self) -> list[dict]:
        return [p for p in self.posts if p["status"] == 200]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
