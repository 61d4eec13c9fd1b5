"""Source `alertmanager`: the webhook receiver route and the incident KPIs.

Config: every key of `sources.alertmanager` is in docs/config-reference.md, generated from
`AlertmanagerConfig`; the Alertmanager side (a webhook receiver with send_resolved: true) is in
docs/sources/alertmanager.md.
"""
from __future__ import annotations

import logging
import threading
from collections import Counter

from prometheus_client.core import CounterMetricFamily
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from collectors.incidents.backfill import BackfillConfig, backfill
from collectors.incidents.book import incident_signals
from collectors.incidents.store import IncidentStore
from collectors.incidents.webhook import WebhookError, parse_notification
from collectors.http_guard import BodyTooLarge, STORE_ERRORS, authorized, read_limited, route_token, store_unavailable
from signals.source import CycleWindow, SourceContext, SourceResult
from signals.durations import Duration

log = logging.getLogger("aiops_maturity")
PRUNE_EVERY = 3600.0


class AlertmanagerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(default="/webhooks/alertmanager", pattern=r"^/[A-Za-z0-9_\-/]*$", description=(
        "URL path of the webhook route Alertmanager posts its notifications to."))
    token_env: str = Field(default="AIOPS_ALERTMANAGER_TOKEN", description=(
        "Environment variable holding this route's bearer token; when it is unset the route takes "
        "AIOPS_INGEST_TOKEN."))
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, description=(
        "Largest notification body accepted, in bytes; a larger one is answered 413."))
    auto_resolved_label: str | None = Field(default="auto_resolved", description=(
        "Label or annotation whose value true, yes, 1, auto or automatic marks an alert as resolved without a "
        "human; null counts every incident as needing a human."))
    team_label: str | None = Field(default="team", description=(
        "Alert label naming an incident's team; an incident without it, or every incident when null, is "
        "`unattributed`."))
    reopen_window: Duration = Field(default=3600.0, description=(
        "An alert firing again within this long after its incident resolved reopens that incident rather than "
        "opening a new one."))
    retention: Duration = Field(default=90 * 86400, description="How long incidents are kept.")
    stale_after: Duration = Field(default=900.0, description=(
        "How long the last collected signals stay in use while collection fails; after that this source's KPIs "
        "show `no_data`."))
    backfill: BackfillConfig | None = Field(default=None, description=(
        "Reads past alerts from Prometheus's `ALERTS` history once at start; null skips it."))


class AlertmanagerSource:
    name = "alertmanager"
    config_model = AlertmanagerConfig

    def __init__(self, config: AlertmanagerConfig, context: SourceContext) -> None:
        self.config, self.context = config, context
        self.stale_after = config.stale_after
        self.store = IncidentStore(context.engine, config.reopen_window)
        self.incident_log = self.store  # the read-only port other sources get (SourceContext.incidents)
        self.token = route_token(context.environ, config.token_env, context.route_token)
        self.outcomes: Counter[str] = Counter()
        self._outcome_lock = threading.Lock()
        self._backfilled = config.backfill is None
        self._last_prune = 0.0

    # ------------------------------------------------------------------ webhook
    def _count(self, outcome: str, n: int = 1) -> None:
        with self._outcome_lock:
            self.outcomes[outcome] += n

    def _reject(self, status: int, reason: str, message: str) -> JSONResponse:
        self._count(reason)
        return JSONResponse({"error": message, "reason": reason}, status_code=status)

    async def receive(self, request: Request) -> JSONResponse:
        if not authorized(request, self.token):
            return self._reject(401, "unauthorized", "missing or wrong bearer token")
        try:
            body = await read_limited(request, self.config.max_body_bytes)
        except BodyTooLarge:
            return self._reject(413, "too_large", f"body larger than {self.config.max_body_bytes} bytes")
        try:
            receiver, occurrences = parse_notification(body, self.config.auto_resolved_label)
        except WebhookError as exc:
            return self._reject(400 if exc.reason == "bad_json" else 422, exc.reason, str(exc))
        try:
            counts = await run_in_threadpool(self.store.record, occurrences, self.context.clock())
        except STORE_ERRORS:
            self._count("store_error")
            return store_unavailable("alerts")
        self._count("accepted")
        return JSONResponse({"receiver": receiver, "alerts": len(occurrences), **counts})

    def routes(self) -> list:
        return [Route(self.config.path, self.receive, methods=["POST"])]

    def families(self) -> list:
        family = CounterMetricFamily("aiops_webhook_requests", "Webhook requests received, by source and outcome "
                                     "(accepted, unauthorized, too_large, bad_json, bad_payload, unsupported_version).",
                                     labels=["source", "outcome"])
        with self._outcome_lock:
            for outcome, count in sorted(self.outcomes.items()):
                family.add_metric([self.name, outcome], count)
        return [family]

    # ------------------------------------------------------------------ cycle
    def collect(self, window: CycleWindow) -> SourceResult:
        info: dict = {}
        if not self._backfilled:
            try:
                info["backfill"] = backfill(self.store, self.config.backfill, window.now, self.config.auto_resolved_label)
                self._backfilled = True
            except Exception as exc:  # noqa: BLE001 - retried next cycle; the webhook data still counts
                info["backfill_error"] = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("alertmanager backfill failed: %s", info["backfill_error"])
        if window.now - self._last_prune > PRUNE_EVERY:
            self.store.prune(window.now - self.config.retention)
            self._last_prune = window.now
        incidents = self.store.incidents(since=min(window.start, window.spend_start))
        signals = incident_signals(incidents, window.start, window.end, window.now, self.config.team_label)
        info.update(open_incidents=sum(i.open for i in incidents),
                    closed_in_window=sum(1 for i in incidents if i.resolved_at is not None and
                                         window.start <= i.resolved_at < window.end))
        return SourceResult(signals, info)

    def close(self) -> None:
        pass
