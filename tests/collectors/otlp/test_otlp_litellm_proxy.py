"""The real LiteLLM proxy (mock deployments) sending its `otel` callback's spans to the monitor's
receiver, and its `generic_api` logger's payloads to the ingest route: trace_coverage joins the
two on litellm_call_id. Team identities come from the custom-auth sample (no database needed).

Behind the proxy, LiteLLM 1.102 only emits its `litellm_request` span (the one carrying
`litellm.call_id`, model, cost and team) when USE_OTEL_LITELLM_REQUEST_SPAN=true; without it the
attributes are set on the already ended server span and lost (its log says "Setting attribute on
ended span"). The README tells users to set it; so does this test."""
from __future__ import annotations

import shutil
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from collectors.otlp import tables
from collectors.litellm.store import requests
from tests.collectors.otlp.otlp_support import OTLP_TOKEN
from tests.integration.integration_support import SAMPLES, ManagedProcess, clean_env, free_port, wait_until

pytestmark = pytest.mark.integration
KEYS = {"search": "sk-team-search", "support": "sk-team-support"}
PER_TEAM = 12
CONFIG = """\
model_list:
  - model_name: gpt-4o-mini
    litellm_params: {model: openai/gpt-4o-mini, mock_response: "hi", api_key: fake}
litellm_settings:
  callbacks: ["otel", "generic_api"]
  request_timeout: 10
general_settings:
  master_key: sk-probe-master-1234
  custom_auth: custom_auth.user_api_key_auth
"""


def test_litellm_otel_callback_feeds_trace_coverage(running_monitor, tmp_path):
    running, monitor, _source = running_monitor
    litellm_bin = Path(sys.executable).parent / "litellm"
    assert litellm_bin.exists(), "the LiteLLM proxy CLI is missing: install the project with its [proxy] extra"
    work = tmp_path / "proxy"
    work.mkdir()
    shutil.copy(SAMPLES / "custom_auth_example.py", work / "custom_auth.py")
    (work / "proxy.yaml").write_text(CONFIG)
    port = free_port()
    env = clean_env(LITELLM_LOCAL_MODEL_COST_MAP="True", PYTHONPATH=str(work),
                    USE_OTEL_LITELLM_REQUEST_SPAN="true", OTEL_EXPORTER="otlp_http", OTEL_ENDPOINT=f"{running.url}/v1/traces",
                    OTEL_HEADERS=f"Authorization=Bearer {OTLP_TOKEN}", OTEL_BSP_SCHEDULE_DELAY="300",
                    GENERIC_LOGGER_ENDPOINT=f"{running.url}/ingest/litellm", DEFAULT_BATCH_SIZE="1",
                    DEFAULT_FLUSH_INTERVAL_SECONDS="1")
    base, nonce = f"http://127.0.0.1:{port}", uuid.uuid4().hex
    proxy = ManagedProcess("litellm-proxy", [litellm_bin, "--config", work / "proxy.yaml", "--host", "127.0.0.1",
                                             "--port", str(port)], work / "proxy.log", env=env, cwd=work)
    try:
        with httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0), trust_env=False) as client:
            def ready():
                assert proxy.alive(), f"the LiteLLM proxy exited\n{proxy.log_tail()}"
                return client.get(f"{base}/health/liveliness", timeout=2).status_code == 200

            wait_until(ready, 90, "the LiteLLM proxy to start", interval=0.25, on_timeout=proxy.log_tail)

            def send(job):
                team, i = job
                r = client.post(f"{base}/chat/completions", headers={"Authorization": f"Bearer {KEYS[team]}"},
                                json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"{nonce} {i}"}]})
                assert r.status_code == 200, r.text
                return r.headers.get("x-litellm-call-id")

            with ThreadPoolExecutor(max_workers=8) as pool:
                call_ids = set(pool.map(send, [(t, i) for t in KEYS for i in range(PER_TEAM)]))
        assert len(call_ids) == 2 * PER_TEAM and None not in call_ids

        def counts():
            with monitor.store.engine.connect() as conn:
                gateway = conn.execute(select(func.count()).select_from(requests)).scalar()
                wanted = [c.replace("-", "") for c in call_ids]
                spans = conn.execute(select(func.count()).select_from(tables.ids).where(tables.ids.c.id.in_(wanted))).scalar()
            return gateway, spans

        def delivered():
            gateway, spans = counts()
            return gateway >= len(call_ids) and spans == len(call_ids)

        wait_until(delivered, 60, "the proxy's otel spans and generic_api payloads to arrive", interval=0.25,
                   on_timeout=lambda: f"(gateway requests, matched span ids) = {counts()}, receiver: "
                                      f"{_source._received}\n{proxy.log_tail()}")
        report = monitor.run_cycle()
    finally:
        proxy.stop()

    kpis = report.org.kpis
    assert (kpis["trace_coverage"].value, kpis["trace_coverage"].samples) == (1.0, 2 * PER_TEAM)
    assert kpis["trace_coverage"].checks[0].status == "met"
    for team in KEYS:
        assert report.teams[team].kpis["trace_coverage"].value == 1.0
        assert report.teams[team].kpis["trace_coverage"].samples == PER_TEAM
    metrics = httpx.get(f"{running.url}/metrics", trust_env=False).text
    genai = [line for line in metrics.splitlines() if line.startswith("aiops_otlp_genai_spans{")]
    assert any('team="search"' in line and 'model="gpt-4o-mini"' in line for line in genai), genai
    for path in tmp_path.glob("history.db*"):  # prompts sent by the proxy's spans are never stored
        assert nonce.encode() not in path.read_bytes()
