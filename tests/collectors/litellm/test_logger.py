"""MaturityLogger inside a real litellm Router (mock deployments) posting to a real monitor."""
import asyncio
import os
import uuid

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402
from litellm import Router  # noqa: E402
from litellm.caching.caching import Cache  # noqa: E402

from collectors.litellm.logger import MaturityLogger, project  # noqa: E402
from monitor.runtime.config import build_config  # noqa: E402
from monitor.runtime.server import RunningMonitor  # noqa: E402
from monitor.runtime.service import Monitor  # noqa: E402

MODELS = [
    {"model_name": "ok", "litellm_params": {"model": "openai/gpt-4o-mini", "mock_response": "hi", "api_key": "k"}},
    {"model_name": "limited", "litellm_params": {"model": "openai/gpt-4o", "mock_response": "litellm.RateLimitError",
                                                 "api_key": "k"}},
    {"model_name": "dead", "litellm_params": {"model": "openai/gpt-4o", "api_base": "http://127.0.0.1:9/v1",
                                              "api_key": "k"}},
]


@pytest.fixture()
def running(tmp_path):
    config = build_config({"store": {"url": f"sqlite:///{tmp_path / 'h.db'}"}, "scheduler": {"interval_seconds": 3600}},
                          environ={"AIOPS_INGEST_TOKEN": "tok"})
    with RunningMonitor(Monitor(config), port=0) as r:
        yield r


def test_router_traffic_reaches_the_monitor_exactly(running):
    logger = MaturityLogger(endpoint=f"{running.url}/ingest/litellm", token="tok", flush_interval=0.2)
    litellm.callbacks = [logger]
    litellm.cache = Cache(type="local")
    router = Router(model_list=MODELS, fallbacks=[{"limited": ["ok"]}], num_retries=0, disable_cooldowns=True)

    async def call(**kwargs):
        # As the proxy does: one litellm_call_id per logical request, shared by its fallbacks.
        return await router.acompletion(litellm_call_id=str(uuid.uuid4()), **kwargs)

    async def traffic():
        for i in range(12):
            await call(model="ok", messages=[{"role": "user", "content": f"q{i}"}],
                                     metadata={"user_api_key_team_alias": "alpha"})
        for i in range(5):   # each: a 429 attempt, then the fallback succeeds
            await call(model="limited", messages=[{"role": "user", "content": f"l{i}"}],
                                     metadata={"tags": ["team:beta"]})
        for i in range(3):   # connection refused, no fallback: failed requests
            with pytest.raises(Exception):
                await call(model="dead", messages=[{"role": "user", "content": f"d{i}"}])
        for i in range(4):   # the same prompt with caching: 1 miss, then 3 hits
            await call(model="ok", messages=[{"role": "user", "content": "same"}], caching=True,
                                     metadata={"user_api_key_team_alias": "alpha"})
            await asyncio.sleep(0.2)  # the cache is written after the response

    try:
        asyncio.run(traffic())
        deadline = 0
        while logger.sent < 29 and deadline < 100:  # 12 + 10 + 3 + 4 attempts
            logger.flush()
            deadline += 1
    finally:
        litellm.callbacks = []
        litellm.cache = None
    report = running.monitor.run_cycle().as_dict()
    k = report["kpis"]
    assert k["api_error_rate"]["samples"] == 24
    assert k["api_error_rate"]["value"] == pytest.approx(3 / 24)
    assert k["cache_hit_rate"]["value"] == pytest.approx(3 / 24)
    # provider attempts: 24 requests + 5 fallback attempts - 3 cache hits = 26; failures: 5 x 429 + 3 dead
    assert k["provider_availability"]["evidence"]["provider_attempts"] == 26
    assert k["provider_availability"]["value"] == pytest.approx(18 / 26)
    assert report["teams"]["beta"]["kpis"]["api_error_rate"]["samples"] == 5
    assert report["teams"]["alpha"]["kpis"]["api_error_rate"]["samples"] == 16
    assert logger.dropped == 0


def test_projection_drops_content(samples_dir):
    import json
    full = json.loads((samples_dir / "payload_success.json").read_text())["standard_logging_object"]
    slim = project(full)
    text = json.dumps(slim)
    assert "messages" not in slim and "response" not in slim and "requester_metadata" not in text
    assert slim["litellm_call_id"] == full["litellm_call_id"]
    assert len(text) < 1500 < len(json.dumps(full))
