"""The real LiteLLM proxy (mock deployments) pushing to a real monitor through its `generic_api` logger.

A known set of requests is sent; the KPI values the contract defines are worked out here from what
was sent (status codes and LiteLLM's response headers), then compared with the monitor's report.

Traffic (team identities come from the custom auth sample: no database needed):
  search   30 x gpt-4o-mini, distinct prompts                  ok, 1 attempt each
  support  10 x flaky-model (always 429) -> fallback gpt-4o-mini   ok, 2 attempts (429 + success)
  support   5 x dead-endpoint (closed port) -> fallback claude-fast ok, 2 attempts (500 + success)
  search    3 x dead-no-fallback                                failed, 1 provider attempt (500)
  master   10 x one identical prompt to gpt-4o-mini, in sequence  1 miss, then cache hits
  master    2 x an unknown model                                failed, 400: not the provider's fault
plus one GET /health, whose probes the proxy also logs (tag litellm-internal-health-check): excluded.

The logger is run with DEFAULT_BATCH_SIZE=1 and DEFAULT_FLUSH_INTERVAL_SECONDS=1. With batch size 1
every event is serialised in a POST in the same step it is queued; with larger batches LiteLLM
1.102's GenericAPILogger clears its queue after an awaited POST and can drop events queued during
that POST (a LiteLLM issue, not the monitor's). It may post an event twice: the monitor must not
count it twice, which this test also checks.
"""
from __future__ import annotations

import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import msgspec
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.integration_support import (
    INGEST_TOKEN, SAMPLES, Expected, ManagedProcess, clean_env, evidence_counts, expected_by_team, free_port,
    is_health_check, load_sample_payloads, renamed, shift_to, start_monitor, wait_until,
)

pytestmark = pytest.mark.integration

MASTER_KEY = "sk-probe-master-1234"
KEYS = {"search": "sk-team-search", "support": "sk-team-support", None: MASTER_KEY}
PROXY_START_TIMEOUT = 90
FLUSH_TIMEOUT = 30

PROXY_CONFIG = """\
model_list:
  - model_name: gpt-4o-mini
    litellm_params: {model: openai/gpt-4o-mini, mock_response: "hi", api_key: fake}
  - model_name: claude-fast
    litellm_params: {model: anthropic/claude-3-5-haiku-20241022, mock_response: "hello from claude mock", api_key: fake}
  - model_name: flaky-model
    litellm_params: {model: openai/gpt-4o, mock_response: "litellm.RateLimitError", api_key: fake}
  - model_name: dead-endpoint
    litellm_params: {model: openai/gpt-4o, api_base: "http://127.0.0.1:9/v1", api_key: fake}
  - model_name: dead-no-fallback
    litellm_params: {model: openai/gpt-4o, api_base: "http://127.0.0.1:9/v1", api_key: fake}

router_settings:
  num_retries: 0
  disable_cooldowns: true   # keep every attempt deterministic: no "no deployments available"
  fallbacks:
    - flaky-model: ["gpt-4o-mini"]
    - dead-endpoint: ["claude-fast"]

litellm_settings:
  cache: true
  cache_params: {type: local}
  callbacks: ["generic_api"]
  request_timeout: 10

general_settings:
  master_key: %(master)s
  custom_auth: custom_auth.user_api_key_auth
"""

# kind -> (model, team, http status, attempts, provider attempts, provider successes, fallbacks)
PLAN = {
    "ok": ("gpt-4o-mini", "search", 200, 1, 1, 1, 0),
    "flaky": ("flaky-model", "support", 200, 2, 2, 1, 1),
    "dead": ("dead-endpoint", "support", 200, 2, 2, 1, 1),
    "dead_no_fallback": ("dead-no-fallback", "search", 500, 1, 1, 0, 0),
    "cached": ("gpt-4o-mini", None, 200, 1, None, None, 0),  # provider counts depend on hit / miss
    "bad_model": ("no-such-model", None, 400, 1, 0, 0, 0),
}
COUNTS = {"ok": 30, "flaky": 10, "dead": 5, "dead_no_fallback": 3, "cached": 10, "bad_model": 2}


@dataclass
class Sent:
    kind: str
    team: str | None
    status: int
    call_id: str
    cache_hit: bool
    cost: float
    fallbacks: int
    model_group: str | None
    body: str


@dataclass
class ProxyRun:
    monitor: object
    proxy: ManagedProcess
    sent: list[Sent]
    recorded: list[dict]
    report: dict
    metrics_text: str
    health_status: int


def _cost(headers: httpx.Headers) -> float:
    try:
        return float(headers.get("x-litellm-response-cost") or 0.0)
    except ValueError:  # "None" when the proxy could not price the response
        return 0.0


def _send(client: httpx.Client, base: str, kind: str, prompt: str) -> Sent:
    model, team = PLAN[kind][0], PLAN[kind][1]
    response = client.post(f"{base}/v1/chat/completions", headers={"Authorization": f"Bearer {KEYS[team]}"},
                           json={"model": model, "messages": [{"role": "user", "content": prompt}]})
    h = response.headers
    return Sent(kind, team, response.status_code, h.get("x-litellm-call-id", ""), bool(h.get("x-litellm-cache-key")),
                _cost(h), int(h.get("x-litellm-attempted-fallbacks") or 0), h.get("x-litellm-model-group"),
                response.text[:300])


def expected_from_sent(sent: list[Sent]) -> dict[str, Expected]:
    """The contract's signals, per team and `all`, from what the client saw."""
    result: dict[str, Expected] = {}
    for s in sent:
        _model, _team, _status, attempts, p_attempts, p_successes, _fb = PLAN[s.kind]
        if s.kind == "cached":
            p_attempts, p_successes = (0, 0) if s.cache_hit else (1, 1)
        success = s.status == 200
        # A cache hit is logged with response_cost 0, although the proxy's x-litellm-response-cost
        # header repeats the cached response's original cost.
        cost = 0.0 if s.cache_hit else s.cost
        for key in (s.team or "unattributed", "all"):
            e = result.setdefault(key, Expected())
            e.requests += 1
            e.failed_requests += int(not success)
            e.cache_hit_requests += int(s.cache_hit)
            e.attempts += attempts
            e.provider_attempts += p_attempts
            e.provider_successes += p_successes
            e.cost_usd += cost
            e.attributed_cost_usd += cost if s.team else 0.0
    return result


def _counts(e: Expected) -> dict:
    return {k: getattr(e, k) for k in ("requests", "failed_requests", "cache_hit_requests", "attempts",
                                       "provider_attempts", "provider_successes")}


@pytest.fixture(scope="module")
def proxy_run(tmp_path_factory, litellm_bin) -> ProxyRun:
    work = tmp_path_factory.mktemp("litellm_proxy")
    running = start_monitor(work / "monitor")
    recorded: list[dict] = []
    original_ingest = running.monitor.push.ingest

    def recording_ingest(items, route="http"):
        items = list(items)
        # The route hands over decoded payloads (msgspec structs of the fields the monitor reads).
        as_dicts = [msgspec.to_builtins(i) if isinstance(i, msgspec.Struct) else i for i in items]
        recorded.extend(d.get("standard_logging_object") or d for d in as_dicts if isinstance(d, dict))
        return original_ingest(items, route)

    running.monitor.push.ingest = recording_ingest  # the push route looks the method up per request

    shutil.copy(SAMPLES / "custom_auth_example.py", work / "custom_auth.py")
    (work / "proxy.yaml").write_text(PROXY_CONFIG % {"master": MASTER_KEY})
    port = free_port()
    env = clean_env(
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        GENERIC_LOGGER_ENDPOINT=f"{running.url}/ingest/litellm",
        GENERIC_LOGGER_HEADERS=f"Authorization=Bearer {INGEST_TOKEN}",
        DEFAULT_BATCH_SIZE="1",
        DEFAULT_FLUSH_INTERVAL_SECONDS="1",
        PYTHONPATH=str(work),
    )
    base = f"http://127.0.0.1:{port}"
    proxy = None
    try:
        proxy = ManagedProcess("litellm-proxy", [litellm_bin, "--config", work / "proxy.yaml", "--host", "127.0.0.1",
                                                 "--port", str(port)], work / "proxy.log", env=env, cwd=work)
        with httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0), trust_env=False) as client:
            def ready():
                if not proxy.alive():
                    pytest.fail(f"the LiteLLM proxy exited with {proxy.proc.returncode}\n{proxy.log_tail()}",
                                pytrace=False)
                return client.get(f"{base}/health/liveliness", timeout=2).status_code == 200

            wait_until(ready, PROXY_START_TIMEOUT, "the LiteLLM proxy to start", interval=0.25,
                       on_timeout=proxy.log_tail)

            health_status = client.get(f"{base}/health", headers={"Authorization": f"Bearer {MASTER_KEY}"},
                                       timeout=60).status_code

            nonce = uuid.uuid4().hex
            jobs = [(kind, f"{kind} #{i} {nonce}") for kind, n in COUNTS.items() if kind != "cached" for i in range(n)]
            with ThreadPoolExecutor(max_workers=12) as pool:
                sent = list(pool.map(lambda job: _send(client, base, *job), jobs))
            # The cache series in sequence: the first fills the cache, the others should hit it.
            sent.append(_send(client, base, "cached", f"the same prompt {nonce}"))
            time.sleep(0.5)
            sent += [_send(client, base, "cached", f"the same prompt {nonce}") for _ in range(COUNTS["cached"] - 1)]

        want_calls = {s.call_id for s in sent}
        want_attempts = sum(PLAN[s.kind][3] for s in sent)

        def flushed():
            real = [p for p in recorded if not is_health_check(p)]
            calls = {p.get("litellm_call_id") for p in real}
            return (want_calls <= calls and len({p["id"] for p in real}) >= want_attempts
                    and any(is_health_check(p) for p in recorded))

        def progress():
            real = [p for p in recorded if not is_health_check(p)]
            return (f"received {len(recorded)} payloads, {len({p['id'] for p in real})} distinct non-probe attempts "
                    f"(want {want_attempts}), {len(want_calls - {p.get('litellm_call_id') for p in real})} "
                    f"call ids missing\n{proxy.log_tail()}")

        wait_until(flushed, FLUSH_TIMEOUT, "the proxy's generic_api logger to deliver every attempt",
                   interval=0.2, on_timeout=progress)
        time.sleep(2.5)  # two more flush intervals: anything late or extra would arrive now
        running.monitor.run_cycle()
        with httpx.Client(timeout=10, trust_env=False) as client:
            report = client.get(f"{running.url}/api/report").raise_for_status().json()
            metrics_text = client.get(f"{running.url}/metrics").raise_for_status().text
        yield ProxyRun(running, proxy, sent, recorded, report, metrics_text, health_status)
    finally:
        if proxy is not None:
            proxy.stop()
        running.stop()


# ---------------------------------------------------------------------------- the proxy did what we planned
def test_proxy_behaved_as_planned(proxy_run):
    """Preconditions about LiteLLM itself; if these fail, the expectation (not the monitor) is off."""
    sent = proxy_run.sent
    assert len(sent) == sum(COUNTS.values())
    assert all(s.call_id for s in sent) and len({s.call_id for s in sent}) == len(sent)
    for s in sent:
        model, _team, status, _a, _pa, _ps, fallbacks = PLAN[s.kind]
        assert s.status == status, f"{s.kind}: HTTP {s.status}, expected {status}: {s.body}"
        assert s.fallbacks == fallbacks, f"{s.kind}: {s.fallbacks} fallbacks, expected {fallbacks}"
    hits = [s for s in sent if s.cache_hit]
    assert all(s.kind == "cached" for s in hits)
    assert len(hits) == COUNTS["cached"] - 1, "the in-memory cache should answer all but the first repeat"
    assert proxy_run.health_status == 200

    # What the proxy posted, read with this test's own reading of the contract, agrees with the plan.
    from_payloads = expected_by_team(proxy_run.recorded)
    from_client = expected_from_sent(sent)
    assert set(from_payloads) == set(from_client) == {"all", "search", "support", "unattributed"}
    for team in from_client:
        assert _counts(from_payloads[team]) == _counts(from_client[team]), team
        assert from_payloads[team].cost_usd == pytest.approx(from_client[team].cost_usd, rel=1e-9, abs=1e-15)


# ---------------------------------------------------------------------------- the monitor's numbers
def test_org_kpis_match_the_contract(proxy_run):
    want = expected_from_sent(proxy_run.sent)["all"]
    kpis = proxy_run.report["kpis"]
    ev = evidence_counts(kpis)
    assert ev["requests"] == want.requests == 60
    assert ev["failed_requests"] == want.failed_requests == 5
    assert ev["cache_hit_requests"] == want.cache_hit_requests == 9
    assert ev["provider_attempts"] == want.provider_attempts == 64
    assert ev["provider_successes"] == want.provider_successes == 46

    assert kpis["api_error_rate"]["value"] == want.failed_requests / want.requests
    assert kpis["provider_availability"]["value"] == want.provider_successes / want.provider_attempts
    assert kpis["cache_hit_rate"]["value"] == want.cache_hit_requests / want.requests
    window_days = proxy_run.monitor.monitor.config.evaluation_window / 86400
    assert kpis["request_volume"]["value"] == pytest.approx(want.requests / window_days, rel=1e-12)
    assert kpis["request_volume"]["samples"] == want.requests
    assert want.cost_usd > 0
    assert kpis["monthly_spend_usd"]["value"] == pytest.approx(want.cost_usd, rel=1e-9)
    assert kpis["cost_attribution_coverage"]["value"] == pytest.approx(want.attributed_cost_usd / want.cost_usd,
                                                                       rel=1e-9)
    for kpi_id in ("api_error_rate", "cache_hit_rate", "request_volume", "cost_attribution_coverage",
                   "monthly_spend_usd"):
        assert kpis[kpi_id]["samples"] == want.requests, kpi_id
    # The catalog counts provider availability's sample in attempts (its denominator), not requests.
    assert kpis["provider_availability"]["evidence"]["provider_attempts"] == want.provider_attempts
    assert kpis["provider_availability"]["samples"] == want.requests


def test_team_kpis(proxy_run):
    expected = expected_from_sent(proxy_run.sent)
    teams = proxy_run.report["teams"]
    assert set(teams) == {"search", "support", "unattributed"}
    for team in ("search", "support", "unattributed"):
        want, kpis = expected[team], teams[team]["kpis"]
        ev = evidence_counts(kpis)
        got = {k: ev[k] for k in ("requests", "failed_requests", "cache_hit_requests", "provider_attempts",
                                  "provider_successes")}
        assert got == {k: getattr(want, k) for k in got}, team
        # every gateway KPI counts its minimum sample in requests (README: the default minimum is 20 requests)
        for kpi_id in ("api_error_rate", "cache_hit_rate", "provider_availability"):
            assert kpis[kpi_id]["samples"] == want.requests, (team, kpi_id)
            assert (kpis[kpi_id]["status"] == "no_data") == (want.requests < 20), (team, kpi_id)
        if want.requests:
            assert kpis["api_error_rate"]["value"] == want.failed_requests / want.requests
            assert kpis["cache_hit_rate"]["value"] == want.cache_hit_requests / want.requests
        if want.provider_attempts:
            assert kpis["provider_availability"]["value"] == want.provider_successes / want.provider_attempts
    # search: 33 requests, 3 failed (< 10 %): met. support: 15 requests, too few to grade either
    # KPI, though its 30 provider attempts (10 x 429, 5 x 500) give availability a value.
    assert teams["search"]["kpis"]["api_error_rate"]["status"] == "met"
    assert teams["support"]["kpis"]["api_error_rate"]["status"] == "no_data"
    assert teams["support"]["kpis"]["provider_availability"]["status"] == "no_data"
    assert teams["support"]["kpis"]["provider_availability"]["value"] == 15 / 30
    assert teams["unattributed"]["kpis"]["cache_hit_rate"]["evidence"]["cache_hit_requests"] == 9


def test_health_probes_are_excluded(proxy_run):
    probes = [p for p in proxy_run.recorded if is_health_check(p)]
    assert probes, "GET /health should have made the proxy log its probes"
    probe_calls = {p["litellm_call_id"] for p in probes}
    assert not probe_calls & {s.call_id for s in proxy_run.sent}
    assert proxy_run.report["kpis"]["api_error_rate"]["evidence"]["requests"] == len(proxy_run.sent)
    families = {f.name: f for f in text_string_to_metric_families(proxy_run.metrics_text)}
    ingested = {s.labels["outcome"]: s.value for s in families["aiops_ingest_payloads"].samples
                if s.name.endswith("_total") and s.labels["route"] == "http"}
    assert ingested.get("health_checks", 0) == len(probes)
    assert ingested.get("rejected", 0) == 0
    # every attempt once; what the logger posted twice went to duplicates
    real = [p for p in proxy_run.recorded if not is_health_check(p)]
    assert ingested["accepted"] == len({p["id"] for p in real})
    assert ingested.get("duplicates", 0) == len(real) - len({p["id"] for p in real})


def test_latency_percentiles(proxy_run):
    """Request latency = last endTime - first startTime; numpy's percentile, 1 % tolerance."""
    latencies = expected_by_team(proxy_run.recorded)["all"].latencies
    assert len(latencies) == len(proxy_run.sent)
    kpis = proxy_run.report["kpis"]
    for kpi_id, q in (("gateway_latency_p50_seconds", 50), ("latency_p95_seconds", 95)):
        want = float(np.percentile(latencies, q))
        assert kpis[kpi_id]["value"] == pytest.approx(want, rel=0.01), kpi_id
        assert kpis[kpi_id]["samples"] == len(latencies)


def test_level_and_score(proxy_run):
    """Level 1 (error rate 5/60 < 10 %, spend tracked); level 2 blocked by provider availability."""
    report = proxy_run.report
    want = expected_from_sent(proxy_run.sent)["all"]
    latencies = expected_by_team(proxy_run.recorded)["all"].latencies
    level2_met = [
        True,  # request_volume: tracked
        want.attributed_cost_usd / want.cost_usd >= 0.90,
        want.provider_successes / want.provider_attempts > 0.99,
        float(np.percentile(latencies, 50)) < 0.5,
    ]
    assert report["level"] == 1
    assert report["score"] == pytest.approx(1 + sum(level2_met) / len(level2_met), abs=1e-4)
    assert "provider_availability" in {b["kpi"] for b in report["blocking"]}
    assert report["kpis"]["provider_availability"]["status"] == "unmet"


def test_exported_series_follow_the_report(proxy_run):
    report = proxy_run.report
    families = {f.name: f for f in text_string_to_metric_families(proxy_run.metrics_text)}
    level = {s.labels["team"]: s.value for s in families["aiops_maturity_level"].samples}
    assert level["all"] == report["level"]
    values = {(s.labels["kpi"], s.labels["level"], s.labels["team"]): s.value
              for s in families["aiops_kpi_value"].samples}
    assert values[("api_error_rate", "1", "all")] == report["kpis"]["api_error_rate"]["value"]
    assert values[("provider_availability", "2", "all")] == report["kpis"]["provider_availability"]["value"]
    assert ("api_error_rate", "1", "support") not in values  # no_data: absent
    no_data = {(s.labels["kpi"], s.labels["level"], s.labels["team"]): s.value
               for s in families["aiops_kpi_no_data"].samples}
    assert no_data[("api_error_rate", "1", "support")] == 1
    assert no_data[("api_error_rate", "1", "all")] == 0
    up = {s.labels["collector"]: s.value for s in families["aiops_collector_up"].samples}
    assert up["litellm_push"] == 1


# ---------------------------------------------------------------------------- ingest authentication
def test_wrong_token_is_refused_and_nothing_is_stored(monitor_factory, http):
    running = monitor_factory("auth")
    body = (SAMPLES / "generic_api_batch_sample.json").read_bytes()
    url = f"{running.url}/ingest/litellm"
    for headers in ({"Authorization": "Bearer wrong-token"}, {}, {"Authorization": f"Basic {INGEST_TOKEN}"},
                    {"Authorization": f"Bearer {INGEST_TOKEN}x"}):
        response = http.post(url, content=body, headers={"Content-Type": "application/json", **headers})
        assert response.status_code == 401, headers
    counts = running.monitor.store.counts()
    assert counts and all(n == 0 for n in counts.values()), counts
    report = running.monitor.run_cycle()
    assert report.org.kpis["api_error_rate"].samples == 0

    ok = http.post(url, content=body, headers={"Content-Type": "application/json",
                                               "Authorization": f"Bearer {INGEST_TOKEN}"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["accepted"] + ok.json()["too_old"] + ok.json()["health_checks"] > 0


def test_concurrent_overlapping_posts_are_all_stored(monitor_factory):
    """Loggers post concurrently (several proxy workers or replicas, LiteLLM's batch-size flushes, a
    retry while the first POST is still being handled), and one request's attempts or one attempt can
    be in two POSTs at once. Every POST must be acknowledged and every attempt stored exactly once."""
    running = monitor_factory("concurrent")
    url = f"{running.url}/ingest/litellm"
    recorded = [p for p in load_sample_payloads() if not is_health_check(p)]
    sent: list[dict] = []
    statuses: list[tuple[int, str]] = []
    for round_ in range(5):
        batch = renamed(shift_to(recorded, time.time() - 10), f"r{round_}")
        sent += batch
        failures = [p for p in batch if p["status"] == "failure"]
        successes = [p for p in batch if p["status"] == "success"]
        bodies = [batch, batch, batch, failures, successes, successes[::-1]]
        barrier = threading.Barrier(len(bodies))

        def post(body):
            with httpx.Client(timeout=30, trust_env=False) as client:
                barrier.wait(timeout=10)
                r = client.post(url, json=body, headers={"Authorization": f"Bearer {INGEST_TOKEN}"})
                return r.status_code, r.text[:200]

        with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
            statuses += list(pool.map(post, bodies))
    assert [s for s in statuses if s[0] != 200] == [], "concurrent POSTs refused"
    want = expected_by_team(sent)["all"]
    kpis = running.monitor.run_cycle().as_dict()["kpis"]
    got = evidence_counts(kpis)
    assert {k: got[k] for k in ("requests", "failed_requests", "provider_attempts", "provider_successes")} == {
        "requests": want.requests, "failed_requests": want.failed_requests,
        "provider_attempts": want.provider_attempts, "provider_successes": want.provider_successes}
