"""Helpers for the OTLP receiver tests: a monitor with the `otlp` source on a free loopback port."""
from __future__ import annotations

import time

import pytest

OTLP_TOKEN = "otlp-test-token-7c1e"


def make_monitor(tmp_path, environ: dict | None = None, clock=time.time, **otlp_config):
    from collectors.otlp.source import OtlpConfig, OtlpSource
    from monitor.runtime.config import build_config
    from monitor.runtime.service import Monitor
    from signals.source import SourceContext
    from collectors.litellm.store import Store
    from monitor.storage.database import open_database

    store = Store(open_database(f"sqlite:///{tmp_path / 'history.db'}"))
    env = {"AIOPS_OTLP_TOKEN": OTLP_TOKEN} if environ is None else environ
    source = OtlpSource(OtlpConfig.model_validate(otlp_config), SourceContext(store.engine, clock, env, "team:", gateway=store))
    config = build_config({"scheduler": {"interval_seconds": 3600}, "evaluation_window": "1h"}, environ={})
    return Monitor(config, clock=clock, store=store, sources=[source]), source


@pytest.fixture
def running_monitor(tmp_path):
    from monitor.runtime.server import RunningMonitor

    monitor, source = make_monitor(tmp_path)
    running = RunningMonitor(monitor, host="127.0.0.1", port=0).start(timeout=20)
    yield running, monitor, source
    running.stop()
