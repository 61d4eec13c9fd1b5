"""The LiteLLM /metrics scrape route (Prometheus exposition -> increases) on recorded proxy output:
increases, resets, teams, histograms. Kept beside the PromQL tests: both read Prometheus-format data."""
import re

import httpx
import pytest

from collectors.litellm.scrape import LiteLLMMetricsSource, ScrapeConfig, histogram_quantile, parse_counters
from signals.source import CycleWindow, SourceContext
from monitor.storage.database import open_database

NOW = 1_800_000_000.0


class Proxy:
    """Serves a metrics text; /metrics redirects to /metrics/ and needs the master key, as LiteLLM does."""

    def __init__(self, text):
        self.text, self.seen_auth = text, []

    def __call__(self, request):
        self.seen_auth.append(request.headers.get("authorization"))
        if request.headers.get("authorization") != "Bearer sk-master":
            return httpx.Response(401, json={"error": "auth"})
        if request.url.path == "/metrics":
            return httpx.Response(307, headers={"location": "http://proxy/metrics/"})
        return httpx.Response(200, text=self.text)


def scaled(text: str, factor: float, start: float | None = None) -> str:
    """Every counter/histogram value times factor (a proxy that did `factor` times the traffic)."""
    out = []
    for line in text.splitlines():
        if line.startswith("litellm_") and not "_created" in line.split("{")[0] and re.search(r"_(total|bucket|count|sum)\{", line):
            name, value = line.rsplit(" ", 1)
            line = f"{name} {float(value) * factor}"
        if start is not None and line.startswith("process_start_time_seconds"):
            line = f"process_start_time_seconds {start}"
        out.append(line)
    return "\n".join(out) + "\n"


@pytest.fixture
def recorded(samples_dir):
    return (samples_dir / "proxy_metrics_with_teams.txt").read_text()


def make(tmp_path, proxy, key="sk-master"):
    context = SourceContext(open_database(f"sqlite:///{tmp_path / 'h.db'}"), lambda: NOW, {"LITELLM_MASTER_KEY": key})
    return LiteLLMMetricsSource(ScrapeConfig(url="http://proxy"), context, transport=httpx.MockTransport(proxy))


def window(now):
    return CycleWindow(now, now - 3600, now, now - 30 * 86400)


def test_parse_recorded_metrics(recorded):
    series, start, states = parse_counters(recorded)
    assert start == pytest.approx(1.79530276086e9)
    assert sorted(states) == [0.0, 0.0, 1.0, 1.0, 2.0]
    teams = {(t, s) for t, s, _v, _c in series.values()}
    assert ("search", "requests") in teams and ("support", "fallback_successes") in teams
    assert all(c is not None for t, s, v, c in series.values() if s == "requests")


def test_first_scrape_is_a_baseline_then_increases(tmp_path, recorded):
    proxy = Proxy(scaled(recorded, 1))
    source = make(tmp_path, proxy)
    first = source.collect(window(NOW))
    assert first.info["baseline"] and first.signals["all"]["litellm_scrape_requests"].value == 0
    assert proxy.seen_auth[-1] == "Bearer sk-master"  # kept across the /metrics -> /metrics/ redirect
    proxy.text = scaled(recorded, 3)
    signals = source.collect(window(NOW + 60)).signals
    base, _s, _st = parse_counters(recorded)
    want = 2 * sum(v for t, s, v, c in base.values() if s == "requests")
    assert signals["all"]["litellm_scrape_requests"].value == pytest.approx(want)
    assert signals["search"]["litellm_scrape_requests"].value == pytest.approx(
        2 * sum(v for t, s, v, c in base.values() if s == "requests" and t == "search"))
    assert 0 <= signals["all"]["litellm_scrape_cache_hit_rate"].value <= 1
    p50, p95 = signals["all"]["litellm_scrape_latency_p50_seconds"].value, signals["all"]["litellm_scrape_latency_p95_seconds"].value
    assert 0 < p50 <= p95
    exported = {(m.labels["signal"], m.labels["team"]): m.value for f in source.families() for m in f.samples}
    assert exported[("requests", "all")] == pytest.approx(want)


def test_restart_never_makes_counts_jump_or_go_negative(tmp_path, recorded):
    proxy = Proxy(scaled(recorded, 2))
    source = make(tmp_path, proxy)
    source.collect(window(NOW))                           # baseline at 2x
    proxy.text = scaled(recorded, 5)
    source.collect(window(NOW + 60))                      # +3x
    proxy.text = scaled(recorded, 1, start=1.9e9)         # restarted: counters back at 1x (value went down)
    source.collect(window(NOW + 120))                     # +1x
    proxy.text = scaled(recorded, 7, start=1.9e9 + 500)   # restarted again, now above the old values: +7x
    result = source.collect(window(NOW + 180))
    assert result.info["restarted"]
    base, _s, _st = parse_counters(recorded)
    unit = sum(v for t, s, v, c in base.values() if s == "requests")
    assert result.signals["all"]["litellm_scrape_requests"].value == pytest.approx(11 * unit)
    assert result.signals["all"]["litellm_scrape_monthly_spend_usd"].value >= 0


def test_wrong_key_is_a_clear_error(tmp_path, recorded):
    source = make(tmp_path, Proxy(recorded), key="nope")
    with pytest.raises(PermissionError, match="LITELLM_MASTER_KEY"):
        source.collect(window(NOW))


def test_histogram_quantile_matches_prometheus():
    cumulative = {0.1: 10, 0.5: 30, 1.0: 40, float("inf"): 40}
    assert histogram_quantile(0.5, cumulative) == pytest.approx(0.1 + 0.4 * (10 / 20))
    assert histogram_quantile(0.95, cumulative) == pytest.approx(0.5 + 0.5 * (8 / 10))
    assert histogram_quantile(0.5, {float("inf"): 0}) is None
    assert histogram_quantile(0.99, {1.0: 1, float("inf"): 5}) == 1.0  # in +Inf: the highest finite bound
