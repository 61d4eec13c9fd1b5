"""A small Prometheus HTTP API client: instant and range queries with timeouts and retries.

Two kinds of failure are kept apart because callers treat them differently:
- `QueryError`: Prometheus answered and refused the query (bad PromQL, bad parameters, a query
  that timed out on the server, a result type the caller cannot use). Retrying cannot help; the
  one signal fails and the others go on.
- `PrometheusUnavailable`: no usable answer after the retries (connection refused, timeouts, 5xx,
  not the Prometheus API). The whole source is down for the cycle.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import httpx
from signals.errors import AiopsError

RETRYABLE_STATUS = {429, 502, 503, 504}


class QueryError(AiopsError):
    """Prometheus rejected the query; the message is Prometheus's own (errorType: error)."""


class PrometheusUnavailable(Exception):
    """Prometheus could not be reached or did not answer like the Prometheus HTTP API."""


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    points: list[tuple[float, float]]  # (unix time, value); one point for an instant vector


class PrometheusClient:
    def __init__(self, url: str, timeout: float = 10.0, retries: int = 2, backoff: float = 0.5,
                 headers: dict[str, str] | None = None, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base = url.rstrip("/")
        self.timeout, self.retries, self.backoff, self.sleep = timeout, retries, backoff, sleep
        # trust_env=False: a proxy variable in the environment must not redirect in-cluster queries.
        self.http = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), headers=headers or {},
                                 transport=transport, trust_env=False)

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------------ queries
    def instant(self, query: str, at: float | None = None) -> tuple[str, list[Series]]:
        """(resultType, series). A scalar comes back as one series without labels."""
        params = {"query": query}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self._call("/api/v1/query", params)
        return data["resultType"], _series(data)

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        data = self._call("/api/v1/query_range",
                          {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"})
        return _series(data)

    # ------------------------------------------------------------------ transport
    def _call(self, path: str, params: dict[str, str]) -> dict:
        # The server-side timeout stops a runaway query on Prometheus too, not only our wait for it.
        params = {**params, "timeout": f"{self.timeout:g}s"}
        last = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                # POST with a form body: long queries do not hit URL length limits (API supports both).
                response = self.http.post(f"{self.base}{path}", data=params)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            body = _json(response)
            if body is not None and body.get("status") == "error":
                kind, message = body.get("errorType", "error"), body.get("error", "")
                if response.status_code in RETRYABLE_STATUS or kind == "unavailable":
                    last = f"HTTP {response.status_code} {kind}: {message}"
                    continue
                raise QueryError(f"{kind}: {message}")
            if response.status_code in RETRYABLE_STATUS or response.status_code >= 500:
                last = f"HTTP {response.status_code}"
                continue
            if response.status_code != 200 or body is None or "data" not in body:
                raise PrometheusUnavailable(f"{self.base}{path}: HTTP {response.status_code}, not a Prometheus API answer")
            return body["data"]
        raise PrometheusUnavailable(f"{self.base}{path}: {last} (after {self.retries + 1} attempts)")


def _json(response: httpx.Response) -> dict | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _series(data: dict) -> list[Series]:
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return [Series({}, [(float(result[0]), float(result[1]))])]
    if kind == "vector":
        return [Series(dict(item["metric"]), [(float(item["value"][0]), float(item["value"][1]))]) for item in result]
    if kind == "matrix":
        return [Series(dict(item["metric"]), [(float(t), float(v)) for t, v in item["values"]]) for item in result]
    raise QueryError(f"result type {kind!r} cannot be turned into a number")
