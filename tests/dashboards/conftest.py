"""Fixtures for the dashboard and alert-rule tests: the real binaries, and one alerting stack per
module (demo -> Prometheus with the generated rules -> Alertmanager -> a webhook the test holds)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from integration_support import VENV_BIN, require_executable  # noqa: E402


@pytest.fixture(scope="session")
def promtool_bin() -> Path:
    return require_executable(["/usr/bin/promtool", "promtool"], "promtool (Debian package prometheus)")


@pytest.fixture(scope="session")
def amtool_bin() -> Path:
    return require_executable(["/usr/bin/amtool", "amtool"], "amtool (Debian package prometheus-alertmanager)")


@pytest.fixture(scope="session")
def compose_bin() -> Path:
    return require_executable(["/usr/bin/docker-compose", "docker-compose"],
                              "docker-compose (Debian package docker-compose)")


@pytest.fixture(scope="module")
def alerting_stack(tmp_path_factory):
    from alerting_stack import start_stack

    started: list = []
    binaries = (
        require_executable([VENV_BIN / "aiops-maturity", "aiops-maturity"], "the console script aiops-maturity"),
        require_executable(["/usr/bin/prometheus", "prometheus"], "the Prometheus server (Debian package prometheus)"),
        require_executable(["/usr/bin/prometheus-alertmanager", "alertmanager"],
                           "Alertmanager (Debian package prometheus-alertmanager)"),
    )
    try:
        yield start_stack(tmp_path_factory.mktemp("alerting"), *binaries, started)
    finally:
        for item in reversed(started):
            item.stop()
