"""Source `prometheus`: any signal defined as a PromQL expression over the Prometheus HTTP API.

This is how a user feeds a KPI we have no native collector for: each configured signal is a query
(instant, or a range over the evaluation window reduced to one value), per team when a label says
so. Every key: docs/config-reference.md (generated from `PromqlConfig`); examples:
docs/sources/prometheus.md.

A signal that feeds a count (a ratio's part) is read as its value. A KPI the engine computes from
signals (quality_score_avg) is refused at start with the signals to give instead.

A query that Prometheus rejects fails that signal only (reported in the collector's info and kept at
its last good value until `stale_after`); Prometheus being unreachable fails the source for the cycle.
"""
from __future__ import annotations

import math
from typing import Literal

from prometheus_client.core import GaugeMetricFamily
from pydantic import BaseModel, ConfigDict, Field, model_validator

from collectors.promql.client import PrometheusClient, PrometheusUnavailable, QueryError, Series
from signals.measured import Measured
from signals.source import CycleWindow, SourceContext, SourceResult
from signals.durations import Duration, OptionalDuration

REDUCERS = {
    "mean": lambda xs: sum(xs) / len(xs), "last": lambda xs: xs[-1], "min": min, "max": max, "sum": sum,
}


class SignalQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, description="PromQL expression whose value is the signal.")
    mode: Literal["instant", "range"] = Field(default="instant", description=(
        "`instant` evaluates the query at the cycle's time; `range` evaluates it over a window and reduces the "
        "points."))
    range: OptionalDuration = Field(default=None, description=(
        "Range mode: how far back from now the query is evaluated; null uses the evaluation window."))
    step: Duration = Field(default=60.0, description="Range mode: resolution of the range query.")
    reduce: Literal["mean", "last", "min", "max", "sum"] = Field(default="mean", description=(
        "How the points of a team's series are reduced to one value."))
    team_label: str | None = Field(default=None, description=(
        "Label that gives one value per team, a series without it being `all`; null requires the query to "
        "return one series."))
    samples: int | Literal["points"] = Field(default=1, description=(
        "Sample count behind the value, checked against the KPI's `min_samples`: a fixed number, or `points` "
        "for the number of points reduced."))
    samples_query: str | None = Field(default=None, description=(
        "Query whose value is the sample count, per team with `team_label`; overrides `samples`."))


class PromqlConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(description="Base URL of the Prometheus server.")
    timeout: Duration = Field(default=10.0, description=(
        "Timeout of each HTTP request, also sent to Prometheus as the query timeout."))
    retries: int = Field(default=2, ge=0, le=10, description=(
        "Retries after a connection error, a timeout, 429 or 5xx; a query Prometheus rejects is not retried."))
    bearer_token_env: str | None = Field(default=None, description=(
        "Environment variable holding a bearer token sent to Prometheus; null sends none."))
    stale_after: Duration = Field(default=900.0, description=(
        "How long a signal keeps its last good value while its query or Prometheus fails; after that it shows "
        "`no_data`."))
    signals: dict[str, SignalQuery] = Field(min_length=1, description=(
        "Signals by name (letters, digits and underscores), each feeding the KPI whose catalog formula names it."))


    @model_validator(mode="after")
    def _names(self) -> "PromqlConfig":
        for name in self.signals:
            if not name.replace("_", "").isalnum() or not name[0].isalpha():
                raise ValueError(f"signals.{name}: a signal name is letters, digits and underscores")
        return self


class PromqlSource:
    name = "prometheus"
    config_model = PromqlConfig

    def __init__(self, config: PromqlConfig, context: SourceContext, client: PrometheusClient | None = None) -> None:
        self.config, self.context = config, context
        self.stale_after = config.stale_after
        self.configured_signals = list(config.signals)  # checked against the catalog by the service at start
        headers = {}
        if config.bearer_token_env and context.environ.get(config.bearer_token_env):
            headers["Authorization"] = f"Bearer {context.environ[config.bearer_token_env]}"
        self.client = client or PrometheusClient(config.url, config.timeout, config.retries, headers=headers)
        self._last_good: dict[str, tuple[float, dict[str, Measured]]] = {}  # signal -> (when, per team)
        self._ok: dict[str, bool] = {}

    def collect(self, window: CycleWindow) -> SourceResult:
        errors: dict[str, str] = {}
        fresh: dict[str, dict[str, Measured]] = {}
        unavailable: PrometheusUnavailable | None = None
        for name, spec in self.config.signals.items():
            try:
                fresh[name] = self._evaluate(name, spec, window)
            except QueryError as exc:
                errors[name] = str(exc)[:300]
            except PrometheusUnavailable as exc:
                unavailable = exc
                break  # the server is down: do not wait out the timeout once per signal
        if unavailable is not None:
            raise unavailable
        for name, per_team in fresh.items():
            self._last_good[name] = (window.now, per_team)
        self._ok = {name: name in fresh for name in self.config.signals}
        result = SourceResult(info={"url": self.config.url, "errors": errors, "signals": sorted(fresh)})
        for name, (when, per_team) in self._last_good.items():
            if window.now - when > self.stale_after:
                continue  # a signal failing for longer than stale_after goes no_data, not stale-valued
            for team, measured in per_team.items():
                result.signals.setdefault(team, {})[name] = measured
        return result

    def _evaluate(self, name: str, spec: SignalQuery, window: CycleWindow) -> dict[str, Measured]:
        if spec.mode == "instant":
            _kind, series = self.client.instant(spec.query, at=window.now)
        else:
            start = window.now - (spec.range or (window.end - window.start))
            series = self.client.range(spec.query, start, window.now, spec.step)
        values = self._by_team(name, spec, series)
        counts = self._samples(name, spec, window) if spec.samples_query else None
        out = {}
        for team, points in values.items():
            finite = [v for _, v in points if math.isfinite(v)]
            if not finite:
                continue  # NaN/Inf (e.g. 0/0 in the query) is no value, not a number to grade
            samples = len(finite) if spec.samples == "points" else int(spec.samples)
            if counts is not None:
                samples = counts.get(team, counts.get("all", 0))
            out[team] = Measured(REDUCERS[spec.reduce](finite), samples,
                                 {"source": "prometheus", "query": spec.query, "mode": spec.mode, "points": len(finite)})
        return out

    @staticmethod
    def _by_team(name: str, spec: SignalQuery, series: list[Series]) -> dict[str, list[tuple[float, float]]]:
        if not series:
            return {}
        if spec.team_label is None:
            if len(series) > 1:
                raise QueryError(f"query returned {len(series)} series; aggregate it (sum, avg) to one, "
                                 f"or set team_label to read one value per team")
            return {"all": series[0].points}
        out: dict[str, list[tuple[float, float]]] = {}
        for s in series:
            # A series without the team label is the organisation-wide row (e.g. from `or sum(...)`).
            out.setdefault(s.labels.get(spec.team_label) or "all", []).extend(s.points)
        return out

    def _samples(self, name: str, spec: SignalQuery, window: CycleWindow) -> dict[str, int]:
        _kind, series = self.client.instant(spec.samples_query, at=window.now)
        counts: dict[str, int] = {}
        for s in series:
            team = s.labels.get(spec.team_label) if spec.team_label else None
            value = s.points[-1][1]
            counts[team or "all"] = int(value) if math.isfinite(value) else 0
        return counts

    def routes(self) -> list:
        return []

    def families(self) -> list:
        """Per signal: 1 when its last query succeeded (a bad query shows as 0 here, not as a down source)."""
        ok = GaugeMetricFamily("aiops_promql_signal_ok", "1 when the PromQL signal's last query succeeded.",
                               labels=["signal"])
        for name, good in sorted(self._ok.items()):
            ok.add_metric([name], 1.0 if good else 0.0)
        return [ok]

    def close(self) -> None:
        self.client.close()
