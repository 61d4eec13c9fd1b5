"""Source `litellm_metrics`: the proxy's Prometheus `/metrics`, counters turned into increases.

Why increases: the proxy's counters restart from 0 when it restarts, so raw totals jump down. Each
scrape stores the last value of every counter series in `litellm_scrape_series`; the increase since
the previous scrape is the difference, or the whole value after a reset (the value went down, the
series' `_created` time changed, or `process_start_time_seconds` changed: the proxy restarted). A
series first seen after an earlier scrape of the same proxy started from 0 since then. Increases
are added per minute and team to `litellm_scrape_increases`, so a window is a sum and a restart can
never make a KPI jump or go negative. The first scrape of a proxy only sets the baseline.

Signals carry a `litellm_scrape_` prefix: the push route (generic_api payloads) owns the contract's
gateway signal names, and the two routes count differently (see docs/sources/litellm-metrics.md).
Config: url, master_key_env (default LITELLM_MASTER_KEY), path (/metrics; the redirect to
/metrics/ is followed), timeout, stale_after, retention.
"""
from __future__ import annotations

import hashlib
import math
from collections import defaultdict

import httpx
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, and_, delete, func, select

from signals.measured import Measured
from signals.labels import bounded_labels
from signals.source import CycleWindow, SourceContext, SourceResult
from signals.teams import UNATTRIBUTED
from signals.durations import Duration

PREFIX = "litellm_scrape_"
# family (as the parser names it, without _total) -> our counter name
COUNTERS = {
    "litellm_proxy_total_requests_metric": "requests",
    "litellm_proxy_failed_requests_metric": "failed_requests",
    "litellm_cache_hits_metric": "cache_hit_requests",
    "litellm_spend_metric": "cost_usd",
    "litellm_deployment_successful_fallbacks": "fallback_successes",
    "litellm_deployment_failed_fallbacks": "fallback_failures",
    "litellm_deployment_success_responses": "deployment_successes",
    "litellm_deployment_failure_responses": "deployment_failures",
}
LATENCY = "litellm_request_total_latency_metric"
CLIENT_ERROR_OK = {"408", "429"}  # 4xx that count against the provider, as in the push route

metadata = MetaData()
series_state = Table(
    "litellm_scrape_series", metadata,
    Column("target", String, primary_key=True), Column("series", String(40), primary_key=True),
    Column("value", Float, nullable=False), Column("created", Float, nullable=True),
)
targets = Table(
    "litellm_scrape_targets", metadata,
    Column("target", String, primary_key=True), Column("process_start", Float, nullable=True),
    Column("last_scrape", Float, nullable=False),
)
increases = Table(
    "litellm_scrape_increases", metadata,
    Column("target", String, primary_key=True), Column("minute", Integer, primary_key=True),
    Column("team", String, primary_key=True), Column("signal", String, primary_key=True),
    Column("value", Float, nullable=False),
)


class ScrapeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(description="Base URL of the LiteLLM proxy to scrape.")
    master_key_env: str = Field(default="LITELLM_MASTER_KEY", description=(
        "Environment variable holding the proxy's master key, sent as a bearer token."))
    path: str = Field(default="/metrics", description=(
        "Path of the proxy's Prometheus endpoint; a redirect to `/metrics/` is followed."))
    timeout: Duration = Field(default=10.0, description="Timeout of each scrape request.")
    stale_after: Duration = Field(default=300.0, description=(
        "How long the last collected signals stay in use while collection fails; after that this source's KPIs "
        "show `no_data`."))
    retention: Duration = Field(default=35 * 86400, description=(
        "How long the per-minute counter increases are kept."))


def team_of(labels: dict[str, str]) -> str:
    for key in ("team_alias", "team"):
        value = labels.get(key)
        if value and value != "None":
            return value
    return UNATTRIBUTED


def parse_counters(text: str) -> tuple[dict[str, tuple[str, str, float, float | None]], float | None, list[float]]:
    """({series id: (team, signal, value, created)}, process start, deployment states)."""
    found: dict[str, list] = {}
    created: dict[str, float] = {}
    process_start, states = None, []
    for family in text_string_to_metric_families(text):
        if family.name == "process_start_time_seconds":
            process_start = family.samples[0].value if family.samples else None
        elif family.name == "litellm_deployment_state":
            states = [s.value for s in family.samples]
        # LiteLLM declares `<name>_created` as a family of its own (a gauge): same series, start time.
        elif (base := family.name.removesuffix("_created")) in COUNTERS or base == LATENCY:
            for s in family.samples:
                labels = {k: v for k, v in s.labels.items() if k != "le"}
                ident = hashlib.sha1(repr((base, sorted(labels.items()))).encode()).hexdigest()
                if s.name.endswith("_created"):
                    created[ident] = s.value
                    continue
                if base in COUNTERS and s.name.endswith("_total"):
                    signal = COUNTERS[base]
                    if signal == "deployment_failures" and s.labels.get("exception_status", "").startswith("4") \
                            and s.labels.get("exception_status") not in CLIENT_ERROR_OK:
                        signal = "deployment_client_errors"  # not the provider's fault
                elif base == LATENCY and s.name.endswith("_bucket"):
                    signal = f"latency_le:{s.labels['le']}"
                elif base == LATENCY and s.name.endswith("_count"):
                    signal = "latency_count"
                else:
                    continue
                key = hashlib.sha1(f"{ident}|{signal}".encode()).hexdigest()
                found[key] = [team_of(s.labels), signal, s.value, ident]
    return {k: (t, sig, v, created.get(ident)) for k, (t, sig, v, ident) in found.items()}, process_start, states


def histogram_quantile(q: float, cumulative: dict[float, float]) -> float | None:
    """Prometheus's histogram_quantile: linear interpolation inside the bucket holding the rank."""
    bounds = sorted(cumulative)
    if not bounds or cumulative[bounds[-1]] <= 0:
        return None
    rank, lower, below = q * cumulative[bounds[-1]], 0.0, 0.0
    for bound in bounds:
        count = cumulative[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * ((rank - below) / (count - below) if count > below else 0.0)
        lower, below = bound, count
    return lower


class LiteLLMMetricsSource:
    name = "litellm_metrics"
    config_model = ScrapeConfig

    def __init__(self, config: ScrapeConfig, context: SourceContext, transport: httpx.BaseTransport | None = None) -> None:
        self.config, self.context = config, context
        self.stale_after = config.stale_after
        self.target = config.url.rstrip("/")
        key = context.environ.get(config.master_key_env)
        self.http = httpx.Client(timeout=config.timeout, follow_redirects=True, trust_env=False, transport=transport,
                                 headers={"Authorization": f"Bearer {key}"} if key else {})
        self._last: dict[str, dict[str, Measured]] = {}

    def scrape(self, now: float) -> dict:
        response = self.http.get(f"{self.target}{self.config.path}")
        if response.status_code in (401, 403):
            raise PermissionError(f"{self.target}{self.config.path}: HTTP {response.status_code} (set {self.config.master_key_env} "
                                  "to the proxy's master key)")
        response.raise_for_status()
        series, process_start, states = parse_counters(response.text)
        minute = int(now // 60) * 60
        added: dict[tuple[str, str], float] = defaultdict(float)
        with self.context.engine.begin() as conn:
            meta = conn.execute(select(targets).where(targets.c.target == self.target)).first()
            restarted = meta is not None and process_start is not None and meta.process_start not in (None, process_start)
            previous = {r.series: r for r in conn.execute(select(series_state).where(series_state.c.target == self.target))}
            resets = 0
            for key, (team, signal, value, created) in series.items():
                old = previous.get(key)
                if old is None:
                    increase = value if meta is not None else 0.0  # new since the last scrape: from 0
                elif restarted or value < old.value or (created is not None and old.created not in (None, created)):
                    increase, resets = value, resets + 1
                else:
                    increase = value - old.value
                if increase > 0:
                    added[(team, signal)] += increase
            conn.execute(delete(series_state).where(series_state.c.target == self.target))
            if series:
                conn.execute(series_state.insert(), [{"target": self.target, "series": k, "value": v, "created": c}
                                                     for k, (_t, _s, v, c) in series.items()])
            conn.execute(delete(targets).where(targets.c.target == self.target))
            conn.execute(targets.insert().values(target=self.target, process_start=process_start, last_scrape=now))
            for (team, signal), value in added.items():
                where = and_(increases.c.target == self.target, increases.c.minute == minute,
                             increases.c.team == team, increases.c.signal == signal)
                row = conn.execute(select(increases.c.value).where(where)).first()
                if row is None:
                    conn.execute(increases.insert().values(target=self.target, minute=minute, team=team, signal=signal, value=value))
                else:
                    conn.execute(increases.update().where(where).values(value=row.value + value))
            conn.execute(delete(increases).where(increases.c.minute < now - self.config.retention))
        return {"series": len(series), "restarted": restarted, "resets": resets, "baseline": meta is None,
                "deployment_states": states}

    def sums(self, start: float, end: float) -> dict[str, dict[str, float]]:
        """team -> signal -> increase over minutes in [start, end); `all` included."""
        out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        with self.context.engine.connect() as conn:
            rows = conn.execute(select(increases.c.team, increases.c.signal, func.sum(increases.c.value))
                                .where(and_(increases.c.target == self.target, increases.c.minute >= start,
                                            increases.c.minute < end))
                                .group_by(increases.c.team, increases.c.signal))
            for team, signal, value in rows:
                out[team][signal] += value
                out["all"][signal] += value
        return out

    def collect(self, window: CycleWindow) -> SourceResult:
        info = self.scrape(window.now)
        # Increases are filed under the scrape's minute: include the current minute in the window.
        end = window.end + 60
        evaluation, month = self.sums(window.start, end), self.sums(window.spend_start, end)
        days = (window.end - window.start) / 86400
        result = SourceResult(info={k: v for k, v in info.items() if k != "deployment_states"})
        for team in set(evaluation) | set(month) | {"all"}:
            s, m = evaluation.get(team, {}), month.get(team, {})
            requests = int(round(s.get("requests", 0)))
            out = result.signals.setdefault(team, {})
            ev = {"source": "litellm_metrics", "requests": requests}
            out[PREFIX + "requests"] = Measured(float(requests), requests, ev)
            out[PREFIX + "request_volume"] = Measured(requests / days if days > 0 else None, requests, ev)
            if requests:
                out[PREFIX + "api_error_rate"] = Measured(s.get("failed_requests", 0) / requests, requests, ev)
                out[PREFIX + "cache_hit_rate"] = Measured(s.get("cache_hit_requests", 0) / requests, requests, ev)
            attempts = s.get("deployment_successes", 0) + s.get("deployment_failures", 0)
            if attempts:
                out[PREFIX + "deployment_success_ratio"] = Measured(s.get("deployment_successes", 0) / attempts, int(attempts), ev)
            fallbacks = s.get("fallback_successes", 0) + s.get("fallback_failures", 0)
            out[PREFIX + "fallback_requests"] = Measured(fallbacks, int(fallbacks), ev)
            if fallbacks:
                out[PREFIX + "fallback_success_ratio"] = Measured(s.get("fallback_successes", 0) / fallbacks, int(fallbacks), ev)
            month_requests = int(round(m.get("requests", 0)))
            out[PREFIX + "monthly_spend_usd"] = Measured(m.get("cost_usd", 0.0), month_requests,
                                                         {"source": "litellm_metrics", "requests": month_requests})
            cumulative = {float(sig.split(":", 1)[1]): v for sig, v in s.items() if sig.startswith("latency_le:")}
            count = int(round(s.get("latency_count", 0)))
            for q, name in ((0.5, "latency_p50_seconds"), (0.95, "latency_p95_seconds")):
                value = histogram_quantile(q, cumulative)
                if value is not None:
                    out[PREFIX + name] = Measured(value, count, {**ev, "histogram": LATENCY})
        total = evaluation.get("all", {}).get("cost_usd", 0.0)
        if total > 0:  # as the push route: over the evaluation window, samples = its requests
            attributed = sum(s.get("cost_usd", 0.0) for t, s in evaluation.items() if t not in ("all", UNATTRIBUTED))
            requests = int(round(evaluation["all"].get("requests", 0)))
            result.signals["all"][PREFIX + "cost_attribution_coverage"] = Measured(
                attributed / total, requests, {"source": "litellm_metrics", "cost_usd": total, "attributed_cost_usd": attributed})
        states = info["deployment_states"]
        if states:
            healthy = sum(1 for v in states if v == 0)
            result.signals.setdefault("all", {})[PREFIX + "deployments_healthy_ratio"] = Measured(
                healthy / len(states), len(states), {"source": "litellm_metrics", "deployments": len(states)})
        self._last = result.signals
        return result

    def routes(self) -> list:
        return []

    def families(self) -> list:
        # No catalog KPI grades these (they would clash with the push route); exported so they can be seen.
        family = GaugeMetricFamily("aiops_litellm_scrape_signal", "Signals of the LiteLLM /metrics scrape route "
                                   "(last cycle), by signal and team.", labels=["signal", "team"])
        for team, signals in sorted(self._last.items()):
            for name, measured in sorted(signals.items()):
                if measured.value is not None:
                    family.add_metric(bounded_labels([name.removeprefix(PREFIX), team]), float(measured.value))
        return [family]

    def close(self) -> None:
        self.http.close()
