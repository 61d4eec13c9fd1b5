"""The date-dependent parts under pinned clocks: seven consecutive days, a month and a year boundary.

Each test passes the instant in as the clock and also pins the wall clock there (time-machine), so
a hidden `time.time()` in the code under test would give the same instant and not today's date:
these tests mean the same thing on whatever day the suite runs.
Covered: digest weeks and trends, the spend forecast's days, raw retention, evaluation windows.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from collectors.forecast import ForecastConfig, ForecastSource
from monitor.runtime.config import build_config
from monitor.demo.digest import write_demo_digest
from monitor.digest.week import last_complete_week, week_bounds, week_of, zone
from monitor.runtime.service import Monitor
from signals.source import CycleWindow, SourceContext
from collectors.litellm.store import Store
from monitor.storage.database import open_database
from tests.payloads import payload
from tests.scenario import expected, scenario_payloads
from tests.spend_support import add_spend

UTC = timezone.utc
DAY = 86400
# (instant, its ISO week, the last complete ISO week before it)
INSTANTS = {
    **{f"2026-11-{23 + i} {name}": (datetime(2026, 11, 23 + i, 10, 17, tzinfo=UTC), "2026-W48", "2026-W47")
       for i, name in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))},
    "month end": (datetime(2026, 11, 30, 23, 55, tzinfo=UTC), "2026-W49", "2026-W48"),
    "month start": (datetime(2026, 12, 1, 0, 5, tzinfo=UTC), "2026-W49", "2026-W48"),
    # 2026 has 53 ISO weeks; 1 January 2027 (a Friday) still belongs to 2026-W53.
    "year end": (datetime(2026, 12, 31, 23, 55, tzinfo=UTC), "2026-W53", "2026-W52"),
    "year start": (datetime(2027, 1, 1, 0, 5, tzinfo=UTC), "2026-W53", "2026-W52"),
}
pinned = pytest.mark.parametrize("name", list(INSTANTS))


def test_the_instants_are_what_their_names_say():
    days = [INSTANTS[name][0] for name in list(INSTANTS)[:7]]
    assert [d.strftime("%a") for d in days] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert INSTANTS["month start"][0] - INSTANTS["month end"][0] == timedelta(minutes=10)
    assert INSTANTS["year start"][0].year == INSTANTS["year end"][0].year + 1


@pinned
def test_digest_weeks(name):
    instant, this_week, last_week = INSTANTS[name]
    now, tz = instant.timestamp(), zone("UTC")
    with time_machine.travel(instant, tick=False):
        assert week_of(now, tz) == this_week
        assert last_complete_week(now, tz) == last_week
        start, end = week_bounds(last_week, tz)
    assert end.timestamp() <= now < end.timestamp() + 7 * DAY and start.weekday() == 0
    assert (end - start) == timedelta(days=7)


@pinned
def test_a_week_of_history_gives_the_same_trend_points_whatever_the_day(tmp_path, name):
    instant, this_week, _ = INSTANTS[name]
    now = instant.timestamp()
    with time_machine.travel(instant, tick=False):
        config = build_config({"evaluation_window": "1h", "store": {"url": f"sqlite:///{tmp_path / 'd.db'}"}},
                              environ={})
        monitor = Monitor(config, clock=lambda: now)
        try:
            monitor.push.ingest(scenario_payloads(t0=now - 900, rounds=8))
            monitor.run_cycle()
            html = write_demo_digest(monitor, tmp_path / "digests", weeks=1)
        finally:
            monitor.close()
    assert html.parent.name == this_week
    data = json.loads((html.parent / "digest.json").read_text())
    error_rate = next(t for t in data["trends"] if t["kpi"] == "api_error_rate")
    # one synthetic day for each of the 7 days before, plus today's live state
    assert len(error_rate["points"]) == 8
    assert error_rate["points"][-1][1] == pytest.approx(2 / 6)
    assert [p[0] for p in error_rate["points"]] == sorted(p[0] for p in error_rate["points"])


@pinned
def test_forecast_days_follow_the_calendar(tmp_path, name):
    instant, _, _ = INSTANTS[name]
    now = instant.timestamp()
    today = (now // DAY) * DAY
    week = [10.0, 10.0, 10.0, 10.0, 10.0, 2.0, 2.0]  # Monday..Sunday
    store = Store(open_database(f"sqlite:///{tmp_path / 'f.db'}"))
    try:
        for back in range(28, 0, -1):
            day = today - back * DAY
            add_spend(store, day, "search", week[datetime.fromtimestamp(day, UTC).weekday()])
        with time_machine.travel(instant, tick=False):
            source = ForecastSource(ForecastConfig.model_validate({}), SourceContext(store.engine, lambda: now, {}, gateway=store))
            source.collect(CycleWindow(now, now - DAY, now, now - 30 * DAY))
            exported = {(s.labels["team"], s.labels["horizon"]): s.value for s in source.families()[0].samples}
    finally:
        store.close()
    tomorrow = datetime.fromtimestamp(today + DAY, UTC).weekday()
    assert exported[("search", "1d")] == pytest.approx(week[tomorrow])
    assert exported[("search", "7d")] == pytest.approx(sum(week))


@pinned
def test_retention_and_windows(tmp_path, name):
    instant, _, _ = INSTANTS[name]
    now = instant.timestamp()
    config = build_config({"evaluation_window": "1h", "store": {"url": f"sqlite:///{tmp_path / 'w.db'}",
                                                                "raw_retention": "2d"}}, environ={})
    older = [payload("too-old", start=now - 2 * DAY - 120, cost=1.0),   # beyond raw retention: refused
             payload("kept", start=now - 2 * DAY + 600, cost=2.0)]      # kept, outside the 1 h window
    with time_machine.travel(instant, tick=False):
        monitor = Monitor(config, clock=lambda: now)
        try:
            # t0 = now - 900: at the 00:05 instants the traffic straddles midnight, a month and a year.
            outcome = monitor.push.ingest(scenario_payloads(t0=now - 900) + older)
            report = monitor.run_cycle()
        finally:
            monitor.close()
    assert outcome.too_old == 1 and "store.raw_retention (2d)" in outcome.hint
    want = expected()
    kpis = report.org.kpis
    assert kpis["api_error_rate"].samples == want["requests"]
    assert kpis["api_error_rate"].value == pytest.approx(want["api_error_rate"])
    assert kpis["cache_hit_rate"].value == pytest.approx(want["cache_hit_rate"])
    assert kpis["monthly_spend_usd"].value == pytest.approx(want["monthly_spend_usd"] + 2.0)
