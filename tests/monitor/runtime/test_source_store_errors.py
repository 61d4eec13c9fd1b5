"""A database error met by a source marks that source down and the cycle goes on; one met by the
push source's own store also marks the monitor not ready until a write works again."""
from __future__ import annotations

from sqlalchemy.exc import OperationalError

from monitor.runtime.config import build_config
from monitor.runtime.service import Monitor
from signals.source import SourceResult
from tests.scenario import scenario_payloads

NOW = 1_800_000_000.0 + 3600


class Locked:
    name = "locked"
    stale_after = 900.0

    def __init__(self) -> None:
        self.fail = True

    def collect(self, window):
        if self.fail:
            raise OperationalError("UPDATE otlp_rollup", {}, Exception("database is locked"))
        return SourceResult({"all": {"scored_traces": 45, "traces_examined": 50}})

    def routes(self):
        return []

    def families(self):
        return []

    def close(self):
        pass


def monitor_with(tmp_path, sources):
    config = build_config({"store": {"url": f"sqlite:///{tmp_path / 'h.db'}"}, "evaluation_window": "1h"}, environ={})
    return Monitor(config, clock=lambda: NOW, sources=sources, environ={})


def test_a_source_meeting_a_locked_database_is_down_alone(tmp_path):
    source = Locked()
    monitor = monitor_with(tmp_path, [source])
    try:
        monitor.push.ingest(scenario_payloads(t0=NOW - 900))
        assert monitor.safe_cycle(pause=0)                       # the cycle completes
        assert not monitor.collectors["locked"].up and "database is locked" in monitor.collectors["locked"].last_error
        assert monitor.store_fault is None                      # nothing the monitor wrote failed: still ready
        assert monitor.snapshot.report.org.kpis["api_error_rate"].samples == 30
        source.fail = False
        report = monitor.run_cycle()
        assert monitor.collectors["locked"].up and report.org.kpis["evaluation_coverage"].value == 0.9
    finally:
        monitor.close()


def test_the_push_store_failing_marks_the_monitor_not_ready_until_a_write_works(tmp_path):
    monitor = monitor_with(tmp_path, [])
    try:
        monitor.push.ingest(scenario_payloads(t0=NOW - 900))
        assert monitor.safe_cycle(pause=0)
        original = monitor.store.rebuild_dirty

        def locked():
            raise OperationalError("DELETE FROM buckets", {}, Exception("database is locked"))

        monitor.store.rebuild_dirty = locked
        assert monitor.safe_cycle(pause=0)                       # other sources would still flow
        assert not monitor.collectors["litellm_push"].up
        assert monitor.store_fault is not None and "locked" in monitor.store_fault
        assert monitor.snapshot.report.org.kpis["api_error_rate"].samples == 30  # last good gateway signals
        monitor.store.rebuild_dirty = original
        monitor.push.ingest(scenario_payloads(t0=NOW - 600, rounds=1))  # a write that works
        assert monitor.store_fault is None
    finally:
        monitor.close()


def test_an_in_memory_store_works_across_the_source_threads():
    config = build_config({"store": {"url": "sqlite:///:memory:"}, "evaluation_window": "1h"}, environ={})
    monitor = Monitor(config, clock=lambda: NOW, environ={})
    try:
        monitor.push.ingest(scenario_payloads(t0=NOW - 900))
        assert monitor.run_cycle().org.kpis["api_error_rate"].samples == 30
        assert monitor.collectors["litellm_push"].up
    finally:
        monitor.close()
