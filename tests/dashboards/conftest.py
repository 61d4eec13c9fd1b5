"""Fixtures for the live dashboard and alert-rule tests: one alerting stack per module (demo ->
Prometheus with the generated rules -> Alertmanager -> a webhook the test holds)."""
from __future__ import annotations

import pytest

from tests.integration.integration_support import VENV_BIN, require_executable


@pytest.fixture(scope="module")
def alerting_stack(tmp_path_factory):
    from tests.dashboards.alerting_stack import start_stack

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
