"""Fixtures for the monitor's tests: `store_url` runs a test once on SQLite and once on a real
PostgreSQL server (started for the session on 127.0.0.1, a fresh database per test)."""
from __future__ import annotations

import pytest

from postgres_support import postgres_server, postgres_url  # noqa: F401 - fixtures

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.db'}"
    return request.getfixturevalue("postgres_url")
