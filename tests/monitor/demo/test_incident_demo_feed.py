"""The demo feed drives the real webhook routes of a running monitor; the KPIs it exists for get values."""
import asyncio
import random

import pytest

from collectors.deployments.source import DeploymentsSource
from collectors.forecast import ForecastSource
from monitor.demo.incidents_feed import feed
from collectors.incidents.source import AlertmanagerSource
from monitor.runtime.config import build_config
from monitor.runtime.server import RunningMonitor
from monitor.runtime.service import Monitor
from signals.source import SourceContext
from collectors.litellm.store import Store
from monitor.storage.database import open_database
from monitor.runtime.sources import build_sources

CLASSES = {"alertmanager": AlertmanagerSource, "deployments": DeploymentsSource, "forecast": ForecastSource}


@pytest.mark.integration
def test_demo_feed_gives_the_ops_kpis_values(tmp_path, capsys):
    sections = feed.sources_config()
    assert set(sections) == set(CLASSES)
    config = build_config({"evaluation_window": "1h", "store": {"url": f"sqlite:///{tmp_path / 'h.db'}"},
                           "scheduler": {"interval_seconds": 3600}, "sources": sections}, environ={})
    store = Store(open_database(config.store.url))
    import time

    context = SourceContext(store.engine, time.time, {}, config.teams.tag_prefix, gateway=store)
    sources = build_sources(sections, context)
    assert {type(s) for s in sources} == set(CLASSES.values())
    running = RunningMonitor(Monitor(config, store=store, sources=sources), host="127.0.0.1", port=0).start()
    try:
        asyncio.run(feed.run(running.url, 2.0, random.Random(11)))
        report = running.monitor.run_cycle().as_dict()
    finally:
        running.stop()
    kpis = report["kpis"]
    for kpi in ("mttr_seconds", "autonomous_resolution_rate", "human_intervention_rate", "cost_prediction_accuracy",
                "change_failure_rate", "deployment_frequency", "lead_time_for_changes"):
        assert kpis[kpi]["value"] is not None and kpis[kpi]["status"] != "no_data", (kpi, kpis[kpi])
    assert kpis["autonomous_resolution_rate"]["samples"] >= 12
    assert kpis["change_failure_rate"]["value"] == pytest.approx(2 / 12)
    assert kpis["cost_prediction_accuracy"]["evidence"]["synthetic_days"] == 28
    assert "BACKDATED" in capsys.readouterr().out
