"""Daily spend forecasting and its accuracy. Pure computation (pandas), no I/O.

The model is a seasonal naive forecast with a weekly profile, chosen because spend on an LLM gateway
follows the working week and because it is easy to explain and to check by hand:
- history: one value per closed UTC day, days without spend are 0, leading days before the first
  spend are dropped (a new team is not "a team that spent nothing for weeks");
- level: the mean of the last 7 days (fewer when fewer exist);
- weekly profile (with at least 14 days): for each weekday, the mean of that weekday over the last
  (up to) 4 whole weeks divided by the mean of those weeks; the forecast of a day is
  level x profile[weekday]. With less history the forecast is the level (flat).
No trend term: a one-week level follows growth within a week, and the accuracy KPI shows when it
is not enough.
Accuracy of a closed period (contract text in the catalog): 1 - |forecast - actual| / actual,
floored at 0 (a forecast off by more than the actual scores 0, not a negative number); periods
whose actual spend is 0 have no accuracy.
"""
from __future__ import annotations

from typing import Iterable

import pandas as pd

DAY = 86400
PROFILE_MIN_DAYS = 14
PROFILE_WEEKS = 4


def day_index(start_day: float, end_day: float) -> pd.DatetimeIndex:
    """UTC days [start_day, end_day) given as unix times of midnight."""
    return pd.date_range(pd.Timestamp(start_day, unit="s", tz="UTC"), pd.Timestamp(end_day, unit="s", tz="UTC"),
                         freq="D", inclusive="left")


def daily_frame(rows: Iterable[tuple[float, str, float]], start_day: float, end_day: float) -> pd.DataFrame:
    """(unix time, team, cost) rows -> one row per UTC day in [start_day, end_day), one column per
    team plus `all`, 0 where nothing was spent."""
    frame = pd.DataFrame(list(rows), columns=["ts", "team", "cost"])
    index = day_index(start_day, end_day)
    if frame.empty:
        return pd.DataFrame({"all": 0.0}, index=index)
    frame["day"] = pd.to_datetime((frame["ts"] // DAY) * DAY, unit="s", utc=True)
    table = frame.pivot_table(index="day", columns="team", values="cost", aggfunc="sum", fill_value=0.0)
    table = table.reindex(index, fill_value=0.0).astype(float)
    table["all"] = table.sum(axis=1)
    return table


def _trimmed(history: pd.Series) -> pd.Series:
    spent = history[history > 0]
    return history.loc[spent.index[0]:] if not spent.empty else history.iloc[0:0]


def forecast(history: pd.Series, days: pd.DatetimeIndex) -> list[float] | None:
    """Forecast of each day in `days` from `history` (closed days, oldest first); None without history."""
    history = _trimmed(history.astype(float))
    if history.empty:
        return None
    level = float(history.iloc[-7:].mean())
    if len(history) < PROFILE_MIN_DAYS:
        return [level for _ in days]
    weeks = min(len(history) // 7, PROFILE_WEEKS)
    recent = history.iloc[-weeks * 7:]
    overall = float(recent.mean())
    if overall <= 0:
        return [0.0 for _ in days]
    profile = recent.groupby(recent.index.day_of_week).mean() / overall
    return [level * float(profile.get(day.day_of_week, 1.0)) for day in days]


def accuracy(predicted: float, actual: float) -> float | None:
    if actual <= 0:
        return None
    return max(0.0, 1.0 - abs(predicted - actual) / actual)
