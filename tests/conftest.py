"""Fixtures shared by every test folder. `store_url` runs a test once on SQLite and once on a real
PostgreSQL server (started for the session on 127.0.0.1, a fresh database per test); its users sit
under tests/collectors/ and tests/monitor/, so it lives here, at their nearest common folder; so does
`store`, the gateway store on that database (a test file that needs it filled defines its own)."""
from __future__ import annotations

from pathlib import Path

import pytest

from collectors.litellm.store import Store
from monitor.storage.database import open_database
from tests.postgres_support import postgres_server, postgres_url  # noqa: F401 - fixtures
from tests.recorded import LITELLM_SAMPLES

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return LITELLM_SAMPLES


@pytest.fixture(params=BACKENDS)
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_url):
    s = Store(open_database(store_url))
    yield s
    s.close()
