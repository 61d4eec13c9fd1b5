"""Fixtures for the generated rules and dashboards tests: the real checking binaries."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.integration_support import require_executable


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
