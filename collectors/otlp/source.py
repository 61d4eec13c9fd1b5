"""The `otlp` source: an OTLP/HTTP receiver route plus the trace KPIs computed from what it stored.

Config: every key of `sources.otlp` is in docs/config-reference.md, generated from `OtlpConfig`
(one source of truth); connecting a proxy or an SDK: docs/sources/otlp.md.
"""
from __future__ import annotations

import logging
import threading

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import and_, func, select
from starlette.routing import Route

from collectors.http_guard import authorized, route_token
from collectors.observability_kpis import KpiMapping, build_signals
from collectors.otlp import evaluations, tables
from collectors.otlp.decode import Settings, SpanRules
from collectors.otlp.receiver import LOGS, make_endpoint
from signals.labels import bounded_labels
from signals.source import CycleWindow, SourceContext, SourceResult
from signals.durations import Duration

PERIODS = ("24h", "prev_24h")  # the dashboard periods this source computes (not `mtd`: its rollup is kept 2 days)
log = logging.getLogger("aiops_maturity.otlp")
DAY = 86400


class OtlpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(default="/v1/traces", pattern=r"^/", description="URL path of the OTLP/HTTP trace receiver.")
    logs_path: str | None = Field(default="/v1/logs", pattern=r"^/", description=(
        "URL path of the OTLP/HTTP log receiver, which reads the GenAI evaluation results sent as log records "
        "(`gen_ai.evaluation.result` events); null: no log receiver."))
    token_env: str = Field(default="AIOPS_OTLP_TOKEN", description=(
        "Environment variable holding this route's bearer token; when it is unset the route takes "
        "AIOPS_INGEST_TOKEN."))
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, description=(
        "Largest request body accepted, in bytes; a larger one is answered 413."))
    team_attributes: list[str] = Field(default_factory=lambda: ["metadata.user_api_key_team_alias",
                                                                "metadata.user_api_key_team_id"], description=(
        "Span attributes that give a span's team, the first present winning."))
    team_resource_attribute: str | None = Field(default="service.namespace", description=(
        "Resource attribute that gives the team when no span attribute does; null: none."))
    tag_attributes: list[str] = Field(default_factory=lambda: ["langfuse.trace.tags", "tags", "metadata.tags"],
                                      description="Span attributes that hold a trace's tags.")
    keep_response_ids: bool = Field(default=True, description=(
        "Keep the `gen_ai.response.id` of GenAI spans for `retention`, so that an evaluation result sent as a log "
        "record without trace context is joined to its trace by it; false: such records are rejected, and the "
        "receiver does about a fifth less work per span that carries a response id (LiteLLM's do)."))
    settle: Duration = Field(default=180.0, description=(
        "Per-minute counts this recent are recomputed every cycle, so late spans and gateway requests count."))
    retention: Duration = Field(default=2 * DAY, description=(
        "How long per-trace rows and span keys are kept; never less than the evaluation window."))
    stale_after: Duration = Field(default=300.0, description=(
        "How long the last collected signals stay in use while collection fails; after that this source's KPIs "
        "show `no_data`."))
    top_series: int = Field(default=50, ge=1, le=1000, description=(
        "Rows exported of the span series per service, team and model."))
    kpis: KpiMapping = Field(default_factory=KpiMapping, description=(
        "Which score, tag and span names feed which KPI, and which signals this source publishes."))

    @model_validator(mode="after")
    def _distinct_paths(self) -> "OtlpConfig":
        if self.logs_path == self.path:
            raise ValueError(f"logs_path must differ from path ({self.path})")
        return self


class OtlpSource:
    name = "otlp"
    config_model = OtlpConfig

    def __init__(self, config: OtlpConfig, context: SourceContext) -> None:
        self.config, self.context = config, context
        self.stale_after = config.stale_after
        self.engine = context.engine
        self.gateway = context.gateway  # the push source's requests (read-only port) for trace coverage
        self.token = token = route_token(context.environ, config.token_env, context.route_token)
        self.settings = Settings(config.kpis, tuple(config.team_attributes), config.team_resource_attribute,
                                 tuple(config.tag_attributes), context.team_tag_prefix, clock=context.clock,
                                 keep_response_ids=config.keep_response_ids)
        self._received: dict[str, int] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._families: list = []
        self._last_prune = 0.0
        self._escalation_names = SpanRules.from_settings(self.settings).escalation_names
        self._endpoint = make_endpoint(self.settings, self.write, token, config.max_body_bytes, authorized, self._count)
        self._logs_endpoint = make_endpoint(self.settings, self.write_logs, token, config.max_body_bytes, authorized,
                                            self._count, signal=LOGS)
        paths = config.path + (f" and {config.logs_path}" if config.logs_path else "")
        log.info("OTLP receiver on %s (%s)", paths, "bearer token required" if token else "no token")

    # ------------------------------------------------------------------ receiving
    def write(self, batch):
        # one writer at a time: concurrent SQLite writers would wait in SQLite's busy handler, which
        # sleeps in whole milliseconds; a Python lock hands over at once. Spans counted before (an
        # exporter's retry) are skipped by the store itself, so other processes are covered too.
        with self._write_lock:
            return tables.write_batch(self.engine, batch)

    def write_logs(self, batch):
        with self._write_lock:  # as `write`: one writer at a time
            return evaluations.write_logs(self.engine, batch)

    def _count(self, outcome: str, n: int) -> None:
        with self._lock:
            self._received[outcome] = self._received.get(outcome, 0) + n

    def routes(self) -> list:
        routes = [Route(self.config.path, self._endpoint, methods=["POST"])]
        if self.config.logs_path:
            routes.append(Route(self.config.logs_path, self._logs_endpoint, methods=["POST"]))
        return routes

    # ------------------------------------------------------------------ cycle
    def collect(self, window: CycleWindow) -> SourceResult:
        start_minute = int(window.start // 60) * 60
        # The KPI dashboard's last 24 h and the 24 before (CycleWindow.periods) come from the same
        # rollup, so it is brought up to date from the earliest of them.
        periods = {name: (int(start // 60) * 60, end) for name, (start, end) in window.periods.items()
                   if name in PERIODS}
        oldest = min([start_minute, *(start for start, _ in periods.values())])
        with self._write_lock:  # evaluations sent as log records, joined to the traces now known
            joined = evaluations.resolve(self.engine, self._escalation_names)
        recomputed = tables.refresh_rollup(self.engine, self.gateway, oldest, window.now, self.config.settle)
        per_team = tables.window_counts(self.engine, start_minute, window.end)
        weekly = tables.weekly_counts(self.engine, window.now)
        signals = build_signals(per_team, weekly, self.config.kpis)
        by_period = {name: build_signals(tables.window_counts(self.engine, start, end), weekly, self.config.kpis)
                     for name, (start, end) in periods.items()}
        self._families = self._build_families(start_minute, window.end)
        if window.now - self._last_prune > 3600:
            horizon = min(window.start, window.now - self.config.retention) - 3600
            tables.prune(self.engine, horizon, window.now - 15 * DAY)
            evaluations.prune(self.engine, horizon)
            self._last_prune = window.now
        with self._lock:
            received = dict(self._received)
        return SourceResult(signals, windows=by_period, info={
            "receiver": self.config.path, "logs_receiver": self.config.logs_path, "minutes_recomputed": recomputed,
            "received": received, "evaluations_joined": joined, "pending_evaluations": evaluations.waiting(self.engine),
            "method": {"trace_coverage": "exact join", "evaluation_coverage": "exact"}})

    def _build_families(self, start_minute: int, end: float) -> list:
        s = tables.span_stats
        labels = ["service", "team", "model"]
        spans = GaugeMetricFamily("aiops_otlp_spans", "Spans received in the evaluation window.", labels=labels)
        genai = GaugeMetricFamily("aiops_otlp_genai_spans", "GenAI spans (gen_ai.* attributes or litellm_request) "
                                  "received in the evaluation window.", labels=labels)
        errors = GaugeMetricFamily("aiops_otlp_error_spans", "Spans with status ERROR in the evaluation window.",
                                   labels=labels)
        cost = GaugeMetricFamily("aiops_otlp_genai_cost_usd", "Cost carried by GenAI spans in the evaluation window.",
                                 labels=labels)
        latency = GaugeMetricFamily("aiops_otlp_genai_latency_seconds_avg", "Mean duration of GenAI spans in the "
                                    "evaluation window.", labels=labels)
        with self.engine.connect() as conn:
            rows = conn.execute(select(s.c.service, s.c.team, s.c.model, func.sum(s.c.spans), func.sum(s.c.genai_spans),
                                       func.sum(s.c.errors), func.sum(s.c.cost), func.sum(s.c.latency_s))
                                .where(and_(s.c.minute >= start_minute, s.c.minute < end))
                                .group_by(s.c.service, s.c.team, s.c.model)
                                .order_by(func.sum(s.c.spans).desc()).limit(self.config.top_series)).all()
        for service, team, model, n, g, e, c, lat in rows:
            key = bounded_labels([service, team, model or ""])
            spans.add_metric(key, n or 0)
            genai.add_metric(key, g or 0)
            errors.add_metric(key, e or 0)
            if g:
                cost.add_metric(key, c or 0.0)
                latency.add_metric(key, (lat or 0.0) / g)
        return [spans, genai, errors, cost, latency]

    def families(self) -> list:
        # The gauges were built by the last cycle (never at scrape time); the counter is this
        # replica's own receipts, read as they are.
        received = CounterMetricFamily("aiops_otlp_received", "OTLP requests and spans by outcome since start.",
                                       labels=["outcome"])
        with self._lock:
            for outcome, n in sorted(self._received.items()):
                received.add_metric([outcome], n)
        return [*self._families, received]

    def close(self) -> None:
        pass
