"""The `langfuse` source: trace, score and coverage KPIs from a Langfuse server (v3 or v4/Cloud).

Per cycle, bounded whatever the volume: 2 metrics queries (traces by tags, scores by name and
tags), 4 more once per `weekly_refresh`, at most `trace_pages` pages of traces read behind a
watermark (evaluation coverage; on v4 also `score_pages` pages of scores), and gateway requests
checked against Langfuse behind another watermark, `ids_per_request` ids per request, at most
`gateway_checks` requests per cycle.

Keys are read from the environment only (names configurable): LANGFUSE_PUBLIC_KEY,
LANGFUSE_SECRET_KEY; the host from LANGFUSE_HOST, else `host`, else Langfuse Cloud (EU).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from collectors.langfuse.aggregates import ROOTS, Aggregates
from collectors.langfuse.client import LangfuseClient, LangfuseUnavailable
from collectors.langfuse.progress import Pending, Progress
from collectors.observability_kpis import KpiMapping, build_signals
from signals.source import CycleWindow, SourceConfigError, SourceContext, SourceResult
from signals.durations import Duration

log = logging.getLogger("aiops_maturity.langfuse")


class LangfuseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = Field(default="https://cloud.langfuse.com", description=(
        "Base URL of the Langfuse server, used when the variable named by `host_env` is unset; the default is "
        "Langfuse Cloud (EU)."))
    public_key_env: str = Field(default="LANGFUSE_PUBLIC_KEY", description=(
        "Environment variable holding the Langfuse public key, which must be set."))
    secret_key_env: str = Field(default="LANGFUSE_SECRET_KEY", description=(
        "Environment variable holding the Langfuse secret key, which must be set."))
    host_env: str = Field(default="LANGFUSE_HOST", description=(
        "Environment variable whose value, when set, replaces `host`."))
    api: Literal["auto", "v3", "v4"] = Field(default="auto", description=(
        "Langfuse API generation: `auto` detects v3 or v4 at start, `v3` or `v4` skips the detection."))
    timeout: Duration = Field(default=10.0, description="Timeout of each HTTP request to Langfuse.")
    cycle_budget: Duration = Field(default=20.0, description=(
        "Time all requests of one cycle may take together, retries and waits included."))
    max_attempts: int = Field(default=3, ge=1, le=10, description=(
        "Attempts per request, the first included, when it meets a retryable HTTP status, a timeout or a "
        "connection error."))
    stale_after: Duration = Field(default=600.0, description=(
        "How long the last collected signals stay in use while collection fails; after that this source's KPIs "
        "show `no_data`."))
    grace: Duration = Field(default=120.0, description=(
        "Data younger than this is not read yet, since Langfuse ingests asynchronously."))
    max_lag: Duration = Field(default=600.0, description=(
        "A watermark further behind than this jumps ahead, and the counts are then a sample."))
    slice: Duration = Field(default=60.0, description="Length of the time slices traces and scores are read in.")
    # 1 page of 100 traces every 30 s is 288k traces a day, so one page keeps up with most
    # installations; sampling a larger volume (the watermark jumps) keeps a cycle's cost fixed.
    trace_pages: int = Field(default=1, ge=1, description=(
        "Pages of traces read per cycle; a larger volume is sampled rather than read whole."))
    score_pages: int = Field(default=1, ge=1, description="Pages of scores read per cycle (v4 only).")
    page_limit: int = Field(default=100, ge=1, le=100, description="Traces or scores per page.")
    evaluation_delay: Duration = Field(default=300.0, description=(
        "v4 only: scores created up to this long after their trace still count, as traces are read this far "
        "behind the scores."))
    # 50 per 30 s cycle: 144k requests a day checked, then sampled.
    gateway_checks: int = Field(default=50, ge=0, description=(
        "Gateway requests checked per cycle for a Langfuse trace (`trace_coverage`), a larger volume being "
        "sampled; 0 turns the check off."))
    ids_per_request: int = Field(default=100, ge=2, le=200, description=(
        "Ids sent in one lookup to Langfuse when checking gateway requests, each request giving two (its call id "
        "and trace id)."))
    weekly_refresh: Duration = Field(default=3600.0, description=(
        "How often the week-over-week aggregates are read again."))
    retention: Duration = Field(default=2 * 86400.0, description=(
        "How long the per-minute progress rows (coverage, evaluated and scored counts) are kept; never less "
        "than the evaluation window."))
    kpis: KpiMapping = Field(default_factory=KpiMapping, description=(
        "Which score and tag names feed which KPI, and which signals this source publishes."))


def _ts(value: dt.datetime | None) -> float:
    return value.timestamp() if value is not None else 0.0


class LangfuseSource:
    name = "langfuse"
    config_model = LangfuseConfig

    def __init__(self, config: LangfuseConfig, context: SourceContext, sleep=None) -> None:
        public, secret = context.environ.get(config.public_key_env), context.environ.get(config.secret_key_env)
        if not public or not secret:
            raise SourceConfigError(f"sources.langfuse: set {config.public_key_env} and {config.secret_key_env} "
                                    "in the environment (keys are never read from the config file)")
        self.config, self.context, self.stale_after = config, context, config.stale_after
        self.host = context.environ.get(config.host_env) or config.host
        extra = {"sleep": sleep} if sleep else {}
        self.client = LangfuseClient(self.host, public, secret, config.timeout, config.max_attempts, **extra)
        self.progress = Progress(context.engine, self.name)
        self.aggregates = Aggregates(self.client, config.kpis, context.team_tag_prefix)
        self.gateway = context.gateway  # the push source's requests (read-only port), when it runs
        self._weekly: tuple[float, dict] | None = None
        self._last_prune = 0.0

    # ------------------------------------------------------------------ the cycle
    def collect(self, window: CycleWindow) -> SourceResult:
        c = self.config
        self.client.start_cycle(c.cycle_budget)
        before = self.client.requests
        if self.client.generation is None:
            self.client.detect(window.now, c.api)
        try:
            return self._collect(window, before)
        except LangfuseUnavailable as exc:
            if c.api == "auto" and self.client.generation_gone(exc):  # detected again next cycle
                log.warning("Langfuse: %s; the API generation is detected again next cycle", exc)
                self.client.generation = None
            raise

    def _collect(self, window: CycleWindow, before: int) -> SourceResult:
        c = self.config
        self.aggregates.truncated = []
        per_team = self.aggregates.window(window.start, window.end)
        if self._weekly is None or window.now - self._weekly[0] >= c.weekly_refresh:
            self._weekly = (window.now, self.aggregates.weekly(window.now))
        pending, info = Pending(), {"api": self.client.generation, "host": self.host}
        if self.gateway is not None and c.gateway_checks:
            info["gateway_skipped_seconds"] = self._check_gateway(window, pending)
        info["traces_skipped_seconds"] = self._read_traces(window, pending)
        self.progress.commit(pending)  # only a cycle that got this far moves the watermarks
        for team, counts in self.progress.window(int(window.start // 60) * 60, window.end).items():
            row = per_team.setdefault(team, counts)
            if row is not counts:
                row.gateway_requests, row.traced_requests = counts.gateway_requests, counts.traced_requests
                row.evaluated_pool, row.scored_traces = counts.evaluated_pool, counts.scored_traces
        signals = build_signals(per_team, self._weekly[1], c.kpis)
        if window.now - self._last_prune > 3600:
            self.progress.prune(min(window.start, window.now - c.retention) - 3600)
            self._last_prune = window.now
        info.update(requests=self.client.requests - before, truncated=self.aggregates.truncated,
                    method={"trace_coverage": "gateway requests checked behind a watermark",
                            "evaluation_coverage": "traces read behind a watermark"})
        return SourceResult(signals, info)

    def _floor(self, window: CycleWindow) -> tuple[float, float]:
        until = window.now - self.config.grace
        return max(window.start, until - self.config.max_lag), until

    def _check_gateway(self, window: CycleWindow, pending: Pending) -> float:
        floor, until = self._floor(window)
        mark = self.progress.watermark("gateway")
        skipped = max(floor - mark["start"], 0.0) if mark else 0.0
        rows = self.gateway.requests_after(mark if mark and mark["start"] >= floor else None, floor, until,
                                                    self.config.gateway_checks)
        per_request = max(self.config.ids_per_request // 2, 1)
        for i in range(0, len(rows), per_request):
            chunk = rows[i:i + per_request]
            found = self._lookup({x for r in chunk for x in (r.call_id, r.trace_id) if x})
            for r in chunk:
                pending.add(pending.coverage, r.start, r.team, bool({r.call_id, r.trace_id} & found))
        if rows:
            pending.watermarks["gateway"] = {"start": rows[-1].start, "call_id": rows[-1].call_id}
        return skipped

    def _lookup(self, ids: set[str]) -> set[str]:
        """Which of these ids are Langfuse trace ids (LiteLLM's langfuse callback uses the request's
        trace_id, else its litellm_call_id). Paged to the end; duplicates across pages are harmless."""
        found: set[str] = set()
        filters = [{"type": "stringOptions", "column": "id" if self.client.generation == "v3" else "traceId",
                    "operator": "any of", "value": sorted(ids)}]
        if self.client.generation == "v3":
            page = 1
            while True:
                items, pages = self.client.traces_page(page, 100, fields="core", filter=json.dumps(filters))
                found.update(t.id for t in items)
                if not items or page >= pages:
                    return found
                page += 1
        cursor, seen = None, set()
        while True:
            items, cursor = self.client.observations_page(cursor, 1000, fields="core", filter=json.dumps(filters + [ROOTS]))
            found.update(o.trace_id for o in items if o.trace_id)
            if not items or not cursor or cursor in seen:
                return found
            seen.add(cursor)

    def _read_traces(self, window: CycleWindow, pending: Pending) -> float:
        """Trace slices behind the `traces` watermark, at most `trace_pages` pages per cycle. v4 rows
        do not say whether a trace was scored: scores are read first (their own watermark), and
        traces only up to `evaluation_delay` before it, so a trace's scores are known when it is."""
        floor, until = self._floor(window)
        if self.client.generation == "v4":
            until = min(until, self._read_scores(window, pending) - self.config.evaluation_delay)
        mark = self.progress.watermark("traces")
        start = max(mark["end"], floor) if mark else floor
        skipped = max(floor - mark["end"], 0.0) if mark else 0.0
        pages = self.config.trace_pages
        while start < until and pages > 0:
            end = min(start + self.config.slice, until)
            traces, used = self._slice(start, end, pages)
            pages -= used
            if self.client.generation == "v4":
                known = self.progress.scored_among(list(traces), pending)
                traces = {t: (t, ts, tags, t in known) for t, (_, ts, tags, _) in traces.items()}
            for trace_id, ts, tags, scored in traces.values():
                team = self.config.kpis.team_from_tags(tags, self.context.team_tag_prefix)
                pending.add(pending.evaluated, ts, team, scored)
            start = end
        if mark is None or start > mark["end"]:
            pending.watermarks["traces"] = {"end": start}
        return skipped

    def _read_scores(self, window: CycleWindow, pending: Pending) -> float:
        """v4: trace ids of scores created in slices behind the `scores` watermark; returns how far
        scores have been read."""
        floor, until = self._floor(window)
        mark = self.progress.watermark("scores")
        start = max(mark["end"], floor) if mark else floor
        pages = self.config.score_pages
        while start < until and pages > 0:
            end = min(start + self.config.slice, until)
            frm, to = (dt.datetime.fromtimestamp(t, dt.timezone.utc) for t in (start, end))
            cursor, seen = None, set()
            while pages > 0:
                trace_ids, cursor = self.client.scores_page(cursor, self.config.page_limit, from_timestamp=frm,
                                                            to_timestamp=to)
                pages -= 1
                for trace_id in trace_ids:
                    pending.scored.setdefault(trace_id, int(start // 60) * 60)
                if not trace_ids or not cursor or cursor in seen:
                    break
                seen.add(cursor)
            start = end
        pending.watermarks["scores"] = {"end": start}
        return start

    def _slice(self, start: float, end: float, budget: int) -> tuple[dict, int]:
        """Traces of [start, end), at most `budget` pages; deduplicated by id, since rows added while
        paging shift page-numbered results."""
        frm, to = (dt.datetime.fromtimestamp(t, dt.timezone.utc) for t in (start, end))
        traces: dict[str, tuple] = {}
        used, limit = 0, self.config.page_limit
        if self.client.generation == "v3":
            page = 1
            while used < budget:
                items, pages = self.client.traces_page(page, limit, from_timestamp=frm, to_timestamp=to,
                                                       order_by="timestamp.asc", fields="core,scores")
                used += 1
                for t in items:
                    traces[t.id] = (t.id, _ts(t.timestamp), list(t.tags or []), bool(t.scores))
                if not items or page >= pages:
                    break
                page += 1
            return traces, used
        cursor, seen = None, set()
        while used < budget:
            items, cursor = self.client.observations_page(cursor, limit, is_root_observation=True, from_start_time=frm,
                                                          to_start_time=to, fields="core,basic,trace_context")
            used += 1
            for o in items:
                if o.trace_id and o.trace_id not in traces:
                    traces[o.trace_id] = (o.trace_id, _ts(o.start_time), list(o.tags or []), False)
            if not items or not cursor or cursor in seen:
                break
            seen.add(cursor)
        return traces, used

    def routes(self) -> list:
        return []

    def families(self) -> list:
        return []

    def close(self) -> None:
        self.client.close()
