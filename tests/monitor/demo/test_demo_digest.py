"""The demo's digest: the monitor's live state plus earlier days replayed from its own requests with
older timestamps, marked synthetic in the data, the charts and the footer."""
from __future__ import annotations

import json

from monitor.runtime.config import build_config
from monitor.demo.digest import write_demo_digest
from monitor.storage.history import History
from monitor.runtime.service import Monitor
from tests.scenario import scenario_payloads


def test_demo_digest_fills_the_trends_and_says_they_are_synthetic(tmp_path):
    now = 1_795_601_820.0  # Wednesday 2026-11-25 10:17 UTC; tests/test_pinned_days.py covers the other days
    config = build_config({"evaluation_window": "1h", "store": {"url": f"sqlite:///{tmp_path / 'demo.db'}"}}, environ={})
    monitor = Monitor(config, clock=lambda: now)
    try:
        monitor.push.ingest(scenario_payloads(t0=now - 900, rounds=8))
        monitor.run_cycle()
        html = write_demo_digest(monitor, tmp_path / "digests", weeks=3)
        history = History(monitor.store.engine)
        rows = history.snapshots_between(0, now + 1, teams=["all"])
    finally:
        monitor.close()
    assert [r["source"] for r in rows] == ["synthetic"] * 21 + ["live"]
    assert rows[-1]["taken_at"] == now
    folder = html.parent
    data = json.loads((folder / "digest.json").read_text())
    assert data["has_data"] and data["in_progress"] and data["synthetic_until"] == rows[-2]["taken_at"]
    error_rate = next(t for t in data["trends"] if t["kpi"] == "api_error_rate")
    assert len(error_rate["points"]) == 22  # 21 synthetic days and today
    text = html.read_text()
    assert "is synthetic</strong>: the demo replayed its own traffic with older timestamps" in text
    assert text.count("<img ") == len(list((folder / "charts").glob("*.png"))) >= 4
    markdown = (folder / "digest.md").read_text()
    assert "is synthetic: the demo replayed its own traffic" in markdown
