"""Fixtures for the Langfuse collector tests: the contract-validated double, a monitor on a fake
clock, and gateway requests whose ids the double knows as trace ids."""
from __future__ import annotations

import time
import uuid

import pytest

from tests.collectors.langfuse import double as langfuse_double

PUBLIC, SECRET = "pk-lf-test-public-9d2", "sk-lf-test-secret-5e8"


class Setup:
    """A double, a store with gateway requests, a LangfuseSource and a Monitor driven by `clock`."""

    def __init__(self, tmp_path, generation: str, double_kwargs: dict | None = None, **config):
        from collectors.langfuse.source import LangfuseConfig, LangfuseSource
        from monitor.runtime.config import build_config
        from monitor.runtime.service import Monitor
        from signals.source import SourceContext
        from collectors.litellm.store import Store
        from monitor.storage.database import open_database

        self.double = langfuse_double.LangfuseDouble(generation, PUBLIC, SECRET, **(double_kwargs or {})).start()
        self.clock = {"now": time.time()}
        self.store = Store(open_database(f"sqlite:///{tmp_path / 'history.db'}"))
        self.sleeps: list[float] = []
        self.env = {"LANGFUSE_PUBLIC_KEY": PUBLIC, "LANGFUSE_SECRET_KEY": SECRET, "LANGFUSE_HOST": self.double.url}
        defaults = {"max_lag": "1h", "slice": "15m", "trace_pages": 10, "score_pages": 10, "grace": 60}
        self.config = LangfuseConfig.model_validate({**defaults, **config})
        self.context = SourceContext(self.store.engine, lambda: self.clock["now"], self.env, "team:", gateway=self.store)
        self.source = LangfuseSource(self.config, self.context, sleep=self.sleeps.append)
        self.monitor = Monitor(build_config({"evaluation_window": "1h"}, environ={}), clock=lambda: self.clock["now"],
                               store=self.store, sources=[self.source])

    def traffic(self, n: int = 40, traced: int = 36, scored: int = 30, team: str = "search", start: float | None = None,
                spacing: float = 10.0):
        """n gateway requests; the first `traced` are Langfuse traces (id = call id), the first
        `scored` of those have a quality score 0.75; every 10th is tagged escalated."""
        from tests.payloads import payload

        t0 = (self.clock["now"] - 900) if start is None else start
        ids = [str(uuid.uuid4()) for _ in range(n)]
        self.monitor.push.ingest([payload(c, start=t0 + k * spacing, team_alias=team) for k, c in enumerate(ids)])
        for k, c in enumerate(ids[:traced]):
            tags = [f"user_api_key_team_alias:{team}"] + (["escalated"] if k % 10 == 0 else [])
            scores = [("quality", 0.75), ("csat", 4.0)] if k < scored else []
            self.double.add_trace(langfuse_double.Trace(c, t0 + k * spacing, tags=tags, cost=0.01), scores=scores)
        return ids

    def close(self):
        self.monitor.close()
        self.double.stop()


@pytest.fixture(params=["v3", "v4"])
def generation(request):
    return request.param


@pytest.fixture
def make_setup(tmp_path):
    made = []

    def factory(generation: str, **kwargs) -> Setup:
        setup = Setup(tmp_path / f"s{len(made)}", generation, **kwargs)
        made.append(setup)
        return setup

    (tmp_path).mkdir(exist_ok=True)
    yield factory
    for setup in made:  # every response the double sent was checked against the contract
        double = setup.double
        deadline = time.monotonic() + double.slow_seconds + 2  # a slow answer is validated once it is written
        while double.validated < double.total_requests() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert double.validated == double.total_requests(), "some responses were not validated"
        assert double.violations == [], double.violations  # tests that inject an invalid body remove theirs
        # statuses the contract does not declare for an operation: only the injected 429/5xx
        assert all(status in (429, 500, 503) for _, status in double.undeclared), double.undeclared
    for setup in made:
        setup.close()
