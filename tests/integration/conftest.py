"""Fixtures for the integration tests: real components on 127.0.0.1, bounded in time, stopped after.

Every component the tests need is installed by the project's setup; a missing one is a FAILURE
with a message saying what to install, never a skip.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import httpx
import pytest

from tests.integration.integration_support import VENV_BIN, require_executable, start_monitor
from monitor.runtime.server import RunningMonitor


@pytest.fixture
def monitor_factory(tmp_path) -> Callable[..., RunningMonitor]:
    started: list[RunningMonitor] = []

    def factory(name: str = "monitor", **kwargs) -> RunningMonitor:
        data_dir = tmp_path / name
        data_dir.mkdir(parents=True, exist_ok=True)
        running = start_monitor(data_dir, **kwargs)
        started.append(running)
        return running

    yield factory
    for running in reversed(started):
        running.stop()


@pytest.fixture
def http() -> httpx.Client:
    with httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0), trust_env=False) as client:
        yield client


@pytest.fixture(scope="session")
def prometheus_bin() -> Path:
    return require_executable(["/usr/bin/prometheus", "prometheus"], "the Prometheus server binary")


@pytest.fixture(scope="session")
def litellm_bin() -> Path:
    return require_executable([VENV_BIN / "litellm", "litellm"],
                              "the LiteLLM proxy CLI `litellm` (package litellm[proxy])")


@pytest.fixture(scope="session")
def aiops_bin() -> Path:
    return require_executable([VENV_BIN / "aiops-maturity", "aiops-maturity"],
                              "the project's console script `aiops-maturity` (pip install -e .)")
