"""The real LiteLLM proxy's /metrics, scraped by the monitor (source `litellm_metrics`) and by the real
Prometheus (served back through the PromQL source), with a proxy restart in the middle: the counters
reset, the monitor's counts must not. The restart also changes the proxy's model list, which the
deployments source sees on /model/info.

Traffic (teams from the custom-auth sample, no database needed), sent and counted here:
  phase 1: search 6 x gpt-4o-mini ok, support 3 x flaky-model (429 -> fallback ok),
           search 2 x dead-no-fallback (500), master 4 x one prompt (1 miss + 3 cache hits)
  restart (one more deployment in the config)
  phase 2: search 3 x gpt-4o-mini ok, support 1 x flaky-model, master 2 x one prompt (1 miss + 1 hit)
"""
from __future__ import annotations

import shutil
import time
import uuid

import httpx
import pytest

from tests.integration.integration_support import SAMPLES, VENV_BIN, ManagedProcess, clean_env, free_port, wait_until
from tests.integration.support_ops import start_prometheus

pytestmark = pytest.mark.integration

MASTER = "sk-probe-master-1234"
KEYS = {"search": "sk-team-search", "support": "sk-team-support", None: MASTER}
PROXY_START_TIMEOUT = 90
CONFIG = """\
model_list:
  - model_name: gpt-4o-mini
    litellm_params: {model: openai/gpt-4o-mini, mock_response: "hi", api_key: fake}
  - model_name: claude-fast
    litellm_params: {model: anthropic/claude-3-5-haiku-20241022, mock_response: "hello", api_key: fake}
  - model_name: flaky-model
    litellm_params: {model: openai/gpt-4o, mock_response: "litellm.RateLimitError", api_key: fake}
  - model_name: dead-no-fallback
    litellm_params: {model: openai/gpt-4o, api_base: "http://127.0.0.1:9/v1", api_key: fake}
%(extra)s
router_settings:
  num_retries: 0
  disable_cooldowns: true
  fallbacks:
    - flaky-model: ["gpt-4o-mini"]

litellm_settings:
  cache: true
  cache_params: {type: local}
  callbacks: ["prometheus"]
  request_timeout: 10

general_settings:
  master_key: %(master)s
  custom_auth: custom_auth.user_api_key_auth
"""
EXTRA_MODEL = """\
  - model_name: gpt-4o-mini-v2
    litellm_params: {model: openai/gpt-4o-mini, mock_response: "hi v2", api_key: fake}
"""
PHASES = {
    1: [("search", "gpt-4o-mini", 6), ("support", "flaky-model", 3), ("search", "dead-no-fallback", 2)],
    2: [("search", "gpt-4o-mini", 3), ("support", "flaky-model", 1)],
}
CACHED = {1: 4, 2: 2}


class Proxy:
    def __init__(self, work, port):
        self.work, self.port, self.process = work, port, None
        self.base = f"http://127.0.0.1:{port}"

    def start(self, extra: str = "") -> None:
        (self.work / "proxy.yaml").write_text(CONFIG % {"master": MASTER, "extra": extra})
        env = clean_env(LITELLM_LOCAL_MODEL_COST_MAP="True", PYTHONPATH=str(self.work))
        litellm = shutil.which("litellm", path=str(VENV_BIN)) or "litellm"
        self.process = ManagedProcess("litellm-proxy", [litellm, "--config", self.work / "proxy.yaml", "--host",
                                                        "127.0.0.1", "--port", str(self.port)],
                                      self.work / "proxy.log", env=env, cwd=self.work)

        def ready():
            if not self.process.alive():
                pytest.fail(f"proxy exited\n{self.process.log_tail()}", pytrace=False)
            return httpx.get(f"{self.base}/health/liveliness", timeout=2, trust_env=False).status_code == 200

        wait_until(ready, PROXY_START_TIMEOUT, "the LiteLLM proxy to start", 0.25, self.process.log_tail)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def send(self, phase: int) -> dict:
        """Sends the phase's traffic; returns what was sent, per team: requests, failed, cache hits."""
        sent: dict = {}
        with httpx.Client(timeout=30, trust_env=False) as client:
            def one(team, model, prompt):
                r = client.post(f"{self.base}/v1/chat/completions", headers={"Authorization": f"Bearer {KEYS[team]}"},
                                json={"model": model, "messages": [{"role": "user", "content": prompt}]})
                row = sent.setdefault(team or "unattributed", {"requests": 0, "failed": 0, "hits": 0})
                row["requests"] += 1
                row["failed"] += r.status_code != 200
                row["hits"] += bool(r.headers.get("x-litellm-cache-key"))
                return r
            for team, model, n in PHASES[phase]:
                for _ in range(n):
                    one(team, model, f"{model} {uuid.uuid4().hex}")
            prompt = f"the same prompt {uuid.uuid4().hex}"
            for i in range(CACHED[phase]):
                one(None, "gpt-4o-mini", prompt)
                if i == 0:
                    time.sleep(0.5)  # the first answer is cached asynchronously
        return sent


def total(sent: dict, key: str) -> int:
    return sum(row[key] for row in sent.values())


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    from collectors.deployments.source import DeploymentsConfig, DeploymentsSource
    from collectors.litellm.scrape import LiteLLMMetricsSource, ScrapeConfig
    from signals.source import SourceContext
    from collectors.litellm.store import Store
    from monitor.storage.database import open_database

    work = tmp_path_factory.mktemp("litellm_scrape")
    shutil.copy(SAMPLES / "custom_auth_example.py", work / "custom_auth.py")
    proxy = Proxy(work, free_port())
    prometheus = None
    store = Store(open_database(f"sqlite:///{work / 'history.db'}"))
    try:
        proxy.start()
        prom_base, prometheus = start_prometheus(work, (
            f"  - job_name: litellm\n    metrics_path: /metrics/\n"
            f"    authorization: {{credentials: {MASTER}}}\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{proxy.port}']\n"))
        context = SourceContext(store.engine, time.time, {"LITELLM_MASTER_KEY": MASTER}, gateway=store)
        scrape = LiteLLMMetricsSource(ScrapeConfig(url=proxy.base), context)
        deployments = DeploymentsSource(DeploymentsConfig.model_validate({"litellm": {"url": proxy.base}}), context)
        yield proxy, prom_base, scrape, deployments, context
        scrape.close(), deployments.close()
    finally:
        proxy.stop()
        if prometheus is not None:
            prometheus.stop()
        store.close()


def window(start: float):
    from signals.source import CycleWindow

    now = time.time()
    return CycleWindow(now, start, now, now - 30 * 86400)


def prom_value(base: str, query: str) -> float | None:
    body = httpx.get(f"{base}/api/v1/query", params={"query": query}, timeout=5, trust_env=False).json()
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_counts_survive_a_proxy_restart(rig):
    proxy, prom, scrape, deployments, context = rig
    started = time.time() - 60
    first = scrape.collect(window(started))
    assert first.info["baseline"]
    assert deployments.collect(window(started)).info["litellm"]["baseline"]

    sent1 = proxy.send(1)
    assert total(sent1, "failed") == 2 and total(sent1, "hits") == CACHED[1] - 1, sent1
    wait_until(lambda: prom_value(prom, "sum(litellm_proxy_total_requests_metric_total)") == total(sent1, "requests"),
               30, "Prometheus to scrape phase 1")
    signals = scrape.collect(window(started)).signals
    assert signals["all"]["litellm_scrape_requests"].value == total(sent1, "requests")
    assert signals["all"]["litellm_scrape_api_error_rate"].value == pytest.approx(2 / total(sent1, "requests"))
    assert signals["all"]["litellm_scrape_cache_hit_rate"].value == pytest.approx(3 / total(sent1, "requests"))
    for team in ("search", "support", "unattributed"):
        assert signals[team]["litellm_scrape_requests"].value == sent1[team]["requests"], team
    assert signals["support"]["litellm_scrape_fallback_success_ratio"].value == 1.0
    assert signals["support"]["litellm_scrape_fallback_requests"].value == 3

    proxy.stop()
    proxy.start(extra=EXTRA_MODEL)  # restarted: every counter starts again from 0
    sent2 = proxy.send(2)
    wait_until(lambda: prom_value(prom, "sum(litellm_proxy_total_requests_metric_total)") == total(sent2, "requests"),
               60, "Prometheus to scrape phase 2 (the raw total drops after the restart)")
    result = scrape.collect(window(started))
    assert result.info["restarted"]
    signals = result.signals
    want = total(sent1, "requests") + total(sent2, "requests")
    assert signals["all"]["litellm_scrape_requests"].value == want
    assert signals["all"]["litellm_scrape_api_error_rate"].value == pytest.approx(2 / want)
    assert signals["all"]["litellm_scrape_cache_hit_rate"].value == pytest.approx(
        (total(sent1, "hits") + total(sent2, "hits")) / want)
    for team in ("search", "support", "unattributed"):
        assert signals[team]["litellm_scrape_requests"].value == sent1[team]["requests"] + sent2[team]["requests"]
    assert signals["all"]["litellm_scrape_monthly_spend_usd"].value >= 0
    assert 0 < signals["all"]["litellm_scrape_latency_p50_seconds"].value <= signals["all"]["litellm_scrape_latency_p95_seconds"].value

    # The model list changed across the restart: one new deployment on /model/info.
    info = deployments.collect(window(started))
    assert info.info["litellm"]["added"] == 1, info.info
    assert info.signals["all"]["deployment_frequency"].samples == 1


def test_promql_signals_from_prometheus_scraping_the_proxy(rig):
    """Runs after the restart: Prometheus's raw total shows the reset; its increase() and resets() see it."""
    from collectors.promql.source import PromqlConfig, PromqlSource

    proxy, prom, scrape, deployments, context = rig
    source = PromqlSource(PromqlConfig.model_validate({"url": prom, "timeout": "5s", "signals": {
        "raw_requests_total": {"query": "sum(litellm_proxy_total_requests_metric_total)"},
        "counter_resets": {"query": "sum(resets(litellm_proxy_total_requests_metric_total[10m]))"},
        "requests_by_team": {"query": "sum by (team_alias) (litellm_proxy_total_requests_metric_total)",
                             "team_label": "team_alias"},
        "up_ratio": {"query": "avg_over_time(up[2m])", "mode": "range", "range": "1m", "step": "5s",
                     "reduce": "min", "samples": "points"},
        "broken": {"query": "sum by ("},
    }}), context)
    try:
        result = source.collect(window(time.time() - 600))
    finally:
        source.close()
    signals = result.signals
    assert signals["all"]["raw_requests_total"].value == sum(n for _t, _m, n in PHASES[2]) + CACHED[2]
    assert signals["all"]["counter_resets"].value >= 1
    assert signals["search"]["requests_by_team"].value == 3
    up = signals["all"]["up_ratio"]  # min over the points of the scrape success ratio
    assert up.samples == up.evidence["points"] >= 1 and 0 <= up.value < 1  # the restart failed some scrapes
    assert "broken" in result.info["errors"] and "parse error" in result.info["errors"]["broken"]
    assert set(result.info["signals"]) == {"raw_requests_total", "counter_resets", "requests_by_team", "up_ratio"}
