"""The LiteLLM push route as a source: its route, its tables, its signals.

A proxy's `generic_api` callback (or our `MaturityLogger`) POSTs StandardLoggingPayloads to
`/ingest/litellm`. Each payload is parsed on its own (collectors.litellm.ingest), merged into
request rows and per-minute/per-hour buckets (collectors.litellm.store). Every cycle the source
brings the buckets of the minutes touched since the last cycle up to date, and reads per-team
gateway aggregates for each catalog window: additive signals (counts, cost sums, a latency
sketch) that the engine turns into the gateway KPIs and folds into `other` exactly.

It is the one source the service always runs (no config section: its settings are the store's
retention and the server's token and body limit), and it is up once payloads have arrived. Its
store is also the read-only `gateway` port other sources join with (trace coverage, forecast).
"""
from __future__ import annotations

import logging
from typing import Callable, Iterable

import orjson
from prometheus_client import Counter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from collectors.http_guard import (
    STORE_ERRORS, BodyTooLarge, StoreHealth, StoreWriteError, authorized, read_limited, store_unavailable,
)
from collectors.litellm.ingest import MAX_ERRORS_REPORTED, IngestOutcome, ingest
from collectors.litellm.payload import decode_document
from collectors.litellm import model_mix
from collectors.litellm.mix_export import ModelMixExport
from collectors.litellm.requests import gateway_result, team_signals
from collectors.litellm.store import HOUR, Store
from signals.durations import format_duration
from signals.source import CycleWindow, SourceResult

log = logging.getLogger("aiops_maturity")

NAME = "litellm_push"
PATH = "/ingest/litellm"
OUTCOMES = ("accepted", "duplicates", "rejected", "too_old", "health_checks")


def too_old_hint(count: int, raw_retention: float) -> str:
    """Why payloads were refused as too old, and the setting that changes it (one line)."""
    return (f"{count} older than store.raw_retention ({format_duration(raw_retention)}); "
            "raise it to backfill older data")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class LiteLLMPushSource:
    name = NAME
    stale_after = float("inf")  # the data is in the store: a quiet gateway is not stale data
    deadline = 600.0  # the cycle waits for its own store's buckets (a backlog after a restart can be large)

    def __init__(self, store: Store, clock: Callable[[], float], health: StoreHealth, tag_prefix: str | None = "team:",
                 token: str | None = None, max_body_bytes: int = 10 * 1024 * 1024) -> None:
        self.store = store
        self.clock = clock
        self.health = health
        self.tag_prefix = tag_prefix
        self.token = token
        self.max_body_bytes = max_body_bytes
        self.pushed_at: float | None = None  # last accepted payload: the collector is up once one arrived
        self.ingested = Counter("aiops_ingest_payloads", "Payloads received on the ingest routes, by outcome.",
                                ["route", "outcome"], registry=None)
        self._last_prune = 0.0
        self.model_mix = ModelMixExport()

    # ------------------------------------------------------------------ receiving
    def ingest(self, items: Iterable[object], route: str = "http") -> IngestOutcome:
        """Validate and store a batch; returns once the transaction holding it has committed (it may
        hold batches of concurrent callers too: collectors.litellm.group_commit). A store that cannot
        write raises StoreWriteError (nothing of the batch is acknowledged; senders retry) and marks
        the monitor not ready until a write works."""
        try:
            outcome = ingest(items, self.store, self.tag_prefix, self.clock())
        except STORE_ERRORS as exc:
            self.health.failed(exc)
            self.ingested.labels(route, "store_error").inc()
            log.warning("ingest could not write: %s", self.health.fault)
            raise StoreWriteError(self.health.fault) from None
        for name in OUTCOMES:
            count = getattr(outcome, name)
            if count:
                self.ingested.labels(route, name).inc(count)
        if outcome.too_old:
            outcome.hint = too_old_hint(outcome.too_old, self.store.raw_retention)
        if outcome.accepted:  # a committed write: the store works again
            self.health.ok()
            self.pushed_at = self.clock()
        return outcome

    async def _endpoint(self, request: Request) -> Response:
        if not authorized(request, self.token):
            self.ingested.labels("http", "unauthorized").inc()
            return _error(401, "missing or wrong bearer token")
        try:
            body = await read_limited(request, self.max_body_bytes)
        except BodyTooLarge:
            self.ingested.labels("http", "too_large").inc()
            return _error(413, f"body larger than {self.max_body_bytes} bytes")
        items, errors = decode_document(body)
        if not items:
            self.ingested.labels("http", "bad_body").inc(max(len(errors), 1))
            return _error(400, "body is not a JSON array of payloads, a payload or JSON lines"
                          + (f" (item {errors[0][0]}: {errors[0][1]})" if errors else ""))
        try:
            outcome = await run_in_threadpool(self.ingest, items, "http")
        except StoreWriteError:  # nothing acknowledged: the sender retries
            return store_unavailable("payloads")
        outcome.rejected += len(errors)
        outcome.errors[:0] = [f"item {position}: {why}" for position, why in errors[:MAX_ERRORS_REPORTED]]
        status = 400 if outcome.rejected and not (outcome.accepted or outcome.duplicates or outcome.health_checks) else 200
        return Response(orjson.dumps(outcome.as_dict()), status_code=status, media_type="application/json")

    def routes(self) -> list:
        return [Route(PATH, self._endpoint, methods=["POST"])]

    # ------------------------------------------------------------------ cycle
    def collect(self, window: CycleWindow) -> SourceResult:
        """Per-team gateway signals for the evaluation window and the trailing 30 days. A store that
        fails here marks the monitor not ready (/healthz) until a write works again; the guard marks
        this source down and keeps its last signals."""
        try:
            if self.store.rebuild_dirty():  # a committed bucket write: the store works again
                self.health.ok()
            if self.pushed_at is None:
                # Another replica may have received what this one did not (the leader of several
                # runs this cycle): payloads in the shared store mean the route is up.
                latest = self.store.latest_attempt_minute()
                self.pushed_at = float(latest) if latest is not None else None
            evaluation = self.store.window(window.start, window.end)
            spend = self.store.window(window.spend_start, window.end, with_latency=False)
            periods = {name: self._period(name, start, end, evaluation if _same_minutes((start, end), window) else None)
                       for name, (start, end) in window.periods.items()}
            if window.now - self._last_prune > HOUR:
                self.store.prune(window.now)
                self._last_prune = window.now
        except STORE_ERRORS as exc:
            self.health.failed(exc)
            raise
        result = gateway_result({"evaluation": evaluation, "30d": spend})
        self.model_mix.publish({name: groups for name, (_, _, groups) in periods.items()})
        for name, (per_team, savings, _) in periods.items():
            signals = team_signals(per_team)
            for team, (saved, unpriced) in savings.items():
                signals.setdefault(team, {}).update(cache_savings_usd=saved, cache_hits_unpriced=unpriced)
            result.windows[name] = signals
        return result

    def _period(self, name: str, start: float, end: float, same_as_evaluation: dict | None) -> tuple[dict, dict, dict]:
        """A dashboard period: the gateway aggregates (latency for 24h only), cache savings per team,
        and the model mix, which is exported by this source (model groups are not teams). A period
        over the evaluation window's minutes (24h under the default window) reuses its aggregates:
        decoding the latency sketches again would double the cycle's largest cost."""
        per_team = same_as_evaluation if same_as_evaluation is not None else \
            self.store.window(start, end, with_latency=name == "24h")
        by_model = self.store.model_window(start, end)
        return per_team, model_mix.savings_by_team(by_model), model_mix.by_group(by_model)

    def families(self) -> list:
        return [*self.ingested.collect(), *self.model_mix.families()]

    def close(self) -> None:
        self.store.close()


def _same_minutes(span: tuple[float, float], window: CycleWindow) -> bool:
    """Whether a period covers the evaluation window's minutes (the store reads whole minutes)."""
    return int(span[0] // 60) == int(window.start // 60) and int(span[1] // 60) == int(window.end // 60)
