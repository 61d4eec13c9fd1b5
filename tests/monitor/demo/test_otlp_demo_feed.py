"""The demo's OTel feed: real SDK exporter to the receiver; handed gateway requests become traced,
so trace_coverage, evaluation_coverage and quality_score_avg have values in the demo."""
from __future__ import annotations

import asyncio
import random
import time
import uuid

from monitor.demo.otlp_feed import OtlpDemoFeed
from tests.collectors.otlp.otlp_support import make_monitor
from tests.payloads import payload


def test_demo_feed_gives_trace_kpis_values(tmp_path):
    from monitor.runtime.server import RunningMonitor

    monitor, _ = make_monitor(tmp_path, environ={})  # the demo runs without tokens
    feed = OtlpDemoFeed()
    assert feed.sources_config() == {"otlp": {}}
    with RunningMonitor(monitor, host="127.0.0.1", port=0) as running:
        now = time.time()
        teams = ["search", "support", "research", "unattributed"]
        ids = [(str(uuid.uuid4()), teams[k % 4]) for k in range(80)]
        monitor.push.ingest([payload(c, start=now - 5, team_alias=None if t == "unattributed" else t) for c, t in ids])
        for call_id, team in ids:
            feed.on_request(call_id, team, "gpt-4o-mini")
        asyncio.run(feed.run(running.url, 2.0, random.Random(3)))
        report = monitor.run_cycle()
    kpis = report.org.kpis
    assert kpis["trace_coverage"].samples == 80 and 0.85 <= kpis["trace_coverage"].value <= 1.0
    assert kpis["evaluation_coverage"].value > 0.6 and kpis["quality_score_avg"].value > 0.5
    for name in ("rag_relevance_score", "agent_success_rate", "personalization_accuracy", "memory_utilization_rate"):
        assert kpis[name].value is not None, name
    assert feed.emitted == round(kpis["trace_coverage"].value * 80)
    assert feed.yesterday == feed.emitted  # the first 150 traced requests get a copy 25 h back
