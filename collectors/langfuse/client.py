"""The Langfuse public API through the official SDK (`langfuse.api.LangfuseAPI`), made safe to poll.

- Every call is bounded: the httpx timeout per request, and a deadline for the whole cycle.
- The SDK's own retries are switched off (they sleep without regard to our deadline); we retry
  429 (waiting what Retry-After says), 408/5xx, timeouts and connection errors with exponential
  backoff and jitter, never past the deadline. A Retry-After longer than the time left ends the
  cycle and is remembered, so the next cycles do not call before the server allows.
- Keys come from the environment only; error messages never include them, nor response bodies.
- Both server generations: `v3` (self-hosted v3: /traces, /metrics v1) and `v4` (v4 and Cloud:
  /v2/observations, /v3/scores, /v2/metrics). The v1 metrics API is deprecated (gone from Cloud
  and from v4), so `detect()` asks /v2/metrics first and falls back to v1 only when the server
  answers that with 404/405/501, as self-hosted v3 does; which one is used is logged once, there.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import random
import time
from typing import Any, Callable

import httpx
import pydantic
from langfuse.api import LangfuseAPI
from langfuse.api.core.api_error import ApiError
from signals.errors import AiopsError

log = logging.getLogger("aiops_maturity.langfuse")
NOT_THIS_GENERATION = (404, 405, 501)
METRICS_API = {"v4": "v2 (/api/public/v2/metrics)", "v3": "v1 (/api/public/metrics, deprecated; the server has no v2)"}
RETRYABLE = (408, 409, 429, 500, 502, 503, 504)


class LangfuseUnavailable(AiopsError, RuntimeError):
    """The server could not be used this cycle (message is safe to log: no keys, no bodies)."""


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _retry_after(headers: dict | None) -> float | None:
    value = {k.lower(): v for k, v in (headers or {}).items()}.get("retry-after")
    if value is None:
        return None
    value = str(value).strip()
    if value.isdigit():
        return float(value)
    parsed = email.utils.parsedate_to_datetime(value) if value else None
    return max(parsed.timestamp() - time.time(), 0.0) if parsed else None


class LangfuseClient:
    def __init__(self, host: str, public_key: str, secret_key: str, timeout: float, max_attempts: int = 3,
                 backoff: float = 0.5, sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._http = httpx.Client(timeout=timeout, trust_env=False, follow_redirects=True)
        self.api = LangfuseAPI(base_url=host.rstrip("/"), username=public_key, password=secret_key,
                               x_langfuse_public_key=public_key, x_langfuse_sdk_name="aiops-maturity",
                               httpx_client=self._http, timeout=timeout)
        self.timeout, self.max_attempts, self.backoff = timeout, max_attempts, backoff
        self.sleep, self.monotonic = sleep, monotonic
        self.requests = 0                  # HTTP requests made (for the benchmark and the evidence)
        self.deadline = float("inf")
        self.not_before = 0.0              # monotonic time before which the server asked us not to call
        self.generation: str | None = None

    def close(self) -> None:
        self._http.close()

    def start_cycle(self, budget: float) -> None:
        now = self.monotonic()
        if now < self.not_before:
            raise LangfuseUnavailable(f"rate limited: the server asked to wait {self.not_before - now:.0f} s more")
        self.deadline = now + budget

    # ------------------------------------------------------------------ one call
    def call(self, what: str, fn: Callable[..., Any], **kwargs) -> Any:
        options = {"max_retries": 0, "timeout_in_seconds": self.timeout}
        for attempt in range(1, self.max_attempts + 1):
            left = self.deadline - self.monotonic()
            if left <= 0:
                raise LangfuseUnavailable(f"{what}: cycle time budget used up")
            self.requests += 1
            try:
                return fn(**kwargs, request_options=options)
            except pydantic.ValidationError:
                raise LangfuseUnavailable(f"{what}: the response does not match the API schema") from None
            except ApiError as exc:
                status = exc.status_code or 0
                if 200 <= status < 300:
                    raise LangfuseUnavailable(f"{what}: the response is not JSON") from None
                if status not in RETRYABLE:
                    raise LangfuseUnavailable(f"{what}: HTTP {status}") from None
                wait = _retry_after(exc.headers) if status == 429 else None
                if wait is not None and wait > self.deadline - self.monotonic():
                    self.not_before = self.monotonic() + wait
                    raise LangfuseUnavailable(f"{what}: rate limited (HTTP 429), retry after {wait:.0f} s") from None
                reason = f"HTTP {status}"
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                wait, reason = None, type(exc).__name__
            if attempt == self.max_attempts:
                raise LangfuseUnavailable(f"{what}: {reason} after {attempt} attempts")
            if wait is None:
                wait = self.backoff * 2 ** (attempt - 1) * (0.5 + random.random())
            if wait >= self.deadline - self.monotonic():
                raise LangfuseUnavailable(f"{what}: {reason}; no time left to retry")
            log.info("Langfuse %s: %s, retry %d in %.1f s", what, reason, attempt, wait)
            self.sleep(wait)
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ generation
    def detect(self, now: float, forced: str = "auto") -> str:
        if forced in ("v3", "v4"):
            self.generation = forced
            log.info("Langfuse API generation configured: %s, metrics API %s", forced, METRICS_API[forced])
            return forced
        probe = {"view": "observations", "metrics": [{"measure": "count", "aggregation": "count"}],
                 "fromTimestamp": iso(now - 60), "toTimestamp": iso(now)}
        try:
            self._raw_metrics("v4", probe)
            self.generation = "v4"
        except LangfuseUnavailable as exc:
            if not any(f"HTTP {code}" in str(exc) for code in NOT_THIS_GENERATION):
                raise
            probe["view"] = "traces"
            self._raw_metrics("v3", probe)
            self.generation = "v3"
        log.info("Langfuse API generation detected: %s, metrics API %s", self.generation, METRICS_API[self.generation])
        return self.generation

    def generation_gone(self, error: LangfuseUnavailable) -> bool:
        """Whether `error` says an endpoint of the detected generation is not there (404/405/501): the
        server was upgraded (v3 to v4 removes /traces and v1 metrics) or replaced."""
        return any(f"HTTP {code}" in str(error) for code in NOT_THIS_GENERATION)

    def _raw_metrics(self, generation: str, query: dict) -> list[dict]:
        endpoint = self.api.metrics.metrics if generation == "v4" else self.api.legacy.metrics_v1.metrics
        what = "GET /api/public/v2/metrics" if generation == "v4" else "GET /api/public/metrics"
        return list(self.call(what, endpoint, query=json.dumps(query)).data)

    def metrics(self, query: dict) -> list[dict]:
        return self._raw_metrics(self.generation or "v4", query)

    # ------------------------------------------------------------------ rows
    def traces_page(self, page: int, limit: int, **filters) -> tuple[list, int]:
        """v3: one page of /api/public/traces (page numbers). Returns (items, total pages)."""
        result = self.call("GET /api/public/traces", self.api.trace.list, page=page, limit=limit, **filters)
        return list(result.data), int(result.meta.total_pages)

    def observations_page(self, cursor: str | None, limit: int, **filters) -> tuple[list, str | None]:
        """v4: one page of /api/public/v2/observations (cursor). Returns (items, next cursor)."""
        result = self.call("GET /api/public/v2/observations", self.api.observations.get_many, cursor=cursor,
                           limit=limit, **filters)
        return list(result.data), result.meta.cursor

    def scores_page(self, cursor: str | None, limit: int, **filters) -> tuple[list[str], str | None]:
        """v4: one page of /api/public/v3/scores with the `subject` field group. Returns the ids of
        the traces the scores belong to (trace scores and observation scores), and the next cursor."""
        result = self.call("GET /api/public/v3/scores", self.api.scores_v3.get_many_v3, cursor=cursor, limit=limit,
                           fields="subject", **filters)
        traces = []
        for score in result.data:
            subject = getattr(score, "subject", None)
            kind = getattr(subject, "kind", None)
            trace_id = subject.id if kind == "trace" else getattr(subject, "trace_id", None) if kind == "observation" else None
            if trace_id:
                traces.append(trace_id)
        return traces, result.meta.cursor
