"""Source `forecast`: per-team spend forecasts (tomorrow, next 7 days), persisted and scored.

Every cycle forecasts, from the closed UTC days of the gateway's hour buckets (kept 400 days):
  horizon 1d: tomorrow; horizon 7d: the 7 days from tomorrow (their sum).
The row for a period is rewritten while the period has not started, so the forecast scored is the
last one made before it began. When a period has been over for `settle` (late attempts can still
arrive), it is scored against the actual spend: cost_prediction_accuracy (1d, the KPI) and
cost_prediction_accuracy_7d, averaged over periods that closed in the trailing 30 days.
Exported: aiops_cost_forecast_usd{team,horizon} (families()).

Optional: `backtest_days: N` fills in, once, forecasts for the last N days that were never made
(rows marked kind=backtest, computed only from the days before each), so an install with history
gets an accuracy at once. `synthetic_history` adds generated daily spend for days before today;
it exists for the demo and is reported in the evidence (synthetic_days) whenever used.
"""
from __future__ import annotations

import random
from collections import defaultdict

import pandas as pd
from prometheus_client.core import GaugeMetricFamily
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Column, Float, MetaData, String, Table, and_, select

from signals.measured import Measured
from collectors.forecast_model import DAY, accuracy, daily_frame, day_index, forecast
from signals.labels import bounded_label
from signals.source import CycleWindow, SourceContext, SourceResult
from signals.durations import Duration

HORIZONS = {"1d": 1, "7d": 7}

metadata = MetaData()
forecasts = Table(
    "cost_forecasts", metadata,
    Column("team", String, primary_key=True), Column("horizon", String(4), primary_key=True),
    Column("period_start", Float, primary_key=True), Column("period_end", Float, nullable=False),
    Column("made_at", Float, nullable=False), Column("value", Float, nullable=False),
    Column("kind", String(10), nullable=False),
)
synthetic = Table(
    "cost_forecast_synthetic_spend", metadata,
    Column("day", Float, primary_key=True), Column("team", String, primary_key=True), Column("cost", Float, nullable=False),
)


class SyntheticHistory(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int = Field(default=28, ge=1, le=120, description="Number of days before today that get generated spend.")
    daily_usd: dict[str, float] = Field(min_length=1, description="Mean daily spend of each team, in USD.")
    weekend_factor: float = Field(default=0.5, description="Factor applied to the spend of Saturdays and Sundays.")
    noise: float = Field(default=0.08, ge=0, le=1, description=(
        "Each day's spend varies at random by up to this fraction either way."))
    seed: int = Field(default=7, description="Random seed, so the same config generates the same history.")


class ForecastConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    history_days: int = Field(default=56, ge=7, le=400, description=(
        "Number of closed UTC days of spend a forecast is made from."))
    top_n: int = Field(default=10, ge=1, le=200, description=(
        "Number of teams forecast, the biggest by spend in the history; `all` is forecast as well."))
    settle: Duration = Field(default=900.0, description=(
        "How long after a forecast period ends it is scored against the actual spend, so late attempts count."))
    backtest_days: int = Field(default=0, ge=0, le=60, description=(
        "Once, forecast this many past days that have no forecast, each from the days before it; 0: off."))
    stale_after: Duration = Field(default=3600.0, description=(
        "How long the last collected signals stay in use while collection fails; after that this source's KPIs "
        "show `no_data`."))
    synthetic_history: SyntheticHistory | None = Field(default=None, description=(
        "Generated daily spend for the days before today, for the demo, reported in the evidence when used; "
        "null: off."))


class ForecastSource:
    name = "forecast"
    config_model = ForecastConfig

    def __init__(self, config: ForecastConfig, context: SourceContext) -> None:
        self.config, self.context = config, context
        self.stale_after = config.stale_after
        self._latest: list[tuple[str, str, float]] = []  # (team, horizon, value) of the last cycle
        self._period_starts: dict[str, float] = {}
        self._backtested = config.backtest_days == 0

    # ------------------------------------------------------------------ data
    def _spend(self, start_day: float, end_day: float) -> pd.DataFrame:
        gateway = self.context.gateway  # the push source's hour buckets (read-only port)
        rows = gateway.hourly_cost(start_day, end_day) if gateway is not None else []
        with self.context.engine.connect() as conn:
            rows += list(conn.execute(select(synthetic.c.day, synthetic.c.team, synthetic.c.cost).where(and_(
                synthetic.c.day >= start_day, synthetic.c.day < end_day))))
        return daily_frame(rows, start_day, end_day)

    def _seed_synthetic(self, today: float) -> int:
        spec = self.config.synthetic_history
        rng = random.Random(spec.seed)
        rows = []
        for i in range(spec.days, 0, -1):
            day = today - i * DAY
            weekend = pd.Timestamp(day, unit="s", tz="UTC").weekday() >= 5
            for team, usd in sorted(spec.daily_usd.items()):
                cost = usd * (spec.weekend_factor if weekend else 1.0) * (1 + rng.uniform(-spec.noise, spec.noise))
                rows.append({"day": day, "team": team, "cost": cost})
        with self.context.engine.begin() as conn:
            known = {(r.day, r.team) for r in conn.execute(select(synthetic.c.day, synthetic.c.team))}
            new = [r for r in rows if (r["day"], r["team"]) not in known]
            if new:
                conn.execute(synthetic.insert(), new)
        return spec.days

    def _save(self, team: str, horizon: str, start: float, value: float, made_at: float, kind: str,
              replace_live: bool) -> None:
        key = and_(forecasts.c.team == team, forecasts.c.horizon == horizon, forecasts.c.period_start == start)
        with self.context.engine.begin() as conn:
            row = conn.execute(select(forecasts.c.made_at).where(key)).first()
            values = {"period_end": start + HORIZONS[horizon] * DAY, "made_at": made_at, "value": value, "kind": kind}
            if row is None:
                conn.execute(forecasts.insert().values(team=team, horizon=horizon, period_start=start, **values))
            elif replace_live and made_at < start:
                conn.execute(forecasts.update().where(key).values(**values))

    # ------------------------------------------------------------------ cycle
    def collect(self, window: CycleWindow) -> SourceResult:
        now = window.now
        today = (now // DAY) * DAY
        info: dict = {}
        if self.config.synthetic_history is not None:
            info["synthetic_days"] = self._seed_synthetic(today)
        start_day = today - self.config.history_days * DAY
        frame = self._spend(start_day, today + DAY)
        closed = frame.loc[frame.index < pd.Timestamp(today, unit="s", tz="UTC")]
        spend = closed.drop(columns=["all"]).sum().sort_values(ascending=False)
        teams = [t for t in spend.index[: self.config.top_n] if spend[t] > 0] + ["all"]
        if not self._backtested:
            info["backtested"] = self._backtest(closed, teams, today)
            self._backtested = True
        latest = []
        for horizon, days in HORIZONS.items():
            period = day_index(today + DAY, today + (1 + days) * DAY)
            self._period_starts[horizon] = today + DAY
            for team in teams:
                values = forecast(closed[team] if team in closed else closed["all"] * 0, period)
                if values is None:
                    continue
                total = float(sum(values))
                self._save(team, horizon, today + DAY, total, now, "live", replace_live=True)
                latest.append((team, horizon, total))
        self._latest = latest
        return SourceResult(self._scores(frame, window, info), info)

    def _backtest(self, closed: pd.DataFrame, teams: list[str], today: float) -> int:
        """Forecasts for past periods that have none, each from the days before the day it would have
        been made (the same information a live forecast would have had)."""
        made = 0
        for horizon, days in HORIZONS.items():
            for back in range(self.config.backtest_days, 0, -1):
                start = today - back * DAY
                if start + days * DAY > today:
                    continue
                known = closed.loc[closed.index < pd.Timestamp(start - DAY, unit="s", tz="UTC")]
                for team in teams:
                    if team not in known or known.empty:
                        continue
                    values = forecast(known[team], day_index(start, start + days * DAY))
                    if values is not None:
                        self._save(team, horizon, start, float(sum(values)), start - 1, "backtest", replace_live=False)
                        made += 1
        return made

    def _scores(self, frame: pd.DataFrame, window: CycleWindow, info: dict) -> dict[str, dict[str, Measured]]:
        with self.context.engine.connect() as conn:
            rows = list(conn.execute(select(forecasts).where(and_(
                forecasts.c.period_end > window.spend_start, forecasts.c.period_end + self.config.settle <= window.now))))
        scores: dict[tuple[str, str], list[float]] = defaultdict(list)
        backtests: dict[tuple[str, str], int] = defaultdict(int)
        for row in rows:
            days = frame.loc[(frame.index >= pd.Timestamp(row.period_start, unit="s", tz="UTC"))
                             & (frame.index < pd.Timestamp(row.period_end, unit="s", tz="UTC"))]
            if len(days) < HORIZONS[row.horizon]:
                continue  # older than the history read: cannot be scored
            actual = float(days[row.team].sum()) if row.team in days else 0.0
            score = accuracy(row.value, actual)
            if score is not None:
                scores[(row.team, row.horizon)].append(score)
                backtests[(row.team, row.horizon)] += row.kind == "backtest"
        out: dict[str, dict[str, Measured]] = {}
        for (team, horizon), values in scores.items():
            name = "cost_prediction_accuracy" + ("" if horizon == "1d" else "_" + horizon)
            evidence = {"source": "forecast", "periods": len(values), "horizon": horizon,
                        "backtested_periods": backtests[(team, horizon)], "model": "seasonal naive, weekly profile",
                        **({"synthetic_days": info["synthetic_days"]} if "synthetic_days" in info else {})}
            out.setdefault(team, {})[name] = Measured(sum(values) / len(values), len(values), evidence)
        return out

    def families(self) -> list:
        value = GaugeMetricFamily("aiops_cost_forecast_usd", "Forecast spend per team: horizon 1d = tomorrow (UTC), "
                                  "7d = the 7 days from tomorrow.", labels=["team", "horizon"])
        for team, horizon, total in self._latest:
            value.add_metric([bounded_label(team), horizon], total)
        start = GaugeMetricFamily("aiops_cost_forecast_period_start_timestamp_seconds",
                                  "Start (unix time) of the forecast period, by horizon.", labels=["horizon"])
        for horizon, when in self._period_starts.items():
            start.add_metric([horizon], when)
        return [value, start]

    def routes(self) -> list:
        return []

    def close(self) -> None:
        pass
