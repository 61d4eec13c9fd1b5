"""Spend forecasting: the seasonal model by hand, persistence, scoring of closed periods, export."""
import math

import pandas as pd
import pytest

from collectors.forecast import ForecastConfig, ForecastSource
from collectors.forecast_model import DAY, accuracy, daily_frame, day_index, forecast
from signals.source import CycleWindow, SourceContext
from collectors.litellm.store import HOUR, Store
from monitor.storage.database import open_database
from tests.spend_support import add_spend

MONDAY = 1_800_230_400.0  # 2027-01-18 00:00 UTC, a Monday
assert pd.Timestamp(MONDAY, unit="s", tz="UTC").weekday() == 0


def series(values, start=MONDAY):
    return pd.Series(values, index=day_index(start, start + len(values) * DAY), dtype=float)


def test_flat_level_with_little_history():
    assert forecast(series([0, 0, 2, 4]), day_index(MONDAY + 4 * DAY, MONDAY + 5 * DAY)) == [3.0]  # leading 0s dropped
    assert forecast(series([0, 0]), day_index(MONDAY, MONDAY + DAY)) is None


def test_weekly_profile_by_hand():
    week = [10, 10, 10, 10, 10, 2, 2]  # weekdays 10, weekend 2
    history = series(week * 3)
    target = day_index(MONDAY + 21 * DAY, MONDAY + 28 * DAY)
    got = forecast(history, target)
    level = sum(week) / 7
    profile_weekday, profile_weekend = 10 / level, 2 / level
    assert got[0] == pytest.approx(level * profile_weekday) == pytest.approx(10)
    assert got[5] == pytest.approx(level * profile_weekend) == pytest.approx(2)
    assert sum(got) == pytest.approx(sum(week))


def test_level_follows_the_last_week():
    history = series([10] * 7 + [10] * 7 + [20] * 7)  # spend doubled in the last week
    (tomorrow,) = forecast(history, day_index(MONDAY + 21 * DAY, MONDAY + 22 * DAY))
    assert tomorrow == pytest.approx(20.0)


def test_accuracy_definition():
    assert accuracy(9, 10) == pytest.approx(0.9)
    assert accuracy(11, 10) == pytest.approx(0.9)
    assert accuracy(35, 10) == 0.0  # floored
    assert accuracy(1, 0) is None


def test_daily_frame_sums_hours_into_utc_days():
    rows = [(MONDAY + 3600, "a", 1.0), (MONDAY + 7200, "a", 2.0), (MONDAY + DAY + 60, "b", 5.0)]
    frame = daily_frame(rows, MONDAY, MONDAY + 3 * DAY)
    assert list(frame["a"]) == [3.0, 0.0, 0.0] and list(frame["b"]) == [0.0, 5.0, 0.0]
    assert list(frame["all"]) == [3.0, 5.0, 0.0]


# ---------------------------------------------------------------------------- the source
@pytest.fixture
def store(tmp_path):
    s = Store(open_database(f"sqlite:///{tmp_path / 'h.db'}"))
    yield s
    s.close()


def make(store, clock, **config):
    context = SourceContext(store.engine, lambda: clock["now"], {}, gateway=store)
    return ForecastSource(ForecastConfig.model_validate(config), context)


def cycle(source, now):
    return source.collect(CycleWindow(now, now - 86400, now, now - 30 * 86400))


def test_forecasts_are_persisted_then_scored_when_the_day_closes(store):
    week = [10, 10, 10, 10, 10, 2, 2]
    for day in range(21):
        add_spend(store, MONDAY + day * DAY, "search", week[day % 7])
    clock = {"now": MONDAY + 21 * DAY + 5 * HOUR}  # a Monday, 05:00
    source = make(store, clock)
    result = cycle(source, clock["now"])
    assert "cost_prediction_accuracy" not in result.signals.get("all", {})  # nothing closed yet
    exported = {(s.labels["team"], s.labels["horizon"]): s.value for s in source.families()[0].samples}
    assert exported[("search", "1d")] == pytest.approx(10.0)  # tomorrow is a Tuesday
    assert exported[("search", "7d")] == pytest.approx(sum(week))
    assert exported[("all", "1d")] == pytest.approx(10.0)

    # Tuesday is spent (8 instead of 10); Wednesday 00:30 it has closed but is not settled yet (15 min).
    add_spend(store, MONDAY + 21 * DAY, "search", 10)
    add_spend(store, MONDAY + 22 * DAY, "search", 8)
    clock["now"] = MONDAY + 23 * DAY + 600
    assert "cost_prediction_accuracy" not in cycle(source, clock["now"]).signals.get("search", {})
    clock["now"] = MONDAY + 23 * DAY + 1200
    m = cycle(source, clock["now"]).signals["search"]["cost_prediction_accuracy"]
    assert m.value == pytest.approx(1 - abs(10 - 8) / 8) and m.samples == 1
    assert m.evidence["backtested_periods"] == 0


def test_backtest_scores_past_days_from_earlier_data_only(store):
    week = [10, 10, 10, 10, 10, 2, 2]
    for day in range(35):
        add_spend(store, MONDAY + day * DAY, "search", week[day % 7])
    now = MONDAY + 35 * DAY + 3 * HOUR
    source = make(store, {"now": now}, backtest_days=14)
    result = cycle(source, now)
    m = result.signals["search"]["cost_prediction_accuracy"]
    assert m.samples == 14 and m.evidence["backtested_periods"] == 14
    assert m.value == pytest.approx(1.0)  # a perfectly weekly series is forecast exactly
    assert result.signals["search"]["cost_prediction_accuracy_7d"].samples == 8  # 7-day periods ended by today
    assert result.info["backtested"] > 0


def test_synthetic_history_is_labelled(store):
    now = MONDAY + 28 * DAY + HOUR
    source = make(store, {"now": now}, backtest_days=14,
                  synthetic_history={"days": 28, "daily_usd": {"search": 4.0, "support": 2.0}})
    result = cycle(source, now)
    m = result.signals["all"]["cost_prediction_accuracy"]
    assert m.samples >= 7 and 0.5 < m.value <= 1 and m.evidence["synthetic_days"] == 28
    assert result.info["synthetic_days"] == 28
    assert not math.isnan(m.value)
